/*
 * loss.c - the reference's four losses on one row of K logits x with label t (one-hot target t_k):
 *
 *   mse    E = sum_k (x_k - t_k)^2                              dE/dx_k = 2(x_k - t_k)
 *   ce     E = -ln h_t,  h = softmax(x)                         dE/dx_k = h_k - t_k
 *   hinge  E = sum_{k!=t} max(0, D - x_t + x_k)                 dE/dx_k = [D - x_t + x_k > 0]  (k != t)
 *                                                               dE/dx_t = -(number of active k)
 *   focal  E = -alpha_t (1-p)^g ln p,  p = h_t                  dE/dx_k = alpha_t (1-p)^(g-1)
 *                                                                         (1 - p - g p ln p)(h_k - t_k)
 *
 * One double-precision row function computes every loss; mlp_loss_ref exposes it (the test oracle) and
 * mlp_loss_eval runs it on each float row, so the batch loss is accumulated in double and the float
 * gradient is the double one rounded once. K (or 2K) exponentials per row cost nothing next to the layers.
 *
 * Numerical choices (stable for any finite logits; tested at +-1000):
 *   - softmax with the row max m subtracted: e_k = exp(x_k - m) in [0, 1], e_argmax = 1.
 *   - ln sum_k e_k = log1p(sum of e_k over k != first argmax): accurate even when that sum is 1e-300.
 *   - ln h_t = (x_t - m) - log1p(...), never the log of a rounded h_t (x = (1000, -1000): ln h_1 = -2000).
 *   - 1 - h_t = (sum_{k != t} e_k) / sum_k e_k: a sum of positive terms, no cancellation, and the t-th
 *     gradient entry h_t - 1 is formed as -(1 - h_t).
 *   - focal: (1-p)^(g-1)(1 - p - g p ln p) = q^g (1 - g p (ln p)/q) with q = 1 - p. As q -> 0,
 *     (ln p)/q = ln(1-q)/q -> -1, which is used when q == 0; so g < 1 with p == 1 gives the correct
 *     limit 0 (g > 0) or 1 (g == 0, alpha * CE) instead of inf * 0. Requires g >= 0.
 *   - hinge tie convention: a term whose margin D - x_t + x_k is exactly 0 is inactive (value 0,
 *     gradient 0), i.e. the subgradient of max(0, m) at m = 0 is taken as 0.
 * Invalid input (K < 1, a label outside [0, K), a NULL cfg) is the caller's bug: there is
 * no error channel here, so such a row yields a NaN loss (caught by the trainer's divergence check) and a
 * zero gradient, and no out-of-bounds access happens.
 */
#include "net_internal.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------ names */

/* The losses: one row each of loss_ops[] (below the row functions), which also holds the name. */
typedef struct row_in row_in;   /* a row of logits (below) */
typedef struct row_out row_out; /* where its gradient goes */

typedef struct loss_op {
    const char *name;
    /* E_n of a row with label t, and dx = dE_n/dx (cfg: the loss's parameters) */
    double (*row)(const mlp_loss_cfg *cfg, const row_in *x, int t, int K, const row_out *dx);
} loss_op;
static const loss_op loss_ops[MLP_LOSS_COUNT];

static const struct {
    const char *name;
    mlp_loss kind;
} loss_aliases[] = {
    {"softmax-ce", MLP_LOSS_CE},
    {"cross-entropy", MLP_LOSS_CE},
};

const char *mlp_loss_name(mlp_loss l) {
    return ((int)l >= 0 && (int)l < MLP_LOSS_COUNT) ? loss_ops[l].name : "?";
}

