/* net.c - the network: memory layout, initialisation, forward and backward passes.
 *
 * Layer l (0-based) maps width[l] inputs to width[l+1] outputs:
 *   forward   u_l = a_{l-1} W_l^T + b_l        a_{-1} = x;  a_l = f(u_l) for hidden layers, a_{L-1} = u_{L-1}
 *   backward  dW_l = G_l^T a_{l-1}             G_{L-1} = dlogits   (sums over the batch rows;
 *             db_l = column sums of G_l                             any 1/N is in dlogits)
 *             G_{l-1} = (G_l W_l) * f'(u_{l-1})
 * W_l is stored [out x in] (PyTorch's nn.Linear layout); the forward kernel reads the transposed copy
 * wt_l [in x out], which is refreshed whenever the parameters change, so that every kernel is of the
 * form "broadcast a scalar of A, stream a row of B" and each output is a sequential chain over k. */
#include "internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN_FLOATS 16 /* 64-byte alignment for every buffer in a block */

static size_t round_up(size_t n) { return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }

static float *alloc_floats(size_t n) {
    size_t bytes = round_up(n ? n : 1) * sizeof(float);
    float *p = aligned_alloc(64, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

mlp_status mlp_arch_parse(mlp_arch *arch, const char *hidden, int inputs, int classes, mlp_act act,
                          mlp_error *err) {
    memset(arch, 0, sizeof *arch);
    if (inputs < 1 || classes < 2 || classes > MLP_MAX_CLASSES)
        return mlp_fail(err, MLP_ERR_ARG, "network needs >= 1 input and 2..%d classes (got %d, %d)",
                        MLP_MAX_CLASSES, inputs, classes);
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
    if (arch->width[arch->n_layers] > MLP_MAX_CLASSES)
        return mlp_fail(err, MLP_ERR_ARG, "%d output classes: at most %d supported", arch->width[arch->n_layers],
                        MLP_MAX_CLASSES);
    if ((unsigned)arch->act >= MLP_ACT_COUNT)
        return mlp_fail(err, MLP_ERR_ARG, "unknown activation %d", (int)arch->act);
    if (max_batch < 1 || max_batch > (1 << 20))
        return mlp_fail(err, MLP_ERR_ARG, "batch size %d out of range 1..%d", max_batch, 1 << 20);
    return MLP_OK;
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
    size_t n_params = 0, max_width = 0, work = 0;
    for (int l = 0; l < L; l++) {
        size_t in = (size_t)arch->width[l], out = (size_t)arch->width[l + 1];
        net->w_off[l] = n_params;
        net->b_off[l] = n_params + out * in;
        n_params += out * in + out; /* widths <= 2^20 and layers <= 16: no overflow in size_t (64-bit) */
        if (out > max_width) max_width = out;
        work += 2 * round_up((size_t)max_batch * out) + round_up(in * out);
    }
    work += 2 * round_up((size_t)max_batch * max_width);
    net->n_params = n_params;

    net->params = alloc_floats(n_params);
    net->grads = alloc_floats(n_params);
    net->momentum = alloc_floats(n_params);
    net->work = alloc_floats(work);
    if (!net->params || !net->grads || !net->momentum || !net->work) {
        mlp_net_free(net);
        return mlp_fail(err, MLP_ERR_NOMEM, "cannot allocate a network of %zu parameters for batch %d", n_params,
                        max_batch);
    }
    float *p = net->work;
    for (int l = 0; l < L; l++) {
        size_t rows_out = round_up((size_t)max_batch * (size_t)arch->width[l + 1]);
        net->u[l] = p, p += rows_out;
        net->a[l] = p, p += rows_out;
        net->wt[l] = p, p += round_up((size_t)arch->width[l] * (size_t)arch->width[l + 1]);
    }
    net->delta[0] = p, p += round_up((size_t)max_batch * max_width);
    net->delta[1] = p;
    return MLP_OK;
}

void mlp_net_free(mlp_net *net) {
    free(net->params);
    free(net->grads);
    free(net->momentum);
    free(net->work);
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

/* wt_l[i][o] = W_l[o][i] */
static void transpose_weights(mlp_net *net, int l) {
    const int in = net->arch.width[l], out = net->arch.width[l + 1];
    const float *W = net->params + net->w_off[l];
    float *wt = net->wt[l];
    for (int o = 0; o < out; o++)
        for (int i = 0; i < in; i++) wt[(size_t)i * out + o] = W[(size_t)o * in + i];
}

void mlp_net_params_changed(mlp_net *net) {
    for (int l = 0; l < net->arch.n_layers; l++) transpose_weights(net, l);
}

void mlp_net_init(mlp_net *net, float init_std, mlp_rng *rng) {
    for (int l = 0; l < net->arch.n_layers; l++) {
        size_t nw = (size_t)net->arch.width[l] * (size_t)net->arch.width[l + 1];
        float *W = net->params + net->w_off[l];
        for (size_t i = 0; i < nw; i++) W[i] = (float)(mlp_rng_normal(rng) * init_std);
        memset(net->params + net->b_off[l], 0, sizeof(float) * (size_t)net->arch.width[l + 1]);
    }
    memset(net->momentum, 0, sizeof(float) * net->n_params);
    memset(net->grads, 0, sizeof(float) * net->n_params);
    mlp_net_params_changed(net);
}

const float *mlp_net_forward(mlp_net *net, const float *x, int n) {
    const int L = net->arch.n_layers;
    const float *in = x;
    for (int l = 0; l < L; l++) {
        const int w_in = net->arch.width[l], w_out = net->arch.width[l + 1];
        mlp_gemm_nn(net->kernels, net->threads, n, w_out, w_in, in, w_in, net->wt[l], w_out,
                    net->params + net->b_off[l], net->u[l], w_out);
        if (l < L - 1) {
            mlp_act_forward(net->arch.act, net->a[l], net->u[l], (size_t)n * (size_t)w_out);
            in = net->a[l];
        }
    }
    return net->u[L - 1];
}

void mlp_net_backward(mlp_net *net, const float *x, float *dlogits, int n) {
    const int L = net->arch.n_layers;
    float *G = dlogits;
    for (int l = L - 1; l >= 0; l--) {
        const int w_in = net->arch.width[l], w_out = net->arch.width[l + 1];
        const float *in = l ? net->a[l - 1] : x;
        /* dW [out x in] = G^T [out x n] . in [n x in] */
        mlp_gemm_tn(net->kernels, net->threads, w_out, w_in, n, G, w_out, in, w_in, net->grads + net->w_off[l],
                    w_in);
        /* db = column sums of G, in row order */
        float *db = net->grads + net->b_off[l];
        memset(db, 0, sizeof(float) * (size_t)w_out);
        for (int r = 0; r < n; r++)
            for (int o = 0; o < w_out; o++) db[o] += G[(size_t)r * w_out + o];
        if (l > 0) {
            /* G_{l-1} [n x in] = (G [n x out] . W [out x in]) * f'(u_{l-1}) */
            float *next = net->delta[(L - 1 - l) & 1];
            mlp_gemm_nn(net->kernels, net->threads, n, w_in, w_out, G, w_out, net->params + net->w_off[l], w_in,
                        NULL, next, w_in);
            mlp_act_backward(net->arch.act, next, next, net->u[l - 1], (size_t)n * (size_t)w_in);
            G = next;
        }
    }
}
