/* Unit tests for the dataset file formats (common/dataset.c with common/csvrec.c, dsource.c and
 * hfdir.c): CSV and TSV with hostile files (quotes inside fields, quoted newlines, CRLF, a BOM,
 * ragged rows, an empty file, a header alone), JSON arrays, gzip and zstd (whole and truncated),
 * Hugging Face folders, and records that straddle the scan's read chunks. */
/* cmocka.h needs these first; the blank line keeps clang-format from reordering them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "dataset.h"
#include "dataset_cfg.h"

static char tmpdir[] = "/tmp/rs_test_dsfmt_XXXXXX";

static int group_setup(void **state)
{
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    char *cmd = rs_xasprintf("rm -rf '%s'", tmpdir);
    int rc = system(cmd);
    free(cmd);
    return rc == 0 ? 0 : -1;
}

/* Writes len bytes to tmpdir/name (subfolders made) and returns the path (heap; the test frees). */
static char *write_bytes(const char *name, const void *data, size_t len)
{
    char *path = rs_xasprintf("%s/%s", tmpdir, name);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    rs_err_t err;
    assert_int_equal(rs_mkdirs(path, &err), 0);
    *slash = '/';
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

static char *write_text(const char *name, const char *text)
{
    return write_bytes(name, text, strlen(text));
}

static char *write_gzip(const char *name, const char *text)
{
    char *path = rs_xasprintf("%s/%s", tmpdir, name);
    gzFile g = gzopen(path, "wb");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, text, (unsigned)strlen(text)), (int)strlen(text));
    assert_int_equal(gzclose(g), Z_OK);
    return path;
}

static char *write_zstd(const char *name, const char *text)
{
    size_t cap = ZSTD_compressBound(strlen(text));
    char *z = rs_xmalloc(cap);
    size_t n = ZSTD_compress(z, cap, text, strlen(text), 3);
    assert_false(ZSTD_isError(n));
    char *path = write_bytes(name, z, n);
    free(z);
    return path;
}

/* A copy of the file at path without its last cut bytes. */
static char *truncated_copy(const char *path, const char *name, size_t cut)
{
    char *data;
    size_t len;
    rs_err_t err;
    assert_int_equal(rs_read_file(path, &data, &len, &err), 0);
    assert_true(len > cut);
    char *out = write_bytes(name, data, len - cut);
    free(data);
    return out;
}

static rs_config_t cfg_for(const char *path, rs_dataset_format_t format)
{
    return dataset_test_cfg(tmpdir, path, format);
}

static rs_dataset_t *open_ok(const rs_config_t *c)
{
    rs_err_t err = {{0}};
    rs_dataset_t *ds = rs_dataset_open(c, &err);
    if (!ds) fail_msg("open failed: %s", err.msg);
    return ds;
}

/* Opens and expects a failure whose message holds each of the NULL-terminated strings. */
static void open_fails(const rs_config_t *c, ...)
{
    rs_err_t err = {{0}};
    rs_dataset_t *ds = rs_dataset_open(c, &err);
    if (ds) fail_msg("opened %s, which should have failed", c->dataset.path);
    va_list ap;
    va_start(ap, c);
    for (const char *want; (want = va_arg(ap, const char *));)
        if (!strstr(err.msg, want)) fail_msg("error '%s' lacks '%s'", err.msg, want);
    va_end(ap);
}

/* Opens with on_error=skip, expecting cases valid cases and skipped bad records; *why their
 * reasons. */
static rs_dataset_t *open_skipping(rs_config_t *c, uint64_t cases, uint64_t skipped,
                                   const char *const **why)
{
    c->dataset.on_error = RS_ON_ERROR_SKIP;
    rs_dataset_t *ds = open_ok(c);
    assert_int_equal(rs_dataset_count(ds), cases);
    assert_int_equal(rs_dataset_skipped(ds), skipped);
    assert_int_equal(rs_dataset_skip_reasons(ds, why), skipped);
    return ds;
}

static void expect_case(rs_dataset_t *ds, uint64_t idx, const char *id, const char *input,
                        const char *target)
{
    rs_case_t c;
    rs_err_t err;
    if (rs_dataset_read(ds, idx, &c, &err) != 0) fail_msg("read %llu: %s", (unsigned long long)idx, err.msg);
    assert_string_equal(c.id, id);
    assert_string_equal(c.input, input);
    assert_int_equal(c.n_targets, 1);
    assert_string_equal(c.targets[0], target);
    rs_case_cleanup(&c);
}

