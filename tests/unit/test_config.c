/* test_config: the config loader: defaults, every kind of error with its exact file:line:column,
 * --set overrides, the JSON round trip, dataset path resolution and the example configs. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

#ifndef RS_SOURCE_DIR
#define RS_SOURCE_DIR "."
#endif

/* The smallest valid config; most tests start from it. */
#define MINIMAL                                                                                    \
    "dataset: {path: d.jsonl}\n"                                                                   \
    "models:\n"                                                                                    \
    "  - {provider: sim, model: m1}\n"

static rs_config_t *load(const char *yaml, const char *const *ov, size_t n, rs_err_t *err)
{
    return rs_config_load_string(yaml, "t.yaml", "/base", ov, n, err);
}

static rs_config_t *load_ok(const char *yaml, const char *const *ov, size_t n)
{
    rs_err_t err = {{0}};
    rs_config_t *cfg = load(yaml, ov, n, &err);
    if (!cfg) fail_msg("unexpected error: %s", err.msg);
    return cfg;
}

/* c written out as JSON and read back: the copy (caller destroys), which writes out the same. */
static rs_config_t *round_trip(const rs_config_t *c)
{
    char *json = rs_config_to_json(c);
    rs_err_t err = {{0}};
    rs_config_t *back = rs_config_from_json(json, &err);
    if (!back) fail_msg("%s", err.msg);
    char *again = rs_config_to_json(back);
    assert_string_equal(json, again);
    free(json);
    free(again);
    return back;
}

/* Loading must fail with exactly the message want. */
static void expect_error(const char *yaml, const char *const *ov, size_t n, const char *want)
{
    rs_err_t err = {{0}};
    rs_config_t *cfg = load(yaml, ov, n, &err);
    if (cfg) {
        rs_config_destroy(&cfg);
        fail_msg("loaded, expected: %s", want);
    }
    assert_string_equal(err.msg, want);
}

static void expect_error1(const char *yaml, const char *override, const char *want)
{
    const char *ov[] = {override};
    expect_error(yaml, ov, 1, want);
}

/* prompts: and epochs: (docs/EXPERIMENTS.md): the variants in order, prompt next to them as
 * "default" when it says anything, the JSON round trip, and every error with its place. */
static void test_prompt_variants(void **state)
{
    (void)state;
    const char *name;
    rs_config_t *c = load_ok(MINIMAL "prompts:\n  - {name: a, template: \"A {{input}}\"}\n"
                                     "  - {name: b, system: S}\nepochs: 4\n",
                             NULL, 0);
    assert_int_equal(rs_config_variants(c), 2);
    assert_string_equal(rs_config_variant(c, 0, &name)->template, "A {{input}}");
    assert_string_equal(name, "a");
    assert_string_equal(rs_config_variant(c, 1, &name)->system, "S");
    assert_string_equal(name, "b");
    assert_int_equal(c->epochs, 4);
    rs_config_t *back = round_trip(c);
    assert_int_equal(rs_config_variants(back), 2);
    assert_int_equal(back->epochs, 4);
    rs_config_destroy(&back);
    rs_config_destroy(&c);
    c = load_ok(MINIMAL "prompt: {system: S0}\nprompts: [{name: a}]\n", NULL, 0);
    assert_int_equal(rs_config_variants(c), 2);
    assert_string_equal(rs_config_variant(c, 0, &name)->system, "S0");
    assert_string_equal(name, RS_PROMPT_DEFAULT_NAME);
    rs_config_variant(c, 1, &name);
    assert_string_equal(name, "a");
    back = round_trip(c);
    assert_int_equal(rs_config_variants(back), 2);
    rs_config_destroy(&back);
    rs_config_destroy(&c);
    c = load_ok(MINIMAL, NULL, 0);
    assert_int_equal(rs_config_variants(c), 1);
    assert_int_equal(c->epochs, 1);
    rs_config_variant(c, 0, &name);
    assert_string_equal(name, RS_PROMPT_DEFAULT_NAME);
    rs_config_destroy(&c);
    expect_error(MINIMAL "prompts: [{template: x}]\n", NULL, 0, "t.yaml:4:12: prompts[0].name: missing (required)");
    expect_error(MINIMAL "prompts: [{name: a}, {name: a}]\n", NULL, 0, "t.yaml:4:29: prompts[1].name: duplicate name 'a' (prompts[0] has it too); each needs its own name, it labels results in reports");
    expect_error(MINIMAL "prompts: [{name: \"two words\"}]\n", NULL, 0, "t.yaml:4:18: prompts[0].name: must be a non-empty word (got \"two words\")");
    expect_error(MINIMAL "prompt: {system: S}\nprompts: [{name: default}]\n", NULL, 0,
                 "t.yaml:5:1: prompts[0].name: 'default' is the name prompt goes by when it is set next to prompts: pick another name, or move prompt into the list");
    expect_error(MINIMAL "epochs: 0\n", NULL, 0, "t.yaml:4:9: epochs: must be between 1 and 100 (got 0)");
    expect_error(MINIMAL "epochs: 101\n", NULL, 0, "t.yaml:4:9: epochs: must be between 1 and 100 (got 101)");
    expect_error1(MINIMAL, "epochs=two", "--set epochs=two: epochs: expected an integer (got 'two')");
}

static void test_defaults(void **state)
{
    rs_config_t *c = load_ok(MINIMAL, NULL, 0);
    assert_string_equal(c->source_path, "t.yaml");
    assert_string_equal(c->base_dir, "/base");
    assert_string_equal(c->run.name, "run");
    assert_int_equal(c->run.seed, 1);
    assert_string_equal(c->run.out_dir, "runs");

    const rs_dataset_cfg_t *d = &c->dataset;
    assert_string_equal(d->path, "d.jsonl");
    assert_int_equal(d->format, RS_FORMAT_JSONL);
    assert_string_equal(d->input_field, "question");
    assert_string_equal(d->target_field, "answer");
    assert_string_equal(d->id_field, "id");
    assert_string_equal(d->tags_field, "tags");
    assert_null(d->target_regex);
    assert_int_equal(d->limit, 0);
    assert_int_equal(d->shard_size, 16);
    assert_int_equal(d->on_error, RS_ON_ERROR_FAIL);

    assert_int_equal(c->n_models, 1);
    const rs_model_cfg_t *m = &c->models[0];
    assert_string_equal(m->name, "m1");
    assert_string_equal(m->provider, "sim");
    assert_string_equal(m->model, "m1");
    assert_null(m->base_url);
    assert_null(m->api_key_env);
    assert_int_equal(m->n, 1);
    /* no request parameter is set: none is sent (the sim still draws from run.seed) */
    assert_true(isnan(m->temperature) && isnan(m->top_p));
    assert_true(isnan(m->presence_penalty) && isnan(m->frequency_penalty));
    assert_int_equal(m->max_tokens, 0);
    assert_int_equal(m->max_completion_tokens, 0);
    assert_int_equal(m->seed, 1);
    assert_int_equal(m->seed_set, 0);
    assert_null(m->stop);
    assert_null(m->reasoning_effort);
    assert_null(m->response_format);
    assert_null(m->thinking_type);
    assert_null(m->extra_body);
    assert_null(m->extra_headers);
    assert_true(m->accuracy == 0.7 && m->latency_ms == 0 && m->error_rate == 0);
    assert_true(m->judge_accuracy == 0.8 && m->self_bias == 0.2);
    assert_true(m->fix_rate == 0.3 && m->break_rate == 0.05);

    /* no critique: no judges, no revision, every strategy but judge, the hash embedder */
    assert_null(c->judges);
    assert_int_equal(c->n_judges, 0);
    assert_int_equal(c->revise.rounds, 0);
    assert_null(c->revise.judge);
    assert_string_equal(c->revise.template, RS_REVISE_TEMPLATE);
    const int *use = c->ranking.use;
    assert_true(use[RS_STRATEGY_FIRST] && !use[RS_STRATEGY_JUDGE] && use[RS_STRATEGY_CONSENSUS] &&
                use[RS_STRATEGY_MAJORITY] && use[RS_STRATEGY_ORACLE]);
    assert_int_equal(c->embedder.type, RS_EMBEDDER_HASH);
    assert_int_equal(c->embedder.dim, 256);
    assert_null(c->embedder.model);
    assert_null(c->embedder.base_url);
    assert_null(c->embedder.api_key_env);
    assert_int_equal(c->embedder.timeout_ms, 60000);

    assert_null(c->prompt.system);
    assert_string_equal(c->prompt.template, "{{input}}");

    assert_int_equal(c->scoring.extractor, RS_EXTRACT_AUTO);
    assert_null(c->scoring.extractor_pattern);
    assert_int_equal(c->scoring.n_graders, 1);
    const rs_grader_cfg_t *g = &c->scoring.graders[0];
    assert_string_equal(g->name, "exact");
    assert_int_equal(g->kind, RS_GRADE_EXACT);
    assert_null(g->pattern);
    assert_true(g->tolerance == 1e-6 && g->rel_tolerance == 0);
    assert_int_equal(g->case_sensitive, 0);
    assert_true(g->threshold == 0);
    assert_null(g->keys);
    assert_null(g->judge);

    const rs_cluster_cfg_t *cl = &c->cluster;
    assert_int_equal(cl->workers, 2);
    assert_string_equal(cl->bind, "tcp://127.0.0.1:*");
    assert_null(cl->redis);
    assert_int_equal(cl->max_in_flight, 4096);
    assert_int_equal(cl->worker_slots, 64);
    assert_int_equal(cl->worker_backlog, 32);
    assert_int_equal(cl->heartbeat_ms, 1000);
    assert_int_equal(cl->lease_ms, 600000);

    assert_true(c->report.json && c->report.markdown && c->report.jsonl && !c->report.html);

    char *p = rs_config_dataset_path(c);
    assert_string_equal(p, "/base/d.jsonl");
    free(p);
    rs_config_destroy(&c);
    assert_null(c);
}

/* Every key set, in an order unlike the tables' (run last: model seeds still default to it). */
static const char FULL[] =
    "dataset:\n"
    "  path: data/x.jsonl\n"
    "  format: jsonl\n"
    "  fields: {input: q, target: a, id: key, tags: labels}\n"
    "  target_regex: \"#### (.*)\"\n"
    "  limit: 10\n"
    "  shard_size: 4\n"
    "  on_error: skip\n"
    "models:\n"
    "  - name: strong\n"
    "    provider: openai\n"
    "    model: gpt-x\n"
    "    base_url: http://localhost:8080/v1\n"
    "    api_key_env: OPENAI_API_KEY\n"
    "    n: 3\n"
    "    params: {temperature: 0.1, top_p: 0.9, max_tokens: 64, seed: 7, stop: [\"\\n\\n\", END],\n"
    "             accuracy: 0.3, latency_ms: 12.5, error_rate: 0.25}\n"
    "  - provider: sim\n"
    "    model: sim-1\n"
    "    params: {stop: \"###\"}\n"
    "prompt:\n"
    "  system: Be brief.\n"
    "  template: \"Q: {{input}}\\nA:\"\n"
    "scoring:\n"
    "  extractor: {type: regex, pattern: \"answer: (\\\\d+)\"}\n"
    "  graders:\n"
    "    - includes\n"
    "    - {name: num, type: numeric, tolerance: 0.01, rel_tolerance: 0.001}\n"
    "    - {type: regex, pattern: \"^4\\\\d$\", case_sensitive: true}\n"
    "cluster: {workers: 0, bind: \"tcp://0.0.0.0:5555\", redis: \"redis://127.0.0.1:6379/0\",\n"
    "          max_in_flight: 100, worker_slots: 8, worker_backlog: 0, heartbeat_ms: 250,\n"
    "          lease_ms: 5000}\n"
    "report: {formats: [html, json]}\n"
    "run: {name: full, seed: 42, out_dir: /tmp/runs}\n";

