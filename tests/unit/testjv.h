/* testjv: a jansson value as the coordinator folds records, read into a jdoc (common/jdoc.h), so
 * tests build records with json_pack and hand them to the modules that take rs_jv_t. */
#ifndef RS_TESTJV_H
#define RS_TESTJV_H

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "jdoc.h"

/* j (not stolen) read into the next of eight documents taken in turn: the value lives until
 * eight more have been read. NULL for NULL. */
static inline const rs_jv_t *testjv(json_t *j)
{
    static rs_jdoc_t *docs[8];
    static size_t next;
    if (!j) return NULL;
    rs_jdoc_t **d = &docs[next++ % 8];
    if (!*d) *d = rs_jdoc_new();
    char *s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
    const rs_jv_t *v = rs_jdoc_read(*d, s, strlen(s), RS_JDOC_MAX_DEPTH, NULL);
    free(s);
    return v;
}

#endif