/* ---- csv / tsv ---- */

static void test_csv_hostile(void **state)
{
    /* a BOM, CRLF, doubled quotes, a quoted comma, a quoted CRLF, a blank line, spaces kept, an
     * empty id cell (the case is named by its line), and no newline at the end */
    char *path = write_text("hostile.csv", "\xEF\xBB\xBFid,question,answer\r\n"
                                           "a,\"He said \"\"hi\"\", then left\",1\r\n"
                                           "b,\"line one\r\nline two\",2\r\n"
                                           "\r\n"
                                           ",\"x, y\",  3 \r\n"
                                           "d,plain,4");
    rs_config_t c = cfg_for(path, RS_FORMAT_CSV);
    rs_dataset_t *ds = open_ok(&c);
    assert_int_equal(rs_dataset_count(ds), 4);
    expect_case(ds, 0, "a", "He said \"hi\", then left", "1");
    expect_case(ds, 1, "b", "line one\r\nline two", "2");
    expect_case(ds, 2, "6", "x, y", "  3 ");
    expect_case(ds, 3, "d", "plain", "4");
    rs_dataset_file_t f;
    rs_dataset_file(ds, 0, &f);
    assert_string_equal(f.format, "csv");
    assert_string_equal(f.compression, "none");
    assert_int_equal(f.cases, 4);
    rs_dataset_destroy(&ds);
    free(path);
}

static void test_tsv(void **state)
{
    char *path = write_text("q.tsv", "question\tanswer\tid\n"
                                     "a 5\" nail, \"quoted\" words\t7\tx\n"
                                     "\"tab\there\"\t8\ty\n");
    rs_config_t c = cfg_for(path, RS_FORMAT_TSV);
    rs_dataset_t *ds = open_ok(&c);
    assert_int_equal(rs_dataset_count(ds), 2);
    expect_case(ds, 0, "x", "a 5\" nail, \"quoted\" words", "7");
    expect_case(ds, 1, "y", "tab\there", "8");
    rs_dataset_destroy(&ds);
    free(path);
}

static void test_csv_ragged(void **state)
{
    char *path = write_text("ragged.csv", "question,answer\n1+1,2\n2+2,4,extra\n3+3\n4+4,8\n");
    rs_config_t c = cfg_for(path, RS_FORMAT_CSV);
    open_fails(&c, "ragged.csv:3:7:", "3 fields, the header has 2", NULL);
    const char *const *why;
    rs_dataset_t *ds = open_skipping(&c, 2, 2, &why);
    assert_non_null(strstr(why[1], "ragged.csv:4:4: 1 field, the header has 2"));
    expect_case(ds, 1, "5", "4+4", "8");
    rs_dataset_destroy(&ds);
    free(path);
}

static void test_csv_bad_quotes(void **state)
{
    char *path = write_text("quote.csv", "question,answer\nsay \"hi\",1\n\"x\"y,2\nok,3\n");
    rs_config_t c = cfg_for(path, RS_FORMAT_CSV);
    open_fails(&c, "quote.csv:2:5:", "quote inside an unquoted field", NULL);
    const char *const *why;
    rs_dataset_t *ds = open_skipping(&c, 1, 2, &why);
    assert_non_null(strstr(why[1], "quote.csv:3:4: unexpected character after a closing quote"));
    rs_dataset_destroy(&ds);
    free(path);

    path = write_text("open.csv", "question,answer\nfine,1\n\"never closed,2\nmore\n");
    c = cfg_for(path, RS_FORMAT_CSV);
    open_fails(&c, "open.csv:3:", "never closed", NULL);
    free(path);
}

static void test_csv_empty_and_header_only(void **state)
{
    char *path = write_text("empty.csv", "");
    rs_config_t c = cfg_for(path, RS_FORMAT_CSV);
    rs_dataset_t *ds = open_ok(&c);
    assert_int_equal(rs_dataset_count(ds), 0);
    rs_dataset_destroy(&ds);
    free(path);
    path = write_text("header.csv", "question,answer\r\n");
    c = cfg_for(path, RS_FORMAT_CSV);
    ds = open_ok(&c);
    assert_int_equal(rs_dataset_count(ds), 0);
    rs_dataset_destroy(&ds);
    free(path);
}

