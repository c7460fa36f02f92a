/*
 * dataset_core.c - a dataset as memory, which every reader needs: allocation under the readers' limits, freeing,
 * and the class table that turns raw labels into class indices as scikit-learn's classes_ does.
 *
 * Classes. A CSV or NumPy file holds labels as they are (integers, or strings in a CSV); the network needs indices
 * 0..K-1. As np.unique (scikit-learn's LabelEncoder and MLPClassifier.classes_): the classes are the distinct labels
 * sorted, numerically for integers, by bytes for strings (UTF-8 byte order is code point order, numpy's order for
 * str); class k is the k-th. Their names are kept (ds->class_names) so that models report "setosa", not 0. An IDX
 * file holds indices already: class count = the largest label + 1, no names.
 *
 * These live apart from dataset.c's dispatcher so that the readers (csv.c, npy.c, idx.c), which the dispatcher
 * calls, do not call back into it: the file graph of src/io has no loop.
 */
#include "data_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mlp_mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return -1;
    *out = a * b;
    return 0;
}

mlp_status mlp_dataset_alloc(mlp_dataset *ds, size_t n, size_t dim, const char *what, mlp_error *err) {
    size_t values, bytes;
    if (n < 1 || n > MLP_DATA_MAX_ROWS)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: %zu rows; expected 1..%d", what, n, MLP_DATA_MAX_ROWS);
    if (dim < 1 || dim > MLP_DATA_MAX_DIM)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: %zu features; expected 1..%d", what, dim, MLP_DATA_MAX_DIM);
    if (mlp_mul_size(n, dim, &values) != 0 || values > MLP_DATA_MAX_VALUES || mlp_mul_size(values, 4, &bytes) != 0)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: %zu rows of %zu features exceed the limit of %zu values", what, n,
                        dim, MLP_DATA_MAX_VALUES);
    memset(ds, 0, sizeof *ds);
    ds->x = mlp_alloc_block(bytes);
    ds->y = malloc(n * sizeof *ds->y);
    if (!ds->x || !ds->y) {
        mlp_dataset_free(ds);
        return mlp_fail(err, MLP_ERR_NOMEM, "%s: cannot allocate %zu rows of %zu features", what, n, dim);
    }
    ds->n = (int)n;
    ds->rows = 1;
    ds->cols = ds->dim = (int)dim;
    return MLP_OK;
}

void mlp_dataset_free(mlp_dataset *ds) {
    if (!ds) return;
    free(ds->x);
    free(ds->y);
    free(ds->class_names);
    memset(ds, 0, sizeof *ds);
}

const char *mlp_dataset_class_name(const mlp_dataset *ds, int k) {
    return ds && ds->class_names && k >= 0 && k < ds->classes ? ds->class_names[k] : NULL;
}

/* ------------------------------------------------------------------ the class table */

typedef struct key_ctx {
    const char *text; /* NULL: keys are int32 values */
} key_ctx;

static int key_cmp(const key_ctx *c, uint32_t a, uint32_t b) {
    if (!c->text) return (int32_t)a < (int32_t)b ? -1 : (int32_t)a > (int32_t)b;
    return strcmp(c->text + a, c->text + b); /* compares as unsigned char: byte order */
}

/* Heapsort of k[0..n) by key_cmp: in place, O(n log n), no allocation (qsort has no context argument in C11). */
static void sift(const key_ctx *c, uint32_t *k, size_t root, size_t n) {
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n) return;
        if (child + 1 < n && key_cmp(c, k[child], k[child + 1]) < 0) child++;
        if (key_cmp(c, k[root], k[child]) >= 0) return;
        uint32_t t = k[root];
        k[root] = k[child];
        k[child] = t;
        root = child;
    }
}

static void heap_sort(const key_ctx *c, uint32_t *k, size_t n) {
    for (size_t i = n / 2; i-- > 0;) sift(c, k, i, n);
    for (size_t end = n; end-- > 1;) {
        uint32_t t = k[0];
        k[0] = k[end];
        k[end] = t;
        sift(c, k, 0, end);
    }
}

mlp_status mlp_classes_build(mlp_dataset *ds, const char *text, int ints, uint32_t *scratch, const char *what,
                             mlp_error *err) {
    const key_ctx c = {ints ? NULL : text};
    const size_t n = (size_t)ds->n;
    for (size_t i = 0; i < n; i++) scratch[i] = (uint32_t)ds->y[i];
    heap_sort(&c, scratch, n);
    size_t K = 0; /* distinct keys, compacted to the front */
    for (size_t i = 0; i < n; i++)
        if (K == 0 || key_cmp(&c, scratch[K - 1], scratch[i]) != 0) scratch[K++] = scratch[i];
    if (K > (size_t)MLP_DATA_MAX_DIM)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: %zu distinct labels; at most %d classes", what, K, MLP_DATA_MAX_DIM);
    /* the names: one block, K pointers then the strings */
    size_t bytes = K * sizeof(char *);
    char num[16];
    for (size_t k = 0; k < K; k++)
        bytes += (ints ? (size_t)snprintf(num, sizeof num, "%d", (int32_t)scratch[k]) : strlen(text + scratch[k])) + 1;
    char **names = malloc(bytes);
    if (!names) return mlp_fail(err, MLP_ERR_NOMEM, "%s: cannot allocate the names of %zu classes", what, K);
    char *at = (char *)(names + K);
    for (size_t k = 0; k < K; k++) {
        names[k] = at;
        if (ints) at += snprintf(at, 16, "%d", (int32_t)scratch[k]) + 1;
        else {
            const size_t len = strlen(text + scratch[k]);
            memcpy(at, text + scratch[k], len + 1);
            at += len + 1;
        }
    }
    /* every label's class: binary search among the sorted distinct keys */
    for (size_t i = 0; i < n; i++) {
        size_t lo = 0, hi = K;
        const uint32_t key = (uint32_t)ds->y[i];
        while (hi - lo > 1) {
            const size_t mid = lo + (hi - lo) / 2;
            if (key_cmp(&c, scratch[mid], key) <= 0) lo = mid;
            else hi = mid;
        }
        ds->y[i] = (int32_t)lo;
    }
    ds->classes = (int)K;
    ds->class_names = names;
    return MLP_OK;
}
