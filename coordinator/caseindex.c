/* caseindex: the viewer's per-case index; see caseindex.h. */
#define _GNU_SOURCE /* qsort_r */
#include "caseindex.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "analysis.h"
#include "units.h"
#include "util.h"

enum { F_W2R = 1, F_R2W = 2, F_DISAGREE = 4 };
enum { S_ABSENT = 0, S_CORRECT, S_WRONG, S_OTHER };

/* One (case, model): 16 bytes. */
typedef struct cell {
    uint8_t verdict; /* coord_verdict_t + 1; 0 = the model has no entry */
    uint8_t reason;  /* error reason id + 1; 0 = none */
    uint8_t flags;
    uint8_t pad;
    uint32_t strat;  /* 2 bits per strategy slot */
    float latency_ms;
    uint32_t tokens;
} cell_t;

struct coord_caseindex {
    const rs_config_t *cfg;
    const char *grader;
    size_t n_models;
    coord_units_t units;
    char *strat[COORD_CI_MAX_STRATEGIES];
    size_t n_strat;
    json_t *tag_ids, *reason_ids; /* name -> id */
    json_t *tag_names, *reason_names;
    uint64_t cap, span, count;
    uint32_t *gen;        /* [case]: the snapshot it was added in; 0 = not indexed */
    uint64_t *id_hash;    /* [case] */
    uint32_t *tag_at;     /* [case]: first of its tags in tags[] */
    uint8_t *n_tags;      /* [case] (at most 255 kept) */
    uint16_t *tags;
    size_t n_tag_refs, cap_tag_refs;
    cell_t *cells;        /* [case * n_models + model] */
    uint32_t snapshot;
};

coord_caseindex_t *coord_caseindex_new(const rs_config_t *cfg)
{
    coord_caseindex_t *ci = rs_xcalloc(1, sizeof(*ci));
    ci->cfg = cfg;
    ci->grader = cfg->scoring.graders[0].name;
    ci->n_models = cfg->n_models < COORD_CI_MAX_MODELS ? cfg->n_models : COORD_CI_MAX_MODELS;
    coord_units_init(&ci->units, cfg, 0);
    ci->strat[0] = rs_xstrdup("first");
    ci->n_strat = 1;
    ci->tag_ids = json_object();
    ci->reason_ids = json_object();
    ci->tag_names = json_array();
    ci->reason_names = json_array();
    ci->snapshot = 1;
    return ci;
}

void coord_caseindex_destroy(coord_caseindex_t **cp)
{
    coord_caseindex_t *ci = cp ? *cp : NULL;
    if (!ci) return;
    for (size_t s = 0; s < ci->n_strat; s++) free(ci->strat[s]);
    json_decref(ci->tag_ids);
    json_decref(ci->reason_ids);
    json_decref(ci->tag_names);
    json_decref(ci->reason_names);
    free(ci->gen);
    free(ci->id_hash);
    free(ci->tag_at);
    free(ci->n_tags);
    free(ci->tags);
    free(ci->cells);
    free(ci);
    *cp = NULL;
}

uint32_t coord_caseindex_snapshot(coord_caseindex_t *ci)
{
    return ++ci->snapshot;
}

int coord_caseindex_has(const coord_caseindex_t *ci, uint64_t idx)
{
    return idx < ci->span && ci->gen[idx] != 0;
}

uint64_t coord_caseindex_count(const coord_caseindex_t *ci)
{
    return ci->count;
}

uint32_t coord_caseindex_as_of(const coord_caseindex_t *ci)
{
    return ci->snapshot;
}

uint64_t coord_caseindex_span(const coord_caseindex_t *ci)
{
    return ci->span;
}

/* ---- folding ---- */

static void *grow(void *p, size_t elem, uint64_t old, uint64_t now)
{
    p = rs_xrealloc(p, (size_t)now * elem);
    memset((char *)p + old * elem, 0, (size_t)(now - old) * elem);
    return p;
}

static void ensure(coord_caseindex_t *ci, uint64_t idx)
{
    if (idx < ci->cap) return;
    uint64_t cap = ci->cap ? ci->cap : 4096;
    while (cap <= idx) cap *= 2;
    ci->gen = grow(ci->gen, sizeof(uint32_t), ci->cap, cap);
    ci->id_hash = grow(ci->id_hash, sizeof(uint64_t), ci->cap, cap);
    ci->tag_at = grow(ci->tag_at, sizeof(uint32_t), ci->cap, cap);
    ci->n_tags = grow(ci->n_tags, 1, ci->cap, cap);
    ci->cells = grow(ci->cells, sizeof(cell_t) * ci->n_models, ci->cap, cap);
    ci->cap = cap;
}

