/* test_net.c - the network as a whole: layout, forward against a double-precision reference, backward
 * against finite differences of that reference, the optimizer against hand-computed steps, and the
 * trainer's two gradient reductions. */
#include "check.h"
#include "net_internal.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ double reference network */

/* Mean loss over n rows of the network with parameters p (layout of net), computed in double with
 * the scalar reference activation and loss. */
static double ref_loss(const mlp_net *net, const double *p, const float *x, const int32_t *y, int n,
                       const mlp_loss_cfg *lc) {
    const mlp_arch *A = &net->arch;
    const int L = A->n_layers;
    double total = 0;
    double cur[1024], nxt[1024]; /* widths up to 1024 */
    for (int r = 0; r < n; r++) {
        int w = A->width[0];
        for (int i = 0; i < w; i++) cur[i] = x[(size_t)r * w + i];
        for (int l = 0; l < L; l++) {
            const int in = A->width[l], out = A->width[l + 1];
            const double *W = p + net->w_off[l], *b = p + net->b_off[l];
            for (int o = 0; o < out; o++) {
                double u = b[o];
                for (int i = 0; i < in; i++) u += W[(size_t)o * in + i] * cur[i];
                nxt[o] = l < L - 1 ? mlp_act_ref(A->act, u) : u;
            }
            memcpy(cur, nxt, sizeof(double) * (size_t)out);
        }
        total += mlp_loss_ref(lc, cur, y[r], A->width[L], NULL);
    }
    return total / n;
}

static void fill_random(float *v, size_t n, double scale, mlp_rng *r) {
    for (size_t i = 0; i < n; i++) v[i] = (float)(mlp_rng_normal(r) * scale);
}

/*
 * Compare the float backward pass with central finite differences of the double reference, for
 * every parameter of a small network. The gradient checked is that of the mean loss (grad_scale 1/N).
 * Relative error: |g - fd| / max(1e-3, |g| + |fd|) summed up as a worst case.
 */
static double grad_check(mlp_act act, mlp_loss loss, const char *hidden, double weight_scale, double input_scale,
                         uint64_t seed) {
    const int N = 4, D = 6, K = 10;
    mlp_arch arch;
    mlp_net net;
    mlp_error err;
    CHECK(mlp_arch_parse(&arch, hidden, D, K, act, &err) == MLP_OK);
    CHECK(mlp_net_create(&net, &arch, N, &err) == MLP_OK);
    mlp_net_set_exec(&net, 1, MLP_KERNELS_PORTABLE, &err);
    mlp_rng rng;
    mlp_rng_seed(&rng, seed, 7);
    fill_random(net.params, net.n_params, weight_scale, &rng);
    mlp_net_params_changed(&net);
    float x[4 * 6];
    int32_t y[4];
    fill_random(x, sizeof x / sizeof *x, input_scale, &rng);
    for (int r = 0; r < N; r++) y[r] = (int32_t)mlp_rng_below(&rng, K);

    mlp_loss_cfg lc = mlp_loss_default(loss);
    if (loss == MLP_LOSS_HINGE) lc.hinge_margin = 0.7f; /* keep some terms inactive */
    const float *logits = mlp_net_forward(&net, x, N);
    float dlogits[4 * 10];
    mlp_loss_eval(&lc, logits, y, N, K, dlogits, 1.0f / N, NULL);
    mlp_net_backward(&net, x, dlogits, N);

    double *p = malloc(sizeof(double) * net.n_params);
    for (size_t i = 0; i < net.n_params; i++) p[i] = net.params[i];
    double worst = 0;
    for (size_t i = 0; i < net.n_params; i++) {
        const double h = 1e-6 * (1 + fabs(p[i]));
        double keep = p[i];
        p[i] = keep + h;
        double fp = ref_loss(&net, p, x, y, N, &lc);
        p[i] = keep - h;
        double fm = ref_loss(&net, p, x, y, N, &lc);
        p[i] = keep;
        double fd = (fp - fm) / (2 * h), g = net.grads[i];
        double rel = fabs(g - fd) / fmax(1e-3, fabs(g) + fabs(fd));
        if (rel > worst) worst = rel;
    }
    free(p);
    mlp_net_free(&net);
    return worst;
}

