
/*
 * Copyright (C) ngx_social developers
 */


/*
 * Tokens: JWT HS256 signed with OpenSSL's HMAC, strict base64url, the
 * signature compared in constant time, and revocation through a per-user
 * generation kept in PostgreSQL, shared through Redis and remembered by
 * each worker for at most one second.
 */


#include "ngx_http_social_module.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>


#define NGX_HTTP_SOCIAL_MEMO_SIZE   4096
#define NGX_HTTP_SOCIAL_MEMO_MSEC   1000
#define NGX_HTTP_SOCIAL_GEN_TTL     "3600"

/* the generation of a deleted user: no token carries it */
#define NGX_HTTP_SOCIAL_GEN_GONE    "9223372036854775807"


typedef struct {
    int64_t                         user_id;
    int64_t                         gen;
    ngx_msec_t                      expires;
} ngx_http_social_memo_t;


static ngx_int_t ngx_http_social_auth_parse(ngx_http_social_ctx_t *ctx);
static ngx_int_t ngx_http_social_b64url(ngx_pool_t *pool, ngx_str_t *in,
    ngx_str_t *out);
static ngx_int_t ngx_http_social_claim_int(ngx_http_social_json_t *payload,
    const char *key, int64_t *n);
static void ngx_http_social_auth_redis(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_auth_pg(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_auth_decide(ngx_http_social_ctx_t *ctx,
    int64_t gen);
static ngx_http_social_memo_t *ngx_http_social_memo(int64_t user_id);


static ngx_http_social_memo_t  ngx_http_social_memos[NGX_HTTP_SOCIAL_MEMO_SIZE];

static const char  ngx_http_social_jwt_header[] =
    "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static const char  ngx_http_social_sql_token_gen[] =
    "SELECT token_gen FROM users WHERE user_id = $1";

static ngx_http_social_script_t  ngx_http_social_gen_script = {
    /* SET only upwards; KEYS: the key; ARGV: the generation, the TTL */
    "local c = tonumber(redis.call('GET', KEYS[1]) or '-1') "
    "if tonumber(ARGV[1]) >= c then "
    "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end "
    "return 1",
    ""
};


/*
 * The token check, in one place: the content handler calls it, and so
 * will an access-phase handler.  NGX_OK: ctx->user_id and ctx->admin are
 * the reader's.  NGX_DONE: a backend is asked and ctx->auth_handler runs
 * with ctx->auth_status set.  NGX_HTTP_UNAUTHORIZED: no valid token.
 * NGX_HTTP_SERVICE_UNAVAILABLE: revocation could not be checked.
 */

ngx_int_t
ngx_http_social_auth_check(ngx_http_social_ctx_t *ctx,
    ngx_http_social_auth_handler_pt handler)
{
    u_char                  *p;
    size_t                   lens[2];
    const char              *args[2];
    ngx_http_social_memo_t  *m;

    if (ngx_http_social_auth_parse(ctx) != NGX_OK) {
        return NGX_HTTP_UNAUTHORIZED;
    }

    m = ngx_http_social_memo(ctx->user_id);

    if (m->user_id == ctx->user_id
        && (ngx_msec_int_t) (m->expires - ngx_current_msec) > 0)
    {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                       "social auth: generation %L of user %L remembered",
                       m->gen, ctx->user_id);

        return (m->gen == ctx->token_gen) ? NGX_OK : NGX_HTTP_UNAUTHORIZED;
    }

    p = ngx_pnalloc(ctx->request->pool, sizeof("social:gen:") + NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    args[0] = "GET";
    lens[0] = 3;
    args[1] = (char *) p;
    lens[1] = ngx_sprintf(p, "social:gen:%L", ctx->user_id) - p;

    ctx->auth_handler = handler;

    if (ngx_http_social_redis_command(ctx, ngx_http_social_auth_redis, 2,
                                      args, lens)
        != NGX_OK)
    {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    return NGX_DONE;
}


static void
ngx_http_social_auth_redis(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    int64_t       gen;
    const char  **values;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ctx->auth_status = NGX_HTTP_SERVICE_UNAVAILABLE;
        ctx->auth_handler(ctx);
        return;
    }

    if (reply->type == REDIS_REPLY_STRING) {
        gen = ngx_atoof((u_char *) reply->str, reply->len);
        ngx_http_social_auth_decide(ctx, gen);
        return;
    }

    /* not in Redis (expired, flushed): PostgreSQL knows */

    values = ngx_palloc(ctx->request->pool, sizeof(char *));
    if (values == NULL
        || (values[0] = ngx_http_social_int64(ctx, ctx->user_id)) == NULL)
    {
        ctx->auth_status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        ctx->auth_handler(ctx);
        return;
    }

    if (ngx_http_social_pg_query(ctx, ngx_http_social_sql_token_gen, 1,
                                 values, ngx_http_social_auth_pg)
        != NGX_OK)
    {
        ctx->auth_status = NGX_HTTP_SERVICE_UNAVAILABLE;
        ctx->auth_handler(ctx);
    }
}


static void
ngx_http_social_auth_pg(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    int64_t  gen;

    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
        ctx->auth_status = NGX_HTTP_SERVICE_UNAVAILABLE;
        ctx->auth_handler(ctx);
        return;
    }

    if (PQntuples(res) == 0) {
        gen = INT64_MAX;

    } else {
        gen = ngx_atoof((u_char *) PQgetvalue(res, 0, 0),
                        PQgetlength(res, 0, 0));
    }

    /* shared with the other nodes for a while; writers move it on */

    ngx_http_social_auth_publish(ctx, ctx->user_id, gen, NULL);

    ngx_http_social_auth_decide(ctx, gen);
}


static void
ngx_http_social_auth_decide(ngx_http_social_ctx_t *ctx, int64_t gen)
{
    ngx_http_social_memo_t  *m;

    m = ngx_http_social_memo(ctx->user_id);
    m->user_id = ctx->user_id;
    m->gen = gen;
    m->expires = ngx_current_msec + NGX_HTTP_SOCIAL_MEMO_MSEC;

    ctx->auth_status = (gen == ctx->token_gen) ? NGX_OK
                                               : NGX_HTTP_UNAUTHORIZED;

    if (ctx->auth_status != NGX_OK) {
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                       "social auth: token generation %L of user %L is "
                       "revoked (now %L)", ctx->token_gen, ctx->user_id, gen);
    }

    ctx->auth_handler(ctx);
}


