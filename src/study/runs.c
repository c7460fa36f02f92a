/* runs.c - read and validate run folders (config.json + metrics.csv + model.safetensors); see report.h. */
#include "report.h"
#include "runcfg.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const setting_keys[MLP_SET_COUNT] = {
    "grad_reduction", "lr",           "wd",          "momentum",    "batch",   "epochs",
    "init_std",       "hinge_margin", "focal_gamma", "focal_alpha", "shuffle", "init_model",
    "optimizer",      "nesterov",     "beta1",       "beta2",       "eps",     "schedule",
    "warmup_epochs",  "step_epochs",  "step_gamma",  "min_lr",      "dropout", "early_stop",
    "monitor",
};
const char *mlp_run_setting_key(int i) { return i >= 0 && i < MLP_SET_COUNT ? setting_keys[i] : "?"; }

const char *mlp_run_state_name(mlp_run_state s) {
    switch (s) {
    case MLP_RUN_ABSENT:
        return "absent";
    case MLP_RUN_EMPTY:
        return "empty";
    case MLP_RUN_FOREIGN:
        return "not a run folder";
    case MLP_RUN_BROKEN:
        return "broken";
    case MLP_RUN_UNFINISHED:
        return "unfinished";
    case MLP_RUN_FINISHED:
        return "finished";
    }
    return "?";
}

void mlp_run_free(mlp_run *r) {
    if (!r) return;
    for (int i = 0; i < r->n_command; i++) free(r->command[i]);
    free(r->command);
    free(r->m);
    r->command = NULL;
    r->n_command = 0;
    r->m = NULL;
    r->n = 0;
}

