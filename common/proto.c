/* proto: encodes and decodes the coordinator <-> worker messages, one msgpack map per frame.
 * One field table per message drives the encoder, the decoder and the cleanup, so the three cannot
 * disagree on a key. Decoding is the network trust boundary: it checks every type, length and
 * bound, and never trusts a declared count. */
#include "proto.h"

#include <assert.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Field tables ------------------------------------------------------------------------- */

typedef enum fkind {
    K_U64,    /* uint64_t */
    K_I64,    /* int64_t, at least field.min */
    K_U32,    /* uint32_t, at most field.max */
    K_BOOL,   /* int, 0 or 1 */
    K_STR,    /* char *: text, NUL-terminated, no embedded NUL */
    K_JSON,   /* char * plus its size_t length at len_off; str or bin on the wire */
    K_STRS,   /* char ** plus its size_t count at len_off: an array of K_STR */
    K_RECORDS, /* an array of structs (pointer at off, size_t count at len_off), each a map of
                  the field's record table: TASK's and RESULT's cases */
    K_NESTED, /* any other shape, handled by the field's hooks (a case's msgs, as pairs) */
    K_RESERVED, /* no member: written as an empty array for peers that require the key; on
                   decoding checked as an array of JSON texts (str or bin) and dropped */
} fkind_t;

typedef struct dec dec_t;

/* Hooks for a K_NESTED field; base is the struct that holds the field. */
typedef struct nested {
    int (*decode)(dec_t *d, const msgpack_object *o, void *base);
    void (*encode)(msgpack_packer *pk, const void *base);
    void (*release)(void *base);
} nested_t;

typedef struct field {
    const char *key;
    size_t key_len;
    fkind_t kind;
    size_t off;     /* offset of the value in its struct */
    size_t len_off; /* K_JSON, K_STRS: offset of the size_t length or count */
    int64_t min;    /* K_I64: smallest value accepted */
    uint32_t max;   /* K_U32: largest value accepted */
    const nested_t *nested;
    const struct field *rec_fields; /* K_RECORDS: the table of one record, n_rec_fields long */
    size_t n_rec_fields, rec_size;  /* ...and sizeof one record */
    /* May be absent on the wire (added after version 1 shipped): decoding leaves it NULL, and
     * encoding leaves out a NULL one. Only pointer kinds (K_STR, K_JSON) and K_U32 (absent
     * means 0, and a 0 is left out) can be optional. */
    int optional;
} field_t;

#define MAX_FIELDS 10/* the most fields any one map has; find_fields relies on it */

/* One table row per line reads best, so the formatter keeps out of the macros and tables. */
/* clang-format off */
#define KEY(k) .key = (k), .key_len = sizeof(k) - 1
#define F_U64(k, o) {KEY(k), .kind = K_U64, .off = (o)}
#define F_I64(k, o, lo) {KEY(k), .kind = K_I64, .off = (o), .min = (lo)}
#define F_BOOL(k, o) {KEY(k), .kind = K_BOOL, .off = (o)}
#define F_STR(k, o) {KEY(k), .kind = K_STR, .off = (o)}
#define F_JSON(k, o, n) {KEY(k), .kind = K_JSON, .off = (o), .len_off = (n)}
#define F_STRS(k, o, n) {KEY(k), .kind = K_STRS, .off = (o), .len_off = (n)}
#define F_U32_OPT(k, o, hi) {KEY(k), .kind = K_U32, .off = (o), .max = (hi), .optional = 1}
#define F_STR_OPT(k, o) {KEY(k), .kind = K_STR, .off = (o), .optional = 1}
#define F_JSON_OPT(k, o, n) {KEY(k), .kind = K_JSON, .off = (o), .len_off = (n), .optional = 1}
#define F_RECORDS(k, o, n, T, tab) {KEY(k), .kind = K_RECORDS, .off = (o), .len_off = (n), .rec_fields = (tab), .n_rec_fields = RS_ARRAY_LEN(tab), .rec_size = sizeof(T)}
#define F_NESTED(k, h) {KEY(k), .kind = K_NESTED, .nested = &(h)}
#define F_RESERVED(k) {KEY(k), .kind = K_RESERVED}
#define OF(T, m) offsetof(T, m)

#define MEMBER(base, off, T) ((T *)(void *)((char *)(base) + (off)))
#define CMEMBER(base, off, T) ((const T *)(const void *)((const char *)(base) + (off)))
typedef char **strv_t; /* so CMEMBER(.., strv_t) reads char **const *, not const char *** */

static const nested_t CASE_MSGS;

static const field_t HELLO_FIELDS[] = {
    F_STR("worker_id", OF(rs_hello_t, worker_id)),
    F_STR("host", OF(rs_hello_t, host)),
    F_I64("pid", OF(rs_hello_t, pid), 0),
    F_STR("version", OF(rs_hello_t, version)),
    F_I64("slots", OF(rs_hello_t, slots), 0),
};

