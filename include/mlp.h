/*
 * mlp.h - train multilayer perceptrons on MNIST-like data, fast, from C.
 *
 * The one public header of libmlp. Conventions that hold for every function:
 *   - The library never prints and never exits. A function that can fail returns an mlp_status and, when
 *     `err` is not NULL, fills err->code and err->msg with one line saying what failed, on which file or
 *     value, and what was expected. Bad input (files, arguments) is an error, never a crash.
 *   - Ownership: the caller owns every object (mlp_dataset, mlp_net, mlp_trainer, ...) and its storage;
 *     functions that allocate say so, and the matching *_free releases it (free() for plain buffers such
 *     as pixels or file bytes). On failure an output is left empty (pointers NULL, sizes 0): nothing
 *     to free. The *_free functions zero the object, so freeing twice is harmless.
 *   - No global state: every object is passed explicitly (random generators too), nothing is cached in
 *     statics. Different objects may be used from different threads at the same time; one object must
 *     not be used by two threads at once (read-only sharing, e.g. one dataset for several trainers, is
 *     fine). Functions without an object argument are reentrant.
 *   - Shapes are written [rows x cols], row-major, float32 unless stated.
 *
 * Build and link: `pkg-config --cflags --libs mlp` after `make install` (docs/LIBRARY.md).
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

/* The library is built with hidden visibility: what this header declares is all that libmlp exports. */
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC visibility push(default)
#endif

#define MLP_VERSION "0.1.0"
#define MLP_MAX_LAYERS 16   /* Linear layers in a network (hidden layers + 1) */

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

const char *mlp_status_name(mlp_status s); /* a short lowercase name ("malformed file"), never NULL */

/* ---------------------------------------------------------------- random numbers */

/* xoshiro256** seeded by splitmix64. The state is the whole generator: copy it to save it. Each
 * generator is independent: give every thread its own. */
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
    /* alpha_k = focal_alpha[k] for k < n_focal_alpha, else 0.1 (NULL: 0.1 for every class, the default). The array
     * is its owner's (the caller's, or a loaded model's meta): the cfg only points at it, and copies of the cfg
     * share it, so it must outlive them. */
    const float *focal_alpha;
    int n_focal_alpha;
} mlp_loss_cfg;

const char *mlp_loss_name(mlp_loss l);
int mlp_loss_parse(const char *name, mlp_loss *out);
mlp_loss_cfg mlp_loss_default(mlp_loss kind); /* the reference's constants */
float mlp_loss_focal_alpha(const mlp_loss_cfg *cfg, int k); /* alpha of class k: focal_alpha[k], or 0.1 */

/*
 * Loss over a batch of N rows of K logits, labels in [0, K).
 * Returns the batch loss summed over rows (divide by N for the reference's mean value).
 * If dlogits is not NULL it receives grad_scale * d(sum_n E_n)/dlogits: grad_scale = 1/N gives the
 * gradient of the mean loss, 1 the summed gradient of the reference code.
 * *n_correct (if not NULL) receives the number of rows whose argmax logit equals the label
 * (first maximum on ties). Stable for any finite logits (tested at +-1000).
 */
double mlp_loss_eval(const mlp_loss_cfg *cfg, const float *logits, const int32_t *labels, int N, int K,
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
    MLP_KERNELS_BLAS,     /* the dense products through cblas_sgemm: only in a `make BLAS=...` build, never AUTO */
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
    int n;         /* number of examples (images, rows of a table) */
    int rows, cols; /* the shape of one example: an image's rows and columns; a row of features is 1 x dim */
    int dim;       /* rows * cols: the network's inputs */
    float *x;      /* [n x dim], scaled */
    int32_t *y;    /* [n] labels, class indices 0..classes-1 */
    int classes;   /* the number of classes (IDX: the largest label + 1; CSV, NPY: the distinct labels) */
    char **class_names; /* [classes] names of the classes (CSV and NPY labels as written), or NULL: the classes are
                         * their indices. One allocation (pointers, then the strings), freed by mlp_dataset_free */
    int byte_data; /* 1: x holds 8-bit values scaled at load (IDX files, uint8 NPY); 0: features as read */
} mlp_dataset;

/* Parse IDX files from memory (the raw, uncompressed bytes). Images: unsigned bytes, 3 dimensions [n x rows x
 * cols] (magic 0x00000803) or 2 [n x d] (0x00000802, returned as rows 1, cols d). Labels: 1 dimension of
 * unsigned bytes (0x00000801) or big-endian int32 (0x00000c01), each 0..2^20-1. Validates magic, dimension
 * count, sizes against the buffer length (with overflow checks) and label values. *pixels ([n x rows x cols]
 * bytes) and *labels ([n] int32) are malloc'ed: free() them; *classes (if not NULL) = the largest label + 1.
 * MLP_ERR_FORMAT names the first bad field. */
mlp_status mlp_idx_parse_images(const uint8_t *buf, size_t len, uint8_t **pixels, int *n, int *rows,
                                 int *cols, mlp_error *err);
mlp_status mlp_idx_parse_labels(const uint8_t *buf, size_t len, int32_t **labels, int *n, int *classes,
                                 mlp_error *err);
/* Read a whole file, gunzipping it when it starts with the gzip magic. *out is malloc'ed (free() it),
 * *len its length. More than max_len bytes (after decompression) is MLP_ERR_FORMAT; a missing or
 * unreadable file MLP_ERR_IO. */
mlp_status mlp_read_file(const char *path, uint8_t **out, size_t *len, size_t max_len, mlp_error *err);

