/* compare: the paired verdict store behind `reasonsaver compare`: each run's first-grader verdict
 * per case and per (model, strategy), paired across runs by case id, ranked, and tested with
 * McNemar. See compare.h for what grows with the cases. */
#include "compare.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "stats.h"
#include "util.h"

enum { V_ABSENT = 0xFF };

typedef struct vcol {
    size_t model;
    char *strategy;
    uint8_t *v; /* [row]: a coord_verdict_t, or V_ABSENT */
} vcol_t;

struct coord_verdicts {
    char *run, *grader;
    char **models;     /* the config's models, the pool, then "<model> @ <prompt>" labels */
    size_t n_models;   /* the config's models (the pool is models[n_models]) */
    size_t n_labels, cap_labels;
    uint64_t *keys;    /* [row] XXH64 of the case id (and of the epoch, in a run of several) */
    uint32_t *rowmap;  /* a run of several prompts: row + 1 by key, open addressing */
    size_t rowmap_cap;
    uint32_t *targets; /* [row] hash of the case's targets */
    size_t n, cap;
    vcol_t *cols;
    size_t n_cols, cap_cols;
};

coord_verdicts_t *coord_verdicts_new(const char *run, const char *const *models, size_t n_models,
                                     const char *grader)
{
    coord_verdicts_t *v = rs_xcalloc(1, sizeof(*v));
    v->run = rs_xstrdup(run);
    v->grader = rs_xstrdup(grader);
    /* one more name: the pool's verdicts (records' "pool") are the column group at n_models */
    v->cap_labels = n_models + 2;
    v->models = rs_xcalloc(v->cap_labels, sizeof(char *));
    for (size_t m = 0; m < n_models; m++)
        v->models[m] = rs_xstrdup(models[m]);
    v->models[n_models] = rs_xstrdup(COORD_POOL_NAME);
    v->n_models = n_models;
    v->n_labels = n_models + 1;
    return v;
}

void coord_verdicts_destroy(coord_verdicts_t **vp)
{
    coord_verdicts_t *v = vp ? *vp : NULL;
    if (!v) return;
    for (size_t c = 0; c < v->n_cols; c++) {
        free(v->cols[c].strategy);
        free(v->cols[c].v);
    }
    for (size_t m = 0; m < v->n_labels; m++)
        free(v->models[m]);
    free(v->models);
    free(v->cols);
    free(v->keys);
    free(v->rowmap);
    free(v->targets);
    free(v->run);
    free(v->grader);
    free(v);
    *vp = NULL;
}

uint64_t coord_verdicts_cases(const coord_verdicts_t *v)
{
    return v->n;
}

static vcol_t *vcol_get(coord_verdicts_t *v, size_t model, const char *strategy)
{
    for (size_t c = 0; c < v->n_cols; c++)
        if (v->cols[c].model == model && strcmp(v->cols[c].strategy, strategy) == 0)
            return &v->cols[c];
    if (v->n_cols == v->cap_cols) {
        v->cap_cols = v->cap_cols ? 2 * v->cap_cols : 8;
        v->cols = rs_xrealloc(v->cols, v->cap_cols * sizeof(vcol_t));
    }
    vcol_t *c = &v->cols[v->n_cols++];
    c->model = model;
    c->strategy = rs_xstrdup(strategy);
    c->v = rs_xmalloc(v->cap ? v->cap : 1);
    memset(c->v, V_ABSENT, v->cap ? v->cap : 1);
    return c;
}

static void verdicts_grow(coord_verdicts_t *v)
{
    if (v->n < v->cap) return;
    v->cap = v->cap ? 2 * v->cap : 1024;
    v->keys = rs_xrealloc(v->keys, v->cap * sizeof(uint64_t));
    v->targets = rs_xrealloc(v->targets, v->cap * sizeof(uint32_t));
    for (size_t c = 0; c < v->n_cols; c++)
        v->cols[c].v = rs_xrealloc(v->cols[c].v, v->cap);
}

static uint32_t targets_hash(const rs_jv_t *targets)
{
    uint64_t h = 0;
    size_t i;
    const rs_jv_t *t;
    rs_jv_array_foreach(targets, i, t)
    {
        const char *s = rs_jv_str(t);
        h = XXH64(s ? s : "", s ? strlen(s) + 1 : 0, h + 1); /* the NUL separates targets */
    }
    return (uint32_t)(h ^ (h >> 32));
}

