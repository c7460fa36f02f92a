/* test_cli_manners.c - the command line as scripts and people see it:
 *   - `--json`: stdout holds one JSON object per epoch and nothing else, and the numbers are those of
 *     metrics.csv;
 *   - not a terminal (a pipe), or NO_COLOR / TERM=dumb on a terminal: no escape code anywhere; on a
 *     terminal (through `script`, when util-linux has it): a progress bar with steps and ETA, colours;
 *   - `mlp help TOPIC`, `--version`, errors on stderr;
 *   - `mlp predict` on PNG and PGM files of several sizes, colour types and polarities gives the class
 *     that the library gives the same image from the IDX file (and exactly the same scores where the
 *     resampling is exact). */
#include "check.h"
#include "mlp.h"
#include "json.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* from test_png.c */
uint8_t *test_png_encode(int w, int h, int ctype, int depth, const uint16_t *samples, const uint8_t *plte,
                         int n_plte, const uint8_t *trns, int n_trns, int filter, int interlace, size_t *len);



static int has_program(const char *name) {
    char out[64];
    return check_sh(out, sizeof out, 1, "command -v %s >/dev/null", name) == 0;
}

#define TRAIN_SMALL "--epochs 2 --hidden 32 --act relu --loss ce --grad-reduction mean --lr 0.05"

TEST(cli_json_lines_are_json_and_match_metrics) {
    const char *data = check_mnist_dir();
    if (!data) {
        check_skip("MNIST not found");
        return;
    }
    static char out[16384];
    const char *dir = check_tmpdir();
    int st = check_sh(out, sizeof out, 0, "'%s' train --data '%s' " TRAIN_SMALL " --json --out '%s/run'", check_mlp_bin(), data,
                 dir);
    CHECK_MSG(st == 0, "train --json: exit %d", st);
    /* metrics.csv, to compare with */
    char path[600];
    snprintf(path, sizeof path, "%s/run/metrics.csv", dir);
    FILE *f = fopen(path, "r");
    char csv[3][512] = {{0}};
    for (int i = 0; f && i < 3 && fgets(csv[i], sizeof csv[i], f); i++) {
    }
    if (f) fclose(f);

    int lines = 0;
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lines++;
        json_doc doc;
        mlp_error err;
        if (json_parse(&doc, line, strlen(line), NULL, &err) != MLP_OK) {
            check_fail(__FILE__, __LINE__, "line %d is not JSON (%s): %s", lines, err.msg, line);
            continue;
        }
        CHECK(doc.root->type == JSON_OBJECT);
        int64_t epoch = 0;
        CHECK(json_int64(json_get(doc.root, "epoch"), &epoch) == 0);
        CHECK_INT(epoch, lines);
        static const char *keys[] = {"train_loss", "train_acc", "test_loss", "test_acc", "lr", "seconds"};
        double v[6] = {0};
        for (int k = 0; k < 6; k++)
            CHECK_MSG(json_double(json_get(doc.root, keys[k]), &v[k]) == 0, "line %d: no number \"%s\"", lines,
                      keys[k]);
        CHECK(v[1] > 0.5 && v[1] <= 1 && v[3] > 0.85 && v[3] <= 1);
        CHECK_NEAR(v[4], 0.05, 1e-6);
        /* the same values as metrics.csv (which prints %.9g) */
        double c[7];
        if (lines <= 2 &&
            sscanf(csv[lines], "%lf,%lf,%lf,%lf,%lf,%lf,%lf", &c[0], &c[1], &c[2], &c[3], &c[4], &c[5], &c[6]) == 7) {
            CHECK_INT((int)c[0], lines);
            for (int k = 0; k < 4; k++) CHECK_NEAR(v[k], c[k + 1], 1e-8 * (1 + fabs(c[k + 1])));
        } else {
            check_fail(__FILE__, __LINE__, "metrics.csv line %d missing", lines);
        }
        json_free(&doc);
    }
    CHECK_INT(lines, 2);
}

