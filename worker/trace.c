/* trace: span ids (splitmix64), trace ids (SHA-256 of run id and case index) and the JSON
 * builders of span records. */
#define _GNU_SOURCE
#include "trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
    int n = snprintf(key, sizeof(key), "%s:%llu", run_id, (unsigned long long)idx);
    if (n < 0) n = 0;
    /* a run id longer than the buffer is hashed in full from the heap (it never is in practice) */
    if ((size_t)n >= sizeof(key)) {
        char *long_key = rs_xasprintf("%s:%llu", run_id, (unsigned long long)idx);
        rs_sha256_hex(long_key, strlen(long_key), sha);
        free(long_key);
    } else {
        rs_sha256_hex(key, (size_t)n, sha);
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

json_t *wk_span_new(const char *trace_id, const char *span_id, const char *parent,
                    const char *name, const char *kind, int64_t start_us, int64_t end_us)
{
    json_t *s = json_object();
    json_object_set_new(s, "trace_id", json_string(trace_id));
    json_object_set_new(s, "span_id", json_string(span_id));
    json_object_set_new(s, "parent_span_id", parent ? json_string(parent) : json_null());
    json_object_set_new(s, "name", json_string(name));
    json_object_set_new(s, "kind", json_string(kind));
    json_object_set_new(s, "start_us", json_integer((json_int_t)start_us));
    json_object_set_new(s, "end_us", json_integer((json_int_t)end_us));
    json_object_set_new(s, "attributes", json_object());
    json_object_set_new(s, "events", json_array());
    json_object_set_new(s, "status", json_pack("{ss}", "code", "ok"));
    return s;
}

json_t *wk_span_attrs(json_t *span)
{
    return json_object_get(span, "attributes");
}

void wk_attr_str(json_t *attrs, const char *key, const char *value)
{
    /* json_string refuses text that is not UTF-8: such a value is left out like a NULL */
    if (value) json_object_set_new(attrs, key, json_string(value));
}

void wk_attr_int(json_t *attrs, const char *key, int64_t value)
{
    json_object_set_new(attrs, key, json_integer((json_int_t)value));
}

void wk_attr_real(json_t *attrs, const char *key, double value)
{
    json_object_set_new(attrs, key, json_real(value));
}

void wk_span_error(json_t *span, const char *message)
{
    json_t *st = json_pack("{ss}", "code", "error");
    if (message) json_object_set_new(st, "message", json_string(message));
    json_object_set_new(span, "status", st);
}

void wk_span_event(json_t *span, const char *name, int64_t time_us, json_t *attrs)
{
    json_t *e = json_object();
    json_object_set_new(e, "name", json_string(name));
    json_object_set_new(e, "time_us", json_integer((json_int_t)time_us));
    json_object_set_new(e, "attributes", attrs ? attrs : json_object());
    json_array_append_new(json_object_get(span, "events"), e);
}
