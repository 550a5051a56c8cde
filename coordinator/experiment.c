/* experiment: the prompt x model matrix, epochs, pass@k and paired differences; see
 * experiment.h for what is kept and why the result does not depend on arrival order. */
#include "experiment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "analysis.h"
#include "stats.h"
#include "units.h"
#include "util.h"

#define SLOTS COORD_MAX_STRATEGIES
#define CORRECT_MAX 65534 /* correct candidates counted per unit and model (n <= 1000 anyway) */

/* A stored verdict: two bits per (unit, model, strategy). */
enum { S_ABSENT = 0, S_CORRECT, S_WRONG, S_OTHER };

typedef uint64_t counts_t[COORD_V_N];

struct coord_experiment {
    const rs_config_t *cfg;
    const char *grader; /* graders[0]: every statistic here is the first grader's */
    size_t n_models;
    coord_units_t units; /* variants and epochs (cases unknown: grown as units arrive) */
    char *slot_name[SLOTS]; /* ranking strategies as first seen; slot 0 is always "first" */
    size_t n_slots;
    uint8_t *verdict[SLOTS]; /* [slot]: 2 bits per (unit, model), 4 to a byte */
    uint16_t *correct;       /* [unit * n_models + model]: correct candidates + 1; 0 = absent */
    uint64_t *cluster;       /* [case]: XXH64 of the cluster label; NULL without the field */
    uint64_t cap, n_units;   /* units allocated, and the highest unit seen + 1 */
    counts_t *cell;          /* [variant * n_models + model]: first's verdicts */
    counts_t *cell_slot;     /* [(variant * n_models + model) * SLOTS + slot] */
};

coord_experiment_t *coord_experiment_new(const rs_config_t *cfg)
{
    coord_experiment_t *x = rs_xcalloc(1, sizeof(*x));
    x->cfg = cfg;
    x->grader = cfg->scoring.graders[0].name;
    x->n_models = cfg->n_models;
    coord_units_init(&x->units, cfg, 0);
    x->slot_name[0] = rs_xstrdup("first");
    x->n_slots = 1;
    size_t cells = x->units.variants * x->n_models;
    x->cell = rs_xcalloc(cells, sizeof(counts_t));
    x->cell_slot = rs_xcalloc(cells * SLOTS, sizeof(counts_t));
    return x;
}

void coord_experiment_destroy(coord_experiment_t **xp)
{
    coord_experiment_t *x = xp ? *xp : NULL;
    if (!x) return;
    for (size_t s = 0; s < x->n_slots; s++) {
        free(x->slot_name[s]);
        free(x->verdict[s]);
    }
    free(x->correct);
    free(x->cluster);
    free(x->cell);
    free(x->cell_slot);
    free(x);
    *xp = NULL;
}

/* ---- storage ---- */

static size_t per_case(const coord_experiment_t *x)
{
    return (size_t)x->units.variants * x->units.epochs;
}

static size_t verdict_bytes(const coord_experiment_t *x, uint64_t units)
{
    return (size_t)((units * x->n_models + 3) / 4);
}

static void *grow_zeroed(void *p, size_t old, size_t now)
{
    p = rs_xrealloc(p, now ? now : 1);
    if (now > old) memset((char *)p + old, 0, now - old);
    return p;
}

static void ensure_units(coord_experiment_t *x, uint64_t unit)
{
    if (unit < x->cap) return;
    uint64_t cap = x->cap ? 2 * x->cap : 1024;
    while (cap <= unit) cap *= 2;
    for (size_t s = 0; s < x->n_slots; s++)
        x->verdict[s] = grow_zeroed(x->verdict[s], verdict_bytes(x, x->cap), verdict_bytes(x, cap));
    x->correct = grow_zeroed(x->correct, x->cap * x->n_models * sizeof(uint16_t),
                             cap * x->n_models * sizeof(uint16_t));
    size_t pc = per_case(x);
    if (x->cfg->dataset.cluster_field) /* 8 bytes a case: only when there are labels to keep */
        x->cluster = grow_zeroed(x->cluster, (x->cap / pc + 1) * sizeof(uint64_t),
                                 (cap / pc + 1) * sizeof(uint64_t));
    x->cap = cap;
}

