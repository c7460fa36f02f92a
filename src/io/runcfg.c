/* runcfg.c - the run configuration's one table of fields and its codecs (see runcfg.h). */
#include "runcfg.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef enum rc_type {
    RC_F32,        /* float */
    RC_INT,        /* int */
    RC_U64,        /* uint64_t */
    RC_BOOL,       /* int, 0 or 1: "true"/"false" */
    RC_LOSS,       /* mlp_loss; reading it resets the loss parameters to mlp_loss_default (the rows after it
                      then set them) */
    RC_REDUCTION,  /* mlp_reduction: "sum", "mean" */
    RC_OPTIM,      /* mlp_optim */
    RC_SCHEDULE,   /* mlp_schedule */
    RC_MONITOR,    /* mlp_monitor */
    RC_ALPHA,      /* the loss's focal alpha, K values (mlp_loss_focal_alpha; read into rc_config.alpha_buf): "a,b,c"
                      in metadata, [a, b, c] in config.json */
} rc_type;

enum { RC_LATE = 1,      /* files written before the field existed lack it: it keeps the caller's (default) value */
       RC_NOCOMPARE = 2  /* a checkpoint may be continued with another value (epochs: a run can be extended) */ };

typedef struct rc_field {
    const char *key;
    rc_type type;
    size_t off;          /* offsetof(rc_config, member) */
    unsigned files;      /* RC_MODEL | RC_CKPT */
    unsigned json;       /* RC_JSON_TRAIN (written and read back) or RC_JSON_SCALING (written only), or 0 */
    unsigned flags;      /* RC_LATE, RC_NOCOMPARE */
    double lo, hi;       /* the range config.json accepts (as the train command's options) */
} rc_field;

#define T(m) offsetof(rc_config, train.m)
#define MC (RC_MODEL | RC_CKPT)
#define JT RC_JSON_TRAIN

/* The order is the files' order. */
static const rc_field fields[] = {
    {"loss", RC_LOSS, T(loss.kind), MC, JT, 0, 0, 0},
    {"hinge_margin", RC_F32, T(loss.hinge_margin), MC, JT, 0, 0, 1e6},
    {"focal_gamma", RC_F32, T(loss.focal_gamma), MC, JT, 0, 0, 100},
    {"focal_alpha", RC_ALPHA, T(loss.focal_alpha), MC, JT, 0, 0, 1e30},
    {"input_offset", RC_F32, offsetof(rc_config, scaling.offset), RC_MODEL, RC_JSON_SCALING, 0, 0, 0},
    {"input_scale", RC_F32, offsetof(rc_config, scaling.scale), RC_MODEL, RC_JSON_SCALING, 0, 0, 0},
    {"grad_reduction", RC_REDUCTION, T(reduction), RC_CKPT, JT, 0, 0, 0},
    {"lr", RC_F32, T(lr), RC_CKPT, JT, 0, 0, 1e6},
    {"wd", RC_F32, T(wd), RC_CKPT, JT, 0, 0, 1e6},
    {"momentum", RC_F32, T(momentum), RC_CKPT, JT, 0, 0, 0.999999},
    {"optimizer", RC_OPTIM, T(optim), RC_CKPT, JT, RC_LATE, 0, 0},
    {"nesterov", RC_BOOL, T(nesterov), RC_CKPT, JT, RC_LATE, 0, 0},
    {"beta1", RC_F32, T(beta1), RC_CKPT, JT, RC_LATE, 0, 0.999999},
    {"beta2", RC_F32, T(beta2), RC_CKPT, JT, RC_LATE, 0, 0.999999},
    {"eps", RC_F32, T(eps), RC_CKPT, JT, RC_LATE, 1e-30, 1},
    {"schedule", RC_SCHEDULE, T(schedule), RC_CKPT, JT, RC_LATE, 0, 0},
    {"warmup_epochs", RC_INT, T(warmup_epochs), RC_CKPT, JT, RC_LATE, 0, 999999},
    {"step_epochs", RC_INT, T(step_epochs), RC_CKPT, JT, RC_LATE, 1, 1000000},
    {"step_gamma", RC_F32, T(step_gamma), RC_CKPT, JT, RC_LATE, 1e-30, 1},
    {"min_lr", RC_F32, T(min_lr), RC_CKPT, JT, RC_LATE, 0, 1e6},
    {"dropout", RC_F32, T(dropout), RC_CKPT, JT, RC_LATE, 0, 0.99},
    {"early_stop", RC_INT, T(early_stop), RC_CKPT, JT, RC_LATE, 0, 1000000},
    {"monitor", RC_MONITOR, T(monitor), RC_CKPT, JT, RC_LATE, 0, 0},
    {"batch", RC_INT, T(batch), RC_CKPT, JT, 0, 1, 1 << 20},
    {"epochs", RC_INT, T(epochs), RC_CKPT, JT, RC_NOCOMPARE, 1, 1000000},
    {"shuffle", RC_BOOL, T(shuffle), RC_CKPT, JT, 0, 0, 0},
    {"init_std", RC_F32, T(init_std), RC_CKPT, JT, 0, 0, 100},
    {"seed", RC_U64, T(seed), RC_CKPT, JT, 0, 0, 0},
};
#define N_FIELDS (sizeof fields / sizeof fields[0])

