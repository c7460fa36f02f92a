/* fileio.h - reading input files with bounded memory (fileio.c); internal to the library.
 *
 * Every reader of the library goes through mlp_read_input, so that one place decides what an input may be:
 *   - a regular file, or a symbolic link to one. A FIFO, socket, device or folder is refused before it is
 *     opened for reading (an open() of a FIFO would block until a writer comes, possibly forever);
 *   - read as what it is: raw bytes, or (when the caller allows it) a gzip stream, recognised by its magic;
 *   - never larger than max_len bytes, checked against the file's size before anything is allocated, and for
 *     gzip while inflating: decompression stops at the limit, or at the size the content's own header
 *     declares (the `declared` callback), whichever comes first, before more memory is taken;
 *   - a gzip stream must be complete (CRC and length checked by zlib) and followed by nothing but further
 *     gzip members: trailing garbage is an error, not silently ignored. */
#ifndef MLP_FILEIO_H
#define MLP_FILEIO_H

#include "util.h"

typedef struct mlp_read_opts {
    size_t max_len;  /* largest accepted content (after decompression) */
    int gzip;        /* 1: gunzip a file that starts with the gzip magic; 0: the bytes as they are */
    /* Optional: the content's header announces its total length. Once head_len bytes are known, declared()
     * validates them and sets *total (the exact length the content must have); it returns an error status
     * (with err filled) to refuse the file at once. */
    size_t head_len;
    mlp_status (*declared)(void *user, const char *path, const uint8_t *head, size_t *total, mlp_error *err);
    void *user;
    int head_only;   /* 1: stop after head_len bytes (a shorter file is returned whole): peek at a header */
} mlp_read_opts;

/* Read path per o into a malloc'ed *out (free() it) of *len bytes. MLP_ERR_IO: cannot open or read, or not a
 * regular file; MLP_ERR_FORMAT: over the limit, a length other than the declared one, a broken gzip stream. */
mlp_status mlp_read_input(const char *path, const mlp_read_opts *o, uint8_t **out, size_t *len, mlp_error *err);

/* MLP_OK when path is a regular file (or a link to one); else MLP_ERR_IO with err saying what it is ("a FIFO",
 * "a folder", ...). For readers that open files themselves (images). */
mlp_status mlp_input_check(const char *path, mlp_error *err);

#endif
