/* picture.c - figures made of pictures (see report.h): a network's first-layer weights as tiles, a confusion
 * matrix, a grid of misclassified digits; and what they need: a PNG encoder (8-bit grayscale or palette,
 * zlib), base64 data URIs for SVG 1.1 <image> elements, and a diverging colour map. */
#include "report.h"

#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ------------------------------------------------------------------ PNG */

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* A chunk: length, type, data, CRC-32 (zlib's, the one PNG specifies) of type + data. */
static void png_chunk(sbuf *o, const char *type, const uint8_t *data, size_t n) {
    uint8_t hdr[8];
    put_be32(hdr, (uint32_t)n);
    memcpy(hdr + 4, type, 4);
    sbuf_append(o, hdr, 8);
    if (n) sbuf_append(o, data, n);
    uLong crc = crc32(0L, hdr + 4, 4);
    if (n) crc = crc32(crc, data, (uInt)n);
    uint8_t c[4];
    put_be32(c, (uint32_t)crc);
    sbuf_append(o, c, 4);
}

mlp_status mlp_png_encode(sbuf *out, const uint8_t *pix, int w, int h, const uint8_t *palette, int n_pal,
                          mlp_error *err) {
    if (w < 1 || h < 1 || w > 1 << 14 || h > 1 << 14 || (palette && (n_pal < 1 || n_pal > 256)))
        return mlp_fail(err, MLP_ERR_ARG, "png: a %d x %d picture (palette of %d) cannot be encoded", w, h, n_pal);
    /* scanlines: a filter byte per row, 0 (None) for the first row and rows that differ from the one above,
     * 2 (Up: differences to the row above, all zero) for repeated rows, which upscaled pictures are made of */
    const size_t row = (size_t)w + 1, raw_n = row * (size_t)h;
    uint8_t *raw = malloc(raw_n);
    uLongf zn = compressBound((uLong)raw_n);
    uint8_t *z = malloc(zn);
    if (!raw || !z) {
        free(raw), free(z);
        return mlp_fail(err, MLP_ERR_NOMEM, "png: out of memory");
    }
    for (int y = 0; y < h; y++) {
        uint8_t *r = raw + row * (size_t)y;
        const uint8_t *p = pix + (size_t)w * (size_t)y;
        int up = y > 0 && !memcmp(p, p - w, (size_t)w);
        r[0] = up ? 2 : 0;
        if (up) memset(r + 1, 0, (size_t)w);
        else memcpy(r + 1, p, (size_t)w);
    }
    int zst = compress2(z, &zn, raw, (uLong)raw_n, 9);
    free(raw);
    if (zst != Z_OK) {
        free(z);
        return mlp_fail(err, MLP_ERR_NOMEM, "png: zlib failed (%d)", zst);
    }
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    sbuf_append(out, sig, 8);
    uint8_t ihdr[13];
    put_be32(ihdr, (uint32_t)w);
    put_be32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8;                 /* bit depth */
    ihdr[9] = palette ? 3 : 0;   /* colour type: palette or grayscale */
    ihdr[10] = ihdr[11] = ihdr[12] = 0; /* deflate, adaptive filtering, no interlace */
    png_chunk(out, "IHDR", ihdr, 13);
    if (palette) png_chunk(out, "PLTE", palette, (size_t)n_pal * 3);
    png_chunk(out, "IDAT", z, zn);
    png_chunk(out, "IEND", NULL, 0);
    free(z);
    return out->oom ? mlp_fail(err, MLP_ERR_NOMEM, "png: out of memory") : MLP_OK;
}

static void base64(sbuf *o, const uint8_t *d, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
        char c[4] = {tab[v >> 18 & 63], tab[v >> 12 & 63], i + 1 < n ? tab[v >> 6 & 63] : '=', i + 2 < n ? tab[v & 63] : '='};
        sbuf_append(o, c, 4);
    }
}

/* An <image> of pix [ph x pw] (gray, or palette indices), each pixel repeated `up` times in both directions so
 * that viewers which smooth scaled pictures still show crisp pixels, drawn at (x, y) with size w x h. */
