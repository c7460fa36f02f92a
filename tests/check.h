/* check.h - the test harness: TEST(name) registers a test; CHECK* record failures with file:line.
 * Tests run in registration order from tests/run.c, which prints "N passed, M failed". */
#ifndef MLP_CHECK_H
#define MLP_CHECK_H

#include <math.h>
#include <stdio.h>

typedef void (*check_fn)(void);
void check_register(const char *name, check_fn fn);
void check_fail(const char *file, int line, const char *fmt, ...);
/* Directory with the four MNIST files, or NULL when tests that need MNIST must be skipped. */
const char *check_mnist_dir(void);
/* Fashion-MNIST beside the MNIST folder (MLP_DATA's parent), in MLP_DATA itself, or in data/; NULL when absent. */
const char *check_fashion_dir(void);
/* A whole file as a malloc'ed NUL-terminated string (free it), or NULL when it cannot be read. */
char *check_read_text(const char *path);
/* A fresh empty temporary directory for this test (removed by the runner at the end). */
const char *check_tmpdir(void);
void check_skip(const char *why);
/* A small MNIST model trained once per test run by the CLI (784-128-10 relu, ce, 3 epochs, about 95%
 * test accuracy): its model.safetensors, or NULL when MNIST is missing or training failed. */
const char *check_small_model(void);
/* The mlp binary under test: $MLP_BIN, else build/mlp. */
const char *check_mlp_bin(void);
/* Run a shell command (printf-style) with its stdout -- and stderr too when merge -- captured into out
 * (cut at size - 1 bytes; the rest is drained so the command never blocks). Returns the exit status, or
 * -1 when the command could not start or was killed by a signal (a crash). */
int check_sh(char *out, size_t size, int merge, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define TEST(name)                                                                 \
    static void name(void);                                                        \
    __attribute__((constructor)) static void name##_register(void) {               \
        check_register(#name, name);                                               \
    }                                                                              \
    static void name(void)

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond)) check_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);          \
    } while (0)

#define CHECK_MSG(cond, ...)                                                       \
    do {                                                                           \
        if (!(cond)) check_fail(__FILE__, __LINE__, __VA_ARGS__);                  \
    } while (0)

/* |a - b| <= tol (both finite) */
#define CHECK_NEAR(a, b, tol)                                                      \
    do {                                                                           \
        double check_a_ = (double)(a), check_b_ = (double)(b), check_t_ = (tol);   \
        if (!(isfinite(check_a_) && isfinite(check_b_) &&                          \
              fabs(check_a_ - check_b_) <= check_t_))                              \
            check_fail(__FILE__, __LINE__, "CHECK_NEAR(%s, %s): %.9g vs %.9g (tol %g)", \
                       #a, #b, check_a_, check_b_, check_t_);                      \
    } while (0)

#define CHECK_INT(a, b)                                                            \
    do {                                                                           \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);            \
        if (check_a_ != check_b_)                                                  \
            check_fail(__FILE__, __LINE__, "CHECK_INT(%s, %s): %lld vs %lld", #a, #b, \
                       check_a_, check_b_);                                        \
    } while (0)

/* substring check on error messages */
#define CHECK_CONTAINS(haystack, needle)                                           \
    do {                                                                           \
        const char *check_h_ = (haystack), *check_n_ = (needle);                   \
        if (!check_h_ || !strstr(check_h_, check_n_))                              \
            check_fail(__FILE__, __LINE__, "expected \"%s\" to contain \"%s\"",    \
                       check_h_ ? check_h_ : "(null)", check_n_);                  \
    } while (0)

#endif
