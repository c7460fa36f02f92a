/* cmd_train.c - `mlp train`: options, the run folder, checkpoints and resuming, signals, the per-epoch loop.
 *
 * A run folder holds config.json (the options, written once), metrics.csv (one line per finished epoch),
 * checkpoint.safetensors (the whole training state after the last finished epoch, or after the step where a
 * signal stopped the run) and, at the end, model.safetensors. Every file is written to a temporary name,
 * fsynced and renamed, so a crash, kill -9, full disk or signal leaves either the old or the new version of
 * each file, never a partial one. `--resume DIR` takes the options from DIR/config.json and the state from
 * DIR/checkpoint.safetensors; the final model is then bitwise that of an uninterrupted run
 * (docs/ROBUSTNESS.md). Exit status: 0 done, 1 runtime failure (file, data, divergence), 2 usage error,
 * 128+signal when SIGINT (130) or SIGTERM (143) stopped the run after saving a checkpoint. */
#include "cli.h"
#include "mpi_util.h"
#include "progress.h"
#include "runlock.h"
#include "runcfg.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CONFIG_FILE "config.json"
#define METRICS_FILE "metrics.csv"
#define CHECKPOINT_FILE "checkpoint.safetensors"
#define MODEL_FILE "model.safetensors"
#define BEST_FILE "best.safetensors"

/* ------------------------------------------------------------------ train */

typedef struct train_opts {
    const char *data, *dataset, *hidden, *init_model, *out, *resume;
    const char *test_data, *label; /* --test-data, --label */
    double val_fraction;           /* --val-fraction (0: none) */
    mlp_scale_kind scale;          /* --scale, when scale_set */
    float *alpha_vals;             /* --focal-alpha's values (or config.json's), made one per class by resolve_alpha */
    int n_alpha;
    int scale_set;
    int dataset_set;               /* --dataset given */
    mlp_act act;
    mlp_train_cfg cfg;
    int lr_set, wd_set, momentum_set;
    const char *sgd_only, *adam_only; /* the first option given that only that optimizer has */
    int threads, threads_set;
    mlp_kernels kernels;
    int kernels_set;
    int force, quiet, json;
    size_t max_memory; /* bytes the network may take (--max-memory) */
    const char *fixing_opt; /* the first option given that defines the run (refused with --resume) */
    /* values read from config.json by --resume live here */
    char dataset_buf[32], hidden_buf[512], data_buf[4096], init_buf[4096], test_buf[4096], label_buf[256];
} train_opts;

static int is_folder(const char *path);
static void load_sets(train_opts *t, const char *dir, mlp_dataset *train, mlp_dataset *test, mlp_dataset *val,
                      mlp_feature_scaling *fs, mlp_scaling *bytes);

static void train_usage(FILE *f) {
    fprintf(f,
            "usage: mlp train [options]\n"
            "       mlp train --resume DIR [--data DIR] [--threads N] [--kernels PATH] [--quiet] [--json]\n"
            "Train an MLP and write a run folder (config.json, metrics.csv, checkpoint.safetensors,\n"
            "model.safetensors). Defaults are the reference report's best configuration (784-128-10 gelu + hinge).\n"
            "\n"
            "  --data PATH            the training data: a folder of IDX files (default $MLP_DATA/<dataset> or\n"
            "                         data/<dataset>; its t10k files are the test set), a .csv file (header row,\n"
            "                         numeric features, a label column), an .npz archive (X.npy, y.npy) or an\n"
            "                         X.npy file (labels in y.npy beside it): docs/DATA.md\n"
            "  --test-data PATH       the test set, of any of those kinds (a folder: its t10k files)\n"
            "  --label NAME           the CSV's label column (default: the column named label, else the last)\n"
            "  --val-fraction F       hold out a seeded, stratified fraction F of the training data as a\n"
            "                         validation set (val_loss, val_acc per epoch; watched by --early-stop)\n"
            "  --scale KIND           reference | standard | minmax | none: the input scaling, fitted on the\n"
            "                         training split and stored in the model (default reference, (p-128)/255,\n"
            "                         for 8-bit data: IDX, uint8 NPY; standard, z-scores, for other data)\n"
            "  --dataset NAME         mnist | fashion-mnist (default mnist)\n"
            "  --hidden LIST          hidden widths: 128 | 128,32 | any list, or none (default 128)\n"
            "  --act NAME             relu | sigmoid | tanh | selu | swish | gelu (default gelu)\n"
            "  --loss NAME            mse | ce | hinge | focal (default hinge)\n"
            "  --hinge-margin D       hinge margin (default 5)\n"
            "  --focal-gamma G        focal gamma (default 2)\n"
            "  --focal-alpha A[,..]   focal alpha: one value, or one per class (default 0.1)\n"
            "  --grad-reduction R     sum | mean (default sum, as the reference code): with sum the gradients\n"
            "                         are sums over the batch; with mean, gradients of the mean loss\n"
            "  --lr X                 learning rate (default 1e-5 with sum, 1e-3 with mean)\n"
            "  --wd X                 weight decay, coupled L2 inside the momentum, biases too\n"
            "                         (default 0.1 with sum, 1e-3 with mean)\n"
            "  --momentum X           momentum (default 0.9)\n"
            "  --optimizer NAME       sgd | adam | adamw (default sgd, the reference); adam and adamw are\n"
            "                         torch.optim's, with lr 1e-3 and wd 0 (adam, coupled L2) or 1e-2\n"
            "                         (adamw, decoupled decay) unless --lr / --wd are given\n"
            "  --nesterov             Nesterov momentum (sgd)\n"
            "  --beta1 X, --beta2 X   adam/adamw moment decay rates (default 0.9, 0.999)\n"
            "  --eps X                adam/adamw: added to sqrt of the second moment (default 1e-8)\n"
            "  --schedule NAME        learning rate per epoch: constant | step | cosine (default constant)\n"
            "  --warmup-epochs N      linear warm-up: epoch e <= N uses lr e/(N+1) (default 0)\n"
            "  --step-epochs N        step: multiply the rate by --step-gamma every N epochs (default 30)\n"
            "  --step-gamma X         step: the factor, in (0, 1] (default 0.1)\n"
            "  --min-lr X             cosine: the rate it decays to (default 0)\n"
            "  --dropout P            inverted dropout on the hidden layers while training, 0 <= P < 1\n"
            "                         (default 0; masks from --seed, identical for any --threads)\n"
            "  --early-stop N         stop when N epochs in a row have not improved the monitored value on the\n"
            "                         validation set (--val-fraction), or on the test set when there is none\n"
            "                         (default 0: run every epoch); best.safetensors is always the model of\n"
            "                         the best epoch so far\n"
            "  --monitor WHAT         loss | acc: the value early stopping and best.safetensors watch (default loss)\n"
            "  --batch N              batch size (default 100)\n"
            "  --epochs N             epochs (default 200)\n"
            "  --init-std X           initial weights ~ N(0, X^2), biases 0 (default 0.01)\n"
            "  --seed N               seed of initialisation and shuffling (default 1)\n"
            "  --no-shuffle           keep the training set order\n"
            "  --init MODEL           start from the weights of a saved model (same architecture)\n"
            "  --threads N            threads (default 2); results are identical for any N\n"
            "  --kernels PATH         auto | portable | avx2 | avx512 (default auto, or $MLP_KERNELS)\n"
            "  --out DIR              run folder (default runs/<time>-<dataset>-<arch>-<act>-<loss>)\n"
            "  --max-memory SIZE      refuse a network that needs more memory (default 2G; e.g. 512M, 8G)\n"
            "  --force                reuse a run folder that already holds a run (its run files are replaced)\n"
            "  --resume DIR           continue the run in DIR from its checkpoint, with the options of its\n"
            "                         config.json; the final model is bitwise that of an uninterrupted run\n"
            "  --quiet                print only the summary\n"
            "  --json                 print one JSON object per epoch (for scripts) instead of the table\n"
            "\n"
            "A checkpoint is written after every epoch. SIGINT or SIGTERM finishes the current step, writes a\n"
            "checkpoint and exits with status 130 or 143 (a second signal stops at once); continue with --resume.\n"
            "MPI (build with make MPI=1): mpirun -np P mlp train ... trains the run data-parallel, each rank a\n"
            "slice of every batch; rank 0 writes the run folder and prints. See docs/MPI.md.\n");
}