static mlp_status svg_image(sbuf *o, const char *cls, double x, double y, double w, double h, const uint8_t *pix,
                            int pw, int ph, int up, const uint8_t *palette, mlp_error *err) {
    const int W = pw * up, H = ph * up;
    uint8_t *big = malloc((size_t)W * (size_t)H);
    if (!big) return mlp_fail(err, MLP_ERR_NOMEM, "svg: out of memory");
    for (int yy = 0; yy < H; yy++)
        for (int xx = 0; xx < W; xx++) big[(size_t)yy * W + xx] = pix[(size_t)(yy / up) * pw + xx / up];
    sbuf png = SBUF_INIT;
    mlp_status st = mlp_png_encode(&png, big, W, H, palette, 256, err);
    free(big);
    if (st) {
        sbuf_free(&png);
        return st;
    }
    sbuf_printf(o,
                "<image class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                "preserveAspectRatio=\"none\" image-rendering=\"optimizeSpeed\" xlink:href=\"data:image/png;base64,",
                cls, x, y, w, h);
    base64(o, (const uint8_t *)png.data, png.len);
    sbuf_puts(o, "\"/>\n");
    sbuf_free(&png);
    return MLP_OK;
}

/* About the width of a character of the 12 px captions (DejaVu Sans: digits 7.6 px, most letters narrower). */
#define CAPTION_CHAR_W 6.8

/* The width a figure needs for its 16 px bold title (about 9.6 px per character). */
static double title_w(const char *title) { return title ? 24 + 9.6 * (double)strlen(title) : 0; }

/* ------------------------------------------------------------------ colours */

/* ColorBrewer's RdBu (Brewer 2002), reversed: -1 blue, 0 near-white, +1 red; readable with red-green colour
 * vision deficiencies (the two ends differ in blue-yellow as well). Linear in sRGB between 5 anchors. */
void mlp_diverging_rgb(double t, uint8_t rgb[3]) {
    static const uint8_t anchor[5][3] = {
        {0x21, 0x66, 0xAC}, {0x92, 0xC5, 0xDE}, {0xF7, 0xF7, 0xF7}, {0xF4, 0xA5, 0x82}, {0xB2, 0x18, 0x2B}};
    if (!(t >= -1)) t = -1; /* NaN too */
    if (t > 1) t = 1;
    double u = (t + 1) * 2; /* 0..4 */
    int k = (int)u;
    if (k > 3) k = 3;
    double f = u - k;
    for (int c = 0; c < 3; c++) rgb[c] = (uint8_t)lround(anchor[k][c] + f * (anchor[k + 1][c] - anchor[k][c]));
}

/* ------------------------------------------------------------------ first-layer weights */

/* The colour bar under the weight tiles: the 256 palette entries as thin rects, with its three labels. */
static void colour_bar(sbuf *o, const uint8_t *pal, double x, double y, double w, const char *lo, const char *hi) {
    sbuf_puts(o, "<g class=\"colour-bar\">\n");
    for (int i = 0; i < 64; i++) {
        const uint8_t *c = pal + 3 * (i * 4 + 2);
        sbuf_printf(o, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"12\" fill=\"#%02X%02X%02X\"/>\n",
                    x + w * i / 64, y, w / 64 + 0.3, c[0], c[1], c[2]);
    }
    sbuf_printf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"12\" fill=\"none\" stroke=\"#444444\"/>\n", x, y,
                w);
    mlp_svg_text(o, x, y + 27, "middle", NULL, lo);
    mlp_svg_text(o, x + w / 2, y + 27, "middle", NULL, "0");
    mlp_svg_text(o, x + w, y + 27, "middle", NULL, hi);
    sbuf_puts(o, "</g>\n");
}

