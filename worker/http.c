/* http: libcurl multi engine — a FIFO of transfers waiting for a slot, a pool of easy handles,
 * the retry policy (backoff with full jitter, Retry-After) and the deadline heap. */
#include "http.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"

enum xfer_state {
    X_LOOKUP,  /* waiting for its response-cache lookup */
    X_HIT,     /* the cache answered: on the hits list, completed at the next step */
    X_QUEUED,  /* waiting for a slot in the FIFO */
    X_ACTIVE,  /* its easy handle is in the multi handle */
    X_WAITING, /* waiting in the heap for its retry delay to pass */
    X_DONE,    /* finished: on no list */
};

struct wk_xfer {
    wk_http_t *h;
    const rs_model_cfg_t *m;
    char *url, *body;
    size_t body_len;
    struct curl_slist *hdrs; /* may hold the key: wiped before it is freed */
    size_t max_body;         /* the engine's cap when the attempt started */
    enum xfer_state state;
    CURL *easy;
    rs_buf_t resp;
    int too_large;
    int retries;
    wk_retry_count_t reasons[WK_HTTP_MAX_REASONS];
    size_t n_reasons;
    wk_retry_event_t *events; /* one per retry (retries of them), for the trace */
    long status;              /* the last attempt's HTTP status */
    wk_timer_t timer;
    double started_sec; /* rs_mono_sec: latencies below a millisecond still show */
    char errbuf[CURL_ERROR_SIZE];
    wk_http_cb cb;
    void *ud;
    char key[RS_CACHEKEY_HEX]; /* "" when it has none */
    wk_cache_get_t *get;       /* its lookup, while X_LOOKUP */
    wk_xfer_t *qprev, *qnext; /* the FIFO, while X_QUEUED; the hits list (qnext), while X_HIT */
    wk_xfer_t *prev, *next;   /* every live transfer */
};

/* One paused model; its timer wakes the loop when the pause ends (and frees it). */
typedef struct pause {
    wk_http_t *h;
    char *model;
    int64_t until_ms;
    wk_timer_t timer;
} pause_t;

/* Socket events handed to libcurl per step: the rest wait for the next one (the wait returns
 * at once while any is pending). */
#define EVENTS_PER_STEP 256

struct wk_http {
    CURLM *multi;
    int epfd;             /* the transfers' sockets, as libcurl asks for them (on_socket) */
    int64_t curl_due_ms;  /* when libcurl wants its timeout action (on_timer); INT64_MAX: never */
    CURL **pool; /* idle easy handles, reset and ready for reuse */
    size_t n_pool, cap_pool;
    size_t limit, active, live;
    size_t max_body; /* response bytes a transfer may receive */
    wk_xfer_t *qhead, *qtail;
    wk_xfer_t *all;
    wk_xfer_t *hits; /* answered by the cache, waiting for the step to complete them */
    wk_cache_t *cache;
    short cache_revents; /* what the last wait saw on the cache's descriptor */
    wk_execgrade_t *exec;  /* the exec graders' processes (borrowed); NULL: none */
    struct pollfd *waitfds; /* the descriptors of one wait ... */
    struct pollfd *execfds; /* ... and the exec graders' part of them, as they gave it */
    size_t cap_waitfds;
    wk_timerq_t timers;
    uint64_t rng;
    pause_t **pauses; /* a handful at most: one per model the servers asked to wait */
    size_t n_pauses, cap_pauses;
    wk_http_retry_fn on_retry;
    void *on_retry_ud;
};

/* ---- small parts ---- */

