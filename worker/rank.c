/* rank: picks among one model's candidates by each strategy, and the "strategies" object of the
 * result record. Pure functions of what the chain computed (answers, grades, scores, vectors). */
#include "rank.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "score.h"
#include "util.h"
#include "medoid.h"

const char *wk_grade_name(unsigned char g)
{
    static const char *const names[] = {"wrong", "correct", "skipped", "error"};
    return g < RS_ARRAY_LEN(names) ? names[g] : "error";
}

size_t wk_rank_judge(const wk_rank_set_t *s)
{
    size_t best = 0;
    for (size_t k = 1; k < s->n; k++) {
        double v = s->cands[k].judge_score, b = s->cands[best].judge_score;
        /* strictly greater, so ties keep the lower k; a number beats NaN, never the reverse */
        if (!isnan(v) && (isnan(b) || v > b)) best = k;
    }
    return best;
}

size_t wk_rank_consensus(const wk_rank_set_t *s)
{
    size_t *of = rs_xmalloc(s->n * sizeof(*of)), m = 0;
    float *v = rs_xmalloc(s->n * (s->dim ? s->dim : 1) * sizeof(float));
    for (size_t k = 0; k < s->n; k++) {
        if (!s->cands[k].has_output || !s->cands[k].vec) continue;
        memcpy(v + m * s->dim, s->cands[k].vec, s->dim * sizeof(float));
        of[m++] = k;
    }
    size_t i = m ? rs_medoid(v, m, s->dim, NULL) : RS_MEDOID_NONE;
    size_t pick = i == RS_MEDOID_NONE ? 0 : of[i];
    free(v);
    free(of);
    return pick;
}

/* Votes for the answer first seen at k: the candidates from k on with the same answer (the ones
 * before k cannot have it, or k would not be its first occurrence). */
static size_t votes_from(const wk_rank_set_t *s, size_t k)
{
    size_t n = 0;
    for (size_t j = k; j < s->n; j++)
        n += s->cands[j].answer && strcmp(s->cands[j].answer, s->cands[k].answer) == 0;
    return n;
}

static int seen_before(const wk_rank_set_t *s, size_t k)
{
    for (size_t j = 0; j < k; j++)
        if (s->cands[j].answer && strcmp(s->cands[j].answer, s->cands[k].answer) == 0) return 1;
    return 0;
}

size_t wk_rank_majority(const wk_rank_set_t *s)
{
    size_t best = 0, best_votes = 0;
    /* first occurrences in k order, and only a strictly larger count replaces the leader: so a
     * tie goes to the answer that appeared first */
    for (size_t k = 0; k < s->n; k++) {
        if (!s->cands[k].answer || seen_before(s, k)) continue;
        size_t v = votes_from(s, k);
        if (v > best_votes) best = k, best_votes = v;
    }
    return best;
}

void wk_rank_oracle(const wk_rank_set_t *s, unsigned char *out)
{
    /* a lower rank is a better verdict for an upper bound: correct, wrong, skipped, error */
    static const int rank_of[] = {[RS_VERDICT_CORRECT] = 0,
                                  [RS_VERDICT_WRONG] = 1,
                                  [RS_VERDICT_SKIPPED] = 2,
                                  [WK_GRADE_ERROR] = 3};
    for (size_t g = 0; g < s->n_graders; g++) {
        unsigned char v = WK_GRADE_ERROR;
        for (size_t k = 0; k < s->n; k++) {
            unsigned char c = s->cands[k].grades[g];
            if (c <= WK_GRADE_ERROR && rank_of[c] < rank_of[v]) v = c;
        }
        out[g] = v;
    }
}

static json_t *grades_json(const rs_config_t *cfg, const unsigned char *grades)
{
    json_t *o = json_object();
    for (size_t g = 0; g < cfg->scoring.n_graders; g++)
        json_object_set_new(o, cfg->scoring.graders[g].name, json_string(wk_grade_name(grades[g])));
    return o;
}

static json_t *pick_json(const wk_rank_set_t *s, const rs_config_t *cfg, size_t k)
{
    json_t *o = json_object();
    json_object_set_new(o, "k", json_integer((json_int_t)k));
    json_object_set_new(o, "grades", grades_json(cfg, s->cands[k].grades));
    return o;
}

static json_t *majority_json(const wk_rank_set_t *s, const rs_config_t *cfg)
{
    size_t k = wk_rank_majority(s);
    json_t *o = json_object(),
           *answer = s->cands[k].answer ? json_string(s->cands[k].answer) : NULL;
    json_object_set_new(o, "k", json_integer((json_int_t)k));
    /* an answer that is not UTF-8 cannot be a JSON string: null, as when there is none */
    json_object_set_new(o, "answer", answer ? answer : json_null());
    json_object_set_new(o, "grades", grades_json(cfg, s->cands[k].grades));
    return o;
}

static json_t *oracle_json(const wk_rank_set_t *s, const rs_config_t *cfg)
{
    unsigned char *g = rs_xmalloc(s->n_graders ? s->n_graders : 1);
    wk_rank_oracle(s, g);
    json_t *o = json_object();
    json_object_set_new(o, "grades", grades_json(cfg, g));
    free(g);
    return o;
}

json_t *wk_rank_json(const wk_rank_set_t *s, const rs_config_t *cfg)
{
    json_t *o = json_object();
    const int *use = cfg->ranking.use;
    if (use[RS_STRATEGY_FIRST]) json_object_set_new(o, "first", pick_json(s, cfg, 0));
    /* with one candidate every strategy is candidate 0: copies of first would only be noise in
     * the report and in compare's ranking */
    if (s->n < 2) return o;
    if (use[RS_STRATEGY_JUDGE] && cfg->n_judges > 0)
        json_object_set_new(o, "judge", pick_json(s, cfg, wk_rank_judge(s)));
    if (use[RS_STRATEGY_CONSENSUS])
        json_object_set_new(o, "consensus", pick_json(s, cfg, wk_rank_consensus(s)));
    if (use[RS_STRATEGY_MAJORITY]) json_object_set_new(o, "majority", majority_json(s, cfg));
    if (use[RS_STRATEGY_ORACLE]) json_object_set_new(o, "oracle", oracle_json(s, cfg));
    return o;
}
