/* internal.h - declarations shared between the library's files; not installed. */
#ifndef MLP_INTERNAL_H
#define MLP_INTERNAL_H

#include "mlp.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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
 * Each path's activation is its own implementation (portable: act.c's scalar libm kernels; AVX2 and
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

/* The table of a resolved path (never AUTO); NULL if the path is not compiled in. */
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

/* ------------------------------------------------------------------ network internals (net.c, loss.c)
 *
 * The forward pass of rows [r0, r1) of x into the workspace rows r0..r1 (independent of other rows). With
 * start0 (not NULL) the first layer is the sparse product around the value c (internal.h, spmm_nn_dense) with
 * start0 = b + c S (mlp_net_sparse_start). */
void mlp_net_forward_rows(mlp_net *net, const float *x, int r0, int r1, const float *start0, float c);
/* The background value of a set of rows: the majority value of the first (up to) 64 rows, if it fills at least
 * 60% of them (returns 1 and sets *c), else 0. Rows must be at most 65535 wide. */
int mlp_input_background(const float *x, int n, int dim, float *c);
/* Column sums S of W_0 (over inputs, from 0.0f in increasing order, the chain spmm_tn_sgd keeps) into
 * net->sparse0 and start = b + c S into net->sparse0 + width1; returns start. */
const float *mlp_net_sparse_start(mlp_net *net, float c);
/* S[o] = sum_i wt[i][o] for a [D x H] row-major wt, from 0.0f in increasing i. */
void mlp_column_sums(float *S, const float *wt, int D, int H);
/* How many threads a row-parallel pass over n rows should use (>= 1, <= net->threads). */
int mlp_net_row_threads(const mlp_net *net, int n);

/* Per-row losses (E_n, the values mlp_loss_eval adds up in row order), argmax hits and scaled gradients. */
void mlp_loss_rows(const mlp_loss_cfg *cfg, const float *logits, const uint8_t *labels, int N, int K,
                   float *dlogits, float grad_scale, double *row_loss, unsigned char *row_ok);

/* The fused training step, in three parts run by every thread of a team (part = thread number, parts =
 * team size) with a barrier between parts:
 *   forward0  layer 0's product for this thread's output units, bias and activation (f, f') in the epilogue
 *   middle    for this thread's batch rows: the other layers' forward, the loss, G_{L-1} .. G_0
 *   update    layer 0's weight gradient for this thread's units with the SGD rule in the epilogue (W_0 and
 *             its momentum are kept transposed, in wt[0] and vt0, for the whole epoch), the biases, and the
 *             updates of the other layers by units of 16 output rows
 * Results are bitwise those of forward + loss + backward + mlp_sgd_step on the same path, for any team
 * size. a0 (layer 0's activations) must alternate between two buffers from one step to the next: a thread
 * may start the next forward0 while another still reads a0 in update. */
/* The sparse first layer of a step (internal.h's sparse section): the batch's rows compressed around c, the
 * CSC blocks of MLP_CSC_ROWS rows each (built by mlp_step_middle, block b by the thread that owns its rows),
 * and the column sums S of W_0 with a start vector, both [width1]. */
#define MLP_CSC_ROWS 16
typedef struct mlp_step_sparse {
    float c;
    mlp_csr rows;
    int nblocks;
    mlp_csc_block *blocks; /* [nblocks] */
    uint32_t *pstart;      /* storage: [nblocks x (width0 + 1)] */
    uint16_t *row;         /* storage: cap entries per block */
    float *val;
    size_t cap;
    float *S, *start;
} mlp_step_sparse;

typedef struct mlp_step {
    const float *x;        /* batch [nb x width0] (dense first layer) */
    mlp_step_sparse *sp;   /* or the sparse first layer (then x is not used) */
    const uint8_t *y;      /* labels [nb] */
    int nb;
    float *a0;             /* layer 0's activations [batch x width1] (hidden layer 0 only) */
    float *d[MLP_MAX_LAYERS];  /* f'(u_l) [batch x width_{l+1}], hidden layers */
    float *g[MLP_MAX_LAYERS];  /* G_l = dE/du_l [batch x width_{l+1}]; g[L-1] = dlogits */
    float *gt0, *vt0;      /* layer 0's gradient (scratch) and momentum, transposed [width0 x width1] */
    double *row_loss;      /* [nb] */
    unsigned char *row_ok; /* [nb] */
    const mlp_loss_cfg *loss;
    float grad_scale, lr, wd, mom;
} mlp_step;

void mlp_step_forward0(mlp_net *net, const mlp_step *s, int part, int parts);
void mlp_step_middle(mlp_net *net, const mlp_step *s, int part, int parts);
void mlp_step_update(mlp_net *net, const mlp_step *s, int part, int parts);
/* Before the first step: W_0 and its momentum into wt[0] / vt0 (and S, if not NULL, the column sums). After
 * the last: back into params and momentum. (The fused step does not materialize layer 0's gradient:
 * net->grads is not meaningful after it.) */
void mlp_step_enter(mlp_net *net, float *vt0, float *S);
void mlp_step_leave(mlp_net *net, const float *vt0);

/* mlp_trainer_epoch with the team of each step given (teams[s] != 0: all threads, 0: thread 0 alone) instead of
 * chosen by the trainer's timing policy: for the tests (the results must not depend on it). */
mlp_status mlp_trainer_epoch_teams(mlp_trainer *t, mlp_epoch_metrics *m, const unsigned char *teams, mlp_error *err);

/* act'(u[i]) into d[i] with act.c's scalar kernels (the portable path's derivative). */
void mlp_act_deriv(mlp_act a, float *d, const float *u, size_t n);

/* CPU feature detection (x86-64: cpuid + xgetbv; elsewhere 0). */
int mlp_cpu_has_avx2_fma(void);
int mlp_cpu_has_avx512f(void);

#endif
