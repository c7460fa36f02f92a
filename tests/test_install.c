/* test_install.c - the library as its users meet it:
 *   - `make install PREFIX=<tmp>` installs the header, libmlp.a, libmlp.so (soname libmlp.so.0), mlp.pc,
 *     the binary and the man page; examples/ compiles with `pkg-config --cflags --libs mlp`, links
 *     dynamically and statically, trains on MNIST and reaches a real accuracy; `make uninstall` leaves
 *     no file behind;
 *   - the library boundary: libmlp.a and libmlp.so export exactly the functions that include/mlp.h declares;
 *   - two networks trained at the same time from two threads give bitwise the results of training them
 *     one after the other (no global state);
 *   - Python: tests/python/interop.py reads model.safetensors with the standard library only, recomputes
 *     the forward pass and must agree with `mlp predict`.
 * The make and compiler steps run through the shell, with the build folder the tests were built from
 * (the folder of $MLP_BIN), so nothing is rebuilt. */
#include "check.h"
#include "mlp.h"

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>


static int have_program(const char *name) {
    char out[256], cmd[300];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null", name);
    return check_sh(out, sizeof out, 1, "%s", cmd) == 0;
}


/* The repository root (the current folder when it holds the sources) and the absolute build folder
 * (that of $MLP_BIN). 0 when they cannot be found. */
static int locate(char *root, char *build) {
    struct stat st;
    if (stat("include/mlp.h", &st) != 0 || stat("mk/install.mk", &st) != 0 || !getcwd(root, PATH_MAX)) return 0;
    char bin[PATH_MAX];
    const char *b = check_mlp_bin();
    if (stat(b, &st) != 0) return 0;
    if (b[0] == '/') snprintf(bin, sizeof bin, "%s", b);
    else if ((size_t)snprintf(bin, sizeof bin, "%s/%s", root, b) >= sizeof bin) return 0;
    char *slash = strrchr(bin, '/');
    if (!slash) return 0;
    *slash = '\0';
    snprintf(build, PATH_MAX, "%s", bin);
    return 1;
}

/* The make command line for the same build: no inherited jobserver, the same compiler, sanitizers if
 * the tests were built with them. */
static void make_cmd(char *buf, size_t size, const char *root, const char *build) {
#ifdef __clang__
    const char *cc = " CC=clang";
#else
    const char *cc = "";
#endif
    const char *san = strstr(build, "build-san") ? " SAN=1" : "";
    snprintf(buf, size, "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C '%s' BUILD='%s'%s%s", root, build, cc,
             san);
}

static const char *example_cc(const char *build) {
#ifdef __clang__
    return strstr(build, "build-san") ? "clang -fsanitize=address,undefined" : "clang";
#else
    return strstr(build, "build-san") ? "cc -fsanitize=address,undefined" : "cc";
#endif
}

static int exists(const char *dir, const char *name) {
    char p[PATH_MAX + 256];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return lstat(p, &st) == 0;
}

/* "accuracy 0.9123" in the example's output */
static double accuracy_in(const char *out) {
    const char *a = strstr(out, "test accuracy ");
    return a ? atof(a + strlen("test accuracy ")) : -1;
}