/* No ESC (0x1b) and no carriage return: what a log file or a pipe must see. */
static void check_plain(const char *what, const char *out) {
    CHECK_MSG(!strchr(out, '\033'), "%s: output holds an escape code: %s", what, out);
    CHECK_MSG(!strchr(out, '\r'), "%s: output holds a carriage return", what);
}

TEST(cli_no_escape_codes_in_pipes) {
    const char *data = check_mnist_dir();
    if (!data) {
        check_skip("MNIST not found");
        return;
    }
    static char out[16384];
    const char *dir = check_tmpdir();
    /* stdout and stderr both pipes: table lines, no bar, no colours (even with a colour TERM) */
    int st = check_sh(out, sizeof out, 1, "TERM=xterm-256color '%s' train --data '%s' " TRAIN_SMALL " --out '%s/a'",
                 check_mlp_bin(), data, dir);
    CHECK_INT(st, 0);
    check_plain("train", out);
    CHECK_CONTAINS(out, "test_acc");
    CHECK_CONTAINS(out, "final (epoch 2)");
    st = check_sh(out, sizeof out, 1, "'%s' train --data '%s' " TRAIN_SMALL " --quiet --out '%s/b'", check_mlp_bin(), data, dir);
    CHECK_INT(st, 0);
    check_plain("train --quiet", out);
    CHECK(!strstr(out, "test_acc")); /* no table */
    CHECK_CONTAINS(out, "final (epoch 2)");
    st = check_sh(out, sizeof out, 1, "'%s' eval '%s/a/model.safetensors' --data '%s'", check_mlp_bin(), dir, data);
    CHECK_INT(st, 0);
    check_plain("eval", out);
    /* errors: on stderr only, "mlp: error:" and exit 1 */
    st = check_sh(out, sizeof out, 0, "'%s' eval '%s/none.safetensors'", check_mlp_bin(), dir);
    CHECK_INT(st, 1);
    CHECK_MSG(out[0] == '\0', "an error printed on stdout: %s", out);
    st = check_sh(out, sizeof out, 1, "'%s' eval '%s/none.safetensors'", check_mlp_bin(), dir);
    CHECK_CONTAINS(out, "mlp: error: ");
    CHECK_CONTAINS(out, "none.safetensors");
}

TEST(cli_terminal_bar_colours_and_no_color) {
    const char *data = check_mnist_dir();
    if (!data) {
        check_skip("MNIST not found");
        return;
    }
    if (!has_program("script")) {
        check_skip("`script` (util-linux) is not installed: the terminal path is not tested");
        return;
    }
    static char out[65536];
    const char *dir = check_tmpdir();
    /* script runs the command on a pseudo-terminal: stdout and stderr are terminals */
    int st = check_sh(out, sizeof out, 1,
                 "TERM=xterm NO_COLOR= script -qec \"'%s' train --data '%s' " TRAIN_SMALL
                 " --batch 20 --out '%s/tty'\" /dev/null </dev/null",
                 check_mlp_bin(), data, dir);
    CHECK_MSG(st == 0, "script: exit %d: %.500s", st, out);
    CHECK_CONTAINS(out, "\r");               /* the bar is redrawn in place */
    CHECK_CONTAINS(out, "3000/3000");        /* steps: 60000 / 20 */
    CHECK_CONTAINS(out, "ETA ");
    CHECK_CONTAINS(out, "loss ");
    CHECK_CONTAINS(out, "\033[");            /* colours */
    CHECK_CONTAINS(out, "final (epoch 2)");
    /* NO_COLOR: the bar stays, with no escape code at all */
    st = check_sh(out, sizeof out, 1,
             "TERM=xterm NO_COLOR=1 script -qec \"'%s' train --data '%s' " TRAIN_SMALL
             " --batch 20 --out '%s/nocolor'\" /dev/null </dev/null",
             check_mlp_bin(), data, dir);
    CHECK_INT(st, 0);
    CHECK_CONTAINS(out, "ETA ");
    CHECK_MSG(!strchr(out, '\033'), "NO_COLOR output holds an escape code: %.300s", out);
    /* TERM=dumb: no colours either */
    st = check_sh(out, sizeof out, 1,
             "TERM=dumb script -qec \"'%s' train --data '%s' " TRAIN_SMALL " --out '%s/dumb'\" /dev/null </dev/null",
             check_mlp_bin(), data, dir);
    CHECK_INT(st, 0);
    CHECK(!strchr(out, '\033'));
    /* --quiet on a terminal: no bar */
    st = check_sh(out, sizeof out, 1,
             "TERM=xterm script -qec \"'%s' train --data '%s' " TRAIN_SMALL " --quiet --out '%s/quiet'\" /dev/null "
             "</dev/null",
             check_mlp_bin(), data, dir);
    CHECK_INT(st, 0);
    CHECK(!strstr(out, "ETA"));
}

