/* util.h - error reporting, atomic file writes and the clock (util.c): the helpers every layer of the library uses.
 * Internal: not installed, not exported (docs/ARCHITECTURE.md, "The library boundary"); src/base is linked into
 * libmlp (hidden there) and, as build/libmlpbase.a, into the tool and the study. */
#ifndef MLP_UTIL_H
#define MLP_UTIL_H

#include "mlp.h"

#include <stdarg.h>
#include <stddef.h>

#if defined(__GNUC__) || defined(__clang__)
#define MLP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MLP_PRINTF(a, b)
#endif

/* Fill err (if not NULL) with code and a printf-style message; returns code. */
mlp_status mlp_fail(mlp_error *err, mlp_status code, const char *fmt, ...) MLP_PRINTF(3, 4);

/* Write len bytes to path atomically: path.tmp.PID.N (created exclusively: unique to this writer), fsync,
 * rename. On failure nothing is left behind. */
mlp_status mlp_write_file_atomic(const char *path, const void *data, size_t len, mlp_error *err);

/* snprintf for messages and labels where cutting a long value short is acceptable (buf is always terminated). */
void mlp_strf(char *buf, size_t size, const char *fmt, ...) MLP_PRINTF(3, 4);

/* Seconds on the monotonic clock (for durations). */
double mlp_now_seconds(void);

/* A block of memory for big arrays (parameters, workspaces, data sets), released by free(): 64-byte aligned;
 * from 4 MB on, aligned to 2 MB and advised for transparent huge pages (Linux madvise, where the system's THP
 * mode is "madvise", as Debian's is). A walk down a wide layer's weights (one row per k step, 4 KB apart at width 1024) or a
 * random training row then costs no TLB miss per row. Contents are not initialised. */
void *mlp_alloc_block(size_t bytes);
/* The bytes mlp_alloc_block(bytes) takes (rounded up to 64 bytes, or to 2 MB pages from 4 MB on); 0 when that
 * does not fit in size_t. */
size_t mlp_block_bytes(size_t bytes);

#endif
