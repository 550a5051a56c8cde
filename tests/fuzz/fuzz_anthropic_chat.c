/* fuzz_anthropic_chat: an Anthropic messages response body (the anthropic provider's parse_chat).
 * A body that parses has exactly one choice, with text. */
#include <stdint.h>
#include <stdlib.h>

#include "provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const rs_provider_t *p = rs_provider_find("anthropic");
    rs_chat_resp_t r;
    rs_err_t err = {{0}};
    if (p->parse_chat((const char *)data, size, &r, &err) != 0) {
        if (err.msg[0] == '\0') abort();
        return 0;
    }
    if (r.n_choices != 1 || !r.choices[0].text || r.input_tokens < 0 || r.output_tokens < 0)
        abort();
    rs_chat_resp_cleanup(&r);
    return 0;
}
