/* analysis: per-case folding of result records into strategy, round, judge and failure
 * statistics, and their JSON for the report. See analysis.h for what is bounded and why. */
#include "analysis.h"
#include "analysis_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "embed.h"
#include "stats.h"
#include "util.h"
#include "vecset.h"

static const char *const VERDICT_NAMES[COORD_V_N] = {"correct", "wrong", "error", "skipped"};

coord_verdict_t coord_verdict_of(const rs_jv_t *grades, const char *grader)
{
    const char *v = rs_jv_str(rs_jv_get(grades, grader));
    if (!v) return COORD_V_SKIPPED;
    for (int k = 0; k < COORD_V_SKIPPED; k++)
        if (strcmp(v, VERDICT_NAMES[k]) == 0) return (coord_verdict_t)k;
    return COORD_V_SKIPPED;
}

/* An undefined statistic (NaN) is written as null: jansson refuses non-finite reals. */
static json_t *num_or_null(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

json_t *coord_counts_json(const char *name, const char *type, const uint64_t *c)
{
    uint64_t graded = c[COORD_V_CORRECT] + c[COORD_V_WRONG];
    double lo, hi;
    rs_wilson(c[COORD_V_CORRECT], graded, RS_Z95, &lo, &hi);
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(name));
    if (type) json_object_set_new(o, "type", json_string(type));
    for (int k = 0; k < COORD_V_N; k++)
        json_object_set_new(o, VERDICT_NAMES[k], json_integer((json_int_t)c[k]));
    json_object_set_new(o, "accuracy",
                        graded ? json_real((double)c[COORD_V_CORRECT] / (double)graded)
                               : json_null());
    json_object_set_new(o, "ci95", graded ? json_pack("[ff]", lo, hi) : json_null());
    return o;
}

json_t *coord_mcnemar_json(uint64_t b, uint64_t c)
{
    rs_mcnemar_t t;
    rs_mcnemar(b, c, &t);
    return json_pack("{sIsIsfsfsf}", "b", (json_int_t)b, "c", (json_int_t)c, "exact_p", t.exact_p,
                     "chi2", t.chi2, "chi2_p", t.chi2_p);
}

void coord_put_num(rs_buf_t *b, json_t *v, int prec)
{
    if (json_is_number(v) && prec < 0)
        rs_buf_printf(b, "%.*g", -prec, json_number_value(v));
    else if (json_is_number(v))
        rs_buf_printf(b, "%.*f", prec, json_number_value(v));
    else
        rs_buf_puts(b, "n/a");
}

void coord_join_strings(rs_buf_t *b, json_t *arr, const char *sep)
{
    size_t i;
    json_t *s;
    json_array_foreach(arr, i, s)
    {
        if (i) rs_buf_puts(b, sep);
        rs_buf_puts(b, json_string_value(s) ? json_string_value(s) : "");
    }
}

int coord_has_chain_stages(json_t *models)
{
    size_t i;
    json_t *m;
    json_array_foreach(models, i, m)
    {
        json_t *stages = json_object_get(m, "stages");
        if (json_object_get(stages, "critique") || json_object_get(stages, "revise")) return 1;
    }
    return 0;
}

/* ---- strategies of one record ---- */

static const char FIRST[] = "first";

static int entry_failed(const rs_jv_t *entry)
{
    return rs_jv_is_str(rs_jv_get(entry, "error"));
}

static const rs_jv_t *candidate0(const rs_jv_t *entry)
{
    return rs_jv_at(rs_jv_get(entry, "candidates"), 0);
}

size_t coord_strategies_of(const rs_jv_t *entry, coord_strategy_ref_t *out, size_t max)
{
    const rs_jv_t *strats = rs_jv_get(entry, "strategies"), *first = rs_jv_get(strats, FIRST);
    const rs_jv_t *first_grades = rs_jv_get(first ? first : candidate0(entry), "grades");
    out[0] = (coord_strategy_ref_t){FIRST, first_grades, entry_failed(entry)};
    size_t n = 1;
    const rs_jv_t *k, *s;
    rs_jv_object_foreach(strats, k, s)
    {
        if (n == max) break;
        if (strcmp(k->u.s, FIRST) != 0)
            out[n++] = (coord_strategy_ref_t){k->u.s, rs_jv_get(s, "grades"), 0};
    }
    return n;
}

coord_verdict_t coord_strategy_verdict(const coord_strategy_ref_t *s, const char *grader)
{
    return s->failed ? COORD_V_ERROR : coord_verdict_of(s->grades, grader);
}

/* The order strategies are listed in: the contract's, then any other by name (by_name: its
 * place among the names; never the order records came in, which differs between a running
 * coordinator and `report`). */
static size_t strategy_rank(const char *name, size_t by_name)
{
    static const char *const ORDER[] = {"first", "judge", "consensus", "majority", "oracle"};
    for (size_t i = 0; i < RS_ARRAY_LEN(ORDER); i++)
        if (strcmp(name, ORDER[i]) == 0) return i;
    return RS_ARRAY_LEN(ORDER) + by_name;
}

char *coord_case_id_of(const rs_jv_t *rec)
{
    const char *id = rs_jv_str(rs_jv_get(rec, "id"));
    if (id) return rs_xstrdup(id);
    return rs_xasprintf("%lld", (long long)rs_jv_int(rs_jv_get(rec, "idx")));
}

/* ---- the aggregate ---- */

typedef uint64_t counts_t[COORD_V_N];

/* Past these a record is malformed rather than rich; the excess is ignored, never grown into. */
enum {
    MAX_ROUNDS = 64,
    MAX_JUDGES = 32,
    SCORE_GRID = 10000,
    HIST_BINS = 10,
    CLUSTER_DIM = 256,
    CLUSTER_EXAMPLES = 3
};

