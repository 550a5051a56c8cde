/* Unit tests for common/proto.c: round trips of every message, optional fields present and
 * absent; every malformed-frame path (truncation at each byte, a wrong type, a missing key, a
 * negative or NUL-holding value at every field, hostile headers); and a fixed-seed mutation fuzz.
 * Meant to run under ASan+UBSan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h and stddef.h, which it needs */
#include <jansson.h>
#include <msgpack.h>

#include "proto.h"

/* A string literal as (bytes, length), for raw frames with embedded NULs. */
#define RAW(s) (s), sizeof(s) - 1

/* ---- Helpers ------------------------------------------------------------------------------ */

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i]) return false;
    return true;
}

static void decode_ok(const void *data, size_t len, rs_msg_t *m)
{
    rs_err_t err = {{0}};
    if (rs_proto_decode(data, len, m, &err) != 0) fail_msg("decode failed: %s", err.msg);
}

/* Decoding must fail, leave the message zeroed and, when want is set, say exactly want. */
static void expect_error(const void *data, size_t len, const char *want)
{
    rs_msg_t m;
    rs_err_t err = {{0}};
    assert_int_equal(rs_proto_decode(data, len, &m, &err), -1);
    assert_true(all_zero(&m, sizeof(m)));
    assert_true(err.msg[0] != '\0');
    if (want) assert_string_equal(err.msg, want);
}

static void expect_error_buf(const rs_buf_t *b, const char *want)
{
    expect_error(b->data, b->len, want);
}

static int buf_write(void *data, const char *bytes, size_t n)
{
    rs_buf_append(data, bytes, n);
    return 0;
}

static void pack_s(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* Packs a jansson value as msgpack, so tests can write frames (and break them) as JSON. */
static void pack_json(msgpack_packer *pk, json_t *j)
{
    const char *key;
    json_t *v;
    size_t i;
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        msgpack_pack_map(pk, json_object_size(j));
        json_object_foreach(j, key, v)
        {
            pack_s(pk, key);
            pack_json(pk, v);
        }
        break;
    case JSON_ARRAY:
        msgpack_pack_array(pk, json_array_size(j));
        json_array_foreach(j, i, v) pack_json(pk, v);
        break;
    case JSON_STRING:
        msgpack_pack_str_with_body(pk, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        msgpack_pack_int64(pk, json_integer_value(j));
        break;
    case JSON_REAL:
        msgpack_pack_double(pk, json_real_value(j));
        break;
    case JSON_TRUE:
        msgpack_pack_true(pk);
        break;
    case JSON_FALSE:
        msgpack_pack_false(pk);
        break;
    case JSON_NULL:
        msgpack_pack_nil(pk);
        break;
    }
}

static void frame_of(rs_buf_t *b, json_t *j)
{
    msgpack_packer pk;
    rs_buf_reset(b);
    msgpack_packer_init(&pk, b, buf_write);
    pack_json(&pk, j);
}

static json_t *J(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
    if (!j) fail_msg("bad test JSON: %s: %s", jerr.text, text);
    return j;
}

/* Decoding the JSON-described frame must fail with exactly want. */
static void expect_json_error(const char *text, const char *want)
{
    rs_buf_t b;
    rs_buf_init(&b);
    json_t *j = J(text);
    frame_of(&b, j);
    expect_error_buf(&b, want);
    json_decref(j);
    rs_buf_cleanup(&b);
}

/* ---- Sample messages ---------------------------------------------------------------------- */

static rs_chat_msg_t SAMPLE_MSGS[] = {
    {"system", "Answer briefly."},
    {"user", "Grüße! 世界まで何キロ? 🌍"},
    {"assistant", ""},
};
static char *SAMPLE_TARGETS[] = {"42", "forty-two ✓"};
static char *SAMPLE_TAGS[] = {"math", "ünïcode"};

static rs_case_t sample_case(uint64_t idx, bool empty)
{
    rs_case_t c = {.idx = idx, .id = empty ? "" : "line-7 ✓"};
    if (empty) return c; /* and no raw input: the optional field is left out */
    c.input = "Grüße! 世界まで何キロ?";
    c.msgs = SAMPLE_MSGS;
    c.n_msgs = RS_ARRAY_LEN(SAMPLE_MSGS);
    c.targets = SAMPLE_TARGETS;
    c.n_targets = RS_ARRAY_LEN(SAMPLE_TARGETS);
    c.tags = SAMPLE_TAGS;
    c.n_tags = RS_ARRAY_LEN(SAMPLE_TAGS);
    return c;
}

static char SAMPLE_JSON[] = "{\"idx\":3,\"answer\":\"Grüße\",\"score\":1}";

static rs_case_result_t sample_case_result(uint64_t idx, int failed)
{
    return (rs_case_result_t){idx, failed, SAMPLE_JSON, sizeof(SAMPLE_JSON) - 1};
}

static void assert_strs_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++)
        assert_string_equal(a[i], b[i]);
}

static void assert_case_equal(const rs_case_t *a, const rs_case_t *b)
{
    assert_int_equal(a->idx, b->idx);
    assert_string_equal(a->id, b->id);
    assert_int_equal(a->n_msgs, b->n_msgs);
    for (size_t i = 0; i < a->n_msgs; i++) {
        assert_string_equal(a->msgs[i].role, b->msgs[i].role);
        assert_string_equal(a->msgs[i].content, b->msgs[i].content);
    }
    assert_strs_equal(a->targets, a->n_targets, b->targets, b->n_targets);
    assert_strs_equal(a->tags, a->n_tags, b->tags, b->n_tags);
    if (a->input)
        assert_string_equal(a->input, b->input);
    else
        assert_null(b->input);
}

static void assert_task_equal(const rs_task_t *a, const rs_task_t *b)
{
    assert_int_equal(a->task_id, b->task_id);
    assert_int_equal(a->lease, b->lease);
    assert_int_equal(a->deadline_ms, b->deadline_ms);
    assert_int_equal(a->n_cases, b->n_cases);
    for (size_t i = 0; i < a->n_cases; i++)
        assert_case_equal(&a->cases[i], &b->cases[i]);
}

