/*
 * pgm.c - read grayscale PGM images (Netpbm P2 plain text and P5 binary) for classifying single
 * images with a trained model.
 *
 * Header: magic "P2" or "P5", then width, height and maxval as decimal numbers separated by
 * whitespace; '#' starts a comment that runs to the end of the line. P5: exactly one whitespace byte
 * after maxval, then the samples row by row, one byte each when maxval < 256, else two bytes,
 * most significant first. P2: the samples as decimal numbers.
 * Every sample is rescaled from 0..maxval to 0..255, rounding to nearest: v' = (255 v + maxval/2) / maxval.
 */
#include "fileio.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PGM_MAX_SIDE 16384u
#define PGM_MAX_MAXVAL 65535u
/* Numbers are parsed with saturation at this value: anything larger is reported as too large. */
#define PGM_NUMBER_CAP 4294967295u

typedef struct pgm_reader {
    FILE *f;
    const char *path;
    mlp_error *err;
} pgm_reader;

/* Skip whitespace and '#' comments. Returns the next character (left unread) or EOF. */
static int skip_space_and_comments(FILE *f) {
    int c;
    for (;;) {
        c = getc(f);
        if (c == '#') {
            while (c != '\n' && c != '\r' && c != EOF) c = getc(f);
            if (c == EOF) return EOF;
        } else if (c == EOF || !isspace(c)) {
            break;
        }
    }
    if (c != EOF) ungetc(c, f);
    return c;
}

/* Read an unsigned decimal number named `what` (for messages), saturating at PGM_NUMBER_CAP. The
 * character after it is consumed and returned through *after (EOF at end of file). */
static mlp_status read_number(pgm_reader *r, const char *what, uint32_t *value, int *after) {
    int c = skip_space_and_comments(r->f);
    if (c == EOF) return mlp_fail(r->err, MLP_ERR_FORMAT, "%s: missing %s (file ends early)", r->path, what);
    if (c == '-') return mlp_fail(r->err, MLP_ERR_FORMAT, "%s: negative %s", r->path, what);
    if (!isdigit(c))
        return mlp_fail(r->err, MLP_ERR_FORMAT, "%s: expected a number for %s, found '%c' (0x%02x)", r->path, what,
                        isprint(c) ? c : '?', (unsigned)c);
    uint64_t v = 0;
    while ((c = getc(r->f)) != EOF && isdigit(c)) {
        v = v * 10 + (uint64_t)(c - '0');
        if (v > PGM_NUMBER_CAP) v = PGM_NUMBER_CAP + 1ull; /* saturate: stays "too large" */
    }
    *value = v > PGM_NUMBER_CAP ? PGM_NUMBER_CAP : (uint32_t)v;
    *after = c;
    return MLP_OK;
}

/* A header number must end at whitespace, a comment or (for the samples of P2) the end of file. */
static mlp_status expect_separator(pgm_reader *r, const char *what, int after) {
    if (after == EOF || isspace(after)) return MLP_OK;
    if (after == '#') {
        ungetc(after, r->f);
        return MLP_OK;
    }
    return mlp_fail(r->err, MLP_ERR_FORMAT, "%s: unexpected character '%c' (0x%02x) after %s", r->path,
                    isprint(after) ? after : '?', (unsigned)after, what);
}

static mlp_status read_header_number(pgm_reader *r, const char *what, uint32_t lo, uint32_t hi, uint32_t *value) {
    int after;
    mlp_status st = read_number(r, what, value, &after);
    if (st == MLP_OK) st = expect_separator(r, what, after);
    if (st != MLP_OK) return st;
    if (*value < lo || *value > hi) {
        if (*value >= PGM_NUMBER_CAP)
            return mlp_fail(r->err, MLP_ERR_FORMAT, "%s: %s is too large (must be %u..%u)", r->path, what,
                            (unsigned)lo, (unsigned)hi);
        return mlp_fail(r->err, MLP_ERR_FORMAT, "%s: %s %u is out of range (must be %u..%u)", r->path, what,
                        (unsigned)*value, (unsigned)lo, (unsigned)hi);
    }
    return MLP_OK;
}

