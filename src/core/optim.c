/* optim.c - SGD with momentum and coupled L2 weight decay, as in the reference course code:
 *   v <- momentum * v + (g + wd * p)
 *   p <- p - lr * v
 * for every parameter, biases included, v starting at 0. One flat loop over the contiguous blocks (the
 * kernel path's vectorized loop: the same operations in the same order, so every path gives the same bits).
 * The trainer does not call this: its fused step applies the same rule in the weight-gradient epilogue. */
#include "kernels.h"

void mlp_sgd_step(mlp_net *net, float lr, float wd, float momentum) {
    mlp_fpmode fm; /* subnormals flushed (fpmode.c) */
    mlp_fpmode_enter(&fm);
    mlp_kernels_of(net->kernels)->sgd(net->params, net->momentum, net->grads, net->n_params, lr, wd, momentum);
    mlp_fpmode_leave(&fm);
    mlp_net_params_changed(net);
}
