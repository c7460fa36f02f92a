/* mlp.c - the command-line tool: train, eval, predict, info. The only place that prints or exits.
 * Exit status: 0 success, 1 runtime failure (a file, the data, divergence), 2 usage error. */
#include "json.h"
#include "mlp.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXIT_USAGE 2

static const char *prog = "mlp";

static void die(const char *fmt, ...) MLP_PRINTF(1, 2);
static void die_usage(const char *fmt, ...) MLP_PRINTF(1, 2);

static void die(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s: error: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(EXIT_FAILURE);
}

static void die_usage(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see '%s --help')\n", prog);
    exit(EXIT_USAGE);
}

static void die_err(const mlp_error *err) { die("%s", err->msg); }

/* ------------------------------------------------------------------ option values */

static double parse_double(const char *opt, const char *s, double lo, double hi) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
        die_usage("%s: '%s' is not a number", opt, s);
    if (v < lo || v > hi) die_usage("%s: %s is out of range [%g, %g]", opt, s, lo, hi);
    return v;
}

static long parse_long(const char *opt, const char *s, long lo, long hi) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE) die_usage("%s: '%s' is not an integer", opt, s);
    if (v < lo || v > hi) die_usage("%s: %s is out of range [%ld, %ld]", opt, s, lo, hi);
    return v;
}

static uint64_t parse_u64(const char *opt, const char *s) {
    char *end;
    errno = 0;
    if (*s == '-') die_usage("%s: '%s' must be a non-negative integer", opt, s);
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE) die_usage("%s: '%s' is not a non-negative integer", opt, s);
    return (uint64_t)v;
}

/* Option iterator: accepts "--name value" and "--name=value". */
typedef struct {
    int argc, i;
    char **argv;
    const char *name;  /* current option, without any "=value" */
    char namebuf[64];
    const char *inline_value;
} opts;

static int opts_next(opts *o) {
    if (o->i >= o->argc) return 0;
    const char *a = o->argv[o->i++];
    o->inline_value = NULL;
    const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
    if (eq && (size_t)(eq - a) < sizeof o->namebuf) {
        memcpy(o->namebuf, a, (size_t)(eq - a));
        o->namebuf[eq - a] = '\0';
        o->name = o->namebuf;
        o->inline_value = eq + 1;
    } else {
        o->name = a;
    }
    return 1;
}

static const char *opts_value(opts *o) {
    if (o->inline_value) return o->inline_value;
    if (o->i >= o->argc) die_usage("%s needs a value", o->name);
    return o->argv[o->i++];
}

static int is(const opts *o, const char *name) { return strcmp(o->name, name) == 0; }

/* ------------------------------------------------------------------ names */

static void list_names(char *buf, size_t size, const char *(*name)(int), int count) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < count && used < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", name(i));
        if (w < 0) break;
        used += (size_t)w;
    }
}
static const char *act_name_i(int i) { return mlp_act_name((mlp_act)i); }
static const char *loss_name_i(int i) { return mlp_loss_name((mlp_loss)i); }
static const char *kernels_name_i(int i) { return mlp_kernels_name((mlp_kernels)i); }

static mlp_act parse_act(const char *s) {
    mlp_act a;
    char names[256];
    if (mlp_act_parse(s, &a) == 0) return a;
    list_names(names, sizeof names, act_name_i, MLP_ACT_COUNT);
    die_usage("--act: unknown activation '%s' (choose one of: %s)", s, names);
    return MLP_ACT_RELU;
}

static mlp_loss parse_loss(const char *s) {
    mlp_loss l;
    char names[256];
    if (mlp_loss_parse(s, &l) == 0) return l;
    list_names(names, sizeof names, loss_name_i, MLP_LOSS_COUNT);
    die_usage("--loss: unknown loss '%s' (choose one of: %s)", s, names);
    return MLP_LOSS_CE;
}

static mlp_kernels parse_kernels(const char *opt, const char *s) {
    mlp_kernels k;
    char names[256];
    if (mlp_kernels_parse(s, &k) == 0) return k;
    list_names(names, sizeof names, kernels_name_i, MLP_KERNELS_COUNT);
    die_usage("%s: unknown kernel path '%s' (choose one of: %s)", opt, s, names);
    return MLP_KERNELS_AUTO;
}

