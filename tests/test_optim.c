/* test_optim.c - the optimizers (Adam, AdamW, Nesterov SGD) and the learning-rate schedules:
 * steps computed by hand, every kernel path bitwise equal to the portable rule, and a cross-check of a tiny
 * network's training against torch.optim when Debian's python3-torch is installed. */
#include "check.h"
#include "net_internal.h"
#include "optim.h"
#include "step.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A 1-layer net 1 -> 2: W = [w0, w1] (2x1), b = [b0, b1]: 4 parameters p, set to p0 with gradients g. */
static const float p0[4] = {1.0f, -2.0f, 0.5f, 0.0f};
static const float g0[4] = {0.5f, 0.25f, -1.0f, 2.0f};

static void tiny_net(mlp_net *net) {
    mlp_arch arch = {1, {1, 2}, MLP_ACT_RELU};
    mlp_error err;
    CHECK(mlp_net_create(net, &arch, 1, &err) == MLP_OK);
    memcpy(net->params, p0, sizeof p0);
    memcpy(net->grads, g0, sizeof g0);
    mlp_net_params_changed(net);
}

static void check4(const float *got, const double *want, double tol, const char *what, int step) {
    for (int i = 0; i < 4; i++)
        CHECK_MSG(fabs(got[i] - want[i]) <= tol * (1 + fabs(want[i])), "%s after step %d, [%d]: %.9g, expected %.9g",
                  what, step, i, (double)got[i], want[i]);
}

TEST(optim_adam_step_by_hand) {
    mlp_net net;
    tiny_net(&net);
    mlp_train_cfg cfg = mlp_train_cfg_default();
    cfg.optim = MLP_OPTIM_ADAM;
    cfg.wd = 0.01f; /* coupled L2: d = g + wd p */
    /* step 1 (t = 1), lr 0.1: d = g + 0.01 p = (0.51, 0.23, -0.995, 2); m = 0.1 d; s = 0.001 d^2;
     *   m_hat = m / (1 - 0.9) = d, s_hat = s / (1 - 0.999) = d^2, so p <- p - 0.1 d / (|d| + 1e-8): every
     *   parameter moves by 0.1 against the sign of d (minus ~2e-9 for eps). */
    mlp_optim_step(&net, &cfg, 0.1f, 1);
    const double m1[4] = {0.051, 0.023, -0.0995, 0.2}, s1[4] = {0.0002601, 5.29e-05, 0.000990025, 0.004};
    const double q1[4] = {0.900000002, -2.099999996, 0.599999999, -0.0999999995};
    check4(net.momentum, m1, 1e-6, "adam m", 1);
    check4(net.moment2, s1, 1e-6, "adam s", 1);
    check4(net.params, q1, 1e-6, "adam p", 1);
    /* step 2, the same g: d = g + 0.01 p1 = (0.509, 0.229, -0.994, 1.999); m = 0.9 m1 + 0.1 d =
     *   (0.0968, 0.0436, -0.18895, 0.3799); s = 0.999 s1 + 0.001 d^2 = (0.0005189209, 0.0001052881,
     *   0.001977070975, 0.007992001); p <- p1 - 0.1 (m / 0.19) / (sqrt(s / 0.001999) + 1e-8) */
    mlp_optim_step(&net, &cfg, 0.1f, 2);
    const double m2[4] = {0.0968, 0.0436, -0.18895, 0.3799};
    const double s2[4] = {0.0005189209, 0.0001052881, 0.001977070975, 0.007992001};
    const double q2[4] = {0.800005168, -2.199988396, 0.6999973644, -0.1999986923};
    check4(net.momentum, m2, 1e-6, "adam m", 2);
    check4(net.moment2, s2, 1e-6, "adam s", 2);
    check4(net.params, q2, 1e-6, "adam p", 2);
    CHECK(net.ws->wt[0][0] == net.params[0] && net.ws->wt[0][1] == net.params[1]); /* the forward copy follows */
    mlp_net_free(&net);
}

TEST(optim_adamw_step_by_hand) {
    mlp_net net;
    tiny_net(&net);
    mlp_train_cfg cfg = mlp_train_cfg_default();
    cfg.optim = MLP_OPTIM_ADAMW;
    cfg.wd = 0.1f; /* decoupled: p <- p (1 - lr wd) = 0.99 p, the gradient untouched */
    /* step 1: p' = (0.99, -1.98, 0.495, 0); m = 0.1 g, s = 0.001 g^2, m_hat / sqrt(s_hat) = sign(g):
     *   p = p' - 0.1 sign(g) = (0.89, -2.08, 0.595, -0.1) */
    mlp_optim_step(&net, &cfg, 0.1f, 1);
    const double q1[4] = {0.890000002, -2.079999996, 0.594999999, -0.0999999995};
    const double m1[4] = {0.05, 0.025, -0.1, 0.2}, s1[4] = {0.00025, 6.25e-05, 0.001, 0.004};
    check4(net.params, q1, 1e-6, "adamw p", 1);
    check4(net.momentum, m1, 1e-6, "adamw m", 1);
    check4(net.moment2, s1, 1e-6, "adamw s", 1);
    /* step 2: p' = 0.99 p1; m = 0.9 m1 + 0.1 g = 1.9 m1; s = 0.999 s1 + 0.001 g^2 = 1.999 s1;
     *   p = p' - 0.1 (m / 0.19) / (sqrt(s / 0.001999) + 1e-8) = p' - 0.1 sign(g) */
    mlp_optim_step(&net, &cfg, 0.1f, 2);
    const double q2[4] = {0.781100004, -2.159199992, 0.689049998, -0.198999999};
    const double m2[4] = {0.095, 0.0475, -0.19, 0.38}, s2[4] = {0.00049975, 0.0001249375, 0.001999, 0.007996};
    check4(net.params, q2, 1e-6, "adamw p", 2);
    check4(net.momentum, m2, 1e-6, "adamw m", 2);
    check4(net.moment2, s2, 1e-6, "adamw s", 2);
    mlp_net_free(&net);
}

