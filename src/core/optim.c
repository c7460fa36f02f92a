/* optim.c - the optimizers as a table of named update rules (the shape of act.c's activation table).
 *
 * Each optimizer is one row of optim_rows[]: its name, its formula in the comment beside it, and its update
 * over n contiguous parameters w with first state m (SGD's velocity, Adam's first moment), second state s
 * (Adam's second moment) and gradient g, on each kernel path. Every rule is elementwise, so the trainer may
 * cut the parameters into any slices (the fused step: layer 0 transposed, the other layers by rows) and
 * mlp_optim_step (net.c) may take the flat blocks: the bits are the same. This file knows slices, not networks. The per-step scalars (bias corrections,
 * AdamW's decay factor) are formed once per step in double and rounded to float (mlp_optim_coef_make).
 *
 * Paths: the portable loops are the reference. The AVX2 and AVX-512 versions run the same float operations
 * in the same order on vectors (+ - * / and sqrt are correctly rounded in both, and -ffp-contract=off keeps
 * every product a separate rounding), so they give bitwise the portable results (tests/test_optim.c).
 * Plain SGD is the kernels' own loop (mlp_kernel_table.sgd), which the fused weight-gradient epilogue
 * applies too: the reference run is unchanged to the bit. */
#include "kernels.h"
#include "optim.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------ the portable rules (the reference) */

/* SGD with Nesterov momentum (torch.optim.SGD, nesterov=True, dampening 0):
 *   d = g + wd w;  v <- mom v + d;  w <- w - lr (d + mom v) */
static void nesterov_ref(const mlp_optim_coef *c, float *w, float *m, float *s, const float *g, size_t n) {
    (void)s;
    for (size_t i = 0; i < n; i++) {
        const float d = g[i] + c->wd * w[i];
        m[i] = c->mom * m[i] + d;
        w[i] = w[i] - c->lr * (d + c->mom * m[i]);
    }
}

/* Adam and AdamW (torch.optim.Adam / AdamW, amsgrad off), in torch's order of operations:
 *   p = w decay;  d = g + wd p;  m <- b1 m + (1 - b1) d;  s <- b2 s + (1 - b2) d^2
 *   w <- p - step_size (m / (sqrt(s) / bc2_sqrt + eps))
 * Adam: decay = 1 (exact), wd the coupled L2; AdamW: decay = 1 - lr wd, wd = 0 (0 * p adds nothing). */
static void adam_ref(const mlp_optim_coef *c, float *w, float *m, float *s, const float *g, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const float p = w[i] * c->decay;
        const float d = g[i] + c->wd * p;
        m[i] = c->b1 * m[i] + c->c1 * d;
        s[i] = c->b2 * s[i] + c->c2 * (d * d);
        const float den = sqrtf(s[i]) / c->bc2_sqrt + c->eps;
        w[i] = p - c->step_size * (m[i] / den);
    }
}

/* ------------------------------------------------------------------ the same rules on vectors
 *
 * One macro instantiates both rules for a vector type VT of W floats (GCC/clang vector arithmetic; only the
 * loads, stores and sqrt are intrinsics); the tail goes through the reference loop. */
typedef void (*rule_fn)(const mlp_optim_coef *c, float *w, float *m, float *s, const float *g, size_t n);

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && !defined(MLP_NO_SIMD)
#include <immintrin.h>
#define OPTIM_SIMD 1

#define OPTIM_RULES(SFX, ATTR, VT, W, LOAD, STORE, SQRT)                                                         \
    static ATTR void nesterov_##SFX(const mlp_optim_coef *c, float *w, float *m, float *s, const float *g,       \
                                    size_t n) {                                                                  \
        size_t i = 0;                                                                                            \
        for (; i + W <= n; i += W) {                                                                             \
            const VT wv = LOAD(w + i);                                                                           \
            const VT d = LOAD(g + i) + c->wd * wv;                                                               \
            const VT mv = c->mom * LOAD(m + i) + d;                                                              \
            STORE(m + i, mv);                                                                                    \
            STORE(w + i, wv - c->lr * (d + c->mom * mv));                                                        \
        }                                                                                                        \
        nesterov_ref(c, w + i, m + i, s, g + i, n - i);                                                          \
    }                                                                                                            \
    static ATTR void adam_##SFX(const mlp_optim_coef *c, float *w, float *m, float *s, const float *g,           \
                                size_t n) {                                                                      \
        size_t i = 0;                                                                                            \
        for (; i + W <= n; i += W) {                                                                             \
            const VT p = LOAD(w + i) * c->decay;                                                                 \
            const VT d = LOAD(g + i) + c->wd * p;                                                                \
            const VT mv = c->b1 * LOAD(m + i) + c->c1 * d;                                                       \
            const VT sv = c->b2 * LOAD(s + i) + c->c2 * (d * d);                                                 \
            STORE(m + i, mv);                                                                                    \
            STORE(s + i, sv);                                                                                    \
            const VT den = SQRT(sv) / c->bc2_sqrt + c->eps;                                                      \
            STORE(w + i, p - c->step_size * (mv / den));                                                         \
        }                                                                                                        \
        adam_ref(c, w + i, m + i, s + i, g + i, n - i);                                                          \
    }

