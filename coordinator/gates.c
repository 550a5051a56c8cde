/* gates: the config's gates measured on a built report, and the run's verdict for CI. */
#include "gates.h"

#include <math.h>
#include <string.h>

#include "cli.h"
#include "jsonget.h"

/* The element of array arr whose "name" is name, or NULL. */
static json_t *by_name(json_t *arr, const char *name)
{
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x) {
        const char *n = json_string_value(json_object_get(x, "name"));
        if (n && name && strcmp(n, name) == 0) return x;
    }
    return NULL;
}

/* The model's McNemar test of strategy against versus (either way round: the p-value is the
 * same), from its mcnemar_pairs; NULL when the report has none. */
static json_t *pair_of(json_t *m, const char *strategy, const char *versus)
{
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(m, "mcnemar_pairs"), i, x) {
        const char *s = json_string_value(json_object_get(x, "strategy"));
        const char *v = json_string_value(json_object_get(x, "versus"));
        if (s && v && ((strcmp(s, strategy) == 0 && strcmp(v, versus) == 0) ||
                       (strcmp(s, versus) == 0 && strcmp(v, strategy) == 0)))
            return x;
    }
    return NULL;
}

/* The report's number the gate measures into *v: 0, or -1 with why (the report has none). */
static int measure(const rs_gate_cfg_t *g, json_t *report, double *v, rs_buf_t *why)
{
    json_t *models = json_object_get(report, "models");
    json_t *m = g->model ? by_name(models, g->model) : NULL, *x = NULL;
    if (g->model && !m)
        return rs_buf_printf(why, "the report has no model '%s'", g->model), -1;
    switch (g->metric) {
    case RS_GATE_ACCURACY:
        x = g->strategy ? by_name(json_object_get(m, "strategies"), g->strategy) : m;
        if (!x) return rs_buf_printf(why, "the report has no strategy '%s'", g->strategy), -1;
        x = json_object_get(by_name(json_object_get(x, "graders"), g->grader), "accuracy");
        if (!json_is_number(x))
            return rs_buf_printf(why, "no case was graded correct or wrong by '%s'", g->grader), -1;
        break;
    case RS_GATE_ERRORS: {
        json_int_t cases = json_integer_value(json_object_get(m, "cases"));
        if (cases <= 0) return rs_buf_puts(why, "the model has no case in the report"), -1;
        *v = (double)json_integer_value(json_object_get(m, "errors")) / (double)cases;
        return 0;
    }
    case RS_GATE_COST_USD: {
        if (m) return *v = json_number_value(json_object_get(m, "cost_usd")), 0;
        size_t i;
        *v = 0;
        json_array_foreach(models, i, x) *v += json_number_value(json_object_get(x, "cost_usd"));
        return 0;
    }
    case RS_GATE_MCNEMAR_P:
        if (g->versus) {
            x = pair_of(m, g->strategy, g->versus);
            if (!x)
                return rs_buf_printf(why, "the report has no McNemar test of '%s' versus '%s'",
                                     g->strategy, g->versus), -1;
            x = json_object_get(x, "exact_p");
            if (!json_is_number(x)) return rs_buf_puts(why, "the report has no McNemar p"), -1;
            break;
        }
        x = by_name(json_object_get(m, "strategies"), g->strategy);
        if (!x) return rs_buf_printf(why, "the report has no strategy '%s'", g->strategy), -1;
        x = json_object_get(json_object_get(x, "mcnemar_vs_first"), "exact_p");
        if (!json_is_number(x)) return rs_buf_puts(why, "the report has no McNemar p"), -1;
        break;
    }
    *v = json_number_value(x);
    return 0;
}

static json_t *opt_string(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *opt_real(double v)
{
    return isnan(v) ? json_null() : json_real(v);
}

static json_t *gate_json(const rs_gate_cfg_t *g, json_t *report)
{
    rs_buf_t why;
    rs_buf_init(&why);
    double v = NAN;
    int known = measure(g, report, &v, &why) == 0;
    int passed = known && !(v < g->min) && !(v > g->max); /* NAN bounds compare false */
    if (known && v < g->min) rs_buf_printf(&why, "%.6g is below the minimum %g", v, g->min);
    if (known && v > g->max) rs_buf_printf(&why, "%.6g is above the maximum %g", v, g->max);
    json_t *o = json_pack("{sssssosososososososbso}", "name", g->name, "metric",
                          rs_gate_metric_name(g->metric), "model", opt_string(g->model), "grader",
                          opt_string(g->grader), "strategy", opt_string(g->strategy), "versus",
                          opt_string(g->versus), "min",
                          opt_real(g->min), "max", opt_real(g->max), "value",
                          known ? json_real(v) : json_null(), "passed", passed, "why",
                          passed ? json_null() : json_string(why.data ? why.data : ""));
    rs_buf_cleanup(&why);
    return o;
}

json_t *coord_gates_eval(const rs_config_t *cfg, json_t *report)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < cfg->n_gates; i++)
        json_array_append_new(arr, gate_json(&cfg->gates[i], report));
    return arr;
}

