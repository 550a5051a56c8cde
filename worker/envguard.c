/* envguard: the --allow-env list (names and fnmatch globs) and the one getenv for API keys. */
#include "envguard.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wk_envguard {
    char **items; /* names and globs */
    size_t n;
    rs_buf_t list; /* the items joined with ',' for messages */
    int exec;      /* --allow-exec: the spec's exec graders may run their commands here */
};

wk_envguard_t *wk_envguard_new(void)
{
    wk_envguard_t *g = rs_xcalloc(1, sizeof(*g));
    rs_buf_init(&g->list);
    rs_buf_puts(&g->list, "");
    return g;
}

void wk_envguard_destroy(wk_envguard_t **gp)
{
    if (!gp || !*gp) return;
    wk_envguard_t *g = *gp;
    for (size_t i = 0; i < g->n; i++)
        free(g->items[i]);
    free(g->items);
    rs_buf_cleanup(&g->list);
    free(g);
    *gp = NULL;
}

/* Letters, digits, '_' and the glob characters: an item can never smuggle a '=' or a space. */
static int item_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              strchr("_*?[]!-", c)))
            return 0;
    }
    return 1;
}

int wk_envguard_add(wk_envguard_t *g, const char *list, rs_err_t *err)
{
    for (const char *p = list; *p;) { /* check every item before adding any */
        size_t n = strcspn(p, ",");
        if (!item_ok(p, n))
            return rs_err_set(err,
                              "--allow-env: '%.*s' is not a variable name or a glob of one "
                              "(letters, digits, _ and * ? [ ] ! -)",
                              (int)n, p);
        p += n + (p[n] == ',');
    }
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n) {
            g->items = rs_xrealloc(g->items, (g->n + 1) * sizeof(*g->items));
            g->items[g->n++] = rs_xstrndup(p, n);
            if (g->list.len) rs_buf_putc(&g->list, ',');
            rs_buf_append(&g->list, p, n);
        }
        p += n + (p[n] == ',');
    }
    return 0;
}

int wk_envguard_allows(const wk_envguard_t *g, const char *name)
{
    for (size_t i = 0; i < g->n; i++)
        if (fnmatch(g->items[i], name, 0) == 0) return 1;
    return 0;
}

const char *wk_envguard_list(const wk_envguard_t *g)
{
    return g->list.data;
}

const char *wk_envguard_getenv(const wk_envguard_t *g, const char *name)
{
    return name && wk_envguard_allows(g, name) ? getenv(name) : NULL;
}

static int check_one(const wk_envguard_t *g, const char *what, const char *key, const char *name,
                     rs_err_t *err)
{
    if (!name || wk_envguard_allows(g, name)) return 0;
    return rs_err_set(err,
                      "%s names %s %s, which this worker may not read (--allow-env %s); "
                      "if the coordinator is yours, start the worker with --allow-env %s",
                      what, key, name, *wk_envguard_list(g) ? wk_envguard_list(g) : "''", name);
}

void wk_envguard_allow_exec(wk_envguard_t *g)
{
    g->exec = 1;
}

/* An exec grader runs a command the spec names: only on a worker that said so, and with only the
 * variables it may read. */
static int check_grader(const wk_envguard_t *g, const rs_grader_cfg_t *gr, rs_err_t *err)
{
    if (gr->kind != RS_GRADE_EXEC) return 0;
    if (!g->exec)
        return rs_err_set(err,
                          "exec grader '%s' would run %s on this worker, which runs no commands "
                          "from a spec; if the coordinator is yours, start the worker with "
                          "--allow-exec",
                          gr->name, gr->command ? gr->command[0] : "a command");
    char what[300];
    snprintf(what, sizeof(what), "exec grader '%s'", gr->name);
    for (size_t i = 0; gr->env && gr->env[i]; i++)
        if (check_one(g, what, "env", gr->env[i], err) != 0) return -1;
    return 0;
}

int wk_envguard_check(const wk_envguard_t *g, const rs_config_t *cfg, rs_err_t *err)
{
    char what[300];
    for (size_t m = 0; m < cfg->n_models; m++) {
        snprintf(what, sizeof(what), "model '%s'", cfg->models[m].name);
        if (check_one(g, what, "api_key_env", cfg->models[m].api_key_env, err) != 0) return -1;
    }
    for (size_t i = 0; i < cfg->scoring.n_graders; i++)
        if (check_grader(g, &cfg->scoring.graders[i], err) != 0) return -1;
    return check_one(g, "the embedder", "api_key_env", cfg->embedder.api_key_env, err);
}
