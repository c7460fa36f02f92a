/* test_json.c - the strict JSON reader (values, escapes, numbers, limits, every syntax error with its
 * offset, duplicate keys) and the writer helpers (sbuf, escaped strings, round-tripping numbers). */
#include "check.h"
#include "json.h"

#include <stdlib.h>
#include <string.h>

/* Parse a NUL-terminated text (length = strlen). */
static mlp_status parse_text(json_doc *doc, const char *text, mlp_error *err) {
    return json_parse(doc, text, strlen(text), NULL, err);
}

TEST(json_valid_document) {
    const char *text = " {\"name\": \"mlp\", \"n\": 3, \"ok\": true, \"no\": false, \"none\": null,\n"
                       "  \"list\": [1, -2.5, \"x\", [], {}], \"nested\": {\"a\": {\"b\": [true]}}}\r\n\t";
    json_doc doc;
    mlp_error err = {0};
    CHECK_INT(parse_text(&doc, text, &err), MLP_OK);
    const json_value *root = doc.root;
    CHECK(root && root->type == JSON_OBJECT);
    CHECK_INT(root->offset, 1);
    CHECK_INT(json_count(root), 7);
    /* members keep document order */
    const char *keys[] = {"name", "n", "ok", "no", "none", "list", "nested"};
    for (size_t i = 0; i < 7; i++) CHECK(strcmp(json_at(root, i)->key, keys[i]) == 0);
    CHECK(strcmp(json_string(json_get(root, "name")), "mlp") == 0);
    CHECK_INT(json_get(root, "name")->key_offset, 2);
    CHECK_INT(json_get(root, "name")->offset, 10);
    int64_t n = 0;
    CHECK_INT(json_int64(json_get(root, "n"), &n), 0);
    CHECK_INT(n, 3);
    int b = -1;
    CHECK_INT(json_bool(json_get(root, "ok"), &b), 0);
    CHECK_INT(b, 1);
    CHECK_INT(json_bool(json_get(root, "no"), &b), 0);
    CHECK_INT(b, 0);
    CHECK(json_is_null(json_get(root, "none")));
    const json_value *list = json_get(root, "list");
    CHECK_INT(json_count(list), 5);
    double d = 0;
    CHECK_INT(json_double(json_at(list, 1), &d), 0);
    CHECK(d == -2.5);
    CHECK(json_at(list, 1)->is_int == 0);
    CHECK(strcmp(json_string(json_at(list, 2)), "x") == 0);
    CHECK(json_at(list, 2)->key == NULL);
    CHECK(json_at(list, 3)->type == JSON_ARRAY && json_count(json_at(list, 3)) == 0);
    CHECK(json_at(list, 4)->type == JSON_OBJECT && json_count(json_at(list, 4)) == 0);
    CHECK(json_at(list, 5) == NULL);
    const json_value *deep = json_at(json_get(json_get(json_get(root, "nested"), "a"), "b"), 0);
    CHECK_INT(json_bool(deep, &b), 0);
    CHECK_INT(b, 1);
    json_free(&doc);
    CHECK(doc.root == NULL);
    json_free(&doc); /* twice is harmless */

    /* scalars are documents too */
    CHECK_INT(parse_text(&doc, "42", &err), MLP_OK);
    CHECK(json_int64(doc.root, &n) == 0 && n == 42);
    json_free(&doc);
    CHECK_INT(parse_text(&doc, "\xEF\xBB\xBF\"bom skipped\"", &err), MLP_OK);
    CHECK(strcmp(json_string(doc.root), "bom skipped") == 0);
    json_free(&doc);
}

