/*
 * idx.c - MNIST-style IDX files: read them (raw or gzip), validate every header field against the
 * bytes actually present, and turn them into a scaled float dataset.
 *
 * Format (all integers big-endian): u32 magic = 0x0000 TT DD (TT the element type, DD the dimension count),
 * DD u32 sizes, then the elements, row-major. A file must hold exactly what its header declares: short files
 * and trailing bytes are both errors, because either means the file is not the one the header describes.
 *   images: type 0x08 (unsigned bytes), 3 dimensions (n, rows, cols: MNIST's idx3), or 2 (n, d: n rows of d
 *           features, taken as 1 x d images).
 *   labels: 1 dimension (n), type 0x08 (unsigned bytes) or 0x0C (signed 32-bit integers, >= 0). The class
 *           count of a set is its largest label + 1 (EMNIST letters: 1..26 give 27 outputs, one never used).
 */
#include "fileio.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_ROWS 0x00000802u   /* [n x d] unsigned bytes */
#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAGIC_LABELS32 0x00000C01u /* [n] signed 32-bit integers */
#define IDX_IMAGES_HEADER 16u        /* the longest images header (3 dimensions); a 2-D one has 12 bytes */
#define IDX_LABELS_HEADER 8u
#define IDX_MAX_SIDE 4096u           /* rows and cols */
#define IDX_MAX_DIM (1u << 20)       /* values in a row of a 2-D file: the network's widest layer */
#define IDX_MAX_COUNT 100000000u     /* images or labels in one file */
#define IDX_MAX_LABEL ((1u << 20) - 1) /* classes: the network's widest layer */
/* Largest uncompressed file the loader accepts: MNIST's training images are 47 MB; the floats made
 * from a file take 4x its size. */
#define IDX_MAX_FILE_BYTES ((size_t)1 << 30)

mlp_scaling mlp_scaling_default(void) {
    mlp_scaling s = {128.0f, 1.0f / 255.0f};
    return s;
}

/* ---------------------------------------------------------------- parsing */

static uint32_t read_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* *out = a * b, or -1 when it does not fit in size_t. */
static int mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return -1;
    *out = a * b;
    return 0;
}

/* Explain a wrong magic number: the usual mix-ups get a hint. */
static mlp_status bad_magic(mlp_error *err, const char *name, uint32_t found, uint32_t expected) {
    const char *hint = "";
    if ((found >> 16) == 0x1f8b)
        hint = "; the data looks gzip-compressed";
    else if (found == IDX_MAGIC_LABELS || found == IDX_MAGIC_LABELS32)
        hint = "; this is an IDX labels file (1 dimension)";
    else if (found == IDX_MAGIC_IMAGES || found == IDX_MAGIC_ROWS)
        hint = "; this is an IDX images file";
    else if ((found >> 16) != 0)
        hint = "; not an IDX file";
    return mlp_fail(err, MLP_ERR_FORMAT, "%s: bad magic 0x%08x, expected 0x%08x (IDX %s)%s", name, (unsigned)found,
                    (unsigned)expected,
                    expected == IDX_MAGIC_IMAGES ? "images: unsigned bytes, 3 dimensions, or 0x00000802: 2"
                                                 : "labels: unsigned bytes, 1 dimension, or 0x00000c01: int32",
                    hint);
}

/* The validated shape of an images file; the pixels are buf[header ...]. */
typedef struct idx_images_shape {
    uint32_t n, rows, cols; /* a 2-D file: rows 1, cols d */
    size_t header;          /* 16 (3-D) or 12 (2-D) */
    size_t n_bytes;         /* n * rows * cols */
} idx_images_shape;

