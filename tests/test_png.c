/* test_png.c - the PNG reader (every colour type, bit depth, filter and interlace; damaged files) and the
 * image preparation (polarity, resampling, scaling).
 *
 * PNGs are made by test_png_encode below, a small independent encoder (it filters with the type asked
 * for and splits the zlib stream over several IDAT chunks), so every decoder path is reached with known
 * pixels. It is also used by test_cli_manners.c. */
#include "check.h"
#include "mlp.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ------------------------------------------------------------------ a test encoder */

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

typedef struct bytes {
    uint8_t *p;
    size_t n, cap;
} bytes;

static void bput(bytes *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

/* Append a chunk with a correct CRC. */
static void chunk_put(bytes *b, const char *type, const uint8_t *data, size_t n) {
    uint8_t hdr[8];
    put32(hdr, (uint32_t)n);
    memcpy(hdr + 4, type, 4);
    bput(b, hdr, 8);
    if (n) bput(b, data, n);
    uLong crc = crc32(0L, (const Bytef *)type, 4);
    if (n) crc = crc32(crc, data, (uInt)n);
    uint8_t c[4];
    put32(c, (uint32_t)crc);
    bput(b, c, 4);
}

static int channels_of(int ctype) { return ctype == 2 ? 3 : ctype == 4 ? 2 : ctype == 6 ? 4 : 1; }

static int predictor(int type, int a, int b, int c) {
    switch (type) {
    case 1: return a;
    case 2: return b;
    case 3: return (a + b) / 2;
    case 4: {
        int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
    default: return 0;
    }
}

/*
 * Encode samples [h x w x channels] (each within the bit depth) as a PNG. filter: 0..4 for every row,
 * -1 to cycle through the five types row by row. interlace: 0 or 1 (Adam7). plte: n_plte RGB triples
 * (or NULL); trns: n_trns bytes (or NULL). Returns a malloc'ed file, its length in *len.
 */
uint8_t *test_png_encode(int w, int h, int ctype, int depth, const uint16_t *samples, const uint8_t *plte,
                         int n_plte, const uint8_t *trns, int n_trns, int filter, int interlace, size_t *len);
uint8_t *test_png_encode(int w, int h, int ctype, int depth, const uint16_t *samples, const uint8_t *plte,
                         int n_plte, const uint8_t *trns, int n_trns, int filter, int interlace, size_t *len) {
    static const int adam7[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                                    {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};
    static const int whole[1][4] = {{0, 0, 1, 1}};
    const int ch = channels_of(ctype), bits = ch * depth, bpp = bits >= 8 ? bits / 8 : 1;
    bytes raw = {0}, file = {0};
    int row_counter = 0;
    for (int p = 0; p < (interlace ? 7 : 1); p++) {
        const int *ps = interlace ? adam7[p] : whole[0];
        if (w <= ps[0] || h <= ps[1]) continue;
        int pw = (w - ps[0] + ps[2] - 1) / ps[2], ph = (h - ps[1] + ps[3] - 1) / ps[3];
        size_t rb = ((size_t)pw * bits + 7) / 8;
        uint8_t *prev = calloc(rb + 1, 1), *cur = calloc(rb + 1, 1), *out = malloc(rb + 1);
        for (int r = 0; r < ph; r++) {
            memset(cur, 0, rb);
            int y = ps[1] + r * ps[3];
            for (int xi = 0; xi < pw; xi++) {
                int x = ps[0] + xi * ps[2];
                for (int c = 0; c < ch; c++) {
                    unsigned v = samples[((size_t)y * w + x) * ch + c];
                    size_t si = (size_t)xi * ch + c;
                    if (depth == 16) cur[2 * si] = (uint8_t)(v >> 8), cur[2 * si + 1] = (uint8_t)v;
                    else if (depth == 8) cur[si] = (uint8_t)v;
                    else cur[si * depth / 8] |= (uint8_t)(v << (8 - depth - (si * depth) % 8));
                }
            }
            int ft = filter >= 0 ? filter : row_counter % 5;
            row_counter++;
            out[0] = (uint8_t)ft;
            for (size_t i = 0; i < rb; i++) {
                int a = i >= (size_t)bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= (size_t)bpp ? prev[i - bpp] : 0;
                out[1 + i] = (uint8_t)(cur[i] - predictor(ft, a, b, c));
            }
            bput(&raw, out, rb + 1);
            uint8_t *t = prev;
            prev = cur;
            cur = t;
        }
        free(prev);
        free(cur);
        free(out);
    }
    static const uint8_t sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
    bput(&file, sig, 8);
    uint8_t ihdr[13];
    put32(ihdr, (uint32_t)w);
    put32(ihdr + 4, (uint32_t)h);
    ihdr[8] = (uint8_t)depth, ihdr[9] = (uint8_t)ctype, ihdr[10] = 0, ihdr[11] = 0, ihdr[12] = (uint8_t)interlace;
    chunk_put(&file, "IHDR", ihdr, 13);
    chunk_put(&file, "tEXt", (const uint8_t *)"Comment\0test", 12); /* an ancillary chunk to skip */
    if (plte) chunk_put(&file, "PLTE", plte, (size_t)n_plte * 3);
    if (trns) chunk_put(&file, "tRNS", trns, (size_t)n_trns);
    uLongf zlen = compressBound((uLong)raw.n);
    uint8_t *z = malloc(zlen);
    compress2(z, &zlen, raw.p ? raw.p : (const Bytef *)"", (uLong)raw.n, 9);
    /* several IDAT chunks (one of them empty), so the stream crosses chunk boundaries */
    size_t piece = zlen / 3 + 1;
    for (size_t at = 0; at < zlen; at += piece) {
        chunk_put(&file, "IDAT", z + at, at + piece < zlen ? piece : zlen - at);
        if (at == 0) chunk_put(&file, "IDAT", NULL, 0);
    }
    chunk_put(&file, "IEND", NULL, 0);
    free(z);
    free(raw.p);
    *len = file.n;
    return file.p;
}

/* ------------------------------------------------------------------ helpers */

static uint64_t lcg(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* The expected gray value, computed the straightforward way in double. */
static int expect_gray(double y, double a) {
    double v = 255.0 * (y * a + (1.0 - a));
    return (int)floor(v + 0.5);
}

static int decode(const uint8_t *buf, size_t len, uint8_t **g, int *w, int *h, mlp_error *err) {
    return mlp_png_parse(buf, len, "test.png", g, w, h, err);
}

/* ------------------------------------------------------------------ every format */

TEST(png_every_colour_type_depth_filter_interlace) {
    static const int formats[][2] = {{0, 1}, {0, 2}, {0, 4}, {0, 8}, {0, 16}, {2, 8}, {2, 16}, {3, 1},
                                     {3, 2}, {3, 4}, {3, 8}, {4, 8}, {4, 16}, {6, 8}, {6, 16}};
    static const int sizes[][2] = {{1, 1}, {3, 5}, {8, 8}, {17, 9}, {33, 31}};
    uint64_t seed = 42;
    int decoded = 0;
    for (size_t f = 0; f < sizeof formats / sizeof *formats; f++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
            for (int filter = -1; filter <= 4; filter++)
                for (int il = 0; il <= 1; il++) {
                    const int ct = formats[f][0], depth = formats[f][1], w = sizes[s][0], h = sizes[s][1];
                    const int ch = channels_of(ct);
                    const unsigned maxv = (1u << depth) - 1;
                    uint16_t *smp = malloc(sizeof(uint16_t) * (size_t)w * h * ch);
                    uint8_t plte[256 * 3], trns[256];
                    int n_plte = 1 << (depth < 8 ? depth : 8);
                    if (n_plte > 200) n_plte = 200; /* fewer entries than indices is allowed */
                    for (int i = 0; i < 3 * n_plte; i++) plte[i] = (uint8_t)lcg(&seed);
                    for (int i = 0; i < n_plte; i++) trns[i] = (uint8_t)lcg(&seed);
                    for (int i = 0; i < w * h * ch; i++)
                        smp[i] = (uint16_t)(ct == 3 ? lcg(&seed) % (unsigned)n_plte : lcg(&seed) & maxv);
                    size_t len;
                    uint8_t *png = test_png_encode(w, h, ct, depth, smp, ct == 3 ? plte : NULL, n_plte,
                                                   ct == 3 && (s & 1) ? trns : NULL, n_plte, filter, il, &len);
                    uint8_t *g = NULL;
                    int gw, gh;
                    mlp_error err;
                    int st = decode(png, len, &g, &gw, &gh, &err);
                    CHECK_MSG(st == MLP_OK, "type %d depth %d %dx%d filter %d interlace %d: %s", ct, depth, w, h,
                              filter, il, err.msg);
                    if (st == MLP_OK) {
                        decoded++;
                        CHECK_INT(gw, w);
                        CHECK_INT(gh, h);
                        int bad = 0;
                        for (int i = 0; i < w * h && !bad; i++) {
                            const uint16_t *p = smp + (size_t)i * ch;
                            double y, a = 1.0;
                            if (ct == 0) y = p[0] / (double)maxv;
                            else if (ct == 4) y = p[0] / (double)maxv, a = p[1] / (double)maxv;
                            else if (ct == 3) {
                                const uint8_t *e = plte + 3 * p[0];
                                y = (0.299 * e[0] + 0.587 * e[1] + 0.114 * e[2]) / 255.0;
                                if (s & 1) a = trns[p[0]] / 255.0;
                            } else {
                                y = (0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]) / maxv;
                                if (ct == 6) a = p[3] / (double)maxv;
                            }
                            int want = expect_gray(y, a);
                            /* gray is exact; with colour or alpha a value a hair from .5 may round either way */
                            int tol = (ct == 0) ? 0 : 1;
                            if (abs(g[i] - want) > tol) {
                                bad = 1;
                                check_fail(__FILE__, __LINE__,
                                           "type %d depth %d %dx%d filter %d il %d: pixel %d is %d, expected %d", ct,
                                           depth, w, h, filter, il, i, g[i], want);
                            }
                        }
                    }
                    free(g);
                    free(png);
                    free(smp);
                }
    printf("    %d images decoded (15 formats x 5 sizes x 6 filter choices x 2 interlace modes)\n", decoded);
}

/* Known values, worked out by hand: BT.601 weights, alpha over white, tRNS keys, bit-depth scaling. */
TEST(png_known_values) {
    mlp_error err;
    uint8_t *g;
    int w, h;
    size_t len;
    /* RGB 8: red 0.299*255 = 76.245, green 149.685, blue 29.07, white, black, mid gray */
    const uint16_t rgb[] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 128, 128, 128};
    uint8_t *png = test_png_encode(6, 1, 2, 8, rgb, NULL, 0, NULL, 0, 0, 0, &len);
    CHECK(decode(png, len, &g, &w, &h, &err) == MLP_OK);
    const int want_rgb[] = {76, 150, 29, 255, 0, 128};
    for (int i = 0; i < 6; i++) CHECK_INT(g[i], want_rgb[i]);
    free(g);
    free(png);
    /* gray+alpha 8: transparent black -> white background; opaque black; half-transparent black */
    const uint16_t ga[] = {0, 0, 0, 255, 0, 128, 200, 255};
    png = test_png_encode(4, 1, 4, 8, ga, NULL, 0, NULL, 0, 1, 0, &len);
    CHECK(decode(png, len, &g, &w, &h, &err) == MLP_OK);
    CHECK_INT(g[0], 255);
    CHECK_INT(g[1], 0);
    CHECK_INT(g[2], 127); /* 255 * (1 - 128/255) = 127 */
    CHECK_INT(g[3], 200);
    free(g);
    free(png);
    /* gray 2-bit with a tRNS key of 1: values 0, 1 (transparent -> 255), 2 -> 170, 3 -> 255 */
    const uint16_t g2[] = {0, 1, 2, 3};
    const uint8_t key[2] = {0, 1};
    png = test_png_encode(4, 1, 0, 2, g2, NULL, 0, key, 2, 0, 0, &len);
    CHECK(decode(png, len, &g, &w, &h, &err) == MLP_OK);
    CHECK_INT(g[0], 0);
    CHECK_INT(g[1], 255);
    CHECK_INT(g[2], 170);
    CHECK_INT(g[3], 255);
    free(g);
    free(png);
    /* 16-bit gray keeps precision until rounding: 0x8080 = 32896 -> 128; 0x807f -> 127.998 -> 128; 0x7f80 -> 127 */
    const uint16_t g16[] = {0x8080, 0x807f, 0x7f80, 0xffff};
    png = test_png_encode(2, 2, 0, 16, g16, NULL, 0, NULL, 0, 4, 1, &len);
    CHECK(decode(png, len, &g, &w, &h, &err) == MLP_OK);
    CHECK_INT(g[0], 128);
    CHECK_INT(g[1], 128);
    CHECK_INT(g[2], 127);
    CHECK_INT(g[3], 255);
    free(g);
    free(png);
    /* RGB tRNS key (0, 0, 255): the blue pixel becomes background white */
    const uint16_t rgbk[] = {0, 0, 255, 0, 0, 254};
    const uint8_t rkey[6] = {0, 0, 0, 0, 0, 255};
    png = test_png_encode(2, 1, 2, 8, rgbk, NULL, 0, rkey, 6, 0, 0, &len);
    CHECK(decode(png, len, &g, &w, &h, &err) == MLP_OK);
    CHECK_INT(g[0], 255);
    CHECK_INT(g[1], 29); /* 0.114 * 254 = 28.96 */
    free(g);
    free(png);
}

/* PNGs made by another encoder (ImageMagick 6 `convert`), to guard against a misunderstanding shared by
 * test_png_encode and the decoder:
 *   rgb_il: 3x2 gray 0 51 102 / 153 204 255 stored as 8-bit RGB, Adam7-interlaced;
 *   pal:    3x2 red green blue / white black red, a 4-bit palette of 5 entries;
 *   ga16:   4x3 16-bit gray (0 1000 20000 30000 / 40000 50000 60000 65535 / 65535 0 12345 54321) with
 *           half alpha (32768 or 32767 of 65535), gray+alpha, Adam7-interlaced. */
static const uint8_t im_rgb_il[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
    0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0x08, 0x02, 0x00, 0x00, 0x01, 0x65, 0x11, 0xc1, 0xdb, 0x00, 0x00, 0x00,
    0x1f, 0x49, 0x44, 0x41, 0x54, 0x08, 0xd7, 0x63, 0x60, 0x60, 0x60, 0x60, 0x48, 0x4b, 0x4b, 0x63, 0x30, 0x36,
    0x36, 0x66, 0x98, 0x39, 0x73, 0xe6, 0x99, 0x33, 0x67, 0xfe, 0xff, 0xff, 0x0f, 0x00, 0x3a, 0xa8, 0x08, 0xf8,
    0x17, 0x17, 0x34, 0xb1, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82
};
static const uint8_t im_pal[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
    0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0x04, 0x03, 0x00, 0x00, 0x00, 0x6f, 0x5a, 0x7b, 0x29, 0x00, 0x00, 0x00,
    0x0f, 0x50, 0x4c, 0x54, 0x45, 0xff, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00,
    0x00, 0x00, 0x2b, 0xf5, 0xbd, 0x2c, 0x00, 0x00, 0x00, 0x0e, 0x49, 0x44, 0x41, 0x54, 0x08, 0xd7, 0x63, 0x60,
    0x54, 0x60, 0x30, 0x61, 0x00, 0x00, 0x00, 0xf3, 0x00, 0x56, 0x16, 0xe0, 0xab, 0xfb, 0x00, 0x00, 0x00, 0x00,
    0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82
};
static const uint8_t im_ga16[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
    0x00, 0x04, 0x00, 0x00, 0x00, 0x03, 0x10, 0x04, 0x00, 0x00, 0x01, 0x39, 0x6a, 0x8a, 0x98, 0x00, 0x00, 0x00,
    0x3e, 0x49, 0x44, 0x41, 0x54, 0x08, 0xd7, 0x63, 0x60, 0x60, 0x68, 0x60, 0x60, 0xf0, 0x53, 0x68, 0x60, 0x60,
    0xfc, 0xff, 0xbf, 0x81, 0xc1, 0xd0, 0x8a, 0x81, 0x81, 0x91, 0xf9, 0x45, 0x03, 0x43, 0x91, 0x07, 0x03, 0x03,
    0xd3, 0x5f, 0x09, 0x06, 0x86, 0x78, 0x46, 0x06, 0x06, 0xc6, 0x39, 0x0e, 0x0d, 0x0c, 0xea, 0x02, 0x0c, 0x0c,
    0xea, 0x02, 0x0c, 0x0c, 0xa2, 0xf3, 0x19, 0x18, 0x00, 0x40, 0x9a, 0x0a, 0x75, 0x28, 0x2e, 0xcb, 0x22, 0x00,
    0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82
};

TEST(png_files_from_another_encoder) {
    static const struct {
        const uint8_t *png;
        size_t len;
        int w, h;
        int want[12];
    } cases[] = {
        {im_rgb_il, sizeof im_rgb_il, 3, 2, {0, 51, 102, 153, 204, 255}},
        /* BT.601: red 76.245, green 149.685, blue 29.07 */
        {im_pal, sizeof im_pal, 3, 2, {76, 150, 29, 255, 0, 76}},
        /* 255 (g/65535 a + 1 - a), a = 0.5 */
        {im_ga16, sizeof im_ga16, 4, 3, {128, 129, 166, 186, 205, 225, 244, 255, 255, 128, 152, 233}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        uint8_t *g;
        int w, h;
        mlp_error err;
        int st = decode(cases[c].png, cases[c].len, &g, &w, &h, &err);
        CHECK_MSG(st == MLP_OK, "case %zu: %s", c, err.msg);
        if (st) continue;
        CHECK_INT(w, cases[c].w);
        CHECK_INT(h, cases[c].h);
        for (int i = 0; i < w * h; i++)
            CHECK_MSG(abs(g[i] - cases[c].want[i]) <= (c == 2 ? 1 : 0), "case %zu pixel %d: %d, expected %d", c, i,
                      g[i], cases[c].want[i]);
        free(g);
    }
}

/* ------------------------------------------------------------------ damaged and hostile files */

/* A small valid PNG to damage: 8x6 RGBA, cycling filters. */
static uint8_t *sample_png(size_t *len) {
    uint16_t smp[8 * 6 * 4];
    for (int i = 0; i < 8 * 6 * 4; i++) smp[i] = (uint16_t)((i * 37) & 255);
    return test_png_encode(8, 6, 6, 8, smp, NULL, 0, NULL, 0, -1, 0, len);
}

/* Recompute the CRC of the chunk starting at offset at (after a deliberate edit of its contents). */
static void fix_crc(uint8_t *png, size_t at) {
    uint32_t n = (uint32_t)png[at] << 24 | (uint32_t)png[at + 1] << 16 | (uint32_t)png[at + 2] << 8 | png[at + 3];
    uLong crc = crc32(0L, png + at + 4, 4 + n);
    put32(png + at + 8 + n, (uint32_t)crc);
}

static void expect_error(const uint8_t *png, size_t len, mlp_status code, const char *phrase) {
    uint8_t *g = (uint8_t *)1;
    int w = 1, h = 1;
    mlp_error err;
    err.msg[0] = '\0';
    mlp_status st = decode(png, len, &g, &w, &h, &err);
    CHECK_MSG(st == code, "status %d (%s), expected %d; message: %s", st, mlp_status_name(st), code, err.msg);
    CHECK_CONTAINS(err.msg, phrase);
    CHECK_CONTAINS(err.msg, "test.png");
    CHECK(g == NULL && w == 0 && h == 0);
}

TEST(png_damaged_files_give_clear_errors) {
    size_t len;
    uint8_t *png = sample_png(&len);
    uint8_t *b = malloc(len + 64);
    uint8_t *g;
    int w, h;
    mlp_error err;
    CHECK(decode(png, len, &g, &w, &h, &err) == MLP_OK);
    free(g);
    /* every truncation is an error, never a crash */
    for (size_t n = 0; n < len; n++) {
        mlp_status st = decode(png, n, &g, &w, &h, &err);
        CHECK_MSG(st == MLP_ERR_FORMAT, "truncated to %zu bytes: status %d", n, st);
        if (st == MLP_OK) free(g);
    }
    expect_error(png, 20, MLP_ERR_FORMAT, "truncated");
    /* signature */
    memcpy(b, png, len);
    b[1] = 'X';
    expect_error(b, len, MLP_ERR_FORMAT, "not a PNG");
    memcpy(b, png, len);
    b[4] = '\n'; /* \r\n -> \n\n: a text-mode transfer */
    expect_error(b, len, MLP_ERR_FORMAT, "damaged PNG signature");
    /* a flipped bit inside the IHDR data: the CRC catches it */
    memcpy(b, png, len);
    b[8 + 8 + 3] ^= 1;
    expect_error(b, len, MLP_ERR_FORMAT, "CRC mismatch in chunk IHDR");
    /* IHDR validation (CRC fixed so the field checks are reached) */
    static const struct {
        int offset; /* in the IHDR data */
        uint8_t value;
        const char *phrase;
    } ihdr[] = {{8, 3, "bit depth 3"}, {9, 1, "colour type 1"}, {8, 16, ""}, {10, 1, "compression method 1"},
                {11, 1, "filter method 1"}, {12, 2, "interlace method 2"}};
    for (size_t i = 0; i < sizeof ihdr / sizeof *ihdr; i++) {
        memcpy(b, png, len);
        b[16 + ihdr[i].offset] = ihdr[i].value;
        fix_crc(b, 8);
        if (ihdr[i].phrase[0]) expect_error(b, len, MLP_ERR_FORMAT, ihdr[i].phrase);
        else CHECK(decode(b, len, &g, &w, &h, &err) == MLP_ERR_FORMAT); /* RGBA 16 needs twice the data */
    }
    /* zero width; then sizes over the limits, refused before allocating (no NOMEM, no long decode) */
    static const uint32_t dims[][2] = {{0, 6}, {60000, 60000}, {70000, 1}, {1u << 31, 1}};
    static const char *dim_phrase[] = {"image size 0x6", "too large", "too large", "image size"};
    for (int i = 0; i < 4; i++) {
        memcpy(b, png, len);
        put32(b + 16, dims[i][0]);
        put32(b + 20, dims[i][1]);
        fix_crc(b, 8);
        expect_error(b, len, MLP_ERR_FORMAT, dim_phrase[i]);
    }
    /* a corrupt byte inside the compressed stream, CRC fixed: zlib reports it, or the rows come out wrong */
    size_t idat = 8 + 25 + 24; /* signature, IHDR, tEXt */
    CHECK(!memcmp(png + idat + 4, "IDAT", 4));
    memcpy(b, png, len);
    b[idat + 8] ^= 0x20; /* the zlib header's check bits */
    fix_crc(b, idat);
    expect_error(b, len, MLP_ERR_FORMAT, "zlib");
    /* an unknown critical chunk is an error; an unknown ancillary chunk is skipped */
    memcpy(b, png, len);
    memcpy(b + 33 + 4, "TEXT", 4);
    fix_crc(b, 33);
    expect_error(b, len, MLP_ERR_FORMAT, "unknown critical chunk TEXT");
    memcpy(b + 33 + 4, "teXt", 4);
    fix_crc(b, 33);
    CHECK(decode(b, len, &g, &w, &h, &err) == MLP_OK);
    free(g);
    /* no IEND: cut the last 12 bytes */
    expect_error(png, len - 12, MLP_ERR_FORMAT, "before the IEND");
    /* bytes after IEND are ignored */
    memcpy(b, png, len);
    memcpy(b + len, "trailing garbage", 16);
    CHECK(decode(b, len + 16, &g, &w, &h, &err) == MLP_OK);
    free(g);
    free(b);
    free(png);

    /* filter type 5 on a row; the expected data length is larger than the stream */
    uint16_t smp[4] = {1, 2, 3, 4};
    png = test_png_encode(2, 2, 0, 8, smp, NULL, 0, NULL, 0, 0, 0, &len);
    /* build by hand: raw rows with a bad filter byte */
    uint8_t raw[6] = {5, 1, 2, 0, 3, 4};
    uint8_t z[64];
    uLongf zl = sizeof z;
    compress2(z, &zl, raw, 6, 9);
    bytes f = {0};
    bput(&f, png, 33); /* signature + IHDR */
    chunk_put(&f, "IDAT", z, zl);
    chunk_put(&f, "IEND", NULL, 0);
    expect_error(f.p, f.n, MLP_ERR_FORMAT, "unknown filter type 5 on row 0");
    /* too little data: 2x2 needs 6 bytes, give 4 */
    f.n = 33;
    zl = sizeof z;
    raw[0] = 0;
    compress2(z, &zl, raw, 4, 9);
    chunk_put(&f, "IDAT", z, zl);
    chunk_put(&f, "IEND", NULL, 0);
    expect_error(f.p, f.n, MLP_ERR_FORMAT, "ends after 4 bytes");
    /* IDAT chunks that are not consecutive */
    f.n = 33;
    zl = sizeof z;
    compress2(z, &zl, raw, 6, 9);
    chunk_put(&f, "IDAT", z, 4);
    chunk_put(&f, "teXt", (const uint8_t *)"a\0b", 3);
    chunk_put(&f, "IDAT", z + 4, zl - 4);
    chunk_put(&f, "IEND", NULL, 0);
    expect_error(f.p, f.n, MLP_ERR_FORMAT, "not consecutive");
    free(f.p);
    free(png);

    /* palette problems: no PLTE, an index past the palette's end */
    uint16_t idx[4] = {0, 1, 2, 3};
    const uint8_t plte[6] = {0, 0, 0, 255, 255, 255};
    png = test_png_encode(2, 2, 3, 8, idx, NULL, 0, NULL, 0, 0, 0, &len);
    expect_error(png, len, MLP_ERR_FORMAT, "without a PLTE");
    free(png);
    png = test_png_encode(2, 2, 3, 8, idx, plte, 2, NULL, 0, 0, 0, &len);
    expect_error(png, len, MLP_ERR_FORMAT, "palette index 2 at row 1 is out of range");
    free(png);
    /* a PLTE in a grayscale image, a tRNS with an alpha channel */
    png = test_png_encode(2, 2, 0, 8, idx, plte, 2, NULL, 0, 0, 0, &len);
    expect_error(png, len, MLP_ERR_FORMAT, "PLTE chunk is not allowed");
    free(png);
    uint16_t ga[8] = {0};
    png = test_png_encode(2, 2, 4, 8, ga, NULL, 0, (const uint8_t *)"\0\0", 2, 0, 0, &len);
    expect_error(png, len, MLP_ERR_FORMAT, "tRNS is not allowed");
    free(png);
}

/* Random damage to a valid file, with the CRCs repaired so the damage reaches IHDR checks, zlib,
 * unfiltering and conversion: each result is a clean error or a decoded image (run under SAN=1). */
TEST(png_random_damage_never_crashes) {
    size_t len;
    uint8_t *png = sample_png(&len);
    uint8_t *b = malloc(len);
    uint64_t seed = 7;
    int ok = 0, errors = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(b, png, len);
        int flips = 1 + (int)(lcg(&seed) % 4);
        for (int k = 0; k < flips; k++) b[8 + lcg(&seed) % (len - 8)] ^= (uint8_t)(1u << (lcg(&seed) % 8));
        /* repair every chunk's CRC that still parses */
        for (size_t at = 8; at + 12 <= len;) {
            uint32_t n = (uint32_t)b[at] << 24 | (uint32_t)b[at + 1] << 16 | (uint32_t)b[at + 2] << 8 | b[at + 3];
            if (n > len - at - 12) break;
            if (lcg(&seed) % 8) fix_crc(b, at);
            at += 12 + n;
        }
        uint8_t *g = NULL;
        int w, h;
        mlp_error err;
        err.msg[0] = '\0';
        mlp_status st = decode(b, len, &g, &w, &h, &err);
        if (st == MLP_OK) {
            ok++;
            CHECK(g != NULL && w > 0 && h > 0);
            free(g);
        } else {
            errors++;
            CHECK(g == NULL && err.msg[0] != '\0');
        }
    }
    printf("    3000 damaged files: %d decoded, %d refused with a message\n", ok, errors);
    CHECK(errors > 100);
    free(b);
    free(png);
}

TEST(png_file_errors_name_the_file) {
    uint8_t *g;
    int w, h;
    mlp_error err;
    char path[600];
    const char *dir = check_tmpdir();
    snprintf(path, sizeof path, "%s/missing.png", dir);
    CHECK_INT(mlp_png_read(path, &g, &w, &h, &err), MLP_ERR_IO);
    CHECK_CONTAINS(err.msg, "missing.png");
    CHECK_INT(mlp_image_read(path, &g, &w, &h, &err), MLP_ERR_IO);
    snprintf(path, sizeof path, "%s/text.png", dir);
    FILE *f = fopen(path, "w");
    fputs("hello", f);
    fclose(f);
    CHECK_INT(mlp_png_read(path, &g, &w, &h, &err), MLP_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "text.png: not a PNG file");
    CHECK_INT(mlp_image_read(path, &g, &w, &h, &err), MLP_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "not a PNG, JPEG or PGM image");
    /* mlp_image_read recognises the content, whatever the name */
    size_t len;
    uint16_t smp[6] = {0, 10, 20, 30, 40, 250};
    uint8_t *png = test_png_encode(3, 2, 0, 8, smp, NULL, 0, NULL, 0, 2, 1, &len);
    snprintf(path, sizeof path, "%s/really_a_png.pgm", dir);
    f = fopen(path, "wb");
    fwrite(png, 1, len, f);
    fclose(f);
    free(png);
    CHECK(mlp_image_read(path, &g, &w, &h, &err) == MLP_OK);
    CHECK(w == 3 && h == 2 && g[5] == 250);
    free(g);
    snprintf(path, sizeof path, "%s/a_pgm.png", dir);
    f = fopen(path, "wb");
    fputs("P5\n2 1\n255\n\x07\x09", f);
    fclose(f);
    CHECK(mlp_image_read(path, &g, &w, &h, &err) == MLP_OK);
    CHECK(w == 2 && h == 1 && g[0] == 7 && g[1] == 9);
    free(g);
}

/* ------------------------------------------------------------------ image preparation */

TEST(image_resize_identity_blocks_and_mean) {
    enum { N = 28 };
    uint8_t img[N * N];
    uint64_t seed = 3;
    for (int i = 0; i < N * N; i++) img[i] = (uint8_t)lcg(&seed);
    float out[N * N];
    mlp_error err;
    /* same size: exactly the identity, and 255 - v with invert */
    CHECK(mlp_image_resize(img, N, N, 0, out, N, N, &err) == MLP_OK);
    int same = 1;
    for (int i = 0; i < N * N; i++) same &= out[i] == (float)img[i];
    CHECK(same);
    CHECK(mlp_image_resize(img, N, N, 1, out, N, N, &err) == MLP_OK);
    same = 1;
    for (int i = 0; i < N * N; i++) same &= out[i] == (float)(255 - img[i]);
    CHECK(same);
    /* pixel-replicated k times: area averaging gives the original back exactly */
    for (int k = 2; k <= 5; k++) {
        int W = N * k;
        uint8_t *big = malloc((size_t)W * W);
        for (int y = 0; y < W; y++)
            for (int x = 0; x < W; x++) big[y * W + x] = img[(y / k) * N + x / k];
        CHECK(mlp_image_resize(big, W, W, 0, out, N, N, &err) == MLP_OK);
        double maxdiff = 0;
        for (int i = 0; i < N * N; i++) maxdiff = fmax(maxdiff, fabs(out[i] - img[i]));
        CHECK_MSG(maxdiff < 1e-4, "factor %d: max difference %g", k, maxdiff);
        free(big);
    }
    /* a non-integer factor keeps the mean (the box weights of each output sum to 1, and every source
     * pixel's weights sum to (28/100)^2) */
    int W = 100;
    uint8_t *big = malloc((size_t)W * W);
    double mean_in = 0, mean_out = 0;
    for (int i = 0; i < W * W; i++) big[i] = (uint8_t)lcg(&seed), mean_in += big[i];
    CHECK(mlp_image_resize(big, W, W, 0, out, N, N, &err) == MLP_OK);
    for (int i = 0; i < N * N; i++) mean_out += out[i];
    CHECK_NEAR(mean_out / (N * N), mean_in / (W * W), 1e-3);
    free(big);
}

TEST(image_resize_upscale_aspect_and_limits) {
    mlp_error err;
    /* bilinear upscaling of a horizontal ramp stays a ramp; a constant stays constant */
    uint8_t ramp[14 * 14];
    for (int y = 0; y < 14; y++)
        for (int x = 0; x < 14; x++) ramp[y * 14 + x] = (uint8_t)(x * 10);
    float out[28 * 28];
    CHECK(mlp_image_resize(ramp, 14, 14, 0, out, 28, 28, &err) == MLP_OK);
    /* output x samples c = (x + 0.5) / 2 - 0.5, value 10 c, clamped at the ends */
    for (int x = 0; x < 28; x++) {
        double c = (x + 0.5) / 2 - 0.5;
        c = c < 0 ? 0 : c > 13 ? 13 : c;
        CHECK_NEAR(out[5 * 28 + x], 10 * c, 1e-4);
        CHECK_NEAR(out[27 * 28 + x], out[x], 0);
    }
    /* a wide picture is centred on a square canvas: 56x28 white -> rows 7..20 white, others black */
    uint8_t *wide = malloc(56 * 28);
    memset(wide, 255, 56 * 28);
    CHECK(mlp_image_resize(wide, 56, 28, 0, out, 28, 28, &err) == MLP_OK);
    for (int y = 0; y < 28; y++) CHECK_NEAR(out[y * 28 + 10], (y >= 7 && y < 21) ? 255 : 0, 1e-4);
    free(wide);
    /* sizes out of range */
    CHECK_INT(mlp_image_resize(ramp, 0, 14, 0, out, 28, 28, &err), MLP_ERR_ARG);
    CHECK_INT(mlp_image_resize(ramp, 14, 14, 0, out, 0, 28, &err), MLP_ERR_ARG);
}

TEST(image_polarity_and_input_scaling) {
    enum { N = 28 };
    uint8_t img[N * N];
    /* MNIST-like: a bright stroke on black */
    memset(img, 0, sizeof img);
    for (int y = 6; y < 22; y++) img[y * N + 13] = img[y * N + 14] = 250;
    CHECK_INT(mlp_image_is_dark_on_light(img, N, N), 0);
    float x[N * N];
    int inv = -1;
    mlp_error err;
    mlp_scaling s = mlp_scaling_default();
    CHECK(mlp_image_to_input(img, N, N, N, N, MLP_INVERT_AUTO, s, x, &inv, &err) == MLP_OK);
    CHECK_INT(inv, 0);
    /* the same floats as the IDX loader: (p - 128) / 255 through the same float operations */
    int same = 1;
    for (int i = 0; i < N * N; i++) same &= x[i] == ((float)img[i] - s.offset) * s.scale;
    CHECK(same);
    /* black on white: auto inverts, and gives the white-on-black picture's input exactly */
    uint8_t neg[N * N];
    for (int i = 0; i < N * N; i++) neg[i] = (uint8_t)(255 - img[i]);
    CHECK_INT(mlp_image_is_dark_on_light(neg, N, N), 1);
    float xn[N * N];
    CHECK(mlp_image_to_input(neg, N, N, N, N, MLP_INVERT_AUTO, s, xn, &inv, &err) == MLP_OK);
    CHECK_INT(inv, 1);
    CHECK(memcmp(x, xn, sizeof x) == 0);
    /* forced modes */
    CHECK(mlp_image_to_input(neg, N, N, N, N, MLP_INVERT_NO, s, xn, &inv, &err) == MLP_OK);
    CHECK_INT(inv, 0);
    CHECK(mlp_image_to_input(img, N, N, N, N, MLP_INVERT_YES, s, xn, &inv, &err) == MLP_OK);
    CHECK_INT(inv, 1);
    CHECK_NEAR(xn[0], (255.0f - 128.0f) / 255.0f, 1e-7);
    /* a dark border with a darker centre (a bag's handle hole): light on dark, not inverted */
    for (int i = 0; i < N * N; i++) img[i] = (uint8_t)(((i / N) >= 7 && (i / N) < 21 && (i % N) >= 7 && (i % N) < 21) ? 20 : 60);
    CHECK_INT(mlp_image_is_dark_on_light(img, N, N), 0);
    /* a uniform picture is left alone */
    memset(img, 200, sizeof img);
    CHECK_INT(mlp_image_is_dark_on_light(img, N, N), 0);
    CHECK_INT(mlp_image_is_dark_on_light(img, 1, 1), 0);
    /* names */
    mlp_invert m;
    CHECK(mlp_invert_parse("yes", &m) == 0 && m == MLP_INVERT_YES);
    CHECK(mlp_invert_parse("maybe", &m) == -1);
    CHECK(!strcmp(mlp_invert_name(MLP_INVERT_AUTO), "auto"));
    CHECK_INT(mlp_image_to_input(img, N, N, N, N, (mlp_invert)7, s, xn, &inv, &err), MLP_ERR_ARG);
}
