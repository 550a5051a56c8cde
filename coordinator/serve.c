/* serve: the viewer's HTTP server; see serve.h and docs/VIEWER.md. */
#define _GNU_SOURCE
#include "serve.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "analysis.h"
#include "caseindex.h"
#include "config.h"
#include "dataset.h"
#include "jsonlidx.h"
#include "log.h"
#include "metrics.h"
#include "record.h"
#include "reportview.h"
#include "runref.h"
#include "stats.h"
#include "units.h"
#include "viewpage.h"

#define BATCH 500          /* records fetched per lock while indexing */
#define LIVE_POLL_MS 1000  /* a live run's index looks for new records this often */
#define OUTPUT_PREVIEW 200 /* characters of an output in a table row */

/* ---- one run ---- */

typedef struct run {
    char *id;
    pthread_mutex_t lock; /* everything below, and the store */
    pthread_cond_t opened_cv;
    int open_state;       /* 0 opening, 1 open, -1 failed (why) */
    const char *serve_out, *serve_redis; /* the server's, borrowed */
    coord_runref_t ref;   /* a run read from its files: only dir and manifest (made from them) */
    int opened;           /* ref is open (else why says why not) */
    coord_jsonlidx_reader_t *file; /* a finished run's results.jsonl, or NULL: read from Redis */
    char why[256];
    rs_config_t *cfg;
    coord_units_t units;
    coord_caseindex_t *ci;
    rs_dataset_t *ds;     /* opened on the first case view; NULL when it cannot be */
    int ds_tried;
    pthread_t builder;
    int building, stop;
    int waiting;          /* requests waiting for the lock (atomic): the builder lets them go first */
    uint64_t total;       /* units, from the manifest */
    json_t *clusters;     /* report.json's failure clusters (NULL: none, or no report yet) */
    int clusters_read;
    int cluster_n;        /* the cluster whose cases cluster_hits holds; -1 none */
    uint8_t *cluster_hits;
    uint64_t cluster_len;
    char *search_q;       /* the last text search and its hits */
    uint32_t search_as_of;
    uint8_t *search_hits;
    uint64_t search_len;
    struct run *next;
} run_t;

struct coord_serve {
    struct MHD_Daemon *daemon;
    char *out, *redis, *token;
    pthread_mutex_t lock; /* the list of runs */
    run_t *runs;
    int port;
};

static void run_close(run_t *r)
{
    if (r->building) {
        __atomic_store_n(&r->stop, 1, __ATOMIC_SEQ_CST);
        pthread_join(r->builder, NULL);
    }
    coord_caseindex_destroy(&r->ci);
    rs_dataset_destroy(&r->ds);
    rs_config_destroy(&r->cfg);
    if (r->opened) coord_runref_close(&r->ref);
    if (r->file) {
        coord_jsonlidx_reader_close(&r->file);
        json_decref(r->ref.manifest);
        free(r->ref.dir);
    }
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->opened_cv);
    free(r->search_q);
    free(r->search_hits);
    free(r->cluster_hits);
    json_decref(r->clusters);
    free(r->id);
    free(r);
}

/* A manifest count (0 when absent or negative). */
static uint64_t manifest_u64(json_t *man, const char *key)
{
    int64_t v = coord_manifest_int(man, key);
    return v > 0 ? (uint64_t)v : 0;
}

/* Whether the server is closing the run (its thread ends). */
static int stopping(run_t *r)
{
    return __atomic_load_n(&r->stop, __ATOMIC_SEQ_CST);
}

/* The stored records of units first .. first + n - 1, from results.jsonl for a finished run read
 * from its files, else from Redis: texts[i] a copy, or NULL when the unit has none. 0 / -1. */
static int run_texts(run_t *r, uint64_t first, size_t n, char **texts, rs_err_t *err)
{
    if (r->file) return coord_jsonlidx_reader_get(r->file, first, n, texts, err);
    return coord_store_results_get(r->ref.store, r->id, first, n, texts, err);
}

/* A request's lock on the run: the index builder, which takes the lock batch after batch, steps
 * aside while a request waits (a mutex is not fair: it would take it again at once). */
static void run_lock(run_t *r)
{
    __atomic_add_fetch(&r->waiting, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&r->lock);
    __atomic_sub_fetch(&r->waiting, 1, __ATOMIC_SEQ_CST);
}

static void builder_yield(run_t *r)
{
    for (int i = 0; i < 1000 && __atomic_load_n(&r->waiting, __ATOMIC_SEQ_CST); i++) usleep(200);
}

/* Adds the records of the cases not yet indexed, a batch per lock; 1 when the run is over. */
static int index_pass(run_t *r)
{
    pthread_mutex_lock(&r->lock);
    rs_err_t err;
    json_t *man = r->file ? json_incref(r->ref.manifest) : coord_store_run_get(r->ref.store, r->id, &err);
    if (!man) { /* its Redis went away with its coordinator: reopen_if_gone's turn */
        pthread_mutex_unlock(&r->lock);
        return 1;
    }
    json_decref(r->ref.manifest);
    r->ref.manifest = man;
    uint64_t total = manifest_u64(r->ref.manifest, "total");
    int live = strcmp(coord_manifest_str(r->ref.manifest, "status"), "running") == 0;
    r->total = total;
    coord_caseindex_snapshot(r->ci);
    pthread_mutex_unlock(&r->lock);
    rs_jdoc_t *doc = rs_jdoc_new();
    for (uint64_t first = 0; first < total && !stopping(r); first += BATCH) {
        size_t n = total - first < BATCH ? (size_t)(total - first) : BATCH;
        char *texts[BATCH];
        pthread_mutex_lock(&r->lock);
        size_t missing = 0;
        for (size_t i = 0; i < n; i++) missing += !coord_caseindex_has(r->ci, first + i);
        if (missing && run_texts(r, first, n, texts, &err) == 0)
            for (size_t i = 0; i < n; i++) {
                const char *json;
                size_t len;
                if (texts[i] && !coord_caseindex_has(r->ci, first + i) &&
                    coord_record_unwrap(texts[i], strlen(texts[i]), &json, &len, &err) == 0) {
                    const rs_jv_t *rec = coord_record_read(doc, json, len, first + i, NULL,
                                                           r->cfg, COORD_RECORD_SKIP_SPANS, &err);
                    if (rec) coord_caseindex_add(r->ci, first + i, rec);
                }
                free(texts[i]);
            }
        pthread_mutex_unlock(&r->lock);
        builder_yield(r);
    }
    rs_jdoc_free(&doc);
    return !live;
}

