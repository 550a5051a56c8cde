/* otlp: converts reasonsaver's span records into OpenTelemetry's OTLP/HTTP JSON encoding
 * (ExportTraceServiceRequest), with no I/O, so it is unit-testable.
 *
 * A span record, as workers put them in each result's "spans" array (docs/TRACING.md):
 *   {"trace_id": 32 hex, "span_id": 16 hex, "parent_span_id": 16 hex or null, "name",
 *    "kind": "internal"|"client"|"server", "start_us", "end_us" (Unix microseconds),
 *    "attributes": {key: string|integer|number|bool}, "events": [{"name", "time_us",
 *    "attributes"}], "status": {"code": "ok"|"error"|"unset", "message"}} */
#ifndef COORD_OTLP_H
#define COORD_OTLP_H

#include <jansson.h>

#include "util.h"

/* A batch under construction: resource attributes describe the run. */
typedef struct coord_otlp_batch {
    json_t *request; /* {"resourceSpans": [{"resource": ..., "scopeSpans": [{"scope", "spans"}]}]} */
    json_t *spans;   /* borrowed: the spans array inside request */
} coord_otlp_batch_t;

void coord_otlp_batch_init(coord_otlp_batch_t *b, const char *run_id, const char *version);
void coord_otlp_batch_cleanup(coord_otlp_batch_t *b);
/* Converts one span record and appends it; returns -1 (and appends nothing) when the record lacks
 * ids of the right length or its times. */
int coord_otlp_add(coord_otlp_batch_t *b, json_t *span);
size_t coord_otlp_count(const coord_otlp_batch_t *b);
/* The request as compact JSON (heap). */
char *coord_otlp_dump(const coord_otlp_batch_t *b);

/* POSTs one request body to url (a full /v1/traces URL) with curl, retrying 429, 5xx, 408 and
 * connection errors up to 5 times with backoff from 0.5 s. 0, or -1 with err. */
int coord_otlp_post(void *curl, const char *url, void *headers, const char *body, rs_err_t *err);

/* The /v1/traces URL for a collector base URL (or the URL itself if it already ends so). Heap. */
char *coord_otlp_traces_url(const char *base);

#endif
