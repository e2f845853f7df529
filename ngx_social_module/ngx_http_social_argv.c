
/*
 * Copyright (C) ngx_social developers
 */


/*
 * A Redis command's arguments filled by slot, the lengths with them.  The
 * callers size the arrays for the slots they fill (slot < n): the fixed
 * slots of their enum, and what a list adds (see
 * ngx_http_social_pg_array_max()).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_social_argv.h"


/* the caller's arrays, of n slots */

void
ngx_http_social_argv_init(ngx_http_social_argv_t *a, const char **argv,
    size_t *lens, ngx_uint_t n)
{
    a->argv = argv;
    a->lens = lens;
    a->argc = 0;
    a->nalloc = n;
}


/* n slots from the pool */

ngx_int_t
ngx_http_social_argv_create(ngx_http_social_argv_t *a, ngx_pool_t *pool,
    ngx_uint_t n)
{
    size_t       *lens;
    const char  **argv;

    argv = ngx_palloc(pool, n * sizeof(char *));
    lens = ngx_palloc(pool, n * sizeof(size_t));

    if (argv == NULL || lens == NULL) {
        return NGX_ERROR;
    }

    ngx_http_social_argv_init(a, argv, lens, n);

    return NGX_OK;
}


/* a NUL-terminated value */

void
ngx_http_social_argv_set(ngx_http_social_argv_t *a, ngx_uint_t slot,
    const char *value)
{
    ngx_http_social_argv_set_len(a, slot, value, ngx_strlen(value));
}


/* a value of len bytes, any bytes */

void
ngx_http_social_argv_set_len(ngx_http_social_argv_t *a, ngx_uint_t slot,
    const char *value, size_t len)
{
    a->argv[slot] = value;
    a->lens[slot] = len;

    if (a->argc < slot + 1) {
        a->argc = slot + 1;
    }
}


/* n slots from slot on were filled in place, the lengths with them */

void
ngx_http_social_argv_filled(ngx_http_social_argv_t *a, ngx_uint_t slot,
    ngx_uint_t n)
{
    if (n && a->argc < slot + n) {
        a->argc = slot + n;
    }
}