/* Load an images file and a labels file (raw or .gz), check the counts match, scale to float:
 * x = (p - s.offset) * s.scale; ds->classes = the largest label + 1. Allocates ds->x and ds->y: release with
 * mlp_dataset_free. */
mlp_status mlp_dataset_load_idx(mlp_dataset *ds, const char *images_path, const char *labels_path,
                                mlp_scaling s, mlp_error *err);
/* Load train and test sets from dir, which holds train-images-idx3-ubyte, train-labels-idx1-ubyte,
 * t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each raw or with a .gz suffix. Either may be NULL
 * (not loaded). On failure both are left empty; on success free each with mlp_dataset_free. */
mlp_status mlp_dataset_load_dir(mlp_dataset *train, mlp_dataset *test, const char *dir, mlp_scaling s,
                                mlp_error *err);
void mlp_dataset_free(mlp_dataset *ds); /* frees x, y and class_names, zeroes *ds; NULL is a no-op */
/* A dataset from a file or folder, recognised by its kind (docs/DATA.md):
 *   a folder     IDX files as mlp_dataset_load_dir reads them (train-images-idx3-ubyte, ...; test too when test
 *                is not NULL)
 *   NAME.csv     a header row of column names, one row per example: numeric feature cells and a label cell
 *                (NAME.csv.gz: the same, gzip-compressed); the label column is opts->label, else "label", else
 *                the last column; integer labels are classes in numeric order, other labels strings in byte
 *                order (scikit-learn's classes_), named in ds->class_names
 *   NAME.npz     an archive of X.npy and y.npy (np.savez or np.savez_compressed)
 *   NAME.npy     the features X; the labels are the file of the same name with its last X made a y
 *                (X.npy: y.npy, train_X.npy: train_y.npy). X [n x d] (or [n x rows x cols]) float32, float64 or
 *                uint8, y [n] integers, little-endian, C order.
 * 8-bit data (IDX, uint8 X) is scaled at load, x = (v - offset) * scale with opts->byte_scaling; other features
 * are kept as read and must be finite. A file holds one set: test (if not NULL) is left empty (n = 0). Every
 * malformed input is MLP_ERR_FORMAT naming the file, line and column (CSV) or field, before the data is allocated;
 * limits: 1 GiB per file, 2^28 values, 2^20 features. opts NULL: mlp_data_opts_default(). */
typedef struct mlp_data_opts {
    const char *label;         /* CSV label column; NULL: "label", else the last column */
    mlp_scaling byte_scaling;  /* 8-bit data; default mlp_scaling_default() (the reference) */
    int no_labels;             /* 1: features only, to classify (every CSV column; X.npy alone): y all 0, classes 0 */
} mlp_data_opts;
mlp_data_opts mlp_data_opts_default(void);
mlp_status mlp_dataset_load(mlp_dataset *train, mlp_dataset *test, const char *path, const mlp_data_opts *opts,
                            mlp_error *err);
/* A dataset from arrays (copied): x [n x dim] finite floats, y [n] class indices; classes 0: the largest label + 1;
 * class_names NULL or [classes] strings (copied). Release with mlp_dataset_free. MLP_ERR_ARG names a bad value. */
mlp_status mlp_dataset_from_arrays(mlp_dataset *ds, const float *x, const int32_t *y, int n, int dim, int classes,
                                   const char *const *class_names, mlp_error *err);
/* Per-feature input scaling, x'_j = (x_j - offset_j) * scale_j (scaling.c):
 *   reference  offset 128, scale 1/255: the reference's pixels (the default for 8-bit data: IDX, uint8 NPY)
 *   standard   z-score: offset = mean, scale = 1/std (population std, scikit-learn's StandardScaler; a constant
 *              feature gets scale 1): the default for other data
 *   minmax     offset = min, scale = 1/(max - min): into [0, 1] (MinMaxScaler)
 *   none       the features as they are */
typedef enum mlp_scale_kind {
    MLP_SCALE_REFERENCE,
    MLP_SCALE_STANDARD,
    MLP_SCALE_MINMAX,
    MLP_SCALE_NONE,
    MLP_SCALE_COUNT
} mlp_scale_kind;
const char *mlp_scale_name(mlp_scale_kind k);                /* "reference", "standard", "minmax", "none" */
int mlp_scale_parse(const char *name, mlp_scale_kind *out);  /* 0, or -1 for an unknown name */

typedef struct mlp_feature_scaling {
    mlp_scale_kind kind;
    int dim;
    float *offset, *scale; /* [dim] each (one allocation, offset first) */
} mlp_feature_scaling;
/* The kind's values for dim features (standard and minmax: offset 0, scale 1 until fitted). */
mlp_status mlp_feature_scaling_init(mlp_feature_scaling *fs, mlp_scale_kind kind, int dim, mlp_error *err);
/* Fit on a training set (its raw features; sums in double, in row order). Free with mlp_feature_scaling_free. */
mlp_status mlp_feature_scaling_fit(mlp_feature_scaling *fs, mlp_scale_kind kind, const mlp_dataset *train,
                                   mlp_error *err);
/* x [n x fs->dim] in place. */
void mlp_feature_scaling_apply(const mlp_feature_scaling *fs, float *x, int n);
void mlp_feature_scaling_free(mlp_feature_scaling *fs);
/* A seeded, stratified hold-out: from every class of src, round(fraction x its count) examples (chosen by a
 * Fisher-Yates shuffle from (seed, stream 3)) go to val, the others to train, each in src's order, with src's
 * classes and names. fraction in (0, 1); MLP_ERR_ARG when it would leave either part empty. Free both. */
mlp_status mlp_dataset_split(const mlp_dataset *src, double fraction, uint64_t seed, mlp_dataset *train,
                             mlp_dataset *val, mlp_error *err);
