/* gemm_portable.c - the naive reference kernels (double accumulation: the test oracle) and the portable kernel
 * path: plain C that any compiler vectorizes (`omp simd` loops), for every machine without a SIMD path.
 *
 *   gemm_nn: C[M x N] = bias[N] (broadcast over rows; 0 if NULL) + A[M x K]   B[K x N]
 *   gemm_tn: C[M x N] =                                            A[K x M]^T B[K x N]
 *
 * Every path computes each element of C as ONE chain over k = 0, 1, ..., K-1 starting from the bias:
 *   c = bias[n];  for k: c = c + a_k * b_k    (portable: two roundings)
 *                 for k: c = fma(a_k, b_k, c) (SIMD paths: one rounding)
 * Nothing about the chain depends on which block, tile or thread computes the element, so splitting the
 * rows or columns between threads gives bitwise the same C for any thread count. */
#include "kernels.h"

#include <math.h>
#include <stddef.h>

/* `omp simd` asks for vectorization; clang warns when it cannot comply, which happens only in
 * instrumented builds (-fsanitize=undefined). The result is the same either way: silence it. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wpass-failed"
#endif

/* ------------------------------------------------------------------ reference (double accumulation) */

void mlp_gemm_nn_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb, const float *bias,
                     float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int n = 0; n < N; n++) {
            double sum = bias ? (double)bias[n] : 0.0;
            for (int k = 0; k < K; k++)
                sum += (double)A[(ptrdiff_t)i * lda + k] * (double)B[(ptrdiff_t)k * ldb + n];
            C[(ptrdiff_t)i * ldc + n] = (float)sum;
        }
}

void mlp_gemm_tn_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int n = 0; n < N; n++) {
            double sum = 0.0;
            for (int k = 0; k < K; k++)
                sum += (double)A[(ptrdiff_t)k * lda + i] * (double)B[(ptrdiff_t)k * ldb + n];
            C[(ptrdiff_t)i * ldc + n] = (float)sum;
        }
}

/* ------------------------------------------------------------------ portable C
 *
 * Rows of C are the accumulators: for each k, a row of B scaled by one element of A is added to up to
 * four rows of C at once (one load of B serves four rows). The inner loop over n has independent
 * iterations, so `omp simd` vectorizes it at -O2; the order over k stays sequential for each element.
 * Element (r, k) of the A operand is at a[r * a_rs + k * a_ks]: (lda, 1) for nn, (1, lda) for tn. */

/* C rows [rows x N] (rows <= 4) += A-part * B, continuing each element's chain. */
static void portable_rows(int rows, int N, int K, const float *a, ptrdiff_t a_rs, ptrdiff_t a_ks,
                          const float *B, int ldb, float *C, int ldc) {
    float *restrict c0 = C;
    float *restrict c1 = C + (rows > 1 ? (ptrdiff_t)ldc : 0);
    float *restrict c2 = C + (rows > 2 ? 2 * (ptrdiff_t)ldc : 0);
    float *restrict c3 = C + (rows > 3 ? 3 * (ptrdiff_t)ldc : 0);
    if (rows == 4) {
        for (int k = 0; k < K; k++) {
            const float *restrict b = B + (ptrdiff_t)k * ldb;
            const float *ak = a + k * a_ks;
            const float a0 = ak[0], a1 = ak[a_rs], a2 = ak[2 * a_rs], a3 = ak[3 * a_rs];
#pragma omp simd
            for (int n = 0; n < N; n++) {
                c0[n] = c0[n] + a0 * b[n];
                c1[n] = c1[n] + a1 * b[n];
                c2[n] = c2[n] + a2 * b[n];
                c3[n] = c3[n] + a3 * b[n];
            }
        }
        return;
    }
    /* 1 to 3 rows: one row at a time */
    for (int r = 0; r < rows; r++) {
        float *restrict c = C + (ptrdiff_t)r * ldc;
        for (int k = 0; k < K; k++) {
            const float *restrict b = B + (ptrdiff_t)k * ldb;
            const float ark = a[r * a_rs + k * a_ks];
#pragma omp simd
            for (int n = 0; n < N; n++) c[n] = c[n] + ark * b[n];
        }
    }
}

/* The portable path's row operations: act_portable.c's scalar kernels and a plain SGD loop. */
static void portable_act(mlp_act a, const float *u, float *f, float *d, size_t n) {
    if (d) mlp_act_deriv(a, d, u, n); /* before f: f may overwrite u */
    mlp_act_forward(a, f, u, n);
}

static void portable_act_backward(mlp_act a, const float *u, const float *dout, float *du, size_t n) {
    mlp_act_backward(a, du, dout, u, n);
}

static void portable_sgd(float *w, float *v, const float *g, size_t n, float lr, float wd, float mom) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        v[i] = mom * v[i] + (g[i] + wd * w[i]);
        w[i] = w[i] - lr * v[i];
    }
}

/* The epilogue (kernels.h) on rows [i0, i0 + mr) of C, all N columns. */
static void portable_epilogue(const mlp_epi *ep, float *C, ptrdiff_t ldc, int i0, int mr, int N) {
    for (int r = i0; r < i0 + mr; r++) {
        float *c = C + r * ldc;
        switch (ep->kind) {
        case MLP_EPI_ACT:
            portable_act(ep->act, c, ep->f + r * ep->ldf, ep->d ? ep->d + r * ep->ldd : NULL, (size_t)N);
            break;
        case MLP_EPI_MUL: {
            const float *m = ep->d + r * ep->ldd;
            for (int j = 0; j < N; j++) c[j] = c[j] * m[j];
            break;
        }
        case MLP_EPI_SGD:
            portable_sgd(ep->w + r * ep->ldw, ep->v + r * ep->ldw, c, (size_t)N, ep->lr, ep->wd, ep->mom);
            break;
        default: break;
        }
    }
}

