/* test_rank: the ranking strategies (worker/rank.c, from rsworker) — judge with ties and
 * unparsed scores, consensus over hash embeddings with failed candidates left out, majority with
 * ties and missing answers, oracle per grader, and the "strategies" object per ranking config
 * (only first for a single candidate). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../worker/rank.h"
#include "medoid.h"
#include "score.h"
#include "embed.h"

#define DIM 64
#define W RS_VERDICT_WRONG
#define C RS_VERDICT_CORRECT
#define S RS_VERDICT_SKIPPED
#define E WK_GRADE_ERROR

static const unsigned char NO_GRADES[4] = {W, W, W, W};

/* n candidates with outputs and no answers, score or vector. */
static void blank(wk_rank_cand_t *c, size_t n)
{
    for (size_t k = 0; k < n; k++)
        c[k] = (wk_rank_cand_t){.has_output = 1, .grades = NO_GRADES, .judge_score = NAN};
}

static wk_rank_set_t set_of(const wk_rank_cand_t *c, size_t n)
{
    return (wk_rank_set_t){.cands = c, .n = n, .n_graders = 1, .dim = DIM};
}

/* ---- judge ---- */

static void test_judge_highest_lowest_k(void **state)
{
    wk_rank_cand_t c[4];
    blank(c, 4);
    double scores[] = {0.5, 1, 0.25, 1};
    for (int k = 0; k < 4; k++)
        c[k].judge_score = scores[k];
    wk_rank_set_t s = set_of(c, 4);
    assert_int_equal(wk_rank_judge(&s), 1); /* 1 and 3 tie: the lower k */
}

static void test_judge_unparsed_never_wins(void **state)
{
    wk_rank_cand_t c[3];
    blank(c, 3);
    wk_rank_set_t s = set_of(c, 3);
    assert_int_equal(wk_rank_judge(&s), 0); /* nothing parsed: candidate 0 */
    c[2].judge_score = 0;                   /* a parsed 0 beats unparsed candidates */
    assert_int_equal(wk_rank_judge(&s), 2);
    c[0].judge_score = 0; /* a tie of parsed zeros: the lower k */
    assert_int_equal(wk_rank_judge(&s), 0);
    c[0].judge_score = NAN;
    c[1].judge_score = 0.7;
    assert_int_equal(wk_rank_judge(&s), 1);
}

/* ---- consensus ---- */

static void test_consensus_medoid(void **state)
{
    const char *texts[] = {"the cat sat on the mat", "a completely different sentence here",
                           "the cat sat on a mat", "the cat sat on the mat today"};
    float v[4][DIM];
    wk_rank_cand_t c[4];
    blank(c, 4);
    for (int k = 0; k < 4; k++) {
        rs_embed_hash(texts[k], DIM, v[k]);
        c[k].vec = v[k];
    }
    wk_rank_set_t s = set_of(c, 4);
    size_t want = rs_medoid(&v[0][0], 4, DIM, NULL);
    assert_int_not_equal(want, 1); /* the outlier is never the medoid */
    assert_int_equal(wk_rank_consensus(&s), want);
}

static void test_consensus_skips_failed(void **state)
{
    float v[3][DIM];
    rs_embed_hash("alpha beta gamma", DIM, v[0]);
    rs_embed_hash("alpha beta gamma", DIM, v[1]);
    rs_embed_hash("alpha beta delta", DIM, v[2]);
    wk_rank_cand_t c[3];
    blank(c, 3);
    for (int k = 0; k < 3; k++)
        c[k].vec = v[k];
    wk_rank_set_t s = set_of(c, 3);
    assert_int_equal(wk_rank_consensus(&s), 0); /* 0 and 1 tie: the lower k */
    c[0].has_output = 0;
    c[0].vec = NULL;
    assert_int_equal(wk_rank_consensus(&s), 1); /* mapped back to its own k */
    c[1].has_output = 0;
    assert_int_equal(wk_rank_consensus(&s), 2); /* one candidate left: itself */
    c[2].has_output = 0;
    assert_int_equal(wk_rank_consensus(&s), 0); /* none: candidate 0 */
}