/* The name of class k (ds->class_names[k]), or NULL when the dataset has no names or k is out of range. */
const char *mlp_dataset_class_name(const mlp_dataset *ds, int k);
/* Make a test set's labels those of its training set: with class names (either side), test class "b" becomes the
 * training class named "b" (a class without a name is named by its index); without, the indices must be training
 * classes. MLP_ERR_FORMAT, naming up to eight of them, for labels the training set does not have, and for another
 * number of features. On success test->classes = train->classes and test->class_names is NULL. */
mlp_status mlp_dataset_match(mlp_dataset *test, const mlp_dataset *train, mlp_error *err);

/* Read a grayscale PGM (P2 or P5, maxval <= 65535) into a malloc'ed [h x w] array of values scaled to
 * 0..255: v' = (255 v + maxval/2) / maxval. free() *pixels. See also mlp_image_read (PNG or PGM). */
mlp_status mlp_pgm_read(const char *path, uint8_t **pixels, int *w, int *h, mlp_error *err);

/* ---------------------------------------------------------------- network */

typedef struct mlp_arch {
    int n_layers;                    /* Linear layers: hidden layers + 1 */
    int width[MLP_MAX_LAYERS + 1];   /* width[0] inputs ... width[n_layers] classes */
    mlp_act act;                     /* after every hidden layer; none after the output layer */
} mlp_arch;

/* Parse "128" or "128,32" (hidden widths; "none" for no hidden layer) into arch with the given input
 * and class counts. MLP_ERR_ARG names the bad width. */
mlp_status mlp_arch_parse(mlp_arch *arch, const char *hidden, int inputs, int classes, mlp_act act,
                          mlp_error *err);
/* "784-128-10" into buf (truncated to size, always NUL-terminated) */
void mlp_arch_format(const mlp_arch *arch, char *buf, size_t size);

/*
 * A network. Parameters, gradients and momentum are three contiguous blocks of n_params floats, laid
 * out identically: fc1.weight [w1 x w0], fc1.bias [w1], fc2.weight [w2 x w1], fc2.bias [w2], ...
 * (PyTorch nn.Linear names and shapes: weight is [out x in]), so the optimizer is one flat loop and a
 * model file is one write. The workspace (every activation for max_batch rows, the transposed weights of
 * the forward kernels, the evaluation's rows) is allocated once and is the library's own: `ws` is opaque.
 * grads is what mlp_net_backward computes; the trainer's fused step (mlp_trainer_epoch) applies the first
 * layer's weight gradient without storing it, so after an epoch the grads block is not meaningful. params and
 * momentum are always up to date when a library call returns. The fields are for reading; write params
 * (then call mlp_net_params_changed) and input_sparse, change threads and kernels with mlp_net_set_exec.
 */
typedef struct mlp_net_ws mlp_net_ws; /* internal workspace */

typedef struct mlp_net {
    mlp_arch arch;
    size_t n_params;
    float *params, *grads, *momentum;
    float *moment2;       /* Adam's second moment, same layout (zero and unused with SGD) */
    size_t w_off[MLP_MAX_LAYERS], b_off[MLP_MAX_LAYERS]; /* offsets of fcL.weight / fcL.bias */

    int max_batch;
    int threads;          /* OpenMP threads for the kernels, >= 1 */
    mlp_kernels kernels;  /* resolved path, never AUTO */
    /* 1 (the default): the trainer and mlp_evaluate may compute the first layer sparsely around the inputs'
     * background value, when at least 60% of the inputs equal it (MNIST: 81%); 5x fewer multiply-adds, the
     * same values up to rounding (docs/PERFORMANCE.md). 0: always the dense product. */
    int input_sparse;

    mlp_net_ws *ws;       /* workspace (one allocation with its buffers) */
} mlp_net;

/* Allocate a network for batches of up to max_batch rows (one allocation per block, none later).
 * Parameters are zero until mlp_net_init. Runs on 1 thread with the best kernels until
 * mlp_net_set_exec. Release with mlp_net_free (which zeroes *net; net must not be NULL). */
mlp_status mlp_net_create(mlp_net *net, const mlp_arch *arch, int max_batch, mlp_error *err);
void mlp_net_free(mlp_net *net);
/* The bytes mlp_net_create(arch, max_batch) allocates (parameters, gradients, optimizer state, workspace; blocks of
 * 4 MB or more in whole 2 MB pages), or 0 for an invalid arch: what a network will cost, known before it is
 * created (docs/ROBUSTNESS.md, memory bounds). */
size_t mlp_net_bytes(const mlp_arch *arch, int max_batch);
/* W = randn * init_std (from rng), b = 0, momentum = moment2 = 0. */
void mlp_net_init(mlp_net *net, float init_std, mlp_rng *rng);
/* Call after writing net->params directly (loading a model): refreshes derived state (wt). */
void mlp_net_params_changed(mlp_net *net);
/* Set the number of threads (>= 1) and the kernel path (AUTO resolves; an unsupported path is an error). */
mlp_status mlp_net_set_exec(mlp_net *net, int threads, mlp_kernels kernels, mlp_error *err);

/* Forward x [n x width0], n <= max_batch. Returns the logits [n x classes], inside the network's
 * workspace: valid until the next forward, backward or free of this network (copy them to keep them).
 * Writes the workspace, so one network serves one thread at a time. */
