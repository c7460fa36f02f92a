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
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ eval, predict, info */

/* The model, refused before any allocation when its network would need more than max_memory bytes. */
static void load_model_or_die(const char *path, mlp_net *net, mlp_model_meta *meta, int max_batch,
                              int threads, mlp_kernels kernels, size_t max_memory) {
    mlp_error err;
    mlp_status st = mlp_model_load_limit(path, net, max_batch, max_memory, meta, &err);
    if (st == MLP_ERR_NOMEM) die("%s; raise the limit with --max-memory SIZE (e.g. 8G)", err.msg);
    if (st) die_err(&err);
    if (mlp_net_set_exec(net, threads, kernels, &err)) die_usage("%s", err.msg);
}

/* The data file of a split as mlp_dataset_load_dir finds it (raw, else .gz), for messages. */
static void split_file(char *buf, size_t size, const char *dir, const char *name) {
    struct stat sb;
    snprintf(buf, size, "%s/%s", dir, name);
    if (stat(buf, &sb) != 0) snprintf(buf, size, "%s/%s.gz", dir, name);
}

/* Before any work: the model must take the data's images, and know every label (labels index the loss and
 * the K x K confusion matrix). The error names the file, the label and its index. */
static void check_model_fits_data(const char *model, const mlp_net *net, const mlp_dataset *ds, const char *dir) {
    const int K = net->arch.width[net->arch.n_layers];
    char file[4200];
    if (ds->dim != net->arch.width[0]) {
        split_file(file, sizeof file, dir, "t10k-images-idx3-ubyte");
        die("%s: images of %dx%d (%d pixels), but the model %s takes %d inputs", file, ds->rows, ds->cols, ds->dim,
            model, net->arch.width[0]);
    }
    for (int i = 0; i < ds->n; i++)
        if (ds->y[i] < 0 || ds->y[i] >= K) {
            split_file(file, sizeof file, dir, "t10k-labels-idx1-ubyte");
            die("%s: label %d at index %d, but the model %s has %d classes (0..%d): it was not trained on this data",
                file, (int)ds->y[i], i, model, K, K - 1);
        }
}

static const char *const fashion_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                              "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/* The name of class k of a model: its own class names (a model trained on a CSV or NPY file), Fashion-MNIST's, or
 * NULL when the classes are plain numbers. */
static const char *class_name(const mlp_model_meta *meta, int k) {
    if (meta->class_names && k >= 0 && k < meta->arch.width[meta->arch.n_layers]) return meta->class_names[k];
    if (!strcmp(meta->dataset, "fashion-mnist") && k >= 0 && k < 10) return fashion_names[k];
    return NULL;
}

static int is_data_file(const char *path) {
    static const char *const ext[] = {".csv", ".csv.gz", ".npy", ".npz"};
    const size_t n = strlen(path);
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
        if (n >= strlen(ext[i]) && !strcmp(path + n - strlen(ext[i]), ext[i])) return 1;
    return 0;
}

/* A data file as the model's input: 8-bit data scaled as it was trained (meta.scaling), then the model's
 * per-feature scaling; the labels (unless no_labels) made the model's classes by name. */
static void load_for_model(mlp_dataset *ds, const char *path, const char *label, int no_labels, const char *model,
                           const mlp_net *net, mlp_model_meta *meta) {
    mlp_error err;
    mlp_data_opts o = mlp_data_opts_default();
    o.byte_scaling = meta->scaling;
    o.label = label ? label : meta->label[0] ? meta->label : NULL;
    /* with its labels first (a CSV's label column, y.npy); to classify, features only when that does not give the
     * model's inputs (a CSV without a label column, an X.npy alone) */
    mlp_status st = mlp_dataset_load(ds, NULL, path, &o, &err);
    if (no_labels && (st || ds->dim != net->arch.width[0])) {
        mlp_error first = err;
        mlp_dataset_free(ds);
        o.no_labels = 1;
        if (mlp_dataset_load(ds, NULL, path, &o, &err)) die_err(st ? &first : &err);
        st = MLP_OK;
    }
    if (st) die_err(&err);
    if (ds->dim != net->arch.width[0])
        die("%s has %d features per row but the model %s takes %d inputs", path, ds->dim, model, net->arch.width[0]);
    if (!no_labels) {
        mlp_dataset classes = {.dim = ds->dim, .classes = net->arch.width[net->arch.n_layers],
                               .class_names = meta->class_names};
        if (mlp_dataset_match(ds, &classes, &err)) die("%s: %s of the model %s", path, err.msg, model);
    }
    mlp_model_scale_inputs(meta, ds->x, ds->n);
}

