/* dataset: test cases read from a file (or a folder of files) as a stream, then by offset.
 *
 * Opening a dataset scans it once: every record is parsed and validated (valid UTF-8, required
 * fields, unique ids) and the byte offset and length of each valid record is kept, so a task can
 * later re-read any case by its index with one pread. Memory is O(cases) small integers (16 bytes
 * a case, plus 8 for its id's hash), never the text itself, whatever the format.
 *
 * File formats (dataset.format, or the path's extension): JSONL; JSON (a top-level array of
 * records, or JSON Lines when the file starts with '{'); CSV and TSV with a header row (RFC 4180
 * quoting, common/csvrec.h); a Hugging Face datasets folder (common/hfdir.h), whose shards may
 * each be any of these. Any file may be gzip or zstd (common/dsource.h: decompressed once into an
 * unlinked temporary file that reads then use). Record shapes: plain records with a field
 * mapping (GSM8K: question/answer with target_regex "#### (.*)"), and the OpenAI evals format
 * (input = list of chat messages, ideal = string or list of strings).
 *
 * Errors name the file and the line a record starts on, and for CSV / TSV the column (byte, from
 * 1) of what is wrong. The SHA-256 (rs_dataset_sha256) is that of the content as read: the
 * decompressed bytes of each file in order, so compressing or recompressing a dataset keeps its
 * identity for resume, and a plain file's is the file's own hash. */
#ifndef RS_DATASET_H
#define RS_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "util.h"

#define RS_DATASET_MAX_LINE (16u << 20) /* 16 MiB */

typedef struct rs_chat_msg {
    char *role;    /* "system", "user", "assistant" */
    char *content;
} rs_chat_msg_t;

/* One test case, ready for a model: the prompt as chat messages, the accepted targets, the tags,
 * and the raw input that judges and revisions quote as {{question}}. */
typedef struct rs_case {
    uint64_t idx;          /* 0-based index among the dataset's valid cases */
    char *id;              /* the id field, or the 1-based line number as text */
    rs_chat_msg_t *msgs;   /* the rendered prompt (prompt.system, prompt.template applied) */
    size_t n_msgs;
    char **targets;        /* accepted answers (after target_regex); may be empty */
    size_t n_targets;
    char **tags;
    size_t n_tags;
    /* The input field as read, before prompt.template (evals: its non-system messages as
     * rs_chat_text renders them). NULL when not known: a TASK carries it only for runs with
     * judges or revisions, and an older coordinator never sends it. */
    char *input;
    /* Which of the run's prompt variants rendered msgs (rs_config_variant), and which epoch this
     * asking of the case is (0 .. epochs - 1): a run's work item is (case, variant, epoch),
     * coordinator/units.h. Both 0 in a run of one prompt and one epoch. */
    uint32_t variant, epoch;
    char *cluster; /* dataset.fields.cluster's value, NULL when not configured */
} rs_case_t;

void rs_case_cleanup(rs_case_t *c);

/* The non-system messages of msgs as one text (heap): the content of the only one, or, for a
 * conversation, each as "<role>: <content>" separated by a blank line, so a reader can tell who
 * said what. "" when there is none. A NULL role reads as "user", a NULL content as "". */
char *rs_chat_text(const rs_chat_msg_t *msgs, size_t n);

typedef struct rs_dataset rs_dataset_t;

/* Opens and validates the dataset named by cfg->dataset (path resolved against cfg->base_dir).
 * On a bad line: with on_error=fail returns NULL and err says "path:line: what is wrong";
 * with on_error=skip the line is counted in rs_dataset_skipped and left out. limit applies to
 * valid cases. Also computes the file's SHA-256. The dataset copies what it needs from cfg (the
 * config may be destroyed first) and keeps the file open for rs_dataset_read. */
rs_dataset_t *rs_dataset_open(const rs_config_t *cfg, rs_err_t *err);
/* The same, and each valid case (after limit), as rs_dataset_read would give it, is passed to
 * each as the scan reaches it (its idx set; freed when each returns): one pass over the file for
 * a caller that needs every case once. each returns 0, or -1 with err to stop the open (NULL is
 * returned). */
