/* trace: the span records a worker puts into each case's result record — one trace per case, in
 * the record format of coordinator/otlp.h (docs/TRACING.md): W3C-sized ids as lowercase hex,
 * Unix-microsecond times, typed attributes, events and a status. Builders only: no I/O, and the
 * only clock is wk_trace_wall_us, so unit tests reach everything else directly.
 *
 * Ids: a case's trace id is derived from the run id and the case index (a redone case keeps it);
 * span ids come from a per-worker PRNG, since they only have to be unique within a trace. */
#ifndef WORKER_TRACE_H
#define WORKER_TRACE_H

#include <jansson.h>
#include <stdint.h>

#define WK_TRACE_ID_HEX 33 /* 32 hex digits and the NUL */
#define WK_SPAN_ID_HEX 17  /* 16 hex digits and the NUL */

/* Seeds a span-id generator from the process id and the clocks, so that workers started in the
 * same millisecond still draw different ids. */
void wk_trace_seed(uint64_t *rng);
/* 8 random bytes as 16 hex digits; never all zero (W3C: an all-zero id is invalid). */
void wk_trace_span_id(uint64_t *rng, char out[WK_SPAN_ID_HEX]);
/* The first 16 bytes of SHA-256("<run_id>:<idx>") as 32 hex digits. */
void wk_trace_trace_id(const char *run_id, uint64_t idx, char out[WK_TRACE_ID_HEX]);
/* Wall-clock time in Unix microseconds. */
int64_t wk_trace_wall_us(void);

/* When a case reached the worker, on both clocks: its trace begins there (wall_us), and its spans
 * are placed by the monotonic time since (mono_sec, rs_mono_sec), so a clock step cannot reorder
 * them. Taken by the session when a TASK arrives. */
typedef struct wk_arrival {
    int64_t wall_us;
    double mono_sec;
} wk_arrival_t;

/* A new span record (new reference) with empty attributes and events and status "ok";
 * parent NULL makes a root span (parent_span_id null). kind: "internal", "client", "server". */
json_t *wk_span_new(const char *trace_id, const char *span_id, const char *parent,
                    const char *name, const char *kind, int64_t start_us, int64_t end_us);
/* The span's attributes object (borrowed), to add to with the setters below. */
json_t *wk_span_attrs(json_t *span);
/* Attribute setters; a NULL string is left out (the record has no nulls among attributes). */
void wk_attr_str(json_t *attrs, const char *key, const char *value);
void wk_attr_int(json_t *attrs, const char *key, int64_t value);
void wk_attr_real(json_t *attrs, const char *key, double value);
/* Sets status "error" with message (which must hold no secret). */
void wk_span_error(json_t *span, const char *message);
/* Appends an event {"name", "time_us", "attributes"}; takes attrs (NULL: none). */
void wk_span_event(json_t *span, const char *name, int64_t time_us, json_t *attrs);

#endif
