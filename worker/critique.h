/* critique: what a judge and a reviser are asked, and what a judge's answer means — the judge and
 * revision prompts rendered from their templates (placeholders as in common/config.h) as chat
 * messages, and a judge's text read into a score by its verdict (common/score.h). No I/O: the
 * chain sends the prompts (worker/chain.c).
 *
 * Rendering: one pass over the template; {{question}}, {{prompt}}, {{answer}}, {{rubric}},
 * {{reference}} (judge) and {{question}}, {{prompt}}, {{answer}}, {{critique}} (revision) are
 * replaced, any other {{...}} is kept as written, and the values put in are never scanned again
 * (an answer that contains "{{reference}}" cannot pull the reference into the prompt). A NULL
 * value is "".
 * - {{question}}: the case's raw input (rs_case_t.input: the dataset's input field as read, before
 *   prompt.template), so a judge sees the question and not the template's instructions. Without
 *   it (a TASK from an older coordinator) it falls back to {{prompt}}.
 * - {{prompt}}: the case's prompt as the model saw it, without system messages: the content of
 *   its one non-system message, or, for a conversation, each such message as "<role>: <content>",
 *   separated by a blank line (rs_chat_text).
 * - {{rubric}}: one "- <principle>" line per principle, "" without a rubric.
 * - {{reference}}: the case's first target when the judge has reference: true, else "".
 * A judge prompt is one user message; a revision prompt is the case's own system messages (the
 * model revises under the instructions it answered under) followed by one user message. */
#ifndef WORKER_CRITIQUE_H
#define WORKER_CRITIQUE_H

#include <stddef.h>

#include "config.h"
#include "dataset.h"
#include "util.h"

/* A rendered prompt: heap messages owned by the struct (wk_prompt_cleanup). */
typedef struct wk_prompt {
    rs_chat_msg_t *msgs;
    size_t n_msgs;
    size_t bytes; /* all message contents together: the sim's input-token estimate */
} wk_prompt_t;

void wk_prompt_cleanup(wk_prompt_t *p);

/* A judge's reading of one answer. */
typedef struct wk_verdict {
    int parsed;         /* 0: the text holds no verdict (or there is no text) */
    double score;       /* in [0, 1]; NaN when !parsed */
    int judged_correct; /* score >= the judge's threshold; 0 when !parsed */
} wk_verdict_t;

/* The config's judges compiled once (their verdict parsers); immutable, shared by every case.
 * cfg must outlive it. */
typedef struct wk_critique wk_critique_t;

/* NULL with err ("judges[1] (strict): ...") when a verdict regex does not compile. */
wk_critique_t *wk_critique_new(const rs_config_t *cfg, rs_err_t *err);
void wk_critique_destroy(wk_critique_t **cq);

/* The prompt of judge j (index into cfg->judges) for answer, a candidate's output, of case c. */
void wk_critique_judge_prompt(const wk_critique_t *cq, size_t j, const rs_case_t *c,
                              const char *answer, wk_prompt_t *out);

/* The revision prompt (revise.template) for answer, given critique, the judge's text. */
void wk_critique_revise_prompt(const wk_critique_t *cq, const rs_case_t *c, const char *answer,
                               const char *critique, wk_prompt_t *out);

/* Reads judge j's text (NULL: the call failed) through its verdict and threshold. */
void wk_critique_verdict(const wk_critique_t *cq, size_t j, const char *text, wk_verdict_t *out);

/* The case's {{question}} and {{prompt}} (see above); heap. */
char *wk_critique_question(const rs_case_t *c);
char *wk_critique_prompt_text(const rs_case_t *c);

#endif