/* The id of name in ids/names, added when new and below max; -1 past max. */
static int name_id(json_t *ids, json_t *names, const char *name, size_t max)
{
    json_t *v = json_object_get(ids, name);
    if (v) return (int)json_integer_value(v);
    size_t n = json_array_size(names);
    if (n >= max) return -1;
    json_object_set_new(ids, name, json_integer((json_int_t)n));
    json_array_append_new(names, json_string(name));
    return (int)n;
}

static int strat_slot(coord_caseindex_t *ci, const char *name)
{
    for (size_t s = 0; s < ci->n_strat; s++)
        if (strcmp(ci->strat[s], name) == 0) return (int)s;
    if (ci->n_strat == COORD_CI_MAX_STRATEGIES) return -1;
    ci->strat[ci->n_strat] = rs_xstrdup(name);
    return (int)ci->n_strat++;
}

/* ---- rows ----
 * A case's row, what coord_caseindex_encode writes and coord_caseindex_add_row reads: the XXH64
 * of its id (8 bytes, little-endian), its tag count (1 byte) and tag ids (2 bytes each,
 * little-endian), then a cell per model (cell_t, 16 bytes, in the host's order). Tag, reason and
 * strategy ids are those of the dictionaries of the index that encoded it. */

static void put_le(rs_buf_t *b, uint64_t v, size_t n)
{
    uint8_t bytes[8];
    rs_le_put(bytes, v, n);
    rs_buf_append(b, bytes, n);
}

static void encode_tags(coord_caseindex_t *ci, const rs_jv_t *tags, rs_buf_t *out)
{
    uint16_t ids[255];
    size_t i, n = 0;
    const rs_jv_t *t;
    rs_jv_array_foreach(tags, i, t)
    {
        int id = rs_jv_is_str(t) ? name_id(ci->tag_ids, ci->tag_names, rs_jv_str(t),
                                             COORD_CI_MAX_TAGS)
                                   : -1;
        if (id >= 0 && n < RS_ARRAY_LEN(ids)) ids[n++] = (uint16_t)id;
    }
    put_le(out, n, 1);
    for (i = 0; i < n; i++) put_le(out, ids[i], 2);
}

static const rs_jv_t *first_candidate(const rs_jv_t *entry)
{
    return rs_jv_at(rs_jv_get(entry, "candidates"), 0);
}

/* Revisions of the first candidate: its last one's verdict against its own. */
static uint8_t flip_flags(const coord_caseindex_t *ci, const rs_jv_t *c0)
{
    const rs_jv_t *revs = rs_jv_get(c0, "revisions");
    size_t n = rs_jv_len(revs);
    if (!n) return 0;
    coord_verdict_t v0 = coord_verdict_of(rs_jv_get(c0, "grades"), ci->grader);
    coord_verdict_t vn = coord_verdict_of(rs_jv_get(rs_jv_at(revs, n - 1), "grades"),
                                          ci->grader);
    if (v0 == COORD_V_WRONG && vn == COORD_V_CORRECT) return F_W2R;
    if (v0 == COORD_V_CORRECT && vn == COORD_V_WRONG) return F_R2W;
    return 0;
}

/* Some critique of a candidate's first answer says the opposite of the first grader. */
static uint8_t disagree_flag(const coord_caseindex_t *ci, const rs_jv_t *entry)
{
    size_t i, j;
    const rs_jv_t *c, *q;
    rs_jv_array_foreach(rs_jv_get(entry, "candidates"), i, c)
    {
        coord_verdict_t v = coord_verdict_of(rs_jv_get(c, "grades"), ci->grader);
        if (v != COORD_V_CORRECT && v != COORD_V_WRONG) continue;
        rs_jv_array_foreach(rs_jv_get(c, "critiques"), j, q)
        {
            const rs_jv_t *jc = rs_jv_get(q, "judged_correct");
            if (rs_jv_int(rs_jv_get(q, "round")) > 0 || !rs_jv_is_bool(jc))
                continue;
            if (rs_jv_is_true(jc) != (v == COORD_V_CORRECT)) return F_DISAGREE;
        }
    }
    return 0;
}

