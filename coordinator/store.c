/* store: hiredis connection, manifest hash, the once-only result writer and result readers. */
#include "store.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "recpack.h"
#include "record.h"
#include "redisurl.h"
#include "tlsproxy.h"

/* What the store knows of its run's record dictionary (rs:run:<id>:dict, recpack.h). */
typedef enum pack_state {
    PACK_UNKNOWN, /* not looked up in Redis yet */
    PACK_NONE,    /* none stored: the writer collects the first records to train one */
    PACK_READY,   /* loaded or trained: records are written packed */
    PACK_OFF      /* training failed, or the stored one is unusable: records are written as JSON */
} pack_state_t;

struct coord_store {
    redisContext *c; /* NULL while Redis is unreachable; the next call tries to reconnect */
    char *url;       /* as given, for messages: it never holds a password (redisurl refuses one) */
    rs_redisurl_t addr;
    char *password_env;    /* NULL: no AUTH */
    coord_tlsproxy_t *tls; /* rediss://: the local stunnel client hiredis connects through */
    int tls_borrowed;      /* a subscriber's: the store it was made from owns tls */
    char sha[41];          /* SHA1 of the loaded result script */
    /* The record dictionary of one run, the last one read or written: a coordinator writes one
     * run, and the commands that read several (compare) read them one after the other. */
    char *pack_run;                   /* NULL: none yet */
    pack_state_t pack_state;
    coord_recpack_t *pack;            /* PACK_READY only */
    coord_recpack_samples_t *samples; /* PACK_NONE, once the writer stored a record */
};

/* Stores each (idx, failed, json) triple whose idx has no record yet and counts only those, in one
 * atomic step: a result that arrives twice (an expired lease's late answer, or twice in one batch)
 * changes nothing, as HSETNX would. The fields are looked up with one HMGET and the new ones stored
 * with one HSET per chunk of CHUNK triples (Lua's unpack has a stack limit, and a batch held while
 * Redis was away can be large): an HSETNX per record cost redis-server a tenth more CPU, each one
 * a command of its own through Lua and the AOF. A batch of packed records (ARGV[3] = '1') is refused
 * with NODICT while the run's dictionary (KEYS[3]) is not stored, so that no record is ever stored
 * that cannot be read (PTTL is -2 for a missing key; it is one of the commands the ACL of
 * docs/REDIS.md allows already, EXISTS is not). */
static const char RESULT_SCRIPT[] =
    "if ARGV[3] == '1' and redis.call('PTTL', KEYS[3]) == -2 then\n"
    "  return redis.error_reply('NODICT the record dictionary of the run is not stored')\n"
    "end\n"
    "local added, failed, seen, CHUNK = 0, 0, {}, 1000\n"
    "if ARGV[2] ~= '0' then redis.call('HINCRBY', KEYS[2], 'dispatched', ARGV[2]) end\n"
    "for first = 4, #ARGV, 3 * CHUNK do\n"
    "  local last = math.min(#ARGV, first + 3 * CHUNK - 1)\n"
    "  local fields = {}\n"
    "  for i = first, last, 3 do fields[#fields + 1] = ARGV[i] end\n"
    "  local have, put = redis.call('HMGET', KEYS[1], unpack(fields)), {}\n"
    "  for j = 1, #fields do\n"
    "    local i = first + 3 * (j - 1)\n"
    "    if not have[j] and not seen[ARGV[i]] then\n"
    "      seen[ARGV[i]] = true\n"
    "      put[#put + 1] = ARGV[i]\n"
    "      put[#put + 1] = ARGV[i + 2]\n"
    "      added = added + 1\n"
    "      if ARGV[i + 1] == '1' then failed = failed + 1 end\n"
    "    end\n"
    "  end\n"
    "  if #put > 0 then redis.call('HSET', KEYS[1], unpack(put)) end\n"
    "end\n"
    "if added > 0 then redis.call('HINCRBY', KEYS[2], 'done', added) end\n"
    "if failed > 0 then redis.call('HINCRBY', KEYS[2], 'failed', failed) end\n"
    "redis.call('HSET', KEYS[2], 'updated_at', ARGV[1])\n"
    "return {added, failed}\n";

/* What to do about an error reply that an operator can fix. */
static const char *hint(const char *reply)
{
    if (strncmp(reply, "NOAUTH", 6) == 0)
        return " (the server wants a password: put it in the environment variable that "
               "cluster.redis_password_env names, REDIS_PASSWORD by default)";
    if (strncmp(reply, "NOPERM", 6) == 0)
        return " (the ACL user lacks a permission the coordinator needs: see the ACL rules in "
               "docs/REDIS.md)";
    return "";
}

