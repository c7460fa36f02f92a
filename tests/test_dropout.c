/* test_dropout.c - inverted dropout: the masks (rate, independence of the counters), a forward pass and the
 * gradient (finite differences) under a fixed mask, evaluation without dropout, and the fused trainer against
 * the unfused composition, bitwise, on every path, thread count and team. */
#include "check.h"
#include "net_internal.h"
#include "step.h"

#include <stdlib.h>
#include <string.h>

TEST(dropout_masks_rate_and_counters) {
    mlp_dropout d = {0.3f, 42, 3, 17, 0};
    long dropped = 0, total = 0, differ_epoch = 0, differ_step = 0, differ_seed = 0, differ_layer = 0;
    for (int row = 0; row < 200; row++)
        for (int unit = 0; unit < 500; unit++) {
            const int k = mlp_dropout_keep(&d, 0, row, unit);
            dropped += !k;
            total++;
            mlp_dropout e = d;
            e.epoch = 4;
            differ_epoch += mlp_dropout_keep(&e, 0, row, unit) != k;
            e = d;
            e.step = 18;
            differ_step += mlp_dropout_keep(&e, 0, row, unit) != k;
            e = d;
            e.seed = 43;
            differ_seed += mlp_dropout_keep(&e, 0, row, unit) != k;
            differ_layer += mlp_dropout_keep(&d, 1, row, unit) != k;
            /* deterministic, and row0 only shifts the row */
            CHECK(mlp_dropout_keep(&d, 0, row, unit) == k);
            e = d;
            e.row0 = 7;
            if (row >= 7) CHECK(mlp_dropout_keep(&e, 0, row - 7, unit) == k);
        }
    /* 100000 Bernoulli(0.3) draws: the standard deviation of the rate is 0.00145 */
    CHECK_NEAR((double)dropped / total, 0.3, 0.006);
    /* another epoch, step, seed or layer gives an unrelated mask: disagreement 2 p (1 - p) = 0.42 */
    CHECK_NEAR((double)differ_epoch / total, 0.42, 0.01);
    CHECK_NEAR((double)differ_step / total, 0.42, 0.01);
    CHECK_NEAR((double)differ_seed / total, 0.42, 0.01);
    CHECK_NEAR((double)differ_layer / total, 0.42, 0.01);
    /* p = 0 keeps everything */
    d.p = 0;
    for (int u = 0; u < 1000; u++) CHECK(mlp_dropout_keep(&d, 0, 0, u));
}

/* A 3-5-4-3 tanh network (two hidden layers), 6 rows. */
static void small_net(mlp_net *net, mlp_kernels k) {
    mlp_arch arch = {3, {3, 5, 4, 3}, MLP_ACT_TANH};
    mlp_error err;
    CHECK(mlp_net_create(net, &arch, 8, &err) == MLP_OK);
    CHECK(mlp_net_set_exec(net, 1, k, &err) == MLP_OK);
    mlp_rng r;
    mlp_rng_seed(&r, 5, 1);
    mlp_net_init(net, 0.8f, &r);
    for (int i = 0; i < 5; i++) net->params[net->b_off[0] + i] = 0.1f * (float)i; /* nonzero biases */
    mlp_net_params_changed(net);
}

static const float X[6 * 3] = {0.5f, -1, 0.25f, 1, 0.5f, -0.5f, -0.25f, 0.75f, 1, 0, -1, 0.5f, 0.3f, 0.3f, -0.9f, 1, 1, 1};
static const int32_t Y[6] = {0, 1, 2, 1, 0, 2};

/* The forward pass by hand (double): a = tanh(W x + b) r per hidden layer, r = keep / (1 - p). */
static void forward_by_hand(const mlp_net *net, const mlp_dropout *d, int row, double *logits) {
    double in[8], out[8];
    for (int i = 0; i < 3; i++) in[i] = X[row * 3 + i];
    for (int l = 0; l < 3; l++) {
        const int wi = net->arch.width[l], wo = net->arch.width[l + 1];
        for (int o = 0; o < wo; o++) {
            double u = net->params[net->b_off[l] + o];
            for (int i = 0; i < wi; i++) u += (double)net->params[net->w_off[l] + (size_t)o * wi + i] * in[i];
            if (l < 2) u = tanh(u) * (mlp_dropout_keep(d, l, row, o) ? 1.0 / (1.0 - d->p) : 0.0);
            out[o] = u;
        }
        memcpy(in, out, sizeof out);
    }
    memcpy(logits, in, 3 * sizeof(double));
}

