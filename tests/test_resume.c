/* test_resume.c - checkpoints and exact resuming.
 *
 * Library level, on a small synthetic problem (always runs): a run stopped at any step, saved, loaded into
 * a freshly built trainer and continued ends with bitwise the parameters, momentum and metrics of the
 * uninterrupted run; a checkpoint of another run is refused with the difference named; a table of broken
 * checkpoints (generated here from a good one) is rejected with clear messages and leaves the trainer as
 * it was.
 * Command line, on MNIST: `mlp train` killed with SIGKILL at random moments and continued with --resume
 * writes a model file byte-identical to an uninterrupted run's; SIGINT and SIGTERM stop it with a checkpoint
 * and exit statuses 130 and 143. */
#include "check.h"
#include "mlp.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

/* ------------------------------------------------------------------ a small problem */

#define SN 250 /* training images */
#define SDIM 20
#define STEST 50
#define SBATCH 16 /* 16 steps per epoch, the last one of 10 rows */
#define SEPOCHS 4
#define SSTEPS ((SN + SBATCH - 1) / SBATCH)

typedef struct problem {
    mlp_dataset train, test;
    float x[(SN + STEST) * SDIM];
    int32_t y[SN + STEST];
} problem;

/* Labels from a fixed rule of the inputs, so training makes progress and the metrics move. */
static void problem_init(problem *p, int variant) {
    uint64_t s = 0x1234567u + (uint64_t)variant;
    for (int i = 0; i < SN + STEST; i++) {
        double best = -1e9;
        int label = 0;
        for (int j = 0; j < SDIM; j++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            float v = (float)((s >> 40) & 0xffff) / 65536.0f - 0.5f;
            p->x[i * SDIM + j] = v;
            if (j < 10 && v > best) best = v, label = j;
        }
        p->y[i] = (int32_t)label;
    }
    p->train = (mlp_dataset){.n = SN, .rows = 4, .cols = 5, .dim = SDIM, .x = p->x, .y = p->y, .classes = 10};
    p->test = (mlp_dataset){.n = STEST, .rows = 4, .cols = 5, .dim = SDIM, .x = p->x + SN * SDIM, .y = p->y + SN, .classes = 10};
}

/* The update rule of the runs: 0 the reference's SGD; 1 Adam with a warm-up and a cosine schedule; 2 AdamW with
 * a step schedule; 3 Nesterov SGD; 4 Adam with dropout (every state a resume must restore: moments, the update
 * count, the rate, the masks). */
static int g_rule;

static mlp_train_cfg problem_cfg(void) {
    mlp_train_cfg c = mlp_train_cfg_default();
    if (g_rule == 1) c.optim = MLP_OPTIM_ADAM, c.schedule = MLP_SCHEDULE_COSINE, c.warmup_epochs = 1;
    if (g_rule == 2) c.optim = MLP_OPTIM_ADAMW, c.schedule = MLP_SCHEDULE_STEP, c.step_epochs = 1, c.wd = 1e-2f;
    if (g_rule == 3) c.nesterov = 1;
    if (g_rule == 4) c.optim = MLP_OPTIM_ADAM, c.dropout = 0.2f;
    if (g_rule == 1 || g_rule == 2 || g_rule == 4) {
        c.loss = mlp_loss_default(MLP_LOSS_CE);
        c.reduction = MLP_GRAD_MEAN;
        c.lr = 0.01f;
        c.batch = SBATCH;
        c.epochs = SEPOCHS;
        c.init_std = 0.3f;
        c.seed = 11;
        return c;
    }
    c.loss = mlp_loss_default(MLP_LOSS_CE);
    c.reduction = MLP_GRAD_MEAN;
    c.lr = 0.05f;
    c.wd = 1e-4f;
    c.batch = SBATCH;
    c.epochs = SEPOCHS;
    c.init_std = 0.3f;
    c.seed = 11;
    return c;
}

/* A network and a trainer for the problem. init_seed other than cfg->seed gives other initial weights
 * (a resumed run must not depend on them). */
static void build(mlp_net *net, mlp_trainer *tr, const problem *p, const mlp_train_cfg *cfg, const char *hidden,
                  mlp_act act, uint64_t init_seed) {
    mlp_arch arch;
    mlp_error err;
    CHECK(mlp_arch_parse(&arch, hidden, SDIM, 10, act, &err) == MLP_OK);
    CHECK(mlp_net_create(net, &arch, 64, &err) == MLP_OK);
    mlp_rng r;
    mlp_rng_seed(&r, init_seed, 1);
    mlp_net_init(net, cfg->init_std, &r);
    CHECK_MSG(mlp_trainer_init(tr, net, cfg, &p->train, &p->test, &err) == MLP_OK, "%s", err.msg);
}

static void teardown(mlp_net *net, mlp_trainer *tr) {
    mlp_trainer_free(tr);
    mlp_net_free(net);
}

/* Stop request from step (epoch, step) on: the on_step callback raises the flag. The trainer samples the
 * flag during a step and stops after finishing that step, so a run stops after `step` or the one after it
 * (or completes the epoch when that was its last step); the tests accept either. */
typedef struct stopper {
    int epoch, step;
    volatile int flag;
} stopper;

static void stop_at(void *user, int epoch, int step, int steps, double loss_sum, double acc_sum) {
    stopper *s = user;
    (void)steps, (void)loss_sum, (void)acc_sum;
    if (epoch == s->epoch && step >= s->step) s->flag = 1;
}

typedef struct reference {
    float *params, *momentum, *moment2;
    size_t n;
    int best_epoch, since_best;
    double best_value;
    mlp_epoch_metrics hist[SEPOCHS];
} reference;

