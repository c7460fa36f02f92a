/*
 * mlp.h - train multilayer perceptrons on MNIST-like data, fast, from C.
 *
 * The one public header of libmlp. Conventions that hold for every function:
 *   - The library never prints and never exits. A function that can fail returns an mlp_status and, when
 *     `err` is not NULL, fills err->msg with one line saying what failed, on which file or value, and
 *     what was expected.
 *   - No global state: every object is owned by the caller and passed explicitly (random generators too).
 *     Different objects may be used from different threads at the same time; one object must not be.
 *   - Shapes are written [rows x cols], row-major, float32 unless stated.
 *
 * The semantics (layers, losses, optimizer, metrics) are those of the reference experiment, see
 * docs/ARCHITECTURE.md and docs/SEMANTICS.md.
 */
#ifndef MLP_H
#define MLP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MLP_VERSION "0.1.0"
#define MLP_MAX_LAYERS 16   /* Linear layers in a network (hidden layers + 1) */
#define MLP_MAX_CLASSES 64  /* output width limit (MNIST: 10) */

/* ---------------------------------------------------------------- errors */

typedef enum mlp_status {
    MLP_OK = 0,
    MLP_ERR_ARG,         /* a bad argument or configuration value */
    MLP_ERR_IO,          /* a file could not be opened, read or written */
    MLP_ERR_FORMAT,      /* a file was read but its content is malformed */
    MLP_ERR_NOMEM,       /* an allocation failed */
    MLP_ERR_DIVERGED,    /* training produced NaN or Inf */
    MLP_ERR_INTERRUPTED  /* stopped on request (signal flag) */
} mlp_status;

typedef struct mlp_error {
    mlp_status code;
    char msg[512];
} mlp_error;

const char *mlp_status_name(mlp_status s);

/* ---------------------------------------------------------------- random numbers */

/* xoshiro256** seeded by splitmix64. The state is the whole generator: copy it to save it. */
typedef struct mlp_rng {
    uint64_t s[4];
} mlp_rng;

void mlp_rng_seed(mlp_rng *r, uint64_t seed, uint64_t stream); /* independent streams per (seed, stream) */
uint64_t mlp_rng_u64(mlp_rng *r);
double mlp_rng_uniform(mlp_rng *r);                /* [0, 1), 53 random bits */
uint32_t mlp_rng_below(mlp_rng *r, uint32_t n);    /* uniform in [0, n), unbiased; n > 0 */
double mlp_rng_normal(mlp_rng *r);                 /* standard normal (Box-Muller, one value per call) */

/* ---------------------------------------------------------------- activations */

/* Enumerable table, in this order; mlp_act_name / mlp_act_parse map names. */
typedef enum mlp_act {
    MLP_ACT_RELU,    /* max(0,u)                                    f' = [u>0]                  */
    MLP_ACT_SIGMOID, /* 1/(1+e^-u)                                  f' = f(1-f)                 */
    MLP_ACT_TANH,    /* tanh u                                      f' = 1 - f^2                */
    MLP_ACT_SELU,    /* l*u (u>0), l*a*(e^u-1) (u<=0)               f' = l ; l*a*e^u            */
    MLP_ACT_SWISH,   /* u*s, s = sigmoid(u)                         f' = s + u s (1-s)          */
    MLP_ACT_GELU,    /* 0.5u(1+tanh z), z = c(u+0.044715u^3)        f' = 0.5(1+tanh z)
                        c = sqrt(2/pi)                                   + 0.5u(1-tanh^2 z)c(1+0.134145u^2) */
    MLP_ACT_COUNT
} mlp_act;

/* SELU constants: the standard ones (Klambauer et al. 2017), not the assignment's truncated 1.0507/1.67326. */
#define MLP_SELU_LAMBDA 1.0507009873554805
#define MLP_SELU_ALPHA 1.6732632423543772

const char *mlp_act_name(mlp_act a);               /* "relu", ...; "?" when out of range */
int mlp_act_parse(const char *name, mlp_act *out); /* 0 on success, -1 for an unknown name */

/* out[i] = f(u[i]) for i < n. out may equal u. */
void mlp_act_forward(mlp_act a, float *out, const float *u, size_t n);
/* du[i] = dout[i] * f'(u[i]): needs the pre-activation u. du may equal dout. */
void mlp_act_backward(mlp_act a, float *du, const float *dout, const float *u, size_t n);
/* Double-precision scalar references (the test oracles). */
double mlp_act_ref(mlp_act a, double u);
double mlp_act_ref_grad(mlp_act a, double u);

/* ---------------------------------------------------------------- losses */

