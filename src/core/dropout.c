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
 * so P(drop) = thr / 2^32, p to within 2^-33. */
#include "dropout.h"

#include <math.h>

#define DROP_SALT 0x6d6c702d64726f70ull /* "mlp-drop" */
#define GOLDEN 0x9e3779b97f4a7c15ull

static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

mlp_dropout_ctx mlp_dropout_make(const mlp_dropout *d) {
    mlp_dropout_ctx c = {0};
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
    const mlp_dropout_ctx dc = mlp_dropout_make(d);
    if (dc.thr == 0) return 1;
    return (uint32_t)(mix64(row_key(&dc, layer, d->row0 + row) + (uint64_t)(unsigned)unit * GOLDEN) >> 32) >= dc.thr;
}

void mlp_dropout_apply(const mlp_dropout_ctx *dc, int layer, int r0, int r1, int c0, int c1, float *a, float *d,
                       int ld) {
    if (!dc || dc->thr == 0) return;
    for (int r = r0; r < r1; r++) {
        const uint64_t rk = row_key(dc, layer, dc->row0 + r);
        float *ar = a + (size_t)(r - r0) * ld, *dr = d ? d + (size_t)(r - r0) * ld : NULL;
        for (int c = c0; c < c1; c++) {
            const int keep = (uint32_t)(mix64(rk + (uint64_t)(unsigned)c * GOLDEN) >> 32) >= dc->thr;
            ar[c - c0] = keep ? ar[c - c0] * dc->scale : 0.0f;
            if (dr) dr[c - c0] = keep ? dr[c - c0] * dc->scale : 0.0f;
        }
    }
}
