/* log: stderr logging with a level set once per process. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static char log_program[64] = "reasonsaver";
static rs_log_level_t log_min = RS_LOG_INFO;

void rs_log_init(const char *program, rs_log_level_t level)
{
    snprintf(log_program, sizeof(log_program), "%s", program);
    log_min = level;
}

void rs_log_set_level(rs_log_level_t level)
{
    log_min = level;
}

/* A message may quote text from a peer, a model or a file: whatever it holds, it stays one line
 * of text. Line breaks and tabs become spaces (no forged log line can start), other control
 * characters '?' (no terminal escape sequence reaches the screen). UTF-8 passes as it is. */
static void one_line(char *s)
{
    for (unsigned char *p = (unsigned char *)s; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
        else if (*p < 0x20 || *p == 0x7f) *p = '?';
}

void rs_log(rs_log_level_t level, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warning", "error"};
    if (level < log_min || level > RS_LOG_ERROR) return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    one_line(line);
    fprintf(stderr, "%s: %s: %s\n", log_program, names[level], line);
}