typedef enum mlp_loss {
    MLP_LOSS_MSE,   /* E = 1/N sum_n ||y - t||^2                                    dE/dy = 2(y-t)/N          */
    MLP_LOSS_CE,    /* E = 1/N sum_n -ln softmax(x)_t                              dE/dx = (h-t)/N           */
    MLP_LOSS_HINGE, /* E = 1/N sum_n sum_{k!=t} max(0, D - x_t + x_k)              dE/dx_k = [active]/N ...  */
    MLP_LOSS_FOCAL, /* E = 1/N sum_n -alpha_t (1-p)^g ln p, p = softmax(x)_t
                       dE/dx_k = alpha_t (1-p)^(g-1) (1-p - g p ln p)(h_k - t_k)/N                            */
    MLP_LOSS_COUNT
} mlp_loss;

typedef struct mlp_loss_cfg {
    mlp_loss kind;
    float hinge_margin;                  /* D, default 5 */
    float focal_gamma;                   /* g, default 2 */
    float focal_alpha[MLP_MAX_CLASSES];  /* alpha_k, default 0.1 for every class */
} mlp_loss_cfg;

const char *mlp_loss_name(mlp_loss l);
int mlp_loss_parse(const char *name, mlp_loss *out);
mlp_loss_cfg mlp_loss_default(mlp_loss kind); /* the reference's constants */

/*
 * Loss over a batch of N rows of K logits, labels in [0, K).
 * Returns the batch loss summed over rows (divide by N for the reference's mean value).
 * If dlogits is not NULL it receives grad_scale * d(sum_n E_n)/dlogits: grad_scale = 1/N gives the
 * gradient of the mean loss, 1 the summed gradient of the reference code.
 * *n_correct (if not NULL) receives the number of rows whose argmax logit equals the label
 * (first maximum on ties). Stable for any finite logits (tested at +-1000).
 */
double mlp_loss_eval(const mlp_loss_cfg *cfg, const float *logits, const uint8_t *labels, int N, int K,
                     float *dlogits, float grad_scale, int *n_correct);
/* Same, in double precision, one row: the test oracle. Returns E_n, fills dx[K] with dE_n/dx. */
double mlp_loss_ref(const mlp_loss_cfg *cfg, const double *x, int label, int K, double *dx);

/* ---------------------------------------------------------------- matrix kernels */

/* Which implementation the kernels use. AUTO picks the best the CPU supports at run time. */
typedef enum mlp_kernels {
    MLP_KERNELS_AUTO = 0,
    MLP_KERNELS_PORTABLE, /* plain C, any CPU */
    MLP_KERNELS_AVX2,     /* x86-64 with AVX2 + FMA */
    MLP_KERNELS_AVX512,   /* x86-64 with AVX-512F */
    MLP_KERNELS_COUNT
} mlp_kernels;

const char *mlp_kernels_name(mlp_kernels k);
int mlp_kernels_parse(const char *name, mlp_kernels *out);
/* Resolve AUTO to the best available path; returns AUTO's resolution or the request itself if the CPU
 * supports it, else MLP_KERNELS_PORTABLE... callers that must know use mlp_kernels_supported. */
mlp_kernels mlp_kernels_resolve(mlp_kernels want);
int mlp_kernels_supported(mlp_kernels k);

/* ---------------------------------------------------------------- data */

/* Pixel scaling applied when images are loaded: x = (p - offset) * scale. Reference: 128, 1/255. */
typedef struct mlp_scaling {
    float offset, scale;
} mlp_scaling;
mlp_scaling mlp_scaling_default(void);

typedef struct mlp_dataset {
    int n;         /* number of images */
    int rows, cols;
    int dim;       /* rows * cols */
    float *x;      /* [n x dim], scaled */
    uint8_t *y;    /* [n] labels in 0..9 */
} mlp_dataset;

/* Parse IDX files from memory (the raw, uncompressed bytes). Validates magic, dimension count, sizes
 * against the buffer length (with overflow checks) and labels <= 9. *out is malloc'ed: free() it. */
mlp_status mlp_idx_parse_images(const uint8_t *buf, size_t len, uint8_t **pixels, int *n, int *rows,
                                 int *cols, mlp_error *err);
mlp_status mlp_idx_parse_labels(const uint8_t *buf, size_t len, uint8_t **labels, int *n, mlp_error *err);
/* Read a whole file, gunzipping it when it starts with the gzip magic. *out is malloc'ed. */
mlp_status mlp_read_file(const char *path, uint8_t **out, size_t *len, size_t max_len, mlp_error *err);

