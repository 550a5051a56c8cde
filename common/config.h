/* config: a run's configuration, loaded from YAML (libfyaml) into plain structs.
 *
 * Every key lives in one table in config.c with its type, bounds and default; an unknown key is an
 * error that suggests the nearest known one, and every error names file:line:column and the key path.
 * `--set a.b=c` overrides are applied on top of the file before validation. The resolved config can
 * be written back as JSON (stored with the run so that a resume can detect a changed config).
 *
 * Ownership: every string and array reachable from an rs_config_t belongs to it and is freed by
 * rs_config_destroy; callers read the plain fields and never free or keep them past the config. */
#ifndef RS_CONFIG_H
#define RS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef enum rs_dataset_format {
    RS_FORMAT_JSONL = 0, /* any JSONL: fields mapped by dataset.fields */
    RS_FORMAT_EVALS = 1, /* OpenAI evals: input = list of chat messages, ideal = string or list */
    RS_FORMAT_CSV = 2,   /* CSV with a header row (RFC 4180 quoting) */
    RS_FORMAT_TSV = 3,   /* the same with tabs */
    RS_FORMAT_JSON = 4,  /* a JSON array of records (or JSON Lines when the file starts with '{') */
    RS_FORMAT_HF = 5,    /* a Hugging Face datasets folder (common/hfdir.h) */
    RS_FORMAT_AUTO = 6,  /* by the path's extension; the loader resolves it, it is never stored */
} rs_dataset_format_t;

typedef enum rs_on_error {
    RS_ON_ERROR_FAIL = 0, /* a bad line stops the run with file:line */
    RS_ON_ERROR_SKIP = 1, /* a bad line is skipped and counted in the report */
} rs_on_error_t;

typedef struct rs_dataset_cfg {
    char *path;          /* required; relative paths resolve against the config file's directory */
    rs_dataset_format_t format; /* auto (the default) is resolved by the loader from the path */
    char *split;         /* hf: the split to read; NULL = "test", or the only one listed */
    char *input_field;   /* default "question" (jsonl) / "input" (evals) */
    char *target_field;  /* default "answer" (jsonl) / "ideal" (evals) */
    char *id_field;      /* default "id"; missing ids become the 1-based line number */
    char *tags_field;    /* default "tags"; a string or a list of strings; may be absent */
    char *cluster_field; /* optional: cases with equal values form one cluster (a passage with
                          * several questions) for clustered standard errors; NULL = none */
    char *target_regex;  /* optional: group 1 (or the whole match) of this regex is the target */
    int64_t limit;       /* 0 = all cases */
    int64_t shard_size;  /* cases per task at most; default 16 */
    rs_on_error_t on_error;
} rs_dataset_cfg_t;

/* A spending limit (docs/RELIABILITY.md, "The budget"): the coordinator stops handing out cases
 * when what was spent plus an upper bound of what is in flight would pass it. 0 = no limit. */
typedef struct rs_budget_cfg {
    double usd;     /* cost from the models' prices */
    int64_t tokens; /* input and output tokens together */
} rs_budget_cfg_t;
typedef enum rs_adaptive {
    RS_ADAPTIVE_AUTO = 0, /* on for real providers (openai, anthropic), off for sim */
    RS_ADAPTIVE_ON,
    RS_ADAPTIVE_OFF,
} rs_adaptive_t;