const float *mlp_net_forward(mlp_net *net, const float *x, int n);
/* Inverted dropout for a training forward pass (docs/SEMANTICS.md): each hidden unit's output is set to 0 with
 * probability p and the others are scaled by 1/(1-p). Whether unit `unit` of hidden layer `layer` (0-based) in
 * row row0 + r of a batch is kept is a pure function of (seed, epoch, step, row0 + r, layer, unit): the same for
 * any thread count, MPI rank or resumed run. The trainer uses its seed, the epoch (1-based), the step in the
 * epoch (0-based) and row0 = 0 (an MPI rank: its slice's first row in the batch). */
typedef struct mlp_dropout {
    float p;        /* [0, 1); 0: no dropout */
    uint64_t seed;
    int epoch, step;
    int row0;
} mlp_dropout;

/* 1 if the unit is kept under d (always 1 when d->p is 0). */
int mlp_dropout_keep(const mlp_dropout *d, int layer, int row, int unit);
/* mlp_net_forward with dropout d (NULL or p = 0: none) on the hidden layers; the next mlp_net_backward uses the
 * same masks. mlp_net_forward and mlp_evaluate never drop. */
const float *mlp_net_forward_train(mlp_net *net, const float *x, int n, const mlp_dropout *d);
/* Backward after a forward of the same x: grads = d(loss)/d(params), with dlogits [n x classes] the
 * gradient at the logits. Overwrites grads; dlogits may be modified. */
void mlp_net_backward(mlp_net *net, const float *x, float *dlogits, int n);

/* SGD with momentum and coupled weight decay, for every parameter (biases too):
 *   v <- momentum * v + (g + wd * p);   p <- p - lr * v                                              */
void mlp_sgd_step(mlp_net *net, float lr, float wd, float momentum);

/* ---------------------------------------------------------------- optimizers and schedules
 *
 * The update rules (docs/SEMANTICS.md), for every parameter p (biases too) with gradient g; net->momentum
 * holds the first state (SGD's velocity v, Adam's first moment m), net->moment2 Adam's second moment s. Adam
 * and AdamW are torch.optim's (bias-corrected moments, eps added to sqrt(s_hat)); t counts the updates, from 1.
 *   sgd              v <- mom v + (g + wd p);  p <- p - lr v                    (the reference)
 *   sgd, nesterov    v <- mom v + (g + wd p);  p <- p - lr ((g + wd p) + mom v) (torch.optim.SGD, nesterov)
 *   adam             g' = g + wd p (coupled L2);  m <- b1 m + (1-b1) g';  s <- b2 s + (1-b2) g'^2;
 *                    p <- p - (lr / (1 - b1^t)) m / (sqrt(s) / sqrt(1 - b2^t) + eps)
 *   adamw            p <- p (1 - lr wd) (decoupled decay), then adam's rule with wd = 0
 */
typedef enum mlp_optim {
    MLP_OPTIM_SGD,
    MLP_OPTIM_ADAM,
    MLP_OPTIM_ADAMW,
    MLP_OPTIM_COUNT
} mlp_optim;

const char *mlp_optim_name(mlp_optim o);                /* "sgd", "adam", "adamw"; "?" when out of range */
int mlp_optim_parse(const char *name, mlp_optim *out);  /* 0, or -1 for an unknown name */

/* Learning-rate schedules, per epoch (e = 1, 2, ...; W = warmup_epochs; i = e - W - 1, the epochs since the
 * warm-up; E = epochs):
 *   warm-up (e <= W)  lr e / (W + 1)               (torch LinearLR, start_factor 1/(W+1), total_iters W)
 *   constant          lr
 *   step              lr step_gamma^floor(i / step_epochs)                  (torch StepLR)
 *   cosine            min_lr + (lr - min_lr) (1 + cos(pi i / (E - W))) / 2  (torch CosineAnnealingLR, T_max E-W) */
typedef enum mlp_schedule {
    MLP_SCHEDULE_CONSTANT,
    MLP_SCHEDULE_STEP,
    MLP_SCHEDULE_COSINE,
    MLP_SCHEDULE_COUNT
} mlp_schedule;

const char *mlp_schedule_name(mlp_schedule s);
int mlp_schedule_parse(const char *name, mlp_schedule *out);

/* What early stopping and the best epoch watch, on the monitored set (mlp_train_cfg.early_stop) */
typedef enum mlp_monitor {
    MLP_MONITOR_LOSS, /* the mean loss: lower is better */
    MLP_MONITOR_ACC,  /* the accuracy: higher is better */
    MLP_MONITOR_COUNT
} mlp_monitor;

const char *mlp_monitor_name(mlp_monitor m);            /* "loss", "acc" */
int mlp_monitor_parse(const char *name, mlp_monitor *out);

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
    /* Optimizer (see mlp_optim above). momentum and nesterov are SGD's; beta1, beta2, eps Adam's and AdamW's. */
    mlp_optim optim;
    int nesterov;                 /* 1: Nesterov momentum (SGD with momentum > 0) */
    float beta1, beta2, eps;      /* default 0.9, 0.999, 1e-8 */
    /* Learning-rate schedule (see mlp_schedule above) */
    mlp_schedule schedule;
    int warmup_epochs;            /* 0..epochs-1 (default 0) */
    int step_epochs;              /* step: epochs between decays (default 30) */
    float step_gamma;             /* step: factor per decay, (0, 1] (default 0.1) */
    float min_lr;                 /* cosine: the final learning rate, 0..lr (default 0) */
    /* Inverted dropout on every hidden layer's output while training (mlp_dropout; masks from seed), [0, 1) */
    float dropout;
    /* Early stopping: after every epoch the trainer compares `monitor` on the monitored set (the validation set
     * mlp_trainer.val if there is one, else the test set) with
     * the best epoch so far (mlp_trainer.best_epoch; a strict improvement counts); with early_stop = N > 0 the
     * run should stop once N epochs in a row have not improved it (mlp_trainer_stop_early). 0: never. */
    int early_stop;
    mlp_monitor monitor;
} mlp_train_cfg;

