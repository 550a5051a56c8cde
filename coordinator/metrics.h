/* metrics: the coordinator's optional Prometheus endpoint (cluster.metrics_bind, libmicrohttpd).
 * The dispatch loop renders the text once a second; the server thread only hands out the latest
 * copy, so scraping never touches the loop's state. */
#ifndef COORD_METRICS_H
#define COORD_METRICS_H

#include "util.h"

typedef struct coord_metrics coord_metrics_t;

/* bind: "host:port" or ":port". NULL with err when it cannot listen. */
coord_metrics_t *coord_metrics_start(const char *bind, rs_err_t *err);
/* Replaces the text served at GET /metrics. */
void coord_metrics_publish(coord_metrics_t *m, const char *text, size_t len);
void coord_metrics_stop(coord_metrics_t **m);

struct sockaddr_in;
/* "host:port" or ":port" (host any_host then; "localhost" is 127.0.0.1) as an IPv4 address for
 * the HTTP servers (this one and the viewer); 0, or -1 with err naming what ("--bind 'x': bad
 * port"). */
int coord_bind_parse(const char *what, const char *bind, const char *any_host,
                     struct sockaddr_in *sa, rs_err_t *err);

#endif
