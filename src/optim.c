/* optim.c - SGD with momentum and coupled L2 weight decay, as in the reference course code:
 *   v <- momentum * v + (g + wd * p)
 *   p <- p - lr * v
 * for every parameter, biases included, v starting at 0. One flat loop over the contiguous blocks. */
#include "internal.h"

void mlp_sgd_step(mlp_net *net, float lr, float wd, float momentum) {
    float *p = net->params;
    const float *g = net->grads;
    float *v = net->momentum;
    const size_t n = net->n_params;
    for (size_t i = 0; i < n; i++) {
        v[i] = momentum * v[i] + (g[i] + wd * p[i]);
        p[i] = p[i] - lr * v[i];
    }
    mlp_net_params_changed(net);
}