static int reply_error(redisContext *c, redisReply *r, const char *what, rs_err_t *err)
{
    if (!r) return rs_err_set(err, "redis: %s: %s", what, c && c->errstr[0] ? c->errstr : "no reply");
    if (r->type == REDIS_REPLY_ERROR) {
        rs_err_set(err, "redis: %s: %s%s", what, r->str, hint(r->str));
        freeReplyObject(r);
        return -1;
    }
    return 0;
}

static redisContext *connect_addr(coord_store_t *st, rs_err_t *err)
{
    struct timeval tv = {5, 0};
    redisContext *c;
    if (st->tls) {
        if (coord_tlsproxy_ensure(st->tls, err)) return NULL;
        coord_tlsproxy_mark(st->tls);
        c = redisConnectUnixWithTimeout(coord_tlsproxy_socket(st->tls), tv);
    } else if (st->addr.kind == RS_REDISURL_UNIX) {
        c = redisConnectUnixWithTimeout(st->addr.path, tv);
    } else {
        c = redisConnectWithTimeout(st->addr.host, st->addr.port, tv);
    }
    if (!c || c->err) {
        rs_err_set(err, "cannot connect to redis at %s: %s", st->url, c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return NULL;
    }
    return c;
}

/* AUTH with the password from the environment, as the address's user when it names one. Without
 * a user and a password nothing is sent (a server without a password). */
static int authenticate(coord_store_t *st, rs_err_t *err)
{
    if (!st->password_env) return 0;
    const char *pass = getenv(st->password_env), *user = st->addr.user;
    if (!user && (!pass || !*pass)) return 0;
    const char *argv[3] = {"AUTH"};
    int argc = 1;
    if (user) argv[argc++] = user;
    argv[argc++] = pass ? pass : ""; /* a user without a password ("nopass") takes any */
    redisReply *r = redisCommandArgv(st->c, argc, argv, NULL);
    if (!r) return reply_error(st->c, r, "AUTH", err);
    if (r->type != REDIS_REPLY_ERROR) {
        freeReplyObject(r);
        return 0;
    }
    /* A server's reply never quotes the password, but a message must not depend on that. */
    const char *said = pass && *pass && strstr(r->str, pass) ? "refused" : r->str;
    rs_err_set(err, "AUTH as %s%s%s failed: %s (the password is read from $%s%s)",
               user ? "user '" : "the default user", user ? user : "", user ? "'" : "", said,
               st->password_env, pass && *pass ? "" : ", which is not set");
    freeReplyObject(r);
    return -1;
}

static int select_db(coord_store_t *st, rs_err_t *err)
{
    if (st->addr.kind == RS_REDISURL_UNIX || st->addr.db == 0) return 0;
    redisReply *r = redisCommand(st->c, "SELECT %d", st->addr.db);
    if (reply_error(st->c, r, "SELECT", err)) return -1;
    freeReplyObject(r);
    return 0;
}

static int load_script(coord_store_t *st, rs_err_t *err)
{
    redisReply *r = redisCommand(st->c, "SCRIPT LOAD %s", RESULT_SCRIPT);
    if (reply_error(st->c, r, "SCRIPT LOAD", err)) return -1;
    snprintf(st->sha, sizeof(st->sha), "%s", r->str ? r->str : "");
    freeReplyObject(r);
    return 0;
}

static int open_connection(coord_store_t *st, rs_err_t *err)
{
    redisContext *c = connect_addr(st, err);
    if (!c) return -1;
    struct timeval tv = {30, 0};
    redisSetTimeout(c, tv);
    st->c = c;
    rs_err_t e;
    if (authenticate(st, &e) || select_db(st, &e) || load_script(st, &e)) {
        /* Through TLS, a connection that closed without a reply is a handshake stunnel refused
         * (or a server it could not reach): its log says which. */
        char *why = st->tls && st->c->err ? coord_tlsproxy_error(st->tls) : NULL;
        if (why)
            rs_err_set(err, "TLS connection to redis at %s failed; stunnel logged: %s", st->url,
                       why);
        else
            rs_err_set(err, "redis at %s: %s", st->url,
                       strncmp(e.msg, "redis: ", 7) == 0 ? e.msg + 7 : e.msg);
        free(why);
        redisFree(st->c);
        st->c = NULL;
        return -1;
    }
    return 0;
}

/* After an I/O error the connection is useless (hiredis contexts do not recover): drop it, and
 * the next call reconnects. Protocol errors (an error reply) keep the connection. */
static redisReply *checked(coord_store_t *st, redisReply *r)
{
    if (!r && st->c) {
        redisFree(st->c);
        st->c = NULL;
    }
    return r;
}

static int ready(coord_store_t *st, rs_err_t *err)
{
    return st->c ? 0 : open_connection(st, err);
}

coord_store_t *coord_store_open(const coord_store_opts_t *o, rs_err_t *err)
{
    coord_store_t *st = rs_xcalloc(1, sizeof(*st));
    if (rs_redisurl_parse(o->url, &st->addr, err)) {
        free(st);
        return NULL;
    }
    st->url = rs_xstrdup(o->url);
    st->password_env = o->password_env ? rs_xstrdup(o->password_env) : NULL;
    if (st->addr.kind == RS_REDISURL_TLS) {
        coord_tlsproxy_opts_t t = {st->addr.host, st->addr.port, o->ca_file, o->cert_file,
                                   o->key_file, o->dir};
        st->tls = coord_tlsproxy_start(&t, err);
        if (!st->tls) rs_err_prefix(err, "redis at %s", st->url);
    }
    if ((st->addr.kind == RS_REDISURL_TLS && !st->tls) || open_connection(st, err)) {
        coord_store_destroy(&st);
        return NULL;
    }
    return st;
}

coord_store_t *coord_store_connect(const char *url, rs_err_t *err)
{
    coord_store_opts_t o = {.url = url};
    return coord_store_open(&o, err);
}

void coord_store_destroy(coord_store_t **st)
{
    if (!st || !*st) return;
    if ((*st)->c) redisFree((*st)->c);
    if (!(*st)->tls_borrowed) coord_tlsproxy_stop(&(*st)->tls);
    rs_redisurl_cleanup(&(*st)->addr);
    coord_recpack_destroy(&(*st)->pack);
    coord_recpack_samples_destroy(&(*st)->samples);
    free((*st)->pack_run);
    free((*st)->password_env);
    free((*st)->url);
    free(*st);
    *st = NULL;
}

/* A command with printf-style arguments, reconnecting first if needed. */
static redisReply *command(coord_store_t *st, rs_err_t *err, const char *fmt, ...)
{
    if (ready(st, err)) return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = checked(st, redisvCommand(st->c, fmt, ap));
    va_end(ap);
    return r;
}

static redisReply *command_argv(coord_store_t *st, rs_err_t *err, int argc, const char **argv,
                                const size_t *lens)
{
    if (ready(st, err)) return NULL;
    return checked(st, redisCommandArgv(st->c, argc, argv, lens));
}

static char *run_key(const char *run_id, const char *suffix)
{
    return rs_xasprintf("rs:run:%s%s", run_id, suffix);
}

int coord_store_run_create(coord_store_t *st, const char *run_id, json_t *manifest, rs_err_t *err)
{
    size_t n = json_object_size(manifest);
    const char **argv = rs_xcalloc(2 + 2 * n, sizeof(char *));
    char **owned = rs_xcalloc(n, sizeof(char *));
    char *key = run_key(run_id, "");
    argv[0] = "HSET";
    argv[1] = key;
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(manifest, k, v) {
        argv[2 + 2 * i] = k;
        if (json_is_string(v)) owned[i] = rs_xstrdup(json_string_value(v));
        else owned[i] = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        argv[3 + 2 * i] = owned[i];
        i++;
    }
    redisReply *r = command_argv(st, err, (int)(2 + 2 * n), argv, NULL);
    int rc = reply_error(st->c, r, "HSET manifest", err);
    if (!rc) freeReplyObject(r);
    for (i = 0; i < n; i++) free(owned[i]);
    free(owned);
    free(argv);
    free(key);
    if (rc) return -1;
    r = command(st, err, "ZADD rs:runs %lld %s", (long long)rs_wall_ms(), run_id);
    if (reply_error(st->c, r, "ZADD rs:runs", err)) return -1;
    freeReplyObject(r);
    return 0;
}

int coord_store_run_set(coord_store_t *st, const char *run_id, const char *field,
                        const char *value, rs_err_t *err)
{
    char *key = run_key(run_id, "");
    redisReply *r = command(st, err, "HSET %s %s %s", key, field, value);
    free(key);
    if (reply_error(st->c, r, "HSET", err)) return -1;
    freeReplyObject(r);
    return 0;
}

json_t *coord_store_run_get(coord_store_t *st, const char *run_id, rs_err_t *err)
{
    char *key = run_key(run_id, "");
    redisReply *r = command(st, err, "HGETALL %s", key);
    free(key);
    if (reply_error(st->c, r, "HGETALL", err)) return NULL;
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        freeReplyObject(r);
        rs_err_set(err, "no run '%s' in this Redis", run_id);
        return NULL;
    }
    json_t *obj = json_object();
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        json_object_set_new(obj, r->element[i]->str, json_stringn(r->element[i + 1]->str,
                                                                  r->element[i + 1]->len));
    freeReplyObject(r);
    return obj;
}

