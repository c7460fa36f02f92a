/* vmath.h - vectorized exp/expm1 and the activation functions for the SIMD kernel paths (one vm_<name> per row
 * of act_table.h).
 *
 * Included once by gemm_avx2.c and once by gemm_avx512.c, after the includer defines VMATH_FN as
 * "static inline, always inlined, compiled for my target" (the vectors below are wider than the x86-64
 * baseline, so every function using them must carry the target attribute). The code is written with GNU C
 * vector extensions (gcc and clang), 8 float lanes: the same source compiles to ymm operations for AVX2 and
 * to ymm/zmm operations for AVX-512, and since every operation is an IEEE-exact lane-wise one (no FMA is
 * contracted: -ffp-contract=off; no approximate reciprocal), both paths give bitwise the same results.
 *
 * exp and expm1 for x <= 0 (every exponential the activations need is of a non-positive argument):
 *   x = n ln2 + r,  n = round(x / ln2),  |r| <= ln2/2 + tiny      (Cody-Waite: ln2 = LN2_HI + LN2_LO, n*LN2_HI
 *                                                                 exact for |n| < 2^15)
 *   q = expm1(r) = r + r^2 (1/2 + r/6 + r^2/24 + ... + r^5/5040)  (Taylor to degree 7: truncation < 1.3e-8 rel)
 *   exp(x)   = (1 + q) 2^n        (2^n applied as two factors 2^floor(n/2) 2^ceil(n/2), so the subnormal
 *                                  results below 2^-126 are rounded once, like libm's)
 *   expm1(x) = 2^n q + (2^n - 1)  (2^n - 1 is exact for n >= -24; no cancellation near x = 0)
 * Arguments at or below EXP_FLOOR (-103.9, where exp(x) < 2^-149, the smallest float) give exactly 0 (and
 * expm1 exactly -1), as the scalar kernels in act_portable.c do. Measured against double-precision libm over
 * [-103.9, 0] (tests/test_fused.c holds them to it): exp within 2 ulp (max relative error 2.4e-7 where the
 * result is a normal float), expm1 within 3e-7 relative.
 *
 * The activations mirror the scalar kernels of act_portable.c formula for formula (same stable forms, GELU's 2z
 * formed in double and its rounding carried into the exponential); each returns f(u) and f'(u) together,
 * sharing one exponential. Their accuracy against the double references is tested at 1e-6 relative (plus
 * the absolute floors act.c's own tests use where swish' and gelu' cross zero). */
#ifndef MLP_VMATH_H
#define MLP_VMATH_H

#ifndef VMATH_FN
#error "define VMATH_FN (static inline + always_inline + target attribute) before including vmath.h"
#endif

#include "act_table.h"

#include <string.h>

/* VM_W float lanes per vector: 16 for AVX-512, 8 for AVX2 (the includer may set it). Every operation is
 * lane-wise, so the width changes the speed and never a result. */
#ifndef VM_W
#define VM_W 8
#endif
typedef float vm_f __attribute__((vector_size(4 * VM_W)));
typedef int vm_i __attribute__((vector_size(4 * VM_W)));
typedef float vm_fh __attribute__((vector_size(2 * VM_W)));     /* half a vm_f */
typedef double vm_d __attribute__((vector_size(4 * VM_W)));     /* VM_W/2 doubles: a vm_f is two halves */
typedef long long vm_l __attribute__((vector_size(4 * VM_W)));

#define VM_EXP_FLOOR (-103.9f)
#define VM_LOG2E 1.44269504088896341f
#define VM_LN2_HI 0.693359375f        /* 0x3f318000: 9 significant bits, n * LN2_HI exact */
#define VM_LN2_LO (-2.12194440e-4f)   /* ln2 - LN2_HI */
#define VM_SHIFTER 12582912.0f        /* 1.5 * 2^23: (v + S) - S rounds v to an integer for |v| < 2^22 */

#define VM_GELU_C 0.7978845608028654 /* sqrt(2/pi) */
#define VM_GELU_A 0.044715
#define VM_GELU_A3 0.134145
#define VM_TANH_CLAMP 64.0f