/* Load an images file and a labels file (raw or .gz), check the counts match, scale to float. */
mlp_status mlp_dataset_load_idx(mlp_dataset *ds, const char *images_path, const char *labels_path,
                                mlp_scaling s, mlp_error *err);
/* Load train and test sets from dir, which holds train-images-idx3-ubyte, train-labels-idx1-ubyte,
 * t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each raw or with a .gz suffix. Either may be NULL. */
mlp_status mlp_dataset_load_dir(mlp_dataset *train, mlp_dataset *test, const char *dir, mlp_scaling s,
                                mlp_error *err);
void mlp_dataset_free(mlp_dataset *ds);

/* Read a grayscale PGM (P2 or P5, maxval <= 65535) into a malloc'ed [h x w] array of values scaled to
 * 0..255. */
mlp_status mlp_pgm_read(const char *path, uint8_t **pixels, int *w, int *h, mlp_error *err);

/* ---------------------------------------------------------------- network */

typedef struct mlp_arch {
    int n_layers;                    /* Linear layers: hidden layers + 1 */
    int width[MLP_MAX_LAYERS + 1];   /* width[0] inputs ... width[n_layers] classes */
    mlp_act act;                     /* after every hidden layer; none after the output layer */
} mlp_arch;

/* Parse "128" or "128,32" (hidden widths) into arch with the given input and class counts. */
mlp_status mlp_arch_parse(mlp_arch *arch, const char *hidden, int inputs, int classes, mlp_act act,
                          mlp_error *err);
/* "784-128-10" */
void mlp_arch_format(const mlp_arch *arch, char *buf, size_t size);

/*
 * A network. Parameters, gradients and momentum are three contiguous blocks of n_params floats, laid
 * out identically: fc1.weight [w1 x w0], fc1.bias [w1], fc2.weight [w2 x w1], fc2.bias [w2], ...
 * (PyTorch nn.Linear names and shapes: weight is [out x in]), so the optimizer is one flat loop and a
 * model file is one write. The workspace holds every activation for max_batch rows, allocated once.
 */
typedef struct mlp_net {
    mlp_arch arch;
    size_t n_params;
    float *params, *grads, *momentum;
    size_t w_off[MLP_MAX_LAYERS], b_off[MLP_MAX_LAYERS]; /* offsets of fcL.weight / fcL.bias */

    int max_batch;
    int threads;          /* OpenMP threads for the kernels, >= 1 */
    mlp_kernels kernels;  /* resolved path, never AUTO */

    /* Workspace (one allocation): per layer l, pre-activation u[l] and output a[l], [max_batch x
     * width[l+1]]; a[n_layers-1] is the logits. Two delta buffers of [max_batch x max width]. The
     * transposed weights wt[l] [w_l x w_{l+1}] used by the forward kernel are kept in step with params. */
    float *work;
    float *u[MLP_MAX_LAYERS], *a[MLP_MAX_LAYERS];
    float *delta[2];
    float *wt[MLP_MAX_LAYERS];
} mlp_net;

/* Allocate a network for batches of up to max_batch rows. Parameters are zero until mlp_net_init. */
mlp_status mlp_net_create(mlp_net *net, const mlp_arch *arch, int max_batch, mlp_error *err);
void mlp_net_free(mlp_net *net);
/* W = randn * init_std (from rng), b = 0, momentum = 0. */
void mlp_net_init(mlp_net *net, float init_std, mlp_rng *rng);
/* Call after writing net->params directly (loading a model): refreshes derived state (wt). */
void mlp_net_params_changed(mlp_net *net);
/* Set the number of threads (>= 1) and the kernel path (AUTO resolves; an unsupported path is an error). */
mlp_status mlp_net_set_exec(mlp_net *net, int threads, mlp_kernels kernels, mlp_error *err);

/* Forward x [n x width0], n <= max_batch. Returns the logits [n x classes] (inside the workspace). */
const float *mlp_net_forward(mlp_net *net, const float *x, int n);
/* Backward after a forward of the same x: grads = d(loss)/d(params), with dlogits [n x classes] the
 * gradient at the logits. Overwrites grads; dlogits may be modified. */
void mlp_net_backward(mlp_net *net, const float *x, float *dlogits, int n);

/* SGD with momentum and coupled weight decay, for every parameter (biases too):
 *   v <- momentum * v + (g + wd * p);   p <- p - lr * v                                              */
void mlp_sgd_step(mlp_net *net, float lr, float wd, float momentum);

/* ---------------------------------------------------------------- training */

typedef enum mlp_reduction {
    MLP_GRAD_SUM,  /* the reference code: gradients are sums over the batch (lr 1e-5, wd 0.1) */
    MLP_GRAD_MEAN  /* the usual convention: gradient of the mean loss (lr 1e-3, wd 1e-3) */
} mlp_reduction;

