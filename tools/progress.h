/* progress.h - what `mlp train` shows while it runs: a header, one table line per epoch, a summary.
 * Everything a training run prints goes through here, so output modes live in one place:
 *   - stdout is a terminal: the table, with a few colours (none when NO_COLOR is set or TERM=dumb);
 *   - stdout is a file or pipe: the same lines, plain (never an escape code);
 *   - --json: one JSON object per epoch on stdout, nothing else there (for scripts);
 *   - --quiet: only the summary;
 *   - stderr is a terminal (and not --quiet): a progress bar on stderr, redrawn in place with '\r' at
 *     most ten times a second: epoch k/N, the bar, steps done, running loss and accuracy, the last
 *     epoch's test accuracy and the whole run's ETA. It fits the terminal's width (TIOCGWINSZ, asked
 *     again after SIGWINCH; $COLUMNS or 80 when the width is unknown): the bar takes what the fields
 *     leave, and fields are dropped, least useful first, when even a short bar does not fit. It is
 *     erased before any line is printed, so stdout stays clean even when both share a terminal. */
#ifndef MLP_PROGRESS_H
#define MLP_PROGRESS_H

#include "mlp.h"

#include <stdio.h>

typedef struct progress {
    FILE *out;
    int quiet;  /* only the summary */
    int json;   /* one JSON object per epoch instead of the table */
    /* decided once at init */
    int color;      /* colours on out */
    int bar;        /* progress bar on stderr */
    int bar_color;  /* colours in the bar */
    /* bar state */
    int bar_len;        /* characters of the bar currently on screen (0: none) */
    int bar_epoch;      /* epoch the timing below belongs to */
    int bar_step0;      /* steps already done when that epoch's timing started */
    double t_mark;      /* when the current epoch started (end of the previous one) */
    double t_epoch0;
    double t_drawn;     /* last redraw */
    double best_acc;    /* best test accuracy so far, for highlighting */
    double last_test_acc; /* the last finished epoch's test accuracy (< 0: none yet) */
    int epochs;         /* the run's last epoch (N of "epoch k/N") */
    int first_epoch;    /* the first epoch this process trains */
    long long run_step0; /* steps of the run done when this process's timing started (-1: not yet) */
    double t_run0;      /* when this process's first step started */
    int width;          /* the terminal's columns */
    int val;            /* 1: the run has a validation set (val_loss, val_acc columns) */
} progress;

typedef struct progress_run {
    const char *dataset, *arch, *out_dir;
    const mlp_train_cfg *cfg;
    mlp_act act;
    mlp_kernels kernels;
    int threads;
    int first_epoch; /* 1, or the epoch a resumed run continues from */
    int val;         /* 1: a validation set is evaluated after every epoch */
} progress_run;

/* Decides the modes: colour when out is a terminal, NO_COLOR is unset or empty and TERM is not "dumb";
 * the bar when stderr is a terminal and not quiet. */
void progress_init(progress *p, FILE *out, int quiet, int json);
void progress_begin(progress *p, const progress_run *run);
/* Called from the trainer after each step (see mlp_trainer.on_step). */
void progress_step(void *p, int epoch, int step, int steps, double loss_sum, double acc_sum);
void progress_epoch(progress *p, const mlp_epoch_metrics *m);
void progress_end(progress *p, const progress_run *run, const mlp_epoch_metrics *last, double total_seconds);
/* Erase the progress bar, if one is shown: call before writing anything else to stderr (an error). */
void progress_clear(progress *p);

#endif