TEST(net_gradcheck_all_pairs_1_and_2_hidden) {
    static const char *hiddens[] = {"5", "5,4"};
    for (int h = 0; h < 2; h++)
        for (int a = 0; a < MLP_ACT_COUNT; a++)
            for (int l = 0; l < MLP_LOSS_COUNT; l++) {
                /* relu and hinge have kinks; random points avoid them almost surely */
                double worst = grad_check((mlp_act)a, (mlp_loss)l, hiddens[h], 0.8, 1.0, 11 + (uint64_t)(a * 7 + l));
                CHECK_MSG(worst < 2e-3, "hidden %s, %s + %s: worst relative gradient error %.3g", hiddens[h],
                          mlp_act_name((mlp_act)a), mlp_loss_name((mlp_loss)l), worst);
            }
}

TEST(net_gradcheck_large_preactivations) {
    /* weights of scale 3 and inputs of scale 3: pre-activations of tens, saturating sigmoid, tanh, gelu */
    for (int a = 0; a < MLP_ACT_COUNT; a++)
        for (int l = 0; l < MLP_LOSS_COUNT; l++) {
            double worst = grad_check((mlp_act)a, (mlp_loss)l, "5,4", 3.0, 3.0, 99 + (uint64_t)(a * 7 + l));
            CHECK_MSG(worst < 5e-3, "large |u|, %s + %s: worst relative gradient error %.3g",
                      mlp_act_name((mlp_act)a), mlp_loss_name((mlp_loss)l), worst);
        }
}

TEST(net_gradcheck_tied_logits) {
    /* zero output weights and biases: every logit of every row is 0 (a tie everywhere) */
    for (int l = 0; l < MLP_LOSS_COUNT; l++) {
        mlp_arch arch;
        mlp_net net;
        mlp_error err;
        const int N = 3, D = 4, K = 10;
        CHECK(mlp_arch_parse(&arch, "3", D, K, MLP_ACT_GELU, &err) == MLP_OK);
        CHECK(mlp_net_create(&net, &arch, N, &err) == MLP_OK);
        mlp_rng rng;
        mlp_rng_seed(&rng, 5, 0);
        fill_random(net.params, net.n_params, 0.5, &rng);
        memset(net.params + net.w_off[1], 0, sizeof(float) * (net.n_params - net.w_off[1]));
        mlp_net_params_changed(&net);
        float x[12];
        int32_t y[3] = {0, 4, 9};
        fill_random(x, 12, 1.0, &rng);
        mlp_loss_cfg lc = mlp_loss_default((mlp_loss)l);
        const float *logits = mlp_net_forward(&net, x, N);
        for (int i = 0; i < N * K; i++) CHECK(logits[i] == 0.0f);
        int correct = -1;
        float dl[30];
        mlp_loss_eval(&lc, logits, y, N, K, dl, 1.0f / N, &correct);
        CHECK_INT(correct, 1); /* first maximum on ties: class 0, right for the first row only */
        mlp_net_backward(&net, x, dl, N);
        double *p = malloc(sizeof(double) * net.n_params);
        for (size_t i = 0; i < net.n_params; i++) p[i] = net.params[i];
        for (size_t i = net.w_off[1]; i < net.n_params; i++) {
            const double h = 1e-6;
            double keep = p[i];
            p[i] = keep + h;
            double fp = ref_loss(&net, p, x, y, N, &lc);
            p[i] = keep - h;
            double fm = ref_loss(&net, p, x, y, N, &lc);
            p[i] = keep;
            CHECK_NEAR(net.grads[i], (fp - fm) / (2 * h), 1e-4 + 1e-3 * fabs(net.grads[i]));
        }
        free(p);
        mlp_net_free(&net);
    }
}