/* An option that defines the run: remembered, because --resume takes all of those from config.json. */
static void fixes_run(train_opts *t, const char *name) {
    if (!t->fixing_opt) t->fixing_opt = name;
}

/* The optimizer's own options and defaults: torch.optim's lr and wd for adam/adamw unless given, and no option
 * of one optimizer given to another. */
static void check_optimizer_opts(train_opts *t) {
    mlp_train_cfg *c = &t->cfg;
    if (c->optim == MLP_OPTIM_SGD) {
        if (t->adam_only)
            die_usage("%s is an adam/adamw setting; add --optimizer adam or adamw, or drop it", t->adam_only);
        if (c->nesterov && !(c->momentum > 0)) die_usage("--nesterov needs a --momentum above 0");
    } else {
        if (t->sgd_only)
            die_usage("%s is an sgd setting; --optimizer %s uses --beta1 (its momentum), --beta2 and --eps",
                      t->sgd_only, mlp_optim_name(c->optim));
        if (!t->lr_set) c->lr = 1e-3f;
        if (!t->wd_set) c->wd = c->optim == MLP_OPTIM_ADAMW ? 1e-2f : 0.0f;
        c->momentum = 0.0f; /* not used; recorded as 0 so that the run's config says so */
    }
    if (c->warmup_epochs >= c->epochs)
        die_usage("--warmup-epochs %d: must be fewer than the %d epochs", c->warmup_epochs, c->epochs);
    if (c->schedule == MLP_SCHEDULE_COSINE && c->min_lr > c->lr)
        die_usage("--min-lr %g is above the learning rate %g: cosine decays from --lr to --min-lr", (double)c->min_lr,
                  (double)c->lr);
}

static void parse_train_opts(train_opts *t, int argc, char **argv) {
    memset(t, 0, sizeof *t);
    t->dataset = "mnist";
    t->hidden = "128";
    t->act = MLP_ACT_GELU;
    t->cfg = mlp_train_cfg_default();
    t->threads = 2; /* measured fastest on 2 cores; results do not depend on it */
    t->kernels = kernels_from_env();
    t->max_memory = MLP_MEMORY_LIMIT_DEFAULT;
    opts o = {argc, 0, argv, NULL, {0}, NULL, 0};
    static const char *const fixing[] = {"--dataset",    "--hidden", "--act",      "--loss",   "--hinge-margin",
                                         "--focal-gamma", "--focal-alpha", "--lr", "--wd",     "--momentum",
                                         "--batch",      "--epochs", "--init-std", "--seed",   "--grad-reduction",
                                         "--no-shuffle", "--init",   "--optimizer", "--nesterov", "--beta1",
                                         "--beta2",      "--eps",    "--schedule", "--warmup-epochs",
                                         "--step-epochs", "--step-gamma", "--min-lr", "--dropout",
                                         "--early-stop",  "--monitor", "--test-data", "--label", "--val-fraction",
                                         "--scale"};
    while (opts_next(&o)) {
        for (size_t i = 0; i < sizeof fixing / sizeof *fixing; i++)
            if (is(&o, fixing[i])) fixes_run(t, fixing[i]);
        if (is(&o, "--help") || is(&o, "-h")) {
            train_usage(stdout);
            exit(0);
        } else if (is(&o, "--data")) t->data = opts_value(&o);
        else if (is(&o, "--test-data")) t->test_data = opts_value(&o);
        else if (is(&o, "--label")) t->label = opts_value(&o);
        else if (is(&o, "--scale")) {
            const char *v = opts_value(&o);
            if (mlp_scale_parse(v, &t->scale) != 0)
                die_usage("--scale: unknown value '%s' (choose one of: reference, standard, minmax, none)", v);
            t->scale_set = 1;
        } else if (is(&o, "--val-fraction")) t->val_fraction = parse_double(o.name, opts_value(&o), 1e-9, 0.999999);
        else if (is(&o, "--dataset")) t->dataset = check_dataset(opts_value(&o)), t->dataset_set = 1;
        else if (is(&o, "--hidden")) t->hidden = opts_value(&o);
        else if (is(&o, "--act")) t->act = parse_act(opts_value(&o));
        else if (is(&o, "--loss")) {
            mlp_loss_cfg keep = t->cfg.loss;
            keep.kind = parse_loss(opts_value(&o));
            t->cfg.loss = keep;
        } else if (is(&o, "--hinge-margin")) t->cfg.loss.hinge_margin = (float)parse_double(o.name, opts_value(&o), 0, 1e6);
        else if (is(&o, "--focal-gamma")) t->cfg.loss.focal_gamma = (float)parse_double(o.name, opts_value(&o), 0, 100);
        else if (is(&o, "--focal-alpha")) {
            free(t->alpha_vals);
            t->alpha_vals = parse_focal_alpha(opts_value(&o), &t->n_alpha);
        }
        else if (is(&o, "--lr")) t->cfg.lr = (float)parse_double(o.name, opts_value(&o), 0, 1e6), t->lr_set = 1;
        else if (is(&o, "--wd")) t->cfg.wd = (float)parse_double(o.name, opts_value(&o), 0, 1e6), t->wd_set = 1;
        else if (is(&o, "--momentum")) {
            t->cfg.momentum = (float)parse_double(o.name, opts_value(&o), 0, 0.999999);
            t->momentum_set = 1;
            if (!t->sgd_only) t->sgd_only = "--momentum";
        } else if (is(&o, "--optimizer")) {
            const char *v = opts_value(&o);
            if (mlp_optim_parse(v, &t->cfg.optim) != 0)
                die_usage("--optimizer: unknown value '%s' (choose one of: sgd, adam, adamw)", v);
        } else if (is(&o, "--nesterov")) {
            t->cfg.nesterov = 1;
            if (!t->sgd_only) t->sgd_only = "--nesterov";
        } else if (is(&o, "--beta1") || is(&o, "--beta2") || is(&o, "--eps")) {
            const char *name = o.name;
            const double v = is(&o, "--eps") ? parse_double(name, opts_value(&o), 1e-30, 1)
                                              : parse_double(name, opts_value(&o), 0, 0.999999);
            if (!strcmp(name, "--beta1")) t->cfg.beta1 = (float)v;
            else if (!strcmp(name, "--beta2")) t->cfg.beta2 = (float)v;
            else t->cfg.eps = (float)v;
            if (!t->adam_only) t->adam_only = name;
        } else if (is(&o, "--schedule")) {
            const char *v = opts_value(&o);
            if (mlp_schedule_parse(v, &t->cfg.schedule) != 0)
                die_usage("--schedule: unknown value '%s' (choose one of: constant, step, cosine)", v);
        } else if (is(&o, "--warmup-epochs")) t->cfg.warmup_epochs = (int)parse_long(o.name, opts_value(&o), 0, 999999);
        else if (is(&o, "--step-epochs")) t->cfg.step_epochs = (int)parse_long(o.name, opts_value(&o), 1, 1000000);
        else if (is(&o, "--step-gamma")) t->cfg.step_gamma = (float)parse_double(o.name, opts_value(&o), 1e-30, 1);
        else if (is(&o, "--min-lr")) t->cfg.min_lr = (float)parse_double(o.name, opts_value(&o), 0, 1e6);
        else if (is(&o, "--dropout")) t->cfg.dropout = (float)parse_double(o.name, opts_value(&o), 0, 0.99);
        else if (is(&o, "--early-stop")) t->cfg.early_stop = (int)parse_long(o.name, opts_value(&o), 0, 1000000);
        else if (is(&o, "--monitor")) {
            const char *v = opts_value(&o);
            if (mlp_monitor_parse(v, &t->cfg.monitor) != 0)
                die_usage("--monitor: unknown value '%s' (choose one of: loss, acc)", v);
        }
        else if (is(&o, "--batch")) t->cfg.batch = (int)parse_long(o.name, opts_value(&o), 1, 1 << 20);
        else if (is(&o, "--epochs")) t->cfg.epochs = (int)parse_long(o.name, opts_value(&o), 1, 1000000);
        else if (is(&o, "--init-std")) t->cfg.init_std = (float)parse_double(o.name, opts_value(&o), 0, 100);
        else if (is(&o, "--seed")) t->cfg.seed = parse_u64(o.name, opts_value(&o));
        else if (is(&o, "--grad-reduction")) {
            const char *v = opts_value(&o);
            if (!strcmp(v, "sum")) t->cfg.reduction = MLP_GRAD_SUM;
            else if (!strcmp(v, "mean")) t->cfg.reduction = MLP_GRAD_MEAN;
            else die_usage("--grad-reduction: unknown value '%s' (choose one of: sum, mean)", v);
        } else if (is(&o, "--no-shuffle")) t->cfg.shuffle = 0;
        else if (is(&o, "--init")) t->init_model = opts_value(&o);
        else if (is(&o, "--threads")) t->threads = (int)parse_long(o.name, opts_value(&o), 1, 256), t->threads_set = 1;
        else if (is(&o, "--kernels")) t->kernels = parse_kernels(o.name, opts_value(&o)), t->kernels_set = 1;
        else if (is(&o, "--out")) {
            t->out = opts_value(&o);
            if (!*t->out) die_usage("--out: the run folder name is empty (leave --out out for runs/<time>-...)");
        } else if (is(&o, "--max-memory")) t->max_memory = parse_size(o.name, opts_value(&o));
        else if (is(&o, "--resume")) t->resume = opts_value(&o);
        else if (is(&o, "--force")) t->force = 1;
        else if (is(&o, "--quiet")) t->quiet = 1;
        else if (is(&o, "--json")) t->json = 1;
        else die_usage("train: unknown option '%s'", o.name);
    }
    if (t->resume) {
        if (!*t->resume) die_usage("--resume: the run folder name is empty");
        if (t->force) die_usage("--resume and --force exclude each other: --resume continues the run in '%s', "
                                "--force replaces it", t->resume);
        if (t->out && strcmp(t->out, t->resume) != 0)
            die_usage("--resume '%s' continues that run folder; --out '%s' names another one", t->resume, t->out);
        if (t->fixing_opt)
            die_usage("--resume takes the options of the run from %s/%s; %s cannot be given with it "
                      "(accepted: --data, --threads, --kernels, --max-memory, --quiet, --json)",
                      t->resume, CONFIG_FILE, t->fixing_opt);
        return;
    }
    if (t->cfg.reduction == MLP_GRAD_MEAN) {
        if (!t->lr_set) t->cfg.lr = 1e-3f;
        if (!t->wd_set) t->cfg.wd = 1e-3f;
    }
    check_optimizer_opts(t);
    /* the widths are checked now, before any work starts */
    mlp_arch probe;
    mlp_error err;
    if (mlp_arch_parse(&probe, t->hidden, 784, 10, t->act, &err)) die_usage("--hidden: %s", err.msg);
}

