/* hfdir: the Hugging Face datasets layout on disk: a folder with dataset_info.json and the data
 * files of each split ("shards"), as the Hub and `Dataset.to_json` / `to_csv` leave them.
 *
 * The split is dataset.split; when it is not set, "test" if dataset_info.json lists it (or lists
 * no splits), else the only split it lists; with several and no "test", an error lists them. A
 * split's shards are the files named SPLIT.EXT, SPLIT-*.EXT or SPLIT_*.EXT in the folder or in its
 * data/ subfolder, and every file in a SPLIT/ subfolder, in name order (train-00000-of-00002
 * before train-00001-of-00002). EXT is jsonl, ndjson, json, csv or tsv, optionally followed by
 * .gz, .zst or .zstd. Parquet and Arrow shards are refused with a message saying to convert them:
 * no Debian 12 package reads Parquet from C. */
#ifndef RS_HFDIR_H
#define RS_HFDIR_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct rs_hfdir {
    char *split;       /* the split read */
    char **shards;     /* full paths, in read order */
    size_t n_shards;
    int64_t examples;  /* num_examples of the split in dataset_info.json; -1 when not given */
} rs_hfdir_t;

/* Lists the shards of split (NULL or "": the default above) in dir. 0 / -1 with err naming the
 * folder and what is missing. */
int rs_hfdir_open(rs_hfdir_t *h, const char *dir, const char *split, rs_err_t *err);
void rs_hfdir_cleanup(rs_hfdir_t *h);

/* Whether a data file's name ends in a Parquet or Arrow extension (compressed or not). */
int rs_hfdir_is_columnar(const char *name);

#endif
