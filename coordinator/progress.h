/* progress: the run's progress on stdout — a bar redrawn in place on a terminal, or one plain line
 * per 10% when stdout is a file or a pipe (so logs stay readable). */
#ifndef COORD_PROGRESS_H
#define COORD_PROGRESS_H

#include <stdint.h>

#include "dispatch.h"

typedef struct coord_progress_view {
    int tty;
    int quiet;
    int last_decile;
    double started;      /* rs_mono_sec at start */
    uint64_t start_done; /* cases already done when this process started (resume) */
    int drawn;
} coord_progress_view_t;

void coord_progress_view_init(coord_progress_view_t *v, int quiet, uint64_t start_done);
/* A coord_progress_fn: draws the bar or prints the next 10% line. */
void coord_progress_view_update(const coord_progress_t *p, void *view);
/* Final draw and newline. */
void coord_progress_view_finish(coord_progress_view_t *v, const coord_progress_t *p);

#endif
