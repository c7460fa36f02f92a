/* test_e2e.c - end to end on the real MNIST: accuracy after short training, every activation x loss
 * pair, bitwise repeatability, and the command-line tool (run folder, eval, predict, info, usage errors).
 * Skipped (not failed) when the MNIST files are absent; `make test` fetches them first. */
#include "check.h"
#include "mlp.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

static mlp_dataset g_train, g_test;
static int g_loaded = -1; /* -1 not tried, 0 missing, 1 loaded */

static int mnist(void) {
    if (g_loaded < 0) {
        const char *dir = check_mnist_dir();
        mlp_error err;
        g_loaded = 0;
        if (dir && mlp_dataset_load_dir(&g_train, &g_test, dir, mlp_scaling_default(), &err) == MLP_OK) g_loaded = 1;
        else if (dir) check_fail(__FILE__, __LINE__, "MNIST present in %s but did not load: %s", dir, err.msg);
    }
    if (!g_loaded) check_skip("MNIST not found (run `make data` or set MLP_DATA)");
    return g_loaded;
}

typedef struct {
    mlp_epoch_metrics last;
    mlp_status st;
    char msg[512];
} run_result;

/* Train a 784-hidden-10 network for `epochs` epochs with mean gradients, momentum 0.9, wd 1e-4. */
static run_result train_run_b(const char *hidden, mlp_act act, mlp_loss loss, float lr, int batch, float init_std,
                              int epochs, int threads, mlp_kernels kernels, uint64_t seed, mlp_net *keep) {
    run_result res;
    memset(&res, 0, sizeof res);
    mlp_arch arch;
    mlp_net net;
    mlp_error err;
    mlp_arch_parse(&arch, hidden, 784, 10, act, &err);
    CHECK(mlp_net_create(&net, &arch, 1000, &err) == MLP_OK);
    CHECK(mlp_net_set_exec(&net, threads, kernels, &err) == MLP_OK);
    mlp_train_cfg cfg = mlp_train_cfg_default();
    cfg.loss = mlp_loss_default(loss);
    cfg.reduction = MLP_GRAD_MEAN;
    cfg.lr = lr;
    cfg.wd = 1e-4f;
    cfg.epochs = epochs;
    cfg.seed = seed;
    cfg.batch = batch;
    cfg.init_std = init_std;
    mlp_rng rng;
    mlp_rng_seed(&rng, seed, 1);
    mlp_net_init(&net, cfg.init_std, &rng);
    mlp_trainer tr;
    res.st = mlp_trainer_init(&tr, &net, &cfg, &g_train, &g_test, &err);
    for (int e = 0; e < epochs && res.st == MLP_OK; e++) res.st = mlp_trainer_epoch(&tr, &res.last, &err);
    if (res.st) snprintf(res.msg, sizeof res.msg, "%s", err.msg);
    mlp_trainer_free(&tr);
    if (keep) *keep = net;
    else mlp_net_free(&net);
    return res;
}

/* batch 100, init std 0.01 */
static run_result train_run(const char *hidden, mlp_act act, mlp_loss loss, float lr, int epochs, int threads,
                            mlp_kernels kernels, uint64_t seed, mlp_net *keep) {
    return train_run_b(hidden, act, loss, lr, 100, 0.01f, epochs, threads, kernels, seed, keep);
}

TEST(e2e_gelu_ce_two_epochs_reaches_96) {
    if (!mnist()) return;
    /* 2 epochs at batch 100 with momentum 0.9 end near 0.96; batch 25 (2400 steps per epoch) and an init
     * scale near 1/sqrt(784) give 0.962-0.967 over seeds 1-3. */
    run_result r = train_run_b("128", MLP_ACT_GELU, MLP_LOSS_CE, 0.015f, 25, 0.05f, 2, 2, MLP_KERNELS_AUTO, 1, NULL);
    CHECK_MSG(r.st == MLP_OK, "training failed: %s", r.msg);
    printf("    gelu+ce 2 epochs: train acc %.4f, test acc %.4f, test loss %.4f\n", r.last.train_acc, r.last.test_acc,
           r.last.test_loss);
    CHECK_MSG(r.last.test_acc >= 0.96, "test accuracy %.4f < 0.96", r.last.test_acc);
}