/* With whole = 0 only the header is checked (buf may hold just that). */
static mlp_status check_images(const char *name, const uint8_t *buf, size_t len, idx_images_shape *shape, int whole,
                               mlp_error *err) {
    if (!buf && len > 0) return mlp_fail(err, MLP_ERR_ARG, "%s: buffer is NULL", name);
    uint32_t magic = len >= 4 ? read_be32(buf) : 0;
    const size_t header = magic == IDX_MAGIC_ROWS ? 12u : IDX_IMAGES_HEADER;
    if (len < header)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: too short for an IDX images header (%zu bytes, need %zu)", name,
                        len, header);
    if (magic != IDX_MAGIC_IMAGES && magic != IDX_MAGIC_ROWS) return bad_magic(err, name, magic, IDX_MAGIC_IMAGES);
    const int flat = magic == IDX_MAGIC_ROWS;
    uint32_t n = read_be32(buf + 4), rows = flat ? 1 : read_be32(buf + 8), cols = read_be32(buf + (flat ? 8 : 12));
    if (n == 0 || rows == 0 || cols == 0)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: header says %u images of %ux%u; every dimension must be > 0",
                        name, (unsigned)n, (unsigned)rows, (unsigned)cols);
    if (!flat && (rows > IDX_MAX_SIDE || cols > IDX_MAX_SIDE))
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: image size %ux%u exceeds the limit of %ux%u", name,
                        (unsigned)rows, (unsigned)cols, IDX_MAX_SIDE, IDX_MAX_SIDE);
    if (flat && cols > IDX_MAX_DIM)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: %u values per row exceed the limit of %u", name, (unsigned)cols,
                        IDX_MAX_DIM);
    if (n > IDX_MAX_COUNT)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: image count %u exceeds the limit of %u", name, (unsigned)n,
                        IDX_MAX_COUNT);
    size_t per_image, total;
    if (mul_size(rows, cols, &per_image) != 0 || mul_size(per_image, n, &total) != 0 || total > SIZE_MAX - header)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: %u images of %ux%u do not fit in memory on this machine", name,
                        (unsigned)n, (unsigned)rows, (unsigned)cols);
    size_t have = len - header;
    if (whole && have < total)
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "%s: truncated: header says %u images of %ux%u (%zu bytes) but file has %zu bytes "
                        "after its %zu-byte header",
                        name, (unsigned)n, (unsigned)rows, (unsigned)cols, total, have, header);
    if (whole && have > total)
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "%s: %zu trailing bytes after the %u images of %ux%u (%zu bytes) the header declares",
                        name, have - total, (unsigned)n, (unsigned)rows, (unsigned)cols, total);
    shape->n = n;
    shape->rows = rows;
    shape->cols = cols;
    shape->header = header;
    shape->n_bytes = total;
    return MLP_OK;
}

/* The validated content of a labels file: n labels of `width` bytes (1, or 4: int32) at buf[IDX_LABELS_HEADER ...],
 * and (whole files) the class count, the largest label + 1. */
typedef struct idx_labels_shape {
    uint32_t n;
    uint32_t width;
    int classes;
} idx_labels_shape;

static uint32_t label_at(const uint8_t *p, uint32_t width, uint32_t i) {
    return width == 1 ? p[i] : read_be32(p + (size_t)4 * i);
}

static mlp_status check_labels(const char *name, const uint8_t *buf, size_t len, idx_labels_shape *shape, int whole,
                               mlp_error *err) {
    if (!buf && len > 0) return mlp_fail(err, MLP_ERR_ARG, "%s: buffer is NULL", name);
    if (len < IDX_LABELS_HEADER)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: too short for an IDX labels header (%zu bytes, need %u)", name,
                        len, IDX_LABELS_HEADER);
    uint32_t magic = read_be32(buf);
    if (magic != IDX_MAGIC_LABELS && magic != IDX_MAGIC_LABELS32) return bad_magic(err, name, magic, IDX_MAGIC_LABELS);
    const uint32_t width = magic == IDX_MAGIC_LABELS ? 1 : 4;
    uint32_t n = read_be32(buf + 4);
    if (n == 0) return mlp_fail(err, MLP_ERR_FORMAT, "%s: header says 0 labels; the count must be > 0", name);
    if (n > IDX_MAX_COUNT)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: label count %u exceeds the limit of %u", name, (unsigned)n,
                        IDX_MAX_COUNT);
    shape->n = n;
    shape->width = width;
    shape->classes = 0;
    if (!whole) return MLP_OK;
    size_t have = len - IDX_LABELS_HEADER, want = (size_t)n * width;
    if (have < want)
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "%s: truncated: header says %u labels (%zu bytes) but file has %zu bytes after its %u-byte "
                        "header",
                        name, (unsigned)n, want, have, IDX_LABELS_HEADER);
    if (have > want)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: %zu trailing bytes after the %u labels the header declares", name,
                        have - want, (unsigned)n);
    const uint8_t *labels = buf + IDX_LABELS_HEADER;
    uint32_t top = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t v = label_at(labels, width, i); /* an int32 below 0 reads as >= 2^31 */
        if (v > IDX_MAX_LABEL)
            return mlp_fail(err, MLP_ERR_FORMAT, "%s: label %d at index %u is out of range (expected 0..%u)", name,
                            (int32_t)v, (unsigned)i, IDX_MAX_LABEL);
        if (v > top) top = v;
    }
    shape->classes = (int)top + 1;
    return MLP_OK;
}

