/* progress: terminal bar or decile lines, with rate and ETA. */
#include "progress.h"

#include <stdio.h>
#include <unistd.h>

#include "util.h"

void coord_progress_view_init(coord_progress_view_t *v, int quiet, uint64_t start_done)
{
    v->tty = isatty(STDOUT_FILENO);
    v->quiet = quiet;
    v->last_decile = -1;
    v->started = rs_mono_sec();
    v->start_done = start_done;
    v->drawn = 0;
}

static void format_eta(char *out, size_t n, double seconds)
{
    if (seconds < 0 || seconds > 1e7) snprintf(out, n, "--");
    else if (seconds < 60) snprintf(out, n, "%.0fs", seconds);
    else if (seconds < 3600) snprintf(out, n, "%.0fm%02.0fs", seconds / 60, (double)((int)seconds % 60));
    else snprintf(out, n, "%.0fh%02.0fm", seconds / 3600, (double)((int)(seconds / 60) % 60));
}

static void draw(coord_progress_view_t *v, const coord_progress_t *p, int final)
{
    double elapsed = rs_mono_sec() - v->started;
    double rate = elapsed > 0 ? (double)(p->done - v->start_done) / elapsed : 0;
    double frac = p->total ? (double)p->done / (double)p->total : 1;
    char eta[32];
    format_eta(eta, sizeof(eta), rate > 0 ? (double)(p->total - p->done) / rate : -1);
    if (v->tty) {
        char bar[31];
        int fill = (int)(frac * 30);
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        printf("\r[%s] %5.1f%% %llu/%llu  %.0f cases/s  ETA %s  failed %llu  workers %zu\x1b[K",
               bar, 100 * frac, (unsigned long long)p->done, (unsigned long long)p->total, rate,
               final ? "0s" : eta, (unsigned long long)p->failed, p->workers);
        if (final) printf("\n");
    } else {
        printf("progress: %3d%% %llu/%llu cases, %.0f cases/s, %llu failed, %zu workers\n",
               (int)(frac * 100), (unsigned long long)p->done, (unsigned long long)p->total, rate,
               (unsigned long long)p->failed, p->workers);
    }
    fflush(stdout);
    v->drawn = 1;
}

void coord_progress_view_update(const coord_progress_t *p, void *arg)
{
    coord_progress_view_t *v = arg;
    if (v->quiet) return;
    if (v->tty) {
        draw(v, p, 0);
        return;
    }
    int decile = p->total ? (int)(p->done * 10 / p->total) : 10;
    if (decile > v->last_decile && decile < 10) {
        v->last_decile = decile;
        draw(v, p, 0);
    }
}

void coord_progress_view_finish(coord_progress_view_t *v, const coord_progress_t *p)
{
    if (v->quiet) return;
    if (v->tty || v->last_decile < 10) draw(v, p, 1);
    v->last_decile = 10;
}
