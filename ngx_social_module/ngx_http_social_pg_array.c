
/*
 * Copyright (C) ngx_social developers
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_social_pg_array.h"


/*
 * The ids of the NUL-terminated array text "{1,2,3}", in place: ids[i]
 * points into the text, lens[i] is its length; at most max of them.  The
 * number found: the digits up to the first element that is not one ("{}"
 * and a text that is not an array: none).
 */

ngx_uint_t
ngx_http_social_pg_array_ids(const char *array, const char **ids,
    size_t *lens, ngx_uint_t max)
{
    ngx_uint_t   n;
    const char  *p, *start;

    if (array[0] != '{') {
        return 0;
    }

    n = 0;

    for (p = array + 1; *p && *p != '}' && n < max; p++) {
        start = p;

        while (*p >= '0' && *p <= '9') {
            p++;
        }

        if (p == start) {
            break;
        }

        ids[n] = start;
        lens[n] = p - start;
        n++;

        if (*p != ',') {
            break;
        }
    }

    return n;
}
