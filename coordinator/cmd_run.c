/* cmd_run: `reasonsaver run CONFIG` — load, validate, start Redis and workers, dispatch every case,
 * merge the report. The one place where the coordinator's pieces are wired together. */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "dataset.h"
#include "dispatch.h"
#include "log.h"
#include "progress.h"
#include "redisproc.h"
#include "report.h"
#include "runref.h"
#include "sched.h"
#include "spawn.h"
#include "store.h"

static volatile sig_atomic_t stop_requests;

static void on_signal(int sig)
{
    (void)sig;
    stop_requests++;
}

static const char RUN_HELP[] =
    "usage: reasonsaver run CONFIG [OPTIONS]\n\n"
    "Runs every case of the config's dataset through its models, stores each result in Redis and\n"
    "writes runs/<run_id>/report.json, report.md and results.jsonl.\n\n"
    "options:\n"
    "  --set KEY=VALUE   override a config value, e.g. --set dataset.limit=100 (repeatable)\n"
    "  --workers N       local workers to start (cluster.workers; 0 = wait for remote workers)\n"
    "  --bind ENDPOINT   where workers connect (cluster.bind), e.g. tcp://0.0.0.0:5555\n"
    "  --redis URL       use this Redis (cluster.redis), e.g. redis://127.0.0.1:6379/0;\n"
    "                    without it a private redis-server runs in the run directory\n"
    "  --out DIR         directory for runs (run.out_dir, default runs)\n"
    "  --quiet           no progress bar or summary, errors only\n"
    "  -h, --help        this help\n\n"
    "First SIGINT/SIGTERM: workers finish what they hold, results are flushed, the run is marked\n"
    "interrupted. A second one stops at once.\n";

typedef struct run_args {
    const char *config;
    char **sets;
    size_t n_sets;
    int quiet;
} run_args_t;

static void add_set(run_args_t *a, const char *key, const char *value)
{
    a->sets = rs_xrealloc(a->sets, (a->n_sets + 1) * sizeof(char *));
    a->sets[a->n_sets++] = key ? rs_xasprintf("%s=%s", key, value) : rs_xstrdup(value);
}

static void free_args(run_args_t *a)
{
    for (size_t i = 0; i < a->n_sets; i++) free(a->sets[i]);
    free(a->sets);
}

/* 0 ok, 1 help printed, -1 usage error (printed). */
static int parse_args(int argc, char **argv, run_args_t *a)
{
    static const struct option opts[] = {
        {"set", required_argument, 0, 's'},   {"workers", required_argument, 0, 'w'},
        {"bind", required_argument, 0, 'b'},  {"redis", required_argument, 0, 'r'},
        {"out", required_argument, 0, 'o'},   {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    static const char *keys[128] = {['w'] = "cluster.workers", ['b'] = "cluster.bind",
                                    ['r'] = "cluster.redis", ['o'] = "run.out_dir"};
    memset(a, 0, sizeof(*a));
    optind = 0;
    int c;
    while ((c = getopt_long(argc, argv, "s:w:b:r:o:qh", opts, NULL)) != -1) {
        if (c == 'h') return fputs(RUN_HELP, stdout), 1;
        if (c == 'q') a->quiet = 1;
        else if (c == 's') add_set(a, NULL, optarg);
        else if (c < 128 && keys[c]) add_set(a, keys[c], optarg);
        else return fputs(RUN_HELP, stderr), -1;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "reasonsaver: run needs exactly one CONFIG file (see `reasonsaver run --help`)\n");
        return -1;
    }
    a->config = argv[optind];
    return 0;
}

static char *make_run_id(const char *name)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    unsigned salt = (unsigned)(rs_wall_ms() ^ ((int64_t)getpid() << 16)) & 0xffff;
    return rs_xasprintf("%s-%s-%04x", name, stamp, salt);
}

/* Everything a run needs, owned in one place so cleanup has one path. */
typedef struct run_ctx {
    rs_config_t *cfg;
    rs_dataset_t *ds;
    char *run_id, *dir, *spec;
    coord_redisproc_t *redis;
    coord_store_t *store;
    coord_sched_t *sched;
    coord_dispatch_t *dispatch;
    coord_spawn_t *spawn;
    coord_progress_view_t view;
} run_ctx_t;

