/* train_csv.c - train a classifier on a CSV file with libmlp, then evaluate it on a second CSV file and classify
 * that file's first row, printing class names (docs/LIBRARY.md, "Your own data").
 *
 *   cc -std=c11 train_csv.c $(pkg-config --cflags --libs mlp) -o train_csv
 *   ./train_csv train.csv test.csv [EPOCHS]
 *
 * The CSV files have a header row, numeric feature columns and a label column (named "label", else the last):
 * integers or strings, e.g. scikit-learn's iris exported with pandas' to_csv. */
#include <mlp.h>

#include <stdio.h>
#include <stdlib.h>

static int fail(const mlp_error *err) {
    fprintf(stderr, "train_csv: %s\n", err->msg);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: train_csv TRAIN.csv TEST.csv [EPOCHS]\n");
        return 2;
    }
    mlp_error err;
    mlp_dataset train, test;
    /* the classes are the training labels, sorted; the test labels are matched to them by name */
    if (mlp_dataset_load(&train, NULL, argv[1], NULL, &err)) return fail(&err);
    if (mlp_dataset_load(&test, NULL, argv[2], NULL, &err) || mlp_dataset_match(&test, &train, &err)) return fail(&err);

    /* z-scores fitted on the training set only, applied to both */
    mlp_feature_scaling fs;
    if (mlp_feature_scaling_fit(&fs, MLP_SCALE_STANDARD, &train, &err)) return fail(&err);
    mlp_feature_scaling_apply(&fs, train.x, train.n);
    mlp_feature_scaling_apply(&fs, test.x, test.n);

    /* features-16-classes, ReLU, cross-entropy, Adam (lr 0.01), batches of 16 */
    mlp_arch arch;
    mlp_net net;
    if (mlp_arch_parse(&arch, "16", train.dim, train.classes, MLP_ACT_RELU, &err)) return fail(&err);
    if (mlp_net_create(&net, &arch, 256, &err)) return fail(&err);
    mlp_train_cfg cfg = mlp_train_cfg_default();
    cfg.loss = mlp_loss_default(MLP_LOSS_CE);
    cfg.optim = MLP_OPTIM_ADAM;
    cfg.reduction = MLP_GRAD_MEAN;
    cfg.lr = 0.01f;
    cfg.wd = 0.0f;
    cfg.momentum = 0.0f;
    cfg.batch = train.n < 16 ? train.n : 16;
    cfg.epochs = argc > 3 ? atoi(argv[3]) : 100;
    cfg.init_std = 0.1f;
    mlp_rng rng;
    mlp_rng_seed(&rng, cfg.seed, 1);
    mlp_net_init(&net, cfg.init_std, &rng);
    mlp_trainer tr;
    if (mlp_trainer_init(&tr, &net, &cfg, &train, &test, &err)) return fail(&err);
    mlp_epoch_metrics m;
    for (int e = 0; e < cfg.epochs; e++)
        if (mlp_trainer_epoch(&tr, &m, &err)) return fail(&err);
    printf("%d epochs: train loss %.4f, test accuracy %.4f (%d examples, %d classes)\n", m.epoch, m.train_loss,
           m.test_acc, test.n, train.classes);

    /* the first test row: logits, then the class with the highest one */
    const float *logits = mlp_net_forward(&net, test.x, 1);
    int best = 0;
    for (int k = 1; k < train.classes; k++)
        if (logits[k] > logits[best]) best = k;
    printf("first test row: %s (true: %s)\n", mlp_dataset_class_name(&train, best),
           mlp_dataset_class_name(&train, test.y[0]));

    mlp_trainer_free(&tr);
    mlp_net_free(&net);
    mlp_feature_scaling_free(&fs);
    mlp_dataset_free(&train);
    mlp_dataset_free(&test);
    return 0;
}
