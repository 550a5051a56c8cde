/* http: the worker's I/O engine — libcurl's multi interface driven from the worker's one thread,
 * many requests in flight, keep-alive connections and HTTP/2 multiplexing where a server offers
 * it, per-model connect and total timeouts, response bodies in a capped buffer, retries with
 * exponential backoff and full jitter (honouring Retry-After), and the deadline heap that holds
 * every retry delay and every simulated latency of the worker (wk_http_timers).
 *
 * The event loop is the caller's: wk_http_wait (one poll over the transfers' epoll set, which
 * follows libcurl's socket callbacks, and one extra descriptor, such as a ZeroMQ socket's ZMQ_FD)
 * then wk_http_step (due timers, then curl_multi_socket_action for the ready sockets only and for
 * libcurl's timeout, then completion callbacks): a turn costs what happened, not what is in flight.
 * At most `limit` transfers are on the wire; more wait in a FIFO (retries go to its front).
 * A model can be paused (wk_http_pause): its transfers stay in the FIFO, retries included, until
 * the pause ends, while other models' go ahead. A 429 or 503 with Retry-After pauses its model
 * here at once; the coordinator's PAUSE does the same for the whole cluster.
 *
 * Ownership: wk_http_submit takes over the request (its headers may hold a key: they go into
 * curl's header list and are wiped when the transfer ends). The completion callback runs once,
 * from wk_http_step, unless the transfer is cancelled first; the wk_xfer_t handle and the
 * body pointer die when the callback returns. What happens on the wire is described by the
 * provider module's classification (common/provider.h); this engine never parses a body.
 *
 * The response cache (worker/cache.h): a transfer submitted with a key is first looked up there
 * (its descriptor is polled with the transfers'). On a hit the transfer completes with the stored
 * body without a request (cached, latency 0); on a miss it goes on the wire as usual, and the
 * caller, once its parser has accepted the body, stores it with wk_http_cache_store (errors never
 * are). */
#ifndef WORKER_HTTP_H
#define WORKER_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "cachekey.h"
#include "config.h"
#include "execgrade.h"
#include "provider.h"
#include "timerq.h"
#include "util.h"

typedef struct wk_http wk_http_t;
typedef struct wk_xfer wk_xfer_t;

#define WK_HTTP_MAX_REASONS 8 /* distinct retry reasons counted per transfer; more go to the last */

typedef struct wk_retry_count {
    char reason[32]; /* rs_failure_t.reason: "http_429", "timeout", ... */
    int n;
} wk_retry_count_t;

/* Adds count to reason's entry in v (*n entries, room for WK_HTTP_MAX_REASONS). */
void wk_retry_count_add(wk_retry_count_t *v, size_t *n, const char *reason, int count);

/* One retry of a transfer, for the trace: when the failed attempt ended, why, and the wait. */
typedef struct wk_retry_event {
    double at_sec;    /* rs_mono_sec when the attempt failed */
    int attempt;      /* 1 for the first retry */
    char reason[32];  /* rs_failure_t.reason */
    long status;      /* the failed attempt's HTTP status, 0 without a response */
    int64_t delay_ms; /* the wait before the next attempt */
} wk_retry_event_t;

/* A transfer's end, as its callback sees it. */
typedef struct wk_http_done {
    int ok;                  /* 1: a 2xx JSON response is in body */
    const char *body;        /* the response body (also on failure, when one came) */
    size_t body_len;
    const rs_failure_t *fail; /* when !ok: why the last attempt failed (message names the model) */
    int retries;             /* attempts after the first */
    const wk_retry_count_t *reasons; /* why each retry happened, counted */
    size_t n_reasons;
    double latency_ms;       /* the last attempt's duration */
    long status;             /* the last attempt's HTTP status, 0 without a response */
    const wk_retry_event_t *events; /* one per retry, in order (retries of them) */
    int cached;              /* the body came from the response cache: no request was made */
    const char *cache_key;   /* the key it was submitted with, or NULL */
} wk_http_done_t;

typedef void (*wk_http_cb)(void *ud, const wk_http_done_t *d);

/* Told of every attempt that will be tried again, with why (f->reason, f->retry_after_ms). */
typedef void (*wk_http_retry_fn)(void *ud, const rs_model_cfg_t *m, const rs_failure_t *f);

/* A new engine with at most limit (>= 1) transfers on the wire. NULL with err when libcurl
 * cannot make a multi handle. curl_global_init must have run (worker/main.c). */