/* One candidate with an output is its own medoid, reported at its own k: candidate 0 failed but
 * still holds a vector (one that a medoid over both would pick, the lower k of a tie), so a pick
 * of 0 means the failed one took part or the single vector was not ranked. */
static void test_consensus_one(void **state)
{
    float v[2][DIM];
    rs_embed_hash("only", DIM, v[0]);
    rs_embed_hash("only", DIM, v[1]);
    wk_rank_cand_t c[2];
    blank(c, 2);
    c[0].vec = v[0];
    c[0].has_output = 0;
    c[1].vec = v[1];
    wk_rank_set_t s = set_of(c, 2);
    assert_int_equal(wk_rank_consensus(&s), 1);
}

/* ---- majority ---- */

static size_t majority(const char *const *answers, size_t n)
{
    wk_rank_cand_t c[8];
    blank(c, n);
    for (size_t k = 0; k < n; k++)
        c[k].answer = answers[k];
    wk_rank_set_t s = set_of(c, n);
    return wk_rank_majority(&s);
}

static void test_majority(void **state)
{
    const char *a[] = {"7", "18", "18", "3"};
    assert_int_equal(majority(a, 4), 1); /* 18 wins; its first occurrence */
    const char *tie[] = {"18", "7", "7", "18"};
    assert_int_equal(majority(tie, 4), 0); /* 2-2: the answer seen first */
    const char *tie2[] = {"5", "7", "9", "9", "7"};
    assert_int_equal(majority(tie2, 5), 1); /* 7 and 9 tie: 7 appeared first */
    const char *single[] = {"1", "2", "3"};
    assert_int_equal(majority(single, 3), 0); /* all once: the first */
}

static void test_majority_missing_answers(void **state)
{
    const char *a[] = {NULL, "4", NULL, "4", "5"};
    assert_int_equal(majority(a, 5), 1); /* NULLs do not vote (2 of them would outvote "4") */
    const char *b[] = {NULL, NULL, "9"};
    assert_int_equal(majority(b, 3), 2);
    const char *none[] = {NULL, NULL};
    assert_int_equal(majority(none, 2), 0); /* nobody voted: candidate 0 */
    const char *caseful[] = {"abc", "ABC", "ABC"};
    assert_int_equal(majority(caseful, 3), 1); /* answers compare byte for byte */
}

/* ---- oracle ---- */

static void test_oracle(void **state)
{
    /* graders across, candidates down */
    static const unsigned char g[3][5] = {{W, E, S, E, W}, {C, E, E, E, S}, {W, W, S, E, E}};
    wk_rank_cand_t c[3];
    blank(c, 3);
    for (int k = 0; k < 3; k++)
        c[k].grades = g[k];
    wk_rank_set_t s = {.cands = c, .n = 3, .n_graders = 5, .dim = DIM};
    unsigned char out[5];
    wk_rank_oracle(&s, out);
    assert_int_equal(out[0], C); /* any correct */
    assert_int_equal(out[1], W); /* no correct, some wrong */
    assert_int_equal(out[2], S); /* neither: skipped over error */
    assert_int_equal(out[3], E); /* all errors */
    assert_int_equal(out[4], W);
}

/* ---- the record's object ---- */

static rs_config_t *config(const char *extra)
{
    char *yaml = rs_xasprintf("dataset: {path: x.jsonl}\n"
                              "models: [{name: a, provider: sim, model: sim-1, n: 3}]\n"
                              "scoring: {graders: [exact, {name: num, type: numeric}]}\n%s",
                              extra);
    rs_err_t err;
    rs_config_t *cfg = rs_config_load_string(yaml, "<test>", NULL, NULL, 0, &err);
    free(yaml);
    if (!cfg) fail_msg("%s", err.msg);
    return cfg;
}

static const char *grade_at(json_t *strategies, const char *name, const char *grader)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(strategies, name), "grades"), grader));
}

