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

rs_log_level_t rs_log_level(void)
{
    return log_min;
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
    fprintf(stderr, "%s: %s: %s\n", log_program, names[level], line);
}
