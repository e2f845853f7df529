
/*
 * Copyright (C) ngx_social developers
 */


/*
 * POST /errors (and the original POST /simulate-and-generate): the
 * learners' error points of an utterance, checked, then recorded in Redis
 * by the point store (ngx_http_social_point_store.c) at once, 202.  The
 * endpoint keeps its name, "errors", as the API and the module's endpoint
 * table have it; inside, they are points, not the HTTP errors.
 *
 *   1. The body (422), the body's user_id (403): ngx_http_social_points().
 *   2. The common case, the reader's own utterance with its owner entry in
 *      Redis: the entry read and checked (ngx_http_social_points_owned()),
 *      the reader's counts read (_checked()), then the points written in
 *      one transaction (_written()), 202, all in Redis's own commands
 *      (ngx_http_social_point_write.c weighs them against the script).  A
 *      deleted user's is 404; anything else goes to 2a.  The common case
 *      ends here, without PostgreSQL.
 *  2a. Redis, one script: the utterance's owner entry checked (404 for a
 *      deleted user's, 403 for another's) and the points recorded, 202:
 *      ngx_http_social_points_record(), _recorded().
 *   3. No usable owner entry (none yet, expired, Redis behind the
 *      revocation log, or a worker that has read none of the log yet),
 *      or the body's ids are not the entry's: PostgreSQL says whose the
 *      utterance is and whether the body's ids name anything, checked as
 *      before (404, 403, 422): ngx_http_social_points_ask(), _owner().
 *   4. Redis, the same script with PostgreSQL's owner: the owner entry
 *      kept, unless the user was deleted meanwhile (404), and the points
 *      recorded, 202: ngx_http_social_points_recorded().
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_request.h"
#include "ngx_http_social_endpoints.h"
#include "ngx_http_social_points.h"
#include "ngx_http_social_revoke.h"


/* the 202's body */
#define NGX_HTTP_SOCIAL_POINTS_RECORDED_JSON                                 \
    "{\"utterance_id\":%L,\"recorded\":%L}"


/* the request's state */

typedef struct {
    int64_t                         utterance_id;
    int64_t                         user_id;        /* of the body, or 0 */
    int64_t                         conversation_id;    /* or 0 */
    ngx_http_social_point_record_t  rec;
    ngx_uint_t                      npoints;
    ngx_http_social_point_t        *points;     /* npoints of them */
    ngx_int_t                       owned;      /* the first read's verdict */
    const char                     *values[3];
} ngx_http_social_points_t;


/* the columns of the owner query */

enum {
    NGX_HTTP_SOCIAL_POINTS_COL_USER = 0,
    NGX_HTTP_SOCIAL_POINTS_COL_CONVERSATION,
    NGX_HTTP_SOCIAL_POINTS_COL_USER_OK,
    NGX_HTTP_SOCIAL_POINTS_COL_CONVERSATION_OK
};


