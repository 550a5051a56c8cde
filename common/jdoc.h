/* jdoc: a JSON text read into one flat array of values, for reading many small documents fast.
 *
 * jansson builds a tree of heap objects, a hash table per object, a copy per string; reading a
 * result record that way (and freeing it again) was most of the coordinator's time per case. A
 * jdoc reads the text once into a copy it owns and an array of values that it reuses from one
 * document to the next: no allocation per value, strings decoded in place and NUL-terminated.
 *
 * It accepts exactly what jansson's json_loadb accepts with JSON_DECODE_ANY |
 * JSON_REJECT_DUPLICATES (strict RFC 8259 grammar, UTF-8 strings without raw controls, \u escapes
 * with paired surrogates and no \u0000, integers that fit 64 bits, reals that fit a double, no
 * key twice in an object), plus a bound on nesting; tests/unit/test_jdoc.c holds it to that.
 *
 * A value is a pointer into its document, valid until the document is read again or freed. Every
 * reader takes NULL (a missing value) and a value of another type, and gives NULL or 0 back, like
 * jansson's: rs_jv_str(rs_jv_get(o, "a")) is NULL when o is not an object, has no "a", or its
 * "a" is not a string. */
#ifndef RS_JDOC_H
#define RS_JDOC_H

#include "util.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum rs_jtype {
    RS_JNULL = 1,
    RS_JFALSE,
    RS_JTRUE,
    RS_JINT,
    RS_JREAL,
    RS_JSTR,
    RS_JARR,
    RS_JOBJ,
} rs_jtype_t;

typedef struct rs_jv {
    uint8_t type;  /* rs_jtype_t */
    uint32_t span; /* values in its subtree, itself and an object's keys included */
    uint32_t n;    /* a string's bytes; an array's or an object's members */
    uint32_t tab;  /* an object of 8 to 32 keys: its key table's offset from it (rs_jv_getn);
                      an object's key: the key's hash, compared before its bytes */
    union {
        const char *s; /* NUL-terminated (no string holds a NUL: \u0000 is refused) */
        long long i;
        double d;
        uint64_t keys; /* an object: a bit for each key's signature, so most misses cost no scan */
    } u;
} rs_jv_t;

typedef struct rs_jdoc rs_jdoc_t;

/* The nesting jansson reads at most: a bound for texts that have none of their own. */
#define RS_JDOC_MAX_DEPTH 2048

rs_jdoc_t *rs_jdoc_new(void);
void rs_jdoc_free(rs_jdoc_t **dp);

/* Reads text[0 .. len) (one value, whitespace around it) into d, replacing what d held: the root,
 * or NULL with a message naming the byte ("expected ':' at byte 12") in err. Nesting deeper than
 * max_depth arrays and objects is refused as "nests deeper than <max_depth> levels". */
const rs_jv_t *rs_jdoc_read(rs_jdoc_t *d, const char *text, size_t len, int max_depth,
                            rs_err_t *err);

/* rs_jdoc_read of the text a[0 .. alen) followed by b[0 .. blen) (a record cut short and closed,
 * say), without joining them first. */
const rs_jv_t *rs_jdoc_read2(rs_jdoc_t *d, const char *a, size_t alen, const char *b, size_t blen,
                             int max_depth, rs_err_t *err);

/* Whether text[0 .. len) is one JSON value by the same rules, without keeping anything: for
 * validating a part of a text that nothing reads. Duplicate keys are not looked for. */
int rs_json_valid(const char *text, size_t len, int max_depth);

/* o[key] (o an object; key of n bytes), or NULL. A record is read field by field, each field
 * several times over (its check, the report's counters, the viewer's index): an object of 8 to
 * 32 keys has a hash table of them, and a per-object signature of its keys answers most misses. */
const rs_jv_t *rs_jv_getn(const rs_jv_t *o, const char *key, size_t n);