int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *dataset = NULL, *test_data = NULL, *label = NULL;
    size_t max_memory = MLP_MEMORY_LIMIT_DEFAULT;
    int threads = 1;
    mlp_kernels kernels = kernels_from_env();
    opts o = {argc - 1, 0, argv + 1, NULL, {0}, NULL, 0};
    while (opts_next(&o)) {
        if (is(&o, "--help") || is(&o, "-h")) {
            printf("usage: mlp eval MODEL [--data PATH | --test-data PATH] [--label NAME] [--dataset mnist|fashion-mnist]\n"
                   "                [--threads N] [--max-memory SIZE]\n"
                   "Prints test loss (the model's loss), accuracy and the confusion matrix (rows: true label).\n"
                   "  --data PATH        an IDX folder (its t10k files), or a data file (.csv, .npz, X.npy)\n"
                   "  --test-data PATH   the same: the set to evaluate\n"
                   "  --label NAME       the CSV's label column (default: the model's, else label, else the last)\n"
                   "  --max-memory SIZE  refuse a model whose network needs more (default 2G; e.g. 512M, 8G)\n"
                   "  --kernels PATH     auto | portable | avx2 | avx512 (default auto, or $MLP_KERNELS)\n");
            return 0;
        } else if (is(&o, "--data")) data = opts_value(&o);
        else if (is(&o, "--test-data")) test_data = opts_value(&o);
        else if (is(&o, "--label")) label = opts_value(&o);
        else if (is(&o, "--dataset")) dataset = check_dataset(opts_value(&o));
        else if (is(&o, "--threads")) threads = (int)parse_long(o.name, opts_value(&o), 1, 256);
        else if (is(&o, "--kernels")) kernels = parse_kernels(o.name, opts_value(&o));
        else if (is(&o, "--max-memory")) max_memory = parse_size(o.name, opts_value(&o));
        else if (is_option(&o)) die_usage("eval: unknown option '%s'", o.name);
        else if (!model) model = o.name;
        else die_usage("eval: unexpected argument '%s' (one MODEL only)", o.name);
    }
    if (!model) die_usage("eval: which model? usage: mlp eval MODEL");
    mlp_net net;
    mlp_model_meta meta;
    mlp_error err;
    load_model_or_die(model, &net, &meta, 1000, threads, kernels, max_memory);
    if (!dataset) dataset = meta.dataset[0] ? meta.dataset : "mnist";
    else snprintf(meta.dataset, sizeof meta.dataset, "%s", dataset); /* --dataset: its class names */
    if (test_data && data) die_usage("eval: --data and --test-data both name the set to evaluate; give one");
    if (test_data) data = test_data;
    char dir[4096];
    mlp_dataset test;
    if (data && is_data_file(data)) {
        snprintf(dir, sizeof dir, "%s", data);
        load_for_model(&test, data, label, 0, model, &net, &meta);
    } else {
        if (label) die_usage("eval: --label names a CSV column; %s is a folder of IDX files", data ? data : "the data");
        data_dir(dir, sizeof dir, data, dataset);
        if (mlp_dataset_load_dir(NULL, &test, dir, meta.scaling, &err)) die_data(&err, dataset, dir);
        check_model_fits_data(model, &net, &test, dir);
        mlp_model_scale_inputs(&meta, test.x, test.n);
    }
    const int K = net.arch.width[net.arch.n_layers];
    int *conf = calloc((size_t)K * (size_t)K, sizeof(int));
    double loss, acc;
    if (!conf) die("out of memory");
    if (mlp_evaluate(&net, &meta.loss, &test, &loss, &acc, conf, &err)) die_err(&err);
    char archs[256];
    mlp_arch_format(&net.arch, archs, sizeof archs);
    printf("model %s: %s %s, loss %s\n", model, archs, mlp_act_name(net.arch.act), mlp_loss_name(meta.loss.kind));
    printf("test set %s (%d %s)\n", dir, test.n, test.byte_data ? "images" : "rows");
    printf("test loss %.6f\ntest accuracy %.4f (%ld of %d)\n\n", loss, acc, lround(acc * test.n), test.n);
    printf("confusion matrix (rows: true label, columns: predicted)\n     ");
    for (int k = 0; k < K; k++) printf(" %5d", k);
    printf("\n");
    for (int r = 0; r < K; r++) {
        printf("%5d", r);
        for (int k = 0; k < K; k++) printf(" %5d", conf[r * K + k]);
        printf("\n");
    }
    if (class_name(&meta, 0)) {
        printf("\nclasses:");
        for (int k = 0; k < K; k++) printf("%s %d %s", k ? "," : "", k, class_name(&meta, k));
        printf("\n");
    }
    free(conf);
    mlp_dataset_free(&test);
    mlp_model_meta_free(&meta);
    mlp_net_free(&net);
    return 0;
}

