/* image_internal.h - the picture decoders' entry points that image.c and the fuzz targets use beyond
 * mlp.h. Internal: not installed, not exported. */
#ifndef MLP_IMAGE_INTERNAL_H
#define MLP_IMAGE_INTERNAL_H

#include "mlp.h"

#include <stddef.h>
#include <stdint.h>

/* The PNG decoder with luma and alpha apart: *alpha (if alpha is not NULL) receives the alpha plane, or
 * NULL when the PNG has no transparency; with alpha == NULL it is mlp_png_parse (composited over white). */
mlp_status mlp_png_parse_alpha(const uint8_t *buf, size_t len, const char *name, uint8_t **gray, uint8_t **alpha,
                               int *w, int *h, mlp_error *err);
/* mlp_jpeg_parse with a lower pixel limit (the fuzz target keeps libjpeg's allocations small). */
mlp_status mlp_jpeg_parse_limited(const uint8_t *buf, size_t len, const char *name, uint64_t max_pixels,
                                  uint8_t **gray, int *w, int *h, mlp_error *err);

#endif
