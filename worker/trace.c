/* trace: span ids (splitmix64), trace ids (SHA-256 of run id and case index) and the writer of
 * span records as JSON text. */
#define _GNU_SOURCE
#include "trace.h"

#include <assert.h>
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

void wk_span_begin(wk_span_t *s, rs_buf_t *out, const char *trace_id, const char *span_id,
                   const char *parent, const char *name, const char *kind, int64_t start_us,
                   int64_t end_us)
{
    *s = (wk_span_t){.in = SPAN_ATTRS, .attrs = &s->own};
    rs_jsonw_object(&s->span, out);
    rs_jsonw_str(&s->span, "trace_id", trace_id);
    rs_jsonw_str(&s->span, "span_id", span_id);
    if (parent) rs_jsonw_str(&s->span, "parent_span_id", parent);
    else rs_jsonw_null(&s->span, "parent_span_id");
    rs_jsonw_str(&s->span, "name", name);
    rs_jsonw_str(&s->span, "kind", kind);
    rs_jsonw_int(&s->span, "start_us", start_us);
    rs_jsonw_int(&s->span, "end_us", end_us);
    rs_jsonw_object_in(&s->own, &s->span, "attributes");
}

void wk_attr_str(wk_span_t *s, const char *key, const char *value)
{
    rs_jsonw_str(s->attrs, key, value);
}

void wk_attr_int(wk_span_t *s, const char *key, int64_t value)
{
    rs_jsonw_int(s->attrs, key, value);
}

void wk_attr_real(wk_span_t *s, const char *key, double value)
{
    rs_jsonw_real(s->attrs, key, value);
}

void wk_attr_true(wk_span_t *s, const char *key)
{
    rs_jsonw_bool(s->attrs, key, 1);
}

void wk_span_error(wk_span_t *s, const char *message)
{
    s->error = 1;
    s->message = message;
}

void wk_span_event_begin(wk_span_t *s, const char *name, int64_t time_us)
{
    assert(s->in != SPAN_EVENT);
    if (s->in == SPAN_ATTRS) {
        rs_jsonw_end(&s->own);
        rs_jsonw_array_in(&s->events, &s->span, "events");
    }
    rs_jsonw_object_in(&s->event, &s->events, NULL);
    rs_jsonw_str(&s->event, "name", name);
    rs_jsonw_int(&s->event, "time_us", time_us);
    rs_jsonw_object_in(&s->event_attrs, &s->event, "attributes");
    s->attrs = &s->event_attrs;
    s->in = SPAN_EVENT;
}

void wk_span_event_end(wk_span_t *s)
{
    assert(s->in == SPAN_EVENT);
    rs_jsonw_end(&s->event_attrs);
    rs_jsonw_end(&s->event);
    s->attrs = NULL; /* events come after the span's own attributes */
    s->in = SPAN_EVENTS;
}

void wk_span_end(wk_span_t *s)
{
    assert(s->in != SPAN_EVENT);
    if (s->in == SPAN_ATTRS) {
        rs_jsonw_end(&s->own);
        rs_jsonw_array_in(&s->events, &s->span, "events");
    }
    rs_jsonw_end(&s->events);
    rs_jsonw_t status;
    rs_jsonw_object_in(&status, &s->span, "status");
    rs_jsonw_str(&status, "code", s->error ? "error" : "ok");
    if (s->error) rs_jsonw_str(&status, "message", s->message);
    rs_jsonw_end(&status);
    rs_jsonw_end(&s->span);
}
