/* estimate: per-case counting of calls and tokens, per model and stage, and their sums. */
#include "estimate.h"

#include <stdlib.h>
#include <string.h>

#include "../worker/critique.h"
#include "proto.h"
#include "provider.h"

struct coord_estimate {
    const rs_config_t *cfg;
    wk_critique_t *critique; /* renders the judge and revision prompts as the worker does */
    size_t rows;
    uint64_t *per_request;   /* per model: candidates one generation request asks for */
    uint64_t cases;
    coord_estimate_cell_t *total;   /* rows x stages */
    coord_estimate_cell_t *scratch; /* one case's, for coord_estimate_add */
};

static const char *const STAGE_NAMES[COORD_N_STAGES] = {"generate", "critique", "revise", "embed"};

/* Tokens of a call whose messages hold this many bytes: ceil(bytes / 4) (see estimate.h). */
static uint64_t bytes_tokens(uint64_t bytes)
{
    return (bytes + 3) / 4;
}

coord_estimate_t *coord_estimate_new(const rs_config_t *cfg, rs_err_t *err)
{
    wk_critique_t *cq = wk_critique_new(cfg, err);
    if (!cq) return NULL;
    coord_estimate_t *e = rs_xcalloc(1, sizeof(*e));
    e->cfg = cfg;
    e->critique = cq;
    e->rows = cfg->n_models + 1;
    e->per_request = rs_xcalloc(cfg->n_models ? cfg->n_models : 1, sizeof(uint64_t));
    for (size_t m = 0; m < cfg->n_models; m++) {
        const rs_provider_t *p = rs_provider_find(cfg->models[m].provider);
        e->per_request[m] = p && p->max_choices > 0 ? (uint64_t)p->max_choices : 1;
    }
    e->total = rs_xcalloc(e->rows * COORD_N_STAGES, sizeof(coord_estimate_cell_t));
    e->scratch = rs_xcalloc(e->rows * COORD_N_STAGES, sizeof(coord_estimate_cell_t));
    return e;
}

void coord_estimate_destroy(coord_estimate_t **ep)
{
    if (!ep || !*ep) return;
    coord_estimate_t *e = *ep;
    wk_critique_destroy(&e->critique);
    free(e->per_request);
    free(e->total);
    free(e->scratch);
    free(e);
    *ep = NULL;
}

size_t coord_estimate_rows(const coord_estimate_t *e)
{
    return e->rows;
}

const char *coord_estimate_row_name(const coord_estimate_t *e, size_t row)
{
    return row < e->cfg->n_models ? e->cfg->models[row].name : RS_PROTO_USAGE_EMBEDDER;
}

const char *coord_estimate_stage_name(coord_stage_t st)
{
    return st < COORD_N_STAGES ? STAGE_NAMES[st] : "unknown";
}

/* calls calls of input tokens in each (quoted: the outputs a prompt quotes, at most) that answer
 * at most out tokens each. */
static void charge(coord_estimate_cell_t *c, uint64_t calls, uint64_t in, uint64_t quoted,
                   uint64_t out)
{
    c->calls += calls;
    c->input_tokens += calls * in;
    c->input_tokens_max += calls * (in + quoted);
    c->output_tokens_max += calls * out;
}

/* An answer's output bound: the max the request carries, or the documented assumption when it
 * carries none (rs_provider_output_bound). */
static uint64_t max_tokens(const rs_config_t *cfg, size_t m)
{
    return (uint64_t)rs_provider_output_bound(&cfg->models[m]);
}

static void count_generate(coord_estimate_t *e, const rs_case_t *c, coord_estimate_cell_t *cells)
{
    uint64_t bytes = 0;
    for (size_t i = 0; i < c->n_msgs; i++) bytes += c->msgs[i].content ? strlen(c->msgs[i].content) : 0;
    for (size_t m = 0; m < e->cfg->n_models; m++) {
        uint64_t n = (uint64_t)e->cfg->models[m].n, per = e->per_request[m];
        uint64_t requests = (n + per - 1) / per;
        coord_estimate_cell_t *cell = &cells[m * COORD_N_STAGES + COORD_STAGE_GENERATE];
        charge(cell, requests, bytes_tokens(bytes), 0, 0);
        cell->output_tokens_max += n * max_tokens(e->cfg, m); /* an answer per candidate */
    }
}

/* Judge j's prompt for this case with an empty answer: its known tokens. */
static uint64_t judge_tokens(coord_estimate_t *e, size_t j, const rs_case_t *c)
{
    wk_prompt_t p;
    wk_critique_judge_prompt(e->critique, j, c, "", &p);
    uint64_t t = bytes_tokens(p.bytes);
    wk_prompt_cleanup(&p);
    return t;
}

/* Every judge critiques every generation; the revise judge also each revision but the last. */
static void count_critique(coord_estimate_t *e, const rs_case_t *c, coord_estimate_cell_t *cells)
{
    const rs_config_t *cfg = e->cfg;
    uint64_t later = cfg->revise.rounds > 1 ? (uint64_t)cfg->revise.rounds - 1 : 0;
    for (size_t j = 0; j < cfg->n_judges; j++) {
        size_t jm = cfg->judges[j].model_idx;
        uint64_t known = judge_tokens(e, j, c);
        coord_estimate_cell_t *cell = &cells[jm * COORD_N_STAGES + COORD_STAGE_CRITIQUE];
        for (size_t m = 0; m < cfg->n_models; m++) {
            uint64_t crits = (uint64_t)cfg->models[m].n;
            if (cfg->revise.rounds > 0 && j == cfg->revise.judge_idx) crits *= 1 + later;
            charge(cell, crits, known, max_tokens(cfg, m), max_tokens(cfg, jm));
        }
    }
}