TEST(install_pkgconfig_example_uninstall) {
    static char root[PATH_MAX], build[PATH_MAX], make[PATH_MAX * 2 + 200], out[65536];
    if (!locate(root, build)) {
        check_skip("not run from the repository root, or $MLP_BIN not found");
        return;
    }
    if (!have_program("make") || !have_program("pkg-config")) {
        check_skip("make or pkg-config is not installed");
        return;
    }
    const char *mnist = check_mnist_dir();
    char prefix[PATH_MAX + 32], tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", check_tmpdir());
    /* (no space in it: pkg-config's output goes through the shell's word splitting) */
    snprintf(prefix, sizeof prefix, "%s/prefix", tmp);
    make_cmd(make, sizeof make, root, build);

    int st = check_sh(out, sizeof out, 1, "%s PREFIX='%s' install", make, prefix);
    CHECK_MSG(st == 0, "make install: exit %d: %s", st, out);
    if (st) return;
    const char *files[] = {"include/mlp.h", "lib/libmlp.a", ("lib/libmlp.so." MLP_VERSION), "lib/libmlp.so.0",
                           "lib/libmlp.so", "lib/pkgconfig/mlp.pc", "bin/mlp", "share/man/man1/mlp.1"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        CHECK_MSG(exists(prefix, files[i]), "%s/%s was not installed", prefix, files[i]);

    /* the soname, and only mlp_ symbols exported */
    if (have_program("readelf")) {
        st = check_sh(out, sizeof out, 1, "readelf -d '%s/lib/libmlp.so." MLP_VERSION "'", prefix);
        CHECK_CONTAINS(out, "Library soname: [libmlp.so.0]");
        st = check_sh(out, sizeof out, 1, "readelf --dyn-syms -W '%s/lib/libmlp.so." MLP_VERSION "' | grep -c ' json_parse$'",
                prefix);
        CHECK_MSG(atoi(out) == 0, "json_parse is exported from libmlp.so");
        st = check_sh(out, sizeof out, 1,
                "readelf --dyn-syms -W '%s/lib/libmlp.so." MLP_VERSION "' | grep -c ' mlp_trainer_epoch$'", prefix);
        CHECK_MSG(atoi(out) == 1, "mlp_trainer_epoch is not exported from libmlp.so (%s)", out);
    }

    /* pkg-config */
    char pc[PATH_MAX + 64];
    snprintf(pc, sizeof pc, "PKG_CONFIG_PATH='%s/lib/pkgconfig'", prefix);
    st = check_sh(out, sizeof out, 1, "%s pkg-config --modversion mlp", pc);
    CHECK_MSG(st == 0, "pkg-config --modversion mlp: %s", out);
    CHECK_CONTAINS(out, MLP_VERSION);
    st = check_sh(out, sizeof out, 1, "%s pkg-config --cflags --libs mlp", pc);
    CHECK_CONTAINS(out, "-lmlp");
    CHECK_CONTAINS(out, "prefix/include");

    /* the example, linked dynamically against the installed library */
    const char *cc = example_cc(build);
    st = check_sh(out, sizeof out, 1, "%s -std=c11 -Wall -Wextra -o '%s/example' '%s/examples/train_and_classify.c' $(%s pkg-config --cflags --libs mlp)",
            cc, tmp, root, pc);
    CHECK_MSG(st == 0, "compiling the example with pkg-config: %s", out);
    if (st) return;
    if (have_program("readelf")) {
        check_sh(out, sizeof out, 1, "readelf -d '%s/example'", tmp);
        CHECK_CONTAINS(out, "libmlp.so.0");
    }
    /* without the library on the path it must not start: it really is dynamic */
    st = check_sh(out, sizeof out, 1, "'%s/example' /nonexistent", tmp);
    CHECK(st != 0);
    CHECK_CONTAINS(out, "libmlp.so.0");
    /* the same, statically linked */
    st = check_sh(out, sizeof out, 1, "%s -std=c11 -o '%s/example_static' '%s/examples/train_and_classify.c' $(%s pkg-config --cflags mlp) '%s/lib/libmlp.a' $(%s pkg-config --static --libs-only-other --libs-only-l mlp | sed 's/-lmlp//')",
            cc, tmp, root, pc, prefix, pc);
    CHECK_MSG(st == 0, "compiling the example statically: %s", out);

    if (!mnist) {
        check_skip("MNIST not found: the example was built but not run");
    } else {
        /* 1 epoch of 784-64-10: a few seconds at most; chance is 0.10 */
        st = check_sh(out, sizeof out, 1, "LD_LIBRARY_PATH='%s/lib' '%s/example' '%s' 1 '%s/model.safetensors'", prefix, tmp,
                mnist, tmp);
        CHECK_MSG(st == 0, "example: exit %d: %s", st, out);
        double acc = accuracy_in(out);
        printf("    example (shared library): test accuracy %.4f\n", acc);
        CHECK_MSG(acc > 0.85, "example accuracy %.4f (chance 0.10): %s", acc, out);
        CHECK_CONTAINS(out, "first test image: class 7");
        /* the installed binary reads the example's model */
        st = check_sh(out, sizeof out, 1, "'%s/bin/mlp' info '%s/model.safetensors'", prefix, tmp);
        CHECK_MSG(st == 0, "installed mlp info: %s", out);
        CHECK_CONTAINS(out, "784-64-10");
        /* the static build: same seed, same data, so the same accuracy; and an image file argument */
        FILE *f;
        char pgm[PATH_MAX + 32];
        snprintf(pgm, sizeof pgm, "%s/digit.pgm", tmp);
        if ((f = fopen(pgm, "wb"))) { /* a black-on-white vertical bar: a 1 once inverted */
            fprintf(f, "P5\n40 40\n255\n");
            for (int i = 0; i < 1600; i++) fputc(i % 40 >= 18 && i % 40 < 22 && i / 40 >= 6 && i / 40 < 34 ? 0 : 255, f);
            fclose(f);
        }
        st = check_sh(out, sizeof out, 1, "'%s/example_static' '%s' 1 '%s/model2.safetensors' '%s'", tmp, mnist, tmp, pgm);
        CHECK_MSG(st == 0, "static example: exit %d: %s", st, out);
        CHECK_NEAR(accuracy_in(out), acc, 0);
        CHECK_CONTAINS(out, "digit.pgm: class 1");
    }

    /* examples/train_csv.c (docs/LIBRARY.md, "Your own data") on two CSV files of three separated classes */
    st = check_sh(out, sizeof out, 1, "%s -std=c11 -Wall -Wextra -o '%s/train_csv' '%s/examples/train_csv.c' $(%s pkg-config --cflags --libs mlp)",
                  cc, tmp, root, pc);
    CHECK_MSG(st == 0, "compiling examples/train_csv.c: %s", out);
    const char *csv_names[2] = {"train", "test"};
    for (int c = 0; c < 2; c++) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/%s.csv", tmp, csv_names[c]);
        FILE *cf = fopen(path, "w");
        CHECK(cf != NULL);
        if (!cf) continue;
        fprintf(cf, "width,height,label\n");
        static const char *const kinds[3] = {"small", "medium", "large"};
        for (int i = 0; i < 90; i++) /* class k around (10k, 100 - 5k), a deterministic wobble */
            fprintf(cf, "%g,%g,%s\n", 10.0 * (i % 3) + (i * 7 % 11) / 10.0, 100.0 - 5.0 * (i % 3) + (i * 5 % 13) / 10.0,
                    kinds[i % 3]);
        fclose(cf);
    }
    st = check_sh(out, sizeof out, 1, "LD_LIBRARY_PATH='%s/lib' '%s/train_csv' '%s/train.csv' '%s/test.csv' 40", prefix,
                  tmp, tmp, tmp);
    CHECK_MSG(st == 0, "train_csv: exit %d: %s", st, out);
    CHECK_CONTAINS(out, "test accuracy 1.0000 (90 examples, 3 classes)");
    CHECK_CONTAINS(out, "first test row: small (true: small)");

    if (have_program("man")) {
        st = check_sh(out, sizeof out, 1, "MANWIDTH=100 man -l '%s/share/man/man1/mlp.1' 2>&1 | col -b 2>/dev/null || true",
                prefix);
        CHECK_CONTAINS(out, "predict");
        CHECK_CONTAINS(out, "--invert");
    }

    st = check_sh(out, sizeof out, 1, "%s PREFIX='%s' uninstall", make, prefix);
    CHECK_MSG(st == 0, "make uninstall: exit %d: %s", st, out);
    /* the prefix did not exist before: install created it, uninstall removes it */
    CHECK_MSG(!exists(tmp, "prefix"), "make uninstall left %s behind", prefix);
}

