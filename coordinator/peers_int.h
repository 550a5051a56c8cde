/* peers_int: what the peers' unit test reads of their state (tests/unit/test_peers.c); not for
 * other modules. */
#ifndef COORD_PEERS_INT_H
#define COORD_PEERS_INT_H

#include <stddef.h>

#include "peers.h"

/* How many bans p holds now, expired ones not yet dropped included (at most COORD_PEERS_MAX_BANS). */
size_t coord_peers_n_bans(const coord_peers_t *p);

#endif
