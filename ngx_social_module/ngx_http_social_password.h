
/*
 * Copyright (C) ngx_social developers
 */


/* passwords: the rule, scrypt on the thread pool, the keyed hash */


#ifndef _NGX_HTTP_SOCIAL_PASSWORD_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_PASSWORD_H_INCLUDED_


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"


/* hash is NULL when hashing failed or the password did not match */
typedef void (*ngx_http_social_password_pt)(ngx_http_social_ctx_t *ctx,
    ngx_str_t *hash);


ngx_uint_t ngx_http_social_password_valid(ngx_str_t *password);
ngx_int_t ngx_http_social_password_field(ngx_http_social_ctx_t *ctx,
    const char *key, ngx_str_t *pw);
ngx_int_t ngx_http_social_password_hash(ngx_http_social_ctx_t *ctx,
    ngx_str_t *password, ngx_http_social_password_pt handler);
ngx_int_t ngx_http_social_password_verify(ngx_http_social_ctx_t *ctx,
    ngx_str_t *password, ngx_str_t *stored,
    ngx_http_social_password_pt handler);
ngx_int_t ngx_http_social_password_init_process(ngx_cycle_t *cycle,
    ngx_http_social_main_conf_t *smcf);
ngx_int_t ngx_http_social_password_hmac(ngx_http_social_ctx_t *ctx,
    ngx_str_t *password, ngx_str_t *out);


#endif /* _NGX_HTTP_SOCIAL_PASSWORD_H_INCLUDED_ */