TEST(dropout_forward_by_hand_and_gradient) {
    mlp_net net;
    small_net(&net, MLP_KERNELS_PORTABLE);
    const mlp_dropout d = {0.5f, 9, 1, 2, 0};
    int dropped = 0;
    for (int r = 0; r < 6; r++)
        for (int u = 0; u < 5; u++) dropped += !mlp_dropout_keep(&d, 0, r, u);
    CHECK_MSG(dropped > 5 && dropped < 25, "the mask drops %d of 30 units: a poor test case", dropped);
    const float *logits = mlp_net_forward_train(&net, X, 6, &d);
    for (int r = 0; r < 6; r++) {
        double want[3];
        forward_by_hand(&net, &d, r, want);
        for (int k = 0; k < 3; k++) CHECK_NEAR(logits[r * 3 + k], want[k], 1e-5);
    }
    /* the gradient under the same mask, against central differences of the loss (double by hand) */
    mlp_loss_cfg lc = mlp_loss_default(MLP_LOSS_CE);
    float dl[6 * 3];
    mlp_net_forward_train(&net, X, 6, &d);
    mlp_loss_eval(&lc, net.ws->u[2], Y, 6, 3, dl, 1.0f, NULL);
    mlp_net_backward(&net, X, dl, 6);
    double worst = 0;
    for (size_t i = 0; i < net.n_params; i++) {
        const float keep = net.params[i];
        double e[2];
        for (int sgn = 0; sgn < 2; sgn++) {
            net.params[i] = keep + (sgn ? -1e-3f : 1e-3f);
            e[sgn] = 0;
            for (int r = 0; r < 6; r++) {
                double lg[3];
                forward_by_hand(&net, &d, r, lg);
                double dx[3];
                e[sgn] += mlp_loss_ref(&lc, lg, Y[r], 3, dx);
            }
        }
        net.params[i] = keep;
        const double fd = (e[0] - e[1]) / (2 * (double)1e-3f);
        const double diff = fabs(fd - net.grads[i]) / (1e-3 + fabs(fd));
        if (diff > worst) worst = diff;
    }
    CHECK_MSG(worst < 1e-3, "dropout gradient vs finite differences: relative error %.3g", worst);
    /* weights into a dropped unit of layer 1 from layer 0's dropped units get no gradient: pick the units dropped
     * in every row, if any, and check their incoming weights of layer 1 (column) are zero */
    for (int u = 0; u < 5; u++) {
        int all = 1;
        for (int r = 0; r < 6; r++) all &= !mlp_dropout_keep(&d, 0, r, u);
        if (!all) continue;
        for (int o = 0; o < 4; o++) CHECK(net.grads[net.w_off[1] + (size_t)o * 5 + u] == 0.0f);
    }
    /* evaluation never drops: mlp_net_forward after a training pass is the plain network */
    mlp_net_params_changed(&net);
    const float *plain = mlp_net_forward(&net, X, 6);
    const mlp_dropout none = {0, 9, 1, 2, 0};
    for (int r = 0; r < 6; r++) {
        double want[3];
        forward_by_hand(&net, &none, r, want);
        for (int k = 0; k < 3; k++) CHECK_NEAR(plain[r * 3 + k], want[k], 1e-5);
    }
    mlp_net_forward_train(&net, X, 6, &d);
    mlp_dataset ds = {.n = 6, .rows = 1, .cols = 3, .dim = 3, .x = (float *)X, .y = (int32_t *)Y, .classes = 3};
    double l1, a1, l2, a2;
    mlp_error err;
    CHECK(mlp_evaluate(&net, &lc, &ds, &l1, &a1, NULL, &err) == MLP_OK);
    mlp_net_forward(&net, X, 6);
    CHECK(mlp_evaluate(&net, &lc, &ds, &l2, &a2, NULL, &err) == MLP_OK);
    CHECK(l1 == l2 && a1 == a2);
    mlp_net_free(&net);
}