/* The report's best configuration: hinge (D = 5), lr 1e-5, wd 0.1, momentum 0.9, summed gradients,
 * batch 100, 200 epochs, init std 0.01, seed 1. */
mlp_train_cfg mlp_train_cfg_default(void);

/* The learning rate of epoch `epoch` (1-based) under cfg's schedule; exactly cfg->lr for the constant schedule
 * without warm-up. */
float mlp_lr_at(const mlp_train_cfg *cfg, int epoch);
/* One update of every parameter from net->grads with cfg's optimizer and hyperparameters at learning rate lr
 * (the schedule's, e.g. mlp_lr_at); step counts the net's updates, this one included (1, 2, ...: Adam's bias
 * correction). Uses net->momentum and net->moment2; cfg->optim SGD without nesterov is mlp_sgd_step. */
void mlp_optim_step(mlp_net *net, const mlp_train_cfg *cfg, float lr, int64_t step);

typedef struct mlp_epoch_metrics {
    int epoch;                       /* 1-based */
    double train_loss, train_acc;    /* means over the epoch's batches, measured before each update */
    double test_loss, test_acc;      /* over the whole test set after the epoch (NaN: no test set) */
    double lr;
    double seconds;                  /* wall time of this epoch, test evaluation included */
    double val_loss, val_acc;        /* over the validation set (mlp_trainer.val) after the epoch (NaN: none) */
} mlp_epoch_metrics;

/* Called by mlp_trainer_epoch after every step with the running sums of the epoch's per-batch loss
 * and accuracy (divide by step for the means so far). For progress displays; must not touch the net. */
typedef void (*mlp_step_fn)(void *user, int epoch, int step, int steps, double loss_sum, double acc_sum);

typedef struct mlp_trainer_ws mlp_trainer_ws; /* internal workspace */

/*
 * The training loop state. Everything needed to continue a run exactly is here and in the net:
 * the shuffling generator and the number of epochs done. Scratch buffers (`ws`, opaque) are allocated at init.
 */
typedef struct mlp_trainer {
    mlp_train_cfg cfg;
    mlp_net *net;
    const mlp_dataset *train, *test;
    /* The validation set of mlp_trainer_init_val (NULL without; e.g. from mlp_dataset_split): evaluated after
     * every epoch (val_loss, val_acc), and then the set early stopping and the best epoch watch instead of the test
     * set. */
    const mlp_dataset *val;
    mlp_rng shuffle_rng;
    int epochs_done;
    int step_in_epoch;                 /* steps done in the current epoch (0 between epochs) */
    /* Mid-epoch state, meaningful while step_in_epoch > 0 (after an INTERRUPTED epoch, or loaded from a
     * checkpoint): the shuffling generator as it was at the START of the current epoch, and the running
     * sums of the epoch's per-batch loss and accuracy. mlp_trainer_epoch called with step_in_epoch > 0
     * rebuilds that epoch's permutation from epoch_rng and continues at step step_in_epoch + 1, so an
     * interrupted and continued epoch is bitwise the uninterrupted one. */
    mlp_rng epoch_rng;
    double epoch_loss_sum, epoch_acc_sum;
    /* The best epoch so far on the monitored set (cfg.monitor; 0: none yet, or no set to monitor), its value,
     * and the epochs finished since it: kept by mlp_trainer_epoch, saved in checkpoints. */
    int best_epoch;
    double best_value;
    int since_best;
    volatile const int *stop_flag;     /* if set and nonzero, the epoch stops early with INTERRUPTED */
    mlp_step_fn on_step;               /* optional progress callback, and its first argument */
    void *on_step_user;
    mlp_trainer_ws *ws;                /* workspace: the permutation, batch buffers, the compressed training
                                        * set of the sparse first layer, the data-parallel hook */
} mlp_trainer;

/* Initialise the trainer. Does not touch net->params: call mlp_net_init (or load weights) first. */
mlp_status mlp_trainer_init(mlp_trainer *t, mlp_net *net, const mlp_train_cfg *cfg, const mlp_dataset *train,
                            const mlp_dataset *test, mlp_error *err);
/* Same with a validation set (NULL or empty: none), checked like the test set; early stopping then needs one of
 * the two. */
mlp_status mlp_trainer_init_val(mlp_trainer *t, mlp_net *net, const mlp_train_cfg *cfg, const mlp_dataset *train,
                                const mlp_dataset *test, const mlp_dataset *val, mlp_error *err);
void mlp_trainer_free(mlp_trainer *t);
/* Run one epoch: shuffle, one SGD step per batch (a last partial batch is used), then evaluate on the test
 * set (if any). Returns MLP_ERR_DIVERGED (with epoch and step in the message) on a non-finite loss.
 * With t->step_in_epoch > 0 it continues the current epoch after that step (see epoch_rng above). */
mlp_status mlp_trainer_epoch(mlp_trainer *t, mlp_epoch_metrics *m, mlp_error *err);
/* 1 when early stopping says the run is over: cfg.early_stop > 0 and that many epochs in a row have not improved
 * the monitored value (since_best >= early_stop); the caller stops calling mlp_trainer_epoch. */
int mlp_trainer_stop_early(const mlp_trainer *t);