static void add_model(coord_caseindex_t *ci, cell_t *cell, const rs_jv_t *entry)
{
    coord_strategy_ref_t s[COORD_MAX_STRATEGIES];
    size_t n = coord_strategies_of(entry, s, COORD_MAX_STRATEGIES);
    for (size_t i = 0; i < n; i++) {
        coord_verdict_t v = coord_strategy_verdict(&s[i], ci->grader);
        if (i == 0) cell->verdict = (uint8_t)(v + 1);
        int slot = strat_slot(ci, s[i].name);
        unsigned code = v == COORD_V_CORRECT ? S_CORRECT : v == COORD_V_WRONG ? S_WRONG : S_OTHER;
        if (slot >= 0) cell->strat |= code << (2 * slot);
    }
    const char *reason = rs_jv_str(rs_jv_get(entry, "error_type"));
    int r = reason ? name_id(ci->reason_ids, ci->reason_names, reason, COORD_CI_MAX_REASONS) : -1;
    cell->reason = (uint8_t)(r + 1);
    const rs_jv_t *c0 = first_candidate(entry);
    cell->flags = (uint8_t)(flip_flags(ci, c0) | disagree_flag(ci, entry));
    cell->latency_ms = (float)rs_jv_num(rs_jv_get(c0, "latency_ms"));
    long long tokens = rs_jv_int(rs_jv_get(c0, "output_tokens"));
    cell->tokens = tokens > 0 && tokens < UINT32_MAX ? (uint32_t)tokens : 0;
}

void coord_caseindex_encode(coord_caseindex_t *ci, const rs_jv_t *r, rs_buf_t *out)
{
    const char *id = rs_jv_str(rs_jv_get(r, "id"));
    put_le(out, id ? XXH64(id, strlen(id), 0) : 0, 8);
    encode_tags(ci, rs_jv_get(r, "tags"), out);
    cell_t cells[COORD_CI_MAX_MODELS];
    memset(cells, 0, sizeof(cells));
    size_t i;
    const rs_jv_t *e;
    rs_jv_array_foreach(rs_jv_get(r, "models"), i, e)
    {
        const char *name = rs_jv_str(rs_jv_get(e, "model"));
        int m = name ? coord_caseindex_model(ci, name) : -1;
        if (m >= 0 && !cells[m].verdict) add_model(ci, &cells[m], e);
    }
    rs_buf_append(out, cells, ci->n_models * sizeof(cell_t));
}

/* ---- the dictionaries of another index ---- */

struct coord_ci_remap {
    json_t *tags, *reasons;           /* the encoder's names by id */
    int32_t *tag, reason[COORD_CI_MAX_REASONS]; /* its id -> ours; -2 not yet looked up */
    int strat[COORD_CI_MAX_STRATEGIES];
    size_t n_tags;
};

json_t *coord_caseindex_names(const coord_caseindex_t *ci)
{
    json_t *strats = json_array();
    for (size_t s = 0; s < ci->n_strat; s++) json_array_append_new(strats, json_string(ci->strat[s]));
    return json_pack("{sosOsO}", "strategies", strats, "tags", ci->tag_names, "reasons",
                     ci->reason_names);
}

coord_ci_remap_t *coord_caseindex_remap_new(coord_caseindex_t *ci, json_t *names, rs_err_t *err)
{
    json_t *strats = json_object_get(names, "strategies"), *v;
    json_t *tags = json_object_get(names, "tags"), *reasons = json_object_get(names, "reasons");
    if (!json_is_array(strats) || json_array_size(strats) > COORD_CI_MAX_STRATEGIES ||
        !json_is_array(tags) || json_array_size(tags) > COORD_CI_MAX_TAGS ||
        !json_is_array(reasons) || json_array_size(reasons) > COORD_CI_MAX_REASONS) {
        rs_err_set(err, "the index's names are not a {strategies, tags, reasons} within bounds");
        return NULL;
    }
    coord_ci_remap_t *m = rs_xcalloc(1, sizeof(*m));
    size_t i;
    json_array_foreach(strats, i, v) m->strat[i] = json_is_string(v) ? strat_slot(ci, json_string_value(v)) : -1;
    for (i = json_array_size(strats); i < COORD_CI_MAX_STRATEGIES; i++) m->strat[i] = -1;
    m->tags = json_incref(tags);
    m->reasons = json_incref(reasons);
    m->n_tags = json_array_size(tags);
    m->tag = rs_xmalloc((m->n_tags ? m->n_tags : 1) * sizeof(int32_t));
    for (i = 0; i < m->n_tags; i++) m->tag[i] = -2;
    for (i = 0; i < COORD_CI_MAX_REASONS; i++) m->reason[i] = -2;
    return m;
}