static const field_t WELCOME_FIELDS[] = {
    F_STR("run_id", OF(rs_welcome_t, run_id)),
    F_STR("spec", OF(rs_welcome_t, spec)),
    F_I64("heartbeat_ms", OF(rs_welcome_t, heartbeat_ms), 1),
};

/* CREDIT and CANCEL carry one scalar, stored directly in the union (offset 0). */
static const field_t CREDIT_FIELDS[] = {F_I64("n", 0, 0)};
static const field_t CANCEL_FIELDS[] = {F_U64("task_id", 0)};

static const field_t HEARTBEAT_FIELDS[] = {
    F_I64("in_flight", OF(rs_heartbeat_t, in_flight), 0),
    F_JSON_OPT("stats", OF(rs_heartbeat_t, stats), OF(rs_heartbeat_t, stats_len)),
};

static const field_t PAUSE_FIELDS[] = {
    F_STR("model", OF(rs_pause_t, model)),
    F_I64("ms", OF(rs_pause_t, ms), 0),
};

static const field_t CASE_FIELDS[] = {
    F_U64("idx", OF(rs_case_t, idx)),
    F_STR("id", OF(rs_case_t, id)),
    F_NESTED("msgs", CASE_MSGS),
    F_STRS("targets", OF(rs_case_t, targets), OF(rs_case_t, n_targets)),
    F_STRS("tags", OF(rs_case_t, tags), OF(rs_case_t, n_tags)),
    F_STR_OPT("input", OF(rs_case_t, input)),
    F_U32_OPT("variant", OF(rs_case_t, variant), RS_MAX_PROMPTS),
    F_U32_OPT("epoch", OF(rs_case_t, epoch), RS_MAX_EPOCHS - 1),
    F_STR_OPT("cluster", OF(rs_case_t, cluster)),
};

static const field_t TASK_FIELDS[] = {
    F_U64("task_id", OF(rs_task_t, task_id)),
    F_U64("lease", OF(rs_task_t, lease)),
    F_I64("deadline_ms", OF(rs_task_t, deadline_ms), 1),
    F_RECORDS("cases", OF(rs_task_t, cases), OF(rs_task_t, n_cases), rs_case_t, CASE_FIELDS),
};

static const field_t CASE_RESULT_FIELDS[] = {
    F_U64("idx", OF(rs_case_result_t, idx)),
    F_BOOL("failed", OF(rs_case_result_t, failed)),
    F_JSON("json", OF(rs_case_result_t, json), OF(rs_case_result_t, json_len)),
};

static const field_t RESULT_FIELDS[] = {
    F_U64("task_id", OF(rs_result_t, task_id)),
    F_U64("lease", OF(rs_result_t, lease)),
    F_RECORDS("cases", OF(rs_result_t, cases), OF(rs_result_t, n_cases), rs_case_result_t,
              CASE_RESULT_FIELDS),
    F_RESERVED("spans"), /* version 1 carried span records here; they travel in the records */
    F_JSON_OPT("stats", OF(rs_result_t, stats), OF(rs_result_t, stats_len)),
};

typedef struct msg_def {
    const char *name;
    const field_t *fields;
    size_t n_fields;
} msg_def_t;

#define MSG_DEF(name, f) {name, f, RS_ARRAY_LEN(f)}

/* Indexed by rs_msg_type_t; the body of every type lives at &rs_msg_t.u. */
static const msg_def_t MSG_DEFS[] = {
    [RS_MSG_HELLO] = MSG_DEF("HELLO", HELLO_FIELDS),
    [RS_MSG_CREDIT] = MSG_DEF("CREDIT", CREDIT_FIELDS),
    [RS_MSG_RESULT] = MSG_DEF("RESULT", RESULT_FIELDS),
    [RS_MSG_HEARTBEAT] = MSG_DEF("HEARTBEAT", HEARTBEAT_FIELDS),
    [RS_MSG_WELCOME] = MSG_DEF("WELCOME", WELCOME_FIELDS),
    [RS_MSG_TASK] = MSG_DEF("TASK", TASK_FIELDS),
    [RS_MSG_DRAIN] = {"DRAIN", NULL, 0},
    [RS_MSG_CANCEL] = MSG_DEF("CANCEL", CANCEL_FIELDS),
    [RS_MSG_PAUSE] = MSG_DEF("PAUSE", PAUSE_FIELDS),
};
/* clang-format on */

static const msg_def_t *msg_def(rs_msg_type_t t)
{
    if ((size_t)t >= RS_ARRAY_LEN(MSG_DEFS) || !MSG_DEFS[t].name) return NULL;
    return &MSG_DEFS[t];
}

const char *rs_msg_type_name(rs_msg_type_t t)
{
    const msg_def_t *def = msg_def(t);
    return def ? def->name : "UNKNOWN";
}

/* ---- Cleanup ------------------------------------------------------------------------------ */

