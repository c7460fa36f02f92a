/*
 * csv.c - a table of examples in a CSV file: a header row of column names, then one row per example of numeric
 * feature cells and one label cell (integers or strings).
 *
 * The format (RFC 4180, as pandas' to_csv and Python's csv module write it): cells separated by commas, rows by LF
 * or CRLF; a cell may be quoted ("a, b" and "say ""hi""" hold a comma and a quote, a quoted cell may span lines);
 * spaces and tabs around an unquoted cell are ignored; empty lines are skipped. The file may be gzip-compressed.
 *
 * The label column is the one named by the caller, else the one named "label", else the last. Every other column
 * is a feature: a decimal number (strtof: the float nearest to it), finite. Labels that are all integers (int32)
 * are classes in numeric order, any other labels strings in byte order (dataset_core.c, as scikit-learn's classes_).
 *
 * Memory: the file's bytes (at most MLP_DATA_MAX_FILE) and the dataset, nothing else. The first pass tokenises the
 * file in place, every cell becoming a NUL-terminated string where it stood (a quoted cell unescaped: never
 * longer), and checks every row's cell count and every feature cell; the second converts the cells, which then
 * follow each other, header row first, columns cells to a row, into the dataset. Every error names the file, the
 * line and the column, before any of the dataset is allocated.
 */
#include "data_internal.h"
#include "fileio.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The tokeniser: reads src[r..len), writes cells to the same buffer at w (w <= r always). */
typedef struct csv_tok {
    char *buf;
    size_t len, r, w;
    long line; /* line of the file at r, 1-based */
} csv_tok;

/* One cell from r: unescaped at w, NUL-terminated. *end_row = 1 when the cell ended its row (newline or end of
 * file). Returns 0, or -1 for a quote problem (message in err). */
static int next_cell(csv_tok *t, int *end_row, const char *what, mlp_error *err) {
    char *b = t->buf;
    while (t->r < t->len && (b[t->r] == ' ' || b[t->r] == '\t')) t->r++;
    const size_t start = t->w;
    if (t->r < t->len && b[t->r] == '"') {
        const long opened = t->line;
        t->r++;
        for (;;) {
            if (t->r >= t->len) {
                mlp_fail(err, MLP_ERR_FORMAT, "%s: line %ld: a quoted cell is not closed before the end of the file",
                         what, opened);
                return -1;
            }
            char c = b[t->r++];
            if (c == '"') {
                if (t->r < t->len && b[t->r] == '"') {
                    b[t->w++] = '"';
                    t->r++;
                    continue;
                }
                break;
            }
            if (c == '\n') t->line++;
            b[t->w++] = c;
        }
        while (t->r < t->len && (b[t->r] == ' ' || b[t->r] == '\t' || b[t->r] == '\r')) t->r++;
        if (t->r < t->len && b[t->r] != ',' && b[t->r] != '\n') {
            mlp_fail(err, MLP_ERR_FORMAT, "%s: line %ld: text after a quoted cell's closing quote", what, t->line);
            return -1;
        }
    } else {
        while (t->r < t->len && b[t->r] != ',' && b[t->r] != '\n') {
            if (b[t->r] == '"') {
                mlp_fail(err, MLP_ERR_FORMAT, "%s: line %ld: a quote inside an unquoted cell (quote the whole cell)",
                         what, t->line);
                return -1;
            }
            b[t->w++] = b[t->r++];
        }
        while (t->w > start && (b[t->w - 1] == ' ' || b[t->w - 1] == '\t' || b[t->w - 1] == '\r')) t->w--;
    }
    *end_row = t->r >= t->len || b[t->r] == '\n';
    if (t->r < t->len) {
        if (b[t->r] == '\n') t->line++;
        t->r++; /* the comma or newline */
    }
    b[t->w++] = '\0'; /* room: the delimiter (or the quotes) just read */
    return 0;
}

/* Skips empty lines (and blank ones) at r; 1 when the file is over. */
static int at_end(csv_tok *t) {
    for (;;) {
        size_t p = t->r;
        while (p < t->len && (t->buf[p] == ' ' || t->buf[p] == '\t' || t->buf[p] == '\r')) p++;
        if (p >= t->len) return 1;
        if (t->buf[p] != '\n') return 0;
        t->r = p + 1;
        t->line++;
    }
}

