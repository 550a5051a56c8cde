/* neardup: the report's near-duplicate prompts: hash embeddings of the run's dataset prompts
 * (re-read from the dataset file, at most DUP_MAX_CASES of them) and the pairs whose cosine
 * similarity reaches DUP_THRESHOLD (common/vecset.h). */
#include "neardup.h"
#include "units.h"

#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "embed.h"
#include "log.h"
#include "store.h"
#include "vecset.h"

enum { DUP_MAX_CASES = 50000, DUP_TOP = 20, DUP_DIM = 256, DUP_SNIPPET = 160 };
static const double DUP_THRESHOLD = 0.95;

/* The stored config with the prompt reduced to the bare input (the template's words, shared by
 * every case, would make all pairs look alike) and at most DUP_MAX_CASES cases: the all-pairs
 * product grows with their square. */
static rs_config_t *dup_config(const rs_config_t *cfg, rs_err_t *err)
{
    char *text = rs_config_to_json(cfg);
    rs_config_t *c = rs_config_from_json(text, err);
    free(text);
    if (!c) return NULL;
    free(c->prompt.template);
    c->prompt.template = rs_xstrdup("{{input}}");
    free(c->prompt.system);
    c->prompt.system = NULL;
    if (c->dataset.limit <= 0 || c->dataset.limit > DUP_MAX_CASES) c->dataset.limit = DUP_MAX_CASES;
    return c;
}

/* A case's prompt: its messages other than system ones, a line each. Heap. */
/* The case's prompt as the dataset has it: its input field before prompt.template (an evals
 * case: its non-system messages), so a template shared by every case adds no similarity. */
static char *case_text(const rs_case_t *c)
{
    if (c->input) return rs_xstrdup(c->input);
    rs_buf_t b;
    rs_buf_init(&b);
    for (size_t i = 0; i < c->n_msgs; i++) {
        if (strcmp(c->msgs[i].role, "system") == 0) continue;
        if (b.len) rs_buf_putc(&b, '\n');
        rs_buf_puts(&b, c->msgs[i].content);
    }
    return rs_buf_detach(&b);
}

static int embed_cases(rs_dataset_t *ds, float *v, size_t n, rs_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        rs_case_t c;
        if (rs_dataset_read(ds, i, &c, err)) return -1;
        char *text = case_text(&c);
        rs_embed_hash(text, DUP_DIM, v + i * DUP_DIM);
        free(text);
        rs_case_cleanup(&c);
    }
    return 0;
}

/* One side of a pair: the case id and the start of its prompt. */
static void dup_side(json_t *o, rs_dataset_t *ds, size_t idx, const char *id_key,
                     const char *text_key)
{
    rs_case_t c;
    rs_err_t err;
    if (rs_dataset_read(ds, idx, &c, &err)) return;
    char *text = case_text(&c);
    size_t n = strlen(text);
    if (n > DUP_SNIPPET) {
        n = DUP_SNIPPET;
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
            n--;
        text[n] = '\0';
    }
    json_object_set_new(o, id_key, json_string(c.id));
    json_object_set_new(o, text_key, json_string(text));
    free(text);
    rs_case_cleanup(&c);
}

static json_t *dups_json(rs_dataset_t *ds, const float *v, size_t n, uint64_t run_cases)
{
    rs_dups_t d;
    rs_vecset_near_dups(v, n, DUP_DIM, (float)DUP_THRESHOLD, DUP_TOP, &d);
    json_t *pairs = json_array();
    for (size_t k = 0; k < d.n_pairs; k++) {
        json_t *o = json_object();
        dup_side(o, ds, d.pairs[k].i, "a", "a_text");
        dup_side(o, ds, d.pairs[k].j, "b", "b_text");
        json_object_set_new(o, "similarity", json_real(d.pairs[k].sim));
        json_array_append_new(pairs, o);
    }
    json_t *out =
        json_pack("{sfsIsIsbso}", "threshold", DUP_THRESHOLD, "total", (json_int_t)d.total, "cases",
                  (json_int_t)n, "capped", run_cases > n, "pairs", pairs);
    rs_dups_cleanup(&d);
    return out;
}

/* The run's cases: its manifest counts units (units.h), each case's prompts and epochs. */
static uint64_t run_cases(const rs_config_t *cfg, json_t *man)
{
    coord_units_t u;
    coord_units_init(&u, cfg, 0);
    return (uint64_t)coord_manifest_int(man, "total") / ((uint64_t)u.variants * u.epochs);
}

json_t *coord_neardup_json(const rs_config_t *cfg, json_t *man)
{
    rs_err_t err;
    rs_config_t *c = dup_config(cfg, &err);
    rs_dataset_t *ds = c ? rs_dataset_open(c, &err) : NULL;
    rs_config_destroy(&c);
    if (!ds) {
        rs_warn("near-duplicate prompts left out: %s", err.msg);
        return NULL;
    }
    json_t *out = NULL;
    size_t n = (size_t)rs_dataset_count(ds);
    if (strcmp(rs_dataset_sha256(ds), coord_manifest_str(man, "dataset_sha256")) != 0) {
        rs_warn("near-duplicate prompts left out: %s changed since the run", rs_dataset_path(ds));
    } else {
        float *v = rs_xmalloc((n + 1) * DUP_DIM * sizeof(float));
        if (embed_cases(ds, v, n, &err) == 0)
            out = dups_json(ds, v, n, run_cases(cfg, man));
        else
            rs_warn("near-duplicate prompts left out: %s", err.msg);
        free(v);
    }
    rs_dataset_destroy(&ds);
    return out;
}