static int run_open(run_t *r);

/* A live run's Redis goes away with its coordinator: once the run's manifest cannot be read, the
 * run is opened again (from its directory: a private redis-server, started by this thread), and
 * the new connection replaces the old under the lock. */
static int reopen_if_gone(run_t *r)
{
    rs_err_t err;
    run_lock(r);
    json_t *man = coord_store_run_get(r->ref.store, r->id, &err);
    pthread_mutex_unlock(&r->lock);
    if (man) {
        json_decref(man);
        return 0;
    }
    coord_runref_t fresh, old;
    if (coord_runref_open(&fresh, r->serve_out, r->id, r->serve_redis, &err)) return 0; /* later */
    run_lock(r);
    old = r->ref;
    r->ref = fresh;
    free(r->search_q); /* a search's hits are kept per connection's snapshot: start afresh */
    r->search_q = NULL;
    pthread_mutex_unlock(&r->lock);
    coord_runref_close(&old);
    return 1;
}

/* The run's own thread: it opens the run (a private redis-server it starts dies with the thread
 * that started it, PR_SET_PDEATHSIG, so that thread must live as long as the server does), then
 * indexes its records, again every second while the run is live, and waits for the end. */
static void *builder_main(void *arg)
{
    run_t *r = arg;
    int rc = run_open(r);
    pthread_mutex_lock(&r->lock);
    r->open_state = rc == 0 ? 1 : -1;
    pthread_cond_broadcast(&r->opened_cv);
    pthread_mutex_unlock(&r->lock);
    int over = rc != 0;
    while (!stopping(r)) {
        if (!over) over = index_pass(r);
        else if (rc == 0 && !r->file && reopen_if_gone(r)) over = 0; /* index what it stored last */
        for (int i = 0; i < LIVE_POLL_MS / 50 && !stopping(r); i++) usleep(50 * 1000);
    }
    return NULL;
}

/* A manifest (an object of strings, as Redis holds it) made from a finished run's report.json,
 * or NULL when dir has none. */
static json_t *manifest_of_report(const char *dir, const char *config, uint64_t total)
{
    char *path = rs_xasprintf("%s/report.json", dir);
    json_t *rep = json_load_file(path, 0, NULL), *m = NULL;
    free(path);
    const char *status = coord_jstr_or(rep, "status", "running");
    /* a status is a plain word (it goes into an event as it is) */
    int plain = *status != '\0' && strspn(status, "abcdefghijklmnopqrstuvwxyz_") == strlen(status);
    if (json_is_object(rep) && plain && strcmp(status, "running") != 0) {
        char n[24], started[24];
        snprintf(n, sizeof(n), "%llu", (unsigned long long)total);
        snprintf(started, sizeof(started), "%lld",
                 (long long)json_integer_value(json_object_get(rep, "started_at_ms")));
        m = json_pack("{ssssssssssssss}", "name", coord_jstr_or(rep, "name", ""), "status", status,
                      "config", config, "total", n, "done", n, "failed", "0", "started_at",
                      started);
    }
    json_decref(rep);
    return m;
}

/* A finished run read from its directory alone (report.json, config.json, results.jsonl and
 * results.idx, written at its end; a resume removes results.idx first): no Redis to start, and
 * every case indexed from results.idx's rows at once. 0, or -1 when the directory does not hold
 * all of them. */
static int open_files(run_t *r)
{
    rs_err_t err;
    char *dir = rs_xasprintf("%s/%s", r->serve_out, r->id), *config = NULL, *path;
    size_t len;
    path = rs_xasprintf("%s/config.json", dir);
    if (rs_read_file(path, &config, &len, &err) == 0 &&
        (r->cfg = rs_config_from_json(config, &err)) != NULL) {
        r->ci = coord_caseindex_new(r->cfg);
        r->file = coord_jsonlidx_reader_open(dir, r->ci, &err);
    }
    if (r->file)
        r->ref.manifest = manifest_of_report(dir, config, coord_jsonlidx_reader_total(r->file));
    free(path);
    free(config);
    if (!r->ref.manifest) {
        coord_jsonlidx_reader_close(&r->file);
        coord_caseindex_destroy(&r->ci);
        rs_config_destroy(&r->cfg);
        free(dir);
        return -1;
    }
    r->ref.dir = dir;
    return 0;
}

/* Opens run r->id (its files when it is over, else its Redis; config and index); 0, or -1 with
 * r->why. */
static int run_open(run_t *r)
{
    rs_err_t err;
    if (open_files(r) == 0) {
        r->total = coord_jsonlidx_reader_total(r->file);
        coord_units_init(&r->units, r->cfg, 0);
        return 0;
    }
    if (coord_runref_open(&r->ref, r->serve_out, r->id, r->serve_redis, &err)) {
        snprintf(r->why, sizeof(r->why), "%.250s", err.msg);
        return -1;
    }
    r->opened = 1;
    r->cfg = rs_config_from_json(coord_manifest_str(r->ref.manifest, "config"), &err);
    if (!r->cfg) {
        snprintf(r->why, sizeof(r->why), "its stored config: %.200s", err.msg);
        return -1;
    }
    r->ci = coord_caseindex_new(r->cfg);
    r->total = manifest_u64(r->ref.manifest, "total");
    coord_units_init(&r->units, r->cfg, 0);
    return 0;
}

/* Reads the run's manifest again (its counts move while it runs); 0 when its Redis is gone. */
static int manifest_fresh(run_t *r)
{
    if (r->file) return 1; /* over: it does not move */
    rs_err_t err;
    run_lock(r);
    json_t *man = coord_store_run_get(r->ref.store, r->id, &err);
    if (man) {
        json_decref(r->ref.manifest);
        r->ref.manifest = man;
    }
    pthread_mutex_unlock(&r->lock);
    return man != NULL;
}

