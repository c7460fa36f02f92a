/*
 * idx.c - MNIST-style IDX files: read them (raw or gzip), validate every header field against the
 * bytes actually present, and turn them into a scaled float dataset.
 *
 * Format (all integers big-endian):
 *   images: u32 magic 0x00000803 (unsigned bytes, 3 dimensions), u32 n, u32 rows, u32 cols,
 *           then n*rows*cols pixel bytes, image after image, row-major.
 *   labels: u32 magic 0x00000801 (unsigned bytes, 1 dimension), u32 n, then n label bytes.
 * A file must hold exactly what its header declares: short files and trailing bytes are both errors,
 * because either means the file is not the one the header describes.
 */
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_IMAGES_HEADER 16u
#define IDX_LABELS_HEADER 8u
#define IDX_MAX_SIDE 4096u          /* rows and cols */
#define IDX_MAX_COUNT 100000000u    /* images or labels in one file */
#define IDX_MAX_LABEL 9u
/* Largest uncompressed file the loader accepts: MNIST's training images are 47 MB; the floats made
 * from a file take 4x its size. */
#define IDX_MAX_FILE_BYTES ((size_t)1 << 30)

/* Sizes of the read buffer: start small (label files are 10-60 kB), double up to the limit. */
#define READ_FIRST_CHUNK ((size_t)1 << 16)
#define READ_MAX_CHUNK ((size_t)1 << 30) /* gzread takes an unsigned int and returns an int */

mlp_scaling mlp_scaling_default(void) {
    mlp_scaling s = {128.0f, 1.0f / 255.0f};
    return s;
}

/* ---------------------------------------------------------------- reading files */

/* The message of the last zlib error on f (strerror for system errors). */
static const char *gz_error_text(gzFile f, int saved_errno) {
    int code = Z_OK;
    const char *msg = gzerror(f, &code);
    if (code == Z_ERRNO) return strerror(saved_errno);
    return (msg && *msg) ? msg : "unknown zlib error";
}

