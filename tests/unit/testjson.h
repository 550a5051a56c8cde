/* testjson: what the tests of the report's analysis and of compare need around JSON: a record
 * from printf-style text (failing the test on invalid JSON), and an object's integer or number
 * member. Header only: each test program is one .c file; include it after <cmocka.h>. */
#ifndef RS_TEST_TESTJSON_H
#define RS_TEST_TESTJSON_H

#include <jansson.h>
#include <stdarg.h>

#include "util.h"

/* A record from printf-style JSON text; the test fails on invalid JSON. */
static inline json_t *rec(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline json_t *rec(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rs_buf_t b;
    rs_buf_init(&b);
    rs_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    json_error_t jerr;
    json_t *r = json_loads(b.data, 0, &jerr);
    if (!r) fail_msg("bad test JSON: %s: %s", jerr.text, b.data);
    rs_buf_cleanup(&b);
    return r;
}

static inline long long geti(json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

static inline double getn(json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

#endif
