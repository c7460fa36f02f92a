/* cli.c - helpers shared by the subcommands (see cli.h). */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *prog = "mlp";


void die(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s: error: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(EXIT_FAILURE);
}

/* --list-options: the names is() was asked about, in order, without repeats */
static int listing;
static const char *listed[512];
static int n_listed;

static const struct {
    const char *shrt, *lng;
} short_forms[] = {{"-o", "--out"},     {"-q", "--quiet"}, {"-e", "--epochs"}, {"-d", "--data"},
                   {"-t", "--threads"}, {"-j", "--jobs"},  {"-s", "--seed"},   {"-k", "--top"},
                   {"-h", "--help"}};

static void list_and_exit(void) {
    for (int i = 0; i < n_listed; i++) {
        if (listed[i][1] != '-') continue; /* a short form: printed beside its long one */
        printf("%s", listed[i]);
        for (size_t k = 0; k < sizeof short_forms / sizeof *short_forms; k++)
            if (!strcmp(listed[i], short_forms[k].lng)) printf(" %s", short_forms[k].shrt);
        printf("\n");
    }
    exit(0);
}

static void note(const char *name) {
    for (int i = 0; i < n_listed; i++)
        if (!strcmp(listed[i], name)) return;
    if (n_listed < (int)(sizeof listed / sizeof *listed)) listed[n_listed++] = name;
}

void die_usage(const char *fmt, ...) {
    if (listing) list_and_exit(); /* the parser reached its end: every option has been compared */
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see '%s --help')\n", prog);
    exit(EXIT_USAGE);
}

void die_err(const mlp_error *err) { die("%s", err->msg); }

/* ------------------------------------------------------------------ option values */

/* strtod and strtol skip leading white space but stop at trailing; accept neither. */
static void no_space(const char *opt, const char *s) {
    if (*s && (isspace((unsigned char)*s) || isspace((unsigned char)s[strlen(s) - 1])))
        die_usage("%s: '%s' must be a value without spaces", opt, s);
}

double parse_double(const char *opt, const char *s, double lo, double hi) {
    no_space(opt, s);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
        die_usage("%s: '%s' is not a number", opt, s);
    if (v < lo || v > hi) die_usage("%s: %s is out of range [%g, %g]", opt, s, lo, hi);
    return v;
}

long parse_long(const char *opt, const char *s, long lo, long hi) {
    no_space(opt, s);
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE) die_usage("%s: '%s' is not an integer", opt, s);
    if (v < lo || v > hi) die_usage("%s: %s is out of range [%ld, %ld]", opt, s, lo, hi);
    return v;
}

uint64_t parse_u64(const char *opt, const char *s) {
    no_space(opt, s);
    char *end;
    errno = 0;
    if (*s == '-') die_usage("%s: '%s' must be a non-negative integer", opt, s);
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE) die_usage("%s: '%s' is not a non-negative integer", opt, s);
    return (uint64_t)v;
}

/* "4G", "512M", "1.5G", "65536" (bytes; K, M, G, T are powers of 1024, an optional trailing B or iB). */
size_t parse_size(const char *opt, const char *s) {
    char *end = NULL;
    if (!((*s >= '0' && *s <= '9') || *s == '.')) die_usage("%s: '%s' is not a size (e.g. 512M, 4G)", opt, s);
    errno = 0;
    double v = strtod(s, &end);
    if (errno == ERANGE || !isfinite(v)) die_usage("%s: '%s' is not a size (e.g. 512M, 4G)", opt, s);
    double unit = 1;
    const char *u = "KMGT";
    if (*end && strchr(u, *end)) {
        for (const char *p = u; *p; p++) {
            unit *= 1024;
            if (*p == *end) break;
        }
        end++;
        if (*end == 'i') end++;
        if (*end == 'B') end++;
    } else if (*end == 'B') {
        end++;
    }
    if (*end != '\0') die_usage("%s: '%s' is not a size (e.g. 512M, 4G; units K, M, G, T)", opt, s);
    v *= unit;
    if (v < 1 || v > 1e18) die_usage("%s: %s is out of range [1, 1e18 bytes]", opt, s);
    return (size_t)v;
}

int opts_next(opts *o) {
    if (o->i >= o->argc) return 0;
    const char *a = o->argv[o->i++];
    o->inline_value = NULL;
    if (!o->rest && !strcmp(a, "--")) {
        o->rest = 1;
        return opts_next(o);
    }
    if (!o->rest && !strcmp(a, "--list-options")) listing = 1;
    const char *eq = !o->rest && strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
    if (eq && (size_t)(eq - a) < sizeof o->namebuf) {
        memcpy(o->namebuf, a, (size_t)(eq - a));
        o->namebuf[eq - a] = '\0';
        o->name = o->namebuf;
        o->inline_value = eq + 1;
    } else {
        o->name = a;
    }
    return 1;
}

const char *opts_value(opts *o) {
    if (o->inline_value) return o->inline_value;
    if (o->i >= o->argc) die_usage("%s needs a value", o->name);
    return o->argv[o->i++];
}

int opts_match(const char *given, const char *name) {
    if (listing) {
        note(name);
        return 0;
    }
    return strcmp(given, name) == 0;
}

