/* runlock.c - one process per run folder.
 *
 * Why a record lock (fcntl F_SETLK) and not "create a lock file, remove it at the end": the kernel releases a
 * record lock when the process that holds it dies (kill -9, a crash), so there is never a stale lock to guess
 * about; a file left by a dead holder is unlocked and the next process takes it over. F_GETLK names the
 * holder's pid. The file is removed at exit by its holder; a process that opened the old file just before may
 * then lock an unlinked file, which is why the lock is only trusted when the locked file is still the one
 * the path names (same device and inode); else the process starts over. */
#include "runlock.h"
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char held_path[4200];
static int held_fd = -1;

static void release_at_exit(void) {
    if (held_fd < 0) return;
    unlink(held_path); /* while still locked: no one can have taken this file meanwhile */
    close(held_fd);
    held_fd = -1;
}

static struct flock whole_file(short type) {
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    return fl;
}

long run_lock_holder(const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, RUN_LOCK_FILE);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return 0;
    struct flock fl = whole_file(F_WRLCK);
    long pid = 0;
    if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) pid = (long)fl.l_pid;
    close(fd);
    return pid;
}

int run_lock_is_file(const char *name) { return strcmp(name, RUN_LOCK_FILE) == 0; }

void run_lock(const char *dir) {
    if (held_fd >= 0) return;
    char path[4200];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, RUN_LOCK_FILE) >= sizeof path)
        die("run folder path '%s' is too long", dir);
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0644);
        if (fd < 0)
            die("cannot write into the run folder '%s': creating its lock file %s failed: %s (nothing was written; "
                "config.json and the other run files need a writable folder)",
                dir, RUN_LOCK_FILE, strerror(errno));
        struct stat fs, ps;
        if (fstat(fd, &fs) != 0 || !S_ISREG(fs.st_mode)) {
            close(fd);
            die("%s is not a regular file; remove it (it is the run folder's lock)", path);
        }
        struct flock fl = whole_file(F_WRLCK);
        if (fcntl(fd, F_SETLK, &fl) != 0) {
            int e = errno;
            struct flock q = whole_file(F_WRLCK);
            long pid = fcntl(fd, F_GETLK, &q) == 0 && q.l_type != F_UNLCK ? (long)q.l_pid : 0;
            close(fd);
            if (e != EACCES && e != EAGAIN) die("cannot lock %s: %s", path, strerror(e));
            if (pid == 0) continue; /* released between the two calls: try again */
            die("run folder '%s' is in use by process %ld (another mlp train or --resume on it); wait for it to "
                "end or choose another folder",
                dir, pid);
        }
        if (stat(path, &ps) != 0 || ps.st_dev != fs.st_dev || ps.st_ino != fs.st_ino) {
            close(fd); /* the holder removed the file we locked: start over with the current one */
            continue;
        }
        char pid[32];
        int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
        if (ftruncate(fd, 0) != 0 || write(fd, pid, (size_t)n) != n) {
            /* the pid in the file is for people; the lock is what counts */
        }
        memcpy(held_path, path, strlen(path) + 1);
        held_fd = fd;
        atexit(release_at_exit);
        return;
    }
    die("cannot lock %s: it keeps changing", path);
}
