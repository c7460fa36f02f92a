/* net_internal.h - the network's workspace (the opaque mlp_net.ws of mlp.h) and the passes over it that the
 * trainer and the evaluation share (net.c, loss.c). Internal: not installed, not exported. */
#ifndef MLP_NET_INTERNAL_H
#define MLP_NET_INTERNAL_H

#include "dropout.h"
#include "mlp.h"

#include <stddef.h>
#include <stdint.h>

/* The workspace of a network, allocated once by mlp_net_create (this struct heads the block, the buffers follow
 * it, 64-byte aligned): per layer l, the pre-activation u[l] and the output a[l], [max_batch x width[l+1]]
 * (u[n_layers-1] is the logits); two delta buffers of [max_batch x max width] for the unfused backward pass;
 * the transposed weights wt[l] [w_l x w_{l+1}] that the forward kernels read, kept in step with params
 * (mlp_net_params_changed); the per-row losses and predictions of mlp_evaluate, [2 x max_batch] each (rounds
 * alternate); and sparse0 [2 x width1]: the column sums of W_0 and the sparse first layer's start vector. */
struct mlp_net_ws {
    float *u[MLP_MAX_LAYERS], *a[MLP_MAX_LAYERS];
    float *delta[2];
    float *wt[MLP_MAX_LAYERS];
    double *eval_loss;
    int *eval_pred;
    float *sparse0;
    /* the dropout of the last forward pass (mlp_net_forward_train; thr 0: none), which mlp_net_backward repeats */
    mlp_dropout_ctx drop;
};

/* The forward pass of rows [r0, r1) of x into the workspace rows r0..r1 (independent of other rows). With
 * start0 (not NULL) the first layer is the sparse product around the value c (kernels.h, spmm_nn_dense) with
 * start0 = b + c S (mlp_net_sparse_start). */
void mlp_net_forward_rows(mlp_net *net, const float *x, int r0, int r1, const float *start0, float c);
/* The background value of a set of rows: the majority value of the first (up to) 64 rows, if it fills at least
 * 60% of them (returns 1 and sets *c), else 0. Rows must be at most 65535 wide. */
int mlp_input_background(const float *x, int n, int dim, float *c);
/* Column sums S of W_0 (over inputs, from 0.0f in increasing order, the chain spmm_tn_sgd keeps) into
 * ws->sparse0 and start = b + c S into ws->sparse0 + width1; returns start. */
const float *mlp_net_sparse_start(mlp_net *net, float c);
/* S[o] = sum_i wt[i][o] for a [D x H] row-major wt, from 0.0f in increasing i. */
void mlp_column_sums(float *S, const float *wt, int D, int H);
/* How many threads a row-parallel pass over n rows should use (>= 1, <= net->threads). */
int mlp_net_row_threads(const mlp_net *net, int n);

/* Per-row losses (E_n, the values mlp_loss_eval adds up in row order), argmax hits and scaled gradients. */
void mlp_loss_rows(const mlp_loss_cfg *cfg, const float *logits, const int32_t *labels, int N, int K,
                   float *dlogits, float grad_scale, double *row_loss, unsigned char *row_ok);
/* A batch's totals from its rows, in row order: returns sum_r row_loss[r] (from 0.0), *correct = sum_r row_ok[r]. */
double mlp_rows_sum(const double *row_loss, const unsigned char *row_ok, int n, int *correct);

#endif
