/* budget: the run's spending limits (budget: {usd, tokens} for the run, models[].budget for one
 * model's calls), kept by the coordinator as it hands out cases.
 *
 * A case goes out only if, for every limit, what was spent (the live usage counters, fed by each
 * RESULT's stats and priced with the models' prices; continued across resumes) plus the upper
 * bound of every case still in flight plus this case's own upper bound stays within it. A case's
 * upper bound is coordinator/estimate.c's count for it: input tokens from its rendered prompts
 * (bytes / 4) with the answers and critiques they quote at max_tokens, max_tokens per answer, at
 * the models' prices. The bounds a task holds are released when its last case is answered or
 * its lease ends. Once a case is refused, no case goes out until the in-flight ones finish and
 * free enough; when none is in flight and it still does not fit, the budget is exhausted: the
 * run stops with status budget_exhausted, having spent at most the limit (if the bounds hold;
 * past it by at most what the approximation missed of the last cases in flight).
 *
 * A limit is the run's total across resumes: `reasonsaver resume RUN_ID --budget-usd X` raises
 * it to X (the budget is not part of the config's identity, resume.h). */
#ifndef COORD_BUDGET_H
#define COORD_BUDGET_H

#include <stdint.h>

#include "config.h"
#include "dataset.h"
#include "usage.h"
#include "util.h"

typedef struct coord_budget coord_budget_t;

/* 1 when cfg sets any limit. */
int coord_budget_enabled(const rs_config_t *cfg);

/* cfg and usage must outlive it. NULL with err when a judge's verdict does not compile. */
coord_budget_t *coord_budget_new(const rs_config_t *cfg, coord_usage_t *usage, rs_err_t *err);
void coord_budget_destroy(coord_budget_t **b);

/* Whether case c (as read for a TASK, input included) may go out now. If so its upper bound is
 * added to what is in flight and to *hold, the bounds of the task it goes in (allocated on first
 * use; give it back with coord_budget_release), and 1 is returned. If not, 0, and the budget is
 * blocked until enough is released. */
int coord_budget_admit(coord_budget_t *b, const rs_case_t *c, double **hold);
/* The task's bounds leave what is in flight; *hold is freed and set to NULL (NULL is fine). */
void coord_budget_release(coord_budget_t *b, double **hold);

/* 0 while a refused case still does not fit, else 1 (then the next admit decides). */
int coord_budget_open(coord_budget_t *b);
/* 1 when a case was refused, none is in flight (in_flight: the dispatcher's count) and it still
 * does not fit: nothing more can go out under these limits. */
int coord_budget_exhausted(coord_budget_t *b, int64_t in_flight);

/* The limit that stopped the run and where it stands. */
typedef struct coord_budget_stop {
    char key[160];       /* the config key: "budget.usd", "models.<name>.budget.tokens" */
    int usd;             /* 1: a cost limit, 0: tokens */
    int model;           /* the model's index, or -1 for the run's limit */
    double limit, spent; /* the limit and what was spent against it */
    double next_case;    /* the refused case's upper bound against it */
} coord_budget_stop_t;

/* Fills out from the last refusal; 0, or -1 when no case was refused. */
int coord_budget_stopped_by(const coord_budget_t *b, coord_budget_stop_t *out);
/* Case c's upper bound against the limit of the last refusal. */
double coord_budget_case_bound(coord_budget_t *b, const rs_case_t *c);
/* What the whole run has spent: tokens and USD over every model and the embedder. */
void coord_budget_spent(const coord_budget_t *b, int64_t *tokens, double *usd);

#endif