typedef struct rs_model_cfg {
    char *name;        /* label in reports; default = model */
    char *provider;    /* "sim", "openai", "anthropic"; required (no silent default) */
    char *model;       /* the provider's model id; required */
    char *base_url;    /* provider default when NULL */
    char *api_key_env; /* name of the environment variable holding the key; never the key itself */
    int64_t n;         /* candidates per case, default 1 */
    /* params: the request's parameters. One left unset is not sent (docs/PROVIDERS.md): NaN,
     * 0 or NULL below means unset. */
    double temperature;   /* NaN: unset */
    double top_p;         /* NaN: unset */
    int64_t max_tokens;   /* 0: unset (anthropic requires one: rs_provider_max_tokens) */
    int64_t max_completion_tokens; /* 0: unset (openai's reasoning models take this one) */
    int64_t seed;         /* default: run.seed (the sim's seed); sent only when seed_set */
    int seed_set;         /* params.seed was given (a stored config writes seed only then) */
    char **stop;          /* NULL-terminated list, may be NULL */
    double presence_penalty, frequency_penalty; /* openai, -2 .. 2; NaN: unset */
    int64_t top_k;        /* anthropic; 0: unset */
    char *reasoning_effort; /* openai ("minimal", "low", "medium", "high", ...); NULL: unset */
    char *response_format;  /* openai: a JSON object's text; NULL: unset */
    char *thinking_type;    /* anthropic thinking.type ("enabled", ...); NULL: no thinking */
    int64_t thinking_budget; /* anthropic thinking.budget_tokens; 0: unset */
    char *extra_body;       /* a JSON object's text merged into the body last; NULL: none */
    char **extra_headers;   /* NULL-terminated "Name: value" lines, sorted by name; never a
                             * credential (refused at load); NULL: none */
    /* sim-only params: */
    double accuracy;      /* probability of a correct answer, default 0.7 */
    double latency_ms;    /* median simulated latency, default 0 */
    double error_rate;    /* probability of a simulated provider error, default 0 */
    double judge_accuracy; /* as a judge: probability its verdict agrees with the truth, 0.8 */
    double self_bias;      /* as a judge of its own wrong answer: P(says correct anyway), 0.2 */
    double fix_rate;       /* revising after a "wrong" critique: P(wrong -> right), 0.3 */
    double break_rate;     /* revising after a "wrong" critique: P(right -> wrong), 0.05 */
    /* HTTP providers: */
    int64_t timeout_ms;         /* whole request, default 120000 */
    int64_t connect_timeout_ms; /* default 10000 */
    int64_t max_retries;        /* retries after the first try, default 5 */
    int64_t retry_base_ms;      /* backoff: full jitter in [0, min(cap, base * 2^attempt)], default 500 */
    int64_t retry_cap_ms;       /* default 30000 */
    int64_t rpm;                /* requests per minute across all workers, 0 = no limit */
    int64_t tpm;                /* tokens per minute across all workers, 0 = no limit */
    char *anthropic_version;    /* anthropic-version header, default "2023-06-01" */
    int mock;                   /* send X-RS-* case headers (reasonsaver-mockllm only), default 0 */
    /* prices, per million tokens, for the report's cost columns: */
    double price_input;         /* prices.input, default 0 */
    double price_output;        /* prices.output, default 0 */
    rs_budget_cfg_t budget;     /* this model's calls (as a judge too); no limit by default */
    /* concurrency: the cluster-wide in-flight cap of cases calling this model, adapted to the
     * server's 429s and 503s (docs/RATELIMITS.md, coordinator/aimd.h): */
    rs_adaptive_t adaptive;     /* concurrency.adaptive: auto resolves to on for openai and
                                 * anthropic, off for sim, when loaded */
    int64_t conc_floor;         /* concurrency.floor, default 1 */
    int64_t conc_ceiling;       /* concurrency.ceiling, default 0: cluster.max_in_flight */
    double conc_factor;         /* concurrency.factor: the cap kept on a 429/503, default 0.7 */
    int64_t conc_step;          /* concurrency.step: added per window of successes, default 1 */
    int64_t conc_cooldown_ms;   /* concurrency.cooldown_ms, default 2000 */
} rs_model_cfg_t;

typedef enum rs_extractor_kind {
    RS_EXTRACT_AUTO = 0,    /* "#### x", then "answer is x" / "A: x", then the last number */
    RS_EXTRACT_LAST_NUMBER, /* the last number in the text */
    RS_EXTRACT_REGEX,       /* group 1 (or whole match) of scoring.extractor.pattern */
    RS_EXTRACT_HASHES,      /* text after the last "####" */
    RS_EXTRACT_ANSWER,      /* text after the last "A:" or "answer is" / "Answer:" */
    RS_EXTRACT_NONE,        /* the whole output, trimmed */
} rs_extractor_kind_t;