/*
 * the generation of a user for every node: SET only when it moves on, so
 * that two writers never set it back; "handler" may be NULL (fire and
 * forget, for a cache fill)
 */

ngx_int_t
ngx_http_social_auth_publish(ngx_http_social_ctx_t *ctx, int64_t user_id,
    int64_t gen, ngx_http_social_redis_handler_pt handler)
{
    u_char      *key, *val;
    size_t       lens[4];
    const char  *args[4];

    key = ngx_pnalloc(ctx->request->pool,
                      sizeof("social:gen:") + NGX_INT64_LEN);
    val = ngx_pnalloc(ctx->request->pool, NGX_INT64_LEN);

    if (key == NULL || val == NULL) {
        return NGX_ERROR;
    }

    args[0] = "1";
    args[1] = (char *) key;
    args[2] = (char *) val;
    args[3] = NGX_HTTP_SOCIAL_GEN_TTL;

    lens[0] = 1;
    lens[1] = ngx_sprintf(key, "social:gen:%L", user_id) - key;
    lens[2] = ngx_sprintf(val, "%L", gen) - val;
    lens[3] = sizeof(NGX_HTTP_SOCIAL_GEN_TTL) - 1;

    /* this worker knows at once */

    ngx_http_social_memo(user_id)->user_id = 0;

    return ngx_http_social_redis_script(ctx, handler,
                                        &ngx_http_social_gen_script, 4, args,
                                        lens);
}


static ngx_http_social_memo_t *
ngx_http_social_memo(int64_t user_id)
{
    return &ngx_http_social_memos[(uint64_t) user_id
                                  % NGX_HTTP_SOCIAL_MEMO_SIZE];
}


/* Authorization: Bearer <header>.<payload>.<signature> */

static ngx_int_t
ngx_http_social_auth_parse(ngx_http_social_ctx_t *ctx)
{
    u_char                       *dot1, *dot2, *last;
    int64_t                       exp, iat, sub;
    ngx_str_t                     tok, part, text, sig;
    ngx_uint_t                    i;
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
        || v->str.len == 0 || v->str.len > 19 || v->str.data[0] == '0')
    {
        return NGX_DECLINED;
    }

    for (i = 0; i < v->str.len; i++) {
        if (v->str.data[i] < '0' || v->str.data[i] > '9') {
            return NGX_DECLINED;
        }
    }

    sub = ngx_atoof(v->str.data, v->str.len);
    if (sub <= 0) {
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
