/* cache: the response cache's client — a hiredis async context with our own event hooks (the
 * engine polls its descriptor), lookups with GET, writes with one Lua script that keeps the cap. */
#include "cache.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "cachekey.h"
#include "log.h"
#include "redisurl.h"

/* Entries written but not answered yet (sent or queued); more are dropped (a cache may miss,
 * never block). */
#define PUTS_MAX 4096
/* Entries one call of the script writes at most. */
#define PUTS_PER_SCRIPT 64

/* Drops expired entries (up to 16 per entry written, so the byte count never keeps them long),
 * stores each entry that is not there yet, then evicts the entries nearest their expiry while
 * the stored bytes pass the cap. Redis's own clock (TIME) dates entries, so writers on machines
 * whose clocks disagree still agree on which entry expires first. One call writes a whole turn's
 * entries: the script's own cost (TIME, the byte count) is paid once a turn. */
const char WK_CACHE_PUT_SCRIPT[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local ttl, cap, prefix = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]\n"
    "local function drop(m)\n"
    "  local size = tonumber(redis.call('HGET', KEYS[2], m) or '0')\n"
    "  redis.call('HDEL', KEYS[2], m)\n"
    "  redis.call('ZREM', KEYS[1], m)\n"
    "  redis.call('DEL', prefix .. m)\n"
    "  redis.call('DECRBY', KEYS[3], size)\n"
    "end\n"
    "local sweep = 16 * (#KEYS - 3)\n"
    "for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, sweep)) do\n"
    "  drop(m)\n"
    "end\n"
    "local added, stored = 0, 0\n"
    "for i = 4, #KEYS do\n"
    "  local key, value = KEYS[i], ARGV[i]\n"
    "  local member = string.sub(key, string.len(prefix) + 1)\n"
    "  local size = string.len(value) + string.len(key)\n"
    "  if size <= cap and redis.call('EXISTS', key) == 0 then\n"
    "    if redis.call('ZSCORE', KEYS[1], member) then drop(member) end\n"
    "    redis.call('SET', key, value, 'PX', ttl)\n"
    "    redis.call('ZADD', KEYS[1], now + ttl, member)\n"
    "    redis.call('HSET', KEYS[2], member, size)\n"
    "    added, stored = added + size, stored + 1\n"
    "  end\n"
    "end\n"
    "if added == 0 then return 0 end\n"
    "local total = redis.call('INCRBY', KEYS[3], added)\n"
    "while total > cap do\n"
    "  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0)\n"
    "  if #oldest == 0 then break end\n"
    "  drop(oldest[1])\n"
    "  total = tonumber(redis.call('GET', KEYS[3]) or '0')\n"
    "end\n"
    "return stored\n";

/* An entry waiting for the end of the turn. */
typedef struct cache_put {
    char entry[sizeof(RS_CACHE_PREFIX) + RS_CACHEKEY_HEX]; /* rs:cache:<key> */
    rs_buf_t value;
} cache_put_t;

struct wk_cache {
    const rs_cache_cfg_t *cfg;
    redisAsyncContext *ac; /* NULL once closed or failed */
    char *where;           /* the address, for messages */
    int reading, writing;  /* what hiredis wants polled */
    int reads, writes;     /* lookups / writes still allowed */
    int closing;           /* in wk_cache_destroy: callbacks only free */
    int warned;
    int64_t ttl_ms, cap_bytes;
    char sha[41];          /* the script's SHA-1, for EVALSHA */
    size_t puts;           /* entries sent and not answered yet */
    cache_put_t *queued;   /* this turn's entries, sent by wk_cache_io in one script call */
    size_t n_queued, cap_queued;
};

struct wk_cache_get {
    wk_cache_t *c;
    wk_cache_cb cb; /* NULL once cancelled */
    void *ud;
};

/* ---- hiredis's event hooks: they only note what to poll ---- */

static void cache_ev_add_read(void *p)
{
    ((wk_cache_t *)p)->reading = 1;
}

static void cache_ev_del_read(void *p)
{
    ((wk_cache_t *)p)->reading = 0;
}

static void cache_ev_add_write(void *p)
{
    ((wk_cache_t *)p)->writing = 1;
}

static void cache_ev_del_write(void *p)
{
    ((wk_cache_t *)p)->writing = 0;
}

