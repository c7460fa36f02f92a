/* test_mpi.c - the trainer's data-parallel hook (mlp_trainer_set_shards), without MPI:
 * the shards are threads of this process and combine() sums their gradients in shard order through shared
 * memory, as `mpirun -np P mlp train` does across processes (docs/MPI.md; scripts/test_mpi.sh tests that).
 *   - one shard through the hook (the unfused step) gives bitwise the fused trainer's result (dense inputs);
 *   - 2 and 3 shards: every shard ends with the same parameters, bitwise the same from one run to the next,
 *     and within a few float roundings of the single-process run;
 *   - a stop request on one shard stops every shard after the same step;
 *   - a failing combine ends the epoch with MLP_ERR_IO;
 *   - the first two again with Adam, a cosine schedule and dropout.
 * Small synthetic data (no MNIST): 250 rows of 20 inputs, batches of 32 with a partial last batch of 26. */
#include "check.h"
#include "mlp.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { N_ROWS = 250, DIM = 20, MAX_SHARDS = 3, EPOCHS = 5 };

static void make_data(mlp_dataset *ds, uint64_t seed) {
    memset(ds, 0, sizeof *ds);
    ds->n = N_ROWS;
    ds->rows = 4;
    ds->cols = 5;
    ds->dim = DIM;
    ds->x = malloc(sizeof(float) * N_ROWS * DIM);
    ds->y = malloc(N_ROWS * sizeof *ds->y);
    mlp_rng r;
    mlp_rng_seed(&r, seed, 7);
    for (int i = 0; i < N_ROWS; i++) {
        ds->y[i] = (int32_t)mlp_rng_below(&r, 10);
        /* inputs that carry the label, plus noise: a learnable problem */
        for (int k = 0; k < DIM; k++)
            ds->x[i * DIM + k] = (float)(mlp_rng_uniform(&r) - 0.5 + (k % 10 == ds->y[i] ? 2.0 : 0.0));
    }
}

/* 0: SGD; 1: Adam with a cosine schedule and dropout 0.2 (the shards' masks must be the single process's) */
static int g_variant;

static mlp_train_cfg test_cfg(void) {
    mlp_train_cfg c = mlp_train_cfg_default();
    if (g_variant == 1) c.optim = MLP_OPTIM_ADAM, c.schedule = MLP_SCHEDULE_COSINE, c.dropout = 0.2f;
    c.loss = mlp_loss_default(MLP_LOSS_CE);
    c.reduction = MLP_GRAD_MEAN;
    c.lr = 0.3f;
    c.wd = 1e-3f;
    c.batch = 32;
    c.epochs = EPOCHS;
    c.init_std = 0.1f;
    c.seed = 5;
    if (g_variant == 1) c.lr = 0.01f;
    return c;
}

static void make_net(mlp_net *net, const mlp_train_cfg *c) {
    mlp_arch arch;
    mlp_error err;
    CHECK(mlp_arch_parse(&arch, "16,12", DIM, 10, MLP_ACT_GELU, &err) == MLP_OK);
    CHECK(mlp_net_create(net, &arch, 64, &err) == MLP_OK);
    mlp_rng r;
    mlp_rng_seed(&r, c->seed, 1);
    mlp_net_init(net, c->init_std, &r);
    net->input_sparse = 0; /* the sharded step's first layer is dense: compare like with like */
}

/* ------------------------------------------------------------------ shards as threads */

typedef struct group {
    int shards;
    pthread_barrier_t bar;
    float *grads[MAX_SHARDS];
    double *sums[MAX_SHARDS];
    float *total;
    double total_sums[3];
    size_t n;
    int fail_at; /* combine fails at this call (0: never) */
    int calls;
} group;

typedef struct shard {
    group *g;
    int index;
    const mlp_dataset *train, *test;
    mlp_net net;
    mlp_trainer tr;
    volatile int stop;
    int stop_before_epoch; /* raise stop before this epoch (0: never) */
    mlp_status status[8];
    int steps_done[8];
    mlp_epoch_metrics m[8];
} shard;

/* The in-process twin of the MPI combine: totals in shard order, the same on every shard. */
static int combine_threads(void *user, float *grads, size_t n, double sums[3]) {
    shard *sh = user;
    group *g = sh->g;
    g->grads[sh->index] = grads;
    g->sums[sh->index] = sums;
    pthread_barrier_wait(&g->bar);
    if (sh->index == 0) {
        g->calls++;
        for (size_t i = 0; i < n; i++) {
            float s = g->grads[0][i];
            for (int j = 1; j < g->shards; j++) s += g->grads[j][i];
            g->total[i] = s;
        }
        for (int k = 0; k < 3; k++) {
            double s = g->sums[0][k];
            for (int j = 1; j < g->shards; j++) s += g->sums[j][k];
            g->total_sums[k] = s;
        }
    }
    pthread_barrier_wait(&g->bar);
    const int fail = g->fail_at && g->calls == g->fail_at;
    memcpy(grads, g->total, sizeof(float) * n);
    memcpy(sums, g->total_sums, sizeof g->total_sums);
    pthread_barrier_wait(&g->bar); /* nobody starts the next step before everyone has copied */
    return fail;
}

