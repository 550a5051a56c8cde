/* units: a run's work items. A run asks every case of the dataset under every prompt variant
 * (rs_config_variants), epochs times (docs/EXPERIMENTS.md); each asking is a unit:
 *
 *   unit = (case * variants + variant) * epochs + epoch
 *
 * so one case's units are adjacent (results.jsonl keeps them together) and a run of one prompt
 * and one epoch has unit == case, as before variants existed. The scheduler, the store, the
 * records' "idx", results.jsonl and the report's counters count units; the dataset counts cases.
 * No I/O but the dataset read. */
#ifndef COORD_UNITS_H
#define COORD_UNITS_H

#include <stdint.h>

#include "config.h"
#include "dataset.h"
#include "util.h"

typedef struct coord_units {
    uint64_t cases;
    uint32_t variants, epochs; /* >= 1 each */
} coord_units_t;

/* The units of a run of cfg over a dataset of cases cases. */
void coord_units_init(coord_units_t *u, const rs_config_t *cfg, uint64_t cases);

uint64_t coord_units_total(const coord_units_t *u);

/* The case, variant and epoch of unit (< total); any of the outputs may be NULL. */
void coord_units_split(const coord_units_t *u, uint64_t unit, uint64_t *case_idx,
                       uint32_t *variant, uint32_t *epoch);

/* The unit of case case_idx under variant, in epoch (the numbering above). */
uint64_t coord_units_of(const coord_units_t *u, uint64_t case_idx, uint32_t variant,
                        uint32_t epoch);

/* Reads unit's case with its variant's prompt into out (rs_case_cleanup), out->idx = unit and
 * out->variant / out->epoch set. 0 / -1 with err. */
int coord_units_read(const coord_units_t *u, rs_dataset_t *ds, uint64_t unit, rs_case_t *out,
                     rs_err_t *err);

#endif