/* `make install` into a prefix that already holds other things, `mlp fetch` and train's hint from the
 * installed binary, a second install over the first, then `make uninstall`: the prefix is file for file
 * and folder for folder what it was. */
TEST(install_fetch_uninstall_leaves_the_prefix_as_it_was) {
    static char root[PATH_MAX], build[PATH_MAX], make[PATH_MAX * 2 + 200], out[65536], before[65536];
    if (!locate(root, build)) {
        check_skip("not run from the repository root, or $MLP_BIN not found");
        return;
    }
    const char *mnist = check_mnist_dir();
    if (!have_program("make") || !mnist) {
        check_skip("make or MNIST is missing");
        return;
    }
    char tmp[PATH_MAX], prefix[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s", check_tmpdir());
    snprintf(prefix, sizeof prefix, "%s/usr", tmp);
    make_cmd(make, sizeof make, root, build);
    /* someone else's files and folders, some empty, some sharing install's folders */
    int st = check_sh(out, sizeof out, 1,
                      "mkdir -p '%s/share/doc/other' '%s/lib/pkgconfig' '%s/share/man/man5' && touch '%s/lib/libother.so' "
                      "'%s/lib/pkgconfig/other.pc' '%s/share/doc/other/README'",
                      prefix, prefix, prefix, prefix, prefix, prefix);
    CHECK_INT(st, 0);
    const char *snapshot = "cd '%s' && find . -printf '%%y %%m %%p\n' | sort";
    CHECK_INT(check_sh(before, sizeof before, 1, snapshot, prefix), 0);
    for (int round = 0; round < 2; round++) { /* the second install goes over the first */
        st = check_sh(out, sizeof out, 1, "%s PREFIX='%s' install", make, prefix);
        CHECK_MSG(st == 0, "make install: exit %d: %s", st, out);
        if (st) return;
    }
    CHECK(exists(prefix, "share/mlp/fetch_data.sh"));
    CHECK(exists(prefix, "share/bash-completion/completions/mlp"));
    /* the installed completion offers the installed binary's options */
    st = check_sh(out, sizeof out, 1,
                  "bash -c 'source \"%s/share/bash-completion/completions/mlp\"; COMP_WORDS=(\"%s/bin/mlp\" predict --to); "
                  "COMP_CWORD=2; _mlp; echo \"${COMPREPLY[*]}\"'",
                  prefix, prefix);
    CHECK_MSG(st == 0 && strstr(out, "--top"), "completion of `mlp predict --to`: %s", out);
    /* mlp fetch from the installed binary: the dataset's files (links to the real ones) verify */
    st = check_sh(out, sizeof out, 1,
                  "mkdir -p '%s/data/mnist' && for f in \"$(cd '%s' && pwd)\"/*-ubyte*; do ln -s \"$f\" '%s/data/mnist/'; done", tmp,
                  mnist, tmp);
    CHECK_INT(st, 0);
    st = check_sh(out, sizeof out, 1, "env -u MLP_FETCH_SCRIPT '%s/bin/mlp' fetch mnist '%s/data/mnist'", prefix, tmp);
    CHECK_MSG(st == 0, "installed mlp fetch: exit %d: %s", st, out);
    CHECK_CONTAINS(out, "present and verified");
    CHECK_CONTAINS(out, "mnist is ready in");
    CHECK(exists(tmp, "data/mnist/.verified"));
    /* the default folder is $MLP_DATA/mnist */
    st = check_sh(out, sizeof out, 1, "cd / && MLP_DATA='%s/data' '%s/bin/mlp' fetch mnist", tmp, prefix);
    CHECK_MSG(st == 0, "mlp fetch with MLP_DATA: exit %d: %s", st, out);
    /* usage errors; a binary without its share folder says where it looked */
    st = check_sh(out, sizeof out, 1, "'%s/bin/mlp' fetch cifar10", prefix);
    CHECK_INT(st, 2);
    CHECK_CONTAINS(out, "fashion-mnist");
    st = check_sh(out, sizeof out, 1, "mkdir -p '%s/lonely' && cp '%s/bin/mlp' '%s/lonely/' && env -u MLP_FETCH_SCRIPT "
                  "'%s/lonely/mlp' fetch mnist '%s/x'", tmp, prefix, tmp, tmp, tmp);
    CHECK_INT(st, 1);
    CHECK_CONTAINS(out, "share/mlp");
    /* train without data offers mlp fetch, with the dataset and the folder */
    st = check_sh(out, sizeof out, 1, "'%s/bin/mlp' train --dataset fashion-mnist --data '%s/nothing' --epochs 1 --out '%s/r'",
                  prefix, tmp, tmp);
    CHECK_INT(st, 1);
    CHECK_CONTAINS(out, "mlp fetch fashion-mnist");
    CHECK_CONTAINS(out, "/nothing");

    st = check_sh(out, sizeof out, 1, "%s PREFIX='%s' uninstall", make, prefix);
    CHECK_MSG(st == 0, "make uninstall: exit %d: %s", st, out);
    CHECK_INT(check_sh(out, sizeof out, 1, snapshot, prefix), 0);
    CHECK_MSG(!strcmp(out, before), "the prefix changed:\nbefore:\n%s\nafter:\n%s", before, out);
}

/* ------------------------------------------------------------------ threads */

typedef struct job {
    const mlp_dataset *train, *test;
    const char *hidden;
    mlp_act act;
    mlp_loss loss;
    int threads;
    uint64_t seed;
    /* results */
    mlp_net net;
    mlp_epoch_metrics m;
    mlp_status st;
} job;

static void *run_job(void *arg) {
    job *j = arg;
    mlp_error err;
    mlp_arch arch;
    j->st = mlp_arch_parse(&arch, j->hidden, 784, 10, j->act, &err);
    if (!j->st) j->st = mlp_net_create(&j->net, &arch, 1000, &err);
    if (j->st) return NULL;
    j->st = mlp_net_set_exec(&j->net, j->threads, MLP_KERNELS_AUTO, &err);
    mlp_rng rng;
    mlp_rng_seed(&rng, j->seed, 1);
    mlp_net_init(&j->net, 0.05f, &rng);
    mlp_train_cfg cfg = mlp_train_cfg_default();
    cfg.loss = mlp_loss_default(j->loss);
    cfg.reduction = MLP_GRAD_MEAN;
    cfg.lr = 0.05f;
    cfg.wd = 1e-4f;
    cfg.epochs = 1;
    cfg.seed = j->seed;
    mlp_trainer tr;
    if (!j->st) j->st = mlp_trainer_init(&tr, &j->net, &cfg, j->train, j->test, &err);
    if (!j->st) {
        j->st = mlp_trainer_epoch(&tr, &j->m, &err);
        mlp_trainer_free(&tr);
    }
    return NULL;
}

/* ------------------------------------------------------------------ the library boundary
 *
 * libmlp is what mlp.h declares and nothing else is visible: the functions declared in include/mlp.h (comments
 * left out) are exactly the global symbols that libmlp.a defines (nm -g) and that libmlp.so exports (nm -D). */

typedef struct names {
    char (*v)[64];
    int n, cap;
} names;

static void names_add(names *s, const char *p, size_t len) {
    if (len == 0 || len >= 64) return;
    for (int i = 0; i < s->n; i++)
        if (strlen(s->v[i]) == len && memcmp(s->v[i], p, len) == 0) return;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->v = realloc(s->v, sizeof *s->v * (size_t)s->cap);
    }
    memcpy(s->v[s->n], p, len);
    s->v[s->n++][len] = '\0';
}

