/* fileio.c - reading input files: regular files only, bounded memory, strict gzip (see fileio.h). */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define CHUNK ((size_t)1 << 16) /* compressed bytes read at a time; also the first output capacity */

static const char *kind_of(mode_t m) {
    if (S_ISDIR(m)) return "a folder";
    if (S_ISFIFO(m)) return "a FIFO (named pipe)";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    return "not a regular file";
}

static mlp_status not_regular(const char *path, mode_t m, mlp_error *err) {
    return mlp_fail(err, MLP_ERR_IO, "%s: is %s, not a regular file (inputs are read from regular files only)", path,
                    kind_of(m));
}

mlp_status mlp_input_check(const char *path, mlp_error *err) {
    struct stat sb;
    if (!path) return mlp_fail(err, MLP_ERR_ARG, "input path is NULL");
    if (stat(path, &sb) != 0) return mlp_fail(err, MLP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return not_regular(path, sb.st_mode, err);
    return MLP_OK;
}

/* Open a regular file for reading without ever blocking in open(): stat first (a FIFO is never opened),
 * then O_NONBLOCK and fstat (the path may have been swapped between the two), then back to blocking reads. */
static mlp_status open_regular(const char *path, int *fd_out, size_t *size, mlp_error *err) {
    mlp_status st = mlp_input_check(path, err);
    if (st) return st;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return mlp_fail(err, MLP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        mode_t m = sb.st_mode;
        close(fd);
        return not_regular(path, m, err);
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    *fd_out = fd;
    *size = sb.st_size > 0 ? (size_t)sb.st_size : 0;
    return MLP_OK;
}

/* Up to n bytes (fewer only at the end of the file); -1 on a read error. EINTR is retried: a signal handler
 * that only raises a flag does not turn into a read error, and the flag is seen once the read is done. */
static ssize_t read_full(int fd, uint8_t *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* The bytes as they are: the file's size is known before anything is allocated. */
static mlp_status read_raw(const char *path, int fd, size_t size, const mlp_read_opts *o, uint8_t **out, size_t *len,
                           mlp_error *err) {
    size_t want = size;
    if (o->head_only && want > o->head_len) want = o->head_len;
    if (want > o->max_len)
        return mlp_fail(err, MLP_ERR_FORMAT, "%s: %zu bytes, larger than the limit of %zu bytes", path, size,
                        o->max_len);
    uint8_t *buf = malloc(want ? want : 1);
    if (!buf) return mlp_fail(err, MLP_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, want);
    ssize_t got = read_full(fd, buf, want);
    if (got < 0) {
        int e = errno;
        free(buf);
        return mlp_fail(err, MLP_ERR_IO, "%s: read error: %s", path, strerror(e));
    }
    *out = buf;
    *len = (size_t)got; /* a file that shrank meanwhile is returned as it is now; the parsers check lengths */
    return MLP_OK;
}

typedef struct gz_reader {
    const char *path;
    int fd;
    z_stream zs;
    uint8_t in[CHUNK];
    int eof;
} gz_reader;

/* Keep at least `need` unread compressed bytes available when the file has them (for the magic check). */
static int gz_fill(gz_reader *g, size_t need) {
    if (g->zs.avail_in >= need || g->eof) return 0;
    memmove(g->in, g->zs.next_in, g->zs.avail_in);
    ssize_t r = read_full(g->fd, g->in + g->zs.avail_in, sizeof g->in - g->zs.avail_in);
    if (r < 0) return -1;
    if ((size_t)r < sizeof g->in - g->zs.avail_in) g->eof = 1;
    g->zs.next_in = g->in;
    g->zs.avail_in += (uInt)r;
    return 0;
}

/* Inflate every gzip member of the file, never holding more than limit + 1 output bytes. */
static mlp_status read_gzip(gz_reader *g, const mlp_read_opts *o, uint8_t **out, size_t *len, mlp_error *err) {
    const char *path = g->path;
    size_t limit = o->max_len, total = 0;
    int know_total = 0;
    if (o->head_only && limit > o->head_len) limit = o->head_len;
    uint8_t *buf = NULL;
    size_t cap = 0, used = 0;
    mlp_status st = MLP_OK;
    int ended = 0;
    for (;;) {
        if (gz_fill(g, 1) != 0) {
            st = mlp_fail(err, MLP_ERR_IO, "%s: read error: %s", path, strerror(errno));
            break;
        }
        if (ended) {
            /* after a member: the end of the file, or another member; anything else is not gzip data */
            if (g->zs.avail_in == 0) break;
            if (gz_fill(g, 2) != 0) {
                st = mlp_fail(err, MLP_ERR_IO, "%s: read error: %s", path, strerror(errno));
                break;
            }
            if (g->zs.avail_in < 2 || g->zs.next_in[0] != 0x1f || g->zs.next_in[1] != 0x8b) {
                st = mlp_fail(err, MLP_ERR_FORMAT, "%s: trailing bytes after the end of the gzip data", path);
                break;
            }
            inflateReset(&g->zs);
            ended = 0;
        }
        if (g->zs.avail_in == 0 && g->eof) {
            st = mlp_fail(err, MLP_ERR_FORMAT, "%s: truncated gzip stream (unexpected end of file after %zu bytes)",
                          path, used);
            break;
        }
        if (used == cap) {
            if (cap > limit) { /* limit + 1 bytes: the content is larger than allowed */
                if (o->head_only) break;
                if (know_total)
                    st = mlp_fail(err, MLP_ERR_FORMAT,
                                  "%s: holds more than the %zu bytes its header declares (decompression stopped there)",
                                  path, total);
                else
                    st = mlp_fail(err, MLP_ERR_FORMAT, "%s: larger than the limit of %zu bytes (uncompressed)", path,
                                  o->max_len);
                break;
            }
            size_t grown = cap < CHUNK ? CHUNK : (cap > (limit + 1) / 2 ? limit + 1 : cap * 2);
            if (grown > limit + 1) grown = limit + 1;
            uint8_t *bigger = realloc(buf, grown);
            if (!bigger) {
                st = mlp_fail(err, MLP_ERR_NOMEM, "%s: out of memory after inflating %zu bytes", path, used);
                break;
            }
            buf = bigger;
            cap = grown;
        }
        g->zs.next_out = buf + used;
        g->zs.avail_out = (uInt)(cap - used > (size_t)1 << 30 ? (size_t)1 << 30 : cap - used);
        const uInt before = g->zs.avail_out;
        int rc = inflate(&g->zs, Z_NO_FLUSH);
        used += before - g->zs.avail_out;
        if (rc == Z_STREAM_END) {
            ended = 1;
        } else if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT) {
            st = mlp_fail(err, MLP_ERR_FORMAT, "%s: corrupt gzip data after %zu bytes: %s", path, used,
                          g->zs.msg ? g->zs.msg : "invalid stream");
            break;
        } else if (rc == Z_MEM_ERROR) {
            st = mlp_fail(err, MLP_ERR_NOMEM, "%s: out of memory while inflating", path);
            break;
        } else if (rc == Z_BUF_ERROR && g->zs.avail_in == 0 && g->eof) {
            st = mlp_fail(err, MLP_ERR_FORMAT, "%s: truncated gzip stream (unexpected end of file after %zu bytes)",
                          path, used);
            break;
        }
        if (o->declared && !know_total && used >= o->head_len) {
            if ((st = o->declared(o->user, path, buf, &total, err))) break;
            know_total = 1;
            if (total > o->max_len) {
                st = mlp_fail(err, MLP_ERR_FORMAT, "%s: its header declares %zu bytes, more than the limit of %zu", path,
                              total, o->max_len);
                break;
            }
            if (!o->head_only) limit = total;
        }
        if (o->head_only && used >= o->head_len) break;
    }
    if (!st && !o->head_only && used > limit)
        st = know_total ? mlp_fail(err, MLP_ERR_FORMAT, "%s: holds more than the %zu bytes its header declares", path, total)
                        : mlp_fail(err, MLP_ERR_FORMAT, "%s: larger than the limit of %zu bytes (uncompressed)", path,
                                   o->max_len);
    if (st) {
        free(buf);
        return st;
    }
    if (o->head_only && used > o->head_len) used = o->head_len;
    uint8_t *fitted = realloc(buf, used ? used : 1);
    if (fitted) buf = fitted;
    *out = buf;
    *len = used;
    return MLP_OK;
}

mlp_status mlp_read_input(const char *path, const mlp_read_opts *o, uint8_t **out, size_t *len, mlp_error *err) {
    if (!out || !len || !o) return mlp_fail(err, MLP_ERR_ARG, "mlp_read_file: out and len must not be NULL");
    *out = NULL;
    *len = 0;
    if (!path) return mlp_fail(err, MLP_ERR_ARG, "mlp_read_file: path is NULL");
    int fd = -1;
    size_t size = 0;
    mlp_status st = open_regular(path, &fd, &size, err);
    if (st) return st;
    uint8_t magic[2];
    ssize_t m = o->gzip ? pread(fd, magic, 2, 0) : 0;
    if (m < 0) {
        st = mlp_fail(err, MLP_ERR_IO, "%s: read error: %s", path, strerror(errno));
    } else if (m == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
        gz_reader *g = calloc(1, sizeof *g);
        if (!g) {
            close(fd);
            return mlp_fail(err, MLP_ERR_NOMEM, "%s: out of memory", path);
        }
        g->path = path;
        g->fd = fd;
        if (inflateInit2(&g->zs, 16 + MAX_WBITS) != Z_OK) {
            st = mlp_fail(err, MLP_ERR_NOMEM, "%s: cannot start zlib", path);
        } else {
            g->zs.next_in = g->in;
            st = read_gzip(g, o, out, len, err);
            inflateEnd(&g->zs);
        }
        free(g);
    } else {
        st = read_raw(path, fd, size, o, out, len, err);
    }
    close(fd);
    return st;
}

mlp_status mlp_read_file(const char *path, uint8_t **out, size_t *len, size_t max_len, mlp_error *err) {
    mlp_read_opts o = {0};
    o.max_len = max_len;
    o.gzip = 1;
    return mlp_read_input(path, &o, out, len, err);
}
