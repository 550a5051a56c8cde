/* testredis: a real redis-server in a temporary directory (coordinator/redisproc.c; redis-server on
 * PATH, as the integration tests need it) and a store connected to it, for the unit tests of
 * modules that talk to Redis. */
#ifndef RS_TESTREDIS_H
#define RS_TESTREDIS_H

#include <stdio.h>
#include <stdlib.h>

#include "../../coordinator/redisproc.h"
#include "../../coordinator/store.h"
#include "util.h"

typedef struct testredis {
    char dir[64];
    coord_redisproc_t *redis;
    coord_store_t *store;
} testredis_t;

/* Makes /tmp/rs-<name>-XXXXXX, starts the server there and connects. NULL (the reason on stderr)
 * on failure. */
static inline testredis_t *testredis_start(const char *name)
{
    testredis_t *t = rs_xcalloc(1, sizeof(*t));
    snprintf(t->dir, sizeof(t->dir), "/tmp/rs-%s-XXXXXX", name);
    rs_err_t err;
    if (!mkdtemp(t->dir)) {
        perror("mkdtemp");
        free(t);
        return NULL;
    }
    if (!(t->redis = coord_redisproc_start(t->dir, &err)) ||
        !(t->store = coord_store_connect(coord_redisproc_url(t->redis), &err))) {
        fprintf(stderr, "%s\n", err.msg);
        coord_redisproc_stop(&t->redis);
        free(t);
        return NULL;
    }
    return t;
}

/* Disconnects, stops the server, removes the directory and frees: 0, or -1 when the directory
 * could not be removed. */
static inline int testredis_stop(testredis_t *t)
{
    coord_store_destroy(&t->store);
    coord_redisproc_stop(&t->redis);
    char *cmd = rs_xasprintf("rm -rf '%s'", t->dir);
    int rc = system(cmd);
    free(cmd);
    free(t);
    return rc == 0 ? 0 : -1;
}

#endif
