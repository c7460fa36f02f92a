/* train.c - the training loop and evaluation.
 *
 * One epoch, as in the reference: a fresh permutation of the training set (identity, then Fisher-Yates
 * with the trainer's own generator, so the generator state alone fixes every later epoch); consecutive
 * batches; per batch forward, loss, backward, SGD update. The epoch's train loss and accuracy are the
 * means of the per-batch values measured on the forward pass before each update. Then the whole test
 * set is evaluated. No allocation happens inside an epoch.
 *
 * Speed (docs/PERFORMANCE.md): an epoch is ONE OpenMP parallel region. Every thread of the team runs the same
 * step loop, and each step is the three parts of net.c's fused step (mlp_step_forward0 / middle / update)
 * separated by two barriers; the next batch is gathered by all threads (their rows) during the middle part,
 * into the other half of a double buffer. When the training set is mostly one background value (MNIST), the
 * first layer is computed sparsely from a compressed copy of the set built at mlp_trainer_init (train_sparse).
 * The team's barrier spins briefly and then yields; when another process makes the team wait, the team shrinks
 * to thread 0 while the others sleep (team.c), so two threads never cost much more than one. The data-parallel
 * path (mlp_trainer_set_shards) runs the reference step of step.h instead. Every element is computed by the same
 * chain whichever thread computes it: results do not depend on the thread count or the team. The evaluation is
 * one more region, split by rows. */
#include "step.h"
#include "team.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

mlp_train_cfg mlp_train_cfg_default(void) {
    mlp_train_cfg c;
    memset(&c, 0, sizeof c);
    c.loss = mlp_loss_default(MLP_LOSS_HINGE);
    c.lr = 1e-5f;
    c.wd = 0.1f;
    c.momentum = 0.9f;
    c.reduction = MLP_GRAD_SUM;
    c.batch = 100;
    c.epochs = 200;
    c.shuffle = 1;
    c.init_std = 0.01f;
    c.seed = 1;
    c.optim = MLP_OPTIM_SGD;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    c.schedule = MLP_SCHEDULE_CONSTANT;
    c.step_epochs = 30;
    c.step_gamma = 0.1f;
    return c;
}

/* Every label of ds must be a class of the network (0..K-1). */
static mlp_status check_labels(const mlp_dataset *ds, int K, const char *what, mlp_error *err) {
    if (!ds->y) return mlp_fail(err, MLP_ERR_ARG, "the %s set has no labels", what);
    for (int i = 0; i < ds->n; i++)
        if (ds->y[i] < 0 || ds->y[i] >= K)
            return mlp_fail(err, MLP_ERR_ARG, "%s example %d has label %d; the network's %d outputs need labels 0..%d",
                            what, i, (int)ds->y[i], K, K - 1);
    return MLP_OK;
}

