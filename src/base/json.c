/* json.c - the strict JSON reader (recursive descent into an arena-allocated tree) and the writer
 * helpers (sbuf, escaped strings, round-tripping numbers). See json.h for the contract.
 *
 * Reading works in one pass. Children of the array or object being parsed are collected on one shared
 * stack of json_value; when the container closes, its children are copied into a single arena block
 * and popped, so each container costs one allocation and nested containers simply use the stack above
 * their parent's pending children. Every byte of arena and stack counts against limits.max_memory. */
#include "json.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================== arena */

struct json_arena_block {
    json_arena_block *next;
    size_t used, cap;
    max_align_t data[]; /* cap bytes, aligned for any node */
};

#define ARENA_MIN_BLOCK ((size_t)64 << 10)

/* ================================================================== parser state */

typedef struct parser {
    const unsigned char *s;
    size_t len, pos;
    int depth;
    json_limits lim;
    json_doc *doc;
    json_value *stack; /* pending children of the open containers */
    size_t stack_len, stack_cap;
    mlp_error *err;
    mlp_status status; /* set by the first error */
} parser;

void json_position(const char *buf, size_t len, size_t offset, size_t *line, size_t *column) {
    size_t ln = 1, line_start = 0;
    if (offset > len) offset = len;
    for (size_t i = 0; i < offset; i++)
        if (buf[i] == '\n') ln++, line_start = i + 1;
    if (line) *line = ln;
    if (column) *column = offset - line_start + 1;
}

/* Record a syntax error at a byte offset: "JSON: <what> at offset N (line L, column C)". Returns -1. */
static int fail_at(parser *p, size_t offset, const char *fmt, ...) MLP_PRINTF(3, 4);
static int fail_at(parser *p, size_t offset, const char *fmt, ...) {
    char what[320];
    size_t line, column;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    /* the message quotes decoded keys, which may hold control characters (\n from an escape): keep it one line */
    for (char *c = what; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    json_position((const char *)p->s, p->len, offset, &line, &column);
    p->status = mlp_fail(p->err, MLP_ERR_FORMAT, "JSON: %s at offset %zu (line %zu, column %zu)", what, offset,
                         line, column);
    return -1;
}

/* "'x'" for a printable ASCII byte, "byte 0xNN" otherwise (for "unexpected ..." messages). */
static const char *describe_byte(unsigned char c, char buf[16]) {
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, 16, "'%c'", c);
    else
        snprintf(buf, 16, "byte 0x%02X", c);
    return buf;
}

/* Account for `bytes` more of memory; fails (limit error) past lim.max_memory. */
static int charge_memory(parser *p, size_t bytes) {
    if (bytes > p->lim.max_memory || p->doc->memory > p->lim.max_memory - bytes)
        return fail_at(p, p->pos, "document needs more than %zu bytes of memory", p->lim.max_memory);
    p->doc->memory += bytes;
    return 0;
}

static int out_of_memory(parser *p, size_t bytes) {
    p->status = mlp_fail(p->err, MLP_ERR_NOMEM, "JSON: cannot allocate %zu bytes while parsing (offset %zu)",
                         bytes, p->pos);
    return -1;
}

/* n bytes from the arena, aligned for any type, or NULL with the error recorded. */
static void *arena_alloc(parser *p, size_t n) {
    const size_t align = alignof(max_align_t);
    json_arena_block *b = p->doc->blocks;
    if (n == 0) n = 1;
    if (n > SIZE_MAX / 2) {
        fail_at(p, p->pos, "document needs more than %zu bytes of memory", p->lim.max_memory);
        return NULL;
    }
    n = (n + align - 1) / align * align;
    if (!b || b->cap - b->used < n) {
        /* Blocks grow with the document (half of what is used so far), so the number of blocks stays
         * logarithmic while a small document uses one small block. */
        size_t cap = p->doc->memory / 2;
        if (cap < ARENA_MIN_BLOCK) cap = ARENA_MIN_BLOCK;
        if (cap < n) cap = n;
        if (charge_memory(p, cap + sizeof *b)) return NULL;
        b = malloc(sizeof *b + cap);
        if (!b) {
            out_of_memory(p, sizeof *b + cap);
            return NULL;
        }
        b->next = p->doc->blocks;
        b->used = 0;
        b->cap = cap;
        p->doc->blocks = b;
    }
    void *ptr = (char *)b->data + b->used;
    b->used += n;
    return ptr;
}

