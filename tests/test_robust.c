/* test_robust.c - nothing breaks, nothing is lost, seen from the command line.
 *
 *   - misuse: unknown options, malformed or out-of-range values, conflicting options: a usage error that
 *     names the value and what is accepted, exit status 2, and no run folder created (no work started);
 *   - broken input files (a table generated here: IDX images and labels, raw and gzip, and model files):
 *     one "mlp: error:" line naming the file, exit status 1, never a crash;
 *   - the run folder: a folder holding a run is refused without --force or --resume; --force replaces the
 *     run's files and keeps the others; --resume refuses an edited config or a damaged checkpoint;
 *   - files that cannot be written: a read-only folder, a path through a regular file, a full disk
 *     (a small tmpfs when it can be mounted) and a file size limit: a clear error, exit 1, no partial or
 *     temporary file left;
 *   - divergence: an absurd learning rate stops the run naming the epoch and step and suggesting a smaller
 *     learning rate, exit 1, the last good checkpoint kept and valid;
 *   - valgrind: a short training run has no memory errors or leaks (skipped without valgrind, and in
 *     sanitizer builds). */
#include "check.h"
#include "util.h"
#include "json.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* AddressSanitizer builds (gcc and clang) */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

static const char *mlp_bin(void) {
    const char *b = getenv("MLP_BIN");
    return b && *b ? b : "build/mlp";
}

/* Run a shell command with stdout+stderr captured into out; returns the exit status, or -1 when the
 * command was killed by a signal (a crash). */
static int sh(char *out, size_t size, const char *fmt, ...) MLP_PRINTF(3, 4);
static int sh(char *out, size_t size, const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    strncat(cmd, " 2>&1", sizeof cmd - strlen(cmd) - 1);
    fflush(stdout);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    if (WIFEXITED(st)) {
        int code = WEXITSTATUS(st);
        return code >= 128 ? -1 : code; /* the shell reports a child killed by a signal as 128+n */
    }
    return -1;
}

static int path_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static int exists_in(const char *dir, const char *name) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path_exists(path);
}

/* Files in dir whose name holds ".tmp." (leftovers of an atomic write). */
static int temp_files_in(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    if (!d) return 0;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

static void write_bytes(const char *dir, const char *name, const void *data, size_t len) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(data, 1, len, f) == len);
    fclose(f);
}

static void write_gz(const char *dir, const char *name, const void *data, size_t len) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gzFile f = gzopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(gzwrite(f, data, (unsigned)len) == (int)len);
    gzclose(f);
}

/* ------------------------------------------------------------------ a tiny IDX dataset */

#define TINY_SIDE 8

/* IDX images file of n images of TINY_SIDE^2 pixels into buf (16 + n*64 bytes); returns its length. */
static size_t idx_images(uint8_t *buf, int n) {
    const uint8_t head[16] = {0, 0, 8, 3, 0, 0, (uint8_t)(n >> 8), (uint8_t)n, 0, 0, 0, TINY_SIDE, 0, 0, 0, TINY_SIDE};
    memcpy(buf, head, 16);
    for (int i = 0; i < n * TINY_SIDE * TINY_SIDE; i++) buf[16 + i] = (uint8_t)((i * 37 + i / 64 * 11) & 0xff);
    return 16 + (size_t)n * TINY_SIDE * TINY_SIDE;
}

static size_t idx_labels(uint8_t *buf, int n) {
    const uint8_t head[8] = {0, 0, 8, 1, 0, 0, (uint8_t)(n >> 8), (uint8_t)n};
    memcpy(buf, head, 8);
    for (int i = 0; i < n; i++) buf[8 + i] = (uint8_t)(i % 10);
    return 8 + (size_t)n;
}

/* A folder with train (200 images) and t10k (50) files of 8x8 images: trains in milliseconds. */
static void tiny_dataset(const char *dir) {
    static uint8_t img[16 + 200 * 64], lab[8 + 200];
    write_bytes(dir, "train-images-idx3-ubyte", img, idx_images(img, 200));
    write_bytes(dir, "train-labels-idx1-ubyte", lab, idx_labels(lab, 200));
    write_gz(dir, "t10k-images-idx3-ubyte.gz", img, idx_images(img, 50));
    write_gz(dir, "t10k-labels-idx1-ubyte.gz", lab, idx_labels(lab, 50));
}

/* ------------------------------------------------------------------ misuse: exit 2 before any work */