/* splitmix64: the jitter needs cheap, decent bits, not a cryptographic source. */
static uint64_t next_random(wk_http_t *h)
{
    uint64_t z = (h->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void queue_unlink(wk_http_t *h, wk_xfer_t *x)
{
    if (x->qprev) x->qprev->qnext = x->qnext;
    else h->qhead = x->qnext;
    if (x->qnext) x->qnext->qprev = x->qprev;
    else h->qtail = x->qprev;
    x->qprev = x->qnext = NULL;
}

static void queue_push(wk_http_t *h, wk_xfer_t *x, int front)
{
    x->state = X_QUEUED;
    x->qprev = front ? NULL : h->qtail;
    x->qnext = front ? h->qhead : NULL;
    if (x->qprev) x->qprev->qnext = x;
    else h->qhead = x;
    if (x->qnext) x->qnext->qprev = x;
    else h->qtail = x;
}

static CURL *easy_get(wk_http_t *h)
{
    if (h->n_pool) return h->pool[--h->n_pool];
    CURL *e = curl_easy_init();
    if (!e) {
        rs_error("out of memory: curl_easy_init failed");
        abort(); /* like rs_xmalloc: there is no sensible way on */
    }
    return e;
}

static void easy_put(wk_http_t *h, CURL *e)
{
    if (h->n_pool >= h->limit) {
        curl_easy_cleanup(e);
        return;
    }
    curl_easy_reset(e);
    if (h->n_pool == h->cap_pool) {
        h->cap_pool = h->cap_pool ? 2 * h->cap_pool : 16;
        h->pool = rs_xrealloc(h->pool, h->cap_pool * sizeof(CURL *));
    }
    h->pool[h->n_pool++] = e;
}

static void wipe_headers(struct curl_slist *l)
{
    for (struct curl_slist *p = l; p; p = p->next) explicit_bzero(p->data, strlen(p->data));
    curl_slist_free_all(l);
}

/* Takes x off whatever holds it (the multi handle, the FIFO, the heap, the live list). */
static void xfer_detach(wk_http_t *h, wk_xfer_t *x)
{
    if (x->state == X_ACTIVE && x->easy) {
        curl_multi_remove_handle(h->multi, x->easy);
        easy_put(h, x->easy);
        x->easy = NULL;
        h->active--;
    } else if (x->state == X_QUEUED) {
        queue_unlink(h, x);
    } else if (x->state == X_LOOKUP) {
        wk_cache_get_cancel(x->get);
        x->get = NULL;
    } else if (x->state == X_HIT) {
        wk_xfer_t **p = &h->hits;
        while (*p != x) p = &(*p)->qnext;
        *p = x->qnext;
        x->qnext = NULL;
    }
    x->state = X_DONE;
    wk_timerq_remove(&h->timers, &x->timer);
    if (x->prev) x->prev->next = x->next;
    else h->all = x->next;
    if (x->next) x->next->prev = x->prev;
    x->prev = x->next = NULL;
    h->live--;
}

static void xfer_release(wk_xfer_t *x)
{
    wipe_headers(x->hdrs);
    free(x->url);
    free(x->body);
    free(x->events);
    rs_buf_cleanup(&x->resp);
    free(x);
}

/* ---- life cycle ---- */

/* libcurl says which socket to watch for what; the epoll set follows. A socket it watches for
 * nothing (CURL_POLL_NONE) stays in the set with no events, so a later change is a MOD. A socket
 * in the set carries a mark (curl_multi_assign; libcurl forgets it at CURL_POLL_REMOVE), so each
 * change is one epoll_ctl, not a failed MOD before every ADD. */
static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e;
    wk_http_t *h = userp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(h->epfd, EPOLL_CTL_DEL, s, NULL); /* ENOENT/EBADF: already gone */
        return 0;
    }
    struct epoll_event ev = {.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) |
                                       ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u),
                             .data.fd = s};
    int op = socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(h->epfd, op, s, &ev) != 0) { /* the mark and the set disagree: follow the set */
        op = errno == EEXIST ? EPOLL_CTL_MOD : errno == ENOENT ? EPOLL_CTL_ADD : -1;
        if (op < 0 || epoll_ctl(h->epfd, op, s, &ev) != 0) {
            rs_error("http: cannot watch socket %d: %s", (int)s, strerror(errno));
            return -1; /* libcurl fails the transfers on this socket */
        }
    }
    if (!socketp) curl_multi_assign(h->multi, s, h);
    return 0;
}

/* libcurl's one timeout: wk_http_step acts on it once due (never from inside this callback). */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    wk_http_t *h = userp;
    h->curl_due_ms = timeout_ms < 0 ? INT64_MAX : rs_mono_ms() + timeout_ms;
    return 0;
}

