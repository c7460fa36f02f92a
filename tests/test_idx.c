/* test_idx.c - IDX reading: valid files (raw and gzip), every kind of broken header or body, the
 * directory loader, and the real MNIST / Fashion-MNIST files when they are present. */
#include "check.h"
#include "mlp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---------------------------------------------------------------- helpers */

/* A growable byte buffer for building IDX files. */
typedef struct bytes {
    uint8_t data[1024];
    size_t len;
} bytes;

static void put_be32(bytes *b, uint32_t v) {
    b->data[b->len++] = (uint8_t)(v >> 24);
    b->data[b->len++] = (uint8_t)(v >> 16);
    b->data[b->len++] = (uint8_t)(v >> 8);
    b->data[b->len++] = (uint8_t)v;
}

static void put_bytes(bytes *b, const uint8_t *p, size_t n) {
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* 3 images of 2x3; pixel values include 0, 128 and 255. */
static const uint8_t PIXELS[18] = {0, 128, 255, 1, 2, 3,        /* image 0 */
                                   10, 20, 30, 40, 50, 60,      /* image 1 */
                                   255, 254, 127, 129, 0, 7};   /* image 2 */
static const uint8_t LABELS[3] = {7, 0, 9};

static bytes images_file(uint32_t magic, uint32_t n, uint32_t rows, uint32_t cols, size_t n_pixels) {
    bytes b = {{0}, 0};
    put_be32(&b, magic);
    put_be32(&b, n);
    put_be32(&b, rows);
    put_be32(&b, cols);
    for (size_t i = 0; i < n_pixels; i++) b.data[b.len++] = PIXELS[i % sizeof PIXELS];
    return b;
}

static bytes good_images(void) { return images_file(0x00000803, 3, 2, 3, 18); }

static bytes labels_file(uint32_t magic, uint32_t n, const uint8_t *labels, size_t n_labels) {
    bytes b = {{0}, 0};
    put_be32(&b, magic);
    put_be32(&b, n);
    put_bytes(&b, labels, n_labels);
    return b;
}

static bytes good_labels(void) { return labels_file(0x00000801, 3, LABELS, 3); }

static char *join(const char *dir, const char *name) {
    static char paths[8][2048];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", dir, name);
    return p;
}

static void write_raw(const char *path, const bytes *b) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(b->data, 1, b->len, f) == b->len);
    fclose(f);
}

