/* cmd_export: `reasonsaver export RUN_ID --otlp URL | --jsonl FILE` — a run's spans as OTLP/HTTP
 * JSON, batched and retried, to any OpenTelemetry collector (Jaeger, Tempo, Honeycomb, Datadog
 * agent...), or to a file of one ExportTraceServiceRequest per line. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cliargs.h"
#include "log.h"
#include "otlp.h"
#include "record.h"
#include "runref.h"

static const char EXPORT_HELP[] =
    "usage: reasonsaver export [RUN_ID] (--otlp URL | --jsonl FILE) [OPTIONS]\n\n"
    "Sends every span of a run (one trace per case) as OTLP/HTTP JSON to an OpenTelemetry\n"
    "endpoint, e.g. --otlp http://localhost:4318 (POSTs to /v1/traces), or writes the same\n"
    "requests to FILE, one per line. Without RUN_ID: the latest run.\n\n"
    "options:\n"
    "  --otlp URL      collector base URL or full /v1/traces URL\n"
    "  --jsonl FILE    write to FILE instead ('-' for stdout)\n"
    "  --batch N       spans per request (default 512)\n"
    "  --header K:V    extra HTTP header, e.g. an API key header for a vendor (repeatable);\n"
    "                  use --header-env K:VAR to take the value from the environment\n"
    "  --header-env K:VAR\n"
    "  --out DIR       directory of runs (default runs)\n"
    "  --redis URL     read the run from this Redis instead of its run directory\n"
    "  -h, --help      this help\n";

typedef struct exporter {
    const char *run_id;
    const char *url; /* full /v1/traces URL, or NULL */
    FILE *file;
    struct curl_slist *headers;
    CURL *curl;
    size_t batch, sent, requests, skipped;
    coord_otlp_batch_t b;
} exporter_t;

static int flush(exporter_t *e, rs_err_t *err)
{
    size_t n = coord_otlp_count(&e->b);
    if (n == 0) return 0;
    char *body = coord_otlp_dump(&e->b);
    int rc = 0;
    if (e->file) rc = fprintf(e->file, "%s\n", body) < 0 ? rs_err_set(err, "write error") : 0;
    else rc = coord_otlp_post(e->curl, e->url, e->headers, body, err);
    free(body);
    coord_otlp_batch_cleanup(&e->b);
    coord_otlp_batch_init(&e->b, e->run_id, RS_VERSION);
    if (rc == 0) e->sent += n, e->requests++;
    return rc;
}

static int add_result(exporter_t *e, uint64_t idx, const char *stored, rs_err_t *err)
{
    const char *text;
    size_t len;
    rs_err_t why;
    if (coord_record_unwrap(stored, strlen(stored), &text, &len, &why)) {
        rs_warn("case %llu left out: %s", (unsigned long long)idx, why.msg);
        return 0;
    }
    json_t *r = json_loadb(text, len, 0, NULL);
    size_t i;
    json_t *span;
    int rc = 0;
    json_array_foreach(json_object_get(r, "spans"), i, span) {
        if (coord_otlp_add(&e->b, span) != 0) e->skipped++;
        if (coord_otlp_count(&e->b) >= e->batch && (rc = flush(e, err)) != 0) break;
    }
    json_decref(r);
    return rc;
}

static int export_all(exporter_t *e, coord_runref_t *ref, rs_err_t *err)
{
    int64_t total = 0;
    rs_parse_i64(json_string_value(json_object_get(ref->manifest, "total")), &total);
    char *batch[1000];
    for (int64_t first = 0; first < total; first += 1000) {
        size_t n = total - first < 1000 ? (size_t)(total - first) : 1000;
        if (coord_store_results_get(ref->store, ref->run_id, (uint64_t)first, n, batch, err)) return -1;
        int rc = 0;
        for (size_t i = 0; i < n; i++) {
            if (batch[i] && rc == 0) rc = add_result(e, (uint64_t)first + i, batch[i], err);
            free(batch[i]);
        }
        if (rc) return -1;
    }
    return flush(e, err);
}

