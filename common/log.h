/* log: one line per event on stderr, "name: level: message", with a process-wide level. */
#ifndef RS_LOG_H
#define RS_LOG_H

typedef enum rs_log_level {
    RS_LOG_DEBUG = 0,
    RS_LOG_INFO = 1,
    RS_LOG_WARN = 2,
    RS_LOG_ERROR = 3,
    RS_LOG_QUIET = 4,
} rs_log_level_t;

void rs_log_init(const char *program, rs_log_level_t level);
void rs_log_set_level(rs_log_level_t level);
/* Formats one message and writes it as one line: line breaks and tabs in it become spaces and
 * other control characters (escape sequences) "?", whatever the arguments held. */
void rs_log(rs_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define rs_debug(...) rs_log(RS_LOG_DEBUG, __VA_ARGS__)
#define rs_info(...) rs_log(RS_LOG_INFO, __VA_ARGS__)
#define rs_warn(...) rs_log(RS_LOG_WARN, __VA_ARGS__)
#define rs_error(...) rs_log(RS_LOG_ERROR, __VA_ARGS__)

#endif
