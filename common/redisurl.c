/* redisurl: Redis address parsing and password redaction, no I/O. */
#include "redisurl.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FORMS "redis://[USER@]HOST[:PORT][/DB], rediss://... (TLS) or unix:/path/to.sock"

/* Every message about an address goes through here: it shows the address redacted. */
static int fail(rs_err_t *err, const char *text, const char *what)
{
    char *shown = rs_redisurl_redact(text);
    rs_err_set(err, "redis address '%s': %s", shown, what);
    free(shown);
    return -1;
}

/* 1 when s[0..n) is a URI scheme (RFC 3986: a letter, then letters, digits, '+', '-', '.'). */
static int is_scheme(const char *s, size_t n)
{
    if (n == 0 || !isalpha((unsigned char)s[0])) return 0;
    for (size_t i = 1; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '-' && s[i] != '.') return 0;
    return 1;
}

char *rs_redisurl_redact(const char *text)
{
    if (!text) return rs_xstrdup("");
    const char *at = strrchr(text, '@');
    if (!at || strncmp(text, "unix:", 5) == 0) return rs_xstrdup(text);
    const char *sep = strstr(text, "://");
    if (sep && sep < at && is_scheme(text, (size_t)(sep - text))) {
        const char *user = sep + 3;
        const char *colon = memchr(user, ':', (size_t)(at - user));
        if (!colon) return rs_xstrdup(text); /* a user name alone is no secret */
        return rs_xasprintf("%.*s***%s", (int)(colon + 1 - text), text, at);
    }
    /* No scheme to tell where user information starts: all of it may be a password. */
    return rs_xasprintf("***%s", at);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes s[0..n) into a new string; NULL on a bad escape or an encoded control character. */
static char *percent_decode(const char *s, size_t n)
{
    char *out = rs_xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            *o++ = s[i];
            continue;
        }
        int hi = i + 2 < n ? hex_value(s[i + 1]) : -1;
        int lo = hi >= 0 ? hex_value(s[i + 2]) : -1;
        int c = hi * 16 + lo;
        if (lo < 0 || c < 0x20 || c == 0x7f) { /* a control character would reach messages */
            free(out);
            return NULL;
        }
        *o++ = (char)c;
        i += 2;
    }
    *o = '\0';
    return out;
}

/* A decimal number of 1 to 10 digits in s[0..n), at most max; -1 when it is not one. */
static long parse_decimal(const char *s, size_t n, long max)
{
    if (n == 0 || n > 10) return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= max ? v : -1;
}

