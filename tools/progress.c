/* progress.c - the training run's output (see progress.h). */
#include "progress.h"

#include "json.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define REDRAW_SECONDS 0.1
#define MIN_CELLS 6 /* a shorter bar says nothing */

/* Set by SIGWINCH: the terminal's width is asked again before the next redraw. */
static volatile sig_atomic_t resized;
static void on_winch(int sig) {
    (void)sig;
    resized = 1;
}

/* The width of the terminal on fd: TIOCGWINSZ, else $COLUMNS, else 80. */
static int terminal_width(int fd) {
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    const char *c = getenv("COLUMNS");
    long v = c ? strtol(c, NULL, 10) : 0;
    return v > 0 && v < 10000 ? (int)v : 80;
}

/* SGR sequences; used only when the matching flag says so */
#define SGR_BOLD "\033[1m"
#define SGR_DIM "\033[2m"
#define SGR_GREEN "\033[32m"
#define SGR_CYAN "\033[36m"
#define SGR_RESET "\033[0m"

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* https://no-color.org: present and not empty disables colour. TERM=dumb cannot show it. */
static int colour_allowed(int fd) {
    const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
    if (nc && *nc) return 0;
    if (term && !strcmp(term, "dumb")) return 0;
    return isatty(fd);
}

void progress_init(progress *p, FILE *out, int quiet, int json) {
    memset(p, 0, sizeof *p);
    p->out = out;
    p->quiet = quiet;
    p->json = json;
    p->color = !json && colour_allowed(fileno(out));
    p->bar = !quiet && isatty(STDERR_FILENO);
    p->bar_color = p->bar && colour_allowed(STDERR_FILENO);
    p->bar_epoch = -1;
    p->best_acc = -1;
    p->last_test_acc = -1;
    p->run_step0 = -1;
    p->t_mark = now_seconds();
    if (p->bar) {
        p->width = terminal_width(STDERR_FILENO);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_winch;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        sigaction(SIGWINCH, &sa, NULL);
    }
}

static const char *sgr(const progress *p, const char *code) { return p->color ? code : ""; }

void progress_begin(progress *p, const progress_run *r) {
    const mlp_train_cfg *c = r->cfg;
    p->t_mark = now_seconds();
    p->epochs = c->epochs;
    p->first_epoch = r->first_epoch;
    p->val = r->val;
    if (p->quiet || p->json) return;
    char rule[160];
    if (c->optim == MLP_OPTIM_SGD)
        snprintf(rule, sizeof rule, "%smomentum %g", c->nesterov ? "nesterov " : "", (double)c->momentum);
    else
        snprintf(rule, sizeof rule, "%s (betas %g, %g, eps %g)", mlp_optim_name(c->optim), (double)c->beta1,
                 (double)c->beta2, (double)c->eps);
    char sched[160] = "";
    if (c->schedule != MLP_SCHEDULE_CONSTANT || c->warmup_epochs)
        snprintf(sched, sizeof sched, ", %s schedule%s%.0d%s", mlp_schedule_name(c->schedule),
                 c->warmup_epochs ? " after " : "", c->warmup_epochs, c->warmup_epochs ? " warm-up epochs" : "");
    if (c->dropout > 0) {
        const size_t used = strlen(rule);
        snprintf(rule + used, sizeof rule - used, ", dropout %g", (double)c->dropout);
    }
    fprintf(p->out, "%smlp %s: %s %s %s + %s%s, %s gradients, lr %g%s, wd %g, %s, batch %d, %d epochs, seed %llu\n",
            sgr(p, SGR_BOLD), MLP_VERSION, r->dataset, r->arch, mlp_act_name(r->act), mlp_loss_name(c->loss.kind),
            sgr(p, SGR_RESET), c->reduction == MLP_GRAD_SUM ? "summed" : "mean", (double)c->lr, sched, (double)c->wd,
            rule, c->batch, c->epochs, (unsigned long long)c->seed);
    fprintf(p->out, "kernels %s, %d thread%s, run folder %s\n\n", mlp_kernels_name(r->kernels), r->threads,
            r->threads > 1 ? "s" : "", r->out_dir);
    if (r->val)
        fprintf(p->out, "%s%6s  %10s  %9s  %10s  %9s  %10s  %9s  %8s%s\n", sgr(p, SGR_DIM), "epoch", "train_loss",
                "train_acc", "val_loss", "val_acc", "test_loss", "test_acc", "seconds", sgr(p, SGR_RESET));
    else
        fprintf(p->out, "%s%6s  %10s  %9s  %10s  %9s  %8s%s\n", sgr(p, SGR_DIM), "epoch", "train_loss", "train_acc",
                "test_loss", "test_acc", "seconds", sgr(p, SGR_RESET));
    fflush(p->out);
}

