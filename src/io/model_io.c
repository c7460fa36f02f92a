/* model_io.c - model files: a network's parameters and how it was made, in a safetensors file (safetensors.h).
 *
 * Tensors: fc{l}.weight [width[l] x width[l-1]] and fc{l}.bias [width[l]] for l = 1..n_layers, F32,
 * row-major [out x in] as in PyTorch's nn.Linear, so a net's parameter block (fc1.weight, fc1.bias,
 * fc2.weight, ...) is written as is. Metadata records the architecture (widths, layers, classes, activation),
 * the loss and the input scaling (runcfg.h's RC_MODEL fields), the dataset and the version, as strings.
 *
 * Reading trusts nothing: the container is checked by safetensors.c; here the tensor names, the chaining of
 * the shapes, the agreement between metadata and shapes and the metadata values are checked, all before
 * anything is allocated for the network. Files written by other tools load when they hold the fc tensors in
 * any order, with any extra metadata; a network with hidden layers also needs the "activation" entry,
 * because guessing it would silently compute something else. */
#include "fileio.h"
#include "runcfg.h"
#include "safetensors.h"
#include "util.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_MAX ((uint64_t)100 << 20)   /* 100 MB, the limit of the reference implementation */
#define MODEL_FILE_MAX ((size_t)2 << 30)    /* 2 GB: far above any network this library builds */

/* ================================================================== saving */

static int arch_equal(const mlp_arch *a, const mlp_arch *b) {
    if (a->n_layers != b->n_layers || a->act != b->act) return 0;
    for (int l = 0; l <= a->n_layers; l++)
        if (a->width[l] != b->width[l]) return 0;
    return 1;
}

static mlp_status check_save_args(const mlp_net *net, const mlp_model_meta *meta, mlp_error *err) {
    const mlp_arch *arch = &net->arch;
    if (!net->params || arch->n_layers < 1 || arch->n_layers > MLP_MAX_LAYERS)
        return mlp_fail(err, MLP_ERR_ARG, "model save: the network is not created");
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
    rc_config c = rc_default();
    c.train.loss = meta->loss;
    c.scaling = meta->scaling;
    const char *bad = rc_first_nonfinite(&c, arch->width[arch->n_layers], RC_MODEL);
    if (bad)
        return mlp_fail(err, MLP_ERR_ARG, "model save: meta holds a NaN or infinite loss or scaling constant (%s)", bad);
    return MLP_OK;
}

/* ------------------------------------------------------------------ what the model knows of its data
 *
 * Written only when there is something to say, so that a reference (MNIST) model's file is byte for byte what it
 * was: "scale" (the kind, when not reference), "feature_offset" and "feature_scale" (one %.9g float per input,
 * comma-separated: strtof reads each back exactly), "class_names" (a JSON array of strings), "label_column". Not
 * run settings (runcfg.c): facts about the training data that eval and predict need. */

static mlp_status meta_text(const st_file *f, const char *key, char *out, size_t size, mlp_error *err);

static void floats_text(sbuf *b, const float *v, int n) {
    for (int j = 0; j < n; j++) sbuf_printf(b, j ? ",%.9g" : "%.9g", (double)v[j]);
}

static void write_data_meta(st_writer *w, const mlp_arch *arch, const mlp_model_meta *meta) {
    const int D = arch->width[0], K = arch->width[arch->n_layers];
    sbuf b = SBUF_INIT;
    if (meta->scale != MLP_SCALE_REFERENCE) st_meta(w, "scale", mlp_scale_name(meta->scale));
    if (meta->feature_offset && meta->feature_scale) {
        floats_text(&b, meta->feature_offset, D);
        st_meta(w, "feature_offset", sbuf_str(&b));
        sbuf_clear(&b);
        floats_text(&b, meta->feature_scale, D);
        st_meta(w, "feature_scale", sbuf_str(&b));
        sbuf_clear(&b);
    }
    if (meta->class_names) {
        sbuf_putc(&b, '[');
        for (int k = 0; k < K; k++) {
            if (k) sbuf_puts(&b, ", ");
            json_sbuf_string(&b, meta->class_names[k]);
        }
        sbuf_putc(&b, ']');
        st_meta(w, "class_names", sbuf_str(&b));
    }
    if (meta->label[0]) st_meta_n(w, "label_column", meta->label, sizeof meta->label);
    sbuf_free(&b);
}

