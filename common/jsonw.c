/* jsonw: compact JSON text of a jansson value, as json_dumps(JSON_COMPACT) writes it (jsonw.h).
 * Plain ASCII runs of a string are copied whole; only escapes and non-ASCII bytes are looked at
 * one by one (non-ASCII is checked, as jansson does, and copied as it is). */
#include "jsonw.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_DEPTH = 2048 }; /* the stack's bound (jsonw.h) */

/* rs_buf_append and rs_buf_putc without a call per byte: room is made only when short. */
static inline void put(rs_buf_t *b, const void *s, size_t n)
{
    if (b->len + n + 1 > b->cap) rs_buf_reserve(b, n + 1);
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static inline void putch(rs_buf_t *b, char c)
{
    if (b->len + 2 > b->cap) rs_buf_reserve(b, 2);
    b->data[b->len++] = c;
}

static int put_string(rs_buf_t *b, const char *s, size_t n)
{
    static const char HEX[] = "0123456789ABCDEF";
    rs_buf_reserve(b, n + 2);
    putch(b, '"');
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (i + 8 <= n && rs_json_plain8(s + i)) i += 8;
        while (i < n) {
            unsigned char ch = (unsigned char)s[i];
            if (ch < 0x20 || ch == '"' || ch == '\\' || ch >= 0x80) break;
            i++;
        }
        if (i > run) put(b, s + run, i - run);
        if (i == n) break;
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x80) {
            uint32_t cp;
            size_t len = rs_utf8_decode(s + i, n - i, &cp);
            if (!len) return -1;
            put(b, s + i, len);
            i += len;
            continue;
        }
        char esc[6] = {'\\', 0};
        size_t len = 2;
        switch (ch) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default: /* another control: \u00XX, upper-case hex as jansson writes it */
            memcpy(esc + 1, "u00", 3);
            esc[4] = HEX[ch >> 4];
            esc[5] = HEX[ch & 15];
            len = 6;
        }
        put(b, esc, len);
        i++;
    }
    putch(b, '"');
    return 0;
}

static void put_integer(rs_buf_t *b, json_int_t v)
{
    char s[RS_I64_TEXT];
    put(b, s, rs_i64_text((int64_t)v, s));
}

/* jansson's jsonp_dtostr: "%.<precision>g" (17 significant digits unless JSON_REAL_PRECISION
 * says otherwise), ".0" added when the text has neither a '.' nor an 'e', and the exponent
 * without its '+' and leading zeros ("1e+20" -> "1e20"). */
static void put_real_prec(rs_buf_t *b, double v, int precision)
{
    static const double TEN_TO[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
                                    1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17};
    /* an integral value below 2^53 (not -0) of at most `precision` digits: "%g" writes them
     * exactly, without an exponent, then ".0" */
    if (precision < (int)(sizeof(TEN_TO) / sizeof(TEN_TO[0])) && v == trunc(v) &&
        fabs(v) < 9007199254740992.0 && fabs(v) < TEN_TO[precision] && !(v == 0 && signbit(v))) {
        char s[RS_I64_TEXT + 2];
        size_t n = rs_i64_text((int64_t)v, s);
        memcpy(s + n, ".0", 2);
        put(b, s, n + 2);
        return;
    }
    char s[64];
    int len = snprintf(s, sizeof(s), "%.*g", precision, v);
    if (len < 0 || (size_t)len >= sizeof(s) - 3) len = 0;
    if (!strchr(s, '.') && !strchr(s, 'e')) {
        memcpy(s + len, ".0", 3);
        len += 2;
    }
    char *start = strchr(s, 'e');
    if (start) {
        start++;
        char *end = start + 1;
        if (*start == '-') start++;
        while (*end == '0') end++;
        if (end != start) {
            memmove(start, end, (size_t)len - (size_t)(end - s) + 1);
            len -= (int)(end - start);
        }
    }
    put(b, s, (size_t)len);
}

static void put_real(rs_buf_t *b, double v)
{
    put_real_prec(b, v, 17);
}

static int put_value(rs_buf_t *b, json_t *v, int depth)
{
    if (depth > MAX_DEPTH) return -1;
    switch (json_typeof(v)) {
    case JSON_NULL: put(b, "null", 4); return 0;
    case JSON_TRUE: put(b, "true", 4); return 0;
    case JSON_FALSE: put(b, "false", 5); return 0;
    case JSON_INTEGER: put_integer(b, json_integer_value(v)); return 0;
    case JSON_REAL: put_real(b, json_real_value(v)); return 0;
    case JSON_STRING: return put_string(b, json_string_value(v), json_string_length(v));
    case JSON_ARRAY: {
        putch(b, '[');
        size_t n = json_array_size(v);
        for (size_t i = 0; i < n; i++) {
            if (i) putch(b, ',');
            if (put_value(b, json_array_get(v, i), depth + 1)) return -1;
        }
        putch(b, ']');
        return 0;
    }
    case JSON_OBJECT: {
        putch(b, '{');
        int first = 1;
        for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
            if (!first) putch(b, ',');
            first = 0;
            if (put_string(b, json_object_iter_key(it), json_object_iter_key_len(it))) return -1;
            putch(b, ':');
            if (put_value(b, json_object_iter_value(it), depth + 1)) return -1;
        }
        putch(b, '}');
        return 0;
    }
    }
    return -1;
}

