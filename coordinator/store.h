/* store: the run's state in Redis (hiredis), written by the coordinator alone.
 *
 * Keys (docs/REDIS.md): rs:runs ZSET of run ids by start time; rs:run:<id> HASH manifest and
 * counters; rs:run:<id>:results HASH case index -> result JSON, each written once by a Lua script
 * (HSETNX), which also bumps the done/failed counters in the same atomic step, so a duplicate result
 * never counts twice and the counters never disagree with the results.
 *
 * Every call reconnects first when the connection was lost; a failed call leaves the store
 * disconnected and returns -1, so the caller can keep its data and retry. */
#ifndef COORD_STORE_H
#define COORD_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "util.h"

typedef struct coord_store coord_store_t;

/* Where the store connects (strings are copied by coord_store_open). */
typedef struct coord_store_opts {
    const char *url;          /* redis://[USER@]HOST[:PORT][/DB], rediss://..., unix:/path
                                 (common/redisurl.h; an address holding a password is refused) */
    const char *password_env; /* the variable holding the password, read at every (re)connect:
                                 AUTH USER PASSWORD, or AUTH PASSWORD without a user; NULL: no AUTH */
    const char *ca_file;      /* rediss://: the CA certificate(s), required */
    const char *cert_file;    /* rediss://: optional client certificate and key */
    const char *key_file;
    const char *dir;          /* rediss://: where the TLS proxy keeps its files (the run directory
                                 of a coordinator); NULL: a private temporary directory (commands
                                 that only read a run) */
} coord_store_opts_t;

/* Connects (for rediss://, through a stunnel client this store starts, supervises and stops:
 * coordinator/tlsproxy.h), authenticates, SELECTs the database and loads the result script. NULL
 * with err on failure: the message names the address (never a password) and says what to do on
 * NOAUTH, WRONGPASS, NOPERM and TLS failures (quoting what stunnel logged). */
coord_store_t *coord_store_open(const coord_store_opts_t *o, rs_err_t *err);
/* coord_store_open of url alone, without AUTH: for the embedded server's unix socket. */
coord_store_t *coord_store_connect(const char *url, rs_err_t *err);
void coord_store_destroy(coord_store_t **st);
/* A second connection to the Redis st reaches (the same address, password and TLS proxy), for
 * another thread: each store is one thread's at a time, a TLS proxy may be shared. Destroy it
 * before st. NULL with err. */
coord_store_t *coord_store_twin(const coord_store_t *st, rs_err_t *err);

/* Registers a new run: the manifest fields (a JSON object of strings and integers) go to
 * rs:run:<id> and the id into rs:runs. */
int coord_store_run_create(coord_store_t *st, const char *run_id, json_t *manifest, rs_err_t *err);
/* Sets one manifest field. */
int coord_store_run_set(coord_store_t *st, const char *run_id, const char *field,
                        const char *value, rs_err_t *err);
/* The manifest as a JSON object of strings (new reference), or NULL with err (unknown run). */
json_t *coord_store_run_get(coord_store_t *st, const char *run_id, rs_err_t *err);
/* The most recently started run's id (caller frees), or NULL with err when there is none. */
char *coord_store_latest_run(coord_store_t *st, rs_err_t *err);
/* A connection of its own to the Redis st reaches (the same address, password and TLS proxy),
 * subscribed to channel: for a reader that waits for a run's events (the viewer). Destroy it with
 * coord_store_destroy (before st). NULL with err. */
coord_store_t *coord_store_subscribe(const coord_store_t *st, const char *channel, rs_err_t *err);
/* The next message on the subscribed channel (heap), waiting at most timeout_ms: NULL with
 * *timed_out set when none came in time, NULL without it when the connection failed. */
char *coord_store_next_message(coord_store_t *sub, int timeout_ms, int *timed_out);

/* The ids of the runs this Redis holds (rs:runs), newest first, at most max (new reference), or
 * NULL with err. */
json_t *coord_store_runs(coord_store_t *st, size_t max, rs_err_t *err);

/* Writes case results once each; *added / *added_failed get how many were new. In the same
 * atomic step the manifest's "dispatched" counter grows by dispatched (cases sent to workers since
 * the last call), so that redone work can be reported. */