typedef enum rs_grader_kind {
    RS_GRADE_EXACT = 0, /* normalised extracted answer equals a target */
    RS_GRADE_INCLUDES,  /* a target occurs in the output (case-insensitive unless case_sensitive) */
    RS_GRADE_REGEX,     /* pattern (or, if none, the target as a regex) matches the output */
    RS_GRADE_NUMERIC,   /* |extracted - target| <= tolerance (absolute) or rel_tolerance*|target| */
    RS_GRADE_FUZZY,     /* 1 - normalised edit distance to a target >= threshold */
    RS_GRADE_JSON_MATCH, /* the answer's JSON object has the target object's keys and values */
    RS_GRADE_JUDGE,     /* a judge's score of the candidate >= threshold (worker-computed) */
    RS_GRADE_EMBED_SIM, /* cosine(candidate, reference) >= threshold (worker-computed) */
    RS_GRADE_EXEC,      /* the user's command decides (worker/execgrade.h, docs/GRADERS.md) */
} rs_grader_kind_t;

typedef struct rs_grader_cfg {
    char *name;         /* default = the type's name */
    rs_grader_kind_t kind;
    char *pattern;      /* regex grader */
    double tolerance;   /* numeric: absolute, default 1e-6 */
    double rel_tolerance; /* numeric: relative, default 0 */
    int case_sensitive; /* exact / includes / regex / fuzzy, default 0 */
    double threshold;   /* fuzzy 0.8, judge 0.5, embed_sim 0.8 by default; 0 for the others */
    char **keys;        /* json_match: NULL-terminated keys to compare; NULL = the target's keys */
    char *judge;        /* judge grader: a judges[] name, default judges[0]'s; NULL otherwise */
    size_t judge_idx;   /* judge grader: index of that judge in cfg->judges (not in the JSON) */
    /* exec grader (docs/GRADERS.md); the other kinds leave these at their defaults: */
    char **command;       /* argv, NULL-terminated, no shell; required for exec. A relative first
                           * element with a '/' is made absolute against the config's directory */
    int64_t concurrency;  /* grader processes per worker, default 4 */
    int64_t timeout_ms;   /* one case's reply at most, default 10000; then the process is killed */
    int64_t memory_mb;    /* RLIMIT_AS of each process, default 2048; 0 = none */
    int64_t cpu_seconds;  /* RLIMIT_CPU of each process over its life, default 3600; 0 = none */
    char **env;           /* names of the worker's variables passed on; NULL = none (PATH is set
                           * to /usr/local/bin:/usr/bin:/bin unless listed) */
} rs_grader_cfg_t;

typedef struct rs_scoring_cfg {
    rs_extractor_kind_t extractor;
    char *extractor_pattern; /* regex extractor */
    rs_grader_cfg_t *graders;
    size_t n_graders;        /* default: one "exact" grader */
} rs_scoring_cfg_t;

/* One verdict string of a judge and the score it stands for. */
typedef struct rs_verdict_choice {
    char *text;   /* non-empty */
    double score; /* in [0, 1] */
} rs_verdict_choice_t;

/* How a judge's text becomes a score in [0, 1]: exactly one of choices and regex is set.
 * choices: the choice whose text occurs last in the reply wins (see rs_verdict_parse in score.h);
 * regex: group 1 (or the whole match) of its last match, a number, scaled from [min, max] to
 * [0, 1] and clamped. A config without a verdict gets the choices {"N": 0, "Y": 1}. */
typedef struct rs_verdict_cfg {
    rs_verdict_choice_t *choices; /* sorted by text (strcmp): no order depends on the file's */
    size_t n_choices;     /* 0 for a regex verdict */
    char *regex;          /* NULL for a choices verdict */
    double min, max;      /* regex: the scale; min default 0, max required; min < max */
} rs_verdict_cfg_t;

/* A judge critiques every candidate. Its prompt is template with these placeholders filled:
 *   {{question}}  the case's raw input: the dataset's input field as read, what {{input}} is in
 *                 prompt.template (evals: the non-system messages); the worker falls back to
 *                 {{prompt}} when a TASK from an older coordinator lacks it
 *   {{prompt}}    the prompt as the model saw it (prompt.template applied), system messages left
 *                 out: one message's content, or "<role>: <content>" blocks for a conversation
 *   {{answer}}    the candidate's output
 *   {{rubric}}    the rubric, one principle per line as "- <principle>" (empty without one)
 *   {{reference}} the case's first target when reference is true (else empty)
 * The judged score (verdict) is compared with threshold: judged correct iff score >= threshold. */