static int host_char_ok(char c, int ipv6)
{
    if (ipv6) return isxdigit((unsigned char)c) || c == ':' || c == '.';
    return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

/* HOST[:PORT] in s[0..n) into u; 0 or -1 with err. */
static int parse_host_port(const char *text, const char *s, size_t n, rs_redisurl_t *u,
                           rs_err_t *err)
{
    const char *host = s, *end = s + n, *host_end, *rest;
    int ipv6 = n > 0 && s[0] == '[';
    if (ipv6) {
        host = s + 1;
        host_end = memchr(host, ']', (size_t)(end - host));
        if (!host_end) return fail(err, text, "an IPv6 address needs its closing ']'");
        rest = host_end + 1;
        if (rest < end && *rest != ':')
            return fail(err, text, "expected ':PORT' or '/DB' after the IPv6 address");
    } else {
        host_end = memchr(host, ':', n);
        if (!host_end) host_end = end;
        rest = host_end;
        if (rest < end && memchr(rest + 1, ':', (size_t)(end - rest - 1)))
            return fail(err, text, "an IPv6 address must be written in brackets, like [::1]:6379");
    }
    if (host_end == host) return fail(err, text, "no host (expected " FORMS ")");
    for (const char *p = host; p < host_end; p++)
        if (!host_char_ok(*p, ipv6))
            return fail(err, text, ipv6 ? "the IPv6 address has a character that is not hex, ':' or '.'"
                                        : "the host name may hold only letters, digits, '-', '.' and '_'");
    u->host = rs_xstrndup(host, (size_t)(host_end - host));
    u->port = RS_REDIS_DEFAULT_PORT;
    if (rest < end) { /* ":PORT" */
        long port = parse_decimal(rest + 1, (size_t)(end - rest - 1), 65535);
        if (port < 1) return fail(err, text, "the port must be a number from 1 to 65535");
        u->port = (int)port;
    }
    return 0;
}

static int parse_tcp(const char *text, const char *rest, rs_redisurl_t *u, rs_err_t *err)
{
    /* The last '@' ends the user information: a host, port or db never holds one, and a
     * password that does must still be found (and refused) whole. */
    const char *at = strrchr(rest, '@');
    if (at) {
        if (memchr(rest, ':', (size_t)(at - rest)))
            return fail(err, text,
                        "a password in the address is refused (it would be stored with the run, "
                        "sent to workers and shown by ps): write redis://USER@HOST and put the "
                        "password in the environment variable REDIS_PASSWORD, or in the one "
                        "cluster.redis_password_env names");
        if (at == rest) return fail(err, text, "an empty user name before '@'");
        for (const char *p = rest; p < at; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                return fail(err, text, "a control character in the user name");
        u->user = percent_decode(rest, (size_t)(at - rest));
        if (!u->user) return fail(err, text, "a bad %-escape (or an escaped control character) in the user name");
        rest = at + 1;
    }
    if (strpbrk(rest, "?#"))
        return fail(err, text, "query parameters and fragments (?..., #...) are not supported");
    const char *slash = strchr(rest, '/');
    size_t hp_len = slash ? (size_t)(slash - rest) : strlen(rest);
    if (parse_host_port(text, rest, hp_len, u, err)) return -1;
    if (slash && slash[1]) {
        long db = parse_decimal(slash + 1, strlen(slash + 1), 2147483647L);
        if (db < 0) return fail(err, text, "the database after '/' must be a number (0, 1, ...)");
        u->db = (int)db;
    }
    return 0;
}

int rs_redisurl_parse(const char *text, rs_redisurl_t *out, rs_err_t *err)
{
    memset(out, 0, sizeof(*out));
    if (!text || !*text) return rs_err_set(err, "redis address is empty (expected " FORMS ")");
    int rc;
    if (strncmp(text, "unix:", 5) == 0) {
        const char *path = text + 5;
        while (path[0] == '/' && path[1] == '/') path++; /* unix:///run/x.sock */
        out->kind = RS_REDISURL_UNIX;
        rc = *path ? 0 : fail(err, text, "no socket path after 'unix:'");
        if (!rc) out->path = rs_xstrdup(path);
    } else if (strncasecmp(text, "redis://", 8) == 0) {
        out->kind = RS_REDISURL_TCP;
        rc = parse_tcp(text, text + 8, out, err);
    } else if (strncasecmp(text, "rediss://", 9) == 0) {
        out->kind = RS_REDISURL_TLS;
        rc = parse_tcp(text, text + 9, out, err);
    } else {
        rc = fail(err, text, "expected " FORMS);
    }
    if (rc) rs_redisurl_cleanup(out);
    return rc;
}

void rs_redisurl_cleanup(rs_redisurl_t *u)
{
    if (!u) return;
    free(u->user);
    free(u->host);
    free(u->path);
    memset(u, 0, sizeof(*u));
}

char *rs_redisurl_address(const rs_redisurl_t *u)
{
    if (u->kind == RS_REDISURL_UNIX) return rs_xstrdup(u->path ? u->path : "");
    if (u->host && strchr(u->host, ':')) return rs_xasprintf("[%s]:%d", u->host, u->port);
    return rs_xasprintf("%s:%d", u->host ? u->host : "", u->port);
}
