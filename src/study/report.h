/*
 * report.h - run folders, SVG charts and the study report: the study module (build/libmlpstudy.a), outside
 * libmlp, linked by the tool and the tests (not installed). runs.c reads and validates run folders (used by
 * `mlp report`, `mlp plot` and `mlp sweep`), svg.c draws line charts as plain SVG 1.1, report.c turns a set of
 * runs into REPORT.md + figures, published.c reads the reference's published results (published.csv).
 * Like the library, nothing here prints or exits: errors come back as mlp_status + mlp_error.
 */
#ifndef MLP_REPORT_H
#define MLP_REPORT_H

#include "json.h"

#include <stdint.h>

/* ------------------------------------------------------------------ the published results (published.c)
 *
 * The reference report's numbers, kept as data in src/study/published.csv (its header says where they come from
 * and what each column holds) and compiled into the study library. */
#define MLP_PUBLISHED_MAX 64

typedef struct mlp_published {
    char act[16], loss[16];
    int layers;                    /* hidden layers: 1 = 784-128-10, 2 = 784-128-32-10 */
    double train_loss, test_loss, train_acc, test_acc, time; /* NAN: not published */
    char acc_op;                   /* 0, or '<' (below) / '~' (about) for a qualitative test accuracy acc_val */
    double acc_val;
    char acc_note[24], time_note[24]; /* what the report prints instead of a number ("< 0.50", "610-659"), or "" */
} mlp_published;

/* The compiled-in table into rows[0..*n). MLP_ERR_FORMAT names the line and field of a defect. */
mlp_status mlp_published_table(mlp_published *rows, int max, int *n, mlp_error *err);
/* The same from any text in the table's format (the tests). */
mlp_status mlp_published_parse(const char *text, mlp_published *rows, int max, int *n, mlp_error *err);

/* ------------------------------------------------------------------ run folders (runs.c)
 *
 * A run folder, as `mlp train` writes it:
 *   config.json        the run's settings (written first, before any epoch)
 *   metrics.csv        header epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds; one line per epoch,
 *                      rewritten atomically after every epoch (columns are found by name; extra columns
 *                      are ignored, so later versions may add some)
 *   model.safetensors  written once, after the last epoch
 * A run is FINISHED when config.json is valid, metrics.csv holds exactly config's `epochs` lines numbered
 * 1..epochs, and model.safetensors exists.
 */

#define MLP_RUN_PATH_MAX 1024

/* Settings that change a run's result, other than dataset, architecture, activation, loss and seed.
 * Runs that agree on all of them (and on those five, bar the seed) are repeats of one configuration. */
enum {
    MLP_SET_REDUCTION, /* grad_reduction */
    MLP_SET_LR,
    MLP_SET_WD,
    MLP_SET_MOMENTUM,
    MLP_SET_BATCH,
    MLP_SET_EPOCHS,
    MLP_SET_INIT_STD,
    MLP_SET_HINGE_MARGIN,
    MLP_SET_FOCAL_GAMMA,
    MLP_SET_FOCAL_ALPHA,
    MLP_SET_SHUFFLE,
    MLP_SET_INIT_MODEL,
    /* the training options of issue 12 (absent from older run folders: their defaults) */
    MLP_SET_OPTIMIZER,
    MLP_SET_NESTEROV,
    MLP_SET_BETA1,
    MLP_SET_BETA2,
    MLP_SET_EPS,
    MLP_SET_SCHEDULE,
    MLP_SET_WARMUP_EPOCHS,
    MLP_SET_STEP_EPOCHS,
    MLP_SET_STEP_GAMMA,
    MLP_SET_MIN_LR,
    MLP_SET_DROPOUT,
    MLP_SET_EARLY_STOP,
    MLP_SET_MONITOR,
    MLP_SET_COUNT
};
/* The config.json key of setting i ("lr", ...). */
const char *mlp_run_setting_key(int i);

