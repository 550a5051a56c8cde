/* chain: the first version of the per-case chain — sim generation, extraction, grading. */
#include "chain.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

struct wk_chain {
    rs_config_t *cfg;
    rs_scorer_t *scorer;
};

wk_chain_t *wk_chain_new(const char *spec_json, rs_err_t *err)
{
    rs_config_t *cfg = rs_config_from_json(spec_json, err);
    if (!cfg) return NULL;
    rs_scorer_t *sc = rs_scorer_new(&cfg->scoring, err);
    if (!sc) {
        rs_config_destroy(&cfg);
        return NULL;
    }
    wk_chain_t *ch = rs_xcalloc(1, sizeof(*ch));
    ch->cfg = cfg;
    ch->scorer = sc;
    return ch;
}

void wk_chain_destroy(wk_chain_t **ch)
{
    if (!ch || !*ch) return;
    rs_scorer_destroy(&(*ch)->scorer);
    rs_config_destroy(&(*ch)->cfg);
    free(*ch);
    *ch = NULL;
}

const rs_config_t *wk_chain_config(const wk_chain_t *ch)
{
    return ch->cfg;
}

static const char *VERDICT_NAMES[] = {"wrong", "correct", "skipped"};

static json_t *grades_json(const wk_chain_t *ch, const rs_case_t *c, const char *output,
                           const char *extracted)
{
    json_t *g = json_object();
    for (size_t i = 0; i < ch->cfg->scoring.n_graders; i++) {
        const char *v = "error";
        if (output)
            v = VERDICT_NAMES[rs_scorer_grade(ch->scorer, i, output, extracted, c->targets,
                                              c->n_targets)];
        json_object_set_new(g, ch->cfg->scoring.graders[i].name, json_string(v));
    }
    return g;
}

static json_t *candidate_json(const wk_chain_t *ch, const rs_case_t *c, int k,
                              const rs_sim_reply_t *r)
{
    char *extracted = r->text ? rs_scorer_extract(ch->scorer, r->text) : NULL;
    json_t *o = json_pack("{siso*so*sosfsIsIso*}", "k", k, "output",
                          r->text ? json_string(r->text) : NULL, "extracted",
                          extracted ? json_string(extracted) : NULL, "grades",
                          grades_json(ch, c, r->text, extracted), "latency_ms", r->latency_ms,
                          "input_tokens", (json_int_t)r->input_tokens, "output_tokens",
                          (json_int_t)r->output_tokens, "error",
                          r->failed ? json_string(r->error) : NULL);
    free(extracted);
    return o;
}

/* One model's part of the record; *failed and *latency are updated. */
static json_t *model_json(const wk_chain_t *ch, const rs_model_cfg_t *m, const rs_case_t *c,
                          int *failed, double *latency)
{
    json_t *cands = json_array();
    const char *error = NULL;
    for (int k = 0; k < m->n; k++) {
        rs_sim_reply_t r;
        rs_sim_generate(m, m->seed, c, k, &r);
        json_array_append_new(cands, candidate_json(ch, c, k, &r));
        if (r.failed && !error) error = "simulated provider error";
        if (r.latency_ms > *latency) *latency = r.latency_ms;
        rs_sim_reply_cleanup(&r);
    }
    /* The model's verdict is its first candidate's: if that call failed, the model failed. */
    json_t *first_err = json_object_get(json_array_get(cands, 0), "error");
    if (json_is_string(first_err)) *failed = 1;
    return json_pack("{sssssbsOso}", "model", m->name, "provider", m->provider, "simulated", strcmp(m->provider, "sim") == 0,
                     "error", json_is_string(first_err) ? first_err : json_null(), "candidates", cands);
}

static json_t *strings_json(char *const *s, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_string(s[i]));
    return a;
}

void wk_chain_run(wk_chain_t *ch, const rs_case_t *c, wk_outcome_t *out)
{
    memset(out, 0, sizeof(*out));
    json_t *models = json_array();
    for (size_t m = 0; m < ch->cfg->n_models; m++)
        json_array_append_new(models, model_json(ch, &ch->cfg->models[m], c, &out->failed,
                                                 &out->latency_ms));
    json_t *rec = json_pack("{sIsssososo}", "idx", (json_int_t)c->idx, "id", c->id, "tags",
                            strings_json(c->tags, c->n_tags), "targets",
                            strings_json(c->targets, c->n_targets), "models", models);
    out->json = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    out->json_len = strlen(out->json);
    json_decref(rec);
}