void mlp_model_meta_free(mlp_model_meta *meta) {
    if (!meta) return;
    free(meta->feature_offset); /* the block holds feature_scale too */
    free(meta->class_names);
    meta->feature_offset = meta->feature_scale = NULL;
    meta->class_names = NULL;
    if (meta->focal_alpha_buf && meta->loss.focal_alpha == meta->focal_alpha_buf) {
        meta->loss.focal_alpha = NULL;
        meta->loss.n_focal_alpha = 0;
    }
    free(meta->focal_alpha_buf);
    meta->focal_alpha_buf = NULL;
}

void mlp_model_scale_inputs(const mlp_model_meta *meta, float *x, int n) {
    if (!meta || !meta->feature_offset || !meta->feature_scale) return;
    const int D = meta->arch.width[0];
    for (size_t i = 0; i < (size_t)n; i++) {
        float *row = x + i * (size_t)D;
        for (int j = 0; j < D; j++) row[j] = (row[j] - meta->feature_offset[j]) * meta->feature_scale[j];
    }
}

/* D comma-separated finite floats of metadata `key` into v. */
static mlp_status parse_floats(const char *key, const char *s, float *v, int D, mlp_error *err) {
    const char *p = s;
    for (int j = 0; j < D; j++) {
        char *end;
        v[j] = strtof(p, &end);
        if (end == p || !isfinite(v[j]) || *end != (j + 1 < D ? ',' : '\0'))
            return mlp_fail(err, MLP_ERR_FORMAT, "metadata %s must be %d comma-separated finite numbers (item %d)", key,
                            D, j + 1);
        p = end + 1;
    }
    return MLP_OK;
}

/* The class names: a JSON array of K non-empty strings without control characters, at most 200 bytes each. */
static mlp_status parse_names(const char *s, int K, char ***out, mlp_error *err) {
    json_doc doc = {0};
    mlp_status st = json_parse(&doc, s, strlen(s), NULL, err);
    if (st) return mlp_fail(err, MLP_ERR_FORMAT, "metadata class_names is not JSON: %s", err ? err->msg : "");
    size_t bytes = (size_t)K * sizeof(char *);
    if (doc.root->type != JSON_ARRAY || json_count(doc.root) != (size_t)K)
        st = mlp_fail(err, MLP_ERR_FORMAT, "metadata class_names must be an array of the %d class names", K);
    for (int k = 0; !st && k < K; k++) {
        const char *name = json_string(json_at(doc.root, (size_t)k));
        int ok = name && *name && strlen(name) <= 200;
        for (const char *c = name; ok && *c; c++) ok = (unsigned char)*c >= 0x20 && *c != 0x7f;
        if (!ok) st = mlp_fail(err, MLP_ERR_FORMAT, "metadata class_names: item %d is not a printable name of 1..200 bytes", k + 1);
        else bytes += strlen(name) + 1;
    }
    char **names = st ? NULL : malloc(bytes);
    if (!st && !names) st = mlp_fail(err, MLP_ERR_NOMEM, "cannot allocate %d class names", K);
    if (!st) {
        char *at = (char *)(names + K);
        for (int k = 0; k < K; k++) {
            const char *name = json_string(json_at(doc.root, (size_t)k));
            names[k] = memcpy(at, name, strlen(name) + 1);
            at += strlen(name) + 1;
        }
        *out = names;
    }
    json_free(&doc);
    return st;
}