static void assert_result_equal(const rs_result_t *a, const rs_result_t *b)
{
    assert_int_equal(a->task_id, b->task_id);
    assert_int_equal(a->lease, b->lease);
    assert_int_equal(a->n_cases, b->n_cases);
    for (size_t i = 0; i < a->n_cases; i++) {
        assert_int_equal(a->cases[i].idx, b->cases[i].idx);
        assert_int_equal(a->cases[i].failed, b->cases[i].failed);
        assert_int_equal(a->cases[i].json_len, b->cases[i].json_len);
        assert_memory_equal(a->cases[i].json, b->cases[i].json, a->cases[i].json_len);
        assert_int_equal(b->cases[i].json[b->cases[i].json_len], '\0');
    }
}

/* Encodes any decoded message again (used by the fuzz loop to check decode -> encode -> decode). */
static void encode_any(rs_buf_t *b, const rs_msg_t *m)
{
    switch (m->type) {
    case RS_MSG_HELLO:
        rs_proto_encode_hello(b, &m->u.hello);
        break;
    case RS_MSG_WELCOME:
        rs_proto_encode_welcome(b, &m->u.welcome);
        break;
    case RS_MSG_TASK:
        rs_proto_encode_task(b, &m->u.task);
        break;
    case RS_MSG_RESULT:
        rs_proto_encode_result(b, &m->u.result);
        break;
    case RS_MSG_CREDIT:
        rs_proto_encode_credit(b, m->u.credit);
        break;
    case RS_MSG_HEARTBEAT:
        rs_proto_encode_heartbeat(b, &m->u.heartbeat);
        break;
    case RS_MSG_PAUSE:
        rs_proto_encode_pause(b, &m->u.pause);
        break;
    case RS_MSG_DRAIN:
        rs_proto_encode_drain(b);
        break;
    case RS_MSG_CANCEL:
        rs_proto_encode_cancel(b, m->u.cancel);
        break;
    }
}

static void assert_msg_equal(const rs_msg_t *a, const rs_msg_t *b)
{
    assert_int_equal(a->type, b->type);
    switch (a->type) {
    case RS_MSG_HELLO:
        assert_string_equal(a->u.hello.worker_id, b->u.hello.worker_id);
        assert_string_equal(a->u.hello.host, b->u.hello.host);
        assert_int_equal(a->u.hello.pid, b->u.hello.pid);
        assert_string_equal(a->u.hello.version, b->u.hello.version);
        assert_int_equal(a->u.hello.slots, b->u.hello.slots);
        break;
    case RS_MSG_WELCOME:
        assert_string_equal(a->u.welcome.run_id, b->u.welcome.run_id);
        assert_string_equal(a->u.welcome.spec, b->u.welcome.spec);
        assert_int_equal(a->u.welcome.heartbeat_ms, b->u.welcome.heartbeat_ms);
        break;
    case RS_MSG_TASK:
        assert_task_equal(&a->u.task, &b->u.task);
        break;
    case RS_MSG_RESULT:
        assert_result_equal(&a->u.result, &b->u.result);
        break;
    case RS_MSG_CREDIT:
        assert_int_equal(a->u.credit, b->u.credit);
        break;
    case RS_MSG_HEARTBEAT:
        assert_int_equal(a->u.heartbeat.in_flight, b->u.heartbeat.in_flight);
        assert_int_equal(a->u.heartbeat.stats_len, b->u.heartbeat.stats_len);
        if (a->u.heartbeat.stats)
            assert_memory_equal(a->u.heartbeat.stats, b->u.heartbeat.stats, a->u.heartbeat.stats_len);
        else
            assert_null(b->u.heartbeat.stats);
        break;
    case RS_MSG_PAUSE:
        assert_string_equal(a->u.pause.model, b->u.pause.model);
        assert_int_equal(a->u.pause.ms, b->u.pause.ms);
        break;
    case RS_MSG_DRAIN:
        break;
    case RS_MSG_CANCEL:
        assert_int_equal(a->u.cancel, b->u.cancel);
        break;
    }
}

/* Encodes msg, decodes it, compares, and checks cleanup zeroes the message. */
static void round_trip(const rs_msg_t *msg)
{
    rs_buf_t b;
    rs_msg_t m;
    rs_buf_init(&b);
    encode_any(&b, msg);
    decode_ok(b.data, b.len, &m);
    assert_msg_equal(msg, &m);
    rs_msg_cleanup(&m);
    assert_true(all_zero(&m, sizeof(m)));
    rs_buf_cleanup(&b);
}

/* ---- Round trips -------------------------------------------------------------------------- */

static void test_type_names(void **state)
{
    assert_string_equal(rs_msg_type_name(RS_MSG_HELLO), "HELLO");
    assert_string_equal(rs_msg_type_name(RS_MSG_CREDIT), "CREDIT");
    assert_string_equal(rs_msg_type_name(RS_MSG_RESULT), "RESULT");
    assert_string_equal(rs_msg_type_name(RS_MSG_HEARTBEAT), "HEARTBEAT");
    assert_string_equal(rs_msg_type_name(RS_MSG_WELCOME), "WELCOME");
    assert_string_equal(rs_msg_type_name(RS_MSG_TASK), "TASK");
    assert_string_equal(rs_msg_type_name(RS_MSG_DRAIN), "DRAIN");
    assert_string_equal(rs_msg_type_name(RS_MSG_CANCEL), "CANCEL");
    assert_string_equal(rs_msg_type_name(RS_MSG_PAUSE), "PAUSE");
    assert_string_equal(rs_msg_type_name((rs_msg_type_t)0), "UNKNOWN");
    assert_string_equal(rs_msg_type_name((rs_msg_type_t)99), "UNKNOWN");
}

