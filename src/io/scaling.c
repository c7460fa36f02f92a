/*
 * scaling.c - per-feature input scaling, x'_j = (x_j - offset_j) * scale_j, fitted on a training set:
 *
 *   standard   offset = mean_j, scale = 1 / std_j (population std, as scikit-learn's StandardScaler; a constant
 *              feature gets scale 1)
 *   minmax     offset = min_j, scale = 1 / (max_j - min_j) (into [0, 1], as MinMaxScaler; constant: scale 1)
 *   reference  offset = 128, scale = 1/255 for every feature (the reference's pixel scaling)
 *   none       offset 0, scale 1
 * Means and deviations are summed in double, in row order (the same bits for any thread count). The fitted
 * values are what a model file stores, so that a saved model predicts from raw features.
 */
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const scale_names[MLP_SCALE_COUNT] = {"reference", "standard", "minmax", "none"};

const char *mlp_scale_name(mlp_scale_kind k) { return (unsigned)k < MLP_SCALE_COUNT ? scale_names[k] : "?"; }

int mlp_scale_parse(const char *name, mlp_scale_kind *out) {
    for (int k = 0; name && k < MLP_SCALE_COUNT; k++)
        if (!strcmp(name, scale_names[k])) {
            if (out) *out = (mlp_scale_kind)k;
            return 0;
        }
    return -1;
}

mlp_status mlp_feature_scaling_init(mlp_feature_scaling *fs, mlp_scale_kind kind, int dim, mlp_error *err) {
    memset(fs, 0, sizeof *fs);
    if ((unsigned)kind >= MLP_SCALE_COUNT) return mlp_fail(err, MLP_ERR_ARG, "unknown scaling %d", (int)kind);
    if (dim < 1 || dim > (1 << 20)) return mlp_fail(err, MLP_ERR_ARG, "scaling of %d features: expected 1..%d", dim, 1 << 20);
    fs->offset = malloc(2 * (size_t)dim * sizeof(float));
    if (!fs->offset) return mlp_fail(err, MLP_ERR_NOMEM, "cannot allocate the scaling of %d features", dim);
    fs->scale = fs->offset + dim;
    fs->kind = kind;
    fs->dim = dim;
    for (int j = 0; j < dim; j++) {
        fs->offset[j] = kind == MLP_SCALE_REFERENCE ? 128.0f : 0.0f;
        fs->scale[j] = kind == MLP_SCALE_REFERENCE ? 1.0f / 255.0f : 1.0f;
    }
    return MLP_OK;
}

mlp_status mlp_feature_scaling_fit(mlp_feature_scaling *fs, mlp_scale_kind kind, const mlp_dataset *train,
                                   mlp_error *err) {
    if (!fs) return mlp_fail(err, MLP_ERR_ARG, "mlp_feature_scaling_fit: fs is NULL");
    memset(fs, 0, sizeof *fs);
    if (!train || !train->x || train->n < 1) return mlp_fail(err, MLP_ERR_ARG, "scaling: an empty training set");
    mlp_status st = mlp_feature_scaling_init(fs, kind, train->dim, err);
    if (st || (kind != MLP_SCALE_STANDARD && kind != MLP_SCALE_MINMAX)) return st;
    const size_t n = (size_t)train->n, d = (size_t)train->dim;
    double *acc = calloc(2 * d, sizeof *acc);
    if (!acc) {
        mlp_feature_scaling_free(fs);
        return mlp_fail(err, MLP_ERR_NOMEM, "cannot allocate the scaling of %zu features", d);
    }
    double *a = acc, *b = acc + d; /* standard: sum, then sum of squared deviations; minmax: min, max */
    for (size_t j = 0; j < d; j++) a[j] = b[j] = kind == MLP_SCALE_MINMAX ? train->x[j] : 0.0;
    for (size_t i = 0; i < n; i++) {
        const float *row = train->x + i * d;
        for (size_t j = 0; j < d; j++) {
            if (kind == MLP_SCALE_STANDARD) a[j] += row[j];
            else {
                if (row[j] < a[j]) a[j] = row[j];
                if (row[j] > b[j]) b[j] = row[j];
            }
        }
    }
    if (kind == MLP_SCALE_STANDARD) {
        for (size_t j = 0; j < d; j++) a[j] /= (double)n;
        for (size_t i = 0; i < n; i++) {
            const float *row = train->x + i * d;
            for (size_t j = 0; j < d; j++) b[j] += (row[j] - a[j]) * (row[j] - a[j]);
        }
    }
    for (size_t j = 0; j < d; j++) {
        const double spread = kind == MLP_SCALE_STANDARD ? sqrt(b[j] / (double)n) : b[j] - a[j];
        fs->offset[j] = (float)a[j];
        fs->scale[j] = spread > 0 && isfinite(1.0 / spread) ? (float)(1.0 / spread) : 1.0f;
    }
    free(acc);
    return MLP_OK;
}

void mlp_feature_scaling_apply(const mlp_feature_scaling *fs, float *x, int n) {
    if (!fs || !fs->offset) return;
    for (size_t i = 0; i < (size_t)n; i++) {
        float *row = x + i * (size_t)fs->dim;
        for (int j = 0; j < fs->dim; j++) row[j] = (row[j] - fs->offset[j]) * fs->scale[j];
    }
}

void mlp_feature_scaling_free(mlp_feature_scaling *fs) {
    if (!fs) return;
    free(fs->offset);
    memset(fs, 0, sizeof *fs);
}