static mlp_status check_cfg(const mlp_train_cfg *c, const mlp_net *net, const mlp_dataset *train,
                            const mlp_dataset *test, const mlp_dataset *val, mlp_error *err) {
    const int K = net->arch.width[net->arch.n_layers];
    mlp_status st;
    if (!(isfinite(c->lr) && c->lr >= 0))
        return mlp_fail(err, MLP_ERR_ARG, "learning rate %g: must be finite and >= 0", (double)c->lr);
    if (!(isfinite(c->wd) && c->wd >= 0))
        return mlp_fail(err, MLP_ERR_ARG, "weight decay %g: must be finite and >= 0", (double)c->wd);
    if (!(isfinite(c->momentum) && c->momentum >= 0 && c->momentum < 1))
        return mlp_fail(err, MLP_ERR_ARG, "momentum %g: must be in [0, 1)", (double)c->momentum);
    if (c->reduction != MLP_GRAD_SUM && c->reduction != MLP_GRAD_MEAN)
        return mlp_fail(err, MLP_ERR_ARG, "unknown gradient reduction %d", (int)c->reduction);
    if ((unsigned)c->optim >= MLP_OPTIM_COUNT) return mlp_fail(err, MLP_ERR_ARG, "unknown optimizer %d", (int)c->optim);
    if (c->nesterov && (c->optim != MLP_OPTIM_SGD || !(c->momentum > 0)))
        return mlp_fail(err, MLP_ERR_ARG, "Nesterov momentum needs the sgd optimizer with a momentum > 0");
    if (c->optim != MLP_OPTIM_SGD) {
        if (!(isfinite(c->beta1) && c->beta1 >= 0 && c->beta1 < 1))
            return mlp_fail(err, MLP_ERR_ARG, "beta1 %g: must be in [0, 1)", (double)c->beta1);
        if (!(isfinite(c->beta2) && c->beta2 >= 0 && c->beta2 < 1))
            return mlp_fail(err, MLP_ERR_ARG, "beta2 %g: must be in [0, 1)", (double)c->beta2);
        if (!(isfinite(c->eps) && c->eps > 0))
            return mlp_fail(err, MLP_ERR_ARG, "eps %g: must be finite and > 0", (double)c->eps);
    }
    if (!(isfinite(c->dropout) && c->dropout >= 0 && c->dropout < 1))
        return mlp_fail(err, MLP_ERR_ARG, "dropout %g: must be in [0, 1)", (double)c->dropout);
    if (c->early_stop < 0) return mlp_fail(err, MLP_ERR_ARG, "early stopping patience %d: must be >= 0", c->early_stop);
    if ((unsigned)c->monitor >= MLP_MONITOR_COUNT)
        return mlp_fail(err, MLP_ERR_ARG, "unknown monitored value %d", (int)c->monitor);
    if (c->early_stop > 0 && !(test && test->n > 0) && !(val && val->n > 0))
        return mlp_fail(err, MLP_ERR_ARG,
                        "early stopping needs a set to monitor: give the trainer a validation or a test set");
    if (val && val->n > 0 && val->dim != net->arch.width[0])
        return mlp_fail(err, MLP_ERR_ARG, "validation examples have %d values but the network takes %d inputs", val->dim,
                        net->arch.width[0]);
    if (val && val->n > 0 && (st = check_labels(val, K, "validation", err))) return st;
    if ((unsigned)c->schedule >= MLP_SCHEDULE_COUNT)
        return mlp_fail(err, MLP_ERR_ARG, "unknown learning-rate schedule %d", (int)c->schedule);
    if (c->warmup_epochs < 0 || (c->warmup_epochs > 0 && c->warmup_epochs >= c->epochs))
        return mlp_fail(err, MLP_ERR_ARG, "warm-up of %d epochs: must be 0..%d (fewer than the %d epochs)",
                        c->warmup_epochs, c->epochs > 0 ? c->epochs - 1 : 0, c->epochs);
    if (c->schedule == MLP_SCHEDULE_STEP && c->step_epochs < 1)
        return mlp_fail(err, MLP_ERR_ARG, "step schedule every %d epochs: must be >= 1", c->step_epochs);
    if (c->schedule == MLP_SCHEDULE_STEP && !(isfinite(c->step_gamma) && c->step_gamma > 0 && c->step_gamma <= 1))
        return mlp_fail(err, MLP_ERR_ARG, "step schedule factor %g: must be in (0, 1]", (double)c->step_gamma);
    if (c->schedule == MLP_SCHEDULE_COSINE && !(isfinite(c->min_lr) && c->min_lr >= 0 && c->min_lr <= c->lr))
        return mlp_fail(err, MLP_ERR_ARG, "cosine schedule's final learning rate %g: must be in [0, lr = %g]",
                        (double)c->min_lr, (double)c->lr);
    if ((unsigned)c->loss.kind >= MLP_LOSS_COUNT)
        return mlp_fail(err, MLP_ERR_ARG, "unknown loss %d", (int)c->loss.kind);
    if (!train || train->n < 1) return mlp_fail(err, MLP_ERR_ARG, "empty training set");
    if (c->batch < 1 || c->batch > train->n)
        return mlp_fail(err, MLP_ERR_ARG, "batch size %d: must be 1..%d (the training set size)", c->batch, train->n);
    if (c->batch > net->max_batch)
        return mlp_fail(err, MLP_ERR_ARG, "batch size %d exceeds the network's max_batch %d", c->batch,
                        net->max_batch);
    if (train->dim != net->arch.width[0])
        return mlp_fail(err, MLP_ERR_ARG, "training images have %d pixels but the network takes %d inputs",
                        train->dim, net->arch.width[0]);
    if (test && test->n > 0 && test->dim != net->arch.width[0])
        return mlp_fail(err, MLP_ERR_ARG, "test images have %d pixels but the network takes %d inputs", test->dim,
                        net->arch.width[0]);
    if ((st = check_labels(train, K, "training", err)) || (test && test->n > 0 && (st = check_labels(test, K, "test", err))))
        return st;
    return MLP_OK;
}

/* ------------------------------------------------------------------ the trainer's scratch block
 *
 * ws->xbatch is the start of one float block holding everything the fused step needs besides the network:
 * two batch buffers, two layer-0 activation buffers (the step alternates), f'(u_l) and G_l of the hidden
 * layers, layer 0's gradient and momentum in the transposed layout, and the per-row losses and hits. Its
 * layout is a function of the batch size and the architecture only. ws->ybatch holds two label buffers;
 * G_{L-1} is ws->dlogits. */
#define SCRATCH_ALIGN 16 /* floats: 64 bytes */

static size_t scratch_round(size_t n) { return (n + SCRATCH_ALIGN - 1) / SCRATCH_ALIGN * SCRATCH_ALIGN; }

typedef struct scratch {
    float *x[2];
    int32_t *y[2];
    float *a0[2];
    float *d[MLP_MAX_LAYERS], *g[MLP_MAX_LAYERS];
    float *gt0, *vt0, *st0; /* st0: Adam's second moment of layer 0 (NULL with SGD) */
    double *row_loss;
    unsigned char *row_ok;
} scratch;

/* Carves the block at base (or, with base NULL, only counts); returns its size in floats. */
static size_t scratch_layout(scratch *sc, float *base, int32_t *ybase, float *dlogits, const mlp_arch *A, int B,
                             mlp_optim optim) {
    const int L = A->n_layers, D = A->width[0], H = A->width[1];
    size_t at = 0;
#define TAKE(n) (at += scratch_round(n), base ? base + at - scratch_round(n) : NULL)
    memset(sc, 0, sizeof *sc);
    sc->x[0] = TAKE((size_t)B * D);
    sc->x[1] = TAKE((size_t)B * D);
    if (L > 1) {
        sc->a0[0] = TAKE((size_t)B * H);
        sc->a0[1] = TAKE((size_t)B * H);
    }
    for (int l = 0; l < L - 1; l++) {
        sc->d[l] = TAKE((size_t)B * A->width[l + 1]);
        sc->g[l] = TAKE((size_t)B * A->width[l + 1]);
    }
    sc->g[L - 1] = dlogits;
    sc->gt0 = TAKE((size_t)D * H);
    sc->vt0 = TAKE((size_t)D * H);
    if (optim != MLP_OPTIM_SGD) sc->st0 = TAKE((size_t)D * H);
    sc->row_loss = (double *)(void *)TAKE(2 * (size_t)B);
    sc->row_ok = (unsigned char *)(void *)TAKE((size_t)B / sizeof(float) + 1);
#undef TAKE
    sc->y[0] = ybase;
    sc->y[1] = ybase ? ybase + B : NULL;
    return at;
}

