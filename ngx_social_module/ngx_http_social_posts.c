
/*
 * Copyright (C) ngx_social developers
 */


/*
 * POST /posts, GET and DELETE /posts/{id}, PUT and DELETE /posts/{id}/like.
 * Each is one statement: a post and its event are written together.  The
 * writes (a post, a like, an unlike) go in the worker's batches
 * (ngx_http_social_batch.c), their statements in social_write_batch()
 * (migration 009).
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_batch.h"
#include "ngx_http_social_request.h"
#include "ngx_http_social_endpoints.h"
#include "ngx_http_social_feed_cache.h"


/* a post's columns, from the first given to ngx_http_social_post_json() */

enum {
    NGX_HTTP_SOCIAL_POST_COL_ID = 0,
    NGX_HTTP_SOCIAL_POST_COL_AUTHOR,
    NGX_HTTP_SOCIAL_POST_COL_CONTENT,
    NGX_HTTP_SOCIAL_POST_COL_CREATED_AT,
    NGX_HTTP_SOCIAL_POST_COL_LIKE_COUNT,
    NGX_HTTP_SOCIAL_POST_COL_LIKED_BY_ME        /* GET /posts/{id} only */
};


/* the columns of the delete */

enum {
    NGX_HTTP_SOCIAL_POST_DELETE_FOUND = 0,
    NGX_HTTP_SOCIAL_POST_DELETE_DELETED,
    NGX_HTTP_SOCIAL_POST_DELETE_EVENTS,         /* "{1,2}", or NULL */
    NGX_HTTP_SOCIAL_POST_DELETE_POSTS           /* "{1}" */
};


/* the columns of a like and of an unlike */

enum {
    NGX_HTTP_SOCIAL_LIKE_FOUND = 0,
    NGX_HTTP_SOCIAL_LIKE_EVENTS,                /* "{1,2}", or NULL */
    NGX_HTTP_SOCIAL_LIKE_POSTS                  /* "{1}" */
};


