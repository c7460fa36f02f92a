/*
 * act_portable.c - the activations' float kernels of the portable path: for each row of act_table.h the scalar
 * functions name_f and name_grad_f, the array loops generated from them, and mlp_act_forward, mlp_act_deriv,
 * mlp_act_backward (mlp.h, kernels.h) that look up the row. The double references, the names and the parsing
 * are in src/core/act.c; the AVX2/AVX-512 versions in vmath.h.
 *
 * Stability. Every exponential is taken of a non-positive argument, e = exp(-|v|) in [0, 1], so it may
 * underflow to 0 but never overflows, for any finite input:
 *   sigmoid(v)          = 1/(1+e) for v >= 0,  e/(1+e) for v < 0             (e = exp(-|v|))
 *   s(1-s)              = e/(1+e)^2        (no 1 - s cancellation: exact for large |v|)
 *   1 - tanh^2 u        = sech^2 u = 4e/(1+e)^2                               (e = exp(-2|u|))
 *   0.5(1 + tanh z)     = sigmoid(2z),  1 - tanh^2 z = 4 sigmoid(2z)(1 - sigmoid(2z))
 * GELU's exponent 2z is formed in double (u^3 of any float is finite there) and its float rounding is
 * carried into the exponential, because 2z reaches ~100 before saturating; the double reference (act.c) clamps
 * u, beyond which sigmoid(2z) is exactly 0 or 1 and its derivative exactly 0.
 * SELU uses expm1 of min(u, 0), accurate near 0 and never exp of a large u, with the standard constants
 * MLP_SELU_LAMBDA = 1.0507009873554805, MLP_SELU_ALPHA = 1.6732632423543772 (not the assignment's
 * truncated 1.0507, 1.67326). Results below 2^-149 (the smallest float) are flushed to exactly 0.
 * Float results agree with the double references to ~3e-7 relative (1e-6 is tested), except where
 * swish' and gelu' cross zero (a difference of O(1) terms: ~1e-7 absolute).
 *
 * Speed: these run on [batch x width] arrays every step; each loop calls one inline scalar function per
 * element, written without branches (the compiler may still choose a branch where it is cheap) and with
 * libm's expf as the only call. No aliasing assumptions: out may be u and du may be dout (element i is
 * read before it is written).
 */
#include "act_table.h"
#include "kernels.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------ constants */

/* tanh: exp(-2|u|) is exactly 0 in float for |u| > ~52; clamping |u| keeps -2|u| itself finite. */
#define TANH_CLAMP_F 64.0f

static const float selu_lambda_f = (float)MLP_SELU_LAMBDA;
static const float selu_lambda_alpha_f = (float)(MLP_SELU_LAMBDA * MLP_SELU_ALPHA);

/* ------------------------------------------------------------------ float scalar kernels
 *
 * Branch-free: a select on the sign of u mispredicts half the time on real pre-activations, so selects
 * are max/min (maxss/minss, written as comparisons: fminf/fmaxf would be library calls) or products with
 * an exact 0/1 flag (x * 1 = x and x * 0 = 0 for finite x).
 */

static inline float max_f(float a, float b) { return a > b ? a : b; }
static inline float min_f(float a, float b) { return a < b ? a : b; }

/* Below this, exp(x) is under 2^-149 (the smallest float) and the result is taken as exactly 0. Such
 * x are evaluated as expf(0) * 0: libm's underflow path is slow (it sets errno) and so is arithmetic on
 * subnormals, and saturated units (gelu beyond |u| ~ 10.6) are common enough to matter. */
#define EXP_FLOOR_F (-103.9f)

/* exp(x) for x <= 0 (also -inf); 0 for x <= EXP_FLOOR_F. */
static inline float exp_nonpos_f(float x) {
    float live = (float)(x > EXP_FLOOR_F);
    return expf(max_f(x, EXP_FLOOR_F) * live) * live;
}

/* exp(a) in float for a double a <= 0, carrying the rounding of a to float into the result:
 * exp(hi + lo) = exp(hi)(1 + lo), |lo| <= 2^-25 |a|. GELU's exponent 2z reaches ~100 before sigmoid(2z)
 * saturates, so rounding 2z to float alone would cost up to ~100 * 2^-24 = 6e-6 relative error. */
static inline float exp_nonpos_dtof(double a) {
    double live = (double)(a > (double)EXP_FLOOR_F);
    a = (a > (double)EXP_FLOOR_F ? a : (double)EXP_FLOOR_F) * live;
    float hi = (float)a;
    float lo = (float)(a - (double)hi);
    return expf(hi) * (1.0f + lo) * (float)live;
}

/* sigmoid = (v >= 0 ? 1 : e) / (1 + e) with e = exp(-|v|) <= 1: the numerator is max(e, [v >= 0]). */
static inline float sigmoid_of_f(float e, float nonneg) {
    return max_f(e, nonneg) / (1.0f + e);
}

static inline float sigmoid_f(float u) {
    return sigmoid_of_f(exp_nonpos_f(-fabsf(u)), (float)(u >= 0.0f));
}

