/* fuzz_idx.c - the IDX reader: mlp_idx_parse_images / mlp_idx_parse_labels on the raw bytes, and the same
 * bytes through mlp_read_file (which gunzips anything that starts with the gzip magic) so that malformed
 * gzip streams are fuzzed too. The first byte picks the path; the rest is the file. */
#include "fuzz_common.h"

static void parse_both(const uint8_t *buf, size_t len) {
    mlp_error err;
    uint8_t *px = NULL;
    int32_t *lab = NULL;
    int n = -1, rows = -1, cols = -1, nl = -1, classes = -1;
    mlp_status st = mlp_idx_parse_images(buf, len, &px, &n, &rows, &cols, &err);
    fuzz_check_error(st, &err);
    if (st == MLP_OK) {
        /* success: the header's shape is exactly the bytes after the header (16 bytes, or 12 for a 2-D file) */
        const size_t header = buf[3] == 2 ? 12 : 16;
        FUZZ_ASSERT(n > 0 && rows > 0 && cols > 0 && px != NULL);
        FUZZ_ASSERT((size_t)n * (size_t)rows * (size_t)cols == len - header);
        FUZZ_ASSERT(memcmp(px, buf + header, len - header) == 0);
    } else {
        FUZZ_ASSERT(px == NULL && n == 0);
    }
    free(px);
    st = mlp_idx_parse_labels(buf, len, &lab, &nl, &classes, &err);
    fuzz_check_error(st, &err);
    if (st == MLP_OK) {
        /* uint8 labels (type byte 0x08) or int32 (4 bytes each); every one a class below the count */
        FUZZ_ASSERT(nl > 0 && (size_t)nl * (buf[2] == 0x08 ? 1 : 4) == len - 8);
        for (int i = 0; i < nl; i++) FUZZ_ASSERT(lab[i] >= 0 && lab[i] < classes);
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