/*
 * Data parallelism (docs/MPI.md); off after mlp_trainer_init. With count > 1 (and 0 <= index < count) or a
 * combine callback, every step computes only the rows [nb * index / count, nb * (index + 1) / count) of its
 * batch of nb rows (every process builds the same permutation from the same seed), with the gradient scaled
 * for the WHOLE batch (1/nb with MLP_GRAD_MEAN), so that the shards' gradients add up to the batch's. Then
 * combine(user, net->grads, n_params, sums) must replace the gradient and the sums by their totals over all
 * shards, identical on every process: sums[0] is the shard's loss sum, sums[1] its count of correct
 * predictions, sums[2] 1 if this process's stop_flag is raised (so that all stop after the same step). Every
 * process then applies the same SGD update. Such a step is the unfused composition forward + loss + backward
 * + mlp_sgd_step with the dense first layer (the fused step keeps no gradient to combine). A nonzero return
 * from combine ends the epoch with MLP_ERR_IO. count 1 with combine NULL turns it off. MLP_ERR_ARG for an
 * index outside 0..count-1.
 */
typedef int (*mlp_combine_fn)(void *user, float *grads, size_t n, double sums[3]);
mlp_status mlp_trainer_set_shards(mlp_trainer *t, int index, int count, mlp_combine_fn combine, void *user,
                                  mlp_error *err);

/* Mean loss and accuracy over a dataset, in batches of net->max_batch. confusion (if not NULL) is a
 * [K x K] int array, row = true label, column = predicted. */
mlp_status mlp_evaluate(mlp_net *net, const mlp_loss_cfg *loss, const mlp_dataset *ds, double *mean_loss,
                        double *accuracy, int *confusion, mlp_error *err);

/* ---------------------------------------------------------------- model files */

/* What a model file records besides the tensors (stored as strings in safetensors __metadata__). */
typedef struct mlp_model_meta {
    mlp_arch arch;
    mlp_loss_cfg loss;
    mlp_scaling scaling;    /* 8-bit inputs (pixels): x = (v - offset) * scale, before feature_offset/feature_scale */
    char dataset[32];       /* "mnist", "fashion-mnist", a data file's name, or "" */
    char version[32];       /* mlp version that wrote the file */
    /* What the model knows of its data (docs/DATA.md); zero and NULL in models of the reference (MNIST). Loaded by
     * mlp_model_load: owned by the meta, released by mlp_model_meta_free. Saved: the caller's arrays. */
    mlp_scale_kind scale;                   /* how the training inputs were scaled (--scale) */
    float *feature_offset, *feature_scale;  /* [arch.width[0]] each, or NULL: x'_j = (x_j - offset_j) * scale_j after
                                             * `scaling` (mlp_model_scale_inputs); loaded as one block */
    char **class_names;                     /* [classes] names, or NULL (the classes are numbers); one block */
    char label[64];                         /* the CSV label column of the training data, or "" */
    float *focal_alpha_buf;                 /* loaded: what loss.focal_alpha points at when the file's alphas are not
                                             * all 0.1 (else NULL, and loss.focal_alpha too) */
} mlp_model_meta;

/* Frees what mlp_model_load allocated in meta (feature_offset, class_names, focal_alpha_buf) and zeroes those fields
 * (loss.focal_alpha too when it pointed into the meta). */
void mlp_model_meta_free(mlp_model_meta *meta);
/* Raw feature rows x [n x arch.width[0]] made the network's input in place: the per-feature scaling (nothing when
 * the model has none). 8-bit data is scaled by meta->scaling when it is loaded (mlp_data_opts.byte_scaling). */
void mlp_model_scale_inputs(const mlp_model_meta *meta, float *x, int n);

/* Write the network's parameters as safetensors (F32, little-endian, tensors fc1.weight [w1 x w0],
 * fc1.bias [w1], ...), with meta in __metadata__. Written to a temporary file, fsynced and renamed. */
mlp_status mlp_model_save(const char *path, const mlp_net *net, const mlp_model_meta *meta, mlp_error *err);
/* Read a safetensors model file: fills meta and creates *net (mlp_net_create with max_batch) holding the
 * parameters. Accepts any tensor order and extra metadata keys; checks dtype, shapes and offsets. */
mlp_status mlp_model_load(const char *path, mlp_net *net, int max_batch, mlp_model_meta *meta, mlp_error *err);
/* Same, refusing (MLP_ERR_NOMEM, before any allocation) a model whose network would take more than max_bytes
 * (mlp_net_bytes for max_batch rows, computed from the file's header). mlp_model_load and mlp_model_parse use
 * MLP_MEMORY_LIMIT_DEFAULT. A model file is plain safetensors: a gzip-compressed file is refused. */
#define MLP_MEMORY_LIMIT_DEFAULT ((size_t)2 << 30) /* 2 GiB */
mlp_status mlp_model_load_limit(const char *path, mlp_net *net, int max_batch, size_t max_bytes,
                                mlp_model_meta *meta, mlp_error *err);
/* Same from memory (for fuzzing and tests). */
mlp_status mlp_model_parse(const uint8_t *buf, size_t len, mlp_net *net, int max_batch, mlp_model_meta *meta,
                           mlp_error *err);

/* ---------------------------------------------------------------- checkpoints */

/*
 * A checkpoint holds everything needed to continue a run so that its final parameters are bitwise those
 * of an uninterrupted run: the parameters and momentum, the shuffling generator (now, and at the start of
 * the current epoch), the epochs done, the step reached inside the current epoch with that epoch's running
 * loss and accuracy sums, the metrics of every finished epoch, and what the state belongs to (architecture,
 * training configuration, a fingerprint of the training set) so that a checkpoint is never continued by a
 * different run. The file is safetensors: tensors "params" and "momentum" (F32 [n_params], the layout of
 * mlp_net) and "metrics" (F64 [epochs_done x 7]: epoch, train_loss, train_acc, test_loss, test_acc, lr,
 * seconds), with adam/adamw "moment2" (F32 [n_params]), everything else as strings in __metadata__.
 * docs/ROBUSTNESS.md describes every entry.
 */
