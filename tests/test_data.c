/* test_data.c - the dataset readers (src/io/csv.c, npy.c, dataset.c): CSV with integer and string labels, NPY pairs
 * and NPZ archives written byte by byte here (and by numpy when it is installed), the dispatcher, class matching,
 * and every refused input with its message. */
#include "check.h"
#include "data_internal.h"
#include "mlp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
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
        CHECK_INT(mlp_npz_parse(&ds, zb, zl, mlp_scaling_default(), "d.npz", &err), MLP_ERR_FORMAT);
        CHECK_MSG(strstr(err.msg, "CRC-32 mismatch") || strstr(err.msg, "deflate stream is broken"), "%s", err.msg);
        /* cut short: the end record is gone */
        CHECK_INT(mlp_npz_parse(&ds, zb, zl - 10, mlp_scaling_default(), "d.npz", &err), MLP_ERR_FORMAT);
        CHECK_CONTAINS(err.msg, "no end of central directory");
    }
    const char *wrong[2] = {"y.npy", "features.npy"};
    const size_t zl = zip_bytes(zb, wrong, data, lens, 0);
    mlp_dataset ds;
    mlp_error err = {MLP_OK, ""};
    CHECK_INT(mlp_npz_parse(&ds, zb, zl, mlp_scaling_default(), "d.npz", &err), MLP_ERR_FORMAT);
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

/* Two well separated blobs per class in 3 features, string labels: a generator the tests know. */
static void blobs_csv(const char *path, int n, int classes, unsigned seed, const char *extra_header) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    static const char *names[4] = {"cat", "dog", "eel", "fox"};
    fprintf(f, "a,b,c,animal%s\n", extra_header ? extra_header : "");
    mlp_rng r;
    mlp_rng_seed(&r, seed, 9);
    for (int i = 0; i < n; i++) {
        const int k = i % classes;
        fprintf(f, "%.4f,%.4f,%.4f,%s\n", 3.0 * k + mlp_rng_normal(&r) * 0.5, -2.0 * k + mlp_rng_normal(&r) * 0.5,
                mlp_rng_normal(&r), names[k]);
    }
    fclose(f);
}

TEST(data_train_csv_cli) {
    const char *dir = check_tmpdir(), *mlp = check_mlp_bin();
    static char out[16384];
    blobs_csv(tpath(dir, "train.csv"), 200, 3, 1, NULL);
    blobs_csv(tpath(dir, "test.csv"), 60, 3, 2, NULL);
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