static void config_json(sbuf *b, const train_opts *t, const mlp_arch *arch, const char *data_dir_used,
                        const char *out, mlp_kernels kernels, int argc, char **argv) {
    const mlp_train_cfg *c = &t->cfg;
    char archs[256];
    mlp_arch_format(arch, archs, sizeof archs);
    sbuf_printf(b, "{\n  \"mlp_version\": ");
    json_sbuf_string(b, MLP_VERSION);
    sbuf_printf(b, ",\n  \"dataset\": ");
    json_sbuf_string(b, t->dataset);
    sbuf_printf(b, ",\n  \"data\": ");
    json_sbuf_string(b, data_dir_used);
    if (t->test_data) { /* the data options: only when given, so that a reference run's config.json stays as it was */
        sbuf_printf(b, ",\n  \"test_data\": ");
        json_sbuf_string(b, t->test_data);
    }
    if (t->label) {
        sbuf_printf(b, ",\n  \"label\": ");
        json_sbuf_string(b, t->label);
    }
    if (t->val_fraction > 0) sbuf_printf(b, ",\n  \"val_fraction\": %.17g", t->val_fraction);
    if (t->scale_set) sbuf_printf(b, ",\n  \"scale\": \"%s\"", mlp_scale_name(t->scale));
    sbuf_printf(b, ",\n  \"arch\": \"%s\",\n  \"hidden\": [", archs);
    for (int l = 1; l < arch->n_layers; l++) sbuf_printf(b, "%s%d", l > 1 ? ", " : "", arch->width[l]);
    sbuf_printf(b, "],\n  \"act\": \"%s\"", mlp_act_name(arch->act));
    /* the loss, the optimizer and every training setting: runcfg.h's table, as the checkpoint records them */
    rc_config rc = rc_default();
    rc.train = *c;
    rc_json_write(b, &rc, arch->width[arch->n_layers], RC_JSON_TRAIN);
    sbuf_puts(b, ",\n  \"init_model\": ");
    if (t->init_model) json_sbuf_string(b, t->init_model);
    else sbuf_puts(b, "null");
    rc_json_write(b, &rc, arch->width[arch->n_layers], RC_JSON_SCALING);
    sbuf_printf(b, ",\n  \"threads\": %d,\n  \"kernels\": \"%s\",\n  \"out\": ", t->threads, mlp_kernels_name(kernels));
    json_sbuf_string(b, out);
    sbuf_puts(b, ",\n  \"command\": [");
    for (int i = 0; i < argc; i++) {
        if (i) sbuf_puts(b, ", ");
        json_sbuf_string(b, argv[i]);
    }
    sbuf_puts(b, "]\n}\n");
}

static void default_out_dir(char *buf, size_t size, const train_opts *t, const mlp_arch *arch) {
    char archs[256], stamp[32];
    time_t now = time(NULL);
    struct tm tmv;
    localtime_r(&now, &tmv);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tmv);
    mlp_arch_format(arch, archs, sizeof archs);
    snprintf(buf, size, "runs/%s-%s-%s-%s-%s", stamp, t->dataset, archs, mlp_act_name(arch->act),
             mlp_loss_name(t->cfg.loss.kind));
    /* Never reuse a folder: the name is taken by creating it (mkdir fails if it exists, atomically), so two
     * runs started in the same second get different folders; a suffix -2, -3, ... follows the first. */
    mkdir_p("runs");
    size_t n = strlen(buf);
    for (int i = 2; mkdir(buf, 0755) != 0; i++) {
        if (errno != EEXIST || i > 100000) die("cannot create the run folder '%s': %s", buf, strerror(errno));
        snprintf(buf + n, size - n, "-%d", i);
    }
}

/* ------------------------------------------------------------------ --resume: the options from config.json */

typedef struct cfg_reader {
    const char *path;
    const char *text; /* the file, NUL-terminated */
    const json_value *root;
} cfg_reader;

static const json_value *cfg_get(const cfg_reader *r, const char *key, json_type type) {
    const json_value *v = json_get(r->root, key);
    if (!v || v->type != type)
        die("%s: \"%s\" must be a %s, got %s (the run's config file is damaged)", r->path, key, json_type_name(type),
            json_kind(v));
    return v;
}