static void predict_usage(void) {
    printf("usage: mlp predict MODEL INPUT... [--top K] [--json] [--out FILE.csv [--force]]\n"
           "                   [--prepare mnist|fashion-mnist|whole] [--invert auto|yes|no] [--scores]\n"
           "Classifies the rows of data files (FILE.csv, X.npy, FILE.npz: one line per row, FILE:ROW: CLASS NAME;\n"
           "a CSV may hold the label column, which is ignored), scaled as the model's training data was, or\n"
           "pictures:\n"
           "Classifies pictures with a trained model. Each INPUT is a picture, or a folder: its pictures\n"
           "(*.png, *.jpg, *.jpeg, *.pgm, any case) in name order. A picture is a PNG (any colour type,\n"
           "bit depth, interlacing, transparency), a JPEG (baseline or progressive) or a PGM (P2/P5),\n"
           "recognised by its content, of any size. It is prepared as the training digits were:\n"
           "  - ink: transparency, when the border is mostly transparent, is the background, and the\n"
           "    opaque part is the ink whatever its colour (a white digit on transparency is a light\n"
           "    digit); otherwise colour becomes gray (BT.601 luma) and a dark-on-light picture (a\n"
           "    light border, or a light page around a small digit) is inverted: the networks learned\n"
           "    light strokes on black. --invert yes|no overrides: yes = dark ink, no = light ink;\n"
           "  - levels: the border's most frequent value is the background, its noise is ignored, faint\n"
           "    pictures are stretched to full contrast;\n"
           "  - mnist (the default for MNIST models): the ink's bounding box is fitted into 20x20 keeping\n"
           "    its aspect ratio and placed in 28x28 by its centre of mass, as MNIST was made, so a small\n"
           "    digit in a corner of a photo, or a drawing with thick strokes, reads like a test digit;\n"
           "    fashion-mnist (the default for Fashion-MNIST models): fitted into 28x28 and centred;\n"
           "    whole: the whole picture, centred on a square canvas, resized to 28x28.\n"
           "A blank or nearly blank picture (contrast below 10%%, or under 10 pixels of ink) gets a\n"
           "warning on stderr (and a \"warning\" field in --json): its class means little.\n"
           "Output, one line per picture: FILE: CLASS (p PROBABILITY), the probability being the softmax\n"
           "of the scores for a model trained with ce or focal; for hinge and mse models the scores are\n"
           "not probabilities and the line shows (score S): hinge scores are trained so that the true\n"
           "class beats every other by the margin (5 by default); mse outputs are regressions of the\n"
           "one-hot target (about 1 for the class, about 0 for the others). A Fashion-MNIST model's\n"
           "class name follows the class. An unreadable picture is reported on stderr and the others\n"
           "still classified (exit status 1 then).\n"
           "  --top K           the K most likely classes, best first (default 1)\n"
           "  --json            one JSON object per picture (JSON Lines): input, class, name,\n"
           "                    probability or score, top, scores, probabilities, preparation, warning\n"
           "  --out FILE.csv    also write a CSV (input, class, name, confidence, one column per class,\n"
           "                    warning); an existing file is kept unless --force\n"
           "  --prepare MODE    mnist | fashion-mnist | whole (default: by the model's dataset)\n"
           "  --invert MODE     auto | yes | no (default auto)\n"
           "  --scores          the former format: FILE: CLASS SCORE0 ... SCORE9 (raw scores, logits)\n"
           "  --max-memory SIZE refuse a model whose network needs more (default 2G; e.g. 512M, 8G)\n"
           "  --kernels PATH    auto | portable | avx2 | avx512 (default auto, or $MLP_KERNELS)\n");
}