static void free_strs(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* A K_RECORDS field's array (its member is a pointer to the record type, read as bytes). */
static char *records_of(const void *base, const field_t *f)
{
    char *items;
    memcpy(&items, CMEMBER(base, f->off, char), sizeof(items));
    return items;
}

static void release_fields(const field_t *fields, size_t n, void *base);

static void release_records(const field_t *f, void *base)
{
    char *items = records_of(base, f);
    size_t n = *MEMBER(base, f->len_off, size_t);
    for (size_t i = 0; i < n; i++)
        release_fields(f->rec_fields, f->n_rec_fields, items + i * f->rec_size);
    free(items);
}

/* Frees what the fields of one struct own; the caller zeroes or frees the struct. */
static void release_fields(const field_t *fields, size_t n, void *base)
{
    for (size_t i = 0; i < n; i++) {
        const field_t *f = &fields[i];
        if (f->kind == K_STR || f->kind == K_JSON) free(*MEMBER(base, f->off, char *));
        if (f->kind == K_STRS)
            free_strs(*MEMBER(base, f->off, char **), *MEMBER(base, f->len_off, size_t));
        if (f->kind == K_RECORDS) release_records(f, base);
        if (f->kind == K_NESTED) f->nested->release(base);
    }
}

void rs_msg_cleanup(rs_msg_t *m)
{
    if (!m) return;
    const msg_def_t *def = msg_def(m->type);
    if (def) release_fields(def->fields, def->n_fields, &m->u);
    memset(m, 0, sizeof(*m));
}

/* ---- Encoding (trusted structs) ----------------------------------------------------------- */

static int buf_write(void *data, const char *bytes, size_t n)
{
    rs_buf_append(data, bytes, n);
    return 0;
}

static void pack_text(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    if (n) msgpack_pack_str_body(pk, s, n);
}

/* NULL encodes as "": a trusted struct may leave an optional string unset. */
static void pack_cstr(msgpack_packer *pk, const char *s)
{
    pack_text(pk, s, s ? strlen(s) : 0);
}

static void pack_strs(msgpack_packer *pk, char *const *v, size_t n)
{
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++)
        pack_cstr(pk, v[i]);
}

static void encode_map(msgpack_packer *pk, const field_t *fields, size_t n, const void *base);

static void encode_records(msgpack_packer *pk, const field_t *f, const void *base)
{
    const char *items = records_of(base, f);
    size_t n = *CMEMBER(base, f->len_off, size_t);
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++)
        encode_map(pk, f->rec_fields, f->n_rec_fields, items + i * f->rec_size);
}

static void encode_value(msgpack_packer *pk, const field_t *f, const void *base)
{
    switch (f->kind) {
    case K_U64:
        msgpack_pack_uint64(pk, *CMEMBER(base, f->off, uint64_t));
        break;
    case K_I64:
        msgpack_pack_int64(pk, *CMEMBER(base, f->off, int64_t));
        break;
    case K_U32:
        msgpack_pack_uint32(pk, *CMEMBER(base, f->off, uint32_t));
        break;
    case K_BOOL:
        if (*CMEMBER(base, f->off, int))
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        break;
    case K_STR:
        pack_cstr(pk, *CMEMBER(base, f->off, char *));
        break;
    case K_JSON:
        pack_text(pk, *CMEMBER(base, f->off, char *), *CMEMBER(base, f->len_off, size_t));
        break;
    case K_STRS:
        pack_strs(pk, *CMEMBER(base, f->off, strv_t), *CMEMBER(base, f->len_off, size_t));
        break;
    case K_RECORDS:
        encode_records(pk, f, base);
        break;
    case K_NESTED:
        f->nested->encode(pk, base);
        break;
    case K_RESERVED:
        msgpack_pack_array(pk, 0);
        break;
    }
}

/* An optional field left NULL is not written, so a peer that does not know it sees nothing new
 * and a message without it costs nothing. */
static bool absent(const field_t *f, const void *base)
{
    assert(!f->optional || f->kind == K_STR || f->kind == K_JSON || f->kind == K_U32);
    if (f->optional && f->kind == K_U32) return *CMEMBER(base, f->off, uint32_t) == 0;
    return f->optional && !*CMEMBER(base, f->off, char *);
}

/* The number of entries encode_entries writes. */
static size_t count_present(const field_t *fields, size_t n, const void *base)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += !absent(&fields[i], base);
    return k;
}

static void encode_entries(msgpack_packer *pk, const field_t *fields, size_t n, const void *base)
{
    for (size_t i = 0; i < n; i++) {
        if (absent(&fields[i], base)) continue;
        pack_text(pk, fields[i].key, fields[i].key_len);
        encode_value(pk, &fields[i], base);
    }
}

static void encode_map(msgpack_packer *pk, const field_t *fields, size_t n, const void *base)
{
    msgpack_pack_map(pk, count_present(fields, n, base));
    encode_entries(pk, fields, n, base);
}

