/* cmd_report.c - `mlp report` (REPORT.md + SVG figures from run folders) and `mlp plot` (one chart). */
#include "cli.h"
#include "report.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void report_usage(FILE *f) {
    fprintf(f, "usage: mlp report DIR... [-o OUT] [--no-eval]\n"
               "Write OUT/REPORT.md and the SVG figures it embeds (OUT/figures/), built from run folders only.\n"
               "Each DIR is a study (a folder of run folders, as `mlp sweep` writes) or one run folder.\n"
               "Unfinished, empty or broken run folders are listed in a \"Skipped runs\" section.\n"
               "\n"
               "  -o, --out OUT   output folder (default report)\n"
               "  --no-eval       do not reload the best run's model (per-class test accuracy, confusion\n"
               "                  matrix, most confident mistakes, first-layer weights)\n"
               "  --quiet         print nothing but errors\n");
}

int cmd_report(int argc, char **argv) {
    const char *out = "report";
    int eval = 1, quiet = 0;
    const char **dirs = calloc((size_t)argc + 1, sizeof *dirs);
    int n_dirs = 0;
    if (!dirs) die("out of memory");
    opts o = {argc - 1, 0, argv + 1, NULL, {0}, NULL, 0};
    while (opts_next(&o)) {
        if (is(&o, "--help") || is(&o, "-h")) {
            report_usage(stdout);
            free(dirs);
            return 0;
        } else if (is(&o, "-o") || is(&o, "--out")) out = opts_value(&o);
        else if (is(&o, "--no-eval")) eval = 0;
        else if (is(&o, "--quiet")) quiet = 1;
        else if (is_option(&o)) die_usage("report: unknown option '%s'", o.name);
        else dirs[n_dirs++] = o.name;
    }
    if (n_dirs == 0) die_usage("report: which runs? usage: mlp report DIR... -o OUT");

    mlp_run_set set;
    mlp_error err;
    if (mlp_runs_scan(&set, dirs, n_dirs, 1, &err)) die_err(&err);
    for (int i = 0; i < set.n_skipped; i++)
        fprintf(stderr, "%s: skipped %s: %s\n", prog, set.skipped[i].dir, set.skipped[i].why);
    char source[2048] = "";
    for (int i = 0; i < n_dirs; i++)
        snprintf(source + strlen(source), sizeof source - strlen(source), "%s%s", i ? " " : "", dirs[i]);
    mlp_report_opts ro = {out, source, eval};
    mlp_report_result res;
    mlp_status st = mlp_report_write(&set, &ro, &res, &err);
    mlp_run_set_free(&set);
    free(dirs);
    if (st == MLP_ERR_ARG) die("%s in %s", err.msg, source);
    if (st) die_err(&err);
    if (res.note[0]) fprintf(stderr, "%s: note: %s\n", prog, res.note);
    if (!quiet)
        printf("wrote %s: %d run%s in %d configuration%s, %d figure%s%s\n", res.report_path, res.n_runs,
               res.n_runs == 1 ? "" : "s", res.n_groups, res.n_groups == 1 ? "" : "s", res.n_figures,
               res.n_figures == 1 ? "" : "s", res.n_skipped ? " (some folders skipped, see above)" : "");
    return 0;
}

/* ------------------------------------------------------------------ plot */

static void plot_usage(FILE *f) {
    fprintf(f, "usage: mlp plot RUN... -o FIG.svg [--metric M] [--title TEXT]\n"
               "       mlp plot --weights MODEL [-o FIG.svg] [--title TEXT]\n"
               "Draw one metric over epochs for any runs together, as an SVG line chart.\n"
               "Each RUN is a run folder (finished or not) or a study folder (all its runs).\n"
               "With --weights, draw what a model's first layer learned: one tile per hidden unit, its weights\n"
               "as a 28x28 picture (any square input), blue negative, white 0, red positive, each tile scaled\n"
               "to its own largest |weight|.\n"
               "\n"
               "  -o, --out FIG.svg   output file (required for runs; for --weights, default weights.svg\n"
               "                      beside the model)\n"
               "  --metric M          test_acc | test_loss | train_acc | train_loss (default test_acc)\n"
               "  --title TEXT        chart title (default: the metric and the dataset)\n"
               "  --weights MODEL     draw MODEL's (a model.safetensors) first-layer weights instead\n");
}