#define MLP_CHECKPOINT_VERSION 1

/* Write t's state (t->net's params and momentum, t's generators, counters and running sums) and
 * history[0..n_history) (n_history must equal t->epochs_done) to path: temporary file, fsync, rename, so
 * the previous checkpoint stays whole until the new one is complete. */
mlp_status mlp_checkpoint_save(const char *path, const mlp_trainer *t, const mlp_epoch_metrics *history,
                               int n_history, mlp_error *err);

/* Read a checkpoint into t, which must be initialised (mlp_trainer_init) with the same architecture,
 * training configuration (every field but epochs) and training set; a checkpoint of another run is an
 * MLP_ERR_ARG error naming the first difference, a malformed file MLP_ERR_FORMAT. On success t->net's params
 * and momentum, t's generators, epochs_done, step_in_epoch and running sums hold the saved state, and
 * history[0..*n_history) the metrics of the epochs done (max_history is the room in history; more is an
 * error). On error nothing in t, its net or history is changed. */
mlp_status mlp_checkpoint_load(const char *path, mlp_trainer *t, mlp_epoch_metrics *history, int max_history,
                               int *n_history, mlp_error *err);
/* Same from memory (for fuzzing and tests). */
mlp_status mlp_checkpoint_parse(const uint8_t *buf, size_t len, mlp_trainer *t, mlp_epoch_metrics *history,
                                int max_history, int *n_history, mlp_error *err);

/* ---------------------------------------------------------------- images
 *
 * Classifying a picture: load it (PNG, JPEG or PGM, by content), then mlp_image_prepare turns it into
 * the network's input the way MNIST's digits were made (crop to the ink, fit 20x20, centre of mass in
 * 28x28) and scales it like the training data:
 *     mlp_image img; float x[784]; mlp_prepare_info info;
 *     if (mlp_image_load("digit.jpg", &img, &err) == MLP_OK &&
 *         mlp_image_prepare(&img, 28, 28, MLP_PREPARE_MNIST, MLP_INVERT_AUTO, meta.scaling, x, &info,
 *                           &err) == MLP_OK)
 *         logits = mlp_net_forward(&net, x, 1);      (info.blank: there was (nearly) nothing to read)
 *     mlp_image_free(&img);
 * All functions here are reentrant (no shared state); returned pixels are malloc'ed: free() them. */

#define MLP_IMAGE_MAX_SIDE 65536u            /* pixels per side accepted by the readers */
#define MLP_IMAGE_MAX_PIXELS (64u << 20)     /* 64 Mi pixels in all, refused before allocating */

/* Read a PNG file (every colour type and bit depth, Adam7 interlace, CRCs checked) as gray[h x w], one
 * byte per pixel, 0 = black. Colour becomes BT.601 luma 0.299 R + 0.587 G + 0.114 B; alpha and tRNS
 * transparency are composited over a WHITE background; no gamma correction. MLP_ERR_IO when the file
 * cannot be read, MLP_ERR_FORMAT (naming the file and the problem) when it is not a valid PNG or is
 * larger than the limits above. */
mlp_status mlp_png_read(const char *path, uint8_t **gray, int *w, int *h, mlp_error *err);
/* Same from memory; name (may be NULL) is used in error messages. */
mlp_status mlp_png_parse(const uint8_t *buf, size_t len, const char *name, uint8_t **gray, int *w, int *h,
                         mlp_error *err);
/* Read a JPEG file (baseline or progressive; gray, YCbCr, RGB, CMYK or YCCK) through libjpeg-turbo as
 * gray[h x w]: colour becomes BT.601 luma (libjpeg's Y channel). A truncated or corrupt stream (which
 * libjpeg would patch with gray) is MLP_ERR_FORMAT, as is a picture above the limits. */
mlp_status mlp_jpeg_read(const char *path, uint8_t **gray, int *w, int *h, mlp_error *err);
mlp_status mlp_jpeg_parse(const uint8_t *buf, size_t len, const char *name, uint8_t **gray, int *w, int *h,
                          mlp_error *err);
/* A PNG, JPEG or PGM file, recognised by its first bytes (not its name), as gray (PNG transparency
 * composited over white). */
mlp_status mlp_image_read(const char *path, uint8_t **gray, int *w, int *h, mlp_error *err);

/* A picture as loaded: gray = luma 0 (black) .. 255 (white), NOT composited; alpha = 0 (transparent) ..
 * 255 (opaque), or NULL when the file has no transparency (PGM, JPEG, PNG without alpha or tRNS). */
typedef struct mlp_image {
    int w, h;
    uint8_t *gray, *alpha;
} mlp_image;
/* Load a PNG, JPEG or PGM file (by content) into *img (zeroed on error). Release with mlp_image_free. */
mlp_status mlp_image_load(const char *path, mlp_image *img, mlp_error *err);
void mlp_image_free(mlp_image *img);

/* Polarity: the networks are trained on light strokes on black (MNIST). */
typedef enum mlp_invert {
    MLP_INVERT_AUTO, /* invert when the picture is dark on light (mlp_image_is_dark_on_light) */
    MLP_INVERT_YES,  /* always: v -> 255 - v (black on white input) */
    MLP_INVERT_NO,   /* never (white on black input, as MNIST) */
    MLP_INVERT_COUNT
} mlp_invert;
const char *mlp_invert_name(mlp_invert v);            /* "auto", "yes", "no" */
int mlp_invert_parse(const char *name, mlp_invert *out); /* 0, or -1 for an unknown name */