static int add_header(exporter_t *e, const char *spec, int from_env)
{
    const char *colon = strchr(spec, ':');
    if (!colon || colon == spec) return -1;
    const char *value = colon + 1;
    if (from_env && !(value = getenv(colon + 1))) return -1;
    char *line = rs_xasprintf("%.*s: %s", (int)(colon - spec), spec, value);
    e->headers = curl_slist_append(e->headers, line);
    free(line);
    return 0;
}

typedef struct export_opts {
    exporter_t *e; /* gets the headers */
    const char *otlp, *jsonl;
    int64_t batch;
} export_opts_t;

static int export_opt(void *arg, int c, const char *value)
{
    export_opts_t *o = arg;
    if (c == 'u') o->otlp = value;
    else if (c == 'j') o->jsonl = value;
    else if (c == 'b' && (rs_parse_i64(value, &o->batch) || o->batch < 1))
        return cli_fail(CLI_USAGE, "--batch: expected a positive count, got '%s'", value);
    else if ((c == 'H' || c == 'E') && add_header(o->e, value, c == 'E'))
        return cli_fail(CLI_USAGE, "--header%s '%s': expected NAME:%s", c == 'E' ? "-env" : "",
                        value, c == 'E' ? "VARIABLE (set in the environment)" : "VALUE");
    return CLI_OK;
}

static int export_check(void *arg)
{
    const export_opts_t *o = arg;
    if (!o->otlp == !o->jsonl)
        return cli_fail(CLI_USAGE, "export needs exactly one of --otlp URL and --jsonl FILE");
    return CLI_OK;
}

int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {
        {"otlp", required_argument, 0, 'u'},   {"jsonl", required_argument, 0, 'j'},
        {"batch", required_argument, 0, 'b'},  {"header", required_argument, 0, 'H'},
        {"header-env", required_argument, 0, 'E'}, {0, 0, 0, 0}};
    exporter_t e = {0};
    e.headers = curl_slist_append(NULL, "Content-Type: application/json");
    export_opts_t o = {.e = &e, .batch = 512};
    const cli_cmd_t cli = {.name = "export", .help = EXPORT_HELP, .opts = opts,
                           .letters = "u:j:b:H:E:", .on_opt = export_opt, .check = export_check,
                           .arg = &o, .max_args = 1};
    cli_runargs_t a;
    coord_runref_t ref;
    rs_err_t err;
    int code;
    if (cli_runargs_parse(&cli, argc, argv, &a, &code) ||
        (code = cli_runargs_open(&a, a.n_args ? a.args[0] : NULL, &ref))) {
        curl_slist_free_all(e.headers);
        return code;
    }
    const char *otlp = o.otlp, *jsonl = o.jsonl;
    int64_t batch = o.batch;
    char *url = NULL;
    rs_afile_t *af = NULL;
    if (otlp) {
        url = coord_otlp_traces_url(otlp);
        e.curl = curl_easy_init();
    } else {
        af = strcmp(jsonl, "-") == 0 ? NULL : rs_afile_open(jsonl, 0644, &err);
        e.file = af ? rs_afile_stream(af) : stdout;
        if (strcmp(jsonl, "-") != 0 && !af) code = cli_fail(CLI_RUNTIME, "%s", err.msg);
    }
    e.run_id = ref.run_id;
    e.url = url;
    e.batch = (size_t)batch;
    if (code == 0) {
        coord_otlp_batch_init(&e.b, ref.run_id, RS_VERSION);
        if (export_all(&e, &ref, &err)) code = cli_fail(CLI_RUNTIME, "export: %s", err.msg);
        coord_otlp_batch_cleanup(&e.b);
    }
    if (code == 0 && af && rs_afile_commit(&af, &err)) code = cli_fail(CLI_RUNTIME, "%s", err.msg);
    rs_afile_abort(&af);
    if (code == 0)
        fprintf(stderr, "exported %zu spans of run %s in %zu request(s)%s\n", e.sent, ref.run_id,
                e.requests, e.skipped ? " (some malformed spans skipped)" : "");
    if (e.curl) curl_easy_cleanup(e.curl);
    curl_slist_free_all(e.headers);
    free(url);
    coord_runref_close(&ref);
    return code;
}
