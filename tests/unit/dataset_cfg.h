/* dataset_cfg: the config the dataset unit tests open datasets with, as rs_config_load would leave
 * it (the defaults spelled out), for test_dataset.c and test_dataset_formats.c. Header only: each
 * test program is one .c file. */
#ifndef RS_TEST_DATASET_CFG_H
#define RS_TEST_DATASET_CFG_H

#include <string.h>

#include "config.h"

static inline rs_config_t dataset_test_cfg(char *base_dir, const char *path,
                                           rs_dataset_format_t format)
{
    rs_config_t c;
    memset(&c, 0, sizeof(c));
    c.base_dir = base_dir;
    c.dataset.path = (char *)path;
    c.dataset.format = format;
    c.dataset.input_field = "question";
    c.dataset.target_field = "answer";
    c.dataset.id_field = "id";
    c.dataset.tags_field = "tags";
    c.dataset.shard_size = 16;
    c.dataset.on_error = RS_ON_ERROR_FAIL;
    c.prompt.template = "{{input}}";
    return c;
}

#endif
