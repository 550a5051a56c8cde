/* redisurl: the one parser of Redis addresses (cluster.redis, --redis, run.json), and the one
 * redactor that keeps a password written into such an address out of every message.
 *
 * Forms: redis://[USER@]HOST[:PORT][/DB], rediss://... (TLS, through coordinator/tlsproxy.c) and
 * unix:/path/to.sock. HOST is a name, an IPv4 address or a bracketed IPv6 address ([::1]); USER
 * may be percent-encoded (%40 for '@'). A password is never taken from the address: it comes from
 * the environment (cluster.redis_password_env, default REDIS_PASSWORD), because an address is
 * stored with the run (run.json, the manifest's config), sent to workers and shown by ps. */
#ifndef RS_REDISURL_H
#define RS_REDISURL_H

#include "util.h"

#define RS_REDIS_DEFAULT_PORT 6379
#define RS_REDIS_PASSWORD_ENV "REDIS_PASSWORD"

typedef enum rs_redisurl_kind {
    RS_REDISURL_TCP = 0, /* redis:// */
    RS_REDISURL_TLS,     /* rediss:// */
    RS_REDISURL_UNIX,    /* unix: */
} rs_redisurl_kind_t;

typedef struct rs_redisurl {
    rs_redisurl_kind_t kind;
    char *user; /* the ACL user (decoded), or NULL: then AUTH sends the password alone */
    char *host; /* TCP / TLS: a name or an address, IPv6 without its brackets; NULL for unix */
    int port;   /* TCP / TLS: 1..65535, default 6379 */
    int db;     /* TCP / TLS: the database SELECTed after connecting, default 0 */
    char *path; /* UNIX: the socket path; NULL otherwise */
} rs_redisurl_t;

/* Parses text into *out (owned by the caller: rs_redisurl_cleanup). Returns 0, or -1 with err
 * naming what is wrong in the address as rs_redisurl_redact shows it. A password in the address
 * (USER:PASSWORD@ or :PASSWORD@) is refused with a message that says to use REDIS_PASSWORD /
 * cluster.redis_password_env; no message ever contains the password. *out is zeroed on failure. */
int rs_redisurl_parse(const char *text, rs_redisurl_t *out, rs_err_t *err);
/* Frees the strings of u and zeroes it; a zeroed u is fine. */
void rs_redisurl_cleanup(rs_redisurl_t *u);

/* text with anything that may be a password replaced by "***" (caller frees): the part after the
 * first ':' of the user information ("redis://u:***@h"), or the whole user information when text
 * has no "scheme://" ("***@h"). Text without '@' comes back unchanged. Safe on any string. */
char *rs_redisurl_redact(const char *text);

/* "host:port" for TCP / TLS (IPv6 in brackets), the path for unix (caller frees): for messages
 * about connecting. */
char *rs_redisurl_address(const rs_redisurl_t *u);

#endif