/* A whole feature cell as a finite float (*v), or -1. */
static int parse_feature(const char *cell, float *v) {
    if (!*cell) return -1;
    char *end;
    errno = 0;
    float x = strtof(cell, &end);
    if (*end != '\0' || !isfinite(x) || (errno == ERANGE && fabsf(x) > 1.0f)) return -1;
    *v = x;
    return 0;
}

/* A whole cell as an int32 integer (optional sign, digits only), or -1. */
static int parse_int_label(const char *cell, int32_t *v) {
    const char *p = cell + (*cell == '-' || *cell == '+');
    if (*p < '0' || *p > '9') return -1;
    long long x = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        x = x * 10 + (*p - '0');
        if (x > 2147483648LL) return -1;
    }
    if (*cell == '-') x = -x;
    if (x > 2147483647LL) return -1;
    *v = (int32_t)x;
    return 0;
}

/* Why a feature cell is refused, for the message. */
static const char *feature_problem(const char *cell) {
    float v;
    if (!*cell) return "is empty";
    char *end;
    errno = 0;
    v = strtof(cell, &end);
    if (*end != '\0') return "is not a number";
    if (isnan(v)) return "is NaN";
    if (isinf(v) || errno == ERANGE) return "is infinite or outside the float range";
    return "is not a number";
}

/* The column's name (header: the header row's cells, one after the other). */
static const char *column_name(const char *header, int col) {
    const char *p = header;
    for (int c = 0; c < col; c++) p += strlen(p) + 1;
    return p;
}

/* A cell for a one-line message, in b[48]: at most 40 bytes, control characters as '?'. */
typedef char shown_buf[48];
static const char *shown(const char *cell, char *b) {
    size_t i = 0;
    for (; cell[i] && i < 40; i++) b[i] = (unsigned char)cell[i] < 0x20 || cell[i] == 0x7f ? '?' : cell[i];
    b[i] = '\0';
    return b;
}