static int slot_of(coord_experiment_t *x, const char *name)
{
    for (size_t s = 0; s < x->n_slots; s++)
        if (strcmp(x->slot_name[s], name) == 0) return (int)s;
    if (x->n_slots == SLOTS) return -1;
    size_t s = x->n_slots++;
    x->slot_name[s] = rs_xstrdup(name);
    x->verdict[s] = grow_zeroed(NULL, 0, verdict_bytes(x, x->cap));
    return (int)s;
}

static void put2(uint8_t *v, uint64_t pos, unsigned code)
{
    v[pos >> 2] = (uint8_t)((v[pos >> 2] & ~(3u << ((pos & 3) * 2))) | (code << ((pos & 3) * 2)));
}

static unsigned get2(const uint8_t *v, uint64_t pos)
{
    return (v[pos >> 2] >> ((pos & 3) * 2)) & 3u;
}

static unsigned code_of(coord_verdict_t v)
{
    return v == COORD_V_CORRECT ? S_CORRECT : v == COORD_V_WRONG ? S_WRONG : v == COORD_V_ERROR ? S_OTHER : S_ABSENT;
}

/* ---- folding ---- */

static unsigned correct_candidates(const rs_jv_t *entry, const char *grader)
{
    unsigned n = 0;
    size_t i;
    const rs_jv_t *c;
    rs_jv_array_foreach(rs_jv_get(entry, "candidates"), i, c)
        n += coord_verdict_of(rs_jv_get(c, "grades"), grader) == COORD_V_CORRECT;
    return n < CORRECT_MAX ? n : CORRECT_MAX;
}

static void fold_model(coord_experiment_t *x, uint64_t unit, uint32_t variant, size_t m, const rs_jv_t *e)
{
    uint64_t pos = unit * x->n_models + m;
    size_t cell = variant * x->n_models + m;
    coord_strategy_ref_t s[COORD_MAX_STRATEGIES];
    size_t n = coord_strategies_of(e, s, COORD_MAX_STRATEGIES);
    for (size_t i = 0; i < n; i++) {
        int slot = slot_of(x, s[i].name);
        if (slot < 0) continue;
        coord_verdict_t v = coord_strategy_verdict(&s[i], x->grader);
        put2(x->verdict[slot], pos, code_of(v));
        x->cell_slot[cell * SLOTS + (size_t)slot][v]++;
        if (slot == 0) x->cell[cell][v]++;
    }
    x->correct[pos] = (uint16_t)(correct_candidates(e, x->grader) + 1);
}

void coord_experiment_add(coord_experiment_t *x, const rs_jv_t *r)
{
    long long idx = rs_jv_int(rs_jv_get(r, "idx"));
    if (idx < 0) return;
    uint64_t unit = (uint64_t)idx;
    ensure_units(x, unit);
    if (unit + 1 > x->n_units) x->n_units = unit + 1;
    uint64_t case_idx;
    uint32_t variant;
    coord_units_split(&x->units, unit, &case_idx, &variant, NULL);
    const char *label = rs_jv_str(rs_jv_get(r, "cluster"));
    if (label && x->cluster) x->cluster[case_idx] = XXH64(label, strlen(label), 0);
    size_t i;
    const rs_jv_t *e;
    rs_jv_array_foreach(rs_jv_get(r, "models"), i, e)
    {
        const char *name = rs_jv_str(rs_jv_get(e, "model"));
        int m = name ? rs_config_model_index(x->cfg, name) : -1;
        if (m >= 0) fold_model(x, unit, variant, (size_t)m, e);
    }
}

/* ---- clusters ---- */

/* Each case's cluster as a dense index (*g of them): the case itself, or with a cluster field
 * the cases grouped by label, numbered in the order of the labels' hashes so that the numbering
 * does not depend on which record came first. */