int coord_gates_mostly_errors(json_t *m, const char **reason, long long *count)
{
    long long cases = json_integer_value(json_object_get(m, "cases"));
    long long errors = json_integer_value(json_object_get(m, "errors"));
    if (errors * 2 <= cases) return 0;
    const char *best = "", *key;
    long long n = 0;
    json_t *v;
    json_object_foreach(json_object_get(m, "errors_by_reason"), key, v) {
        long long c = json_integer_value(v);
        if (c > n || (c == n && strcmp(key, best) < 0)) best = key, n = c;
    }
    if (reason) *reason = best;
    if (count) *count = n;
    return 1;
}

int coord_gates_errors_checked(const rs_config_t *cfg, const char *model)
{
    for (size_t i = 0; i < cfg->n_gates; i++)
        if (cfg->gates[i].metric == RS_GATE_ERRORS && model &&
            strcmp(cfg->gates[i].model, model) == 0)
            return 0;
    return 1;
}

/* What to look at first for the common reasons a whole model fails (worker/http.c's codes). */
static const char *hint(const char *reason)
{
    static const struct {
        const char *reason, *hint;
    } hints[] = {
        {"http_401", "check the key in the model's api_key_env"},
        {"http_403", "check the key in the model's api_key_env and its access to the model"},
        {"http_404", "check the model's base_url and model id"},
        {"connect", "check the model's base_url and that its server is up"},
        {"no_key", "the model's api_key_env is not set in the workers' environment"},
    };
    for (size_t i = 0; i < RS_ARRAY_LEN(hints); i++)
        if (strcmp(hints[i].reason, reason) == 0) return hints[i].hint;
    return NULL;
}

/* One line on err per model that the errors check fails; the count of them. */
static int report_error_models(const rs_config_t *cfg, json_t *report, FILE *err)
{
    size_t i;
    json_t *m;
    int failed = 0;
    rs_buf_t name, why;
    rs_buf_init(&name);
    rs_buf_init(&why);
    json_array_foreach(json_object_get(report, "models"), i, m) {
        const char *reason = "";
        long long n = 0;
        if (!coord_gates_errors_checked(cfg, coord_jstr_or(m, "name", "")) ||
            !coord_gates_mostly_errors(m, &reason, &n))
            continue;
        failed++;
        const char *h = hint(reason);
        fprintf(err, "reasonsaver: model %s: %lld of %lld cases ended in error, most often %s "
                     "(%lld)%s%s\n",
                rs_text_safe_str(&name, coord_jstr_or(m, "name", ""), RS_TEXT_SPACES),
                (long long)json_integer_value(json_object_get(m, "errors")),
                (long long)json_integer_value(json_object_get(m, "cases")),
                rs_text_safe_str(&why, reason, RS_TEXT_SPACES), n, h ? ": " : "", h ? h : "");
    }
    rs_buf_cleanup(&name);
    rs_buf_cleanup(&why);
    return failed;
}

void coord_gates_bounds_text(rs_buf_t *b, json_t *gate)
{
    json_t *min = json_object_get(gate, "min"), *max = json_object_get(gate, "max");
    if (json_is_number(min) && json_is_number(max))
        rs_buf_printf(b, "in [%g, %g]", json_number_value(min), json_number_value(max));
    else if (json_is_number(min))
        rs_buf_printf(b, ">= %g", json_number_value(min));
    else
        rs_buf_printf(b, "<= %g", json_number_value(max));
}

/* One line per gate: failed ones on err with why, passed ones on out (when not NULL). */
static int report_gates(json_t *report, FILE *out, FILE *err)
{
    size_t i;
    json_t *g;
    int failed = 0;
    rs_buf_t name, why;
    rs_buf_init(&name);
    rs_buf_init(&why);
    json_array_foreach(json_object_get(report, "gates"), i, g) {
        rs_text_safe_str(&name, coord_jstr_or(g, "name", ""), RS_TEXT_SPACES);
        if (json_is_true(json_object_get(g, "passed"))) {
            if (out)
                fprintf(out, "gate passed: %s (%.6g)\n", name.data,
                        json_number_value(json_object_get(g, "value")));
            continue;
        }
        failed++;
        fprintf(err, "reasonsaver: gate failed: %s: %s\n", name.data,
                rs_text_safe_str(&why, coord_jstr_or(g, "why", ""), RS_TEXT_SPACES));
    }
    rs_buf_cleanup(&name);
    rs_buf_cleanup(&why);
    return failed;
}

int coord_gates_verdict(const rs_config_t *cfg, json_t *report, FILE *out, FILE *err)
{
    if (out) fflush(out);
    int errors = report_error_models(cfg, report, err);
    int gates = report_gates(report, out, err);
    if (out) fflush(out);
    if (errors) return CLI_RUNTIME;
    return gates ? CLI_GATES : CLI_OK;
}
