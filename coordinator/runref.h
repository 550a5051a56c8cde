/* runref: finds a run and opens its Redis for the commands that look at a run after the fact
 * (status, report, top, trace, export, compare, and resume). A run directory holds run.json naming
 * its Redis (address, password variable, TLS files; never a password): "embedded" means the
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

/* Writes runs/<id>/run.json naming the run's Redis: "embedded" when redis is NULL, else its
 * address with the NAME of the password variable and the TLS files (never a password). */
/* "reasonsaver resume ID [--out DIR] [--redis URL]": the command that continues a run found with
 * these options (--out left out when it is the default "runs"). Caller frees. */
char *coord_runref_resume_command(const char *run_id, const char *out_dir, const char *redis);

int coord_runref_write(const char *dir, const char *run_id, const coord_store_opts_t *redis,
                       rs_err_t *err);

/* How to reach a run's Redis: url (--redis) when given, else the one dir/run.json names; the
 * password variable and TLS files come from run.json when there is one (REDIS_PASSWORD and none
 * otherwise). o->dir is left NULL (the TLS proxy of a command that reads a run keeps its files in
 * a private directory). o's strings point into url and *info (the parsed run.json or NULL; the
 * caller json_decref's it). Returns 0 for an
 * external Redis, 1 when run.json names the embedded one, -1 when url is NULL and dir has no
 * readable run.json (err says so). */
int coord_runref_redis(const char *dir, const char *url, coord_store_opts_t *o, json_t **info,
                       rs_err_t *err);

#endif