/* ------------------------------------------------------------------ the compressed training set
 *
 * For the sparse first layer (kernels.h): every training image as the list of its inputs that differ from
 * the background value c (index, x - c), built once at mlp_trainer_init when at least 60% of the inputs are
 * background (MNIST: 81%, 150 entries of 6 bytes per image instead of 784 floats). A batch is then a list of
 * row views (no copy), and its CSC blocks are rebuilt from them at every step. */
typedef struct train_sparse {
    float c;
    uint64_t *row_ptr; /* [n + 1] */
    uint16_t *idx;
    float *val;
    uint64_t *off[2];  /* the batch views, double-buffered like the dense batch: [batch] */
    uint32_t *cnt[2];
    mlp_csc_block *blocks;
    uint32_t *pstart;
    uint16_t *row;
    float *cval;
    size_t cap;        /* entries per CSC block: MLP_CSC_ROWS x the longest row */
    float *S, *start;  /* [width1] */
} train_sparse;

static void sparse_free(train_sparse *sp) {
    if (!sp) return;
    free(sp->row_ptr), free(sp->idx), free(sp->val), free(sp->off[0]), free(sp->off[1]), free(sp->cnt[0]);
    free(sp->cnt[1]), free(sp->blocks), free(sp->pstart), free(sp->row), free(sp->cval), free(sp->S), free(sp->start);
    free(sp);
}

/* NULL when the set is not sparse enough (or on allocation failure: the dense path is always available). */
static train_sparse *sparse_build(const mlp_dataset *ds, const mlp_arch *arch, int batch) {
    float c;
    const int D = ds->dim, H = arch->width[1];
    if (batch > 65535 || !mlp_input_background(ds->x, ds->n, D, &c)) return NULL; /* 16-bit row and input indices */
    const size_t total = (size_t)ds->n * (size_t)D;
    size_t nnz = 0;
    uint32_t longest = 0;
    for (int r = 0; r < ds->n; r++) {
        const float *x = ds->x + (size_t)r * D;
        uint32_t k = 0;
        for (int i = 0; i < D; i++) k += x[i] != c;
        nnz += k;
        if (k > longest) longest = k;
    }
    if (nnz * 10 > total * 4) return NULL; /* more than 40% of the inputs: the dense product is as fast */
    train_sparse *sp = calloc(1, sizeof *sp);
    if (!sp) return NULL;
    const int nblocks = (batch + MLP_CSC_ROWS - 1) / MLP_CSC_ROWS;
    sp->c = c;
    sp->cap = (size_t)MLP_CSC_ROWS * (longest ? longest : 1);
    sp->row_ptr = malloc(sizeof(uint64_t) * ((size_t)ds->n + 1));
    sp->idx = mlp_alloc_block(sizeof(uint16_t) * (nnz + 1)); /* + 1: the compaction below writes one past */
    sp->val = mlp_alloc_block(sizeof(float) * (nnz + 1));
    for (int k = 0; k < 2; k++) {
        sp->off[k] = malloc(sizeof(uint64_t) * (size_t)batch);
        sp->cnt[k] = malloc(sizeof(uint32_t) * (size_t)batch);
    }
    sp->blocks = calloc((size_t)nblocks, sizeof *sp->blocks);
    sp->pstart = malloc(sizeof(uint32_t) * (size_t)nblocks * ((size_t)D + 1));
    sp->row = malloc(sizeof(uint16_t) * (size_t)nblocks * sp->cap);
    sp->cval = malloc(sizeof(float) * (size_t)nblocks * sp->cap);
    sp->S = malloc(sizeof(float) * (size_t)H);
    sp->start = malloc(sizeof(float) * (size_t)H);
    if (!sp->row_ptr || !sp->idx || !sp->val || !sp->off[0] || !sp->off[1] || !sp->cnt[0] || !sp->cnt[1] ||
        !sp->blocks || !sp->pstart || !sp->row || !sp->cval || !sp->S || !sp->start) {
        sparse_free(sp);
        return NULL;
    }
    size_t at = 0;
    for (int r = 0; r < ds->n; r++) {
        const float *x = ds->x + (size_t)r * D;
        sp->row_ptr[r] = at;
        for (int i = 0; i < D; i++) { /* branch-free compaction: every pixel is written, the background's overwritten */
            sp->idx[at] = (uint16_t)i;
            sp->val[at] = x[i] - c;
            at += x[i] != c;
        }
    }
    sp->row_ptr[ds->n] = at;
    memset(sp->pstart, 0, sizeof(uint32_t) * (size_t)nblocks * ((size_t)D + 1));
    memset(sp->row, 0, sizeof(uint16_t) * (size_t)nblocks * sp->cap);
    memset(sp->cval, 0, sizeof(float) * (size_t)nblocks * sp->cap);
    return sp;
}

mlp_status mlp_trainer_init(mlp_trainer *t, mlp_net *net, const mlp_train_cfg *cfg, const mlp_dataset *train,
                            const mlp_dataset *test, mlp_error *err) {
    return mlp_trainer_init_val(t, net, cfg, train, test, NULL, err);
}

