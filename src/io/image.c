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
#include "fileio.h"
#include "image_internal.h"
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

/* The format by the first bytes: 1 PNG, 2 JPEG, 3 PGM (any Netpbm magic: pgm.c names the others), 0 none. */
static int sniff(const char *path, mlp_error *err, mlp_status *st) {
    /* a FIFO, device or folder: refused, never opened */
    if ((*st = mlp_input_check(path, err)) != MLP_OK) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return *st = mlp_fail(err, MLP_ERR_IO, "%s: cannot open: %s", path, strerror(errno)), 0;
    uint8_t head[8];
    size_t n = fread(head, 1, sizeof head, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) return *st = mlp_fail(err, MLP_ERR_IO, "%s: read error", path), 0;
    if (n >= 4 && head[0] == 0x89 && !memcmp(head + 1, "PNG", 3)) return 1;
    if (n >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF) return 2;
    if (n >= 2 && head[0] == 'P' && head[1] >= '1' && head[1] <= '7') return 3;
    if (n == 0) *st = mlp_fail(err, MLP_ERR_FORMAT, "%s: empty file (expected a PNG, JPEG or PGM image)", path);
    else *st = mlp_fail(err, MLP_ERR_FORMAT, "%s: not a PNG, JPEG or PGM image (unrecognised first bytes)", path);
    return 0;
}

mlp_status mlp_image_read(const char *path, uint8_t **gray, int *w, int *h, mlp_error *err) {
    if (!gray || !w || !h) return mlp_fail(err, MLP_ERR_ARG, "mlp_image_read: output pointers must not be NULL");
    *gray = NULL;
    *w = *h = 0;
    if (!path) return mlp_fail(err, MLP_ERR_ARG, "mlp_image_read: path is NULL");
    mlp_status st;
    switch (sniff(path, err, &st)) {
    case 1: return mlp_png_read(path, gray, w, h, err);
    case 2: return mlp_jpeg_read(path, gray, w, h, err);
    case 3: return mlp_pgm_read(path, gray, w, h, err);
    default: return st;
    }
}

mlp_status mlp_image_load(const char *path, mlp_image *img, mlp_error *err) {
    if (!img) return mlp_fail(err, MLP_ERR_ARG, "mlp_image_load: img must not be NULL");
    memset(img, 0, sizeof *img);
    if (!path) return mlp_fail(err, MLP_ERR_ARG, "mlp_image_load: path is NULL");
    mlp_status st;
    int kind = sniff(path, err, &st);
    if (kind != 1) return kind ? mlp_image_read(path, &img->gray, &img->w, &img->h, err) : st;
    uint8_t *buf;
    size_t len;
    if ((st = mlp_read_file(path, &buf, &len, (size_t)1 << 30, err))) return st;
    st = mlp_png_parse_alpha(buf, len, path, &img->gray, &img->alpha, &img->w, &img->h, err);
    free(buf);
    return st;
}

