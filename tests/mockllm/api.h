/* api: the three model APIs reasonsaver-mockllm speaks (OpenAI chat completions and embeddings,
 * Anthropic messages): request parsing and reply building as pure functions of bytes, no I/O, so
 * unit tests reach every shape directly. Every reply text comes from the sim (common/sim.h).
 *
 * Ownership: every char * a builder returns is a heap JSON text the caller frees; parsed requests
 * own copies of their strings (mock_*_cleanup frees them). */
#ifndef MOCK_API_H
#define MOCK_API_H

#include <stddef.h>
#include <jansson.h>
#include <stdint.h>

#include "dataset.h"
#include "util.h"

#define MOCK_MAX_CHOICES 128 /* OpenAI's n: far above any sane request, bounds the reply */
#define MOCK_MAX_INPUTS 2048 /* embedding inputs per request (OpenAI's own limit) */
#define MOCK_MAX_EMBED_DIM 4096

/* What the sim and the embedder need, from the command line. */
typedef struct mock_sim_cfg {
    double accuracy; /* --accuracy: probability of a correct answer */
    int64_t seed;    /* --seed: the sim's seed */
    int embed_dim;   /* --embed-dim: embedding length unless a request asks for `dimensions` */
    double judge_accuracy, self_bias; /* as a judge (rs_sim_judge; docs/SIM.md) */
    double fix_rate, break_rate;      /* as a reviser (rs_sim_revise) */
    int64_t filler; /* --reply-filler: bytes of "12 apples and 7 pears. " before each answer */
    const char *serve_model;  /* --serve-model: the model id a reply names, in place of the one
                               * asked for; NULL: the one asked for */
    double serve_model_rate;  /* --serve-model-rate: the share of cases (by case id) it names it */
} mock_sim_cfg_t;

/* The reasoning a reply carries when the request asks for it (MOCKLLM.md, "Reasoning"): always
 * this text, whose "#### 424242" is never the case's answer, so a client that graded the thinking
 * would be seen to. Its tokens are ceil(bytes / 4), added to the output tokens. */
#define MOCK_THINKING                                                                              \
    "Simulated reasoning: a first guess is 424242, which needs checking.\n#### 424242"
#define MOCK_SYSTEM_FINGERPRINT "fp_reasonsaver_mock" 

/* A case's identity from the X-RS-* headers a reasonsaver worker sends, percent-decoded.
 * NULL when the header is absent; candidate is 0 without X-RS-Candidate. A critique or a revision
 * also says its step (rs_chat_chain_t in common/provider.h): stage "critique" or "revise", and
 * what rs_sim_judge / rs_sim_revise need; stage NULL for a generation. */
typedef struct mock_ids {
    char *model;
    char *case_id;
    char *target;
    int64_t candidate;
    char *stage;        /* X-RS-Stage */
    int64_t round;      /* X-RS-Round */
    char *judge;        /* X-RS-Judge */
    char *judged_model; /* X-RS-Judged-Model */
    int truth;          /* X-RS-Truth */
    int is_self;        /* X-RS-Self */
    int critique_said_correct; /* X-RS-Critique-Correct */
    char *prev;         /* X-RS-Prev */
} mock_ids_t;

/* The chain headers of a request (header value or NULL each), in mock_ids_t's order. */
typedef struct mock_chain_headers {
    const char *stage, *round, *judge, *judged_model, *truth, *is_self, *critique_said_correct,
        *prev;
} mock_chain_headers_t;

/* A chat request of either API. For Anthropic the `system` prompt is msgs[0] with role "system",
 * so the case id and the token count cover it exactly as they would in the in-process sim. */
typedef struct mock_chat_req {
    char *model;
    rs_chat_msg_t *msgs;
    size_t n_msgs;
    int64_t n;          /* choices: OpenAI's n (default 1); always 1 for Anthropic */
    int64_t max_tokens; /* 0 when absent; validated, not applied (the sim's text is short) */
    int max_tokens_field; /* the body has "max_tokens" itself (not max_completion_tokens) */
    int reasoning;      /* reasoning asked for: reasoning_effort (OpenAI) or a thinking whose
                         * type is not "disabled" (Anthropic) */
    int seed_set;       /* the body has "seed": the sim draws from it instead of --seed */
    int64_t seed;
} mock_chat_req_t;

typedef struct mock_embed_req {
    char *model;
    char **inputs;
    size_t n_inputs;
    int dim;    /* `dimensions` when given, else 0 (use the configured dimension) */
    int base64; /* encoding_format "base64": little-endian float32, as the openai SDK asks */
} mock_embed_req_t;