/* The kernel path: --kernels wins, else MLP_KERNELS in the environment, else auto. */
static mlp_kernels kernels_from_env(void) {
    const char *e = getenv("MLP_KERNELS");
    return e && *e ? parse_kernels("MLP_KERNELS", e) : MLP_KERNELS_AUTO;
}

/* "0.1" or ten comma-separated values */
static void parse_focal_alpha(const char *s, float *alpha) {
    float v[MLP_MAX_CLASSES];
    int n = 0;
    const char *p = s;
    for (;;) {
        char *end;
        errno = 0;
        double x = strtod(p, &end);
        if (end == p || (*end != ',' && *end != '\0') || !isfinite(x) || x < 0)
            die_usage("--focal-alpha: '%s' must be one non-negative number or ten separated by commas", s);
        if (n >= MLP_MAX_CLASSES) die_usage("--focal-alpha: too many values in '%s'", s);
        v[n++] = (float)x;
        if (*end == '\0') break;
        p = end + 1;
    }
    if (n != 1 && n != 10) die_usage("--focal-alpha: '%s' has %d values; give one, or one per class (10)", s, n);
    for (int k = 0; k < MLP_MAX_CLASSES; k++) alpha[k] = n == 1 ? v[0] : (k < 10 ? v[k] : 0.0f);
}

/* ------------------------------------------------------------------ data */

/* The folder with the dataset: --data, else $MLP_DATA/<dataset>, else data/<dataset>. A --data folder
 * that does not hold the files itself but has a <dataset> subfolder is accepted too. */
static void data_dir(char *buf, size_t size, const char *data_opt, const char *dataset) {
    struct stat st;
    if (data_opt) {
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", data_opt, dataset);
        char probe1[4200], probe2[4200];
        snprintf(probe1, sizeof probe1, "%s/train-images-idx3-ubyte", data_opt);
        snprintf(probe2, sizeof probe2, "%s/train-images-idx3-ubyte.gz", data_opt);
        if (stat(probe1, &st) != 0 && stat(probe2, &st) != 0 && stat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            snprintf(buf, size, "%s", sub);
        else
            snprintf(buf, size, "%s", data_opt);
        return;
    }
    const char *root = getenv("MLP_DATA");
    snprintf(buf, size, "%s/%s", root && *root ? root : "data", dataset);
}

static const char *check_dataset(const char *s) {
    if (strcmp(s, "mnist") && strcmp(s, "fashion-mnist"))
        die_usage("--dataset: unknown dataset '%s' (choose one of: mnist, fashion-mnist)", s);
    return s;
}

/* ------------------------------------------------------------------ files */

/* 1 if path exists and is not an empty folder */
static int dir_is_nonempty(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) return 1;
    DIR *d = opendir(path);
    if (!d) return 1;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) found = 1;
    closedir(d);
    return found;
}

static void mkdir_p(const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) die("output folder '%s': path empty or too long", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                die("cannot create folder '%s': %s", buf, strerror(errno));
            buf[i] = c;
        }
    }
}

static void write_text_atomic(const char *dir, const char *name, const sbuf *b) {
    char path[4200];
    mlp_error err;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (b->oom) die("out of memory while writing %s", path);
    if (mlp_write_file_atomic(path, sbuf_str(b), b->len, &err)) die_err(&err);
}

/* ------------------------------------------------------------------ train */

typedef struct train_opts {
    const char *data, *dataset, *hidden, *init_model, *out;
    mlp_act act;
    mlp_train_cfg cfg;
    int lr_set, wd_set;
    int threads;
    mlp_kernels kernels;
    int force, quiet;
} train_opts;