static void test_roundtrip_small_messages(void **state)
{
    rs_msg_t m = {.type = RS_MSG_HELLO};
    m.u.hello = (rs_hello_t){"w-1", "höst-ÿ.example", 4242, "0.1.0", 16};
    round_trip(&m);
    m.u.hello = (rs_hello_t){"", "", 0, "", 0};
    round_trip(&m);
    m.u.hello = (rs_hello_t){"w", "h", INT64_MAX, "v", INT64_MAX};
    round_trip(&m);

    m = (rs_msg_t){.type = RS_MSG_WELCOME};
    m.u.welcome = (rs_welcome_t){"run-2024-Ω", "{\"prompt\":\"Réponds: {{input}}\"}", 5000};
    round_trip(&m);

    int64_t credits[] = {0, 1, 127, 128, 65536, INT64_MAX};
    for (size_t i = 0; i < RS_ARRAY_LEN(credits); i++) {
        round_trip(&(rs_msg_t){.type = RS_MSG_CREDIT, .u.credit = credits[i]});
        round_trip(&(rs_msg_t){.type = RS_MSG_HEARTBEAT, .u.heartbeat.in_flight = credits[i]});
        round_trip(&(rs_msg_t){.type = RS_MSG_PAUSE, .u.pause = {"gpt-4o", credits[i]}});
    }
    const char *stats = "{\"m\":{\"calls\":1,\"retries\":{\"http_429\":2},\"retry_after_ms\":2000}}";
    round_trip(&(rs_msg_t){.type = RS_MSG_HEARTBEAT,
                           .u.heartbeat = {3, (char *)stats, strlen(stats)}});
    round_trip(&(rs_msg_t){.type = RS_MSG_PAUSE, .u.pause = {"", 0}});
    uint64_t ids[] = {0, 1, 255, UINT32_MAX, (uint64_t)INT64_MAX + 1, UINT64_MAX};
    for (size_t i = 0; i < RS_ARRAY_LEN(ids); i++)
        round_trip(&(rs_msg_t){.type = RS_MSG_CANCEL, .u.cancel = ids[i]});
    round_trip(&(rs_msg_t){.type = RS_MSG_DRAIN});
}

static void test_roundtrip_task(void **state)
{
    rs_case_t cases[] = {sample_case(0, false), sample_case(1, true),
                         sample_case(UINT64_MAX, false)};
    rs_msg_t m = {.type = RS_MSG_TASK};
    m.u.task = (rs_task_t){UINT64_MAX, 7, 30000, cases, RS_ARRAY_LEN(cases)};
    round_trip(&m);
    m.u.task = (rs_task_t){1, 0, 1, NULL, 0}; /* no cases at all */
    round_trip(&m);
}

static void test_roundtrip_result(void **state)
{
    rs_case_result_t cases[] = {
        sample_case_result(0, 0), sample_case_result(9, 1), {UINT64_MAX, 0, "", 0}};
    rs_msg_t m = {.type = RS_MSG_RESULT};
    m.u.result = (rs_result_t){5, UINT64_MAX, cases, RS_ARRAY_LEN(cases), "{\"m\":{\"calls\":3}}", 17};
    round_trip(&m);
    m.u.result = (rs_result_t){5, 6, NULL, 0, NULL, 0};
    round_trip(&m);
}

static bool has_bytes(const rs_buf_t *b, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i + n <= b->len; i++)
        if (memcmp(b->data + i, s, n) == 0) return true;
    return false;
}

/* RESULT's "spans" key is reserved: written as an empty array, since version-1 coordinators
 * require it. (Frames of older workers that filled it decode: test_result_json_as_bin and the
 * JSON frames below; a value that is not an array of strings is still refused.) */
static void test_result_spans_reserved(void **state)
{
    (void)state;
    rs_buf_t b;
    rs_buf_init(&b);
    rs_proto_encode_result(&b, &(rs_result_t){1, 2, NULL, 0, NULL, 0});
    assert_true(has_bytes(&b, "\xa5spans\x90")); /* fixstr "spans", then an empty fixarray */
    rs_buf_cleanup(&b);
}

/* A case's prompt variant, epoch and cluster (docs/EXPERIMENTS.md) travel when set and are left
 * out when 0 / NULL (the frame of a run without them is the one it always was); a variant or
 * epoch beyond the config's bounds is refused. */
static void test_task_unit_fields(void **state)
{
    (void)state;
    rs_case_t cases[] = {sample_case(0, false), sample_case(1, false)};
    cases[0].variant = 3;
    cases[0].epoch = 7;
    cases[0].cluster = "passage-9";
    rs_task_t t = {1, 2, 3000, cases, 1};
    rs_buf_t b;
    rs_msg_t m;
    rs_buf_init(&b);
    rs_proto_encode_task(&b, &t);
    decode_ok(b.data, b.len, &m);
    assert_int_equal(m.u.task.cases[0].variant, 3);
    assert_int_equal(m.u.task.cases[0].epoch, 7);
    assert_string_equal(m.u.task.cases[0].cluster, "passage-9");
    rs_msg_cleanup(&m);

    rs_buf_reset(&b);
    t.cases = &cases[1];
    rs_proto_encode_task(&b, &t);
    assert_false(has_bytes(&b, "variant") || has_bytes(&b, "epoch") || has_bytes(&b, "cluster"));
    decode_ok(b.data, b.len, &m);
    assert_int_equal(m.u.task.cases[0].variant, 0);
    assert_null(m.u.task.cases[0].cluster);
    rs_msg_cleanup(&m);

    rs_buf_reset(&b);
    cases[0].epoch = RS_MAX_EPOCHS; /* epochs run 0 .. RS_MAX_EPOCHS - 1 */
    t.cases = &cases[0];
    rs_proto_encode_task(&b, &t);
    expect_error_buf(&b, NULL);
    rs_buf_reset(&b);
    cases[0].epoch = 0;
    cases[0].variant = RS_MAX_PROMPTS + 1; /* prompt plus RS_MAX_PROMPTS variants at most */
    rs_proto_encode_task(&b, &t);
    expect_error_buf(&b, NULL);
    rs_buf_cleanup(&b);
}

/* A case's raw input is optional: left out of the frame when NULL (so an old worker sees the
 * frame it always saw), kept when set, even empty; old frames without it decode to NULL. */
