/* trace: the span records a worker puts into each case's result record — one trace per case, in
 * the record format of coordinator/otlp.h (docs/TRACING.md): W3C-sized ids as lowercase hex,
 * Unix-microsecond times, typed attributes, events and a status. Builders only: no I/O, and the
 * only clock is wk_trace_wall_us, so unit tests reach everything else directly.
 *
 * Ids: a case's trace id is derived from the run id and the case index (a redone case keeps it);
 * span ids come from a per-worker PRNG, since they only have to be unique within a trace. */
#ifndef WORKER_TRACE_H
#define WORKER_TRACE_H

#include <stdint.h>

#include "jsonw.h"
#include "util.h"

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

/* A span written as JSON text while it is built, into a buffer that holds the trace's spans:
 * wk_span_begin writes everything up to its attributes, the setters and events follow in the
 * order they are called, and wk_span_end writes its status. The text is byte for byte what
 * rs_jsonw_append (jsonw.h) writes for the jansson object these builders used to make, at a
 * fraction of the cost: no heap object per field (building, writing and freeing span trees was
 * a large share of a worker's time per case). One span at a time per buffer; a wk_span_t stays
 * where it is until wk_span_end (its parts point at each other). */
typedef struct wk_span {
    rs_jsonw_t span, own;        /* the span object, and its attributes */
    rs_jsonw_t events, event, event_attrs;
    rs_jsonw_t *attrs;           /* where the setters write: own, or the open event's */
    int in;                      /* SPAN_ATTRS, SPAN_EVENT or SPAN_EVENTS (trace.c) */
    int error;                   /* wk_span_error was called */
    const char *message;         /* its message (borrowed until wk_span_end); NULL for none */
} wk_span_t;

/* Begins a span at out's end, with empty attributes and events so far and status "ok" unless
 * wk_span_error says otherwise; parent NULL makes a root span (parent_span_id null).
 * kind: "internal", "client", "server". */
void wk_span_begin(wk_span_t *s, rs_buf_t *out, const char *trace_id, const char *span_id,
                   const char *parent, const char *name, const char *kind, int64_t start_us,
                   int64_t end_us);
/* Attribute setters, to the span's attributes or, between wk_span_event_begin and _end, to the
 * event's. Left out as jansson's setters left them out: a NULL string, text or a key that is not
 * UTF-8, a real that is not finite. Keys must differ within one attributes object (the text
 * cannot replace a value as a jansson object did). */
void wk_attr_str(wk_span_t *s, const char *key, const char *value);
void wk_attr_int(wk_span_t *s, const char *key, int64_t value);
void wk_attr_real(wk_span_t *s, const char *key, double value);
void wk_attr_true(wk_span_t *s, const char *key);
/* Sets status "error" with message (which must hold no secret, and live until wk_span_end). */
void wk_span_error(wk_span_t *s, const char *message);
/* An event {"name", "time_us", "attributes"}: its attributes are set between the two calls.
 * Events come after all of the span's own attributes. */
void wk_span_event_begin(wk_span_t *s, const char *name, int64_t time_us);
void wk_span_event_end(wk_span_t *s);
/* Ends the span: its events and status. */
void wk_span_end(wk_span_t *s);

#endif
