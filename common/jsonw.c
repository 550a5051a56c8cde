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

/* jansson's jsonp_dtostr at its default precision: "%.17g", ".0" added when the text has neither
 * a '.' nor an 'e', and the exponent without its '+' and leading zeros ("1e+20" -> "1e20"). */
static void put_real(rs_buf_t *b, double v)
{
    /* an integral value below 2^53 (not -0): "%.17g" writes its digits exactly, then ".0" */
    if (v == trunc(v) && fabs(v) < 9007199254740992.0 && !(v == 0 && signbit(v))) {
        char s[RS_I64_TEXT + 2];
        size_t n = rs_i64_text((int64_t)v, s);
        memcpy(s + n, ".0", 2);
        put(b, s, n + 2);
        return;
    }
    char s[64];
    int len = snprintf(s, sizeof(s), "%.17g", v);
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

int rs_jsonw_string(rs_buf_t *b, const char *s, size_t n)
{
    size_t at = b->len;
    int rc = put_string(b, s, n);
    if (rc) b->len = at;
    b->data[b->len] = '\0';
    return rc;
}

void rs_jsonw_integer(rs_buf_t *b, json_int_t v)
{
    put_integer(b, v);
    b->data[b->len] = '\0';
}

void rs_jsonw_real(rs_buf_t *b, double v)
{
    put_real(b, v);
    b->data[b->len] = '\0';
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
