/* cmd_top: `reasonsaver top [RUN_ID]` — the status view redrawn every second with ANSI escapes
 * (no curses), until q, Ctrl-C, or the run is over. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "cliargs.h"
#include "log.h"
#include "runref.h"
#include "statusview.h"

static const char TOP_HELP[] =
    "usage: reasonsaver top [RUN_ID] [OPTIONS]\n\n"
    "Shows the status view of a run, refreshed every second: progress, rate, ETA, failures and\n"
    "the live workers with what each holds. q or Ctrl-C quits. Without RUN_ID: the latest run.\n\n"
    "options:\n"
    "  --out DIR       directory of runs (default runs)\n"
    "  --redis URL     read the run from this Redis instead of its run directory\n"
    "  --interval MS   refresh period (default 1000)\n"
    "  --once          draw once and exit\n"
    "  -h, --help      this help\n";

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
    (void)sig;
    quit = 1;
}

/* Waits up to ms for a key; returns 1 when it was q. */
static int wait_key(int64_t ms)
{
    fd_set fds;
    FD_ZERO(&fds);
    FD_SET(STDIN_FILENO, &fds);
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    if (select(STDIN_FILENO + 1, &fds, NULL, NULL, &tv) <= 0) return 0;
    char c = 0;
    return read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q');
}

static int term_width(void)
{
    struct winsize ws;
    return ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
}

static void draw(coord_runref_t *ref, int tty)
{
    rs_err_t err;
    json_t *man = coord_store_run_get(ref->store, ref->run_id, &err);
    rs_buf_t b;
    rs_buf_init(&b);
    if (tty) rs_buf_puts(&b, "\x1b[H\x1b[2J"); /* home, clear */
    if (man) {
        json_t *s = coord_status_json(ref->store, ref->run_id, man);
        coord_status_render(&b, s, term_width());
        json_decref(s);
        json_decref(man);
    } else {
        rs_buf_printf(&b, "(Redis unreachable: %s)\n", err.msg);
    }
    if (tty) rs_buf_puts(&b, "\nq to quit\n");
    fputs(b.data, stdout);
    fflush(stdout);
    rs_buf_cleanup(&b);
}

static int run_finished(coord_runref_t *ref)
{
    rs_err_t err;
    json_t *man = coord_store_run_get(ref->store, ref->run_id, &err);
    const char *st = json_string_value(json_object_get(man, "status"));
    int over = st && strcmp(st, "running") != 0;
    json_decref(man);
    return over;
}

typedef struct top_opts {
    int64_t interval;
    int once;
} top_opts_t;

static int top_opt(void *arg, int c, const char *value)
{
    top_opts_t *o = arg;
    if (c == '1') o->once = 1;
    else if (rs_parse_i64(value, &o->interval) || o->interval < 50) /* 'i' */
        return cli_fail(CLI_USAGE, "--interval: expected milliseconds >= 50, got '%s'", value);
    return CLI_OK;
}

int cmd_top(int argc, char **argv)
{
    static const struct option opts[] = {{"interval", required_argument, 0, 'i'},
                                         {"once", no_argument, 0, '1'},
                                         {0, 0, 0, 0}};
    top_opts_t o = {.interval = 1000};
    const cli_cmd_t cli = {.name = "top", .help = TOP_HELP, .opts = opts, .letters = "i:1",
                           .on_opt = top_opt, .arg = &o, .max_args = 1};
    cli_runargs_t a;
    coord_runref_t ref;
    int code;
    if (cli_runargs_parse(&cli, argc, argv, &a, &code)) return code;
    if ((code = cli_runargs_open(&a, a.n_args ? a.args[0] : NULL, &ref))) return code;
    int64_t interval = o.interval;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int tty = isatty(STDOUT_FILENO), raw = isatty(STDIN_FILENO);
    struct termios saved, t;
    if (raw && tcgetattr(STDIN_FILENO, &saved) == 0) {
        t = saved;
        t.c_lflag &= (tcflag_t) ~(ICANON | ECHO); /* keys arrive one at a time, unechoed */
        tcsetattr(STDIN_FILENO, TCSANOW, &t);
    } else {
        raw = 0;
    }
    while (!quit) {
        draw(&ref, tty);
        if (o.once || run_finished(&ref)) break;
        if (raw ? wait_key(interval) : (usleep((useconds_t)interval * 1000), 0)) break;
    }
    if (raw) tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    coord_runref_close(&ref);
    return CLI_OK;
}