/* One frame: {"t": name, "v": version, fields...}. body points at the message's struct. */
static void encode_msg(rs_buf_t *out, rs_msg_type_t type, const void *body)
{
    const msg_def_t *def = msg_def(type);
    assert(def);
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    msgpack_pack_map(&pk, count_present(def->fields, def->n_fields, body) + 2);
    pack_text(&pk, "t", 1);
    pack_cstr(&pk, def->name);
    pack_text(&pk, "v", 1);
    msgpack_pack_int64(&pk, RS_PROTO_VERSION);
    encode_entries(&pk, def->fields, def->n_fields, body);
}

void rs_proto_encode_hello(rs_buf_t *out, const rs_hello_t *m)
{
    encode_msg(out, RS_MSG_HELLO, m);
}

void rs_proto_encode_welcome(rs_buf_t *out, const rs_welcome_t *m)
{
    encode_msg(out, RS_MSG_WELCOME, m);
}

void rs_proto_encode_task(rs_buf_t *out, const rs_task_t *m)
{
    encode_msg(out, RS_MSG_TASK, m);
}

void rs_proto_encode_result(rs_buf_t *out, const rs_result_t *m)
{
    encode_msg(out, RS_MSG_RESULT, m);
}

void rs_proto_encode_credit(rs_buf_t *out, int64_t n)
{
    encode_msg(out, RS_MSG_CREDIT, &n);
}

void rs_proto_encode_heartbeat(rs_buf_t *out, const rs_heartbeat_t *m)
{
    encode_msg(out, RS_MSG_HEARTBEAT, m);
}

void rs_proto_encode_drain(rs_buf_t *out)
{
    encode_msg(out, RS_MSG_DRAIN, NULL);
}

void rs_proto_encode_cancel(rs_buf_t *out, uint64_t task_id)
{
    encode_msg(out, RS_MSG_CANCEL, &task_id);
}

void rs_proto_encode_pause(rs_buf_t *out, const rs_pause_t *m)
{
    encode_msg(out, RS_MSG_PAUSE, m);
}

/* ---- Decoding: error paths ---------------------------------------------------------------- */

/* Where the decoder is, kept as (key, index) pairs so the text "cases[3].msgs[0]" is only
 * formatted when an error is reported, never on the hot path. */
typedef struct seg {
    const char *key; /* NULL for a bare index, as in msgs[0][1] */
    size_t idx;
    bool has_idx;
} seg_t;

#define MAX_PATH 8

struct dec {
    const char *what; /* message type name, prefixed to every error */
    rs_err_t *err;
    seg_t path[MAX_PATH];
    int depth;
};

static void push(dec_t *d, const char *key)
{
    assert(d->depth < MAX_PATH);
    d->path[d->depth++] = (seg_t){key, 0, false};
}

static void pop(dec_t *d)
{
    d->depth--;
}

static void at_index(dec_t *d, size_t i)
{
    d->path[d->depth - 1].idx = i;
    d->path[d->depth - 1].has_idx = true;
}

