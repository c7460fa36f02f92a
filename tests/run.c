/* run.c - the test runner. Usage: mlp_tests [substring...]  (run only tests whose name contains one).
 * Environment: MLP_DATA (folder with the MNIST files; default data/mnist), MLP_TEST_SKIP_SLOW=1. */
#include "check.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TESTS 1024

static struct {
    const char *name;
    check_fn fn;
} tests[MAX_TESTS];
static int n_tests;
static int current_failed, current_skipped;
static char tmp_root[512];
static char tmp_current[600];
static int tmp_counter;

void check_register(const char *name, check_fn fn) {
    if (n_tests < MAX_TESTS) {
        tests[n_tests].name = name;
        tests[n_tests].fn = fn;
        n_tests++;
    }
}

void check_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    if (current_failed < 10) {
        fprintf(stdout, "    %s:%d: ", file, line);
        va_start(ap, fmt);
        vfprintf(stdout, fmt, ap);
        va_end(ap);
        fputc('\n', stdout);
    }
    current_failed++;
}

void check_skip(const char *why) {
    printf("    skipped: %s\n", why);
    current_skipped = 1;
}

static int file_exists(const char *dir, const char *name) {
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (stat(path, &st) == 0) return 1;
    snprintf(path, sizeof path, "%s/%s.gz", dir, name);
    return stat(path, &st) == 0;
}

const char *check_mnist_dir(void) {
    const char *dir = getenv("MLP_DATA");
    static char buf[1024];
    if (!dir || !*dir) dir = "data";
    if (file_exists(dir, "train-images-idx3-ubyte")) return dir;
    snprintf(buf, sizeof buf, "%s/mnist", dir);
    if (file_exists(buf, "train-images-idx3-ubyte")) return buf;
    return NULL;
}

const char *check_fashion_dir(void) {
    static char buf[1100];
    const char *data = getenv("MLP_DATA");
    char parent[1024] = ".";
    if (data && *data) {
        snprintf(parent, sizeof parent, "%s", data);
        size_t len = strlen(parent);
        while (len > 1 && parent[len - 1] == '/') parent[--len] = '\0';
        char *slash = strrchr(parent, '/');
        if (slash) *slash = '\0';
        else snprintf(parent, sizeof parent, ".");
    }
    const char *roots[3] = {parent, data && *data ? data : "data", "data"};
    for (int i = 0; i < 3; i++) {
        snprintf(buf, sizeof buf, "%s/fashion-mnist", roots[i]);
        if (file_exists(buf, "train-images-idx3-ubyte")) return buf;
    }
    return NULL;
}

char *check_read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) n = 0;
    if (s) s[n] = '\0';
    fclose(f);
    return s;
}

const char *check_tmpdir(void) {
    snprintf(tmp_current, sizeof tmp_current, "%s/t%d", tmp_root, ++tmp_counter);
    mkdir(tmp_current, 0700);
    return tmp_current;
}

const char *check_mlp_bin(void) {
    const char *b = getenv("MLP_BIN");
    return b && *b ? b : "build/mlp";
}

const char *check_small_model(void) {
    static char path[600];
    static int state; /* 0 not yet, 1 trained, -1 failed */
    if (state == 0) {
        const char *data = check_mnist_dir();
        char out[4096];
        snprintf(path, sizeof path, "%s/small-model/run/model.safetensors", tmp_root);
        state = data && check_sh(out, sizeof out, 1,
                                 "'%s' train --data '%s' --epochs 3 --hidden 128 --act relu --loss ce "
                                 "--grad-reduction mean --lr 0.05 --quiet --out '%s/small-model/run'",
                                 check_mlp_bin(), data, tmp_root) == 0
                    ? 1
                    : -1;
        if (state < 0) fprintf(stderr, "    check_small_model: training failed: %s\n", data ? out : "no MNIST");
    }
    return state > 0 ? path : NULL;
}

int check_sh(char *out, size_t size, int merge, const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    strncat(cmd, merge ? " 2>&1" : " 2>/dev/null", sizeof cmd - strlen(cmd) - 1);
    fflush(stdout);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    char sink[4096];
    while (fread(sink, 1, sizeof sink, p) > 0) {
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(int argc, char **argv) {
    int passed = 0, failed = 0, skipped = 0;
    char cmd[600];
    snprintf(tmp_root, sizeof tmp_root, "/tmp/mlp-tests-XXXXXX");
    if (!mkdtemp(tmp_root)) {
        perror("mkdtemp");
        return 1;
    }
    for (int i = 0; i < n_tests; i++) {
        if (argc > 1) {
            int match = 0;
            for (int a = 1; a < argc; a++)
                if (strstr(tests[i].name, argv[a])) match = 1;
            if (!match) continue;
        }
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        current_failed = 0;
        current_skipped = 0;
        tests[i].fn();
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        if (current_failed) {
            printf("  FAIL %s (%d failed checks, %.2fs)\n", tests[i].name, current_failed, s);
            failed++;
        } else if (current_skipped) {
            printf("  skip %s\n", tests[i].name);
            skipped++;
        } else {
            printf("  ok   %s (%.2fs)\n", tests[i].name, s);
            passed++;
        }
        fflush(stdout);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp_root);
    if (skipped)
        printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    else
        printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
