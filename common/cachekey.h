/* cachekey: the response cache's two pure parts — the key of a model call (what determines its
 * answer, hashed) and the stored entry's format — shared by the worker, which reads and writes
 * the cache (worker/cache.h), and by anything that must name an entry without making the call.
 *
 * The key is the SHA-256, as 64 hex characters, of a versioned, length-prefixed sequence of: the
 * provider's name, the request URL (base URL and path), the request body exactly as sent
 * (messages, model, sampling parameters, seed, n, stop, ...), every X-RS-* header in the order it
 * is sent (reasonsaver-mockllm decides its answer from them: the case, candidate and chain step),
 * and the candidate index k unless sampling is deterministic (temperature 0), when candidate k
 * and candidate 0 would get the same answer anyway, then the model's params.extra_headers when it
 * has any (a call without them keys as before they existed), then the epoch when it is not 0 and
 * sampling is not deterministic. No other header is read: the API key
 * and every auth header stay out of the key (so one team's cache serves members with different
 * keys); extra_headers never hold a credential (the config refuses one).
 *
 * A stored entry is "rsc1 <stored_unix_ms> <body_len>\n" followed by the response body: the
 * header makes a value written by something else (or cut short) a miss, not a wrong answer. */
#ifndef RS_CACHEKEY_H
#define RS_CACHEKEY_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define RS_CACHEKEY_HEX 65           /* 64 hex characters and the NUL */
#define RS_CACHE_PREFIX "rs:cache:"  /* every key of the cache starts so (the ACL pattern) */
#define RS_CACHE_ENTRY_MAX (64u << 20) /* a body above this is never stored (max_response_bytes) */

/* What determines a call's answer. headers are "Name: value" lines as the provider built them;
 * only those whose name starts with "X-RS-" (any case) are read. */
typedef struct rs_cachekey_in {
    const char *provider;     /* the config's provider name ("openai", "anthropic") */
    const char *url;          /* the request URL as sent */
    const char *body;
    size_t body_len;
    char *const *headers;
    size_t n_headers;
    int k;                    /* the request's first candidate */
    int deterministic;        /* temperature 0: k is left out */
    char *const *extra_headers; /* the model's params.extra_headers (NULL-terminated, sorted), or
                                 * NULL: they may change the answer (a beta feature, a route) */
    uint32_t epoch;           /* the asking of the case (epochs: K): another epoch is another
                               * sample, so a non-zero epoch goes last into the key unless
                               * sampling is deterministic; epoch 0 keys as before epochs existed */
} rs_cachekey_in_t;

/* The call's key into out (64 lowercase hex characters and a NUL). */
void rs_cachekey(const rs_cachekey_in_t *in, char out[RS_CACHEKEY_HEX]);

/* Appends the stored entry of body (header and body) to out. */
void rs_cache_entry_encode(rs_buf_t *out, int64_t stored_ms, const char *body, size_t len);

/* Reads an entry: 0 with *body pointing into data (len bytes) and *stored_ms, or -1 when data is
 * not a whole entry of this format (a wrong magic, a bad number, a length that does not match). */
int rs_cache_entry_decode(const char *data, size_t n, const char **body, size_t *len,
                          int64_t *stored_ms);

#endif