static void train_usage(FILE *f) {
    fprintf(f,
            "usage: mlp train [options]\n"
            "Train an MLP and write a run folder (config.json, metrics.csv, model.safetensors).\n"
            "Defaults are the reference report's best configuration (784-128-10 gelu + hinge).\n"
            "\n"
            "  --data DIR             folder with the IDX files (default $MLP_DATA/<dataset> or data/<dataset>)\n"
            "  --dataset NAME         mnist | fashion-mnist (default mnist)\n"
            "  --hidden LIST          hidden widths: 128 | 128,32 | any list, or none (default 128)\n"
            "  --act NAME             relu | sigmoid | tanh | selu | swish | gelu (default gelu)\n"
            "  --loss NAME            mse | ce | hinge | focal (default hinge)\n"
            "  --hinge-margin D       hinge margin (default 5)\n"
            "  --focal-gamma G        focal gamma (default 2)\n"
            "  --focal-alpha A[,..]   focal alpha: one value, or ten (one per class) (default 0.1)\n"
            "  --grad-reduction R     sum | mean (default sum, as the reference code): with sum the gradients\n"
            "                         are sums over the batch; with mean, gradients of the mean loss\n"
            "  --lr X                 learning rate (default 1e-5 with sum, 1e-3 with mean)\n"
            "  --wd X                 weight decay, coupled L2 inside the momentum, biases too\n"
            "                         (default 0.1 with sum, 1e-3 with mean)\n"
            "  --momentum X           momentum (default 0.9)\n"
            "  --batch N              batch size (default 100)\n"
            "  --epochs N             epochs (default 200)\n"
            "  --init-std X           initial weights ~ N(0, X^2), biases 0 (default 0.01)\n"
            "  --seed N               seed of initialisation and shuffling (default 1)\n"
            "  --no-shuffle           keep the training set order\n"
            "  --init MODEL           start from the weights of a saved model (same architecture)\n"
            "  --threads N            threads (default 1); results are identical for any N\n"
            "  --kernels PATH         auto | portable | avx2 | avx512 (default auto, or $MLP_KERNELS)\n"
            "  --out DIR              run folder (default runs/<time>-<dataset>-<arch>-<act>-<loss>)\n"
            "  --force                write into a run folder that already holds a run\n"
            "  --quiet                print only the summary\n");
}

