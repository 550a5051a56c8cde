/* curve: the coordinator's CURVE keys and its ZAP handler (see curve.h). */
#define _GNU_SOURCE
#include "curve.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "log.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01" /* fixed by RFC 27 */
#define ZAP_DOMAIN "reasonsaver"
#define RESCAN_MS 1000  /* an unknown key re-reads the directory at most this often */
#define LOGGED_MAX 1024 /* refused addresses remembered (each logged once) */
#define ZAP_FRAMES 8    /* a request has 7 frames for CURVE; more is malformed */
#define MONITOR_ENDPOINT "inproc://reasonsaver.curve.monitor"
#define FAILED_LOG_MS 60000 /* failed handshakes after the first of a kind: a count this often */

/* Handshakes that fail before the ZAP handler is asked (no CURVE, or another server key). The
 * socket monitor does not give the peer's address for them, so they are counted, not listed. */
enum { FAIL_PLAIN, FAIL_CRYPTO, FAIL_OTHER, FAIL_KINDS };
static const char *const FAIL_WHY[FAIL_KINDS] = {
    "a peer without CURVE (a worker started without --server-key and --key)",
    "a peer whose --server-key is not this coordinator's public key",
    "a peer that broke the CURVE handshake"};

typedef struct curve_key {
    char name[RS_CURVEKEY_NAME_MAX + 1];
    uint8_t key[32];
} curve_key_t;

struct coord_curve {
    char *dir;
    char secret[RS_CURVEKEY_Z85_LEN + 1], public_key[RS_CURVEKEY_Z85_LEN + 1];
    curve_key_t *keys; /* the directory's, sorted by name */
    size_t n_keys;
    curve_key_t *extra; /* coord_curve_allow's */
    size_t n_extra;
    int64_t scanned_ms;
    void *zap;
    void *monitor; /* PAIR: the worker socket's failed handshakes */
    uint64_t failed[FAIL_KINDS], failed_logged[FAIL_KINDS];
    int64_t failed_log_ms;
    json_t *accepted; /* names of the keys let in, as an object used as a set */
    char **logged;    /* refused addresses already logged */
    size_t n_logged;
    int logged_full;
    char *local_secret_path, *local_server_path;
};

static int key_cmp(const void *a, const void *b)
{
    return strcmp(((const curve_key_t *)a)->name, ((const curve_key_t *)b)->name);
}

/* Reads the directory's *.pub files into c->keys. loud: warn about files that are not keys
 * (on the first read; later reads happen while a run goes on and say it once at debug level). */
static int scan(coord_curve_t *c, int loud, rs_err_t *err)
{
    DIR *dir = opendir(c->dir);
    if (!dir)
        return rs_err_set(err, "cluster.curve.authorized_keys_dir %s: %s", c->dir, strerror(errno));
    curve_key_t *keys = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        size_t len = strlen(e->d_name);
        if (len <= 4 || strcmp(e->d_name + len - 4, ".pub") != 0) continue;
        char name[256], z85[RS_CURVEKEY_Z85_LEN + 1];
        snprintf(name, sizeof(name), "%.*s", (int)(len - 4), e->d_name);
        char *path = rs_xasprintf("%s/%s", c->dir, e->d_name);
        rs_err_t kerr;
        int ok = rs_curvekey_name_ok(name);
        if (!ok)
            rs_err_set(&kerr, "%s: the name is not a key name ([A-Za-z0-9._-], 1 to %d)", path,
                       RS_CURVEKEY_NAME_MAX);
        else
            ok = rs_curvekey_read_public(path, z85, &kerr) == 0;
        free(path);
        if (!ok) {
            rs_log(loud ? RS_LOG_WARN : RS_LOG_DEBUG, "authorised keys: skipped %s", kerr.msg);
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            keys = rs_xrealloc(keys, cap * sizeof(*keys));
        }
        memcpy(keys[n].name, name, strlen(name) + 1); /* name_ok: at most NAME_MAX */
        zmq_z85_decode(keys[n].key, z85);
        n++;
    }
    closedir(dir);
    if (n) qsort(keys, n, sizeof(*keys), key_cmp);
    free(c->keys);
    c->keys = keys;
    c->n_keys = n;
    c->scanned_ms = rs_mono_ms();
    return 0;
}

