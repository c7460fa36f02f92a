/* test_data.c - the dataset readers (src/io/csv.c, npy.c, dataset.c): CSV with integer and string labels, NPY pairs
 * and NPZ archives written byte by byte here (and by numpy when it is installed), the dispatcher, class matching,
 * and every refused input with its message. */
#include "check.h"
#include "data_internal.h"
#include "mlp.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static const char *tpath(const char *dir, const char *name) {
    static char buf[8][1024];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 1024, "%s/%s", dir, name);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(data, 1, len, f) == len);
    fclose(f);
}

static void write_text(const char *path, const char *text) { write_bytes(path, text, strlen(text)); }

/* ---------------------------------------------------------------- CSV */

TEST(data_csv_string_labels) {
    const char *dir = check_tmpdir();
    write_text(tpath(dir, "iris.csv"), "sepal,petal,species\n"
                                       "5.1,1.4,setosa\n"
                                       "7.0,4.7,versicolor\n"
                                       "6.3,6.0,virginica\n"
                                       "4.9,1.5,setosa\n"
                                       "5.5,4.0,Versicolor\n");
    mlp_dataset ds;
    mlp_error err = {MLP_OK, ""};
    CHECK_MSG(mlp_dataset_load(&ds, NULL, tpath(dir, "iris.csv"), NULL, &err) == MLP_OK, "%s", err.msg);
    CHECK_INT(ds.n, 5);
    CHECK_INT(ds.dim, 2);
    CHECK_INT(ds.rows, 1);
    CHECK_INT(ds.cols, 2);
    CHECK_INT(ds.byte_data, 0);
    /* np.unique order: bytes, so the capital V comes first */
    CHECK_INT(ds.classes, 4);
    const char *names[4] = {"Versicolor", "setosa", "versicolor", "virginica"};
    for (int k = 0; k < 4 && k < ds.classes; k++) CHECK(!strcmp(mlp_dataset_class_name(&ds, k), names[k]));
    const int32_t y[5] = {1, 2, 3, 1, 0};
    for (int i = 0; i < 5; i++) CHECK_INT(ds.y[i], y[i]);
    CHECK(ds.x[0] == 5.1f && ds.x[1] == 1.4f && ds.x[8] == 5.5f && ds.x[9] == 4.0f);
    CHECK(mlp_dataset_class_name(&ds, 4) == NULL);
    mlp_dataset_free(&ds);
}

TEST(data_csv_integer_labels_and_label_column) {
    const char *dir = check_tmpdir();
    /* integer labels: numeric order (-1 < 2 < 10), not byte order; the column named label, wherever it is */
    write_text(tpath(dir, "a.csv"), "f1,label,f2\n1,10,2\n3,2,4\n5,-1,6\n7,10,8\n");
    mlp_dataset ds;
    mlp_error err = {MLP_OK, ""};
    CHECK_MSG(mlp_dataset_load(&ds, NULL, tpath(dir, "a.csv"), NULL, &err) == MLP_OK, "%s", err.msg);
    CHECK_INT(ds.classes, 3);
    CHECK_INT(ds.dim, 2);
    if (ds.classes == 3) {
        CHECK(!strcmp(ds.class_names[0], "-1") && !strcmp(ds.class_names[1], "2") && !strcmp(ds.class_names[2], "10"));
        CHECK_INT(ds.y[0], 2);
        CHECK_INT(ds.y[1], 1);
        CHECK_INT(ds.y[2], 0);
        CHECK(ds.x[0] == 1.0f && ds.x[1] == 2.0f && ds.x[6] == 7.0f && ds.x[7] == 8.0f);
    }
    mlp_dataset_free(&ds);
    /* --label: another column is the label, "label" a feature */
    mlp_data_opts o = mlp_data_opts_default();
    o.label = "f2";
    CHECK_MSG(mlp_dataset_load(&ds, NULL, tpath(dir, "a.csv"), &o, &err) == MLP_OK, "%s", err.msg);
    CHECK_INT(ds.classes, 4);
    CHECK(ds.x[0] == 1.0f && ds.x[1] == 10.0f);
    mlp_dataset_free(&ds);
    /* no column named label: the last one */
    write_text(tpath(dir, "b.csv"), "x,y,target\n0.5,1,b\n0.25,2,a\n");
    CHECK_MSG(mlp_dataset_load(&ds, NULL, tpath(dir, "b.csv"), NULL, &err) == MLP_OK, "%s", err.msg);
    CHECK_INT(ds.dim, 2);
    CHECK_INT(ds.classes, 2);
    CHECK_INT(ds.y[0], 1);
    mlp_dataset_free(&ds);
}

/* Quoted cells (commas, doubled quotes, a newline), CRLF, blank lines, spaces, a byte order mark, gzip. */
TEST(data_csv_quoting_and_line_ends) {
    const char *dir = check_tmpdir();
    const char *text = "\xEF\xBB\xBF\"a\",\"b, c\",name\r\n"
                       " 1.5 ,\"2\",\"say \"\"hi\"\"\"\r\n"
                       "\r\n"
                       "3,4e-1,\"two, lines\"\r\n"
                       "-5,+6,plain\n\n";
    write_text(tpath(dir, "q.csv"), text);
    mlp_dataset ds;
    mlp_error err = {MLP_OK, ""};
    CHECK_MSG(mlp_dataset_load(&ds, NULL, tpath(dir, "q.csv"), NULL, &err) == MLP_OK, "%s", err.msg);
    CHECK_INT(ds.n, 3);
    CHECK_INT(ds.classes, 3);
    if (ds.classes == 3) {
        CHECK(!strcmp(ds.class_names[0], "plain"));
        CHECK(!strcmp(ds.class_names[1], "say \"hi\""));
        CHECK(!strcmp(ds.class_names[2], "two, lines"));
    }
    const float x[6] = {1.5f, 2.0f, 3.0f, 0.4f, -5.0f, 6.0f};
    CHECK(ds.x && memcmp(ds.x, x, sizeof x) == 0);
    CHECK(ds.y && ds.y[0] == 1 && ds.y[1] == 2 && ds.y[2] == 0);
    mlp_dataset_free(&ds);
    /* the same, gzip-compressed */
    char out[512];
    CHECK_INT(check_sh(out, sizeof out, 1, "gzip -c '%s' > '%s'", tpath(dir, "q.csv"), tpath(dir, "q.csv.gz")), 0);
    CHECK_MSG(mlp_dataset_load(&ds, NULL, tpath(dir, "q.csv.gz"), NULL, &err) == MLP_OK, "%s", err.msg);
    CHECK(ds.x && memcmp(ds.x, x, sizeof x) == 0);
    mlp_dataset_free(&ds);
}