OPTIM_RULES(avx2, __attribute__((target("avx2,fma"))), __m256, 8, _mm256_loadu_ps, _mm256_storeu_ps,
            _mm256_sqrt_ps)
OPTIM_RULES(avx512, __attribute__((target("avx512f,avx512vl,avx512dq,fma"))), __m512, 16, _mm512_loadu_ps,
            _mm512_storeu_ps, _mm512_sqrt_ps)
#define SIMD_FN(f) f
#else
#define OPTIM_SIMD 0
#define SIMD_FN(f) NULL
#endif

/* ------------------------------------------------------------------ the table */

typedef struct optim_row {
    const char *name;
    rule_fn portable, avx2, avx512; /* SGD's: the Nesterov variant (plain SGD is the kernel table's loop) */
} optim_row;

static const optim_row optim_rows[MLP_OPTIM_COUNT] = {
    /* sgd    v <- mom v + (g + wd w);  w <- w - lr v
     *        nesterov: d = g + wd w;  v <- mom v + d;  w <- w - lr (d + mom v) */
    {"sgd", nesterov_ref, SIMD_FN(nesterov_avx2), SIMD_FN(nesterov_avx512)},
    /* adam   d = g + wd w;  m <- b1 m + (1-b1) d;  s <- b2 s + (1-b2) d^2;
     *        w <- w - lr/(1-b1^t) m / (sqrt(s)/sqrt(1-b2^t) + eps) */
    {"adam", adam_ref, SIMD_FN(adam_avx2), SIMD_FN(adam_avx512)},
    /* adamw  w <- w (1 - lr wd);  then adam's rule with wd = 0 */
    {"adamw", adam_ref, SIMD_FN(adam_avx2), SIMD_FN(adam_avx512)},
};

const char *mlp_optim_name(mlp_optim o) { return (unsigned)o < MLP_OPTIM_COUNT ? optim_rows[o].name : "?"; }

int mlp_optim_parse(const char *name, mlp_optim *out) {
    for (int o = 0; o < MLP_OPTIM_COUNT; o++)
        if (name && !strcmp(name, optim_rows[o].name)) {
            *out = (mlp_optim)o;
            return 0;
        }
    return -1;
}

mlp_optim_coef mlp_optim_coef_sgd(float lr, float wd, float momentum) {
    mlp_optim_coef c;
    memset(&c, 0, sizeof c);
    c.kind = MLP_OPTIM_SGD;
    c.lr = lr;
    c.wd = wd;
    c.mom = momentum;
    c.decay = 1.0f;
    return c;
}

mlp_optim_coef mlp_optim_coef_make(const mlp_train_cfg *cfg, float lr, int64_t step) {
    mlp_optim_coef c = mlp_optim_coef_sgd(lr, cfg->wd, cfg->momentum);
    c.kind = (unsigned)cfg->optim < MLP_OPTIM_COUNT ? cfg->optim : MLP_OPTIM_SGD;
    c.nesterov = c.kind == MLP_OPTIM_SGD && cfg->nesterov;
    if (c.kind != MLP_OPTIM_SGD) {
        const double t = step < 1 ? 1.0 : (double)step;
        c.b1 = cfg->beta1;
        c.b2 = cfg->beta2;
        c.c1 = (float)(1.0 - (double)cfg->beta1);
        c.c2 = (float)(1.0 - (double)cfg->beta2);
        c.eps = cfg->eps;
        c.step_size = (float)((double)lr / (1.0 - pow((double)cfg->beta1, t)));
        c.bc2_sqrt = (float)sqrt(1.0 - pow((double)cfg->beta2, t));
        if (c.kind == MLP_OPTIM_ADAMW) {
            c.decay = (float)(1.0 - (double)lr * (double)cfg->wd);
            c.wd = 0.0f;
        }
    }
    return c;
}

int mlp_optim_is_plain_sgd(const mlp_optim_coef *c) { return c->kind == MLP_OPTIM_SGD && !c->nesterov; }

void mlp_optim_apply(const mlp_optim_coef *c, mlp_kernels k, float *w, float *m, float *s, const float *g, size_t n) {
    if (n == 0) return;
    if (mlp_optim_is_plain_sgd(c)) {
        mlp_kernels_of(k)->sgd(w, m, g, n, c->lr, c->wd, c->mom);
        return;
    }
    const optim_row *row = &optim_rows[c->kind];
    if (k == MLP_KERNELS_BLAS) k = mlp_kernels_resolve(MLP_KERNELS_AUTO); /* BLAS does only the products */
    rule_fn f = row->portable;
    if (OPTIM_SIMD && k == MLP_KERNELS_AVX512 && row->avx512) f = row->avx512;
    else if (OPTIM_SIMD && k == MLP_KERNELS_AVX2 && row->avx2) f = row->avx2;
    f(c, w, m, s, g, n);
}
