/*
 * npy.c - NumPy arrays without Python: an NPY pair (X.npy and y.npy) or an NPZ archive holding both.
 *
 * NPY (numpy.lib.format): "\x93NUMPY", version major.minor (1.0: a u16 little-endian header length at offset 8;
 * 2.0 and 3.0: u32), then a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (150, 4), }
 * padded with spaces to a newline, then the array's bytes, exactly prod(shape) * itemsize of them.
 * Accepted: X [n x d] (or [n x rows x cols] images) of float32 '<f4', float64 '<f8' or uint8 '|u1', y [n] of
 * int8..int64 or uint8..uint64 ('|i1', '<i2', ... '<u8'), little-endian, C order. Labels must be int32 values; their
 * classes are the distinct values in numeric order (dataset_core.c). uint8 features are 8-bit data: scaled at load as
 * IDX pixels are ((v - offset) * scale); floats are kept as they are and must be finite.
 *
 * NPZ (np.savez(f, X=X, y=y)): a ZIP archive; its central directory (found through the end record) gives each
 * member's name, method (0 stored, 8 deflate: zlib raw inflate), sizes and CRC-32, all checked against the bytes
 * present (an inflated size above deflate's 1032:1 bound refused before allocating). Members X.npy (or x.npy) and y.npy (or Y.npy) are read; others are ignored. ZIP64 and encryption are
 * refused with a message (arrays that large exceed the limits anyway).
 *
 * Memory: the files' bytes (NPZ: plus the two members inflated, each at most MLP_DATA_MAX_FILE, sizes known
 * before allocating) and the dataset.
 */
#include "data_internal.h"
#include "fileio.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static uint32_t le16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const uint8_t *p) { return le16(p) | le16(p + 2) << 16; }
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

/* ------------------------------------------------------------------ NPY */

typedef struct npy_array {
    char kind;          /* 'f', 'i' or 'u' */
    int size;           /* bytes per element */
    int ndim;
    uint64_t shape[3];
    size_t count;       /* elements */
    const uint8_t *data;
} npy_array;

typedef struct dict_reader {
    const char *p, *end;
} dict_reader;

static void skip_space(dict_reader *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) r->p++;
}

static int eat(dict_reader *r, char c) {
    skip_space(r);
    if (r->p < r->end && *r->p == c) {
        r->p++;
        return 1;
    }
    return 0;
}

/* A quoted string ('...' or "...", no escapes) into out[size]; -1 if malformed or too long. */
static int read_str(dict_reader *r, char *out, size_t size) {
    skip_space(r);
    if (r->p >= r->end || (*r->p != '\'' && *r->p != '"')) return -1;
    const char q = *r->p++;
    size_t n = 0;
    while (r->p < r->end && *r->p != q) {
        if (n + 1 >= size || *r->p == '\\') return -1;
        out[n++] = *r->p++;
    }
    if (r->p >= r->end) return -1;
    r->p++;
    out[n] = '\0';
    return 0;
}

