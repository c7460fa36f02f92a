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
#include "kernels.h"

#include <stddef.h>

const mlp_kernel_table *mlp_gemm_avx512_table(void);

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && !defined(MLP_NO_SIMD)

#include <immintrin.h>

#define VM_W 16
#define VMATH_FN static inline __attribute__((always_inline, target("avx512f,avx512vl,avx512dq,fma")))
#include "vmath.h"

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
    /* SGD tiles: the tile is the gradient of w (momentum v), both with leading dimension ldw */
    float *w, *v;
    ptrdiff_t ldw;
    float lr, wd, mom;
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

/* The SGD rule on row r of the tile instead of storing it (kernels.h's MLP_EPI_SGD, same operations):
 *   v = mom v + (g + wd w);  w = w - lr v                                                            */
#define SGD_VEC(r, x)                                                                               \
    if (nv > x) {                                                                                   \
        float *wp = t->w + r * t->ldw + 16 * x, *vp = t->v + r * t->ldw + 16 * x;                  \
        const __m512 w_ = _mm512_maskz_loadu_ps(MASK(x), wp);                                       \
        const __m512 v_ = _mm512_add_ps(_mm512_mul_ps(mom, _mm512_maskz_loadu_ps(MASK(x), vp)),   \
                                        _mm512_add_ps(c##r##x, _mm512_mul_ps(wd, w_)));            \
        _mm512_mask_storeu_ps(vp, MASK(x), v_);                                                     \
        _mm512_mask_storeu_ps(wp, MASK(x), _mm512_sub_ps(w_, _mm512_mul_ps(lr, v_)));              \
    }
#define ACC_SGD(r)                                                                                  \
    if (mr > r) {                                                                                   \
        SGD_VEC(r, 0) SGD_VEC(r, 1) SGD_VEC(r, 2) SGD_VEC(r, 3)                                     \
    }

/* Vector v of a row of B (or of bias) at p, zero beyond the tile. */
AVX512_INLINE __m512 load_vec(const float *p, int v, int nv, __mmask16 tail) {
    if (v >= nv) return _mm512_setzero_ps();
    return _mm512_maskz_loadu_ps(v == nv - 1 ? tail : (__mmask16)0xFFFF, p + 16 * v);
}

/* One tile of mr rows x nv vectors over the chunk's kc steps; stored, or (sgd) applied as a gradient. */
AVX512_INLINE void tile(const int mr, const int nv, const int sgd, const tile_args *t) {
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
    if (sgd) {
        const __m512 lr = _mm512_set1_ps(t->lr), wd = _mm512_set1_ps(t->wd), mom = _mm512_set1_ps(t->mom);
        ACC_SGD(0) ACC_SGD(1) ACC_SGD(2) ACC_SGD(3) ACC_SGD(4) ACC_SGD(5)
    } else {
        ACC_STORE(0) ACC_STORE(1) ACC_STORE(2) ACC_STORE(3) ACC_STORE(4) ACC_STORE(5)
    }
}

/* The 48 instantiations (rows 1..6 x vectors 1..4 x store/SGD), called through a table. */
typedef void (*tile_fn)(const tile_args *t);
#define TILE_FN(m, n, g) \
    static AVX512_FN void tile_##m##x##n##g(const tile_args *t) { tile(m, n, g, t); }
#define TILE_ROW(m) \
    TILE_FN(m, 1, 0) TILE_FN(m, 2, 0) TILE_FN(m, 3, 0) TILE_FN(m, 4, 0) \
    TILE_FN(m, 1, 1) TILE_FN(m, 2, 1) TILE_FN(m, 3, 1) TILE_FN(m, 4, 1)
TILE_ROW(1) TILE_ROW(2) TILE_ROW(3) TILE_ROW(4) TILE_ROW(5) TILE_ROW(6)
#define TILE_PTRS(m) {{tile_##m##x10, tile_##m##x20, tile_##m##x30, tile_##m##x40}, \
                      {tile_##m##x11, tile_##m##x21, tile_##m##x31, tile_##m##x41}}
static const tile_fn tile_fns[MR][2][NV_MAX] = {TILE_PTRS(1), TILE_PTRS(2), TILE_PTRS(3),
                                                TILE_PTRS(4), TILE_PTRS(5), TILE_PTRS(6)};

/* K <= 0: every chain is just its start value. */
static void fill_start(int M, int N, const float *bias, float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int n = 0; n < N; n++) C[(ptrdiff_t)i * ldc + n] = bias ? bias[n] : 0.0f;
}

static int min_int(int a, int b) { return a < b ? a : b; }

/* Columns [jb, jb + nc) of C, all rows, k chunk [k0, k0 + kc); the epilogue (if any: only on the last
 * chunk) runs on each tile as soon as it is stored. */
static AVX512_FN void block(int M, int jb, int nc, int k0, int kc, const float *A, ptrdiff_t a_rs,
                            ptrdiff_t a_ks, const float *B, int ldb, const float *bias, float *C, int ldc,
                            const mlp_epi *ep) {
    tile_args t;
    t.kc = kc;
    t.a_rs = a_rs;
    t.a_ks = a_ks;
    t.ldb = ldb;
    t.ldc = ldc;
    t.accumulate = k0 > 0;
    const int sgd = ep && ep->kind == MLP_EPI_SGD;
    if (sgd) {
        t.ldw = ep->ldw;
        t.lr = ep->lr;
        t.wd = ep->wd;
        t.mom = ep->mom;
    }
    for (int i0 = 0; i0 < M; i0 += MR) {
        const int mr = min_int(MR, M - i0);
        for (int j0 = 0; j0 < nc; j0 += NR) {
            const int nw = min_int(NR, nc - j0), nv = (nw + 15) / 16, lanes = nw - 16 * (nv - 1);
            t.a = A + i0 * a_rs + k0 * a_ks;
            t.b = B + (ptrdiff_t)k0 * ldb + jb + j0;
            t.bias = bias ? bias + jb + j0 : NULL;
            t.c = C + (ptrdiff_t)i0 * ldc + jb + j0;
            t.tail = (__mmask16)((1u << lanes) - 1u);
            if (sgd) {
                t.w = ep->w + i0 * ep->ldw + jb + j0;
                t.v = ep->v + i0 * ep->ldw + jb + j0;
            }
            tile_fns[mr - 1][sgd][nv - 1](&t);
            if (ep && !sgd) vm_epilogue(ep, C, ldc, i0, jb + j0, mr, nw);
        }
    }
}

/* Shared body of nn (a_rs = lda, a_ks = 1) and tn (a_rs = 1, a_ks = lda). */
static AVX512_FN void gemm(int M, int N, int K, const float *A, ptrdiff_t a_rs, ptrdiff_t a_ks, const float *B,
                           int ldb, const float *bias, float *C, int ldc, const mlp_epi *ep) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        fill_start(M, N, bias, C, ldc);
        if (ep) vm_epilogue(ep, C, ldc, 0, 0, M, N);
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
            block(M, j0, nc, k0, min_int(kc_max, K - k0), A, a_rs, a_ks, B, ldb, bias, C, ldc,
                  k0 + kc_max >= K ? ep : NULL);
    }
}