void coord_caseindex_remap_free(coord_ci_remap_t **mp)
{
    if (!mp || !*mp) return;
    json_decref((*mp)->tags);
    json_decref((*mp)->reasons);
    free((*mp)->tag);
    free(*mp);
    *mp = NULL;
}

/* Our id of the encoder's id `id` in names (looked up once); -1 when it has none. */
static int remapped(int32_t *cache, json_t *names, size_t id, json_t *ids, json_t *ours, size_t max)
{
    if (cache[id] == -2) {
        const char *name = json_string_value(json_array_get(names, id));
        cache[id] = name ? name_id(ids, ours, name, max) : -1;
    }
    return cache[id];
}

static void remap_cell(coord_caseindex_t *ci, coord_ci_remap_t *m, cell_t *c)
{
    if (c->reason) {
        int r = c->reason - 1 < COORD_CI_MAX_REASONS
                    ? remapped(m->reason, m->reasons, c->reason - 1u,
                               ci->reason_ids, ci->reason_names, COORD_CI_MAX_REASONS)
                    : -1;
        c->reason = (uint8_t)(r + 1);
    }
    uint32_t strat = 0;
    for (size_t s = 0; s < COORD_CI_MAX_STRATEGIES; s++) {
        uint32_t code = (c->strat >> (2 * s)) & 3u;
        if (code && m->strat[s] >= 0) strat |= code << (2 * m->strat[s]);
    }
    c->strat = strat;
}

/* A cell read from elsewhere holds only what add_model writes: counts index arrays by its verdict
 * and a sort compares its latency. */
static int cell_ok(const cell_t *c)
{
    return c->verdict <= COORD_V_N && (c->flags & ~(F_W2R | F_R2W | F_DISAGREE)) == 0 &&
           isfinite(c->latency_ms) && c->latency_ms >= 0;
}

int coord_caseindex_add_row(coord_caseindex_t *ci, uint64_t idx, const void *row, size_t len,
                            coord_ci_remap_t *m)
{
    const uint8_t *p = row;
    if (len < 9) return -1;
    size_t n_tags = p[8], cells = ci->n_models * sizeof(cell_t);
    if (len != 9 + 2 * n_tags + cells) return -1;
    if (coord_caseindex_has(ci, idx)) return 0;
    ensure(ci, idx);
    ci->id_hash[idx] = rs_le_get(p, 8);
    ci->tag_at[idx] = (uint32_t)ci->n_tag_refs;
    size_t kept = 0;
    for (size_t i = 0; i < n_tags; i++) {
        size_t id = (size_t)rs_le_get(p + 9 + 2 * i, 2);
        int t = !m ? (int)id
                   : id < m->n_tags ? remapped(m->tag, m->tags, id, ci->tag_ids, ci->tag_names,
                                               COORD_CI_MAX_TAGS)
                                    : -1;
        if (t < 0) continue;
        if (ci->n_tag_refs == ci->cap_tag_refs) {
            ci->cap_tag_refs = ci->cap_tag_refs ? 2 * ci->cap_tag_refs : 4096;
            ci->tags = rs_xrealloc(ci->tags, ci->cap_tag_refs * sizeof(uint16_t));
        }
        ci->tags[ci->n_tag_refs++] = (uint16_t)t;
        kept++;
    }
    ci->n_tags[idx] = (uint8_t)kept;
    cell_t *c = &ci->cells[idx * ci->n_models];
    memcpy(c, p + 9 + 2 * n_tags, cells);
    for (size_t k = 0; m && k < ci->n_models; k++) {
        if (!cell_ok(&c[k])) { /* another index's row, read from a file: refused whole */
            memset(c, 0, cells);
            ci->n_tag_refs -= kept;
            ci->n_tags[idx] = 0;
            return -1;
        }
        remap_cell(ci, m, &c[k]);
    }
    ci->gen[idx] = ci->snapshot;
    ci->count++;
    if (idx + 1 > ci->span) ci->span = idx + 1;
    return 0;
}