static void *shard_main(void *arg) {
    shard *sh = arg;
    mlp_error err;
    for (int e = 0; e < sh->tr.cfg.epochs && e < 8; e++) {
        if (sh->stop_before_epoch == e + 1) sh->stop = 1;
        sh->status[e] = mlp_trainer_epoch(&sh->tr, &sh->m[e], &err);
        sh->steps_done[e] = sh->tr.step_in_epoch;
        if (sh->status[e]) break;
    }
    return NULL;
}

/* Train with `shards` shards (threads); the shards' nets are left in sh[] (free with free_shards). */
static void run_shards(shard *sh, group *g, int shards, const mlp_dataset *train, const mlp_dataset *test,
                       int stop_shard, int stop_epoch, int fail_at) {
    const mlp_train_cfg c = test_cfg();
    memset(g, 0, sizeof *g);
    g->shards = shards;
    g->fail_at = fail_at;
    pthread_barrier_init(&g->bar, NULL, (unsigned)shards);
    pthread_t th[MAX_SHARDS];
    for (int i = 0; i < shards; i++) {
        memset(&sh[i], 0, sizeof sh[i]);
        sh[i].g = g;
        sh[i].index = i;
        make_net(&sh[i].net, &c);
        mlp_error err;
        CHECK(mlp_trainer_init(&sh[i].tr, &sh[i].net, &c, train, test, &err) == MLP_OK);
        CHECK(mlp_trainer_set_shards(&sh[i].tr, i, shards, combine_threads, &sh[i], &err) == MLP_OK);
        sh[i].tr.stop_flag = &sh[i].stop;
        if (i == stop_shard) sh[i].stop_before_epoch = stop_epoch;
    }
    g->n = sh[0].net.n_params;
    g->total = malloc(sizeof(float) * g->n);
    for (int i = 0; i < shards; i++) pthread_create(&th[i], NULL, shard_main, &sh[i]);
    for (int i = 0; i < shards; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&g->bar);
    free(g->total);
}

static void free_shards(shard *sh, int shards) {
    for (int i = 0; i < shards; i++) {
        mlp_trainer_free(&sh[i].tr);
        mlp_net_free(&sh[i].net);
    }
}

/* The single-process run (fused trainer), for comparison: its final net in *net. */
static void run_single(mlp_net *net, mlp_epoch_metrics *last, const mlp_dataset *train, const mlp_dataset *test) {
    const mlp_train_cfg c = test_cfg();
    make_net(net, &c);
    mlp_trainer tr;
    mlp_error err;
    CHECK(mlp_trainer_init(&tr, net, &c, train, test, &err) == MLP_OK);
    for (int e = 0; e < c.epochs; e++) CHECK(mlp_trainer_epoch(&tr, last, &err) == MLP_OK);
    mlp_trainer_free(&tr);
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - (double)b[i]));
    return d;
}

static double max_abs(const float *a, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i]));
    return d;
}

TEST(shards_one_shard_through_the_hook_is_bitwise_the_fused_trainer) {
    mlp_dataset train, test;
    make_data(&train, 1);
    make_data(&test, 2);
    mlp_net ref;
    mlp_epoch_metrics mref;
    run_single(&ref, &mref, &train, &test);
    shard sh[1];
    group g;
    run_shards(sh, &g, 1, &train, &test, -1, 0, 0);
    CHECK_INT(sh[0].status[EPOCHS - 1], MLP_OK);
    CHECK(memcmp(sh[0].net.params, ref.params, sizeof(float) * ref.n_params) == 0);
    CHECK(memcmp(sh[0].net.momentum, ref.momentum, sizeof(float) * ref.n_params) == 0);
    CHECK(sh[0].m[EPOCHS - 1].train_loss == mref.train_loss && sh[0].m[EPOCHS - 1].test_loss == mref.test_loss);
    CHECK(sh[0].m[EPOCHS - 1].train_acc == mref.train_acc && sh[0].m[EPOCHS - 1].test_acc == mref.test_acc);
    CHECK_MSG(mref.train_acc > 0.5, "train acc %g", mref.train_acc); /* it learned: the comparison is not between two untrained nets */
    free_shards(sh, 1);
    mlp_net_free(&ref);
    mlp_dataset_free(&train);
    mlp_dataset_free(&test);
}

