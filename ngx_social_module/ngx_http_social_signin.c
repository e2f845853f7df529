
/*
 * Copyright (C) ngx_social developers
 */


/*
 * POST /signin, in steps:
 *
 *   1. The body is checked.
 *   2. Redis: the attempts on the account in the window, counted under the
 *      name it is asked by (id, username or email, whether or not it is an
 *      account, so that neither the count nor the wait tells); after
 *      social_signin_throttle's free ones each waits longer (0.5 s, 1 s
 *      ... up to max), on a timer.
 *   3. The request is admitted at the worker's password gate, before the
 *      user is looked up: a full gate answers 503 whoever is asked for.
 *   4. PostgreSQL: the user and the stored hash.
 *   5. The password: a generated one at once (HMAC); a chosen one on the
 *      thread pool at the request's turn.  An unknown user or a wrong
 *      generated password holds a turn for the time of a hash instead,
 *      without computing one.
 *   6. A success answers at once, and the attempts are forgotten.  A
 *      failure answers social_signin_deadline after the request came (plus
 *      its throttling wait), or when its hash is done if that is later:
 *      the time tells nothing of why it failed.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_keys.h"
#include "ngx_http_social_request.h"
#include "ngx_http_social_password.h"
#include "ngx_http_social_password_gate.h"
#include "ngx_http_social_auth.h"
#include "ngx_http_social_token.h"
#include "ngx_http_social_endpoints.h"


/* the first throttling wait; each further attempt waits twice as long */
#define NGX_HTTP_SOCIAL_SIGNIN_DELAY  500


typedef struct {
    const char                     *values[1];
    const char                     *sql;
    ngx_str_t                       password;
    ngx_str_t                       stored;
    ngx_str_t                       who;        /* the throttle's key */
    int64_t                         user_id;
    int64_t                         gen;
    ngx_msec_t                      start;
    ngx_msec_t                      delay;
    ngx_uint_t                      admin;      /* unsigned:1 */
    ngx_uint_t                      hopeless;   /* unsigned:1 */
} ngx_http_social_signin_t;


static ngx_int_t ngx_http_social_signin_name(ngx_http_social_ctx_t *ctx,
    const char *kind, ngx_str_t *name);
