/* trace: span ids (splitmix64), trace ids (SHA-256 of run id and case index) and the writer of
 * span records as JSON text. */
#define _GNU_SOURCE
#include "trace.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jsonw.h"
#include "util.h"

/* Span ids come from rs_splitmix64: they need uniqueness within a trace, not unpredictability. */

void wk_trace_seed(uint64_t *rng)
{
    struct timespec wall, mono;
    clock_gettime(CLOCK_REALTIME, &wall);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    *rng = (uint64_t)wall.tv_sec * 1000000000ull + (uint64_t)wall.tv_nsec;
    *rng ^= ((uint64_t)getpid() << 32) ^ (uint64_t)mono.tv_nsec;
    rs_splitmix64(rng); /* one step mixes the seed's bits before the first id */
}

void wk_trace_span_id(uint64_t *rng, char out[WK_SPAN_ID_HEX])
{
    uint64_t v;
    while ((v = rs_splitmix64(rng)) == 0) continue;
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (56 - 8 * i));
    rs_hex(b, 8, out);
}

void wk_trace_trace_id(const char *run_id, uint64_t idx, char out[WK_TRACE_ID_HEX])
{
    char key[320], sha[65];
    size_t n = strlen(run_id);
    /* a run id longer than the buffer is hashed in full from the heap (it never is in practice) */
    if (n + 1 + RS_I64_TEXT > sizeof(key)) {
        char *long_key = rs_xasprintf("%s:%llu", run_id, (unsigned long long)idx);
        rs_sha256_hex(long_key, strlen(long_key), sha);
        free(long_key);
    } else {
        memcpy(key, run_id, n); /* "<run_id>:<idx>" without printf's cost */
        key[n++] = ':';
        n += rs_u64_text(idx, key + n);
        rs_sha256_hex(key, n, sha);
    }
    memcpy(out, sha, 32);
    out[32] = '\0';
}

int64_t wk_trace_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Where the span's text is: in its attributes, in an event's attributes, or between events. */
enum { SPAN_ATTRS, SPAN_EVENT, SPAN_EVENTS };

static void put(wk_span_t *s, const char *text)
{
    rs_buf_puts(s->out, text);
}

/* "key": as a field of the object being written; 0, or -1 (nothing written) for a key that is
 * not UTF-8. */
static int put_key(rs_buf_t *b, const char *key)
{
    if (rs_jsonw_string(b, key, strlen(key))) return -1;
    rs_buf_putc(b, ':');
    return 0;
}

/* sep, then the string field that json_object_set_new(o, key, json_string(value)) would set:
 * all of it left out for NULL or text that is not UTF-8. */
static void put_str_field(rs_buf_t *b, const char *sep, const char *key, const char *value)
{
    size_t at = b->len;
    rs_buf_puts(b, sep);
    if (!value || put_key(b, key) || rs_jsonw_string(b, value, strlen(value))) {
        b->len = at;
        b->data[at] = '\0';
    }
}

void wk_span_begin(wk_span_t *s, rs_buf_t *out, const char *trace_id, const char *span_id,
                   const char *parent, const char *name, const char *kind, int64_t start_us,
                   int64_t end_us)
{
    *s = (wk_span_t){.out = out, .in = SPAN_ATTRS};
    /* ids are hex and names this module's callers' literals: never left out, so the commas hold */
    put(s, "{");
    put_str_field(out, "", "trace_id", trace_id);
    put_str_field(out, ",", "span_id", span_id);
    if (parent) put_str_field(out, ",", "parent_span_id", parent);
    else put(s, ",\"parent_span_id\":null");
    put_str_field(out, ",", "name", name);
    put_str_field(out, ",", "kind", kind);
    put(s, ",\"start_us\":");
    rs_jsonw_integer(out, (json_int_t)start_us);
    put(s, ",\"end_us\":");
    rs_jsonw_integer(out, (json_int_t)end_us);
    put(s, ",\"attributes\":{");
}

/* Takes back what was written since at. */
static void drop(wk_span_t *s, size_t at)
{
    s->out->len = at;
    s->out->data[at] = '\0';
}

/* The start of an attribute: its separator and key, written from *at; 0, or -1 (nothing
 * written) where the key is not UTF-8, which jansson's setters refuse. */
static int attr_key(wk_span_t *s, const char *key, size_t *at)
{
    *at = s->out->len;
    if (s->n_attrs) rs_buf_putc(s->out, ',');
    if (!put_key(s->out, key)) return 0;
    drop(s, *at);
    return -1;
}

void wk_attr_str(wk_span_t *s, const char *key, const char *value)
{
    size_t at;
    if (!value || attr_key(s, key, &at)) return;
    if (rs_jsonw_string(s->out, value, strlen(value))) {
        drop(s, at); /* json_string refuses text that is not UTF-8: left out like a NULL */
        return;
    }
    s->n_attrs++;
}

void wk_attr_int(wk_span_t *s, const char *key, int64_t value)
{
    size_t at;
    if (attr_key(s, key, &at)) return;
    rs_jsonw_integer(s->out, (json_int_t)value);
    s->n_attrs++;
}

void wk_attr_real(wk_span_t *s, const char *key, double value)
{
    size_t at;
    if (!isfinite(value) || attr_key(s, key, &at)) return; /* json_real refuses them */
    rs_jsonw_real(s->out, value);
    s->n_attrs++;
}

void wk_attr_true(wk_span_t *s, const char *key)
{
    size_t at;
    if (attr_key(s, key, &at)) return;
    put(s, "true");
    s->n_attrs++;
}

void wk_span_error(wk_span_t *s, const char *message)
{
    s->error = 1;
    s->message = message;
}

void wk_span_event_begin(wk_span_t *s, const char *name, int64_t time_us)
{
    assert(s->in != SPAN_EVENT);
    put(s, s->in == SPAN_ATTRS ? "},\"events\":[{" : ",{");
    put_str_field(s->out, "", "name", name);
    put(s, ",\"time_us\":");
    rs_jsonw_integer(s->out, (json_int_t)time_us);
    put(s, ",\"attributes\":{");
    s->in = SPAN_EVENT;
    s->n_attrs = 0;
}

void wk_span_event_end(wk_span_t *s)
{
    assert(s->in == SPAN_EVENT);
    put(s, "}}");
    s->in = SPAN_EVENTS;
}

void wk_span_end(wk_span_t *s)
{
    assert(s->in != SPAN_EVENT);
    put(s, s->in == SPAN_ATTRS ? "},\"events\":[]" : "]");
    if (!s->error) {
        put(s, ",\"status\":{\"code\":\"ok\"}}");
        return;
    }
    put(s, ",\"status\":{\"code\":\"error\"");
    put_str_field(s->out, ",", "message", s->message);
    put(s, "}}");
}
