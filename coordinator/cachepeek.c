/* cachepeek: the response cache asked, before a run, which generation calls it holds. */
#include "cachepeek.h"

#include <stdlib.h>
#include <string.h>

#include "cachekey.h"
#include "provider.h"
#include "store.h"

#define BATCH 1024 /* EXISTS per round trip */

typedef char entry_key_t[sizeof(RS_CACHE_PREFIX) + RS_CACHEKEY_HEX];

struct coord_cachepeek {
    const rs_config_t *cfg;
    coord_store_t *st;
    const rs_provider_t **prov; /* per model; NULL for the simulator, which is never cached */
    uint64_t *asked, *hits;     /* per model */
    entry_key_t keys[BATCH];    /* the batch: entry names and the model each asks for */
    size_t model_of[BATCH];
    size_t n;
};

coord_cachepeek_t *coord_cachepeek_new(const rs_config_t *cfg, const char *url, rs_err_t *err)
{
    coord_store_opts_t o = {.url = url, .password_env = cfg->cache.password_env};
    coord_store_t *st = coord_store_open(&o, err);
    if (!st) return NULL;
    coord_cachepeek_t *p = rs_xcalloc(1, sizeof(*p));
    p->cfg = cfg;
    p->st = st;
    p->prov = rs_xcalloc(cfg->n_models + 1, sizeof(*p->prov));
    p->asked = rs_xcalloc(cfg->n_models + 1, sizeof(*p->asked));
    p->hits = rs_xcalloc(cfg->n_models + 1, sizeof(*p->hits));
    for (size_t m = 0; m < cfg->n_models; m++) {
        const rs_provider_t *pv = rs_provider_find(cfg->models[m].provider);
        p->prov[m] = pv && !pv->simulate ? pv : NULL;
    }
    return p;
}

void coord_cachepeek_destroy(coord_cachepeek_t **pp)
{
    if (!pp || !*pp) return;
    coord_cachepeek_t *p = *pp;
    coord_store_destroy(&p->st);
    free(p->prov);
    free(p->asked);
    free(p->hits);
    free(p);
    *pp = NULL;
}

int coord_cachepeek_flush(coord_cachepeek_t *p, rs_err_t *err)
{
    if (p->n == 0) return 0;
    const char *names[BATCH];
    unsigned char found[BATCH] = {0};
    for (size_t i = 0; i < p->n; i++) names[i] = p->keys[i];
    if (coord_store_exists(p->st, names, p->n, found, err)) return -1;
    for (size_t i = 0; i < p->n; i++) {
        p->asked[p->model_of[i]]++;
        p->hits[p->model_of[i]] += found[i];
    }
    p->n = 0;
    return 0;
}

/* The entry of the request for candidates k .. k+n-1 of c from model m, into the batch. A body
 * the provider cannot build is no call (the worker refuses it), so it is not looked up. No API
 * key goes into the request: the key never reads the auth headers. */
static int add_request(coord_cachepeek_t *p, size_t m, const rs_case_t *c, int k, int n,
                       rs_err_t *err)
{
    const rs_model_cfg_t *mc = &p->cfg->models[m];
    rs_chat_req_t cr = {mc, c, k, n, NULL, NULL};
    rs_http_req_t hr;
    rs_err_t ignored;
    if (p->prov[m]->build_chat(&cr, &hr, &ignored) != 0) return 0;
    char key[RS_CACHEKEY_HEX];
    rs_provider_cache_key(mc, &hr, k, c->epoch, key); /* as the worker keys it */
    rs_http_req_cleanup(&hr);
    snprintf(p->keys[p->n], sizeof(p->keys[p->n]), RS_CACHE_PREFIX "%s", key);
    p->model_of[p->n++] = m;
    return p->n == BATCH ? coord_cachepeek_flush(p, err) : 0;
}

int coord_cachepeek_case(coord_cachepeek_t *p, const rs_case_t *c, rs_err_t *err)
{
    for (size_t m = 0; m < p->cfg->n_models; m++) {
        if (!p->prov[m]) continue;
        int n = (int)p->cfg->models[m].n, max = p->prov[m]->max_choices;
        for (int k = 0; k < n; k += max)
            if (add_request(p, m, c, k, n - k < max ? n - k : max, err)) return -1;
    }
    return 0;
}

uint64_t coord_cachepeek_asked(const coord_cachepeek_t *p, size_t m)
{
    return p->asked[m];
}

uint64_t coord_cachepeek_hits(const coord_cachepeek_t *p, size_t m)
{
    return p->hits[m];
}
