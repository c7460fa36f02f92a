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
 * The barrier (team_barrier) spins briefly and then yields; when another process makes the team wait, the
 * team shrinks to thread 0 while the others sleep (team_policy), so two threads never cost much more than
 * one. Every element is computed by the same chain whichever thread computes it: results do not depend on the
 * thread count or the team. The evaluation is one more region, split by rows. */
#include "step.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#ifdef _OPENMP
#include <omp.h>
#endif

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

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
    return c;
}

static mlp_status check_cfg(const mlp_train_cfg *c, const mlp_net *net, const mlp_dataset *train,
                            const mlp_dataset *test, mlp_error *err) {
    const int K = net->arch.width[net->arch.n_layers];
    if (!(isfinite(c->lr) && c->lr >= 0))
        return mlp_fail(err, MLP_ERR_ARG, "learning rate %g: must be finite and >= 0", (double)c->lr);
    if (!(isfinite(c->wd) && c->wd >= 0))
        return mlp_fail(err, MLP_ERR_ARG, "weight decay %g: must be finite and >= 0", (double)c->wd);
    if (!(isfinite(c->momentum) && c->momentum >= 0 && c->momentum < 1))
        return mlp_fail(err, MLP_ERR_ARG, "momentum %g: must be in [0, 1)", (double)c->momentum);
    if (c->reduction != MLP_GRAD_SUM && c->reduction != MLP_GRAD_MEAN)
        return mlp_fail(err, MLP_ERR_ARG, "unknown gradient reduction %d", (int)c->reduction);
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
    if (K < 10) return mlp_fail(err, MLP_ERR_ARG, "the network has %d outputs; labels 0..9 need 10", K);
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
    uint8_t *y[2];
    float *a0[2];
    float *d[MLP_MAX_LAYERS], *g[MLP_MAX_LAYERS];
    float *gt0, *vt0;
    double *row_loss;
    unsigned char *row_ok;
} scratch;