typedef struct mlp_run {
    char dir[MLP_RUN_PATH_MAX]; /* the folder as given */
    char name[256];             /* its last path component */

    /* config.json */
    char version[32], dataset[32], arch[128], act[32], loss[32], kernels[32];
    char data[MLP_RUN_PATH_MAX]; /* the data folder the run used ("" if not recorded) */
    int n_hidden;                /* hidden layers (length of "hidden") */
    int epochs;                  /* epochs asked for */
    uint64_t seed;
    int threads;                     /* 0 if not recorded */
    char setting[MLP_SET_COUNT][96]; /* canonical text of each setting ("1e-05", "sum", "true", ...); "" if absent */
    char **command;                  /* the train command line (argv after "mlp"), n_command strings */
    int n_command;

    /* metrics.csv */
    int n;                /* epochs recorded (0 if metrics.csv is absent) */
    mlp_epoch_metrics *m; /* m[0..n), m[e].epoch == e + 1 */
    double total_seconds; /* sum of the seconds column */

    int has_model; /* model.safetensors exists */
    int finished;  /* has_model && n == epochs */
} mlp_run;

typedef enum mlp_run_state {
    MLP_RUN_ABSENT,     /* no such path */
    MLP_RUN_EMPTY,      /* an empty folder */
    MLP_RUN_FOREIGN,    /* not a folder, or a non-empty folder without config.json: not a run */
    MLP_RUN_BROKEN,     /* has config.json, but it or metrics.csv is malformed */
    MLP_RUN_UNFINISHED, /* valid so far, fewer epochs than asked for, or no model file yet */
    MLP_RUN_FINISHED
} mlp_run_state;

const char *mlp_run_state_name(mlp_run_state s); /* "absent", "empty", ... */

/*
 * Look at a folder and load what it holds. Always fills *run as far as it could read it (free it with
 * mlp_run_free whatever the state), and `why` (if not NULL) with one line for every state other than
 * FINISHED: "empty folder", "config.json: JSON: expected ',' ... (line 3, column 9)",
 * "unfinished: 3 of 200 epochs, no model.safetensors", ...
 * Returns the state; the run's fields are meaningful for UNFINISHED and FINISHED.
 */
mlp_run_state mlp_run_probe(const char *dir, mlp_run *run, mlp_error *why);
void mlp_run_free(mlp_run *run);

/* Parse a metrics.csv held in memory (exposed for tests). On success *m is malloc'ed with *n rows. */
mlp_status mlp_metrics_parse(const char *text, size_t len, mlp_epoch_metrics **m, int *n, mlp_error *err);

/* The runs found under some paths, and the folders that were skipped. */
typedef struct mlp_skipped_run {
    char dir[MLP_RUN_PATH_MAX];
    char why[512];
} mlp_skipped_run;

typedef struct mlp_run_set {
    mlp_run *runs;
    int n;
    mlp_skipped_run *skipped;
    int n_skipped;
} mlp_run_set;

/*
 * Each path is either a run folder (it holds config.json) or a folder of run folders (a study: every
 * sub-folder not starting with '.' is examined, in name order; files are ignored, and so is a sub-folder
 * named "logs" that holds no config.json, where `mlp sweep` keeps the training logs).
 * Runs in the given state are kept: with finished_only only FINISHED runs, else also UNFINISHED ones that
 * have at least one epoch. Everything else goes to set->skipped with the reason. Errors (MLP_ERR_IO) only
 * when a path itself cannot be read; MLP_ERR_NOMEM on allocation failure.
 */
mlp_status mlp_runs_scan(mlp_run_set *set, const char *const *paths, int n_paths, int finished_only, mlp_error *err);
void mlp_run_set_free(mlp_run_set *set);

/* ------------------------------------------------------------------ SVG charts (svg.c)
 *
 * Line charts as hand-written SVG 1.1: a white background (readable in dark-mode viewers), a title,
 * one or more panels, each with a framed plot area, grid lines, ticks at 1-2-5 steps with labels, axis
 * labels, and a legend outside the plot area. Every series is exactly one <polyline> with one point per
 * value, all coordinates absolute (no transforms), so a test can check every point lies in the plot area
 * (the <rect class="plot-area">). An optional band (e.g. mean +- standard deviation) is a <polygon>.
 * Colors: the Okabe-Ito palette (colorblind-safe), in an order that keeps yellow last.
 */