static int stack_push(parser *p, const json_value *v) {
    if (p->stack_len == p->stack_cap) {
        size_t cap = p->stack_cap ? 2 * p->stack_cap : 64;
        if (cap > SIZE_MAX / sizeof *p->stack)
            return fail_at(p, p->pos, "document needs more than %zu bytes of memory", p->lim.max_memory);
        if (charge_memory(p, (cap - p->stack_cap) * sizeof *p->stack)) return -1;
        json_value *grown = realloc(p->stack, cap * sizeof *p->stack);
        if (!grown) return out_of_memory(p, cap * sizeof *p->stack);
        p->stack = grown;
        p->stack_cap = cap;
    }
    p->stack[p->stack_len++] = *v;
    return 0;
}

/* ================================================================== UTF-8 */

/* Length (1..4) of the well-formed UTF-8 sequence at s[0..n), or 0 when it is not one (bad lead byte,
 * bad or missing continuation, overlong form, UTF-16 surrogate, above U+10FFFF). Unicode Table 3-7. */
static size_t utf8_sequence(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF)
        need = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0) lo = 0xA0;      /* overlong */
        if (c == 0xED) hi = 0x9F;      /* surrogates D800..DFFF */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0) lo = 0x90;      /* overlong */
        if (c == 0xF4) hi = 0x8F;      /* > U+10FFFF */
    } else
        return 0;
    if (n < need) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < need; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return need;
}

static size_t utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ================================================================== lexing */

