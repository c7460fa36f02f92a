/* model_io.c - model files in the safetensors format.
 *
 * Layout (https://github.com/huggingface/safetensors, "Format"):
 *   bytes [0, 8)          N, the header length, unsigned 64-bit little-endian
 *   bytes [8, 8+N)        a JSON object (UTF-8), padded with spaces; we pad N to a multiple of 8 so the
 *                         data that follows is aligned
 *   bytes [8+N, end)      the data section: every tensor's raw little-endian bytes. Each header entry
 *                         {"dtype", "shape", "data_offsets": [begin, end]} locates one tensor with offsets
 *                         relative to the data section; together the tensors must tile it exactly.
 * The optional "__metadata__" entry maps strings to strings.
 *
 * Tensors: fc{l}.weight [width[l] x width[l-1]] and fc{l}.bias [width[l]] for l = 1..n_layers, F32,
 * row-major [out x in] as in PyTorch's nn.Linear, so a net's parameter block (fc1.weight, fc1.bias,
 * fc2.weight, ...) is written as is. Metadata records the architecture, loss and input scaling as strings;
 * floats are printed with %.9g, which reads back as exactly the same float.
 *
 * Reading trusts nothing: lengths, JSON syntax, dtypes, shapes, offsets (overflow-checked), tiling,
 * tensor names and the agreement between metadata and shapes are all checked before anything is
 * allocated for the network. Files written by other tools load when they hold the fc tensors in any
 * order, with any extra metadata; a network with hidden layers also needs the "activation" entry,
 * because guessing it would silently compute something else. */
#include "fileio.h"
#include "util.h"
#include "json.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The data is written as IEEE 754 binary32; the bytes are produced explicitly little-endian, so any
 * host byte order works (a little-endian host takes the memcpy shortcut). */
_Static_assert(sizeof(float) == 4 && FLT_RADIX == 2 && FLT_MANT_DIG == 24 && FLT_MAX_EXP == 128,
               "model files need IEEE 754 binary32 floats");

#define HEADER_MAX ((uint64_t)100 << 20)   /* 100 MB, the limit of the reference implementation */
#define MODEL_FILE_MAX ((size_t)2 << 30)    /* 2 GB: far above any network this library builds */
#define METADATA_KEY "__metadata__"

/* ================================================================== bytes */

