/* util.c - error reporting, atomic file writes, the clock, big blocks (util.h). */
#define _DEFAULT_SOURCE /* madvise's MADV_HUGEPAGE (Linux), beside the project's POSIX level */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

mlp_status mlp_fail(mlp_error *err, mlp_status code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Write everything, retrying short writes and EINTR. */
static int write_all(int fd, const void *data, size_t len) {
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

mlp_status mlp_write_file_atomic(const char *path, const void *data, size_t len, mlp_error *err) {
    /* path.tmp.PID.N, created exclusively (O_EXCL): unique to this writer, even between threads of one
     * process, so no writer ever truncates, renames or removes another's temporary file. */
    char tmp[4096];
    int fd = -1;
    for (unsigned i = 0; fd < 0; i++) {
        int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", path, (long)getpid(), i);
        if (n < 0 || (size_t)n >= sizeof tmp) return mlp_fail(err, MLP_ERR_ARG, "%s: path too long", path);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && (errno != EEXIST || i >= 1000))
            return mlp_fail(err, MLP_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    }
    if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return mlp_fail(err, MLP_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    if (close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return mlp_fail(err, MLP_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return mlp_fail(err, MLP_ERR_IO, "%s: cannot rename into place: %s", path, strerror(e));
    }
    return MLP_OK;
}

void mlp_strf(char *buf, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}

double mlp_now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

enum { PAGE_2M = 2u << 20, BIG_BLOCK = 2 * PAGE_2M };

size_t mlp_block_bytes(size_t bytes) {
    if (bytes > SIZE_MAX - PAGE_2M) return 0; /* the rounding must not wrap to a small block */
    if (bytes < BIG_BLOCK) return bytes ? (bytes + 63) / 64 * 64 : 64;
    return (bytes + PAGE_2M - 1) / PAGE_2M * PAGE_2M;
}

void *mlp_alloc_block(size_t bytes) {
    const size_t n = mlp_block_bytes(bytes);
    if (n == 0) return NULL;
    if (n < BIG_BLOCK) return aligned_alloc(64, n);
    void *p = aligned_alloc(PAGE_2M, n);
#ifdef MADV_HUGEPAGE
    if (p) (void)madvise(p, n, MADV_HUGEPAGE); /* advice only: without THP the block is ordinary pages */
#endif
    return p;
}
