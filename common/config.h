/* config: a run's configuration, loaded from YAML (libfyaml) into plain structs.
 *
 * Every key lives in one table in config.c with its type, bounds and default; an unknown key is an
 * error that suggests the nearest known one, and every error names file:line:column and the key path.
 * `--set a.b=c` overrides are applied on top of the file before validation. The resolved config can
 * be written back as JSON (stored with the run so that a resume can detect a changed config). */
#ifndef RS_CONFIG_H
#define RS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef enum rs_dataset_format {
    RS_FORMAT_JSONL = 0, /* any JSONL: fields mapped by dataset.fields */
    RS_FORMAT_EVALS = 1, /* OpenAI evals: input = list of chat messages, ideal = string or list */
} rs_dataset_format_t;

typedef enum rs_on_error {
    RS_ON_ERROR_FAIL = 0, /* a bad line stops the run with file:line */
    RS_ON_ERROR_SKIP = 1, /* a bad line is skipped and counted in the report */
} rs_on_error_t;

typedef struct rs_dataset_cfg {
    char *path;          /* required; relative paths resolve against the config file's directory */
    rs_dataset_format_t format;
    char *input_field;   /* default "question" (jsonl) / "input" (evals) */
    char *target_field;  /* default "answer" (jsonl) / "ideal" (evals) */
    char *id_field;      /* default "id"; missing ids become the 1-based line number */
    char *tags_field;    /* default "tags"; a string or a list of strings; may be absent */
    char *target_regex;  /* optional: group 1 (or the whole match) of this regex is the target */
    int64_t limit;       /* 0 = all cases */
    int64_t shard_size;  /* cases per task at most; default 16 */
    rs_on_error_t on_error;
} rs_dataset_cfg_t;

typedef struct rs_model_cfg {
    char *name;        /* label in reports; default = model */
    char *provider;    /* "sim", "openai", "anthropic"; required (no silent default) */
    char *model;       /* the provider's model id; required */
    char *base_url;    /* provider default when NULL */
    char *api_key_env; /* name of the environment variable holding the key; never the key itself */
    int64_t n;         /* candidates per case, default 1 */
    /* params: */
    double temperature;   /* default 0 */
    double top_p;         /* default 1 */
    int64_t max_tokens;   /* default 512 */
    int64_t seed;         /* default: run.seed */
    char **stop;          /* NULL-terminated list, may be NULL */
    /* sim-only params: */
    double accuracy;      /* probability of a correct answer, default 0.7 */
    double latency_ms;    /* median simulated latency, default 0 */
    double error_rate;    /* probability of a simulated provider error, default 0 */
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
} rs_grader_kind_t;

typedef struct rs_grader_cfg {
    char *name;         /* default = the type's name */
    rs_grader_kind_t kind;
    char *pattern;      /* regex grader */
    double tolerance;   /* numeric: absolute, default 1e-6 */
    double rel_tolerance; /* numeric: relative, default 0 */
    int case_sensitive; /* exact / includes / regex, default 0 */
} rs_grader_cfg_t;

typedef struct rs_scoring_cfg {
    rs_extractor_kind_t extractor;
    char *extractor_pattern; /* regex extractor */
    rs_grader_cfg_t *graders;
    size_t n_graders;        /* default: one "exact" grader */
} rs_scoring_cfg_t;

typedef struct rs_cluster_cfg {
    int64_t workers;       /* local workers to spawn, default 2 */
    char *bind;            /* default "tcp://127.0.0.1:*" (a free port) */
    char *redis;           /* NULL = embedded redis-server in the run directory */
    int64_t max_in_flight; /* cluster-wide cases in flight, default 4096 */
    int64_t worker_slots;  /* cases a worker holds in flight, default 64 */
    int64_t heartbeat_ms;  /* default 1000 */
    int64_t lease_ms;      /* a task's lease without word from its worker, default 30000 */
    char *metrics_bind;    /* "host:port" for the Prometheus /metrics endpoint; NULL = off */
} rs_cluster_cfg_t;

typedef struct rs_prompt_cfg {
    char *system;   /* optional system message */
    char *template; /* user message with {{field}} placeholders; default "{{input}}" */
} rs_prompt_cfg_t;

typedef struct rs_run_cfg {
    char *name;    /* default "run" */
    int64_t seed;  /* default 1 */
    char *out_dir; /* default "runs" */
} rs_run_cfg_t;

typedef struct rs_report_cfg {
    int json, markdown, html, jsonl; /* formats; default json, markdown, jsonl on */
    int spans;                       /* record a trace per case (docs/TRACING.md), default 1 */
} rs_report_cfg_t;

typedef struct rs_config {
    char *source_path; /* the YAML file, or "<string>" */
    char *base_dir;    /* directory of the YAML file, for relative dataset paths */
    rs_run_cfg_t run;
    rs_dataset_cfg_t dataset;
    rs_model_cfg_t *models;
    size_t n_models;
    rs_prompt_cfg_t prompt;
    rs_scoring_cfg_t scoring;
    rs_cluster_cfg_t cluster;
    rs_report_cfg_t report;
} rs_config_t;

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

const char *rs_grader_kind_name(rs_grader_kind_t kind);
const char *rs_extractor_kind_name(rs_extractor_kind_t kind);

#endif