typedef struct rs_judge_cfg {
    char *name;        /* label in reports and sim draws; default = model; unique among judges */
    char *model;       /* the name of the models[] entry that judges; required */
    size_t model_idx;  /* index of that model in cfg->models (resolved at load, not in the JSON) */
    char **rubric;     /* NULL-terminated principles; NULL = none */
    char *template;    /* default RS_JUDGE_TEMPLATE */
    int reference;     /* show the reference answer to the judge; default 0 */
    rs_verdict_cfg_t verdict;
    double threshold;  /* default 0.5, in [0, 1] */
} rs_judge_cfg_t;

/* The built-in judge prompt: a critique ending in a last line "Verdict: Y" or "Verdict: N". */
#define RS_JUDGE_TEMPLATE                                                                          \
    "Review the answer to the question below. Check every step of the reasoning and the final "   \
    "answer.\n\nQuestion:\n{{question}}\n\nAnswer:\n{{answer}}\n\nPrinciples the answer must "  \
    "meet (may be none):\n{{rubric}}\n\nReference answer (may be empty):\n{{reference}}\n\n"       \
    "Write a short critique. Then end with a last line that is exactly \"Verdict: Y\" if the "    \
    "answer is correct, or \"Verdict: N\" if it is not."

/* Critique-then-revise: in round r (1..rounds) the candidate's model rewrites its round r-1 answer
 * given judge's critique of it. The prompt fills {{question}} and {{prompt}} (as for a judge),
 * {{answer}} (the round r-1 output) and {{critique}} (the judge's text). */
typedef struct rs_revise_cfg {
    int64_t rounds;   /* 0 (none) .. 10; rounds > 0 needs a judge */
    char *judge;      /* a judges[] name; default judges[0]'s; NULL when there are no judges */
    size_t judge_idx; /* index of that judge in cfg->judges (resolved at load, not in the JSON) */
    char *template;   /* default RS_REVISE_TEMPLATE */
} rs_revise_cfg_t;

/* The built-in revision prompt: asks for a corrected answer ending in "#### <answer>". */
#define RS_REVISE_TEMPLATE                                                                         \
    "Question:\n{{question}}\n\nYour previous answer:\n{{answer}}\n\nA reviewer's critique of "  \
    "it:\n{{critique}}\n\nRevise your answer in the light of the critique: fix any mistake it "   \
    "points out and keep what is right. Work through the problem again, then end with a last "    \
    "line \"#### <answer>\"."

/* Ranking strategies over one model's candidates for a case (docs/CHAINS.md). */
typedef enum rs_strategy {
    RS_STRATEGY_FIRST = 0, /* candidate 0: the baseline */
    RS_STRATEGY_JUDGE,     /* the highest score of judges[0]; ties go to the lowest k */
    RS_STRATEGY_CONSENSUS, /* the embedding medoid of the candidates' outputs */
    RS_STRATEGY_MAJORITY,  /* the most frequent normalised extracted answer */
    RS_STRATEGY_ORACLE,    /* correct if any candidate is (pass@n, an upper bound) */
    RS_N_STRATEGIES,
} rs_strategy_t;

typedef struct rs_ranking_cfg {
    /* use[s] is 1 when strategy s is on. Default: all, except judge when there are no judges. */
    int use[RS_N_STRATEGIES];
} rs_ranking_cfg_t;

typedef enum rs_embedder_kind {
    RS_EMBEDDER_HASH = 0, /* built-in feature hashing (common/embed.h): offline, deterministic */
    RS_EMBEDDER_OPENAI,   /* an OpenAI-compatible /embeddings endpoint */
} rs_embedder_kind_t;

