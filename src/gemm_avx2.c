/* gemm_avx2.c - AVX2 + FMA kernels: register-blocked tiles of MR x NR = 6 x 16 (12 ymm accumulators).
 *
 * Per element the chain is c = bias[n] (or 0), then c = fma(a_k, b_k, c) for k = 0..K-1 in order -- the
 * same as gemm_avx512.c, so both paths give bitwise-identical C. A tile keeps its 6 x 16 block of C in
 * registers while k runs: each step loads 2 vectors of the B row, broadcasts one element of A per row
 * and issues 12 independent FMAs (FMA latency 4 cycles x 2 pipes needs >= 8 chains in flight; 12
 * accumulators + 2 B vectors + 1 broadcast use 15 of the 16 ymm registers).
 * B is walked in blocks that stay in L2 (for the training shapes the whole of B); when K is very large
 * the k range is cut into chunks and a later chunk reloads C and continues the chain (a float
 * store/load is exact). A column tail (N not a multiple of 8) uses vmaskmov loads/stores in a separate
 * instantiation, because masked stores are slow on some CPUs; masked-off lanes are never touched.
 * Compiled with function-level target attributes, so no -mavx2 flag is needed; only called when cpu.c
 * found AVX2 + FMA with YMM state enabled by the OS. */
#include "internal.h"

#include <stddef.h>

const mlp_kernel_table *mlp_gemm_avx2_table(void);

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))

#include <immintrin.h>

#define AVX2_FN __attribute__((target("avx2,fma")))
#define AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

enum {
    MR = 6,     /* rows per tile */
    NV_MAX = 2, /* 8-float vectors per tile row: NR = 16 */
    NR = 8 * NV_MAX,
    B_BUDGET = 512 << 10 /* bytes of B that one block may use: about half of L2 */
};

/* Everything a tile needs. Element (r, k) of the A operand is a[r * a_rs + k * a_ks]. */
typedef struct tile_args {
    int kc;
    const float *a;
    ptrdiff_t a_rs, a_ks;
    const float *b; /* B + k0 * ldb + j0 */
    ptrdiff_t ldb;
    const float *bias; /* start of the chain, or NULL for 0; ignored when accumulate */
    int accumulate;    /* 1: the chain continues from the values already in C */
    float *c;
    ptrdiff_t ldc;
    __m256i tail; /* lanes of the last vector (sign bit set = valid); used only when masked */
} tile_args;

/* Vector v (of nv) at p: the last one goes through the mask in a masked tile. */
AVX2_INLINE __m256 load_vec(const float *p, int v, int nv, int masked, __m256i tail) {
    if (v >= nv) return _mm256_setzero_ps();
    if (masked && v == nv - 1) return _mm256_maskload_ps(p + 8 * v, tail);
    return _mm256_loadu_ps(p + 8 * v);
}

AVX2_INLINE void store_vec(float *p, int v, int nv, int masked, __m256i tail, __m256 x) {
    if (v >= nv) return;
    if (masked && v == nv - 1)
        _mm256_maskstore_ps(p + 8 * v, tail, x);
    else
        _mm256_storeu_ps(p + 8 * v, x);
}

/* C row r of the tile; `mr > r` is compile-time after inlining, so unused accumulators vanish. */
#define ACC_DECL(r) __m256 c##r##0 = _mm256_setzero_ps(), c##r##1 = _mm256_setzero_ps()

#define ACC_SET(r, v0, v1) \
    if (mr > r) {          \
        c##r##0 = v0;      \
        c##r##1 = v1;      \
    }

#define ACC_LOAD(r)                                                \
    if (mr > r) {                                                  \
        const float *cr = t->c + r * t->ldc;                       \
        c##r##0 = load_vec(cr, 0, nv, masked, t->tail);            \
        c##r##1 = load_vec(cr, 1, nv, masked, t->tail);            \
    }

#define ACC_FMA(r)                                                 \
    if (mr > r) {                                                  \
        const __m256 ar = _mm256_set1_ps(ak[r * a_rs]);            \
        c##r##0 = _mm256_fmadd_ps(ar, b0, c##r##0);                \
        if (nv > 1) c##r##1 = _mm256_fmadd_ps(ar, b1, c##r##1);    \
    }

