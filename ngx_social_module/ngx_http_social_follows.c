
/*
 * Copyright (C) ngx_social developers
 */


/* PUT and DELETE /user/{id}/follow and /user/{id}/block, idempotent */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_request.h"
#include "ngx_http_social_endpoints.h"
#include "ngx_http_social_feed_cache.h"


/* the columns of each statement */

enum {
    NGX_HTTP_SOCIAL_RELATION_FOUND = 0,         /* the other user */
    NGX_HTTP_SOCIAL_RELATION_BLOCKED,           /* a block between them */
    NGX_HTTP_SOCIAL_RELATION_EVENTS             /* "{1,2}" gone, or NULL */
};


static ngx_int_t ngx_http_social_relation(ngx_http_social_ctx_t *ctx,
    const char *put, const char *del);
static void ngx_http_social_relation_done(ngx_http_social_ctx_t *ctx,
    PGresult *res);


/* whether the user exists, whether a block stands between the two */
static const char  ngx_http_social_sql_follow[] =
    "WITH t AS (SELECT user_id FROM users WHERE user_id = $2), "
    "     b AS (SELECT social_blocked($1, $2) AS blocked), "
    "     f AS (INSERT INTO follows (follower_id, followed_id) "
    "           SELECT $1, user_id FROM t, b WHERE NOT b.blocked "
    "           ON CONFLICT DO NOTHING RETURNING followed_id), "
    "     e AS (INSERT INTO events (actor_id, type, target_id) "
    "           SELECT $1, 'follow', followed_id FROM f) "
    "SELECT EXISTS (SELECT 1 FROM t), (SELECT blocked FROM b), NULL";

/* unfollowing takes the follow out of the feeds too */
static const char  ngx_http_social_sql_unfollow[] =
    "WITH t AS (SELECT user_id FROM users WHERE user_id = $2), "
    "     f AS (DELETE FROM follows "
    "            WHERE follower_id = $1 AND followed_id = $2), "
    "     e AS (DELETE FROM events "
    "            WHERE type = 'follow' AND actor_id = $1 AND target_id = $2 "
    "           RETURNING event_id) "
    "SELECT EXISTS (SELECT 1 FROM t), false, "
    "       (SELECT array_agg(event_id) FROM e)::text";

/* a block removes the follows both ways */
static const char  ngx_http_social_sql_block[] =
    "WITH t AS (SELECT user_id FROM users WHERE user_id = $2), "
    "     b AS (INSERT INTO blocks (blocker_id, blocked_id) "
    "           SELECT $1, user_id FROM t ON CONFLICT DO NOTHING), "
    "     f AS (DELETE FROM follows "
    "            WHERE (follower_id = $1 AND followed_id = $2) "
    "               OR (follower_id = $2 AND followed_id = $1)), "
    "     e AS (DELETE FROM events WHERE type = 'follow' "
    "              AND ((actor_id = $1 AND target_id = $2) "
    "                   OR (actor_id = $2 AND target_id = $1)) "
    "           RETURNING event_id) "
    "SELECT EXISTS (SELECT 1 FROM t), false, "
    "       (SELECT array_agg(event_id) FROM e)::text";

static const char  ngx_http_social_sql_unblock[] =
    "WITH t AS (SELECT user_id FROM users WHERE user_id = $2), "
    "     b AS (DELETE FROM blocks "
    "            WHERE blocker_id = $1 AND blocked_id = $2) "
    "SELECT EXISTS (SELECT 1 FROM t), false, NULL";


ngx_int_t
ngx_http_social_follow(ngx_http_social_ctx_t *ctx)
{
    return ngx_http_social_relation(ctx, ngx_http_social_sql_follow,
                                    ngx_http_social_sql_unfollow);
}


ngx_int_t
ngx_http_social_block(ngx_http_social_ctx_t *ctx)
{
    return ngx_http_social_relation(ctx, ngx_http_social_sql_block,
                                    ngx_http_social_sql_unblock);
}


static ngx_int_t
ngx_http_social_relation(ngx_http_social_ctx_t *ctx, const char *put,
    const char *del)
{
    int64_t       id;
    const char  **values;

    if (ngx_http_social_path_id(ctx, &id) != NGX_OK) {
        return ngx_http_social_not_found(ctx);
    }

    if (id == ctx->user_id) {
        return ngx_http_social_error(ctx, NGX_HTTP_UNPROCESSABLE_ENTITY,
                                     "validation_failed",
                                     "A user cannot do this to themself.",
                                     NULL);
    }

    values = ngx_palloc(ctx->request->pool, 2 * sizeof(char *));
    if (values == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    values[0] = ngx_http_social_int64(ctx, ctx->user_id);
    values[1] = ngx_http_social_int64(ctx, id);

    return ngx_http_social_pg_or_503(ctx,
                                     ctx->request->method == NGX_HTTP_PUT
                                     ? put : del,
                                     2, values, ngx_http_social_relation_done);
}


static void
ngx_http_social_relation_done(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_forget_t  f;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    if (PQgetvalue(res, 0, NGX_HTTP_SOCIAL_RELATION_FOUND)[0] != 't') {
        ngx_http_social_done(ctx, ngx_http_social_not_found(ctx));
        return;
    }

    if (PQgetvalue(res, 0, NGX_HTTP_SOCIAL_RELATION_BLOCKED)[0] == 't') {
        ngx_http_social_done(ctx, ngx_http_social_error(ctx,
                                 NGX_HTTP_FORBIDDEN, "forbidden",
                                 "A block stands between these users.",
                                 NULL));
        return;
    }

    if (PQgetisnull(res, 0, NGX_HTTP_SOCIAL_RELATION_EVENTS)) {
        if (ctx->request->method == NGX_HTTP_PUT) {
            /* a follow's event, perhaps */
            ngx_http_social_feed_changed();
        }

        ngx_http_social_done(ctx, ngx_http_social_send(ctx,
                                                       NGX_HTTP_NO_CONTENT,
                                                       NULL));
        return;
    }

    /* follow events went: out of the feed in Redis before the answer */

    ngx_memzero(&f, sizeof(ngx_http_social_forget_t));
    f.events = PQgetvalue(res, 0, NGX_HTTP_SOCIAL_RELATION_EVENTS);

    ngx_http_social_feed_forget(ctx, &f, NULL);
}