static void reference_run(const problem *p, reference *ref) {
    mlp_net net;
    mlp_trainer tr;
    mlp_error err;
    mlp_train_cfg cfg = problem_cfg();
    build(&net, &tr, p, &cfg, "12", MLP_ACT_TANH, cfg.seed);
    for (int e = 0; e < SEPOCHS; e++) CHECK(mlp_trainer_epoch(&tr, &ref->hist[e], &err) == MLP_OK);
    ref->n = net.n_params;
    ref->params = malloc(sizeof(float) * net.n_params);
    ref->momentum = malloc(sizeof(float) * net.n_params);
    memcpy(ref->params, net.params, sizeof(float) * net.n_params);
    memcpy(ref->momentum, net.momentum, sizeof(float) * net.n_params);
    ref->best_epoch = tr.best_epoch, ref->since_best = tr.since_best, ref->best_value = tr.best_value;
    ref->moment2 = malloc(sizeof(float) * net.n_params);
    memcpy(ref->moment2, net.moment2, sizeof(float) * net.n_params);
    teardown(&net, &tr);
}

/* Train to the end, stopping at each (epoch, step) in stops[] (step 0: between epochs, after epoch-1);
 * at every stop the state goes through a checkpoint file into a newly built trainer. */
static void stopped_run(const problem *p, const reference *ref, const int (*stops)[2], int n_stops, const char *path) {
    mlp_net net;
    mlp_trainer tr;
    mlp_error err;
    mlp_train_cfg cfg = problem_cfg();
    mlp_epoch_metrics hist[SEPOCHS];
    int n_hist = 0, next = 0;
    stopper st = {0, 0, 0};
    build(&net, &tr, p, &cfg, "12", MLP_ACT_TANH, cfg.seed);
    while (tr.epochs_done < SEPOCHS) {
        int boundary = next < n_stops && stops[next][1] == 0 && stops[next][0] == tr.epochs_done + 1;
        st.flag = 0;
        st.epoch = next < n_stops ? stops[next][0] : -1;
        st.step = next < n_stops ? stops[next][1] : -1;
        tr.on_step = stop_at;
        tr.on_step_user = &st;
        tr.stop_flag = &st.flag;
        mlp_status s = MLP_OK;
        if (!boundary) {
            s = mlp_trainer_epoch(&tr, &hist[n_hist], &err);
            CHECK_MSG(s == MLP_OK || s == MLP_ERR_INTERRUPTED, "%s", err.msg);
            if (s == MLP_OK) n_hist++;
            /* a stop requested in the epoch's last step lets the epoch finish: save between epochs */
            if (s == MLP_OK && st.flag) boundary = 1;
        }
        if (s == MLP_ERR_INTERRUPTED || boundary) {
            if (s == MLP_ERR_INTERRUPTED) {
                CHECK_MSG(tr.step_in_epoch == stops[next][1] || tr.step_in_epoch == stops[next][1] + 1,
                          "stop requested at step %d, stopped after step %d", stops[next][1], tr.step_in_epoch);
                CHECK_CONTAINS(err.msg, "interrupted at epoch");
            }
            next++;
            CHECK_MSG(mlp_checkpoint_save(path, &tr, hist, n_hist, &err) == MLP_OK, "%s", err.msg);
            teardown(&net, &tr);
            /* a new process: other initial weights, a fresh trainer; the checkpoint restores everything */
            build(&net, &tr, p, &cfg, "12", MLP_ACT_TANH, 999);
            memset(hist, 0xff, sizeof hist);
            int n = -1;
            CHECK_MSG(mlp_checkpoint_load(path, &tr, hist, SEPOCHS, &n, &err) == MLP_OK, "%s", err.msg);
            CHECK_INT(n, n_hist);
        }
    }
    CHECK_INT(next, n_stops);
    CHECK(net.n_params == ref->n);
    CHECK_MSG(memcmp(net.params, ref->params, sizeof(float) * ref->n) == 0, "parameters differ after resuming");
    CHECK_MSG(memcmp(net.momentum, ref->momentum, sizeof(float) * ref->n) == 0, "momentum differs after resuming");
    CHECK_MSG(memcmp(net.moment2, ref->moment2, sizeof(float) * ref->n) == 0, "moment2 differs after resuming");
    CHECK_MSG(tr.best_epoch == ref->best_epoch && tr.since_best == ref->since_best && tr.best_value == ref->best_value,
              "early stopping's state differs after resuming: best epoch %d vs %d", tr.best_epoch, ref->best_epoch);
    CHECK(ref->best_epoch > 0);
    for (int e = 0; e < SEPOCHS; e++) {
        CHECK_INT(hist[e].epoch, e + 1);
        CHECK_MSG(hist[e].train_loss == ref->hist[e].train_loss && hist[e].train_acc == ref->hist[e].train_acc &&
                      hist[e].test_loss == ref->hist[e].test_loss && hist[e].test_acc == ref->hist[e].test_acc,
                  "epoch %d metrics differ: train loss %.17g vs %.17g", e + 1, hist[e].train_loss,
                  ref->hist[e].train_loss);
    }
    teardown(&net, &tr);
}