wk_http_t *wk_http_new(size_t limit, rs_err_t *err);
/* Aborts every transfer (no callbacks) and frees the engine; *h becomes NULL. */
void wk_http_destroy(wk_http_t **h);
void wk_http_set_limit(wk_http_t *h, size_t limit);
/* The largest response body a transfer may receive (RS_PROVIDER_BODY_CAP until set; the run's
 * cluster.max_response_bytes). A larger one is aborted as it arrives (or at once, when its
 * Content-Length says so) and ends its call with reason "response_too_large", not retried. Applies
 * to transfers started from now on. */
void wk_http_set_max_body(wk_http_t *h, size_t bytes);

/* Sets the retry observer (NULL: none). */
void wk_http_on_retry(wk_http_t *h, wk_http_retry_fn fn, void *ud);

/* Holds every transfer of the model named model that is not on the wire yet (queued, or waiting
 * for its retry) until until_ms (rs_mono_ms clock). A longer pause extends it; a shorter one
 * changes nothing. */
void wk_http_pause(wk_http_t *h, const char *model, int64_t until_ms);
/* How many ms of model's pause are left at now_ms; 0 when it is not paused. */
int64_t wk_http_paused_ms(const wk_http_t *h, const char *model, int64_t now_ms);

/* Queues a POST of req for model m (m's timeouts and retry settings apply; m must outlive the
 * transfer). Takes req's contents (req is left zeroed). Nothing goes on the wire before the next
 * wk_http_step, so cb never runs inside this call. */
wk_xfer_t *wk_http_submit(wk_http_t *h, const rs_model_cfg_t *m, rs_http_req_t *req, wk_http_cb cb,
                          void *ud);
/* wk_http_submit with a response-cache key (RS_CACHEKEY_HEX - 1 hex characters, copied), or
 * NULL for none: with a cache that reads, the transfer waits for its lookup before anything
 * else; a hit completes it with the stored body (d->cached). */
wk_xfer_t *wk_http_submit_keyed(wk_http_t *h, const rs_model_cfg_t *m, rs_http_req_t *req,
                                const char *cache_key, wk_http_cb cb, void *ud);

/* The exec graders' processes (borrowed; NULL: none): their pipes are polled with the transfers
 * (wk_http_wait) and moved on at every wk_http_step, before the transfers. */
void wk_http_set_exec(wk_http_t *h, wk_execgrade_t *e);
wk_execgrade_t *wk_http_exec(const wk_http_t *h);

/* The response cache transfers are looked up in and stored to (borrowed; NULL: none). Lookups
 * under way when it changes become misses at once. */
void wk_http_set_cache(wk_http_t *h, wk_cache_t *c);
/* 1 when keys are worth computing: a cache is set that reads or writes. */
int wk_http_caching(const wk_http_t *h);
/* Stores d's body under its key: call it from the callback once the body was accepted (parsed).
 * Does nothing for a hit, a failure, a transfer without a key, or a cache that does not write. */
void wk_http_cache_store(wk_http_t *h, const wk_http_done_t *d);

/* The host (heap, NULL when unknown) and port (0 when unknown) of url, for spans' server.address
 * and server.port. Parsed by libcurl, so user:password in a base_url never reaches a span. */
void wk_http_url_server(const char *url, char **host, long *port);

/* Aborts x wherever it is (on the wire, queued, waiting to retry); its callback never runs. */
void wk_http_cancel(wk_http_t *h, wk_xfer_t *x);

/* Transfers not finished yet (on the wire, queued or waiting to retry). */
size_t wk_http_live(const wk_http_t *h);

/* The worker's deadline heap: timers added here make wk_http_wait wake up for them, and
 * wk_http_step fires them. */
wk_timerq_t *wk_http_timers(wk_http_t *h);

/* Sleeps until a transfer's socket is ready, extra_fd (-1: none) is readable, a timer is due,
 * or max_wait_ms passes; returns at once when queued transfers could start. 0 / -1. */
int wk_http_wait(wk_http_t *h, int extra_fd, int64_t max_wait_ms, rs_err_t *err);
/* Fires due timers, starts queued transfers, advances every transfer and runs the callbacks of
 * those that finished (a callback may submit or cancel transfers). 0 / -1. */
int wk_http_step(wk_http_t *h, rs_err_t *err);

#endif
