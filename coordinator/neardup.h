/* neardup: the near-duplicate pass of the report (report.json's "near_duplicates"): pairs of
 * the run's dataset prompts that are nearly the same, found from hash embeddings. It re-reads and
 * embeds at most 50,000 prompts from the dataset file (50 MB of embeddings, ~6 s on two cores at
 * the cap), so the report runs it only when report.near_duplicates asks for it. */
#ifndef COORD_NEARDUP_H
#define COORD_NEARDUP_H

#include <jansson.h>

#include "config.h"

/* {threshold, total, cases, capped, pairs: [{a, a_text, b, b_text, similarity}]} over the prompts
 * of the dataset the manifest names (new reference), or NULL with a warning when the dataset
 * cannot be read as it was (moved, changed since the run): the report is still written. */
json_t *coord_neardup_json(const rs_config_t *cfg, json_t *manifest);

#endif