wk_http_t *wk_http_new(size_t limit, rs_err_t *err)
{
    CURLM *multi = curl_multi_init();
    if (!multi) {
        rs_err_set(err, "libcurl: cannot create a multi handle");
        return NULL;
    }
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        rs_err_set(err, "epoll_create1: %s", strerror(errno));
        curl_multi_cleanup(multi);
        return NULL;
    }
    wk_http_t *h = rs_xcalloc(1, sizeof(*h));
    h->multi = multi;
    h->epfd = epfd;
    h->curl_due_ms = INT64_MAX;
    /* only the sockets that have news are touched each step, not every transfer: a worker with
     * hundreds in flight would otherwise poll each of them on every turn of its loop */
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, h);
    /* several requests share one HTTP/2 connection where the server offers it */
    curl_multi_setopt(multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    wk_timerq_init(&h->timers);
    h->max_body = RS_PROVIDER_BODY_CAP;
    h->rng = (uint64_t)rs_wall_ms() * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid();
    wk_http_set_limit(h, limit);
    return h;
}

void wk_http_set_limit(wk_http_t *h, size_t limit)
{
    h->limit = limit ? limit : 1;
    /* keep as many idle connections as may be busy at once, so keep-alive actually reuses them */
    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)h->limit);
}

void wk_http_set_max_body(wk_http_t *h, size_t bytes)
{
    h->max_body = bytes ? bytes : RS_PROVIDER_BODY_CAP;
}

void wk_http_destroy(wk_http_t **hp)
{
    if (!hp || !*hp) return;
    wk_http_t *h = *hp;
    while (h->all) {
        wk_xfer_t *x = h->all;
        xfer_detach(h, x);
        xfer_release(x);
    }
    for (size_t i = 0; i < h->n_pool; i++) curl_easy_cleanup(h->pool[i]);
    free(h->pool);
    for (size_t i = 0; i < h->n_pauses; i++) {
        wk_timerq_remove(&h->timers, &h->pauses[i]->timer); /* the heap must not keep it */
        free(h->pauses[i]->model);
        free(h->pauses[i]);
    }
    free(h->pauses);
    free(h->waitfds);
    free(h->execfds);
    curl_multi_cleanup(h->multi); /* may still remove sockets: the epoll set closes after */
    close(h->epfd);
    wk_timerq_cleanup(&h->timers);
    free(h);
    *hp = NULL;
}

size_t wk_http_live(const wk_http_t *h)
{
    return h->live;
}

wk_timerq_t *wk_http_timers(wk_http_t *h)
{
    return &h->timers;
}

static void lookup(wk_http_t *h, wk_xfer_t *x);

wk_xfer_t *wk_http_submit(wk_http_t *h, const rs_model_cfg_t *m, rs_http_req_t *req, wk_http_cb cb,
                          void *ud)
{
    return wk_http_submit_keyed(h, m, req, NULL, cb, ud);
}

wk_xfer_t *wk_http_submit_keyed(wk_http_t *h, const rs_model_cfg_t *m, rs_http_req_t *req,
                                const char *cache_key, wk_http_cb cb, void *ud)
{
    wk_xfer_t *x = rs_xcalloc(1, sizeof(*x));
    x->h = h;
    x->m = m;
    x->url = req->url;
    x->body = req->body;
    x->body_len = req->body_len;
    req->url = req->body = NULL;
    for (size_t i = 0; i < req->n_headers; i++)
        x->hdrs = curl_slist_append(x->hdrs, req->headers[i]);
    /* no "Expect: 100-continue" round trip before large bodies */
    x->hdrs = curl_slist_append(x->hdrs, "Expect:");
    if (!x->hdrs) {
        rs_error("out of memory: curl_slist_append failed");
        abort();
    }
    rs_http_req_cleanup(req);
    rs_buf_init(&x->resp);
    x->cb = cb;
    x->ud = ud;
    x->next = h->all;
    if (h->all) h->all->prev = x;
    h->all = x;
    h->live++;
    if (cache_key) snprintf(x->key, sizeof(x->key), "%s", cache_key);
    if (x->key[0] && wk_cache_reads(h->cache)) lookup(h, x);
    else queue_push(h, x, 0);
    return x;
}

