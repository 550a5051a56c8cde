/* session: a worker's life with one coordinator — DEALER socket, HELLO/WELCOME, credit, tasks,
 * heartbeats, and the cases it holds: running (their model calls under way) and waiting in its
 * backlog for a slot. One loop serves the socket and every HTTP transfer: one poll over the
 * socket's ZMQ_FD and the transfers' epoll set (wk_http_wait).
 *
 * The worker is stateless: everything it holds can vanish with it, and the coordinator hands the
 * cases to someone else. If the coordinator goes silent for 3 heartbeats the worker drops what it
 * holds and says HELLO again, with backoff from 1 s to 32 s (Paranoid Pirate). */
#ifndef WORKER_SESSION_H
#define WORKER_SESSION_H

/* Slots and requests in flight, whether from --slots, --requests or a spec's worker_slots: each
 * slot may become a transfer and a descriptor. Slots and backlog together stay within it too. */
#define WK_SLOTS_MAX 65536

#include <signal.h>
#include <stdint.h>

#include "envguard.h"
#include "util.h"

typedef struct wk_opts {
    const char *connect;   /* coordinator endpoint */
    const char *id;        /* worker id */
    int64_t slots;         /* cases run at once; 0 = the run's cluster.worker_slots. The run's
                            * cluster.worker_backlog more are held, each started the moment a
                            * running case finishes (worker/backlog.h) */
    int64_t requests;      /* HTTP requests on the wire at once; 0 = as many as slots */
    int exit_on_drain;     /* leave after DRAIN once idle (local workers) */
    /* CURVE (all three Z85, or server_key[0] == 0 for plain TCP): the coordinator's public key,
     * which the handshake checks, and this worker's own pair. */
    char server_key[41], public_key[41], secret_key[41];
    const wk_envguard_t *env; /* the variables a spec may name (--allow-env) */
} wk_opts_t;

/* Runs until DRAIN (with exit_on_drain) or *stop. 0 on a clean exit, -1 with err, -2 with err
 * when the coordinator's run spec was unusable SPEC_TRIES times (restarting will not help). */
int wk_session_run(const wk_opts_t *o, volatile sig_atomic_t *stop, rs_err_t *err);

#endif
