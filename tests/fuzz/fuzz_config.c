/* fuzz_config: the config loader (rs_config_load_string) on arbitrary YAML bytes. A config that
 * loads must also round-trip through its JSON form the way resume uses it:
 * to_json -> from_json -> to_json gives the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    rs_log_init("fuzz_config", RS_LOG_QUIET); /* warnings about odd values are expected here */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *yaml = rs_xstrndup((const char *)data, size); /* stops at an embedded NUL */
    rs_err_t err = {{0}};
    rs_config_t *cfg = rs_config_load_string(yaml, "fuzz.yaml", "/nonexistent", NULL, 0, &err);
    free(yaml);
    if (!cfg) {
        if (err.msg[0] == '\0') abort();
        return 0;
    }
    char *json = rs_config_to_json(cfg);
    rs_config_t *back = rs_config_from_json(json, &err);
    if (!back) abort(); /* resume could not read back what a run stored */
    char *json2 = rs_config_to_json(back);
    if (strcmp(json, json2) != 0) abort();
    free(json2);
    free(json);
    rs_config_destroy(&back);
    rs_config_destroy(&cfg);
    return 0;
}
