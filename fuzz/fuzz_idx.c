/* fuzz_idx.c - the IDX reader: mlp_idx_parse_images / mlp_idx_parse_labels on the raw bytes, and the same
 * bytes through mlp_read_file (which gunzips anything that starts with the gzip magic) so that malformed
 * gzip streams are fuzzed too. The first byte picks the path; the rest is the file. */
#include "fuzz_common.h"

static void parse_both(const uint8_t *buf, size_t len) {
    mlp_error err;
    uint8_t *px = NULL, *lab = NULL;
    int n = -1, rows = -1, cols = -1, nl = -1;
    mlp_status st = mlp_idx_parse_images(buf, len, &px, &n, &rows, &cols, &err);
    fuzz_check_error(st, &err);
    if (st == MLP_OK) {
        /* success: the header's shape is exactly the bytes after the 16-byte header */
        FUZZ_ASSERT(n > 0 && rows > 0 && cols > 0 && px != NULL);
        FUZZ_ASSERT((size_t)n * (size_t)rows * (size_t)cols == len - 16);
        FUZZ_ASSERT(memcmp(px, buf + 16, len - 16) == 0);
    } else {
        FUZZ_ASSERT(px == NULL && n == 0);
    }
    free(px);
    st = mlp_idx_parse_labels(buf, len, &lab, &nl, &err);
    fuzz_check_error(st, &err);
    if (st == MLP_OK) {
        FUZZ_ASSERT(nl > 0 && (size_t)nl == len - 8);
        for (int i = 0; i < nl; i++) FUZZ_ASSERT(lab[i] <= 9);
    }
    free(lab);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const uint8_t mode = data[0];
    data++, size--;
    if ((mode & 1) == 0) {
        parse_both(data, size);
    } else {
        /* through a file: raw or gzip */
        const char *path = fuzz_write_temp(data, size);
        uint8_t *buf = NULL;
        size_t len = 0;
        mlp_error err;
        mlp_status st = mlp_read_file(path, &buf, &len, (size_t)1 << 20, &err);
        fuzz_check_error(st, &err);
        if (st == MLP_OK) parse_both(buf, len);
        else FUZZ_ASSERT(buf == NULL);
        free(buf);
    }
    return 0;
}
