
/*
 * Copyright (C) ngx_social developers
 */


/* POST /signup, POST /signout (POST /signin: ngx_http_social_signin.c) */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_request.h"
#include "ngx_http_social_password.h"
#include "ngx_http_social_password_gate.h"
#include "ngx_http_social_auth.h"
#include "ngx_http_social_token.h"
#include "ngx_http_social_revoke.h"
#include "ngx_http_social_endpoints.h"

#include <openssl/rand.h>


typedef struct {
    const char                     *values[6];
    ngx_array_t                    *attrs;
    ngx_str_t                       username;
    ngx_str_t                       email;
    ngx_str_t                       password;   /* generated, shown once */
} ngx_http_social_signup_t;


static ngx_int_t ngx_http_social_signup_insert(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_signup_hashed(ngx_http_social_ctx_t *ctx,
    ngx_str_t *hash);
static void ngx_http_social_signup_done(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_signout_moved(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_signout_published(ngx_http_social_ctx_t *ctx);


static const char  ngx_http_social_sql_signup[] =
    "SELECT user_id, group_id, created_at, token_gen "
    "  FROM social_signup($1, $2, $3::text[], $4, $5::numeric, $6::int)";

static const char  ngx_http_social_sql_signout[] =
    "UPDATE users SET token_gen = token_gen + 1 WHERE user_id = $1 "
    "RETURNING token_gen, current_setting('social.revocation', true)";


ngx_int_t
ngx_http_social_signup(ngx_http_social_ctx_t *ctx)
{
    ngx_int_t                  rc;
    ngx_str_t                  attrs, random, hash;
    ngx_http_social_json_t    *v;
    ngx_http_social_signup_t  *s;
    u_char                     bytes[16];

    s = ngx_pcalloc(ctx->request->pool, sizeof(ngx_http_social_signup_t));
    if (s == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->data = s;

    v = ngx_http_social_json_get(ctx->body, "attributes");

    if (v && v->type != NGX_HTTP_SOCIAL_JSON_NULL) {
        if (ngx_http_social_attributes(ctx, v, &attrs, &s->attrs) != NGX_OK) {
            return ngx_http_social_unprocessable(ctx);
        }

    } else {
        ngx_str_set(&attrs, "{}");
        s->attrs = ngx_array_create(ctx->request->pool, 1, sizeof(ngx_str_t));
        if (s->attrs == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    rc = ngx_http_social_json_string(ctx, ctx->body, "username", 3, 32,
                                     &s->username);
    if (rc == NGX_ERROR
        || (rc == NGX_OK
            && ngx_http_social_check_username(ctx, &s->username) != NGX_OK))
    {
        return ngx_http_social_unprocessable(ctx);
    }

    rc = ngx_http_social_json_string(ctx, ctx->body, "email", 3, 254,
                                     &s->email);
    if (rc == NGX_ERROR
        || (rc == NGX_OK
            && ngx_http_social_check_email(ctx, &s->email) != NGX_OK))
    {
        return ngx_http_social_unprocessable(ctx);
    }

    rc = ngx_http_social_password_field(ctx, "password", &s->password);
    if (rc == NGX_ERROR) {
        return ngx_http_social_unprocessable(ctx);
    }

    s->values[0] = (char *) s->username.data;
    s->values[1] = (char *) s->email.data;
    s->values[2] = (char *) attrs.data;
    s->values[4] = (char *) ctx->smcf->group_threshold.data;
    s->values[5] = ngx_http_social_int64(ctx, ctx->smcf->group_max_size);

    if (rc == NGX_OK) {
        /* the client's password: scrypt, on the thread pool, in turn */

        rc = ngx_http_social_password_hash(ctx, &s->password,
                                           ngx_http_social_signup_hashed);

        if (rc == NGX_BUSY) {
            return ngx_http_social_gate_refuse(ctx);
        }

        if (rc != NGX_OK) {
            return ngx_http_social_unavailable(ctx, "Password hashing");
        }

        ngx_str_null(&s->password);

        return NGX_DONE;
    }

    /* 128 random bits: a keyed hash is enough, on the loop */

    if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    random.data = bytes;
    random.len = sizeof(bytes);

    s->password.data = ngx_pnalloc(ctx->request->pool,
                                   ngx_base64_encoded_length(sizeof(bytes)));
    if (s->password.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_encode_base64url(&s->password, &random);

    if (ngx_http_social_password_hmac(ctx, &s->password, &hash) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    s->values[3] = (char *) hash.data;
    hash.data[hash.len] = '\0';

    return ngx_http_social_signup_insert(ctx);
}


static void
ngx_http_social_signup_hashed(ngx_http_social_ctx_t *ctx, ngx_str_t *hash)
{
    u_char                    *p;
    ngx_int_t                  rc;
    ngx_http_social_signup_t  *s = ctx->data;

    if (hash == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_pnalloc(ctx->request->pool, hash->len + 1);
    if (p == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    *ngx_cpymem(p, hash->data, hash->len) = '\0';
    s->values[3] = (char *) p;

    rc = ngx_http_social_signup_insert(ctx);

    if (rc != NGX_DONE) {
        ngx_http_social_done(ctx, rc);
    }
}


static ngx_int_t
ngx_http_social_signup_insert(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_signup_t  *s = ctx->data;

    return ngx_http_social_pg_or_503(ctx, ngx_http_social_sql_signup, 6,
                                     s->values, ngx_http_social_signup_done);
}


static void
ngx_http_social_signup_done(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    u_char                    *p;
    int64_t                    id, gen;
    yajl_gen                   g;
    ngx_str_t                  token;
    ngx_table_elt_t           *h;
    ngx_http_social_signup_t  *s = ctx->data;

    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
        ngx_http_social_done(ctx, ngx_http_social_conflict(ctx, res));
        return;
    }

    id = ngx_atoof((u_char *) PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0));
    gen = ngx_atoof((u_char *) PQgetvalue(res, 0, 3), PQgetlength(res, 0, 3));

    if (ngx_http_social_token(ctx, id, 0, gen, &token) != NGX_OK) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    h = ngx_list_push(&ctx->request->headers_out.headers);
    p = ngx_pnalloc(ctx->request->pool, sizeof("/user/") + NGX_INT64_LEN);
    if (h == NULL || p == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Location");
    h->value.data = p;
    h->value.len = ngx_sprintf(p, "/user/%L", id) - p;

    /* not headers_out.location: nginx would make it absolute */

    g = ngx_http_social_json_gen(ctx->request->pool);
    if (g == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_social_json_str(g, "user_id");
    ngx_http_social_json_pg(g, res, 0, 0, NGX_HTTP_SOCIAL_JSON_INTEGER);
    ngx_http_social_json_str(g, "group_id");
    ngx_http_social_json_pg(g, res, 0, 1, NGX_HTTP_SOCIAL_JSON_INTEGER);
    ngx_http_social_json_kv(g, "username", (char *) s->username.data);
    ngx_http_social_json_kv(g, "email", (char *) s->email.data);
    ngx_http_social_json_str(g, "attributes");
    ngx_http_social_attributes_json(g, s->attrs);
    ngx_http_social_json_kv(g, "role", "user");
    ngx_http_social_json_str(g, "created_at");
    ngx_http_social_json_pg(g, res, 0, 2, NGX_HTTP_SOCIAL_JSON_STRING);

    if (s->password.data) {
        ngx_http_social_json_str(g, "password");
        yajl_gen_string(g, s->password.data, s->password.len);
    }

    ngx_http_social_token_json(g, &token, ctx->smcf->token_lifetime);
    yajl_gen_map_close(g);

    ngx_http_social_done(ctx, ngx_http_social_send(ctx, NGX_HTTP_CREATED, g));
}


/* 3..32 of [A-Za-z0-9_.-] */

ngx_int_t
ngx_http_social_check_username(ngx_http_social_ctx_t *ctx, ngx_str_t *v)
{
    u_char      c;
    ngx_uint_t  i;

    for (i = 0; i < v->len; i++) {
        c = v->data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
        {
            return ngx_http_social_note_invalid(ctx, "username",
                       "must be 3 to 32 of letters, digits, '_', '.', '-'");
        }
    }

    return NGX_OK;
}


/* one "@", something on both sides, no space or control, <= 254 bytes */

ngx_int_t
ngx_http_social_check_email(ngx_http_social_ctx_t *ctx, ngx_str_t *v)
{
    u_char      *at;
    ngx_uint_t   i;

    at = ngx_strlchr(v->data, v->data + v->len, '@');

    if (v->len > 254 || at == NULL || at == v->data
        || at == v->data + v->len - 1
        || ngx_strlchr(at + 1, v->data + v->len, '@') != NULL)
    {
        return ngx_http_social_note_invalid(ctx, "email",
                                  "must be an address with one '@'");
    }

    for (i = 0; i < v->len; i++) {
        if (v->data[i] <= ' ' || v->data[i] == 0x7f) {
            return ngx_http_social_note_invalid(ctx, "email",
                                  "must not contain white space");
        }
    }

    return NGX_OK;
}


/* a unique index said no: 409 naming the field; anything else 500/503 */

ngx_int_t
ngx_http_social_conflict(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    char  *state, *constraint;

    state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    if (state == NULL || ngx_strcmp(state, "23505") != 0) {
        return ngx_http_social_pg_failed(ctx, res);
    }

    constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);

    if (constraint && ngx_strcmp(constraint, "users_email_key") == 0) {
        return ngx_http_social_error(ctx, NGX_HTTP_CONFLICT, "conflict",
                                     "This email is taken.", "email");
    }

    return ngx_http_social_error(ctx, NGX_HTTP_CONFLICT, "conflict",
                                 "This username is taken.", "username");
}


/* POST /signout: every token of the user issued so far stops working */

ngx_int_t
ngx_http_social_signout(ngx_http_social_ctx_t *ctx)
{
    const char  **values;

    values = ngx_palloc(ctx->request->pool, sizeof(char *));
    if (values == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    values[0] = ngx_http_social_int64(ctx, ctx->user_id);

    return ngx_http_social_pg_or_503(ctx, ngx_http_social_sql_signout, 1,
                                     values, ngx_http_social_signout_moved);
}


static void
ngx_http_social_signout_moved(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    int64_t  gen;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    if (PQntuples(res) == 0) {
        ngx_http_social_done(ctx, ngx_http_social_send(ctx,
                                                  NGX_HTTP_NO_CONTENT, NULL));
        return;
    }

    gen = ngx_atoof((u_char *) PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0));

    /* committed: 204 whatever Redis answers */

    ngx_http_social_revoke_publish(ctx, ctx->user_id, gen,
                                   ngx_http_social_revoke_number(res, 1),
                                   ngx_http_social_signout_published);
}


static void
ngx_http_social_signout_published(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_done(ctx, ngx_http_social_send(ctx, NGX_HTTP_NO_CONTENT,
                                                   NULL));
}