/* ------------------------------------------------------------------ the trainer */

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
            if (j % 10 == ds->y[i]) v += 1.0f;
            ds->x[(size_t)i * d + j] = sparse && mlp_rng_uniform(&r) < 0.8 && j % 10 != ds->y[i] ? -0.5f : v;
        }
    }
}

static mlp_train_cfg drop_cfg(mlp_optim o) {
    mlp_train_cfg c = mlp_train_cfg_default();
    c.loss = mlp_loss_default(MLP_LOSS_CE);
    c.reduction = MLP_GRAD_MEAN;
    c.optim = o;
    c.lr = o == MLP_OPTIM_SGD ? 0.1f : 0.01f;
    c.wd = 1e-3f;
    c.dropout = 0.25f;
    c.batch = 25;
    c.epochs = 2;
    c.shuffle = 1;
    c.seed = 7;
    return c;
}

static void train(mlp_net *net, const mlp_dataset *ds, const mlp_train_cfg *cfg, const char *hidden, mlp_kernels k,
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
    for (int e = 0; e < cfg->epochs; e++) CHECK(mlp_trainer_epoch_teams(&t, &m[e], teams, &err) == MLP_OK);
    mlp_trainer_free(&t);
}

/* The unfused loop: the trainer's permutation, mlp_net_forward_train with the step's masks, the loss, backward,
 * the update. */
