
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The request's side of tokens: the bearer token taken from the
 * request, judged by _token.c, its generation checked by _revoke.c; and
 * a token issued for an answer.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_token.h"
#include "ngx_http_social_auth.h"
#include "ngx_http_social_revoke.h"
#include "ngx_http_social_request.h"


static ngx_int_t ngx_http_social_auth_parse(ngx_http_social_ctx_t *ctx);
static ngx_int_t ngx_http_social_auth_bearer(ngx_http_request_t *r,
    ngx_str_t *key, ngx_http_social_claims_t *claims);


/*
 * The token check, in one place: the content handler calls it, and so
 * does the access phase (_access.c).  NGX_OK: ctx->user_id and ctx->admin are
 * the reader's.  NGX_DONE: a backend is asked and ctx->auth_handler runs
 * with ctx->auth_status set.  NGX_HTTP_UNAUTHORIZED: no valid token.
 * NGX_HTTP_SERVICE_UNAVAILABLE: revocation could not be checked.  The
 * signature and the claims in ngx_http_social_token.c, the generation in
 * ngx_http_social_revoke.c.
 */

ngx_int_t
ngx_http_social_auth_check(ngx_http_social_ctx_t *ctx,
    ngx_http_social_auth_handler_pt handler)
{
    if (ngx_http_social_auth_parse(ctx) != NGX_OK) {
        return NGX_HTTP_UNAUTHORIZED;
    }

    ctx->auth_handler = handler;

    return ngx_http_social_revoke_check(ctx);
}


static ngx_int_t
ngx_http_social_auth_parse(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_claims_t  claims;

    if (ngx_http_social_auth_claims(ctx->request, &claims) != NGX_OK) {
        return NGX_DECLINED;
    }

    ctx->user_id = claims.user_id;
    ctx->token_gen = claims.gen;
    ctx->admin = claims.admin;

    return NGX_OK;
}


/*
 * The request's bearer token, its signature and claims checked once a
 * request, whoever asks first (a limit's $social_reader, the access
 * phase, the handler), kept in the module's context of the request (made
 * here when there is none yet), and its expiry looked at each time:
 * NGX_OK with the claims, NGX_DECLINED without a valid token, NGX_ERROR
 * without memory.
 */

ngx_int_t
ngx_http_social_auth_claims(ngx_http_request_t *r,
    ngx_http_social_claims_t *claims)
{
    ngx_http_social_ctx_t       *ctx;
    ngx_http_social_claims_t    *c, read;
    ngx_http_social_loc_conf_t  *slcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_social_module);

    if (ctx == NULL) {
        slcf = ngx_http_get_module_loc_conf(r, ngx_http_social_module);

        ctx = ngx_http_social_ctx_create(r, slcf->endpoint);
        if (ctx == NULL) {
            return NGX_ERROR;
        }
    }

    if (!ctx->token_read) {
        ctx->token_read = 1;

        if (ngx_http_social_auth_bearer(r, &ctx->smcf->jwt_key, &read)
            == NGX_OK)
        {
            c = ngx_palloc(r->pool, sizeof(ngx_http_social_claims_t));
            if (c == NULL) {
                return NGX_ERROR;
            }

            *c = read;
            ctx->claims = c;
        }
    }

    c = ctx->claims;

    if (c == NULL || c->expires <= ngx_time()) {
        return NGX_DECLINED;
    }

    *claims = *c;

    return NGX_OK;
}


/*
 * Authorization: Bearer <header>.<payload>.<signature>, its signature and
 * claims checked (not its generation: that is ngx_http_social_auth_check)
 */

static ngx_int_t
ngx_http_social_auth_bearer(ngx_http_request_t *r, ngx_str_t *key,
    ngx_http_social_claims_t *claims)
{
    ngx_str_t  tok;

    if (r->headers_in.authorization == NULL) {
        return NGX_DECLINED;
    }

    tok = r->headers_in.authorization->value;

    /* the scheme is case-insensitive, as HTTP says */

    if (tok.len < 7 || ngx_strncasecmp(tok.data, (u_char *) "Bearer ", 7) != 0)
    {
        return NGX_DECLINED;
    }

    tok.data += 7;
    tok.len -= 7;

    while (tok.len && tok.data[0] == ' ') {
        tok.data++;
        tok.len--;
    }

    if (key->len == 0) {
        return NGX_DECLINED;
    }

    return ngx_http_social_token_parse(r->pool, key, &tok, ngx_time(),
                                       claims);
}


/* a signed token for the user, issued now, in the request pool */

ngx_int_t
ngx_http_social_token(ngx_http_social_ctx_t *ctx, int64_t user_id,
    ngx_uint_t admin, int64_t gen, ngx_str_t *token)
{
    ngx_http_social_claims_t  claims;

    claims.user_id = user_id;
    claims.gen = gen;
    claims.admin = admin;

    return ngx_http_social_token_sign(ctx->pool, &ctx->smcf->jwt_key,
                                      &claims, ngx_time(),
                                      ctx->smcf->token_lifetime, token);
}