/* The context is being freed (by us, or by hiredis after an error; it is still readable here):
 * forget it. */
static void cache_ev_cleanup(void *p)
{
    wk_cache_t *c = p;
    char why[256];
    snprintf(why, sizeof(why), "%s", c->ac && c->ac->err && c->ac->errstr ? c->ac->errstr
                                                                          : "the connection ended");
    c->ac = NULL;
    c->reading = c->writing = 0;
    if (!c->closing) wk_cache_fail(c, why);
}

/* ---- life cycle ---- */

static void cache_script_sha(char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(WK_CACHE_PUT_SCRIPT, strlen(WK_CACHE_PUT_SCRIPT), md, &n, EVP_sha1(), NULL);
    rs_hex(md, n, out);
}

static void drop_puts(wk_cache_t *c)
{
    for (size_t i = 0; i < c->n_queued; i++) rs_buf_cleanup(&c->queued[i].value);
    c->n_queued = 0;
}

void wk_cache_fail(wk_cache_t *c, const char *why)
{
    if (!c) return;
    if (!c->warned && !c->closing)
        rs_warn("response cache at %s: %s; calling models without the cache", c->where, why);
    c->warned = 1;
    c->reads = c->writes = 0;
    drop_puts(c);
    if (c->ac) {
        redisAsyncContext *ac = c->ac;
        c->closing = 1; /* the lookups' NULL replies are misses, nothing more to log */
        redisAsyncFree(ac); /* deferred by hiredis when inside one of its callbacks */
        c->closing = 0;
    }
}

/* A reply that is an error (or none, when the connection went): the cache is given up. */
static int cache_reply_failed(wk_cache_t *c, const redisReply *r, const char *what)
{
    if (r && r->type != REDIS_REPLY_ERROR) return 0;
    if (!c->closing && r) {
        char why[256];
        snprintf(why, sizeof(why), "%s: %.200s", what, r->str ? r->str : "error");
        wk_cache_fail(c, why);
    }
    return 1;
}

static void cache_on_setup(redisAsyncContext *ac, void *reply, void *what)
{
    wk_cache_t *c = ac->data;
    cache_reply_failed(c, reply, what);
}

/* The login (ACL user and password from the environment), the database and the writer script,
 * queued before any lookup so that Redis runs them first. -1 with why when it cannot log in. */
static int cache_login(wk_cache_t *c, const rs_redisurl_t *u, const wk_envguard_t *env, char *why,
                 size_t size)
{
    const char *var = c->cfg->password_env;
    const char *pass = wk_envguard_getenv(env, var);
    if (u->user && !(pass && *pass)) {
        snprintf(why, size, "user %s needs its password in $%s, which is unset or not allowed "
                            "by this worker's --allow-env", u->user, var ? var : "?");
        return -1;
    }
    if (pass && *pass) {
        if (u->user)
            redisAsyncCommand(c->ac, cache_on_setup, (void *)"AUTH", "AUTH %s %s", u->user, pass);
        else
            redisAsyncCommand(c->ac, cache_on_setup, (void *)"AUTH", "AUTH %s", pass);
    }
    if (u->db) redisAsyncCommand(c->ac, cache_on_setup, (void *)"SELECT", "SELECT %d", u->db);
    redisAsyncCommand(c->ac, cache_on_setup, (void *)"SCRIPT LOAD", "SCRIPT LOAD %s",
                      WK_CACHE_PUT_SCRIPT);
    return 0;
}

static redisAsyncContext *cache_connect(const rs_redisurl_t *u)
{
    if (u->kind == RS_REDISURL_UNIX) return redisAsyncConnectUnix(u->path);
    return redisAsyncConnect(u->host, u->port);
}

