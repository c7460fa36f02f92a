/*
 * dataset.c - datasets whatever their file: the dispatcher (an IDX folder, a CSV file, an NPZ archive, an NPY
 * pair), matching a test set's classes to the training set's, the seeded stratified split, and a dataset made
 * from arrays. The memory and the class table every reader shares are in dataset_core.c.
 */
#include "data_internal.h"
#include "fileio.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------------ a test set against its training set */

/* The name of class k: its own, else its number. */
static const char *name_of(const mlp_dataset *ds, int k, char *buf, size_t size) {
    if (ds->class_names) return ds->class_names[k];
    snprintf(buf, size, "%d", k);
    return buf;
}

mlp_status mlp_dataset_match(mlp_dataset *test, const mlp_dataset *train, mlp_error *err) {
    if (!test || !train) return mlp_fail(err, MLP_ERR_ARG, "mlp_dataset_match: a dataset is NULL");
    if (test->dim != train->dim)
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "the test set has %d features per example but the training set has %d; both must have the "
                        "same columns",
                        test->dim, train->dim);
    if (!test->class_names && !train->class_names) { /* indices on both sides (IDX) */
        for (int i = 0; i < test->n; i++)
            if (test->y[i] >= train->classes)
                return mlp_fail(err, MLP_ERR_FORMAT,
                                "the test set has label %d (example %d), which the training set (classes 0..%d) "
                                "does not have",
                                (int)test->y[i], i, train->classes - 1);
        return MLP_OK;
    }
    /* by name: map[k] = the training class of test class k, or -1 */
    int32_t *map = malloc((size_t)(test->classes > 0 ? test->classes : 1) * sizeof *map);
    if (!map) return mlp_fail(err, MLP_ERR_NOMEM, "out of memory");
    char b1[16], b2[16], unseen[256] = "";
    int n_unseen = 0;
    size_t used = 0;
    for (int k = 0; k < test->classes; k++) {
        const char *name = name_of(test, k, b1, sizeof b1);
        map[k] = -1;
        for (int j = 0; j < train->classes && map[k] < 0; j++)
            if (!strcmp(name, name_of(train, j, b2, sizeof b2))) map[k] = j;
        if (map[k] < 0 && n_unseen++ < 8 && used < sizeof unseen - 2)
            used += (size_t)snprintf(unseen + used, sizeof unseen - used, "%s'%.40s'", used ? ", " : "", name);
    }
    if (n_unseen) {
        free(map);
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "the test set has %d label%s the training set does not have (%s%s); the network knows only "
                        "the %d training classes",
                        n_unseen, n_unseen > 1 ? "s" : "", unseen, n_unseen > 8 ? ", ..." : "", train->classes);
    }
    for (int i = 0; i < test->n; i++) test->y[i] = map[test->y[i]];
    free(map);
    free(test->class_names);
    test->class_names = NULL; /* its classes are now the training set's */
    test->classes = train->classes;
    return MLP_OK;
}

/* ------------------------------------------------------------------ any file */

mlp_data_opts mlp_data_opts_default(void) {
    mlp_data_opts o;
    memset(&o, 0, sizeof o);
    o.byte_scaling = mlp_scaling_default();
    return o;
}

