
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The public server and the internal one (the production configuration):
 * the token checked in the access phase and the reader as variables
 * (_access.c); the response cache's key variables, its TTL and the
 * generations that writes move on (_cache.c); the counters of every
 * request and GET /metrics (_metrics.c).
 */


#ifndef _NGX_HTTP_SOCIAL_ACCESS_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_ACCESS_H_INCLUDED_


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"


/* the header by which the public server tells the reader: "<id> <role>" */
#define NGX_HTTP_SOCIAL_READER_HEADER  "X-Social-Reader"


/* ngx_http_social_access.c */
char *ngx_http_social_access(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_social_access_init(ngx_conf_t *cf);
ngx_int_t ngx_http_social_access_variables(ngx_conf_t *cf);
ngx_int_t ngx_http_social_variables_add(ngx_conf_t *cf,
    ngx_http_variable_t *vars);
ngx_int_t ngx_http_social_access_trusted(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_access_reader(ngx_http_request_t *r,
    int64_t *user_id, ngx_uint_t *admin);

/* ngx_http_social_cache.c */
ngx_int_t ngx_http_social_cache_variables(ngx_conf_t *cf);
ngx_int_t ngx_http_social_cache_ttl(ngx_http_social_ctx_t *ctx,
    ngx_uint_t status);
void ngx_http_social_cache_written(ngx_http_social_ctx_t *ctx,
    ngx_uint_t status);
void ngx_http_social_cache_members(const char *array);
ngx_uint_t ngx_http_social_cache_evict(ngx_uint_t groups, ngx_uint_t feed);

/* ngx_http_social_metrics.c */
ngx_int_t ngx_http_social_metrics_init(ngx_conf_t *cf);
ngx_uint_t ngx_http_social_metrics_label(ngx_http_social_endpoint_t *ep);


#endif /* _NGX_HTTP_SOCIAL_ACCESS_H_INCLUDED_ */
