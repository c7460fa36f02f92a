/* test_safetensors.c - the one safetensors module (src/io/safetensors.c) and the run configuration's table
 * (src/io/runcfg.c): files written by the code before them still load and are written again byte for byte,
 * every field of the table survives the metadata and config.json round trips, and the container's checks.
 *
 * tests/fixtures/model-focal.safetensors and checkpoint-adamw.safetensors were written by mlp at commit
 * bb51952 (before this module) from the run of fixture_run() below: a 4-3-10 tanh network, focal loss
 * (gamma 1.5, alpha 0.05 (k + 1)), AdamW (beta1 0.8, beta2 0.99, eps 1e-7), a cosine schedule with one warm-up
 * epoch down to 0.001, dropout 0.25, early stopping after 3 epochs, seed 7, one epoch done. */
#include "check.h"
#include "runcfg.h"
#include "safetensors.h"

#include "../fuzz/fuzz_common.h"

#define FIXTURE_MODEL "tests/fixtures/model-focal.safetensors"
#define FIXTURE_CKPT "tests/fixtures/checkpoint-adamw.safetensors"

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

/* A fixture's bytes (NULL, with a failed check, when it cannot be read) */
static uint8_t *fixture(const char *path, size_t *len) {
    uint8_t *buf = slurp(path, len);
    CHECK_MSG(buf != NULL, "%s: cannot read it (the tests run from the repository root)", path);
    return buf;
}

static mlp_train_cfg fixture_cfg(void) {
    mlp_train_cfg cfg = mlp_train_cfg_default();
    cfg.batch = 8;
    cfg.epochs = 5;
    cfg.reduction = MLP_GRAD_MEAN;
    cfg.lr = 0.01f;
    cfg.init_std = 0.5f;
    cfg.loss = mlp_loss_default(MLP_LOSS_FOCAL);
    cfg.loss.focal_gamma = 1.5f;
    static float alpha[10];
    for (int k = 0; k < 10; k++) alpha[k] = 0.05f * (float)(k + 1);
    cfg.loss.focal_alpha = alpha;
    cfg.loss.n_focal_alpha = 10;
    cfg.optim = MLP_OPTIM_ADAMW;
    cfg.beta1 = 0.8f;
    cfg.beta2 = 0.99f;
    cfg.eps = 1e-7f;
    cfg.schedule = MLP_SCHEDULE_COSINE;
    cfg.warmup_epochs = 1;
    cfg.min_lr = 0.001f;
    cfg.dropout = 0.25f;
    cfg.early_stop = 3;
    cfg.monitor = MLP_MONITOR_LOSS;
    cfg.seed = 7;
    return cfg;
}

/* The fixtures' run: fuzz_run's 30 images with a tanh network and fixture_cfg (other initial weights: the
 * checkpoint replaces them). */
static void fixture_run(fuzz_run *r, mlp_net *net, mlp_trainer *tr) {
    mlp_error err;
    fuzz_run_init(r);
    mlp_arch arch;
    CHECK(mlp_arch_parse(&arch, "3", 4, 10, MLP_ACT_TANH, &err) == MLP_OK);
    CHECK(mlp_net_create(net, &arch, 8, &err) == MLP_OK);
    mlp_train_cfg cfg = fixture_cfg();
    CHECK_MSG(mlp_trainer_init(tr, net, &cfg, &r->train, &r->train, &err) == MLP_OK, "%s", err.msg);
}

/* Accept any tensor name: F64 for "metrics" and names starting "f64", else F32 */
static mlp_status any_tensor(void *user, const char *name, st_dtype *dtype, int *rank, int *tag, mlp_error *err) {
    (void)user, (void)err;
    *dtype = strncmp(name, "f64", 3) == 0 || strcmp(name, "metrics") == 0 ? ST_F64 : ST_F32;
    *rank = 0;
    *tag = 0;
    return MLP_OK;
}

static st_format any_format(void) {
    st_format f = {"file", "safetensors header", 1 << 20, json_limits_default(), any_tensor, NULL};
    return f;
}

