/* schedule.c - the learning rate of each epoch (mlp.h: mlp_schedule), and the names of the monitored values of
 * early stopping (mlp_monitor).
 *
 * The rate is constant inside an epoch and a pure function of the configuration and the epoch number, so a
 * resumed run needs no schedule state: the epoch it continues fixes the rate. With W warm-up epochs, epoch
 * e <= W uses lr e / (W + 1) (a linear ramp that reaches lr at epoch W + 1, as torch's LinearLR with
 * start_factor 1/(W+1) over W epochs), then with i = e - W - 1 the epochs since the warm-up:
 *   constant  lr                                                  (exactly cfg->lr: the reference run's bits)
 *   step      lr gamma^floor(i / step_epochs)                     (torch StepLR(step_size, gamma))
 *   cosine    min_lr + (lr - min_lr) (1 + cos(pi i / T)) / 2,  T = epochs - W
 *                                                                 (torch CosineAnnealingLR(T_max = T, eta_min))
 * computed in double and rounded once to float. */
#include "mlp.h"

#include <math.h>
#include <string.h>

#define PI 3.14159265358979323846

static const char *const schedule_names[MLP_SCHEDULE_COUNT] = {"constant", "step", "cosine"};
static const char *const monitor_names[MLP_MONITOR_COUNT] = {"loss", "acc"};

const char *mlp_monitor_name(mlp_monitor m) { return (unsigned)m < MLP_MONITOR_COUNT ? monitor_names[m] : "?"; }

int mlp_monitor_parse(const char *name, mlp_monitor *out) {
    for (int m = 0; m < MLP_MONITOR_COUNT; m++)
        if (name && !strcmp(name, monitor_names[m])) {
            *out = (mlp_monitor)m;
            return 0;
        }
    return -1;
}

const char *mlp_schedule_name(mlp_schedule s) { return (unsigned)s < MLP_SCHEDULE_COUNT ? schedule_names[s] : "?"; }

int mlp_schedule_parse(const char *name, mlp_schedule *out) {
    for (int s = 0; s < MLP_SCHEDULE_COUNT; s++)
        if (name && !strcmp(name, schedule_names[s])) {
            *out = (mlp_schedule)s;
            return 0;
        }
    return -1;
}

float mlp_lr_at(const mlp_train_cfg *cfg, int epoch) {
    const int W = cfg->warmup_epochs > 0 ? cfg->warmup_epochs : 0;
    const double lr = cfg->lr;
    if (epoch < 1) epoch = 1;
    if (epoch <= W) return (float)(lr * epoch / (W + 1));
    const int i = epoch - W - 1;
    switch (cfg->schedule) {
    case MLP_SCHEDULE_STEP: {
        const int every = cfg->step_epochs > 0 ? cfg->step_epochs : 1;
        return (float)(lr * pow((double)cfg->step_gamma, (double)(i / every)));
    }
    case MLP_SCHEDULE_COSINE: {
        const int T = cfg->epochs - W > 0 ? cfg->epochs - W : 1;
        const double lo = cfg->min_lr;
        return (float)(lo + (lr - lo) * (1.0 + cos(PI * (double)i / (double)T)) / 2.0);
    }
    default: return cfg->lr;
    }
}
