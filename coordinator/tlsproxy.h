/* tlsproxy: TLS to a rediss:// Redis through a local stunnel client. hiredis 0.14 (Debian 12) has
 * no TLS, so the store talks plain RESP to a unix socket that stunnel (Debian's stunnel4) listens
 * on, and stunnel speaks TLS to the server: the chain is verified against the CA file and the
 * server's certificate must name the host (or IP) of the address; a client certificate is sent
 * when one is configured. The proxy is supervised like the embedded redis-server
 * (coordinator/redisproc.h): a child of this process that dies with it, restarted when found dead.
 * Two threads may share one (the store's and the result writer's connections, coord_store_twin):
 * ensure, mark and error take its lock; start and stop are the owner's. */
#ifndef COORD_TLSPROXY_H
#define COORD_TLSPROXY_H

#include <sys/types.h>

#include "util.h"

typedef struct coord_tlsproxy coord_tlsproxy_t;

typedef struct coord_tlsproxy_opts {
    const char *host;      /* the server: a name (checked with checkHost) or an IP (checkIP) */
    int port;
    const char *ca_file;   /* required: the CA certificate(s) to verify the server against */
    const char *cert_file; /* optional client certificate, with key_file */
    const char *key_file;
    const char *dir;       /* where stunnel-PID.conf (mode 0600), stunnel-PID.log and
                              stunnel-PID.sock go (PID: this process's); NULL: a private directory
                              under $TMPDIR, removed by stop */
} coord_tlsproxy_opts_t;

/* Writes the stunnel configuration, starts stunnel and waits (up to 5 s) until it listens. NULL
 * with err when stunnel is missing (naming the Debian package), a file is unreadable, or stunnel
 * exits (its logged error is quoted). The options' strings are copied. */
coord_tlsproxy_t *coord_tlsproxy_start(const coord_tlsproxy_opts_t *o, rs_err_t *err);
/* Restarts stunnel when it has died (with a warning). 0, or -1 with err. */
int coord_tlsproxy_ensure(coord_tlsproxy_t *p, rs_err_t *err);
/* Stops stunnel (SIGTERM, then SIGKILL after 2 s), removes the socket and the configuration (and
 * the log with the private directory, when it made one; a log in a given dir stays), frees, sets
 * *p to NULL. NULL and &NULL are fine. */
void coord_tlsproxy_stop(coord_tlsproxy_t **p);

/* The unix socket to connect hiredis to. */
const char *coord_tlsproxy_socket(const coord_tlsproxy_t *p);

/* Marks the log's end: coord_tlsproxy_error reports only what stunnel logs after this. */
void coord_tlsproxy_mark(coord_tlsproxy_t *p);
/* The errors and warnings stunnel logged since the mark ("CERT: Pre-verification error: ...;
 * SSL_connect: ... certificate verify failed"), waiting up to 1 s for them to appear, or NULL when
 * there are none (caller frees): why a connection through the proxy failed. */
char *coord_tlsproxy_error(coord_tlsproxy_t *p);

#endif
