/* gemm_simd.h - the SIMD kernel path, written once over the vector width: register-blocked dense products with
 * fused epilogues, the sparse first layer, and the path's table. Included by gemm_avx2.c (VM_W = 8) and
 * gemm_avx512.c (VM_W = 16), each of which first defines:
 *   VM_W, VMATH_FN (static inline, always inlined, compiled for the target) and includes vmath.h (the vector
 *   type vm_f, the activations, the row loops);
 *   VK_FN (a non-inlined function compiled for the target), VK_MASK_CHEAP (1 when a masked load costs what a
 *   plain one does), VK_TABLE (the name of the table) and the width's primitives:
 *     vk_mask                            the mask of the last vector of a row (lanes 0..n-1 valid)
 *     vk_mask vk_lanes(int n)            n in 1..VM_W
 *     vm_f vk_set1(float x)              broadcast (exact: no arithmetic)
 *     vm_f vk_fma(vm_f a, vm_f b, vm_f c) a * b + c with one rounding
 *     vm_f vk_load_m(const float *p, vk_mask m), void vk_store_m(float *p, vk_mask m, vm_f x)
 *                                        masked-off lanes are neither read nor written (read as 0)
 *     unsigned vk_neq(const float *p, int n, vm_f c)   bit i set for i < n (n <= VM_W) where p[i] != c
 *
 * Dense products (kernels.h): per element the chain is c = bias[n] (or 0), then c = fma(a_k, b_k, c) for
 * k = 0..K-1 in order, whatever the width: the two paths give bitwise the same C. A tile of MR x NR keeps its
 * block of C in registers while k runs: each k loads NV vectors of the B row, broadcasts one element of A per
 * row and issues MR x NV independent FMAs (FMA latency 4 cycles x 2 pipes needs >= 8 chains in flight).
 * AVX-512 (32 registers): 6 x 4 vectors = 6 x 64 floats, 24 accumulators; AVX2 (16 registers): 6 x 2 vectors
 * = 6 x 16 floats, 12 accumulators + 2 B vectors + 1 broadcast. B is walked in blocks that stay in L2 while
 * all row tiles stream over them (for the training shapes the whole of B); when K is very large the k range
 * is cut into chunks and a later chunk reloads C and continues the chain (a float store/load is exact).
 * A column tail goes through masked loads/stores (a separate instantiation where masks cost: AVX2's vmaskmov
 * is slow, AVX-512's masks are free); row tails and narrow tiles are smaller instantiations of the same tile.
 *
 * Everything here is lane-wise IEEE arithmetic written with GNU C vector operators (-ffp-contract=off: no
 * silent FMA) and vk_fma where the chain says fma, so the width changes the speed and never a bit. */
#ifndef VK_TABLE
#error "include gemm_simd.h from gemm_avx2.c or gemm_avx512.c (after the width's primitives)"
#endif

#include <stdint.h>

enum {
    MR = 6,                         /* rows per tile */
    NV_MAX = VM_W == 16 ? 4 : 2,    /* vectors per tile row */
    NR = VM_W * NV_MAX,             /* columns per tile: 64 (AVX-512), 16 (AVX2) */
    B_BUDGET = 512 << 10            /* bytes of B that one block may use: about half of L2 */
};

#define VK_INLINE VMATH_FN

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
    vk_mask tail; /* lanes of the last vector of each row; used only by masked tiles */
    /* SGD tiles: the tile is the gradient of w (momentum v), both with leading dimension ldw */
    float *w, *v;
    ptrdiff_t ldw;
    float lr, wd, mom;
} tile_args;

/* Vector v (of nv) at p + VM_W v: 0 beyond the tile; the last one through the mask in a masked tile. */
VK_INLINE vm_f vk_vec(const float *p, int v, int nv, int masked, vk_mask tail) {
    if (v >= nv) return vm_splat(0.0f);
    if (masked && v == nv - 1) return vk_load_m(p + VM_W * v, tail);
    return vm_load(p + VM_W * v);
}

VK_INLINE void vk_vec_store(float *p, int v, int nv, int masked, vk_mask tail, vm_f x) {
    if (v >= nv) return;
    if (masked && v == nv - 1)
        vk_store_m(p + VM_W * v, tail, x);
    else
        vm_store(p + VM_W * v, x);
}

/* C row r of the tile: `mr > r` and `nv > v` are compile-time after inlining, so unused accumulators vanish and
 * the used ones live in registers. */