typedef struct csv_case {
    const char *text, *label, *phrase;
} csv_case;

/* Every refused CSV: one message naming the file, the line and the column. */
TEST(data_csv_errors) {
    const char *dir = check_tmpdir();
    const csv_case cases[] = {
        {"", NULL, "empty file (expected a header row of column names)"},
        {"\n\n  \n", NULL, "empty file"},
        {"a,b,label\n", NULL, "a header but no rows of data"},
        {"a,b,label\n1,2,x\n3,4\n", NULL, "line 3 has 2 cells but the header has 3 columns"},
        {"a,b,label\n1,2,x\n3,4,y,5\n", NULL, "line 3 has 4 cells but the header has 3 columns"},
        {"a,b,label\n1,2,x\n3,abc,y\n", NULL, "line 3, column 'b': 'abc' is not a number"},
        {"a,b,label\n1,nan,x\n", NULL, "line 2, column 'b': 'nan' is NaN"},
        {"a,b,label\n1,2,x\n-inf,2,y\n", NULL, "line 3, column 'a': '-inf' is infinite"},
        {"a,b,label\n1e39,2,x\n", NULL, "'1e39' is infinite or outside the float range"},
        {"a,b,label\n1,,x\n", NULL, "line 2, column 'b': '' is empty"},
        {"a,b,label\n1,2,\n", NULL, "line 2: the label (column 'label') is empty"},
        {"a,b,label\n1,2,\"x\n", NULL, "line 2: a quoted cell is not closed before the end of the file"},
        {"a,b,label\n1,2,x\"y\n", NULL, "a quote inside an unquoted cell"},
        {"a,b,label\n1,2,\"x\"y\n", NULL, "text after a quoted cell's closing quote"},
        {"a,b,label\n1,2,x\n", "species", "no column named 'species'"},
        {"justone\n1\n", NULL, "the header has 1 column ('justone')"},
        {"a,b,label\n1,2,\"x\ty\"\n", NULL, "line 2: the label holds a control character"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        write_text(tpath(dir, "bad.csv"), cases[i].text);
        mlp_dataset ds;
        memset(&ds, 0xAB, sizeof ds);
        mlp_error err = {MLP_OK, ""};
        mlp_data_opts o = mlp_data_opts_default();
        o.label = cases[i].label;
        CHECK_MSG(mlp_dataset_load(&ds, NULL, tpath(dir, "bad.csv"), &o, &err) == MLP_ERR_FORMAT, "case %zu", i);
        CHECK_MSG(strstr(err.msg, cases[i].phrase) != NULL, "case %zu: \"%s\" lacks \"%s\"", i, err.msg,
                  cases[i].phrase);
        CHECK_MSG(strstr(err.msg, "bad.csv") != NULL, "case %zu: the file is not named: %s", i, err.msg);
        CHECK(ds.x == NULL && ds.y == NULL && ds.n == 0 && ds.class_names == NULL);
    }
    /* a NUL byte: not text */
    write_bytes(tpath(dir, "nul.csv"), "a,label\n1,\0\n", 12);
    mlp_dataset ds;
    mlp_error err = {MLP_OK, ""};
    CHECK_INT(mlp_dataset_load(&ds, NULL, tpath(dir, "nul.csv"), NULL, &err), MLP_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "holds a NUL byte");
}

/* ---------------------------------------------------------------- NPY and NPZ */

/* An NPY file (version 1.0) of the given descr and shape, data appended; returns its length in out. */
static size_t npy_bytes(uint8_t *out, const char *descr, const char *shape, const void *data, size_t data_len,
                        const char *fortran) {
    char header[256];
    int h = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr, fortran,
                     shape);
    int total = 10 + h + 1;
    int pad = (64 - total % 64) % 64;
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (uint8_t)((h + pad + 1) & 0xff);
    out[9] = (uint8_t)((h + pad + 1) >> 8);
    memcpy(out + 10, header, (size_t)h);
    memset(out + 10 + h, ' ', (size_t)pad);
    out[10 + h + pad] = '\n';
    memcpy(out + total + pad, data, data_len);
    return (size_t)(total + pad) + data_len;
}

static const float XF[6] = {0.5f, -1.25f, 3.0f, 1e-3f, 7.0f, -8.5f};
static const int64_t Y64[3] = {7, -2, 7};

TEST(data_npy_pair) {
    const char *dir = check_tmpdir();
    static uint8_t xb[512], yb[512];
    size_t xl = npy_bytes(xb, "<f4", "(3, 2)", XF, sizeof XF, "False");
    size_t yl = npy_bytes(yb, "<i8", "(3,)", Y64, sizeof Y64, "False");
    write_bytes(tpath(dir, "train_X.npy"), xb, xl);
    write_bytes(tpath(dir, "train_y.npy"), yb, yl);
    mlp_dataset ds;
    mlp_error err = {MLP_OK, ""};
    CHECK_MSG(mlp_dataset_load(&ds, NULL, tpath(dir, "train_X.npy"), NULL, &err) == MLP_OK, "%s", err.msg);
    CHECK_INT(ds.n, 3);
    CHECK_INT(ds.dim, 2);
    CHECK(memcmp(ds.x, XF, sizeof XF) == 0);
    CHECK_INT(ds.classes, 2);
    CHECK_INT(ds.y[0], 1);
    CHECK_INT(ds.y[1], 0);
    if (ds.class_names) CHECK(!strcmp(ds.class_names[0], "-2") && !strcmp(ds.class_names[1], "7"));
    mlp_dataset_free(&ds);
    /* float64 features become the nearest floats; uint8 features are 8-bit data, scaled as IDX pixels */
    const double xd[2] = {0.1, -1e30};
    const uint8_t y8[2] = {0, 1};
    xl = npy_bytes(xb, "<f8", "(2, 1)", xd, sizeof xd, "False");
    yl = npy_bytes(yb, "|u1", "(2,)", y8, sizeof y8, "False");
    write_bytes(tpath(dir, "X.npy"), xb, xl);
    write_bytes(tpath(dir, "y.npy"), yb, yl);
    CHECK_MSG(mlp_dataset_load(&ds, NULL, tpath(dir, "X.npy"), NULL, &err) == MLP_OK, "%s", err.msg);
    CHECK(ds.x && ds.x[0] == 0.1f && ds.x[1] == -1e30f);
    mlp_dataset_free(&ds);
    const uint8_t px[4] = {0, 128, 255, 64};
    xl = npy_bytes(xb, "|u1", "(2, 1, 2)", px, sizeof px, "False");
    write_bytes(tpath(dir, "X.npy"), xb, xl);
    CHECK_MSG(mlp_dataset_load(&ds, NULL, tpath(dir, "X.npy"), NULL, &err) == MLP_OK, "%s", err.msg);
    CHECK_INT(ds.byte_data, 1);
    CHECK_INT(ds.rows, 1);
    CHECK_INT(ds.cols, 2);
    const float s = 1.0f / 255.0f; /* (v - 128) / 255 as IDX pixels are scaled */
    CHECK(ds.x && ds.x[0] == -128.0f * s && ds.x[1] == 0.0f && ds.x[2] == 127.0f * s && ds.x[3] == -64.0f * s);
    mlp_dataset_free(&ds);
    /* the naming convention */
    CHECK_INT(mlp_dataset_load(&ds, NULL, tpath(dir, "features.npy"), NULL, &err), MLP_ERR_ARG);
    CHECK_CONTAINS(err.msg, "the labels are the file of the same name with that last X made a y");
}