static int path_join(char *buf, size_t size, const char *dir, const char *name) {
    int w = snprintf(buf, size, "%s/%s", dir, name);
    return w >= 0 && (size_t)w < size ? 0 : -1;
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Read a whole (small) file into a malloc'ed NUL-terminated buffer. */
static mlp_status slurp(const char *path, char **out, size_t *len, mlp_error *err) {
    uint8_t *buf;
    mlp_status st = mlp_read_file(path, &buf, len, (size_t)64 << 20, err);
    if (st) return st;
    char *s = realloc(buf, *len + 1);
    if (!s) {
        free(buf);
        return mlp_fail(err, MLP_ERR_NOMEM, "%s: out of memory", path);
    }
    s[*len] = '\0';
    *out = s;
    return MLP_OK;
}

/* ------------------------------------------------------------------ metrics.csv */

static const char *const metric_cols[7] = {"epoch",    "train_loss", "train_acc", "test_loss",
                                           "test_acc", "lr",         "seconds"};

/* Split line [p, end) at commas into at most max fields (pointers into a scratch copy). Returns the count. */
static int split_fields(char *line, char **fields, int max) {
    int n = 0;
    char *p = line;
    for (;;) {
        if (n < max) fields[n] = p;
        n++;
        char *c = strchr(p, ',');
        if (!c) break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

static int parse_num(const char *s, double *v) {
    char *end;
    if (!*s) return -1;
    errno = 0;
    *v = strtod(s, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(*v)) return -1;
    return 0;
}

#define MAX_CSV_COLS 64

mlp_status mlp_metrics_parse(const char *text, size_t len, mlp_epoch_metrics **out, int *n_out, mlp_error *err) {
    *out = NULL;
    *n_out = 0;
    if (memchr(text, '\0', len)) return mlp_fail(err, MLP_ERR_FORMAT, "metrics.csv: contains a NUL byte");
    if (len == 0) return mlp_fail(err, MLP_ERR_FORMAT, "metrics.csv: empty file (expected a header line)");
    if (text[len - 1] != '\n')
        return mlp_fail(err, MLP_ERR_FORMAT,
                        "metrics.csv: the last line is incomplete (no newline): half-written file");
    /* a private copy, cut into lines */
    char *buf = malloc(len + 1);
    if (!buf) return mlp_fail(err, MLP_ERR_NOMEM, "metrics.csv: out of memory");
    memcpy(buf, text, len);
    buf[len] = '\0';
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
    mlp_epoch_metrics *m = calloc(lines > 0 ? lines : 1, sizeof *m);
    if (!m) {
        free(buf);
        return mlp_fail(err, MLP_ERR_NOMEM, "metrics.csv: out of memory");
    }
    mlp_status st = MLP_OK;
    int col_of[7]; /* column index of each wanted field */
    int ncols = 0, n = 0;
    char *fields[MAX_CSV_COLS];
    char *p = buf;
    for (size_t ln = 1; *p; ln++) {
        char *nl = strchr(p, '\n');
        *nl = '\0';
        if (nl > p && nl[-1] == '\r') nl[-1] = '\0';
        if (ln == 1) {
            ncols = split_fields(p, fields, MAX_CSV_COLS);
            if (ncols > MAX_CSV_COLS) {
                st = mlp_fail(err, MLP_ERR_FORMAT, "metrics.csv: header has %d columns (at most %d)", ncols,
                              MAX_CSV_COLS);
                break;
            }
            for (int c = 0; c < 7; c++) {
                col_of[c] = -1;
                for (int j = 0; j < ncols; j++)
                    if (!strcmp(fields[j], metric_cols[c])) col_of[c] = j;
                if (col_of[c] < 0) {
                    st = mlp_fail(err, MLP_ERR_FORMAT,
                                  "metrics.csv: header has no '%s' column (expected "
                                  "epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds)",
                                  metric_cols[c]);
                    break;
                }
            }
            if (st) break;
        } else {
            if (*p == '\0') {
                st = mlp_fail(err, MLP_ERR_FORMAT, "metrics.csv line %zu: empty line", ln);
                break;
            }
            int nf = split_fields(p, fields, MAX_CSV_COLS);
            if (nf != ncols) {
                st = mlp_fail(err, MLP_ERR_FORMAT, "metrics.csv line %zu: %d fields, expected %d as in the header", ln,
                              nf, ncols);
                break;
            }
            double v[7];
            for (int c = 0; c < 7 && !st; c++)
                if (parse_num(fields[col_of[c]], &v[c]) != 0)
                    st = mlp_fail(err, MLP_ERR_FORMAT, "metrics.csv line %zu: %s '%s' is not a finite number", ln,
                                  metric_cols[c], fields[col_of[c]]);
            if (st) break;
            if (v[0] != (double)(n + 1)) {
                st = mlp_fail(err, MLP_ERR_FORMAT,
                              "metrics.csv line %zu: epoch %s, expected %d (epochs count 1, 2, ...)", ln,
                              fields[col_of[0]], n + 1);
                break;
            }
            if (v[2] < 0 || v[2] > 1 || v[4] < 0 || v[4] > 1) {
                st = mlp_fail(err, MLP_ERR_FORMAT, "metrics.csv line %zu: accuracy outside [0, 1]", ln);
                break;
            }
            if (v[6] < 0) {
                st = mlp_fail(err, MLP_ERR_FORMAT, "metrics.csv line %zu: negative seconds", ln);
                break;
            }
            mlp_epoch_metrics *e = &m[n++];
            e->epoch = (int)v[0];
            e->train_loss = v[1];
            e->train_acc = v[2];
            e->test_loss = v[3];
            e->test_acc = v[4];
            e->lr = v[5];
            e->seconds = v[6];
        }
        p = nl + 1;
    }
    free(buf);
    if (st) {
        free(m);
        return st;
    }
    *out = m;
    *n_out = n;
    return MLP_OK;
}

/* ------------------------------------------------------------------ config.json */

static int copy_str(char *dst, size_t size, const char *src) {
    if (!src) return -1;
    size_t n = strlen(src);
    if (n >= size) return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

/* The canonical text of a setting's JSON value: shortest round-trip numbers, strings as they are, booleans,
 * arrays joined by commas (all-equal arrays collapse to one value: "0.1" for ten 0.1s), null as "none". */
static void setting_text(char *buf, size_t size, const json_value *v) {
    buf[0] = '\0';
    if (!v) return;
    char num[40];
    int b;
    switch (v->type) {
    case JSON_NULL:
        snprintf(buf, size, "none");
        break;
    case JSON_BOOL:
        json_bool(v, &b);
        snprintf(buf, size, "%s", b ? "true" : "false");
        break;
    case JSON_NUMBER:
        json_format_double(num, sizeof num, v->u.num.d);
        snprintf(buf, size, "%s", num);
        break;
    case JSON_STRING:
        snprintf(buf, size, "%s", json_string(v) ? json_string(v) : "?");
        break;
    case JSON_ARRAY: {
        size_t n = json_count(v), used = 0;
        int all_same = n > 0;
        for (size_t i = 1; i < n && all_same; i++) {
            double a, c;
            if (json_double(json_at(v, 0), &a) || json_double(json_at(v, i), &c) || a != c) all_same = 0;
        }
        for (size_t i = 0; i < (all_same ? 1 : n) && used + 1 < size; i++) {
            double d;
            if (json_double(json_at(v, i), &d)) snprintf(num, sizeof num, "?");
            else json_format_double(num, sizeof num, d);
            int w = snprintf(buf + used, size - used, "%s%s", i ? "," : "", num);
            if (w < 0) break;
            used += (size_t)w;
        }
        break;
    }
    case JSON_OBJECT:
        snprintf(buf, size, "{...}");
        break;
    }
}

static mlp_status parse_config(mlp_run *r, const char *text, size_t len, mlp_error *err) {
    json_doc doc;
    mlp_error jerr;
    if (json_parse(&doc, text, len, NULL, &jerr)) return mlp_fail(err, MLP_ERR_FORMAT, "config.json: %s", jerr.msg);
    const json_value *root = doc.root;
    mlp_status st = MLP_OK;
    if (root->type != JSON_OBJECT) {
        st = mlp_fail(err, MLP_ERR_FORMAT, "config.json: expected an object, got %s", json_kind(root));
        goto done;
    }
    /* required strings */
    struct {
        const char *key;
        char *dst;
        size_t size;
    } strs[] = {
        {"dataset", r->dataset, sizeof r->dataset},
        {"arch", r->arch, sizeof r->arch},
        {"act", r->act, sizeof r->act},
        {"loss", r->loss, sizeof r->loss},
    };
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) {
        const json_value *v = json_get(root, strs[i].key);
        const char *s = json_string(v);
        if (!s || !*s || copy_str(strs[i].dst, strs[i].size, s) != 0) {
            st = mlp_fail(err, MLP_ERR_FORMAT,
                          "config.json: \"%s\" must be a non-empty string of at most %zu bytes, got %s", strs[i].key,
                          strs[i].size - 1, json_kind(v));
            goto done;
        }
    }
    /* optional strings */
    copy_str(r->version, sizeof r->version, json_string(json_get(root, "mlp_version")));
    copy_str(r->kernels, sizeof r->kernels, json_string(json_get(root, "kernels")));
    copy_str(r->data, sizeof r->data, json_string(json_get(root, "data")));
    /* hidden: an array of positive integers */
    const json_value *hid = json_get(root, "hidden");
    if (!hid || hid->type != JSON_ARRAY || json_count(hid) >= MLP_MAX_LAYERS) {
        st = mlp_fail(err, MLP_ERR_FORMAT, "config.json: \"hidden\" must be an array of at most %d widths, got %s",
                      MLP_MAX_LAYERS - 1, json_kind(hid));
        goto done;
    }
    r->n_hidden = (int)json_count(hid);
    for (int i = 0; i < r->n_hidden; i++) {
        int64_t w;
        if (json_int64(json_at(hid, (size_t)i), &w) || w < 1) {
            st = mlp_fail(err, MLP_ERR_FORMAT, "config.json: \"hidden\"[%d] must be a positive integer", i);
            goto done;
        }
    }
    int64_t ep, seed, thr;
    if (json_int64(json_get(root, "epochs"), &ep) || ep < 1 || ep > 100000000) {
        st = mlp_fail(err, MLP_ERR_FORMAT, "config.json: \"epochs\" must be a positive integer");
        goto done;
    }
    r->epochs = (int)ep;
    if (json_int64(json_get(root, "seed"), &seed) || seed < 0) {
        st = mlp_fail(err, MLP_ERR_FORMAT, "config.json: \"seed\" must be a non-negative integer");
        goto done;
    }
    r->seed = (uint64_t)seed;
    if (json_int64(json_get(root, "threads"), &thr) == 0 && thr > 0 && thr < 100000) r->threads = (int)thr;
    for (int i = 0; i < MLP_SET_COUNT; i++) {
        setting_text(r->setting[i], sizeof r->setting[i], json_get(root, setting_keys[i]));
        /* a folder written before the setting existed ran with its default (runcfg.h's table) */
        char dflt[64];
        json_doc d;
        if (!json_get(root, setting_keys[i]) && rc_json_default(setting_keys[i], dflt, sizeof dflt) &&
            json_parse(&d, dflt, strlen(dflt), NULL, &jerr) == MLP_OK) {
            setting_text(r->setting[i], sizeof r->setting[i], d.root);
            json_free(&d);
        }
    }
    /* the command line, kept as strings (the sweep compares it with the one it would run) */
    const json_value *cmd = json_get(root, "command");
    if (cmd && cmd->type == JSON_ARRAY && json_count(cmd) > 0) {
        size_t n = json_count(cmd);
        r->command = calloc(n, sizeof *r->command);
        if (!r->command) {
            st = mlp_fail(err, MLP_ERR_NOMEM, "config.json: out of memory");
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            const char *s = json_string(json_at(cmd, i));
            r->command[i] = strdup(s ? s : "");
            if (!r->command[i]) {
                st = mlp_fail(err, MLP_ERR_NOMEM, "config.json: out of memory");
                goto done;
            }
            r->n_command = (int)i + 1;
        }
    }
done:
    json_free(&doc);
    return st;
}

/* ------------------------------------------------------------------ a folder */

static int dir_empty(const char *path) {
    DIR *d = opendir(path);
    if (!d) return 0;
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = 0;
    closedir(d);
    return empty;
}

mlp_run_state mlp_run_probe(const char *dir, mlp_run *r, mlp_error *why) {
    memset(r, 0, sizeof *r);
    mlp_fail(why, MLP_OK, "%s", "");
    if (copy_str(r->dir, sizeof r->dir, dir) != 0) {
        mlp_fail(why, MLP_ERR_ARG, "path too long");
        return MLP_RUN_FOREIGN;
    }
    /* name: the last non-empty path component */
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/') b--;
    snprintf(r->name, sizeof r->name, "%.*s", (int)(n - b), dir + b);

    struct stat st;
    if (stat(dir, &st) != 0) {
        int e = errno;
        mlp_fail(why, MLP_ERR_IO, "%s", e == ENOENT ? "no such folder" : strerror(e));
        return e == ENOENT ? MLP_RUN_ABSENT : MLP_RUN_FOREIGN;
    }
    if (!S_ISDIR(st.st_mode)) {
        mlp_fail(why, MLP_ERR_FORMAT, "not a folder");
        return MLP_RUN_FOREIGN;
    }
    if (dir_empty(dir)) {
        mlp_fail(why, MLP_ERR_FORMAT, "empty folder");
        return MLP_RUN_EMPTY;
    }
    char path[MLP_RUN_PATH_MAX + 64];
    char *text = NULL;
    size_t len;
    mlp_error e;
    path_join(path, sizeof path, dir, "config.json");
    if (!file_exists(path)) {
        mlp_fail(why, MLP_ERR_FORMAT, "no config.json: not a run folder");
        return MLP_RUN_FOREIGN;
    }
    if (slurp(path, &text, &len, &e)) {
        mlp_fail(why, e.code, "%s", e.msg);
        return MLP_RUN_BROKEN;
    }
    mlp_status s = parse_config(r, text, len, &e);
    free(text);
    if (s) {
        mlp_fail(why, s, "%s", e.msg);
        return MLP_RUN_BROKEN;
    }
    path_join(path, sizeof path, dir, "model.safetensors");
    r->has_model = file_exists(path);
    path_join(path, sizeof path, dir, "metrics.csv");
    if (file_exists(path)) {
        if (slurp(path, &text, &len, &e)) {
            mlp_fail(why, e.code, "%s", e.msg);
            return MLP_RUN_BROKEN;
        }
        s = mlp_metrics_parse(text, len, &r->m, &r->n, &e);
        free(text);
        if (s) {
            mlp_fail(why, s, "%s", e.msg);
            return MLP_RUN_BROKEN;
        }
    }
    for (int i = 0; i < r->n; i++) r->total_seconds += r->m[i].seconds;
    if (r->n > r->epochs) {
        mlp_fail(why, MLP_ERR_FORMAT, "metrics.csv has %d epochs but config.json asks for %d", r->n, r->epochs);
        return MLP_RUN_BROKEN;
    }
    if (r->n < r->epochs || !r->has_model) {
        mlp_fail(why, MLP_ERR_FORMAT, "unfinished: %d of %d epochs%s", r->n, r->epochs,
                 r->has_model ? "" : ", no model.safetensors");
        return MLP_RUN_UNFINISHED;
    }
    r->finished = 1;
    return MLP_RUN_FINISHED;
}

/* ------------------------------------------------------------------ a set of runs */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static mlp_status add_skipped(mlp_run_set *set, const char *dir, const char *why, mlp_error *err) {
    mlp_skipped_run *s = realloc(set->skipped, (size_t)(set->n_skipped + 1) * sizeof *s);
    if (!s) return mlp_fail(err, MLP_ERR_NOMEM, "out of memory");
    set->skipped = s;
    snprintf(s[set->n_skipped].dir, sizeof s->dir, "%s", dir);
    snprintf(s[set->n_skipped].why, sizeof s->why, "%s", why);
    set->n_skipped++;
    return MLP_OK;
}

static mlp_status add_run(mlp_run_set *set, const char *dir, int finished_only, mlp_error *err) {
    mlp_run r;
    mlp_error why;
    mlp_run_state st = mlp_run_probe(dir, &r, &why);
    int keep = st == MLP_RUN_FINISHED || (!finished_only && st == MLP_RUN_UNFINISHED && r.n > 0);
    if (!keep) {
        mlp_run_free(&r);
        return add_skipped(set, dir, why.msg, err);
    }
    mlp_run *runs = realloc(set->runs, (size_t)(set->n + 1) * sizeof *runs);
    if (!runs) {
        mlp_run_free(&r);
        return mlp_fail(err, MLP_ERR_NOMEM, "out of memory");
    }
    set->runs = runs;
    set->runs[set->n++] = r;
    return MLP_OK;
}

mlp_status mlp_runs_scan(mlp_run_set *set, const char *const *paths, int n_paths, int finished_only, mlp_error *err) {
    memset(set, 0, sizeof *set);
    for (int p = 0; p < n_paths; p++) {
        const char *path = paths[p];
        char cfg[MLP_RUN_PATH_MAX + 64];
        struct stat st;
        int bad = stat(path, &st) != 0 ? errno : 0;
        if (bad || !S_ISDIR(st.st_mode)) {
            mlp_run_set_free(set);
            return mlp_fail(err, MLP_ERR_IO, "%s: %s", path, bad ? strerror(bad) : "not a folder");
        }
        if (strlen(path) >= MLP_RUN_PATH_MAX - 300) {
            mlp_run_set_free(set);
            return mlp_fail(err, MLP_ERR_ARG, "%s: path too long", path);
        }
        path_join(cfg, sizeof cfg, path, "config.json");
        mlp_status s;
        if (file_exists(cfg)) {
            s = add_run(set, path, finished_only, err);
            if (s) {
                mlp_run_set_free(set);
                return s;
            }
            continue;
        }
        /* a study: its sub-folders, in name order */
        DIR *d = opendir(path);
        if (!d) {
            mlp_run_set_free(set);
            return mlp_fail(err, MLP_ERR_IO, "%s: cannot open folder: %s", path, strerror(errno));
        }
        char **names = NULL;
        size_t nn = 0;
        struct dirent *e;
        s = MLP_OK;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char sub[MLP_RUN_PATH_MAX + 300];
            if (path_join(sub, sizeof sub, path, e->d_name) != 0 || stat(sub, &st) != 0 || !S_ISDIR(st.st_mode))
                continue;
            char **nn2 = realloc(names, (nn + 1) * sizeof *names);
            char *dup = strdup(e->d_name);
            if (!nn2 || !dup) {
                free(dup);
                if (nn2) names = nn2;
                s = mlp_fail(err, MLP_ERR_NOMEM, "out of memory");
                break;
            }
            names = nn2;
            names[nn++] = dup;
        }
        closedir(d);
        if (!s && nn > 1) qsort(names, nn, sizeof *names, cmp_str);
        for (size_t i = 0; i < nn && !s; i++) {
            char sub[MLP_RUN_PATH_MAX];
            if (path_join(sub, sizeof sub, path, names[i]) != 0) {
                s = add_skipped(set, names[i], "path too long", err);
                continue;
            }
            char subcfg[MLP_RUN_PATH_MAX + 64];
            path_join(subcfg, sizeof subcfg, sub, "config.json");
            if (!strcmp(names[i], "logs") && !file_exists(subcfg)) continue; /* mlp sweep's training logs */
            s = add_run(set, sub, finished_only, err);
        }
        for (size_t i = 0; i < nn; i++) free(names[i]);
        free(names);
        if (s) {
            mlp_run_set_free(set);
            return s;
        }
    }
    return MLP_OK;
}

void mlp_run_set_free(mlp_run_set *set) {
    for (int i = 0; i < set->n; i++) mlp_run_free(&set->runs[i]);
    free(set->runs);
    free(set->skipped);
    memset(set, 0, sizeof *set);
}
