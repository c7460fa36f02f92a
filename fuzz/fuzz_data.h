/* fuzz_data.h - the contract every dataset reader keeps (fuzz_csv.c, fuzz_npy.c): an error has a message and leaves
 * the dataset empty; a success is a whole dataset, each label one of its named classes, each feature finite. */
#ifndef MLP_FUZZ_DATA_H
#define MLP_FUZZ_DATA_H

static void fuzz_check_dataset(mlp_status st, mlp_dataset *ds, const mlp_error *err) {
    fuzz_check_error(st, err);
    if (st != MLP_OK) {
        FUZZ_ASSERT(ds->x == NULL && ds->y == NULL && ds->class_names == NULL && ds->n == 0);
        return;
    }
    FUZZ_ASSERT(ds->n > 0 && ds->dim > 0 && ds->x && ds->y && ds->rows * ds->cols == ds->dim);
    FUZZ_ASSERT(ds->classes == 0 ? !ds->class_names : ds->class_names && ds->classes <= ds->n); /* 0: no labels */
    for (int i = 0; i < ds->n; i++) FUZZ_ASSERT(ds->y[i] >= 0 && (ds->y[i] < ds->classes || ds->classes == 0));
    for (size_t i = 0; i < (size_t)ds->n * (size_t)ds->dim; i++) FUZZ_ASSERT(isfinite(ds->x[i]));
    for (int k = 0; k < ds->classes; k++) FUZZ_ASSERT(ds->class_names[k] != NULL && ds->class_names[k][0] != '\0');
    mlp_dataset_free(ds);
}

#endif
