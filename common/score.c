/* score: answer extraction (a table of extractors over byte spans), normalisation to one
 * canonical form, the graders (a table of grade functions; judge and embed_sim grade a value the
 * worker computes) and the parsing of a judge's verdict. Grading allocates only for regex targets
 * (compiled per call), fuzzy's folded copies and json_match's parsed JSON. */
#include "score.h"

#include <assert.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regex.h"

/* A span of bytes inside some text; nothing is copied until the final answer is returned. */
typedef struct span {
    const char *p;
    size_t n;
} span_t;

/* A normalised answer: numeric (value + canonical text in canon) or a trimmed span of the input. */
typedef struct norm {
    span_t text; /* points into canon when numeric */
    int numeric;
    double value;
    char canon[RS_NUMBER_BUF];
} norm_t;

typedef struct grader {
    rs_grader_kind_t kind;
    rs_regex_t *re; /* regex grader's own pattern, NULL when targets are the patterns */
    double tolerance, rel_tolerance;
    int case_sensitive;
    double threshold; /* fuzzy, judge, embed_sim */
    char **keys;      /* json_match: NULL-terminated copy, NULL = the target's keys */
} grader_t;

struct rs_scorer {
    rs_extractor_kind_t extractor;
    rs_regex_t *extract_re;
    grader_t *graders;
    size_t n_graders;
};

/* ---- byte helpers (ASCII only: case folding and classes never depend on the locale) ---- */

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int bytes_eq(const char *a, const char *b, size_t n, int case_sensitive)
{
    if (case_sensitive) return memcmp(a, b, n) == 0;
    for (size_t i = 0; i < n; i++)
        if (lower(a[i]) != lower(b[i])) return 0;
    return 1;
}

/* Position of the first occurrence of needle in hay, or -1. Naive: needles are short answers. */
static long find_bytes(span_t hay, span_t needle, int case_sensitive)
{
    if (needle.n > hay.n) return -1;
    for (size_t i = 0; i + needle.n <= hay.n; i++)
        if (bytes_eq(hay.p + i, needle.p, needle.n, case_sensitive)) return (long)i;
    return -1;
}

static span_t trim_space(span_t s)
{
    while (s.n && is_space(s.p[0]))
        s.p++, s.n--;
    while (s.n && is_space(s.p[s.n - 1]))
        s.n--;
    return s;
}

/* ---- numbers ---- */

/* Bytes of a currency sign ($, € or £ in UTF-8) at s, or 0. */
static size_t currency_len(const char *s, size_t n)
{
    if (n >= 1 && s[0] == '$') return 1;
    if (n >= 3 && memcmp(s, "\xE2\x82\xAC", 3) == 0) return 3;
    if (n >= 2 && memcmp(s, "\xC2\xA3", 2) == 0) return 2;
    return 0;
}

static size_t digit_run(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && is_digit(s[i]))
        i++;
    return i;
}

/* The cleaned text of a number token (no currency, separators or percent), for strtod. A token
 * too long for the buffer still scans, but does not convert: no sensible answer is 60 digits. */
typedef struct numtext {
    char buf[64];
    size_t len;
    int overflow;
} numtext_t;