typedef struct strat_agg {
    char *name;
    counts_t *counts; /* [grader] */
    uint64_t b, c;    /* first grader: b = first wrong & this right, c = first right & this wrong */
} strat_agg_t;

typedef struct model_an {
    char *name;
    strat_agg_t strats[COORD_MAX_STRATEGIES];
    size_t n_strats;
    counts_t *rounds;  /* [round * n_graders + grader] */
    size_t n_rounds;   /* 1 + the most revisions one record had */
    uint64_t w2r, r2w; /* flips between round 0 and a case's last round, first grader */
    uint64_t flip_pairs;
    /* first grader, indexed like strats: only[i][j] = cases where strategy i was right and j
     * wrong (the b of "i versus j"; c is only[j][i]) */
    uint64_t only[COORD_MAX_STRATEGIES][COORD_MAX_STRATEGIES];
} model_an_t;

/* Judge scores on a grid of 1 / SCORE_GRID, counted by truth. Exact for every verdict scale a
 * config can express (choices, regex scores on 0..10 or 0..100), bounded for any other, and enough
 * for AUROC with ties (a sort of all scores is what rs_auroc does; 1M-case runs cannot keep
 * them all). */
typedef struct score_cell {
    uint32_t key;
    uint64_t pos, neg;
} score_cell_t;

typedef struct judge_q {
    uint64_t n, unparsed, errors, tp, fp, tn, fn;
    score_cell_t *cells; /* ascending key */
    size_t n_cells, cap_cells;
} judge_q_t;

enum { Q_ALL, Q_SELF, Q_CROSS, Q_N };
static const char *const Q_NAMES[Q_N] = {"all", "self", "cross"};

/* The quality of one group of critiques (one judge's, one judging model's, one rubric's): all of
 * them, those of the judge's own model's answers, those of other models'. */
typedef struct judge_acc {
    judge_q_t q[Q_N];
} judge_acc_t;

typedef struct judge_an {
    char *name, *model;
    int cfg; /* index among the config's judges (opts), or -1 */
    judge_acc_t acc;
} judge_an_t;

/* A judge_models or rubrics entry: the critiques of its judges (bit j = a->judges[j]), counted
 * like a judge's. */
typedef struct judge_group {
    char *model;       /* judge_models: the judging model; rubrics: NULL */
    char **principles; /* rubrics: the rubric (n_principles of them); judge_models: NULL */
    size_t n_principles;
    uint32_t judges;
    judge_acc_t acc;
} judge_group_t;

_Static_assert(MAX_JUDGES <= 32, "judge_group_t.judges is a 32-bit set of judges");

typedef struct failure {
    char *case_id, *output;
    size_t model;
    uint64_t key;   /* fail_key: the sample keeps the smallest */
    char *thinking; /* the answer's reasoning text, shown beside it (never graded); or NULL */
    uint64_t idx;   /* the record's case (unit) index: the viewer filters by cluster with it */
} failure_t;

struct coord_analysis {
    char **graders;
    size_t n_graders;
    model_an_t *models; /* n_models, then the pool's strategies (records' "pool") at n_models */
    size_t n_models;
    uint64_t pooled;    /* records with a "pool" */
    judge_an_t judges[MAX_JUDGES];
    size_t n_judges;
    char **cfg_judges, **cfg_models; /* the config's judges and their models (NULL: unknown) */
    int *cfg_rubric;                 /* [config judge] its rubrics entry, -1 past the cap */
    size_t n_cfg;
    judge_group_t by_model[COORD_MAX_JUDGE_GROUPS];
    size_t n_by_model;
    judge_group_t by_rubric[COORD_MAX_JUDGE_GROUPS]; /* one per distinct configured rubric */
    size_t n_rubrics;
    failure_t *fails; /* the sample: a max-heap by key */
    size_t n_fails, max_fails;
    uint64_t fails_seen, seed;
};