/* ------------------------------------------------------------------ sparse first layer (kernels.h)
 *
 * Column blocks of up to SNV vectors (128 floats) stay in registers while a row's (or a pixel's) entries
 * stream by: each entry is one broadcast and one load + FMA per vector. The last vector of a block is masked.
 * The vectors are named (SV_*(v) for v = 0..7; `nv > v` is a compile-time test after inlining): an array would
 * not reliably stay in registers. */
enum { SNV = 8 };

AVX512_INLINE __mmask16 vmask(int v, int nv, __mmask16 tail) { return v == nv - 1 ? tail : (__mmask16)0xFFFF; }

#define SV_ALL(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define SV_LD(p, v) _mm512_maskz_loadu_ps(vmask(v, nv, tail), (p) + 16 * (v))
#define SV_ST(p, v, x) _mm512_mask_storeu_ps((p) + 16 * (v), vmask(v, nv, tail), x)
#define SV_DECL(v) __m512 acc##v = _mm512_setzero_ps();
#define SV_LOAD(v) if (nv > v) acc##v = SV_LD(sv_c, v);
#define SV_STORE(v) if (nv > v) SV_ST(sv_c, v, acc##v);
#define SV_COPY(v) if (nv > v) SV_ST(sv_c, v, SV_LD(sv_s, v));
#define SV_FMA(v) if (nv > v) acc##v = _mm512_fmadd_ps(sv_a, SV_LD(sv_b, v), acc##v);