/* The run named id, opened on first use; NULL (with why) when there is none or it cannot be read. */
static run_t *run_get(coord_serve_t *s, const char *id, char *why, size_t why_len)
{
    pthread_mutex_lock(&s->lock);
    run_t *r = s->runs;
    while (r && strcmp(r->id, id) != 0) r = r->next;
    if (!r) {
        r = rs_xcalloc(1, sizeof(*r));
        r->id = rs_xstrdup(id);
        r->serve_out = s->out;
        r->serve_redis = s->redis;
        pthread_mutex_init(&r->lock, NULL);
        pthread_cond_init(&r->opened_cv, NULL);
        if (pthread_create(&r->builder, NULL, builder_main, r) == 0) r->building = 1;
        pthread_mutex_lock(&r->lock);
        while (r->building && r->open_state == 0) pthread_cond_wait(&r->opened_cv, &r->lock);
        pthread_mutex_unlock(&r->lock);
        if (r->open_state != 1) {
            snprintf(why, why_len, "%s", r->building ? r->why : "cannot start a thread");
            run_close(r);
            pthread_mutex_unlock(&s->lock);
            return NULL;
        }
        r->next = s->runs;
        s->runs = r;
    }
    pthread_mutex_unlock(&s->lock);
    /* a live run whose coordinator just ended: its thread opens it again within a second */
    for (int i = 0; i < 50 && !manifest_fresh(r); i++) usleep(100 * 1000);
    return r;
}

/* ---- responses ---- */

typedef struct req {
    coord_serve_t *s;
    struct MHD_Connection *conn;
} req_t;

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status, const char *type,
                                 const char *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    enum MHD_Result rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status, json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    enum MHD_Result rc = send_text(conn, status, "application/json; charset=utf-8", text,
                                   strlen(text));
    free(text);
    return rc;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, const char *fmt,
                                  ...) __attribute__((format(printf, 3, 4)));
static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    char *safe = rs_sanitize(msg, sizeof(msg));
    enum MHD_Result rc = send_json(conn, status, json_pack("{ss}", "error", safe));
    free(safe);
    return rc;
}

static const char *param(void *arg, const char *name)
{
    return MHD_lookup_connection_value(arg, MHD_GET_ARGUMENT_KIND, name);
}

/* ---- GET /api/runs ---- */

/* A finished run's row from its report.json, without Redis. */
static json_t *row_from_report(const char *dir, const char *id)
{
    char *path = rs_xasprintf("%s/report.json", dir);
    json_t *rep = json_load_file(path, 0, NULL);
    free(path);
    if (!json_is_object(rep)) return json_decref(rep), NULL;
    json_t *acc = json_object(), *m;
    double cost = 0;
    uint64_t cases = 0;
    size_t i;
    json_array_foreach(json_object_get(rep, "models"), i, m)
    {
        json_t *g = json_array_get(json_object_get(m, "graders"), 0);
        json_object_set(acc, coord_jstr_or(m, "name", ""), json_object_get(g, "accuracy"));
        cost += json_number_value(json_object_get(m, "cost_usd"));
        cases = (uint64_t)json_integer_value(json_object_get(m, "cases"));
    }
    json_t *row = json_pack("{sssssssIsIsIsO?sfsosbsb}", "run_id", id, "name",
                            coord_jstr_or(rep, "name", ""), "status",
                            coord_jstr_or(rep, "status", ""), "done", (json_int_t)cases, "total",
                            (json_int_t)cases, "failed", (json_int_t)0, "started_at_ms",
                            json_object_get(rep, "started_at_ms"), "cost_usd", cost, "accuracy",
                            acc, "report_html", 0, "live", 0);
    char *html = rs_xasprintf("%s/report.html", dir);
    json_object_set_new(row, "report_html", json_boolean(access(html, R_OK) == 0));
    free(html);
    json_decref(rep);
    return row;
}

/* A run's row from its manifest (running, or stopped before its end, or only in a Redis). */
static json_t *row_from_manifest(const char *id, json_t *man)
{
    int64_t started = 0;
    rs_parse_i64(coord_manifest_str(man, "started_at"), &started);
    json_t *row = json_pack("{sssssssIsIsIsIsfs{}sbsb}", "run_id", id, "name",
                            coord_manifest_str(man, "name"), "status", coord_manifest_str(man, "status"),
                            "done", (json_int_t)manifest_u64(man, "done"), "total",
                            (json_int_t)manifest_u64(man, "total"), "failed",
                            (json_int_t)manifest_u64(man, "failed"), "started_at_ms",
                            (json_int_t)started, "cost_usd", 0.0, "accuracy", "report_html", 0,
                            "live", strcmp(coord_manifest_str(man, "status"), "running") == 0);
    return row;
}

static json_t *row_from_run(coord_serve_t *s, const char *id)
{
    char why[256];
    run_t *r = run_get(s, id, why, sizeof(why));
    if (!r) return NULL;
    run_lock(r);
    json_t *row = row_from_manifest(id, r->ref.manifest), *acc = json_object_get(row, "accuracy");
    for (size_t m = 0; m < r->cfg->n_models; m++) {
        double a = coord_caseindex_accuracy(r->ci, m); /* of the results indexed so far */
        if (a >= 0) json_object_set_new(acc, r->cfg->models[m].name, json_real(a));
    }
    pthread_mutex_unlock(&r->lock);
    return row;
}

static int by_start_desc(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "started_at_ms"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "started_at_ms"));
    return (x < y) - (x > y);
}

static void add_dir_runs(coord_serve_t *s, json_t *rows)
{
    DIR *d = opendir(s->out);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *dir = rs_xasprintf("%s/%s", s->out, e->d_name), *rj = rs_xasprintf("%s/run.json", dir);
        if (access(rj, R_OK) == 0) {
            json_t *row = row_from_report(dir, e->d_name);
            if (!row) row = row_from_run(s, e->d_name);
            if (row) json_array_append_new(rows, row);
        }
        free(dir);
        free(rj);
    }
    if (d) closedir(d);
}

static int listed(json_t *rows, const char *id)
{
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) if (strcmp(coord_jstr_or(row, "run_id", ""), id) == 0) return 1;
    return 0;
}