static int verdicts_model(const coord_verdicts_t *v, const char *name)
{
    for (size_t m = 0; name && m < v->n_models; m++)
        if (strcmp(v->models[m], name) == 0) return (int)m;
    return -1;
}

/* The column group of model m (n_models: the pool) under prompt (NULL: a run of one prompt):
 * in a run of several prompts each (model, prompt) is ranked and paired like a model of its
 * own, "<model> @ <prompt>". */
static size_t verdicts_label(coord_verdicts_t *v, size_t m, const char *prompt)
{
    if (!prompt) return m;
    char *label = rs_xasprintf("%s @ %s", v->models[m], prompt);
    for (size_t i = v->n_models + 1; i < v->n_labels; i++)
        if (strcmp(v->models[i], label) == 0) {
            free(label);
            return i;
        }
    if (v->n_labels == v->cap_labels) {
        v->cap_labels *= 2;
        v->models = rs_xrealloc(v->models, v->cap_labels * sizeof(char *));
    }
    v->models[v->n_labels] = label;
    return v->n_labels++;
}

/* A run of several prompts stores one case's prompts in one row (per epoch): the row of key,
 * made when the key is new. */
static size_t verdicts_row_of(coord_verdicts_t *v, uint64_t key, int *fresh)
{
    if (2 * (v->n + 1) > v->rowmap_cap) {
        size_t cap = v->rowmap_cap ? 2 * v->rowmap_cap : 2048;
        uint32_t *map = rs_xcalloc(cap, sizeof(uint32_t));
        for (size_t i = 0; i < v->rowmap_cap; i++)
            if (v->rowmap[i]) {
                size_t h = (size_t)(v->keys[v->rowmap[i] - 1] & (cap - 1));
                while (map[h]) h = (h + 1) & (cap - 1);
                map[h] = v->rowmap[i];
            }
        free(v->rowmap);
        v->rowmap = map;
        v->rowmap_cap = cap;
    }
    size_t h = (size_t)(key & (v->rowmap_cap - 1));
    for (; v->rowmap[h]; h = (h + 1) & (v->rowmap_cap - 1))
        if (v->keys[v->rowmap[h] - 1] == key) {
            *fresh = 0;
            return v->rowmap[h] - 1;
        }
    *fresh = 1;
    v->rowmap[h] = (uint32_t)v->n + 1;
    return v->n;
}

/* The verdicts of one model entry's strategies (or the pool's) in row. */
static void add_verdicts(coord_verdicts_t *v, size_t row, size_t model, const rs_jv_t *entry)
{
    coord_strategy_ref_t s[COORD_MAX_STRATEGIES];
    size_t n = coord_strategies_of(entry, s, COORD_MAX_STRATEGIES);
    for (size_t k = 0; k < n; k++)
        vcol_get(v, model, s[k].name)->v[row] = (uint8_t)coord_strategy_verdict(&s[k], v->grader);
}

/* The row key: the case id, and the epoch in a run of several (epochs pair by number). */
static uint64_t row_key(const rs_jv_t *rec)
{
    char *id = coord_case_id_of(rec);
    uint64_t key = XXH64(id, strlen(id), 0);
    free(id);
    const rs_jv_t *epoch = rs_jv_get(rec, "epoch");
    if (rs_jv_is_int(epoch)) {
        long long e = rs_jv_int(epoch);
        key = XXH64(&e, sizeof(e), key);
    }
    return key;
}

void coord_verdicts_add(coord_verdicts_t *v, const rs_jv_t *rec)
{
    verdicts_grow(v);
    uint64_t key = row_key(rec);
    const char *prompt = rs_jv_str(rs_jv_get(rec, "prompt"));
    int fresh = 1;
    size_t row = prompt ? verdicts_row_of(v, key, &fresh) : v->n;
    if (fresh) {
        v->n++;
        v->keys[row] = key;
        v->targets[row] = targets_hash(rs_jv_get(rec, "targets"));
        for (size_t c = 0; c < v->n_cols; c++)
            v->cols[c].v[row] = V_ABSENT;
    }
    size_t i;
    const rs_jv_t *e;
    rs_jv_array_foreach(rs_jv_get(rec, "models"), i, e)
    {
        int m = verdicts_model(v, rs_jv_str(rs_jv_get(e, "model")));
        if (m < 0) continue;
        add_verdicts(v, row, verdicts_label(v, (size_t)m, prompt), e);
    }
    const rs_jv_t *pool = rs_jv_get(rec, "pool");
    if (rs_jv_is_obj(pool)) add_verdicts(v, row, verdicts_label(v, v->n_models, prompt), pool);
}