static void ngx_http_social_points_owned(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_points_checked(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_points_written(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static ngx_int_t ngx_http_social_points_accepted(ngx_http_social_ctx_t *ctx,
    int64_t n);
static ngx_int_t ngx_http_social_points_record(ngx_http_social_ctx_t *ctx);
static ngx_int_t ngx_http_social_points_ask(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_points_owner(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_points_recorded(ngx_http_social_ctx_t *ctx,
    redisReply *reply);


/* the utterance's user and conversation; whether the body's ids name any */
static const char  ngx_http_social_sql_points_owner[] =
    "SELECT u.user_id, u.conversation_id, "
    "       $2::bigint = 0 "
    "       OR EXISTS (SELECT 1 FROM users WHERE user_id = $2), "
    "       $3::bigint = 0 "
    "       OR EXISTS (SELECT 1 FROM conversations "
    "                   WHERE conversation_id = $3) "
    "  FROM utterances u WHERE u.utterance_id = $1";


/*
 * 1. POST /errors {"utterance_id", "errors": [{"category", "subcategory"}],
 * "user_id"?, "conversation_id"?}: 422 for the body, 403 unless the
 * utterance is the reader's (an admin records for anyone), the body's ids
 * must be the utterance's, then Redis (the common case's commands, or the
 * record script): 202 at once
 */

ngx_int_t
ngx_http_social_points(ngx_http_social_ctx_t *ctx)
{
    ngx_int_t                  rc;
    ngx_uint_t                 i;
    ngx_http_social_json_t    *list, *item;
    ngx_http_social_points_t  *e;

    e = ngx_pcalloc(ctx->request->pool, sizeof(ngx_http_social_points_t));
    if (e == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->data = e;

    rc = ngx_http_social_json_id(ctx, ctx->body, "utterance_id",
                                 &e->utterance_id);

    if (rc == NGX_DECLINED) {
        ngx_http_social_note_invalid(ctx, "utterance_id", "is required");
    }

    if (rc != NGX_OK) {
        return ngx_http_social_unprocessable(ctx);
    }

    list = ngx_http_social_json_get(ctx->body, "errors");

    if (list == NULL || list->type == NGX_HTTP_SOCIAL_JSON_NULL) {
        ngx_http_social_note_invalid(ctx, "errors", "is required");
        return ngx_http_social_unprocessable(ctx);
    }

    if (list->type != NGX_HTTP_SOCIAL_JSON_ARRAY
        || list->nelts < 1 || list->nelts > NGX_HTTP_SOCIAL_POINTS_MAX)
    {
        ngx_http_social_note_invalid(ctx, "errors",
                                     "must be an array of 1 to 50 errors");
        return ngx_http_social_unprocessable(ctx);
    }

    /* as many as sent (the request's pool: a whole array would be 3 kB) */

    e->points = ngx_palloc(ctx->request->pool,
                           list->nelts * sizeof(ngx_http_social_point_t));
    if (e->points == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (item = list->first, i = 0; item; item = item->next, i++) {
        if (ngx_http_social_point_item(ctx, item, i, &e->points[i])
            != NGX_OK)
        {
            return ctx->field ? ngx_http_social_unprocessable(ctx)
                              : NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    e->npoints = i;

    rc = ngx_http_social_json_id(ctx, ctx->body, "user_id", &e->user_id);

    if (rc == NGX_ERROR) {
        return ngx_http_social_unprocessable(ctx);
    }

    rc = ngx_http_social_json_id(ctx, ctx->body, "conversation_id",
                                 &e->conversation_id);

    if (rc == NGX_ERROR) {
        return ngx_http_social_unprocessable(ctx);
    }

    if (e->user_id && e->user_id != ctx->user_id && !ctx->admin) {
        return ngx_http_social_forbidden(ctx);
    }

    e->rec.utterance = e->utterance_id;
    e->rec.reader = ctx->user_id;
    e->rec.user = e->user_id;
    e->rec.conversation = e->conversation_id;
    e->rec.admin = ctx->admin ? 1 : 0;

    /*
     * Redis's owner entry is trusted once Redis holds every revocation
     * record this worker has read (a deleted user's among them); a worker
     * that has read none yet (just started) asks PostgreSQL, as the token
     * check does
     */

    if (!ngx_http_social_revoke_log.read) {
        return ngx_http_social_points_ask(ctx);
    }

    e->rec.rev = ngx_http_social_revoke_log.rev;

    e->owned = NGX_ERROR;

    rc = ngx_http_social_point_read(ctx, &e->rec, e->points, e->npoints,
                                    ngx_http_social_points_owned,
                                    ngx_http_social_points_checked);

    if (rc == NGX_ABORT) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != NGX_OK) {
        return ngx_http_social_unavailable(ctx, "Redis");
    }

    return NGX_DONE;
}


/*
 * 2. the first read's reply: the owner's verdict, kept for the second's
 * (which ends the request: on a lost connection both have NULL)
 */

static void
ngx_http_social_points_owned(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    ngx_http_social_points_t  *e = ctx->data;

    if (reply == NULL) {
        return;
    }

    e->owned = ngx_http_social_point_owned(reply, &e->rec);

    if (e->owned == NGX_ERROR) {
        ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                      "social: reading an utterance's owner failed: %*s",
                      reply->type == REDIS_REPLY_ERROR ? reply->len : 0,
                      reply->str);
    }
}


/* 2. the second read's reply: the write, or the script (2a) decides */

static void
ngx_http_social_points_checked(ngx_http_social_ctx_t *ctx,
    redisReply *reply)
{
    ngx_int_t                  rc;
    ngx_http_social_points_t  *e = ctx->data;

    if (reply == NULL) {
        ngx_http_social_done(ctx, ngx_http_social_unavailable(ctx, "Redis"));
        return;
    }

    switch (e->owned) {

    case NGX_OK:
        rc = ngx_http_social_point_found(ctx, reply, &e->rec, e->points,
                                         e->npoints);

        if (rc == NGX_ERROR) {
            ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                          "social: reading a user's counts failed: %*s",
                          reply->type == REDIS_REPLY_ERROR ? reply->len : 0,
                          reply->str);
            rc = ngx_http_social_unavailable(ctx, "Redis");
            break;
        }

        if (rc != NGX_OK) {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            break;
        }

        rc = ngx_http_social_point_write(ctx, &e->rec, e->points, e->npoints,
                                         ngx_http_social_points_written);

        if (rc == NGX_OK) {
            return;
        }

        rc = (rc == NGX_ABORT) ? NGX_HTTP_INTERNAL_SERVER_ERROR
                               : ngx_http_social_unavailable(ctx, "Redis");
        break;

    case NGX_DECLINED:
        rc = ngx_http_social_points_record(ctx);

        if (rc == NGX_DONE) {
            return;
        }

        break;

    case NGX_HTTP_SOCIAL_POINT_GONE:
        rc = ngx_http_social_no_such(ctx, "utterance_id");
        break;

    default:
        rc = ngx_http_social_unavailable(ctx, "Redis");
        break;
    }

    ngx_http_social_done(ctx, rc);
}


/* 2. the write's reply: 202 */

static void
ngx_http_social_points_written(ngx_http_social_ctx_t *ctx,
    redisReply *reply)
{
    ngx_int_t                  rc;
    redisReply                *err;
    ngx_http_social_points_t  *e = ctx->data;

    if (reply == NULL) {
        ngx_http_social_done(ctx, ngx_http_social_unavailable(ctx, "Redis"));
        return;
    }

    rc = ngx_http_social_point_written(reply);

    if (rc != NGX_OK) {
        err = ngx_http_social_point_error(reply);

        ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                      "social: recording errors %s: %*s",
                      rc == NGX_DONE ? "left a count behind"
                                     : "failed",
                      err ? err->len : 0, err ? err->str : "");

        if (rc != NGX_DONE) {
            ngx_http_social_done(ctx,
                                 ngx_http_social_unavailable(ctx, "Redis"));
            return;
        }
    }

    ngx_http_social_point_respell(ctx, reply, &e->rec, e->points,
                                  e->npoints);

    ngx_http_social_done(ctx, ngx_http_social_points_accepted(ctx,
                                                         e->npoints));
}


/*
 * 2. and 4. the record script, with the owner entry (e->rec.owner 0) or
 * PostgreSQL's owner
 */

static ngx_int_t
ngx_http_social_points_record(ngx_http_social_ctx_t *ctx)
{
    ngx_int_t                  rc;
    ngx_http_social_points_t  *e = ctx->data;

    rc = ngx_http_social_point_record(ctx, &e->rec, e->points, e->npoints,
                                      ngx_http_social_points_recorded);

    if (rc == NGX_ABORT) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != NGX_OK) {
        return ngx_http_social_unavailable(ctx, "Redis");
    }

    return NGX_DONE;
}


/* 3. whose the utterance is, and whether the body's ids name anything */

static ngx_int_t
ngx_http_social_points_ask(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_points_t  *e = ctx->data;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "social points: no usable owner of utterance %L in "
                   "Redis, asking PostgreSQL", e->utterance_id);

    e->values[0] = ngx_http_social_int64(ctx, e->utterance_id);
    e->values[1] = ngx_http_social_int64(ctx, e->user_id);
    e->values[2] = ngx_http_social_int64(ctx, e->conversation_id);

    if (e->values[0] == NULL || e->values[1] == NULL || e->values[2] == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_social_pg_or_503(ctx, ngx_http_social_sql_points_owner, 3,
                                     e->values, ngx_http_social_points_owner);
}


/* 3. PostgreSQL's answer: whose the utterance is, as checked before */

static void
ngx_http_social_points_owner(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    int64_t                    owner, conversation;
    ngx_int_t                  rc;
    ngx_uint_t                 user_exists, conversation_exists;
    ngx_http_social_points_t  *e = ctx->data;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    if (PQntuples(res) == 0) {
        ngx_http_social_done(ctx,
                             ngx_http_social_no_such(ctx, "utterance_id"));
        return;
    }

    owner = ngx_atoof((u_char *) PQgetvalue(res, 0,
                                            NGX_HTTP_SOCIAL_POINTS_COL_USER),
                      PQgetlength(res, 0, NGX_HTTP_SOCIAL_POINTS_COL_USER));

    if (owner != ctx->user_id && !ctx->admin) {
        ngx_http_social_done(ctx, ngx_http_social_forbidden(ctx));
        return;
    }

    /* an id in the body that names nothing: 404 with the field */

    user_exists =
        (PQgetvalue(res, 0, NGX_HTTP_SOCIAL_POINTS_COL_USER_OK)[0] == 't');
    conversation_exists =
        (PQgetvalue(res, 0, NGX_HTTP_SOCIAL_POINTS_COL_CONVERSATION_OK)[0]
         == 't');

    if (!user_exists || !conversation_exists) {
        ngx_http_social_done(ctx, ngx_http_social_no_such(ctx,
                                      !user_exists ? "user_id"
                                                   : "conversation_id"));
        return;
    }

    if (e->user_id && e->user_id != owner) {
        ngx_http_social_note_invalid(ctx, "user_id",
                                     "does not match the utterance's user");
        ngx_http_social_done(ctx, ngx_http_social_unprocessable(ctx));
        return;
    }

    conversation = ngx_atoof((u_char *) PQgetvalue(res, 0,
                                     NGX_HTTP_SOCIAL_POINTS_COL_CONVERSATION),
                             PQgetlength(res, 0,
                                     NGX_HTTP_SOCIAL_POINTS_COL_CONVERSATION));

    if (e->conversation_id && e->conversation_id != conversation) {
        ngx_http_social_note_invalid(ctx, "conversation_id",
                              "does not match the utterance's conversation");
        ngx_http_social_done(ctx, ngx_http_social_unprocessable(ctx));
        return;
    }

    e->rec.owner = owner;
    e->rec.owner_conversation = conversation;

    rc = ngx_http_social_points_record(ctx);

    if (rc != NGX_DONE) {
        ngx_http_social_done(ctx, rc);
    }
}


/* 2. and 4. the script's reply: 202, or PostgreSQL asked (3.) */

static void
ngx_http_social_points_recorded(ngx_http_social_ctx_t *ctx,
    redisReply *reply)
{
    int64_t                    n;
    ngx_int_t                  rc;
    ngx_http_social_points_t  *e = ctx->data;

    if (reply == NULL) {
        ngx_http_social_done(ctx, ngx_http_social_unavailable(ctx, "Redis"));
        return;
    }

    rc = ngx_http_social_point_recorded(reply, &n);

    switch (rc) {

    case NGX_HTTP_SOCIAL_POINT_RECORDED:
        break;

    case NGX_HTTP_SOCIAL_POINT_GONE:
        ngx_http_social_done(ctx,
                             ngx_http_social_no_such(ctx, "utterance_id"));
        return;

    case NGX_HTTP_SOCIAL_POINT_FORBIDDEN:
        if (e->rec.owner == 0) {
            ngx_http_social_done(ctx, ngx_http_social_forbidden(ctx));
            return;
        }

        goto failed;

    case NGX_HTTP_SOCIAL_POINT_ASK:
        if (e->rec.owner == 0) {
            rc = ngx_http_social_points_ask(ctx);

            if (rc != NGX_DONE) {
                ngx_http_social_done(ctx, rc);
            }

            return;
        }

        /* fall through */

    default:
        goto failed;
    }

    ngx_http_social_done(ctx, ngx_http_social_points_accepted(ctx, n));
    return;

failed:

    /* not the script's reply, or one that PostgreSQL's owner rules out */

    ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                  "social: recording errors failed: %*s",
                  (reply->type == REDIS_REPLY_ERROR
                   || reply->type == REDIS_REPLY_STATUS) ? reply->len : 0,
                  reply->str);
    ngx_http_social_done(ctx, ngx_http_social_unavailable(ctx, "Redis"));
}


/* the 202, written as the generator would write it: two integers */

static ngx_int_t
ngx_http_social_points_accepted(ngx_http_social_ctx_t *ctx, int64_t n)
{
    u_char                    *body, *last;
    ngx_http_social_points_t  *e = ctx->data;

    body = ngx_pnalloc(ctx->request->pool,
                       sizeof(NGX_HTTP_SOCIAL_POINTS_RECORDED_JSON) - 1
                       + 2 * NGX_INT64_LEN);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = ngx_sprintf(body, NGX_HTTP_SOCIAL_POINTS_RECORDED_JSON,
                       e->utterance_id, n);

    return ngx_http_social_send_body(ctx, NGX_HTTP_ACCEPTED, body,
                                     last - body);
}
