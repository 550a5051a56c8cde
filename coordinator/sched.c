/* sched: pending cases as a cursor plus a retry stack, completion as a bitmap. */
#include "sched.h"

#include <stdlib.h>

#include "util.h"

struct coord_sched {
    uint64_t total;
    uint64_t done;
    uint64_t cursor;    /* next never-sent case */
    uint64_t *retry;    /* stack of requeued cases */
    size_t n_retry, cap_retry;
    uint64_t requeued;
    uint64_t *bits;     /* 1 = has a result */
};

coord_sched_t *coord_sched_new(uint64_t total)
{
    coord_sched_t *s = rs_xcalloc(1, sizeof(*s));
    s->total = total;
    s->bits = rs_xcalloc(total / 64 + 1, sizeof(uint64_t));
    return s;
}

void coord_sched_destroy(coord_sched_t **s)
{
    if (!s || !*s) return;
    free((*s)->retry);
    free((*s)->bits);
    free(*s);
    *s = NULL;
}

int coord_sched_is_done(const coord_sched_t *s, uint64_t idx)
{
    return idx < s->total && (s->bits[idx / 64] >> (idx % 64)) & 1;
}

int coord_sched_complete(coord_sched_t *s, uint64_t idx)
{
    if (idx >= s->total || coord_sched_is_done(s, idx)) return 0;
    s->bits[idx / 64] |= (uint64_t)1 << (idx % 64);
    s->done++;
    return 1;
}

size_t coord_sched_take(coord_sched_t *s, uint64_t *out, size_t max)
{
    size_t n = 0;
    while (n < max && s->n_retry > 0) {
        uint64_t idx = s->retry[--s->n_retry];
        if (!coord_sched_is_done(s, idx)) out[n++] = idx;
    }
    while (n < max && s->cursor < s->total) {
        uint64_t idx = s->cursor++;
        if (!coord_sched_is_done(s, idx)) out[n++] = idx;
    }
    return n;
}

/* Pushed in reverse so that they come out again in their original order. Returns how many. */
static size_t push_back(coord_sched_t *s, const uint64_t *idx, size_t n)
{
    size_t pushed = 0;
    for (size_t i = n; i-- > 0;) {
        if (coord_sched_is_done(s, idx[i])) continue;
        if (s->n_retry == s->cap_retry) {
            s->cap_retry = s->cap_retry ? 2 * s->cap_retry : 256;
            s->retry = rs_xrealloc(s->retry, s->cap_retry * sizeof(*s->retry));
        }
        s->retry[s->n_retry++] = idx[i];
        pushed++;
    }
    return pushed;
}

void coord_sched_requeue(coord_sched_t *s, const uint64_t *idx, size_t n)
{
    s->requeued += push_back(s, idx, n);
}

void coord_sched_untake(coord_sched_t *s, const uint64_t *idx, size_t n)
{
    push_back(s, idx, n);
}

uint64_t coord_sched_total(const coord_sched_t *s)
{
    return s->total;
}

uint64_t coord_sched_done(const coord_sched_t *s)
{
    return s->done;
}

uint64_t coord_sched_requeued(const coord_sched_t *s)
{
    return s->requeued;
}
