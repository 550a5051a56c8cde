/* sim: the built-in simulated model. Every decision is a hash of (model, case id, candidate,
 * salt) under the seed, so a reply is a pure function of its inputs (docs/SIM.md has the exact
 * definition that the Python tests recompute). The only allocation is the reply text. */
#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack: long keys need no heap */
#include "sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "score.h"

#define SIM_ERROR_TEXT "simulated provider error"
#define SEP '\x1f'

/* ---- draws ---- */

/* Feeds key(salt) up to and including the separator before the salt. */
static void key_start(XXH64_state_t *st, const char *model, const char *case_id, int k,
                      int64_t seed)
{
    static const char sep = SEP;
    char kbuf[RS_I64_TEXT];
    size_t klen = rs_i64_text(k, kbuf);
    XXH64_reset(st, (XXH64_hash_t)(uint64_t)seed);
    XXH64_update(st, model ? model : "", model ? strlen(model) : 0);
    XXH64_update(st, &sep, 1);
    XXH64_update(st, case_id ? case_id : "", case_id ? strlen(case_id) : 0);
    XXH64_update(st, &sep, 1);
    XXH64_update(st, kbuf, klen);
    XXH64_update(st, &sep, 1);
}

uint64_t rs_sim_hash(const char *model, const char *case_id, int k, const char *salt, int64_t seed)
{
    XXH64_state_t st;
    key_start(&st, model, case_id, k, seed);
    XXH64_update(&st, salt, strlen(salt));
    return XXH64_digest(&st);
}

/* the top 53 bits make a double in [0, 1) exactly, never 1.0 */
static double to_unit(uint64_t h)
{
    return (double)(h >> 11) * 0x1.0p-53;
}

double rs_sim_draw(const char *model, const char *case_id, int k, const char *salt, int64_t seed)
{
    return to_unit(rs_sim_hash(model, case_id, k, salt, seed));
}

/* The draws of one judge or revise call: key (model, case id, k) under seed, and salts
 * "<what>:<name>:<round>" ("<what>:<round>" when name is NULL), streamed so that no buffer bounds
 * a judge's name. */
typedef struct call_key {
    const char *model, *case_id;
    int k;
    int64_t seed;
    const char *name;
    int round;
} call_key_t;

static uint64_t call_hash(const call_key_t *ck, const char *what)
{
    char rbuf[16];
    int rlen = snprintf(rbuf, sizeof(rbuf), ":%d", ck->round);
    XXH64_state_t st;
    key_start(&st, ck->model, ck->case_id, ck->k, ck->seed);
    XXH64_update(&st, what, strlen(what));
    if (ck->name) {
        XXH64_update(&st, ":", 1);
        XXH64_update(&st, ck->name, strlen(ck->name));
    }
    XXH64_update(&st, rbuf, (size_t)rlen);
    return XXH64_digest(&st);
}

static double call_draw(const call_key_t *ck, const char *what)
{
    return to_unit(call_hash(ck, what));
}

/* ---- replies ---- */

/* Starts out: latency from draw lat (0 when latency_ms is 0), and a failure (1) iff draw err <
 * error_rate. Every kind of call has these two draws, each under its own salts. */
static int call_fails(const rs_model_cfg_t *m, double lat, double err, rs_sim_reply_t *out)
{
    memset(out, 0, sizeof(*out));
    if (m->latency_ms > 0) out->latency_ms = m->latency_ms * (0.5 + lat);
    if (!(err < m->error_rate)) return 0;
    out->failed = 1;
    out->error = rs_xstrdup(SIM_ERROR_TEXT);
    return 1;
}

/* Input tokens: a quarter of the prompt's bytes, rounded up (a rough but stable estimate);
 * output tokens the same of the text. A failed call bills nothing. */
static void set_text(rs_sim_reply_t *out, char *text, size_t prompt_bytes)
{
    out->text = text;
    out->input_tokens = (int64_t)((prompt_bytes + 3) / 4);
    out->output_tokens = (int64_t)((strlen(text) + 3) / 4);
}

static size_t case_prompt_bytes(const rs_case_t *c)
{
    size_t bytes = 0;
    for (size_t i = 0; i < c->n_msgs; i++)
        if (c->msgs[i].content) bytes += strlen(c->msgs[i].content);
    return bytes;
}