static int names_has(const names *s, const char *name) {
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i], name) == 0) return 1;
    return 0;
}

static int ident_char(char c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

/* Every mlp_NAME followed by '(' outside comments: the header's functions. */
static void header_functions(const char *text, names *out) {
    for (const char *p = text; *p;) {
        if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            p = e ? e + 2 : p + strlen(p);
            continue;
        }
        if (strncmp(p, "mlp_", 4) == 0 && (p == text || !ident_char(p[-1]))) {
            const char *e = p;
            while (ident_char(*e)) e++;
            const char *q = e;
            while (*q == ' ') q++;
            if (*q == '(') names_add(out, p, (size_t)(e - p));
            p = e;
            continue;
        }
        p++;
    }
}

/* The third field of nm's "value type name" lines. */
static void nm_names(const char *out, names *s) {
    for (const char *line = out; *line;) {
        const char *end = strchr(line, '\n');
        if (!end) end = line + strlen(line);
        char a[128], b[16], c[128];
        char buf[300];
        size_t len = (size_t)(end - line) < sizeof buf - 1 ? (size_t)(end - line) : sizeof buf - 1;
        memcpy(buf, line, len);
        buf[len] = '\0';
        if (sscanf(buf, "%127s %15s %127s", a, b, c) == 3) names_add(s, c, strlen(c));
        line = *end ? end + 1 : end;
    }
}

