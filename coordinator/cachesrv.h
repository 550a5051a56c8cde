/* cachesrv: where a run's response cache lives (docs/CACHE.md), decided once by the coordinator
 * and sent to workers in their spec (cache.redis): never a password, which each worker takes from
 * its own environment.
 *
 * In order: no cache when cache.mode is off or no model speaks HTTP (sim calls are answered
 * in-process and never cached); cache.redis when set; the run's own Redis when it is external
 * (cluster.redis, --redis; not rediss://, which workers cannot speak); otherwise a private
 * redis-server in <run.out_dir>/cache/ (unix socket, AOF on), kept across runs: started here, or,
 * when another coordinator runs it already, shared with it. The cache never fails a run: when it
 * cannot be had, the run goes on uncached with one warning. */
#ifndef COORD_CACHESRV_H
#define COORD_CACHESRV_H

#include "config.h"

typedef struct coord_cachesrv coord_cachesrv_t;

/* Decides where cfg's cache lives, starting the private server when that is the place. Never
 * fails: without a cache, coord_cachesrv_url is NULL. */
coord_cachesrv_t *coord_cachesrv_open(const rs_config_t *cfg);
/* open in two steps, so that a run starts its own redis-server while the cache's starts: launch
 * decides and forks the private server without waiting; ready waits for it (a server that does
 * not come up leaves the run uncached, with the same warning). ready on NULL is fine. */
coord_cachesrv_t *coord_cachesrv_launch(const rs_config_t *cfg);
void coord_cachesrv_ready(coord_cachesrv_t *c);
/* The same place for a command that only reads the cache (reasonsaver estimate): a private
 * cache's directory is not created when it is not there (an empty cache, url NULL). */
coord_cachesrv_t *coord_cachesrv_find(const rs_config_t *cfg);
/* Stops the private server if this process started it; *c becomes NULL. */
void coord_cachesrv_close(coord_cachesrv_t **c);
/* Tells the private server to stop without waiting (coord_redisproc_term): close then waits for
 * it, while the run's own server stops beside it. NULL is fine. */
void coord_cachesrv_term(coord_cachesrv_t *c);

/* The cache's address for workers, or NULL when the run has none. */
const char *coord_cachesrv_url(const coord_cachesrv_t *c);
/* What to show where the run's settings are printed ("off", "private (runs/cache)", an address
 * with any password redacted); owned by c. */
const char *coord_cachesrv_label(const coord_cachesrv_t *c);

/* 1 when some model of cfg (or its embedder) is called over HTTP. */
int coord_cachesrv_http_models(const rs_config_t *cfg);

/* cfg's spec for workers: its JSON with cache.redis set to the resolved address (or left out
 * when the run has no cache). Heap. */
char *coord_cachesrv_worker_spec(const coord_cachesrv_t *c, rs_config_t *cfg);

#endif