/* s(1-s) = e/(1+e)^2 */
static inline float sigmoid_grad_of_f(float e) {
    float r = 1.0f / (1.0f + e);
    return e * r * r;
}

static inline float sigmoid_grad_f(float u) {
    return sigmoid_grad_of_f(exp_nonpos_f(-fabsf(u)));
}

/* sech^2 u = 4e/(1+e)^2, e = exp(-2|u|); |u| clamped so that -2|u| stays finite */
static inline float tanh_grad_f(float u) {
    return 4.0f * sigmoid_grad_of_f(exp_nonpos_f(-2.0f * min_f(fabsf(u), TANH_CLAMP_F)));
}

/* l*max(u,0) + l*a*expm1(min(u,0)): one of the two terms is exactly 0 */
static inline float selu_f(float u) {
    return selu_lambda_f * max_f(u, 0.0f) + selu_lambda_alpha_f * expm1f(min_f(u, 0.0f));
}

/* l [u > 0] + l a e^min(u,0) [u <= 0] */
static inline float selu_grad_f(float u) {
    float pos = (float)(u > 0.0f);
    return selu_lambda_f * pos + selu_lambda_alpha_f * exp_nonpos_f(min_f(u, 0.0f)) * (1.0f - pos);
}

static inline float swish_f(float u) {
    return u * sigmoid_f(u);
}

/* s + u s(1-s) */
static inline float swish_grad_f(float u) {
    float e = exp_nonpos_f(-fabsf(u));
    return sigmoid_of_f(e, (float)(u >= 0.0f)) + u * sigmoid_grad_of_f(e);
}

/* gelu(u) = 0.5u(1 + tanh z) = u sigmoid(2z) */
static inline float gelu_f(float u) {
    double t = mlp_gelu_2z(u);
    float e = exp_nonpos_dtof(-fabs(t));
    return u * sigmoid_of_f(e, (float)(t >= 0.0));
}

/* gelu'(u) = 0.5(1+tanh z) + 0.5u(1-tanh^2 z) c(1+0.134145u^2) = s + 2cu(1+0.134145u^2) s(1-s), s = sigmoid(2z).
 * The slope is finite in double and s(1-s) is exactly 0 once saturated, so large |u| gives s exactly. */
static inline float gelu_grad_f(float u) {
    double ud = u;
    double t = mlp_gelu_2z(ud);
    float e = exp_nonpos_dtof(-fabs(t));
    double slope = 2.0 * MLP_GELU_C * ud * (1.0 + MLP_GELU_A3 * ud * ud);
    return sigmoid_of_f(e, (float)(t >= 0.0)) + (float)(slope * (double)sigmoid_grad_of_f(e));
}

/* relu and tanh in the same shape as the others */
static inline float relu_f(float u) { return u > 0.0f ? u : 0.0f; }
static inline float relu_grad_f(float u) { return u > 0.0f ? 1.0f : 0.0f; }
static inline float tanh_f(float u) { return tanhf(u); }

/* ------------------------------------------------------------------ float array loops (one pair per row) */

#define ACT_LOOPS(E, name)                                                                  \
    static void name##_forward(float *out, const float *u, size_t n) {                      \
        for (size_t i = 0; i < n; i++) out[i] = name##_f(u[i]);                             \
    }                                                                                       \
    static void name##_deriv(float *d, const float *u, size_t n) {                          \
        for (size_t i = 0; i < n; i++) d[i] = name##_grad_f(u[i]);                          \
    }
MLP_ACT_ROWS(ACT_LOOPS)
#undef ACT_LOOPS

/* Indexed by mlp_act: the array loops of each row of act_table.h. */
static const struct {
    void (*forward)(float *out, const float *u, size_t n);
    void (*deriv)(float *d, const float *u, size_t n);
} act_loops[MLP_ACT_COUNT] = {
#define ACT_LOOP(E, name) [MLP_ACT_##E] = {name##_forward, name##_deriv},
    MLP_ACT_ROWS(ACT_LOOP)
#undef ACT_LOOP
};

static int act_known(mlp_act a) { return (int)a >= 0 && (int)a < MLP_ACT_COUNT; }

/* ------------------------------------------------------------------ public API */

/* An out-of-range a leaves the output untouched (there is no error channel; callers parse names). */
void mlp_act_forward(mlp_act a, float *out, const float *u, size_t n) {
    if (act_known(a)) act_loops[a].forward(out, u, n);
}

/* du = dout * f'(u), f' by blocks of 64 on the stack (du may be dout). */
void mlp_act_backward(mlp_act a, float *du, const float *dout, const float *u, size_t n) {
    if (!act_known(a)) return;
    float d[64];
    for (size_t i = 0; i < n; i += 64) {
        const size_t m = n - i < 64 ? n - i : 64;
        act_loops[a].deriv(d, u + i, m);
        for (size_t j = 0; j < m; j++) du[i + j] = dout[i + j] * d[j];
    }
}

/* d[i] = f'(u[i]). The portable kernel path stores it in the forward pass and multiplies by it in the backward
 * pass. */
void mlp_act_deriv(mlp_act a, float *d, const float *u, size_t n) {
    if (act_known(a)) act_loops[a].deriv(d, u, n);
}

