/* estimate: what a run will ask of each model before it asks anything — per model and stage
 * (generate, critique, revise, embed) the calls, the input tokens and an upper bound of the output
 * tokens, and the cost range those make at the models' prices. Cases are added one at a time as a
 * TASK carries them (common/dataset.c renders their prompts); no I/O here. The budget
 * (coordinator/budget.c) asks the same question of one case: what it may cost at most.
 *
 * Counting follows the worker's chain (worker/chain.c, docs/CHAINS.md):
 * - generate: a model's n candidates take ceil(n / max_choices) requests (OpenAI-compatible
 *   servers answer up to 128 in one; sim and Anthropic one each), each sending the whole prompt;
 * - critique: every judge critiques every candidate of every model once, and the revise judge
 *   also critiques each revision but the last (revise.rounds - 1 more per candidate);
 * - revise: every candidate is revised revise.rounds times. Revisions do not depend on verdicts,
 *   only on the critique before them having succeeded, so without errors the count is exact and
 *   otherwise an upper bound;
 * - embed: the remote (openai) embedder is called once per case when the run embeds
 *   (rs_config_embeds): its texts are the answers and, for embed_sim, the targets.
 * Rows are the models in config order, then the remote embedder (RS_PROTO_USAGE_EMBEDDER), as in
 * the live usage counters (coordinator/usage.c).
 *
 * Tokens are not counted with a tokenizer (Debian packages none for these models): a call's input
 * is ceil(bytes / 4) of its messages' contents together, the approximation the sim and
 * reasonsaver-mockllm bill by and coordinator/pace.c paces by. A real tokenizer gives about that
 * for English text (OpenAI's rule of thumb: 4 characters a token) and more for digits, code and
 * other scripts. input_tokens counts what is known before the run: the rendered prompts, with the
 * answers and critiques that critique and revision prompts quote left empty; input_tokens_max adds
 * those quoted outputs at their model's max_tokens (ceil((a + b) / 4) <= ceil(a / 4) +
 * ceil(b / 4)). output_tokens_max is max_tokens per answer. "max_tokens" here is the model's
 * output bound (rs_provider_output_bound): params.max_completion_tokens, else the max_tokens the
 * request carries, else 4096 (RS_PROVIDER_DEFAULT_MAX_TOKENS), an assumption when no max is sent. The cost range is
 * [input_tokens x input price, input_tokens_max x input price + output_tokens_max x output price]. */
#ifndef COORD_ESTIMATE_H
#define COORD_ESTIMATE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "dataset.h"
#include "util.h"

typedef enum coord_stage {
    COORD_STAGE_GENERATE = 0,
    COORD_STAGE_CRITIQUE,
    COORD_STAGE_REVISE,
    COORD_STAGE_EMBED,
    COORD_N_STAGES,
} coord_stage_t;

/* One model's calls in one stage. */
typedef struct coord_estimate_cell {
    uint64_t calls;
    uint64_t input_tokens;      /* from the rendered prompts, quoted outputs left empty */
    uint64_t input_tokens_max;  /* ... and the quoted outputs at their max_tokens */
    uint64_t output_tokens_max; /* max_tokens per answer */
} coord_estimate_cell_t;

typedef struct coord_estimate coord_estimate_t;

/* cfg must outlive it. NULL with err when a judge's verdict does not compile. */
coord_estimate_t *coord_estimate_new(const rs_config_t *cfg, rs_err_t *err);
void coord_estimate_destroy(coord_estimate_t **e);

/* Rows: cfg->n_models models, then the remote embedder. */
size_t coord_estimate_rows(const coord_estimate_t *e);
const char *coord_estimate_row_name(const coord_estimate_t *e, size_t row);
const char *coord_estimate_stage_name(coord_stage_t st);

/* Case c's calls and tokens alone into cells[row * COORD_N_STAGES + stage] (rows x stages cells,
 * overwritten). c is a case as rs_dataset_read gives it, input included. */
void coord_estimate_case(coord_estimate_t *e, const rs_case_t *c, coord_estimate_cell_t *cells);
/* Adds case c to the totals. */
void coord_estimate_add(coord_estimate_t *e, const rs_case_t *c);

uint64_t coord_estimate_cases(const coord_estimate_t *e);
/* The totals of row and stage so far. */
const coord_estimate_cell_t *coord_estimate_total(const coord_estimate_t *e, size_t row,
                                                  coord_stage_t st);
/* The cost range of cell at row's prices, USD (the embedder has none: 0). */
void coord_estimate_cost(const coord_estimate_t *e, size_t row, const coord_estimate_cell_t *cell,
                         double *min_usd, double *max_usd);

/* {"cases", "rows": [{"model", "stage", "calls", "input_tokens", "input_tokens_max",
 *  "output_tokens_max", "cost_usd_min", "cost_usd_max"}] (rows with calls only), "total": {the
 *  same sums}, "tokens": "bytes/4"} (new reference). */
json_t *coord_estimate_json(const coord_estimate_t *e);

#endif