/* An answer as a prefix and a body of body_len bytes, so "not <target>" and an answer inside a
 * previous reply need no copy. */
typedef struct answer {
    const char *prefix, *body;
    size_t body_len;
    char num[RS_NUMBER_BUF]; /* a formatted wrong number, when body points here */
} answer_t;

static void set_answer(answer_t *a, const char *prefix, const char *body, size_t len)
{
    a->prefix = prefix;
    a->body = body;
    a->body_len = len;
}

/* The plausible wrong answer for target from hash h: target + d, d = +-(1 + h % 9), or
 * "not <target>" when the target is no number or t + d prints as t. */
static void wrong_answer(answer_t *a, const char *target, uint64_t h)
{
    double t;
    set_answer(a, "not ", target, strlen(target));
    if (!rs_answer_number(target, &t)) return;
    double d = (double)(1 + h % 9);
    if ((h >> 32) & 1) d = -d;
    char canon_t[RS_NUMBER_BUF];
    rs_format_number(t, canon_t, sizeof(canon_t));
    int n = rs_format_number(t + d, a->num, sizeof(a->num));
    /* beyond 2^53 (or 15 digits) t + d can print as t: fall back to the text form */
    if (strcmp(canon_t, a->num) == 0) return;
    set_answer(a, "", a->num, (size_t)n);
}

/* "[simulated] <head>\nThe answer is <answer>.\n#### <answer>", the answer's body read as
 * "%.*s" reads it (up to a NUL), put together without printf's cost. */
static char *reply_text(const char *head, const answer_t *a)
{
    size_t body = strnlen(a->body, a->body_len);
    rs_buf_t b;
    rs_buf_init(&b);
    rs_buf_reserve(&b, 40 + strlen(head) + 2 * (strlen(a->prefix) + body));
    rs_buf_puts(&b, "[simulated] ");
    rs_buf_puts(&b, head);
    rs_buf_puts(&b, "\nThe answer is ");
    rs_buf_puts(&b, a->prefix);
    rs_buf_append(&b, a->body, body);
    rs_buf_puts(&b, ".\n#### ");
    rs_buf_puts(&b, a->prefix);
    rs_buf_append(&b, a->body, body);
    return rs_buf_detach(&b);
}

static const char *model_name(const rs_model_cfg_t *m)
{
    return m->name ? m->name : m->model;
}

void rs_sim_generate(const rs_model_cfg_t *m, int64_t seed, const rs_case_t *c, int k,
                     rs_sim_reply_t *out)
{
    const char *model = model_name(m);
    double lat = m->latency_ms > 0 ? rs_sim_draw(model, c->id, k, "latency", seed) : 0;
    if (call_fails(m, lat, rs_sim_draw(model, c->id, k, "error", seed), out)) return;
    const char *target = c->n_targets > 0 ? c->targets[0] : NULL;
    answer_t a;
    set_answer(&a, "", target ? target : "42", target ? strlen(target) : 2);
    if (target && !(rs_sim_draw(model, c->id, k, "correct", seed) < m->accuracy))
        wrong_answer(&a, target, rs_sim_hash(model, c->id, k, "wrong", seed));
    set_text(out, reply_text("Working through the problem step by step.", &a),
             case_prompt_bytes(c));
}

/* ---- judging ---- */

#define CRITIQUE_RIGHT                                                                             \
    "[simulated] Critique: Each step follows from the one before, and the final answer answers "   \
    "the question."
#define CRITIQUE_WRONG                                                                             \
    "[simulated] Critique: A step does not follow from the one before, so the final answer "       \
    "cannot be trusted."

/* The simulated verdict: 1 = "correct". */
static int judge_says_correct(const rs_model_cfg_t *jm, const call_key_t *ck,
                              const rs_sim_judge_req_t *req)
{
    int agree = call_draw(ck, "judge") < jm->judge_accuracy;
    int says = agree ? req->cand_correct : !req->cand_correct;
    /* self-preference: a judge of its own wrong answer lets some of them pass anyway */
    if (!says && req->is_self && !req->cand_correct)
        says = call_draw(ck, "selfbias") < jm->self_bias;
    return says;
}