int mlp_loss_parse(const char *name, mlp_loss *out) {
    if (!name) return -1;
    for (int i = 0; i < MLP_LOSS_COUNT; i++) {
        if (strcmp(name, loss_ops[i].name) == 0) {
            if (out) *out = (mlp_loss)i;
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof loss_aliases / sizeof loss_aliases[0]; i++) {
        if (strcmp(name, loss_aliases[i].name) == 0) {
            if (out) *out = loss_aliases[i].kind;
            return 0;
        }
    }
    return -1;
}

mlp_loss_cfg mlp_loss_default(mlp_loss kind) {
    mlp_loss_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.kind = kind;
    cfg.hinge_margin = 5.0f;
    cfg.focal_gamma = 2.0f;
    cfg.focal_alpha = NULL; /* 0.1 for every class */
    cfg.n_focal_alpha = 0;
    return cfg;
}

float mlp_loss_focal_alpha(const mlp_loss_cfg *cfg, int k) {
    return cfg && cfg->focal_alpha && k >= 0 && k < cfg->n_focal_alpha ? cfg->focal_alpha[k] : 0.1f;
}

/* ------------------------------------------------------------------ one row, double precision
 *
 * A row's logits are read through row_in (float logits of a batch, or the oracle's doubles: (double)f is exact,
 * so both give the same values) and its gradient written through row_out, one entry at a time: no per-row
 * buffer, so any number of classes K works without a limit and without allocating. Each entry k is read before
 * dx[k] is written and nothing is read after its gradient entry is written (softmax recomputes e_k =
 * exp(x_k - m), the same double, in its gradient pass; hinge keeps x_t), so the gradient may alias the logits. */
struct row_in {
    const float *f;  /* float logits, or NULL */
    const double *d; /* double logits (when f is NULL) */
};

struct row_out {
    double *d;    /* dE/dx in double, or NULL */
    float *f;     /* (float)(scale * dE/dx), or NULL */
    double scale;
};

static inline double xk(const row_in *x, int k) { return x->f ? (double)x->f[k] : x->d[k]; }

static inline void put(const row_out *o, int k, double v) {
    if (o->d)
        o->d[k] = v;
    else if (o->f)
        o->f[k] = (float)(o->scale * v);
}

/* The pieces of softmax(x) that CE and focal need, for label t. */
typedef struct softmax_parts {
    double m;     /* max x (the first maximum) */
    double sum;   /* sum_k e_k >= 1, e_k = exp(x_k - m) in [0, 1] */
    double e_t;   /* e_t */
    double log_p; /* ln h_t */
    double q;     /* 1 - h_t, computed without cancellation */
} softmax_parts;

static void softmax_of_row(const row_in *x, int t, int K, softmax_parts *sp) {
    int amax = 0;
    double m = xk(x, 0);
    for (int k = 1; k < K; k++) {
        const double v = xk(x, k);
        if (v > m) m = v, amax = k;
    }
    double rest = 0.0;   /* sum_{k != amax} e_k */
    double others = 0.0; /* sum_{k != t} e_k */
    for (int k = 0; k < K; k++) {
        double e = exp(xk(x, k) - m);
        if (k != amax) rest += e;
        if (k != t) others += e;
        if (k == t) sp->e_t = e;
    }
    sp->m = m;
    sp->sum = 1.0 + rest;
    sp->log_p = (xk(x, t) - m) - log1p(rest);
    sp->q = others / sp->sum;
}

/* dx = scale * (h - onehot(t)) */
static void softmax_grad(const row_in *x, const softmax_parts *sp, int t, int K, double scale, const row_out *dx) {
    if (!dx->d && !dx->f) return;
    for (int k = 0; k < K; k++)
        if (k != t) put(dx, k, scale * (exp(xk(x, k) - sp->m) / sp->sum));
    put(dx, t, -scale * sp->q);
}

static double mse_row(const row_in *x, int t, int K, const row_out *dx) {
    double E = 0.0;
    for (int k = 0; k < K; k++) {
        double d = xk(x, k) - (k == t ? 1.0 : 0.0);
        E += d * d;
        put(dx, k, 2.0 * d);
    }
    return E;
}

static double ce_row(const row_in *x, int t, int K, const row_out *dx) {
    softmax_parts sp;
    softmax_of_row(x, t, K, &sp);
    softmax_grad(x, &sp, t, K, 1.0, dx);
    return -sp.log_p;
}

static double hinge_row(double margin, const row_in *x, int t, int K, const row_out *dx) {
    double E = 0.0;
    int active = 0;
    const double xt = xk(x, t);
    for (int k = 0; k < K; k++) {
        double m = margin - xt + xk(x, k);
        int on = k != t && m > 0.0; /* m == 0 counts as inactive */
        E += on ? m : 0.0;
        put(dx, k, on ? 1.0 : 0.0);
        active += on;
    }
    put(dx, t, -(double)active);
    return E;
}

static double focal_row(double alpha, double gamma, const row_in *x, int t, int K, const row_out *dx) {
    softmax_parts sp;
    softmax_of_row(x, t, K, &sp);
    double p = sp.e_t / sp.sum;
    double q = sp.q;
    double q_pow_g = pow(q, gamma);
    double log_p_over_q = q > 0.0 ? sp.log_p / q : -1.0; /* ln(1-q)/q -> -1 as q -> 0 */
    /* alpha (1-p)^(g-1) (1 - p - g p ln p) = alpha q^g (1 - g p (ln p)/q) */
    double factor = alpha * q_pow_g * (1.0 - gamma * p * log_p_over_q);
    softmax_grad(x, &sp, t, K, factor, dx);
    return -alpha * q_pow_g * sp.log_p;
}

/* The rows in the table's shape (the parameters from cfg) */
static double mse_op(const mlp_loss_cfg *cfg, const row_in *x, int t, int K, const row_out *dx) {
    (void)cfg;
    return mse_row(x, t, K, dx);
}
static double ce_op(const mlp_loss_cfg *cfg, const row_in *x, int t, int K, const row_out *dx) {
    (void)cfg;
    return ce_row(x, t, K, dx);
}
static double hinge_op(const mlp_loss_cfg *cfg, const row_in *x, int t, int K, const row_out *dx) {
    return hinge_row(cfg->hinge_margin, x, t, K, dx);
}
static double focal_op(const mlp_loss_cfg *cfg, const row_in *x, int t, int K, const row_out *dx) {
    return focal_row(mlp_loss_focal_alpha(cfg, t), cfg->focal_gamma, x, t, K, dx);
}

/* Indexed by mlp_loss; a new loss: the enum value (mlp.h), its row function above, and a row here. */
static const loss_op loss_ops[MLP_LOSS_COUNT] = {
    /* mse:   E = sum_k (x_k - [k = t])^2                         dE/dx_k = 2 (x_k - [k = t])            */
    [MLP_LOSS_MSE] = {"mse", mse_op},
    /* ce:    E = -ln h_t, h = softmax(x)                         dE/dx = h - onehot(t)                  */
    [MLP_LOSS_CE] = {"ce", ce_op},
    /* hinge: E = sum_{k != t} max(0, D - x_t + x_k)              dE/dx_k = [m_k > 0], dE/dx_t = -#active */
    [MLP_LOSS_HINGE] = {"hinge", hinge_op},
    /* focal: E = -a_t (1 - h_t)^g ln h_t                         dE/dx = factor (h - onehot(t))         */
    [MLP_LOSS_FOCAL] = {"focal", focal_op},
};

/* E_n of one row and dx = dE_n/dx; NaN and a zero dx for invalid arguments (see the file header). */
static double loss_row(const mlp_loss_cfg *cfg, const row_in *x, int t, int K, const row_out *dx) {
    if (K < 1) return NAN;
    if (cfg && t >= 0 && t < K && (unsigned)cfg->kind < MLP_LOSS_COUNT) return loss_ops[cfg->kind].row(cfg, x, t, K, dx);
    for (int k = 0; k < K; k++) put(dx, k, 0.0);
    return NAN;
}

double mlp_loss_ref(const mlp_loss_cfg *cfg, const double *x, int label, int K, double *dx) {
    const row_in in = {NULL, x};
    const row_out out = {dx, NULL, 1.0};
    return loss_row(cfg, &in, label, K, &out);
}

/* ------------------------------------------------------------------ batches, float */

/* Index of the first maximum of row[0..K). */
static int argmax_first(const float *row, int K) {
    int best = 0;
    for (int k = 1; k < K; k++)
        if (row[k] > row[best]) best = k;
    return best;
}

/* One float row: E_n (double), the argmax check and, if drow is not NULL, the scaled float gradient (the double
 * gradient rounded once). drow may alias row (see row_in above). */
static double loss_float_row(const mlp_loss_cfg *cfg, const float *row, int t, int K, float *drow, double scale,
                             int *ok) {
    *ok = 0;
    if (K < 1) return NAN;
    *ok = argmax_first(row, K) == t;
    const row_in in = {row, NULL};
    const row_out out = {NULL, drow, scale};
    return loss_row(cfg, &in, t, K, &out);
}

double mlp_loss_eval(const mlp_loss_cfg *cfg, const float *logits, const int32_t *labels, int N, int K,
                     float *dlogits, float grad_scale, int *n_correct) {
    if (n_correct) *n_correct = 0;
    if (N == 0) return 0.0;
    if (!cfg || N < 0 || K < 1) return NAN;

    double total = 0.0;
    int correct = 0;
    for (int n = 0; n < N; n++) {
        int ok;
        total += loss_float_row(cfg, logits + (size_t)n * (size_t)K, labels[n], K,
                                dlogits ? dlogits + (size_t)n * (size_t)K : NULL, (double)grad_scale, &ok);
        correct += ok;
    }
    if (n_correct) *n_correct = correct;
    return total;
}

/* Per row (net_internal.h): the same values mlp_loss_eval adds up, so a caller summing row_loss in row order gets
 * its result bitwise. */
void mlp_loss_rows(const mlp_loss_cfg *cfg, const float *logits, const int32_t *labels, int N, int K,
                   float *dlogits, float grad_scale, double *row_loss, unsigned char *row_ok) {
    if (!cfg || K < 1) {
        for (int n = 0; n < N; n++) {
            row_loss[n] = NAN;
            if (row_ok) row_ok[n] = 0;
        }
        return;
    }
    for (int n = 0; n < N; n++) {
        int ok;
        row_loss[n] = loss_float_row(cfg, logits + (size_t)n * (size_t)K, labels[n], K,
                                     dlogits ? dlogits + (size_t)n * (size_t)K : NULL, (double)grad_scale, &ok);
        if (row_ok) row_ok[n] = (unsigned char)ok;
    }
}

double mlp_rows_sum(const double *row_loss, const unsigned char *row_ok, int n, int *correct) {
    double total = 0;
    int hits = 0;
    for (int r = 0; r < n; r++) {
        total += row_loss[r];
        hits += row_ok[r];
    }
    *correct = hits;
    return total;
}
