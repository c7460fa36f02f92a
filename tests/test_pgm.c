/* test_pgm.c - PGM reading: P2 and P5 (8 and 16 bits), comments, odd sizes, rescaling to 0..255 and
 * every kind of broken file. */
#include "check.h"
#include "mlp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Write len bytes of data to a new file in a fresh temp dir; returns its path (static storage). */
static const char *write_pgm(const char *name, const void *data, size_t len) {
    static char paths[4][2048];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, sizeof paths[0], "%s/%s", check_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(data, 1, len, f) == len);
        fclose(f);
    }
    return path;
}

static const char *write_text(const char *name, const char *text) { return write_pgm(name, text, strlen(text)); }

/* Read path and expect w x h pixels equal to want. */
static void expect_pixels(const char *path, int w, int h, const uint8_t *want) {
    uint8_t *pixels = NULL;
    int gw = 0, gh = 0;
    mlp_error err = {MLP_OK, ""};
    mlp_status st = mlp_pgm_read(path, &pixels, &gw, &gh, &err);
    CHECK_MSG(st == MLP_OK, "mlp_pgm_read failed: %s", err.msg);
    CHECK_INT(gw, w);
    CHECK_INT(gh, h);
    if (pixels && gw == w && gh == h)
        for (int i = 0; i < w * h; i++) CHECK_MSG(pixels[i] == want[i], "pixel %d: %d vs %d", i, pixels[i], want[i]);
    free(pixels);
}

/* Read path and expect failure with code and phrase (and the path) in the message. */
static void expect_error(const char *path, mlp_status code, const char *phrase) {
    uint8_t *pixels = (uint8_t *)&pixels; /* poison: must come back NULL */
    int w = -1, h = -1;
    mlp_error err = {MLP_OK, ""};
    CHECK_INT(mlp_pgm_read(path, &pixels, &w, &h, &err), code);
    CHECK(pixels == NULL);
    CHECK_INT(w, 0);
    CHECK_INT(h, 0);
    CHECK_CONTAINS(err.msg, path);
    CHECK_CONTAINS(err.msg, phrase);
}

/* ---------------------------------------------------------------- valid files */

TEST(pgm_p2_basic) {
    const char *path = write_text("a.pgm", "P2\n# made by hand\n3 2\n# maxval next\n255\n0 128 255\n1 2 3\n");
    static const uint8_t want[6] = {0, 128, 255, 1, 2, 3};
    expect_pixels(path, 3, 2, want);
}

TEST(pgm_p2_rescale_and_round) {
    /* maxval 10: v -> round(25.5 v), halves rounded up: 1 -> 26, 3 -> 77, 5 -> 128, 10 -> 255 */
    const char *path = write_text("b.pgm", "P2 2 3 10 0 1\n3 5\n\n  10\t9");
    static const uint8_t want[6] = {0, 26, 77, 128, 255, 230};
    expect_pixels(path, 2, 3, want);
    /* maxval 1: black and white */
    path = write_text("c.pgm", "P2\n4 1\n1\n0 1 1 0\n");
    static const uint8_t bw[4] = {0, 255, 255, 0};
    expect_pixels(path, 4, 1, bw);
}

TEST(pgm_p2_comments_everywhere) {
    const char *path = write_text("d.pgm", "P2#after magic\n#c1\n 2 # width\n#c2\r\n1#height\n7 # maxval\n7 0\n");
    static const uint8_t want[2] = {255, 0};
    expect_pixels(path, 2, 1, want);
}

TEST(pgm_p5_8bit_odd_size) {
    /* 5x3, a comment in the header, a single whitespace byte after maxval (here a newline) */
    const char head[] = "P5 # comment\n5 3\n255\n";
    uint8_t file[sizeof head - 1 + 15];
    memcpy(file, head, sizeof head - 1);
    uint8_t want[15];
    for (int i = 0; i < 15; i++) want[i] = file[sizeof head - 1 + i] = (uint8_t)(i * 17);
    want[3] = file[sizeof head - 1 + 3] = '\n'; /* a data byte equal to whitespace is data */
    expect_pixels(write_pgm("e.pgm", file, sizeof file), 5, 3, want);
}

