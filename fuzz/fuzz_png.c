/* fuzz_png.c - the PNG decoder on arbitrary bytes, and on success the image preparation of `mlp predict`
 * (polarity, resampling to 28x28, scaling). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *gray = NULL;
    int w = -1, h = -1;
    mlp_error err;
    mlp_status st = mlp_png_parse(data, size, "fuzz.png", &gray, &w, &h, &err);
    fuzz_check_error(st, &err);
    if (st == MLP_OK) {
        FUZZ_ASSERT(gray != NULL && w > 0 && h > 0);
        float x[28 * 28];
        int inverted = -1;
        st = mlp_image_to_input(gray, w, h, 28, 28, MLP_INVERT_AUTO, mlp_scaling_default(), x, &inverted, &err);
        fuzz_check_error(st, &err);
        if (st == MLP_OK) {
            FUZZ_ASSERT(inverted == 0 || inverted == 1);
            /* every input lies in the scaled pixel range [-128/255, 127/255] */
            for (int i = 0; i < 28 * 28; i++) FUZZ_ASSERT(x[i] >= -0.51f && x[i] <= 0.51f);
        }
    }
    free(gray);
    return 0;
}
