/* fuzz_jdoc: any bytes to rs_jdoc_read and rs_json_valid (common/jdoc.c), against jansson's
 * json_loadb. rs_jdoc_read must accept exactly what json_loadb accepts with JSON_DECODE_ANY |
 * JSON_REJECT_DUPLICATES, and read the same values (types, integers against reals, reals bit for
 * bit, string bytes and lengths, keys in order); rs_json_valid exactly what it accepts with
 * JSON_DECODE_ANY alone. Any disagreement abort()s. One document is reused from input to input
 * (its buffers grow and shrink in use as they do in the coordinator). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jdoc.h"

/* jdoc's bound; jansson refuses values more than 2048 deep, so a text that nests 2047 containers
 * or more is not compared (each side's bound would decide, not the grammar). */
#define MAX_DEPTH 2047

/* The deepest nesting of brackets outside strings: never less than the depth either reader
 * reaches before it stops (both read strings as this does until the first error). */
static int bracket_depth(const uint8_t *p, size_t n)
{
    int depth = 0, max = 0, in_string = 0;
    for (size_t i = 0; i < n; i++) {
        if (in_string) {
            if (p[i] == '\\') i++;
            else if (p[i] == '"') in_string = 0;
        } else if (p[i] == '"') {
            in_string = 1;
        } else if (p[i] == '[' || p[i] == '{') {
            if (++depth > max) max = depth;
        } else if ((p[i] == ']' || p[i] == '}') && depth > 0) {
            depth--;
        }
    }
    return max;
}

static int same(const rs_jv_t *v, const json_t *j)
{
    if (!v || !j) return 0;
    switch (json_typeof(j)) {
    case JSON_NULL: return v->type == RS_JNULL && v->span == 1;
    case JSON_TRUE: return v->type == RS_JTRUE && v->span == 1;
    case JSON_FALSE: return v->type == RS_JFALSE && v->span == 1;
    case JSON_INTEGER: return v->type == RS_JINT && v->span == 1 && v->u.i == json_integer_value(j);
    case JSON_REAL: {
        double x = json_real_value(j);
        return v->type == RS_JREAL && v->span == 1 && memcmp(&x, &v->u.d, sizeof(x)) == 0;
    }
    case JSON_STRING:
        return v->type == RS_JSTR && v->span == 1 && v->n == json_string_length(j) &&
               memcmp(v->u.s, json_string_value(j), v->n) == 0 && v->u.s[v->n] == '\0' &&
               strlen(v->u.s) == v->n;
    case JSON_ARRAY: {
        if (v->type != RS_JARR || v->n != json_array_size(j)) return 0;
        size_t i, span = 1;
        const rs_jv_t *m;
        rs_jv_array_foreach(v, i, m)
        {
            if (i >= v->n || !same(m, json_array_get(j, i))) return 0;
            span += m->span;
        }
        return i == v->n && span == v->span;
    }
    case JSON_OBJECT: {
        if (v->type != RS_JOBJ || v->n != json_object_size(j)) return 0;
        size_t i = 0, span = 1;
        const rs_jv_t *k, *m;
        void *it = json_object_iter((json_t *)j);
        rs_jv_object_foreach(v, k, m)
        {
            if (!it || k->type != RS_JSTR || k->n != strlen(json_object_iter_key(it)) ||
                memcmp(k->u.s, json_object_iter_key(it), k->n) != 0 ||
                !same(m, json_object_iter_value(it)) || rs_jv_get(v, k->u.s) != m)
                return 0;
            span += 1 + m->span;
            i++;
            it = json_object_iter_next((json_t *)j, it);
        }
        return i == v->n && !it && span == v->span;
    }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rs_jdoc_t *d;
    if (!d) d = rs_jdoc_new();
    const char *text = (const char *)data;
    rs_err_t err;
    const rs_jv_t *root = rs_jdoc_read(d, text, size, MAX_DEPTH, &err);
    int valid = rs_json_valid(text, size, MAX_DEPTH);
    if (root && !valid) abort(); /* what is read is valid */
    if (!root && (!err.msg[0] || !strstr(err.msg, " at byte "))) abort();
    if (bracket_depth(data, size) >= MAX_DEPTH) return 0;
    if (!root && strstr(err.msg, "nests deeper than")) abort(); /* not this deep */

    json_error_t jerr;
    json_t *j = json_loadb(text, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!!root != !!j) abort();
    if (root && !same(root, j)) abort();
    json_decref(j);
    j = json_loadb(text, size, JSON_DECODE_ANY, &jerr);
    if (valid != !!j) abort();
    json_decref(j);
    return 0;
}