#define MLP_SVG_PALETTE 8
const char *mlp_svg_color(int i); /* "#0072B2", ...; i taken modulo MLP_SVG_PALETTE */

typedef struct mlp_svg_series {
    const char *label;
    const double *y; /* n values */
    const double *x; /* n values, or NULL for 1, 2, ..., n (epochs) */
    int n;
    const double *band_lo, *band_hi; /* optional, n values each: a shaded band behind the line */
    int color;                       /* palette index */
    int dash;                        /* 0 solid, 1 dashed, 2 dotted, 3 dash-dot */
} mlp_svg_series;

typedef struct mlp_svg_panel {
    const char *title, *xlabel, *ylabel;
    const mlp_svg_series *series;
    int n_series;
    int log_y;     /* 0 linear, 1 log10, -1 log10 when all values are > 0 and span more than 20x */
    int integer_x; /* ticks on whole numbers only (epochs) */
} mlp_svg_panel;

typedef struct mlp_svg_figure {
    const char *title;
    const mlp_svg_panel *panels;
    int n_panels;
    int cols; /* panels per row (>= 1) */
} mlp_svg_figure;

/* An axis: the range [lo, hi] and ticks lo, lo + step, ..., hi (linear), or for a log axis the tick values
 * in ticks[] (lo and hi are then the range in data units, both > 0). */
#define MLP_AXIS_MAX_TICKS 32
typedef struct mlp_axis {
    double lo, hi, step;
    int log;
    int n_ticks;
    double ticks[MLP_AXIS_MAX_TICKS];
} mlp_axis;

/*
 * A "nice" axis covering [dmin, dmax]: linear, step = 1, 2 or 5 times a power of ten chosen so that there
 * are at most max_ticks ticks (>= 2), lo = floor(dmin/step)*step <= dmin, hi = ceil(dmax/step)*step >= dmax;
 * with integer_step the step is at least 1. A zero-width range is widened first. Log: lo and hi are the
 * nearest 1-2-5 values outside the data, ticks at 1, 2, 5 x 10^k (or powers of ten only on wide ranges).
 */
void mlp_axis_nice(mlp_axis *a, double dmin, double dmax, int max_ticks, int integer_step, int log);

/* Append the figure's SVG document to out. MLP_ERR_ARG for an empty figure or a series without points;
 * non-finite values are an error too (MLP_ERR_ARG naming the series). */
mlp_status mlp_svg_render(sbuf *out, const mlp_svg_figure *fig, mlp_error *err);

/* Append s with XML's five special characters escaped. */
void mlp_xml_escape(sbuf *out, const char *s);
/* The SVG document's start (XML declaration, <svg> with the xlink namespace, <title>, white background) for
 * a W x H figure; the caller ends it with "</svg>\n". */
void mlp_svg_begin(sbuf *out, double W, double H, const char *title);
/* A <text> element at (x, y), anchor "start" / "middle" / "end", extra attributes (or NULL), s escaped. */
void mlp_svg_text(sbuf *out, double x, double y, const char *anchor, const char *extra, const char *s);

/* ------------------------------------------------------------------ figures made of pictures (picture.c)
 *
 * Pictures are PNG files embedded as base64 data URIs in SVG 1.1 <image> elements (rendered by browsers, GitHub
 * and rsvg-convert alike), their pixels repeated 2-3 times so that smoothing viewers still show crisp pixels. */

/* Encode pix [h x w] (8-bit gray, or indices into palette: n_pal RGB triples) as a PNG file appended to out. */
mlp_status mlp_png_encode(sbuf *out, const uint8_t *pix, int w, int h, const uint8_t *palette, int n_pal,
                          mlp_error *err);
/* A diverging colour map (ColorBrewer RdBu, reversed): t = -1 blue, 0 white, +1 red; t clamped to [-1, 1]. */
void mlp_diverging_rgb(double t, uint8_t rgb[3]);