TEST(json_getters_wrong_types) {
    json_doc doc;
    mlp_error err;
    CHECK_INT(parse_text(&doc, "{\"s\":\"t\",\"n\":1.5,\"a\":[1]}", &err), MLP_OK);
    const json_value *r = doc.root;
    int64_t i = 7;
    double d = 7;
    int b = 7;
    CHECK(json_get(r, "missing") == NULL);
    CHECK(json_get(NULL, "s") == NULL);
    CHECK(json_get(json_get(r, "a"), "s") == NULL); /* not an object */
    CHECK(json_string(json_get(r, "n")) == NULL);
    CHECK_INT(json_int64(json_get(r, "n"), &i), -1); /* 1.5 is not an integer */
    CHECK_INT(i, 7);
    CHECK_INT(json_double(json_get(r, "s"), &d), -1);
    CHECK_INT(json_bool(json_get(r, "n"), &b), -1);
    CHECK_INT(json_double(NULL, &d), -1);
    CHECK_INT(json_count(json_get(r, "s")), 0);
    CHECK_INT(json_count(NULL), 0);
    CHECK(!json_is_null(NULL));
    CHECK(strcmp(json_kind(NULL), "nothing") == 0);
    CHECK(strcmp(json_kind(json_get(r, "a")), "array") == 0);
    CHECK(strcmp(json_type_name(JSON_BOOL), "boolean") == 0);
    json_free(&doc);
}

TEST(json_string_escapes) {
    json_doc doc;
    mlp_error err;
    CHECK_INT(parse_text(&doc, "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"caf\\u00e9 \\u20AC\", \"\\uD83D\\ude00\","
                               " \"a\\u0000b\", \"raw \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\", \"\"]",
                         &err),
              MLP_OK);
    const json_value *a = doc.root;
    CHECK(strcmp(json_string(json_at(a, 0)), "\"\\/\b\f\n\r\t") == 0);
    CHECK(strcmp(json_string(json_at(a, 1)), "caf\xC3\xA9 \xE2\x82\xAC") == 0);
    /* U+1F600 from a surrogate pair (lower-case hex accepted) */
    CHECK(strcmp(json_string(json_at(a, 2)), "\xF0\x9F\x98\x80") == 0);
    CHECK_INT(json_at(a, 2)->u.str.len, 4);
    /* an embedded NUL keeps its length but is refused as a C string */
    CHECK_INT(json_at(a, 3)->u.str.len, 3);
    CHECK(memcmp(json_at(a, 3)->u.str.ptr, "a\0b", 3) == 0);
    CHECK(json_string(json_at(a, 3)) == NULL);
    CHECK(strcmp(json_string(json_at(a, 4)), "raw \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") == 0);
    CHECK(strcmp(json_string(json_at(a, 5)), "") == 0);
    json_free(&doc);

    /* keys are decoded the same way */
    CHECK_INT(parse_text(&doc, "{\"k\\u0065y\": 1}", &err), MLP_OK);
    CHECK(json_get(doc.root, "key") != NULL);
    json_free(&doc);
}

