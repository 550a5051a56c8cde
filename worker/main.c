/* main: reasonsaver-worker's command line. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curvekey.h"
#include "envguard.h"
#include "log.h"
#include "proto.h"
#include "session.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static const char HELP[] =
    "usage: reasonsaver-worker --connect ENDPOINT [OPTIONS]\n\n"
    "Joins a reasonsaver coordinator, takes tasks, runs each case's chain (generate, extract,\n"
    "grade) and returns the results. Stateless: it can be stopped at any moment and the\n"
    "coordinator gives its cases to another worker. API keys are read from this process's\n"
    "environment (the variable each model's api_key_env names), never from the coordinator,\n"
    "and only from variables --allow-env allows: a run spec naming another is refused.\n\n"
    "options:\n"
    "  --connect ENDPOINT  the coordinator, e.g. tcp://10.0.0.5:5555 (required)\n"
    "  --allow-env LIST    variables the spec may name as api_key_env (and in an exec grader's\n"
    "                      env, the cache's password_env): names or shell globs,\n"
    "                      comma-separated, repeatable (default '" WK_ENVGUARD_DEFAULT "'; given,\n"
    "                      it replaces the default; '' allows none)\n"
    "  --allow-exec        run the commands of the spec's exec graders (docs/GRADERS.md); without\n"
    "                      it a spec with an exec grader is refused. Only for a coordinator\n"
    "                      you trust: its config chooses the command\n"
    "  --id ID             worker id shown in status (default HOST-PID)\n"
    "  --slots N           cases run at once (default: the run's cluster.worker_slots); the\n"
    "                      run's cluster.worker_backlog more wait to start as soon as one ends\n"
    "  --requests N        HTTP requests in flight at once (default: as many as slots)\n"
    "  --server-key FILE   the coordinator's CURVE public key (its NAME.pub from `reasonsaver\n"
    "                      keys gen`): the connection is encrypted and the coordinator must\n"
    "                      prove it holds the matching secret key; needs --key\n"
    "  --key FILE          this worker's CURVE secret key (NAME.secret, mode 0600); the\n"
    "                      coordinator lets it in when NAME.pub is in its authorized_keys_dir,\n"
    "                      and NAME is this worker's identity there; needs --server-key\n"
    "  --exit-on-drain     exit when the coordinator drains (used for local workers)\n"
    "  --verbose           debug logging\n"
    "  -h, --help          this help\n\n"
    "Exit status: 0 after a drain or a signal; 1 with one line of explanation when it cannot\n"
    "run; 2 on a usage error; 3 when it cannot use the coordinator's run spec three times in a\n"
    "row (a worker of another version, a model it cannot call): restarting it will not help.\n";

/* Reads --server-key and --key into o; 1 line on stderr and -1 when either is unusable. */
static int load_keys(wk_opts_t *o, const char *server_key_file, const char *key_file)
{
    rs_err_t err;
    if (rs_curvekey_read_public(server_key_file, o->server_key, &err) != 0) {
        fprintf(stderr, "reasonsaver-worker: --server-key %s\n", err.msg);
        return -1;
    }
    if (rs_curvekey_read_secret(key_file, o->secret_key, &err) != 0 ||
        rs_curvekey_public_of(o->secret_key, o->public_key, &err) != 0) {
        fprintf(stderr, "reasonsaver-worker: --key %s\n", err.msg);
        memset(o->secret_key, 0, sizeof(o->secret_key));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"connect", required_argument, 0, 'c'},
                                         {"id", required_argument, 0, 'i'},
                                         {"slots", required_argument, 0, 's'},
                                         {"requests", required_argument, 0, 'r'},
                                         {"exit-on-drain", no_argument, 0, 'x'},
                                         {"server-key", required_argument, 0, 'S'},
                                         {"key", required_argument, 0, 'K'},
                                         {"allow-env", required_argument, 0, 'e'},
                                         {"allow-exec", no_argument, 0, 'X'},
                                         {"verbose", no_argument, 0, 'v'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    /* A RESULT of a task's records, its frame and the trees behind it are hundreds of KiB: above
     * glibc's 128 KiB each was an mmap and munmap (with its TLB flush) per task, and trimming the
     * heap's top a brk per case (9% of a sim worker's time). As in the coordinator, kept. */
    mallopt(M_MMAP_THRESHOLD, 16 << 20);
    mallopt(M_TRIM_THRESHOLD, 32 << 20);
    rs_log_init("reasonsaver-worker", RS_LOG_INFO);
    wk_opts_t o = {0};
    const char *server_key_file = NULL, *key_file = NULL;
    char default_id[300];
    const char *allow[argc]; /* the --allow-env lists, read once the options are known good */
    size_t n_allow = 0;
    int c, allow_exec = 0;
    while ((c = getopt_long(argc, argv, "c:i:s:r:xvh", opts, NULL)) != -1) {
        if (c == 'h') return fputs(HELP, stdout), 0;
        if (c == 'c') o.connect = optarg;
        else if (c == 'i') o.id = optarg;
        else if (c == 's' && (rs_parse_i64(optarg, &o.slots) || o.slots < 1 || o.slots > WK_SLOTS_MAX)) {
            fprintf(stderr, "reasonsaver-worker: --slots: expected 1..%d, got '%s'\n", WK_SLOTS_MAX,
                    optarg);
            return 2;
        } else if (c == 'r' &&
                   (rs_parse_i64(optarg, &o.requests) || o.requests < 1 || o.requests > WK_SLOTS_MAX)) {
            fprintf(stderr, "reasonsaver-worker: --requests: expected 1..%d, got '%s'\n",
                    WK_SLOTS_MAX, optarg);
            return 2;
        } else if (c == 'e') allow[n_allow++] = optarg;
        else if (c == 'x') o.exit_on_drain = 1;
        else if (c == 'X') allow_exec = 1;
        else if (c == 'S') server_key_file = optarg;
        else if (c == 'K') key_file = optarg;
        else if (c == 'v') rs_log_set_level(RS_LOG_DEBUG);
        else if (c == '?') return fputs(HELP, stderr), 2;
    }
    if (!o.connect || optind != argc) {
        fprintf(stderr, "reasonsaver-worker: --connect ENDPOINT is required (see --help)\n");
        return 2;
    }
    if (!server_key_file != !key_file) {
        fprintf(stderr, "reasonsaver-worker: %s needs %s too (CURVE takes the coordinator's public "
                        "key and this worker's secret key)\n",
                server_key_file ? "--server-key" : "--key", server_key_file ? "--key" : "--server-key");
        return 2;
    }
    if (server_key_file && load_keys(&o, server_key_file, key_file) != 0) return 1;
    rs_err_t err;
    wk_envguard_t *env = wk_envguard_new();
    if (!n_allow) allow[n_allow++] = WK_ENVGUARD_DEFAULT;
    for (size_t i = 0; i < n_allow; i++) {
        if (wk_envguard_add(env, allow[i], &err) == 0) continue;
        fprintf(stderr, "reasonsaver-worker: %s\n", err.msg);
        wk_envguard_destroy(&env);
        return 2;
    }
    if (allow_exec) wk_envguard_allow_exec(env);
    o.env = env;
    if (!o.id) {
        char host[256] = "";
        gethostname(host, sizeof(host) - 1);
        snprintf(default_id, sizeof(default_id), "%s-%d", host, (int)getpid());
        o.id = default_id;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* a grader process that closes its stdin must not kill the worker writing to it */
    signal(SIGPIPE, SIG_IGN);
    /* The API keys are in this process's environment: not dumpable, /proc/<pid>/environ and mem
     * are root's, so a grader (or the model-written code it runs) as the same user cannot read
     * them. Reset by every exec, so graders and other children are as usual. */
    prctl(PR_SET_DUMPABLE, 0);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "reasonsaver-worker: libcurl failed to initialise\n");
        wk_envguard_destroy(&env);
        return 1;
    }
    int rc = wk_session_run(&o, &stop, &err);
    memset(o.secret_key, 0, sizeof(o.secret_key));
    curl_global_cleanup();
    wk_envguard_destroy(&env);
    if (rc != 0) {
        fprintf(stderr, "reasonsaver-worker: %s\n", err.msg);
        return rc == -2 ? RS_PROTO_EXIT_SPEC : 1;
    }
    return 0;
}