static void test_task_input_optional(void **state)
{
    rs_case_t cases[] = {sample_case(0, false), sample_case(1, false), sample_case(2, false)};
    cases[1].input = NULL;
    cases[2].input = "";
    rs_task_t t = {1, 2, 3000, cases, 1};
    rs_buf_t b;
    rs_msg_t m;
    rs_buf_init(&b);
    rs_proto_encode_task(&b, &t);
    assert_true(has_bytes(&b, "\xa5input\xbfGr")); /* key, then the text as a 31-byte fixstr */
    decode_ok(b.data, b.len, &m);
    assert_string_equal(m.u.task.cases[0].input, "Grüße! 世界まで何キロ?");
    rs_msg_cleanup(&m);

    rs_buf_reset(&b);
    t.cases = &cases[1];
    rs_proto_encode_task(&b, &t);
    assert_false(has_bytes(&b, "input"));
    assert_true(has_bytes(&b, "\x85\xa3idx")); /* the case map has its 5 required keys only */
    decode_ok(b.data, b.len, &m);
    assert_null(m.u.task.cases[0].input);
    rs_msg_cleanup(&m);

    rs_buf_reset(&b);
    t.cases = &cases[2];
    rs_proto_encode_task(&b, &t);
    decode_ok(b.data, b.len, &m);
    assert_string_equal(m.u.task.cases[0].input, "");
    rs_msg_cleanup(&m);
    rs_buf_cleanup(&b);

    t = (rs_task_t){UINT64_MAX, 7, 30000, cases, RS_ARRAY_LEN(cases)};
    round_trip(&(rs_msg_t){.type = RS_MSG_TASK, .u.task = t});
}

/* A RESULT frame whose json and spans[0] are msgpack bin rather than str (key, value per line). */
static void result_with_bin(rs_buf_t *b, const char *json, size_t len)
{
    msgpack_packer pk;
    rs_buf_reset(b);
    msgpack_packer_init(&pk, b, buf_write);
    msgpack_pack_map(&pk, 6);
    pack_s(&pk, "t"), pack_s(&pk, "RESULT");
    pack_s(&pk, "v"), msgpack_pack_int(&pk, 1);
    pack_s(&pk, "task_id"), msgpack_pack_uint64(&pk, 1);
    pack_s(&pk, "lease"), msgpack_pack_uint64(&pk, 2);
    pack_s(&pk, "cases"), msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 3);
    pack_s(&pk, "idx"), msgpack_pack_uint64(&pk, 0);
    pack_s(&pk, "failed"), msgpack_pack_false(&pk);
    pack_s(&pk, "json"), msgpack_pack_bin_with_body(&pk, json, len);
    pack_s(&pk, "spans"), msgpack_pack_array(&pk, 1), msgpack_pack_bin_with_body(&pk, "{}", 2);
}

/* JSON text may arrive as msgpack bin (some writers pack bytes that way); it decodes the same. */
static void test_result_json_as_bin(void **state)
{
    rs_buf_t b;
    rs_msg_t m;
    rs_buf_init(&b);
    result_with_bin(&b, RAW("{\"a\":1}"));
    decode_ok(b.data, b.len, &m);
    assert_int_equal(m.u.result.cases[0].json_len, 7);
    assert_string_equal(m.u.result.cases[0].json, "{\"a\":1}");
    /* its spans[0], a bin from an older worker, was checked and dropped */
    rs_msg_cleanup(&m);
    result_with_bin(&b, RAW("{\0}")); /* ...but a NUL inside is still refused */
    expect_error_buf(&b, "RESULT: cases[0].json contains a NUL byte");
    rs_buf_cleanup(&b);
}

/* RS_PROTO_MAX_CASES round-trips; one more is refused, for TASK and RESULT alike. */
static void test_max_counts(void **state)
{
    size_t n = RS_PROTO_MAX_CASES + 1;
    rs_case_t *cases = rs_xcalloc(n, sizeof(*cases));
    rs_case_result_t *results = rs_xcalloc(n, sizeof(*results));
    for (size_t i = 0; i < n; i++) {
        cases[i] = sample_case(i, i % 2);
        results[i] = sample_case_result(i, (int)(i % 3 == 0));
    }
    rs_msg_t task = {.type = RS_MSG_TASK, .u.task = {1, 2, 3, cases, RS_PROTO_MAX_CASES}};
    rs_msg_t result = {.type = RS_MSG_RESULT,
                       .u.result = {1, 2, results, RS_PROTO_MAX_CASES}};
    round_trip(&task);
    round_trip(&result);

    rs_buf_t b;
    rs_buf_init(&b);
    task.u.task.n_cases = n;
    rs_proto_encode_task(&b, &task.u.task);
    expect_error_buf(&b, "TASK: cases has 4097 cases; the limit is 4096");
    rs_buf_reset(&b);
    result.u.result.n_cases = n;
    rs_proto_encode_result(&b, &result.u.result);
    expect_error_buf(&b, "RESULT: cases has 4097 cases; the limit is 4096");
    rs_buf_cleanup(&b);
    free(cases);
    free(results);
}

/* ---- Malformed frames --------------------------------------------------------------------- */

/* Every proper prefix of a valid frame is an incomplete msgpack value: each must fail cleanly. */
static void test_truncated_at_every_byte(void **state)
{
    rs_case_t cases[] = {sample_case(0, false), sample_case(1, true)};
    rs_case_result_t results[] = {sample_case_result(0, 0), sample_case_result(1, 1)};
    rs_task_t task = {11, 12, 1000, cases, 2};
    rs_result_t result = {11, 12, results, 2, NULL, 0};
    const char *stats = "{\"m\":{\"retries\":{\"http_429\":1},\"retry_after_ms\":900}}";
    rs_buf_t frames[4];
    for (size_t f = 0; f < 4; f++) rs_buf_init(&frames[f]);
    rs_proto_encode_task(&frames[0], &task);
    rs_proto_encode_result(&frames[1], &result);
    rs_proto_encode_heartbeat(&frames[2], &(rs_heartbeat_t){2, (char *)stats, strlen(stats)});
    rs_proto_encode_pause(&frames[3], &(rs_pause_t){"gpt-4o", 2000});
    for (size_t f = 0; f < 4; f++) {
        /* A copy of exactly len bytes, so ASan sees any read past the end. */
        for (size_t len = 0; len < frames[f].len; len++) {
            char *copy = rs_xmalloc(len);
            memcpy(copy, frames[f].data, len);
            expect_error(copy, len, NULL);
            free(copy);
        }
        rs_msg_t m;
        decode_ok(frames[f].data, frames[f].len, &m);
        rs_msg_cleanup(&m);
        rs_buf_cleanup(&frames[f]);
    }
}