/* An input picture by its name's ending (for folders; files named on the command line are read whatever
 * their name). */
static int is_picture_name(const char *name) {
    static const char *const ext[] = {".png", ".jpg", ".jpeg", ".pgm"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        size_t e = strlen(ext[i]);
        if (n > e && !strcasecmp(name + n - e, ext[i])) return 1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct inputs {
    char **path;
    int n, cap;
} inputs;

static void inputs_add(inputs *in, const char *path) {
    if (in->n == in->cap) {
        in->cap = in->cap ? 2 * in->cap : 16;
        in->path = realloc(in->path, sizeof(char *) * (size_t)in->cap);
        if (!in->path) die("out of memory");
    }
    if (!(in->path[in->n++] = strdup(path))) die("out of memory");
}

/* A folder's pictures, in name order. An unreadable folder is a runtime error. */
static void inputs_add_folder(inputs *in, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) die("%s: cannot open the folder: %s", dir, strerror(errno));
    const int first = in->n;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && is_picture_name(e->d_name)) {
            char p[4200];
            snprintf(p, sizeof p, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", e->d_name);
            struct stat sb;
            if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode)) inputs_add(in, p);
        }
    closedir(d);
    if (in->n == first) fprintf(stderr, "%s: warning: %s: no pictures (*.png, *.jpg, *.jpeg, *.pgm) in this folder\n", prog, dir);
    qsort(in->path + first, (size_t)(in->n - first), sizeof(char *), cmp_str);
}

/* A CSV field (RFC 4180: quoted when it holds a comma, quote or line break). */
static void csv_field(sbuf *b, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        sbuf_puts(b, s);
        return;
    }
    sbuf_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"') sbuf_putc(b, '"');
        sbuf_putc(b, *s);
    }
    sbuf_putc(b, '"');
}

/* What predict prints for one input x (a prepared picture, or a table's row): a line, a JSON object or a CSV row. */
typedef struct predict_out {
    mlp_net *net;
    const mlp_model_meta *meta;
    int K, top, probs, raw, json, out_csv;
    const char *kind;
    mlp_prepare prepare;
    double *p;
    int *order;
    sbuf *csv, *line;
} predict_out;

