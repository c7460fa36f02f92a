/* gemm_avx512.c - AVX-512 kernels: register-blocked tiles of MR x NR = 6 x 64 (24 zmm accumulators).
 *
 * Per element the chain is c = bias[n] (or 0), then c = fma(a_k, b_k, c) for k = 0..K-1 in order -- the
 * same as gemm_avx2.c, so both paths give bitwise-identical C. A tile keeps its 6 x 64 block of C in
 * registers while k runs: each step loads 4 vectors of the B row, broadcasts one element of A per row
 * and issues 24 independent FMAs (FMA latency 4 cycles x 2 pipes needs >= 8 chains in flight).
 * B is walked in blocks that stay in L2 while all row tiles stream over them (for the training shapes
 * the whole of B); when K is very large the k range is cut into chunks and a later chunk reloads C and
 * continues the chain (a float store/load is exact, so the chain is unchanged).
 * Column tails use masked loads/stores (the masked lanes are never read or written); row tails and
 * narrow tiles use smaller instantiations of the same tile.
 * B is read in place, not packed: on the project machine (measured FMA peak 116 GFLOPS per core for
 * both 256- and 512-bit vectors) these tiles run the K = 784 and K = 100 training products at 108-115
 * GFLOPS, so a packing pass over B could only add time.
 * Compiled with function-level target attributes, so no -mavx512f flag is needed; only called when
 * cpu.c found AVX-512F/VL/DQ + FMA with ZMM state enabled by the OS. */
#include "internal.h"

#include <stddef.h>

const mlp_kernel_table *mlp_gemm_avx512_table(void);

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))

#include <immintrin.h>

#define AVX512_FN __attribute__((target("avx512f,avx512vl,avx512dq,fma")))
#define AVX512_INLINE static inline __attribute__((always_inline, target("avx512f,avx512vl,avx512dq,fma")))

enum {
    MR = 6,     /* rows per tile */
    NV_MAX = 4, /* 16-float vectors per tile row: NR = 64 */
    NR = 16 * NV_MAX,
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
    __mmask16 tail; /* valid lanes of the last vector of each row */
} tile_args;

/* The mask of vector v in a tile of nv vectors: only the last one can be partial. */
#define MASK(v) ((v) == nv - 1 ? t->tail : (__mmask16)0xFFFF)

/* C row r of the tile: declare, set, multiply-add, store. `if (mr > r)` and `if (nv > v)` are
 * compile-time after inlining, so unused accumulators vanish and the used ones live in registers. */
#define ACC_DECL(r)                                                                                    \
    __m512 c##r##0 = _mm512_setzero_ps(), c##r##1 = _mm512_setzero_ps(), c##r##2 = _mm512_setzero_ps(), \
           c##r##3 = _mm512_setzero_ps()

#define ACC_SET(r, v0, v1, v2, v3) \
    if (mr > r) {                  \
        c##r##0 = v0;              \
        c##r##1 = v1;              \
        c##r##2 = v2;              \
        c##r##3 = v3;              \
    }

#define ACC_LOAD(r)                                                                 \
    if (mr > r) {                                                                   \
        const float *cr = t->c + r * t->ldc;                                        \
        c##r##0 = _mm512_maskz_loadu_ps(MASK(0), cr);                               \
        if (nv > 1) c##r##1 = _mm512_maskz_loadu_ps(MASK(1), cr + 16);              \
        if (nv > 2) c##r##2 = _mm512_maskz_loadu_ps(MASK(2), cr + 32);              \
        if (nv > 3) c##r##3 = _mm512_maskz_loadu_ps(MASK(3), cr + 48);              \
    }

#define ACC_FMA(r)                                                                  \
    if (mr > r) {                                                                   \
        const __m512 ar = _mm512_set1_ps(ak[r * a_rs]);                             \
        c##r##0 = _mm512_fmadd_ps(ar, b0, c##r##0);                                 \
        if (nv > 1) c##r##1 = _mm512_fmadd_ps(ar, b1, c##r##1);                     \
        if (nv > 2) c##r##2 = _mm512_fmadd_ps(ar, b2, c##r##2);                     \
        if (nv > 3) c##r##3 = _mm512_fmadd_ps(ar, b3, c##r##3);                     \
    }

