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

uint64_t rs_sim_hash(const char *model, const char *case_id, int k, const char *salt, int64_t seed)
{
    static const char sep = '\x1f';
    char kbuf[16];
    int klen = snprintf(kbuf, sizeof(kbuf), "%d", k);
    XXH64_state_t st;
    XXH64_reset(&st, (XXH64_hash_t)(uint64_t)seed);
    XXH64_update(&st, model ? model : "", model ? strlen(model) : 0);
    XXH64_update(&st, &sep, 1);
    XXH64_update(&st, case_id ? case_id : "", case_id ? strlen(case_id) : 0);
    XXH64_update(&st, &sep, 1);
    XXH64_update(&st, kbuf, (size_t)klen);
    XXH64_update(&st, &sep, 1);
    XXH64_update(&st, salt, strlen(salt));
    return XXH64_digest(&st);
}

double rs_sim_draw(const char *model, const char *case_id, int k, const char *salt, int64_t seed)
{
    /* the top 53 bits make a double in [0, 1) exactly, never 1.0 */
    return (double)(rs_sim_hash(model, case_id, k, salt, seed) >> 11) * 0x1.0p-53;
}

/* Input tokens: a quarter of the prompt's bytes, rounded up (a rough but stable estimate). */
static int64_t prompt_tokens(const rs_case_t *c)
{
    size_t bytes = 0;
    for (size_t i = 0; i < c->n_msgs; i++)
        if (c->msgs[i].content) bytes += strlen(c->msgs[i].content);
    return (int64_t)((bytes + 3) / 4);
}

/* The answer as a prefix and a body, so "not <target>" needs no copy of the target.
 * num has RS_NUMBER_BUF bytes and holds a formatted wrong number when used. */
static void wrong_answer(const char *target, uint64_t h, char *num, const char **prefix,
                         const char **body)
{
    double t;
    *prefix = "not ";
    *body = target;
    if (!rs_answer_number(target, &t)) return;
    double d = (double)(1 + h % 9);
    if ((h >> 32) & 1) d = -d;
    char canon_t[RS_NUMBER_BUF];
    rs_format_number(t, canon_t, sizeof(canon_t));
    rs_format_number(t + d, num, RS_NUMBER_BUF);
    /* beyond 2^53 (or 15 digits) t + d can print as t: fall back to the text form */
    if (strcmp(canon_t, num) == 0) return;
    *prefix = "";
    *body = num;
}

static char *reply_text(const char *prefix, const char *body)
{
    static const char fmt[] =
        "[simulated] Working through the problem step by step.\nThe answer is %s%s.\n#### %s%s";
    int n = snprintf(NULL, 0, fmt, prefix, body, prefix, body);
    char *text = rs_xmalloc((size_t)n + 1);
    snprintf(text, (size_t)n + 1, fmt, prefix, body, prefix, body);
    return text;
}

void rs_sim_generate(const rs_model_cfg_t *m, int64_t seed, const rs_case_t *c, int k,
                     rs_sim_reply_t *out)
{
    const char *model = m->name ? m->name : m->model;
    memset(out, 0, sizeof(*out));
    if (m->latency_ms > 0)
        out->latency_ms = m->latency_ms * (0.5 + rs_sim_draw(model, c->id, k, "latency", seed));
    if (rs_sim_draw(model, c->id, k, "error", seed) < m->error_rate) {
        out->failed = 1;
        out->error = rs_xstrdup(SIM_ERROR_TEXT);
        return;
    }
    const char *target = c->n_targets > 0 ? c->targets[0] : NULL;
    const char *prefix = "", *body = target ? target : "42";
    char num[RS_NUMBER_BUF];
    if (target && !(rs_sim_draw(model, c->id, k, "correct", seed) < m->accuracy))
        wrong_answer(target, rs_sim_hash(model, c->id, k, "wrong", seed), num, &prefix, &body);
    out->text = reply_text(prefix, body);
    out->input_tokens = prompt_tokens(c);
    out->output_tokens = (int64_t)((strlen(out->text) + 3) / 4);
}

void rs_sim_reply_cleanup(rs_sim_reply_t *r)
{
    if (!r) return;
    free(r->text);
    free(r->error);
    memset(r, 0, sizeof(*r));
}