void coord_caseindex_add(coord_caseindex_t *ci, uint64_t idx, const rs_jv_t *r)
{
    if (coord_caseindex_has(ci, idx)) return;
    rs_buf_t row;
    rs_buf_init(&row);
    coord_caseindex_encode(ci, r, &row);
    coord_caseindex_add_row(ci, idx, row.data, row.len, NULL);
    rs_buf_cleanup(&row);
}

int coord_caseindex_model(const coord_caseindex_t *ci, const char *name)
{
    for (size_t m = 0; m < ci->n_models; m++)
        if (strcmp(ci->cfg->models[m].name, name) == 0) return (int)m;
    return -1;
}

/* ---- facets and parsing ---- */

static json_t *names_of(const coord_caseindex_t *ci, int prompts)
{
    json_t *a = json_array();
    size_t n = prompts ? ci->units.variants : ci->n_models;
    for (size_t i = 0; i < n; i++) {
        const char *name = ci->cfg->models[i < ci->n_models ? i : 0].name;
        if (prompts) rs_config_variant(ci->cfg, i, &name);
        json_array_append_new(a, json_string(name));
    }
    return a;
}

json_t *coord_caseindex_facets(const coord_caseindex_t *ci)
{
    json_t *strats = json_array();
    for (size_t s = 0; s < ci->n_strat; s++) json_array_append_new(strats, json_string(ci->strat[s]));
    return json_pack("{sosososOsOsI}", "models", names_of(ci, 0), "strategies", strats, "prompts",
                     names_of(ci, 1), "tags", ci->tag_names, "reasons", ci->reason_names,
                     "epochs", (json_int_t)ci->units.epochs);
}

static const char *const VERDICTS[] = {"correct", "wrong", "error", "skipped"};

static int parse_verdict(const char *s, int *out)
{
    for (int v = 0; v < COORD_V_N; v++)
        if (strcmp(s, VERDICTS[v]) == 0) return *out = v, 0;
    return -1;
}

static int parse_id(json_t *ids, const char *s, int *out)
{
    json_t *v = json_object_get(ids, s);
    *out = v ? (int)json_integer_value(v) : -2; /* an unknown value matches nothing */
    return 0;
}

static int parse_uint(const char *s, int64_t max, int *out)
{
    int64_t v;
    if (rs_parse_i64(s, &v) || v < 0 || v > max) return -1;
    *out = (int)v;
    return 0;
}

/* One parameter into q; -1 when its value is bad. */
static int parse_one(const coord_caseindex_t *ci, const char *name, const char *v,
                     coord_ci_query_t *q)
{
    if (strcmp(name, "model") == 0) return (q->model = coord_caseindex_model(ci, v)) < 0 ? -1 : 0;
    if (strcmp(name, "verdict") == 0) return parse_verdict(v, &q->verdict);
    if (strcmp(name, "outcome") == 0) return parse_verdict(v, &q->outcome);
    if (strcmp(name, "strategy") == 0) {
        q->strategy = -2;
        for (size_t s = 0; s < ci->n_strat; s++)
            if (strcmp(ci->strat[s], v) == 0) q->strategy = (int)s;
        return 0;
    }
    if (strcmp(name, "tag") == 0) return parse_id(ci->tag_ids, v, &q->tag);
    if (strcmp(name, "reason") == 0) return parse_id(ci->reason_ids, v, &q->reason);
    if (strcmp(name, "flipped") == 0)
        return strcmp(v, "w2r") == 0 ? (q->flipped = 1, 0) : strcmp(v, "r2w") == 0 ? (q->flipped = 2, 0) : -1;
    if (strcmp(name, "disagree") == 0) return strcmp(v, "1") == 0 ? (q->disagree = 1, 0) : -1;
    if (strcmp(name, "epoch") == 0) return parse_uint(v, ci->units.epochs - 1, &q->epoch);
    if (strcmp(name, "prompt") == 0) {
        for (size_t i = 0; i < ci->units.variants; i++) {
            const char *n;
            rs_config_variant(ci->cfg, i, &n);
            if (strcmp(n, v) == 0) return q->prompt = (int)i, 0;
        }
        return -1;
    }
    if (strcmp(name, "sort") == 0)
        return strcmp(v, "idx") == 0       ? (q->sort = COORD_CI_BY_IDX, 0)
               : strcmp(v, "latency") == 0 ? (q->sort = COORD_CI_BY_LATENCY, 0)
               : strcmp(v, "tokens") == 0  ? (q->sort = COORD_CI_BY_TOKENS, 0)
                                           : -1;
    if (strcmp(name, "order") == 0)
        return strcmp(v, "asc") == 0 ? (q->desc = 0, 0) : strcmp(v, "desc") == 0 ? (q->desc = 1, 0) : -1;
    if (strcmp(name, "as_of") == 0) {
        int64_t s;
        if (rs_parse_i64(v, &s) || s < 0 || s > UINT32_MAX) return -1;
        q->as_of = (uint32_t)s;
        return 0;
    }
    return 0;
}