/* --redis: the runs that Redis records (rs:runs) and the directory does not have. */
static void add_redis_runs(coord_serve_t *s, json_t *rows)
{
    coord_store_opts_t o;
    json_t *info, *ids = NULL, *id;
    rs_err_t err;
    coord_runref_redis(NULL, s->redis, &o, &info, &err);
    coord_store_t *st = coord_store_open(&o, &err);
    json_decref(info);
    if (st) ids = coord_store_runs(st, 1000, &err);
    if (!ids) rs_warn("--redis: cannot list its runs: %s", err.msg);
    size_t i;
    json_array_foreach(ids, i, id)
    {
        const char *rid = json_string_value(id);
        json_t *man = listed(rows, rid) ? NULL : coord_store_run_get(st, rid, &err);
        if (man) json_array_append_new(rows, row_from_manifest(rid, man));
        json_decref(man);
    }
    json_decref(ids);
    coord_store_destroy(&st);
}

static enum MHD_Result api_runs(req_t *q)
{
    json_t *rows = json_array();
    add_dir_runs(q->s, rows);
    if (q->s->redis) add_redis_runs(q->s, rows);
    size_t n = json_array_size(rows);
    json_t **v = rs_xmalloc((n ? n : 1) * sizeof(json_t *));
    for (size_t i = 0; i < n; i++) v[i] = json_incref(json_array_get(rows, i));
    qsort(v, n, sizeof(json_t *), by_start_desc);
    json_array_clear(rows);
    for (size_t i = 0; i < n; i++) json_array_append_new(rows, v[i]);
    free(v);
    return send_json(q->conn, MHD_HTTP_OK, json_pack("{so}", "runs", rows));
}

/* ---- GET /api/runs/{id} ---- */

static json_t *run_clusters(run_t *r);

static enum MHD_Result api_run(req_t *q, run_t *r)
{
    run_lock(r);
    json_t *man = r->ref.manifest, *o = coord_caseindex_facets(r->ci);
    json_t *graders = json_array();
    for (size_t g = 0; g < r->cfg->scoring.n_graders; g++)
        json_array_append_new(graders, json_string(r->cfg->scoring.graders[g].name));
    json_object_set_new(o, "run_id", json_string(r->id));
    json_object_set_new(o, "name", json_string(coord_manifest_str(man, "name")));
    json_object_set_new(o, "status", json_string(coord_manifest_str(man, "status")));
    json_object_set_new(o, "done", json_integer((json_int_t)manifest_u64(man, "done")));
    json_object_set_new(o, "total", json_integer((json_int_t)r->total));
    json_object_set_new(o, "graders", graders);
    json_object_set_new(o, "indexed", json_integer((json_int_t)coord_caseindex_count(r->ci)));
    json_object_set_new(o, "clusters", json_integer((json_int_t)json_array_size(run_clusters(r))));
    pthread_mutex_unlock(&r->lock);
    return send_json(q->conn, MHD_HTTP_OK, o);
}

/* ---- text search ---- */

static int record_has(const char *stored, const char *needle)
{
    return stored && strstr(stored, needle) != NULL;
}

/* The dataset, opened on first need (a case's prompt, a text search); NULL when unreadable. */
static rs_dataset_t *run_dataset(run_t *r)
{
    if (!r->ds_tried) {
        rs_err_t err;
        r->ds_tried = 1;
        r->ds = rs_dataset_open(r->cfg, &err);
        if (!r->ds) rs_warn("run %s: its dataset is not readable here: %s", r->id, err.msg);
    }
    return r->ds;
}

/* The cases whose stored record or dataset record holds q, as a bitmap kept for the next page
 * of the same search. Runs under the run's lock. */
static void search(run_t *r, const char *q)
{
    uint32_t as_of = coord_caseindex_as_of(r->ci);
    if (r->search_q && strcmp(r->search_q, q) == 0 && r->search_as_of == as_of) return;
    free(r->search_q);
    free(r->search_hits);
    uint64_t span = coord_caseindex_span(r->ci);
    r->search_q = rs_xstrdup(q);
    r->search_as_of = as_of;
    r->search_len = span;
    r->search_hits = rs_xcalloc(span / 8 + 1, 1);
    rs_dataset_t *ds = run_dataset(r);
    rs_err_t err;
    for (uint64_t first = 0; first < span; first += BATCH) {
        size_t n = span - first < BATCH ? (size_t)(span - first) : BATCH;
        char *texts[BATCH];
        if (run_texts(r, first, n, texts, &err)) break;
        for (size_t i = 0; i < n; i++) {
            uint64_t idx = first + i, case_idx;
            int hit = record_has(texts[i], q);
            free(texts[i]);
            if (!hit && ds) {
                coord_units_split(&r->units, idx, &case_idx, NULL, NULL);
                char *rec = rs_dataset_record(ds, case_idx, NULL);
                hit = record_has(rec, q);
                free(rec);
            }
            if (hit) r->search_hits[idx >> 3] |= (uint8_t)(1u << (idx & 7));
        }
    }
}

/* report.json's failure clusters, read once the run has a report. */
static json_t *run_clusters(run_t *r)
{
    if (!r->clusters_read && r->ref.dir) {
        char *path = rs_xasprintf("%s/report.json", r->ref.dir);
        json_t *rep = json_load_file(path, 0, NULL);
        free(path);
        if (rep) {
            r->clusters_read = 1;
            r->clusters = json_incref(json_object_get(rep, "clusters"));
            r->cluster_n = -1;
        }
        json_decref(rep);
    }
    return r->clusters;
}

/* Cluster n's cases as a bitmap (kept for the next page). -1 when there is no such cluster. */
static int cluster_cases(run_t *r, int n)
{
    json_t *c = json_array_get(run_clusters(r), (size_t)n), *v;
    if (!c) return -1;
    if (r->cluster_n == n) return 0;
    free(r->cluster_hits);
    r->cluster_len = coord_caseindex_span(r->ci);
    r->cluster_hits = rs_xcalloc(r->cluster_len / 8 + 1, 1);
    r->cluster_n = n;
    size_t i;
    json_array_foreach(json_object_get(c, "cases"), i, v)
    {
        json_int_t idx = json_integer_value(v);
        if (idx >= 0 && (uint64_t)idx < r->cluster_len)
            r->cluster_hits[idx >> 3] |= (uint8_t)(1u << (idx & 7));
    }
    return 0;
}

