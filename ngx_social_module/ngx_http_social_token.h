
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The token (JWT HS256): its split, strict base64url, header, claims and
 * HMAC check, and its signing.  Pure: bytes, a key, a time and a pool in,
 * claims out; callable without a request, a connection or the event loop,
 * so that it can be fuzzed alone.  Where the token comes from and what
 * follows (its generation checked against revocations) is _auth.c's.
 */


#ifndef _NGX_HTTP_SOCIAL_TOKEN_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_TOKEN_H_INCLUDED_


#include "ngx_http_social_module.h"
#include "ngx_http_social_json.h"


/* typedef'd as ngx_http_social_claims_t in ngx_http_social_task.h */

struct ngx_http_social_claims_s {
    int64_t                         user_id;    /* "sub" */
    int64_t                         gen;        /* "gen" */
    time_t                          expires;    /* "exp" (read only) */
    ngx_uint_t                      admin;      /* "role"; unsigned:1 */
};


ngx_int_t ngx_http_social_token_parse(ngx_pool_t *pool, ngx_str_t *key,
    ngx_str_t *token, time_t now, ngx_http_social_claims_t *claims);
ngx_int_t ngx_http_social_token_sign(ngx_pool_t *pool, ngx_str_t *key,
    ngx_http_social_claims_t *claims, time_t now, time_t lifetime,
    ngx_str_t *token);
void ngx_http_social_token_json(yajl_gen g, ngx_str_t *token,
    time_t lifetime);


#endif /* _NGX_HTTP_SOCIAL_TOKEN_H_INCLUDED_ */