static void ctx_cleanup(run_ctx_t *r)
{
    coord_spawn_stop(&r->spawn, 0);
    coord_dispatch_destroy(&r->dispatch);
    coord_sched_destroy(&r->sched);
    coord_store_destroy(&r->store);
    coord_redisproc_stop(&r->redis);
    rs_dataset_destroy(&r->ds);
    rs_config_destroy(&r->cfg);
    free(r->run_id);
    free(r->dir);
    free(r->spec);
}

static json_t *manifest_new(run_ctx_t *r)
{
    char sha[65], host[256] = "", coord[300];
    rs_sha256_hex(r->spec, strlen(r->spec), sha);
    gethostname(host, sizeof(host) - 1);
    snprintf(coord, sizeof(coord), "%s:%d", host, (int)getpid());
    char *path = rs_config_dataset_path(r->cfg);
    char now[24];
    snprintf(now, sizeof(now), "%lld", (long long)rs_wall_ms());
    json_t *m = json_pack("{sssssssssssssssIsIsIsIssssss}", "status", "running", "name",
                          r->cfg->run.name, "config", r->spec, "config_sha256", sha,
                          "dataset_path", path, "dataset_sha256", rs_dataset_sha256(r->ds),
                          "coordinator", coord, "total", (json_int_t)rs_dataset_count(r->ds),
                          "done", (json_int_t)0, "failed", (json_int_t)0, "skipped",
                          (json_int_t)rs_dataset_skipped(r->ds), "started_at", now,
                          "updated_at", now, "version", RS_VERSION);
    free(path);
    return m;
}

/* Loads the config and the dataset: every failure here is the user's input (exit 2). */
static int prepare(run_ctx_t *r, run_args_t *a, rs_err_t *err)
{
    r->cfg = rs_config_load(a->config, (const char *const *)a->sets, a->n_sets, err);
    if (!r->cfg) return -1;
    if (r->cfg->report.html)
        return rs_err_set(err, "report.formats: html is not available in this version "
                               "(json, markdown, jsonl are)");
    r->ds = rs_dataset_open(r->cfg, err);
    if (!r->ds) return -1;
    if (rs_dataset_count(r->ds) == 0) return rs_err_set(err, "%s: no cases to run", rs_dataset_path(r->ds));
    if (rs_dataset_skipped(r->ds))
        rs_warn("%llu dataset line(s) skipped (dataset.on_error: skip)",
                (unsigned long long)rs_dataset_skipped(r->ds));
    r->spec = rs_config_to_json(r->cfg);
    return 0;
}

/* Run directory, Redis, manifest, socket and workers: failures here are at run time (exit 1). */
static int start(run_ctx_t *r, rs_err_t *err)
{
    r->run_id = make_run_id(r->cfg->run.name);
    r->dir = rs_xasprintf("%s/%s", r->cfg->run.out_dir, r->run_id);
    if (rs_mkdirs(r->dir, err)) return -1;
    const char *url = r->cfg->cluster.redis;
    if (!url) {
        if (!(r->redis = coord_redisproc_start(r->dir, err))) return -1;
        url = coord_redisproc_url(r->redis);
    }
    if (!(r->store = coord_store_connect(url, err))) return -1;
    if (coord_runref_write(r->dir, r->run_id, r->cfg->cluster.redis ? url : "embedded", err)) return -1;
    json_t *man = manifest_new(r);
    int rc = coord_store_run_create(r->store, r->run_id, man, err);
    json_decref(man);
    if (rc) return -1;
    r->sched = coord_sched_new(rs_dataset_count(r->ds));
    coord_dispatch_opts_t o = {r->cfg, r->run_id, r->spec, r->ds, r->sched, r->store,
                               r->cfg->cluster.bind};
    if (!(r->dispatch = coord_dispatch_new(&o, err))) return -1;
    if (r->cfg->cluster.workers > 0) {
        r->spawn = coord_spawn_start((size_t)r->cfg->cluster.workers,
                                     coord_dispatch_endpoint(r->dispatch), r->run_id, err);
        if (!r->spawn) return -1;
    }
    return 0;
}