static mlp_status read_data_meta(const st_file *f, const mlp_arch *arch, mlp_model_meta *m, mlp_error *err) {
    const int D = arch->width[0], K = arch->width[arch->n_layers];
    const char *s = st_meta_lookup(f, "scale");
    mlp_status st = MLP_OK;
    if (s && mlp_scale_parse(s, &m->scale) != 0)
        return mlp_fail(err, MLP_ERR_FORMAT, "metadata scale \"%.40s\" is not reference, standard, minmax or none", s);
    const char *off = st_meta_lookup(f, "feature_offset"), *sc = st_meta_lookup(f, "feature_scale");
    if (!off != !sc) return mlp_fail(err, MLP_ERR_FORMAT, "metadata has feature_offset or feature_scale without the other");
    if (off) {
        m->feature_offset = malloc(2 * (size_t)D * sizeof(float));
        if (!m->feature_offset) return mlp_fail(err, MLP_ERR_NOMEM, "cannot allocate the scaling of %d inputs", D);
        m->feature_scale = m->feature_offset + D;
        st = parse_floats("feature_offset", off, m->feature_offset, D, err);
        if (!st) st = parse_floats("feature_scale", sc, m->feature_scale, D, err);
    }
    if (!st && (s = st_meta_lookup(f, "class_names"))) st = parse_names(s, K, &m->class_names, err);
    if (!st) st = meta_text(f, "label_column", m->label, sizeof m->label, err);
    if (st) mlp_model_meta_free(m);
    return st;
}

/* The metadata: without meta, the loss and scaling defaults of the reference. */
static void write_metadata(st_writer *w, const mlp_arch *arch, const mlp_model_meta *meta) {
    const int K = arch->width[arch->n_layers];
    const char *version = meta && meta->version[0] ? meta->version : MLP_VERSION;
    char widths[256];
    rc_config c = rc_default();
    c.train.loss = meta ? meta->loss : mlp_loss_default(MLP_LOSS_HINGE);
    if (meta) c.scaling = meta->scaling;
    rc_widths_text(arch, widths, sizeof widths);
    st_meta(w, "format", "mlp");
    st_meta_n(w, "mlp_version", version, sizeof meta->version);
    st_meta(w, "widths", widths);
    st_meta_int(w, "layers", arch->n_layers);
    st_meta_int(w, "classes", K);
    st_meta(w, "activation", mlp_act_name(arch->act));
    rc_meta_write(&c, K, RC_MODEL, st_meta_put, w);
    if (meta) st_meta_n(w, "dataset", meta->dataset, sizeof meta->dataset);
    if (meta) write_data_meta(w, arch, meta);
}

mlp_status mlp_model_save(const char *path, const mlp_net *net, const mlp_model_meta *meta, mlp_error *err) {
    if (!path || !net) return mlp_fail(err, MLP_ERR_ARG, "model save: NULL path or network");
    mlp_status st = check_save_args(net, meta, err);
    if (st) return st;
    const mlp_arch *arch = &net->arch;
    /* metadata, then fc1.weight, fc1.bias, fc2.weight, ... in data order */
    st_writer w;
    st_writer_init(&w);
    write_metadata(&w, arch, meta);
    for (int l = 0; l < arch->n_layers; l++) {
        char name[32];
        const uint64_t wdim[2] = {(uint64_t)arch->width[l + 1], (uint64_t)arch->width[l]};
        snprintf(name, sizeof name, "fc%d.weight", l + 1);
        st_add(&w, name, ST_F32, 2, wdim, net->params + net->w_off[l]);
        snprintf(name, sizeof name, "fc%d.bias", l + 1);
        st_add(&w, name, ST_F32, 1, wdim, net->params + net->b_off[l]);
    }
    st = st_write(&w, path, "model file", err);
    st_writer_free(&w);
    return st;
}

/* ================================================================== reading: the tensors */

/* The fc tensors by layer, from the file's tensor table. */
typedef struct model_header {
    const st_tensor *weight[MLP_MAX_LAYERS], *bias[MLP_MAX_LAYERS];
    int n_layers;                 /* highest fc index seen */
} model_header;

/* tag of a tensor: 2 (l - 1) + is_bias */

/* Split "fc<l>.weight" / "fc<l>.bias" (l without leading zeros). Returns l >= 1 and sets *is_bias, or
 * 0 when the name has another form. */