static void check_exports(const char *what, const names *got, const names *want) {
    for (int i = 0; i < got->n; i++)
        CHECK_MSG(names_has(want, got->v[i]), "%s exports %s, which mlp.h does not declare", what, got->v[i]);
    for (int i = 0; i < want->n; i++)
        CHECK_MSG(names_has(got, want->v[i]), "%s does not export %s, declared in mlp.h", what, want->v[i]);
}

TEST(library_exports_exactly_mlp_h) {
    static char root[PATH_MAX], build[PATH_MAX], make[PATH_MAX * 2 + 200], out[1 << 16];
    if (!locate(root, build)) {
        check_skip("not run from the repository root, or $MLP_BIN not found");
        return;
    }
    if (!have_program("nm") || !have_program("make")) {
        check_skip("nm or make is not installed");
        return;
    }
    make_cmd(make, sizeof make, root, build);
    int st = check_sh(out, sizeof out, 1, "%s shared", make);
    CHECK_MSG(st == 0, "make shared: exit %d: %s", st, out);
    char *h = check_read_text("include/mlp.h");
    CHECK(h != NULL);
    if (st || !h) {
        free(h);
        return;
    }
    names want = {0}, a = {0}, so = {0};
    header_functions(h, &want);
    free(h);
    CHECK_MSG(want.n >= 50 && names_has(&want, "mlp_trainer_epoch") && !names_has(&want, "mlp_fail"),
              "%d functions read from mlp.h", want.n);
    st = check_sh(out, sizeof out, 0, "nm -g --defined-only '%s/libmlp.a'", build);
    CHECK_MSG(st == 0, "nm libmlp.a: exit %d", st);
    nm_names(out, &a);
    st = check_sh(out, sizeof out, 0, "nm -D --defined-only '%s/libmlp.so." MLP_VERSION "'", build);
    CHECK_MSG(st == 0, "nm -D libmlp.so: exit %d", st);
    nm_names(out, &so);
    check_exports("libmlp.a", &a, &want);
    check_exports("libmlp.so", &so, &want);
    CHECK_INT(a.n, want.n);
    CHECK_INT(so.n, want.n);
    free(want.v), free(a.v), free(so.v);
}