/* ---- the response cache ---- */

/* The lookup came back: a hit waits on the hits list for the step to complete it, a miss (or a
 * stored body larger than this run accepts) goes on the wire. */
static void on_cache_got(void *ud, const char *body, size_t len)
{
    wk_xfer_t *x = ud;
    wk_http_t *h = x->h;
    x->get = NULL;
    wk_timerq_remove(&h->timers, &x->timer);
    if (!body || len > h->max_body) {
        queue_push(h, x, 0);
        return;
    }
    rs_buf_reset(&x->resp);
    rs_buf_append(&x->resp, body, len);
    x->state = X_HIT;
    x->qnext = h->hits;
    h->hits = x;
}

/* A lookup that hangs would hold its call forever: the cache is given up instead. */
static void on_lookup_late(wk_timer_t *t)
{
    wk_xfer_t *x = WK_CONTAINER_OF(t, wk_xfer_t, timer);
    wk_http_t *h = x->h;
    wk_cache_get_cancel(x->get);
    x->get = NULL;
    queue_push(h, x, 0);
    char why[96];
    snprintf(why, sizeof(why), "a lookup was not answered within %d ms", WK_CACHE_LOOKUP_MS);
    wk_cache_fail(h->cache, why); /* the other lookups come back as misses */
}

static void lookup(wk_http_t *h, wk_xfer_t *x)
{
    x->state = X_LOOKUP;
    x->get = wk_cache_get(h->cache, x->key, on_cache_got, x);
    if (!x->get) {
        queue_push(h, x, 0);
        return;
    }
    wk_timerq_add(&h->timers, &x->timer, rs_mono_ms() + WK_CACHE_LOOKUP_MS, on_lookup_late);
}

void wk_http_set_exec(wk_http_t *h, wk_execgrade_t *e)
{
    h->exec = e;
}

wk_execgrade_t *wk_http_exec(const wk_http_t *h)
{
    return h->exec;
}

void wk_http_set_cache(wk_http_t *h, wk_cache_t *c)
{
    if (h->cache == c) return;
    for (wk_xfer_t *x = h->all; x; x = x->next) {
        if (x->state != X_LOOKUP) continue;
        wk_cache_get_cancel(x->get);
        x->get = NULL;
        wk_timerq_remove(&h->timers, &x->timer);
        queue_push(h, x, 0);
    }
    h->cache = c;
    h->cache_revents = 0;
}

int wk_http_caching(const wk_http_t *h)
{
    return wk_cache_reads(h->cache) || wk_cache_writes(h->cache);
}

void wk_http_cache_store(wk_http_t *h, const wk_http_done_t *d)
{
    if (d->ok && !d->cached && d->cache_key)
        wk_cache_put(h->cache, d->cache_key, d->body, d->body_len);
}

void wk_http_cancel(wk_http_t *h, wk_xfer_t *x)
{
    if (!x) return;
    xfer_detach(h, x);
    xfer_release(x);
}

/* ---- pauses ---- */

void wk_http_on_retry(wk_http_t *h, wk_http_retry_fn fn, void *ud)
{
    h->on_retry = fn;
    h->on_retry_ud = ud;
}

static pause_t *pause_find(const wk_http_t *h, const char *model)
{
    for (size_t i = 0; i < h->n_pauses; i++)
        if (strcmp(h->pauses[i]->model, model) == 0) return h->pauses[i];
    return NULL;
}

/* The pause is over: forgotten (wk_http_step pumps the transfers it held right after). */
static void on_pause_end(wk_timer_t *t)
{
    pause_t *p = WK_CONTAINER_OF(t, pause_t, timer);
    wk_http_t *h = p->h;
    size_t i = 0;
    while (h->pauses[i] != p) i++;
    h->pauses[i] = h->pauses[--h->n_pauses];
    free(p->model);
    free(p);
}

