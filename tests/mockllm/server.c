/* server: libmicrohttpd handlers for reasonsaver-mockllm. MHD calls on_request first when the
 * headers are in (we allocate the request's state), then once per body chunk, then a final time
 * (we answer). A reply that must wait (latency, hang) suspends the connection and goes on the
 * timer; the timer thread resumes it, MHD calls on_request once more and we send the prepared
 * reply, or, for a hang, close the connection. */
#include "server.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "provider.h"
#include "reqlog.h"
#include "stats.h"
#include "timer.h"

#define CT_JSON "application/json"
#define CT_TEXT "text/plain; charset=utf-8"
#define CT_HTML "text/html; charset=utf-8"
#define IDLE_TIMEOUT_S 300  /* idle keep-alive connections of vanished clients */
#define LISTEN_BACKLOG 4096 /* a benchmark opens 1,000+ connections at once */
#define DRAIN_TRIES 200     /* x 10 ms: how long shutdown waits for parked requests */

/* The one HTML page of the wrong-content-type fault: what a proxy in front of a model says. */
static const char wrong_type_page[] =
    "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    "<body><h1>502 Bad Gateway</h1><p>simulated by reasonsaver-mockllm</p></body></html>\n";

struct mock_server {
    mock_server_opts_t o; /* bind and api_key point at the copies below */
    char *bind;
    char *api_key;
    struct MHD_Daemon *daemon;
    int listen_fd;
    int port;
    mock_timer_t *timer;
    mock_faults_t faults;
    mock_stats_t stats;
    mock_reqlog_t *reqlog;       /* --log-requests; NULL without */
    atomic_uint_fast64_t serial; /* reply ids */
    atomic_int_fast64_t model_requests; /* well-formed or not, for --pause-request */
    atomic_int stopping;         /* no more parking: shutdown answers everything now */
    atomic_int deciding;         /* handlers between reading `stopping` and parking */
};

/* A reply being built or waiting to be sent. body is heap (MHD frees it once queued). */
typedef struct reply {
    int status;
    char *body;
    size_t len;
    const char *ctype;
    int64_t retry_after; /* seconds; 0 = no header */
    mock_fault_t fault;
} reply_t;

struct route;

/* One request's state: MHD's per-request pointer, freed in on_completed. */
typedef struct request {
    mock_server_t *srv;
    struct MHD_Connection *conn;
    const struct route *route; /* NULL: no such path */
    int method_ok;
    int counted;   /* counted in stats and still in flight */
    int model_open; /* counted in model_open (stats) and not answered yet */
    int too_large; /* the body passed MOCK_MAX_BODY: it is dropped, the answer is 413 */
    int waiting;   /* suspended on the timer */
    int hang;      /* when resumed, close instead of replying */
    double delay_ms;
    rs_buf_t body;
    reply_t reply;
} request_t;

typedef void (*route_fn)(mock_server_t *s, request_t *r);

typedef struct route {
    const char *path;
    const char *method;
    mock_endpoint_t ep;
    int counted; /* /stats is not counted: watching must not change the numbers */
    mock_api_t api;
    route_fn fn;
} route_t;

/* ---------------------------------------------------------------- replies */

static void set_reply(request_t *r, int status, char *body, size_t len, const char *ctype)
{
    free(r->reply.body);
    r->reply.status = status;
    r->reply.body = body;
    r->reply.len = len;
    r->reply.ctype = ctype;
}

static void set_text(request_t *r, int status, const char *text, const char *ctype)
{
    set_reply(r, status, rs_xstrdup(text), strlen(text), ctype);
}

static void set_error(request_t *r, int status, const char *message)
{
    mock_api_t api = r->route ? r->route->api : MOCK_API_OPENAI;
    size_t len = 0;
    char *body = mock_error_reply(api, status, message, &len);
    if (body)
        set_reply(r, status, body, len, CT_JSON);
    else /* the message was not UTF-8: say so without it */
        set_text(r, status, "{\"error\":{\"message\":\"request error\"}}", CT_JSON);
}