mlp_status mlp_read_file(const char *path, uint8_t **out, size_t *len, size_t max_len, mlp_error *err) {
    if (!out || !len) return mlp_fail(err, MLP_ERR_ARG, "mlp_read_file: out and len must not be NULL");
    *out = NULL;
    *len = 0;
    if (!path) return mlp_fail(err, MLP_ERR_ARG, "mlp_read_file: path is NULL");

    errno = 0;
    gzFile f = gzopen(path, "rb"); /* reads gzip transparently, and anything else as it is */
    if (!f) {
        if (errno == 0) return mlp_fail(err, MLP_ERR_NOMEM, "%s: cannot open: out of memory", path);
        return mlp_fail(err, MLP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    gzbuffer(f, 1u << 17);

    /* Never read more than max_len + 1 bytes: one byte past the limit proves the file is too large,
     * without trusting any size field (gzip's own size trailer is modulo 2^32). */
    size_t limit = max_len < SIZE_MAX ? max_len + 1 : SIZE_MAX;
    uint8_t *buf = NULL;
    size_t cap = 0, used = 0;
    mlp_status st = MLP_OK;
    for (;;) {
        if (used == cap) {
            if (cap == limit) break;
            size_t grown = cap == 0 ? READ_FIRST_CHUNK : (cap > limit / 2 ? limit : cap * 2);
            if (grown > limit) grown = limit;
            uint8_t *bigger = realloc(buf, grown); /* grown >= 1: limit >= 1 */
            if (!bigger) {
                st = mlp_fail(err, MLP_ERR_NOMEM, "%s: out of memory after reading %zu bytes", path, used);
                break;
            }
            buf = bigger;
            cap = grown;
        }
        size_t want = cap - used;
        if (want > READ_MAX_CHUNK) want = READ_MAX_CHUNK;
        errno = 0;
        int got = gzread(f, buf + used, (unsigned)want);
        if (got < 0) {
            st = mlp_fail(err, MLP_ERR_IO, "%s: read error after %zu bytes: %s", path, used,
                          gz_error_text(f, errno));
            break;
        }
        if (got == 0) {
            /* End of input: a gzip stream cut short reports Z_BUF_ERROR here. */
            int code = Z_OK;
            gzerror(f, &code);
            if (code == Z_BUF_ERROR)
                st = mlp_fail(err, MLP_ERR_FORMAT,
                              "%s: truncated gzip stream (unexpected end of file after %zu bytes)", path, used);
            else if (code != Z_OK)
                st = mlp_fail(err, MLP_ERR_IO, "%s: read error after %zu bytes: %s", path, used,
                              gz_error_text(f, errno));
            break;
        }
        used += (size_t)got;
    }
    if (st == MLP_OK && used > max_len)
        st = mlp_fail(err, MLP_ERR_FORMAT, "%s: larger than the limit of %zu bytes (uncompressed)", path,
                      max_len);
    int close_rc = gzclose_r(f);
    if (st == MLP_OK && close_rc != Z_OK)
        st = mlp_fail(err, MLP_ERR_IO, "%s: error while closing (zlib code %d)", path, close_rc);
    if (st != MLP_OK) {
        free(buf);
        return st;
    }
    /* Give back the unused tail of the last doubling (up to half the buffer). */
    uint8_t *fitted = realloc(buf, used ? used : 1);
    if (fitted) buf = fitted;
    *out = buf;
    *len = used;
    return MLP_OK;
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
    else if (found == IDX_MAGIC_LABELS)
        hint = "; this is an IDX labels file (1 dimension)";
    else if (found == IDX_MAGIC_IMAGES)
        hint = "; this is an IDX images file (3 dimensions)";
    else if ((found >> 16) != 0)
        hint = "; not an IDX file";
    return mlp_fail(err, MLP_ERR_FORMAT, "%s: bad magic 0x%08x, expected 0x%08x (IDX %s: unsigned bytes, %s)%s",
                    name, (unsigned)found, (unsigned)expected,
                    expected == IDX_MAGIC_IMAGES ? "images" : "labels",
                    expected == IDX_MAGIC_IMAGES ? "3 dimensions" : "1 dimension", hint);
}

/* The validated shape of an images file; the pixels are buf[IDX_IMAGES_HEADER ...]. */
typedef struct idx_images_shape {
    uint32_t n, rows, cols;
    size_t n_bytes; /* n * rows * cols */
} idx_images_shape;

static mlp_status check_images(const char *name, const uint8_t *buf, size_t len, idx_images_shape *shape,
                               mlp_error *err) {
    if (!buf && len > 0) return mlp_fail(err, MLP_ERR_ARG, "%s: buffer is NULL", name);
    if (len < IDX_IMAGES_HEADER)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: too short for an IDX images header (%zu bytes, need %u)", name,
                        len, IDX_IMAGES_HEADER);
    uint32_t magic = read_be32(buf);
    if (magic != IDX_MAGIC_IMAGES) return bad_magic(err, name, magic, IDX_MAGIC_IMAGES);
    uint32_t n = read_be32(buf + 4), rows = read_be32(buf + 8), cols = read_be32(buf + 12);
    if (n == 0 || rows == 0 || cols == 0)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: header says %u images of %ux%u; every dimension must be > 0",
                        name, (unsigned)n, (unsigned)rows, (unsigned)cols);
    if (rows > IDX_MAX_SIDE || cols > IDX_MAX_SIDE)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: image size %ux%u exceeds the limit of %ux%u", name,
                        (unsigned)rows, (unsigned)cols, IDX_MAX_SIDE, IDX_MAX_SIDE);
    if (n > IDX_MAX_COUNT)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: image count %u exceeds the limit of %u", name, (unsigned)n,
                        IDX_MAX_COUNT);
    size_t per_image, total;
    if (mul_size(rows, cols, &per_image) != 0 || mul_size(per_image, n, &total) != 0)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: %u images of %ux%u do not fit in memory on this machine", name,
                        (unsigned)n, (unsigned)rows, (unsigned)cols);
    size_t have = len - IDX_IMAGES_HEADER;
    if (have < total)
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "%s: truncated: header says %u images of %ux%u (%zu bytes) but file has %zu bytes "
                        "after its %u-byte header",
                        name, (unsigned)n, (unsigned)rows, (unsigned)cols, total, have, IDX_IMAGES_HEADER);
    if (have > total)
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "%s: %zu trailing bytes after the %u images of %ux%u (%zu bytes) the header declares",
                        name, have - total, (unsigned)n, (unsigned)rows, (unsigned)cols, total);
    shape->n = n;
    shape->rows = rows;
    shape->cols = cols;
    shape->n_bytes = total;
    return MLP_OK;
}