char *coord_store_latest_run(coord_store_t *st, rs_err_t *err)
{
    redisReply *r = command(st, err, "ZREVRANGE rs:runs 0 0");
    if (reply_error(st->c, r, "ZREVRANGE", err)) return NULL;
    char *id = NULL;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) id = rs_xstrdup(r->element[0]->str);
    else rs_err_set(err, "no runs recorded in this Redis");
    freeReplyObject(r);
    return id;
}

json_t *coord_store_runs(coord_store_t *st, size_t max, rs_err_t *err)
{
    redisReply *r = command(st, err, "ZREVRANGE rs:runs 0 %lld", (long long)max - 1);
    if (reply_error(st->c, r, "ZREVRANGE", err)) return NULL;
    json_t *ids = json_array();
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING)
            json_array_append_new(ids, json_stringn(r->element[i]->str, r->element[i]->len));
    freeReplyObject(r);
    return ids;
}

/* ---- the record dictionary (recpack.h) ---- */

/* Points the dictionary state at run_id, forgetting another run's. */
static void pack_select(coord_store_t *st, const char *run_id)
{
    if (st->pack_run && strcmp(st->pack_run, run_id) == 0) return;
    free(st->pack_run);
    st->pack_run = rs_xstrdup(run_id);
    st->pack_state = PACK_UNKNOWN;
    coord_recpack_destroy(&st->pack);
    coord_recpack_samples_destroy(&st->samples);
}

