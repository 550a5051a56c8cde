/* stats: the statistics a report needs, checked in unit tests against published values. */
#ifndef RS_STATS_H
#define RS_STATS_H

#include <stdint.h>

/* Wilson score interval for k successes in n trials at normal quantile z (1.959964 for 95%).
 * n == 0 gives [0, 1]. */
void rs_wilson(uint64_t k, uint64_t n, double z, double *lo, double *hi);

#endif