static void emit_prediction(const predict_out *po, const char *file, const float *x, const mlp_prepare_info *pinfo,
                            const char *warning) {
    mlp_net *net_ = po->net;
    const int K = po->K, top = po->top, probs = po->probs, raw = po->raw, json = po->json;
    const char *kind = po->kind;
    double *p = po->p;
    int *order = po->order;
    sbuf *line_ = po->line, *csv_ = po->csv;
    const float *z = mlp_net_forward(net_, x, 1);
    /* scores -> probabilities (softmax, max subtracted) or the scores as they are */
    double zmax = z[0], sum = 0;
    for (int k = 1; k < K; k++) zmax = z[k] > zmax ? z[k] : zmax;
    for (int k = 0; k < K; k++) sum += (p[k] = probs ? exp(z[k] - zmax) : z[k]);
    if (probs)
        for (int k = 0; k < K; k++) p[k] /= sum;
    for (int k = 0; k < K; k++) order[k] = k;
    for (int i = 1; i < K; i++) /* insertion sort, best first, ties by class */
        for (int j = i; j > 0 && z[order[j]] > z[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    const int best = order[0];
    const char *name = class_name(po->meta, best);
    sbuf_clear(line_);
    if (raw) {
        sbuf_printf(line_, "%s: %d", file, best);
        for (int k = 0; k < K; k++) sbuf_printf(line_, " %.6g", (double)z[k]);
        if (name) sbuf_printf(line_, " (%s)", name);
    } else if (json) {
        sbuf_puts(line_, "{\"input\":");
        json_sbuf_string(line_, file);
        sbuf_printf(line_, ",\"class\":%d,\"name\":", best);
        if (name) json_sbuf_string(line_, name);
        else sbuf_puts(line_, "null");
        sbuf_printf(line_, ",\"%s\":", kind);
        json_sbuf_double(line_, p[best]);
        sbuf_puts(line_, ",\"top\":[");
        for (int t = 0; t < top; t++) {
            sbuf_printf(line_, "%s{\"class\":%d,\"%s\":", t ? "," : "", order[t], kind);
            json_sbuf_double(line_, p[order[t]]);
            sbuf_putc(line_, '}');
        }
        sbuf_puts(line_, "],\"scores\":[");
        for (int k = 0; k < K; k++) {
            if (k) sbuf_putc(line_, ',');
            json_sbuf_float(line_, z[k]);
        }
        sbuf_puts(line_, "]");
        if (probs) {
            sbuf_puts(line_, ",\"probabilities\":[");
            for (int k = 0; k < K; k++) {
                if (k) sbuf_putc(line_, ',');
                json_sbuf_double(line_, p[k]);
            }
            sbuf_puts(line_, "]");
        }
        sbuf_printf(line_, ",\"loss\":\"%s\"", mlp_loss_name(po->meta->loss.kind));
        if (pinfo) {
            sbuf_printf(line_, ",\"preparation\":{\"mode\":\"%s\",\"inverted\":%s,\"transparent\":%s,"
                               "\"box\":[%d,%d,%d,%d],\"contrast\":",
                        mlp_prepare_name(po->prepare), pinfo->inverted ? "true" : "false",
                        pinfo->transparent ? "true" : "false", pinfo->box_x, pinfo->box_y, pinfo->box_w, pinfo->box_h);
            json_sbuf_double(line_, pinfo->contrast);
            sbuf_putc(line_, '}');
        }
        sbuf_puts(line_, ",\"warning\":");
        if (warning[0]) json_sbuf_string(line_, warning);
        else sbuf_puts(line_, "null");
        sbuf_putc(line_, '}');
    } else {
        sbuf_printf(line_, "%s:", file);
        for (int t = 0; t < top; t++) {
            const char *nm = class_name(po->meta, order[t]);
            sbuf_printf(line_, probs ? "%s %d%s%s (p %.4f)" : "%s %d%s%s (score %.4g)", t ? "," : "", order[t],
                        nm ? " " : "", nm ? nm : "", p[order[t]]);
        }
    }
    sbuf_putc(line_, '\n');
    fputs(sbuf_str(line_), stdout);
    if (po->out_csv) {
        csv_field(csv_, file);
        sbuf_printf(csv_, ",%d,", best);
        if (name) csv_field(csv_, name);
        sbuf_printf(csv_, ",%.9g", p[best]);
        for (int k = 0; k < K; k++) sbuf_printf(csv_, ",%.9g", p[k]);
        sbuf_putc(csv_, ',');
        csv_field(csv_, warning);
        sbuf_putc(csv_, '\n');
    }
}

int cmd_predict(int argc, char **argv) {
    const char *model = NULL, *out_csv = NULL;
    const char **args = calloc((size_t)argc, sizeof *args);
    int n_args = 0, top = 1, json = 0, raw = 0, force = 0, have_prepare = 0;
    mlp_kernels kernels = kernels_from_env();
    mlp_invert invert = MLP_INVERT_AUTO;
    mlp_prepare prepare = MLP_PREPARE_MNIST;
    size_t max_memory = MLP_MEMORY_LIMIT_DEFAULT;
    if (!args) die("out of memory");
    opts o = {argc - 1, 0, argv + 1, NULL, {0}, NULL, 0};
    while (opts_next(&o)) {
        if (is(&o, "--help") || is(&o, "-h")) {
            predict_usage();
            free(args);
            return 0;
        } else if (is(&o, "--kernels")) kernels = parse_kernels(o.name, opts_value(&o));
        else if (is(&o, "--invert")) {
            const char *v = opts_value(&o);
            if (mlp_invert_parse(v, &invert) != 0)
                die_usage("--invert: unknown value '%s' (choose one of: auto, yes, no)", v);
        } else if (is(&o, "--prepare")) {
            const char *v = opts_value(&o);
            if (mlp_prepare_parse(v, &prepare) != 0)
                die_usage("--prepare: unknown value '%s' (choose one of: mnist, fashion-mnist, whole)", v);
            have_prepare = 1;
        } else if (is(&o, "--top")) top = (int)parse_long(o.name, opts_value(&o), 1, 1000000);
        else if (is(&o, "--json")) json = 1;
        else if (is(&o, "--scores")) raw = 1;
        else if (is(&o, "--out")) out_csv = opts_value(&o);
        else if (is(&o, "--force")) force = 1;
        else if (is(&o, "--max-memory")) max_memory = parse_size(o.name, opts_value(&o));
        else if (is_option(&o)) die_usage("predict: unknown option '%s'", o.name);
        else if (!model) model = o.name;
        else args[n_args++] = o.name;
    }
    if (!model || n_args == 0)
        die_usage("predict: usage: mlp predict MODEL INPUT... (PNG, JPEG or PGM pictures, or folders of them)");
    if (raw && json) die_usage("predict: --scores and --json do not go together (--json has the scores)");
    if (out_csv && !force && access(out_csv, F_OK) == 0)
        die_usage("predict: %s exists; choose another --out or add --force to replace it", out_csv);
    mlp_net net;
    mlp_model_meta meta;
    mlp_error err;
    load_model_or_die(model, &net, &meta, 1, 1, kernels, max_memory);
    const int dim = net.arch.width[0], K = net.arch.width[net.arch.n_layers];
    /* tables (CSV, NPY, NPZ: one prediction per row) or pictures, not both */
    int tables = 0;
    for (int i = 0; i < n_args; i++) tables += is_data_file(args[i]);
    if (tables && tables != n_args) die_usage("predict: give pictures or data files (.csv, .npy, .npz), not both");
    int side = (int)lround(sqrt((double)dim));
    if (!tables && side * side != dim) die("%s: the model takes %d inputs, not a square picture", model, dim);
    if (!have_prepare && !strcmp(meta.dataset, "fashion-mnist")) prepare = MLP_PREPARE_FASHION;
    if (top > K) top = K;
    /* what the scores are */
    const int probs = meta.loss.kind == MLP_LOSS_CE || meta.loss.kind == MLP_LOSS_FOCAL;
    const char *kind = probs ? "probability" : "score";
    if (!probs && !json && !raw)
        fprintf(stderr, "%s: note: %s was trained with the %s loss: the numbers are scores, not probabilities (%s)\n",
                prog, model, mlp_loss_name(meta.loss.kind),
                meta.loss.kind == MLP_LOSS_HINGE ? "the true class is trained to beat the others by the margin"
                                                 : "regressions of the one-hot target: about 1 for the class");
    inputs in = {0};
    for (int i = 0; i < n_args; i++) {
        struct stat sb;
        if (stat(args[i], &sb) == 0 && S_ISDIR(sb.st_mode)) inputs_add_folder(&in, args[i]);
        else inputs_add(&in, args[i]);
    }
    float *x = malloc(sizeof(float) * (size_t)dim);
    double *p = malloc(sizeof(double) * (size_t)K);
    int *order = malloc(sizeof(int) * (size_t)K);
    if (!x || !p || !order) die("out of memory");
    sbuf csv, line;
    sbuf_init(&csv);
    sbuf_init(&line);
    sbuf_puts(&csv, "input,class,name,");
    sbuf_puts(&csv, probs ? "probability" : "score");
    for (int k = 0; k < K; k++) sbuf_printf(&csv, ",%s%d", probs ? "p" : "score", k);
    sbuf_puts(&csv, ",warning\n");
    int failed = 0;
    const predict_out po = {&net, &meta, K, top, probs, raw, json, out_csv != NULL, kind, prepare, p, order, &csv, &line};
    for (int f = 0; tables && f < n_args; f++) {
        /* a table's rows: its features, without the label column when it has one (the model's inputs + 1 columns) */
        mlp_dataset tab;
        load_for_model(&tab, args[f], NULL, 1, model, &net, &meta);
        for (int r = 0; r < tab.n; r++) {
            char name[4200];
            snprintf(name, sizeof name, "%s:%d", args[f], r + 1); /* FILE:ROW, rows counted from 1 */
            emit_prediction(&po, name, tab.x + (size_t)r * (size_t)dim, NULL, "");
        }
        mlp_dataset_free(&tab);
    }
    for (int f = 0; !tables && f < in.n; f++) {
        const char *file = in.path[f];
        mlp_image img;
        mlp_prepare_info info;
        if (mlp_image_load(file, &img, &err) ||
            mlp_image_prepare(&img, side, side, prepare, invert, meta.scaling, x, &info, &err)) {
            fprintf(stderr, "%s: error: %s\n", prog, err.msg);
            if (json) {
                sbuf_clear(&line);
                sbuf_puts(&line, "{\"input\":");
                json_sbuf_string(&line, file);
                sbuf_puts(&line, ",\"error\":");
                json_sbuf_string(&line, err.msg);
                sbuf_puts(&line, "}\n");
                fputs(sbuf_str(&line), stdout);
            }
            mlp_image_free(&img);
            failed = 1;
            continue;
        }
        mlp_image_free(&img);
        mlp_model_scale_inputs(&meta, x, 1); /* a model trained with another --scale than the reference */
        char warning[200] = "";
        if (info.blank)
            snprintf(warning, sizeof warning, "blank or nearly blank picture (contrast %.0f%%, %.0f pixels of ink): its class means little",
                     100 * info.contrast, info.ink);
        if (warning[0]) fprintf(stderr, "%s: warning: %s: %s\n", prog, file, warning);
        emit_prediction(&po, file, x, &info, warning);
    }
    fflush(stdout);
    if (out_csv) {
        if (csv.oom || line.oom) die("out of memory while writing %s", out_csv);
        if (mlp_write_file_atomic(out_csv, sbuf_str(&csv), csv.len, &err)) die_err(&err);
    }
    for (int f = 0; f < in.n; f++) free(in.path[f]);
    free(in.path);
    sbuf_free(&csv);
    sbuf_free(&line);
    free(x);
    free(p);
    free(order);
    free(args);
    mlp_net_free(&net);
    mlp_model_meta_free(&meta);
    return failed;
}

int cmd_info(int argc, char **argv) {
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: mlp info MODEL\nPrints the architecture and metadata of a model file.\n");
        return 0;
    }
    if (argc < 2) die_usage("info: which model? usage: mlp info MODEL");
    if (argc > 2) die_usage("info: one MODEL only");
    mlp_net net;
    mlp_model_meta meta;
    load_model_or_die(argv[1], &net, &meta, 1, 1, MLP_KERNELS_AUTO, MLP_MEMORY_LIMIT_DEFAULT);
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
        printf(" (gamma %g, alpha %g...)", (double)meta.loss.focal_gamma, (double)mlp_loss_focal_alpha(&meta.loss, 0));
    printf("\ninput scaling x = (p - %g) * %.9g\n", (double)meta.scaling.offset, (double)meta.scaling.scale);
    if (meta.feature_offset) printf("features      %s scaling per feature, stored in the model\n", mlp_scale_name(meta.scale));
    if (meta.class_names) {
        printf("classes      ");
        for (int k = 0; k < net.arch.width[net.arch.n_layers]; k++) printf("%s %d %s", k ? "," : "", k, meta.class_names[k]);
        printf("\n");
    }
    if (meta.label[0]) printf("label column  %s\n", meta.label);
    printf("dataset       %s\n", meta.dataset[0] ? meta.dataset : "(not recorded)");
    printf("written by    mlp %s\n", meta.version[0] ? meta.version : "(unknown)");
    mlp_net_free(&net);
    mlp_model_meta_free(&meta);
    return 0;
}
