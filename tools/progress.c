/* progress.c - the training run's output (see progress.h). */
#include "progress.h"

#include "json.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BAR_CELLS 24
#define REDRAW_SECONDS 0.1

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
    p->t_mark = now_seconds();
}

static const char *sgr(const progress *p, const char *code) { return p->color ? code : ""; }

void progress_begin(progress *p, const progress_run *r) {
    const mlp_train_cfg *c = r->cfg;
    p->t_mark = now_seconds();
    if (p->quiet || p->json) return;
    fprintf(p->out, "%smlp %s: %s %s %s + %s%s, %s gradients, lr %g, wd %g, momentum %g, batch %d, %d epochs, seed %llu\n",
            sgr(p, SGR_BOLD), MLP_VERSION, r->dataset, r->arch, mlp_act_name(r->act), mlp_loss_name(c->loss.kind),
            sgr(p, SGR_RESET), c->reduction == MLP_GRAD_SUM ? "summed" : "mean", (double)c->lr, (double)c->wd,
            (double)c->momentum, c->batch, c->epochs, (unsigned long long)c->seed);
    fprintf(p->out, "kernels %s, %d thread%s, run folder %s\n\n", mlp_kernels_name(r->kernels), r->threads,
            r->threads > 1 ? "s" : "", r->out_dir);
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

void progress_step(void *vp, int epoch, int step, int steps, double loss_sum, double acc_sum) {
    progress *p = vp;
    if (!p->bar || steps <= 0) return;
    double now = now_seconds();
    if (epoch != p->bar_epoch) { /* the first step of an epoch (or of a resumed one) */
        p->bar_epoch = epoch;
        p->bar_step0 = step - 1;
        p->t_epoch0 = p->t_mark;
        p->t_drawn = 0;
    }
    if (step < steps && now - p->t_drawn < REDRAW_SECONDS) return;
    p->t_drawn = now;
    int done = step - p->bar_step0;
    double eta = done > 0 ? (now - p->t_epoch0) / done * (steps - step) : 0;
    char eta_s[32];
    format_duration(eta_s, sizeof eta_s, eta);
    char cells[BAR_CELLS + 1];
    int filled = (int)((long long)BAR_CELLS * step / steps);
    for (int i = 0; i < BAR_CELLS; i++) cells[i] = i < filled ? '#' : '-';
    cells[BAR_CELLS] = '\0';
    char line[256];
    int n = snprintf(line, sizeof line, "epoch %d %s%.*s%s%s %d/%d  loss %.4f  acc %.4f  ETA %s", epoch,
                     p->bar_color ? SGR_CYAN : "", filled, cells, p->bar_color ? SGR_RESET : "", cells + filled,
                     step, steps, loss_sum / step, acc_sum / step, eta_s);
    if (n < 0) return;
    int visible = n - (p->bar_color ? (int)(strlen(SGR_CYAN) + strlen(SGR_RESET)) : 0);
    /* pad over a longer previous line */
    fprintf(stderr, "\r%s%*s", line, p->bar_len > visible ? p->bar_len - visible : 0, "");
    fflush(stderr);
    p->bar_len = visible > p->bar_len ? visible : p->bar_len;
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
        fputs(", \"lr\": ", p->out);
        json_write_double(p->out, m->lr);
        fprintf(p->out, ", \"seconds\": %.6f}\n", m->seconds);
    } else {
        int best = m->test_acc > p->best_acc;
        fprintf(p->out, "%6d  %10.6f  %9.4f  %10.6f  %s%9.4f%s  %8.3f\n", m->epoch, m->train_loss, m->train_acc,
                m->test_loss, best ? sgr(p, SGR_GREEN) : "", m->test_acc, best ? sgr(p, SGR_RESET) : "",
                m->seconds);
    }
    if (m->test_acc > p->best_acc) p->best_acc = m->test_acc;
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
