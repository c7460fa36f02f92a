/* test_model_io.c - safetensors model files: bitwise save/load round trips, a third-party layout built
 * by hand, and a table of broken files derived from a good one, each rejected with a clear message. */
#include "check.h"
#include "net_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ helpers */

/* Deterministic, independent of the library's generator: xorshift64*. */
static uint64_t test_rand(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

/* Random parameters, plus a few awkward bit patterns (negative zero, subnormal, huge) that must survive. */
static void fill_params(mlp_net *net, uint64_t seed) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < net->n_params; i++)
        net->params[i] = (float)((double)(test_rand(&s) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    net->params[0] = -0.0f;
    net->params[1] = 1e-40f;
    net->params[net->n_params - 1] = 3.0e38f;
}

static mlp_status make_net(mlp_net *net, const char *hidden, int inputs, int classes, mlp_act act, uint64_t seed) {
    mlp_arch arch;
    mlp_error err;
    mlp_status st = mlp_arch_parse(&arch, hidden, inputs, classes, act, &err);
    if (st == MLP_OK) st = mlp_net_create(net, &arch, 4, &err);
    if (st == MLP_OK) fill_params(net, seed);
    return st;
}

static uint8_t *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    *len = 0;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        rewind(f);
        buf = malloc(n > 0 ? (size_t)n : 1);
        if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) *len = (size_t)n;
    }
    fclose(f);
    return buf;
}

static void write_all(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(data, 1, len, f) == len);
    fclose(f);
}

