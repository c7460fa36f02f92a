/* kernels.h - the matrix kernels' contract: the epilogues, the sparse formats, one table of functions per
 * kernel path (portable, AVX2, AVX-512, BLAS), the threaded drivers and the CPU detection behind AUTO.
 * Internal: not installed, not exported. Used by src/core (net.c, optim.c, train.c) and the tests. */
#ifndef MLP_KERNELS_H
#define MLP_KERNELS_H

#include "mlp.h"

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ matrix kernels
 *
 * Every kernel computes each output element as one sequential chain over k in increasing order
 * (c = fma(a_k, b_k, c) on the SIMD paths, c = c + a_k * b_k on the portable path), so any split of
 * the rows or columns between threads gives bitwise the same result. Row-major, leading dimensions
 * in elements.
 *
 *   gemm_nn: C[M x N]  = bias[N] (broadcast over rows; 0 if bias is NULL) + A[M x K]   B[K x N]
 *   gemm_tn: C[M x N]  =                                                   A[K x M]^T B[K x N]
 *
 * An epilogue (ep, may be NULL) runs on each tile of C right after the tile is final (complete over K),
 * while it is still in L1: it reads C's tile and writes elsewhere (or C itself). Its pointers are
 * relative to the same origin as C: element (i, j) of C goes with f[i * ldf + j], etc.
 *   ACT: f = act(c) (f may be C), and d = act'(c) if d is not NULL
 *   MUL: c = c * d                                   (the backward pass: (G W) * f'(u))
 *   SGD: c is the gradient g of parameters w with momentum v, both laid out like C:
 *        v = mom * v + (g + wd * w);  w = w - lr * v  (mlp_sgd_step's rule, same rounding)
 *        The SIMD paths apply it to the tile in registers and never store C (its content is then
 *        unspecified); the portable path stores C first.
 * Each path's activation is its own implementation (portable: act_portable.c's scalar libm kernels; AVX2 and
 * AVX-512: the vectorized ones of vmath.h, bitwise identical to each other); all are tested against the
 * double references. */
typedef enum mlp_epi_kind { MLP_EPI_NONE, MLP_EPI_ACT, MLP_EPI_MUL, MLP_EPI_SGD } mlp_epi_kind;

typedef struct mlp_epi {
    mlp_epi_kind kind;
    mlp_act act;
    float *f;
    ptrdiff_t ldf;
    float *d; /* ACT: f' destination (or NULL); MUL: the factor (read only) */
    ptrdiff_t ldd;
    float *w, *v;
    ptrdiff_t ldw;
    float lr, wd, mom;
} mlp_epi;

/* ------------------------------------------------------------------ sparse first layer
 *
 * Most inputs of an image set equal one background value c (MNIST: 81% of the pixels are 0, which the
 * reference scaling maps to c = -128/255). Splitting x = c + (x - c) makes the first layer's products sparse:
 *   u[n][o]  = b[o] + c S[o] + sum_{i: x[n][i] != c} (x[n][i] - c) W[o][i],     S[o] = sum_i W[o][i]
 *   dW[o][i] = c db[o] + sum_{n: x[n][i] != c} (x[n][i] - c) G[n][o],          db[o] = sum_n G[n][o]
 * which needs ~1/5 of the multiply-adds. Rounding differs from the dense products (the tests hold both to
 * the double reference); each element is still one fixed chain, so threads never change a bit:
 *   forward  start = b[o] + c * S[o], then fma over the listed inputs in increasing i
 *   gradient start = c * db[o],       then fma over the listed rows in increasing n
 * Rows are given compressed (CSR: entry e of a row is input idx[e] with value val[e] = x - c, in increasing
 * idx), columns of a batch as CSC blocks (pixel i's entries of block b: rows row[e] (increasing) with value
 * val[e], e in [pstart[i], pstart[i+1])); blocks hold increasing ranges of rows and are visited in order. */
typedef struct mlp_csr {
    const uint64_t *off;  /* row r's entries start at off[r] ... */
    const uint32_t *cnt;  /* ... and there are cnt[r] of them */
    const uint16_t *idx;
    const float *val;
} mlp_csr;

typedef struct mlp_csc_block {
    const uint32_t *pstart; /* [D + 1] */
    const uint16_t *row;
    const float *val;
} mlp_csc_block;

typedef void (*mlp_gemm_nn_fn)(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                               const float *bias, float *C, int ldc, const mlp_epi *ep);
typedef void (*mlp_gemm_tn_fn)(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                               int ldc, const mlp_epi *ep);

typedef struct mlp_kernel_table {
    mlp_gemm_nn_fn gemm_nn;
    mlp_gemm_tn_fn gemm_tn;
    /* f[i] = act(u[i]) (f may be u), d[i] = act'(u[i]) if d is not NULL, i < n */
    void (*act)(mlp_act a, const float *u, float *f, float *d, size_t n);
    /* du[i] = dout[i] * act'(u[i]) (du may be dout) */
    void (*act_backward)(mlp_act a, const float *u, const float *dout, float *du, size_t n);
    /* the SGD rule on n contiguous parameters */
    void (*sgd)(float *w, float *v, const float *g, size_t n, float lr, float wd, float mom);
    /* e[i] = exp(x[i]) and (if em1 is not NULL) em1[i] = expm1(x[i]), for x[i] <= 0 (the tests' handle on
     * the exponential behind the activations; portable: libm) */
    void (*exp_nonpos)(const float *x, float *e, float *em1, size_t n);
    /* Sparse forward: C[r][j] = start[j] + sum over row r's entries (i, v) of v * B[i][j] (r < M, j < N), then
     * the epilogue. Rows from a CSR (x), or (spmm_nn_dense) from dense rows A [M x K] whose entries != c are
     * taken in increasing i with v = a - c: both give the same bits for the same rows. */
    void (*spmm_nn)(int M, int N, const mlp_csr *x, const float *B, int ldb, const float *start, float *C, int ldc,
                    const mlp_epi *ep);
    void (*spmm_nn_dense)(int M, int N, int K, const float *A, int lda, float c, const float *B, int ldb,
                          const float *start, float *C, int ldc, const mlp_epi *ep);
    /* Sparse weight gradient + SGD + column sums, for i < D and j < N:
     *   g[i][j] = start[j] + sum over blocks, over pixel i's entries (n, v): v * G[n][j]
     *   v[i][j] = mom v[i][j] + (g + wd w[i][j]);  w[i][j] -= lr v[i][j]        (W, V: leading dimension ldw)
     *   S[j] = sum over i = 0, 1, ... of the new w[i][j]                          (from 0.0f, in that order) */
    void (*spmm_tn_sgd)(int D, int N, const mlp_csc_block *blocks, int nblocks, const float *G, int ldg,
                        const float *start, float *W, float *V, int ldw, float lr, float wd, float mom, float *S);
} mlp_kernel_table;

/* The naive reference kernels (double accumulation): the test oracle. */
void mlp_gemm_nn_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb, const float *bias,
                     float *C, int ldc);
