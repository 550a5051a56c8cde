/* jdoc: a JSON text read into one flat array of values (see jdoc.h). One recursive-descent
 * reader serves both uses: with a document it copies the text, decodes strings in place and
 * appends a value for each one it reads; without one (rs_json_valid) it only checks. */
#include "jdoc.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

struct rs_jdoc {
    char *buf; /* the text's copy: strings are decoded and terminated inside it */
    size_t cap_buf;
    rs_jv_t *v;
    size_t n_v, cap_v;
    struct keyref { uint64_t hash; size_t at; } *keys; /* duplicate-key scratch */
    size_t cap_keys;
    size_t *objs; /* the objects of TABLE_MIN to TABLE_MAX keys read so far, for their tables */
    size_t n_objs, cap_objs;
};

/* Keys for which an object gets a table: below TABLE_MIN a scan compares fewer keys than a probe
 * costs; above TABLE_MAX the keys are scanned too, because keys that share their hash (a hostile
 * record's, or a dataset's columns alike in the bytes it reads) would fill one probe chain and
 * make the table's building quadratic. A record's objects have about a dozen keys. */
enum { TABLE_MIN = 8, TABLE_MAX = 32 };

typedef struct reader {
    rs_jdoc_t *d; /* NULL: check only */
    const char *start, *p, *end;
    int depth, max_depth;
    const char *why;
} reader_t;

enum { NONE = -1 }; /* a failed read; check-only reads return 0 for success */

rs_jdoc_t *rs_jdoc_new(void)
{
    rs_jdoc_t *d = rs_xmalloc(sizeof(*d));
    memset(d, 0, sizeof(*d));
    return d;
}

void rs_jdoc_free(rs_jdoc_t **dp)
{
    rs_jdoc_t *d = *dp;
    if (!d) return;
    free(d->buf);
    free(d->v);
    free(d->keys);
    free(d->objs);
    free(d);
    *dp = NULL;
}

static long fail(reader_t *r, const char *why)
{
    if (!r->why) r->why = why;
    return NONE;
}

static void reserve_values(rs_jdoc_t *d, size_t n)
{
    if (n <= d->cap_v) return;
    while (d->cap_v < n) d->cap_v = d->cap_v ? 2 * d->cap_v : 64;
    d->v = rs_xrealloc(d->v, d->cap_v * sizeof(*d->v));
}

/* A new value of type t at the end of the array: its index. */
static long add(reader_t *r, rs_jtype_t t)
{
    rs_jdoc_t *d = r->d;
    if (!d) return 0;
    reserve_values(d, d->n_v + 1);
    rs_jv_t *v = &d->v[d->n_v];
    v->type = (uint8_t)t;
    v->span = 1;
    v->n = 0;
    v->tab = 0;
    v->u.i = 0;
    return (long)d->n_v++;
}

static void skip_ws(reader_t *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\t' || *r->p == '\r')) r->p++;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = p[i];
        unsigned x = ch >= '0' && ch <= '9'   ? (unsigned)(ch - '0')
                     : ch >= 'a' && ch <= 'f' ? (unsigned)(ch - 'a' + 10)
                     : ch >= 'A' && ch <= 'F' ? (unsigned)(ch - 'A' + 10)
                                              : 16u;
        if (x == 16) return 0;
        v = v * 16 + x;
    }
    *out = v;
    return 1;
}

/* One UTF-8 sequence of 2 to 4 bytes at r->p (no overlong forms, surrogates or > U+10FFFF): its
 * length, or 0. */
