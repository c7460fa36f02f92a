/* checkpoint.c - save and restore the complete state of a training run (see mlp.h, docs/ROBUSTNESS.md).
 *
 * Why these fields make resuming exact: an epoch is a pure function of (params, momentum, the shuffling
 * generator at the epoch's start, the configuration, the training set). The kernels are deterministic and
 * independent of the thread count, so storing exactly those inputs (floats as raw bits, doubles and floats in
 * metadata as round-trip decimal, generators as hex words) and regenerating the epoch's permutation gives
 * bitwise the trajectory of an uninterrupted run. Inside an epoch the step reached and the running sums of
 * the per-batch loss and accuracy are stored too, so the epoch's metrics come out the same as well.
 *
 * File layout (safetensors, as model_io.c; all integers and floats little-endian):
 *   u64 N | JSON header of N bytes, space-padded to a multiple of 8 | data section
 *   header: {"__metadata__": {string: string, ...},
 *            "params":   {"dtype": "F32", "shape": [n_params],       "data_offsets": [0, 4n]},
 *            "momentum": {"dtype": "F32", "shape": [n_params],       "data_offsets": [4n, 8n]},
 *            "metrics":  {"dtype": "F64", "shape": [epochs_done, 7], "data_offsets": [8n, 8n + 56 e]},
 *            "moment2":  {"dtype": "F32", "shape": [n_params], ...}}   (only with adam/adamw, after metrics)
 * The optimizer's whole state is params, momentum (SGD's velocity, Adam's first moment), moment2 and the update
 * count, which is epochs_done x steps_per_epoch + step_in_epoch; the schedule's rate is a function of the epoch.
 *
 * Reading trusts nothing: header length against the file, JSON syntax (json.h), every tensor's dtype, rank,
 * element count (overflow-checked) against its offsets, offsets inside the data section, exact tiling of the
 * data section, every metadata value's syntax and range, finite parameters; then the agreement with the run
 * that wants to continue. Nothing is written into the trainer before everything has been checked. */
#include "fileio.h"
#include "util.h"
#include "json.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(float) == 4 && sizeof(double) == 8 && FLT_MANT_DIG == 24 && DBL_MANT_DIG == 53,
               "checkpoints need IEEE 754 binary32 and binary64");

#define CKPT_FORMAT "mlp-checkpoint"
#define CKPT_HEADER_MAX ((uint64_t)1 << 20)   /* our headers are ~2 kB; 1 MB leaves room, bounds the parse */
#define CKPT_FILE_MAX ((size_t)1 << 34)       /* 16 GB: two copies of any parameter block this library builds */
#define CKPT_METRICS 7                        /* epoch, train_loss, train_acc, test_loss, test_acc, lr, seconds */
#define FINGERPRINT_STRIDE 61                 /* every 61st training image enters the fingerprint */

/* moment2 (Adam's second moment, F32 [n_params]) is present exactly when the run's optimizer is adam or adamw */
enum { T_PARAMS, T_MOMENTUM, T_METRICS, T_MOMENT2, T_COUNT };
static const char *const tensor_names[T_COUNT] = {"params", "momentum", "metrics", "moment2"};

static int has_moment2(const mlp_train_cfg *c) { return c->optim != MLP_OPTIM_SGD; }

/* ================================================================== bytes */

static void put_u64_le(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64_le(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static void store_f32s(uint8_t *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &src[i], 4);
        for (int b = 0; b < 4; b++) dst[4 * i + (size_t)b] = (uint8_t)(bits >> (8 * b));
    }
}

static float load_f32(const uint8_t *q) {
    uint32_t bits = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
    float x;
    memcpy(&x, &bits, 4);
    return x;
}

static void store_f64(uint8_t *dst, double x) {
    uint64_t bits;
    memcpy(&bits, &x, 8);
    put_u64_le(dst, bits);
}

static double load_f64(const uint8_t *q) {
    uint64_t bits = get_u64_le(q);
    double x;
    memcpy(&x, &bits, 8);
    return x;
}

/* ================================================================== what the state belongs to */

/* FNV-1a, 64-bit: h = (h xor byte) * 0x100000001b3 for every byte. */
static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* A fingerprint of the training set: its size, every label, and the scaled pixels (as little-endian float
 * bits) of every FINGERPRINT_STRIDE-th image. Cheap enough to compute at every checkpoint (~1/61 of the
 * data), and it tells MNIST from Fashion-MNIST, another scaling, or a different or reordered file. */
static uint64_t dataset_fingerprint(const mlp_dataset *ds) {
    uint64_t h = 0xcbf29ce484222325ull;
    uint8_t b[8];
    put_u64_le(b, (uint64_t)(uint32_t)ds->n << 32 | (uint32_t)ds->dim);
    h = fnv1a(h, b, 8);
    /* labels below 255 as one byte (the fingerprints of the 8-bit label era stay valid), others as 255 + int32 LE */
    for (int i = 0; ds->y && i < ds->n; i++) {
        const uint32_t v = (uint32_t)ds->y[i];
        b[0] = v < 255 ? (uint8_t)v : 255;
        h = fnv1a(h, b, 1);
        if (v >= 255) {
            for (int k = 0; k < 4; k++) b[k] = (uint8_t)(v >> 8 * k);
            h = fnv1a(h, b, 4);
        }
    }
    if (!ds->x) return h;
    for (int i = 0; i < ds->n; i += FINGERPRINT_STRIDE) {
        const float *row = ds->x + (size_t)i * (size_t)ds->dim;
        for (int j = 0; j < ds->dim; j++) {
            store_f32s(b, &row[j], 1);
            h = fnv1a(h, b, 4);
        }
    }
    return h;
}