mlp_status mlp_csv_parse(mlp_dataset *ds, char *buf, size_t len, const char *label, int no_labels,
                         const char *what, mlp_error *err) {
    shown_buf sb[3]; /* cells quoted in messages */
    memset(ds, 0, sizeof *ds);
    if (memchr(buf, '\0', len))
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: holds a NUL byte: not a text (CSV) file", what);
    csv_tok t = {buf, len, 0, 0, 1};
    if (len >= 3 && (unsigned char)buf[0] == 0xEF && (unsigned char)buf[1] == 0xBB && (unsigned char)buf[2] == 0xBF)
        t.r = t.w = 3; /* a UTF-8 byte order mark */
    const size_t header_at = t.w;
    if (at_end(&t)) return mlp_fail(err, MLP_ERR_FORMAT, "%s: empty file (expected a header row of column names)", what);
    /* the header */
    int cols = 0, end_row = 0;
    while (!end_row) {
        if (next_cell(&t, &end_row, what, err)) return MLP_ERR_FORMAT;
        if (++cols > MLP_DATA_MAX_DIM + 1)
            return mlp_fail(err, MLP_ERR_FORMAT, "%s: more than %d columns", what, MLP_DATA_MAX_DIM + 1);
    }
    const char *header = buf + header_at;
    if (cols < 2 && !no_labels)
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "%s: the header has 1 column ('%s'); expected feature columns and a label column, "
                        "separated by commas",
                        what, shown(header, sb[0]));
    int lab = -1;
    for (int c = 0; c < cols && lab < 0 && !no_labels; c++)
        if (!strcmp(column_name(header, c), label ? label : "label")) lab = c;
    if (lab < 0 && label && !no_labels)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: no column named '%s' (the header's columns: '%s', ..., '%s')", what,
                        shown(label, sb[0]), shown(header, sb[1]), shown(column_name(header, cols - 1), sb[2]));
    if (lab < 0 && !no_labels) lab = cols - 1;
    const size_t cells_at = t.w;
    /* pass 1: every row has `cols` cells, every feature cell a number, every label a short printable name */
    size_t rows = 0;
    int int_labels = 1;
    while (!at_end(&t)) {
        const long line = t.line;
        int c = 0;
        end_row = 0;
        while (!end_row) {
            const size_t at = t.w;
            if (next_cell(&t, &end_row, what, err)) return MLP_ERR_FORMAT;
            if (c >= cols) {
                c++;
                continue; /* counted for the message */
            }
            const char *cell = buf + at;
            float v;
            int32_t iv;
            if (c == lab) {
                if (!*cell)
                    return mlp_fail(err, MLP_ERR_FORMAT, "%s: line %ld: the label (column '%s') is empty", what,
                                    line, shown(column_name(header, c), sb[0]));
                if (strlen(cell) > MLP_DATA_MAX_NAME)
                    return mlp_fail(err, MLP_ERR_FORMAT, "%s: line %ld: the label '%s...' is longer than %d bytes",
                                    what, line, shown(cell, sb[0]), MLP_DATA_MAX_NAME);
                for (const char *p = cell; *p; p++)
                    if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        return mlp_fail(err, MLP_ERR_FORMAT, "%s: line %ld: the label holds a control character", what,
                                        line);
                if (int_labels && parse_int_label(cell, &iv) != 0) int_labels = 0;
            } else if (parse_feature(cell, &v) != 0) {
                return mlp_fail(err, MLP_ERR_FORMAT,
                                "%s: line %ld, column '%s': '%s' %s; feature cells must be finite numbers", what, line,
                                shown(column_name(header, c), sb[0]), shown(cell, sb[1]), feature_problem(cell));
            }
            c++;
        }
        if (c != cols)
            return mlp_fail(err, MLP_ERR_FORMAT, "%s: line %ld has %d cells but the header has %d columns", what, line,
                            c, cols);
        if (++rows > MLP_DATA_MAX_ROWS)
            return mlp_fail(err, MLP_ERR_FORMAT, "%s: more than %d rows", what, MLP_DATA_MAX_ROWS);
    }
    if (rows == 0) return mlp_fail(err, MLP_ERR_FORMAT, "%s: a header but no rows of data", what);
    /* pass 2: the cells follow each other now. Labels first, and their classes with the x block as scratch (it
     * holds at least one float per row), then the features into x. */
    mlp_status st = mlp_dataset_alloc(ds, rows, (size_t)(lab < 0 ? cols : cols - 1), what, err);
    if (st) return st;
    if (lab < 0) memset(ds->y, 0, rows * sizeof *ds->y); /* no labels: features to classify */
    const char *p = buf + cells_at;
    for (size_t i = 0; i < rows; i++)
        for (int c = 0; c < cols; c++) {
            if (c == lab) {
                int32_t iv = 0;
                if (int_labels) parse_int_label(p, &iv);
                ds->y[i] = int_labels ? iv : (int32_t)(p - buf);
            }
            p += strlen(p) + 1;
        }
    st = lab < 0 ? MLP_OK : mlp_classes_build(ds, buf, int_labels, (uint32_t *)(void *)ds->x, what, err);
    if (st) {
        mlp_dataset_free(ds);
        return st;
    }
    p = buf + cells_at;
    float *x = ds->x;
    for (size_t i = 0; i < rows; i++)
        for (int c = 0; c < cols; c++) {
            if (c != lab) parse_feature(p, x++);
            p += strlen(p) + 1;
        }
    return MLP_OK;
}

mlp_status mlp_csv_read(mlp_dataset *ds, const char *path, const char *label, int no_labels, mlp_error *err) {
    memset(ds, 0, sizeof *ds);
    mlp_read_opts o = {0};
    o.max_len = MLP_DATA_MAX_FILE;
    o.gzip = 1;
    uint8_t *buf = NULL;
    size_t len = 0;
    mlp_status st = mlp_read_input(path, &o, &buf, &len, err);
    if (st) return st;
    st = mlp_csv_parse(ds, (char *)buf, len, label, no_labels, path, err);
    free(buf);
    return st;
}