/* a's first member (a an array) or o's first key (an object; its value is the next value), or
 * NULL; rs_jv_next: the member or key after v inside c, or NULL. */
static inline const rs_jv_t *rs_jv_first(const rs_jv_t *c)
{
    return c && (c->type == RS_JARR || c->type == RS_JOBJ) && c->n ? c + 1 : NULL;
}

static inline const rs_jv_t *rs_jv_next(const rs_jv_t *c, const rs_jv_t *v)
{
    const rs_jv_t *next = v + v->span;
    if (c->type == RS_JOBJ) next += next->span; /* v is a key: past its value */
    return next < c + c->span ? next : NULL;
}

/* for (i, v) over the members of array a; for (k, v) over the keys and values of object o. Both
 * run no times over NULL or a value of another type. */
#define rs_jv_array_foreach(a, i, v)                                                          \
    for ((i) = 0, (v) = ((a) && (a)->type == RS_JARR) ? rs_jv_first(a) : NULL; (v);            \
         (i)++, (v) = rs_jv_next((a), (v)))
#define rs_jv_object_foreach(o, k, v)                                                         \
    for ((k) = ((o) && (o)->type == RS_JOBJ) ? rs_jv_first(o) : NULL; (k) && ((v) = (k) + 1); \
         (k) = rs_jv_next((o), (k)))

/* A jansson copy of v (new reference; NULL for NULL): for passing a part of a document on. */
json_t *rs_jv_json(const rs_jv_t *v);

/* o[key] (o an object), or NULL. Inline, so that a literal key's length is known when compiled. */
static inline const rs_jv_t *rs_jv_get(const rs_jv_t *o, const char *key)
{
    return rs_jv_getn(o, key, strlen(key));
}

/* a[i] (a an array), or NULL: O(i). */
const rs_jv_t *rs_jv_at(const rs_jv_t *a, size_t i);

static inline int rs_jv_is(const rs_jv_t *v, rs_jtype_t t)
{
    return v && v->type == t;
}

static inline int rs_jv_is_str(const rs_jv_t *v) { return rs_jv_is(v, RS_JSTR); }
static inline int rs_jv_is_int(const rs_jv_t *v) { return rs_jv_is(v, RS_JINT); }
static inline int rs_jv_is_null(const rs_jv_t *v) { return rs_jv_is(v, RS_JNULL); }
static inline int rs_jv_is_true(const rs_jv_t *v) { return rs_jv_is(v, RS_JTRUE); }
static inline int rs_jv_is_false(const rs_jv_t *v) { return rs_jv_is(v, RS_JFALSE); }
static inline int rs_jv_is_obj(const rs_jv_t *v) { return rs_jv_is(v, RS_JOBJ); }
static inline int rs_jv_is_arr(const rs_jv_t *v) { return rs_jv_is(v, RS_JARR); }

static inline int rs_jv_is_number(const rs_jv_t *v)
{
    return v && (v->type == RS_JINT || v->type == RS_JREAL);
}

static inline int rs_jv_is_bool(const rs_jv_t *v)
{
    return v && (v->type == RS_JTRUE || v->type == RS_JFALSE);
}

/* v's text when it is a string, else NULL. */
static inline const char *rs_jv_str(const rs_jv_t *v)
{
    return v && v->type == RS_JSTR ? v->u.s : NULL;
}

/* v when it is an integer, else 0. */
static inline long long rs_jv_int(const rs_jv_t *v)
{
    return v && v->type == RS_JINT ? v->u.i : 0;
}

/* v when it is a number (integer or real), else 0. */
static inline double rs_jv_num(const rs_jv_t *v)
{
    return !v ? 0 : v->type == RS_JINT ? (double)v->u.i : v->type == RS_JREAL ? v->u.d : 0;
}

/* An array's or object's members, else 0. */
static inline size_t rs_jv_len(const rs_jv_t *v)
{
    return v && (v->type == RS_JARR || v->type == RS_JOBJ) ? v->n : 0;
}

#endif
