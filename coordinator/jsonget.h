/* jsonget: reading a value out of a jansson object whatever the object holds: a missing key, a
 * NULL object or a value of another type reads as the default ("", 0), so the writers that render
 * reports, comparisons and manifests need no check per field. Static inline: each is a line. */
#ifndef COORD_JSONGET_H
#define COORD_JSONGET_H

#include <jansson.h>
#include <stddef.h>

/* o[key] when it is a string, else dflt. */
static inline const char *coord_jstr_or(json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : dflt;
}

/* o[key] when it is a string, else "". */
static inline const char *coord_jstr(json_t *o, const char *key)
{
    return coord_jstr_or(o, key, "");
}

/* o[key] when it is an integer, else 0. */
static inline long long coord_jint(json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

/* o[key] when it is a number (integer or real), else 0. */
static inline double coord_jnum(json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

/* Whether some entry of the array arr (report.json's models, say) has an array `field` of at
 * least min entries; 0 when arr is not an array. */
static inline int coord_any_with_array(json_t *arr, const char *field, size_t min)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        if (json_array_size(json_object_get(e, field)) >= min) return 1;
    }
    return 0;
}

#endif