TEST(library_two_threads_train_like_one) {
    const char *dir = check_mnist_dir();
    if (!dir) {
        check_skip("MNIST not found");
        return;
    }
    mlp_dataset train, test;
    mlp_error err;
    if (mlp_dataset_load_dir(&train, &test, dir, mlp_scaling_default(), &err)) {
        check_fail(__FILE__, __LINE__, "%s", err.msg);
        return;
    }
    /* a fifth of the training set keeps this quick; the test set is shared read-only too */
    mlp_dataset small = train;
    small.n = 12000;
    /* two different networks; the second also uses 2 OpenMP threads inside its own thread */
    job seq[2] = {{.train = &small, .test = &test, .hidden = "64", .act = MLP_ACT_RELU, .loss = MLP_LOSS_CE,
                   .threads = 1, .seed = 11},
                  {.train = &small, .test = &test, .hidden = "32,16", .act = MLP_ACT_TANH, .loss = MLP_LOSS_CE,
                   .threads = 2, .seed = 12}};
    job par[2];
    memcpy(par, seq, sizeof par);
    run_job(&seq[0]);
    run_job(&seq[1]);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&th[i], NULL, run_job, &par[i]) == 0);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        CHECK_INT(seq[i].st, MLP_OK);
        CHECK_INT(par[i].st, MLP_OK);
        if (seq[i].st || par[i].st) continue;
        CHECK(seq[i].net.n_params == par[i].net.n_params);
        CHECK_MSG(!memcmp(seq[i].net.params, par[i].net.params, sizeof(float) * seq[i].net.n_params),
                  "network %d: parameters differ between sequential and concurrent training", i);
        CHECK(!memcmp(seq[i].net.momentum, par[i].net.momentum, sizeof(float) * seq[i].net.n_params));
        CHECK(seq[i].m.train_loss == par[i].m.train_loss && seq[i].m.test_acc == par[i].m.test_acc);
        CHECK_MSG(seq[i].m.test_acc > 0.5, "network %d: test accuracy %.4f (chance 0.10)", i, seq[i].m.test_acc);
        printf("    network %d: test accuracy %.4f, the same bits alone and beside the other\n", i, seq[i].m.test_acc);
    }
    for (int i = 0; i < 2; i++) {
        mlp_net_free(&seq[i].net);
        mlp_net_free(&par[i].net);
    }
    mlp_dataset_free(&train);
    mlp_dataset_free(&test);
}