static void parse_train_opts(train_opts *t, int argc, char **argv) {
    memset(t, 0, sizeof *t);
    t->dataset = "mnist";
    t->hidden = "128";
    t->act = MLP_ACT_GELU;
    t->cfg = mlp_train_cfg_default();
    t->threads = 1;
    t->kernels = kernels_from_env();
    opts o = {argc, 0, argv, NULL, {0}, NULL};
    while (opts_next(&o)) {
        if (is(&o, "--help") || is(&o, "-h")) {
            train_usage(stdout);
            exit(0);
        } else if (is(&o, "--data")) t->data = opts_value(&o);
        else if (is(&o, "--dataset")) t->dataset = check_dataset(opts_value(&o));
        else if (is(&o, "--hidden")) t->hidden = opts_value(&o);
        else if (is(&o, "--act")) t->act = parse_act(opts_value(&o));
        else if (is(&o, "--loss")) {
            mlp_loss_cfg keep = t->cfg.loss;
            keep.kind = parse_loss(opts_value(&o));
            t->cfg.loss = keep;
        } else if (is(&o, "--hinge-margin")) t->cfg.loss.hinge_margin = (float)parse_double(o.name, opts_value(&o), 0, 1e6);
        else if (is(&o, "--focal-gamma")) t->cfg.loss.focal_gamma = (float)parse_double(o.name, opts_value(&o), 0, 100);
        else if (is(&o, "--focal-alpha")) parse_focal_alpha(opts_value(&o), t->cfg.loss.focal_alpha);
        else if (is(&o, "--lr")) t->cfg.lr = (float)parse_double(o.name, opts_value(&o), 0, 1e6), t->lr_set = 1;
        else if (is(&o, "--wd")) t->cfg.wd = (float)parse_double(o.name, opts_value(&o), 0, 1e6), t->wd_set = 1;
        else if (is(&o, "--momentum")) t->cfg.momentum = (float)parse_double(o.name, opts_value(&o), 0, 0.999999);
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
        else if (is(&o, "--threads")) t->threads = (int)parse_long(o.name, opts_value(&o), 1, 256);
        else if (is(&o, "--kernels")) t->kernels = parse_kernels(o.name, opts_value(&o));
        else if (is(&o, "--out")) t->out = opts_value(&o);
        else if (is(&o, "--force")) t->force = 1;
        else if (is(&o, "--quiet")) t->quiet = 1;
        else die_usage("train: unknown option '%s'", o.name);
    }
    if (t->cfg.reduction == MLP_GRAD_MEAN) {
        if (!t->lr_set) t->cfg.lr = 1e-3f;
        if (!t->wd_set) t->cfg.wd = 1e-3f;
    }
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
    sbuf_printf(b, ",\n  \"arch\": \"%s\",\n  \"hidden\": [", archs);
    for (int l = 1; l < arch->n_layers; l++) sbuf_printf(b, "%s%d", l > 1 ? ", " : "", arch->width[l]);
    sbuf_printf(b, "],\n  \"act\": \"%s\",\n  \"loss\": \"%s\",\n  \"hinge_margin\": ", mlp_act_name(arch->act),
                mlp_loss_name(c->loss.kind));
    json_sbuf_float(b, c->loss.hinge_margin);
    sbuf_printf(b, ",\n  \"focal_gamma\": ");
    json_sbuf_float(b, c->loss.focal_gamma);
    sbuf_printf(b, ",\n  \"focal_alpha\": [");
    for (int k = 0; k < 10; k++) {
        if (k) sbuf_puts(b, ", ");
        json_sbuf_float(b, c->loss.focal_alpha[k]);
    }
    sbuf_printf(b, "],\n  \"grad_reduction\": \"%s\",\n  \"lr\": ", c->reduction == MLP_GRAD_SUM ? "sum" : "mean");
    json_sbuf_float(b, c->lr);
    sbuf_puts(b, ",\n  \"wd\": ");
    json_sbuf_float(b, c->wd);
    sbuf_puts(b, ",\n  \"momentum\": ");
    json_sbuf_float(b, c->momentum);
    sbuf_printf(b, ",\n  \"batch\": %d,\n  \"epochs\": %d,\n  \"init_std\": ", c->batch, c->epochs);
    json_sbuf_float(b, c->init_std);
    sbuf_printf(b, ",\n  \"seed\": %llu,\n  \"shuffle\": %s,\n  \"init_model\": ", (unsigned long long)c->seed,
                c->shuffle ? "true" : "false");
    if (t->init_model) json_sbuf_string(b, t->init_model);
    else sbuf_puts(b, "null");
    sbuf_printf(b, ",\n  \"input_offset\": 128,\n  \"input_scale\": ");
    json_sbuf_float(b, mlp_scaling_default().scale);
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
    /* never reuse a folder: add a suffix if this second already has one */
    struct stat st;
    size_t n = strlen(buf);
    for (int i = 2; stat(buf, &st) == 0 && i < 1000; i++) snprintf(buf + n, size - n, "-%d", i);
}

