/* fuzz_json.c - the JSON reader behind safetensors headers and config.json: json_parse on arbitrary bytes
 * with small limits, then a walk over the whole tree through the public getters. */
#include "fuzz_common.h"
#include "json.h"

static size_t walk(const json_value *v, int depth) {
    size_t n = 1;
    /* depth counts this value's level; a scalar may sit inside the deepest (16th) array/object */
    FUZZ_ASSERT(depth <= 17 && (depth <= 16 || (v->type != JSON_ARRAY && v->type != JSON_OBJECT)));
    double d;
    int64_t i;
    int b;
    switch (v->type) {
    case JSON_NUMBER:
        FUZZ_ASSERT(json_double(v, &d) == 0);
        if (v->is_int) FUZZ_ASSERT(json_int64(v, &i) == 0 && (double)i == d);
        break;
    case JSON_STRING:
        FUZZ_ASSERT(v->u.str.ptr[v->u.str.len] == '\0');
        if (json_string(v)) FUZZ_ASSERT(strlen(json_string(v)) == v->u.str.len);
        break;
    case JSON_BOOL: FUZZ_ASSERT(json_bool(v, &b) == 0 && (b == 0 || b == 1)); break;
    case JSON_ARRAY:
    case JSON_OBJECT:
        for (size_t k = 0; k < json_count(v); k++) {
            const json_value *c = json_at(v, k);
            /* a key holding a NUL (from \u0000) cannot be looked up by a C string; every other key finds
             * its own member (duplicate keys are refused) */
            if (v->type == JSON_OBJECT)
                FUZZ_ASSERT(c->key && (strlen(c->key) != c->key_len || json_get(v, c->key) == c));
            n += walk(c, depth + 1);
        }
        break;
    case JSON_NULL: FUZZ_ASSERT(json_is_null(v)); break;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_doc doc = {0};
    json_limits lim = json_limits_default();
    lim.max_depth = 16;
    lim.max_memory = (size_t)8 << 20;
    mlp_error err;
    mlp_status st = json_parse(&doc, (const char *)data, size, &lim, &err);
    fuzz_check_error(st, &err);
    if (st == MLP_OK) {
        FUZZ_ASSERT(doc.root != NULL);
        walk(doc.root, 1);
    } else {
        FUZZ_ASSERT(doc.root == NULL);
    }
    json_free(&doc);
    return 0;
}
