
/*
 * Copyright (C) ngx_social developers
 */


/*
 * A Redis command's arguments and their lengths, filled by slot: each
 * caller names its slots (an enum beside the script or the command), and
 * ngx_http_social_argv_set() fills the length with the value.  argc is
 * one past the highest slot filled.  Nothing here sends anything: the
 * arrays go to ngx_http_social_redis_command() or _script() as they are.
 */


#ifndef _NGX_HTTP_SOCIAL_ARGV_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_ARGV_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


typedef struct {
    const char                    **argv;
    size_t                         *lens;
    ngx_uint_t                      argc;
    ngx_uint_t                      nalloc;
} ngx_http_social_argv_t;


void ngx_http_social_argv_init(ngx_http_social_argv_t *a, const char **argv,
    size_t *lens, ngx_uint_t n);
ngx_int_t ngx_http_social_argv_create(ngx_http_social_argv_t *a,
    ngx_pool_t *pool, ngx_uint_t n);
void ngx_http_social_argv_set(ngx_http_social_argv_t *a, ngx_uint_t slot,
    const char *value);
void ngx_http_social_argv_set_len(ngx_http_social_argv_t *a, ngx_uint_t slot,
    const char *value, size_t len);
void ngx_http_social_argv_filled(ngx_http_social_argv_t *a, ngx_uint_t slot,
    ngx_uint_t n);


#endif /* _NGX_HTTP_SOCIAL_ARGV_H_INCLUDED_ */