/* Parse the header dict into a (kind, size, shape); -1 with a reason in *why. */
static int parse_header(const char *h, size_t len, npy_array *a, const char **why) {
    dict_reader r = {h, h + len};
    int have_descr = 0, have_order = 0, have_shape = 0;
    *why = "the header is not a dict of 'descr', 'fortran_order' and 'shape'";
    if (!eat(&r, '{')) return -1;
    for (;;) {
        if (eat(&r, '}')) break;
        char key[32], val[32];
        if (read_str(&r, key, sizeof key) != 0 || !eat(&r, ':')) return -1;
        if (!strcmp(key, "descr") && !have_descr) {
            if (read_str(&r, val, sizeof val) != 0) return -1;
            have_descr = 1;
            if (val[0] == '>') {
                *why = "big-endian data; save it little-endian (e.g. X.astype('<f4'))";
                return -1;
            }
            if ((val[0] != '<' && val[0] != '|' && val[0] != '=') || !strchr("fiu", val[1]) || !val[1]) {
                *why = "an unsupported dtype (X: float32, float64 or uint8; y: integers)";
                return -1;
            }
            char *end;
            const long size = strtol(val + 2, &end, 10);
            if (*end || (size != 1 && size != 2 && size != 4 && size != 8)) {
                *why = "an unsupported dtype (X: float32, float64 or uint8; y: integers)";
                return -1;
            }
            a->kind = val[1];
            a->size = (int)size;
        } else if (!strcmp(key, "fortran_order") && !have_order) {
            skip_space(&r);
            have_order = 1;
            if ((size_t)(r.end - r.p) >= 5 && !strncmp(r.p, "False", 5)) r.p += 5;
            else if ((size_t)(r.end - r.p) >= 4 && !strncmp(r.p, "True", 4)) {
                *why = "Fortran order; save a C-ordered array (np.ascontiguousarray)";
                return -1;
            } else return -1;
        } else if (!strcmp(key, "shape") && !have_shape) {
            have_shape = 1;
            if (!eat(&r, '(')) return -1;
            a->ndim = 0;
            while (!eat(&r, ')')) {
                skip_space(&r);
                if (a->ndim >= 3) {
                    *why = "more than 3 dimensions";
                    return -1;
                }
                uint64_t v = 0;
                int digits = 0;
                while (r.p < r.end && *r.p >= '0' && *r.p <= '9') {
                    if (v > (UINT64_MAX - 9) / 10) return -1;
                    v = v * 10 + (uint64_t)(*r.p++ - '0');
                    digits++;
                }
                if (!digits) return -1;
                a->shape[a->ndim++] = v;
                if (!eat(&r, ',')) {
                    if (!eat(&r, ')')) return -1;
                    break;
                }
            }
        } else {
            return -1;
        }
        if (!eat(&r, ',')) {
            if (!eat(&r, '}')) return -1;
            break;
        }
    }
    skip_space(&r);
    if (r.p != r.end || !have_descr || !have_order || !have_shape) return -1;
    return 0;
}

static mlp_status npy_parse(const uint8_t *buf, size_t len, const char *what, npy_array *a, mlp_error *err) {
    memset(a, 0, sizeof *a);
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: not an NPY file (no \\x93NUMPY magic)", what);
    const int major = buf[6];
    if (major < 1 || major > 3)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: NPY format version %d.%d; versions 1 to 3 are read", what, major,
                        buf[7]);
    const size_t start = major == 1 ? 10 : 12;
    if (len < start) return mlp_fail(err, MLP_ERR_FORMAT, "%s: truncated NPY header", what);
    const size_t hlen = major == 1 ? le16(buf + 8) : le32(buf + 8);
    if (hlen > len - start)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: the NPY header says %zu bytes but the file has %zu after it", what,
                        hlen, len - start);
    const char *why;
    if (parse_header((const char *)buf + start, hlen, a, &why) != 0)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: %s", what, why);
    size_t count = 1, bytes;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] > SIZE_MAX || mlp_mul_size(count, (size_t)a->shape[d], &count) != 0)
            return mlp_fail(err, MLP_ERR_FORMAT, "%s: its shape does not fit in memory", what);
    if (mlp_mul_size(count, (size_t)a->size, &bytes) != 0)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: its shape does not fit in memory", what);
    const size_t have = len - start - hlen;
    if (have != bytes)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: the header's shape and dtype make %zu bytes of data but the file has %zu",
                        what, bytes, have);
    a->count = count;
    a->data = buf + start + hlen;
    return MLP_OK;
}

/* Element i of an integer array, as int64 (uint64 above INT64_MAX: returned as -1, i.e. out of range). */
static int64_t int_at(const npy_array *a, size_t i) {
    const uint8_t *p = a->data + i * (size_t)a->size;
    if (a->kind == 'u') {
        uint64_t v = a->size == 1 ? p[0] : a->size == 2 ? le16(p) : a->size == 4 ? le32(p) : le64(p);
        return v > (uint64_t)INT64_MAX ? -1 : (int64_t)v;
    }
    switch (a->size) {
    case 1: return (int8_t)p[0];
    case 2: return (int16_t)le16(p);
    case 4: return (int32_t)le32(p);
    default: return (int64_t)le64(p);
    }
}

