/* rng.c - xoshiro256** (Blackman & Vigna), seeded through splitmix64. The state is passed explicitly;
 * the library has no global generator. */
#include "mlp.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void mlp_rng_seed(mlp_rng *r, uint64_t seed, uint64_t stream) {
    /* Mix the stream number in through a second splitmix pass so (seed, stream) pairs do not overlap. */
    uint64_t x = seed;
    uint64_t y = splitmix64(&x) ^ (stream * 0xD1B54A32D192ED03ull);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&y);
}

uint64_t mlp_rng_u64(mlp_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double mlp_rng_uniform(mlp_rng *r) { return (double)(mlp_rng_u64(r) >> 11) * 0x1.0p-53; }

/* Lemire's multiply-shift with rejection: unbiased for every n. */
uint32_t mlp_rng_below(mlp_rng *r, uint32_t n) {
    uint64_t m = (mlp_rng_u64(r) >> 32) * (uint64_t)n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (low < threshold) {
            m = (mlp_rng_u64(r) >> 32) * (uint64_t)n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

/* Box-Muller, one value per call (the second is discarded so the state alone defines the stream):
 * z = sqrt(-2 ln u1) cos(2 pi u2), with u1 in (0, 1]. */
double mlp_rng_normal(mlp_rng *r) {
    double u1 = 1.0 - mlp_rng_uniform(r);
    double u2 = mlp_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
