/* test_sweep.c - `mlp sweep` on the real MNIST, kept small (hidden 32, 1 epoch): interrupted after its first
 * run and started again, it finishes the rest without retraining the first; a failing run is reported
 * without stopping the others; options that change results are not silently mixed; usage errors.
 * Skipped when the MNIST files are absent. */
#include "check.h"
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static mlp_run_state state_of(const char *study, const char *name) {
    char dir[2048];
    mlp_run r;
    snprintf(dir, sizeof dir, "%s/%s", study, name);
    mlp_run_state st = mlp_run_probe(dir, &r, NULL);
    mlp_run_free(&r);
    return st;
}

static void sleep_ms(int ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static const char *const grid_names[4] = {"784-32-10_relu_ce_s1", "784-32-10_relu_hinge_s1", "784-32-10_gelu_ce_s1",
                                          "784-32-10_gelu_hinge_s1"};

TEST(sweep_resumes_after_an_interruption) {
    const char *data = check_mnist_dir();
    if (!data) {
        check_skip("MNIST not found (run `make data` or set MLP_DATA)");
        return;
    }
    const char *root = check_tmpdir();
    char study[1024], log[1100];
    snprintf(study, sizeof study, "%s/study", root);
    snprintf(log, sizeof log, "%s/sweep1.log", root);
    /* 2 activations x 2 losses, 1 epoch each, one job at a time; mean gradients and a usable lr so that
     * one epoch learns something */
    const char *args[] = {
        "mlp",      "sweep", "--data",           data,   "--act", "relu,gelu", "--loss", "ce,hinge", "--hidden", "32",
        "--epochs", "1",     "--grad-reduction", "mean", "--lr",  "0.05",      "--jobs", "1",        "--out",    study,
        NULL};
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) dup2(fd, 1), dup2(fd, 2);
        execv(check_mlp_bin(), (char *const *)args);
        _exit(127);
    }
    CHECK(pid > 0);
    if (pid <= 0) return;
    /* wait for the first run to finish, then stop the sweep while the second one trains */
    int waited = 0;
    while (state_of(study, grid_names[0]) != MLP_RUN_FINISHED && waited < 60000) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            pid = -1;
            break;
        }
        sleep_ms(10);
        waited += 10;
    }
    CHECK_MSG(pid > 0, "the sweep ended before it could be interrupted");
    int status = 0;
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, &status, 0);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGTERM, "interrupted sweep: status %d", status);
    }
    char *out1 = check_read_text(log);
    CHECK_CONTAINS(out1, "interrupted");
    free(out1);
    CHECK_INT(state_of(study, grid_names[0]), MLP_RUN_FINISHED);
    int finished = 0;
    for (int i = 0; i < 4; i++) finished += state_of(study, grid_names[i]) == MLP_RUN_FINISHED;
    CHECK_MSG(finished < 4, "all runs finished before the interruption: the test proves nothing");

    /* what the first run left, to prove it is not trained again */
    char path[1200];
    struct stat st1, st2;
    snprintf(path, sizeof path, "%s/%s/model.safetensors", study, grid_names[0]);
    CHECK(stat(path, &st1) == 0);
    snprintf(path, sizeof path, "%s/%s/metrics.csv", study, grid_names[0]);
    char *metrics1 = check_read_text(path);

    /* start the same command again (piped: no progress line) */
    static char out[65536];
    char cmd[8192] = "";
    for (int i = 0; args[i]; i++) {
        size_t n = strlen(cmd);
        snprintf(cmd + n, sizeof cmd - n, "%s'%s'", i ? " " : "", i == 0 ? check_mlp_bin() : args[i]);
    }
    int rc = check_sh(out, sizeof out, 1, "%s", cmd);
    CHECK_MSG(rc == 0, "resumed sweep: exit %d: %s", rc, out);
    char want[256];
    snprintf(want, sizeof want, "%d trained, %d finished earlier, 0 failed", 4 - finished, finished);
    CHECK_CONTAINS(out, want);
    CHECK(strstr(out, "ETA") == NULL && strchr(out, '\r') == NULL); /* no progress line when piped */
    for (int i = 0; i < 4; i++)
        CHECK_MSG(state_of(study, grid_names[i]) == MLP_RUN_FINISHED, "%s not finished", grid_names[i]);
    snprintf(path, sizeof path, "%s/%s/model.safetensors", study, grid_names[0]);
    CHECK(stat(path, &st2) == 0);
    CHECK(st1.st_ino == st2.st_ino && st1.st_mtime == st2.st_mtime); /* the model file was not rewritten */
    snprintf(path, sizeof path, "%s/%s/metrics.csv", study, grid_names[0]);
    char *metrics2 = check_read_text(path);
    CHECK(metrics1 && metrics2 && !strcmp(metrics1, metrics2)); /* same seconds column: not retrained */
    free(metrics1);
    free(metrics2);
    /* every run learned something in its epoch */
    for (int i = 0; i < 4; i++) {
        char dir[1200];
        mlp_run r;
        snprintf(dir, sizeof dir, "%s/%s", study, grid_names[i]);
        if (mlp_run_probe(dir, &r, NULL) == MLP_RUN_FINISHED)
            CHECK_MSG(r.m[0].test_acc > 0.8, "%s: test acc %.3f", dir, r.m[0].test_acc);
        mlp_run_free(&r);
    }

    /* a third start trains nothing */
    rc = check_sh(out, sizeof out, 1, "%s", cmd);
    CHECK_INT(rc, 0);
    CHECK_CONTAINS(out, "0 trained, 4 finished earlier");

    /* other options into the same folder: the finished runs are in the way, named with the difference */
    rc = check_sh(out, sizeof out, 1,
                 "'%s' sweep --data '%s' --act relu --loss ce --hidden 32 --epochs 2 --grad-reduction mean --lr 0.05 "
                 "--out '%s' --dry-run",
                 check_mlp_bin(), data, study);
    CHECK_INT(rc, 1);
    CHECK_CONTAINS(out, "--epochs: 2 here, 1 in the run");

    /* the report of this study: 4 runs, figures, the 2x2 grid */
    rc = check_sh(out, sizeof out, 1, "'%s' report '%s' -o '%s/report'", check_mlp_bin(), study, root);
    CHECK_MSG(rc == 0, "report: %s", out);
    CHECK_CONTAINS(out, "4 runs in 4 configurations");
    snprintf(path, sizeof path, "%s/report/REPORT.md", root);
    char *md = check_read_text(path);
    CHECK_CONTAINS(md, "## Per-class test accuracy of the best configuration"); /* the model reloads */
    free(md);
}

