/* fuzz_png.c - the PNG decoder on arbitrary bytes (composited, and with its alpha plane apart), and on
 * success the image preparations of `mlp predict` (MNIST-style and whole-picture: polarity, transparency,
 * levels, bounding box, resampling to 28x28, scaling). */
#include "fuzz_common.h"
#include "image_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *gray = NULL, *alpha = NULL;
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
    gray = NULL;
    mlp_status st2 = mlp_png_parse_alpha(data, size, "fuzz.png", &gray, &alpha, &w, &h, &err);
    FUZZ_ASSERT(st2 == st); /* the same decoder: the same verdict */
    if (st2 == MLP_OK) {
        mlp_image img = {w, h, gray, alpha};
        for (int mode = 0; mode < MLP_PREPARE_COUNT; mode++) {
            float x[28 * 28];
            mlp_prepare_info info;
            st = mlp_image_prepare(&img, 28, 28, (mlp_prepare)mode, MLP_INVERT_AUTO, mlp_scaling_default(), x, &info,
                                   &err);
            fuzz_check_error(st, &err);
            if (st == MLP_OK) {
                FUZZ_ASSERT(info.box_x >= 0 && info.box_x + info.box_w <= w && info.box_y >= 0 &&
                            info.box_y + info.box_h <= h);
                for (int i = 0; i < 28 * 28; i++) FUZZ_ASSERT(x[i] >= -0.51f && x[i] <= 0.51f);
            }
        }
    }
    free(gray);
    free(alpha);
    return 0;
}