mlp_status mlp_trainer_init_val(mlp_trainer *t, mlp_net *net, const mlp_train_cfg *cfg, const mlp_dataset *train,
                                const mlp_dataset *test, const mlp_dataset *val, mlp_error *err) {
    memset(t, 0, sizeof *t);
    mlp_status st = check_cfg(cfg, net, train, test, val, err);
    if (st) return st;
    t->cfg = *cfg;
    t->net = net;
    t->train = train;
    t->test = test;
    t->val = val && val->n > 0 ? val : NULL;
    mlp_rng_seed(&t->shuffle_rng, cfg->seed, 2);
    const int K = net->arch.width[net->arch.n_layers];
    mlp_trainer_ws *ws = t->ws = calloc(1, sizeof *t->ws);
    scratch sc;
    const size_t floats = scratch_layout(&sc, NULL, NULL, NULL, &net->arch, cfg->batch, cfg->optim);
    if (ws) {
        ws->perm = malloc(sizeof(uint32_t) * (size_t)train->n);
        ws->xbatch = mlp_alloc_block(floats * sizeof(float));
        ws->dlogits = malloc(sizeof(float) * (size_t)cfg->batch * (size_t)K);
        ws->ybatch = malloc(2 * (size_t)cfg->batch * sizeof *ws->ybatch);
    }
    if (!ws || !ws->perm || !ws->xbatch || !ws->dlogits || !ws->ybatch) {
        mlp_trainer_free(t);
        return mlp_fail(err, MLP_ERR_NOMEM, "cannot allocate the trainer's buffers");
    }
    memset(ws->xbatch, 0, floats * sizeof(float)); /* the pages are faulted in now, not in the first epoch */
    if (net->input_sparse) ws->sparse = sparse_build(train, &net->arch, cfg->batch);
    return MLP_OK;
}

void mlp_trainer_free(mlp_trainer *t) {
    if (t->ws) {
        free(t->ws->perm);
        free(t->ws->xbatch);
        free(t->ws->dlogits);
        free(t->ws->ybatch);
        sparse_free(t->ws->sparse);
        free(t->ws);
    }
    memset(t, 0, sizeof *t);
}

mlp_status mlp_trainer_set_shards(mlp_trainer *t, int index, int count, mlp_combine_fn combine, void *user,
                                  mlp_error *err) {
    if (!t->ws) return mlp_fail(err, MLP_ERR_ARG, "data parallelism: the trainer is not initialised");
    if (count < 1 || index < 0 || index >= count)
        return mlp_fail(err, MLP_ERR_ARG, "data parallelism: shard %d of %d: needs 0 <= index < count", index, count);
    t->ws->shard_index = index;
    t->ws->shard_count = count;
    t->ws->combine = combine;
    t->ws->combine_user = user;
    return MLP_OK;
}

static int params_finite(const mlp_net *net) {
    for (size_t i = 0; i < net->n_params; i++)
        if (!isfinite(net->params[i])) return 0;
    return 1;
}

/* ------------------------------------------------------------------ the epoch
 *
 * What the threads of an epoch share: the trainer, the step buffers, the team (team.h), and thread 0's results. */
typedef struct epoch_run {
    mlp_trainer *t;
    int epoch, steps, start;
    float lr;      /* this epoch's learning rate (the schedule's) */
    int64_t step0; /* updates before this epoch: step s is update step0 + s + 1 (Adam's t) */
    scratch sc;
    train_sparse *sp; /* the sparse first layer this epoch, or NULL */
    mlp_team team;
    const mlp_fpmode *fm; /* the caller's floating-point mode, restored by the team's threads (fpmode.c) */
    int want_stop;    /* written by thread 0 after a step, read by all after the next step's first barrier */
    /* results (thread 0) */
    double sum_loss, sum_acc;
    int diverged_step; /* step (0-based) whose loss is not finite, or -1 */
    double diverged_loss;
    int stopped_after; /* steps done when stopped on request, or -1 */
} epoch_run;

static int batch_rows(const mlp_trainer *t, int s) {
    const int first = s * t->cfg.batch;
    return t->train->n - first < t->cfg.batch ? t->train->n - first : t->cfg.batch;
}

static void prefetch_row(const float *p, size_t n) {
#if defined(__GNUC__) || defined(__clang__)
    for (size_t i = 0; i < n; i += 16) __builtin_prefetch(p + i, 0, 3);
#else
    (void)p, (void)n;
#endif
}

/* Rows [r0, r1) of batch s into buffer s % 2: with the sparse first layer, views of the compressed rows (and a
 * prefetch of them), else copies of the rows. */
static void gather_sparse(const mlp_trainer *t, const train_sparse *sp, const scratch *sc, int s, int r0, int r1) {
    uint64_t *off = sp->off[s & 1];
    uint32_t *cnt = sp->cnt[s & 1];
    int32_t *y = sc->y[s & 1];
    const uint32_t *perm = t->ws->perm + (size_t)s * t->cfg.batch;
    for (int r = r0; r < r1; r++) {
        const uint32_t p = perm[r];
        off[r] = sp->row_ptr[p];
        cnt[r] = (uint32_t)(sp->row_ptr[p + 1] - sp->row_ptr[p]);
        y[r] = t->train->y[p];
#if defined(__GNUC__) || defined(__clang__)
        for (uint32_t e = 0; e < cnt[r]; e += 32) __builtin_prefetch(sp->idx + off[r] + e, 0, 3);
        for (uint32_t e = 0; e < cnt[r]; e += 16) __builtin_prefetch(sp->val + off[r] + e, 0, 3);
#endif
    }
}