static long cfg_int(const cfg_reader *r, const char *key, long lo, long hi) {
    int64_t v;
    if (json_int64(cfg_get(r, key, JSON_NUMBER), &v) != 0 || v < lo || v > hi)
        die("%s: \"%s\" must be an integer in [%ld, %ld]", r->path, key, lo, hi);
    return (long)v;
}

static const char *cfg_string(const cfg_reader *r, const char *key) {
    const char *s = json_string(cfg_get(r, key, JSON_STRING));
    if (!s) die("%s: \"%s\" holds a NUL character", r->path, key);
    return s;
}

static void copy_str(char *dst, size_t size, const char *src, const char *path, const char *key) {
    if (strlen(src) >= size) die("%s: \"%s\" is longer than %zu bytes", path, key, size - 1);
    memcpy(dst, src, strlen(src) + 1);
}

/* Fill t from DIR/config.json, the options the run was started with. --data, --threads and --kernels given
 * now win over the recorded ones. */
static void load_run_config(train_opts *t, const char *dir) {
    char path[4200];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, CONFIG_FILE);
    if (stat(dir, &sb) != 0) die("--resume %s: %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode)) die("--resume %s: not a folder", dir);
    uint8_t *buf;
    size_t len;
    mlp_error err;
    if (mlp_read_file(path, &buf, &len, 1 << 20, &err))
        die("--resume %s: %s (a run folder holds the %s its run wrote)", dir, err.msg, CONFIG_FILE);
    char *text = malloc(len + 1);
    if (!text) die("out of memory");
    memcpy(text, buf, len);
    text[len] = '\0';
    free(buf);
    json_doc doc = {0};
    if (json_parse(&doc, text, len, NULL, &err)) die("%s: %s", path, err.msg);
    cfg_reader r = {path, text, doc.root};
    if (doc.root->type != JSON_OBJECT) die("%s: expected a JSON object, got %s", path, json_kind(doc.root));

    const char *ds = cfg_string(&r, "dataset");
    copy_str(t->dataset_buf, sizeof t->dataset_buf, ds, path, "dataset");
    t->dataset = t->dataset_buf;
    if (!t->data) {
        copy_str(t->data_buf, sizeof t->data_buf, cfg_string(&r, "data"), path, "data");
        t->data = t->data_buf;
    }
    /* the data options (absent: not used by the run) */
    if (json_get(doc.root, "test_data")) {
        copy_str(t->test_buf, sizeof t->test_buf, cfg_string(&r, "test_data"), path, "test_data");
        t->test_data = t->test_buf;
    }
    if (json_get(doc.root, "label")) {
        copy_str(t->label_buf, sizeof t->label_buf, cfg_string(&r, "label"), path, "label");
        t->label = t->label_buf;
    }
    if (json_get(doc.root, "scale")) {
        if (mlp_scale_parse(cfg_string(&r, "scale"), &t->scale) != 0) die("%s: unknown \"scale\"", path);
        t->scale_set = 1;
    }
    if (json_get(doc.root, "val_fraction")) {
        const json_value *vf = cfg_get(&r, "val_fraction", JSON_NUMBER);
        t->val_fraction = strtod(r.text + vf->offset, NULL);
        if (!(t->val_fraction > 0 && t->val_fraction < 1)) die("%s: \"val_fraction\" must be in (0, 1)", path);
    }

    const json_value *hidden = cfg_get(&r, "hidden", JSON_ARRAY);
    sbuf hb = SBUF_INIT;
    for (size_t i = 0; i < json_count(hidden); i++) {
        int64_t w;
        if (json_int64(json_at(hidden, i), &w) != 0 || w < 1 || w > 65536)
            die("%s: \"hidden\" must hold widths 1..65536", path);
        sbuf_printf(&hb, i ? ",%lld" : "%lld", (long long)w);
    }
    copy_str(t->hidden_buf, sizeof t->hidden_buf, json_count(hidden) ? sbuf_str(&hb) : "none", path, "hidden");
    sbuf_free(&hb);
    t->hidden = t->hidden_buf;

    if (mlp_act_parse(cfg_string(&r, "act"), &t->act) != 0) die("%s: unknown \"act\"", path);
    /* the loss, the optimizer and every training setting (runcfg.h; settings added after a folder was written
     * keep their defaults) */
    rc_config rc = rc_default();
    rc.train = t->cfg;
    if (rc_json_read(doc.root, text, &rc, 0, &err)) die("%s: %s", path, err.msg); /* 0: the classes are the data's */
    t->cfg = rc.train;
    /* the alphas as if given by --focal-alpha (one per class, resolved once the data is loaded) */
    free(t->alpha_vals);
    t->alpha_vals = rc.alpha_buf;
    t->n_alpha = rc.train.loss.n_focal_alpha;
    t->cfg.loss.focal_alpha = NULL;
    t->cfg.loss.n_focal_alpha = 0;
    const json_value *init = json_get(doc.root, "init_model");
    if (init && init->type == JSON_STRING) {
        copy_str(t->init_buf, sizeof t->init_buf, cfg_string(&r, "init_model"), path, "init_model");
        t->init_model = t->init_buf;
    } else if (!json_is_null(init)) {
        die("%s: \"init_model\" must be a string or null", path);
    }
    if (!t->threads_set) t->threads = (int)cfg_int(&r, "threads", 1, 256);
    if (!t->kernels_set && mlp_kernels_parse(cfg_string(&r, "kernels"), &t->kernels) != 0)
        die("%s: unknown \"kernels\"", path);
    json_free(&doc);
    free(text);
}

/* ------------------------------------------------------------------ run folder files */

static void path_in(char *buf, size_t size, const char *dir, const char *name) {
    if ((size_t)snprintf(buf, size, "%s/%s", dir, name) >= size) die("path '%s/%s' is too long", dir, name);
}

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static const char *const run_files[] = {CONFIG_FILE, METRICS_FILE, CHECKPOINT_FILE, MODEL_FILE, BEST_FILE};
#define N_RUN_FILES (sizeof run_files / sizeof *run_files)

/* NAME.tmp.PID or NAME.tmp.PID.N for one of the run's file names: what mlp_write_file_atomic leaves when the
 * process is killed in the middle of a write. Returns the writer's pid, or 0 for any other name. */
static long temp_writer(const char *entry) {
    for (size_t i = 0; i < N_RUN_FILES; i++) {
        size_t n = strlen(run_files[i]);
        if (strncmp(entry, run_files[i], n) != 0 || strncmp(entry + n, ".tmp.", 5) != 0) continue;
        const char *p = entry + n + 5;
        char *end;
        if (*p < '0' || *p > '9') return 0;
        long pid = strtol(p, &end, 10);
        if (*end == '.') {
            if (end[1] < '0' || end[1] > '9') return 0;
            strtol(end + 1, &end, 10);
        }
        return *end == '\0' && pid > 0 ? pid : 0;
    }
    return 0;
}

static int is_stale_temp(const char *entry) { return temp_writer(entry) != 0; }

static void remove_stale_temps(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[4200];
    /* only the temporary files of writers that are gone: never another live process's (the folder's lock
     * makes that impossible for mlp train, but the check costs nothing) */
    while ((e = readdir(d))) {
        long pid = temp_writer(e->d_name);
        if (pid && (pid == (long)getpid() || (kill((pid_t)pid, 0) != 0 && errno == ESRCH))) {
            path_in(path, sizeof path, dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

/* 1 if path exists and holds anything but leftovers of interrupted writes (a file counts too). */
static int holds_a_run(const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0) return 0;
    if (!S_ISDIR(sb.st_mode)) return 1;
    DIR *d = opendir(path);
    if (!d) return 1;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d)))
        found = strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && !is_stale_temp(e->d_name) &&
                !run_lock_is_file(e->d_name);
    closedir(d);
    return found;
}

/* --force: the previous run's files go, so nothing of it can be mistaken for the new run's. Other files
 * in the folder are left alone. */
