/* reqlog: the opt-in request log of reasonsaver-mockllm (--log-requests FILE). Each request to a
 * model route appends one JSON line {"path": "/v1/chat/completions", "t_ms": <wall ms of its
 * arrival>, "body": <the request>}, plus "unknown_fields" (the body's fields the endpoint does
 * not read, such as a client's extra_body) and "extra_headers" (the headers it does not read,
 * credential-like values shown as "***") when there are any, so a
 * test can check what a client really sent (a judge's prompt, a system message). body is the
 * request's JSON, or the raw text as a JSON string when it is not JSON (null when not UTF-8).
 * Lines from concurrent requests never interleave. */
#ifndef MOCK_REQLOG_H
#define MOCK_REQLOG_H

#include <stddef.h>
#include <jansson.h>
#include <stdint.h>

#include "util.h"

typedef struct mock_reqlog mock_reqlog_t;

/* Opens path for appending (created 0644 when missing). NULL with err when it cannot. */
mock_reqlog_t *mock_reqlog_new(const char *path, rs_err_t *err);
/* Appends the line of one request, with extra's keys (an object, taken; NULL for none). A failed
 * write is logged once and otherwise ignored. */
void mock_reqlog_write(mock_reqlog_t *log, const char *path, const char *body, size_t len,
                       json_t *extra);
/* Closes the file and frees the log; sets *log to NULL. NULL and &NULL are fine. */
void mock_reqlog_destroy(mock_reqlog_t **log);

/* The line for one request that arrived at wall clock t_ms, with extra's keys (taken; may be
 * NULL), newline included (heap; no I/O). */
char *mock_reqlog_line(const char *path, const char *body, size_t len, int64_t t_ms, json_t *extra);

#endif
