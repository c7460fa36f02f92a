/*
 * json.h - a small, strict JSON reader and a few writer helpers, for the library's own files
 * (safetensors headers, config.json, reports). Internal: not installed, not part of mlp.h.
 *
 * READING
 *   json_doc doc;
 *   mlp_error err;
 *   if (json_parse(&doc, text, text_len, NULL, &err) != MLP_OK) { ... err.msg ... }
 *   const json_value *lr = json_get(doc.root, "lr");
 *   double v;
 *   if (json_double(lr, &v) != 0) { ... missing or not a number ... }
 *   json_free(&doc);
 *
 *   - The input is a byte buffer with an explicit length; it need not be NUL-terminated and may
 *     contain NUL bytes (which are then a syntax error outside strings).
 *   - Strict RFC 8259: exactly one value, surrounded only by JSON whitespace (space, tab, CR, LF); no
 *     comments, no trailing commas, no single quotes, no NaN/Infinity, no leading zeros or '+'.
 *     A leading UTF-8 byte order mark is skipped (RFC 8259 section 8.1 allows a parser to ignore it).
 *   - Strings must be valid UTF-8 (no overlong forms, no encoded surrogates, nothing above U+10FFFF)
 *     and may not contain raw control characters (< 0x20). Escapes are decoded, \uXXXX to UTF-8, with
 *     surrogate pairs combined; an unpaired surrogate is an error. A decoded string may contain NUL
 *     (from \u0000): its length is in `len`; json_string() refuses such strings.
 *   - Duplicate keys in one object are an error (the first repeated key in document order is named).
 *   - Numbers: `number` is the nearest double (strtod; the process must use the "C" LC_NUMERIC
 *     locale, which is the default: the library never calls setlocale). `is_int` is set when the
 *     decimal value is mathematically an integer in int64 range, decided from the digits themselves
 *     (so 9007199254740993 and 1.5e3 are exact integers, 1.5 is not); then `integer` holds it exactly.
 *     A number too large for a double (1e999) is an error.
 *   - Limits (json_limits): nesting depth (default 64 arrays/objects), input size, and the total
 *     memory the tree may use. Exceeding one is an MLP_ERR_FORMAT error, so a hostile document
 *     cannot make the reader allocate without bound.
 *   - Errors: MLP_ERR_FORMAT with one line naming the problem and the byte offset, with line and
 *     column for humans:  "JSON: expected ':' after key at offset 57 (line 3, column 12)".
 *     MLP_ERR_NOMEM if malloc fails. On error the doc is left empty (json_free is still safe).
 *
 * The tree is read-only and owned by the json_doc (one arena): every pointer into it stays valid
 * until json_free. The getters below all accept NULL, so lookups compose without checks in between:
 *   const char *act = json_string(json_get(json_get(doc.root, "model"), "activation"));
 *
 * WRITING
 *   sbuf is a growable NUL-terminated byte buffer. Appends never fail loudly: on an allocation failure
 *   the buffer is marked (b->oom) and later appends do nothing, so a writer checks once at the end.
 *   json_sbuf_string / json_write_string emit a quoted, escaped JSON string.
 */
#ifndef MLP_JSON_H
#define MLP_JSON_H

#include "util.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ------------------------------------------------------------------ reading */

typedef enum json_type {
    JSON_NULL,
    JSON_BOOL,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT
} json_type;

typedef struct json_value json_value;
struct json_value {
    json_type type;
    int is_int;        /* JSON_NUMBER: the value is an integer in int64 range; u.num.i holds it */
    int plain_int;     /* is_int, and written as one: digits only, no fraction or exponent ("10", not "10.0") */
    size_t offset;     /* byte offset of the value's first character in the parsed buffer */
    /* Object members only (else key is NULL): the member's decoded key, NUL-terminated, its byte
     * length, and the offset of its opening quote. */
    const char *key;
    size_t key_len;
    size_t key_offset;
    union {
        int boolean;                                  /* JSON_BOOL: 0 or 1 */
        struct { double d; int64_t i; } num;          /* JSON_NUMBER */
        struct { const char *ptr; size_t len; } str;  /* JSON_STRING: decoded UTF-8, NUL-terminated */
        struct { json_value *items; size_t count; } list; /* JSON_ARRAY elements / JSON_OBJECT members,
                                                             in document order */
    } u;
};

typedef struct json_limits {
    int max_depth;      /* nested arrays/objects; the root container is depth 1. The reader recurses
                           once per level, so keep this in the hundreds at most. */
    size_t max_input;   /* bytes of input accepted */
    size_t max_memory;  /* bytes the parsed tree (nodes, strings, scratch) may use */
} json_limits;

#define JSON_DEFAULT_MAX_DEPTH 64
#define JSON_DEFAULT_MAX_INPUT ((size_t)256 << 20)  /* 256 MB */
#define JSON_DEFAULT_MAX_MEMORY ((size_t)1 << 30)   /* 1 GB (a node takes 56 bytes on 64-bit) */

