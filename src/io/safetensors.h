/* safetensors.h - the one reader and writer of safetensors files (safetensors.c); internal to the library.
 * Model files (model_io.c) and checkpoints (checkpoint.c) are both this container; each says which tensors
 * it holds and what its metadata means, this module does the bytes.
 *
 * Layout (https://github.com/huggingface/safetensors, "Format"):
 *   bytes [0, 8)          N, the header length, unsigned 64-bit little-endian
 *   bytes [8, 8+N)        a JSON object (UTF-8), padded with spaces; we pad N to a multiple of 8 so that the
 *                         data that follows is 8-byte aligned
 *   bytes [8+N, end)      the data section: every tensor's raw little-endian bytes. Each header entry
 *                         {"dtype", "shape", "data_offsets": [begin, end]} locates one tensor with offsets
 *                         relative to the data section; together the tensors must tile it exactly.
 * The optional "__metadata__" entry maps strings to strings.
 *
 * WRITING
 *   st_writer w;
 *   st_writer_init(&w);
 *   st_meta(&w, "format", "mlp");  st_meta_f32(&w, "lr", 0.1f);  ...        (in the order they appear)
 *   st_add(&w, "params", ST_F32, 1, dims, floats);  ...                    (data in the order added)
 *   st = st_write(&w, path, "model", err);                                  (atomic: temporary file + rename)
 *   st_writer_free(&w);
 *
 * READING trusts nothing. st_parse checks the header length against the file and a limit, the JSON (json.h,
 * with limits), that the header is an object, that __metadata__ maps strings to strings without NUL, and for
 * every tensor: an object, the dtype and rank its format wants (asked of the format's `tensor` callback, which
 * also refuses names the format does not hold), a shape of plain non-negative integers (10, never 10.0 or
 * 1e1) whose byte count does not overflow, data_offsets [begin, end] of plain integers with begin <= end <=
 * the data section and end - begin the shape's byte count. st_check_tiling then checks that the tensors
 * cover the data section exactly once (a format calls it after its own presence checks, so that "missing
 * tensor" is said before the gap it leaves), st_check_finite refuses NaN and infinities. Messages quote names
 * and values from the file; st_one_line makes an error one line whatever they hold. */
#ifndef MLP_SAFETENSORS_H
#define MLP_SAFETENSORS_H

#include "json.h"
#include "util.h"

#include <stddef.h>
#include <stdint.h>

typedef enum st_dtype { ST_F32, ST_F64 } st_dtype;

/* "F32", "F64"; bytes per element */
const char *st_dtype_name(st_dtype d);
size_t st_dtype_size(st_dtype d);

/* ------------------------------------------------------------------ little-endian codecs */

void st_put_u64(uint8_t *p, uint64_t v);
uint64_t st_get_u64(const uint8_t *p);
void st_store_f32(uint8_t *dst, const float *src, size_t n);  /* n floats to little-endian bytes */
void st_load_f32(float *dst, const uint8_t *src, size_t n);   /* n little-endian floats from bytes */
float st_f32_at(const uint8_t *src, size_t i);                /* element i of little-endian F32 bytes */
void st_store_f64(uint8_t *dst, const double *src, size_t n);
double st_f64_at(const uint8_t *src, size_t i);

/* ------------------------------------------------------------------ writing */

#define ST_MAX_RANK 4
#define ST_MAX_TENSORS 64

typedef struct st_out {
    char name[32];
    st_dtype dtype;
    int rank;
    uint64_t dim[ST_MAX_RANK];
    const void *src;  /* host floats or doubles, converted to little-endian when written */
} st_out;

typedef struct st_writer {
    sbuf meta;        /* the __metadata__ members, `"key":"value",...` */
    st_out t[ST_MAX_TENSORS];
    int n;
    int bad;          /* too many tensors, or a rank over ST_MAX_RANK */
} st_writer;

