/* score: answer extraction, normalisation, the graders and the parsing of a judge's verdict.
 *
 * An rs_scorer_t is the compiled form of the config's scoring section (regexes compiled once);
 * it is immutable after creation, so one scorer serves every case. */
#ifndef RS_SCORE_H
#define RS_SCORE_H

#include <stddef.h>

#include "config.h"
#include "util.h"

typedef enum rs_verdict {
    RS_VERDICT_WRONG = 0,
    RS_VERDICT_CORRECT = 1,
    RS_VERDICT_SKIPPED = 2, /* the grader cannot apply: no target, or no value for it */
} rs_verdict_t;

typedef struct rs_scorer rs_scorer_t;

rs_scorer_t *rs_scorer_new(const rs_scoring_cfg_t *cfg, rs_err_t *err);
void rs_scorer_destroy(rs_scorer_t **s);

/* The answer extracted from a model's output and normalised; heap, or NULL when none is found. */
char *rs_scorer_extract(const rs_scorer_t *s, const char *output);
/* The same; when it returns NULL, *why (why may be NULL) is NULL when there was no answer to find,
 * or a static phrase when the search could not decide: "match limit reached" (the regex
 * extractor's pattern backtracks catastrophically on this output, RS_REGEX_MATCH_LIMIT) or
 * "not valid UTF-8". Every extractor is linear in the output's length. */
char *rs_scorer_extract_why(const rs_scorer_t *s, const char *output, const char **why);

/* Grades one output with grader g (index into cfg->graders). extracted may be NULL.
 * A value grader (rs_scorer_needs_value) is SKIPPED here: grade it with rs_scorer_grade_value. */
rs_verdict_t rs_scorer_grade(const rs_scorer_t *s, size_t g, const char *output,
                             const char *extracted, char *const *targets, size_t n_targets);

/* 1 when grader g grades a number the worker computes rather than the text: judge (the judge's
 * score of the candidate, in [0, 1]) and embed_sim (the cosine of the embeddings of the
 * candidate's output and of the reference, the best over the case's targets). Also 1 for exec,
 * whose verdict comes whole from the worker's grader process (never through grade_value). */
int rs_scorer_needs_value(const rs_scorer_t *s, size_t g);

/* Grades such a value: CORRECT iff value >= the grader's threshold; SKIPPED when value is NaN (no
 * value: the judge's verdict did not parse or its call failed, the case has no target to embed).
 * g must be a value grader. */
rs_verdict_t rs_scorer_grade_value(const rs_scorer_t *s, size_t g, double value);

/* Normalises an answer: trims spaces and trailing '.', strips currency signs ($ € £) and
 * thousands separators from numbers, writes numbers canonically ("18.0" -> "18", "-0" -> "0",
 * "1,234.50" -> "1234.5"). Non-numeric text is trimmed only. Heap result. */
char *rs_normalize_answer(const char *s);

/* 1 and the value in out when s (after normalisation) is a number. */
int rs_answer_number(const char *s, double *out);

