/* test_python.c - the Python package (python/, import name mlp) inside `make test`.
 *
 * Each test runs one script of tests/python/ with Debian's interpreter ($MLP_PYTHON, default /usr/bin/python3)
 * after `make python` has linked the extension with this build's libmlp.a:
 *   test_estimator.py  the estimator's values, errors, pickling, Ctrl-C, repeatability (needs numpy)
 *   test_sklearn.py    scikit-learn's check_estimator and pipelines (needs scikit-learn)
 *   test_cli.py        Python and the CLI give the same models and predictions on MNIST
 * and python_pip_install builds the package from a copy of the sources with pip in a fresh venv (offline,
 * --no-build-isolation) and checks it trains bit for bit like the make build (slow: skipped with
 * MLP_TEST_SKIP_SLOW=1). All are skipped when the interpreter lacks numpy (or scikit-learn, for the checks),
 * and in sanitizer builds (the extension would need the sanitizer runtime preloaded into Python). */
#define _XOPEN_SOURCE 700 /* realpath */
#include "check.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *python_bin(void) {
    const char *p = getenv("MLP_PYTHON");
    return p && *p ? p : "/usr/bin/python3";
}

/* The build folder of $MLP_BIN (absolute) into build; 0 when it is a sanitizer build or cannot be found. */
static int build_dir(char *build, size_t size, const char **why) {
    const char *bin = check_mlp_bin();
    char abs[PATH_MAX];
    if (!realpath(bin, abs)) {
        *why = "the mlp binary ($MLP_BIN) was not found";
        return 0;
    }
    char *slash = strrchr(abs, '/');
    if (!slash) return 0;
    *slash = '\0';
    if (strstr(abs, "build-san")) {
        *why = "sanitizer build (the extension would need the sanitizer runtime inside Python)";
        return 0;
    }
    snprintf(build, size, "%s", abs);
    return 1;
}

/* 1 when the interpreter imports every module of `modules` (space-separated). */
static int python_has(const char *modules) {
    char out[512], list[256];
    snprintf(list, sizeof list, "%s", modules);
    for (char *p = list; *p; p++)
        if (*p == ' ') *p = ',';
    return check_sh(out, sizeof out, 1, "'%s' -c 'import %s'", python_bin(), list) == 0;
}

/* `make python` for this build (once per run); 0 on failure (reported). */
static int built;
static int build_extension(const char *build) {
    static char out[65536];
    if (built) return built > 0;
    int st = check_sh(out, sizeof out, 1,
                      "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s python BUILD='%s' PYTHON='%s'", build,
                      python_bin());
    built = st == 0 ? 1 : -1;
    if (st != 0) check_fail(__FILE__, __LINE__, "make python failed (exit %d):\n%s", st, out);
    return st == 0;
}

/* Run tests/python/<script> (unittest); skipped when it says so, failed on a nonzero exit. */
static void run_script(const char *script, const char *modules) {
    static char out[1 << 18], build[PATH_MAX];
    const char *why = NULL;
    if (access("python/setup.py", R_OK) != 0) {
        check_skip("not run from the repository root");
        return;
    }
    if (!build_dir(build, sizeof build, &why)) {
        check_skip(why ? why : "no build folder");
        return;
    }
    if (!python_has(modules)) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s cannot import %s (apt-get install python3-dev python3-numpy python3-sklearn)",
                 python_bin(), modules);
        check_skip(msg);
        return;
    }
    if (!build_extension(build)) return;
    const char *data = check_mnist_dir();
    int st = check_sh(out, sizeof out, 1, "MLP_BIN='%s/mlp' MLP_DATA='%s' PYTHONPATH=python '%s' tests/python/%s",
                      build, data ? data : "", python_bin(), script);
    if (st == 0 && strncmp(out, "skipped: ", 9) == 0) {
        out[strcspn(out, "\n")] = '\0';
        check_skip(out + 9);
        return;
    }
    /* the summary lines (and everything on failure) */
    if (st != 0) printf("%s", out);
    else {
        for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
            if (strstr(line, "check_estimator:") || strncmp(line, "Ran ", 4) == 0) printf("    %s\n", line);
    }
    CHECK_MSG(st == 0, "%s failed (exit %d)", script, st);
}

