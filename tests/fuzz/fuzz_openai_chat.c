/* fuzz_openai_chat: an OpenAI chat-completions response body (the openai provider's parse_chat),
 * and the error-message extraction a failed call's body goes through. A body that parses has at
 * least one choice, each with text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const rs_provider_t *p = rs_provider_find("openai");
    rs_chat_resp_t r;
    rs_err_t err = {{0}};
    if (p->parse_chat((const char *)data, size, &r, &err) == 0) {
        if (r.n_choices == 0 || r.input_tokens < 0 || r.output_tokens < 0) abort();
        for (size_t i = 0; i < r.n_choices; i++)
            if (!r.choices[i].text || r.choices[i].index < 0) abort();
        rs_chat_resp_cleanup(&r);
    } else if (err.msg[0] == '\0') {
        abort();
    }
    char msg[RS_PROVIDER_EXCERPT + 1];
    rs_provider_error_message((const char *)data, size, msg, sizeof(msg));
    if (strlen(msg) > RS_PROVIDER_EXCERPT) abort();
    for (const char *s = msg; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f) abort(); /* printable only */
    return 0;
}
