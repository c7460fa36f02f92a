/* test_predict.c - `mlp predict` on pictures as people make them, by a model trained here:
 *   - real-looking pictures made from MNIST test digits the model is sure about: a small dark digit in a
 *     corner of a large noisy page, a white digit on a transparent canvas, thick marker strokes, blue ink
 *     on yellow paper, the same as a JPEG; each must get the digit's class (MNIST preparation);
 *   - blank and nearly blank pictures get a warning;
 *   - --json (one object per picture, parsed here), --top K, probabilities = softmax of the scores,
 *     --out CSV (refused over an existing file without --force), folders of pictures;
 *   - mlp_image_prepare in the library: MNIST test images come out as they went in.
 * Pictures are written with tests/test_png.c's encoder and libjpeg-turbo's compressor. */
#include "check.h"
#include "json.h"

#include <jpeglib.h>
#include <stdlib.h>
#include <string.h>

uint8_t *test_png_encode(int w, int h, int ctype, int depth, const uint16_t *samples, const uint8_t *plte,
                         int n_plte, const uint8_t *trns, int n_trns, int filter, int interlace, size_t *len);

/* ------------------------------------------------------------------ drawing */

/* A digit (28x28, 0 = background) enlarged k times (bilinear, pixel centres aligned), its strokes
 * thickened by a disc of radius r (max filter): ink coverage 0..255, [28k x 28k]. */
static uint8_t *draw_digit(const uint8_t *img, int k, int r) {
    const int W = 28 * k;
    uint8_t *a = malloc((size_t)W * W), *b = malloc((size_t)W * W);
    for (int y = 0; y < W; y++)
        for (int x = 0; x < W; x++) {
            double sy = (y + 0.5) / k - 0.5, sx = (x + 0.5) / k - 0.5;
            sy = sy < 0 ? 0 : sy > 27 ? 27 : sy;
            sx = sx < 0 ? 0 : sx > 27 ? 27 : sx;
            int y0 = (int)sy, x0 = (int)sx, y1 = y0 < 27 ? y0 + 1 : 27, x1 = x0 < 27 ? x0 + 1 : 27;
            double fy = sy - y0, fx = sx - x0;
            double v = (1 - fy) * ((1 - fx) * img[y0 * 28 + x0] + fx * img[y0 * 28 + x1]) +
                       fy * ((1 - fx) * img[y1 * 28 + x0] + fx * img[y1 * 28 + x1]);
            a[y * W + x] = (uint8_t)(v + 0.5);
        }
    for (int y = 0; y < W; y++)
        for (int x = 0; x < W; x++) {
            int m = 0;
            for (int dy = -r; dy <= r; dy++)
                for (int dx = -r; dx <= r; dx++)
                    if (dx * dx + dy * dy <= r * r && y + dy >= 0 && y + dy < W && x + dx >= 0 && x + dx < W &&
                        a[(y + dy) * W + x + dx] > m)
                        m = a[(y + dy) * W + x + dx];
            b[y * W + x] = (uint8_t)m;
        }
    free(a);
    return b;
}

static uint32_t lcg_state = 12345;
static int noise(int amp) { /* uniform in [-amp, amp] */
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return amp ? (int)((lcg_state >> 8) % (uint32_t)(2 * amp + 1)) - amp : 0;
}

static uint16_t clamp255(int v) { return (uint16_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

/* A W x H picture of `ch` channels (1 gray, 3 RGB, 4 RGBA): background bg[ch] with noise, the digit's ink
 * (colour ink[ch], coverage from draw_digit) at (ox, oy). RGBA: alpha is the coverage, colour ink. */
static uint16_t *compose(int W, int H, int ch, const int *bg, const int *ink, const uint8_t *cov, int cw, int ox,
                         int oy, int amp) {
    uint16_t *s = malloc(sizeof(uint16_t) * (size_t)W * H * ch);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            const int in = x >= ox && x < ox + cw && y >= oy && y < oy + cw;
            const double a = in ? cov[(y - oy) * cw + x - ox] / 255.0 : 0.0;
            uint16_t *p = s + ((size_t)y * W + x) * ch;
            if (ch == 4) {
                p[0] = (uint16_t)ink[0], p[1] = (uint16_t)ink[1], p[2] = (uint16_t)ink[2];
                p[3] = (uint16_t)lround(a * 255);
                continue;
            }
            const int n = noise(amp);
            for (int c = 0; c < ch; c++) p[c] = clamp255((int)lround(bg[c] * (1 - a) + ink[c] * a) + n);
        }
    return s;
}

static int write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static void save_png(const char *path, int W, int H, int ctype, const uint16_t *s) {
    size_t len;
    uint8_t *png = test_png_encode(W, H, ctype, 8, s, NULL, 0, NULL, 0, -1, 0, &len);
    CHECK(write_bytes(path, png, len) == 0);
    free(png);
}

/* RGB samples as a JPEG of the given quality (libjpeg-turbo's encoder, YCbCr 4:2:0). */
static void save_jpeg(const char *path, int W, int H, const uint16_t *s, int quality) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    unsigned char *mem = NULL;
    unsigned long len = 0;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &mem, &len);
    c.image_width = (JDIMENSION)W;
    c.image_height = (JDIMENSION)H;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    unsigned char *row = malloc((size_t)W * 3);
    while (c.next_scanline < c.image_height) {
        for (int i = 0; i < W * 3; i++) row[i] = (unsigned char)s[(size_t)c.next_scanline * W * 3 + i];
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    CHECK(write_bytes(path, mem, len) == 0);
    free(row);
    free(mem);
}