static int ends_with(const char *s, const char *suffix) {
    const size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

int mlp_npy_labels_path(const char *xpath, char *ypath, size_t size) {
    const char *slash = strrchr(xpath, '/');
    const char *base = slash ? slash + 1 : xpath;
    const char *X = strrchr(base, 'X');
    if (!X || strlen(xpath) >= size) return -1;
    memcpy(ypath, xpath, strlen(xpath) + 1);
    ypath[X - xpath] = 'y';
    return 0;
}

mlp_status mlp_dataset_load(mlp_dataset *train, mlp_dataset *test, const char *path, const mlp_data_opts *opts,
                            mlp_error *err) {
    if (train) memset(train, 0, sizeof *train);
    if (test) memset(test, 0, sizeof *test);
    if (!path || !train) return mlp_fail(err, MLP_ERR_ARG, "mlp_dataset_load: path and train must not be NULL");
    const mlp_data_opts o = opts ? *opts : mlp_data_opts_default();
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        mlp_status st = mlp_dataset_load_dir(train, test, path, o.byte_scaling, err);
        if (!st) train->byte_data = 1;
        if (!st && test) test->byte_data = 1;
        return st;
    }
    if (ends_with(path, ".csv") || ends_with(path, ".csv.gz"))
        return mlp_csv_read(train, path, o.label, o.no_labels, err);
    if (ends_with(path, ".npz")) return mlp_npz_read(train, path, o.byte_scaling, o.no_labels, err);
    if (ends_with(path, ".npy")) {
        char ypath[4096];
        if (!o.no_labels && mlp_npy_labels_path(path, ypath, sizeof ypath) != 0)
            return mlp_fail(err, MLP_ERR_ARG,
                            "%s: an NPY dataset is named by its features file, whose name holds an X (X.npy, "
                            "train_X.npy): the labels are the file of the same name with that last X made a y",
                            path);
        return mlp_npy_read_pair(train, path, o.no_labels ? NULL : ypath, o.byte_scaling, err);
    }
    if (stat(path, &sb) != 0)
        return mlp_fail(err, MLP_ERR_IO, "%s: %s", path, strerror(errno));
    return mlp_fail(err, MLP_ERR_ARG,
                    "%s: unknown kind of dataset; expected a folder of IDX files, a .csv file, an .npz archive or an "
                    "X.npy file (with y.npy beside it)",
                    path);
}

/* ------------------------------------------------------------------ subsets */

/* A copy of src's names block (NULL stays NULL). */
static mlp_status names_copy(char ***out, const mlp_dataset *src, mlp_error *err) {
    *out = NULL;
    if (!src->class_names) return MLP_OK;
    size_t bytes = (size_t)src->classes * sizeof(char *);
    for (int k = 0; k < src->classes; k++) bytes += strlen(src->class_names[k]) + 1;
    char **names = malloc(bytes);
    if (!names) return mlp_fail(err, MLP_ERR_NOMEM, "cannot allocate the names of %d classes", src->classes);
    char *at = (char *)(names + src->classes);
    for (int k = 0; k < src->classes; k++) {
        const size_t len = strlen(src->class_names[k]) + 1;
        names[k] = memcpy(at, src->class_names[k], len);
        at += len;
    }
    *out = names;
    return MLP_OK;
}

/* The rows of src whose mark equals `which`, in their order, into dst (same shape, classes and names). */
static mlp_status take_rows(mlp_dataset *dst, const mlp_dataset *src, const unsigned char *mark, unsigned char which,
                            size_t count, mlp_error *err) {
    mlp_status st = mlp_dataset_alloc(dst, count, (size_t)src->dim, "the split", err);
    if (!st) st = names_copy(&dst->class_names, src, err);
    if (st) {
        mlp_dataset_free(dst);
        return st;
    }
    dst->rows = src->rows;
    dst->cols = src->cols;
    dst->classes = src->classes;
    dst->byte_data = src->byte_data;
    size_t j = 0;
    for (int i = 0; i < src->n; i++)
        if (mark[i] == which) {
            memcpy(dst->x + j * (size_t)src->dim, src->x + (size_t)i * (size_t)src->dim, sizeof(float) * (size_t)src->dim);
            dst->y[j++] = src->y[i];
        }
    return MLP_OK;
}

