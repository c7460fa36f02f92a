/* net.c - the network: memory layout, initialisation, forward and backward passes.
 *
 * Layer l (0-based) maps width[l] inputs to width[l+1] outputs:
 *   forward   u_l = a_{l-1} W_l^T + b_l        a_{-1} = x;  a_l = f(u_l) for hidden layers, a_{L-1} = u_{L-1}
 *   backward  dW_l = G_l^T a_{l-1}             G_{L-1} = dlogits   (sums over the batch rows;
 *             db_l = column sums of G_l                             any 1/N is in dlogits)
 *             G_{l-1} = (G_l W_l) * f'(u_{l-1})
 * W_l is stored [out x in] (PyTorch's nn.Linear layout); the forward kernel reads the transposed copy
 * wt_l [in x out], which is refreshed whenever the parameters change, so that every kernel is of the
 * form "broadcast a scalar of A, stream a row of B" and each output is a sequential chain over k.
 *
 * Besides the public forward/backward, this file holds the three parts of the trainer's fused step
 * (mlp_step_*, see step.h): the same arithmetic, element for element, as mlp_net_forward +
 * mlp_loss_eval + mlp_net_backward + mlp_sgd_step, arranged so that two threads can share a step with two
 * barriers and no reduction (tests/test_fused.c checks the bitwise equality). */
#include "step.h"
#include "util.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#define ALIGN_FLOATS 16 /* 64-byte alignment for every buffer in a block */

static size_t round_up(size_t n) { return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }

/* bytes of a block of n floats, as alloc_floats takes them (mlp_net_bytes counts with it) */
static size_t floats_bytes(size_t n) { return mlp_block_bytes(round_up(n ? n : 1) * sizeof(float)); }

static float *alloc_floats(size_t n) {
    float *p = mlp_alloc_block(round_up(n ? n : 1) * sizeof(float));
    if (p) memset(p, 0, floats_bytes(n));
    return p;
}

mlp_status mlp_arch_parse(mlp_arch *arch, const char *hidden, int inputs, int classes, mlp_act act,
                          mlp_error *err) {
    memset(arch, 0, sizeof *arch);
    if (inputs < 1 || inputs > (1 << 20) || classes < 2 || classes > (1 << 20))
        return mlp_fail(err, MLP_ERR_ARG, "network needs 1..%d inputs and 2..%d classes (got %d, %d)", 1 << 20,
                        1 << 20, inputs, classes);
    if ((unsigned)act >= MLP_ACT_COUNT) return mlp_fail(err, MLP_ERR_ARG, "unknown activation %d", (int)act);
    arch->act = act;
    arch->width[0] = inputs;
    int n = 0;
    if (hidden && strcmp(hidden, "none") != 0) {
        const char *p = hidden;
        for (;;) {
            char *end;
            long w = strtol(p, &end, 10);
            if (end == p || (*end != ',' && *end != '\0'))
                return mlp_fail(err, MLP_ERR_ARG,
                                "hidden widths '%s': expected positive integers separated by commas, e.g. 128,32",
                                hidden);
            if (w < 1 || w > 65536)
                return mlp_fail(err, MLP_ERR_ARG, "hidden width %ld in '%s' is out of range (1..65536)", w, hidden);
            if (n + 1 >= MLP_MAX_LAYERS)
                return mlp_fail(err, MLP_ERR_ARG, "'%s': at most %d hidden layers", hidden, MLP_MAX_LAYERS - 1);
            arch->width[++n] = (int)w;
            if (*end == '\0') break;
            p = end + 1;
        }
    }
    arch->width[n + 1] = classes;
    arch->n_layers = n + 1;
    return MLP_OK;
}