TEST(net_layout_and_forward_match_reference) {
    mlp_arch arch;
    mlp_net net;
    mlp_error err;
    CHECK(mlp_arch_parse(&arch, "128,32", 784, 10, MLP_ACT_SWISH, &err) == MLP_OK);
    CHECK_INT(arch.n_layers, 3);
    CHECK(mlp_net_create(&net, &arch, 7, &err) == MLP_OK);
    CHECK_INT(net.n_params, 784 * 128 + 128 + 128 * 32 + 32 + 32 * 10 + 10);
    CHECK_INT(net.w_off[0], 0);
    CHECK_INT(net.b_off[0], 784 * 128);
    CHECK_INT(net.w_off[1], 784 * 128 + 128);
    CHECK_INT(net.b_off[2], net.n_params - 10);
    mlp_rng rng;
    mlp_rng_seed(&rng, 1, 1);
    mlp_net_init(&net, 0.05f, &rng);
    for (int l = 0; l < 3; l++)
        for (int o = 0; o < arch.width[l + 1]; o++) CHECK(net.params[net.b_off[l] + o] == 0.0f);
    /* sample std of the first layer's weights */
    double s2 = 0;
    for (size_t i = 0; i < 784 * 128; i++) s2 += (double)net.params[i] * net.params[i];
    CHECK_NEAR(sqrt(s2 / (784 * 128)), 0.05, 0.001);
    fill_random(net.params + net.b_off[0], 128, 0.1, &rng); /* nonzero biases for the comparison */
    mlp_net_params_changed(&net);

    float x[7 * 784];
    int32_t y[7] = {0};
    fill_random(x, 7 * 784, 0.3, &rng);
    mlp_loss_cfg lc = mlp_loss_default(MLP_LOSS_MSE);
    for (int k = MLP_KERNELS_PORTABLE; k < MLP_KERNELS_COUNT; k++) {
        if (!mlp_kernels_supported((mlp_kernels)k)) continue;
        CHECK(mlp_net_set_exec(&net, 1 + (k & 1), (mlp_kernels)k, &err) == MLP_OK);
        const float *logits = mlp_net_forward(&net, x, 7);
        double *p = malloc(sizeof(double) * net.n_params);
        for (size_t i = 0; i < net.n_params; i++) p[i] = net.params[i];
        for (int r = 0; r < 7; r++) {
            /* MSE against label 0 of a single row = sum_k (y_k - t_k)^2 : check the logits through it */
            double want = ref_loss(&net, p, x + r * 784, y, 1, &lc);
            double got = 0;
            for (int c = 0; c < 10; c++) {
                double d = logits[r * 10 + c] - (c == 0);
                got += d * d;
            }
            CHECK_NEAR(got, want, 1e-5 * (1 + want));
        }
        free(p);
    }
    mlp_net_free(&net);
}

TEST(net_create_rejects_bad_arch) {
    mlp_arch arch;
    mlp_error err;
    CHECK(mlp_arch_parse(&arch, "0", 784, 10, MLP_ACT_RELU, &err) == MLP_ERR_ARG);
    CHECK_CONTAINS(err.msg, "out of range");
    CHECK(mlp_arch_parse(&arch, "128,", 784, 10, MLP_ACT_RELU, &err) == MLP_ERR_ARG);
    CHECK(mlp_arch_parse(&arch, "12x", 784, 10, MLP_ACT_RELU, &err) == MLP_ERR_ARG);
    CHECK_CONTAINS(err.msg, "12x");
    CHECK(mlp_arch_parse(&arch, "none", 784, 10, MLP_ACT_RELU, &err) == MLP_OK);
    CHECK_INT(arch.n_layers, 1);
    CHECK(mlp_arch_parse(&arch, "64,32,16", 784, 10, MLP_ACT_RELU, &err) == MLP_OK);
    char buf[64];
    mlp_arch_format(&arch, buf, sizeof buf);
    CHECK(strcmp(buf, "784-64-32-16-10") == 0);
    mlp_net net;
    CHECK(mlp_net_create(&net, &arch, 0, &err) == MLP_ERR_ARG);
    CHECK(net.params == NULL);
}

/* ------------------------------------------------------------------ optimizer */

TEST(optim_sgd_step_by_hand) {
    /* A 1-layer net 1 -> 2 has 4 parameters: W = [w0, w1] (2x1), b = [b0, b1]. */
    mlp_arch arch = {1, {1, 2}, MLP_ACT_RELU};
    mlp_net net;
    mlp_error err;
    CHECK(mlp_net_create(&net, &arch, 1, &err) == MLP_OK);
    float p0[4] = {1.0f, -2.0f, 0.5f, 0.0f};
    float g[4] = {0.5f, 0.25f, -1.0f, 2.0f};
    memcpy(net.params, p0, sizeof p0);
    memcpy(net.grads, g, sizeof g);
    /* lr 0.1, wd 0.01, momentum 0.9, v = 0:
     *   v1 = g + wd p = (0.5 + 0.01, 0.25 - 0.02, -1 + 0.005, 2 + 0) = (0.51, 0.23, -0.995, 2)
     *   p1 = p - 0.1 v1 = (0.949, -2.023, 0.5995, -0.2)   -- weight decay reaches the biases too */
    mlp_sgd_step(&net, 0.1f, 0.01f, 0.9f);
    const double v1[4] = {0.51, 0.23, -0.995, 2.0}, p1[4] = {0.949, -2.023, 0.5995, -0.2};
    for (int i = 0; i < 4; i++) {
        CHECK_NEAR(net.momentum[i], v1[i], 1e-6);
        CHECK_NEAR(net.params[i], p1[i], 1e-6);
    }
    /* second step, same gradients:
     *   v2 = 0.9 v1 + g + wd p1 = (0.459+0.5+0.00949, 0.207+0.25-0.02023, -0.8955-1+0.005995, 1.8+2-0.002)
     *      = (0.96849, 0.43677, -1.889505, 3.798)
     *   p2 = p1 - 0.1 v2 = (0.852151, -2.066677, 0.7884505, -0.5798) */
    mlp_sgd_step(&net, 0.1f, 0.01f, 0.9f);
    const double v2[4] = {0.96849, 0.43677, -1.889505, 3.798}, p2[4] = {0.852151, -2.066677, 0.7884505, -0.5798};
    for (int i = 0; i < 4; i++) {
        CHECK_NEAR(net.momentum[i], v2[i], 2e-6);
        CHECK_NEAR(net.params[i], p2[i], 2e-6);
    }
    /* the transposed copy used by the forward pass follows the parameters */
    CHECK(net.ws->wt[0][0] == net.params[0] && net.ws->wt[0][1] == net.params[1]);
    mlp_net_free(&net);
}

