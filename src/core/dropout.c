/* dropout.c - inverted dropout on the hidden layers, with masks from a counter-based hash.
 *
 * Training only: hidden layer l's output a = f(u) becomes a r, with r = 0 (dropped, probability p) or 1/(1-p)
 * (kept), so that its expectation is unchanged and evaluation needs no rescaling (evaluation never drops). The
 * backward pass multiplies by the same r: dE/du = (dE/da) r f'(u); the fused step folds r into the stored
 * f'(u) (d <- d r), so the backward product needs no change.
 *
 * The mask of a unit is a pure function of (seed, epoch, step, row of the batch, layer, unit), not a draw from a
 * shared sequential generator: whichever thread or MPI rank computes a row, and whatever the thread count, the
 * masks are the same, and a resumed run needs no generator state (the epoch and step fix them). The hash is
 * splitmix64's output function (the mix64 below, Steele, Lea and Flood 2014):
 *   key  = mix64(mix64(mix64(seed ^ "mlp-drop") ^ epoch) ^ step)
 *   rkey = mix64(key ^ (layer << 40) ^ row)
 *   h    = mix64(rkey + unit * 0x9e3779b97f4a7c15)   (splitmix64's stream of seed rkey, element `unit`)
 *   keep = (h >> 32) >= thr,  thr = round(p 2^32)
 * so P(drop) = thr / 2^32, p to within 2^-33. A kept value is x / (1 - p) rounded once (x scale, scale the float
 * nearest 1 / (1 - p)); a dropped one is +0. The AVX-512 loop (64-bit lane multiplies, AVX-512DQ) computes the
 * same hashes and the same products as the reference loop: the same bits (tests/test_dropout.c). */
#include "dropout.h"

#include <math.h>
#include <string.h>

#define DROP_SALT 0x6d6c702d64726f70ull /* "mlp-drop" */
#define GOLDEN 0x9e3779b97f4a7c15ull

static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

mlp_dropout_ctx mlp_dropout_make(const mlp_dropout *d, mlp_kernels k) {
    mlp_dropout_ctx c = {0};
    c.avx512 = k == MLP_KERNELS_AVX512 || (k == MLP_KERNELS_BLAS && mlp_kernels_resolve(MLP_KERNELS_AUTO) == MLP_KERNELS_AVX512);
    const double p = d->p > 0 && d->p < 1 ? d->p : 0;
    c.p = (float)p;
    c.scale = (float)(1.0 / (1.0 - p));
    const double t = floor(p * 4294967296.0 + 0.5);
    c.thr = t >= 4294967295.0 ? 4294967295u : (uint32_t)t;
    c.key = mix64(mix64(mix64(d->seed ^ DROP_SALT) ^ (uint64_t)(int64_t)d->epoch) ^ (uint64_t)(int64_t)d->step);
    c.row0 = d->row0;
    return c;
}

static inline uint64_t row_key(const mlp_dropout_ctx *dc, int layer, int row) {
    return mix64(dc->key ^ ((uint64_t)(unsigned)layer << 40) ^ (uint64_t)(uint32_t)row);
}

int mlp_dropout_keep(const mlp_dropout *d, int layer, int row, int unit) {
    const mlp_dropout_ctx dc = mlp_dropout_make(d, MLP_KERNELS_PORTABLE);
    if (dc.thr == 0) return 1;
    return (uint32_t)(mix64(row_key(&dc, layer, d->row0 + row) + (uint64_t)(unsigned)unit * GOLDEN) >> 32) >= dc.thr;
}

/* x r for one element: x scale where kept, +0 where dropped (the bits cleared first: no branch to mispredict, and
 * exactly 0 whatever x is) */
static inline float masked(float x, uint32_t keep_bits, float scale) {
    uint32_t b;
    memcpy(&b, &x, 4);
    b &= keep_bits;
    memcpy(&x, &b, 4);
    return x * scale;
}

/* columns [c, c1) of one row, the reference loop */
static void apply_row(uint64_t rk, uint32_t thr, float scale, int c, int c1, float *a, float *d) {
    for (; c < c1; c++, a++) {
        const uint32_t keep = 0u - (uint32_t)((uint32_t)(mix64(rk + (uint64_t)(unsigned)c * GOLDEN) >> 32) >= thr);
        *a = masked(*a, keep, scale);
        if (d) *d = masked(*d, keep, scale), d++;
    }
}

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && !defined(MLP_NO_SIMD)
#include <immintrin.h>
#define DROPOUT_AVX512 1
#define AVX512_FN __attribute__((target("avx512f,avx512dq,avx512vl")))

static inline AVX512_FN __m512i mix64_v(__m512i z) {
    z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)), _mm512_set1_epi64((long long)0xbf58476d1ce4e5b9ull));
    z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)), _mm512_set1_epi64((long long)0x94d049bb133111ebull));
    return _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
}

/* The same, 16 columns at a time: two vectors of 8 64-bit hashes, their top halves compared (unsigned) with thr;
 * kept lanes multiplied by scale, dropped ones set to +0 (the reference's bits exactly: integer hashes, one IEEE
 * multiply). */
static AVX512_FN void apply_row_avx512(uint64_t rk, uint32_t thr, float scale, int c, int c1, float *a, float *d) {
    const __m512i step = _mm512_set1_epi64((long long)(16 * GOLDEN));
    const __m512i lane = _mm512_mullo_epi64(_mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi64((long long)GOLDEN));
    const __m512i eight = _mm512_set1_epi64((long long)(8 * GOLDEN));
    const __m512i t = _mm512_set1_epi64((long long)thr);
    const __m512 sv = _mm512_set1_ps(scale);
    __m512i base = _mm512_add_epi64(_mm512_set1_epi64((long long)(rk + (uint64_t)(unsigned)c * GOLDEN)), lane);
    for (; c + 16 <= c1; c += 16, a += 16) {
        const __m512i h0 = _mm512_srli_epi64(mix64_v(base), 32);
        const __m512i h1 = _mm512_srli_epi64(mix64_v(_mm512_add_epi64(base, eight)), 32);
        const __mmask16 keep = (__mmask16)(_mm512_cmpge_epu64_mask(h0, t) | (_mm512_cmpge_epu64_mask(h1, t) << 8));
        _mm512_storeu_ps(a, _mm512_maskz_mul_ps(keep, _mm512_loadu_ps(a), sv));
        if (d) {
            _mm512_storeu_ps(d, _mm512_maskz_mul_ps(keep, _mm512_loadu_ps(d), sv));
            d += 16;
        }
        base = _mm512_add_epi64(base, step);
    }
    apply_row(rk, thr, scale, c, c1, a, d);
}
#else
#define DROPOUT_AVX512 0
#endif

void mlp_dropout_apply(const mlp_dropout_ctx *dc, int layer, int r0, int r1, int c0, int c1, float *a, float *d,
                       int ld) {
    if (!dc || dc->thr == 0) return;
    for (int r = r0; r < r1; r++) {
        const uint64_t rk = row_key(dc, layer, dc->row0 + r);
        float *ar = a + (size_t)(r - r0) * ld, *dr = d ? d + (size_t)(r - r0) * ld : NULL;
#if DROPOUT_AVX512
        if (dc->avx512) {
            apply_row_avx512(rk, dc->thr, dc->scale, c0, c1, ar, dr);
            continue;
        }
#endif
        apply_row(rk, dc->thr, dc->scale, c0, c1, ar, dr);
    }
}