void mlp_arch_format(const mlp_arch *arch, char *buf, size_t size) {
    size_t used = 0;
    if (size == 0) return;
    buf[0] = '\0';
    for (int l = 0; l <= arch->n_layers && used < size; l++) {
        int w = snprintf(buf + used, size - used, l ? "-%d" : "%d", arch->width[l]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

static mlp_status check_arch(const mlp_arch *arch, int max_batch, mlp_error *err) {
    if (arch->n_layers < 1 || arch->n_layers > MLP_MAX_LAYERS)
        return mlp_fail(err, MLP_ERR_ARG, "network must have 1..%d layers, got %d", MLP_MAX_LAYERS,
                        arch->n_layers);
    for (int l = 0; l <= arch->n_layers; l++)
        if (arch->width[l] < 1 || arch->width[l] > (1 << 20))
            return mlp_fail(err, MLP_ERR_ARG, "layer width %d (index %d) out of range 1..%d", arch->width[l], l,
                            1 << 20);
    if ((unsigned)arch->act >= MLP_ACT_COUNT)
        return mlp_fail(err, MLP_ERR_ARG, "unknown activation %d", (int)arch->act);
    if (max_batch < 1 || max_batch > (1 << 20))
        return mlp_fail(err, MLP_ERR_ARG, "batch size %d out of range 1..%d", max_batch, 1 << 20);
    return MLP_OK;
}

/* The floats of the parameter block and of the workspace (mlp_net_create's layout); w_off / b_off if not NULL. */
static void net_sizes(const mlp_arch *arch, int max_batch, size_t *n_params_out, size_t *work_out, size_t *w_off,
                      size_t *b_off) {
    size_t n_params = 0, max_width = 0, work = 0;
    for (int l = 0; l < arch->n_layers; l++) {
        size_t in = (size_t)arch->width[l], out = (size_t)arch->width[l + 1];
        if (w_off) w_off[l] = n_params;
        if (b_off) b_off[l] = n_params + out * in;
        n_params += out * in + out; /* widths <= 2^20 and layers <= 16: no overflow in size_t (64-bit) */
        if (out > max_width) max_width = out;
        work += 2 * round_up((size_t)max_batch * out) + round_up(in * out);
    }
    work += 2 * round_up((size_t)max_batch * max_width);
    work += round_up(2 * (size_t)max_batch * (sizeof(double) + sizeof(int)) / sizeof(float)); /* eval rows */
    work += round_up(2 * (size_t)arch->width[1]);                                                /* sparse0 */
    *n_params_out = n_params;
    *work_out = work;
}

/* the workspace struct heads its own block, in floats */
static size_t ws_head(void) { return round_up((sizeof(mlp_net_ws) + sizeof(float) - 1) / sizeof(float)); }

size_t mlp_net_bytes(const mlp_arch *arch, int max_batch) {
    if (!arch || check_arch(arch, max_batch, NULL) != MLP_OK) return 0;
    size_t n_params, work;
    net_sizes(arch, max_batch, &n_params, &work, NULL, NULL);
    return 4 * floats_bytes(n_params) + floats_bytes(ws_head() + work); /* params, grads, moments; workspace */
}

mlp_status mlp_net_create(mlp_net *net, const mlp_arch *arch, int max_batch, mlp_error *err) {
    memset(net, 0, sizeof *net);
    mlp_status st = check_arch(arch, max_batch, err);
    if (st) return st;
    net->arch = *arch;
    net->max_batch = max_batch;
    net->threads = 1;
    net->kernels = mlp_kernels_resolve(MLP_KERNELS_AUTO);

    const int L = arch->n_layers;
    size_t n_params, work, max_width = 0;
    net_sizes(arch, max_batch, &n_params, &work, net->w_off, net->b_off);
    for (int l = 0; l < L; l++)
        if ((size_t)arch->width[l + 1] > max_width) max_width = (size_t)arch->width[l + 1];
    net->n_params = n_params;

    /* the workspace struct heads its own block: still one allocation for the whole workspace */
    const size_t head = ws_head();
    net->params = alloc_floats(n_params);
    net->grads = alloc_floats(n_params);
    net->momentum = alloc_floats(n_params);
    net->moment2 = alloc_floats(n_params);
    net->ws = (mlp_net_ws *)(void *)alloc_floats(head + work);
    if (!net->params || !net->grads || !net->momentum || !net->moment2 || !net->ws) {
        mlp_net_free(net);
        return mlp_fail(err, MLP_ERR_NOMEM, "cannot allocate a network of %zu parameters for batch %d", n_params,
                        max_batch);
    }
    mlp_net_ws *ws = net->ws;
    float *p = (float *)(void *)ws + head;
    for (int l = 0; l < L; l++) {
        size_t rows_out = round_up((size_t)max_batch * (size_t)arch->width[l + 1]);
        ws->u[l] = p, p += rows_out;
        ws->a[l] = p, p += rows_out;
        ws->wt[l] = p, p += round_up((size_t)arch->width[l] * (size_t)arch->width[l + 1]);
    }
    ws->delta[0] = p, p += round_up((size_t)max_batch * max_width);
    ws->delta[1] = p, p += round_up((size_t)max_batch * max_width);
    ws->eval_loss = (double *)(void *)p;
    ws->eval_pred = (int *)(void *)(ws->eval_loss + 2 * (size_t)max_batch);
    p += round_up(2 * (size_t)max_batch * (sizeof(double) + sizeof(int)) / sizeof(float));
    ws->sparse0 = p;
    net->input_sparse = 1;
    return MLP_OK;
}

void mlp_net_free(mlp_net *net) {
    free(net->params);
    free(net->grads);
    free(net->momentum);
    free(net->moment2);
    free(net->ws);
    memset(net, 0, sizeof *net);
}

mlp_status mlp_net_set_exec(mlp_net *net, int threads, mlp_kernels kernels, mlp_error *err) {
    if (threads < 1 || threads > 1024)
        return mlp_fail(err, MLP_ERR_ARG, "threads must be 1..1024, got %d", threads);
    if ((unsigned)kernels >= MLP_KERNELS_COUNT)
        return mlp_fail(err, MLP_ERR_ARG, "unknown kernel path %d", (int)kernels);
    if (kernels != MLP_KERNELS_AUTO && !mlp_kernels_supported(kernels))
        return mlp_fail(err, MLP_ERR_ARG, "kernel path '%s' is not supported on this CPU or build",
                        mlp_kernels_name(kernels));
    net->threads = threads;
    net->kernels = mlp_kernels_resolve(kernels);
    return MLP_OK;
}

void mlp_net_params_changed(mlp_net *net) {
    for (int l = 0; l < net->arch.n_layers; l++)
        mlp_transpose(net->ws->wt[l], net->params + net->w_off[l], net->arch.width[l + 1], net->arch.width[l]);
}

void mlp_net_init(mlp_net *net, float init_std, mlp_rng *rng) {
    for (int l = 0; l < net->arch.n_layers; l++) {
        size_t nw = (size_t)net->arch.width[l] * (size_t)net->arch.width[l + 1];
        float *W = net->params + net->w_off[l];
        for (size_t i = 0; i < nw; i++) W[i] = (float)(mlp_rng_normal(rng) * init_std);
        memset(net->params + net->b_off[l], 0, sizeof(float) * (size_t)net->arch.width[l + 1]);
    }
    memset(net->momentum, 0, sizeof(float) * net->n_params);
    memset(net->moment2, 0, sizeof(float) * net->n_params);
    memset(net->grads, 0, sizeof(float) * net->n_params);
    mlp_net_params_changed(net);
}

/* ------------------------------------------------------------------ forward and backward */

/* Rows [r0, r1) of x through every layer: u_l and a_l of those rows (the workspace's rows r0..r1). Each
 * row's results are independent of the others, so threads can take disjoint row ranges. */
void mlp_net_forward_rows(mlp_net *net, const float *x, int r0, int r1, const float *start0, float c) {
    const mlp_kernel_table *kt = mlp_kernels_of(net->kernels);
    const int L = net->arch.n_layers;
    if (r1 <= r0) return;
    const float *in = x + (size_t)r0 * net->arch.width[0];
    for (int l = 0; l < L; l++) {
        const int w_in = net->arch.width[l], w_out = net->arch.width[l + 1];
        float *u = net->ws->u[l] + (size_t)r0 * w_out;
        mlp_epi ep = {.kind = MLP_EPI_ACT, .act = net->arch.act, .f = net->ws->a[l] + (size_t)r0 * w_out,
                      .ldf = w_out};
        if (l == 0 && start0)
            kt->spmm_nn_dense(r1 - r0, w_out, w_in, in, w_in, c, net->ws->wt[0], w_out, start0, u, w_out,
                              l < L - 1 ? &ep : NULL);
        else
            kt->gemm_nn(r1 - r0, w_out, w_in, in, w_in, net->ws->wt[l], w_out, net->params + net->b_off[l], u, w_out,
                        l < L - 1 ? &ep : NULL);
        if (l < L - 1)
            mlp_dropout_apply(&net->ws->drop, l, r0, r1, 0, w_out, net->ws->a[l] + (size_t)r0 * w_out, NULL, w_out);
        in = net->ws->a[l] + (size_t)r0 * w_out;
    }
}

/* Boyer-Moore majority vote over the first rows, then a count of the winner. */
int mlp_input_background(const float *x, int n, int dim, float *c) {
    const size_t m = (size_t)(n < 64 ? n : 64) * (size_t)dim;
    if (m == 0 || dim > 65535) return 0;
    float cand = x[0];
    size_t votes = 0, hits = 0;
    for (size_t i = 0; i < m; i++) {
        if (votes == 0) cand = x[i], votes = 1;
        else if (x[i] == cand) votes++;
        else votes--;
    }
    for (size_t i = 0; i < m; i++) hits += x[i] == cand;
    if (!(hits * 10 >= m * 6)) return 0;
    *c = cand;
    return 1;
}

void mlp_column_sums(float *S, const float *wt, int D, int H) {
    for (int o = 0; o < H; o++) S[o] = 0.0f;
    for (int i = 0; i < D; i++) {
        const float *w = wt + (size_t)i * H;
        for (int o = 0; o < H; o++) S[o] = S[o] + w[o];
    }
}

const float *mlp_net_sparse_start(mlp_net *net, float c) {
    const int D = net->arch.width[0], H = net->arch.width[1];
    float *S = net->ws->sparse0, *start = net->ws->sparse0 + H;
    const float *b = net->params + net->b_off[0];
    mlp_column_sums(S, net->ws->wt[0], D, H);
    for (int o = 0; o < H; o++) start[o] = b[o] + c * S[o];
    return start;
}

/* multiply-adds of a forward pass per row */
static double forward_macs_per_row(const mlp_net *net) {
    double m = 0;
    for (int l = 0; l < net->arch.n_layers; l++) m += (double)net->arch.width[l] * net->arch.width[l + 1];
    return m;
}

/* Threads for a row-parallel pass over n rows: one per 2M multiply-adds at least (waking a thread costs
 * more than a smaller share saves), at most net->threads and one per row. */
int mlp_net_row_threads(const mlp_net *net, int n) {
    double parts = (double)n * forward_macs_per_row(net) / 2e6;
    int t = net->threads;
    if (t > n) t = n;
    if (t > parts) t = (int)parts;
    return t < 1 ? 1 : t;
}

/* Subnormals are flushed while the pass computes, on this thread and the team's (fpmode.c). */
const float *mlp_net_forward(mlp_net *net, const float *x, int n) { return mlp_net_forward_train(net, x, n, NULL); }

const float *mlp_net_forward_train(mlp_net *net, const float *x, int n, const mlp_dropout *d) {
    const int L = net->arch.n_layers;
    memset(&net->ws->drop, 0, sizeof net->ws->drop);
    if (d && d->p > 0) net->ws->drop = mlp_dropout_make(d, net->kernels);
    const int threads = mlp_net_row_threads(net, n);
    mlp_fpmode fm;
    mlp_fpmode_enter(&fm);
    if (threads <= 1) {
        mlp_net_forward_rows(net, x, 0, n, NULL, 0.0f);
    } else {
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
        {
            const int parts = omp_get_num_threads(), me = omp_get_thread_num();
            mlp_fpmode tm;
            mlp_fpmode_enter(&tm);
            mlp_net_forward_rows(net, x, (int)((long long)n * me / parts), (int)((long long)n * (me + 1) / parts), NULL,
                                 0.0f);
            mlp_fpmode_leave_team(&tm, &fm, me);
        }
#else
        mlp_net_forward_rows(net, x, 0, n, NULL, 0.0f);
#endif
    }
    mlp_fpmode_leave(&fm);
    return net->ws->u[L - 1];
}

/* next *= f'(u_l) r for hidden layer l under the last forward's dropout, with r folded into f' first (d' = f' r, then
 * next d'), as the fused step's stored derivative has it: f' of the path's activation kernel, in pieces of a row. */
static void dropout_backward(mlp_net *net, int l, float *next, int n) {
    const mlp_kernel_table *kt = mlp_kernels_of(net->kernels);
    const int w = net->arch.width[l + 1];
    enum { PIECE = 256 };
    float f[PIECE], d[PIECE];
    for (int r = 0; r < n; r++)
        for (int c0 = 0; c0 < w; c0 += PIECE) {
            const int m = w - c0 < PIECE ? w - c0 : PIECE;
            kt->act(net->arch.act, net->ws->u[l] + (size_t)r * w + c0, f, d, (size_t)m);
            mlp_dropout_apply(&net->ws->drop, l, r, r + 1, c0, c0 + m, f, d, 0);
            float *g = next + (size_t)r * w + c0;
            for (int c = 0; c < m; c++) g[c] = g[c] * d[c];
        }
}

/* The unfused backward pass (the reference composition for the fused step): one product at a time through
 * the threaded drivers. */
void mlp_net_backward(mlp_net *net, const float *x, float *dlogits, int n) {
    const mlp_kernel_table *kt = mlp_kernels_of(net->kernels);
    const int L = net->arch.n_layers;
    float *G = dlogits;
    mlp_fpmode fm; /* subnormals flushed (fpmode.c); the drivers' teams set it too */
    mlp_fpmode_enter(&fm);
    for (int l = L - 1; l >= 0; l--) {
        const int w_in = net->arch.width[l], w_out = net->arch.width[l + 1];
        const float *in = l ? net->ws->a[l - 1] : x;
        /* dW [out x in] = G^T [out x n] . in [n x in] */
        mlp_gemm_tn(net->kernels, net->threads, w_out, w_in, n, G, w_out, in, w_in, net->grads + net->w_off[l],
                    w_in, NULL);
        /* db = column sums of G, in row order */
        float *db = net->grads + net->b_off[l];
        memset(db, 0, sizeof(float) * (size_t)w_out);
        for (int r = 0; r < n; r++)
            for (int o = 0; o < w_out; o++) db[o] += G[(size_t)r * w_out + o];
        if (l > 0) {
            /* G_{l-1} [n x in] = (G [n x out] . W [out x in]) * f'(u_{l-1}) */
            float *next = net->ws->delta[(L - 1 - l) & 1];
            mlp_gemm_nn(net->kernels, net->threads, n, w_in, w_out, G, w_out, net->params + net->w_off[l], w_in,
                        NULL, next, w_in, NULL);
            if (net->ws->drop.thr) dropout_backward(net, l - 1, next, n);
            else kt->act_backward(net->arch.act, net->ws->u[l - 1], next, next, (size_t)n * (size_t)w_in);
            G = next;
        }
    }
    mlp_fpmode_leave(&fm);
}

/* ------------------------------------------------------------------ the update of the whole parameter block */

void mlp_sgd_step(mlp_net *net, float lr, float wd, float momentum) {
    mlp_fpmode fm; /* subnormals flushed (fpmode.c) */
    mlp_fpmode_enter(&fm);
    mlp_kernels_of(net->kernels)->sgd(net->params, net->momentum, net->grads, net->n_params, lr, wd, momentum);
    mlp_fpmode_leave(&fm);
    mlp_net_params_changed(net);
}

/* optim.c's rule over the flat blocks (every rule is elementwise: the fused step's slices give the same bits) */
void mlp_optim_step(mlp_net *net, const mlp_train_cfg *cfg, float lr, int64_t step) {
    const mlp_optim_coef c = mlp_optim_coef_make(cfg, lr, step);
    mlp_fpmode fm; /* subnormals flushed (fpmode.c) */
    mlp_fpmode_enter(&fm);
    mlp_optim_apply(&c, net->kernels, net->params, net->momentum, net->moment2, net->grads, net->n_params);
    mlp_fpmode_leave(&fm);
    mlp_net_params_changed(net);
}

/* ------------------------------------------------------------------ the reference training step (step.h) */

double mlp_step_ref_grad(mlp_net *net, const mlp_loss_cfg *loss, const float *x, const int32_t *y, int n,
                         float grad_scale, float *dlogits, double *row_loss, unsigned char *row_ok, int *correct,
                         const mlp_dropout *drop) {
    const float *logits = mlp_net_forward_train(net, x, n, drop);
    mlp_loss_rows(loss, logits, y, n, net->arch.width[net->arch.n_layers], dlogits, grad_scale, row_loss, row_ok);
    mlp_net_backward(net, x, dlogits, n);
    return mlp_rows_sum(row_loss, row_ok, n, correct);
}

void mlp_step_ref_update(mlp_net *net, const mlp_train_cfg *cfg, float lr, int64_t step) {
    mlp_optim_step(net, cfg, lr, step);
}

/* ------------------------------------------------------------------ the fused training step
 *
 * Work split for `parts` threads (part = this thread):
 *   layer 0 (the big one): output units in parts of whole 16-float vectors (cols_of), the same for its forward
 *     product and its update, so each thread keeps its columns of W_0^T and V_0^T in its own L2;
 *   the rest of the forward pass, the loss and the backward pass down to G_0: batch rows (rows_of);
 *   the updates of layers >= 1: output rows in units of UPDATE_ROWS, dealt out starting from the last thread (the first
 *     thread has the first columns of layer 0 and the bookkeeping).
 * Every element is the same chain whoever computes it, so the results do not depend on `parts`. */

/* Output rows per unit of the updates of layers >= 1: a multiple of the SIMD kernels' 6-row tile (16 rows were
 * 6 + 6 + 4, a third of the tiles at two thirds of the work), small enough to deal out evenly. */
enum { UPDATE_ROWS = 24 };

static int cols_of(int width, int part, int parts) {
    const long long units = (width + 15) / 16;
    const long long at = units * part / parts * 16;
    return at < width ? (int)at : width;
}

static int rows_of(int n, int part, int parts) { return (int)((long long)n * part / parts); }

/* Layer 0's output: the step's a0 buffer for a hidden layer, the logits for a one-layer net. */
static float *layer0_out(mlp_net *net, const mlp_step *s) { return net->arch.n_layers > 1 ? s->a0 : net->ws->u[0]; }

void mlp_step_forward0(mlp_net *net, const mlp_step *s, int part, int parts) {
    const mlp_kernel_table *kt = mlp_kernels_of(net->kernels);
    const int D = net->arch.width[0], H = net->arch.width[1];
    const int o0 = cols_of(H, part, parts), o1 = cols_of(H, part + 1, parts);
    if (o1 <= o0) return;
    float *out = layer0_out(net, s);
    /* s->d[0] exists only when layer 0 is hidden: no pointer arithmetic on NULL */
    float *d0 = net->arch.n_layers > 1 ? s->d[0] + o0 : NULL;
    mlp_epi ep = {.kind = MLP_EPI_ACT, .act = net->arch.act, .f = out + o0, .ldf = H, .d = d0, .ldd = H};
    const mlp_epi *epp = net->arch.n_layers > 1 ? &ep : NULL;
    if (s->sp) {
        /* start = b + c S for this thread's columns (S: kept by the update of the same columns) */
        mlp_step_sparse *sp = s->sp;
        const float *b = net->params + net->b_off[0];
        for (int o = o0; o < o1; o++) sp->start[o] = b[o] + sp->c * sp->S[o];
        kt->spmm_nn(s->nb, o1 - o0, &sp->rows, net->ws->wt[0] + o0, H, sp->start + o0, out + o0, H, epp);
    } else {
        kt->gemm_nn(s->nb, o1 - o0, D, s->x, D, net->ws->wt[0] + o0, H, net->params + net->b_off[0] + o0, out + o0, H,
                    epp);
    }
    if (s->drop && epp) mlp_dropout_apply(s->drop, 0, 0, s->nb, o0, o1, out + o0, d0, H); /* a0 r and f' r */
}

/* CSC block b of the batch (rows [16b, 16b + 16)) from its CSR rows: a counting sort by input, rows in order. */
static void build_csc_block(const mlp_step *s, int D, int b) {
    mlp_step_sparse *sp = s->sp;
    uint32_t *pstart = sp->pstart + (size_t)b * (D + 1);
    uint16_t *row = sp->row + (size_t)b * sp->cap;
    float *val = sp->val + (size_t)b * sp->cap;
    const int r0 = b * MLP_CSC_ROWS, r1 = r0 + MLP_CSC_ROWS < s->nb ? r0 + MLP_CSC_ROWS : s->nb;
    memset(pstart, 0, sizeof(uint32_t) * (size_t)(D + 1));
    for (int r = r0; r < r1; r++) {
        const uint16_t *idx = sp->rows.idx + sp->rows.off[r];
        for (uint32_t e = 0; e < sp->rows.cnt[r]; e++) pstart[idx[e] + 1]++;
    }
    for (int i = 0; i < D; i++) pstart[i + 1] += pstart[i];
    /* fill, using pstart[i] as the cursor of input i, then shift back */
    for (int r = r0; r < r1; r++) {
        const uint16_t *idx = sp->rows.idx + sp->rows.off[r];
        const float *v = sp->rows.val + sp->rows.off[r];
        for (uint32_t e = 0; e < sp->rows.cnt[r]; e++) {
            const uint32_t at = pstart[idx[e]]++;
            row[at] = (uint16_t)r;
            val[at] = v[e];
        }
    }
    for (int i = D; i > 0; i--) pstart[i] = pstart[i - 1];
    pstart[0] = 0;
    sp->blocks[b].pstart = pstart;
    sp->blocks[b].row = row;
    sp->blocks[b].val = val;
}

void mlp_step_middle(mlp_net *net, const mlp_step *s, int part, int parts) {
    const mlp_kernel_table *kt = mlp_kernels_of(net->kernels);
    const int L = net->arch.n_layers, K = net->arch.width[L];
    int r0 = rows_of(s->nb, part, parts), r1 = rows_of(s->nb, part + 1, parts);
    if (s->sp) { /* whole CSC blocks per thread; each builds its blocks */
        const int nbk = s->sp->nblocks, b0 = (int)((long long)nbk * part / parts), b1 = (int)((long long)nbk * (part + 1) / parts);
        for (int b = b0; b < b1; b++) build_csc_block(s, net->arch.width[0], b);
        r0 = b0 * MLP_CSC_ROWS < s->nb ? b0 * MLP_CSC_ROWS : s->nb;
        r1 = b1 * MLP_CSC_ROWS < s->nb ? b1 * MLP_CSC_ROWS : s->nb;
    }
    const int n = r1 - r0;
    if (n <= 0) return;
    /* forward through layers 1 .. L-1 */
    const float *in = layer0_out(net, s);
    for (int l = 1; l < L; l++) {
        const int w_in = net->arch.width[l], w_out = net->arch.width[l + 1];
        float *out = l < L - 1 ? net->ws->a[l] : net->ws->u[l];
        float *dl = l < L - 1 ? s->d[l] + (size_t)r0 * w_out : NULL; /* d[l] exists for hidden layers only */
        mlp_epi ep = {.kind = MLP_EPI_ACT, .act = net->arch.act, .f = out + (size_t)r0 * w_out, .ldf = w_out, .d = dl,
                      .ldd = w_out};
        kt->gemm_nn(n, w_out, w_in, in + (size_t)r0 * w_in, w_in, net->ws->wt[l], w_out, net->params + net->b_off[l],
                    out + (size_t)r0 * w_out, w_out, l < L - 1 ? &ep : NULL);
        if (s->drop && l < L - 1) mlp_dropout_apply(s->drop, l, r0, r1, 0, w_out, out + (size_t)r0 * w_out, dl, w_out);
        in = out;
    }
    /* loss and its gradient at the logits */
    mlp_loss_rows(s->loss, net->ws->u[L - 1] + (size_t)r0 * K, s->y + r0, n, K, s->g[L - 1] + (size_t)r0 * K,
                  s->grad_scale, s->row_loss + r0, s->row_ok + r0);
    /* G_{l-1} = (G_l W_l) * f'(u_{l-1}) down to G_0 */
    for (int l = L - 1; l >= 1; l--) {
        const int w_in = net->arch.width[l], w_out = net->arch.width[l + 1];
        mlp_epi ep = {.kind = MLP_EPI_MUL, .act = net->arch.act, .d = s->d[l - 1] + (size_t)r0 * w_in, .ldd = w_in};
        kt->gemm_nn(n, w_in, w_out, s->g[l] + (size_t)r0 * w_out, w_out, net->params + net->w_off[l], w_in, NULL,
                    s->g[l - 1] + (size_t)r0 * w_in, w_in, &ep);
    }
}

/* db = column sums of G [n x w] over rows in order, columns [c0, c1) */
static void bias_grad(const float *G, int n, int w, int c0, int c1, float *db) {
    for (int o = c0; o < c1; o++) db[o] = 0.0f;
    for (int r = 0; r < n; r++) {
        const float *g = G + (size_t)r * w;
        for (int o = c0; o < c1; o++) db[o] += g[o];
    }
}

/* The step's update rule (plain SGD from lr, wd, mom when s->opt is NULL) */
static mlp_optim_coef step_rule(const mlp_step *s) { return s->opt ? *s->opt : mlp_optim_coef_sgd(s->lr, s->wd, s->mom); }

/* db, then the rule on the biases [c0, c1) of a layer whose bias block starts at offset b_off */
static void bias_update(const mlp_net *net, const mlp_optim_coef *oc, const float *G, int n, int w, int c0, int c1,
                        size_t b_off) {
    float *db = net->grads + b_off;
    bias_grad(G, n, w, c0, c1, db);
    mlp_optim_apply(oc, net->kernels, net->params + b_off + c0, net->momentum + b_off + c0, net->moment2 + b_off + c0,
                    db + c0, (size_t)(c1 - c0));
}

/* Layer 0's weights, columns [o0, o1) of the transposed block: the rule on the stored gradient gt0, row by row;
 * with S (the sparse first layer) also the column sums S[o] of the new W_0, each from 0.0f over the rows in
 * order (the chain spmm_tn_sgd keeps; vectorized across columns), while each row is in L1. */
static void layer0_rule(const mlp_net *net, const mlp_step *s, const mlp_optim_coef *oc, int o0, int o1, float *S) {
    const int D = net->arch.width[0], H = net->arch.width[1];
    if (S)
        for (int o = o0; o < o1; o++) S[o] = 0.0f;
    for (int i = 0; i < D; i++) {
        const size_t at = (size_t)i * H + o0;
        float *w = net->ws->wt[0] + at;
        mlp_optim_apply(oc, net->kernels, w, s->vt0 + at, s->st0 ? s->st0 + at : NULL, s->gt0 + at, (size_t)(o1 - o0));
        if (!S) continue;
        float *restrict Sp = S + o0;
        const float *restrict wp = w;
#pragma omp simd
        for (int o = 0; o < o1 - o0; o++) Sp[o] = Sp[o] + wp[o];
    }
}

void mlp_step_update(mlp_net *net, const mlp_step *s, int part, int parts) {
    const mlp_kernel_table *kt = mlp_kernels_of(net->kernels);
    const int L = net->arch.n_layers, D = net->arch.width[0], H = net->arch.width[1];
    const mlp_optim_coef oc = step_rule(s);
    const int fused = mlp_optim_is_plain_sgd(&oc); /* the rule inside the gradient kernels' epilogues */
    /* layer 0: gt0[:, O] = x^T G_0[:, O] with the SGD rule on wt0 / vt0 in the epilogue */
    const int o0 = cols_of(H, part, parts), o1 = cols_of(H, part + 1, parts);
    if (o1 > o0 && s->sp) {
        /* gradient c db + sparse part, SGD, and the new column sums S, for this thread's columns */
        mlp_step_sparse *sp = s->sp;
        float *db = net->grads + net->b_off[0];
        bias_grad(s->g[0], s->nb, H, o0, o1, db);
        for (int o = o0; o < o1; o++) sp->start[o] = sp->c * db[o];
        if (fused) {
            kt->spmm_tn_sgd(D, o1 - o0, sp->blocks, sp->nblocks, s->g[0] + o0, H, sp->start + o0, net->ws->wt[0] + o0,
                            s->vt0 + o0, H, oc.lr, oc.wd, oc.mom, sp->S + o0);
        } else {
            /* The same kernel with the zero rule (lr = wd = mom = 0: v = 0 v + (g + 0 w) = g, w - 0 v = w) stores
             * the gradient into gt0; then the rule, and the column sums S of the new W_0 (the chain the kernel
             * keeps: from 0.0f over i in order) */
            kt->spmm_tn_sgd(D, o1 - o0, sp->blocks, sp->nblocks, s->g[0] + o0, H, sp->start + o0, net->ws->wt[0] + o0,
                            s->gt0 + o0, H, 0.0f, 0.0f, 0.0f, sp->S + o0);
            layer0_rule(net, s, &oc, o0, o1, sp->S);
        }
        mlp_optim_apply(&oc, net->kernels, net->params + net->b_off[0] + o0, net->momentum + net->b_off[0] + o0,
                        net->moment2 + net->b_off[0] + o0, db + o0, (size_t)(o1 - o0));
    } else if (o1 > o0) {
        mlp_epi ep = {.kind = MLP_EPI_SGD, .w = net->ws->wt[0] + o0, .v = s->vt0 + o0, .ldw = H, .lr = oc.lr,
                      .wd = oc.wd, .mom = oc.mom};
        kt->gemm_tn(D, o1 - o0, s->nb, s->x, D, s->g[0] + o0, H, s->gt0 + o0, H, fused ? &ep : NULL);
        if (!fused) layer0_rule(net, s, &oc, o0, o1, NULL);
        bias_update(net, &oc, s->g[0], s->nb, H, o0, o1, net->b_off[0]);
    }
    /* layers >= 1: units of UPDATE_ROWS output rows (whole 6-row kernel tiles), unit u to thread parts - 1 - u % parts */
    int unit = 0;
    for (int l = 1; l < L; l++) {
        const int w_in = net->arch.width[l], w_out = net->arch.width[l + 1];
        const float *in = l == 1 ? s->a0 : net->ws->a[l - 1];
        for (int j0 = 0; j0 < w_out; j0 += UPDATE_ROWS, unit++) {
            if (parts - 1 - unit % parts != part) continue;
            const int j1 = j0 + UPDATE_ROWS < w_out ? j0 + UPDATE_ROWS : w_out;
            const size_t off = net->w_off[l] + (size_t)j0 * w_in;
            mlp_epi ep = {.kind = MLP_EPI_SGD, .w = net->params + off, .v = net->momentum + off, .ldw = w_in,
                          .lr = oc.lr, .wd = oc.wd, .mom = oc.mom};
            kt->gemm_tn(j1 - j0, w_in, s->nb, s->g[l] + j0, w_out, in, w_in, net->grads + off, w_in, fused ? &ep : NULL);
            if (!fused) /* rows j0 .. j1 of W_l are contiguous */
                mlp_optim_apply(&oc, net->kernels, net->params + off, net->momentum + off, net->moment2 + off,
                                net->grads + off, (size_t)(j1 - j0) * w_in);
            bias_update(net, &oc, s->g[l], s->nb, w_out, j0, j1, net->b_off[l]);
            /* the forward copy: wt_l[i][j] = W_l[j][i] for these rows j */
            const float *W = net->params + net->w_off[l];
            float *wt = net->ws->wt[l];
            for (int i = 0; i < w_in; i++)
                for (int j = j0; j < j1; j++) wt[(size_t)i * w_out + j] = W[(size_t)j * w_in + i];
        }
    }
}

/* Layer 0's weights and momentum move to the transposed layout of the fused step and back. */
void mlp_step_enter(mlp_net *net, float *vt0, float *st0, float *S) {
    const int D = net->arch.width[0], H = net->arch.width[1];
    mlp_transpose(net->ws->wt[0], net->params + net->w_off[0], H, D);
    mlp_transpose(vt0, net->momentum + net->w_off[0], H, D);
    if (st0) mlp_transpose(st0, net->moment2 + net->w_off[0], H, D);
    if (S) mlp_column_sums(S, net->ws->wt[0], D, H);
}

void mlp_step_leave(mlp_net *net, const float *vt0, const float *st0) {
    const int D = net->arch.width[0], H = net->arch.width[1];
    mlp_transpose(net->params + net->w_off[0], net->ws->wt[0], D, H);
    mlp_transpose(net->momentum + net->w_off[0], vt0, D, H);
    if (st0) mlp_transpose(net->moment2 + net->w_off[0], st0, D, H);
}
