/* optim.h - the optimizers' update rules on slices of the parameters (optim.c): what the fused step and
 * mlp_optim_step (net.c) share. Internal: not installed, not exported. */
#ifndef MLP_OPTIM_H
#define MLP_OPTIM_H

#include "mlp.h"

#include <stddef.h>
#include <stdint.h>

/* The scalars of one update, computed once per step from the configuration, the step's learning rate and the
 * update count t (mlp_optim_coef_make), so that every slice of the parameters is updated by the same numbers:
 * the fused step updates layer 0 transposed and the other layers by rows, mlp_optim_step the flat blocks; every
 * rule is elementwise, so any split gives the same bits. */
typedef struct mlp_optim_coef {
    mlp_optim kind;
    int nesterov;
    float lr, wd, mom;          /* SGD (wd: coupled L2, also Adam's) */
    float b1, b2, c1, c2, eps;  /* Adam: c1 = 1 - b1, c2 = 1 - b2 */
    float step_size, bc2_sqrt;  /* Adam: lr / (1 - b1^t), sqrt(1 - b2^t) (formed in double, then rounded) */
    float decay;                /* AdamW: 1 - lr wd (Adam: 1, exact) */
} mlp_optim_coef;

mlp_optim_coef mlp_optim_coef_make(const mlp_train_cfg *cfg, float lr, int64_t step);
/* Plain SGD with these constants (what mlp_optim_coef_make gives for the sgd optimizer without nesterov). */
mlp_optim_coef mlp_optim_coef_sgd(float lr, float wd, float momentum);
/* 1 when the rule is plain SGD, which the kernels' SGD epilogues apply in place of a stored gradient */
int mlp_optim_is_plain_sgd(const mlp_optim_coef *c);
/* The update of n contiguous parameters w with first state m, second state s (Adam) and gradient g, on kernel
 * path k (the SIMD versions give bitwise the portable loop's results). */
void mlp_optim_apply(const mlp_optim_coef *c, mlp_kernels k, float *w, float *m, float *s, const float *g, size_t n);

#endif
