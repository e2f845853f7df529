
/*
 * Copyright (C) ngx_social developers
 */


/*
 * GET /feed?limit=&before=: the events of the reader and of whom the reader
 * follows now, newest first, without any event whose actor, post author or
 * target is in a block with the reader.  The filter is in the query, so a
 * page is full whenever more matching events exist; the cursor is the last
 * event id of the page, so new events never shift a page (no duplicates,
 * no gaps).
 */


#include "ngx_http_social_module.h"


static void ngx_http_social_feed_read(ngx_http_social_ctx_t *ctx,
    PGresult *res);


/* the users in a block with the reader are read once, as a hashed set */

static const char  ngx_http_social_sql_feed[] =
    "WITH b AS (SELECT blocked_id AS id FROM blocks WHERE blocker_id = $1 "
    "           UNION SELECT blocker_id FROM blocks WHERE blocked_id = $1) "
    "SELECT e.event_id, e.type, social_time(e.created_at), "
    "       a.user_id, a.username, "
    "       p.post_id, p.author_id, p.content, social_time(p.created_at), "
    "       (SELECT count(*) FROM likes l WHERE l.post_id = p.post_id), "
    "       t.user_id, t.username "
    "  FROM events e "
    "  JOIN users a ON a.user_id = e.actor_id "
    "  LEFT JOIN posts p ON p.post_id = e.post_id "
    "  LEFT JOIN users t ON t.user_id = e.target_id "
    " WHERE e.actor_id = ANY (ARRAY(SELECT f.followed_id FROM follows f "
    "                                WHERE f.follower_id = $1) "
    "                         || $1::bigint) "
    "   AND e.event_id < $2 "
    "   AND e.actor_id NOT IN (SELECT id FROM b) "
    "   AND (p.author_id IS NULL OR p.author_id NOT IN (SELECT id FROM b)) "
    "   AND (e.target_id IS NULL OR e.target_id NOT IN (SELECT id FROM b)) "
    " ORDER BY e.event_id DESC "
    " LIMIT $3";


typedef struct {
    const char                     *values[3];
    ngx_uint_t                      limit;
} ngx_http_social_feed_t;


ngx_int_t
ngx_http_social_feed(ngx_http_social_ctx_t *ctx)
{
    int64_t                  before, unused;
    ngx_http_social_feed_t  *f;

    f = ngx_pcalloc(ctx->request->pool, sizeof(ngx_http_social_feed_t));
    if (f == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->data = f;

    if (ngx_http_social_arg_limit(ctx, 1, 100, 20, &f->limit) != NGX_OK
        || ngx_http_social_cursor_parse(ctx, &before, &unused) != NGX_OK)
    {
        return ngx_http_social_invalid(ctx);
    }

    f->values[0] = ngx_http_social_int64(ctx, ctx->user_id);
    f->values[1] = ngx_http_social_int64(ctx, before);

    /* one more than the page: whether there is a next one */
    f->values[2] = ngx_http_social_int64(ctx, f->limit + 1);

    return ngx_http_social_pg_step(ctx, ngx_http_social_sql_feed, 3,
                                   f->values, ngx_http_social_feed_read);
}


static void
ngx_http_social_feed_read(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    int                      i, n;
    yajl_gen                 g;
    ngx_http_social_feed_t  *f = ctx->data;

    if (!ngx_http_social_pg_ok(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    g = ngx_http_social_json_gen(ctx->request->pool);
    if (g == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    n = ngx_min(PQntuples(res), (int) f->limit);

    yajl_gen_map_open(g);
    ngx_http_social_json_str(g, "events");
    yajl_gen_array_open(g);

    for (i = 0; i < n; i++) {
        yajl_gen_map_open(g);
        ngx_http_social_json_str(g, "event_id");
        ngx_http_social_json_pg(g, res, i, 0, NGX_HTTP_SOCIAL_JSON_INTEGER);
        ngx_http_social_json_str(g, "type");
        ngx_http_social_json_pg(g, res, i, 1, NGX_HTTP_SOCIAL_JSON_STRING);
        ngx_http_social_json_str(g, "created_at");
        ngx_http_social_json_pg(g, res, i, 2, NGX_HTTP_SOCIAL_JSON_STRING);

        ngx_http_social_json_str(g, "actor");
        ngx_http_social_user_ref_json(g, res, i, 3);

        ngx_http_social_json_str(g, "post");
        if (PQgetisnull(res, i, 5)) {
            yajl_gen_null(g);

        } else {
            ngx_http_social_post_json(g, res, i, 5, 0);
        }

        ngx_http_social_json_str(g, "target");
        if (PQgetisnull(res, i, 10)) {
            yajl_gen_null(g);

        } else {
            ngx_http_social_user_ref_json(g, res, i, 10);
        }

        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);

    ngx_http_social_json_str(g, "next");

    if (PQntuples(res) > (int) f->limit) {
        if (ngx_http_social_cursor_json(ctx, g, PQgetvalue(res, n - 1, 0), "0")
            != NGX_OK)
        {
            ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

    } else {
        yajl_gen_null(g);
    }

    yajl_gen_map_close(g);

    ngx_http_social_done(ctx, ngx_http_social_send(ctx, NGX_HTTP_OK, g));
}