mlp_status mlp_weights_svg(sbuf *o, const float *w, int units, int inputs, const char *title, const char *unit_word,
                           mlp_error *err) {
    int side = (int)lround(sqrt((double)inputs));
    if (inputs < 1 || side * side != inputs)
        return mlp_fail(err, MLP_ERR_ARG,
                        "the first layer has %d inputs, not a square picture (784 = 28 x 28 for MNIST): weight tiles "
                        "need square image inputs",
                        inputs);
    if (units < 1 || units > 4096)
        return mlp_fail(err, MLP_ERR_ARG, "%d units in the first layer: at most 4096 tiles are drawn", units);
    /* about twice as wide as tall, at most 16 columns */
    int cols = (int)ceil(sqrt(2.0 * units));
    if (cols > 16) cols = 16;
    if (cols > units) cols = units;
    const int rows = (units + cols - 1) / cols;
    const int up = side >= 56 ? 1 : (56 + side - 1) / side; /* 28 -> 2: a 56 px tile */
    const double tile = side * up, gap = 6, left = 10, top = title && *title ? 40 : 10;
    const double grid_w = cols * tile + (cols - 1) * gap;
    const double W = fmax(fmax(left * 2 + grid_w, 780 /* the captions */), title_w(title)), H = top + rows * (tile + gap) + 100;

    uint8_t pal[256 * 3];
    for (int i = 0; i < 256; i++) mlp_diverging_rgb((i - 127.5) / 127.5, pal + 3 * i);
    uint8_t *idx = malloc((size_t)inputs);
    if (!idx) return mlp_fail(err, MLP_ERR_NOMEM, "svg: out of memory");
    double mmin = INFINITY, mmax = 0;
    mlp_svg_begin(o, W, H, title);
    if (title && *title)
        mlp_svg_text(o, W / 2, 25, "middle", "font-size=\"16\" font-weight=\"bold\" fill=\"#111111\"", title);
    mlp_status st = MLP_OK;
    for (int u = 0; u < units && !st; u++) {
        const float *r = w + (size_t)u * (size_t)inputs;
        /* this tile's symmetric scale: +-max|w| of the unit */
        double m = 0;
        for (int i = 0; i < inputs; i++) {
            if (!isfinite(r[i])) {
                st = mlp_fail(err, MLP_ERR_ARG, "%s %d: weight %d is not finite", unit_word, u, i);
                break;
            }
            m = fmax(m, fabs(r[i]));
        }
        if (st) break;
        mmin = fmin(mmin, m), mmax = fmax(mmax, m);
        for (int i = 0; i < inputs; i++) idx[i] = m > 0 ? (uint8_t)lround(127.5 + 127.5 * r[i] / m) : 127;
        const double x = left + (W - 2 * left - grid_w) / 2 + (u % cols) * (tile + gap), y = top + (u / cols) * (tile + gap);
        sbuf_printf(o, "<g class=\"tile\" data-unit=\"%d\">\n<title>%s %d: max |w| %.3g</title>\n", u, unit_word, u, m);
        st = svg_image(o, "weights", x, y, tile, tile, idx, side, side, up, pal, err);
        sbuf_printf(o,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#999999\" "
                    "stroke-width=\"0.5\"/>\n</g>\n",
                    x, y, tile, tile);
    }
    free(idx);
    if (st) return st;
    const double by = top + rows * (tile + gap) + 8;
    colour_bar(o, pal, W / 2 - 120, by, 240, "-max |w|", "+max |w|");
    char cap[512];
    mlp_strf(cap, sizeof cap, "One %dx%d tile per %s (%d), the weights of its %d inputs in the input's pixel order.",
             side, side, unit_word, units, inputs);
    mlp_svg_text(o, W / 2, by + 50, "middle", NULL, cap);
    mlp_strf(cap, sizeof cap,
             "Blue negative, white 0, red positive; each tile on its own symmetric scale, +-max |w| of its unit "
             "(%.3g to %.3g).",
             mmin, mmax);
    mlp_svg_text(o, W / 2, by + 68, "middle", NULL, cap);
    sbuf_puts(o, "</svg>\n");
    return o->oom ? mlp_fail(err, MLP_ERR_NOMEM, "svg: out of memory") : MLP_OK;
}

/* ------------------------------------------------------------------ confusion matrix */