/* Validates a labels file; on success *n is the label count and the labels are buf[IDX_LABELS_HEADER ...]. */
static mlp_status check_labels(const char *name, const uint8_t *buf, size_t len, uint32_t *n_out,
                               mlp_error *err) {
    if (!buf && len > 0) return mlp_fail(err, MLP_ERR_ARG, "%s: buffer is NULL", name);
    if (len < IDX_LABELS_HEADER)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: too short for an IDX labels header (%zu bytes, need %u)", name,
                        len, IDX_LABELS_HEADER);
    uint32_t magic = read_be32(buf);
    if (magic != IDX_MAGIC_LABELS) return bad_magic(err, name, magic, IDX_MAGIC_LABELS);
    uint32_t n = read_be32(buf + 4);
    if (n == 0) return mlp_fail(err, MLP_ERR_FORMAT, "%s: header says 0 labels; the count must be > 0", name);
    if (n > IDX_MAX_COUNT)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: label count %u exceeds the limit of %u", name, (unsigned)n,
                        IDX_MAX_COUNT);
    size_t have = len - IDX_LABELS_HEADER;
    if (have < n)
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "%s: truncated: header says %u labels (%u bytes) but file has %zu bytes after its %u-byte "
                        "header",
                        name, (unsigned)n, (unsigned)n, have, IDX_LABELS_HEADER);
    if (have > n)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: %zu trailing bytes after the %u labels the header declares", name,
                        have - n, (unsigned)n);
    const uint8_t *labels = buf + IDX_LABELS_HEADER;
    for (uint32_t i = 0; i < n; i++)
        if (labels[i] > IDX_MAX_LABEL)
            return mlp_fail(err, MLP_ERR_FORMAT, "%s: label %u at index %u is out of range (expected 0..%u)", name,
                            (unsigned)labels[i], (unsigned)i, IDX_MAX_LABEL);
    *n_out = n;
    return MLP_OK;
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
    mlp_status st = check_images("IDX images", buf, len, &shape, err);
    if (st == MLP_OK) st = copy_bytes("IDX images", buf + IDX_IMAGES_HEADER, shape.n_bytes, pixels, err);
    if (st != MLP_OK) return st;
    *n = (int)shape.n;
    *rows = (int)shape.rows;
    *cols = (int)shape.cols;
    return MLP_OK;
}

mlp_status mlp_idx_parse_labels(const uint8_t *buf, size_t len, uint8_t **labels, int *n, mlp_error *err) {
    if (!labels || !n) return mlp_fail(err, MLP_ERR_ARG, "mlp_idx_parse_labels: output pointers must not be NULL");
    *labels = NULL;
    *n = 0;
    uint32_t count = 0;
    mlp_status st = check_labels("IDX labels", buf, len, &count, err);
    if (st == MLP_OK) st = copy_bytes("IDX labels", buf + IDX_LABELS_HEADER, count, labels, err);
    if (st != MLP_OK) return st;
    *n = (int)count;
    return MLP_OK;
}

/* ---------------------------------------------------------------- datasets */

/* ds->x = (p - offset) * scale for every pixel, through a 256-entry table: the same float operations
 * as computing each value directly, done once per possible byte. */