static void skip_ws(parser *p) {
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

/* The four hex digits at s[at..at+4) as a code unit, or -1. */
static long hex4(const parser *p, size_t at) {
    long v = 0;
    if (at > p->len || p->len - at < 4) return -1;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p->s[at + (size_t)i];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Decode the \u escape at s[at] == '\\' (s[at+1] == 'u'), combining a surrogate pair. Writes UTF-8 to
 * out and returns the bytes consumed from the input (6 or 12), or 0 on error (recorded). */
static size_t decode_u_escape(parser *p, size_t at, char *out, size_t *out_len) {
    long unit = hex4(p, at + 2);
    if (unit < 0) {
        fail_at(p, at, "invalid \\u escape: expected 4 hex digits");
        return 0;
    }
    uint32_t cp = (uint32_t)unit;
    size_t used = 6;
    if (unit >= 0xDC00 && unit <= 0xDFFF) {
        fail_at(p, at, "unpaired low surrogate \\u%04lX in string", unit);
        return 0;
    }
    if (unit >= 0xD800 && unit <= 0xDBFF) {
        /* A high surrogate must be followed by \u and a low surrogate: cp = 0x10000 + (hi-D800)*0x400 +
         * (lo-DC00). */
        long low = -1;
        if (at + 7 < p->len && p->s[at + 6] == '\\' && p->s[at + 7] == 'u') low = hex4(p, at + 8);
        if (low < 0xDC00 || low > 0xDFFF) {
            fail_at(p, at, "unpaired high surrogate \\u%04lX in string", unit);
            return 0;
        }
        cp = 0x10000u + (((uint32_t)unit - 0xD800u) << 10) + ((uint32_t)low - 0xDC00u);
        used = 12;
    }
    *out_len = utf8_encode(cp, out);
    return used;
}

/* Parse the string starting at the '"' at p->pos; the decoded bytes go to the arena. */
static int parse_string(parser *p, const char **out, size_t *out_len) {
    const size_t open = p->pos;
    size_t end = open + 1;
    /* Find the closing quote first, to size the output: decoding never makes a string longer. */
    while (end < p->len && p->s[end] != '"') end += (p->s[end] == '\\') ? 2 : 1;
    if (end >= p->len) return fail_at(p, open, "unterminated string");

    char *dst = arena_alloc(p, end - open);
    if (!dst) return -1;
    size_t n = 0, i = open + 1;
    while (i < end) {
        unsigned char c = p->s[i];
        if (c < 0x20) {
            return fail_at(p, i, "control character 0x%02X in string (must be escaped)", c);
        } else if (c == '\\') {
            unsigned char e = p->s[i + 1];
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e == 'u') {
                size_t w, used = decode_u_escape(p, i, dst + n, &w);
                if (!used) return -1;
                n += w;
                i += used;
            } else if (e != '\0' && simple) {
                static const char decoded[] = "\"\\/\b\f\n\r\t";
                dst[n++] = decoded[simple - "\"\\/bfnrt"];
                i += 2;
            } else {
                char d[16];
                return fail_at(p, i, "invalid escape: backslash followed by %s", describe_byte(e, d));
            }
        } else {
            size_t k = utf8_sequence(p->s + i, end - i);
            if (!k) return fail_at(p, i, "invalid UTF-8 byte 0x%02X in string", c);
            memcpy(dst + n, p->s + i, k);
            n += k;
            i += k;
        }
    }
    dst[n] = '\0';
    *out = dst;
    *out_len = n;
    p->pos = end + 1;
    return 0;
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/*
 * Whether the decimal number int_digits.frac_digits x 10^exponent is an integer in int64 range, and
 * which. With all significant digits D (leading zeros dropped) and e = exponent - len(frac), the value
 * is D x 10^e; trailing zeros of D move into e. It is an integer iff then e >= 0, and it fits int64 only
 * if len(D) + e <= 19 (10^19 > 2^63) and the exact product does.
 */
static int exact_integer(const unsigned char *ip, size_t n_int, const unsigned char *fp, size_t n_frac,
                         long exponent, int negative, int64_t *out) {
    /* the digit string D is ip[0..n_int) followed by fp[0..n_frac) */
    size_t total = n_int + n_frac, first = 0, last = total;
#define DIGIT(k) ((k) < n_int ? ip[(k)] : fp[(k)-n_int])
    while (first < total && DIGIT(first) == '0') first++;
    if (first == total) {
        *out = 0;
        return 1;
    }
    long e = exponent - (long)n_frac;
    while (DIGIT(last - 1) == '0') last--, e++;
    if (e < 0 || (long)(last - first) + e > 19) return 0;
    uint64_t v = 0;
    const uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (size_t k = first; k < last; k++) {
        uint64_t d = (uint64_t)(DIGIT(k) - '0');
        if (v > (limit - d) / 10) return 0;
        v = v * 10 + d;
    }
#undef DIGIT
    for (long k = 0; k < e; k++) {
        if (v > limit / 10) return 0;
        v *= 10;
    }
    /* -(2^63) is representable; negate in unsigned arithmetic to avoid signed overflow */
    *out = negative ? (int64_t)(0 - v) : (int64_t)v;
    return 1;
}

static int parse_number(parser *p, json_value *v) {
    const size_t start = p->pos;
    size_t i = start;
    int negative = 0;
    if (p->s[i] == '-') negative = 1, i++;
    if (i >= p->len || !is_digit(p->s[i])) return fail_at(p, i, "invalid number: expected a digit after '-'");
    const size_t int_start = i;
    if (p->s[i] == '0') {
        i++;
        if (i < p->len && is_digit(p->s[i])) return fail_at(p, start, "invalid number: leading zero");
    } else {
        while (i < p->len && is_digit(p->s[i])) i++;
    }
    const size_t n_int = i - int_start;
    size_t frac_start = i, n_frac = 0;
    if (i < p->len && p->s[i] == '.') {
        i++;
        frac_start = i;
        if (i >= p->len || !is_digit(p->s[i])) return fail_at(p, i, "invalid number: expected a digit after '.'");
        while (i < p->len && is_digit(p->s[i])) i++;
        n_frac = i - frac_start;
    }
    long exponent = 0;
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        int exp_negative = 0;
        i++;
        if (i < p->len && (p->s[i] == '+' || p->s[i] == '-')) exp_negative = p->s[i] == '-', i++;
        if (i >= p->len || !is_digit(p->s[i]))
            return fail_at(p, i, "invalid number: expected a digit in the exponent");
        for (; i < p->len && is_digit(p->s[i]); i++)
            if (exponent < 100000000L) exponent = exponent * 10 + (p->s[i] - '0'); /* saturate */
        if (exp_negative) exponent = -exponent;
    }

    /* strtod needs a NUL-terminated copy of the token */
    const size_t tok_len = i - start;
    char small[128], *tok = small;
    if (tok_len >= sizeof small) {
        tok = malloc(tok_len + 1);
        if (!tok) return out_of_memory(p, tok_len + 1);
    }
    memcpy(tok, p->s + start, tok_len);
    tok[tok_len] = '\0';
    double d = strtod(tok, NULL);
    if (tok != small) free(tok);
    if (isinf(d)) return fail_at(p, start, "number out of range for a double");

    v->type = JSON_NUMBER;
    v->u.num.d = d;
    v->u.num.i = 0;
    v->is_int = exact_integer(p->s + int_start, n_int, p->s + frac_start, n_frac, exponent, negative, &v->u.num.i);
    v->plain_int = v->is_int && i - int_start == n_int; /* digits only: no fraction, no exponent */
    p->pos = i;
    return 0;
}

static int parse_literal(parser *p, json_value *v) {
    static const struct {
        const char *word;
        json_type type;
        int boolean;
    } literals[] = {{"true", JSON_BOOL, 1}, {"false", JSON_BOOL, 0}, {"null", JSON_NULL, 0}};
    for (size_t k = 0; k < sizeof literals / sizeof literals[0]; k++) {
        size_t n = strlen(literals[k].word);
        if (p->len - p->pos >= n && memcmp(p->s + p->pos, literals[k].word, n) == 0) {
            v->type = literals[k].type;
            v->u.boolean = literals[k].boolean;
            p->pos += n;
            return 0;
        }
    }
    return fail_at(p, p->pos, "invalid literal (expected true, false or null)");
}

/* ================================================================== containers */

static int parse_value(parser *p, json_value *v);

/* Move the children p->stack[base..] into one arena block of the container v. */
static int close_container(parser *p, json_value *v, size_t base) {
    size_t count = p->stack_len - base;
    v->u.list.count = count;
    v->u.list.items = NULL;
    if (count) {
        v->u.list.items = arena_alloc(p, count * sizeof *p->stack);
        if (!v->u.list.items) return -1;
        memcpy(v->u.list.items, p->stack + base, count * sizeof *p->stack);
    }
    p->stack_len = base;
    return 0;
}

static int enter(parser *p) {
    if (p->depth >= p->lim.max_depth)
        return fail_at(p, p->pos, "nesting deeper than %d arrays/objects", p->lim.max_depth);
    p->depth++;
    return 0;
}

static int parse_array(parser *p, json_value *v) {
    const size_t base = p->stack_len;
    if (enter(p)) return -1;
    v->type = JSON_ARRAY;
    p->pos++; /* '[' */
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ']') {
        p->pos++;
    } else {
        for (;;) {
            json_value item;
            if (parse_value(p, &item) || stack_push(p, &item)) return -1;
            skip_ws(p);
            if (p->pos >= p->len)
                return fail_at(p, p->pos, "unexpected end of input, expected ',' or ']' after array element");
            unsigned char c = p->s[p->pos];
            if (c == ']') {
                p->pos++;
                break;
            }
            if (c != ',') {
                char d[16];
                return fail_at(p, p->pos, "expected ',' or ']' after array element, got %s", describe_byte(c, d));
            }
            p->pos++;
            skip_ws(p);
            if (p->pos < p->len && p->s[p->pos] == ']') return fail_at(p, p->pos, "trailing comma before ']'");
        }
    }
    p->depth--;
    return close_container(p, v, base);
}