int is(const opts *o, const char *name) {
    if (listing) {
        note(name);
        return 0;
    }
    if (o->rest) return 0;
    if (!strcmp(o->name, name)) return 1;
    for (size_t k = 0; k < sizeof short_forms / sizeof *short_forms; k++)
        if (!strcmp(name, short_forms[k].lng) && !strcmp(o->name, short_forms[k].shrt)) return 1;
    return 0;
}

int is_option(const opts *o) { return !o->rest && o->name[0] == '-' && o->name[1]; }

/* ------------------------------------------------------------------ names */

static void list_names(char *buf, size_t size, const char *(*name)(int), int count) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < count && used < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", name(i));
        if (w < 0) break;
        used += (size_t)w;
    }
}
static const char *act_name_i(int i) { return mlp_act_name((mlp_act)i); }
static const char *loss_name_i(int i) { return mlp_loss_name((mlp_loss)i); }
static const char *kernels_name_i(int i) { return mlp_kernels_name((mlp_kernels)i); }

mlp_act parse_act(const char *s) {
    mlp_act a;
    char names[256];
    if (mlp_act_parse(s, &a) == 0) return a;
    list_names(names, sizeof names, act_name_i, MLP_ACT_COUNT);
    die_usage("--act: unknown activation '%s' (choose one of: %s)", s, names);
    return MLP_ACT_RELU;
}

mlp_loss parse_loss(const char *s) {
    mlp_loss l;
    char names[256];
    if (mlp_loss_parse(s, &l) == 0) return l;
    list_names(names, sizeof names, loss_name_i, MLP_LOSS_COUNT);
    die_usage("--loss: unknown loss '%s' (choose one of: %s)", s, names);
    return MLP_LOSS_CE;
}

mlp_kernels parse_kernels(const char *opt, const char *s) {
    mlp_kernels k;
    char names[256];
    if (mlp_kernels_parse(s, &k) == 0) return k;
    list_names(names, sizeof names, kernels_name_i, MLP_KERNELS_COUNT);
    die_usage("%s: unknown kernel path '%s' (choose one of: %s)", opt, s, names);
    return MLP_KERNELS_AUTO;
}

/* The kernel path: --kernels wins, else MLP_KERNELS in the environment, else auto. */
mlp_kernels kernels_from_env(void) {
    const char *e = getenv("MLP_KERNELS");
    return e && *e ? parse_kernels("MLP_KERNELS", e) : MLP_KERNELS_AUTO;
}

/* "0.1", or one value per class separated by commas (the caller checks the count against the classes) */
float *parse_focal_alpha(const char *s, int *count) {
    float *v = NULL;
    int n = 0;
    const char *p = s;
    for (;;) {
        char *end;
        errno = 0;
        double x = strtod(p, &end);
        if (end == p || (*end != ',' && *end != '\0') || !isfinite(x) || x < 0)
            die_usage("--focal-alpha: '%s' must be one non-negative number or one per class separated by commas", s);
        if (n >= (1 << 20)) die_usage("--focal-alpha: too many values in '%s'", s);
        float *grown = realloc(v, sizeof *v * (size_t)(n + 1));
        if (!grown) die("out of memory");
        v = grown;
        v[n++] = (float)x;
        if (*end == '\0') break;
        p = end + 1;
    }
    *count = n;
    return v;
}

/* ------------------------------------------------------------------ data */

/* The folder with the dataset: --data, else $MLP_DATA/<dataset>, else data/<dataset>. A --data folder
 * that does not hold the files itself but has a <dataset> subfolder is accepted too. */
void die_data(const mlp_error *err, const char *dataset, const char *dir) {
    const char *cut = err->code == MLP_ERR_IO ? strstr(err->msg, " (also tried .gz)") : NULL;
    if (!cut) die_err(err);
    die("%.*s (also tried .gz): the %s data is not in %s; download it with `mlp fetch %s %s`, or pass --data DIR",
        (int)(cut - err->msg), err->msg, dataset, dir, dataset, dir);
}

void data_dir(char *buf, size_t size, const char *data_opt, const char *dataset) {
    struct stat st;
    if (data_opt) {
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", data_opt, dataset);
        char probe1[4200], probe2[4200];
        snprintf(probe1, sizeof probe1, "%s/train-images-idx3-ubyte", data_opt);
        snprintf(probe2, sizeof probe2, "%s/train-images-idx3-ubyte.gz", data_opt);
        if (stat(probe1, &st) != 0 && stat(probe2, &st) != 0 && stat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            snprintf(buf, size, "%s", sub);
        else
            snprintf(buf, size, "%s", data_opt);
        return;
    }
    const char *root = getenv("MLP_DATA");
    snprintf(buf, size, "%s/%s", root && *root ? root : "data", dataset);
}

const char *check_dataset(const char *s) {
    if (strcmp(s, "mnist") && strcmp(s, "fashion-mnist"))
        die_usage("--dataset: unknown dataset '%s' (choose one of: mnist, fashion-mnist)", s);
    return s;
}

/* ------------------------------------------------------------------ files */

void mkdir_p(const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) die("output folder '%s': path empty or too long", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                die("cannot create folder '%s': %s", buf, strerror(errno));
            buf[i] = c;
        }
    }
}

void write_text_atomic(const char *dir, const char *name, const sbuf *b) {
    char path[4200];
    mlp_error err;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (b->oom) die("out of memory while writing %s", path);
    if (mlp_write_file_atomic(path, sbuf_str(b), b->len, &err)) die_err(&err);
}