typedef struct rs_embedder_cfg {
    rs_embedder_kind_t type; /* default hash */
    int64_t dim;             /* hash: dimension, default 256, 8..4096 (openai: unused) */
    char *model;             /* openai: the embedding model id; required there, NULL for hash */
    char *base_url;          /* openai: provider default when NULL */
    char *api_key_env;       /* openai: the variable holding the key (its name, never the key) */
    int64_t timeout_ms;      /* openai: whole request, default 60000 */
    int64_t max_retries;     /* openai: as a model's, default 5 */
    int64_t retry_base_ms;   /* openai: default 500 */
    int64_t retry_cap_ms;    /* openai: default 30000 */
} rs_embedder_cfg_t;

/* TLS to a rediss:// Redis (through a local stunnel client, coordinator/tlsproxy.h). Paths are
 * absolute once loaded: one in the file is relative to the file, one from --set to the current
 * directory. */
typedef struct rs_redis_tls_cfg {
    char *ca_file;   /* CA certificate(s) the server's certificate must chain to; rediss:// needs it */
    char *cert_file; /* client certificate, for a server that checks clients; with key_file */
    char *key_file;  /* its private key */
} rs_redis_tls_cfg_t;
/* cluster.curve: ZeroMQ CURVE on the worker socket. Both paths are set, or neither (off); they are
 * absolute once loaded (relative ones resolve against the config file's directory, or the
 * current directory for --set). Only the paths live here: the key is read by coordinator/curve. */
typedef struct rs_curve_cfg {
    char *secret_key_file;     /* the coordinator's secret key (keys gen's NAME.secret) */
    char *authorized_keys_dir; /* the workers' NAME.pub files; NAME is the worker's identity */
} rs_curve_cfg_t;

typedef struct rs_cluster_cfg {
    int64_t workers;       /* local workers to spawn, default 2 */
    char *bind;            /* default "tcp://127.0.0.1:*" (a free port) */
    char *redis;           /* NULL = embedded redis-server in the run directory; never a password */
    char *redis_password_env; /* the variable holding Redis's password, default REDIS_PASSWORD */
    rs_redis_tls_cfg_t redis_tls;
    int64_t max_in_flight; /* cluster-wide cases in flight, default 4096 */
    int64_t worker_slots;  /* cases a worker runs at once, default 64 */
    int64_t worker_backlog; /* cases a worker holds beyond its slots, each started the moment a
                             * slot frees (dispatch round trips overlap the calls), default 32 */
    int64_t heartbeat_ms;  /* default 1000 */
    int64_t lease_ms;      /* a task is taken back this long after it was sent, default 600000 */
    char *metrics_bind;    /* "host:port" for the Prometheus /metrics endpoint; NULL = off */
    int64_t max_response_bytes; /* a model response body above this is the call's error
                                 * response_too_large; default 4 MiB, 1 KiB to 64 MiB */
    int64_t max_rejects_per_minute; /* a peer rejected more often is cut off, default 100 */
    rs_curve_cfg_t curve;  /* authenticated, encrypted workers; off when secret_key_file is NULL */
} rs_cluster_cfg_t;

/* The response cache (docs/CACHE.md): which calls read and write it, for how long an entry lives
 * and how large the cache may grow; where it lives (redis, NULL: the run's Redis when it is
 * external, else a private redis-server in <out_dir>/cache/) and the variable holding its
 * password (the worker's environment, through --allow-env). */
typedef enum rs_cache_mode {
    RS_CACHE_OFF = 0,
    RS_CACHE_READ,       /* hits are used, nothing is written */
    RS_CACHE_WRITE,      /* every call is made, successes are written */
    RS_CACHE_READ_WRITE, /* the default */
} rs_cache_mode_t;

typedef struct rs_cache_cfg {
    rs_cache_mode_t mode;
    double ttl_days;    /* an entry's life, default 14; fractions allowed (tests use seconds) */
    double max_mb;      /* the cap on stored bytes, default 1024; the writer evicts the oldest */
    char *redis;        /* NULL = resolved by the coordinator (see above); never a password */
    char *password_env; /* default RS_CACHE_PASSWORD */
} rs_cache_cfg_t;

#define RS_CACHE_PASSWORD_ENV "RS_CACHE_PASSWORD"