void mlp_image_free(mlp_image *img) {
    if (!img) return;
    free(img->gray);
    free(img->alpha);
    memset(img, 0, sizeof *img);
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

static int resample(const uint8_t *src, size_t stride, int w, int h, int cw, int ch, int invert, double *acc,
                    int out_w, int out_h);

/* The canvas: the picture's size grown along one axis to the output's aspect ratio. */
static void canvas_of(int w, int h, int out_w, int out_h, int *cw, int *ch) {
    *cw = w, *ch = h;
    if ((int64_t)w * out_h > (int64_t)h * out_w) *ch = (int)(((int64_t)w * out_h + out_w - 1) / out_w);
    else if ((int64_t)w * out_h < (int64_t)h * out_w) *cw = (int)(((int64_t)h * out_w + out_h - 1) / out_h);
}

mlp_status mlp_image_resize(const uint8_t *gray, int w, int h, int invert, float *out, int out_w, int out_h,
                            mlp_error *err) {
    if (!gray || !out) return mlp_fail(err, MLP_ERR_ARG, "mlp_image_resize: NULL image or output");
    if (w < 1 || h < 1 || out_w < 1 || out_h < 1 || (uint64_t)w * (uint64_t)h > MLP_IMAGE_MAX_PIXELS ||
        out_w > (int)MLP_IMAGE_MAX_SIDE || out_h > (int)MLP_IMAGE_MAX_SIDE)
        return mlp_fail(err, MLP_ERR_ARG, "mlp_image_resize: sizes %dx%d -> %dx%d out of range", w, h, out_w,
                        out_h);
    int cw, ch;
    canvas_of(w, h, out_w, out_h, &cw, &ch);
    double *acc = calloc((size_t)out_w * (size_t)out_h, sizeof(double));
    if (!acc || resample(gray, (size_t)w, w, h, cw, ch, invert, acc, out_w, out_h)) {
        free(acc);
        return mlp_fail(err, MLP_ERR_NOMEM, "mlp_image_resize: out of memory (%dx%d -> %dx%d)", w, h, out_w, out_h);
    }
    for (size_t k = 0; k < (size_t)out_w * (size_t)out_h; k++) out[k] = (float)acc[k];
    free(acc);
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

/* ------------------------------------------------------------------ MNIST-style preparation */

static const char *const prepare_names[MLP_PREPARE_COUNT] = {"mnist", "fashion-mnist", "whole"};

const char *mlp_prepare_name(mlp_prepare p) {
    return (unsigned)p < MLP_PREPARE_COUNT ? prepare_names[p] : "?";
}

int mlp_prepare_parse(const char *name, mlp_prepare *out) {
    if (!name) return -1;
    for (int i = 0; i < MLP_PREPARE_COUNT; i++)
        if (!strcmp(name, prepare_names[i])) {
            if (out) *out = (mlp_prepare)i;
            return 0;
        }
    return -1;
}

/* The histogram of the border ring: the pixels within max(1, min(w, h) / 8) of an edge (as
 * mlp_image_is_dark_on_light). Returns the number of pixels counted. */
static uint64_t ring_hist(const uint8_t *v, int w, int h, uint64_t hist[256]) {
    const int b = (w < h ? w : h) / 8 > 1 ? (w < h ? w : h) / 8 : 1;
    memset(hist, 0, 256 * sizeof *hist);
    for (int y = 0; y < h; y++) {
        const uint8_t *row = v + (size_t)y * (size_t)w;
        if (y < b || y >= h - b)
            for (int x = 0; x < w; x++) hist[row[x]]++;
        else
            for (int x = 0; x < w; x++)
                if (x < b || x >= w - b) hist[row[x]]++;
    }
    return (uint64_t)w * h - (uint64_t)(w - 2 * b > 0 ? w - 2 * b : 0) * (uint64_t)(h - 2 * b > 0 ? h - 2 * b : 0);
}

/* The median of a histogram of n values (the lower one for an even n). */
static int hist_median(const uint64_t hist[256], uint64_t n) {
    uint64_t seen = 0;
    int med = 0;
    while (med < 255 && 2 * (seen + hist[med]) < n) seen += hist[med++];
    return med;
}

/* 1 when one of the n pixels p[0], p[step], ... is above t. */
static int any_above(const uint8_t *p, size_t step, int n, int t) {
    for (int i = 0; i < n; i++)
        if (p[(size_t)i * step] > t) return 1;
    return 0;
}

/* Resample the picture src (w x h, rows `stride` apart), centred on a cw x ch canvas (cw >= w, ch >= h,
 * the rest background 0), to acc[out_h x out_w] (added to; acc starts zeroed): the filters of
 * mlp_image_resize. Returns -1 when out of memory. */
static int resample(const uint8_t *src, size_t stride, int w, int h, int cw, int ch, int invert, double *acc,
                    int out_w, int out_h) {
    axis ax = {0}, ay = {0};
    double *rowsum = malloc(sizeof(double) * (size_t)out_w);
    int bad = !rowsum || axis_build(&ax, w, cw, (cw - w) / 2, out_w) || axis_build(&ay, h, ch, (ch - h) / 2, out_h);
    for (int i = 0; i < out_h && !bad; i++) {
        for (int t = ay.start[i]; t < ay.start[i + 1]; t++) {
            const uint8_t *row = src + (size_t)ay.index[t] * stride;
            const double wy = ay.weight[t];
            for (int j = 0; j < out_w; j++) {
                double sum = 0;
                for (int u = ax.start[j]; u < ax.start[j + 1]; u++) {
                    int v = row[ax.index[u]];
                    sum += ax.weight[u] * (invert ? 255 - v : v);
                }
                rowsum[j] = sum;
            }
            for (int j = 0; j < out_w; j++) acc[(size_t)i * out_w + j] += wy * rowsum[j];
        }
    }
    free(rowsum);
    axis_free(&ax);
    axis_free(&ay);
    return bad ? -1 : 0;
}

/* The ink plane: light strokes on a dark background, whatever the picture's polarity (see mlp.h). */
static void make_ink(const mlp_image *img, mlp_prepare mode, mlp_invert invert, uint8_t *ink, mlp_prepare_info *info) {
    const size_t n = (size_t)img->w * (size_t)img->h;
    const uint8_t *g = img->gray, *a = img->alpha;
    int transparent = 0;
    if (a) { /* the border is mostly transparent: transparency is the background */
        const int b = (img->w < img->h ? img->w : img->h) / 8 > 1 ? (img->w < img->h ? img->w : img->h) / 8 : 1;
        uint64_t sum = 0, cnt = 0;
        for (int y = 0; y < img->h; y++)
            for (int x = 0; x < img->w; x++)
                if (y < b || y >= img->h - b || x < b || x >= img->w - b) sum += a[(size_t)y * img->w + x], cnt++;
        transparent = 2 * sum < 255 * cnt;
    }
    int inv;
    if (transparent) {
        if (invert == MLP_INVERT_AUTO) { /* the opaque part's alpha-weighted mean luma: dark or light ink */
            uint64_t ay = 0, sa = 0;
            for (size_t i = 0; i < n; i++) ay += (uint64_t)a[i] * g[i], sa += a[i];
            inv = 2 * ay <= 255 * sa;
        } else {
            inv = invert == MLP_INVERT_YES;
        }
        /* ink = a * (Y or 255 - Y) / 255: composited over black (light ink) or over white then inverted */
        for (size_t i = 0; i < n; i++) ink[i] = (uint8_t)((a[i] * (unsigned)(inv ? 255 - g[i] : g[i]) + 127) / 255);
    } else {
        for (size_t i = 0; i < n; i++) /* opaque, or composited over white as a viewer shows it */
            ink[i] = a ? (uint8_t)((g[i] * (unsigned)a[i] + 255u * (255u - a[i]) + 127) / 255) : g[i];
        if (invert != MLP_INVERT_AUTO) inv = invert == MLP_INVERT_YES;
        else {
            inv = mlp_image_is_dark_on_light(ink, img->w, img->h);
            if (!inv && mode == MLP_PREPARE_MNIST) { /* a small dark digit on a large light page: the border and
                                                     * most of the picture are light */
                uint64_t hist[256], cnt = ring_hist(ink, img->w, img->h, hist);
                int med = hist_median(hist, cnt);
                memset(hist, 0, sizeof hist);
                for (size_t i = 0; i < n; i++) hist[ink[i]]++;
                inv = med >= 128 && hist_median(hist, n) >= 128;
            }
        }
        if (inv)
            for (size_t i = 0; i < n; i++) ink[i] = (uint8_t)(255 - ink[i]);
    }
    info->inverted = inv;
    info->transparent = transparent;
}

mlp_status mlp_image_prepare(const mlp_image *img, int out_w, int out_h, mlp_prepare mode, mlp_invert invert,
                             mlp_scaling s, float *x, mlp_prepare_info *info, mlp_error *err) {
    mlp_prepare_info local;
    if (!info) info = &local;
    memset(info, 0, sizeof *info);
    if (!img || !img->gray || !x) return mlp_fail(err, MLP_ERR_ARG, "mlp_image_prepare: NULL image or output");
    if ((unsigned)invert >= MLP_INVERT_COUNT)
        return mlp_fail(err, MLP_ERR_ARG, "mlp_image_prepare: unknown invert mode %d", (int)invert);
    if ((unsigned)mode >= MLP_PREPARE_COUNT)
        return mlp_fail(err, MLP_ERR_ARG, "mlp_image_prepare: unknown preparation %d", (int)mode);
    const int w = img->w, h = img->h;
    if (w < 1 || h < 1 || (uint64_t)w * (uint64_t)h > MLP_IMAGE_MAX_PIXELS || out_w < 1 || out_h < 1 ||
        out_w > (int)MLP_IMAGE_MAX_SIDE || out_h > (int)MLP_IMAGE_MAX_SIDE ||
        (uint64_t)out_w * (uint64_t)out_h > MLP_IMAGE_MAX_PIXELS)
        return mlp_fail(err, MLP_ERR_ARG, "mlp_image_prepare: sizes %dx%d -> %dx%d out of range", w, h, out_w, out_h);
    const size_t n = (size_t)w * (size_t)h, m = (size_t)out_w * (size_t)out_h;
    uint8_t *ink = malloc(n);
    double *acc = calloc(m, sizeof(double)), *patch = NULL;
    if (!ink || !acc) goto nomem;
    make_ink(img, mode, invert, ink, info);

    /* background level b: the border ring's most frequent value; noise: 1.4826 x the median absolute
     * deviation from b of the ring's pixels within 48 of b (a robust sigma of the background alone, 0 for
     * a clean picture); weak ink: above t = b + ceil(3 sigma) */
    uint64_t hist[256], cnt = ring_hist(ink, w, h, hist);
    int bg = 0;
    for (int k = 1; k < 256; k++)
        if (hist[k] > hist[bg]) bg = k;
    uint64_t dev[49] = {0}, near = 0;
    for (int k = bg - 48 < 0 ? 0 : bg - 48; k <= bg + 48 && k < 256; k++) dev[abs(k - bg)] += hist[k], near += hist[k];
    (void)cnt;
    uint64_t seen = 0;
    int mad = 0;
    while (mad < 48 && 2 * (seen + dev[mad]) < near) seen += dev[mad++];
    const int t = bg + (int)ceil(3 * 1.4826 * mad);
    int peak = 0;
    for (size_t i = 0; i < n; i++)
        if (ink[i] > t && ink[i] - bg > peak) peak = ink[i] - bg;
    /* the box: around the strong ink (at least a quarter of the peak above b), grown over adjacent weak
     * ink by at most max(2, 1/10 of its length) per side: an anti-aliased rim joins, scattered noise not */
    const int strong = bg + (peak / 4 > t - bg + 1 ? peak / 4 : t - bg + 1);
    int x0 = w, y0 = h, x1 = -1, y1 = -1;
    for (int y = 0; y < h && peak; y++)
        for (int xx = 0; xx < w; xx++)
            if (ink[(size_t)y * w + xx] >= strong) {
                if (xx < x0) x0 = xx;
                if (xx > x1) x1 = xx;
                if (y < y0) y0 = y;
                if (y > y1) y1 = y;
            }
    if (peak) {
        const int gx = (x1 - x0 + 1) / 10 > 2 ? (x1 - x0 + 1) / 10 : 2, gy = (y1 - y0 + 1) / 10 > 2 ? (y1 - y0 + 1) / 10 : 2;
        for (int k = 0; k < gy && y0 > 0 && any_above(ink + (size_t)(y0 - 1) * w + x0, 1, x1 - x0 + 1, t); k++) y0--;
        for (int k = 0; k < gy && y1 < h - 1 && any_above(ink + (size_t)(y1 + 1) * w + x0, 1, x1 - x0 + 1, t); k++) y1++;
        for (int k = 0; k < gx && x0 > 0 && any_above(ink + (size_t)y0 * w + x0 - 1, (size_t)w, y1 - y0 + 1, t); k++) x0--;
        for (int k = 0; k < gx && x1 < w - 1 && any_above(ink + (size_t)y0 * w + x1 + 1, (size_t)w, y1 - y0 + 1, t); k++) x1++;
    }
    double mass = 0;
    for (int y = y0; y <= y1; y++)
        for (int xx = x0; xx <= x1; xx++)
            if (ink[(size_t)y * w + xx] > t) mass += (double)(ink[(size_t)y * w + xx] - bg) / peak;
    info->contrast = peak / 255.0;
    info->ink = mass;
    const int bw = x1 - x0 + 1, bh = y1 - y0 + 1;
    if (peak) info->box_x = x0, info->box_y = y0, info->box_w = bw, info->box_h = bh;
    info->blank = peak < 26 || mass < 10 || (bw > bh ? bw : bh) < 5;

    if (mode == MLP_PREPARE_WHOLE) { /* the whole picture on a canvas of the output's aspect ratio */
        int cw, ch;
        canvas_of(w, h, out_w, out_h, &cw, &ch);
        if (resample(ink, (size_t)w, w, h, cw, ch, 0, acc, out_w, out_h)) goto nomem;
    } else if (peak) {
        /* levelled: background 0; a faint picture (strongest ink below 192) stretched so that its strongest
         * ink is 255, as MNIST's strokes are */
        const int top = peak < 192 ? peak : 255;
        for (size_t i = 0; i < n; i++) {
            const int v = ink[i] > t ? ((ink[i] - bg) * 255 + top / 2) / top : 0;
            ink[i] = (uint8_t)(v > 255 ? 255 : v);
        }
        /* fit the bounding box into B x B keeping its aspect ratio */
        const int side = out_w < out_h ? out_w : out_h;
        const int B = mode == MLP_PREPARE_MNIST ? (int)lround(side * 20.0 / 28.0) : side;
        const double f = (double)B / (bw > bh ? bw : bh);
        int nw = (int)lround(bw * f), nh = (int)lround(bh * f);
        nw = nw < 1 ? 1 : nw > B ? B : nw;
        nh = nh < 1 ? 1 : nh > B ? B : nh;
        if (!(patch = calloc((size_t)nw * (size_t)nh, sizeof(double)))) goto nomem;
        if (resample(ink + (size_t)y0 * w + x0, (size_t)w, bw, bh, bw, bh, 0, patch, nw, nh)) goto nomem;
        /* place it: centre of mass at the output's centre (MNIST), or the box centred (Fashion-MNIST) */
        int ox = (out_w - nw + 1) / 2, oy = (out_h - nh + 1) / 2;
        if (mode == MLP_PREPARE_MNIST) {
            double sm = 0, sx = 0, sy = 0;
            for (int i = 0; i < nh; i++)
                for (int j = 0; j < nw; j++) {
                    const double v = patch[(size_t)i * nw + j];
                    sm += v, sx += v * j, sy += v * i;
                }
            if (sm > 0) {
                ox = (int)lround(out_w / 2.0 - sx / sm);
                oy = (int)lround(out_h / 2.0 - sy / sm);
                ox = ox < 0 ? 0 : ox > out_w - nw ? out_w - nw : ox;
                oy = oy < 0 ? 0 : oy > out_h - nh ? out_h - nh : oy;
            }
        }
        for (int i = 0; i < nh; i++)
            for (int j = 0; j < nw; j++) acc[(size_t)(oy + i) * out_w + ox + j] = patch[(size_t)i * nw + j];
    }
    for (size_t k = 0; k < m; k++) x[k] = ((float)acc[k] - s.offset) * s.scale;
    free(ink);
    free(acc);
    free(patch);
    return MLP_OK;
nomem:
    free(ink);
    free(acc);
    free(patch);
    return mlp_fail(err, MLP_ERR_NOMEM, "mlp_image_prepare: out of memory (%dx%d picture)", w, h);
}
