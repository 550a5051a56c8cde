/* cmd_keys: `reasonsaver keys gen NAME [--dir DIR]` — a CURVE key pair for the coordinator or a
 * worker (docs/PROTOCOL.md, "CURVE"). Refuses to overwrite: a lost secret is re-made by hand. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "curvekey.h"

static const char KEYS_HELP[] =
    "usage: reasonsaver keys gen NAME [--dir DIR]\n\n"
    "Makes a ZeroMQ CURVE key pair and writes DIR/NAME.secret (the secret key, mode 0600) and\n"
    "DIR/NAME.pub (the public key, mode 0644), one Z85 key a line. An existing file is never\n"
    "overwritten. NAME is 1 to 64 letters, digits, '.', '_' or '-'; DIR (made if missing)\n"
    "defaults to the current directory.\n\n"
    "For the coordinator: cluster.curve.secret_key_file names its .secret; its .pub goes to every\n"
    "worker (reasonsaver-worker --server-key). For a worker: its .secret stays on its machine\n"
    "(--key) and its .pub goes into the coordinator's cluster.curve.authorized_keys_dir, where\n"
    "NAME becomes the worker's identity in `reasonsaver status`.\n";

static int gen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, 0, 'd'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *dir = ".";
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
        if (c == 'h') return fputs(KEYS_HELP, stdout), CLI_OK;
        if (c == 'd') dir = optarg;
        if (c == '?') return fputs(KEYS_HELP, stderr), CLI_USAGE;
    }
    if (optind != argc - 1) return cli_fail(CLI_USAGE, "keys gen needs one NAME (see --help)");
    const char *name = argv[optind];
    if (!rs_curvekey_name_ok(name))
        return cli_fail(CLI_USAGE, "key name '%.80s': use 1 to %d letters, digits, '.', '_' or '-'",
                        name, RS_CURVEKEY_NAME_MAX);
    rs_err_t err;
    char *sec = NULL, *pub = NULL;
    if (rs_mkdirs(dir, &err) != 0 || rs_curvekey_write_pair(dir, name, &sec, &pub, &err) != 0)
        return cli_fail(CLI_RUNTIME, "%s", err.msg);
    printf("secret key %s (mode 0600: keep it on this machine)\npublic key %s\n", sec, pub);
    free(sec);
    free(pub);
    return CLI_OK;
}

int cmd_keys(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "gen") == 0) return gen(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return fputs(KEYS_HELP, stdout), CLI_OK;
    return cli_fail(CLI_USAGE, "keys: the only command is 'gen' (see `reasonsaver keys --help`)");
}
