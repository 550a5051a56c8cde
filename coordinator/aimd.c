/* aimd: the cap's arithmetic; every clock reading comes from the caller. */
#include "aimd.h"

#include <math.h>
#include <string.h>

static int64_t clamp(const coord_aimd_t *a, int64_t v)
{
    if (v < a->p.floor) return a->p.floor;
    if (v > a->p.ceiling) return a->p.ceiling;
    return v;
}

void coord_aimd_init(coord_aimd_t *a, const coord_aimd_params_t *p)
{
    memset(a, 0, sizeof(*a));
    a->p = *p;
    a->cap = p->ceiling;
}

static void changed(coord_aimd_t *a, int64_t cap)
{
    a->cap = cap;
    a->ok = 0;
    a->peak = 0;
}

int coord_aimd_congested(coord_aimd_t *a, int64_t in_flight, int64_t now_ms)
{
    if (a->congested && now_ms - a->congested_ms < a->p.cooldown_ms) {
        a->ok = 0; /* no decrease, but the success since is not sustained */
        return 0;
    }
    a->congested = 1;
    a->congested_ms = now_ms;
    int64_t base = in_flight < a->cap ? in_flight : a->cap;
    if (base < 1) base = 1;
    int64_t cap = clamp(a, (int64_t)floor((double)base * a->p.factor));
    a->ok = 0; /* successes from before the congestion do not count towards an increase */
    if (cap >= a->cap) return 0;
    changed(a, cap);
    a->decreases++;
    return 1;
}

/* The cap limits dispatch when in flight came within a tenth of it (at least one step). */
static int binding(const coord_aimd_t *a)
{
    int64_t slack = a->cap / 10 > a->p.step ? a->cap / 10 : a->p.step;
    return a->peak + slack >= a->cap;
}

int coord_aimd_success(coord_aimd_t *a, int64_t n, int64_t in_flight, int64_t now_ms)
{
    (void)now_ms; /* growth is counted in calls, not time: a slow model grows slowly */
    if (n <= 0) return 0;
    a->ok += n;
    if (in_flight > a->peak) a->peak = in_flight;
    if (a->ok < a->cap || !binding(a) || a->cap >= a->p.ceiling) return 0;
    changed(a, clamp(a, a->cap + a->p.step));
    a->increases++;
    return 1;
}