void mlp_gemm_tn_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc);

/* The SIMD paths exist on x86 with GNU C (gcc, clang), unless -DMLP_NO_SIMD (the build of a non-x86 machine,
 * for checking that the portable path stands alone). */
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && !defined(MLP_NO_SIMD)
#define MLP_KERNELS_X86 1
#else
#define MLP_KERNELS_X86 0
#endif

/* The paths' tables: gemm_portable.c; gemm_avx2.c and gemm_avx512.c (both gemm_simd.h, when MLP_KERNELS_X86);
 * gemm_blas.c (with MLP_BLAS: the products through cblas_sgemm, every other entry from `rows`, the best other
 * path's table). Only cpu.c, the one place that chooses a path, refers to them. */
extern const mlp_kernel_table mlp_portable_table;
extern const mlp_kernel_table mlp_avx2_table, mlp_avx512_table;
const mlp_kernel_table *mlp_blas_table(const mlp_kernel_table *rows);

/* The table of a resolved path (never AUTO); NULL if the path is not compiled in (cpu.c). */
const mlp_kernel_table *mlp_kernel_table_get(mlp_kernels k);
/* Same, but the portable table for a path without one (callers pass resolved, supported paths). */
const mlp_kernel_table *mlp_kernels_of(mlp_kernels k);

/* Threaded drivers: split the work between `threads` OpenMP threads so that results do not depend on
 * the thread count, and call the path's kernels (ep as in the kernels; may be NULL). Small products run
 * on the calling thread. */
void mlp_gemm_nn(mlp_kernels k, int threads, int M, int N, int K, const float *A, int lda, const float *B,
                 int ldb, const float *bias, float *C, int ldc, const mlp_epi *ep);
void mlp_gemm_tn(mlp_kernels k, int threads, int M, int N, int K, const float *A, int lda, const float *B,
                 int ldb, float *C, int ldc, const mlp_epi *ep);

/* dst[c][r] = src[r][c] for a rows x cols src (blocked). */
void mlp_transpose(float *dst, const float *src, int rows, int cols);

/* act'(u[i]) into d[i] with act_portable.c's scalar kernels (the portable path's derivative). */
void mlp_act_deriv(mlp_act a, float *d, const float *u, size_t n);

/* The floating-point mode of the computing threads (fpmode.c): subnormals flushed to zero (x86 MXCSR FTZ+DAZ,
 * AArch64 FPCR.FZ; elsewhere nothing). Every public function that computes brackets its work with
 *   mlp_fpmode fm; mlp_fpmode_enter(&fm); ... mlp_fpmode_leave(&fm);
 * (enter saves this thread's mode and sets flushing; leave restores it), and every thread of its parallel
 * regions (me = its number in the team, 0 = the calling thread) with
 *   mlp_fpmode tm; mlp_fpmode_enter(&tm); ... mlp_fpmode_leave_team(&tm, &fm, me);
 * mlp_fpmode_current: 1 (and m filled, for leave_team) if this thread is inside a bracket, else 0.
 * mlp_fpmode_flushes: 1 if this thread flushes now. */
typedef struct mlp_fpmode {
    unsigned long long bits, outer; /* this thread's mode at enter; the caller's before the outermost enter */
} mlp_fpmode;
void mlp_fpmode_enter(mlp_fpmode *saved);
void mlp_fpmode_leave(const mlp_fpmode *saved);
void mlp_fpmode_leave_team(const mlp_fpmode *mine, const mlp_fpmode *caller, int me);
int mlp_fpmode_current(mlp_fpmode *m);
int mlp_fpmode_flushes(void);
/* Set to 1 (before any computation, no threads running) to keep IEEE subnormals: for `make bench`'s side by
 * side figures only. */
extern int mlp_fpmode_ieee;

/* CPU feature detection (x86-64: cpuid + xgetbv; elsewhere 0). */
int mlp_cpu_has_avx2_fma(void);
int mlp_cpu_has_avx512f(void);

#endif
