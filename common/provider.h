/* provider: the model APIs as codecs without I/O — build the HTTP request (URL, headers, JSON body)
 * for a model call, parse the response, and classify an attempt's outcome (success, retry, fail
 * fast) with a message a user can act on. The worker's HTTP engine moves the bytes; everything
 * about what the bytes mean lives here, so unit tests and fuzzers reach it directly.
 *
 * A provider is one row of a table of function pointers (rs_provider_find): `sim` answers
 * in-process (simulate), `openai` and `anthropic` speak HTTP (build_chat / parse_chat).
 *
 * Keys: a builder receives the API key and puts it in a HEADER only, never in the URL or the
 * body. rs_http_req_t's headers therefore hold a secret: never log them, and release them with
 * rs_http_req_cleanup, which wipes them. Nothing else in this module ever sees the key, except
 * rs_provider_redact, which blanks it out of text a server sent back. */
#ifndef RS_PROVIDER_H
#define RS_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "dataset.h"
#include "sim.h"
#include "util.h"

#define RS_PROVIDER_BODY_CAP (4u << 20) /* a response body above 4 MiB is an error, unless the
                                         * run's cluster.max_response_bytes says otherwise */
#define RS_PROVIDER_EXCERPT 200          /* bytes of a body quoted in an error, at most */
#define RS_PROVIDER_RETRY_AFTER_MAX_MS (10 * 60 * 1000) /* a longer Retry-After is cut to this */
/* Anthropic requires max_tokens: without params.max_tokens this is sent (plus the thinking
 * budget, which max_tokens must exceed). Also the output bound a model without any max gets in
 * estimates and tpm pacing (rs_provider_output_bound). */
#define RS_PROVIDER_DEFAULT_MAX_TOKENS 4096

/* One HTTP request, ready to send: POST url with body. Everything is heap and owned by the
 * struct; headers are "Name: value" lines and may hold the API key. */
typedef struct rs_http_req {
    char *url;
    char *body;
    size_t body_len;
    char **headers;
    size_t n_headers;
} rs_http_req_t;

/* Frees everything (wiping header bytes first: they may hold a key) and zeroes the struct. */
void rs_http_req_cleanup(rs_http_req_t *r);

/* What a critique or a revision request tells reasonsaver-mockllm (models with mock: true only,
 * as X-RS-* headers), so that it answers as rs_sim_judge / rs_sim_revise would in-process. */
typedef struct rs_chat_chain {
    const char *stage;         /* "critique" or "revise" */
    int round;                 /* critique: the answer judged; revise: the revision written */
    const char *judge;         /* critique: the judge's name */
    const char *cand_model;    /* critique: the judged candidate's model */
    int truth;                 /* critique: the answer judged is correct; revise: the one revised */
    int is_self;               /* critique: the judge's model wrote the answer */
    int critique_said_correct; /* revise: the critique behind it judged the answer correct */
    const char *prev_text;     /* revise: the answer revised */
} rs_chat_chain_t;

/* A generation request: candidates k .. k+n-1 of case c from model m. */
typedef struct rs_chat_req {
    const rs_model_cfg_t *model;
    const rs_case_t *c;
    int k;               /* the first candidate's number (X-RS-Candidate for mock models) */
    int n;               /* choices asked of this one request: 1 .. provider->max_choices */
    const char *api_key; /* NULL or "": no key header is sent (local servers) */
    const rs_chat_chain_t *chain; /* a critique's or revision's step, for mock models; or NULL */
} rs_chat_req_t;

/* One choice of a response. index is its position among the request's choices (0 .. n-1). */
typedef struct rs_choice {
    int index;
    char *text;          /* heap; "" when the model said nothing (never NULL after a parse) */
    char *finish_reason; /* heap as the API wrote it ("stop", "length", "end_turn", ...) or NULL */
    char *thinking;      /* heap: the model's reasoning text (Anthropic thinking blocks, an
                          * OpenAI-compatible message's reasoning_content), or NULL; never the
                          * answer */
} rs_choice_t;

typedef struct rs_chat_resp {
    rs_choice_t *choices; /* in the order the server sent them */
    size_t n_choices;
    int64_t input_tokens;  /* usage of the whole request; 0 when the server did not say */
    int64_t output_tokens; /* reasoning tokens included, as both APIs count them */
    int64_t reasoning_tokens; /* usage.completion_tokens_details.reasoning_tokens; 0 when absent
                               * (Anthropic counts thinking in output_tokens only) */
    char *model;              /* heap: the model id the server says it served, or NULL */
    char *system_fingerprint; /* heap, or NULL when absent */
} rs_chat_resp_t;

