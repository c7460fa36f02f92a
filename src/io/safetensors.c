/* safetensors.c - the safetensors container: little-endian codecs, the writer, the validated reader (see
 * safetensors.h for the layout and every check). */
#include "safetensors.h"

#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The data is IEEE 754 binary32/binary64; bytes are produced explicitly little-endian, so any host byte order
 * works (a little-endian host takes the memcpy shortcut). */
_Static_assert(sizeof(float) == 4 && sizeof(double) == 8 && FLT_RADIX == 2 && FLT_MANT_DIG == 24 &&
                   FLT_MAX_EXP == 128 && DBL_MANT_DIG == 53,
               "safetensors files need IEEE 754 binary32 and binary64");

#define METADATA_KEY "__metadata__"

static const char *const dtype_names[] = {[ST_F32] = "F32", [ST_F64] = "F64"};
static const size_t dtype_sizes[] = {[ST_F32] = 4, [ST_F64] = 8};

const char *st_dtype_name(st_dtype d) { return dtype_names[d]; }
size_t st_dtype_size(st_dtype d) { return dtype_sizes[d]; }

/* ================================================================== bytes */

static int host_is_little_endian(void) {
    const uint32_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

void st_put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t st_get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

void st_store_f32(uint8_t *dst, const float *src, size_t n) {
    if (host_is_little_endian()) {
        memcpy(dst, src, n * sizeof(float));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &src[i], 4);
        for (int b = 0; b < 4; b++) dst[4 * i + (size_t)b] = (uint8_t)(bits >> (8 * b));
    }
}

float st_f32_at(const uint8_t *src, size_t i) {
    const uint8_t *q = src + 4 * i;
    uint32_t bits = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
    float x;
    memcpy(&x, &bits, 4);
    return x;
}

void st_load_f32(float *dst, const uint8_t *src, size_t n) {
    if (host_is_little_endian()) {
        memcpy(dst, src, n * sizeof(float));
        return;
    }
    for (size_t i = 0; i < n; i++) dst[i] = st_f32_at(src, i);
}

void st_store_f64(uint8_t *dst, const double *src, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint64_t bits;
        memcpy(&bits, &src[i], 8);
        st_put_u64(dst + 8 * i, bits);
    }
}

double st_f64_at(const uint8_t *src, size_t i) {
    uint64_t bits = st_get_u64(src + 8 * i);
    double x;
    memcpy(&x, &bits, 8);
    return x;
}

/* ================================================================== writing */

void st_writer_init(st_writer *w) {
    memset(w, 0, sizeof *w);
    sbuf_init(&w->meta);
}

void st_writer_free(st_writer *w) {
    sbuf_free(&w->meta);
    w->n = 0;
}

void st_meta_n(st_writer *w, const char *key, const char *value, size_t n) {
    if (w->meta.len) sbuf_putc(&w->meta, ',');
    json_sbuf_string(&w->meta, key);
    sbuf_putc(&w->meta, ':');
    json_sbuf_string_n(&w->meta, value, strnlen(value, n));
}

void st_meta(st_writer *w, const char *key, const char *value) { st_meta_n(w, key, value, strlen(value)); }

void st_meta_fmt(st_writer *w, const char *key, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    st_meta(w, key, buf);
}

/* %.9g reads back (strtof) as exactly the same float, %.17g (strtod) as exactly the same double. */
void st_meta_f32(st_writer *w, const char *key, float x) { st_meta_fmt(w, key, "%.9g", (double)x); }
void st_meta_f64(st_writer *w, const char *key, double x) { st_meta_fmt(w, key, "%.17g", x); }
void st_meta_int(st_writer *w, const char *key, long long x) { st_meta_fmt(w, key, "%lld", x); }