VMATH_FN vm_f vm_splat(float x) { return (vm_f){0} + x; }
VMATH_FN vm_d vm_dsplat(double x) { return (vm_d){0} + x; }
VMATH_FN vm_f vm_load(const float *p) {
    vm_f v;
    memcpy(&v, p, sizeof v);
    return v;
}
VMATH_FN void vm_store(float *p, vm_f v) { memcpy(p, &v, sizeof v); }
/* the first n (< 8) lanes from p, the others 0 */
VMATH_FN vm_f vm_load_part(const float *p, int n) {
    float t[VM_W] = {0};
    for (int i = 0; i < n; i++) t[i] = p[i];
    return vm_load(t);
}
VMATH_FN void vm_store_part(float *p, vm_f v, int n) {
    float t[VM_W];
    vm_store(t, v);
    for (int i = 0; i < n; i++) p[i] = t[i];
}
/* m ? a : b, with m lanes all-ones or all-zeros (what vector comparisons return) */
VMATH_FN vm_f vm_sel(vm_i m, vm_f a, vm_f b) { return (vm_f)(((vm_i)a & m) | ((vm_i)b & ~m)); }
/* 1.0f where m, else 0.0f */
VMATH_FN vm_f vm_flag(vm_i m) { return (vm_f)(m & (vm_i)vm_splat(1.0f)); }
VMATH_FN vm_f vm_max(vm_f a, vm_f b) { return vm_sel(a > b, a, b); }
VMATH_FN vm_f vm_min(vm_f a, vm_f b) { return vm_sel(a < b, a, b); }
VMATH_FN vm_f vm_abs(vm_f a) { return (vm_f)((vm_i)a & 0x7fffffff); }
/* the low (h = 0) or high (h = 1) half of x in double, and back */
#if (defined(__clang__) || __GNUC__ >= 12) && VM_W == 8
VMATH_FN vm_d vm_widen(vm_f x, int h) {
    const vm_fh q = h ? __builtin_shufflevector(x, x, 4, 5, 6, 7) : __builtin_shufflevector(x, x, 0, 1, 2, 3);
    return __builtin_convertvector(q, vm_d);
}
VMATH_FN vm_f vm_narrow(vm_d lo, vm_d hi) {
    const vm_fh a = __builtin_convertvector(lo, vm_fh), b = __builtin_convertvector(hi, vm_fh);
    return __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7);
}
#elif (defined(__clang__) || __GNUC__ >= 12) && VM_W == 16
VMATH_FN vm_d vm_widen(vm_f x, int h) {
    const vm_fh q = h ? __builtin_shufflevector(x, x, 8, 9, 10, 11, 12, 13, 14, 15)
                      : __builtin_shufflevector(x, x, 0, 1, 2, 3, 4, 5, 6, 7);
    return __builtin_convertvector(q, vm_d);
}
VMATH_FN vm_f vm_narrow(vm_d lo, vm_d hi) {
    const vm_fh a = __builtin_convertvector(lo, vm_fh), b = __builtin_convertvector(hi, vm_fh);
    return __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}
#else
VMATH_FN vm_d vm_widen(vm_f x, int h) {
    float t[VM_W];
    vm_fh q;
    vm_store(t, x);
    memcpy(&q, t + VM_W / 2 * h, sizeof q);
    return __builtin_convertvector(q, vm_d);
}
VMATH_FN vm_f vm_narrow(vm_d lo, vm_d hi) {
    const vm_fh a = __builtin_convertvector(lo, vm_fh), b = __builtin_convertvector(hi, vm_fh);
    float t[VM_W];
    memcpy(t, &a, sizeof a);
    memcpy(t + VM_W / 2, &b, sizeof b);
    return vm_load(t);
}
#endif
VMATH_FN vm_d vm_dabs(vm_d a) { return (vm_d)((vm_l)a & 0x7fffffffffffffffLL); }

/* 2^n for integer-valued float n in [-126, 127] */
VMATH_FN vm_f vm_pow2i(vm_f n) {
    vm_i bits = (__builtin_convertvector(n, vm_i) + 127) << 23;
    return (vm_f)bits;
}

