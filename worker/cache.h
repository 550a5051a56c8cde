/* cache: the worker's client of the response cache (docs/CACHE.md) — one hiredis asynchronous
 * connection to the cache's Redis, driven by the worker's own loop: the HTTP engine polls its
 * descriptor beside libcurl's (wk_cache_fd) and hands it the readiness (wk_cache_io). A lookup
 * never blocks another transfer; a write (a Lua script that also keeps the size cap) is sent and
 * forgotten.
 *
 * Never a reason for a case to fail: if the cache cannot be reached, refuses the login, answers
 * an error or is too slow, the worker says so once and goes on as if the cache were off (every
 * lookup a miss, nothing written).
 *
 * Keys: rs:cache:<hex key> (the stored entry, common/cachekey.h, with a TTL), and the writer's
 * bookkeeping for the cap: rs:cache:index (a sorted set of keys by expiry time),
 * rs:cache:sizes (a hash of their sizes) and rs:cache:bytes (their sum). */
#ifndef WORKER_CACHE_H
#define WORKER_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "envguard.h"
#include "util.h"

#define WK_CACHE_LOOKUP_MS 2000 /* a lookup unanswered this long: the cache is given up */

typedef struct wk_cache wk_cache_t;
typedef struct wk_cache_get wk_cache_get_t;

/* A lookup's answer: body (len bytes, valid only during the call) on a hit, NULL on a miss or
 * when the cache failed. */
typedef void (*wk_cache_cb)(void *ud, const char *body, size_t len);

/* A client for cfg's cache (cfg->redis: the address the coordinator resolved), connecting in
 * the background. NULL when cfg's mode is off or it names no address, and when the address
 * cannot be used (logged once, with why). The password, when cfg->redis names a user or
 * cfg->password_env is set, comes from the environment through env. cfg must outlive it. */
wk_cache_t *wk_cache_new(const rs_cache_cfg_t *cfg, const wk_envguard_t *env);
/* Closes the connection (lookups not answered yet are answered as misses, cancelled ones not at
 * all) and frees the client; *c becomes NULL. */
void wk_cache_destroy(wk_cache_t **c);

/* 1 while lookups may be asked (mode read or read_write, and the cache has not failed). */
int wk_cache_reads(const wk_cache_t *c);
/* 1 while writes are sent (mode write or read_write, and writing has not failed). */
int wk_cache_writes(const wk_cache_t *c);

/* The descriptor to poll and the events wanted (POLLIN / POLLOUT), or -1 when there is none. */
int wk_cache_fd(const wk_cache_t *c, short *events);
/* Reads and writes what revents (poll's) allows, and sends what is queued. Callbacks of
 * lookups run from here. */
void wk_cache_io(wk_cache_t *c, short revents);

/* Looks key up; cb runs later, from wk_cache_io (or wk_cache_fail / wk_cache_destroy). NULL when
 * the cache does not read now: the caller goes on as on a miss at once. */
wk_cache_get_t *wk_cache_get(wk_cache_t *c, const char *key, wk_cache_cb cb, void *ud);
/* Forgets a lookup: its callback never runs. */
void wk_cache_get_cancel(wk_cache_get_t *g);

/* Stores body under key, with the config's TTL, evicting the entries nearest their expiry when
 * the cache passes max_mb. Does nothing when the cache does not write or the key is stored
 * already. Bodies above RS_CACHE_ENTRY_MAX are not stored. */
void wk_cache_put(wk_cache_t *c, const char *key, const char *body, size_t len);

/* 1 while writes are on their way (sent or queued, not answered yet): a worker leaving after a
 * drain waits for them, or the last answers of a run would not be kept. */
int wk_cache_writing(const wk_cache_t *c);

/* Gives the cache up for the rest of the run, logging why (once): pending lookups become misses. */
void wk_cache_fail(wk_cache_t *c, const char *why);

/* The cache's writer script (Lua), for tests and the docs: KEYS index, sizes, bytes, then one
 * entry key (rs:cache:<hex>) per entry; ARGV ttl_ms, cap_bytes, prefix (rs:cache:), then each
 * entry's value at its key's index. Returns how many entries it stored. */
extern const char WK_CACHE_PUT_SCRIPT[];

#endif