/* Every candidate is revised in every round: the prompt quotes its last answer and the critique. */
static void count_revise(coord_estimate_t *e, const rs_case_t *c, coord_estimate_cell_t *cells)
{
    const rs_config_t *cfg = e->cfg;
    if (cfg->revise.rounds <= 0 || cfg->n_judges == 0) return;
    size_t rjm = cfg->judges[cfg->revise.judge_idx].model_idx;
    wk_prompt_t p;
    wk_critique_revise_prompt(e->critique, c, "", "", &p);
    uint64_t known = bytes_tokens(p.bytes);
    wk_prompt_cleanup(&p);
    for (size_t m = 0; m < cfg->n_models; m++) {
        uint64_t calls = (uint64_t)cfg->models[m].n * (uint64_t)cfg->revise.rounds;
        charge(&cells[m * COORD_N_STAGES + COORD_STAGE_REVISE], calls, known,
               max_tokens(cfg, m) + max_tokens(cfg, rjm), max_tokens(cfg, m));
    }
}

/* The remote embedder: one call a case, over the answers (and for embed_sim the targets). */
static void count_embed(coord_estimate_t *e, const rs_case_t *c, coord_estimate_cell_t *cells)
{
    const rs_config_t *cfg = e->cfg;
    rs_embeds_t embeds = rs_config_embeds(cfg);
    if (cfg->embedder.type == RS_EMBEDDER_HASH || embeds == RS_EMBEDS_NONE) return;
    uint64_t answers = 1 + (embeds == RS_EMBEDS_ALL ? (uint64_t)cfg->revise.rounds : 0);
    uint64_t known = 0, quoted = 0;
    for (size_t m = 0; m < cfg->n_models; m++)
        quoted += (uint64_t)cfg->models[m].n * answers * max_tokens(cfg, m);
    for (size_t t = 0; embeds == RS_EMBEDS_ALL && t < c->n_targets; t++)
        known += c->targets[t] ? bytes_tokens(strlen(c->targets[t])) : 0; /* billed per input */
    charge(&cells[cfg->n_models * COORD_N_STAGES + COORD_STAGE_EMBED], 1, known, quoted, 0);
}

void coord_estimate_case(coord_estimate_t *e, const rs_case_t *c, coord_estimate_cell_t *cells)
{
    memset(cells, 0, e->rows * COORD_N_STAGES * sizeof(*cells));
    count_generate(e, c, cells);
    count_critique(e, c, cells);
    count_revise(e, c, cells);
    count_embed(e, c, cells);
}

static void cell_add(coord_estimate_cell_t *to, const coord_estimate_cell_t *c)
{
    to->calls += c->calls;
    to->input_tokens += c->input_tokens;
    to->input_tokens_max += c->input_tokens_max;
    to->output_tokens_max += c->output_tokens_max;
}

void coord_estimate_add(coord_estimate_t *e, const rs_case_t *c)
{
    coord_estimate_case(e, c, e->scratch);
    for (size_t i = 0; i < e->rows * COORD_N_STAGES; i++) cell_add(&e->total[i], &e->scratch[i]);
    e->cases++;
}

uint64_t coord_estimate_cases(const coord_estimate_t *e)
{
    return e->cases;
}

const coord_estimate_cell_t *coord_estimate_total(const coord_estimate_t *e, size_t row,
                                                  coord_stage_t st)
{
    return &e->total[row * COORD_N_STAGES + st];
}

void coord_estimate_cost(const coord_estimate_t *e, size_t row, const coord_estimate_cell_t *cell,
                         double *min_usd, double *max_usd)
{
    double in = 0, out = 0; /* USD per million tokens */
    if (row < e->cfg->n_models) {
        in = e->cfg->models[row].price_input;
        out = e->cfg->models[row].price_output;
    }
    *min_usd = (double)cell->input_tokens * in / 1e6;
    *max_usd = ((double)cell->input_tokens_max * in + (double)cell->output_tokens_max * out) / 1e6;
}

static json_t *cell_json(const coord_estimate_cell_t *c, double min_usd, double max_usd)
{
    return json_pack("{sIsIsIsIsfsf}", "calls", (json_int_t)c->calls, "input_tokens",
                     (json_int_t)c->input_tokens, "input_tokens_max", (json_int_t)c->input_tokens_max,
                     "output_tokens_max", (json_int_t)c->output_tokens_max, "cost_usd_min", min_usd,
                     "cost_usd_max", max_usd);
}

json_t *coord_estimate_json(const coord_estimate_t *e)
{
    json_t *rows = json_array();
    coord_estimate_cell_t sum = {0};
    double sum_min = 0, sum_max = 0;
    for (size_t r = 0; r < e->rows; r++)
        for (int st = 0; st < COORD_N_STAGES; st++) {
            const coord_estimate_cell_t *c = coord_estimate_total(e, r, (coord_stage_t)st);
            if (!c->calls) continue;
            double lo, hi;
            coord_estimate_cost(e, r, c, &lo, &hi);
            json_t *o = cell_json(c, lo, hi);
            json_object_set_new(o, "model", json_string(coord_estimate_row_name(e, r)));
            json_object_set_new(o, "stage", json_string(STAGE_NAMES[st]));
            json_array_append_new(rows, o);
            cell_add(&sum, c);
            sum_min += lo;
            sum_max += hi;
        }
    return json_pack("{sIsososs}", "cases", (json_int_t)e->cases, "rows", rows, "total",
                     cell_json(&sum, sum_min, sum_max), "tokens", "bytes/4");
}
