/* fuzz_prompt_render: the prompt template renderer (rs_prompt_render). The input is a template, a
 * NUL byte, and a JSON record (any JSON value); without a NUL it is all template and the record is
 * empty. A template without "{{" renders as itself. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nul = memchr(data, '\0', size);
    size_t tlen = nul ? (size_t)(nul - (const char *)data) : size;
    char *tmpl = rs_xstrndup((const char *)data, tlen);
    json_t *rec = nul ? json_loadb(nul + 1, size - tlen - 1, JSON_DECODE_ANY, NULL)
                      : json_object();
    rs_err_t err = {{0}};
    char *out = rs_prompt_render(tmpl, rec, "question", &err);
    if (!out && err.msg[0] == '\0') abort();
    if (out && !strstr(tmpl, "{{") && strcmp(out, tmpl) != 0) abort();
    free(out);
    json_decref(rec);
    free(tmpl);
    return 0;
}