#define ACC_DECL(r) vm_f c##r##0 = vm_splat(0.0f), c##r##1 = c##r##0, c##r##2 = c##r##0, c##r##3 = c##r##0
#define ACC_SET(r)   \
    if (mr > r) {    \
        c##r##0 = i0; \
        c##r##1 = i1; \
        c##r##2 = i2; \
        c##r##3 = i3; \
    }
#define ACC_LOAD(r)                                                       \
    if (mr > r) {                                                         \
        const float *cr = t->c + r * t->ldc;                              \
        c##r##0 = vk_vec(cr, 0, nv, masked, t->tail);                     \
        c##r##1 = vk_vec(cr, 1, nv, masked, t->tail);                     \
        c##r##2 = vk_vec(cr, 2, nv, masked, t->tail);                     \
        c##r##3 = vk_vec(cr, 3, nv, masked, t->tail);                     \
    }
#define ACC_FMA(r)                                                        \
    if (mr > r) {                                                         \
        const vm_f ar = vk_set1(ak[r * a_rs]);                            \
        c##r##0 = vk_fma(ar, b0, c##r##0);                                \
        if (nv > 1) c##r##1 = vk_fma(ar, b1, c##r##1);                    \
        if (nv > 2) c##r##2 = vk_fma(ar, b2, c##r##2);                    \
        if (nv > 3) c##r##3 = vk_fma(ar, b3, c##r##3);                    \
    }