/* One valid document per message type, as JSON; the mutation walk below breaks each field. */
static const char *const VALID_DOCS[] = {
    "{\"t\":\"HELLO\",\"v\":1,\"worker_id\":\"w1\",\"host\":\"h\",\"pid\":12,\"version\":\"0.1\","
    "\"slots\":4}",
    "{\"t\":\"WELCOME\",\"v\":1,\"run_id\":\"r\",\"spec\":\"{}\",\"heartbeat_ms\":1000}",
    "{\"t\":\"CREDIT\",\"v\":1,\"n\":3}",
    "{\"t\":\"HEARTBEAT\",\"v\":1,\"in_flight\":0}",
    "{\"t\":\"HEARTBEAT\",\"v\":1,\"in_flight\":2,\"stats\":\"{}\"}",
    "{\"t\":\"PAUSE\",\"v\":1,\"model\":\"m\",\"ms\":1000}",
    "{\"t\":\"DRAIN\",\"v\":1}",
    "{\"t\":\"CANCEL\",\"v\":1,\"task_id\":9}",
    "{\"t\":\"TASK\",\"v\":1,\"task_id\":1,\"lease\":2,\"deadline_ms\":3000,\"cases\":["
    "{\"idx\":0,\"id\":\"a\",\"msgs\":[[\"system\",\"s\"],[\"user\",\"Q: ü\"]],"
    "\"targets\":[\"x\"],\"tags\":[\"t1\",\"t2\"],\"input\":\"ü\"},"
    "{\"idx\":1,\"id\":\"b\",\"msgs\":[],\"targets\":[],\"tags\":[]}]}",
    "{\"t\":\"RESULT\",\"v\":1,\"task_id\":1,\"lease\":2,\"cases\":["
    "{\"idx\":0,\"failed\":false,\"json\":\"{}\"},{\"idx\":1,\"failed\":true,\"json\":\"[]\"}],"
    "\"spans\":[\"{}\",\"{\\\"a\\\":1}\"],\"stats\":\"{}\"}",
};

/* Keys that may be left out (added after version 1 shipped). */
static bool is_optional_key(const char *key)
{
    return strcmp(key, "input") == 0 || strcmp(key, "stats") == 0;
}

typedef struct walk {
    json_t *root;
    rs_buf_t buf;
    size_t rejected;
} walk_t;

static void expect_rejected(walk_t *w, const char *what)
{
    rs_msg_t m;
    rs_err_t err = {{0}};
    frame_of(&w->buf, w->root);
    if (rs_proto_decode(w->buf.data, w->buf.len, &m, &err) == 0) {
        char *text = json_dumps(w->root, JSON_COMPACT);
        fail_msg("%s was accepted: %s", what, text);
    }
    assert_true(all_zero(&m, sizeof(m)));
    assert_true(err.msg[0] != '\0');
    w->rejected++;
}

static void expect_accepted(walk_t *w)
{
    rs_msg_t m;
    frame_of(&w->buf, w->root);
    decode_ok(w->buf.data, w->buf.len, &m);
    rs_msg_cleanup(&m);
}

/* The schema has no "any" fields: a value of another JSON type is always wrong, and so are -1 in
 * an integer field (none may be negative) and a string holding a NUL. */
static bool must_reject(json_t *orig, json_t *repl)
{
    json_type a = json_typeof(orig), b = json_typeof(repl);
    if (a == JSON_FALSE) a = JSON_TRUE;
    if (b == JSON_FALSE) b = JSON_TRUE;
    if (a != b) return true;
    if (a == JSON_INTEGER) return json_integer_value(repl) < 0;
    if (a == JSON_STRING) return memchr(json_string_value(repl), '\0', json_string_length(repl));
    return false;
}

/* Replaces orig (found at parent[key] or parent[idx]) by each candidate in turn. */
static void replace_each(walk_t *w, json_t *parent, const char *key, size_t idx, json_t *orig)
{
    json_t *cands[] = {json_null(),    json_true(),      json_integer(7),         json_integer(-1),
                       json_real(1.5), json_string("x"), json_stringn("a\0b", 3), json_array(),
                       json_object()};
    json_incref(orig);
    for (size_t i = 0; i < RS_ARRAY_LEN(cands); i++) {
        if (must_reject(orig, cands[i])) {
            if (key)
                json_object_set(parent, key, cands[i]);
            else
                json_array_set(parent, idx, cands[i]);
            expect_rejected(w, key ? key : "an array item");
        }
        json_decref(cands[i]);
    }
    if (key)
        json_object_set(parent, key, orig);
    else
        json_array_set(parent, idx, orig);
    json_decref(orig);
}

static void walk_value(walk_t *w, json_t *v);

static void walk_object(walk_t *w, json_t *obj)
{
    size_t n = json_object_size(obj), i = 0;
    const char **keys = rs_xcalloc(n, sizeof(char *));
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) keys[i++] = key; /* keys stay valid: no key is renamed */
    for (i = 0; i < n; i++) {
        char *k = rs_xstrdup(keys[i]);
        json_t *orig = json_incref(json_object_get(obj, k));
        json_object_del(obj, k); /* every field but an optional one is required */
        if (is_optional_key(k))
            expect_accepted(w);
        else
            expect_rejected(w, k);
        json_object_set(obj, k, orig);
        replace_each(w, obj, k, 0, orig);
        walk_value(w, orig);
        json_decref(orig);
        free(k);
    }
    free(keys);
    /* Unknown keys, however nested, are ignored (forward compatibility). */
    json_object_set_new(obj, "zz_future", J("{\"a\":[1,2.5,{\"b\":null}],\"c\":\"\\u0000\"}"));
    expect_accepted(w);
    json_object_del(obj, "zz_future");
}

static void walk_value(walk_t *w, json_t *v)
{
    if (json_is_object(v)) {
        walk_object(w, v);
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *item = json_array_get(v, i);
            replace_each(w, v, NULL, i, item);
            walk_value(w, json_array_get(v, i));
        }
    }
}