void rs_chat_resp_cleanup(rs_chat_resp_t *r);

/* An embeddings request: one vector per input. */
typedef struct rs_embed_req {
    const rs_model_cfg_t *model;
    const char *const *inputs;
    size_t n_inputs;
    const char *api_key;
} rs_embed_req_t;

typedef struct rs_embed_resp {
    double *vecs;  /* n * dim values, row i is input i's vector */
    size_t n, dim;
    int64_t input_tokens;
} rs_embed_resp_t;

void rs_embed_resp_cleanup(rs_embed_resp_t *r);

/* The provider table's row. Builders and parsers return 0, or -1 with err saying what is wrong
 * (a parser names the field: "choices[1].message.content must be a string, not an integer"). */
typedef struct rs_provider {
    const char *name;             /* the config's provider value */
    const char *default_base_url; /* used when the model has no base_url; NULL for sim */
    int max_choices;              /* choices one request may ask for (OpenAI's n) */
    /* sim only: answers candidate k in-process (rs_sim_generate with the model's seed). */
    void (*simulate)(const rs_model_cfg_t *m, const rs_case_t *c, int k, rs_sim_reply_t *out);
    int (*build_chat)(const rs_chat_req_t *r, rs_http_req_t *out, rs_err_t *err);
    int (*parse_chat)(const char *body, size_t len, rs_chat_resp_t *out, rs_err_t *err);
    /* NULL where the API has no embeddings endpoint (anthropic). */
    int (*build_embed)(const rs_embed_req_t *r, rs_http_req_t *out, rs_err_t *err);
    int (*parse_embed)(const char *body, size_t len, rs_embed_resp_t *out, rs_err_t *err);
} rs_provider_t;

/* What the request's max_tokens is for model m: params.max_tokens, else (anthropic, which
 * requires one) RS_PROVIDER_DEFAULT_MAX_TOKENS plus the thinking budget; 0 when none is sent. */
int64_t rs_provider_max_tokens(const rs_model_cfg_t *m);

/* The most output tokens one answer of m can have, for estimates and pacing: max_completion_tokens,
 * else the max_tokens sent, else RS_PROVIDER_DEFAULT_MAX_TOKENS (no max sent: the server's own
 * limit applies, and this bound is an assumption). */
int64_t rs_provider_output_bound(const rs_model_cfg_t *m);

/* The response-cache key (common/cachekey.h) of request hr, built for candidates k.. of model m
 * in epoch epoch of the case: the one place that says what of a model and a request goes into
 * the key, for the worker that looks the call up and the estimate that counts what the cache
 * holds. out: 64 hex and a NUL. */
void rs_provider_cache_key(const rs_model_cfg_t *m, const rs_http_req_t *hr, int k, uint32_t epoch,
                           char *out);

/* The seed a request of m for case c sends: params.seed (run.seed when not set) plus the case's
 * epoch plus RS_MAX_EPOCHS times its prompt variant, so that each epoch and each prompt is a
 * different sample (docs/EXPERIMENTS.md). 1 when a seed is sent (params.seed is set, or the
 * epoch or variant is not 0), 0 when none is; *seed is set either way (the simulator draws from
 * it). c may be NULL (epoch and variant 0). */
int rs_provider_seed(const rs_model_cfg_t *m, const rs_case_t *c, int64_t *seed);

/* 1 when a header of this name may carry a credential: its name holds auth, key, token, secret,
 * passw, cookie, session or credential in any case (Authorization, x-api-key, Cookie...). Such a
 * header is never set from the config, and its value is never shown. */
int rs_provider_header_credential(const char *name);

/* The row for a provider name, or NULL when there is none. */
const rs_provider_t *rs_provider_find(const char *name);

/* {base_url or the provider's default, without trailing '/'}{path}; heap. */
char *rs_provider_url(const rs_provider_t *p, const rs_model_cfg_t *m, const char *path);

/* ---- outcomes ---- */

