/* critique: judge and revision prompts from their templates, and judges' verdicts read into
 * scores. Pure functions over the config and the case; the verdict parsers are compiled once. */
#include "critique.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "score.h"

struct wk_critique {
    const rs_config_t *cfg;
    rs_verdict_parser_t **parsers; /* one per judge */
};

/* One placeholder and what replaces it. */
typedef struct fill {
    const char *name; /* without the braces */
    const char *value;
} fill_t;

void wk_prompt_cleanup(wk_prompt_t *p)
{
    for (size_t i = 0; i < p->n_msgs; i++) {
        free(p->msgs[i].role);
        free(p->msgs[i].content);
    }
    free(p->msgs);
    memset(p, 0, sizeof(*p));
}

wk_critique_t *wk_critique_new(const rs_config_t *cfg, rs_err_t *err)
{
    wk_critique_t *cq = rs_xcalloc(1, sizeof(*cq));
    cq->cfg = cfg;
    cq->parsers = rs_xcalloc(cfg->n_judges ? cfg->n_judges : 1, sizeof(*cq->parsers));
    for (size_t j = 0; j < cfg->n_judges; j++) {
        cq->parsers[j] = rs_verdict_parser_new(&cfg->judges[j].verdict, err);
        if (!cq->parsers[j]) {
            rs_err_prefix(err, "judges[%zu] (%s)", j, cfg->judges[j].name);
            wk_critique_destroy(&cq);
            return NULL;
        }
    }
    return cq;
}

void wk_critique_destroy(wk_critique_t **cqp)
{
    if (!cqp || !*cqp) return;
    wk_critique_t *cq = *cqp;
    for (size_t j = 0; j < cq->cfg->n_judges; j++)
        rs_verdict_parser_destroy(&cq->parsers[j]);
    free(cq->parsers);
    free(cq);
    *cqp = NULL;
}

/* The value of placeholder name[0..len), or NULL when it is not one of fills. */
static const fill_t *find_fill(const fill_t *fills, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(fills[i].name) == len && memcmp(fills[i].name, name, len) == 0) return &fills[i];
    return NULL;
}

/* tmpl with every known {{name}} replaced, in one pass (values are not scanned again). Heap. */
static char *fill_template(const char *tmpl, const fill_t *fills, size_t n)
{
    rs_buf_t b;
    rs_buf_init(&b);
    const char *p = tmpl;
    for (const char *open; (open = strstr(p, "{{"));) {
        const char *close = strstr(open + 2, "}}");
        if (!close) break;
        const fill_t *f = find_fill(fills, n, open + 2, (size_t)(close - open - 2));
        /* an unknown name: keep "{{" and look again right after it */
        const char *upto = f ? open : open + 2;
        rs_buf_append(&b, p, (size_t)(upto - p));
        if (f) rs_buf_puts(&b, f->value ? f->value : "");
        p = f ? close + 2 : upto;
    }
    rs_buf_puts(&b, p);
    return rs_buf_detach(&b);
}

static int is_system(const rs_chat_msg_t *m)
{
    return m->role && strcmp(m->role, "system") == 0;
}

char *wk_critique_question(const rs_case_t *c)
{
    return c->input ? rs_xstrdup(c->input) : wk_critique_prompt_text(c);
}

char *wk_critique_prompt_text(const rs_case_t *c)
{
    return rs_chat_text(c->msgs, c->n_msgs);
}

/* "- <principle>" lines; "" without a rubric. Heap. */
static char *rubric_text(char *const *rubric)
{
    rs_buf_t b;
    rs_buf_init(&b);
    for (; rubric && *rubric; rubric++) {
        if (b.len) rs_buf_putc(&b, '\n');
        rs_buf_printf(&b, "- %s", *rubric);
    }
    return rs_buf_detach(&b);
}

static void push_msg(wk_prompt_t *p, const char *role, char *content)
{
    p->msgs = rs_xrealloc(p->msgs, (p->n_msgs + 1) * sizeof(*p->msgs));
    p->msgs[p->n_msgs++] = (rs_chat_msg_t){rs_xstrdup(role), content};
    p->bytes += strlen(content);
}

void wk_critique_judge_prompt(const wk_critique_t *cq, size_t j, const rs_case_t *c,
                              const char *answer, wk_prompt_t *out)
{
    const rs_judge_cfg_t *jc = &cq->cfg->judges[j];
    char *question = wk_critique_question(c), *prompt = wk_critique_prompt_text(c);
    char *rubric = rubric_text(jc->rubric);
    const char *reference = jc->reference && c->n_targets > 0 ? c->targets[0] : "";
    const fill_t fills[] = {{"question", question},
                            {"prompt", prompt},
                            {"answer", answer},
                            {"rubric", rubric},
                            {"reference", reference}};
    memset(out, 0, sizeof(*out));
    push_msg(
        out, "user",
        fill_template(jc->template ? jc->template : RS_JUDGE_TEMPLATE, fills, RS_ARRAY_LEN(fills)));
    free(question);
    free(prompt);
    free(rubric);
}

void wk_critique_revise_prompt(const wk_critique_t *cq, const rs_case_t *c, const char *answer,
                               const char *critique, wk_prompt_t *out)
{
    const rs_revise_cfg_t *r = &cq->cfg->revise;
    char *question = wk_critique_question(c), *prompt = wk_critique_prompt_text(c);
    const fill_t fills[] = {
        {"question", question}, {"prompt", prompt}, {"answer", answer}, {"critique", critique}};
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < c->n_msgs; i++)
        if (is_system(&c->msgs[i]))
            push_msg(out, "system", rs_xstrdup(c->msgs[i].content ? c->msgs[i].content : ""));
    push_msg(
        out, "user",
        fill_template(r->template ? r->template : RS_REVISE_TEMPLATE, fills, RS_ARRAY_LEN(fills)));
    free(question);
    free(prompt);
}

void wk_critique_verdict(const wk_critique_t *cq, size_t j, const char *text, wk_verdict_t *out)
{
    double score = NAN;
    out->parsed = rs_verdict_parse(cq->parsers[j], text, &score);
    out->score = out->parsed ? score : NAN;
    out->judged_correct = out->parsed && score >= cq->cfg->judges[j].threshold;
}