/* dir/<d>_<kind>: digit g drawn k times larger with strokes thickened by r (draw_digit), composed at
 * (ox, oy) on a W x H picture (compose), saved as a PNG, or as a JPEG of that quality when quality > 0. */
static void picture(const char *dir, int d, const char *kind, const uint8_t *g, int k, int r, int W, int H, int ch,
                    const int *bg, const int *ink, int ox, int oy, int amp, int quality) {
    char p[800];
    snprintf(p, sizeof p, "%s/%d_%s", dir, d, kind);
    uint8_t *cov = draw_digit(g, k, r);
    uint16_t *s = compose(W, H, ch, bg, ink, cov, 28 * k, ox, oy, amp);
    if (quality) save_jpeg(p, W, H, s, quality);
    else save_png(p, W, H, ch == 1 ? 0 : ch == 3 ? 2 : 6, s);
    free(s);
    free(cov);
}

/* ------------------------------------------------------------------ the library's preparation */

TEST(image_prepare_keeps_mnist_digits_and_finds_small_ones) {
    const char *data = check_mnist_dir();
    if (!data) {
        check_skip("MNIST not found");
        return;
    }
    mlp_dataset test;
    mlp_error err;
    if (mlp_dataset_load_dir(NULL, &test, data, mlp_scaling_default(), &err)) {
        check_fail(__FILE__, __LINE__, "%s", err.msg);
        return;
    }
    /* the first 2000 test images through the MNIST preparation: (almost) all unchanged, none inverted */
    int same = 0, inverted = 0, blank = 0;
    const int N = 2000;
    for (int i = 0; i < N; i++) {
        uint8_t g[784];
        for (int k = 0; k < 784; k++) g[k] = (uint8_t)lroundf(test.x[(size_t)i * 784 + k] * 255.0f + 128.0f);
        mlp_image img = {28, 28, g, NULL};
        float x[784];
        mlp_prepare_info info;
        CHECK(mlp_image_prepare(&img, 28, 28, MLP_PREPARE_MNIST, MLP_INVERT_AUTO, mlp_scaling_default(), x, &info,
                                &err) == MLP_OK);
        same += !memcmp(x, test.x + (size_t)i * 784, sizeof x);
        inverted += info.inverted;
        blank += info.blank;
    }
    printf("    %d of %d MNIST test images unchanged by the MNIST preparation\n", same, N);
    CHECK_MSG(same >= N * 99 / 100, "only %d of %d unchanged", same, N);
    CHECK_INT(inverted, 0);
    CHECK_INT(blank, 0);

    /* test image 0 drawn black on white, 3x by pixel replication, in the lower left corner of a 640x480
     * page: the prepared input is the original (3x3 blocks are area-averaged back exactly) */
    uint8_t g0[784], *cov = malloc(84 * 84);
    for (int k = 0; k < 784; k++) g0[k] = (uint8_t)lroundf(test.x[k] * 255.0f + 128.0f);
    for (int k = 0; k < 84 * 84; k++) cov[k] = g0[(k / 84 / 3) * 28 + (k % 84) / 3];
    const int white[1] = {255}, black[1] = {0};
    uint16_t *s = compose(640, 480, 1, white, black, cov, 84, 10, 390, 0);
    uint8_t *page = malloc(640 * 480);
    for (int k = 0; k < 640 * 480; k++) page[k] = (uint8_t)s[k];
    mlp_image img = {640, 480, page, NULL};
    float x[784];
    mlp_prepare_info info;
    CHECK(mlp_image_prepare(&img, 28, 28, MLP_PREPARE_MNIST, MLP_INVERT_AUTO, mlp_scaling_default(), x, &info, &err) ==
          MLP_OK);
    CHECK_INT(info.inverted, 1);
    CHECK_INT(info.blank, 0);
    CHECK(info.box_x >= 10 && info.box_x + info.box_w <= 94 && info.box_y >= 390 && info.box_y + info.box_h <= 474);
    double diff = 0;
    for (int k = 0; k < 784; k++) diff += fabs(x[k] - test.x[k]);
    printf("    corner digit: box %d,%d %dx%d, mean |difference| to the MNIST image %.4f\n", info.box_x, info.box_y,
           info.box_w, info.box_h, diff / 784);
    CHECK_MSG(diff == 0, "the corner digit prepared differs from the original by %.4f per pixel", diff / 784);
    /* the whole-picture mode sees a speck: nearly all background */
    CHECK(mlp_image_prepare(&img, 28, 28, MLP_PREPARE_WHOLE, MLP_INVERT_AUTO, mlp_scaling_default(), x, &info, &err) ==
          MLP_OK);
    double whole = 0;
    for (int k = 0; k < 784; k++) whole += fabs(x[k] - test.x[k]);
    CHECK_MSG(whole / 784 > 0.05, "whole mode unexpectedly close (%.4f)", whole / 784);
    /* a blank page: blank, all background */
    for (int k = 0; k < 640 * 480; k++) page[k] = 250;
    CHECK(mlp_image_prepare(&img, 28, 28, MLP_PREPARE_MNIST, MLP_INVERT_AUTO, mlp_scaling_default(), x, &info, &err) ==
          MLP_OK);
    CHECK_INT(info.blank, 1);
    for (int k = 0; k < 784; k++) CHECK_NEAR(x[k], -128.0f / 255.0f, 0);
    /* bad arguments */
    CHECK(mlp_image_prepare(&img, 0, 28, MLP_PREPARE_MNIST, MLP_INVERT_AUTO, mlp_scaling_default(), x, &info, &err) ==
          MLP_ERR_ARG);
    CHECK(mlp_image_prepare(&img, 28, 28, MLP_PREPARE_COUNT, MLP_INVERT_AUTO, mlp_scaling_default(), x, &info, &err) ==
          MLP_ERR_ARG);
    mlp_prepare pm;
    CHECK(mlp_prepare_parse("fashion-mnist", &pm) == 0 && pm == MLP_PREPARE_FASHION);
    CHECK(mlp_prepare_parse("crop", &pm) == -1);
    free(page);
    free(s);
    free(cov);
    mlp_dataset_free(&test);
}