typedef struct mlp_train_cfg {
    mlp_loss_cfg loss;
    float lr, wd, momentum;
    mlp_reduction reduction;
    int batch;
    int epochs;
    int shuffle;        /* 1: fresh permutation every epoch */
    float init_std;
    uint64_t seed;
} mlp_train_cfg;

/* The report's best configuration: hinge (D = 5), lr 1e-5, wd 0.1, momentum 0.9, summed gradients,
 * batch 100, 200 epochs, init std 0.01, seed 1. */
mlp_train_cfg mlp_train_cfg_default(void);

typedef struct mlp_epoch_metrics {
    int epoch;                       /* 1-based */
    double train_loss, train_acc;    /* means over the epoch's batches, measured before each update */
    double test_loss, test_acc;      /* over the whole test set after the epoch */
    double lr;
    double seconds;                  /* wall time of this epoch, test evaluation included */
} mlp_epoch_metrics;

/* Called by mlp_trainer_epoch after every step with the running sums of the epoch's per-batch loss
 * and accuracy (divide by step for the means so far). For progress displays; must not touch the net. */
typedef void (*mlp_step_fn)(void *user, int epoch, int step, int steps, double loss_sum, double acc_sum);

/*
 * The training loop state. Everything needed to continue a run exactly is here and in the net:
 * the shuffling generator and the number of epochs done. Scratch buffers are allocated at init.
 */
typedef struct mlp_trainer {
    mlp_train_cfg cfg;
    mlp_net *net;
    const mlp_dataset *train, *test;
    mlp_rng shuffle_rng;
    int epochs_done;
    int step_in_epoch;                 /* steps done in the current epoch (0 between epochs) */
    volatile const int *stop_flag;     /* if set and nonzero, the epoch stops early with INTERRUPTED */
    mlp_step_fn on_step;               /* optional progress callback, and its first argument */
    void *on_step_user;
    /* scratch, allocated once */
    uint32_t *perm;
    float *xbatch, *dlogits;
    uint8_t *ybatch;
} mlp_trainer;

/* Initialise the trainer. Does not touch net->params: call mlp_net_init (or load weights) first. */
mlp_status mlp_trainer_init(mlp_trainer *t, mlp_net *net, const mlp_train_cfg *cfg, const mlp_dataset *train,
                            const mlp_dataset *test, mlp_error *err);
void mlp_trainer_free(mlp_trainer *t);
/* Run one epoch: shuffle, one SGD step per batch (a last partial batch is used), then evaluate on the test
 * set (if any). Returns MLP_ERR_DIVERGED (with epoch and step in the message) on a non-finite loss. */
mlp_status mlp_trainer_epoch(mlp_trainer *t, mlp_epoch_metrics *m, mlp_error *err);

/* Mean loss and accuracy over a dataset, in batches of net->max_batch. confusion (if not NULL) is a
 * [K x K] int array, row = true label, column = predicted. */
mlp_status mlp_evaluate(mlp_net *net, const mlp_loss_cfg *loss, const mlp_dataset *ds, double *mean_loss,
                        double *accuracy, int *confusion, mlp_error *err);

/* ---------------------------------------------------------------- model files */

/* What a model file records besides the tensors (stored as strings in safetensors __metadata__). */
typedef struct mlp_model_meta {
    mlp_arch arch;
    mlp_loss_cfg loss;
    mlp_scaling scaling;
    char dataset[32];       /* "mnist", "fashion-mnist" or "" */
    char version[32];       /* mlp version that wrote the file */
} mlp_model_meta;

/* Write the network's parameters as safetensors (F32, little-endian, tensors fc1.weight [w1 x w0],
 * fc1.bias [w1], ...), with meta in __metadata__. Written to a temporary file, fsynced and renamed. */
mlp_status mlp_model_save(const char *path, const mlp_net *net, const mlp_model_meta *meta, mlp_error *err);
/* Read a safetensors model file: fills meta and creates *net (mlp_net_create with max_batch) holding the
 * parameters. Accepts any tensor order and extra metadata keys; checks dtype, shapes and offsets. */
mlp_status mlp_model_load(const char *path, mlp_net *net, int max_batch, mlp_model_meta *meta, mlp_error *err);
/* Same from memory (for fuzzing and tests). */
mlp_status mlp_model_parse(const uint8_t *buf, size_t len, mlp_net *net, int max_batch, mlp_model_meta *meta,
                           mlp_error *err);

#ifdef __cplusplus
}
#endif
#endif /* MLP_H */
