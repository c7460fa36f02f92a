/* gemm_blas.c - the optional "blas" kernel path: the products through cblas_sgemm, for comparison with our own
 * kernels (docs/PERFORMANCE.md). Compiled in only by `make BLAS=openblas` (or BLAS=blas, the reference CBLAS),
 * which defines MLP_BLAS and links the library; otherwise the path does not exist (its table is NULL).
 *
 * The epilogues, activations, SGD loop and the sparse first layer are those of the best SIMD path of this CPU
 * (or the portable ones), so a run on this path differs from that path only in the dense products. Unlike our
 * kernels, a BLAS does not promise one fixed chain per element: the bits may depend on the shape of each call,
 * hence on the thread count, and the tests hold this path to the double reference only. OpenBLAS is told to use
 * one thread per call (the trainer already splits the work between its own threads). */
#include "kernels.h"

#ifdef MLP_BLAS

#include <cblas.h>

#ifdef MLP_BLAS_OPENBLAS
void openblas_set_num_threads(int);
#endif

#include <stdatomic.h>

/* The table whose row operations (epilogues, activations, SGD, sparse layer) this path uses: set by cpu.c on
 * every mlp_blas_table call, always to the same table for a given CPU. */
static _Atomic(const mlp_kernel_table *) rows_table;
static const mlp_kernel_table *helper(void) { return atomic_load_explicit(&rows_table, memory_order_relaxed); }

/* The epilogue on all of C, row by row, with the helper path's row operations. */
static void blas_epilogue(const mlp_epi *ep, float *C, int ldc, int M, int N) {
    const mlp_kernel_table *h = helper();
    for (int r = 0; r < M; r++) {
        float *c = C + (ptrdiff_t)r * ldc;
        switch (ep->kind) {
        case MLP_EPI_ACT: h->act(ep->act, c, ep->f + r * ep->ldf, ep->d ? ep->d + r * ep->ldd : NULL, (size_t)N); break;
        case MLP_EPI_MUL: {
            const float *m = ep->d + r * ep->ldd;
            for (int j = 0; j < N; j++) c[j] = c[j] * m[j];
            break;
        }
        case MLP_EPI_SGD:
            h->sgd(ep->w + r * ep->ldw, ep->v + r * ep->ldw, c, (size_t)N, ep->lr, ep->wd, ep->mom);
            break;
        default: break;
        }
    }
}

static void blas_nn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, const float *bias, float *C,
                    int ldc, const mlp_epi *ep) {
    for (int r = 0; r < M; r++)
        for (int j = 0; j < N; j++) C[(ptrdiff_t)r * ldc + j] = bias ? bias[j] : 0.0f;
    if (K > 0) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb, 1.0f, C, ldc);
    if (ep) blas_epilogue(ep, C, ldc, M, N);
}

static void blas_tn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc,
                    const mlp_epi *ep) {
    for (int r = 0; r < M; r++)
        for (int j = 0; j < N; j++) C[(ptrdiff_t)r * ldc + j] = 0.0f;
    if (K > 0) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc);
    if (ep) blas_epilogue(ep, C, ldc, M, N);
}

static void blas_act(mlp_act a, const float *u, float *f, float *d, size_t n) { helper()->act(a, u, f, d, n); }
static void blas_act_backward(mlp_act a, const float *u, const float *dout, float *du, size_t n) {
    helper()->act_backward(a, u, dout, du, n);
}
static void blas_sgd(float *w, float *v, const float *g, size_t n, float lr, float wd, float mom) {
    helper()->sgd(w, v, g, n, lr, wd, mom);
}
static void blas_exp(const float *x, float *e, float *em1, size_t n) { helper()->exp_nonpos(x, e, em1, n); }
static void blas_spmm_nn(int M, int N, const mlp_csr *x, const float *B, int ldb, const float *start, float *C, int ldc,
                         const mlp_epi *ep) {
    helper()->spmm_nn(M, N, x, B, ldb, start, C, ldc, ep);
}
static void blas_spmm_nn_dense(int M, int N, int K, const float *A, int lda, float c, const float *B, int ldb,
                               const float *start, float *C, int ldc, const mlp_epi *ep) {
    helper()->spmm_nn_dense(M, N, K, A, lda, c, B, ldb, start, C, ldc, ep);
}
static void blas_spmm_tn_sgd(int D, int N, const mlp_csc_block *blocks, int nblocks, const float *G, int ldg,
                             const float *start, float *W, float *V, int ldw, float lr, float wd, float mom, float *S) {
    helper()->spmm_tn_sgd(D, N, blocks, nblocks, G, ldg, start, W, V, ldw, lr, wd, mom, S);
}

static const mlp_kernel_table blas_table = {blas_nn,  blas_tn,      blas_act,     blas_act_backward,  blas_sgd,
                                            blas_exp, blas_spmm_nn, blas_spmm_nn_dense, blas_spmm_tn_sgd};

const mlp_kernel_table *mlp_blas_table(const mlp_kernel_table *rows) {
    if (helper() != rows) {
        atomic_store_explicit(&rows_table, rows, memory_order_relaxed);
#ifdef MLP_BLAS_OPENBLAS
        openblas_set_num_threads(1);
#endif
    }
    return &blas_table;
}

#else

const mlp_kernel_table *mlp_blas_table(const mlp_kernel_table *rows) {
    (void)rows;
    return NULL;
}

#endif