TEST(safetensors_model_from_before_loads_and_rewrites_identically) {
    size_t len;
    uint8_t *old = fixture(FIXTURE_MODEL, &len);
    if (!old) return;
    mlp_net net;
    mlp_model_meta meta;
    mlp_error err;
    CHECK_MSG(mlp_model_parse(old, len, &net, 1, &meta, &err) == MLP_OK, "%s", err.msg);
    if (!net.params) {
        free(old);
        return;
    }
    CHECK_INT(net.arch.n_layers, 2);
    CHECK(net.arch.width[0] == 4 && net.arch.width[1] == 3 && net.arch.width[2] == 10);
    CHECK_INT(net.arch.act, MLP_ACT_TANH);
    CHECK_INT(meta.loss.kind, MLP_LOSS_FOCAL);
    CHECK(meta.loss.focal_gamma == 1.5f && meta.loss.hinge_margin == 5.0f);
    for (int k = 0; k < 10; k++) CHECK(mlp_loss_focal_alpha(&meta.loss, k) == 0.05f * (float)(k + 1));
    CHECK(meta.scaling.offset == 128.0f && meta.scaling.scale == 1.0f / 255.0f);
    CHECK(strcmp(meta.dataset, "fashion-mnist") == 0 && strcmp(meta.version, "0.1.0") == 0);
    /* written again by this code: the same bytes */
    char path[600];
    snprintf(path, sizeof path, "%s/again.safetensors", check_tmpdir());
    CHECK_MSG(mlp_model_save(path, &net, &meta, &err) == MLP_OK, "%s", err.msg);
    size_t len2;
    uint8_t *again = slurp(path, &len2);
    CHECK(again && len2 == len && memcmp(again, old, len) == 0);
    free(again);
    free(old);
    mlp_model_meta_free(&meta);
    mlp_net_free(&net);
}

/* The metadata map of a file (key order aside): every key of a with the same value in b, but `skip`. */
static int same_metadata(const st_file *a, const st_file *b, const char *skip) {
    if (json_count(a->meta) != json_count(b->meta)) return 0;
    for (size_t i = 0; i < json_count(a->meta); i++) {
        const json_value *v = json_at(a->meta, i);
        if (strcmp(v->key, skip) == 0) continue;
        const char *w = st_meta_get(b, v->key);
        if (!w || strcmp(w, json_string(v)) != 0) return 0;
    }
    return 1;
}

TEST(safetensors_checkpoint_from_before_loads_and_rewrites_the_same) {
    size_t len;
    uint8_t *old = fixture(FIXTURE_CKPT, &len);
    if (!old) return;
    fuzz_run r;
    mlp_net net;
    mlp_trainer tr;
    mlp_error err;
    fixture_run(&r, &net, &tr);
    mlp_epoch_metrics hist[5];
    int n = -1;
    CHECK_MSG(mlp_checkpoint_parse(old, len, &tr, hist, 5, &n, &err) == MLP_OK, "%s", err.msg);
    CHECK_INT(n, 1);
    CHECK_INT(tr.epochs_done, 1);
    CHECK_INT(tr.best_epoch, 1);
    CHECK(hist[0].epoch == 1 && isfinite(hist[0].train_loss) && hist[0].lr > 0);
    /* saved again: the same tensors and metadata (but "kernels", the path of the machine that wrote it) */
    char path[600];
    snprintf(path, sizeof path, "%s/again.safetensors", check_tmpdir());
    CHECK_MSG(mlp_checkpoint_save(path, &tr, hist, n, &err) == MLP_OK, "%s", err.msg);
    size_t len2;
    uint8_t *again = slurp(path, &len2);
    st_file a, b;
    st_format fmt = any_format();
    CHECK_MSG(st_parse(old, len, &fmt, &a, &err) == MLP_OK, "%s", err.msg);
    CHECK_MSG(again && st_parse(again, len2, &fmt, &b, &err) == MLP_OK, "%s", err.msg);
    CHECK(same_metadata(&a, &b, "kernels") && same_metadata(&b, &a, "kernels"));
    CHECK(a.data_len == b.data_len && memcmp(a.data, b.data, a.data_len) == 0);
    CHECK(a.n == 4 && b.n == 4);
    st_free(&a);
    st_free(&b);
    /* another run's configuration is refused, naming the field */
    tr.cfg.beta2 = 0.98f;
    CHECK_INT(mlp_checkpoint_parse(old, len, &tr, hist, 5, &n, &err), MLP_ERR_ARG);
    CHECK_CONTAINS(err.msg, "the checkpoint was written with beta2 0.99000001 but this run has beta2 0.980000019");
    free(again);
    free(old);
    mlp_trainer_free(&tr);
    mlp_net_free(&net);
    fuzz_run_free(&r);
}