static void test_csv_header_errors(void **state)
{
    char *path = write_text("cols.csv", "prompt,answer\nx,1\n");
    rs_config_t c = cfg_for(path, RS_FORMAT_CSV);
    c.dataset.on_error = RS_ON_ERROR_SKIP; /* a header error stops the open all the same */
    open_fails(&c, "cols.csv:1:", "no column 'question'", "dataset.fields.input", NULL);
    c.dataset.input_field = "prompt";
    rs_dataset_t *ds = open_ok(&c);
    expect_case(ds, 0, "2", "x", "1");
    rs_dataset_destroy(&ds);
    free(path);
    path = write_text("dup.csv", "question,answer,answer\nx,1,2\n");
    c = cfg_for(path, RS_FORMAT_CSV);
    open_fails(&c, "dup.csv:1:", "column 3: 'answer' is also column 2", NULL);
    free(path);
    /* a column whose name is not UTF-8 would be no key of the record: refused, not dropped */
    path = write_text("latin1.csv", "question,answer,caf\xe9\nx,1,2\n");
    c = cfg_for(path, RS_FORMAT_CSV);
    open_fails(&c, "latin1.csv:1:", "column 3: its name is not UTF-8 text", NULL);
    free(path);
}

/* The duplicate-id check re-reads the earlier case while the file is still being scanned: from
 * the CSV itself, and from the decompressed copy of a gzip file. */
static void test_duplicate_ids(void **state)
{
    char *path = write_text("dupid.csv", "id,question,answer\na,q,1\nb,r,2\na,s,3\n");
    rs_config_t c = cfg_for(path, RS_FORMAT_CSV);
    open_fails(&c, "dupid.csv:4: duplicate id 'a' (first on ", "dupid.csv:2)", NULL);
    char *gz = write_gzip("dupid.jsonl.gz", "{\"id\":\"x\",\"question\":\"q\",\"answer\":1}\n"
                                            "{\"id\":\"x\",\"question\":\"r\",\"answer\":2}\n");
    c = cfg_for(gz, RS_FORMAT_JSONL);
    open_fails(&c, "dupid.jsonl.gz:2: duplicate id 'x'", NULL);
    free(path), free(gz);
}

/* Records that straddle the scan's reads (128 KiB from a plain file): a quoted field spanning
 * lines must be kept whole however the reads fall. Each record's long second line makes every
 * read boundary fall inside a record that began in the read before. */
static void test_csv_across_chunks(void **state)
{
    rs_buf_t b, pad;
    rs_buf_init(&b);
    rs_buf_init(&pad);
    for (int i = 0; i < 3000; i++) rs_buf_putc(&pad, 'x');
    rs_buf_puts(&b, "id,question,answer\n");
    for (int i = 0; i < 400; i++)
        rs_buf_printf(&b, "c%d,\"first %d\n%s \"\"%d\"\"\nlast, %d\",%d\n", i, i, pad.data, i, i, i * 3);
    char *path = write_bytes("big.csv", b.data, b.len);
    rs_config_t c = cfg_for(path, RS_FORMAT_CSV);
    rs_dataset_t *ds = open_ok(&c);
    assert_int_equal(rs_dataset_count(ds), 400);
    for (int i = 0; i < 400; i++) {
        char *id = rs_xasprintf("c%d", i), *q = rs_xasprintf("first %d\n%s \"%d\"\nlast, %d", i, pad.data, i, i),
             *t = rs_xasprintf("%d", i * 3);
        expect_case(ds, (uint64_t)i, id, q, t);
        free(id), free(q), free(t);
    }
    rs_dataset_destroy(&ds);
    free(path);
    rs_buf_cleanup(&b);
    rs_buf_cleanup(&pad);
}

/* ---- json arrays ---- */

static void test_json_array(void **state)
{
    char *path = write_text("arr.json", "\xEF\xBB\xBF  [\n"
                                        "  {\"id\": \"a\", \"question\": \"q1 ]\", \"answer\": 1},\n"
                                        "  {\"id\": \"b\",\n   \"question\": \"q2 {\",\n"
                                        "   \"answer\": [\"2\", \"two\"], \"meta\": {\"x\": [1]}},\n"
                                        "  42,\n"
                                        "  {\"id\": \"c\", \"question\": \"q3\", \"answer\": 3}\n"
                                        "]\n");
    rs_config_t c = cfg_for(path, RS_FORMAT_JSON);
    open_fails(&c, "arr.json:6:", "not a JSON object", NULL);
    const char *const *why;
    rs_dataset_t *ds = open_skipping(&c, 3, 1, &why);
    assert_non_null(strstr(why[0], "arr.json:6: line is not a JSON object"));
    expect_case(ds, 0, "a", "q1 ]", "1");
    expect_case(ds, 2, "c", "q3", "3");
    rs_case_t k;
    rs_err_t err;
    assert_int_equal(rs_dataset_read(ds, 1, &k, &err), 0);
    assert_string_equal(k.id, "b");
    assert_int_equal(k.n_targets, 2);
    rs_case_cleanup(&k);
    rs_dataset_destroy(&ds);
    free(path);
}

