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
#include <stdint.h>

#include "util.h"

/* Appends v's text to b: 0, or -1 (b's length unchanged) where json_dumps fails too (a string
 * that is not valid UTF-8, made with a _nocheck constructor) or nesting is deeper than 2048
 * levels (the stack's bound here; no record comes near it). */
int rs_jsonw_append(rs_buf_t *b, json_t *v);

/* v's text in a heap string (length in *len when not NULL), or NULL as rs_jsonw_append fails. */
char *rs_jsonw_dumps(json_t *v, size_t *len);

/* An object or array written member by member, for a writer that makes its text without a tree
 * (a worker's record and spans): the text is byte for byte what rs_jsonw_append writes for the
 * jansson value that json_object_set_new / json_array_append_new calls in the same order would
 * have made, members those calls refuse left out (a key or a string that is not UTF-8, a NULL
 * value, a real that is not finite). Keys of one object must differ: the text cannot replace a
 * member as a jansson object does. In an array, key is NULL. */
typedef struct rs_jsonw {
    rs_buf_t *b;
    size_t n;        /* members written: a ',' goes before the next */
    char close;      /* '}' or ']' */
    int failed;      /* a tree member rs_jsonw_append refused: the whole text is void */
    int precision;   /* reals' significant digits as JSON_REAL_PRECISION(1..17) gives them; 0:
                      * jansson's 17. Set after opening; members opened in w take it on */
    struct rs_jsonw *parent;
} rs_jsonw_t;

/* Opens an object or array at b's end. */
void rs_jsonw_object(rs_jsonw_t *w, rs_buf_t *b);
void rs_jsonw_array(rs_jsonw_t *w, rs_buf_t *b);
/* Opens an object or array as a member of parent, which is written to again only after
 * rs_jsonw_end(w): 0, or -1 (nothing written, w not opened) for a key that is not UTF-8. */
int rs_jsonw_object_in(rs_jsonw_t *w, rs_jsonw_t *parent, const char *key);
int rs_jsonw_array_in(rs_jsonw_t *w, rs_jsonw_t *parent, const char *key);
/* Closes w; a failure inside it passes to its parent. Returns 0, or -1 when a member failed. */
int rs_jsonw_end(rs_jsonw_t *w);

/* json_string(s): left out for NULL or text that is not UTF-8. */
void rs_jsonw_str(rs_jsonw_t *w, const char *key, const char *s);
/* s, or null for NULL or text that is not UTF-8. */
void rs_jsonw_str_or_null(rs_jsonw_t *w, const char *key, const char *s);
void rs_jsonw_int(rs_jsonw_t *w, const char *key, int64_t v);
/* json_real(v): left out when v is not finite. */
void rs_jsonw_real(rs_jsonw_t *w, const char *key, double v);
void rs_jsonw_bool(rs_jsonw_t *w, const char *key, int v);
void rs_jsonw_null(rs_jsonw_t *w, const char *key);
/* A jansson value as a member, taking the reference as json_object_set_new does (NULL: left
 * out); one rs_jsonw_append refuses fails w. */
void rs_jsonw_tree(rs_jsonw_t *w, const char *key, json_t *v);

#endif
