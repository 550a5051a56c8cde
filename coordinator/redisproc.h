/* redisproc: the embedded Redis — a private redis-server started from PATH for one run.
 *
 * It listens only on a unix socket inside the run directory (no TCP port), keeps its data there
 * with AOF on (appendfsync everysec), so the run's state outlives the coordinator and a restart of
 * redis-server on the same directory loses nothing. */
#ifndef COORD_REDISPROC_H
#define COORD_REDISPROC_H

#include <sys/types.h>

#include "util.h"

typedef struct coord_redisproc coord_redisproc_t;

/* Starts redis-server with its data and socket in dir and waits until it accepts connections.
 * NULL with err when redis-server is missing (naming the Debian package), the socket path is too
 * long, or it does not come up within 10 s (its log file is named). */
coord_redisproc_t *coord_redisproc_start(const char *dir, rs_err_t *err);
/* The same without waiting for another server of dir to stop: NULL with *busy = 1 when one runs
 * (a coordinator serving the run), so that the caller can connect to it instead. */
coord_redisproc_t *coord_redisproc_try_start(const char *dir, int *busy, rs_err_t *err);
/* try_start for the private response cache of dir (coordinator/cachesrv.h), without the wait:
 * the server is forked and still starting (coord_redisproc_await), so the caller can start the
 * run's own server meanwhile. Its AOF is rewritten as it doubles, since a cache expires and evicts
 * entries and its log would otherwise grow without bound. */
coord_redisproc_t *coord_redisproc_launch_cache(const char *dir, int *busy, rs_err_t *err);
/* coord_redisproc_start without the wait, for a new run's empty directory: the server starts
 * while the caller reads its dataset (coord_redisproc_await, or coord_redisproc_stop). */
coord_redisproc_t *coord_redisproc_launch(const char *dir, rs_err_t *err);
/* Waits until a launched server accepts connections (at once if it has). -1 with err (its log
 * named) when it does not within 10 s: it is killed and *p becomes NULL. */
int coord_redisproc_await(coord_redisproc_t **p, rs_err_t *err);
/* Stops it (SHUTDOWN, or SIGTERM if that cannot be sent: redis flushes the AOF and exits),
 * waits, frees, sets *p to NULL. */
void coord_redisproc_stop(coord_redisproc_t **p);
/* Sends SHUTDOWN (or SIGTERM) without waiting, so that two servers flush their AOF at once;
 * coord_redisproc_stop then only waits. NULL is fine. */
void coord_redisproc_term(coord_redisproc_t *p);

/* "unix:<dir>/redis.sock": the address to give coord_store_connect. */
const char *coord_redisproc_url(const coord_redisproc_t *p);

/* The socket path the embedded server of run directory dir uses (caller frees). */
char *coord_redisproc_socket_path(const char *dir);

#endif