TEST(optim_nesterov_step_by_hand) {
    mlp_net net;
    tiny_net(&net);
    mlp_train_cfg cfg = mlp_train_cfg_default();
    cfg.nesterov = 1;
    cfg.wd = 0.01f;
    cfg.momentum = 0.9f;
    /* step 1, lr 0.1: d = g + 0.01 p = (0.51, 0.23, -0.995, 2); v = d; p <- p - 0.1 (d + 0.9 v) = p - 0.19 d */
    mlp_optim_step(&net, &cfg, 0.1f, 1);
    const double q1[4] = {0.9031, -2.0437, 0.68905, -0.38}, v1[4] = {0.51, 0.23, -0.995, 2};
    check4(net.params, q1, 1e-6, "nesterov p", 1);
    check4(net.momentum, v1, 1e-6, "nesterov v", 1);
    /* step 2: d = g + 0.01 p1 = (0.509031, 0.229563, -0.9931095, 1.9962); v = 0.9 v1 + d =
     *   (0.968031, 0.436563, -1.8886095, 3.7962); p = p1 - 0.1 (d + 0.9 v) */
    mlp_optim_step(&net, &cfg, 0.1f, 2);
    const double q2[4] = {0.76507411, -2.10594697, 0.958335805, -0.921278};
    const double v2[4] = {0.968031, 0.436563, -1.8886095, 3.7962};
    check4(net.params, q2, 2e-6, "nesterov p", 2);
    check4(net.momentum, v2, 2e-6, "nesterov v", 2);
    mlp_net_free(&net);
}

static void fill(float *x, size_t n, double lo, double hi, mlp_rng *r) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * mlp_rng_uniform(r));
}

/* Every rule, on every kernel path this CPU has, in one piece and in odd slices (as the fused step cuts the
 * parameters): bitwise the portable loop. Plain SGD through the table is mlp_sgd_step. */
TEST(optim_paths_and_slices_bitwise) {
    enum { N = 1000 + 13 };
    static float w0[N], m0[N], s0[N], g[N], w[3][N], m[3][N], s[3][N];
    mlp_rng r;
    mlp_rng_seed(&r, 7, 1);
    fill(w0, N, -1, 1, &r);
    fill(m0, N, -0.1, 0.1, &r);
    fill(s0, N, 0, 0.01, &r);
    fill(g, N, -2, 2, &r);
    const mlp_kernels paths[] = {MLP_KERNELS_AVX2, MLP_KERNELS_AVX512};
    for (int o = 0; o < MLP_OPTIM_COUNT; o++)
        for (int nest = 0; nest < 2; nest++) {
            if (nest && o != MLP_OPTIM_SGD) continue;
            mlp_train_cfg cfg = mlp_train_cfg_default();
            cfg.optim = (mlp_optim)o;
            cfg.nesterov = nest;
            cfg.wd = 0.05f;
            const mlp_optim_coef c = mlp_optim_coef_make(&cfg, 0.01f, 3);
            memcpy(w[0], w0, sizeof w0), memcpy(m[0], m0, sizeof m0), memcpy(s[0], s0, sizeof s0);
            mlp_optim_apply(&c, MLP_KERNELS_PORTABLE, w[0], m[0], s[0], g, N);
            for (size_t pi = 0; pi < sizeof paths / sizeof *paths; pi++) {
                if (!mlp_kernels_supported(paths[pi])) continue;
                memcpy(w[1], w0, sizeof w0), memcpy(m[1], m0, sizeof m0), memcpy(s[1], s0, sizeof s0);
                mlp_optim_apply(&c, paths[pi], w[1], m[1], s[1], g, N);
                memcpy(w[2], w0, sizeof w0), memcpy(m[2], m0, sizeof m0), memcpy(s[2], s0, sizeof s0);
                for (size_t a = 0, len = 1; a < N; a += len, len = len * 3 + 1) {
                    const size_t n = a + len <= N ? len : N - a;
                    mlp_optim_apply(&c, paths[pi], w[2] + a, m[2] + a, s[2] + a, g + a, n);
                }
                for (int k = 1; k < 3; k++)
                    CHECK_MSG(!memcmp(w[0], w[k], sizeof w0) && !memcmp(m[0], m[k], sizeof m0) &&
                                  !memcmp(s[0], s[k], sizeof s0),
                              "%s%s on %s (%s) differs from the portable rule", mlp_optim_name(cfg.optim),
                              nest ? " nesterov" : "", mlp_kernels_name(paths[pi]), k == 1 ? "whole" : "slices");
            }
        }
    /* plain SGD through mlp_optim_step is mlp_sgd_step, bit for bit */
    mlp_net a, b;
    tiny_net(&a);
    tiny_net(&b);
    mlp_train_cfg cfg = mlp_train_cfg_default();
    for (int step = 1; step <= 3; step++) {
        mlp_optim_step(&a, &cfg, cfg.lr * 1000, step);
        mlp_sgd_step(&b, cfg.lr * 1000, cfg.wd, cfg.momentum);
    }
    CHECK(!memcmp(a.params, b.params, sizeof p0) && !memcmp(a.momentum, b.momentum, sizeof p0));
    mlp_net_free(&a);
    mlp_net_free(&b);
}