void st_add(st_writer *w, const char *name, st_dtype dtype, int rank, const uint64_t *dims, const void *src) {
    if (w->n == ST_MAX_TENSORS || rank < 1 || rank > ST_MAX_RANK || strlen(name) >= sizeof w->t[0].name) {
        w->bad = 1;
        return;
    }
    st_out *t = &w->t[w->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = dtype;
    t->rank = rank;
    memcpy(t->dim, dims, (size_t)rank * sizeof *dims);
    t->src = src;
}

static size_t out_bytes(const st_out *t) {
    size_t n = st_dtype_size(t->dtype);
    for (int i = 0; i < t->rank; i++) n *= (size_t)t->dim[i];
    return n;
}

/* {"__metadata__":{...},"name":{"dtype":"F32","shape":[a,b],"data_offsets":[begin,end]},...} padded with
 * spaces to a multiple of 8. */
static void build_header(const st_writer *w, sbuf *h, size_t *data_len) {
    size_t offset = 0;
    sbuf_putc(h, '{');
    json_sbuf_string(h, METADATA_KEY);
    sbuf_puts(h, ":{");
    sbuf_append(h, sbuf_str(&w->meta), w->meta.len);
    sbuf_putc(h, '}');
    for (int k = 0; k < w->n; k++) {
        const st_out *t = &w->t[k];
        sbuf_putc(h, ',');
        json_sbuf_string(h, t->name);
        sbuf_printf(h, ":{\"dtype\":\"%s\",\"shape\":[", st_dtype_name(t->dtype));
        for (int i = 0; i < t->rank; i++) sbuf_printf(h, i ? ",%" PRIu64 : "%" PRIu64, t->dim[i]);
        sbuf_printf(h, "],\"data_offsets\":[%zu,%zu]}", offset, offset + out_bytes(t));
        offset += out_bytes(t);
    }
    sbuf_putc(h, '}');
    while (h->len % 8) sbuf_putc(h, ' ');
    if (w->meta.oom) h->oom = 1;
    *data_len = offset;
}

mlp_status st_write(st_writer *w, const char *path, const char *what, mlp_error *err) {
    if (w->bad) return mlp_fail(err, MLP_ERR_ARG, "%s: too many tensors, or a name or rank too large", path);
    sbuf h = SBUF_INIT;
    size_t data_len = 0;
    build_header(w, &h, &data_len);
    if (h.oom) {
        sbuf_free(&h);
        return mlp_fail(err, MLP_ERR_NOMEM, "%s: cannot build the %s header", path, what);
    }
    const size_t total = 8 + h.len + data_len; /* tensors of the library's own blocks: no overflow on 64-bit */
    uint8_t *file = malloc(total);
    if (!file) {
        sbuf_free(&h);
        return mlp_fail(err, MLP_ERR_NOMEM, "%s: cannot allocate %zu bytes for the %s", path, total, what);
    }
    st_put_u64(file, (uint64_t)h.len);
    memcpy(file + 8, h.data, h.len);
    uint8_t *d = file + 8 + h.len;
    for (int k = 0; k < w->n; k++) {
        const st_out *t = &w->t[k];
        const size_t n = out_bytes(t) / st_dtype_size(t->dtype);
        if (t->dtype == ST_F32)
            st_store_f32(d, t->src, n);
        else
            st_store_f64(d, t->src, n);
        d += out_bytes(t);
    }
    sbuf_free(&h);
    mlp_status st = mlp_write_file_atomic(path, file, total, err);
    free(file);
    return st;
}

/* ================================================================== reading */

void st_free(st_file *f) {
    json_free(&f->doc);
    f->meta = NULL;
    f->n = 0;
}

const char *st_meta_get(const st_file *f, const char *key) { return json_string(json_get(f->meta, key)); }
const char *st_meta_lookup(const void *file, const char *key) { return st_meta_get(file, key); }
void st_meta_put(void *writer, const char *key, const char *value) { st_meta(writer, key, value); }

void st_format_shape(const st_tensor *t, char *buf, size_t size) {
    size_t used = 0;
    int64_t d;
    used += (size_t)snprintf(buf, size, "[");
    for (size_t i = 0; i < json_count(t->shape) && used < size; i++) {
        const json_value *v = json_at(t->shape, i);
        if (json_int64(v, &d) == 0)
            used += (size_t)snprintf(buf + used, size - used, i ? ", %lld" : "%lld", (long long)d);
        else
            used += (size_t)snprintf(buf + used, size - used, i ? ", %s" : "%s", json_kind(v));
    }
    if (used < size) snprintf(buf + used, size - used, "]");
}

mlp_status st_one_line(mlp_status st, mlp_error *err) {
    if (st && err)
        for (char *c = err->msg; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    return st;
}

/* A non-negative JSON integer written as one: "10", never "10.0" or "1e1". */
static int get_count(const json_value *v, uint64_t *out) {
    int64_t x;
    if (json_plain_int64(v, &x) != 0 || x < 0) return -1;
    *out = (uint64_t)x;
    return 0;
}

static mlp_status read_dtype(const json_value *dtype, st_dtype want, const char *name, mlp_error *err) {
    if (!json_string(dtype))
        return mlp_fail(err, MLP_ERR_FORMAT, "tensor %s: \"dtype\" must be a string, got %s", name, json_kind(dtype));
    if (strcmp(json_string(dtype), st_dtype_name(want)) != 0)
        return mlp_fail(err, MLP_ERR_FORMAT, "tensor %s has dtype %.40s; only %s is supported", name,
                        json_string(dtype), st_dtype_name(want));
    return MLP_OK;
}

/* elements = product of the dimensions, bytes = size x elements, both overflow-checked */
static mlp_status read_shape(const json_value *shape, int want_rank, const char *name, st_tensor *t,
                             mlp_error *err) {
    if (!shape || shape->type != JSON_ARRAY)
        return mlp_fail(err, MLP_ERR_FORMAT, "tensor %s: \"shape\" must be an array, got %s", name, json_kind(shape));
    if (want_rank && json_count(shape) != (size_t)want_rank)
        return mlp_fail(err, MLP_ERR_FORMAT, "tensor %s: shape must be an array of %d integer%s", name, want_rank,
                        want_rank > 1 ? "s" : "");
    t->elements = 1;
    for (size_t i = 0; i < json_count(shape); i++) {
        uint64_t d;
        if (get_count(json_at(shape, i), &d) != 0)
            return mlp_fail(err, MLP_ERR_FORMAT, "tensor %s: shape must hold non-negative integers, element %zu is not",
                            name, i);
        if (d != 0 && t->elements > UINT64_MAX / d)
            return mlp_fail(err, MLP_ERR_FORMAT, "tensor %s: shape has too many elements", name);
        t->elements *= d;
        if (i < ST_MAX_RANK) t->dim[i] = d;
    }
    if (t->elements > UINT64_MAX / st_dtype_size(t->dtype))
        return mlp_fail(err, MLP_ERR_FORMAT, "tensor %s: shape has too many elements", name);
    t->rank = json_count(shape) > INT_MAX ? INT_MAX : (int)json_count(shape);
    t->shape = shape;
    return MLP_OK;
}

static mlp_status read_offsets(const json_value *offsets, const char *name, size_t data_len, st_tensor *t,
                               mlp_error *err) {
    if (!offsets || offsets->type != JSON_ARRAY || json_count(offsets) != 2 ||
        get_count(json_at(offsets, 0), &t->begin) || get_count(json_at(offsets, 1), &t->end))
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "tensor %s: \"data_offsets\" must be [begin, end], two non-negative integers", name);
    if (t->begin > t->end)
        return mlp_fail(err, MLP_ERR_FORMAT, "tensor %s: data_offsets [%" PRIu64 ", %" PRIu64 "] have begin > end",
                        name, t->begin, t->end);
    if (t->end > data_len)
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "tensor %s: data_offsets [%" PRIu64 ", %" PRIu64 "] extend beyond the data section "
                        "(%zu bytes; file truncated?)",
                        name, t->begin, t->end, data_len);
    const uint64_t need = st_dtype_size(t->dtype) * t->elements;
    if (t->end - t->begin != need) {
        char s[96];
        st_format_shape(t, s, sizeof s);
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "tensor %s: shape %s needs %" PRIu64 " bytes of %s but data_offsets [%" PRIu64 ", %" PRIu64
                        "] span %" PRIu64,
                        name, s, need, st_dtype_name(t->dtype), t->begin, t->end, t->end - t->begin);
    }
    return MLP_OK;
}

