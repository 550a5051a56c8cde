/* envguard: the environment variables a worker lets its coordinator's spec name — the
 * --allow-env list of names and shell-style globs (fnmatch), "*_API_KEY" by default — and the one
 * getenv through which every API key is read. A spec naming another variable is refused whole.
 *
 * Why: the spec comes from the coordinator, and each api_key_env in it is read and sent as a
 * Bearer token to the spec's base_url. Without this list a rogue coordinator could name any
 * variable (AWS_SECRET_ACCESS_KEY) and an URL of its own, and receive the secret. */
#ifndef WORKER_ENVGUARD_H
#define WORKER_ENVGUARD_H

#include "config.h"
#include "util.h"

#define WK_ENVGUARD_DEFAULT "*_API_KEY" /* the list when --allow-env is never given */

typedef struct wk_envguard wk_envguard_t;

/* A guard that allows nothing yet; wk_envguard_add fills it. */
wk_envguard_t *wk_envguard_new(void);
void wk_envguard_destroy(wk_envguard_t **g);

/* Adds the comma-separated names or globs of list ("OPENAI_API_KEY,MY_*"); empty items are
 * skipped, so "" adds nothing. An item may hold letters, digits, '_' and the glob characters
 * * ? [ ] ! - only. -1 with err naming the bad item (nothing is added then). */
int wk_envguard_add(wk_envguard_t *g, const char *list, rs_err_t *err);

/* 1 when name matches an item of the list, else 0. */
int wk_envguard_allows(const wk_envguard_t *g, const char *name);

/* The list as given, comma-separated ("" when empty), for messages. Owned by g. */
const char *wk_envguard_list(const wk_envguard_t *g);

/* The value of name in the environment, or NULL when name is NULL, unset or not allowed: a
 * variable outside the list is never read. */
const char *wk_envguard_getenv(const wk_envguard_t *g, const char *name);

/* --allow-exec: specs with exec graders (docs/GRADERS.md) may run their commands on this worker.
 * Off by default: a spec from a rogue coordinator must not run commands it chose. */
void wk_envguard_allow_exec(wk_envguard_t *g);

/* Checks every api_key_env of cfg (models, hence judges, and the embedder), and its exec graders:
 * refused without --allow-exec, and each variable of their env list must be allowed too. 0 when
 * all is allowed; -1 with err naming the first thing that is not, where it is named and the flag
 * that would allow it. */
int wk_envguard_check(const wk_envguard_t *g, const rs_config_t *cfg, rs_err_t *err);

#endif