/* Loads the run's stored dictionary: 0 when it is loaded (PACK_READY), absent (PACK_NONE, samples
 * kept) or unusable (PACK_OFF, warned: its packed records read as damaged); -1 with err when
 * Redis could not be asked, so that no reader takes a record for damaged on a lost connection. */
static int pack_load(coord_store_t *st, const char *run_id, rs_err_t *err)
{
    char *key = run_key(run_id, ":dict");
    redisReply *r = command(st, err, "GET %s", key);
    free(key);
    if (reply_error(st->c, r, "GET dictionary", err)) return -1;
    if (r->type == REDIS_REPLY_STRING) {
        rs_err_t why;
        coord_recpack_t *p = coord_recpack_new(r->str, r->len, &why);
        coord_recpack_destroy(&st->pack);
        coord_recpack_samples_destroy(&st->samples);
        if (!p && st->pack_state != PACK_OFF)
            rs_warn("run %s: %s; its packed records cannot be read", run_id, why.msg);
        st->pack = p;
        st->pack_state = p ? PACK_READY : PACK_OFF;
    } else if (st->pack_state != PACK_READY) {
        st->pack_state = PACK_NONE;
    }
    freeReplyObject(r);
    return 0;
}

/* Stores the trained dictionary once (SET NX). When one is stored already (written by another
 * coordinator of the run), that one is used instead. 0 / -1. */
static int pack_put(coord_store_t *st, const char *run_id, rs_err_t *err)
{
    size_t len;
    const char *dict = coord_recpack_dict(st->pack, &len);
    char *key = run_key(run_id, ":dict");
    const char *argv[] = {"SET", key, dict, "NX"};
    size_t lens[] = {3, strlen(key), len, 2};
    redisReply *r = command_argv(st, err, 4, argv, lens);
    free(key);
    if (reply_error(st->c, r, "SET dictionary", err)) return -1;
    int taken = r->type == REDIS_REPLY_NIL;
    freeReplyObject(r);
    return taken ? pack_load(st, run_id, err) : 0;
}

/* After a write while no dictionary exists: keeps the records as samples and, once they are
 * enough, trains the dictionary and stores it; the next batch is written packed. A failed
 * training leaves the run's records as JSON. */
static void pack_learn(coord_store_t *st, const char *run_id, const rs_case_result_t *cases,
                       size_t n)
{
    if (!st->samples) st->samples = coord_recpack_samples_new();
    int full = 0;
    for (size_t i = 0; i < n && !full; i++)
        full = coord_recpack_samples_add(st->samples, cases[i].json, cases[i].json_len);
    if (!full) return;
    double t0 = rs_mono_sec();
    char *dict = NULL;
    size_t len = 0;
    rs_err_t err;
    coord_recpack_t *p = NULL;
    if (coord_recpack_train(st->samples, &dict, &len, &err) == 0)
        p = coord_recpack_new(dict, len, &err);
    if (!p) {
        rs_warn("run %s: records are stored uncompressed: %s", run_id, err.msg);
        st->pack_state = PACK_OFF;
    } else {
        rs_info("records are stored packed from now on: a zstd dictionary of %zu bytes made from "
                "the first %zu in %.1f ms", len, coord_recpack_samples_count(st->samples),
                (rs_mono_sec() - t0) * 1e3);
        st->pack = p;
        st->pack_state = PACK_READY;
        /* If this fails, the next packed batch is refused with NODICT and puts it again. */
        if (pack_put(st, run_id, &err)) rs_debug("run %s: %s", run_id, err.msg);
    }
    free(dict);
    coord_recpack_samples_destroy(&st->samples);
}