/* The mode's name as the config spells it ("off", "read", "write", "read_write"). */
const char *rs_cache_mode_name(rs_cache_mode_t mode);

typedef struct rs_prompt_cfg {
    char *name;     /* prompts[] entries only (required there); NULL in prompt */
    char *system;   /* optional system message */
    char *template; /* user message with {{field}} placeholders; default "{{input}}" */
} rs_prompt_cfg_t;

/* The name the single prompt (prompt:, when no prompts: list is given, or when given next to one)
 * goes by in reports. */
#define RS_PROMPT_DEFAULT_NAME "default"
#define RS_MAX_PROMPTS 64 /* prompt variants in one run */
#define RS_MAX_EPOCHS 100 /* epochs: K */

typedef struct rs_run_cfg {
    char *name;    /* default "run" */
    int64_t seed;  /* default 1 */
    char *out_dir; /* default "runs" */
} rs_run_cfg_t;

typedef struct rs_report_cfg {
    int json, markdown, html, jsonl; /* formats; default json, markdown, jsonl on */
    int spans;                       /* record a trace per case (docs/TRACING.md), default 1 */
    int near_duplicates;             /* near-duplicate prompts pass in the report, default 0 */
    char *otlp;                      /* collector URL: export traces live during the run */
} rs_report_cfg_t;

/* A gate (docs/GATES.md): a condition on the finished run's report that CI can fail on. The
 * measured value is read from the report object itself (coordinator/gates.h), so a gate never
 * disagrees with report.json. At least one of min and max is set (NAN when unset); the gate
 * passes when min <= value <= max. Every name is checked against the config when it is loaded. */
typedef enum rs_gate_metric {
    RS_GATE_ACCURACY = 0, /* models[model] grader's accuracy (of strategy, when given) */
    RS_GATE_ERRORS,       /* models[model].errors / cases: the share of cases whose call failed */
    RS_GATE_COST_USD,     /* models[model].cost_usd, or without model the sum over the models */
    RS_GATE_MCNEMAR_P,    /* models[model] strategy's mcnemar_vs_first.exact_p, or with versus
                           * its mcnemar_pairs entry's exact_p (first grader) */
} rs_gate_metric_t;

typedef struct rs_gate_cfg {
    char *name;               /* label in messages, report.json and JUnit; default: the condition */
    rs_gate_metric_t metric;  /* required */
    char *model;              /* a models[] name; required except for cost_usd */
    char *grader;             /* accuracy: default graders[0]; mcnemar_p: graders[0] only */
    char *strategy;           /* accuracy: optional; mcnemar_p: required, not first (unless
                               * versus is set) */
    char *versus;             /* mcnemar_p: the other strategy; NULL = first */
    double min, max;          /* bounds, NAN when unset */
} rs_gate_cfg_t;

typedef struct rs_config {
    char *source_path; /* the YAML file, or "<string>" */
    char *base_dir;    /* directory of the YAML file, for relative dataset paths */
    rs_run_cfg_t run;
    rs_dataset_cfg_t dataset;
    rs_model_cfg_t *models;
    size_t n_models;
    rs_judge_cfg_t *judges; /* n_judges of them; 0 = no critique (judges may then be NULL) */
    size_t n_judges;
    rs_revise_cfg_t revise;
    rs_ranking_cfg_t ranking;
    rs_embedder_cfg_t embedder;
    rs_prompt_cfg_t prompt;
    rs_prompt_cfg_t *prompts; /* n_prompts named variants; 0 = prompt alone (rs_config_variant) */
    size_t n_prompts;
    int64_t epochs;           /* every case asked this many times per candidate; default 1 */
    rs_scoring_cfg_t scoring;
    rs_cluster_cfg_t cluster;
    rs_cache_cfg_t cache;
    rs_report_cfg_t report;
    rs_budget_cfg_t budget; /* the whole run: every model and the remote embedder together */
    rs_gate_cfg_t *gates;   /* n_gates of them; 0 = none (gates may then be NULL) */
    size_t n_gates;
} rs_config_t;