static void write_gz(const char *path, const bytes *b) {
    gzFile f = gzopen(path, "wb9");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(gzwrite(f, b->data, (unsigned)b->len) == (int)b->len);
    CHECK(gzclose(f) == Z_OK);
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static int is_zeroed(const mlp_dataset *ds) {
    return ds->n == 0 && ds->rows == 0 && ds->cols == 0 && ds->dim == 0 && ds->x == NULL && ds->y == NULL;
}

/* Parse images from b and expect failure with `phrase` in the message and nothing allocated. */
static void expect_images_error(const bytes *b, const char *phrase) {
    uint8_t *pixels = (uint8_t *)&pixels; /* poison: must come back NULL */
    int n = -1, rows = -1, cols = -1;
    mlp_error err = {MLP_OK, ""};
    CHECK_INT(mlp_idx_parse_images(b->data, b->len, &pixels, &n, &rows, &cols, &err), MLP_ERR_FORMAT);
    CHECK_INT(err.code, MLP_ERR_FORMAT);
    CHECK(pixels == NULL);
    CHECK_INT(n, 0);
    CHECK_CONTAINS(err.msg, phrase);
}

static void expect_labels_error(const bytes *b, const char *phrase) {
    int32_t *labels = (int32_t *)&labels;
    int n = -1;
    mlp_error err = {MLP_OK, ""};
    CHECK_INT(mlp_idx_parse_labels(b->data, b->len, &labels, &n, NULL, &err), MLP_ERR_FORMAT);
    CHECK(labels == NULL);
    CHECK_INT(n, 0);
    CHECK_CONTAINS(err.msg, phrase);
}

/* ---------------------------------------------------------------- valid files */

TEST(idx_scaling_default) {
    mlp_scaling s = mlp_scaling_default();
    CHECK(s.offset == 128.0f);
    CHECK(s.scale == 1.0f / 255.0f);
}

TEST(idx_parse_images_good) {
    bytes b = good_images();
    uint8_t *pixels = NULL;
    int n = 0, rows = 0, cols = 0;
    mlp_error err = {MLP_OK, ""};
    CHECK_INT(mlp_idx_parse_images(b.data, b.len, &pixels, &n, &rows, &cols, &err), MLP_OK);
    CHECK_INT(n, 3);
    CHECK_INT(rows, 2);
    CHECK_INT(cols, 3);
    CHECK(pixels != NULL);
    if (pixels) CHECK(memcmp(pixels, PIXELS, sizeof PIXELS) == 0);
    free(pixels);
}

TEST(idx_parse_labels_good) {
    bytes b = good_labels();
    int32_t *labels = NULL;
    int n = 0, classes = 0;
    mlp_error err = {MLP_OK, ""};
    CHECK_INT(mlp_idx_parse_labels(b.data, b.len, &labels, &n, &classes, &err), MLP_OK);
    CHECK_INT(n, 3);
    CHECK_INT(classes, 10); /* the largest label, 9, + 1 */
    CHECK(labels != NULL);
    if (labels) {
        CHECK_INT(labels[0], 7);
        CHECK_INT(labels[1], 0);
        CHECK_INT(labels[2], 9);
    }
    free(labels);
}

/* The loaded dataset of the 3 test images: shape, labels and scaled pixels. */
static void check_small_dataset(const mlp_dataset *ds) {
    CHECK_INT(ds->n, 3);
    CHECK_INT(ds->rows, 2);
    CHECK_INT(ds->cols, 3);
    CHECK_INT(ds->classes, 10);
    CHECK_INT(ds->dim, 6);
    CHECK(ds->x != NULL && ds->y != NULL);
    if (!ds->x || !ds->y) return;
    CHECK_INT(ds->y[0], 7);
    CHECK_INT(ds->y[1], 0);
    CHECK_INT(ds->y[2], 9);
    CHECK_NEAR(ds->x[0], -128.0 / 255.0, 1e-7); /* pixel 0 */
    CHECK(ds->x[1] == 0.0f);                    /* pixel 128 */
    CHECK_NEAR(ds->x[2], 127.0 / 255.0, 1e-7);  /* pixel 255 */
    CHECK_NEAR(ds->x[6 + 5], (60.0 - 128.0) / 255.0, 1e-7);
    CHECK_NEAR(ds->x[12 + 2], -1.0 / 255.0, 1e-7); /* pixel 127 */
    for (int i = 0; i < 18; i++) CHECK_NEAR(ds->x[i], ((double)PIXELS[i] - 128.0) / 255.0, 1e-7);
}

TEST(idx_load_raw) {
    const char *dir = check_tmpdir();
    bytes im = good_images(), lb = good_labels();
    write_raw(join(dir, "im"), &im);
    write_raw(join(dir, "lb"), &lb);
    mlp_dataset ds;
    mlp_error err = {MLP_OK, ""};
    CHECK_INT(mlp_dataset_load_idx(&ds, join(dir, "im"), join(dir, "lb"), mlp_scaling_default(), &err), MLP_OK);
    check_small_dataset(&ds);
    mlp_dataset_free(&ds);
    CHECK(is_zeroed(&ds));
}

TEST(idx_load_custom_scaling) {
    const char *dir = check_tmpdir();
    bytes im = good_images(), lb = good_labels();
    write_raw(join(dir, "im"), &im);
    write_raw(join(dir, "lb"), &lb);
    mlp_dataset ds;
    mlp_scaling s = {0.0f, 1.0f / 255.0f}; /* 0..1 */
    CHECK_INT(mlp_dataset_load_idx(&ds, join(dir, "im"), join(dir, "lb"), s, NULL), MLP_OK);
    if (ds.x) {
        CHECK(ds.x[0] == 0.0f);
        CHECK(ds.x[2] == 1.0f);
        CHECK_NEAR(ds.x[1], 128.0 / 255.0, 1e-7);
    }
    mlp_dataset_free(&ds);
}

TEST(idx_load_gzip) {
    const char *dir = check_tmpdir();
    bytes im = good_images(), lb = good_labels();
    write_gz(join(dir, "im.gz"), &im);
    write_gz(join(dir, "lb.gz"), &lb);
    /* the file really is compressed: gzip magic on disk */
    uint8_t head[2] = {0, 0};
    FILE *f = fopen(join(dir, "im.gz"), "rb");
    CHECK(f && fread(head, 1, 2, f) == 2);
    if (f) fclose(f);
    CHECK(head[0] == 0x1f && head[1] == 0x8b);

    uint8_t *buf = NULL;
    size_t len = 0;
    mlp_error err = {MLP_OK, ""};
    CHECK_INT(mlp_read_file(join(dir, "im.gz"), &buf, &len, 1000, &err), MLP_OK);
    CHECK_INT(len, im.len);
    if (buf && len == im.len) CHECK(memcmp(buf, im.data, len) == 0);
    free(buf);

    mlp_dataset ds;
    CHECK_INT(mlp_dataset_load_idx(&ds, join(dir, "im.gz"), join(dir, "lb.gz"), mlp_scaling_default(), &err),
              MLP_OK);
    check_small_dataset(&ds);
    mlp_dataset_free(&ds);
}

TEST(idx_read_file_limit) {
    const char *dir = check_tmpdir();
    bytes im = good_images(); /* 34 bytes */
    write_raw(join(dir, "raw"), &im);
    write_gz(join(dir, "gz"), &im);
    uint8_t *buf = NULL;
    size_t len = 0;
    mlp_error err = {MLP_OK, ""};
    /* exactly at the limit: fine */
    CHECK_INT(mlp_read_file(join(dir, "raw"), &buf, &len, im.len, &err), MLP_OK);
    CHECK_INT(len, im.len);
    free(buf);
    buf = NULL;
    /* one byte over, raw and compressed (the limit is on the uncompressed size) */
    CHECK_INT(mlp_read_file(join(dir, "raw"), &buf, &len, im.len - 1, &err), MLP_ERR_FORMAT);
    CHECK(buf == NULL);
    CHECK_CONTAINS(err.msg, "larger than the limit of 33 bytes");
    CHECK_CONTAINS(err.msg, join(dir, "raw"));
    CHECK_INT(mlp_read_file(join(dir, "gz"), &buf, &len, im.len - 1, &err), MLP_ERR_FORMAT);
    CHECK(buf == NULL);
    CHECK_INT(len, 0);
    CHECK_CONTAINS(err.msg, "larger than the limit");

    /* 1000 zero bytes compress to far less than a 500-byte limit, and are still refused */
    bytes zeros = {{0}, 1000};
    write_gz(join(dir, "zeros.gz"), &zeros);
    CHECK(file_size(join(dir, "zeros.gz")) < 100);
    CHECK_INT(mlp_read_file(join(dir, "zeros.gz"), &buf, &len, 500, &err), MLP_ERR_FORMAT);
    CHECK(buf == NULL);
    CHECK_CONTAINS(err.msg, "larger than the limit of 500 bytes (uncompressed)");
    CHECK_INT(mlp_read_file(join(dir, "zeros.gz"), &buf, &len, 1000, &err), MLP_OK);
    CHECK_INT(len, 1000);
    if (buf) CHECK(buf[0] == 0 && buf[999] == 0);
    free(buf);
}

TEST(idx_read_file_big_gzip) {
    /* A file much larger than the first read chunk, compressed: checks buffer growth. */
    const char *dir = check_tmpdir();
    const size_t size = 3u << 20; /* 3 MiB */
    uint8_t *data = malloc(size);
    CHECK(data != NULL);
    if (!data) return;
    for (size_t i = 0; i < size; i++) data[i] = (uint8_t)(i * 2654435761u >> 13);
    gzFile f = gzopen(join(dir, "big.gz"), "wb1");
    CHECK(f && gzwrite(f, data, (unsigned)size) == (int)size);
    if (f) gzclose(f);
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_INT(mlp_read_file(join(dir, "big.gz"), &buf, &len, size, NULL), MLP_OK);
    CHECK_INT(len, size);
    if (buf && len == size) CHECK(memcmp(buf, data, size) == 0);
    free(buf);
    free(data);
}

TEST(idx_read_file_truncated_gzip) {
    const char *dir = check_tmpdir();
    bytes lb = good_labels();
    write_gz(join(dir, "lb.gz"), &lb);
    long full = file_size(join(dir, "lb.gz"));
    CHECK(full > 12);
    CHECK(truncate(join(dir, "lb.gz"), full - 6) == 0); /* cut into the CRC/size trailer */
    uint8_t *buf = NULL;
    size_t len = 0;
    mlp_error err = {MLP_OK, ""};
    mlp_status st = mlp_read_file(join(dir, "lb.gz"), &buf, &len, 1000, &err);
    CHECK(st != MLP_OK);
    CHECK(buf == NULL);
    CHECK_CONTAINS(err.msg, join(dir, "lb.gz"));
    CHECK_CONTAINS(err.msg, "truncated gzip");
}

/* ---------------------------------------------------------------- broken files */

TEST(idx_bad_magic) {
    bytes b = images_file(0x12345678, 3, 2, 3, 18);
    expect_images_error(&b, "bad magic 0x12345678, expected 0x00000803");
    bytes l = labels_file(0xdeadbeef, 3, LABELS, 3);
    expect_labels_error(&l, "bad magic 0xdeadbeef, expected 0x00000801");
}

TEST(idx_wrong_dimension_count) {
    /* a labels magic (1 dimension) on an images file, and the reverse */
    bytes b = images_file(0x00000801, 3, 2, 3, 18);
    expect_images_error(&b, "bad magic 0x00000801, expected 0x00000803");
    expect_images_error(&b, "labels file");
    bytes l = labels_file(0x00000803, 3, LABELS, 3);
    expect_labels_error(&l, "bad magic 0x00000803, expected 0x00000801");
    /* other element types (0x0D = float) are refused too */
    bytes f = images_file(0x00000D03, 3, 2, 3, 18);
    expect_images_error(&f, "bad magic 0x00000d03");
}

TEST(idx_gzip_bytes_given_to_parser) {
    bytes b = {{0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6}, 16};
    expect_images_error(&b, "gzip-compressed");
}

TEST(idx_short_header) {
    bytes b = good_images();
    b.len = 15;
    expect_images_error(&b, "too short for an IDX images header (15 bytes, need 16)");
    b.len = 0;
    expect_images_error(&b, "too short");
    bytes l = good_labels();
    l.len = 7;
    expect_labels_error(&l, "too short for an IDX labels header (7 bytes, need 8)");
}

TEST(idx_truncated) {
    bytes b = images_file(0x00000803, 3, 2, 3, 17); /* one pixel missing */
    expect_images_error(&b, "truncated: header says 3 images of 2x3 (18 bytes) but file has 17 bytes");
    bytes c = images_file(0x00000803, 4, 2, 3, 18); /* count larger than the data */
    expect_images_error(&c, "truncated: header says 4 images of 2x3 (24 bytes) but file has 18 bytes");
    bytes l = labels_file(0x00000801, 5, LABELS, 3);
    expect_labels_error(&l, "truncated: header says 5 labels");
}

TEST(idx_trailing_bytes) {
    bytes b = images_file(0x00000803, 3, 2, 3, 20);
    expect_images_error(&b, "2 trailing bytes after the 3 images of 2x3");
    uint8_t four[4] = {1, 2, 3, 4};
    bytes l = labels_file(0x00000801, 3, four, 4);
    expect_labels_error(&l, "1 trailing bytes after the 3 labels");
}

TEST(idx_zero_dims) {
    bytes b = images_file(0x00000803, 0, 2, 3, 0);
    expect_images_error(&b, "0 images of 2x3; every dimension must be > 0");
    b = images_file(0x00000803, 3, 0, 3, 0);
    expect_images_error(&b, "must be > 0");
    b = images_file(0x00000803, 3, 2, 0, 0);
    expect_images_error(&b, "must be > 0");
    bytes l = labels_file(0x00000801, 0, LABELS, 0);
    expect_labels_error(&l, "0 labels");
}

TEST(idx_huge_dims) {
    /* Must be refused from the header alone, without allocating anything like n*rows*cols bytes. */
    bytes b = images_file(0x00000803, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 18);
    expect_images_error(&b, "image size 4294967295x4294967295 exceeds the limit of 4096x4096");
    b = images_file(0x00000803, 3, 2, 4097, 18);
    expect_images_error(&b, "exceeds the limit of 4096x4096");
    b = images_file(0x00000803, 100000001u, 1, 1, 18);
    expect_images_error(&b, "image count 100000001 exceeds the limit of 100000000");
    /* at every limit at once the size is 1.7e15 bytes: valid header, refused as truncated */
    b = images_file(0x00000803, 100000000u, 4096, 4096, 18);
    expect_images_error(&b, "truncated: header says 100000000 images of 4096x4096");
    bytes l = labels_file(0x00000801, 0xFFFFFFFFu, LABELS, 3);
    expect_labels_error(&l, "label count 4294967295 exceeds the limit");
}

/* Any byte is a label (class count = the largest + 1); int32 labels must be 0..2^20-1. */
TEST(idx_label_range) {
    uint8_t many[4] = {0, 46, 10, 3}; /* EMNIST balanced: 47 classes */
    bytes l = labels_file(0x00000801, 4, many, 4);
    int32_t *labels = NULL;
    int n = 0, classes = 0;
    mlp_error err = {MLP_OK, ""};
    CHECK_INT(mlp_idx_parse_labels(l.data, l.len, &labels, &n, &classes, &err), MLP_OK);
    CHECK_INT(classes, 47);
    if (labels) CHECK_INT(labels[1], 46);
    free(labels);
    /* int32 labels, big-endian: 300 and 2 */
    uint8_t wide[8] = {0, 0, 1, 44, 0, 0, 0, 2};
    l = labels_file(0x00000C01, 2, wide, 8);
    CHECK_INT(mlp_idx_parse_labels(l.data, l.len, &labels, &n, &classes, &err), MLP_OK);
    CHECK_INT(n, 2);
    CHECK_INT(classes, 301);
    if (labels) CHECK_INT(labels[0], 300);
    free(labels);
    uint8_t negative[8] = {0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff};
    l = labels_file(0x00000C01, 2, negative, 8);
    expect_labels_error(&l, "label -1 at index 1 is out of range (expected 0..1048575)");
    uint8_t huge[4] = {0, 0x10, 0, 0};
    l = labels_file(0x00000C01, 1, huge, 4);
    expect_labels_error(&l, "label 1048576 at index 0 is out of range");
    l = labels_file(0x00000C01, 2, wide, 7);
    expect_labels_error(&l, "truncated: header says 2 labels (8 bytes) but file has 7 bytes");
}

/* A 2-D images file [n x d] holds rows of d byte features: images of 1 x d. */
TEST(idx_rows_file) {
    bytes b = {{0}, 0};
    put_be32(&b, 0x00000802);
    put_be32(&b, 2);
    put_be32(&b, 5);
    const uint8_t vals[10] = {0, 1, 2, 3, 4, 250, 251, 252, 253, 255};
    put_bytes(&b, vals, 10);
    uint8_t *pixels = NULL;
    int n = 0, rows = 0, cols = 0;
    mlp_error err = {MLP_OK, ""};
    CHECK_INT(mlp_idx_parse_images(b.data, b.len, &pixels, &n, &rows, &cols, &err), MLP_OK);
    CHECK_INT(n, 2);
    CHECK_INT(rows, 1);
    CHECK_INT(cols, 5);
    if (pixels) CHECK(memcmp(pixels, vals, 10) == 0);
    free(pixels);
    b.len--;
    expect_images_error(&b, "truncated: header says 2 images of 1x5 (10 bytes) but file has 9 bytes after its 12-byte header");
    b.len = 10;
    expect_images_error(&b, "too short for an IDX images header (10 bytes, need 12)");
}

/* ---------------------------------------------------------------- loader errors */

TEST(idx_error_names_path) {
    const char *dir = check_tmpdir();
    bytes bad = images_file(0x00000801, 3, 2, 3, 18), lb = good_labels();
    write_raw(join(dir, "bad-images"), &bad);
    write_raw(join(dir, "lb"), &lb);
    mlp_dataset ds;
    mlp_error err = {MLP_OK, ""};
    CHECK_INT(mlp_dataset_load_idx(&ds, join(dir, "bad-images"), join(dir, "lb"), mlp_scaling_default(), &err),
              MLP_ERR_FORMAT);
    CHECK(is_zeroed(&ds));
    CHECK(strncmp(err.msg, join(dir, "bad-images"), strlen(join(dir, "bad-images"))) == 0);
    CHECK_CONTAINS(err.msg, "bad magic 0x00000801");

    /* a broken labels file is named too */
    uint8_t bad_labels[12] = {0, 0, 0, 1, 0x80, 0, 0, 0, 0, 0, 0, 3};
    bytes lb2 = labels_file(0x00000C01, 3, bad_labels, 12);
    bytes im = good_images();
    write_raw(join(dir, "im"), &im);
    write_gz(join(dir, "lb2.gz"), &lb2);
    CHECK_INT(mlp_dataset_load_idx(&ds, join(dir, "im"), join(dir, "lb2.gz"), mlp_scaling_default(), &err),
              MLP_ERR_FORMAT);
    CHECK(is_zeroed(&ds));
    CHECK_CONTAINS(err.msg, join(dir, "lb2.gz"));
    CHECK_CONTAINS(err.msg, "label -2147483648 at index 1");
}

TEST(idx_count_mismatch) {
    const char *dir = check_tmpdir();
    uint8_t four[4] = {1, 2, 3, 4};
    bytes im = good_images(), lb = labels_file(0x00000801, 4, four, 4);
    write_raw(join(dir, "im"), &im);
    write_raw(join(dir, "lb"), &lb);
    mlp_dataset ds;
    mlp_error err = {MLP_OK, ""};
    CHECK_INT(mlp_dataset_load_idx(&ds, join(dir, "im"), join(dir, "lb"), mlp_scaling_default(), &err),
              MLP_ERR_FORMAT);
    CHECK(is_zeroed(&ds));
    CHECK_CONTAINS(err.msg, "has 3 images but");
    CHECK_CONTAINS(err.msg, "has 4 labels");
}

TEST(idx_missing_file) {
    const char *dir = check_tmpdir();
    mlp_dataset ds;
    mlp_error err = {MLP_OK, ""};
    CHECK_INT(mlp_dataset_load_idx(&ds, join(dir, "nope"), join(dir, "nope2"), mlp_scaling_default(), &err),
              MLP_ERR_IO);
    CHECK(is_zeroed(&ds));
    CHECK_CONTAINS(err.msg, join(dir, "nope"));
    CHECK_CONTAINS(err.msg, "cannot open");

    /* the directory loader says which file and how to get the data */
    mlp_dataset train, test;
    memset(&train, 0xAB, sizeof train);
    CHECK_INT(mlp_dataset_load_dir(&train, &test, dir, mlp_scaling_default(), &err), MLP_ERR_IO);
    CHECK(is_zeroed(&train));
    CHECK(is_zeroed(&test));
    CHECK_CONTAINS(err.msg, join(dir, "train-images-idx3-ubyte: not found (also tried .gz)"));
    CHECK_CONTAINS(err.msg, "mlp fetch");
    CHECK_CONTAINS(err.msg, "--data DIR");
    /* a folder that does not exist at all */
    CHECK_INT(mlp_dataset_load_dir(NULL, &test, join(dir, "no/such/dir"), mlp_scaling_default(), &err), MLP_ERR_IO);
    CHECK_CONTAINS(err.msg, "no/such/dir/t10k-images-idx3-ubyte: not found");
    CHECK_INT(mlp_dataset_load_dir(NULL, NULL, dir, mlp_scaling_default(), &err), MLP_ERR_ARG);
}

/* ---------------------------------------------------------------- directory loader */

TEST(idx_load_dir) {
    const char *dir = check_tmpdir();
    bytes im = good_images(), lb = good_labels();
    /* train: raw; test: gzip only */
    write_raw(join(dir, "train-images-idx3-ubyte"), &im);
    write_raw(join(dir, "train-labels-idx1-ubyte"), &lb);
    write_gz(join(dir, "t10k-images-idx3-ubyte.gz"), &im);
    write_gz(join(dir, "t10k-labels-idx1-ubyte.gz"), &lb);
    /* a raw file is preferred over its .gz: this .gz would fail (labels of another count) */
    uint8_t bad[4] = {1, 1, 1, 1};
    bytes lb_bad = labels_file(0x00000801, 4, bad, 4);
    write_gz(join(dir, "train-labels-idx1-ubyte.gz"), &lb_bad);

    mlp_dataset train, test;
    mlp_error err = {MLP_OK, ""};
    CHECK_INT(mlp_dataset_load_dir(&train, &test, dir, mlp_scaling_default(), &err), MLP_OK);
    check_small_dataset(&train);
    check_small_dataset(&test);
    mlp_dataset_free(&train);
    mlp_dataset_free(&test);

    /* only one of the two */
    CHECK_INT(mlp_dataset_load_dir(NULL, &test, dir, mlp_scaling_default(), &err), MLP_OK);
    check_small_dataset(&test);
    mlp_dataset_free(&test);
}

TEST(idx_load_dir_partial_failure) {
    /* train loads, test is broken: both come back zeroed and nothing leaks (checked under ASan) */
    const char *dir = check_tmpdir();
    bytes im = good_images(), lb = good_labels(), trunc = images_file(0x00000803, 3, 2, 3, 10);
    write_raw(join(dir, "train-images-idx3-ubyte"), &im);
    write_raw(join(dir, "train-labels-idx1-ubyte"), &lb);
    write_raw(join(dir, "t10k-images-idx3-ubyte"), &trunc);
    write_raw(join(dir, "t10k-labels-idx1-ubyte"), &lb);
    mlp_dataset train, test;
    mlp_error err = {MLP_OK, ""};
    CHECK_INT(mlp_dataset_load_dir(&train, &test, dir, mlp_scaling_default(), &err), MLP_ERR_FORMAT);
    CHECK(is_zeroed(&train));
    CHECK(is_zeroed(&test));
    CHECK_CONTAINS(err.msg, "t10k-images-idx3-ubyte: truncated");
    mlp_dataset_free(&train); /* freeing a zeroed dataset is fine */
}

/* ---------------------------------------------------------------- real data */

static void count_labels(const mlp_dataset *ds, int counts[10]) {
    for (int k = 0; k < 10; k++) counts[k] = 0;
    for (int i = 0; i < ds->n; i++)
        if (ds->y[i] < 10) counts[ds->y[i]]++;
}

TEST(idx_mnist_real) {
    const char *dir = check_mnist_dir();
    if (!dir) {
        check_skip("MNIST not found (run `make data` or set MLP_DATA)");
        return;
    }
    mlp_dataset train, test;
    mlp_error err = {MLP_OK, ""};
    CHECK_INT(mlp_dataset_load_dir(&train, &test, dir, mlp_scaling_default(), &err), MLP_OK);
    if (err.code != MLP_OK) printf("    %s\n", err.msg);
    CHECK_INT(train.n, 60000);
    CHECK_INT(test.n, 10000);
    CHECK_INT(train.rows, 28);
    CHECK_INT(train.cols, 28);
    CHECK_INT(train.dim, 784);
    CHECK_INT(test.dim, 784);
    if (train.y && test.y) {
        static const int want_train[10] = {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949};
        static const int want_test[10] = {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009};
        int counts[10];
        count_labels(&train, counts);
        for (int k = 0; k < 10; k++) CHECK_INT(counts[k], want_train[k]);
        count_labels(&test, counts);
        for (int k = 0; k < 10; k++) CHECK_INT(counts[k], want_test[k]);
        /* the well-known first labels of each set */
        CHECK_INT(train.y[0], 5);
        CHECK_INT(train.y[1], 0);
        CHECK_INT(train.y[2], 4);
        CHECK_INT(test.y[0], 7);
        CHECK_INT(test.y[1], 2);
    }
    if (train.x) {
        /* scaled range: pixel 0 -> -128/255 (the corners), pixel 255 -> 127/255 somewhere */
        float lo = train.x[0], hi = train.x[0];
        for (size_t i = 0; i < (size_t)train.n * 784; i++) {
            if (train.x[i] < lo) lo = train.x[i];
            if (train.x[i] > hi) hi = train.x[i];
        }
        CHECK_NEAR(train.x[0], -128.0 / 255.0, 1e-7);
        CHECK_NEAR(lo, -128.0 / 255.0, 1e-7);
        CHECK_NEAR(hi, 127.0 / 255.0, 1e-7);
    }
    mlp_dataset_free(&train);
    mlp_dataset_free(&test);
}

TEST(idx_fashion_mnist_real) {
    const char *dir = check_fashion_dir();
    if (!dir) {
        check_skip("Fashion-MNIST not found (make data DATASET=fashion-mnist)");
        return;
    }
    mlp_dataset train, test;
    mlp_error err = {MLP_OK, ""};
    CHECK_INT(mlp_dataset_load_dir(&train, &test, dir, mlp_scaling_default(), &err), MLP_OK);
    if (err.code != MLP_OK) printf("    %s\n", err.msg);
    CHECK_INT(train.n, 60000);
    CHECK_INT(test.n, 10000);
    CHECK_INT(train.dim, 784);
    CHECK_INT(test.dim, 784);
    if (train.y && test.y) {
        int counts[10];
        count_labels(&train, counts);
        for (int k = 0; k < 10; k++) CHECK_INT(counts[k], 6000);
        count_labels(&test, counts);
        for (int k = 0; k < 10; k++) CHECK_INT(counts[k], 1000);
    }
    mlp_dataset_free(&train);
    mlp_dataset_free(&test);
}