void wk_http_pause(wk_http_t *h, const char *model, int64_t until_ms)
{
    pause_t *p = pause_find(h, model);
    if (p && p->until_ms >= until_ms) return;
    if (!p) {
        p = rs_xcalloc(1, sizeof(*p));
        p->h = h;
        p->model = rs_xstrdup(model);
        if (h->n_pauses == h->cap_pauses) {
            h->cap_pauses = h->cap_pauses ? 2 * h->cap_pauses : 4;
            h->pauses = rs_xrealloc(h->pauses, h->cap_pauses * sizeof(*h->pauses));
        }
        h->pauses[h->n_pauses++] = p;
    }
    p->until_ms = until_ms;
    wk_timerq_add(&h->timers, &p->timer, until_ms, on_pause_end);
}

int64_t wk_http_paused_ms(const wk_http_t *h, const char *model, int64_t now_ms)
{
    const pause_t *p = pause_find(h, model);
    return p && p->until_ms > now_ms ? p->until_ms - now_ms : 0;
}

/* The first queued transfer whose model is not paused, or NULL. */
static wk_xfer_t *next_startable(const wk_http_t *h)
{
    if (!h->n_pauses) return h->qhead;
    int64_t now = rs_mono_ms();
    for (wk_xfer_t *x = h->qhead; x; x = x->qnext)
        if (wk_http_paused_ms(h, x->m->name, now) == 0) return x;
    return NULL;
}

/* ---- transfers ---- */

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    wk_xfer_t *x = ud;
    size_t n = size * nmemb;
    if (n > x->max_body - x->resp.len) { /* resp.len never passes max_body */
        x->too_large = 1;
        return 0; /* anything but n makes libcurl stop with CURLE_WRITE_ERROR */
    }
    rs_buf_append(&x->resp, p, n);
    return n;
}

static void set_options(wk_xfer_t *x, CURL *e)
{
    curl_easy_setopt(e, CURLOPT_URL, x->url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    /* a Content-Length above the cap ends the transfer before its body is read */
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max_body);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)x->m->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)x->m->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    /* over TLS, wait for a connection being set up to say whether it multiplexes (HTTP/2 via
     * ALPN) rather than open another; plain http:// stays HTTP/1.1, where waiting would only
     * serialise requests behind a server that closes its connections */
    if (strncmp(x->url, "https://", 8) == 0) curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "reasonsaver/" RS_VERSION);
}

/* Runs x's callback once and frees x; x is off every list before the callback runs, so the
 * callback may submit and cancel other transfers freely. */
static void complete(wk_http_t *h, wk_xfer_t *x, const rs_failure_t *f, double latency_ms)
{
    int cached = x->state == X_HIT;
    xfer_detach(h, x);
    wk_http_done_t d = {.ok = f == NULL,
                        .cached = cached,
                        .cache_key = x->key[0] ? x->key : NULL,
                        .body = x->resp.data,
                        .body_len = x->resp.len,
                        .fail = f,
                        .retries = x->retries,
                        .reasons = x->reasons,
                        .n_reasons = x->n_reasons,
                        .latency_ms = latency_ms,
                        .status = x->status,
                        .events = x->events};
    x->cb(x->ud, &d);
    xfer_release(x);
}

static int start(wk_http_t *h, wk_xfer_t *x)
{
    CURL *e = easy_get(h);
    x->max_body = h->max_body;
    set_options(x, e);
    x->errbuf[0] = '\0';
    x->too_large = 0;
    rs_buf_reset(&x->resp);
    CURLMcode mc = curl_multi_add_handle(h->multi, e);
    if (mc != CURLM_OK) {
        easy_put(h, e);
        rs_failure_t f;
        rs_provider_fail(&f, "network", "model %s: cannot start a transfer: %s", x->m->name,
                         curl_multi_strerror(mc));
        complete(h, x, &f, 0);
        return -1;
    }
    x->easy = e;
    x->state = X_ACTIVE;
    x->started_sec = rs_mono_sec();
    h->active++;
    return 0;
}

/* Moves queued transfers onto the wire while there is room, skipping paused models'. The
 * scan starts over after each start, since a failed start's callback may change the queue. */
