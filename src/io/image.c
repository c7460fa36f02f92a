/*
 * image.c - turn a picture of any size into a network input: read (PNG or PGM), decide the polarity,
 * resample to the model's 28x28, scale like the training data.
 *
 * Polarity. MNIST and Fashion-MNIST are light objects on a black background. A scanned or drawn digit
 * is usually dark on white, so it is inverted (v -> 255 - v) first. "auto" inverts when the border is
 * light (its mean above mid-gray, 127.5) and brighter than the centre: border = the pixels within
 * b = max(1, min(w, h) / 8) of an edge, centre = the middle half [w/4, w - w/4) x [h/4, h - h/4); the
 * means are compared exactly (integer sums). The mid-gray condition keeps light-on-dark pictures whose
 * centre happens to be darker than their dark border (a bag's handle hole, the gap between trouser
 * legs: 82 of the 10000 Fashion-MNIST test images) as they are; no MNIST or Fashion-MNIST image is
 * inverted. A uniform picture is left as it is.
 *
 * Resampling. The picture is first placed, centred, on a canvas with the output's aspect ratio (the
 * extra area is background, 0 = black after any inversion), so a digit is never stretched. Then each
 * axis is resampled on its own (the filters are separable), from C canvas pixels to D output pixels
 * with s = C / D:
 *   - C >= D, area averaging (box filter): output pixel i covers the canvas interval [i s, (i + 1) s);
 *     it is the mean of the canvas pixels weighted by how much of each falls in that interval.
 *     Integer factors average whole blocks, and C = D is exactly the identity.
 *   - C < D, bilinear: output pixel i samples the canvas at c = (i + 0.5) s - 0.5 (pixel centres
 *     aligned), clamped to [0, C - 1], interpolating linearly between floor(c) and floor(c) + 1.
 * The 2-D value is sum_y wy(i, y) sum_x wx(j, x) v(y, x), accumulated in double, one source row at a
 * time, so the only memory is the weight tables (O(w + h)) whatever the picture's size.
 * Finally x = (v - offset) * scale in float, exactly as the IDX loader scales (a 28x28 PGM gives the
 * same floats as the same image in an IDX file).
 */
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const invert_names[MLP_INVERT_COUNT] = {"auto", "yes", "no"};

const char *mlp_invert_name(mlp_invert v) {
    return (unsigned)v < MLP_INVERT_COUNT ? invert_names[v] : "?";
}

int mlp_invert_parse(const char *name, mlp_invert *out) {
    if (!name) return -1;
    for (int i = 0; i < MLP_INVERT_COUNT; i++)
        if (!strcmp(name, invert_names[i])) {
            if (out) *out = (mlp_invert)i;
            return 0;
        }
    return -1;
}

/* ------------------------------------------------------------------ reading */

