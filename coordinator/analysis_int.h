/* analysis_int: what the analysis's unit test reads of its failure sample
 * (tests/unit/test_analysis.c); not for other modules. */
#ifndef COORD_ANALYSIS_INT_H
#define COORD_ANALYSIS_INT_H

#include <stddef.h>

#include "analysis.h"

/* The case id and the (cut) output of the sample's i-th kept failure, i below
 * coord_analysis_failures_kept(a), in the sample's heap order; owned by a. */
const char *coord_analysis_failure_case_id(const coord_analysis_t *a, size_t i);
const char *coord_analysis_failure_output(const coord_analysis_t *a, size_t i);

#endif