int rs_jsonw_append(rs_buf_t *b, json_t *v)
{
    size_t at = b->len;
    rs_buf_reserve(b, 1);
    int rc = v ? put_value(b, v, 1) : -1;
    if (rc) b->len = at;
    b->data[b->len] = '\0'; /* put and putch leave it to the end */
    return rc;
}

/* ---- members one by one ---- */

static void open_at(rs_jsonw_t *w, rs_buf_t *b, char open, char close)
{
    *w = (rs_jsonw_t){.b = b, .close = close};
    putch(b, open);
    b->data[b->len] = '\0';
}

void rs_jsonw_object(rs_jsonw_t *w, rs_buf_t *b)
{
    open_at(w, b, '{', '}');
}

void rs_jsonw_array(rs_jsonw_t *w, rs_buf_t *b)
{
    open_at(w, b, '[', ']');
}

/* The start of a member: its separator and key (none in an array), written from *at; 0, or -1
 * (nothing written) for a key that is not UTF-8, which jansson's setters refuse. */
static int member(rs_jsonw_t *w, const char *key, size_t *at)
{
    rs_buf_t *b = w->b;
    *at = b->len;
    if (w->n) putch(b, ',');
    if (key) {
        if (put_string(b, key, strlen(key))) {
            b->len = *at;
            b->data[*at] = '\0';
            return -1;
        }
        putch(b, ':');
    }
    return 0;
}

/* The member begun at at is written: it counts, and the text ends in a NUL again. */
static void done(rs_jsonw_t *w)
{
    w->n++;
    w->b->data[w->b->len] = '\0';
}

static void undo(rs_jsonw_t *w, size_t at)
{
    w->b->len = at;
    w->b->data[at] = '\0';
}

static int nest(rs_jsonw_t *w, rs_jsonw_t *parent, const char *key, char open, char close)
{
    size_t at;
    if (member(parent, key, &at)) return -1;
    open_at(w, parent->b, open, close);
    w->parent = parent;
    w->precision = parent->precision;
    return 0;
}

int rs_jsonw_object_in(rs_jsonw_t *w, rs_jsonw_t *parent, const char *key)
{
    return nest(w, parent, key, '{', '}');
}

int rs_jsonw_array_in(rs_jsonw_t *w, rs_jsonw_t *parent, const char *key)
{
    return nest(w, parent, key, '[', ']');
}

int rs_jsonw_end(rs_jsonw_t *w)
{
    putch(w->b, w->close);
    w->b->data[w->b->len] = '\0';
    if (w->parent) {
        w->parent->n++;
        w->parent->failed |= w->failed;
    }
    return w->failed ? -1 : 0;
}

void rs_jsonw_str(rs_jsonw_t *w, const char *key, const char *s)
{
    size_t at;
    if (!s || member(w, key, &at)) return;
    if (put_string(w->b, s, strlen(s))) undo(w, at);
    else done(w);
}

void rs_jsonw_str_or_null(rs_jsonw_t *w, const char *key, const char *s)
{
    size_t at;
    if (member(w, key, &at)) return;
    if (!s || put_string(w->b, s, strlen(s))) {
        undo(w, at);
        rs_jsonw_null(w, key);
        return;
    }
    done(w);
}

void rs_jsonw_int(rs_jsonw_t *w, const char *key, int64_t v)
{
    size_t at;
    if (member(w, key, &at)) return;
    put_integer(w->b, (json_int_t)v);
    done(w);
}

void rs_jsonw_real(rs_jsonw_t *w, const char *key, double v)
{
    size_t at;
    if (!isfinite(v) || member(w, key, &at)) return;
    put_real_prec(w->b, v, w->precision ? w->precision : 17);
    done(w);
}

void rs_jsonw_bool(rs_jsonw_t *w, const char *key, int v)
{
    size_t at;
    if (member(w, key, &at)) return;
    if (v) put(w->b, "true", 4);
    else put(w->b, "false", 5);
    done(w);
}

void rs_jsonw_null(rs_jsonw_t *w, const char *key)
{
    size_t at;
    if (member(w, key, &at)) return;
    put(w->b, "null", 4);
    done(w);
}

void rs_jsonw_tree(rs_jsonw_t *w, const char *key, json_t *v)
{
    size_t at;
    if (!v) return;
    if (!member(w, key, &at)) {
        if (put_value(w->b, v, 1)) {
            undo(w, at);
            w->failed = 1;
        } else {
            done(w);
        }
    }
    json_decref(v);
}

char *rs_jsonw_dumps(json_t *v, size_t *len)
{
    rs_buf_t b;
    rs_buf_init(&b);
    rs_buf_reserve(&b, 1024);
    if (rs_jsonw_append(&b, v)) {
        rs_buf_cleanup(&b);
        return NULL;
    }
    if (len) *len = b.len;
    return rs_buf_detach(&b);
}