mlp_status mlp_image_read(const char *path, uint8_t **gray, int *w, int *h, mlp_error *err) {
    if (!gray || !w || !h) return mlp_fail(err, MLP_ERR_ARG, "mlp_image_read: output pointers must not be NULL");
    *gray = NULL;
    *w = *h = 0;
    if (!path) return mlp_fail(err, MLP_ERR_ARG, "mlp_image_read: path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f) return mlp_fail(err, MLP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t head[8];
    size_t n = fread(head, 1, sizeof head, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) return mlp_fail(err, MLP_ERR_IO, "%s: read error", path);
    if (n >= 4 && head[0] == 0x89 && !memcmp(head + 1, "PNG", 3)) return mlp_png_read(path, gray, w, h, err);
    if (n >= 2 && head[0] == 'P' && head[1] >= '1' && head[1] <= '7') return mlp_pgm_read(path, gray, w, h, err);
    if (n == 0) return mlp_fail(err, MLP_ERR_FORMAT, "%s: empty file (expected a PNG or PGM image)", path);
    return mlp_fail(err, MLP_ERR_FORMAT, "%s: not a PNG or PGM image (unrecognised first bytes)", path);
}

/* ------------------------------------------------------------------ polarity */

int mlp_image_is_dark_on_light(const uint8_t *gray, int w, int h) {
    if (!gray || w < 1 || h < 1) return 0;
    const int b = (w < h ? w : h) / 8 > 1 ? (w < h ? w : h) / 8 : 1;
    const int cx0 = w / 4, cx1 = w - w / 4, cy0 = h / 4, cy1 = h - h / 4;
    uint64_t border = 0, centre = 0, n_border = 0, n_centre = 0;
    for (int y = 0; y < h; y++) {
        const uint8_t *row = gray + (size_t)y * (size_t)w;
        const int edge_row = y < b || y >= h - b;
        for (int x = 0; x < w; x++) {
            if (edge_row || x < b || x >= w - b) border += row[x], n_border++;
            if (y >= cy0 && y < cy1 && x >= cx0 && x < cx1) centre += row[x], n_centre++;
        }
    }
    if (!n_border || !n_centre) return 0;
    /* border / n_border > centre / n_centre and > 127.5, without division (sums < 2^26 * 255 and counts
     * < 2^26, so the products fit in 64 bits) */
    return border * n_centre > centre * n_border && 2 * border > 255 * n_border;
}

/* ------------------------------------------------------------------ resampling */

/* One axis: output i takes taps [start[i], start[i+1]) of (index into the picture, weight). */
typedef struct axis {
    int *start;
    int *index;
    double *weight;
} axis;

static void axis_free(axis *a) {
    free(a->start);
    free(a->index);
    free(a->weight);
}

/* Weights from a canvas of C pixels, holding the picture's n pixels at [off, off + n), to D outputs.
 * Canvas pixels outside the picture are background (0) and get no tap. */
static int axis_build(axis *a, int n, int C, int off, int D) {
    const double s = (double)C / D;
    const int per = C >= D ? (int)ceil(s) + 2 : 2;
    a->start = malloc(sizeof(int) * (size_t)(D + 1));
    a->index = malloc(sizeof(int) * (size_t)D * (size_t)per);
    a->weight = malloc(sizeof(double) * (size_t)D * (size_t)per);
    if (!a->start || !a->index || !a->weight) return -1;
    int t = 0;
    for (int i = 0; i < D; i++) {
        a->start[i] = t;
        if (C >= D) { /* box: overlap of [lo, hi) with each [k, k + 1) */
            const double lo = i * s, hi = (i + 1) * s;
            int k0 = (int)floor(lo), k1 = (int)ceil(hi);
            if (k1 > C) k1 = C;
            for (int k = k0; k < k1; k++) {
                double ov = (hi < k + 1 ? hi : k + 1) - (lo > k ? lo : k);
                if (ov <= 0 || k < off || k >= off + n) continue;
                a->index[t] = k - off;
                a->weight[t] = ov / s;
                t++;
            }
        } else { /* bilinear */
            double c = (i + 0.5) * s - 0.5;
            if (c < 0) c = 0;
            if (c > C - 1) c = C - 1;
            const int k0 = (int)floor(c), k1 = k0 + 1 < C ? k0 + 1 : k0;
            const double f = c - k0;
            const int ks[2] = {k0, k1};
            const double ws[2] = {1.0 - f, f};
            for (int j = 0; j < (k1 != k0 ? 2 : 1); j++) {
                double wgt = k1 != k0 ? ws[j] : 1.0;
                if (wgt == 0 || ks[j] < off || ks[j] >= off + n) continue;
                a->index[t] = ks[j] - off;
                a->weight[t] = wgt;
                t++;
            }
        }
    }
    a->start[D] = t;
    return 0;
}

mlp_status mlp_image_resize(const uint8_t *gray, int w, int h, int invert, float *out, int out_w, int out_h,
                            mlp_error *err) {
    if (!gray || !out) return mlp_fail(err, MLP_ERR_ARG, "mlp_image_resize: NULL image or output");
    if (w < 1 || h < 1 || out_w < 1 || out_h < 1 || (uint64_t)w * (uint64_t)h > MLP_IMAGE_MAX_PIXELS ||
        out_w > (int)MLP_IMAGE_MAX_SIDE || out_h > (int)MLP_IMAGE_MAX_SIDE)
        return mlp_fail(err, MLP_ERR_ARG, "mlp_image_resize: sizes %dx%d -> %dx%d out of range", w, h, out_w,
                        out_h);
    /* the canvas: the picture's size grown along one axis to the output's aspect ratio */
    int cw = w, ch = h;
    if ((int64_t)w * out_h > (int64_t)h * out_w) ch = (int)(((int64_t)w * out_h + out_w - 1) / out_w);
    else if ((int64_t)w * out_h < (int64_t)h * out_w) cw = (int)(((int64_t)h * out_w + out_h - 1) / out_h);
    axis ax = {0}, ay = {0};
    double *rowsum = malloc(sizeof(double) * (size_t)out_w), *acc = calloc((size_t)out_w * (size_t)out_h, sizeof(double));
    if (!rowsum || !acc || axis_build(&ax, w, cw, (cw - w) / 2, out_w) || axis_build(&ay, h, ch, (ch - h) / 2, out_h)) {
        free(rowsum);
        free(acc);
        axis_free(&ax);
        axis_free(&ay);
        return mlp_fail(err, MLP_ERR_NOMEM, "mlp_image_resize: out of memory (%dx%d -> %dx%d)", w, h, out_w, out_h);
    }
    for (int i = 0; i < out_h; i++) {
        for (int t = ay.start[i]; t < ay.start[i + 1]; t++) {
            const uint8_t *src = gray + (size_t)ay.index[t] * (size_t)w;
            const double wy = ay.weight[t];
            for (int j = 0; j < out_w; j++) {
                double sum = 0;
                for (int u = ax.start[j]; u < ax.start[j + 1]; u++) {
                    int v = src[ax.index[u]];
                    sum += ax.weight[u] * (invert ? 255 - v : v);
                }
                rowsum[j] = sum;
            }
            for (int j = 0; j < out_w; j++) acc[(size_t)i * out_w + j] += wy * rowsum[j];
        }
    }
    for (size_t k = 0; k < (size_t)out_w * (size_t)out_h; k++) out[k] = (float)acc[k];
    free(rowsum);
    free(acc);
    axis_free(&ax);
    axis_free(&ay);
    return MLP_OK;
}

mlp_status mlp_image_to_input(const uint8_t *gray, int w, int h, int out_w, int out_h, mlp_invert invert,
                              mlp_scaling s, float *x, int *inverted, mlp_error *err) {
    if ((unsigned)invert >= MLP_INVERT_COUNT)
        return mlp_fail(err, MLP_ERR_ARG, "mlp_image_to_input: unknown invert mode %d", (int)invert);
    int inv = invert == MLP_INVERT_YES || (invert == MLP_INVERT_AUTO && mlp_image_is_dark_on_light(gray, w, h));
    mlp_status st = mlp_image_resize(gray, w, h, inv, x, out_w, out_h, err);
    if (st) return st;
    /* (v - offset) * scale in float: the same operations as the IDX loader's table */
    for (size_t k = 0; k < (size_t)out_w * (size_t)out_h; k++) x[k] = (x[k] - s.offset) * s.scale;
    if (inverted) *inverted = inv;
    return MLP_OK;
}