#define ACC_STORE(r)                                                      \
    if (mr > r) {                                                         \
        float *cr = t->c + r * t->ldc;                                    \
        vk_vec_store(cr, 0, nv, masked, t->tail, c##r##0);                \
        vk_vec_store(cr, 1, nv, masked, t->tail, c##r##1);                \
        vk_vec_store(cr, 2, nv, masked, t->tail, c##r##2);                \
        vk_vec_store(cr, 3, nv, masked, t->tail, c##r##3);                \
    }
/* The SGD rule on row r of the tile instead of storing it (kernels.h's MLP_EPI_SGD, same operations):
 *   v = mom v + (g + wd w);  w = w - lr v                                                            */
#define SGD_VEC(r, x)                                                                               \
    if (nv > x) {                                                                                   \
        float *wp = t->w + r * t->ldw, *vp = t->v + r * t->ldw;                                     \
        const vm_f w_ = vk_vec(wp, x, nv, masked, t->tail);                                         \
        const vm_f v_ = t->mom * vk_vec(vp, x, nv, masked, t->tail) + (c##r##x + t->wd * w_);       \
        vk_vec_store(vp, x, nv, masked, t->tail, v_);                                               \
        vk_vec_store(wp, x, nv, masked, t->tail, w_ - t->lr * v_);                                  \
    }
#define ACC_SGD(r)                                                                                  \
    if (mr > r) {                                                                                   \
        SGD_VEC(r, 0) SGD_VEC(r, 1) SGD_VEC(r, 2) SGD_VEC(r, 3)                                     \
    }

/* One tile of mr rows x nv vectors (the last one masked if `masked`) over the chunk's kc steps; stored, or
 * (sgd) applied as a gradient. */
VK_INLINE void tile(const int mr, const int nv, const int masked, const int sgd, const tile_args *t) {
    ACC_DECL(0);
    ACC_DECL(1);
    ACC_DECL(2);
    ACC_DECL(3);
    ACC_DECL(4);
    ACC_DECL(5);
    if (t->accumulate) {
        ACC_LOAD(0) ACC_LOAD(1) ACC_LOAD(2) ACC_LOAD(3) ACC_LOAD(4) ACC_LOAD(5)
    } else if (t->bias) {
        const vm_f i0 = vk_vec(t->bias, 0, nv, masked, t->tail), i1 = vk_vec(t->bias, 1, nv, masked, t->tail);
        const vm_f i2 = vk_vec(t->bias, 2, nv, masked, t->tail), i3 = vk_vec(t->bias, 3, nv, masked, t->tail);
        ACC_SET(0) ACC_SET(1) ACC_SET(2) ACC_SET(3) ACC_SET(4) ACC_SET(5)
    }
    const float *ak = t->a, *bk = t->b;
    const ptrdiff_t a_rs = t->a_rs, a_ks = t->a_ks, ldb = t->ldb;
    const vk_mask tail = t->tail;
    for (int k = 0; k < t->kc; k++) {
        const vm_f b0 = vk_vec(bk, 0, nv, masked, tail), b1 = vk_vec(bk, 1, nv, masked, tail);
        const vm_f b2 = vk_vec(bk, 2, nv, masked, tail), b3 = vk_vec(bk, 3, nv, masked, tail);
        ACC_FMA(0) ACC_FMA(1) ACC_FMA(2) ACC_FMA(3) ACC_FMA(4) ACC_FMA(5)
        ak += a_ks;
        bk += ldb;
    }
    if (sgd) {
        ACC_SGD(0) ACC_SGD(1) ACC_SGD(2) ACC_SGD(3) ACC_SGD(4) ACC_SGD(5)
    } else {
        ACC_STORE(0) ACC_STORE(1) ACC_STORE(2) ACC_STORE(3) ACC_STORE(4) ACC_STORE(5)
    }
}

/* The instantiations (rows 1..6 x vectors 1..NV_MAX x plain/masked x store/SGD), called through a table. Where
 * masks are free the masked tile serves both. */
typedef void (*tile_fn)(const tile_args *t);
#define TILE_FN(m, n, s, g) \
    static VK_FN void tile_##m##x##n##s##g(const tile_args *t) { tile(m, n, s, g, t); }
#if VK_MASK_CHEAP
#define TILE_NV(m, n) TILE_FN(m, n, 1, 0) TILE_FN(m, n, 1, 1)
#define TILE_PLAIN(m, n, g) tile_##m##x##n##1##g
#else
#define TILE_NV(m, n) TILE_FN(m, n, 0, 0) TILE_FN(m, n, 1, 0) TILE_FN(m, n, 0, 1) TILE_FN(m, n, 1, 1)
#define TILE_PLAIN(m, n, g) tile_##m##x##n##0##g
#endif
#if VM_W == 16
#define TILE_ROW(m) TILE_NV(m, 1) TILE_NV(m, 2) TILE_NV(m, 3) TILE_NV(m, 4)
#define TILE_LIST(m, s, g) {s(m, 1, g), s(m, 2, g), s(m, 3, g), s(m, 4, g)}
#else
#define TILE_ROW(m) TILE_NV(m, 1) TILE_NV(m, 2)
#define TILE_LIST(m, s, g) {s(m, 1, g), s(m, 2, g)}
#endif
#define TILE_MASKED(m, n, g) tile_##m##x##n##1##g
TILE_ROW(1) TILE_ROW(2) TILE_ROW(3) TILE_ROW(4) TILE_ROW(5) TILE_ROW(6)
/* [rows - 1][sgd][masked][vectors - 1] */
#define TILE_PTRS(m) {{TILE_LIST(m, TILE_PLAIN, 0), TILE_LIST(m, TILE_MASKED, 0)}, \
                      {TILE_LIST(m, TILE_PLAIN, 1), TILE_LIST(m, TILE_MASKED, 1)}}
static const tile_fn tile_fns[MR][2][2][NV_MAX] = {TILE_PTRS(1), TILE_PTRS(2), TILE_PTRS(3),
                                                   TILE_PTRS(4), TILE_PTRS(5), TILE_PTRS(6)};

/* K <= 0: every chain is just its start value. */
static void fill_start(int M, int N, const float *bias, float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int n = 0; n < N; n++) C[(ptrdiff_t)i * ldc + n] = bias ? bias[n] : 0.0f;
}

static int min_int(int a, int b) { return a < b ? a : b; }

/* Columns [jb, jb + nc) of C, all rows, k chunk [k0, k0 + kc); the epilogue (if any: only on the last
 * chunk) runs on each tile as soon as it is stored. */
static VK_FN void block(int M, int jb, int nc, int k0, int kc, const float *A, ptrdiff_t a_rs, ptrdiff_t a_ks,
                        const float *B, int ldb, const float *bias, float *C, int ldc, const mlp_epi *ep) {
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
            const int nw = min_int(NR, nc - j0), nv = (nw + VM_W - 1) / VM_W, lanes = nw - VM_W * (nv - 1);
            t.a = A + i0 * a_rs + k0 * a_ks;
            t.b = B + (ptrdiff_t)k0 * ldb + jb + j0;
            t.bias = bias ? bias + jb + j0 : NULL;
            t.c = C + (ptrdiff_t)i0 * ldc + jb + j0;
            t.tail = vk_lanes(lanes);
            if (sgd) {
                t.w = ep->w + i0 * ep->ldw + jb + j0;
                t.v = ep->v + i0 * ep->ldw + jb + j0;
            }
            tile_fns[mr - 1][sgd][lanes < VM_W][nv - 1](&t);
            if (ep && !sgd) vm_epilogue(ep, C, ldc, i0, jb + j0, mr, nw);
        }
    }
}

/* Shared body of nn (a_rs = lda, a_ks = 1) and tn (a_rs = 1, a_ks = lda). */
static VK_FN void gemm(int M, int N, int K, const float *A, ptrdiff_t a_rs, ptrdiff_t a_ks, const float *B, int ldb,
                       const float *bias, float *C, int ldc, const mlp_epi *ep) {
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
 * Column blocks of up to SNV vectors (8 x VM_W floats) stay in registers while a row's (or a pixel's) entries
 * stream by: each entry is one broadcast and one load + FMA per vector. The last vector of a block is masked.
 * The vectors are named (SV_*(v) for v = 0..7; `nv > v` is a compile-time test after inlining): an array would
 * not reliably stay in registers. */
enum { SNV = 8 };

#define SV_ALL(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define SV_LD(p, v) vk_vec(p, v, nv, 1, tail)
#define SV_ST(p, v, x) vk_vec_store(p, v, nv, 1, tail, x)
#define SV_DECL(v) vm_f acc##v = vm_splat(0.0f);
#define SV_LOAD(v) if (nv > v) acc##v = SV_LD(sv_c, v);
#define SV_STORE(v) if (nv > v) SV_ST(sv_c, v, acc##v);
#define SV_COPY(v) if (nv > v) SV_ST(sv_c, v, SV_LD(sv_s, v));
#define SV_FMA(v) if (nv > v) acc##v = vk_fma(sv_a, SV_LD(sv_b, v), acc##v);

/* Rows [0, M) of a column block, input block by input block: the B rows of PB inputs (at most 16 KB) stay in L1
 * while every row adds its entries from that block to its C row (read and written back). Each C element still
 * receives its entries in increasing input order: one fma chain from start. */
VK_INLINE void sp_rows_blocked(const int nv, int M, const mlp_csr *x, uint32_t *cur, const float *B, ptrdiff_t ldb,
                               const float *start, float *C, ptrdiff_t ldc, vk_mask tail, int K) {
    const int PB = 16384 / (4 * VM_W * nv);
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
                const vm_f sv_a = vk_set1(val[e]);
                const float *sv_b = B + (ptrdiff_t)idx[e] * ldb;
                SV_ALL(SV_FMA)
            }
            cur[r] = e;
            SV_ALL(SV_STORE)
        }
    }
}

