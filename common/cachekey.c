/* cachekey: the SHA-256 key of a model call and the stored entry's header, without I/O. */
#include "cachekey.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define KEY_VERSION "rs-cache-key-1" /* changes whenever what goes into the key changes */
#define ENTRY_MAGIC "rsc1 "

/* One field: its length as 8 bytes big-endian, then its bytes, so no two different sequences of
 * fields hash the same bytes ("ab","c" vs "a","bc"). */
static void put_field(EVP_MD_CTX *ctx, const void *data, size_t len)
{
    unsigned char n[8];
    for (int i = 0; i < 8; i++) n[i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    EVP_DigestUpdate(ctx, n, sizeof(n));
    if (len) EVP_DigestUpdate(ctx, data, len);
}

static void put_str(EVP_MD_CTX *ctx, const char *s)
{
    put_field(ctx, s ? s : "", s ? strlen(s) : 0);
}

static int is_rs_header(const char *h)
{
    return strncasecmp(h, "X-RS-", 5) == 0;
}

void rs_cachekey(const rs_cachekey_in_t *in, char out[RS_CACHEKEY_HEX])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    put_str(ctx, KEY_VERSION);
    put_str(ctx, in->provider);
    put_str(ctx, in->url);
    put_field(ctx, in->body, in->body_len);
    size_t n_rs = 0;
    for (size_t i = 0; i < in->n_headers; i++) n_rs += is_rs_header(in->headers[i]);
    char count[24];
    snprintf(count, sizeof(count), "%zu", n_rs);
    put_str(ctx, count);
    for (size_t i = 0; i < in->n_headers; i++)
        if (is_rs_header(in->headers[i])) put_str(ctx, in->headers[i]);
    char k[24];
    if (in->deterministic) snprintf(k, sizeof(k), "-");
    else snprintf(k, sizeof(k), "%d", in->k);
    put_str(ctx, k);
    if (in->extra_headers && *in->extra_headers) {
        put_str(ctx, "extra_headers");
        for (char *const *h = in->extra_headers; *h; h++) put_str(ctx, *h);
    }
    if (in->epoch && !in->deterministic) {
        snprintf(k, sizeof(k), "epoch %u", in->epoch);
        put_str(ctx, k);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    rs_hex(md, mdlen, out);
}

void rs_cache_entry_encode(rs_buf_t *out, int64_t stored_ms, const char *body, size_t len)
{
    rs_buf_printf(out, ENTRY_MAGIC "%lld %zu\n", (long long)stored_ms, len);
    rs_buf_append(out, body, len);
}

/* A decimal number of at most 19 digits at *p, ending at stop; advances *p past stop. */
static int read_number(const char **p, const char *end, char stop, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    int digits = 0;
    while (s < end && *s >= '0' && *s <= '9' && digits < 19) {
        v = v * 10 + (uint64_t)(*s++ - '0');
        digits++;
    }
    if (!digits || s >= end || *s != stop) return -1;
    *p = s + 1;
    *out = v;
    return 0;
}

int rs_cache_entry_decode(const char *data, size_t n, const char **body, size_t *len,
                          int64_t *stored_ms)
{
    size_t magic = strlen(ENTRY_MAGIC);
    if (!data || n < magic || memcmp(data, ENTRY_MAGIC, magic) != 0) return -1;
    const char *p = data + magic, *end = data + n;
    uint64_t ms, blen;
    if (read_number(&p, end, ' ', &ms) != 0 || read_number(&p, end, '\n', &blen) != 0) return -1;
    if (blen != (uint64_t)(end - p) || blen > RS_CACHE_ENTRY_MAX) return -1;
    *body = p;
    *len = (size_t)blen;
    *stored_ms = (int64_t)ms;
    return 0;
}