TEST(resume_bitwise_after_any_stop) {
    problem *p = malloc(sizeof *p);
    problem_init(p, 0);
    reference ref;
    reference_run(p, &ref);
    CHECK(ref.hist[SEPOCHS - 1].test_acc > ref.hist[0].test_acc - 0.2); /* it trains (sanity) */
    CHECK(ref.hist[SEPOCHS - 1].train_loss < ref.hist[0].train_loss);
    char path[700];
    snprintf(path, sizeof path, "%s/ck.safetensors", check_tmpdir());
    /* first step, last step but one, mid-epoch, between epochs, twice in one epoch, in the last epoch */
    static const int first[][2] = {{1, 1}};
    static const int late[][2] = {{1, SSTEPS - 1}};
    static const int mid[][2] = {{2, 7}};
    static const int boundary[][2] = {{3, 0}};
    static const int twice[][2] = {{2, 3}, {2, 9}};
    static const int many[][2] = {{1, 5}, {2, 0}, {3, 1}, {3, 6}, {4, 0}, {4, SSTEPS - 1}};
    stopped_run(p, &ref, first, 1, path);
    stopped_run(p, &ref, late, 1, path);
    stopped_run(p, &ref, mid, 1, path);
    stopped_run(p, &ref, boundary, 1, path);
    stopped_run(p, &ref, twice, 2, path);
    stopped_run(p, &ref, many, 6, path);
    free(ref.params);
    free(ref.momentum);
    free(ref.moment2);
    free(p);
}

/* The same with Adam (+ warm-up and cosine), AdamW (+ step schedule), Nesterov SGD and Adam with dropout. */
TEST(resume_bitwise_every_optimizer) {
    problem *p = malloc(sizeof *p);
    problem_init(p, 0);
    char path[700];
    snprintf(path, sizeof path, "%s/ck.safetensors", check_tmpdir());
    static const int stops[][2] = {{1, 5}, {2, 0}, {3, 1}, {3, 6}, {4, SSTEPS - 1}};
    for (g_rule = 1; g_rule <= 4; g_rule++) {
        reference ref;
        reference_run(p, &ref);
        CHECK_MSG(ref.hist[SEPOCHS - 1].train_loss < ref.hist[0].train_loss, "rule %d: the run does not train", g_rule);
        stopped_run(p, &ref, stops, 5, path);
        free(ref.params);
        free(ref.momentum);
        free(ref.moment2);
    }
    g_rule = 0;
    free(p);
}

/* Every field survives a save/load exactly, including the mid-epoch ones. */
TEST(resume_checkpoint_roundtrip_fields) {
    problem *p = malloc(sizeof *p);
    problem_init(p, 0);
    mlp_net a, b;
    mlp_trainer ta, tb;
    mlp_error err;
    mlp_train_cfg cfg = problem_cfg();
    build(&a, &ta, p, &cfg, "12", MLP_ACT_TANH, cfg.seed);
    mlp_epoch_metrics h[SEPOCHS], h2[SEPOCHS];
    char path[700];
    snprintf(path, sizeof path, "%s/ck.safetensors", check_tmpdir());
    int n = -1;
    /* before the first epoch (what `mlp train` writes first) */
    CHECK(mlp_checkpoint_save(path, &ta, h, 0, &err) == MLP_OK);
    build(&b, &tb, p, &cfg, "12", MLP_ACT_TANH, 5);
    CHECK_MSG(mlp_checkpoint_load(path, &tb, h2, SEPOCHS, &n, &err) == MLP_OK, "%s", err.msg);
    CHECK(n == 0 && tb.epochs_done == 0 && tb.step_in_epoch == 0);
    CHECK(memcmp(&tb.shuffle_rng, &ta.shuffle_rng, sizeof ta.shuffle_rng) == 0);
    CHECK(memcmp(a.params, b.params, sizeof(float) * a.n_params) == 0);
    teardown(&b, &tb);
    CHECK(mlp_trainer_epoch(&ta, &h[0], &err) == MLP_OK);
    stopper st = {2, 5, 0};
    ta.on_step = stop_at;
    ta.on_step_user = &st;
    ta.stop_flag = &st.flag;
    mlp_epoch_metrics scratch;
    CHECK(mlp_trainer_epoch(&ta, &scratch, &err) == MLP_ERR_INTERRUPTED);
    const int stopped = ta.step_in_epoch;
    CHECK(stopped == 5 || stopped == 6);
    CHECK(ta.epoch_loss_sum > 0 && ta.epoch_acc_sum >= 0);
    CHECK(mlp_checkpoint_save(path, &ta, h, 1, &err) == MLP_OK);
    /* the history count must match epochs_done */
    CHECK(mlp_checkpoint_save(path, &ta, h, 0, &err) == MLP_ERR_ARG);
    build(&b, &tb, p, &cfg, "12", MLP_ACT_TANH, 5);
    CHECK_MSG(mlp_checkpoint_load(path, &tb, h2, SEPOCHS, &n, &err) == MLP_OK, "%s", err.msg);
    CHECK_INT(n, 1);
    CHECK_INT(tb.epochs_done, 1);
    CHECK_INT(tb.step_in_epoch, stopped);
    CHECK(memcmp(&tb.shuffle_rng, &ta.shuffle_rng, sizeof ta.shuffle_rng) == 0);
    CHECK(memcmp(&tb.epoch_rng, &ta.epoch_rng, sizeof ta.epoch_rng) == 0);
    CHECK(tb.epoch_loss_sum == ta.epoch_loss_sum);
    CHECK(tb.epoch_acc_sum == ta.epoch_acc_sum);
    CHECK(memcmp(a.params, b.params, sizeof(float) * a.n_params) == 0);
    CHECK(memcmp(a.momentum, b.momentum, sizeof(float) * a.n_params) == 0);
    CHECK(h2[0].epoch == 1 && h2[0].train_loss == h[0].train_loss && h2[0].train_acc == h[0].train_acc &&
          h2[0].test_loss == h[0].test_loss && h2[0].test_acc == h[0].test_acc && h2[0].lr == h[0].lr &&
          h2[0].seconds == h[0].seconds);
    /* the derived weights follow the loaded parameters: same forward output */
    const float *la = mlp_net_forward(&a, p->x, 8);
    float keep[80];
    memcpy(keep, la, sizeof keep);
    CHECK(memcmp(keep, mlp_net_forward(&b, p->x, 8), sizeof keep) == 0);
    /* a missing file: an i/o error naming it */
    char missing[800];
    snprintf(missing, sizeof missing, "%s.nope", path);
    CHECK(mlp_checkpoint_load(missing, &tb, h2, SEPOCHS, &n, &err) == MLP_ERR_IO);
    CHECK_CONTAINS(err.msg, ".nope");
    teardown(&a, &ta);
    teardown(&b, &tb);
    free(p);
}