static int cmd_train(int argc, char **argv) {
    train_opts t;
    mlp_error err;
    parse_train_opts(&t, argc - 1, argv + 1);

    char dir[4096];
    data_dir(dir, sizeof dir, t.data, t.dataset);
    mlp_dataset train, test;
    if (mlp_dataset_load_dir(&train, &test, dir, mlp_scaling_default(), &err)) die_err(&err);
    if (t.cfg.batch > train.n) die_usage("--batch %d is larger than the training set (%d images)", t.cfg.batch, train.n);

    mlp_arch arch;
    if (mlp_arch_parse(&arch, t.hidden, train.dim, 10, t.act, &err)) die_usage("--hidden: %s", err.msg);
    const int max_batch = t.cfg.batch > 1000 ? t.cfg.batch : 1000;
    mlp_net net;
    if (t.init_model) {
        mlp_model_meta meta;
        if (mlp_model_load(t.init_model, &net, max_batch, &meta, &err)) die_err(&err);
        char a1[256], a2[256];
        mlp_arch_format(&net.arch, a1, sizeof a1);
        mlp_arch_format(&arch, a2, sizeof a2);
        if (strcmp(a1, a2) != 0)
            die("--init %s: the model is %s but the requested network is %s (set --hidden to match)", t.init_model,
                a1, a2);
        net.arch.act = arch.act;
    } else {
        if (mlp_net_create(&net, &arch, max_batch, &err)) die_err(&err);
        mlp_rng init_rng;
        mlp_rng_seed(&init_rng, t.cfg.seed, 1);
        mlp_net_init(&net, t.cfg.init_std, &init_rng);
    }
    if (mlp_net_set_exec(&net, t.threads, t.kernels, &err)) die_usage("%s", err.msg);

    char out[4096];
    if (t.out) snprintf(out, sizeof out, "%s", t.out);
    else default_out_dir(out, sizeof out, &t, &arch);
    if (!t.force && dir_is_nonempty(out))
        die("output folder '%s' already holds a run; choose another --out, or pass --force to overwrite it", out);
    mkdir_p(out);

    sbuf cfgjson = SBUF_INIT;
    config_json(&cfgjson, &t, &arch, dir, out, net.kernels, argc, argv);
    write_text_atomic(out, "config.json", &cfgjson);
    sbuf_free(&cfgjson);

    mlp_trainer tr;
    if (mlp_trainer_init(&tr, &net, &t.cfg, &train, &test, &err)) die_usage("%s", err.msg);

    char archs[256];
    mlp_arch_format(&arch, archs, sizeof archs);
    if (!t.quiet) {
        printf("mlp %s: %s %s %s + %s, %s gradients, lr %g, wd %g, momentum %g, batch %d, %d epochs, seed %llu\n",
               MLP_VERSION, t.dataset, archs, mlp_act_name(arch.act), mlp_loss_name(t.cfg.loss.kind),
               t.cfg.reduction == MLP_GRAD_SUM ? "summed" : "mean", (double)t.cfg.lr, (double)t.cfg.wd,
               (double)t.cfg.momentum, t.cfg.batch, t.cfg.epochs, (unsigned long long)t.cfg.seed);
        printf("kernels %s, %d thread%s, run folder %s\n\n", mlp_kernels_name(net.kernels), t.threads,
               t.threads > 1 ? "s" : "", out);
        printf("%6s  %10s  %9s  %10s  %9s  %8s\n", "epoch", "train_loss", "train_acc", "test_loss", "test_acc",
               "seconds");
        fflush(stdout);
    }

    sbuf csv = SBUF_INIT;
    sbuf_puts(&csv, "epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds\n");
    mlp_epoch_metrics m;
    memset(&m, 0, sizeof m);
    double total = 0;
    for (int e = 0; e < t.cfg.epochs; e++) {
        mlp_status st = mlp_trainer_epoch(&tr, &m, &err);
        if (st) {
            write_text_atomic(out, "metrics.csv", &csv);
            die("%s (run folder %s)", err.msg, out);
        }
        total += m.seconds;
        sbuf_printf(&csv, "%d,%.9g,%.9g,%.9g,%.9g,%.9g,%.6f\n", m.epoch, m.train_loss, m.train_acc, m.test_loss,
                    m.test_acc, m.lr, m.seconds);
        write_text_atomic(out, "metrics.csv", &csv);
        if (!t.quiet) {
            printf("%6d  %10.6f  %9.4f  %10.6f  %9.4f  %8.3f\n", m.epoch, m.train_loss, m.train_acc, m.test_loss,
                   m.test_acc, m.seconds);
            fflush(stdout);
        }
    }
    sbuf_free(&csv);

    mlp_model_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.arch = net.arch;
    meta.loss = t.cfg.loss;
    meta.scaling = mlp_scaling_default();
    snprintf(meta.dataset, sizeof meta.dataset, "%s", t.dataset);
    snprintf(meta.version, sizeof meta.version, "%s", MLP_VERSION);
    char model_path[4200];
    snprintf(model_path, sizeof model_path, "%s/model.safetensors", out);
    if (mlp_model_save(model_path, &net, &meta, &err)) die_err(&err);

    printf("\nfinal (epoch %d): train loss %.4f, train acc %.4f, test loss %.4f, test acc %.4f\n", m.epoch,
           m.train_loss, m.train_acc, m.test_loss, m.test_acc);
    printf("total time %.2f s (%.3f s per epoch); run saved in %s\n", total, total / t.cfg.epochs, out);

    mlp_trainer_free(&tr);
    mlp_net_free(&net);
    mlp_dataset_free(&train);
    mlp_dataset_free(&test);
    return 0;
}

/* ------------------------------------------------------------------ eval, predict, info */