/* `mlp plot --weights MODEL`: the first layer's weights as picture tiles (picture.c). */
static int plot_weights(const char *model, const char *out, const char *title) {
    mlp_net net;
    mlp_model_meta meta;
    mlp_error err;
    if (mlp_model_load(model, &net, 1, &meta, &err)) die_err(&err);
    char def_out[4200], arch[128], def_title[4400];
    if (!out) {
        const char *slash = strrchr(model, '/');
        if (slash) snprintf(def_out, sizeof def_out, "%.*s/weights.svg", (int)(slash - model), model);
        else snprintf(def_out, sizeof def_out, "weights.svg");
        out = def_out;
    }
    mlp_arch_format(&net.arch, arch, sizeof arch);
    if (!title) {
        /* the run folder's name for a run's model.safetensors, else the file's name */
        const char *name = strrchr(model, '/') ? strrchr(model, '/') + 1 : model;
        int name_len = (int)strlen(name);
        if (!strcmp(name, "model.safetensors") && name > model + 1) {
            const char *end = name - 1, *start = end;
            while (start > model && start[-1] != '/') start--;
            name = start, name_len = (int)(end - start);
        }
        snprintf(def_title, sizeof def_title, "First-layer weights of %.*s (%s, %s, %s%s%s)", name_len, name, arch,
                 mlp_act_name(net.arch.act), mlp_loss_name(meta.loss.kind), meta.dataset[0] ? ", " : "",
                 meta.dataset[0] ? mlp_dataset_title(meta.dataset) : "");
        title = def_title;
    }
    mlp_model_meta_free(&meta);
    const int units = net.arch.width[1], inputs = net.arch.width[0];
    sbuf svg = SBUF_INIT;
    mlp_status st = mlp_weights_svg(&svg, net.params + net.w_off[0], units, inputs, title,
                                    net.arch.n_layers > 1 ? "hidden unit" : "class", &err);
    mlp_net_free(&net);
    if (st == MLP_ERR_ARG) die("plot --weights: %s: %s", model, err.msg);
    if (!st) st = mlp_write_file_atomic(out, sbuf_str(&svg), svg.len, &err);
    sbuf_free(&svg);
    if (st) die_err(&err);
    printf("wrote %s: %d tile%s of %d inputs\n", out, units, units == 1 ? "" : "s", inputs);
    return 0;
}

int cmd_plot(int argc, char **argv) {
    const char *out = NULL, *title = NULL, *weights = NULL;
    mlp_metric metric = MLP_METRIC_TEST_ACC;
    const char **paths = calloc((size_t)argc + 1, sizeof *paths);
    int n_paths = 0;
    if (!paths) die("out of memory");
    opts o = {argc - 1, 0, argv + 1, NULL, {0}, NULL, 0};
    while (opts_next(&o)) {
        if (is(&o, "--help") || is(&o, "-h")) {
            plot_usage(stdout);
            free(paths);
            return 0;
        } else if (is(&o, "-o") || is(&o, "--out")) out = opts_value(&o);
        else if (is(&o, "--title")) title = opts_value(&o);
        else if (is(&o, "--weights")) weights = opts_value(&o);
        else if (is(&o, "--metric")) {
            const char *v = opts_value(&o);
            if (mlp_metric_parse(v, &metric))
                die_usage("--metric: unknown metric '%s' (choose one of: test_acc, test_loss, train_acc, train_loss)",
                          v);
        } else if (is_option(&o)) die_usage("plot: unknown option '%s'", o.name);
        else paths[n_paths++] = o.name;
    }
    if (weights) {
        if (n_paths) die_usage("plot: --weights draws one model, not runs ('%s'): give either", paths[0]);
        free(paths);
        return plot_weights(weights, out, title);
    }
    if (n_paths == 0) die_usage("plot: which runs? usage: mlp plot RUN... -o FIG.svg");
    if (!out) die_usage("plot: where to? give -o FIG.svg");

    /* gather the runs: a run folder must be readable; a study contributes what it has */
    mlp_run *runs = NULL;
    int n = 0;
    mlp_error err;
    for (int p = 0; p < n_paths; p++) {
        mlp_run_set set;
        char cfg[4200];
        struct stat st;
        snprintf(cfg, sizeof cfg, "%s/config.json", paths[p]);
        int is_run = stat(cfg, &st) == 0;
        if (mlp_runs_scan(&set, &paths[p], 1, 0, &err)) die_err(&err);
        for (int i = 0; i < set.n_skipped; i++) {
            if (is_run) die("%s: %s", set.skipped[i].dir, set.skipped[i].why);
            fprintf(stderr, "%s: skipped %s: %s\n", prog, set.skipped[i].dir, set.skipped[i].why);
        }
        if (set.n == 0) die("%s: no runs with at least one epoch", paths[p]);
        mlp_run *r2 = realloc(runs, (size_t)(n + set.n) * sizeof *runs);
        if (!r2) die("out of memory");
        runs = r2;
        memcpy(runs + n, set.runs, (size_t)set.n * sizeof *runs);
        n += set.n;
        /* the runs now belong to `runs` */
        free(set.runs);
        free(set.skipped);
    }
    if (mlp_plot_write(runs, n, metric, title, out, &err)) die_err(&err);
    printf("wrote %s: %s of %d run%s\n", out, mlp_metric_name(metric), n, n == 1 ? "" : "s");
    for (int i = 0; i < n; i++) mlp_run_free(&runs[i]);
    free(runs);
    free(paths);
    return 0;
}