static void test_every_field_wrong(void **state)
{
    size_t total = 0;
    for (size_t d = 0; d < RS_ARRAY_LEN(VALID_DOCS); d++) {
        walk_t w = {.root = J(VALID_DOCS[d])};
        rs_buf_init(&w.buf);
        expect_accepted(&w);
        walk_value(&w, w.root);
        expect_accepted(&w); /* the walk put everything back */
        assert_true(w.rejected > 0);
        total += w.rejected;
        json_decref(w.root);
        rs_buf_cleanup(&w.buf);
    }
    print_message("field walk: %zu broken frames refused\n", total);
}

static void test_error_messages(void **state)
{
    expect_json_error(
        "{\"t\":\"TASK\",\"v\":1,\"task_id\":1,\"lease\":2,\"deadline_ms\":3,\"cases\":"
        "[{\"idx\":0,\"id\":\"a\",\"msgs\":[],\"targets\":[],\"tags\":[]},"
        "{\"idx\":1,\"id\":\"a\",\"msgs\":[],\"targets\":[],\"tags\":[]},"
        "{\"idx\":2,\"id\":\"a\",\"msgs\":[],\"targets\":[],\"tags\":[]},"
        "{\"idx\":3,\"id\":\"a\",\"msgs\":[[\"user\"]],\"targets\":[],\"tags\":[]}]}",
        "TASK: cases[3].msgs[0] must be an array of 2 strings [role, content]");
    expect_json_error(
        "{\"t\":\"TASK\",\"v\":1,\"task_id\":1,\"lease\":2,\"deadline_ms\":3,\"cases\":"
        "[{\"idx\":0,\"id\":\"a\",\"msgs\":[[\"user\",\"a\\u0000b\"]],\"targets\":[],"
        "\"tags\":[]}]}",
        "TASK: cases[0].msgs[0][1] contains a NUL byte");
    expect_json_error(
        "{\"t\":\"TASK\",\"v\":1,\"task_id\":1,\"lease\":2,\"deadline_ms\":3,\"cases\":"
        "[{\"idx\":0,\"id\":\"a\",\"msgs\":[],\"targets\":[\"x\",7],\"tags\":[]}]}",
        "TASK: cases[0].targets[1] must be a string, not an integer");
    expect_json_error(
        "{\"t\":\"TASK\",\"v\":1,\"task_id\":1,\"lease\":2,\"deadline_ms\":3,\"cases\":"
        "[{\"idx\":0,\"msgs\":[],\"targets\":[],\"tags\":[]}]}",
        "TASK: cases[0].id is required");
    expect_json_error(
        "{\"t\":\"TASK\",\"v\":1,\"task_id\":1,\"lease\":2,\"deadline_ms\":3,\"cases\":"
        "[{\"idx\":0,\"id\":\"a\",\"msgs\":[],\"targets\":[],\"tags\":[],\"input\":7}]}",
        "TASK: cases[0].input must be a string, not an integer");
    expect_json_error(
        "{\"t\":\"TASK\",\"v\":1,\"task_id\":1,\"lease\":2,\"deadline_ms\":3,\"cases\":"
        "[{\"idx\":0,\"id\":\"a\",\"msgs\":[],\"targets\":[],\"tags\":[],"
        "\"input\":\"a\\u0000b\"}]}",
        "TASK: cases[0].input contains a NUL byte");
    expect_json_error("{\"t\":\"TASK\",\"v\":1,\"task_id\":1,\"lease\":2,\"deadline_ms\":0,"
                      "\"cases\":[]}",
                      "TASK: deadline_ms must be at least 1, not 0");
    expect_json_error("{\"t\":\"TASK\",\"v\":1,\"task_id\":-1,\"lease\":2,\"deadline_ms\":1,"
                      "\"cases\":[]}",
                      "TASK: task_id must be a non-negative integer, not a negative integer");
    expect_json_error("{\"t\":\"TASK\",\"v\":1,\"task_id\":1,\"lease\":2,\"deadline_ms\":1,"
                      "\"cases\":[7]}",
                      "TASK: cases[0] must be a map, not an integer");
    expect_json_error("{\"t\":\"RESULT\",\"v\":1,\"task_id\":1,\"lease\":2,\"spans\":[],\"cases\":"
                      "[{\"idx\":0,\"failed\":false,\"json\":\"{}\"},"
                      "{\"idx\":1,\"failed\":1,\"json\":\"{}\"}]}",
                      "RESULT: cases[1].failed must be a boolean, not an integer");
    expect_json_error("{\"t\":\"RESULT\",\"v\":1,\"task_id\":1,\"lease\":2,\"cases\":[],"
                      "\"spans\":[\"{}\",null]}",
                      "RESULT: spans[1] must be a string, not nil");
    expect_json_error("{\"t\":\"HELLO\",\"v\":1,\"worker_id\":\"w\",\"host\":\"h\",\"pid\":1,"
                      "\"version\":\"1\",\"slots\":-1}",
                      "HELLO: slots must be at least 0, not -1");
    expect_json_error("{\"t\":\"HELLO\",\"v\":1,\"worker_id\":\"w\",\"host\":\"h\",\"pid\":1,"
                      "\"version\":\"1\"}",
                      "HELLO: slots is required");
    expect_json_error("{\"t\":\"CREDIT\",\"v\":1,\"n\":-5}",
                      "CREDIT: n must be at least 0, not -5");
    expect_json_error("{\"t\":\"CREDIT\",\"v\":1,\"n\":1.0}",
                      "CREDIT: n must be an integer, not a float");
    expect_json_error("{\"t\":\"WELCOME\",\"v\":1,\"run_id\":\"r\",\"spec\":{},\"heartbeat_ms\":1}",
                      "WELCOME: spec must be a string, not a map");
    expect_json_error("{\"t\":\"FOO\",\"v\":1}", "unknown message type 'FOO'");
    expect_json_error("{\"t\":\"TASK\\u0000\\n\\u00ff\",\"v\":1}",
                      "unknown message type 'TASK??\?\?'"); /* ÿ is two bytes */
    expect_json_error("{\"t\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"v\":1}",
                      "unknown message type 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA...'");
    expect_json_error("{\"t\":7,\"v\":1}", "message type 't' must be a string, not an integer");
    expect_json_error("{\"v\":1}", "frame has no message type 't'");
    expect_json_error("{\"t\":\"DRAIN\",\"v\":2}",
                      "unsupported protocol version 2 (this build speaks 1)");
    expect_json_error("{\"t\":\"DRAIN\",\"v\":-1}",
                      "unsupported protocol version -1 (this build speaks 1)");
    expect_json_error("{\"t\":\"DRAIN\",\"v\":\"1\"}",
                      "protocol version 'v' must be an integer, not a string");
    expect_json_error("{\"t\":\"DRAIN\"}", "frame has no protocol version 'v'");
    expect_json_error("[1,2,3]", "frame must be a msgpack map, not an array");
    expect_json_error("\"HELLO\"", "frame must be a msgpack map, not a string");
    expect_json_error("null", "frame must be a msgpack map, not nil");
    expect_json_error("42", "frame must be a msgpack map, not an integer");
}