/* exp(x) and expm1(x) for x <= 0 (see the header). */
VMATH_FN void vm_exp_em1(vm_f x, vm_f *e, vm_f *em1) {
    const vm_i live = x > vm_splat(VM_EXP_FLOOR);
    x = vm_max(x, vm_splat(VM_EXP_FLOOR));
    const vm_f n = (x * VM_LOG2E + VM_SHIFTER) - VM_SHIFTER; /* round to nearest, in [-150, 0] */
    const vm_f r = (x - n * VM_LN2_HI) - n * VM_LN2_LO;
    vm_f p = vm_splat(1.0f / 5040.0f);
    p = p * r + (1.0f / 720.0f);
    p = p * r + (1.0f / 120.0f);
    p = p * r + (1.0f / 24.0f);
    p = p * r + (1.0f / 6.0f);
    p = p * r + 0.5f;
    const vm_f q = r + (r * r) * p; /* expm1(r) */
    /* n = n1 + n2, n1 = ceil(n/2) >= -75, n2 = n - n1 >= -75: both factors are normal floats */
    const vm_f n1 = (n * 0.5f + VM_SHIFTER) - VM_SHIFTER; /* round-half-even of n/2: within 1/2 of n/2 */
    const vm_f n2 = n - n1;
    const vm_f ex = ((1.0f + q) * vm_pow2i(n1)) * vm_pow2i(n2);
    *e = vm_sel(live, ex, vm_splat(0.0f));
    if (em1) {
        const vm_f s = vm_pow2i(vm_max(n, vm_splat(-30.0f))); /* below 2^-30, 2^n q + 2^n - 1 rounds to -1 */
        *em1 = vm_sel(live, s * q + (s - 1.0f), vm_splat(-1.0f));
    }
}

VMATH_FN vm_f vm_exp(vm_f x) {
    vm_f e;
    vm_exp_em1(x, &e, NULL);
    return e;
}

/* exp(a) in float for double a <= 0 (two halves), carrying the rounding of a to float into the result
 * (act_portable.c's exp_nonpos_dtof): exp(hi + lo) = exp(hi)(1 + lo). */
VMATH_FN vm_d vm_dmax(vm_d a, vm_d b) { return (vm_d)(((vm_l)a & (vm_l)(a > b)) | ((vm_l)b & ~(vm_l)(a > b))); }
VMATH_FN vm_f vm_exp_dtof(vm_d a0, vm_d a1) {
    const vm_d floor_d = vm_dsplat(VM_EXP_FLOOR);
    a0 = vm_dmax(a0, floor_d);
    a1 = vm_dmax(a1, floor_d);
    const vm_f hi = vm_narrow(a0, a1);
    const vm_f lo = vm_narrow(a0 - vm_widen(hi, 0), a1 - vm_widen(hi, 1));
    return vm_exp(hi) * (1.0f + lo);
}

/* ------------------------------------------------------------------ activations: f and f' together */

/* sigmoid from e = exp(-|v|) and r = 1/(1 + e): (v >= 0 ? 1 : e) r. (One division serves the sigmoid and its
 * derivative: a division costs as much as ten multiplications; the product adds at most half an ulp.) */
VMATH_FN vm_f vm_recip1p(vm_f e) { return 1.0f / (1.0f + e); }
VMATH_FN vm_f vm_sigmoid_of(vm_f e, vm_f r, vm_i nonneg) { return vm_max(e, vm_flag(nonneg)) * r; }
/* s(1-s) = e/(1+e)^2 = e r r */
VMATH_FN vm_f vm_sigmoid_grad_of(vm_f e, vm_f r) { return e * r * r; }

VMATH_FN void vm_relu(vm_f u, vm_f *f, vm_f *d) {
    const vm_i pos = u > 0.0f;
    *f = vm_sel(pos, u, vm_splat(0.0f));
    if (d) *d = vm_flag(pos);
}

VMATH_FN void vm_sigmoid(vm_f u, vm_f *f, vm_f *d) {
    const vm_f e = vm_exp(-vm_abs(u)), r = vm_recip1p(e);
    *f = vm_sigmoid_of(e, r, u >= 0.0f);
    if (d) *d = vm_sigmoid_grad_of(e, r);
}

/* tanh u = sign(u) (1 - e)/(1 + e) = -sign(u) em1 / (2 + em1), e = exp(-2|u|), em1 = e - 1 (accurate near 0);
 * tanh' = sech^2 u = 4e/(1+e)^2 */
VMATH_FN void vm_tanh(vm_f u, vm_f *f, vm_f *d) {
    vm_f e, em1;
    vm_exp_em1(-2.0f * vm_min(vm_abs(u), vm_splat(VM_TANH_CLAMP)), &e, &em1);
    const vm_f t = -em1 / (2.0f + em1);
    *f = vm_sel(u < 0.0f, -t, t);
    if (d) *d = 4.0f * vm_sigmoid_grad_of(e, vm_recip1p(e));
}