typedef struct hcase {
    uint64_t hash, c;
} hcase_t;

static int by_hash(const void *a, const void *b)
{
    const hcase_t *x = a, *y = b;
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    return x->c < y->c ? -1 : x->c > y->c;
}

static uint32_t *cluster_index(const coord_experiment_t *x, uint64_t cases, size_t *g)
{
    if (!x->cfg->dataset.cluster_field) { /* each case its own: NULL, read by cluster_of */
        *g = cases;
        return NULL;
    }
    uint32_t *ci = rs_xmalloc((cases ? cases : 1) * sizeof(uint32_t));
    hcase_t *h = rs_xmalloc((cases ? cases : 1) * sizeof(hcase_t));
    for (uint64_t c = 0; c < cases; c++) h[c] = (hcase_t){x->cluster[c], c};
    qsort(h, cases, sizeof(hcase_t), by_hash);
    size_t n = 0;
    for (uint64_t i = 0; i < cases; i++) {
        if (i > 0 && h[i].hash != h[i - 1].hash) n++;
        ci[h[i].c] = (uint32_t)n;
    }
    *g = cases ? n + 1 : 0;
    free(h);
    return ci;
}

/* Observations summed per cluster; multi says some cluster holds more than one, so the
 * interval must be the clustered one. */
typedef struct acc {
    rs_cluster_sum_t *c;
    size_t g;
    uint64_t n;
    int multi;
} acc_t;

static void sum_reset(acc_t *a)
{
    if (a->c) memset(a->c, 0, (a->g ? a->g : 1) * sizeof(rs_cluster_sum_t));
    a->n = 0;
    a->multi = 0;
}

static void sum_add(acc_t *a, uint32_t cluster, double v)
{
    if (!a->c) { /* one observation a cluster at most: nothing to sum (coord_experiment_json) */
        a->n++;
        return;
    }
    rs_cluster_sum_t *c = &a->c[cluster];
    c->s += v;
    c->q += v * v;
    if (++c->m > 1) a->multi = 1;
    a->n++;
}

/* What fill needs about the whole run, made once. */
typedef struct view {
    coord_experiment_t *x;
    uint64_t cases;
    uint32_t *ci; /* [case] cluster index; NULL: each case its own */
    acc_t acc;
} view_t;

/* Case c's cluster index. */
static uint32_t cluster_of(const view_t *w, uint64_t c)
{
    return w->ci ? w->ci[c] : (uint32_t)c;
}

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *interval_json(double lo, double hi)
{
    return json_pack("[oo]", num(lo), num(hi));
}

/* An accuracy of k correct among n graded, its interval Wilson's unless some cluster holds more
 * than one unit (then the clustered normal interval, clamped to [0, 1]). */
static void put_accuracy(json_t *o, uint64_t k, uint64_t n, const acc_t *a)
{
    double lo, hi, mean = n ? (double)k / (double)n : NAN;
    if (!a->multi) {
        rs_wilson(k, n, RS_Z95, &lo, &hi);
    } else {
        double se = rs_clustered_se(a->c, a->g, NULL);
        lo = isfinite(se) ? fmax(0, mean - RS_Z95 * se) : 0;
        hi = isfinite(se) ? fmin(1, mean + RS_Z95 * se) : 1;
    }
    json_object_set_new(o, "accuracy", n ? json_real(mean) : json_null());
    json_object_set_new(o, "ci95", n ? interval_json(lo, hi) : json_null());
    json_object_set_new(o, "interval", json_string(a->multi ? "clustered" : "wilson"));
}

static uint64_t unit_of(const coord_experiment_t *x, uint64_t c, uint32_t v, uint32_t e)
{
    return coord_units_of(&x->units, c, v, e);
}

static unsigned unit_verdict(const coord_experiment_t *x, size_t slot, uint64_t unit, size_t m)
{
    if (unit >= x->n_units || !x->verdict[slot]) return S_ABSENT;
    return get2(x->verdict[slot], unit * x->n_models + m);
}