static uint8_t rescale(uint32_t v, uint32_t maxval) {
    return (uint8_t)((v * 255u + maxval / 2u) / maxval);
}

static mlp_status sample_too_large(pgm_reader *r, size_t i, uint32_t w, uint32_t v, uint32_t maxval) {
    return mlp_fail(r->err, MLP_ERR_FORMAT, "%s: sample %u at row %zu, column %zu exceeds maxval %u", r->path,
                    (unsigned)v, i / w, i % w, (unsigned)maxval);
}

/* P5: raw samples, read one row at a time. */
static mlp_status read_binary(pgm_reader *r, uint8_t *out, uint32_t w, uint32_t h, uint32_t maxval) {
    size_t bytes_per_sample = maxval < 256 ? 1 : 2;
    size_t row_bytes = (size_t)w * bytes_per_sample;
    uint8_t *row = malloc(row_bytes);
    if (!row) return mlp_fail(r->err, MLP_ERR_NOMEM, "%s: cannot allocate a row of %zu bytes", r->path, row_bytes);
    mlp_status st = MLP_OK;
    for (uint32_t y = 0; y < h && st == MLP_OK; y++) {
        size_t got = fread(row, 1, row_bytes, r->f);
        if (got != row_bytes) {
            size_t total = (size_t)w * h * bytes_per_sample, have = (size_t)y * row_bytes + got;
            if (ferror(r->f))
                st = mlp_fail(r->err, MLP_ERR_IO, "%s: read error: %s", r->path, strerror(errno));
            else
                st = mlp_fail(r->err, MLP_ERR_FORMAT,
                              "%s: truncated: %ux%u samples need %zu bytes of pixel data but only %zu are present",
                              r->path, (unsigned)w, (unsigned)h, total, have);
            break;
        }
        for (uint32_t x = 0; x < w; x++) {
            uint32_t v = bytes_per_sample == 1 ? row[x] : (uint32_t)row[2 * x] << 8 | row[2 * x + 1];
            size_t i = (size_t)y * w + x;
            if (v > maxval) {
                st = sample_too_large(r, i, w, v, maxval);
                break;
            }
            out[i] = rescale(v, maxval);
        }
    }
    free(row);
    return st;
}

/* P2: samples as decimal numbers separated by whitespace (comments tolerated). */
static mlp_status read_plain(pgm_reader *r, uint8_t *out, uint32_t w, uint32_t h, uint32_t maxval) {
    size_t count = (size_t)w * h;
    for (size_t i = 0; i < count; i++) {
        uint32_t v;
        int after;
        if (skip_space_and_comments(r->f) == EOF)
            return mlp_fail(r->err, MLP_ERR_FORMAT, "%s: truncated: %ux%u needs %zu samples but only %zu are present",
                            r->path, (unsigned)w, (unsigned)h, count, i);
        mlp_status st = read_number(r, "sample", &v, &after);
        if (st == MLP_OK) st = expect_separator(r, "sample", after);
        if (st != MLP_OK) return st;
        if (v > maxval) return sample_too_large(r, i, w, v, maxval);
        out[i] = rescale(v, maxval);
    }
    return MLP_OK;
}