TEST(shards_two_and_three_agree_reproduce_and_stay_close_to_one_process) {
    mlp_dataset train, test;
    make_data(&train, 1);
    make_data(&test, 2);
    mlp_net ref;
    mlp_epoch_metrics mref;
    run_single(&ref, &mref, &train, &test);
    const size_t n = ref.n_params;
    const double scale = max_abs(ref.params, n);
    for (int shards = 2; shards <= 3; shards++) {
        shard a[MAX_SHARDS], b[MAX_SHARDS];
        group ga, gb;
        run_shards(a, &ga, shards, &train, &test, -1, 0, 0);
        run_shards(b, &gb, shards, &train, &test, -1, 0, 0);
        for (int i = 0; i < shards; i++) {
            CHECK_INT(a[i].status[EPOCHS - 1], MLP_OK);
            /* every shard holds the same network */
            CHECK_MSG(memcmp(a[i].net.params, a[0].net.params, sizeof(float) * n) == 0,
                      "%d shards: shard %d's parameters differ from shard 0's", shards, i);
            CHECK(memcmp(a[i].net.momentum, a[0].net.momentum, sizeof(float) * n) == 0);
            CHECK(a[i].m[EPOCHS - 1].train_loss == a[0].m[EPOCHS - 1].train_loss);
        }
        /* run to run: the same bits */
        CHECK_MSG(memcmp(a[0].net.params, b[0].net.params, sizeof(float) * n) == 0,
                  "%d shards: two runs differ", shards);
        /* against one process: the gradient's chains are cut in `shards` pieces and added, so the last bits
         * differ; after 5 epochs (40 steps) the parameters agree to a few 1e-7 of their scale */
        const double d = max_abs_diff(a[0].net.params, ref.params, n);
        CHECK_MSG(d <= 1e-5 * scale, "%d shards: max |difference| %.3g (parameter scale %.3g)", shards, d, scale);
        CHECK_NEAR(a[0].m[EPOCHS - 1].train_loss, mref.train_loss, 1e-5 * fabs(mref.train_loss));
        CHECK_NEAR(a[0].m[EPOCHS - 1].test_acc, mref.test_acc, 2.0 / N_ROWS);
        free_shards(a, shards);
        free_shards(b, shards);
    }
    mlp_net_free(&ref);
    mlp_dataset_free(&train);
    mlp_dataset_free(&test);
}

TEST(shards_stop_together_and_a_failing_combine_ends_the_epoch) {
    mlp_dataset train, test;
    make_data(&train, 1);
    make_data(&test, 2);
    shard sh[MAX_SHARDS];
    group g;
    /* shard 1 alone is asked to stop before epoch 2: both stop after its first step */
    run_shards(sh, &g, 2, &train, &test, 1, 2, 0);
    for (int i = 0; i < 2; i++) {
        CHECK_INT(sh[i].status[0], MLP_OK);
        CHECK_INT(sh[i].status[1], MLP_ERR_INTERRUPTED);
        CHECK_INT(sh[i].steps_done[1], 1);
        CHECK_INT(sh[i].tr.epochs_done, 1);
    }
    CHECK(memcmp(sh[0].net.params, sh[1].net.params, sizeof(float) * sh[0].net.n_params) == 0);
    free_shards(sh, 2);
    /* the combine of the 3rd step fails: every shard's epoch ends with MLP_ERR_IO */
    run_shards(sh, &g, 2, &train, &test, -1, 0, 3);
    for (int i = 0; i < 2; i++) CHECK_INT(sh[i].status[0], MLP_ERR_IO);
    free_shards(sh, 2);
    mlp_dataset_free(&train);
    mlp_dataset_free(&test);
}

TEST(shards_set_shards_checks_its_arguments) {
    mlp_dataset train;
    make_data(&train, 1);
    const mlp_train_cfg c = test_cfg();
    mlp_net net;
    make_net(&net, &c);
    mlp_trainer tr;
    mlp_error err;
    CHECK(mlp_trainer_init(&tr, &net, &c, &train, NULL, &err) == MLP_OK);
    const int bad[][2] = {{-1, 2}, {2, 2}, {0, 0}, {3, 1}};
    for (int i = 0; i < 4; i++) {
        err.msg[0] = '\0';
        CHECK_INT(mlp_trainer_set_shards(&tr, bad[i][0], bad[i][1], NULL, NULL, &err), MLP_ERR_ARG);
        CHECK_MSG(strstr(err.msg, "shard") != NULL, "message: %s", err.msg);
    }
    /* off again (one shard, no combine): the epoch is the fused one, as after init */
    CHECK(mlp_trainer_set_shards(&tr, 0, 1, NULL, NULL, &err) == MLP_OK);
    mlp_epoch_metrics m;
    CHECK(mlp_trainer_epoch(&tr, &m, &err) == MLP_OK);
    mlp_trainer_free(&tr);
    mlp_trainer uninit;
    memset(&uninit, 0, sizeof uninit);
    CHECK_INT(mlp_trainer_set_shards(&uninit, 0, 2, NULL, NULL, &err), MLP_ERR_ARG);
    mlp_net_free(&net);
    mlp_dataset_free(&train);
}

/* The same two properties with Adam, a cosine schedule and dropout: the update rule, the rate and the masks
 * (rows numbered from the shard's first row in the batch) are those of one process. */
TEST(shards_adam_schedule_dropout) {
    g_variant = 1;
    shards_one_shard_through_the_hook_is_bitwise_the_fused_trainer();
    shards_two_and_three_agree_reproduce_and_stay_close_to_one_process();
    g_variant = 0;
}