/* Elements that straddle the scan's reads: objects (parsed again once more bytes are in) and a
 * number cut at the first read's end (131072 bytes from a plain file), which must not be taken
 * for the shorter number before the cut. */
static void test_json_across_chunks(void **state)
{
    rs_buf_t b;
    rs_buf_init(&b);
    rs_buf_putc(&b, '[');
    int n = 0;
    while (b.len < 131000) rs_buf_printf(&b, "{\"id\": \"a%d\", \"question\": \"q\", \"answer\": %d},\n", n, n), n++;
    while (b.len < 131072 - 4) rs_buf_putc(&b, ' ');
    rs_buf_puts(&b, "12345678,\n");
    for (int i = 0; i < 3000; i++, n++) rs_buf_printf(&b, "{\"id\": \"a%d\", \"question\": \"q\", \"answer\": %d},\n", n, n);
    rs_buf_puts(&b, "{\"id\": \"last\", \"question\": \"end\", \"answer\": 0}]");
    char *path = write_bytes("big.json", b.data, b.len);
    rs_config_t c = cfg_for(path, RS_FORMAT_JSON);
    const char *const *why;
    rs_dataset_t *ds = open_skipping(&c, (uint64_t)n + 1, 1, &why);
    assert_non_null(strstr(why[0], "not a JSON object"));
    for (int i = 0; i < n; i += 97) {
        char *id = rs_xasprintf("a%d", i), *t = rs_xasprintf("%d", i);
        expect_case(ds, (uint64_t)i, id, "q", t);
        free(id), free(t);
    }
    expect_case(ds, (uint64_t)n, "last", "end", "0");
    rs_dataset_destroy(&ds);
    free(path);
    rs_buf_cleanup(&b);
}

static void test_json_broken(void **state)
{
    char *path = write_text("cut.json", "[{\"question\": \"q\", \"answer\": 1},\n {\"question\": ");
    rs_config_t c = cfg_for(path, RS_FORMAT_JSON);
    c.dataset.on_error = RS_ON_ERROR_SKIP;
    open_fails(&c, "cut.json:2:", "']' missing", NULL);
    free(path);
    path = write_text("after.json", "[{\"question\": \"q\", \"answer\": 1}] x");
    c = cfg_for(path, RS_FORMAT_JSON);
    open_fails(&c, "after.json:1:", "after the array", NULL);
    free(path);
    path = write_text("obj.json", "\"just a string\"");
    c = cfg_for(path, RS_FORMAT_JSON);
    open_fails(&c, "obj.json:1:1:", "array of records", NULL);
    free(path);
    path = write_text("none.json", "[ ]\n");
    c = cfg_for(path, RS_FORMAT_JSON);
    rs_dataset_t *none = open_ok(&c);
    assert_int_equal(rs_dataset_count(none), 0);
    rs_dataset_destroy(&none);
    free(path);
    path = write_text("empty.json", "  \n");
    c = cfg_for(path, RS_FORMAT_JSON);
    rs_dataset_t *ds = open_ok(&c);
    assert_int_equal(rs_dataset_count(ds), 0);
    rs_dataset_destroy(&ds);
    free(path);
}

/* A .json file of JSON Lines (what Hugging Face's to_json writes) is read as JSONL. */
static void test_json_lines_named_json(void **state)
{
    char *path = write_text("lines.json", "\n{\"question\": \"q1\", \"answer\": 1}\n"
                                          "{\"question\": \"q2\", \"answer\": 2}\n");
    rs_config_t c = cfg_for(path, RS_FORMAT_JSON);
    rs_dataset_t *ds = open_ok(&c);
    assert_int_equal(rs_dataset_count(ds), 2);
    expect_case(ds, 1, "3", "q2", "2");
    rs_dataset_file_t f;
    rs_dataset_file(ds, 0, &f);
    assert_string_equal(f.format, "jsonl");
    rs_dataset_destroy(&ds);
    free(path);
}