TEST(cli_help_topics_and_version) {
    static char out[16384];
    static const struct {
        const char *topic, *phrase;
    } cases[] = {{"train", "--grad-reduction"}, {"predict", "--invert"},   {"eval", "confusion"},
                 {"info", "usage: mlp info"},   {"data", "Fashion-MNIST"}, {"formats", "safetensors"},
                 {"losses", "hinge"},           {"activations", "0.044715"}, {"semantics", "momentum"},
                 {"images", "BT.601"},          {"environment", "NO_COLOR"}, {"library", "pkg-config"},
                 {"python", "nn.Sequential"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int st = check_sh(out, sizeof out, 0, "'%s' help %s", check_mlp_bin(), cases[i].topic);
        CHECK_MSG(st == 0, "help %s: exit %d", cases[i].topic, st);
        CHECK_CONTAINS(out, cases[i].phrase);
        check_plain("help", out);
    }
    CHECK_INT(check_sh(out, sizeof out, 1, "'%s' help nonsense", check_mlp_bin()), 2);
    CHECK_CONTAINS(out, "unknown topic 'nonsense'");
    CHECK_CONTAINS(out, "activations");
    CHECK_INT(check_sh(out, sizeof out, 0, "'%s' --version", check_mlp_bin()), 0);
    CHECK_CONTAINS(out, "mlp " MLP_VERSION);
    CHECK_INT(check_sh(out, sizeof out, 1, "'%s' predict m.safetensors x.png --invert sometimes", check_mlp_bin()), 2);
    CHECK_CONTAINS(out, "auto, yes, no");
}

/* ------------------------------------------------------------------ predict on pictures */

static int write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

/* img [28 x 28] blown up k times by pixel replication, into dst [28k x 28k] */
static void replicate(const uint8_t *img, int k, uint8_t *dst) {
    int W = 28 * k;
    for (int y = 0; y < W; y++)
        for (int x = 0; x < W; x++) dst[y * W + x] = img[(y / k) * 28 + x / k];
}

/* bilinear, pixel centres aligned (as a photo editor would scale it), into dst [W x W] */
static void bilinear(const uint8_t *img, int W, uint8_t *dst) {
    for (int y = 0; y < W; y++)
        for (int x = 0; x < W; x++) {
            double sy = (y + 0.5) * 28.0 / W - 0.5, sx = (x + 0.5) * 28.0 / W - 0.5;
            sy = sy < 0 ? 0 : sy > 27 ? 27 : sy;
            sx = sx < 0 ? 0 : sx > 27 ? 27 : sx;
            int y0 = (int)sy, x0 = (int)sx, y1 = y0 < 27 ? y0 + 1 : 27, x1 = x0 < 27 ? x0 + 1 : 27;
            double fy = sy - y0, fx = sx - x0;
            double v = (1 - fy) * ((1 - fx) * img[y0 * 28 + x0] + fx * img[y0 * 28 + x1]) +
                       fy * ((1 - fx) * img[y1 * 28 + x0] + fx * img[y1 * 28 + x1]);
            dst[y * W + x] = (uint8_t)(v + 0.5);
        }
}

/* box-average 28x28 down to 14x14 (2x2 blocks) */
static void halve(const uint8_t *img, uint8_t *dst) {
    for (int y = 0; y < 14; y++)
        for (int x = 0; x < 14; x++) {
            int s = img[(2 * y) * 28 + 2 * x] + img[(2 * y) * 28 + 2 * x + 1] + img[(2 * y + 1) * 28 + 2 * x] +
                    img[(2 * y + 1) * 28 + 2 * x + 1];
            dst[y * 14 + x] = (uint8_t)((s + 2) / 4);
        }
}

static void save_png(const char *path, int W, int ctype, int depth, const uint16_t *smp, int interlace) {
    size_t len;
    uint8_t *png = test_png_encode(W, W, ctype, depth, smp, NULL, 0, NULL, 0, -1, interlace, &len);
    CHECK(write_file(path, png, len) == 0);
    free(png);
}

/* The first fields after "FILE: " in predict's output line for file name `name`. */
static const char *line_of(const char *out, const char *name) {
    char key[256];
    snprintf(key, sizeof key, "/%s: ", name);
    const char *p = strstr(out, key);
    return p ? p + strlen(key) : NULL;
}

TEST(cli_predict_png_and_pgm_of_any_size_match_idx) {
    const char *data = check_mnist_dir();
    if (!data) {
        check_skip("MNIST not found");
        return;
    }
    static char out[65536];
    const char *dir = check_tmpdir();
    const char *model = check_small_model();
    CHECK(model != NULL);
    mlp_net net;
    mlp_model_meta meta;
    mlp_error err;
    mlp_dataset test;
    if (!model || mlp_model_load(model, &net, 1, &meta, &err) ||
        mlp_dataset_load_dir(NULL, &test, data, mlp_scaling_default(), &err)) {
        check_fail(__FILE__, __LINE__, "setup failed: %s", err.msg);
        return;
    }
    /* six test images the model is sure about (the best logit ahead by 3): resampling that is not exact
     * may move the scores a little, never the class */
    int picked[6], n_picked = 0, label[6];
    for (int i = 0; i < test.n && n_picked < 6; i++) {
        const float *z = mlp_net_forward(&net, test.x + (size_t)i * 784, 1);
        int b = 0;
        for (int k = 1; k < 10; k++)
            if (z[k] > z[b]) b = k;
        float second = -1e30f;
        for (int k = 0; k < 10; k++)
            if (k != b && z[k] > second) second = z[k];
        if (z[b] - second > 3.0f) picked[n_picked] = i, label[n_picked++] = b;
    }
    CHECK_INT(n_picked, 6);
    char files[16384];
    size_t used = 0;
    static const char *kinds[] = {"p28.pgm",     "g28.png",      "rgb56.png",   "inv84.png",  "rgba112.png",
                                  "p16_42.pgm",  "bil100.png",   "half14.pgm",  "inv_bil60.png"};
    enum { N_KINDS = sizeof kinds / sizeof *kinds };
    uint8_t *big = malloc(112 * 112);
    uint16_t *smp = malloc(sizeof(uint16_t) * 112 * 112 * 4);
    for (int n = 0; n < n_picked; n++) {
        uint8_t img[784];
        for (int k = 0; k < 784; k++) img[k] = (uint8_t)lroundf(test.x[(size_t)picked[n] * 784 + k] * 255.0f + 128.0f);
        char p[700];
#define PATH_OF(kind) (snprintf(p, sizeof p, "%s/%d_%s", dir, n, kind), used += (size_t)snprintf(files + used, sizeof files - used, " '%s'", p), p)
        /* 28x28 binary PGM: the identity */
        char hdr[32];
        int hl = snprintf(hdr, sizeof hdr, "P5\n28 28\n255\n");
        FILE *f = fopen(PATH_OF(kinds[0]), "wb");
        fwrite(hdr, 1, (size_t)hl, f);
        fwrite(img, 1, 784, f);
        fclose(f);
        /* 28x28 8-bit gray PNG */
        for (int k = 0; k < 784; k++) smp[k] = img[k];
        save_png(PATH_OF(kinds[1]), 28, 0, 8, smp, 0);
        /* 56x56 RGB, pixel-replicated (area averaging restores the original exactly) */
        replicate(img, 2, big);
        for (int k = 0; k < 56 * 56; k++) smp[3 * k] = smp[3 * k + 1] = smp[3 * k + 2] = big[k];
        save_png(PATH_OF(kinds[2]), 56, 2, 8, smp, 1);
        /* 84x84 black on white, 16-bit gray + opaque alpha: --invert auto turns it back */
        replicate(img, 3, big);
        for (int k = 0; k < 84 * 84; k++) smp[2 * k] = (uint16_t)((255 - big[k]) * 257), smp[2 * k + 1] = 65535;
        save_png(PATH_OF(kinds[3]), 84, 4, 16, smp, 0);
        /* 112x112 RGBA: black ink whose alpha is the stroke, on a transparent canvas (composited on white,
         * then inverted by auto: the original again) */
        replicate(img, 4, big);
        for (int k = 0; k < 112 * 112; k++) smp[4 * k] = smp[4 * k + 1] = smp[4 * k + 2] = 0, smp[4 * k + 3] = big[k];
        save_png(PATH_OF(kinds[4]), 112, 6, 8, smp, 1);
        /* 42x42 16-bit plain PGM (1.5x, replicated by nearest neighbour: inexact) */
        f = fopen(PATH_OF(kinds[5]), "w");
        fprintf(f, "P2\n42 42\n65535\n");
        for (int y = 0; y < 42; y++)
            for (int x = 0; x < 42; x++) fprintf(f, "%d%c", img[(y * 2 / 3) * 28 + x * 2 / 3] * 257, x == 41 ? '\n' : ' ');
        fclose(f);
        /* 100x100 smooth enlargement; 14x14 reduction (upsampled again by predict) */
        bilinear(img, 100, big);
        for (int k = 0; k < 100 * 100; k++) smp[k] = big[k];
        save_png(PATH_OF(kinds[6]), 100, 0, 8, smp, 0);
        uint8_t small[196];
        halve(img, small);
        hl = snprintf(hdr, sizeof hdr, "P5\n14 14\n255\n");
        f = fopen(PATH_OF(kinds[7]), "wb");
        fwrite(hdr, 1, (size_t)hl, f);
        fwrite(small, 1, 196, f);
        fclose(f);
        /* 60x60 enlargement, black on white, 4-bit gray */
        bilinear(img, 60, big);
        for (int k = 0; k < 60 * 60; k++) smp[k] = (uint16_t)((255 - big[k]) / 17);
        save_png(PATH_OF(kinds[8]), 60, 0, 4, smp, 1);
#undef PATH_OF
    }
    free(big);
    free(smp);
    /* the whole-picture preparation and the raw scores: this test is about decoding and resampling */
    int st = check_sh(out, sizeof out, 1, "'%s' predict '%s' --prepare whole --scores%s", check_mlp_bin(), model, files);
    CHECK_MSG(st == 0, "predict: exit %d: %.2000s", st, out);
    check_plain("predict", out);
    int agree = 0;
    for (int n = 0; n < n_picked; n++) {
        char name[64];
        snprintf(name, sizeof name, "%d_%s", n, kinds[0]);
        const char *ref = line_of(out, name);
        CHECK_MSG(ref != NULL, "no line for %s", name);
        if (!ref) continue;
        for (int k = 0; k < N_KINDS; k++) {
            snprintf(name, sizeof name, "%d_%s", n, kinds[k]);
            const char *l = line_of(out, name);
            CHECK_MSG(l != NULL, "no line for %s", name);
            if (!l) continue;
            int cls = atoi(l);
            CHECK_MSG(cls == label[n], "%s: class %d, the IDX image (test #%d) gets %d", name, cls, picked[n],
                      label[n]);
            agree += cls == label[n];
            /* exact resampling (identity, whole-block averages, exact polarity): the very same scores */
            if (k <= 4) {
                size_t len = strcspn(ref, "\n");
                CHECK_MSG(strncmp(l, ref, len) == 0, "%s: scores differ from the 28x28 PGM:\n  %.*s\n  %.*s", name,
                          (int)len, ref, (int)strcspn(l, "\n"), l);
            }
        }
    }
    printf("    %d pictures (%d images x %d sizes/formats) classified as their IDX images\n", agree, n_picked, N_KINDS);
    mlp_net_free(&net);
    mlp_dataset_free(&test);
}
