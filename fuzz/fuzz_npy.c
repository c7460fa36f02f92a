/* fuzz_npy.c - the NumPy readers (npy.c). First byte even: an NPZ archive (mlp_npz_parse) of the rest; odd: an NPY
 * pair, X the next bytes up to the split given by the second byte (x 8), y the remainder (mlp_npy_parse_pair). */
#include "fuzz_common.h"
#include "data_internal.h"

#include <math.h>

#include "fuzz_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    mlp_dataset ds;
    mlp_error err;
    mlp_status st;
    if ((data[0] & 1) == 0) {
        st = mlp_npz_parse(&ds, data + 1, size - 1, mlp_scaling_default(), (data[0] & 2) != 0, "fuzz.npz", &err);
    } else {
        size_t split = (size_t)data[1] * 8;
        if (split > size - 2) split = size - 2;
        st = mlp_npy_parse_pair(&ds, data + 2, split, data + 2 + split, size - 2 - split, mlp_scaling_default(),
                                "X.npy", "y.npy", &err);
    }
    fuzz_check_dataset(st, &ds, &err);
    return 0;
}
