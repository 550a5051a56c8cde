/* budget: limits checked against spent + in flight + the next case's upper bound. */
#include "budget.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimate.h"

/* Amounts are vectors of rows x 2: [row * 2] tokens, [row * 2 + 1] USD. */
enum { TOKENS = 0, USD = 1 };

typedef struct limit {
    int row;    /* a model's row, or -1: the whole run */
    int usd;    /* USD or TOKENS */
    double max;
    char key[160];
} limit_t;

struct coord_budget {
    const rs_config_t *cfg;
    coord_usage_t *usage;
    coord_estimate_t *est;
    size_t rows;
    coord_estimate_cell_t *cells; /* one case's count, scratch */
    double *in_flight;            /* the bounds of the cases out */
    double *want;                 /* the refused case's bound */
    double *spent;                /* scratch: the usage counters as a vector */
    limit_t *limits;
    size_t n_limits;
    int blocked;
    size_t stop; /* the limit the refused case passed */
};

int coord_budget_enabled(const rs_config_t *cfg)
{
    int any = cfg->budget.usd > 0 || cfg->budget.tokens > 0;
    for (size_t m = 0; m < cfg->n_models; m++)
        any |= cfg->models[m].budget.usd > 0 || cfg->models[m].budget.tokens > 0;
    return any;
}

static void add_limit(coord_budget_t *b, int row, const rs_budget_cfg_t *bc, const char *prefix)
{
    for (int usd = TOKENS; usd <= USD; usd++) {
        double max = usd ? bc->usd : (double)bc->tokens;
        if (max <= 0) continue;
        limit_t *l = &b->limits[b->n_limits++];
        *l = (limit_t){.row = row, .usd = usd, .max = max};
        snprintf(l->key, sizeof(l->key), "%sbudget.%s", prefix, usd ? "usd" : "tokens");
    }
}

coord_budget_t *coord_budget_new(const rs_config_t *cfg, coord_usage_t *usage, rs_err_t *err)
{
    coord_estimate_t *est = coord_estimate_new(cfg, err);
    if (!est) return NULL;
    coord_budget_t *b = rs_xcalloc(1, sizeof(*b));
    b->cfg = cfg;
    b->usage = usage;
    b->est = est;
    b->rows = coord_estimate_rows(est);
    b->cells = rs_xcalloc(b->rows * COORD_N_STAGES, sizeof(*b->cells));
    b->in_flight = rs_xcalloc(b->rows * 2, sizeof(double));
    b->want = rs_xcalloc(b->rows * 2, sizeof(double));
    b->spent = rs_xcalloc(b->rows * 2, sizeof(double));
    b->limits = rs_xcalloc(2 * (cfg->n_models + 1), sizeof(limit_t));
    add_limit(b, -1, &cfg->budget, "");
    for (size_t m = 0; m < cfg->n_models; m++) {
        char prefix[140];
        snprintf(prefix, sizeof(prefix), "models.%.100s.", cfg->models[m].name);
        add_limit(b, (int)m, &cfg->models[m].budget, prefix);
    }
    return b;
}

void coord_budget_destroy(coord_budget_t **bp)
{
    if (!bp || !*bp) return;
    coord_budget_t *b = *bp;
    coord_estimate_destroy(&b->est);
    free(b->cells);
    free(b->in_flight);
    free(b->want);
    free(b->spent);
    free(b->limits);
    free(b);
    *bp = NULL;
}

/* The usage counters as a vector (a row the counters do not have, a hash embedder's, is 0). */
static void load_spent(coord_budget_t *b)
{
    for (size_t r = 0; r < b->rows; r++) {
        int64_t tokens = 0;
        double usd = 0;
        if (coord_usage_spent(b->usage, r, &tokens, &usd) != 0) tokens = 0, usd = 0;
        b->spent[r * 2 + TOKENS] = (double)tokens;
        b->spent[r * 2 + USD] = usd;
    }
}