/* Frames JSON cannot express: duplicate and non-string keys, raw headers, trailing bytes. */
static void test_raw_frames(void **state)
{
    rs_msg_t m;
    expect_error("", 0, "empty frame");
    expect_error(RAW("\xc1"), "invalid msgpack byte 0xc1 at byte 0");
    expect_error(RAW("\x81\xa1t\xc1"), "invalid msgpack byte 0xc1 at byte 3");
    decode_ok(RAW("\x82\xa1t\xa5"
                  "DRAIN\xa1v\x01"),
              &m);
    assert_int_equal(m.type, RS_MSG_DRAIN);
    rs_msg_cleanup(&m);
    expect_error(RAW("\x82\xa1t\xa5"
                     "DRAIN\xa1v\x01\x00"),
                 "trailing bytes after the message (1 of 13)");
    expect_error(RAW("\x84\xa1t\xa6"
                     "CREDIT\xa1v\x01\xa1n\x05\xa1n\x06"),
                 "CREDIT: n appears twice");
    expect_error(RAW("\x83\xa1t\xa5"
                     "DRAIN\xa1v\x01\xa1t\xa5"
                     "DRAIN"),
                 "frame has two 't' keys");
    expect_error(RAW("\x83\xa1t\xa5"
                     "DRAIN\xa1v\x01\xa1v\x01"),
                 "frame has two 'v' keys");
    expect_error(RAW("\x83\xa1t\xa5"
                     "DRAIN\xa1v\x01\x07\x07"),
                 "DRAIN: frame has a key that is an integer, not a string");
    /* An unknown key whose value is of a type we never use, here an ext, is still skipped. */
    decode_ok(RAW("\x83\xa1t\xa5"
                  "DRAIN\xa1v\x01\xa1x\xd4\x01\x02"),
              &m);
    rs_msg_cleanup(&m);

    char *big = rs_xmalloc(RS_PROTO_MAX_FRAME + 1); /* never read: the size check comes first */
    expect_error(big, RS_PROTO_MAX_FRAME + 1, "frame of 67108865 bytes exceeds the 64 MiB limit");
    free(big);
}

/* Headers that declare more than the frame holds are refused before msgpack-c allocates for them
 * (it would otherwise ask for count * 24 bytes up front: 96 GiB for the first frame here). */
static void test_hostile_headers(void **state)
{
    const char *msg = "truncated or corrupt frame: the value at byte 0 runs past the end";
    expect_error(RAW("\xdd\xff\xff\xff\xff"), msg);
    expect_error(RAW("\xdf\xff\xff\xff\xff"), msg);
    expect_error(RAW("\xdb\xff\xff\xff\xff"), msg);
    expect_error(RAW("\xc6\xff\xff\xff\xff"), msg);
    expect_error(RAW("\xc9\xff\xff\xff\xff\x01"), msg);
    expect_error(RAW("\xdd\x00\x00"), msg);
    expect_error(RAW("\x9f"), msg);
    expect_error(RAW("\x8f\xc0\xc0"), msg);
    /* A well-formed start whose cases array claims 2^32-1 items. */
    expect_error(RAW("\x86\xa1t\xa4TASK\xa1v\x01\xa5"
                     "cases\xdd\xff\xff\xff\xff\x00\x00"),
                 "truncated or corrupt frame: the value at byte 17 runs past the end");
}

/* Builds {"t":"DRAIN","v":1,"x":X} where X is n nested single-item arrays around a 1. */
static void nested_frame(rs_buf_t *b, int n)
{
    msgpack_packer pk;
    rs_buf_reset(b);
    msgpack_packer_init(&pk, b, buf_write);
    msgpack_pack_map(&pk, 3);
    pack_s(&pk, "t"), pack_s(&pk, "DRAIN"), pack_s(&pk, "v"), msgpack_pack_int(&pk, 1);
    pack_s(&pk, "x");
    for (int i = 0; i < n; i++)
        msgpack_pack_array(&pk, 1);
    msgpack_pack_int(&pk, 1);
}

static void test_limits_depth_and_values(void **state)
{
    rs_buf_t b;
    rs_msg_t m;
    rs_buf_init(&b);
    nested_frame(&b, RS_PROTO_MAX_DEPTH - 1); /* with the top-level map: exactly the limit */
    decode_ok(b.data, b.len, &m);
    rs_msg_cleanup(&m);
    nested_frame(&b, RS_PROTO_MAX_DEPTH);
    expect_error_buf(&b, "frame nests deeper than 16 levels at byte 29");
    nested_frame(&b, 1000);
    expect_error_buf(&b, "frame nests deeper than 16 levels at byte 29");

    /* {"t":"DRAIN","v":1,"x":[nil * RS_PROTO_MAX_VALUES]}: 1 + 4 + 2 + N values, too many. */
    rs_buf_reset(&b);
    rs_buf_append(&b, RAW("\x83\xa1t\xa5"
                          "DRAIN\xa1v\x01\xa1x\xdd")); /* 15 bytes */
    unsigned char be[4] = {RS_PROTO_MAX_VALUES >> 24, (RS_PROTO_MAX_VALUES >> 16) & 0xff,
                           (RS_PROTO_MAX_VALUES >> 8) & 0xff, RS_PROTO_MAX_VALUES & 0xff};
    rs_buf_append(&b, be, 4);
    rs_buf_reserve(&b, RS_PROTO_MAX_VALUES);
    memset(b.data + b.len, 0xc0, RS_PROTO_MAX_VALUES);
    b.len += RS_PROTO_MAX_VALUES;
    expect_error_buf(&b, "frame holds more than 4194304 values");
    /* Drop enough nils (and shrink the count) to land exactly on the limit: accepted. */
    size_t n = RS_PROTO_MAX_VALUES - 7;
    unsigned char be2[4] = {n >> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff};
    memcpy(b.data + 15, be2, 4);
    b.len = 19 + n;
    decode_ok(b.data, b.len, &m);
    rs_msg_cleanup(&m);
    rs_buf_cleanup(&b);
}