typedef struct npy_case {
    const char *xdescr, *xshape, *ydescr, *yshape, *fortran;
    int cut; /* bytes removed from X's end */
    const char *phrase;
} npy_case;

TEST(data_npy_errors) {
    static uint8_t xb[512], yb[512];
    const float nan_x[6] = {0, 1, 2, NAN, 4, 5};
    const npy_case cases[] = {
        {">f4", "(3, 2)", "<i8", "(3,)", "False", 0, "big-endian data"},
        {"<f4", "(3, 2)", "<i8", "(3,)", "True", 0, "Fortran order"},
        {"<f4", "(3, 2)", "<i8", "(2,)", "False", 0, "X.npy has 3 rows but y.npy has 2 labels"},
        {"<f4", "(3, 2)", "<i8", "(3,)", "False", 4, "make 24 bytes of data but the file has 20"},
        {"<f4", "(3, 2)", "<f8", "(3,)", "False", 0, "y holds floats"},
        {"<i4", "(3, 2)", "<i8", "(3,)", "False", 0, "X must be float32, float64 or uint8"},
        {"<f4", "(6,)", "<i8", "(3,)", "False", 0, "X has 1 dimensions"},
        {"<c8", "(3, 2)", "<i8", "(3,)", "False", 0, "an unsupported dtype"},
        {"<f4", "(3, 2)", "<i8", "(3, 1)", "False", 0, "y has 2 dimensions"},
        {"NAN", "(3, 2)", "<i8", "(3,)", "False", 0, "X[1, 1] is NaN"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const int nan = !strcmp(cases[i].xdescr, "NAN");
        size_t xl = npy_bytes(xb, nan ? "<f4" : cases[i].xdescr, cases[i].xshape, nan ? nan_x : XF, sizeof XF,
                              cases[i].fortran) - (size_t)cases[i].cut;
        const int float_y = !strcmp(cases[i].ydescr, "<f8");
        const double yf[3] = {1, 2, 3};
        const size_t y_len = !strcmp(cases[i].yshape, "(2,)") ? 16 : 24;
        size_t yl = npy_bytes(yb, cases[i].ydescr, cases[i].yshape, float_y ? (const void *)yf : (const void *)Y64,
                              y_len, "False");
        mlp_dataset ds;
        mlp_error err = {MLP_OK, ""};
        CHECK_MSG(mlp_npy_parse_pair(&ds, xb, xl, yb, yl, mlp_scaling_default(), "X.npy", "y.npy", &err) ==
                      MLP_ERR_FORMAT,
                  "case %zu", i);
        CHECK_MSG(strstr(err.msg, cases[i].phrase) != NULL, "case %zu: \"%s\" lacks \"%s\"", i, err.msg,
                  cases[i].phrase);
        CHECK(ds.x == NULL && ds.n == 0);
    }
    mlp_dataset ds;
    mlp_error err = {MLP_OK, ""};
    CHECK_INT(mlp_npy_parse_pair(&ds, (const uint8_t *)"PK\3\4abcdefgh", 12, yb, 10, mlp_scaling_default(), "X.npy",
                                 "y.npy", &err),
              MLP_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "X.npy: not an NPY file");
    /* labels beyond int32 */
    const int64_t big[3] = {1, (int64_t)1 << 40, 2};
    size_t xl = npy_bytes(xb, "<f4", "(3, 2)", XF, sizeof XF, "False");
    size_t yl = npy_bytes(yb, "<i8", "(3,)", big, sizeof big, "False");
    CHECK_INT(mlp_npy_parse_pair(&ds, xb, xl, yb, yl, mlp_scaling_default(), "X.npy", "y.npy", &err), MLP_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "label 1099511627776 at index 1 is outside the int32 range");
}

/* A ZIP archive of two members, stored or deflated (raw deflate, as zipfile writes), into out. */
static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, v & 0xffff), put16(p + 2, v >> 16); }