/* The stored value of case idx as its readers take it (record.h): a packed one unpacked (heap, in
 * *out), fetching the run's dictionary on first need (*looked: once per call); 0 with *out NULL
 * when the value is not packed. -1 with err when the dictionary could not be fetched. */
static int unpacked(coord_store_t *st, const char *run_id, uint64_t idx, const char *value,
                    size_t len, int *looked, char **out, size_t *out_len, rs_err_t *err)
{
    *out = NULL;
    if (!coord_recpack_is_packed(value, len)) return 0;
    pack_select(st, run_id);
    if (!st->pack && st->pack_state != PACK_OFF && !*looked) {
        *looked = 1;
        if (pack_load(st, run_id, err)) return -1;
    }
    rs_err_t why;
    if (coord_recpack_unpack(st->pack, value, len, out, out_len, &why))
        rs_warn("case %llu: %s", (unsigned long long)idx, why.msg);
    return 0;
}

static redisReply *eval_results(coord_store_t *st, const char **argv, size_t *lens, int argc,
                                rs_err_t *err)
{
    if (ready(st, err)) return NULL; /* reconnecting reloads the script, so sha is set first */
    argv[1] = st->sha;
    lens[1] = strlen(st->sha);
    return command_argv(st, err, argc, argv, lens);
}

int coord_store_results_add(coord_store_t *st, const char *run_id, const rs_case_result_t *cases,
                            size_t n, uint64_t dispatched, uint64_t *added, uint64_t *added_failed,
                            rs_err_t *err)
{
    pack_select(st, run_id);
    if (n > 0 && st->pack_state == PACK_UNKNOWN && pack_load(st, run_id, err)) return -1;
    /* The records that fill the samples are packed already: a batch can be large (the results
     * that came while the last write was under way), and all of it would be stored unpacked. */
    if (n > 0 && st->pack_state == PACK_NONE) pack_learn(st, run_id, cases, n);
    int packed = st->pack_state == PACK_READY;
    enum { FIXED = 9 };
    int argc = (int)(FIXED + 3 * n);
    const char **argv = rs_xmalloc((size_t)argc * sizeof(char *));
    size_t *lens = rs_xmalloc((size_t)argc * sizeof(size_t));
    char *idx_text = rs_xmalloc(n * 24 + 1);
    char **wrapped = rs_xcalloc(n + 1, sizeof(char *));
    char *k1 = run_key(run_id, ":results"), *k2 = run_key(run_id, "");
    char *k3 = run_key(run_id, ":dict");
    char now[24], disp[24];
    snprintf(now, sizeof(now), "%lld", (long long)rs_wall_ms());
    snprintf(disp, sizeof(disp), "%llu", (unsigned long long)dispatched);
    const char *fixed[FIXED] = {"EVALSHA", "", "3", k1, k2, k3, now, disp, packed ? "1" : "0"};
    for (int i = 0; i < FIXED; i++) argv[i] = fixed[i], lens[i] = strlen(fixed[i]);
    for (size_t i = 0; i < n; i++) {
        char *t = idx_text + 24 * i;
        lens[FIXED + 3 * i] = (size_t)snprintf(t, 24, "%llu", (unsigned long long)cases[i].idx);
        argv[FIXED + 3 * i] = t;
        argv[FIXED + 1 + 3 * i] = cases[i].failed ? "1" : "0";
        lens[FIXED + 1 + 3 * i] = 1;
        /* Each record is stored behind its checksum (record.h, recpack.h), so damage is found on
         * reading. */
        wrapped[i] = packed ? coord_recpack_pack(st->pack, cases[i].json, cases[i].json_len,
                                                 &lens[FIXED + 2 + 3 * i])
                            : coord_record_wrap(cases[i].json, cases[i].json_len,
                                                &lens[FIXED + 2 + 3 * i]);
        argv[FIXED + 2 + 3 * i] = wrapped[i];
    }
    redisReply *r = eval_results(st, argv, lens, argc, err);
    int fixed_up = 0;
    for (int retry = 0; retry < 2 && r && r->type == REDIS_REPLY_ERROR; retry++) {
        /* Redis restarted and lost its script cache (NOSCRIPT: load it again), or its data and
         * with it the dictionary (NODICT: store it again); then retry. */
        int noscript = strncmp(r->str, "NOSCRIPT", 8) == 0;
        if (!noscript && strncmp(r->str, "NODICT", 6) != 0) break;
        freeReplyObject(r);
        uint32_t id = packed ? coord_recpack_dict_id(st->pack) : 0;
        fixed_up = noscript ? load_script(st, err) : pack_put(st, run_id, err);
        if (fixed_up == 0 && !noscript && (!st->pack || coord_recpack_dict_id(st->pack) != id))
            /* Another dictionary was stored meanwhile: the caller's retry packs with it. */
            fixed_up = rs_err_set(err, "the run's record dictionary changed; writing again");
        r = fixed_up == 0 ? eval_results(st, argv, lens, argc, err) : NULL;
    }
    int rc = fixed_up ? -1 : reply_error(st->c, r, "writing results", err);
    if (!rc) {
        *added = r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? (uint64_t)r->element[0]->integer : 0;
        *added_failed = r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? (uint64_t)r->element[1]->integer : 0;
        freeReplyObject(r);
    }
    free(argv);
    free(lens);
    free(idx_text);
    for (size_t i = 0; i < n; i++) free(wrapped[i]);
    free(wrapped);
    free(k1);
    free(k2);
    free(k3);
    return rc;
}

