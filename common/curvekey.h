/* curvekey: ZeroMQ CURVE key files (one Z85 key a line), key names, and which endpoints other
 * machines can reach. Shared by `reasonsaver keys gen`, the coordinator's ZAP handler and the
 * worker's --key / --server-key, so all three read a key file the same way.
 *
 * A key file holds exactly one Z85 key of 40 characters, optionally followed by a newline; a
 * secret key file must not be readable or writable by group or others (mode 0600 or 0400). The
 * secret key itself is never put in an error message. */
#ifndef RS_CURVEKEY_H
#define RS_CURVEKEY_H

#include <stddef.h>

#include "util.h"

#define RS_CURVEKEY_Z85_LEN 40  /* a 32-byte key in Z85 */
#define RS_CURVEKEY_NAME_MAX 64 /* a key's name: [A-Za-z0-9._-], 1..64 characters */

/* 1 when name is a valid key name (1..RS_CURVEKEY_NAME_MAX of [A-Za-z0-9._-], not "." or ".."),
 * else 0. */
int rs_curvekey_name_ok(const char *name);

/* Parses the text of a key file (len bytes, not necessarily NUL-terminated) into out (Z85 plus
 * NUL): exactly one 40-character Z85 key, then at most one "\n" (or "\r\n"). 0, or -1 with err
 * saying what is wrong (never quoting the text: it may be a secret). */
int rs_curvekey_parse(const char *text, size_t len, char out[RS_CURVEKEY_Z85_LEN + 1],
                      rs_err_t *err);

/* Reads a public key file. 0, or -1 with err naming path. */
int rs_curvekey_read_public(const char *path, char out[RS_CURVEKEY_Z85_LEN + 1], rs_err_t *err);

/* Reads a secret key file: a regular file whose mode gives group and others nothing (else -1
 * with a message saying chmod 600), holding one key. 0, or -1 with err naming path. */
int rs_curvekey_read_secret(const char *path, char out[RS_CURVEKEY_Z85_LEN + 1], rs_err_t *err);

/* The public key of a secret key (both Z85). 0, or -1 with err (the secret is not a key). */
int rs_curvekey_public_of(const char *secret, char pub[RS_CURVEKEY_Z85_LEN + 1], rs_err_t *err);

/* Makes a new key pair and writes DIR/NAME.secret (0600) and DIR/NAME.pub (0644), each one line,
 * both created with O_EXCL | O_NOFOLLOW: an existing file (or a link) is never overwritten.
 * The secret is written first; when the public file cannot be made the secret is removed again.
 * On success the paths are in secret_path / pub_path when not NULL (caller frees). */
int rs_curvekey_write_pair(const char *dir, const char *name, char **secret_path, char **pub_path,
                           rs_err_t *err);

/* Writes key + "\n" to path with O_CREAT | O_EXCL | O_NOFOLLOW and the given mode. 0 / -1. */
int rs_curvekey_write_file(const char *path, const char *key, unsigned mode, rs_err_t *err);

/* 1 when a ZeroMQ endpoint can only be reached from this machine: ipc:// and inproc://, and
 * tcp:// on 127.0.0.0/8, ::1 or localhost. Everything else (a wildcard "*", 0.0.0.0, a host name,
 * an interface name, another transport) is 0. */
int rs_curvekey_endpoint_local(const char *endpoint);

#endif
