/* fuzz_retry_after: a Retry-After header value (rs_provider_retry_after), delta-seconds or an
 * HTTP-date, and the classification of a 429 that carries it (rs_provider_classify). A value that
 * parses gives a delay in [0, RS_PROVIDER_RETRY_AFTER_MAX_MS]; the 429 is retried with that delay. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "provider.h"

#define NOW_MS INT64_C(1764806400000) /* 2025-12-04 00:00:00 UTC */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v = rs_xstrndup((const char *)data, size);
    int64_t delay = -7;
    int rc = rs_provider_retry_after(v, NOW_MS, &delay);
    if (rc == 0 && (delay < 0 || delay > RS_PROVIDER_RETRY_AFTER_MAX_MS)) abort();
    if (rc != 0 && rc != -1) abort();

    rs_model_cfg_t m = {.name = "m", .provider = "openai", .model = "gpt"};
    rs_http_outcome_t o = {.net = RS_NET_OK, .status = 429, .content_type = "application/json",
                           .body = "{}", .body_len = 2, .retry_after = v};
    rs_failure_t f;
    if (rs_provider_classify(&m, &o, NOW_MS, &f) != -1 || !f.retry) abort();
    if (f.retry_after_ms != (rc == 0 ? delay : -1)) abort();
    free(v);
    return 0;
}