static size_t zip_bytes(uint8_t *out, const char *names[2], const uint8_t *data[2], const size_t len[2], int deflated) {
    size_t at = 0, local[2], csize[2];
    uint32_t crc[2];
    for (int m = 0; m < 2; m++) {
        crc[m] = (uint32_t)crc32(crc32(0L, Z_NULL, 0), data[m], (uInt)len[m]);
        local[m] = at;
        const size_t nl = strlen(names[m]);
        uint8_t *h = out + at;
        memset(h, 0, 30);
        put32(h, 0x04034b50);
        put16(h + 8, deflated ? 8 : 0);
        put32(h + 14, crc[m]);
        put16(h + 26, (uint32_t)nl);
        memcpy(h + 30, names[m], nl);
        at += 30 + nl;
        if (deflated) {
            z_stream z;
            memset(&z, 0, sizeof z);
            deflateInit2(&z, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
            z.next_in = (Bytef *)(uintptr_t)data[m];
            z.avail_in = (uInt)len[m];
            z.next_out = out + at;
            z.avail_out = 4096;
            deflate(&z, Z_FINISH);
            csize[m] = z.total_out;
            deflateEnd(&z);
        } else {
            memcpy(out + at, data[m], len[m]);
            csize[m] = len[m];
        }
        put32(h + 18, (uint32_t)csize[m]);
        put32(h + 22, (uint32_t)len[m]);
        at += csize[m];
    }
    const size_t cd = at;
    for (int m = 0; m < 2; m++) {
        const size_t nl = strlen(names[m]);
        uint8_t *h = out + at;
        memset(h, 0, 46);
        put32(h, 0x02014b50);
        put16(h + 10, deflated ? 8 : 0);
        put32(h + 16, crc[m]);
        put32(h + 20, (uint32_t)csize[m]);
        put32(h + 24, (uint32_t)len[m]);
        put16(h + 28, (uint32_t)nl);
        put32(h + 42, (uint32_t)local[m]);
        memcpy(h + 46, names[m], nl);
        at += 46 + nl;
    }
    uint8_t *e = out + at;
    memset(e, 0, 22);
    put32(e, 0x06054b50);
    put16(e + 8, 2);
    put16(e + 10, 2);
    put32(e + 12, (uint32_t)(at - cd));
    put32(e + 16, (uint32_t)cd);
    return at + 22;
}

TEST(data_npz_stored_and_deflated) {
    const char *dir = check_tmpdir();
    static uint8_t xb[512], yb[512], zb[4096];
    const size_t xl = npy_bytes(xb, "<f4", "(3, 2)", XF, sizeof XF, "False");
    const size_t yl = npy_bytes(yb, "<i8", "(3,)", Y64, sizeof Y64, "False");
    const char *names[2] = {"y.npy", "X.npy"};
    const uint8_t *data[2] = {yb, xb};
    const size_t lens[2] = {yl, xl};
    for (int deflate = 0; deflate < 2; deflate++) {
        const size_t zl = zip_bytes(zb, names, data, lens, deflate);
        write_bytes(tpath(dir, "d.npz"), zb, zl);
        mlp_dataset ds;
        mlp_error err = {MLP_OK, ""};
        CHECK_MSG(mlp_dataset_load(&ds, NULL, tpath(dir, "d.npz"), NULL, &err) == MLP_OK, "%s", err.msg);
        CHECK_INT(ds.n, 3);
        CHECK(ds.x && memcmp(ds.x, XF, sizeof XF) == 0);
        CHECK_INT(ds.classes, 2);
        mlp_dataset_free(&ds);
        /* a flipped byte in a member: CRC-32 (stored) or the deflate stream / CRC (deflated) */
        zb[30 + 5 + 60] ^= 0x40;
        CHECK_INT(mlp_npz_parse(&ds, zb, zl, mlp_scaling_default(), 0, "d.npz", &err), MLP_ERR_FORMAT);
        CHECK_MSG(strstr(err.msg, "CRC-32 mismatch") || strstr(err.msg, "deflate stream is broken"), "%s", err.msg);
        /* cut short: the end record is gone */
        CHECK_INT(mlp_npz_parse(&ds, zb, zl - 10, mlp_scaling_default(), 0, "d.npz", &err), MLP_ERR_FORMAT);
        CHECK_CONTAINS(err.msg, "no end of central directory");
    }
    const char *wrong[2] = {"y.npy", "features.npy"};
    const size_t zl = zip_bytes(zb, wrong, data, lens, 0);
    mlp_dataset ds;
    mlp_error err = {MLP_OK, ""};
    CHECK_INT(mlp_npz_parse(&ds, zb, zl, mlp_scaling_default(), 0, "d.npz", &err), MLP_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "no member X.npy; an NPZ dataset holds X.npy and y.npy");
}

/* numpy's own files: np.save, np.savez, np.savez_compressed (zipfile's ZIP64 local headers) read back exactly. */
TEST(data_numpy_files) {
    const char *dir = check_tmpdir();
    char out[2048];
    int st = check_sh(out, sizeof out, 1,
                      "cd '%s' && /usr/bin/python3 -c \"import numpy as np\n"
                      "X = (np.arange(60, dtype=np.float64).reshape(20, 3) / 7 - 2)\n"
                      "y = np.array(['b', 'a', 'c', 'a'] * 5)\n"
                      "yi = np.searchsorted(np.unique(y), y).astype(np.int16) * 3 - 1\n"
                      "np.save('X.npy', X.astype(np.float32)); np.save('y.npy', yi)\n"
                      "np.savez('p.npz', X=X, y=yi); np.savez_compressed('c.npz', X=X, y=yi)\"",
                      dir);
    if (st != 0) {
        check_skip("numpy is not installed");
        return;
    }
    const char *files[3] = {"X.npy", "p.npz", "c.npz"};
    for (int f = 0; f < 3; f++) {
        mlp_dataset ds;
        mlp_error err = {MLP_OK, ""};
        CHECK_MSG(mlp_dataset_load(&ds, NULL, tpath(dir, files[f]), NULL, &err) == MLP_OK, "%s: %s", files[f], err.msg);
        CHECK_INT(ds.n, 20);
        CHECK_INT(ds.dim, 3);
        CHECK_INT(ds.classes, 3);
        for (int i = 0; i < 60 && ds.x; i++) CHECK(ds.x[i] == (float)(i / 7.0 - 2));
        static const int want[4] = {1, 0, 2, 0};
        for (int i = 0; i < 20 && ds.y; i++) CHECK_INT(ds.y[i], want[i % 4]);
        if (ds.class_names) CHECK(!strcmp(ds.class_names[0], "-1") && !strcmp(ds.class_names[2], "5"));
        mlp_dataset_free(&ds);
    }
}

/* ---------------------------------------------------------------- the dispatcher and class matching */

TEST(data_dispatch_and_match) {
    const char *dir = check_tmpdir();
    mlp_dataset tr, te;
    mlp_error err = {MLP_OK, ""};
    write_text(tpath(dir, "t.txt"), "a,label\n1,x\n");
    CHECK_INT(mlp_dataset_load(&tr, &te, tpath(dir, "t.txt"), NULL, &err), MLP_ERR_ARG);
    CHECK_CONTAINS(err.msg, "unknown kind of dataset; expected a folder of IDX files, a .csv file");
    CHECK_INT(mlp_dataset_load(&tr, &te, tpath(dir, "none.csv"), NULL, &err), MLP_ERR_IO);
    /* train: a, b, c; test: c, a (names map), then one unseen */
    write_text(tpath(dir, "train.csv"), "f,label\n1,b\n2,a\n3,c\n");
    write_text(tpath(dir, "test.csv"), "f,label\n4,c\n5,a\n");
    CHECK(mlp_dataset_load(&tr, &te, tpath(dir, "train.csv"), NULL, &err) == MLP_OK);
    CHECK(te.n == 0 && te.x == NULL); /* a file holds one set */
    CHECK(mlp_dataset_load(&te, NULL, tpath(dir, "test.csv"), NULL, &err) == MLP_OK);
    CHECK_MSG(mlp_dataset_match(&te, &tr, &err) == MLP_OK, "%s", err.msg);
    CHECK_INT(te.classes, 3);
    CHECK_INT(te.y[0], 2);
    CHECK_INT(te.y[1], 0);
    mlp_dataset_free(&te);
    write_text(tpath(dir, "test2.csv"), "f,label\n4,c\n5,zebra\n6,yak\n7,zebra\n");
    CHECK(mlp_dataset_load(&te, NULL, tpath(dir, "test2.csv"), NULL, &err) == MLP_OK);
    CHECK_INT(mlp_dataset_match(&te, &tr, &err), MLP_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "the test set has 2 labels the training set does not have ('yak', 'zebra')");
    mlp_dataset_free(&te);
    write_text(tpath(dir, "test3.csv"), "f,g,label\n4,1,c\n");
    CHECK(mlp_dataset_load(&te, NULL, tpath(dir, "test3.csv"), NULL, &err) == MLP_OK);
    CHECK_INT(mlp_dataset_match(&te, &tr, &err), MLP_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "the test set has 2 features per example but the training set has 1");
    mlp_dataset_free(&te);
    mlp_dataset_free(&tr);
}

/* ---------------------------------------------------------------- mlp train on files */

/* Well separated blobs, one per class, in 3 features (and a fourth of noise with `flowers`), string labels: a
 * generator the tests know. Row i has class i % classes. */
static void blobs_csv(const char *path, int n, int classes, unsigned seed, int flowers) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    static const char *animals[4] = {"cat", "dog", "eel", "fox"}, *species[3] = {"setosa", "versicolor", "virginica"};
    fputs(flowers ? "sepal_length,sepal_width,petal_length,petal_width,species\n" : "a,b,c,animal\n", f);
    mlp_rng r;
    mlp_rng_seed(&r, seed, 9);
    for (int i = 0; i < n; i++) {
        const int k = i % classes;
        fprintf(f, "%.4f,%.4f,%.4f,", 5.0 + 3.0 * k + mlp_rng_normal(&r) * 0.5, 40.0 - 20.0 * k + mlp_rng_normal(&r) * 5,
                mlp_rng_normal(&r) * 0.01);
        if (flowers) fprintf(f, "%.4f,", 100 + mlp_rng_normal(&r));
        fprintf(f, "%s\n", flowers ? species[k] : animals[k]);
    }
    fclose(f);
}