TEST(optim_names_and_config_checks) {
    mlp_optim o;
    CHECK(mlp_optim_parse("adamw", &o) == 0 && o == MLP_OPTIM_ADAMW);
    CHECK(mlp_optim_parse("Adam", &o) == -1 && mlp_optim_parse(NULL, &o) == -1);
    CHECK(!strcmp(mlp_optim_name(MLP_OPTIM_SGD), "sgd") && !strcmp(mlp_optim_name(MLP_OPTIM_COUNT), "?"));
    mlp_schedule s;
    CHECK(mlp_schedule_parse("cosine", &s) == 0 && s == MLP_SCHEDULE_COSINE);
    CHECK(mlp_schedule_parse("linear", &s) == -1);
    CHECK(!strcmp(mlp_schedule_name(MLP_SCHEDULE_STEP), "step"));

    /* the trainer refuses impossible settings, naming them */
    mlp_arch arch = {1, {4, 10}, MLP_ACT_RELU};
    mlp_net net;
    mlp_error err;
    CHECK(mlp_net_create(&net, &arch, 8, &err) == MLP_OK);
    static float x[8 * 4];
    static int32_t y[8];
    mlp_dataset ds = {.n = 8, .rows = 1, .cols = 4, .dim = 4, .x = x, .y = y, .classes = 10};
    const char *want[] = {"Nesterov", "beta1", "beta2", "eps", "warm-up", "step schedule every", "factor",
                          "final learning rate", "unknown optimizer"};
    for (int i = 0; i < 9; i++) {
        mlp_train_cfg c = mlp_train_cfg_default();
        c.batch = 4;
        c.epochs = 10;
        switch (i) {
        case 0: c.nesterov = 1, c.momentum = 0; break;
        case 1: c.optim = MLP_OPTIM_ADAM, c.beta1 = 1; break;
        case 2: c.optim = MLP_OPTIM_ADAMW, c.beta2 = -0.5f; break;
        case 3: c.optim = MLP_OPTIM_ADAM, c.eps = 0; break;
        case 4: c.warmup_epochs = 10; break;
        case 5: c.schedule = MLP_SCHEDULE_STEP, c.step_epochs = 0; break;
        case 6: c.schedule = MLP_SCHEDULE_STEP, c.step_gamma = 1.5f; break;
        case 7: c.schedule = MLP_SCHEDULE_COSINE, c.min_lr = 1; break;
        default: c.optim = MLP_OPTIM_COUNT; break;
        }
        mlp_trainer tr;
        CHECK_MSG(mlp_trainer_init(&tr, &net, &c, &ds, NULL, &err) == MLP_ERR_ARG, "case %d accepted", i);
        CHECK_CONTAINS(err.msg, want[i]);
    }
    mlp_net_free(&net);
}

TEST(schedule_rates_by_hand) {
    mlp_train_cfg c = mlp_train_cfg_default();
    c.lr = 0.1f;
    c.epochs = 10;
    /* constant: exactly lr (the reference run's float), every epoch */
    for (int e = 1; e <= 10; e++) CHECK(mlp_lr_at(&c, e) == c.lr);
    /* warm-up 3: 0.1 e / 4 for e = 1..3, then lr */
    c.warmup_epochs = 3;
    CHECK_NEAR(mlp_lr_at(&c, 1), 0.025, 1e-8);
    CHECK_NEAR(mlp_lr_at(&c, 2), 0.05, 1e-8);
    CHECK_NEAR(mlp_lr_at(&c, 3), 0.075, 1e-8);
    CHECK(mlp_lr_at(&c, 4) == c.lr && mlp_lr_at(&c, 10) == c.lr);
    /* step every 2 epochs by 0.5 after the warm-up: epochs 4,5 -> 0.1; 6,7 -> 0.05; 8,9 -> 0.025; 10 -> 0.0125 */
    c.schedule = MLP_SCHEDULE_STEP;
    c.step_epochs = 2;
    c.step_gamma = 0.5f;
    const double step_want[11] = {0, 0.025, 0.05, 0.075, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125};
    for (int e = 1; e <= 10; e++) CHECK_NEAR(mlp_lr_at(&c, e), step_want[e], 1e-8);
    /* cosine without warm-up over 10 epochs down to 0.01: lr_e = 0.01 + 0.09 (1 + cos(pi (e-1) / 10)) / 2:
     * e = 1: 0.1; e = 6: 0.055 (the middle); e = 10: 0.01 + 0.045 (1 + cos(0.9 pi)) = 0.01220246... */
    c.schedule = MLP_SCHEDULE_COSINE;
    c.warmup_epochs = 0;
    c.min_lr = 0.01f;
    CHECK_NEAR(mlp_lr_at(&c, 1), 0.1, 1e-8);
    CHECK_NEAR(mlp_lr_at(&c, 6), 0.055, 1e-8);
    CHECK_NEAR(mlp_lr_at(&c, 10), 0.0122024588, 1e-8);
    for (int e = 2; e <= 10; e++) CHECK(mlp_lr_at(&c, e) < mlp_lr_at(&c, e - 1)); /* strictly decreasing */
    /* cosine after a 2-epoch warm-up: T = 8, epoch 3 is lr, epoch 7 the middle (i = 4) */
    c.warmup_epochs = 2;
    CHECK_NEAR(mlp_lr_at(&c, 2), 0.1 * 2 / 3, 1e-8);
    CHECK(mlp_lr_at(&c, 3) == c.lr);
    CHECK_NEAR(mlp_lr_at(&c, 7), 0.055, 1e-8);
}

