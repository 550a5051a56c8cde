/* proto: the coordinator <-> worker messages, one msgpack map per ZeroMQ frame.
 *
 * Every map carries "t" (type name) and "v" (protocol version). Codecs do no I/O: encode appends
 * bytes to a buffer, decode takes bytes and returns an owned struct. Decoding checks every type,
 * length and bound and returns -1 with a reason; it never crashes and never trusts a length.
 *
 * Flow (docs/PROTOCOL.md): worker HELLO{slots} -> coordinator WELCOME{spec}; the coordinator sends
 * TASKs while the worker has credit (slots at first; each case a RESULT carries returns one credit,
 * CREDIT{n} adds n more); both sides send HEARTBEAT when otherwise silent; DRAIN asks the worker to
 * finish what it holds and take no more; CANCEL drops a task; PAUSE holds one model's requests
 * for a while (the server asked for it with Retry-After). */
#ifndef RS_PROTO_H
#define RS_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "util.h"

#define RS_PROTO_VERSION 1
#define RS_PROTO_MAX_FRAME (64u << 20) /* ZMQ_MAXMSGSIZE on both sides */
#define RS_PROTO_MAX_CASES 4096        /* cases in one TASK or RESULT */
#define RS_PROTO_MAX_DEPTH 16          /* nested maps/arrays in one frame */
#define RS_PROTO_MAX_VALUES (1u << 22) /* msgpack values in one frame (bounds decode memory) */
/* A worker's exit status when it could not use the run spec of WELCOME three times in a row:
 * restarting it will not help, so a coordinator does not restart a local worker that exits so. */
#define RS_PROTO_EXIT_SPEC 3
/* The name a remote embedder's calls have in RESULT stats (no config model may take it then). */
#define RS_PROTO_USAGE_EMBEDDER "embedder"

typedef enum rs_msg_type {
    RS_MSG_HELLO = 1,
    RS_MSG_CREDIT,
    RS_MSG_RESULT,
    RS_MSG_HEARTBEAT,
    RS_MSG_WELCOME,
    RS_MSG_TASK,
    RS_MSG_DRAIN,
    RS_MSG_CANCEL,
    RS_MSG_PAUSE,
} rs_msg_type_t;

typedef struct rs_hello {
    char *worker_id;
    char *host;
    int64_t pid;
    char *version; /* software version, e.g. "0.1.0" */
    int64_t slots;
} rs_hello_t;

typedef struct rs_welcome {
    char *run_id;
    char *spec; /* the resolved config as JSON (rs_config_to_json); never holds a key */
    int64_t heartbeat_ms;
} rs_welcome_t;

typedef struct rs_task {
    uint64_t task_id;
    uint64_t lease;
    int64_t deadline_ms; /* lease length in ms, renewed by any message from the worker */
    rs_case_t *cases;
    size_t n_cases;
} rs_task_t;

/* One case's outcome. json is the case's result record (a JSON object, see docs/PROTOCOL.md),
 * passed through to Redis as is; failed is 1 when any model call for the case ended in error. */
typedef struct rs_case_result {
    uint64_t idx;
    int failed;
    char *json;
    size_t json_len;
} rs_case_result_t;

typedef struct rs_result {
    uint64_t task_id;
    uint64_t lease;
    rs_case_result_t *cases;
    size_t n_cases;
    /* (The wire's "spans" key is reserved: always sent empty, dropped when received.) */
    /* Usage of the model calls behind these cases, for the coordinator's live counters (JSON,
     * optional): {"<model>": {"calls": n, "input_tokens": n, "output_tokens": n,
     * "errors": {"<reason>": n}, "latency_ms": [ms, ...], "stage": [0..3, ...], and when not 0
     * "cache_hits": n, "cache_misses": n}}, a remote embedder's calls under
     * RS_PROTO_USAGE_EMBEDDER. May be NULL. */
    char *stats;
    size_t stats_len;
} rs_result_t;

/* HEARTBEAT. A worker's may carry stats (the shape of rs_result_t.stats, optional): what its
 * model calls met since its last RESULT, when nothing else would carry it soon (a 429's
 * Retry-After, retries). The coordinator's carries none. */
typedef struct rs_heartbeat {
    int64_t in_flight; /* informational: a worker's, the cases it holds; the coordinator's, the
                          tasks it has leased to that worker */
    char *stats;       /* may be NULL */
    size_t stats_len;
} rs_heartbeat_t;

/* PAUSE: send no request for model (a config models[] name) for the next ms milliseconds. */
typedef struct rs_pause {
    char *model;
    int64_t ms;
} rs_pause_t;

typedef struct rs_msg {
    rs_msg_type_t type;
    union {
        rs_hello_t hello;
        rs_welcome_t welcome;
        rs_task_t task;
        rs_result_t result;
        int64_t credit;    /* CREDIT n */
        rs_heartbeat_t heartbeat;
        uint64_t cancel;   /* CANCEL task_id */
        rs_pause_t pause;
    } u;
} rs_msg_t;

/* Each appends one complete frame to out. */
void rs_proto_encode_hello(rs_buf_t *out, const rs_hello_t *m);
void rs_proto_encode_welcome(rs_buf_t *out, const rs_welcome_t *m);
void rs_proto_encode_task(rs_buf_t *out, const rs_task_t *m);
void rs_proto_encode_result(rs_buf_t *out, const rs_result_t *m);
void rs_proto_encode_credit(rs_buf_t *out, int64_t n);
void rs_proto_encode_heartbeat(rs_buf_t *out, const rs_heartbeat_t *m);
void rs_proto_encode_drain(rs_buf_t *out);
void rs_proto_encode_cancel(rs_buf_t *out, uint64_t task_id);
void rs_proto_encode_pause(rs_buf_t *out, const rs_pause_t *m);

/* Decodes one frame into out (owned; release with rs_msg_cleanup). 0 / -1 with err saying why
 * (unknown type, wrong version, missing field, wrong type, out of bounds, oversized, trailing bytes). */
int rs_proto_decode(const void *data, size_t len, rs_msg_t *out, rs_err_t *err);
void rs_msg_cleanup(rs_msg_t *m);

const char *rs_msg_type_name(rs_msg_type_t t);

#endif