/* A dataset of n images with d pixels, values from rng. */
static void toy_dataset(mlp_dataset *ds, int n, int d, mlp_rng *rng) {
    memset(ds, 0, sizeof *ds);
    ds->n = n;
    ds->rows = 1;
    ds->cols = ds->dim = d;
    ds->x = malloc(sizeof(float) * (size_t)n * d);
    ds->y = malloc((size_t)n * sizeof *ds->y);
    fill_random(ds->x, (size_t)n * d, 0.5, rng);
    for (int i = 0; i < n; i++) ds->y[i] = (int32_t)(i % 10);
}

/*
 * One trainer step on a 1-layer net (3 inputs -> 10, MSE), batch = the whole set of N = 4 rows, by hand:
 *   logits y = x W^T + b;  dE_n/dy = 2 (y - t);   summed reduction: g = sum_n (...);  mean: g / N
 *   v = g + wd p ; p' = p - lr v
 * and the reference's equivalence: sum with (lr, wd) equals mean with (lr N, wd / N), to float accuracy.
 */
TEST(optim_trainer_step_sum_and_mean) {
    const int N = 4, D = 3, K = 10;
    mlp_rng rng;
    mlp_rng_seed(&rng, 3, 3);
    mlp_dataset ds;
    toy_dataset(&ds, N, D, &rng);
    mlp_arch arch = {1, {D, K}, MLP_ACT_RELU};
    mlp_net nets[2];
    mlp_error err;
    float p0[40];
    fill_random(p0, 40, 0.3, &rng);
    for (int red = 0; red < 2; red++) {
        CHECK(mlp_net_create(&nets[red], &arch, N, &err) == MLP_OK);
        memcpy(nets[red].params, p0, sizeof p0);
        mlp_net_params_changed(&nets[red]);
        mlp_train_cfg cfg = mlp_train_cfg_default();
        cfg.loss = mlp_loss_default(MLP_LOSS_MSE);
        cfg.batch = N;
        cfg.shuffle = 0;
        cfg.momentum = 0.9f;
        cfg.reduction = red ? MLP_GRAD_MEAN : MLP_GRAD_SUM;
        cfg.lr = red ? 0.04f : 0.01f;   /* lr_mean = lr_sum * N */
        cfg.wd = red ? 0.025f : 0.1f;   /* wd_mean = wd_sum / N */
        mlp_trainer tr;
        CHECK(mlp_trainer_init(&tr, &nets[red], &cfg, &ds, NULL, &err) == MLP_OK);
        mlp_epoch_metrics m;
        CHECK(mlp_trainer_epoch(&tr, &m, &err) == MLP_OK);

        /* by hand, in double */
        double g[40] = {0}, loss = 0;
        for (int n = 0; n < N; n++)
            for (int k = 0; k < K; k++) {
                double yk = p0[30 + k];
                for (int i = 0; i < D; i++) yk += (double)p0[k * D + i] * ds.x[n * D + i];
                double dy = 2 * (yk - (ds.y[n] == k));
                loss += (yk - (ds.y[n] == k)) * (yk - (ds.y[n] == k));
                for (int i = 0; i < D; i++) g[k * D + i] += dy * ds.x[n * D + i];
                g[30 + k] += dy;
            }
        CHECK_NEAR(m.train_loss, loss / N, 1e-5 * loss);
        for (int i = 0; i < 40; i++) {
            double gi = red ? g[i] / N : g[i];
            double v = gi + (double)cfg.wd * p0[i];
            CHECK_NEAR(nets[red].momentum[i], v, 1e-5 * (1 + fabs(v)));
            CHECK_NEAR(nets[red].params[i], p0[i] - (double)cfg.lr * v, 1e-6);
        }
        mlp_trainer_free(&tr);
    }
    for (int i = 0; i < 40; i++) CHECK_NEAR(nets[0].params[i], nets[1].params[i], 1e-6);
    mlp_net_free(&nets[0]);
    mlp_net_free(&nets[1]);
    free(ds.x);
    free(ds.y);
}

