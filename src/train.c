/* train.c - the training loop and evaluation.
 *
 * One epoch, as in the reference: a fresh permutation of the training set (identity, then Fisher-Yates
 * with the trainer's own generator, so the generator state alone fixes every later epoch); consecutive
 * batches; per batch forward, loss, backward, SGD update. The epoch's train loss and accuracy are the
 * means of the per-batch values measured on the forward pass before each update. Then the whole test
 * set is evaluated. No allocation happens inside an epoch. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    t->perm = malloc(sizeof(uint32_t) * (size_t)train->n);
    t->xbatch = malloc(sizeof(float) * (size_t)cfg->batch * (size_t)train->dim);
    t->dlogits = malloc(sizeof(float) * (size_t)cfg->batch * (size_t)K);
    t->ybatch = malloc((size_t)cfg->batch);
    if (!t->perm || !t->xbatch || !t->dlogits || !t->ybatch) {
        mlp_trainer_free(t);
        return mlp_fail(err, MLP_ERR_NOMEM, "cannot allocate the trainer's buffers");
    }
    return MLP_OK;
}

void mlp_trainer_free(mlp_trainer *t) {
    free(t->perm);
    free(t->xbatch);
    free(t->dlogits);
    free(t->ybatch);
    memset(t, 0, sizeof *t);
}

static int params_finite(const mlp_net *net) {
    for (size_t i = 0; i < net->n_params; i++)
        if (!isfinite(net->params[i])) return 0;
    return 1;
}

mlp_status mlp_trainer_epoch(mlp_trainer *t, mlp_epoch_metrics *m, mlp_error *err) {
    const mlp_dataset *ds = t->train;
    mlp_net *net = t->net;
    const int B = t->cfg.batch, dim = ds->dim, K = net->arch.width[net->arch.n_layers];
    const int steps = (ds->n + B - 1) / B;
    const int epoch = t->epochs_done + 1;
    double t0 = now_seconds();

    for (int i = 0; i < ds->n; i++) t->perm[i] = (uint32_t)i;
    if (t->cfg.shuffle)
        for (int i = ds->n - 1; i > 0; i--) {
            uint32_t j = mlp_rng_below(&t->shuffle_rng, (uint32_t)i + 1);
            uint32_t tmp = t->perm[i];
            t->perm[i] = t->perm[j];
            t->perm[j] = tmp;
        }

    double sum_loss = 0, sum_acc = 0;
    for (int s = 0; s < steps; s++) {
        const int first = s * B;
        const int nb = ds->n - first < B ? ds->n - first : B;
        for (int r = 0; r < nb; r++) {
            uint32_t idx = t->perm[first + r];
            memcpy(t->xbatch + (size_t)r * dim, ds->x + (size_t)idx * dim, sizeof(float) * (size_t)dim);
            t->ybatch[r] = ds->y[idx];
        }
        const float *logits = mlp_net_forward(net, t->xbatch, nb);
        const float scale = t->cfg.reduction == MLP_GRAD_MEAN ? 1.0f / (float)nb : 1.0f;
        int correct = 0;
        double batch_loss = mlp_loss_eval(&t->cfg.loss, logits, t->ybatch, nb, K, t->dlogits, scale, &correct) / nb;
        if (!isfinite(batch_loss))
            return mlp_fail(err, MLP_ERR_DIVERGED,
                            "training diverged at epoch %d, step %d of %d: the loss is %s; try a smaller learning "
                            "rate (--lr %g now)",
                            epoch, s + 1, steps, isnan(batch_loss) ? "NaN" : "infinite", (double)t->cfg.lr);
        sum_loss += batch_loss;
        sum_acc += (double)correct / nb;
        mlp_net_backward(net, t->xbatch, t->dlogits, nb);
        mlp_sgd_step(net, t->cfg.lr, t->cfg.wd, t->cfg.momentum);
        t->step_in_epoch = s + 1;
        if (t->on_step) t->on_step(t->on_step_user, epoch, s + 1, steps, sum_loss, sum_acc);
        if (t->stop_flag && *t->stop_flag && s + 1 < steps)
            return mlp_fail(err, MLP_ERR_INTERRUPTED, "interrupted at epoch %d, step %d of %d", epoch, s + 1, steps);
    }
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

mlp_status mlp_evaluate(mlp_net *net, const mlp_loss_cfg *loss, const mlp_dataset *ds, double *mean_loss,
                        double *accuracy, int *confusion, mlp_error *err) {
    const int K = net->arch.width[net->arch.n_layers];
    if (ds->n < 1) return mlp_fail(err, MLP_ERR_ARG, "evaluation set is empty");
    if (ds->dim != net->arch.width[0])
        return mlp_fail(err, MLP_ERR_ARG, "images have %d pixels but the network takes %d inputs", ds->dim,
                        net->arch.width[0]);
    if (confusion) memset(confusion, 0, sizeof(int) * (size_t)K * (size_t)K);
    double sum = 0;
    long correct = 0;
    for (int first = 0; first < ds->n; first += net->max_batch) {
        const int nb = ds->n - first < net->max_batch ? ds->n - first : net->max_batch;
        const float *logits = mlp_net_forward(net, ds->x + (size_t)first * ds->dim, nb);
        int c = 0;
        sum += mlp_loss_eval(loss, logits, ds->y + first, nb, K, NULL, 1.0f, &c);
        correct += c;
        if (confusion)
            for (int r = 0; r < nb; r++) {
                const float *row = logits + (size_t)r * K;
                int best = 0;
                for (int k = 1; k < K; k++)
                    if (row[k] > row[best]) best = k;
                confusion[ds->y[first + r] * K + best]++;
            }
    }
    if (mean_loss) *mean_loss = sum / ds->n;
    if (accuracy) *accuracy = (double)correct / ds->n;
    return MLP_OK;
}