void progress_clear(progress *p) {
    if (!p->bar_len) return;
    /* spaces rather than an erase-line sequence: a NO_COLOR terminal sees no escape code at all */
    fprintf(stderr, "\r%*s\r", p->bar_len, "");
    fflush(stderr);
    p->bar_len = 0;
}

/* "1:05" or "1:02:03" */
static void format_duration(char *buf, size_t size, double s) {
    if (!(s >= 0) || s > 359999) s = 359999;
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
}

/* The bar line for the given state, width - 1 characters (no colour codes) unless even the ETA does not
 * fit: "epoch k/N [####----] step/steps  loss L  acc A  test T ETA h:mm:ss". */
static int progress_format(char *buf, size_t size, int width, int epoch, int epochs, int step, int steps, double loss,
                           double acc, double test_acc, double eta_seconds) {
    char eta[32], f[6][48];
    format_duration(eta, sizeof eta, eta_seconds);
    /* the fields around the bar, most useful first: f[0] before the bar, the others after it */
    snprintf(f[0], sizeof f[0], "epoch %d/%d ", epoch, epochs);
    snprintf(f[1], sizeof f[1], " ETA %s", eta);
    if (test_acc >= 0) snprintf(f[2], sizeof f[2], "  test %.4f", test_acc);
    else f[2][0] = '\0';
    snprintf(f[3], sizeof f[3], "  loss %.4f", loss);
    snprintf(f[4], sizeof f[4], "  acc %.4f", acc);
    snprintf(f[5], sizeof f[5], " %d/%d", step, steps);
    const int avail = (width > 1 ? width : 2) - 1; /* never the last column: it would wrap on some terminals */
    int keep = 6, used = 0;
    for (;; keep--) { /* drop fields from the least useful until a bar of MIN_CELLS fits */
        used = 2; /* the bar's brackets */
        for (int i = 0; i < keep; i++) used += (int)strlen(f[i]);
        if (used + MIN_CELLS <= avail || keep == 2) break;
    }
    int cells = avail - used;
    if (cells < 0) cells = 0;
    if (used + cells > avail) { /* not even epoch, ETA and a bar: the ETA alone, cut to the width */
        return snprintf(buf, size, "%.*s", avail, f[1] + 1);
    }
    const int filled = steps > 0 ? (int)((long long)cells * step / steps) : 0;
    int n = snprintf(buf, size, "%s[", f[0]);
    for (int i = 0; i < cells && n + 2 < (int)size; i++) buf[n++] = i < filled ? '#' : '-';
    buf[n] = '\0';
    n += snprintf(buf + n, size - (size_t)n, "]");
    /* after the bar, in reading order: steps, loss, acc, test, ETA */
    static const int order[5] = {5, 3, 4, 2, 1};
    for (int k = 0; k < 5; k++)
        if (order[k] < keep) n += snprintf(buf + n, size - (size_t)n, "%s", f[order[k]]);
    return n;
}

