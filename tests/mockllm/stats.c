/* stats: relaxed atomic counters (each number is exact on its own; a snapshot across counters is
 * not atomic, which /stats readers after a quiet moment never notice) and their JSON form. */
#include "stats.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define RELAXED memory_order_relaxed

static const char *endpoint_names[MOCK_EP_COUNT] = {
    "/v1/chat/completions", "/v1/embeddings", "/v1/messages", "/v1/models", "/health", "other",
};

const char *mock_endpoint_name(mock_endpoint_t ep)
{
    return ep < MOCK_EP_COUNT ? endpoint_names[ep] : "other";
}

static void zero_counters(mock_stats_t *s)
{
    atomic_store_explicit(&s->requests, 0, RELAXED);
    for (int i = 0; i < MOCK_EP_COUNT; i++)
        atomic_store_explicit(&s->by_endpoint[i], 0, RELAXED);
    for (int i = 0; i < MOCK_STATUS_MAX; i++)
        atomic_store_explicit(&s->by_status[i], 0, RELAXED);
    atomic_store_explicit(&s->hangs, 0, RELAXED);
    atomic_store_explicit(&s->truncated, 0, RELAXED);
    atomic_store_explicit(&s->wrong_content_type, 0, RELAXED);
    atomic_store_explicit(&s->limited, 0, RELAXED);
    atomic_store_explicit(&s->paused_at_ms, 0, RELAXED);
    atomic_store_explicit(&s->peak_concurrency, atomic_load_explicit(&s->model_open, RELAXED),
                          RELAXED);
}

void mock_stats_init(mock_stats_t *s)
{
    memset(s, 0, sizeof(*s)); /* all-zero bytes are valid lock-free atomics on our targets */
    zero_counters(s);
    atomic_store(&s->in_flight, 0);
    atomic_store(&s->waiting, 0);
}

void mock_stats_request(mock_stats_t *s, mock_endpoint_t ep)
{
    atomic_fetch_add_explicit(&s->requests, 1, RELAXED);
    atomic_fetch_add_explicit(&s->by_endpoint[ep < MOCK_EP_COUNT ? ep : MOCK_EP_OTHER], 1, RELAXED);
    atomic_fetch_add_explicit(&s->in_flight, 1, RELAXED);
}

void mock_stats_reply(mock_stats_t *s, int status, mock_fault_t fault)
{
    if (status >= 0 && status < MOCK_STATUS_MAX)
        atomic_fetch_add_explicit(&s->by_status[status], 1, RELAXED);
    if (fault == MOCK_FAULT_TRUNCATE) atomic_fetch_add_explicit(&s->truncated, 1, RELAXED);
    if (fault == MOCK_FAULT_WRONG_TYPE)
        atomic_fetch_add_explicit(&s->wrong_content_type, 1, RELAXED);
}

void mock_stats_hang(mock_stats_t *s)
{
    atomic_fetch_add_explicit(&s->hangs, 1, RELAXED);
}

void mock_stats_done(mock_stats_t *s)
{
    atomic_fetch_sub_explicit(&s->in_flight, 1, RELAXED);
}

int64_t mock_stats_model_open(mock_stats_t *s)
{
    int64_t now = atomic_fetch_add_explicit(&s->model_open, 1, RELAXED) + 1;
    int64_t peak = atomic_load_explicit(&s->peak_concurrency, RELAXED);
    while (now > peak && !atomic_compare_exchange_weak_explicit(&s->peak_concurrency, &peak, now,
                                                                 RELAXED, RELAXED)) {
    }
    return now;
}

void mock_stats_model_done(mock_stats_t *s)
{
    atomic_fetch_sub_explicit(&s->model_open, 1, RELAXED);
}

void mock_stats_reset(mock_stats_t *s)
{
    zero_counters(s);
}

static json_t *status_object(mock_stats_t *s)
{
    json_t *o = json_object();
    for (int i = 0; i < MOCK_STATUS_MAX; i++) {
        uint64_t n = atomic_load_explicit(&s->by_status[i], RELAXED);
        char key[8];
        if (n == 0) continue;
        snprintf(key, sizeof(key), "%d", i);
        json_object_set_new(o, key, json_integer((json_int_t)n));
    }
    return o;
}

static json_t *endpoint_object(mock_stats_t *s)
{
    json_t *o = json_object();
    for (int i = 0; i < MOCK_EP_COUNT; i++)
        json_object_set_new(
            o, endpoint_names[i],
            json_integer((json_int_t)atomic_load_explicit(&s->by_endpoint[i], RELAXED)));
    return o;
}

#define LOAD(field) ((json_int_t)atomic_load_explicit(&s->field, RELAXED))

char *mock_stats_json(mock_stats_t *s, size_t *len)
{
    json_t *root =
        json_pack("{s:I, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "requests",
                  LOAD(requests), "by_endpoint", endpoint_object(s), "by_status", status_object(s),
                  "hangs", LOAD(hangs), "truncated", LOAD(truncated), "wrong_content_type",
                  LOAD(wrong_content_type), "in_flight", LOAD(in_flight), "waiting", LOAD(waiting),
                  "limited", LOAD(limited), "peak_concurrency", LOAD(peak_concurrency),
                  "model_in_flight", LOAD(model_open), "paused_at_ms", LOAD(paused_at_ms));
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    *len = text ? strlen(text) : 0;
    return text;
}
