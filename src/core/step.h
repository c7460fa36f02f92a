/* step.h - the fused training step (net.c) and the trainer's workspace (train.c): the opaque mlp_trainer.ws of
 * mlp.h. Internal: not installed, not exported. */
#ifndef MLP_STEP_H
#define MLP_STEP_H

#include "kernels.h"
#include "net_internal.h"
#include "optim.h"

/* The reference training step: the plain composition of the public passes, the definition that the fused step
 * below and every faster path are held to (tests/test_fused.c), and the step of the data-parallel path (train.c),
 * which combines the shards' gradients between its two halves:
 *   mlp_step_ref_grad    forward (mlp_net_forward_train with dropout drop, or NULL), per-row loss and dlogits (mlp_loss_rows), backward
 *                        (mlp_net_backward): net->grads = grad_scale * d(sum_r E_r)/d(params) over the n rows of
 *                        x, y; row_loss, row_ok [n] and dlogits [n x classes] are scratch. Returns sum_r E_r (row
 *                        order, mlp_rows_sum) and the count of right predictions in *correct.
 *   mlp_step_ref_update  the update rule of the training configuration on every parameter at rate lr, update
 *                        number `step` (1, 2, ...) (mlp_optim_step; plain SGD is mlp_sgd_step). */
double mlp_step_ref_grad(mlp_net *net, const mlp_loss_cfg *loss, const float *x, const int32_t *y, int n,
                         float grad_scale, float *dlogits, double *row_loss, unsigned char *row_ok, int *correct,
                         const mlp_dropout *drop);
void mlp_step_ref_update(mlp_net *net, const mlp_train_cfg *cfg, float lr, int64_t step);

/* The fused training step, in three parts run by every thread of a team (part = thread number, parts =
 * team size) with a barrier between parts:
 *   forward0  layer 0's product for this thread's output units, bias and activation (f, f') in the epilogue
 *   middle    for this thread's batch rows: the other layers' forward, the loss, G_{L-1} .. G_0
 *   update    layer 0's weight gradient for this thread's units with the SGD rule in the epilogue (W_0 and
 *             its momentum are kept transposed, in wt[0] and vt0, for the whole epoch), the biases, and the
 *             updates of the other layers by units of 24 output rows
 * Results are bitwise those of forward + loss + backward + mlp_optim_step on the same path, for any team
 * size. a0 (layer 0's activations) must alternate between two buffers from one step to the next: a thread
 * may start the next forward0 while another still reads a0 in update. */
/* The sparse first layer of a step (kernels.h's sparse section): the batch's rows compressed around c, the
 * CSC blocks of MLP_CSC_ROWS rows each (built by mlp_step_middle, block b by the thread that owns its rows),
 * and the column sums S of W_0 with a start vector, both [width1]. */
#define MLP_CSC_ROWS 16
typedef struct mlp_step_sparse {
    float c;
    mlp_csr rows;
    int nblocks;
    mlp_csc_block *blocks; /* [nblocks] */
    uint32_t *pstart;      /* storage: [nblocks x (width0 + 1)] */
    uint16_t *row;         /* storage: cap entries per block */
    float *val;
    size_t cap;
    float *S, *start;
} mlp_step_sparse;

typedef struct mlp_step {
    const float *x;        /* batch [nb x width0] (dense first layer) */
    mlp_step_sparse *sp;   /* or the sparse first layer (then x is not used) */
    const int32_t *y;      /* labels [nb] */
    int nb;
    float *a0;             /* layer 0's activations [batch x width1] (hidden layer 0 only) */
    float *d[MLP_MAX_LAYERS];  /* f'(u_l) [batch x width_{l+1}], hidden layers */
    float *g[MLP_MAX_LAYERS];  /* G_l = dE/du_l [batch x width_{l+1}]; g[L-1] = dlogits */
    float *gt0, *vt0;      /* layer 0's gradient (scratch) and momentum, transposed [width0 x width1] */
    double *row_loss;      /* [nb] */
    unsigned char *row_ok; /* [nb] */
    const mlp_loss_cfg *loss;
    float grad_scale, lr, wd, mom;
    /* The update rule (optim.h), or NULL for plain SGD with lr, wd, mom. Plain SGD is applied inside the
     * weight-gradient kernels' epilogues; any other rule gets the gradient stored (layer 0's in gt0) and then
     * runs over the same slices: W_0, its first state (vt0) and second state (st0, Adam's: [width0 x width1]
     * transposed, NULL otherwise), the other layers' rows, the biases. */
    const mlp_optim_coef *opt;
    float *st0;
    /* Inverted dropout on the hidden layers (dropout.c), or NULL: applied to a_l and to the stored f'(u_l) right
     * after each hidden layer's forward product, so that the backward pass and the weight gradients see it. */
    const mlp_dropout_ctx *drop;
} mlp_step;

void mlp_step_forward0(mlp_net *net, const mlp_step *s, int part, int parts);
void mlp_step_middle(mlp_net *net, const mlp_step *s, int part, int parts);
void mlp_step_update(mlp_net *net, const mlp_step *s, int part, int parts);
/* Before the first step: W_0 and its momentum into wt[0] / vt0, its second moment into st0 if not NULL (and S,
 * if not NULL, the column sums). After the last: back into params, momentum (and moment2). (The fused step
 * does not materialize layer 0's gradient: net->grads is not meaningful after it.) */
void mlp_step_enter(mlp_net *net, float *vt0, float *st0, float *S);
void mlp_step_leave(mlp_net *net, const float *vt0, const float *st0);

/* The trainer's workspace (mlp_trainer.ws), allocated by mlp_trainer_init. xbatch heads one float block with
 * everything the fused step needs besides the network (train.c, scratch_layout); ybatch two label buffers;
 * dlogits G_{L-1}; perm the epoch's permutation of the training set. */
struct train_sparse; /* train.c: the training set compressed for the sparse first layer */
struct mlp_trainer_ws {
    uint32_t *perm;
    float *xbatch, *dlogits;
    int32_t *ybatch;
    struct train_sparse *sparse; /* or NULL (dense first layer, see mlp_net.input_sparse) */
    /* data parallelism (mlp_trainer_set_shards) */
    int shard_index, shard_count;
    mlp_combine_fn combine;
    void *combine_user;
};

/* mlp_trainer_epoch with the team of each step given (teams[s] != 0: all threads, 0: thread 0 alone) instead of
 * chosen by the trainer's timing policy: for the tests (the results must not depend on it). */
mlp_status mlp_trainer_epoch_teams(mlp_trainer *t, mlp_epoch_metrics *m, const unsigned char *teams, mlp_error *err);


#endif