static void pump(wk_http_t *h)
{
    wk_xfer_t *x;
    while (h->active < h->limit && (x = next_startable(h))) {
        queue_unlink(h, x);
        start(h, x);
    }
}

static void on_retry_due(wk_timer_t *t)
{
    wk_xfer_t *x = WK_CONTAINER_OF(t, wk_xfer_t, timer);
    queue_push(x->h, x, 1); /* it waited already: ahead of fresh requests */
}

void wk_retry_count_add(wk_retry_count_t *v, size_t *n, const char *reason, int count)
{
    size_t i = 0;
    while (i < *n && strcmp(v[i].reason, reason) != 0) i++;
    if (i == WK_HTTP_MAX_REASONS) {
        i--; /* out of room: the last entry takes the rest */
    } else if (i == *n) {
        (*n)++;
        snprintf(v[i].reason, sizeof(v[i].reason), "%s", reason);
    }
    v[i].n += count;
}

/* Remembers a retry for the trace; retries are rare, so the array grows one entry at a time. */
static void note_retry(wk_xfer_t *x, const rs_failure_t *f, int64_t delay)
{
    x->events = rs_xrealloc(x->events, (size_t)(x->retries + 1) * sizeof(*x->events));
    wk_retry_event_t *e = &x->events[x->retries];
    e->at_sec = rs_mono_sec();
    e->attempt = x->retries + 1;
    snprintf(e->reason, sizeof(e->reason), "%s", f->reason);
    e->status = x->status;
    e->delay_ms = delay;
}

static void retry_later(wk_http_t *h, wk_xfer_t *x, const rs_failure_t *f)
{
    int64_t delay = rs_provider_backoff_ms(x->m->retry_base_ms, x->m->retry_cap_ms, x->retries,
                                           next_random(h));
    if (f->retry_after_ms > delay) delay = f->retry_after_ms;
    wk_retry_count_add(x->reasons, &x->n_reasons, f->reason, 1);
    note_retry(x, f, delay);
    if (h->on_retry) h->on_retry(h->on_retry_ud, x->m, f);
    x->retries++;
    x->state = X_WAITING;
    rs_debug("model %s: %s; retry %d of %lld in %lld ms", x->m->name, f->reason, x->retries,
             (long long)x->m->max_retries, (long long)delay);
    wk_timerq_add(&h->timers, &x->timer, rs_mono_ms() + delay, on_retry_due);
}

/* libcurl's result codes as the provider module's transport outcomes. */
static const struct {
    CURLcode code;
    rs_net_t net;
} NET_CODES[] = {
    {CURLE_OK, RS_NET_OK},
    {CURLE_OPERATION_TIMEDOUT, RS_NET_TIMEOUT},
    {CURLE_COULDNT_RESOLVE_HOST, RS_NET_CONNECT},
    {CURLE_COULDNT_RESOLVE_PROXY, RS_NET_CONNECT},
    {CURLE_COULDNT_CONNECT, RS_NET_CONNECT},
    {CURLE_SEND_ERROR, RS_NET_CONNECT},
    {CURLE_RECV_ERROR, RS_NET_CONNECT},
    {CURLE_GOT_NOTHING, RS_NET_CONNECT},
    {CURLE_PARTIAL_FILE, RS_NET_CONNECT},
    {CURLE_HTTP2, RS_NET_CONNECT},
    {CURLE_HTTP2_STREAM, RS_NET_CONNECT},
    {CURLE_SSL_CONNECT_ERROR, RS_NET_CONNECT},
    {CURLE_PEER_FAILED_VERIFICATION, RS_NET_TLS},
    {CURLE_SSL_CERTPROBLEM, RS_NET_TLS},
    {CURLE_SSL_CACERT_BADFILE, RS_NET_TLS},
    {CURLE_SSL_CIPHER, RS_NET_TLS},
    {CURLE_SSL_ISSUER_ERROR, RS_NET_TLS},
    {CURLE_SSL_PINNEDPUBKEYNOTMATCH, RS_NET_TLS},
};