/* The dataset of X and y (already parsed), 8-bit features scaled by s. */
static mlp_status npy_build(mlp_dataset *ds, const npy_array *X, const npy_array *y, mlp_scaling s, const char *xname,
                            const char *yname, mlp_error *err) {
    memset(ds, 0, sizeof *ds);
    const int bytes = X->kind == 'u' && X->size == 1;
    if (!bytes && !(X->kind == 'f' && (X->size == 4 || X->size == 8)))
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: X must be float32, float64 or uint8 (this is %s%d)", xname,
                        X->kind == 'f' ? "float" : X->kind == 'i' ? "int" : "uint", X->size * 8);
    if (X->ndim != 2 && X->ndim != 3)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: X has %d dimensions; expected 2 ([n x features]) or 3 (images)",
                        xname, X->ndim);
    if (y && y->kind == 'f')
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: y holds floats; labels must be integers (y.astype(int))", yname);
    if (y && y->ndim != 1)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: y has %d dimensions; expected 1 ([n] labels)", yname, y->ndim);
    if (X->shape[0] < 1) return mlp_fail(err, MLP_ERR_FORMAT, "%s: X has no rows", xname);
    if (y && y->shape[0] != X->shape[0])
        return mlp_fail(err, MLP_ERR_FORMAT, "%s has %llu rows but %s has %llu labels; the counts must match", xname,
                        (unsigned long long)X->shape[0], yname, (unsigned long long)y->shape[0]);
    const size_t n = (size_t)X->shape[0], dim = n ? X->count / n : 0;
    for (size_t i = 0; y && i < n; i++) {
        const int64_t v = int_at(y, i);
        if (v < INT32_MIN || v > INT32_MAX)
            return mlp_fail(err, MLP_ERR_FORMAT, "%s: label %lld at index %zu is outside the int32 range", yname,
                            (long long)v, i);
    }
    if (X->kind == 'f')
        for (size_t i = 0; i < X->count; i++) {
            const uint8_t *p = X->data + i * (size_t)X->size;
            double v;
            if (X->size == 4) {
                const uint32_t b = le32(p);
                float f;
                memcpy(&f, &b, 4);
                v = f;
            } else {
                const uint64_t b = le64(p);
                memcpy(&v, &b, 8);
            }
            if (!isfinite((float)v))
                return mlp_fail(err, MLP_ERR_FORMAT, "%s: X[%zu, %zu] is %s; features must be finite float32 values",
                                xname, i / dim, i % dim, isnan(v) ? "NaN" : "infinite or outside the float range");
        }
    mlp_status st = mlp_dataset_alloc(ds, n, dim, xname, err);
    if (st) return st;
    if (X->ndim == 3) {
        ds->rows = (int)X->shape[1];
        ds->cols = (int)X->shape[2];
    }
    for (size_t i = 0; i < n; i++) ds->y[i] = y ? (int32_t)int_at(y, i) : 0;
    st = y ? mlp_classes_build(ds, NULL, 1, (uint32_t *)(void *)ds->x, yname, err) : MLP_OK;
    if (st) {
        mlp_dataset_free(ds);
        return st;
    }
    if (bytes) {
        float table[256];
        for (int v = 0; v < 256; v++) table[v] = ((float)v - s.offset) * s.scale;
        for (size_t i = 0; i < X->count; i++) ds->x[i] = table[X->data[i]];
        ds->byte_data = 1;
    } else {
        for (size_t i = 0; i < X->count; i++) {
            const uint8_t *p = X->data + i * (size_t)X->size;
            if (X->size == 4) {
                const uint32_t b = le32(p);
                memcpy(&ds->x[i], &b, 4);
            } else {
                const uint64_t b = le64(p);
                double v;
                memcpy(&v, &b, 8);
                ds->x[i] = (float)v;
            }
        }
    }
    return MLP_OK;
}

mlp_status mlp_npy_parse_pair(mlp_dataset *ds, const uint8_t *xbuf, size_t xlen, const uint8_t *ybuf, size_t ylen,
                              mlp_scaling s, const char *xname, const char *yname, mlp_error *err) {
    npy_array X, y;
    memset(ds, 0, sizeof *ds);
    mlp_status st = npy_parse(xbuf, xlen, xname, &X, err);
    if (!st && ybuf) st = npy_parse(ybuf, ylen, yname, &y, err);
    if (!st) st = npy_build(ds, &X, ybuf ? &y : NULL, s, xname, yname, err);
    return st;
}

static mlp_status read_npy(const char *path, uint8_t **buf, size_t *len, mlp_error *err) {
    mlp_read_opts o = {0};
    o.max_len = MLP_DATA_MAX_FILE;
    return mlp_read_input(path, &o, buf, len, err);
}

mlp_status mlp_npy_read_pair(mlp_dataset *ds, const char *xpath, const char *ypath, mlp_scaling s, mlp_error *err) {
    memset(ds, 0, sizeof *ds);
    uint8_t *xb = NULL, *yb = NULL;
    size_t xl = 0, yl = 0;
    mlp_status st = read_npy(xpath, &xb, &xl, err);
    if (!st && ypath) st = read_npy(ypath, &yb, &yl, err);
    if (!st) st = mlp_npy_parse_pair(ds, xb, xl, yb, yl, s, xpath, ypath, err);
    free(xb);
    free(yb);
    return st;
}

