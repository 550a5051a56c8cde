/* hfdir: finds a split's shards in a Hugging Face datasets folder (dataset_info.json beside the
 * data files). Only names are read here; the shards are read by common/dataset.c. */
#include "hfdir.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "config.h"

int rs_hfdir_is_columnar(const char *name)
{
    static const char *const comps[] = {".gz", ".zst", ".zstd"};
    static const char *const exts[] = {".parquet", ".arrow"};
    size_t n = strlen(name);
    for (size_t i = 0; i < RS_ARRAY_LEN(comps); i++) {
        size_t m = strlen(comps[i]);
        if (n > m && strcasecmp(name + n - m, comps[i]) == 0) n -= m;
    }
    for (size_t i = 0; i < RS_ARRAY_LEN(exts); i++) {
        size_t m = strlen(exts[i]);
        if (n > m && strncasecmp(name + n - m, exts[i], m) == 0) return 1;
    }
    return 0;
}

/* A split's name is a folder and file-name prefix: letters, digits, '-', '_' and '.', not
 * starting with '.' (so a name from dataset_info.json or the config cannot leave the folder). */
static int plain_split_name(const char *name)
{
    if (!*name || name[0] == '.') return 0;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.') return 0;
    return 1;
}

/* The split to read: the one asked for (it must be listed when splits are), else "test" when
 * listed or when nothing is listed, else the only one listed. */
static int pick_split(rs_hfdir_t *h, const char *dir, json_t *splits, const char *want,
                      rs_err_t *err)
{
    size_t n = json_is_object(splits) ? json_object_size(splits) : 0;
    const char *name = want && *want ? want : NULL;
    if (!name && (n == 0 || json_object_get(splits, "test"))) name = "test";
    if (!name && n == 1) name = json_object_iter_key(json_object_iter(splits));
    if (name && !plain_split_name(name)) {
        rs_buf_t safe;
        rs_buf_init(&safe);
        rs_err_set(err, "%s: split '%s' is not a plain name (letters, digits, '-', '_', '.')", dir,
                   rs_text_safe_str(&safe, name, RS_TEXT_SPACES));
        rs_buf_cleanup(&safe);
        return -1;
    }
    if (name && (n == 0 || json_object_get(splits, name))) {
        h->split = rs_xstrdup(name);
        json_t *info = json_object_get(json_object_get(splits, name), "num_examples");
        h->examples = json_is_integer(info) ? (int64_t)json_integer_value(info) : -1;
        return 0;
    }
    rs_buf_t list;
    rs_buf_init(&list);
    const char *key;
    json_t *v;
    json_object_foreach(splits, key, v) {
        if (list.len) rs_buf_puts(&list, ", ");
        rs_text_safe(&list, key, strlen(key), RS_TEXT_SPACES); /* the file's own words */
    }
    if (name)
        rs_err_set(err, "%s: dataset_info.json has no split '%s' (splits: %s)", dir, name,
                   list.data);
    else
        rs_err_set(err, "%s: dataset_info.json has several splits and no 'test' (%s): set "
                        "dataset.split", dir, list.data);
    rs_buf_cleanup(&list);
    return -1;
}

/* Whether name is a shard of split: SPLIT then '.', '-' or '_' (any name inside SPLIT/ but the
 * metadata `save_to_disk` writes beside the data there). */
static int split_file(const char *name, const char *split, int in_split_dir)
{
    size_t n = strlen(split);
    if (name[0] == '.') return 0;
    if (in_split_dir)
        return strcmp(name, "dataset_info.json") != 0 && strcmp(name, "state.json") != 0;
    return strncmp(name, split, n) == 0 && (name[n] == '.' || name[n] == '-' || name[n] == '_');
}

static int is_regular(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Adds the shards of h->split found in sub (relative to dir; "" for dir itself). */
static int scan_dir(rs_hfdir_t *h, const char *dir, const char *sub, int in_split_dir,
                    rs_err_t *err)
{
    char *where = *sub ? rs_xasprintf("%s/%s", dir, sub) : rs_xstrdup(dir);
    DIR *d = opendir(where);
    int rc = 0;
    struct dirent *e;
    while (d && rc == 0 && (e = readdir(d))) {
        if (!split_file(e->d_name, h->split, in_split_dir)) continue;
        char *path = rs_xasprintf("%s/%s", where, e->d_name);
        rs_dataset_format_t f;
        if (!is_regular(path)) {
            free(path);
        } else if (rs_hfdir_is_columnar(e->d_name)) {
            rc = rs_err_set(err, "%s: Parquet and Arrow shards cannot be read (no Debian package "
                                 "reads them from C): convert the split to JSONL, e.g. "
                                 "`Dataset.to_json`",
                            path);
            free(path);
        } else if (rs_config_format_of(e->d_name, &f) == 0) {
            h->shards = rs_xrealloc(h->shards, (h->n_shards + 1) * sizeof(*h->shards));
            h->shards[h->n_shards++] = path;
        } else {
            free(path);
        }
    }
    if (d) closedir(d);
    free(where);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int rs_hfdir_open(rs_hfdir_t *h, const char *dir, const char *split, rs_err_t *err)
{
    memset(h, 0, sizeof(*h));
    h->examples = -1;
    char *info_path = rs_xasprintf("%s/dataset_info.json", dir);
    json_error_t jerr;
    json_t *info = is_regular(info_path) ? json_load_file(info_path, 0, &jerr) : NULL;
    int rc = 0;
    if (!is_regular(info_path))
        rc = rs_err_set(err, "%s: a folder, but not a Hugging Face datasets folder (no "
                             "dataset_info.json)", dir);
    else if (!json_is_object(info))
        rc = rs_err_set(err, "%s:%d: not a JSON object%s%s", info_path, info ? 1 : jerr.line,
                        info ? "" : ": ", info ? "" : jerr.text);
    else
        rc = pick_split(h, dir, json_object_get(info, "splits"), split, err);
    json_decref(info);
    free(info_path);
    if (rc == 0) rc = scan_dir(h, dir, "", 0, err);
    if (rc == 0) rc = scan_dir(h, dir, "data", 0, err);
    if (rc == 0) rc = scan_dir(h, dir, h->split, 1, err);
    if (rc == 0 && h->n_shards == 0)
        rc = rs_err_set(err, "%s: no data files for split '%s' (looked for %s.jsonl, %s-*.jsonl "
                             "and the like, .json, .csv, .tsv, in the folder, data/ and %s/)",
                        dir, h->split, h->split, h->split, h->split);
    if (rc < 0) {
        rs_hfdir_cleanup(h);
        return -1;
    }
    qsort(h->shards, h->n_shards, sizeof(*h->shards), by_name);
    return 0;
}

void rs_hfdir_cleanup(rs_hfdir_t *h)
{
    free(h->split);
    for (size_t i = 0; i < h->n_shards; i++)
        free(h->shards[i]);
    free(h->shards);
    memset(h, 0, sizeof(*h));
    h->examples = -1;
}
