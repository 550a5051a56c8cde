/* resume: config identity, the changed-input checks and the done set of a stored run. */
#include "resume.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"

int coord_config_identity(const char *spec_json, char out[65], rs_err_t *err)
{
    json_error_t jerr;
    json_t *spec = json_loads(spec_json, 0, &jerr);
    if (!spec) return rs_err_set(err, "stored config is not JSON: %s", jerr.text);
    json_object_del(spec, "cluster");
    json_object_del(spec, "report");
    json_object_del(json_object_get(spec, "run"), "out_dir");
    json_object_del(json_object_get(spec, "run"), "name");
    json_object_del(json_object_get(spec, "dataset"), "shard_size");
    char *text = json_dumps(spec, JSON_SORT_KEYS | JSON_COMPACT);
    rs_sha256_hex(text, strlen(text), out);
    free(text);
    json_decref(spec);
    return 0;
}

static const char *field(json_t *m, const char *k)
{
    const char *s = json_string_value(json_object_get(m, k));
    return s ? s : "";
}

int coord_resume_check(json_t *manifest, const char *run_id, const char *spec_json,
                       const rs_dataset_t *ds, int force, char **forced, rs_err_t *err)
{
    char now_id[65], then_id[65];
    *forced = NULL;
    /* The stored config goes through this version's loader first, so that keys a newer version
     * added (with their defaults) do not count as a change. */
    rs_config_t *then = rs_config_from_json(field(manifest, "config"), err);
    if (!then) return rs_err_prefix(err, "run %s: its stored config", run_id);
    char *then_json = rs_config_to_json(then);
    rs_config_destroy(&then);
    int rc = coord_config_identity(spec_json, now_id, err) ||
             coord_config_identity(then_json, then_id, err);
    free(then_json);
    if (rc) return -1;
    const char *then_ds = field(manifest, "dataset_sha256"), *now_ds = rs_dataset_sha256(ds);
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

static void mark(uint64_t idx, void *arg)
{
    coord_sched_complete(arg, idx);
}

int coord_resume_mark_done(coord_store_t *st, const char *run_id, coord_sched_t *sched,
                           rs_err_t *err)
{
    return coord_store_results_scan(st, run_id, mark, sched, err);
}