void st_writer_init(st_writer *w);
void st_writer_free(st_writer *w);
/* A metadata entry: value as is; n bytes of value (may stop at a NUL); numbers that read back exactly (%.9g for
 * a float with strtof, %.17g for a double with strtod); an int; printf. */
void st_meta(st_writer *w, const char *key, const char *value);
void st_meta_n(st_writer *w, const char *key, const char *value, size_t n);
void st_meta_f32(st_writer *w, const char *key, float x);
void st_meta_f64(st_writer *w, const char *key, double x);
void st_meta_int(st_writer *w, const char *key, long long x);
void st_meta_fmt(st_writer *w, const char *key, const char *fmt, ...) MLP_PRINTF(3, 4);
/* A tensor of dims[0] x ... x dims[rank-1] elements read from src when st_write runs. */
void st_add(st_writer *w, const char *name, st_dtype dtype, int rank, const uint64_t *dims, const void *src);
/* Build the file in memory and write it atomically (mlp_write_file_atomic). `what` names it in messages. */
mlp_status st_write(st_writer *w, const char *path, const char *what, mlp_error *err);

/* ------------------------------------------------------------------ reading */

typedef struct st_tensor {
    const char *name;          /* the header key (lives in the JSON doc) */
    st_dtype dtype;
    int rank;
    uint64_t dim[ST_MAX_RANK]; /* the first ST_MAX_RANK dimensions (rank may be larger) */
    uint64_t elements;         /* product of all dimensions */
    const json_value *shape;   /* for messages (st_format_shape) */
    uint64_t begin, end;       /* data_offsets, relative to the data section */
    const uint8_t *data;       /* the bytes: data section + begin */
    int tag;                   /* the format's own number for this tensor (from its callback) */
} st_tensor;

typedef struct st_file {
    json_doc doc;
    const json_value *meta;    /* the __metadata__ object (every value a string without NUL), or NULL */
    st_tensor t[ST_MAX_TENSORS];
    int n;
    const uint8_t *data;
    size_t data_len;
} st_file;

/* What a format accepts. `tensor` is called for every header key but __metadata__, in header order, before
 * the entry is checked: it returns MLP_OK and sets *dtype, *rank (0: any) and *tag for a tensor of the
 * format, or fills err ("unexpected tensor ...") and returns its status. */
typedef struct st_format {
    const char *what;          /* "model file", "checkpoint": starts the "too short" message */
    const char *header;        /* "safetensors header", "header": how messages name the header */
    uint64_t header_max;       /* largest header length accepted */
    json_limits limits;        /* for the header's JSON */
    mlp_status (*tensor)(void *user, const char *name, st_dtype *dtype, int *rank, int *tag, mlp_error *err);
    void *user;
} st_format;

/* Parse and check buf[0, len) (see above; not the tiling). On error f is released. Release with st_free. */
mlp_status st_parse(const uint8_t *buf, size_t len, const st_format *fmt, st_file *f, mlp_error *err);
void st_free(st_file *f);
/* The tensors cover [0, data_len) exactly once: sorted by begin, each starts where the previous ended. */
mlp_status st_check_tiling(const st_file *f, mlp_error *err);
/* Every element of t is finite; the message names the index (row and column for a rank-2 tensor). */
mlp_status st_check_finite(const st_tensor *t, mlp_error *err);
/* The metadata value of key (NULL when absent). */
const char *st_meta_get(const st_file *f, const char *key);
/* The same two as runcfg.h's callbacks: st_meta_put(st_writer *, ...), st_meta_lookup(const st_file *, ...). */
void st_meta_put(void *writer, const char *key, const char *value);
const char *st_meta_lookup(const void *file, const char *key);
/* "[128, 784]" for messages, from the header's shape array (whatever it holds). */
void st_format_shape(const st_tensor *t, char *buf, size_t size);
/* Replace control characters in err's message (quoted from the file) so that it stays one line. */
mlp_status st_one_line(mlp_status st, mlp_error *err);

#endif