typedef int (*rs_dataset_case_fn)(const rs_case_t *c, void *arg, rs_err_t *err);
rs_dataset_t *rs_dataset_open_each(const rs_config_t *cfg, rs_dataset_case_fn each, void *arg,
                                   rs_err_t *err);
void rs_dataset_destroy(rs_dataset_t **ds);

uint64_t rs_dataset_count(const rs_dataset_t *ds);   /* valid cases (after limit) */
uint64_t rs_dataset_skipped(const rs_dataset_t *ds); /* lines skipped by on_error=skip */
const char *rs_dataset_sha256(const rs_dataset_t *ds);
const char *rs_dataset_path(const rs_dataset_t *ds);
/* A case id's 64-bit hash (XXH64, seed 0): ids are unique within a dataset, and a peer's record
 * is matched to its case by the hash of the id the case was leased with. */
uint64_t rs_dataset_hash_id(const char *id);

/* Gives back the per-case index (16 bytes a case) of a dataset whose cases will not be read
 * again: the coordinator's report, at the end of a finished run of a million cases, needs the
 * room. Reading a case after it is an "out of range" error. */
void rs_dataset_drop_index(rs_dataset_t *ds);
/* A Hugging Face folder's split as read; NULL for a file. */
const char *rs_dataset_split(const rs_dataset_t *ds);
/* The files read (one, or a folder's shards) with their format ("jsonl", "json", "csv", "tsv"),
 * compression ("none", "gzip", "zstd"), valid cases and bad records (skipped, or the one that
 * stopped the open). Strings live as long as ds. */
typedef struct rs_dataset_file {
    const char *path, *format, *compression;
    uint64_t cases, bad;
} rs_dataset_file_t;
size_t rs_dataset_files(const rs_dataset_t *ds);
void rs_dataset_file(const rs_dataset_t *ds, size_t i, rs_dataset_file_t *out);
/* Skipped lines' reasons, "path:line: why", at most the first 100 kept. */
size_t rs_dataset_skip_reasons(const rs_dataset_t *ds, const char *const **reasons);

/* Reads case idx (0 <= idx < count) into out (owned: rs_case_cleanup), rendering cfg->prompt;
 * out->idx = idx. One pread and one parse; it reuses a buffer inside ds, so one thread at a time.
 * 0 / -1. */
int rs_dataset_read(rs_dataset_t *ds, uint64_t idx, rs_case_t *out, rs_err_t *err);
/* rs_dataset_read with the prompt of variant (< rs_config_variants of the config) applied;
 * rs_dataset_read is variant 0. out->variant is set; out->epoch is left 0. */
int rs_dataset_read_variant(rs_dataset_t *ds, uint64_t idx, size_t variant, rs_case_t *out,
                            rs_err_t *err);

/* Case idx's record as compact JSON (heap; NULL with err): the line or element as read, a CSV row
 * as an object of its cells (text), with the id field set to the case's id when the record has
 * none, so the record keeps its id wherever it is written (`datasets convert`). */
char *rs_dataset_record(rs_dataset_t *ds, uint64_t idx, rs_err_t *err);

/* Parses one JSONL line (no I/O) into a case (out->idx = 0); line_no is for messages and is the
 * id when the record has none. Used by the scan, by rs_dataset_read and directly by unit tests and
 * fuzzers. 0 / -1 with err "<cfg->dataset.path>:<line_no>: <what>" naming the field; on failure
 * out holds nothing to free. */
int rs_dataset_parse_line(const rs_config_t *cfg, const char *line, size_t len, uint64_t line_no,
                          rs_case_t *out, rs_err_t *err);

struct rs_jv; /* common/jdoc.h */

/* Renders a prompt template: {{name}} is replaced by the record field `name` (strings verbatim,
 * numbers and other JSON as JSON text); {{input}} is the mapped input field. An unknown field is an
 * error. record is a JSON object read with rs_jdoc_read. */
char *rs_prompt_render(const char *tmpl, const struct rs_jv *record, const char *input_field,
                       rs_err_t *err);

#endif