/* Dense rows, blocked the same way: every row scans its inputs of the block for entries != c (value a - c). */
VK_INLINE void sp_rows_dense_blocked(const int nv, int M, int K, const float *A, ptrdiff_t lda, float cval,
                                     const float *B, ptrdiff_t ldb, const float *start, float *C, ptrdiff_t ldc,
                                     vk_mask tail) {
    const int PB = 16384 / (4 * VM_W * nv) / VM_W * VM_W; /* whole compare vectors */
    const vm_f cv = vk_set1(cval);
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
            for (int i0 = b0; i0 < b1; i0 += VM_W) {
                unsigned m = vk_neq(a + i0, min_int(VM_W, b1 - i0), cv);
                any |= m;
                while (m) {
                    const int i = i0 + __builtin_ctz(m);
                    m &= m - 1;
                    const vm_f sv_a = vk_set1(a[i] - cval);
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
#define SV_SUM0(v) vm_f sum##v = vm_splat(0.0f);
#define SV_SGD(v)                                                                                   \
    if (nv > v) {                                                                                   \
        const vm_f wv = SV_LD(w, v);                                                                \
        const vm_f vv = mom * SV_LD(vp, v) + (acc##v + wd * wv);                                    \
        const vm_f wn = wv - lr * vv;                                                               \
        SV_ST(vp, v, vv);                                                                           \
        SV_ST(w, v, wn);                                                                            \
        sum##v = sum##v + wn;                                                                       \
    }
#define SV_SUMST(v) if (nv > v) SV_ST(S, v, sum##v);
VK_INLINE void sp_grad_block(const int nv, int D, const mlp_csc_block *blocks, int nblocks, const float *G,
                             ptrdiff_t ldg, const float *start, float *W, float *V, ptrdiff_t ldw, float lr, float wd,
                             float mom, float *S, vk_mask tail) {
    SV_ALL(SV_SUM0)
    for (int i = 0; i < D; i++) {
        SV_ALL(SV_DECL)
        SV_ALL(SV_GSTART)
        for (int b = 0; b < nblocks; b++) {
            const mlp_csc_block *bl = &blocks[b];
            for (uint32_t e = bl->pstart[i]; e < bl->pstart[i + 1]; e++) {
                const vm_f sv_a = vk_set1(bl->val[e]);
                const float *sv_b = G + (ptrdiff_t)bl->row[e] * ldg;
                SV_ALL(SV_FMA)
            }
        }
        float *w = W + (ptrdiff_t)i * ldw, *vp = V + (ptrdiff_t)i * ldw;
        SV_ALL(SV_SGD)
    }
    SV_ALL(SV_SUMST)
}

#define SP_DISPATCH(call)   \
    switch (nv) {           \
    case 1: call(1); break; \
    case 2: call(2); break; \
    case 3: call(3); break; \
    case 4: call(4); break; \
    case 5: call(5); break; \
    case 6: call(6); break; \
    case 7: call(7); break; \
    default: call(8); break; \
    }

static VK_FN void simd_spmm_nn(int M, int N, const mlp_csr *x, const float *B, int ldb, const float *start, float *C,
                               int ldc, const mlp_epi *ep) {
    /* the input count is not known here: it ends with the last entry of any row */
    int K = 0;
    for (int r = 0; r < M; r++)
        if (x->cnt[r] && x->idx[x->off[r] + x->cnt[r] - 1] + 1 > K) K = x->idx[x->off[r] + x->cnt[r] - 1] + 1;
    enum { RB = 256 }; /* rows per pass: their cursors live on the stack */
    uint32_t cur[RB];
    for (int j0 = 0; j0 < N; j0 += VM_W * SNV) {
        const int nw = min_int(VM_W * SNV, N - j0), nv = (nw + VM_W - 1) / VM_W;
        const vk_mask tail = vk_lanes(nw - VM_W * (nv - 1));
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

static VK_FN void simd_spmm_nn_dense(int M, int N, int K, const float *A, int lda, float cval, const float *B, int ldb,
                                     const float *start, float *C, int ldc, const mlp_epi *ep) {
    enum { RB = 32 }; /* rows per pass: their C rows stay near L1 */
    for (int j0 = 0; j0 < N; j0 += VM_W * SNV) {
        const int nw = min_int(VM_W * SNV, N - j0), nv = (nw + VM_W - 1) / VM_W;
        const vk_mask tail = vk_lanes(nw - VM_W * (nv - 1));
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

/* Column blocks of 64 floats: G's rows of a block (batch x 64 floats, 25 KB at batch 100) stay in L1. */
static VK_FN void simd_spmm_tn_sgd(int D, int N, const mlp_csc_block *blocks, int nblocks, const float *G, int ldg,
                                   const float *start, float *W, float *V, int ldw, float lr, float wd, float mom,
                                   float *S) {
    for (int j0 = 0; j0 < N; j0 += 64) {
        const int nw = min_int(64, N - j0), nv = (nw + VM_W - 1) / VM_W;
        const vk_mask tail = vk_lanes(nw - VM_W * (nv - 1));
#define SP_CALL(k) \
    sp_grad_block(k, D, blocks, nblocks, G + j0, ldg, start + j0, W + j0, V + j0, ldw, lr, wd, mom, S + j0, tail)
        SP_DISPATCH(SP_CALL)
#undef SP_CALL
    }
}

/* ------------------------------------------------------------------ the path's table */

static VK_FN void simd_nn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, const float *bias,
                          float *C, int ldc, const mlp_epi *ep) {
    gemm(M, N, K, A, lda, 1, B, ldb, bias, C, ldc, ep);
}

static VK_FN void simd_tn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc,
                          const mlp_epi *ep) {
    gemm(M, N, K, A, 1, lda, B, ldb, NULL, C, ldc, ep);
}

static VK_FN void simd_act(mlp_act a, const float *u, float *f, float *d, size_t n) { vm_act_rows(a, u, f, d, n); }
static VK_FN void simd_act_backward(mlp_act a, const float *u, const float *dout, float *du, size_t n) {
    vm_act_backward_rows(a, u, dout, du, n);
}
static VK_FN void simd_sgd(float *w, float *v, const float *g, size_t n, float lr, float wd, float mom) {
    vm_sgd_rows(w, v, g, n, lr, wd, mom);
}
static VK_FN void simd_exp(const float *x, float *e, float *em1, size_t n) { vm_exp_rows(x, e, em1, n); }

const mlp_kernel_table VK_TABLE = {
    .gemm_nn = simd_nn,
    .gemm_tn = simd_tn,
    .act = simd_act,
    .act_backward = simd_act_backward,
    .sgd = simd_sgd,
    .exp_nonpos = simd_exp,
    .spmm_nn = simd_spmm_nn,
    .spmm_nn_dense = simd_spmm_nn_dense,
    .spmm_tn_sgd = simd_spmm_tn_sgd,
};