/* One header entry {"dtype", "shape", "data_offsets"}, after the format accepted its name. */
static mlp_status read_entry(const json_value *e, st_dtype dtype, int rank, st_file *f, st_tensor *t,
                             mlp_error *err) {
    const char *name = e->key;
    memset(t, 0, sizeof *t);
    t->name = name;
    t->dtype = dtype;
    if (e->type != JSON_OBJECT)
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "tensor %s: expected an object with dtype, shape and data_offsets, got %s", name, json_kind(e));
    mlp_status st;
    if ((st = read_dtype(json_get(e, "dtype"), dtype, name, err)) ||
        (st = read_shape(json_get(e, "shape"), rank, name, t, err)) ||
        (st = read_offsets(json_get(e, "data_offsets"), name, f->data_len, t, err)))
        return st;
    t->data = f->data + t->begin;
    return MLP_OK;
}

static mlp_status read_metadata(const json_value *m, st_file *f, mlp_error *err) {
    if (m->type != JSON_OBJECT)
        return mlp_fail(err, MLP_ERR_FORMAT, "__metadata__ must be an object, got %s", json_kind(m));
    for (size_t k = 0; k < json_count(m); k++) {
        const json_value *v = json_at(m, k);
        if (v->type != JSON_STRING)
            return mlp_fail(err, MLP_ERR_FORMAT, "__metadata__ values must be strings; \"%.60s\" is a %s", v->key,
                            json_kind(v));
        if (!json_string(v))
            return mlp_fail(err, MLP_ERR_FORMAT, "__metadata__ \"%.60s\" holds a NUL character", v->key);
    }
    f->meta = m;
    return MLP_OK;
}

