/* fuzz_checkpoint.c - the checkpoint reader: mlp_checkpoint_parse into a small fixed run (fuzz_common.h), that
 * is the one safetensors parser (src/io/safetensors.c, shared with models) and the run configuration's reader
 * (src/io/runcfg.c).
 * On success the state must be usable and stable: an epoch continues from it, and the state saved then
 * reads back. */
#include "fuzz_common.h"

static fuzz_run run;
static int ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!ready) {
        fuzz_run_init(&run);
        ready = 1;
    }
    mlp_epoch_metrics hist[5];
    int n = -1;
    mlp_error err;
    mlp_status st = mlp_checkpoint_parse(data, size, &run.tr, hist, 5, &n, &err);
    fuzz_check_error(st, &err);
    if (st != MLP_OK) return 0;
    FUZZ_ASSERT(n == run.tr.epochs_done && n >= 0 && n <= 5);
    FUZZ_ASSERT(run.tr.step_in_epoch >= 0 && run.tr.step_in_epoch < 4);
    mlp_epoch_metrics m;
    if (n < 5) {
        st = mlp_trainer_epoch(&run.tr, &m, &err);
        FUZZ_ASSERT(st == MLP_OK || st == MLP_ERR_DIVERGED);
        fuzz_check_error(st, &err);
        if (st == MLP_OK) {
            FUZZ_ASSERT(run.tr.epochs_done == n + 1 && run.tr.step_in_epoch == 0);
            hist[n++] = m;
        }
    }
    if (st == MLP_OK) {
        char path[64];
        snprintf(path, sizeof path, "/tmp/mlp-fuzz-checkpoint-%ld", (long)getpid());
        FUZZ_ASSERT(mlp_checkpoint_save(path, &run.tr, hist, n, &err) == MLP_OK);
        int n2 = -1;
        FUZZ_ASSERT(mlp_checkpoint_load(path, &run.tr, hist, 5, &n2, &err) == MLP_OK);
        FUZZ_ASSERT(n2 == n);
        unlink(path);
    }
    /* back to a clean state for the next input */
    run.tr.epochs_done = 0;
    run.tr.step_in_epoch = 0;
    return 0;
}