/* qsort order for the duplicate check: by key bytes, then by position */
static int member_order(const void *a, const void *b) {
    const json_value *x = *(const json_value *const *)a, *y = *(const json_value *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c) return c;
    if (x->key_len != y->key_len) return x->key_len < y->key_len ? -1 : 1;
    return x->key_offset < y->key_offset ? -1 : x->key_offset > y->key_offset;
}

static int same_key(const json_value *x, const json_value *y) {
    return x->key_len == y->key_len && memcmp(x->key, y->key, x->key_len) == 0;
}

/* Reject an object with two equal keys, naming the first repetition in document order. Small objects
 * are checked pairwise, large ones by sorting pointers (n log n, so a huge object cannot stall). */
static int check_duplicates(parser *p, const json_value *obj) {
    const json_value *items = obj->u.list.items, *dup = NULL;
    size_t n = obj->u.list.count;
    if (n <= 16) {
        for (size_t j = 1; j < n; j++)
            for (size_t i = 0; i < j && !dup; i++)
                if (same_key(&items[i], &items[j])) dup = &items[j];
    } else {
        const json_value **sorted = malloc(n * sizeof *sorted);
        if (!sorted) return out_of_memory(p, n * sizeof *sorted);
        for (size_t i = 0; i < n; i++) sorted[i] = &items[i];
        qsort(sorted, n, sizeof *sorted, member_order);
        for (size_t i = 1; i < n; i++)
            if (same_key(sorted[i - 1], sorted[i]) && (!dup || sorted[i]->key_offset < dup->key_offset))
                dup = sorted[i];
        free(sorted);
    }
    if (dup) {
        return fail_at(p, dup->key_offset, "duplicate key \"%.80s\"", dup->key);
    }
    return 0;
}

