/* datagen: synthetic datasets drawn from one seeded splitmix64 stream. Every choice draws from it
 * in a fixed order with integer arithmetic only, so (n, seed) fixes the output byte for byte on
 * every platform. The phrase tables are part of the format (datasets/README.md lists them). */
#include "datagen.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

typedef struct rng {
    uint64_t state;
} rng_t;

/* splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough for choosing words. */
static uint64_t rng_next(rng_t *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A draw in [0, n). Modulo bias does not matter here; exact reproducibility does. */
static int64_t rng_below(rng_t *r, int64_t n)
{
    return (int64_t)(rng_next(r) % (uint64_t)n);
}

/* ---- the arithmetic generator ---- */

typedef struct person {
    const char *name, *subj, *poss; /* "Mia", "she", "her" */
} person_t;

static const person_t people[] = {
    {"Mia", "she", "her"},   {"Liam", "he", "his"},   {"Ava", "she", "her"},
    {"Noah", "he", "his"},   {"Zoe", "she", "her"},   {"Omar", "he", "his"},
    {"Priya", "she", "her"}, {"Kenji", "he", "his"},  {"Lucia", "she", "her"},
    {"Mateo", "he", "his"},  {"Amara", "she", "her"}, {"Ivan", "he", "his"},
    {"Sofia", "she", "her"}, {"Tariq", "he", "his"},  {"Hana", "she", "her"},
    {"Diego", "he", "his"},
};

static const char *const objects[] = {
    "marbles", "apples", "stickers",  "coins", "books",   "pencils",
    "cookies", "stamps", "seashells", "beads", "crayons", "postcards",
};

/* Clause phrasings; %d is the operand. Subtraction never takes a value below 1, so every
 * intermediate and final answer is a positive integer. */
static const char *const add_phrases[] = {"gets %d more", "finds %d more", "buys %d more",
                                          "is given %d more", "collects %d more"};
static const char *const sub_phrases[] = {"gives away %d", "loses %d", "sells %d",
                                          "gives %d to a friend"};
static const char *const mul_verbs[] = {"doubles", "triples", "quadruples"}; /* x2, x3, x4 */

static const char *const endings[] = {"have now?", "end up with?", "have at the end?"};

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, N_OPS };
static const char op_symbols[N_OPS] = {'+', '-', '*', '/'};

#define MAX_OPS 5
#define MUL_LIMIT 2000 /* no multiplication above this, so values stay small for people */

typedef struct problem {
    rs_buf_t *q; /* the question being written */
    const person_t *who;
    const char *obj;
    int64_t value;       /* the running answer */
    unsigned seen;       /* ops used so far, as a bit mask */
    char order[MAX_OPS]; /* distinct ops in order of first use, for the tags */
    int n_order;
} problem_t;

static void note_op(problem_t *p, int op)
{
    if (p->seen & (1u << op)) return;
    p->seen |= 1u << op;
    p->order[p->n_order++] = op_symbols[op];
}

/* The divisors in 2..5 of v (up to 4 of them) into out; returns how many. */
static int divisors(int64_t v, int out[4])
{
    int n = 0;
    for (int k = 2; k <= 5; k++)
        if (v % k == 0) out[n++] = k;
    return n;
}

/* Picks an operation that keeps the value a positive integer of reasonable size. */
static int pick_op(rng_t *r, int64_t v)
{
    int ok[N_OPS], n = 0, divs[4];
    ok[n++] = OP_ADD;
    if (v >= 2) ok[n++] = OP_SUB;
    if (v <= MUL_LIMIT) ok[n++] = OP_MUL;
    if (divisors(v, divs) > 0) ok[n++] = OP_DIV;
    return ok[rng_below(r, n)];
}