/* "TASK: cases[3].msgs[0] must be ...", or "TASK: frame ..." at the top level. Returns -1. */
static int fail(dec_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(dec_t *d, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    rs_buf_t path;
    rs_buf_init(&path);
    for (int i = 0; i < d->depth; i++) {
        const seg_t *s = &d->path[i];
        if (s->key) rs_buf_printf(&path, "%s%s", path.len ? "." : "", s->key);
        if (s->has_idx) rs_buf_printf(&path, "[%zu]", s->idx);
    }
    rs_err_set(d->err, "%s: %s %s", d->what, path.len ? path.data : "frame", what);
    rs_buf_cleanup(&path);
    return -1;
}

static const char *type_name(const msgpack_object *o)
{
    static const char *const NAMES[] = {
        [MSGPACK_OBJECT_NIL] = "nil",
        [MSGPACK_OBJECT_BOOLEAN] = "a boolean",
        [MSGPACK_OBJECT_POSITIVE_INTEGER] = "an integer",
        [MSGPACK_OBJECT_NEGATIVE_INTEGER] = "a negative integer",
        [MSGPACK_OBJECT_FLOAT32] = "a float",
        [MSGPACK_OBJECT_FLOAT64] = "a float",
        [MSGPACK_OBJECT_STR] = "a string",
        [MSGPACK_OBJECT_ARRAY] = "an array",
        [MSGPACK_OBJECT_MAP] = "a map",
        [MSGPACK_OBJECT_BIN] = "bin",
        [MSGPACK_OBJECT_EXT] = "an ext value",
    };
    size_t t = (size_t)o->type;
    return t < RS_ARRAY_LEN(NAMES) && NAMES[t] ? NAMES[t] : "an unknown msgpack type";
}

/* ---- Decoding: structural pre-scan -------------------------------------------------------- */

/* msgpack-c allocates an array's or map's elements as soon as it reads the header, trusting the
 * declared count: a 5-byte frame "dd ff ff ff ff" asks for 96 GiB. So before handing the frame to
 * msgpack_unpack_next we walk it once without allocating, and insist that every declared value
 * could fit in the bytes left (each takes at least one), that nesting and the number of values
 * stay bounded, and that the one top-level value ends exactly at the end of the frame. */

/* Lead bytes 0xc0..0xdf: bytes of length or count that follow, fixed payload bytes, and values
 * per counted element (1 for an array item, 2 for a map entry; 0 when the count is a length). */
typedef struct lead {
    uint8_t valid, len_bytes, fixed, per_item;
} lead_t;

/* clang-format off */
#define LEAD(b) [(b) - 0xc0]
static const lead_t LEADS[32] = {
    LEAD(0xc0) = {1, 0, 0, 0},  /* nil (0xc1 is never used) */
    LEAD(0xc2) = {1, 0, 0, 0},  LEAD(0xc3) = {1, 0, 0, 0},  /* false, true */
    LEAD(0xc4) = {1, 1, 0, 0},  LEAD(0xc5) = {1, 2, 0, 0},  LEAD(0xc6) = {1, 4, 0, 0}, /* bin */
    LEAD(0xc7) = {1, 1, 1, 0},  LEAD(0xc8) = {1, 2, 1, 0},  LEAD(0xc9) = {1, 4, 1, 0}, /* ext */
    LEAD(0xca) = {1, 0, 4, 0},  LEAD(0xcb) = {1, 0, 8, 0},  /* float 32, 64 */
    LEAD(0xcc) = {1, 0, 1, 0},  LEAD(0xcd) = {1, 0, 2, 0},  /* uint 8, 16 */
    LEAD(0xce) = {1, 0, 4, 0},  LEAD(0xcf) = {1, 0, 8, 0},  /* uint 32, 64 */
    LEAD(0xd0) = {1, 0, 1, 0},  LEAD(0xd1) = {1, 0, 2, 0},  /* int 8, 16 */
    LEAD(0xd2) = {1, 0, 4, 0},  LEAD(0xd3) = {1, 0, 8, 0},  /* int 32, 64 */
    LEAD(0xd4) = {1, 0, 2, 0},  LEAD(0xd5) = {1, 0, 3, 0},  /* fixext 1, 2 (+ type byte) */
    LEAD(0xd6) = {1, 0, 5, 0},  LEAD(0xd7) = {1, 0, 9, 0},  /* fixext 4, 8 */
    LEAD(0xd8) = {1, 0, 17, 0}, /* fixext 16 */
    LEAD(0xd9) = {1, 1, 0, 0},  LEAD(0xda) = {1, 2, 0, 0},  LEAD(0xdb) = {1, 4, 0, 0}, /* str */
    LEAD(0xdc) = {1, 2, 0, 1},  LEAD(0xdd) = {1, 4, 0, 1},  /* array 16, 32 */
    LEAD(0xde) = {1, 2, 0, 2},  LEAD(0xdf) = {1, 4, 0, 2},  /* map 16, 32 */
};
/* clang-format on */

static uint64_t read_be(const unsigned char *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static int truncated(rs_err_t *err, size_t at)
{
    return rs_err_set(err, "truncated or corrupt frame: the value at byte %zu runs past the end",
                      at);
}

/* Reads the value header at *pos, skips its payload and returns its child count in *kids. */
static int skip_value(const unsigned char *p, size_t len, size_t *pos, uint64_t *kids,
                      rs_err_t *err)
{
    size_t at = *pos;
    unsigned char b = p[(*pos)++];
    uint64_t payload = 0;
    *kids = 0;
    if (b <= 0x7f || b >= 0xe0) return 0; /* fixint */
    if (b <= 0x8f) {
        *kids = 2u * (b & 0x0fu);
        return 0;
    }
    if (b <= 0x9f) {
        *kids = b & 0x0fu;
        return 0;
    }
    if (b <= 0xbf) {
        payload = b & 0x1fu;
    } else {
        lead_t l = LEADS[b - 0xc0];
        if (!l.valid) return rs_err_set(err, "invalid msgpack byte 0x%02x at byte %zu", b, at);
        if (len - *pos < l.len_bytes) return truncated(err, at);
        uint64_t n = read_be(p + *pos, l.len_bytes);
        *pos += l.len_bytes;
        if (l.per_item) {
            *kids = n * l.per_item;
            return 0;
        }
        payload = n + l.fixed;
    }
    if (payload > len - *pos) return truncated(err, at);
    *pos += (size_t)payload;
    return 0;
}

static int prescan(const unsigned char *p, size_t len, rs_err_t *err)
{
    uint64_t left[RS_PROTO_MAX_DEPTH + 1]; /* values still to read at each open level */
    uint64_t pending = 1;                  /* their sum: each needs at least one more byte */
    size_t pos = 0, values = 0;
    int top = 0;
    left[0] = 1;
    if (len == 0) return rs_err_set(err, "empty frame");
    while (top >= 0) {
        size_t at = pos;
        uint64_t kids;
        if (++values > RS_PROTO_MAX_VALUES)
            return rs_err_set(err, "frame holds more than %u values", RS_PROTO_MAX_VALUES);
        if (skip_value(p, len, &pos, &kids, err) < 0) return -1;
        left[top]--;
        pending--;
        if (kids) {
            if (top == RS_PROTO_MAX_DEPTH)
                return rs_err_set(err, "frame nests deeper than %d levels at byte %zu",
                                  RS_PROTO_MAX_DEPTH, at);
            left[++top] = kids;
            pending += kids;
        }
        if (pending > len - pos) return truncated(err, at);
        while (top >= 0 && left[top] == 0)
            top--;
    }
    if (pos != len)
        return rs_err_set(err, "trailing bytes after the message (%zu of %zu)", len - pos, len);
    return 0;
}

/* ---- Decoding: values --------------------------------------------------------------------- */

static int get_u64(dec_t *d, const msgpack_object *o, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return fail(d, "must be a non-negative integer, not %s", type_name(o));
    *out = o->via.u64;
    return 0;
}

static int get_i64(dec_t *d, const msgpack_object *o, int64_t min, int64_t *out)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
        *out = (int64_t)o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *out = o->via.i64;
    else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return fail(d, "must be at most %" PRId64, INT64_MAX);
    else
        return fail(d, "must be an integer, not %s", type_name(o));
    if (*out < min) return fail(d, "must be at least %" PRId64 ", not %" PRId64, min, *out);
    return 0;
}

/* The bytes of a str (or, when bin_ok, a bin) in *p, *n; an embedded NUL is an error because
 * every consumer treats these as C strings. */
static int check_text(dec_t *d, const msgpack_object *o, bool bin_ok, const char **p, size_t *n)
{
    if (o->type == MSGPACK_OBJECT_STR) {
        *p = o->via.str.ptr;
        *n = o->via.str.size;
    } else if (o->type == MSGPACK_OBJECT_BIN && bin_ok) {
        *p = o->via.bin.ptr;
        *n = o->via.bin.size;
    } else {
        return fail(d, "must be a string, not %s", type_name(o));
    }
    if (*n && memchr(*p, '\0', *n)) return fail(d, "contains a NUL byte");
    return 0;
}

/* Copies a checked str (or bin) out as a NUL-terminated string. */
static int get_text(dec_t *d, const msgpack_object *o, bool bin_ok, char **out, size_t *len)
{
    const char *p = NULL;
    size_t n = 0;
    if (check_text(d, o, bin_ok, &p, &n) < 0) return -1;
    *out = rs_xstrndup(n ? p : "", n);
    if (len) *len = n;
    return 0;
}

/* A K_RESERVED value: what get_texts would accept, copied nowhere. */
static int check_texts(dec_t *d, const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return fail(d, "must be an array of strings, not %s", type_name(o));
    for (size_t i = 0; i < o->via.array.size; i++) {
        const char *p;
        size_t n;
        at_index(d, i);
        if (check_text(d, &o->via.array.ptr[i], true, &p, &n) < 0) return -1;
    }
    return 0;
}

/* An array of strings (str only). The count is set before the items so cleanup after a failure
 * frees exactly what was copied (the rest are NULL). */
static int get_texts(dec_t *d, const msgpack_object *o, char ***out, size_t *n)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return fail(d, "must be an array of strings, not %s", type_name(o));
    size_t count = o->via.array.size;
    *out = count ? rs_xcalloc(count, sizeof(char *)) : NULL;
    *n = count;
    for (size_t i = 0; i < count; i++) {
        at_index(d, i);
        if (get_text(d, &o->via.array.ptr[i], false, &(*out)[i], NULL) < 0) return -1;
    }
    return 0;
}