/* The query of a request's parameters, the text search resolved; -1 with err. */
static int query_of(req_t *q, run_t *r, coord_ci_query_t *cq, rs_err_t *err)
{
    if (coord_caseindex_parse(r->ci, param, q->conn, cq, err)) return -1;
    const char *text = param(q->conn, "q"), *cl = param(q->conn, "cluster");
    int64_t n;
    if (cl && *cl && (rs_parse_i64(cl, &n) || n < 0 || n > 1000 || cluster_cases(r, (int)n) < 0))
        return rs_err_set(err, "cluster: '%.50s' is not one of the report's failure clusters", cl);
    if (cl && *cl) {
        cq->also = r->cluster_hits;
        cq->also_len = r->cluster_len;
    }
    if (text && *text) {
        search(r, text);
        cq->only = r->search_hits;
        cq->only_len = r->search_len;
    }
    return 0;
}

static int parse_u64_param(req_t *q, const char *name, uint64_t dflt, uint64_t max, uint64_t *out)
{
    const char *v = param(q->conn, name);
    int64_t n;
    if (!v || !*v) return *out = dflt, 0;
    if (rs_parse_i64(v, &n) || n < 0 || (uint64_t)n > max) return -1;
    *out = (uint64_t)n;
    return 0;
}

/* ---- GET /api/runs/{id}/cases ---- */