static mlp_status fill_dataset(mlp_dataset *ds, const char *images_path, const uint8_t *pixels,
                               const idx_images_shape *shape, const uint8_t *labels, mlp_scaling s,
                               mlp_error *err) {
    size_t n_bytes = shape->n_bytes;
    size_t x_bytes;
    if (mul_size(n_bytes, sizeof(float), &x_bytes) != 0)
        return mlp_fail(err, MLP_ERR_NOMEM, "%s: %zu pixels do not fit in memory as floats", images_path, n_bytes);
    float *x = malloc(x_bytes);
    uint8_t *y = malloc(shape->n);
    if (!x || !y) {
        free(x);
        free(y);
        return mlp_fail(err, MLP_ERR_NOMEM, "%s: cannot allocate %zu bytes for %u images of %ux%u as floats",
                        images_path, x_bytes, (unsigned)shape->n, (unsigned)shape->rows, (unsigned)shape->cols);
    }
    float table[256];
    for (int p = 0; p < 256; p++) table[p] = ((float)p - s.offset) * s.scale;
    for (size_t i = 0; i < n_bytes; i++) x[i] = table[pixels[i]];
    memcpy(y, labels, shape->n);

    ds->n = (int)shape->n;
    ds->rows = (int)shape->rows;
    ds->cols = (int)shape->cols;
    ds->dim = (int)(shape->rows * shape->cols);
    ds->x = x;
    ds->y = y;
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
    uint32_t n_labels = 0;
    mlp_status st = mlp_read_file(images_path, &img_buf, &img_len, IDX_MAX_FILE_BYTES, err);
    if (st == MLP_OK) st = check_images(images_path, img_buf, img_len, &shape, err);
    if (st == MLP_OK) st = mlp_read_file(labels_path, &lab_buf, &lab_len, IDX_MAX_FILE_BYTES, err);
    if (st == MLP_OK) st = check_labels(labels_path, lab_buf, lab_len, &n_labels, err);
    if (st == MLP_OK && n_labels != shape.n)
        st = mlp_fail(err, MLP_ERR_FORMAT, "%s has %u images but %s has %u labels; the counts must match",
                      images_path, (unsigned)shape.n, labels_path, (unsigned)n_labels);
    if (st == MLP_OK)
        st = fill_dataset(ds, images_path, img_buf + IDX_IMAGES_HEADER, &shape, lab_buf + IDX_LABELS_HEADER, s,
                          err);
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
    return mlp_fail(err, MLP_ERR_IO, "%s: not found (also tried .gz); run `make data` or pass --data DIR", path);
}

static mlp_status load_split(mlp_dataset *ds, const char *dir, const char *prefix, mlp_scaling s,
                             mlp_error *err) {
    char name[64], images[4096], labels[4096];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    mlp_status st = find_idx_file(dir, name, images, sizeof images, err);
    if (st != MLP_OK) return st;
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    st = find_idx_file(dir, name, labels, sizeof labels, err);
    if (st != MLP_OK) return st;
    return mlp_dataset_load_idx(ds, images, labels, s, err);
}

mlp_status mlp_dataset_load_dir(mlp_dataset *train, mlp_dataset *test, const char *dir, mlp_scaling s,
                                mlp_error *err) {
    if (train) memset(train, 0, sizeof *train);
    if (test) memset(test, 0, sizeof *test);
    if (!dir) return mlp_fail(err, MLP_ERR_ARG, "mlp_dataset_load_dir: dir is NULL");
    if (!train && !test) return mlp_fail(err, MLP_ERR_ARG, "mlp_dataset_load_dir: train and test are both NULL");
    mlp_status st = MLP_OK;
    if (train) st = load_split(train, dir, "train", s, err);
    if (st == MLP_OK && test) st = load_split(test, dir, "t10k", s, err);
    if (st != MLP_OK) {
        mlp_dataset_free(train);
        mlp_dataset_free(test);
    }
    return st;
}

void mlp_dataset_free(mlp_dataset *ds) {
    if (!ds) return;
    free(ds->x);
    free(ds->y);
    memset(ds, 0, sizeof *ds);
}