TEST(safetensors_checkpoint_from_before_the_optimizers_loads) {
    /* fuzz/corpus/checkpoint/epoch-0: checkpoint version 1 written before optimizer, schedule, dropout and
     * early stopping existed: the absent settings read as the defaults of fuzz_run's configuration (epoch-0:
     * the later seeds' metrics hold the NaN test loss of a run without a test set, which is refused) */
    size_t len;
    uint8_t *old = fixture("fuzz/corpus/checkpoint/epoch-0", &len);
    if (!old) return;
    fuzz_run r;
    fuzz_run_init(&r);
    mlp_epoch_metrics hist[5];
    int n = -1;
    mlp_error err;
    CHECK_MSG(mlp_checkpoint_parse(old, len, &r.tr, hist, 5, &n, &err) == MLP_OK, "%s", err.msg);
    CHECK_INT(n, 0);
    CHECK_INT(r.tr.step_in_epoch, 0);
    /* but not into a run with another optimizer */
    r.tr.cfg.nesterov = 1;
    CHECK_INT(mlp_checkpoint_parse(old, len, &r.tr, hist, 5, &n, &err), MLP_ERR_ARG);
    CHECK_CONTAINS(err.msg, "written with nesterov false but this run has nesterov true");
    free(old);
    fuzz_run_free(&r);
}

/* Every field away from its default, so that a field the codecs dropped shows. */
static rc_config odd_config(void) {
    rc_config c = rc_default();
    c.train = fixture_cfg();
    c.train.loss.hinge_margin = 3.25f;
    c.train.wd = 1e-3f;
    c.train.momentum = 0.5f;
    c.train.nesterov = 1;
    c.train.step_epochs = 7;
    c.train.step_gamma = 0.5f;
    c.train.monitor = MLP_MONITOR_ACC;
    c.train.shuffle = 0;
    c.train.seed = 18446744073709551615ull;
    c.scaling.offset = 0.5f;
    c.scaling.scale = 0.25f;
    return c;
}

/* back equals c field for field: the alphas by value (back's are its own copy, read into back.alpha_buf) */
static void check_same_config(rc_config *back, const rc_config *c) {
    CHECK(back->alpha_buf != NULL && back->train.loss.focal_alpha == back->alpha_buf);
    for (int k = 0; k < 10; k++)
        CHECK(mlp_loss_focal_alpha(&back->train.loss, k) == mlp_loss_focal_alpha(&c->train.loss, k));
    rc_config same = *back;
    same.alpha_buf = c->alpha_buf;
    same.train.loss.focal_alpha = c->train.loss.focal_alpha;
    CHECK(memcmp(&same, c, sizeof *c) == 0);
    rc_free(back);
}