static void on_progress(const coord_progress_t *p, void *arg)
{
    run_ctx_t *r = arg;
    if (r->spawn) coord_spawn_reap(r->spawn);
    coord_progress_view_update(p, &r->view);
}

static void print_banner(run_ctx_t *r)
{
    if (r->view.quiet) return;
    printf("reasonsaver %s: run %s\n", RS_VERSION, r->run_id);
    printf("  dataset  %s (%llu cases)\n", rs_dataset_path(r->ds),
           (unsigned long long)rs_dataset_count(r->ds));
    for (size_t m = 0; m < r->cfg->n_models; m++)
        printf("  model    %s (%s %s, n=%lld)%s\n", r->cfg->models[m].name,
               r->cfg->models[m].provider, r->cfg->models[m].model, (long long)r->cfg->models[m].n,
               strcmp(r->cfg->models[m].provider, "sim") == 0 ? " [simulated]" : "");
    printf("  workers  %lld local; endpoint %s\n", (long long)r->cfg->cluster.workers,
           coord_dispatch_endpoint(r->dispatch));
    printf("  redis    %s\n", r->redis ? "embedded (run directory)" : r->cfg->cluster.redis);
    fflush(stdout);
}

/* Peak memory of this process and of Redis, for the report's resources section. */
static int record_resources(run_ctx_t *r, rs_err_t *err)
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

static int finish(run_ctx_t *r, int interrupted, rs_err_t *err)
{
    char now[24];
    snprintf(now, sizeof(now), "%lld", (long long)rs_wall_ms());
    const char *status = interrupted ? "interrupted" : "finished";
    if (coord_store_run_set(r->store, r->run_id, "finished_at", now, err) ||
        coord_store_run_set(r->store, r->run_id, "status", status, err) ||
        record_resources(r, err))
        return -1;
    json_t *man = coord_store_run_get(r->store, r->run_id, err), *report = NULL;
    if (!man) return -1;
    int rc = coord_report_build(r->store, r->run_id, r->cfg, man, r->dir, &report, err);
    json_decref(man);
    if (rc) return -1;
    if (!r->view.quiet) {
        coord_report_print_summary(stdout, report);
        printf("\nreports: %s/report.json  %s/report.md  %s/results.jsonl\n", r->dir, r->dir, r->dir);
    }
    json_decref(report);
    return 0;
}

static int execute(run_ctx_t *r, rs_err_t *err)
{
    print_banner(r);
    coord_progress_view_init(&r->view, r->view.quiet, 0);
    int rc = coord_dispatch_run(r->dispatch, &stop_requests, on_progress, r, err);
    if (rc < 0) return -1;
    if (stop_requests < 2) coord_dispatch_drain(r->dispatch, rc == 1 ? 30000 : 5000);
    coord_progress_t p;
    coord_dispatch_progress(r->dispatch, &p);
    coord_progress_view_finish(&r->view, &p);
    coord_spawn_stop(&r->spawn, 5000);
    if (finish(r, rc == 1, err)) return -1;
    if (rc == 1)
        fprintf(stderr, "reasonsaver: run %s interrupted with %llu of %llu cases done; its results "
                        "are kept in %s\n", r->run_id, (unsigned long long)p.done,
                (unsigned long long)p.total, r->dir);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    run_args_t a;
    int prc = parse_args(argc, argv, &a);
    if (prc) {
        free_args(&a);
        return prc > 0 ? CLI_OK : CLI_USAGE;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    run_ctx_t r = {0};
    r.view.quiet = a.quiet;
    if (a.quiet) rs_log_set_level(RS_LOG_WARN);
    rs_err_t err;
    int code = CLI_OK;
    if (prepare(&r, &a, &err)) code = cli_fail(CLI_USAGE, "%s", err.msg);
    else if (start(&r, &err)) code = cli_fail(CLI_RUNTIME, "%s", err.msg);
    else {
        int rc = execute(&r, &err);
        if (rc < 0) code = cli_fail(CLI_RUNTIME, "%s", err.msg);
        else if (rc > 0) code = 130;
    }
    ctx_cleanup(&r);
    free_args(&a);
    return code;
}