TEST(data_train_csv_cli) {
    const char *dir = check_tmpdir(), *mlp = check_mlp_bin();
    static char out[16384];
    blobs_csv(tpath(dir, "train.csv"), 200, 3, 1, 0);
    blobs_csv(tpath(dir, "test.csv"), 60, 3, 2, 0);
    int st = check_sh(out, sizeof out, 1,
                      "%s train --data '%s' --test-data '%s' --label animal --val-fraction 0.25 --hidden 8 --loss ce "
                      "--optimizer adam --lr 0.02 --epochs 15 --batch 10 --out '%s' --early-stop 5",
                      mlp, tpath(dir, "train.csv"), tpath(dir, "test.csv"), tpath(dir, "run"));
    CHECK_MSG(st == 0, "exit %d: %s", st, out);
    CHECK_CONTAINS(out, "val_loss");
    CHECK_CONTAINS(out, "(validation loss");
    CHECK_CONTAINS(out, "3-8-3");
    char *metrics = check_read_text(tpath(dir, "run/metrics.csv"));
    const char *head = "epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds,val_loss,val_acc\n";
    CHECK(metrics && !strncmp(metrics, head, strlen(head)));
    /* the last epoch: test and validation accuracy 1 on blobs this far apart */
    if (metrics) {
        const char *last = metrics + strlen(metrics) - 2;
        while (last > metrics && last[-1] != '\n') last--;
        double v[9];
        CHECK_INT(sscanf(last, "%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                         &v[7], &v[8]),
                  9);
        CHECK_MSG(v[4] == 1.0 && v[8] == 1.0, "test acc %g, val acc %g", v[4], v[8]);
    }
    free(metrics);
    char *cfg = check_read_text(tpath(dir, "run/config.json"));
    CHECK(cfg && strstr(cfg, "\"label\": \"animal\"") && strstr(cfg, "\"val_fraction\": 0.25") &&
          strstr(cfg, "\"dataset\": \"train\""));
    free(cfg);
    /* --json: the validation values in every object */
    st = check_sh(out, sizeof out, 1, "%s train --data '%s' --label animal --val-fraction 0.2 --hidden 4 --epochs 2 "
                  "--batch 20 --out '%s' --json", mlp, tpath(dir, "train.csv"), tpath(dir, "run2"));
    CHECK_MSG(st == 0, "%s", out);
    CHECK_CONTAINS(out, "\"val_loss\": ");
    CHECK_CONTAINS(out, "\"test_loss\": null");
}

typedef struct cli_case {
    const char *train, *test, *args, *phrase;
    int status;
} cli_case;

/* What is wrong with the data is said before any work, in one line, with exit 1 (2 for a usage error). */
TEST(data_train_cli_errors) {
    const char *dir = check_tmpdir(), *mlp = check_mlp_bin();
    write_text(tpath(dir, "one.csv"), "x,label\n1,a\n2,a\n3,a\n");
    write_text(tpath(dir, "two.csv"), "x,label\n1,a\n2,b\n3,a\n");
    write_text(tpath(dir, "wide.csv"), "x,y,label\n1,1,a\n2,2,b\n");
    write_text(tpath(dir, "unseen.csv"), "x,label\n1,a\n2,c\n3,d\n");
    write_text(tpath(dir, "ragged.csv"), "x,label\n1,a\n2\n");
    write_text(tpath(dir, "text.csv"), "x,label\n1,a\nfoo,b\n");
    write_text(tpath(dir, "empty.csv"), "");
    const cli_case cases[] = {
        {"one.csv", NULL, "", "the training set holds only one class", 1},
        {"two.csv", "wide.csv", "", "the test set has 2 features per example but the training set has 1", 1},
        {"two.csv", "unseen.csv", "", "the test set has 2 labels the training set does not have ('c', 'd')", 1},
        {"ragged.csv", NULL, "", "ragged.csv: line 3 has 1 cells but the header has 2 columns", 1},
        {"text.csv", NULL, "", "text.csv: line 3, column 'x': 'foo' is not a number", 1},
        {"empty.csv", NULL, "", "empty.csv: empty file", 1},
        {"two.csv", NULL, "--label nope", "no column named 'nope'", 1},
        {"two.csv", NULL, "--val-fraction 0.1", "leaves none of the 3 examples", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[2048], test[1200] = "";
        if (cases[i].test) snprintf(test, sizeof test, "--test-data '%s'", tpath(dir, cases[i].test));
        int st = check_sh(out, sizeof out, 1, "%s train --data '%s' %s %s --hidden 2 --epochs 1 --batch 1 --out '%s'",
                          mlp, tpath(dir, cases[i].train), test, cases[i].args, tpath(dir, "r"));
        CHECK_MSG(st == cases[i].status, "case %zu: exit %d: %s", i, st, out);
        CHECK_MSG(strstr(out, cases[i].phrase) != NULL, "case %zu: \"%s\" lacks \"%s\"", i, out, cases[i].phrase);
        CHECK_MSG(!strncmp(out, "mlp: error: ", 12) && strchr(out, '\n') == out + strlen(out) - 1, "case %zu: %s", i,
                  out);
    }
    char out[2048];
    CHECK_INT(check_sh(out, sizeof out, 1, "%s train --data '%s' --label x --epochs 1 --out '%s'", mlp, dir,
                       tpath(dir, "r")),
              2);
    CHECK_CONTAINS(out, "--label names a CSV column");
}

/* README's "Your own data": its three commands, exactly as written there, on CSV files made here. */
TEST(data_readme_three_commands) {
    char *readme = check_read_text("README.md");
    CHECK(readme != NULL);
    if (!readme) return;
    const char *sec = strstr(readme, "## Your own data");
    const char *block = sec ? strstr(sec, "```sh\n") : NULL;
    CHECK(block != NULL);
    if (!block) {
        free(readme);
        return;
    }
    const char *dir = check_tmpdir();
    char mlp[PATH_MAX + 4200], cwd[PATH_MAX]; /* the commands run in dir: the binary's absolute path */
    const char *bin = check_mlp_bin();
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    snprintf(mlp, sizeof mlp, "%s%s%s", bin[0] == '/' ? "" : cwd, bin[0] == '/' ? "" : "/", bin);
    blobs_csv(tpath(dir, "flowers_train.csv"), 150, 3, 11, 1);
    blobs_csv(tpath(dir, "flowers_test.csv"), 60, 3, 12, 1);
    static char out[3][65536];
    int commands = 0;
    for (const char *line = block + 6; commands < 3 && strncmp(line, "```", 3) != 0;) {
        const char *nl = strchr(line, '\n');
        if (!nl) break;
        if (!strncmp(line, "mlp ", 4)) {
            int st = check_sh(out[commands], sizeof out[commands], 1, "cd '%s' && '%s' %.*s", dir, mlp,
                              (int)(nl - line - 4), line + 4);
            CHECK_MSG(st == 0, "%.*s: exit %d: %s", (int)(nl - line), line, st, out[commands]);
            commands++;
        }
        line = nl + 1;
    }
    free(readme);
    CHECK_INT(commands, 3);
    if (commands < 3) return;
    CHECK_CONTAINS(out[0], "4-16-3");
    CHECK_CONTAINS(out[1], "classes: 0 setosa, 1 versicolor, 2 virginica");
    const char *acc = strstr(out[1], "test accuracy ");
    CHECK(acc && strtod(acc + 14, NULL) >= 0.95);
    /* rows 1, 2, 3 of the test file are classes 0, 1, 2 */
    CHECK_CONTAINS(out[2], "flowers_test.csv:1: 0 setosa (p ");
    CHECK_CONTAINS(out[2], "flowers_test.csv:2: 1 versicolor (p ");
    CHECK_CONTAINS(out[2], "flowers_test.csv:60: 2 virginica (p ");
}

/* The model file keeps the fitted scaling, the class names and the label column; a model trained on raw features
 * predicts from raw features; unseen labels at evaluation are named. */
TEST(data_model_keeps_scaling_and_names) {
    const char *dir = check_tmpdir(), *mlp = check_mlp_bin();
    static char out[16384];
    blobs_csv(tpath(dir, "train.csv"), 120, 3, 1, 0);
    int st = check_sh(out, sizeof out, 1, "%s train --data '%s' --label animal --hidden 4 --epochs 3 --batch 10 --out '%s' "
                      "--quiet", mlp, tpath(dir, "train.csv"), tpath(dir, "run"));
    CHECK_MSG(st == 0, "%s", out);
    mlp_net net;
    mlp_model_meta meta;
    mlp_error err;
    CHECK_MSG(mlp_model_load(tpath(dir, "run/model.safetensors"), &net, 16, &meta, &err) == MLP_OK, "%s", err.msg);
    CHECK_INT(meta.scale, MLP_SCALE_STANDARD);
    CHECK(!strcmp(meta.label, "animal"));
    CHECK(meta.class_names && !strcmp(meta.class_names[0], "cat") && !strcmp(meta.class_names[2], "eel"));
    /* the z-score of the training set, from the library's own fit of the same file */
    mlp_dataset tr;
    mlp_data_opts o = mlp_data_opts_default();
    o.label = "animal";
    CHECK(mlp_dataset_load(&tr, NULL, tpath(dir, "train.csv"), &o, &err) == MLP_OK);
    mlp_feature_scaling fs;
    CHECK(mlp_feature_scaling_fit(&fs, MLP_SCALE_STANDARD, &tr, &err) == MLP_OK);
    CHECK(meta.feature_offset && memcmp(meta.feature_offset, fs.offset, 3 * sizeof(float)) == 0);
    CHECK(meta.feature_scale && memcmp(meta.feature_scale, fs.scale, 3 * sizeof(float)) == 0);
    /* hand check of the fit: column 0 is 5 + 3k + noise, so its mean is near 8 and its std near sqrt(6 + 0.25) */
    CHECK_NEAR(fs.offset[0], 8.0, 0.2);
    CHECK_NEAR(1.0 / fs.scale[0], 2.5, 0.15);
    double mean = 0, var = 0;
    for (int i = 0; i < tr.n; i++) mean += tr.x[i * 3 + 1];
    mean /= tr.n;
    for (int i = 0; i < tr.n; i++) var += (tr.x[i * 3 + 1] - mean) * (tr.x[i * 3 + 1] - mean);
    CHECK(fs.offset[1] == (float)mean && fs.scale[1] == (float)(1.0 / sqrt(var / tr.n)));
    /* the raw rows, scaled by the model's metadata, give the classes predict prints */
    mlp_model_scale_inputs(&meta, tr.x, tr.n);
    mlp_feature_scaling_apply(&fs, tr.x, 0); /* n = 0: nothing */
    const float *z = mlp_net_forward(&net, tr.x, 1);
    int best = 0;
    for (int k = 1; k < 3; k++)
        if (z[k] > z[best]) best = k;
    st = check_sh(out, sizeof out, 1, "%s predict '%s' '%s' 2>/dev/null | head -1", mlp, tpath(dir, "run/model.safetensors"),
                  tpath(dir, "train.csv"));
    char want[64];
    snprintf(want, sizeof want, ":1: %d %s (", best, meta.class_names ? meta.class_names[best] : "?");
    CHECK_CONTAINS(out, want);
    mlp_feature_scaling_free(&fs);
    mlp_dataset_free(&tr);
    mlp_model_meta_free(&meta);
    mlp_net_free(&net);
    /* minmax: into [0, 1] */
    write_text(tpath(dir, "mm.csv"), "a,b,label\n1,5,x\n3,5,y\n2,5,x\n");
    CHECK(mlp_dataset_load(&tr, NULL, tpath(dir, "mm.csv"), NULL, &err) == MLP_OK);
    CHECK(mlp_feature_scaling_fit(&fs, MLP_SCALE_MINMAX, &tr, &err) == MLP_OK);
    mlp_feature_scaling_apply(&fs, tr.x, tr.n);
    CHECK(tr.x[0] == 0.0f && tr.x[2] == 1.0f && tr.x[4] == 0.5f && tr.x[1] == 0.0f); /* b is constant: scale 1 */
    mlp_feature_scaling_free(&fs);
    mlp_dataset_free(&tr);
    /* eval on a file with a label the model does not know */
    write_text(tpath(dir, "odd.csv"), "a,b,c,animal\n1,2,3,cat\n1,2,3,gnu\n");
    st = check_sh(out, sizeof out, 1, "%s eval '%s' --data '%s'", mlp, tpath(dir, "run/model.safetensors"),
                  tpath(dir, "odd.csv"));
    CHECK_INT(st, 1);
    CHECK_CONTAINS(out, "the test set has 1 label the training set does not have ('gnu')");
}

TEST(data_from_arrays) {
    const float x[6] = {1, 2, 3, 4, 5, 6};
    const int32_t y[3] = {0, 2, 1};
    const char *names[3] = {"a", "b", "c"};
    mlp_dataset ds;
    mlp_error err;
    CHECK(mlp_dataset_from_arrays(&ds, x, y, 3, 2, 0, names, &err) == MLP_OK);
    CHECK_INT(ds.classes, 3);
    CHECK(ds.x && ds.x[5] == 6.0f && ds.y[1] == 2 && !strcmp(mlp_dataset_class_name(&ds, 2), "c"));
    mlp_dataset_free(&ds);
    const int32_t bad[3] = {0, 3, 1};
    CHECK_INT(mlp_dataset_from_arrays(&ds, x, bad, 3, 2, 3, NULL, &err), MLP_ERR_ARG);
    CHECK_CONTAINS(err.msg, "label 3 at row 1 is not a class index (0..2)");
    const float nan_x[2] = {1, NAN};
    CHECK_INT(mlp_dataset_from_arrays(&ds, nan_x, y, 1, 2, 0, NULL, &err), MLP_ERR_ARG);
    CHECK_CONTAINS(err.msg, "x[0, 1] is not finite");
}

/* A run with a validation set continued from a checkpoint is bitwise the uninterrupted run, its val_loss/val_acc
 * history included (the checkpoint's val_metrics tensor), and a run without a test set (NaN test columns) resumes. */
static void val_run(const mlp_dataset *train, const mlp_dataset *val, const char *ckpt, int first, int last,
                    mlp_epoch_metrics *hist, float *params) {
    mlp_arch arch;
    mlp_net net;
    mlp_error err;
    CHECK(mlp_arch_parse(&arch, "5", train->dim, train->classes, MLP_ACT_TANH, &err) == MLP_OK);
    CHECK(mlp_net_create(&net, &arch, 32, &err) == MLP_OK);
    mlp_train_cfg cfg = mlp_train_cfg_default();
    cfg.loss = mlp_loss_default(MLP_LOSS_CE);
    cfg.optim = MLP_OPTIM_ADAM;
    cfg.reduction = MLP_GRAD_MEAN;
    cfg.lr = 0.01f;
    cfg.wd = cfg.momentum = 0.0f;
    cfg.batch = 16;
    cfg.epochs = 4;
    cfg.early_stop = 3;
    cfg.init_std = 0.3f;
    mlp_rng rng;
    mlp_rng_seed(&rng, cfg.seed, 1);
    mlp_net_init(&net, cfg.init_std, &rng);
    mlp_trainer tr;
    if (mlp_trainer_init_val(&tr, &net, &cfg, train, NULL, val, &err) != MLP_OK) {
        CHECK_MSG(0, "%s", err.msg);
        mlp_net_free(&net);
        return;
    }
    int n = 0;
    if (first > 1) CHECK_MSG(mlp_checkpoint_load(ckpt, &tr, hist, 4, &n, &err) == MLP_OK, "%s", err.msg);
    CHECK_INT(n, first - 1);
    for (int e = first; e <= last; e++) CHECK(mlp_trainer_epoch(&tr, &hist[n++], &err) == MLP_OK);
    if (ckpt) CHECK_MSG(mlp_checkpoint_save(ckpt, &tr, hist, n, &err) == MLP_OK, "%s", err.msg);
    memcpy(params, net.params, net.n_params * sizeof(float));
    mlp_trainer_free(&tr);
    mlp_net_free(&net);
}

TEST(data_val_resume_bitwise) {
    const char *dir = check_tmpdir();
    blobs_csv(tpath(dir, "t.csv"), 150, 3, 5, 0);
    mlp_dataset all, train, val;
    mlp_error err;
    mlp_data_opts o = mlp_data_opts_default();
    o.label = "animal";
    CHECK(mlp_dataset_load(&all, NULL, tpath(dir, "t.csv"), &o, &err) == MLP_OK);
    CHECK(mlp_dataset_split(&all, 0.2, 7, &train, &val, &err) == MLP_OK);
    CHECK_INT(val.n, 30); /* 10 of each class's 50 */
    CHECK_INT(train.n, 120);
    mlp_epoch_metrics a[4], b[4];
    float pa[64], pb[64];
    val_run(&train, &val, NULL, 1, 4, a, pa);
    val_run(&train, &val, tpath(dir, "c.safetensors"), 1, 2, b, pb);
    val_run(&train, &val, tpath(dir, "c.safetensors"), 3, 4, b, pb);
    CHECK(memcmp(pa, pb, sizeof(float) * (3 * 5 + 5 + 5 * 3 + 3)) == 0);
    for (int e = 0; e < 4; e++) {
        CHECK(a[e].val_loss == b[e].val_loss && a[e].val_acc == b[e].val_acc);
        CHECK(isnan(b[e].test_loss) && isfinite(b[e].val_loss));
    }
    mlp_dataset_free(&all);
    mlp_dataset_free(&train);
    mlp_dataset_free(&val);
}

/* An IDX folder of 40 4x4 images of 4 classes (class k: a bright row k), train and t10k alike. */
static void tiny_idx(const char *dir) {
    static uint8_t img[16 + 40 * 16], lab[8 + 40];
    const uint8_t ih[16] = {0, 0, 8, 3, 0, 0, 0, 40, 0, 0, 0, 4, 0, 0, 0, 4}, lh[8] = {0, 0, 8, 1, 0, 0, 0, 40};
    memcpy(img, ih, 16);
    memcpy(lab, lh, 8);
    for (int i = 0; i < 40; i++) {
        lab[8 + i] = (uint8_t)(i % 4);
        for (int p = 0; p < 16; p++) img[16 + i * 16 + p] = (uint8_t)(p / 4 == i % 4 ? 200 + i : (i * 7 + p * 3) % 40);
    }
    const char *names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                            "t10k-labels-idx1-ubyte"};
    for (int f = 0; f < 4; f++) write_bytes(tpath(dir, names[f]), f % 2 ? lab : img, f % 2 ? sizeof lab : sizeof img);
}

/* --scale on IDX data: another scaling than the reference is fitted on the raw pixels and kept in the model;
 * eval applies it. The reference stays the default (no per-feature values in the file). */
TEST(data_scale_on_idx) {
    const char *dir = check_tmpdir(), *mlp = check_mlp_bin();
    static char out[16384];
    tiny_idx(dir);
    int st = check_sh(out, sizeof out, 1, "%s train --data '%s' --scale standard --hidden 4 --epochs 20 --batch 4 --loss ce "
                      "--optimizer adam --lr 0.05 --out '%s/s' --quiet && %s eval '%s/s/model.safetensors' --data '%s' && "
                      "%s info '%s/s/model.safetensors'", mlp, dir, dir, mlp, dir, dir, mlp, dir);
    CHECK_MSG(st == 0, "%s", out);
    CHECK_CONTAINS(out, "test accuracy 1.0000 (40 of 40)");
    CHECK_CONTAINS(out, "standard scaling per feature, stored in the model");
    mlp_net net;
    mlp_model_meta meta;
    mlp_error err;
    char path[1200];
    snprintf(path, sizeof path, "%s/s/model.safetensors", dir);
    CHECK(mlp_model_load(path, &net, 4, &meta, &err) == MLP_OK);
    CHECK(meta.scaling.offset == 0.0f && meta.scaling.scale == 1.0f && meta.feature_offset != NULL);
    CHECK(meta.class_names == NULL); /* IDX labels are the classes */
    mlp_model_meta_free(&meta);
    mlp_net_free(&net);
    st = check_sh(out, sizeof out, 1, "%s train --data '%s' --hidden 4 --epochs 1 --batch 4 --out '%s/r' --quiet", mlp,
                  dir, dir);
    CHECK_MSG(st == 0, "%s", out);
    snprintf(path, sizeof path, "%s/r/model.safetensors", dir);
    CHECK(mlp_model_load(path, &net, 4, &meta, &err) == MLP_OK);
    CHECK(meta.scale == MLP_SCALE_REFERENCE && meta.feature_offset == NULL && meta.scaling.offset == 128.0f);
    /* the header (after its 8-byte length) names no data metadata */
    static char head[8192];
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    size_t got = f ? fread(head, 1, sizeof head - 1, f) : 0;
    if (f) fclose(f);
    CHECK(got > 8);
    head[got] = '\0';
    CHECK(strstr(head + 8, "\"loss\"") && !strstr(head + 8, "feature_offset") && !strstr(head + 8, "\"scale\""));
    mlp_model_meta_free(&meta);
    mlp_net_free(&net);
}

/* Any number of classes: 70 named classes (more than the 64 a fixed limit once allowed) train, save, load and
 * evaluate; --focal-alpha takes one value or one per class of the data. */
TEST(data_many_classes) {
    const char *dir = check_tmpdir(), *mlp = check_mlp_bin();
    static char out[65536];
    FILE *f = fopen(tpath(dir, "many.csv"), "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs("x,y,label\n", f);
    for (int i = 0; i < 280; i++) fprintf(f, "%d,%d,c%02d\n", i % 70, (i % 70) * (i % 70) % 17, i % 70);
    fclose(f);
    int st = check_sh(out, sizeof out, 1, "%s train --data '%s' --test-data '%s' --hidden 8 --epochs 1 --batch 10 --loss focal "
                      "--focal-alpha 0.2 --out '%s/r' --quiet && %s eval '%s/r/model.safetensors' --data '%s' | tail -1",
                      mlp, tpath(dir, "many.csv"), tpath(dir, "many.csv"), dir, mlp, dir, tpath(dir, "many.csv"));
    CHECK_MSG(st == 0, "%s", out);
    CHECK_CONTAINS(out, "classes: 0 c00, 1 c01, ");
    CHECK_CONTAINS(out, ", 69 c69");
    mlp_net net;
    mlp_model_meta meta;
    mlp_error err;
    char path[1200];
    snprintf(path, sizeof path, "%s/r/model.safetensors", dir);
    CHECK_MSG(mlp_model_load(path, &net, 4, &meta, &err) == MLP_OK, "%s", err.msg);
    CHECK_INT(net.arch.width[net.arch.n_layers], 70);
    CHECK(meta.loss.n_focal_alpha == 70 && mlp_loss_focal_alpha(&meta.loss, 69) == 0.2f && meta.focal_alpha_buf);
    mlp_model_meta_free(&meta);
    CHECK(meta.loss.focal_alpha == NULL && mlp_loss_focal_alpha(&meta.loss, 69) == 0.1f);
    mlp_net_free(&net);
    char *cfg = check_read_text(tpath(dir, "r/config.json"));
    CHECK(cfg && strstr(cfg, "\"focal_alpha\": [0.2, 0.2, ") != NULL);
    free(cfg);
    st = check_sh(out, sizeof out, 1, "%s train --data '%s' --hidden 8 --epochs 1 --loss focal --focal-alpha 0.1,0.2,0.3 "
                  "--out '%s/r2'", mlp, tpath(dir, "many.csv"), dir);
    CHECK_INT(st, 2);
    CHECK_CONTAINS(out, "--focal-alpha has 3 values but the data has 70 classes");
}