static long parse_tensor_name(const char *name, int *is_bias) {
    if (strlen(name) < 3 || strncmp(name, "fc", 2) != 0 || name[2] < '1' || name[2] > '9') return 0;
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

/* The safetensors reader's question: is this a tensor of a model? fc<l>.weight and fc<l>.bias, F32, any rank
 * (the shapes are checked against each other below, with messages that say what was expected). */
static mlp_status model_tensor(void *user, const char *name, st_dtype *dtype, int *rank, int *tag, mlp_error *err) {
    (void)user;
    int is_bias = 0;
    long layer = parse_tensor_name(name, &is_bias);
    if (layer > MLP_MAX_LAYERS)
        return mlp_fail(err, MLP_ERR_FORMAT, "tensor %.60s: at most %d layers are supported", name, MLP_MAX_LAYERS);
    if (layer < 1)
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "unexpected tensor \"%.60s\" (a model holds fc<l>.weight and fc<l>.bias for l = 1, 2, ...)",
                        name);
    *dtype = ST_F32;
    *rank = 0;
    *tag = 2 * ((int)layer - 1) + is_bias;
    return MLP_OK;
}

static mlp_status collect_tensors(const st_file *f, model_header *h, mlp_error *err) {
    memset(h, 0, sizeof *h);
    for (int i = 0; i < f->n; i++) {
        const int layer = f->t[i].tag / 2 + 1;
        const st_tensor **slot = f->t[i].tag % 2 ? &h->bias[layer - 1] : &h->weight[layer - 1];
        if (*slot) return mlp_fail(err, MLP_ERR_FORMAT, "duplicate tensor %.60s", f->t[i].name);
        *slot = &f->t[i];
        if (layer > h->n_layers) h->n_layers = layer;
    }
    if (h->n_layers == 0) return mlp_fail(err, MLP_ERR_FORMAT, "safetensors header holds no fc tensors");
    return MLP_OK;
}

/* Widths from the shapes: fc1.weight [w1, w0], fcL.weight [wL, w(L-1)], fcL.bias [wL]; every tensor of
 * fc1..fcL must be present and chain. */
static mlp_status infer_widths(const model_header *h, int width[MLP_MAX_LAYERS + 1], mlp_error *err) {
    for (int l = 1; l <= h->n_layers; l++) {
        const st_tensor *w = h->weight[l - 1], *b = h->bias[l - 1];
        char s[96];
        if (!w) return mlp_fail(err, MLP_ERR_FORMAT, "missing tensor fc%d.weight", l);
        if (!b) return mlp_fail(err, MLP_ERR_FORMAT, "missing tensor fc%d.bias", l);
        st_format_shape(w, s, sizeof s);
        if (w->rank != 2)
            return mlp_fail(err, MLP_ERR_FORMAT, "tensor fc%d.weight has shape %s, expected [out, in]", l, s);
        if (w->dim[0] < 1 || w->dim[0] > INT_MAX || w->dim[1] < 1 || w->dim[1] > INT_MAX)
            return mlp_fail(err, MLP_ERR_FORMAT, "tensor fc%d.weight has shape %s: widths must be 1..%d", l, s,
                            INT_MAX);
        if (l == 1) width[0] = (int)w->dim[1];
        if (w->dim[1] != (uint64_t)width[l - 1])
            return mlp_fail(err, MLP_ERR_FORMAT,
                            "tensor fc%d.weight has shape %s, expected [%lld, %d] (fc%d has %d outputs)",
                            l, s, (long long)w->dim[0], width[l - 1], l - 1, width[l - 1]);
        width[l] = (int)w->dim[0];
        if (b->rank != 1 || b->dim[0] != (uint64_t)width[l]) {
            st_format_shape(b, s, sizeof s);
            return mlp_fail(err, MLP_ERR_FORMAT, "tensor fc%d.bias has shape %s, expected [%d]", l, s, width[l]);
        }
    }
    return MLP_OK;
}

/* ================================================================== reading: metadata */

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

