/* runlock: one coordinator per run, through rs:run:<id>:lock in Redis (SET NX PX, renewed every
 * second by the holder, 10 s to live). A second coordinator is refused with the holder's name; a
 * dead holder's lock is taken over at once when the holder ran on this host (its pid is gone),
 * otherwise once the lock expires. */
#ifndef COORD_RUNLOCK_H
#define COORD_RUNLOCK_H

#include <stdint.h>

#include "store.h"
#include "util.h"

#define COORD_RUNLOCK_TTL_MS 10000

typedef struct coord_runlock {
    char owner[320]; /* host:pid:nonce */
    char run_id[256];
    int64_t renewed_ms;
    int held;
} coord_runlock_t;

/* Takes the lock. wait_ms: how long to wait for a holder that may be dead elsewhere. 0, or -1
 * with err naming the holder ("run X is held by coordinator host:pid ..."). */
int coord_runlock_acquire(coord_runlock_t *l, coord_store_t *st, const char *run_id,
                          int64_t wait_ms, rs_err_t *err);
/* Renews at most once a second; call it often. Returns -1 with err when the lock was taken by
 * another coordinator (the caller must stop); a Redis outage is not an error (the lock is taken
 * again when Redis is back, unless someone else holds it by then). */
int coord_runlock_tick(coord_runlock_t *l, coord_store_t *st, rs_err_t *err);
void coord_runlock_release(coord_runlock_t *l, coord_store_t *st);
/* 1 when the run's lock is held by a coordinator that is running (here, or elsewhere where we
 * cannot tell), 0 when nobody holds it or its holder on this host is gone. */
int coord_runlock_holder_alive(coord_store_t *st, const char *run_id);

#endif
