/* runlock: acquire (with take-over of a dead local holder), renew, release. */
#define _GNU_SOURCE
#include "runlock.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

enum { HOLDER_ELSEWHERE, HOLDER_ALIVE_HERE, HOLDER_DEAD_HERE };

/* Where holder ("host:pid:nonce") runs: on another host (it may be dead or alive: only its lock's
 * expiry tells), or on this one, where its pid says whether it still runs. */
static int holder_state(const char *holder)
{
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    size_t hl = strlen(host);
    if (strncmp(holder, host, hl) != 0 || holder[hl] != ':') return HOLDER_ELSEWHERE;
    char *end;
    long pid = strtol(holder + hl + 1, &end, 10);
    if (*end != ':' || pid <= 0) return HOLDER_ELSEWHERE;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH ? HOLDER_DEAD_HERE : HOLDER_ALIVE_HERE;
}

static void make_owner(coord_runlock_t *l)
{
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    snprintf(l->owner, sizeof(l->owner), "%s:%d:%llx", host, (int)getpid(),
             (unsigned long long)(rs_wall_ms() ^ ((int64_t)getpid() << 20)));
}

int coord_runlock_acquire(coord_runlock_t *l, coord_store_t *st, const char *run_id,
                          int64_t wait_ms, rs_err_t *err)
{
    memset(l, 0, sizeof(*l));
    make_owner(l);
    snprintf(l->run_id, sizeof(l->run_id), "%s", run_id);
    int64_t until = rs_mono_ms() + wait_ms;
    int told = 0;
    for (;;) {
        char *holder = NULL;
        int64_t ttl = 0;
        int rc = coord_store_lock_acquire(st, run_id, l->owner, COORD_RUNLOCK_TTL_MS, &holder,
                                          &ttl, err);
        if (rc <= 0) {
            free(holder);
            if (rc == 0) l->held = 1, l->renewed_ms = rs_mono_ms();
            return rc;
        }
        int state = holder_state(holder);
        if (state == HOLDER_DEAD_HERE) {
            rs_warn("run %s: taking over the lock of coordinator %s, which is no longer running",
                    run_id, holder);
            coord_store_lock_steal(st, run_id, holder, err);
        } else if (state == HOLDER_ALIVE_HERE || rs_mono_ms() >= until) {
            rs_err_set(err, "run %s is held by coordinator %s (its lock expires in %.1f s unless "
                            "renewed); stop it first, or wait and resume", run_id, holder,
                       (double)ttl / 1000);
            free(holder);
            return -1;
        } else {
            if (!told++) rs_info("run %s: waiting for the lock of %s to expire", run_id, holder);
            struct timespec ts = {0, 250 * 1000000};
            nanosleep(&ts, NULL);
        }
        free(holder);
    }
}

int coord_runlock_tick(coord_runlock_t *l, coord_store_t *st, rs_err_t *err)
{
    if (!l->held || rs_mono_ms() - l->renewed_ms < 1000) return 0;
    rs_err_t ignored;
    int rc = coord_store_lock_renew(st, l->run_id, l->owner, COORD_RUNLOCK_TTL_MS, &ignored);
    if (rc < 0) return 0; /* Redis away: the dispatch loop reports it; try again next tick */
    if (rc == 1) {
        /* Gone: it expired while Redis was away. Take it again unless someone else has. */
        char *holder = NULL;
        int64_t ttl;
        rc = coord_store_lock_acquire(st, l->run_id, l->owner, COORD_RUNLOCK_TTL_MS, &holder, &ttl,
                                      &ignored);
        if (rc == 1) {
            rs_err_set(err, "run %s: coordinator %s took the run lock; stopping", l->run_id, holder);
            free(holder);
            l->held = 0;
            return -1;
        }
        free(holder);
    }
    l->renewed_ms = rs_mono_ms();
    return 0;
}

void coord_runlock_release(coord_runlock_t *l, coord_store_t *st)
{
    if (!l->held) return;
    coord_store_lock_release(st, l->run_id, l->owner);
    l->held = 0;
}

int coord_runlock_holder_alive(coord_store_t *st, const char *run_id)
{
    char *holder = coord_store_lock_holder(st, run_id);
    int alive = holder && holder_state(holder) != HOLDER_DEAD_HERE;
    free(holder);
    return alive;
}
