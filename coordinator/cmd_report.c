/* cmd_report: `reasonsaver report RUN_ID` — rebuilds a run's reports from the results in Redis,
 * with the config the run stored (not the YAML on disk, which may have changed since). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cliargs.h"
#include "config.h"
#include "gates.h"
#include "jsonget.h"
#include "junit.h"
#include "log.h"
#include "report.h"
#include "runref.h"

static const char REPORT_HELP[] =
    "usage: reasonsaver report [RUN_ID] [OPTIONS]\n\n"
    "Rebuilds report.json, report.md and results.jsonl of a run from its stored results and\n"
    "prints the summary. Without RUN_ID: the latest run.\n\n"
    "options:\n"
    "  --out DIR     directory of runs (default runs)\n"
    "  --redis URL   read the run from this Redis instead of its run directory\n"
    "  --to DIR      write the files here (default: the run directory)\n"
    "  --junit FILE  also write the report as JUnit XML to FILE\n"
    "  -h, --help    this help\n\n"
    "A finished run's report is judged as `run` judges it, with the gates stored with the run:\n"
    "exit status 0 passed, 1 failure (also: more than half of some model's cases ended in\n"
    "error, unless a gate measures its errors), 2 bad input, 3 a gate failed.\n";

typedef struct report_opts {
    const char *to, *junit;
} report_opts_t;

static int report_opt(void *arg, int c, const char *value)
{
    report_opts_t *o = arg;
    if (c == 't') o->to = value;
    else o->junit = value; /* 'j': --junit (long only) */
    return CLI_OK;
}

int cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {{"to", required_argument, 0, 't'},
                                         {"junit", required_argument, 0, 'j'},
                                         {0, 0, 0, 0}};
    report_opts_t o = {0};
    const cli_cmd_t cli = {.name = "report", .help = REPORT_HELP, .opts = opts, .letters = "t:",
                           .on_opt = report_opt, .arg = &o, .max_args = 1};
    cli_runargs_t a;
    coord_runref_t ref;
    rs_err_t err;
    int code;
    if (cli_runargs_parse(&cli, argc, argv, &a, &code)) return code;
    if ((code = cli_runargs_open(&a, a.n_args ? a.args[0] : NULL, &ref))) return code;
    const char *dir = o.to ? o.to : ref.dir;
    rs_config_t *cfg = NULL;
    json_t *report = NULL;
    if (!dir) code = cli_fail(CLI_USAGE, "run %s has no directory here: pass --to DIR", ref.run_id);
    else if (rs_mkdirs(dir, &err)) code = cli_fail(CLI_RUNTIME, "%s", err.msg);
    else if (!(cfg = rs_config_from_json(json_string_value(json_object_get(ref.manifest, "config")), &err)))
        code = cli_fail(CLI_RUNTIME, "run %s: stored config: %s", ref.run_id, err.msg);
    else if (coord_report_build(ref.store, ref.run_id, cfg, ref.manifest, dir, &report, &err))
        code = cli_fail(CLI_RUNTIME, "%s", err.msg);
    if (report) {
        coord_report_print_summary(stdout, report);
        coord_report_print_paths(stdout, cfg, dir);
        char *cmd = coord_runref_resume_command(ref.run_id, a.out, a.redis);
        if (coord_report_warn_corrupted(stderr, report, cmd)) code = CLI_RUNTIME;
        free(cmd);
        if (o.junit && coord_junit_write(o.junit, cfg, report, &err))
            code = cli_fail(CLI_RUNTIME, "%s", err.msg);
        else if (code == CLI_OK && strcmp(coord_jstr_or(report, "status", ""), "finished") == 0)
            code = coord_gates_verdict(cfg, report, stdout, stderr);
    }
    json_decref(report);
    rs_config_destroy(&cfg);
    coord_runref_close(&ref);
    return code;
}
