/* fuzz_csv.c - the CSV reader (csv.c): mlp_csv_parse on the bytes, with the label column picked by the first byte
 * (0: the default, else the column named "b"). On success the dataset must be whole: every label a class, every
 * feature finite, every class named; on failure it must be empty. */
#include "fuzz_common.h"
#include "data_internal.h"

#include <math.h>

/* The contract of a reader's success or failure, shared with fuzz_npy.c. */
#include "fuzz_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *label = data[0] & 1 ? "b" : NULL;
    char *buf = malloc(size); /* the parser writes its cells in place */
    if (!buf) return 0;
    memcpy(buf, data + 1, size - 1);
    mlp_dataset ds;
    mlp_error err;
    mlp_status st = mlp_csv_parse(&ds, buf, size - 1, label, (data[0] & 2) != 0, "fuzz.csv", &err);
    fuzz_check_dataset(st, &ds, &err);
    free(buf);
    return 0;
}