int coord_caseindex_parse(const coord_caseindex_t *ci, coord_ci_param_fn get, void *arg,
                          coord_ci_query_t *q, rs_err_t *err)
{
    static const char *const names[] = {"model", "verdict", "strategy", "outcome", "tag",
                                        "reason", "flipped", "disagree", "prompt", "epoch",
                                        "sort", "order", "as_of"};
    memset(q, 0, sizeof(*q));
    q->verdict = q->strategy = q->outcome = q->tag = q->reason = q->prompt = q->epoch = -1;
    for (size_t i = 0; i < RS_ARRAY_LEN(names); i++) {
        const char *v = get(arg, names[i]);
        if (v && *v && parse_one(ci, names[i], v, q) < 0)
            return rs_err_set(err, "%s: '%.100s' is not a value it takes", names[i], v);
    }
    if ((q->strategy == -1) != (q->outcome == -1))
        return rs_err_set(err, "strategy and outcome go together");
    return 0;
}

/* ---- queries ---- */

static const cell_t *cell_of(const coord_caseindex_t *ci, uint64_t idx, int m)
{
    return &ci->cells[idx * ci->n_models + (size_t)m];
}

static int has_tag(const coord_caseindex_t *ci, uint64_t idx, int tag)
{
    for (size_t i = 0; i < ci->n_tags[idx]; i++)
        if (ci->tags[ci->tag_at[idx] + i] == tag) return 1;
    return 0;
}

int coord_caseindex_match(const coord_caseindex_t *ci, const coord_ci_query_t *q, uint64_t idx)
{
    if (!coord_caseindex_has(ci, idx)) return 0;
    if (q->as_of && ci->gen[idx] > q->as_of) return 0;
    if (q->only && (idx >= q->only_len || !(q->only[idx >> 3] & (1u << (idx & 7))))) return 0;
    if (q->also && (idx >= q->also_len || !(q->also[idx >> 3] & (1u << (idx & 7))))) return 0;
    const cell_t *c = cell_of(ci, idx, q->model);
    if (q->verdict >= 0 && c->verdict != q->verdict + 1) return 0;
    if (q->strategy != -1) {
        unsigned code = q->strategy < 0 ? S_ABSENT : (c->strat >> (2 * q->strategy)) & 3u;
        unsigned want = q->outcome == COORD_V_CORRECT ? S_CORRECT
                        : q->outcome == COORD_V_WRONG ? S_WRONG
                                                      : S_OTHER;
        if (q->strategy < 0 || code != want) return 0;
    }
    if (q->reason != -1 && c->reason != q->reason + 1) return 0;
    if (q->flipped && !(c->flags & (q->flipped == 1 ? F_W2R : F_R2W))) return 0;
    if (q->disagree && !(c->flags & F_DISAGREE)) return 0;
    if (q->tag != -1 && (q->tag < 0 || !has_tag(ci, idx, q->tag))) return 0;
    if (q->prompt >= 0 || q->epoch >= 0) {
        uint32_t v, e;
        coord_units_split(&ci->units, idx, NULL, &v, &e);
        if ((q->prompt >= 0 && v != (uint32_t)q->prompt) || (q->epoch >= 0 && e != (uint32_t)q->epoch))
            return 0;
    }
    return 1;
}

static double sort_key(const coord_caseindex_t *ci, const coord_ci_query_t *q, uint64_t idx)
{
    const cell_t *c = cell_of(ci, idx, q->model);
    return q->sort == COORD_CI_BY_LATENCY ? (double)c->latency_ms : (double)c->tokens;
}