TEST(runcfg_every_field_round_trips) {
    const rc_config c = odd_config();
    mlp_error err;
    /* metadata: written and read back through a real file */
    st_writer w;
    st_writer_init(&w);
    rc_meta_write(&c, 10, RC_MODEL | RC_CKPT, st_meta_put, &w);
    const double f64[3] = {1.5, -2.0, 1e300};
    const float f32[2] = {0.25f, -8.0f};
    const uint64_t d3 = 3, d2[2] = {1, 2};
    st_add(&w, "f64.values", ST_F64, 1, &d3, f64);
    st_add(&w, "weights", ST_F32, 2, d2, f32);
    char path[600];
    snprintf(path, sizeof path, "%s/cfg.safetensors", check_tmpdir());
    CHECK_MSG(st_write(&w, path, "test file", &err) == MLP_OK, "%s", err.msg);
    st_writer_free(&w);
    size_t len;
    uint8_t *buf = slurp(path, &len);
    CHECK(buf && len % 8 == 0 && (st_get_u64(buf) % 8) == 0);
    st_file f;
    st_format fmt = any_format();
    CHECK_MSG(st_parse(buf, len, &fmt, &f, &err) == MLP_OK, "%s", err.msg);
    CHECK_MSG(st_check_tiling(&f, &err) == MLP_OK, "%s", err.msg);
    CHECK_INT(f.n, 2);
    if (f.n == 2) {
        CHECK(f.t[0].dtype == ST_F64 && f.t[0].elements == 3 && st_f64_at(f.t[0].data, 2) == 1e300);
        CHECK(f.t[1].rank == 2 && f.t[1].dim[1] == 2 && st_f32_at(f.t[1].data, 1) == -8.0f);
    }
    rc_config back = rc_default();
    CHECK_MSG(rc_meta_read(st_meta_lookup, &f, &back, 10, RC_MODEL | RC_CKPT, 1, &err) == MLP_OK, "%s", err.msg);
    CHECK_MSG(rc_compare(&back, &c, 10, RC_MODEL | RC_CKPT, "x", &err) == MLP_OK, "%s", err.msg);
    check_same_config(&back, &c);
    st_free(&f);
    free(buf);

    /* config.json: written, parsed, read back (input_offset and input_scale are written only) */
    sbuf j = SBUF_INIT;
    sbuf_puts(&j, "{\"x\": 0");
    rc_json_write(&j, &c, 10, RC_JSON_TRAIN | RC_JSON_SCALING);
    sbuf_puts(&j, "\n}\n");
    json_doc doc;
    CHECK_MSG(json_parse(&doc, sbuf_str(&j), j.len, NULL, &err) == MLP_OK, "%s: %s", err.msg, sbuf_str(&j));
    back = rc_default();
    back.scaling = c.scaling;
    CHECK_MSG(rc_json_read(doc.root, sbuf_str(&j), &back, 10, &err) == MLP_OK, "%s", err.msg);
    check_same_config(&back, &c);
    CHECK_CONTAINS(sbuf_str(&j), "\"seed\": 18446744073709551615");
    CHECK_CONTAINS(sbuf_str(&j), "\"input_scale\": 0.25");
    /* a value out of its range, a setting older folders lack */
    char known[64];
    CHECK(rc_json_default("dropout", known, sizeof known) && strcmp(known, "0") == 0);
    CHECK(rc_json_default("eps", known, sizeof known) && strcmp(known, "1e-08") == 0);
    CHECK(rc_json_default("lr", known, sizeof known) == NULL);
    json_free(&doc);
    sbuf_free(&j);
    const char *bad = "{\"loss\": \"hinge\", \"hinge_margin\": 5, \"focal_gamma\": 2, \"focal_alpha\": [0.1],"
                      "\"grad_reduction\": \"sum\"}";
    CHECK(json_parse(&doc, bad, strlen(bad), NULL, &err) == MLP_OK);
    back = rc_default();
    CHECK_INT(rc_json_read(doc.root, bad, &back, 1, &err), MLP_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "no \"lr\"");
    rc_free(&back);
    json_free(&doc);
}

TEST(safetensors_reader_refuses_broken_containers) {
    /* hand-built headers over an 8-byte data section */
    static const struct {
        const char *header, *phrase;
    } cases[] = {
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", NULL},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}",
         "tensors a and b overlap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", "gap in the data section: bytes 0..4"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", "has 4 bytes after the last tensor"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", "shape must hold non-negative integers"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8e0]}}", "must be [begin, end]"},
        {"{\"f64\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}", "only F64 is supported"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", "extend beyond the data section"},
        {"{\"__metadata__\":{\"k\":\"a\\u0000b\"}}", "holds a NUL character"},
        {"{\"__metadata__\":{\"k\":[]}}", "__metadata__ values must be strings"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t hl = strlen(cases[i].header), len = 8 + hl + 8;
        uint8_t *buf = calloc(len, 1);
        st_put_u64(buf, hl);
        memcpy(buf + 8, cases[i].header, hl);
        st_file f;
        st_format fmt = any_format();
        mlp_error err = {0};
        mlp_status st = st_parse(buf, len, &fmt, &f, &err);
        if (st == MLP_OK) {
            st = st_check_tiling(&f, &err);
            st_free(&f);
        }
        if (!cases[i].phrase)
            CHECK_MSG(st == MLP_OK, "case %zu: %s", i, err.msg);
        else {
            CHECK_MSG(st == MLP_ERR_FORMAT, "case %zu: status %d", i, (int)st);
            CHECK_MSG(strstr(err.msg, cases[i].phrase) != NULL, "case %zu: \"%s\" lacks \"%s\"", i, err.msg,
                      cases[i].phrase);
        }
        free(buf);
    }
}