static int decode_records(dec_t *d, const field_t *f, const msgpack_object *o, void *base);

static int decode_value(dec_t *d, const field_t *f, const msgpack_object *o, void *base)
{
    switch (f->kind) {
    case K_U64:
        return get_u64(d, o, MEMBER(base, f->off, uint64_t));
    case K_I64:
        return get_i64(d, o, f->min, MEMBER(base, f->off, int64_t));
    case K_U32: {
        uint64_t v = 0;
        if (get_u64(d, o, &v) < 0) return -1;
        if (v > f->max) return fail(d, "must be at most %u (got %" PRIu64 ")", f->max, v);
        *MEMBER(base, f->off, uint32_t) = (uint32_t)v;
        return 0;
    }
    case K_BOOL:
        if (o->type != MSGPACK_OBJECT_BOOLEAN)
            return fail(d, "must be a boolean, not %s", type_name(o));
        *MEMBER(base, f->off, int) = o->via.boolean ? 1 : 0;
        return 0;
    case K_STR:
        return get_text(d, o, false, MEMBER(base, f->off, char *), NULL);
    case K_JSON:
        return get_text(d, o, true, MEMBER(base, f->off, char *), MEMBER(base, f->len_off, size_t));
    case K_STRS:
        return get_texts(d, o, MEMBER(base, f->off, char **), MEMBER(base, f->len_off, size_t));
    case K_RECORDS:
        return decode_records(d, f, o, base);
    case K_NESTED:
        return f->nested->decode(d, o, base);
    case K_RESERVED:
        return check_texts(d, o);
    }
    return fail(d, "has no decoder"); /* unreachable: every kind is handled above */
}