mlp_status mlp_confusion_svg(sbuf *o, const int *conf, int K, const char *const *names, const char *title,
                             mlp_error *err) {
    if (K < 2 || K > 64) return mlp_fail(err, MLP_ERR_ARG, "confusion matrix: %d classes (2 to 64)", K);
    size_t longest = 1;
    for (int k = 0; k < K; k++) longest = strlen(names[k]) > longest ? strlen(names[k]) : longest;
    const double cell = 46, lab_w = 16 + 7.0 * (double)longest, left = 30 + lab_w, top = (title && *title ? 40 : 10) + 40;
    char cap[2][300];
    const double grid = K * cell, H = top + grid + 70;
    int max_off = 0;
    long total = 0, right = 0;
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++) {
            total += conf[i * K + j];
            if (i == j) right += conf[i * K + j];
            else if (conf[i * K + j] > max_off) max_off = conf[i * K + j];
        }
    mlp_strf(cap[0], sizeof cap[0], "%ld test images, %ld correct (%.2f%%). Rows: true class; columns: predicted.",
             total, right, total ? 100.0 * right / total : 0.0);
    mlp_strf(cap[1], sizeof cap[1],
             "Diagonal (blue): correct. Errors: vermillion, darker with sqrt(count / %d), %d the largest.",
             max_off, max_off);
    const double W = fmax(fmax(left + grid + 130, title_w(title)), 20 + CAPTION_CHAR_W * (double)strlen(cap[1]));
    mlp_svg_begin(o, W, H, title);
    if (title && *title)
        mlp_svg_text(o, W / 2, 25, "middle", "font-size=\"16\" font-weight=\"bold\" fill=\"#111111\"", title);
    mlp_svg_text(o, left + grid / 2, top - 26, "middle", "font-weight=\"bold\"", "predicted class");
    char tr[96];
    snprintf(tr, sizeof tr, "font-weight=\"bold\" transform=\"rotate(-90 %.1f %.1f)\"", 16.0, top + grid / 2);
    mlp_svg_text(o, 16, top + grid / 2, "middle", tr, "true class");
    for (int k = 0; k < K; k++) {
        mlp_svg_text(o, left + (k + 0.5) * cell, top - 8, "middle", NULL, names[k]);
        mlp_svg_text(o, left - 8, top + (k + 0.5) * cell + 4, "end", NULL, names[k]);
    }
    mlp_svg_text(o, left + grid + 12, top - 8, "start", NULL, "correct");
    sbuf_puts(o, "<g class=\"cells\">\n");
    for (int i = 0; i < K; i++) {
        long row = 0;
        for (int j = 0; j < K; j++) row += conf[i * K + j];
        for (int j = 0; j < K; j++) {
            const int n = conf[i * K + j];
            /* the diagonal in one blue (class accuracies of a good model all lie within a few points: a shade
             * per accuracy would look the same; the accuracy is written at the right); errors from white to
             * vermillion with the square root of their count over the largest error count (single errors
             * stay visible) */
            uint8_t c[3];
            if (i == j) {
                c[0] = 0x56, c[1] = 0xB4, c[2] = 0xE9;
            } else {
                double a = max_off ? sqrt((double)n / max_off) : 0;
                c[0] = (uint8_t)lround(255 - a * (255 - 0xD5)), c[1] = (uint8_t)lround(255 - a * (255 - 0x5E)),
                c[2] = (uint8_t)lround(255 - a * 255);
            }
            const double x = left + j * cell, y = top + i * cell;
            sbuf_printf(o,
                        "<rect class=\"cell\" data-true=\"%d\" data-pred=\"%d\" data-count=\"%d\" x=\"%.1f\" "
                        "y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#%02X%02X%02X\" stroke=\"#ffffff\"/>\n",
                        i, j, n, x, y, cell, cell, c[0], c[1], c[2]);
            if (n) {
                char v[32];
                snprintf(v, sizeof v, "%d", n);
                double lum = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
                mlp_svg_text(o, x + cell / 2, y + cell / 2 + 4, "middle",
                             lum < 140 ? "fill=\"#ffffff\"" : (i == j ? "font-weight=\"bold\"" : NULL), v);
            }
        }
        char v[32];
        if (row) snprintf(v, sizeof v, "%.1f%%", 100.0 * conf[i * K + i] / row);
        else snprintf(v, sizeof v, "-");
        mlp_svg_text(o, left + grid + 12, top + (i + 0.5) * cell + 4, "start", NULL, v);
    }
    sbuf_puts(o, "</g>\n");
    sbuf_printf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#444444\"/>\n",
                left, top, grid, grid);
    mlp_svg_text(o, W / 2, top + grid + 30, "middle", NULL, cap[0]);
    mlp_svg_text(o, W / 2, top + grid + 50, "middle", NULL, cap[1]);
    sbuf_puts(o, "</svg>\n");
    return o->oom ? mlp_fail(err, MLP_ERR_NOMEM, "svg: out of memory") : MLP_OK;
}

