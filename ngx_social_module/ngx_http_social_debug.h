
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The test-only endpoints of ngx_http_social_debug.c.  Only the test build
 * (util/build test or asan, which define NGX_HTTP_SOCIAL_TEST) compiles that
 * file, and only it offers these endpoints to "social_endpoint".
 */


#ifndef _NGX_HTTP_SOCIAL_DEBUG_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_DEBUG_H_INCLUDED_


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_endpoints.h"


extern ngx_http_social_endpoint_t  ngx_http_social_debug_endpoints[];

ngx_int_t ngx_http_social_debug_redis_blob(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_debug_pg_sleep(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_debug_echo(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_debug_pg_txn(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_debug_pg_statements(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_debug_reads(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_debug_multi_fault(ngx_http_social_ctx_t *ctx);


#endif /* _NGX_HTTP_SOCIAL_DEBUG_H_INCLUDED_ */