/* Rows [0, M) of a column block, input block by input block: the B rows of PB inputs (at most 16 KB) stay in L1
 * while every row adds its entries from that block to its C row (read and written back). Each C element still
 * receives its entries in increasing input order: one fma chain from start. */
AVX512_INLINE void sp_rows_blocked(const int nv, int M, const mlp_csr *x, uint32_t *cur, const float *B, ptrdiff_t ldb,
                                   const float *start, float *C, ptrdiff_t ldc, __mmask16 tail, int K) {
    const int PB = 16384 / (64 * nv);
    const float *sv_s = start;
    for (int r = 0; r < M; r++) {
        float *sv_c = C + r * ldc;
        cur[r] = 0;
        SV_ALL(SV_COPY)
    }
    for (int i1 = PB; i1 - PB < K; i1 += PB) {
        for (int r = 0; r < M; r++) {
            const uint16_t *idx = x->idx + x->off[r];
            const float *val = x->val + x->off[r];
            uint32_t e = cur[r];
            const uint32_t n = x->cnt[r];
            if (e >= n || idx[e] >= i1) continue;
            float *sv_c = C + r * ldc;
            SV_ALL(SV_DECL)
            SV_ALL(SV_LOAD)
            for (; e < n && idx[e] < i1; e++) {
                const __m512 sv_a = _mm512_set1_ps(val[e]);
                const float *sv_b = B + (ptrdiff_t)idx[e] * ldb;
                SV_ALL(SV_FMA)
            }
            cur[r] = e;
            SV_ALL(SV_STORE)
        }
    }
}

/* Dense rows, blocked the same way: every row scans its inputs of the block for entries != c (value a - c). */
AVX512_INLINE void sp_rows_dense_blocked(const int nv, int M, int K, const float *A, ptrdiff_t lda, float cval,
                                         const float *B, ptrdiff_t ldb, const float *start, float *C, ptrdiff_t ldc,
                                         __mmask16 tail) {
    const int PB = 16384 / (64 * nv) / 16 * 16; /* a multiple of 16: whole compare vectors */
    const __m512 cv = _mm512_set1_ps(cval);
    const float *sv_s = start;
    for (int r = 0; r < M; r++) {
        float *sv_c = C + r * ldc;
        SV_ALL(SV_COPY)
    }
    for (int b0 = 0; b0 < K; b0 += PB) {
        const int b1 = min_int(K, b0 + PB);
        for (int r = 0; r < M; r++) {
            const float *a = A + r * lda;
            float *sv_c = C + r * ldc;
            /* the row's next block, needed on the next pass: rows are visited a block at a time, a stride the
             * hardware prefetchers do not follow */
            for (int i = b1; i < b1 + PB && i < K; i += 16) __builtin_prefetch(a + i, 0, 3);
            SV_ALL(SV_DECL)
            SV_ALL(SV_LOAD)
            unsigned any = 0;
            for (int i0 = b0; i0 < b1; i0 += 16) {
                const __mmask16 in = b1 - i0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (b1 - i0)) - 1u);
                unsigned m = _mm512_mask_cmp_ps_mask(in, _mm512_maskz_loadu_ps(in, a + i0), cv, _CMP_NEQ_UQ);
                any |= m;
                while (m) {
                    const int i = i0 + __builtin_ctz(m);
                    m &= m - 1;
                    const __m512 sv_a = _mm512_set1_ps(a[i] - cval);
                    const float *sv_b = B + (ptrdiff_t)i * ldb;
                    SV_ALL(SV_FMA)
                }
            }
            if (any) {
                SV_ALL(SV_STORE)
            }
        }
    }
}

