/* Unit tests for common/dataset.c: field mapping (jsonl and evals), target_regex, every kind of bad
 * line with its line number, on_error=skip, limit, the 16 MiB line cap, read-by-index, the prompt
 * template and the file hash. Each test writes its own files into a fresh temp directory. */
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
#include <unistd.h>

#include "dataset.h"
#include "dataset_cfg.h"
#include "jdoc.h"

static char tmpdir[] = "/tmp/rs_test_dataset_XXXXXX";
static char *made[64]; /* files to remove at the end */
static size_t n_made;

static int group_setup(void **state)
{
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    for (size_t i = 0; i < n_made; i++) {
        unlink(made[i]);
        free(made[i]);
    }
    rmdir(tmpdir);
    return 0;
}

/* Writes len bytes to tmpdir/name and returns the path (owned by the test run). */
static const char *write_bytes(const char *name, const char *data, size_t len)
{
    char *path = rs_xasprintf("%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    assert_true(n_made < RS_ARRAY_LEN(made));
    made[n_made++] = path;
    return path;
}

static const char *write_text(const char *name, const char *text)
{
    return write_bytes(name, text, strlen(text));
}

/* A config as rs_config_load would leave it for a jsonl dataset (the defaults spelled out). */
static rs_config_t jsonl_cfg(const char *path)
{
    return dataset_test_cfg(tmpdir, path, RS_FORMAT_JSONL);
}

static rs_config_t evals_cfg(const char *path)
{
    rs_config_t c = jsonl_cfg(path);
    c.dataset.format = RS_FORMAT_EVALS;
    c.dataset.input_field = "input";
    c.dataset.target_field = "ideal";
    return c;
}

static rs_dataset_t *open_ok(const rs_config_t *cfg)
{
    rs_err_t err = {{0}};
    rs_dataset_t *ds = rs_dataset_open(cfg, &err);
    if (!ds) fail_msg("rs_dataset_open: %s", err.msg);
    return ds;
}

/* Opens cfg expecting failure with exactly "path:<rest>". */
static void expect_open_error(const rs_config_t *cfg, const char *path, const char *rest)
{
    rs_err_t err = {{0}};
    rs_dataset_t *ds = rs_dataset_open(cfg, &err);
    assert_null(ds);
    char *want = rs_xasprintf("%s%s", path, rest);
    assert_string_equal(err.msg, want);
    free(want);
}

static void read_ok(rs_dataset_t *ds, uint64_t idx, rs_case_t *c)
{
    rs_err_t err = {{0}};
    if (rs_dataset_read(ds, idx, c, &err) < 0)
        fail_msg("rs_dataset_read(%d): %s", (int)idx, err.msg);
    assert_int_equal(c->idx, idx);
}

static void assert_strs(char **got, size_t n, const char *const *want, size_t n_want)
{
    assert_int_equal(n, n_want);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(got[i], want[i]);
}

#define ASSERT_STRS(got, n, ...)                                                                   \
    do {                                                                                           \
        const char *const want_[] = {__VA_ARGS__};                                                 \
        assert_strs(got, n, want_, RS_ARRAY_LEN(want_));                                           \
    } while (0)

/* ---- jsonl mapping ---- */

static void test_jsonl_mapping(void **state)
{
    const char *path = write_text(
        "map.jsonl", "{\"question\":\"What is 2+2?\",\"answer\":\"4\",\"id\":\"q1\","
                     "\"tags\":[\"math\",\"easy\"]}\n"
                     "{\"question\":\"Pi to two places?\",\"answer\":3.14,\"id\":7,"
                     "\"tags\":\"const\"}\n"
                     "\n"
                     "{\"question\":\"A primary colour?\",\"answer\":[\"red\",\"blue\"]}\n"
                     "{\"question\":\"Ten\",\"answer\":10,\"id\":null,\"tags\":null}\n"
                     "{\"question\":\"Nothing\",\"answer\":[],\"tags\":[]}\n");
    rs_config_t cfg = jsonl_cfg(path);
    rs_dataset_t *ds = open_ok(&cfg);
    assert_int_equal(rs_dataset_count(ds), 5);
    assert_int_equal(rs_dataset_skipped(ds), 0);
    assert_string_equal(rs_dataset_path(ds), path);

    rs_case_t c;
    read_ok(ds, 0, &c);
    assert_string_equal(c.id, "q1");
    assert_int_equal(c.n_msgs, 1);
    assert_string_equal(c.msgs[0].role, "user");
    assert_string_equal(c.msgs[0].content, "What is 2+2?");
    ASSERT_STRS(c.targets, c.n_targets, "4");
    ASSERT_STRS(c.tags, c.n_tags, "math", "easy");
    rs_case_cleanup(&c);

    read_ok(ds, 1, &c); /* numeric target and id, single-string tags */
    assert_string_equal(c.id, "7");
    ASSERT_STRS(c.targets, c.n_targets, "3.14");
    ASSERT_STRS(c.tags, c.n_tags, "const");
    rs_case_cleanup(&c);

    read_ok(ds, 2, &c); /* list target; no id: the 1-based line number (line 3 is blank) */
    assert_string_equal(c.id, "4");
    ASSERT_STRS(c.targets, c.n_targets, "red", "blue");
    assert_int_equal(c.n_tags, 0);
    rs_case_cleanup(&c);

    read_ok(ds, 3, &c); /* null id and tags count as absent */
    assert_string_equal(c.id, "5");
    ASSERT_STRS(c.targets, c.n_targets, "10");
    assert_int_equal(c.n_tags, 0);
    rs_case_cleanup(&c);

    read_ok(ds, 4, &c); /* an empty list of targets is allowed */
    assert_int_equal(c.n_targets, 0);
    assert_string_equal(c.id, "6");
    rs_case_cleanup(&c);
    rs_dataset_destroy(&ds);
    assert_null(ds);
}

/* jansson reads a key given twice as its last value; the dataset reads records with jdoc, which
 * refuses them, and goes through jansson then: the case is the same either way. */
static void test_duplicate_keys_last_wins(void **state)
{
    const char *line = "{\"question\":\"first\",\"answer\":\"1\",\"question\":\"second\","
                       "\"answer\":[\"2\",3],\"id\":\"a\",\"id\":\"b\",\"tags\":\"x\",\"tags\":null}";
    char *text = rs_xasprintf("{\"question\":\"plain\",\"answer\":\"0\"}\n%s\n", line);
    const char *path = write_text("dupkeys.jsonl", text);
    rs_config_t cfg = jsonl_cfg(path);
    rs_dataset_t *ds = open_ok(&cfg);
    assert_int_equal(rs_dataset_count(ds), 2);
    rs_case_t c;
    for (int pass = 0; pass < 2; pass++) { /* read after a plain record, and again */
        read_ok(ds, 1, &c);
        assert_string_equal(c.input, "second");
        assert_string_equal(c.msgs[0].content, "second");
        ASSERT_STRS(c.targets, c.n_targets, "2", "3");
        assert_string_equal(c.id, "b");
        assert_int_equal(c.n_tags, 0);
        rs_case_cleanup(&c);
        read_ok(ds, 0, &c);
        assert_string_equal(c.input, "plain");
        rs_case_cleanup(&c);
    }
    rs_dataset_destroy(&ds);

    rs_err_t err = {{0}};
    assert_int_equal(rs_dataset_parse_line(&cfg, line, strlen(line), 9, &c, &err), 0);
    assert_string_equal(c.input, "second");
    assert_string_equal(c.id, "b");
    rs_case_cleanup(&c);
    free(text);
}

static void test_custom_fields_and_system(void **state)
{
    const char *path = write_text("custom.jsonl", "{\"problem\":\"1+1\",\"solution\":2,"
                                                  "\"uid\":\"p-1\",\"labels\":[\"a\"],\"id\":9}\n");
    rs_config_t cfg = jsonl_cfg(path);
    cfg.dataset.input_field = "problem";
    cfg.dataset.target_field = "solution";
    cfg.dataset.id_field = "uid";
    cfg.dataset.tags_field = "labels";
    cfg.prompt.system = "Answer with a number.";
    rs_dataset_t *ds = open_ok(&cfg);
    rs_case_t c;
    read_ok(ds, 0, &c);
    assert_string_equal(c.id, "p-1");
    assert_int_equal(c.n_msgs, 2);
    assert_string_equal(c.msgs[0].role, "system");
    assert_string_equal(c.msgs[0].content, "Answer with a number.");
    assert_string_equal(c.msgs[1].role, "user");
    assert_string_equal(c.msgs[1].content, "1+1");
    ASSERT_STRS(c.targets, c.n_targets, "2");
    ASSERT_STRS(c.tags, c.n_tags, "a");
    rs_case_cleanup(&c);
    rs_dataset_destroy(&ds);
}

/* Reals print in their shortest round-trip form; integers exactly. */
static void test_numeric_target_text(void **state)
{
    static const struct {
        const char *json, *text;
    } rows[] = {
        {"3.0", "3"},         {"0.1", "0.1"},    {"-5", "-5"},
        {"2.5e-3", "0.0025"}, {"1e21", "1e+21"}, {"9007199254740993", "9007199254740993"},
    };
    rs_config_t cfg = jsonl_cfg("inline.jsonl");
    for (size_t i = 0; i < RS_ARRAY_LEN(rows); i++) {
        char *line = rs_xasprintf("{\"question\":\"q\",\"answer\":%s}", rows[i].json);
        rs_case_t c;
        rs_err_t err = {{0}};
        assert_int_equal(rs_dataset_parse_line(&cfg, line, strlen(line), 1, &c, &err), 0);
        ASSERT_STRS(c.targets, c.n_targets, rows[i].text);
        rs_case_cleanup(&c);
        free(line);
    }
}

/* parse_line errors name the field, with "path:line:" in front. */
static void expect_parse_error(const rs_config_t *cfg, const char *line, const char *want)
{
    rs_case_t c;
    rs_err_t err = {{0}};
    assert_int_equal(rs_dataset_parse_line(cfg, line, strlen(line), 12, &c, &err), -1);
    assert_string_equal(err.msg, want);
    assert_int_equal(c.n_msgs, 0); /* nothing left behind on failure */
    assert_null(c.id);
}

static void test_id_and_tags_types(void **state)
{
    rs_config_t cfg = jsonl_cfg("d.jsonl");
    expect_parse_error(&cfg, "{\"question\":\"q\",\"answer\":\"a\",\"id\":1.5}",
                       "d.jsonl:12: field 'id' must be a string or an integer");
    expect_parse_error(&cfg, "{\"question\":\"q\",\"answer\":\"a\",\"id\":[1]}",
                       "d.jsonl:12: field 'id' must be a string or an integer");
    expect_parse_error(&cfg, "{\"question\":\"q\",\"answer\":\"a\",\"tags\":[\"x\",3]}",
                       "d.jsonl:12: field 'tags' must be a string or a list of strings");
    expect_parse_error(&cfg, "{\"question\":\"q\",\"answer\":\"a\",\"tags\":{}}",
                       "d.jsonl:12: field 'tags' must be a string or a list of strings");
    expect_parse_error(&cfg, "{\"question\":\"q\",\"answer\":true}",
                       "d.jsonl:12: field 'answer' must be a string, a number or a list of them");
    expect_parse_error(&cfg, "{\"question\":\"q\",\"answer\":[\"a\",null]}",
                       "d.jsonl:12: field 'answer' must be a string, a number or a list of them");
    expect_parse_error(&cfg, "{\"question\":[\"q\"],\"answer\":\"a\"}",
                       "d.jsonl:12: field 'question' must be a string");
    expect_parse_error(&cfg, "{\"answer\":\"a\"}", "d.jsonl:12: field 'question' missing");
    expect_parse_error(&cfg, "[\"question\",\"answer\"]", "d.jsonl:12: line is not a JSON object");

    rs_case_t c;
    rs_err_t err = {{0}};
    const char *neg = "{\"question\":\"q\",\"answer\":\"a\",\"id\":-42}";
    assert_int_equal(rs_dataset_parse_line(&cfg, neg, strlen(neg), 3, &c, &err), 0);
    assert_string_equal(c.id, "-42");
    assert_int_equal(c.idx, 0);
    rs_case_cleanup(&c);
}

/* ---- target_regex ---- */

static void test_target_regex(void **state)
{
    const char *path = write_text(
        "gsm.jsonl", "{\"question\":\"q1\",\"answer\":\"She has 3+4=<<3+4=7>>7.\\n#### 72\"}\n"
                     "{\"question\":\"q2\",\"answer\":\"Total:\\n####   1,000  \"}\n"
                     "{\"question\":\"q3\",\"answer\":[\"a #### 5\",\"b #### 6\"]}\n");
    rs_config_t cfg = jsonl_cfg(path);
    cfg.dataset.target_regex = "#### (.*)";
    rs_dataset_t *ds = open_ok(&cfg);
    rs_case_t c;
    read_ok(ds, 0, &c);
    ASSERT_STRS(c.targets, c.n_targets, "72");
    rs_case_cleanup(&c);
    read_ok(ds, 1, &c);
    ASSERT_STRS(c.targets, c.n_targets, "1,000"); /* trimmed */
    rs_case_cleanup(&c);
    read_ok(ds, 2, &c);
    ASSERT_STRS(c.targets, c.n_targets, "5", "6");
    rs_case_cleanup(&c);
    rs_dataset_destroy(&ds);

    /* Without a group the whole match is the target. */
    cfg.dataset.target_regex = "####\\s*\\S+";
    ds = open_ok(&cfg);
    read_ok(ds, 1, &c);
    ASSERT_STRS(c.targets, c.n_targets, "####   1,000");
    rs_case_cleanup(&c);
    rs_dataset_destroy(&ds);

    const char *miss =
        write_text("gsm-miss.jsonl", "{\"question\":\"q1\",\"answer\":\"#### 1\"}\n"
                                     "{\"question\":\"q2\",\"answer\":\"no marker\"}\n");
    cfg = jsonl_cfg(miss);
    cfg.dataset.target_regex = "#### (.*)";
    expect_open_error(&cfg, miss, ":2: target_regex '#### (.*)' did not match field 'answer'");

    cfg.dataset.target_regex = "#### (";
    rs_err_t err = {{0}};
    assert_null(rs_dataset_open(&cfg, &err));
    assert_non_null(strstr(err.msg, "dataset.target_regex: bad regex '#### ('"));
}

/* ---- evals format ---- */

static void test_evals_format(void **state)
{
    const char *path = write_text(
        "evals.jsonl",
        "{\"input\":[{\"role\":\"system\",\"content\":\"Be terse.\"},"
        "{\"role\":\"user\",\"content\":\"Capital of France?\"}],\"ideal\":\"Paris\"}\n"
        "{\"input\":[{\"role\":\"user\",\"content\":\"2+2\"},{\"role\":\"assistant\","
        "\"content\":\"4\"},{\"role\":\"user\",\"content\":\"3+3\"}],\"ideal\":[\"6\",\"six\"],"
        "\"id\":\"e2\",\"tags\":[\"math\"]}\n"
        "{\"input\":\"Say hi\",\"ideal\":\"hi\"}\n");
    rs_config_t cfg = evals_cfg(path);
    rs_dataset_t *ds = open_ok(&cfg);
    assert_int_equal(rs_dataset_count(ds), 3);
    rs_case_t c;
    read_ok(ds, 0, &c);
    assert_string_equal(c.id, "1");
    assert_int_equal(c.n_msgs, 2);
    assert_string_equal(c.msgs[0].role, "system");
    assert_string_equal(c.msgs[1].content, "Capital of France?");
    ASSERT_STRS(c.targets, c.n_targets, "Paris");
    assert_string_equal(c.input, "Capital of France?"); /* the raw input: no system message */
    rs_case_cleanup(&c);
    read_ok(ds, 1, &c);
    assert_string_equal(c.id, "e2");
    assert_int_equal(c.n_msgs, 3);
    assert_string_equal(c.msgs[1].role, "assistant");
    assert_string_equal(c.msgs[2].content, "3+3");
    ASSERT_STRS(c.targets, c.n_targets, "6", "six");
    ASSERT_STRS(c.tags, c.n_tags, "math");
    assert_string_equal(c.input, "user: 2+2\n\nassistant: 4\n\nuser: 3+3");
    rs_case_cleanup(&c);
    read_ok(ds, 2, &c); /* a plain string input is one user message */
    assert_int_equal(c.n_msgs, 1);
    assert_string_equal(c.msgs[0].role, "user");
    assert_string_equal(c.msgs[0].content, "Say hi");
    assert_string_equal(c.input, "Say hi");
    rs_case_cleanup(&c);
    rs_dataset_destroy(&ds);

    /* prompt.system goes first; the template does not apply to evals messages. */
    cfg.prompt.system = "You are a quiz bot.";
    cfg.prompt.template = "ignored {{nothing}}";
    ds = open_ok(&cfg);
    read_ok(ds, 0, &c);
    assert_int_equal(c.n_msgs, 3);
    assert_string_equal(c.msgs[0].content, "You are a quiz bot.");
    assert_string_equal(c.msgs[1].content, "Be terse.");
    assert_string_equal(c.input, "Capital of France?"); /* prompt.system is not the input */
    rs_case_cleanup(&c);
    rs_dataset_destroy(&ds);
}

static void test_evals_errors(void **state)
{
    rs_config_t cfg = evals_cfg("e.jsonl");
    expect_parse_error(&cfg,
                       "{\"input\":[{\"role\":\"user\",\"content\":\"x\"},5],\"ideal\":\"a\"}",
                       "e.jsonl:12: field 'input' message 2 must be an object with string 'role' "
                       "and 'content'");
    expect_parse_error(&cfg, "{\"input\":[{\"role\":\"user\"}],\"ideal\":\"a\"}",
                       "e.jsonl:12: field 'input' message 1 must be an object with string 'role' "
                       "and 'content'");
    expect_parse_error(&cfg, "{\"input\":[{\"role\":\"\",\"content\":\"x\"}],\"ideal\":\"a\"}",
                       "e.jsonl:12: field 'input' message 1 must be an object with string 'role' "
                       "and 'content'");
    expect_parse_error(&cfg, "{\"input\":[],\"ideal\":\"a\"}",
                       "e.jsonl:12: field 'input' must not be an empty list");
    expect_parse_error(&cfg, "{\"input\":{\"role\":\"user\"},\"ideal\":\"a\"}",
                       "e.jsonl:12: field 'input' must be a list of chat messages");
    expect_parse_error(&cfg, "{\"input\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                       "e.jsonl:12: field 'ideal' missing");
    expect_parse_error(&cfg, "{\"ideal\":\"a\"}", "e.jsonl:12: field 'input' missing");
}

/* ---- bad lines ---- */

/* Each bad line sits on line 4, after two good lines and a blank one. */
static void test_bad_lines_fail(void **state)
{
    static const struct {
        const char *line, *want; /* want: the message after "path:4: " (a prefix for JSON) */
    } rows[] = {
        {"{\"question\": \"a\", \"answer\": }",
         "invalid JSON: unexpected token near '}' (column 29)"},
        {"{\"question\":\"a\"}", "field 'answer' missing"},
        {"{\"answer\":\"a\"}", "field 'question' missing"},
        {"{\"question\":42,\"answer\":\"a\"}", "field 'question' must be a string"},
        {"{\"question\":\"caf\xC3\x28\",\"answer\":\"a\"}", "invalid UTF-8"},
        {"{\"question\":\"\xFF\",\"answer\":\"a\"}", "invalid UTF-8"},
        {"{\"question\":\"a\",\"answer\":\"b\"} trailing", "invalid JSON: end of file expected"},
        {"\"just a string\"", "invalid JSON: '[' or '{' expected"},
        {"[1,2,3]", "line is not a JSON object"},
    };
    for (size_t i = 0; i < RS_ARRAY_LEN(rows); i++) {
        char *text = rs_xasprintf("{\"question\":\"ok\",\"answer\":\"1\"}\n"
                                  "{\"question\":\"ok\",\"answer\":\"2\"}\n"
                                  "   \n%s\n{\"question\":\"ok\",\"answer\":\"3\"}\n",
                                  rows[i].line);
        char *name = rs_xasprintf("bad%zu.jsonl", i);
        const char *path = write_text(name, text);
        rs_config_t cfg = jsonl_cfg(path);
        rs_err_t err = {{0}};
        assert_null(rs_dataset_open(&cfg, &err));
        char *want = rs_xasprintf("%s:4: %s", path, rows[i].want);
        if (strncmp(err.msg, want, strlen(want)) != 0)
            fail_msg("row %zu: got '%s', want '%s...'", i, err.msg, want);
        if (strncmp(rows[i].want, "invalid JSON", 12) == 0)
            assert_non_null(strstr(err.msg, "(column "));

        /* The same file with on_error=skip: 3 good cases, 1 reason naming line 4. */
        cfg.dataset.on_error = RS_ON_ERROR_SKIP;
        rs_dataset_t *ds = open_ok(&cfg);
        assert_int_equal(rs_dataset_count(ds), 3);
        assert_int_equal(rs_dataset_skipped(ds), 1);
        const char *const *reasons;
        assert_int_equal(rs_dataset_skip_reasons(ds, &reasons), 1);
        assert_int_equal(strncmp(reasons[0], want, strlen(want)), 0);
        rs_case_t c;
        read_ok(ds, 2, &c);
        assert_string_equal(c.id, "5");
        rs_case_cleanup(&c);
        rs_dataset_destroy(&ds);
        free(want);
        free(name);
        free(text);
    }
}

static void test_skip_counts_and_reason_cap(void **state)
{
    rs_buf_t b;
    rs_buf_init(&b);
    for (int i = 1; i <= 300; i++) {
        if (i % 2)
            rs_buf_printf(&b, "{\"question\":\"q%d\",\"answer\":\"%d\"}\n", i, i);
        else
            rs_buf_printf(&b, "{\"question\":\"q%d\"}\n", i);
    }
    const char *path = write_bytes("skips.jsonl", b.data, b.len);
    rs_buf_cleanup(&b);
    rs_config_t cfg = jsonl_cfg(path);
    cfg.dataset.on_error = RS_ON_ERROR_SKIP;
    rs_dataset_t *ds = open_ok(&cfg);
    assert_int_equal(rs_dataset_count(ds), 150);
    assert_int_equal(rs_dataset_skipped(ds), 150);
    const char *const *reasons;
    assert_int_equal(rs_dataset_skip_reasons(ds, &reasons), 100); /* only the first 100 kept */
    char *first = rs_xasprintf("%s:2: field 'answer' missing", path);
    char *last = rs_xasprintf("%s:200: field 'answer' missing", path);
    assert_string_equal(reasons[0], first);
    assert_string_equal(reasons[99], last);
    free(first);
    free(last);
    rs_case_t c;
    read_ok(ds, 149, &c);
    assert_string_equal(c.msgs[0].content, "q299");
    assert_string_equal(c.id, "299");
    rs_case_cleanup(&c);
    rs_dataset_destroy(&ds);
}

/* `trace` and `compare` find cases by id: a second case with an id already seen is an error
 * naming both lines, or with on_error=skip a skipped line like any other bad one. An id that
 * equals another case's line number (its default id) counts too. */
static void test_duplicate_ids(void **state)
{
    const char *path = write_text("dups.jsonl",
                                  "{\"id\":\"a\",\"question\":\"q1\",\"answer\":\"1\"}\n"
                                  "{\"id\":\"b\",\"question\":\"q2\",\"answer\":\"2\"}\n"
                                  "{\"question\":\"q3\",\"answer\":\"3\"}\n"
                                  "{\"id\":\"a\",\"question\":\"q4\",\"answer\":\"4\"}\n"
                                  "{\"id\":\"3\",\"question\":\"q5\",\"answer\":\"5\"}\n"
                                  "{\"id\":\"c\",\"question\":\"q6\",\"answer\":\"6\"}\n");
    rs_config_t cfg = jsonl_cfg(path);
    char *want = rs_xasprintf(":4: duplicate id 'a' (first on %s:1)", path);
    expect_open_error(&cfg, path, want);
    free(want);
    cfg.dataset.on_error = RS_ON_ERROR_SKIP;
    rs_dataset_t *ds = open_ok(&cfg);
    assert_int_equal(rs_dataset_count(ds), 4);
    assert_int_equal(rs_dataset_skipped(ds), 2);
    const char *const *reasons;
    assert_int_equal(rs_dataset_skip_reasons(ds, &reasons), 2);
    char *r5 = rs_xasprintf("%s:5: duplicate id '3' (first on %s:3)", path, path);
    assert_string_equal(reasons[1], r5);
    free(r5);
    rs_case_t c;
    read_ok(ds, 3, &c);
    assert_string_equal(c.id, "c");
    rs_case_cleanup(&c);
    rs_dataset_destroy(&ds);
    /* many distinct ids (the set grows) and an id with an escape code shown escaped */
    rs_buf_t b;
    rs_buf_init(&b);
    for (int i = 0; i < 5000; i++) rs_buf_printf(&b, "{\"id\":\"x\\u001b%d\",\"question\":\"q\",\"answer\":\"1\"}\n", i);
    rs_buf_puts(&b, "{\"id\":\"x\\u001b4321\",\"question\":\"q\",\"answer\":\"1\"}\n");
    path = write_bytes("many.jsonl", b.data, b.len);
    rs_buf_cleanup(&b);
    cfg = jsonl_cfg(path);
    want = rs_xasprintf(":5001: duplicate id 'x\xE2\x90\x9B" "4321' (first on %s:4322)", path);
    expect_open_error(&cfg, path, want);
    free(want);
}

static void test_limit(void **state)
{
    /* Lines after the limit are neither parsed nor counted, but the hash covers the whole file. */
    const char *text = "{\"question\":\"a\",\"answer\":\"1\"}\n"
                       "{\"question\":\"b\"}\n"
                       "{\"question\":\"c\",\"answer\":\"3\"}\n"
                       "{\"question\":\"d\",\"answer\":\"4\"}\n"
                       "not json at all\n";
    const char *path = write_text("limit.jsonl", text);
    rs_config_t cfg = jsonl_cfg(path);
    cfg.dataset.limit = 2;
    cfg.dataset.on_error = RS_ON_ERROR_SKIP;
    rs_dataset_t *ds = open_ok(&cfg);
    assert_int_equal(rs_dataset_count(ds), 2);
    assert_int_equal(rs_dataset_skipped(ds), 1);
    char sha[65];
    rs_sha256_hex(text, strlen(text), sha);
    assert_string_equal(rs_dataset_sha256(ds), sha);
    rs_case_t c;
    read_ok(ds, 1, &c);
    assert_string_equal(c.msgs[0].content, "c");
    rs_case_cleanup(&c);
    rs_err_t err = {{0}};
    assert_int_equal(rs_dataset_read(ds, 2, &c, &err), -1);
    assert_non_null(strstr(err.msg, "case 2 out of range (2 cases)"));
    rs_dataset_destroy(&ds);

    cfg.dataset.limit = 3; /* on_error=fail still fails on line 2, before the limit */
    cfg.dataset.on_error = RS_ON_ERROR_FAIL;
    expect_open_error(&cfg, path, ":2: field 'answer' missing");
    cfg.dataset.limit = 1;
    ds = open_ok(&cfg);
    assert_int_equal(rs_dataset_count(ds), 1);
    rs_dataset_destroy(&ds);
}

/* ---- the 16 MiB line cap ---- */

/* A valid record whose line is exactly len bytes long. */
static char *record_of_len(size_t len)
{
    const char *head = "{\"question\":\"", *tail = "\",\"answer\":\"1\"}";
    size_t fixed = strlen(head) + strlen(tail);
    char *s = rs_xmalloc(len + 1);
    memcpy(s, head, strlen(head));
    memset(s + strlen(head), 'x', len - fixed);
    memcpy(s + len - strlen(tail), tail, strlen(tail) + 1);
    return s;
}

static const char *file_with_line(const char *name, const char *mid, int trailing_newline)
{
    rs_buf_t b;
    rs_buf_init(&b);
    rs_buf_puts(&b, "{\"question\":\"first\",\"answer\":\"1\"}\n");
    rs_buf_puts(&b, mid);
    if (trailing_newline) rs_buf_puts(&b, "\n{\"question\":\"third\",\"answer\":\"3\"}\n");
    const char *path = write_bytes(name, b.data, b.len);
    rs_buf_cleanup(&b);
    return path;
}

static void test_long_lines(void **state)
{
    char *huge = record_of_len(RS_DATASET_MAX_LINE + 1);
    const char *path = file_with_line("huge.jsonl", huge, 1);
    rs_config_t cfg = jsonl_cfg(path);
    expect_open_error(&cfg, path, ":2: line longer than 16 MiB");

    cfg.dataset.on_error = RS_ON_ERROR_SKIP;
    rs_dataset_t *ds = open_ok(&cfg);
    assert_int_equal(rs_dataset_count(ds), 2);
    assert_int_equal(rs_dataset_skipped(ds), 1);
    rs_case_t c;
    read_ok(ds, 1, &c);
    assert_string_equal(c.id, "3"); /* line numbers stay right after the skipped line */
    assert_string_equal(c.msgs[0].content, "third");
    rs_case_cleanup(&c);
    rs_dataset_destroy(&ds);

    /* The same line last in the file, without a newline. */
    path = file_with_line("huge-last.jsonl", huge, 0);
    cfg = jsonl_cfg(path);
    expect_open_error(&cfg, path, ":2: line longer than 16 MiB");
    free(huge);

    /* Exactly 16 MiB is allowed. */
    char *max = record_of_len(RS_DATASET_MAX_LINE);
    path = file_with_line("max.jsonl", max, 1);
    free(max);
    cfg = jsonl_cfg(path);
    ds = open_ok(&cfg);
    assert_int_equal(rs_dataset_count(ds), 3);
    read_ok(ds, 1, &c);
    assert_int_equal(strlen(c.msgs[0].content),
                     RS_DATASET_MAX_LINE - 28); /* 28: the JSON around it */
    rs_case_cleanup(&c);
    rs_dataset_destroy(&ds);
}

/* ---- read-by-index, blank lines, CRLF, BOM ---- */

static void assert_case_equal(const rs_case_t *a, const rs_case_t *b)
{
    assert_string_equal(a->id, b->id);
    assert_int_equal(a->n_msgs, b->n_msgs);
    for (size_t i = 0; i < a->n_msgs; i++) {
        assert_string_equal(a->msgs[i].role, b->msgs[i].role);
        assert_string_equal(a->msgs[i].content, b->msgs[i].content);
    }
    assert_strs(a->targets, a->n_targets, (const char *const *)b->targets, b->n_targets);
    assert_strs(a->tags, a->n_tags, (const char *const *)b->tags, b->n_tags);
    assert_string_equal(a->input, b->input);
}

static void test_read_matches_sequential_parse(void **state)
{
    rs_buf_t b;
    rs_buf_init(&b);
    char pad[1001]; /* 380 KB in all: past the 256 KiB the reader reads ahead */
    memset(pad, 'p', 1000);
    pad[1000] = '\0';
    for (int i = 1; i <= 500; i++) {
        rs_buf_printf(&b,
                      "{\"question\":\"What is %d * 3?\",\"answer\":[\"%d\",\"x%d\"],"
                      "\"tags\":[\"t%d\"],\"extra\":{\"k\":[%d,true]},\"pad\":\"%s\"}\n",
                      i, i * 3, i, i % 7, i, i % 3 ? pad : "");
        if (i % 10 == 0) rs_buf_puts(&b, "\n \t\r\n");
    }
    const char *path = write_bytes("seq.jsonl", b.data, b.len);
    rs_config_t cfg = jsonl_cfg(path);
    cfg.prompt.system = "sys";
    cfg.prompt.template = "Q: {{input}} | {{ extra }}";
    rs_dataset_t *ds = open_ok(&cfg);
    assert_int_equal(rs_dataset_count(ds), 500);

    /* Walk the file's lines in order and parse each one; read the same case by index backwards. */
    uint64_t idx = 0, line_no = 0;
    for (char *s = b.data, *nl; (nl = strchr(s, '\n')); s = nl + 1) {
        line_no++;
        if (s[0] != '{') continue;
        rs_case_t want, got;
        rs_err_t err = {{0}};
        assert_int_equal(rs_dataset_parse_line(&cfg, s, (size_t)(nl - s), line_no, &want, &err), 0);
        read_ok(ds, idx, &got);
        assert_case_equal(&got, &want);
        rs_case_cleanup(&want);
        rs_case_cleanup(&got);
        idx++;
    }
    assert_int_equal(idx, 500);
    rs_case_t c;
    read_ok(ds, 10, &c); /* case 11 sits on line 13: two blank lines follow every tenth case */
    assert_string_equal(c.id, "13");
    assert_string_equal(c.msgs[1].content, "Q: What is 11 * 3? | {\"k\":[11,true]}");
    assert_string_equal(c.input, "What is 11 * 3?"); /* the field as read, before the template */
    rs_case_cleanup(&c);
    for (uint64_t i = 500; i-- > 0;) { /* any order works */
        read_ok(ds, i, &c);
        char want[48];
        snprintf(want, sizeof(want), "What is %d * 3?", (int)i + 1);
        assert_string_equal(c.input, want);
        rs_case_cleanup(&c);
    }
    /* the index given back: a case reads as out of range */
    rs_dataset_drop_index(ds);
    rs_err_t err;
    assert_int_equal(rs_dataset_read(ds, 3, &c, &err), -1);
    assert_non_null(strstr(err.msg, "out of range"));
    rs_dataset_destroy(&ds);
    rs_buf_cleanup(&b);
}

static void test_blank_crlf_bom(void **state)
{
    const char *path =
        write_text("crlf.jsonl", "\xEF\xBB\xBF{\"question\":\"a\",\"answer\":\"1\"}\r\n"
                                 "\r\n"
                                 "   \t \r\n"
                                 "{\"question\":\"b\",\"answer\":\"2\"}\r\n"
                                 "\n\n"
                                 "{\"question\":\"c\",\"answer\":\"3\"}");
    rs_config_t cfg = jsonl_cfg(path);
    rs_dataset_t *ds = open_ok(&cfg);
    assert_int_equal(rs_dataset_count(ds), 3);
    assert_int_equal(rs_dataset_skipped(ds), 0);
    static const char *const ids[] = {"1", "4", "7"}, *const qs[] = {"a", "b", "c"};
    for (uint64_t i = 0; i < 3; i++) {
        rs_case_t c;
        read_ok(ds, i, &c);
        assert_string_equal(c.id, ids[i]);
        assert_string_equal(c.msgs[0].content, qs[i]);
        rs_case_cleanup(&c);
    }
    rs_dataset_destroy(&ds);

    path = write_text("blank.jsonl", "\n  \n\t\n");
    cfg = jsonl_cfg(path);
    ds = open_ok(&cfg);
    assert_int_equal(rs_dataset_count(ds), 0);
    rs_dataset_destroy(&ds);
}

/* ---- prompt template ---- */

static void test_prompt_render(void **state)
{
    const char *text = "{\"question\":\"Why?\",\"ctx\":\"sky\",\"n\":3,\"r\":0.5,\"ok\":false,"
                       "\"obj\":{\"a\":[1,\"b\"]},\"nil\":null}";
    rs_jdoc_t *doc = rs_jdoc_new();
    rs_err_t err = {{0}};
    const rs_jv_t *rec = rs_jdoc_read(doc, text, strlen(text), RS_JDOC_MAX_DEPTH, &err);
    assert_non_null(rec);
    char *s = rs_prompt_render("{{input}}", rec, "question", &err);
    assert_string_equal(s, "Why?");
    free(s);
    s = rs_prompt_render("Context: {{ ctx }}\nQ: {{input}} n={{n}} r={{  r}} ok={{ok}} "
                         "obj={{obj }} nil={{nil}} {single} }}",
                         rec, "question", &err);
    assert_string_equal(s,
                        "Context: sky\nQ: Why? n=3 r=0.5 ok=false obj={\"a\":[1,\"b\"]} nil=null "
                        "{single} }}");
    free(s);
    s = rs_prompt_render("no placeholders", rec, "question", &err);
    assert_string_equal(s, "no placeholders");
    free(s);

    assert_null(rs_prompt_render("Q: {{ question }} {{missing}}", rec, "question", &err));
    assert_string_equal(err.msg, "prompt template: field 'missing' missing from the record");
    assert_null(
        rs_prompt_render("{{input}}", rec, "prompt", &err)); /* {{input}} names the mapping */
    assert_string_equal(err.msg, "prompt template: field 'prompt' missing from the record");
    assert_null(rs_prompt_render("Q: {{input", rec, "question", &err));
    assert_string_equal(err.msg, "prompt template: '{{' at offset 3 is never closed by '}}'");
    assert_null(rs_prompt_render("a {{ }}", rec, "question", &err));
    assert_string_equal(err.msg, "prompt template: empty placeholder at offset 2");
    assert_null(rs_prompt_render("{{que}}", rec, "question", &err)); /* a key's prefix is no key */
    assert_string_equal(err.msg, "prompt template: field 'que' missing from the record");
    rs_jdoc_free(&doc);
}

static void test_template_errors_in_dataset(void **state)
{
    const char *path =
        write_text("tmpl.jsonl", "{\"question\":\"a\",\"answer\":\"1\",\"hint\":\"h\"}\n"
                                 "{\"question\":\"b\",\"answer\":\"2\"}\n");
    rs_config_t cfg = jsonl_cfg(path);
    cfg.prompt.template = "{{input}} (hint: {{hint}})";
    expect_open_error(&cfg, path, ":2: prompt template: field 'hint' missing from the record");
    cfg.dataset.on_error = RS_ON_ERROR_SKIP;
    rs_dataset_t *ds = open_ok(&cfg);
    assert_int_equal(rs_dataset_count(ds), 1);
    rs_case_t c;
    read_ok(ds, 0, &c);
    assert_string_equal(c.msgs[0].content, "a (hint: h)");
    rs_case_cleanup(&c);
    rs_dataset_destroy(&ds);

    /* A malformed template fails at open time, before any line and whatever on_error says. */
    cfg.prompt.template = "{{input";
    rs_err_t err = {{0}};
    assert_null(rs_dataset_open(&cfg, &err));
    assert_string_equal(err.msg, "prompt template: '{{' at offset 0 is never closed by '}}'");
}

/* prompts: every variant renders its own prompt, the scan checks every variant's template against
 * every record (naming the variant), and the cluster field is read and required. */
static void test_prompt_variants_and_clusters(void **state)
{
    (void)state;
    const char *path = write_text("var.jsonl", "{\"question\":\"a\",\"answer\":\"1\",\"p\":\"x\"}\n"
                                               "{\"question\":\"b\",\"answer\":\"2\",\"p\":7}\n");
    rs_config_t cfg = jsonl_cfg(path);
    rs_prompt_cfg_t variants[2] = {{.name = "one", .template = "A: {{input}}"},
                                   {.name = "two", .system = "S", .template = "B: {{input}} {{p}}"}};
    cfg.prompts = variants;
    cfg.n_prompts = 2;
    cfg.dataset.cluster_field = "p";
    rs_dataset_t *ds = open_ok(&cfg);
    rs_case_t c;
    rs_err_t err = {{0}};
    assert_int_equal(rs_dataset_read_variant(ds, 1, 0, &c, &err), 0);
    assert_int_equal(c.n_msgs, 1);
    assert_string_equal(c.msgs[0].content, "A: b");
    assert_string_equal(c.cluster, "7");
    rs_case_cleanup(&c);
    assert_int_equal(rs_dataset_read_variant(ds, 0, 1, &c, &err), 0);
    assert_int_equal(c.n_msgs, 2);
    assert_string_equal(c.msgs[0].content, "S");
    assert_string_equal(c.msgs[1].content, "B: a x");
    assert_int_equal(c.variant, 1);
    assert_string_equal(c.cluster, "x");
    rs_case_cleanup(&c);
    assert_int_equal(rs_dataset_read_variant(ds, 0, 2, &c, &err), -1);
    rs_dataset_destroy(&ds);

    variants[1].template = "B: {{input}} {{hint}}"; /* only the second variant needs hint */
    expect_open_error(&cfg, path, ":1: prompt 'two': prompt template: field 'hint' missing from "
                                  "the record");
    variants[1].template = "B: {{input}}";
    cfg.dataset.cluster_field = "passage";
    expect_open_error(&cfg, path, ":1: field 'passage' (dataset.fields.cluster) must be a "
                                  "non-empty string or an integer");
}

/* ---- files ---- */

static void test_sha256_and_files(void **state)
{
    const char *path = write_text("sha.jsonl", "{\"question\":\"q\",\"answer\":\"a\"}\n");
    rs_config_t cfg = jsonl_cfg(path);
    rs_dataset_t *ds = open_ok(&cfg);
    /* sha256sum of the 30 bytes above, computed independently. */
    assert_string_equal(rs_dataset_sha256(ds),
                        "285a1e3f85dd21e08bed7bddd5eb4c6e4302159c42622c32d538f4e827b354cd");
    rs_dataset_destroy(&ds);

    path = write_text("empty.jsonl", "");
    cfg = jsonl_cfg(path);
    ds = open_ok(&cfg);
    assert_int_equal(rs_dataset_count(ds), 0);
    assert_string_equal(rs_dataset_sha256(ds),
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    rs_dataset_destroy(&ds);

    /* A relative path resolves against base_dir. */
    cfg = jsonl_cfg("sha.jsonl");
    ds = open_ok(&cfg);
    assert_int_equal(rs_dataset_count(ds), 1);
    rs_dataset_destroy(&ds);

    char *nope = rs_xasprintf("%s/nope.jsonl", tmpdir);
    cfg = jsonl_cfg(nope);
    expect_open_error(&cfg, nope, ": No such file or directory");
    free(nope);
    cfg = jsonl_cfg(tmpdir);
    expect_open_error(&cfg, tmpdir, ": a folder, but not a Hugging Face datasets folder (no dataset_info.json)");
    cfg = jsonl_cfg(NULL);
    rs_err_t err = {{0}};
    assert_null(rs_dataset_open(&cfg, &err));
    assert_string_equal(err.msg, "dataset.path is not set");
}

/* The files under datasets/ stay valid in the format the README gives them. */
static void test_bundled_datasets(void **state)
{
    rs_config_t cfg = jsonl_cfg(RS_SOURCE_DIR "/datasets/demo.jsonl");
    rs_dataset_t *ds = open_ok(&cfg);
    assert_int_equal(rs_dataset_count(ds), 500);
    rs_case_t c;
    read_ok(ds, 0, &c);
    assert_string_equal(c.id, "arith-000001");
    ASSERT_STRS(c.targets, c.n_targets, "6");
    rs_case_cleanup(&c);
    rs_dataset_destroy(&ds);

    cfg = evals_cfg(RS_SOURCE_DIR "/datasets/evals-sample.jsonl");
    ds = open_ok(&cfg);
    assert_int_equal(rs_dataset_count(ds), 22);
    assert_int_equal(rs_dataset_skipped(ds), 0);
    read_ok(ds, 2, &c);
    assert_string_equal(c.id, "sample-03");
    ASSERT_STRS(c.targets, c.n_targets, "8", "eight");
    rs_case_cleanup(&c);
    read_ok(ds, 3, &c); /* no id: the line number */
    assert_string_equal(c.id, "4");
    rs_case_cleanup(&c);
    rs_dataset_destroy(&ds);
}

/* GSM8K's test split, when the shared data checkout has it. */
static void test_gsm8k(void **state)
{
    const char *path = RS_SOURCE_DIR "/../shared/data/gsm8k/test.jsonl";
    if (access(path, R_OK) != 0) {
        print_message("skipping: %s not present\n", path);
        skip();
    }
    rs_config_t cfg = jsonl_cfg(path);
    cfg.dataset.target_regex = "#### (.*)";
    rs_dataset_t *ds = open_ok(&cfg);
    assert_int_equal(rs_dataset_count(ds), 1319);
    assert_int_equal(rs_dataset_skipped(ds), 0);
    rs_case_t c;
    read_ok(ds, 0, &c);
    ASSERT_STRS(c.targets, c.n_targets, "18");
    assert_string_equal(c.id, "1");
    assert_non_null(strstr(c.msgs[0].content, "Janet"));
    rs_case_cleanup(&c);
    for (uint64_t i = 0; i < rs_dataset_count(ds); i++) {
        read_ok(ds, i, &c);
        assert_int_equal(c.n_targets, 1);
        assert_true(c.targets[0][0] != '\0');
        rs_case_cleanup(&c);
    }
    rs_dataset_destroy(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonl_mapping),
        cmocka_unit_test(test_custom_fields_and_system),
        cmocka_unit_test(test_numeric_target_text),
        cmocka_unit_test(test_id_and_tags_types),
        cmocka_unit_test(test_target_regex),
        cmocka_unit_test(test_evals_format),
        cmocka_unit_test(test_evals_errors),
        cmocka_unit_test(test_bad_lines_fail),
        cmocka_unit_test(test_skip_counts_and_reason_cap),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_read_matches_sequential_parse),
        cmocka_unit_test(test_blank_crlf_bom),
        cmocka_unit_test(test_prompt_render),
        cmocka_unit_test(test_template_errors_in_dataset),
        cmocka_unit_test(test_prompt_variants_and_clusters),
        cmocka_unit_test(test_sha256_and_files),
        cmocka_unit_test(test_bundled_datasets),
        cmocka_unit_test(test_gsm8k),
        cmocka_unit_test(test_duplicate_ids),
        cmocka_unit_test(test_duplicate_keys_last_wins),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