/* ---- compression ---- */

static const char LINES[] = "{\"id\":\"a\",\"question\":\"q1\",\"answer\":\"1\"}\n"
                            "{\"id\":\"b\",\"question\":\"q2\",\"answer\":\"2\"}\n";

static void test_gzip_and_zstd(void **state)
{
    char *plain = write_text("p.jsonl", LINES);
    char *gz = write_gzip("p.jsonl.gz", LINES);
    char *zst = write_zstd("p.csv.zst", "question,answer\n\"q,1\",1\n");
    rs_config_t c = cfg_for(plain, RS_FORMAT_JSONL);
    rs_dataset_t *a = open_ok(&c);
    c = cfg_for(gz, RS_FORMAT_JSONL);
    rs_dataset_t *b = open_ok(&c);
    assert_int_equal(rs_dataset_count(b), 2);
    expect_case(b, 1, "b", "q2", "2");
    /* the hash is the content's: a compressed copy keeps the dataset's identity */
    char want[65];
    rs_sha256_hex(LINES, strlen(LINES), want);
    assert_string_equal(rs_dataset_sha256(a), want);
    assert_string_equal(rs_dataset_sha256(b), want);
    rs_dataset_file_t f;
    rs_dataset_file(b, 0, &f);
    assert_string_equal(f.compression, "gzip");
    c = cfg_for(zst, RS_FORMAT_CSV);
    rs_dataset_t *z = open_ok(&c);
    expect_case(z, 0, "2", "q,1", "1");
    rs_dataset_file(z, 0, &f);
    assert_string_equal(f.compression, "zstd");
    rs_dataset_destroy(&a);
    rs_dataset_destroy(&b);
    rs_dataset_destroy(&z);
    free(plain);
    free(gz);
    free(zst);
}

static void test_truncated(void **state)
{
    char *gz = write_gzip("t.jsonl.gz", LINES);
    char *cut = truncated_copy(gz, "cut.jsonl.gz", 9);
    rs_config_t c = cfg_for(cut, RS_FORMAT_JSONL);
    c.dataset.on_error = RS_ON_ERROR_SKIP;
    open_fails(&c, "cut.jsonl.gz", "truncated gzip", NULL);
    char *zst = write_zstd("t.csv.zst", "question,answer\nq,1\nr,2\n");
    char *zcut = truncated_copy(zst, "cut.csv.zst", 3);
    c = cfg_for(zcut, RS_FORMAT_CSV);
    open_fails(&c, "cut.csv.zst", "truncated zstd", NULL);
    char *fake = write_text("fake.jsonl.gz", LINES);
    c = cfg_for(fake, RS_FORMAT_JSONL);
    open_fails(&c, "fake.jsonl.gz", "not gzip", NULL);
    char *garbled = write_gzip("g.jsonl.gz", LINES);
    FILE *f = fopen(garbled, "r+b");
    assert_non_null(f);
    fseek(f, 14, SEEK_SET);
    fputs("garbage!", f);
    fclose(f);
    c = cfg_for(garbled, RS_FORMAT_JSONL);
    open_fails(&c, "g.jsonl.gz", "gzip", NULL);
    free(gz), free(cut), free(zst), free(zcut), free(fake), free(garbled);
}

/* A stream whose decompressed size is a whole number of the decoder's 256 KiB output steps, and
 * which compresses into one read: the step that ends the stream also fills the output, and the
 * file is whole (not "truncated"). */
static void test_compressed_output_boundary(void **state)
{
    (void)state;
    const size_t size = 512u << 10, line = 64;
    char *text = rs_xmalloc(size + 1);
    for (size_t i = 0; i < size / line; i++) {
        char *l = text + i * line;
        int n = snprintf(l, line, "{\"id\":\"%06zu\",\"question\":\"q\",\"answer\":1}", i);
        memset(l + n, ' ', line - 1 - (size_t)n);
        l[line - 1] = '\n';
    }
    text[size] = '\0';
    char *gz = write_gzip("edge.jsonl.gz", text);
    char *zst = write_zstd("edge.jsonl.zst", text);
    rs_config_t c = cfg_for(gz, RS_FORMAT_JSONL);
    rs_dataset_t *a = open_ok(&c);
    assert_int_equal(rs_dataset_count(a), size / line);
    c = cfg_for(zst, RS_FORMAT_JSONL);
    rs_dataset_t *b = open_ok(&c);
    assert_int_equal(rs_dataset_count(b), size / line);
    rs_dataset_destroy(&a);
    rs_dataset_destroy(&b);
    free(gz), free(zst), free(text);
}