/* l max(u,0) + l a expm1(min(u,0));  f' = l [u > 0] + l a e^min(u,0) [u <= 0] */
VMATH_FN void vm_selu(vm_f u, vm_f *f, vm_f *d) {
    const float l = (float)MLP_SELU_LAMBDA, la = (float)(MLP_SELU_LAMBDA * MLP_SELU_ALPHA);
    vm_f e, em1;
    vm_exp_em1(vm_min(u, vm_splat(0.0f)), &e, &em1);
    *f = l * vm_max(u, vm_splat(0.0f)) + la * em1;
    if (d) {
        const vm_f pos = vm_flag(u > 0.0f);
        *d = l * pos + la * e * (1.0f - pos);
    }
}

/* u s, s = sigmoid(u);  f' = s + u s(1-s) */
VMATH_FN void vm_swish(vm_f u, vm_f *f, vm_f *d) {
    const vm_f e = vm_exp(-vm_abs(u)), r = vm_recip1p(e);
    const vm_f s = vm_sigmoid_of(e, r, u >= 0.0f);
    *f = u * s;
    if (d) *d = s + u * vm_sigmoid_grad_of(e, r);
}

/* gelu = u sigmoid(2z), 2z = 2c(u + 0.044715u^3) in double;
 * gelu' = s + 2cu(1 + 0.134145u^2) s(1-s), the slope in double */
VMATH_FN void vm_gelu(vm_f u, vm_f *f, vm_f *d) {
    const vm_d u0 = vm_widen(u, 0), u1 = vm_widen(u, 1);
    const vm_d t0 = 2.0 * VM_GELU_C * (u0 + VM_GELU_A * u0 * u0 * u0);
    const vm_d t1 = 2.0 * VM_GELU_C * (u1 + VM_GELU_A * u1 * u1 * u1);
    const vm_f e = vm_exp_dtof(-vm_dabs(t0), -vm_dabs(t1));
    /* t >= 0 as float lanes: the sign of float(t) is that of t */
    const vm_i nonneg = u >= 0.0f; /* the sign of t = 2z is that of u */
    const vm_f r = vm_recip1p(e);
    const vm_f s = vm_sigmoid_of(e, r, nonneg);
    *f = u * s;
    if (d) {
        /* slope 2cu(1 + 0.134145u^2) in float: a few ulp of a term that is added to s, and exactly 0 times
         * s(1-s) = 0 once saturated (|u| clamped to 1e12 keeps the slope finite; beyond |u| ~ 10.6, e = 0 and the term is exactly 0) */
        const vm_f uc = vm_min(vm_max(u, vm_splat(-1e12f)), vm_splat(1e12f));
        const vm_f slope = (float)(2.0 * VM_GELU_C) * uc * (1.0f + (float)VM_GELU_A3 * (uc * uc));
        *d = s + slope * vm_sigmoid_grad_of(e, r);
    }
}

/* f(u) (and f'(u) when d is not NULL) for one vector of the activation `act` (act_table.h). */
VMATH_FN void vm_act(mlp_act act, vm_f u, vm_f *f, vm_f *d) {
    switch (act) {
#define VM_ACT_CASE(E, name) \
    case MLP_ACT_##E: vm_##name(u, f, d); break;
        MLP_ACT_ROWS(VM_ACT_CASE)
#undef VM_ACT_CASE
    default:
        *f = u;
        if (d) *d = vm_splat(1.0f);
        break;
    }
}

/* ------------------------------------------------------------------ row loops (the path's table entries) */

/* One activation over n floats, two vectors per iteration (each vector's computation is one long dependency
 * chain: interleaving two gives the out-of-order core independent work); the tail goes through a zero-padded
 * vector (same lanes, same results). */
#define VM_ACT_ROWS(name, fn)                                                                      \
    VMATH_FN void vm_rows_##name(const float *u, float *f, float *d, size_t n) {                   \
        size_t i = 0;                                                                              \
        vm_f f0, f1, d0, d1;                                                                       \
        if (d) {                                                                                   \
            for (; i + 2 * VM_W <= n; i += 2 * VM_W) {                                             \
                fn(vm_load(u + i), &f0, &d0);                                                      \
                fn(vm_load(u + i + VM_W), &f1, &d1);                                               \
                vm_store(f + i, f0), vm_store(f + i + VM_W, f1);                                   \
                vm_store(d + i, d0), vm_store(d + i + VM_W, d1);                                   \
            }                                                                                      \
        } else {                                                                                   \
            for (; i + 2 * VM_W <= n; i += 2 * VM_W) {                                             \
                fn(vm_load(u + i), &f0, NULL);                                                     \
                fn(vm_load(u + i + VM_W), &f1, NULL);                                              \
                vm_store(f + i, f0), vm_store(f + i + VM_W, f1);                                   \
            }                                                                                      \
        }                                                                                          \
        for (; i < n; i += VM_W) {                                                                 \
            const int m = n - i < VM_W ? (int)(n - i) : VM_W;                                      \
            fn(vm_load_part(u + i, m), &f0, d ? &d0 : NULL);                                       \
            vm_store_part(f + i, f0, m);                                                           \
            if (d) vm_store_part(d + i, d0, m);                                                    \
        }                                                                                          \
    }