#define ACC_STORE(r)                                               \
    if (mr > r) {                                                  \
        float *cr = t->c + r * t->ldc;                             \
        store_vec(cr, 0, nv, masked, t->tail, c##r##0);            \
        store_vec(cr, 1, nv, masked, t->tail, c##r##1);            \
    }

/* One tile of mr rows x nv vectors (the last one masked if `masked`) over the chunk's kc steps. */
AVX2_INLINE void tile(const int mr, const int nv, const int masked, const tile_args *t) {
    ACC_DECL(0);
    ACC_DECL(1);
    ACC_DECL(2);
    ACC_DECL(3);
    ACC_DECL(4);
    ACC_DECL(5);
    const __m256i tail = t->tail;
    if (t->accumulate) {
        ACC_LOAD(0) ACC_LOAD(1) ACC_LOAD(2) ACC_LOAD(3) ACC_LOAD(4) ACC_LOAD(5)
    } else if (t->bias) {
        const __m256 i0 = load_vec(t->bias, 0, nv, masked, tail), i1 = load_vec(t->bias, 1, nv, masked, tail);
        ACC_SET(0, i0, i1)
        ACC_SET(1, i0, i1)
        ACC_SET(2, i0, i1)
        ACC_SET(3, i0, i1)
        ACC_SET(4, i0, i1)
        ACC_SET(5, i0, i1)
    }
    const float *ak = t->a, *bk = t->b;
    const ptrdiff_t a_rs = t->a_rs, a_ks = t->a_ks, ldb = t->ldb;
    const int kc = t->kc;
    for (int k = 0; k < kc; k++) {
        const __m256 b0 = load_vec(bk, 0, nv, masked, tail), b1 = load_vec(bk, 1, nv, masked, tail);
        ACC_FMA(0) ACC_FMA(1) ACC_FMA(2) ACC_FMA(3) ACC_FMA(4) ACC_FMA(5)
        ak += a_ks;
        bk += ldb;
    }
    ACC_STORE(0) ACC_STORE(1) ACC_STORE(2) ACC_STORE(3) ACC_STORE(4) ACC_STORE(5)
}

/* The 24 instantiations (rows 1..6 x vectors 1..2 x plain/masked), called through a table. */
typedef void (*tile_fn)(const tile_args *t);
#define TILE_FN(m, n, s) \
    static AVX2_FN void tile_##m##x##n##s(const tile_args *t) { tile(m, n, s, t); }
#define TILE_ROW(m) TILE_FN(m, 1, 0) TILE_FN(m, 2, 0) TILE_FN(m, 1, 1) TILE_FN(m, 2, 1)
TILE_ROW(1) TILE_ROW(2) TILE_ROW(3) TILE_ROW(4) TILE_ROW(5) TILE_ROW(6)
#define TILE_PTRS(m) {{tile_##m##x10, tile_##m##x20}, {tile_##m##x11, tile_##m##x21}}
static const tile_fn tile_fns[MR][2][NV_MAX] = {TILE_PTRS(1), TILE_PTRS(2), TILE_PTRS(3),
                                                TILE_PTRS(4), TILE_PTRS(5), TILE_PTRS(6)};

/* K <= 0: every chain is just its start value. */
static void fill_start(int M, int N, const float *bias, float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int n = 0; n < N; n++) C[(ptrdiff_t)i * ldc + n] = bias ? bias[n] : 0.0f;
}

static int min_int(int a, int b) { return a < b ? a : b; }

/* Mask with the first `lanes` (1..8) lanes valid. */
static AVX2_FN __m256i lane_mask(int lanes) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Columns [j0, j0 + nc) of C, all rows, k chunk [k0, k0 + kc). */
static AVX2_FN void block(int M, int nc, int k0, int kc, const float *A, ptrdiff_t a_rs, ptrdiff_t a_ks,
                          const float *B, int ldb, const float *bias, float *C, int ldc) {
    tile_args t;
    t.kc = kc;
    t.a_rs = a_rs;
    t.a_ks = a_ks;
    t.ldb = ldb;
    t.ldc = ldc;
    t.accumulate = k0 > 0;
    for (int i0 = 0; i0 < M; i0 += MR) {
        const int mr = min_int(MR, M - i0);
        for (int j0 = 0; j0 < nc; j0 += NR) {
            const int nw = min_int(NR, nc - j0), nv = (nw + 7) / 8, lanes = nw - 8 * (nv - 1);
            t.a = A + i0 * a_rs + k0 * a_ks;
            t.b = B + (ptrdiff_t)k0 * ldb + j0;
            t.bias = bias ? bias + j0 : NULL;
            t.c = C + (ptrdiff_t)i0 * ldc + j0;
            t.tail = lane_mask(lanes);
            tile_fns[mr - 1][lanes < 8][nv - 1](&t);
        }
    }
}

/* Shared body of nn (a_rs = lda, a_ks = 1) and tn (a_rs = 1, a_ks = lda). */
static AVX2_FN void gemm(int M, int N, int K, const float *A, ptrdiff_t a_rs, ptrdiff_t a_ks, const float *B,
                         int ldb, const float *bias, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        fill_start(M, N, bias, C, ldc);
        return;
    }
    /* Blocks of B (kc x nc) of at most B_BUDGET bytes, so that all row tiles stream over a block that
     * stays in L2: whole K when possible (the training shapes), else fewer columns, else k chunks. */
    const size_t col_bytes = (size_t)K * sizeof(float);
    int nc_max = N, kc_max = K;
    if (col_bytes * (size_t)N > B_BUDGET) {
        nc_max = (int)(B_BUDGET / col_bytes) / NR * NR;
        if (nc_max < NR) {
            nc_max = NR;
            kc_max = (int)(B_BUDGET / (NR * sizeof(float)));
            const int chunks = (K + kc_max - 1) / kc_max;
            kc_max = (K + chunks - 1) / chunks; /* balanced: no short last chunk */
        }
    }
    for (int j0 = 0; j0 < N; j0 += nc_max) {
        const int nc = min_int(nc_max, N - j0);
        for (int k0 = 0; k0 < K; k0 += kc_max)
            block(M, nc, k0, min_int(kc_max, K - k0), A, a_rs, a_ks, B + j0, ldb, bias ? bias + j0 : NULL, C + j0,
                  ldc);
    }
}

static AVX2_FN void avx2_nn(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                            const float *bias, float *C, int ldc) {
    gemm(M, N, K, A, lda, 1, B, ldb, bias, C, ldc);
}

static AVX2_FN void avx2_tn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                            int ldc) {
    gemm(M, N, K, A, 1, lda, B, ldb, NULL, C, ldc);
}

static const mlp_kernel_table avx2_table = {avx2_nn, avx2_tn};

const mlp_kernel_table *mlp_gemm_avx2_table(void) { return &avx2_table; }

#else

const mlp_kernel_table *mlp_gemm_avx2_table(void) { return NULL; }

#endif
