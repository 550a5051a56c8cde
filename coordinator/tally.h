/* tally: the report's counters, folded one result record at a time.
 *
 * Per model: cases, errors by reason, verdicts per grader, and its calls by stage (generate,
 * critique as a judge, revise: outputs, tokens, latency); per tag the same verdicts; the remote
 * embedder's calls; and the analysis (analysis.h: strategies, rounds, judges, failures). The
 * running coordinator folds each record as it stores it (dispatch.c), so the end of a run writes
 * the report from memory; `report` and `resume` rebuild the same state from Redis.
 *
 * The state does not depend on the order records are folded in: counters are sums of integers,
 * latencies go into a histogram of whole microseconds (exact below 2 ms, within 0.05% above),
 * names first seen in one record or another are sorted when written out, and the analysis keeps
 * failures by a hash of the case rather than by arrival. So the two paths give byte-identical
 * report.json. Memory does not grow with the run: a few KiB per model and tag, plus the
 * analysis' failure sample. */
#ifndef COORD_TALLY_H
#define COORD_TALLY_H

#include <jansson.h>
#include <stdint.h>

#include "analysis.h"
#include "config.h"
#include "record.h"

typedef struct coord_tally coord_tally_t;

/* A tally for the run configured by cfg (borrowed: it must outlive the tally). */
coord_tally_t *coord_tally_new(const rs_config_t *cfg);
void coord_tally_destroy(coord_tally_t **t);

/* Folds one checked record (coord_record_load's object; its spans are not read). Each case must
 * be folded at most once. */
void coord_tally_add(coord_tally_t *t, const rs_jv_t *record);

/* Loads the record text of case idx (checksum already verified) with record.h's checks, the
 * spans left out, and folds it. A record that fails the checks is counted as corrupted (with a
 * warning) and left out of everything else. 0 when folded, -1 when corrupted. */
int coord_tally_add_text(coord_tally_t *t, uint64_t idx, const char *text, size_t len);

/* Counts case idx as corrupted: its stored bytes failed their checksum. */
void coord_tally_corrupt(coord_tally_t *t, uint64_t idx);

uint64_t coord_tally_cases(const coord_tally_t *t);
/* The corrupted cases counted so far (the report's "corrupted"); a reader adds to it. */
coord_corrupt_t *coord_tally_corrupted(coord_tally_t *t);

/* The report's parts (new references): "models" (per model: counts per grader, errors by
 * reason, tokens, cost, latency, stages; and, when responses said them, reasoning_tokens and
 * served_models: each model id the server said it served -> the outputs it gave, keys sorted),
 * "tags", and "embedder" (NULL when the remote embedder was never called). */
json_t *coord_tally_models_json(const coord_tally_t *t);
json_t *coord_tally_tags_json(const coord_tally_t *t);
json_t *coord_tally_embedder_json(const coord_tally_t *t);

/* Adds the analysis (analysis.h's coord_analysis_fill) and "experiment" (experiment.h) to a
 * report holding "models". */
void coord_tally_fill_analysis(coord_tally_t *t, json_t *report);

/* ---- latency histogram (exposed for tests) ---- */

/* Latencies in whole microseconds: counts per value below 2,048 us, then 1,024 buckets per
 * power of two up to 2^40 us (anything above counts there), allocated as values arrive. */
typedef struct coord_lathist {
    uint32_t *chunk[31]; /* [0]: 0 .. 2047 us (2,048 counts); [k >= 1]: [2^(k+10), 2^(k+11)) */
    uint64_t n, sum_us, max_us;
} coord_lathist_t;

void coord_lathist_add(coord_lathist_t *h, double ms);
void coord_lathist_cleanup(coord_lathist_t *h);
/* The p-th percentile (0..100) in ms, interpolated between ranks as rs_percentile_sorted does,
 * each rank's value the middle of its bucket (the exact value below 2 ms and for the maximum);
 * NaN when empty. */
double coord_lathist_percentile(const coord_lathist_t *h, double p);
/* {mean, p50, p95, max} in ms, or JSON null when empty (new reference). */
json_t *coord_lathist_json(const coord_lathist_t *h);

#endif
