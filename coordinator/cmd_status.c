/* cmd_status: `reasonsaver status [RUN_ID]` — one screen (or --json) about a run, from Redis. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "runref.h"

static const char STATUS_HELP[] =
    "usage: reasonsaver status [RUN_ID] [OPTIONS]\n\n"
    "Shows a run's state, progress and rate. Without RUN_ID: the latest run.\n\n"
    "options:\n"
    "  --out DIR     directory of runs (default runs)\n"
    "  --redis URL   read the run from this Redis instead of its run directory\n"
    "  --json        machine-readable output\n"
    "  -h, --help    this help\n";

static int64_t field_int(json_t *m, const char *k)
{
    int64_t v = 0;
    const char *s = json_string_value(json_object_get(m, k));
    if (s) rs_parse_i64(s, &v);
    return v;
}

static const char *field_str(json_t *m, const char *k)
{
    const char *s = json_string_value(json_object_get(m, k));
    return s ? s : "";
}

static json_t *status_json(const coord_runref_t *ref)
{
    json_t *m = ref->manifest;
    int64_t total = field_int(m, "total"), done = field_int(m, "done");
    int64_t started = field_int(m, "started_at"), updated = field_int(m, "updated_at");
    double secs = (double)(updated - started) / 1000.0;
    double rate = secs > 0 ? (double)done / secs : 0;
    return json_pack("{sssssssIsIsIsIsfsfssss}", "run_id", ref->run_id, "name", field_str(m, "name"),
                     "status", field_str(m, "status"), "total", (json_int_t)total, "done",
                     (json_int_t)done, "failed", (json_int_t)field_int(m, "failed"), "skipped",
                     (json_int_t)field_int(m, "skipped"), "elapsed_seconds", secs,
                     "cases_per_second", rate, "dataset", field_str(m, "dataset_path"),
                     "coordinator", field_str(m, "coordinator"));
}

static void print_human(json_t *s)
{
    int64_t total = json_integer_value(json_object_get(s, "total"));
    int64_t done = json_integer_value(json_object_get(s, "done"));
    double frac = total ? (double)done / (double)total : 0;
    char bar[31];
    for (int i = 0; i < 30; i++) bar[i] = i < (int)(frac * 30) ? '#' : '.';
    bar[30] = '\0';
    printf("run       %s\n", json_string_value(json_object_get(s, "run_id")));
    printf("status    %s\n", json_string_value(json_object_get(s, "status")));
    printf("progress  [%s] %.1f%% %lld/%lld\n", bar, 100 * frac, (long long)done, (long long)total);
    printf("failed    %lld\n", (long long)json_integer_value(json_object_get(s, "failed")));
    printf("rate      %.0f cases/s over %.1f s\n",
           json_number_value(json_object_get(s, "cases_per_second")),
           json_number_value(json_object_get(s, "elapsed_seconds")));
    printf("dataset   %s\n", json_string_value(json_object_get(s, "dataset")));
}

int cmd_status(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'},
                                         {"redis", required_argument, 0, 'r'},
                                         {"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *out = "runs", *redis = NULL;
    int as_json = 0, c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "o:r:jh", opts, NULL)) != -1) {
        if (c == 'h') return fputs(STATUS_HELP, stdout), CLI_OK;
        if (c == 'o') out = optarg;
        else if (c == 'r') redis = optarg;
        else if (c == 'j') as_json = 1;
        else return fputs(STATUS_HELP, stderr), CLI_USAGE;
    }
    if (argc - optind > 1) return cli_fail(CLI_USAGE, "status takes at most one RUN_ID");
    rs_log_set_level(RS_LOG_WARN);
    coord_runref_t ref;
    rs_err_t err;
    if (coord_runref_open(&ref, out, optind < argc ? argv[optind] : NULL, redis, &err))
        return cli_fail(CLI_USAGE, "%s", err.msg);
    json_t *s = status_json(&ref);
    if (as_json) {
        char *text = json_dumps(s, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", text);
        free(text);
    } else {
        print_human(s);
    }
    json_decref(s);
    coord_runref_close(&ref);
    return CLI_OK;
}