/* Walk the header object: metadata and the tensors the format accepts. */
static mlp_status read_header(const st_format *fmt, st_file *f, mlp_error *err) {
    const json_value *root = f->doc.root;
    if (root->type != JSON_OBJECT)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s must be a JSON object, got %s", fmt->header, json_kind(root));
    for (size_t i = 0; i < json_count(root); i++) {
        const json_value *m = json_at(root, i);
        mlp_status st;
        if (strcmp(m->key, METADATA_KEY) == 0 && m->key_len == strlen(METADATA_KEY)) {
            if ((st = read_metadata(m, f, err))) return st;
            continue;
        }
        st_dtype dtype = ST_F32;
        int rank = 0, tag = 0;
        if (m->key_len != strlen(m->key))
            return mlp_fail(err, MLP_ERR_FORMAT, "unexpected tensor \"%.60s\" (its name holds a NUL)", m->key);
        if ((st = fmt->tensor(fmt->user, m->key, &dtype, &rank, &tag, err))) return st;
        if (f->n == ST_MAX_TENSORS)
            return mlp_fail(err, MLP_ERR_FORMAT, "%s holds more than %d tensors", fmt->header, ST_MAX_TENSORS);
        if ((st = read_entry(m, dtype, rank, f, &f->t[f->n], err))) return st;
        f->t[f->n++].tag = tag;
    }
    return MLP_OK;
}

mlp_status st_parse(const uint8_t *buf, size_t len, const st_format *fmt, st_file *f, mlp_error *err) {
    memset(f, 0, sizeof *f);
    if (len < 8)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s is %zu bytes, shorter than the 8-byte %s length", fmt->what, len,
                        fmt->header);
    const uint64_t header_len = st_get_u64(buf);
    if (header_len > fmt->header_max)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s length %" PRIu64 " exceeds the limit of %" PRIu64 " bytes",
                        fmt->header, header_len, fmt->header_max);
    if (header_len > len - 8)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s length %" PRIu64 " exceeds the %zu bytes that follow it",
                        fmt->header, header_len, len - 8);
    mlp_error jerr;
    mlp_status st = json_parse(&f->doc, (const char *)buf + 8, (size_t)header_len, &fmt->limits, &jerr);
    if (st) return mlp_fail(err, st, "%s (file offset 8): %.400s", fmt->header, jerr.msg);
    f->data = buf + 8 + header_len;
    f->data_len = len - 8 - (size_t)header_len;
    if ((st = read_header(fmt, f, err))) st_free(f);
    return st;
}

/* qsort order of tensors in the data section */
static int by_begin(const void *a, const void *b) {
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

mlp_status st_check_tiling(const st_file *f, mlp_error *err) {
    const st_tensor *sorted[ST_MAX_TENSORS];
    for (int i = 0; i < f->n; i++) sorted[i] = &f->t[i];
    qsort(sorted, (size_t)f->n, sizeof sorted[0], by_begin);
    uint64_t cursor = 0;
    for (int i = 0; i < f->n; i++) {
        const st_tensor *t = sorted[i];
        if (t->begin < cursor)
            return mlp_fail(err, MLP_ERR_FORMAT,
                            "tensors %s and %s overlap in the data section (bytes %" PRIu64 "..%" PRIu64 ")",
                            sorted[i - 1]->name, t->name, t->begin, cursor);
        if (t->begin > cursor)
            return mlp_fail(err, MLP_ERR_FORMAT,
                            "gap in the data section: bytes %" PRIu64 "..%" PRIu64 " before tensor %s belong to no "
                            "tensor",
                            cursor, t->begin, t->name);
        cursor = t->end;
    }
    if (cursor != f->data_len)
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "the data section has %" PRIu64 " bytes after the last tensor (it must be exactly tiled)",
                        (uint64_t)f->data_len - cursor);
    return MLP_OK;
}

mlp_status st_check_finite(const st_tensor *t, mlp_error *err) {
    const size_t n = (size_t)t->elements, cols = t->rank == 2 ? (size_t)t->dim[1] : 0;
    for (size_t i = 0; i < n; i++) {
        const double v = t->dtype == ST_F32 ? (double)st_f32_at(t->data, i) : st_f64_at(t->data, i);
        if (isfinite(v)) continue;
        if (cols)
            return mlp_fail(err, MLP_ERR_FORMAT, "tensor %s holds %s at index %zu (row %zu, column %zu)", t->name,
                            isnan(v) ? "a NaN" : "an infinite value", i, i / cols, i % cols);
        return mlp_fail(err, MLP_ERR_FORMAT, "tensor %s holds %s at index %zu", t->name,
                        isnan(v) ? "a NaN" : "an infinite value", i);
    }
    return MLP_OK;
}