/* ------------------------------------------------------------------ misclassified pictures */

mlp_status mlp_mistakes_svg(sbuf *o, const mlp_mistake *m, int n, int side, const char *const *names,
                            const char *conf_word, const char *caption, const char *title, mlp_error *err) {
    if (n < 1 || side < 1 || side > 256) return mlp_fail(err, MLP_ERR_ARG, "mistakes: nothing to draw");
    const int cols = n < 8 ? n : 8, rows = (n + cols - 1) / cols;
    const int up = side >= 84 ? 1 : (84 + side - 1) / side; /* 28 -> 3: an 84 px picture */
    const double pic = side * up, cw = fmax(pic, 118) + 8, ch = pic + 48, top = title && *title ? 44 : 10;
    const double W = fmax(fmax(fmax(20 + cols * cw, 560), title_w(title)),
                          caption ? 20 + CAPTION_CHAR_W * (double)strlen(caption) : 0),
                 H = top + rows * ch + 40;
    mlp_svg_begin(o, W, H, title);
    if (title && *title)
        mlp_svg_text(o, W / 2, 25, "middle", "font-size=\"16\" font-weight=\"bold\" fill=\"#111111\"", title);
    uint8_t *ink = malloc((size_t)side * side);
    if (!ink) return mlp_fail(err, MLP_ERR_NOMEM, "svg: out of memory");
    mlp_status st = MLP_OK;
    for (int k = 0; k < n && !st; k++) {
        const double x0 = (W - cols * cw) / 2 + (k % cols) * cw, y0 = top + (k / cols) * ch;
        const double x = x0 + (cw - pic) / 2;
        for (int i = 0; i < side * side; i++) ink[i] = (uint8_t)(255 - m[k].pixels[i]); /* ink dark on white */
        sbuf_printf(o, "<g class=\"mistake\" data-true=\"%d\" data-pred=\"%d\" data-index=\"%d\">\n", m[k].truth,
                    m[k].pred, m[k].index);
        st = svg_image(o, "digit", x, y0, pic, pic, ink, side, side, up, NULL, err);
        sbuf_printf(o,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#999999\" "
                    "stroke-width=\"0.5\"/>\n",
                    x, y0, pic, pic);
        char line[200];
        mlp_strf(line, sizeof line, "true %s, said %s", names[m[k].truth], names[m[k].pred]);
        mlp_svg_text(o, x0 + cw / 2, y0 + pic + 16, "middle", "font-size=\"11\"", line);
        mlp_strf(line, sizeof line, "%s %.3f (#%d)", conf_word, m[k].confidence, m[k].index);
        mlp_svg_text(o, x0 + cw / 2, y0 + pic + 31, "middle", "font-size=\"11\" fill=\"#555555\"", line);
        sbuf_puts(o, "</g>\n");
    }
    free(ink);
    if (st) return st;
    if (caption) mlp_svg_text(o, W / 2, H - 16, "middle", NULL, caption);
    sbuf_puts(o, "</svg>\n");
    return o->oom ? mlp_fail(err, MLP_ERR_NOMEM, "svg: out of memory") : MLP_OK;
}