static void unfused(mlp_net *net, const mlp_dataset *ds, const mlp_train_cfg *cfg, const char *hidden, mlp_kernels k) {
    mlp_arch arch;
    mlp_error err;
    CHECK(mlp_arch_parse(&arch, hidden, ds->dim, 10, MLP_ACT_GELU, &err) == MLP_OK);
    CHECK(mlp_net_create(net, &arch, cfg->batch, &err) == MLP_OK);
    CHECK(mlp_net_set_exec(net, 1, k, &err) == MLP_OK);
    mlp_rng rng, sh;
    mlp_rng_seed(&rng, 3, 1);
    mlp_net_init(net, 0.3f, &rng);
    mlp_rng_seed(&sh, cfg->seed, 2);
    uint32_t *perm = malloc(sizeof(uint32_t) * (size_t)ds->n);
    float *xb = malloc(sizeof(float) * (size_t)cfg->batch * ds->dim), dl[25 * 10];
    int32_t yb[25];
    int64_t step = 0;
    for (int e = 1; e <= cfg->epochs; e++) {
        for (int i = 0; i < ds->n; i++) perm[i] = (uint32_t)i;
        for (int i = ds->n - 1; i > 0; i--) {
            uint32_t j = mlp_rng_below(&sh, (uint32_t)i + 1), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (int s = 0, first = 0; first < ds->n; s++, first += cfg->batch) {
            const int nb = ds->n - first < cfg->batch ? ds->n - first : cfg->batch;
            for (int r = 0; r < nb; r++) {
                memcpy(xb + (size_t)r * ds->dim, ds->x + (size_t)perm[first + r] * ds->dim, sizeof(float) * ds->dim);
                yb[r] = ds->y[perm[first + r]];
            }
            const mlp_dropout d = {cfg->dropout, cfg->seed, e, s, 0};
            const float *logits = mlp_net_forward_train(net, xb, nb, &d);
            mlp_loss_eval(&cfg->loss, logits, yb, nb, 10, dl, 1.0f / nb, NULL);
            mlp_net_backward(net, xb, dl, nb);
            mlp_optim_step(net, cfg, mlp_lr_at(cfg, e), ++step);
        }
    }
    free(perm);
    free(xb);
}

TEST(dropout_trainer_fused_equals_unfused_any_threads) {
    mlp_dataset dense_set, sparse_set;
    toy_set(&dense_set, 130, 33, 31, 0);
    toy_set(&sparse_set, 130, 60, 32, 1);
    const mlp_kernels paths[] = {MLP_KERNELS_PORTABLE, MLP_KERNELS_AVX2, MLP_KERNELS_AVX512};
    static const char *hiddens[] = {"24,12", "40", "none"};
    unsigned char teams[6] = {1, 0, 0, 1, 1, 0};
    const mlp_optim opts[] = {MLP_OPTIM_SGD, MLP_OPTIM_ADAM};
    for (int oi = 0; oi < 2; oi++)
        for (int pi = 0; pi < 3; pi++) {
            const mlp_kernels k = paths[pi];
            if (!mlp_kernels_supported(k)) continue;
            const mlp_train_cfg cfg = drop_cfg(opts[oi]);
            for (int h = 0; h < 3; h++) {
                mlp_net fast[3], ref;
                mlp_epoch_metrics m[3][2];
                for (int th = 0; th < 3; th++)
                    train(&fast[th], &dense_set, &cfg, hiddens[h], k, th + 1, 1, th == 1 ? teams : NULL, m[th]);
                unfused(&ref, &dense_set, &cfg, hiddens[h], k);
                for (int th = 0; th < 3; th++) {
                    CHECK_MSG(!memcmp(fast[th].params, ref.params, sizeof(float) * ref.n_params) &&
                                  !memcmp(fast[th].momentum, ref.momentum, sizeof(float) * ref.n_params),
                              "%s %s %s, %d threads: dropout training differs from the unfused loop",
                              mlp_optim_name(cfg.optim), mlp_kernels_name(k), hiddens[h], th + 1);
                    CHECK(m[th][1].train_loss == m[0][1].train_loss);
                    mlp_net_free(&fast[th]);
                }
                if (h < 2) /* dropout changes the training (and the no-hidden-layer net has nothing to drop) */ {
                    mlp_train_cfg nodrop = cfg;
                    nodrop.dropout = 0;
                    mlp_net plain;
                    mlp_epoch_metrics mp[2];
                    train(&plain, &dense_set, &nodrop, hiddens[h], k, 1, 1, NULL, mp);
                    CHECK_MSG(memcmp(plain.params, ref.params, sizeof(float) * ref.n_params) != 0,
                              "%s: --dropout changed nothing", hiddens[h]);
                    CHECK_MSG(m[0][1].train_acc > 0.3, "%s %s: did not train with dropout (%.3f)",
                              mlp_optim_name(cfg.optim), hiddens[h], m[0][1].train_acc);
                    mlp_net_free(&plain);
                }
                mlp_net_free(&ref);
                /* the sparse first layer: any thread count, the same bits */
                mlp_net sp[2];
                mlp_epoch_metrics ms[2];
                train(&sp[0], &sparse_set, &cfg, hiddens[h], k, 1, 0, NULL, ms);
                train(&sp[1], &sparse_set, &cfg, hiddens[h], k, 2, 0, teams, ms);
                CHECK_MSG(!memcmp(sp[0].params, sp[1].params, sizeof(float) * sp[0].n_params),
                          "%s %s %s sparse: the thread count changes dropout training", mlp_optim_name(cfg.optim),
                          mlp_kernels_name(k), hiddens[h]);
                mlp_net_free(&sp[0]), mlp_net_free(&sp[1]);
            }
        }
    mlp_dataset_free(&dense_set);
    mlp_dataset_free(&sparse_set);
}

TEST(dropout_config_checks) {
    mlp_arch arch = {1, {4, 10}, MLP_ACT_RELU};
    mlp_net net;
    mlp_error err;
    CHECK(mlp_net_create(&net, &arch, 8, &err) == MLP_OK);
    static float x[8 * 4];
    static int32_t y[8];
    mlp_dataset ds = {.n = 8, .rows = 1, .cols = 4, .dim = 4, .x = x, .y = y, .classes = 10};
    const float bad[] = {1.0f, -0.1f, NAN};
    for (int i = 0; i < 3; i++) {
        mlp_train_cfg c = mlp_train_cfg_default();
        c.batch = 4;
        c.dropout = bad[i];
        mlp_trainer tr;
        CHECK(mlp_trainer_init(&tr, &net, &c, &ds, NULL, &err) == MLP_ERR_ARG);
        CHECK_CONTAINS(err.msg, "dropout");
    }
    mlp_net_free(&net);
}

/* The command line: --dropout is recorded, refused out of range, and trains MNIST. */
TEST(dropout_cli_on_mnist) {
    const char *dir = check_tmpdir();
    char out[4096];
    int st = check_sh(out, sizeof out, 1, "'%s' train --data '%s' --dropout 1 --out '%s/bad'", check_mlp_bin(), dir, dir);
    CHECK_MSG(st == 2, "--dropout 1: exit %d: %s", st, out);
    CHECK_CONTAINS(out, "--dropout");
    const char *data = check_mnist_dir();
    if (!data) {
        check_skip("MNIST not found");
        return;
    }
    st = check_sh(out, sizeof out, 1,
                  "'%s' train --data '%s' --epochs 2 --hidden 64 --loss ce --optimizer adam --dropout 0.2 --quiet "
                  "--out '%s/run'",
                  check_mlp_bin(), data, dir);
    CHECK_MSG(st == 0, "train --dropout: exit %d: %s", st, out);
    char path[600];
    snprintf(path, sizeof path, "%s/run/config.json", dir);
    char *cfg = check_read_text(path);
    CHECK_CONTAINS(cfg, "\"dropout\": 0.2");
    free(cfg);
    snprintf(path, sizeof path, "%s/run/metrics.csv", dir);
    char *csv = check_read_text(path);
    CHECK(csv != NULL);
    if (!csv) return;
    const char *last = strstr(csv, "\n2,");
    double trl = 0, tra = 0, tel = 0, tea = 0;
    CHECK(last && sscanf(last + 3, "%lf,%lf,%lf,%lf", &trl, &tra, &tel, &tea) == 4);
    CHECK_MSG(tea > 0.92, "adam + dropout 0.2 on MNIST: test accuracy %.4f after 2 epochs", tea);
    free(csv);
}

/* The AVX-512 mask loop gives bitwise the reference loop's values, on odd column ranges, with and without d. */
TEST(dropout_avx512_loop_equals_reference) {
    if (!mlp_kernels_supported(MLP_KERNELS_AVX512)) {
        check_skip("no AVX-512 on this CPU");
        return;
    }
    enum { R = 5, W = 77 };
    static float a0[R * W], d0[R * W], a[2][R * W], d[2][R * W];
    mlp_rng rng;
    mlp_rng_seed(&rng, 4, 4);
    for (int i = 0; i < R * W; i++) a0[i] = (float)(mlp_rng_uniform(&rng) - 0.5), d0[i] = (float)mlp_rng_uniform(&rng);
    const float ps[] = {0.1f, 0.5f, 0.9f};
    for (int pi = 0; pi < 3; pi++)
        for (int c0 = 0; c0 < 20; c0 += 3) {
            const mlp_dropout dd = {ps[pi], 99, 2, 5, 3};
            for (int v = 0; v < 2; v++) {
                mlp_dropout_ctx dc = mlp_dropout_make(&dd, v ? MLP_KERNELS_AVX512 : MLP_KERNELS_PORTABLE);
                CHECK(dc.avx512 == v);
                memcpy(a[v], a0, sizeof a0);
                memcpy(d[v], d0, sizeof d0);
                mlp_dropout_apply(&dc, 1, 1, R, c0, W, a[v] + W + c0, d[v] + W + c0, W);
                mlp_dropout_apply(&dc, 2, 0, 1, c0, W - 1, a[v] + c0, NULL, W);
            }
            CHECK_MSG(!memcmp(a[0], a[1], sizeof a0) && !memcmp(d[0], d[1], sizeof d0),
                      "p %.1f, columns from %d: the AVX-512 loop differs from the reference", (double)ps[pi], c0);
            /* and the reference agrees with mlp_dropout_keep */
            for (int r = 1; r < R; r++)
                for (int c = c0; c < W; c++) {
                    const int keep = mlp_dropout_keep(&dd, 1, r, c);
                    const float want = keep ? a0[r * W + c] * (float)(1.0 / (1.0 - ps[pi])) : 0.0f;
                    CHECK(a[0][r * W + c] == want);
                }
        }
}
