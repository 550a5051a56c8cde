/* cachepeek: how many of a run's calls the response cache would answer, asked before the run
 * (reasonsaver estimate, docs/CACHE.md).
 *
 * Only generation calls can be named before a run: their requests are the rendered prompts. A
 * critique, a revision or the remote embedder's call quotes answers that do not exist yet, so
 * their keys cannot be made and they are not looked up (the estimate says so). Keys are made as
 * the worker makes them (worker/chain.c: the provider's build_chat for candidates k .. k+n-1 of a
 * request, then rs_cachekey) and looked up with EXISTS, pipelined a batch at a time, in the cache
 * the run would use (coordinator/cachesrv.c). Nothing is read or written but EXISTS. */
#ifndef COORD_CACHEPEEK_H
#define COORD_CACHEPEEK_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "dataset.h"
#include "util.h"

typedef struct coord_cachepeek coord_cachepeek_t;

/* Connects to the cache at url (coord_cachesrv_url) as the workers would: the address's ACL user,
 * the password from cfg->cache.password_env. cfg must outlive it. NULL with err when the cache
 * cannot be reached or refuses the login. */
coord_cachepeek_t *coord_cachepeek_new(const rs_config_t *cfg, const char *url, rs_err_t *err);
void coord_cachepeek_destroy(coord_cachepeek_t **p);

/* Looks up case c's generation calls (sent when a batch is full). 0, or -1 with err when the
 * cache stopped answering. */
int coord_cachepeek_case(coord_cachepeek_t *p, const rs_case_t *c, rs_err_t *err);
/* Sends what is left of the last batch. 0 / -1 with err. */
int coord_cachepeek_flush(coord_cachepeek_t *p, rs_err_t *err);

/* Model m's generation requests looked up, and those the cache holds. */
uint64_t coord_cachepeek_asked(const coord_cachepeek_t *p, size_t m);
uint64_t coord_cachepeek_hits(const coord_cachepeek_t *p, size_t m);

#endif
