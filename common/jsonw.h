/* jsonw: a jansson value written as compact JSON text, byte for byte what
 * json_dumps(v, JSON_COMPACT) writes (keys in insertion order, reals as "%.17g" with jansson's
 * touches, non-ASCII left as it is, controls as \uXXXX), for less than half its cost.
 *
 * A worker writes every case's record, trace included, as one line: json_dumps's callback per
 * run of bytes and its decoding of every code point were a third of the worker's time.
 * tests/unit/test_jsonw.c holds the two to the same bytes. */
#ifndef RS_JSONW_H
#define RS_JSONW_H

#include <jansson.h>

#include "util.h"

/* Appends v's text to b: 0, or -1 (b's length unchanged) where json_dumps fails too (a string
 * that is not valid UTF-8, made with a _nocheck constructor) or nesting is deeper than 2048
 * levels (the stack's bound here; no record comes near it). */
int rs_jsonw_append(rs_buf_t *b, json_t *v);

/* v's text in a heap string (length in *len when not NULL), or NULL as rs_jsonw_append fails. */
char *rs_jsonw_dumps(json_t *v, size_t *len);

/* The scalars alone, for a writer that makes its text without a tree (worker/trace.c): each
 * appends what rs_jsonw_append appends for json_string(s), json_integer(v) or json_real(v), and
 * leaves b NUL-terminated. rs_jsonw_string returns -1 (b's length unchanged) for text that is not
 * valid UTF-8, which json_string refuses; it takes n bytes of s. */
int rs_jsonw_string(rs_buf_t *b, const char *s, size_t n);
void rs_jsonw_integer(rs_buf_t *b, json_int_t v);
void rs_jsonw_real(rs_buf_t *b, double v);

#endif
