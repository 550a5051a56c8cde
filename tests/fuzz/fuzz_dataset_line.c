/* fuzz_dataset_line: one dataset line (rs_dataset_parse_line), as the scan and rs_dataset_read see
 * it, under the two formats: the first byte picks GSM8K-style JSONL (fields mapped, target_regex,
 * a system prompt and a template) or the OpenAI evals format; the rest is the line. A case that
 * parses must be whole: an id, at least one message, every string present. */
#include <stdint.h>
#include <stdlib.h>

#include "config.h"
#include "dataset.h"

static const char *const CONFIGS[2] = {
    "dataset: {path: d.jsonl, format: jsonl, fields: {input: question, target: answer},\n"
    "          target_regex: \"#### (.*)\"}\n"
    "models: [{provider: sim, model: m}]\n"
    "prompt: {system: \"Solve it.\", template: \"Q: {{input}} ({{id}}, {{tags}})\"}\n",
    "dataset: {path: d.jsonl, format: evals}\n"
    "models: [{provider: sim, model: m}]\n",
};
static rs_config_t *cfgs[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    for (int i = 0; i < 2; i++) {
        rs_err_t err = {{0}};
        cfgs[i] = rs_config_load_string(CONFIGS[i], "fuzz.yaml", "/", NULL, 0, &err);
        if (!cfgs[i]) abort();
    }
    return 0;
}

static void check_strs(char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!v[i]) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const rs_config_t *cfg = cfgs[data[0] & 1];
    rs_case_t c;
    rs_err_t err = {{0}};
    if (rs_dataset_parse_line(cfg, (const char *)data + 1, size - 1, 7, &c, &err) != 0) {
        if (err.msg[0] == '\0') abort();
        return 0;
    }
    if (!c.id || c.n_msgs == 0 || !c.msgs) abort();
    for (size_t i = 0; i < c.n_msgs; i++)
        if (!c.msgs[i].role || !c.msgs[i].content) abort();
    check_strs(c.targets, c.n_targets);
    check_strs(c.tags, c.n_tags);
    free(rs_chat_text(c.msgs, c.n_msgs));
    rs_case_cleanup(&c);
    return 0;
}