/* ------------------------------------------------------------------ refusing another run's checkpoint */

static uint8_t *slurp(const char *path, size_t *len) {
    uint8_t *buf = NULL;
    mlp_error err;
    *len = 0;
    CHECK_MSG(mlp_read_file(path, &buf, len, (size_t)1 << 28, &err) == MLP_OK, "%s", err.msg);
    return buf;
}

/* The trainer's whole state, to check that a failed load changed nothing. */
typedef struct snapshot {
    float *params, *momentum;
    mlp_rng r1, r2;
    int epochs_done, step;
    double s1, s2;
} snapshot;

static void snap(snapshot *s, const mlp_trainer *t) {
    s->params = malloc(sizeof(float) * t->net->n_params);
    s->momentum = malloc(sizeof(float) * t->net->n_params);
    memcpy(s->params, t->net->params, sizeof(float) * t->net->n_params);
    memcpy(s->momentum, t->net->momentum, sizeof(float) * t->net->n_params);
    s->r1 = t->shuffle_rng;
    s->r2 = t->epoch_rng;
    s->epochs_done = t->epochs_done;
    s->step = t->step_in_epoch;
    s->s1 = t->epoch_loss_sum;
    s->s2 = t->epoch_acc_sum;
}

static int unchanged(const snapshot *s, const mlp_trainer *t) {
    return memcmp(s->params, t->net->params, sizeof(float) * t->net->n_params) == 0 &&
           memcmp(s->momentum, t->net->momentum, sizeof(float) * t->net->n_params) == 0 &&
           memcmp(&s->r1, &t->shuffle_rng, sizeof s->r1) == 0 && memcmp(&s->r2, &t->epoch_rng, sizeof s->r2) == 0 &&
           s->epochs_done == t->epochs_done && s->step == t->step_in_epoch && s->s1 == t->epoch_loss_sum &&
           s->s2 == t->epoch_acc_sum;
}

static void snap_free(snapshot *s) {
    free(s->params);
    free(s->momentum);
}

/* A good checkpoint: one epoch done, stopped after step 4 (or 5) of the second. Returns the step. */
static int good_checkpoint(const problem *p, const char *path) {
    mlp_net net;
    mlp_trainer tr;
    mlp_error err;
    mlp_train_cfg cfg = problem_cfg();
    build(&net, &tr, p, &cfg, "12", MLP_ACT_TANH, cfg.seed);
    mlp_epoch_metrics h[2];
    CHECK(mlp_trainer_epoch(&tr, &h[0], &err) == MLP_OK);
    stopper st = {2, 4, 0};
    tr.on_step = stop_at;
    tr.on_step_user = &st;
    tr.stop_flag = &st.flag;
    CHECK(mlp_trainer_epoch(&tr, &h[1], &err) == MLP_ERR_INTERRUPTED);
    CHECK(mlp_checkpoint_save(path, &tr, h, 1, &err) == MLP_OK);
    const int step = tr.step_in_epoch;
    teardown(&net, &tr);
    return step;
}