static void ngx_http_social_posts_created(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_posts_answer(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_post_read(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_post_deleted(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_like_done(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static const char **ngx_http_social_post_params(ngx_http_social_ctx_t *ctx);


/* unknown, deleted, or behind a block either way: no row */
static const char  ngx_http_social_sql_post_read[] =
    "SELECT p.post_id, p.author_id, p.content, social_time(p.created_at), "
    "       (SELECT count(*) FROM likes l WHERE l.post_id = p.post_id), "
    "       EXISTS (SELECT 1 FROM likes l "
    "                WHERE l.post_id = p.post_id AND l.user_id = $2) "
    "  FROM posts p "
    " WHERE p.post_id = $1 "
    "   AND NOT " NGX_HTTP_SOCIAL_SQL_BLOCKED("p.author_id", "$2");

/* the author, and whether it was deleted: the author or an admin only */
static const char  ngx_http_social_sql_post_delete[] =
    "WITH p AS (SELECT author_id FROM posts "
    "            WHERE post_id = $1 "
    "              AND NOT " NGX_HTTP_SOCIAL_SQL_BLOCKED("author_id", "$2")
    "), "
    "     d AS (DELETE FROM posts WHERE post_id = $1 "
    "              AND EXISTS (SELECT 1 FROM p) "
    "              AND (author_id = $2 OR $3::bool) RETURNING 1) "
    "SELECT EXISTS (SELECT 1 FROM p), EXISTS (SELECT 1 FROM d), "
    "       (SELECT array_agg(event_id) FROM events WHERE post_id = $1)::text, "
    "       ARRAY[$1::bigint]::text";

/* POST /posts {"content": "..."} */

ngx_int_t
ngx_http_social_posts(ngx_http_social_ctx_t *ctx)
{
    ngx_str_t  content;

    if (ngx_http_social_json_content(ctx, ctx->body, "content", 2000,
                                     &content)
        != NGX_OK)
    {
        return ngx_http_social_unprocessable(ctx);
    }

    /* a post and its event, in the worker's next batch of writes */

    return ngx_http_social_batch_write(ctx, "post",
                                       ngx_http_social_int64(ctx,
                                                             ctx->user_id),
                                       (char *) content.data,
                                       ngx_http_social_posts_created);
}


static void
ngx_http_social_posts_created(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    yajl_gen                  g;
    ngx_http_social_forget_t  f;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    g = ngx_http_social_json_gen(ctx->request->pool);
    if (g == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_social_post_json(g, res, 0, 0, 0);

    /*
     * the author's feed context goes (their newest event moved on) and the
     * write is counted before the answer, so that the next reads of the
     * feed have the post
     */

    ctx->data = g;

    ngx_memzero(&f, sizeof(ngx_http_social_forget_t));
    f.touch[0] = ngx_http_social_int64(ctx, ctx->user_id);
    f.written = 1;

    if (f.touch[0] == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_social_feed_forget(ctx, &f, ngx_http_social_posts_answer);
}


static void
ngx_http_social_posts_answer(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_done(ctx, ngx_http_social_send(ctx, NGX_HTTP_CREATED,
                                                   ctx->data));
}


/*
 * a post from five columns from "col": post_id, author_id, content,
 * created_at, like_count; and liked_by_me from the sixth when "mine"
 */

void
ngx_http_social_post_json(yajl_gen g, PGresult *res, int row, int col,
    ngx_uint_t mine)
{
    yajl_gen_map_open(g);
    ngx_http_social_json_str(g, "post_id");
    ngx_http_social_json_pg(g, res, row, col + NGX_HTTP_SOCIAL_POST_COL_ID,
                            NGX_HTTP_SOCIAL_JSON_INTEGER);
    ngx_http_social_json_str(g, "author_id");
    ngx_http_social_json_pg(g, res, row,
                            col + NGX_HTTP_SOCIAL_POST_COL_AUTHOR,
                            NGX_HTTP_SOCIAL_JSON_INTEGER);
    ngx_http_social_json_str(g, "content");
    ngx_http_social_json_pg(g, res, row,
                            col + NGX_HTTP_SOCIAL_POST_COL_CONTENT,
                            NGX_HTTP_SOCIAL_JSON_STRING);
    ngx_http_social_json_str(g, "created_at");
    ngx_http_social_json_pg(g, res, row,
                            col + NGX_HTTP_SOCIAL_POST_COL_CREATED_AT,
                            NGX_HTTP_SOCIAL_JSON_STRING);
    ngx_http_social_json_str(g, "like_count");
    ngx_http_social_json_pg(g, res, row,
                            col + NGX_HTTP_SOCIAL_POST_COL_LIKE_COUNT,
                            NGX_HTTP_SOCIAL_JSON_INTEGER);

    if (mine) {
        ngx_http_social_json_str(g, "liked_by_me");
        yajl_gen_bool(g, PQgetvalue(res, row,
                                    col + NGX_HTTP_SOCIAL_POST_COL_LIKED_BY_ME)
                         [0] == 't');
    }

    yajl_gen_map_close(g);
}


/* the post id of the path and the reader, as parameters; NULL: 404 */

static const char **
ngx_http_social_post_params(ngx_http_social_ctx_t *ctx)
{
    int64_t       id;
    const char  **values;

    if (ngx_http_social_path_id(ctx, &id) != NGX_OK) {
        return NULL;
    }

    values = ngx_palloc(ctx->request->pool, 3 * sizeof(char *));
    if (values == NULL) {
        return NULL;
    }

    values[0] = ngx_http_social_int64(ctx, id);
    values[1] = ngx_http_social_int64(ctx, ctx->user_id);
    values[2] = ctx->admin ? "true" : "false";

    return values;
}


/* GET /posts/{id}, DELETE /posts/{id} */

ngx_int_t
ngx_http_social_post(ngx_http_social_ctx_t *ctx)
{
    const char  **values;

    values = ngx_http_social_post_params(ctx);
    if (values == NULL) {
        return ngx_http_social_not_found(ctx);
    }

    if (ctx->request->method == NGX_HTTP_DELETE) {
        return ngx_http_social_pg_or_503(ctx, ngx_http_social_sql_post_delete,
                                         3, values,
                                         ngx_http_social_post_deleted);
    }

    return ngx_http_social_pg_or_503(ctx, ngx_http_social_sql_post_read, 2,
                                     values, ngx_http_social_post_read);
}


static void
ngx_http_social_post_read(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    yajl_gen  g;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    if (PQntuples(res) == 0) {
        ngx_http_social_done(ctx, ngx_http_social_not_found(ctx));
        return;
    }

    g = ngx_http_social_json_gen(ctx->request->pool);
    if (g == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_social_post_json(g, res, 0, 0, 1);

    ngx_http_social_done(ctx, ngx_http_social_send(ctx, NGX_HTTP_OK, g));
}


static void
ngx_http_social_post_deleted(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_forget_t  f;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    if (PQgetvalue(res, 0, NGX_HTTP_SOCIAL_POST_DELETE_FOUND)[0] != 't') {
        ngx_http_social_done(ctx, ngx_http_social_not_found(ctx));
        return;
    }

    if (PQgetvalue(res, 0, NGX_HTTP_SOCIAL_POST_DELETE_DELETED)[0] != 't') {
        ngx_http_social_done(ctx, ngx_http_social_forbidden(ctx));
        return;
    }

    /* gone from the feed in Redis too before the answer */

    ngx_memzero(&f, sizeof(ngx_http_social_forget_t));
    f.events = PQgetisnull(res, 0, NGX_HTTP_SOCIAL_POST_DELETE_EVENTS)
               ? NULL
               : PQgetvalue(res, 0, NGX_HTTP_SOCIAL_POST_DELETE_EVENTS);
    f.posts = PQgetvalue(res, 0, NGX_HTTP_SOCIAL_POST_DELETE_POSTS);

    ngx_http_social_feed_forget(ctx, &f, NULL);
}


/* PUT, DELETE /posts/{id}/like: idempotent */

ngx_int_t
ngx_http_social_like(ngx_http_social_ctx_t *ctx)
{
    const char  **values;

    values = ngx_http_social_post_params(ctx);
    if (values == NULL) {
        return ngx_http_social_not_found(ctx);
    }

    /* a like once with its event, or none: social_write_batch() */

    return ngx_http_social_batch_write(ctx,
                                       ctx->request->method == NGX_HTTP_PUT
                                       ? "like" : "unlike",
                                       values[0], values[1],
                                       ngx_http_social_like_done);
}


static void
ngx_http_social_like_done(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_forget_t  f;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    if (PQgetvalue(res, 0, NGX_HTTP_SOCIAL_LIKE_FOUND)[0] != 't') {
        ngx_http_social_done(ctx, ngx_http_social_not_found(ctx));
        return;
    }

    /* like_count changed: the cached post goes, and an unlike's event */

    ngx_memzero(&f, sizeof(ngx_http_social_forget_t));
    f.events = PQgetisnull(res, 0, NGX_HTTP_SOCIAL_LIKE_EVENTS)
               ? NULL : PQgetvalue(res, 0, NGX_HTTP_SOCIAL_LIKE_EVENTS);
    f.posts = PQgetvalue(res, 0, NGX_HTTP_SOCIAL_LIKE_POSTS);

    /* and the reader's feed context: their newest event moved */

    f.touch[0] = ngx_http_social_int64(ctx, ctx->user_id);
    f.written = (ctx->request->method == NGX_HTTP_PUT);

    if (f.touch[0] == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_social_feed_forget(ctx, &f, NULL);
}