/* a before b in q's order: by key (ascending or descending), then by index. */
static int before(const coord_caseindex_t *ci, const coord_ci_query_t *q, uint64_t a, uint64_t b)
{
    if (q->sort != COORD_CI_BY_IDX) {
        double ka = sort_key(ci, q, a), kb = sort_key(ci, q, b);
        if (ka != kb) return q->desc ? ka > kb : ka < kb;
        return a < b;
    }
    return q->desc ? a > b : a < b;
}

/* ---- counts ---- */

typedef struct tallies {
    uint64_t verdict[COORD_V_N], flipped[2], disagree;
    uint64_t *tag, *reason, *prompt, *epoch;
} tallies_t;

static void tally_case(const coord_caseindex_t *ci, const coord_ci_query_t *q, uint64_t idx,
                       tallies_t *t)
{
    const cell_t *c = cell_of(ci, idx, q->model);
    if (c->verdict) t->verdict[c->verdict - 1]++;
    if (c->reason) t->reason[c->reason - 1]++;
    if (c->flags & F_W2R) t->flipped[0]++;
    if (c->flags & F_R2W) t->flipped[1]++;
    if (c->flags & F_DISAGREE) t->disagree++;
    for (size_t i = 0; i < ci->n_tags[idx]; i++) t->tag[ci->tags[ci->tag_at[idx] + i]]++;
    uint32_t v, e;
    coord_units_split(&ci->units, idx, NULL, &v, &e);
    t->prompt[v]++;
    t->epoch[e]++;
}

static json_t *named_counts(json_t *names, const uint64_t *n, size_t count, int all)
{
    json_t *o = json_object();
    for (size_t i = 0; i < count; i++)
        if (all || n[i]) json_object_set_new(o, json_string_value(json_array_get(names, i)),
                                             json_integer((json_int_t)n[i]));
    return o;
}

static json_t *counts_json(const coord_caseindex_t *ci, const tallies_t *t)
{
    json_t *verdicts = json_object(), *epochs = json_object();
    for (int v = 0; v < COORD_V_N; v++)
        json_object_set_new(verdicts, VERDICTS[v], json_integer((json_int_t)t->verdict[v]));
    for (uint32_t e = 0; e < ci->units.epochs; e++) {
        char key[16];
        snprintf(key, sizeof(key), "%u", e);
        json_object_set_new(epochs, key, json_integer((json_int_t)t->epoch[e]));
    }
    json_t *prompts = names_of(ci, 1);
    json_t *o = json_pack("{sososo}", "verdict", verdicts, "tag",
                          named_counts(ci->tag_names, t->tag, json_array_size(ci->tag_names), 0),
                          "reason",
                          named_counts(ci->reason_names, t->reason,
                                       json_array_size(ci->reason_names), 0));
    json_object_set_new(o, "flipped", json_pack("{sIsI}", "w2r", (json_int_t)t->flipped[0], "r2w",
                                                 (json_int_t)t->flipped[1]));
    json_object_set_new(o, "disagree", json_integer((json_int_t)t->disagree));
    json_object_set_new(o, "prompt", named_counts(prompts, t->prompt, ci->units.variants, 1));
    json_object_set_new(o, "epoch", epochs);
    json_decref(prompts);
    return o;
}

/* ---- the page ---- */

/* The best `keep` cases of q so far, a max-heap on q's order (the worst kept on top). */
typedef struct heap {
    uint64_t *v;
    size_t n, keep;
} heap_t;

static void swap_u64(uint64_t *a, uint64_t *b)
{
    uint64_t t = *a;
    *a = *b;
    *b = t;
}