/* The length an IDX file must have, from its header: decompression stops there (fileio.h). */
static mlp_status images_declared(void *user, const char *path, const uint8_t *head, size_t *total, mlp_error *err) {
    idx_images_shape shape;
    (void)user;
    mlp_status st = check_images(path, head, IDX_IMAGES_HEADER, &shape, 0, err);
    if (!st) *total = shape.header + shape.n_bytes;
    return st;
}

static mlp_status labels_declared(void *user, const char *path, const uint8_t *head, size_t *total, mlp_error *err) {
    idx_labels_shape shape;
    (void)user;
    mlp_status st = check_labels(path, head, IDX_LABELS_HEADER, &shape, 0, err);
    if (!st) *total = IDX_LABELS_HEADER + (size_t)shape.n * shape.width;
    return st;
}

/* Read an IDX file (raw or gzip); head_only: just its header. */
static mlp_status read_idx(const char *path, int images, int head_only, uint8_t **buf, size_t *len, mlp_error *err) {
    mlp_read_opts o = {0};
    o.max_len = IDX_MAX_FILE_BYTES;
    o.gzip = 1;
    o.head_len = images ? IDX_IMAGES_HEADER : IDX_LABELS_HEADER;
    o.declared = images ? images_declared : labels_declared;
    o.head_only = head_only;
    return mlp_read_input(path, &o, buf, len, err);
}

/* The headers of an images file and its labels file, and that their counts agree. */
static mlp_status peek_pair(const char *images_path, const char *labels_path, idx_images_shape *shape,
                            mlp_error *err) {
    uint8_t *head = NULL;
    size_t len = 0;
    idx_labels_shape lab;
    mlp_status st = read_idx(images_path, 1, 1, &head, &len, err);
    if (st == MLP_OK) st = check_images(images_path, head, len, shape, 0, err);
    free(head);
    head = NULL;
    if (st == MLP_OK) st = read_idx(labels_path, 0, 1, &head, &len, err);
    if (st == MLP_OK) st = check_labels(labels_path, head, len, &lab, 0, err);
    free(head);
    if (st == MLP_OK && lab.n != shape->n)
        st = mlp_fail(err, MLP_ERR_FORMAT, "%s has %u images but %s has %u labels; the counts must match",
                      images_path, (unsigned)shape->n, labels_path, (unsigned)lab.n);
    return st;
}

/* malloc'ed copy of len bytes (len > 0). */
static mlp_status copy_bytes(const char *name, const uint8_t *src, size_t len, uint8_t **out, mlp_error *err) {
    uint8_t *copy = malloc(len);
    if (!copy) return mlp_fail(err, MLP_ERR_NOMEM, "%s: cannot allocate %zu bytes", name, len);
    memcpy(copy, src, len);
    *out = copy;
    return MLP_OK;
}

mlp_status mlp_idx_parse_images(const uint8_t *buf, size_t len, uint8_t **pixels, int *n, int *rows,
                                 int *cols, mlp_error *err) {
    if (!pixels || !n || !rows || !cols)
        return mlp_fail(err, MLP_ERR_ARG, "mlp_idx_parse_images: output pointers must not be NULL");
    *pixels = NULL;
    *n = *rows = *cols = 0;
    idx_images_shape shape;
    mlp_status st = check_images("IDX images", buf, len, &shape, 1, err);
    if (st == MLP_OK) st = copy_bytes("IDX images", buf + shape.header, shape.n_bytes, pixels, err);
    if (st != MLP_OK) return st;
    *n = (int)shape.n;
    *rows = (int)shape.rows;
    *cols = (int)shape.cols;
    return MLP_OK;
}

