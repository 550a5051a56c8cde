/* run: one run's lifecycle, new or resumed: load and check the inputs, start Redis and the
 * workers, dispatch every case that has no result, write the report. The one place where the
 * coordinator's pieces are wired together; `reasonsaver run` and `resume` (cmd_run.c) parse the
 * command line into its options, and a test can drive it the same way. */
#define _GNU_SOURCE
#include "run.h"

#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "budget.h"
#include "cachesrv.h"
#include "concurrency.h"
#include "config.h"
#include "curve.h"
#include "curvekey.h"
#include "dataset.h"
#include "dispatch.h"
#include "gates.h"
#include "jsonlidx.h"
#include "jsonlout.h"
#include "junit.h"
#include "log.h"
#include "metrics.h"
#include "otlpfeed.h"
#include "progress.h"
#include "redisproc.h"
#include "report.h"
#include "resume.h"
#include "runlock.h"
#include "runref.h"
#include "sched.h"
#include "spawn.h"
#include "store.h"
#include "tally.h"
#include "units.h"
#include "usage.h"

static char *make_run_id(const char *name)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    unsigned salt = (unsigned)(rs_wall_ms() ^ ((int64_t)getpid() << 16)) & 0xffff;
    char *id = rs_xasprintf("%s-%s-%04x", name, stamp, salt);
    /* The id names a directory and Redis keys: keep it to letters, digits, '.', '_' and '-'. */
    for (char *c = id; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '.' && *c != '_' && *c != '-') *c = '-';
    return id;
}

/* Everything a run needs, owned in one place so cleanup has one path. */
struct coord_run {
    coord_run_opts_t o;          /* the caller's options (its strings stay the caller's) */
    volatile sig_atomic_t *stop; /* the caller's stop requests; set to 2 here to stop now */
    rs_config_t *cfg;
    rs_dataset_t *ds;
    coord_units_t units; /* cases x prompt variants x epochs: what the scheduler counts */
    char *run_id, *dir, *spec, *forced;
    char *worker_spec; /* spec with the response cache's resolved address: sent to workers */
    char *redis_url;   /* the URL the store uses */
    json_t *manifest;  /* a resumed run's stored manifest */
    coord_redisproc_t *redis;
    coord_cachesrv_t *cache; /* where the response cache lives (a private server, maybe) */
    coord_store_t *store;
    coord_runlock_t lock;
    coord_sched_t *sched;
    coord_tally_t *tally; /* the report's counters, folded as records are stored (tally.h) */
    coord_jsonlout_t *jsonl; /* results.jsonl written as records are stored (a new run) */
    coord_dispatch_t *dispatch;
    coord_spawn_t *spawn;
    coord_usage_t *usage;
    coord_budget_t *budget; /* the spending limits; NULL without any */
    coord_conc_t *conc;   /* adaptive caps and pauses (concurrency.h) */
    coord_metrics_t *metrics;
    coord_otlpfeed_t *otlp;
    coord_curve_t *curve; /* cluster.curve's keys and ZAP handler; NULL without CURVE */
    int insecure;         /* bound where other machines reach it, without CURVE (--insecure) */
    coord_progress_view_t view;
    uint64_t done_before; /* cases done before this process started */
    int lost_lock;
    int made_dir;         /* a new run's directory, made by this process, before the run exists */
    int server_failed;    /* its embedded Redis did not come up: the directory keeps the log */
    int made_out_dir;     /* run.out_dir did not exist before */
    int workers_failed;   /* every local worker was given up */
    int verdict;          /* a finished run's exit status by its report (gates.h) */
    int64_t live_ms;      /* last publication of the live view */
    double started;       /* rs_mono_sec at dispatch start */
};