static int host_is_little_endian(void) {
    const uint32_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

static void put_u64_le(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64_le(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* n floats to little-endian bytes */
static void store_f32_le(uint8_t *dst, const float *src, size_t n) {
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

/* n little-endian floats from bytes */
static void load_f32_le(float *dst, const uint8_t *src, size_t n) {
    if (host_is_little_endian()) {
        memcpy(dst, src, n * sizeof(float));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *q = src + 4 * i;
        uint32_t bits = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
        memcpy(&dst[i], &bits, 4);
    }
}

/* ================================================================== saving */

static int arch_equal(const mlp_arch *a, const mlp_arch *b) {
    if (a->n_layers != b->n_layers || a->act != b->act) return 0;
    for (int l = 0; l <= a->n_layers; l++)
        if (a->width[l] != b->width[l]) return 0;
    return 1;
}

/* "784,128,10" */
static void format_widths(const mlp_arch *arch, sbuf *b) {
    for (int l = 0; l <= arch->n_layers; l++) sbuf_printf(b, l ? ",%d" : "%d", arch->width[l]);
}

/* Append `"key": "value"` (with a leading comma unless first) to the metadata object. */
static void meta_str(sbuf *h, const char *key, const char *value, size_t value_len) {
    if (h->len && h->data[h->len - 1] != '{') sbuf_putc(h, ',');
    json_sbuf_string(h, key);
    sbuf_putc(h, ':');
    json_sbuf_string_n(h, value, value_len);
}

static void meta_float(sbuf *h, const char *key, float x) {
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%.9g", (double)x);
    meta_str(h, key, buf, (size_t)n);
}

static void meta_int(sbuf *h, const char *key, int x) {
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%d", x);
    meta_str(h, key, buf, (size_t)n);
}

static mlp_status check_save_args(const mlp_net *net, const mlp_model_meta *meta, mlp_error *err) {
    const mlp_arch *arch = &net->arch;
    if (!net->params || arch->n_layers < 1 || arch->n_layers > MLP_MAX_LAYERS)
        return mlp_fail(err, MLP_ERR_ARG, "model save: the network is not created");
    if (arch->width[arch->n_layers] > MLP_MAX_CLASSES)
        return mlp_fail(err, MLP_ERR_ARG, "model save: %d classes, at most %d", arch->width[arch->n_layers],
                        MLP_MAX_CLASSES);
    if (!meta) return MLP_OK;
    if (meta->arch.n_layers != 0 && !arch_equal(&meta->arch, arch)) {
        char want[160], got[160];
        mlp_arch_format(&meta->arch, got, sizeof got);
        mlp_arch_format(arch, want, sizeof want);
        return mlp_fail(err, MLP_ERR_ARG, "model save: meta->arch (%s, %s) does not match the network (%s, %s)",
                        got, mlp_act_name(meta->arch.act), want, mlp_act_name(arch->act));
    }
    if ((unsigned)meta->loss.kind >= MLP_LOSS_COUNT)
        return mlp_fail(err, MLP_ERR_ARG, "model save: unknown loss %d in meta", (int)meta->loss.kind);
    int finite = isfinite(meta->loss.hinge_margin) && isfinite(meta->loss.focal_gamma) &&
                 isfinite(meta->scaling.offset) && isfinite(meta->scaling.scale);
    for (int k = 0; k < arch->width[arch->n_layers]; k++) finite = finite && isfinite(meta->loss.focal_alpha[k]);
    if (!finite)
        return mlp_fail(err, MLP_ERR_ARG, "model save: meta holds a NaN or infinite loss or scaling constant");
    return MLP_OK;
}

/* The "__metadata__" object. Without meta, the loss and scaling defaults of the reference. */
static void build_metadata(sbuf *h, const mlp_arch *arch, const mlp_model_meta *meta) {
    const int K = arch->width[arch->n_layers];
    const mlp_loss_cfg loss = meta ? meta->loss : mlp_loss_default(MLP_LOSS_HINGE);
    const mlp_scaling scaling = meta ? meta->scaling : mlp_scaling_default();
    const char *version = meta && meta->version[0] ? meta->version : MLP_VERSION;
    sbuf text = SBUF_INIT;

    json_sbuf_string(h, METADATA_KEY);
    sbuf_puts(h, ":{");
    meta_str(h, "format", "mlp", 3);
    meta_str(h, "mlp_version", version, strnlen(version, sizeof meta->version));
    format_widths(arch, &text);
    meta_str(h, "widths", sbuf_str(&text), text.len);
    meta_int(h, "layers", arch->n_layers);
    meta_int(h, "classes", K);
    meta_str(h, "activation", mlp_act_name(arch->act), strlen(mlp_act_name(arch->act)));
    meta_str(h, "loss", mlp_loss_name(loss.kind), strlen(mlp_loss_name(loss.kind)));
    meta_float(h, "hinge_margin", loss.hinge_margin);
    meta_float(h, "focal_gamma", loss.focal_gamma);
    sbuf_clear(&text);
    for (int k = 0; k < K; k++) sbuf_printf(&text, k ? ",%.9g" : "%.9g", (double)loss.focal_alpha[k]);
    meta_str(h, "focal_alpha", sbuf_str(&text), text.len);
    meta_float(h, "input_offset", scaling.offset);
    meta_float(h, "input_scale", scaling.scale);
    if (meta) meta_str(h, "dataset", meta->dataset, strnlen(meta->dataset, sizeof meta->dataset));
    sbuf_putc(h, '}');
    if (text.oom) h->oom = 1;
    sbuf_free(&text);
}

/* One tensor entry of the header; *offset advances past its data. */
static void build_tensor_entry(sbuf *h, int layer, int is_bias, size_t out, size_t in, size_t *offset) {
    size_t bytes = (is_bias ? out : out * in) * sizeof(float);
    sbuf_printf(h, ",\"fc%d.%s\":{\"dtype\":\"F32\",\"shape\":", layer, is_bias ? "bias" : "weight");
    if (is_bias)
        sbuf_printf(h, "[%zu]", out);
    else
        sbuf_printf(h, "[%zu,%zu]", out, in);
    sbuf_printf(h, ",\"data_offsets\":[%zu,%zu]}", *offset, *offset + bytes);
    *offset += bytes;
}

mlp_status mlp_model_save(const char *path, const mlp_net *net, const mlp_model_meta *meta, mlp_error *err) {
    if (!path || !net) return mlp_fail(err, MLP_ERR_ARG, "model save: NULL path or network");
    mlp_status st = check_save_args(net, meta, err);
    if (st) return st;
    const mlp_arch *arch = &net->arch;

    /* header: metadata, then fc1.weight, fc1.bias, fc2.weight, ... in data order */
    sbuf h = SBUF_INIT;
    size_t data_len = 0;
    sbuf_putc(&h, '{');
    build_metadata(&h, arch, meta);
    for (int l = 0; l < arch->n_layers; l++) {
        size_t in = (size_t)arch->width[l], out = (size_t)arch->width[l + 1];
        build_tensor_entry(&h, l + 1, 0, out, in, &data_len);
        build_tensor_entry(&h, l + 1, 1, out, in, &data_len);
    }
    sbuf_putc(&h, '}');
    while (h.len % 8) sbuf_putc(&h, ' ');
    if (h.oom) {
        sbuf_free(&h);
        return mlp_fail(err, MLP_ERR_NOMEM, "%s: cannot build the model header", path);
    }

    size_t total = 8 + h.len + data_len; /* widths <= 2^20 and <= 16 layers: no overflow on 64-bit */
    uint8_t *file = malloc(total);
    if (!file) {
        sbuf_free(&h);
        return mlp_fail(err, MLP_ERR_NOMEM, "%s: cannot allocate %zu bytes for the model file", path, total);
    }
    put_u64_le(file, (uint64_t)h.len);
    memcpy(file + 8, h.data, h.len);
    uint8_t *data = file + 8 + h.len;
    for (int l = 0; l < arch->n_layers; l++) {
        size_t in = (size_t)arch->width[l], out = (size_t)arch->width[l + 1];
        store_f32_le(data, net->params + net->w_off[l], out * in);
        data += out * in * sizeof(float);
        store_f32_le(data, net->params + net->b_off[l], out);
        data += out * sizeof(float);
    }
    sbuf_free(&h);
    st = mlp_write_file_atomic(path, file, total, err);
    free(file);
    return st;
}

/* ================================================================== reading: the header */

typedef struct tensor_entry {
    int present;
    const char *name;       /* the header key (lives in the JSON doc) */
    int rank;
    int64_t dim[2];         /* the first two dimensions (rank is checked later) */
    const json_value *shape;
    uint64_t begin, end;    /* data_offsets, relative to the data section */
} tensor_entry;

typedef struct model_header {
    tensor_entry weight[MLP_MAX_LAYERS], bias[MLP_MAX_LAYERS];
    int n_layers;                 /* highest fc index seen */
    const json_value *metadata;   /* NULL when absent */
} model_header;

/* Split "fc<l>.weight" / "fc<l>.bias" (l without leading zeros). Returns l >= 1 and sets *is_bias, or
 * 0 when the name has another form. */
static long parse_tensor_name(const char *name, size_t len, int *is_bias) {
    if (len < 3 || strlen(name) != len || strncmp(name, "fc", 2) != 0 || name[2] < '1' || name[2] > '9') return 0;
    char *end;
    long l = strtol(name + 2, &end, 10);
    if (strcmp(end, ".weight") == 0)
        *is_bias = 0;
    else if (strcmp(end, ".bias") == 0)
        *is_bias = 1;
    else
        return 0;
    return l;
}

/* "[128, 784]" for messages, from the JSON array (whatever it holds). */
static void format_shape(const json_value *shape, char *buf, size_t size) {
    size_t used = 0;
    int64_t d;
    used += (size_t)snprintf(buf, size, "[");
    for (size_t i = 0; i < json_count(shape) && used < size; i++) {
        const json_value *v = json_at(shape, i);
        if (json_int64(v, &d) == 0)
            used += (size_t)snprintf(buf + used, size - used, i ? ", %lld" : "%lld", (long long)d);
        else
            used += (size_t)snprintf(buf + used, size - used, i ? ", %s" : "%s", json_kind(v));
    }
    if (used < size) snprintf(buf + used, size - used, "]");
}

/* Read a non-negative JSON integer. */
static int get_count(const json_value *v, uint64_t *out) {
    int64_t x;
    if (json_plain_int64(v, &x) != 0 || x < 0) return -1; /* "10", never "10.0" or "1e1" */
    *out = (uint64_t)x;
    return 0;
}

/* Check one tensor entry {"dtype", "shape", "data_offsets"} against the data section and record it. */
static mlp_status read_tensor_entry(const json_value *entry, const char *name, size_t data_len, tensor_entry *t,
                                    mlp_error *err) {
    if (!entry || entry->type != JSON_OBJECT)
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "tensor %s: expected an object with dtype, shape and data_offsets, got %s", name,
                        json_kind(entry));
    const json_value *dtype = json_get(entry, "dtype"), *shape = json_get(entry, "shape"),
                     *offsets = json_get(entry, "data_offsets");
    if (!json_string(dtype))
        return mlp_fail(err, MLP_ERR_FORMAT, "tensor %s: \"dtype\" must be a string, got %s", name, json_kind(dtype));
    if (strcmp(json_string(dtype), "F32") != 0)
        return mlp_fail(err, MLP_ERR_FORMAT, "tensor %s has dtype %.40s; only F32 is supported", name,
                        json_string(dtype));

    if (!shape || shape->type != JSON_ARRAY)
        return mlp_fail(err, MLP_ERR_FORMAT, "tensor %s: \"shape\" must be an array, got %s", name, json_kind(shape));
    /* elements = product of the dimensions, bytes = 4 x elements, both overflow-checked */
    uint64_t elements = 1;
    for (size_t i = 0; i < json_count(shape); i++) {
        uint64_t d;
        if (get_count(json_at(shape, i), &d) != 0)
            return mlp_fail(err, MLP_ERR_FORMAT, "tensor %s: shape must hold non-negative integers, element %zu is not",
                            name, i);
        if (d != 0 && elements > UINT64_MAX / d)
            return mlp_fail(err, MLP_ERR_FORMAT, "tensor %s: shape has too many elements", name);
        elements *= d;
        if (i < 2) t->dim[i] = (int64_t)d;
    }
    if (elements > UINT64_MAX / 4) return mlp_fail(err, MLP_ERR_FORMAT, "tensor %s: shape has too many elements", name);
    t->rank = json_count(shape) > INT_MAX ? INT_MAX : (int)json_count(shape);
    t->shape = shape;

    if (!offsets || offsets->type != JSON_ARRAY || json_count(offsets) != 2 ||
        get_count(json_at(offsets, 0), &t->begin) || get_count(json_at(offsets, 1), &t->end))
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "tensor %s: \"data_offsets\" must be [begin, end], two non-negative integers", name);
    if (t->begin > t->end)
        return mlp_fail(err, MLP_ERR_FORMAT, "tensor %s: data_offsets [%llu, %llu] have begin > end", name,
                        (unsigned long long)t->begin, (unsigned long long)t->end);
    if (t->end > data_len)
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "tensor %s: data_offsets [%llu, %llu] extend beyond the data section "
                        "(%zu bytes; file truncated?)",
                        name, (unsigned long long)t->begin, (unsigned long long)t->end, data_len);
    if (t->end - t->begin != 4 * elements) {
        char s[96];
        format_shape(shape, s, sizeof s);
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "tensor %s: shape %s needs %llu bytes of F32 but data_offsets [%llu, %llu] span %llu",
                        name, s, (unsigned long long)(4 * elements), (unsigned long long)t->begin,
                        (unsigned long long)t->end, (unsigned long long)(t->end - t->begin));
    }
    t->name = name;
    t->present = 1;
    return MLP_OK;
}