TEST(sweep_failed_run_does_not_stop_the_others) {
    const char *data = check_mnist_dir();
    if (!data) {
        check_skip("MNIST not found (run `make data` or set MLP_DATA)");
        return;
    }
    const char *root = check_tmpdir();
    char study[1024], dir[1200], path[1300];
    snprintf(study, sizeof study, "%s/study", root);
    mkdir(study, 0755);
    /* the relu run folder is damaged: its config.json is a folder, which train cannot replace */
    snprintf(dir, sizeof dir, "%s/784-32-10_relu_ce_s1", study);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/config.json", dir);
    mkdir(path, 0755);
    static char out[65536];
    int rc = check_sh(out, sizeof out, 1,
                     "'%s' sweep --data '%s' --act relu,gelu --loss ce --hidden 32 --epochs 1 --grad-reduction mean "
                     "--lr 0.05 --jobs 2 --out '%s'",
                     check_mlp_bin(), data, study);
    CHECK_MSG(rc == 1, "exit %d: %s", rc, out);
    CHECK_CONTAINS(out, "1 trained, 0 finished earlier, 1 failed");
    CHECK_CONTAINS(out, "784-32-10_relu_ce_s1: exit status 1");
    CHECK_CONTAINS(out, "logs/784-32-10_relu_ce_s1.log");
    CHECK_INT(state_of(study, "784-32-10_gelu_ce_s1"), MLP_RUN_FINISHED);

    /* train rejecting the options stops the sweep after the first run (no values are checked twice) */
    rc = check_sh(
        out, sizeof out, 1,
        "'%s' sweep --data '%s' --act relu,gelu --loss ce --hidden 32 --epochs 1 --lr abc --jobs 1 --out '%s/s2'",
        check_mlp_bin(), data, root);
    CHECK_INT(rc, 1);
    CHECK_CONTAINS(out, "train rejected the options");
    CHECK_CONTAINS(out, "'abc' is not a number");
    CHECK_CONTAINS(out, "not started");
}

TEST(sweep_usage_errors_exit_2) {
    static char out[8192];
    static const struct {
        const char *args, *phrase;
    } cases[] = {
        {"sweep --act gelu", "--out DIR is required"},
        {"sweep --out @ --act softsign", "unknown activation 'softsign'"},
        {"sweep --out @ --loss l1", "unknown loss 'l1'"},
        {"sweep --out @ --act gelu,gelu", "listed twice"},
        {"sweep --out @ --hidden 128 --hidden 128", "given twice"},
        {"sweep --out @ --hidden 12a", "12a"},
        {"sweep --out @ --seed 3", "use --seeds"},
        {"sweep --out @ --seeds 1,x", "'x'"},
        {"sweep --out @ --jobs 0", "out of range"},
        {"sweep --out @ --frobnicate", "unknown option '--frobnicate'"},
        {"sweep --out @ --quiet", "DIR/logs"},
        {"report", "which runs"},
        {"report /tmp --frob", "unknown option"},
        {"plot /tmp", "-o FIG.svg"},
    };
    char never[1024];
    snprintf(never, sizeof never, "%s/never", check_tmpdir());
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char args[2048];
        size_t n = 0;
        for (const char *a = cases[i].args; *a && n < sizeof args - 1100; a++) {
            if (*a == '@') n += (size_t)snprintf(args + n, sizeof args - n, "%s", never);
            else args[n++] = *a;
        }
        args[n] = '\0';
        int st = check_sh(out, sizeof out, 1, "%s %s", check_mlp_bin(), args);
        CHECK_MSG(st == 2, "mlp %s: exit status %d, expected 2 (output: %s)", cases[i].args, st, out);
        CHECK_CONTAINS(out, cases[i].phrase);
    }
    CHECK_INT(check_sh(out, sizeof out, 1, "%s sweep --help", check_mlp_bin()), 0);
    CHECK_CONTAINS(out, "--jobs");
    struct stat st;
    CHECK(stat(never, &st) != 0); /* usage errors are found before anything is created */
}