/* ------------------------------------------------------------------ NPZ */

#define ZIP_EOCD_SIG 0x06054b50u
#define ZIP_CDIR_SIG 0x02014b50u
#define ZIP_LOCAL_SIG 0x04034b50u

typedef struct zip_member {
    uint32_t method, crc, flags;
    size_t csize, usize;
    const uint8_t *data; /* the compressed bytes */
} zip_member;

/* Member `name` (one of two spellings) of the archive, located and bounds-checked; *found 0 when absent. */
static mlp_status zip_find(const uint8_t *buf, size_t len, const char *what, const char *n1, const char *n2,
                           zip_member *m, int *found, mlp_error *err) {
    *found = 0;
    if (len < 22) return mlp_fail(err, MLP_ERR_FORMAT, "%s: too short for a ZIP (NPZ) archive", what);
    size_t e = len - 22;
    const size_t stop = len - 22 > 65535 ? len - 22 - 65535 : 0;
    while (le32(buf + e) != ZIP_EOCD_SIG) {
        if (e == stop) return mlp_fail(err, MLP_ERR_FORMAT, "%s: not a ZIP (NPZ) archive: no end of central directory", what);
        e--;
    }
    const uint32_t entries = le16(buf + e + 10), cd_size = le32(buf + e + 12), cd_off = le32(buf + e + 16);
    if (le16(buf + e + 4) != 0 || le16(buf + e + 6) != 0 || entries == 0xFFFF || cd_size == 0xFFFFFFFFu ||
        cd_off == 0xFFFFFFFFu)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: a multi-disk or ZIP64 archive; not supported", what);
    if ((size_t)cd_off > e || (size_t)cd_size > e - cd_off)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: the central directory lies outside the file", what);
    size_t p = cd_off;
    for (uint32_t i = 0; i < entries; i++) {
        if (e - p < 46 || le32(buf + p) != ZIP_CDIR_SIG)
            return mlp_fail(err, MLP_ERR_FORMAT, "%s: central directory entry %u is malformed", what, (unsigned)i);
        const size_t nlen = le16(buf + p + 28), xlen = le16(buf + p + 30), clen = le16(buf + p + 32);
        if (e - p - 46 < nlen + xlen + clen)
            return mlp_fail(err, MLP_ERR_FORMAT, "%s: central directory entry %u runs past its end", what, (unsigned)i);
        const char *name = (const char *)buf + p + 46;
        const int match = (nlen == strlen(n1) && !memcmp(name, n1, nlen)) || (nlen == strlen(n2) && !memcmp(name, n2, nlen));
        if (match) {
            m->flags = le16(buf + p + 8);
            m->method = le16(buf + p + 10);
            m->crc = le32(buf + p + 16);
            m->csize = le32(buf + p + 20);
            m->usize = le32(buf + p + 24);
            const size_t local = le32(buf + p + 42);
            if (m->csize == 0xFFFFFFFFu || m->usize == 0xFFFFFFFFu || local == 0xFFFFFFFFu)
                return mlp_fail(err, MLP_ERR_FORMAT, "%s: member %.*s is a ZIP64 entry; not supported", what, (int)nlen,
                                name);
            if (m->flags & 1) return mlp_fail(err, MLP_ERR_FORMAT, "%s: member %.*s is encrypted", what, (int)nlen, name);
            if (m->method != 0 && m->method != 8)
                return mlp_fail(err, MLP_ERR_FORMAT, "%s: member %.*s uses compression method %u; stored (0) and "
                                "deflate (8) are read", what, (int)nlen, name, (unsigned)m->method);
            if (local > cd_off || cd_off - local < 30 || le32(buf + local) != ZIP_LOCAL_SIG)
                return mlp_fail(err, MLP_ERR_FORMAT, "%s: member %.*s: bad local header", what, (int)nlen, name);
            const size_t data = local + 30 + le16(buf + local + 26) + le16(buf + local + 28);
            if (data > cd_off || m->csize > cd_off - data)
                return mlp_fail(err, MLP_ERR_FORMAT, "%s: member %.*s: its data lies outside the file", what, (int)nlen,
                                name);
            if (m->usize > MLP_DATA_MAX_FILE)
                return mlp_fail(err, MLP_ERR_FORMAT, "%s: member %.*s: %zu bytes, above the limit of %zu", what,
                                (int)nlen, name, m->usize, MLP_DATA_MAX_FILE);
            /* deflate expands at most 1032:1 (258-byte matches in 2 bits), so a small member cannot make a big allocation */
            if (m->method == 8 && m->usize > m->csize * 1032 + 64)
                return mlp_fail(err, MLP_ERR_FORMAT, "%s: member %.*s claims %zu bytes from %zu compressed, more than "
                                "deflate can produce", what, (int)nlen, name, m->usize, m->csize);
            if (m->method == 0 && m->csize != m->usize)
                return mlp_fail(err, MLP_ERR_FORMAT, "%s: member %.*s is stored but its sizes differ", what, (int)nlen,
                                name);
            m->data = buf + data;
            *found = 1;
            return MLP_OK;
        }
        p += 46 + nlen + xlen + clen;
    }
    return MLP_OK;
}

