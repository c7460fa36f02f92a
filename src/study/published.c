/* published.c - the reference report's published results: the data table src/study/published.csv, compiled in
 * (the Makefile turns it into string literals), read into rows here. */
#include "report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char published_csv[] =
#include "published.inc"
    ;

/* A number filling the whole field, or NAN for an empty field; -1 for anything else. */
static int field_number(const char *f, double *v) {
    if (!*f) {
        *v = NAN;
        return 0;
    }
    char *end;
    *v = strtod(f, &end);
    return *end || !isfinite(*v) ? -1 : 0;
}

/* One data line into r; -1 (with what) when a field is bad. */
static int parse_row(char *line, mlp_published *r, const char **what) {
    char *f[8];
    int n = 0;
    for (char *p = line;; p++) {
        if (n < 8) f[n] = p;
        n++;
        p = strchr(p, ',');
        if (!p) break;
        *p = '\0';
    }
    *what = "expected 8 comma-separated fields";
    if (n != 8) return -1;
    memset(r, 0, sizeof *r);
    *what = "activation or loss name too long or empty";
    if (!*f[0] || !*f[1] || strlen(f[0]) >= sizeof r->act || strlen(f[1]) >= sizeof r->loss) return -1;
    strcpy(r->act, f[0]);
    strcpy(r->loss, f[1]);
    *what = "hidden layers must be 1 or 2";
    if (strcmp(f[2], "1") && strcmp(f[2], "2")) return -1;
    r->layers = f[2][0] - '0';
    *what = "train loss, test loss and train acc must be numbers or empty";
    if (field_number(f[3], &r->train_loss) || field_number(f[4], &r->test_loss) || field_number(f[5], &r->train_acc))
        return -1;
    *what = "test acc must be a number, empty, <x (below x) or ~x (about x)";
    r->test_acc = NAN;
    if (f[6][0] == '<' || f[6][0] == '~') {
        r->acc_op = f[6][0];
        if (field_number(f[6] + 1, &r->acc_val) || !isfinite(r->acc_val)) return -1;
        snprintf(r->acc_note, sizeof r->acc_note, "%s %.2f", r->acc_op == '<' ? "<" : "about", r->acc_val);
    } else if (field_number(f[6], &r->test_acc)) {
        return -1;
    }
    *what = "time too long";
    if (field_number(f[7], &r->time)) { /* not a number: a remark such as a range, printed as it is */
        r->time = NAN;
        if (strlen(f[7]) >= sizeof r->time_note) return -1;
        strcpy(r->time_note, f[7]);
    }
    return 0;
}

mlp_status mlp_published_parse(const char *text, mlp_published *rows, int max, int *n, mlp_error *err) {
    *n = 0;
    int lineno = 0, header = 0;
    for (const char *p = text; *p;) {
        const char *end = strchr(p, '\n');
        if (!end) end = p + strlen(p);
        char line[256];
        const size_t len = (size_t)(end - p);
        lineno++;
        if (len >= sizeof line) return mlp_fail(err, MLP_ERR_FORMAT, "published table, line %d: too long", lineno);
        memcpy(line, p, len);
        line[len] = '\0';
        p = *end ? end + 1 : end;
        if (line[0] == '#' || line[0] == '\0') continue;
        if (!header) { /* the column names */
            header = 1;
            if (strcmp(line, "act,loss,hidden_layers,train_loss,test_loss,train_acc,test_acc,time_s"))
                return mlp_fail(err, MLP_ERR_FORMAT, "published table, line %d: unexpected columns '%s'", lineno, line);
            continue;
        }
        if (*n >= max) return mlp_fail(err, MLP_ERR_FORMAT, "published table: more than %d rows", max);
        char fields[sizeof line];
        memcpy(fields, line, len + 1); /* parse_row cuts its copy into fields */
        const char *what;
        if (parse_row(fields, &rows[*n], &what))
            return mlp_fail(err, MLP_ERR_FORMAT, "published table, line %d ('%s'): %s", lineno, line, what);
        (*n)++;
    }
    if (!header) return mlp_fail(err, MLP_ERR_FORMAT, "published table: no header line");
    return MLP_OK;
}

mlp_status mlp_published_table(mlp_published *rows, int max, int *n, mlp_error *err) {
    return mlp_published_parse(published_csv, rows, max, n, err);
}