/* Pixels [0, D) of a column block: gradient from the CSC blocks, SGD on W and V, column sums into S. */
#define SV_GSTART(v) if (nv > v) acc##v = SV_LD(start, v);
#define SV_SUM0(v) __m512 sum##v = _mm512_setzero_ps();
#define SV_SGD(v)                                                                                   \
    if (nv > v) {                                                                                   \
        const __m512 wv = SV_LD(w, v);                                                              \
        const __m512 vv = _mm512_add_ps(_mm512_mul_ps(momv, SV_LD(vp, v)), _mm512_add_ps(acc##v, _mm512_mul_ps(wdv, wv))); \
        const __m512 wn = _mm512_sub_ps(wv, _mm512_mul_ps(lrv, vv));                                \
        SV_ST(vp, v, vv);                                                                           \
        SV_ST(w, v, wn);                                                                            \
        sum##v = _mm512_add_ps(sum##v, wn);                                                         \
    }
#define SV_SUMST(v) if (nv > v) SV_ST(S, v, sum##v);
AVX512_INLINE void sp_grad_block(const int nv, int D, const mlp_csc_block *blocks, int nblocks, const float *G,
                                 ptrdiff_t ldg, const float *start, float *W, float *V, ptrdiff_t ldw, float lr,
                                 float wd, float mom, float *S, __mmask16 tail) {
    const __m512 lrv = _mm512_set1_ps(lr), wdv = _mm512_set1_ps(wd), momv = _mm512_set1_ps(mom);
    SV_ALL(SV_SUM0)
    for (int i = 0; i < D; i++) {
        SV_ALL(SV_DECL)
        SV_ALL(SV_GSTART)
        for (int b = 0; b < nblocks; b++) {
            const mlp_csc_block *bl = &blocks[b];
            for (uint32_t e = bl->pstart[i]; e < bl->pstart[i + 1]; e++) {
                const __m512 sv_a = _mm512_set1_ps(bl->val[e]);
                const float *sv_b = G + (ptrdiff_t)bl->row[e] * ldg;
                SV_ALL(SV_FMA)
            }
        }
        float *w = W + (ptrdiff_t)i * ldw, *vp = V + (ptrdiff_t)i * ldw;
        SV_ALL(SV_SGD)
    }
    SV_ALL(SV_SUMST)
}

#define SP_DISPATCH(call)       \
    switch (nv) {               \
    case 1: call(1); break;     \
    case 2: call(2); break;     \
    case 3: call(3); break;     \
    case 4: call(4); break;     \
    case 5: call(5); break;     \
    case 6: call(6); break;     \
    case 7: call(7); break;     \
    default: call(8); break;    \
    }

static AVX512_FN void avx512_spmm_nn(int M, int N, const mlp_csr *x, const float *B, int ldb, const float *start,
                                     float *C, int ldc, const mlp_epi *ep) {
    /* the input count is not known here: it ends with the last entry of any row */
    int K = 0;
    for (int r = 0; r < M; r++)
        if (x->cnt[r] && x->idx[x->off[r] + x->cnt[r] - 1] + 1 > K) K = x->idx[x->off[r] + x->cnt[r] - 1] + 1;
    enum { RB = 256 }; /* rows per pass: their cursors live on the stack */
    uint32_t cur[RB];
    for (int j0 = 0; j0 < N; j0 += 16 * SNV) {
        const int nw = min_int(16 * SNV, N - j0), nv = (nw + 15) / 16;
        const __mmask16 tail = (__mmask16)((1u << (nw - 16 * (nv - 1))) - 1u);
        for (int r0 = 0; r0 < M; r0 += RB) {
            const int m = min_int(RB, M - r0);
            const mlp_csr part = {x->off + r0, x->cnt + r0, x->idx, x->val};
#define SP_CALL(k) sp_rows_blocked(k, m, &part, cur, B + j0, ldb, start + j0, C + (ptrdiff_t)r0 * ldc + j0, ldc, tail, K)
            SP_DISPATCH(SP_CALL)
#undef SP_CALL
        }
    }
    if (ep)
        for (int r = 0; r < M; r++) vm_epilogue(ep, C, ldc, r, 0, 1, N);
}

static AVX512_FN void avx512_spmm_nn_dense(int M, int N, int K, const float *A, int lda, float cval, const float *B,
                                           int ldb, const float *start, float *C, int ldc, const mlp_epi *ep) {
    enum { RB = 32 }; /* rows per pass: their C rows stay near L1 */
    for (int j0 = 0; j0 < N; j0 += 16 * SNV) {
        const int nw = min_int(16 * SNV, N - j0), nv = (nw + 15) / 16;
        const __mmask16 tail = (__mmask16)((1u << (nw - 16 * (nv - 1))) - 1u);
        for (int r0 = 0; r0 < M; r0 += RB) {
            const int m = min_int(RB, M - r0);
#define SP_CALL(k)                                                                                          \
    sp_rows_dense_blocked(k, m, K, A + (ptrdiff_t)r0 * lda, lda, cval, B + j0, ldb, start + j0,              \
                          C + (ptrdiff_t)r0 * ldc + j0, ldc, tail)
            SP_DISPATCH(SP_CALL)
#undef SP_CALL
        }
    }
    if (ep)
        for (int r = 0; r < M; r++) vm_epilogue(ep, C, ldc, r, 0, 1, N);
}

/* Column blocks of 4 vectors: G's rows of a block (batch x 64 floats, 25 KB at batch 100) stay in L1. */
static AVX512_FN void avx512_spmm_tn_sgd(int D, int N, const mlp_csc_block *blocks, int nblocks, const float *G,
                                         int ldg, const float *start, float *W, float *V, int ldw, float lr, float wd,
                                         float mom, float *S) {
    for (int j0 = 0; j0 < N; j0 += 64) {
        const int nw = min_int(64, N - j0), nv = (nw + 15) / 16;
        const __mmask16 tail = (__mmask16)((1u << (nw - 16 * (nv - 1))) - 1u);
#define SP_CALL(k) \
    sp_grad_block(k, D, blocks, nblocks, G + j0, ldg, start + j0, W + j0, V + j0, ldw, lr, wd, mom, S + j0, tail)
        SP_DISPATCH(SP_CALL)
#undef SP_CALL
    }
}

static AVX512_FN void avx512_nn(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                                const float *bias, float *C, int ldc, const mlp_epi *ep) {
    gemm(M, N, K, A, lda, 1, B, ldb, bias, C, ldc, ep);
}

static AVX512_FN void avx512_tn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                                int ldc, const mlp_epi *ep) {
    gemm(M, N, K, A, 1, lda, B, ldb, NULL, C, ldc, ep);
}

static AVX512_FN void avx512_act(mlp_act a, const float *u, float *f, float *d, size_t n) { vm_act_rows(a, u, f, d, n); }
static AVX512_FN void avx512_act_backward(mlp_act a, const float *u, const float *dout, float *du, size_t n) {
    vm_act_backward_rows(a, u, dout, du, n);
}
static AVX512_FN void avx512_sgd(float *w, float *v, const float *g, size_t n, float lr, float wd, float mom) {
    vm_sgd_rows(w, v, g, n, lr, wd, mom);
}

static AVX512_FN void avx512_exp(const float *x, float *e, float *em1, size_t n) { vm_exp_rows(x, e, em1, n); }

static const mlp_kernel_table avx512_table = {avx512_nn,          avx512_tn,          avx512_act,
                                             avx512_act_backward, avx512_sgd,         avx512_exp,
                                             avx512_spmm_nn,     avx512_spmm_nn_dense, avx512_spmm_tn_sgd};

const mlp_kernel_table *mlp_gemm_avx512_table(void) { return &avx512_table; }

#else

const mlp_kernel_table *mlp_gemm_avx512_table(void) { return NULL; }

#endif