static const char *header(request_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* Queues r's reply; the body now belongs to MHD. */
static enum MHD_Result send_reply(mock_server_t *s, request_t *r)
{
    reply_t *rep = &r->reply;
    if (!rep->body) set_text(r, 500, "{\"error\":{\"message\":\"no reply\"}}", CT_JSON);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(rep->len, rep->body, MHD_RESPMEM_MUST_FREE);
    if (!resp) return MHD_NO;
    rep->body = NULL;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rep->ctype);
    if (rep->retry_after > 0) {
        char secs[24];
        snprintf(secs, sizeof(secs), "%lld", (long long)rep->retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, secs);
    }
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)rep->status, resp);
    MHD_destroy_response(resp);
    if (r->model_open) {
        mock_stats_model_done(&s->stats);
        r->model_open = 0;
    }
    if (r->counted) {
        mock_stats_reply(&s->stats, rep->status, rep->fault);
        mock_stats_done(&s->stats);
        r->counted = 0;
    }
    return ret;
}

/* ---------------------------------------------------------------- authentication */

static int key_equals(const char *given, const char *key)
{
    size_t n = strlen(key);
    return strlen(given) == n && CRYPTO_memcmp(given, key, n) == 0; /* no timing oracle */
}

/* 1 when r may use its route; otherwise 0 and an answer is set (401, in the route's shape). */
static int authorize(mock_server_t *s, request_t *r)
{
    if (r->route->api == MOCK_API_ANTHROPIC) {
        const char *key = header(r, "x-api-key");
        if (key && (!s->api_key || key_equals(key, s->api_key))) return 1;
        set_error(r, 401, key ? "invalid x-api-key" : "x-api-key header is required");
        return 0;
    }
    if (!s->api_key) return 1;
    const char *auth = header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (auth && strncmp(auth, "Bearer ", 7) == 0 && key_equals(auth + 7, s->api_key)) return 1;
    set_error(r, 401,
              auth ? "Incorrect API key provided."
                   : "You didn't provide an API key: send Authorization: Bearer KEY.");
    return 0;
}

/* ---------------------------------------------------------------- fault injection */

/* Turns the prepared 200 into what the fault draw says, and sets how long it waits. */
static void inject(mock_server_t *s, request_t *r)
{
    mock_draw_t d = mock_faults_draw(&s->faults);
    r->delay_ms = d.latency_ms;
    switch (d.fault) {
    case MOCK_FAULT_429:
        set_error(r, 429, "Rate limit reached (simulated by reasonsaver-mockllm).");
        r->reply.retry_after = s->o.retry_after_s;
        r->delay_ms = 0;
        break;
    case MOCK_FAULT_500:
        set_error(r, 500, "The server had an error while processing your request (simulated).");
        break;
    case MOCK_FAULT_HANG:
        r->hang = 1;
        r->delay_ms = s->o.hang_ms;
        mock_stats_hang(&s->stats);
        break;
    case MOCK_FAULT_TRUNCATE:
        r->reply.len /= 2; /* the JSON parser of the client must notice */
        break;
    case MOCK_FAULT_WRONG_TYPE:
        set_text(r, 200, wrong_type_page, CT_HTML);
        break;
    default:
        break;
    }
    r->reply.fault = d.fault;
}

/* ---------------------------------------------------------------- routes */

/* Builds a model route's reply from the body and the case identity: 0 (a 200, or a refusal
 * the API would make, in its own shape), or -1 with err for a 400. */
typedef int (*build_fn)(mock_server_t *s, request_t *r, const mock_ids_t *ids, rs_err_t *err);

static uint64_t next_serial(mock_server_t *s)
{
    return atomic_fetch_add_explicit(&s->serial, 1, memory_order_relaxed);
}

/* A builder's text as the 200 reply (NULL: a string was not UTF-8, a 400). */
static int take_json(request_t *r, char *body, size_t len, rs_err_t *err)
{
    if (!body) return rs_err_set(err, "the reply could not be encoded (invalid UTF-8?)");
    set_reply(r, 200, body, len, CT_JSON);
    return 0;
}

