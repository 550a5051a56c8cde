/* pace: per-model rpm / tpm limits enforced for the whole cluster by pacing dispatch.
 *
 * The coordinator is the only process that hands out cases, so one token bucket per limited model
 * here limits every worker together. A case costs each model the requests it will make (n for a
 * provider that takes one candidate per request, 1 for OpenAI's n-in-one) and, for tpm, an upper
 * bound of its tokens: the prompt's estimated tokens (bytes / 4) per request plus the output
 * bound per candidate (rs_provider_output_bound: max_completion_tokens, max_tokens, or 4096 when
 * the request carries no max). Buckets hold one second of budget (at least one case), so the pace is smooth: a burst
 * never exceeds a sixtieth of the minute's limit.
 * Retries are not paced here: they answer the server's own 429s, with its Retry-After. */
#ifndef COORD_PACE_H
#define COORD_PACE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

typedef struct coord_pace coord_pace_t;

/* NULL when no model has a limit (then pacing costs nothing). */
coord_pace_t *coord_pace_new(const rs_config_t *cfg);
void coord_pace_destroy(coord_pace_t **p);

/* How many of the next `want` cases may go out now, assuming prompts of about prompt_bytes each
 * (a running average kept by the caller). */
size_t coord_pace_room(coord_pace_t *p, size_t want, double prompt_bytes);
/* Takes the budget of n cases whose prompts total prompt_bytes. */
void coord_pace_charge(coord_pace_t *p, size_t n, double prompt_bytes);

#endif
