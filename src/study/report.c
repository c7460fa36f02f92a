/* report.c - REPORT.md and its SVG figures from run folders, and `mlp plot` charts (see report.h).
 *
 * Everything in the report is computed from the runs' config.json and metrics.csv (plus, optionally, the
 * best run's model for per-class accuracy). Runs that agree on everything but the seed form a
 * "configuration"; with several seeds a value is shown as mean +- sample standard deviation (n - 1).
 */
#include "report.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ names */

static const char *const fashion_classes[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
static const char *const digit_classes[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};

const char *mlp_class_name(const char *dataset, int k) {
    if (k < 0 || k > 9) return "?";
    return dataset && !strcmp(dataset, "fashion-mnist") ? fashion_classes[k] : digit_classes[k];
}

const char *mlp_dataset_title(const char *dataset) {
    if (!dataset) return "?";
    if (!strcmp(dataset, "mnist")) return "MNIST";
    if (!strcmp(dataset, "fashion-mnist")) return "Fashion-MNIST";
    return dataset;
}

static const char *const metric_names[MLP_METRIC_COUNT] = {"test_acc", "test_loss", "train_acc", "train_loss"};
static const char *const metric_titles[MLP_METRIC_COUNT] = {"Test accuracy", "Test loss", "Train accuracy",
                                                            "Train loss"};

const char *mlp_metric_name(mlp_metric m) { return m >= 0 && m < MLP_METRIC_COUNT ? metric_names[m] : "?"; }

int mlp_metric_parse(const char *s, mlp_metric *out) {
    for (int i = 0; i < MLP_METRIC_COUNT; i++)
        if (s && !strcmp(s, metric_names[i])) {
            *out = (mlp_metric)i;
            return 0;
        }
    return -1;
}

static double metric_of(const mlp_epoch_metrics *e, mlp_metric m) {
    switch (m) {
    case MLP_METRIC_TEST_ACC:
        return e->test_acc;
    case MLP_METRIC_TEST_LOSS:
        return e->test_loss;
    case MLP_METRIC_TRAIN_ACC:
        return e->train_acc;
    case MLP_METRIC_TRAIN_LOSS:
        return e->train_loss;
    default:
        return NAN;
    }
}

/* Order of activations and losses in tables: the library's enumeration order (the reference report's
 * selu, swish, gelu and mse, ce, hinge, focal), unknown names after it, alphabetically. */
static int act_rank(const char *s) {
    mlp_act a;
    return mlp_act_parse(s, &a) == 0 ? (int)a : 1000;
}
static int loss_rank(const char *s) {
    mlp_loss l;
    return mlp_loss_parse(s, &l) == 0 ? (int)l : 1000;
}

/* ------------------------------------------------------------------ the published results
 *
 * The reference report's numbers are data: src/study/published.csv (published.c reads it). */
static const char *const published_arch[3] = {"", "784-128-10", "784-128-32-10"};

/* The reference's settings, in the canonical text of runs.c (index = MLP_SET_*). */
static const char *const ref_settings[MLP_SET_COUNT] = {
    "sum",   "1e-05", "0.1",   "0.9",      "100", "200", "0.01", "5",  "2",   "0.1", "true", "none",
    "sgd",   "false", "0.9",   "0.999",    "1e-08", "constant", "0", "30", "0.1", "0", "0", "0", "loss"};

/* ------------------------------------------------------------------ small helpers */

static void fmt_num(char *buf, size_t size, double v, int dec) {
    if (!isfinite(v)) snprintf(buf, size, "-");
    else snprintf(buf, size, "%.*f", dec, v);
}

/* "0.9816", or "0.9816 ± 0.0004" when there are several seeds */
static void fmt_stat(char *buf, size_t size, double mean, double sd, int n, int dec) {
    if (!isfinite(mean)) snprintf(buf, size, "-");
    else if (n > 1 && isfinite(sd)) snprintf(buf, size, "%.*f ± %.*f", dec, mean, dec, sd);
    else snprintf(buf, size, "%.*f", dec, mean);
}

/* Markdown table cell text: '|' would end the cell. */
static void md_cell(sbuf *b, const char *s) {
    for (; *s; s++) {
        if (*s == '|') sbuf_puts(b, "\\|");
        else if (*s == '\n') sbuf_putc(b, ' ');
        else sbuf_putc(b, *s);
    }
}

static void file_safe(char *dst, size_t size, const char *src) {
    size_t i = 0;
    for (; *src && i + 1 < size; src++)
        dst[i++] = ((*src >= 'a' && *src <= 'z') || (*src >= 'A' && *src <= 'Z') || (*src >= '0' && *src <= '9') ||
                    *src == '-' || *src == '.' || *src == '_')
                       ? *src
                       : '_';
    dst[i] = '\0';
}

static double median(double *v, int n) {
    if (n <= 0) return NAN;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ------------------------------------------------------------------ configurations (groups of seeds) */

enum {
    F_TRAIN_LOSS,
    F_TRAIN_ACC,
    F_TEST_LOSS,
    F_TEST_ACC,
    F_BEST_ACC,
    F_BEST_EPOCH,
    F_CONV_EPOCH,
    F_TIME,
    F_EPOCH_TIME,
    F_LATE_GAIN,
    F_COUNT
};

typedef struct group {
    int ds;             /* index of its dataset */
    const mlp_run *rep; /* the run with the lowest seed: dataset, arch, act, loss, settings */
    int *runs;          /* indices into the report's run list, by seed */
    int n;
    int epochs;
    double mean[F_COUNT], sd[F_COUNT];
    double *curve[MLP_METRIC_COUNT], *lo[MLP_METRIC_COUNT], *hi[MLP_METRIC_COUNT]; /* mean, mean -+ sd */
    char vary[200]; /* settings that vary between the dataset's configurations: "lr 0.001" */
    int vary_idx;   /* index of its settings among the dataset's distinct settings (a dash style) */
} group;

/* Whether two configurations' means of field f differ by more than seed-to-seed noise: Welch's t-test, two-sided,
 * at the 5% level. t = (mean_a - mean_b) / sqrt(sd_a^2/n_a + sd_b^2/n_b), with the Welch-Satterthwaite degrees
 * of freedom df = (a + b)^2 / (a^2/(n_a - 1) + b^2/(n_b - 1)) (a = sd_a^2/n_a, b = sd_b^2/n_b), compared with the
 * t distribution's 97.5% quantile for floor(df) (a table: rounding df down is the conservative side). With 3
 * seeds a side df is 2 to 4, so a difference must be about 3-4 standard errors to count.
 * Returns 1 beyond noise, 0 within, -1 when it cannot be told (fewer than 2 seeds on a side); *t_out = t. */
static int beyond_noise(const group *A, const group *B, int f, double *t_out) {
    static const double t975[31] = {NAN,   12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                    2.201, 2.179,  2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080,
                                    2.074, 2.069,  2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
    *t_out = NAN;
    if (A->n < 2 || B->n < 2 || !isfinite(A->sd[f]) || !isfinite(B->sd[f])) return -1;
    const double a = A->sd[f] * A->sd[f] / A->n, b = B->sd[f] * B->sd[f] / B->n, d = A->mean[f] - B->mean[f];
    if (a + b == 0) {
        *t_out = d == 0 ? 0 : d > 0 ? INFINITY : -INFINITY;
        return d != 0;
    }
    const double t = d / sqrt(a + b), df = (a + b) * (a + b) / (a * a / (A->n - 1) + b * b / (B->n - 1));
    *t_out = t;
    int k = (int)floor(df);
    if (k < 1) k = 1;
    return fabs(t) > (k <= 30 ? t975[k] : 1.96);
}

/* " (what differs)" after a configuration's name, when its runs differ in an option the table does not show */
static void md_vary(sbuf *b, const group *G) {
    if (!G->vary[0]) return;
    sbuf_puts(b, " (");
    md_cell(b, G->vary);
    sbuf_puts(b, ")");
}

/* The first epoch (1-based) whose test accuracy is within one percentage point (0.01) of the run's best:
 * a simple measure of how fast a run converges, independent of the loss's scale. */
static int conv_epoch(const mlp_run *r) {
    double best = 0;
    for (int i = 0; i < r->n; i++)
        if (r->m[i].test_acc > best) best = r->m[i].test_acc;
    for (int i = 0; i < r->n; i++)
        if (r->m[i].test_acc >= best - 0.01) return i + 1;
    return r->n;
}

static void run_finals(const mlp_run *r, double *f) {
    const mlp_epoch_metrics *last = &r->m[r->n - 1];
    f[F_TRAIN_LOSS] = last->train_loss;
    f[F_TRAIN_ACC] = last->train_acc;
    f[F_TEST_LOSS] = last->test_loss;
    f[F_TEST_ACC] = last->test_acc;
    int be = 0;
    for (int i = 1; i < r->n; i++)
        if (r->m[i].test_acc > r->m[be].test_acc) be = i;
    f[F_BEST_ACC] = r->m[be].test_acc;
    f[F_BEST_EPOCH] = be + 1;
    f[F_CONV_EPOCH] = conv_epoch(r);
    f[F_TIME] = r->total_seconds;
    f[F_EPOCH_TIME] = r->total_seconds / r->n;
    /* test accuracy gained over the last 10% of the epochs (NAN for runs under 10 epochs) */
    int back = r->n / 10;
    f[F_LATE_GAIN] = r->n >= 10 ? last->test_acc - r->m[r->n - 1 - back].test_acc : NAN;
}

static int same_config(const mlp_run *a, const mlp_run *b) {
    if (strcmp(a->dataset, b->dataset) || strcmp(a->arch, b->arch) || strcmp(a->act, b->act) ||
        strcmp(a->loss, b->loss))
        return 0;
    for (int i = 0; i < MLP_SET_COUNT; i++)
        if (strcmp(a->setting[i], b->setting[i])) return 0;
    return 1;
}

/* ------------------------------------------------------------------ the report's state */

#define MAX_NAMES 64

typedef struct names {
    const char *v[MAX_NAMES];
    int n;
} names;

static int names_find(const names *s, const char *x) {
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], x)) return i;
    return -1;
}
static void names_add(names *s, const char *x) {
    if (names_find(s, x) < 0 && s->n < MAX_NAMES) s->v[s->n++] = x;
}

typedef struct dataset_ctx {
    const char *name;
    int *g; /* its configurations, sorted */
    int ng;
    int n_runs;
    names archs, acts, losses, settings;
    int vary[MLP_SET_COUNT];
    int base; /* index in archs of the base architecture (1 hidden layer) */
    int min_seeds, max_seeds;
} dataset_ctx;

typedef struct report {
    const mlp_report_opts *opts;
    const mlp_run **runs; /* the finished runs */
    int n_runs;
    group *groups;
    int ng;
    dataset_ctx *ds;
    int nds;
    char fig_dir[MLP_RUN_PATH_MAX + 32];
    char **figs; /* file names written into figures/ */
    int n_figs;
    char **run_fig; /* per run: its figure's file name */
    mlp_published pub[MLP_PUBLISHED_MAX]; /* the reference report's results */
    int n_pub;
    mlp_error *err;
    mlp_status st;
} report;

static int rep_fail(report *R, mlp_status code, const char *msg) {
    if (!R->st) R->st = mlp_fail(R->err, code, "%s", msg);
    return -1;
}

/* Arch order: fewer hidden layers first, then by name. */
static int arch_layers(const report *R, const char *arch) {
    for (int i = 0; i < R->n_runs; i++)
        if (!strcmp(R->runs[i]->arch, arch)) return R->runs[i]->n_hidden;
    return 0;
}

/* Insertion sort of indices with a context (qsort has no user pointer, and the library keeps no global
 * state); the lists are short (configurations, seeds). */