static void numtext_put(numtext_t *t, const char *p, size_t n)
{
    if (t->len + n >= sizeof(t->buf)) {
        t->overflow = 1;
        return;
    }
    memcpy(t->buf + t->len, p, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

/* The integer part at s: digits, with "," thousands separators only in strict groups of three
 * after a first group of one to three digits ("1,234,567"; "12,34" stops at "12"). Returns the
 * bytes consumed. */
static size_t scan_integer(const char *s, size_t n, numtext_t *out)
{
    size_t d = digit_run(s, n), i = d;
    numtext_put(out, s, d);
    if (d == 0 || d > 3) return i;
    while (i + 4 <= n && s[i] == ',' && digit_run(s + i + 1, n - i - 1) == 3) {
        numtext_put(out, s + i + 1, 3);
        i += 4;
    }
    return i;
}

/* An exponent "e3", "E-5" at s (at least one digit), or 0. */
static size_t scan_exponent(const char *s, size_t n)
{
    if (n < 2 || (s[0] != 'e' && s[0] != 'E')) return 0;
    size_t i = 1;
    if (s[i] == '+' || s[i] == '-') i++;
    size_t d = digit_run(s + i, n - i);
    return d ? i + d : 0;
}

static size_t scan_sign(const char *s, size_t n, numtext_t *out)
{
    if (n == 0 || (s[0] != '+' && s[0] != '-')) return 0;
    numtext_put(out, s, 1);
    return 1;
}

/* Scans one number token at the start of s: [sign][currency][sign]int[.frac][exp][%].
 * Returns the token's length, 0 when s does not start with a number. */
static size_t scan_number(const char *s, size_t n, numtext_t *out)
{
    out->len = 0;
    out->overflow = 0;
    out->buf[0] = '\0';
    size_t i = scan_sign(s, n, out);
    size_t cur = currency_len(s + i, n - i);
    i += cur;
    if (cur && out->len == 0) i += scan_sign(s + i, n - i, out); /* "$-5" */
    size_t int_len = scan_integer(s + i, n - i, out);
    i += int_len;
    int has_frac = i + 1 < n && s[i] == '.' && is_digit(s[i + 1]);
    if (!int_len && !has_frac) return 0;
    if (has_frac) {
        size_t d = digit_run(s + i + 1, n - i - 1);
        numtext_put(out, s + i, d + 1);
        i += d + 1;
    }
    size_t e = scan_exponent(s + i, n - i);
    numtext_put(out, s + i, e);
    i += e;
    if (i < n && s[i] == '%') i++;
    return i;
}

/* Parses a whole span as one number; 1 on success. */
static int span_number(span_t s, double *out)
{
    numtext_t t;
    if (scan_number(s.p, s.n, &t) != s.n || s.n == 0 || t.overflow) return 0;
    char *end;
    double v = strtod(t.buf, &end);
    if (*end || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

int rs_format_number(double x, char *buf, size_t n)
{
    if (x == 0) x = 0; /* turns -0 into 0 */
    if (!(x == trunc(x) && fabs(x) < 9007199254740992.0)) /* 2^53: every such integer is exact */
        return snprintf(buf, n, "%.15g", x);
    /* "%.0f" of such an integer is its digits: written without printf, which was most of the
     * cost of grading a numeric answer; cut to n as snprintf would */
    char digits[RS_I64_TEXT];
    size_t len = rs_i64_text((int64_t)x, digits);
    if (n) {
        size_t keep = len < n ? len : n - 1;
        memcpy(buf, digits, keep);
        buf[keep] = '\0';
    }
    return (int)len;
}

/* ---- normalisation ---- */

/* Strips surrounding spaces, trailing '.' and markdown emphasis/code marks ("**18**", "`x`"). */
static span_t strip_decoration(span_t s)
{
    for (;;) {
        span_t before = trim_space(s);
        s = before;
        while (s.n && s.p[s.n - 1] == '.')
            s.n--;
        while (s.n > 1 && (s.p[0] == '*' || s.p[0] == '`') &&
               (s.p[s.n - 1] == '*' || s.p[s.n - 1] == '`'))
            s.p++, s.n -= 2;
        if (s.n == before.n) return s;
    }
}

static void norm_span(span_t in, norm_t *out)
{
    out->text = strip_decoration(in);
    out->numeric = span_number(out->text, &out->value);
    if (!out->numeric) return;
    int len = rs_format_number(out->value, out->canon, sizeof(out->canon));
    out->text.p = out->canon;
    out->text.n = (size_t)len;
}

static void norm_str(const char *s, norm_t *out)
{
    span_t sp = {s, strlen(s)};
    norm_span(sp, out);
}

char *rs_normalize_answer(const char *s)
{
    norm_t n;
    norm_str(s, &n);
    return rs_xstrndup(n.text.p, n.text.n);
}

int rs_answer_number(const char *s, double *out)
{
    norm_t n;
    norm_str(s, &n);
    if (n.numeric && out) *out = n.value;
    return n.numeric;
}

/* ---- extractors: each finds a span of the output, 1 when found ---- */

/* 1 when found, 0 when not; the regex extractor may also say why it could not search
 * (RS_REGEX_LIMIT, RS_REGEX_BAD_UTF8, both < 0). */
typedef int (*extract_fn)(const rs_scorer_t *s, span_t text, span_t *out);

/* The rest of the line from p, skipping leading blanks, newlines and ':'; it also ends at a
 * sentence end (". " / ".\n"), so "The answer is 7. Let me check" gives "7". */
static span_t rest_of_line(const char *p, const char *end)
{
    while (p < end && (is_space(*p) || *p == ':'))
        p++;
    const char *q = p;
    while (q < end && *q != '\n' && *q != '\r' && !(*q == '.' && q + 1 < end && is_space(q[1])))
        q++;
    span_t sp = {p, (size_t)(q - p)};
    return sp;
}

/* Position just after the last occurrence of needle (ASCII, case-insensitive) that starts a
 * word (and ends one, when needle ends in a letter), or NULL. */
static const char *after_last_marker(span_t text, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = text.n; i-- > 0;) {
        if (i + m > text.n || !bytes_eq(text.p + i, needle, m, 0)) continue;
        if (i > 0 && is_alnum(text.p[i - 1])) continue;
        /* "answer is" must end a word too: "the answer isn't clear" is no answer */
        if (is_alnum(needle[m - 1]) && i + m < text.n && is_alnum(text.p[i + m])) continue;
        return text.p + i + m;
    }
    return NULL;
}

static int extract_hashes(const rs_scorer_t *s, span_t text, span_t *out)
{
    const char *last = NULL;
    for (size_t i = 0; i + 4 <= text.n; i++)
        if (memcmp(text.p + i, "####", 4) == 0) last = text.p + i;
    if (!last) return 0;
    const char *p = last + 4;
    while (p < text.p + text.n && (*p == '#' || is_space(*p)))
        p++;
    const char *q = p;
    while (q < text.p + text.n && *q != '\n' && *q != '\r')
        q++;
    out->p = p;
    out->n = (size_t)(q - p);
    return out->n > 0;
}

static int extract_answer(const rs_scorer_t *s, span_t text, span_t *out)
{
    static const char *const markers[] = {"answer is", "answer:", "a:"};
    const char *best = NULL;
    for (size_t i = 0; i < RS_ARRAY_LEN(markers); i++) {
        const char *p = after_last_marker(text, markers[i]);
        if (p && (!best || p > best)) best = p;
    }
    if (!best) return 0;
    *out = rest_of_line(best, text.p + text.n);
    return out->n > 0;
}

static int extract_last_number(const rs_scorer_t *s, span_t text, span_t *out)
{
    numtext_t clean;
    int found = 0;
    for (size_t i = 0; i < text.n;) {
        char c = text.p[i], prev = i ? text.p[i - 1] : ' ';
        /* "5-3" is an operator, not a sign; "1.2.3" does not yield ".3". */
        int no_start = ((c == '-' || c == '+') && (is_alnum(prev) || prev == ')')) ||
                       (c == '.' && is_digit(prev));
        size_t len = no_start ? 0 : scan_number(text.p + i, text.n - i, &clean);
        if (len) {
            out->p = text.p + i;
            out->n = len;
            found = 1;
        }
        i += len ? len : 1;
    }
    return found;
}

static int extract_regex(const rs_scorer_t *s, span_t text, span_t *out)
{
    size_t start, len;
    int rc = rs_regex_find(s->extract_re, text.p, text.n, 1, &start, &len);
    if (rc != RS_REGEX_FOUND) return rc;
    out->p = text.p + start;
    out->n = len;
    return 1;
}

static int extract_none(const rs_scorer_t *s, span_t text, span_t *out)
{
    *out = text;
    return 1;
}

static int extract_auto(const rs_scorer_t *s, span_t text, span_t *out)
{
    return extract_hashes(s, text, out) || extract_answer(s, text, out) ||
           extract_last_number(s, text, out);
}

static const extract_fn extractors[] = {
    [RS_EXTRACT_AUTO] = extract_auto,     [RS_EXTRACT_LAST_NUMBER] = extract_last_number,
    [RS_EXTRACT_REGEX] = extract_regex,   [RS_EXTRACT_HASHES] = extract_hashes,
    [RS_EXTRACT_ANSWER] = extract_answer, [RS_EXTRACT_NONE] = extract_none,
};

char *rs_scorer_extract(const rs_scorer_t *s, const char *output)
{
    return rs_scorer_extract_why(s, output, NULL);
}

char *rs_scorer_extract_why(const rs_scorer_t *s, const char *output, const char **why)
{
    if (why) *why = NULL;
    if (!output) return NULL;
    span_t text = {output, strlen(output)}, found;
    int rc = extractors[s->extractor](s, text, &found);
    if (rc < 0 && why) *why = rs_regex_outcome(rc);
    if (rc <= 0) return NULL;
    norm_t n;
    norm_span(found, &n);
    return n.text.n ? rs_xstrndup(n.text.p, n.text.n) : NULL;
}

/* ---- graders ---- */

typedef rs_verdict_t (*grade_fn)(const grader_t *g, const char *output, const char *extracted,
                                 char *const *targets, size_t n_targets);

static int norm_equal(const norm_t *x, const norm_t *t, int case_sensitive)
{
    if (x->numeric != t->numeric) return 0;
    if (x->text.n != t->text.n) return 0;
    /* numbers compare by canonical text: equal values to 15 significant digits */
    return bytes_eq(x->text.p, t->text.p, x->text.n, case_sensitive || x->numeric);
}

typedef int (*norm_match_fn)(const grader_t *g, const norm_t *x, const norm_t *t);

/* Correct when the normalised extracted answer matches a normalised target; an empty answer is
 * wrong and empty targets never match. */
static rs_verdict_t grade_normalised(const grader_t *g, const char *extracted, char *const *targets,
                                     size_t n_targets, norm_match_fn match)
{
    if (!extracted) return RS_VERDICT_WRONG;
    norm_t x, t;
    norm_str(extracted, &x);
    if (x.text.n == 0) return RS_VERDICT_WRONG;
    for (size_t i = 0; i < n_targets; i++) {
        if (!targets[i]) continue;
        norm_str(targets[i], &t);
        if (t.text.n && match(g, &x, &t)) return RS_VERDICT_CORRECT;
    }
    return RS_VERDICT_WRONG;
}

static int exact_match(const grader_t *g, const norm_t *x, const norm_t *t)
{
    return norm_equal(x, t, g->case_sensitive);
}

static rs_verdict_t grade_exact(const grader_t *g, const char *output, const char *extracted,
                                char *const *targets, size_t n_targets)
{
    return grade_normalised(g, extracted, targets, n_targets, exact_match);
}

static rs_verdict_t grade_includes(const grader_t *g, const char *output, const char *extracted,
                                   char *const *targets, size_t n_targets)
{
    if (!output) return RS_VERDICT_WRONG;
    span_t hay = {output, strlen(output)};
    for (size_t i = 0; i < n_targets; i++) {
        if (!targets[i]) continue;
        span_t needle = trim_space((span_t){targets[i], strlen(targets[i])});
        if (needle.n && find_bytes(hay, needle, g->case_sensitive) >= 0) return RS_VERDICT_CORRECT;
    }
    return RS_VERDICT_WRONG;
}

/* A search that could not decide (match limit, invalid UTF-8) is no verdict, not a wrong one. */
static rs_verdict_t regex_verdict(int rc)
{
    if (rc == RS_REGEX_FOUND) return RS_VERDICT_CORRECT;
    return rc < 0 ? RS_VERDICT_SKIPPED : RS_VERDICT_WRONG;
}

static rs_verdict_t grade_regex(const grader_t *g, const char *output, const char *extracted,
                                char *const *targets, size_t n_targets)
{
    if (!output) return RS_VERDICT_WRONG;
    size_t len = strlen(output);
    if (g->re) return regex_verdict(rs_regex_find(g->re, output, len, 0, NULL, NULL));
    int undecided = 0;
    for (size_t i = 0; i < n_targets; i++) {
        if (!targets[i]) continue;
        /* A target that is not a valid regex simply cannot match. */
        rs_regex_t *re = rs_regex_new(targets[i], !g->case_sensitive, NULL);
        int rc = re ? rs_regex_find(re, output, len, 0, NULL, NULL) : RS_REGEX_NONE;
        rs_regex_destroy(&re);
        if (rc == RS_REGEX_FOUND) return RS_VERDICT_CORRECT;
        undecided |= rc < 0;
    }
    return undecided ? RS_VERDICT_SKIPPED : RS_VERDICT_WRONG;
}

static rs_verdict_t grade_numeric(const grader_t *g, const char *output, const char *extracted,
                                  char *const *targets, size_t n_targets)
{
    double x, t;
    if (!extracted || !rs_answer_number(extracted, &x)) return RS_VERDICT_WRONG;
    for (size_t i = 0; i < n_targets; i++) {
        if (!targets[i] || !rs_answer_number(targets[i], &t)) continue;
        if (fabs(x - t) <= fmax(g->tolerance, g->rel_tolerance * fabs(t)))
            return RS_VERDICT_CORRECT;
    }
    return RS_VERDICT_WRONG;
}

/* A heap copy of sp, ASCII-lowercased unless case_sensitive: rs_edit_distance takes C strings. */
static char *folded_copy(span_t sp, int case_sensitive)
{
    char *c = rs_xstrndup(sp.p, sp.n);
    for (size_t i = 0; !case_sensitive && i < sp.n; i++)
        c[i] = lower(c[i]);
    return c;
}

/* 1 - dist / longest >= threshold, multiplied out and with a slack far below one byte's worth,
 * so that a similarity equal to the threshold on paper meets it: 1 - 4/5 is 0.19999999999999996
 * in doubles, below 0.2. */
static int similar_enough(size_t dist, size_t longest, double threshold)
{
    return (double)(longest - dist) >= threshold * (double)longest - 1e-9;
}

static int fuzzy_match(const grader_t *g, const norm_t *x, const norm_t *t)
{
    char *a = folded_copy(x->text, g->case_sensitive), *b = folded_copy(t->text, g->case_sensitive);
    size_t longest = x->text.n > t->text.n ? x->text.n : t->text.n;
    int ok = similar_enough(rs_edit_distance(a, b), longest, g->threshold);
    free(a);
    free(b);
    return ok;
}

static rs_verdict_t grade_fuzzy(const grader_t *g, const char *output, const char *extracted,
                                char *const *targets, size_t n_targets)
{
    return grade_normalised(g, extracted, targets, n_targets, fuzzy_match);
}

/* Bytes that failed parses of first_json_object may read in all, per byte of the text (plus a
 * floor): each '{' starts a parse, and in a hostile reply ('{"a":[' a million times) each would
 * read on to jansson's depth limit, 92 s for 1 MiB. The budget keeps the search linear. */
#define JSON_SCAN_FACTOR 1
#define JSON_SCAN_FLOOR (1u << 16)

/* The first '{' of text from which a whole JSON object parses (trailing text allowed), or NULL
 * (also when the failed parses before it have used up the budget above). */
static json_t *first_json_object(const char *text)
{
    size_t len = strlen(text), budget = JSON_SCAN_FACTOR * len + JSON_SCAN_FLOOR;
    for (const char *p = memchr(text, '{', len); p;
         p = memchr(p + 1, '{', len - (size_t)(p + 1 - text))) {
        json_error_t e;
        json_t *j = json_loadb(p, len - (size_t)(p - text), JSON_DISABLE_EOF_CHECK, &e);
        if (json_is_object(j)) return j;
        json_decref(j);
        size_t spent = j ? 1 : (size_t)e.position + 1; /* j: a non-object (cannot be, at '{') */
        if (spent >= budget) break;
        budget -= spent;
    }
    return NULL;
}

/* The answer's JSON object: the extracted answer when it is one (an extractor chose it), else the
 * first object in the output. NULL when there is none. */
static json_t *answer_object(const char *output, const char *extracted)
{
    json_t *j = extracted ? json_loads(extracted, 0, NULL) : NULL;
    if (json_is_object(j)) return j;
    json_decref(j);
    return output ? first_json_object(output) : NULL;
}

static int json_key_equal(const json_t *a, const json_t *t, const char *key)
{
    const json_t *x = json_object_get(a, key), *y = json_object_get(t, key);
    return x && y && json_equal(x, y);
}

/* 1 when answer a agrees with target object t on keys (NULL: on every key of t). */
static int json_agrees(const json_t *a, const json_t *t, char *const *keys)
{
    if (keys) {
        for (; *keys; keys++)
            if (!json_key_equal(a, t, *keys)) return 0;
        return 1;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)t, key, v)
    {
        if (!json_key_equal(a, t, key)) return 0;
    }
    return 1;
}

static rs_verdict_t grade_json_match(const grader_t *g, const char *output, const char *extracted,
                                     char *const *targets, size_t n_targets)
{
    json_t *a = answer_object(output, extracted);
    rs_verdict_t v = RS_VERDICT_WRONG;
    for (size_t i = 0; a && v == RS_VERDICT_WRONG && i < n_targets; i++) {
        json_t *t = targets[i] ? json_loads(targets[i], 0, NULL) : NULL;
        if (json_is_object(t) && json_agrees(a, t, g->keys)) v = RS_VERDICT_CORRECT;
        json_decref(t);
    }
    json_decref(a);
    return v;
}

/* NULL: the grader takes a value the worker computes (rs_scorer_grade_value). */
static const grade_fn grade_fns[] = {
    [RS_GRADE_EXACT] = grade_exact, [RS_GRADE_INCLUDES] = grade_includes,
    [RS_GRADE_REGEX] = grade_regex, [RS_GRADE_NUMERIC] = grade_numeric,
    [RS_GRADE_FUZZY] = grade_fuzzy, [RS_GRADE_JSON_MATCH] = grade_json_match,
    [RS_GRADE_JUDGE] = NULL,        [RS_GRADE_EMBED_SIM] = NULL,
    [RS_GRADE_EXEC] = NULL, /* the worker's grader process decides (worker/execgrade.h) */
};

rs_verdict_t rs_scorer_grade(const rs_scorer_t *s, size_t g, const char *output,
                             const char *extracted, char *const *targets, size_t n_targets)
{
    assert(g < s->n_graders);
    const grader_t *gr = &s->graders[g];
    if (!grade_fns[gr->kind] || (n_targets == 0 && !gr->re)) return RS_VERDICT_SKIPPED;
    return grade_fns[gr->kind](gr, output, extracted, targets, n_targets);
}

int rs_scorer_needs_value(const rs_scorer_t *s, size_t g)
{
    assert(g < s->n_graders);
    return grade_fns[s->graders[g].kind] == NULL;
}

rs_verdict_t rs_scorer_grade_value(const rs_scorer_t *s, size_t g, double value)
{
    assert(rs_scorer_needs_value(s, g));
    if (isnan(value)) return RS_VERDICT_SKIPPED;
    return value >= s->graders[g].threshold ? RS_VERDICT_CORRECT : RS_VERDICT_WRONG;
}

/* ---- construction ---- */

static char **strv_dup(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    if (!v) return NULL;
    char **c = rs_xcalloc(n + 1, sizeof(*c));
    for (size_t i = 0; i < n; i++)
        c[i] = rs_xstrdup(v[i]);
    return c;
}

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static int grader_init(grader_t *g, const rs_grader_cfg_t *cfg, size_t idx, rs_err_t *err)
{
    const char *name = cfg->name ? cfg->name : "";
    if ((unsigned)cfg->kind >= RS_ARRAY_LEN(grade_fns))
        return rs_err_set(err, "scoring.graders[%zu] '%s': unknown grader kind %d", idx, name,
                          (int)cfg->kind);
    if (!(cfg->tolerance >= 0) || !(cfg->rel_tolerance >= 0))
        return rs_err_set(err, "scoring.graders[%zu] '%s': tolerances must be >= 0", idx, name);
    if (!(cfg->threshold >= -1 && cfg->threshold <= 1))
        return rs_err_set(err, "scoring.graders[%zu] '%s': threshold must be in [-1, 1]", idx,
                          name);
    g->kind = cfg->kind;
    g->tolerance = cfg->tolerance;
    g->rel_tolerance = cfg->rel_tolerance;
    g->case_sensitive = cfg->case_sensitive;
    g->threshold = cfg->threshold;
    g->keys = strv_dup(cfg->keys);
    if (cfg->kind != RS_GRADE_REGEX || !cfg->pattern) return 0;
    g->re = rs_regex_new(cfg->pattern, !cfg->case_sensitive, err);
    if (!g->re) return rs_err_prefix(err, "scoring.graders[%zu] '%s'", idx, name);
    return 0;
}

static int extractor_init(rs_scorer_t *s, const rs_scoring_cfg_t *cfg, rs_err_t *err)
{
    if ((unsigned)cfg->extractor >= RS_ARRAY_LEN(extractors))
        return rs_err_set(err, "scoring.extractor: unknown kind %d", (int)cfg->extractor);
    s->extractor = cfg->extractor;
    if (cfg->extractor != RS_EXTRACT_REGEX) return 0;
    if (!cfg->extractor_pattern)
        return rs_err_set(err, "scoring.extractor: the regex extractor needs a pattern");
    s->extract_re = rs_regex_new(cfg->extractor_pattern, 0, err);
    return s->extract_re ? 0 : rs_err_prefix(err, "scoring.extractor");
}

rs_scorer_t *rs_scorer_new(const rs_scoring_cfg_t *cfg, rs_err_t *err)
{
    static const rs_grader_cfg_t default_grader = {.kind = RS_GRADE_EXACT, .tolerance = 1e-6};
    static const rs_scoring_cfg_t default_cfg = {.extractor = RS_EXTRACT_AUTO};
    if (!cfg) cfg = &default_cfg;
    rs_scorer_t *s = rs_xcalloc(1, sizeof(*s));
    const rs_grader_cfg_t *gcfg = cfg->n_graders ? cfg->graders : &default_grader;
    s->n_graders = cfg->n_graders ? cfg->n_graders : 1;
    s->graders = rs_xcalloc(s->n_graders, sizeof(*s->graders));
    int rc = extractor_init(s, cfg, err);
    for (size_t i = 0; rc == 0 && i < s->n_graders; i++)
        rc = grader_init(&s->graders[i], &gcfg[i], i, err);
    if (rc != 0) rs_scorer_destroy(&s);
    return s;
}

void rs_scorer_destroy(rs_scorer_t **s)
{
    if (!s || !*s) return;
    for (size_t i = 0; i < (*s)->n_graders; i++) {
        rs_regex_destroy(&(*s)->graders[i].re);
        strv_free((*s)->graders[i].keys);
    }
    rs_regex_destroy(&(*s)->extract_re);
    free((*s)->graders);
    free(*s);
    *s = NULL;
}

size_t rs_scorer_n_graders(const rs_scorer_t *s)
{
    return s->n_graders;
}

/* ---- a judge's verdict ---- */

struct rs_verdict_parser {
    rs_verdict_choice_t *choices; /* copies */
    size_t n_choices;
    rs_regex_t *re; /* regex verdicts */
    double min, max;
};

rs_verdict_parser_t *rs_verdict_parser_new(const rs_verdict_cfg_t *cfg, rs_err_t *err)
{
    if (!cfg->regex && !cfg->n_choices) {
        rs_err_set(err, "verdict: needs choices or a regex");
        return NULL;
    }
    if (cfg->regex && !(cfg->min < cfg->max)) {
        rs_err_set(err, "verdict: max must be greater than min");
        return NULL;
    }
    rs_verdict_parser_t *p = rs_xcalloc(1, sizeof(*p));
    p->min = cfg->min;
    p->max = cfg->max;
    if (cfg->regex && !(p->re = rs_regex_new(cfg->regex, 0, err))) {
        rs_err_prefix(err, "verdict.regex");
        rs_verdict_parser_destroy(&p);
        return NULL;
    }
    p->choices = rs_xcalloc(cfg->n_choices ? cfg->n_choices : 1, sizeof(*p->choices));
    for (; p->n_choices < cfg->n_choices; p->n_choices++) {
        p->choices[p->n_choices].text = rs_xstrdup(cfg->choices[p->n_choices].text);
        p->choices[p->n_choices].score = cfg->choices[p->n_choices].score;
    }
    return p;
}

void rs_verdict_parser_destroy(rs_verdict_parser_t **p)
{
    if (!p || !*p) return;
    for (size_t i = 0; i < (*p)->n_choices; i++)
        free((*p)->choices[i].text);
    free((*p)->choices);
    rs_regex_destroy(&(*p)->re);
    free(*p);
    *p = NULL;
}

/* 1 when word occurs in text at i as a whole word (see rs_verdict_parse). */
static int word_at(span_t text, size_t i, const char *word, size_t n)
{
    if (memcmp(text.p + i, word, n) != 0) return 0;
    if (is_alnum(word[0]) && i > 0 && is_alnum(text.p[i - 1])) return 0;
    return !(is_alnum(word[n - 1]) && i + n < text.n && is_alnum(text.p[i + n]));
}

/* The end of word's last whole-word occurrence in text (one past it), or 0 when there is none. */
static size_t last_word_end(span_t text, const char *word)
{
    size_t n = strlen(word);
    for (size_t i = text.n >= n ? text.n - n + 1 : 0; n && i-- > 0;)
        if (word_at(text, i, word, n)) return i + n;
    return 0;
}

static int parse_choices(const rs_verdict_parser_t *p, span_t text, double *score)
{
    size_t best_end = 0, best_len = 0;
    for (size_t i = 0; i < p->n_choices; i++) {
        size_t end = last_word_end(text, p->choices[i].text), len = strlen(p->choices[i].text);
        if (!end || end < best_end || (end == best_end && len <= best_len)) continue;
        best_end = end;
        best_len = len;
        *score = p->choices[i].score;
    }
    return best_end > 0;
}

static int parse_scale(const rs_verdict_parser_t *p, span_t text, double *score)
{
    size_t start, len;
    if (rs_regex_find(p->re, text.p, text.n, 1, &start, &len) != RS_REGEX_FOUND) return 0;
    norm_t n;
    norm_span((span_t){text.p + start, len}, &n);
    if (!n.numeric) return 0;
    *score = fmin(1, fmax(0, (n.value - p->min) / (p->max - p->min)));
    return 1;
}

int rs_verdict_parse(const rs_verdict_parser_t *p, const char *text, double *score)
{
    if (!text) return 0;
    span_t t = {text, strlen(text)};
    double v = 0;
    int ok = p->re ? parse_scale(p, t, &v) : parse_choices(p, t, &v);
    if (ok && score) *score = v;
    return ok;
}
