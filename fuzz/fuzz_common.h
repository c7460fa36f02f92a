/* fuzz_common.h - helpers shared by the libFuzzer targets (fuzz/fuzz_*.c, built by mk/fuzz.mk).
 *
 * Each target defines LLVMFuzzerTestOneInput(data, size) and calls one parser of the library on the bytes.
 * A finding is anything AddressSanitizer or UndefinedBehaviorSanitizer reports, a crash, a leak, or a
 * broken contract checked here with FUZZ_ASSERT (an error without a message, success with bad outputs). */
#ifndef MLP_FUZZ_COMMON_H
#define MLP_FUZZ_COMMON_H

#include "mlp.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_ASSERT(cond)                                                                  \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: contract broken: %s\n", __FILE__, __LINE__, #cond);    \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

/* Every error must carry a one-line message. */
static inline void fuzz_check_error(mlp_status st, const mlp_error *err) {
    if (st == MLP_OK) return;
    FUZZ_ASSERT(err->code == st);
    FUZZ_ASSERT(err->msg[0] != '\0');
    FUZZ_ASSERT(strchr(err->msg, '\n') == NULL);
}

/* Targets whose parser reads a path (gzip transparency in mlp_read_file, the PGM reader) get the input
 * through one temporary file per process, rewritten for every input. */
static char fuzz_temp_path[64];
static void fuzz_remove_temp(void) { unlink(fuzz_temp_path); }

static inline const char *fuzz_write_temp(const uint8_t *data, size_t size) {
    static int fd = -1;
    const char *path = fuzz_temp_path;
    if (fd < 0) {
        snprintf(fuzz_temp_path, sizeof fuzz_temp_path, "/tmp/mlp-fuzz-XXXXXX");
        fd = mkstemp(fuzz_temp_path);
        FUZZ_ASSERT(fd >= 0);
        atexit(fuzz_remove_temp);
    }
    FUZZ_ASSERT(ftruncate(fd, 0) == 0);
    size_t done = 0;
    while (done < size) {
        ssize_t w = pwrite(fd, data + done, size - done, (off_t)done);
        FUZZ_ASSERT(w > 0);
        done += (size_t)w;
    }
    return path;
}

/* The run that fuzz_checkpoint.c loads checkpoints into (and make_seeds.c writes its seeds from): 30
 * images of 2x2 pixels, a 4-3-10 relu network, batch 8 (4 steps per epoch, the last one partial). */
typedef struct fuzz_run {
    mlp_dataset train;
    mlp_net net;
    mlp_trainer tr;
    float x[30 * 4];
    int32_t y[30];
} fuzz_run;

static inline void fuzz_run_init(fuzz_run *r) {
    mlp_error err;
    memset(r, 0, sizeof *r);
    for (int i = 0; i < 30; i++) {
        r->y[i] = i % 10;
        for (int j = 0; j < 4; j++) r->x[i * 4 + j] = (float)((i * 7 + j * 3) % 11) / 11.0f - 0.5f;
    }
    r->train.n = 30;
    r->train.rows = r->train.cols = 2;
    r->train.dim = 4;
    r->train.x = r->x;
    r->train.y = r->y;
    r->train.classes = 10;
    mlp_arch arch;
    FUZZ_ASSERT(mlp_arch_parse(&arch, "3", 4, 10, MLP_ACT_RELU, &err) == MLP_OK);
    FUZZ_ASSERT(mlp_net_create(&r->net, &arch, 8, &err) == MLP_OK);
    mlp_train_cfg cfg = mlp_train_cfg_default();
    cfg.batch = 8;
    cfg.epochs = 5;
    cfg.reduction = MLP_GRAD_MEAN;
    cfg.lr = 0.01f;
    cfg.init_std = 0.5f;
    mlp_rng rng;
    mlp_rng_seed(&rng, cfg.seed, 1);
    mlp_net_init(&r->net, cfg.init_std, &rng);
    FUZZ_ASSERT(mlp_trainer_init(&r->tr, &r->net, &cfg, &r->train, NULL, &err) == MLP_OK);
}

static inline void fuzz_run_free(fuzz_run *r) {
    mlp_trainer_free(&r->tr);
    mlp_net_free(&r->net);
}

#endif
