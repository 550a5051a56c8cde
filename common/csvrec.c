/* csvrec: libcsv driven one physical line at a time. libcsv reports fields and row ends through
 * callbacks; this module collects a record's fields and tells its caller, per line, whether the
 * line ended a record, so the dataset scan can keep each record's byte span for random access. */
#include "csvrec.h"

#include <csv.h>
#include <stdlib.h>
#include <string.h>

/* CSV is strict (RFC 4180). TSV files often hold raw quotes in their text ('5" long'), so a
 * quote inside an unquoted TSV field is data; a TSV field that starts with a quote is read as a
 * quoted field all the same (as pandas writes them). An unclosed quote is an error in both. */
#define CSV_OPTIONS (CSV_STRICT | CSV_STRICT_FINI)
#define TSV_OPTIONS (CSV_STRICT_FINI)

struct rs_csv {
    struct csv_parser p;
    char delim;
    rs_buf_t bytes;  /* the fields' bytes, each followed by a NUL */
    size_t *starts;  /* offset of each field in bytes */
    size_t *lens;
    size_t n, cap;
    int rows;  /* rows libcsv completed since the last reset */
    int open;  /* a record has begun and not ended */
    int ready; /* the last call completed a record: the next feed starts afresh */
};

/* Only '\n' ends a record, so a record is a run of whole lines; '\r' is trimmed like a space at
 * the edges of an unquoted field (and after a closing quote), which reads CRLF files. */
static int is_term(unsigned char c)
{
    return c == '\n';
}

static int is_space(unsigned char c)
{
    return c == '\r';
}

static void parser_init(rs_csv_t *p)
{
    if (csv_init(&p->p, p->delim == '\t' ? TSV_OPTIONS : CSV_OPTIONS) != 0) {
        fprintf(stderr, "reasonsaver: out of memory starting a CSV parser\n");
        abort();
    }
    csv_set_delim(&p->p, (unsigned char)p->delim);
    csv_set_quote(&p->p, '"');
    csv_set_term_func(&p->p, is_term);
    csv_set_space_func(&p->p, is_space);
    csv_set_blk_size(&p->p, 64u << 10); /* a field's buffer grows 64 KiB at a time, not 128 B */
}

rs_csv_t *rs_csv_new(char delim)
{
    rs_csv_t *p = rs_xcalloc(1, sizeof(*p));
    p->delim = delim;
    rs_buf_init(&p->bytes);
    parser_init(p);
    return p;
}

void rs_csv_destroy(rs_csv_t **pp)
{
    if (!pp || !*pp) return;
    rs_csv_t *p = *pp;
    csv_free(&p->p);
    rs_buf_cleanup(&p->bytes);
    free(p->starts);
    free(p->lens);
    free(p);
    *pp = NULL;
}

static void on_field(void *s, size_t len, void *arg)
{
    rs_csv_t *p = arg;
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 16;
        p->starts = rs_xrealloc(p->starts, p->cap * sizeof(*p->starts));
        p->lens = rs_xrealloc(p->lens, p->cap * sizeof(*p->lens));
    }
    p->starts[p->n] = p->bytes.len;
    p->lens[p->n++] = len;
    if (len) rs_buf_append(&p->bytes, s, len);
    rs_buf_putc(&p->bytes, '\0');
}

static void on_row(int c, void *arg)
{
    rs_csv_t *p = arg;
    p->rows++;
}

static void clear_record(rs_csv_t *p)
{
    rs_buf_reset(&p->bytes);
    p->n = 0;
    p->rows = 0;
    p->open = 0;
    p->ready = 0;
}

void rs_csv_reset(rs_csv_t *p)
{
    csv_free(&p->p);
    parser_init(p);
    clear_record(p);
}

void rs_csv_set_delim(rs_csv_t *p, char delim)
{
    if (p->delim == delim) return;
    p->delim = delim;
    rs_csv_reset(p);
}

/* After a syntax error libcsv's state is mid-field: start a new parser. */
static int syntax_error(rs_csv_t *p, const char *s, size_t at, rs_err_t *err)
{
    unsigned char c = (unsigned char)s[at];
    rs_csv_reset(p);
    if (c == '"')
        return rs_err_set(err, "a quote inside an unquoted field (quote the field and double the "
                               "quote: \"a \"\"b\"\" c\")");
    return rs_err_set(err, "unexpected character after a closing quote (expected the delimiter "
                           "or the end of the line)");
}

static int has_data(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != '\r' && s[i] != '\n') return 1;
    return 0;
}

int rs_csv_feed(rs_csv_t *p, const char *line, size_t len, size_t *bad_at, rs_err_t *err)
{
    if (p->ready) clear_record(p);
    size_t done = csv_parse(&p->p, line, len, on_field, on_row, p);
    if (done < len) {
        *bad_at = done;
        return syntax_error(p, line, done, err);
    }
    if (p->rows > 0) {
        p->ready = 1;
        p->open = 0;
        return 1;
    }
    p->open = p->open || has_data(line, len);
    return 0;
}

int rs_csv_finish(rs_csv_t *p, rs_err_t *err)
{
    if (p->ready) clear_record(p);
    int was_open = p->open;
    if (csv_fini(&p->p, on_field, on_row, p) != 0) {
        rs_csv_reset(p);
        return rs_err_set(err, "a quoted field is never closed (the file ends inside it)");
    }
    p->open = 0;
    p->ready = p->rows > 0;
    return was_open && p->rows > 0;
}

int rs_csv_open(const rs_csv_t *p)
{
    return p->open && !p->ready;
}

size_t rs_csv_nfields(const rs_csv_t *p)
{
    return p->n;
}

const char *rs_csv_field(const rs_csv_t *p, size_t i, size_t *len)
{
    *len = p->lens[i];
    return p->bytes.data + p->starts[i];
}

int rs_csv_parse_record(rs_csv_t *p, const char *bytes, size_t len, size_t *bad_at, rs_err_t *err)
{
    clear_record(p);
    size_t done = csv_parse(&p->p, bytes, len, on_field, on_row, p);
    if (done < len) {
        *bad_at = done;
        return syntax_error(p, bytes, done, err);
    }
    p->open = 1;
    if (rs_csv_finish(p, err) < 0) {
        *bad_at = len;
        return -1;
    }
    p->ready = 1;
    return 0;
}

static void count_field(void *s, size_t len, void *arg)
{
    (*(size_t *)arg)++;
}

size_t rs_csv_field_offset(char delim, const char *bytes, size_t len, size_t k)
{
    rs_csv_t *p = rs_csv_new(delim);
    size_t fields = 0, at = len;
    for (size_t i = 0; i < len && k > 0; i++) {
        if (csv_parse(&p->p, bytes + i, 1, count_field, NULL, &fields) < 1) break;
        if (fields == k) {
            at = i + 1;
            break;
        }
    }
    rs_csv_destroy(&p);
    return at;
}