static void format_widths(const mlp_arch *arch, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int l = 0; l <= arch->n_layers && used < size; l++) {
        int w = snprintf(buf + used, size - used, l ? ",%d" : "%d", arch->width[l]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

static int steps_per_epoch(const mlp_trainer *t) { return (t->train->n + t->cfg.batch - 1) / t->cfg.batch; }

/* ================================================================== saving */

typedef struct meta_writer {
    sbuf *h;
    int first;
} meta_writer;

static void meta_str(meta_writer *w, const char *key, const char *value) {
    if (!w->first) sbuf_putc(w->h, ',');
    w->first = 0;
    json_sbuf_string(w->h, key);
    sbuf_putc(w->h, ':');
    json_sbuf_string(w->h, value);
}

static void meta_fmt(meta_writer *w, const char *key, const char *fmt, ...) MLP_PRINTF(3, 4);
static void meta_fmt(meta_writer *w, const char *key, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    meta_str(w, key, buf);
}

/* %.9g reads back (strtof) as exactly the same float, %.17g (strtod) as exactly the same double. */
static void meta_f32(meta_writer *w, const char *key, float x) { meta_fmt(w, key, "%.9g", (double)x); }
static void meta_f64(meta_writer *w, const char *key, double x) { meta_fmt(w, key, "%.17g", x); }

static void meta_rng(meta_writer *w, const char *key, const mlp_rng *r) {
    meta_fmt(w, key, "%016" PRIx64 ",%016" PRIx64 ",%016" PRIx64 ",%016" PRIx64, r->s[0], r->s[1], r->s[2], r->s[3]);
}

static void build_metadata(sbuf *h, const mlp_trainer *t) {
    const mlp_net *net = t->net;
    const mlp_train_cfg *c = &t->cfg;
    const int K = net->arch.width[net->arch.n_layers];
    char buf[1024];
    meta_writer w = {h, 1};

    json_sbuf_string(h, "__metadata__");
    sbuf_puts(h, ":{");
    meta_str(&w, "format", CKPT_FORMAT);
    meta_fmt(&w, "checkpoint_version", "%d", MLP_CHECKPOINT_VERSION);
    meta_str(&w, "mlp_version", MLP_VERSION);
    /* the network */
    format_widths(&net->arch, buf, sizeof buf);
    meta_str(&w, "widths", buf);
    meta_str(&w, "activation", mlp_act_name(net->arch.act));
    meta_str(&w, "kernels", mlp_kernels_name(net->kernels)); /* informative: the path that produced the state */
    /* the configuration (everything but epochs must match to continue) */
    meta_str(&w, "loss", mlp_loss_name(c->loss.kind));
    meta_f32(&w, "hinge_margin", c->loss.hinge_margin);
    meta_f32(&w, "focal_gamma", c->loss.focal_gamma);
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < K && used < sizeof buf; k++) {
        int n = snprintf(buf + used, sizeof buf - used, k ? ",%.9g" : "%.9g", (double)c->loss.focal_alpha[k]);
        if (n < 0) break;
        used += (size_t)n;
    }
    meta_str(&w, "focal_alpha", buf);
    meta_str(&w, "grad_reduction", c->reduction == MLP_GRAD_SUM ? "sum" : "mean");
    meta_f32(&w, "lr", c->lr);
    meta_f32(&w, "wd", c->wd);
    meta_f32(&w, "momentum", c->momentum);
    meta_str(&w, "optimizer", mlp_optim_name(c->optim));
    meta_str(&w, "nesterov", c->nesterov ? "true" : "false");
    meta_f32(&w, "beta1", c->beta1);
    meta_f32(&w, "beta2", c->beta2);
    meta_f32(&w, "eps", c->eps);
    meta_str(&w, "schedule", mlp_schedule_name(c->schedule));
    meta_fmt(&w, "warmup_epochs", "%d", c->warmup_epochs);
    meta_fmt(&w, "step_epochs", "%d", c->step_epochs);
    meta_f32(&w, "step_gamma", c->step_gamma);
    meta_f32(&w, "min_lr", c->min_lr);
    meta_f32(&w, "dropout", c->dropout);
    meta_fmt(&w, "early_stop", "%d", c->early_stop);
    meta_str(&w, "monitor", mlp_monitor_name(c->monitor));
    meta_fmt(&w, "batch", "%d", c->batch);
    meta_fmt(&w, "epochs", "%d", c->epochs);
    meta_str(&w, "shuffle", c->shuffle ? "true" : "false");
    meta_f32(&w, "init_std", c->init_std);
    meta_fmt(&w, "seed", "%" PRIu64, c->seed);
    /* the training set */
    meta_fmt(&w, "train_n", "%d", t->train->n);
    meta_fmt(&w, "train_dim", "%d", t->train->dim);
    meta_fmt(&w, "train_fingerprint", "%016" PRIx64, dataset_fingerprint(t->train));
    /* the state */
    meta_fmt(&w, "epochs_done", "%d", t->epochs_done);
    meta_fmt(&w, "step_in_epoch", "%d", t->step_in_epoch);
    meta_fmt(&w, "steps_per_epoch", "%d", steps_per_epoch(t));
    meta_rng(&w, "shuffle_rng", &t->shuffle_rng);
    /* between epochs the epoch-start generator is the current one (the trainer sets it when an epoch
     * starts, so before the first epoch its field is still zero) */
    meta_rng(&w, "epoch_rng", t->step_in_epoch ? &t->epoch_rng : &t->shuffle_rng);
    meta_f64(&w, "epoch_loss_sum", t->step_in_epoch ? t->epoch_loss_sum : 0.0);
    meta_f64(&w, "epoch_acc_sum", t->step_in_epoch ? t->epoch_acc_sum : 0.0);
    /* early stopping's bookkeeping */
    meta_fmt(&w, "best_epoch", "%d", t->best_epoch);
    meta_f64(&w, "best_value", t->best_epoch ? t->best_value : 0.0);
    meta_fmt(&w, "since_best", "%d", t->since_best);
    sbuf_putc(h, '}');
}

static void tensor_entry(sbuf *h, const char *name, const char *dtype, const char *shape, size_t begin,
                         size_t end) {
    sbuf_putc(h, ',');
    json_sbuf_string(h, name);
    sbuf_printf(h, ":{\"dtype\":\"%s\",\"shape\":%s,\"data_offsets\":[%zu,%zu]}", dtype, shape, begin, end);
}

mlp_status mlp_checkpoint_save(const char *path, const mlp_trainer *t, const mlp_epoch_metrics *history,
                               int n_history, mlp_error *err) {
    if (!path || !t || !t->net || !t->net->params || !t->net->momentum || !t->train)
        return mlp_fail(err, MLP_ERR_ARG, "checkpoint save: NULL path, or the trainer is not initialised");
    if (n_history != t->epochs_done || (n_history > 0 && !history))
        return mlp_fail(err, MLP_ERR_ARG, "checkpoint save: %d epochs done but %d metrics rows given",
                        t->epochs_done, n_history);
    if (t->step_in_epoch < 0 || t->step_in_epoch >= steps_per_epoch(t))
        return mlp_fail(err, MLP_ERR_ARG, "checkpoint save: step_in_epoch %d outside 0..%d", t->step_in_epoch,
                        steps_per_epoch(t) - 1);
    const size_t n = t->net->n_params;
    const size_t pbytes = n * sizeof(float), mbytes = (size_t)n_history * CKPT_METRICS * sizeof(double);
    const size_t m2bytes = has_moment2(&t->cfg) ? pbytes : 0;

    sbuf h = SBUF_INIT;
    char shape[64];
    sbuf_putc(&h, '{');
    build_metadata(&h, t);
    snprintf(shape, sizeof shape, "[%zu]", n);
    tensor_entry(&h, "params", "F32", shape, 0, pbytes);
    tensor_entry(&h, "momentum", "F32", shape, pbytes, 2 * pbytes);
    snprintf(shape, sizeof shape, "[%d,%d]", n_history, CKPT_METRICS);
    tensor_entry(&h, "metrics", "F64", shape, 2 * pbytes, 2 * pbytes + mbytes);
    snprintf(shape, sizeof shape, "[%zu]", n);
    if (m2bytes) tensor_entry(&h, "moment2", "F32", shape, 2 * pbytes + mbytes, 2 * pbytes + mbytes + m2bytes);
    sbuf_putc(&h, '}');
    while (h.len % 8) sbuf_putc(&h, ' ');
    if (h.oom) {
        sbuf_free(&h);
        return mlp_fail(err, MLP_ERR_NOMEM, "%s: cannot build the checkpoint header", path);
    }

    const size_t total = 8 + h.len + 2 * pbytes + mbytes + m2bytes;
    uint8_t *file = malloc(total);
    if (!file) {
        sbuf_free(&h);
        return mlp_fail(err, MLP_ERR_NOMEM, "%s: cannot allocate %zu bytes for the checkpoint", path, total);
    }
    put_u64_le(file, (uint64_t)h.len);
    memcpy(file + 8, h.data, h.len);
    uint8_t *d = file + 8 + h.len;
    store_f32s(d, t->net->params, n);
    store_f32s(d + pbytes, t->net->momentum, n);
    d += 2 * pbytes;
    for (int e = 0; e < n_history; e++) {
        const mlp_epoch_metrics *m = &history[e];
        const double row[CKPT_METRICS] = {(double)m->epoch, m->train_loss, m->train_acc, m->test_loss,
                                          m->test_acc,      m->lr,         m->seconds};
        for (int k = 0; k < CKPT_METRICS; k++, d += 8) store_f64(d, row[k]);
    }
    if (m2bytes) store_f32s(d, t->net->moment2, n);
    sbuf_free(&h);
    mlp_status st = mlp_write_file_atomic(path, file, total, err);
    free(file);
    return st;
}

/* ================================================================== reading: the container */

typedef struct ck_tensor {
    int present;
    int rank;
    uint64_t dim[2];
    uint64_t begin, end;
} ck_tensor;

typedef struct ck_file {
    ck_tensor t[T_COUNT];
    const json_value *meta;
    const uint8_t *data;
    size_t data_len;
} ck_file;

static int get_count(const json_value *v, uint64_t *out) {
    int64_t x;
    if (json_plain_int64(v, &x) != 0 || x < 0) return -1; /* "10", never "10.0" or "1e1" */
    *out = (uint64_t)x;
    return 0;
}

static mlp_status read_tensor(const json_value *e, int which, size_t data_len, ck_tensor *t, mlp_error *err) {
    const char *name = tensor_names[which];
    const char *want_dtype = which == T_METRICS ? "F64" : "F32";
    const int want_rank = which == T_METRICS ? 2 : 1; /* moment2 is like params */
    const uint64_t elem = which == T_METRICS ? 8 : 4;
    if (e->type != JSON_OBJECT)
        return mlp_fail(err, MLP_ERR_FORMAT, "tensor %s: expected an object with dtype, shape and data_offsets, got %s",
                        name, json_kind(e));
    const json_value *dtype = json_get(e, "dtype"), *shape = json_get(e, "shape"), *off = json_get(e, "data_offsets");
    if (!json_string(dtype) || strcmp(json_string(dtype), want_dtype) != 0)
        return mlp_fail(err, MLP_ERR_FORMAT, "tensor %s: dtype must be \"%s\", got %s%.20s%s", name, want_dtype,
                        json_string(dtype) ? "\"" : "", json_string(dtype) ? json_string(dtype) : json_kind(dtype),
                        json_string(dtype) ? "\"" : "");
    if (!shape || shape->type != JSON_ARRAY || json_count(shape) != (size_t)want_rank)
        return mlp_fail(err, MLP_ERR_FORMAT, "tensor %s: shape must be an array of %d integer%s", name, want_rank,
                        want_rank > 1 ? "s" : "");
    uint64_t bytes = elem;
    for (int i = 0; i < want_rank; i++) {
        if (get_count(json_at(shape, (size_t)i), &t->dim[i]) != 0)
            return mlp_fail(err, MLP_ERR_FORMAT, "tensor %s: shape element %d is not a non-negative integer", name, i);
        if (t->dim[i] != 0 && bytes > UINT64_MAX / t->dim[i])
            return mlp_fail(err, MLP_ERR_FORMAT, "tensor %s: shape has too many elements", name);
        bytes *= t->dim[i];
    }
    if (!off || off->type != JSON_ARRAY || json_count(off) != 2 || get_count(json_at(off, 0), &t->begin) ||
        get_count(json_at(off, 1), &t->end))
        return mlp_fail(err, MLP_ERR_FORMAT, "tensor %s: data_offsets must be [begin, end], two non-negative integers",
                        name);
    if (t->begin > t->end || t->end > data_len)
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "tensor %s: data_offsets [%" PRIu64 ", %" PRIu64 "] are not inside the %zu-byte data section",
                        name, t->begin, t->end, data_len);
    if (t->end - t->begin != bytes)
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "tensor %s: data_offsets span %" PRIu64 " bytes but the shape needs %" PRIu64, name,
                        t->end - t->begin, bytes);
    t->rank = want_rank;
    t->present = 1;
    return MLP_OK;
}

