/* cmd_model.c - commands that use a saved model: eval, predict, info. */
#include "cli.h"

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

/* ------------------------------------------------------------------ eval, predict, info */

static void load_model_or_die(const char *path, mlp_net *net, mlp_model_meta *meta, int max_batch,
                              int threads, mlp_kernels kernels) {
    mlp_error err;
    if (mlp_model_load(path, net, max_batch, meta, &err)) die_err(&err);
    if (mlp_net_set_exec(net, threads, kernels, &err)) die_usage("%s", err.msg);
}

static const char *const fashion_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                              "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/* The name of class k for a model trained on `dataset`, or NULL when classes are plain digits. */
static const char *class_name(const char *dataset, int k) {
    if (!strcmp(dataset, "fashion-mnist") && k >= 0 && k < 10) return fashion_names[k];
    return NULL;
}

int cmd_eval(int argc, char **argv) {
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
    if (class_name(dataset, 0)) {
        printf("\nclasses:");
        for (int k = 0; k < 10 && k < K; k++) printf("%s %d %s", k ? "," : "", k, class_name(dataset, k));
        printf("\n");
    }
    free(conf);
    mlp_dataset_free(&test);
    mlp_net_free(&net);
    return 0;
}

static void predict_usage(void) {
    printf("usage: mlp predict MODEL IMAGE... [--invert auto|yes|no]\n"
           "Classifies pictures with a trained model. Each IMAGE is a PNG (any colour type, bit depth,\n"
           "interlacing) or a PGM (P2/P5), recognised by its content, of any size:\n"
           "  - colour becomes gray by ITU-R BT.601 luma (0.299 R + 0.587 G + 0.114 B); transparent parts\n"
           "    of a PNG are put on a white background;\n"
           "  - polarity: the networks learned light strokes on black (as MNIST). --invert auto (default)\n"
           "    inverts a picture whose border is light and brighter than its centre (black on white);\n"
           "    --invert yes always inverts (black-on-white input), --invert no never does;\n"
           "  - the picture is centred on a square canvas (padding black) and resized to 28x28: area\n"
           "    averaging when larger, bilinear when smaller; a 28x28 picture is used as it is.\n"
           "Prints one line per image: FILE: CLASS SCORE0 ... SCORE9, the scores being the raw network\n"
           "outputs (logits, before any softmax); for a Fashion-MNIST model the class name follows in\n"
           "parentheses. An unreadable image is reported on stderr and the others still classified\n"
           "(exit status 1 then).\n"
           "  --invert MODE     auto | yes | no (default auto)\n"
           "  --kernels PATH    auto | portable | avx2 | avx512 (default auto, or $MLP_KERNELS)\n");
}

int cmd_predict(int argc, char **argv) {
    const char *model = NULL;
    const char **files = calloc((size_t)argc, sizeof *files);
    int n_files = 0;
    mlp_kernels kernels = kernels_from_env();
    mlp_invert invert = MLP_INVERT_AUTO;
    if (!files) die("out of memory");
    opts o = {argc - 1, 0, argv + 1, NULL, {0}, NULL};
    while (opts_next(&o)) {
        if (is(&o, "--help") || is(&o, "-h")) {
            predict_usage();
            free(files);
            return 0;
        } else if (is(&o, "--kernels")) kernels = parse_kernels(o.name, opts_value(&o));
        else if (is(&o, "--invert")) {
            const char *v = opts_value(&o);
            if (mlp_invert_parse(v, &invert) != 0)
                die_usage("--invert: unknown value '%s' (choose one of: auto, yes, no)", v);
        } else if (o.name[0] == '-' && o.name[1]) die_usage("predict: unknown option '%s'", o.name);
        else if (!model) model = o.name;
        else files[n_files++] = o.name;
    }
    if (!model || n_files == 0) die_usage("predict: usage: mlp predict MODEL IMAGE... (PNG or PGM files)");
    mlp_net net;
    mlp_model_meta meta;
    mlp_error err;
    load_model_or_die(model, &net, &meta, 1, 1, kernels);
    const int dim = net.arch.width[0], K = net.arch.width[net.arch.n_layers];
    int side = (int)lround(sqrt((double)dim));
    if (side * side != dim) die("%s: the model takes %d inputs, not a square picture", model, dim);
    float *x = malloc(sizeof(float) * (size_t)dim);
    if (!x) die("out of memory");
    int failed = 0;
    for (int f = 0; f < n_files; f++) {
        uint8_t *px = NULL; /* NULL again after a failed read */
        int w, h;
        if (mlp_image_read(files[f], &px, &w, &h, &err) ||
            mlp_image_to_input(px, w, h, side, side, invert, meta.scaling, x, NULL, &err)) {
            fprintf(stderr, "%s: error: %s\n", prog, err.msg);
            failed = 1;
            free(px);
            continue;
        }
        free(px);
        const float *logits = mlp_net_forward(&net, x, 1);
        int best = 0;
        for (int k = 1; k < K; k++)
            if (logits[k] > logits[best]) best = k;
        printf("%s: %d", files[f], best);
        for (int k = 0; k < K; k++) printf(" %.6g", (double)logits[k]);
        const char *name = class_name(meta.dataset, best);
        if (name) printf(" (%s)", name);
        printf("\n");
    }
    free(x);
    free(files);
    mlp_net_free(&net);
    return failed;
}

int cmd_info(int argc, char **argv) {
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