coord_curve_t *coord_curve_new(const rs_curve_cfg_t *cfg, rs_err_t *err)
{
    if (!zmq_has("curve")) {
        rs_err_set(err, "cluster.curve: this libzmq was built without CURVE");
        return NULL;
    }
    coord_curve_t *c = rs_xcalloc(1, sizeof(*c));
    c->dir = rs_xstrdup(cfg->authorized_keys_dir);
    c->accepted = json_object();
    if (rs_curvekey_read_secret(cfg->secret_key_file, c->secret, err) != 0 ||
        rs_curvekey_public_of(c->secret, c->public_key, err) != 0) {
        rs_err_prefix(err, "cluster.curve.secret_key_file");
        coord_curve_destroy(&c);
        return NULL;
    }
    if (scan(c, 1, err) != 0) {
        coord_curve_destroy(&c);
        return NULL;
    }
    if (c->n_keys == 0)
        rs_warn("cluster.curve: no worker keys in %s yet (NAME.pub files from `reasonsaver keys "
                "gen`); workers are refused until one is added",
                c->dir);
    return c;
}

void coord_curve_destroy(coord_curve_t **cp)
{
    if (!cp || !*cp) return;
    coord_curve_t *c = *cp;
    coord_curve_detach(c);
    if (c->local_secret_path) unlink(c->local_secret_path);
    if (c->local_server_path) unlink(c->local_server_path);
    free(c->local_secret_path);
    free(c->local_server_path);
    for (size_t i = 0; i < c->n_logged; i++)
        free(c->logged[i]);
    free(c->logged);
    json_decref(c->accepted);
    free(c->keys);
    free(c->extra);
    free(c->dir);
    memset(c->secret, 0, sizeof(c->secret));
    free(c);
    *cp = NULL;
}

const char *coord_curve_public(const coord_curve_t *c)
{
    return c->public_key;
}

json_t *coord_curve_accepted_json(const coord_curve_t *c)
{
    json_t *names = json_array();
    const char *name;
    json_t *v;
    json_object_foreach(c->accepted, name, v) json_array_append_new(names, json_string(name));
    return names;
}

int coord_curve_allow(coord_curve_t *c, const char *name, const char *pub, rs_err_t *err)
{
    curve_key_t k;
    char checked[RS_CURVEKEY_Z85_LEN + 1];
    if (!rs_curvekey_name_ok(name)) return rs_err_set(err, "'%s' is not a key name", name);
    if (rs_curvekey_parse(pub, strlen(pub), checked, err) != 0) return -1;
    memcpy(k.name, name, strlen(name) + 1);
    zmq_z85_decode(k.key, pub);
    c->extra = rs_xrealloc(c->extra, (c->n_extra + 1) * sizeof(*c->extra));
    c->extra[c->n_extra++] = k;
    return 0;
}

int coord_curve_attach(coord_curve_t *c, void *zctx, void *router, rs_err_t *err)
{
    int one = 1, linger = 0;
    c->zap = zmq_socket(zctx, ZMQ_REP);
    if (!c->zap || zmq_setsockopt(c->zap, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_bind(c->zap, ZAP_ENDPOINT) != 0)
        return rs_err_set(err, "cannot start the ZAP handler (%s): %s", ZAP_ENDPOINT,
                          zmq_strerror(errno));
    if (zmq_setsockopt(router, ZMQ_CURVE_SERVER, &one, sizeof(one)) != 0 ||
        zmq_setsockopt(router, ZMQ_CURVE_SECRETKEY, c->secret, RS_CURVEKEY_Z85_LEN) != 0 ||
        zmq_setsockopt(router, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN)) != 0)
        return rs_err_set(err, "cannot make the worker socket a CURVE server: %s",
                          zmq_strerror(errno));
    c->monitor = zmq_socket(zctx, ZMQ_PAIR);
    if (!c->monitor || zmq_setsockopt(c->monitor, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_socket_monitor(router, MONITOR_ENDPOINT, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) != 0 ||
        zmq_connect(c->monitor, MONITOR_ENDPOINT) != 0)
        return rs_err_set(err, "cannot watch the worker socket's handshakes: %s",
                          zmq_strerror(errno));
    return 0;
}

void *coord_curve_zap_socket(const coord_curve_t *c)
{
    return c->zap;
}

void coord_curve_detach(coord_curve_t *c)
{
    if (c && c->zap) zmq_close(c->zap);
    if (c && c->monitor) zmq_close(c->monitor);
    if (c) c->zap = c->monitor = NULL;
}

static const char *find_in(const curve_key_t *keys, size_t n, const uint8_t key[32])
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(keys[i].key, key, 32) == 0) return keys[i].name;
    return NULL;
}