typedef enum mock_api {
    MOCK_API_OPENAI = 0,    /* {"error": {"message", "type", "param", "code"}} */
    MOCK_API_ANTHROPIC = 1, /* {"type": "error", "error": {"type", "message"}} */
} mock_api_t;

/* Request parsers: 0, or -1 with err naming the field ("messages[2].content: must be a string or
 * a list of content parts"); on failure out holds nothing to free. */
int mock_chat_parse(const char *body, size_t len, mock_chat_req_t *out, rs_err_t *err);
int mock_messages_parse(const char *body, size_t len, mock_chat_req_t *out, rs_err_t *err);
int mock_embed_parse(const char *body, size_t len, mock_embed_req_t *out, rs_err_t *err);
void mock_chat_req_cleanup(mock_chat_req_t *r);
void mock_embed_req_cleanup(mock_embed_req_t *r);

/* Decodes %XX escapes ("+" stays "+": these are headers, not forms). Returns a heap string, or
 * NULL when an escape is malformed or decodes to a NUL byte. */
char *mock_pct_decode(const char *in);
/* Fills ids from the raw header values (NULL = absent). 0, or -1 with err naming the header. */
int mock_ids_parse(const char *model, const char *case_id, const char *candidate,
                   const char *target, mock_ids_t *out, rs_err_t *err);
void mock_ids_cleanup(mock_ids_t *ids);
/* Adds the chain headers to ids (parsed by mock_ids_parse). Without X-RS-Stage there is nothing
 * to add; with it, stage must be "critique" (with X-RS-Judge and X-RS-Judged-Model) or "revise"
 * (with X-RS-Prev), round a non-negative integer and the flags "0" or "1". 0, or -1 with err. */
int mock_chain_parse(const mock_chain_headers_t *h, mock_ids_t *ids, rs_err_t *err);

/* The case id of a request without X-RS-Case: 16 lowercase hex digits of XXH64 (seed 0) over the
 * message contents concatenated in order. */
void mock_case_id(const rs_chat_msg_t *msgs, size_t n_msgs, char out[17]);

/* Reply builders. serial makes the reply id ("chatcmpl-<16 hex>", "msg_<16 hex>"); created is the
 * Unix time in the OpenAI reply. *len receives the text's length. */
char *mock_chat_reply(const mock_sim_cfg_t *cfg, const mock_chat_req_t *req, const mock_ids_t *ids,
                      uint64_t serial, int64_t created, size_t *len);
char *mock_messages_reply(const mock_sim_cfg_t *cfg, const mock_chat_req_t *req,
                          const mock_ids_t *ids, uint64_t serial, size_t *len);
char *mock_embed_reply(const mock_sim_cfg_t *cfg, const mock_embed_req_t *req, size_t *len);
char *mock_models_reply(size_t *len);
/* An error body in the API's shape; the error type follows the status (401 ->
 * invalid_api_key / authentication_error, 429 -> rate_limit_exceeded / rate_limit_error, ...). */
char *mock_error_reply(mock_api_t api, int status, const char *message, size_t *len);

/* The 400 OpenAI answers when a reasoning model (a name of "o" and a digit, such as o1 or
 * o3-mini, or one starting with "gpt-5") is sent max_tokens: {"error": {"message": "Unsupported parameter: 'max_tokens' is not supported with
 * this model. Use 'max_completion_tokens' instead.", "type": "invalid_request_error", "param":
 * "max_tokens", "code": "unsupported_parameter"}}. NULL when req is not refused. */
char *mock_reasoning_refusal(const mock_chat_req_t *req, size_t *len);

/* The fields of a request body that the endpoint does not read (extra_body's, say), as a new
 * object of those fields and their values; NULL when there is none or the body is not an object.
 * For the request log. */
json_t *mock_unknown_fields(mock_api_t api, int embeddings, const char *body, size_t len);

/* 1 when the mock reads a request header of this name (or it is HTTP's own: Host, Content-Type,
 * ...); the others are a client's extra headers, for the request log. */
int mock_known_header(const char *name);

/* The embedding of one text: a feature-hashed bag of words. A word is a maximal run of ASCII
 * letters and digits and bytes >= 0x80, lowercased (ASCII); h = XXH64(word, seed 0) adds
 * +1 (bit 63 of h clear) or -1 (set) to bucket h % dim. The vector is then L2-normalised; a text
 * with no word embeds as zeros. out has dim entries. */
void mock_embed_text(const char *text, int dim, double *out);

#endif