static void gather_dense(const mlp_trainer *t, const scratch *sc, int s, int r0, int r1) {
    const mlp_dataset *ds = t->train;
    const size_t dim = (size_t)ds->dim;
    float *x = sc->x[s & 1];
    int32_t *y = sc->y[s & 1];
    const uint32_t *perm = t->ws->perm + (size_t)s * t->cfg.batch;
    /* The rows are scattered over the (DRAM-sized) training set: ask for row r + AHEAD while copying row r,
     * so that the copy waits for memory once per batch, not once per row. */
    enum { AHEAD = 6 };
    for (int r = r0; r < r1 && r < r0 + AHEAD; r++) prefetch_row(ds->x + (size_t)perm[r] * dim, dim);
    for (int r = r0; r < r1; r++) {
        if (r + AHEAD < r1) prefetch_row(ds->x + (size_t)perm[r + AHEAD] * dim, dim);
        memcpy(x + (size_t)r * dim, ds->x + (size_t)perm[r] * dim, sizeof(float) * dim);
        y[r] = ds->y[perm[r]];
    }
}

/* Part `part` of `parts` of batch s's rows into buffer s % 2. */
static void gather(const epoch_run *run, int s, int part, int parts) {
    const int nb = batch_rows(run->t, s);
    const int r0 = (int)((long long)nb * part / parts), r1 = (int)((long long)nb * (part + 1) / parts);
    if (run->sp) gather_sparse(run->t, run->sp, &run->sc, s, r0, r1);
    else gather_dense(run->t, &run->sc, s, r0, r1);
}

/* A thread's view of the step buffers (the storage is shared; the sparse view is this thread's copy). */
static void step_view(const epoch_run *run, mlp_step *st, mlp_step_sparse *sp) {
    const mlp_trainer *t = run->t;
    const scratch *sc = &run->sc;
    memset(st, 0, sizeof *st);
    for (int l = 0; l < t->net->arch.n_layers; l++) {
        st->d[l] = sc->d[l];
        st->g[l] = sc->g[l];
    }
    st->gt0 = sc->gt0;
    st->vt0 = sc->vt0;
    st->st0 = sc->st0;
    st->row_loss = sc->row_loss;
    st->row_ok = sc->row_ok;
    st->loss = &t->cfg.loss;
    st->lr = run->lr;
    st->wd = t->cfg.wd;
    st->mom = t->cfg.momentum;
    const train_sparse *tsp = run->sp;
    memset(sp, 0, sizeof *sp);
    if (!tsp) return;
    sp->c = tsp->c;
    sp->rows.idx = tsp->idx;
    sp->rows.val = tsp->val;
    sp->blocks = tsp->blocks;
    sp->pstart = tsp->pstart;
    sp->row = tsp->row;
    sp->val = tsp->cval;
    sp->cap = tsp->cap;
    sp->S = tsp->S;
    sp->start = tsp->start;
    st->sp = sp;
}

/* The view of batch s (buffer s % 2); returns its rows. */
static int step_batch(const epoch_run *run, mlp_step *st, int s) {
    const int nb = batch_rows(run->t, s);
    st->x = run->sc.x[s & 1];
    st->y = run->sc.y[s & 1];
    st->nb = nb;
    st->a0 = run->sc.a0[s & 1];
    st->grad_scale = run->t->cfg.reduction == MLP_GRAD_MEAN ? 1.0f / (float)nb : 1.0f;
    if (st->sp) {
        st->sp->rows.off = run->sp->off[s & 1];
        st->sp->rows.cnt = run->sp->cnt[s & 1];
        st->sp->nblocks = (nb + MLP_CSC_ROWS - 1) / MLP_CSC_ROWS;
    }
    return nb;
}

/* Thread 0, after step s's update: the epoch's running sums, the trainer's resume point, progress, stop request.
 * Returns whether a stop was requested. */
static int step_done(epoch_run *run, int s, double batch_loss, double batch_acc) {
    mlp_trainer *t = run->t;
    run->sum_loss += batch_loss;
    run->sum_acc += batch_acc;
    t->step_in_epoch = s + 1;
    t->epoch_loss_sum = run->sum_loss;
    t->epoch_acc_sum = run->sum_acc;
    if (t->on_step) t->on_step(t->on_step_user, run->epoch, s + 1, run->steps, run->sum_loss, run->sum_acc);
    return t->stop_flag && *t->stop_flag;
}

/* The step loop, run by every thread of the team (me = 0 .. parts-1; with a team of one, thread 0 alone). Per step:
 * the fused step's three parts (net.c) between two barriers, the next batch gathered during the middle part, the
 * loss checked before the update. Thread 0 keeps the books and picks the team (team.c). */
static void epoch_worker(epoch_run *run, int me, int parts) {
    mlp_net *net = run->t->net;
    mlp_step st;
    mlp_step_sparse sp;
    step_view(run, &st, &sp);
    mlp_optim_coef rule; /* this thread's copies of the step's update rule and dropout masks */
    mlp_dropout_ctx drop;
    st.opt = &rule;
    st.drop = run->t->cfg.dropout > 0 ? &drop : NULL;
    mlp_team_seat seat;
    mlp_team_enter(&run->team, &seat, me, parts);
    gather(run, run->start, me, parts);
    mlp_team_sync(&run->team, &seat);
    for (int s = run->start;; s++) {
        if ((s = mlp_team_turn(&run->team, &seat, s)) < 0 || s >= run->steps) break; /* parked threads wait here */
        const int nb = step_batch(run, &st, s), act = seat.act;
        rule = mlp_optim_coef_make(&run->t->cfg, run->lr, run->step0 + s + 1);
        if (st.drop)
            drop = mlp_dropout_make(&(mlp_dropout){run->t->cfg.dropout, run->t->cfg.seed, run->epoch, s, 0}, net->kernels);

        mlp_step_forward0(net, &st, me, act);
        mlp_team_sync(&run->team, &seat);
        if (run->want_stop) { /* raised after step s - 1 (nothing of step s is kept: forward0 wrote scratch) */
            if (me == 0) run->stopped_after = s;
            break;
        }
        mlp_step_middle(net, &st, me, act);
        if (s + 1 < run->steps) gather(run, s + 1, me, act);
        if (me == 0) mlp_team_policy(&run->team, s);
        mlp_team_sync(&run->team, &seat);

        int correct; /* every thread sums the batch the same way, so all take the same branch */
        const double batch_loss = mlp_rows_sum(st.row_loss, st.row_ok, nb, &correct) / nb;
        if (!isfinite(batch_loss)) {
            if (me == 0) {
                run->diverged_step = s;
                run->diverged_loss = batch_loss;
            }
            break;
        }
        mlp_step_update(net, &st, me, act);
        /* the stop request is seen by every thread after the next step's first barrier (the last step is never
         * interrupted) */
        if (me == 0) run->want_stop = step_done(run, s, batch_loss, (double)correct / nb);
        mlp_team_adopt(&run->team, &seat, s); /* the new team, once every thread has finished this update */
    }
    if (me == 0) mlp_team_finish(&run->team); /* parked threads leave */
}