/* The name of an authorised key, or NULL; an unknown key re-reads the directory first (at most
 * once every RESCAN_MS), so keys added during a run are found. */
static const char *lookup(coord_curve_t *c, const uint8_t key[32])
{
    const char *name = find_in(c->extra, c->n_extra, key);
    if (!name) name = find_in(c->keys, c->n_keys, key);
    if (name || rs_mono_ms() - c->scanned_ms < RESCAN_MS) return name;
    rs_err_t err;
    if (scan(c, 0, &err) != 0) {
        rs_warn("%s", err.msg); /* keep the keys read before: the directory may be mid-update */
        c->scanned_ms = rs_mono_ms();
        return NULL;
    }
    return find_in(c->keys, c->n_keys, key);
}

/* Logs a refusal once per address: a peer that keeps retrying (ZeroMQ reconnects every 100 ms)
 * must not fill the log. */
static void log_refusal(coord_curve_t *c, const char *addr, const char *why)
{
    for (size_t i = 0; i < c->n_logged; i++)
        if (strcmp(c->logged[i], addr) == 0) return;
    if (c->n_logged == LOGGED_MAX) {
        if (!c->logged_full)
            rs_warn("refused peers from %d addresses; further refusals are not logged", LOGGED_MAX);
        c->logged_full = 1;
        return;
    }
    c->logged = rs_xrealloc(c->logged, (c->n_logged + 1) * sizeof(*c->logged));
    c->logged[c->n_logged++] = rs_xstrdup(addr);
    rs_warn("refused a worker connection from %s: %s (logged once per address)", addr, why);
}

/* The verdict on one request (frames f[0..n)): 200 with the key's name as user, or 400. */
static int decide(coord_curve_t *c, zmq_msg_t *f, size_t n, const char **user, char *why,
                  size_t why_cap)
{
    *user = "";
    if (n != 7 || zmq_msg_size(&f[0]) != 3 || memcmp(zmq_msg_data(&f[0]), "1.0", 3) != 0) {
        snprintf(why, why_cap, "malformed ZAP request");
        return 400;
    }
    if (zmq_msg_size(&f[5]) != 5 || memcmp(zmq_msg_data(&f[5]), "CURVE", 5) != 0 ||
        zmq_msg_size(&f[6]) != 32) {
        snprintf(why, why_cap, "not a CURVE client");
        return 400;
    }
    const uint8_t *key = zmq_msg_data(&f[6]);
    const char *name = lookup(c, key);
    if (name) {
        *user = name;
        json_object_set_new(c->accepted, name, json_true());
        return 200;
    }
    char z85[RS_CURVEKEY_Z85_LEN + 1];
    zmq_z85_encode(z85, key, 32);
    snprintf(why, why_cap, "its public key %s is not in %s", z85, c->dir);
    return 400;
}