int coord_store_results_get(coord_store_t *st, const char *run_id, uint64_t first, size_t n,
                            char **out, rs_err_t *err)
{
    const char **argv = rs_xmalloc((n + 2) * sizeof(char *));
    char *idx_text = rs_xmalloc(n * 24 + 1);
    char *key = run_key(run_id, ":results");
    argv[0] = "HMGET";
    argv[1] = key;
    for (size_t i = 0; i < n; i++) {
        snprintf(idx_text + 24 * i, 24, "%llu", (unsigned long long)(first + i));
        argv[2 + i] = idx_text + 24 * i;
    }
    redisReply *r = command_argv(st, err, (int)(n + 2), argv, NULL);
    free(argv);
    free(idx_text);
    free(key);
    if (reply_error(st->c, r, "HMGET results", err)) return -1;
    int looked = 0, rc = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *e = i < r->elements ? r->element[i] : NULL;
        out[i] = NULL;
        if (!e || e->type != REDIS_REPLY_STRING || rc) continue;
        size_t len;
        rc = unpacked(st, run_id, first + i, e->str, e->len, &looked, &out[i], &len, err);
        if (!out[i] && !rc) out[i] = rs_xstrndup(e->str, e->len);
    }
    freeReplyObject(r);
    if (rc)
        for (size_t i = 0; i < n; i++) free(out[i]), out[i] = NULL;
    return rc;
}

int coord_store_results_scan(coord_store_t *st, const char *run_id, coord_scan_fn fn, void *arg,
                             rs_err_t *err)
{
    char *key = run_key(run_id, ":results");
    char cursor[32] = "0";
    int rc = 0, looked = 0;
    do {
        redisReply *r = command(st, err, "HSCAN %s %s COUNT 1000", key, cursor);
        if ((rc = reply_error(st->c, r, "HSCAN", err))) break;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            freeReplyObject(r);
            rc = rs_err_set(err, "redis: HSCAN: unexpected reply");
            break;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        redisReply *items = r->element[1];
        for (size_t i = 0; rc == 0 && i + 1 < items->elements; i += 2) {
            redisReply *v = items->element[i + 1];
            uint64_t idx = strtoull(items->element[i]->str, NULL, 10);
            const char *value = v->type == REDIS_REPLY_STRING ? v->str : "";
            size_t len = v->type == REDIS_REPLY_STRING ? v->len : 0;
            char *text;
            rc = unpacked(st, run_id, idx, value, len, &looked, &text, &len, err);
            if (rc == 0) fn(idx, text ? text : value, len, arg);
            free(text);
        }
        freeReplyObject(r);
    } while (rc == 0 && strcmp(cursor, "0") != 0);
    free(key);
    return rc;
}

/* Deletes the named results and sets "done" to what is left, in one step. */
static const char DELETE_SCRIPT[] =
    "for i = 1, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end\n"
    "redis.call('HSET', KEYS[2], 'done', redis.call('HLEN', KEYS[1]))\n"
    "return 0\n";

int coord_store_results_del(coord_store_t *st, const char *run_id, const uint64_t *idx, size_t n,
                            rs_err_t *err)
{
    int argc = (int)(5 + n);
    const char **argv = rs_xmalloc((size_t)argc * sizeof(char *));
    char *idx_text = rs_xmalloc(n * 24 + 1);
    char *k1 = run_key(run_id, ":results"), *k2 = run_key(run_id, "");
    const char *fixed[] = {"EVAL", DELETE_SCRIPT, "2", k1, k2};
    for (int i = 0; i < 5; i++) argv[i] = fixed[i];
    for (size_t i = 0; i < n; i++) {
        snprintf(idx_text + 24 * i, 24, "%llu", (unsigned long long)idx[i]);
        argv[5 + i] = idx_text + 24 * i;
    }
    redisReply *r = command_argv(st, err, argc, argv, NULL);
    int rc = reply_error(st->c, r, "deleting damaged results", err);
    if (!rc) freeReplyObject(r);
    free(argv);
    free(idx_text);
    free(k1);
    free(k2);
    return rc;
}

