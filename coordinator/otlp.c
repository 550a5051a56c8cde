/* otlp: span record -> OTLP JSON span (hex ids, nanosecond times as strings, typed attributes). */
#include "otlp.h"

#include <curl/curl.h>
#include <time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

static json_t *kv_string(const char *k, const char *v)
{
    return json_pack("{sss{ss}}", "key", k, "value", "stringValue", v);
}

void coord_otlp_batch_init(coord_otlp_batch_t *b, const char *run_id, const char *version)
{
    json_t *res_attrs = json_array();
    json_array_append_new(res_attrs, kv_string("service.name", "reasonsaver"));
    json_array_append_new(res_attrs, kv_string("service.version", version));
    json_array_append_new(res_attrs, kv_string("reasonsaver.run.id", run_id));
    b->spans = json_array();
    json_t *scope = json_pack("{s{ssss}so}", "scope", "name", "reasonsaver", "version", version,
                              "spans", b->spans);
    b->request = json_pack("{s[{s{so}s[o]}]}", "resourceSpans", "resource", "attributes",
                           res_attrs, "scopeSpans", scope);
}

void coord_otlp_batch_cleanup(coord_otlp_batch_t *b)
{
    json_decref(b->request);
    b->request = b->spans = NULL;
}

size_t coord_otlp_count(const coord_otlp_batch_t *b)
{
    return json_array_size(b->spans);
}

char *coord_otlp_dump(const coord_otlp_batch_t *b)
{
    return json_dumps(b->request, JSON_COMPACT);
}

static int is_hex(const char *s, size_t len)
{
    if (!s || strlen(s) != len) return 0;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

/* OTLP JSON: 64-bit integers are strings, times are nanoseconds. */
static json_t *nanos(json_int_t us)
{
    char text[32];
    snprintf(text, sizeof(text), "%lld000", (long long)us);
    return json_string(text);
}

static json_t *any_value(json_t *v)
{
    if (json_is_string(v)) return json_pack("{ss}", "stringValue", json_string_value(v));
    if (json_is_boolean(v)) return json_pack("{sb}", "boolValue", json_is_true(v));
    if (json_is_integer(v)) {
        char text[32];
        snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(v));
        return json_pack("{ss}", "intValue", text);
    }
    if (json_is_real(v)) return json_pack("{sf}", "doubleValue", json_real_value(v));
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_t *o = json_pack("{ss}", "stringValue", text ? text : "");
    free(text);
    return o;
}

static json_t *attributes(json_t *obj)
{
    json_t *arr = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        if (json_is_null(v)) continue;
        json_array_append_new(arr, json_pack("{ssso}", "key", k, "value", any_value(v)));
    }
    return arr;
}

static json_t *events(json_t *list)
{
    json_t *arr = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        const char *name = json_string_value(json_object_get(e, "name"));
        json_array_append_new(arr, json_pack("{sssoso}", "name", name ? name : "event",
                              "timeUnixNano", nanos(json_integer_value(json_object_get(e, "time_us"))),
                              "attributes", attributes(json_object_get(e, "attributes"))));
    }
    return arr;
}

/* SpanKind: INTERNAL 1, SERVER 2, CLIENT 3; StatusCode: UNSET 0, OK 1, ERROR 2. */
static int kind_code(const char *k)
{
    return k && strcmp(k, "client") == 0 ? 3 : k && strcmp(k, "server") == 0 ? 2 : 1;
}

static json_t *status(json_t *st)
{
    const char *code = json_string_value(json_object_get(st, "code"));
    int c = code && strcmp(code, "error") == 0 ? 2 : code && strcmp(code, "ok") == 0 ? 1 : 0;
    const char *msg = json_string_value(json_object_get(st, "message"));
    return json_pack("{siss}", "code", c, "message", msg ? msg : "");
}

int coord_otlp_add(coord_otlp_batch_t *b, json_t *span)
{
    const char *tid = json_string_value(json_object_get(span, "trace_id"));
    const char *sid = json_string_value(json_object_get(span, "span_id"));
    const char *pid = json_string_value(json_object_get(span, "parent_span_id"));
    json_t *start = json_object_get(span, "start_us"), *end = json_object_get(span, "end_us");
    if (!is_hex(tid, 32) || !is_hex(sid, 16) || (pid && !is_hex(pid, 16)) ||
        !json_is_integer(start) || !json_is_integer(end))
        return -1;
    const char *name = json_string_value(json_object_get(span, "name"));
    json_t *o = json_pack("{sssssssssisososososo}", "traceId", tid, "spanId", sid, "name",
                          name ? name : "span", "parentSpanId", pid ? pid : "", "kind",
                          kind_code(json_string_value(json_object_get(span, "kind"))),
                          "startTimeUnixNano", nanos(json_integer_value(start)),
                          "endTimeUnixNano", nanos(json_integer_value(end)), "attributes",
                          attributes(json_object_get(span, "attributes")), "events",
                          events(json_object_get(span, "events")), "status",
                          status(json_object_get(span, "status")));
    json_array_append_new(b->spans, o);
    return 0;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p, (void)arg;
    return size * n;
}

/* One POST; 0 ok, 1 retryable (429, 5xx, 408, connection), -1 final. */
static int post_once(CURL *curl, const char *url, struct curl_slist *headers, const char *body,
                     rs_err_t *err)
{
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK) {
        rs_err_set(err, "%s: %s", url, curl_easy_strerror(rc));
        return 1;
    }
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) return 0;
    rs_err_set(err, "%s answered HTTP %ld", url, status);
    return status == 429 || status >= 500 || status == 408 ? 1 : -1;
}

int coord_otlp_post(void *curl, const char *url, void *headers, const char *body, rs_err_t *err)
{
    long delay_ms = 500;
    for (int attempt = 0;; attempt++) {
        int rc = post_once(curl, url, headers, body, err);
        if (rc <= 0) return rc;
        if (attempt == 5) return -1;
        rs_warn("OTLP export: %s; retrying in %ld ms", err->msg, delay_ms);
        struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
        delay_ms *= 2;
    }
}

char *coord_otlp_traces_url(const char *base)
{
    size_t n = strlen(base);
    if (n >= 10 && strcmp(base + n - 10, "/v1/traces") == 0) return rs_xstrdup(base);
    return rs_xasprintf("%.*s/v1/traces", (int)(n && base[n - 1] == '/' ? n - 1 : n), base);
}