static void sort_idx(int *v, int n, int (*cmp)(const report *, int, int), const report *R) {
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && cmp(R, v[j - 1], v[j]) > 0; j--) {
            int t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

static int cmp_group(const report *R, int ia, int ib) {
    const group *a = &R->groups[ia], *b = &R->groups[ib];
    int la = a->rep->n_hidden, lb = b->rep->n_hidden;
    if (la != lb) return la - lb;
    int c = strcmp(a->rep->arch, b->rep->arch);
    if (c) return c;
    if (act_rank(a->rep->act) != act_rank(b->rep->act)) return act_rank(a->rep->act) - act_rank(b->rep->act);
    if ((c = strcmp(a->rep->act, b->rep->act))) return c;
    if (loss_rank(a->rep->loss) != loss_rank(b->rep->loss)) return loss_rank(a->rep->loss) - loss_rank(b->rep->loss);
    if ((c = strcmp(a->rep->loss, b->rep->loss))) return c;
    return a->vary_idx - b->vary_idx;
}

static int cmp_seed(const report *R, int ia, int ib) {
    const mlp_run *a = R->runs[ia], *b = R->runs[ib];
    return a->seed < b->seed ? -1 : a->seed > b->seed;
}

static int cmp_name_ptr(const void *a, const void *b) {
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    int rx = act_rank(x), ry = act_rank(y);
    if (rx != ry) return rx - ry;
    rx = loss_rank(x), ry = loss_rank(y);
    if (rx != ry) return rx - ry;
    return strcmp(x, y);
}

/* Build configurations, statistics and per-dataset indexes. */
static int build(report *R) {
    R->groups = calloc((size_t)R->n_runs, sizeof *R->groups);
    if (!R->groups) return rep_fail(R, MLP_ERR_NOMEM, "report: out of memory");
    for (int i = 0; i < R->n_runs; i++) {
        int g = 0;
        while (g < R->ng && !same_config(R->groups[g].rep, R->runs[i])) g++;
        group *G = &R->groups[g];
        if (g == R->ng) {
            R->ng++;
            G->rep = R->runs[i];
            G->runs = calloc((size_t)R->n_runs, sizeof *G->runs);
            if (!G->runs) return rep_fail(R, MLP_ERR_NOMEM, "report: out of memory");
        }
        G->runs[G->n++] = i;
    }
    /* datasets: mnist first, then by name */
    const char *dsn[MAX_NAMES];
    int nds = 0;
    for (int g = 0; g < R->ng; g++) {
        int f = 0;
        for (int d = 0; d < nds; d++) f |= !strcmp(dsn[d], R->groups[g].rep->dataset);
        if (!f && nds < MAX_NAMES) dsn[nds++] = R->groups[g].rep->dataset;
    }
    for (int i = 1; i < nds; i++)
        for (int j = i; j > 0; j--) {
            int sw = strcmp(dsn[j], "mnist") == 0 || (strcmp(dsn[j - 1], "mnist") && strcmp(dsn[j], dsn[j - 1]) < 0);
            if (!sw) break;
            const char *t = dsn[j];
            dsn[j] = dsn[j - 1];
            dsn[j - 1] = t;
        }
    R->ds = calloc((size_t)nds, sizeof *R->ds);
    if (!R->ds) return rep_fail(R, MLP_ERR_NOMEM, "report: out of memory");
    R->nds = nds;
    for (int d = 0; d < nds; d++) {
        dataset_ctx *D = &R->ds[d];
        D->name = dsn[d];
        D->g = calloc((size_t)R->ng, sizeof *D->g);
        if (!D->g) return rep_fail(R, MLP_ERR_NOMEM, "report: out of memory");
        D->min_seeds = 1 << 30;
        for (int g = 0; g < R->ng; g++) {
            group *G = &R->groups[g];
            if (strcmp(G->rep->dataset, D->name)) continue;
            G->ds = d;
            D->g[D->ng++] = g;
            D->n_runs += G->n;
            if (G->n < D->min_seeds) D->min_seeds = G->n;
            if (G->n > D->max_seeds) D->max_seeds = G->n;
            names_add(&D->archs, G->rep->arch);
            names_add(&D->acts, G->rep->act);
            names_add(&D->losses, G->rep->loss);
        }
        qsort(D->acts.v, (size_t)D->acts.n, sizeof(char *), cmp_name_ptr);
        qsort(D->losses.v, (size_t)D->losses.n, sizeof(char *), cmp_name_ptr);
        /* archs: fewer layers first */
        for (int i = 1; i < D->archs.n; i++)
            for (int j = i; j > 0; j--) {
                const char *x = D->archs.v[j], *y = D->archs.v[j - 1];
                int lx = arch_layers(R, x), ly = arch_layers(R, y);
                if (lx > ly || (lx == ly && strcmp(x, y) >= 0)) break;
                D->archs.v[j] = y;
                D->archs.v[j - 1] = x;
            }
        /* settings that vary between configurations of this dataset */
        for (int s = 0; s < MLP_SET_COUNT; s++)
            for (int k = 1; k < D->ng; k++)
                if (strcmp(R->groups[D->g[k]].rep->setting[s], R->groups[D->g[0]].rep->setting[s])) D->vary[s] = 1;
        for (int k = 0; k < D->ng; k++) {
            group *G = &R->groups[D->g[k]];
            size_t used = 0;
            G->vary[0] = '\0';
            for (int s = 0; s < MLP_SET_COUNT; s++) {
                if (!D->vary[s]) continue;
                int w = snprintf(G->vary + used, sizeof G->vary - used, "%s%s %s", used ? ", " : "",
                                 mlp_run_setting_key(s), G->rep->setting[s]);
                if (w < 0 || (size_t)w >= sizeof G->vary - used) break;
                used += (size_t)w;
            }
            /* G->vary points into the group, stable: use it as the settings name */
            names_add(&D->settings, G->vary);
            G->vary_idx = names_find(&D->settings, G->vary);
        }
        /* the base architecture: the 1-hidden-layer one with most configurations, else the shallowest */
        int best = -1, best_n = -1;
        for (int a = 0; a < D->archs.n; a++) {
            int cnt = 0;
            for (int k = 0; k < D->ng; k++) cnt += !strcmp(R->groups[D->g[k]].rep->arch, D->archs.v[a]);
            if (arch_layers(R, D->archs.v[a]) == 1 && cnt > best_n) best = a, best_n = cnt;
        }
        D->base = best >= 0 ? best : 0;
        sort_idx(D->g, D->ng, cmp_group, R);
    }
    /* statistics and mean curves */
    for (int g = 0; g < R->ng; g++) {
        group *G = &R->groups[g];
        sort_idx(G->runs, G->n, cmp_seed, R);
        G->rep = R->runs[G->runs[0]];
        G->epochs = G->rep->n;
        double f[F_COUNT], sum[F_COUNT] = {0}, sq[F_COUNT] = {0};
        for (int k = 0; k < G->n; k++) {
            run_finals(R->runs[G->runs[k]], f);
            for (int j = 0; j < F_COUNT; j++) sum[j] += f[j];
        }
        for (int j = 0; j < F_COUNT; j++) G->mean[j] = sum[j] / G->n;
        for (int k = 0; k < G->n; k++) {
            run_finals(R->runs[G->runs[k]], f);
            for (int j = 0; j < F_COUNT; j++) sq[j] += (f[j] - G->mean[j]) * (f[j] - G->mean[j]);
        }
        for (int j = 0; j < F_COUNT; j++) G->sd[j] = G->n > 1 ? sqrt(sq[j] / (G->n - 1)) : NAN;
        for (int m = 0; m < MLP_METRIC_COUNT; m++) {
            G->curve[m] = calloc((size_t)G->epochs * 3, sizeof(double));
            if (!G->curve[m]) return rep_fail(R, MLP_ERR_NOMEM, "report: out of memory");
            G->lo[m] = G->curve[m] + G->epochs;
            G->hi[m] = G->lo[m] + G->epochs;
            for (int e = 0; e < G->epochs; e++) {
                double s = 0, s2 = 0;
                for (int k = 0; k < G->n; k++) s += metric_of(&R->runs[G->runs[k]]->m[e], (mlp_metric)m);
                double mu = s / G->n;
                for (int k = 0; k < G->n; k++) {
                    double d = metric_of(&R->runs[G->runs[k]]->m[e], (mlp_metric)m) - mu;
                    s2 += d * d;
                }
                double sd = G->n > 1 ? sqrt(s2 / (G->n - 1)) : 0;
                G->curve[m][e] = mu;
                G->lo[m][e] = mu - sd;
                G->hi[m][e] = mu + sd;
            }
        }
    }
    return 0;
}

static void free_report(report *R) {
    for (int g = 0; g < R->ng; g++) {
        free(R->groups[g].runs);
        for (int m = 0; m < MLP_METRIC_COUNT; m++) free(R->groups[g].curve[m]); /* lo, hi live in the same block */
    }
    free(R->groups);
    for (int d = 0; d < R->nds; d++) free(R->ds[d].g);
    free(R->ds);
    for (int i = 0; i < R->n_figs; i++) free(R->figs[i]);
    free(R->figs);
    if (R->run_fig)
        for (int i = 0; i < R->n_runs; i++) free(R->run_fig[i]);
    free(R->run_fig);
    free(R->runs);
}

/* "gelu + hinge, 784-128-10 (lr 0.001)" */
static void group_name(char *buf, size_t size, const group *G, int with_arch) {
    int w = snprintf(buf, size, "%s + %s", G->rep->act, G->rep->loss);
    if (w < 0 || (size_t)w >= size) return;
    if (with_arch) w += snprintf(buf + w, size - (size_t)w, ", %s", G->rep->arch);
    if (G->vary[0] && (size_t)w < size) snprintf(buf + w, size - (size_t)w, " (%s)", G->vary);
}

/* ------------------------------------------------------------------ figures */

/* Write figures/<name>.svg from svg (freed here); returns 0, or -1 with R->st set. */
static int write_svg(report *R, const char *name, sbuf svg) {
    mlp_error e;
    char path[MLP_RUN_PATH_MAX + 400];
    snprintf(path, sizeof path, "%s/%s.svg", R->fig_dir, name);
    mlp_status st = svg.oom ? mlp_fail(&e, MLP_ERR_NOMEM, "%s: out of memory", path)
                            : mlp_write_file_atomic(path, sbuf_str(&svg), svg.len, &e);
    sbuf_free(&svg);
    if (st) return rep_fail(R, st, e.msg);
    char **f = realloc(R->figs, (size_t)(R->n_figs + 1) * sizeof *f);
    if (!f) return rep_fail(R, MLP_ERR_NOMEM, "report: out of memory");
    R->figs = f;
    size_t nl = strlen(name) + 5;
    R->figs[R->n_figs] = malloc(nl);
    if (!R->figs[R->n_figs]) return rep_fail(R, MLP_ERR_NOMEM, "report: out of memory");
    snprintf(R->figs[R->n_figs++], nl, "%s.svg", name);
    return 0;
}

/* Render and write figures/<name>.svg; returns 0, or -1 with R->st set. */
static int write_figure(report *R, const char *name, const mlp_svg_figure *fig) {
    sbuf svg = SBUF_INIT;
    mlp_error e;
    if (mlp_svg_render(&svg, fig, &e)) {
        sbuf_free(&svg);
        return rep_fail(R, e.code, e.msg);
    }
    return write_svg(R, name, svg);
}

/* One line per configuration of `gs` (mean over seeds, band = +- sd when several seeds). */
static void group_series(const report *R, mlp_svg_series *s, const group *G, mlp_metric m, const char *label, int color,
                         int dash) {
    (void)R;
    memset(s, 0, sizeof *s);
    s->label = label;
    s->y = G->curve[m];
    s->n = G->epochs;
    if (G->n > 1) {
        s->band_lo = G->lo[m];
        s->band_hi = G->hi[m];
    }
    s->color = color;
    s->dash = dash;
}

/* Keep the second half of a series (epochs n/2 + 1 .. n; xs[i] = i + 1): the zoomed panels, whose axes cover
 * only the points they draw. */
static void second_half(mlp_svg_series *S, const double *xs) {
    const int s0 = S->n / 2;
    S->x = xs + s0;
    S->y += s0;
    if (S->band_lo) S->band_lo += s0, S->band_hi += s0;
    S->n -= s0;
}

/* The curves of one run, or of one configuration's seeds (mean, with a +- sd band): loss (train, test) and
 * accuracy (train, test) over epochs, written as figures/<prefix>_<name>.svg; the figure's name goes to
 * R->run_fig[slot]. y[metric] are n values each; lo and hi are NULL for one run. */
static int curves_figure(report *R, int slot, const char *prefix, const char *name, const char *title,
                         const char *loss, double *const y[MLP_METRIC_COUNT], double *const lo[MLP_METRIC_COUNT],
                         double *const hi[MLP_METRIC_COUNT], int n) {
    mlp_svg_series ls[2] = {
        {"train", y[MLP_METRIC_TRAIN_LOSS], NULL, n, lo ? lo[MLP_METRIC_TRAIN_LOSS] : NULL,
         hi ? hi[MLP_METRIC_TRAIN_LOSS] : NULL, 0, 1},
        {"test", y[MLP_METRIC_TEST_LOSS], NULL, n, lo ? lo[MLP_METRIC_TEST_LOSS] : NULL,
         hi ? hi[MLP_METRIC_TEST_LOSS] : NULL, 1, 0}};
    mlp_svg_series as[2] = {
        {"train", y[MLP_METRIC_TRAIN_ACC], NULL, n, lo ? lo[MLP_METRIC_TRAIN_ACC] : NULL,
         hi ? hi[MLP_METRIC_TRAIN_ACC] : NULL, 0, 1},
        {"test", y[MLP_METRIC_TEST_ACC], NULL, n, lo ? lo[MLP_METRIC_TEST_ACC] : NULL,
         hi ? hi[MLP_METRIC_TEST_ACC] : NULL, 1, 0}};
    char lt[96];
    snprintf(lt, sizeof lt, "Loss (%s)", loss);
    mlp_svg_panel p[2] = {{lt, "Epoch", "Loss", ls, 2, -1, 1}, {"Accuracy", "Epoch", "Accuracy", as, 2, 0, 1}};
    mlp_svg_figure fig = {title, p, 2, 2};
    char fname[300], safe[300];
    snprintf(fname, sizeof fname, "%s_%s", prefix, name);
    file_safe(safe, sizeof safe, fname);
    /* two studies may hold runs of the same name */
    for (int k = 2; k < 1000; k++) {
        int clash = 0;
        for (int j = 0; j < R->n_runs; j++) clash |= R->run_fig[j] && !strcmp(R->run_fig[j], safe);
        if (!clash) break;
        snprintf(fname, sizeof fname, "%s_%s_%d", prefix, name, k);
        file_safe(safe, sizeof safe, fname);
    }
    if (write_figure(R, safe, &fig)) return -1;
    R->run_fig[slot] = strdup(safe);
    if (!R->run_fig[slot]) return rep_fail(R, MLP_ERR_NOMEM, "report: out of memory");
    return 0;
}

/* The curves of every configuration: one figure per run when it has one seed, else one per configuration
 * (its first run's slot), the mean over seeds with a +- sd band, named after the run without "_s<seed>". */
static int curve_figures(report *R) {
    for (int g = 0; g < R->ng && !R->st; g++) {
        const group *G = &R->groups[g];
        const mlp_run *r = G->rep;
        char title[400], name[300];
        if (G->n == 1) {
            double *buf = malloc(sizeof(double) * (size_t)r->n * MLP_METRIC_COUNT);
            if (!buf) return rep_fail(R, MLP_ERR_NOMEM, "report: out of memory");
            double *y[MLP_METRIC_COUNT];
            for (int m = 0; m < MLP_METRIC_COUNT; m++) {
                y[m] = buf + (size_t)m * r->n;
                for (int e = 0; e < r->n; e++) y[m][e] = metric_of(&r->m[e], (mlp_metric)m);
            }
            mlp_strf(title, sizeof title, "%s: %s + %s, %s, seed %llu (%s)", r->name, r->act, r->loss, r->arch,
                     (unsigned long long)r->seed, mlp_dataset_title(r->dataset));
            curves_figure(R, G->runs[0], "run", r->name, title, r->loss, y, NULL, NULL, r->n);
            free(buf);
            continue;
        }
        /* "784-128-10_gelu_hinge_s1" -> "784-128-10_gelu_hinge" */
        char sfx[40];
        snprintf(sfx, sizeof sfx, "_s%llu", (unsigned long long)r->seed);
        size_t nl = strlen(r->name), sl = strlen(sfx);
        snprintf(name, sizeof name, "%.*s", (int)(nl > sl && !strcmp(r->name + nl - sl, sfx) ? nl - sl : nl), r->name);
        char gname[300];
        group_name(gname, sizeof gname, G, 1);
        mlp_strf(title, sizeof title, "%s, mean of %d seeds, band ± 1 sd (%s)", gname, G->n,
                 mlp_dataset_title(r->dataset));
        curves_figure(R, G->runs[0], "config", name, title, r->loss, G->curve, G->lo, G->hi, G->epochs);
    }
    return R->st ? -1 : 0;
}

/* ------------------------------------------------------------------ tables */

static const char *metric_header =
    "| train loss | test loss | train acc | test acc | best test acc (epoch) | conv. epoch | time (s) |";
static const char *metric_rule = "|---:|---:|---:|---:|---:|---:|---:|";

static void metric_cells(sbuf *b, const group *G) {
    char c[96];
    fmt_stat(c, sizeof c, G->mean[F_TRAIN_LOSS], G->sd[F_TRAIN_LOSS], G->n, 4);
    sbuf_printf(b, " %s |", c);
    fmt_stat(c, sizeof c, G->mean[F_TEST_LOSS], G->sd[F_TEST_LOSS], G->n, 4);
    sbuf_printf(b, " %s |", c);
    fmt_stat(c, sizeof c, G->mean[F_TRAIN_ACC], G->sd[F_TRAIN_ACC], G->n, 4);
    sbuf_printf(b, " %s |", c);
    fmt_stat(c, sizeof c, G->mean[F_TEST_ACC], G->sd[F_TEST_ACC], G->n, 4);
    sbuf_printf(b, " **%s** |", c);
    fmt_stat(c, sizeof c, G->mean[F_BEST_ACC], G->sd[F_BEST_ACC], G->n, 4);
    if (G->n == 1) sbuf_printf(b, " %s (%d) |", c, (int)G->mean[F_BEST_EPOCH]);
    else sbuf_printf(b, " %s |", c);
    fmt_stat(c, sizeof c, G->mean[F_CONV_EPOCH], G->sd[F_CONV_EPOCH], G->n, G->n > 1 ? 1 : 0);
    sbuf_printf(b, " %s |", c);
    fmt_stat(c, sizeof c, G->mean[F_TIME], G->sd[F_TIME], G->n, 1);
    sbuf_printf(b, " %s |\n", c);
}

/* The configurations of dataset D matching arch (NULL: any), act, loss (NULL: any), in table order. */
static int select_groups(const report *R, const dataset_ctx *D, const char *arch, const char *act, const char *loss,
                         int *out) {
    int n = 0;
    for (int k = 0; k < D->ng; k++) {
        const group *G = &R->groups[D->g[k]];
        if ((arch && strcmp(G->rep->arch, arch)) || (act && strcmp(G->rep->act, act)) ||
            (loss && strcmp(G->rep->loss, loss)))
            continue;
        out[n++] = D->g[k];
    }
    return n;
}

/* ------------------------------------------------------------------ sections */

typedef struct ds_out {
    sbuf summary, body;
    /* numbers the summary quotes from the sections */
    int pub_n, pub_higher, pub_consistent, pub_checked;
    double pub_abs_sum;
    int pub_settings_differ;
    char pub_diff[300];
} ds_out;

static const char *suffix_for(const report *R, const dataset_ctx *D, char *buf, size_t size) {
    if (R->nds > 1) snprintf(buf, size, " (%s)", mlp_dataset_title(D->name));
    else buf[0] = '\0';
    return buf;
}

/* Activations compared: the base architecture, hinge and MSE (else every loss). */
static void section_activations(report *R, dataset_ctx *D, ds_out *o, const char *fprefix) {
    const char *arch = D->archs.v[D->base];
    const char *losses[MAX_NAMES];
    int nl = 0;
    int *sel = malloc(sizeof(int) * (size_t)(D->ng + 1));
    if (!sel) return (void)rep_fail(R, MLP_ERR_NOMEM, "report: out of memory");
    for (int l = 0; l < D->losses.n; l++)
        if (!strcmp(D->losses.v[l], "hinge") || !strcmp(D->losses.v[l], "mse")) losses[nl++] = D->losses.v[l];
    /* hinge first, as the reference report */
    if (nl == 2 && !strcmp(losses[0], "mse")) losses[0] = "hinge", losses[1] = "mse";
    if (nl == 0)
        for (int l = 0; l < D->losses.n; l++) losses[nl++] = D->losses.v[l];
    /* keep the losses that have at least two activations */
    int keep = 0;
    for (int l = 0; l < nl; l++) {
        names a = {{0}, 0};
        int n = select_groups(R, D, arch, NULL, losses[l], sel);
        for (int k = 0; k < n; k++) names_add(&a, R->groups[sel[k]].rep->act);
        if (a.n >= 2) losses[keep++] = losses[l];
    }
    nl = keep;
    if (nl == 0) {
        free(sel);
        return;
    }
    char sfx[64], lossl[200] = "";
    suffix_for(R, D, sfx, sizeof sfx);
    for (int l = 0; l < nl; l++)
        snprintf(lossl + strlen(lossl), sizeof lossl - strlen(lossl), "%s%s", l ? (l == nl - 1 ? " and " : ", ") : "",
                 losses[l]);
    sbuf *b = &o->body;
    sbuf_printf(b, "\n## Activations compared (%s, %s)%s\n\n", arch, lossl, sfx);
    sbuf_printf(b, "| loss | activation | seeds %s\n|---|---|---:%s\n", metric_header, metric_rule);
    for (int l = 0; l < nl; l++) {
        int n = select_groups(R, D, arch, NULL, losses[l], sel);
        for (int k = 0; k < n; k++) {
            const group *G = &R->groups[sel[k]];
            sbuf_printf(b, "| %s | ", G->rep->loss);
            md_cell(b, G->rep->act);
            md_vary(b, G);
            sbuf_printf(b, " | %d |", G->n);
            metric_cells(b, G);
        }
    }
    /* figure: one panel per loss, test accuracy per activation. Final accuracies differ by tenths of a point,
     * invisible on an axis that must also hold epoch 1, so long runs get a second panel per loss: the second
     * half of training, whose axis covers (only) the points it draws. */
    int max_e = 0, min_e = 1 << 30;
    for (int l = 0; l < nl; l++) {
        int n = select_groups(R, D, arch, NULL, losses[l], sel);
        for (int k = 0; k < n; k++) {
            int e = R->groups[sel[k]].epochs;
            if (e > max_e) max_e = e;
            if (e < min_e) min_e = e;
        }
    }
    const int zoom = min_e >= 20;
    mlp_svg_panel panels[2 * MAX_NAMES];
    mlp_svg_series *series = calloc((size_t)(2 * D->ng + 1), sizeof *series);
    char(*labels)[200] = calloc((size_t)D->ng + 1, sizeof *labels);
    char(*ptitles)[120] = calloc((size_t)(2 * nl), sizeof *ptitles);
    double *xs = calloc((size_t)max_e + 1, sizeof *xs);
    if (!series || !labels || !ptitles || !xs) {
        free(series), free(labels), free(ptitles), free(sel), free(xs);
        return (void)rep_fail(R, MLP_ERR_NOMEM, "report: out of memory");
    }
    for (int e = 0; e < max_e; e++) xs[e] = e + 1;
    int ns = 0, np = 0, nlab = 0;
    for (int l = 0; l < nl; l++) {
        int n = select_groups(R, D, arch, NULL, losses[l], sel);
        const int lab0 = nlab;
        for (int z = 0; z <= zoom; z++) {
            mlp_svg_panel *P = &panels[np];
            *P = (mlp_svg_panel){ptitles[np], "Epoch", "Test accuracy", series + ns, 0, 0, 1};
            if (z) mlp_strf(ptitles[np], sizeof ptitles[np], "%s loss, epochs %d-%d", losses[l], min_e / 2 + 1, max_e);
            else mlp_strf(ptitles[np], sizeof ptitles[np], "%s loss", losses[l]);
            np++;
            for (int k = 0; k < n; k++) {
                const group *G = &R->groups[sel[k]];
                if (!z) {
                    mlp_strf(labels[nlab], sizeof labels[nlab], "%s%s%s%s", G->rep->act, G->vary[0] ? " (" : "",
                             G->vary, G->vary[0] ? ")" : "");
                    nlab++;
                }
                group_series(R, &series[ns], G, MLP_METRIC_TEST_ACC, labels[lab0 + k],
                             names_find(&D->acts, G->rep->act), G->vary_idx % 4);
                if (z) second_half(&series[ns], xs);
                ns++;
                P->n_series++;
            }
        }
    }
    char title[300], fname[200];
    snprintf(title, sizeof title, "Test accuracy by activation, %s (%s)", arch, mlp_dataset_title(D->name));
    mlp_svg_figure fig = {title, panels, np, np > 1 ? 2 : 1};
    snprintf(fname, sizeof fname, "%sactivations", fprefix);
    if (write_figure(R, fname, &fig) == 0) {
        sbuf_printf(b, "\n![%s](figures/%s.svg)\n", title, fname);
        if (zoom) sbuf_puts(b, "\nRight: the second half of training only, on its own scale.\n");
        if (D->max_seeds > 1)
            sbuf_puts(b, "\nLines are means over seeds; shaded bands are ± one standard deviation.\n");
    }
    free(series), free(labels), free(ptitles), free(sel), free(xs);
}

/* Losses compared: gelu (else the activation with most losses) on the base architecture. */
static void section_losses(report *R, dataset_ctx *D, ds_out *o, const char *fprefix) {
    const char *arch = D->archs.v[D->base];
    int *sel = malloc(sizeof(int) * (size_t)(D->ng + 1));
    if (!sel) return (void)rep_fail(R, MLP_ERR_NOMEM, "report: out of memory");
    const char *act = NULL;
    int best_n = 1;
    for (int a = 0; a < D->acts.n; a++) {
        names l = {{0}, 0};
        int n = select_groups(R, D, arch, D->acts.v[a], NULL, sel);
        for (int k = 0; k < n; k++) names_add(&l, R->groups[sel[k]].rep->loss);
        if (l.n >= 2 && (!strcmp(D->acts.v[a], "gelu") || l.n > best_n) && !(act && !strcmp(act, "gelu")))
            act = D->acts.v[a], best_n = l.n;
    }
    if (!act) {
        free(sel);
        return;
    }
    char sfx[64];
    suffix_for(R, D, sfx, sizeof sfx);
    sbuf *b = &o->body;
    sbuf_printf(b, "\n## Losses compared (%s, %s)%s\n\n", act, arch, sfx);
    sbuf_printf(b, "| loss | seeds %s\n|---|---:%s\n", metric_header, metric_rule);
    int n = select_groups(R, D, arch, act, NULL, sel);
    for (int k = 0; k < n; k++) {
        const group *G = &R->groups[sel[k]];
        sbuf_puts(b, "| ");
        md_cell(b, G->rep->loss);
        md_vary(b, G);
        sbuf_printf(b, " | %d |", G->n);
        metric_cells(b, G);
    }
    sbuf_puts(b, "\nLoss values are on different scales (each loss is its own function); compare accuracies.\n");
    mlp_svg_series *series = calloc((size_t)4 * (size_t)n + 1, sizeof *series);
    char(*labels)[200] = calloc((size_t)n + 1, sizeof *labels);
    if (!series || !labels) {
        free(series), free(labels), free(sel);
        return (void)rep_fail(R, MLP_ERR_NOMEM, "report: out of memory");
    }
    for (int k = 0; k < n; k++) {
        const group *G = &R->groups[sel[k]];
        mlp_strf(labels[k], sizeof labels[k], "%s%s%s%s", G->rep->loss, G->vary[0] ? " (" : "", G->vary,
                 G->vary[0] ? ")" : "");
        int color = names_find(&D->losses, G->rep->loss);
        group_series(R, &series[k], G, MLP_METRIC_TEST_ACC, labels[k], color, G->vary_idx % 4);
        group_series(R, &series[n + k], G, MLP_METRIC_TRAIN_ACC, labels[k], color, G->vary_idx % 4);
    }
    /* long runs: a second row with the second half of training, on its own axes (see section_activations) */
    int min_e = 1 << 30, max_e = 0;
    for (int k = 0; k < n; k++) {
        const int e = R->groups[sel[k]].epochs;
        min_e = e < min_e ? e : min_e, max_e = e > max_e ? e : max_e;
    }
    const int zoom = min_e >= 20;
    double *xs = calloc((size_t)max_e + 1, sizeof *xs);
    if (!xs) {
        free(series), free(labels), free(sel);
        return (void)rep_fail(R, MLP_ERR_NOMEM, "report: out of memory");
    }
    for (int e = 0; e < max_e; e++) xs[e] = e + 1;
    if (zoom)
        for (int k = 0; k < 2 * n; k++) {
            series[2 * n + k] = series[k];
            second_half(&series[2 * n + k], xs);
        }
    char zt[2][96];
    snprintf(zt[0], sizeof zt[0], "Test accuracy, epochs %d-%d", min_e / 2 + 1, max_e);
    snprintf(zt[1], sizeof zt[1], "Train accuracy, epochs %d-%d", min_e / 2 + 1, max_e);
    mlp_svg_panel panels[4] = {{"Test accuracy", "Epoch", "Test accuracy", series, n, 0, 1},
                               {"Train accuracy", "Epoch", "Train accuracy", series + n, n, 0, 1},
                               {zt[0], "Epoch", "Test accuracy", series + 2 * n, n, 0, 1},
                               {zt[1], "Epoch", "Train accuracy", series + 3 * n, n, 0, 1}};
    char title[300], fname[200];
    snprintf(title, sizeof title, "Accuracy by loss, %s, %s (%s)", act, arch, mlp_dataset_title(D->name));
    mlp_svg_figure fig = {title, panels, zoom ? 4 : 2, 2};
    snprintf(fname, sizeof fname, "%slosses", fprefix);
    if (write_figure(R, fname, &fig) == 0) {
        sbuf_printf(b, "\n![%s](figures/%s.svg)\n", title, fname);
        if (zoom) sbuf_puts(b, "\nBottom: the second half of training only, on its own scale.\n");
    }
    free(xs);
    free(series), free(labels), free(sel);
}

/* The base architecture against every deeper one: matched configurations side by side. */
static void section_depth(report *R, dataset_ctx *D, ds_out *o, const char *fprefix) {
    const char *base = D->archs.v[D->base];
    char sfx[64];
    suffix_for(R, D, sfx, sizeof sfx);
    for (int a = 0; a < D->archs.n; a++) {
        if (a == D->base) continue;
        const char *other = D->archs.v[a];
        /* pairs: same act, loss and settings */
        int *pa = malloc(sizeof(int) * (size_t)(D->ng + 1)), *pb = malloc(sizeof(int) * (size_t)(D->ng + 1));
        if (!pa || !pb) {
            free(pa), free(pb);
            return (void)rep_fail(R, MLP_ERR_NOMEM, "report: out of memory");
        }
        int np = 0;
        for (int k = 0; k < D->ng; k++) {
            const group *G = &R->groups[D->g[k]];
            if (strcmp(G->rep->arch, base)) continue;
            for (int j = 0; j < D->ng; j++) {
                const group *H = &R->groups[D->g[j]];
                if (!strcmp(H->rep->arch, other) && !strcmp(H->rep->act, G->rep->act) &&
                    !strcmp(H->rep->loss, G->rep->loss) && !strcmp(H->vary, G->vary)) {
                    pa[np] = D->g[k];
                    pb[np++] = D->g[j];
                }
            }
        }
        if (np == 0) {
            free(pa), free(pb);
            continue;
        }
        sbuf *b = &o->body;
        int la = arch_layers(R, base), lb = arch_layers(R, other), marked = 0;
        sbuf_printf(b, "\n## %d vs %d hidden layers (%s vs %s)%s\n\n", la, lb, base, other, sfx);
        sbuf_printf(b,
                    "| activation | loss | test acc, %d | test acc, %d | difference | train acc, %d | train acc, %d | "
                    "conv. epoch, %d | conv. epoch, %d | time (s), %d | time (s), %d |\n"
                    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
                    la, lb, la, lb, la, lb, la, lb);
        for (int k = 0; k < np; k++) {
            const group *G = &R->groups[pa[k]], *H = &R->groups[pb[k]];
            char c[8][96];
            fmt_stat(c[0], sizeof c[0], G->mean[F_TEST_ACC], G->sd[F_TEST_ACC], G->n, 4);
            fmt_stat(c[1], sizeof c[1], H->mean[F_TEST_ACC], H->sd[F_TEST_ACC], H->n, 4);
            fmt_stat(c[2], sizeof c[2], G->mean[F_TRAIN_ACC], G->sd[F_TRAIN_ACC], G->n, 4);
            fmt_stat(c[3], sizeof c[3], H->mean[F_TRAIN_ACC], H->sd[F_TRAIN_ACC], H->n, 4);
            fmt_stat(c[4], sizeof c[4], G->mean[F_CONV_EPOCH], G->sd[F_CONV_EPOCH], G->n, G->n > 1);
            fmt_stat(c[5], sizeof c[5], H->mean[F_CONV_EPOCH], H->sd[F_CONV_EPOCH], H->n, H->n > 1);
            fmt_stat(c[6], sizeof c[6], G->mean[F_TIME], G->sd[F_TIME], G->n, 1);
            fmt_stat(c[7], sizeof c[7], H->mean[F_TIME], H->sd[F_TIME], H->n, 1);
            sbuf_puts(b, "| ");
            md_cell(b, G->rep->act);
            md_vary(b, G);
            sbuf_puts(b, " | ");
            md_cell(b, G->rep->loss);
            double t;
            int real = beyond_noise(H, G, F_TEST_ACC, &t);
            sbuf_printf(b, " | %s | %s | %+.4f%s | %s | %s | %s | %s | %s | %s |\n", c[0], c[1],
                        H->mean[F_TEST_ACC] - G->mean[F_TEST_ACC], real > 0 ? " *" : "", c[2], c[3], c[4], c[5], c[6],
                        c[7]);
            marked |= real >= 0;
        }
        if (marked)
            sbuf_puts(b, "\n\\*: the difference exceeds seed noise (Welch's t-test over the seeds, 5% level, two-sided); "
                         "unmarked differences are within it.\n");
        /* figure: one panel per loss; color = activation, solid = base, dashed = deeper */
        names losses = {{0}, 0};
        for (int k = 0; k < np; k++) names_add(&losses, R->groups[pa[k]].rep->loss);
        qsort(losses.v, (size_t)losses.n, sizeof(char *), cmp_name_ptr);
        /* The full curves start near chance (0.1), which flattens the final accuracies (0.96-0.98) at the top of
         * the axis; long runs get a second panel per loss, the second half of training on its own axis. */
        int min_e = 1 << 30, max_e = 0;
        for (int k = 0; k < np; k++) {
            const int e[2] = {R->groups[pa[k]].epochs, R->groups[pb[k]].epochs};
            for (int j = 0; j < 2; j++) min_e = e[j] < min_e ? e[j] : min_e, max_e = e[j] > max_e ? e[j] : max_e;
        }
        const int zoom = min_e >= 20;
        mlp_svg_panel panels[2 * MAX_NAMES];
        mlp_svg_series *series = calloc((size_t)4 * (size_t)np + 1, sizeof *series);
        char(*labels)[200] = calloc((size_t)2 * (size_t)np + 1, sizeof *labels);
        char(*pt)[96] = calloc((size_t)2 * losses.n + 1, sizeof *pt);
        double *xs = calloc((size_t)max_e + 1, sizeof *xs);
        if (!series || !labels || !pt || !xs) {
            free(series), free(labels), free(pt), free(pa), free(pb), free(xs);
            return (void)rep_fail(R, MLP_ERR_NOMEM, "report: out of memory");
        }
        for (int e = 0; e < max_e; e++) xs[e] = e + 1;
        int ns = 0, npan = 0, nlab = 0;
        for (int l = 0; l < losses.n; l++) {
            const int lab0 = nlab;
            for (int z = 0; z <= zoom; z++) {
                mlp_svg_panel *P = &panels[npan];
                if (z) snprintf(pt[npan], sizeof pt[npan], "%s loss, epochs %d-%d", losses.v[l], min_e / 2 + 1, max_e);
                else snprintf(pt[npan], sizeof pt[npan], "%s loss", losses.v[l]);
                *P = (mlp_svg_panel){pt[npan], "Epoch", "Test accuracy", series + ns, 0, 0, 1};
                npan++;
                int j = 0;
                for (int k = 0; k < np; k++) {
                    const group *G = &R->groups[pa[k]], *H = &R->groups[pb[k]];
                    if (strcmp(G->rep->loss, losses.v[l])) continue;
                    int color = names_find(&D->acts, G->rep->act);
                    for (int d = 0; d < 2; d++) {
                        const group *X = d ? H : G;
                        const int layers = d ? lb : la;
                        if (!z) {
                            snprintf(labels[nlab], sizeof labels[nlab], "%s, %d layer%s", X->rep->act, layers,
                                     layers > 1 ? "s" : "");
                            nlab++;
                        }
                        mlp_svg_series *S = &series[ns++];
                        group_series(R, S, X, MLP_METRIC_TEST_ACC, labels[lab0 + j++], color, d);
                        if (z) second_half(S, xs);
                        P->n_series++;
                    }
                }
            }
        }
        char title[300], fname[300], safe[300];
        snprintf(title, sizeof title, "Test accuracy, %s (solid) vs %s (dashed) (%s)", base, other,
                 mlp_dataset_title(D->name));
        mlp_svg_figure fig = {title, panels, npan, npan > 1 ? 2 : 1};
        snprintf(fname, sizeof fname, "%sdepth_%s", fprefix, other);
        file_safe(safe, sizeof safe, fname);
        if (write_figure(R, safe, &fig) == 0) {
            sbuf_printf(b, "\n![%s](figures/%s.svg)\n", title, safe);
            if (zoom) sbuf_puts(b, "\nRight: the second half of training only, on its own scale.\n");
        }
        free(series), free(labels), free(pt), free(pa), free(pb), free(xs);
    }
}

/* The published results beside ours (MNIST only). */
static void section_published(report *R, dataset_ctx *D, ds_out *o) {
    if (strcmp(D->name, "mnist")) return;
    sbuf *b = &o->body;
    int header = 0;
    char c[6][96];
    for (int p = 0; p < R->n_pub; p++) {
        const mlp_published *P = &R->pub[p];
        for (int k = 0; k < D->ng; k++) {
            const group *G = &R->groups[D->g[k]];
            if (strcmp(G->rep->act, P->act) || strcmp(G->rep->loss, P->loss) ||
                strcmp(G->rep->arch, published_arch[P->layers]))
                continue;
            if (!header) {
                header = 1;
                sbuf_puts(b, "\n## Comparison with the published results\n\n"
                             "The reference report (Tsinghua ANN 2023, HW1; values from "
                             "`shared/reference/hw1-semantics.md`, \"Published results\") beside this study. ");
                /* settings that differ from the reference's */
                size_t used = 0;
                o->pub_diff[0] = '\0';
                for (int s = 0; s < MLP_SET_COUNT; s++) {
                    int differs = 0;
                    for (int j = 0; j < D->ng; j++)
                        differs |= strcmp(R->groups[D->g[j]].rep->setting[s], ref_settings[s]) != 0;
                    if (!differs) continue;
                    int w = D->vary[s] ? snprintf(o->pub_diff + used, sizeof o->pub_diff - used, "%s%s varies",
                                                  used ? ", " : "", mlp_run_setting_key(s))
                                       : snprintf(o->pub_diff + used, sizeof o->pub_diff - used,
                                                  "%s%s %s instead of %s", used ? ", " : "", mlp_run_setting_key(s),
                                                  G->rep->setting[s], ref_settings[s]);
                    if (w < 0 || (size_t)w >= sizeof o->pub_diff - used) break;
                    used += (size_t)w;
                }
                if (o->pub_diff[0]) {
                    o->pub_settings_differ = 1;
                    sbuf_printf(b,
                                "**These runs do not use the reference settings** (%s), so the numbers are not "
                                "expected to match.\n\n",
                                o->pub_diff);
                } else {
                    sbuf_puts(b,
                              "The runs use the reference settings (200 epochs, lr 1e-5, wd 0.1, momentum 0.9, summed "
                              "gradients, batch 100, init std 0.01). Times are not comparable across machines and "
                              "implementations (the reference is numpy).\n\n");
                }
                sbuf_puts(b, "| configuration | hidden layers | source | train loss | test loss | train acc | test acc "
                             "| time (s) | difference in test acc |\n|---|---:|---|---:|---:|---:|---:|---:|---:|\n");
            }
            fmt_num(c[0], sizeof c[0], P->train_loss, 4);
            fmt_num(c[1], sizeof c[1], P->test_loss, 4);
            fmt_num(c[2], sizeof c[2], P->train_acc, 4);
            if (P->acc_note[0]) snprintf(c[3], sizeof c[3], "%s", P->acc_note);
            else fmt_num(c[3], sizeof c[3], P->test_acc, 4);
            if (P->time_note[0]) snprintf(c[4], sizeof c[4], "%s", P->time_note);
            else fmt_num(c[4], sizeof c[4], P->time, 1);
            sbuf_printf(b, "| %s + %s | %d | published | %s | %s | %s | %s | %s | |\n", P->act, P->loss, P->layers,
                        c[0], c[1], c[2], c[3], c[4]);
            char d[64] = "";
            double ours = G->mean[F_TEST_ACC];
            if (isfinite(P->test_acc)) {
                snprintf(d, sizeof d, "%+.4f", ours - P->test_acc);
                o->pub_n++;
                o->pub_abs_sum += fabs(ours - P->test_acc);
                o->pub_higher += ours > P->test_acc;
            } else if (P->acc_op) {
                int ok = P->acc_op == '<' ? ours < P->acc_val : fabs(ours - P->acc_val) <= 0.02;
                snprintf(d, sizeof d, "%s", ok ? "consistent" : "not consistent");
                o->pub_checked++;
                o->pub_consistent += ok;
            }
            sbuf_puts(b, "| ");
            if (G->vary[0]) md_cell(b, G->vary);
            sbuf_printf(b, " | | mlp (%d seed%s) |", G->n, G->n > 1 ? "s" : "");
            fmt_stat(c[0], sizeof c[0], G->mean[F_TRAIN_LOSS], G->sd[F_TRAIN_LOSS], G->n, 4);
            fmt_stat(c[1], sizeof c[1], G->mean[F_TEST_LOSS], G->sd[F_TEST_LOSS], G->n, 4);
            fmt_stat(c[2], sizeof c[2], G->mean[F_TRAIN_ACC], G->sd[F_TRAIN_ACC], G->n, 4);
            fmt_stat(c[3], sizeof c[3], G->mean[F_TEST_ACC], G->sd[F_TEST_ACC], G->n, 4);
            fmt_stat(c[4], sizeof c[4], G->mean[F_TIME], G->sd[F_TIME], G->n, 1);
            sbuf_printf(b, " %s | %s | %s | %s | %s | %s |\n", c[0], c[1], c[2], c[3], c[4], d);
        }
    }
    if (header)
        sbuf_puts(b,
                  "\nThe reference's 2-hidden-layer results are published only as remarks (gelu runs took 610-659 s; "
                  "focal stays under 50% test accuracy with gelu or swish and reaches about 90% with selu); they are "
                  "checked as such (\"about\" = within 0.02).\n");
}

/* One row of the seed-noise table: a and b differ in one thing (`what` names the pair), higher mean first. */
static void noise_row(sbuf *b, const group *A, const group *B, const char *ctx, const char *na, const char *nb,
                      int *n_rows, int *n_real) {
    if (B->mean[F_TEST_ACC] > A->mean[F_TEST_ACC]) {
        const group *G = A;
        const char *n = na;
        A = B, B = G, na = nb, nb = n;
    }
    double t;
    int real = beyond_noise(A, B, F_TEST_ACC, &t);
    if (real < 0) return;
    char ca[96], cb[96];
    fmt_stat(ca, sizeof ca, A->mean[F_TEST_ACC], A->sd[F_TEST_ACC], A->n, 4);
    fmt_stat(cb, sizeof cb, B->mean[F_TEST_ACC], B->sd[F_TEST_ACC], B->n, 4);
    sbuf_puts(b, "| ");
    md_cell(b, ctx);
    sbuf_puts(b, " | ");
    md_cell(b, na);
    sbuf_puts(b, " > ");
    md_cell(b, nb);
    sbuf_printf(b, " | %s | %s | %+.4f | %.1f | %s |\n", ca, cb, A->mean[F_TEST_ACC] - B->mean[F_TEST_ACC], t,
                real ? "**beyond**" : "within");
    ++*n_rows;
    *n_real += real;
}

/* Which differences in final test accuracy exceed seed-to-seed noise (configurations with several seeds): every
 * pair of activations for each architecture and loss, and every pair of losses for each architecture and
 * activation. */
static void section_noise(report *R, dataset_ctx *D, ds_out *o) {
    if (D->max_seeds < 2) return;
    char sfx[64];
    suffix_for(R, D, sfx, sizeof sfx);
    sbuf *b = &o->body;
    sbuf_printf(b,
                "\n## Which differences exceed seed noise%s\n\n"
                "Two configurations' mean final test accuracies differ beyond seed noise when Welch's t-test over "
                "their seeds rejects equal means at the 5%% level (two-sided). With 3 seeds a side that takes a t of "
                "about 3 to 4: a difference of 3-4 standard errors.\n",
                sfx);
    int rows[2] = {0}, real[2] = {0};
    for (int kind = 0; kind < 2; kind++) { /* 0: activations compared, 1: losses compared */
        sbuf_printf(b, "\n| %s | %s | test acc | test acc, other | difference | Welch's t | seed noise |\n"
                       "|---|---|---:|---:|---:|---:|---|\n",
                    kind ? "architecture, activation" : "architecture, loss", kind ? "losses" : "activations");
        /* rows grouped by architecture, then by the loss (activations compared) or the activation (losses) */
        const names *outer = kind ? &D->acts : &D->losses;
        for (int a = 0; a < D->archs.n; a++)
            for (int u = 0; u < outer->n; u++)
                for (int k = 0; k < D->ng; k++)
                    for (int j = k + 1; j < D->ng; j++) {
                        const group *A = &R->groups[D->g[k]], *B = &R->groups[D->g[j]];
                        if (strcmp(A->rep->arch, D->archs.v[a]) || strcmp(kind ? A->rep->act : A->rep->loss, outer->v[u]) ||
                            strcmp(A->rep->arch, B->rep->arch) || strcmp(A->vary, B->vary))
                            continue;
                        const int same_act = !strcmp(A->rep->act, B->rep->act),
                                  same_loss = !strcmp(A->rep->loss, B->rep->loss);
                        char ctx[300];
                        if (kind == 0 && same_loss && !same_act) {
                            mlp_strf(ctx, sizeof ctx, "%s, %s%s%s", A->rep->arch, A->rep->loss, A->vary[0] ? ", " : "",
                                     A->vary);
                            noise_row(b, A, B, ctx, A->rep->act, B->rep->act, &rows[0], &real[0]);
                        } else if (kind == 1 && same_act && !same_loss) {
                            mlp_strf(ctx, sizeof ctx, "%s, %s%s%s", A->rep->arch, A->rep->act, A->vary[0] ? ", " : "",
                                     A->vary);
                            noise_row(b, A, B, ctx, A->rep->loss, B->rep->loss, &rows[1], &real[1]);
                        }
                    }
    }
    if (rows[0])
        sbuf_printf(&o->summary,
                    "- Seed noise: %d of %d differences between activations (same architecture and loss) and %d of %d "
                    "between losses (same architecture and activation) exceed it (Welch's t-test, 5%%; see \"Which "
                    "differences exceed seed noise\").\n",
                    real[0], rows[0], real[1], rows[1]);
}

static void section_all(report *R, dataset_ctx *D, ds_out *o) {
    char sfx[64];
    suffix_for(R, D, sfx, sizeof sfx);
    sbuf *b = &o->body;
    sbuf_printf(b, "\n## All configurations%s\n\n", sfx);
    sbuf_printf(b, "| architecture | activation | loss | seeds %s s/epoch |\n|---|---|---|---:%s---:|\n", metric_header,
                metric_rule);
    for (int k = 0; k < D->ng; k++) {
        const group *G = &R->groups[D->g[k]];
        sbuf_printf(b, "| %s | ", G->rep->arch);
        md_cell(b, G->rep->act);
        sbuf_puts(b, " | ");
        md_cell(b, G->rep->loss);
        md_vary(b, G);
        sbuf_printf(b, " | %d |", G->n);
        metric_cells(b, G);
        b->len--; /* drop the newline metric_cells ended with */
        b->data[b->len] = '\0';
        char c[64];
        fmt_stat(c, sizeof c, G->mean[F_EPOCH_TIME], G->sd[F_EPOCH_TIME], G->n, 3);
        sbuf_printf(b, " %s |\n", c);
    }
}

#define N_MISTAKES 24

/* The test pictures the model got wrong with the most confidence, into m[0..N_MISTAKES) (pixels[k] holds
 * picture k's bytes), most confident first; returns how many (at most N_MISTAKES), *n_wrong the errors in all,
 * or -1 on a failure (R->st set). Confidence: the softmax probability of the predicted class for ce and focal
 * models (whose scores are trained as log-probabilities); for mse and hinge, whose scores are not
 * probabilities, the score gap s_pred - s_true. */
static int find_mistakes(report *R, mlp_net *net, const mlp_model_meta *meta, const mlp_dataset *test,
                         mlp_mistake *m, uint8_t (*pixels)[28 * 28], int *n_wrong) {
    const int K = net->arch.width[net->arch.n_layers], dim = test->dim, softmax =
        meta->loss.kind == MLP_LOSS_CE || meta->loss.kind == MLP_LOSS_FOCAL;
    int n = 0;
    int idx[N_MISTAKES];
    *n_wrong = 0;
    for (int i0 = 0; i0 < test->n; i0 += net->max_batch) {
        const int nb = test->n - i0 < net->max_batch ? test->n - i0 : net->max_batch;
        const float *out = mlp_net_forward(net, test->x + (size_t)i0 * dim, nb);
        if (!out) return rep_fail(R, MLP_ERR_NOMEM, "report: the model's forward pass failed");
        for (int r = 0; r < nb; r++) {
            const float *sc = out + (size_t)r * K;
            const int truth = (int)test->y[i0 + r];
            int pred = 0;
            for (int k = 1; k < K; k++)
                if (sc[k] > sc[pred]) pred = k;
            if (pred == truth) continue;
            ++*n_wrong;
            double c;
            if (softmax) {
                double z = 0;
                for (int k = 0; k < K; k++) z += exp((double)sc[k] - sc[pred]);
                c = 1 / z;
            } else c = (double)sc[pred] - sc[truth];
            /* insert into the sorted list (ties: the earlier picture first) */
            int at = n < N_MISTAKES ? n : N_MISTAKES - 1;
            if (n == N_MISTAKES && !(c > m[at].confidence)) continue;
            while (at > 0 && c > m[at - 1].confidence) {
                m[at] = m[at - 1];
                idx[at] = idx[at - 1];
                at--;
            }
            m[at] = (mlp_mistake){NULL, truth, pred, i0 + r, c};
            idx[at] = i0 + r;
            if (n < N_MISTAKES) n++;
        }
    }
    /* the pictures' bytes back from the scaled inputs: p = x / scale + offset */
    for (int k = 0; k < n; k++) {
        const float *x = test->x + (size_t)idx[k] * dim;
        for (int i = 0; i < dim; i++) {
            double v = x[i] / meta->scaling.scale + meta->scaling.offset;
            pixels[k][i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lround(v));
        }
        m[k].pixels = pixels[k];
    }
    return n;
}

/* The best run's pictures: its confusion matrix, its most confident mistakes and its first layer's weights;
 * cnames: the K class names. */
static void best_run_figures_named(report *R, ds_out *o, const mlp_run *r, mlp_net *net, const mlp_model_meta *meta,
                                   const mlp_dataset *test, const int *conf, const char *fprefix, const char **cnames) {
    const int K = net->arch.width[net->arch.n_layers];
    sbuf *b = &o->body;
    char title[400], fname[300];
    mlp_error e;
    /* the confusion matrix */
    sbuf svg = SBUF_INIT;
    mlp_strf(title, sizeof title, "Confusion matrix of %s on the %s test set", r->name, mlp_dataset_title(r->dataset));
    snprintf(fname, sizeof fname, "%sconfusion", fprefix);
    if (mlp_confusion_svg(&svg, conf, K, cnames, title, &e)) {
        sbuf_free(&svg);
        return (void)rep_fail(R, e.code, e.msg);
    }
    if (write_svg(R, fname, svg)) return;
    sbuf_printf(b, "\n### Confusion matrix\n\n![%s](figures/%s.svg)\n", title, fname);
    /* the most confident mistakes (28 x 28 inputs only: the pictures are shown as such) */
    if (test->dim == 28 * 28) {
        mlp_mistake m[N_MISTAKES];
        uint8_t(*pixels)[28 * 28] = malloc(sizeof(*pixels) * N_MISTAKES);
        if (!pixels) return (void)rep_fail(R, MLP_ERR_NOMEM, "report: out of memory");
        int n_wrong = 0, n = find_mistakes(R, net, meta, test, m, pixels, &n_wrong);
        const int softmax = meta->loss.kind == MLP_LOSS_CE || meta->loss.kind == MLP_LOSS_FOCAL;
        if (n > 0) {
            char cap[400];
            mlp_strf(title, sizeof title, "The %d most confident mistakes of %s (%s)", n, r->name,
                     mlp_dataset_title(r->dataset));
            if (softmax)
                mlp_strf(cap, sizeof cap,
                         "%d of %d test pictures are misclassified; shown: the %d with the highest softmax probability "
                         "p of the class said.",
                         n_wrong, test->n, n);
            else
                mlp_strf(cap, sizeof cap,
                         "%d of %d test pictures are misclassified; shown: the %d with the largest score gap "
                         "(said minus true; %s scores are not probabilities).",
                         n_wrong, test->n, n, meta->loss.kind == MLP_LOSS_HINGE ? "hinge" : "mse");
            svg = (sbuf)SBUF_INIT;
            snprintf(fname, sizeof fname, "%smistakes", fprefix);
            if (mlp_mistakes_svg(&svg, m, n, 28, cnames, softmax ? "p" : "gap", cap, title, &e)) {
                sbuf_free(&svg);
                free(pixels);
                return (void)rep_fail(R, e.code, e.msg);
            }
            if (write_svg(R, fname, svg) == 0)
                sbuf_printf(b,
                            "\n### The most confident mistakes\n\n%s Each picture is shown as the model saw it "
                            "(ink dark), with its index in the test set.\n\n![%s](figures/%s.svg)\n",
                            cap, title, fname);
        }
        free(pixels);
        if (n < 0) return;
    }
    /* the first layer's weights (square inputs only) */
    const int side = (int)lround(sqrt((double)net->arch.width[0]));
    if (side * side == net->arch.width[0]) {
        svg = (sbuf)SBUF_INIT;
        mlp_strf(title, sizeof title, "First-layer weights of %s (%s, %s)", r->name, r->arch, r->act);
        snprintf(fname, sizeof fname, "%sweights", fprefix);
        if (mlp_weights_svg(&svg, net->params + net->w_off[0], net->arch.width[1], net->arch.width[0], title,
                            net->arch.n_layers > 1 ? "hidden unit" : "class", &e)) {
            sbuf_free(&svg);
            return (void)rep_fail(R, e.code, e.msg);
        }
        if (write_svg(R, fname, svg) == 0)
            sbuf_printf(b,
                        "\n### What the first layer learned\n\nEach tile is one hidden unit's weights on the %dx%d "
                        "input pixels: blue negative, white 0, red positive, each tile scaled to its own largest "
                        "|weight| (`mlp plot --weights` draws this for any model).\n\n![%s](figures/%s.svg)\n",
                        side, side, title, fname);
    }
}

static void best_run_figures(report *R, ds_out *o, const mlp_run *r, mlp_net *net, const mlp_model_meta *meta,
                             const mlp_dataset *test, const int *conf, const char *fprefix) {
    const int K = net->arch.width[net->arch.n_layers];
    const char **cnames = malloc(sizeof *cnames * (size_t)K); /* any class count */
    if (!cnames) return (void)rep_fail(R, MLP_ERR_NOMEM, "report: out of memory");
    for (int k = 0; k < K; k++) cnames[k] = mlp_class_name(r->dataset, k);
    best_run_figures_named(R, o, r, net, meta, test, conf, fprefix, cnames);
    free(cnames);
}

/* Per-class test accuracy of the best configuration's first run, from its model file and test set. */
static void section_classes(report *R, dataset_ctx *D, ds_out *o, const group *best, char *note, size_t note_size,
                            const char *fprefix) {
    const mlp_run *r = best->rep;
    char path[MLP_RUN_PATH_MAX + 32];
    mlp_net net;
    mlp_model_meta meta;
    mlp_error e;
    snprintf(path, sizeof path, "%s/model.safetensors", r->dir);
    if (!r->data[0]) {
        mlp_strf(note, note_size, "per-class accuracy skipped: %s records no data folder", r->name);
        return;
    }
    if (mlp_model_load(path, &net, 1000, &meta, &e)) {
        mlp_strf(note, note_size, "per-class accuracy skipped: %s", e.msg);
        return;
    }
    mlp_dataset test;
    if (mlp_dataset_load_dir(NULL, &test, r->data, meta.scaling, &e)) {
        mlp_strf(note, note_size, "per-class accuracy skipped: %s", e.msg);
        mlp_model_meta_free(&meta);
        mlp_net_free(&net);
        return;
    }
    int K = net.arch.width[net.arch.n_layers];
    int *conf = calloc((size_t)K * (size_t)K, sizeof(int));
    double loss, acc;
    if (!conf || K > 10 || mlp_net_set_exec(&net, 1, MLP_KERNELS_AUTO, &e) ||
        mlp_evaluate(&net, &meta.loss, &test, &loss, &acc, conf, &e)) {
        mlp_strf(note, note_size, "per-class accuracy skipped: %s", conf && K <= 10 ? e.msg : "unexpected model");
        free(conf);
        mlp_dataset_free(&test);
        mlp_model_meta_free(&meta);
        mlp_net_free(&net);
        return;
    }
    (void)R;
    char gname[300], sfx[64];
    group_name(gname, sizeof gname, best, 1);
    suffix_for(R, D, sfx, sizeof sfx);
    sbuf *b = &o->body;
    sbuf_printf(b, "\n## Per-class test accuracy of the best configuration%s\n\n", sfx);
    sbuf_printf(b,
                "Run `%s` (%s), evaluated again from its model file on the %s test set (%d images): test "
                "accuracy %.4f.\n\n",
                r->name, gname, mlp_dataset_title(r->dataset), test.n, acc);
    sbuf_puts(b, "| class | images | accuracy | most often predicted instead |\n|---|---:|---:|---|\n");
    int worst = 0;
    double worst_acc = 2;
    for (int k = 0; k < K; k++) {
        int row = 0, conf_k = -1, conf_n = 0;
        for (int j = 0; j < K; j++) {
            row += conf[k * K + j];
            if (j != k && conf[k * K + j] > conf_n) conf_n = conf[k * K + j], conf_k = j;
        }
        double a = row ? (double)conf[k * K + k] / row : NAN;
        if (row && a < worst_acc) worst_acc = a, worst = k;
        sbuf_printf(b, "| %s | %d | %.4f | ", mlp_class_name(r->dataset, k), row, a);
        if (conf_k >= 0) sbuf_printf(b, "%s (%d) |\n", mlp_class_name(r->dataset, conf_k), conf_n);
        else sbuf_puts(b, "- |\n");
    }
    sbuf_printf(&o->summary, "- The hardest class for the best configuration is **%s** (test accuracy %.4f).\n",
                mlp_class_name(r->dataset, worst), worst_acc);
    best_run_figures(R, o, r, &net, &meta, &test, conf, fprefix);
    free(conf);
    mlp_dataset_free(&test);
    mlp_model_meta_free(&meta);
    mlp_net_free(&net);
}

static void section_curves(report *R, dataset_ctx *D, ds_out *o) {
    char sfx[64];
    suffix_for(R, D, sfx, sizeof sfx);
    sbuf *b = &o->body;
    sbuf_printf(b,
                "\n## Curves of every %s%s\n\nLoss (left; log scale when it spans more than 20x) and accuracy "
                "(right), train dashed, test solid%s.\n",
                D->max_seeds > 1 ? "configuration" : "run", sfx,
                D->max_seeds > 1 ? "; with several seeds the mean over the seeds, with a band of ± one standard "
                                   "deviation"
                                 : "");
    for (int k = 0; k < D->ng; k++) {
        const group *G = &R->groups[D->g[k]];
        const int i = G->runs[0];
        if (!R->run_fig[i]) continue;
        char gname[300];
        if (G->n > 1) {
            group_name(gname, sizeof gname, G, 1);
            sbuf_printf(b, "\n**%s** (%d seeds)\n\n![%s](figures/%s.svg)\n", gname, G->n, gname, R->run_fig[i]);
        } else sbuf_printf(b, "\n**%s**\n\n![%s](figures/%s.svg)\n", R->runs[i]->name, R->runs[i]->name, R->run_fig[i]);
    }
}

/* ------------------------------------------------------------------ the summary */

/* Mean final test accuracy per name (activation or loss) over the dataset's configurations with it. */
static void ranking(const report *R, const dataset_ctx *D, const names *nm, int by_act, sbuf *out) {
    double mean[MAX_NAMES];
    int cnt[MAX_NAMES], order[MAX_NAMES];
    for (int i = 0; i < nm->n; i++) {
        double s = 0;
        cnt[i] = 0;
        for (int k = 0; k < D->ng; k++) {
            const group *G = &R->groups[D->g[k]];
            if (strcmp(by_act ? G->rep->act : G->rep->loss, nm->v[i])) continue;
            s += G->mean[F_TEST_ACC];
            cnt[i]++;
        }
        mean[i] = cnt[i] ? s / cnt[i] : NAN;
        order[i] = i;
    }
    for (int i = 1; i < nm->n; i++)
        for (int j = i; j > 0 && mean[order[j]] > mean[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    int same = 1;
    for (int i = 1; i < nm->n; i++) same &= cnt[i] == cnt[0];
    for (int i = 0; i < nm->n; i++) {
        int k = order[i];
        sbuf_printf(out, "%s**%s** %.4f", i ? (mean[k] == mean[order[i - 1]] ? " = " : " > ") : "", nm->v[k], mean[k]);
        if (!same) sbuf_printf(out, " (%d configuration%s)", cnt[k], cnt[k] > 1 ? "s" : "");
    }
    if (same && nm->n && cnt[0] > 1) sbuf_printf(out, " (each averaged over %d configurations)", cnt[0]);
}

static void summary(report *R, dataset_ctx *D, ds_out *o, int *best_out) {
    sbuf *s = &o->summary;
    const char *dt = mlp_dataset_title(D->name);
    /* what was run */
    int e_min = 1 << 30, e_max = 0;
    for (int k = 0; k < D->ng; k++) {
        int e = R->groups[D->g[k]].epochs;
        if (e < e_min) e_min = e;
        if (e > e_max) e_max = e;
    }
    sbuf_printf(s, "- %d run%s on %s: %d configuration%s (%d architecture%s, %d activation%s, %d loss%s) x ", D->n_runs,
                D->n_runs > 1 ? "s" : "", dt, D->ng, D->ng > 1 ? "s" : "", D->archs.n, D->archs.n > 1 ? "s" : "",
                D->acts.n, D->acts.n > 1 ? "s" : "", D->losses.n, D->losses.n > 1 ? "es" : "");
    if (D->min_seeds == D->max_seeds) sbuf_printf(s, "%d seed%s", D->max_seeds, D->max_seeds > 1 ? "s" : "");
    else sbuf_printf(s, "%d to %d seeds", D->min_seeds, D->max_seeds);
    if (e_min == e_max) sbuf_printf(s, ", %d epoch%s each.", e_max, e_max > 1 ? "s" : "");
    else sbuf_printf(s, ", %d to %d epochs.", e_min, e_max);
    if (D->max_seeds > 1) sbuf_puts(s, " Values are means over seeds ± their standard deviation.\n");
    else
        sbuf_puts(s, " With one seed per configuration, seed-to-seed variation is not measured: differences of a "
                     "few tenths of a point may be noise.\n");
    /* the best configuration and the runner-up */
    int best = -1, second = -1;
    for (int k = 0; k < D->ng; k++) {
        int g = D->g[k];
        if (best < 0 || R->groups[g].mean[F_TEST_ACC] > R->groups[best].mean[F_TEST_ACC]) second = best, best = g;
        else if (second < 0 || R->groups[g].mean[F_TEST_ACC] > R->groups[second].mean[F_TEST_ACC]) second = g;
    }
    *best_out = best;
    char name[300], c[96];
    const group *B = &R->groups[best];
    group_name(name, sizeof name, B, D->archs.n > 1);
    fmt_stat(c, sizeof c, B->mean[F_TEST_ACC], B->sd[F_TEST_ACC], B->n, 4);
    sbuf_printf(s, "- **%s** reaches the highest final test accuracy (%s", name, c);
    if (B->n > 1) sbuf_printf(s, " over %d seeds", B->n);
    sbuf_printf(s, "; its best epoch %.4f", B->mean[F_BEST_ACC]);
    if (B->n == 1) sbuf_printf(s, " at epoch %d", (int)B->mean[F_BEST_EPOCH]);
    sbuf_puts(s, ").");
    if (second >= 0) {
        const group *S = &R->groups[second];
        double gap = B->mean[F_TEST_ACC] - S->mean[F_TEST_ACC];
        group_name(name, sizeof name, S, D->archs.n > 1);
        sbuf_printf(s, " Next: %s (%.4f, %.4f lower", name, S->mean[F_TEST_ACC], gap);
        double t;
        int real = beyond_noise(B, S, F_TEST_ACC, &t);
        if (real >= 0) sbuf_printf(s, ", %s seed noise: Welch's t = %.1f", real ? "beyond" : "within", t);
        sbuf_puts(s, ").");
    }
    sbuf_putc(s, '\n');
    if (D->losses.n > 1) {
        sbuf_puts(s, "- Losses ranked by mean final test accuracy: ");
        ranking(R, D, &D->losses, 0, s);
        sbuf_puts(s, ".\n");
    }
    if (D->acts.n > 1) {
        sbuf_puts(s, "- Activations ranked by mean final test accuracy: ");
        ranking(R, D, &D->acts, 1, s);
        sbuf_puts(s, ".\n");
    }
    /* depth */
    const char *base = D->archs.v[D->base];
    for (int a = 0; a < D->archs.n; a++) {
        if (a == D->base) continue;
        int n = 0, nc = 0, higher = 0;
        double dsum = 0, tb = 0, to = 0;
        double *cb = malloc(sizeof(double) * (size_t)(D->ng + 1)), *co = malloc(sizeof(double) * (size_t)(D->ng + 1));
        if (!cb || !co) {
            free(cb), free(co);
            rep_fail(R, MLP_ERR_NOMEM, "report: out of memory");
            return;
        }
        for (int k = 0; k < D->ng; k++) {
            const group *G = &R->groups[D->g[k]];
            if (strcmp(G->rep->arch, base)) continue;
            for (int j = 0; j < D->ng; j++) {
                const group *H = &R->groups[D->g[j]];
                if (strcmp(H->rep->arch, D->archs.v[a]) || strcmp(H->rep->act, G->rep->act) ||
                    strcmp(H->rep->loss, G->rep->loss) || strcmp(H->vary, G->vary))
                    continue;
                double d = H->mean[F_TEST_ACC] - G->mean[F_TEST_ACC];
                dsum += d;
                higher += d > 0;
                tb += G->mean[F_EPOCH_TIME];
                to += H->mean[F_EPOCH_TIME];
                /* convergence only where both learned: a run stuck at chance "converges" at epoch 1 */
                if (G->mean[F_BEST_ACC] > 0.5 && H->mean[F_BEST_ACC] > 0.5) {
                    cb[nc] = G->mean[F_CONV_EPOCH];
                    co[nc] = H->mean[F_CONV_EPOCH];
                    nc++;
                }
                n++;
            }
        }
        if (n > 0) {
            int la = arch_layers(R, base), lb = arch_layers(R, D->archs.v[a]);
            sbuf_printf(s,
                        "- %d hidden layers (%s) against %d (%s): higher final test accuracy in %d of %d "
                        "configurations (mean difference %+.4f); ",
                        lb, D->archs.v[a], la, base, higher, n, dsum / n);
            if (!(tb > 0)) sbuf_puts(s, "no time recorded");
            else if (fabs(to / tb - 1) < 0.005) sbuf_puts(s, "the same time per epoch");
            else sbuf_printf(s, "%.0f%% %s time per epoch", fabs(to / tb - 1) * 100, to >= tb ? "more" : "less");
            if (nc > 0) {
                double mb = median(cb, nc), mo = median(co, nc);
                char where[96] = "";
                if (nc < n)
                    snprintf(where, sizeof where, ", over the %d configuration%s where both learned", nc,
                             nc > 1 ? "s" : "");
                if (mo != mb)
                    sbuf_printf(s,
                                "; they converge %s (median %.0f vs %.0f epochs to get within 1 point of the best "
                                "test accuracy%s)",
                                mo > mb ? "later" : "sooner", mo, mb, where);
                else
                    sbuf_printf(s,
                                "; they converge as fast (median %.0f epochs to get within 1 point of the best test "
                                "accuracy%s)",
                                mo, where);
            }
            sbuf_puts(s, ".\n");
        }
        free(cb), free(co);
    }
    /* convergence: fastest and slowest among configurations that learned (best test accuracy above 0.5) */
    int fast = -1, slow = -1, stuck = 0;
    for (int k = 0; k < D->ng; k++) {
        int g = D->g[k];
        const group *G = &R->groups[g];
        if (G->mean[F_BEST_ACC] <= 0.5) {
            stuck++;
            continue;
        }
        if (fast < 0 || G->mean[F_CONV_EPOCH] < R->groups[fast].mean[F_CONV_EPOCH]) fast = g;
        if (slow < 0 || G->mean[F_CONV_EPOCH] > R->groups[slow].mean[F_CONV_EPOCH]) slow = g;
    }
    if (fast >= 0 && slow >= 0 && fast != slow) {
        char n2[300];
        group_name(name, sizeof name, &R->groups[fast], D->archs.n > 1);
        group_name(n2, sizeof n2, &R->groups[slow], D->archs.n > 1);
        sbuf_printf(s,
                    "- Convergence (first epoch within 1 point of the run's best test accuracy): fastest %s "
                    "(epoch %.0f), slowest %s (epoch %.0f)",
                    name, R->groups[fast].mean[F_CONV_EPOCH], n2, R->groups[slow].mean[F_CONV_EPOCH]);
        if (D->losses.n > 1) {
            sbuf_puts(s, "; median by loss:");
            for (int l = 0; l < D->losses.n; l++) {
                double v[256];
                int n = 0;
                for (int k = 0; k < D->ng && n < 256; k++)
                    if (!strcmp(R->groups[D->g[k]].rep->loss, D->losses.v[l]) &&
                        R->groups[D->g[k]].mean[F_BEST_ACC] > 0.5)
                        v[n++] = R->groups[D->g[k]].mean[F_CONV_EPOCH];
                if (n) sbuf_printf(s, "%s %s %.0f", l ? "," : "", D->losses.v[l], median(v, n));
            }
        }
        sbuf_puts(s, ".\n");
    }
    if (stuck) {
        sbuf_printf(s, "- %d configuration%s never exceeded 50%% test accuracy:", stuck, stuck > 1 ? "s" : "");
        int first = 1;
        for (int k = 0; k < D->ng; k++) {
            const group *G = &R->groups[D->g[k]];
            if (G->mean[F_BEST_ACC] > 0.5) continue;
            group_name(name, sizeof name, G, D->archs.n > 1);
            sbuf_printf(s, "%s %s (%.4f)", first ? "" : ",", name, G->mean[F_TEST_ACC]);
            first = 0;
        }
        sbuf_puts(s, ".\n");
    }
    /* still improving at the end? */
    if (e_min >= 10) {
        int n = 0;
        sbuf late = SBUF_INIT;
        for (int k = 0; k < D->ng; k++) {
            const group *G = &R->groups[D->g[k]];
            if (!(G->mean[F_LATE_GAIN] >= 0.005)) continue;
            group_name(name, sizeof name, G, D->archs.n > 1);
            sbuf_printf(&late, "%s %s (%+.4f)", n ? "," : "", name, G->mean[F_LATE_GAIN]);
            n++;
        }
        if (n)
            sbuf_printf(s,
                        "- Still improving when training stopped (test accuracy up by 0.5 points or more over the last "
                        "10%% of the epochs):%s.\n",
                        sbuf_str(&late));
        else
            sbuf_puts(s, "- No configuration gained 0.5 points of test accuracy or more over the last 10% of the "
                         "epochs: training had levelled off.\n");
        sbuf_free(&late);
    }
    /* overfitting */
    int gapi = -1;
    for (int k = 0; k < D->ng; k++) {
        const group *G = &R->groups[D->g[k]];
        if (gapi < 0 || G->mean[F_TRAIN_ACC] - G->mean[F_TEST_ACC] >
                            R->groups[gapi].mean[F_TRAIN_ACC] - R->groups[gapi].mean[F_TEST_ACC])
            gapi = D->g[k];
    }
    if (gapi >= 0) {
        const group *G = &R->groups[gapi];
        double gap = G->mean[F_TRAIN_ACC] - G->mean[F_TEST_ACC];
        group_name(name, sizeof name, G, D->archs.n > 1);
        if (gap > 0)
            sbuf_printf(s, "- Largest gap between final train and test accuracy: %s (train %.4f, test %.4f, %+.4f).\n",
                        name, G->mean[F_TRAIN_ACC], G->mean[F_TEST_ACC], gap);
        else
            sbuf_puts(s, "- Final train accuracy is below test accuracy in every configuration (train accuracy is "
                         "measured during the epoch, before each update): no sign of overfitting.\n");
    }
    /* time */
    double total = 0;
    for (int k = 0; k < D->ng; k++) total += R->groups[D->g[k]].mean[F_TIME] * R->groups[D->g[k]].n;
    sbuf_puts(s, "- Time per epoch:");
    for (int a = 0; a < D->archs.n; a++) {
        double t = 0;
        int n = 0;
        for (int k = 0; k < D->ng; k++)
            if (!strcmp(R->groups[D->g[k]].rep->arch, D->archs.v[a])) t += R->groups[D->g[k]].mean[F_EPOCH_TIME], n++;
        sbuf_printf(s, "%s %.3f s (%s)", a ? "," : "", t / n, D->archs.v[a]);
    }
    if (total >= 3600) sbuf_printf(s, "; %.2f h of training in all.\n", total / 3600);
    else if (total >= 60) sbuf_printf(s, "; %.1f min of training in all.\n", total / 60);
    else sbuf_printf(s, "; %.1f s of training in all.\n", total);
}

static void summary_published(const ds_out *o, sbuf *s) {
    if (!o->pub_n && !o->pub_checked) return;
    sbuf_puts(s, "- Against the reference report: ");
    if (o->pub_n)
        sbuf_printf(s, "%d published test accurac%s, ours higher in %d, mean absolute difference %.4f", o->pub_n,
                    o->pub_n > 1 ? "ies" : "y", o->pub_higher, o->pub_abs_sum / o->pub_n);
    if (o->pub_checked)
        sbuf_printf(s, "%s%d of %d qualitative remark%s on 2 hidden layers consistent", o->pub_n ? "; " : "",
                    o->pub_consistent, o->pub_checked, o->pub_checked > 1 ? "s" : "");
    if (o->pub_settings_differ) sbuf_printf(s, " (but these runs differ from the reference settings: %s)", o->pub_diff);
    sbuf_puts(s, ".\n");
}

/* ------------------------------------------------------------------ the whole report */

static void setup_section(const report *R, const dataset_ctx *D, sbuf *b) {
    const group *G0 = &R->groups[D->g[0]];
    char sfx[64];
    suffix_for(R, D, sfx, sizeof sfx);
    sbuf_printf(b, "\n## Setup%s\n\n| setting | value |\n|---|---|\n", sfx);
    sbuf_printf(b, "| dataset | %s |\n", mlp_dataset_title(D->name));
    sbuf_puts(b, "| architectures |");
    for (int a = 0; a < D->archs.n; a++) sbuf_printf(b, "%s %s", a ? "," : "", D->archs.v[a]);
    sbuf_puts(b, " |\n| activations |");
    for (int a = 0; a < D->acts.n; a++) sbuf_printf(b, "%s %s", a ? "," : "", D->acts.v[a]);
    sbuf_puts(b, " |\n| losses |");
    for (int a = 0; a < D->losses.n; a++) sbuf_printf(b, "%s %s", a ? "," : "", D->losses.v[a]);
    sbuf_puts(b, " |\n| seeds |");
    /* distinct seeds */
    uint64_t seeds[64];
    int ns = 0;
    for (int k = 0; k < D->ng; k++) {
        const group *G = &R->groups[D->g[k]];
        for (int s = 0; s < G->n; s++) {
            uint64_t v = R->runs[G->runs[s]]->seed;
            int f = 0;
            for (int j = 0; j < ns; j++) f |= seeds[j] == v;
            if (!f && ns < 64) seeds[ns++] = v;
        }
    }
    for (int i = 1; i < ns; i++)
        for (int j = i; j > 0 && seeds[j] < seeds[j - 1]; j--) {
            uint64_t t = seeds[j];
            seeds[j] = seeds[j - 1];
            seeds[j - 1] = t;
        }
    for (int i = 0; i < ns; i++) sbuf_printf(b, "%s %llu", i ? "," : "", (unsigned long long)seeds[i]);
    sbuf_puts(b, " |\n");
    for (int s = 0; s < MLP_SET_COUNT; s++) {
        sbuf_printf(b, "| %s | ", mlp_run_setting_key(s));
        if (D->vary[s]) sbuf_puts(b, "varies (see the tables) |\n");
        else {
            md_cell(b, G0->rep->setting[s][0] ? G0->rep->setting[s] : "-");
            sbuf_puts(b, " |\n");
        }
    }
    const mlp_run *r = G0->rep;
    sbuf_printf(b, "| threads, kernels (first run) | %d, %s |\n", r->threads, r->kernels[0] ? r->kernels : "-");
    sbuf_printf(b, "| mlp version (first run) | %s |\n", r->version[0] ? r->version : "-");
}

static void definitions(sbuf *b) {
    sbuf_puts(b, "\n## How to read the tables\n\n"
                 "- Every value is taken from the runs' `metrics.csv` at the last epoch (\"final\"); losses are the "
                 "mean loss per image, accuracies the fraction of correctly classified images. Train loss and accuracy "
                 "are the means over the epoch's batches measured before each update; test values are measured on the "
                 "whole test set after the epoch.\n"
                 "- *best test acc (epoch)*: the highest test accuracy of any epoch (and that epoch, for one seed).\n"
                 "- *conv. epoch*: the first epoch whose test accuracy is within 1 point (0.01) of the run's best; a "
                 "simple measure of how fast a configuration converges.\n"
                 "- *time (s)*: the run's wall time, the sum of its epochs' `seconds` (test evaluation included).\n"
                 "- With several seeds: mean ± sample standard deviation over the seeds; figures draw the mean, with a "
                 "band of ± one standard deviation.\n");
}

static int cmp_cstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Remove figures/ *.svg files this report did not write (left from an earlier report). */
static void remove_stale_figures(report *R) {
    DIR *d = opendir(R->fig_dir);
    if (!d) return;
    qsort(R->figs, (size_t)R->n_figs, sizeof *R->figs, cmp_cstr);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".svg") || e->d_name[0] == '.') continue;
        const char *key = e->d_name;
        if (bsearch(&key, R->figs, (size_t)R->n_figs, sizeof *R->figs, cmp_cstr)) continue;
        char path[MLP_RUN_PATH_MAX + 600];
        snprintf(path, sizeof path, "%s/%s", R->fig_dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

static mlp_status mkdir_one(const char *path, mlp_error *err) {
    char buf[MLP_RUN_PATH_MAX + 32];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return mlp_fail(err, MLP_ERR_ARG, "report: output path empty or too long");
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++)
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return mlp_fail(err, MLP_ERR_IO, "cannot create folder '%s': %s", buf, strerror(errno));
            buf[i] = c;
        }
    return MLP_OK;
}

mlp_status mlp_report_write(const mlp_run_set *set, const mlp_report_opts *opts, mlp_report_result *res,
                            mlp_error *err) {
    mlp_report_result dummy;
    if (!res) res = &dummy;
    memset(res, 0, sizeof *res);
    report R;
    memset(&R, 0, sizeof R);
    R.opts = opts;
    R.err = err;
    if (!opts || !opts->out_dir) return mlp_fail(err, MLP_ERR_ARG, "report: no output folder");
    mlp_status st = mlp_published_table(R.pub, MLP_PUBLISHED_MAX, &R.n_pub, err);
    if (st) return st;
    R.runs = calloc((size_t)set->n + 1, sizeof *R.runs);
    if (!R.runs) return mlp_fail(err, MLP_ERR_NOMEM, "report: out of memory");
    for (int i = 0; i < set->n; i++)
        if (set->runs[i].finished && set->runs[i].n > 0) R.runs[R.n_runs++] = &set->runs[i];
    int n_unfinished = set->n - R.n_runs;
    if (R.n_runs == 0) {
        free(R.runs);
        return mlp_fail(err, MLP_ERR_ARG, "report: no finished runs (%d folder%s skipped)", set->n_skipped + set->n,
                        set->n_skipped + set->n == 1 ? "" : "s");
    }
    snprintf(R.fig_dir, sizeof R.fig_dir, "%s/figures", opts->out_dir);
    if ((st = mkdir_one(R.fig_dir, err))) {
        free(R.runs);
        return st;
    }
    R.run_fig = calloc((size_t)R.n_runs, sizeof *R.run_fig);
    if (!R.run_fig) {
        free(R.runs);
        return mlp_fail(err, MLP_ERR_NOMEM, "report: out of memory");
    }
    sbuf md = SBUF_INIT;
    ds_out *outs = NULL;
    if (build(&R)) goto fail;
    outs = calloc((size_t)R.nds, sizeof *outs);
    if (!outs) {
        rep_fail(&R, MLP_ERR_NOMEM, "report: out of memory");
        goto fail;
    }
    curve_figures(&R);
    res->note[0] = '\0';
    for (int d = 0; d < R.nds && !R.st; d++) {
        dataset_ctx *D = &R.ds[d];
        ds_out *o = &outs[d];
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%s_", D->name);
        char fp[64];
        file_safe(fp, sizeof fp, prefix);
        int best = -1;
        summary(&R, D, o, &best);
        section_activations(&R, D, o, fp);
        section_losses(&R, D, o, fp);
        section_depth(&R, D, o, fp);
        section_noise(&R, D, o);
        section_published(&R, D, o);
        summary_published(o, &o->summary);
        section_all(&R, D, o);
        if (opts->eval_models && best >= 0) {
            char note[512] = "";
            section_classes(&R, D, o, &R.groups[best], note, sizeof note, fp);
            if (note[0]) {
                sbuf_puts(&o->body, "\n*(");
                md_cell(&o->body, note);
                sbuf_puts(&o->body, ")*\n");
                if (!res->note[0]) snprintf(res->note, sizeof res->note, "%s", note);
            }
        }
        section_curves(&R, D, o);
    }
    if (R.st) goto fail;

    /* assemble */
    sbuf_puts(&md, "# MLP study on ");
    for (int d = 0; d < R.nds; d++)
        sbuf_printf(&md, "%s%s", d ? (d == R.nds - 1 ? " and " : ", ") : "", mlp_dataset_title(R.ds[d].name));
    sbuf_puts(&md, ": activations, losses and depth\n\n");
    sbuf_printf(&md, "Generated by `mlp report` (mlp %s) from %d finished run%s", MLP_VERSION, R.n_runs,
                R.n_runs > 1 ? "s" : "");
    if (opts->source && *opts->source) {
        sbuf_puts(&md, " in `");
        sbuf_puts(&md, opts->source);
        sbuf_puts(&md, "`");
    }
    if (set->n_skipped + n_unfinished)
        sbuf_printf(&md, "; %d folder%s skipped (listed at the end)", set->n_skipped + n_unfinished,
                    set->n_skipped + n_unfinished > 1 ? "s" : "");
    sbuf_puts(&md, ". Every number and figure below is computed from the run folders (`config.json`, "
                   "`metrics.csv`); nothing is typed in by hand except the reference report's published values.\n");
    for (int d = 0; d < R.nds; d++) {
        char sfx[64];
        suffix_for(&R, &R.ds[d], sfx, sizeof sfx);
        sbuf_printf(&md, "\n## Summary%s\n\n%s", sfx, sbuf_str(&outs[d].summary));
        setup_section(&R, &R.ds[d], &md);
        sbuf_puts(&md, sbuf_str(&outs[d].body));
    }
    if (set->n_skipped || n_unfinished) {
        sbuf_puts(&md,
                  "\n## Skipped runs\n\nThese folders were not used (an unfinished run is used once it has all its "
                  "epochs and its model file).\n\n| folder | reason |\n|---|---|\n");
        for (int i = 0; i < set->n_skipped; i++) {
            sbuf_puts(&md, "| `");
            md_cell(&md, set->skipped[i].dir);
            sbuf_puts(&md, "` | ");
            md_cell(&md, set->skipped[i].why);
            sbuf_puts(&md, " |\n");
        }
        for (int i = 0; i < set->n; i++) {
            const mlp_run *r = &set->runs[i];
            if (r->finished && r->n > 0) continue;
            sbuf_puts(&md, "| `");
            md_cell(&md, r->dir);
            sbuf_printf(&md, "` | unfinished: %d of %d epochs%s |\n", r->n, r->epochs,
                        r->has_model ? "" : ", no model.safetensors");
        }
    }
    definitions(&md);
    if (md.oom) {
        rep_fail(&R, MLP_ERR_NOMEM, "report: out of memory");
        goto fail;
    }
    snprintf(res->report_path, sizeof res->report_path, "%s/REPORT.md", opts->out_dir);
    if ((st = mlp_write_file_atomic(res->report_path, sbuf_str(&md), md.len, err))) {
        R.st = st;
        goto fail_quiet;
    }
    remove_stale_figures(&R);
    res->n_runs = R.n_runs;
    res->n_groups = R.ng;
    res->n_figures = R.n_figs;
    res->n_skipped = set->n_skipped + n_unfinished;
fail:
fail_quiet:
    st = R.st;
    if (outs)
        for (int d = 0; d < R.nds; d++) sbuf_free(&outs[d].summary), sbuf_free(&outs[d].body);
    free(outs);
    sbuf_free(&md);
    free_report(&R);
    return st;
}

/* ------------------------------------------------------------------ mlp plot */

mlp_status mlp_plot_write(const mlp_run *runs, int n_runs, mlp_metric metric, const char *title, const char *path,
                          mlp_error *err) {
    if (n_runs < 1) return mlp_fail(err, MLP_ERR_ARG, "plot: no runs");
    if (metric < 0 || metric >= MLP_METRIC_COUNT) return mlp_fail(err, MLP_ERR_ARG, "plot: unknown metric");
    for (int i = 0; i < n_runs; i++)
        if (runs[i].n < 1) return mlp_fail(err, MLP_ERR_ARG, "plot: %s has no epochs in metrics.csv", runs[i].dir);
    /* label each line by what differs between the runs */
    enum { V_DATASET, V_ARCH, V_ACT, V_LOSS, V_SEED, V_SET0 };
    int differs[V_SET0 + MLP_SET_COUNT] = {0};
    for (int i = 1; i < n_runs; i++) {
        const mlp_run *a = &runs[0], *b = &runs[i];
        differs[V_DATASET] |= strcmp(a->dataset, b->dataset) != 0;
        differs[V_ARCH] |= strcmp(a->arch, b->arch) != 0;
        differs[V_ACT] |= strcmp(a->act, b->act) != 0;
        differs[V_LOSS] |= strcmp(a->loss, b->loss) != 0;
        differs[V_SEED] |= a->seed != b->seed;
        for (int s = 0; s < MLP_SET_COUNT; s++) differs[V_SET0 + s] |= strcmp(a->setting[s], b->setting[s]) != 0;
    }
    mlp_svg_series *series = calloc((size_t)n_runs, sizeof *series);
    char(*labels)[300] = calloc((size_t)n_runs, sizeof *labels);
    double **ys = calloc((size_t)n_runs, sizeof *ys);
    mlp_status st = MLP_OK;
    if (!series || !labels || !ys) {
        st = mlp_fail(err, MLP_ERR_NOMEM, "plot: out of memory");
        goto done;
    }
    for (int i = 0; i < n_runs; i++) {
        const mlp_run *r = &runs[i];
        char *l = labels[i];
        size_t cap = sizeof labels[i], u = 0;
        l[0] = '\0';
#define ADD(...)                                                                                                       \
    do {                                                                                                               \
        int w_ = snprintf(l + u, cap - u, __VA_ARGS__);                                                                \
        if (w_ > 0 && (size_t)w_ < cap - u) u += (size_t)w_;                                                           \
    } while (0)
        if (differs[V_DATASET]) ADD("%s%s", u ? " " : "", r->dataset);
        if (differs[V_ARCH]) ADD("%s%s", u ? " " : "", r->arch);
        if (differs[V_ACT]) ADD("%s%s", u ? " " : "", r->act);
        if (differs[V_LOSS]) ADD("%s%s", u ? " " : "", r->loss);
        if (differs[V_SEED]) ADD("%sseed %llu", u ? " " : "", (unsigned long long)r->seed);
        for (int s = 0; s < MLP_SET_COUNT; s++)
            if (differs[V_SET0 + s]) ADD("%s%s %s", u ? " " : "", mlp_run_setting_key(s), r->setting[s]);
#undef ADD
        if (!r->finished)
            snprintf(l + strlen(l), cap - strlen(l), "%s(%d/%d epochs)", l[0] ? " " : "", r->n, r->epochs);
    }
    /* fall back to folder names when labels are empty or not unique */
    int unique = 1;
    for (int i = 0; i < n_runs && unique; i++) {
        if (!labels[i][0]) unique = 0;
        for (int j = 0; j < i && unique; j++) unique = strcmp(labels[i], labels[j]) != 0;
    }
    if (!unique)
        for (int i = 0; i < n_runs; i++) snprintf(labels[i], sizeof labels[i], "%s", runs[i].name);
    for (int i = 0; i < n_runs; i++) {
        ys[i] = malloc(sizeof(double) * (size_t)runs[i].n);
        if (!ys[i]) {
            st = mlp_fail(err, MLP_ERR_NOMEM, "plot: out of memory");
            goto done;
        }
        for (int e = 0; e < runs[i].n; e++) ys[i][e] = metric_of(&runs[i].m[e], metric);
        series[i] = (mlp_svg_series){
            labels[i], ys[i], NULL, runs[i].n, NULL, NULL, i % MLP_SVG_PALETTE, (i / MLP_SVG_PALETTE) % 4};
    }
    char t[400];
    if (!title) {
        int same_ds = !differs[V_DATASET];
        snprintf(t, sizeof t, "%s%s%s%s", metric_titles[metric], same_ds ? " (" : "",
                 same_ds ? mlp_dataset_title(runs[0].dataset) : "", same_ds ? ")" : "");
        title = t;
    }
    int is_loss = metric == MLP_METRIC_TEST_LOSS || metric == MLP_METRIC_TRAIN_LOSS;
    mlp_svg_panel panel = {NULL, "Epoch", metric_titles[metric], series, n_runs, is_loss ? -1 : 0, 1};
    mlp_svg_figure fig = {title, &panel, 1, 1};
    sbuf svg = SBUF_INIT;
    if ((st = mlp_svg_render(&svg, &fig, err)) == MLP_OK)
        st = mlp_write_file_atomic(path, sbuf_str(&svg), svg.len, err);
    sbuf_free(&svg);
done:
    if (ys)
        for (int i = 0; i < n_runs; i++) free(ys[i]);
    free(ys);
    free(labels);
    free(series);
    return st;
}