static void remove_run_files(const char *dir) {
    char path[4200];
    for (size_t i = 0; i < N_RUN_FILES; i++) {
        path_in(path, sizeof path, dir, run_files[i]);
        if (unlink(path) != 0 && errno != ENOENT) die("--force: cannot remove %s: %s", path, strerror(errno));
    }
    remove_stale_temps(dir);
}

/* The progress display while training runs; its bar is erased before any message on stderr. */
static progress *active_progress;

static void clear_progress(void) {
    if (active_progress) progress_clear(active_progress);
}

/* metrics.csv; with a validation set (val) two more columns, val_loss and val_acc */
static void write_metrics(const char *out, const mlp_epoch_metrics *h, int n, int val) {
    sbuf csv = SBUF_INIT;
    char path[4200];
    mlp_error err;
    sbuf_puts(&csv, val ? "epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds,val_loss,val_acc\n"
                        : "epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds\n");
    for (int i = 0; i < n; i++) {
        sbuf_printf(&csv, "%d,%.9g,%.9g,%.9g,%.9g,%.9g,%.6f", h[i].epoch, h[i].train_loss, h[i].train_acc,
                    h[i].test_loss, h[i].test_acc, h[i].lr, h[i].seconds);
        if (val) sbuf_printf(&csv, ",%.9g,%.9g", h[i].val_loss, h[i].val_acc);
        sbuf_puts(&csv, "\n");
    }
    path_in(path, sizeof path, out, METRICS_FILE);
    if (csv.oom || mlp_write_file_atomic(path, sbuf_str(&csv), csv.len, &err)) {
        clear_progress();
        if (csv.oom) die("out of memory while writing %s", path);
        die_err(&err);
    }
    sbuf_free(&csv);
}

static void save_checkpoint(const char *path, const mlp_trainer *tr, const mlp_epoch_metrics *h, int n) {
    mlp_error err;
    if (mlp_checkpoint_save(path, tr, h, n, &err)) {
        clear_progress();
        die("%s%s", err.msg, err.code == MLP_ERR_IO ? " (the previous checkpoint, if any, is unchanged)" : "");
    }
}

/* ------------------------------------------------------------------ signals */

/* Set by SIGINT/SIGTERM; the trainer reads it after every step (mlp_trainer.stop_flag). SA_RESETHAND: a
 * second signal has the default effect, so an impatient second Ctrl-C still stops at once (every file is
 * written atomically, so even that leaves the last checkpoint whole). */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) { stop_signal = sig; }

static void install_stop_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_RESETHAND;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static _Noreturn void exit_stopped(const char *out, const char *where) {
    const int sig = stop_signal;
    clear_progress();
    fprintf(stderr, "%s: %s %s; the state is saved in %s/%s; continue with: %s train --resume %s\n", prog,
            sig == SIGINT ? "SIGINT" : "SIGTERM", where, out, CHECKPOINT_FILE, prog, out);
    exit(128 + sig);
}

/* ------------------------------------------------------------------ data-parallel training (MPI)
 *
 * Under `mpirun -np P` (P > 1, the MPI build; docs/MPI.md) every rank trains the same network on its slice
 * of every batch through the trainer's shard hook (mlp.h: mlp_trainer_set_shards); dp_combine
 * sums the slices' gradients and loss sums over the ranks in a fixed order (mpi_util.h), so that every rank
 * applies the same update and holds the same parameters, bitwise. Rank 0 is the run as a single process would
 * make it: it reads and writes the run folder (config.json, checkpoints, metrics.csv, the model), prints, and
 * evaluates the test set. It sends the other ranks what they cannot know by themselves: the run's settings
 * (with --resume they come from its config.json) and, before the first step, the whole training state (the
 * initialised, --init or checkpointed parameters, the momentum, the shuffling generators, the position in the
 * epoch). The other ranks need only the data, at the path rank 0 uses. With P = 1 nothing here is used: the
 * run is bitwise the single-process one. */

typedef struct dp_spec { /* rank 0's settings, to the other ranks */
    char dataset[32], hidden[512], data[4096];
    int32_t act, kernels;
    mlp_train_cfg cfg;
    /* the data options (a resumed run: config.json's, which only rank 0 reads) */
    char test_data[4096], label[256];
    double val_fraction;
    int32_t data_file, has_test, has_label, scale, scale_set;
} dp_spec;

static void dp_share_spec(train_opts *t, char *data, size_t data_size) {
    static dp_spec sp; /* t keeps pointers into it */
    if (mpiu_rank() == 0) {
        memset(&sp, 0, sizeof sp);
        if (strlen(t->hidden) >= sizeof sp.hidden || strlen(data) >= sizeof sp.data) die("a setting is too long");
        snprintf(sp.dataset, sizeof sp.dataset, "%s", t->dataset);
        snprintf(sp.hidden, sizeof sp.hidden, "%s", t->hidden);
        snprintf(sp.data, sizeof sp.data, "%s", data);
        sp.act = (int32_t)t->act;
        sp.kernels = (int32_t)t->kernels;
        sp.cfg = t->cfg;
        if ((t->test_data && strlen(t->test_data) >= sizeof sp.test_data) || (t->label && strlen(t->label) >= sizeof sp.label))
            die("a setting is too long");
        sp.data_file = t->data && !is_folder(data);
        sp.has_test = t->test_data != NULL;
        sp.has_label = t->label != NULL;
        snprintf(sp.test_data, sizeof sp.test_data, "%s", t->test_data ? t->test_data : "");
        snprintf(sp.label, sizeof sp.label, "%s", t->label ? t->label : "");
        sp.val_fraction = t->val_fraction;
        sp.scale = (int32_t)t->scale;
        sp.scale_set = t->scale_set;
    }
    mpiu_bcast(&sp, (int)sizeof sp, 0);
    /* --focal-alpha's values (rank 0's: a resumed run read them from config.json) */
    int32_t na = (int32_t)t->n_alpha;
    mpiu_bcast(&na, (int)sizeof na, 0);
    if (mpiu_rank() > 0) {
        free(t->alpha_vals);
        t->alpha_vals = na > 0 ? malloc(sizeof(float) * (size_t)na) : NULL;
        if (na > 0 && !t->alpha_vals) die("out of memory");
        t->n_alpha = na;
    }
    if (na > 0) mpiu_bcast(t->alpha_vals, (int)(sizeof(float) * (size_t)na), 0);
    sp.cfg.loss.focal_alpha = NULL; /* resolved on every rank from the values (resolve_alpha) */
    sp.cfg.loss.n_focal_alpha = 0;
    t->dataset = sp.dataset;
    t->hidden = sp.hidden;
    snprintf(data, data_size, "%s", sp.data);
    t->act = (mlp_act)sp.act;
    t->kernels = (mlp_kernels)sp.kernels;
    t->cfg = sp.cfg;
    t->data = sp.data_file ? sp.data : t->data;
    t->test_data = sp.has_test ? sp.test_data : NULL;
    t->label = sp.has_label ? sp.label : NULL;
    t->val_fraction = sp.val_fraction;
    t->scale = (mlp_scale_kind)sp.scale;
    t->scale_set = sp.scale_set;
}

/* Threads per rank unless --threads says: the CPUs of the rank's affinity mask (mpirun binds ranks to cores by
 * default), no more than its share of the host's CPUs. */
static void dp_default_threads(train_opts *t) {
    if (t->threads_set) return;
    const int n = mpiu_cpus();
    t->threads = n > 256 ? 256 : n;
}

