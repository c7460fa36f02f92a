/* data_internal.h - what the dataset readers share (dataset_core.c): limits, the class table built from raw labels,
 * overflow-checked sizes. Internal to the library. */
#ifndef MLP_DATA_INTERNAL_H
#define MLP_DATA_INTERNAL_H

#include "util.h"

#include <stddef.h>
#include <stdint.h>

/* Limits every reader applies before it allocates (docs/ROBUSTNESS.md, memory bounds). */
#define MLP_DATA_MAX_FILE ((size_t)1 << 30)   /* bytes of a CSV, NPY or NPZ file (uncompressed) */
#define MLP_DATA_MAX_ROWS 100000000            /* examples */
#define MLP_DATA_MAX_DIM (1 << 20)             /* features: the network's widest layer */
#define MLP_DATA_MAX_VALUES ((size_t)1 << 28)  /* rows x features: 1 GiB of floats */
#define MLP_DATA_MAX_NAME 200                  /* bytes of a class name */

/* *out = a * b, or -1 when it does not fit in size_t. */
int mlp_mul_size(size_t a, size_t b, size_t *out);

/* Allocate ds->x for n rows of dim features (rows 1, cols dim) and ds->y, after checking the limits above (what:
 * the file, for messages). */
mlp_status mlp_dataset_alloc(mlp_dataset *ds, size_t n, size_t dim, const char *what, mlp_error *err);

/* The classes of raw labels, as scikit-learn's classes_ (np.unique): with ints, ds->y[i] holds label values and the
 * classes are the distinct values in numeric order, named by their decimal text; else ds->y[i] is the offset in
 * text of a NUL-terminated name and the classes are the distinct names in byte order. Replaces every y[i] by its
 * class index and sets ds->classes and ds->class_names (one block). scratch: room for ds->n uint32 (the caller's
 * unused x, say); what names the file in messages. */
mlp_status mlp_classes_build(mlp_dataset *ds, const char *text, int ints, uint32_t *scratch, const char *what,
                             mlp_error *err);

/* The readers (csv.c, npy.c), from a file or from memory (fuzzing, tests); each leaves *ds empty on failure.
 * mlp_csv_parse tokenises buf (len bytes) in place. what / xname / yname name the input in messages. */
/* no_labels: every column (CSV) is a feature, no y (NPY: ypath/ybuf NULL; NPZ: y.npy not read); y all 0,
 * classes 0, no names: rows to classify. */
mlp_status mlp_csv_read(mlp_dataset *ds, const char *path, const char *label, int no_labels, mlp_error *err);
mlp_status mlp_csv_parse(mlp_dataset *ds, char *buf, size_t len, const char *label, int no_labels,
                         const char *what, mlp_error *err);
mlp_status mlp_npy_read_pair(mlp_dataset *ds, const char *xpath, const char *ypath, mlp_scaling s, mlp_error *err);
mlp_status mlp_npy_parse_pair(mlp_dataset *ds, const uint8_t *xbuf, size_t xlen, const uint8_t *ybuf, size_t ylen,
                              mlp_scaling s, const char *xname, const char *yname, mlp_error *err);
mlp_status mlp_npz_read(mlp_dataset *ds, const char *path, mlp_scaling s, int no_labels, mlp_error *err);
mlp_status mlp_npz_parse(mlp_dataset *ds, const uint8_t *buf, size_t len, mlp_scaling s, int no_labels,
                         const char *what, mlp_error *err);
/* The labels file of an NPY features file: the last 'X' of its name made a 'y' (train_X.npy: train_y.npy);
 * -1 when the name has no X or ypath (size bytes) is too small. */
int mlp_npy_labels_path(const char *xpath, char *ypath, size_t size);

#endif
