/* fuzz_prompt_render: the prompt template renderer (rs_prompt_render). The input is a template, a
 * NUL byte, and a JSON record (any JSON value, read with rs_jdoc_read); without a NUL it is all
 * template and the record is empty. A template without "{{" renders as itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "jdoc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nul = memchr(data, '\0', size);
    size_t tlen = nul ? (size_t)(nul - (const char *)data) : size;
    char *tmpl = rs_xstrndup((const char *)data, tlen);
    rs_jdoc_t *doc = rs_jdoc_new();
    const rs_jv_t *rec = rs_jdoc_read(doc, nul ? (const char *)nul + 1 : "{}",
                                      nul ? size - tlen - 1 : 2, RS_JDOC_MAX_DEPTH, NULL);
    rs_err_t err = {{0}};
    char *out = rs_prompt_render(tmpl, rec, "question", &err);
    if (!out && err.msg[0] == '\0') abort();
    if (out && !strstr(tmpl, "{{") && strcmp(out, tmpl) != 0) abort();
    free(out);
    rs_jdoc_free(&doc);
    free(tmpl);
    return 0;
}
