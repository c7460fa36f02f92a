/* dropout.h - inverted dropout masks from a counter-based hash (dropout.c). Internal: not installed, not
 * exported. */
#ifndef MLP_DROPOUT_H
#define MLP_DROPOUT_H

#include "mlp.h"

#include <stdint.h>

/* One step's masks: keep unit (layer, row0 + r, unit) iff the top 32 bits of its hash are >= thr, and then scale
 * its output (and its f') by `scale` = 1 / (1 - p); p == 0 means no dropout (mlp_dropout_make's callers pass NULL
 * instead). */
typedef struct mlp_dropout_ctx {
    float p, scale;
    uint32_t thr;
    uint64_t key;
    int row0;
    int avx512; /* the AVX-512 loop (bitwise the reference loop) */
} mlp_dropout_ctx;

/* The context of d's masks, applied with kernel path k's loop (any path: the same bits). */
mlp_dropout_ctx mlp_dropout_make(const mlp_dropout *d, mlp_kernels k);
/* Rows [r0, r1) and columns [c0, c1) of hidden layer `layer`'s outputs a (and its derivatives d, if not NULL),
 * element (r, c) at a[(r - r0) * ld + (c - c0)] (a and d point at element (r0, c0)): multiplied by `scale` where
 * kept, set to 0 where dropped. */
void mlp_dropout_apply(const mlp_dropout_ctx *dc, int layer, int r0, int r1, int c0, int c1, float *a, float *d,
                       int ld);

#endif
