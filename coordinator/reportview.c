/* reportview: small readers of a report object, shared by its writers (reportview.h). */
#include "reportview.h"

#include "jsonget.h"

int coord_report_has_strategies(json_t *report, json_t **pool)
{
    *pool = json_object_get(json_object_get(report, "pool"), "strategies");
    return coord_any_with_array(json_object_get(report, "models"), "strategies", 2) ||
           json_array_size(*pool) >= 2;
}

/* The cases of report.json's "corrupted", joined by ", " (at most the listed ones). */
void coord_report_corrupted_cases(rs_buf_t *b, json_t *report)
{
    json_t *c = json_object_get(report, "corrupted"), *i;
    size_t k;
    json_array_foreach(json_object_get(c, "cases"), k, i)
        rs_buf_printf(b, "%s%lld", k ? ", " : "", (long long)json_integer_value(i));
    if ((json_int_t)json_array_size(json_object_get(c, "cases")) <
        json_integer_value(json_object_get(c, "count")))
        rs_buf_puts(b, ", \xE2\x80\xA6");
}

uint64_t coord_report_corrupted(json_t *report)
{
    return (uint64_t)json_integer_value(json_object_get(json_object_get(report, "corrupted"), "count"));
}

void coord_report_concurrency_line(rs_buf_t *b, json_t *m)
{
#define N(k) ((long long)json_integer_value(json_object_get(m, k)))
    if (json_is_true(json_object_get(m, "adaptive")))
        rs_buf_printf(b, "adaptive cap %lld (floor %lld, ceiling %lld, lowest %lld; %lld down, "
                         "%lld up)",
                      N("cap"), N("floor"), N("ceiling"), N("min_cap"), N("decreases"),
                      N("increases"));
    else
        rs_buf_puts(b, "fixed cap");
    rs_buf_printf(b, "; %lld 429/503, %lld pause(s) for Retry-After (%.1f s)", N("congested"),
                  N("pauses"), (double)N("paused_ms") / 1000.0);
#undef N
}