/* Shared body of both portable kernels: start each row from bias (or 0), then run the chains; the
 * epilogue follows each block of up to 4 rows. */
static void portable_gemm(int M, int N, int K, const float *A, ptrdiff_t a_rs, ptrdiff_t a_ks, const float *B,
                          int ldb, const float *bias, float *C, int ldc, const mlp_epi *ep) {
    for (int i = 0; i < M; i += 4) {
        int rows = M - i < 4 ? M - i : 4;
        for (int r = i; r < i + rows; r++) {
            float *c = C + (ptrdiff_t)r * ldc;
            for (int n = 0; n < N; n++) c[n] = bias ? bias[n] : 0.0f;
        }
        portable_rows(rows, N, K, A + i * a_rs, a_rs, a_ks, B, ldb, C + (ptrdiff_t)i * ldc, ldc);
        if (ep) portable_epilogue(ep, C, ldc, i, rows, N);
    }
}

static void portable_nn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, const float *bias,
                        float *C, int ldc, const mlp_epi *ep) {
    portable_gemm(M, N, K, A, lda, 1, B, ldb, bias, C, ldc, ep);
}

static void portable_tn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc,
                        const mlp_epi *ep) {
    portable_gemm(M, N, K, A, 1, lda, B, ldb, NULL, C, ldc, ep);
}

static void portable_exp(const float *x, float *e, float *em1, size_t n) {
    for (size_t i = 0; i < n; i++) {
        e[i] = expf(x[i]);
        if (em1) em1[i] = expm1f(x[i]);
    }
}

/* ------------------------------------------------------------------ portable sparse first layer
 * (kernels.h; the chains are c = c + v * b, two roundings, like the dense portable kernels) */

/* c[j] += v * b[j] */
static void axpy_row(float *restrict c, float v, const float *restrict b, int n) {
#pragma omp simd
    for (int j = 0; j < n; j++) c[j] = c[j] + v * b[j];
}

static void portable_spmm_nn(int M, int N, const mlp_csr *x, const float *B, int ldb, const float *start, float *C,
                             int ldc, const mlp_epi *ep) {
    for (int r = 0; r < M; r++) {
        float *c = C + (ptrdiff_t)r * ldc;
        for (int j = 0; j < N; j++) c[j] = start[j];
        const uint64_t e0 = x->off[r], e1 = e0 + x->cnt[r];
        for (uint64_t e = e0; e < e1; e++) axpy_row(c, x->val[e], B + (ptrdiff_t)x->idx[e] * ldb, N);
        if (ep) portable_epilogue(ep, C, ldc, r, 1, N);
    }
}

static void portable_spmm_nn_dense(int M, int N, int K, const float *A, int lda, float cval, const float *B, int ldb,
                                   const float *start, float *C, int ldc, const mlp_epi *ep) {
    for (int r = 0; r < M; r++) {
        float *c = C + (ptrdiff_t)r * ldc;
        const float *a = A + (ptrdiff_t)r * lda;
        for (int j = 0; j < N; j++) c[j] = start[j];
        for (int i = 0; i < K; i++)
            if (a[i] != cval) axpy_row(c, a[i] - cval, B + (ptrdiff_t)i * ldb, N);
        if (ep) portable_epilogue(ep, C, ldc, r, 1, N);
    }
}

static void portable_spmm_tn_sgd(int D, int N, const mlp_csc_block *blocks, int nblocks, const float *G, int ldg,
                                 const float *start, float *W, float *V, int ldw, float lr, float wd, float mom,
                                 float *S) {
    enum { CB = 256 }; /* columns per pass: the gradient row stays on the stack */
    float g[CB];
    for (int j0 = 0; j0 < N; j0 += CB) {
        const int nc = N - j0 < CB ? N - j0 : CB;
        for (int j = 0; j < nc; j++) S[j0 + j] = 0.0f;
        for (int i = 0; i < D; i++) {
            for (int j = 0; j < nc; j++) g[j] = start[j0 + j];
            for (int b = 0; b < nblocks; b++) {
                const mlp_csc_block *bl = &blocks[b];
                for (uint32_t e = bl->pstart[i]; e < bl->pstart[i + 1]; e++)
                    axpy_row(g, bl->val[e], G + (ptrdiff_t)bl->row[e] * ldg + j0, nc);
            }
            float *w = W + (ptrdiff_t)i * ldw + j0;
            portable_sgd(w, V + (ptrdiff_t)i * ldw + j0, g, (size_t)nc, lr, wd, mom);
            for (int j = 0; j < nc; j++) S[j0 + j] = S[j0 + j] + w[j];
        }
    }
}

const mlp_kernel_table mlp_portable_table = {
    .gemm_nn = portable_nn,
    .gemm_tn = portable_tn,
    .act = portable_act,
    .act_backward = portable_act_backward,
    .sgd = portable_sgd,
    .exp_nonpos = portable_exp,
    .spmm_nn = portable_spmm_nn,
    .spmm_nn_dense = portable_spmm_nn_dense,
    .spmm_tn_sgd = portable_spmm_tn_sgd,
};