static void reply(coord_curve_t *c, zmq_msg_t *request_id, int status, const char *user)
{
    char code[4];
    snprintf(code, sizeof(code), "%d", status);
    const char *text = status == 200 ? "OK" : "not authorised";
    zmq_send(c->zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(c->zap, zmq_msg_data(request_id), zmq_msg_size(request_id), ZMQ_SNDMORE);
    zmq_send(c->zap, code, 3, ZMQ_SNDMORE);
    zmq_send(c->zap, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(c->zap, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(c->zap, "", 0, 0);
}

/* Reads one whole request (up to ZAP_FRAMES frames, the rest drained); its frame count, 0 when
 * none is waiting. */
static size_t read_request(coord_curve_t *c, zmq_msg_t *f)
{
    size_t n = 0;
    int more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, c->zap, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(&m);
            return n;
        }
        more = zmq_msg_more(&m);
        if (n < ZAP_FRAMES)
            f[n] = m;
        else
            zmq_msg_close(&m);
        n++;
    }
    return n;
}

/* Each kind of failed handshake is logged when first seen, then as a count once a minute at most:
 * a peer without CURVE reconnects every 100 ms. */
static void log_failed(coord_curve_t *c)
{
    int64_t now = rs_mono_ms();
    int periodic = now - c->failed_log_ms >= FAILED_LOG_MS;
    for (int k = 0; k < FAIL_KINDS; k++) {
        uint64_t n = c->failed[k] - c->failed_logged[k];
        if (n == 0 || (c->failed_logged[k] && !periodic)) continue;
        if (!c->failed_logged[k])
            rs_warn("refused %s (ZeroMQ does not say its address at this stage; more are "
                    "counted once a minute)",
                    FAIL_WHY[k]);
        else
            rs_warn("refused %llu more handshake(s) of %s", (unsigned long long)n, FAIL_WHY[k]);
        c->failed_logged[k] = c->failed[k];
        c->failed_log_ms = now;
    }
}

/* Reads the monitor's events (two frames each: event id and value, then the endpoint). */
static void read_monitor(coord_curve_t *c)
{
    for (;;) {
        zmq_msg_t ev, addr;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, c->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            break;
        }
        if (zmq_msg_size(&ev) == 6) {
            const uint8_t *b = zmq_msg_data(&ev);
            uint32_t value;
            memcpy(&value, b + 2, sizeof(value));
            rs_debug("handshake failed on the worker socket: ZeroMQ protocol error 0x%08x",
                     (unsigned)value);
            c->failed[value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH ? FAIL_PLAIN
                      : value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC    ? FAIL_CRYPTO
                                                                          : FAIL_OTHER]++;
        }
        int more = zmq_msg_more(&ev);
        zmq_msg_close(&ev);
        while (more) {
            zmq_msg_init(&addr);
            more = zmq_msg_recv(&addr, c->monitor, 0) >= 0 && zmq_msg_more(&addr);
            zmq_msg_close(&addr);
        }
    }
    log_failed(c);
}

void coord_curve_serve(coord_curve_t *c)
{
    if (!c || !c->zap) return;
    read_monitor(c);
    for (;;) {
        zmq_msg_t f[ZAP_FRAMES];
        size_t n = read_request(c, f);
        if (n == 0) return;
        size_t kept = n < ZAP_FRAMES ? n : ZAP_FRAMES;
        const char *user;
        char why[256] = "";
        int status = decide(c, f, n, &user, why, sizeof(why));
        if (status != 200) {
            char addr[128] = "an unknown address";
            if (n > 3)
                snprintf(addr, sizeof(addr), "%.*s", (int)zmq_msg_size(&f[3]),
                         (const char *)zmq_msg_data(&f[3]));
            log_refusal(c, addr, why);
        }
        zmq_msg_t empty;
        zmq_msg_init(&empty);
        reply(c, n > 1 ? &f[1] : &empty, status, user);
        zmq_msg_close(&empty);
        for (size_t i = 0; i < kept; i++)
            zmq_msg_close(&f[i]);
    }
}

/* Writes one key file under dir, first removing one a crashed coordinator may have left. */
static char *write_run_key(const char *dir, const char *file, const char *key, unsigned mode,
                           rs_err_t *err)
{
    char *path = rs_xasprintf("%s/%s", dir, file);
    unlink(path);
    if (rs_curvekey_write_file(path, key, mode, err) == 0) return path;
    free(path);
    return NULL;
}

int coord_curve_local_keys(coord_curve_t *c, const char *dir, rs_err_t *err)
{
    char pub[RS_CURVEKEY_Z85_LEN + 1], sec[RS_CURVEKEY_Z85_LEN + 1];
    if (zmq_curve_keypair(pub, sec) != 0)
        return rs_err_set(err, "cannot make the local workers' key pair: %s", zmq_strerror(errno));
    int rc = coord_curve_allow(c, COORD_CURVE_LOCAL_NAME, pub, err);
    if (rc == 0 &&
        !(c->local_secret_path = write_run_key(dir, "local-worker.secret", sec, 0600, err)))
        rc = -1;
    memset(sec, 0, sizeof(sec));
    if (rc == 0 &&
        !(c->local_server_path = write_run_key(dir, "coordinator.pub", c->public_key, 0644, err)))
        rc = -1;
    return rc;
}

const char *coord_curve_local_secret_path(const coord_curve_t *c)
{
    return c->local_secret_path;
}

const char *coord_curve_local_server_path(const coord_curve_t *c)
{
    return c->local_server_path;
}