/* Rank 0's training state to every rank (called once, before the first step). */
static void dp_share_state(mlp_trainer *tr) {
    mlp_net *net = tr->net;
    const size_t bytes = sizeof(float) * net->n_params;
    if (bytes > (size_t)INT_MAX) die("the network is too large to share between MPI ranks (%zu bytes)", bytes);
    mpiu_bcast(net->params, (int)bytes, 0);
    mpiu_bcast(net->momentum, (int)bytes, 0);
    mpiu_bcast(net->moment2, (int)bytes, 0);
    struct {
        mlp_rng shuffle, epoch;
        int32_t epochs_done, step_in_epoch;
        double loss_sum, acc_sum;
    } s = {tr->shuffle_rng, tr->epoch_rng, tr->epochs_done, tr->step_in_epoch, tr->epoch_loss_sum, tr->epoch_acc_sum};
    mpiu_bcast(&s, (int)sizeof s, 0);
    tr->shuffle_rng = s.shuffle;
    tr->epoch_rng = s.epoch;
    tr->epochs_done = s.epochs_done;
    tr->step_in_epoch = s.step_in_epoch;
    tr->epoch_loss_sum = s.loss_sum;
    tr->epoch_acc_sum = s.acc_sum;
    mlp_net_params_changed(net);
}

/* Every rank takes the signal any rank got (0 if none): they stop together, and rank 0 names the signal. */
static void dp_agree_stop(void) {
    const int sig = mpiu_max_int((int)stop_signal);
    if (sig) stop_signal = sig;
}

/* The trainer's combine callback: totals over the ranks, in rank order, the same bits on every rank. When a
 * rank was asked to stop (sums[2]), all stop after this step. */
static int dp_combine(void *user, float *grads, size_t n, double sums[3]) {
    mpiu_allreduce_sum_fixed(grads, n, user);
    mpiu_allreduce_sum_fixed_d(sums, 3);
    if (sums[2] != 0) dp_agree_stop();
    return 0;
}

static void dp_attach(mlp_trainer *tr) {
    static float *scratch; /* allocated once per run, freed at exit */
    scratch = malloc(sizeof(float) * mpiu_allreduce_scratch(tr->net->n_params));
    if (!scratch) die("out of memory");
    mlp_error err;
    if (mlp_trainer_set_shards(tr, mpiu_rank(), mpiu_size(), dp_combine, scratch, &err)) die_err(&err);
}

/* Ranks > 0: the same training on their shards, without files or output (rank 0 reports every failure). */
static int train_other_rank(train_opts *t) {
    mlp_error err;
    install_stop_handlers();
    signal(SIGXFSZ, SIG_IGN);
    char dir[4096] = "";
    dp_share_spec(t, dir, sizeof dir);
    dp_default_threads(t);
    mlp_dataset train, test, val;
    mlp_feature_scaling fs;
    mlp_scaling bytes;
    load_sets(t, dir, &train, &test, &val, &fs, &bytes);
    mlp_arch arch;
    mlp_net net;
    if (mlp_arch_parse(&arch, t->hidden, train.dim, train.classes, t->act, &err)) die_err(&err);
    if (mlp_net_create(&net, &arch, t->cfg.batch > 1000 ? t->cfg.batch : 1000, &err)) die_err(&err);
    net.input_sparse = 0; /* the sharded step is dense, and this rank does not evaluate */
    if (mlp_net_set_exec(&net, t->threads, t->kernels, &err)) die_err(&err);
    mlp_trainer tr;
    if (mlp_trainer_init_val(&tr, &net, &t->cfg, &train, test.n ? &test : NULL, &val, &err)) die_err(&err);
    dp_share_state(&tr);
    dp_attach(&tr);
    tr.test = tr.val = NULL; /* rank 0 evaluates */
    tr.stop_flag = &stop_signal;
    /* every decision to stop is taken by all ranks together, as rank 0 takes it (cmd_train) */
    dp_agree_stop();
    if (stop_signal) exit(128 + stop_signal);
    mlp_epoch_metrics m;
    while (tr.epochs_done < t->cfg.epochs) {
        mlp_status st = mlp_trainer_epoch(&tr, &m, &err);
        if (st == MLP_ERR_INTERRUPTED) exit(128 + stop_signal); /* every rank stopped after the same step */
        if (st) exit(EXIT_FAILURE);                               /* so did rank 0, which says why */
        dp_agree_stop();
        int early = 0; /* rank 0 evaluates: its early-stopping decision, for all */
        mpiu_bcast(&early, (int)sizeof early, 0);
        if (stop_signal && tr.epochs_done < t->cfg.epochs && !early) exit(128 + stop_signal);
        if (early) break;
    }
    mlp_trainer_free(&tr);
    mlp_net_free(&net);
    mlp_dataset_free(&train);
    mlp_dataset_free(&test);
    mlp_dataset_free(&val);
    mlp_feature_scaling_free(&fs);
    free(t->alpha_vals);
    mpiu_finalize();
    return 0;
}

/* ------------------------------------------------------------------ the command */

/* The classes the training set defines (its largest label + 1) must be at least two, and every test label one of
 * them: a label the network cannot output is refused before any work, naming it. */
static void check_classes(const mlp_dataset *train, const mlp_dataset *test, const char *where) {
    if (train->classes < 2)
        die("%s: the training set holds only one class (label %d); a classifier needs at least two", where,
            train->n > 0 ? (int)train->y[0] : 0);
    if (!test || test->classes <= train->classes) return;
    int shown = 0, first = -1;
    char list[256] = "";
    size_t used = 0;
    for (int i = 0; i < test->n; i++)
        if (test->y[i] >= train->classes) {
            if (first < 0) first = i;
            int seen = shown >= 8; /* each unseen label once, in order of appearance, the first eight */
            for (int j = first; j < i && !seen; j++) seen = test->y[j] == test->y[i];
            if (!seen && shown < 8 && used < sizeof list - 16)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%d", shown++ ? ", " : "", (int)test->y[i]);
        }
    die("%s: the test set has labels the training set does not (%s; the first at test example %d): the network "
        "has classes 0..%d only",
        where, list, first, train->classes - 1);
}

/* An IDX folder, or what would be one: a path that is not a file and has no data file's extension (a missing
 * folder then gets the IDX loader's message, which offers `mlp fetch`). */
/* --focal-alpha for K classes: one value for all, or exactly one per class. */
static void resolve_alpha(train_opts *t, int K) {
    if (!t->alpha_vals) return;
    if (t->n_alpha != 1 && t->n_alpha != K)
        die_usage("--focal-alpha has %d values but the data has %d classes; give one, or one per class", t->n_alpha, K);
    if (t->n_alpha == 1) {
        float *all = malloc(sizeof(float) * (size_t)K);
        if (!all) die("out of memory");
        for (int k = 0; k < K; k++) all[k] = t->alpha_vals[0];
        free(t->alpha_vals);
        t->alpha_vals = all;
        t->n_alpha = K;
    }
    t->cfg.loss.focal_alpha = t->alpha_vals; /* lives as long as the process */
    t->cfg.loss.n_focal_alpha = K;
}

static int is_folder(const char *path) {
    struct stat sb;
    if (stat(path, &sb) == 0) return S_ISDIR(sb.st_mode);
    static const char *const ext[] = {".csv", ".csv.gz", ".npy", ".npz"};
    const size_t n = strlen(path);
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
        if (n >= strlen(ext[i]) && !strcmp(path + n - strlen(ext[i]), ext[i])) return 0;
    return 1;
}

/* Where the training data is (dir: an IDX folder as data_dir finds it, or the --data file as given), and, for a
 * file, the run's dataset name from it unless --dataset said (iris.csv: "iris"; letters, digits, - and _). */
static void find_data(train_opts *t, char *dir, size_t size) {
    if (!t->data || is_folder(t->data)) {
        if (t->label) die_usage("--label names a CSV column; --data %s is a folder of IDX files", t->data ? t->data : dir);
        data_dir(dir, size, t->data, t->dataset);
        return;
    }
    snprintf(dir, size, "%s", t->data);
    if (t->dataset_set || t->resume) return;
    const char *base = strrchr(t->data, '/') ? strrchr(t->data, '/') + 1 : t->data;
    size_t n = 0;
    for (; base[n] && base[n] != '.' && n < sizeof t->dataset_buf - 1; n++) {
        const char c = base[n];
        t->dataset_buf[n] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ? c : '_';
    }
    t->dataset_buf[n] = '\0';
    t->dataset = n ? t->dataset_buf : "data";
}