static int parse_object(parser *p, json_value *v) {
    const size_t base = p->stack_len;
    if (enter(p)) return -1;
    v->type = JSON_OBJECT;
    p->pos++; /* '{' */
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '}') {
        p->pos++;
    } else {
        for (;;) {
            json_value member;
            const char *key;
            size_t key_len;
            if (p->pos >= p->len) return fail_at(p, p->pos, "unexpected end of input, expected a string key");
            if (p->s[p->pos] != '"') {
                char d[16];
                return fail_at(p, p->pos, "expected a string key, got %s", describe_byte(p->s[p->pos], d));
            }
            const size_t key_offset = p->pos;
            if (parse_string(p, &key, &key_len)) return -1;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') return fail_at(p, p->pos, "expected ':' after key");
            p->pos++;
            if (parse_value(p, &member)) return -1;
            member.key = key;
            member.key_len = key_len;
            member.key_offset = key_offset;
            if (stack_push(p, &member)) return -1;
            skip_ws(p);
            if (p->pos >= p->len)
                return fail_at(p, p->pos, "unexpected end of input, expected ',' or '}' after object member");
            unsigned char c = p->s[p->pos];
            if (c == '}') {
                p->pos++;
                break;
            }
            if (c != ',') {
                char d[16];
                return fail_at(p, p->pos, "expected ',' or '}' after object member, got %s", describe_byte(c, d));
            }
            p->pos++;
            skip_ws(p);
            if (p->pos < p->len && p->s[p->pos] == '}') return fail_at(p, p->pos, "trailing comma before '}'");
        }
    }
    p->depth--;
    if (close_container(p, v, base)) return -1;
    return check_duplicates(p, v);
}

static int parse_value(parser *p, json_value *v) {
    memset(v, 0, sizeof *v);
    skip_ws(p);
    if (p->pos >= p->len) return fail_at(p, p->pos, "unexpected end of input, expected a value");
    v->offset = p->pos;
    unsigned char c = p->s[p->pos];
    switch (c) {
    case '{': return parse_object(p, v);
    case '[': return parse_array(p, v);
    case '"':
        v->type = JSON_STRING;
        return parse_string(p, &v->u.str.ptr, &v->u.str.len);
    case 't':
    case 'f':
    case 'n': return parse_literal(p, v);
    default:
        if (c == '-' || is_digit(c)) return parse_number(p, v);
        char d[16];
        return fail_at(p, p->pos, "unexpected %s, expected a value", describe_byte(c, d));
    }
}

/* ================================================================== document */

json_limits json_limits_default(void) {
    json_limits lim = {JSON_DEFAULT_MAX_DEPTH, JSON_DEFAULT_MAX_INPUT, JSON_DEFAULT_MAX_MEMORY};
    return lim;
}

void json_free(json_doc *doc) {
    if (!doc) return;
    json_arena_block *b = doc->blocks;
    while (b) {
        json_arena_block *next = b->next;
        free(b);
        b = next;
    }
    memset(doc, 0, sizeof *doc);
}