static void ctx_cleanup(coord_run_t *r)
{
    coord_spawn_stop(&r->spawn, 0);
    coord_metrics_stop(&r->metrics);
    coord_dispatch_destroy(&r->dispatch);
    coord_budget_destroy(&r->budget); /* after the dispatch: its tasks hold bounds */
    coord_curve_destroy(&r->curve); /* after the dispatch: it served the ZAP socket */
    coord_otlpfeed_stop(&r->otlp);
    /* After the workers (they use the cache to the end); it flushes its AOF while the run's own
     * server does, and is waited for after it. */
    coord_cachesrv_term(r->cache);
    coord_usage_destroy(&r->usage);
    coord_conc_destroy(&r->conc);
    coord_sched_destroy(&r->sched);
    coord_tally_destroy(&r->tally);
    coord_jsonlout_abort(&r->jsonl);
    if (r->store) coord_runlock_release(&r->lock, r->store);
    coord_store_destroy(&r->store);
    coord_redisproc_stop(&r->redis);
    coord_cachesrv_close(&r->cache);
    rs_dataset_destroy(&r->ds);
    rs_config_destroy(&r->cfg);
    json_decref(r->manifest);
    free(r->run_id);
    free(r->dir);
    free(r->spec);
    free(r->worker_spec);
    free(r->forced);
    free(r->redis_url);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

/* Undoes make_run_dir, with what runs in the directory and what it holds, log included. */
static void drop_run_dir(coord_run_t *r)
{
    coord_redisproc_stop(&r->redis);
    if (r->made_dir && nftw(r->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        rs_warn("could not remove %s: %s", r->dir, strerror(errno));
    if (r->made_dir && r->made_out_dir) rmdir(r->cfg->run.out_dir);
    r->made_dir = r->made_out_dir = 0;
    free(r->run_id);
    free(r->dir);
    r->run_id = r->dir = NULL;
}

/* A new run that failed before it was registered in Redis (an input error, the workers' address
 * in use, an unreachable server, a wrong password, a TLS failure) leaves nothing behind: its
 * directory goes (after the TLS proxy that kept files in it has stopped), and run.out_dir too
 * when this process made it and it is empty. Only when the embedded server itself did not come
 * up (and wrote a log) does the directory stay, with the log the error message points at. */
static void discard_new_dir(coord_run_t *r)
{
    if (!r->made_dir) return;
    char *log = rs_xasprintf("%s/redis.log", r->dir);
    int keep = r->server_failed && access(log, F_OK) == 0;
    free(log);
    if (keep) return;
    coord_store_destroy(&r->store);
    drop_run_dir(r);
}

static void coordinator_name(char *out, size_t n)
{
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    snprintf(out, n, "%s:%d", host, (int)getpid());
}

static json_t *manifest_new(coord_run_t *r)
{
    char sha[65] = "", coord[300];
    rs_err_t ignored;
    coord_config_identity(r->spec, sha, &ignored);
    coordinator_name(coord, sizeof(coord));
    char *path = rs_config_dataset_path(r->cfg);
    char now[24];
    snprintf(now, sizeof(now), "%lld", (long long)rs_wall_ms());
    json_t *m = json_pack("{sssssssssssssssIsIsIsIssssssss}", "status", "running", "name",
                          r->cfg->run.name, "config", r->spec, "config_sha256", sha,
                          "dataset_path", path, "dataset_sha256", rs_dataset_sha256(r->ds),
                          "coordinator", coord, "total", (json_int_t)coord_units_total(&r->units),
                          "done", (json_int_t)0, "failed", (json_int_t)0, "skipped",
                          (json_int_t)rs_dataset_skipped(r->ds), "started_at", now,
                          "updated_at", now, "version", RS_VERSION, "dir", r->dir);
    free(path);
    return m;
}

/* Checks of what this version can run: every failure is the user's input (exit 2). */
static int check_supported(const rs_config_t *cfg, rs_err_t *err)
{
    /* Config features this version cannot run are refused here, before anything starts; every
     * report format (json, markdown, html, jsonl) is available now. */
    return 0;
}

/* Who may connect: with cluster.curve, workers whose keys are authorised (the keys are read now,
 * so a bad key file is an input error); without it, only this machine, unless --insecure. */
static int check_transport(coord_run_t *r, rs_err_t *err)
{
    const char *bind = r->cfg->cluster.bind;
    if (r->cfg->cluster.curve.secret_key_file)
        return (r->curve = coord_curve_new(&r->cfg->cluster.curve, err)) ? 0 : -1;
    if (rs_curvekey_endpoint_local(bind)) return 0;
    if (!r->o.insecure)
        return rs_err_set(err, "cluster.bind %s can be reached from other machines, and without "
                               "cluster.curve anyone who reaches it gets the run's cases (gold "
                               "answers included) and can send results: set cluster.curve (keys "
                               "from `reasonsaver keys gen`), bind 127.0.0.1, or pass --insecure",
                          bind);
    r->insecure = 1;
    return 0;
}

static int open_dataset(coord_run_t *r, rs_err_t *err)
{
    if (check_supported(r->cfg, err) || check_transport(r, err)) return -1;
    r->ds = rs_dataset_open(r->cfg, err);
    if (!r->ds) return -1;
    if (rs_dataset_count(r->ds) == 0) return rs_err_set(err, "%s: no cases to run", rs_dataset_path(r->ds));
    coord_units_init(&r->units, r->cfg, rs_dataset_count(r->ds));
    if (rs_dataset_skipped(r->ds))
        rs_warn("%llu dataset line(s) skipped (dataset.on_error: skip)",
                (unsigned long long)rs_dataset_skipped(r->ds));
    r->spec = rs_config_to_json(r->cfg);
    return 0;
}

/* The live embedded Redis of r->dir, if its coordinator still runs (then the run lock refuses us);
 * a server whose coordinator is gone is on its way down (it gets SIGTERM when its parent dies):
 * wait until it has stopped. */
static int connect_live_embedded(coord_run_t *r, const char *url)
{
    rs_err_t ignored;
    for (int i = 0; i < 150; i++) {
        r->store = coord_store_connect(url, &ignored);
        if (!r->store) return 0;
        if (!r->run_id || coord_runlock_holder_alive(r->store, r->run_id)) return 1;
        coord_store_destroy(&r->store);
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* The store on r->redis, the server this process started. */
static int connect_own(coord_run_t *r, rs_err_t *err)
{
    r->redis_url = rs_xstrdup(coord_redisproc_url(r->redis));
    return (r->store = coord_store_connect(r->redis_url, err)) ? 0 : -1;
}

/* The embedded Redis of dir: the live one if its run is still going, else a new one started on
 * the directory's data. */
static int open_embedded(coord_run_t *r, rs_err_t *err)
{
    char *sock = coord_redisproc_socket_path(r->dir);
    char *url = rs_xasprintf("unix:%s", sock);
    free(sock);
    if (connect_live_embedded(r, url)) {
        r->redis_url = url;
        return 0;
    }
    free(url);
    if (!(r->redis = coord_redisproc_start(r->dir, err))) return -1;
    return connect_own(r, err);
}

/* ---- a new run ---- */

/* A new run's id and directory (made, and removed again if the run does not start). */
static int make_run_dir(coord_run_t *r, rs_err_t *err)
{
    r->run_id = make_run_id(r->cfg->run.name);
    r->dir = rs_xasprintf("%s/%s", r->cfg->run.out_dir, r->run_id);
    struct stat st;
    r->made_out_dir = stat(r->cfg->run.out_dir, &st) != 0;
    if (rs_mkdirs(r->dir, err)) return -1;
    r->made_dir = 1;
    return 0;
}

/* With the embedded Redis, the new run's server is forked before the dataset is read, so that
 * its start-up (tens of ms) overlaps the scan; start_new waits for it. Best effort: when the
 * launch fails, start_new starts the server the usual way and reports why it cannot. */
static void launch_embedded_early(coord_run_t *r)
{
    rs_err_t ignored;
    if (r->cfg->cluster.redis) return;
    if (make_run_dir(r, &ignored) || !(r->redis = coord_redisproc_launch(r->dir, &ignored)))
        drop_run_dir(r);
}

static int prepare_new(coord_run_t *r, rs_err_t *err)
{
    const coord_run_opts_t *a = &r->o;
    r->cfg = rs_config_load(a->config, a->sets, a->n_sets, err);
    if (!r->cfg) return -1;
    launch_embedded_early(r);
    if (open_dataset(r, err) == 0) return 0;
    drop_run_dir(r); /* the input error is what the user sees: no directory, no log */
    return -1;
}

/* The new run's embedded server: the one launched early, once up, or one started now. */
static int new_embedded(coord_run_t *r, rs_err_t *err)
{
    if (!r->redis) {
        r->server_failed = open_embedded(r, err) != 0;
        return r->server_failed ? -1 : 0;
    }
    if (coord_redisproc_await(&r->redis, err)) {
        r->server_failed = 1;
        return -1;
    }
    return connect_own(r, err);
}

static int start_new(coord_run_t *r, rs_err_t *err)
{
    const rs_cluster_cfg_t *cl = &r->cfg->cluster;
    if (!r->run_id && make_run_dir(r, err)) return -1;
    coord_store_opts_t o = {cl->redis, cl->redis_password_env, cl->redis_tls.ca_file,
                            cl->redis_tls.cert_file, cl->redis_tls.key_file, r->dir};
    if (!cl->redis) {
        if (new_embedded(r, err)) return -1;
    } else {
        r->redis_url = rs_xstrdup(cl->redis);
        if (!(r->store = coord_store_open(&o, err))) return -1;
    }
    if (coord_runref_write(r->dir, r->run_id, cl->redis ? &o : NULL, err)) return -1;
    json_t *man = manifest_new(r);
    int rc = coord_store_run_create(r->store, r->run_id, man, err);
    json_decref(man);
    if (rc) return -1;
    r->made_dir = 0; /* the run exists now: its directory stays, whatever happens next */
    if (coord_runlock_acquire(&r->lock, r->store, r->run_id, 0, err)) return -1;
    r->sched = coord_sched_new(coord_units_total(&r->units));
    r->tally = coord_tally_new(r->cfg);
    rs_err_t why;
    if (r->cfg->report.jsonl &&
        !(r->jsonl = coord_jsonlout_open(r->dir, coord_units_total(&r->units), r->cfg, &why)))
        rs_warn("%s; results.jsonl is read back from Redis at the end", why.msg);
    return 0;
}

/* ---- a resumed run ---- */

/* Finds the run and its Redis, reads its manifest: errors here are the user's input (exit 2). */
static int locate_run(coord_run_t *r, rs_err_t *err)
{
    const coord_run_opts_t *a = &r->o;
    r->run_id = rs_xstrdup(a->resume);
    r->dir = rs_xasprintf("%s/%s", a->out_dir, a->resume);
    struct stat st;
    int have_dir = stat(r->dir, &st) == 0;
    if (!a->redis && !have_dir)
        return rs_err_set(err, "no run '%s' in %s/ (pass --out DIR or --redis URL)", a->resume,
                          a->out_dir);
    coord_store_opts_t o;
    json_t *info;
    rs_err_t why;
    int kind = coord_runref_redis(have_dir ? r->dir : NULL, a->redis, &o, &info, &why), rc;
    if (kind < 0 && info) { /* a run.json it refuses */
        json_decref(info);
        *err = why;
        return -1;
    }
    if (kind != 0) { /* run.json names the embedded server, or there is none */
        rc = open_embedded(r, err);
    } else {
        o.dir = have_dir ? r->dir : NULL;
        r->redis_url = rs_xstrdup(o.url);
        rc = (r->store = coord_store_open(&o, err)) ? 0 : -1;
    }
    json_decref(info);
    if (rc) return -1;
    r->manifest = coord_store_run_get(r->store, r->run_id, err);
    if (!r->manifest) return -1;
    /* Only now that the run is known: a resume that finds nothing leaves nothing behind. */
    return !have_dir && rs_mkdirs(r->dir, err) ? -1 : 0;
}

static int prepare_resume(coord_run_t *r, rs_err_t *err)
{
    const coord_run_opts_t *a = &r->o;
    if (locate_run(r, err)) return -1;
    const char *stored = json_string_value(json_object_get(r->manifest, "config"));
    if (a->config)
        r->cfg = rs_config_load(a->config, a->sets, a->n_sets, err);
    else
        r->cfg = rs_config_load_string(stored ? stored : "", "stored config", NULL,
                                       a->sets, a->n_sets, err);
    if (!r->cfg || open_dataset(r, err)) return -1;
    return coord_resume_check(r->manifest, r->run_id, r->spec, r->ds, a->force, &r->forced, err);
}

static int start_resume(coord_run_t *r, rs_err_t *err)
{
    /* Wait out a lock whose holder may have died elsewhere: it expires within its TTL. */
    if (coord_runlock_acquire(&r->lock, r->store, r->run_id, COORD_RUNLOCK_TTL_MS + 1000, err))
        return -1;
    r->sched = coord_sched_new(coord_units_total(&r->units));
    r->tally = coord_tally_new(r->cfg);
    coord_jsonlout_remove_stale(r->dir);
    if (coord_jsonlidx_remove(r->dir, err)) return -1;
    uint64_t damaged = 0;
    if (coord_resume_mark_done(r->store, r->run_id, r->cfg, r->sched, r->tally, &damaged, err))
        return -1;
    r->done_before = coord_sched_done(r->sched);
    char coord[300], total[24];
    coordinator_name(coord, sizeof(coord));
    snprintf(total, sizeof(total), "%llu", (unsigned long long)coord_units_total(&r->units));
    if (coord_store_run_set(r->store, r->run_id, "status", "running", err) ||
        coord_store_run_set(r->store, r->run_id, "coordinator", coord, err) ||
        coord_store_run_set(r->store, r->run_id, "total", total, err) ||
        coord_store_run_incr(r->store, r->run_id, "resumes", 1, err) ||
        coord_resume_keep_settings(r->store, r->run_id, r->manifest, r->spec, err))
        return -1;
    if (r->forced) {
        rs_warn("resuming with --force: %s", r->forced);
        if (coord_store_run_set(r->store, r->run_id, "forced", r->forced, err)) return -1;
    }
    printf("resuming run %s: %llu of %llu cases already have a result\n", r->run_id,
           (unsigned long long)r->done_before, (unsigned long long)coord_units_total(&r->units));
    if (damaged)
        printf("  %llu damaged stored record(s) deleted; their cases run again\n",
               (unsigned long long)damaged);
    return 0;
}

/* ---- both ---- */

/* cluster.workers local workers, connecting to the bound dispatch socket. */
static int spawn_workers(coord_run_t *r, rs_err_t *err)
{
    if (r->cfg->cluster.workers <= 0) return 0;
    char *allow = coord_spawn_allow_env(r->cfg);
    r->spawn = coord_spawn_start(
        (size_t)r->cfg->cluster.workers, coord_dispatch_endpoint(r->dispatch), allow,
        coord_spawn_allow_exec(r->cfg), r->curve ? coord_curve_local_server_path(r->curve) : NULL,
        r->curve ? coord_curve_local_secret_path(r->curve) : NULL, err);
    free(allow);
    return r->spawn ? 0 : -1;
}

/* A new run without CURVE binds its socket and starts its local workers before it waits for
 * its Redis: a worker takes tens of ms to load and connect, which then overlap the server's
 * start-up; its HELLO waits in the socket until the run is ready. (Under CURVE the local workers'
 * keys are made with the run, in start_cluster; a resume has its Redis already.) */
static int start_workers_early(coord_run_t *r, rs_err_t *err)
{
    if (r->o.resume || r->curve || r->cfg->cluster.workers <= 0) return 0;
    if (!(r->dispatch = coord_dispatch_listen(r->cfg->cluster.bind, NULL, err))) return -1;
    return spawn_workers(r, err);
}

static int start_cluster(coord_run_t *r, rs_err_t *err)
{
    r->usage = coord_usage_new(r->cfg);
    char *before = coord_store_run_fetch(r->store, r->run_id, ":usage");
    if (before) coord_usage_merge(r->usage, before); /* a resume continues the counters */
    free(before);
    if (coord_budget_enabled(r->cfg) && !(r->budget = coord_budget_new(r->cfg, r->usage, err)))
        return -1;
    r->conc = coord_conc_new(r->cfg, rs_wall_ms());
    char *caps = coord_store_run_fetch(r->store, r->run_id, ":concurrency");
    if (caps && coord_conc_restore(r->conc, caps) != 0) /* a resume continues the caps */
        rs_warn("the run's saved concurrency caps are unreadable; they start again");
    free(caps);
    if (r->cfg->cluster.metrics_bind &&
        !(r->metrics = coord_metrics_start(r->cfg->cluster.metrics_bind, err)))
        return -1;
    if (r->cfg->report.otlp && !(r->otlp = coord_otlpfeed_start(r->cfg->report.otlp, r->run_id, err)))
        return -1;
    if (r->insecure) {
        rs_warn("INSECURE: %s is reachable from other machines without CURVE (--insecure); this "
                "run is recorded as insecure", r->cfg->cluster.bind);
        if (coord_store_run_set(r->store, r->run_id, "insecure", r->cfg->cluster.bind, err))
            return -1;
    }
    if (!r->cache) r->cache = coord_cachesrv_launch(r->cfg);
    coord_cachesrv_ready(r->cache);
    r->worker_spec = coord_cachesrv_worker_spec(r->cache, r->cfg);
    coord_dispatch_opts_t o = {r->cfg, r->run_id, r->worker_spec, r->ds, r->sched, r->store,
                               r->cfg->cluster.bind, r->usage, r->otlp, r->curve, r->tally,
                               r->jsonl, r->budget, r->conc, &r->units};
    if (r->dispatch ? coord_dispatch_init(r->dispatch, &o, err) != 0
                    : !(r->dispatch = coord_dispatch_new(&o, err)))
        return -1;
    char *peers = coord_store_run_fetch(r->store, r->run_id, ":peers");
    coord_dispatch_peers_restore(r->dispatch, peers); /* a resume continues these too */
    free(peers);
    /* Local workers under CURVE get a key pair made for this process alone (authorised as
     * "local"), in 0600 files of the run directory that are removed when it exits. */
    if (r->curve && r->cfg->cluster.workers > 0 && coord_curve_local_keys(r->curve, r->dir, err))
        return -1;
    return r->spawn ? 0 : spawn_workers(r, err);
}

static void put_json(coord_run_t *r, const char *suffix, json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT);
    rs_err_t ignored;
    coord_store_run_put(r->store, r->run_id, suffix, text, &ignored);
    free(text);
    json_decref(value);
}

/* The live counters that outlive the process: model usage, what peers had rejected, and the
 * caps and pauses (only once there is something to say: a sim run has none). */
static void put_usage(coord_run_t *r)
{
    put_json(r, ":usage", coord_usage_json(r->usage));
    put_json(r, ":peers", coord_dispatch_peers_json(r->dispatch));
    if (coord_conc_active(r->conc)) put_json(r, ":concurrency", coord_conc_json(r->conc, rs_mono_ms()));
}

static void publish_metrics(coord_run_t *r, const coord_progress_t *p)
{
    rs_buf_t b;
    rs_buf_init(&b);
    rs_buf_printf(&b, "# HELP reasonsaver_cases Cases of the run by state.\n"
                      "# TYPE reasonsaver_cases gauge\n"
                      "reasonsaver_cases{state=\"total\"} %llu\n"
                      "reasonsaver_cases{state=\"done\"} %llu\n"
                      "reasonsaver_cases{state=\"failed\"} %llu\n"
                      "reasonsaver_cases{state=\"in_flight\"} %lld\n"
                      "# HELP reasonsaver_cases_redone_total Cases handed out again.\n"
                      "# TYPE reasonsaver_cases_redone_total counter\n"
                      "reasonsaver_cases_redone_total %llu\n"
                      "# HELP reasonsaver_workers Live workers.\n"
                      "# TYPE reasonsaver_workers gauge\n"
                      "reasonsaver_workers %zu\n",
                  (unsigned long long)p->total, (unsigned long long)p->done,
                  (unsigned long long)p->failed, (long long)p->in_flight,
                  (unsigned long long)p->requeued, p->workers);
    coord_usage_prometheus(r->usage, &b);
    coord_conc_prometheus(r->conc, rs_mono_ms(), &b);
    coord_metrics_publish(r->metrics, b.data, b.len);
    rs_buf_cleanup(&b);
}

/* Once a second: the live workers and a progress event, for status, top and dashboards. */
static void publish_live(coord_run_t *r, const coord_progress_t *p)
{
    int64_t now = rs_mono_ms();
    if (now - r->live_ms < 1000) return;
    if (r->metrics) publish_metrics(r, p);
    if (coord_dispatch_redis_down(r->dispatch)) return;
    r->live_ms = now;
    put_usage(r);
    double secs = rs_mono_sec() - r->started;
    json_t *workers = coord_dispatch_workers_json(r->dispatch);
    json_t *event = json_pack("{sssssIsIsIsIsisfsI}", "type", "progress", "run_id", r->run_id,
                              "done", (json_int_t)p->done, "total", (json_int_t)p->total,
                              "failed", (json_int_t)p->failed, "in_flight", (json_int_t)p->in_flight,
                              "workers", (int)p->workers, "cases_per_second",
                              secs > 0 ? (double)(p->done - r->done_before) / secs : 0.0,
                              "time_ms", (json_int_t)rs_wall_ms());
    char *wtext = json_dumps(workers, JSON_COMPACT), *etext = json_dumps(event, JSON_COMPACT);
    rs_err_t ignored;
    coord_store_live_put(r->store, r->run_id, wtext, etext, 5000, &ignored);
    free(wtext);
    free(etext);
    json_decref(workers);
    json_decref(event);
}

/* Called every tick of the dispatch loop: restart crashed local workers, keep the run lock,
 * publish the live view. */
static void on_tick(const coord_progress_t *p, void *arg)
{
    coord_run_t *r = arg;
    if (r->spawn) coord_spawn_reap(r->spawn);
    if (r->spawn && coord_spawn_all_given_up(r->spawn) && !r->workers_failed) {
        rs_error("every local worker failed (their messages are above); stopping the run");
        r->workers_failed = 1;
        *r->stop = 2; /* nothing will do the work: stop now, keep what was written */
    }
    publish_live(r, p);
    rs_err_t err;
    if (coord_runlock_tick(&r->lock, r->store, &err) != 0) {
        rs_error("%s", err.msg);
        r->lost_lock = 1;
        *r->stop = 2; /* another coordinator owns the run now: write nothing more */
    }
    coord_progress_view_update(p, &r->view);
}

static void print_banner(coord_run_t *r)
{
    if (r->view.quiet) return;
    printf("reasonsaver %s: run %s\n", RS_VERSION, r->run_id);
    printf("  dataset  %s (%llu cases)\n", rs_dataset_path(r->ds),
           (unsigned long long)rs_dataset_count(r->ds));
    if (coord_units_total(&r->units) != rs_dataset_count(r->ds))
        printf("  asked    %u prompt%s x %u epoch%s: %llu cases in all\n", r->units.variants,
               r->units.variants == 1 ? "" : "s", r->units.epochs, r->units.epochs == 1 ? "" : "s",
               (unsigned long long)coord_units_total(&r->units));
    for (size_t m = 0; m < r->cfg->n_models; m++)
        printf("  model    %s (%s %s, n=%lld)%s\n", r->cfg->models[m].name,
               r->cfg->models[m].provider, r->cfg->models[m].model, (long long)r->cfg->models[m].n,
               strcmp(r->cfg->models[m].provider, "sim") == 0 ? " [simulated]" : "");
    printf("  workers  %lld local; endpoint %s%s\n", (long long)r->cfg->cluster.workers,
           coord_dispatch_endpoint(r->dispatch),
           r->curve ? " (CURVE: authorised keys only)" : r->insecure ? " (INSECURE: no CURVE)" : "");
    printf("  redis    %s\n", r->redis ? "embedded (run directory)" : r->redis_url);
    printf("  cache    %s\n", coord_cachesrv_label(r->cache));
    fflush(stdout);
}

/* Peak memory of this process and of Redis, for the report's resources section. */
static int record_resources(coord_run_t *r, rs_err_t *err)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    char rss[24], redis_mem[24];
    snprintf(rss, sizeof(rss), "%ld", ru.ru_maxrss);
    snprintf(redis_mem, sizeof(redis_mem), "%lld", (long long)coord_store_used_memory(r->store));
    if (coord_store_run_set(r->store, r->run_id, "coordinator_peak_rss_kib", rss, err) ||
        coord_store_run_set(r->store, r->run_id, "redis_used_memory", redis_mem, err))
        return -1;
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Under CURVE, the key names of the workers that took part (this process's and, on a resume, the
 * earlier ones), sorted, as the manifest's worker_keys (a JSON array as text) for the report. */
static int record_worker_keys(coord_run_t *r, rs_err_t *err)
{
    json_t *before = json_loads(coord_manifest_str(r->manifest, "worker_keys"), 0, NULL);
    json_t *now = coord_curve_accepted_json(r->curve), *set = json_object(), *v;
    size_t i;
    json_array_foreach(before, i, v) if (json_is_string(v)) json_object_set(set, json_string_value(v), v);
    json_array_foreach(now, i, v) json_object_set(set, json_string_value(v), v);
    const char **names = rs_xcalloc(json_object_size(set) + 1, sizeof(*names));
    size_t n = 0;
    const char *name;
    json_object_foreach(set, name, v) names[n++] = name;
    qsort(names, n, sizeof(*names), name_cmp);
    json_t *arr = json_array();
    for (i = 0; i < n; i++) json_array_append_new(arr, json_string(names[i]));
    char *text = json_dumps(arr, JSON_COMPACT);
    int rc = coord_store_run_set(r->store, r->run_id, "worker_keys", text, err);
    free(text);
    free(names);
    json_decref(arr);
    json_decref(set);
    json_decref(now);
    json_decref(before);
    return rc;
}

static char *resume_command(coord_run_t *r)
{
    return coord_runref_resume_command(r->run_id, r->o.out_dir, r->o.redis);
}

/* The status a run ends with, by coord_dispatch_run's return value. */
static const char *const END_STATUS[] = {"finished", "interrupted", "budget_exhausted"};

static int finish(coord_run_t *r, const char *status, rs_err_t *err)
{
    coord_progress_t p;
    coord_dispatch_progress(r->dispatch, &p);
    if (p.records_rejected &&
        coord_store_run_incr(r->store, r->run_id, "records_rejected", (int64_t)p.records_rejected, err))
        return -1;
    char now[24];
    snprintf(now, sizeof(now), "%lld", (long long)rs_wall_ms());
    if (coord_store_run_set(r->store, r->run_id, "finished_at", now, err) ||
        coord_store_run_set(r->store, r->run_id, "status", status, err) ||
        record_resources(r, err) || (r->curve && record_worker_keys(r, err)))
        return -1;
    put_usage(r);
    json_t *ev = json_pack("{ssssss}", "type", "status", "run_id", r->run_id, "status", status);
    char *event = json_dumps(ev, JSON_COMPACT);
    coord_store_publish(r->store, r->run_id, event, err);
    free(event);
    json_decref(ev);
    json_t *man = coord_store_run_get(r->store, r->run_id, err), *report = NULL;
    if (!man) return -1;
    /* Every case is done, so none is read again: the dataset's index goes before the report's
     * statistics make arrays of their own (the coordinator's peak at a million cases). */
    if (strcmp(status, "finished") == 0) rs_dataset_drop_index(r->ds);
    int rc = coord_report_write(r->store, r->run_id, r->cfg, man, r->dir, r->tally, &r->jsonl,
                                &report, err);
    json_decref(man);
    if (rc) return -1;
    if (!r->view.quiet) {
        coord_report_print_summary(stdout, report);
        coord_report_print_paths(stdout, r->cfg, r->dir);
    }
    if (r->o.junit && coord_junit_write(r->o.junit, r->cfg, report, err) != 0) {
        json_decref(report);
        return -1;
    }
    if (strcmp(status, "finished") == 0)
        r->verdict = coord_gates_verdict(r->cfg, report, r->view.quiet ? NULL : stdout, stderr);
    char *cmd = resume_command(r);
    uint64_t corrupted = coord_report_corrupted(report);
    coord_report_warn_corrupted(stderr, report, cmd);
    free(cmd);
    json_decref(report);
    if (corrupted)
        return rs_err_set(err, "run %s is not clean: %llu corrupted record(s)", r->run_id,
                          (unsigned long long)corrupted);
    return 0;
}

static void print_interrupted(coord_run_t *r, const coord_progress_t *p)
{
    fflush(stdout);
    char *cmd = resume_command(r);
    fprintf(stderr, "reasonsaver: run %s interrupted with %llu of %llu cases done; resume it with\n"
                    "  %s\n", r->run_id, (unsigned long long)p->done,
            (unsigned long long)p->total, cmd);
    free(cmd);
}

/* x rounded up to 3 significant digits: a budget to type. */
static double round_up(double x)
{
    if (x <= 0) return 0;
    double unit = pow(10, floor(log10(x)) - 2);
    return ceil(x / unit) * unit;
}

/* The upper bounds of the cases without a result, against the limit that stopped the run. */
static double remaining_bound(coord_run_t *r)
{
    double sum = 0;
    for (uint64_t idx = 0; idx < coord_sched_total(r->sched); idx++) {
        rs_case_t c;
        rs_err_t ignored;
        if (coord_sched_is_done(r->sched, idx) ||
            coord_units_read(&r->units, r->ds, idx, &c, &ignored) != 0)
            continue;
        sum += coord_budget_case_bound(r->budget, &c);
        rs_case_cleanup(&c);
    }
    return sum;
}

/* What stopped the run, what was spent, and the resume command with a budget that lets every
 * remaining case out at its upper bound (so that the resume finishes the run). */
static void print_budget_stop(coord_run_t *r, const coord_progress_t *p)
{
    coord_budget_stop_t st;
    if (coord_budget_stopped_by(r->budget, &st) != 0) return;
    int64_t tokens;
    double usd;
    coord_budget_spent(r->budget, &tokens, &usd);
    double need = round_up(st.spent + remaining_bound(r));
    char amount[64], *cmd = resume_command(r), *flag;
    snprintf(amount, sizeof(amount), st.usd ? "%.6g" : "%.0f", st.usd ? need : ceil(need));
    if (st.model >= 0)
        flag = rs_xasprintf("--set %s=%s", st.key, amount);
    else
        flag = rs_xasprintf("--budget-%s %s", st.usd ? "usd" : "tokens", amount);
    fflush(stdout);
    fprintf(stderr, "reasonsaver: run %s stopped at its budget: %s is %.6g, %s%.6g spent against it "
                    "and the next case could cost up to %s%.6g more; $%.6f and %lld tokens spent in "
                    "all, %llu of %llu cases done, none left in flight. Continue it with a budget "
                    "that lets every remaining case cost its upper bound:\n  %s %s\n",
            r->run_id, st.key, st.limit, st.usd ? "$" : "", st.spent, st.usd ? "$" : "",
            st.next_case, usd,
            (long long)tokens, (unsigned long long)p->done, (unsigned long long)p->total, cmd,
            flag);
    free(cmd);
    free(flag);
}

static int execute(coord_run_t *r, rs_err_t *err)
{
    print_banner(r);
    coord_progress_view_init(&r->view, r->view.quiet, r->done_before);
    r->started = rs_mono_sec();
    int rc = coord_dispatch_run(r->dispatch, r->stop, on_tick, r, err);
    if (rc < 0) return -1;
    if (*r->stop < 2) coord_dispatch_drain(r->dispatch, rc == 1 ? 30000 : 5000);
    if (!r->lost_lock && coord_dispatch_flush(r->dispatch, r->stop, 2, err)) return -1;
    coord_progress_t p;
    coord_dispatch_progress(r->dispatch, &p);
    coord_progress_view_finish(&r->view, &p);
    /* After the drain nothing is held by a worker. One that joins only now (a short run) is sent
     * DRAIN as it joins, so the wait ends as soon as the last one has left; one that never
     * connects is stopped after a second. */
    int64_t until = rs_mono_ms() + 1000;
    while (r->spawn && !coord_spawn_exited(r->spawn) && rs_mono_ms() < until)
        coord_dispatch_idle(r->dispatch, 5);
    coord_spawn_stop(&r->spawn, 0);
    if (r->lost_lock) return rs_err_set(err, "run %s: lost the run lock", r->run_id);
    if (r->workers_failed) {
        finish(r, END_STATUS[1], err);
        return rs_err_set(err, "run %s stopped: no local worker could run it", r->run_id);
    }
    if (finish(r, END_STATUS[rc], err)) return -1;
    if (rc == 1) print_interrupted(r, &p);
    if (rc == 2) print_budget_stop(r, &p);
    return rc;
}

/* ---- the lifecycle as the caller sees it ---- */

coord_run_t *coord_run_new(const coord_run_opts_t *o, volatile sig_atomic_t *stop)
{
    coord_run_t *r = rs_xcalloc(1, sizeof(*r));
    r->o = *o;
    if (!r->o.out_dir) r->o.out_dir = "runs";
    r->stop = stop;
    r->view.quiet = o->quiet;
    return r;
}

int coord_run_prepare(coord_run_t *r, rs_err_t *err)
{
    return r->o.resume ? prepare_resume(r, err) : prepare_new(r, err);
}

int coord_run_start(coord_run_t *r, rs_err_t *err)
{
    /* a new run's private cache server starts while the run's own does (tens of ms each);
     * a resume has its run's server already (prepare found the run in it) */
    if (!r->o.resume) r->cache = coord_cachesrv_launch(r->cfg);
    if (start_workers_early(r, err)) return -1;
    return (r->o.resume ? start_resume(r, err) : start_new(r, err)) || start_cluster(r, err) ? -1 : 0;
}

int coord_run_execute(coord_run_t *r, rs_err_t *err)
{
    return execute(r, err);
}

int coord_run_verdict(const coord_run_t *r)
{
    return r->verdict;
}

const char *coord_run_id(const coord_run_t *r)
{
    return r->run_id;
}

const char *coord_run_dir(const coord_run_t *r)
{
    return r->dir;
}

void coord_run_destroy(coord_run_t **rp)
{
    coord_run_t *r = rp ? *rp : NULL;
    if (!r) return;
    discard_new_dir(r);
    ctx_cleanup(r);
    free(r);
    *rp = NULL;
}
