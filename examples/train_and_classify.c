/* train_and_classify.c - the libmlp tour: load MNIST, train, save, load back, classify an image.
 *   cc train_and_classify.c $(pkg-config --cflags --libs mlp) -o train_and_classify
 *   ./train_and_classify [DATA_DIR [EPOCHS [MODEL_OUT [IMAGE.png|.pgm]]]]
 * defaults: data/mnist, 2 epochs, model.safetensors, the first test image                           */
#include <mlp.h>

#include <stdio.h>
#include <stdlib.h>

static int fail(const mlp_error *err) {
    fprintf(stderr, "error: %s\n", err->msg); /* one line: what failed, on which file or value */
    return 1;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "data/mnist";
    const int epochs = argc > 2 ? atoi(argv[2]) : 2;
    const char *path = argc > 3 ? argv[3] : "model.safetensors";
    mlp_error err;

    /* 1. data: the four IDX files (raw or .gz), scaled as x = (p - 128) / 255 */
    mlp_dataset train, test;
    if (mlp_dataset_load_dir(&train, &test, dir, mlp_scaling_default(), &err)) return fail(&err);

    /* 2. a 784-64-10 ReLU network, weights ~ N(0, 0.05^2) from a seeded generator */
    mlp_arch arch;
    mlp_net net;
    mlp_rng rng;
    if (mlp_arch_parse(&arch, "64", train.dim, 10, MLP_ACT_RELU, &err)) return fail(&err);
    if (mlp_net_create(&net, &arch, 1000, &err)) return fail(&err);
    mlp_rng_seed(&rng, 1, 1);
    mlp_net_init(&net, 0.05f, &rng);

    /* 3. train: cross-entropy, SGD with momentum on the mean gradient */
    mlp_train_cfg cfg = mlp_train_cfg_default();
    cfg.loss = mlp_loss_default(MLP_LOSS_CE);
    cfg.reduction = MLP_GRAD_MEAN;
    cfg.lr = 0.05f;
    cfg.wd = 1e-4f;
    cfg.epochs = epochs;
    mlp_trainer tr;
    mlp_epoch_metrics m;
    if (mlp_trainer_init(&tr, &net, &cfg, &train, &test, &err)) return fail(&err);
    for (int e = 0; e < epochs; e++) {
        if (mlp_trainer_epoch(&tr, &m, &err)) return fail(&err);
        printf("epoch %d: train loss %.4f, test accuracy %.4f\n", m.epoch, m.train_loss, m.test_acc);
    }
    mlp_trainer_free(&tr);

    /* 4. save (safetensors, written atomically) and load back into a new network */
    mlp_model_meta meta = {.arch = net.arch, .loss = cfg.loss, .scaling = mlp_scaling_default(),
                           .dataset = "mnist", .version = MLP_VERSION};
    if (mlp_model_save(path, &net, &meta, &err)) return fail(&err);
    mlp_net_free(&net);
    mlp_net loaded;
    if (mlp_model_load(path, &loaded, 1000, &meta, &err)) return fail(&err);
    double loss, acc;
    if (mlp_evaluate(&loaded, &meta.loss, &test, &loss, &acc, NULL, &err)) return fail(&err);
    printf("saved %s and loaded it back: test accuracy %.4f\n", path, acc);

    /* 5. classify a picture (PNG, JPEG or PGM of any size, prepared as MNIST's digits were: cropped
     *    to the ink, fitted into 20x20, centred by mass), or the first test image */
    float x[784];
    const float *input = test.x;
    if (argc > 4) {
        mlp_image img;
        mlp_prepare_info info;
        if (mlp_image_load(argv[4], &img, &err)) return fail(&err);
        mlp_status st = mlp_image_prepare(&img, 28, 28, MLP_PREPARE_MNIST, MLP_INVERT_AUTO, meta.scaling, x, &info,
                                          &err);
        mlp_image_free(&img);
        if (st) return fail(&err);
        if (info.blank) printf("%s looks blank: the class below means little\n", argv[4]);
        input = x;
    }
    const float *logits = mlp_net_forward(&loaded, input, 1); /* inside the net's workspace */
    int best = 0;
    for (int k = 1; k < 10; k++)
        if (logits[k] > logits[best]) best = k;
    printf("%s: class %d\n", argc > 4 ? argv[4] : "first test image", best);

    mlp_net_free(&loaded);
    mlp_dataset_free(&train);
    mlp_dataset_free(&test);
    return 0;
}