/* labels[i] = the i-th label of a checked labels file. */
static void decode_labels(const uint8_t *buf, const idx_labels_shape *shape, int32_t *labels) {
    for (uint32_t i = 0; i < shape->n; i++) labels[i] = (int32_t)label_at(buf + IDX_LABELS_HEADER, shape->width, i);
}

mlp_status mlp_idx_parse_labels(const uint8_t *buf, size_t len, int32_t **labels, int *n, int *classes,
                                 mlp_error *err) {
    if (!labels || !n) return mlp_fail(err, MLP_ERR_ARG, "mlp_idx_parse_labels: output pointers must not be NULL");
    *labels = NULL;
    *n = 0;
    if (classes) *classes = 0;
    idx_labels_shape shape;
    mlp_status st = check_labels("IDX labels", buf, len, &shape, 1, err);
    if (st != MLP_OK) return st;
    int32_t *out = malloc((size_t)shape.n * sizeof *out);
    if (!out) return mlp_fail(err, MLP_ERR_NOMEM, "IDX labels: cannot allocate %u labels", (unsigned)shape.n);
    decode_labels(buf, &shape, out);
    *labels = out;
    *n = (int)shape.n;
    if (classes) *classes = shape.classes;
    return MLP_OK;
}

/* ---------------------------------------------------------------- datasets */

/* ds->x = (p - offset) * scale for every pixel, through a 256-entry table: the same float operations
 * as computing each value directly, done once per possible byte. */
static mlp_status fill_dataset(mlp_dataset *ds, const char *images_path, const uint8_t *pixels,
                               const idx_images_shape *shape, const uint8_t *labels_file,
                               const idx_labels_shape *lab, mlp_scaling s, mlp_error *err) {
    size_t n_bytes = shape->n_bytes;
    size_t x_bytes;
    if (mul_size(n_bytes, sizeof(float), &x_bytes) != 0)
        return mlp_fail(err, MLP_ERR_NOMEM, "%s: %zu pixels do not fit in memory as floats", images_path, n_bytes);
    float *x = mlp_alloc_block(x_bytes);
    int32_t *y = malloc((size_t)shape->n * sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        return mlp_fail(err, MLP_ERR_NOMEM, "%s: cannot allocate %zu bytes for %u images of %ux%u as floats",
                        images_path, x_bytes, (unsigned)shape->n, (unsigned)shape->rows, (unsigned)shape->cols);
    }
    float table[256];
    for (int p = 0; p < 256; p++) table[p] = ((float)p - s.offset) * s.scale;
    for (size_t i = 0; i < n_bytes; i++) x[i] = table[pixels[i]];
    decode_labels(labels_file, lab, y);

    ds->n = (int)shape->n;
    ds->rows = (int)shape->rows;
    ds->cols = (int)shape->cols;
    ds->dim = (int)(shape->rows * shape->cols);
    ds->x = x;
    ds->y = y;
    ds->classes = lab->classes;
    ds->byte_data = 1;
    return MLP_OK;
}

mlp_status mlp_dataset_load_idx(mlp_dataset *ds, const char *images_path, const char *labels_path,
                                mlp_scaling s, mlp_error *err) {
    if (!ds) return mlp_fail(err, MLP_ERR_ARG, "mlp_dataset_load_idx: ds is NULL");
    memset(ds, 0, sizeof *ds);
    if (!images_path || !labels_path)
        return mlp_fail(err, MLP_ERR_ARG, "mlp_dataset_load_idx: images and labels paths must not be NULL");
    if (!isfinite(s.offset) || !isfinite(s.scale))
        return mlp_fail(err, MLP_ERR_ARG, "pixel scaling must be finite (offset %g, scale %g)", (double)s.offset,
                        (double)s.scale);

    uint8_t *img_buf = NULL, *lab_buf = NULL;
    size_t img_len = 0, lab_len = 0;
    idx_images_shape shape;
    idx_labels_shape lab;
    /* both headers first: a bad or mismatched file is refused before the other is inflated */
    mlp_status st = peek_pair(images_path, labels_path, &shape, err);
    if (st == MLP_OK) st = read_idx(images_path, 1, 0, &img_buf, &img_len, err);
    if (st == MLP_OK) st = check_images(images_path, img_buf, img_len, &shape, 1, err);
    if (st == MLP_OK) st = read_idx(labels_path, 0, 0, &lab_buf, &lab_len, err);
    if (st == MLP_OK) st = check_labels(labels_path, lab_buf, lab_len, &lab, 1, err);
    if (st == MLP_OK && lab.n != shape.n)
        st = mlp_fail(err, MLP_ERR_FORMAT, "%s has %u images but %s has %u labels; the counts must match",
                      images_path, (unsigned)shape.n, labels_path, (unsigned)lab.n);
    if (st == MLP_OK) st = fill_dataset(ds, images_path, img_buf + shape.header, &shape, lab_buf, &lab, s, err);
    free(img_buf);
    free(lab_buf);
    if (st != MLP_OK) memset(ds, 0, sizeof *ds);
    return st;
}