/* `cat a.gz b.gz` is one gzip file with two members. */
static void test_gzip_members(void **state)
{
    char *a = write_gzip("m1.gz", "{\"question\":\"q1\",\"answer\":1}\n");
    char *b = write_gzip("m2.gz", "{\"question\":\"q2\",\"answer\":2}\n");
    char *cmd = rs_xasprintf("cat '%s' '%s' > '%s/both.jsonl.gz'", a, b, tmpdir);
    assert_int_equal(system(cmd), 0);
    char *both = rs_xasprintf("%s/both.jsonl.gz", tmpdir);
    rs_config_t c = cfg_for(both, RS_FORMAT_JSONL);
    rs_dataset_t *ds = open_ok(&c);
    assert_int_equal(rs_dataset_count(ds), 2);
    expect_case(ds, 1, "2", "q2", "2");
    rs_dataset_destroy(&ds);
    free(a), free(b), free(cmd), free(both);
}

/* ---- Hugging Face folders ---- */

/* A duplicate id inside a folder's first shard, while a later shard is not read yet: counted and
 * skipped (or named) like any duplicate, with its shard's name. */
static void test_hf_duplicate_in_first_shard(void **state)
{
    (void)state;
    char *info = write_text("hfdup/dataset_info.json", "{\"splits\": {\"test\": {}}}");
    char *s0 = write_text("hfdup/test-00000-of-00002.jsonl",
                          "{\"id\":\"x\",\"question\":\"q1\",\"answer\":1}\n"
                          "{\"id\":\"x\",\"question\":\"q2\",\"answer\":2}\n");
    char *s1 = write_text("hfdup/test-00001-of-00002.jsonl",
                          "{\"id\":\"y\",\"question\":\"q3\",\"answer\":3}\n");
    char *dir = rs_xasprintf("%s/hfdup", tmpdir);
    rs_config_t c = cfg_for(dir, RS_FORMAT_JSONL);
    open_fails(&c, "test-00000-of-00002.jsonl:2: duplicate id 'x'", NULL);
    const char *const *why;
    rs_dataset_t *ds = open_skipping(&c, 2, 1, &why);
    assert_non_null(strstr(why[0], "test-00000-of-00002.jsonl:2: duplicate id 'x'"));
    expect_case(ds, 1, "y", "q3", "3");
    rs_dataset_destroy(&ds);
    free(info), free(s0), free(s1), free(dir);
}

/* `save_to_disk`'s layout: the split's folder holds its metadata beside the data, which are not
 * shards; a split name that would leave the folder is refused. */
static void test_hf_split_folder(void **state)
{
    (void)state;
    char *info = write_text("hfsd/dataset_info.json", "{\"splits\": {\"test\": {}}}");
    char *data = write_text("hfsd/test/data-00000-of-00001.jsonl",
                            "{\"question\":\"q1\",\"answer\":1}\n");
    char *meta = write_text("hfsd/test/dataset_info.json", "{\"splits\": {}}");
    char *state_json = write_text("hfsd/test/state.json", "{\"_data_files\": []}");
    char *dir = rs_xasprintf("%s/hfsd", tmpdir);
    rs_config_t c = cfg_for(dir, RS_FORMAT_JSONL);
    rs_dataset_t *ds = open_ok(&c);
    assert_int_equal(rs_dataset_files(ds), 1);
    assert_int_equal(rs_dataset_count(ds), 1);
    rs_dataset_destroy(&ds);
    c.dataset.split = "../hfsd/test";
    open_fails(&c, "split '../hfsd/test' is not a plain name", NULL);
    free(info), free(data), free(meta), free(state_json), free(dir);
}