#define ACC_STORE(r)                                                                \
    if (mr > r) {                                                                   \
        float *cr = t->c + r * t->ldc;                                              \
        _mm512_mask_storeu_ps(cr, MASK(0), c##r##0);                                \
        if (nv > 1) _mm512_mask_storeu_ps(cr + 16, MASK(1), c##r##1);               \
        if (nv > 2) _mm512_mask_storeu_ps(cr + 32, MASK(2), c##r##2);               \
        if (nv > 3) _mm512_mask_storeu_ps(cr + 48, MASK(3), c##r##3);               \
    }

/* Vector v of a row of B (or of bias) at p, zero beyond the tile. */
AVX512_INLINE __m512 load_vec(const float *p, int v, int nv, __mmask16 tail) {
    if (v >= nv) return _mm512_setzero_ps();
    return _mm512_maskz_loadu_ps(v == nv - 1 ? tail : (__mmask16)0xFFFF, p + 16 * v);
}

/* One tile of mr rows x nv vectors over the chunk's kc steps. */
AVX512_INLINE void tile(const int mr, const int nv, const tile_args *t) {
    ACC_DECL(0);
    ACC_DECL(1);
    ACC_DECL(2);
    ACC_DECL(3);
    ACC_DECL(4);
    ACC_DECL(5);
    if (t->accumulate) {
        ACC_LOAD(0) ACC_LOAD(1) ACC_LOAD(2) ACC_LOAD(3) ACC_LOAD(4) ACC_LOAD(5)
    } else if (t->bias) {
        const __m512 i0 = load_vec(t->bias, 0, nv, t->tail), i1 = load_vec(t->bias, 1, nv, t->tail);
        const __m512 i2 = load_vec(t->bias, 2, nv, t->tail), i3 = load_vec(t->bias, 3, nv, t->tail);
        ACC_SET(0, i0, i1, i2, i3)
        ACC_SET(1, i0, i1, i2, i3)
        ACC_SET(2, i0, i1, i2, i3)
        ACC_SET(3, i0, i1, i2, i3)
        ACC_SET(4, i0, i1, i2, i3)
        ACC_SET(5, i0, i1, i2, i3)
    }
    const float *ak = t->a, *bk = t->b;
    const ptrdiff_t a_rs = t->a_rs, a_ks = t->a_ks, ldb = t->ldb;
    const __mmask16 tail = t->tail;
    const int kc = t->kc;
    for (int k = 0; k < kc; k++) {
        const __m512 b0 = load_vec(bk, 0, nv, tail), b1 = load_vec(bk, 1, nv, tail);
        const __m512 b2 = load_vec(bk, 2, nv, tail), b3 = load_vec(bk, 3, nv, tail);
        ACC_FMA(0) ACC_FMA(1) ACC_FMA(2) ACC_FMA(3) ACC_FMA(4) ACC_FMA(5)
        ak += a_ks;
        bk += ldb;
    }
    ACC_STORE(0) ACC_STORE(1) ACC_STORE(2) ACC_STORE(3) ACC_STORE(4) ACC_STORE(5)
}

/* The 24 instantiations (rows 1..6 x vectors 1..4), called through a table. */
typedef void (*tile_fn)(const tile_args *t);
#define TILE_FN(m, n) \
    static AVX512_FN void tile_##m##x##n(const tile_args *t) { tile(m, n, t); }
#define TILE_ROW(m) TILE_FN(m, 1) TILE_FN(m, 2) TILE_FN(m, 3) TILE_FN(m, 4)
TILE_ROW(1) TILE_ROW(2) TILE_ROW(3) TILE_ROW(4) TILE_ROW(5) TILE_ROW(6)
#define TILE_PTRS(m) {tile_##m##x1, tile_##m##x2, tile_##m##x3, tile_##m##x4}
static const tile_fn tile_fns[MR][NV_MAX] = {TILE_PTRS(1), TILE_PTRS(2), TILE_PTRS(3),
                                             TILE_PTRS(4), TILE_PTRS(5), TILE_PTRS(6)};

/* K <= 0: every chain is just its start value. */
static void fill_start(int M, int N, const float *bias, float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int n = 0; n < N; n++) C[(ptrdiff_t)i * ldc + n] = bias ? bias[n] : 0.0f;
}

static int min_int(int a, int b) { return a < b ? a : b; }

/* Columns [j0, j0 + nc) of C, all rows, k chunk [k0, k0 + kc). */
static AVX512_FN void block(int M, int nc, int k0, int kc, const float *A, ptrdiff_t a_rs, ptrdiff_t a_ks,
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
            const int nw = min_int(NR, nc - j0), nv = (nw + 15) / 16, lanes = nw - 16 * (nv - 1);
            t.a = A + i0 * a_rs + k0 * a_ks;
            t.b = B + (ptrdiff_t)k0 * ldb + j0;
            t.bias = bias ? bias + j0 : NULL;
            t.c = C + (ptrdiff_t)i0 * ldc + j0;
            t.tail = (__mmask16)((1u << lanes) - 1u);
            tile_fns[mr - 1][nv - 1](&t);
        }
    }
}

/* Shared body of nn (a_rs = lda, a_ks = 1) and tn (a_rs = 1, a_ks = lda). */
static AVX512_FN void gemm(int M, int N, int K, const float *A, ptrdiff_t a_rs, ptrdiff_t a_ks, const float *B,
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

static AVX512_FN void avx512_nn(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                                const float *bias, float *C, int ldc) {
    gemm(M, N, K, A, lda, 1, B, ldb, bias, C, ldc);
}

static AVX512_FN void avx512_tn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                                int ldc) {
    gemm(M, N, K, A, 1, lda, B, ldb, NULL, C, ldc);
}

static const mlp_kernel_table avx512_table = {avx512_nn, avx512_tn};

const mlp_kernel_table *mlp_gemm_avx512_table(void) { return &avx512_table; }

#else

const mlp_kernel_table *mlp_gemm_avx512_table(void) { return NULL; }

#endif