static size_t utf8_len(const reader_t *r)
{
    const unsigned char *s = (const unsigned char *)r->p;
    size_t len = (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (!len || (size_t)(r->end - r->p) < len) return 0;
    uint32_t c = s[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    static const uint32_t MIN[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < MIN[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    return len;
}

static char *put_utf8(char *w, uint32_t c)
{
    if (c < 0x80) {
        *w++ = (char)c;
    } else if (c < 0x800) {
        *w++ = (char)(0xC0 | (c >> 6));
        *w++ = (char)(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        *w++ = (char)(0xE0 | (c >> 12));
        *w++ = (char)(0x80 | ((c >> 6) & 0x3F));
        *w++ = (char)(0x80 | (c & 0x3F));
    } else {
        *w++ = (char)(0xF0 | (c >> 18));
        *w++ = (char)(0x80 | ((c >> 12) & 0x3F));
        *w++ = (char)(0x80 | ((c >> 6) & 0x3F));
        *w++ = (char)(0x80 | (c & 0x3F));
    }
    return w;
}

/* A \u escape at r->p (one or a surrogate pair): its code point, r->p past it; 0 when bad. */
static uint32_t unicode_escape(reader_t *r)
{
    unsigned u, lo;
    if (r->end - r->p < 6 || !hex4(r->p + 2, &u) || u == 0) return 0;
    r->p += 6;
    if (u >= 0xDC00 && u <= 0xDFFF) return 0; /* a lone low surrogate */
    if (u < 0xD800 || u > 0xDBFF) return u;
    if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' || !hex4(r->p + 2, &lo) ||
        lo < 0xDC00 || lo > 0xDFFF)
        return 0; /* a high surrogate needs its low half next */
    r->p += 6;
    return 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
}

static char escaped(char e)
{
    switch (e) {
    case '"': return '"';
    case '\\': return '\\';
    case '/': return '/';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    default: return 0;
    }
}

/* A string at r->p (its opening quote). With a document, its text is decoded where it lies in
 * the copy (never longer than its escaped form) and ends with a NUL where the closing quote was. */
static long read_string(reader_t *r)
{
    r->p++;
    const char *from = r->p;
    char *w = r->d ? (char *)r->p : NULL; /* the copy is ours to write */
    for (;;) {
        const char *run = r->p; /* plain ASCII, copied as it is */
        while (r->end - r->p >= 8 && rs_json_plain8(r->p)) r->p += 8;
        while (r->p < r->end) {
            unsigned char ch = (unsigned char)*r->p;
            if (ch == '"' || ch == '\\' || ch < 0x20 || ch >= 0x80) break;
            r->p++;
        }
        if (w && w != run) memmove(w, run, (size_t)(r->p - run));
        if (w) w += r->p - run;
        if (r->p >= r->end) return fail(r, "unterminated string");
        unsigned char ch = (unsigned char)*r->p;
        if (ch == '"') break;
        if (ch < 0x20) return fail(r, "control character in a string");
        if (ch >= 0x80) {
            size_t n = utf8_len(r);
            if (!n) return fail(r, "invalid UTF-8 in a string");
            if (w) memmove(w, r->p, n), w += n;
            r->p += n;
            continue;
        }
        if (r->end - r->p < 2) return fail(r, "unterminated string");
        if (r->p[1] == 'u') {
            uint32_t c = unicode_escape(r);
            if (!c) return fail(r, "invalid \\u escape");
            if (w) w = put_utf8(w, c);
            continue;
        }
        char e = escaped(r->p[1]);
        if (!e) return fail(r, "invalid escape");
        if (w) *w++ = e;
        r->p += 2;
    }
    long at = add(r, RS_JSTR);
    if (w) {
        *w = '\0';
        r->d->v[at].u.s = from;
        r->d->v[at].n = (uint32_t)(w - from);
    }
    r->p++;
    return at;
}

/* jansson ignores one NUL byte right after a number or a literal: its lexer puts back the byte
 * that ended the token, and a NUL put back reads as an empty buffer, so the byte after it is read
 * instead. "[1\0]" and "true\0" are [1] and true to json_loadb; to accept exactly what it accepts,
 * a reader skips that one byte too (a second NUL, or one after anything else, is refused). */
static void skip_nul_after_token(reader_t *r)
{
    if (r->p < r->end && *r->p == '\0') r->p++;
}

static int digits(reader_t *r)
{
    const char *start = r->p;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9') r->p++;
    return r->p > start;
}

/* A number by jansson's rules: an integer must fit a long long, a real must be finite (one that
 * underflows to 0 is fine). */
static long read_number(reader_t *r)
{
    const char *start = r->p;
    int real = 0;
    if (r->p < r->end && *r->p == '-') r->p++;
    if (r->p < r->end && *r->p == '0') r->p++;
    else if (!digits(r)) return fail(r, "invalid number");
    if (r->p < r->end && *r->p == '.') {
        r->p++, real = 1;
        if (!digits(r)) return fail(r, "invalid number");
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++, real = 1;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-')) r->p++;
        if (!digits(r)) return fail(r, "invalid number");
    }
    /* strtod/strtoll stop at the first byte that is not the number's: the copy ends in a NUL, the
     * caller's text may not, so a check-only read copies the number out */
    size_t n = (size_t)(r->p - start);
    char small[64], *num = (char *)start;
    if (!r->d) {
        num = n < sizeof(small) ? small : rs_xmalloc(n + 1);
        memcpy(num, start, n);
        num[n] = '\0';
    }
    errno = 0;
    double x = 0;
    long long i = 0;
    if (real) x = strtod(num, NULL);
    else if (n <= 18) /* no overflow possible: read by hand, strtoll is slow */
        for (size_t k = (*num == '-'); k < n; k++) i = i * 10 + (num[k] - '0');
    else i = strtoll(num, NULL, 10);
    if (!real && n <= 18 && *num == '-') i = -i;
    int range = errno == ERANGE;
    if (num != start && num != small) free(num);
    if (real && !isfinite(x)) return fail(r, "real number overflow");
    if (!real && range) return fail(r, "integer out of range");
    skip_nul_after_token(r);
    long at = add(r, real ? RS_JREAL : RS_JINT);
    if (r->d && real) r->d->v[at].u.d = x;
    else if (r->d) r->d->v[at].u.i = i;
    return at;
}

static long read_literal(reader_t *r, const char *word, size_t n, rs_jtype_t t)
{
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0) return fail(r, "invalid literal");
    r->p += n;
    skip_nul_after_token(r);
    return add(r, t);
}

static int key_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct keyref *)a)->hash, y = ((const struct keyref *)b)->hash;
    return x < y ? -1 : x > y;
}