TEST(python_estimator) { run_script("test_estimator.py", "numpy"); }

TEST(python_sklearn_check_estimator) { run_script("test_sklearn.py", "numpy sklearn"); }

TEST(python_cli_cross_checks) {
    if (!check_mnist_dir()) {
        check_skip("MNIST not found");
        return;
    }
    run_script("test_cli.py", "numpy");
}

/* pip install --no-build-isolation from a copy of the sources into a fresh venv (offline), then the same fit
 * in the venv and with the make build: bitwise the same parameters. */
TEST(python_pip_install) {
    static char out[1 << 16], build[PATH_MAX];
    const char *why = NULL;
    const char *slow = getenv("MLP_TEST_SKIP_SLOW");
    if (slow && *slow && strcmp(slow, "0") != 0) {
        check_skip("MLP_TEST_SKIP_SLOW is set");
        return;
    }
    if (access("python/setup.py", R_OK) != 0 || !build_dir(build, sizeof build, &why)) {
        check_skip(why ? why : "not run from the repository root");
        return;
    }
    if (!python_has("numpy venv ensurepip")) {
        check_skip("the interpreter lacks numpy or venv");
        return;
    }
    if (!build_extension(build)) return;
    const char *tmp = check_tmpdir();
    int st = check_sh(out, sizeof out, 1,
                      "mkdir -p '%s/src' && cp -r Makefile include src python '%s/src/' && rm -rf '%s/src/python/build' "
                      "'%s/src/python/mlp/'*.so && '%s' -m venv --system-site-packages '%s/venv'",
                      tmp, tmp, tmp, tmp, python_bin(), tmp);
    if (st != 0) {
        check_skip("cannot create a venv (apt-get install python3-venv)");
        printf("%s", out);
        return;
    }
    st = check_sh(out, sizeof out, 1,
                  "cd '%s' && PIP_NO_INDEX=1 venv/bin/python -m pip install -q --no-build-isolation ./src/python", tmp);
    CHECK_MSG(st == 0, "pip install failed (exit %d):\n%s", st, out);
    if (st != 0) return;
    /* a fit whose parameters are printed as a hash, by both builds */
    const char *script =
        "import hashlib, numpy as np, mlp, warnings; warnings.simplefilter(\"ignore\"); "
        "rs = np.random.RandomState(0); X = rs.normal(size=(500, 20)).astype(np.float32); "
        "y = (X[:, 0] > X[:, 1]).astype(int) + 2 * (X[:, 2] > 0); "
        "c = mlp.MLPClassifier(hidden_layer_sizes=(24,), max_iter=3, random_state=5).fit(X, y); "
        "print(mlp.__file__.startswith(\"%s\"), hashlib.sha256(b\"\".join(a.tobytes() for a in c.coefs_ + c.intercepts_)).hexdigest())";
    char venv_out[512], make_out[512], cmd[2048];
    snprintf(cmd, sizeof cmd, script, tmp);
    st = check_sh(venv_out, sizeof venv_out, 1, "cd '%s' && venv/bin/python -c '%s'", tmp, cmd);
    CHECK_MSG(st == 0, "the venv's mlp does not run: %s", venv_out);
    CHECK_MSG(strncmp(venv_out, "True ", 5) == 0, "the venv imported another mlp: %s", venv_out);
    snprintf(cmd, sizeof cmd, script, "");
    st = check_sh(make_out, sizeof make_out, 1, "PYTHONPATH=python '%s' -c '%s'", python_bin(), cmd);
    CHECK_MSG(st == 0, "the make build's mlp does not run: %s", make_out);
    CHECK_MSG(strcmp(venv_out + 5, make_out + 5) == 0, "pip build and make build differ:\n  %s  %s", venv_out, make_out);
}