TEST(jpeg_reader_decodes_gray_and_refuses_damage) {
    const char *dir = check_tmpdir();
    /* a smooth RGB gradient (gray = luma) at quality 95: close to the source */
    enum { W = 64, H = 48 };
    uint16_t *s = malloc(sizeof(uint16_t) * W * H * 3);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint16_t *p = s + (y * W + x) * 3;
            p[0] = (uint16_t)(x * 4), p[1] = (uint16_t)(y * 5), p[2] = 128;
        }
    char path[600];
    snprintf(path, sizeof path, "%s/g.jpg", dir);
    save_jpeg(path, W, H, s, 95);
    uint8_t *g = NULL;
    int w, h;
    mlp_error err;
    CHECK(mlp_jpeg_read(path, &g, &w, &h, &err) == MLP_OK);
    CHECK_INT(w, W);
    CHECK_INT(h, H);
    double worst = 0;
    for (int k = 0; g && k < W * H; k++) {
        double y = 0.299 * s[3 * k] + 0.587 * s[3 * k + 1] + 0.114 * s[3 * k + 2];
        worst = fabs(g[k] - y) > worst ? fabs(g[k] - y) : worst;
    }
    CHECK_MSG(worst <= 4, "JPEG gray differs from the luma by %.1f", worst);
    free(g);
    /* mlp_image_read recognises it by content, whatever the name */
    char renamed[700];
    snprintf(renamed, sizeof renamed, "%s/g.png", dir);
    CHECK(rename(path, renamed) == 0);
    CHECK(mlp_image_read(renamed, &g, &w, &h, &err) == MLP_OK);
    free(g);
    /* truncated: refused, naming the file */
    FILE *f = fopen(renamed, "rb");
    uint8_t buf[65536];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    CHECK(mlp_jpeg_parse(buf, n / 2, "half.jpg", &g, &w, &h, &err) == MLP_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "half.jpg");
    CHECK(g == NULL);
    CHECK(mlp_jpeg_parse(buf, 2, "two.jpg", &g, &w, &h, &err) == MLP_ERR_FORMAT);
    /* a corrupt byte in the entropy-coded data or header: an error or a picture, never a crash */
    for (size_t at = 2; at < n; at += 97) {
        uint8_t save = buf[at];
        buf[at] ^= 0x5a;
        mlp_status st = mlp_jpeg_parse(buf, n, "bad.jpg", &g, &w, &h, &err);
        CHECK(st == MLP_OK || st == MLP_ERR_FORMAT);
        CHECK((st == MLP_OK) == (g != NULL));
        free(g);
        g = NULL;
        buf[at] = save;
    }
    free(s);
}

