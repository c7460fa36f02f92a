/* checkpoint.c - save and restore the complete state of a training run (see mlp.h, docs/ROBUSTNESS.md).
 *
 * Why these fields make resuming exact: an epoch is a pure function of (params, momentum, the shuffling
 * generator at the epoch's start, the configuration, the training set). The kernels are deterministic and
 * independent of the thread count, so storing exactly those inputs (floats as raw bits, doubles and floats in
 * metadata as round-trip decimal, generators as hex words) and regenerating the epoch's permutation gives
 * bitwise the trajectory of an uninterrupted run. Inside an epoch the step reached and the running sums of
 * the per-batch loss and accuracy are stored too, so the epoch's metrics come out the same as well.
 *
 * File layout (safetensors: safetensors.h reads and writes the container; all numbers little-endian):
 *   header: {"__metadata__": {string: string, ...},
 *            "params":   {"dtype": "F32", "shape": [n_params],       "data_offsets": [0, 4n]},
 *            "momentum": {"dtype": "F32", "shape": [n_params],       "data_offsets": [4n, 8n]},
 *            "metrics":  {"dtype": "F64", "shape": [epochs_done, 7], "data_offsets": [8n, 8n + 56 e]},
 *            "moment2":  {"dtype": "F32", "shape": [n_params], ...}}   (only with adam/adamw, after metrics)
 * The optimizer's whole state is params, momentum (SGD's velocity, Adam's first moment), moment2 and the update
 * count, which is epochs_done x steps_per_epoch + step_in_epoch; the schedule's rate is a function of the epoch.
 *
 * The run's configuration in the metadata is runcfg.h's RC_CKPT fields (written and compared by runcfg.c).
 *
 * Reading trusts nothing: the container is checked by safetensors.c (header length, JSON, dtypes, ranks,
 * element counts against offsets, tiling); here every metadata value's syntax and range, finite parameters,
 * then the agreement with the run that wants to continue. Nothing is written into the trainer before
 * everything has been checked. */
#include "fileio.h"
#include "runcfg.h"
#include "safetensors.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CKPT_FORMAT "mlp-checkpoint"
#define CKPT_HEADER_MAX ((uint64_t)1 << 20)   /* our headers are ~2 kB; 1 MB leaves room, bounds the parse */
#define CKPT_FILE_MAX ((size_t)1 << 34)       /* 16 GB: two copies of any parameter block this library builds */
#define CKPT_METRICS 7                        /* epoch, train_loss, train_acc, test_loss, test_acc, lr, seconds */
#define FINGERPRINT_STRIDE 61                 /* every 61st training image enters the fingerprint */

/* moment2 (Adam's second moment, F32 [n_params]) is present exactly when the run's optimizer is adam or adamw;
 * val_metrics (F64 [epochs_done x 2]: val_loss, val_acc) exactly when the run has a validation set (mlp_trainer.val) */
enum { T_PARAMS, T_MOMENTUM, T_METRICS, T_MOMENT2, T_VAL, T_COUNT };
static const char *const tensor_names[T_COUNT] = {"params", "momentum", "metrics", "moment2", "val_metrics"};

static int has_moment2(const mlp_train_cfg *c) { return c->optim != MLP_OPTIM_SGD; }

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
    st_put_u64(b, (uint64_t)(uint32_t)ds->n << 32 | (uint32_t)ds->dim);
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
            st_store_f32(b, &row[j], 1);
            h = fnv1a(h, b, 4);
        }
    }
    return h;
}

static int steps_per_epoch(const mlp_trainer *t) { return (t->train->n + t->cfg.batch - 1) / t->cfg.batch; }

/* ================================================================== saving */

static void meta_rng(st_writer *w, const char *key, const mlp_rng *r) {
    st_meta_fmt(w, key, "%016" PRIx64 ",%016" PRIx64 ",%016" PRIx64 ",%016" PRIx64, r->s[0], r->s[1], r->s[2], r->s[3]);
}