static mlp_status read_pgm(pgm_reader *r, uint8_t **pixels, int *w_out, int *h_out) {
    int c0 = getc(r->f), c1 = getc(r->f);
    if (ferror(r->f)) return mlp_fail(r->err, MLP_ERR_IO, "%s: read error: %s", r->path, strerror(errno));
    if (c0 == EOF) return mlp_fail(r->err, MLP_ERR_FORMAT, "%s: empty file (expected a PGM image)", r->path);
    if (c0 != 'P' || (c1 != '2' && c1 != '5')) {
        if (c0 == 'P' && c1 >= '1' && c1 <= '7')
            return mlp_fail(r->err, MLP_ERR_FORMAT, "%s: a P%c Netpbm file; only grayscale PGM (P2 or P5) is supported",
                            r->path, c1);
        return mlp_fail(r->err, MLP_ERR_FORMAT, "%s: not a PGM file (bad magic; expected \"P2\" or \"P5\")", r->path);
    }
    int binary = c1 == '5';
    int c = getc(r->f);
    if (c == '#') {
        ungetc(c, r->f);
    } else if (c == EOF || !isspace(c)) {
        return mlp_fail(r->err, MLP_ERR_FORMAT, "%s: not a PGM file (no whitespace after the magic P%c)", r->path, c1);
    }

    uint32_t w, h, maxval;
    mlp_status st = read_header_number(r, "width", 1, PGM_MAX_SIDE, &w);
    if (st == MLP_OK) st = read_header_number(r, "height", 1, PGM_MAX_SIDE, &h);
    if (st != MLP_OK) return st;
    /* maxval: in P5 the single whitespace byte after it is the last header byte. */
    int after;
    st = read_number(r, "maxval", &maxval, &after);
    if (st != MLP_OK) return st;
    if (binary ? (after == EOF || !isspace(after)) : (expect_separator(r, "maxval", after) != MLP_OK))
        return mlp_fail(r->err, MLP_ERR_FORMAT, "%s: expected one whitespace character after maxval", r->path);
    if (maxval < 1 || maxval > PGM_MAX_MAXVAL)
        return mlp_fail(r->err, MLP_ERR_FORMAT, "%s: maxval %u%s is out of range (must be 1..%u)", r->path,
                        (unsigned)maxval, maxval >= PGM_NUMBER_CAP ? " or more" : "", PGM_MAX_MAXVAL);

    size_t count = (size_t)w * h; /* <= 16384^2, fits */
    /* A header must not make a short file allocate up to 256 MB: when the size is known (a regular file),
     * check first that the rest of the file can hold the samples, so the allocation never exceeds the file
     * size. P5 needs count samples of 1 or 2 bytes; P2 at least one byte per sample. */
    struct stat sb;
    long pos = ftell(r->f);
    if (pos >= 0 && fstat(fileno(r->f), &sb) == 0 && S_ISREG(sb.st_mode)) {
        size_t rest = (uint64_t)sb.st_size > (uint64_t)pos ? (size_t)((uint64_t)sb.st_size - (uint64_t)pos) : 0;
        size_t need = binary ? count * (maxval < 256 ? 1u : 2u) : count;
        if (rest < need && binary)
            return mlp_fail(r->err, MLP_ERR_FORMAT,
                            "%s: truncated: %ux%u samples need %zu bytes of pixel data but only %zu are present",
                            r->path, (unsigned)w, (unsigned)h, need, rest);
        if (rest < need)
            return mlp_fail(r->err, MLP_ERR_FORMAT,
                            "%s: truncated: %ux%u needs %zu samples but only %zu bytes follow the header", r->path,
                            (unsigned)w, (unsigned)h, count, rest);
    }
    uint8_t *out = malloc(count);
    if (!out)
        return mlp_fail(r->err, MLP_ERR_NOMEM, "%s: cannot allocate %zu bytes for %ux%u pixels", r->path, count,
                        (unsigned)w, (unsigned)h);
    st = binary ? read_binary(r, out, w, h, maxval) : read_plain(r, out, w, h, maxval);
    if (st != MLP_OK) {
        free(out);
        return st;
    }
    *pixels = out;
    *w_out = (int)w;
    *h_out = (int)h;
    return MLP_OK;
}

mlp_status mlp_pgm_read(const char *path, uint8_t **pixels, int *w, int *h, mlp_error *err) {
    if (!pixels || !w || !h) return mlp_fail(err, MLP_ERR_ARG, "mlp_pgm_read: output pointers must not be NULL");
    *pixels = NULL;
    *w = *h = 0;
    if (!path) return mlp_fail(err, MLP_ERR_ARG, "mlp_pgm_read: path is NULL");
    mlp_status in = mlp_input_check(path, err); /* a FIFO, device or folder: refused, never opened */
    if (in) return in;
    FILE *f = fopen(path, "rb");
    if (!f) return mlp_fail(err, MLP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    pgm_reader r = {f, path, err};
    mlp_status st = read_pgm(&r, pixels, w, h);
    fclose(f);
    return st;
}