TEST(e2e_every_activation_and_loss_trains) {
    if (!mnist()) return;
    for (int a = 0; a < MLP_ACT_COUNT; a++)
        for (int l = 0; l < MLP_LOSS_COUNT; l++) {
            /* focal carries alpha = 0.1, so it learns ten times slower: a larger step */
            float lr = l == MLP_LOSS_FOCAL ? 0.2f : (l == MLP_LOSS_MSE ? 0.02f : 0.02f);
            run_result r = train_run("128", (mlp_act)a, (mlp_loss)l, lr, 1, 2, MLP_KERNELS_AUTO, 2, NULL);
            const char *an = mlp_act_name((mlp_act)a), *ln = mlp_loss_name((mlp_loss)l);
            CHECK_MSG(r.st == MLP_OK, "%s + %s: %s", an, ln, r.msg);
            CHECK_MSG(isfinite(r.last.train_loss) && isfinite(r.last.test_loss), "%s + %s: non-finite loss", an, ln);
            CHECK_MSG(r.last.test_acc > 0.80, "%s + %s: test accuracy %.4f after 1 epoch (chance is 0.10)", an, ln,
                      r.last.test_acc);
            printf("    %-8s %-6s train loss %.4f acc %.4f | test loss %.4f acc %.4f\n", an, ln, r.last.train_loss,
                   r.last.train_acc, r.last.test_loss, r.last.test_acc);
        }
}

/* Same seed: bitwise the same parameters with 1 or 2 threads, for the fast path. */
TEST(e2e_threads_give_identical_models) {
    if (!mnist()) return;
    mlp_net a, b;
    train_run("128,32", MLP_ACT_SELU, MLP_LOSS_HINGE, 0.01f, 1, 1, MLP_KERNELS_AUTO, 3, &a);
    train_run("128,32", MLP_ACT_SELU, MLP_LOSS_HINGE, 0.01f, 1, 2, MLP_KERNELS_AUTO, 3, &b);
    CHECK(a.n_params == b.n_params);
    CHECK(memcmp(a.params, b.params, sizeof(float) * a.n_params) == 0);
    CHECK(memcmp(a.momentum, b.momentum, sizeof(float) * a.n_params) == 0);
    mlp_net_free(&a);
    mlp_net_free(&b);
}

/* ------------------------------------------------------------------ the command-line tool */