/* ------------------------------------------------------------------ against torch.optim
 *
 * A 5-4-3 tanh network, softmax cross-entropy (mean), 6 full-batch steps of 8 rows, for each optimizer; the
 * same start and data go to tests/python/optim_torch.py, which trains the same network with torch.optim and
 * prints the final parameters. Float32 on both sides, different operation orders: agreement to 2e-6 (the
 * parameters move by ~0.1 to 1). */
#define TT_D 5
#define TT_H 4
#define TT_K 3
#define TT_N 8
#define TT_STEPS 6

static int torch_available(void) {
    char out[256];
    return access("tests/python/optim_torch.py", R_OK) == 0 &&
           check_sh(out, sizeof out, 1, "/usr/bin/python3 -c 'import torch' 2>&1") == 0;
}

TEST(optim_matches_torch_optim) {
    if (!torch_available()) {
        check_skip("Debian's python3-torch is not installed (apt-get install python3-torch): no torch cross-check");
        return;
    }
    mlp_rng r;
    mlp_rng_seed(&r, 11, 5);
    mlp_arch arch = {2, {TT_D, TT_H, TT_K}, MLP_ACT_TANH};
    float x[TT_N * TT_D];
    int32_t y[TT_N];
    fill(x, TT_N * TT_D, -1, 1, &r);
    for (int i = 0; i < TT_N; i++) y[i] = (int32_t)(i % TT_K);
    mlp_net net;
    mlp_error err;
    CHECK(mlp_net_create(&net, &arch, TT_N, &err) == MLP_OK);
    fill(net.params, net.n_params, -0.5, 0.5, &r);
    float start[64];
    memcpy(start, net.params, sizeof(float) * net.n_params);
    const char *dir = check_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/case.txt", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f, "%d %d %d %d %d\n", TT_D, TT_H, TT_K, TT_N, TT_STEPS);
    for (size_t i = 0; i < net.n_params; i++) fprintf(f, "%.9g\n", start[i]);
    for (int i = 0; i < TT_N * TT_D; i++) fprintf(f, "%.9g\n", x[i]);
    for (int i = 0; i < TT_N; i++) fprintf(f, "%d\n", y[i]);
    fclose(f);

    struct {
        const char *spec; /* for the script: name lr wd momentum nesterov beta1 beta2 eps */
        mlp_optim o;
        float lr, wd, mom;
        int nesterov;
    } cases[] = {
        {"sgd 0.1 0.01 0.9 0", MLP_OPTIM_SGD, 0.1f, 0.01f, 0.9f, 0},
        {"sgd 0.1 0.01 0.9 1", MLP_OPTIM_SGD, 0.1f, 0.01f, 0.9f, 1},
        {"adam 0.01 0.01 0 0", MLP_OPTIM_ADAM, 0.01f, 0.01f, 0, 0},
        {"adamw 0.01 0.1 0 0", MLP_OPTIM_ADAMW, 0.01f, 0.1f, 0, 0},
    };
    enum { CASES = sizeof cases / sizeof *cases };
    /* one run of the script for all cases (importing torch takes seconds) */
    char specs[256] = "";
    for (size_t c = 0; c < CASES; c++) {
        strcat(specs, " ");
        strcat(specs, cases[c].spec);
    }
    static char out[32768];
    int st = check_sh(out, sizeof out, 0, "/usr/bin/python3 tests/python/optim_torch.py '%s'%s", path, specs);
    CHECK_MSG(st == 0, "optim_torch.py failed (exit %d): %s", st, out);
    if (st) return;
    char *p = out;
    mlp_loss_cfg loss = mlp_loss_default(MLP_LOSS_CE);
    for (size_t c = 0; c < CASES; c++) {
        mlp_train_cfg cfg = mlp_train_cfg_default();
        cfg.optim = cases[c].o;
        cfg.lr = cases[c].lr;
        cfg.wd = cases[c].wd;
        cfg.momentum = cases[c].mom;
        cfg.nesterov = cases[c].nesterov;
        memcpy(net.params, start, sizeof(float) * net.n_params);
        memset(net.momentum, 0, sizeof(float) * net.n_params);
        memset(net.moment2, 0, sizeof(float) * net.n_params);
        mlp_net_params_changed(&net);
        float dl[TT_N * TT_K];
        for (int s = 1; s <= TT_STEPS; s++) {
            const float *logits = mlp_net_forward(&net, x, TT_N);
            mlp_loss_eval(&loss, logits, y, TT_N, TT_K, dl, 1.0f / TT_N, NULL);
            mlp_net_backward(&net, x, dl, TT_N);
            mlp_optim_step(&net, &cfg, cfg.lr, s);
        }
        double worst = 0, moved = 0;
        for (size_t i = 0; i < net.n_params; i++) {
            char *end;
            const double v = strtod(p, &end);
            CHECK_MSG(end != p, "optim_torch.py printed too few numbers for %s", cases[c].spec);
            if (end == p) return;
            p = end;
            if (fabs(v - net.params[i]) > worst) worst = fabs(v - net.params[i]);
            moved += fabs(net.params[i] - start[i]);
        }
        CHECK_MSG(worst <= 2e-6, "%s: largest difference from torch.optim %.3g", cases[c].spec, worst);
        CHECK_MSG(moved > 1e-2, "%s: the parameters barely moved (%g): the comparison proves nothing", cases[c].spec,
                  moved);
        if (getenv("MLP_TEST_VERBOSE")) printf("    %s: max |mlp - torch| %.3g, moved %.3g\n", cases[c].spec, worst, moved);
    }
    mlp_net_free(&net);
}