/* The first max characters of s, cut on a character boundary (heap). */
static char *preview(const char *s, size_t max)
{
    if (!s) return NULL;
    size_t n = 0, chars = 0;
    while (s[n] && chars < max) {
        n++;
        while (((unsigned char)s[n] & 0xC0) == 0x80) n++;
        chars++;
    }
    return rs_xstrndup(s, n);
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *model_row(const rs_jv_t *entry, const char *grader)
{
    const rs_jv_t *c0 = rs_jv_at(rs_jv_get(entry, "candidates"), 0);
    coord_strategy_ref_t s[COORD_MAX_STRATEGIES];
    coord_strategies_of(entry, s, COORD_MAX_STRATEGIES);
    static const char *const names[] = {"correct", "wrong", "error", "skipped"};
    char *out = preview(rs_jv_str(rs_jv_get(c0, "output")), OUTPUT_PREVIEW);
    json_t *o = json_pack("{ssso?soso?so?}", "verdict",
                          names[coord_strategy_verdict(&s[0], grader)], "extracted",
                          rs_jv_json(rs_jv_get(c0, "extracted")), "output", str_or_null(out),
                          "latency_ms", rs_jv_json(rs_jv_get(c0, "latency_ms")), "output_tokens",
                          rs_jv_json(rs_jv_get(c0, "output_tokens")));
    json_t *type = rs_jv_json(rs_jv_get(entry, "error_type"));
    if (type) json_object_set_new(o, "error_type", type);
    free(out);
    return o;
}

/* One row of the table from the stored record of case idx. */
static json_t *case_row(run_t *r, rs_jdoc_t *doc, uint64_t idx, const char *stored)
{
    const char *json;
    size_t len;
    rs_err_t err;
    const rs_jv_t *rec = NULL, *e;
    if (stored && coord_record_unwrap(stored, strlen(stored), &json, &len, &err) == 0)
        rec = coord_record_read(doc, json, len, idx, NULL, r->cfg, COORD_RECORD_SKIP_SPANS, &err);
    json_t *models = json_object();
    size_t i;
    rs_jv_array_foreach(rs_jv_get(rec, "models"), i, e) {
        const char *name = rs_jv_str(rs_jv_get(e, "model"));
        json_object_set_new(models, name ? name : "", model_row(e, r->cfg->scoring.graders[0].name));
    }
    return json_pack("{sIso?so?so?so?so}", "idx", (json_int_t)idx, "id",
                     rs_jv_json(rs_jv_get(rec, "id")), "prompt", rs_jv_json(rs_jv_get(rec, "prompt")),
                     "epoch", rs_jv_json(rs_jv_get(rec, "epoch")), "tags",
                     rs_jv_json(rs_jv_get(rec, "tags")), "models", models);
}

static enum MHD_Result api_cases(req_t *q, run_t *r)
{
    coord_ci_query_t cq;
    rs_err_t err;
    uint64_t offset, limit;
    if (parse_u64_param(q, "offset", 0, UINT32_MAX, &offset) ||
        parse_u64_param(q, "limit", 50, COORD_CI_MAX_LIMIT, &limit) || limit == 0)
        return send_error(q->conn, MHD_HTTP_BAD_REQUEST, "offset / limit: a number (limit 1 .. %d)",
                          COORD_CI_MAX_LIMIT);
    run_lock(r);
    if (query_of(q, r, &cq, &err)) {
        pthread_mutex_unlock(&r->lock);
        return send_error(q->conn, MHD_HTTP_BAD_REQUEST, "%s", err.msg);
    }
    if (!cq.as_of) cq.as_of = coord_caseindex_as_of(r->ci);
    uint64_t page[COORD_CI_MAX_LIMIT];
    size_t n;
    json_t *counts;
    uint64_t total = coord_caseindex_query(r->ci, &cq, offset, (size_t)limit, page, &n, &counts);
    json_t *rows = json_array();
    rs_jdoc_t *doc = rs_jdoc_new();
    for (size_t i = 0; i < n; i++) {
        char *text = NULL;
        if (run_texts(r, page[i], 1, &text, &err))
            rs_warn("run %s: case %llu: %s", r->id, (unsigned long long)page[i], err.msg);
        json_array_append_new(rows, case_row(r, doc, page[i], text));
        free(text);
    }
    rs_jdoc_free(&doc);
    uint64_t indexed = coord_caseindex_count(r->ci);
    pthread_mutex_unlock(&r->lock);
    return send_json(q->conn, MHD_HTTP_OK,
                     json_pack("{sIsIsIsIsIsoso}", "total", (json_int_t)total, "offset",
                               (json_int_t)offset, "limit", (json_int_t)limit, "as_of",
                               (json_int_t)cq.as_of, "indexed", (json_int_t)indexed, "cases", rows,
                               "counts", counts));
}

/* ---- GET /api/runs/{id}/cases/{idx} ---- */

static json_t *prompt_json(run_t *r, uint64_t idx)
{
    rs_dataset_t *ds = run_dataset(r);
    rs_case_t c;
    rs_err_t err;
    if (!ds || coord_units_read(&r->units, ds, idx, &c, &err) != 0) return json_null();
    json_t *a = json_array();
    for (size_t i = 0; i < c.n_msgs; i++)
        json_array_append_new(a, json_pack("{ssss}", "role", c.msgs[i].role ? c.msgs[i].role : "user",
                                           "content", c.msgs[i].content ? c.msgs[i].content : ""));
    rs_case_cleanup(&c);
    return a;
}

static enum MHD_Result api_case(req_t *q, run_t *r, uint64_t idx)
{
    coord_ci_query_t cq;
    rs_err_t err;
    run_lock(r);
    if (query_of(q, r, &cq, &err)) {
        pthread_mutex_unlock(&r->lock);
        return send_error(q->conn, MHD_HTTP_BAD_REQUEST, "%s", err.msg);
    }
    char *text = NULL;
    const char *json;
    size_t len;
    json_t *rec = NULL;
    if (run_texts(r, idx, 1, &text, &err) == 0 && text &&
        coord_record_unwrap(text, strlen(text), &json, &len, &err) == 0)
        rec = coord_record_load(json, len, idx, NULL, r->cfg, 0, &err);
    if (rec) { /* checked, trace included; the check's object leaves the trace out */
        json_decref(rec);
        rec = json_loadb(json, len, 0, NULL);
    }
    free(text);
    if (!rec) {
        pthread_mutex_unlock(&r->lock);
        return send_error(q->conn, MHD_HTTP_NOT_FOUND, "case %llu of run %s has no readable result",
                          (unsigned long long)idx, r->id);
    }
    int64_t prev, next;
    coord_caseindex_neighbours(r->ci, &cq, idx, &prev, &next);
    json_t *o = json_pack("{sIsO?sosososo}", "idx", (json_int_t)idx, "id", json_object_get(rec, "id"),
                          "prompt", prompt_json(r, idx), "record", rec, "prev",
                          prev < 0 ? json_null() : json_integer(prev), "next",
                          next < 0 ? json_null() : json_integer(next));
    pthread_mutex_unlock(&r->lock);
    return send_json(q->conn, MHD_HTTP_OK, o);
}

/* ---- GET /api/compare ---- */

typedef struct side {
    run_t *run;
    int model;
} side_t;

/* The unit's pairing key: its case id, prompt variant and epoch. */
static uint64_t pair_key(const run_t *r, uint64_t idx)
{
    uint32_t v, e;
    coord_units_split(&r->units, idx, NULL, &v, &e);
    uint64_t k[3] = {coord_caseindex_id_hash(r->ci, idx), v, e};
    return XXH64(k, sizeof(k), 0) | 1; /* 0 marks an empty slot */
}

/* b's indexed units by pairing key, open addressing (keys[i] == 0: empty). */
typedef struct pairmap {
    uint64_t *keys, *idx;
    size_t cap;
} pairmap_t;

static void pairmap_build(pairmap_t *pm, const run_t *b)
{
    uint64_t span = coord_caseindex_span(b->ci);
    pm->cap = 16;
    while (pm->cap < 2 * span) pm->cap *= 2;
    pm->keys = rs_xcalloc(pm->cap, sizeof(uint64_t));
    pm->idx = rs_xmalloc(pm->cap * sizeof(uint64_t));
    for (uint64_t i = 0; i < span; i++) {
        if (!coord_caseindex_has(b->ci, i)) continue;
        uint64_t k = pair_key(b, i);
        size_t h = (size_t)(k & (pm->cap - 1));
        while (pm->keys[h] && pm->keys[h] != k) h = (h + 1) & (pm->cap - 1);
        if (!pm->keys[h]) pm->keys[h] = k, pm->idx[h] = i; /* a duplicate id keeps the first */
    }
}

static int64_t pairmap_find(const pairmap_t *pm, uint64_t k)
{
    for (size_t h = (size_t)(k & (pm->cap - 1)); pm->keys[h]; h = (h + 1) & (pm->cap - 1))
        if (pm->keys[h] == k) return (int64_t)pm->idx[h];
    return -1;
}

static json_t *compare_json(side_t *a, side_t *b, uint64_t offset, uint64_t limit)
{
    static const char *const names[] = {"correct", "wrong", "error", "skipped"};
    pairmap_t pm;
    pairmap_build(&pm, b->run);
    uint64_t t[4] = {0}, total = 0; /* both, only a, only b, neither */
    json_t *cases = json_array();
    for (uint64_t i = 0; i < coord_caseindex_span(a->run->ci); i++) {
        if (!coord_caseindex_has(a->run->ci, i)) continue;
        int64_t j = a->run == b->run ? (int64_t)i : pairmap_find(&pm, pair_key(a->run, i));
        if (j < 0) continue;
        int va = coord_caseindex_verdict(a->run->ci, i, (size_t)a->model);
        int vb = coord_caseindex_verdict(b->run->ci, (uint64_t)j, (size_t)b->model);
        if ((va != COORD_V_CORRECT && va != COORD_V_WRONG) ||
            (vb != COORD_V_CORRECT && vb != COORD_V_WRONG))
            continue;
        t[va == COORD_V_CORRECT ? (vb == COORD_V_CORRECT ? 0 : 1) : (vb == COORD_V_CORRECT ? 2 : 3)]++;
        if (va == vb) continue;
        if (total >= offset && total < offset + limit)
            json_array_append_new(cases, json_pack("{sIsIssss}", "a_idx", (json_int_t)i, "b_idx",
                                                   (json_int_t)j, "a", names[va], "b", names[vb]));
        total++;
    }
    free(pm.keys);
    free(pm.idx);
    rs_mcnemar_t mc;
    rs_mcnemar(t[1], t[2], &mc);
    return json_pack("{sIsIsIsIsIsfsIso}", "pairs", (json_int_t)(t[0] + t[1] + t[2] + t[3]),
                     "both_correct", (json_int_t)t[0], "only_a", (json_int_t)t[1], "only_b",
                     (json_int_t)t[2], "both_wrong", (json_int_t)t[3], "mcnemar_p", mc.exact_p,
                     "total", (json_int_t)total, "cases", cases);
}

static int side_of(req_t *q, const char *run_key, const char *model_key, side_t *sd, char *why,
                   size_t why_len)
{
    const char *id = param(q->conn, run_key), *model = param(q->conn, model_key);
    if (!id || !*id) return snprintf(why, why_len, "%s: the run to compare", run_key), -1;
    if (!(sd->run = run_get(q->s, id, why, why_len))) return -1;
    sd->model = model && *model ? coord_caseindex_model(sd->run->ci, model) : 0;
    if (sd->model < 0) return snprintf(why, why_len, "%s: run %s has no model '%.100s'", model_key,
                                       id, model), -1;
    return 0;
}

static enum MHD_Result api_compare(req_t *q)
{
    side_t a, b;
    char why[300];
    uint64_t offset, limit;
    if (side_of(q, "a", "model_a", &a, why, sizeof(why)) ||
        side_of(q, "b", "model_b", &b, why, sizeof(why)))
        return send_error(q->conn, MHD_HTTP_BAD_REQUEST, "%s", why);
    if (parse_u64_param(q, "offset", 0, UINT32_MAX, &offset) ||
        parse_u64_param(q, "limit", 50, COORD_CI_MAX_LIMIT, &limit))
        return send_error(q->conn, MHD_HTTP_BAD_REQUEST, "offset / limit: a number");
    run_t *first = a.run < b.run ? a.run : b.run, *second = a.run < b.run ? b.run : a.run;
    run_lock(first); /* in address order: two requests never deadlock */
    if (second != first) run_lock(second);
    json_t *o = compare_json(&a, &b, offset, limit);
    if (second != first) pthread_mutex_unlock(&second->lock);
    pthread_mutex_unlock(&first->lock);
    return send_json(q->conn, MHD_HTTP_OK, o);
}

/* ---- GET /api/runs/{id}/events ---- */

/* Server-Sent Events: the run's own progress events (rs:run:<id>:events, docs/REDIS.md),
 * forwarded as they are published, after one made from the manifest so that the reader starts
 * from the present; a comment line every second otherwise, so that a reader that went away is
 * noticed. The stream ends after the run's status event (or, should the coordinator have died
 * without one, once the manifest says the run is no longer running). */
typedef struct stream {
    run_t *run;
    coord_store_t *sub; /* NULL until subscribed */
    int started, ended, quiet;
} stream_t;

static void stream_free(void *cls)
{
    stream_t *st = cls;
    coord_store_destroy(&st->sub);
    free(st);
}

/* The manifest's state as an event (progress while running, else status); 1 while running. When
 * sub is given and the run is running, *sub gets a subscription to its events. */
static int manifest_event(run_t *r, char *out, size_t max, coord_store_t **sub)
{
    rs_err_t err;
    run_lock(r);
    json_t *man = r->file ? json_incref(r->ref.manifest) : coord_store_run_get(r->ref.store, r->id, &err);
    const char *status = coord_manifest_str(man, "status");
    int running = man && strcmp(status, "running") == 0;
    unsigned long long done = manifest_u64(man, "done"), total = manifest_u64(man, "total");
    if (running)
        snprintf(out, max, "{\"type\":\"progress\",\"run_id\":\"%s\",\"done\":%llu,"
                           "\"total\":%llu,\"failed\":%llu}",
                 r->id, done, total, (unsigned long long)manifest_u64(man, "failed"));
    else
        snprintf(out, max, "{\"type\":\"status\",\"run_id\":\"%s\",\"status\":\"%.40s\","
                           "\"done\":%llu,\"total\":%llu}",
                 r->id, man ? status : "unknown", done, total);
    json_decref(man);
    if (running && sub) {
        char *channel = rs_xasprintf("rs:run:%s:events", r->id);
        *sub = coord_store_subscribe(r->ref.store, channel, &err);
        free(channel);
    }
    pthread_mutex_unlock(&r->lock);
    return running;
}

/* A published event ends the stream when it is the run's status other than running. */
static int ends_stream(const char *event)
{
    json_t *e = json_loads(event, 0, NULL);
    const char *type = json_string_value(json_object_get(e, "type"));
    const char *status = json_string_value(json_object_get(e, "status"));
    int end = type && strcmp(type, "status") == 0 && status && strcmp(status, "running") != 0;
    json_decref(e);
    return end;
}

static ssize_t sse(char *buf, size_t max, const char *event)
{
    int n = snprintf(buf, max, "data: %s\n\n", event);
    return n > 0 && (size_t)n < max ? n : MHD_CONTENT_READER_END_WITH_ERROR;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream_t *st = cls;
    char event[512];
    if (st->ended) return MHD_CONTENT_READER_END_OF_STREAM;
    if (!st->started) {
        st->started = 1;
        st->ended = !manifest_event(st->run, event, sizeof(event), &st->sub) || !st->sub;
        return sse(buf, max, event);
    }
    int timed_out;
    char *msg = coord_store_next_message(st->sub, 1000, &timed_out);
    if (msg) {
        st->quiet = 0;
        st->ended = ends_stream(msg);
        ssize_t n = strlen(msg) + 9 < max ? sse(buf, max, msg) : snprintf(buf, max, ": -\n\n");
        free(msg);
        return n;
    }
    /* quiet for 5 s, or the subscription failed: ask the manifest whether the run still runs */
    if (!timed_out || ++st->quiet % 5 == 0) {
        int running = manifest_event(st->run, event, sizeof(event), NULL);
        if (!running || !timed_out) {
            st->ended = 1;
            return running ? MHD_CONTENT_READER_END_OF_STREAM : sse(buf, max, event);
        }
    }
    return snprintf(buf, max, ": waiting\n\n");
}

static enum MHD_Result api_events(req_t *q, run_t *r)
{
    stream_t *st = rs_xcalloc(1, sizeof(*st));
    st->run = r;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st, stream_free);
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    enum MHD_Result rc = MHD_queue_response(q->conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* ---- files ---- */

/* A run id as it may appear in a path: a plain name. */
static int plain_id(const char *id, size_t len)
{
    if (len == 0 || len > 200 || id[0] == '.') return 0;
    for (size_t i = 0; i < len; i++)
        if (!(id[i] == '-' || id[i] == '_' || id[i] == '.' || (id[i] >= '0' && id[i] <= '9') ||
              (id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z')))
            return 0;
    return 1;
}

static enum MHD_Result report_html(req_t *q, const char *id)
{
    char *path = rs_xasprintf("%s/%s/report.html", q->s->out, id);
    size_t len = 0;
    char *text = NULL;
    int rc_read = rs_read_file(path, &text, &len, NULL);
    free(path);
    if (rc_read != 0 || !text) return send_error(q->conn, MHD_HTTP_NOT_FOUND, "run %s has no report.html here", id);
    enum MHD_Result rc = send_text(q->conn, MHD_HTTP_OK, "text/html; charset=utf-8", text, len);
    free(text);
    return rc;
}

/* The page: its script and style are inline, and the policy lets it reach this origin only. */
static enum MHD_Result page(req_t *q)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        coord_viewpage_len, (void *)coord_viewpage, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'none'; script-src 'unsafe-inline'; style-src "
                            "'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; "
                            "form-action 'none'; frame-ancestors 'none'");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    enum MHD_Result rc = MHD_queue_response(q->conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* ---- routing ---- */

/* Constant time in the length of the expected token. */
static int token_equal(const char *got, const char *want)
{
    size_t n = strlen(want), m = got ? strlen(got) : 0;
    unsigned diff = (unsigned)(n ^ m);
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)want[i] ^ (unsigned char)(i < m ? got[i] : 0);
    return diff == 0;
}

static int authorised(req_t *q)
{
    if (!q->s->token) return 1;
    const char *auth = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Authorization");
    if (auth && strncmp(auth, "Bearer ", 7) == 0 && token_equal(auth + 7, q->s->token)) return 1;
    return token_equal(param(q->conn, "token"), q->s->token);
}

/* /api/runs/{id}[/rest]: the run and what follows its id. */
static enum MHD_Result route_run(req_t *q, const char *path)
{
    const char *slash = strchr(path, '/');
    size_t len = slash ? (size_t)(slash - path) : strlen(path);
    if (!plain_id(path, len)) return send_error(q->conn, MHD_HTTP_NOT_FOUND, "no such run");
    char *id = rs_xstrndup(path, len), why[300];
    run_t *r = run_get(q->s, id, why, sizeof(why));
    free(id);
    if (!r) return send_error(q->conn, MHD_HTTP_NOT_FOUND, "%s", why);
    const char *rest = slash ? slash : "";
    if (!*rest) return api_run(q, r);
    if (strcmp(rest, "/cases") == 0) return api_cases(q, r);
    if (strcmp(rest, "/events") == 0) return api_events(q, r);
    int64_t idx;
    if (strncmp(rest, "/cases/", 7) == 0 && rs_parse_i64(rest + 7, &idx) == 0 && idx >= 0)
        return api_case(q, r, (uint64_t)idx);
    return send_error(q->conn, MHD_HTTP_NOT_FOUND, "no such route");
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)version, (void)upload, (void)upload_size, (void)con_cls;
    req_t q = {cls, conn};
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return send_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "read-only: GET only");
    if (!authorised(&q)) return send_error(conn, MHD_HTTP_UNAUTHORIZED, "a token is required");
    if (strcmp(url, "/") == 0) return page(&q);
    if (strcmp(url, "/api/runs") == 0) return api_runs(&q);
    if (strncmp(url, "/api/runs/", 10) == 0) return route_run(&q, url + 10);
    if (strcmp(url, "/api/compare") == 0) return api_compare(&q);
    const char *rep = strncmp(url, "/runs/", 6) == 0 ? strstr(url + 6, "/report.html") : NULL;
    if (rep && rep[12] == '\0' && plain_id(url + 6, (size_t)(rep - url - 6))) {
        char *id = rs_xstrndup(url + 6, (size_t)(rep - url - 6));
        enum MHD_Result rc = report_html(&q, id);
        free(id);
        return rc;
    }
    return send_error(conn, MHD_HTTP_NOT_FOUND, "no such route");
}

/* ---- the server ---- */

static int parse_bind(const char *bind, struct sockaddr_in *sa, rs_err_t *err)
{
    return coord_bind_parse("--bind", bind, "127.0.0.1", sa, err);
}

int coord_serve_is_loopback(const char *bind)
{
    struct sockaddr_in sa;
    rs_err_t err;
    if (parse_bind(bind, &sa, &err)) return 0;
    return (ntohl(sa.sin_addr.s_addr) >> 24) == 127;
}

coord_serve_t *coord_serve_start(const coord_serve_opts_t *o, rs_err_t *err)
{
    struct sockaddr_in sa;
    if (parse_bind(o->bind, &sa, err)) return NULL;
    if (!coord_serve_is_loopback(o->bind) && !(o->token && *o->token)) {
        rs_err_set(err, "--bind %s: not a loopback address, and no token is configured: anyone "
                        "who reaches it could read every case; set --token-env NAME (a variable "
                        "holding the token)", o->bind);
        return NULL;
    }
    coord_serve_t *s = rs_xcalloc(1, sizeof(*s));
    s->out = rs_xstrdup(o->out ? o->out : "runs");
    s->redis = o->redis ? rs_xstrdup(o->redis) : NULL;
    s->token = o->token && *o->token ? rs_xstrdup(o->token) : NULL;
    pthread_mutex_init(&s->lock, NULL);
    s->daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                     MHD_USE_ERROR_LOG,
                                 0, NULL, NULL, answer, s, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT, 120u,
                                 MHD_OPTION_END);
    if (!s->daemon) {
        rs_err_set(err, "cannot listen on %s (address in use?)", o->bind);
        coord_serve_stop(&s);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : ntohs(sa.sin_port);
    return s;
}

int coord_serve_port(const coord_serve_t *s)
{
    return s->port;
}

void coord_serve_stop(coord_serve_t **sp)
{
    coord_serve_t *s = sp ? *sp : NULL;
    if (!s) return;
    if (s->daemon) MHD_stop_daemon(s->daemon);
    while (s->runs) {
        run_t *next = s->runs->next;
        run_close(s->runs);
        s->runs = next;
    }
    pthread_mutex_destroy(&s->lock);
    free(s->out);
    free(s->redis);
    if (s->token) memset(s->token, 0, strlen(s->token));
    free(s->token);
    free(s);
    *sp = NULL;
}