static long file_size(const char *dir, const char *name) {
    char path[2048];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

TEST(cli_usage_errors_exit_2) {
    static char out[8192];
    static const struct {
        const char *args, *phrase;
    } cases[] = {
        {"train --act softsign", "unknown activation 'softsign'"},
        {"train --act softsign", "gelu"},
        {"train --loss l1", "unknown loss 'l1'"},
        {"train --lr abc", "'abc' is not a number"},
        {"train --lr -1", "out of range"},
        {"train --batch 0", "out of range"},
        {"train --epochs 0", "out of range"},
        {"train --hidden 128,0", "out of range"},
        {"train --hidden 12a", "12a"},
        {"train --grad-reduction avg", "sum, mean"},
        {"train --focal-alpha 0.1,x", "one per class"}, /* the count against the classes: test_data.c, data_many_classes */
        {"train --frobnicate", "unknown option '--frobnicate'"},
        {"train --lr", "needs a value"},
        {"frobnicate", "unknown command"},
        {"eval", "which model"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int st = check_sh(out, sizeof out, 1, "%s %s", check_mlp_bin(), cases[i].args);
        CHECK_MSG(st == 2, "mlp %s: exit status %d, expected 2 (output: %s)", cases[i].args, st, out);
        CHECK_CONTAINS(out, cases[i].phrase);
    }
    CHECK_INT(check_sh(out, sizeof out, 1, "%s --version", check_mlp_bin()), 0);
    CHECK_CONTAINS(out, MLP_VERSION);
    CHECK_INT(check_sh(out, sizeof out, 1, "%s train --help", check_mlp_bin()), 0);
    CHECK_CONTAINS(out, "--grad-reduction");
}

TEST(cli_train_eval_predict_info) {
    if (!mnist()) return;
    static char out[16384];
    const char *dir = check_tmpdir();
    char run[1024];
    snprintf(run, sizeof run, "%s/run", dir);
    int st = check_sh(out, sizeof out, 1,
                     "%s train --data '%s' --epochs 1 --act relu --loss ce --grad-reduction mean --lr 0.05 --threads 2 "
                     "--out '%s'",
                     check_mlp_bin(), check_mnist_dir(), run);
    CHECK_MSG(st == 0, "train exit %d: %s", st, out);
    CHECK_CONTAINS(out, "test_acc");
    CHECK_CONTAINS(out, "total time");
    CHECK(file_size(run, "config.json") > 100);
    CHECK_INT(file_size(run, "model.safetensors") > 0, 1);
    /* metrics.csv: the header and one line */
    char path[1100];
    snprintf(path, sizeof path, "%s/metrics.csv", run);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (f) {
        char line[512];
        CHECK(fgets(line, sizeof line, f) && !strcmp(line, "epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds\n"));
        int epoch = 0;
        double trl = 0, tra = 0, tel = 0, tea = 0, lr = 0, sec = 0;
        CHECK(fgets(line, sizeof line, f) &&
              sscanf(line, "%d,%lf,%lf,%lf,%lf,%lf,%lf", &epoch, &trl, &tra, &tel, &tea, &lr, &sec) == 7);
        CHECK_INT(epoch, 1);
        CHECK(tea > 0.9 && tea <= 1.0);
        CHECK_NEAR(lr, 0.05, 1e-6);
        fclose(f);
    }
    /* an existing run folder is refused */
    st = check_sh(out, sizeof out, 1, "%s train --data '%s' --epochs 1 --out '%s'", check_mlp_bin(), check_mnist_dir(), run);
    CHECK_INT(st, 1);
    CHECK_CONTAINS(out, "already holds a run");

    /* eval: the accuracy of metrics.csv, and a confusion matrix whose rows sum to the label counts */
    st = check_sh(out, sizeof out, 1, "%s eval '%s/model.safetensors' --data '%s'", check_mlp_bin(), run, check_mnist_dir());
    CHECK_MSG(st == 0, "eval exit %d: %s", st, out);
    CHECK_CONTAINS(out, "test accuracy");
    CHECK_CONTAINS(out, "confusion matrix");

    st = check_sh(out, sizeof out, 1, "%s info '%s/model.safetensors'", check_mlp_bin(), run);
    CHECK_MSG(st == 0, "info exit %d: %s", st, out);
    CHECK_CONTAINS(out, "784-128-10");
    CHECK_CONTAINS(out, "relu");
    CHECK_CONTAINS(out, "fc1.weight [128, 784]");

    /* predict: the first test image written as P5 and as P2 must get the class the library gives */
    mlp_net net;
    mlp_model_meta meta;
    mlp_error err;
    char model[1100];
    snprintf(model, sizeof model, "%s/model.safetensors", run);
    CHECK(mlp_model_load(model, &net, 1, &meta, &err) == MLP_OK);
    const float *logits = mlp_net_forward(&net, g_test.x, 1);
    int best = 0;
    for (int k = 1; k < 10; k++)
        if (logits[k] > logits[best]) best = k;
    char p5[1100], p2[1100];
    snprintf(p5, sizeof p5, "%s/img5.pgm", dir);
    snprintf(p2, sizeof p2, "%s/img2.pgm", dir);
    FILE *f5 = fopen(p5, "wb"), *f2 = fopen(p2, "w");
    fprintf(f5, "P5\n28 28\n255\n");
    fprintf(f2, "P2\n# first test image\n28 28\n255\n");
    for (int i = 0; i < 784; i++) {
        int p = (int)lroundf(g_test.x[i] * 255.0f + 128.0f);
        fputc(p, f5);
        fprintf(f2, "%d%c", p, i % 28 == 27 ? '\n' : ' ');
    }
    fclose(f5);
    fclose(f2);
    st = check_sh(out, sizeof out, 1, "%s predict '%s' '%s' '%s'", check_mlp_bin(), model, p5, p2);
    CHECK_MSG(st == 0, "predict exit %d: %s", st, out);
    char want[1200];
    snprintf(want, sizeof want, "img5.pgm: %d ", best);
    CHECK_CONTAINS(out, want);
    snprintf(want, sizeof want, "img2.pgm: %d ", best);
    CHECK_CONTAINS(out, want);
    CHECK_INT(best, g_test.y[0]); /* the first test image is a 7 that any trained net gets right */
    mlp_net_free(&net);

    /* a missing model file: runtime error, exit 1, naming the file */
    st = check_sh(out, sizeof out, 1, "%s info '%s/nope.safetensors'", check_mlp_bin(), dir);
    CHECK_INT(st, 1);
    CHECK_CONTAINS(out, "nope.safetensors");
}

TEST(cli_fashion_mnist_train_and_eval) {
    const char *fd = check_fashion_dir();
    if (!fd) {
        check_skip("Fashion-MNIST not found (make data DATASET=fashion-mnist)");
        return;
    }
    static char out[16384];
    char run[1100];
    snprintf(run, sizeof run, "%s/fashion", check_tmpdir());
    int st = check_sh(out, sizeof out, 1,
                     "%s train --dataset fashion-mnist --data '%s' --epochs 1 --loss ce --grad-reduction mean "
                     "--lr 0.02 --json --out '%s'",
                     check_mlp_bin(), fd, run);
    CHECK_MSG(st == 0, "train exit %d: %s", st, out);
    double acc = -1;
    const char *p = strstr(out, "\"test_acc\": ");
    if (p) acc = atof(p + 12);
    printf("    fashion-mnist 1 epoch: test acc %.4f\n", acc);
    CHECK_MSG(acc > 0.75 && acc <= 1.0, "Fashion-MNIST test accuracy %.4f after one epoch", acc);
    st = check_sh(out, sizeof out, 1, "%s eval '%s/model.safetensors' --data '%s'", check_mlp_bin(), run, fd);
    CHECK_MSG(st == 0, "eval exit %d: %s", st, out);
    CHECK_CONTAINS(out, "Ankle boot");
    CHECK_CONTAINS(out, "T-shirt/top");
}