/* Walk the header object: metadata and fc tensors, anything else is an error naming it. */
static mlp_status read_header(const json_value *root, size_t data_len, model_header *h, mlp_error *err) {
    memset(h, 0, sizeof *h);
    if (!root || root->type != JSON_OBJECT)
        return mlp_fail(err, MLP_ERR_FORMAT, "safetensors header must be a JSON object, got %s", json_kind(root));
    for (size_t i = 0; i < json_count(root); i++) {
        const json_value *m = json_at(root, i);
        int is_bias = 0;
        long layer;
        if (strcmp(m->key, METADATA_KEY) == 0 && m->key_len == strlen(METADATA_KEY)) {
            if (m->type != JSON_OBJECT)
                return mlp_fail(err, MLP_ERR_FORMAT, "__metadata__ must be an object, got %s", json_kind(m));
            for (size_t k = 0; k < json_count(m); k++) {
                const json_value *v = json_at(m, k);
                if (v->type != JSON_STRING)
                    return mlp_fail(err, MLP_ERR_FORMAT, "__metadata__ values must be strings; \"%.60s\" is a %s",
                                    v->key, json_kind(v));
                if (!json_string(v))
                    return mlp_fail(err, MLP_ERR_FORMAT, "__metadata__ \"%.60s\" holds a NUL character", v->key);
            }
            h->metadata = m;
            continue;
        }
        layer = parse_tensor_name(m->key, m->key_len, &is_bias);
        if (layer > MLP_MAX_LAYERS)
            return mlp_fail(err, MLP_ERR_FORMAT, "tensor %.60s: at most %d layers are supported", m->key,
                            MLP_MAX_LAYERS);
        if (layer < 1)
            return mlp_fail(err, MLP_ERR_FORMAT,
                            "unexpected tensor \"%.60s\" (a model holds fc<l>.weight and fc<l>.bias for l = 1, 2, ...)",
                            m->key);
        tensor_entry *t = is_bias ? &h->bias[layer - 1] : &h->weight[layer - 1];
        if (t->present) return mlp_fail(err, MLP_ERR_FORMAT, "duplicate tensor %.60s", m->key);
        mlp_status st = read_tensor_entry(m, m->key, data_len, t, err);
        if (st) return st;
        if (layer > h->n_layers) h->n_layers = (int)layer;
    }
    if (h->n_layers == 0) return mlp_fail(err, MLP_ERR_FORMAT, "safetensors header holds no fc tensors");
    return MLP_OK;
}

