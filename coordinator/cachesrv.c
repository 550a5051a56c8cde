/* cachesrv: the place of a run's response cache, and the private cache server's life. */
#include "cachesrv.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "redisproc.h"
#include "redisurl.h"

struct coord_cachesrv {
    char *url;   /* NULL: no cache */
    char *label;
    coord_redisproc_t *proc; /* the private server, when this process started it */
};

int coord_cachesrv_http_models(const rs_config_t *cfg)
{
    for (size_t m = 0; m < cfg->n_models; m++)
        if (strcmp(cfg->models[m].provider, "sim") != 0) return 1;
    return cfg->embedder.type == RS_EMBEDDER_OPENAI;
}

/* The private server of <out_dir>/cache/: this process's, or another coordinator's. Without
 * create, a directory that is not there is an empty cache: no server, nothing made. Without wait,
 * a server started here may still be starting (coord_cachesrv_ready). */
static void open_private(coord_cachesrv_t *c, const char *out_dir, int create, int wait)
{
    char *dir = rs_xasprintf("%s/cache", out_dir);
    if (!create && access(dir, F_OK) != 0) {
        c->label = rs_xasprintf("private (%s), empty: no run has written it", dir);
        free(dir);
        return;
    }
    rs_err_t err;
    int busy = 0;
    if (rs_mkdirs(dir, &err) == 0 && (c->proc = coord_redisproc_launch_cache(dir, &busy, &err)) &&
        wait)
        coord_redisproc_await(&c->proc, &err); /* NULL on failure */
    if (c->proc) {
        c->url = rs_xstrdup(coord_redisproc_url(c->proc));
    } else if (busy) {
        char *sock = coord_redisproc_socket_path(dir);
        c->url = rs_xasprintf("unix:%s", sock);
        free(sock);
    } else if (create) {
        rs_warn("response cache: %s; running without the cache", err.msg);
    } else { /* the estimate looks, it runs nothing: say why it could not look */
        c->label = rs_xasprintf("private (%s) unavailable: %s", dir, err.msg);
    }
    if (c->url) c->label = rs_xasprintf("private (%s)%s", dir, busy ? ", shared" : "");
    free(dir);
}

static coord_cachesrv_t *open_where(const rs_config_t *cfg, int create, int wait)
{
    coord_cachesrv_t *c = rs_xcalloc(1, sizeof(*c));
    const char *run_redis = cfg->cluster.redis;
    if (cfg->cache.mode == RS_CACHE_OFF) {
        c->label = rs_xstrdup("off");
    } else if (!coord_cachesrv_http_models(cfg)) {
        c->label = rs_xstrdup("off (no HTTP model: sim calls are never cached)");
    } else if (cfg->cache.redis) {
        c->url = rs_xstrdup(cfg->cache.redis);
    } else if (run_redis && strncmp(run_redis, "rediss://", 9) == 0) {
        rs_warn("response cache: the run's Redis is rediss://, which workers cannot reach "
                "themselves; set cache.redis to use a cache; running without the cache");
        c->label = rs_xstrdup("off (the run's Redis is rediss://)");
    } else if (run_redis) {
        c->url = rs_xstrdup(run_redis);
    } else {
        open_private(c, cfg->run.out_dir, create, wait);
    }
    if (!c->label) c->label = c->url ? rs_redisurl_redact(c->url) : rs_xstrdup("off");
    return c;
}

coord_cachesrv_t *coord_cachesrv_launch(const rs_config_t *cfg)
{
    return open_where(cfg, 1, 0);
}

void coord_cachesrv_ready(coord_cachesrv_t *c)
{
    rs_err_t err;
    if (!c || !c->proc || coord_redisproc_await(&c->proc, &err) == 0) return;
    rs_warn("response cache: %s; running without the cache", err.msg);
    free(c->url);
    c->url = NULL;
    free(c->label);
    c->label = rs_xstrdup("off");
}

coord_cachesrv_t *coord_cachesrv_open(const rs_config_t *cfg)
{
    coord_cachesrv_t *c = coord_cachesrv_launch(cfg);
    coord_cachesrv_ready(c);
    return c;
}

coord_cachesrv_t *coord_cachesrv_find(const rs_config_t *cfg)
{
    return open_where(cfg, 0, 1);
}

void coord_cachesrv_term(coord_cachesrv_t *c)
{
    if (c) coord_redisproc_term(c->proc);
}

void coord_cachesrv_close(coord_cachesrv_t **cp)
{
    if (!cp || !*cp) return;
    coord_cachesrv_t *c = *cp;
    coord_redisproc_stop(&c->proc);
    free(c->url);
    free(c->label);
    free(c);
    *cp = NULL;
}

const char *coord_cachesrv_url(const coord_cachesrv_t *c)
{
    return c ? c->url : NULL;
}

const char *coord_cachesrv_label(const coord_cachesrv_t *c)
{
    return c ? c->label : "off";
}

char *coord_cachesrv_worker_spec(const coord_cachesrv_t *c, rs_config_t *cfg)
{
    char *given = cfg->cache.redis;
    cfg->cache.redis = (char *)coord_cachesrv_url(c);
    char *spec = rs_config_to_json(cfg);
    cfg->cache.redis = given;
    return spec;
}
