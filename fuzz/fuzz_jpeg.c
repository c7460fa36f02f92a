/* fuzz_jpeg.c - the JPEG reader (libjpeg-turbo behind our error, warning, size and scan limits) on
 * arbitrary bytes, and on success the MNIST preparation of `mlp predict`. The pixel limit is lowered to
 * 4 Mi so that libjpeg's own buffers stay under the fuzzer's 64 MB allocation limit. */
#include "fuzz_common.h"
#include "image_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *gray = NULL;
    int w = -1, h = -1;
    mlp_error err;
    mlp_status st = mlp_jpeg_parse_limited(data, size, "fuzz.jpg", (uint64_t)1 << 22, &gray, &w, &h, &err);
    fuzz_check_error(st, &err);
    FUZZ_ASSERT((st == MLP_OK) == (gray != NULL));
    if (st == MLP_OK) {
        FUZZ_ASSERT(w > 0 && h > 0 && (uint64_t)w * (uint64_t)h <= (uint64_t)1 << 22);
        mlp_image img = {w, h, gray, NULL};
        float x[28 * 28];
        mlp_prepare_info info;
        st = mlp_image_prepare(&img, 28, 28, MLP_PREPARE_MNIST, MLP_INVERT_AUTO, mlp_scaling_default(), x, &info, &err);
        fuzz_check_error(st, &err);
        if (st == MLP_OK) {
            FUZZ_ASSERT(info.inverted == 0 || info.inverted == 1);
            FUZZ_ASSERT(info.box_x >= 0 && info.box_x + info.box_w <= w && info.box_y >= 0 && info.box_y + info.box_h <= h);
            for (int i = 0; i < 28 * 28; i++) FUZZ_ASSERT(x[i] >= -0.51f && x[i] <= 0.51f);
        }
    }
    free(gray);
    return 0;
}