/* ------------------------------------------------------------------ the trainer with every rule */

/* n rows of d inputs; sparse: 80% of the inputs are exactly -0.5 (the background the sparse first layer uses;
 * not 0, where the sparse and dense products would agree to the bit) */
static void toy_set(mlp_dataset *ds, int n, int d, uint64_t seed, int sparse) {
    mlp_rng r;
    mlp_rng_seed(&r, seed, 9);
    memset(ds, 0, sizeof *ds);
    ds->n = n;
    ds->rows = 1;
    ds->cols = ds->dim = d;
    ds->x = malloc(sizeof(float) * (size_t)n * d);
    ds->y = malloc((size_t)n * sizeof *ds->y);
    for (int i = 0; i < n; i++) {
        ds->y[i] = (int32_t)mlp_rng_below(&r, 10);
        for (int j = 0; j < d; j++) {
            float v = (float)(mlp_rng_uniform(&r) - 0.5);
            if (j % 10 == ds->y[i]) v += 1.0f; /* learnable */
            ds->x[(size_t)i * d + j] = sparse && mlp_rng_uniform(&r) < 0.8 && j % 10 != ds->y[i] ? -0.5f : v;
        }
    }
}

typedef struct rule_case {
    const char *name;
    mlp_optim o;
    int nesterov;
    mlp_schedule sched;
    int warmup;
} rule_case;

static const rule_case rule_cases[] = {
    {"adam", MLP_OPTIM_ADAM, 0, MLP_SCHEDULE_COSINE, 1},
    {"adamw", MLP_OPTIM_ADAMW, 0, MLP_SCHEDULE_STEP, 0},
    {"nesterov", MLP_OPTIM_SGD, 1, MLP_SCHEDULE_CONSTANT, 1},
};

static mlp_train_cfg rule_cfg(const rule_case *rc) {
    mlp_train_cfg c = mlp_train_cfg_default();
    c.loss = mlp_loss_default(MLP_LOSS_CE);
    c.reduction = MLP_GRAD_MEAN;
    c.optim = rc->o;
    c.nesterov = rc->nesterov;
    c.lr = rc->o == MLP_OPTIM_SGD ? 0.2f : 0.01f;
    c.wd = rc->o == MLP_OPTIM_ADAMW ? 0.01f : 1e-3f;
    c.schedule = rc->sched;
    c.warmup_epochs = rc->warmup;
    c.step_epochs = 1;
    c.step_gamma = 0.5f;
    c.batch = 25;
    c.epochs = 3;
    c.shuffle = 0;
    return c;
}

/* 3 epochs of the trainer on `threads` threads (teams: a fixed team schedule or NULL). */
static void train_rule(mlp_net *net, const mlp_dataset *ds, const mlp_train_cfg *cfg, const char *hidden, mlp_kernels k,
                       int threads, int dense, const unsigned char *teams, mlp_epoch_metrics *m) {
    mlp_arch arch;
    mlp_error err;
    CHECK(mlp_arch_parse(&arch, hidden, ds->dim, 10, MLP_ACT_GELU, &err) == MLP_OK);
    CHECK(mlp_net_create(net, &arch, cfg->batch, &err) == MLP_OK);
    CHECK(mlp_net_set_exec(net, threads, k, &err) == MLP_OK);
    net->input_sparse = !dense;
    mlp_rng rng;
    mlp_rng_seed(&rng, 3, 1);
    mlp_net_init(net, 0.3f, &rng);
    mlp_trainer t;
    CHECK(mlp_trainer_init(&t, net, cfg, ds, NULL, &err) == MLP_OK);
    for (int e = 0; e < cfg->epochs; e++) {
        CHECK(mlp_trainer_epoch_teams(&t, &m[e], teams, &err) == MLP_OK);
        CHECK_NEAR(m[e].lr, mlp_lr_at(cfg, e + 1), 0); /* metrics carry the schedule's rate */
    }
    mlp_trainer_free(&t);
}

/* The fused trainer with Adam, AdamW and Nesterov (and a schedule) is bitwise the unfused composition
 * forward + loss + backward + mlp_optim_step, on every path, for 1-3 threads and switching teams; the sparse
 * first layer gives the same bits for every thread count and the dense result up to rounding. */
