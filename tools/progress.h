/* progress.h - what `mlp train` shows while it runs: a header, one table line per epoch, a summary.
 * Everything a training run prints goes through here, so output modes (quiet, JSON lines for scripts,
 * a progress bar on a terminal) live in one place. */
#ifndef MLP_PROGRESS_H
#define MLP_PROGRESS_H

#include "mlp.h"

#include <stdio.h>

typedef struct progress {
    FILE *out;
    int quiet;  /* only the summary */
    int json;   /* one JSON object per epoch instead of the table */
} progress;

typedef struct progress_run {
    const char *dataset, *arch, *out_dir;
    const mlp_train_cfg *cfg;
    mlp_act act;
    mlp_kernels kernels;
    int threads;
    int first_epoch; /* 1, or the epoch a resumed run continues from */
} progress_run;

void progress_init(progress *p, FILE *out, int quiet, int json);
void progress_begin(progress *p, const progress_run *run);
/* Called from the trainer after each step (see mlp_trainer.on_step). */
void progress_step(void *p, int epoch, int step, int steps, double loss_sum, double acc_sum);
void progress_epoch(progress *p, const mlp_epoch_metrics *m);
void progress_end(progress *p, const progress_run *run, const mlp_epoch_metrics *last, double total_seconds);

#endif