#undef T
#undef MC
#undef JT

void rc_free(rc_config *c) {
    free(c->alpha_buf);
    c->alpha_buf = NULL;
}

/* The loss configuration that holds an RC_ALPHA field at p (the address of its focal_alpha member). */
static const mlp_loss_cfg *alpha_loss(const void *p) {
    return (const mlp_loss_cfg *)(const void *)((const char *)p - offsetof(mlp_loss_cfg, focal_alpha));
}

/* K new alpha values for c's loss: a fresh alpha_buf that train.loss.focal_alpha points at. */
static float *alpha_new(rc_config *c, int K, mlp_error *err) {
    float *a = malloc((size_t)(K > 0 ? K : 1) * sizeof *a);
    if (!a) {
        mlp_fail(err, MLP_ERR_NOMEM, "cannot allocate %d focal alpha values", K);
        return NULL;
    }
    free(c->alpha_buf);
    c->alpha_buf = a;
    c->train.loss.focal_alpha = a;
    c->train.loss.n_focal_alpha = K;
    return a;
}

rc_config rc_default(void) {
    rc_config c;
    memset(&c, 0, sizeof c);
    c.train = mlp_train_cfg_default();
    c.scaling = mlp_scaling_default();
    return c;
}

void rc_widths_text(const mlp_arch *arch, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int l = 0; l <= arch->n_layers && used < size; l++) {
        int w = snprintf(buf + used, size - used, l ? ",%d" : "%d", arch->width[l]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

/* ================================================================== names of the enumerated types */

static const char *reduction_name(int r) { return r == MLP_GRAD_SUM ? "sum" : "mean"; }

static int reduction_parse(const char *s, mlp_reduction *out) {
    if (!strcmp(s, "sum")) *out = MLP_GRAD_SUM;
    else if (!strcmp(s, "mean")) *out = MLP_GRAD_MEAN;
    else return -1;
    return 0;
}

/* The name of an enumerated field's value (NULL for other types). */
static const char *enum_name(const rc_field *f, const void *p) {
    switch (f->type) {
    case RC_LOSS: return mlp_loss_name(*(const mlp_loss *)p);
    case RC_REDUCTION: return reduction_name(*(const mlp_reduction *)p);
    case RC_OPTIM: return mlp_optim_name(*(const mlp_optim *)p);
    case RC_SCHEDULE: return mlp_schedule_name(*(const mlp_schedule *)p);
    case RC_MONITOR: return mlp_monitor_name(*(const mlp_monitor *)p);
    case RC_BOOL: return *(const int *)p ? "true" : "false";
    default: return NULL;
    }
}

/* Set an enumerated field from its name; -1 for an unknown name. */
static int enum_parse(const rc_field *f, const char *s, void *p) {
    switch (f->type) {
    case RC_LOSS: return mlp_loss_parse(s, (mlp_loss *)p);
    case RC_REDUCTION: return reduction_parse(s, (mlp_reduction *)p);
    case RC_OPTIM: return mlp_optim_parse(s, (mlp_optim *)p);
    case RC_SCHEDULE: return mlp_schedule_parse(s, (mlp_schedule *)p);
    case RC_MONITOR: return mlp_monitor_parse(s, (mlp_monitor *)p);
    case RC_BOOL:
        if (strcmp(s, "true") && strcmp(s, "false")) return -1;
        *(int *)p = !strcmp(s, "true");
        return 0;
    default: return -1;
    }
}

/* "mse, ce, hinge, focal" for messages: the names an enumerated field accepts. */
static void known_names(const rc_field *f, char *buf, size_t size) {
    const int count = f->type == RC_LOSS ? MLP_LOSS_COUNT : f->type == RC_OPTIM ? MLP_OPTIM_COUNT
                    : f->type == RC_SCHEDULE ? MLP_SCHEDULE_COUNT : f->type == RC_MONITOR ? MLP_MONITOR_COUNT : 2;
    buf[0] = '\0';
    for (int v = 0; v < count; v++) {
        /* every enumerated type here is an int-sized enum counted from 0; for a bool, 1 then 0 */
        const int value = f->type == RC_BOOL ? !v : v;
        snprintf(buf + strlen(buf), size - strlen(buf), v ? ", %s" : "%s", enum_name(f, &value));
    }
}

static void *at(rc_config *c, const rc_field *f) { return (char *)c + f->off; }
static const void *cat(const rc_config *c, const rc_field *f) { return (const char *)c + f->off; }

/* ================================================================== metadata (strings) */

/* The metadata text of a field's value: floats %.9g (strtof reads it back exactly), names, integers. */
static void meta_text(const rc_field *f, const void *p, int K, char *buf, size_t size) {
    size_t used = 0;
    switch (f->type) {
    case RC_F32: snprintf(buf, size, "%.9g", (double)*(const float *)p); break;
    case RC_INT: snprintf(buf, size, "%d", *(const int *)p); break;
    case RC_U64: snprintf(buf, size, "%" PRIu64, *(const uint64_t *)p); break;
    case RC_ALPHA:
        buf[0] = '\0';
        for (int k = 0; k < K && used < size; k++) {
            int n = snprintf(buf + used, size - used, k ? ",%.9g" : "%.9g", (double)mlp_loss_focal_alpha(alpha_loss(p), k));
            if (n < 0) break;
            used += (size_t)n;
        }
        break;
    default: snprintf(buf, size, "%s", enum_name(f, p)); break;
    }
}

void rc_meta_write(const rc_config *c, int K, unsigned file, rc_put_fn put, void *user) {
    char buf[1024];
    for (size_t i = 0; i < N_FIELDS; i++) {
        if (!(fields[i].files & file)) continue;
        if (fields[i].type == RC_ALPHA) { /* K values: as long as the class count needs */
            sbuf b = SBUF_INIT;
            for (int k = 0; k < K; k++) sbuf_printf(&b, k ? ",%.9g" : "%.9g", (double)mlp_loss_focal_alpha(&c->train.loss, k));
            put(user, fields[i].key, sbuf_str(&b));
            sbuf_free(&b);
            continue;
        }
        meta_text(&fields[i], cat(c, &fields[i]), K, buf, sizeof buf);
        put(user, fields[i].key, buf);
    }
}

/* A float written with %.9g (strtof reads it back exactly); all of s must be the number. */
static int parse_f32(const char *s, float *out) {
    char *end;
    if (!*s || !(*s == '-' || *s == '.' || (*s >= '0' && *s <= '9'))) return -1;
    float v = strtof(s, &end);
    if (*end != '\0' || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

/* A decimal integer in [lo, hi], the whole string. */
static int parse_integer(const char *s, long long lo, long long hi, long long *out) {
    if (!((*s >= '0' && *s <= '9') || (*s == '-' && s[1] >= '0' && s[1] <= '9'))) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end != '\0' || errno || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* Exactly K comma-separated finite numbers. */
static mlp_status parse_alpha(const char *s, int K, float *out, mlp_error *err) {
    const char *p = s;
    for (int k = 0; k < K; k++) {
        char item[64];
        size_t n = strcspn(p, ",");
        if (n >= sizeof item || p[n] != (k + 1 < K ? ',' : '\0'))
            return mlp_fail(err, MLP_ERR_FORMAT, "metadata focal_alpha \"%.60s\" must be %d comma-separated numbers",
                            s, K);
        memcpy(item, p, n);
        item[n] = '\0';
        if (parse_f32(item, &out[k]) != 0)
            return mlp_fail(err, MLP_ERR_FORMAT, "metadata focal_alpha \"%.60s\": item %d is not a finite number", s,
                            k + 1);
        p += n + 1;
    }
    return MLP_OK;
}

static mlp_status meta_field(const rc_field *f, const char *s, rc_config *c, int K, mlp_error *err) {
    void *p = at(c, f);
    long long v;
    char known[160];
    switch (f->type) {
    case RC_F32:
        if (parse_f32(s, p) != 0)
            return mlp_fail(err, MLP_ERR_FORMAT, "metadata %s \"%.40s\" is not a finite number", f->key, s);
        return MLP_OK;
    case RC_INT:
        if (parse_integer(s, -2147483647 - 1, 2147483647, &v) != 0)
            return mlp_fail(err, MLP_ERR_FORMAT, "metadata %s \"%.40s\" is not an integer", f->key, s);
        *(int *)p = (int)v;
        return MLP_OK;
    case RC_U64: {
        char *end;
        errno = 0;
        unsigned long long u = (*s >= '0' && *s <= '9') ? strtoull(s, &end, 10) : 0;
        if (!(*s >= '0' && *s <= '9') || *end != '\0' || errno)
            return mlp_fail(err, MLP_ERR_FORMAT, "metadata %s \"%.40s\" is not a non-negative integer", f->key, s);
        *(uint64_t *)p = (uint64_t)u;
        return MLP_OK;
    }
    case RC_ALPHA: {
        float *a = alpha_new(c, K, err);
        return a ? parse_alpha(s, K, a, err) : MLP_ERR_NOMEM;
    }
    case RC_LOSS: {
        mlp_loss kind;
        if (enum_parse(f, s, &kind) != 0) break;
        c->train.loss = mlp_loss_default(kind);
        return MLP_OK;
    }
    default:
        if (enum_parse(f, s, p) != 0) break;
        return MLP_OK;
    }
    known_names(f, known, sizeof known);
    return mlp_fail(err, MLP_ERR_FORMAT, "metadata %s \"%.40s\" is not a known %s (%s)", f->key, s, f->key, known);
}

mlp_status rc_meta_read(rc_get_fn get, const void *user, rc_config *c, int K, unsigned file, int required,
                        mlp_error *err) {
    for (size_t i = 0; i < N_FIELDS; i++) {
        const rc_field *fd = &fields[i];
        if (!(fd->files & file)) continue;
        const char *s = get(user, fd->key);
        if (!s) {
            if (required && !(fd->flags & RC_LATE))
                return mlp_fail(err, MLP_ERR_FORMAT, "metadata has no \"%s\"", fd->key);
            continue;
        }
        mlp_status st = meta_field(fd, s, c, K, err);
        if (st) return st;
    }
    return MLP_OK;
}

const char *rc_first_nonfinite(const rc_config *c, int K, unsigned file) {
    for (size_t i = 0; i < N_FIELDS; i++) {
        const rc_field *f = &fields[i];
        const int n = f->type == RC_F32 ? 1 : f->type == RC_ALPHA ? K : 0;
        for (int k = 0; k < n && (f->files & file); k++)
            if (!isfinite(f->type == RC_ALPHA ? mlp_loss_focal_alpha(&c->train.loss, k) : *(const float *)cat(c, f)))
                return f->key;
    }
    return NULL;
}

mlp_status rc_compare(const rc_config *a, const rc_config *b, int K, unsigned file, const char *who, mlp_error *err) {
    for (size_t i = 0; i < N_FIELDS; i++) {
        const rc_field *f = &fields[i];
        if (!(f->files & file) || (f->flags & RC_NOCOMPARE)) continue;
        const void *pa = cat(a, f), *pb = cat(b, f);
        if (f->type == RC_ALPHA) {
            for (int k = 0; k < K; k++) {
                const float va = mlp_loss_focal_alpha(&a->train.loss, k), vb = mlp_loss_focal_alpha(&b->train.loss, k);
                if (memcmp(&va, &vb, sizeof(float)) != 0)
                    return mlp_fail(err, MLP_ERR_ARG, "%s was written with %s[%d] %.9g but this run has %.9g", who,
                                    f->key, k, (double)va, (double)vb);
            }
            continue;
        }
        /* floats bit for bit; the others through their text, which is unique to the value */
        char ta[64], tb[64];
        meta_text(f, pa, K, ta, sizeof ta);
        meta_text(f, pb, K, tb, sizeof tb);
        if (f->type == RC_F32 ? memcmp(pa, pb, sizeof(float)) != 0 : strcmp(ta, tb) != 0)
            return mlp_fail(err, MLP_ERR_ARG, "%s was written with %s %s but this run has %s %s", who, f->key, ta, f->key,
                            tb);
    }
    return MLP_OK;
}

/* ================================================================== config.json (typed JSON) */

static void json_value_text(sbuf *b, const rc_field *f, const void *p, int K) {
    switch (f->type) {
    case RC_F32: json_sbuf_float(b, *(const float *)p); break;
    case RC_INT: sbuf_printf(b, "%d", *(const int *)p); break;
    case RC_U64: sbuf_printf(b, "%" PRIu64, *(const uint64_t *)p); break;
    case RC_BOOL: sbuf_puts(b, *(const int *)p ? "true" : "false"); break;
    case RC_ALPHA:
        sbuf_putc(b, '[');
        for (int k = 0; k < K; k++) {
            if (k) sbuf_puts(b, ", ");
            json_sbuf_float(b, mlp_loss_focal_alpha(alpha_loss(p), k));
        }
        sbuf_putc(b, ']');
        break;
    default: json_sbuf_string(b, enum_name(f, p)); break;
    }
}

void rc_json_write(sbuf *b, const rc_config *c, int K, unsigned groups) {
    for (size_t i = 0; i < N_FIELDS; i++) {
        if (!(fields[i].json & groups)) continue;
        sbuf_printf(b, ",\n  \"%s\": ", fields[i].key);
        json_value_text(b, &fields[i], cat(c, &fields[i]), K);
    }
}

/* A float exactly as the file writes it: strtof on the number's own text (json_sbuf_float wrote the shortest
 * text that strtof reads back as the same float; strtod and a cast could round twice). */
static mlp_status json_f32(const rc_field *f, const json_value *v, const char *text, float *out, mlp_error *err) {
    if (!v || v->type != JSON_NUMBER)
        return mlp_fail(err, MLP_ERR_FORMAT, "\"%s\" must hold numbers, got %s", f->key, json_kind(v));
    float x = strtof(text + v->offset, NULL);
    if (!isfinite(x) || x < f->lo || x > f->hi)
        return mlp_fail(err, MLP_ERR_FORMAT, "\"%s\" is %g, outside the accepted range [%g, %g]", f->key, (double)x,
                        f->lo, f->hi);
    *out = x;
    return MLP_OK;
}

static mlp_status json_field(const rc_field *f, const json_value *v, const char *text, rc_config *c, int K,
                             mlp_error *err) {
    void *p = at(c, f);
    int64_t i;
    switch (f->type) {
    case RC_F32: return json_f32(f, v, text, p, err);
    case RC_INT:
        if (json_int64(v, &i) != 0 || i < f->lo || i > f->hi)
            return mlp_fail(err, MLP_ERR_FORMAT, "\"%s\" must be an integer in [%.0f, %.0f]", f->key, f->lo, f->hi);
        *(int *)p = (int)i;
        return MLP_OK;
    case RC_U64: {
        /* a uint64: read its digits (json_int64 stops at 2^63) */
        const char *s = v && v->type == JSON_NUMBER ? text + v->offset : "";
        char *end;
        errno = 0;
        unsigned long long u = strtoull(s, &end, 10);
        if (*s < '0' || *s > '9' || errno || (*end && !strchr(",}] \t\r\n", *end)))
            return mlp_fail(err, MLP_ERR_FORMAT, "\"%s\" must be a non-negative integer", f->key);
        *(uint64_t *)p = (uint64_t)u;
        return MLP_OK;
    }
    case RC_BOOL:
        if (json_bool(v, p) != 0) return mlp_fail(err, MLP_ERR_FORMAT, "\"%s\" must be true or false", f->key);
        return MLP_OK;
    case RC_ALPHA: {
        /* K numbers; K = 0: one per class, as many as the file holds (the classes come from the data) */
        const size_t n = v && v->type == JSON_ARRAY ? json_count(v) : 0;
        if (K > 0 && n != (size_t)K)
            return mlp_fail(err, MLP_ERR_FORMAT, "\"%s\" must hold %d numbers", f->key, K);
        if (K <= 0 && (n < 2 || n > (1u << 20)))
            return mlp_fail(err, MLP_ERR_FORMAT, "\"%s\" must hold one number per class", f->key);
        float *a = alpha_new(c, (int)n, err);
        if (!a) return MLP_ERR_NOMEM;
        for (int k = 0; k < (int)n; k++) {
            mlp_status st = json_f32(f, json_at(v, (size_t)k), text, a + k, err);
            if (st) return st;
        }
        return MLP_OK;
    }
    case RC_LOSS: {
        mlp_loss kind;
        if (!json_string(v) || enum_parse(f, json_string(v), &kind) != 0) break;
        c->train.loss = mlp_loss_default(kind);
        return MLP_OK;
    }
    default:
        if (!json_string(v) || enum_parse(f, json_string(v), p) != 0) break;
        return MLP_OK;
    }
    char known[160];
    known_names(f, known, sizeof known);
    return mlp_fail(err, MLP_ERR_FORMAT, "unknown \"%s\" (expected one of: %s)", f->key, known);
}

mlp_status rc_json_read(const json_value *root, const char *text, rc_config *c, int K, mlp_error *err) {
    for (size_t i = 0; i < N_FIELDS; i++) {
        const rc_field *f = &fields[i];
        if (!(f->json & RC_JSON_TRAIN)) continue;
        const json_value *v = json_get(root, f->key);
        if (!v) {
            if (f->flags & RC_LATE) continue;
            return mlp_fail(err, MLP_ERR_FORMAT, "no \"%s\" (the run's config file is damaged)", f->key);
        }
        mlp_status st = json_field(f, v, text, c, K, err);
        if (st) return st;
    }
    return MLP_OK;
}

const char *rc_json_default(const char *key, char *buf, size_t size) {
    const rc_config d = rc_default();
    for (size_t i = 0; i < N_FIELDS; i++) {
        const rc_field *f = &fields[i];
        if (!(f->json & RC_JSON_TRAIN) || !(f->flags & RC_LATE) || strcmp(f->key, key)) continue;
        sbuf b = SBUF_INIT;
        json_value_text(&b, f, cat(&d, f), 0);
        snprintf(buf, size, "%s", sbuf_str(&b));
        sbuf_free(&b);
        return buf;
    }
    return NULL;
}