TEST(optim_trainer_every_rule_fused_equals_unfused) {
    mlp_dataset dense_set, sparse_set;
    toy_set(&dense_set, 130, 33, 21, 0); /* 5 batches of 25 + 5 */
    toy_set(&sparse_set, 130, 60, 22, 1);
    const mlp_kernels paths[] = {MLP_KERNELS_PORTABLE, MLP_KERNELS_AVX2, MLP_KERNELS_AVX512};
    static const char *hiddens[] = {"24,12", "40"};
    unsigned char teams[6] = {1, 0, 0, 1, 1, 0};
    for (size_t ri = 0; ri < sizeof rule_cases / sizeof *rule_cases; ri++)
        for (size_t pi = 0; pi < 3; pi++) {
            const mlp_kernels k = paths[pi];
            if (!mlp_kernels_supported(k)) continue;
            const mlp_train_cfg cfg = rule_cfg(&rule_cases[ri]);
            for (int h = 0; h < 2; h++) {
                mlp_net fast[3], net;
                mlp_epoch_metrics m[3][3];
                for (int th = 0; th < 3; th++)
                    train_rule(&fast[th], &dense_set, &cfg, hiddens[h], k, th + 1, 1, th == 1 ? teams : NULL, m[th]);
                /* the unfused loop, identity order (no shuffling) */
                mlp_arch arch;
                mlp_error err;
                CHECK(mlp_arch_parse(&arch, hiddens[h], 33, 10, MLP_ACT_GELU, &err) == MLP_OK);
                CHECK(mlp_net_create(&net, &arch, 25, &err) == MLP_OK);
                CHECK(mlp_net_set_exec(&net, 1, k, &err) == MLP_OK);
                mlp_rng rng;
                mlp_rng_seed(&rng, 3, 1);
                mlp_net_init(&net, 0.3f, &rng);
                float dl[25 * 10];
                int64_t step = 0;
                for (int e = 1; e <= cfg.epochs; e++)
                    for (int first = 0; first < dense_set.n; first += 25) {
                        const int nb = dense_set.n - first < 25 ? dense_set.n - first : 25;
                        const float *xb = dense_set.x + (size_t)first * 33;
                        const float *logits = mlp_net_forward(&net, xb, nb);
                        mlp_loss_eval(&cfg.loss, logits, dense_set.y + first, nb, 10, dl, 1.0f / nb, NULL);
                        mlp_net_backward(&net, xb, dl, nb);
                        mlp_optim_step(&net, &cfg, mlp_lr_at(&cfg, e), ++step);
                    }
                for (int th = 0; th < 3; th++) {
                    CHECK_MSG(!memcmp(fast[th].params, net.params, sizeof(float) * net.n_params) &&
                                  !memcmp(fast[th].momentum, net.momentum, sizeof(float) * net.n_params) &&
                                  !memcmp(fast[th].moment2, net.moment2, sizeof(float) * net.n_params),
                              "%s on %s, %s, %d threads: the trainer differs from the unfused loop",
                              rule_cases[ri].name, mlp_kernels_name(k), hiddens[h], th + 1);
                    CHECK(m[th][2].train_loss == m[0][2].train_loss);
                    mlp_net_free(&fast[th]);
                }
                CHECK_MSG(m[0][2].train_acc > 0.5, "%s %s: the toy problem did not train (acc %.3f)",
                          rule_cases[ri].name, hiddens[h], m[0][2].train_acc);
                /* the sparse first layer: thread counts agree bitwise, and with the dense product to rounding */
                mlp_net sp[2], dn;
                mlp_epoch_metrics ms[3];
                train_rule(&sp[0], &sparse_set, &cfg, hiddens[h], k, 1, 0, NULL, ms);
                train_rule(&sp[1], &sparse_set, &cfg, hiddens[h], k, 2, 0, teams, ms);
                train_rule(&dn, &sparse_set, &cfg, hiddens[h], k, 1, 1, NULL, ms);
                CHECK_MSG(!memcmp(sp[0].params, sp[1].params, sizeof(float) * net.n_params) &&
                              !memcmp(sp[0].moment2, sp[1].moment2, sizeof(float) * net.n_params),
                          "%s on %s, %s sparse: the thread count changes the result", rule_cases[ri].name,
                          mlp_kernels_name(k), hiddens[h]);
                CHECK_MSG(memcmp(sp[0].params, dn.params, sizeof(float) * dn.n_params) != 0,
                          "%s: the sparse path was not used", rule_cases[ri].name);
                double worst = 0;
                for (size_t i = 0; i < dn.n_params; i++) {
                    const double d = fabs(sp[0].params[i] - dn.params[i]) / (1e-2 + fabs(dn.params[i]));
                    if (d > worst) worst = d;
                }
                CHECK_MSG(worst < 1e-3, "%s on %s, %s: sparse and dense differ by %.3g", rule_cases[ri].name,
                          mlp_kernels_name(k), hiddens[h], worst);
                mlp_net_free(&sp[0]), mlp_net_free(&sp[1]), mlp_net_free(&dn), mlp_net_free(&net);
            }
        }
    mlp_dataset_free(&dense_set);
    mlp_dataset_free(&sparse_set);
}

/* ------------------------------------------------------------------ the command line */

TEST(optim_cli_usage_errors_exit_2) {
    static const struct {
        const char *args, *says;
    } cases[] = {
        {"--optimizer rmsprop", "--optimizer: unknown value 'rmsprop'"},
        {"--beta1 0.8", "--beta1 is an adam/adamw setting"},
        {"--optimizer adam --momentum 0.5", "--momentum is an sgd setting"},
        {"--optimizer adamw --nesterov", "--nesterov is an sgd setting"},
        {"--nesterov --momentum 0", "--nesterov needs a --momentum above 0"},
        {"--schedule linear", "--schedule: unknown value 'linear'"},
        {"--epochs 5 --warmup-epochs 5", "--warmup-epochs 5: must be fewer than the 5 epochs"},
        {"--schedule cosine --lr 0.01 --min-lr 0.1", "--min-lr 0.1 is above the learning rate"},
        {"--optimizer adam --beta2 1", "--beta2"},
        {"--step-gamma 0", "--step-gamma"},
    };
    const char *dir = check_tmpdir();
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[2048];
        int st = check_sh(out, sizeof out, 1, "'%s' train --data '%s' --out '%s/run%zu' %s", check_mlp_bin(), dir, dir, i,
                          cases[i].args);
        CHECK_MSG(st == 2, "'%s': exit %d, expected 2 (usage): %s", cases[i].args, st, out);
        CHECK_CONTAINS(out, cases[i].says);
    }
}

