/* test_report.c - run folders, SVG charts, REPORT.md and `mlp plot`, on small synthetic run folders
 * whose every number is known: tables hold the right values (means and standard deviations over seeds),
 * every SVG is well-formed XML with one polyline per series of the right length inside its plot area, and
 * broken or half-written run folders are listed as skipped instead of crashing the report. */
#include "check.h"
#include "report.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------ helpers */

static void write_file(const char *dir, const char *name, const char *text) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f != NULL, "cannot write %s", path);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* The synthetic curves: epoch e of E, with a final test accuracy `acc` and seconds per epoch `sec`.
 * test_acc(e) = acc - 0.2 (E - e) / E  (so the final value is exactly acc and the best is the last)
 * train_acc(e) = test_acc(e) + 0.01, train_loss = 1/e, test_loss = 1/e + 0.05 */
static double syn_test_acc(double acc, int e, int E) { return acc - 0.2 * (double)(E - e) / E; }

typedef struct syn {
    const char *dataset, *hidden, *arch, *act, *loss;
    int seed, epochs, lines, model;
    double acc, sec;
    const char *lr;   /* "1e-05" unless set */
    const char *data; /* the data folder config.json records ("/nonexistent/data" unless set) */
} syn;

static void make_run(const char *root, const syn *s) {
    char dir[1024], text[4096];
    snprintf(dir, sizeof dir, "%s/%s_%s_%s_s%d", root, s->arch, s->act, s->loss, s->seed);
    mkdir(dir, 0755);
    snprintf(text, sizeof text,
             "{\n  \"mlp_version\": \"0.1.0\",\n  \"dataset\": \"%s\",\n  \"data\": \"%s\",\n"
             "  \"arch\": \"%s\",\n  \"hidden\": [%s],\n  \"act\": \"%s\",\n  \"loss\": \"%s\",\n"
             "  \"hinge_margin\": 5,\n  \"focal_gamma\": 2,\n  \"focal_alpha\": [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, "
             "0.1, 0.1, 0.1],\n  \"grad_reduction\": \"sum\",\n  \"lr\": %s,\n  \"wd\": 0.1,\n  \"momentum\": 0.9,\n"
             "  \"batch\": 100,\n  \"epochs\": %d,\n  \"init_std\": 0.01,\n  \"seed\": %d,\n  \"shuffle\": true,\n"
             "  \"init_model\": null,\n  \"input_offset\": 128,\n  \"input_scale\": 0.003921569,\n  \"threads\": 1,\n"
             "  \"kernels\": \"avx2\",\n  \"out\": \"%s\",\n  \"command\": [\"train\", \"--act\", \"%s\"]\n}\n",
             s->dataset ? s->dataset : "mnist", s->data ? s->data : "/nonexistent/data", s->arch, s->hidden, s->act, s->loss, s->lr ? s->lr : "1e-05", s->epochs,
             s->seed, dir, s->act);
    write_file(dir, "config.json", text);
    int lines = s->lines ? s->lines : s->epochs;
    size_t used = (size_t)snprintf(text, sizeof text, "epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds\n");
    for (int e = 1; e <= lines && used < sizeof text - 200; e++) {
        double ta = syn_test_acc(s->acc, e, s->epochs);
        used += (size_t)snprintf(text + used, sizeof text - used, "%d,%.9g,%.9g,%.9g,%.9g,1e-05,%.6f\n", e, 1.0 / e,
                                 ta + 0.01, 1.0 / e + 0.05, ta, s->sec);
    }
    write_file(dir, "metrics.csv", text);
    if (s->model) write_file(dir, "model.safetensors", "not a real model: the report only checks it exists");
}

/* A study of 1-hidden-layer runs {selu, gelu} x {hinge, mse}, gelu+hinge with seeds 1 and 2, and two
 * 2-hidden-layer gelu runs; 4 epochs each. */
static void make_study(const char *root) {
    const syn runs[] = {
        {NULL, "128", "784-128-10", "selu", "hinge", 1, 4, 0, 1, 0.9612, 1.0, NULL, NULL},
        {NULL, "128", "784-128-10", "selu", "mse", 1, 4, 0, 1, 0.9500, 1.0, NULL, NULL},
        {NULL, "128", "784-128-10", "gelu", "hinge", 1, 4, 0, 1, 0.9700, 1.5, NULL, NULL},
        {NULL, "128", "784-128-10", "gelu", "hinge", 2, 4, 0, 1, 0.9800, 2.5, NULL, NULL},
        {NULL, "128", "784-128-10", "gelu", "mse", 1, 4, 0, 1, 0.9400, 1.0, NULL, NULL},
        {NULL, "128", "784-128-10", "gelu", "ce", 1, 4, 0, 1, 0.9650, 1.0, NULL, NULL},
        {NULL, "128, 32", "784-128-32-10", "gelu", "hinge", 1, 4, 0, 1, 0.9720, 2.0, NULL, NULL},
        {NULL, "128, 32", "784-128-32-10", "gelu", "mse", 1, 4, 0, 1, 0.9300, 2.0, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) make_run(root, &runs[i]);
}

static mlp_status write_report(const char *study, const char *out, mlp_report_result *res, mlp_error *err) {
    mlp_run_set set;
    mlp_status st = mlp_runs_scan(&set, &study, 1, 1, err);
    if (st) return st;
    mlp_report_opts o = {out, study, 0};
    st = mlp_report_write(&set, &o, res, err);
    mlp_run_set_free(&set);
    return st;
}

/* The line of the Markdown text that starts with prefix (a table row), copied into buf; NULL if none. */
static const char *line_starting(const char *text, const char *prefix, char *buf, size_t size) {
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (!strncmp(p, prefix, strlen(prefix))) {
            snprintf(buf, size, "%.*s", (int)n, p);
            return buf;
        }
        p = nl ? nl + 1 : NULL;
    }
    return NULL;
}

/* ------------------------------------------------------------------ a minimal XML well-formedness check */

static int name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == ':' ||
           c == '-' || c == '.';
}

/* '&' must start &amp; &lt; &gt; &quot; &apos; or &#N; / &#xN; */
static int entity_ok(const char *p) {
    static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    for (int i = 0; i < 5; i++)
        if (!strncmp(p, ents[i], strlen(ents[i]))) return 1;
    if (p[1] == '#') {
        const char *q = p + 2;
        int hex = *q == 'x';
        if (hex) q++;
        const char *d = q;
        while ((*q >= '0' && *q <= '9') || (hex && ((*q >= 'a' && *q <= 'f') || (*q >= 'A' && *q <= 'F')))) q++;
        return q > d && *q == ';';
    }
    return 0;
}

/* NULL if the document is well-formed (one root element, tags nested and matched, attributes quoted and
 * unique, entities valid), else what is wrong. */