/* Carves the block at base (or, with base NULL, only counts); returns its size in floats. */
static size_t scratch_layout(scratch *sc, float *base, uint8_t *ybase, float *dlogits, const mlp_arch *A, int B) {
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
    sp->idx = malloc(sizeof(uint16_t) * (nnz ? nnz : 1));
    sp->val = malloc(sizeof(float) * (nnz ? nnz : 1));
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
        for (int i = 0; i < D; i++)
            if (x[i] != c) {
                sp->idx[at] = (uint16_t)i;
                sp->val[at] = x[i] - c;
                at++;
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
    memset(t, 0, sizeof *t);
    mlp_status st = check_cfg(cfg, net, train, test, err);
    if (st) return st;
    t->cfg = *cfg;
    t->net = net;
    t->train = train;
    t->test = test;
    mlp_rng_seed(&t->shuffle_rng, cfg->seed, 2);
    const int K = net->arch.width[net->arch.n_layers];
    mlp_trainer_ws *ws = t->ws = calloc(1, sizeof *t->ws);
    scratch sc;
    const size_t floats = scratch_layout(&sc, NULL, NULL, NULL, &net->arch, cfg->batch);
    if (ws) {
        ws->perm = malloc(sizeof(uint32_t) * (size_t)train->n);
        ws->xbatch = aligned_alloc(64, floats * sizeof(float));
        ws->dlogits = malloc(sizeof(float) * (size_t)cfg->batch * (size_t)K);
        ws->ybatch = malloc(2 * (size_t)cfg->batch);
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

/* ------------------------------------------------------------------ the team barrier
 *
 * Sense-reversing: a thread reads the phase, arrives; the last to arrive resets the count and advances the
 * phase. A waiter spins for about 20 us (the imbalance of a normal step) and then calls sched_yield between
 * checks, so that when the machine is busy the other thread's core goes to whoever can use it instead of being
 * burnt waiting. The atomics order all memory: what a thread wrote before the barrier is visible after it. */
typedef struct team_barrier {
    atomic_int arrived;
    atomic_int phase;
} team_barrier;

enum { BARRIER_SPINS = 1000 };

static inline void cpu_relax(void) {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_ia32_pause();
#endif
}

static void barrier_wait(team_barrier *b, int parts) {
    if (parts <= 1) return;
    const int phase = atomic_load_explicit(&b->phase, memory_order_acquire);
    if (atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel) == parts - 1) {
        atomic_store_explicit(&b->arrived, 0, memory_order_relaxed);
        atomic_store_explicit(&b->phase, phase + 1, memory_order_release);
        return;
    }
    for (int i = 0; atomic_load_explicit(&b->phase, memory_order_acquire) == phase; i++) {
        if (i < BARRIER_SPINS)
            cpu_relax();
        else
            sched_yield();
    }
}

/* ------------------------------------------------------------------ the epoch */

/* What the team shares during an epoch. */
enum { TEAM_WINDOW = 16 };

typedef struct epoch_run {
    mlp_trainer *t;
    int epoch, steps, start;
    /* The working team (see team_policy): `active` threads (1 or all), `worker` when one. next_* are written
     * by thread 0 before a step's second barrier and adopted by all after that step. */
    int active, next_active;
    /* Parked threads sleep on park_cv (no CPU at all) until thread 0 calls them back (gen changes) after step
     * rejoin_step, or leaves the loop (finished). */
    pthread_mutex_t park_mu;
    pthread_cond_t park_cv;
    atomic_int gen;
    int rejoin_step;
    atomic_int finished;
    /* thread 0's bookkeeping for the policy */
    double rate[2], win_wall, last_time; /* seconds per step, rate[0]: thread 0 alone, rate[1]: all */
    const unsigned char *teams; /* a fixed schedule instead of the policy (tests), or NULL */
    int win_steps, in_mode, explore_after, exploring;
    scratch sc;
    train_sparse *sp;       /* the sparse first layer this epoch, or NULL */
    team_barrier bar;
    int want_stop;          /* written by thread 0 after a step, read by all after the next step's first barrier */
    /* results (thread 0) */
    double sum_loss, sum_acc;
    int diverged_step;      /* step (0-based) whose loss is not finite, or -1 */
    double diverged_loss;
    int stopped_after;      /* steps done when stopped on request, or -1 */
} epoch_run;

/* Graceful degradation on a busy machine. Splitting a step between two threads pays only if both run: when
 * another process shares one of the cores, the OS deschedules one of our threads for whole time slices
 * (milliseconds) and the other waits at every barrier. So the team has two modes, all threads or thread 0
 * alone (the others sleep: their core goes to the other process and thread 0 keeps its own), and thread 0
 * measures the wall time per step of each over windows of TEAM_WINDOW steps: after the first window it tries
 * the other mode for one window, keeps the faster, and tries again every explore_after steps (64, doubling up
 * to 1024 while the other mode keeps losing). Results never depend on the team, so this only moves time.
 * Called between a step's two barriers, for step s; what it decides takes effect at step s + 1. */
static void team_policy(epoch_run *run, int s, int parts) {
    if (run->teams) { /* the schedule: teams[s + 1] != 0 means the full team for step s + 1 */
        if (s + 1 < run->steps) run->next_active = run->teams[s + 1] ? parts : 1;
        return;
    }
    const double tnow = now_seconds();
    if (s == run->start) {
        run->last_time = tnow;
        run->explore_after = TEAM_WINDOW;
        return;
    }
    const double wall = tnow - run->last_time;
    run->last_time = tnow;
    if (run->next_active != run->active) return; /* a switch is pending: this step ran in the old mode */
    const int mode = run->active > 1;
    run->win_wall += wall;
    run->in_mode++;
    if (++run->win_steps < TEAM_WINDOW) return;
    run->rate[mode] = run->win_wall / TEAM_WINDOW;
    run->win_steps = 0;
    run->win_wall = 0;
    if (run->exploring) { /* back unless the mode just tried beat the one before */
        run->exploring = 0;
        if (run->rate[mode] > run->rate[!mode]) {
            run->next_active = mode ? 1 : parts;
            if (run->explore_after < 1024) run->explore_after *= 2;
        } else {
            run->explore_after = 4 * TEAM_WINDOW;
        }
        run->in_mode = 0;
    } else if (run->in_mode >= run->explore_after) {
        run->exploring = 1;
        run->next_active = mode ? 1 : parts;
        run->in_mode = 0;
    }
}

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
    uint8_t *y = sc->y[s & 1];
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

static void gather(const mlp_trainer *t, const scratch *sc, int s, int r0, int r1) {
    const mlp_dataset *ds = t->train;
    const size_t dim = (size_t)ds->dim;
    float *x = sc->x[s & 1];
    uint8_t *y = sc->y[s & 1];
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

/* The step loop, run by every thread of the team (me = 0 .. parts-1). Thread 0 does the bookkeeping. */
static void epoch_worker(epoch_run *run, int me, int parts) {
    mlp_trainer *t = run->t;
    mlp_net *net = t->net;
    const scratch *sc = &run->sc;
    const int L = net->arch.n_layers;
    mlp_step st;
    memset(&st, 0, sizeof st);
    for (int l = 0; l < L; l++) {
        st.d[l] = sc->d[l];
        st.g[l] = sc->g[l];
    }
    st.gt0 = sc->gt0;
    st.vt0 = sc->vt0;
    st.row_loss = sc->row_loss;
    st.row_ok = sc->row_ok;
    st.loss = &t->cfg.loss;
    st.lr = t->cfg.lr;
    st.wd = t->cfg.wd;
    st.mom = t->cfg.momentum;

    /* the sparse first layer: this thread's copy of the step's view (the storage is shared) */
    train_sparse *tsp = run->sp;
    mlp_step_sparse sp;
    memset(&sp, 0, sizeof sp);
    if (tsp) {
        sp.c = tsp->c;
        sp.rows.idx = tsp->idx;
        sp.rows.val = tsp->val;
        sp.blocks = tsp->blocks;
        sp.pstart = tsp->pstart;
        sp.row = tsp->row;
        sp.val = tsp->cval;
        sp.cap = tsp->cap;
        sp.S = tsp->S;
        sp.start = tsp->start;
        st.sp = &sp;
    }

    /* The working team: all `parts` threads, or (when the machine is busy, see team_policy) thread 0 alone while
     * the others sleep ("parked"). All working threads hold the same `act` at every point of the loop, and
     * barriers count only them. */
    if (me == 0) { /* read by the others only after the first barrier */
        run->active = run->next_active = parts;
        atomic_store(&run->finished, 0);
    }
    int act = parts, rejoins = 0; /* rejoins: the team re-formations this thread took part in (= run->gen) */

    int nb = batch_rows(t, run->start);
    const int g0 = (int)((long long)nb * me / parts), g1 = (int)((long long)nb * (me + 1) / parts);
    if (tsp) gather_sparse(t, tsp, sc, run->start, g0, g1);
    else gather(t, sc, run->start, g0, g1);
    barrier_wait(&run->bar, parts);
    int s = run->start;
    for (;;) {
        if (act == 1 && me != 0) {
            /* parked until thread 0 calls the team back after some step, or finishes the epoch */
            pthread_mutex_lock(&run->park_mu);
            while (atomic_load(&run->gen) == rejoins && !atomic_load(&run->finished))
                pthread_cond_wait(&run->park_cv, &run->park_mu);
            pthread_mutex_unlock(&run->park_mu);
            if (atomic_load(&run->gen) == rejoins) break; /* finished */
            rejoins++;
            s = run->rejoin_step + 1;
            act = parts;
            barrier_wait(&run->bar, parts); /* the team re-forms: thread 0 waits here too */
            continue;
        }
        if (s >= run->steps) break;
        nb = batch_rows(t, s);
        st.x = sc->x[s & 1];
        st.y = sc->y[s & 1];
        st.nb = nb;
        st.a0 = sc->a0[s & 1];
        st.grad_scale = t->cfg.reduction == MLP_GRAD_MEAN ? 1.0f / (float)nb : 1.0f;
        if (tsp) {
            sp.rows.off = tsp->off[s & 1];
            sp.rows.cnt = tsp->cnt[s & 1];
            sp.nblocks = (nb + MLP_CSC_ROWS - 1) / MLP_CSC_ROWS;
        }
        const int part = me; /* (with act == 1 only thread 0 gets here) */

        mlp_step_forward0(net, &st, part, act);
        barrier_wait(&run->bar, act);
        if (run->want_stop) { /* raised after step s - 1 (nothing of step s is kept: forward0 wrote scratch) */
            if (me == 0) run->stopped_after = s;
            break;
        }
        mlp_step_middle(net, &st, part, act);
        if (s + 1 < run->steps) {
            const int nn = batch_rows(t, s + 1);
            const int n0 = (int)((long long)nn * part / act), n1 = (int)((long long)nn * (part + 1) / act);
            if (tsp) gather_sparse(t, tsp, sc, s + 1, n0, n1);
            else gather(t, sc, s + 1, n0, n1);
        }
        if (parts > 1 && me == 0) team_policy(run, s, parts);
        barrier_wait(&run->bar, act);

        /* every thread sums the batch loss the same way, so all take the same branch */
        double total = 0;
        int correct = 0;
        for (int r = 0; r < nb; r++) {
            total += sc->row_loss[r];
            correct += sc->row_ok[r];
        }
        const double batch_loss = total / nb;
        if (!isfinite(batch_loss)) {
            if (me == 0) {
                run->diverged_step = s;
                run->diverged_loss = batch_loss;
            }
            break;
        }
        mlp_step_update(net, &st, part, act);
        if (me == 0) {
            run->sum_loss += batch_loss;
            run->sum_acc += (double)correct / nb;
            t->step_in_epoch = s + 1;
            t->epoch_loss_sum = run->sum_loss;
            t->epoch_acc_sum = run->sum_acc;
            if (t->on_step) t->on_step(t->on_step_user, run->epoch, s + 1, run->steps, run->sum_loss, run->sum_acc);
            /* seen by every thread after the next step's first barrier (the last step is never interrupted) */
            run->want_stop = t->stop_flag && *t->stop_flag;
        }
        /* A new team takes effect at the next step, once every thread has finished this update (a thread must
         * not compute forward0 on weights another thread is still updating). */
        if (run->next_active != act) {
            if (run->next_active == 1) { /* shrink: all finish this step together, then the others park */
                barrier_wait(&run->bar, act);
                act = 1;
            } else { /* grow: wake the parked threads, who join this barrier */
                pthread_mutex_lock(&run->park_mu);
                run->rejoin_step = s;
                atomic_fetch_add(&run->gen, 1);
                pthread_cond_broadcast(&run->park_cv);
                pthread_mutex_unlock(&run->park_mu);
                rejoins++;
                barrier_wait(&run->bar, parts);
                act = parts;
            }
            if (me == 0) run->active = act;
        }
        s++;
    }
    if (me == 0) { /* parked threads leave */
        pthread_mutex_lock(&run->park_mu);
        atomic_store(&run->finished, 1);
        pthread_cond_broadcast(&run->park_cv);
        pthread_mutex_unlock(&run->park_mu);
    }
}

/* ------------------------------------------------------------------ data parallelism (mlp_trainer_set_shards)
 *
 * The steps of an epoch when the batches are shared between processes: this process's rows of batch s (a
 * contiguous slice of it) through forward, loss and backward, the gradient scaled by 1/nb (mean) for the
 * whole batch's nb rows; combine() makes net->grads and the sums the totals over all shards; then the SGD
 * step every process applies alike. The unfused composition (the fused step applies the update inside its
 * weight-gradient pass, so there is no gradient to combine), dense, on the net's threads. (A sparse first
 * layer in the forward pass alone gained 8% on MNIST: the weight gradient, dense here, dominates.) Returns 0,
 * or -1 when combine failed (err filled). */
static int sharded_steps(epoch_run *run, mlp_error *err) {
    mlp_trainer *t = run->t;
    mlp_net *net = t->net;
    const mlp_dataset *ds = t->train;
    const size_t D = (size_t)ds->dim;
    const int K = net->arch.width[net->arch.n_layers];
    const scratch *sc = &run->sc;
    float *x = sc->x[0];
    uint8_t *y = sc->y[0];
    mlp_net_params_changed(net);
    for (int s = run->start; s < run->steps; s++) {
        const int nb = batch_rows(t, s);
        const mlp_trainer_ws *ws = t->ws;
        const int shards = ws->shard_count > 1 ? ws->shard_count : 1, me = shards > 1 ? ws->shard_index : 0;
        const int r0 = (int)((long long)nb * me / shards), r1 = (int)((long long)nb * (me + 1) / shards);
        const int n = r1 - r0;
        const uint32_t *perm = t->ws->perm + (size_t)s * t->cfg.batch + r0;
        for (int r = 0; r < n; r++) {
            memcpy(x + (size_t)r * D, ds->x + (size_t)perm[r] * D, sizeof(float) * D);
            y[r] = ds->y[perm[r]];
        }
        /* sums: loss, correct predictions (each in row order), stop request */
        double sums[3] = {0, 0, t->stop_flag && *t->stop_flag ? 1 : 0};
        if (n > 0) {
            const float scale = t->cfg.reduction == MLP_GRAD_MEAN ? 1.0f / (float)nb : 1.0f;
            const float *logits = mlp_net_forward(net, x, n);
            mlp_loss_rows(&t->cfg.loss, logits, y, n, K, t->ws->dlogits, scale, sc->row_loss, sc->row_ok);
            mlp_net_backward(net, x, t->ws->dlogits, n);
            for (int r = 0; r < n; r++) {
                sums[0] += sc->row_loss[r];
                sums[1] += sc->row_ok[r];
            }
        } else {
            memset(net->grads, 0, sizeof(float) * net->n_params); /* a batch smaller than the shard count */
        }
        if (t->ws->combine && t->ws->combine(t->ws->combine_user, net->grads, net->n_params, sums)) {
            mlp_fail(err, MLP_ERR_IO, "data parallelism: combining the gradients of epoch %d, step %d failed",
                     run->epoch, s + 1);
            return -1;
        }
        const double batch_loss = sums[0] / nb;
        if (!isfinite(batch_loss)) {
            run->diverged_step = s;
            run->diverged_loss = batch_loss;
            break;
        }
        mlp_sgd_step(net, t->cfg.lr, t->cfg.wd, t->cfg.momentum);
        run->sum_loss += batch_loss;
        run->sum_acc += sums[1] / nb;
        t->step_in_epoch = s + 1;
        t->epoch_loss_sum = run->sum_loss;
        t->epoch_acc_sum = run->sum_acc;
        if (t->on_step) t->on_step(t->on_step_user, run->epoch, s + 1, run->steps, run->sum_loss, run->sum_acc);
        if (sums[2] != 0 && s + 1 < run->steps) { /* as the fused loop: the last step is never interrupted */
            run->stopped_after = s + 1;
            break;
        }
    }
    return 0;
}

mlp_status mlp_trainer_epoch(mlp_trainer *t, mlp_epoch_metrics *m, mlp_error *err) {
    return mlp_trainer_epoch_teams(t, m, NULL, err);
}

static mlp_status epoch_run_all(mlp_trainer *t, mlp_epoch_metrics *m, const unsigned char *teams,
                                const mlp_fpmode *fm, mlp_error *err);

/* Subnormals are flushed while the epoch computes (fpmode.c), on this thread and on every thread of the team;
 * the caller's mode is restored before returning. */
mlp_status mlp_trainer_epoch_teams(mlp_trainer *t, mlp_epoch_metrics *m, const unsigned char *teams, mlp_error *err) {
    mlp_fpmode fm;
    mlp_fpmode_enter(&fm);
    const mlp_status st = epoch_run_all(t, m, teams, &fm, err);
    mlp_fpmode_leave(&fm);
    return st;
}

static mlp_status epoch_run_all(mlp_trainer *t, mlp_epoch_metrics *m, const unsigned char *teams,
                                const mlp_fpmode *fm, mlp_error *err) {
    const mlp_dataset *ds = t->train;
    mlp_net *net = t->net;
    const int B = t->cfg.batch;
    const int steps = (ds->n + B - 1) / B;
    const int epoch = t->epochs_done + 1;
    double t0 = now_seconds();

    /* Resuming inside an epoch (step_in_epoch > 0): regenerate the same permutation from the generator
     * state saved at the epoch's start, restore the running sums, and continue after the last step done. */
    const int start = t->step_in_epoch;
    if (start < 0 || start >= steps)
        return mlp_fail(err, MLP_ERR_ARG, "trainer: step_in_epoch %d is outside 0..%d", start, steps - 1);
    if (start == 0) t->epoch_rng = t->shuffle_rng;
    t->shuffle_rng = t->epoch_rng;

    for (int i = 0; i < ds->n; i++) t->ws->perm[i] = (uint32_t)i;
    if (t->cfg.shuffle)
        for (int i = ds->n - 1; i > 0; i--) {
            uint32_t j = mlp_rng_below(&t->shuffle_rng, (uint32_t)i + 1);
            uint32_t tmp = t->ws->perm[i];
            t->ws->perm[i] = t->ws->perm[j];
            t->ws->perm[j] = tmp;
        }

    double sum_loss = start ? t->epoch_loss_sum : 0, sum_acc = start ? t->epoch_acc_sum : 0;
    epoch_run run;
    memset(&run, 0, sizeof run);
    run.t = t;
    run.epoch = epoch;
    run.steps = steps;
    run.start = start;
    run.sum_loss = sum_loss;
    run.sum_acc = sum_acc;
    run.diverged_step = -1;
    run.stopped_after = -1;
    run.teams = teams;
    scratch_layout(&run.sc, t->ws->xbatch, t->ws->ybatch, t->ws->dlogits, &net->arch, B);
    atomic_init(&run.bar.arrived, 0);
    atomic_init(&run.bar.phase, 0);
    atomic_init(&run.gen, 0);
    atomic_init(&run.finished, 0);
    if (t->ws->shard_count > 1 || t->ws->combine) { /* data parallelism: the unfused steps on this shard */
        if (sharded_steps(&run, err)) return MLP_ERR_IO;
        goto steps_done;
    }
    if (pthread_mutex_init(&run.park_mu, NULL) || pthread_cond_init(&run.park_cv, NULL))
        return mlp_fail(err, MLP_ERR_NOMEM, "cannot create the trainer's thread synchronization");

    run.sp = net->input_sparse ? t->ws->sparse : NULL;
    mlp_net_params_changed(net);       /* the parameters may have been written directly since the last epoch */
    mlp_step_enter(net, run.sc.vt0, run.sp ? run.sp->S : NULL); /* W_0, its momentum (and S): for the epoch */
    const int threads = net->threads;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
    {
        mlp_fpmode tm;
        mlp_fpmode_enter(&tm);
        epoch_worker(&run, omp_get_thread_num(), omp_get_num_threads());
        mlp_fpmode_leave_team(&tm, fm, omp_get_thread_num());
    }
#else
    (void)threads, (void)fm;
    epoch_worker(&run, 0, 1);
#endif
    pthread_cond_destroy(&run.park_cv);
    pthread_mutex_destroy(&run.park_mu);
    mlp_step_leave(net, run.sc.vt0);
steps_done:
    sum_loss = run.sum_loss;
    sum_acc = run.sum_acc;
    if (run.diverged_step >= 0)
        return mlp_fail(err, MLP_ERR_DIVERGED,
                        "training diverged at epoch %d, step %d of %d: the loss is %s; try a smaller learning "
                        "rate (--lr %g now)",
                        epoch, run.diverged_step + 1, steps, isnan(run.diverged_loss) ? "NaN" : "infinite",
                        (double)t->cfg.lr);
    if (run.stopped_after >= 0)
        return mlp_fail(err, MLP_ERR_INTERRUPTED, "interrupted at epoch %d, step %d of %d", epoch,
                        run.stopped_after, steps);
    if (!params_finite(net))
        return mlp_fail(err, MLP_ERR_DIVERGED,
                        "training diverged in epoch %d: a parameter became NaN or infinite; try a smaller learning "
                        "rate (--lr %g now)",
                        epoch, (double)t->cfg.lr);
    t->step_in_epoch = 0;
    t->epochs_done = epoch;

    memset(m, 0, sizeof *m);
    m->epoch = epoch;
    m->train_loss = sum_loss / steps;
    m->train_acc = sum_acc / steps;
    m->lr = t->cfg.lr;
    if (t->test && t->test->n > 0) {
        mlp_status st = mlp_evaluate(net, &t->cfg.loss, t->test, &m->test_loss, &m->test_acc, NULL, err);
        if (st) return st;
    } else {
        m->test_loss = m->test_acc = NAN;
    }
    m->seconds = now_seconds() - t0;
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
    team_barrier bar;
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
        barrier_wait(&e->bar, parts);
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
    if (confusion) memset(confusion, 0, sizeof(int) * (size_t)K * (size_t)K);
    mlp_fpmode fm; /* subnormals flushed while evaluating, as in training (fpmode.c) */
    mlp_fpmode_enter(&fm);
    eval_run e;
    memset(&e, 0, sizeof e);
    e.net = net;
    e.loss = loss;
    e.ds = ds;
    e.confusion = confusion;
    atomic_init(&e.bar.arrived, 0);
    atomic_init(&e.bar.phase, 0);
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