/* 1 when the mean of the border (pixels within max(1, min(w,h)/8) of an edge) is above mid-gray (127.5)
 * and greater than the mean of the centre (the middle half in each direction), else 0. */
int mlp_image_is_dark_on_light(const uint8_t *gray, int w, int h);

/* Resample gray[h x w] (inverted first if `invert`) to out[out_h x out_w], values 0..255 as floats.
 * The picture is centred on a canvas of the output's aspect ratio (padding = 0, black), then each axis
 * is area-averaged (box filter) when it shrinks or bilinearly interpolated when it grows; an axis of
 * equal size is copied exactly. MLP_ERR_ARG for sizes out of range, MLP_ERR_NOMEM. */
mlp_status mlp_image_resize(const uint8_t *gray, int w, int h, int invert, float *out, int out_w, int out_h,
                            mlp_error *err);
/* The network input for a picture: polarity by `invert` (*inverted, if not NULL, says what was done),
 * mlp_image_resize to out_w x out_h, then x = (v - s.offset) * s.scale, as mlp_dataset_load_idx scales.
 * A 28x28 picture that needs no inversion gives exactly the floats of the same image in an IDX file. */
mlp_status mlp_image_to_input(const uint8_t *gray, int w, int h, int out_w, int out_h, mlp_invert invert,
                              mlp_scaling s, float *x, int *inverted, mlp_error *err);

/* How a picture becomes an input (mlp_image_prepare). */
typedef enum mlp_prepare {
    MLP_PREPARE_MNIST,   /* crop to the ink, fit 20x20 keeping the aspect ratio, centre of mass at the centre */
    MLP_PREPARE_FASHION, /* crop to the ink, fit 28x28 (the longer side) keeping the aspect ratio, centred */
    MLP_PREPARE_WHOLE,   /* the whole picture, centred on a square canvas, resized (mlp_image_to_input) */
    MLP_PREPARE_COUNT
} mlp_prepare;
const char *mlp_prepare_name(mlp_prepare p);                /* "mnist", "fashion-mnist", "whole" */
int mlp_prepare_parse(const char *name, mlp_prepare *out); /* 0, or -1 for an unknown name */

/* What mlp_image_prepare saw. */
typedef struct mlp_prepare_info {
    int inverted;    /* 1: dark ink on a light (or transparent) background, turned into light on black */
    int transparent; /* 1: the border is mostly transparent, so transparency was taken as the background */
    int box_x, box_y, box_w, box_h; /* the ink's bounding box in the picture (all 0 when there is no ink) */
    double contrast; /* the strongest ink above the background level, 0..1 */
    double ink;      /* the ink's amount in pixels of full strength (sum of levelled ink / strongest) */
    int blank;       /* 1 when (nearly) blank: contrast < 0.1, ink < 10 pixels, or box < 5 pixels long */
} mlp_prepare_info;

/* The network input x[out_h x out_w] for a picture, as MNIST's digits were made (LeCun et al.: the NIST
 * digit was fitted into 20x20 keeping its aspect ratio and placed in 28x28 by its centre of mass):
 *  1. ink, light on black. When the border is mostly transparent (mean alpha below one half),
 *     transparency is the background and the ink is alpha * luma (light ink) or alpha * (255 - luma)
 *     (dark ink); auto picks dark when the alpha-weighted mean luma is at most 127.5, so a white digit
 *     on transparency is a white digit. Otherwise the picture (composited over white) is inverted when
 *     dark on light: mlp_image_is_dark_on_light, or (MNIST only) when the border ring's median and the
 *     whole picture's median are both light (a small digit in a corner of a large page).
 *  2. levels: background b = the border ring's most frequent value; noise s = 1.4826 x the median
 *     absolute deviation from b of the ring's values within 48 of b (0 for a clean picture); weak ink is
 *     above t = b + ceil(3 s), strong ink at least a quarter of the peak (the highest v - b) above b.
 *     The box is the strong ink's bounding box, grown over adjacent weak ink by at most max(2, 1/10 of
 *     its length) per side (an anti-aliased rim joins it, scattered noise does not). Inside, pixels at
 *     most t become 0, the others v - b, stretched so the peak is 255 when the peak is below 192.
 *  3. MNIST: the box is resampled (area averaging or bilinear, as mlp_image_resize) to fit B x B,
 *     B = round(20/28 * min(out_w, out_h)), keeping its aspect ratio, and placed with its centre of mass
 *     (in pixel indices) on pixel (out_w / 2, out_h / 2), shifted by whole pixels (no blur) and kept
 *     inside. FASHION: B = min(out_w, out_h), the box centred (Zalando's trim, fit and centre). WHOLE:
 *     the whole ink picture resampled as mlp_image_to_input does (step 2 only measures).
 *  4. x = (v - s.offset) * s.scale.
 * Measured on the test sets: 9954 of the 10000 MNIST test images and 9518 of the Fashion-MNIST ones come
 * out bit for bit as they went in (MNIST: the others differ by the centre of mass rounding). A picture
 * with no ink gives the background everywhere. info (may be NULL) says what was seen, info->blank when
 * (nearly) nothing was there to read. MLP_ERR_ARG for bad sizes or modes, MLP_ERR_NOMEM. */
mlp_status mlp_image_prepare(const mlp_image *img, int out_w, int out_h, mlp_prepare mode, mlp_invert invert,
                             mlp_scaling s, float *x, mlp_prepare_info *info, mlp_error *err);

#if defined(__GNUC__) || defined(__clang__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* MLP_H */