static char **dup_names(const char *const *names, size_t n)
{
    char **out = rs_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        out[i] = rs_xstrdup(names[i]);
    return out;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int same_rubric(const judge_group_t *g, const char *const *rubric)
{
    size_t n = 0;
    for (; rubric && rubric[n]; n++)
        if (n == g->n_principles || strcmp(g->principles[n], rubric[n]) != 0) return 0;
    return n == g->n_principles;
}

/* The rubrics entry of a configured judge's rubric (NULL = none, the same as an empty one),
 * added when no earlier judge had it; -1 past COORD_MAX_JUDGE_GROUPS distinct rubrics. */
static int rubric_entry(coord_analysis_t *a, const char *const *rubric)
{
    for (size_t r = 0; r < a->n_rubrics; r++)
        if (same_rubric(&a->by_rubric[r], rubric)) return (int)r;
    if (a->n_rubrics == COORD_MAX_JUDGE_GROUPS) return -1;
    judge_group_t *g = &a->by_rubric[a->n_rubrics];
    while (rubric && rubric[g->n_principles])
        g->n_principles++;
    g->principles = dup_names(rubric, g->n_principles);
    return (int)a->n_rubrics++;
}

static void config_judges(coord_analysis_t *a, const coord_analysis_opts_t *o)
{
    a->n_cfg = o->n_judges;
    a->cfg_judges = dup_names(o->judge_names, o->n_judges);
    a->cfg_models = rs_xcalloc(o->n_judges + 1, sizeof(char *));
    a->cfg_rubric = rs_xcalloc(o->n_judges + 1, sizeof(int));
    for (size_t i = 0; i < o->n_judges; i++) {
        const char *m = o->judge_models ? o->judge_models[i] : NULL;
        a->cfg_models[i] = m ? rs_xstrdup(m) : NULL;
        a->cfg_rubric[i] = rubric_entry(a, o->judge_rubrics ? o->judge_rubrics[i] : NULL);
    }
}

static void acc_cleanup(judge_acc_t *acc)
{
    for (int q = 0; q < Q_N; q++)
        free(acc->q[q].cells);
}

static void group_cleanup(judge_group_t *g)
{
    free(g->model);
    free_names(g->principles, g->n_principles);
    acc_cleanup(&g->acc);
}

coord_analysis_t *coord_analysis_new(const coord_analysis_opts_t *o)
{
    coord_analysis_t *a = rs_xcalloc(1, sizeof(*a));
    a->graders = dup_names(o->graders, o->n_graders);
    a->n_graders = o->n_graders;
    a->n_models = o->n_models;
    a->models = rs_xcalloc(o->n_models + 1, sizeof(model_an_t));
    for (size_t m = 0; m < o->n_models; m++)
        a->models[m].name = rs_xstrdup(o->models[m]);
    a->max_fails = o->max_failures ? o->max_failures : COORD_ANALYSIS_MAX_FAILURES;
    a->fails = rs_xcalloc(a->max_fails, sizeof(failure_t));
    a->seed = o->seed;
    config_judges(a, o);
    return a;
}

void coord_analysis_destroy(coord_analysis_t **ap)
{
    coord_analysis_t *a = ap ? *ap : NULL;
    if (!a) return;
    for (size_t m = 0; m <= a->n_models; m++) {
        model_an_t *ma = &a->models[m];
        for (size_t s = 0; s < ma->n_strats; s++) {
            free(ma->strats[s].name);
            free(ma->strats[s].counts);
        }
        free(ma->rounds);
        free(ma->name);
    }
    for (size_t j = 0; j < a->n_judges; j++) {
        free(a->judges[j].name);
        free(a->judges[j].model);
        acc_cleanup(&a->judges[j].acc);
    }
    for (size_t g = 0; g < a->n_by_model; g++)
        group_cleanup(&a->by_model[g]);
    for (size_t g = 0; g < a->n_rubrics; g++)
        group_cleanup(&a->by_rubric[g]);
    free_names(a->cfg_judges, a->n_cfg);
    free_names(a->cfg_models, a->n_cfg);
    free(a->cfg_rubric);
    for (size_t i = 0; i < a->n_fails; i++) {
        free(a->fails[i].case_id);
        free(a->fails[i].output);
        free(a->fails[i].thinking);
    }
    free_names(a->graders, a->n_graders);
    free(a->models);
    free(a->fails);
    free(a);
    *ap = NULL;
}

static int model_of(const coord_analysis_t *a, const char *name)
{
    for (size_t m = 0; name && m < a->n_models; m++)
        if (strcmp(a->models[m].name, name) == 0) return (int)m;
    return -1;
}

/* ---- strategies ---- */

static strat_agg_t *strat_get(coord_analysis_t *a, model_an_t *ma, const char *name)
{
    for (size_t s = 0; s < ma->n_strats; s++)
        if (strcmp(ma->strats[s].name, name) == 0) return &ma->strats[s];
    if (ma->n_strats == COORD_MAX_STRATEGIES) return NULL;
    strat_agg_t *sa = &ma->strats[ma->n_strats++];
    sa->name = rs_xstrdup(name);
    sa->counts = rs_xcalloc(a->n_graders, sizeof(counts_t));
    return sa;
}

static void add_strategies(coord_analysis_t *a, model_an_t *ma, const rs_jv_t *entry)
{
    coord_strategy_ref_t s[COORD_MAX_STRATEGIES];
    size_t n = coord_strategies_of(entry, s, COORD_MAX_STRATEGIES);
    coord_verdict_t first = coord_strategy_verdict(&s[0], a->graders[0]);
    coord_verdict_t v[COORD_MAX_STRATEGIES];
    size_t at[COORD_MAX_STRATEGIES], k = 0;
    for (size_t i = 0; i < n; i++) {
        strat_agg_t *sa = strat_get(a, ma, s[i].name);
        if (!sa) continue;
        for (size_t g = 0; g < a->n_graders; g++)
            sa->counts[g][coord_strategy_verdict(&s[i], a->graders[g])]++;
        v[k] = coord_strategy_verdict(&s[i], a->graders[0]);
        if (first == COORD_V_WRONG && v[k] == COORD_V_CORRECT) sa->b++;
        if (first == COORD_V_CORRECT && v[k] == COORD_V_WRONG) sa->c++;
        at[k++] = (size_t)(sa - ma->strats);
    }
    for (size_t i = 0; i < k; i++) /* every pair this case has both of */
        for (size_t j = 0; j < k; j++)
            if (v[i] == COORD_V_CORRECT && v[j] == COORD_V_WRONG) ma->only[at[i]][at[j]]++;
}

/* ---- rounds ---- */

static void rounds_reserve(coord_analysis_t *a, model_an_t *ma, size_t n)
{
    if (n <= ma->n_rounds) return;
    ma->rounds = rs_xrealloc(ma->rounds, n * a->n_graders * sizeof(counts_t));
    memset(ma->rounds + ma->n_rounds * a->n_graders, 0,
           (n - ma->n_rounds) * a->n_graders * sizeof(counts_t));
    ma->n_rounds = n;
}

/* Round 0 is candidate 0's answer, round r its revision r (revisions[r - 1]). */
static void add_rounds(coord_analysis_t *a, model_an_t *ma, const rs_jv_t *entry)
{
    const rs_jv_t *c0 = candidate0(entry), *revs = rs_jv_get(c0, "revisions");
    size_t n = rs_jv_len(revs) < MAX_ROUNDS ? rs_jv_len(revs) : MAX_ROUNDS - 1;
    int failed = entry_failed(entry);
    rounds_reserve(a, ma, n + 1);
    for (size_t r = 0; r <= n; r++) {
        const rs_jv_t *grades = rs_jv_get(r ? rs_jv_at(revs, r - 1) : c0, "grades");
        for (size_t g = 0; g < a->n_graders; g++) {
            coord_verdict_t v = failed ? COORD_V_ERROR : coord_verdict_of(grades, a->graders[g]);
            ma->rounds[r * a->n_graders + g][v]++;
        }
    }
    if (n == 0 || failed) return;
    coord_verdict_t v0 = coord_verdict_of(rs_jv_get(c0, "grades"), a->graders[0]);
    coord_verdict_t vn =
        coord_verdict_of(rs_jv_get(rs_jv_at(revs, n - 1), "grades"), a->graders[0]);
    if ((v0 != COORD_V_CORRECT && v0 != COORD_V_WRONG) ||
        (vn != COORD_V_CORRECT && vn != COORD_V_WRONG))
        return;
    ma->flip_pairs++;
    if (v0 == COORD_V_WRONG && vn == COORD_V_CORRECT) ma->w2r++;
    if (v0 == COORD_V_CORRECT && vn == COORD_V_WRONG) ma->r2w++;
}

/* ---- judges ---- */

static judge_an_t *judge_get(coord_analysis_t *a, const char *name)
{
    if (!name || !*name) return NULL;
    for (size_t j = 0; j < a->n_judges; j++)
        if (strcmp(a->judges[j].name, name) == 0) return &a->judges[j];
    if (a->n_judges == MAX_JUDGES) return NULL;
    judge_an_t *j = &a->judges[a->n_judges++];
    j->name = rs_xstrdup(name);
    j->cfg = -1;
    for (size_t i = 0; i < a->n_cfg && j->cfg < 0; i++)
        if (strcmp(a->cfg_judges[i], name) == 0) j->cfg = (int)i;
    return j;
}

/* The judge_models entry of a judging model; NULL when the model is unknown or past the cap. */
static judge_group_t *model_group(coord_analysis_t *a, const char *model)
{
    if (!model) return NULL;
    for (size_t g = 0; g < a->n_by_model; g++)
        if (strcmp(a->by_model[g].model, model) == 0) return &a->by_model[g];
    if (a->n_by_model == COORD_MAX_JUDGE_GROUPS) return NULL;
    judge_group_t *g = &a->by_model[a->n_by_model++];
    g->model = rs_xstrdup(model);
    return g;
}

/* The rubrics entry of a judge; NULL when the config does not know the judge. */
static judge_group_t *rubric_group(coord_analysis_t *a, const judge_an_t *j)
{
    int r = j->cfg >= 0 ? a->cfg_rubric[j->cfg] : -1;
    return r >= 0 ? &a->by_rubric[r] : NULL;
}

static void score_add(judge_q_t *q, double score, int positive)
{
    uint32_t key = (uint32_t)lround(fmin(1, fmax(0, score)) * SCORE_GRID);
    size_t lo = 0, hi = q->n_cells;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (q->cells[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == q->n_cells || q->cells[lo].key != key) {
        if (q->n_cells == q->cap_cells) {
            q->cap_cells = q->cap_cells ? 2 * q->cap_cells : 8;
            q->cells = rs_xrealloc(q->cells, q->cap_cells * sizeof(score_cell_t));
        }
        memmove(q->cells + lo + 1, q->cells + lo, (q->n_cells - lo) * sizeof(score_cell_t));
        q->cells[lo] = (score_cell_t){key, 0, 0};
        q->n_cells++;
    }
    positive ? q->cells[lo].pos++ : q->cells[lo].neg++;
}

/* What one critique said: an error (the judge's call failed), unparsed, or a verdict. */
typedef enum { CRIT_VERDICT, CRIT_UNPARSED, CRIT_ERROR } crit_kind_t;

typedef struct crit {
    crit_kind_t kind;
    double score;
    int judged_correct;
} crit_t;

static crit_t read_critique(const rs_jv_t *q)
{
    crit_t c = {CRIT_VERDICT, 0, 0};
    const rs_jv_t *score = rs_jv_get(q, "score"), *jc = rs_jv_get(q, "judged_correct");
    if (rs_jv_is_str(rs_jv_get(q, "error")))
        c.kind = CRIT_ERROR;
    else if (rs_jv_is_false(rs_jv_get(q, "parsed")) || !rs_jv_is_number(score) ||
             !isfinite(rs_jv_num(score)))
        c.kind = CRIT_UNPARSED;
    else {
        c.score = rs_jv_num(score);
        /* a record without judged_correct is read at the default threshold, 0.5 */
        c.judged_correct = rs_jv_is_bool(jc) ? rs_jv_is_true(jc) : c.score >= 0.5;
    }
    return c;
}

static void judge_q_add(judge_q_t *q, const crit_t *c, int positive)
{
    q->n++;
    if (c->kind == CRIT_ERROR) {
        q->errors++;
        return;
    }
    if (c->kind == CRIT_UNPARSED) {
        q->unparsed++;
        return;
    }
    if (c->judged_correct)
        positive ? q->tp++ : q->fp++;
    else
        positive ? q->fn++ : q->tn++;
    score_add(q, c->score, positive);
}

/* The grades of the answer a critique judged: round 0 the candidate's, round r its revision r. */
static const rs_jv_t *judged_grades(const rs_jv_t *cand, const rs_jv_t *crit)
{
    long long r = rs_jv_int(rs_jv_get(crit, "round"));
    if (r <= 0) return rs_jv_get(cand, "grades");
    return rs_jv_get(rs_jv_at(rs_jv_get(cand, "revisions"), (size_t)r - 1),
                           "grades");
}

static void acc_add(judge_acc_t *acc, const crit_t *c, int positive, const rs_jv_t *self)
{
    judge_q_add(&acc->q[Q_ALL], c, positive);
    if (rs_jv_is_bool(self))
        judge_q_add(&acc->q[rs_jv_is_true(self) ? Q_SELF : Q_CROSS], c, positive);
}

/* A critique counts for its judge, its judging model and its judge's rubric, all alike. */
static void add_critique(coord_analysis_t *a, const char *model, const rs_jv_t *cand, const rs_jv_t *crit)
{
    coord_verdict_t truth = coord_verdict_of(judged_grades(cand, crit), a->graders[0]);
    if (truth != COORD_V_CORRECT && truth != COORD_V_WRONG) return; /* nothing to hold it to */
    judge_an_t *j = judge_get(a, rs_jv_str(rs_jv_get(crit, "judge")));
    if (!j) return;
    const rs_jv_t *self = rs_jv_get(crit, "self");
    /* The judge's model: named by the critique, or the judged model when judging itself. */
    const char *jm = rs_jv_str(rs_jv_get(crit, "model"));
    if (!jm && rs_jv_is_true(self)) jm = model;
    if (jm && (!j->model || strcmp(jm, j->model) < 0)) { /* one model, whatever the order */
        free(j->model);
        j->model = rs_xstrdup(jm);
    }
    crit_t c = read_critique(crit);
    int positive = truth == COORD_V_CORRECT;
    acc_add(&j->acc, &c, positive, self);
    judge_group_t *groups[] = {model_group(a, jm), rubric_group(a, j)};
    for (size_t g = 0; g < RS_ARRAY_LEN(groups); g++) {
        if (!groups[g]) continue;
        groups[g]->judges |= UINT32_C(1) << (j - a->judges);
        acc_add(&groups[g]->acc, &c, positive, self);
    }
}

static void add_critiques(coord_analysis_t *a, const rs_jv_t *entry)
{
    const char *model = rs_jv_str(rs_jv_get(entry, "model"));
    size_t i, j;
    const rs_jv_t *c, *q;
    rs_jv_array_foreach(rs_jv_get(entry, "candidates"), i, c)
        rs_jv_array_foreach(rs_jv_get(c, "critiques"), j, q) add_critique(a, model, c, q);
}

/* ---- failures: a sample of the first grader's wrong answers ----
 *
 * Each wrong answer gets a key, a hash of the seed, its case and its model; the sample keeps the
 * max_fails smallest keys (a max-heap). That is a uniform random sample, like a reservoir, but it
 * does not depend on the order records are folded in: the running coordinator folds them as they
 * arrive and `report` in case order, and both must say the same. */

static uint64_t fail_key(uint64_t seed, uint64_t idx, size_t model)
{
    uint64_t s = seed ^ (idx * 0xD6E8FEB86659FD93ull) ^ ((uint64_t)model * 0xA0761D6478BD642Full);
    return rs_splitmix64(&s);
}

static void heap_swap(failure_t *f, size_t i, size_t j)
{
    failure_t t = f[i];
    f[i] = f[j];
    f[j] = t;
}

static void heap_up(failure_t *f, size_t i)
{
    while (i > 0 && f[(i - 1) / 2].key < f[i].key) {
        heap_swap(f, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_down(failure_t *f, size_t n, size_t i)
{
    for (;;) {
        size_t big = i, l = 2 * i + 1, r = l + 1;
        if (l < n && f[l].key > f[big].key) big = l;
        if (r < n && f[r].key > f[big].key) big = r;
        if (big == i) return;
        heap_swap(f, i, big);
        i = big;
    }
}

/* A heap copy of at most max bytes of s, cut before a UTF-8 continuation byte so the copy stays
 * valid UTF-8 (jansson refuses anything else). */
static char *utf8_prefix(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max) return rs_xstrdup(s);
    while (n > 0 && (n > max || ((unsigned char)s[n] & 0xC0) == 0x80))
        n--;
    return rs_xstrndup(s, n);
}

static void add_failure(coord_analysis_t *a, size_t m, const rs_jv_t *rec, const rs_jv_t *entry)
{
    coord_strategy_ref_t first;
    coord_strategies_of(entry, &first, 1);
    if (coord_strategy_verdict(&first, a->graders[0]) != COORD_V_WRONG) return;
    const char *out = rs_jv_str(rs_jv_get(candidate0(entry), "output"));
    const char *th = rs_jv_str(rs_jv_get(candidate0(entry), "thinking"));
    if (!out) return;
    a->fails_seen++;
    uint64_t idx = (uint64_t)rs_jv_int(rs_jv_get(rec, "idx"));
    uint64_t key = fail_key(a->seed, idx, m);
    if (a->n_fails == a->max_fails) {
        if (key >= a->fails[0].key) return;
        free(a->fails[0].case_id);
        free(a->fails[0].output);
        free(a->fails[0].thinking);
        a->fails[0] = (failure_t){coord_case_id_of(rec), utf8_prefix(out, COORD_ANALYSIS_MAX_OUTPUT), m, key,
                                  th ? utf8_prefix(th, COORD_ANALYSIS_MAX_OUTPUT) : NULL, idx};
        heap_down(a->fails, a->n_fails, 0);
        return;
    }
    a->fails[a->n_fails] = (failure_t){coord_case_id_of(rec), utf8_prefix(out, COORD_ANALYSIS_MAX_OUTPUT), m,
                                       key, th ? utf8_prefix(th, COORD_ANALYSIS_MAX_OUTPUT) : NULL,
                                       idx};
    heap_up(a->fails, a->n_fails++);
}

void coord_analysis_add(coord_analysis_t *a, const rs_jv_t *rec)
{
    size_t i;
    const rs_jv_t *e;
    rs_jv_array_foreach(rs_jv_get(rec, "models"), i, e)
    {
        int m = model_of(a, rs_jv_str(rs_jv_get(e, "model")));
        if (m < 0) continue;
        add_strategies(a, &a->models[m], e);
        add_rounds(a, &a->models[m], e);
        add_critiques(a, e);
        add_failure(a, (size_t)m, rec, e);
    }
    const rs_jv_t *pool = rs_jv_get(rec, "pool");
    if (rs_jv_is_obj(pool)) {
        add_strategies(a, &a->models[a->n_models], pool);
        a->pooled++;
    }
}

uint64_t coord_analysis_failures_seen(const coord_analysis_t *a)
{
    return a->fails_seen;
}

size_t coord_analysis_failures_kept(const coord_analysis_t *a)
{
    return a->n_fails;
}

const char *coord_analysis_failure_case_id(const coord_analysis_t *a, size_t i)
{
    return a->fails[i].case_id;
}

const char *coord_analysis_failure_output(const coord_analysis_t *a, size_t i)
{
    return a->fails[i].output;
}

/* ---- JSON: strategies, rounds, flips ---- */

static json_t *graders_json(const coord_analysis_t *a, counts_t *counts)
{
    json_t *arr = json_array();
    for (size_t g = 0; g < a->n_graders; g++)
        json_array_append_new(arr, coord_counts_json(a->graders[g], NULL, counts[g]));
    return arr;
}

/* order[0 .. n) = the indices 0 .. n - 1 by ascending rank[], ties by index: an insertion sort,
 * as n is a handful. */
static void order_by_rank(const size_t *rank, size_t *order, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        for (; j > 0 && rank[order[j - 1]] > rank[i]; j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
}

/* ma's strategies in the order the report lists them (never the order records came in). */
static void strategies_order(const model_an_t *ma, size_t *order)
{
    size_t rank[COORD_MAX_STRATEGIES];
    for (size_t i = 0; i < ma->n_strats; i++) {
        size_t by_name = 0;
        for (size_t k = 0; k < ma->n_strats; k++)
            by_name += strcmp(ma->strats[k].name, ma->strats[i].name) < 0;
        rank[i] = strategy_rank(ma->strats[i].name, by_name);
    }
    order_by_rank(rank, order, ma->n_strats);
}

static json_t *strategies_json(const coord_analysis_t *a, const model_an_t *ma)
{
    size_t order[COORD_MAX_STRATEGIES];
    strategies_order(ma, order);
    json_t *arr = json_array();
    for (size_t i = 0; i < ma->n_strats; i++) {
        const strat_agg_t *s = &ma->strats[order[i]];
        int first = strcmp(s->name, FIRST) == 0;
        json_array_append_new(arr, json_pack("{sssoso}", "name", s->name, "graders",
                                             graders_json(a, s->counts), "mcnemar_vs_first",
                                             first ? json_null() : coord_mcnemar_json(s->b, s->c)));
    }
    return arr;
}

/* Every pair of ma's strategies, each later one in the listing versus each earlier one (so the
 * pairs with first repeat mcnemar_vs_first): [{strategy, versus, b, c, exact_p, chi2, chi2_p}]. */
static json_t *mcnemar_pairs_json(const model_an_t *ma)
{
    size_t order[COORD_MAX_STRATEGIES];
    strategies_order(ma, order);
    json_t *arr = json_array();
    for (size_t i = 0; i < ma->n_strats; i++)
        for (size_t j = i + 1; j < ma->n_strats; j++) {
            size_t x = order[j], y = order[i];
            json_t *t = json_pack("{ssss}", "strategy", ma->strats[x].name, "versus",
                                  ma->strats[y].name);
            json_object_update_new(t, coord_mcnemar_json(ma->only[x][y], ma->only[y][x]));
            json_array_append_new(arr, t);
        }
    return arr;
}

static json_t *rounds_json(const coord_analysis_t *a, const model_an_t *ma)
{
    json_t *arr = json_array();
    for (size_t r = 0; r < ma->n_rounds; r++)
        json_array_append_new(arr, json_pack("{sIso}", "round", (json_int_t)r, "graders",
                                             graders_json(a, ma->rounds + r * a->n_graders)));
    return arr;
}

static json_t *flips_json(const model_an_t *ma)
{
    return json_pack("{sIsIsIso}", "pairs", (json_int_t)ma->flip_pairs, "wrong_to_right",
                     (json_int_t)ma->w2r, "right_to_wrong", (json_int_t)ma->r2w, "mcnemar",
                     coord_mcnemar_json(ma->w2r, ma->r2w));
}

/* ---- JSON: judges ---- */

/* AUROC from the score table: the Mann-Whitney U over positives x negatives, ties counting 1/2,
 * the same sum rs_auroc makes over its sorted copy. NaN without positives or negatives. */
static double cells_auroc(const judge_q_t *q)
{
    double u = 0, neg_below = 0, pos = 0;
    for (size_t i = 0; i < q->n_cells; i++) {
        double p = (double)q->cells[i].pos, n = (double)q->cells[i].neg;
        u += p * neg_below + 0.5 * p * n;
        neg_below += n;
        pos += p;
    }
    if (pos == 0 || neg_below == 0) return NAN;
    return u / (pos * neg_below);
}

static double ratio(uint64_t num, uint64_t den)
{
    return den ? (double)num / (double)den : NAN;
}

/* HIST_BINS equal bins of the score in [0, 1] (1 falls in the last), for correct and wrong. */
static json_t *histogram_json(const judge_q_t *q)
{
    uint64_t pos[HIST_BINS] = {0}, neg[HIST_BINS] = {0};
    for (size_t i = 0; i < q->n_cells; i++) {
        size_t bin = q->cells[i].key * HIST_BINS / SCORE_GRID;
        if (bin >= HIST_BINS) bin = HIST_BINS - 1;
        pos[bin] += q->cells[i].pos;
        neg[bin] += q->cells[i].neg;
    }
    json_t *c = json_array(), *w = json_array();
    for (size_t b = 0; b < HIST_BINS; b++) {
        json_array_append_new(c, json_integer((json_int_t)pos[b]));
        json_array_append_new(w, json_integer((json_int_t)neg[b]));
    }
    return json_pack("{sisoso}", "bins", HIST_BINS, "correct", c, "wrong", w);
}

static json_t *judge_q_json(const judge_q_t *q)
{
    json_t *o = json_pack("{sIsIsI}", "n", (json_int_t)q->n, "unparsed", (json_int_t)q->unparsed,
                          "errors", (json_int_t)q->errors);
    json_object_set_new(o, "confusion",
                        json_pack("{sIsIsIsI}", "tp", (json_int_t)q->tp, "fp", (json_int_t)q->fp,
                                  "tn", (json_int_t)q->tn, "fn", (json_int_t)q->fn));
    json_object_set_new(o, "precision", num_or_null(ratio(q->tp, q->tp + q->fp)));
    json_object_set_new(o, "recall", num_or_null(ratio(q->tp, q->tp + q->fn)));
    /* rater 1 = the first grader, rater 2 = the judge; "yes" = correct */
    json_object_set_new(o, "kappa", num_or_null(rs_cohen_kappa(q->tp, q->fn, q->fp, q->tn)));
    json_object_set_new(o, "auroc", num_or_null(cells_auroc(q)));
    json_object_set_new(o, "histogram", histogram_json(q));
    return o;
}

/* Sets o's "all", "self" and "cross". */
static void acc_json(json_t *o, const judge_acc_t *acc)
{
    for (int q = 0; q < Q_N; q++)
        json_object_set_new(o, Q_NAMES[q], judge_q_json(&acc->q[q]));
}

/* Where judge j is listed: the configured judges in the config's order, then the others by
 * name. */
static size_t judge_rank(const coord_analysis_t *a, size_t j)
{
    if (a->judges[j].cfg >= 0) return (size_t)a->judges[j].cfg;
    size_t r = a->n_cfg;
    for (size_t k = 0; k < a->n_judges; k++)
        r += a->judges[k].cfg < 0 && strcmp(a->judges[k].name, a->judges[j].name) < 0;
    return r;
}

static json_t *judges_json(const coord_analysis_t *a)
{
    size_t rank[MAX_JUDGES], order[MAX_JUDGES];
    for (size_t j = 0; j < a->n_judges; j++)
        rank[j] = judge_rank(a, j);
    order_by_rank(rank, order, a->n_judges);
    json_t *arr = json_array();
    for (size_t i = 0; i < a->n_judges; i++) {
        const judge_an_t *ja = &a->judges[order[i]];
        json_t *o = json_pack("{ssso}", "name", ja->name, "model",
                              ja->model ? json_string(ja->model) : json_null());
        acc_json(o, &ja->acc);
        json_array_append_new(arr, o);
    }
    return arr;
}

/* The names of a group's judges: the configured ones in the config's order, then the others by
 * name. */
static json_t *group_judges_json(const coord_analysis_t *a, uint32_t set)
{
    size_t idx[MAX_JUDGES], rank[MAX_JUDGES] = {0}, order[MAX_JUDGES], n = 0;
    for (size_t j = 0; j < a->n_judges; j++) {
        if (!(set >> j & 1)) continue;
        idx[n] = j;
        rank[n++] = judge_rank(a, j);
    }
    order_by_rank(rank, order, n);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_string(a->judges[idx[order[i]]].name));
    return arr;
}

/* {key: value, judges: [names], all, self, cross}; value is stolen. */
static json_t *group_json(const coord_analysis_t *a, const judge_group_t *g, const char *key,
                          json_t *value)
{
    json_t *o = json_object();
    json_object_set_new(o, key, value);
    json_object_set_new(o, "judges", group_judges_json(a, g->judges));
    acc_json(o, &g->acc);
    return o;
}

/* The judging models in the order of the config's judges, then the others by name. */
static json_t *judge_models_json(const coord_analysis_t *a)
{
    size_t rank[COORD_MAX_JUDGE_GROUPS], order[COORD_MAX_JUDGE_GROUPS];
    for (size_t g = 0; g < a->n_by_model; g++) {
        rank[g] = a->n_cfg; /* models no configured judge has: by name */
        for (size_t h = 0; h < a->n_by_model; h++)
            rank[g] += strcmp(a->by_model[h].model, a->by_model[g].model) < 0;
        for (size_t i = 0; i < a->n_cfg && rank[g] >= a->n_cfg; i++)
            if (a->cfg_models[i] && strcmp(a->cfg_models[i], a->by_model[g].model) == 0)
                rank[g] = i;
    }
    order_by_rank(rank, order, a->n_by_model);
    json_t *arr = json_array();
    for (size_t i = 0; i < a->n_by_model; i++) {
        const judge_group_t *g = &a->by_model[order[i]];
        json_array_append_new(arr, group_json(a, g, "model", json_string(g->model)));
    }
    return arr;
}

/* The configured rubrics that some counted critique fell under, in the config's order. */
static json_t *rubrics_json(const coord_analysis_t *a)
{
    json_t *arr = json_array();
    for (size_t r = 0; r < a->n_rubrics; r++) {
        const judge_group_t *g = &a->by_rubric[r];
        if (!g->judges) continue;
        json_t *principles = json_array();
        for (size_t i = 0; i < g->n_principles; i++)
            json_array_append_new(principles, json_string(g->principles[i]));
        json_array_append_new(arr, group_json(a, g, "rubric", principles));
    }
    return arr;
}

/* ---- JSON: failure clusters ---- */

static json_t *example_json(const coord_analysis_t *a, const failure_t *f)
{
    json_t *o = json_pack("{ssssss}", "case_id", f->case_id, "model", a->models[f->model].name,
                          "output", f->output);
    if (o && f->thinking) json_object_set_new(o, "thinking", json_string(f->thinking));
    return o;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

/* The case indices of cluster c's members, ascending, each once (two models' failures of one
 * case may share a cluster): what the viewer filters by. */
static json_t *member_cases(const rs_kmeans_t *km, const failure_t *const *fails, size_t c)
{
    uint64_t *idx = rs_xmalloc((km->sizes[c] + 1) * sizeof(uint64_t));
    size_t n = 0;
    for (size_t i = 0; i < km->n; i++)
        if (km->assign[i] == c) idx[n++] = fails[i]->idx;
    qsort(idx, n, sizeof(uint64_t), cmp_u64);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        if (i == 0 || idx[i] != idx[i - 1]) json_array_append_new(arr, json_integer((json_int_t)idx[i]));
    free(idx);
    return arr;
}

static json_t *cluster_json(const coord_analysis_t *a, const rs_kmeans_t *km, const float *v,
                            const failure_t *const *fails, size_t c)
{
    size_t ex[CLUSTER_EXAMPLES];
    size_t n = rs_kmeans_examples(km, v, c, ex, CLUSTER_EXAMPLES);
    json_t *examples = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(examples, example_json(a, fails[ex[i]]));
    return json_pack("{sIsfsoso}", "size", (json_int_t)km->sizes[c], "share",
                     (double)km->sizes[c] / (double)km->n, "examples", examples, "cases",
                     member_cases(km, fails, c));
}

/* Hash embeddings of the kept failures, spherical k-means++ with k = rs_vecset_auto_k, the
 * clusters largest first with the examples nearest their centroid. */
static int cmp_fail(const void *x, const void *y)
{
    const failure_t *f = *(const failure_t *const *)x, *g = *(const failure_t *const *)y;
    if (f->key != g->key) return f->key < g->key ? -1 : 1;
    if (f->model != g->model) return f->model < g->model ? -1 : 1;
    return strcmp(f->case_id, g->case_id);
}

static json_t *clusters_json(const coord_analysis_t *a)
{
    size_t n = a->n_fails;
    /* by key, so that k-means sees the sample in one order however it was folded */
    const failure_t **fails = rs_xcalloc(n + 1, sizeof(*fails));
    for (size_t i = 0; i < n; i++)
        fails[i] = &a->fails[i];
    qsort(fails, n, sizeof(*fails), cmp_fail);
    float *v = rs_xmalloc(n * CLUSTER_DIM * sizeof(float));
    for (size_t i = 0; i < n; i++)
        rs_embed_hash(fails[i]->output, CLUSTER_DIM, v + i * CLUSTER_DIM);
    rs_kmeans_opts_t opts = {0, 0, a->seed};
    rs_kmeans_t km;
    rs_vecset_kmeans(v, n, CLUSTER_DIM, &opts, &km);
    size_t *order = rs_xcalloc(km.k + 1, sizeof(size_t));
    for (size_t i = 0; i < km.k; i++) {
        size_t j = i;
        for (; j > 0 && km.sizes[order[j - 1]] < km.sizes[i]; j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < km.k; i++)
        json_array_append_new(arr, cluster_json(a, &km, v, fails, order[i]));
    free(order);
    free(fails);
    rs_kmeans_cleanup(&km);
    free(v);
    return arr;
}

void coord_analysis_fill(coord_analysis_t *a, json_t *report)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(report, "models"), i, m)
    {
        int k = model_of(a, json_string_value(json_object_get(m, "name")));
        if (k < 0) continue;
        const model_an_t *ma = &a->models[k];
        json_object_set_new(m, "strategies", strategies_json(a, ma));
        json_object_set_new(m, "mcnemar_pairs", mcnemar_pairs_json(ma));
        if (ma->n_rounds > 1) {
            json_object_set_new(m, "rounds", rounds_json(a, ma));
            json_object_set_new(m, "flips", flips_json(ma));
        }
    }
    if (a->pooled) {
        json_t *names = json_array();
        for (size_t k = 0; k < a->n_models; k++)
            json_array_append_new(names, json_string(a->models[k].name));
        json_object_set_new(report, "pool",
                            json_pack("{sosIso}", "models", names, "cases", (json_int_t)a->pooled,
                                      "strategies", strategies_json(a, &a->models[a->n_models])));
    }
    if (a->n_judges) {
        json_object_set_new(report, "judges", judges_json(a));
        json_object_set_new(report, "judge_models", judge_models_json(a));
        json_object_set_new(report, "rubrics", rubrics_json(a));
    }
    if (a->n_fails) {
        json_object_set_new(report, "clusters", clusters_json(a));
        json_object_set_new(report, "failures",
                            json_pack("{sIsIsI}", "total", (json_int_t)a->fails_seen, "sampled",
                                      (json_int_t)a->n_fails, "seed", (json_int_t)a->seed));
    }
}