static uint64_t get_u64_le(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* A safetensors file from a header text (padded with spaces to a multiple of 8) and a data section.
 * header_len_override != 0 replaces the recorded length. */
static uint8_t *build_file(const char *header, const uint8_t *data, size_t data_len, uint64_t header_len_override,
                           size_t *out_len) {
    size_t hlen = strlen(header), padded = (hlen + 7) / 8 * 8;
    uint8_t *buf = malloc(8 + padded + data_len + 1);
    uint64_t recorded = header_len_override ? header_len_override : padded;
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(recorded >> (8 * i));
    memcpy(buf + 8, header, hlen);
    memset(buf + 8 + hlen, ' ', padded - hlen);
    if (data_len) memcpy(buf + 8 + padded, data, data_len);
    *out_len = 8 + padded + data_len;
    return buf;
}

static int net_is_zeroed(const mlp_net *net) {
    return net->params == NULL && net->grads == NULL && net->ws == NULL && net->n_params == 0 &&
           net->arch.n_layers == 0;
}

static void check_meta_equal(const mlp_model_meta *a, const mlp_model_meta *b) {
    CHECK_INT(a->arch.n_layers, b->arch.n_layers);
    for (int l = 0; l <= a->arch.n_layers; l++) CHECK_INT(a->arch.width[l], b->arch.width[l]);
    CHECK_INT(a->arch.act, b->arch.act);
    CHECK_INT(a->loss.kind, b->loss.kind);
    /* floats are compared bitwise: %.9g must round-trip exactly */
    CHECK(memcmp(&a->loss.hinge_margin, &b->loss.hinge_margin, sizeof(float)) == 0);
    CHECK(memcmp(&a->loss.focal_gamma, &b->loss.focal_gamma, sizeof(float)) == 0);
    int K = a->arch.width[a->arch.n_layers];
    for (int k = 0; k < K; k++) {
        const float x = mlp_loss_focal_alpha(&a->loss, k), y = mlp_loss_focal_alpha(&b->loss, k);
        CHECK(memcmp(&x, &y, sizeof x) == 0);
    }
    CHECK(memcmp(&a->scaling, &b->scaling, sizeof a->scaling) == 0);
    CHECK(strcmp(a->dataset, b->dataset) == 0);
}

/* ------------------------------------------------------------------ round trips */

static void roundtrip(const char *hidden, int inputs, int classes, mlp_act act, const mlp_model_meta *meta_in,
                      uint64_t seed) {
    mlp_net net, back;
    mlp_error err = {0};
    mlp_model_meta meta = *meta_in, got;
    char path[700];
    CHECK_INT(make_net(&net, hidden, inputs, classes, act, seed), MLP_OK);
    if (!net.params) return;
    meta.arch = net.arch;
    snprintf(path, sizeof path, "%s/model.safetensors", check_tmpdir());
    CHECK_MSG(mlp_model_save(path, &net, &meta, &err) == MLP_OK, "save: %s", err.msg);

    /* the file itself: 8-byte length, '{' ... padded to 8, then exactly the parameters in order */
    size_t len;
    uint8_t *file = read_all(path, &len);
    CHECK(file != NULL && len > 8);
    if (file) {
        uint64_t n = get_u64_le(file);
        CHECK_INT(n % 8, 0);
        CHECK_INT(len, 8 + n + 4 * net.n_params);
        CHECK(file[8] == '{');
        CHECK(memcmp(file + 8 + n, net.params, 4 * net.n_params) == 0); /* little-endian host */
        free(file);
    }

    memset(&got, 0xAB, sizeof got);
    CHECK_MSG(mlp_model_load(path, &back, 7, &got, &err) == MLP_OK, "load: %s", err.msg);
    if (!back.params) {
        mlp_net_free(&net);
        return;
    }
    CHECK_INT(back.n_params, net.n_params);
    CHECK_INT(back.max_batch, 7);
    CHECK(memcmp(back.params, net.params, sizeof(float) * net.n_params) == 0);
    for (int l = 0; l < net.arch.n_layers; l++) {
        CHECK_INT(back.w_off[l], net.w_off[l]);
        CHECK_INT(back.b_off[l], net.b_off[l]);
    }
    check_meta_equal(&got, &meta);
    CHECK(strcmp(got.version, meta.version[0] ? meta.version : MLP_VERSION) == 0);
    /* derived state was refreshed: the transposed first-layer weights match */
    int in = net.arch.width[0], out = net.arch.width[1];
    CHECK(memcmp(&back.ws->wt[0][(size_t)(in - 1) * out + 2], &net.params[net.w_off[0] + (size_t)2 * in + in - 1],
                 sizeof(float)) == 0);
    mlp_net_free(&back);
    mlp_model_meta_free(&got); /* its focal alphas, when not the default */
    mlp_net_free(&net);
}

TEST(model_roundtrip_one_hidden) {
    mlp_model_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.loss = mlp_loss_default(MLP_LOSS_HINGE);
    meta.scaling.offset = 128.0f;
    meta.scaling.scale = 1.0f / 255.0f;
    strcpy(meta.dataset, "mnist");
    roundtrip("128", 784, 10, MLP_ACT_GELU, &meta, 1);
}

TEST(model_roundtrip_two_hidden) {
    mlp_model_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.loss = mlp_loss_default(MLP_LOSS_FOCAL);
    meta.loss.hinge_margin = 0.7f;
    meta.loss.focal_gamma = 1.0f / 3.0f;
    static float alpha[5];
    for (int k = 0; k < 5; k++) alpha[k] = 0.1f * (float)(k + 1) + 1e-7f;
    meta.loss.focal_alpha = alpha;
    meta.loss.n_focal_alpha = 5;
    meta.scaling.offset = 0.5f;
    meta.scaling.scale = 1.0f / 3.0f;
    strcpy(meta.dataset, "fashion-mnist");
    strcpy(meta.version, "9.9.9-test");
    roundtrip("16,8", 20, 5, MLP_ACT_SWISH, &meta, 2);
}

TEST(model_save_errors) {
    mlp_net net;
    mlp_error err = {0};
    mlp_model_meta meta;
    memset(&meta, 0, sizeof meta);
    CHECK_INT(make_net(&net, "3", 4, 2, MLP_ACT_TANH, 3), MLP_OK);
    char path[700];
    snprintf(path, sizeof path, "%s/no/such/dir/m.safetensors", check_tmpdir());
    CHECK_INT(mlp_model_save(path, &net, &meta, &err), MLP_ERR_IO);
    /* meta describing another network */
    snprintf(path, sizeof path, "%s/m.safetensors", check_tmpdir());
    meta.arch = net.arch;
    meta.arch.width[1] = 5;
    CHECK_INT(mlp_model_save(path, &net, &meta, &err), MLP_ERR_ARG);
    CHECK_CONTAINS(err.msg, "does not match the network");
    /* without meta: the reference's defaults are recorded */
    mlp_net back;
    mlp_model_meta got;
    CHECK_INT(mlp_model_save(path, &net, NULL, &err), MLP_OK);
    CHECK_MSG(mlp_model_load(path, &back, 1, &got, &err) == MLP_OK, "%s", err.msg);
    CHECK_INT(got.loss.kind, MLP_LOSS_HINGE);
    CHECK(got.loss.hinge_margin == 5.0f && got.scaling.offset == 128.0f && got.scaling.scale == 1.0f / 255.0f);
    CHECK_INT(got.arch.act, MLP_ACT_TANH);
    CHECK(strcmp(got.version, MLP_VERSION) == 0);
    mlp_net_free(&back);
    mlp_net_free(&net);
}

/* ------------------------------------------------------------------ a file written by someone else */

/* A 3-4-2 network with activation tanh, written the way another tool might: tensors listed in reverse
 * order, data in yet another order, __metadata__ last with foreign keys, no widths/loss/scaling. */
TEST(model_third_party_layout) {
    /* values: fc1.weight [4x3] = 1..12, fc1.bias [4] = -1..-4, fc2.weight [2x4] = 0.5..4, fc2.bias = 100, 200 */
    float w1[12], b1[4], w2[8], b2[2] = {100, 200};
    for (int i = 0; i < 12; i++) w1[i] = (float)(i + 1);
    for (int i = 0; i < 4; i++) b1[i] = (float)-(i + 1);
    for (int i = 0; i < 8; i++) w2[i] = 0.5f * (float)(i + 1);
    /* data order: fc2.bias [0,8), fc1.weight [8,56), fc2.weight [56,88), fc1.bias [88,104) */
    uint8_t data[104];
    memcpy(data, b2, 8);
    memcpy(data + 8, w1, 48);
    memcpy(data + 56, w2, 32);
    memcpy(data + 88, b1, 16);
    const char *header =
        "{\n  \"fc2.bias\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},\n"
        "  \"fc2.weight\": {\"data_offsets\": [56, 88], \"shape\": [2, 4], \"dtype\": \"F32\"},\n"
        "  \"fc1.bias\": {\"shape\": [4], \"dtype\": \"F32\", \"data_offsets\": [88, 104]},\n"
        "  \"fc1.weight\": {\"dtype\": \"F32\", \"shape\": [4, 3], \"data_offsets\": [8, 56]},\n"
        "  \"__metadata__\": {\"author\": \"someone\", \"format\": \"pt\", \"activation\": \"tanh\",\n"
        "                   \"note\": \"caf\\u00e9\"}\n"
        "}        ";
    size_t len;
    uint8_t *file = build_file(header, data, sizeof data, 0, &len);
    mlp_net net;
    mlp_model_meta meta;
    mlp_error err = {0};
    CHECK_MSG(mlp_model_parse(file, len, &net, 2, &meta, &err) == MLP_OK, "%s", err.msg);
    if (net.params) {
        CHECK_INT(net.arch.n_layers, 2);
        CHECK(net.arch.width[0] == 3 && net.arch.width[1] == 4 && net.arch.width[2] == 2);
        CHECK_INT(net.arch.act, MLP_ACT_TANH);
        CHECK(memcmp(net.params + net.w_off[0], w1, sizeof w1) == 0);
        CHECK(memcmp(net.params + net.b_off[0], b1, sizeof b1) == 0);
        CHECK(memcmp(net.params + net.w_off[1], w2, sizeof w2) == 0);
        CHECK(memcmp(net.params + net.b_off[1], b2, sizeof b2) == 0);
        /* the network computes with them: x = (1, 0, 0) gives u1 = W1[:,0] + b1 = (0, 2, 4, 6) */
        float x[3] = {1, 0, 0};
        const float *logits = mlp_net_forward(&net, x, 1);
        CHECK_NEAR(net.ws->u[0][0], 0.0, 1e-6);
        CHECK_NEAR(net.ws->u[0][3], 6.0, 1e-6);
        double expect = 100 + 0.5 * tanh(0) + 1.0 * tanh(2) + 1.5 * tanh(4) + 2.0 * tanh(6);
        CHECK_NEAR(logits[0], expect, 1e-4);
        /* missing entries take the reference's defaults */
        CHECK_INT(meta.loss.kind, MLP_LOSS_HINGE);
        CHECK(meta.loss.hinge_margin == 5.0f && meta.loss.focal_gamma == 2.0f && mlp_loss_focal_alpha(&meta.loss, 1) == 0.1f);
        CHECK(meta.scaling.offset == 128.0f && meta.scaling.scale == 1.0f / 255.0f);
        CHECK(meta.dataset[0] == '\0' && meta.version[0] == '\0');
        mlp_net_free(&net);
    }
    free(file);

    /* a bare file (no metadata at all) with no hidden layer loads: there is no activation to know */
    const char *bare = "{\"fc1.weight\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,32]},"
                       "\"fc1.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[32,40]}}";
    file = build_file(bare, data, 40, 0, &len);
    CHECK_MSG(mlp_model_parse(file, len, &net, 1, NULL, &err) == MLP_OK, "%s", err.msg);
    CHECK(net.params && net.arch.n_layers == 1 && net.arch.width[0] == 4 && net.arch.width[1] == 2);
    if (net.params) CHECK(memcmp(net.params, data, 40) == 0);
    mlp_net_free(&net);
    free(file);
}

/* ------------------------------------------------------------------ broken files */

/* header with the first occurrence of `from` replaced by `to` (NULL if `from` is absent) */
static char *replace_once(const char *text, const char *from, const char *to) {
    const char *at = strstr(text, from);
    if (!at) return NULL;
    size_t head = (size_t)(at - text), n = strlen(text) - strlen(from) + strlen(to);
    char *out = malloc(n + 1);
    memcpy(out, text, head);
    strcpy(out + head, to);
    strcat(out, at + strlen(from));
    return out;
}

/* The header text of a saved file, without padding. */
static char *header_text(const uint8_t *file, size_t len) {
    uint64_t n = get_u64_le(file);
    if (n > len - 8) return NULL;
    char *text = malloc((size_t)n + 1);
    memcpy(text, file + 8, (size_t)n);
    text[n] = '\0';
    for (size_t i = (size_t)n; i > 0 && text[i - 1] == ' '; i--) text[i - 1] = '\0';
    return text;
}

TEST(model_broken_files) {
    /* The good file: 6-5-4-3, gelu. Byte offsets: fc1.weight [0,120) fc1.bias [120,140)
     * fc2.weight [140,220) fc2.bias [220,236) fc3.weight [236,284) fc3.bias [284,296). */
    mlp_net net;
    mlp_error err = {0};
    mlp_model_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.loss = mlp_loss_default(MLP_LOSS_CE);
    meta.scaling.offset = 128.0f;
    meta.scaling.scale = 1.0f / 255.0f;
    CHECK_INT(make_net(&net, "5,4", 6, 3, MLP_ACT_GELU, 4), MLP_OK);
    if (!net.params) return;
    char path[700];
    snprintf(path, sizeof path, "%s/good.safetensors", check_tmpdir());
    CHECK_INT(mlp_model_save(path, &net, &meta, &err), MLP_OK);
    size_t good_len;
    uint8_t *good = read_all(path, &good_len);
    CHECK(good != NULL);
    if (!good) {
        mlp_net_free(&net);
        return;
    }
    char *hdr = header_text(good, good_len);
    const uint8_t *data = good + 8 + get_u64_le(good);
    const size_t data_len = good_len - 8 - (size_t)get_u64_le(good);
    CHECK_INT(data_len, 296);
    CHECK(strstr(hdr, "\"widths\":\"6,5,4,3\"") != NULL);
    CHECK(strstr(hdr, "\"input_scale\":\"0.00392156886\"") != NULL);

    /* rebuilding the unmodified header gives a file that loads */
    size_t len;
    uint8_t *file = build_file(hdr, data, data_len, 0, &len);
    mlp_net back;
    CHECK_MSG(mlp_model_parse(file, len, &back, 1, NULL, &err) == MLP_OK, "%s", err.msg);
    if (back.params) CHECK(memcmp(back.params, net.params, 4 * net.n_params) == 0);
    mlp_net_free(&back);
    free(file);

    static const struct {
        const char *what, *from, *to; /* header edit (from == NULL: none) */
        int data_delta;               /* bytes removed (<0) or zero bytes added (>0) at the data's end */
        const char *phrase;
    } cases[] = {
        {"bad JSON", "\"dtype\":", "\"dtype\" ", 0, "JSON: expected ':' after key at offset"},
        {"bad JSON: trailing comma", "}}", "},}", 0, "trailing comma before '}'"},
        {"dtype F16", "\"F32\"", "\"F16\"", 0, "tensor fc1.weight has dtype F16; only F32 is supported"},
        {"dtype as number", "\"dtype\":\"F32\"", "\"dtype\":32", 0, "\"dtype\" must be a string"},
        {"shape mismatch, same size", "\"shape\":[4,5]", "\"shape\":[5,4]", 0,
         "tensor fc2.weight has shape [5, 4], expected [5, 5]"},
        {"shape mismatch, other size", "\"shape\":[4,5]", "\"shape\":[4,6]", 0,
         "tensor fc2.weight: shape [4, 6] needs 96 bytes of F32 but data_offsets [140, 220] span 80"},
        {"bias shape", "\"shape\":[4]", "\"shape\":[2,2]", 0, "tensor fc2.bias has shape [2, 2], expected [4]"},
        {"negative dimension", "\"shape\":[4,5]", "\"shape\":[-4,5]", 0, "shape must hold non-negative integers"},
        {"huge dimensions", "\"shape\":[4,5]", "\"shape\":[4611686018427387904,4,2]", 0, "too many elements"},
        {"offsets out of range", "[284,296]", "[284,300]", 0,
         "fc3.bias: data_offsets [284, 300] extend beyond the data section"},
        {"offsets reversed", "[284,296]", "[296,284]", 0, "have begin > end"},
        {"offsets not a pair", "[284,296]", "[284]", 0, "\"data_offsets\" must be [begin, end]"},
        {"overlapping offsets", "[120,140]", "[100,120]", 0, "tensors fc1.weight and fc1.bias overlap"},
        {"gap", "[284,296]", "[288,300]", 4, "gap in the data section: bytes 284..288"},
        {"missing fc2.bias", ",\"fc2.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[220,236]}", "", 0,
         "missing tensor fc2.bias"},
        {"missing last layer's weight",
         ",\"fc3.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[236,284]}", "", 0,
         "missing tensor fc3.weight"},
        {"duplicate tensor", "\"fc2.bias\"", "\"fc1.bias\"", 0, "duplicate key \"fc1.bias\""},
        {"unexpected tensor", "\"fc3.bias\"", "\"head.bias\"", 0, "unexpected tensor \"head.bias\""},
        {"leading zero in name", "\"fc3.bias\"", "\"fc03.bias\"", 0, "unexpected tensor \"fc03.bias\""},
        {"too many layers", "\"fc3.bias\"", "\"fc17.bias\"", 0, "tensor fc17.bias: at most 16 layers"},
        {"widths disagree", "\"widths\":\"6,5,4,3\"", "\"widths\":\"6,5,3\"", 0,
         "metadata widths \"6,5,3\" disagree with the tensor shapes (6,5,4,3)"},
        {"widths garbage", "\"widths\":\"6,5,4,3\"", "\"widths\":\"6;5\"", 0, "not a comma-separated list"},
        {"layers disagree", "\"layers\":\"3\"", "\"layers\":\"2\"", 0, "metadata layers \"2\" disagrees"},
        {"metadata not a string", "\"layers\":\"3\"", "\"layers\":3", 0, "__metadata__ values must be strings"},
        {"unknown activation", "\"activation\":\"gelu\"", "\"activation\":\"gelu2\"", 0,
         "metadata activation \"gelu2\" is not a known activation"},
        {"missing activation", "\"activation\":\"gelu\",", "", 0, "metadata has no \"activation\""},
        {"unknown loss", "\"loss\":\"ce\"", "\"loss\":\"cross\"", 0, "metadata loss \"cross\" is not a known loss"},
        {"bad float", "\"input_scale\":\"0.00392156886\"", "\"input_scale\":\"0.0039x\"", 0,
         "metadata input_scale \"0.0039x\" is not a finite number"},
        {"focal_alpha count", "\"focal_alpha\":\"0.100000001,0.100000001,0.100000001\"",
         "\"focal_alpha\":\"0.1,0.1\"", 0, "focal_alpha \"0.1,0.1\" must be 3 comma-separated numbers"},
        {"dataset too long", "\"dataset\":\"\"", "\"dataset\":\"a-name-that-is-longer-than-31-bytes\"", 0,
         "metadata dataset \"a-name-that-is-longer-than-31-bytes\" is 35 bytes, longer than the 31 allowed"},
        {"truncated data", NULL, NULL, -4, "extend beyond the data section (292 bytes; file truncated?)"},
        {"extra data", NULL, NULL, 8, "the data section has 8 bytes after the last tensor"},
        {"header not an object", NULL, "[1,2]", 0, "safetensors header must be a JSON object, got array"},
        {"no tensors", NULL, "{\"__metadata__\":{}}", 0, "holds no fc tensors"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *h = cases[i].from ? replace_once(hdr, cases[i].from, cases[i].to) : NULL;
        if (cases[i].from && !h) {
            check_fail(__FILE__, __LINE__, "case '%s': \"%s\" not in the header %s", cases[i].what, cases[i].from, hdr);
            continue;
        }
        const char *use = h ? h : cases[i].to ? cases[i].to : hdr;
        size_t dl = (size_t)((long)data_len + cases[i].data_delta);
        uint8_t *padded_data = calloc(dl + 1, 1);
        memcpy(padded_data, data, dl < data_len ? dl : data_len);
        file = build_file(use, padded_data, dl, 0, &len);
        memset(&back, 0x5A, sizeof back);
        memset(&err, 0, sizeof err);
        mlp_status st = mlp_model_parse(file, len, &back, 1, NULL, &err);
        CHECK_MSG(st == MLP_ERR_FORMAT, "case '%s': status %d (%s)", cases[i].what, (int)st, err.msg);
        CHECK_MSG(strstr(err.msg, cases[i].phrase) != NULL, "case '%s': \"%s\" lacks \"%s\"", cases[i].what, err.msg,
                  cases[i].phrase);
        CHECK_MSG(net_is_zeroed(&back), "case '%s': net not zeroed", cases[i].what);
        if (st == MLP_OK) mlp_net_free(&back);
        free(file);
        free(padded_data);
        free(h);
    }

    /* byte-level damage */
    {
        /* header length one past the end of the file */
        file = build_file(hdr, data, data_len, 0, &len);
        uint64_t too_big = (uint64_t)(len - 8 + 1);
        for (int b = 0; b < 8; b++) file[b] = (uint8_t)(too_big >> (8 * b));
        CHECK_INT(mlp_model_parse(file, len, &back, 1, NULL, &err), MLP_ERR_FORMAT);
        CHECK_CONTAINS(err.msg, "safetensors header length");
        CHECK_CONTAINS(err.msg, "exceeds the");
        CHECK(net_is_zeroed(&back));
        /* a header length over the 100 MB limit */
        file[7] = 0x40;
        CHECK_INT(mlp_model_parse(file, len, &back, 1, NULL, &err), MLP_ERR_FORMAT);
        CHECK_CONTAINS(err.msg, "exceeds the limit of 104857600 bytes");
        /* header cut short: the JSON ends early */
        uint64_t short_len = 32;
        for (int b = 0; b < 8; b++) file[b] = (uint8_t)(short_len >> (8 * b));
        CHECK_INT(mlp_model_parse(file, len, &back, 1, NULL, &err), MLP_ERR_FORMAT);
        CHECK_CONTAINS(err.msg, "safetensors header (file offset 8): JSON: unexpected end of input");
        /* shorter than 8 bytes */
        CHECK_INT(mlp_model_parse(file, 5, &back, 1, NULL, &err), MLP_ERR_FORMAT);
        CHECK_CONTAINS(err.msg, "model file is 5 bytes, shorter than the 8-byte safetensors header length");
        CHECK_INT(mlp_model_parse(file, 0, &back, 1, NULL, &err), MLP_ERR_FORMAT);
        CHECK(net_is_zeroed(&back));
        free(file);
    }

    /* through the file API: the message names the file; a missing file is an I/O error */
    {
        char *h = replace_once(hdr, "\"F32\"", "\"BF16\"");
        char bad_path[700];
        snprintf(bad_path, sizeof bad_path, "%s/bad.safetensors", check_tmpdir());
        file = build_file(h, data, data_len, 0, &len);
        write_all(bad_path, file, len);
        CHECK_INT(mlp_model_load(bad_path, &back, 1, NULL, &err), MLP_ERR_FORMAT);
        CHECK_CONTAINS(err.msg, bad_path);
        CHECK_CONTAINS(err.msg, "has dtype BF16");
        CHECK(net_is_zeroed(&back));
        free(file);
        free(h);
        snprintf(bad_path, sizeof bad_path, "%s/does-not-exist.safetensors", check_tmpdir());
        memset(&back, 0x5A, sizeof back);
        CHECK_INT(mlp_model_load(bad_path, &back, 1, NULL, &err), MLP_ERR_IO);
        CHECK_CONTAINS(err.msg, "does-not-exist.safetensors");
        CHECK(net_is_zeroed(&back));
        /* a bad max_batch is the caller's error */
        CHECK_INT(mlp_model_load(path, &back, 0, NULL, &err), MLP_ERR_ARG);
    }
    free(hdr);
    free(good);
    mlp_net_free(&net);
}