/* v's amount against limit l: its row's, or the sum over every row. */
static double against(const coord_budget_t *b, const double *v, const limit_t *l)
{
    if (l->row >= 0) return v[(size_t)l->row * 2 + (size_t)l->usd];
    double sum = 0;
    for (size_t r = 0; r < b->rows; r++) sum += v[r * 2 + (size_t)l->usd];
    return sum;
}

/* 1 when spent + in flight + add stays within every limit; else 0 and b->stop names the first
 * limit it passes. */
static int fits(coord_budget_t *b, const double *add)
{
    load_spent(b);
    for (size_t i = 0; i < b->n_limits; i++) {
        const limit_t *l = &b->limits[i];
        double total = against(b, b->spent, l) + against(b, b->in_flight, l) + against(b, add, l);
        if (total > l->max * (1 + 1e-12)) { /* the sums' rounding is no reason to refuse */
            b->stop = i;
            return 0;
        }
    }
    return 1;
}

/* The upper bound of case c into out (rows x 2). */
static void case_bound(coord_budget_t *b, const rs_case_t *c, double *out)
{
    coord_estimate_case(b->est, c, b->cells);
    for (size_t r = 0; r < b->rows; r++) {
        double tokens = 0, usd = 0;
        for (int st = 0; st < COORD_N_STAGES; st++) {
            const coord_estimate_cell_t *cell = &b->cells[r * COORD_N_STAGES + (size_t)st];
            double lo, hi;
            coord_estimate_cost(b->est, r, cell, &lo, &hi);
            tokens += (double)(cell->input_tokens_max + cell->output_tokens_max);
            usd += hi;
        }
        out[r * 2 + TOKENS] = tokens;
        out[r * 2 + USD] = usd;
    }
}

int coord_budget_admit(coord_budget_t *b, const rs_case_t *c, double **hold)
{
    case_bound(b, c, b->want);
    if (!fits(b, b->want)) {
        b->blocked = 1;
        return 0;
    }
    b->blocked = 0;
    if (!*hold) *hold = rs_xcalloc(b->rows * 2, sizeof(double));
    for (size_t i = 0; i < b->rows * 2; i++) {
        b->in_flight[i] += b->want[i];
        (*hold)[i] += b->want[i];
    }
    return 1;
}

void coord_budget_release(coord_budget_t *b, double **hold)
{
    if (!*hold) return;
    for (size_t i = 0; i < b->rows * 2; i++) b->in_flight[i] -= (*hold)[i];
    free(*hold);
    *hold = NULL;
}

int coord_budget_open(coord_budget_t *b)
{
    if (b->blocked && fits(b, b->want)) b->blocked = 0;
    return !b->blocked;
}

int coord_budget_exhausted(coord_budget_t *b, int64_t in_flight)
{
    return in_flight == 0 && !coord_budget_open(b);
}

int coord_budget_stopped_by(const coord_budget_t *b, coord_budget_stop_t *out)
{
    if (!b->blocked) return -1;
    const limit_t *l = &b->limits[b->stop];
    memset(out, 0, sizeof(*out));
    snprintf(out->key, sizeof(out->key), "%s", l->key);
    out->usd = l->usd;
    out->model = l->row;
    out->limit = l->max;
    out->spent = against(b, b->spent, l);
    out->next_case = against(b, b->want, l);
    return 0;
}

double coord_budget_case_bound(coord_budget_t *b, const rs_case_t *c)
{
    case_bound(b, c, b->spent); /* scratch: spent is loaded again before every use */
    return against(b, b->spent, &b->limits[b->stop]);
}

void coord_budget_spent(const coord_budget_t *b, int64_t *tokens, double *usd)
{
    *tokens = 0;
    *usd = 0;
    for (size_t r = 0;; r++) {
        int64_t t;
        double u;
        if (coord_usage_spent(b->usage, r, &t, &u) != 0) break;
        *tokens += t;
        *usd += u;
    }
}