static void load_model_or_die(const char *path, mlp_net *net, mlp_model_meta *meta, int max_batch,
                              int threads, mlp_kernels kernels) {
    mlp_error err;
    if (mlp_model_load(path, net, max_batch, meta, &err)) die_err(&err);
    if (mlp_net_set_exec(net, threads, kernels, &err)) die_usage("%s", err.msg);
}

static int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *dataset = NULL;
    int threads = 1;
    mlp_kernels kernels = kernels_from_env();
    opts o = {argc - 1, 0, argv + 1, NULL, {0}, NULL};
    while (opts_next(&o)) {
        if (is(&o, "--help") || is(&o, "-h")) {
            printf("usage: mlp eval MODEL [--data DIR] [--dataset mnist|fashion-mnist] [--threads N]\n"
                   "Prints test loss (the model's loss), accuracy and the confusion matrix (rows: true label).\n");
            return 0;
        } else if (is(&o, "--data")) data = opts_value(&o);
        else if (is(&o, "--dataset")) dataset = check_dataset(opts_value(&o));
        else if (is(&o, "--threads")) threads = (int)parse_long(o.name, opts_value(&o), 1, 256);
        else if (is(&o, "--kernels")) kernels = parse_kernels(o.name, opts_value(&o));
        else if (o.name[0] == '-' && o.name[1]) die_usage("eval: unknown option '%s'", o.name);
        else if (!model) model = o.name;
        else die_usage("eval: unexpected argument '%s' (one MODEL only)", o.name);
    }
    if (!model) die_usage("eval: which model? usage: mlp eval MODEL");
    mlp_net net;
    mlp_model_meta meta;
    mlp_error err;
    load_model_or_die(model, &net, &meta, 1000, threads, kernels);
    if (!dataset) dataset = meta.dataset[0] ? meta.dataset : "mnist";
    char dir[4096];
    data_dir(dir, sizeof dir, data, dataset);
    mlp_dataset test;
    if (mlp_dataset_load_dir(NULL, &test, dir, meta.scaling, &err)) die_err(&err);
    const int K = net.arch.width[net.arch.n_layers];
    int *conf = calloc((size_t)K * (size_t)K, sizeof(int));
    double loss, acc;
    if (!conf) die("out of memory");
    if (mlp_evaluate(&net, &meta.loss, &test, &loss, &acc, conf, &err)) die_err(&err);
    char archs[256];
    mlp_arch_format(&net.arch, archs, sizeof archs);
    printf("model %s: %s %s, loss %s\n", model, archs, mlp_act_name(net.arch.act), mlp_loss_name(meta.loss.kind));
    printf("test set %s (%d images)\n", dir, test.n);
    printf("test loss %.6f\ntest accuracy %.4f (%ld of %d)\n\n", loss, acc, lround(acc * test.n), test.n);
    printf("confusion matrix (rows: true label, columns: predicted)\n     ");
    for (int k = 0; k < 10 && k < K; k++) printf(" %5d", k);
    printf("\n");
    for (int r = 0; r < 10 && r < K; r++) {
        printf("%5d", r);
        for (int k = 0; k < 10 && k < K; k++) printf(" %5d", conf[r * K + k]);
        printf("\n");
    }
    free(conf);
    mlp_dataset_free(&test);
    mlp_net_free(&net);
    return 0;
}

