/* gemm.c - the threaded drivers of the dense products: split C between threads so that the result does not
 * depend on the thread count, and call the chosen path's kernels (cpu.c: mlp_kernels_of). Each element of C
 * is one chain whichever thread computes it (kernels.h), so any split gives the same bits. */
#include "kernels.h"

#include <stddef.h>

#ifdef _OPENMP
#include <omp.h>
#endif

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
    const mlp_epi *ep;
} gemm_call;

/* The epilogue of a part: its pointers moved to the part's origin (r0, c0). */
static mlp_epi epi_shift(const mlp_epi *ep, int r0, int c0) {
    mlp_epi e = *ep;
    if (e.f) e.f += r0 * e.ldf + c0;
    if (e.d) e.d += r0 * e.ldd + c0;
    if (e.w) e.w += r0 * e.ldw + c0;
    if (e.v) e.v += r0 * e.ldw + c0;
    return e;
}

static void gemm_call_part(const gemm_call *g, int r0, int r1, int c0, int c1) {
    if (r1 <= r0 || c1 <= c0) return;
    const float *B = g->B + c0;
    float *C = g->C + (ptrdiff_t)r0 * g->ldc + c0;
    mlp_epi part;
    const mlp_epi *ep = NULL;
    if (g->ep) {
        part = epi_shift(g->ep, r0, c0);
        ep = &part;
    }
    if (g->tn)
        g->table->gemm_tn(r1 - r0, c1 - c0, g->K, g->A + r0, g->lda, B, g->ldb, C, g->ldc, ep);
    else
        g->table->gemm_nn(r1 - r0, c1 - c0, g->K, g->A + (ptrdiff_t)r0 * g->lda, g->lda, B, g->ldb,
                          g->bias ? g->bias + c0 : NULL, C, g->ldc, ep);
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
    mlp_fpmode caller;
    const int in_lib = mlp_fpmode_current(&caller);
#pragma omp parallel num_threads(parts)
    {
        /* the runtime may give fewer threads than asked: split by what we got. Each thread takes the calling
         * thread's subnormal mode (fpmode.c) when it is inside the library's bracket, so the bits do not depend
         * on who computes. */
        const int team = omp_get_num_threads(), me = omp_get_thread_num();
        mlp_fpmode tm;
        if (in_lib) mlp_fpmode_enter(&tm);
        if (by_rows)
            gemm_call_part(g, split_point(M, ROW_GRAIN, me, team), split_point(M, ROW_GRAIN, me + 1, team), 0, N);
        else
            gemm_call_part(g, 0, M, split_point(N, COL_GRAIN, me, team), split_point(N, COL_GRAIN, me + 1, team));
        if (in_lib) mlp_fpmode_leave_team(&tm, &caller, me);
    }
#else
    gemm_call_part(g, 0, M, 0, N);
#endif
}

void mlp_gemm_nn(mlp_kernels k, int threads, int M, int N, int K, const float *A, int lda, const float *B,
                 int ldb, const float *bias, float *C, int ldc, const mlp_epi *ep) {
    if (M <= 0 || N <= 0) return;
    gemm_call g = {mlp_kernels_of(k), 0, K, A, lda, B, ldb, bias, C, ldc, ep};
    gemm_run(&g, threads, M, N);
}

void mlp_gemm_tn(mlp_kernels k, int threads, int M, int N, int K, const float *A, int lda, const float *B,
                 int ldb, float *C, int ldc, const mlp_epi *ep) {
    if (M <= 0 || N <= 0) return;
    gemm_call g = {mlp_kernels_of(k), 1, K, A, lda, B, ldb, NULL, C, ldc, ep};
    gemm_run(&g, threads, M, N);
}

/* dst[c][r] = src[r][c] for a rows x cols src, in 32 x 32 blocks (both sides stay in L1). */
void mlp_transpose(float *dst, const float *src, int rows, int cols) {
    enum { TB = 32 };
    for (int r0 = 0; r0 < rows; r0 += TB)
        for (int c0 = 0; c0 < cols; c0 += TB) {
            const int r1 = r0 + TB < rows ? r0 + TB : rows, c1 = c0 + TB < cols ? c0 + TB : cols;
            for (int r = r0; r < r1; r++)
                for (int c = c0; c < c1; c++) dst[(size_t)c * rows + r] = src[(size_t)r * cols + c];
        }
}