/* The member's bytes, inflated when deflated, CRC-checked: *out malloc'ed. */
static mlp_status zip_extract(const zip_member *m, const char *what, const char *name, uint8_t **out, mlp_error *err) {
    uint8_t *b = malloc(m->usize ? m->usize : 1);
    if (!b) return mlp_fail(err, MLP_ERR_NOMEM, "%s: cannot allocate %zu bytes for %s", what, m->usize, name);
    if (m->method == 0) {
        memcpy(b, m->data, m->usize);
    } else {
        z_stream z;
        memset(&z, 0, sizeof z);
        if (inflateInit2(&z, -MAX_WBITS) != Z_OK) {
            free(b);
            return mlp_fail(err, MLP_ERR_NOMEM, "%s: zlib could not start", what);
        }
        z.next_in = (Bytef *)(uintptr_t)m->data;
        z.avail_in = (uInt)m->csize;
        z.next_out = b;
        z.avail_out = (uInt)m->usize;
        const int r = inflate(&z, Z_FINISH);
        const size_t got = z.total_out;
        inflateEnd(&z);
        if (r != Z_STREAM_END || got != m->usize) {
            free(b);
            return mlp_fail(err, MLP_ERR_FORMAT, "%s: member %s: the deflate stream is broken or not %zu bytes long",
                            what, name, m->usize);
        }
    }
    if ((uint32_t)crc32(crc32(0L, Z_NULL, 0), b, (uInt)m->usize) != m->crc) {
        free(b);
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: member %s: CRC-32 mismatch (the archive is damaged)", what, name);
    }
    *out = b;
    return MLP_OK;
}

mlp_status mlp_npz_parse(mlp_dataset *ds, const uint8_t *buf, size_t len, mlp_scaling s, int no_labels,
                         const char *what, mlp_error *err) {
    memset(ds, 0, sizeof *ds);
    zip_member mx, my;
    int fx = 0, fy = 0;
    mlp_status st = zip_find(buf, len, what, "X.npy", "x.npy", &mx, &fx, err);
    if (!st) st = zip_find(buf, len, what, "y.npy", "Y.npy", &my, &fy, err);
    if (st) return st;
    if (!fx || (!fy && !no_labels))
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: no member %s; an NPZ dataset holds X.npy and y.npy "
                        "(np.savez(path, X=X, y=y))", what, fx ? "y.npy" : "X.npy");
    uint8_t *xb = NULL, *yb = NULL;
    char xname[4200], yname[4200];
    snprintf(xname, sizeof xname, "%s:X.npy", what);
    snprintf(yname, sizeof yname, "%s:y.npy", what);
    st = zip_extract(&mx, what, "X.npy", &xb, err);
    if (!st && fy && !no_labels) st = zip_extract(&my, what, "y.npy", &yb, err);
    if (!st) st = mlp_npy_parse_pair(ds, xb, mx.usize, yb, yb ? my.usize : 0, s, xname, yname, err);
    free(xb);
    free(yb);
    return st;
}

mlp_status mlp_npz_read(mlp_dataset *ds, const char *path, mlp_scaling s, int no_labels, mlp_error *err) {
    memset(ds, 0, sizeof *ds);
    uint8_t *buf = NULL;
    size_t len = 0;
    mlp_status st = read_npy(path, &buf, &len, err);
    if (!st) st = mlp_npz_parse(ds, buf, len, s, no_labels, path, err);
    free(buf);
    return st;
}
