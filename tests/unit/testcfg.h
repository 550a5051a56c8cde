/* testcfg: what several unit tests need around a config: one loaded from YAML text (failing the
 * test with the loader's message when it does not load), and a comparison of doubles within a
 * tolerance (this cmocka has no assert_double_equal). Header only: each test program is one .c
 * file; include it after <cmocka.h>. */
#ifndef RS_TEST_TESTCFG_H
#define RS_TEST_TESTCFG_H

#include <math.h>
#include <stdlib.h>

#include "config.h"
#include "util.h"

/* The config of "dataset: {path: x.jsonl}" followed by extra; the caller destroys it. */
static inline rs_config_t *cfg_from_yaml(const char *extra)
{
    rs_err_t err;
    char *yaml = rs_xasprintf("dataset: {path: x.jsonl}\n%s", extra);
    rs_config_t *cfg = rs_config_load_string(yaml, "<test>", NULL, NULL, 0, &err);
    free(yaml);
    if (!cfg) fail_msg("%s", err.msg);
    return cfg;
}

/* |got - want| <= tol. */
static inline void assert_near(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol)) fail_msg("got %.17g, want %.17g (tolerance %g)", got, want, tol);
}

#endif
