/* gemm.c - the matrix kernels: reference (test oracle), portable C, the path table and the threaded
 * drivers.
 *
 *   gemm_nn: C[M x N] = bias[N] (broadcast over rows; 0 if NULL) + A[M x K]   B[K x N]
 *   gemm_tn: C[M x N] =                                            A[K x M]^T B[K x N]
 *
 * Every path computes each element of C as ONE chain over k = 0, 1, ..., K-1 starting from the bias:
 *   c = bias[n];  for k: c = c + a_k * b_k    (portable: two roundings)
 *                 for k: c = fma(a_k, b_k, c) (SIMD paths: one rounding)
 * Nothing about the chain depends on which block, tile or thread computes the element, so splitting the
 * rows or columns between threads gives bitwise the same C for any thread count. */
#include "internal.h"

#include <stddef.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* `omp simd` asks for vectorization; clang warns when it cannot comply, which happens only in
 * instrumented builds (-fsanitize=undefined). The result is the same either way: silence it. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wpass-failed"
#endif

/* Defined in gemm_avx2.c / gemm_avx512.c; NULL when that path is not compiled for this target. */
const mlp_kernel_table *mlp_gemm_avx2_table(void);
const mlp_kernel_table *mlp_gemm_avx512_table(void);

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

/* Shared body of both portable kernels: start each row from bias (or 0), then run the chains. */
static void portable_gemm(int M, int N, int K, const float *A, ptrdiff_t a_rs, ptrdiff_t a_ks, const float *B,
                          int ldb, const float *bias, float *C, int ldc) {
    for (int i = 0; i < M; i++) {
        float *c = C + (ptrdiff_t)i * ldc;
        for (int n = 0; n < N; n++) c[n] = bias ? bias[n] : 0.0f;
    }
    for (int i = 0; i < M; i += 4) {
        int rows = M - i < 4 ? M - i : 4;
        portable_rows(rows, N, K, A + i * a_rs, a_rs, a_ks, B, ldb, C + (ptrdiff_t)i * ldc, ldc);
    }
}

static void portable_nn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, const float *bias,
                        float *C, int ldc) {
    portable_gemm(M, N, K, A, lda, 1, B, ldb, bias, C, ldc);
}

static void portable_tn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                        int ldc) {
    portable_gemm(M, N, K, A, 1, lda, B, ldb, NULL, C, ldc);
}

static const mlp_kernel_table portable_table = {portable_nn, portable_tn};

const mlp_kernel_table *mlp_kernel_table_get(mlp_kernels k) {
    switch (k) {
    case MLP_KERNELS_PORTABLE: return &portable_table;
    case MLP_KERNELS_AVX2: return mlp_gemm_avx2_table();
    case MLP_KERNELS_AVX512: return mlp_gemm_avx512_table();
    default: return NULL;
    }
}

/* ------------------------------------------------------------------ threaded drivers
 *
 * C is cut into contiguous parts, one per thread: by rows in whole ROW_GRAIN blocks (the SIMD kernels'
 * row tile), or, when there are few rows (fewer than two blocks per thread) and more column blocks
 * than row blocks, by columns in whole COL_GRAIN blocks. A part gets at least PART_MACS multiply-adds,
 * so small products (below 2 * PART_MACS, about 200k) run on the calling thread: waking a thread team
 * costs more than it saves there. */
enum { PART_MACS = 100000, ROW_GRAIN = 6, COL_GRAIN = 16 };

/* One kernel call on part of C: rows [r0, r1) and columns [c0, c1). */
typedef struct gemm_call {
    const mlp_kernel_table *table;
    int tn; /* 0: gemm_nn, 1: gemm_tn */
    int K;
    const float *A;
    int lda;
    const float *B;
    int ldb;
    const float *bias;
    float *C;
    int ldc;
} gemm_call;

static void gemm_call_part(const gemm_call *g, int r0, int r1, int c0, int c1) {
    if (r1 <= r0 || c1 <= c0) return;
    const float *B = g->B + c0;
    float *C = g->C + (ptrdiff_t)r0 * g->ldc + c0;
    if (g->tn)
        g->table->gemm_tn(r1 - r0, c1 - c0, g->K, g->A + r0, g->lda, B, g->ldb, C, g->ldc);
    else
        g->table->gemm_nn(r1 - r0, c1 - c0, g->K, g->A + (ptrdiff_t)r0 * g->lda, g->lda, B, g->ldb,
                          g->bias ? g->bias + c0 : NULL, C, g->ldc);
}

/* Part `part` of `parts` of [0, n), cut at multiples of grain: returns the start (the end is part+1's). */
static int split_point(int n, int grain, int part, int parts) {
    long long units = (n + grain - 1) / grain;
    long long at = units * part / parts * grain;
    return at < n ? (int)at : n;
}

static void gemm_run(const gemm_call *g, int threads, int M, int N) {
    const int row_units = (M + ROW_GRAIN - 1) / ROW_GRAIN, col_units = (N + COL_GRAIN - 1) / COL_GRAIN;
    const int by_rows = row_units >= 2 * threads || row_units >= col_units;
    const int units = by_rows ? row_units : col_units;
    const double parts_by_work = (double)M * (double)N * (double)g->K / PART_MACS;
    int parts = threads < units ? threads : units;
    if (parts > parts_by_work) parts = (int)parts_by_work;
    if (parts < 2) {
        gemm_call_part(g, 0, M, 0, N);
        return;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(parts)
    {
        /* the runtime may give fewer threads than asked: split by what we got */
        const int team = omp_get_num_threads(), me = omp_get_thread_num();
        if (by_rows)
            gemm_call_part(g, split_point(M, ROW_GRAIN, me, team), split_point(M, ROW_GRAIN, me + 1, team), 0, N);
        else
            gemm_call_part(g, 0, M, split_point(N, COL_GRAIN, me, team), split_point(N, COL_GRAIN, me + 1, team));
    }
#else
    gemm_call_part(g, 0, M, 0, N);
#endif
}

/* A path without a table (AUTO, or not compiled in) falls back to the portable kernels rather than
 * crashing; callers are expected to pass a resolved, supported path. */
static const mlp_kernel_table *table_or_portable(mlp_kernels k) {
    const mlp_kernel_table *t = mlp_kernel_table_get(k);
    return t ? t : &portable_table;
}

void mlp_gemm_nn(mlp_kernels k, int threads, int M, int N, int K, const float *A, int lda, const float *B,
                 int ldb, const float *bias, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    gemm_call g = {table_or_portable(k), 0, K, A, lda, B, ldb, bias, C, ldc};
    gemm_run(&g, threads, M, N);
}

void mlp_gemm_tn(mlp_kernels k, int threads, int M, int N, int K, const float *A, int lda, const float *B,
                 int ldb, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    gemm_call g = {table_or_portable(k), 1, K, A, lda, B, ldb, NULL, C, ldc};
    gemm_run(&g, threads, M, N);
}