static int build_chat(mock_server_t *s, request_t *r, const mock_ids_t *ids, rs_err_t *err)
{
    mock_chat_req_t req;
    size_t len = 0;
    if (mock_chat_parse(r->body.data, r->body.len, &req, err) < 0) return -1;
    char *refusal = mock_reasoning_refusal(&req, &len);
    if (refusal) { /* a reasoning model sent max_tokens: OpenAI's own 400 */
        mock_chat_req_cleanup(&req);
        set_reply(r, 400, refusal, len, CT_JSON);
        return 0;
    }
    char *body = mock_chat_reply(&s->o.sim, &req, ids, next_serial(s), (int64_t)time(NULL), &len);
    mock_chat_req_cleanup(&req);
    return take_json(r, body, len, err);
}

static int build_messages(mock_server_t *s, request_t *r, const mock_ids_t *ids, rs_err_t *err)
{
    mock_chat_req_t req;
    size_t len = 0;
    if (!header(r, "anthropic-version"))
        return rs_err_set(err, "anthropic-version: header is required");
    if (mock_messages_parse(r->body.data, r->body.len, &req, err) < 0) return -1;
    char *body = mock_messages_reply(&s->o.sim, &req, ids, next_serial(s), &len);
    mock_chat_req_cleanup(&req);
    return take_json(r, body, len, err);
}

static int build_embeddings(mock_server_t *s, request_t *r, const mock_ids_t *ids, rs_err_t *err)
{
    mock_embed_req_t req;
    size_t len = 0;
    (void)ids; /* an embedding depends on its text only */
    if (mock_embed_parse(r->body.data, r->body.len, &req, err) < 0) return -1;
    char *body = mock_embed_reply(&s->o.sim, &req, &len);
    mock_embed_req_cleanup(&req);
    return take_json(r, body, len, err);
}

/* --reply-bytes: the reply's JSON followed by spaces up to n bytes, still valid JSON, for a
 * client's cap on response size. */
static void pad_reply(request_t *r, int64_t n)
{
    if (n <= 0 || r->reply.len >= (size_t)n) return;
    r->reply.body = rs_xrealloc(r->reply.body, (size_t)n + 1);
    memset(r->reply.body + r->reply.len, ' ', (size_t)n - r->reply.len);
    r->reply.body[n] = '\0';
    r->reply.len = (size_t)n;
}

/* A rate limiter's answers, before anything else: --pause-request's one 429 asking the client
 * to wait, and --max-concurrency's refusal of a request beyond the limit (answered at once, so
 * it is open only for an instant). Returns 1 when r is refused. Every model request counts in
 * model_open and the peak, refused or not: the peak is what the client attempted. */
static int rate_limited(mock_server_t *s, request_t *r)
{
    int64_t open = mock_stats_model_open(&s->stats);
    r->model_open = 1;
    int64_t nth = atomic_fetch_add(&s->model_requests, 1) + 1;
    if (s->o.pause_request > 0 && nth == s->o.pause_request) {
        set_error(r, 429, "Rate limit reached; wait as Retry-After says (simulated).");
        r->reply.retry_after = s->o.retry_after_s;
        atomic_store(&s->stats.paused_at_ms, rs_wall_ms());
        return 1;
    }
    if (s->o.max_concurrency <= 0 || open <= s->o.max_concurrency) return 0;
    set_error(r, 429, "Too many concurrent requests (simulated by reasonsaver-mockllm).");
    r->reply.retry_after = s->o.limit_retry_after_s;
    atomic_fetch_add_explicit(&s->stats.limited, 1, memory_order_relaxed);
    return 1;
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    if (!key || mock_known_header(key)) return MHD_YES;
    const char *shown = rs_provider_header_credential(key) ? "***" : value ? value : "";
    json_t *v = json_string(shown);
    json_object_set_new(cls, key, v ? v : json_string("(not UTF-8)"));
    return MHD_YES;
}