/* ------------------------------------------------------------------ Python */

/* Write test image i as a binary PGM. */
static int write_pgm(const char *path, const mlp_dataset *ds, int i) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fprintf(f, "P5\n%d %d\n255\n", ds->cols, ds->rows);
    for (int k = 0; k < ds->dim; k++) fputc((int)lroundf(ds->x[(size_t)i * ds->dim + k] * 255.0f + 128.0f), f);
    return fclose(f);
}

TEST(python_reads_models_and_agrees_with_predict) {
    static char root[PATH_MAX], build[PATH_MAX], out[65536], imgs[8192];
    if (!locate(root, build)) {
        check_skip("not run from the repository root, or $MLP_BIN not found");
        return;
    }
    if (!have_program("python3")) {
        check_skip("python3 is not installed");
        return;
    }
    const char *dir = check_mnist_dir();
    if (!dir) {
        check_skip("MNIST not found");
        return;
    }
    const char *tmp = check_tmpdir();
    mlp_dataset test;
    mlp_error err;
    if (mlp_dataset_load_dir(NULL, &test, dir, mlp_scaling_default(), &err)) {
        check_fail(__FILE__, __LINE__, "%s", err.msg);
        return;
    }
    /* eight test images as PGM files */
    size_t used = 0;
    for (int i = 0; i < 8; i++) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/test%d.pgm", tmp, i);
        CHECK(write_pgm(p, &test, i) == 0);
        used += (size_t)snprintf(imgs + used, sizeof imgs - used, " '%s'", p);
    }
    /* a trained model (the CLI's own run) ... */
    int st = check_sh(out, sizeof out, 1,
                "'%s' train --data '%s' --epochs 1 --hidden 32 --act gelu --loss ce --grad-reduction mean --lr 0.05 "
                "--quiet --out '%s/run'",
                check_mlp_bin(), dir, tmp);
    CHECK_MSG(st == 0, "mlp train: %s", out);
    char models[6 * 600 + 600];
    used = (size_t)snprintf(models, sizeof models, " '%s/run/model.safetensors'", tmp);
    /* ... and random two-hidden-layer networks, one per activation (every formula of the forward pass) */
    for (int a = 0; a < MLP_ACT_COUNT; a++) {
        mlp_arch arch;
        mlp_net net;
        mlp_rng rng;
        mlp_arch_parse(&arch, "20,12", 784, 10, (mlp_act)a, &err);
        CHECK(mlp_net_create(&net, &arch, 1, &err) == MLP_OK);
        mlp_rng_seed(&rng, 100 + (uint64_t)a, 1);
        mlp_net_init(&net, 0.3f, &rng);
        for (size_t k = 0; k < net.n_params; k++) /* nonzero biases too */
            if (k >= net.b_off[0] && k < net.b_off[0] + 20) net.params[k] = 0.1f * (float)(k % 7) - 0.3f;
        mlp_net_params_changed(&net);
        char p[600];
        snprintf(p, sizeof p, "%s/random_%s.safetensors", tmp, mlp_act_name((mlp_act)a));
        CHECK(mlp_model_save(p, &net, NULL, &err) == MLP_OK);
        used += (size_t)snprintf(models + used, sizeof models - used, " '%s'", p);
        mlp_net_free(&net);
    }
    st = check_sh(out, sizeof out, 1, "python3 '%s/tests/python/interop.py' --mlp '%s' --models%s --images%s", root, check_mlp_bin(),
            models, imgs);
    printf("%s", out);
    CHECK_MSG(st == 0, "interop.py failed (exit %d)", st);
    CHECK_CONTAINS(out, "7 models x 8 images agree");
    mlp_dataset_free(&test);
}