/* The training set (from dir, see find_data), the test set (an IDX folder's t10k files, or --test-data; empty
 * when a --data file has no --test-data) with its classes made the training set's, and the validation set held
 * out by --val-fraction (empty without). Every problem is a one-line error before any work. */
static void load_sets(train_opts *t, const char *dir, mlp_dataset *train, mlp_dataset *test, mlp_dataset *val,
                      mlp_feature_scaling *fs, mlp_scaling *bytes) {
    mlp_error err;
    mlp_data_opts o = mlp_data_opts_default();
    o.label = t->label;
    /* 8-bit data: the reference's scaling at load, or the raw values 0..255 for another --scale to fit */
    if (t->scale_set && t->scale != MLP_SCALE_REFERENCE) o.byte_scaling = (mlp_scaling){0.0f, 1.0f};
    *bytes = o.byte_scaling;
    memset(test, 0, sizeof *test);
    memset(val, 0, sizeof *val);
    if (is_folder(dir) || !t->data) {
        if (mlp_dataset_load_dir(train, t->test_data ? NULL : test, dir, o.byte_scaling, &err))
            die_data(&err, t->dataset, dir);
    } else if (mlp_dataset_load(train, NULL, dir, &o, &err)) {
        die_err(&err);
    }
    if (t->test_data) {
        mlp_status st = is_folder(t->test_data) ? mlp_dataset_load_dir(NULL, test, t->test_data, o.byte_scaling, &err)
                                                : mlp_dataset_load(test, NULL, t->test_data, &o, &err);
        if (st) die_err(&err);
        if (train->classes >= 2 && mlp_dataset_match(test, train, &err)) die("--test-data %s: %s", t->test_data, err.msg);
    }
    check_classes(train, test->n ? test : NULL, dir);
    resolve_alpha(t, train->classes);
    if (t->val_fraction > 0) {
        mlp_dataset whole = *train;
        if (mlp_dataset_split(&whole, t->val_fraction, t->cfg.seed, train, val, &err))
            die("--val-fraction %g: %s", t->val_fraction, err.msg);
        mlp_dataset_free(&whole);
    }
    /* the scaling: by default the reference for 8-bit data (already applied at load: nothing more) and z-scores for
     * other data; any other is fitted on the training split and applied to every set */
    const mlp_scale_kind kind = t->scale_set ? t->scale : train->byte_data ? MLP_SCALE_REFERENCE : MLP_SCALE_STANDARD;
    memset(fs, 0, sizeof *fs);
    fs->kind = kind;
    if ((kind == MLP_SCALE_REFERENCE && train->byte_data) || kind == MLP_SCALE_NONE) return;
    if (mlp_feature_scaling_fit(fs, kind, train, &err)) die_err(&err);
    mlp_feature_scaling_apply(fs, train->x, train->n);
    mlp_feature_scaling_apply(fs, val->x, val->n);
    mlp_feature_scaling_apply(fs, test->x, test->n);
}