TEST(pgm_p5_8bit_small_maxval) {
    /* maxval 100 (< 256: one byte per sample): 50 -> round(127.5) = 128, 100 -> 255 */
    const uint8_t file[] = {'P', '5', '\n', '3', ' ', '1', '\n', '1', '0', '0', '\n', 0, 50, 100};
    static const uint8_t want[3] = {0, 128, 255};
    expect_pixels(write_pgm("f.pgm", file, sizeof file), 3, 1, want);
}

TEST(pgm_p5_16bit) {
    /* maxval 65535: two bytes each, most significant first. 0x8000 = 32768 -> 128 (little-endian would
     * read 0x0080 = 128 -> 0); 257 -> exactly 1; 65535 -> 255. */
    const uint8_t file[] = {'P', '5', ' ', '2', ' ', '2', ' ', '6', '5', '5', '3', '5', '\n',
                            0x00, 0x00, 0x80, 0x00, 0x01, 0x01, 0xff, 0xff};
    static const uint8_t want[4] = {0, 128, 1, 255};
    expect_pixels(write_pgm("g.pgm", file, sizeof file), 2, 2, want);
    /* maxval 1000 (>= 256, so 16-bit): 500 -> round(127.5) = 128, 1000 -> 255, 4 -> round(1.02) = 1 */
    const uint8_t file2[] = {'P', '5', '\n', '3', ' ', '1', '\n', '1', '0', '0', '0', '\n',
                             0x01, 0xf4, 0x03, 0xe8, 0x00, 0x04};
    static const uint8_t want2[3] = {128, 255, 1};
    expect_pixels(write_pgm("h.pgm", file2, sizeof file2), 3, 1, want2);
    /* maxval 256 is the smallest that takes two bytes: 0x0100 -> 255, 0x0080 = 128 -> round(127.5) = 128 */
    const uint8_t file3[] = {'P', '5', '\n', '2', ' ', '1', '\n', '2', '5', '6', '\n', 0x01, 0x00, 0x00, 0x80};
    static const uint8_t want3[2] = {255, 128};
    expect_pixels(write_pgm("i.pgm", file3, sizeof file3), 2, 1, want3);
}

TEST(pgm_p5_largest_width) {
    /* 16384 x 1 is allowed; 16385 is not */
    const char head[] = "P5\n16384 1\n255\n";
    size_t n = sizeof head - 1 + 16384;
    uint8_t *file = malloc(n), *want = malloc(16384);
    CHECK(file && want);
    if (!file || !want) {
        free(file);
        free(want);
        return;
    }
    memcpy(file, head, sizeof head - 1);
    for (int i = 0; i < 16384; i++) want[i] = file[sizeof head - 1 + i] = (uint8_t)(i % 251);
    expect_pixels(write_pgm("wide.pgm", file, n), 16384, 1, want);
    free(file);
    free(want);
    expect_error(write_text("wider.pgm", "P5\n16385 1\n255\n"), MLP_ERR_FORMAT,
                 "width 16385 is out of range (must be 1..16384)");
}

/* ---------------------------------------------------------------- broken files */

TEST(pgm_missing_file) {
    char path[2048];
    snprintf(path, sizeof path, "%s/does-not-exist.pgm", check_tmpdir());
    expect_error(path, MLP_ERR_IO, "cannot open");
}

TEST(pgm_bad_magic) {
    expect_error(write_text("m1.pgm", "P6\n1 1\n255\n\x01\x02\x03"), MLP_ERR_FORMAT, "a P6 Netpbm file");
    expect_error(write_text("m2.pgm", "GIF89a"), MLP_ERR_FORMAT, "not a PGM file");
    expect_error(write_text("m3.pgm", "P2"), MLP_ERR_FORMAT, "no whitespace after the magic");
    expect_error(write_text("m4.pgm", ""), MLP_ERR_FORMAT, "empty file");
}