/* What the request log adds to the body: the fields the endpoint does not read and the headers
 * it does not read (a credential-like one's value shown as "***"); NULL when neither. */
static json_t *log_extra(request_t *r)
{
    json_t *extra = json_object(), *headers = json_object();
    json_t *unknown = mock_unknown_fields(r->route->api, r->route->ep == MOCK_EP_EMBEDDINGS,
                                          r->body.data, r->body.len);
    if (unknown) json_object_set_new(extra, "unknown_fields", unknown);
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, collect_header, headers);
    if (json_object_size(headers)) json_object_set(extra, "extra_headers", headers);
    json_decref(headers);
    if (json_object_size(extra)) return extra;
    json_decref(extra);
    return NULL;
}

/* The three model routes: authenticate, build the reply from the sim, then inject a fault.
 * A bad request is a 400 whatever the draw: only well-formed requests consume fault draws. */
static void model_route(mock_server_t *s, request_t *r, build_fn build)
{
    mock_ids_t ids;
    rs_err_t err;
    if (s->reqlog)
        mock_reqlog_write(s->reqlog, r->route->path, r->body.data, r->body.len, log_extra(r));
    if (rate_limited(s, r)) return;
    if (!authorize(s, r)) return;
    if (mock_ids_parse(header(r, "X-RS-Model"), header(r, "X-RS-Case"), header(r, "X-RS-Candidate"),
                       header(r, "X-RS-Target"), &ids, &err) < 0) {
        set_error(r, 400, err.msg);
        return;
    }
    mock_chain_headers_t chain = {header(r, "X-RS-Stage"), header(r, "X-RS-Round"),
                                  header(r, "X-RS-Judge"), header(r, "X-RS-Judged-Model"),
                                  header(r, "X-RS-Truth"), header(r, "X-RS-Self"),
                                  header(r, "X-RS-Critique-Correct"), header(r, "X-RS-Prev")};
    if (mock_chain_parse(&chain, &ids, &err) < 0) {
        mock_ids_cleanup(&ids);
        set_error(r, 400, err.msg);
        return;
    }
    int rc = build(s, r, &ids, &err);
    mock_ids_cleanup(&ids);
    if (rc < 0) {
        set_error(r, 400, err.msg);
        return;
    }
    if (r->reply.status == 200) inject(s, r); /* a refusal (mock_reasoning_refusal) stays one */
}

static void route_chat(mock_server_t *s, request_t *r)
{
    model_route(s, r, build_chat);
    if (r->reply.status == 200) pad_reply(r, s->o.reply_bytes);
}

static void route_messages(mock_server_t *s, request_t *r)
{
    model_route(s, r, build_messages);
    if (r->reply.status == 200) pad_reply(r, s->o.reply_bytes);
}

static void route_embeddings(mock_server_t *s, request_t *r)
{
    model_route(s, r, build_embeddings);
}

static void route_models(mock_server_t *s, request_t *r)
{
    size_t len = 0;
    if (!authorize(s, r)) return;
    char *body = mock_models_reply(&len); /* before set_reply reads len */
    set_reply(r, 200, body, len, CT_JSON);
}

static void route_health(mock_server_t *s, request_t *r)
{
    (void)s;
    set_text(r, 200, "ok", CT_TEXT);
}

static void route_stats(mock_server_t *s, request_t *r)
{
    size_t len = 0;
    char *body = mock_stats_json(&s->stats, &len); /* before set_reply reads len */
    set_reply(r, 200, body, len, CT_JSON);
}

static void route_stats_reset(mock_server_t *s, request_t *r)
{
    mock_stats_reset(&s->stats);
    route_stats(s, r);
}