/* The fused steps of the epoch: one parallel region on the net's threads. */
static mlp_status fused_steps(epoch_run *run, const unsigned char *teams, mlp_error *err) {
    mlp_net *net = run->t->net;
    if (mlp_team_init(&run->team, run->start, run->steps, teams))
        return mlp_fail(err, MLP_ERR_NOMEM, "cannot create the trainer's thread synchronization");
    run->sp = net->input_sparse ? run->t->ws->sparse : NULL;
    mlp_net_params_changed(net); /* the parameters may have been written directly since the last epoch */
    mlp_step_enter(net, run->sc.vt0, run->sc.st0, run->sp ? run->sp->S : NULL); /* W_0, its state (and S) */
#ifdef _OPENMP
#pragma omp parallel num_threads(net->threads)
    {
        mlp_fpmode tm; /* subnormals flushed on every thread of the team */
        mlp_fpmode_enter(&tm);
        epoch_worker(run, omp_get_thread_num(), omp_get_num_threads());
        mlp_fpmode_leave_team(&tm, run->fm, omp_get_thread_num());
    }
#else
    epoch_worker(run, 0, 1);
#endif
    mlp_step_leave(net, run->sc.vt0, run->sc.st0);
    mlp_team_destroy(&run->team);
    return MLP_OK;
}

/* ------------------------------------------------------------------ data parallelism (mlp_trainer_set_shards)
 *
 * The steps of an epoch when the batches are shared between processes: the reference step (step.h) on this
 * process's rows of batch s (a contiguous slice of it), the gradient scaled by 1/nb (mean) for the whole batch's
 * nb rows; combine() makes net->grads and the sums the totals over all shards; then the update every process
 * applies alike. Unfused (the fused step applies the update inside its weight-gradient pass, so there is no
 * gradient to combine), dense, on the net's threads. (A sparse first layer in the forward pass alone gained 8% on
 * MNIST: the weight gradient, dense here, dominates.) MLP_ERR_IO when combine fails. */
static mlp_status sharded_steps(epoch_run *run, mlp_error *err) {
    mlp_trainer *t = run->t;
    const mlp_trainer_ws *ws = t->ws;
    mlp_net *net = t->net;
    const mlp_dataset *ds = t->train;
    const size_t D = (size_t)ds->dim;
    const scratch *sc = &run->sc;
    float *x = sc->x[0];
    int32_t *y = sc->y[0];
    mlp_net_params_changed(net);
    for (int s = run->start; s < run->steps; s++) {
        const int nb = batch_rows(t, s);
        const int shards = ws->shard_count > 1 ? ws->shard_count : 1, me = shards > 1 ? ws->shard_index : 0;
        const int r0 = (int)((long long)nb * me / shards), r1 = (int)((long long)nb * (me + 1) / shards);
        const int n = r1 - r0;
        const uint32_t *perm = ws->perm + (size_t)s * t->cfg.batch + r0;
        for (int r = 0; r < n; r++) {
            memcpy(x + (size_t)r * D, ds->x + (size_t)perm[r] * D, sizeof(float) * D);
            y[r] = ds->y[perm[r]];
        }
        /* sums: loss, correct predictions (each in row order), stop request */
        double sums[3] = {0, 0, t->stop_flag && *t->stop_flag ? 1 : 0};
        if (n > 0) {
            const float scale = t->cfg.reduction == MLP_GRAD_MEAN ? 1.0f / (float)nb : 1.0f;
            int correct;
            const mlp_dropout drop = {t->cfg.dropout, t->cfg.seed, run->epoch, s, r0}; /* rows r0.. of the batch */
            sums[0] = mlp_step_ref_grad(net, &t->cfg.loss, x, y, n, scale, ws->dlogits, sc->row_loss, sc->row_ok,
                                        &correct, &drop);
            sums[1] = correct;
        } else {
            memset(net->grads, 0, sizeof(float) * net->n_params); /* a batch smaller than the shard count */
        }
        if (ws->combine && ws->combine(ws->combine_user, net->grads, net->n_params, sums))
            return mlp_fail(err, MLP_ERR_IO, "data parallelism: combining the gradients of epoch %d, step %d failed",
                            run->epoch, s + 1);
        const double batch_loss = sums[0] / nb;
        if (!isfinite(batch_loss)) {
            run->diverged_step = s;
            run->diverged_loss = batch_loss;
            break;
        }
        mlp_step_ref_update(net, &t->cfg, run->lr, run->step0 + s + 1);
        step_done(run, s, batch_loss, sums[1] / nb);
        /* the stop request of any process before this step (sums[2]), so that all stop after the same step; as
         * in the fused loop, the last step is never interrupted */
        if (sums[2] != 0 && s + 1 < run->steps) {
            run->stopped_after = s + 1;
            break;
        }
    }
    return MLP_OK;
}

