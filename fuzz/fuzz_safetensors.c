/* fuzz_safetensors.c - the model reader: mlp_model_parse on arbitrary bytes, that is the one safetensors
 * parser (src/io/safetensors.c, shared with checkpoints) and the model's own checks. On success the network
 * must be usable: its architecture is consistent and a forward pass runs. */
#include "fuzz_common.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mlp_net net;
    mlp_model_meta meta;
    mlp_error err;
    mlp_status st = mlp_model_parse(data, size, &net, 2, &meta, &err);
    fuzz_check_error(st, &err);
    if (st != MLP_OK) {
        FUZZ_ASSERT(net.params == NULL);
        return 0;
    }
    FUZZ_ASSERT(net.arch.n_layers >= 1 && net.arch.n_layers <= MLP_MAX_LAYERS);
    /* a forward pass on zeros reads every parameter */
    const size_t w0 = (size_t)net.arch.width[0];
    float *x = calloc(2 * w0, sizeof *x);
    FUZZ_ASSERT(x != NULL);
    (void)mlp_net_forward(&net, x, 2);
    free(x);
    /* the data metadata, when present, is whole: one scaling per input, one name per class */
    if (meta.feature_offset) FUZZ_ASSERT(meta.feature_scale == meta.feature_offset + w0);
    for (int k = 0; meta.class_names && k < net.arch.width[net.arch.n_layers]; k++)
        FUZZ_ASSERT(meta.class_names[k] && meta.class_names[k][0]);
    for (int k = 0; k < net.arch.width[net.arch.n_layers]; k++) FUZZ_ASSERT(isfinite(mlp_loss_focal_alpha(&meta.loss, k)));
    mlp_model_meta_free(&meta);
    mlp_net_free(&net);
    return 0;
}