int coord_store_results_add(coord_store_t *st, const char *run_id, const rs_case_result_t *cases,
                            size_t n, uint64_t dispatched, uint64_t *added, uint64_t *added_failed,
                            rs_err_t *err);
/* Fetches results first .. first+n-1 (n <= 1000); out[i] is the stored value as a heap string
 * (checksum and record: coord_record_unwrap) or NULL. */
int coord_store_results_get(coord_store_t *st, const char *run_id, uint64_t first, size_t n,
                            char **out, rs_err_t *err);
/* Calls fn with the index and the stored value (checksum and record, record.h; valid during the
 * call) of every stored result (HSCAN), for resume. An index may come twice (HSCAN's guarantee). */
typedef void (*coord_scan_fn)(uint64_t idx, const char *stored, size_t len, void *arg);
int coord_store_results_scan(coord_store_t *st, const char *run_id, coord_scan_fn fn, void *arg,
                             rs_err_t *err);
/* Deletes the stored results of cases idx[0 .. n) and lowers the manifest's "done" by how many
 * were there, in one atomic step (a damaged record, to be run again). 0 / -1. */
int coord_store_results_del(coord_store_t *st, const char *run_id, const uint64_t *idx, size_t n,
                            rs_err_t *err);
/* Whether each of keys[0 .. n) exists (found[i] 1 or 0), asked with one pipelined EXISTS per key:
 * what the response cache holds (coordinator/cachepeek.c). 0, or -1 with err (every reply is
 * read either way, so the connection stays in step). */
int coord_store_exists(coord_store_t *st, const char *const *keys, size_t n, unsigned char *found,
                       rs_err_t *err);
/* Bytes Redis uses in all (INFO memory used_memory), or -1. */
int64_t coord_store_used_memory(coord_store_t *st);
/* HINCRBY on the manifest. */
int coord_store_run_incr(coord_store_t *st, const char *run_id, const char *field, int64_t by,
                         rs_err_t *err);

/* The run lock rs:run:<id>:lock (SET NX PX): one coordinator per run. acquire returns 0 when we
 * hold it, 1 when another does (*holder, heap, and its remaining ttl), -1 on error. renew extends
 * it only while we hold it: 0 ok, 1 lost to someone else, -1 error. steal deletes a lock held by
 * holder (a coordinator known to be dead): 0 deleted, 1 it changed meanwhile. */
int coord_store_lock_acquire(coord_store_t *st, const char *run_id, const char *owner,
                             int64_t ttl_ms, char **holder, int64_t *holder_ttl_ms, rs_err_t *err);
int coord_store_lock_renew(coord_store_t *st, const char *run_id, const char *owner,
                           int64_t ttl_ms, rs_err_t *err);
void coord_store_lock_release(coord_store_t *st, const char *run_id, const char *owner);
/* Live view, refreshed every second by the coordinator: rs:run:<id>:workers (a JSON array of the
 * live workers, expiring after ttl_ms so a dead coordinator's view vanishes) and one progress event
 * PUBLISHed on rs:run:<id>:events. */
int coord_store_live_put(coord_store_t *st, const char *run_id, const char *workers_json,
                         const char *event_json, int64_t ttl_ms, rs_err_t *err);
/* The live workers JSON array (heap), or NULL when none is published (the run is not live). */
char *coord_store_live_workers(coord_store_t *st, const char *run_id);
int coord_store_publish(coord_store_t *st, const char *run_id, const char *event_json,
                        rs_err_t *err);

/* A string key of the run, rs:run:<id><suffix> (":usage"): set, and get (heap, NULL if none). */
int coord_store_run_put(coord_store_t *st, const char *run_id, const char *suffix,
                        const char *value, rs_err_t *err);
char *coord_store_run_fetch(coord_store_t *st, const char *run_id, const char *suffix);

/* A manifest field (every value is a string in Redis) as text ("" when absent) or integer (0). */
const char *coord_manifest_str(json_t *manifest, const char *field);
int64_t coord_manifest_int(json_t *manifest, const char *field);

/* Who holds the run lock now (heap), or NULL when nobody does. */
char *coord_store_lock_holder(coord_store_t *st, const char *run_id);
int coord_store_lock_steal(coord_store_t *st, const char *run_id, const char *holder,
                           rs_err_t *err);

#endif
