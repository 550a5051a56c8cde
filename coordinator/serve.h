/* serve: the viewer's HTTP server (`reasonsaver serve`, docs/VIEWER.md): the page and a read-only
 * JSON API over the runs under a directory and in a Redis. libmicrohttpd, a thread per
 * connection (the event stream waits); each run is opened once, on its first request, and its
 * case index (caseindex.h) is built by a thread of its own, from the stored records, and grown
 * while the run is live. A request locks the run for the time it reads the index and the records
 * of its page. */
#ifndef COORD_SERVE_H
#define COORD_SERVE_H

#include "util.h"

typedef struct coord_serve_opts {
    const char *bind;   /* "host:port" (IPv4); port 0 = any free one */
    const char *out;    /* the directory of runs */
    const char *redis;  /* also the runs of this Redis; may be NULL */
    const char *token;  /* required on every request when set; NULL = none (loopback only) */
} coord_serve_opts_t;

typedef struct coord_serve coord_serve_t;

/* Starts serving; NULL with err when the address cannot be used (a non-loopback address without
 * a token is refused here too). */
coord_serve_t *coord_serve_start(const coord_serve_opts_t *o, rs_err_t *err);
int coord_serve_port(const coord_serve_t *s);
void coord_serve_stop(coord_serve_t **s);

/* Whether a bind address is on the loopback network (127.0.0.0/8, localhost). */
int coord_serve_is_loopback(const char *bind);

#endif