static void write_metadata(st_writer *w, const mlp_trainer *t) {
    const mlp_net *net = t->net;
    const int K = net->arch.width[net->arch.n_layers];
    char widths[1024];
    rc_config c = rc_default();
    c.train = t->cfg;
    st_meta(w, "format", CKPT_FORMAT);
    st_meta_int(w, "checkpoint_version", MLP_CHECKPOINT_VERSION);
    st_meta(w, "mlp_version", MLP_VERSION);
    /* the network */
    rc_widths_text(&net->arch, widths, sizeof widths);
    st_meta(w, "widths", widths);
    st_meta(w, "activation", mlp_act_name(net->arch.act));
    st_meta(w, "kernels", mlp_kernels_name(net->kernels)); /* informative: the path that produced the state */
    /* the configuration (everything but epochs must match to continue) */
    rc_meta_write(&c, K, RC_CKPT, st_meta_put, w);
    /* the training set */
    st_meta_int(w, "train_n", t->train->n);
    st_meta_int(w, "train_dim", t->train->dim);
    st_meta_fmt(w, "train_fingerprint", "%016" PRIx64, dataset_fingerprint(t->train));
    /* the state */
    st_meta_int(w, "epochs_done", t->epochs_done);
    st_meta_int(w, "step_in_epoch", t->step_in_epoch);
    st_meta_int(w, "steps_per_epoch", steps_per_epoch(t));
    meta_rng(w, "shuffle_rng", &t->shuffle_rng);
    /* between epochs the epoch-start generator is the current one (the trainer sets it when an epoch
     * starts, so before the first epoch its field is still zero) */
    meta_rng(w, "epoch_rng", t->step_in_epoch ? &t->epoch_rng : &t->shuffle_rng);
    st_meta_f64(w, "epoch_loss_sum", t->step_in_epoch ? t->epoch_loss_sum : 0.0);
    st_meta_f64(w, "epoch_acc_sum", t->step_in_epoch ? t->epoch_acc_sum : 0.0);
    /* early stopping's bookkeeping */
    st_meta_int(w, "best_epoch", t->best_epoch);
    st_meta_f64(w, "best_value", t->best_epoch ? t->best_value : 0.0);
    st_meta_int(w, "since_best", t->since_best);
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
    double *rows = malloc(((size_t)n_history + 1) * (CKPT_METRICS + 2) * sizeof *rows);
    if (!rows) return mlp_fail(err, MLP_ERR_NOMEM, "%s: cannot allocate the metrics of %d epochs", path, n_history);
    double *val_rows = rows + (size_t)n_history * CKPT_METRICS;
    for (int e = 0; e < n_history; e++) {
        const mlp_epoch_metrics *m = &history[e];
        const double row[CKPT_METRICS] = {(double)m->epoch, m->train_loss, m->train_acc, m->test_loss,
                                          m->test_acc,      m->lr,         m->seconds};
        memcpy(rows + (size_t)e * CKPT_METRICS, row, sizeof row);
        val_rows[2 * e] = m->val_loss;
        val_rows[2 * e + 1] = m->val_acc;
    }
    const uint64_t n = t->net->n_params, mdim[2] = {(uint64_t)n_history, CKPT_METRICS}, vdim[2] = {(uint64_t)n_history, 2};
    st_writer w;
    st_writer_init(&w);
    write_metadata(&w, t);
    st_add(&w, "params", ST_F32, 1, &n, t->net->params);
    st_add(&w, "momentum", ST_F32, 1, &n, t->net->momentum);
    st_add(&w, "metrics", ST_F64, 2, mdim, rows);
    if (has_moment2(&t->cfg)) st_add(&w, "moment2", ST_F32, 1, &n, t->net->moment2);
    if (t->val && t->val->n > 0) st_add(&w, "val_metrics", ST_F64, 2, vdim, val_rows);
    mlp_status st = st_write(&w, path, "checkpoint", err);
    st_writer_free(&w);
    free(rows);
    return st;
}

/* ================================================================== reading: the container */

/* The safetensors reader's question: params, momentum, moment2 (F32, rank 1) and metrics (F64, rank 2). */
static mlp_status ck_tensor(void *user, const char *name, st_dtype *dtype, int *rank, int *tag, mlp_error *err) {
    (void)user;
    for (int k = 0; k < T_COUNT; k++)
        if (strcmp(name, tensor_names[k]) == 0) {
            *dtype = k == T_METRICS || k == T_VAL ? ST_F64 : ST_F32;
            *rank = k == T_METRICS || k == T_VAL ? 2 : 1;
            *tag = k;
            return MLP_OK;
        }
    return mlp_fail(err, MLP_ERR_FORMAT,
                    "unexpected tensor \"%.60s\" (a checkpoint holds params, momentum, metrics and, with adam or "
                    "adamw, moment2)",
                    name);
}

