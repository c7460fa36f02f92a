/* fuzz_pgm.c - the PGM reader (P2 and P5) on arbitrary file contents. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write_temp(data, size);
    uint8_t *px = NULL;
    int w = -1, h = -1;
    mlp_error err;
    mlp_status st = mlp_pgm_read(path, &px, &w, &h, &err);
    fuzz_check_error(st, &err);
    if (st == MLP_OK) {
        FUZZ_ASSERT(px != NULL && w > 0 && h > 0);
        volatile unsigned sum = 0; /* touch every pixel: the buffer must hold w*h bytes */
        for (size_t i = 0; i < (size_t)w * (size_t)h; i++) sum += px[i];
        (void)sum;
    }
    free(px);
    return 0;
}