/* Widths from the shapes: fc1.weight [w1, w0], fcL.weight [wL, w(L-1)], fcL.bias [wL]; every tensor of
 * fc1..fcL must be present and chain. */
static mlp_status infer_widths(const model_header *h, int width[MLP_MAX_LAYERS + 1], mlp_error *err) {
    for (int l = 1; l <= h->n_layers; l++) {
        const tensor_entry *w = &h->weight[l - 1], *b = &h->bias[l - 1];
        char s[96];
        if (!w->present) return mlp_fail(err, MLP_ERR_FORMAT, "missing tensor fc%d.weight", l);
        if (!b->present) return mlp_fail(err, MLP_ERR_FORMAT, "missing tensor fc%d.bias", l);
        format_shape(w->shape, s, sizeof s);
        if (w->rank != 2)
            return mlp_fail(err, MLP_ERR_FORMAT, "tensor fc%d.weight has shape %s, expected [out, in]", l, s);
        if (w->dim[0] < 1 || w->dim[0] > INT_MAX || w->dim[1] < 1 || w->dim[1] > INT_MAX)
            return mlp_fail(err, MLP_ERR_FORMAT, "tensor fc%d.weight has shape %s: widths must be 1..%d", l, s,
                            INT_MAX);
        if (l == 1) width[0] = (int)w->dim[1];
        if (w->dim[1] != width[l - 1])
            return mlp_fail(err, MLP_ERR_FORMAT,
                            "tensor fc%d.weight has shape %s, expected [%lld, %d] (fc%d has %d outputs)",
                            l, s, (long long)w->dim[0], width[l - 1], l - 1, width[l - 1]);
        width[l] = (int)w->dim[0];
        if (b->rank != 1 || b->dim[0] != width[l]) {
            format_shape(b->shape, s, sizeof s);
            return mlp_fail(err, MLP_ERR_FORMAT, "tensor fc%d.bias has shape %s, expected [%d]", l, s, width[l]);
        }
    }
    if (width[h->n_layers] > MLP_MAX_CLASSES)
        return mlp_fail(err, MLP_ERR_FORMAT, "the model has %d outputs, at most %d classes are supported",
                        width[h->n_layers], MLP_MAX_CLASSES);
    return MLP_OK;
}