/* The container, and the tensors by role (NULL: absent; a duplicate name is a JSON error). */
typedef struct ck_file {
    st_file f;
    const st_tensor *t[T_COUNT];
} ck_file;

static mlp_status read_container(const uint8_t *buf, size_t len, ck_file *c, mlp_error *err) {
    memset(c->t, 0, sizeof c->t);
    st_format fmt = {"checkpoint", "header", CKPT_HEADER_MAX, json_limits_default(), ck_tensor, NULL};
    fmt.limits.max_depth = 8;
    fmt.limits.max_memory = 64u << 20;
    mlp_status st = st_parse(buf, len, &fmt, &c->f, err);
    if (st) return st;
    for (int i = 0; i < c->f.n; i++) c->t[c->f.t[i].tag] = &c->f.t[i];
    for (int k = 0; k < T_COUNT; k++)
        if (!c->t[k] && k != T_MOMENT2 && k != T_VAL) return mlp_fail(err, MLP_ERR_FORMAT, "no tensor \"%s\"", tensor_names[k]);
    if (!c->f.meta) return mlp_fail(err, MLP_ERR_FORMAT, "no __metadata__ (this is not an mlp checkpoint)");
    return st_check_tiling(&c->f, err);
}

/* ================================================================== reading: metadata values */

static mlp_status need(const ck_file *c, const char *key, const char **out, mlp_error *err) {
    *out = st_meta_get(&c->f, key);
    if (!*out) return mlp_fail(err, MLP_ERR_FORMAT, "metadata has no \"%s\"", key);
    return MLP_OK;
}

