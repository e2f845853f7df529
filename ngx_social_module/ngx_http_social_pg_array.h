
/*
 * Copyright (C) ngx_social developers
 */


/*
 * PostgreSQL's text of a one-dimensional array of integers, "{1,2,3}" (as
 * array_agg(...)::text and ARRAY(...)::text give it): a pure function of
 * the bytes, callable without a request, a connection or the event loop.
 */


#ifndef _NGX_HTTP_SOCIAL_PG_ARRAY_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_PG_ARRAY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* the most elements an array text of len bytes holds: each takes two */
#define ngx_http_social_pg_array_max(len)  ((size_t) (len) / 2)


ngx_uint_t ngx_http_social_pg_array_ids(const char *array, const char **ids,
    size_t *lens, ngx_uint_t max);


#endif /* _NGX_HTTP_SOCIAL_PG_ARRAY_H_INCLUDED_ */