/* qsort order of tensors in the data section */
static int by_begin(const void *a, const void *b) {
    const tensor_entry *x = *(const tensor_entry *const *)a, *y = *(const tensor_entry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* The tensors must cover [0, data_len) exactly once: sorted by begin, each starts where the previous
 * ended, the first at 0, the last ends at data_len. */
static mlp_status check_tiling(const model_header *h, size_t data_len, mlp_error *err) {
    const tensor_entry *sorted[2 * MLP_MAX_LAYERS];
    int n = 0;
    for (int l = 0; l < h->n_layers; l++) sorted[n++] = &h->weight[l], sorted[n++] = &h->bias[l];
    qsort(sorted, (size_t)n, sizeof sorted[0], by_begin);
    uint64_t cursor = 0;
    for (int i = 0; i < n; i++) {
        const tensor_entry *t = sorted[i];
        if (t->begin < cursor)
            return mlp_fail(err, MLP_ERR_FORMAT, "tensors %s and %s overlap in the data section (bytes %llu..%llu)",
                            sorted[i - 1]->name, t->name, (unsigned long long)t->begin, (unsigned long long)cursor);
        if (t->begin > cursor)
            return mlp_fail(err, MLP_ERR_FORMAT,
                            "gap in the data section: bytes %llu..%llu before tensor %s belong to no tensor",
                            (unsigned long long)cursor, (unsigned long long)t->begin, t->name);
        cursor = t->end;
    }
    if (cursor != data_len)
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "the data section has %llu bytes after the last tensor (it must be exactly tiled)",
                        (unsigned long long)(data_len - cursor));
    return MLP_OK;
}

/* ================================================================== reading: metadata */

static const char *meta_get(const model_header *h, const char *key) {
    return json_string(json_get(h->metadata, key));
}

/* A float written with %.9g (strtof reads it back exactly); all of s must be the number. */
static int parse_float(const char *s, float *out) {
    char *end;
    if (!s || !*s || *s == ' ' || *s == '\t' || *s == '\n') return -1;
    float v = strtof(s, &end);
    if (*end != '\0' || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

/* Comma-separated list "a,b,c" of at most max ints into out; returns the count or -1. */
static int parse_int_list(const char *s, int *out, int max) {
    int n = 0;
    for (;;) {
        char *end;
        if (*s < '0' || *s > '9' || n == max) return -1;
        long v = strtol(s, &end, 10);
        if (v > INT_MAX) return -1;
        out[n++] = (int)v;
        if (*end == '\0') return n;
        if (*end != ',') return -1;
        s = end + 1;
    }
}

static mlp_status meta_float_or(const model_header *h, const char *key, float *out, mlp_error *err) {
    const char *s = meta_get(h, key);
    if (s && parse_float(s, out) != 0)
        return mlp_fail(err, MLP_ERR_FORMAT, "metadata %s \"%.40s\" is not a finite number", key, s);
    return MLP_OK;
}

static mlp_status meta_text(const model_header *h, const char *key, char *out, size_t size, mlp_error *err) {
    const char *s = meta_get(h, key);
    out[0] = '\0';
    if (!s) return MLP_OK;
    if (strlen(s) >= size)
        return mlp_fail(err, MLP_ERR_FORMAT, "metadata %s \"%.40s\" is %zu bytes, longer than the %zu allowed", key, s,
                        strlen(s), size - 1);
    memcpy(out, s, strlen(s) + 1);
    /* a text field is printed (mlp info, predict): control characters (a "\n" escape) must not reach a
     * terminal, where they could move the cursor or fake lines */
    for (char *c = out; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    return MLP_OK;
}

/* The architecture from the tensors, cross-checked with the "widths", "layers" and "classes" metadata;
 * the activation from the metadata. */
static mlp_status read_arch(const model_header *h, mlp_arch *arch, mlp_error *err) {
    memset(arch, 0, sizeof *arch);
    arch->n_layers = h->n_layers;
    mlp_status st = infer_widths(h, arch->width, err);
    if (st) return st;
    const int L = h->n_layers, K = arch->width[L];
    char shapes[200];
    sbuf text = SBUF_INIT;
    format_widths(arch, &text);
    snprintf(shapes, sizeof shapes, "%s", sbuf_str(&text));
    sbuf_free(&text);

    const char *s = meta_get(h, "widths");
    if (s) {
        int w[MLP_MAX_LAYERS + 2];
        int n = parse_int_list(s, w, MLP_MAX_LAYERS + 2);
        if (n < 0)
            return mlp_fail(err, MLP_ERR_FORMAT,
                            "metadata widths \"%.60s\" is not a comma-separated list of integers", s);
        int same = n == L + 1;
        for (int l = 0; same && l <= L; l++) same = w[l] == arch->width[l];
        if (!same)
            return mlp_fail(err, MLP_ERR_FORMAT, "metadata widths \"%.60s\" disagree with the tensor shapes (%s)", s,
                            shapes);
    }
    int v;
    if ((s = meta_get(h, "layers")) && (parse_int_list(s, &v, 1) != 1 || v != L))
        return mlp_fail(err, MLP_ERR_FORMAT, "metadata layers \"%.20s\" disagrees with the tensors (%d layers)", s, L);
    if ((s = meta_get(h, "classes")) && (parse_int_list(s, &v, 1) != 1 || v != K))
        return mlp_fail(err, MLP_ERR_FORMAT, "metadata classes \"%.20s\" disagrees with the tensors (%d outputs)", s,
                        K);

    s = meta_get(h, "activation");
    if (s) {
        if (mlp_act_parse(s, &arch->act) != 0) {
            char known[160] = "";
            for (int a = 0; a < MLP_ACT_COUNT; a++)
                snprintf(known + strlen(known), sizeof known - strlen(known), a ? ", %s" : "%s",
                         mlp_act_name((mlp_act)a));
            return mlp_fail(err, MLP_ERR_FORMAT, "metadata activation \"%.40s\" is not a known activation (%s)", s,
                            known);
        }
    } else if (L > 1) {
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "metadata has no \"activation\": it is needed to rebuild a network with hidden layers "
                        "(widths %s)",
                        shapes);
    } else {
        arch->act = MLP_ACT_RELU; /* no hidden layer: the activation is never applied */
    }
    return MLP_OK;
}

/* Loss, scaling, dataset and version; absent entries take the reference's defaults. */
static mlp_status read_meta(const model_header *h, int K, mlp_model_meta *m, mlp_error *err) {
    const char *s = meta_get(h, "loss");
    mlp_loss kind = MLP_LOSS_HINGE;
    if (s && mlp_loss_parse(s, &kind) != 0) {
        char known[160] = "";
        for (int l = 0; l < MLP_LOSS_COUNT; l++)
            snprintf(known + strlen(known), sizeof known - strlen(known), l ? ", %s" : "%s",
                     mlp_loss_name((mlp_loss)l));
        return mlp_fail(err, MLP_ERR_FORMAT, "metadata loss \"%.40s\" is not a known loss (%s)", s, known);
    }
    m->loss = mlp_loss_default(kind);
    m->scaling = mlp_scaling_default();
    mlp_status st;
    if ((st = meta_float_or(h, "hinge_margin", &m->loss.hinge_margin, err)) ||
        (st = meta_float_or(h, "focal_gamma", &m->loss.focal_gamma, err)) ||
        (st = meta_float_or(h, "input_offset", &m->scaling.offset, err)) ||
        (st = meta_float_or(h, "input_scale", &m->scaling.scale, err)))
        return st;

    if ((s = meta_get(h, "focal_alpha"))) {
        /* exactly K comma-separated numbers */
        const char *p = s;
        for (int k = 0; k < K; k++) {
            char item[64];
            size_t n = strcspn(p, ",");
            if (n >= sizeof item || (k < K - 1 && p[n] != ',') || (k == K - 1 && p[n] != '\0'))
                return mlp_fail(err, MLP_ERR_FORMAT,
                                "metadata focal_alpha \"%.60s\" must be %d comma-separated numbers", s, K);
            memcpy(item, p, n);
            item[n] = '\0';
            if (parse_float(item, &m->loss.focal_alpha[k]) != 0)
                return mlp_fail(err, MLP_ERR_FORMAT,
                                "metadata focal_alpha \"%.60s\": item %d is not a finite number", s, k + 1);
            p += n + 1;
        }
    }
    if ((st = meta_text(h, "dataset", m->dataset, sizeof m->dataset, err)) ||
        (st = meta_text(h, "mlp_version", m->version, sizeof m->version, err)))
        return st;
    return MLP_OK;
}

/* ================================================================== reading: the file */

/* Everything that can be checked without allocating the network. */
static mlp_status read_model_header(const uint8_t *buf, size_t len, json_doc *doc, model_header *h,
                                    const uint8_t **data, size_t *data_len, mlp_error *err) {
    if (len < 8)
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "model file is %zu bytes, shorter than the 8-byte safetensors header length", len);
    uint64_t header_len = get_u64_le(buf);
    if (header_len > HEADER_MAX)
        return mlp_fail(err, MLP_ERR_FORMAT, "safetensors header length %llu exceeds the limit of %llu bytes",
                        (unsigned long long)header_len, (unsigned long long)HEADER_MAX);
    if (header_len > len - 8)
        return mlp_fail(err, MLP_ERR_FORMAT, "safetensors header length %llu exceeds the %zu bytes that follow it",
                        (unsigned long long)header_len, len - 8);
    mlp_error jerr;
    json_limits lim = json_limits_default();
    mlp_status st = json_parse(doc, (const char *)buf + 8, (size_t)header_len, &lim, &jerr);
    if (st) return mlp_fail(err, st, "safetensors header (file offset 8): %.400s", jerr.msg);
    *data = buf + 8 + header_len;
    *data_len = len - 8 - (size_t)header_len;
    if ((st = read_header(doc->root, *data_len, h, err))) return st;
    return MLP_OK;
}

/* Messages quote names and values from the file, which may hold control characters (a "\n" escape in a
 * metadata value): replace them so that an error stays one line. */
static mlp_status one_line(mlp_status st, mlp_error *err) {
    if (st && err)
        for (char *c = err->msg; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    return st;
}

/* Every value of a tensor must be finite: a NaN or infinity would give meaningless scores (or a loss of 0)
 * instead of an error. The message names the tensor and the index (row, column for a weight). */
static mlp_status check_finite(const uint8_t *data, const tensor_entry *t, const char *name, size_t cols,
                               mlp_error *err) {
    const size_t n = (size_t)(t->end - t->begin) / 4;
    for (size_t i = 0; i < n; i++) {
        float v;
        load_f32_le(&v, data + t->begin + 4 * i, 1);
        if (isfinite(v)) continue;
        if (cols)
            return mlp_fail(err, MLP_ERR_FORMAT, "tensor %s holds %s at index %zu (row %zu, column %zu)", name,
                            isnan(v) ? "a NaN" : "an infinite value", i, i / cols, i % cols);
        return mlp_fail(err, MLP_ERR_FORMAT, "tensor %s holds %s at index %zu", name,
                        isnan(v) ? "a NaN" : "an infinite value", i);
    }
    return MLP_OK;
}

static mlp_status check_all_finite(const uint8_t *data, const model_header *h, const mlp_arch *arch, mlp_error *err) {
    mlp_status st = MLP_OK;
    for (int l = 0; l < arch->n_layers && !st; l++) {
        char name[32];
        snprintf(name, sizeof name, "fc%d.weight", l + 1);
        st = check_finite(data, &h->weight[l], name, (size_t)arch->width[l], err);
        snprintf(name, sizeof name, "fc%d.bias", l + 1);
        if (!st) st = check_finite(data, &h->bias[l], name, 0, err);
    }
    return st;
}

/* The network's memory for max_batch rows, from the header alone, against the caller's limit. */
static mlp_status check_memory(const mlp_arch *arch, int max_batch, size_t max_bytes, mlp_error *err) {
    const size_t need = mlp_net_bytes(arch, max_batch);
    if (need <= max_bytes) return MLP_OK;
    char archs[200];
    mlp_arch_format(arch, archs, sizeof archs);
    return mlp_fail(err, MLP_ERR_NOMEM,
                    "the network %s needs %.1f MiB for batches of %d rows, above the memory limit of %.1f MiB", archs,
                    (double)need / 1048576.0, max_batch, (double)max_bytes / 1048576.0);
}

static mlp_status model_parse(const uint8_t *buf, size_t len, mlp_net *net, int max_batch, size_t max_bytes,
                              mlp_model_meta *meta, mlp_error *err);

mlp_status mlp_model_parse(const uint8_t *buf, size_t len, mlp_net *net, int max_batch, mlp_model_meta *meta,
                           mlp_error *err) {
    return model_parse(buf, len, net, max_batch, MLP_MEMORY_LIMIT_DEFAULT, meta, err);
}

static mlp_status model_parse(const uint8_t *buf, size_t len, mlp_net *net, int max_batch, size_t max_bytes,
                              mlp_model_meta *meta, mlp_error *err) {
    if (!net) return mlp_fail(err, MLP_ERR_ARG, "model parse: NULL network");
    memset(net, 0, sizeof *net);
    if (!buf && len) return mlp_fail(err, MLP_ERR_ARG, "model parse: NULL buffer");
    if (max_batch < 1) return mlp_fail(err, MLP_ERR_ARG, "model parse: max_batch must be >= 1, got %d", max_batch);

    json_doc doc = {0};
    model_header h;
    mlp_model_meta m;
    const uint8_t *data = NULL;
    size_t data_len = 0;
    memset(&m, 0, sizeof m);
    mlp_status st = read_model_header(buf, len, &doc, &h, &data, &data_len, err);
    if (!st) st = read_arch(&h, &m.arch, err);
    if (!st) st = check_tiling(&h, data_len, err);
    if (!st) st = read_meta(&h, m.arch.width[m.arch.n_layers], &m, err);
    if (!st) st = check_all_finite(data, &h, &m.arch, err);
    if (!st) st = check_memory(&m.arch, max_batch, max_bytes, err);
    if (!st) st = mlp_net_create(net, &m.arch, max_batch, err);
    if (!st) {
        for (int l = 0; l < m.arch.n_layers; l++) {
            size_t in = (size_t)m.arch.width[l], out = (size_t)m.arch.width[l + 1];
            load_f32_le(net->params + net->w_off[l], data + h.weight[l].begin, out * in);
            load_f32_le(net->params + net->b_off[l], data + h.bias[l].begin, out);
        }
        mlp_net_params_changed(net);
        if (meta) *meta = m;
    } else {
        memset(net, 0, sizeof *net);
    }
    json_free(&doc);
    return one_line(st, err);
}

mlp_status mlp_model_load(const char *path, mlp_net *net, int max_batch, mlp_model_meta *meta, mlp_error *err) {
    return mlp_model_load_limit(path, net, max_batch, MLP_MEMORY_LIMIT_DEFAULT, meta, err);
}

mlp_status mlp_model_load_limit(const char *path, mlp_net *net, int max_batch, size_t max_bytes,
                                mlp_model_meta *meta, mlp_error *err) {
    if (!net) return mlp_fail(err, MLP_ERR_ARG, "model load: NULL network");
    memset(net, 0, sizeof *net);
    if (!path) return mlp_fail(err, MLP_ERR_ARG, "model load: NULL path");
    uint8_t *buf = NULL;
    size_t len = 0;
    /* A model file is read as what it is: safetensors bytes, never gunzipped (docs/ROBUSTNESS.md). Its size
     * is known before anything is allocated. */
    mlp_read_opts o = {0};
    o.max_len = MODEL_FILE_MAX;
    mlp_status st = mlp_read_input(path, &o, &buf, &len, err);
    if (st) return st;
    if (len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b) {
        free(buf);
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "%s: is gzip-compressed; model files are read as plain safetensors (gunzip it first)", path);
    }
    mlp_error inner;
    st = model_parse(buf, len, net, max_batch, max_bytes, meta, &inner);
    free(buf);
    if (st) return one_line(mlp_fail(err, st, "%.300s: %.400s", path, inner.msg), err);
    return MLP_OK;
}
