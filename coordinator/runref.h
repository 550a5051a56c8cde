/* runref: finds a run and opens its Redis for the commands that look at a run after the fact
 * (status, report). A run directory holds run.json naming its Redis: "embedded" means the
 * redis-server of that directory — reached on its socket while the run is live, or started for
 * the duration of the command (from the AOF in the directory) when the run is over. */
#ifndef COORD_RUNREF_H
#define COORD_RUNREF_H

#include <jansson.h>

#include "redisproc.h"
#include "store.h"
#include "util.h"

typedef struct coord_runref {
    char *run_id;
    char *dir;                 /* runs/<id>, or NULL when only reached through --redis */
    coord_store_t *store;
    coord_redisproc_t *redis;  /* a private redis-server this command started, or NULL */
    json_t *manifest;          /* rs:run:<id> as an object of strings */
} coord_runref_t;

/* out_dir: where runs live ("runs"); run_id: NULL for the latest; redis_url: NULL to use the run
 * directory's run.json. 0 / -1 with err ("no run 'x' in runs/", "no runs in runs/"). */
int coord_runref_open(coord_runref_t *ref, const char *out_dir, const char *run_id,
                      const char *redis_url, rs_err_t *err);
void coord_runref_close(coord_runref_t *ref);

/* Writes runs/<id>/run.json naming the run's Redis ("embedded" or a URL). */
int coord_runref_write(const char *dir, const char *run_id, const char *redis, rs_err_t *err);

#endif