TEST(resume_refuses_another_runs_checkpoint) {
    problem *p = malloc(sizeof *p), *q = malloc(sizeof *q);
    problem_init(p, 0);
    problem_init(q, 0);
    q->y[17] = (int32_t)((q->y[17] + 1) % 10); /* one label differs */
    char path[700];
    snprintf(path, sizeof path, "%s/ck.safetensors", check_tmpdir());
    good_checkpoint(p, path);

    static const struct {
        const char *what, *hidden;
        mlp_act act;
        int other_data, max_history;
        const char *phrase;
    } cases[] = {
        {"lr", "12", MLP_ACT_TANH, 0, SEPOCHS, "written with lr 0.0500000007 but this run has lr 0.100000001"},
        {"widths", "13", MLP_ACT_TANH, 0, SEPOCHS, "widths 20,12,10 but this run has widths 20,13,10"},
        {"depth", "12,4", MLP_ACT_TANH, 0, SEPOCHS, "widths 20,12,10"},
        {"act", "12", MLP_ACT_RELU, 0, SEPOCHS, "activation tanh but this run has activation relu"},
        {"batch", "12", MLP_ACT_TANH, 0, SEPOCHS, "batch 16 but this run has batch 20"},
        {"seed", "12", MLP_ACT_TANH, 0, SEPOCHS, "seed 11 but this run has seed 12"},
        {"loss", "12", MLP_ACT_TANH, 0, SEPOCHS, "loss ce but this run has loss hinge"},
        {"data", "12", MLP_ACT_TANH, 1, SEPOCHS, "another training set"},
        {"room", "12", MLP_ACT_TANH, 0, 0, "1 epochs done, more than the 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        mlp_train_cfg cfg = problem_cfg();
        if (!strcmp(cases[i].what, "lr")) cfg.lr = 0.1f;
        if (!strcmp(cases[i].what, "batch")) cfg.batch = 20;
        if (!strcmp(cases[i].what, "seed")) cfg.seed = 12;
        if (!strcmp(cases[i].what, "loss")) cfg.loss = mlp_loss_default(MLP_LOSS_HINGE);
        mlp_net net;
        mlp_trainer tr;
        mlp_error err;
        build(&net, &tr, cases[i].other_data ? q : p, &cfg, cases[i].hidden, cases[i].act, 3);
        snapshot s;
        snap(&s, &tr);
        mlp_epoch_metrics h[SEPOCHS];
        int n = -7;
        mlp_status st = mlp_checkpoint_load(path, &tr, h, cases[i].max_history, &n, &err);
        CHECK_MSG(st == MLP_ERR_ARG, "%s: status %d (%s)", cases[i].what, (int)st, err.msg);
        CHECK_CONTAINS(err.msg, cases[i].phrase);
        CHECK_CONTAINS(err.msg, "ck.safetensors");
        CHECK_MSG(unchanged(&s, &tr) && n == -7, "%s: a refused checkpoint changed the trainer", cases[i].what);
        snap_free(&s);
        teardown(&net, &tr);
    }
    /* more epochs than the checkpoint's run had is fine: that is how a finished run is extended */
    mlp_train_cfg cfg = problem_cfg();
    cfg.epochs = 9;
    mlp_net net;
    mlp_trainer tr;
    mlp_error err;
    build(&net, &tr, p, &cfg, "12", MLP_ACT_TANH, 3);
    mlp_epoch_metrics h[9];
    int n;
    CHECK_MSG(mlp_checkpoint_load(path, &tr, h, 9, &n, &err) == MLP_OK, "%s", err.msg);
    teardown(&net, &tr);
    free(p);
    free(q);
}

/* ------------------------------------------------------------------ a table of broken checkpoints */

/* The good file with `from` replaced by `to` in the JSON header (first occurrence), the header length
 * field rewritten; the data section is unchanged. */
static uint8_t *edit_header(const uint8_t *good, size_t len, const char *from, const char *to, size_t *out_len) {
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | good[i];
    char *h = malloc(hlen + 1);
    memcpy(h, good + 8, hlen);
    h[hlen] = '\0';
    char *at = strstr(h, from);
    CHECK_MSG(at != NULL, "the header has no \"%s\"", from);
    if (!at) at = h;
    size_t nh = hlen - strlen(from) + strlen(to), data = len - 8 - hlen;
    uint8_t *out = malloc(8 + nh + data);
    for (int i = 0; i < 8; i++) out[i] = (uint8_t)((uint64_t)nh >> (8 * i));
    size_t pre = (size_t)(at - h);
    memcpy(out + 8, h, pre);
    memcpy(out + 8 + pre, to, strlen(to));
    memcpy(out + 8 + pre + strlen(to), at + strlen(from), hlen - pre - strlen(from));
    memcpy(out + 8 + nh, good + 8 + hlen, data);
    *out_len = 8 + nh + data;
    free(h);
    return out;
}

TEST(resume_broken_checkpoints_table) {
    problem *p = malloc(sizeof *p);
    problem_init(p, 0);
    char path[700];
    snprintf(path, sizeof path, "%s/ck.safetensors", check_tmpdir());
    const int step = good_checkpoint(p, path);
    char step_entry[64];
    snprintf(step_entry, sizeof step_entry, "\"step_in_epoch\":\"%d\"", step);
    size_t len;
    uint8_t *good = slurp(path, &len);
    if (!good) return;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | good[i];
    const size_t data_off = 8 + (size_t)hlen;

    mlp_net net;
    mlp_trainer tr;
    mlp_train_cfg cfg = problem_cfg();
    build(&net, &tr, p, &cfg, "12", MLP_ACT_TANH, 3);
    const size_t np = net.n_params, pb = 4 * np;
    char params_entry[160], momentum_entry[160], s1[160], s2[160], s3[160], s4[160];
    snprintf(params_entry, sizeof params_entry, "\"params\":{\"dtype\":\"F32\",\"shape\":[%zu],\"data_offsets\":[0,%zu]}",
             np, pb);
    snprintf(momentum_entry, sizeof momentum_entry,
             ",\"momentum\":{\"dtype\":\"F32\",\"shape\":[%zu],\"data_offsets\":[%zu,%zu]}", np, pb, 2 * pb);
    snprintf(s1, sizeof s1, "\"shape\":[%zu]", np);
    snprintf(s2, sizeof s2, "\"shape\":[%zu]", np + 1);
    snprintf(s3, sizeof s3, "\"data_offsets\":[0,%zu]", pb);
    snprintf(s4, sizeof s4, "\"data_offsets\":[%zu,%zu]", pb, 2 * pb);
    char o1[64], o2[64], o3[64];
    snprintf(o1, sizeof o1, "\"data_offsets\":[0,%zu]", pb + (1u << 30));
    snprintf(o2, sizeof o2, "\"data_offsets\":[%zu,0]", pb);
    snprintf(o3, sizeof o3, "\"data_offsets\":[0,%zu]", pb); /* momentum placed over params */

    static const char nan_bits[4] = {0, 0, (char)0xc0, 0x7f};
    struct {
        const char *name;
        const char *from, *to; /* header edit, or NULL */
        int op;                /* 1 truncate to 4 bytes, 2 huge header length, 3 header length past the end,
                                  4 drop the last 100 bytes, 5 append 8 bytes, 6 NaN in params, 7 metrics epoch 5,
                                  8 header is an array, 9 NaN in momentum */
        mlp_status code;
        const char *phrase;
    } cases[] = {
        {"short file", NULL, NULL, 1, MLP_ERR_FORMAT, "shorter than the 8-byte header length"},
        {"huge header length", NULL, NULL, 2, MLP_ERR_FORMAT, "exceeds the limit of 1048576 bytes"},
        {"header past the end", NULL, NULL, 3, MLP_ERR_FORMAT, "exceeds the"},
        {"truncated data", NULL, NULL, 4, MLP_ERR_FORMAT, "extend beyond the data section"},
        {"trailing bytes", NULL, NULL, 5, MLP_ERR_FORMAT, "8 bytes after the last tensor"},
        {"NaN parameter", NULL, NULL, 6, MLP_ERR_FORMAT, "params holds a NaN or infinite value at index 3"},
        {"metrics row", NULL, NULL, 7, MLP_ERR_FORMAT, "metrics row 0 is for epoch 5, expected 1"},
        {"not an object", NULL, NULL, 8, MLP_ERR_FORMAT, "header must be a JSON object, got array"},
        {"NaN momentum", NULL, NULL, 9, MLP_ERR_FORMAT, "momentum holds a NaN"},
        {"JSON syntax", "\"format\":", "\"format\" ", 0, MLP_ERR_FORMAT, "JSON: "},
        {"JSON trailing comma", "]}}", "],}}", 0, MLP_ERR_FORMAT, "JSON: "},
        {"duplicate tensor", "\"momentum\":{", "\"params\":{", 0, MLP_ERR_FORMAT, "duplicate"},
        {"unknown tensor", "\"params\":", "\"weights\":", 0, MLP_ERR_FORMAT, "unexpected tensor \"weights\""},
        {"missing tensor", momentum_entry, "", 0, MLP_ERR_FORMAT, "no tensor \"momentum\""},
        {"no metadata", "\"__metadata__\"", "\"__metadata_x\"", 0, MLP_ERR_FORMAT, "unexpected tensor \"__metadata_x\""},
        {"dtype", "\"dtype\":\"F32\"", "\"dtype\":\"F16\"", 0, MLP_ERR_FORMAT, "params has dtype F16; only F32 is supported"},
        {"dtype type", "\"dtype\":\"F32\"", "\"dtype\":32", 0, MLP_ERR_FORMAT, "params: \"dtype\" must be a string, got number"},
        {"metrics dtype", "\"dtype\":\"F64\"", "\"dtype\":\"F32\"", 0, MLP_ERR_FORMAT, "metrics has dtype F32; only F64 is supported"},
        {"shape vs offsets", s1, s2, 0, MLP_ERR_FORMAT, "bytes of F32 but data_offsets"},
        {"shape not integer", s1, "\"shape\":[\"x\"]", 0, MLP_ERR_FORMAT, "shape must hold non-negative integers, element 0 is not"},
        {"shape negative", s1, "\"shape\":[-4]", 0, MLP_ERR_FORMAT, "shape must hold non-negative integers, element 0 is not"},
        {"shape rank", s1, "\"shape\":[2,3]", 0, MLP_ERR_FORMAT, "params: shape must be an array of 1 integer"},
        {"shape overflow", "\"shape\":[1,7]", "\"shape\":[4611686018427387904,4611686018427387904]", 0, MLP_ERR_FORMAT,
         "too many elements"},
        {"offsets outside", s3, o1, 0, MLP_ERR_FORMAT, "extend beyond the data section"},
        {"offsets reversed", s4, o2, 0, MLP_ERR_FORMAT, "have begin > end"},
        {"offsets overlap", s4, o3, 0, MLP_ERR_FORMAT, "params and momentum overlap in the data section"},
        {"offsets 3 numbers", s3, "\"data_offsets\":[0,1,2]", 0, MLP_ERR_FORMAT, "\"data_offsets\" must be [begin, end]"},
        {"entry not object", params_entry, "\"params\":[]", 0, MLP_ERR_FORMAT, "params: expected an object"},
        {"format", "mlp-checkpoint", "mlp-model", 0, MLP_ERR_FORMAT, "format is \"mlp-model\", expected \"mlp-checkpoint\""},
        {"version", "\"checkpoint_version\":\"1\"", "\"checkpoint_version\":\"2\"", 0, MLP_ERR_FORMAT,
         "checkpoint version 2; this mlp reads version 1"},
        {"metadata not string", "\"epochs_done\":\"1\"", "\"epochs_done\":1", 0, MLP_ERR_FORMAT,
         "__metadata__ values must be strings; \"epochs_done\" is a number"},
        {"missing key", "\"shuffle_rng\"", "\"shuffle_rnq\"", 0, MLP_ERR_FORMAT, "metadata has no \"shuffle_rng\""},
        {"epochs_done negative", "\"epochs_done\":\"1\"", "\"epochs_done\":\"-1\"", 0, MLP_ERR_FORMAT,
         "epochs_done \"-1\" is not an integer in 0.."},
        {"newline in a value", "\"epochs_done\":\"1\"", "\"epochs_done\":\"1\\n\"", 0, MLP_ERR_FORMAT,
         "epochs_done \"1?\" is not an integer"},
        {"epochs_done text", "\"epochs_done\":\"1\"", "\"epochs_done\":\"1x\"", 0, MLP_ERR_FORMAT,
         "epochs_done \"1x\" is not an integer"},
        {"epochs vs metrics", "\"epochs_done\":\"1\"", "\"epochs_done\":\"2\"", 0, MLP_ERR_FORMAT,
         "metrics has shape [1, 7], expected [2, 7]"},
        {"step out of range", step_entry, "\"step_in_epoch\":\"16\"", 0, MLP_ERR_FORMAT,
         "step_in_epoch \"16\" is not an integer in 0..15"},
        {"rng syntax", "\"epoch_rng\":\"", "\"epoch_rng\":\"zz", 0, MLP_ERR_FORMAT,
         "epoch_rng \"zz"},
        {"rng zero", "\"shuffle_rng\":\"",
         "\"shuffle_rng\":\"0000000000000000,0000000000000000,0000000000000000,0000000000000000\",\"was\":\"", 0,
         MLP_ERR_FORMAT, "shuffle_rng is all zero"},
        {"sum not finite", "\"epoch_loss_sum\":\"", "\"epoch_loss_sum\":\"nan", 0, MLP_ERR_FORMAT,
         "epoch_loss_sum \"nan"},
        {"acc sum too big", "\"epoch_acc_sum\":\"", "\"epoch_acc_sum\":\"9", 0, MLP_ERR_FORMAT,
         "epoch_acc_sum"},
        {"hinge margin text", "\"hinge_margin\":\"5\"", "\"hinge_margin\":\"five\"", 0, MLP_ERR_FORMAT,
         "hinge_margin \"five\" is not a finite number"},
        {"focal alpha count", "\"focal_alpha\":\"0.100000001,", "\"focal_alpha\":\"", 0, MLP_ERR_FORMAT,
         "focal_alpha"},
        {"fingerprint", "\"train_fingerprint\":\"", "\"train_fingerprint\":\"0", 0, MLP_ERR_ARG,
         "another training set"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint8_t *bad = NULL;
        size_t blen = len;
        if (cases[i].from) {
            bad = edit_header(good, len, cases[i].from, cases[i].to, &blen);
        } else {
            bad = malloc(len + 8);
            memcpy(bad, good, len);
            switch (cases[i].op) {
            case 1: blen = 4; break;
            case 2: bad[5] = 1; break; /* 2^40 + ... */
            case 3:
                for (int b = 0; b < 8; b++) bad[b] = (uint8_t)((uint64_t)(len - 7) >> (8 * b));
                break;
            case 4: blen = len - 100; break;
            case 5: memset(bad + len, 0, 8), blen = len + 8; break;
            case 6: memcpy(bad + data_off + 12, nan_bits, 4); break;
            case 7: {
                double five = 5.0;
                memcpy(bad + data_off + 2 * pb, &five, 8); /* little-endian host */
                break;
            }
            case 8: {
                free(bad);
                static const char arr[] = "[1, 2, 3]       ";
                blen = 8 + sizeof arr - 1;
                bad = malloc(blen);
                for (int b = 0; b < 8; b++) bad[b] = (uint8_t)((sizeof arr - 1) >> (8 * b));
                memcpy(bad + 8, arr, sizeof arr - 1);
                break;
            }
            case 9: memcpy(bad + data_off + pb + 40, nan_bits, 4); break;
            }
        }
        snapshot s;
        snap(&s, &tr);
        mlp_epoch_metrics h[SEPOCHS];
        int n = -7;
        mlp_error err;
        memset(&err, 0, sizeof err);
        mlp_status st = mlp_checkpoint_parse(bad, blen, &tr, h, SEPOCHS, &n, &err);
        CHECK_MSG(st == cases[i].code, "%s: status %d, expected %d (%s)", cases[i].name, (int)st, (int)cases[i].code,
                  err.msg);
        CHECK_MSG(strstr(err.msg, cases[i].phrase) != NULL, "%s: message \"%s\" lacks \"%s\"", cases[i].name, err.msg,
                  cases[i].phrase);
        CHECK_MSG(strchr(err.msg, '\n') == NULL, "%s: message has a newline", cases[i].name);
        CHECK_MSG(unchanged(&s, &tr) && n == -7, "%s: a rejected checkpoint changed the trainer", cases[i].name);
        snap_free(&s);
        free(bad);
    }
    /* and the good one loads */
    mlp_epoch_metrics h[SEPOCHS];
    int n;
    mlp_error err;
    CHECK_MSG(mlp_checkpoint_parse(good, len, &tr, h, SEPOCHS, &n, &err) == MLP_OK, "%s", err.msg);
    CHECK_INT(tr.step_in_epoch, step);
    free(good);
    teardown(&net, &tr);
    free(p);
}

/* ------------------------------------------------------------------ the command line: kill -9, SIGINT, SIGTERM */

static const char *mlp_bin(void) {
    const char *b = getenv("MLP_BIN");
    return b && *b ? b : "build/mlp";
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Start the tool with argv (argv[0] is ignored), stdout to /dev/null, stderr to errfile (or /dev/null). */
static pid_t spawn(char *const argv[], const char *errfile) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        int e = errfile ? open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0644) : null;
        dup2(null, 1);
        dup2(e, 2);
        execv(mlp_bin(), argv);
        _exit(127);
    }
    return pid;
}