/* What became of a transfer below HTTP (the engine maps its library's codes onto these). */
typedef enum rs_net {
    RS_NET_OK = 0,    /* a response arrived, whatever its status */
    RS_NET_TIMEOUT,   /* no complete response within connect_timeout_ms / timeout_ms */
    RS_NET_CONNECT,   /* could not resolve or connect, or the connection broke mid-transfer */
    RS_NET_TOO_LARGE, /* the body passed the cap (cluster.max_response_bytes) */
    RS_NET_TLS,       /* certificate or TLS failure: trying again will not help */
    RS_NET_OTHER,     /* anything else (bad URL, unsupported protocol, ...) */
} rs_net_t;

/* One attempt as the engine saw it; every pointer may be NULL. */
typedef struct rs_http_outcome {
    rs_net_t net;
    const char *net_detail;   /* the transport's own words */
    long status;              /* HTTP status, 0 without a response */
    const char *content_type; /* the Content-Type header */
    const char *body;
    size_t body_len;
    const char *retry_after;  /* the Retry-After header */
} rs_http_outcome_t;

/* Why an attempt failed. reason is a short machine code for counting ("http_401", "http_429",
 * "http_500", "timeout", "connect", "response_too_large", "tls", "network", "bad_response",
 * "wrong_content_type", "no_key", "bad_request_body"); message is one line for the result
 * record that names the model and the likely cause. */
typedef struct rs_failure {
    int retry; /* 1: another attempt may succeed (408, 409, 429, 5xx, timeout, connect) */
    char reason[32];
    char message[640];
    int64_t retry_after_ms; /* the server's Retry-After as a delay, -1 when it sent none */
} rs_failure_t;

/* Classifies one attempt of a call to model m. Returns 0 when it is a usable response (a 2xx
 * status with a JSON body, or with no Content-Type at all), or -1 with f filled. now_wall_ms is
 * the wall clock, for a Retry-After given as an HTTP-date. Never puts a request header in f.
 * A 400 whose error names the parameter refused (OpenAI's error.param) says so: "model X: the
 * API refused parameter 'max_tokens' (400): <its message>; use params.max_completion_tokens in
 * place of params.max_tokens" when the API names the one to use ("Use 'Y' instead"). */
int rs_provider_classify(const rs_model_cfg_t *m, const rs_http_outcome_t *o, int64_t now_wall_ms,
                         rs_failure_t *f);

/* Fills f for a 2xx body that a parser rejected: reason "bad_response", not retried; message
 * "model X: malformed response: <why>; body: \"<excerpt>\"". */
void rs_provider_bad_response(const rs_model_cfg_t *m, const char *why, const char *body,
                              size_t len, rs_failure_t *f);

/* Fills f with reason code and message, not retried (no_key, bad_request_body, ...). */
void rs_provider_fail(rs_failure_t *f, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The message of an error body: error.message (OpenAI, Anthropic), error as a string, message
 * or detail (vLLM, FastAPI servers), else an excerpt of the body. Written into out (size > 0),
 * printable, at most RS_PROVIDER_EXCERPT bytes. */
void rs_provider_error_message(const char *body, size_t len, char *out, size_t size);

/* The first bytes of body as printable ASCII: control and non-ASCII bytes become '?', and a cut
 * body ends in "...". At most min(size - 1, RS_PROVIDER_EXCERPT) bytes plus the NUL. */
void rs_provider_excerpt(const char *body, size_t len, char *out, size_t size);

/* Parses a Retry-After value: delta-seconds ("120") or an HTTP-date ("Wed, 21 Oct 2015 07:28:00
 * GMT", also the obsolete RFC 850 and asctime forms). Returns 0 with *delay_ms (>= 0; a date in
 * the past is 0; cut to RS_PROVIDER_RETRY_AFTER_MAX_MS), or -1 when the value is neither. */
int rs_provider_retry_after(const char *value, int64_t now_wall_ms, int64_t *delay_ms);

/* Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^attempt)], drawn from
 * rnd (any 64 random bits). attempt 0 is the first retry. Never overflows. */
int64_t rs_provider_backoff_ms(int64_t base_ms, int64_t cap_ms, int attempt, uint64_t rnd);

/* Overwrites every occurrence of secret in s with '*' (secrets shorter than 4 bytes are left
 * alone: they would match ordinary text). For text a server sent back, which may echo the key. */
void rs_provider_redact(char *s, const char *secret);

/* Appends s percent-encoded (every byte but A-Z a-z 0-9 - . _ ~ becomes %XX) to b. */
void rs_pct_encode(rs_buf_t *b, const char *s);

#endif