/* Adam with a step schedule and a warm-up, end to end: the rate of each epoch in metrics.csv and config.json
 * records the settings; MNIST learns. */
TEST(optim_cli_adam_schedule_on_mnist) {
    const char *data = check_mnist_dir();
    if (!data) {
        check_skip("MNIST not found");
        return;
    }
    const char *dir = check_tmpdir();
    char out[8192], path[600];
    int st = check_sh(out, sizeof out, 1,
                      "'%s' train --data '%s' --epochs 3 --hidden 64 --loss ce --optimizer adam --lr 0.002 --schedule step "
                      "--step-epochs 1 --step-gamma 0.5 --warmup-epochs 1 --quiet --out '%s/run'",
                      check_mlp_bin(), data, dir);
    CHECK_MSG(st == 0, "train: exit %d: %s", st, out);
    snprintf(path, sizeof path, "%s/run/metrics.csv", dir);
    char *csv = check_read_text(path);
    CHECK(csv != NULL);
    if (!csv) return;
    /* epoch 1 warms up at 0.002 / 2; then 0.002, 0.001 (float values, printed with 9 digits) */
    const double want[3] = {0.001, 0.002, 0.001};
    char *line = strchr(csv, '\n');
    for (int e = 0; e < 3 && line; e++) {
        int ep;
        double trl, tra, tel, tea, lr;
        CHECK(sscanf(line + 1, "%d,%lf,%lf,%lf,%lf,%lf", &ep, &trl, &tra, &tel, &tea, &lr) == 6);
        CHECK_INT(ep, e + 1);
        CHECK_NEAR(lr, want[e], 1e-9);
        if (e == 2) CHECK_MSG(tea > 0.95, "adam on MNIST: test accuracy %.4f after 3 epochs", tea);
        line = strchr(line + 1, '\n');
    }
    free(csv);
    snprintf(path, sizeof path, "%s/run/config.json", dir);
    char *cfg = check_read_text(path);
    CHECK_CONTAINS(cfg, "\"optimizer\": \"adam\"");
    CHECK_CONTAINS(cfg, "\"schedule\": \"step\"");
    CHECK_CONTAINS(cfg, "\"warmup_epochs\": 1");
    CHECK_CONTAINS(cfg, "\"wd\": 0,"); /* adam's default */
    free(cfg);
}

/* ------------------------------------------------------------------ early stopping */

/* The trainer's best epoch, its value and the epochs since it follow the test metrics after every epoch (recomputed
 * here from the metrics), and mlp_trainer_stop_early says stop exactly when `patience` epochs in a row did not
 * improve; for the loss (lower is better) and the accuracy (higher). */
TEST(early_stop_bookkeeping) {
    mlp_dataset tr, te;
    toy_set(&tr, 120, 30, 41, 0);
    toy_set(&te, 60, 30, 42, 0); /* other labels: the test loss soon stops improving */
    for (int mon = 0; mon < MLP_MONITOR_COUNT; mon++) {
        mlp_train_cfg cfg = mlp_train_cfg_default();
        cfg.loss = mlp_loss_default(MLP_LOSS_CE);
        cfg.reduction = MLP_GRAD_MEAN;
        cfg.optim = MLP_OPTIM_ADAM;
        cfg.lr = 0.05f;
        cfg.momentum = 0;
        cfg.batch = 20;
        cfg.epochs = 40;
        cfg.early_stop = 3;
        cfg.monitor = (mlp_monitor)mon;
        mlp_arch arch;
        mlp_error err;
        mlp_net net;
        CHECK(mlp_arch_parse(&arch, "32", 30, 10, MLP_ACT_RELU, &err) == MLP_OK);
        CHECK(mlp_net_create(&net, &arch, 20, &err) == MLP_OK);
        mlp_rng rng;
        mlp_rng_seed(&rng, 1, 1);
        mlp_net_init(&net, 0.3f, &rng);
        mlp_trainer t;
        CHECK(mlp_trainer_init(&t, &net, &cfg, &tr, &te, &err) == MLP_OK);
        CHECK(t.best_epoch == 0 && t.since_best == 0 && !mlp_trainer_stop_early(&t));
        int best = 0, since = 0;
        double best_v = 0;
        mlp_epoch_metrics m;
        while (t.epochs_done < cfg.epochs && !mlp_trainer_stop_early(&t)) {
            CHECK(mlp_trainer_epoch(&t, &m, &err) == MLP_OK);
            const double v = mon == MLP_MONITOR_ACC ? m.test_acc : m.test_loss;
            if (best == 0 || (mon == MLP_MONITOR_ACC ? v > best_v : v < best_v)) best = m.epoch, best_v = v, since = 0;
            else since++;
            CHECK_INT(t.best_epoch, best);
            CHECK(t.best_value == best_v);
            CHECK_INT(t.since_best, since);
            CHECK_INT(mlp_trainer_stop_early(&t), since >= 3);
        }
        CHECK_MSG(t.epochs_done < cfg.epochs, "monitor %s: early stopping never triggered in %d epochs",
                  mlp_monitor_name(cfg.monitor), cfg.epochs);
        CHECK_INT(t.epochs_done, best + 3);
        mlp_trainer_free(&t);
        /* a trainer without a test set cannot stop early */
        CHECK(mlp_trainer_init(&t, &net, &cfg, &tr, NULL, &err) == MLP_ERR_ARG);
        CHECK_CONTAINS(err.msg, "early stopping needs a set to monitor");
        mlp_net_free(&net);
    }
    mlp_monitor mo;
    CHECK(mlp_monitor_parse("acc", &mo) == 0 && mo == MLP_MONITOR_ACC && mlp_monitor_parse("f1", &mo) == -1);
    mlp_dataset_free(&tr);
    mlp_dataset_free(&te);
}