/* The choice standing for "correct" (the highest score) or "wrong" (the lowest); choices are
 * sorted by text, so the first of equals is the smallest text. */
static const char *verdict_choice(const rs_verdict_cfg_t *v, int correct)
{
    size_t best = 0;
    for (size_t i = 1; i < v->n_choices; i++)
        if (correct ? v->choices[i].score > v->choices[best].score
                    : v->choices[i].score < v->choices[best].score)
            best = i;
    return v->n_choices ? v->choices[best].text : (correct ? "Y" : "N");
}

static char *judge_text(const rs_verdict_cfg_t *v, int correct)
{
    const char *critique = correct ? CRITIQUE_RIGHT : CRITIQUE_WRONG;
    if (!v->regex) return rs_xasprintf("%s\nVerdict: %s", critique, verdict_choice(v, correct));
    char num[RS_NUMBER_BUF];
    rs_format_number(correct ? v->max : v->min, num, sizeof(num));
    return rs_xasprintf("%s\nScore: %s", critique, num);
}

void rs_sim_judge(const rs_model_cfg_t *judge_model, int64_t seed, const rs_case_t *c,
                  const rs_judge_cfg_t *j, const rs_sim_judge_req_t *req, rs_sim_reply_t *out)
{
    const call_key_t ck = {req->cand_model, c->id, req->k, seed, j->name, req->round};
    double lat = judge_model->latency_ms > 0 ? call_draw(&ck, "latency:judge") : 0;
    if (call_fails(judge_model, lat, call_draw(&ck, "error:judge"), out)) return;
    int correct = judge_says_correct(judge_model, &ck, req);
    set_text(out, judge_text(&j->verdict, correct), req->prompt_bytes);
}

/* ---- revising ---- */

/* The answer of a previous reply: after its last "#### ", up to the line's end. 0 when none. */
static int previous_answer(const char *text, answer_t *a)
{
    const char *last = NULL;
    for (const char *p = text ? strstr(text, "#### ") : NULL; p; p = strstr(p + 1, "#### "))
        last = p + 5;
    if (!last || !*last || *last == '\n') return 0;
    set_answer(a, "", last, strcspn(last, "\n"));
    return 1;
}

/* What the revision answers: the previous answer unless a fix or a break draw changes it. */
static void revised_answer(const rs_model_cfg_t *m, const call_key_t *ck, const char *target,
                           const rs_sim_revise_req_t *req, answer_t *a)
{
    int change = target && !req->critique_said_correct &&
                 call_draw(ck, req->prev_correct ? "break" : "fix") <
                     (req->prev_correct ? m->break_rate : m->fix_rate);
    if (change && !req->prev_correct) {
        set_answer(a, "", target, strlen(target));
        return;
    }
    if (!change && previous_answer(req->prev_text, a)) return;
    /* a break, or a previous reply without "#### " to keep: the answer its grade says it had */
    if (!target)
        set_answer(a, "", "42", 2);
    else if (req->prev_correct && !change)
        set_answer(a, "", target, strlen(target));
    else
        wrong_answer(a, target, call_hash(ck, "wrong"));
}

void rs_sim_revise(const rs_model_cfg_t *m, int64_t seed, const rs_case_t *c,
                   const rs_sim_revise_req_t *req, rs_sim_reply_t *out)
{
    const call_key_t ck = {model_name(m), c->id, req->k, seed, NULL, req->round};
    double lat = m->latency_ms > 0 ? call_draw(&ck, "latency:revise") : 0;
    if (call_fails(m, lat, call_draw(&ck, "error:revise"), out)) return;
    const char *target = c->n_targets > 0 ? c->targets[0] : NULL;
    answer_t a;
    revised_answer(m, &ck, target, req, &a);
    const char *head = req->critique_said_correct
                           ? "The critique found no mistake; keeping the answer."
                           : "Reworking the problem after the critique.";
    set_text(out, reply_text(head, &a), req->prompt_bytes);
}

void rs_sim_reply_cleanup(rs_sim_reply_t *r)
{
    if (!r) return;
    free(r->text);
    free(r->error);
    memset(r, 0, sizeof(*r));
}