static void ngx_http_social_signin_counted(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_signin_admit(ngx_http_social_ctx_t *ctx);
static ngx_int_t ngx_http_social_signin_lookup(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_signin_found(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_signin_check(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_signin_hold(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_signin_held(ngx_http_social_ctx_t *ctx,
    void *data, ngx_int_t rc);
static void ngx_http_social_signin_checked(ngx_http_social_ctx_t *ctx,
    ngx_str_t *hash);
static void ngx_http_social_signin_failed(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_signin_refused(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_signin_forgotten(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static ngx_int_t ngx_http_social_signin_reply(ngx_http_social_ctx_t *ctx);


static const char  ngx_http_social_sql_signin_id[] =
    "SELECT user_id, password_hash, role, token_gen FROM users "
    " WHERE user_id = $1";

static const char  ngx_http_social_sql_signin_username[] =
    "SELECT user_id, password_hash, role, token_gen FROM users "
    " WHERE lower(username) = lower($1)";

static const char  ngx_http_social_sql_signin_email[] =
    "SELECT user_id, password_hash, role, token_gen FROM users "
    " WHERE lower(email) = lower($1)";


static ngx_http_social_script_t  ngx_http_social_signin_count_script = {
    /* KEYS: the account's attempts; ARGV: the window in ms */
    "local n = redis.call('INCR', KEYS[1]) "
    "if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end "
    "return n",
    "", NULL, ""
};


/* POST /signin {"user_id" | "username" | "email", "password"} */

ngx_int_t
ngx_http_social_signin(ngx_http_social_ctx_t *ctx)
{
    int64_t                    id;
    size_t                     lens[3];
    ngx_int_t                  rc;
    ngx_str_t                  name;
    const char                *sql, *args[3];
    ngx_http_social_signin_t  *s;
    u_char                     window[NGX_INT_T_LEN];

    s = ngx_pcalloc(ctx->pool, sizeof(ngx_http_social_signin_t));
    if (s == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->data = s;
    s->start = ngx_current_msec;

    rc = ngx_http_social_json_id(ctx, ctx->body, "user_id", &id);
    if (rc == NGX_ERROR) {
        return ngx_http_social_unprocessable(ctx);
    }

    if (rc == NGX_OK) {
        sql = ngx_http_social_sql_signin_id;
        s->values[0] = ngx_http_social_int64(ctx, id);

        if (s->values[0] == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        name.data = (u_char *) s->values[0];
        name.len = ngx_strlen(s->values[0]);
        rc = ngx_http_social_signin_name(ctx, "i:", &name);

    } else {
        rc = ngx_http_social_json_string(ctx, ctx->body, "username", 1, 254,
                                         &name);
        sql = ngx_http_social_sql_signin_username;

        if (rc == NGX_DECLINED) {
            rc = ngx_http_social_json_string(ctx, ctx->body, "email", 1, 254,
                                             &name);
            sql = ngx_http_social_sql_signin_email;
        }

        if (rc == NGX_ERROR) {
            return ngx_http_social_unprocessable(ctx);
        }

        if (rc == NGX_DECLINED) {
            ngx_http_social_note_invalid(ctx, "user_id",
                             "(or username, or email) is required");
            return ngx_http_social_unprocessable(ctx);
        }

        s->values[0] = (char *) name.data;
        rc = ngx_http_social_signin_name(ctx,
                         sql == ngx_http_social_sql_signin_email ? "e:" : "n:",
                         &name);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_social_password_field(ctx, "password", &s->password);

    if (rc == NGX_DECLINED) {
        ngx_http_social_note_invalid(ctx, "password", "is required");
        return ngx_http_social_unprocessable(ctx);
    }

    if (rc == NGX_ERROR) {
        /* no stored password is shorter or longer: it fails as any other */
        s->hopeless = 1;
    }

    s->sql = sql;

    if (ctx->smcf->signin_max_delay == 0) {
        /* social_signin_throttle off */
        return ngx_http_social_signin_lookup(ctx);
    }

    args[0] = "1";
    args[1] = (char *) s->who.data;
    args[2] = (char *) window;

    lens[0] = 1;
    lens[1] = s->who.len;
    lens[2] = ngx_sprintf(window, "%M", ctx->smcf->signin_window) - window;

    if (ngx_http_social_redis_script(ctx, ngx_http_social_signin_counted,
                                     &ngx_http_social_signin_count_script,
                                     3, args, lens)
        != NGX_OK)
    {
        /* Redis is down: nothing is throttled meanwhile */
        return ngx_http_social_signin_lookup(ctx);
    }

    return NGX_DONE;
}


/* the throttle's key: the name the account is asked by */

static ngx_int_t
ngx_http_social_signin_name(ngx_http_social_ctx_t *ctx, const char *kind,
    ngx_str_t *name)
{
    u_char                    *p;
    ngx_http_social_signin_t  *s = ctx->data;

    p = ngx_pnalloc(ctx->pool, sizeof(NGX_HTTP_SOCIAL_KEY_SIGNIN) + 2
                               + name->len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    s->who.data = p;
    p = ngx_cpymem(p, NGX_HTTP_SOCIAL_KEY_SIGNIN,
                   sizeof(NGX_HTTP_SOCIAL_KEY_SIGNIN) - 1);
    p = ngx_cpymem(p, kind, 2);
    ngx_strlow(p, name->data, name->len);
    s->who.len = p + name->len - s->who.data;

    return NGX_OK;
}


static void
ngx_http_social_signin_counted(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    ngx_uint_t                 n, nfree;
    ngx_http_social_signin_t  *s = ctx->data;

    nfree = ctx->smcf->signin_free;

    if (reply && reply->type == REDIS_REPLY_INTEGER && reply->integer > 0
        && (ngx_uint_t) reply->integer > nfree)
    {
        n = ngx_min((ngx_uint_t) reply->integer - nfree - 1, 20);
        s->delay = ngx_min((ngx_msec_t) NGX_HTTP_SOCIAL_SIGNIN_DELAY << n,
                           ctx->smcf->signin_max_delay);
    }

    if (s->delay == 0) {
        ngx_http_social_signin_admit(ctx);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                  "social: signin throttled for %M ms", s->delay);

    if (ngx_http_social_task_sleep(ctx, s->delay,
                                   ngx_http_social_signin_admit)
        != NGX_OK)
    {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static void
ngx_http_social_signin_admit(ngx_http_social_ctx_t *ctx)
{
    ngx_int_t  rc;

    rc = ngx_http_social_signin_lookup(ctx);

    if (rc != NGX_DONE) {
        ngx_http_social_done(ctx, rc);
    }
}


/* a place at the gate, then the lookup: NGX_DONE, or the answer's status */

static ngx_int_t
ngx_http_social_signin_lookup(ngx_http_social_ctx_t *ctx)
{
    ngx_int_t                  rc;
    ngx_http_social_signin_t  *s = ctx->data;

    rc = ngx_http_social_gate_admit(ctx);

    if (rc == NGX_BUSY) {
        return ngx_http_social_gate_refuse(ctx);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_social_pg_or_503(ctx, s->sql, 1, s->values,
                                     ngx_http_social_signin_found);
}


static void
ngx_http_social_signin_found(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_signin_t  *s = ctx->data;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    if (PQntuples(res) == 1) {
        s->user_id = ngx_atoof((u_char *) PQgetvalue(res, 0, 0),
                               PQgetlength(res, 0, 0));
        s->admin = (ngx_strcmp(PQgetvalue(res, 0, 2), "admin") == 0);
        s->gen = ngx_atoof((u_char *) PQgetvalue(res, 0, 3),
                           PQgetlength(res, 0, 3));

        s->stored.len = PQgetlength(res, 0, 1);
        s->stored.data = ngx_pnalloc(ctx->pool, s->stored.len);
        if (s->stored.data == NULL) {
            ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_memcpy(s->stored.data, PQgetvalue(res, 0, 1), s->stored.len);
    }

    ngx_http_social_signin_check(ctx);
}


static void
ngx_http_social_signin_check(ngx_http_social_ctx_t *ctx)
{
    ngx_int_t                  rc;
    ngx_str_t                  ok;
    ngx_http_social_signin_t  *s = ctx->data;

    if (s->user_id == 0 || s->hopeless) {
        ngx_http_social_signin_hold(ctx);
        return;
    }

    rc = ngx_http_social_password_verify(ctx, &s->password, &s->stored,
                                         ngx_http_social_signin_checked);

    switch (rc) {

    case NGX_AGAIN:
        return;

    case NGX_OK:
        ngx_str_set(&ok, "ok");
        ngx_http_social_signin_checked(ctx, &ok);
        return;

    case NGX_DECLINED:
        ngx_http_social_signin_hold(ctx);
        return;

    case NGX_BUSY:
        ngx_http_social_signin_refused(ctx);
        return;

    default:
        ngx_http_social_done(ctx,
                       ngx_http_social_unavailable(ctx, "Password hashing"));
    }
}


/* a failure known without a hash waits as long as one with a hash */

static void
ngx_http_social_signin_hold(ngx_http_social_ctx_t *ctx)
{
    ngx_int_t  rc;

    rc = ngx_http_social_gate_hold(ctx, ngx_http_social_signin_held, NULL);

    if (rc == NGX_BUSY) {
        ngx_http_social_signin_refused(ctx);

    } else if (rc != NGX_OK) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static void
ngx_http_social_signin_held(ngx_http_social_ctx_t *ctx, void *data,
    ngx_int_t rc)
{
    if (rc != NGX_OK) {
        ngx_http_social_signin_refused(ctx);
        return;
    }

    ngx_http_social_signin_checked(ctx, NULL);
}


static void
ngx_http_social_signin_checked(ngx_http_social_ctx_t *ctx, ngx_str_t *hash)
{
    size_t                     lens[2];
    const char                *args[2];
    ngx_msec_int_t             wait;
    ngx_http_social_signin_t  *s = ctx->data;

    if (hash == NULL || s->user_id == 0) {
        /* the deadline, counted from the request's arrival */

        wait = (ngx_msec_int_t) (s->start + s->delay
                                 + ctx->smcf->signin_deadline
                                 - ngx_current_msec);

        if (wait <= 0) {
            ngx_http_social_signin_failed(ctx);
            return;
        }

        if (ngx_http_social_task_sleep(ctx, wait,
                                       ngx_http_social_signin_failed)
            != NGX_OK)
        {
            ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        }

        return;
    }

    /* the owner is in: the attempts on the account are forgotten */

    args[0] = "DEL";
    args[1] = (char *) s->who.data;
    lens[0] = 3;
    lens[1] = s->who.len;

    if (ngx_http_social_redis_command(ctx, ngx_http_social_signin_forgotten,
                                      2, args, lens)
        != NGX_OK)
    {
        ngx_http_social_done(ctx, ngx_http_social_signin_reply(ctx));
    }
}


/* the same answer for an unknown user and a wrong password */

static void
ngx_http_social_signin_failed(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_done(ctx, ngx_http_social_error(ctx,
                                 NGX_HTTP_UNAUTHORIZED, "invalid_credentials",
                                 "The user or the password is wrong.",
                                 NULL));
}


static void
ngx_http_social_signin_refused(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_done(ctx, ngx_http_social_gate_refuse(ctx));
}


static void
ngx_http_social_signin_forgotten(ngx_http_social_ctx_t *ctx,
    redisReply *reply)
{
    /* whatever Redis says: the password was right */

    ngx_http_social_done(ctx, ngx_http_social_signin_reply(ctx));
}


static ngx_int_t
ngx_http_social_signin_reply(ngx_http_social_ctx_t *ctx)
{
    yajl_gen                   g;
    ngx_str_t                  token;
    ngx_http_social_signin_t  *s = ctx->data;

    if (ngx_http_social_token(ctx, s->user_id, s->admin, s->gen, &token)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    g = ngx_http_social_json_gen(ctx->pool);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    yajl_gen_map_open(g);
    ngx_http_social_json_str(g, "user_id");
    yajl_gen_integer(g, s->user_id);
    ngx_http_social_token_json(g, &token, ctx->smcf->token_lifetime);
    yajl_gen_map_close(g);

    return ngx_http_social_send(ctx, NGX_HTTP_OK, g);
}