/* The command line: best.safetensors is the model of the best epoch (its test loss, evaluated anew, is the one
 * metrics.csv has for that epoch), the run stops early, and --resume of the finished run keeps it so. */
TEST(early_stop_cli_best_model) {
    const char *data = check_mnist_dir();
    if (!data) {
        check_skip("MNIST not found");
        return;
    }
    const char *dir = check_tmpdir();
    static char out[16384];
    /* lr 0.5 with momentum 0.9 on mean gradients: the test loss gets worse after the first epoch */
    int st = check_sh(out, sizeof out, 1,
                      "'%s' train --data '%s' --epochs 8 --hidden 32 --loss ce --grad-reduction mean --lr 0.5 "
                      "--early-stop 1 --out '%s/run'",
                      check_mlp_bin(), data, dir);
    CHECK_MSG(st == 0, "train --early-stop: exit %d: %s", st, out);
    CHECK_CONTAINS(out, "early stop after epoch");
    char path[600];
    snprintf(path, sizeof path, "%s/run/metrics.csv", dir);
    char *csv = check_read_text(path);
    CHECK(csv != NULL);
    if (!csv) return;
    double best = 1e300;
    int best_epoch = 0, epochs = 0;
    for (char *line = strchr(csv, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        int e;
        double trl, tra, tel;
        if (sscanf(line + 1, "%d,%lf,%lf,%lf", &e, &trl, &tra, &tel) != 4) break;
        epochs = e;
        if (tel < best) best = tel, best_epoch = e;
    }
    free(csv);
    CHECK_MSG(epochs < 8 && epochs == best_epoch + 1, "ran %d epochs, best %d, patience 1", epochs, best_epoch);
    st = check_sh(out, sizeof out, 1, "'%s' eval '%s/run/best.safetensors' --data '%s'", check_mlp_bin(), dir, data);
    CHECK_MSG(st == 0, "eval best.safetensors: exit %d: %s", st, out);
    const char *tl = strstr(out, "test loss ");
    CHECK(tl != NULL);
    if (tl) CHECK_NEAR(strtod(tl + 10, NULL), best, 1e-6 * (1 + best));
    /* resuming the finished run trains nothing more */
    st = check_sh(out, sizeof out, 1, "'%s' train --resume '%s/run' --quiet", check_mlp_bin(), dir);
    CHECK_MSG(st == 0, "resume: exit %d: %s", st, out);
    snprintf(path, sizeof path, "%s/run/metrics.csv", dir);
    csv = check_read_text(path);
    int lines = 0;
    for (char *p = csv; p && *p; p++) lines += *p == '\n';
    CHECK_INT(lines, epochs + 1);
    free(csv);
}

/* ------------------------------------------------------------------ sweeps and reports over the new options */

/* A list given to a training option makes a grid axis: one run per combination, named after the values; the
 * runs get the options; mlp report tells the configurations apart by them. */
TEST(optim_sweep_axes_and_report) {
    const char *data = check_mnist_dir();
    const char *dir = check_tmpdir();
    static char out[16384];
    int st = check_sh(out, sizeof out, 1,
                      "'%s' sweep --out '%s/s' --act relu --loss ce --hidden 16 --epochs 1 --grad-reduction mean "
                      "--optimizer sgd,adam --dropout 0,0.2 --lr 0.01 --dry-run --data '%s'",
                      check_mlp_bin(), dir, data ? data : dir);
    CHECK_MSG(st == 0, "sweep --dry-run: exit %d: %s", st, out);
    CHECK_CONTAINS(out, "4 runs (1 architecture x 1 activation x 1 loss x 2 optimizer x 2 dropout x 1 seed)");
    CHECK_CONTAINS(out, "784-16-10_relu_ce_optimizer-adam_dropout-0.2_s1");
    CHECK_CONTAINS(out, "784-16-10_relu_ce_optimizer-sgd_dropout-0_s1");
    st = check_sh(out, sizeof out, 1, "'%s' sweep --out '%s/s' --optimizer sgd,adam --optimizer adamw,sgd --dry-run",
                  check_mlp_bin(), dir);
    CHECK_MSG(st == 2, "an axis given twice: exit %d", st);
    if (!data) {
        check_skip("MNIST not found: the sweep itself is not run");
        return;
    }
    st = check_sh(out, sizeof out, 1,
                  "'%s' sweep --out '%s/s' --act relu --loss ce --hidden 16 --epochs 1 --grad-reduction mean "
                  "--optimizer sgd,adam --lr 0.01 --data '%s' && '%s' report '%s/s' --out '%s/r'",
                  check_mlp_bin(), dir, data, check_mlp_bin(), dir, dir);
    CHECK_MSG(st == 0, "sweep + report: exit %d: %s", st, out);
    char path[600];
    snprintf(path, sizeof path, "%s/s/784-16-10_relu_ce_optimizer-adam_s1/config.json", dir);
    char *cfg = check_read_text(path);
    CHECK_CONTAINS(cfg, "\"optimizer\": \"adam\"");
    free(cfg);
    snprintf(path, sizeof path, "%s/r/REPORT.md", dir);
    char *rep = check_read_text(path);
    CHECK_CONTAINS(rep, "optimizer adam");
    CHECK_CONTAINS(rep, "optimizer sgd");
    free(rep);
}