/* ------------------------------------------------------------------ one epoch */

/* The epoch's permutation: identity, then Fisher-Yates from the generator state at the epoch's start. Resuming
 * inside an epoch (step_in_epoch > 0) regenerates the same permutation from the saved state. */
static void shuffle(mlp_trainer *t) {
    const int n = t->train->n;
    uint32_t *perm = t->ws->perm;
    if (t->step_in_epoch == 0) t->epoch_rng = t->shuffle_rng;
    t->shuffle_rng = t->epoch_rng;
    for (int i = 0; i < n; i++) perm[i] = (uint32_t)i;
    if (t->cfg.shuffle)
        for (int i = n - 1; i > 0; i--) {
            uint32_t j = mlp_rng_below(&t->shuffle_rng, (uint32_t)i + 1);
            uint32_t tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
        }
}

/* How the steps ended: diverged, interrupted, or finished with finite parameters. */
static mlp_status steps_status(const epoch_run *run, mlp_error *err) {
    const mlp_trainer *t = run->t;
    if (run->diverged_step >= 0)
        return mlp_fail(err, MLP_ERR_DIVERGED,
                        "training diverged at epoch %d, step %d of %d: the loss is %s; try a smaller learning "
                        "rate (--lr %g now)",
                        run->epoch, run->diverged_step + 1, run->steps, isnan(run->diverged_loss) ? "NaN" : "infinite",
                        (double)t->cfg.lr);
    if (run->stopped_after >= 0)
        return mlp_fail(err, MLP_ERR_INTERRUPTED, "interrupted at epoch %d, step %d of %d", run->epoch,
                        run->stopped_after, run->steps);
    if (!params_finite(t->net))
        return mlp_fail(err, MLP_ERR_DIVERGED,
                        "training diverged in epoch %d: a parameter became NaN or infinite; try a smaller learning "
                        "rate (--lr %g now)",
                        run->epoch, (double)t->cfg.lr);
    return MLP_OK;
}

/* The monitored set's value after an epoch (NaN when there is none): the validation set's when there is one, else
 * the test set's. The one place that says which set early stopping watches. */
static double monitored(const mlp_trainer *t, const mlp_epoch_metrics *m) {
    if (t->val && t->val->n > 0) return t->cfg.monitor == MLP_MONITOR_ACC ? m->val_acc : m->val_loss;
    return t->cfg.monitor == MLP_MONITOR_ACC ? m->test_acc : m->test_loss;
}

/* The best epoch and the epochs since it, after epoch m->epoch (a strict improvement counts). */
static void track_best(mlp_trainer *t, const mlp_epoch_metrics *m) {
    const double v = monitored(t, m);
    if (!isfinite(v)) return;
    const int better = t->best_epoch == 0 || (t->cfg.monitor == MLP_MONITOR_ACC ? v > t->best_value : v < t->best_value);
    if (better) {
        t->best_epoch = m->epoch;
        t->best_value = v;
        t->since_best = 0;
    } else {
        t->since_best++;
    }
}

int mlp_trainer_stop_early(const mlp_trainer *t) { return t->cfg.early_stop > 0 && t->since_best >= t->cfg.early_stop; }

mlp_status mlp_trainer_epoch(mlp_trainer *t, mlp_epoch_metrics *m, mlp_error *err) {
    return mlp_trainer_epoch_teams(t, m, NULL, err);
}

static mlp_status epoch(mlp_trainer *t, mlp_epoch_metrics *m, const unsigned char *teams, const mlp_fpmode *fm,
                        mlp_error *err);

/* Subnormals are flushed while the epoch computes (fpmode.c), on this thread and on every thread of the team;
 * the caller's mode is restored before returning. */
mlp_status mlp_trainer_epoch_teams(mlp_trainer *t, mlp_epoch_metrics *m, const unsigned char *teams, mlp_error *err) {
    mlp_fpmode fm;
    mlp_fpmode_enter(&fm);
    const mlp_status st = epoch(t, m, teams, &fm, err);
    mlp_fpmode_leave(&fm);
    return st;
}

static mlp_status epoch(mlp_trainer *t, mlp_epoch_metrics *m, const unsigned char *teams, const mlp_fpmode *fm,
                        mlp_error *err) {
    const double t0 = mlp_now_seconds();
    const int steps = (t->train->n + t->cfg.batch - 1) / t->cfg.batch;
    if (t->step_in_epoch < 0 || t->step_in_epoch >= steps)
        return mlp_fail(err, MLP_ERR_ARG, "trainer: step_in_epoch %d is outside 0..%d", t->step_in_epoch, steps - 1);
    shuffle(t);
    epoch_run run;
    memset(&run, 0, sizeof run);
    run.t = t;
    run.epoch = t->epochs_done + 1;
    run.steps = steps;
    run.start = t->step_in_epoch;
    run.sum_loss = run.start ? t->epoch_loss_sum : 0;
    run.sum_acc = run.start ? t->epoch_acc_sum : 0;
    run.diverged_step = run.stopped_after = -1;
    run.fm = fm;
    run.lr = mlp_lr_at(&t->cfg, run.epoch);
    run.step0 = (int64_t)(run.epoch - 1) * steps;
    scratch_layout(&run.sc, t->ws->xbatch, t->ws->ybatch, t->ws->dlogits, &t->net->arch, t->cfg.batch, t->cfg.optim);
    const int sharded = t->ws->shard_count > 1 || t->ws->combine; /* data parallelism: unfused, on this shard */
    mlp_status st = sharded ? sharded_steps(&run, err) : fused_steps(&run, teams, err);
    if (st == MLP_OK) st = steps_status(&run, err);
    if (st) return st;
    t->step_in_epoch = 0;
    t->epochs_done = run.epoch;

    memset(m, 0, sizeof *m);
    m->epoch = run.epoch;
    m->train_loss = run.sum_loss / steps;
    m->train_acc = run.sum_acc / steps;
    m->lr = run.lr;
    if (t->test && t->test->n > 0) {
        st = mlp_evaluate(t->net, &t->cfg.loss, t->test, &m->test_loss, &m->test_acc, NULL, err);
        if (st) return st;
    } else {
        m->test_loss = m->test_acc = NAN;
    }
    if (t->val && t->val->n > 0) {
        st = mlp_evaluate(t->net, &t->cfg.loss, t->val, &m->val_loss, &m->val_acc, NULL, err);
        if (st) return st;
    } else {
        m->val_loss = m->val_acc = NAN;
    }
    m->seconds = mlp_now_seconds() - t0;
    track_best(t, m);
    return MLP_OK;
}