static int cmd_predict(int argc, char **argv) {
    const char *model = NULL;
    const char **files = calloc((size_t)argc, sizeof *files);
    int n_files = 0;
    mlp_kernels kernels = kernels_from_env();
    if (!files) die("out of memory");
    opts o = {argc - 1, 0, argv + 1, NULL, {0}, NULL};
    while (opts_next(&o)) {
        if (is(&o, "--help") || is(&o, "-h")) {
            printf("usage: mlp predict MODEL IMAGE.pgm...\n"
                   "Classifies 28x28 grayscale PGM images (P2 or P5, white digit on black as in MNIST).\n"
                   "Prints per image: the file, the predicted label and the 10 class scores (raw network\n"
                   "outputs, before any softmax).\n");
            return 0;
        } else if (is(&o, "--kernels")) kernels = parse_kernels(o.name, opts_value(&o));
        else if (o.name[0] == '-' && o.name[1]) die_usage("predict: unknown option '%s'", o.name);
        else if (!model) model = o.name;
        else files[n_files++] = o.name;
    }
    if (!model || n_files == 0) die_usage("predict: usage: mlp predict MODEL IMAGE.pgm...");
    mlp_net net;
    mlp_model_meta meta;
    mlp_error err;
    load_model_or_die(model, &net, &meta, 1, 1, kernels);
    const int dim = net.arch.width[0], K = net.arch.width[net.arch.n_layers];
    float *x = malloc(sizeof(float) * (size_t)dim);
    if (!x) die("out of memory");
    int failed = 0;
    for (int f = 0; f < n_files; f++) {
        uint8_t *px;
        int w, h;
        if (mlp_pgm_read(files[f], &px, &w, &h, &err)) {
            fprintf(stderr, "%s: error: %s\n", prog, err.msg);
            failed = 1;
            continue;
        }
        if (w * h != dim) {
            fprintf(stderr, "%s: error: %s: image is %dx%d but the model takes %d pixels (28x28)\n", prog, files[f],
                    w, h, dim);
            free(px);
            failed = 1;
            continue;
        }
        for (int i = 0; i < dim; i++) x[i] = ((float)px[i] - meta.scaling.offset) * meta.scaling.scale;
        free(px);
        const float *logits = mlp_net_forward(&net, x, 1);
        int best = 0;
        for (int k = 1; k < K; k++)
            if (logits[k] > logits[best]) best = k;
        printf("%s: %d", files[f], best);
        for (int k = 0; k < K; k++) printf(" %.6g", (double)logits[k]);
        printf("\n");
    }
    free(x);
    free(files);
    mlp_net_free(&net);
    return failed;
}

static int cmd_info(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        printf("usage: mlp info MODEL\nPrints the architecture and metadata of a model file.\n");
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (argc > 2) die_usage("info: one MODEL only");
    mlp_net net;
    mlp_model_meta meta;
    load_model_or_die(argv[1], &net, &meta, 1, 1, MLP_KERNELS_AUTO);
    char archs[256];
    mlp_arch_format(&net.arch, archs, sizeof archs);
    printf("file          %s\n", argv[1]);
    printf("architecture  %s (%d Linear layers)\n", archs, net.arch.n_layers);
    printf("activation    %s\n", mlp_act_name(net.arch.act));
    printf("parameters    %zu\n", net.n_params);
    for (int l = 0; l < net.arch.n_layers; l++)
        printf("  fc%d.weight [%d, %d]  fc%d.bias [%d]\n", l + 1, net.arch.width[l + 1], net.arch.width[l], l + 1,
               net.arch.width[l + 1]);
    printf("loss          %s", mlp_loss_name(meta.loss.kind));
    if (meta.loss.kind == MLP_LOSS_HINGE) printf(" (margin %g)", (double)meta.loss.hinge_margin);
    if (meta.loss.kind == MLP_LOSS_FOCAL)
        printf(" (gamma %g, alpha %g...)", (double)meta.loss.focal_gamma, (double)meta.loss.focal_alpha[0]);
    printf("\ninput scaling x = (p - %g) * %.9g\n", (double)meta.scaling.offset, (double)meta.scaling.scale);
    printf("dataset       %s\n", meta.dataset[0] ? meta.dataset : "(not recorded)");
    printf("written by    mlp %s\n", meta.version[0] ? meta.version : "(unknown)");
    mlp_net_free(&net);
    return 0;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: mlp COMMAND [options]\n"
            "Train multilayer perceptrons on MNIST and Fashion-MNIST.\n\n"
            "commands:\n"
            "  train      train a network, write a run folder          (mlp train --help)\n"
            "  eval       test loss, accuracy, confusion matrix of a model\n"
            "  predict    classify PGM images with a model\n"
            "  info       architecture and metadata of a model file\n\n"
            "  mlp --version     print the version\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("mlp %s\n", MLP_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "train")) return cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval")) return cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "predict")) return cmd_predict(argc - 1, argv + 1);
    if (!strcmp(cmd, "info")) return cmd_info(argc - 1, argv + 1);
    die_usage("unknown command '%s' (choose one of: train, eval, predict, info)", cmd);
    return EXIT_USAGE;
}
