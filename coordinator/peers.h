/* peers: what the coordinator holds against the peers on its socket — results and messages it
 * rejected (by reason), late results it took, peers it cut off — and the per-minute budget of
 * rejections past which a peer is cut off and banned for a while.
 *
 * Everything here is keyed by a peer's name (its CURVE key name, else its sanitised worker id, or
 * "anonymous" before a HELLO), and bounded: at most COORD_PEERS_MAX_NAMES names are kept apart,
 * the rest are added up under "(others)", so a flood of identities cannot grow it without end.
 * The totals survive a resume through coord_peers_json / coord_peers_restore (rs:run:<id>:peers). */
#ifndef COORD_PEERS_H
#define COORD_PEERS_H

#include <jansson.h>
#include <stdint.h>

#define COORD_PEERS_MAX_NAMES 256
#define COORD_PEERS_MAX_BANS 4096

typedef struct coord_peers coord_peers_t;

/* max_per_minute: rejections a peer may earn in one minute before it is cut off; ban_ms: how long
 * a cut-off peer's messages are dropped unread. */
coord_peers_t *coord_peers_new(int64_t max_per_minute, int64_t ban_ms);
void coord_peers_destroy(coord_peers_t **p);

/* Adds the totals of an earlier coordinator of the same run (coord_peers_json's text). Returns -1
 * (and changes nothing) when the text is not such an object. */
int coord_peers_restore(coord_peers_t *p, const char *json);

/* Counts n rejections of one reason (a short word: not_leased, duplicate, bad_record, ...) against
 * name. window is the caller's per-peer budget state (start of its minute and its count there;
 * zero-initialised). Returns 1 when this takes the peer over its budget: the caller cuts it off. */
typedef struct coord_peer_window {
    int64_t start_ms;
    uint64_t count;
} coord_peer_window_t;
int coord_peers_reject(coord_peers_t *p, coord_peer_window_t *window, const char *name,
                       const char *reason, uint64_t n, int64_t now_ms);
/* Results taken from a lease that had ended less than one lease ago. */
void coord_peers_late(coord_peers_t *p, const char *name, uint64_t n);
/* A peer cut off (over budget, its queue full): counted, and key banned until now + ban_ms.
 * key is what identifies the peer on the wire (routing identity in hex, or a CURVE key name). */
void coord_peers_cut_off(coord_peers_t *p, const char *name, const char *key, int64_t now_ms);
/* 1 while key is banned. */
int coord_peers_banned(coord_peers_t *p, const char *key, int64_t now_ms);

uint64_t coord_peers_rejected(const coord_peers_t *p);
uint64_t coord_peers_late_total(const coord_peers_t *p);

/* {"rejected": N, "late": N, "cut_off": N, "reasons": {reason: N},
 *  "by_peer": {name: {"rejected", "late", "cut_off", "reasons"}}} (new reference). */
json_t *coord_peers_json(const coord_peers_t *p);

#endif
