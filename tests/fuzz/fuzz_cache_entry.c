/* fuzz_cache_entry: a value read from the response cache's Redis (rs_cache_entry_decode), which
 * anything with write access to the cache's keys may have put there. A value that decodes names a
 * body that is the whole rest of the value, with a time that is not negative; encoding what was
 * decoded and decoding it again gives the same time and the same body bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cachekey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data, *body = NULL;
    size_t len = 0;
    int64_t ms = -1;
    int rc = rs_cache_entry_decode(in, size, &body, &len, &ms);
    if (rc != 0) {
        if (rc != -1) abort();
        return 0;
    }
    if (ms < 0 || body < in || body + len != in + size) abort();

    rs_buf_t again;
    rs_buf_init(&again);
    rs_cache_entry_encode(&again, ms, body, len);
    const char *body2 = NULL;
    size_t len2 = 0;
    int64_t ms2 = -1;
    if (rs_cache_entry_decode(again.data, again.len, &body2, &len2, &ms2) != 0) abort();
    if (ms2 != ms || len2 != len || memcmp(body2, body, len) != 0) abort();
    rs_buf_cleanup(&again);
    return 0;
}