static bool key_is(const msgpack_object *k, const char *name, size_t len)
{
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == len &&
           memcmp(k->via.str.ptr, name, len) == 0;
}

/* One pass over the map's entries, each compared with the (at most MAX_FIELDS) known keys.
 * Unknown keys are skipped for forward compatibility; a known key twice is an error, since two
 * readers that keep different copies would disagree. Every known key but an optional one is
 * required. */
static int find_fields(dec_t *d, const msgpack_object *o, const field_t *fields, size_t n,
                       const msgpack_object **vals)
{
    if (o->type != MSGPACK_OBJECT_MAP) return fail(d, "must be a map, not %s", type_name(o));
    for (size_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR)
            return fail(d, "has a key that is %s, not a string", type_name(&kv->key));
        for (size_t j = 0; j < n; j++) {
            if (!key_is(&kv->key, fields[j].key, fields[j].key_len)) continue;
            if (vals[j]) {
                push(d, fields[j].key);
                return fail(d, "appears twice");
            }
            vals[j] = &kv->val;
            break;
        }
    }
    for (size_t j = 0; j < n; j++) {
        if (vals[j] || fields[j].optional) continue;
        push(d, fields[j].key);
        return fail(d, "is required");
    }
    return 0;
}

static int decode_fields(dec_t *d, const msgpack_object *o, const field_t *fields, size_t n,
                         void *base)
{
    const msgpack_object *vals[MAX_FIELDS] = {0};
    assert(n <= MAX_FIELDS);
    if (find_fields(d, o, fields, n, vals) < 0) return -1;
    for (size_t i = 0; i < n; i++) {
        if (!vals[i]) continue; /* an optional field that is absent stays zero */
        push(d, fields[i].key);
        if (decode_value(d, &fields[i], vals[i], base) < 0) return -1;
        pop(d);
    }
    return 0;
}

/* ---- Arrays of records (TASK and RESULT cases) and a case's msgs ------------------------- */

/* The array is checked and its zeroed records allocated, the count set first (see get_texts), so
 * that a record failing part way is released with the rest; then each record is its table's map. */
static int decode_records(dec_t *d, const field_t *f, const msgpack_object *o, void *base)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return fail(d, "must be an array of maps, not %s", type_name(o));
    if (o->via.array.size > RS_PROTO_MAX_CASES)
        return fail(d, "has %" PRIu32 " %s; the limit is %d", o->via.array.size, f->key,
                    RS_PROTO_MAX_CASES);
    size_t n = o->via.array.size;
    char *items = n ? rs_xcalloc(n, f->rec_size) : NULL;
    *MEMBER(base, f->len_off, size_t) = n;
    memcpy(MEMBER(base, f->off, char), &items, sizeof(items));
    for (size_t i = 0; i < n; i++) {
        at_index(d, i);
        if (decode_fields(d, &o->via.array.ptr[i], f->rec_fields, f->n_rec_fields,
                          items + i * f->rec_size) < 0)
            return -1;
    }
    return 0;
}

static bool is_pair_of_strings(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size == 2 &&
           o->via.array.ptr[0].type == MSGPACK_OBJECT_STR &&
           o->via.array.ptr[1].type == MSGPACK_OBJECT_STR;
}

/* msgs is [[role, content], ...]: pairs rather than maps keep a long chat compact. */
static int decode_msgs(dec_t *d, const msgpack_object *o, void *base)
{
    rs_case_t *c = base;
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return fail(d, "must be an array of [role, content] pairs, not %s", type_name(o));
    c->n_msgs = o->via.array.size;
    c->msgs = c->n_msgs ? rs_xcalloc(c->n_msgs, sizeof(rs_chat_msg_t)) : NULL;
    for (size_t i = 0; i < c->n_msgs; i++) {
        const msgpack_object *pair = &o->via.array.ptr[i];
        at_index(d, i);
        if (!is_pair_of_strings(pair))
            return fail(d, "must be an array of 2 strings [role, content]");
        push(d, NULL);
        at_index(d, 0);
        if (get_text(d, &pair->via.array.ptr[0], false, &c->msgs[i].role, NULL) < 0) return -1;
        at_index(d, 1);
        if (get_text(d, &pair->via.array.ptr[1], false, &c->msgs[i].content, NULL) < 0) return -1;
        pop(d);
    }
    return 0;
}