mlp_status mlp_dataset_split(const mlp_dataset *src, double fraction, uint64_t seed, mlp_dataset *train,
                             mlp_dataset *val, mlp_error *err) {
    if (train) memset(train, 0, sizeof *train);
    if (val) memset(val, 0, sizeof *val);
    if (!src || !train || !val || !src->x || !src->y || src->n < 1)
        return mlp_fail(err, MLP_ERR_ARG, "mlp_dataset_split: an empty or NULL dataset");
    if (!(fraction > 0 && fraction < 1))
        return mlp_fail(err, MLP_ERR_ARG, "validation fraction %g: must be in (0, 1)", fraction);
    for (int i = 0; i < src->n; i++)
        if (src->y[i] < 0 || src->y[i] >= src->classes)
            return mlp_fail(err, MLP_ERR_ARG, "label %d of example %d is not one of the %d classes", (int)src->y[i], i,
                            src->classes);
    /* per class: its examples in order, shuffled (Fisher-Yates), the first round(fraction x count) validation */
    unsigned char *mark = calloc((size_t)src->n, 1);
    uint32_t *idx = malloc((size_t)src->n * sizeof *idx);
    if (!mark || !idx) {
        free(mark);
        free(idx);
        return mlp_fail(err, MLP_ERR_NOMEM, "out of memory splitting %d examples", src->n);
    }
    mlp_rng rng;
    mlp_rng_seed(&rng, seed, 3); /* stream 3: not initialisation's (1) nor shuffling's (2) */
    size_t n_val = 0;
    for (int k = 0; k < src->classes; k++) {
        uint32_t m = 0;
        for (int i = 0; i < src->n; i++)
            if (src->y[i] == k) idx[m++] = (uint32_t)i;
        for (uint32_t i = m; i > 1; i--) {
            const uint32_t j = mlp_rng_below(&rng, i), t = idx[i - 1];
            idx[i - 1] = idx[j];
            idx[j] = t;
        }
        const uint32_t take = (uint32_t)floor(fraction * m + 0.5);
        for (uint32_t i = 0; i < take; i++) mark[idx[i]] = 1;
        n_val += take;
    }
    free(idx);
    mlp_status st = MLP_OK;
    if (n_val == 0 || n_val == (size_t)src->n)
        st = mlp_fail(err, MLP_ERR_ARG,
                      "a validation fraction of %g leaves %s of the %d examples (per class, rounded); choose a "
                      "fraction that keeps some in both",
                      fraction, n_val ? "all" : "none", src->n);
    if (!st) st = take_rows(train, src, mark, 0, (size_t)src->n - n_val, err);
    if (!st) st = take_rows(val, src, mark, 1, n_val, err);
    free(mark);
    if (st) {
        mlp_dataset_free(train);
        mlp_dataset_free(val);
    }
    return st;
}

/* ------------------------------------------------------------------ from arrays */

mlp_status mlp_dataset_from_arrays(mlp_dataset *ds, const float *x, const int32_t *y, int n, int dim, int classes,
                                   const char *const *class_names, mlp_error *err) {
    if (!ds) return mlp_fail(err, MLP_ERR_ARG, "mlp_dataset_from_arrays: ds is NULL");
    memset(ds, 0, sizeof *ds);
    if (!x || !y || n < 1 || dim < 1)
        return mlp_fail(err, MLP_ERR_ARG, "mlp_dataset_from_arrays: x and y must hold n >= 1 rows of dim >= 1 features");
    int top = -1;
    for (int i = 0; i < n; i++) {
        if (y[i] < 0 || (classes > 0 && y[i] >= classes))
            return mlp_fail(err, MLP_ERR_ARG, "label %d at row %d is not a class index (0..%d)", (int)y[i], i,
                            classes > 0 ? classes - 1 : INT32_MAX);
        if (y[i] > top) top = y[i];
    }
    for (size_t i = 0; i < (size_t)n * (size_t)dim; i++)
        if (!isfinite(x[i]))
            return mlp_fail(err, MLP_ERR_ARG, "x[%zu, %zu] is not finite; features must be finite", i / (size_t)dim,
                            i % (size_t)dim);
    mlp_status st = mlp_dataset_alloc(ds, (size_t)n, (size_t)dim, "mlp_dataset_from_arrays", err);
    if (st) return st;
    memcpy(ds->x, x, sizeof(float) * (size_t)n * (size_t)dim);
    memcpy(ds->y, y, sizeof(int32_t) * (size_t)n);
    ds->classes = classes > 0 ? classes : top + 1;
    if (class_names) {
        mlp_dataset named = {.classes = ds->classes, .class_names = (char **)(uintptr_t)class_names};
        for (int k = 0; k < ds->classes; k++)
            if (!class_names[k]) {
                mlp_dataset_free(ds);
                return mlp_fail(err, MLP_ERR_ARG, "class_names[%d] is NULL", k);
            }
        st = names_copy(&ds->class_names, &named, err);
        if (st) mlp_dataset_free(ds);
    }
    return st;
}
