/* test_progress.c - `mlp train`'s progress bar in a real pseudo-terminal: it fits 40 and 200 columns
 * exactly (never the last column, so it never wraps), shows epoch k/N, the run's ETA and, after the first
 * epoch, the last test accuracy; after the terminal is narrowed (TIOCSWINSZ on the master: the kernel
 * sends SIGWINCH) it follows the new width. */
#include "check.h"

#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

/* Run mlp with args in a pty of `cols` columns; once the first bar is seen, narrow it to `resize_to`
 * columns (if > 0). Captures everything the pty shows into out. Returns the exit status, -1 on failure. */
static int run_in_pty(int cols, int resize_to, char *out, size_t size, char *const args[]) {
    struct winsize ws = {24, (unsigned short)cols, 0, 0};
    int master;
    pid_t pid = forkpty(&master, NULL, NULL, &ws);
    if (pid < 0) return -1;
    if (pid == 0) {
        setenv("NO_COLOR", "1", 1); /* plain characters: the widths are counted here */
        setenv("TERM", "xterm", 1);
        unsetenv("COLUMNS");
        execv(check_mlp_bin(), args);
        _exit(127);
    }
    size_t n = 0;
    int resized = resize_to <= 0;
    for (;;) {
        struct pollfd pfd = {master, POLLIN, 0};
        int r = poll(&pfd, 1, 60000);
        if (r <= 0) break;
        ssize_t got = read(master, out + n, size - 1 - n);
        if (got <= 0) break; /* EIO: the child closed the terminal */
        n += (size_t)got;
        out[n] = '\0';
        if (!resized && strstr(out, "ETA")) {
            struct winsize w2 = {24, (unsigned short)resize_to, 0, 0};
            ioctl(master, TIOCSWINSZ, &w2);
            resized = 1;
            n += (size_t)snprintf(out + n, size - n, "\n<resized>\n");
        }
        if (n + 1 >= size) break;
    }
    close(master);
    int st;
    if (waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

typedef struct bars {
    int count, widest, narrowest_full, last_len, with_test;
    char last[512];
} bars;

/* The bar draws in the captured text from `from` on: segments between '\r'/'\n' that start "epoch ". */
static bars scan_bars(const char *from) {
    bars b = {0, 0, 1 << 30, 0, 0, ""};
    const char *p = from;
    while (*p) {
        size_t len = strcspn(p, "\r\n");
        if (len > 6 && !strncmp(p, "epoch ", 6)) {
            b.count++;
            if ((int)len > b.widest) b.widest = (int)len;
            size_t trimmed = len;
            while (trimmed && p[trimmed - 1] == ' ') trimmed--;
            if ((int)trimmed < b.narrowest_full) b.narrowest_full = (int)trimmed;
            b.last_len = (int)len;
            snprintf(b.last, sizeof b.last, "%.*s", (int)len, p);
            b.with_test += strstr(b.last, " test 0.") != NULL;
        }
        p += len;
        if (*p) p++;
    }
    return b;
}

TEST(progress_bar_fits_the_terminal) {
    const char *data = check_mnist_dir();
    if (!data) {
        check_skip("MNIST not found");
        return;
    }
    static char out[1 << 20];
    const char *dir = check_tmpdir();
    char data_arg[600], out_arg[600];
    snprintf(data_arg, sizeof data_arg, "%s", data);
    static const int widths[2] = {40, 200};
    for (int w = 0; w < 2; w++) {
        snprintf(out_arg, sizeof out_arg, "%s/run%d", dir, widths[w]);
        char *args[] = {"mlp", "train", "--data", data_arg, "--epochs", "3", "--hidden", "32", "--out", out_arg, NULL};
        int st = run_in_pty(widths[w], 0, out, sizeof out, args);
        CHECK_MSG(st == 0, "train in a pty of %d columns: exit %d\n%.2000s", widths[w], st, out);
        bars b = scan_bars(out);
        printf("    %d columns: %d bar draws, e.g. \"%s\"\n", widths[w], b.count, b.last);
        CHECK(b.count >= 3);
        /* every draw fills the line to the last column but one, never beyond */
        CHECK_MSG(b.widest == widths[w] - 1, "%d columns: a draw %d wide", widths[w], b.widest);
        CHECK_MSG(b.narrowest_full == widths[w] - 1, "%d columns: a draw only %d wide", widths[w], b.narrowest_full);
        CHECK_CONTAINS(out, "epoch 1/3");
        CHECK_CONTAINS(out, "epoch 3/3");
        CHECK_CONTAINS(b.last, "ETA ");
        if (widths[w] == 200) { /* room for everything: steps, loss, acc, the last test accuracy */
            CHECK_CONTAINS(b.last, "loss ");
            CHECK_CONTAINS(b.last, "acc ");
            CHECK_CONTAINS(b.last, "/600 ");
            CHECK(b.with_test > 0);
        }
    }
    /* narrowed from 200 to 40 columns while it runs: the draws after SIGWINCH fit 40 */
    snprintf(out_arg, sizeof out_arg, "%s/run-resized", dir);
    char *args[] = {"mlp", "train", "--data", data_arg, "--epochs", "3", "--hidden", "32", "--out", out_arg, NULL};
    int st = run_in_pty(200, 40, out, sizeof out, args);
    CHECK_MSG(st == 0, "train in a resized pty: exit %d\n%.2000s", st, out);
    const char *after = strstr(out, "<resized>");
    CHECK(after != NULL);
    if (after) {
        bars before = scan_bars(out), later = scan_bars(after);
        CHECK(before.widest == 199);
        CHECK(later.count >= 2);
        CHECK_MSG(later.last_len == 39, "after narrowing to 40 columns the last draw is %d wide: %s", later.last_len,
                  later.last);
    }
}