wk_cache_t *wk_cache_new(const rs_cache_cfg_t *cfg, const wk_envguard_t *env)
{
    if (!cfg || cfg->mode == RS_CACHE_OFF || !cfg->redis) return NULL;
    rs_redisurl_t u;
    rs_err_t err;
    char *shown = rs_redisurl_redact(cfg->redis);
    if (rs_redisurl_parse(cfg->redis, &u, &err) != 0 || u.kind == RS_REDISURL_TLS) {
        rs_warn("response cache at %s: %s; calling models without the cache", shown,
                u.kind == RS_REDISURL_TLS ? "rediss:// is not supported" : err.msg);
        rs_redisurl_cleanup(&u);
        free(shown);
        return NULL;
    }
    wk_cache_t *c = rs_xcalloc(1, sizeof(*c));
    c->cfg = cfg;
    c->where = shown;
    c->reads = cfg->mode == RS_CACHE_READ || cfg->mode == RS_CACHE_READ_WRITE;
    c->writes = cfg->mode == RS_CACHE_WRITE || cfg->mode == RS_CACHE_READ_WRITE;
    c->ttl_ms = (int64_t)(cfg->ttl_days * 86400000.0);
    if (c->ttl_ms < 1) c->ttl_ms = 1;
    c->cap_bytes = (int64_t)(cfg->max_mb * 1048576.0);
    cache_script_sha(c->sha);
    char why[256] = "";
    c->ac = cache_connect(&u);
    if (!c->ac || c->ac->err) {
        snprintf(why, sizeof(why), "cannot connect: %s",
                 c->ac ? c->ac->errstr : "out of memory");
        if (c->ac) redisAsyncFree(c->ac);
        c->ac = NULL;
    } else {
        c->ac->data = c;
        c->ac->ev.data = c;
        c->ac->ev.addRead = cache_ev_add_read;
        c->ac->ev.delRead = cache_ev_del_read;
        c->ac->ev.addWrite = cache_ev_add_write;
        c->ac->ev.delWrite = cache_ev_del_write;
        c->ac->ev.cleanup = cache_ev_cleanup;
        /* hiredis asked for write readiness before the hooks were set: connecting needs it */
        c->writing = 1;
        cache_login(c, &u, env, why, sizeof(why));
    }
    rs_redisurl_cleanup(&u);
    if (why[0]) wk_cache_fail(c, why);
    else rs_debug("response cache at %s, mode %s", c->where, rs_cache_mode_name(cfg->mode));
    return c;
}

void wk_cache_destroy(wk_cache_t **cp)
{
    if (!cp || !*cp) return;
    wk_cache_t *c = *cp;
    c->closing = 1;
    drop_puts(c);
    if (c->ac) redisAsyncFree(c->ac);
    free(c->queued);
    free(c->where);
    free(c);
    *cp = NULL;
}

int wk_cache_reads(const wk_cache_t *c)
{
    return c && c->ac && c->reads;
}

int wk_cache_writes(const wk_cache_t *c)
{
    return c && c->ac && c->writes;
}

int wk_cache_writing(const wk_cache_t *c)
{
    return c && c->ac && c->puts + c->n_queued > 0;
}

int wk_cache_fd(const wk_cache_t *c, short *events)
{
    *events = 0;
    if (!c || !c->ac) return -1;
    if (c->reading) *events |= POLLIN;
    if (c->writing || c->n_queued) *events |= POLLOUT; /* queued entries: send them */
    return c->ac->c.fd;
}

/* ---- lookups ---- */

static void cache_on_get(redisAsyncContext *ac, void *reply, void *priv)
{
    wk_cache_get_t *g = priv;
    wk_cache_t *c = ac->data;
    const redisReply *r = reply;
    const char *body = NULL;
    size_t len = 0;
    int64_t stored;
    if (!cache_reply_failed(c, r, "lookup") && r->type == REDIS_REPLY_STRING &&
        rs_cache_entry_decode(r->str, r->len, &body, &len, &stored) != 0)
        body = NULL; /* not an entry of ours: a miss, and the next write replaces it */
    if (g->cb) g->cb(g->ud, body, len);
    free(g);
}

wk_cache_get_t *wk_cache_get(wk_cache_t *c, const char *key, wk_cache_cb cb, void *ud)
{
    if (!wk_cache_reads(c)) return NULL;
    wk_cache_get_t *g = rs_xcalloc(1, sizeof(*g));
    *g = (wk_cache_get_t){c, cb, ud};
    if (redisAsyncCommand(c->ac, cache_on_get, g, "GET " RS_CACHE_PREFIX "%s", key) != REDIS_OK) {
        free(g);
        return NULL;
    }
    return g;
}

void wk_cache_get_cancel(wk_cache_get_t *g)
{
    if (g) g->cb = NULL; /* freed when its reply (or the connection's end) comes */
}

/* ---- writes ---- */