static const route_t routes[] = {
    {"/v1/chat/completions", "POST", MOCK_EP_CHAT, 1, MOCK_API_OPENAI, route_chat},
    {"/v1/embeddings", "POST", MOCK_EP_EMBEDDINGS, 1, MOCK_API_OPENAI, route_embeddings},
    {"/v1/messages", "POST", MOCK_EP_MESSAGES, 1, MOCK_API_ANTHROPIC, route_messages},
    {"/v1/models", "GET", MOCK_EP_MODELS, 1, MOCK_API_OPENAI, route_models},
    {"/health", "GET", MOCK_EP_HEALTH, 1, MOCK_API_OPENAI, route_health},
    {"/stats", "GET", MOCK_EP_OTHER, 0, MOCK_API_OPENAI, route_stats},
    {"/stats/reset", "POST", MOCK_EP_OTHER, 0, MOCK_API_OPENAI, route_stats_reset},
};

static const route_t *find_route(const char *url)
{
    for (size_t i = 0; i < RS_ARRAY_LEN(routes); i++)
        if (strcmp(routes[i].path, url) == 0) return &routes[i];
    return NULL;
}

static int method_ok(const route_t *rt, const char *method)
{
    /* HEAD is GET without a body, which MHD takes care of */
    return strcmp(rt->method, method) == 0 ||
           (strcmp(rt->method, "GET") == 0 && strcmp(method, "HEAD") == 0);
}

/* ---------------------------------------------------------------- MHD callbacks */

static int declared_too_large(struct MHD_Connection *conn)
{
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    int64_t n;
    return cl && rs_parse_i64(cl, &n) == 0 && n > (int64_t)MOCK_MAX_BODY;
}

/* The first call: headers are in. Allocates the request's state. */
static enum MHD_Result begin(mock_server_t *s, struct MHD_Connection *conn, const char *url,
                             const char *method, void **con_cls)
{
    request_t *r = rs_xcalloc(1, sizeof(*r));
    r->srv = s;
    r->conn = conn;
    r->route = find_route(url);
    r->method_ok = r->route && method_ok(r->route, method);
    rs_buf_init(&r->body);
    *con_cls = r;
    if (!r->route || r->route->counted) {
        mock_stats_request(&s->stats, r->route ? r->route->ep : MOCK_EP_OTHER);
        r->counted = 1;
    }
    if (!declared_too_large(conn)) return MHD_YES;
    /* answering before the body saves reading 16+ MiB; MHD closes the connection after it */
    set_error(r, 413, "request body larger than 16 MiB");
    return send_reply(s, r);
}

static void take_body(request_t *r, const char *data, size_t size)
{
    if (r->too_large) return;
    if (r->body.len + size > MOCK_MAX_BODY) { /* chunked bodies have no Content-Length */
        r->too_large = 1;
        rs_buf_cleanup(&r->body);
        return;
    }
    rs_buf_append(&r->body, data, size);
}

/* Suspends r until its delay has passed; the timer's wake() resumes it. */
static enum MHD_Result park(mock_server_t *s, request_t *r)
{
    r->waiting = 1;
    atomic_fetch_add_explicit(&s->stats.waiting, 1, memory_order_relaxed);
    MHD_suspend_connection(r->conn);
    mock_timer_add(s->timer, r->delay_ms, r); /* after the suspend: a resume never comes first */
    return MHD_YES;
}

static void unpark(mock_server_t *s, request_t *r)
{
    if (!r->waiting) return;
    r->waiting = 0;
    atomic_fetch_sub_explicit(&s->stats.waiting, 1, memory_order_relaxed);
}

/* Timer thread: r's delay is over. MHD calls on_request again, which sends or closes. */
static void wake(void *arg)
{
    request_t *r = arg;
    MHD_resume_connection(r->conn); /* r may be freed by MHD from here on: touch nothing */
}