/* ---- Mutation fuzz ------------------------------------------------------------------------ */

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64*: deterministic, so a failure reproduces with the same iteration number. */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static const unsigned char INTERESTING[] = {
    0x00, 0x01, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc6, 0xc7,
    0xca, 0xcb, 0xcc, 0xcf, 0xd3, 0xd4, 0xd8, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff};

/* Applies one random edit to buf (len bytes, capacity cap) and returns the new length. */
static size_t mutate(unsigned char *buf, size_t len, size_t cap, uint64_t *s)
{
    uint64_t r = rng_next(s);
    size_t pos = len ? (size_t)(rng_next(s) % len) : 0;
    switch (r % 5) {
    case 0:
        if (len) buf[pos] ^= (unsigned char)(1u << (r >> 8) % 8);
        break;
    case 1:
        if (len) buf[pos] = INTERESTING[(r >> 8) % sizeof(INTERESTING)];
        break;
    case 2:
        if (len < cap) {
            memmove(buf + pos + 1, buf + pos, len - pos);
            buf[pos] = (unsigned char)(r >> 8);
            len++;
        }
        break;
    case 3:
        if (len) {
            memmove(buf + pos, buf + pos + 1, len - pos - 1);
            len--;
        }
        break;
    case 4: /* a large length or count */
        for (size_t i = pos; i < len && i < pos + 4; i++)
            buf[i] = 0xff;
        break;
    }
    return len;
}

static void test_mutation_fuzz(void **state)
{
    rs_case_t cases[] = {sample_case(0, false), sample_case(1, true)};
    rs_case_result_t results[] = {sample_case_result(0, 0), sample_case_result(1, 1)};
    rs_msg_t seeds[] = {
        {.type = RS_MSG_TASK, .u.task = {11, 12, 1000, cases, 2}},
        {.type = RS_MSG_RESULT, .u.result = {11, 12, results, 2}},
        {.type = RS_MSG_HELLO, .u.hello = {"w-1", "host", 42, "0.1.0", 8}},
        {.type = RS_MSG_WELCOME, .u.welcome = {"run", "{\"a\":[1,2]}", 1000}},
        {.type = RS_MSG_CREDIT, .u.credit = 3},
        {.type = RS_MSG_CANCEL, .u.cancel = 77},
    };
    rs_buf_t frames[RS_ARRAY_LEN(seeds)], again;
    size_t cap = 0;
    for (size_t i = 0; i < RS_ARRAY_LEN(seeds); i++) {
        rs_buf_init(&frames[i]);
        encode_any(&frames[i], &seeds[i]);
        if (frames[i].len > cap) cap = frames[i].len;
    }
    cap += 16;
    unsigned char *buf = rs_xmalloc(cap);
    rs_buf_init(&again);
    uint64_t s = 0x9E3779B97F4A7C15ULL;
    size_t accepted = 0, iterations = 200000;
    for (size_t it = 0; it < iterations; it++) {
        const rs_buf_t *f = &frames[rng_next(&s) % RS_ARRAY_LEN(seeds)];
        size_t len = f->len;
        memcpy(buf, f->data, len);
        for (uint64_t k = 1 + rng_next(&s) % 4; k > 0; k--)
            len = mutate(buf, len, cap, &s);
        rs_msg_t m, m2;
        rs_err_t err = {{0}};
        unsigned char *exact = rs_xmalloc(len); /* exactly len bytes: ASan sees any overread */
        memcpy(exact, buf, len);
        int rc = rs_proto_decode(exact, len, &m, &err);
        free(exact);
        if (rc < 0) {
            if (err.msg[0] == '\0' || !all_zero(&m, sizeof(m))) fail_msg("iteration %zu", it);
            continue;
        }
        /* Whatever decodes must survive encode -> decode unchanged. */
        accepted++;
        rs_buf_reset(&again);
        encode_any(&again, &m);
        decode_ok(again.data, again.len, &m2);
        assert_msg_equal(&m, &m2);
        rs_msg_cleanup(&m2);
        rs_msg_cleanup(&m);
    }
    /* Sanity: flips inside string bodies keep frames valid, so some must decode. */
    assert_true(accepted > 1000 && accepted < iterations);
    print_message("fuzz: %zu of %zu mutated frames decoded\n", accepted, iterations);
    for (size_t i = 0; i < RS_ARRAY_LEN(seeds); i++)
        rs_buf_cleanup(&frames[i]);
    rs_buf_cleanup(&again);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_roundtrip_small_messages),
        cmocka_unit_test(test_roundtrip_task),
        cmocka_unit_test(test_task_input_optional),
        cmocka_unit_test(test_task_unit_fields),
        cmocka_unit_test(test_roundtrip_result),
        cmocka_unit_test(test_result_spans_reserved),
        cmocka_unit_test(test_result_json_as_bin),
        cmocka_unit_test(test_max_counts),
        cmocka_unit_test(test_truncated_at_every_byte),
        cmocka_unit_test(test_every_field_wrong),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_raw_frames),
        cmocka_unit_test(test_hostile_headers),
        cmocka_unit_test(test_limits_depth_and_values),
        cmocka_unit_test(test_mutation_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
