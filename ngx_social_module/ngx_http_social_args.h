
/*
 * Copyright (C) ngx_social developers
 */


/*
 * What a client writes in a URL, judged: a limit, an id, a cursor (and
 * the cursor the server hands out); and digits as a number, which JSON
 * numbers and what Redis holds are read with too.  Pure functions of
 * their inputs (bytes, a key, a pool), callable without a request, a
 * connection or the event loop, so that they can be fuzzed alone.
 */


#ifndef _NGX_HTTP_SOCIAL_ARGS_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_ARGS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


ngx_int_t ngx_http_social_limit_parse(ngx_str_t *arg, ngx_uint_t min,
    ngx_uint_t max, ngx_uint_t *limit);
ngx_int_t ngx_http_social_atoi64(const u_char *p, size_t len, int64_t *n);
ngx_int_t ngx_http_social_parse_id(const u_char *p, size_t len,
    int64_t *id);
ngx_int_t ngx_http_social_cursor_decode(ngx_pool_t *pool, ngx_str_t *key,
    ngx_str_t *arg, int64_t *a, int64_t *b);
ngx_int_t ngx_http_social_cursor_encode(ngx_pool_t *pool, ngx_str_t *key,
    const char *a, const char *b, ngx_str_t *cursor);


#endif /* _NGX_HTTP_SOCIAL_ARGS_H_INCLUDED_ */
