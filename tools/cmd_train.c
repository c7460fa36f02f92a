/* cmd_train.c - `mlp train`: options, run folder, the per-epoch table. */
#include "cli.h"
#include "progress.h"

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

/* ------------------------------------------------------------------ train */

typedef struct train_opts {
    const char *data, *dataset, *hidden, *init_model, *out;
    mlp_act act;
    mlp_train_cfg cfg;
    int lr_set, wd_set;
    int threads;
    mlp_kernels kernels;
    int force, quiet, json;
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
            "  --quiet                print only the summary\n"
            "  --json                 print one JSON object per epoch (for scripts) instead of the table\n");
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
        else if (is(&o, "--json")) t->json = 1;
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

int cmd_train(int argc, char **argv) {
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
    progress pr;
    progress_init(&pr, stdout, t.quiet, t.json);
    progress_run run = {t.dataset, archs, out, &t.cfg, arch.act, net.kernels, t.threads, 1};
    progress_begin(&pr, &run);
    tr.on_step = progress_step;
    tr.on_step_user = &pr;

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
        progress_epoch(&pr, &m);
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

    progress_end(&pr, &run, &m, total);

    mlp_trainer_free(&tr);
    mlp_net_free(&net);
    mlp_dataset_free(&train);
    mlp_dataset_free(&test);
    return 0;
}
