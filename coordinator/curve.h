/* curve: the coordinator's side of ZeroMQ CURVE — its key pair, the directory of authorised worker
 * keys, and the ZAP handler (RFC 27) that lets a worker in only when its public key is there.
 *
 * The ZAP socket lives in the dispatch's ZeroMQ context and is served from the dispatch loop (one
 * more zmq_pollitem), not from a thread. A worker's identity is its key's name: the file name
 * without ".pub"; the ZAP reply gives it as the connection's User-Id, which the dispatch reads
 * from every message. An unknown key is refused (ZAP 400) and logged once per peer address; the
 * directory is read again when an unknown key arrives (at most once a second), so a key added
 * during a run is accepted from then on. The secret key never leaves this module. */
#ifndef COORD_CURVE_H
#define COORD_CURVE_H

#include <jansson.h>

#include "config.h"
#include "curvekey.h"
#include "util.h"

#define COORD_CURVE_LOCAL_NAME "local" /* the identity of the workers `run --workers N` starts */

typedef struct coord_curve coord_curve_t;

/* Reads cfg's secret key file (mode 0600, one key) and the *.pub files of authorized_keys_dir.
 * NULL with err naming the file when the secret is unusable or the directory cannot be read. A
 * .pub file that is not one key (or whose name is not a key name) is skipped with a warning. */
coord_curve_t *coord_curve_new(const rs_curve_cfg_t *cfg, rs_err_t *err);
/* Closes the ZAP socket if still open, wipes the secret key and frees; *c becomes NULL. */
void coord_curve_destroy(coord_curve_t **c);

/* The coordinator's public key (Z85), what workers pass as --server-key. */
const char *coord_curve_public(const coord_curve_t *c);

/* Authorises one more key under name, beside the directory's (kept across re-reads). 0 / -1 with
 * err when pub is not a Z85 key. */
int coord_curve_allow(coord_curve_t *c, const char *name, const char *pub, rs_err_t *err);

/* Binds the ZAP handler in zctx (inproc://zeromq.zap.01) and makes router a CURVE server with the
 * coordinator's key. Call before zmq_bind(router): a CURVE socket that finds no ZAP handler lets
 * every client in. 0, or -1 with err. */
int coord_curve_attach(coord_curve_t *c, void *zctx, void *router, rs_err_t *err);
/* The ZAP socket to poll for ZMQ_POLLIN (NULL when not attached). */
void *coord_curve_zap_socket(const coord_curve_t *c);
/* Answers every pending ZAP request without blocking, and logs handshakes that failed before ZAP
 * (a peer without CURVE, or one with another server key: the first of each kind, then counts). */
void coord_curve_serve(coord_curve_t *c);
/* Closes the ZAP socket: before the context it belongs to is terminated. */
void coord_curve_detach(coord_curve_t *c);

/* The names of the keys let in so far, in the order first let in (new reference): the workers of
 * this process's part of the run, for its report. */
json_t *coord_curve_accepted_json(const coord_curve_t *c);

/* Local workers' keys: makes an ephemeral pair, authorises it as COORD_CURVE_LOCAL_NAME and writes
 * DIR/local-worker.secret (0600) and DIR/coordinator.pub for the workers' --key / --server-key.
 * The files are removed by coord_curve_destroy. 0, or -1 with err. */
int coord_curve_local_keys(coord_curve_t *c, const char *dir, rs_err_t *err);
/* Their paths after coord_curve_local_keys (else NULL). */
const char *coord_curve_local_secret_path(const coord_curve_t *c);
const char *coord_curve_local_server_path(const coord_curve_t *c);

#endif