static int wait_status(pid_t pid) {
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return st;
}

static int run_tool(char *const argv[]) {
    int st = wait_status(spawn(argv, NULL));
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int exists_in(const char *dir, const char *name) {
    char path[1200];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &sb) == 0;
}

static int files_equal(const char *a, const char *b) {
    size_t la, lb;
    uint8_t *x = slurp(a, &la), *y = slurp(b, &lb);
    int same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

/* Leftover temporary files (NAME.tmp.PID) in a run folder. */
static int temp_files_in(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    if (!d) return 0;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

/* metrics.csv without the seconds column, which is wall time */
static char *metrics_without_time(const char *dir) {
    char path[1200];
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    size_t len;
    uint8_t *buf = slurp(path, &len);
    if (!buf) return NULL;
    char *out = malloc(len + 1);
    size_t o = 0;
    int commas = 0;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n') commas = 0;
        else if (buf[i] == ',') commas++;
        if (commas < 6 || buf[i] == '\n') out[o++] = (char)buf[i];
    }
    out[o] = '\0';
    free(buf);
    return out;
}

#define KILL_EPOCHS "6"

static double g_ref_seconds;
static char g_ref_dir[700];

/* The uninterrupted reference run, made once. */
static const char *reference_dir(void) {
    if (g_ref_dir[0]) return g_ref_dir;
    snprintf(g_ref_dir, sizeof g_ref_dir, "%s/ref", check_tmpdir());
    char *argv[] = {"mlp", "train", "--data", (char *)check_mnist_dir(), "--hidden", "16", "--epochs", KILL_EPOCHS,
                    "--quiet", "--out", g_ref_dir, NULL};
    double t0 = now();
    int st = run_tool(argv);
    g_ref_seconds = now() - t0;
    CHECK_MSG(st == 0, "reference run: exit status %d", st);
    return g_ref_dir;
}

static void check_same_as_reference(const char *run) {
    char a[1200], b[1200];
    snprintf(a, sizeof a, "%s/model.safetensors", reference_dir());
    snprintf(b, sizeof b, "%s/model.safetensors", run);
    CHECK_MSG(files_equal(a, b), "%s differs from the uninterrupted run's model", b);
    char *ma = metrics_without_time(reference_dir()), *mb = metrics_without_time(run);
    CHECK_MSG(ma && mb && strcmp(ma, mb) == 0, "metrics differ:\n%s\nvs\n%s", ma ? ma : "?", mb ? mb : "?");
    free(ma);
    free(mb);
    CHECK_INT(temp_files_in(run), 0);
}

/* Wait (up to 60 s) until dir/name exists. */
static int wait_for_file(const char *dir, const char *name) {
    for (int i = 0; i < 6000; i++) {
        if (exists_in(dir, name)) return 1;
        sleep_s(0.01);
    }
    return 0;
}

TEST(resume_cli_kill9_bitwise) {
    if (!check_mnist_dir()) {
        check_skip("MNIST not found (run `make data` or set MLP_DATA)");
        return;
    }
    reference_dir();
    char run[700];
    snprintf(run, sizeof run, "%s/run", check_tmpdir());
    char *fresh[] = {"mlp", "train", "--data", (char *)check_mnist_dir(), "--hidden", "16", "--epochs", KILL_EPOCHS,
                     "--quiet", "--out", run, NULL};
    char *resume[] = {"mlp", "train", "--resume", run, "--quiet", NULL};
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    srand(seed);
    /* kill -9 at random moments (uniform over most of a run's duration), resume, again; until two kills
     * have landed before the run finished, one of them after its first checkpoint (at most 10 attempts).
     * Every other attempt counts its delay from the first checkpoint's appearance rather than from the
     * start, so that a slow start (a loaded machine reading MNIST) cannot put every kill before training. */
    int landed = 0, landed_training = 0, attempts = 0;
    char where[512] = "";
    while ((landed < 2 || landed_training < 1) && attempts < 10) {
        if (exists_in(run, "model.safetensors")) {
            /* the run got to its end: enough if a kill landed in training, else start a new one */
            if (landed_training) break;
            char cmd[800];
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", run);
            CHECK(system(cmd) == 0);
        }
        const int started = exists_in(run, "config.json");
        const double delay = g_ref_seconds * (0.05 + 0.85 * (double)rand() / RAND_MAX);
        pid_t pid = spawn(started ? resume : fresh, NULL);
        if (attempts % 2 == 1) wait_for_file(run, "checkpoint.safetensors");
        sleep_s(attempts % 2 == 1 ? delay * 0.5 : delay);
        kill(pid, SIGKILL);
        int st = wait_status(pid);
        attempts++;
        if (WIFSIGNALED(st) && !exists_in(run, "model.safetensors")) {
            const int training = exists_in(run, "checkpoint.safetensors");
            landed++;
            landed_training += training;
            snprintf(where + strlen(where), sizeof where - strlen(where), " %.2fs%s", delay,
                     training ? "" : " (before the first checkpoint)");
        }
    }
    printf("    seed %u: %d kills in %d attempts landed mid-run, at%s (a run takes %.2fs)\n", seed, landed, attempts,
           where, g_ref_seconds);
    CHECK_MSG(landed_training >= 1, "no kill landed while the run was training (seed %u)", seed);
    if (!exists_in(run, "config.json")) CHECK_INT(run_tool(fresh), 0);
    else CHECK_INT(run_tool(resume), 0);
    check_same_as_reference(run);
    /* resuming a finished run is a no-op that rewrites the same model */
    CHECK_INT(run_tool(resume), 0);
    check_same_as_reference(run);
}

static void signal_case(int sig, int want_status) {
    reference_dir();
    char run[700], errfile[800];
    snprintf(run, sizeof run, "%s/run", check_tmpdir());
    snprintf(errfile, sizeof errfile, "%s.stderr", run);
    char *fresh[] = {"mlp", "train", "--data", (char *)check_mnist_dir(), "--hidden", "16", "--epochs", KILL_EPOCHS,
                     "--quiet", "--out", run, NULL};
    char *resume[] = {"mlp", "train", "--resume", run, "--quiet", NULL};
    pid_t pid = spawn(fresh, errfile);
    CHECK(wait_for_file(run, "checkpoint.safetensors")); /* training has started */
    sleep_s(g_ref_seconds * 0.2 * (double)rand() / RAND_MAX);
    kill(pid, sig);
    int st = wait_status(pid);
    size_t n;
    uint8_t *msg = slurp(errfile, &n);
    char text[1024] = "";
    if (msg) snprintf(text, sizeof text, "%.*s", (int)n, (const char *)msg);
    free(msg);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        printf("    the run finished before the signal; nothing to check for the stop\n");
    } else {
        CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == want_status, "status %d, expected exit %d (stderr: %s)", st,
                  want_status, text);
        CHECK_CONTAINS(text, sig == SIGINT ? "SIGINT" : "SIGTERM");
        CHECK_CONTAINS(text, "continue with: mlp train --resume");
        CHECK(!exists_in(run, "model.safetensors"));
        printf("    %s", text);
    }
    CHECK_INT(run_tool(resume), 0);
    check_same_as_reference(run);
}

TEST(resume_cli_sigint_130_sigterm_143) {
    if (!check_mnist_dir()) {
        check_skip("MNIST not found (run `make data` or set MLP_DATA)");
        return;
    }
    signal_case(SIGINT, 130);
    signal_case(SIGTERM, 143);
}