static void encode_msgs(msgpack_packer *pk, const void *base)
{
    const rs_case_t *c = base;
    msgpack_pack_array(pk, c->n_msgs);
    for (size_t i = 0; i < c->n_msgs; i++) {
        msgpack_pack_array(pk, 2);
        pack_cstr(pk, c->msgs[i].role);
        pack_cstr(pk, c->msgs[i].content);
    }
}

static void release_msgs(void *base)
{
    rs_case_t *c = base;
    for (size_t i = 0; i < c->n_msgs; i++) {
        free(c->msgs[i].role);
        free(c->msgs[i].content);
    }
    free(c->msgs);
}

static const nested_t CASE_MSGS = {decode_msgs, encode_msgs, release_msgs};

/* ---- Decoding: the frame ------------------------------------------------------------------ */

/* Finds "t" and "v" among the top-level keys; either one twice is an error. */
static int find_envelope(const msgpack_object *o, const msgpack_object **t,
                         const msgpack_object **v, rs_err_t *err)
{
    for (size_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        const msgpack_object **slot = key_is(&kv->key, "t", 1)   ? t
                                      : key_is(&kv->key, "v", 1) ? v
                                                                 : NULL;
        if (!slot) continue;
        if (*slot) return rs_err_set(err, "frame has two '%s' keys", slot == t ? "t" : "v");
        *slot = &kv->val;
    }
    return 0;
}

static int check_version(const msgpack_object *v, rs_err_t *err)
{
    const char *fmt = "unsupported protocol version %s (this build speaks %d)";
    char num[32];
    if (!v) return rs_err_set(err, "frame has no protocol version 'v'");
    if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (v->via.u64 == RS_PROTO_VERSION) return 0;
        snprintf(num, sizeof(num), "%" PRIu64, v->via.u64);
    } else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        snprintf(num, sizeof(num), "%" PRId64, v->via.i64);
    } else {
        return rs_err_set(err, "protocol version 'v' must be an integer, not %s", type_name(v));
    }
    return rs_err_set(err, fmt, num, RS_PROTO_VERSION);
}

/* The type name comes from the network and goes into logs: printable ASCII only, and short. */
static void printable(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = 0, room = cap - 4; /* keep space for "..." and the NUL */
    for (; k < n && k < room; k++)
        out[k] = s[k] >= 0x20 && s[k] < 0x7f ? s[k] : '?';
    if (k < n) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

/* The message type named by "t"; NULL with err set when it is missing or unknown. */
static const msg_def_t *lookup_type(const msgpack_object *t, rs_err_t *err)
{
    if (!t) {
        rs_err_set(err, "frame has no message type 't'");
        return NULL;
    }
    if (t->type != MSGPACK_OBJECT_STR) {
        rs_err_set(err, "message type 't' must be a string, not %s", type_name(t));
        return NULL;
    }
    for (size_t i = 0; i < RS_ARRAY_LEN(MSG_DEFS); i++) {
        const char *name = MSG_DEFS[i].name;
        if (name && key_is(t, name, strlen(name))) return &MSG_DEFS[i];
    }
    char shown[40];
    printable(t->via.str.ptr, t->via.str.size, shown, sizeof(shown));
    rs_err_set(err, "unknown message type '%s'", shown);
    return NULL;
}

static int decode_frame(const msgpack_object *o, rs_msg_t *out, rs_err_t *err)
{
    const msgpack_object *t = NULL, *v = NULL;
    if (o->type != MSGPACK_OBJECT_MAP)
        return rs_err_set(err, "frame must be a msgpack map, not %s", type_name(o));
    if (find_envelope(o, &t, &v, err) < 0 || check_version(v, err) < 0) return -1;
    const msg_def_t *def = lookup_type(t, err);
    if (!def) return -1;
    out->type = (rs_msg_type_t)(def - MSG_DEFS); /* from here on rs_msg_cleanup frees it all */
    dec_t d = {.what = def->name, .err = err};
    return decode_fields(&d, o, def->fields, def->n_fields, &out->u);
}

int rs_proto_decode(const void *data, size_t len, rs_msg_t *out, rs_err_t *err)
{
    memset(out, 0, sizeof(*out));
    if (len > RS_PROTO_MAX_FRAME)
        return rs_err_set(err, "frame of %zu bytes exceeds the %u MiB limit", len,
                          RS_PROTO_MAX_FRAME >> 20);
    if (prescan(data, len, err) < 0) return -1;
    /* msgpack_unpack_next points str and bin objects into data, so the only copies made are the
     * strings the decoded struct keeps. */
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rc;
    if (msgpack_unpack_next(&u, data, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len)
        rc = rs_err_set(err, "malformed msgpack frame");
    else
        rc = decode_frame(&u.data, out, err);
    msgpack_unpacked_destroy(&u);
    if (rc < 0) rs_msg_cleanup(out);
    return rc;
}