static void test_json_all(void **state)
{
    rs_config_t *cfg = config("judges: [{model: a}]\n");
    static const unsigned char g[3][2] = {{W, W}, {C, C}, {C, S}};
    float v[3][DIM];
    const char *answers[] = {"4", "5", "5"};
    wk_rank_cand_t c[3];
    blank(c, 3);
    for (int k = 0; k < 3; k++) {
        rs_embed_hash(answers[k], DIM, v[k]);
        c[k].vec = v[k];
        c[k].answer = answers[k];
        c[k].grades = g[k];
    }
    c[2].judge_score = 1;
    wk_rank_set_t s = {.cands = c, .n = 3, .n_graders = 2, .dim = DIM};
    json_t *o = wk_rank_json(&s, cfg);
    const char *keys[] = {"first", "judge", "consensus", "majority", "oracle"};
    size_t i = 0;
    const char *key;
    json_t *val;
    json_object_foreach(o, key, val) assert_string_equal(key, keys[i++]); /* contract order */
    assert_int_equal(i, 5);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "first"), "k")), 0);
    assert_string_equal(grade_at(o, "first", "exact"), "wrong");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "judge"), "k")), 2);
    assert_string_equal(grade_at(o, "judge", "num"), "skipped");
    json_t *maj = json_object_get(o, "majority");
    assert_int_equal(json_integer_value(json_object_get(maj, "k")), 1);
    assert_string_equal(json_string_value(json_object_get(maj, "answer")), "5");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "consensus"), "k")), 1);
    assert_null(json_object_get(json_object_get(o, "oracle"), "k"));
    assert_string_equal(grade_at(o, "oracle", "exact"), "correct");
    assert_string_equal(grade_at(o, "oracle", "num"), "correct");
    json_decref(o);
    rs_config_destroy(&cfg);
}

static void test_json_subset_and_no_judges(void **state)
{
    rs_config_t *cfg = config("");
    wk_rank_cand_t c[2];
    blank(c, 2);
    static const unsigned char g[2] = {E, E};
    c[0].grades = c[1].grades = g;
    c[0].has_output = c[1].has_output = 0;
    wk_rank_set_t s = {.cands = c, .n = 2, .n_graders = 2, .dim = DIM};
    json_t *o = wk_rank_json(&s, cfg);
    assert_null(json_object_get(o, "judge")); /* no judges: no judge strategy */
    assert_non_null(json_object_get(o, "consensus"));
    json_t *maj = json_object_get(o, "majority");
    assert_true(json_is_null(json_object_get(maj, "answer"))); /* no answers: candidate 0 */
    assert_string_equal(grade_at(o, "oracle", "exact"), "error");
    json_decref(o);
    rs_config_destroy(&cfg);

    cfg = config("ranking: [first, majority]\n");
    o = wk_rank_json(&s, cfg);
    assert_int_equal(json_object_size(o), 2);
    assert_non_null(json_object_get(o, "first"));
    assert_non_null(json_object_get(o, "majority"));
    json_decref(o);
    rs_config_destroy(&cfg);
}

static void test_json_one_candidate(void **state)
{
    rs_config_t *cfg = config("judges: [{model: a}]\n");
    wk_rank_cand_t c[1];
    blank(c, 1);
    static const unsigned char g[2] = {C, W};
    c[0].grades = g;
    wk_rank_set_t s = {.cands = c, .n = 1, .n_graders = 2, .dim = DIM};
    json_t *o = wk_rank_json(&s, cfg);
    assert_int_equal(json_object_size(o), 1); /* the others would all be candidate 0 */
    assert_string_equal(grade_at(o, "first", "exact"), "correct");
    json_decref(o);
    rs_config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_judge_highest_lowest_k),
        cmocka_unit_test(test_judge_unparsed_never_wins),
        cmocka_unit_test(test_consensus_medoid),
        cmocka_unit_test(test_consensus_skips_failed),
        cmocka_unit_test(test_consensus_one),
        cmocka_unit_test(test_majority),
        cmocka_unit_test(test_majority_missing_answers),
        cmocka_unit_test(test_oracle),
        cmocka_unit_test(test_json_all),
        cmocka_unit_test(test_json_subset_and_no_judges),
        cmocka_unit_test(test_json_one_candidate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