/* Applies one operation to p->value and writes its clause ("gets 7 more"). */
static void apply_op(rng_t *r, problem_t *p, int op)
{
    int divs[4];
    int64_t k;
    switch (op) {
    case OP_ADD:
        k = 1 + rng_below(r, 30);
        rs_buf_printf(p->q, add_phrases[rng_below(r, RS_ARRAY_LEN(add_phrases))], (int)k);
        p->value += k;
        break;
    case OP_SUB:
        k = 1 + rng_below(r, p->value - 1 < 40 ? p->value - 1 : 40);
        rs_buf_printf(p->q, sub_phrases[rng_below(r, RS_ARRAY_LEN(sub_phrases))], (int)k);
        p->value -= k;
        break;
    case OP_MUL:
        k = 2 + rng_below(r, 3);
        rs_buf_printf(p->q, "%s %s %s", mul_verbs[k - 2], p->who->poss, p->obj);
        p->value *= k;
        break;
    default:
        k = divs[rng_below(r, divisors(p->value, divs))];
        if (k == 2 && rng_below(r, 2) == 0)
            rs_buf_printf(p->q, "gives away half of %s %s", p->who->poss, p->obj);
        else
            rs_buf_printf(p->q, "splits %s %s into %d equal piles and keeps one pile", p->who->poss,
                          p->obj, (int)k);
        p->value /= k;
        break;
    }
    note_op(p, op);
}

/* The text that joins clause i of n: style 0 chains "X, then Y, then Z."; style 1 uses one
 * sentence per step ("First she X. Then she Y."). */
static void clause_joint(problem_t *p, int style, int i, int n)
{
    const char *subj = p->who->subj;
    if (style == 0) {
        if (i == 0)
            rs_buf_printf(p->q, " %c%s ", subj[0] - 'a' + 'A', subj + 1);
        else
            rs_buf_puts(p->q, ", then ");
    } else if (i == 0) {
        if (n == 1)
            rs_buf_printf(p->q, " %c%s ", subj[0] - 'a' + 'A', subj + 1);
        else
            rs_buf_printf(p->q, " First %s ", subj);
    } else {
        rs_buf_printf(p->q, ". Then %s ", subj);
    }
}

/* Writes one case as a JSON line. All text comes from the tables above (ASCII, no quotes or
 * backslashes), so it needs no JSON escaping. */
static void gen_case(rng_t *r, uint64_t no, rs_buf_t *line, rs_buf_t *q)
{
    problem_t p = {.q = q};
    p.who = &people[rng_below(r, RS_ARRAY_LEN(people))];
    p.obj = objects[rng_below(r, RS_ARRAY_LEN(objects))];
    int style = (int)rng_below(r, 2);
    const char *ending = endings[rng_below(r, RS_ARRAY_LEN(endings))];
    int n_ops = 1 + (int)rng_below(r, MAX_OPS);
    p.value = 2 + rng_below(r, 39);

    rs_buf_reset(q);
    rs_buf_printf(q, "%s %s %" PRId64 " %s.", p.who->name, style ? "starts with" : "has", p.value,
                  p.obj);
    for (int i = 0; i < n_ops; i++) {
        clause_joint(&p, style, i, n_ops);
        apply_op(r, &p, pick_op(r, p.value));
    }
    rs_buf_printf(q, ". How many %s does %s %s", p.obj, p.who->name, ending);

    const char *level = n_ops <= 2 ? "easy" : n_ops == 3 ? "medium" : "hard";
    rs_buf_printf(line,
                  "{\"id\":\"arith-%06" PRIu64 "\",\"question\":\"%s\",\"answer\":\"%" PRId64
                  "\",\"tags\":[\"ops:%d\",\"difficulty:%s\"",
                  no, q->data, p.value, n_ops, level);
    for (int i = 0; i < p.n_order; i++)
        rs_buf_printf(line, ",\"op:%c\"", p.order[i]);
    rs_buf_puts(line, "]}\n");
}

int rs_datagen_arithmetic(FILE *out, uint64_t n, uint64_t seed, rs_err_t *err)
{
    rng_t r = {seed};
    rs_buf_t line, q;
    rs_buf_init(&line);
    rs_buf_init(&q);
    int rc = 0;
    for (uint64_t i = 1; i <= n && rc == 0; i++) {
        gen_case(&r, i, &line, &q);
        /* Batch lines so that a million cases cost a few thousand fwrite calls. */
        if (line.len >= (64u << 10) || i == n) {
            if (fwrite(line.data, 1, line.len, out) != line.len)
                rc = rs_err_set(err, "datagen: write error: %s", strerror(errno));
            rs_buf_reset(&line);
        }
    }
    if (rc == 0 && fflush(out) != 0)
        rc = rs_err_set(err, "datagen: write error: %s", strerror(errno));
    rs_buf_cleanup(&line);
    rs_buf_cleanup(&q);
    return rc;
}