static const char *xml_check(const char *s, char *msg, size_t size) {
    char stack[64][64];
    int depth = 0, roots = 0;
    const char *p = s;
    if (!strncmp(p, "<?xml", 5)) {
        p = strstr(p, "?>");
        if (!p) return "unterminated XML declaration";
        p += 2;
    }
    while (*p) {
        if (*p != '<') {
            if (*p == '&' && !entity_ok(p)) {
                snprintf(msg, size, "bad entity at offset %ld", (long)(p - s));
                return msg;
            }
            if (depth == 0 && !(*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')) return "text outside the root";
            p++;
            continue;
        }
        if (!strncmp(p, "<!--", 4)) {
            p = strstr(p + 4, "-->");
            if (!p) return "unterminated comment";
            p += 3;
            continue;
        }
        if (p[1] == '/') {
            p += 2;
            char nm[64];
            int n = 0;
            while (name_char(*p) && n < 63) nm[n++] = *p++;
            nm[n] = '\0';
            if (*p != '>') return "bad end tag";
            p++;
            if (depth == 0 || strcmp(stack[depth - 1], nm)) {
                snprintf(msg, size, "end tag </%s> does not match <%s>", nm, depth ? stack[depth - 1] : "");
                return msg;
            }
            depth--;
            continue;
        }
        p++;
        char nm[64];
        int n = 0;
        while (name_char(*p) && n < 63) nm[n++] = *p++;
        nm[n] = '\0';
        if (!n) return "empty tag name";
        if (depth == 0 && ++roots > 1) return "more than one root element";
        char attrs[32][64];
        int na = 0;
        for (;;) {
            while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
            if (*p == '>' || (p[0] == '/' && p[1] == '>')) break;
            char an[64];
            int k = 0;
            while (name_char(*p) && k < 63) an[k++] = *p++;
            an[k] = '\0';
            if (!k || *p != '=' || (p[1] != '"' && p[1] != '\'')) {
                snprintf(msg, size, "bad attribute in <%s> at offset %ld", nm, (long)(p - s));
                return msg;
            }
            for (int j = 0; j < na; j++)
                if (!strcmp(attrs[j], an)) {
                    snprintf(msg, size, "duplicate attribute %s in <%s>", an, nm);
                    return msg;
                }
            if (na < 32) snprintf(attrs[na++], 64, "%s", an);
            char q = p[1];
            p += 2;
            while (*p && *p != q) {
                if (*p == '<') return "'<' in an attribute value";
                if (*p == '&' && !entity_ok(p)) return "bad entity in an attribute value";
                p++;
            }
            if (!*p) return "unterminated attribute value";
            p++;
        }
        if (*p == '/') p += 2;
        else {
            p++;
            if (depth >= 64) return "nesting too deep";
            snprintf(stack[depth++], 64, "%s", nm);
        }
    }
    if (depth) {
        snprintf(msg, size, "<%s> is not closed", stack[depth - 1]);
        return msg;
    }
    return roots == 1 ? NULL : "no root element";
}

/* Record a failure naming `what` unless svg is well-formed XML. */
static void check_well_formed(const char *svg, const char *what) {
    char msg[256];
    const char *bad = xml_check(svg, msg, sizeof msg);
    CHECK_MSG(bad == NULL, "%s is not well-formed XML: %s", what, bad);
}

/* ------------------------------------------------------------------ SVG inspection */

typedef struct svg_info {
    int n_lines;    /* <polyline> elements */
    int points[64]; /* points of each */
    double px[64][256], py[64][256];
    int n_rects;
    double rx[16], ry[16], rw[16], rh[16]; /* plot areas */
} svg_info;

static double attr_num(const char *el, const char *name) {
    char key[64];
    snprintf(key, sizeof key, " %s=\"", name);
    const char *p = strstr(el, key);
    return p ? atof(p + strlen(key)) : NAN;
}

static void svg_inspect(const char *s, svg_info *info) {
    memset(info, 0, sizeof *info);
    for (const char *p = s; (p = strstr(p, "<polyline")); p++) {
        const char *end = strchr(p, '>');
        const char *pts = strstr(p, " points=\"");
        if (!end || !pts || pts > end || info->n_lines >= 64) continue;
        int k = info->n_lines++;
        const char *q = pts + 9;
        while (*q && *q != '"') {
            double x, y;
            int used;
            if (sscanf(q, "%lf,%lf%n", &x, &y, &used) != 2) break;
            if (info->points[k] < 256) info->px[k][info->points[k]] = x, info->py[k][info->points[k]] = y;
            info->points[k]++;
            q += used;
            while (*q == ' ') q++;
        }
    }
    for (const char *p = s; (p = strstr(p, "<rect class=\"plot-area\"")); p++) {
        if (info->n_rects >= 16) break;
        int k = info->n_rects++;
        info->rx[k] = attr_num(p, "x");
        info->ry[k] = attr_num(p, "y");
        info->rw[k] = attr_num(p, "width");
        info->rh[k] = attr_num(p, "height");
    }
}

/* Every point of every polyline lies inside some plot area: the axes cover the data. */
static int svg_points_inside(const svg_info *info) {
    for (int l = 0; l < info->n_lines; l++)
        for (int i = 0; i < info->points[l] && i < 256; i++) {
            int in = 0;
            for (int r = 0; r < info->n_rects; r++)
                in |= info->px[l][i] >= info->rx[r] - 0.01 && info->px[l][i] <= info->rx[r] + info->rw[r] + 0.01 &&
                      info->py[l][i] >= info->ry[r] - 0.01 && info->py[l][i] <= info->ry[r] + info->rh[r] + 0.01;
            if (!in) return 0;
        }
    return 1;
}

static void check_svg_file(const char *path, int want_lines, int want_points) {
    char *s = check_read_text(path);
    CHECK_MSG(s != NULL, "missing %s", path);
    if (!s) return;
    char msg[256];
    const char *bad = xml_check(s, msg, sizeof msg);
    CHECK_MSG(bad == NULL, "%s is not well-formed XML: %s", path, bad);
    CHECK_CONTAINS(s, "xmlns=\"http://www.w3.org/2000/svg\"");
    CHECK_CONTAINS(s, "viewBox=");
    svg_info *info = malloc(sizeof *info);
    svg_inspect(s, info);
    if (want_lines >= 0)
        CHECK_MSG(info->n_lines == want_lines, "%s: %d polylines, expected %d", path, info->n_lines, want_lines);
    for (int l = 0; l < info->n_lines && want_points > 0; l++)
        CHECK_MSG(info->points[l] == want_points, "%s: polyline %d has %d points, expected %d", path, l,
                  info->points[l], want_points);
    CHECK_MSG(info->n_rects >= 1, "%s: no plot area", path);
    CHECK_MSG(svg_points_inside(info), "%s: a point lies outside the plot area", path);
    free(info);
    free(s);
}

/* ------------------------------------------------------------------ tests: pieces */

TEST(report_metrics_csv_parser) {
    mlp_epoch_metrics *m;
    int n;
    mlp_error err;
    const char *good = "epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds\n1,0.5,0.8,0.4,0.85,1e-05,1.5\n"
                       "2,0.25,0.9,0.2,0.95,1e-05,1.25\n";
    CHECK(mlp_metrics_parse(good, strlen(good), &m, &n, &err) == MLP_OK);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_NEAR(m[1].test_acc, 0.95, 0);
        CHECK_NEAR(m[0].seconds, 1.5, 0);
        CHECK_INT(m[1].epoch, 2);
    }
    free(m);
    /* columns are found by name: reordered, extra columns, CRLF line ends */
    const char *extra =
        "epoch,seconds,lr,test_acc,test_loss,train_acc,train_loss,grad_norm\r\n1,2,0.1,0.5,0.6,0.7,0.8,9\r\n";
    CHECK(mlp_metrics_parse(extra, strlen(extra), &m, &n, &err) == MLP_OK);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK_NEAR(m[0].test_acc, 0.5, 0);
        CHECK_NEAR(m[0].train_loss, 0.8, 0);
        CHECK_NEAR(m[0].seconds, 2, 0);
    }
    free(m);
    static const struct {
        const char *text, *phrase;
    } bad[] = {
        {"", "empty"},
        {"epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds\n1,0.5,0.8,0.4,0.85,1e-05,1.5", "incomplete"},
        {"epoch,train_loss,train_acc,test_loss,lr,seconds\n", "no 'test_acc' column"},
        {"epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds\n1,0.5,0.8,0.4,0.85,1e-05\n", "6 fields"},
        {"epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds\n1,x,0.8,0.4,0.85,1e-05,1\n", "'x' is not"},
        {"epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds\n1,nan,0.8,0.4,0.85,1e-05,1\n", "not a finite"},
        {"epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds\n2,1,0.8,0.4,0.85,1e-05,1\n", "expected 1"},
        {"epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds\n1,1,1.8,0.4,0.85,1e-05,1\n", "outside [0, 1]"},
        {"epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds\n\n", "empty line"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        m = NULL;
        mlp_status st = mlp_metrics_parse(bad[i].text, strlen(bad[i].text), &m, &n, &err);
        CHECK_MSG(st == MLP_ERR_FORMAT, "case %zu: status %d", i, (int)st);
        CHECK_MSG(m == NULL, "case %zu: rows returned on error", i);
        if (st) CHECK_CONTAINS(err.msg, bad[i].phrase);
    }
}

/* The published table: the compiled-in data (src/study/published.csv) as the reference's numbers, and the reader's
 * refusals naming the line. */
TEST(report_published_table) {
    mlp_published rows[MLP_PUBLISHED_MAX];
    int n = -1;
    mlp_error err;
    CHECK(mlp_published_table(rows, MLP_PUBLISHED_MAX, &n, &err) == MLP_OK);
    CHECK_INT(n, 14);
    if (n != 14) return;
    CHECK(strcmp(rows[0].act, "selu") == 0 && strcmp(rows[0].loss, "hinge") == 0 && rows[0].layers == 1);
    CHECK(rows[0].train_loss == 0.1420 && rows[0].test_loss == 0.4551 && rows[0].train_acc == 0.9936);
    CHECK(rows[0].test_acc == 0.9788 && rows[0].time == 415.1 && rows[0].acc_op == 0 && !rows[0].time_note[0]);
    CHECK(strcmp(rows[2].act, "gelu") == 0 && rows[2].test_acc == 0.9816);
    /* selu + mse: accuracies only */
    CHECK(strcmp(rows[6].loss, "mse") == 0 && isnan(rows[6].train_loss) && isnan(rows[6].time) &&
          rows[6].test_acc == 0.9634);
    /* the 2-hidden-layer remarks */
    CHECK(rows[11].layers == 2 && rows[11].acc_op == '<' && rows[11].acc_val == 0.50 && isnan(rows[11].test_acc));
    CHECK(strcmp(rows[11].acc_note, "< 0.50") == 0 && strcmp(rows[11].time_note, "610-659") == 0);
    CHECK(strcmp(rows[13].act, "selu") == 0 && rows[13].acc_op == '~' && strcmp(rows[13].acc_note, "about 0.90") == 0);
    CHECK(isnan(rows[13].time) && !rows[13].time_note[0]);

    const char *head = "# comment\nact,loss,hidden_layers,train_loss,test_loss,train_acc,test_acc,time_s\n";
    static const struct {
        const char *body, *msg;
    } bad[] = {
        {"gelu,ce,1,0.1,0.2,0.3,0.4\n", "line 3 ('gelu,ce,1,0.1,0.2,0.3,0.4'): expected 8 comma-separated fields"},
        {"gelu,ce,3,,,,,\n", "line 3 ('gelu,ce,3,,,,,'): hidden layers must be 1 or 2"},
        {"gelu,ce,1,0.1x,,,,\n", "train loss, test loss and train acc must be numbers"},
        {"gelu,ce,1,,,,>0.5,\n", "test acc must be"},
        {"gelu,ce,1,,,,~,\n", "test acc must be"},
        {",ce,1,,,,,\n", "name too long or empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char text[512];
        snprintf(text, sizeof text, "%s%s", head, bad[i].body);
        err.msg[0] = '\0';
        CHECK_INT(mlp_published_parse(text, rows, MLP_PUBLISHED_MAX, &n, &err), MLP_ERR_FORMAT);
        CHECK_CONTAINS(err.msg, bad[i].msg);
    }
    CHECK_INT(mlp_published_parse("act,loss\n", rows, MLP_PUBLISHED_MAX, &n, &err), MLP_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "unexpected columns");
    CHECK_INT(mlp_published_parse("# only comments\n", rows, MLP_PUBLISHED_MAX, &n, &err), MLP_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "no header");
    char text[512];
    snprintf(text, sizeof text, "%sgelu,ce,1,,,,,\ngelu,mse,1,,,,,\n", head);
    CHECK_INT(mlp_published_parse(text, rows, 1, &n, &err), MLP_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "more than 1 rows");
    CHECK(mlp_published_parse(text, rows, 2, &n, &err) == MLP_OK && n == 2 && isnan(rows[1].test_acc));
}

TEST(report_axis_is_nice_and_covers_the_data) {
    /* known cases */
    mlp_axis a;
    mlp_axis_nice(&a, 0.9012, 0.9816, 9, 0, 0);
    CHECK_NEAR(a.step, 0.02, 1e-12); /* 0.01 would need 10 ticks */
    CHECK_INT(a.n_ticks, 6);
    CHECK_NEAR(a.ticks[0], 0.90, 1e-12);
    CHECK_NEAR(a.ticks[a.n_ticks - 1], 1.00, 1e-12);
    mlp_axis_nice(&a, 0.9012, 0.9816, 11, 0, 0);
    CHECK_NEAR(a.step, 0.01, 1e-12);
    CHECK_NEAR(a.ticks[a.n_ticks - 1], 0.99, 1e-12);
    mlp_axis_nice(&a, 0, 200, 9, 1, 0);
    CHECK_NEAR(a.step, 50, 0);
    CHECK_INT(a.n_ticks, 5);
    mlp_axis_nice(&a, 1, 3, 9, 1, 0); /* epochs: whole-number steps */
    CHECK_NEAR(a.step, 1, 0);
    CHECK_INT(a.n_ticks, 3);
    mlp_axis_nice(&a, 0.5, 0.5, 9, 0, 0); /* a flat line still gets a range */
    CHECK(a.lo < 0.5 && a.hi > 0.5);
    mlp_axis_nice(&a, 0.13, 11.7, 9, 0, 1);
    CHECK(a.log);
    CHECK_NEAR(a.lo, 0.1, 1e-12);
    CHECK_NEAR(a.hi, 20, 1e-9);
    /* random ranges: lo <= min, hi >= max, 1-2-5 steps, at most max ticks, ticks inside the range */
    unsigned long long x = 88172645463325252ull;
    for (int t = 0; t < 20000; t++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double u1 = (double)(x % 1000003) / 1000003.0;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double u2 = (double)(x % 1000003) / 1000003.0;
        double scale = pow(10.0, (int)(x % 9) - 4.0);
        int log = t % 3 == 0, integer = t % 5 == 0 && !log;
        double lo = log ? scale * (0.01 + u1) : scale * (u1 - 0.5), hi = lo + (log ? scale * 300 * u2 : scale * u2);
        int max_ticks = 2 + (int)(x % 9);
        mlp_axis_nice(&a, lo, hi, max_ticks, integer, log);
        CHECK_MSG(a.lo <= lo && a.hi >= hi, "range [%g, %g] not covered by [%g, %g]", lo, hi, a.lo, a.hi);
        CHECK_MSG(a.n_ticks >= 1 && a.n_ticks <= (log ? MLP_AXIS_MAX_TICKS : max_ticks), "%d ticks (max %d)", a.n_ticks,
                  max_ticks);
        double tol = 1e-9 * (fabs(a.lo) + fabs(a.hi));
        for (int k = 0; k < a.n_ticks; k++)
            CHECK_MSG(a.ticks[k] >= a.lo - tol && a.ticks[k] <= a.hi + tol, "tick %g outside [%g, %g]", a.ticks[k],
                      a.lo, a.hi);
        if (!log) {
            double m = a.step / pow(10.0, floor(log10(a.step) + 1e-9));
            CHECK_MSG(fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 || fabs(m - 5) < 1e-9, "step %g is not 1, 2 or 5 x 10^k",
                      a.step);
            if (integer) CHECK(a.step >= 1);
            /* the ticks reach past the data: first <= min, last >= max (up to rounding) */
            double stol = a.step * 1e-6;
            CHECK_MSG(a.ticks[0] <= lo + stol && a.ticks[a.n_ticks - 1] >= hi - stol, "ticks [%g..%g] vs data [%g, %g]",
                      a.ticks[0], a.ticks[a.n_ticks - 1], lo, hi);
        }
    }
}

TEST(report_svg_render_structure) {
    double y1[5] = {0.5, 0.7, 0.8, 0.85, 0.9}, y2[5] = {0.4, 0.6, 0.75, 0.8, 0.95}, lo[5], hi[5];
    for (int i = 0; i < 5; i++) lo[i] = y1[i] - 0.05, hi[i] = y1[i] + 0.05;
    mlp_svg_series s[2] = {{"a <&> \"b\"", y1, NULL, 5, lo, hi, 0, 0}, {"c", y2, NULL, 5, NULL, NULL, 1, 1}};
    mlp_svg_panel p = {"panel", "Epoch", "Accuracy", s, 2, 0, 1};
    mlp_svg_figure f = {"title & more", &p, 1, 1};
    sbuf b = SBUF_INIT;
    mlp_error err;
    CHECK(mlp_svg_render(&b, &f, &err) == MLP_OK);
    char msg[256];
    const char *bad = xml_check(sbuf_str(&b), msg, sizeof msg);
    CHECK_MSG(bad == NULL, "not well-formed: %s", bad);
    svg_info *info = malloc(sizeof *info);
    svg_inspect(sbuf_str(&b), info);
    CHECK_INT(info->n_lines, 2);
    CHECK_INT(info->points[0], 5);
    CHECK(svg_points_inside(info));
    free(info);
    CHECK_CONTAINS(sbuf_str(&b), "a &lt;&amp;&gt; &quot;b&quot;");
    CHECK_CONTAINS(sbuf_str(&b), "<polygon class=\"band\""); /* the band */
    CHECK_CONTAINS(sbuf_str(&b), "fill=\"#ffffff\"");        /* an opaque background */
    CHECK_CONTAINS(sbuf_str(&b), "stroke-dasharray");        /* the second series is dashed */
    sbuf_free(&b);
    /* bad input: a non-finite value, an empty series */
    double bad_y[2] = {1, NAN};
    mlp_svg_series sb = {"nan", bad_y, NULL, 2, NULL, NULL, 0, 0};
    mlp_svg_panel pb = {"p", "x", "y", &sb, 1, 0, 0};
    mlp_svg_figure fb = {"t", &pb, 1, 1};
    CHECK(mlp_svg_render(&b, &fb, &err) == MLP_ERR_ARG);
    CHECK_CONTAINS(err.msg, "non-finite");
    sb.n = 0;
    CHECK(mlp_svg_render(&b, &fb, &err) == MLP_ERR_ARG);
    sbuf_free(&b);
}

static int count_of(const char *s, const char *needle);

/* ------------------------------------------------------------------ tests: the report */

TEST(report_tables_hold_the_right_numbers) {
    const char *root = check_tmpdir();
    char study[1024], out[1024], path[1100];
    snprintf(study, sizeof study, "%s/study", root);
    snprintf(out, sizeof out, "%s/report", root);
    mkdir(study, 0755);
    make_study(study);
    mlp_report_result res;
    mlp_error err;
    mlp_status st = write_report(study, out, &res, &err);
    CHECK_MSG(st == MLP_OK, "report: %s", err.msg);
    if (st) return;
    CHECK_INT(res.n_runs, 8);
    CHECK_INT(res.n_groups, 7);
    CHECK_INT(res.n_skipped, 0);
    snprintf(path, sizeof path, "%s/REPORT.md", out);
    char *md = check_read_text(path);
    CHECK(md != NULL);
    if (!md) return;
    char row[1024];
    /* gelu + hinge over seeds 1 and 2: final test acc 0.97, 0.98 -> 0.9750 +- 0.0071 (sample sd = 0.01/sqrt 2);
     * train acc +0.01; test loss 1/4 + 0.05 = 0.3 exactly for both (sd 0); time 4 x 1.5 = 6 and 4 x 2.5 = 10
     * -> 8.0 +- 2.8 */
    CHECK(line_starting(md, "| hinge | gelu | 2 |", row, sizeof row) != NULL);
    CHECK_CONTAINS(row, "| 0.2500 ± 0.0000 | 0.3000 ± 0.0000 | 0.9850 ± 0.0071 | **0.9750 ± 0.0071** |");
    CHECK_CONTAINS(row, "| 8.0 ± 2.8 |");
    /* one seed: plain values; best test acc is the last epoch's */
    CHECK(line_starting(md, "| hinge | selu | 1 |", row, sizeof row) != NULL);
    CHECK_CONTAINS(row, "| 0.2500 | 0.3000 | 0.9712 | **0.9612** | 0.9612 (4) |");
    CHECK_CONTAINS(row, "| 4.0 |");
    CHECK(line_starting(md, "| mse | gelu | 1 |", row, sizeof row) != NULL);
    CHECK_CONTAINS(row, "**0.9400**");
    /* conv. epoch: the first epoch within 0.01 of the best; test acc rises 0.05 per epoch -> epoch 4 */
    CHECK_CONTAINS(row, "0.9400 (4) | 4 |");
    /* the losses table (gelu) has ce, hinge, mse rows; the depth table pairs gelu runs */
    CHECK_CONTAINS(md, "## Losses compared (gelu, 784-128-10)");
    CHECK(line_starting(md, "| ce | 1 |", row, sizeof row) != NULL);
    CHECK_CONTAINS(md, "## 1 vs 2 hidden layers (784-128-10 vs 784-128-32-10)");
    CHECK(line_starting(md, "| gelu | hinge | 0.9750 ± 0.0071 | 0.9720 | -0.0030 |", row, sizeof row) != NULL);
    CHECK(line_starting(md, "| gelu | mse | 0.9400 | 0.9300 | -0.0100 |", row, sizeof row) != NULL);
    /* the published values beside ours: gelu + hinge published 0.9816, ours 0.9750 -> -0.0066 */
    CHECK(line_starting(md, "| gelu + hinge | 1 | published | 0.1261 | 0.4304 | 0.9947 | 0.9816 | 533.7 |", row,
                        sizeof row) != NULL);
    CHECK_CONTAINS(md, "| -0.0066 |");
    CHECK_CONTAINS(md, "epochs 4 instead of 200");
    /* the summary is worded from the data */
    CHECK_CONTAINS(
        md, "- **gelu + hinge, 784-128-10** reaches the highest final test accuracy (0.9750 ± 0.0071 over 2 seeds");
    CHECK_CONTAINS(md, "Next: gelu + hinge, 784-128-32-10 (0.9720, 0.0030 lower).");
    CHECK_CONTAINS(md, "Losses ranked by mean final test accuracy: **hinge** 0.9694 (3 configurations) > **ce** 0.9650 "
                       "(1 configuration) > **mse** 0.9400 (3 configurations)");
    CHECK_CONTAINS(md, "1 to 2 seeds");
    CHECK_CONTAINS(md, "higher final test accuracy in 0 of 2 configurations (mean difference -0.0065)");
    /* every figure exists, parses, has one polyline per series with 4 points inside the plot area */
    const char *figs[][2] = {{"mnist_activations", "4"},
                             {"mnist_losses", "6"},
                             {"mnist_depth_784-128-32-10", "4"},
                             {"config_784-128-10_gelu_hinge", "4"},
                             {"run_784-128-32-10_gelu_mse_s1", "4"}};
    for (size_t i = 0; i < sizeof figs / sizeof *figs; i++) {
        snprintf(path, sizeof path, "%s/figures/%s.svg", out, figs[i][0]);
        check_svg_file(path, atoi(figs[i][1]), 4);
        char ref[300];
        snprintf(ref, sizeof ref, "(figures/%s.svg)", figs[i][0]);
        CHECK_CONTAINS(md, ref);
    }
    /* the activations figure: gelu+hinge has 2 seeds -> a +- sd band; its curves are one figure of the mean
     * over its seeds with bands, instead of one figure per run */
    snprintf(path, sizeof path, "%s/figures/mnist_activations.svg", out);
    char *svg = check_read_text(path);
    CHECK_CONTAINS(svg, "<polygon class=\"band\"");
    free(svg);
    snprintf(path, sizeof path, "%s/figures/config_784-128-10_gelu_hinge.svg", out);
    svg = check_read_text(path);
    CHECK_INT(count_of(svg, "<polygon class=\"band\""), 4);
    CHECK_CONTAINS(svg, "gelu + hinge, 784-128-10, mean of 2 seeds, band ± 1 sd (MNIST)");
    free(svg);
    CHECK(strstr(md, "run_784-128-10_gelu_hinge_s1.svg") == NULL);
    CHECK_CONTAINS(md, "**gelu + hinge, 784-128-10** (2 seeds)\n\n![gelu + hinge, 784-128-10](figures/config_784-128-10_gelu_hinge.svg)");
    free(md);

    /* a second report into the same folder with fewer runs removes the figures it no longer uses */
    char one[1100];
    snprintf(one, sizeof one, "%s/784-128-10_selu_hinge_s1", study);
    mlp_run_set set;
    const char *paths[1] = {one};
    CHECK(mlp_runs_scan(&set, paths, 1, 1, &err) == MLP_OK);
    CHECK_INT(set.n, 1);
    mlp_report_opts o = {out, one, 0};
    CHECK(mlp_report_write(&set, &o, &res, &err) == MLP_OK);
    mlp_run_set_free(&set);
    struct stat sst;
    snprintf(path, sizeof path, "%s/figures/mnist_activations.svg", out);
    CHECK(stat(path, &sst) != 0);
    snprintf(path, sizeof path, "%s/figures/run_784-128-10_selu_hinge_s1.svg", out);
    CHECK(stat(path, &sst) == 0);
}

TEST(report_skips_broken_and_half_written_runs) {
    const char *root = check_tmpdir();
    char study[1024], out[1024], dir[1100], path[1200];
    snprintf(study, sizeof study, "%s/study", root);
    snprintf(out, sizeof out, "%s/report", root);
    mkdir(study, 0755);
    /* one good run */
    syn good = {NULL, "128", "784-128-10", "gelu", "hinge", 1, 3, 0, 1, 0.97, 1.0, NULL, NULL};
    make_run(study, &good);
    /* an empty folder */
    snprintf(dir, sizeof dir, "%s/empty", study);
    mkdir(dir, 0755);
    /* unfinished: 2 of 3 epochs, no model */
    syn half = {NULL, "128", "784-128-10", "selu", "hinge", 1, 3, 2, 0, 0.96, 1.0, NULL, NULL};
    make_run(study, &half);
    /* metrics.csv cut in the middle of a line */
    syn cut = {NULL, "128", "784-128-10", "swish", "hinge", 1, 3, 0, 1, 0.96, 1.0, NULL, NULL};
    make_run(study, &cut);
    snprintf(path, sizeof path, "%s/784-128-10_swish_hinge_s1/metrics.csv", study);
    char *text = check_read_text(path);
    if (text) {
        text[strlen(text) - 9] = '\0';
        write_file(study, "784-128-10_swish_hinge_s1/metrics.csv", text);
        free(text);
    }
    /* config.json is not JSON */
    snprintf(dir, sizeof dir, "%s/garbage", study);
    mkdir(dir, 0755);
    write_file(dir, "config.json", "{\"dataset\": \"mnist\", ");
    /* not a run at all; and the sweep's logs folder, which is ignored */
    snprintf(dir, sizeof dir, "%s/notes", study);
    mkdir(dir, 0755);
    write_file(dir, "todo.txt", "hello");
    snprintf(dir, sizeof dir, "%s/logs", study);
    mkdir(dir, 0755);
    write_file(dir, "x.log", "log");
    write_file(study, "README.txt", "files beside the runs are ignored");

    mlp_run_set set;
    mlp_error err;
    const char *paths[1] = {study};
    CHECK(mlp_runs_scan(&set, paths, 1, 1, &err) == MLP_OK);
    CHECK_INT(set.n, 1);
    CHECK_INT(set.n_skipped, 5);
    mlp_report_opts o = {out, study, 0};
    mlp_report_result res;
    mlp_status st = mlp_report_write(&set, &o, &res, &err);
    CHECK_MSG(st == MLP_OK, "report: %s", err.msg);
    mlp_run_set_free(&set);
    snprintf(path, sizeof path, "%s/REPORT.md", out);
    char *md = check_read_text(path);
    CHECK(md != NULL);
    if (md) {
        CHECK_CONTAINS(md, "## Skipped runs");
        CHECK_CONTAINS(md, "/empty` | empty folder |");
        CHECK_CONTAINS(md, "784-128-10_selu_hinge_s1` | unfinished: 2 of 3 epochs, no model.safetensors |");
        CHECK_CONTAINS(md, "784-128-10_swish_hinge_s1` | metrics.csv: the last line is incomplete");
        CHECK_CONTAINS(md, "/garbage` | config.json: JSON:");
        CHECK_CONTAINS(md, "/notes` | no config.json: not a run folder |");
        CHECK(strstr(md, "/logs`") == NULL);
        CHECK_CONTAINS(md, "**gelu + hinge** reaches the highest final test accuracy (0.9700");
        free(md);
    }
    /* the tool: exit 0, the skipped folders named on stderr */
    static char outbuf[16384];
    const char *bin = getenv("MLP_BIN") && *getenv("MLP_BIN") ? getenv("MLP_BIN") : "build/mlp";
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' report '%s' -o '%s/r2' 2>&1", bin, study, root);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(outbuf, 1, sizeof outbuf - 1, p) : 0;
    outbuf[n] = '\0';
    int rc = p ? pclose(p) : -1;
    CHECK_MSG(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "mlp report: %s", outbuf);
    CHECK_CONTAINS(outbuf, "skipped");
    CHECK_CONTAINS(outbuf, "empty folder");
    CHECK_CONTAINS(outbuf, "wrote ");
    /* nothing usable at all: an error, exit 1, no crash */
    char bad[900];
    snprintf(bad, sizeof bad, "%s/bad", root);
    mkdir(bad, 0755);
    snprintf(dir, sizeof dir, "%s/e1", bad);
    mkdir(dir, 0755);
    snprintf(cmd, sizeof cmd, "'%s' report '%s' -o '%s/r3' 2>&1", bin, bad, root);
    p = popen(cmd, "r");
    n = p ? fread(outbuf, 1, sizeof outbuf - 1, p) : 0;
    outbuf[n] = '\0';
    rc = p ? pclose(p) : -1;
    CHECK_MSG(WIFEXITED(rc) && WEXITSTATUS(rc) == 1, "mlp report on nothing: %s", outbuf);
    CHECK_CONTAINS(outbuf, "no finished runs");
}

TEST(report_fashion_mnist_titles_and_class_names) {
    CHECK(!strcmp(mlp_class_name("fashion-mnist", 0), "T-shirt/top"));
    CHECK(!strcmp(mlp_class_name("fashion-mnist", 9), "Ankle boot"));
    CHECK(!strcmp(mlp_class_name("mnist", 7), "7"));
    const char *root = check_tmpdir();
    char study[1024], out[1024], path[1100];
    snprintf(study, sizeof study, "%s/study", root);
    snprintf(out, sizeof out, "%s/report", root);
    mkdir(study, 0755);
    syn a = {"fashion-mnist", "128", "784-128-10", "gelu", "hinge", 1, 3, 0, 1, 0.88, 1.0, NULL, NULL};
    syn b = {"fashion-mnist", "128", "784-128-10", "gelu", "ce", 1, 3, 0, 1, 0.86, 1.0, NULL, NULL};
    make_run(study, &a);
    make_run(study, &b);
    mlp_report_result res;
    mlp_error err;
    CHECK(write_report(study, out, &res, &err) == MLP_OK);
    snprintf(path, sizeof path, "%s/REPORT.md", out);
    char *md = check_read_text(path);
    CHECK_CONTAINS(md, "# MLP study on Fashion-MNIST");
    CHECK_CONTAINS(md, "on Fashion-MNIST:");
    CHECK(md && strstr(md, "Comparison with the published") == NULL); /* published values are MNIST's */
    free(md);
    snprintf(path, sizeof path, "%s/figures/fashion-mnist_losses.svg", out);
    char *svg = check_read_text(path);
    CHECK_CONTAINS(svg, "(Fashion-MNIST)");
    free(svg);
}

/* ------------------------------------------------------------------ tests: mlp plot */

TEST(report_plot_command) {
    const char *root = check_tmpdir();
    char study[1024];
    snprintf(study, sizeof study, "%s/study", root);
    mkdir(study, 0755);
    syn a = {NULL, "128", "784-128-10", "gelu", "hinge", 1, 7, 0, 1, 0.97, 1.0, NULL, NULL};
    syn b = {NULL, "128", "784-128-10", "selu", "hinge", 1, 7, 0, 1, 0.95, 1.0, NULL, NULL};
    syn c = {NULL, "128", "784-128-10", "swish", "hinge", 1, 7, 3, 0, 0.95, 1.0, NULL, NULL}; /* unfinished: 3 epochs */
    make_run(study, &a);
    make_run(study, &b);
    make_run(study, &c);
    const char *bin = getenv("MLP_BIN") && *getenv("MLP_BIN") ? getenv("MLP_BIN") : "build/mlp";
    static char outbuf[8192];
    char cmd[8192], fig[1100];
    snprintf(fig, sizeof fig, "%s/fig.svg", root);
    snprintf(cmd, sizeof cmd,
             "'%s' plot '%s/784-128-10_gelu_hinge_s1' '%s/784-128-10_selu_hinge_s1' '%s/784-128-10_swish_hinge_s1' "
             "-o '%s' --metric test_acc 2>&1",
             bin, study, study, study, fig);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(outbuf, 1, sizeof outbuf - 1, p) : 0;
    outbuf[n] = '\0';
    int rc = p ? pclose(p) : -1;
    CHECK_MSG(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "mlp plot: %s", outbuf);
    char *svg = check_read_text(fig);
    CHECK(svg != NULL);
    if (!svg) return;
    char msg[256];
    const char *bad = xml_check(svg, msg, sizeof msg);
    CHECK_MSG(bad == NULL, "fig.svg: %s", bad);
    svg_info *info = malloc(sizeof *info);
    svg_inspect(svg, info);
    CHECK_INT(info->n_lines, 3);
    CHECK_INT(info->points[0], 7);
    CHECK_INT(info->points[1], 7);
    CHECK_INT(info->points[2], 3);
    CHECK(svg_points_inside(info));
    /* lines are labelled by what differs (the activation); the unfinished run says so */
    CHECK_CONTAINS(svg, "data-label=\"gelu\"");
    CHECK_CONTAINS(svg, "data-label=\"swish (3/7 epochs)\"");
    CHECK_CONTAINS(svg, "Test accuracy (MNIST)");
    /* the y axis maps values back: read two y ticks (pixel, label) and invert the last point of gelu */
    const char *yt = strstr(svg, "<g class=\"yticks\"");
    double ty[2] = {0}, tv[2] = {0};
    int nt = 0;
    for (const char *q = yt; q && nt < 2 && (q = strstr(q, "<text ")); q++) {
        ty[nt] = attr_num(q, "y") - 4; /* labels sit 4 px below the tick for centring */
        const char *gt = strchr(q, '>');
        tv[nt] = gt ? atof(gt + 1) : NAN;
        nt++;
    }
    CHECK_INT(nt, 2);
    if (nt == 2 && ty[1] != ty[0]) {
        double v = tv[0] + (info->py[0][6] - ty[0]) * (tv[1] - tv[0]) / (ty[1] - ty[0]);
        CHECK_NEAR(v, 0.97, 0.002); /* the final test accuracy of the gelu run */
        double v0 = tv[0] + (info->py[0][0] - ty[0]) * (tv[1] - tv[0]) / (ty[1] - ty[0]);
        CHECK_NEAR(v0, syn_test_acc(0.97, 1, 7), 0.002);
    }
    free(info);
    free(svg);
    /* a whole study, test loss: 3 lines (log axis allowed) */
    snprintf(cmd, sizeof cmd, "'%s' plot '%s' -o '%s' --metric test_loss --title 'My runs' 2>&1", bin, study, fig);
    p = popen(cmd, "r");
    n = p ? fread(outbuf, 1, sizeof outbuf - 1, p) : 0;
    outbuf[n] = '\0';
    rc = p ? pclose(p) : -1;
    CHECK_MSG(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "mlp plot study: %s", outbuf);
    check_svg_file(fig, 3, -1);
    svg = check_read_text(fig);
    CHECK_CONTAINS(svg, "My runs");
    free(svg);
    /* usage errors */
    snprintf(cmd, sizeof cmd, "'%s' plot '%s' -o '%s' --metric accuracy 2>&1", bin, study, fig);
    p = popen(cmd, "r");
    n = p ? fread(outbuf, 1, sizeof outbuf - 1, p) : 0;
    outbuf[n] = '\0';
    rc = p ? pclose(p) : -1;
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
    CHECK_CONTAINS(outbuf, "unknown metric 'accuracy'");
    /* an explicitly named broken run is an error, not a silent skip */
    char emptyd[1100];
    snprintf(emptyd, sizeof emptyd, "%s/784-128-10_relu_ce_s1", study);
    mkdir(emptyd, 0755);
    write_file(emptyd, "config.json", "[]");
    snprintf(cmd, sizeof cmd, "'%s' plot '%s' -o '%s' 2>&1", bin, emptyd, fig);
    p = popen(cmd, "r");
    n = p ? fread(outbuf, 1, sizeof outbuf - 1, p) : 0;
    outbuf[n] = '\0';
    rc = p ? pclose(p) : -1;
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
    CHECK_CONTAINS(outbuf, "expected an object");
}

/* ------------------------------------------------------------------ tests: legends, markers, pictures */

/* The number of (non-overlapping) occurrences of needle in s. */
static int count_of(const char *s, const char *needle) {
    int n = 0;
    for (const char *p = s; p && (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

TEST(report_svg_long_labels_go_under_the_plot) {
    /* a 60-character run name: the legend goes under the plot area, whose size and share of the figure
     * stay those of a figure with short names */
    double y1[30], y2[30];
    for (int i = 0; i < 30; i++) y1[i] = 0.95 + 0.001 * i, y2[i] = 0.951 + 0.001 * i; /* overlapping lines */
    char long_name[61];
    memset(long_name, 'x', 60);
    memcpy(long_name, "run_", 4);
    long_name[60] = '\0';
    const char *labels[2][2] = {{"a", "b"}, {long_name, "b"}};
    double plot_share[2] = {0}, fig_w[2] = {0};
    for (int v = 0; v < 2; v++) {
        mlp_svg_series s[2] = {{labels[v][0], y1, NULL, 30, NULL, NULL, 0, 0}, {labels[v][1], y2, NULL, 30, NULL, NULL, 1, 0}};
        mlp_svg_panel p = {"panel", "Epoch", "Test accuracy", s, 2, 0, 1};
        mlp_svg_figure f = {"title", &p, 1, 1};
        sbuf b = SBUF_INIT;
        mlp_error err;
        CHECK(mlp_svg_render(&b, &f, &err) == MLP_OK);
        const char *svg = sbuf_str(&b);
        check_well_formed(svg, "the figure");
        svg_info *info = malloc(sizeof *info);
        svg_inspect(svg, info);
        CHECK_INT(info->n_rects, 1);
        fig_w[v] = attr_num(strstr(svg, "<svg"), "width");
        plot_share[v] = info->rw[0] / fig_w[v];
        /* the y axis comes from the data (0.95 .. 0.98), not [0, 1] */
        const char *yt = strstr(svg, "<g class=\"yticks\"");
        const char *first = yt ? strstr(yt, "<text ") : NULL;
        double t0 = first ? atof(strchr(first, '>') + 1) : NAN;
        CHECK_MSG(t0 >= 0.94 && t0 <= 0.95, "lowest y tick %g", t0);
        /* every series has markers, of a different shape each (two different marker paths) */
        CHECK_INT(count_of(svg, "<path class=\"markers\""), 2);
        const char *legend = strstr(svg, "<g class=\"legend\"");
        CHECK(legend != NULL);
        if (v == 1 && legend) {
            /* every legend text lies below the plot area's bottom edge and inside the figure */
            int n_text = 0;
            for (const char *q = legend; (q = strstr(q, "<text ")) && q < strstr(legend, "</g>"); q++) {
                n_text++;
                CHECK_MSG(attr_num(q, "y") > info->ry[0] + info->rh[0], "legend text at y %g, plot bottom %g",
                          attr_num(q, "y"), info->ry[0] + info->rh[0]);
                CHECK(attr_num(q, "x") >= 0 && attr_num(q, "x") < fig_w[v]);
            }
            CHECK(n_text >= 2);
            /* the long name is all there, wrapped over lines that fit the figure */
            CHECK_CONTAINS(svg, "run_xxxx");
            CHECK(count_of(svg, "xxxxxxxxxx") >= 5);
        }
        free(info);
        sbuf_free(&b);
    }
    CHECK_NEAR(plot_share[1], 430.0 / 540.0, 0.001); /* the plot keeps its 430 px in a 540 px figure */
    CHECK(plot_share[1] >= plot_share[0]);
}

/* A model file (no training) of the given architecture; unit 0's first weights set to +1 and -1. */
static void save_model(const char *path, const char *hidden, int inputs) {
    mlp_arch arch;
    mlp_error err;
    CHECK(mlp_arch_parse(&arch, hidden, inputs, 10, MLP_ACT_GELU, &err) == MLP_OK);
    mlp_net net;
    CHECK(mlp_net_create(&net, &arch, 1, &err) == MLP_OK);
    mlp_rng rng;
    mlp_rng_seed(&rng, 7, 0);
    mlp_net_init(&net, 0.01f, &rng);
    float *w = net.params + net.w_off[0];
    for (int i = 0; i < inputs; i++) w[i] = 0;
    w[0] = 1, w[1] = -1;
    mlp_net_params_changed(&net);
    mlp_model_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.arch = arch;
    meta.loss = mlp_loss_default(MLP_LOSS_HINGE);
    meta.scaling = mlp_scaling_default();
    snprintf(meta.dataset, sizeof meta.dataset, "mnist");
    CHECK(mlp_model_save(path, &net, &meta, &err) == MLP_OK);
    mlp_net_free(&net);
}

/* The first <image> after p, decoded (gray, BT.601 luma of the palette colours). */
static uint8_t *decode_image(const char *p, int *w, int *h) {
    const char *href = p ? strstr(p, "xlink:href=\"data:image/png;base64,") : NULL;
    if (!href) return NULL;
    href += strlen("xlink:href=\"data:image/png;base64,");
    size_t n = strcspn(href, "\"");
    uint8_t *bin = malloc(n);
    size_t m = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n && href[i] != '='; i++) {
        const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const char *c = strchr(tab, href[i]);
        if (!c) break;
        acc = acc << 6 | (uint32_t)(c - tab);
        bits += 6;
        if (bits >= 8) bin[m++] = (uint8_t)(acc >> (bits - 8)), bits -= 8;
    }
    uint8_t *gray = NULL;
    mlp_error err;
    mlp_status st = mlp_png_parse(bin, m, "embedded", &gray, w, h, &err);
    CHECK_MSG(st == MLP_OK, "embedded PNG: %s", err.msg);
    free(bin);
    return gray;
}

TEST(report_plot_weights_tiles) {
    const char *root = check_tmpdir(), *bin = check_mlp_bin();
    char model[1100], fig[1100], out[8192];
    snprintf(model, sizeof model, "%s/m100.safetensors", root);
    snprintf(fig, sizeof fig, "%s/w.svg", root);
    save_model(model, "100", 784);
    int rc = check_sh(out, sizeof out, 1, "'%s' plot --weights '%s' -o '%s'", bin, model, fig);
    CHECK_MSG(rc == 0, "plot --weights: %s", out);
    CHECK_CONTAINS(out, "100 tiles of 784 inputs");
    char *svg = check_read_text(fig);
    CHECK(svg != NULL);
    if (svg) {
        check_well_formed(svg, "the weights figure");
        CHECK_INT(count_of(svg, "<g class=\"tile\""), 100);
        CHECK_INT(count_of(svg, "<image class=\"weights\""), 100);
        CHECK_CONTAINS(svg, "own symmetric scale");
        CHECK_CONTAINS(svg, "First-layer weights of m100.safetensors (784-100-10, gelu, hinge, MNIST)");
        /* unit 0: w[0] = +1 (red), w[1] = -1 (blue), the rest 0 (white); pixels repeated 2x2 */
        int w = 0, h = 0;
        uint8_t *g = decode_image(strstr(svg, "data-unit=\"0\""), &w, &h);
        CHECK_INT(w, 56);
        CHECK_INT(h, 56);
        if (g && w == 56 && h == 56) {
            uint8_t red[3], blue[3], white[3];
            mlp_diverging_rgb(1, red), mlp_diverging_rgb(-1, blue), mlp_diverging_rgb(0, white);
            CHECK(red[0] > 150 && red[2] < 80 && blue[2] > 150 && blue[0] < 80 && white[0] > 240 && white[2] > 240);
            double yr = 0.299 * red[0] + 0.587 * red[1] + 0.114 * red[2];
            double yb = 0.299 * blue[0] + 0.587 * blue[1] + 0.114 * blue[2];
            CHECK_NEAR(g[0], yr, 1.01);
            CHECK_NEAR(g[1 * 56 + 1], yr, 1.01);
            CHECK_NEAR(g[2], yb, 1.01);
            CHECK_NEAR(g[56 * 56 - 1], 0.299 * white[0] + 0.587 * white[1] + 0.114 * white[2], 1.01);
        }
        free(g);
        free(svg);
    }
    /* an input that is not a square picture: refused with a clear message, exit 1 */
    snprintf(model, sizeof model, "%s/m20.safetensors", root);
    save_model(model, "16", 20);
    rc = check_sh(out, sizeof out, 1, "'%s' plot --weights '%s' -o '%s/w20.svg'", bin, model, root);
    CHECK_INT(rc, 1);
    CHECK_CONTAINS(out, "20 inputs, not a square picture");
    /* runs and --weights together: a usage error */
    rc = check_sh(out, sizeof out, 1, "'%s' plot --weights '%s' '%s' -o '%s'", bin, model, root, fig);
    CHECK_INT(rc, 2);
    /* a model from a real (test) training run: the default output is weights.svg beside it */
    const char *small = check_small_model();
    if (!small) {
        check_skip("no MNIST: no trained model");
        return;
    }
    rc = check_sh(out, sizeof out, 1, "'%s' plot --weights '%s'", bin, small);
    CHECK_MSG(rc == 0, "plot --weights: %s", out);
    char path[1100];
    snprintf(path, sizeof path, "%.*s/weights.svg", (int)(strrchr(small, '/') - small), small);
    svg = check_read_text(path);
    CHECK_MSG(svg != NULL, "no %s", path);
    CHECK_INT(count_of(svg, "<g class=\"tile\""), 128);
    CHECK_CONTAINS(svg, "First-layer weights of run (784-128-10, relu, ce, MNIST)");
    free(svg);
}

/* An IDX file: magic (0x0803 images [n x 28 x 28], 0x0801 labels [n]) and the bytes. */
static void write_idx(const char *path, int images, const uint8_t *bytes, int n) {
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f != NULL, "cannot write %s", path);
    if (!f) return;
    uint8_t hdr[16] = {0, 0, 8, images ? 3 : 1};
    int nh = images ? 16 : 8;
    uint32_t v[3] = {(uint32_t)n, 28, 28};
    for (int k = 0; k < (images ? 3 : 1); k++)
        for (int j = 0; j < 4; j++) hdr[4 + 4 * k + j] = (uint8_t)(v[k] >> (24 - 8 * j));
    fwrite(hdr, 1, (size_t)nh, f);
    fwrite(bytes, 1, (size_t)n * (images ? 784 : 1), f);
    fclose(f);
}

TEST(report_best_run_pictures_by_hand) {
    /* A 784-10 model (no hidden layer) that says class round(pixel 0): scores s_k = k p0 - k^2 / 2 (inputs
     * unscaled), whose argmax is k = p0 (s_p0 - s_(p0+-1) = 1/2). Twelve test pictures: pixel 0 = the class
     * the model will say, label = the truth. Hinge: the confidence of a mistake is the score gap
     * s_pred - s_true = (pred - true)^2 / 2. */
    const int pairs[12][2] = {{0, 0}, {0, 0}, {1, 1}, {1, 7}, {2, 2}, {3, 5}, {3, 5}, {7, 1}, {9, 9}, {9, 4}, {5, 5}, {4, 4}};
    const char *root = check_tmpdir();
    char study[1024], data[1024], out[1024], path[1200];
    snprintf(study, sizeof study, "%s/study", root);
    snprintf(data, sizeof data, "%s/data", root);
    snprintf(out, sizeof out, "%s/report", root);
    mkdir(study, 0755);
    mkdir(data, 0755);
    static uint8_t px[12 * 784];
    uint8_t lab[12];
    int want[10][10] = {{0}};
    for (int i = 0; i < 12; i++) {
        px[i * 784] = (uint8_t)pairs[i][1];
        lab[i] = (uint8_t)pairs[i][0];
        want[pairs[i][0]][pairs[i][1]]++;
    }
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte", data);
    write_idx(path, 1, px, 12);
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte", data);
    write_idx(path, 0, lab, 12);
    syn s = {NULL, "", "784-10", "gelu", "hinge", 1, 3, 0, 1, 7.0 / 12, 1.0, NULL, data};
    make_run(study, &s);
    /* the real model over the placeholder */
    mlp_arch arch;
    mlp_error err;
    CHECK(mlp_arch_parse(&arch, "none", 784, 10, MLP_ACT_GELU, &err) == MLP_OK);
    mlp_net net;
    CHECK(mlp_net_create(&net, &arch, 4, &err) == MLP_OK);
    memset(net.params, 0, net.n_params * sizeof(float));
    for (int k = 0; k < 10; k++) {
        net.params[net.w_off[0] + (size_t)k * 784] = (float)k;
        net.params[net.b_off[0] + k] = -0.5f * k * k;
    }
    mlp_net_params_changed(&net);
    mlp_model_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.arch = arch;
    meta.loss = mlp_loss_default(MLP_LOSS_HINGE);
    meta.scaling.offset = 0, meta.scaling.scale = 1;
    snprintf(meta.dataset, sizeof meta.dataset, "mnist");
    snprintf(path, sizeof path, "%s/784-10_gelu_hinge_s1/model.safetensors", study);
    CHECK(mlp_model_save(path, &net, &meta, &err) == MLP_OK);
    mlp_net_free(&net);

    mlp_run_set set;
    const char *paths[1] = {study};
    CHECK(mlp_runs_scan(&set, paths, 1, 1, &err) == MLP_OK);
    mlp_report_opts o = {out, study, 1};
    mlp_report_result res;
    mlp_status st = mlp_report_write(&set, &o, &res, &err);
    mlp_run_set_free(&set);
    CHECK_MSG(st == MLP_OK, "report: %s", err.msg);
    CHECK_MSG(res.note[0] == '\0', "note: %s", res.note);
    snprintf(path, sizeof path, "%s/REPORT.md", out);
    char *md = check_read_text(path);
    CHECK_CONTAINS(md, "### Confusion matrix\n\n![Confusion matrix of 784-10_gelu_hinge_s1 on the MNIST test set]"
                       "(figures/mnist_confusion.svg)");
    CHECK_CONTAINS(md, "(figures/mnist_mistakes.svg)");
    CHECK_CONTAINS(md, "(figures/mnist_weights.svg)");
    CHECK_CONTAINS(md, "5 of 12 test pictures are misclassified");
    free(md);

    /* the confusion matrix: 10 x 10 cells, each with the hand-counted number */
    snprintf(path, sizeof path, "%s/figures/mnist_confusion.svg", out);
    char *svg = check_read_text(path);
    CHECK(svg != NULL);
    if (svg) {
        check_well_formed(svg, "the confusion matrix");
        CHECK_INT(count_of(svg, "<rect class=\"cell\""), 100);
        for (int t = 0; t < 10; t++)
            for (int p = 0; p < 10; p++) {
                char cell[96];
                snprintf(cell, sizeof cell, "data-true=\"%d\" data-pred=\"%d\" data-count=\"%d\"", t, p, want[t][p]);
                CHECK_MSG(strstr(svg, cell) != NULL, "no cell %s", cell);
            }
        CHECK_CONTAINS(svg, "12 test images, 7 correct (58.33%)");
        free(svg);
    }
    /* the mistakes, most confident first: gaps 18 (1 said 7, picture 3), 18 (7 said 1, picture 7), 12.5 (9 said
     * 4), 2, 2 (3 said 5, pictures 5 and 6) */
    snprintf(path, sizeof path, "%s/figures/mnist_mistakes.svg", out);
    svg = check_read_text(path);
    CHECK(svg != NULL);
    if (svg) {
        check_well_formed(svg, "the mistakes");
        CHECK_INT(count_of(svg, "<g class=\"mistake\""), 5);
        CHECK_INT(count_of(svg, "<image class=\"digit\""), 5);
        const char *order[5] = {"data-true=\"1\" data-pred=\"7\" data-index=\"3\"",
                                "data-true=\"7\" data-pred=\"1\" data-index=\"7\"",
                                "data-true=\"9\" data-pred=\"4\" data-index=\"9\"",
                                "data-true=\"3\" data-pred=\"5\" data-index=\"5\"",
                                "data-true=\"3\" data-pred=\"5\" data-index=\"6\""};
        const char *prev = svg;
        for (int k = 0; k < 5; k++) {
            const char *at = strstr(svg, order[k]);
            CHECK_MSG(at != NULL && at >= prev, "mistake %d (%s) missing or out of order", k, order[k]);
            if (at) prev = at;
        }
        CHECK_CONTAINS(svg, "gap 18.000 (#3)");
        CHECK_CONTAINS(svg, "gap 12.500 (#9)");
        CHECK_CONTAINS(svg, "gap 2.000 (#6)");
        CHECK_CONTAINS(svg, "true 1, said 7");
        /* picture 3 drawn as the model saw it: pixel 0 = 7 of 255 of ink, the rest background (white) */
        int w = 0, h = 0;
        uint8_t *g = decode_image(strstr(svg, order[0]), &w, &h);
        CHECK_INT(w, 84);
        if (g && w == 84) {
            CHECK_INT(g[0], 255 - 7);
            CHECK_INT(g[83 * 84 + 83], 255);
        }
        free(g);
        free(svg);
    }
    /* the weights: no hidden layer, so one tile per class */
    snprintf(path, sizeof path, "%s/figures/mnist_weights.svg", out);
    svg = check_read_text(path);
    CHECK_INT(count_of(svg, "<g class=\"tile\""), 10);
    CHECK_CONTAINS(svg, "per class (10)");
    free(svg);
}

TEST(report_seed_noise_welch) {
    /* three configurations x 3 seeds: gelu 0.970/0.972/0.974 (mean 0.972, sd 0.002), selu 0.010 lower, swish
     * 0.001 higher. gelu vs selu: t = 0.010 / sqrt(2 x 0.002^2 / 3) = 6.12 with df = 4 (critical 2.776):
     * beyond noise; swish vs gelu: t = 0.61, within. */
    const char *root = check_tmpdir();
    char study[1024], out[1024], path[1100], row[1024];
    snprintf(study, sizeof study, "%s/study", root);
    snprintf(out, sizeof out, "%s/report", root);
    mkdir(study, 0755);
    const char *acts[3] = {"gelu", "selu", "swish"};
    const double base[3] = {0.970, 0.960, 0.971};
    for (int a = 0; a < 3; a++)
        for (int sd = 1; sd <= 3; sd++) {
            syn s = {NULL, "128", "784-128-10", acts[a], "hinge", sd, 4, 0, 1, base[a] + 0.002 * (sd - 1), 1.0, NULL, NULL};
            make_run(study, &s);
        }
    mlp_report_result res;
    mlp_error err;
    CHECK(write_report(study, out, &res, &err) == MLP_OK);
    snprintf(path, sizeof path, "%s/REPORT.md", out);
    char *md = check_read_text(path);
    CHECK_CONTAINS(md, "## Which differences exceed seed noise");
    CHECK(line_starting(md, "| 784-128-10, hinge | gelu > selu |", row, sizeof row) != NULL);
    CHECK_CONTAINS(row, "| 0.9720 ± 0.0020 | 0.9620 ± 0.0020 | +0.0100 | 6.1 | **beyond** |");
    CHECK(line_starting(md, "| 784-128-10, hinge | swish > gelu |", row, sizeof row) != NULL);
    CHECK_CONTAINS(row, "| +0.0010 | 0.6 | within |");
    CHECK(line_starting(md, "| 784-128-10, hinge | swish > selu |", row, sizeof row) != NULL);
    CHECK_CONTAINS(row, "| +0.0110 | 6.7 | **beyond** |");
    CHECK_CONTAINS(md, "- Seed noise: 2 of 3 differences between activations");
    CHECK_CONTAINS(md, "Next: gelu + hinge (0.9720, 0.0010 lower, within seed noise: Welch's t = 0.6).");
    free(md);
}

TEST(report_long_runs_zoom_on_the_second_half) {
    /* 20 epochs: the depth and losses figures add the second half (epochs 11-20) on its own axis, whose
     * range comes from those points only */
    const char *root = check_tmpdir();
    char study[1024], out[1024], path[1100];
    snprintf(study, sizeof study, "%s/study", root);
    snprintf(out, sizeof out, "%s/report", root);
    mkdir(study, 0755);
    syn runs[4] = {{NULL, "128", "784-128-10", "gelu", "hinge", 1, 20, 0, 1, 0.98, 1.0, NULL, NULL},
                   {NULL, "128", "784-128-10", "gelu", "ce", 1, 20, 0, 1, 0.97, 1.0, NULL, NULL},
                   {NULL, "128, 32", "784-128-32-10", "gelu", "hinge", 1, 20, 0, 1, 0.975, 1.0, NULL, NULL},
                   {NULL, "128, 32", "784-128-32-10", "gelu", "ce", 1, 20, 0, 1, 0.965, 1.0, NULL, NULL}};
    for (int i = 0; i < 4; i++) make_run(study, &runs[i]);
    mlp_report_result res;
    mlp_error err;
    CHECK(write_report(study, out, &res, &err) == MLP_OK);
    snprintf(path, sizeof path, "%s/figures/mnist_depth_784-128-32-10.svg", out);
    check_svg_file(path, 8, -1); /* 2 losses x (full, second half) x 2 architectures */
    char *svg = check_read_text(path);
    svg_info *info = malloc(sizeof *info);
    svg_inspect(svg, info);
    CHECK_INT(info->n_rects, 4);
    CHECK_INT(info->points[0], 20);
    CHECK_INT(info->points[2], 10);
    CHECK_CONTAINS(svg, "ce loss, epochs 11-20");
    /* the zoomed panel's lowest tick is above the full panel's: test acc at epoch 11 is 0.965 - 0.2 x 9 / 20 =
     * 0.875 at the lowest (2 layers, ce), against 0.765 at epoch 1 */
    const char *yt = strstr(svg, "<g class=\"yticks\"");
    const char *yt2 = yt ? strstr(yt + 1, "<g class=\"yticks\"") : NULL;
    double lo1 = yt ? atof(strchr(strstr(yt, "<text "), '>') + 1) : NAN;
    double lo2 = yt2 ? atof(strchr(strstr(yt2, "<text "), '>') + 1) : NAN;
    CHECK_MSG(lo1 <= 0.765 && lo2 > 0.8 && lo2 <= 0.875, "lowest y ticks %g (full), %g (second half)", lo1, lo2);
    free(info);
    free(svg);
    snprintf(path, sizeof path, "%s/figures/mnist_losses.svg", out);
    check_svg_file(path, 8, -1); /* test and train accuracy, full and second half, 2 losses */
}