/* ------------------------------------------------------------------ the command */

static const char *after(const char *out, const char *name) {
    char key[1024];
    snprintf(key, sizeof key, "\"input\":\"%s", name);
    return strstr(out, key);
}

TEST(cli_predict_real_pictures) {
    const char *data = check_mnist_dir();
    if (!data) {
        check_skip("MNIST not found");
        return;
    }
    static char out[1 << 18];
    const char *dir = check_tmpdir();
    const char *model = check_small_model();
    CHECK(model != NULL);
    mlp_net net;
    mlp_model_meta meta;
    mlp_error err;
    mlp_dataset test;
    if (!model || mlp_model_load(model, &net, 1, &meta, &err) ||
        mlp_dataset_load_dir(NULL, &test, data, mlp_scaling_default(), &err)) {
        check_fail(__FILE__, __LINE__, "setup failed: %s", err.msg);
        return;
    }
    /* one test image per class that the model gets right with a margin of 4 */
    int picked[10], have = 0;
    for (int k = 0; k < 10; k++) picked[k] = -1;
    for (int i = 0; i < test.n && have < 10; i++) {
        const float *z = mlp_net_forward(&net, test.x + (size_t)i * 784, 1);
        int b = 0;
        for (int k = 1; k < 10; k++) b = z[k] > z[b] ? k : b;
        float second = -1e30f;
        for (int k = 0; k < 10; k++)
            if (k != b && z[k] > second) second = z[k];
        if (b == test.y[i] && z[b] - second > 4.0f && picked[b] < 0) picked[b] = i, have++;
    }
    CHECK_INT(have, 10);
    char picdir[700];
    snprintf(picdir, sizeof picdir, "%s/pictures", dir);
    check_sh(out, sizeof out, 1, "mkdir -p '%s'", picdir);
    static const char *kinds[] = {"corner.png", "transparent.png", "thick.png", "colour.png", "colour.jpg", "chalk.jpg"};
    enum { N_KINDS = sizeof kinds / sizeof *kinds };
    for (int d = 0; d < 10; d++) {
        uint8_t g[784];
        for (int k = 0; k < 784; k++) g[k] = (uint8_t)lroundf(test.x[(size_t)picked[d] * 784 + k] * 255.0f + 128.0f);
        /* a small dark digit in the lower left corner of a 640x480 noisy light page */
        const int paper[3] = {235, 235, 235}, pencil[3] = {40, 40, 40};
        picture(picdir, d, kinds[0], g, 3, 0, 640, 480, 1, paper, pencil, 12, 380, 6, 0);
        /* a white digit on a transparent 300x300 canvas, off centre */
        const int whiteink[3] = {255, 255, 255};
        picture(picdir, d, kinds[1], g, 6, 0, 300, 300, 4, paper, whiteink, 100, 20, 0, 0);
        /* thick marker strokes: black on white, 280x280, strokes thickened by 6 pixels on each side */
        const int white[3] = {255, 255, 255}, black[3] = {0, 0, 0};
        picture(picdir, d, kinds[2], g, 9, 6, 280, 280, 1, white, black, 14, 14, 0, 0);
        /* blue ink on yellow paper, top right of a 400x300 RGB picture; the same as a JPEG */
        const int yellow[3] = {240, 225, 140}, blue[3] = {30, 50, 170};
        picture(picdir, d, kinds[3], g, 4, 1, 400, 300, 3, yellow, blue, 270, 20, 4, 0);
        picture(picdir, d, kinds[4], g, 4, 1, 400, 300, 3, yellow, blue, 270, 20, 4, 80);
        /* chalk on a blackboard (light on dark, no inversion), a JPEG of 320x240 */
        const int board[3] = {45, 60, 50}, chalk[3] = {230, 230, 225};
        picture(picdir, d, kinds[5], g, 5, 2, 320, 240, 3, board, chalk, 150, 60, 8, 75);
    }
    /* blank pictures: a noisy white page, a page with one small speck, an entirely transparent canvas */
    {
        const int paper[3] = {240, 240, 240}, ink[3] = {0, 0, 0};
        uint8_t speck[9] = {255, 255, 255, 255, 255, 255, 255, 255, 255};
        uint16_t *s = compose(200, 200, 1, paper, ink, speck, 3, 100, 100, 3);
        char p[800];
        snprintf(p, sizeof p, "%s/zz_speck.png", picdir);
        save_png(p, 200, 200, 0, s);
        free(s);
        s = compose(200, 200, 1, paper, ink, speck, 0, 0, 0, 3);
        snprintf(p, sizeof p, "%s/zz_white.png", picdir);
        save_png(p, 200, 200, 0, s);
        free(s);
        s = compose(50, 50, 4, paper, ink, speck, 0, 0, 0, 0);
        snprintf(p, sizeof p, "%s/zz_clear.png", picdir);
        save_png(p, 50, 50, 6, s);
        free(s);
        snprintf(p, sizeof p, "%s/notes.txt", picdir); /* not a picture: the folder scan skips it */
        CHECK(write_bytes(p, "hello", 5) == 0);
    }

    /* the folder, as JSON Lines */
    static char err_out[65536];
    char errfile[800];
    snprintf(errfile, sizeof errfile, "%s/stderr.txt", dir);
    int st = check_sh(out, sizeof out, 0, "{ '%s' predict '%s' '%s' --json --top 3 2>'%s'; }", check_mlp_bin(), model,
                  picdir, errfile);
    CHECK_MSG(st == 0, "predict --json: exit %d: %.3000s", st, out);
    char *e = check_read_text(errfile);
    snprintf(err_out, sizeof err_out, "%s", e ? e : "");
    free(e);
    int lines = 0, right[N_KINDS] = {0};
    for (char *l = out; *l;) {
        char *nl = strchr(l, '\n');
        CHECK(nl != NULL);
        if (!nl) break;
        json_doc doc;
        CHECK_MSG(json_parse(&doc, l, (size_t)(nl - l), NULL, &err) == MLP_OK, "not JSON: %.*s (%s)", (int)(nl - l), l,
                  err.msg);
        const char *input = json_string(json_get(doc.root, "input"));
        int64_t cls = -1;
        double prob = -1, sum = 0;
        CHECK(input != NULL);
        CHECK(json_int64(json_get(doc.root, "class"), &cls) == 0);
        CHECK(json_double(json_get(doc.root, "probability"), &prob) == 0);
        const json_value *sc = json_get(doc.root, "scores"), *pr = json_get(doc.root, "probabilities"),
                         *tp = json_get(doc.root, "top");
        CHECK_INT(json_count(sc), 10);
        CHECK_INT(json_count(pr), 10);
        CHECK_INT(json_count(tp), 3);
        /* probabilities = softmax(scores), best first in top */
        double z[10], zmax = -1e300, zs = 0;
        for (int k = 0; k < 10; k++) {
            json_double(json_at(sc, (size_t)k), &z[k]);
            zmax = z[k] > zmax ? z[k] : zmax;
        }
        for (int k = 0; k < 10; k++) zs += exp(z[k] - zmax);
        for (int k = 0; k < 10; k++) {
            double pk;
            json_double(json_at(pr, (size_t)k), &pk);
            CHECK_NEAR(pk, exp(z[k] - zmax) / zs, 1e-6);
            sum += pk;
        }
        CHECK_NEAR(sum, 1.0, 1e-9);
        double prev = 2;
        for (int t = 0; t < 3; t++) {
            double pt;
            CHECK(json_double(json_get(json_at(tp, (size_t)t), "probability"), &pt) == 0);
            CHECK(pt <= prev);
            prev = pt;
        }
        const char *base = input && strrchr(input, '/') ? strrchr(input, '/') + 1 : "?";
        int is_blank = base[0] == 'z' && base[1] == 'z';
        CHECK_MSG(json_is_null(json_get(doc.root, "warning")) == !is_blank, "%s: warning %s", base,
                  json_kind(json_get(doc.root, "warning")));
        if (!is_blank)
            for (int k = 0; k < N_KINDS; k++)
                if (!strcmp(base + 2, kinds[k])) {
                    int d = base[0] - '0';
                    right[k] += cls == d;
                    if (cls != d) printf("    %s: class %d (p %.3f), the digit is %d\n", base, (int)cls, prob, d);
                }
        json_free(&doc);
        lines++;
        l = nl + 1;
    }
    CHECK_INT(lines, 10 * N_KINDS + 3); /* notes.txt skipped */
    for (int k = 0; k < N_KINDS; k++) {
        printf("    %-16s %d of 10 right\n", kinds[k], right[k]);
        CHECK_MSG(right[k] >= (k == 2 ? 9 : 10), "%s: only %d of 10 digits right", kinds[k], right[k]);
    }
    CHECK_CONTAINS(err_out, "zz_speck.png: blank or nearly blank");
    CHECK_CONTAINS(err_out, "zz_white.png: blank or nearly blank");
    CHECK_CONTAINS(err_out, "zz_clear.png: blank or nearly blank");

    /* the former whole-picture resize misses the corner digits (why the MNIST preparation exists) */
    char files[4096];
    size_t used = 0;
    for (int d = 0; d < 10; d++)
        used += (size_t)snprintf(files + used, sizeof files - used, " '%s/%d_corner.png'", picdir, d);
    st = check_sh(out, sizeof out, 0, "'%s' predict '%s' --prepare whole --json%s", check_mlp_bin(), model, files);
    CHECK_INT(st, 0);
    int whole_right = 0;
    for (int d = 0; d < 10; d++) {
        char name[64];
        snprintf(name, sizeof name, "%d_corner.png", d);
        const char *l = strstr(out, name);
        const char *c = l ? strstr(l, "\"class\":") : NULL;
        whole_right += c && atoi(c + 8) == d;
    }
    printf("    --prepare whole: %d of 10 corner digits right\n", whole_right);
    CHECK(whole_right <= 5);

    /* plain text, --top 2; then --out CSV, refused over an existing file, replaced with --force */
    st = check_sh(out, sizeof out, 1, "'%s' predict '%s' '%s/3_colour.jpg' --top 2", check_mlp_bin(), model, picdir);
    CHECK_INT(st, 0);
    CHECK_CONTAINS(out, "3_colour.jpg: 3 (p ");
    CHECK(strchr(strstr(out, "(p "), ',') != NULL);
    char csv[800];
    snprintf(csv, sizeof csv, "%s/out.csv", dir);
    st = check_sh(out, sizeof out, 1, "'%s' predict '%s' '%s' --out '%s' >/dev/null 2>&1", check_mlp_bin(), model,
                  picdir, csv);
    CHECK_INT(st, 0);
    char *text = check_read_text(csv);
    CHECK(text != NULL);
    if (text) {
        CHECK(!strncmp(text, "input,class,name,probability,p0,p1,", 35));
        int rows = 0;
        for (char *q = text; (q = strchr(q, '\n')); q++) rows++;
        CHECK_INT(rows, 1 + 10 * N_KINDS + 3);
        CHECK_CONTAINS(text, "7_thick.png,7,,");
        CHECK_CONTAINS(text, "blank or nearly blank");
        free(text);
    }
    st = check_sh(out, sizeof out, 1, "'%s' predict '%s' '%s' --out '%s'", check_mlp_bin(), model, picdir, csv);
    CHECK_INT(st, 2);
    CHECK_CONTAINS(out, "--force");
    st = check_sh(out, sizeof out, 1, "'%s' predict '%s' '%s/1_corner.png' --out '%s' --force", check_mlp_bin(), model,
                  picdir, csv);
    CHECK_INT(st, 0);
    text = check_read_text(csv);
    CHECK(text && strstr(text, "1_corner.png,1,") && !strstr(text, "2_corner.png"));
    free(text);
    /* an unreadable input among good ones: reported, the others classified, exit 1; in JSON an error object */
    st = check_sh(out, sizeof out, 0, "'%s' predict '%s' '%s/notes.txt' '%s/2_corner.png' --json 2>/dev/null",
                  check_mlp_bin(), model, picdir, picdir);
    CHECK_INT(st, 1);
    CHECK(after(out, picdir) != NULL);
    CHECK_CONTAINS(out, "\"error\":");
    CHECK_CONTAINS(out, "\"class\":2");
    mlp_net_free(&net);
    mlp_dataset_free(&test);
}