/* Extractors and graders in detail (the contract the unit tests pin down):
 * - hashes: the rest of the line after the last "####" (blank lines after it skipped).
 * - answer: after whichever of "answer is", "answer:", "a:" occurs last (ASCII case-insensitive,
 *   as whole words, so "data:" and "answer isn't" are no markers); leading blanks and ':' are
 *   skipped; the answer ends at the line end or at a sentence end ". "
 *   ("The answer is 7. Let me check" -> "7").
 * - last_number: the last token of the number grammar below; a '+'/'-' right after a letter, digit
 *   or ')' is an operator, not a sign ("5-3=2" -> "2"), and "1.2.3" yields "3", not ".3".
 * - regex: the last match of scoring.extractor.pattern (case-sensitive unless it says (?i)),
 *   group 1 when the pattern has a group that took part, else the whole match. Found in one
 *   forward scan (common/regex.h); a pattern that reaches the match limit on the output, or an
 *   output that is not UTF-8, gives no answer with that reason (rs_scorer_extract_why).
 * - none: the whole output. auto: hashes, else answer, else last_number (first that finds one).
 * rs_scorer_extract returns NULL when nothing is found or the answer normalises to "".
 * Graders: exact compares normalised forms (numbers by canonical text, i.e. to 15 significant
 * digits; text case-insensitively unless case_sensitive); includes looks for each target with
 * surrounding spaces trimmed (empty targets never match); regex without a pattern compiles each
 * target per call and a target that is not a valid regex simply does not match (a search that
 * reaches the match limit, or an output not UTF-8, decides nothing: SKIPPED); numeric ignores
 * non-numeric targets. NULL targets are ignored. A NULL output is wrong for includes and regex.
 * fuzzy: the normalised extracted answer and each normalised target (ASCII case folded unless
 *   case_sensitive) have similarity 1 - levenshtein(a, t) / max(len(a), len(t)) in bytes;
 *   correct iff the best similarity >= threshold. Empty answers are wrong; empty targets ignored.
 * json_match: the answer is the extracted answer when it parses as a JSON object, else the first
 *   JSON object in the output (the first '{' from which a whole object parses; the failed parses
 *   before it may read the output's length plus 64 KiB in all, then it gives up). Each target is
 *   parsed as JSON; a target that is not an object is ignored. Correct iff for some target every
 *   key in keys (every key of the target when keys is NULL) is in both objects with equal values
 *   (jansson's json_equal: 1 and 1.0 differ, key order does not matter). */

/* Number grammar (shared by normalisation, rs_answer_number and the last-number extractor):
 *   [+|-] [$|€|£] [+|-] digits [.digits] [e|E [+|-] digits] [%]      or a leading ".5"
 * Thousands separators are "," in strict groups of three after a first group of one to three
 * digits ("1,234,567"; "12,34" is not a number). "1e3" is 1000. A trailing "%" is dropped, so
 * "50%" is the number 50 (not 0.5): targets are written the way answers are. Fractions ("3/4"),
 * words ("seven"), spaces inside a number ("1 234"), two signs, values that overflow a double
 * and tokens over 63 digits are text. Case folding is ASCII only.
 * Normalisation also strips markdown emphasis/code marks around an answer ("**18**" -> "18"). */

/* Room for any canonical number written by rs_format_number, NUL included. */
#define RS_NUMBER_BUF 32

/* Writes x canonically into buf (n bytes, RS_NUMBER_BUF is always enough): an integral value with
 * |x| < 2^53 as plain decimal digits ("18", "-3", never "-0"), anything else as printf "%.15g"
 * ("0.5", "1234.5", "1e+20"), so 0.1+0.2 prints as "0.3". Returns snprintf's length. The simulated
 * model writes its numbers with this function too. */
int rs_format_number(double x, char *buf, size_t n);

/* Number of graders in s: cfg->n_graders, or 1 when the config gave none (a default "exact"
 * grader at index 0). rs_scorer_new(NULL, err) gives the defaults: auto extractor, one exact. */
size_t rs_scorer_n_graders(const rs_scorer_t *s);

/* ---- a judge's verdict ---- */

/* The compiled verdict of one judge (judges[].verdict): immutable, shared by every case. */
typedef struct rs_verdict_parser rs_verdict_parser_t;

/* NULL with err when the verdict's regex does not compile. The parser copies what it needs. */
rs_verdict_parser_t *rs_verdict_parser_new(const rs_verdict_cfg_t *cfg, rs_err_t *err);
void rs_verdict_parser_destroy(rs_verdict_parser_t **p);

/* Reads a judge's score in [0, 1] from its text: 1 and *score, or 0 (unparsed) when the text has
 * no verdict. text may be NULL (unparsed).
 * - choices: the choice whose occurrence in the text ENDS last wins (a longer one when two end at
 *   the same byte, so "not correct" beats "correct"). An occurrence counts only as a whole word:
 *   not preceded by an ASCII letter or digit when the choice starts with one, nor followed by one
 *   when it ends with one ("Y" is not found in "Yes" or "MY"). Matching is case-sensitive.
 * - regex: the last match; group 1 when the pattern has a group that took part, else the whole
 *   match; it must be a number (rs_answer_number: "7", "7.5", "**7**"), which is scaled to
 *   (v - min) / (max - min) and clamped to [0, 1]. Anything else is unparsed. */
int rs_verdict_parse(const rs_verdict_parser_t *p, const char *text, double *score);

#endif