static void test_full_config(void **state)
{
    rs_config_t *c = load_ok(FULL, NULL, 0);
    assert_string_equal(c->run.name, "full");
    assert_int_equal(c->run.seed, 42);
    assert_string_equal(c->run.out_dir, "/tmp/runs");
    const rs_dataset_cfg_t *d = &c->dataset;
    assert_string_equal(d->input_field, "q");
    assert_string_equal(d->target_field, "a");
    assert_string_equal(d->id_field, "key");
    assert_string_equal(d->tags_field, "labels");
    assert_string_equal(d->target_regex, "#### (.*)");
    assert_int_equal(d->limit, 10);
    assert_int_equal(d->shard_size, 4);
    assert_int_equal(d->on_error, RS_ON_ERROR_SKIP);

    assert_int_equal(c->n_models, 2);
    const rs_model_cfg_t *m = &c->models[0];
    assert_string_equal(m->name, "strong");
    assert_string_equal(m->provider, "openai");
    assert_string_equal(m->base_url, "http://localhost:8080/v1");
    assert_string_equal(m->api_key_env, "OPENAI_API_KEY");
    assert_int_equal(m->n, 3);
    assert_true(m->temperature == 0.1 && m->top_p == 0.9);
    assert_int_equal(m->max_tokens, 64);
    assert_int_equal(m->seed, 7);
    assert_string_equal(m->stop[0], "\n\n");
    assert_string_equal(m->stop[1], "END");
    assert_null(m->stop[2]);
    assert_true(m->accuracy == 0.3 && m->latency_ms == 12.5 && m->error_rate == 0.25);
    m = &c->models[1];
    assert_string_equal(m->name, "sim-1");
    assert_int_equal(m->seed, 42); /* run.seed, although run comes later in the file */
    assert_string_equal(m->stop[0], "###");
    assert_null(m->stop[1]);

    assert_string_equal(c->prompt.system, "Be brief.");
    assert_string_equal(c->prompt.template, "Q: {{input}}\nA:");
    assert_int_equal(c->scoring.extractor, RS_EXTRACT_REGEX);
    assert_string_equal(c->scoring.extractor_pattern, "answer: (\\d+)");
    assert_int_equal(c->scoring.n_graders, 3);
    const rs_grader_cfg_t *g = c->scoring.graders;
    assert_string_equal(g[0].name, "includes");
    assert_int_equal(g[0].kind, RS_GRADE_INCLUDES);
    assert_string_equal(g[1].name, "num");
    assert_int_equal(g[1].kind, RS_GRADE_NUMERIC);
    assert_true(g[1].tolerance == 0.01 && g[1].rel_tolerance == 0.001);
    assert_string_equal(g[2].name, "regex");
    assert_string_equal(g[2].pattern, "^4\\d$");
    assert_int_equal(g[2].case_sensitive, 1);

    const rs_cluster_cfg_t *cl = &c->cluster;
    assert_int_equal(cl->workers, 0);
    assert_string_equal(cl->bind, "tcp://0.0.0.0:5555");
    assert_string_equal(cl->redis, "redis://127.0.0.1:6379/0");
    assert_int_equal(cl->max_in_flight, 100);
    assert_int_equal(cl->worker_slots, 8);
    assert_int_equal(cl->worker_backlog, 0);
    assert_int_equal(cl->heartbeat_ms, 250);
    assert_int_equal(cl->lease_ms, 5000);
    assert_true(c->report.html && c->report.json && !c->report.markdown && !c->report.jsonl);
    rs_config_destroy(&c);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Exec graders (docs/GRADERS.md): defaults, the program resolved against the config's directory
 * (a bare name left for PATH), round trip, and the mistakes: no command, an exec key on another
 * kind, an env entry that is no variable name. */
static void test_exec_grader(void **state)
{
    (void)state;
    rs_config_t *c = load_ok(MINIMAL "scoring:\n  graders:\n"
                             "    - {name: t, type: exec, command: [./check.py, --fast], env: [HOME]}\n"
                             "    - {type: exec, command: python3, timeout_ms: 50, memory_mb: 0}\n",
                             NULL, 0);
    const rs_grader_cfg_t *g = c->scoring.graders;
    assert_int_equal(g[0].kind, RS_GRADE_EXEC);
    assert_string_equal(g[0].command[0], "/base/check.py");
    assert_string_equal(g[0].command[1], "--fast");
    assert_null(g[0].command[2]);
    assert_int_equal(g[0].concurrency, 4);
    assert_int_equal(g[0].timeout_ms, 10000);
    assert_int_equal(g[0].memory_mb, 2048);
    assert_int_equal(g[0].cpu_seconds, 3600);
    assert_string_equal(g[0].env[0], "HOME");
    assert_string_equal(g[1].name, "exec");
    assert_string_equal(g[1].command[0], "python3");
    assert_int_equal(g[1].timeout_ms, 50);
    assert_int_equal(g[1].memory_mb, 0);
    char *json = rs_config_to_json(c);
    rs_err_t err;
    rs_config_t *back = rs_config_from_json(json, &err);
    if (!back) fail_msg("%s", err.msg);
    assert_string_equal(back->scoring.graders[0].command[0], "/base/check.py");
    char *again = rs_config_to_json(back);
    assert_string_equal(json, again);
    free(json);
    free(again);
    rs_config_destroy(&back);
    rs_config_destroy(&c);

    expect_error(MINIMAL "scoring:\n  graders: [{type: exec}]\n", NULL, 0,
                 "t.yaml:5:14: scoring.graders[0].command: missing (an exec grader runs a command: "
                 "a list like [python3, check.py])");
    expect_error(MINIMAL "scoring:\n  graders: [{type: exact, timeout_ms: 5}]\n", NULL, 0,
                 "t.yaml:5:39: scoring.graders[0].timeout_ms: only exec graders use timeout_ms; "
                 "add type: exec");
    expect_error(MINIMAL "scoring:\n  graders: [{type: exact, command: [x]}]\n", NULL, 0,
                 "t.yaml:5:27: scoring.graders[0].command: only exec graders use command; "
                 "add type: exec");
    expect_error(MINIMAL "scoring:\n  graders: [{type: exec, command: [x], env: [\"A=B\"]}]\n",
                 NULL, 0,
                 "t.yaml:5:40: scoring.graders[0].env: 'A=B' is not the name of an environment "
                 "variable (letters, digits and _; the grader gets the worker's value of each "
                 "name listed)");
}

static void test_example_configs(void **state)
{
    rs_err_t err = {{0}};
    rs_config_t *c = rs_config_load(RS_SOURCE_DIR "/configs/demo.yaml", NULL, 0, &err);
    if (!c) fail_msg("%s", err.msg);
    assert_string_equal(c->run.name, "demo");
    assert_int_equal(c->n_models, 2);
    assert_string_equal(c->models[0].name, "sim-strong");
    assert_true(c->models[0].accuracy == 0.85 && c->models[1].accuracy == 0.55);
    assert_int_equal(c->scoring.n_graders, 2);
    assert_int_equal(c->scoring.graders[1].kind, RS_GRADE_NUMERIC);
    assert_int_equal(c->cluster.workers, 2);
    char *p = rs_config_dataset_path(c);
    assert_true(p[0] == '/' && ends_with(p, "datasets/demo.jsonl"));
    free(p);
    rs_config_destroy(&c);

    c = rs_config_load(RS_SOURCE_DIR "/configs/gsm8k.yaml", NULL, 0, &err);
    if (!c) fail_msg("%s", err.msg);
    assert_string_equal(c->dataset.target_regex, "#### (.*)");
    assert_string_equal(c->models[0].provider, "sim");
    p = rs_config_dataset_path(c);
    assert_true(p[0] == '/' && ends_with(p, "shared/data/gsm8k/test.jsonl"));
    free(p);
    rs_config_destroy(&c);

    c = rs_config_load(RS_SOURCE_DIR "/configs/self-critique.yaml", NULL, 0, &err);
    if (!c) fail_msg("%s", err.msg);
    assert_int_equal(c->n_judges, 2);
    assert_int_equal(c->revise.rounds, 1);
    assert_int_equal(c->revise.judge_idx, 0);
    assert_int_equal(c->models[1].n, 4);
    assert_true(c->ranking.use[RS_STRATEGY_CONSENSUS] && c->ranking.use[RS_STRATEGY_ORACLE]);
    assert_int_equal(c->scoring.graders[1].kind, RS_GRADE_JUDGE);
    rs_config_destroy(&c);

    c = rs_config_load(RS_SOURCE_DIR "/configs/graders/humaneval.yaml", NULL, 0, &err);
    if (!c) fail_msg("%s", err.msg);
    assert_int_equal(c->scoring.graders[0].kind, RS_GRADE_EXEC);
    assert_true(ends_with(c->scoring.graders[0].command[0], "configs/graders/humaneval_check.py"));
    rs_config_destroy(&c);
    c = rs_config_load(RS_SOURCE_DIR "/configs/graders/tolerance.yaml", NULL, 0, &err);
    if (!c) fail_msg("%s", err.msg);
    assert_int_equal(c->scoring.graders[1].kind, RS_GRADE_EXEC);
    rs_config_destroy(&c);
}

static void test_unknown_key_suggestion(void **state)
{
    expect_error("dataset: {path: d.jsonl}\n"
                 "models:\n"
                 "  - provider: sim\n"
                 "    model: m1\n"
                 "    params:\n"
                 "      temprature: 0.5\n",
                 NULL, 0,
                 "t.yaml:6:7: models[0].params.temprature: unknown key; did you mean "
                 "'temperature'?");
    expect_error("datset: {path: d.jsonl}\n", NULL, 0,
                 "t.yaml:1:1: datset: unknown key; did you mean 'dataset'?");
}

/* A key one level too high is found in the section below it. */
static void test_unknown_key_misplaced(void **state)
{
    expect_error("dataset: {path: d.jsonl}\n"
                 "models:\n"
                 "  - provider: sim\n"
                 "    model: m1\n"
                 "    temperature: 0.5\n",
                 NULL, 0,
                 "t.yaml:5:5: models[0].temperature: unknown key; did you mean "
                 "'params.temperature'?");
}

static void test_unknown_key_lists_known(void **state)
{
    expect_error(MINIMAL "cluster: {zzz: 1}\n", NULL, 0,
                 "t.yaml:4:11: cluster.zzz: unknown key (known here: workers, bind, redis, "
                 "redis_password_env, redis_tls, max_in_flight, worker_slots, worker_backlog, "
                 "heartbeat_ms, lease_ms, metrics_bind, max_response_bytes, max_rejects_per_minute, curve)");
}

static void test_wrong_types(void **state)
{
    /* a word where an integer belongs: points at the value */
    expect_error("dataset: {path: d.jsonl, limit: abc}\n", NULL, 0,
                 "t.yaml:1:33: dataset.limit: expected an integer (got 'abc')");
    expect_error("dataset: {path: d.jsonl, limit: 1.5}\n", NULL, 0,
                 "t.yaml:1:33: dataset.limit: expected an integer (got '1.5')");
    /* a quoted number is a string; the column is the opening quote's */
    expect_error("dataset: {path: d.jsonl, limit: \"5\"}\n", NULL, 0,
                 "t.yaml:1:33: dataset.limit: expected an integer (got the quoted string \"5\")");
    /* a list where a mapping belongs: points at the key */
    expect_error(MINIMAL "run: [1, 2]\n", NULL, 0,
                 "t.yaml:4:1: run: expected a mapping (got a list)");
    expect_error(MINIMAL "prompt: hello\n", NULL, 0,
                 "t.yaml:4:9: prompt: expected a mapping (got a scalar)");
    expect_error("dataset: {path: d.jsonl}\nmodels: {provider: sim}\n", NULL, 0,
                 "t.yaml:2:1: models: expected a list (got a mapping)");
    expect_error(MINIMAL "prompt:\n  system: [a]\n", NULL, 0,
                 "t.yaml:5:3: prompt.system: expected a string (got a list)");
    expect_error(MINIMAL "scoring:\n  graders: [{type: exact, case_sensitive: maybe}]\n", NULL, 0,
                 "t.yaml:5:43: scoring.graders[0].case_sensitive: expected true or false (got "
                 "'maybe')");
    expect_error(MINIMAL "dataset: {path: d.jsonl}\n", NULL, 0,
                 "t.yaml:4:1: YAML syntax error: duplicate key");
}

static void test_out_of_range(void **state)
{
    expect_error("dataset: {path: d.jsonl}\n"
                 "models:\n"
                 "  - provider: sim\n"
                 "    model: m1\n"
                 "    params: {accuracy: 1.5}\n",
                 NULL, 0,
                 "t.yaml:5:24: models[0].params.accuracy: must be between 0 and 1 (got 1.5)");
    expect_error("dataset: {path: d.jsonl}\n"
                 "models:\n"
                 "  - {provider: sim, model: m1, n: 0}\n",
                 NULL, 0, "t.yaml:3:35: models[0].n: must be between 1 and 1000 (got 0)");
    expect_error("dataset: {path: d.jsonl, shard_size: 0}\nmodels: [{provider: sim, model: m}]\n",
                 NULL, 0, "t.yaml:1:38: dataset.shard_size: must be at least 1 (got 0)");
    expect_error(MINIMAL "cluster:\n  workers: -1\n", NULL, 0,
                 "t.yaml:5:12: cluster.workers: must be between 0 and 4096 (got -1)");
    expect_error(MINIMAL "cluster:\n  heartbeat_ms: 0\n", NULL, 0,
                 "t.yaml:5:17: cluster.heartbeat_ms: must be at least 1 (got 0)");
    expect_error(MINIMAL "cluster:\n  max_response_bytes: 100\n", NULL, 0,
                 "t.yaml:5:23: cluster.max_response_bytes: must be between 1024 and 67108864 "
                 "(got 100)");
}

static void test_lease_after_heartbeat(void **state)
{
    expect_error(MINIMAL "cluster:\n  heartbeat_ms: 1000\n  lease_ms: 500\n", NULL, 0,
                 "t.yaml:6:13: cluster.lease_ms: must be greater than heartbeat_ms (500 <= 1000): "
                 "a lease shorter than a heartbeat expires while its worker is healthy");
    /* the default lease (600000) against a long heartbeat: points at the heartbeat */
    expect_error(MINIMAL "cluster:\n  heartbeat_ms: 600000\n", NULL, 0,
                 "t.yaml:5:17: cluster.lease_ms: must be greater than heartbeat_ms (600000 <= "
                 "600000): a lease shorter than a heartbeat expires while its worker is healthy");
}

static void test_missing_dataset(void **state)
{
    const char *models = "models:\n  - {provider: sim, model: m1}\n";
    char yaml[256];
    snprintf(yaml, sizeof(yaml), "%sdataset:\n  format: jsonl\n", models);
    expect_error(yaml, NULL, 0, "t.yaml:3:1: dataset.path: missing (required)");
    expect_error(models, NULL, 0, "t.yaml: dataset.path: missing (required)");
    snprintf(yaml, sizeof(yaml), "%sdataset: {path: ''}\n", models);
    expect_error(yaml, NULL, 0, "t.yaml:3:17: dataset.path: must not be empty");
}

static void test_no_models(void **state)
{
    expect_error("dataset: {path: d.jsonl}\nmodels: []\n", NULL, 0,
                 "t.yaml:2:1: models: must not be empty");
    expect_error("dataset: {path: d.jsonl}\n", NULL, 0, "t.yaml: models: missing (required)");
    expect_error("dataset: {path: d.jsonl}\nmodels:\n", NULL, 0,
                 "t.yaml:2:1: models: missing (required)");
    expect_error("dataset: {path: d.jsonl}\nmodels:\n  - {provider: sim}\n", NULL, 0,
                 "t.yaml:3:6: models[0].model: missing (required)");
}

static void test_bad_provider(void **state)
{
    expect_error("dataset: {path: d.jsonl}\nmodels:\n  - {provider: opnai, model: m1}\n", NULL, 0,
                 "t.yaml:3:16: models[0].provider: 'opnai' is not one of sim, openai, anthropic; "
                 "did you mean 'openai'?");
    expect_error("dataset: {path: d.jsonl}\nmodels:\n  - {provider: llama, model: m1}\n", NULL, 0,
                 "t.yaml:3:16: models[0].provider: 'llama' is not one of sim, openai, anthropic");
    /* no default provider: a forgotten one must not silently become the simulator */
    expect_error("dataset: {path: d.jsonl}\nmodels:\n  - {model: m1}\n", NULL, 0,
                 "t.yaml:3:6: models[0].provider: missing (required)");
    expect_error(
        "dataset: {path: d.jsonl}\nmodels:\n  - {provider: openai, model: m, base_url: x.com}\n",
        NULL, 0,
        "t.yaml:3:44: models[0].base_url: must start with http:// or https:// (got 'x.com')");
}

static void test_duplicate_model_name(void **state)
{
    expect_error("dataset: {path: d.jsonl}\n"
                 "models:\n"
                 "  - {name: a, provider: sim, model: m1}\n"
                 "  - {name: a, provider: sim, model: m2}\n",
                 NULL, 0,
                 "t.yaml:4:12: models[1].name: duplicate name 'a' (models[0] has it too); each "
                 "needs its own name, it labels results in reports");
    /* names default to the model id, so two unnamed copies of one model collide too */
    expect_error("dataset: {path: d.jsonl}\n"
                 "models:\n"
                 "  - {provider: sim, model: m1}\n"
                 "  - {provider: sim, model: m1}\n",
                 NULL, 0,
                 "t.yaml:4:6: models[1].name: duplicate name 'm1' (models[0] has it too); each "
                 "needs its own name, it labels results in reports");
}

static void test_bad_grader_type(void **state)
{
    expect_error(MINIMAL "scoring:\n  graders: [exact, numerc]\n", NULL, 0,
                 "t.yaml:5:20: scoring.graders[1].type: 'numerc' is not one of exact, includes, "
                 "regex, numeric, fuzzy, json_match, judge, embed_sim, exec; did you mean 'numeric'?");
    expect_error(MINIMAL "scoring:\n  graders:\n    - {name: f, type: bleu}\n", NULL, 0,
                 "t.yaml:6:23: scoring.graders[0].type: 'bleu' is not one of exact, includes, "
                 "regex, numeric, fuzzy, json_match, judge, embed_sim, exec");
    expect_error(MINIMAL "scoring:\n  graders: [exact, exact]\n", NULL, 0,
                 "t.yaml:5:20: scoring.graders[1].name: duplicate name 'exact' (scoring.graders[0] "
                 "has it too); each needs its own name, it labels results in reports");
    expect_error(MINIMAL "scoring:\n  graders: [{type: numeric, tolerance: -1}]\n", NULL, 0,
                 "t.yaml:5:40: scoring.graders[0].tolerance: must be at least 0 (got -1)");
}

static void test_bad_extractor(void **state)
{
    expect_error(MINIMAL "scoring: {extractor: lastnumber}\n", NULL, 0,
                 "t.yaml:4:22: scoring.extractor.type: 'lastnumber' is not one of auto, "
                 "last_number, regex, hashes, answer, none; did you mean 'last_number'?");
    expect_error(MINIMAL "scoring: {extractor: regex}\n", NULL, 0,
                 "t.yaml:4:22: scoring.extractor.pattern: missing (the regex extractor needs a "
                 "pattern)");
    expect_error(MINIMAL "scoring:\n  extractor: {pattern: \"(\\\\d+)\"}\n", NULL, 0,
                 "t.yaml:5:24: scoring.extractor.pattern: only the regex extractor uses a "
                 "pattern; add type: regex");
    expect_error(MINIMAL "scoring:\n  extractor: {type: regex, pattern: \"(\"}\n", NULL, 0,
                 "t.yaml:5:37: scoring.extractor.pattern: bad regex '(' at offset 1: missing "
                 "closing parenthesis");
}

/* dataset.format auto is resolved from the path when the config loads, so the stored config names
 * what was read; an explicit format stays; an unknown extension is JSONL, as before. */
static void test_dataset_format_auto(void **state)
{
    static const struct {
        const char *path, *format;
        rs_dataset_format_t want;
    } cases[] = {{"d.jsonl", NULL, RS_FORMAT_JSONL},   {"d.csv.gz", NULL, RS_FORMAT_CSV},
                 {"d.TSV.zst", "auto", RS_FORMAT_TSV}, {"d.json", NULL, RS_FORMAT_JSON},
                 {"d.txt", NULL, RS_FORMAT_JSONL},     {"hf-folder", NULL, RS_FORMAT_JSONL},
                 {"d.csv", "jsonl", RS_FORMAT_JSONL},  {"d.jsonl.gz", "evals", RS_FORMAT_EVALS}};
    for (size_t i = 0; i < RS_ARRAY_LEN(cases); i++) {
        char *yaml = rs_xasprintf("dataset: {path: %s%s%s}\nmodels: [{provider: sim, model: m}]\n",
                                  cases[i].path, cases[i].format ? ", format: " : "",
                                  cases[i].format ? cases[i].format : "");
        rs_config_t *cfg = load_ok(yaml, NULL, 0);
        assert_int_equal(cfg->dataset.format, cases[i].want);
        static const char *const names[] = {"jsonl", "evals", "csv", "tsv", "json"};
        char *json = rs_config_to_json(cfg);
        json_t *root = json_loads(json, 0, NULL);
        const char *stored = json_string_value(
            json_object_get(json_object_get(root, "dataset"), "format"));
        assert_string_equal(stored, names[cases[i].want]);
        json_decref(root);
        free(json);
        rs_config_destroy(&cfg);
        free(yaml);
    }
    const char *ov[] = {"dataset.path=x.csv", "dataset.split=validation"};
    rs_config_t *cfg = load_ok(MINIMAL, ov, 2);
    assert_int_equal(cfg->dataset.format, RS_FORMAT_CSV);
    assert_string_equal(cfg->dataset.split, "validation");
    rs_config_destroy(&cfg);
}

static void test_bad_enums(void **state)
{
    expect_error("dataset: {path: d.jsonl, format: parquet}\n", NULL, 0,
                 "t.yaml:1:34: dataset.format: 'parquet' is not one of jsonl, evals, csv, tsv, json, hf, "
                 "auto");
    expect_error("dataset: {path: d.jsonl, on_error: Skip}\n", NULL, 0,
                 "t.yaml:1:36: dataset.on_error: 'Skip' is not one of fail, skip; did you mean "
                 "'skip'?");
    expect_error(MINIMAL "report: {formats: [json, pdf]}\n", NULL, 0,
                 "t.yaml:4:26: report.formats[1]: 'pdf' is not one of json, markdown, html, "
                 "jsonl");
    expect_error(MINIMAL "report: {formats: []}\n", NULL, 0,
                 "t.yaml:4:10: report.formats: must name at least one format");
}

static void test_yaml_syntax_error(void **state)
{
    /* the position is libfyaml's; only the wording after it is left to the library */
    rs_err_t err = {{0}};
    rs_config_t *c = load("dataset: {path: d.jsonl\nmodels: []\n", NULL, 0, &err);
    assert_null(c);
    const char *want = "t.yaml:2:7: YAML syntax error: ";
    if (strncmp(err.msg, want, strlen(want)) != 0) fail_msg("got: %s", err.msg);
    expect_error("- a\n- b\n", NULL, 0,
                 "t.yaml:1:3: expected a mapping of sections (dataset, models, ...), got a list");
    expect_error("", NULL, 0, "t.yaml: dataset.path: missing (required)");
    expect_error("# nothing but a comment\n", NULL, 0, "t.yaml: dataset.path: missing (required)");
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_config: the YAML loader hung (5 s)\n";
    (void)!write(2, msg, sizeof(msg) - 1);
    _exit(1);
}

/* Invalid UTF-8 is refused with its position before libfyaml sees it: Debian's libfyaml 0.7.12
 * loops forever on a directive holding one (found by fuzz_config,
 * tests/fuzz/regressions/config/hang-directive-invalid-utf8). An alarm turns a hang into a failure. */
static void test_invalid_utf8(void **state)
{
    signal(SIGALRM, on_alarm);
    alarm(5);
    expect_error("%\xb5", NULL, 0, "t.yaml:1:2: not valid UTF-8 (byte 0xb5): a config is UTF-8 text");
    expect_error(MINIMAL "run: {name: \"caf\xc3\"}\n", NULL, 0,
                 "t.yaml:4:17: not valid UTF-8 (byte 0xc3): a config is UTF-8 text");
    expect_error(MINIMAL "run: {name: \xed\xa0\x80}\n", NULL, 0, /* a surrogate */
                 "t.yaml:4:13: not valid UTF-8 (byte 0xed): a config is UTF-8 text");
    expect_error(MINIMAL "run: {name: \xc0\xaf}\n", NULL, 0, /* an overlong '/' */
                 "t.yaml:4:13: not valid UTF-8 (byte 0xc0): a config is UTF-8 text");
    alarm(0);
    rs_config_t *c = load_ok(MINIMAL "run: {name: \"Grüße 世界 \xf0\x9f\x98\x80\"}\n", NULL, 0);
    assert_string_equal(c->run.name, "Grüße 世界 \xf0\x9f\x98\x80");
    rs_config_destroy(&c);
}

/* A config whose aliases expand past 100,000 values, or nest deeper than 64 levels (an alias of
 * itself), is refused before libfyaml resolves it: nine lines of anchors (an "alias bomb",
 * tests/fuzz/regressions/config/oom-alias-bomb) took 2 GB and 30 s before, and a worker loads the
 * spec a coordinator sends through this loader.
 * Aliases and merge keys within the bounds work as before. */
static void test_yaml_bounds(void **state)
{
    rs_buf_t b;
    rs_buf_init(&b);
    rs_buf_puts(&b, MINIMAL "x0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 6; i++) { /* 10^6 values: cheap to build, ten times the bound */
        rs_buf_printf(&b, "x%d: &a%d [", i, i);
        for (int k = 0; k < 10; k++) rs_buf_printf(&b, "%s*a%d", k ? ", " : "", i - 1);
        rs_buf_puts(&b, "]\n");
    }
    rs_err_t err = {{0}};
    rs_config_t *c = load(b.data, NULL, 0, &err);
    assert_null(c);
    const char *want = "the YAML nests deeper than 64 levels or, its aliases expanded, holds "
                       "more than 100000 values";
    if (strncmp(err.msg, "t.yaml:", 7) != 0 || !strstr(err.msg, want)) fail_msg("got: %s", err.msg);
    rs_buf_cleanup(&b);
    expect_error(MINIMAL "x: &a [*a]\n", NULL, 0, "t.yaml:4:9: the YAML nests deeper than 64 "
                 "levels or, its aliases expanded, holds more than 100000 values");

    c = load_ok("dataset: {path: d.jsonl}\n"
                "models:\n  - &m {provider: sim, model: m1, params: {accuracy: 0.25}}\n"
                "  - <<: *m\n    name: two\n", NULL, 0);
    assert_int_equal(c->n_models, 2);
    assert_string_equal(c->models[1].name, "two");
    assert_string_equal(c->models[1].model, "m1");
    assert_float_equal(c->models[1].accuracy, 0.25, 0);
    rs_config_destroy(&c);
}

/* The config holds the name of the variable with the key; the key itself never gets in. */
static void test_api_key_env(void **state)
{
    setenv("RS_TEST_API_KEY", "sk-very-secret", 1);
    rs_config_t *c =
        load_ok("dataset: {path: d.jsonl}\n"
                "models: [{provider: openai, model: m, api_key_env: RS_TEST_API_KEY}]\n",
                NULL, 0);
    char *json = rs_config_to_json(c);
    assert_non_null(strstr(json, "\"api_key_env\": \"RS_TEST_API_KEY\""));
    assert_null(strstr(json, "sk-very-secret"));
    free(json);
    rs_config_destroy(&c);

    /* a pasted key is refused, and the message does not repeat it */
    rs_err_t err = {{0}};
    c = load("dataset: {path: d.jsonl}\n"
             "models: [{provider: openai, model: m, api_key_env: sk-proj-abc123}]\n",
             NULL, 0, &err);
    assert_null(c);
    assert_string_equal(err.msg, "t.yaml:2:52: models[0].api_key_env: must be the name of an "
                                 "environment variable holding the key (like OPENAI_API_KEY), "
                                 "never the key itself");
    assert_null(strstr(err.msg, "abc123"));
}

/* cluster.redis goes through the one address parser: a password in it is refused, and neither
 * the message nor the --set text it quotes shows the password. */
static void test_redis_url_password_refused(void **state)
{
    rs_err_t err = {{0}};
    rs_config_t *c = load(MINIMAL "cluster: {redis: \"redis://rs:Zq9secret@h:6379/0\"}\n", NULL, 0,
                          &err);
    assert_null(c);
    assert_non_null(strstr(err.msg, "t.yaml:4:18: cluster.redis: redis address "
                                    "'redis://rs:***@h:6379/0': a password in the address is refused"));
    assert_non_null(strstr(err.msg, "REDIS_PASSWORD"));
    assert_null(strstr(err.msg, "Zq9secret"));
    const char *ov[] = {"cluster.redis=redis://:Zq9secret@h"};
    c = load(MINIMAL, ov, 1, &err);
    assert_null(c);
    assert_non_null(strstr(err.msg, "--set cluster.redis=redis://:***@h: cluster.redis: "));
    assert_null(strstr(err.msg, "Zq9secret"));
    expect_error(MINIMAL "cluster: {redis: \"redis://h:0\"}\n", NULL, 0,
                 "t.yaml:4:18: cluster.redis: redis address 'redis://h:0': the port must be a "
                 "number from 1 to 65535; leave it out to run a private redis-server");
}

static void test_redis_password_env(void **state)
{
    rs_config_t *c = load_ok(MINIMAL, NULL, 0);
    assert_string_equal(c->cluster.redis_password_env, "REDIS_PASSWORD");
    assert_null(c->cluster.redis_tls.ca_file);
    rs_config_destroy(&c);
    c = load_ok(MINIMAL "cluster: {redis: \"redis://rs@h\", redis_password_env: RS_REDIS_PW}\n",
                NULL, 0);
    assert_string_equal(c->cluster.redis, "redis://rs@h");
    assert_string_equal(c->cluster.redis_password_env, "RS_REDIS_PW");
    rs_config_destroy(&c);
    /* a pasted password instead of a variable's name is refused, and not echoed */
    rs_err_t err = {{0}};
    c = load(MINIMAL "cluster: {redis_password_env: \"p4ss word!\"}\n", NULL, 0, &err);
    assert_null(c);
    assert_non_null(strstr(err.msg, "cluster.redis_password_env: must be the name of an environment"));
    assert_null(strstr(err.msg, "p4ss"));
}

/* The message of a config that must fail holds want. */
static void error_has(const char *yaml, const char *want)
{
    rs_err_t err = {{0}};
    rs_config_t *cfg = load(yaml, NULL, 0, &err);
    if (cfg) {
        rs_config_destroy(&cfg);
        fail_msg("loaded, expected: %s", want);
    }
    if (!strstr(err.msg, want)) fail_msg("'%s' lacks '%s'", err.msg, want);
}

/* The response cache's section: defaults, the shorthand, --set, bounds, no rediss://, and the
 * resolved JSON reads back the same. */
static void test_cache_section(void **state)
{
    rs_config_t *c = load_ok(MINIMAL, NULL, 0);
    assert_int_equal(c->cache.mode, RS_CACHE_READ_WRITE);
    assert_true(c->cache.ttl_days == 14 && c->cache.max_mb == 1024);
    assert_null(c->cache.redis);
    assert_string_equal(c->cache.password_env, "RS_CACHE_PASSWORD");
    assert_string_equal(rs_cache_mode_name(c->cache.mode), "read_write");
    rs_config_destroy(&c);
    c = load_ok(MINIMAL "cache: off\n", NULL, 0);
    assert_int_equal(c->cache.mode, RS_CACHE_OFF);
    rs_config_destroy(&c);
    const char *ov[] = {"cache.mode=read", "cache.ttl_days=0.0003", "cache.max_mb=0.01"};
    c = load_ok(MINIMAL "cache: {redis: \"redis://rscache@cache.example/2\", password_env: PW}\n",
                ov, 3);
    assert_int_equal(c->cache.mode, RS_CACHE_READ);
    assert_true(c->cache.ttl_days == 0.0003 && c->cache.max_mb == 0.01);
    assert_string_equal(c->cache.redis, "redis://rscache@cache.example/2");
    char *json = rs_config_to_json(c);
    rs_err_t err = {{0}};
    rs_config_t *back = rs_config_from_json(json, &err);
    assert_non_null(back);
    assert_int_equal(back->cache.mode, RS_CACHE_READ);
    assert_string_equal(back->cache.redis, "redis://rscache@cache.example/2");
    assert_string_equal(back->cache.password_env, "PW");
    assert_true(back->cache.ttl_days == 0.0003);
    free(json);
    rs_config_destroy(&back);
    rs_config_destroy(&c);
    error_has(MINIMAL "cache: {mode: sometimes}\n", "cache.mode:");
    error_has(MINIMAL "cache: {ttl_days: 0}\n", "cache.ttl_days: must be between");
    error_has(MINIMAL "cache: {max_mb: -1}\n", "cache.max_mb: must be between");
    error_has(MINIMAL "cache: {password_env: \"p4ss word\"}\n", "cache.password_env: must be");
    error_has(MINIMAL "cache: {redis: \"rediss://h\"}\n",
              "cache.redis: rediss:// is not supported for the cache");
    c = load(MINIMAL "cache: {redis: \"redis://u:Zq9secret@h\"}\n", NULL, 0, &err);
    assert_null(c);
    assert_null(strstr(err.msg, "Zq9secret"));
}

static void test_redis_tls(void **state)
{
    /* paths in the file are relative to the file, from --set to the current directory */
    const char *ov[] = {"cluster.redis_tls.key_file=keys/client.key"};
    rs_config_t *c = load_ok(MINIMAL "cluster:\n  redis: \"rediss://rs@redis.example:6380/0\"\n"
                                     "  redis_tls: {ca_file: tls/ca.pem, cert_file: /etc/c.pem}\n",
                             ov, 1);
    assert_string_equal(c->cluster.redis_tls.ca_file, "/base/tls/ca.pem");
    assert_string_equal(c->cluster.redis_tls.cert_file, "/etc/c.pem");
    char cwd[PATH_MAX], want[PATH_MAX + 32];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    snprintf(want, sizeof(want), "%s/keys/client.key", cwd);
    assert_string_equal(c->cluster.redis_tls.key_file, want);
    /* the stored config reads back the same, from any directory */
    char *json = rs_config_to_json(c);
    rs_err_t err = {{0}};
    rs_config_t *back = rs_config_from_json(json, &err);
    if (!back) fail_msg("%s", err.msg);
    assert_string_equal(back->cluster.redis_tls.ca_file, "/base/tls/ca.pem");
    assert_string_equal(back->cluster.redis_tls.key_file, want);
    free(json);
    rs_config_destroy(&back);
    rs_config_destroy(&c);

    expect_error(MINIMAL "cluster: {redis: \"rediss://h\"}\n", NULL, 0,
                 "t.yaml:4:18: cluster.redis_tls.ca_file: missing: a rediss:// Redis needs the CA "
                 "certificate that its server's certificate is checked against");
    expect_error(MINIMAL "cluster: {redis: \"redis://h\", redis_tls: {ca_file: ca.pem}}\n", NULL, 0,
                 "t.yaml:4:31: cluster.redis_tls: set, but cluster.redis is not a rediss:// "
                 "address, so TLS would not be used");
    expect_error(MINIMAL "cluster: {redis: \"rediss://h\", redis_tls: {ca_file: a, cert_file: c}}\n",
                 NULL, 0,
                 "t.yaml:4:67: cluster.redis_tls.key_file: missing: a client certificate needs both "
                 "cert_file and key_file");
    expect_error(MINIMAL "cluster: {redis: \"rediss://h\", redis_tls: {ca_file: \"\"}}\n", NULL, 0,
                 "t.yaml:4:53: cluster.redis_tls.ca_file: must be a file path, not empty");
}

static void test_override_scalars(void **state)
{
    const char *ov[] = {"dataset.limit=100", "cluster.redis=redis://10.0.0.1:6379/2",
                        "run.name=nightly", "dataset.target_regex=#### (.*)",
                        "prompt.template={{input}} ####"};
    rs_config_t *c = load_ok(MINIMAL "run: {name: x}\n", ov, RS_ARRAY_LEN(ov));
    assert_int_equal(c->dataset.limit, 100);
    assert_string_equal(c->cluster.redis, "redis://10.0.0.1:6379/2");
    assert_string_equal(c->run.name, "nightly");
    /* "#" and "{{" are taken verbatim, not as a YAML comment or flow mapping */
    assert_string_equal(c->dataset.target_regex, "#### (.*)");
    assert_string_equal(c->prompt.template, "{{input}} ####");
    rs_config_destroy(&c);
}

static void test_override_nested(void **state)
{
    /* missing intermediate mappings are created; an empty value unsets (back to the default) */
    const char *ov[] = {"dataset.fields.input=problem",
                        "cluster.redis=", "scoring.extractor={type: regex, pattern: \"A: (.*)\"}",
                        "report.formats=[html]"};
    rs_config_t *c = load_ok(MINIMAL "cluster: {redis: \"redis://h/0\"}\n", ov, RS_ARRAY_LEN(ov));
    assert_string_equal(c->dataset.input_field, "problem");
    assert_string_equal(c->dataset.target_field, "answer");
    assert_null(c->cluster.redis);
    assert_int_equal(c->scoring.extractor, RS_EXTRACT_REGEX);
    assert_string_equal(c->scoring.extractor_pattern, "A: (.*)");
    assert_true(c->report.html && !c->report.json);
    rs_config_destroy(&c);
}

static void test_override_list_index(void **state)
{
    static const char yaml[] = "dataset: {path: d.jsonl}\n"
                               "models:\n"
                               "  - {name: a, provider: sim, model: m1, params: {accuracy: 0.8}}\n"
                               "  - {name: b, provider: sim, model: m1}\n"
                               "scoring: {graders: [exact, includes]}\n";
    const char *ov[] = {"models.0.params.accuracy=0.9", "models.b.n=3",
                        "models.2.provider=sim",        "models.2.model=m3",
                        "scoring.graders.1=numeric",    "models.1.params.stop=[x, y]"};
    rs_config_t *c = load_ok(yaml, ov, RS_ARRAY_LEN(ov));
    assert_true(c->models[0].accuracy == 0.9);
    assert_int_equal(c->models[1].n, 3);
    assert_string_equal(c->models[1].stop[1], "y");
    assert_int_equal(c->n_models, 3); /* index == length appends */
    assert_string_equal(c->models[2].name, "m3");
    assert_int_equal(c->scoring.graders[1].kind, RS_GRADE_NUMERIC);
    rs_config_destroy(&c);

    /* a whole config can come from overrides; a list is created for a numeric part */
    const char *all[] = {"dataset.path=/d.jsonl", "models.0.provider=sim", "models.0.model=x"};
    c = load_ok("", all, RS_ARRAY_LEN(all));
    assert_int_equal(c->n_models, 1);
    assert_string_equal(c->models[0].model, "x");
    rs_config_destroy(&c);
}

static void test_override_bad_path(void **state)
{
    expect_error1(MINIMAL, "models.5.n=1",
                  "--set models.5.n=1: models[5]: no such item (the list has 1; index 1 appends "
                  "one, and an item can also be named by its name)");
    expect_error1(MINIMAL, "models.nope.n=1",
                  "--set models.nope.n=1: models.nope: no such item (the list has 1; index 1 "
                  "appends one, and an item can also be named by its name)");
    expect_error1(MINIMAL, "dataset.limit", "--set dataset.limit: expected key.path=value");
    expect_error1(MINIMAL, "=5", "--set =5: expected key.path=value");
    expect_error1(MINIMAL, "dataset..limit=5",
                  "--set dataset..limit=5: bad key path (empty or overlong part)");
    expect_error1(MINIMAL, "dataset.path.x=5",
                  "--set dataset.path.x=5: dataset.path: is a single value, it has no 'x' inside");
}

/* concurrency: auto is on for real providers and off for sim; the shorthand; floor <= ceiling;
 * the resolved value survives the JSON round trip. */
static void test_concurrency(void **state)
{
    rs_config_t *c = load_ok("dataset: {path: d.jsonl}\n"
                             "models:\n"
                             "  - {provider: sim, model: m1}\n"
                             "  - {provider: openai, model: m2}\n"
                             "  - {provider: anthropic, model: m3, concurrency: off}\n"
                             "  - {provider: sim, model: m4, concurrency: {adaptive: on, floor: 2,"
                             " ceiling: 8, factor: 0.5, step: 2, cooldown_ms: 300}}\n",
                             NULL, 0);
    assert_int_equal(c->models[0].adaptive, RS_ADAPTIVE_OFF);
    assert_int_equal(c->models[1].adaptive, RS_ADAPTIVE_ON);
    assert_int_equal(c->models[1].conc_floor, 1);
    assert_int_equal(c->models[1].conc_ceiling, 0);
    assert_true(c->models[1].conc_factor == 0.7);
    assert_int_equal(c->models[1].conc_step, 1);
    assert_int_equal(c->models[1].conc_cooldown_ms, 2000);
    assert_int_equal(c->models[2].adaptive, RS_ADAPTIVE_OFF);
    const rs_model_cfg_t *m = &c->models[3];
    assert_int_equal(m->adaptive, RS_ADAPTIVE_ON);
    assert_int_equal(m->conc_floor, 2);
    assert_int_equal(m->conc_ceiling, 8);
    assert_true(m->conc_factor == 0.5);
    assert_int_equal(m->conc_step, 2);
    assert_int_equal(m->conc_cooldown_ms, 300);
    char *json = rs_config_to_json(c);
    assert_non_null(strstr(json, "\"adaptive\": \"on\""));
    rs_err_t err = {{0}};
    rs_config_t *back = rs_config_from_json(json, &err);
    assert_non_null(back);
    assert_int_equal(back->models[0].adaptive, RS_ADAPTIVE_OFF);
    assert_int_equal(back->models[3].conc_ceiling, 8);
    rs_config_destroy(&back);
    free(json);
    rs_config_destroy(&c);
    expect_error("dataset: {path: d.jsonl}\nmodels:\n  - provider: sim\n    model: m1\n"
                 "    concurrency: {floor: 9, ceiling: 8}\n", NULL, 0,
                 "t.yaml:5:26: models[0].concurrency.floor: must not be above "
                 "concurrency.ceiling (9 > 8)");
    expect_error1(MINIMAL, "models.0.concurrency.factor=1",
                  "--set models.0.concurrency.factor=1: models[0].concurrency.factor: must be "
                  "between 0.05 and 0.95 (got 1)");
}

static void test_override_bad_value(void **state)
{
    expect_error1(MINIMAL, "dataset.limit=abc",
                  "--set dataset.limit=abc: dataset.limit: expected an integer (got 'abc')");
    expect_error1(MINIMAL, "models.0.params.accuracy=2",
                  "--set models.0.params.accuracy=2: models[0].params.accuracy: must be between 0 "
                  "and 1 (got 2)");
    expect_error1(MINIMAL, "models.0.x=1",
                  "--set models.0.x=1: models[0].x: unknown key (known here: name, provider, "
                  "model, base_url, api_key_env, n, params, timeout_ms, connect_timeout_ms, "
                  "max_retries, retry_base_ms, retry_cap_ms, rpm, tpm, anthropic_version, mock, "
                  "prices, budget, concurrency)");
    expect_error1(MINIMAL, "models.0.params.stop=[a, b",
                  "--set models.0.params.stop=[a, b: bad value: flow sequence without a closing "
                  "bracket");
}

/* Equal, or both unset (NaN). */
static int same_num(double x, double y)
{
    return x == y || (isnan(x) && isnan(y));
}

static void assert_configs_equal(const rs_config_t *a, const rs_config_t *b)
{
    assert_string_equal(a->run.name, b->run.name);
    assert_int_equal(a->run.seed, b->run.seed);
    assert_int_equal(a->dataset.limit, b->dataset.limit);
    assert_string_equal(a->dataset.target_regex, b->dataset.target_regex);
    assert_int_equal(a->n_models, b->n_models);
    for (size_t i = 0; i < a->n_models; i++) {
        const rs_model_cfg_t *x = &a->models[i], *y = &b->models[i];
        assert_string_equal(x->name, y->name);
        assert_string_equal(x->provider, y->provider);
        assert_true(same_num(x->temperature, y->temperature) && x->accuracy == y->accuracy);
        assert_true(same_num(x->top_p, y->top_p) && x->latency_ms == y->latency_ms);
        assert_int_equal(x->seed, y->seed);
        assert_int_equal(x->seed_set, y->seed_set);
        assert_int_equal(x->max_tokens, y->max_tokens);
        for (size_t s = 0; x->stop && x->stop[s]; s++)
            assert_string_equal(x->stop[s], y->stop[s]);
        assert_true(!x->stop == !y->stop);
    }
    assert_int_equal(a->scoring.n_graders, b->scoring.n_graders);
    assert_true(a->scoring.graders[1].tolerance == b->scoring.graders[1].tolerance);
    assert_int_equal(a->cluster.lease_ms, b->cluster.lease_ms);
    assert_memory_equal(&a->report, &b->report, sizeof(a->report));
    char *pa = rs_config_dataset_path(a), *pb = rs_config_dataset_path(b);
    assert_string_equal(pa, pb);
    free(pa);
    free(pb);
}

static void test_json_round_trip(void **state)
{
    /* a value that needs all 17 digits must survive too */
    const char *ov[] = {"models.1.params.temperature=0.30000000000000004"};
    rs_config_t *a = load_ok(FULL, ov, 1);
    char *json = rs_config_to_json(a);
    assert_non_null(strstr(json, "\"path\": \"/base/data/x.jsonl\"")); /* written resolved */
    rs_err_t err = {{0}};
    rs_config_t *b = rs_config_from_json(json, &err);
    if (!b) fail_msg("%s", err.msg);
    assert_configs_equal(a, b);
    assert_true(b->models[1].temperature == 0.30000000000000004);
    char *again = rs_config_to_json(b);
    assert_string_equal(json, again);
    free(again);
    free(json);
    rs_config_destroy(&b);
    rs_config_destroy(&a);

    /* defaults are written out, and short decimals stay short */
    a = load_ok(MINIMAL, NULL, 0);
    json = rs_config_to_json(a);
    assert_non_null(strstr(json, "\"accuracy\": 0.7,"));
    assert_non_null(strstr(json, "\"lease_ms\": 600000"));
    assert_non_null(strstr(json, "\"redis\": null"));
    b = rs_config_from_json(json, &err);
    if (!b) fail_msg("%s", err.msg);
    again = rs_config_to_json(b);
    assert_string_equal(json, again);
    free(again);
    free(json);
    rs_config_destroy(&b);
    rs_config_destroy(&a);
}

static void test_evals_defaults(void **state)
{
    rs_config_t *c = load_ok("dataset: {path: e.jsonl, format: evals}\n"
                             "models: [{provider: sim, model: m1}]\n",
                             NULL, 0);
    assert_int_equal(c->dataset.format, RS_FORMAT_EVALS);
    assert_string_equal(c->dataset.input_field, "input");
    assert_string_equal(c->dataset.target_field, "ideal");
    assert_string_equal(c->dataset.id_field, "id");
    rs_config_destroy(&c);
    c = load_ok("dataset: {path: e.jsonl, format: evals, fields: {target: gold}}\n"
                "models: [{provider: sim, model: m1}]\n",
                NULL, 0);
    assert_string_equal(c->dataset.input_field, "input");
    assert_string_equal(c->dataset.target_field, "gold");
    rs_config_destroy(&c);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A path in the file is relative to the file; one from --set to the current directory. */
static void test_relative_paths(void **state)
{
    char tmpl[] = "/tmp/rs_test_config_XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    char *real_dir = realpath(dir, NULL);
    char cwd[PATH_MAX], p[PATH_MAX + 64], conf[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    snprintf(p, sizeof(p), "%s/sub", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/data", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/data/x.jsonl", dir);
    write_text(p, "{}\n");
    snprintf(conf, sizeof(conf), "%s/sub/c.yaml", dir);
    write_text(conf, "dataset: {path: ../data/x.jsonl}\nmodels: [{provider: sim, model: m}]\n");

    assert_int_equal(chdir(dir), 0); /* a relative config path: base_dir is still absolute */
    rs_err_t err = {{0}};
    rs_config_t *c = rs_config_load("sub/c.yaml", NULL, 0, &err);
    if (!c) fail_msg("%s", err.msg);
    char *ds = rs_config_dataset_path(c);
    snprintf(p, sizeof(p), "%s/data/x.jsonl", real_dir);
    assert_string_equal(ds, p); /* existing file: resolved, no "sub/.." left */
    assert_string_equal(c->dataset.path, "../data/x.jsonl");
    free(ds);
    rs_config_destroy(&c);

    const char *ov[] = {"dataset.path=data/x.jsonl"};
    c = rs_config_load(conf, ov, 1, &err);
    if (!c) fail_msg("%s", err.msg);
    ds = rs_config_dataset_path(c);
    assert_string_equal(ds, p);
    free(ds);
    rs_config_destroy(&c);
    assert_int_equal(chdir(cwd), 0);

    c = rs_config_load(conf, NULL, 0, &err);
    ds = rs_config_dataset_path(c);
    assert_string_equal(ds, p); /* same file whatever the current directory */
    free(ds);
    rs_config_destroy(&c);

    unlink(p);
    unlink(conf);
    snprintf(p, sizeof(p), "%s/data", dir);
    rmdir(p);
    snprintf(p, sizeof(p), "%s/sub", dir);
    rmdir(p);
    rmdir(dir);
    free(real_dir);
}

static void test_load_file_errors(void **state)
{
    rs_err_t err = {{0}};
    rs_config_t *c = rs_config_load("/nonexistent/c.yaml", NULL, 0, &err);
    assert_null(c);
    assert_string_equal(err.msg, "/nonexistent/c.yaml: No such file or directory");
}

static void test_string_lists(void **state)
{
    rs_config_t *c = load_ok(MINIMAL, (const char *[]){"models.0.params.stop=[]"}, 1);
    assert_null(c->models[0].stop); /* an empty list is no stop sequences */
    rs_config_destroy(&c);
    expect_error(MINIMAL "report: {formats: [json, \"\"]}\n", NULL, 0,
                 "t.yaml:4:26: report.formats[1]: must not be empty");
    expect_error(MINIMAL "report: {formats: [json, [html]]}\n", NULL, 0,
                 "t.yaml:4:27: report.formats[1]: expected a string (got a list)");
}

/* Anchors and merge keys work: models can share one params block. */
static void test_yaml_anchors(void **state)
{
    rs_config_t *c = load_ok("dataset: {path: d.jsonl}\n"
                             "models:\n"
                             "  - {name: a, provider: sim, model: m, params: &p {accuracy: 0.4}}\n"
                             "  - {name: b, provider: sim, model: m, params: {<<: *p, seed: 3}}\n",
                             NULL, 0);
    assert_true(c->models[0].accuracy == 0.4 && c->models[1].accuracy == 0.4);
    assert_int_equal(c->models[1].seed, 3);
    rs_config_destroy(&c);
}

/* ---- judges, revise, ranking, embedder and the new graders ---- */

/* Every new key set. */
static const char CRITIQUE[] =
    "dataset: {path: d.jsonl}\n"
    "models:\n"
    "  - name: strong\n"
    "    provider: sim\n"
    "    model: sim-1\n"
    "    n: 5\n"
    "    params: {judge_accuracy: 0.85, self_bias: 0.1, fix_rate: 0.4, break_rate: 0.02}\n"
    "  - {name: weak, provider: sim, model: sim-1}\n"
    "judges:\n"
    "  - name: self\n"
    "    model: strong\n"
    "    rubric: [\"The final answer is correct.\", \"Every step follows.\"]\n"
    "    template: \"Q: {{question}} A: {{answer}} R: {{rubric}} Ref: {{reference}}\"\n"
    "    reference: true\n"
    "    verdict: {choices: {\"Y\": 1, \"N\": 0, \"?\": 0.5}}\n"
    "    threshold: 0.6\n"
    "  - name: cross\n"
    "    model: weak\n"
    "    verdict: {regex: \"Score: *([0-9.]+)\", min: 1, max: 10}\n"
    "    template: \"Rate {{answer}} from 1 to 10 as 'Score: <n>'.\"\n"
    "  - weak\n"
    "revise: {rounds: 2, judge: cross, template: \"{{answer}} was judged: {{critique}}\"}\n"
    "ranking: [majority, first]\n"
    "embedder: {type: openai, model: text-embedding-3-small, base_url: \"http://h:1/v1\",\n"
    "           api_key_env: EMBED_KEY, timeout_ms: 5000}\n"
    "scoring:\n"
    "  graders:\n"
    "    - exact\n"
    "    - {type: fuzzy, threshold: 0.9, case_sensitive: true}\n"
    "    - {type: json_match, keys: [a, b]}\n"
    "    - {type: judge, judge: cross, threshold: 0.7}\n"
    "    - {name: j0, type: judge}\n"
    "    - {type: embed_sim, threshold: -0.5}\n";

static void test_critique_config(void **state)
{
    rs_config_t *c = load_ok(CRITIQUE, NULL, 0);
    const rs_model_cfg_t *m = &c->models[0];
    assert_true(m->judge_accuracy == 0.85 && m->self_bias == 0.1);
    assert_true(m->fix_rate == 0.4 && m->break_rate == 0.02);

    assert_int_equal(c->n_judges, 3);
    const rs_judge_cfg_t *j = &c->judges[0];
    assert_string_equal(j->name, "self");
    assert_string_equal(j->model, "strong");
    assert_int_equal(j->model_idx, 0);
    assert_string_equal(j->rubric[0], "The final answer is correct.");
    assert_string_equal(j->rubric[1], "Every step follows.");
    assert_null(j->rubric[2]);
    assert_string_equal(j->template,
                        "Q: {{question}} A: {{answer}} R: {{rubric}} Ref: {{reference}}");
    assert_int_equal(j->reference, 1);
    assert_true(j->threshold == 0.6);
    /* choices are kept sorted by text, whatever the file's order */
    assert_null(j->verdict.regex);
    assert_int_equal(j->verdict.n_choices, 3);
    assert_string_equal(j->verdict.choices[0].text, "?");
    assert_string_equal(j->verdict.choices[1].text, "N");
    assert_string_equal(j->verdict.choices[2].text, "Y");
    assert_true(j->verdict.choices[0].score == 0.5 && j->verdict.choices[1].score == 0 &&
                j->verdict.choices[2].score == 1);
    j = &c->judges[1];
    assert_string_equal(j->name, "cross");
    assert_int_equal(j->model_idx, 1);
    assert_null(j->rubric);
    assert_string_equal(j->template, "Rate {{answer}} from 1 to 10 as 'Score: <n>'.");
    assert_int_equal(j->reference, 0);
    assert_true(j->threshold == 0.5);
    assert_string_equal(j->verdict.regex, "Score: *([0-9.]+)");
    assert_int_equal(j->verdict.n_choices, 0);
    assert_null(j->verdict.choices);
    assert_true(j->verdict.min == 1 && j->verdict.max == 10);
    j = &c->judges[2]; /* the shorthand: a model name; the judge is named after it */
    assert_string_equal(j->name, "weak");
    assert_string_equal(j->model, "weak");
    assert_int_equal(j->model_idx, 1);

    assert_int_equal(c->revise.rounds, 2);
    assert_string_equal(c->revise.judge, "cross");
    assert_int_equal(c->revise.judge_idx, 1);
    assert_string_equal(c->revise.template, "{{answer}} was judged: {{critique}}");
    const int *use = c->ranking.use;
    assert_true(use[RS_STRATEGY_FIRST] && use[RS_STRATEGY_MAJORITY] && !use[RS_STRATEGY_JUDGE] &&
                !use[RS_STRATEGY_CONSENSUS] && !use[RS_STRATEGY_ORACLE]);
    const rs_embedder_cfg_t *e = &c->embedder;
    assert_int_equal(e->type, RS_EMBEDDER_OPENAI);
    assert_string_equal(e->model, "text-embedding-3-small");
    assert_string_equal(e->base_url, "http://h:1/v1");
    assert_string_equal(e->api_key_env, "EMBED_KEY");
    assert_int_equal(e->timeout_ms, 5000);

    const rs_grader_cfg_t *g = c->scoring.graders;
    assert_int_equal(c->scoring.n_graders, 6);
    assert_true(g[0].threshold == 0);
    assert_string_equal(g[1].name, "fuzzy");
    assert_int_equal(g[1].kind, RS_GRADE_FUZZY);
    assert_true(g[1].threshold == 0.9 && g[1].case_sensitive);
    assert_string_equal(g[2].name, "json_match");
    assert_int_equal(g[2].kind, RS_GRADE_JSON_MATCH);
    assert_string_equal(g[2].keys[0], "a");
    assert_string_equal(g[2].keys[1], "b");
    assert_null(g[2].keys[2]);
    assert_int_equal(g[3].kind, RS_GRADE_JUDGE);
    assert_string_equal(g[3].judge, "cross");
    assert_int_equal(g[3].judge_idx, 1);
    assert_true(g[3].threshold == 0.7);
    assert_string_equal(g[4].name, "j0");
    assert_string_equal(g[4].judge, "self"); /* judges[0] */
    assert_int_equal(g[4].judge_idx, 0);
    assert_true(g[4].threshold == 0.5);
    assert_int_equal(g[5].kind, RS_GRADE_EMBED_SIM);
    assert_true(g[5].threshold == -0.5);

    assert_int_equal(rs_config_model_index(c, "weak"), 1);
    assert_int_equal(rs_config_model_index(c, "nope"), -1);
    assert_int_equal(rs_config_judge_index(c, "cross"), 1);
    assert_int_equal(rs_config_judge_index(c, NULL), -1);
    rs_config_destroy(&c);
}

/* What a judge, revise, ranking and the new graders default to. */
static void test_critique_defaults(void **state)
{
    rs_config_t *c = load_ok(MINIMAL "judges: [m1]\n"
                                     "revise: {rounds: 1}\n"
                                     "scoring: {graders: [fuzzy, json_match, judge, embed_sim]}\n",
                             NULL, 0);
    const rs_judge_cfg_t *j = &c->judges[0];
    assert_string_equal(j->name, "m1");
    assert_string_equal(j->template, RS_JUDGE_TEMPLATE);
    assert_non_null(strstr(j->template, "{{question}}"));
    assert_non_null(strstr(j->template, "{{rubric}}"));
    assert_non_null(strstr(j->template, "{{reference}}"));
    assert_non_null(strstr(j->template, "\"Verdict: Y\""));
    assert_int_equal(j->verdict.n_choices, 2);
    assert_string_equal(j->verdict.choices[0].text, "N");
    assert_true(j->verdict.choices[0].score == 0);
    assert_string_equal(j->verdict.choices[1].text, "Y");
    assert_true(j->verdict.choices[1].score == 1);
    assert_null(j->verdict.regex);
    assert_true(j->threshold == 0.5);
    assert_string_equal(c->revise.judge, "m1");
    assert_int_equal(c->revise.judge_idx, 0);
    for (int s = 0; s < RS_N_STRATEGIES; s++)
        assert_true(c->ranking.use[s]); /* with a judge, every strategy */
    const rs_grader_cfg_t *g = c->scoring.graders;
    assert_true(g[0].threshold == 0.8 && g[1].threshold == 0);
    assert_null(g[1].keys);
    assert_true(g[2].threshold == 0.5);
    assert_string_equal(g[2].judge, "m1");
    assert_true(g[3].threshold == 0.8);
    rs_config_destroy(&c);

    /* shorthands: revise: <rounds>, embedder: <type>; a verdict with only a regex and max */
    c = load_ok(MINIMAL "judges:\n  - model: m1\n    verdict: {regex: \"(\\\\d+)/10\", max: 10}\n"
                        "    template: \"Rate {{answer}} out of 10.\"\n"
                        "revise: 3\nembedder: hash\n",
                NULL, 0);
    assert_int_equal(c->revise.rounds, 3);
    assert_int_equal(c->embedder.type, RS_EMBEDDER_HASH);
    assert_true(c->judges[0].verdict.min == 0 && c->judges[0].verdict.max == 10);
    rs_config_destroy(&c);
    c = load_ok(MINIMAL "embedder: {type: hash, dim: 64, timeout_ms: 10}\n", NULL, 0);
    assert_int_equal(c->embedder.dim, 64);
    assert_int_equal(c->embedder.timeout_ms, 10);
    rs_config_destroy(&c);
}

static void test_judge_errors(void **state)
{
    static const char models[] = "dataset: {path: d.jsonl}\n"
                                 "models:\n"
                                 "  - {name: strong, provider: sim, model: m}\n"
                                 "  - {name: weak, provider: sim, model: m}\n";
    char yaml[1024];
    typedef struct row {
        const char *judges, *want;
    } row_t;
    static const row_t rows[] = {
        {"judges:\n  - {model: strnog}\n",
         "t.yaml:6:13: judges[0].model: 'strnog' is not one of strong, weak; did you mean "
         "'strong'?"},
        {"judges: [gpt]\n", "t.yaml:5:10: judges[0].model: 'gpt' is not one of strong, weak"},
        {"judges:\n  - {name: a}\n", "t.yaml:6:6: judges[0].model: missing (required)"},
        {"judges:\n  - strong\n  - strong\n",
         "t.yaml:7:5: judges[1].name: duplicate name 'strong' (judges[0] has it too); each needs "
         "its own name, it labels results in reports"},
        {"judges:\n  - {model: strong, refrence: true}\n",
         "t.yaml:6:21: judges[0].refrence: unknown key; did you mean 'reference'?"},
        {"judges:\n  - {model: strong, regex: \"x\"}\n",
         "t.yaml:6:21: judges[0].regex: unknown key; did you mean 'verdict.regex'?"},
        {"judges:\n  - {model: strong, threshold: 1.5}\n",
         "t.yaml:6:32: judges[0].threshold: must be between 0 and 1 (got 1.5)"},
        {"judges:\n  - {model: strong, template: \"Judge {{question}}\"}\n",
         "t.yaml:6:31: judges[0].template: must contain {{answer}}: the judge has to see the "
         "answer"},
        {"judges:\n  - model: strong\n    verdict: {choices: {Y: 1}, regex: \"(\\\\d)\", max: 9}\n",
         "t.yaml:7:39: judges[0].verdict.regex: give either choices or regex, not both: the "
         "score comes from one of them"},
        {"judges:\n  - model: strong\n    verdict: {regex: \"(\\\\d+)\"}\n",
         "t.yaml:7:22: judges[0].verdict.max: missing (a regex verdict needs max, the top of its "
         "scale, like 10)"},
        {"judges:\n  - model: strong\n    verdict: {regex: \"(\\\\d+)\", min: 5, max: 5}\n",
         "t.yaml:7:45: judges[0].verdict.max: must be greater than min (5 <= 5)"},
        {"judges:\n  - model: strong\n    verdict: {min: 0, max: 10}\n",
         "t.yaml:7:20: judges[0].verdict.min: only a regex verdict has a scale; add regex (or "
         "leave min and max out)"},
        {"judges:\n  - model: strong\n    verdict: {regex: \"(\"}\n",
         "t.yaml:7:22: judges[0].verdict.regex: bad regex '(' at offset 1: missing closing "
         "parenthesis"},
        {"judges:\n  - model: strong\n    verdict: {choices: {\"Y\": 2, \"N\": 0}}\n",
         "t.yaml:7:30: judges[0].verdict.choices.Y: must be between 0 and 1 (got 2)"},
        {"judges:\n  - model: strong\n    verdict:\n      choices:\n        Y: 1\n        N: yes\n",
         "t.yaml:10:12: judges[0].verdict.choices.N: expected a number (got 'yes')"},
        {"judges:\n  - model: strong\n    verdict:\n      choices:\n        Y: 1\n        N:\n",
         "t.yaml:10:9: judges[0].verdict.choices.N: missing score (a number from 0 to 1)"},
        {"judges:\n  - model: strong\n    verdict: {choices: {}}\n",
         "t.yaml:7:15: judges[0].verdict.choices: must name at least one verdict string"},
        {"judges:\n  - model: strong\n    verdict: {choices: [Y, N]}\n",
         "t.yaml:7:15: judges[0].verdict.choices: expected a mapping of verdict strings to "
         "scores, like {\"Y\": 1, \"N\": 0} (got a list)"},
        {"judges:\n  - model: strong\n    verdict: {choices: {\"\": 1}}\n",
         "t.yaml:7:25: judges[0].verdict.choices: verdict strings must not be empty"},
        {"judges:\n  - model: strong\n    verdict: {regex: \"(\\\\d+)\", max: 10}\n",
         "t.yaml:7:5: judges[0].template: missing (the built-in template asks for \"Verdict: Y\" "
         "or \"Verdict: N\", which this verdict does not read; write one that asks for what it "
         "reads)"},
        {"judges:\n  - {model: strong, verdict: {choices: {Yes: 1, No: 0}}}\n",
         "t.yaml:6:21: judges[0].template: missing (the built-in template asks for \"Verdict: "
         "Y\" or \"Verdict: N\", which this verdict does not read; write one that asks for what "
         "it reads)"},
        {"judges:\n  - model: strong\n    verdict: {choises: {Y: 1}}\n",
         "t.yaml:7:15: judges[0].verdict.choises: unknown key; did you mean 'choices'?"},
    };
    for (size_t i = 0; i < RS_ARRAY_LEN(rows); i++) {
        snprintf(yaml, sizeof(yaml), "%s%s", models, rows[i].judges);
        expect_error(yaml, NULL, 0, rows[i].want);
    }
    expect_error(MINIMAL, (const char *[]){"judges.0.model=m2"}, 1,
                 "--set judges.0.model=m2: judges[0].model: 'm2' is not one of m1; did you mean "
                 "'m1'?");
}

static void test_revise_ranking_embedder_errors(void **state)
{
    expect_error(MINIMAL "revise: {rounds: 1}\n", NULL, 0,
                 "t.yaml:4:18: revise.judge: missing (each revision round is driven by a judge's "
                 "critique; add a judges: section)");
    expect_error(MINIMAL "revise: {rounds: 11}\n", NULL, 0,
                 "t.yaml:4:18: revise.rounds: must be between 0 and 10 (got 11)");
    expect_error(MINIMAL "revise: {judge: self}\n", NULL, 0,
                 "t.yaml:4:17: revise.judge: 'self' is not defined: the config has no judges");
    expect_error(MINIMAL "judges: [m1]\nrevise: {rounds: 1, judge: m2}\n", NULL, 0,
                 "t.yaml:5:28: revise.judge: 'm2' is not one of m1; did you mean 'm1'?");
    expect_error(MINIMAL "revise: {rounds: 1, template: \"Fix {{answer}}\"}\n", NULL, 0,
                 "t.yaml:4:31: revise.template: must contain {{critique}}: a revision is driven "
                 "by the critique");
    expect_error(MINIMAL "ranking: [first, majorty]\n", NULL, 0,
                 "t.yaml:4:18: ranking[1]: 'majorty' is not one of first, judge, consensus, "
                 "majority, oracle; did you mean 'majority'?");
    expect_error(MINIMAL "ranking: [first, judge]\n", NULL, 0,
                 "t.yaml:4:18: ranking[1]: the judge strategy ranks by a judge's score; add a "
                 "judges: section");
    expect_error(MINIMAL "ranking: []\n", NULL, 0,
                 "t.yaml:4:1: ranking: must name at least one strategy");
    expect_error(MINIMAL "embedder: {type: openai}\n", NULL, 0,
                 "t.yaml:4:18: embedder.model: missing (the openai embedder needs a model, like "
                 "text-embedding-3-small)");
    expect_error(MINIMAL "embedder: {dim: 64, model: m}\n", NULL, 0,
                 "t.yaml:4:28: embedder.model: only the openai embedder uses model; add type: "
                 "openai");
    expect_error("dataset: {path: d.jsonl}\n"
                 "models: [{name: embedder, provider: sim, model: m1}]\n"
                 "embedder: {type: openai, model: e}\n",
                 NULL, 0,
                 "t.yaml:2:1: models[0].name: 'embedder' names the openai embedder's calls in the "
                 "live counters; give the model another name");
    expect_error(MINIMAL "embedder: {dim: 4}\n", NULL, 0,
                 "t.yaml:4:17: embedder.dim: must be between 8 and 4096 (got 4)");
    expect_error(MINIMAL "embedder: bert\n", NULL, 0,
                 "t.yaml:4:11: embedder.type: 'bert' is not one of hash, openai");
    expect_error(MINIMAL "embedder: {type: openai, model: m, api_key_env: sk-123}\n", NULL, 0,
                 "t.yaml:4:49: embedder.api_key_env: must be the name of an environment variable "
                 "holding the key (like OPENAI_API_KEY), never the key itself");
    expect_error(MINIMAL "  - {provider: sim, model: m2, params: {self_bias: -0.1}}\n", NULL, 0,
                 "t.yaml:4:52: models[1].params.self_bias: must be between 0 and 1 (got -0.1)");
}

static void test_new_grader_errors(void **state)
{
    expect_error(MINIMAL "scoring: {graders: [judge]}\n", NULL, 0,
                 "t.yaml:4:21: scoring.graders[0].judge: missing (a judge grader takes a judge's "
                 "score; add a judges: section)");
    expect_error(MINIMAL "judges: [m1]\nscoring:\n  graders: [{type: judge, judge: slef}]\n", NULL,
                 0, "t.yaml:6:34: scoring.graders[0].judge: 'slef' is not one of m1");
    expect_error(MINIMAL "judges: [m1]\nscoring:\n  graders: [{type: fuzzy, judge: m1}]\n", NULL, 0,
                 "t.yaml:6:34: scoring.graders[0].judge: only judge graders use judge; add type: "
                 "judge");
    expect_error(MINIMAL "scoring:\n  graders: [{type: exact, keys: [a]}]\n", NULL, 0,
                 "t.yaml:5:27: scoring.graders[0].keys: only json_match graders use keys; add "
                 "type: json_match");
    expect_error(MINIMAL "scoring:\n  graders: [{type: fuzzy, threshold: 1.2}]\n", NULL, 0,
                 "t.yaml:5:38: scoring.graders[0].threshold: must be between -1 and 1 (got 1.2)");
    expect_error(MINIMAL "scoring:\n  graders: [{type: json_match, keys: [a, \"\"]}]\n", NULL, 0,
                 "t.yaml:5:42: scoring.graders[0].keys[1]: must not be empty");
}

/* The critique keys survive the JSON round trip, with every default written out. */
static void test_critique_round_trip(void **state)
{
    const char *sources[] = {CRITIQUE, MINIMAL "judges: [m1]\nrevise: 1\n"
                                               "scoring: {graders: [exact, judge, fuzzy]}\n"};
    for (size_t i = 0; i < RS_ARRAY_LEN(sources); i++) {
        rs_config_t *a = load_ok(sources[i], NULL, 0);
        char *json = rs_config_to_json(a);
        rs_err_t err = {{0}};
        rs_config_t *b = rs_config_from_json(json, &err);
        if (!b) fail_msg("%s\n%s", err.msg, json);
        char *again = rs_config_to_json(b);
        assert_string_equal(json, again);
        assert_int_equal(a->n_judges, b->n_judges);
        for (size_t j = 0; j < a->n_judges; j++) {
            const rs_judge_cfg_t *x = &a->judges[j], *y = &b->judges[j];
            assert_string_equal(x->name, y->name);
            assert_int_equal(x->model_idx, y->model_idx);
            assert_string_equal(x->template, y->template);
            assert_int_equal(x->verdict.n_choices, y->verdict.n_choices);
            for (size_t k = 0; k < x->verdict.n_choices; k++) {
                assert_string_equal(x->verdict.choices[k].text, y->verdict.choices[k].text);
                assert_true(x->verdict.choices[k].score == y->verdict.choices[k].score);
            }
            assert_true(!x->verdict.regex == !y->verdict.regex);
            assert_true(x->verdict.min == y->verdict.min && x->verdict.max == y->verdict.max);
            assert_true(x->threshold == y->threshold && x->reference == y->reference);
        }
        assert_int_equal(a->revise.rounds, b->revise.rounds);
        assert_string_equal(a->revise.judge, b->revise.judge);
        assert_memory_equal(&a->ranking, &b->ranking, sizeof(a->ranking));
        assert_int_equal(a->embedder.type, b->embedder.type);
        assert_int_equal(a->embedder.dim, b->embedder.dim);
        for (size_t g = 0; g < a->scoring.n_graders; g++) {
            assert_true(a->scoring.graders[g].threshold == b->scoring.graders[g].threshold);
            assert_true(!a->scoring.graders[g].judge == !b->scoring.graders[g].judge);
        }
        if (i == 0) {
            assert_non_null(strstr(json, "\"choices\": {\n"));
            assert_non_null(strstr(json, "\"?\": 0.5,\n"));
            assert_non_null(strstr(json, "\"regex\": \"Score: *([0-9.]+)\""));
            assert_non_null(strstr(json, "\"max\": 10.0"));
            assert_non_null(strstr(json, "\"ranking\": [\n    \"first\",\n    \"majority\"\n  ]"));
            assert_non_null(strstr(json, "\"judge_accuracy\": 0.85"));
        } else {
            /* defaults written: the Y/N choices, no scale, the built-in templates, judges[0] */
            assert_non_null(strstr(json, "\"N\": 0.0,\n"));
            assert_non_null(strstr(json, "\"min\": null"));
            assert_non_null(strstr(json, "\"judge\": \"m1\""));
            assert_non_null(strstr(json, "\"dim\": 256"));
            assert_non_null(strstr(json, "\"break_rate\": 0.05"));
            assert_non_null(strstr(json, "\"threshold\": 0.8"));
            assert_non_null(strstr(json, "\"oracle\""));
        }
        free(again);
        free(json);
        rs_config_destroy(&b);
        rs_config_destroy(&a);
    }
}

static void test_critique_overrides(void **state)
{
    const char *ov[] = {"judges.self.threshold=0.7",
                        "judges.cross.verdict={choices: {A: 1, B: 0}}",
                        "revise.rounds=0",
                        "ranking=[first, judge]",
                        "embedder=hash",
                        "models.strong.params.fix_rate=1"};
    rs_config_t *c = load_ok(CRITIQUE, ov, RS_ARRAY_LEN(ov));
    assert_true(c->judges[0].threshold == 0.7);
    assert_null(c->judges[1].verdict.regex);
    assert_string_equal(c->judges[1].verdict.choices[0].text, "A");
    assert_int_equal(c->revise.rounds, 0);
    assert_true(c->ranking.use[RS_STRATEGY_JUDGE] && !c->ranking.use[RS_STRATEGY_MAJORITY]);
    assert_true(c->models[0].fix_rate == 1);
    rs_config_destroy(&c);
    /* hash with the openai keys of the file still set is refused, pointing at them */
    expect_error1(CRITIQUE, "embedder.type=hash",
                  "t.yaml:24:33: embedder.model: only the openai embedder uses model; add type: "
                  "openai");
}

/* ---- gates ---- */

#define GATED                                                                                      \
    "dataset: {path: d.jsonl}\n"                                                                   \
    "models:\n"                                                                                    \
    "  - {name: a, provider: sim, model: m1, n: 3}\n"                                              \
    "  - {name: b, provider: sim, model: m1}\n"                                                    \
    "scoring: {graders: [exact, numeric]}\n"                                                       \
    "gates:\n"

static void test_gates(void **state)
{
    (void)state;
    rs_config_t *c = load_ok(GATED
                             "  - {metric: accuracy, model: a, min: 0.8}\n"
                             "  - {metric: accuracy, model: a, grader: numeric, strategy: majority, "
                             "min: 0.5, max: 0.9}\n"
                             "  - {metric: errors, model: b, max: 0.01}\n"
                             "  - {metric: cost_usd, max: 5}\n"
                             "  - {name: majority helps, metric: mcnemar_p, model: a, "
                             "strategy: majority, max: 0.05}\n",
                             NULL, 0);
    assert_int_equal(c->n_gates, 5);
    const rs_gate_cfg_t *g = c->gates;
    assert_string_equal(g[0].name, "accuracy(a, exact) >= 0.8");
    assert_int_equal(g[0].metric, RS_GATE_ACCURACY);
    assert_string_equal(g[0].grader, "exact"); /* graders[0] by default */
    assert_null(g[0].strategy);
    assert_true(g[0].min == 0.8 && isnan(g[0].max));
    assert_string_equal(g[1].name, "accuracy(a, numeric, majority) in [0.5, 0.9]");
    assert_string_equal(g[2].name, "errors(b) <= 0.01");
    assert_null(g[2].grader);
    assert_string_equal(g[3].name, "cost_usd() <= 5");
    assert_null(g[3].model);
    assert_string_equal(g[4].name, "majority helps");
    assert_string_equal(g[4].grader, "exact");
    assert_string_equal(rs_gate_metric_name(g[4].metric), "mcnemar_p");

    /* the JSON round trip keeps every gate, unset bounds as null */
    char *json = rs_config_to_json(c);
    rs_err_t err = {{0}};
    rs_config_t *back = rs_config_from_json(json, &err);
    if (!back) fail_msg("%s", err.msg);
    char *again = rs_config_to_json(back);
    assert_string_equal(json, again);
    assert_int_equal(back->n_gates, 5);
    assert_true(isnan(back->gates[0].max) && isnan(back->gates[3].min));
    assert_non_null(strstr(json, "\"gates\": ["));
    free(json);
    free(again);
    rs_config_destroy(&back);
    rs_config_destroy(&c);

    /* --set reaches a gate; its default name follows */
    const char *ov[] = {"gates.0.min=0.9"};
    c = load_ok(GATED "  - {metric: accuracy, model: a, min: 0.8}\n", ov, 1);
    assert_true(c->gates[0].min == 0.9);
    assert_string_equal(c->gates[0].name, "accuracy(a, exact) >= 0.9");
    rs_config_destroy(&c);
    c = load_ok(MINIMAL, NULL, 0);
    assert_int_equal(c->n_gates, 0);
    rs_config_destroy(&c);
}

/* A gate as one condition fills the same fields as the keys, and writes out as the keys. */
static void test_gate_conditions(void **state)
{
    (void)state;
    rs_config_t *c = load_ok(GATED
                             "  - \"accuracy(a, numeric, majority) >= 80%\"\n"
                             "  - errors( b ) <= 1%\n"
                             "  - cost_usd() <= 5\n"
                             "  - mcnemar_p(a, majority vs first) <= 0.05\n"
                             "  - {condition: \"accuracy(a, , oracle) >= 0.5\", name: loose}\n",
                             NULL, 0);
    assert_int_equal(c->n_gates, 5);
    const rs_gate_cfg_t *g = c->gates;
    assert_string_equal(g[0].name, "accuracy(a, numeric, majority) >= 0.8");
    assert_true(g[0].metric == RS_GATE_ACCURACY && g[0].min == 0.8 && isnan(g[0].max));
    assert_string_equal(g[0].strategy, "majority");
    assert_string_equal(g[1].name, "errors(b) <= 0.01");
    assert_true(g[1].max == 0.01 && g[1].metric == RS_GATE_ERRORS);
    assert_string_equal(g[2].name, "cost_usd() <= 5");
    assert_null(g[2].model);
    assert_string_equal(g[3].name, "mcnemar_p(a, majority vs first) <= 0.05");
    assert_string_equal(g[3].grader, "exact");
    assert_string_equal(g[4].name, "loose");
    assert_string_equal(g[4].grader, "exact"); /* an empty argument keeps the default */
    assert_string_equal(g[4].strategy, "oracle");
    char *json = rs_config_to_json(c);
    rs_err_t err = {{0}};
    rs_config_t *back = rs_config_from_json(json, &err);
    if (!back) fail_msg("%s", err.msg);
    char *again = rs_config_to_json(back);
    assert_string_equal(json, again);
    free(json);
    free(again);
    rs_config_destroy(&back);
    rs_config_destroy(&c);

    expect_error(GATED "  - accuracy(a) > 0.8\n", NULL, 0,
                 "t.yaml:7:5: gates[0].condition: expected >= or <= after the ')', both bounds "
                 "inclusive (got '> 0.8')");
    expect_error(GATED "  - accuracy a >= 0.8\n", NULL, 0,
                 "t.yaml:7:5: gates[0].condition: expected METRIC(ARGS) >= NUMBER or "
                 "METRIC(ARGS) <= NUMBER, like accuracy(MODEL, GRADER) >= 0.8 (got 'accuracy a "
                 ">= 0.8')");
    expect_error(GATED "  - errors(a, exact) <= 1%\n", NULL, 0,
                 "t.yaml:7:5: gates[0].condition: errors takes (MODEL) (got 2 arguments)");
    expect_error(GATED "  - accuracy(a) >= lots\n", NULL, 0,
                 "t.yaml:7:5: gates[0].condition: expected a number after >= (got 'lots')");
    expect_error(GATED "  - mcnemar_p(a, majority vs judge) <= 0.05\n", NULL, 0,
                 "t.yaml:7:5: gates[0].versus: 'judge' is not among ranking's strategies, so the "
                 "report has none");
    expect_error(GATED "  - acuracy(a) >= 0.8\n", NULL, 0,
                 "t.yaml:7:5: gates[0].condition: 'acuracy' is not one of accuracy, errors, "
                 "cost_usd, mcnemar_p; did you mean 'accuracy'?");
    expect_error(GATED "  - accuracy(zz) >= 0.8\n", NULL, 0,
                 "t.yaml:7:5: gates[0].model: 'zz' is not one of a, b");
    expect_error(GATED "  - {condition: \"accuracy(a) >= 0.8\", metric: errors}\n", NULL, 0,
                 "t.yaml:7:47: gates[0].metric: a gate is a condition or its keys, not both");
    expect_error(GATED "  - {model: a, min: 0.5}\n", NULL, 0,
                 "t.yaml:7:6: gates[0].metric: missing: a gate needs a metric (or is one "
                 "condition, like \"accuracy(MODEL) >= 0.8\")");
}

static void test_gate_errors(void **state)
{
    (void)state;
    /* names of what the report will not have: refused at load, with the line */
    expect_error(GATED "  - {metric: accuracy, model: zz, min: 0.8}\n", NULL, 0,
                 "t.yaml:7:31: gates[0].model: 'zz' is not one of a, b");
    expect_error(GATED "  - {metric: accuracy, model: a, grader: exakt, min: 0.8}\n", NULL, 0,
                 "t.yaml:7:42: gates[0].grader: 'exakt' is not one of exact, numeric; did you "
                 "mean 'exact'?");
    expect_error(GATED "  - {metric: accuracy, model: b, strategy: majority, min: 0.8}\n", NULL, 0,
                 "t.yaml:7:44: gates[0].strategy: model 'b' has n: 1, and with one candidate its "
                 "report has only the strategy first; set n: 2 or more");
    expect_error(GATED "  - {metric: accuracy, model: a, strategy: judge, min: 0.8}\n", NULL, 0,
                 "t.yaml:7:44: gates[0].strategy: 'judge' is not among ranking's strategies, so "
                 "the report has none");
    expect_error(GATED "  - {metric: mcnemar_p, model: a, max: 0.05}\n", NULL, 0,
                 "t.yaml:7:14: gates[0].strategy: missing: a gate on mcnemar_p names the strategy "
                 "compared with first");
    expect_error(GATED "  - {metric: mcnemar_p, model: a, strategy: first, max: 0.05}\n", NULL, 0,
                 "t.yaml:7:45: gates[0].strategy: first is what mcnemar_p compares with; name "
                 "another strategy");
    expect_error(GATED "  - {metric: mcnemar_p, model: a, grader: numeric, strategy: oracle, "
                 "max: 0.05}\n", NULL, 0,
                 "t.yaml:7:43: gates[0].grader: the report's McNemar test compares strategies "
                 "under the first grader ('exact') only");
    /* bounds */
    expect_error(GATED "  - {metric: accuracy, model: a}\n", NULL, 0,
                 "t.yaml:7:14: gates[0].max: missing: a gate needs min, max or both (it passes "
                 "when min <= accuracy <= max)");
    expect_error(GATED "  - {metric: errors, model: a, max: 5}\n", NULL, 0,
                 "t.yaml:7:37: gates[0].max: must be between 0 and 1 for errors, a share (0.01 is "
                 "1%; got 5)");
    expect_error(GATED "  - {metric: cost_usd, min: 2, max: 1}\n", NULL, 0,
                 "t.yaml:7:37: gates[0].max: must not be below min (1 < 2)");
    expect_error(GATED "  - {metric: cost_usd, max: -1}\n", NULL, 0,
                 "t.yaml:7:29: gates[0].max: must not be negative (got -1)");
    /* keys a metric does not read */
    expect_error(GATED "  - {metric: errors, model: a, grader: exact, max: 0.1}\n", NULL, 0,
                 "t.yaml:7:40: gates[0].grader: a gate on errors takes no grader (only accuracy "
                 "and mcnemar_p gates do)");
    expect_error(GATED "  - {metric: errors, max: 0.1}\n", NULL, 0,
                 "t.yaml:7:14: gates[0].model: missing: a gate on errors names the model it "
                 "measures");
    expect_error(GATED "  - {metric: accuracy, model: a, min: 0.8}\n"
                       "  - {metric: accuracy, model: a, min: 0.8}\n", NULL, 0,
                 "t.yaml:8:6: gates[1].name: duplicate name 'accuracy(a, exact) >= 0.8' (gates[0] "
                 "has it too); each needs its own name, it labels results in reports");
    expect_error(GATED "  - {metric: accurcy, model: a, min: 0.8}\n", NULL, 0,
                 "t.yaml:7:14: gates[0].metric: 'accurcy' is not one of accuracy, errors, "
                 "cost_usd, mcnemar_p; did you mean 'accuracy'?");
    expect_error1(GATED "  - {metric: accuracy, model: a, min: 0.8}\n", "gates.0.model=zz",
                  "--set gates.0.model=zz: gates[0].model: 'zz' is not one of a, b");
}

/* mcnemar_p of two strategies, neither of them first: versus names the other (the condition's
 * "STRATEGY vs STRATEGY"); versus: first is the same as none. */
static void test_gate_versus(void **state)
{
    (void)state;
    rs_config_t *c = load_ok(GATED
                             "  - mcnemar_p(a, majority vs oracle) <= 0.05\n"
                             "  - {metric: mcnemar_p, model: a, strategy: consensus, "
                             "versus: majority, max: 0.5}\n"
                             "  - {metric: mcnemar_p, model: a, strategy: oracle, versus: first, "
                             "max: 0.05}\n"
                             "  - mcnemar_p(a, first vs oracle) >= 0.01\n",
                             NULL, 0);
    assert_int_equal(c->n_gates, 4);
    const rs_gate_cfg_t *g = c->gates;
    assert_string_equal(g[0].name, "mcnemar_p(a, majority vs oracle) <= 0.05");
    assert_string_equal(g[0].strategy, "majority");
    assert_string_equal(g[0].versus, "oracle");
    assert_string_equal(g[0].grader, "exact");
    assert_string_equal(g[1].name, "mcnemar_p(a, consensus vs majority) <= 0.5");
    assert_string_equal(g[1].versus, "majority");
    assert_string_equal(g[2].name, "mcnemar_p(a, oracle vs first) <= 0.05");
    assert_null(g[2].versus);
    assert_string_equal(g[3].strategy, "first");
    assert_string_equal(g[3].versus, "oracle");
    rs_config_t *back = round_trip(c);
    assert_string_equal(back->gates[0].versus, "oracle");
    assert_null(back->gates[2].versus);
    rs_config_destroy(&back);
    rs_config_destroy(&c);

    expect_error(GATED "  - {metric: mcnemar_p, model: a, strategy: majority, versus: majorty, "
                 "max: 0.05}\n", NULL, 0,
                 "t.yaml:7:63: gates[0].versus: 'majorty' is not one of first, judge, consensus, "
                 "majority, oracle; did you mean 'majority'?");
    expect_error(GATED "  - mcnemar_p(a, oracle vs oracle) <= 0.05\n", NULL, 0,
                 "t.yaml:7:5: gates[0].versus: 'oracle' is also the strategy; mcnemar_p compares "
                 "two different strategies");
    expect_error(GATED "  - {metric: mcnemar_p, model: a, strategy: first, versus: first, "
                 "max: 0.05}\n", NULL, 0,
                 "t.yaml:7:45: gates[0].strategy: first is what mcnemar_p compares with; name "
                 "another strategy");
    expect_error(GATED "  - {metric: mcnemar_p, model: a, strategy: majority, versus: oracle, "
                 "max: 0.05}\nranking: [first, majority]\n", NULL, 0,
                 "t.yaml:7:63: gates[0].versus: 'oracle' is not among ranking's strategies, so "
                 "the report has none");
    expect_error(GATED "  - mcnemar_p(b, first vs majority) <= 0.05\n", NULL, 0,
                 "t.yaml:7:5: gates[0].versus: model 'b' has n: 1, and with one candidate its "
                 "report has only the strategy first; set n: 2 or more");
    expect_error(GATED "  - {metric: accuracy, model: a, versus: first, min: 0.5}\n", NULL, 0,
                 "t.yaml:7:42: gates[0].versus: a gate on accuracy takes no versus (only "
                 "mcnemar_p gates do)");
}

static void test_destroy_and_names(void **state)
{
    rs_config_destroy(NULL);
    rs_config_t *c = NULL;
    rs_config_destroy(&c);
    assert_string_equal(rs_grader_kind_name(RS_GRADE_NUMERIC), "numeric");
    assert_string_equal(rs_grader_kind_name((rs_grader_kind_t)99), "unknown");
    assert_string_equal(rs_extractor_kind_name(RS_EXTRACT_LAST_NUMBER), "last_number");
    assert_string_equal(rs_extractor_kind_name(RS_EXTRACT_NONE), "none");
    assert_string_equal(rs_grader_kind_name(RS_GRADE_EMBED_SIM), "embed_sim");
    assert_string_equal(rs_strategy_name(RS_STRATEGY_MAJORITY), "majority");
    assert_string_equal(rs_strategy_name(RS_N_STRATEGIES), "unknown");
    assert_string_equal(rs_embedder_kind_name(RS_EMBEDDER_OPENAI), "openai");
    assert_string_equal(rs_embedder_kind_name((rs_embedder_kind_t)7), "unknown");
}

/* ---- request parameters ---- */

#define PARAMS_YAML(provider, params)                                                              \
    "dataset: {path: d.jsonl}\n"                                                                   \
    "models:\n"                                                                                    \
    "  - provider: " provider "\n"                                                                 \
    "    model: m1\n"                                                                              \
    "    params:\n" params

static void test_params_openai(void **state)
{
    (void)state;
    rs_config_t *c = load_ok(PARAMS_YAML("openai",
                                         "      max_completion_tokens: 2000\n"
                                         "      reasoning_effort: high\n"
                                         "      presence_penalty: -0.5\n"
                                         "      seed: 3\n"
                                         "      response_format: {type: json_object}\n"
                                         "      extra_body: {logit_bias: {\"50256\": -100}, "
                                         "user: \"7\", on: true, x: null, r: 0.5, l: [1, a]}\n"
                                         "      extra_headers: {X-Trace: t1, OpenAI-Organization: "
                                         "org-7}\n"),
                             NULL, 0);
    const rs_model_cfg_t *m = &c->models[0];
    assert_int_equal(m->max_completion_tokens, 2000);
    assert_int_equal(m->max_tokens, 0);
    assert_string_equal(m->reasoning_effort, "high");
    assert_true(m->presence_penalty == -0.5 && isnan(m->frequency_penalty));
    assert_true(m->seed == 3 && m->seed_set);
    assert_string_equal(m->response_format, "{\"type\":\"json_object\"}");
    /* YAML's plain scalars read as JSON would; quoted ones stay strings */
    assert_string_equal(m->extra_body, "{\"l\":[1,\"a\"],\"logit_bias\":{\"50256\":-100},"
                                       "\"on\":true,\"r\":0.5,\"user\":\"7\",\"x\":null}");
    assert_string_equal(m->extra_headers[0], "OpenAI-Organization: org-7"); /* sorted */
    assert_string_equal(m->extra_headers[1], "X-Trace: t1");
    assert_null(m->extra_headers[2]);
    /* the stored config reads back the same, seed_set and all */
    char *json = rs_config_to_json(c);
    rs_err_t err = {{0}};
    rs_config_t *b = rs_config_from_json(json, &err);
    if (!b) fail_msg("%s", err.msg);
    assert_string_equal(b->models[0].extra_body, m->extra_body);
    assert_string_equal(b->models[0].extra_headers[1], "X-Trace: t1");
    assert_true(b->models[0].seed_set && b->models[0].presence_penalty == -0.5);
    char *again = rs_config_to_json(b);
    assert_string_equal(json, again);
    free(again);
    free(json);
    rs_config_destroy(&b);
    rs_config_destroy(&c);
    /* unset stays unset through the stored config */
    c = load_ok(MINIMAL, NULL, 0);
    json = rs_config_to_json(c);
    b = rs_config_from_json(json, &err);
    assert_true(isnan(b->models[0].temperature) && b->models[0].max_tokens == 0);
    assert_int_equal(b->models[0].seed_set, 0);
    free(json);
    rs_config_destroy(&b);
    rs_config_destroy(&c);
}

static void test_params_anthropic(void **state)
{
    (void)state;
    rs_config_t *c = load_ok(PARAMS_YAML("anthropic", "      thinking: {budget_tokens: 2048}\n"
                                                      "      top_k: 5\n"),
                             NULL, 0);
    assert_string_equal(c->models[0].thinking_type, "enabled"); /* a budget means enabled */
    assert_int_equal(c->models[0].thinking_budget, 2048);
    assert_int_equal(c->models[0].top_k, 5);
    rs_config_destroy(&c);
}

static void test_params_errors(void **state)
{
    (void)state;
    expect_error(PARAMS_YAML("anthropic", "      max_completion_tokens: 10\n"), NULL, 0,
                 "t.yaml:6:30: models[0].params.max_completion_tokens: the anthropic API has no "
                 "such parameter; use params.max_tokens");
    expect_error(PARAMS_YAML("anthropic", "      seed: 1\n"), NULL, 0,
                 "t.yaml:6:13: models[0].params.seed: the anthropic API has no such parameter; "
                 "params.extra_body sends any field to a server that takes it");
    expect_error(PARAMS_YAML("anthropic", "      thinking: {type: enabled}\n"), NULL, 0, "t.yaml:6:7: models[0].params.thinking.budget_tokens: required when thinking is enabled (the Anthropic API refuses thinking without a budget; at least 1024)");
    expect_error(PARAMS_YAML("anthropic", "      thinking: {budget_tokens: 2048}\n"
                                          "      max_tokens: 2048\n"),
                 NULL, 0, "t.yaml:7:19: models[0].params.max_tokens: must be greater than thinking.budget_tokens (2048): the answer comes after the thinking, within max_tokens");
    expect_error(PARAMS_YAML("openai", "      thinking: {type: enabled}\n"), NULL, 0,
                 "t.yaml:6:7: models[0].params.thinking: the openai API has no such parameter; "
                 "use params.reasoning_effort");
#define CREDENTIAL_REFUSED                                                                         \
    ": a header that may carry a credential cannot be set in the config (it is stored with the "   \
    "run and sent to workers): the key comes from the variable api_key_env names"
    expect_error(PARAMS_YAML("openai", "      extra_headers: {Authorization: Bearer sk-1}\n"),
                 NULL, 0,
                 "t.yaml:6:23: models[0].params.extra_headers.Authorization" CREDENTIAL_REFUSED);
    expect_error(PARAMS_YAML("openai", "      extra_headers: {X-Api-Key: k}\n"), NULL, 0,
                 "t.yaml:6:23: models[0].params.extra_headers.X-Api-Key" CREDENTIAL_REFUSED);
    expect_error(PARAMS_YAML("openai", "      extra_headers: {X-RS-Case: c}\n"), NULL, 0,
                 "t.yaml:6:23: models[0].params.extra_headers.X-RS-Case: X-RS-* headers are "
                 "reasonsaver's own (mock: true sends them)");
    expect_error(PARAMS_YAML("openai", "      extra_headers: {X-A: \"one\\r\\nX-B: two\"}\n"), NULL,
                 0, "t.yaml:6:28: models[0].params.extra_headers.X-A: a value must be one line of at most 1024 bytes");
    expect_error(PARAMS_YAML("openai", "      extra_headers: {X-A: a, x-a: b}\n"), NULL, 0, "t.yaml:6:31: models[0].params.extra_headers.x-a: given twice (header names ignore case)");
    {
        char long_value[1200], yaml[1400];
        memset(long_value, 'v', 1025);
        long_value[1025] = '\0';
        snprintf(yaml, sizeof(yaml), PARAMS_YAML("openai", "      extra_headers: {X-A: %s}\n"),
                 long_value);
        expect_error(yaml, NULL, 0, "t.yaml:6:28: models[0].params.extra_headers.X-A: a value must be one line of at most 1024 bytes");
    }
    expect_error(PARAMS_YAML("openai", "      extra_headers: {Content-Type: text/plain}\n"), NULL, 0,
                 "t.yaml:6:23: models[0].params.extra_headers.Content-Type: reasonsaver sets this header itself");
    expect_error(PARAMS_YAML("anthropic", "      extra_headers: {anthropic-version: x}\n"), NULL, 0,
                 "t.yaml:6:23: models[0].params.extra_headers.anthropic-version: set it with anthropic_version");
    expect_error(PARAMS_YAML("openai", "      extra_headers: {\"bad name\": c}\n"), NULL, 0,
                 "t.yaml:6:23: models[0].params.extra_headers.bad name: not a valid header name");
    expect_error(PARAMS_YAML("openai", "      extra_body: {messages: []}\n"), NULL, 0,
                 "t.yaml:6:20: models[0].params.extra_body.messages: reasonsaver writes this "
                 "field of the request itself");
    expect_error(PARAMS_YAML("openai", "      extra_body: [1]\n"), NULL, 0,
                 "t.yaml:6:7: models[0].params.extra_body: expected a mapping (a JSON object) "
                 "(got a list)");
    expect_error(PARAMS_YAML("openai", "      reasoning_effort: \"\"\n"), NULL, 0,
                 "t.yaml:6:25: models[0].params.reasoning_effort: must be a non-empty word (got "
                 "\"\")");
    expect_error(PARAMS_YAML("openai", "      max_tokens: 0\n"), NULL, 0,
                 "t.yaml:6:19: models[0].params.max_tokens: must be at least 1 (got 0)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_full_config),
        cmocka_unit_test(test_params_openai),
        cmocka_unit_test(test_params_anthropic),
        cmocka_unit_test(test_params_errors),
        cmocka_unit_test(test_example_configs),
        cmocka_unit_test(test_exec_grader),
        cmocka_unit_test(test_unknown_key_suggestion),
        cmocka_unit_test(test_unknown_key_misplaced),
        cmocka_unit_test(test_unknown_key_lists_known),
        cmocka_unit_test(test_redis_url_password_refused),
        cmocka_unit_test(test_redis_password_env),
        cmocka_unit_test(test_redis_tls),
        cmocka_unit_test(test_cache_section),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_lease_after_heartbeat),
        cmocka_unit_test(test_missing_dataset),
        cmocka_unit_test(test_no_models),
        cmocka_unit_test(test_bad_provider),
        cmocka_unit_test(test_duplicate_model_name),
        cmocka_unit_test(test_bad_grader_type),
        cmocka_unit_test(test_bad_extractor),
        cmocka_unit_test(test_bad_enums),
        cmocka_unit_test(test_dataset_format_auto),
        cmocka_unit_test(test_yaml_syntax_error),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_yaml_bounds),
        cmocka_unit_test(test_api_key_env),
        cmocka_unit_test(test_override_scalars),
        cmocka_unit_test(test_override_nested),
        cmocka_unit_test(test_override_list_index),
        cmocka_unit_test(test_override_bad_path),
        cmocka_unit_test(test_override_bad_value),
        cmocka_unit_test(test_concurrency),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_evals_defaults),
        cmocka_unit_test(test_relative_paths),
        cmocka_unit_test(test_load_file_errors),
        cmocka_unit_test(test_string_lists),
        cmocka_unit_test(test_yaml_anchors),
        cmocka_unit_test(test_critique_config),
        cmocka_unit_test(test_critique_defaults),
        cmocka_unit_test(test_judge_errors),
        cmocka_unit_test(test_revise_ranking_embedder_errors),
        cmocka_unit_test(test_new_grader_errors),
        cmocka_unit_test(test_critique_round_trip),
        cmocka_unit_test(test_critique_overrides),
        cmocka_unit_test(test_destroy_and_names),
        cmocka_unit_test(test_gates),
        cmocka_unit_test(test_gate_errors),
        cmocka_unit_test(test_prompt_variants),
        cmocka_unit_test(test_gate_conditions),
        cmocka_unit_test(test_gate_versus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
