
/*
 * Copyright (C) ngx_social developers
 */


/*
 * Tokens: JWT HS256 signed with OpenSSL's HMAC, strict base64url, the
 * signature compared in constant time.  The token's generation ("gen")
 * is checked by ngx_http_social_revoke.c.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>


static ngx_int_t ngx_http_social_auth_parse(ngx_http_social_ctx_t *ctx);
static ngx_int_t ngx_http_social_b64url(ngx_pool_t *pool, ngx_str_t *in,
    ngx_str_t *out);
static ngx_int_t ngx_http_social_claim_int(ngx_http_social_json_t *payload,
    const char *key, int64_t *n);


static const char  ngx_http_social_jwt_header[] =
    "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";


/*
 * The token check, in one place: the content handler calls it, and so
 * will an access-phase handler.  NGX_OK: ctx->user_id and ctx->admin are
 * the reader's.  NGX_DONE: a backend is asked and ctx->auth_handler runs
 * with ctx->auth_status set.  NGX_HTTP_UNAUTHORIZED: no valid token.
 * NGX_HTTP_SERVICE_UNAVAILABLE: revocation could not be checked.  The
 * signature and the claims here, the generation in
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


/* Authorization: Bearer <header>.<payload>.<signature> */

static ngx_int_t
ngx_http_social_auth_parse(ngx_http_social_ctx_t *ctx)
{
    u_char                       *dot1, *dot2, *last;
    int64_t                       exp, iat, sub;
    ngx_str_t                     tok, part, text, sig;
    unsigned int                  len;
    ngx_http_request_t           *r;
    ngx_http_social_json_t       *header, *payload, *v;
    ngx_http_social_main_conf_t  *smcf;
    u_char                        mac[EVP_MAX_MD_SIZE];

    r = ctx->request;
    smcf = ctx->smcf;

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

    last = tok.data + tok.len;

    dot1 = ngx_strlchr(tok.data, last, '.');
    if (dot1 == NULL) {
        return NGX_DECLINED;
    }

    dot2 = ngx_strlchr(dot1 + 1, last, '.');
    if (dot2 == NULL || ngx_strlchr(dot2 + 1, last, '.') != NULL) {
        return NGX_DECLINED;
    }

    /* the signature first: nothing unsigned is parsed */

    part.data = dot2 + 1;
    part.len = last - part.data;

    if (ngx_http_social_b64url(r->pool, &part, &sig) != NGX_OK
        || sig.len != 32)
    {
        return NGX_DECLINED;
    }

    if (HMAC(EVP_sha256(), smcf->jwt_key.data, smcf->jwt_key.len,
             tok.data, dot2 - tok.data, mac, &len)
        == NULL
        || len != 32
        || CRYPTO_memcmp(mac, sig.data, 32) != 0)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "social auth: bad signature");
        return NGX_DECLINED;
    }

    /* only HS256: "none" and every other algorithm are refused */

    part.data = tok.data;
    part.len = dot1 - tok.data;

    if (ngx_http_social_b64url(r->pool, &part, &text) != NGX_OK) {
        return NGX_DECLINED;
    }

    header = ngx_http_social_json_parse(r->pool, text.data, text.len);
    v = ngx_http_social_json_get(header, "alg");

    if (v == NULL || v->type != NGX_HTTP_SOCIAL_JSON_STRING
        || v->str.len != 5 || ngx_strncmp(v->str.data, "HS256", 5) != 0
        || ngx_http_social_json_get(header, "crit") != NULL)
    {
        return NGX_DECLINED;
    }

    part.data = dot1 + 1;
    part.len = dot2 - part.data;

    if (ngx_http_social_b64url(r->pool, &part, &text) != NGX_OK) {
        return NGX_DECLINED;
    }

    payload = ngx_http_social_json_parse(r->pool, text.data, text.len);

    /* "sub": the user id as a decimal string, no sign, no leading zero */

    v = ngx_http_social_json_get(payload, "sub");

    if (v == NULL || v->type != NGX_HTTP_SOCIAL_JSON_STRING
        || ngx_http_social_parse_id(v->str.data, v->str.len, &sub) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (ngx_http_social_claim_int(payload, "exp", &exp) != NGX_OK
        || ngx_http_social_claim_int(payload, "iat", &iat) != NGX_OK
        || ngx_http_social_claim_int(payload, "gen", &ctx->token_gen)
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (exp <= ngx_time()) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "social auth: token expired");
        return NGX_DECLINED;
    }

    v = ngx_http_social_json_get(payload, "role");

    if (v == NULL || v->type != NGX_HTTP_SOCIAL_JSON_STRING) {
        return NGX_DECLINED;
    }

    if (v->str.len == 5 && ngx_strncmp(v->str.data, "admin", 5) == 0) {
        ctx->admin = 1;

    } else if (v->str.len != 4 || ngx_strncmp(v->str.data, "user", 4) != 0) {
        return NGX_DECLINED;
    }

    ctx->user_id = sub;

    return NGX_OK;
}