mlp_status json_parse(json_doc *doc, const char *buf, size_t len, const json_limits *lim, mlp_error *err) {
    parser p;
    memset(doc, 0, sizeof *doc);
    memset(&p, 0, sizeof p);
    p.s = (const unsigned char *)buf;
    p.len = len;
    p.lim = lim ? *lim : json_limits_default();
    p.doc = doc;
    p.err = err;
    if (!buf && len) return mlp_fail(err, MLP_ERR_ARG, "JSON: NULL buffer of %zu bytes", len);
    if (len > p.lim.max_input)
        return mlp_fail(err, MLP_ERR_FORMAT, "JSON: document of %zu bytes exceeds the limit of %zu bytes", len,
                        p.lim.max_input);
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) p.pos = 3; /* byte order mark */

    json_value root;
    int bad = 0;
    skip_ws(&p);
    if (p.pos >= len)
        bad = fail_at(&p, p.pos, "empty document, expected a value");
    else if (parse_value(&p, &root) == 0) {
        skip_ws(&p);
        if (p.pos < len) {
            char d[16];
            bad = fail_at(&p, p.pos, "unexpected %s after the end of the document", describe_byte(p.s[p.pos], d));
        }
    } else
        bad = -1;
    if (!bad) {
        doc->root = arena_alloc(&p, sizeof root);
        if (doc->root) *doc->root = root;
        else bad = -1;
    }
    free(p.stack);
    if (bad) {
        json_free(doc);
        return p.status;
    }
    return MLP_OK;
}

/* ================================================================== getters */

const char *json_type_name(json_type t) {
    switch (t) {
    case JSON_NULL: return "null";
    case JSON_BOOL: return "boolean";
    case JSON_NUMBER: return "number";
    case JSON_STRING: return "string";
    case JSON_ARRAY: return "array";
    case JSON_OBJECT: return "object";
    }
    return "?";
}

const char *json_kind(const json_value *v) { return v ? json_type_name(v->type) : "nothing"; }

const json_value *json_get(const json_value *obj, const char *key) {
    if (!obj || obj->type != JSON_OBJECT || !key) return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < obj->u.list.count; i++) {
        const json_value *m = &obj->u.list.items[i];
        if (m->key_len == n && memcmp(m->key, key, n) == 0) return m;
    }
    return NULL;
}

size_t json_count(const json_value *v) {
    return v && (v->type == JSON_ARRAY || v->type == JSON_OBJECT) ? v->u.list.count : 0;
}

const json_value *json_at(const json_value *v, size_t i) {
    return i < json_count(v) ? &v->u.list.items[i] : NULL;
}

const char *json_string(const json_value *v) {
    if (!v || v->type != JSON_STRING || strlen(v->u.str.ptr) != v->u.str.len) return NULL;
    return v->u.str.ptr;
}

int json_bool(const json_value *v, int *out) {
    if (!v || v->type != JSON_BOOL) return -1;
    *out = v->u.boolean;
    return 0;
}

int json_double(const json_value *v, double *out) {
    if (!v || v->type != JSON_NUMBER) return -1;
    *out = v->u.num.d;
    return 0;
}

int json_int64(const json_value *v, int64_t *out) {
    if (!v || v->type != JSON_NUMBER || !v->is_int) return -1;
    *out = v->u.num.i;
    return 0;
}

int json_plain_int64(const json_value *v, int64_t *out) {
    if (!v || v->type != JSON_NUMBER || !v->plain_int) return -1;
    *out = v->u.num.i;
    return 0;
}

int json_is_null(const json_value *v) { return v && v->type == JSON_NULL; }

/* ================================================================== sbuf */

void sbuf_init(sbuf *b) { memset(b, 0, sizeof *b); }

