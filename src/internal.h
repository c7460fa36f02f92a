/* internal.h - declarations shared between the library's files; not installed. */
#ifndef MLP_INTERNAL_H
#define MLP_INTERNAL_H

#include "mlp.h"

#include <stdarg.h>
#include <stdio.h>

#if defined(__GNUC__) || defined(__clang__)
#define MLP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MLP_PRINTF(a, b)
#endif

/* Fill err (if not NULL) with code and a printf-style message; returns code. */
mlp_status mlp_fail(mlp_error *err, mlp_status code, const char *fmt, ...) MLP_PRINTF(3, 4);

/* Write len bytes to path atomically: path.tmp.PID, fsync, rename. On failure nothing is left behind. */
mlp_status mlp_write_file_atomic(const char *path, const void *data, size_t len, mlp_error *err);

/* ------------------------------------------------------------------ matrix kernels
 *
 * Every kernel computes each output element as one sequential chain over k in increasing order
 * (c = fma(a_k, b_k, c) on the SIMD paths, c = c + a_k * b_k on the portable path), so any split of
 * the rows or columns between threads gives bitwise the same result. Row-major, leading dimensions
 * in elements.
 *
 *   gemm_nn: C[M x N]  = bias[N] (broadcast over rows; 0 if bias is NULL) + A[M x K]   B[K x N]
 *   gemm_tn: C[M x N]  =                                                   A[K x M]^T B[K x N]
 */
typedef void (*mlp_gemm_nn_fn)(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                               const float *bias, float *C, int ldc);
typedef void (*mlp_gemm_tn_fn)(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                               int ldc);

typedef struct mlp_kernel_table {
    mlp_gemm_nn_fn gemm_nn;
    mlp_gemm_tn_fn gemm_tn;
} mlp_kernel_table;

/* The naive reference kernels (double accumulation): the test oracle. */
void mlp_gemm_nn_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb, const float *bias,
                     float *C, int ldc);
void mlp_gemm_tn_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc);

/* The table of a resolved path (never AUTO); NULL if the path is not compiled in. */
const mlp_kernel_table *mlp_kernel_table_get(mlp_kernels k);

/* Threaded drivers: split the work between `threads` OpenMP threads so that results do not depend on
 * the thread count, and call the path's kernels. */
void mlp_gemm_nn(mlp_kernels k, int threads, int M, int N, int K, const float *A, int lda, const float *B,
                 int ldb, const float *bias, float *C, int ldc);
void mlp_gemm_tn(mlp_kernels k, int threads, int M, int N, int K, const float *A, int lda, const float *B,
                 int ldb, float *C, int ldc);

/* CPU feature detection (x86-64: cpuid + xgetbv; elsewhere 0). */
int mlp_cpu_has_avx2_fma(void);
int mlp_cpu_has_avx512f(void);

#endif