void progress_step(void *vp, int epoch, int step, int steps, double loss_sum, double acc_sum) {
    progress *p = vp;
    if (!p->bar || steps <= 0) return;
    double now = now_seconds();
    const long long run_step = (long long)(epoch - 1) * steps + step; /* steps of the run done, this one too */
    if (p->run_step0 < 0) { /* the first step this process takes: the run's clock starts with it */
        p->run_step0 = run_step - 1;
        p->t_run0 = p->t_mark;
    }
    if (epoch != p->bar_epoch) { /* the first step of an epoch (or of a resumed one) */
        p->bar_epoch = epoch;
        p->bar_step0 = step - 1;
        p->t_epoch0 = p->t_mark;
        p->t_drawn = 0;
    }
    if (step < steps && now - p->t_drawn < REDRAW_SECONDS && !resized) return;
    p->t_drawn = now;
    int old_width = p->width;
    if (resized) {
        resized = 0;
        p->width = terminal_width(STDERR_FILENO);
    }
    /* the whole run's ETA: the time per step so far (test evaluations included) times the steps left */
    const long long done = run_step - p->run_step0, left = (long long)p->epochs * steps - run_step;
    double eta = done > 0 ? (now - p->t_run0) / (double)done * (double)(left > 0 ? left : 0) : 0;
    char line[1024];
    int n = progress_format(line, sizeof line, p->width, epoch, p->epochs, step, steps, loss_sum / step,
                            acc_sum / step, p->last_test_acc, eta);
    if (n < 0) return;
    if (n > (int)sizeof line - 1) n = (int)sizeof line - 1;
    /* colour: the bar's filled cells */
    char *open = strchr(line, '['), *hash = open ? open + 1 : NULL;
    int filled = 0;
    while (hash && hash[filled] == '#') filled++;
    /* pad over a longer previous line (within the current width: a narrowed terminal rewraps it) */
    int pad = p->bar_len > n ? p->bar_len - n : 0;
    if (p->width < old_width && n + pad > p->width - 1) pad = p->width - 1 - n > 0 ? p->width - 1 - n : 0;
    if (p->bar_color && filled)
        fprintf(stderr, "\r%.*s%s%.*s%s%s%*s", (int)(hash - line), line, SGR_CYAN, filled, hash, SGR_RESET,
                hash + filled, pad, "");
    else
        fprintf(stderr, "\r%s%*s", line, pad, "");
    fflush(stderr);
    p->bar_len = n > p->bar_len || p->width < old_width ? n : p->bar_len;
}

void progress_epoch(progress *p, const mlp_epoch_metrics *m) {
    progress_clear(p);
    p->t_mark = now_seconds();
    if (p->quiet) return;
    if (p->json) {
        /* json_write_double: the shortest exact form, and null (not nan) for a non-finite value */
        fprintf(p->out, "{\"epoch\": %d, \"train_loss\": ", m->epoch);
        json_write_double(p->out, m->train_loss);
        fputs(", \"train_acc\": ", p->out);
        json_write_double(p->out, m->train_acc);
        fputs(", \"test_loss\": ", p->out);
        json_write_double(p->out, m->test_loss);
        fputs(", \"test_acc\": ", p->out);
        json_write_double(p->out, m->test_acc);
        if (p->val) {
            fputs(", \"val_loss\": ", p->out);
            json_write_double(p->out, m->val_loss);
            fputs(", \"val_acc\": ", p->out);
            json_write_double(p->out, m->val_acc);
        }
        fputs(", \"lr\": ", p->out);
        json_write_double(p->out, m->lr);
        fprintf(p->out, ", \"seconds\": %.6f}\n", m->seconds);
    } else {
        int best = m->test_acc > p->best_acc;
        fprintf(p->out, "%6d  %10.6f  %9.4f", m->epoch, m->train_loss, m->train_acc);
        if (p->val) fprintf(p->out, "  %10.6f  %9.4f", m->val_loss, m->val_acc);
        fprintf(p->out, "  %10.6f  %s%9.4f%s  %8.3f\n", m->test_loss, best ? sgr(p, SGR_GREEN) : "", m->test_acc,
                best ? sgr(p, SGR_RESET) : "", m->seconds);
    }
    if (m->test_acc > p->best_acc) p->best_acc = m->test_acc;
    p->last_test_acc = m->test_acc;
    fflush(p->out);
}

void progress_end(progress *p, const progress_run *r, const mlp_epoch_metrics *m, double total) {
    progress_clear(p);
    if (p->json) return;
    int epochs = m->epoch - r->first_epoch + 1 > 0 ? m->epoch - r->first_epoch + 1 : 1;
    fprintf(p->out, "%s%sfinal (epoch %d): train loss %.4f, train acc %.4f, test loss %.4f, test acc %.4f%s\n",
            p->quiet ? "" : "\n", sgr(p, SGR_BOLD), m->epoch, m->train_loss, m->train_acc, m->test_loss,
            m->test_acc, sgr(p, SGR_RESET));
    fprintf(p->out, "total time %.2f s (%.3f s per epoch); run saved in %s\n", total, total / epochs, r->out_dir);
    fflush(p->out);
}