void sbuf_free(sbuf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

void sbuf_clear(sbuf *b) {
    b->len = 0;
    b->oom = 0;
    if (b->data) b->data[0] = '\0';
}

/* Make room for n more bytes plus the NUL. */
static int sbuf_grow(sbuf *b, size_t n) {
    if (b->oom) return -1;
    if (n >= SIZE_MAX - b->len) {
        b->oom = 1;
        return -1;
    }
    size_t need = b->len + n + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : 2 * cap;
    char *grown = realloc(b->data, cap);
    if (!grown) {
        b->oom = 1;
        return -1;
    }
    b->data = grown;
    b->cap = cap;
    return 0;
}

int sbuf_append(sbuf *b, const void *data, size_t n) {
    if (sbuf_grow(b, n)) return -1;
    if (n) memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int sbuf_puts(sbuf *b, const char *s) { return sbuf_append(b, s, strlen(s)); }

int sbuf_putc(sbuf *b, char c) { return sbuf_append(b, &c, 1); }

int sbuf_vprintf(sbuf *b, const char *fmt, va_list ap) {
    va_list again;
    if (b->oom) return -1;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    if (n < 0 || sbuf_grow(b, (size_t)n)) {
        va_end(again);
        if (n < 0) b->oom = 1;
        return -1;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
    va_end(again);
    b->len += (size_t)n;
    return 0;
}

int sbuf_printf(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = sbuf_vprintf(b, fmt, ap);
    va_end(ap);
    return r;
}

const char *sbuf_str(const sbuf *b) { return b->data ? b->data : ""; }

char *sbuf_detach(sbuf *b, size_t *len) {
    if (b->oom) {
        sbuf_free(b);
        return NULL;
    }
    if (!b->data && sbuf_grow(b, 0)) return NULL;
    if (b->len == 0) b->data[0] = '\0';
    char *data = b->data;
    if (len) *len = b->len;
    memset(b, 0, sizeof *b);
    return data;
}

/* ================================================================== JSON writing */

/* Where escaped output goes: a FILE or an sbuf. */
typedef struct sink {
    FILE *f;
    sbuf *b;
    int failed;
} sink;

static void sink_write(sink *s, const char *p, size_t n) {
    if (s->failed || n == 0) return;
    if (s->f ? fwrite(p, 1, n, s->f) != n : sbuf_append(s->b, p, n) != 0) s->failed = 1;
}

static int write_escaped(sink *s, const char *str, size_t n) {
    const unsigned char *p = (const unsigned char *)str;
    size_t run = 0; /* start of the pending run of bytes copied verbatim */
    sink_write(s, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        char esc[8];
        const char *rep = NULL;
        size_t rep_len = 0, k = 1;
        if (c == '"') rep = "\\\"";
        else if (c == '\\') rep = "\\\\";
        else if (c == '\n') rep = "\\n";
        else if (c == '\r') rep = "\\r";
        else if (c == '\t') rep = "\\t";
        else if (c == '\b') rep = "\\b";
        else if (c == '\f') rep = "\\f";
        else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04X", c);
            rep = esc;
        } else if (c >= 0x80) {
            k = utf8_sequence(p + i, n - i);
            if (!k) rep = "\xEF\xBF\xBD", k = 1; /* U+FFFD REPLACEMENT CHARACTER */
        }
        if (rep) {
            rep_len = strlen(rep);
            sink_write(s, str + run, i - run);
            sink_write(s, rep, rep_len);
            run = i + k;
        }
        i += k;
    }
    sink_write(s, str + run, n - run);
    sink_write(s, "\"", 1);
    return s->failed ? -1 : 0;
}

int json_sbuf_string_n(sbuf *b, const char *s, size_t n) {
    sink out = {NULL, b, 0};
    return write_escaped(&out, s, n);
}

int json_sbuf_string(sbuf *b, const char *s) { return json_sbuf_string_n(b, s, strlen(s)); }

int json_write_string(FILE *f, const char *s) {
    sink out = {f, NULL, 0};
    return write_escaped(&out, s, strlen(s));
}

int json_format_double(char *buf, size_t size, double x) {
    if (!isfinite(x)) return snprintf(buf, size, "null");
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, size, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) break;
    }
    return n;
}

int json_format_float(char *buf, size_t size, float x) {
    if (!isfinite(x)) return snprintf(buf, size, "null");
    int n = 0;
    for (int prec = 6; prec <= 9; prec++) {
        n = snprintf(buf, size, "%.*g", prec, (double)x);
        if (strtof(buf, NULL) == x) break;
    }
    return n;
}

int json_sbuf_double(sbuf *b, double x) {
    char buf[40];
    json_format_double(buf, sizeof buf, x);
    return sbuf_puts(b, buf);
}

int json_sbuf_float(sbuf *b, float x) {
    char buf[40];
    json_format_float(buf, sizeof buf, x);
    return sbuf_puts(b, buf);
}

int json_write_double(FILE *f, double x) {
    char buf[40];
    json_format_double(buf, sizeof buf, x);
    return fputs(buf, f) < 0 ? -1 : 0;
}