static rs_net_t net_of(CURLcode rc, int too_large)
{
    if (too_large || rc == CURLE_FILESIZE_EXCEEDED) return RS_NET_TOO_LARGE;
    for (size_t i = 0; i < RS_ARRAY_LEN(NET_CODES); i++)
        if (NET_CODES[i].code == rc) return NET_CODES[i].net;
    return RS_NET_OTHER;
}

/* A header of the last response, copied into out ("" when absent). */
static void header_value(CURL *e, const char *name, char *out, size_t size)
{
    struct curl_header *hd = NULL;
    out[0] = '\0';
    if (curl_easy_header(e, name, 0, CURLH_HEADER, -1, &hd) == CURLHE_OK && hd && hd->value)
        snprintf(out, size, "%s", hd->value);
}

static void finished(wk_http_t *h, CURL *e, CURLcode rc)
{
    wk_xfer_t *x = NULL;
    long status = 0;
    char ct[128], retry_after[128];
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    header_value(e, "Content-Type", ct, sizeof(ct));
    header_value(e, "Retry-After", retry_after, sizeof(retry_after));
    /* the handle goes back before anything else is added */
    curl_multi_remove_handle(h->multi, e);
    easy_put(h, e);
    x->easy = NULL;
    x->state = X_DONE;
    x->status = status;
    h->active--;
    double latency = (rs_mono_sec() - x->started_sec) * 1000.0;
    rs_net_t net = net_of(rc, x->too_large);
    char cap[96] = "";
    if (net == RS_NET_TOO_LARGE)
        snprintf(cap, sizeof(cap), "over %zu bytes (cluster.max_response_bytes)", x->max_body);
    rs_http_outcome_t o = {.net = net,
                           .net_detail = net == RS_NET_TOO_LARGE ? cap
                                         : x->errbuf[0]          ? x->errbuf
                                                                 : curl_easy_strerror(rc),
                           .status = status,
                           .content_type = ct[0] ? ct : NULL,
                           .body = x->resp.data,
                           .body_len = x->resp.len,
                           .retry_after = retry_after[0] ? retry_after : NULL};
    rs_failure_t f;
    int failed = rs_provider_classify(x->m, &o, rs_wall_ms(), &f) != 0;
    /* The server asked the client to wait: every request of this model waits, not only this one */
    if (failed && (status == 429 || status == 503) && f.retry_after_ms > 0)
        wk_http_pause(h, x->m->name, rs_mono_ms() + f.retry_after_ms);
    if (!failed) {
        complete(h, x, NULL, latency);
    } else if (f.retry && x->retries < x->m->max_retries) {
        retry_later(h, x, &f);
    } else {
        if (f.retry && x->retries > 0) {
            size_t n = strlen(f.message);
            snprintf(f.message + n, sizeof(f.message) - n, " (gave up after %d retries)",
                     x->retries);
        }
        complete(h, x, &f, latency);
    }
}

/* Completes the transfers the cache answered; their callbacks may submit more. */
static void complete_hits(wk_http_t *h)
{
    while (h->hits) complete(h, h->hits, NULL, 0);
}

/* One libcurl action per ready socket, then its timeout action once due (transfers just added
 * start there: adding one sets the timeout to now). */