static int graded(unsigned v)
{
    return v == S_CORRECT || v == S_WRONG;
}

/* ---- the matrix ---- */

/* The slots in the order the JSON lists them: first, then by name, whatever order they were
 * first seen in (so the folded and the rebuilt report agree). */
static void slot_order(const coord_experiment_t *x, size_t *order)
{
    for (size_t i = 0; i < x->n_slots; i++) order[i] = i;
    for (size_t i = 2; i < x->n_slots; i++) /* insertion sort of at most SLOTS names */
        for (size_t j = i; j > 1 && strcmp(x->slot_name[order[j - 1]], x->slot_name[order[j]]) > 0; j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
}

static json_t *cell_strategies(const coord_experiment_t *x, size_t cell)
{
    json_t *arr = json_array();
    size_t order[SLOTS];
    slot_order(x, order);
    for (size_t i = 0; i < x->n_slots; i++) {
        size_t s = order[i];
        const uint64_t *c = x->cell_slot[cell * SLOTS + s];
        uint64_t n = c[COORD_V_CORRECT] + c[COORD_V_WRONG];
        json_array_append_new(arr, json_pack("{sssIsIso}", "name", x->slot_name[s], "correct",
                                             (json_int_t)c[COORD_V_CORRECT], "wrong",
                                             (json_int_t)c[COORD_V_WRONG], "accuracy",
                                             n ? json_real((double)c[COORD_V_CORRECT] / (double)n)
                                               : json_null()));
    }
    return arr;
}

static json_t *cell_json(view_t *w, uint32_t v, size_t m)
{
    coord_experiment_t *x = w->x;
    const char *prompt;
    rs_config_variant(x->cfg, v, &prompt);
    const uint64_t *c = x->cell[v * x->n_models + m];
    sum_reset(&w->acc);
    for (uint64_t cs = 0; cs < w->cases; cs++)
        for (uint32_t e = 0; e < x->units.epochs; e++) {
            unsigned s = unit_verdict(x, 0, unit_of(x, cs, v, e), m);
            if (graded(s)) sum_add(&w->acc, cluster_of(w, cs), s == S_CORRECT);
        }
    json_t *o = json_pack("{sssssIsIsIsI}", "prompt", prompt, "model", x->cfg->models[m].name,
                          "correct", (json_int_t)c[COORD_V_CORRECT], "wrong",
                          (json_int_t)c[COORD_V_WRONG], "error", (json_int_t)c[COORD_V_ERROR],
                          "skipped", (json_int_t)c[COORD_V_SKIPPED]);
    put_accuracy(o, c[COORD_V_CORRECT], c[COORD_V_CORRECT] + c[COORD_V_WRONG], &w->acc);
    json_object_set_new(o, "best", json_false());
    json_object_set_new(o, "strategies", cell_strategies(x, v * x->n_models + m));
    return o;
}

/* The cell with the highest accuracy is marked best (the first of equal ones). */
static json_t *matrix_json(view_t *w)
{
    json_t *arr = json_array(), *best = NULL;
    double top = -1;
    for (uint32_t v = 0; v < w->x->units.variants; v++)
        for (size_t m = 0; m < w->x->n_models; m++) {
            json_t *o = cell_json(w, v, m);
            json_t *acc = json_object_get(o, "accuracy");
            if (json_is_real(acc) && json_real_value(acc) > top) {
                top = json_real_value(acc);
                best = o;
            }
            json_array_append_new(arr, o);
        }
    if (best) json_object_set_new(best, "best", json_true());
    return arr;
}

/* ---- per model: pooled accuracy, epochs, agreement, pass@k ---- */

static json_t *per_epoch_json(const uint64_t (*ep)[2], uint32_t epochs)
{
    json_t *arr = json_array();
    for (uint32_t e = 0; e < epochs; e++) {
        uint64_t n = ep[e][0] + ep[e][1];
        json_array_append_new(arr, n ? json_real((double)ep[e][0] / (double)n) : json_null());
    }
    return arr;
}

/* One (case, prompt) group of model m: whether its epochs all agree (when all are graded). */
static int group_agrees(const coord_experiment_t *x, uint64_t cs, uint32_t v, size_t m, int *all)
{
    unsigned first = unit_verdict(x, 0, unit_of(x, cs, v, 0), m);
    int same = 1;
    *all = graded(first);
    for (uint32_t e = 1; *all && e < x->units.epochs; e++) {
        unsigned s = unit_verdict(x, 0, unit_of(x, cs, v, e), m);
        *all = graded(s);
        same &= s == first;
    }
    return *all && same;
}

static json_t *pass_at_k_json(const coord_experiment_t *x, uint64_t cases, size_t m)
{
    uint64_t samples = (uint64_t)x->cfg->models[m].n * x->units.epochs, groups = 0;
    uint64_t *hist = rs_xcalloc(samples + 1, sizeof(uint64_t));
    for (uint64_t cs = 0; cs < cases; cs++)
        for (uint32_t v = 0; v < x->units.variants; v++) {
            uint64_t c = 0;
            int whole = 1;
            for (uint32_t e = 0; whole && e < x->units.epochs; e++) {
                uint64_t u = unit_of(x, cs, v, e);
                uint16_t k = u < x->n_units ? x->correct[u * x->n_models + m] : 0;
                whole = k > 0;
                c += whole ? k - 1u : 0;
            }
            if (!whole) continue;
            hist[c < samples ? c : samples]++;
            groups++;
        }
    json_t *values = json_array();
    uint64_t kmax = samples < COORD_PASS_AT_K_MAX ? samples : COORD_PASS_AT_K_MAX;
    for (uint64_t k = 1; k <= kmax; k++) {
        double sum = 0;
        for (uint64_t c = 0; c <= samples; c++)
            if (hist[c]) sum += (double)hist[c] * rs_pass_at_k(samples, c, k);
        json_array_append_new(values, groups ? json_real(sum / (double)groups) : json_null());
    }
    free(hist);
    return json_pack("{sIsIso}", "samples", (json_int_t)samples, "groups", (json_int_t)groups,
                     "values", values);
}

static json_t *model_summary_json(view_t *w, size_t m)
{
    coord_experiment_t *x = w->x;
    uint64_t(*ep)[2] = rs_xcalloc(x->units.epochs, sizeof(*ep));
    uint64_t k = 0, n = 0, groups = 0, unanimous = 0;
    sum_reset(&w->acc);
    for (uint64_t cs = 0; cs < w->cases; cs++)
        for (uint32_t v = 0; v < x->units.variants; v++) {
            int all;
            unanimous += group_agrees(x, cs, v, m, &all);
            groups += all;
            for (uint32_t e = 0; e < x->units.epochs; e++) {
                unsigned s = unit_verdict(x, 0, unit_of(x, cs, v, e), m);
                if (!graded(s)) continue;
                sum_add(&w->acc, cluster_of(w, cs), s == S_CORRECT);
                ep[e][s == S_CORRECT ? 0 : 1]++;
                k += s == S_CORRECT, n++;
            }
        }
    json_t *o = json_pack("{sssIsIsI}", "model", x->cfg->models[m].name, "units", (json_int_t)n,
                          "correct", (json_int_t)k, "wrong", (json_int_t)(n - k));
    put_accuracy(o, k, n, &w->acc);
    if (x->units.epochs > 1) {
        json_object_set_new(o, "per_epoch", per_epoch_json((const uint64_t(*)[2])ep, x->units.epochs));
        json_object_set_new(o, "agreement",
                            json_pack("{sIsIso}", "groups", (json_int_t)groups, "unanimous",
                                      (json_int_t)unanimous, "rate",
                                      groups ? json_real((double)unanimous / (double)groups)
                                             : json_null()));
    }
    if ((uint64_t)x->cfg->models[m].n * x->units.epochs > 1)
        json_object_set_new(o, "pass_at_k", pass_at_k_json(x, w->cases, m));
    free(ep);
    return o;
}

/* ---- paired differences ---- */

/* The 2x2 table of a comparison and its per-cluster differences (in w->acc). */
typedef struct pairs {
    uint64_t both, only_a, only_b, neither;
} pairs_t;

static void pair_add(view_t *w, pairs_t *p, uint64_t cs, unsigned a, unsigned b)
{
    if (!graded(a) || !graded(b)) return;
    int ca = a == S_CORRECT, cb = b == S_CORRECT;
    p->both += ca && cb;
    p->only_a += ca && !cb;
    p->only_b += !ca && cb;
    p->neither += !ca && !cb;
    sum_add(&w->acc, cluster_of(w, cs), (double)(ca - cb));
}

static json_t *diff_json(view_t *w, const char *a, const char *b, const char *model,
                         const pairs_t *p)
{
    uint64_t n = p->both + p->only_a + p->only_b + p->neither;
    rs_paired_diff_t d;
    if (w->acc.multi) rs_clustered_diff(w->acc.c, w->acc.g, RS_Z95, &d);
    else rs_newcombe_paired(p->both, p->only_a, p->only_b, p->neither, RS_Z95, &d);
    rs_mcnemar_t t;
    rs_mcnemar(p->only_a, p->only_b, &t);
    json_t *o = json_pack("{ssss}", "a", a, "b", b);
    if (model) json_object_set_new(o, "model", json_string(model));
    json_object_set_new(o, "pairs", json_integer((json_int_t)n));
    json_object_set_new(o, "both_correct", json_integer((json_int_t)p->both));
    json_object_set_new(o, "only_a", json_integer((json_int_t)p->only_a));
    json_object_set_new(o, "only_b", json_integer((json_int_t)p->only_b));
    json_object_set_new(o, "both_wrong", json_integer((json_int_t)p->neither));
    json_object_set_new(o, "accuracy_a", n ? json_real((double)(p->both + p->only_a) / (double)n) : json_null());
    json_object_set_new(o, "accuracy_b", n ? json_real((double)(p->both + p->only_b) / (double)n) : json_null());
    json_object_set_new(o, "difference", n ? num(d.diff) : json_null());
    json_object_set_new(o, "ci95", n ? interval_json(d.lo, d.hi) : json_null());
    json_object_set_new(o, "method", json_string(w->acc.multi ? "clustered" : "newcombe"));
    json_object_set_new(o, "mcnemar_p", json_real(t.exact_p));
    return o;
}

/* Holm's correction over one family of comparisons, into each one's holm_p. */
static void holm(json_t *family)
{
    size_t n = json_array_size(family);
    if (n == 0) return;
    double *p = rs_xmalloc(n * sizeof(double)), *adj = rs_xmalloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        p[i] = json_real_value(json_object_get(json_array_get(family, i), "mcnemar_p"));
    rs_holm(p, n, adj);
    for (size_t i = 0; i < n; i++)
        json_object_set_new(json_array_get(family, i), "holm_p", json_real(adj[i]));
    free(p);
    free(adj);
}

static json_t *model_pairs(view_t *w)
{
    coord_experiment_t *x = w->x;
    json_t *arr = json_array();
    for (size_t i = 0; i < x->n_models; i++)
        for (size_t j = i + 1; j < x->n_models; j++) {
            pairs_t p = {0};
            sum_reset(&w->acc);
            for (uint64_t u = 0; u < x->n_units; u++)
                pair_add(w, &p, u / per_case(x), unit_verdict(x, 0, u, i), unit_verdict(x, 0, u, j));
            json_array_append_new(arr, diff_json(w, x->cfg->models[i].name,
                                                 x->cfg->models[j].name, NULL, &p));
        }
    holm(arr);
    return arr;
}

/* Two prompts pair on the same case, epoch and model. */
static json_t *prompt_pairs(view_t *w)
{
    coord_experiment_t *x = w->x;
    json_t *arr = json_array();
    for (uint32_t a = 0; a < x->units.variants; a++)
        for (uint32_t b = a + 1; b < x->units.variants; b++) {
            pairs_t p = {0};
            sum_reset(&w->acc);
            for (uint64_t cs = 0; cs < w->cases; cs++)
                for (uint32_t e = 0; e < x->units.epochs; e++)
                    for (size_t m = 0; m < x->n_models; m++)
                        pair_add(w, &p, cs, unit_verdict(x, 0, unit_of(x, cs, a, e), m),
                                 unit_verdict(x, 0, unit_of(x, cs, b, e), m));
            const char *na, *nb;
            rs_config_variant(x->cfg, a, &na);
            rs_config_variant(x->cfg, b, &nb);
            json_array_append_new(arr, diff_json(w, na, nb, NULL, &p));
        }
    holm(arr);
    return arr;
}

/* Each strategy against first, per model; Holm within each model's family. */
static json_t *strategy_pairs(view_t *w)
{
    coord_experiment_t *x = w->x;
    json_t *all = json_array();
    size_t order[SLOTS];
    slot_order(x, order);
    for (size_t m = 0; m < x->n_models; m++) {
        json_t *fam = json_array();
        for (size_t i = 1; i < x->n_slots; i++) {
            size_t s = order[i];
            pairs_t p = {0};
            sum_reset(&w->acc);
            for (uint64_t u = 0; u < x->n_units; u++)
                pair_add(w, &p, u / per_case(x), unit_verdict(x, s, u, m), unit_verdict(x, 0, u, m));
            if (p.both + p.only_a + p.only_b + p.neither == 0) continue; /* not this model's */
            json_array_append_new(fam, diff_json(w, x->slot_name[s], "first",
                                                 x->cfg->models[m].name, &p));
        }
        holm(fam);
        json_array_extend(all, fam);
        json_decref(fam);
    }
    return all;
}

/* ---- the whole ---- */

static json_t *cluster_info_json(const view_t *w)
{
    const char *field = w->x->cfg->dataset.cluster_field;
    return json_pack("{sssosI}", "by", field ? "field" : "case", "field",
                     field ? json_string(field) : json_null(), "count", (json_int_t)w->acc.g);
}

json_t *coord_experiment_json(coord_experiment_t *x)
{
    view_t w = {.x = x};
    w.cases = (x->n_units + per_case(x) - 1) / per_case(x);
    w.ci = cluster_index(x, w.cases, &w.acc.g);
    /* Without a cluster field, one prompt and one epoch, each cluster is one case asked once: no
     * cluster holds two observations, the intervals are the unclustered ones, and the per-cluster
     * sums (24 bytes a case, 24 MB at a million) are not kept. */
    if (x->cfg->dataset.cluster_field || per_case(x) > 1)
        w.acc.c = rs_xcalloc(w.acc.g ? w.acc.g : 1, sizeof(rs_cluster_sum_t));
    json_t *prompts = json_array();
    for (uint32_t v = 0; v < x->units.variants; v++) {
        const char *name;
        rs_config_variant(x->cfg, v, &name);
        json_array_append_new(prompts, json_string(name));
    }
    json_t *o = json_pack("{sssosIso}", "grader", x->grader, "prompts", prompts, "epochs",
                          (json_int_t)x->units.epochs, "clusters", cluster_info_json(&w));
    if (x->units.variants > 1) json_object_set_new(o, "matrix", matrix_json(&w));
    json_t *models = json_array();
    for (size_t m = 0; m < x->n_models; m++) json_array_append_new(models, model_summary_json(&w, m));
    json_object_set_new(o, "models", models);
    json_object_set_new(o, "differences",
                        json_pack("{sososo}", "models", model_pairs(&w), "prompts",
                                  prompt_pairs(&w), "strategies", strategy_pairs(&w)));
    free(w.acc.c);
    free(w.ci);
    return o;
}