/* The final call: the whole body is in. Answers now or parks. */
static enum MHD_Result finish(mock_server_t *s, request_t *r)
{
    if (r->too_large)
        set_error(r, 413, "request body larger than 16 MiB");
    else if (!r->route)
        set_error(r, 404,
                  "no such route (try /v1/chat/completions, /v1/embeddings, "
                  "/v1/messages, /v1/models, /health, /stats)");
    else if (!r->method_ok)
        set_error(r, 405, r->route->method[0] == 'G' ? "use GET" : "use POST");
    else
        r->route->fn(s, r);
    /* drain() sets stopping, then waits for deciding == 0: with both sequentially consistent,
     * either we see stopping or drain sees us, so nothing parks behind its back */
    atomic_fetch_add(&s->deciding, 1);
    enum MHD_Result ret;
    if (r->delay_ms > 0 && !atomic_load(&s->stopping))
        ret = park(s, r);
    else if (r->hang)
        ret = MHD_NO; /* shutting down: close at once */
    else
        ret = send_reply(s, r);
    atomic_fetch_sub(&s->deciding, 1);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    mock_server_t *s = cls;
    request_t *r = *con_cls;
    (void)version;
    if (!r) return begin(s, conn, url, method, con_cls);
    if (*upload_data_size > 0) {
        take_body(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!r->waiting) return finish(s, r);
    unpark(s, r);
    return r->hang ? MHD_NO : send_reply(s, r); /* MHD_NO closes: the hang's end */
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    mock_server_t *s = cls;
    request_t *r = *con_cls;
    (void)conn;
    (void)toe;
    if (!r) return;
    unpark(s, r);
    if (r->counted) mock_stats_done(&s->stats); /* never answered: hung or client gone */
    if (r->model_open) mock_stats_model_done(&s->stats);
    free(r->reply.body);
    rs_buf_cleanup(&r->body);
    free(r);
    *con_cls = NULL;
}

/* libmicrohttpd's own messages (a client that went away, a malformed request line): debug
 * level, because under a benchmark's load they are noise. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    (void)cls;
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    rs_debug("libmicrohttpd: %s", line);
}

/* ---------------------------------------------------------------- lifecycle */

/* A bound, listening, non-blocking socket for host:port; the chosen port in *port. */
static int open_listener(const char *host, int *port, int *ipv6, rs_err_t *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char service[16];
    snprintf(service, sizeof(service), "%d", *port);
    int rc = getaddrinfo(host, service, &hints, &ai);
    if (rc != 0) return rs_err_set(err, "--bind %s: %s", host, gai_strerror(rc));
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
        rs_err_set(err, "cannot listen on %s port %d: %s", host, *port, strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    *ipv6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

/* As many connections as file descriptors allow (the default limit of ~1,000 is too few). */
static unsigned connection_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY) return 65536;
    return rl.rlim_cur > 128 ? (unsigned)(rl.rlim_cur - 64) : 64;
}

/* poll(), not epoll: libmicrohttpd 0.9.75's epoll loop calls epoll_wait again with its blocking
 * timeout whenever one call returned exactly 128 events, so with 128 x k busy keep-alive
 * connections every request waited until some unrelated event (measured: 256 connections, ~100
 * requests/s instead of 20,000+). poll() has no such loop and stays cheap at a few thousand
 * connections; suspended connections leave the poll set, so parked requests cost nothing. */
static int start_daemon(mock_server_t *s, int ipv6, rs_err_t *err)
{
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO |
                     MHD_USE_ERROR_LOG | (ipv6 ? MHD_USE_IPv6 : 0);
    struct MHD_OptionItem opts[] = {
        /* first, so that MHD's complaints about later options go through it too */
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, s},
        {MHD_OPTION_LISTEN_SOCKET, s->listen_fd, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)connection_limit(), NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, IDLE_TIMEOUT_S, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s},
        /* a pool of 1 is refused with a warning: one internal thread is what 1 means */
        {s->o.threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, s->o.threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, opts,
                                 MHD_OPTION_END);
    if (!s->daemon)
        return rs_err_set(err, "libmicrohttpd would not start (run with --verbose to see "
                               "why)");
    return 0;
}