int coord_store_exists(coord_store_t *st, const char *const *keys, size_t n, unsigned char *found,
                       rs_err_t *err)
{
    if (ready(st, err)) return -1;
    for (size_t i = 0; i < n; i++) redisAppendCommand(st->c, "EXISTS %s", keys[i]);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        void *reply = NULL;
        redisReply *r = st->c && redisGetReply(st->c, &reply) == REDIS_OK ? reply : NULL;
        if (!(r = checked(st, r)) || r->type == REDIS_REPLY_ERROR) {
            if (rc == 0) reply_error(st->c, r, "EXISTS", err);
            else if (r) freeReplyObject(r);
            rc = -1;
            if (!st->c) break; /* the connection is gone: nothing more to read */
            continue;
        }
        found[i] = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
        freeReplyObject(r);
    }
    return rc;
}

int64_t coord_store_used_memory(coord_store_t *st)
{
    rs_err_t err;
    redisReply *r = command(st, &err, "INFO memory");
    if (!r || r->type != REDIS_REPLY_STRING) {
        if (r) freeReplyObject(r);
        return -1;
    }
    const char *p = strstr(r->str, "used_memory:");
    int64_t v = p ? strtoll(p + 12, NULL, 10) : -1;
    freeReplyObject(r);
    return v;
}

int coord_store_run_incr(coord_store_t *st, const char *run_id, const char *field, int64_t by,
                         rs_err_t *err)
{
    char *key = run_key(run_id, "");
    redisReply *r = command(st, err, "HINCRBY %s %s %lld", key, field, (long long)by);
    free(key);
    if (reply_error(st->c, r, "HINCRBY", err)) return -1;
    freeReplyObject(r);
    return 0;
}

/* ---- the run lock: one coordinator per run ---- */

