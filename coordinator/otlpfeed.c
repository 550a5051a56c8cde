/* otlpfeed: a queue of result records and one exporter thread. */
#define _GNU_SOURCE
#include "otlpfeed.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "otlp.h"

#define QUEUE_MAX 100000
#define BATCH_SPANS 512

struct coord_otlpfeed {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    char **queue;
    size_t n, cap;
    int stopping;
    char *url, *run_id;
    size_t sent, dropped, failed_requests;
};

/* Sends the batch if it is full (or force), then starts a new one. */
static void send_batch(coord_otlpfeed_t *f, CURL *curl, struct curl_slist *h,
                       coord_otlp_batch_t *b, int force)
{
    size_t n = coord_otlp_count(b);
    if (n == 0 || (!force && n < BATCH_SPANS)) return;
    char *body = coord_otlp_dump(b);
    rs_err_t err;
    if (coord_otlp_post(curl, f->url, h, body, &err) == 0) f->sent += n;
    else if (f->failed_requests++ == 0) rs_warn("report.otlp: %s (spans stay in Redis)", err.msg);
    free(body);
    coord_otlp_batch_cleanup(b);
    coord_otlp_batch_init(b, f->run_id, RS_VERSION);
}

static void add_record(coord_otlpfeed_t *f, CURL *curl, struct curl_slist *h,
                       coord_otlp_batch_t *b, char *text)
{
    json_t *r = json_loads(text, 0, NULL);
    size_t i;
    json_t *span;
    json_array_foreach(json_object_get(r, "spans"), i, span) {
        coord_otlp_add(b, span);
        send_batch(f, curl, h, b, 0);
    }
    json_decref(r);
    free(text);
}

/* Takes the whole queue at once (or waits up to a second for some), then works unlocked. */
static size_t take(coord_otlpfeed_t *f, char ***items, int *stopping)
{
    pthread_mutex_lock(&f->lock);
    if (f->n == 0 && !f->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&f->wake, &f->lock, &until);
    }
    *items = f->queue;
    size_t n = f->n;
    f->queue = NULL;
    f->n = f->cap = 0;
    *stopping = f->stopping;
    pthread_mutex_unlock(&f->lock);
    return n;
}

static void *run(void *arg)
{
    coord_otlpfeed_t *f = arg;
    CURL *curl = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    coord_otlp_batch_t b;
    coord_otlp_batch_init(&b, f->run_id, RS_VERSION);
    for (;;) {
        char **items;
        int stopping;
        size_t n = take(f, &items, &stopping);
        for (size_t i = 0; i < n; i++) add_record(f, curl, h, &b, items[i]);
        free(items);
        /* A quiet run still ships what it has once a second. */
        send_batch(f, curl, h, &b, 1);
        if (stopping && n == 0) break;
    }
    coord_otlp_batch_cleanup(&b);
    curl_slist_free_all(h);
    curl_easy_cleanup(curl);
    return NULL;
}

coord_otlpfeed_t *coord_otlpfeed_start(const char *base_url, const char *run_id, rs_err_t *err)
{
    coord_otlpfeed_t *f = rs_xcalloc(1, sizeof(*f));
    f->url = coord_otlp_traces_url(base_url);
    f->run_id = rs_xstrdup(run_id);
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->wake, NULL);
    if (pthread_create(&f->thread, NULL, run, f) != 0) {
        rs_err_set(err, "report.otlp: cannot start the exporter thread");
        free(f->url);
        free(f->run_id);
        free(f);
        return NULL;
    }
    pthread_setname_np(f->thread, "rs-otlp");
    return f;
}

void coord_otlpfeed_push(coord_otlpfeed_t *f, const char *json, size_t len)
{
    pthread_mutex_lock(&f->lock);
    if (f->n >= QUEUE_MAX) {
        f->dropped++;
    } else {
        if (f->n == f->cap) {
            f->cap = f->cap ? 2 * f->cap : 1024;
            f->queue = rs_xrealloc(f->queue, f->cap * sizeof(char *));
        }
        f->queue[f->n++] = rs_xstrndup(json, len);
        pthread_cond_signal(&f->wake);
    }
    pthread_mutex_unlock(&f->lock);
}

void coord_otlpfeed_stop(coord_otlpfeed_t **fp)
{
    if (!fp || !*fp) return;
    coord_otlpfeed_t *f = *fp;
    pthread_mutex_lock(&f->lock);
    f->stopping = 1;
    pthread_cond_signal(&f->wake);
    pthread_mutex_unlock(&f->lock);
    pthread_join(f->thread, NULL);
    rs_info("report.otlp: exported %zu span(s) to %s%s", f->sent, f->url,
            f->dropped ? " (some results were not queued: the collector was too slow)" : "");
    for (size_t i = 0; i < f->n; i++) free(f->queue[i]);
    free(f->queue);
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->wake);
    free(f->url);
    free(f->run_id);
    free(f);
    *fp = NULL;
}