/* A run's rows sorted by case id key, the first row of each id only. */
typedef struct keyrow {
    uint64_t key;
    uint32_t row;
} keyrow_t;

static int cmp_keyrow(const void *x, const void *y)
{
    const keyrow_t *a = x, *b = y;
    if (a->key != b->key) return (a->key > b->key) - (a->key < b->key);
    return (a->row > b->row) - (a->row < b->row);
}

static keyrow_t *unique_rows(const coord_verdicts_t *v, size_t *n, uint64_t *dups)
{
    keyrow_t *kr = rs_xmalloc((v->n + 1) * sizeof(keyrow_t));
    for (size_t i = 0; i < v->n; i++)
        kr[i] = (keyrow_t){v->keys[i], (uint32_t)i};
    qsort(kr, v->n, sizeof(keyrow_t), cmp_keyrow);
    size_t out = 0;
    for (size_t i = 0; i < v->n; i++)
        if (out == 0 || kr[out - 1].key != kr[i].key) kr[out++] = kr[i];
    *dups = v->n - out;
    *n = out;
    return kr;
}

static const keyrow_t *find_key(const keyrow_t *kr, size_t n, uint64_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (kr[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && kr[lo].key == key ? &kr[lo] : NULL;
}

/* The cases all runs share: shared[i * n_runs + r] is case i's row in run r. */
typedef struct pairing {
    uint32_t *shared;
    size_t n_shared;
    uint64_t conflicting;
    uint64_t *dups; /* [run] */
} pairing_t;

static void pair_runs(coord_verdicts_t *const *runs, size_t n_runs, pairing_t *p)
{
    keyrow_t **kr = rs_xcalloc(n_runs, sizeof(keyrow_t *));
    size_t *nk = rs_xcalloc(n_runs, sizeof(size_t));
    p->dups = rs_xcalloc(n_runs, sizeof(uint64_t));
    for (size_t r = 0; r < n_runs; r++)
        kr[r] = unique_rows(runs[r], &nk[r], &p->dups[r]);
    p->shared = rs_xmalloc((nk[0] + 1) * n_runs * sizeof(uint32_t));
    p->n_shared = p->conflicting = 0;
    for (size_t i = 0; i < nk[0]; i++) {
        uint32_t *rows = p->shared + p->n_shared * n_runs;
        int all = 1, same = 1;
        for (size_t r = 0; r < n_runs && all; r++) {
            const keyrow_t *hit = find_key(kr[r], nk[r], kr[0][i].key);
            if (!hit)
                all = 0;
            else
                rows[r] = hit->row;
            if (hit && runs[r]->targets[hit->row] != runs[0]->targets[kr[0][i].row]) same = 0;
        }
        if (all && !same) p->conflicting++;
        if (all && same) p->n_shared++;
    }
    for (size_t r = 0; r < n_runs; r++)
        free(kr[r]);
    free(kr);
    free(nk);
}

/* One ranked (run, model, strategy). */
typedef struct entry {
    size_t run, col, order;
    uint64_t counts[COORD_V_N];
    double acc, lo;
} entry_t;

static int cmp_entry(const void *x, const void *y)
{
    const entry_t *a = x, *b = y;
    int ga = a->counts[COORD_V_CORRECT] + a->counts[COORD_V_WRONG] > 0;
    int gb = b->counts[COORD_V_CORRECT] + b->counts[COORD_V_WRONG] > 0;
    if (ga != gb) return gb - ga; /* entries with nothing graded go last */
    if (ga && a->acc != b->acc) return a->acc < b->acc ? 1 : -1;
    if (ga && a->lo != b->lo) return a->lo < b->lo ? 1 : -1;
    return (a->order > b->order) - (a->order < b->order);
}

static uint8_t verdict_at(coord_verdicts_t *const *runs, const pairing_t *p, size_t n_runs,
                          const entry_t *e, size_t i)
{
    return runs[e->run]->cols[e->col].v[p->shared[i * n_runs + e->run]];
}

static entry_t *rank_entries(coord_verdicts_t *const *runs, size_t n_runs, const pairing_t *p,
                             size_t *n_out)
{
    size_t n = 0;
    for (size_t r = 0; r < n_runs; r++)
        n += runs[r]->n_cols;
    entry_t *e = rs_xcalloc(n + 1, sizeof(entry_t));
    n = 0;
    for (size_t r = 0; r < n_runs; r++)
        for (size_t c = 0; c < runs[r]->n_cols; c++, n++) {
            e[n].run = r;
            e[n].col = c;
            e[n].order = n;
            for (size_t i = 0; i < p->n_shared; i++) {
                uint8_t v = verdict_at(runs, p, n_runs, &e[n], i);
                e[n].counts[v == V_ABSENT ? COORD_V_SKIPPED : v]++;
            }
            uint64_t graded = e[n].counts[COORD_V_CORRECT] + e[n].counts[COORD_V_WRONG];
            double hi;
            rs_wilson(e[n].counts[COORD_V_CORRECT], graded, RS_Z95, &e[n].lo, &hi);
            e[n].acc = graded ? (double)e[n].counts[COORD_V_CORRECT] / (double)graded : 0;
        }
    qsort(e, n, sizeof(entry_t), cmp_entry);
    *n_out = n;
    return e;
}

/* McNemar of x against y over the shared cases graded for both: b = only x right. */
static json_t *pair_test(coord_verdicts_t *const *runs, size_t n_runs, const pairing_t *p,
                         const entry_t *x, const entry_t *y)
{
    uint64_t b = 0, c = 0;
    for (size_t i = 0; i < p->n_shared; i++) {
        uint8_t vx = verdict_at(runs, p, n_runs, x, i), vy = verdict_at(runs, p, n_runs, y, i);
        if (vx == COORD_V_CORRECT && vy == COORD_V_WRONG) b++;
        if (vx == COORD_V_WRONG && vy == COORD_V_CORRECT) c++;
    }
    return coord_mcnemar_json(b, c);
}

static json_t *entry_id_json(coord_verdicts_t *const *runs, const entry_t *e)
{
    const coord_verdicts_t *v = runs[e->run];
    return json_pack("{ssssss}", "run", v->run, "model", v->models[v->cols[e->col].model],
                     "strategy", v->cols[e->col].strategy);
}

static json_t *ranking_json(coord_verdicts_t *const *runs, const entry_t *e, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = entry_id_json(runs, &e[i]);
        json_t *counts = coord_counts_json(runs[e[i].run]->grader, NULL, e[i].counts);
        json_object_set_new(o, "rank", json_integer((json_int_t)i + 1));
        json_object_set_new(o, "grader", json_string(runs[e[i].run]->grader));
        json_object_del(counts, "name");
        json_object_update(o, counts);
        json_decref(counts);
        json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *runs_json(coord_verdicts_t *const *runs, size_t n_runs, const pairing_t *p)
{
    json_t *arr = json_array();
    for (size_t r = 0; r < n_runs; r++)
        json_array_append_new(arr, json_pack("{sssssIsI}", "run", runs[r]->run, "grader",
                                             runs[r]->grader, "cases", (json_int_t)runs[r]->n,
                                             "duplicate_ids", (json_int_t)p->dups[r]));
    return arr;
}

json_t *coord_compare_json(coord_verdicts_t *const *runs, size_t n_runs, int all_pairs)
{
    pairing_t p;
    pair_runs(runs, n_runs, &p);
    size_t n;
    entry_t *e = rank_entries(runs, n_runs, &p, &n);
    json_t *vs_best = json_array(), *pairs = json_array();
    for (size_t i = 1; p.n_shared && i < n; i++) {
        json_t *o = entry_id_json(runs, &e[i]);
        json_t *t = pair_test(runs, n_runs, &p, &e[0], &e[i]);
        json_object_update(o, t);
        json_decref(t);
        json_array_append_new(vs_best, o);
    }
    for (size_t i = 0; all_pairs && p.n_shared && i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            json_t *t = pair_test(runs, n_runs, &p, &e[i], &e[j]);
            json_object_set_new(t, "ranks",
                                json_pack("[II]", (json_int_t)i + 1, (json_int_t)j + 1));
            json_array_append_new(pairs, t);
        }
    json_t *out = json_pack("{sIsIsoso}", "shared_cases", (json_int_t)p.n_shared, "conflicting_ids",
                            (json_int_t)p.conflicting, "runs", runs_json(runs, n_runs, &p),
                            "ranking", p.n_shared ? ranking_json(runs, e, n) : json_array());
    json_object_set_new(out, "vs_best", vs_best);
    if (all_pairs)
        json_object_set_new(out, "pairs", pairs);
    else
        json_decref(pairs);
    free(e);
    free(p.shared);
    free(p.dups);
    return out;
}