static int drive(wk_http_t *h, rs_err_t *err)
{
    struct epoll_event ev[EVENTS_PER_STEP];
    int running; /* libcurl's count; transfers end through curl_multi_info_read */
    int n = epoll_wait(h->epfd, ev, EVENTS_PER_STEP, 0);
    if (n < 0 && errno != EINTR) return rs_err_set(err, "epoll_wait: %s", strerror(errno));
    for (int i = 0; i < n; i++) {
        uint32_t e = ev[i].events;
        int mask = ((e & (EPOLLIN | EPOLLHUP)) ? CURL_CSELECT_IN : 0) |
                   ((e & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
                   ((e & EPOLLERR) ? CURL_CSELECT_ERR : 0);
        CURLMcode mc = curl_multi_socket_action(h->multi, ev[i].data.fd, mask, &running);
        if (mc != CURLM_OK)
            return rs_err_set(err, "curl_multi_socket_action: %s", curl_multi_strerror(mc));
    }
    if (h->curl_due_ms <= rs_mono_ms()) {
        h->curl_due_ms = INT64_MAX; /* on_timer sets the next one from inside the action */
        CURLMcode mc = curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        if (mc != CURLM_OK)
            return rs_err_set(err, "curl_multi_socket_action: %s", curl_multi_strerror(mc));
    }
    return 0;
}

int wk_http_step(wk_http_t *h, rs_err_t *err)
{
    wk_timerq_run(&h->timers, rs_mono_ms());
    short revents = h->cache_revents;
    h->cache_revents = 0;
    wk_cache_io(h->cache, revents);
    complete_hits(h);
    wk_execgrade_io(h->exec); /* its replies' callbacks may submit transfers: before pump */
    pump(h);
    if (drive(h, err) != 0) return -1;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(h->multi, &left)))
        if (msg->msg == CURLMSG_DONE) finished(h, msg->easy_handle, msg->data.result);
    pump(h);
    wk_cache_io(h->cache, 0); /* the lookups and writes of this step go out before the wait */
    return 0;
}

/* The cache's descriptor at w (1 when there is one to wait on). */
static unsigned cache_waitfd(const wk_http_t *h, struct pollfd *w)
{
    short ev;
    int fd = wk_cache_fd(h->cache, &ev);
    if (fd < 0 || !ev) return 0;
    *w = (struct pollfd){fd, ev, 0};
    return 1;
}

int wk_http_wait(wk_http_t *h, int extra_fd, int64_t max_wait_ms, rs_err_t *err)
{
    int64_t now = rs_mono_ms(), wait = max_wait_ms, due = wk_timerq_next_due(&h->timers);
    if (h->curl_due_ms < due) due = h->curl_due_ms;
    if (due != INT64_MAX && due - now < wait) wait = due - now;
    if ((h->active < h->limit && next_startable(h)) || h->hits || wk_execgrade_startable(h->exec))
        wait = 0;
    if (wait < 0) wait = 0;
    if (wait > INT_MAX) wait = INT_MAX;
    size_t need = 3 + wk_execgrade_max_fds(h->exec);
    if (need > h->cap_waitfds) {
        h->cap_waitfds = need;
        h->waitfds = rs_xrealloc(h->waitfds, need * sizeof(*h->waitfds));
        h->execfds = rs_xrealloc(h->execfds, need * sizeof(*h->execfds));
    }
    struct pollfd *w = h->waitfds;
    nfds_t n = 0;
    w[n++] = (struct pollfd){h->epfd, POLLIN, 0}; /* readable: a transfer's socket is ready */
    if (extra_fd >= 0) w[n++] = (struct pollfd){extra_fd, POLLIN, 0};
    nfds_t at = n;
    unsigned cached = cache_waitfd(h, &w[n]);
    n += cached;
    /* the exec graders' pipes only wake the loop: wk_execgrade_io tries every busy one */
    size_t ne = wk_execgrade_fds(h->exec, h->execfds, need - n);
    for (size_t i = 0; i < ne; i++) w[n++] = h->execfds[i];
    if (poll(w, n, (int)wait) < 0 && errno != EINTR)
        return rs_err_set(err, "poll: %s", strerror(errno));
    if (cached) /* a hang-up or an error is read as input: the read finds out which */
        h->cache_revents = (short)(((w[at].revents & (POLLIN | POLLHUP | POLLERR)) ? POLLIN : 0) |
                                   (w[at].revents & POLLOUT));
    return 0;
}

void wk_http_url_server(const char *url, char **host, long *port)
{
    char *h = NULL, *pt = NULL;
    CURLU *u = curl_url();
    int64_t v = 0;
    *host = NULL;
    *port = 0;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
        if (curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK) *host = rs_xstrdup(h);
        if (curl_url_get(u, CURLUPART_PORT, &pt, CURLU_DEFAULT_PORT) == CURLUE_OK &&
            rs_parse_i64(pt, &v) == 0)
            *port = (long)v;
    }
    curl_free(h);
    curl_free(pt);
    curl_url_cleanup(u);
}
