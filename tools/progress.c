/* progress.c - the training run's output (see progress.h). */
#include "progress.h"

void progress_init(progress *p, FILE *out, int quiet, int json) {
    p->out = out;
    p->quiet = quiet;
    p->json = json;
}

void progress_begin(progress *p, const progress_run *r) {
    const mlp_train_cfg *c = r->cfg;
    if (p->quiet || p->json) return;
    fprintf(p->out, "mlp %s: %s %s %s + %s, %s gradients, lr %g, wd %g, momentum %g, batch %d, %d epochs, seed %llu\n",
            MLP_VERSION, r->dataset, r->arch, mlp_act_name(r->act), mlp_loss_name(c->loss.kind),
            c->reduction == MLP_GRAD_SUM ? "summed" : "mean", (double)c->lr, (double)c->wd, (double)c->momentum,
            c->batch, c->epochs, (unsigned long long)c->seed);
    fprintf(p->out, "kernels %s, %d thread%s, run folder %s\n\n", mlp_kernels_name(r->kernels), r->threads,
            r->threads > 1 ? "s" : "", r->out_dir);
    fprintf(p->out, "%6s  %10s  %9s  %10s  %9s  %8s\n", "epoch", "train_loss", "train_acc", "test_loss", "test_acc",
            "seconds");
    fflush(p->out);
}

void progress_step(void *p, int epoch, int step, int steps, double loss_sum, double acc_sum) {
    (void)p, (void)epoch, (void)step, (void)steps, (void)loss_sum, (void)acc_sum;
}

void progress_epoch(progress *p, const mlp_epoch_metrics *m) {
    if (p->quiet) return;
    if (p->json)
        fprintf(p->out,
                "{\"epoch\": %d, \"train_loss\": %.9g, \"train_acc\": %.9g, \"test_loss\": %.9g, \"test_acc\": %.9g, "
                "\"lr\": %.9g, \"seconds\": %.6f}\n",
                m->epoch, m->train_loss, m->train_acc, m->test_loss, m->test_acc, m->lr, m->seconds);
    else
        fprintf(p->out, "%6d  %10.6f  %9.4f  %10.6f  %9.4f  %8.3f\n", m->epoch, m->train_loss, m->train_acc,
                m->test_loss, m->test_acc, m->seconds);
    fflush(p->out);
}

void progress_end(progress *p, const progress_run *r, const mlp_epoch_metrics *m, double total) {
    if (p->json) return;
    fprintf(p->out, "\nfinal (epoch %d): train loss %.4f, train acc %.4f, test loss %.4f, test acc %.4f\n", m->epoch,
            m->train_loss, m->train_acc, m->test_loss, m->test_acc);
    fprintf(p->out, "total time %.2f s (%.3f s per epoch); run saved in %s\n", total,
            total / (m->epoch - r->first_epoch + 1 > 0 ? m->epoch - r->first_epoch + 1 : 1), r->out_dir);
    fflush(p->out);
}
