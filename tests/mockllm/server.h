/* server: the HTTP side of reasonsaver-mockllm. A libmicrohttpd daemon (poll(), one internal
 * polling thread or a pool of them), the route table, authentication, fault injection and
 * /stats. A delayed reply or a hang suspends its connection and parks it on the timer (timer.h):
 * no server thread ever sleeps, so latency costs a heap entry, not a thread. */
#ifndef MOCK_SERVER_H
#define MOCK_SERVER_H

#include <stdint.h>

#include "api.h"
#include "faults.h"
#include "util.h"

#define MOCK_MAX_BODY (16u << 20) /* 16 MiB: a larger request body is answered with 413 */

typedef struct mock_server_opts {
    const char *bind;    /* host or numeric address to listen on */
    int port;            /* 0 = a free one (mock_server_port says which) */
    int threads;         /* polling threads; 1 = one internal thread */
    const char *api_key; /* NULL: any key is accepted. Copied; never logged */
    mock_sim_cfg_t sim;
    mock_faults_cfg_t faults;
    double hang_ms;           /* a hung request's connection is closed after this */
    int64_t retry_after_s;    /* Retry-After of an injected 429 */
    int64_t max_concurrency;  /* > 0: a model request beyond this many open at once is a 429 */
    int64_t limit_retry_after_s; /* Retry-After of such a 429; 0: none */
    int64_t pause_request;    /* > 0: this model request (1-based) is a 429 with retry_after_s */
    const char *log_requests; /* NULL, or append each model request there (reqlog.h) */
    int64_t reply_bytes;      /* > 0: chat and messages replies padded with spaces to this size */
} mock_server_opts_t;

typedef struct mock_server mock_server_t;

/* Binds, listens and starts serving. NULL with err ("cannot listen on 127.0.0.1:80: Permission
 * denied", "--rate-429: ...") on failure. The caller owns the server: mock_server_destroy. */
mock_server_t *mock_server_new(const mock_server_opts_t *opts, rs_err_t *err);
/* The port it listens on (the chosen one when opts->port was 0). */
int mock_server_port(const mock_server_t *s);
/* Stops accepting, answers or closes every parked request, stops the daemon and frees it.
 * Sets *s to NULL; NULL and &NULL are fine. */
void mock_server_destroy(mock_server_t **s);

#endif