static void test_hf_folder(void **state)
{
    char *info = write_text("hf/dataset_info.json",
                            "{\"splits\": {\"train\": {\"num_examples\": 1},"
                            " \"test\": {\"num_examples\": 4}}}");
    char *s0 = write_text("hf/data/test-00000-of-00002.jsonl",
                          "{\"question\":\"q1\",\"answer\":1}\n{\"question\":\"q2\",\"answer\":2}\n");
    char *s1 = write_gzip("hf/data/test-00001-of-00002.csv.gz", "question,answer\nq3,3\nq4,4\n");
    char *tr = write_text("hf/data/train-00000-of-00001.jsonl", "{\"question\":\"t\",\"answer\":0}\n");
    char *dir = rs_xasprintf("%s/hf", tmpdir);
    rs_config_t c = cfg_for(dir, RS_FORMAT_JSONL);
    rs_dataset_t *ds = open_ok(&c);
    assert_string_equal(rs_dataset_split(ds), "test");
    assert_int_equal(rs_dataset_count(ds), 4);
    assert_int_equal(rs_dataset_files(ds), 2);
    /* without ids, a case is named by its shard and line: unique across shards */
    expect_case(ds, 0, "test-00000-of-00002.jsonl:1", "q1", "1");
    expect_case(ds, 3, "test-00001-of-00002.csv.gz:3", "q4", "4");
    char *rec = rs_dataset_record(ds, 2, NULL);
    assert_string_equal(rec, "{\"question\":\"q3\",\"answer\":\"3\",\"id\":\"test-00001-of-00002.csv.gz:2\"}");
    free(rec);
    rs_dataset_destroy(&ds);
    c.dataset.split = "train";
    ds = open_ok(&c);
    expect_case(ds, 0, "1", "t", "0");
    rs_dataset_destroy(&ds);
    c.dataset.split = "validation";
    open_fails(&c, "no split 'validation'", "train", NULL);
    /* dataset_info.json's size is checked: a missing shard is caught */
    c.dataset.split = NULL;
    unlink(s0);
    open_fails(&c, "gives split 'test' 4 examples", "2 records", NULL);
    char *pq = write_text("hf/data/test-00000-of-00002.parquet", "PAR1");
    open_fails(&c, ".parquet", "convert", NULL);
    unlink(pq);
    unlink(info);
    open_fails(&c, "no dataset_info.json", NULL);
    c.dataset.format = RS_FORMAT_CSV;
    open_fails(&c, "a folder, not a csv file", NULL);
    free(info), free(s0), free(s1), free(tr), free(dir), free(pq);
}

static void test_parquet_refused(void **state)
{
    char *path = write_text("x.parquet", "PAR1");
    rs_config_t c = cfg_for(path, RS_FORMAT_JSONL);
    open_fails(&c, "x.parquet", "Parquet", "convert it to JSONL", NULL);
    free(path);
}

/* datasets convert's record: a CSV row as an object of text cells, its id kept. */
static void test_record_json(void **state)
{
    char *path = write_text("rec.csv", "id,question,answer\n,\"a \"\"q\"\"\",1\nk,b,2\n");
    rs_config_t c = cfg_for(path, RS_FORMAT_CSV);
    rs_dataset_t *ds = open_ok(&c);
    rs_err_t err;
    char *r0 = rs_dataset_record(ds, 0, &err), *r1 = rs_dataset_record(ds, 1, &err);
    assert_string_equal(r0, "{\"question\":\"a \\\"q\\\"\",\"answer\":\"1\",\"id\":\"2\"}");
    assert_string_equal(r1, "{\"id\":\"k\",\"question\":\"b\",\"answer\":\"2\"}");
    free(r0), free(r1);
    rs_dataset_destroy(&ds);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_hostile),
        cmocka_unit_test(test_tsv),
        cmocka_unit_test(test_csv_ragged),
        cmocka_unit_test(test_csv_bad_quotes),
        cmocka_unit_test(test_csv_empty_and_header_only),
        cmocka_unit_test(test_csv_header_errors),
        cmocka_unit_test(test_duplicate_ids),
        cmocka_unit_test(test_csv_across_chunks),
        cmocka_unit_test(test_json_array),
        cmocka_unit_test(test_json_across_chunks),
        cmocka_unit_test(test_json_broken),
        cmocka_unit_test(test_json_lines_named_json),
        cmocka_unit_test(test_gzip_and_zstd),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_gzip_members),
        cmocka_unit_test(test_compressed_output_boundary),
        cmocka_unit_test(test_hf_duplicate_in_first_shard),
        cmocka_unit_test(test_hf_split_folder),
        cmocka_unit_test(test_hf_folder),
        cmocka_unit_test(test_parquet_refused),
        cmocka_unit_test(test_record_json),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