/* The first layer's weights w [units x inputs] (row-major, as in mlp_net) as one square tile per unit
 * (<g class="tile">), inputs = side^2 pixels in row-major order, each tile on its own symmetric colour scale
 * (+-max|w| of the unit), in a grid with a colour bar and a caption saying so. unit_word names a tile in the
 * captions ("hidden unit", "class"). MLP_ERR_ARG when inputs is not a square or a weight is not finite. */
mlp_status mlp_weights_svg(sbuf *out, const float *w, int units, int inputs, const char *title, const char *unit_word,
                           mlp_error *err);

/* A K x K confusion matrix (conf[true * K + predicted]) as cells <rect class="cell" data-true data-pred
 * data-count> with the count written in each non-zero cell, class names on both axes and each class's
 * accuracy at the right. */
mlp_status mlp_confusion_svg(sbuf *out, const int *conf, int K, const char *const *names, const char *title,
                             mlp_error *err);

/* One misclassified test picture: pixels [side x side] (0 background .. 255 ink), its true and predicted
 * class, the model's confidence in its prediction, its index in the test set. */
typedef struct mlp_mistake {
    const uint8_t *pixels;
    int truth, pred, index;
    double confidence;
} mlp_mistake;

/* A grid of mistakes (<g class="mistake">), each picture drawn dark on white with "true T, said P" and
 * "<conf_word> <confidence> (#index)" under it, then the caption (may be NULL). */
mlp_status mlp_mistakes_svg(sbuf *out, const mlp_mistake *m, int n, int side, const char *const *names,
                            const char *conf_word, const char *caption, const char *title, mlp_error *err);

/* ------------------------------------------------------------------ report and plot (report.c) */

typedef struct mlp_report_opts {
    const char *out_dir; /* created if needed; REPORT.md and figures/ go there */
    const char *source;  /* how the runs were given, for the report's header (e.g. "runs/study") */
    int eval_models;     /* 1: per-class test accuracy of the best run, from its model and test set */
} mlp_report_opts;

typedef struct mlp_report_result {
    int n_runs, n_groups, n_figures, n_skipped;
    char report_path[MLP_RUN_PATH_MAX + 16];
    char note[512]; /* e.g. why the per-class table is missing; "" if nothing to say */
} mlp_report_result;

/* Write out_dir/REPORT.md and out_dir/figures/ *.svg from the runs (finished runs only) of set; the set's
 * skipped folders are listed in a "Skipped runs" section. Every file is written atomically. SVG files in
 * out_dir/figures/ that this report does not use are removed. MLP_ERR_ARG when set holds no runs. */
mlp_status mlp_report_write(const mlp_run_set *set, const mlp_report_opts *opts, mlp_report_result *res,
                            mlp_error *err);

/* The metrics mlp_plot_write can draw. */
typedef enum mlp_metric {
    MLP_METRIC_TEST_ACC,
    MLP_METRIC_TEST_LOSS,
    MLP_METRIC_TRAIN_ACC,
    MLP_METRIC_TRAIN_LOSS,
    MLP_METRIC_COUNT
} mlp_metric;
const char *mlp_metric_name(mlp_metric m); /* "test_acc", ... */
int mlp_metric_parse(const char *s, mlp_metric *out);

/* One chart of a metric over epochs, one line per run (n >= 1 epochs each), written atomically to path.
 * Lines are labelled by what differs between the runs (e.g. "gelu hinge"), else by folder name. title may
 * be NULL (then "<metric> (<dataset>)"). */
mlp_status mlp_plot_write(const mlp_run *runs, int n_runs, mlp_metric metric, const char *title, const char *path,
                          mlp_error *err);

/* Class names of a dataset for tables ("T-shirt/top", ... for fashion-mnist; "0".."9" otherwise). */
const char *mlp_class_name(const char *dataset, int k);
/* "MNIST", "Fashion-MNIST", or the name itself. */
const char *mlp_dataset_title(const char *dataset);

#endif
