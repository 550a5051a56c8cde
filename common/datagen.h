/* datagen: deterministic synthetic datasets, so that 10k+ case runs are one command away.
 *
 * `arithmetic`: multi-step integer arithmetic word problems. Each line is JSON with id, question,
 * answer (an integer as text), and tags ["ops:N", "difficulty:easy|medium|hard", "op:+", ...].
 * The same (n, seed) always yields byte-identical output. */
#ifndef RS_DATAGEN_H
#define RS_DATAGEN_H

#include <stdint.h>
#include <stdio.h>

#include "util.h"

/* Writes n arithmetic cases as JSONL to out. 0 / -1 (write error). */
int rs_datagen_arithmetic(FILE *out, uint64_t n, uint64_t seed, rs_err_t *err);

#endif