/* A key's hash: its length and three of its bytes, mixed (keys of one object rarely share all
 * four). Its top 6 bits pick the key's bit in its object's u.keys, its top bits its table slot. */
static uint32_t key_hash(const char *s, size_t n)
{
    uint32_t x = n == 0 ? 0
                        : (uint32_t)n ^ (uint32_t)(unsigned char)s[0] << 8 ^
                              (uint32_t)(unsigned char)s[n / 2] << 16 ^
                              (uint32_t)(unsigned char)s[n - 1] << 24;
    return x * 0x9E3779B1u;
}

static uint64_t key_bit(uint32_t hash)
{
    return 1ull << (hash >> 26);
}

/* An object of n keys has a table of 2^table_bits(n) slots: at least twice n, 16 at least. */
static unsigned table_bits(uint32_t n)
{
    unsigned bits = 4;
    while ((1u << bits) < 2 * n) bits++;
    return bits;
}

static int same_key(const rs_jv_t *a, const rs_jv_t *b)
{
    return a->n == b->n && memcmp(a->u.s, b->u.s, a->n) == 0;
}

/* Whether object o (its keys read) holds a key twice: pairs compared for a handful of keys, by
 * sorted hashes beyond, so a hostile object of many keys costs n log n. */
static int has_duplicate(rs_jdoc_t *d, size_t o)
{
    size_t n = d->v[o].n;
    if (n < 2) return 0;
    if (n <= 64 && (size_t)__builtin_popcountll(d->v[o].u.keys) == n)
        return 0; /* n keys of n different signatures */
    if (n <= 16) {
        const rs_jv_t *k[16];
        const rs_jv_t *obj = &d->v[o], *key = obj + 1;
        for (size_t i = 0; i < n; i++, key += 1 + key[1].span) k[i] = key;
        for (size_t i = 1; i < n; i++)
            for (size_t j = 0; j < i; j++)
                if (same_key(k[i], k[j])) return 1;
        return 0;
    }
    if (n > d->cap_keys) {
        d->cap_keys = n;
        d->keys = rs_xrealloc(d->keys, n * sizeof(*d->keys));
    }
    size_t at = o + 1;
    for (size_t i = 0; i < n; i++, at += 1 + d->v[at + 1].span)
        d->keys[i] = (struct keyref){XXH3_64bits(d->v[at].u.s, d->v[at].n), at};
    qsort(d->keys, n, sizeof(*d->keys), key_cmp);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && d->keys[j - 1].hash == d->keys[i].hash; j--)
            if (same_key(&d->v[d->keys[i].at], &d->v[d->keys[j - 1].at])) return 1;
    return 0;
}