TEST(json_numbers) {
    static const struct {
        const char *text;
        double value;
        int is_int;
        int64_t integer;
    } cases[] = {
        {"0", 0, 1, 0},
        {"-0", 0, 1, 0},
        {"123", 123, 1, 123},
        {"-45", -45, 1, -45},
        {"1.5", 1.5, 0, 0},
        {"0.1", 0.1, 0, 0},
        {"1e3", 1000, 1, 1000},
        {"1E+2", 100, 1, 100},
        {"1.5e3", 1500, 1, 1500},
        {"100e-2", 1, 1, 1},
        {"1.25e1", 12.5, 0, 0},
        {"2.50", 2.5, 0, 0},
        {"-0.0e5", 0, 1, 0},
        {"9223372036854775807", 9223372036854775807.0, 1, INT64_MAX},
        {"-9223372036854775808", -9223372036854775808.0, 1, INT64_MIN},
        {"9223372036854775808", 9223372036854775808.0, 0, 0},
        {"9007199254740993", 9007199254740992.0, 1, 9007199254740993LL},
        {"1e19", 1e19, 0, 0},
        {"1e-400", 0, 0, 0},
        {"3.0e-1", 0.3, 0, 0},
        {"12345678901234567890e-10", 1234567890.1234567890, 0, 0},
        {"1234567890123456789000e-3", 1234567890123456789.0, 1, 1234567890123456789LL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_doc doc;
        mlp_error err;
        int64_t n = -1;
        double d;
        CHECK_MSG(parse_text(&doc, cases[i].text, &err) == MLP_OK, "%s: %s", cases[i].text, err.msg);
        if (!doc.root) continue;
        CHECK_INT(json_double(doc.root, &d), 0);
        CHECK_MSG(d == cases[i].value, "%s: %.17g", cases[i].text, d);
        CHECK_MSG(doc.root->is_int == cases[i].is_int, "%s: is_int %d", cases[i].text, doc.root->is_int);
        if (cases[i].is_int) {
            CHECK_INT(json_int64(doc.root, &n), 0);
            CHECK_MSG(n == cases[i].integer, "%s: %lld", cases[i].text, (long long)n);
        } else {
            CHECK_INT(json_int64(doc.root, &n), -1);
        }
        json_free(&doc);
    }
}

/* One malformed document: expect MLP_ERR_FORMAT, the phrase, and "at offset N". */
static void expect_error(const char *text, size_t len, const char *phrase, long offset, int line) {
    json_doc doc;
    mlp_error err = {0};
    mlp_status st = json_parse(&doc, text, len, NULL, &err);
    if (st != MLP_ERR_FORMAT) {
        check_fail(__FILE__, line, "%s: expected a format error, got %d", text, (int)st);
        return;
    }
    if (doc.root != NULL) check_fail(__FILE__, line, "%s: root set after an error", text);
    if (!strstr(err.msg, phrase)) check_fail(__FILE__, line, "\"%s\" lacks \"%s\"", err.msg, phrase);
    if (offset >= 0) {
        char at[48];
        snprintf(at, sizeof at, "at offset %ld ", offset);
        if (!strstr(err.msg, at)) check_fail(__FILE__, line, "\"%s\" lacks \"%s\"", err.msg, at);
    }
    if (strncmp(err.msg, "JSON: ", 6) != 0) check_fail(__FILE__, line, "\"%s\" lacks the JSON: prefix", err.msg);
    json_free(&doc);
}
#define EXPECT_ERROR(text, phrase, offset) expect_error(text, strlen(text), phrase, offset, __LINE__)

TEST(json_syntax_errors) {
    EXPECT_ERROR("{\"a\" 1}", "expected ':' after key", 5);
    EXPECT_ERROR("{\"a\"", "expected ':' after key", 4);
    EXPECT_ERROR("{\"a\":1 \"b\":2}", "expected ',' or '}' after object member, got '\"'", 7);
    EXPECT_ERROR("[1 2]", "expected ',' or ']' after array element, got '2'", 3);
    EXPECT_ERROR("[1,]", "trailing comma before ']'", 3);
    EXPECT_ERROR("{\"a\":1,}", "trailing comma before '}'", 7);
    EXPECT_ERROR("{1:2}", "expected a string key, got '1'", 1);
    EXPECT_ERROR("{,}", "expected a string key, got ','", 1);
    EXPECT_ERROR("", "empty document", 0);
    EXPECT_ERROR(" \n ", "empty document", 3);
    EXPECT_ERROR("[", "unexpected end of input, expected a value", 1);
    EXPECT_ERROR("[1", "unexpected end of input, expected ',' or ']'", 2);
    EXPECT_ERROR("{\"a\":", "unexpected end of input, expected a value", 5);
    EXPECT_ERROR("{\"a\":1", "unexpected end of input, expected ',' or '}'", 6);
    EXPECT_ERROR("{", "unexpected end of input, expected a string key", 1);
    EXPECT_ERROR("\"abc", "unterminated string", 0);
    EXPECT_ERROR("[\"abc\\\"]", "unterminated string", 1);
    EXPECT_ERROR("tru", "invalid literal", 0);
    EXPECT_ERROR("[nul]", "invalid literal", 1);
    EXPECT_ERROR("True", "unexpected 'T', expected a value", 0);
    EXPECT_ERROR("'a'", "unexpected ''', expected a value", 0);
    EXPECT_ERROR("[1] x", "unexpected 'x' after the end of the document", 4);
    EXPECT_ERROR("{\"a\":1}}", "unexpected '}' after the end of the document", 7);
    EXPECT_ERROR("1 2", "after the end of the document", 2);
    EXPECT_ERROR("/* c */ 1", "unexpected '/'", 0);
    EXPECT_ERROR("[1, // c\n 2]", "unexpected '/'", 4);
    EXPECT_ERROR("\"a\\qb\"", "invalid escape: backslash followed by 'q'", 2);
    EXPECT_ERROR("\"\\u12G4\"", "invalid \\u escape: expected 4 hex digits", 1);
    EXPECT_ERROR("\"\\u12\"", "expected 4 hex digits", 1);
    EXPECT_ERROR("\"tab\there\"", "control character 0x09 in string", 4);
    EXPECT_ERROR("\"line\nbreak\"", "control character 0x0A", 5);
    EXPECT_ERROR("[1]\v", "unexpected byte 0x0B after the end", 3);
    /* a NUL byte inside the given length is just a bad byte */
    expect_error("[1]\0", 4, "unexpected byte 0x00 after the end of the document", 3, __LINE__);
    expect_error("[\0]", 3, "unexpected byte 0x00, expected a value", 1, __LINE__);
    /* line and column for humans */
    EXPECT_ERROR("[1,\n 2,\n x]", "(line 3, column 2)", 9);
    EXPECT_ERROR("{\n  \"a\": 1\n  \"b\": 2\n}", "expected ',' or '}' after object member", 13);
}

TEST(json_number_errors) {
    EXPECT_ERROR("01", "invalid number: leading zero", 0);
    EXPECT_ERROR("-012", "leading zero", 0);
    EXPECT_ERROR("-", "invalid number: expected a digit after '-'", 1);
    EXPECT_ERROR("-a", "expected a digit after '-'", 1);
    EXPECT_ERROR("1.", "expected a digit after '.'", 2);
    EXPECT_ERROR("1.e5", "expected a digit after '.'", 2);
    EXPECT_ERROR(".5", "unexpected '.', expected a value", 0);
    EXPECT_ERROR("+1", "unexpected '+', expected a value", 0);
    EXPECT_ERROR("1e", "expected a digit in the exponent", 2);
    EXPECT_ERROR("[1e+]", "expected a digit in the exponent", 4);
    EXPECT_ERROR("0x10", "unexpected 'x' after the end", 1);
    EXPECT_ERROR("NaN", "unexpected 'N'", 0);
    EXPECT_ERROR("[Infinity]", "unexpected 'I'", 1);
    EXPECT_ERROR("[-Infinity]", "expected a digit after '-'", 2);
    EXPECT_ERROR("[1, 1e999]", "number out of range", 4);
    EXPECT_ERROR("-1e400", "number out of range", 0);
}

TEST(json_unicode_errors) {
    EXPECT_ERROR("\"\\uD800\"", "unpaired high surrogate \\uD800", 1);
    EXPECT_ERROR("\"ab\\uD83Dx\"", "unpaired high surrogate", 3);
    EXPECT_ERROR("\"\\uD83D\\u0041\"", "unpaired high surrogate", 1);
    EXPECT_ERROR("\"\\uDE00\"", "unpaired low surrogate \\uDE00", 1);
    EXPECT_ERROR("\"\\uD83D\\uD83D\"", "unpaired high surrogate", 1);
    EXPECT_ERROR("\"\xC0\x80\"", "invalid UTF-8 byte 0xC0", 1);          /* overlong NUL */
    EXPECT_ERROR("\"\xE0\x80\xAF\"", "invalid UTF-8 byte 0xE0", 1);      /* overlong '/' */
    EXPECT_ERROR("\"ok\xED\xA0\x80\"", "invalid UTF-8 byte 0xED", 3);    /* encoded surrogate */
    EXPECT_ERROR("\"\xF4\x90\x80\x80\"", "invalid UTF-8 byte 0xF4", 1);  /* above U+10FFFF */
    EXPECT_ERROR("\"\xF5\x80\x80\x80\"", "invalid UTF-8 byte 0xF5", 1);
    EXPECT_ERROR("\"\xFF\"", "invalid UTF-8 byte 0xFF", 1);
    EXPECT_ERROR("\"\x80\"", "invalid UTF-8 byte 0x80", 1);             /* lone continuation */
    EXPECT_ERROR("\"\xE2\x82\"", "invalid UTF-8 byte 0xE2", 1);         /* truncated sequence */
    EXPECT_ERROR("{\"k\xC3\": 1}", "invalid UTF-8 byte 0xC3", 3);       /* in a key */
}

TEST(json_duplicate_keys) {
    EXPECT_ERROR("{\"a\":1,\"b\":2,\"a\":3}", "duplicate key \"a\"", 13);
    EXPECT_ERROR("{\"x\":{\"k\":1,\"k\":1}}", "duplicate key \"k\"", 12);
    /* escapes are decoded before comparing */
    EXPECT_ERROR("{\"ab\":1,\"a\\u0062\":2}", "duplicate key \"ab\"", 8);

    /* a large object is checked by sorting; the first repetition in document order is named */
    sbuf b = SBUF_INIT;
    sbuf_putc(&b, '{');
    for (int i = 0; i < 200; i++) sbuf_printf(&b, "\"key%03d\":%d,", i, i);
    size_t first_dup = b.len;
    sbuf_puts(&b, "\"key150\":0,\"key007\":0}");
    CHECK(!b.oom);
    expect_error(b.data, b.len, "duplicate key \"key150\"", (long)first_dup, __LINE__);
    sbuf_free(&b);

    /* equal keys in different objects are fine */
    json_doc doc;
    mlp_error err;
    CHECK_INT(parse_text(&doc, "{\"a\":{\"a\":1},\"b\":{\"a\":2}}", &err), MLP_OK);
    json_free(&doc);
}

TEST(json_depth_limit) {
    char text[300];
    json_doc doc;
    mlp_error err;
    /* 64 nested arrays are allowed, 65 are not */
    for (int depth = 64; depth <= 65; depth++) {
        int n = 0;
        for (int i = 0; i < depth; i++) text[n++] = '[';
        for (int i = 0; i < depth; i++) text[n++] = ']';
        mlp_status st = json_parse(&doc, text, (size_t)n, NULL, &err);
        if (depth == 64) {
            CHECK_INT(st, MLP_OK);
            const json_value *v = doc.root;
            int seen = 0;
            while (v && v->type == JSON_ARRAY) seen++, v = json_at(v, 0);
            CHECK_INT(seen, 64);
            json_free(&doc);
        } else {
            CHECK_INT(st, MLP_ERR_FORMAT);
            CHECK_CONTAINS(err.msg, "nesting deeper than 64 arrays/objects at offset 64");
        }
    }
    /* a custom limit, objects count too */
    json_limits lim = json_limits_default();
    lim.max_depth = 2;
    CHECK_INT(json_parse(&doc, "{\"a\":[1]}", 9, &lim, &err), MLP_OK);
    json_free(&doc);
    CHECK_INT(json_parse(&doc, "{\"a\":[{}]}", 10, &lim, &err), MLP_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "nesting deeper than 2 arrays/objects at offset 6");
    /* a very deep document fails cleanly (no stack overflow) */
    size_t big = 100000;
    char *deep = malloc(big);
    CHECK(deep != NULL);
    if (deep) {
        memset(deep, '[', big);
        CHECK_INT(json_parse(&doc, deep, big, NULL, &err), MLP_ERR_FORMAT);
        CHECK_CONTAINS(err.msg, "nesting deeper than 64");
        free(deep);
    }
}

TEST(json_size_limits) {
    json_doc doc;
    mlp_error err;
    json_limits lim = json_limits_default();
    lim.max_input = 10;
    CHECK_INT(json_parse(&doc, "[1,2,3,4,5]", 11, &lim, &err), MLP_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "document of 11 bytes exceeds the limit of 10 bytes");
    CHECK(doc.root == NULL);

    /* memory: 100000 numbers need more than 1 MB of nodes */
    sbuf b = SBUF_INIT;
    sbuf_putc(&b, '[');
    for (int i = 0; i < 100000; i++) sbuf_puts(&b, i ? ",0" : "0");
    sbuf_putc(&b, ']');
    lim = json_limits_default();
    lim.max_memory = 1 << 20;
    CHECK_INT(json_parse(&doc, b.data, b.len, &lim, &err), MLP_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "document needs more than 1048576 bytes of memory");
    CHECK(doc.root == NULL);
    /* the same document within the default limits */
    CHECK_INT(json_parse(&doc, b.data, b.len, NULL, &err), MLP_OK);
    CHECK_INT(json_count(doc.root), 100000);
    json_free(&doc);
    sbuf_free(&b);
}

TEST(json_explicit_length) {
    /* the buffer need not end at the document: only len bytes are read */
    const char text[] = "[1,2]xyz";
    json_doc doc;
    mlp_error err;
    CHECK_INT(json_parse(&doc, text, 5, NULL, &err), MLP_OK);
    CHECK_INT(json_count(doc.root), 2);
    json_free(&doc);
    CHECK_INT(json_parse(&doc, text, 4, NULL, &err), MLP_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "unexpected end of input");
    /* a string cut by the length is unterminated even though a quote follows in memory */
    CHECK_INT(json_parse(&doc, "\"ab\"", 3, NULL, &err), MLP_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "unterminated string at offset 0");
    /* a number cut by the length */
    int64_t n;
    CHECK_INT(json_parse(&doc, "12345", 3, NULL, &err), MLP_OK);
    CHECK(json_int64(doc.root, &n) == 0 && n == 123);
    json_free(&doc);
}

TEST(json_position_lines) {
    const char *t = "ab\ncd\n\nef";
    size_t line, col;
    json_position(t, strlen(t), 0, &line, &col);
    CHECK(line == 1 && col == 1);
    json_position(t, strlen(t), 4, &line, &col);
    CHECK(line == 2 && col == 2);
    json_position(t, strlen(t), 7, &line, &col);
    CHECK(line == 4 && col == 1);
}

TEST(json_sbuf_basics) {
    sbuf b;
    sbuf_init(&b);
    CHECK(strcmp(sbuf_str(&b), "") == 0);
    for (int i = 0; i < 1000; i++) CHECK_INT(sbuf_printf(&b, "%d,", i), 0);
    CHECK_INT(b.len, 3890); /* 10*2 + 90*3 + 900*4 */
    CHECK(strncmp(b.data, "0,1,2,", 6) == 0);
    CHECK(strcmp(b.data + b.len - 4, "999,") == 0);
    CHECK_INT(sbuf_putc(&b, 'x'), 0);
    CHECK_INT(sbuf_append(&b, "yz\0w", 4), 0);
    CHECK_INT(b.len, 3895);
    CHECK(b.data[b.len] == '\0');
    sbuf_clear(&b);
    CHECK_INT(b.len, 0);
    CHECK(strcmp(sbuf_str(&b), "") == 0);
    sbuf_puts(&b, "kept");
    size_t len = 0;
    char *s = sbuf_detach(&b, &len);
    CHECK(s && strcmp(s, "kept") == 0 && len == 4);
    CHECK(b.data == NULL && b.len == 0);
    free(s);
    s = sbuf_detach(&b, &len); /* empty: a malloc'ed "" */
    CHECK(s && s[0] == '\0' && len == 0);
    free(s);
    /* an out-of-memory buffer ignores appends and reports failure */
    b.oom = 1;
    CHECK_INT(sbuf_puts(&b, "lost"), -1);
    CHECK(sbuf_detach(&b, &len) == NULL);
    sbuf_free(&b);
}

TEST(json_write_strings) {
    sbuf b = SBUF_INIT;
    CHECK_INT(json_sbuf_string(&b, "a\"b\\c/\n\t\r\b\f\x01\x1f caf\xC3\xA9 \xF0\x9F\x98\x80"), 0);
    CHECK(strcmp(b.data, "\"a\\\"b\\\\c/\\n\\t\\r\\b\\f\\u0001\\u001F caf\xC3\xA9 \xF0\x9F\x98\x80\"") == 0);
    sbuf_clear(&b);
    /* invalid UTF-8 becomes U+FFFD, byte by byte */
    json_sbuf_string(&b, "x\xFFy\xC3");
    CHECK(strcmp(b.data, "\"x\xEF\xBF\xBDy\xEF\xBF\xBD\"") == 0);
    sbuf_clear(&b);
    json_sbuf_string_n(&b, "a\0b", 3);
    CHECK(strcmp(b.data, "\"a\\u0000b\"") == 0);

    /* every byte 1..127 and some UTF-8 survive a write/parse round trip */
    char all[200];
    int n = 0;
    for (int c = 1; c < 128; c++) all[n++] = (char)c;
    memcpy(all + n, "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 9);
    n += 9;
    all[n] = '\0';
    sbuf_clear(&b);
    CHECK_INT(json_sbuf_string(&b, all), 0);
    json_doc doc;
    mlp_error err;
    CHECK_INT(json_parse(&doc, b.data, b.len, NULL, &err), MLP_OK);
    CHECK(json_string(doc.root) && strcmp(json_string(doc.root), all) == 0);
    json_free(&doc);

    /* the FILE variant writes the same bytes */
    FILE *f = tmpfile();
    CHECK(f != NULL);
    if (f) {
        char back[512] = {0};
        CHECK_INT(json_write_string(f, all), 0);
        CHECK_INT(json_write_double(f, 0.1), 0);
        rewind(f);
        size_t got = fread(back, 1, sizeof back - 1, f);
        CHECK_INT(got, b.len + 3);
        CHECK(memcmp(back, b.data, b.len) == 0);
        CHECK(strcmp(back + b.len, "0.1") == 0);
        fclose(f);
    }
    sbuf_free(&b);
}

TEST(json_write_numbers) {
    char buf[40];
    json_format_double(buf, sizeof buf, 0.1);
    CHECK(strcmp(buf, "0.1") == 0);
    json_format_double(buf, sizeof buf, 1.0 / 3.0);
    CHECK(strcmp(buf, "0.3333333333333333") == 0);
    json_format_double(buf, sizeof buf, 1e300);
    CHECK(strcmp(buf, "1e+300") == 0);
    json_format_double(buf, sizeof buf, 60000);
    CHECK(strcmp(buf, "60000") == 0);
    json_format_double(buf, sizeof buf, NAN);
    CHECK(strcmp(buf, "null") == 0);
    json_format_double(buf, sizeof buf, -INFINITY);
    CHECK(strcmp(buf, "null") == 0);
    json_format_float(buf, sizeof buf, 0.1f);
    CHECK(strcmp(buf, "0.1") == 0);
    json_format_float(buf, sizeof buf, 1.0f / 255.0f);
    CHECK(strcmp(buf, "0.003921569") == 0); /* 7 digits suffice for this float */
    /* every printed number parses back as the same value through our own reader */
    const double values[] = {0.1, 2.0 / 3.0, 1e-310, 123456789.125, -4.9406564584124654e-324, 1.7976931348623157e308};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        sbuf b = SBUF_INIT;
        json_doc doc;
        mlp_error err;
        double d = 0;
        json_sbuf_double(&b, values[i]);
        CHECK_INT(json_parse(&doc, b.data, b.len, NULL, &err), MLP_OK);
        CHECK(json_double(doc.root, &d) == 0 && d == values[i]);
        json_free(&doc);
        sbuf_free(&b);
    }
    sbuf b = SBUF_INIT;
    json_sbuf_float(&b, 16777217.0f); /* rounds to 16777216 */
    CHECK(strcmp(b.data, "16777216") == 0);
    sbuf_free(&b);
}