TEST(robust_cli_misuse_exit_2) {
    static char out[8192];
    const char *tmp = check_tmpdir();
    char data[700], run[700];
    snprintf(data, sizeof data, "%s/data", tmp);
    snprintf(run, sizeof run, "%s/run", tmp);
    mkdir(data, 0755);
    tiny_dataset(data);
    static const struct {
        const char *args, *phrase1, *phrase2;
    } cases[] = {
        {"--frobnicate", "unknown option '--frobnicate'", "--help"},
        {"--lr -0.5", "--lr: -0.5 is out of range", "[0, 1e+06]"},
        {"--lr abc", "--lr: 'abc' is not a number", ""},
        {"--lr nan", "'nan' is not a number", ""},
        {"--lr inf", "'inf' is not a number", ""},
        {"--lr 1e999", "'1e999' is not a number", ""},
        {"--lr ''", "'' is not a number", ""},
        {"--lr", "--lr needs a value", ""},
        {"--wd -1", "--wd: -1 is out of range", ""},
        {"--momentum 1", "--momentum: 1 is out of range", "[0, 0.999999]"},
        {"--batch 0", "--batch: 0 is out of range", "[1, 1048576]"},
        {"--batch -3", "--batch: -3 is out of range", ""},
        {"--batch 1.5", "--batch: '1.5' is not an integer", ""},
        {"--batch 99999999999999999999", "is not an integer", ""},
        {"--epochs 0", "--epochs: 0 is out of range", "[1, 1000000]"},
        {"--epochs 1e3", "--epochs: '1e3' is not an integer", ""},
        {"--hidden 0", "hidden width 0 in '0' is out of range", "1..65536"},
        {"--hidden 128,0", "hidden width 0 in '128,0' is out of range", ""},
        {"--hidden 128,,32", "expected positive integers separated by commas", ""},
        {"--hidden ''", "expected positive integers", ""},
        {"--act softsign", "unknown activation 'softsign'", "relu, sigmoid, tanh, selu, swish, gelu"},
        {"--loss l1", "unknown loss 'l1'", "mse, ce, hinge, focal"},
        {"--grad-reduction avg", "unknown value 'avg'", "sum, mean"},
        {"--dataset cifar", "unknown dataset 'cifar'", "mnist, fashion-mnist"},
        {"--kernels sse9", "unknown kernel path 'sse9'", "portable"},
        {"--threads 0", "--threads: 0 is out of range", "[1, 256]"},
        {"--seed -1", "'-1' must be a non-negative integer", ""},
        {"--hinge-margin -1", "--hinge-margin: -1 is out of range", ""},
        {"--focal-gamma x", "--focal-gamma: 'x' is not a number", ""},
        {"--focal-alpha 0.1,0.2", "has 2 values", "one per class"},
        {"--resume R --lr 0.1", "--lr cannot be given with it", "accepted: --data, --threads"},
        {"--resume R --hidden 32", "--hidden cannot be given with it", ""},
        {"--resume R --force", "--resume and --force exclude each other", ""},
        {"--resume R --out elsewhere", "names another one", ""},
        {"--resume ''", "--resume: the run folder name is empty", ""},
        {"--batch 201", "--batch 201 is larger than the training set (200 images)", "choose 1..200"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char args[1024];
        const char *r = strstr(cases[i].args, "--resume R");
        if (r) snprintf(args, sizeof args, "--resume '%s'%s", run, cases[i].args + strlen("--resume R"));
        else snprintf(args, sizeof args, "%s", cases[i].args);
        int st = sh(out, sizeof out, "%s train --data '%s' --out '%s' %s", mlp_bin(), data, run, args);
        CHECK_MSG(st == 2, "train %s: exit status %d, expected 2 (output: %s)", args, st, out);
        CHECK_MSG(strstr(out, cases[i].phrase1) && strstr(out, cases[i].phrase2),
                  "train %s: output \"%s\" lacks \"%s\" / \"%s\"", args, out, cases[i].phrase1, cases[i].phrase2);
        CHECK_MSG(!path_exists(run), "train %s: the run folder was created although the usage was wrong", args);
    }
    /* the same options, well formed, train */
    int st = sh(out, sizeof out, "%s train --data '%s' --out '%s' --hidden 8 --epochs 1 --batch 200 --quiet", mlp_bin(),
                data, run);
    CHECK_MSG(st == 0, "exit %d: %s", st, out);
    CHECK(exists_in(run, "model.safetensors"));
}

/* ------------------------------------------------------------------ broken input files: exit 1, one line */

TEST(robust_cli_broken_files_exit_1) {
    static char out[8192];
    static uint8_t img[16 + 200 * 64], lab[8 + 200], buf[16 + 200 * 64 + 64];
    const char *tmp = check_tmpdir();
    const size_t ni = idx_images(img, 200), nl = idx_labels(lab, 200);
    enum { IMAGES, LABELS };
    static const struct {
        const char *name;
        int which, gz;
        int op; /* 0 as is, 1 bad magic, 2 truncate by 10 bytes, 3 trailing byte, 4 label 10, 5 count 199,
                   6 2 dimensions, 7 dims overflow, 8 gzip cut short, 9 empty, 10 huge count */
        const char *phrase;
    } cases[] = {
        {"bad magic", IMAGES, 0, 1, "bad magic 0x00000804, expected 0x00000803"},
        {"truncated images", IMAGES, 0, 2, "truncated: header says 200 images of 8x8"},
        {"trailing byte", IMAGES, 0, 3, "1 trailing bytes after the 200 images"},
        {"int32 labels cut short", LABELS, 0, 4, "truncated: header says 200 labels (800 bytes)"},
        {"count mismatch", LABELS, 0, 5, "has 200 images but"},
        {"labels file as images", IMAGES, 0, 6, "this is an IDX labels file"},
        {"huge dimensions", IMAGES, 0, 7, "exceeds the limit"},
        {"gzip cut short", IMAGES, 1, 8, "truncated gzip stream"},
        {"empty file", LABELS, 0, 9, "too short for an IDX labels header (0 bytes, need 8)"},
        {"huge count", LABELS, 0, 10, "exceeds the limit of 100000000"},
        {"truncated gzip images", IMAGES, 1, 2, "truncated: header says 200 images"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char data[700];
        snprintf(data, sizeof data, "%s/d%zu", tmp, i);
        mkdir(data, 0755);
        tiny_dataset(data);
        const int images = cases[i].which == IMAGES;
        size_t len = images ? ni : nl;
        memcpy(buf, images ? img : lab, len);
        switch (cases[i].op) {
        case 1: buf[3] = 4; break;
        case 2: len -= 10; break;
        case 3: buf[len++] = 0; break;
        case 4: buf[2] = 0x0C; break; /* int32 labels: 4 bytes each */
        case 5: buf[7] = 199, len--; break;
        case 6: memcpy(buf, lab, nl), len = nl; break;
        case 7: buf[10] = 0xff, buf[14] = 0xff; break;
        case 9: len = 0; break;
        case 10: buf[4] = 0x7f; break;
        }
        const char *base = images ? "train-images-idx3-ubyte" : "train-labels-idx1-ubyte";
        char name[100], path[1200];
        snprintf(path, sizeof path, "%s/%s", data, base);
        unlink(path);
        if (cases[i].gz) {
            snprintf(name, sizeof name, "%s.gz", base);
            write_gz(data, name, buf, len);
            if (cases[i].op == 8) { /* cut the compressed stream in half */
                char gzpath[1300];
                snprintf(gzpath, sizeof gzpath, "%s/%s", data, name);
                struct stat sb;
                CHECK(stat(gzpath, &sb) == 0 && truncate(gzpath, sb.st_size / 2) == 0);
            }
        } else {
            snprintf(name, sizeof name, "%s", base);
            write_bytes(data, name, buf, len);
        }
        int st = sh(out, sizeof out, "%s train --data '%s' --out '%s/run%zu' --hidden 8 --epochs 1 --quiet", mlp_bin(),
                    data, tmp, i);
        CHECK_MSG(st == 1, "%s: exit status %d, expected 1 (output: %s)", cases[i].name, st, out);
        CHECK_MSG(strncmp(out, "mlp: error: ", 12) == 0, "%s: output does not start with 'mlp: error: ': %s",
                  cases[i].name, out);
        CHECK_MSG(strchr(out, '\n') == out + strlen(out) - 1, "%s: not one line: %s", cases[i].name, out);
        CHECK_MSG(strstr(out, base) != NULL, "%s: the message does not name the file %s: %s", cases[i].name, base, out);
        CHECK_MSG(strstr(out, cases[i].phrase) != NULL, "%s: \"%s\" lacks \"%s\"", cases[i].name, out, cases[i].phrase);
    }

    /* broken model files given to info/eval: one error line naming the file, exit 1 */
    char data[700], run[700];
    snprintf(data, sizeof data, "%s/good", tmp);
    snprintf(run, sizeof run, "%s/goodrun", tmp);
    mkdir(data, 0755);
    tiny_dataset(data);
    int st = sh(out, sizeof out, "%s train --data '%s' --out '%s' --hidden 8 --epochs 1 --quiet", mlp_bin(), data, run);
    CHECK_MSG(st == 0, "%s", out);
    char model[800];
    snprintf(model, sizeof model, "%s/model.safetensors", run);
    size_t mlen;
    uint8_t *m = NULL;
    mlp_error err;
    CHECK(mlp_read_file(model, &m, &mlen, 1 << 24, &err) == MLP_OK);
    if (!m) return;
    static const struct {
        const char *name;
        size_t cut;       /* keep this many bytes (0: all) */
        const char *from; /* replace in the header, same length */
        const char *to;
        const char *phrase;
    } mcases[] = {
        {"cut.safetensors", 5, NULL, NULL, "shorter than the 8-byte safetensors header length"},
        {"short.safetensors", 300, NULL, NULL, "exceeds the"},
        {"dtype.safetensors", 0, "\"F32\"", "\"F16\"", "dtype F16; only F32 is supported"},
        {"json.safetensors", 0, "\"dtype\":", "\"dtype\" ", "JSON:"},
        {"name.safetensors", 0, "fc1.bias", "fc1.bxas", "unexpected tensor \"fc1.bxas\""},
        {"dup.safetensors", 0, "fc2.bias", "fc1.bias", "duplicate key \"fc1.bias\""},
    };
    for (size_t i = 0; i < sizeof mcases / sizeof *mcases; i++) {
        uint8_t *b = malloc(mlen);
        memcpy(b, m, mlen);
        size_t blen = mcases[i].cut ? mcases[i].cut : mlen;
        if (mcases[i].from) {
            uint8_t *at = NULL;
            size_t fl = strlen(mcases[i].from);
            for (size_t k = 8; k + fl <= mlen && !at; k++)
                if (memcmp(b + k, mcases[i].from, fl) == 0) at = b + k;
            CHECK(at != NULL);
            if (at) memcpy(at, mcases[i].to, fl);
        }
        write_bytes(tmp, mcases[i].name, b, blen);
        free(b);
        for (int cmd = 0; cmd < 2; cmd++) {
            st = sh(out, sizeof out, cmd ? "%s eval '%s/%s' --data '%s'" : "%s info '%s/%s'", mlp_bin(), tmp,
                    mcases[i].name, data);
            CHECK_MSG(st == 1, "%s %s: exit %d (%s)", cmd ? "eval" : "info", mcases[i].name, st, out);
            CHECK_MSG(strncmp(out, "mlp: error: ", 12) == 0 && strstr(out, mcases[i].name) &&
                          strstr(out, mcases[i].phrase) && strchr(out, '\n') == out + strlen(out) - 1,
                      "%s: \"%s\" (expected one error line naming the file and \"%s\")", mcases[i].name, out,
                      mcases[i].phrase);
        }
    }
    free(m);
}

/* ------------------------------------------------------------------ the run folder */

TEST(robust_run_folder_force_and_resume_checks) {
    static char out[8192];
    const char *tmp = check_tmpdir();
    char data[700], run[700], path[1200];
    snprintf(data, sizeof data, "%s/data", tmp);
    snprintf(run, sizeof run, "%s/run", tmp);
    mkdir(data, 0755);
    tiny_dataset(data);
    const char *common = "--hidden 8 --epochs 2 --batch 20 --grad-reduction mean --lr 0.05 --quiet";

    /* a folder holding anything is refused (exit 1), and left as it was */
    mkdir(run, 0755);
    write_bytes(run, "notes.txt", "mine\n", 5);
    write_bytes(run, "model.safetensors", "stale", 5);
    int st = sh(out, sizeof out, "%s train --data '%s' --out '%s' %s", mlp_bin(), data, run, common);
    CHECK_INT(st, 1);
    CHECK_CONTAINS(out, "already holds a run");
    CHECK_CONTAINS(out, "--force");
    CHECK_CONTAINS(out, "--resume");
    CHECK(!exists_in(run, "config.json"));
    /* --force replaces the run's files, keeps the others */
    st = sh(out, sizeof out, "%s train --data '%s' --out '%s' %s --force", mlp_bin(), data, run, common);
    CHECK_MSG(st == 0, "exit %d: %s", st, out);
    CHECK(exists_in(run, "notes.txt"));
    mlp_net net;
    mlp_model_meta meta;
    mlp_error err;
    snprintf(path, sizeof path, "%s/model.safetensors", run);
    CHECK_MSG(mlp_model_load(path, &net, 1, &meta, &err) == MLP_OK, "%s", err.msg);
    mlp_net_free(&net);
    /* a stale temporary file alone does not make a folder a run (a kill during the first write) */
    char run2[700];
    snprintf(run2, sizeof run2, "%s/run2", tmp);
    mkdir(run2, 0755);
    write_bytes(run2, "config.json.tmp.12345", "{", 1);
    st = sh(out, sizeof out, "%s train --data '%s' --out '%s' %s", mlp_bin(), data, run2, common);
    CHECK_MSG(st == 0, "exit %d: %s", st, out);
    CHECK_INT(temp_files_in(run2), 0);

    /* --resume of a folder without a run */
    st = sh(out, sizeof out, "%s train --resume '%s/nothing'", mlp_bin(), tmp);
    CHECK_INT(st, 1);
    CHECK_CONTAINS(out, "nothing");
    st = sh(out, sizeof out, "%s train --resume '%s'", mlp_bin(), data); /* a folder, but no config.json */
    CHECK_INT(st, 1);
    CHECK_CONTAINS(out, "config.json");

    /* --resume with an edited config.json: the checkpoint is refused, naming the difference */
    snprintf(path, sizeof path, "%s/config.json", run);
    st = sh(out, sizeof out, "sed -i 's/\"lr\": 0.05/\"lr\": 0.07/' '%s' && grep -c '\"lr\": 0.07' '%s'", path, path);
    CHECK_MSG(st == 0, "could not edit config.json: %s", out);
    st = sh(out, sizeof out, "%s train --resume '%s'", mlp_bin(), run);
    CHECK_INT(st, 1);
    CHECK_CONTAINS(out, "written with lr 0.0500000007 but this run has lr 0.0700000003");
    /* a damaged config.json */
    write_bytes(run, "config.json", "{\"dataset\": \"mnist\",}", 21);
    st = sh(out, sizeof out, "%s train --resume '%s'", mlp_bin(), run);
    CHECK_INT(st, 1);
    CHECK_CONTAINS(out, "config.json");
    CHECK_CONTAINS(out, "JSON");

    /* a damaged checkpoint: refused with its name, nothing overwritten */
    char run3[700];
    snprintf(run3, sizeof run3, "%s/run3", tmp);
    st = sh(out, sizeof out, "%s train --data '%s' --out '%s' %s", mlp_bin(), data, run3, common);
    CHECK_INT(st, 0);
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", run3);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && truncate(path, sb.st_size - 3) == 0);
    st = sh(out, sizeof out, "%s train --resume '%s'", mlp_bin(), run3);
    CHECK_INT(st, 1);
    CHECK_CONTAINS(out, "checkpoint.safetensors");
    CHECK_CONTAINS(out, "extend beyond the data section");
    CHECK(stat(path, &sb) == 0);
}

/* ------------------------------------------------------------------ unwritable folders, full disks */

/* After a failed run: exit 1, an error naming the file, and no temporary file left behind. */
static void check_write_failure(int st, const char *out, const char *dir, const char *phrase, const char *what) {
    CHECK_MSG(st == 1, "%s: exit status %d, expected 1 (%s)", what, st, out);
    CHECK_MSG(strncmp(out, "mlp: error: ", 12) == 0, "%s: %s", what, out);
    CHECK_MSG(strstr(out, phrase) != NULL, "%s: \"%s\" lacks \"%s\"", what, out, phrase);
    CHECK_MSG(temp_files_in(dir) == 0, "%s: temporary files left in %s", what, dir);
    CHECK_MSG(!exists_in(dir, "model.safetensors"), "%s: a model was written", what);
}

/* Make dir read-only even for root: the immutable attribute, else a read-only tmpfs mounted on it, else
 * (not root) plain permissions. Returns how, or NULL when nothing works here. */
static const char *make_read_only(const char *dir) {
    static char out[1024];
    if (geteuid() != 0) return chmod(dir, 0555) == 0 ? "chmod 0555" : NULL;
    if (sh(out, sizeof out, "chattr +i '%s'", dir) == 0) return "chattr +i";
    if (sh(out, sizeof out, "mount -t tmpfs -o ro,size=64k tmpfs '%s'", dir) == 0) return "read-only tmpfs";
    return NULL;
}

static void undo_read_only(const char *dir, const char *how) {
    static char out[1024];
    if (!strcmp(how, "chattr +i")) sh(out, sizeof out, "chattr -i '%s'", dir);
    else if (!strcmp(how, "read-only tmpfs")) sh(out, sizeof out, "umount '%s'", dir);
    else chmod(dir, 0755);
}

TEST(robust_unwritable_folders) {
    static char out[8192];
    const char *tmp = check_tmpdir();
    char data[700], ro[700], file[700];
    snprintf(data, sizeof data, "%s/data", tmp);
    mkdir(data, 0755);
    tiny_dataset(data);
    const char *common = "--hidden 8 --epochs 2 --batch 20 --quiet";

    /* a run folder below a regular file: cannot be created */
    snprintf(file, sizeof file, "%s/afile", tmp);
    write_bytes(tmp, "afile", "x", 1);
    int st = sh(out, sizeof out, "%s train --data '%s' --out '%s/run' %s", mlp_bin(), data, file, common);
    CHECK_INT(st, 1);
    CHECK_CONTAINS(out, "Not a directory");
    CHECK_CONTAINS(out, "afile/run");

    /* an existing, empty, read-only run folder */
    snprintf(ro, sizeof ro, "%s/ro", tmp);
    mkdir(ro, 0755);
    const char *how = make_read_only(ro);
    if (!how) {
        printf("    note: no way to make a folder read-only here (not root: chmod; root: chattr or mount)\n");
    } else {
        st = sh(out, sizeof out, "%s train --data '%s' --out '%s' %s", mlp_bin(), data, ro, common);
        printf("    read-only folder (%s): %s", how, out);
        undo_read_only(ro, how);
        check_write_failure(st, out, ro, "config.json", how);
        CHECK_MSG(strstr(out, "Read-only file system") || strstr(out, "Operation not permitted") ||
                      strstr(out, "Permission denied"),
                  "%s: no system reason in \"%s\"", how, out);
        CHECK(!exists_in(ro, "config.json"));
    }
}

TEST(robust_disk_full) {
    static char out[8192];
    const char *tmp = check_tmpdir();
    char data[700], run[700];
    snprintf(data, sizeof data, "%s/data", tmp);
    mkdir(data, 0755);
    tiny_dataset(data);
    /* 64-32-10 network: a checkpoint is ~2 x 9 kB; "ulimit -f 8" (8 blocks of 512 or 1024 bytes) lets
     * config.json and metrics.csv through and stops the first checkpoint. Ignoring SIGXFSZ turns the limit
     * into an EFBIG write error, which the tool reports like a full disk. */
    const char *common = "--hidden 32 --epochs 2 --batch 20 --quiet";
    snprintf(run, sizeof run, "%s/limit", tmp);
    int st = sh(out, sizeof out, "sh -c \"trap '' XFSZ; ulimit -f 8; exec '%s' train --data '%s' --out '%s' %s\"",
                mlp_bin(), data, run, common);
    check_write_failure(st, out, run, "checkpoint.safetensors: cannot write: File too large", "ulimit -f");
    CHECK(exists_in(run, "config.json"));
    CHECK(!exists_in(run, "checkpoint.safetensors"));
    /* without the trap, the tool ignores SIGXFSZ itself */
    char run2[700];
    snprintf(run2, sizeof run2, "%s/limit2", tmp);
    st = sh(out, sizeof out, "sh -c \"ulimit -f 8; exec '%s' train --data '%s' --out '%s' %s\"", mlp_bin(), data,
            run2, common);
    check_write_failure(st, out, run2, "File too large", "ulimit -f, no trap");

    /* a real full disk: a 48 kB tmpfs, when this machine lets us mount one */
    char mnt[600];
    snprintf(mnt, sizeof mnt, "%s/mnt", tmp);
    mkdir(mnt, 0755);
    if (sh(out, sizeof out, "mount -t tmpfs -o size=48k tmpfs '%s'", mnt) != 0) {
        printf("    note: cannot mount a tmpfs here (%s); the ulimit case stands for a full disk\n", out);
        return;
    }
    /* fill it but for 20 kB (5 pages), so config.json and metrics.csv fit and the ~19 kB checkpoint does not */
    sh(out, sizeof out, "head -c 28672 /dev/zero > '%s/filler'", mnt);
    snprintf(run, sizeof run, "%s/run", mnt);
    st = sh(out, sizeof out, "%s train --data '%s' --out '%s' %s", mlp_bin(), data, run, common);
    char msg[8192];
    snprintf(msg, sizeof msg, "%s", out);
    check_write_failure(st, msg, run, "No space left on device", "full tmpfs");
    printf("    full disk: %s", msg);
    sh(out, sizeof out, "umount '%s'", mnt);
}

/* ------------------------------------------------------------------ divergence */

TEST(robust_divergence_keeps_last_good_checkpoint) {
    static char out[8192];
    const char *tmp = check_tmpdir();
    char data[700], run[700], path[1200];
    snprintf(data, sizeof data, "%s/data", tmp);
    snprintf(run, sizeof run, "%s/run", tmp);
    mkdir(data, 0755);
    tiny_dataset(data);
    /* the learning rate 1e6 with summed gradients overflows the loss within a few steps */
    int st = sh(out, sizeof out, "%s train --data '%s' --out '%s' --hidden 8 --epochs 3 --batch 20 --lr 1e6 --quiet",
                mlp_bin(), data, run);
    CHECK_INT(st, 1);
    CHECK_CONTAINS(out, "mlp: error: training diverged at epoch 1, step ");
    CHECK_CONTAINS(out, "try a smaller learning rate (--lr 1e+06 now)");
    CHECK_CONTAINS(out, "The last good checkpoint (after epoch 0) is kept in");
    CHECK(!exists_in(run, "model.safetensors"));
    CHECK_INT(temp_files_in(run), 0);
    /* the kept checkpoint is the initial state: it loads into a trainer of the same run, finite */
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", run);
    mlp_dataset tr_set, te_set;
    mlp_error err;
    CHECK(mlp_dataset_load_dir(&tr_set, &te_set, data, mlp_scaling_default(), &err) == MLP_OK);
    mlp_arch arch;
    mlp_net net;
    mlp_trainer tr;
    CHECK(mlp_arch_parse(&arch, "8", 64, 10, MLP_ACT_GELU, &err) == MLP_OK);
    CHECK(mlp_net_create(&net, &arch, 1000, &err) == MLP_OK);
    mlp_train_cfg cfg = mlp_train_cfg_default();
    cfg.epochs = 3;
    cfg.batch = 20;
    cfg.lr = 1e6f;
    CHECK(mlp_trainer_init(&tr, &net, &cfg, &tr_set, &te_set, &err) == MLP_OK);
    mlp_epoch_metrics h[3];
    int n = -1;
    CHECK_MSG(mlp_checkpoint_load(path, &tr, h, 3, &n, &err) == MLP_OK, "%s", err.msg);
    CHECK_INT(n, 0);
    CHECK_INT(tr.epochs_done, 0);
    int finite = 1;
    for (size_t i = 0; i < net.n_params; i++) finite = finite && isfinite(net.params[i]);
    CHECK(finite);
    /* the library reports the same: DIVERGED, with epoch and step */
    mlp_epoch_metrics m;
    CHECK(mlp_trainer_epoch(&tr, &m, &err) == MLP_ERR_DIVERGED);
    CHECK_CONTAINS(err.msg, "epoch 1, step ");
    mlp_trainer_free(&tr);
    mlp_net_free(&net);
    mlp_dataset_free(&tr_set);
    mlp_dataset_free(&te_set);
    /* metrics.csv holds the header only: no epoch finished */
    snprintf(path, sizeof path, "%s/metrics.csv", run);
    FILE *f = fopen(path, "r");
    char line[256];
    int lines = 0;
    while (f && fgets(line, sizeof line, f)) lines++;
    if (f) fclose(f);
    CHECK_INT(lines, 1);
}

/* ------------------------------------------------------------------ messages stay one line */

/* Values and keys quoted from a file may hold control characters (a JSON "\n" escape): the messages replace
 * them, so an error is always one line. */
TEST(robust_error_messages_stay_one_line) {
    /* a model whose metadata activation is "ab\ncd" */
    const char *h = "{\"__metadata__\":{\"activation\":\"ab\\ncd\"},"
                    "\"fc1.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]},"
                    "\"fc1.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                    "\"fc2.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[16,32]},"
                    "\"fc2.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[32,40]}}";
    static uint8_t buf[1024];
    const size_t n = strlen(h);
    memset(buf, 0, sizeof buf);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, h, n);
    mlp_net net;
    mlp_model_meta meta;
    mlp_error err;
    CHECK(mlp_model_parse(buf, 8 + n + 40, &net, 1, &meta, &err) == MLP_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "metadata activation \"ab?cd\" is not a known activation");
    /* a JSON duplicate key holding a newline */
    const char *j = "{\"a\\nb\": 1, \"a\\nb\": 2}";
    json_doc doc = {0};
    CHECK(json_parse(&doc, j, strlen(j), NULL, &err) == MLP_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "duplicate key \"a?b\"");
    CHECK(strchr(err.msg, '\n') == NULL);
}

/* ------------------------------------------------------------------ no huge allocation from a header */

/* A 22-byte PGM announcing 16384 x 16384 pixels must be refused without allocating 256 MB: the reader runs
 * in a child whose address space is limited to what it has plus 64 MB, so such an allocation would fail
 * with "cannot allocate" instead of the truncation error. (Skipped in sanitizer builds, which reserve
 * terabytes of address space.) */
TEST(robust_pgm_header_does_not_allocate) {
#ifdef SANITIZED
    check_skip("sanitizer build: address space limits do not apply");
#else
    const char *tmp = check_tmpdir();
    write_bytes(tmp, "big.pgm", "P5 16384 16384 255\nab", 21);
    write_bytes(tmp, "big2.pgm", "P2 16384 16384 255\n1 2", 22);
    for (int k = 0; k < 2; k++) {
        char path[800];
        snprintf(path, sizeof path, "%s/%s", tmp, k ? "big2.pgm" : "big.pgm");
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            long pages = 0;
            FILE *f = fopen("/proc/self/statm", "r");
            if (!f || fscanf(f, "%ld", &pages) != 1) _exit(100);
            fclose(f);
            struct rlimit rl;
            rl.rlim_cur = rl.rlim_max = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + ((rlim_t)64 << 20);
            if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(101);
            uint8_t *px = NULL;
            int w, h;
            mlp_error err;
            mlp_status st = mlp_pgm_read(path, &px, &w, &h, &err);
            _exit(st == MLP_ERR_FORMAT && strstr(err.msg, "truncated") ? 0 : 10 + (int)st);
        }
        int st;
        waitpid(pid, &st, 0);
        CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "%s: status %d (10 + mlp_status; 14 = out of memory: the header was trusted)", path,
                  WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
#endif
}

/* ------------------------------------------------------------------ valgrind */


TEST(robust_valgrind_short_run) {
#ifdef SANITIZED
    check_skip("sanitizer build: valgrind cannot run AddressSanitizer binaries");
    return;
#else
    static char out[16384];
    if (sh(out, sizeof out, "valgrind --version") != 0) {
        check_skip("valgrind is not installed");
        return;
    }
    const char *tmp = check_tmpdir();
    char data[700], run[700];
    snprintf(data, sizeof data, "%s/data", tmp);
    snprintf(run, sizeof run, "%s/run", tmp);
    mkdir(data, 0755);
    tiny_dataset(data);
    /* errors (invalid reads/writes, uninitialised values) and definite leaks fail the run with status 99;
     * one thread, so OpenMP's thread pool does not enter the picture */
    int st = sh(out, sizeof out,
                "valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite "
                "'%s' train --data '%s' --out '%s' --hidden 8 --epochs 2 --batch 20 --threads 1 --quiet",
                mlp_bin(), data, run);
    CHECK_MSG(st == 0, "valgrind: exit %d:\n%s", st, out);
    CHECK(exists_in(run, "model.safetensors"));
    /* and the resume path */
    st = sh(out, sizeof out,
            "valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite '%s' train --resume '%s' "
            "--quiet",
            mlp_bin(), run);
    CHECK_MSG(st == 0, "valgrind (resume): exit %d:\n%s", st, out);
#endif
}

/* ------------------------------------------------------------------ issue 11: what the adversarial pass found
 *
 * Each test below failed before its fix: (1) a model of fewer than 10 classes overflowed the confusion matrix;
 * (2) two processes wrote one run folder; (3) a FIFO as input hung forever; (4) a NaN in a model evaluated to a
 * loss of 0; (5) small files made large allocations. */

/* A model file of arch (widths given, gelu) with weights w = 0.01 * ((i * 7) % 13 - 6), biases 0. */
static void write_model(const char *path, const int *widths, int n_layers) {
    mlp_arch arch;
    memset(&arch, 0, sizeof arch);
    arch.n_layers = n_layers;
    arch.act = MLP_ACT_GELU;
    for (int l = 0; l <= n_layers; l++) arch.width[l] = widths[l];
    mlp_net net;
    mlp_error err;
    CHECK_MSG(mlp_net_create(&net, &arch, 1, &err) == MLP_OK, "%s", err.msg);
    for (size_t i = 0; i < net.n_params; i++) net.params[i] = 0.01f * (float)((int)(i * 7 % 13) - 6);
    CHECK_MSG(mlp_model_save(path, &net, NULL, &err) == MLP_OK, "%s", err.msg);
    mlp_net_free(&net);
}

/* The tiny dataset with t10k labels i % k (so that a model of k classes knows them all). */
static void tiny_dataset_classes(const char *dir, int k) {
    static uint8_t lab[8 + 200];
    tiny_dataset(dir);
    idx_labels(lab, 50);
    for (int i = 0; i < 50; i++) lab[8 + i] = (uint8_t)(i % k);
    char path[1200];
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte.gz", dir);
    unlink(path);
    write_bytes(dir, "t10k-labels-idx1-ubyte", lab, 8 + 50);
}

TEST(robust_eval_any_class_count) {
    static char out[16384];
    const char *tmp = check_tmpdir();
    char data[700], data5[700], model[700];
    snprintf(data, sizeof data, "%s/data", tmp);
    snprintf(data5, sizeof data5, "%s/data5", tmp);
    mkdir(data, 0755);
    mkdir(data5, 0755);
    tiny_dataset(data);             /* labels 0..9 */
    tiny_dataset_classes(data5, 5); /* labels 0..4 */
    /* 64-4-5 on labels 0..9: refused before any work, naming the labels file, the label and its index */
    snprintf(model, sizeof model, "%s/m5.safetensors", tmp);
    write_model(model, (const int[]){64, 4, 5}, 2);
    int st = sh(out, sizeof out, "%s eval '%s' --data '%s'", mlp_bin(), model, data);
    CHECK_MSG(st == 1, "exit %d: %s", st, out);
    CHECK_CONTAINS(out, "t10k-labels-idx1-ubyte");
    CHECK_CONTAINS(out, "label 5 at index 5");
    CHECK_CONTAINS(out, "5 classes");
    /* the library says the same to any caller */
    mlp_net net;
    mlp_model_meta meta;
    mlp_error err;
    mlp_dataset test;
    CHECK(mlp_model_load(model, &net, 100, &meta, &err) == MLP_OK);
    CHECK(mlp_dataset_load_dir(NULL, &test, data, meta.scaling, &err) == MLP_OK);
    int conf[25];
    double loss, acc;
    CHECK_INT(mlp_evaluate(&net, &meta.loss, &test, &loss, &acc, conf, &err), MLP_ERR_ARG);
    CHECK_CONTAINS(err.msg, "label 5 of example 5 is not a class of the network (0..4)");
    mlp_dataset_free(&test);
    /* on labels 0..4 it evaluates: a 5 x 5 matrix whose rows hold each class's 10 images */
    CHECK(mlp_dataset_load_dir(NULL, &test, data5, meta.scaling, &err) == MLP_OK);
    CHECK_MSG(mlp_evaluate(&net, &meta.loss, &test, &loss, &acc, conf, &err) == MLP_OK, "%s", err.msg);
    int diag = 0;
    for (int r = 0; r < 5; r++) {
        int row = 0;
        for (int c = 0; c < 5; c++) row += conf[r * 5 + c];
        CHECK_INT(row, 10);
        diag += conf[r * 5 + r];
    }
    CHECK_NEAR(acc, diag / 50.0, 1e-12);
    mlp_dataset_free(&test);
    mlp_net_free(&net);
    st = sh(out, sizeof out, "%s eval '%s' --data '%s'", mlp_bin(), model, data5);
    CHECK_MSG(st == 0, "exit %d: %s", st, out);
    CHECK_CONTAINS(out, "    4"); /* the last column */
    /* 64-4-12 on labels 0..9: 12 columns and rows printed (not cut at 10) */
    snprintf(model, sizeof model, "%s/m12.safetensors", tmp);
    write_model(model, (const int[]){64, 4, 12}, 2);
    st = sh(out, sizeof out, "%s eval '%s' --data '%s'", mlp_bin(), model, data);
    CHECK_MSG(st == 0, "exit %d: %s", st, out);
    CHECK_CONTAINS(out, "    10    11\n");
    CHECK_CONTAINS(out, "\n   11");
    /* predict with 5 classes: 5 scores */
    snprintf(model, sizeof model, "%s/m5.safetensors", tmp);
    char pgm[700];
    snprintf(pgm, sizeof pgm, "%s/d.pgm", tmp);
    FILE *f = fopen(pgm, "wb");
    fprintf(f, "P5 8 8 255\n");
    for (int i = 0; i < 64; i++) fputc(i * 3, f);
    fclose(f);
    st = sh(out, sizeof out, "%s predict --scores '%s' '%s'", mlp_bin(), model, pgm);
    CHECK_MSG(st == 0, "exit %d: %s", st, out);
    int fields = 0;
    for (char *p = strchr(out, ':'); p && *p && *p != '\n'; p++) fields += *p == ' ';
    CHECK_INT(fields, 1 + 5); /* the class, then 5 scores */
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The binary's absolute path, for commands run in another folder. */
static const char *abs_bin(void) {
    static char path[4096];
    char cwd[2048];
    if (mlp_bin()[0] == '/' || !getcwd(cwd, sizeof cwd)) snprintf(path, sizeof path, "%s", mlp_bin());
    else snprintf(path, sizeof path, "%s/%s", cwd, mlp_bin());
    return path;
}

/* pid of a background `mlp train` started by sh (its output discarded) */
static long start_background(const char *fmt, const char *a, const char *b, const char *c) {
    char out[64], cmd[4096];
    snprintf(cmd, sizeof cmd, fmt, a, b, c);
    if (sh(out, sizeof out, "%s >/dev/null 2>&1 & echo $!", cmd) != 0) return 0;
    return strtol(out, NULL, 10);
}

TEST(robust_run_folder_has_one_owner) {
    static char out[16384];
    const char *tmp = check_tmpdir();
    char data[700], run[700], lock[800];
    snprintf(data, sizeof data, "%s/data", tmp);
    snprintf(run, sizeof run, "%s/run", tmp);
    snprintf(lock, sizeof lock, "%s/.mlp.lock", run);
    mkdir(data, 0755);
    tiny_dataset(data);
    /* a long run holds the folder */
    long pid = start_background("'%s' train --data '%s' --out '%s' --hidden 4 --batch 50 --epochs 1000000 --quiet",
                                mlp_bin(), data, run);
    CHECK(pid > 0);
    for (int i = 0; i < 200 && !exists_in(run, "metrics.csv"); i++) sleep_ms(50);
    CHECK(exists_in(run, "metrics.csv"));
    char pidtext[32];
    snprintf(pidtext, sizeof pidtext, "process %ld", pid);
    /* a second train on it, with --force, or a --resume: exit 1 naming the holder, nothing touched */
    const char *second[] = {"train --data '%s' --out '%s' --hidden 4 --epochs 1",
                            "train --data '%s' --out '%s' --hidden 4 --epochs 1 --force", "train --data '%s' --resume '%s'"};
    for (int k = 0; k < 3; k++) {
        char args[2048], cmd[4096];
        snprintf(args, sizeof args, second[k], data, run);
        snprintf(cmd, sizeof cmd, "'%s' %s", mlp_bin(), args);
        int st = sh(out, sizeof out, "%s", cmd);
        CHECK_MSG(st == 1, "%s: exit %d: %s", args, st, out);
        CHECK_CONTAINS(out, pidtext);
        CHECK_CONTAINS(out, "in use");
    }
    CHECK(exists_in(run, "config.json") && exists_in(run, "checkpoint.safetensors"));
    /* the holder dies without cleaning up: its lock goes with it, and --resume takes the folder over */
    kill((pid_t)pid, SIGKILL);
    waitpid((pid_t)pid, NULL, 0);
    for (int i = 0; i < 100 && kill((pid_t)pid, 0) == 0; i++) sleep_ms(20);
    CHECK(path_exists(lock)); /* left behind by kill -9 */
    /* SIGTERM once the resumed run holds the folder (its pid in the lock file: its stop handlers are in place by
     * then), not after a fixed time, which a loaded machine may spend before that point */
    int st = sh(out, sizeof out,
                "'%s' train --resume '%s' --quiet 2>&1 & p=$!; i=0; "
                "while [ \"$(cat '%s' 2>/dev/null)\" != \"$p\" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; "
                "kill -TERM $p; wait $p; echo status=$?",
                mlp_bin(), run, lock);
    CHECK_MSG(strstr(out, "status=143"), "resume after kill -9: exit %d: %s", st, out);
    CHECK_CONTAINS(out, "SIGTERM");
    CHECK(!path_exists(lock)); /* removed by its holder at exit */
    CHECK_INT(temp_files_in(run), 0);

    /* default run names: two runs started together get two folders */
    char cwd[700];
    snprintf(cwd, sizeof cwd, "%s/cwd", tmp);
    mkdir(cwd, 0755);
    st = sh(out, sizeof out,
            "cd '%s' && for i in 1 2 3; do '%s' train --data '%s' --hidden 4 --batch 50 --epochs 2 --quiet & done; "
            "wait; ls runs | wc -l; ls runs/*/model.safetensors | wc -l",
            cwd, abs_bin(), data);
    CHECK_MSG(strstr(out, "3\n3\n") != NULL, "three runs, three folders, three models: %s", out);
}

TEST(robust_atomic_write_temp_is_its_own) {
    const char *tmp = check_tmpdir();
    char path[700], other[800];
    mlp_error err;
    snprintf(path, sizeof path, "%s/file", tmp);
    /* another writer's temporary file under the name an older mlp used (path.tmp.PID): left alone */
    snprintf(other, sizeof other, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(other, "wb");
    fputs("other", f);
    fclose(f);
    snprintf(other + strlen(other), sizeof other - strlen(other), ".0"); /* and the first name this one tries */
    f = fopen(other, "wb");
    fputs("other", f);
    fclose(f);
    CHECK_MSG(mlp_write_file_atomic(path, "mine", 4, &err) == MLP_OK, "%s", err.msg);
    char *text = check_read_text(path);
    CHECK(text && !strcmp(text, "mine"));
    free(text);
    text = check_read_text(other);
    CHECK(text && !strcmp(text, "other"));
    free(text);
    other[strlen(other) - 2] = '\0';
    text = check_read_text(other);
    CHECK(text && !strcmp(text, "other"));
    free(text);
}

TEST(robust_only_regular_files_are_read) {
    static char out[16384];
    const char *tmp = check_tmpdir();
    char data[700], fifo[700], model[700], fdata[700];
    snprintf(data, sizeof data, "%s/data", tmp);
    snprintf(fdata, sizeof fdata, "%s/fifodata", tmp);
    snprintf(fifo, sizeof fifo, "%s/fifo", tmp);
    snprintf(model, sizeof model, "%s/m.safetensors", tmp);
    mkdir(data, 0755);
    mkdir(fdata, 0755);
    tiny_dataset(data);
    tiny_dataset(fdata);
    CHECK(mkfifo(fifo, 0644) == 0);
    write_model(model, (const int[]){64, 4, 10}, 2);
    char labels[800];
    snprintf(labels, sizeof labels, "%s/t10k-labels-idx1-ubyte.gz", fdata);
    unlink(labels);
    CHECK(mkfifo(labels, 0644) == 0);
    /* each must fail at once (timeout's 124 would mean a hang), exit 1, and say what the path is */
    static const struct {
        const char *fmt, *phrase;
    } cases[] = {
        {"eval '%1$s/fifo' --data '%1$s/data'", "FIFO"},
        {"info '%1$s/fifo'", "FIFO"},
        {"info /dev/null", "character device"},
        {"info '%1$s'", "folder"},
        {"predict '%1$s/m.safetensors' '%1$s/fifo'", "FIFO"},
        {"predict '%1$s/m.safetensors' /dev/zero", "character device"},
        {"eval '%1$s/m.safetensors' --data '%1$s/fifodata'", "FIFO"},
        {"train --data '%1$s/fifodata' --out '%1$s/r1' --epochs 1", "FIFO"},
        {"train --data '%1$s/data' --init '%1$s/fifo' --out '%1$s/r2' --hidden 4 --epochs 1", "FIFO"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char args[2048];
        snprintf(args, sizeof args, cases[i].fmt, tmp);
        int st = sh(out, sizeof out, "timeout 10 '%s' %s", mlp_bin(), args);
        CHECK_MSG(st == 1, "%s: exit %d: %s", args, st, out);
        CHECK_MSG(strstr(out, cases[i].phrase) && strstr(out, "not a regular file"), "%s: %s", args, out);
    }
    CHECK(!exists_in(tmp, "r1") && !exists_in(tmp, "r2"));
}

/* Overwrite the 4 bytes at the data-section offset of tensor `name` + 4 * index with bits. */
static void poke_tensor(const char *path, const char *name, size_t index, size_t elem, const void *bits) {
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (!f) return;
    uint8_t head[8];
    CHECK(fread(head, 1, 8, f) == 8);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | head[i];
    char *json = malloc(n + 1);
    CHECK(fread(json, 1, n, f) == n);
    json[n] = '\0';
    char key[64];
    snprintf(key, sizeof key, "\"%s\"", name);
    const char *p = strstr(json, key);
    CHECK(p != NULL);
    p = p ? strstr(p, "data_offsets") : NULL;
    unsigned long long begin = 0;
    CHECK(p && sscanf(p, "data_offsets\":[%llu", &begin) == 1);
    fseek(f, (long)(8 + n + begin + index * elem), SEEK_SET);
    CHECK(fwrite(bits, 1, elem, f) == elem);
    fclose(f);
    free(json);
}

TEST(robust_non_finite_tensors_refused) {
    static char out[16384];
    const char *tmp = check_tmpdir();
    char data[700], model[700], run[700], ckpt[800];
    snprintf(data, sizeof data, "%s/data", tmp);
    snprintf(model, sizeof model, "%s/nan.safetensors", tmp);
    snprintf(run, sizeof run, "%s/run", tmp);
    mkdir(data, 0755);
    tiny_dataset(data);
    write_model(model, (const int[]){64, 4, 10}, 2);
    const float nan = NAN, inf = INFINITY;
    poke_tensor(model, "fc1.weight", 70, 4, &nan); /* row 1, column 6 */
    mlp_net net;
    mlp_error err;
    CHECK_INT(mlp_model_load(model, &net, 1, NULL, &err), MLP_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "tensor fc1.weight holds a NaN at index 70 (row 1, column 6)");
    const char *cmds[] = {"eval '%s' --data '%s'", "predict '%s' '%s/data/x.pgm'",
                          "train --init '%s' --data '%s/data' --hidden 4 --epochs 1 --out never"};
    char pgm[800];
    snprintf(pgm, sizeof pgm, "%s/x.pgm", data);
    write_bytes(data, "x.pgm", "P5 8 8 255\n0000000000000000000000000000000000000000000000000000000000000000", 75);
    for (int k = 0; k < 3; k++) {
        char args[2048];
        snprintf(args, sizeof args, cmds[k], model, k == 0 ? data : tmp);
        int st = sh(out, sizeof out, "cd '%s' && '%s' %s", tmp, abs_bin(), args);
        CHECK_MSG(st == 1, "%s: exit %d: %s", args, st, out);
        CHECK_CONTAINS(out, "fc1.weight holds a NaN at index 70");
    }
    CHECK(!exists_in(tmp, "never"));
    write_model(model, (const int[]){64, 4, 10}, 2);
    poke_tensor(model, "fc2.bias", 3, 4, &inf);
    CHECK_INT(mlp_model_load(model, &net, 1, NULL, &err), MLP_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "tensor fc2.bias holds an infinite value at index 3");
    /* a checkpoint whose metrics hold a NaN: --resume refuses it, naming the tensor and index */
    int st = sh(out, sizeof out, "'%s' train --data '%s' --out '%s' --hidden 4 --batch 50 --epochs 2 --quiet", mlp_bin(),
                data, run);
    CHECK_MSG(st == 0, "%s", out);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", run);
    const double dnan = NAN;
    poke_tensor(ckpt, "metrics", 7 + 3, 8, &dnan); /* epoch 2's test_loss */
    sh(out, sizeof out, "sed -i 's/\"epochs\": 2/\"epochs\": 3/' '%s/config.json'", run);
    st = sh(out, sizeof out, "'%s' train --resume '%s' --quiet", mlp_bin(), run);
    CHECK_MSG(st == 1, "exit %d: %s", st, out);
    CHECK_CONTAINS(out, "tensor metrics holds a NaN at index 10 (row 1, column 3)");
}

TEST(robust_memory_is_bounded) {
    static char out[16384];
    const char *tmp = check_tmpdir();
    char data[700], model[700];
    snprintf(data, sizeof data, "%s/data", tmp);
    snprintf(model, sizeof model, "%s/wide.safetensors", tmp);
    mkdir(data, 0755);
    tiny_dataset(data);
    /* a 11.5 MB model whose network takes GBs for batches of 1000 rows: refused from its header */
    write_model(model, (const int[]){64, 1, 262144, 10}, 3);
    mlp_arch arch = {3, {64, 1, 262144, 10}, MLP_ACT_GELU};
    const size_t need = mlp_net_bytes(&arch, 1000);
    CHECK(need > ((size_t)2 << 30));
    int st = sh(out, sizeof out, "'%s' eval '%s' --data '%s'", mlp_bin(), model, data);
    CHECK_MSG(st == 1, "exit %d: %s", st, out);
    CHECK_CONTAINS(out, "memory limit of 2048.0 MiB");
    CHECK_CONTAINS(out, "--max-memory");
    /* the limit is exact: mlp_net_bytes is what the network takes */
    mlp_net net;
    mlp_error err;
    const size_t one = mlp_net_bytes(&arch, 1);
    CHECK(one >= sizeof(float) * 4 * (64 + 1 + 2 * 262144 + 262144 * 10 + 10));
    CHECK_INT(mlp_model_load_limit(model, &net, 1, one - 1, NULL, &err), MLP_ERR_NOMEM);
    CHECK_MSG(mlp_model_load_limit(model, &net, 1, one, NULL, &err) == MLP_OK, "%s", err.msg);
    mlp_net_free(&net);
    st = sh(out, sizeof out, "'%s' eval '%s' --data '%s' --max-memory 1K", mlp_bin(), model, data);
    CHECK_MSG(st == 1, "exit %d: %s", st, out);
    CHECK_CONTAINS(out, "memory limit of 0.0 MiB");
    st = sh(out, sizeof out, "'%s' train --data '%s' --hidden 1,65536 --epochs 1 --out '%s/w' --max-memory 512M",
            mlp_bin(), data, tmp);
    CHECK_MSG(st == 1 && strstr(out, "--max-memory"), "exit %d: %s", st, out);
    CHECK(!exists_in(tmp, "w"));

    /* a gzip file named .safetensors: refused as it is, never inflated */
    static uint8_t zeros[1 << 20];
    write_gz(tmp, "zeros.safetensors", zeros, sizeof zeros);
    st = sh(out, sizeof out, "'%s' info '%s/zeros.safetensors'", mlp_bin(), tmp);
    CHECK_MSG(st == 1, "exit %d: %s", st, out);
    CHECK_CONTAINS(out, "gzip-compressed");

    /* a gzip labels file declaring 50 labels but inflating to 256 MB: stops at the declared size. Under a
     * 160 MB address-space limit (not with sanitizers, which reserve terabytes) it can only pass that way. */
    char big[700];
    snprintf(big, sizeof big, "%s/big", tmp);
    mkdir(big, 0755);
    tiny_dataset(big);
    char path[800];
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte.gz", big);
    gzFile g = gzopen(path, "wb9");
    uint8_t lab[8 + 50];
    idx_labels(lab, 50);
    gzwrite(g, lab, sizeof lab);
    for (int i = 0; i < 256; i++) gzwrite(g, zeros, sizeof zeros);
    gzclose(g);
    snprintf(model, sizeof model, "%s/m.safetensors", tmp);
    write_model(model, (const int[]){64, 4, 10}, 2);
#ifdef SANITIZED
    st = sh(out, sizeof out, "'%s' eval '%s' --data '%s'", mlp_bin(), model, big);
#else
    st = sh(out, sizeof out, "ulimit -v 160000; '%s' eval '%s' --data '%s' --threads 1", mlp_bin(), model, big);
#endif
    CHECK_MSG(st == 1, "exit %d: %s", st, out);
    CHECK_CONTAINS(out, "holds more than the 58 bytes its header declares");

    /* gzip followed by garbage */
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte.gz", big);
    g = gzopen(path, "wb");
    gzwrite(g, lab, sizeof lab);
    gzclose(g);
    FILE *f = fopen(path, "ab");
    fputs("garbage", f);
    fclose(f);
    st = sh(out, sizeof out, "'%s' eval '%s' --data '%s'", mlp_bin(), model, big);
    CHECK_MSG(st == 1, "exit %d: %s", st, out);
    CHECK_CONTAINS(out, "trailing bytes after the end of the gzip data");
    /* two concatenated members are one valid gzip file */
    g = gzopen(path, "wb");
    gzwrite(g, lab, 20);
    gzclose(g);
    g = gzopen(path, "ab");
    gzwrite(g, lab + 20, sizeof lab - 20);
    gzclose(g);
    st = sh(out, sizeof out, "'%s' eval '%s' --data '%s'", mlp_bin(), model, big);
    CHECK_MSG(st == 0, "exit %d: %s", st, out);
}

/* The minor items of the adversarial pass, one check each. */
TEST(robust_minor_items) {
    static char out[16384];
    const char *tmp = check_tmpdir();
    char data[700], model[700];
    snprintf(data, sizeof data, "%s/data", tmp);
    mkdir(data, 0755);
    tiny_dataset(data);
    /* train and test images of different sizes: refused before the run folder exists */
    char odd[700];
    snprintf(odd, sizeof odd, "%s/odd", tmp);
    mkdir(odd, 0755);
    tiny_dataset(odd);
    static uint8_t img[16 + 50 * 64];
    idx_images(img, 50);
    img[11] = img[15] = 7; /* 7x7: 50 images of 49 bytes */
    char gz[800];
    snprintf(gz, sizeof gz, "%s/t10k-images-idx3-ubyte.gz", odd);
    unlink(gz);
    write_bytes(odd, "t10k-images-idx3-ubyte", img, 16 + 50 * 49);
    int st = sh(out, sizeof out, "'%s' train --data '%s' --out '%s/r' --epochs 1", mlp_bin(), odd, tmp);
    CHECK_MSG(st == 1 && strstr(out, "holds 8x8 images but") && strstr(out, "7x7"), "exit %d: %s", st, out);
    CHECK(!exists_in(tmp, "r"));
    /* a shape written 4.0 is not an integer */
    snprintf(model, sizeof model, "%s/m.safetensors", tmp);
    write_model(model, (const int[]){64, 4, 10}, 2);
    st = sh(out, sizeof out, "sed -i 's/\"shape\":\\[4,64\\]/\"shape\":[4.0,64]/' '%s' && '%s' info '%s'", model,
            mlp_bin(), model);
    CHECK_MSG(st == 1 && strstr(out, "fc1.weight: shape must hold non-negative integers"), "exit %d: %s", st, out);
    /* control characters in metadata never reach the terminal */
    mlp_arch arch = {2, {64, 4, 10}, MLP_ACT_GELU};
    mlp_net net;
    mlp_error err;
    CHECK(mlp_net_create(&net, &arch, 1, &err) == MLP_OK);
    mlp_model_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.arch = arch;
    meta.loss = mlp_loss_default(MLP_LOSS_CE);
    meta.scaling = mlp_scaling_default();
    snprintf(meta.dataset, sizeof meta.dataset, "a\nb\033[2J");
    CHECK(mlp_model_save(model, &net, &meta, &err) == MLP_OK);
    mlp_net_free(&net);
    st = sh(out, sizeof out, "'%s' info '%s'", mlp_bin(), model);
    CHECK_MSG(st == 0, "exit %d: %s", st, out);
    CHECK_CONTAINS(out, "a?b?[2J\n");
    CHECK(!strchr(out, '\033'));
    /* --out "" is a usage error, not runs/<time> */
    st = sh(out, sizeof out, "cd '%s' && '%s' train --data '%s' --out '' --epochs 1", tmp, abs_bin(), data);
    CHECK_MSG(st == 2 && strstr(out, "--out: the run folder name is empty"), "exit %d: %s", st, out);
    CHECK(!exists_in(tmp, "runs"));
    /* mlp info without a model: usage on stderr, exit 2, nothing on stdout */
    st = sh(out, sizeof out, "{ '%s' info >'%s/info.out'; }", mlp_bin(), tmp);
    CHECK_MSG(st == 2 && strstr(out, "which model"), "exit %d: %s", st, out);
    char info_out[800];
    snprintf(info_out, sizeof info_out, "%s/info.out", tmp);
    char *text = check_read_text(info_out);
    CHECK(text && !*text);
    free(text);
    /* numbers with spaces around them: refused alike */
    st = sh(out, sizeof out, "'%s' train --data '%s' --epochs ' 1'", mlp_bin(), data);
    CHECK_MSG(st == 2 && strstr(out, "without spaces"), "exit %d: %s", st, out);
    st = sh(out, sizeof out, "'%s' train --data '%s' --epochs '1 '", mlp_bin(), data);
    CHECK_MSG(st == 2, "exit %d: %s", st, out);
    /* --max-memory takes sizes */
    st = sh(out, sizeof out, "'%s' eval '%s' --max-memory 12Q", mlp_bin(), model);
    CHECK_MSG(st == 2 && strstr(out, "not a size"), "exit %d: %s", st, out);
}