static void keep_best(const coord_caseindex_t *ci, const coord_ci_query_t *q, heap_t *h,
                      uint64_t idx)
{
    if (h->n == h->keep) {
        if (!before(ci, q, idx, h->v[0])) return;
        h->v[0] = idx; /* replace the worst, sift down */
        for (size_t i = 0;;) {
            size_t l = 2 * i + 1, r = l + 1, w = i;
            if (l < h->n && before(ci, q, h->v[w], h->v[l])) w = l;
            if (r < h->n && before(ci, q, h->v[w], h->v[r])) w = r;
            if (w == i) break;
            swap_u64(&h->v[i], &h->v[w]);
            i = w;
        }
        return;
    }
    size_t i = h->n++;
    h->v[i] = idx;
    while (i > 0 && before(ci, q, h->v[(i - 1) / 2], h->v[i])) {
        swap_u64(&h->v[i], &h->v[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
}

/* q's order for qsort_r: the index and the query travel in arg (requests on two runs sort at
 * once, in two threads). */
typedef struct order {
    const coord_caseindex_t *ci;
    const coord_ci_query_t *q;
} order_t;

static int cmp_order(const void *a, const void *b, void *arg)
{
    const order_t *o = arg;
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return before(o->ci, o->q, x, y) ? -1 : before(o->ci, o->q, y, x) ? 1 : 0;
}

uint64_t coord_caseindex_query(const coord_caseindex_t *ci, const coord_ci_query_t *q,
                               uint64_t offset, size_t limit, uint64_t *out, size_t *n,
                               json_t **counts)
{
    tallies_t t = {0};
    if (counts) {
        t.tag = rs_xcalloc(json_array_size(ci->tag_names) + 1, sizeof(uint64_t));
        t.reason = rs_xcalloc(json_array_size(ci->reason_names) + 1, sizeof(uint64_t));
        t.prompt = rs_xcalloc(ci->units.variants, sizeof(uint64_t));
        t.epoch = rs_xcalloc(ci->units.epochs, sizeof(uint64_t));
    }
    uint64_t total = 0;
    *n = 0;
    /* never more rows than the index has: an offset from a URL must not size an allocation */
    uint64_t keep = offset + limit < ci->span ? offset + limit : ci->span;
    heap_t h = {.keep = (size_t)keep};
    int by_idx = q->sort == COORD_CI_BY_IDX;
    if (!by_idx) h.v = rs_xmalloc((h.keep ? h.keep : 1) * sizeof(uint64_t));
    for (uint64_t k = 0; k < ci->span; k++) {
        uint64_t idx = by_idx && q->desc ? ci->span - 1 - k : k;
        if (!coord_caseindex_match(ci, q, idx)) continue;
        if (counts) tally_case(ci, q, idx, &t);
        if (by_idx && total >= offset && *n < limit) out[(*n)++] = idx;
        if (!by_idx && h.keep) keep_best(ci, q, &h, idx);
        total++;
    }
    if (!by_idx) {
        order_t o = {ci, q};
        qsort_r(h.v, h.n, sizeof(uint64_t), cmp_order, &o);
        for (size_t i = (size_t)offset; i < h.n; i++) out[(*n)++] = h.v[i];
        free(h.v);
    }
    if (counts) {
        *counts = counts_json(ci, &t);
        free(t.tag), free(t.reason), free(t.prompt), free(t.epoch);
    }
    return total;
}

void coord_caseindex_neighbours(const coord_caseindex_t *ci, const coord_ci_query_t *q,
                                uint64_t idx, int64_t *prev, int64_t *next)
{
    *prev = *next = -1;
    for (uint64_t k = 0; k < ci->span; k++) {
        if (k == idx || !coord_caseindex_match(ci, q, k)) continue;
        if (before(ci, q, k, idx) && (*prev < 0 || before(ci, q, (uint64_t)*prev, k)))
            *prev = (int64_t)k;
        if (before(ci, q, idx, k) && (*next < 0 || before(ci, q, k, (uint64_t)*next)))
            *next = (int64_t)k;
    }
}

int coord_caseindex_verdict(const coord_caseindex_t *ci, uint64_t idx, size_t m)
{
    if (!coord_caseindex_has(ci, idx) || m >= ci->n_models) return COORD_V_SKIPPED;
    const cell_t *c = cell_of(ci, idx, (int)m);
    return c->verdict ? c->verdict - 1 : COORD_V_SKIPPED;
}

uint64_t coord_caseindex_id_hash(const coord_caseindex_t *ci, uint64_t idx)
{
    return coord_caseindex_has(ci, idx) ? ci->id_hash[idx] : 0;
}

double coord_caseindex_accuracy(const coord_caseindex_t *ci, size_t m)
{
    uint64_t k = 0, n = 0;
    for (uint64_t i = 0; m < ci->n_models && i < ci->span; i++) {
        int v = coord_caseindex_verdict(ci, i, m);
        k += v == COORD_V_CORRECT;
        n += v == COORD_V_CORRECT || v == COORD_V_WRONG;
    }
    return n ? (double)k / (double)n : -1;
}
