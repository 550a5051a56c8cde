/* resume: config identity, the changed-input checks and the done set of a stored run. */
#include "resume.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "jsonget.h"
#include "log.h"
#include "record.h"

int coord_config_identity(const char *spec_json, char out[65], rs_err_t *err)
{
    json_error_t jerr;
    json_t *spec = json_loads(spec_json, 0, &jerr);
    if (!spec) return rs_err_set(err, "stored config is not JSON: %s", jerr.text);
    json_object_del(spec, "cluster");
    json_object_del(spec, "cache"); /* where answers are kept, not what they are */
    json_object_del(spec, "report");
    json_object_del(json_object_get(spec, "run"), "out_dir");
    json_object_del(json_object_get(spec, "run"), "name");
    json_object_del(json_object_get(spec, "dataset"), "shard_size");
    /* a budget decides how much runs, never what a result is: a resume may raise it */
    json_object_del(spec, "budget");
    /* gates judge the results once they are in, so a resume may tighten or loosen them */
    json_object_del(spec, "gates");
    size_t i;
    json_t *m;
    /* how many calls may be out at once changes how fast a run goes, not what it computes */
    json_array_foreach(json_object_get(spec, "models"), i, m) {
        json_object_del(m, "budget");
        json_object_del(m, "concurrency");
    }
    char *text = json_dumps(spec, JSON_SORT_KEYS | JSON_COMPACT);
    rs_sha256_hex(text, strlen(text), out);
    free(text);
    json_decref(spec);
    return 0;
}

int coord_resume_check(json_t *manifest, const char *run_id, const char *spec_json,
                       const rs_dataset_t *ds, int force, char **forced, rs_err_t *err)
{
    char now_id[65], then_id[65];
    *forced = NULL;
    /* The stored config goes through this version's loader first, so that keys a newer version
     * added (with their defaults) do not count as a change. */
    rs_config_t *then = rs_config_from_json(coord_jstr(manifest, "config"), err);
    if (!then) return rs_err_prefix(err, "run %s: its stored config", run_id);
    char *then_json = rs_config_to_json(then);
    rs_config_destroy(&then);
    int rc = coord_config_identity(spec_json, now_id, err) ||
             coord_config_identity(then_json, then_id, err);
    free(then_json);
    if (rc) return -1;
    const char *then_ds = coord_jstr(manifest, "dataset_sha256"), *now_ds = rs_dataset_sha256(ds);
    int config_changed = strcmp(now_id, then_id) != 0;
    int dataset_changed = strcmp(then_ds, now_ds) != 0;
    if (!config_changed && !dataset_changed) return 0;
    rs_buf_t why;
    rs_buf_init(&why);
    if (dataset_changed)
        rs_buf_printf(&why, "dataset %s changed since the run started (sha256 %.12s then, %.12s "
                            "now)", rs_dataset_path(ds), then_ds, now_ds);
    if (config_changed)
        rs_buf_printf(&why, "%sthe config changed since the run started (models, prompt, scoring, "
                            "dataset mapping or seed)", dataset_changed ? "; " : "");
    if (force) {
        *forced = rs_buf_detach(&why);
        return 0;
    }
    rs_err_set(err, "run %s: %s; pass --force to resume anyway (recorded in the report)", run_id,
               why.data);
    rs_buf_cleanup(&why);
    return -1;
}

typedef struct done_scan {
    const rs_config_t *cfg;
    rs_jdoc_t *doc; /* each record is read into it */
    coord_sched_t *sched;
    coord_tally_t *tally;
    uint64_t failed;
    uint64_t *damaged;
    size_t n_damaged, cap_damaged;
} done_scan_t;

static void mark(uint64_t idx, const char *stored, size_t len, void *arg)
{
    done_scan_t *s = arg;
    const char *json;
    size_t n;
    rs_err_t why;
    const rs_jv_t *rec = NULL;
    if (coord_record_unwrap(stored, len, &json, &n, &why) == 0)
        rec = coord_record_read(s->doc, json, n, idx, NULL, s->cfg, COORD_RECORD_SKIP_SPANS, &why);
    if (!rec) {
        rs_warn("case %llu: its stored record is damaged (%s); it runs again",
                (unsigned long long)idx, why.msg);
        if (s->n_damaged == s->cap_damaged) {
            s->cap_damaged = s->cap_damaged ? 2 * s->cap_damaged : 64;
            s->damaged = rs_xrealloc(s->damaged, s->cap_damaged * sizeof(uint64_t));
        }
        s->damaged[s->n_damaged++] = idx;
        return;
    }
    /* HSCAN may return a field twice: only its first time counts */
    if (coord_sched_complete(s->sched, idx)) {
        if (coord_record_failed(rec)) s->failed++;
        if (s->tally) coord_tally_add(s->tally, rec);
    }
}

/* to[key] made what from[key] is (removed when from has none); 1 when it changed. */
static int take_key(json_t *to, json_t *from, const char *key)
{
    json_t *a = json_object_get(to, key), *b = json_object_get(from, key);
    if (a == b || (a && b && json_equal(a, b))) return 0;
    if (b) json_object_set(to, key, b);
    else json_object_del(to, key);
    return 1;
}

/* then's settings outside the identity that decide how the run goes and how it is judged made
 * now's: the run's budget and gates, each model's budget and concurrency (by name); 1 when any
 * changed. */
static int take_settings(json_t *then, json_t *now)
{
    int changed = take_key(then, now, "budget") | take_key(then, now, "gates");
    size_t i, j;
    json_t *a, *b;
    json_array_foreach(json_object_get(then, "models"), i, a) {
        json_array_foreach(json_object_get(now, "models"), j, b) {
            if (json_equal(json_object_get(a, "name"), json_object_get(b, "name")))
                changed |= take_key(a, b, "budget") | take_key(a, b, "concurrency");
        }
    }
    return changed;
}

int coord_resume_keep_settings(coord_store_t *st, const char *run_id, json_t *manifest,
                               const char *spec_json, rs_err_t *err)
{
    json_t *then = json_loads(coord_jstr(manifest, "config"), 0, NULL);
    json_t *now = json_loads(spec_json, 0, NULL);
    int rc = 0;
    if (then && now && take_settings(then, now)) {
        char *text = json_dumps(then, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
        rc = coord_store_run_set(st, run_id, "config", text, err);
        free(text);
    }
    json_decref(then);
    json_decref(now);
    return rc;
}

int coord_resume_mark_done(coord_store_t *st, const char *run_id, const rs_config_t *cfg,
                           coord_sched_t *sched, coord_tally_t *tally, uint64_t *damaged,
                           rs_err_t *err)
{
    done_scan_t s = {.cfg = cfg, .doc = rs_jdoc_new(), .sched = sched, .tally = tally};
    int rc = coord_store_results_scan(st, run_id, mark, &s, err);
    for (size_t i = 0; rc == 0 && i < s.n_damaged; i += 1000)
        rc = coord_store_results_del(st, run_id, s.damaged + i,
                                     s.n_damaged - i < 1000 ? s.n_damaged - i : 1000, err);
    char failed[24];
    snprintf(failed, sizeof(failed), "%llu", (unsigned long long)s.failed);
    if (rc == 0) rc = coord_store_run_set(st, run_id, "failed", failed, err);
    *damaged = s.n_damaged;
    free(s.damaged);
    rs_jdoc_free(&s.doc);
    return rc;
}
