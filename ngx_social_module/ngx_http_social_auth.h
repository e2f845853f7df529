
/*
 * Copyright (C) ngx_social developers
 */


/* the request's side of tokens (see _auth.c; the pure side is _token.h) */


#ifndef _NGX_HTTP_SOCIAL_AUTH_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_AUTH_H_INCLUDED_


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_token.h"


ngx_int_t ngx_http_social_auth_check(ngx_http_social_ctx_t *ctx,
    ngx_http_social_auth_handler_pt handler);
ngx_int_t ngx_http_social_auth_claims(ngx_http_request_t *r,
    ngx_http_social_claims_t *claims);
ngx_int_t ngx_http_social_token(ngx_http_social_ctx_t *ctx, int64_t user_id,
    ngx_uint_t admin, int64_t gen, ngx_str_t *token);


#endif /* _NGX_HTTP_SOCIAL_AUTH_H_INCLUDED_ */
