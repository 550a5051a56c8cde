/* peers: rejection counts per peer and reason, the per-minute budget, bans. The counters are kept
 * as the JSON they are published as: they change only when a peer misbehaves or is late. */
#include "peers.h"
#include "peers_int.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define WINDOW_MS 60000
#define OTHERS "(others)"

typedef struct ban {
    char *key;
    int64_t until_ms;
} ban_t;

struct coord_peers {
    int64_t max_per_minute, ban_ms;
    json_t *totals;  /* {"rejected", "late", "cut_off", "reasons": {}} */
    json_t *by_peer; /* name -> the same shape */
    ban_t *bans;
    size_t n_bans;
};

static json_t *counters_new(void)
{
    return json_pack("{sIsIsIs{}}", "rejected", (json_int_t)0, "late", (json_int_t)0, "cut_off",
                     (json_int_t)0, "reasons");
}

static void bump(json_t *obj, const char *key, uint64_t n)
{
    json_t *v = json_object_get(obj, key);
    json_int_t now = json_is_integer(v) ? json_integer_value(v) : 0;
    json_object_set_new(obj, key, json_integer(now + (json_int_t)n));
}

/* The counters of name, created on first use; past COORD_PEERS_MAX_NAMES names, "(others)". */
static json_t *peer(coord_peers_t *p, const char *name)
{
    json_t *c = json_object_get(p->by_peer, name);
    if (c) return c;
    if (json_object_size(p->by_peer) >= COORD_PEERS_MAX_NAMES) name = OTHERS;
    if ((c = json_object_get(p->by_peer, name))) return c;
    json_object_set_new(p->by_peer, name, counters_new());
    return json_object_get(p->by_peer, name);
}

coord_peers_t *coord_peers_new(int64_t max_per_minute, int64_t ban_ms)
{
    coord_peers_t *p = rs_xcalloc(1, sizeof(*p));
    p->max_per_minute = max_per_minute;
    p->ban_ms = ban_ms;
    p->totals = counters_new();
    p->by_peer = json_object();
    return p;
}

void coord_peers_destroy(coord_peers_t **pp)
{
    if (!pp || !*pp) return;
    coord_peers_t *p = *pp;
    json_decref(p->totals);
    json_decref(p->by_peer);
    for (size_t i = 0; i < p->n_bans; i++) free(p->bans[i].key);
    free(p->bans);
    free(p);
    *pp = NULL;
}

/* Adds src's counters (same shape) into dst. */
static void add_counters(json_t *dst, json_t *src)
{
    static const char *const fields[] = {"rejected", "late", "cut_off"};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(src, fields[i]);
        if (json_is_integer(v) && json_integer_value(v) > 0)
            bump(dst, fields[i], (uint64_t)json_integer_value(v));
    }
    const char *reason;
    json_t *v;
    json_t *reasons = json_object_get(src, "reasons");
    if (!json_is_object(reasons)) return;
    json_object_foreach(reasons, reason, v)
        if (json_is_integer(v) && json_integer_value(v) > 0)
            bump(json_object_get(dst, "reasons"), reason, (uint64_t)json_integer_value(v));
}

int coord_peers_restore(coord_peers_t *p, const char *text)
{
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        return -1;
    }
    add_counters(p->totals, j);
    const char *name;
    json_t *c;
    json_t *by = json_object_get(j, "by_peer");
    if (json_is_object(by))
        json_object_foreach(by, name, c) if (json_is_object(c)) add_counters(peer(p, name), c);
    json_decref(j);
    return 0;
}

int coord_peers_reject(coord_peers_t *p, coord_peer_window_t *w, const char *name,
                       const char *reason, uint64_t n, int64_t now_ms)
{
    json_t *c = peer(p, name);
    bump(c, "rejected", n);
    bump(json_object_get(c, "reasons"), reason, n);
    bump(p->totals, "rejected", n);
    bump(json_object_get(p->totals, "reasons"), reason, n);
    if (now_ms - w->start_ms >= WINDOW_MS) {
        w->start_ms = now_ms;
        w->count = 0;
    }
    w->count += n;
    return w->count > (uint64_t)p->max_per_minute;
}

void coord_peers_late(coord_peers_t *p, const char *name, uint64_t n)
{
    bump(peer(p, name), "late", n);
    bump(p->totals, "late", n);
}

static void prune_bans(coord_peers_t *p, int64_t now_ms)
{
    for (size_t i = 0; i < p->n_bans;) {
        if (p->bans[i].until_ms > now_ms) {
            i++;
            continue;
        }
        free(p->bans[i].key);
        p->bans[i] = p->bans[--p->n_bans];
    }
}

void coord_peers_cut_off(coord_peers_t *p, const char *name, const char *key, int64_t now_ms)
{
    bump(peer(p, name), "cut_off", 1);
    bump(p->totals, "cut_off", 1);
    prune_bans(p, now_ms);
    if (!key || !*key || coord_peers_banned(p, key, now_ms)) return;
    if (p->n_bans == COORD_PEERS_MAX_BANS) { /* full: the ban nearest its end makes room */
        size_t first = 0;
        for (size_t i = 1; i < p->n_bans; i++)
            if (p->bans[i].until_ms < p->bans[first].until_ms) first = i;
        free(p->bans[first].key);
        p->bans[first] = p->bans[--p->n_bans];
    }
    if (!p->bans) p->bans = rs_xcalloc(COORD_PEERS_MAX_BANS, sizeof(*p->bans));
    p->bans[p->n_bans++] = (ban_t){rs_xstrdup(key), now_ms + p->ban_ms};
}

int coord_peers_banned(coord_peers_t *p, const char *key, int64_t now_ms)
{
    for (size_t i = 0; i < p->n_bans; i++)
        if (p->bans[i].until_ms > now_ms && strcmp(p->bans[i].key, key) == 0) return 1;
    return 0;
}

uint64_t coord_peers_rejected(const coord_peers_t *p)
{
    return (uint64_t)json_integer_value(json_object_get(p->totals, "rejected"));
}

uint64_t coord_peers_late_total(const coord_peers_t *p)
{
    return (uint64_t)json_integer_value(json_object_get(p->totals, "late"));
}

json_t *coord_peers_json(const coord_peers_t *p)
{
    json_t *j = json_deep_copy(p->totals);
    json_object_set_new(j, "by_peer", json_deep_copy(p->by_peer));
    return j;
}

size_t coord_peers_n_bans(const coord_peers_t *p)
{
    return p->n_bans;
}