static long read_value(reader_t *r);

/* An array or an object at r->p (its opening bracket). */
static long read_container(reader_t *r, int object)
{
    if (++r->depth > r->max_depth) return fail(r, "nesting too deep");
    long at = add(r, object ? RS_JOBJ : RS_JARR);
    char close = object ? '}' : ']';
    uint32_t n = 0;
    r->p++;
    skip_ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
    } else {
        for (;;) {
            if (object) {
                skip_ws(r);
                if (r->p >= r->end || *r->p != '"') return fail(r, "expected a key");
                long key = read_string(r);
                if (key == NONE) return NONE;
                if (r->d) {
                    /* A key keeps its hash in the node (tab is an object's alone), so a lookup
                     * reads the key's bytes only when the hash matches: they lie in the text,
                     * away from the nodes, and are a cache miss of their own in a cold record. */
                    rs_jv_t *k = &r->d->v[key];
                    k->tab = key_hash(k->u.s, k->n);
                    r->d->v[at].u.keys |= key_bit(k->tab);
                }
                skip_ws(r);
                if (r->p >= r->end || *r->p != ':') return fail(r, "expected ':'");
                r->p++;
            }
            if (read_value(r) == NONE) return NONE;
            n++;
            skip_ws(r);
            if (r->p >= r->end) return fail(r, object ? "expected ',' or '}'" : "expected ',' or ']'");
            char ch = *r->p++;
            if (ch == close) break;
            if (ch != ',') return fail(r, object ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    r->depth--;
    if (!r->d) return 0;
    rs_jv_t *v = &r->d->v[at];
    v->n = n;
    v->span = (uint32_t)(r->d->n_v - (size_t)at);
    if (object && has_duplicate(r->d, (size_t)at)) return fail(r, "duplicate key");
    if (object && n >= TABLE_MIN && n <= TABLE_MAX) {
        rs_jdoc_t *d = r->d;
        if (d->n_objs == d->cap_objs) {
            d->cap_objs = d->cap_objs ? 2 * d->cap_objs : 16;
            d->objs = rs_xrealloc(d->objs, d->cap_objs * sizeof(*d->objs));
        }
        d->objs[d->n_objs++] = (size_t)at;
    }
    return at;
}

static long read_value(reader_t *r)
{
    skip_ws(r);
    if (r->p >= r->end) return fail(r, "unexpected end of text");
    switch (*r->p) {
    case '"': return read_string(r);
    case '{': return read_container(r, 1);
    case '[': return read_container(r, 0);
    case 't': return read_literal(r, "true", 4, RS_JTRUE);
    case 'f': return read_literal(r, "false", 5, RS_JFALSE);
    case 'n': return read_literal(r, "null", 4, RS_JNULL);
    default: return read_number(r);
    }
}

/* One value and nothing after it but whitespace. */
static int read_all(reader_t *r)
{
    if (read_value(r) == NONE) return -1;
    skip_ws(r);
    return r->p == r->end ? 0 : (fail(r, "text after the value"), -1);
}

/* Each object of TABLE_MIN to TABLE_MAX keys gets an open-addressing table of its keys' offsets from
 * it (0: an empty slot), placed in the value array past the document's own values, where no walk
 * of the document goes; the array does not move again until the next read. */
static void build_tables(rs_jdoc_t *d)
{
    size_t end = d->n_v;
    for (size_t i = 0; i < d->n_objs; i++) {
        size_t at = d->objs[i];
        unsigned bits = table_bits(d->v[at].n);
        size_t cells = (((size_t)4 << bits) + sizeof(rs_jv_t) - 1) / sizeof(rs_jv_t);
        reserve_values(d, end + cells);
        rs_jv_t *o = &d->v[at];
        uint32_t *t = (uint32_t *)(void *)&d->v[end];
        memset(t, 0, cells * sizeof(rs_jv_t));
        o->tab = (uint32_t)(end - at);
        end += cells;
        uint32_t mask = (1u << bits) - 1;
        for (const rs_jv_t *k = o + 1; k < o + o->span; k += 1 + k[1].span) {
            uint32_t slot = k->tab >> (32 - bits); /* the key's hash */
            while (t[slot]) slot = (slot + 1) & mask;
            t[slot] = (uint32_t)(k - o);
        }
    }
}

const rs_jv_t *rs_jdoc_read2(rs_jdoc_t *d, const char *a, size_t alen, const char *b, size_t blen,
                             int max_depth, rs_err_t *err)
{
    size_t len = alen + blen;
    if (len >= UINT32_MAX) {
        rs_err_set(err, "text of %zu bytes is too long", len);
        return NULL;
    }
    if (len + 1 > d->cap_buf) {
        d->cap_buf = len + 1 > 2 * d->cap_buf ? len + 1 : 2 * d->cap_buf;
        free(d->buf);
        d->buf = rs_xmalloc(d->cap_buf);
    }
    memcpy(d->buf, a, alen);
    if (blen) memcpy(d->buf + alen, b, blen);
    d->buf[len] = '\0';
    d->n_v = d->n_objs = 0;
    reader_t r = {d, d->buf, d->buf, d->buf + len, 0, max_depth, NULL};
    if (read_all(&r) == 0) {
        build_tables(d);
        return d->v;
    }
    if (strcmp(r.why, "nesting too deep") == 0)
        rs_err_set(err, "nests deeper than %d levels at byte %zu", max_depth, (size_t)(r.p - r.start));
    else
        rs_err_set(err, "%s at byte %zu", r.why, (size_t)(r.p - r.start));
    return NULL;
}

const rs_jv_t *rs_jdoc_read(rs_jdoc_t *d, const char *text, size_t len, int max_depth, rs_err_t *err)
{
    return rs_jdoc_read2(d, text, len, NULL, 0, max_depth, err);
}

int rs_json_valid(const char *text, size_t len, int max_depth)
{
    reader_t r = {NULL, text, text, text + len, 0, max_depth, NULL};
    return read_all(&r) == 0;
}

static int is_key(const rs_jv_t *k, const char *key, size_t n, uint32_t hash)
{
    /* the length and the hash kept in the node rule out most keys without reading their bytes */
    return k->n == n && k->tab == hash && memcmp(k->u.s, key, n) == 0;
}

const rs_jv_t *rs_jv_getn(const rs_jv_t *o, const char *key, size_t n)
{
    if (!o || o->type != RS_JOBJ) return NULL;
    uint32_t hash = key_hash(key, n);
    if (!(o->u.keys & key_bit(hash))) return NULL;
    if (o->n < TABLE_MIN || o->n > TABLE_MAX) {
        for (const rs_jv_t *k = o + 1; k < o + o->span; k += 1 + k[1].span) /* a key, its value */
            if (is_key(k, key, n, hash)) return k + 1;
        return NULL;
    }
    const uint32_t *t = (const uint32_t *)(const void *)(o + o->tab);
    unsigned bits = table_bits(o->n);
    for (uint32_t slot = hash >> (32 - bits); t[slot]; slot = (slot + 1) & ((1u << bits) - 1))
        if (is_key(o + t[slot], key, n, hash)) return o + t[slot] + 1;
    return NULL;
}

const rs_jv_t *rs_jv_at(const rs_jv_t *a, size_t i)
{
    size_t j;
    const rs_jv_t *v;
    rs_jv_array_foreach(a, j, v)
        if (j == i) return v;
    return NULL;
}

json_t *rs_jv_json(const rs_jv_t *v)
{
    if (!v) return NULL;
    switch ((rs_jtype_t)v->type) {
    case RS_JNULL: return json_null();
    case RS_JFALSE: return json_false();
    case RS_JTRUE: return json_true();
    case RS_JINT: return json_integer(v->u.i);
    case RS_JREAL: return json_real(v->u.d);
    case RS_JSTR: return json_stringn_nocheck(v->u.s, v->n);
    case RS_JARR: {
        json_t *a = json_array();
        size_t i;
        const rs_jv_t *x;
        rs_jv_array_foreach(v, i, x) json_array_append_new(a, rs_jv_json(x));
        return a;
    }
    case RS_JOBJ: {
        json_t *o = json_object();
        const rs_jv_t *k, *x;
        rs_jv_object_foreach(v, k, x) json_object_setn_new_nocheck(o, k->u.s, k->n, rs_jv_json(x));
        return o;
    }
    }
    return NULL;
}