int cmd_train(int argc, char **argv) {
    train_opts t;
    mlp_error err;
    /* under mpirun every rank parses the same command line; only rank 0 prints a usage error or the help */
    const int quiet_rank = mpiu_env_rank() > 0;
    if (quiet_rank) mpiu_silence(1);
    parse_train_opts(&t, argc - 1, argv + 1);
    if (quiet_rank) mpiu_silence(0);
    const int ranks = mpiu_init();
    if (ranks > 1 && mpiu_rank() > 0) {
        static char rank_prog[32];
        snprintf(rank_prog, sizeof rank_prog, "mlp (rank %d)", mpiu_rank());
        prog = rank_prog;
        return train_other_rank(&t);
    }
    if (mpiu_active()) setenv("NO_COLOR", "1", 0); /* mpirun gives rank 0 a terminal even when it is piped */
    /* From here on SIGINT/SIGTERM only raise the flag: a signal during the setup stops the run right after
     * its first checkpoint. A file size limit (ulimit -f) fails a write with EFBIG, reported like a full
     * disk, instead of killing the process with SIGXFSZ. */
    install_stop_handlers();
    signal(SIGXFSZ, SIG_IGN);
    if (t.resume) {
        load_run_config(&t, t.resume);
        run_lock(t.resume); /* from here on this process owns the folder; a second --resume stops here */
    }

    char dir[4096];
    find_data(&t, dir, sizeof dir);
    char out[4096];
    if (t.resume) snprintf(out, sizeof out, "%s", t.resume);
    else if (t.out) snprintf(out, sizeof out, "%s", t.out);
    else out[0] = '\0'; /* named below, once the architecture is known */
    long holder = !t.resume && out[0] ? run_lock_holder(out) : 0;
    if (holder)
        die("run folder '%s' is in use by process %ld (another mlp train or --resume on it); wait for it to end "
            "or choose another folder",
            out, holder);
    if (!t.resume && out[0] && !t.force && holds_a_run(out))
        die("output folder '%s' already holds a run; choose another --out, pass --resume %s to continue it, or "
            "--force to replace it",
            out, out);
    if (ranks > 1) { /* the other ranks wait for the settings, then load the data while this one sets up */
        dp_share_spec(&t, dir, sizeof dir);
        dp_default_threads(&t);
    }

    mlp_dataset train, test, val;
    mlp_feature_scaling fs;
    mlp_scaling bytes;
    load_sets(&t, dir, &train, &test, &val, &fs, &bytes);
    if (t.cfg.batch > train.n)
        die_usage("--batch %d is larger than the training set (%d images); choose 1..%d", t.cfg.batch, train.n,
                  train.n);

    mlp_arch arch;
    if (mlp_arch_parse(&arch, t.hidden, train.dim, train.classes, t.act, &err)) die_usage("--hidden: %s", err.msg);
    char ckpt[4200] = "";
    if (t.resume) path_in(ckpt, sizeof ckpt, out, CHECKPOINT_FILE);
    const int from_checkpoint = t.resume && file_exists(ckpt);
    if (t.resume && !from_checkpoint)
        fprintf(stderr, "%s: %s has no %s yet (the run stopped before its first one): starting it again\n", prog,
                out, CHECKPOINT_FILE);

    const int max_batch = t.cfg.batch > 1000 ? t.cfg.batch : 1000;
    const size_t need = mlp_net_bytes(&arch, max_batch);
    if (need > t.max_memory) {
        char a[256];
        mlp_arch_format(&arch, a, sizeof a);
        die("the network %s needs %.1f MiB for batches of %d rows, above the memory limit of %.1f MiB; raise it with "
            "--max-memory SIZE (e.g. 8G)",
            a, (double)need / 1048576.0, max_batch, (double)t.max_memory / 1048576.0);
    }
    mlp_net net;
    if (t.init_model && !from_checkpoint) {
        mlp_model_meta meta;
        if (mlp_model_load_limit(t.init_model, &net, max_batch, t.max_memory, &meta, &err))
            die("--init %s", err.msg);
        char a1[256], a2[256];
        mlp_arch_format(&net.arch, a1, sizeof a1);
        mlp_arch_format(&arch, a2, sizeof a2);
        if (strcmp(a1, a2) != 0)
            die("--init %s: the model is %s but the requested network is %s (set --hidden to match)", t.init_model,
                a1, a2);
        net.arch.act = arch.act;
        mlp_model_meta_free(&meta);
    } else {
        /* from a checkpoint, the parameters are overwritten below; the initialisation is then cheap waste */
        if (mlp_net_create(&net, &arch, max_batch, &err)) die_err(&err);
        mlp_rng init_rng;
        mlp_rng_seed(&init_rng, t.cfg.seed, 1);
        mlp_net_init(&net, t.cfg.init_std, &init_rng);
    }
    if (t.resume && !t.kernels_set && t.kernels != MLP_KERNELS_AUTO && !mlp_kernels_supported(t.kernels))
        die("the run used the %s kernels, which this CPU does not support; pass --kernels to continue with "
            "another path (the result will then differ in the last bits from an uninterrupted run)",
            mlp_kernels_name(t.kernels));
    if (mlp_net_set_exec(&net, t.threads, t.kernels, &err)) die_usage("%s", err.msg);

    mlp_trainer tr;
    if (mlp_trainer_init_val(&tr, &net, &t.cfg, &train, test.n ? &test : NULL, &val, &err)) die_usage("%s", err.msg);

    /* Everything is checked: only now is the run folder created, locked, then written. */
    if (t.resume) {
        remove_stale_temps(out);
    } else {
        if (out[0]) mkdir_p(out);
        else default_out_dir(out, sizeof out, &t, &arch); /* creates it */
        run_lock(out);
        if (!t.force && holds_a_run(out)) /* another run finished in it since the check above */
            die("output folder '%s' already holds a run; choose another --out, pass --resume %s to continue it, "
                "or --force to replace it",
                out, out);
        path_in(ckpt, sizeof ckpt, out, CHECKPOINT_FILE);
        if (t.force) remove_run_files(out);
        else remove_stale_temps(out);
        sbuf cfgjson = SBUF_INIT;
        config_json(&cfgjson, &t, &arch, dir, out, net.kernels, argc, argv);
        write_text_atomic(out, CONFIG_FILE, &cfgjson);
        sbuf_free(&cfgjson);
    }
    /* file scope: still reachable (not a leak) when a signal or an error ends the process with exit() */
    static mlp_epoch_metrics *history;
    history = calloc((size_t)t.cfg.epochs, sizeof *history);
    if (!history) die("out of memory");
    int n_hist = 0;
    if (from_checkpoint) {
        if (mlp_checkpoint_load(ckpt, &tr, history, t.cfg.epochs, &n_hist, &err))
            die("%s%s", err.msg,
                err.code == MLP_ERR_ARG ? " (the checkpoint does not belong to the run its config.json describes)" : "");
        write_metrics(out, history, n_hist, val.n > 0); /* in case a kill came between the checkpoint and metrics.csv */
    } else {
        save_checkpoint(ckpt, &tr, history, 0); /* epoch 0: resuming never depends on --init's file again */
        write_metrics(out, history, 0, val.n > 0);
    }

    char archs[256];
    mlp_arch_format(&arch, archs, sizeof archs);
    progress pr;
    progress_init(&pr, stdout, t.quiet, t.json);
    progress_run run = {t.dataset, archs, out, &t.cfg, arch.act, net.kernels, t.threads, tr.epochs_done + 1, val.n > 0};
    progress_begin(&pr, &run);
    if (n_hist > 0) pr.last_test_acc = history[n_hist - 1].test_acc; /* a resumed run's last epoch */
    active_progress = &pr;
    tr.on_step = progress_step;
    tr.on_step_user = &pr;

    tr.stop_flag = &stop_signal;
    if (ranks > 1) {
        dp_share_state(&tr);
        dp_attach(&tr);
        dp_agree_stop();
    }
    if (stop_signal) exit_stopped(out, "before the first step");
    mlp_epoch_metrics m;
    memset(&m, 0, sizeof m);
    if (n_hist > 0) m = history[n_hist - 1];
    double total = 0;
    mlp_model_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.arch = net.arch;
    meta.loss = t.cfg.loss;
    meta.scaling = bytes;
    meta.scale = fs.kind;
    meta.feature_offset = fs.offset; /* NULL without a per-feature scaling */
    meta.feature_scale = fs.scale;
    meta.class_names = train.class_names;
    snprintf(meta.label, sizeof meta.label, "%s", t.label ? t.label : "");
    snprintf(meta.dataset, sizeof meta.dataset, "%s", t.dataset);
    snprintf(meta.version, sizeof meta.version, "%s", MLP_VERSION);
    char best_path[4200];
    path_in(best_path, sizeof best_path, out, BEST_FILE);
    while (tr.epochs_done < t.cfg.epochs && !mlp_trainer_stop_early(&tr)) {
        mlp_status st = mlp_trainer_epoch(&tr, &m, &err);
        if (st == MLP_ERR_INTERRUPTED) {
            /* the step in progress was finished: save the mid-epoch state (docs/ROBUSTNESS.md) */
            save_checkpoint(ckpt, &tr, history, n_hist);
            char where[128];
            snprintf(where, sizeof where, "at epoch %d, step %d of %d", tr.epochs_done + 1, tr.step_in_epoch,
                     (train.n + t.cfg.batch - 1) / t.cfg.batch);
            exit_stopped(out, where);
        }
        if (st) clear_progress();
        if (st == MLP_ERR_DIVERGED)
            die("%s. The last good checkpoint (after epoch %d) is kept in %s; the run folder is %s", err.msg,
                tr.epochs_done, ckpt, out);
        if (st) die("%s (run folder %s)", err.msg, out);
        total += m.seconds;
        history[n_hist++] = m;
        /* a new best epoch: its model, before the checkpoint that records it (a kill in between redoes the epoch,
         * which writes the same file) */
        if (tr.best_epoch == tr.epochs_done && mlp_model_save(best_path, &net, &meta, &err)) {
            clear_progress();
            die_err(&err);
        }
        /* checkpoint first: metrics.csv is rebuilt from it on --resume */
        save_checkpoint(ckpt, &tr, history, n_hist);
        write_metrics(out, history, n_hist, val.n > 0);
        progress_epoch(&pr, &m);
        if (ranks > 1) {
            dp_agree_stop();
            int early = mlp_trainer_stop_early(&tr);
            mpiu_bcast(&early, (int)sizeof early, 0);
        }
        if (stop_signal && tr.epochs_done < t.cfg.epochs && !mlp_trainer_stop_early(&tr)) {
            char where[64];
            snprintf(where, sizeof where, "after epoch %d", tr.epochs_done);
            exit_stopped(out, where);
        }
    }

    char model_path[4200];
    path_in(model_path, sizeof model_path, out, MODEL_FILE);
    if (mlp_model_save(model_path, &net, &meta, &err)) {
        clear_progress();
        die_err(&err);
    }

    progress_end(&pr, &run, &m, total);
    active_progress = NULL;
    if (tr.best_epoch && !t.quiet && !t.json) {
        if (mlp_trainer_stop_early(&tr))
            printf("early stop after epoch %d of %d: %s %s has not improved for %d epochs\n", tr.epochs_done,
                   t.cfg.epochs, val.n ? "validation" : "test", mlp_monitor_name(t.cfg.monitor), tr.since_best);
        printf("best epoch %d (%s %s %.6g): %s/%s\n", tr.best_epoch, val.n ? "validation" : "test",
               mlp_monitor_name(t.cfg.monitor), tr.best_value, out, BEST_FILE);
    }
    if (ranks > 1) {
        /* the share of rank 0's training time spent combining gradients (waiting for slower ranks included) */
        const double comm = mpiu_comm_seconds();
        fprintf(stderr, "%s: data-parallel over %d ranks: %.2f s of %.2f s in MPI communication (%.1f%%)\n", prog,
                ranks, comm, total, total > 0 ? 100 * comm / total : 0.0);
    }

    free(history);
    mlp_trainer_free(&tr);
    mlp_net_free(&net);
    mlp_dataset_free(&train);
    mlp_dataset_free(&test);
    mlp_dataset_free(&val);
    mlp_feature_scaling_free(&fs);
    free(t.alpha_vals);
    mpiu_finalize();
    return 0;
}