/* path = dir/name, preferring the raw file and falling back to name.gz. A file that is in neither
 * form is an error that says how to get the data. */
static mlp_status find_idx_file(const char *dir, const char *name, char *path, size_t size, mlp_error *err) {
    struct stat st;
    int n = snprintf(path, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n + 3 >= size) return mlp_fail(err, MLP_ERR_ARG, "%s: data folder path too long", dir);
    if (stat(path, &st) == 0) return MLP_OK;
    int raw_errno = errno;
    strcat(path, ".gz");
    if (stat(path, &st) == 0) return MLP_OK;
    path[n] = '\0'; /* report (and, for unusual errors, open) the raw name */
    if (raw_errno != ENOENT && raw_errno != ENOTDIR) return MLP_OK; /* let the reader say what is wrong */
    return mlp_fail(err, MLP_ERR_IO, "%s: not found (also tried .gz); download the dataset (`mlp fetch`) or pass --data DIR",
                    path);
}

typedef struct idx_split {
    char images[4096], labels[4096];
    idx_images_shape shape;
} idx_split;

/* The split's two files found, and their headers checked. */
static mlp_status find_split(idx_split *sp, const char *dir, const char *prefix, mlp_error *err) {
    char name[64];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    mlp_status st = find_idx_file(dir, name, sp->images, sizeof sp->images, err);
    if (st != MLP_OK) return st;
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    st = find_idx_file(dir, name, sp->labels, sizeof sp->labels, err);
    if (st != MLP_OK) return st;
    return peek_pair(sp->images, sp->labels, &sp->shape, err);
}

mlp_status mlp_dataset_load_dir(mlp_dataset *train, mlp_dataset *test, const char *dir, mlp_scaling s,
                                mlp_error *err) {
    if (train) memset(train, 0, sizeof *train);
    if (test) memset(test, 0, sizeof *test);
    if (!dir) return mlp_fail(err, MLP_ERR_ARG, "mlp_dataset_load_dir: dir is NULL");
    if (!train && !test) return mlp_fail(err, MLP_ERR_ARG, "mlp_dataset_load_dir: train and test are both NULL");
    /* Every header is checked before any file is inflated, so that a bad test file is refused before the
     * training set takes its memory, and the two sets must hold images of one size. */
    idx_split *sp = calloc(2, sizeof *sp);
    if (!sp) return mlp_fail(err, MLP_ERR_NOMEM, "out of memory");
    mlp_status st = MLP_OK;
    if (train) st = find_split(&sp[0], dir, "train", err);
    if (st == MLP_OK && test) st = find_split(&sp[1], dir, "t10k", err);
    if (st == MLP_OK && train && test &&
        (sp[0].shape.rows != sp[1].shape.rows || sp[0].shape.cols != sp[1].shape.cols))
        st = mlp_fail(err, MLP_ERR_FORMAT, "%s holds %ux%u images but %s holds %ux%u; both sets must have one size",
                      sp[0].images, (unsigned)sp[0].shape.rows, (unsigned)sp[0].shape.cols, sp[1].images,
                      (unsigned)sp[1].shape.rows, (unsigned)sp[1].shape.cols);
    if (st == MLP_OK && train) st = mlp_dataset_load_idx(train, sp[0].images, sp[0].labels, s, err);
    if (st == MLP_OK && test) st = mlp_dataset_load_idx(test, sp[1].images, sp[1].labels, s, err);
    free(sp);
    if (st != MLP_OK) {
        mlp_dataset_free(train);
        mlp_dataset_free(test);
    }
    return st;
}