/* A decimal integer in [lo, hi], the whole string. */
static mlp_status meta_int(const ck_file *c, const char *key, long long lo, long long hi, long long *out,
                           mlp_error *err) {
    const char *s;
    mlp_status st = need(c, key, &s, err);
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

static mlp_status meta_f64_get(const ck_file *c, const char *key, double *out, mlp_error *err) {
    const char *s;
    mlp_status st = need(c, key, &s, err);
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

static mlp_status meta_rng_get(const ck_file *c, const char *key, mlp_rng *r, mlp_error *err) {
    const char *s;
    mlp_status st = need(c, key, &s, err);
    if (st) return st;
    if (parse_hex_words(s, r->s, 4) != 0)
        return mlp_fail(err, MLP_ERR_FORMAT, "metadata %s \"%.80s\" is not four comma-separated 16-digit hex words",
                        key, s);
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
        return mlp_fail(err, MLP_ERR_FORMAT, "metadata %s is all zero, which is not a generator state", key);
    return MLP_OK;
}

/* The checkpoint's value of key must be the string `want` (a property of the run that continues). */
static mlp_status same_str(const ck_file *c, const char *key, const char *want, mlp_error *err) {
    const char *s;
    mlp_status st = need(c, key, &s, err);
    if (st) return st;
    if (strcmp(s, want) != 0)
        return mlp_fail(err, MLP_ERR_ARG, "the checkpoint was written with %s %.80s but this run has %s %.80s", key, s,
                        key, want);
    return MLP_OK;
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
static mlp_status check_same_run(const ck_file *c, const mlp_trainer *t, mlp_error *err) {
    const mlp_net *net = t->net;
    const int K = net->arch.width[net->arch.n_layers];
    char buf[1024];
    mlp_status st;
    rc_widths_text(&net->arch, buf, sizeof buf);
    if ((st = same_str(c, "widths", buf, err)) || (st = same_str(c, "activation", mlp_act_name(net->arch.act), err)))
        return st;
    /* the configuration: fields a checkpoint from before them lacks read as the defaults */
    rc_config file = rc_default(), run = rc_default();
    run.train = t->cfg;
    st = rc_meta_read(st_meta_lookup, &c->f, &file, K, RC_CKPT, 1, err);
    if (!st) st = rc_compare(&file, &run, K, RC_CKPT, "the checkpoint", err);
    rc_free(&file); /* its focal alphas, once compared */
    if (st) return st;
    snprintf(buf, sizeof buf, "%d", t->train->n);
    if ((st = same_str(c, "train_n", buf, err))) return st;
    snprintf(buf, sizeof buf, "%d", t->train->dim);
    if ((st = same_str(c, "train_dim", buf, err))) return st;
    snprintf(buf, sizeof buf, "%016" PRIx64, dataset_fingerprint(t->train));
    const char *fp;
    if ((st = need(c, "train_fingerprint", &fp, err))) return st;
    if (strcmp(fp, buf) != 0)
        return mlp_fail(err, MLP_ERR_ARG,
                        "the checkpoint was written for another training set (fingerprint %.20s, this run's data has "
                        "%s): check --data and --dataset",
                        fp, buf);
    return MLP_OK;
}

static mlp_status read_state(const ck_file *c, const mlp_trainer *t, int max_history, ck_state *s, mlp_error *err) {
    const char *v;
    mlp_status st;
    if ((st = need(c, "format", &v, err))) return st;
    if (strcmp(v, CKPT_FORMAT) != 0)
        return mlp_fail(err, MLP_ERR_FORMAT, "metadata format is \"%.40s\", expected \"%s\"", v, CKPT_FORMAT);
    long long version;
    if ((st = meta_int(c, "checkpoint_version", 0, INT_MAX, &version, err))) return st;
    if (version != MLP_CHECKPOINT_VERSION)
        return mlp_fail(err, MLP_ERR_FORMAT, "checkpoint version %lld; this mlp reads version %d", version,
                        MLP_CHECKPOINT_VERSION);
    if ((st = check_same_run(c, t, err))) return st;

    const int steps = steps_per_epoch(t);
    if ((st = meta_int(c, "epochs_done", 0, INT_MAX - 1, &s->epochs_done, err)) ||
        (st = meta_int(c, "step_in_epoch", 0, steps - 1, &s->step_in_epoch, err)) ||
        (st = meta_rng_get(c, "shuffle_rng", &s->shuffle_rng, err)) ||
        (st = meta_rng_get(c, "epoch_rng", &s->epoch_rng, err)) ||
        (st = meta_f64_get(c, "epoch_loss_sum", &s->loss_sum, err)) ||
        (st = meta_f64_get(c, "epoch_acc_sum", &s->acc_sum, err)))
        return st;
    if (s->acc_sum < 0 || s->acc_sum > (double)s->step_in_epoch)
        return mlp_fail(err, MLP_ERR_FORMAT, "metadata epoch_acc_sum %g is outside 0..%lld (the steps done)",
                        s->acc_sum, s->step_in_epoch);

    const st_tensor *p = c->t[T_PARAMS], *m = c->t[T_MOMENTUM], *h = c->t[T_METRICS], *m2 = c->t[T_MOMENT2];
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
        double epoch = st_f64_at(h->data, (size_t)e * CKPT_METRICS);
        if (epoch != (double)(e + 1))
            return mlp_fail(err, MLP_ERR_FORMAT, "tensor metrics row %lld is for epoch %g, expected %lld", e, epoch,
                            e + 1);
        for (int k = 1; k < CKPT_METRICS; k++) {
            double val = st_f64_at(h->data, (size_t)e * CKPT_METRICS + (size_t)k);
            if ((k == 3 || k == 4) && isnan(val) && !(t->test && t->test->n > 0))
                continue; /* test_loss, test_acc: NaN in a run without a test set */
            if (!isfinite(val))
                return mlp_fail(err, MLP_ERR_FORMAT, "tensor metrics holds %s at index %lld (row %lld, column %d)",
                                isnan(val) ? "a NaN" : "an infinite value", e * CKPT_METRICS + k, e, k);
        }
    }
    const st_tensor *vt = c->t[T_VAL];
    if (vt && (vt->dim[1] != 2 || vt->dim[0] != (uint64_t)s->epochs_done))
        return mlp_fail(err, MLP_ERR_FORMAT, "tensor val_metrics has shape [%" PRIu64 ", %" PRIu64 "], expected [%lld, 2]",
                        vt->dim[0], vt->dim[1], s->epochs_done);
    for (long long i = 0; vt && i < 2 * s->epochs_done; i++)
        if (!isfinite(st_f64_at(vt->data, (size_t)i)))
            return mlp_fail(err, MLP_ERR_FORMAT, "tensor val_metrics holds a non-finite value at index %lld", i);
    /* early stopping's bookkeeping (absent in checkpoints written before it: none) */
    if (st_meta_get(&c->f, "best_epoch") &&
        ((st = meta_int(c, "best_epoch", 0, s->epochs_done, &s->best_epoch, err)) ||
         (st = meta_f64_get(c, "best_value", &s->best_value, err)) ||
         (st = meta_int(c, "since_best", 0, s->epochs_done, &s->since_best, err))))
        return st;
    if (s->best_epoch && s->since_best != s->epochs_done - s->best_epoch)
        return mlp_fail(err, MLP_ERR_FORMAT, "metadata since_best %lld does not match best_epoch %lld of %lld epochs",
                        s->since_best, s->best_epoch, s->epochs_done);
    const size_t n = t->net->n_params;
    if ((m2 != NULL) != has_moment2(&t->cfg))
        return mlp_fail(err, MLP_ERR_FORMAT, "the checkpoint %s a tensor moment2, which the %s optimizer %s",
                        m2 ? "has" : "lacks", mlp_optim_name(t->cfg.optim), m2 ? "does not keep" : "needs");
    if (m2 && m2->dim[0] != n)
        return mlp_fail(err, MLP_ERR_FORMAT, "tensor moment2 holds %" PRIu64 " values but the network has %zu parameters",
                        m2->dim[0], n);
    for (size_t i = 0; i < n; i++) {
        if (m2 && !(st_f32_at(m2->data, i) >= 0 && isfinite(st_f32_at(m2->data, i))))
            return mlp_fail(err, MLP_ERR_FORMAT, "tensor moment2 holds a negative, NaN or infinite value at index %zu", i);
        if (!isfinite(st_f32_at(p->data, i)))
            return mlp_fail(err, MLP_ERR_FORMAT, "tensor params holds a NaN or infinite value at index %zu", i);
        if (!isfinite(st_f32_at(m->data, i)))
            return mlp_fail(err, MLP_ERR_FORMAT, "tensor momentum holds a NaN or infinite value at index %zu", i);
    }
    return MLP_OK;
}

mlp_status mlp_checkpoint_parse(const uint8_t *buf, size_t len, mlp_trainer *t, mlp_epoch_metrics *history,
                                int max_history, int *n_history, mlp_error *err) {
    if (!t || !t->net || !t->net->params || !t->train || !n_history || max_history < 0 || (max_history > 0 && !history))
        return mlp_fail(err, MLP_ERR_ARG, "checkpoint: the trainer is not initialised, or a NULL argument");
    if (!buf && len) return mlp_fail(err, MLP_ERR_ARG, "checkpoint: NULL buffer");
    ck_file f;
    ck_state s;
    memset(&s, 0, sizeof s);
    mlp_status st = read_container(buf, len, &f, err);
    if (st == MLP_OK) st = read_state(&f, t, max_history, &s, err);
    if (!st) {
        /* everything is checked: commit */
        mlp_net *net = t->net;
        for (size_t i = 0; i < net->n_params; i++) {
            net->params[i] = st_f32_at(f.t[T_PARAMS]->data, i);
            net->momentum[i] = st_f32_at(f.t[T_MOMENTUM]->data, i);
            net->moment2[i] = f.t[T_MOMENT2] ? st_f32_at(f.t[T_MOMENT2]->data, i) : 0.0f;
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
            const uint8_t *q = f.t[T_METRICS]->data + (size_t)e * CKPT_METRICS * 8;
            mlp_epoch_metrics *m = &history[e];
            memset(m, 0, sizeof *m);
            m->epoch = e + 1;
            m->train_loss = st_f64_at(q, 1);
            m->train_acc = st_f64_at(q, 2);
            m->test_loss = st_f64_at(q, 3);
            m->test_acc = st_f64_at(q, 4);
            m->lr = st_f64_at(q, 5);
            m->seconds = st_f64_at(q, 6);
            const st_tensor *v = f.t[T_VAL];
            m->val_loss = v ? st_f64_at(v->data, 2 * (size_t)e) : NAN;
            m->val_acc = v ? st_f64_at(v->data, 2 * (size_t)e + 1) : NAN;
        }
        *n_history = t->epochs_done;
    }
    st_free(&f.f);
    return st_one_line(st, err);
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
    if (st) return st_one_line(mlp_fail(err, st, "%.300s: %.400s", path, inner.msg), err);
    return MLP_OK;
}