/* The defaults above. */
json_limits json_limits_default(void);

typedef struct json_arena_block json_arena_block;
typedef struct json_doc {
    json_value *root;           /* NULL until a successful parse */
    json_arena_block *blocks;   /* private: the arena holding the tree */
    size_t memory;              /* private: bytes allocated for the tree */
} json_doc;

/* Parse buf[0..len) into doc. lim may be NULL (defaults). Returns MLP_OK, MLP_ERR_FORMAT (syntax or
 * limit; err->msg as described above) or MLP_ERR_NOMEM. */
mlp_status json_parse(json_doc *doc, const char *buf, size_t len, const json_limits *lim, mlp_error *err);
/* Release the tree; doc is left empty. Safe on an empty or failed doc. */
void json_free(json_doc *doc);

/* 1-based line and column (in bytes) of a byte offset in buf, for messages about a value
 * ("config.json:3:12: lr must be positive"). */
void json_position(const char *buf, size_t len, size_t offset, size_t *line, size_t *column);

/* "null", "boolean", "number", "string", "array", "object" (for "expected X, got Y" messages). */
const char *json_type_name(json_type t);
/* v's type name, or "nothing" when v is NULL. */
const char *json_kind(const json_value *v);

/* The member of object obj with this key (exact byte comparison), or NULL when obj is NULL, not an
 * object, or has no such key. Linear in the number of members. */
const json_value *json_get(const json_value *obj, const char *key);
/* Elements of an array or members of an object (in document order). json_count is 0 for other
 * types and NULL; json_at returns NULL when i is out of range. */
size_t json_count(const json_value *v);
const json_value *json_at(const json_value *v, size_t i);

/* Typed getters. Each accepts NULL and returns NULL / -1 when v is not of the wanted type. */
const char *json_string(const json_value *v);          /* NULL also if the string contains a NUL */
int json_bool(const json_value *v, int *out);           /* 0 and *out = 0/1 for true/false */
int json_double(const json_value *v, double *out);      /* any number */
int json_int64(const json_value *v, int64_t *out);      /* a number with is_int only */
int json_plain_int64(const json_value *v, int64_t *out); /* plain_int only: where a format wants integers
                                                           (safetensors shapes and offsets), 10.0 and 1e1 are not */
int json_is_null(const json_value *v);                  /* 1 for a JSON null, else 0 */

/* ------------------------------------------------------------------ writing */

typedef struct sbuf {
    char *data;   /* NUL-terminated when not NULL (use sbuf_str to never see NULL) */
    size_t len;   /* bytes, not counting the terminating NUL */
    size_t cap;
    int oom;      /* set when an allocation failed; every later append is ignored */
} sbuf;

#define SBUF_INIT {NULL, 0, 0, 0}

void sbuf_init(sbuf *b);
void sbuf_free(sbuf *b);                                /* b is left empty and usable */
void sbuf_clear(sbuf *b);                               /* len = 0, memory kept, oom reset */
/* Each returns 0, or -1 when the buffer is (or becomes) out of memory. */
int sbuf_append(sbuf *b, const void *data, size_t n);
int sbuf_puts(sbuf *b, const char *s);
int sbuf_putc(sbuf *b, char c);
int sbuf_printf(sbuf *b, const char *fmt, ...) MLP_PRINTF(2, 3);
int sbuf_vprintf(sbuf *b, const char *fmt, va_list ap) MLP_PRINTF(2, 0);
const char *sbuf_str(const sbuf *b);                    /* the contents, "" when empty */
/* Hand the malloc'ed contents to the caller (free() it), leaving b empty. NULL when b is out of
 * memory; an empty buffer gives a malloc'ed "". *len (if not NULL) receives the length. */
char *sbuf_detach(sbuf *b, size_t *len);

/* A JSON string literal for s: quotes added; '"', '\\' and control characters escaped (\n, \t, ...,
 * else \u00XX); valid UTF-8 copied as is; each byte of invalid UTF-8 replaced by U+FFFD so the output
 * is always valid JSON. Returns 0, or -1 on a write or allocation failure. */
int json_sbuf_string(sbuf *b, const char *s);
int json_sbuf_string_n(sbuf *b, const char *s, size_t n);  /* n bytes, may contain NUL (\u0000) */
int json_write_string(FILE *f, const char *s);

/* The shortest of %.15g/%.16g/%.17g that reads back as exactly x ("0.1", not
 * "0.10000000000000001"); "null" for NaN and infinities, which JSON cannot express. buf holds at least
 * 32 bytes. Returns the length written. */
int json_format_double(char *buf, size_t size, double x);
/* Same for a float: the shortest of %.6g..%.9g that reads back (strtof) as exactly x. */
int json_format_float(char *buf, size_t size, float x);
int json_sbuf_double(sbuf *b, double x);
int json_sbuf_float(sbuf *b, float x);
int json_write_double(FILE *f, double x);

#endif