/* The tensors present must tile the data section exactly: sorted by (begin, end), each starts where the
 * previous ended, the first at 0, the last ends at data_len. */
static mlp_status check_tiling(const ck_file *f, mlp_error *err) {
    int order[T_COUNT], count = 0;
    for (int k = 0; k < T_COUNT; k++)
        if (f->t[k].present) order[count++] = k;
    for (int i = 1; i < count; i++) /* insertion sort of at most four */
        for (int j = i; j > 0; j--) {
            const ck_tensor *a = &f->t[order[j - 1]], *b = &f->t[order[j]];
            if (a->begin < b->begin || (a->begin == b->begin && a->end <= b->end)) break;
            int tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
    uint64_t cursor = 0;
    for (int i = 0; i < count; i++) {
        const ck_tensor *t = &f->t[order[i]];
        if (t->begin != cursor)
            return mlp_fail(err, MLP_ERR_FORMAT,
                            "tensor %s starts at byte %" PRIu64 " of the data section, expected %" PRIu64
                            " (tensors must tile it without gaps or overlaps)",
                            tensor_names[order[i]], t->begin, cursor);
        cursor = t->end;
    }
    if (cursor != f->data_len)
        return mlp_fail(err, MLP_ERR_FORMAT, "%" PRIu64 " bytes after the last tensor (the data section must be tiled)",
                        (uint64_t)f->data_len - cursor);
    return MLP_OK;
}

static mlp_status read_container(const uint8_t *buf, size_t len, json_doc *doc, ck_file *f, mlp_error *err) {
    memset(f, 0, sizeof *f);
    if (len < 8)
        return mlp_fail(err, MLP_ERR_FORMAT, "checkpoint is %zu bytes, shorter than the 8-byte header length", len);
    const uint64_t hlen = get_u64_le(buf);
    if (hlen > CKPT_HEADER_MAX)
        return mlp_fail(err, MLP_ERR_FORMAT, "header length %" PRIu64 " exceeds the limit of %" PRIu64 " bytes", hlen,
                        CKPT_HEADER_MAX);
    if (hlen > len - 8)
        return mlp_fail(err, MLP_ERR_FORMAT, "header length %" PRIu64 " exceeds the %zu bytes that follow it", hlen,
                        len - 8);
    json_limits lim = json_limits_default();
    lim.max_depth = 8;
    lim.max_memory = 64u << 20;
    mlp_error jerr;
    mlp_status st = json_parse(doc, (const char *)buf + 8, (size_t)hlen, &lim, &jerr);
    if (st) return mlp_fail(err, st, "header (file offset 8): %.400s", jerr.msg);
    f->data = buf + 8 + hlen;
    f->data_len = len - 8 - (size_t)hlen;

    const json_value *root = doc->root;
    if (root->type != JSON_OBJECT)
        return mlp_fail(err, MLP_ERR_FORMAT, "header must be a JSON object, got %s", json_kind(root));
    for (size_t i = 0; i < json_count(root); i++) {
        const json_value *m = json_at(root, i);
        if (strcmp(m->key, "__metadata__") == 0 && m->key_len == 12) {
            if (m->type != JSON_OBJECT)
                return mlp_fail(err, MLP_ERR_FORMAT, "__metadata__ must be an object, got %s", json_kind(m));
            for (size_t k = 0; k < json_count(m); k++)
                if (!json_string(json_at(m, k)))
                    return mlp_fail(err, MLP_ERR_FORMAT, "__metadata__ \"%.60s\" must be a string without NUL, got %s",
                                    json_at(m, k)->key, json_kind(json_at(m, k)));
            f->meta = m;
            continue;
        }
        int which = -1;
        for (int k = 0; k < T_COUNT; k++)
            if (strcmp(m->key, tensor_names[k]) == 0 && m->key_len == strlen(tensor_names[k])) which = k;
        if (which < 0)
            return mlp_fail(err, MLP_ERR_FORMAT,
                            "unexpected tensor \"%.60s\" (a checkpoint holds params, momentum, metrics and, with "
                            "adam or adamw, moment2)",
                            m->key);
        if ((st = read_tensor(m, which, f->data_len, &f->t[which], err))) return st;
    }
    for (int k = 0; k < T_COUNT; k++)
        if (!f->t[k].present && k != T_MOMENT2)
            return mlp_fail(err, MLP_ERR_FORMAT, "no tensor \"%s\"", tensor_names[k]);
    if (!f->meta) return mlp_fail(err, MLP_ERR_FORMAT, "no __metadata__ (this is not an mlp checkpoint)");
    return check_tiling(f, err);
}

/* ================================================================== reading: metadata values */

static mlp_status need(const ck_file *f, const char *key, const char **out, mlp_error *err) {
    *out = json_string(json_get(f->meta, key));
    if (!*out) return mlp_fail(err, MLP_ERR_FORMAT, "metadata has no \"%s\"", key);
    return MLP_OK;
}

/* A decimal integer in [lo, hi], the whole string. */
static mlp_status meta_int(const ck_file *f, const char *key, long long lo, long long hi, long long *out,
                           mlp_error *err) {
    const char *s;
    mlp_status st = need(f, key, &s, err);
    if (st) return st;
    int ok = (*s >= '0' && *s <= '9') || (*s == '-' && s[1] >= '0' && s[1] <= '9');
    char *end = NULL;
    long long v = 0;
    if (ok) {
        errno = 0;
        v = strtoll(s, &end, 10);
        ok = *end == '\0' && errno == 0 && v >= lo && v <= hi;
    }
    if (!ok)
        return mlp_fail(err, MLP_ERR_FORMAT, "metadata %s \"%.40s\" is not an integer in %lld..%lld", key, s, lo, hi);
    *out = v;
    return MLP_OK;
}

static int parse_f32(const char *s, float *out) {
    char *end;
    if (!*s || !(*s == '-' || *s == '.' || (*s >= '0' && *s <= '9'))) return -1;
    float v = strtof(s, &end);
    if (*end != '\0' || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static mlp_status meta_f32_get(const ck_file *f, const char *key, float *out, mlp_error *err) {
    const char *s;
    mlp_status st = need(f, key, &s, err);
    if (st) return st;
    if (parse_f32(s, out) != 0)
        return mlp_fail(err, MLP_ERR_FORMAT, "metadata %s \"%.40s\" is not a finite number", key, s);
    return MLP_OK;
}

static mlp_status meta_f64_get(const ck_file *f, const char *key, double *out, mlp_error *err) {
    const char *s;
    mlp_status st = need(f, key, &s, err);
    if (st) return st;
    char *end;
    double v = (*s == '-' || *s == '.' || (*s >= '0' && *s <= '9')) ? strtod(s, &end) : NAN;
    if (!isfinite(v) || *end != '\0')
        return mlp_fail(err, MLP_ERR_FORMAT, "metadata %s \"%.40s\" is not a finite number", key, s);
    *out = v;
    return MLP_OK;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* count 16-digit lowercase hex words separated by commas */
static int parse_hex_words(const char *s, uint64_t *out, int count) {
    for (int w = 0; w < count; w++) {
        uint64_t v = 0;
        for (int i = 0; i < 16; i++, s++) {
            int d = hex_digit(*s);
            if (d < 0) return -1;
            v = v << 4 | (uint64_t)d;
        }
        out[w] = v;
        if (*s != (w + 1 < count ? ',' : '\0')) return -1;
        s++;
    }
    return 0;
}

static mlp_status meta_rng_get(const ck_file *f, const char *key, mlp_rng *r, mlp_error *err) {
    const char *s;
    mlp_status st = need(f, key, &s, err);
    if (st) return st;
    if (parse_hex_words(s, r->s, 4) != 0)
        return mlp_fail(err, MLP_ERR_FORMAT, "metadata %s \"%.80s\" is not four comma-separated 16-digit hex words",
                        key, s);
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
        return mlp_fail(err, MLP_ERR_FORMAT, "metadata %s is all zero, which is not a generator state", key);
    return MLP_OK;
}

/* The checkpoint's value of key must be the string `want` (a property of the run that continues). */
static mlp_status same_str(const ck_file *f, const char *key, const char *want, mlp_error *err) {
    const char *s;
    mlp_status st = need(f, key, &s, err);
    if (st) return st;
    if (strcmp(s, want) != 0)
        return mlp_fail(err, MLP_ERR_ARG, "the checkpoint was written with %s %.80s but this run has %s %.80s", key, s,
                        key, want);
    return MLP_OK;
}

/* Same for a float, compared bit for bit. */
static mlp_status same_f32(const ck_file *f, const char *key, float want, mlp_error *err) {
    float v;
    mlp_status st = meta_f32_get(f, key, &v, err);
    if (st) return st;
    if (memcmp(&v, &want, sizeof v) != 0)
        return mlp_fail(err, MLP_ERR_ARG, "the checkpoint was written with %s %.9g but this run has %s %.9g", key,
                        (double)v, key, (double)want);
    return MLP_OK;
}

/* Same, for a setting that checkpoints written before it existed do not record: absent means `missing`. */
static mlp_status same_str_or(const ck_file *f, const char *key, const char *missing, const char *want,
                              mlp_error *err) {
    if (!json_get(f->meta, key)) {
        if (strcmp(missing, want) != 0)
            return mlp_fail(err, MLP_ERR_ARG, "the checkpoint was written with %s %s but this run has %s %.80s", key,
                            missing, key, want);
        return MLP_OK;
    }
    return same_str(f, key, want, err);
}

static mlp_status same_f32_or(const ck_file *f, const char *key, float missing, float want, mlp_error *err) {
    if (!json_get(f->meta, key)) {
        if (memcmp(&missing, &want, sizeof want) != 0)
            return mlp_fail(err, MLP_ERR_ARG, "the checkpoint was written with %s %.9g but this run has %s %.9g", key,
                            (double)missing, key, (double)want);
        return MLP_OK;
    }
    return same_f32(f, key, want, err);
}

/* The optimizer, the schedule and dropout (checkpoints from before them: sgd, constant, none, and the defaults).
 * Dropout needs no state: its masks are a function of the seed, the epoch and the step. */
static mlp_status check_same_rule(const ck_file *f, const mlp_train_cfg *c, mlp_error *err) {
    const mlp_train_cfg d = mlp_train_cfg_default();
    char want[32], dflt[32];
    mlp_status st;
    if ((st = same_str_or(f, "optimizer", mlp_optim_name(d.optim), mlp_optim_name(c->optim), err)) ||
        (st = same_str_or(f, "nesterov", "false", c->nesterov ? "true" : "false", err)) ||
        (st = same_f32_or(f, "beta1", d.beta1, c->beta1, err)) || (st = same_f32_or(f, "beta2", d.beta2, c->beta2, err)) ||
        (st = same_f32_or(f, "eps", d.eps, c->eps, err)) ||
        (st = same_str_or(f, "schedule", mlp_schedule_name(d.schedule), mlp_schedule_name(c->schedule), err)) ||
        (st = same_f32_or(f, "step_gamma", d.step_gamma, c->step_gamma, err)) ||
        (st = same_f32_or(f, "min_lr", d.min_lr, c->min_lr, err)) ||
        (st = same_f32_or(f, "dropout", d.dropout, c->dropout, err)) ||
        (st = same_str_or(f, "monitor", mlp_monitor_name(d.monitor), mlp_monitor_name(c->monitor), err)))
        return st;
    snprintf(want, sizeof want, "%d", c->early_stop);
    snprintf(dflt, sizeof dflt, "%d", d.early_stop);
    if ((st = same_str_or(f, "early_stop", dflt, want, err))) return st;
    snprintf(want, sizeof want, "%d", c->warmup_epochs);
    snprintf(dflt, sizeof dflt, "%d", d.warmup_epochs);
    if ((st = same_str_or(f, "warmup_epochs", dflt, want, err))) return st;
    snprintf(want, sizeof want, "%d", c->step_epochs);
    snprintf(dflt, sizeof dflt, "%d", d.step_epochs);
    return same_str_or(f, "step_epochs", dflt, want, err);
}

/* ================================================================== reading: the whole */

/* Everything decoded from a checkpoint, held apart until it is all checked. */
typedef struct ck_state {
    long long epochs_done, step_in_epoch;
    mlp_rng shuffle_rng, epoch_rng;
    double loss_sum, acc_sum;
    long long best_epoch, since_best;
    double best_value;
} ck_state;

/* The checkpoint must belong to this trainer's run: network, configuration (not epochs), training set. */
static mlp_status check_same_run(const ck_file *f, const mlp_trainer *t, mlp_error *err) {
    const mlp_net *net = t->net;
    const mlp_train_cfg *c = &t->cfg;
    const int K = net->arch.width[net->arch.n_layers];
    char buf[1024];
    mlp_status st;
    format_widths(&net->arch, buf, sizeof buf);
    if ((st = same_str(f, "widths", buf, err)) || (st = same_str(f, "activation", mlp_act_name(net->arch.act), err)) ||
        (st = same_str(f, "loss", mlp_loss_name(c->loss.kind), err)) ||
        (st = same_f32(f, "hinge_margin", c->loss.hinge_margin, err)) ||
        (st = same_f32(f, "focal_gamma", c->loss.focal_gamma, err)))
        return st;
    const char *alpha;
    if ((st = need(f, "focal_alpha", &alpha, err))) return st;
    const char *p = alpha;
    for (int k = 0; k < K; k++) {
        char item[48];
        size_t n = strcspn(p, ",");
        float v;
        if (n >= sizeof item || p[n] != (k + 1 < K ? ',' : '\0'))
            return mlp_fail(err, MLP_ERR_FORMAT, "metadata focal_alpha \"%.60s\" is not %d comma-separated numbers",
                            alpha, K);
        memcpy(item, p, n);
        item[n] = '\0';
        if (parse_f32(item, &v) != 0)
            return mlp_fail(err, MLP_ERR_FORMAT, "metadata focal_alpha \"%.60s\": item %d is not a finite number",
                            alpha, k + 1);
        if (memcmp(&v, &c->loss.focal_alpha[k], sizeof v) != 0)
            return mlp_fail(err, MLP_ERR_ARG,
                            "the checkpoint was written with focal_alpha[%d] %.9g but this run has %.9g", k, (double)v,
                            (double)c->loss.focal_alpha[k]);
        p += n + 1;
    }
    snprintf(buf, sizeof buf, "%d", c->batch);
    if ((st = same_str(f, "grad_reduction", c->reduction == MLP_GRAD_SUM ? "sum" : "mean", err)) ||
        (st = same_f32(f, "lr", c->lr, err)) || (st = same_f32(f, "wd", c->wd, err)) ||
        (st = same_f32(f, "momentum", c->momentum, err)) || (st = same_str(f, "batch", buf, err)) ||
        (st = same_str(f, "shuffle", c->shuffle ? "true" : "false", err)) ||
        (st = same_f32(f, "init_std", c->init_std, err)))
        return st;
    snprintf(buf, sizeof buf, "%" PRIu64, c->seed);
    if ((st = same_str(f, "seed", buf, err)) || (st = check_same_rule(f, c, err))) return st;
    snprintf(buf, sizeof buf, "%d", t->train->n);
    if ((st = same_str(f, "train_n", buf, err))) return st;
    snprintf(buf, sizeof buf, "%d", t->train->dim);
    if ((st = same_str(f, "train_dim", buf, err))) return st;
    snprintf(buf, sizeof buf, "%016" PRIx64, dataset_fingerprint(t->train));
    const char *fp;
    if ((st = need(f, "train_fingerprint", &fp, err))) return st;
    if (strcmp(fp, buf) != 0)
        return mlp_fail(err, MLP_ERR_ARG,
                        "the checkpoint was written for another training set (fingerprint %.20s, this run's data has "
                        "%s): check --data and --dataset",
                        fp, buf);
    return MLP_OK;
}

static mlp_status read_state(const ck_file *f, const mlp_trainer *t, int max_history, ck_state *s, mlp_error *err) {
    const char *v;
    mlp_status st;
    if ((st = need(f, "format", &v, err))) return st;
    if (strcmp(v, CKPT_FORMAT) != 0)
        return mlp_fail(err, MLP_ERR_FORMAT, "metadata format is \"%.40s\", expected \"%s\"", v, CKPT_FORMAT);
    long long version;
    if ((st = meta_int(f, "checkpoint_version", 0, INT_MAX, &version, err))) return st;
    if (version != MLP_CHECKPOINT_VERSION)
        return mlp_fail(err, MLP_ERR_FORMAT, "checkpoint version %lld; this mlp reads version %d", version,
                        MLP_CHECKPOINT_VERSION);
    if ((st = check_same_run(f, t, err))) return st;

    const int steps = steps_per_epoch(t);
    if ((st = meta_int(f, "epochs_done", 0, INT_MAX - 1, &s->epochs_done, err)) ||
        (st = meta_int(f, "step_in_epoch", 0, steps - 1, &s->step_in_epoch, err)) ||
        (st = meta_rng_get(f, "shuffle_rng", &s->shuffle_rng, err)) ||
        (st = meta_rng_get(f, "epoch_rng", &s->epoch_rng, err)) ||
        (st = meta_f64_get(f, "epoch_loss_sum", &s->loss_sum, err)) ||
        (st = meta_f64_get(f, "epoch_acc_sum", &s->acc_sum, err)))
        return st;
    if (s->acc_sum < 0 || s->acc_sum > (double)s->step_in_epoch)
        return mlp_fail(err, MLP_ERR_FORMAT, "metadata epoch_acc_sum %g is outside 0..%lld (the steps done)",
                        s->acc_sum, s->step_in_epoch);

    const ck_tensor *p = &f->t[T_PARAMS], *m = &f->t[T_MOMENTUM], *h = &f->t[T_METRICS];
    if (p->dim[0] != t->net->n_params || m->dim[0] != t->net->n_params)
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "tensors params and momentum hold %" PRIu64 " and %" PRIu64
                        " values but the network has %zu parameters",
                        p->dim[0], m->dim[0], t->net->n_params);
    if (h->dim[1] != CKPT_METRICS || h->dim[0] != (uint64_t)s->epochs_done)
        return mlp_fail(err, MLP_ERR_FORMAT, "tensor metrics has shape [%" PRIu64 ", %" PRIu64 "], expected [%lld, %d]",
                        h->dim[0], h->dim[1], s->epochs_done, CKPT_METRICS);
    if (s->epochs_done > max_history)
        return mlp_fail(err, MLP_ERR_ARG, "the checkpoint has %lld epochs done, more than the %d this run has room for",
                        s->epochs_done, max_history);
    for (long long e = 0; e < s->epochs_done; e++) {
        double epoch = load_f64(f->data + h->begin + (size_t)e * CKPT_METRICS * 8);
        if (epoch != (double)(e + 1))
            return mlp_fail(err, MLP_ERR_FORMAT, "tensor metrics row %lld is for epoch %g, expected %lld", e, epoch,
                            e + 1);
        for (int k = 1; k < CKPT_METRICS; k++) {
            double val = load_f64(f->data + h->begin + ((size_t)e * CKPT_METRICS + (size_t)k) * 8);
            if (!isfinite(val))
                return mlp_fail(err, MLP_ERR_FORMAT, "tensor metrics holds %s at index %lld (row %lld, column %d)",
                                isnan(val) ? "a NaN" : "an infinite value", e * CKPT_METRICS + k, e, k);
        }
    }
    /* early stopping's bookkeeping (absent in checkpoints written before it: none) */
    if (json_get(f->meta, "best_epoch") &&
        ((st = meta_int(f, "best_epoch", 0, s->epochs_done, &s->best_epoch, err)) ||
         (st = meta_f64_get(f, "best_value", &s->best_value, err)) ||
         (st = meta_int(f, "since_best", 0, s->epochs_done, &s->since_best, err))))
        return st;
    if (s->best_epoch && s->since_best != s->epochs_done - s->best_epoch)
        return mlp_fail(err, MLP_ERR_FORMAT, "metadata since_best %lld does not match best_epoch %lld of %lld epochs",
                        s->since_best, s->best_epoch, s->epochs_done);
    const size_t n = t->net->n_params;
    const ck_tensor *m2 = &f->t[T_MOMENT2];
    if (m2->present != has_moment2(&t->cfg))
        return mlp_fail(err, MLP_ERR_FORMAT, "the checkpoint %s a tensor moment2, which the %s optimizer %s",
                        m2->present ? "has" : "lacks", mlp_optim_name(t->cfg.optim),
                        m2->present ? "does not keep" : "needs");
    if (m2->present && m2->dim[0] != n)
        return mlp_fail(err, MLP_ERR_FORMAT, "tensor moment2 holds %" PRIu64 " values but the network has %zu parameters",
                        m2->dim[0], n);
    for (size_t i = 0; i < n; i++) {
        if (m2->present && !(load_f32(f->data + m2->begin + 4 * i) >= 0 && isfinite(load_f32(f->data + m2->begin + 4 * i))))
            return mlp_fail(err, MLP_ERR_FORMAT, "tensor moment2 holds a negative, NaN or infinite value at index %zu", i);
        if (!isfinite(load_f32(f->data + p->begin + 4 * i)))
            return mlp_fail(err, MLP_ERR_FORMAT, "tensor params holds a NaN or infinite value at index %zu", i);
        if (!isfinite(load_f32(f->data + m->begin + 4 * i)))
            return mlp_fail(err, MLP_ERR_FORMAT, "tensor momentum holds a NaN or infinite value at index %zu", i);
    }
    return MLP_OK;
}

/* Messages quote values from the file, which may hold control characters (a "\n" escape): replace them so
 * that an error stays one line. */
static mlp_status one_line(mlp_status st, mlp_error *err) {
    if (st && err)
        for (char *c = err->msg; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    return st;
}

mlp_status mlp_checkpoint_parse(const uint8_t *buf, size_t len, mlp_trainer *t, mlp_epoch_metrics *history,
                                int max_history, int *n_history, mlp_error *err) {
    if (!t || !t->net || !t->net->params || !t->train || !n_history || max_history < 0 || (max_history > 0 && !history))
        return mlp_fail(err, MLP_ERR_ARG, "checkpoint: the trainer is not initialised, or a NULL argument");
    if (!buf && len) return mlp_fail(err, MLP_ERR_ARG, "checkpoint: NULL buffer");
    json_doc doc = {0};
    ck_file f;
    ck_state s;
    memset(&s, 0, sizeof s);
    mlp_status st = read_container(buf, len, &doc, &f, err);
    if (!st) st = read_state(&f, t, max_history, &s, err);
    if (!st) {
        /* everything is checked: commit */
        mlp_net *net = t->net;
        for (size_t i = 0; i < net->n_params; i++) {
            net->params[i] = load_f32(f.data + f.t[T_PARAMS].begin + 4 * i);
            net->momentum[i] = load_f32(f.data + f.t[T_MOMENTUM].begin + 4 * i);
            net->moment2[i] = f.t[T_MOMENT2].present ? load_f32(f.data + f.t[T_MOMENT2].begin + 4 * i) : 0.0f;
        }
        mlp_net_params_changed(net);
        t->epochs_done = (int)s.epochs_done;
        t->step_in_epoch = (int)s.step_in_epoch;
        t->shuffle_rng = s.shuffle_rng;
        t->epoch_rng = s.epoch_rng;
        t->epoch_loss_sum = s.loss_sum;
        t->epoch_acc_sum = s.acc_sum;
        t->best_epoch = (int)s.best_epoch;
        t->best_value = s.best_value;
        t->since_best = (int)s.since_best;
        for (int e = 0; e < t->epochs_done; e++) {
            const uint8_t *q = f.data + f.t[T_METRICS].begin + (size_t)e * CKPT_METRICS * 8;
            mlp_epoch_metrics *m = &history[e];
            memset(m, 0, sizeof *m);
            m->epoch = e + 1;
            m->train_loss = load_f64(q + 8);
            m->train_acc = load_f64(q + 16);
            m->test_loss = load_f64(q + 24);
            m->test_acc = load_f64(q + 32);
            m->lr = load_f64(q + 40);
            m->seconds = load_f64(q + 48);
        }
        *n_history = t->epochs_done;
    }
    json_free(&doc);
    return one_line(st, err);
}

mlp_status mlp_checkpoint_load(const char *path, mlp_trainer *t, mlp_epoch_metrics *history, int max_history,
                               int *n_history, mlp_error *err) {
    if (!path) return mlp_fail(err, MLP_ERR_ARG, "checkpoint load: NULL path");
    uint8_t *buf = NULL;
    size_t len = 0;
    mlp_read_opts o = {0}; /* plain safetensors, never gunzipped; the size is known before allocating */
    o.max_len = CKPT_FILE_MAX;
    mlp_status st = mlp_read_input(path, &o, &buf, &len, err);
    if (st) return st;
    mlp_error inner;
    st = mlp_checkpoint_parse(buf, len, t, history, max_history, n_history, &inner);
    free(buf);
    if (st) return one_line(mlp_fail(err, st, "%.300s: %.400s", path, inner.msg), err);
    return MLP_OK;
}