static mlp_status meta_text(const st_file *f, const char *key, char *out, size_t size, mlp_error *err) {
    const char *s = st_meta_get(f, key);
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
static mlp_status read_arch(const st_file *f, const model_header *h, mlp_arch *arch, mlp_error *err) {
    memset(arch, 0, sizeof *arch);
    arch->n_layers = h->n_layers;
    mlp_status st = infer_widths(h, arch->width, err);
    if (st) return st;
    const int L = h->n_layers, K = arch->width[L];
    char shapes[200];
    rc_widths_text(arch, shapes, sizeof shapes);

    const char *s = st_meta_get(f, "widths");
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
    if ((s = st_meta_get(f, "layers")) && (parse_int_list(s, &v, 1) != 1 || v != L))
        return mlp_fail(err, MLP_ERR_FORMAT, "metadata layers \"%.20s\" disagrees with the tensors (%d layers)", s, L);
    if ((s = st_meta_get(f, "classes")) && (parse_int_list(s, &v, 1) != 1 || v != K))
        return mlp_fail(err, MLP_ERR_FORMAT, "metadata classes \"%.20s\" disagrees with the tensors (%d outputs)", s,
                        K);

    s = st_meta_get(f, "activation");
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

/* Loss, scaling (runcfg.h), dataset and version; absent entries take the reference's defaults. */
static mlp_status read_meta(const st_file *f, int K, mlp_model_meta *m, mlp_error *err) {
    rc_config c = rc_default();
    mlp_status st;
    if ((st = rc_meta_read(st_meta_lookup, f, &c, K, RC_MODEL, 0, err)) ||
        (st = meta_text(f, "dataset", m->dataset, sizeof m->dataset, err)) ||
        (st = meta_text(f, "mlp_version", m->version, sizeof m->version, err))) {
        rc_free(&c);
        return st;
    }
    /* the alphas: kept (the meta owns them) unless they are all the default 0.1, then nothing is held */
    int all_default = 1;
    for (int k = 0; k < K; k++) all_default = all_default && mlp_loss_focal_alpha(&c.train.loss, k) == 0.1f;
    if (all_default) {
        rc_free(&c);
        c.train.loss.focal_alpha = NULL;
        c.train.loss.n_focal_alpha = 0;
    }
    m->focal_alpha_buf = c.alpha_buf;
    m->loss = c.train.loss;
    m->scaling = c.scaling;
    return MLP_OK;
}


/* ================================================================== reading: the file */

static mlp_status check_all_finite(const model_header *h, mlp_error *err) {
    mlp_status st = MLP_OK;
    for (int l = 0; l < h->n_layers && !st; l++) {
        st = st_check_finite(h->weight[l], err);
        if (!st) st = st_check_finite(h->bias[l], err);
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

    st_format fmt = {"model file", "safetensors header", HEADER_MAX, json_limits_default(), model_tensor, NULL};
    st_file f;
    model_header h;
    mlp_model_meta m;
    memset(&m, 0, sizeof m);
    mlp_status st = st_parse(buf, len, &fmt, &f, err);
    if (st) return st_one_line(st, err);
    st = collect_tensors(&f, &h, err);
    if (!st) st = read_arch(&f, &h, &m.arch, err);
    if (!st) st = st_check_tiling(&f, err);
    if (!st) st = read_meta(&f, m.arch.width[m.arch.n_layers], &m, err);
    if (!st) st = read_data_meta(&f, &m.arch, &m, err);
    if (!st) st = check_all_finite(&h, err);
    if (!st) st = check_memory(&m.arch, max_batch, max_bytes, err);
    if (!st) st = mlp_net_create(net, &m.arch, max_batch, err);
    if (!st) {
        for (int l = 0; l < m.arch.n_layers; l++) {
            size_t in = (size_t)m.arch.width[l], out = (size_t)m.arch.width[l + 1];
            st_load_f32(net->params + net->w_off[l], h.weight[l]->data, out * in);
            st_load_f32(net->params + net->b_off[l], h.bias[l]->data, out);
        }
        mlp_net_params_changed(net);
        if (meta) *meta = m;
        else mlp_model_meta_free(&m);
    } else {
        mlp_model_meta_free(&m);
        memset(net, 0, sizeof *net);
    }
    st_free(&f);
    return st_one_line(st, err);
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
    if (st) return st_one_line(mlp_fail(err, st, "%.300s: %.400s", path, inner.msg), err);
    return MLP_OK;
}