/* Extends the lock only if we still hold it; deletes it only if we hold it. */
static const char RENEW_SCRIPT[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
static const char RELEASE_SCRIPT[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) "
    "else return 0 end";

int coord_store_lock_acquire(coord_store_t *st, const char *run_id, const char *owner,
                             int64_t ttl_ms, char **holder, int64_t *holder_ttl_ms, rs_err_t *err)
{
    char *key = run_key(run_id, ":lock");
    redisReply *r = command(st, err, "SET %s %s NX PX %lld", key, owner, (long long)ttl_ms);
    int rc = reply_error(st->c, r, "SET lock", err);
    if (rc == 0) {
        rc = r->type == REDIS_REPLY_STATUS ? 0 : 1; /* nil: someone holds it */
        freeReplyObject(r);
    }
    if (rc == 1) {
        r = command(st, err, "GET %s", key);
        *holder = r && r->type == REDIS_REPLY_STRING ? rs_xstrdup(r->str) : rs_xstrdup("?");
        if (r) freeReplyObject(r);
        r = command(st, err, "PTTL %s", key);
        *holder_ttl_ms = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
        if (r) freeReplyObject(r);
    }
    free(key);
    return rc;
}

static int lock_script(coord_store_t *st, const char *script, const char *run_id,
                       const char *owner, int64_t ttl_ms, rs_err_t *err)
{
    char *key = run_key(run_id, ":lock");
    redisReply *r = command(st, err, "EVAL %s 1 %s %s %lld", script, key, owner, (long long)ttl_ms);
    free(key);
    if (reply_error(st->c, r, "lock", err)) return -1;
    int held = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    return held ? 0 : 1;
}

int coord_store_lock_renew(coord_store_t *st, const char *run_id, const char *owner,
                           int64_t ttl_ms, rs_err_t *err)
{
    return lock_script(st, RENEW_SCRIPT, run_id, owner, ttl_ms, err);
}

void coord_store_lock_release(coord_store_t *st, const char *run_id, const char *owner)
{
    rs_err_t err;
    lock_script(st, RELEASE_SCRIPT, run_id, owner, 0, &err);
}

int coord_store_lock_steal(coord_store_t *st, const char *run_id, const char *holder,
                           rs_err_t *err)
{
    return lock_script(st, RELEASE_SCRIPT, run_id, holder, 0, err);
}

char *coord_store_lock_holder(coord_store_t *st, const char *run_id)
{
    rs_err_t err;
    char *key = run_key(run_id, ":lock");
    redisReply *r = command(st, &err, "GET %s", key);
    free(key);
    char *holder = r && r->type == REDIS_REPLY_STRING ? rs_xstrdup(r->str) : NULL;
    if (r) freeReplyObject(r);
    return holder;
}

int coord_store_live_put(coord_store_t *st, const char *run_id, const char *workers_json,
                         const char *event_json, int64_t ttl_ms, rs_err_t *err)
{
    char *wkey = run_key(run_id, ":workers"), *chan = run_key(run_id, ":events");
    redisReply *r = command(st, err, "SET %s %s PX %lld", wkey, workers_json, (long long)ttl_ms);
    int rc = reply_error(st->c, r, "SET workers", err);
    if (rc == 0) {
        freeReplyObject(r);
        r = command(st, err, "PUBLISH %s %s", chan, event_json);
        rc = reply_error(st->c, r, "PUBLISH", err);
        if (rc == 0) freeReplyObject(r);
    }
    free(wkey);
    free(chan);
    return rc;
}

char *coord_store_live_workers(coord_store_t *st, const char *run_id)
{
    return coord_store_run_fetch(st, run_id, ":workers");
}

int coord_store_publish(coord_store_t *st, const char *run_id, const char *event_json,
                        rs_err_t *err)
{
    char *chan = run_key(run_id, ":events");
    redisReply *r = command(st, err, "PUBLISH %s %s", chan, event_json);
    free(chan);
    if (reply_error(st->c, r, "PUBLISH", err)) return -1;
    freeReplyObject(r);
    return 0;
}

int coord_store_run_put(coord_store_t *st, const char *run_id, const char *suffix,
                        const char *value, rs_err_t *err)
{
    char *key = run_key(run_id, suffix);
    redisReply *r = command(st, err, "SET %s %s", key, value);
    free(key);
    if (reply_error(st->c, r, "SET", err)) return -1;
    freeReplyObject(r);
    return 0;
}

char *coord_store_run_fetch(coord_store_t *st, const char *run_id, const char *suffix)
{
    rs_err_t err;
    char *key = run_key(run_id, suffix);
    redisReply *r = command(st, &err, "GET %s", key);
    free(key);
    char *v = r && r->type == REDIS_REPLY_STRING ? rs_xstrndup(r->str, r->len) : NULL;
    if (r) freeReplyObject(r);
    return v;
}

const char *coord_manifest_str(json_t *manifest, const char *field)
{
    const char *s = json_string_value(json_object_get(manifest, field));
    return s ? s : "";
}

int64_t coord_manifest_int(json_t *manifest, const char *field)
{
    int64_t v = 0;
    rs_parse_i64(coord_manifest_str(manifest, field), &v);
    return v;
}

/* ---- subscribers ---- */

/* A store for the address of st, through its TLS proxy (borrowed), not yet connected; NULL
 * with err when the address does not parse (it did for st). */
static coord_store_t *borrowed(const coord_store_t *st, rs_err_t *err)
{
    coord_store_t *b = rs_xcalloc(1, sizeof(*b));
    b->url = rs_xstrdup(st->url);
    b->password_env = st->password_env ? rs_xstrdup(st->password_env) : NULL;
    b->tls = st->tls;
    b->tls_borrowed = 1;
    if (rs_redisurl_parse(b->url, &b->addr, err)) coord_store_destroy(&b);
    return b;
}

coord_store_t *coord_store_twin(const coord_store_t *st, rs_err_t *err)
{
    coord_store_t *tw = borrowed(st, err);
    if (tw && open_connection(tw, err)) coord_store_destroy(&tw);
    return tw;
}

coord_store_t *coord_store_subscribe(const coord_store_t *st, const char *channel, rs_err_t *err)
{
    coord_store_t *sub = borrowed(st, err);
    if (!sub) return NULL;
    rs_err_t e;
    if (!(sub->c = connect_addr(sub, err)) || authenticate(sub, &e)) {
        if (sub->c && err) rs_err_set(err, "redis at %s: %s", sub->url, e.msg);
        coord_store_destroy(&sub);
        return NULL;
    }
    redisReply *r = redisCommand(sub->c, "SUBSCRIBE %s", channel);
    int ok = r && r->type == REDIS_REPLY_ARRAY;
    freeReplyObject(r);
    if (!ok) {
        rs_err_set(err, "redis at %s: SUBSCRIBE %s failed", sub->url, channel);
        coord_store_destroy(&sub);
    }
    return sub;
}

/* A complete reply already read into the context's buffer, or NULL. */
static redisReply *buffered_reply(redisContext *c)
{
    void *reply = NULL;
    if (redisGetReplyFromReader(c, &reply) != REDIS_OK) return NULL;
    return reply;
}

char *coord_store_next_message(coord_store_t *sub, int timeout_ms, int *timed_out)
{
    *timed_out = 0;
    for (;;) {
        redisReply *r = buffered_reply(sub->c);
        if (!r) {
            struct pollfd p = {.fd = sub->c->fd, .events = POLLIN};
            int n = poll(&p, 1, timeout_ms);
            if (n == 0) return *timed_out = 1, NULL;
            if (n < 0 || redisBufferRead(sub->c) != REDIS_OK) return NULL;
            continue;
        }
        char *msg = NULL; /* ["message", channel, payload]; anything else is skipped */
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[2]->type == REDIS_REPLY_STRING &&
            strcmp(r->element[0]->str, "message") == 0)
            msg = rs_xstrndup(r->element[2]->str, r->element[2]->len);
        freeReplyObject(r);
        if (msg) return msg;
    }
}