TEST(pgm_bad_dimensions) {
    expect_error(write_text("d1.pgm", "P2\n3\n"), MLP_ERR_FORMAT, "missing height");
    expect_error(write_text("d2.pgm", "P2\n# only a comment"), MLP_ERR_FORMAT, "missing width");
    expect_error(write_text("d3.pgm", "P2\n-3 2\n255\n"), MLP_ERR_FORMAT, "negative width");
    expect_error(write_text("d4.pgm", "P2\n3 -2\n255\n"), MLP_ERR_FORMAT, "negative height");
    expect_error(write_text("d5.pgm", "P5\n99999999999999999999 1\n255\n"), MLP_ERR_FORMAT, "width is too large");
    expect_error(write_text("d6.pgm", "P5\n1 16385\n255\n"), MLP_ERR_FORMAT, "height 16385 is out of range");
    expect_error(write_text("d7.pgm", "P2\n0 2\n255\n"), MLP_ERR_FORMAT, "width 0 is out of range");
    expect_error(write_text("d8.pgm", "P2\n3x2\n255\n"), MLP_ERR_FORMAT, "unexpected character 'x'");
    expect_error(write_text("d9.pgm", "P2\nwide 2\n255\n"), MLP_ERR_FORMAT, "expected a number for width, found 'w'");
}

TEST(pgm_bad_maxval) {
    expect_error(write_text("v1.pgm", "P2\n1 1\n0\n0\n"), MLP_ERR_FORMAT, "maxval 0 is out of range (must be 1..65535)");
    expect_error(write_text("v2.pgm", "P5\n1 1\n65536\n\x01\x02"), MLP_ERR_FORMAT, "maxval 65536 is out of range");
    expect_error(write_text("v3.pgm", "P2\n1 1\n"), MLP_ERR_FORMAT, "missing maxval");
    expect_error(write_text("v4.pgm", "P5\n1 1\n255"), MLP_ERR_FORMAT, "whitespace character after maxval");
}

TEST(pgm_sample_above_maxval) {
    expect_error(write_text("s1.pgm", "P2\n2 2\n10\n5 10\n11 0\n"), MLP_ERR_FORMAT,
                 "sample 11 at row 1, column 0 exceeds maxval 10");
    const uint8_t p5[] = {'P', '5', '\n', '2', ' ', '1', '\n', '1', '0', '0', '\n', 100, 101};
    expect_error(write_pgm("s2.pgm", p5, sizeof p5), MLP_ERR_FORMAT, "sample 101 at row 0, column 1 exceeds maxval 100");
    const uint8_t p5w[] = {'P', '5', '\n', '1', ' ', '1', '\n', '3', '0', '0', '\n', 0x01, 0x2d}; /* 301 */
    expect_error(write_pgm("s3.pgm", p5w, sizeof p5w), MLP_ERR_FORMAT, "sample 301 at row 0, column 0 exceeds maxval 300");
}

TEST(pgm_truncated) {
    expect_error(write_text("t1.pgm", "P2\n3 2\n255\n1 2 3\n4 5\n"), MLP_ERR_FORMAT,
                 "truncated: 3x2 needs 6 samples but only 5 are present");
    const uint8_t p5[] = {'P', '5', '\n', '3', ' ', '2', '\n', '2', '5', '5', '\n', 1, 2, 3, 4};
    expect_error(write_pgm("t2.pgm", p5, sizeof p5), MLP_ERR_FORMAT,
                 "truncated: 3x2 samples need 6 bytes of pixel data but only 4 are present");
    const uint8_t p5w[] = {'P', '5', '\n', '2', ' ', '1', '\n', '4', '0', '0', '\n', 0, 1, 0};
    expect_error(write_pgm("t3.pgm", p5w, sizeof p5w), MLP_ERR_FORMAT, "need 4 bytes of pixel data but only 3");
}

TEST(pgm_garbage_sample) {
    expect_error(write_text("g1.pgm", "P2\n2 1\n255\n5 x\n"), MLP_ERR_FORMAT, "expected a number for sample, found 'x'");
    expect_error(write_text("g2.pgm", "P2\n2 1\n255\n5 -1\n"), MLP_ERR_FORMAT, "negative sample");
    expect_error(write_text("g3.pgm", "P2\n2 1\n255\n5 7y\n"), MLP_ERR_FORMAT, "unexpected character 'y' (0x79) after sample");
}
