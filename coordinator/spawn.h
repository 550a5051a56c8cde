/* spawn: the local workers `reasonsaver run --workers N` starts and stops.
 *
 * The worker binary is looked up next to the running reasonsaver executable first, then in PATH,
 * so a build tree and an installed copy both work. Each child gets its own process group, so a
 * Ctrl-C at the terminal reaches the coordinator alone and it decides how the workers stop. */
#ifndef COORD_SPAWN_H
#define COORD_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "util.h"

typedef struct coord_spawn coord_spawn_t;

/* Starts n workers connecting to endpoint, each given --allow-env allow_env (copied): exactly the
 * variables the run's config names (coord_spawn_allow_env), and --allow-exec when allow_exec
 * (coord_spawn_allow_exec). With server_key and key (paths, both or neither) they use CURVE:
 * --server-key server_key --key key. NULL with err when the binary cannot be found. */
coord_spawn_t *coord_spawn_start(size_t n, const char *endpoint,
                                 const char *allow_env, int allow_exec, const char *server_key,
                                 const char *key, rs_err_t *err);
/* The api_key_env names of cfg's models and embedder, the response cache's password_env
 * unless cache.mode is off, and the env names of its exec graders, comma-separated, each once
 * ("" for none): a local worker may read these and nothing else, whatever they are called.
 * Caller frees. */
char *coord_spawn_allow_env(const rs_config_t *cfg);
/* 1 when cfg has an exec grader: its local workers run the command the user's own config names
 * (--allow-exec). */
int coord_spawn_allow_exec(const rs_config_t *cfg);
/* 1 when every worker has exited (reaped), without waiting. */
int coord_spawn_exited(coord_spawn_t *s);
/* Waits up to timeout_ms for them to exit by themselves (after DRAIN), then SIGTERM, then SIGKILL. */
void coord_spawn_stop(coord_spawn_t **s, int64_t timeout_ms);
/* Restarts any worker that exited unexpectedly (crash, kill -9). Returns how many it restarted. */
size_t coord_spawn_reap(coord_spawn_t *s);
/* 1 when every worker was given up (could not start, or kept dying right after starting). */
int coord_spawn_all_given_up(const coord_spawn_t *s);

/* Path of a sibling binary of the running executable ("reasonsaver-worker"), or the bare name so
 * that execvp searches PATH. Caller frees. */
char *coord_sibling_binary(const char *name);

#endif