static void cache_on_put(redisAsyncContext *ac, void *reply, void *priv)
{
    wk_cache_t *c = ac->data;
    const redisReply *r = reply;
    c->puts -= (size_t)(uintptr_t)priv;
    if (!r || r->type != REDIS_REPLY_ERROR || c->closing) return;
    if (strncmp(r->str, "NOSCRIPT", 8) == 0) { /* a SCRIPT FLUSH since we connected */
        redisAsyncCommand(c->ac, cache_on_setup, (void *)"SCRIPT LOAD", "SCRIPT LOAD %s",
                          WK_CACHE_PUT_SCRIPT);
        return;
    }
    if (c->writes && !c->warned)
        rs_warn("response cache at %s: a write failed: %.200s; no more writes", c->where, r->str);
    c->writes = 0; /* lookups go on: a full or read-only cache still answers */
}

void wk_cache_put(wk_cache_t *c, const char *key, const char *body, size_t len)
{
    if (!wk_cache_writes(c) || len > RS_CACHE_ENTRY_MAX || c->puts + c->n_queued >= PUTS_MAX)
        return;
    if (c->n_queued == c->cap_queued) {
        c->cap_queued = c->cap_queued ? 2 * c->cap_queued : 16;
        c->queued = rs_xrealloc(c->queued, c->cap_queued * sizeof(*c->queued));
    }
    cache_put_t *p = &c->queued[c->n_queued++];
    snprintf(p->entry, sizeof(p->entry), RS_CACHE_PREFIX "%s", key);
    rs_buf_init(&p->value);
    rs_cache_entry_encode(&p->value, rs_wall_ms(), body, len);
}

/* Sends the queued entries, PUTS_PER_SCRIPT to a call of the script: KEYS index, sizes, bytes,
 * then the entries' keys; ARGV ttl, cap, prefix, then their values in the same places. */
static void send_puts(wk_cache_t *c)
{
    enum { FIXED = 9 }; /* EVALSHA sha numkeys, 3 keys, 3 arguments */
    char ttl[24], cap[24], nkeys[24];
    snprintf(ttl, sizeof(ttl), "%lld", (long long)c->ttl_ms);
    snprintf(cap, sizeof(cap), "%lld", (long long)c->cap_bytes);
    for (size_t i = 0; i < c->n_queued && c->ac && c->writes;) {
        size_t n = c->n_queued - i < PUTS_PER_SCRIPT ? c->n_queued - i : PUTS_PER_SCRIPT;
        const char *argv[FIXED + 2 * PUTS_PER_SCRIPT];
        size_t lens[FIXED + 2 * PUTS_PER_SCRIPT];
        snprintf(nkeys, sizeof(nkeys), "%zu", 3 + n);
        const char *head[] = {"EVALSHA", c->sha, nkeys, RS_CACHE_PREFIX "index",
                              RS_CACHE_PREFIX "sizes", RS_CACHE_PREFIX "bytes"};
        for (size_t k = 0; k < 6; k++) argv[k] = head[k];
        for (size_t k = 0; k < n; k++) argv[6 + k] = c->queued[i + k].entry;
        argv[6 + n] = ttl;
        argv[7 + n] = cap;
        argv[8 + n] = RS_CACHE_PREFIX;
        for (size_t k = 0; k < 9 + n; k++) lens[k] = strlen(argv[k]);
        for (size_t k = 0; k < n; k++) {
            argv[9 + n + k] = c->queued[i + k].value.data;
            lens[9 + n + k] = c->queued[i + k].value.len;
        }
        if (redisAsyncCommandArgv(c->ac, cache_on_put, (void *)(uintptr_t)n, (int)(9 + 2 * n),
                                  argv, lens) == REDIS_OK)
            c->puts += n;
        i += n;
    }
    drop_puts(c);
}

/* ---- the turn ---- */

void wk_cache_io(wk_cache_t *c, short revents)
{
    if (c && c->ac && (revents & POLLIN)) redisAsyncHandleRead(c->ac); /* may end the context */
    if (c && c->ac) send_puts(c);
    /* once connected, what was queued goes out now rather than after another poll */
    if (c && c->ac && c->writing &&
        ((revents & POLLOUT) || (c->ac->c.flags & REDIS_CONNECTED)))
        redisAsyncHandleWrite(c->ac);
}
