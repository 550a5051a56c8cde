/* pace: token buckets for requests and tokens per minute, refilled continuously. */
#include "pace.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "provider.h"
#include "util.h"

typedef struct bucket {
    double level, cap, per_ms; /* per_ms == 0: unlimited */
} bucket_t;

typedef struct model_pace {
    const rs_model_cfg_t *m;
    bucket_t req, tok;
    double req_per_case; /* requests one case makes */
} model_pace_t;

struct coord_pace {
    model_pace_t *m;
    size_t n;
    int64_t last_ms;
};

static void bucket_init(bucket_t *b, int64_t per_minute, double min_cap)
{
    b->per_ms = (double)per_minute / 60000.0;
    b->cap = fmax((double)per_minute / 60.0, min_cap);
    b->level = b->cap;
}

static double requests_per_case(const rs_model_cfg_t *m)
{
    /* OpenAI-compatible servers take n candidates in one request (in groups of 128). */
    if (strcmp(m->provider, "openai") == 0) return ceil((double)m->n / 128.0);
    return (double)m->n;
}

coord_pace_t *coord_pace_new(const rs_config_t *cfg)
{
    size_t limited = 0;
    for (size_t i = 0; i < cfg->n_models; i++)
        limited += cfg->models[i].rpm > 0 || cfg->models[i].tpm > 0;
    if (!limited) return NULL;
    coord_pace_t *p = rs_xcalloc(1, sizeof(*p));
    p->m = rs_xcalloc(limited, sizeof(model_pace_t));
    for (size_t i = 0; i < cfg->n_models; i++) {
        const rs_model_cfg_t *m = &cfg->models[i];
        if (m->rpm <= 0 && m->tpm <= 0) continue;
        model_pace_t *mp = &p->m[p->n++];
        mp->m = m;
        mp->req_per_case = requests_per_case(m);
        if (m->rpm > 0) bucket_init(&mp->req, m->rpm, mp->req_per_case);
        if (m->tpm > 0) bucket_init(&mp->tok, m->tpm, (double)(m->n * rs_provider_output_bound(m)));
    }
    p->last_ms = rs_mono_ms();
    return p;
}

void coord_pace_destroy(coord_pace_t **p)
{
    if (!p || !*p) return;
    free((*p)->m);
    free(*p);
    *p = NULL;
}

static void refill(coord_pace_t *p)
{
    int64_t now = rs_mono_ms();
    double dt = (double)(now - p->last_ms);
    p->last_ms = now;
    for (size_t i = 0; i < p->n; i++) {
        bucket_t *bs[] = {&p->m[i].req, &p->m[i].tok};
        for (size_t k = 0; k < 2; k++)
            if (bs[k]->per_ms > 0) bs[k]->level = fmin(bs[k]->cap, bs[k]->level + dt * bs[k]->per_ms);
    }
}

static double tokens_per_case(const model_pace_t *mp, double prompt_bytes)
{
    return mp->req_per_case * ceil(prompt_bytes / 4.0) + (double)(mp->m->n * rs_provider_output_bound(mp->m));
}

static size_t fits(const bucket_t *b, double cost, size_t want)
{
    if (b->per_ms <= 0 || cost <= 0) return want;
    double k = floor(b->level / cost);
    return k < (double)want ? (size_t)k : want;
}

size_t coord_pace_room(coord_pace_t *p, size_t want, double prompt_bytes)
{
    if (!p) return want;
    refill(p);
    for (size_t i = 0; i < p->n; i++) {
        want = fits(&p->m[i].req, p->m[i].req_per_case, want);
        want = fits(&p->m[i].tok, tokens_per_case(&p->m[i], prompt_bytes), want);
    }
    return want;
}

void coord_pace_charge(coord_pace_t *p, size_t n, double prompt_bytes)
{
    if (!p || n == 0) return;
    for (size_t i = 0; i < p->n; i++) {
        model_pace_t *mp = &p->m[i];
        if (mp->req.per_ms > 0) mp->req.level -= mp->req_per_case * (double)n;
        if (mp->tok.per_ms > 0)
            mp->tok.level -= tokens_per_case(mp, prompt_bytes / (double)n) * (double)n;
    }
}