static int check_opts(const mock_server_opts_t *o, rs_err_t *err)
{
    if (o->threads < 1 || o->threads > 256)
        return rs_err_set(err, "--threads: must be between 1 and 256");
    if (o->port < 0 || o->port > 65535)
        return rs_err_set(err, "--port: must be between 0 and 65535");
    if (!(o->sim.accuracy >= 0 && o->sim.accuracy <= 1))
        return rs_err_set(err, "--accuracy: must be between 0 and 1");
    if (o->sim.embed_dim < 1 || o->sim.embed_dim > MOCK_MAX_EMBED_DIM)
        return rs_err_set(err, "--embed-dim: must be between 1 and %d", MOCK_MAX_EMBED_DIM);
    if (!(o->hang_ms >= 0 && o->hang_ms <= 86400e3))
        return rs_err_set(err, "--hang-ms: must be between 0 and 86400000");
    if (o->retry_after_s < 0) return rs_err_set(err, "--retry-after: must be >= 0");
    if (o->max_concurrency < 0) return rs_err_set(err, "--max-concurrency: must be >= 0");
    if (o->limit_retry_after_s < 0) return rs_err_set(err, "--limit-retry-after: must be >= 0");
    if (o->pause_request < 0) return rs_err_set(err, "--pause-request: must be >= 0");
    if (o->sim.filler < 0 || o->sim.filler > (64 << 20))
        return rs_err_set(err, "--reply-filler: must be between 0 and 67108864");
    if (o->reply_bytes < 0 || o->reply_bytes > (256 << 20))
        return rs_err_set(err, "--reply-bytes: must be between 0 and 268435456");
    return 0;
}

mock_server_t *mock_server_new(const mock_server_opts_t *opts, rs_err_t *err)
{
    mock_server_t *s = rs_xcalloc(1, sizeof(*s));
    s->o = *opts;
    s->bind = rs_xstrdup(opts->bind ? opts->bind : "127.0.0.1");
    s->api_key = opts->api_key && *opts->api_key ? rs_xstrdup(opts->api_key) : NULL;
    s->o.bind = s->bind;
    s->o.api_key = s->api_key;
    s->o.log_requests = NULL; /* the path is only needed to open the log */
    s->port = opts->port;
    s->listen_fd = -1;
    mock_stats_init(&s->stats);
    atomic_init(&s->serial, 1);
    atomic_init(&s->stopping, 0);
    atomic_init(&s->deciding, 0);
    int ipv6 = 0;
    if (check_opts(opts, err) < 0 || mock_faults_init(&s->faults, &opts->faults, err) < 0 ||
        (opts->log_requests && !(s->reqlog = mock_reqlog_new(opts->log_requests, err))) ||
        !(s->timer = mock_timer_new(wake, err)) ||
        (s->listen_fd = open_listener(s->bind, &s->port, &ipv6, err)) < 0 ||
        start_daemon(s, ipv6, err) < 0) {
        mock_server_destroy(&s);
        return NULL;
    }
    return s;
}

int mock_server_port(const mock_server_t *s)
{
    return s->port;
}

/* Answers (or closes) every parked request so that MHD_stop_daemon finds none suspended: an
 * API violation that leaks or crashes in libmicrohttpd 0.9.75. */
static void drain(mock_server_t *s)
{
    atomic_store(&s->stopping, 1);
    for (int i = 0; i < DRAIN_TRIES; i++) {
        mock_timer_flush(s->timer);
        if (atomic_load(&s->deciding) == 0 && atomic_load(&s->stats.waiting) == 0) return;
        usleep(10000); /* resumed connections are processed by MHD's threads */
    }
    rs_warn("%lld requests still suspended at shutdown", (long long)atomic_load(&s->stats.waiting));
}

void mock_server_destroy(mock_server_t **sp)
{
    mock_server_t *s = sp ? *sp : NULL;
    if (!s) return;
    if (s->daemon) {
        int fd = MHD_quiesce_daemon(s->daemon); /* accept no more; the socket is ours again */
        drain(s);
        MHD_stop_daemon(s->daemon);
        s->listen_fd = fd;
    }
    if (s->listen_fd >= 0) close(s->listen_fd);
    mock_timer_destroy(&s->timer);
    mock_reqlog_destroy(&s->reqlog);
    free(s->bind);
    free(s->api_key);
    free(s);
    *sp = NULL;
}