/* The run's prompt variants: prompts[] in order, preceded by prompt (named "default") when prompt
 * is set to anything but its defaults; prompt alone when prompts[] is empty. Every case runs
 * under every variant (docs/EXPERIMENTS.md). */
size_t rs_config_variants(const rs_config_t *cfg);
/* Variant i (< rs_config_variants) and its name. */
const rs_prompt_cfg_t *rs_config_variant(const rs_config_t *cfg, size_t i, const char **name);

/* Loads path, applies overrides ("a.b=c" strings, n_overrides of them) and validates.
 * Returns a new config (the caller owns it: rs_config_destroy), or NULL with err naming
 * file:line:column and the key path ("configs/x.yaml:12:5: models[0].params.accuracy: must be
 * between 0 and 1 (got 1.5)"); an error about an overridden value starts "--set a.b=c: " instead.
 *
 * Overrides edit the YAML document before validation, so their values are checked like the file's.
 * The path is dot-separated keys; a list item is picked by index ("models.0.n=2"), by its name or
 * model ("models.sim-weak.n=2"), or appended with index == length. Missing mappings (and lists,
 * before an index) are created. The value is one plain YAML scalar taken verbatim (numbers stay
 * numbers, "#### (.*)" and "{{input}}" need no quoting, an empty value or ~ means "the default"),
 * except that "[a, b]" and "{k: v}" are parsed as YAML flow collections. Null anywhere in the
 * file also means "the default". A relative dataset.path from an override is made absolute
 * against the current directory; one from the file stays relative to base_dir. */
rs_config_t *rs_config_load(const char *path, const char *const *overrides, size_t n_overrides,
                            rs_err_t *err);
/* The same from a YAML string; name is used in error messages in place of a path, and base_dir
 * (the current directory when NULL) is where a relative dataset.path starts. */
rs_config_t *rs_config_load_string(const char *yaml, const char *name, const char *base_dir,
                                   const char *const *overrides, size_t n_overrides, rs_err_t *err);
/* Frees everything and sets *cfg to NULL; NULL and &NULL are fine. */
void rs_config_destroy(rs_config_t **cfg);

/* The resolved config (every default filled in) as a JSON text; caller frees. Stable key order
 * (sorted), so its SHA-256 identifies the config. The dataset path is written as resolved
 * (absolute). It holds only the NAMES of API-key variables, never a key. */
char *rs_config_to_json(const rs_config_t *cfg);
/* Loads a config back from rs_config_to_json's output (used by resume). NULL with err on failure. */
rs_config_t *rs_config_from_json(const char *json, rs_err_t *err);

/* The dataset path resolved against base_dir, absolute (through realpath when the file exists);
 * caller frees. NULL when no path is set. */
char *rs_config_dataset_path(const rs_config_t *cfg);

/* The file format a dataset file's name gives by its extension, after any .gz / .zst / .zstd:
 * jsonl (.jsonl, .ndjson), json, csv, tsv (.tsv, .tab). 0, or -1 when it gives none of them. */
int rs_config_format_of(const char *path, rs_dataset_format_t *format);

/* Index of the model / judge with this name, or -1. */
int rs_config_model_index(const rs_config_t *cfg, const char *name);
int rs_config_judge_index(const rs_config_t *cfg, const char *name);

/* What a run embeds, for consensus and embed_sim (docs/CHAINS.md): nothing; the generations
 * (consensus, when there is a choice: several candidates of a model, or several models); or the
 * generations, their revisions and the targets (an embed_sim grader). */
typedef enum rs_embeds {
    RS_EMBEDS_NONE = 0,
    RS_EMBEDS_GENERATIONS,
    RS_EMBEDS_ALL,
} rs_embeds_t;
rs_embeds_t rs_config_embeds(const rs_config_t *cfg);

/* Names as the config spells them (static storage); "unknown" out of range. */
const char *rs_grader_kind_name(rs_grader_kind_t kind);
const char *rs_extractor_kind_name(rs_extractor_kind_t kind);
const char *rs_strategy_name(rs_strategy_t s);
const char *rs_embedder_kind_name(rs_embedder_kind_t kind);
const char *rs_gate_metric_name(rs_gate_metric_t metric);

#endif