#define VM_ACT_ROWS_OF(E, name) VM_ACT_ROWS(name, vm_##name)
MLP_ACT_ROWS(VM_ACT_ROWS_OF)
#undef VM_ACT_ROWS_OF

VMATH_FN void vm_act_rows(mlp_act a, const float *u, float *f, float *d, size_t n) {
    switch (a) {
#define VM_ROWS_CASE(E, name) \
    case MLP_ACT_##E: vm_rows_##name(u, f, d, n); break;
        MLP_ACT_ROWS(VM_ROWS_CASE)
#undef VM_ROWS_CASE
    default: break;
    }
}

/* c[i] *= m[i] */
VMATH_FN void vm_mul_rows(float *c, const float *m, size_t n) {
    size_t i = 0;
    for (; i + VM_W <= n; i += VM_W) vm_store(c + i, vm_load(c + i) * vm_load(m + i));
    for (; i < n; i++) c[i] = c[i] * m[i];
}

/* du = dout * act'(u), in blocks of 64 so that the derivative stays in registers / L1 */
VMATH_FN void vm_act_backward_rows(mlp_act a, const float *u, const float *dout, float *du, size_t n) {
    float fb[64], db[64];
    for (size_t i = 0; i < n; i += 64) {
        const size_t m = n - i < 64 ? n - i : 64;
        vm_act_rows(a, u + i, fb, db, m);
        for (size_t j = 0; j < m; j++) du[i + j] = dout[i + j] * db[j];
    }
}

/* v = mom v + (g + wd w); w = w - lr v: the same operations in the same order as the scalar loop */
VMATH_FN void vm_sgd_rows(float *w, float *v, const float *g, size_t n, float lr, float wd, float mom) {
    size_t i = 0;
    for (; i + VM_W <= n; i += VM_W) {
        const vm_f wv = vm_load(w + i);
        const vm_f vv = mom * vm_load(v + i) + (vm_load(g + i) + wd * wv);
        vm_store(v + i, vv);
        vm_store(w + i, wv - lr * vv);
    }
    for (; i < n; i++) {
        v[i] = mom * v[i] + (g[i] + wd * w[i]);
        w[i] = w[i] - lr * v[i];
    }
}

VMATH_FN void vm_exp_rows(const float *x, float *e, float *em1, size_t n) {
    for (size_t i = 0; i < n; i += VM_W) {
        const int m = n - i < VM_W ? (int)(n - i) : VM_W;
        vm_f ev, mv;
        vm_exp_em1(vm_load_part(x + i, m), &ev, &mv);
        vm_store_part(e + i, ev, m);
        if (em1) vm_store_part(em1 + i, mv, m);
    }
}

/* The epilogue on the tile [i0, i0 + mr) x [j0, j0 + nw) of C (see kernels.h). */
VMATH_FN void vm_epilogue(const mlp_epi *ep, float *C, ptrdiff_t ldc, int i0, int j0, int mr, int nw) {
    for (int r = i0; r < i0 + mr; r++) {
        float *c = C + r * ldc + j0;
        switch (ep->kind) {
        case MLP_EPI_ACT:
            vm_act_rows(ep->act, c, ep->f + r * ep->ldf + j0, ep->d ? ep->d + r * ep->ldd + j0 : NULL, (size_t)nw);
            break;
        case MLP_EPI_MUL: vm_mul_rows(c, ep->d + r * ep->ldd + j0, (size_t)nw); break;
        case MLP_EPI_SGD:
            vm_sgd_rows(ep->w + r * ep->ldw + j0, ep->v + r * ep->ldw + j0, c, (size_t)nw, ep->lr, ep->wd, ep->mom);
            break;
        default: break;
        }
    }
}

#endif