static ngx_int_t
ngx_http_social_claim_int(ngx_http_social_json_t *payload, const char *key,
    int64_t *n)
{
    ngx_http_social_json_t  *v;

    v = ngx_http_social_json_get(payload, key);

    if (v == NULL || v->type != NGX_HTTP_SOCIAL_JSON_INTEGER || v->big
        || v->integer < 0)
    {
        return NGX_ERROR;
    }

    *n = v->integer;

    return NGX_OK;
}


/* strict base64url: the URL alphabet, no padding, canonical trailing bits */

static ngx_int_t
ngx_http_social_b64url(ngx_pool_t *pool, ngx_str_t *in, ngx_str_t *out)
{
    ngx_str_t  again;

    if (in->len == 0 || in->len % 4 == 1) {
        return NGX_ERROR;
    }

    out->data = ngx_pnalloc(pool, ngx_base64_decoded_length(in->len) + 1);
    again.data = ngx_pnalloc(pool, ngx_base64_encoded_length(in->len));

    if (out->data == NULL || again.data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_decode_base64url(out, in) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_encode_base64url(&again, out);

    if (again.len != in->len || ngx_strncmp(again.data, in->data, in->len))
    {
        return NGX_ERROR;
    }

    out->data[out->len] = '\0';

    return NGX_OK;
}


/* a signed token for the user, in the request pool */

ngx_int_t
ngx_http_social_token(ngx_http_social_ctx_t *ctx, int64_t user_id,
    ngx_uint_t admin, int64_t gen, ngx_str_t *token)
{
    u_char      *p, *buf;
    time_t       now;
    size_t       plen;
    ngx_str_t    src, dst;
    unsigned int len;
    u_char       payload[256], mac[EVP_MAX_MD_SIZE];

    now = ngx_time();

    plen = ngx_snprintf(payload, sizeof(payload),
                        "{\"sub\":\"%L\",\"role\":\"%s\",\"iat\":%T,"
                        "\"exp\":%T,\"gen\":%L}",
                        user_id, admin ? "admin" : "user", now,
                        now + ctx->smcf->token_lifetime, gen)
           - payload;

    buf = ngx_pnalloc(ctx->request->pool,
                      ngx_base64_encoded_length(
                          sizeof(ngx_http_social_jwt_header))
                      + ngx_base64_encoded_length(plen)
                      + ngx_base64_encoded_length(32) + 2);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    dst.data = buf;
    src.data = (u_char *) ngx_http_social_jwt_header;
    src.len = sizeof(ngx_http_social_jwt_header) - 1;
    ngx_encode_base64url(&dst, &src);
    p = buf + dst.len;
    *p++ = '.';

    dst.data = p;
    src.data = payload;
    src.len = plen;
    ngx_encode_base64url(&dst, &src);
    p += dst.len;

    if (HMAC(EVP_sha256(), ctx->smcf->jwt_key.data, ctx->smcf->jwt_key.len,
             buf, p - buf, mac, &len)
        == NULL)
    {
        return NGX_ERROR;
    }

    *p++ = '.';

    dst.data = p;
    src.data = mac;
    src.len = len;
    ngx_encode_base64url(&dst, &src);
    p += dst.len;

    token->data = buf;
    token->len = p - buf;

    return NGX_OK;
}