/* The evaluation: rounds of max_batch rows; in each, every thread runs its rows through the network and the
 * loss (per-row values into the net's eval buffers, which alternate between rounds), then after a barrier
 * thread 0 adds the round up in row order -- the sums mlp_loss_eval would make, whatever the thread count. */
typedef struct eval_run {
    mlp_net *net;
    const float *start0; /* the sparse first layer's start vector, or NULL */
    float c;
    const mlp_loss_cfg *loss;
    const mlp_dataset *ds;
    int *confusion;
    mlp_barrier bar;
    double sum;
    long correct;
} eval_run;

static void eval_worker(eval_run *e, int me, int parts) {
    mlp_net *net = e->net;
    const mlp_dataset *ds = e->ds;
    const int K = net->arch.width[net->arch.n_layers], mb = net->max_batch;
    int round = 0;
    for (int first = 0; first < ds->n; first += mb, round++) {
        const int nb = ds->n - first < mb ? ds->n - first : mb;
        const int r0 = (int)((long long)nb * me / parts), r1 = (int)((long long)nb * (me + 1) / parts);
        double *row_loss = net->ws->eval_loss + (size_t)(round & 1) * mb;
        int *pred = net->ws->eval_pred + (size_t)(round & 1) * mb;
        if (r1 > r0) {
            mlp_net_forward_rows(net, ds->x + (size_t)first * ds->dim, r0, r1, e->start0, e->c);
            const float *logits = net->ws->u[net->arch.n_layers - 1];
            mlp_loss_rows(e->loss, logits + (size_t)r0 * K, ds->y + first + r0, r1 - r0, K, NULL, 1.0f, row_loss + r0,
                          NULL);
            for (int r = r0; r < r1; r++) {
                const float *row = logits + (size_t)r * K;
                int best = 0;
                for (int k = 1; k < K; k++)
                    if (row[k] > row[best]) best = k;
                pred[r] = best;
            }
        }
        mlp_barrier_wait(&e->bar, parts);
        if (me == 0) {
            double round_sum = 0;
            for (int r = 0; r < nb; r++) {
                round_sum += row_loss[r];
                const int y = ds->y[first + r];
                e->correct += pred[r] == y;
                if (e->confusion) e->confusion[y * K + pred[r]]++;
            }
            e->sum += round_sum;
        }
    }
}

mlp_status mlp_evaluate(mlp_net *net, const mlp_loss_cfg *loss, const mlp_dataset *ds, double *mean_loss,
                        double *accuracy, int *confusion, mlp_error *err) {
    const int K = net->arch.width[net->arch.n_layers];
    if (ds->n < 1) return mlp_fail(err, MLP_ERR_ARG, "evaluation set is empty");
    if (ds->dim != net->arch.width[0])
        return mlp_fail(err, MLP_ERR_ARG, "images have %d pixels but the network takes %d inputs", ds->dim,
                        net->arch.width[0]);
    for (int i = 0; i < ds->n; i++) /* the loss and the [K x K] confusion matrix index by label */
        if (ds->y[i] < 0 || ds->y[i] >= K)
            return mlp_fail(err, MLP_ERR_ARG, "label %d of example %d is not a class of the network (0..%d)",
                            (int)ds->y[i], i, K - 1);
    if (confusion) memset(confusion, 0, sizeof(int) * (size_t)K * (size_t)K);
    memset(&net->ws->drop, 0, sizeof net->ws->drop); /* evaluation never drops (a training pass may have) */
    mlp_fpmode fm; /* subnormals flushed while evaluating, as in training (fpmode.c) */
    mlp_fpmode_enter(&fm);
    eval_run e;
    memset(&e, 0, sizeof e);
    e.net = net;
    e.loss = loss;
    e.ds = ds;
    e.confusion = confusion;
    mlp_barrier_init(&e.bar);
    if (net->input_sparse && mlp_input_background(ds->x, ds->n, ds->dim, &e.c)) e.start0 = mlp_net_sparse_start(net, e.c);
    const int threads = mlp_net_row_threads(net, ds->n < net->max_batch ? ds->n : net->max_batch);
    if (threads > 1) {
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
        {
            mlp_fpmode tm;
            mlp_fpmode_enter(&tm);
            eval_worker(&e, omp_get_thread_num(), omp_get_num_threads());
            mlp_fpmode_leave_team(&tm, &fm, omp_get_thread_num());
        }
#else
        eval_worker(&e, 0, 1);
#endif
    } else {
        eval_worker(&e, 0, 1);
    }
    mlp_fpmode_leave(&fm);
    if (mean_loss) *mean_loss = e.sum / ds->n;
    if (accuracy) *accuracy = (double)e.correct / ds->n;
    return MLP_OK;
}