TEST(train_diverges_with_clear_message) {
    const int N = 50, D = 8;
    mlp_rng rng;
    mlp_rng_seed(&rng, 4, 4);
    mlp_dataset ds;
    toy_dataset(&ds, N, D, &rng);
    mlp_arch arch;
    mlp_net net;
    mlp_error err;
    CHECK(mlp_arch_parse(&arch, "16", D, 10, MLP_ACT_RELU, &err) == MLP_OK);
    CHECK(mlp_net_create(&net, &arch, 10, &err) == MLP_OK);
    mlp_net_init(&net, 0.1f, &rng);
    mlp_train_cfg cfg = mlp_train_cfg_default();
    cfg.loss = mlp_loss_default(MLP_LOSS_MSE);
    cfg.batch = 10;
    cfg.lr = 1e6f;
    mlp_trainer tr;
    CHECK(mlp_trainer_init(&tr, &net, &cfg, &ds, NULL, &err) == MLP_OK);
    mlp_epoch_metrics m;
    mlp_status st = MLP_OK;
    for (int e = 0; e < 5 && st == MLP_OK; e++) st = mlp_trainer_epoch(&tr, &m, &err);
    CHECK(st == MLP_ERR_DIVERGED);
    CHECK_CONTAINS(err.msg, "epoch 1, step");
    CHECK_CONTAINS(err.msg, "smaller learning rate");
    mlp_trainer_free(&tr);
    mlp_net_free(&net);
    free(ds.x);
    free(ds.y);
}

TEST(train_rejects_bad_config) {
    mlp_rng rng;
    mlp_rng_seed(&rng, 4, 4);
    mlp_dataset ds;
    toy_dataset(&ds, 20, 4, &rng);
    mlp_arch arch;
    mlp_net net;
    mlp_error err;
    mlp_trainer tr;
    CHECK(mlp_arch_parse(&arch, "4", 4, 10, MLP_ACT_RELU, &err) == MLP_OK);
    CHECK(mlp_net_create(&net, &arch, 10, &err) == MLP_OK);
    mlp_train_cfg cfg = mlp_train_cfg_default();
    cfg.batch = 10;
    cfg.lr = -1;
    CHECK(mlp_trainer_init(&tr, &net, &cfg, &ds, NULL, &err) == MLP_ERR_ARG);
    CHECK_CONTAINS(err.msg, "learning rate");
    cfg.lr = 0.1f;
    cfg.batch = 21;
    CHECK(mlp_trainer_init(&tr, &net, &cfg, &ds, NULL, &err) == MLP_ERR_ARG);
    CHECK_CONTAINS(err.msg, "batch size 21");
    cfg.batch = 10;
    cfg.momentum = 1.0f;
    CHECK(mlp_trainer_init(&tr, &net, &cfg, &ds, NULL, &err) == MLP_ERR_ARG);
    CHECK_CONTAINS(err.msg, "momentum");
    mlp_net_free(&net);
    free(ds.x);
    free(ds.y);
}

TEST(rng_streams_and_distribution) {
    mlp_rng a, b, c;
    mlp_rng_seed(&a, 1, 1);
    mlp_rng_seed(&b, 1, 1);
    mlp_rng_seed(&c, 1, 2);
    int same_ab = 1, same_ac = 1;
    for (int i = 0; i < 100; i++) {
        uint64_t x = mlp_rng_u64(&a), y = mlp_rng_u64(&b), z = mlp_rng_u64(&c);
        same_ab &= x == y;
        same_ac &= x == z;
    }
    CHECK(same_ab);
    CHECK(!same_ac);
    double s = 0, s2 = 0;
    int counts[7] = {0};
    for (int i = 0; i < 200000; i++) {
        double z = mlp_rng_normal(&a);
        s += z;
        s2 += z * z;
        counts[mlp_rng_below(&a, 7)]++;
    }
    CHECK_NEAR(s / 200000, 0.0, 0.01);
    CHECK_NEAR(s2 / 200000, 1.0, 0.01);
    for (int k = 0; k < 7; k++) CHECK_NEAR(counts[k], 200000 / 7.0, 600);
}
