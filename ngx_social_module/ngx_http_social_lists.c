
/*
 * Copyright (C) ngx_social developers
 */


/*
 * GET /user/{id}/posts, /followers, /following: newest first, paginated,
 * 404 as GET /user is (unknown, or in a block with the reader); the users
 * listed leave out those in a block with the reader.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_request.h"
#include "ngx_http_social_endpoints.h"


typedef struct {
    const char                     *sql;
    const char                     *key;
    ngx_uint_t                      posts;      /* unsigned:1 */
    int                             cursor;     /* its two columns */
} ngx_http_social_list_kind_t;


/* a user's columns, from the first given to ngx_http_social_user_ref_json() */

enum {
    NGX_HTTP_SOCIAL_USER_REF_COL_ID = 0,
    NGX_HTTP_SOCIAL_USER_REF_COL_USERNAME,
    NGX_HTTP_SOCIAL_USER_REF_COLUMNS
};

/* a post is 5 columns (ngx_http_social_post_json()), then the cursor */
#define NGX_HTTP_SOCIAL_LIST_POST_CURSOR  5


typedef struct {
    ngx_http_social_list_kind_t    *kind;
    const char                     *values[5];
    ngx_uint_t                      limit;
} ngx_http_social_list_t;


static ngx_int_t ngx_http_social_list(ngx_http_social_ctx_t *ctx,
    ngx_http_social_list_kind_t *kind);
static void ngx_http_social_list_visible(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_list_read(ngx_http_social_ctx_t *ctx,
    PGresult *res);


static const char  ngx_http_social_sql_list_visible[] =
    "SELECT 1 FROM users WHERE user_id = $1 "
    "   AND NOT " NGX_HTTP_SOCIAL_SQL_BLOCKED("$1", "$2");

/*
 * $1 user, $2 reader, $3 and $4 the cursor, $5 the page and one more;
 * every statement names every parameter (PostgreSQL types them from use)
 */

static ngx_http_social_list_kind_t  ngx_http_social_list_posts = {
    "SELECT p.post_id, p.author_id, p.content, social_time(p.created_at), "
    "       (SELECT count(*) FROM likes l WHERE l.post_id = p.post_id), "
    "       p.post_id, 0 "
    "  FROM posts p "
    " WHERE p.author_id = $1 AND $2::bigint IS NOT NULL "
    "   AND (p.post_id, 0::bigint) < ($3, $4) "
    " ORDER BY p.post_id DESC LIMIT $5",
    "posts", 1, NGX_HTTP_SOCIAL_LIST_POST_CURSOR
};

static ngx_http_social_list_kind_t  ngx_http_social_list_followers = {
    "SELECT u.user_id, u.username, "
    "       (extract(epoch FROM f.created_at) * 1000000)::bigint, u.user_id "
    "  FROM follows f JOIN users u ON u.user_id = f.follower_id "
    " WHERE f.followed_id = $1 "
    "   AND NOT " NGX_HTTP_SOCIAL_SQL_BLOCKED("u.user_id", "$2")
    "   AND ((extract(epoch FROM f.created_at) * 1000000)::bigint, "
    "        u.user_id) < ($3, $4) "
    " ORDER BY f.created_at DESC, u.user_id DESC LIMIT $5",
    "followers", 0, NGX_HTTP_SOCIAL_USER_REF_COLUMNS
};

static ngx_http_social_list_kind_t  ngx_http_social_list_following = {
    "SELECT u.user_id, u.username, "
    "       (extract(epoch FROM f.created_at) * 1000000)::bigint, u.user_id "
    "  FROM follows f JOIN users u ON u.user_id = f.followed_id "
    " WHERE f.follower_id = $1 "
    "   AND NOT " NGX_HTTP_SOCIAL_SQL_BLOCKED("u.user_id", "$2")
    "   AND ((extract(epoch FROM f.created_at) * 1000000)::bigint, "
    "        u.user_id) < ($3, $4) "
    " ORDER BY f.created_at DESC, u.user_id DESC LIMIT $5",
    "following", 0, NGX_HTTP_SOCIAL_USER_REF_COLUMNS
};


ngx_int_t
ngx_http_social_user_posts(ngx_http_social_ctx_t *ctx)
{
    return ngx_http_social_list(ctx, &ngx_http_social_list_posts);
}


ngx_int_t
ngx_http_social_user_followers(ngx_http_social_ctx_t *ctx)
{
    return ngx_http_social_list(ctx, &ngx_http_social_list_followers);
}


ngx_int_t
ngx_http_social_user_following(ngx_http_social_ctx_t *ctx)
{
    return ngx_http_social_list(ctx, &ngx_http_social_list_following);
}


static ngx_int_t
ngx_http_social_list(ngx_http_social_ctx_t *ctx,
    ngx_http_social_list_kind_t *kind)
{
    int64_t                  id, a, b;
    ngx_http_social_list_t  *l;

    l = ngx_pcalloc(ctx->request->pool, sizeof(ngx_http_social_list_t));
    if (l == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->data = l;
    l->kind = kind;

    if (ngx_http_social_page_limit(ctx, &l->limit) != NGX_OK
        || ngx_http_social_cursor_parse(ctx, &a, &b) != NGX_OK)
    {
        return ngx_http_social_unprocessable(ctx);
    }

    if (ngx_http_social_path_id(ctx, &id) != NGX_OK) {
        return ngx_http_social_not_found(ctx);
    }

    l->values[0] = ngx_http_social_int64(ctx, id);
    l->values[1] = ngx_http_social_int64(ctx, ctx->user_id);
    l->values[2] = ngx_http_social_int64(ctx, a);
    l->values[3] = ngx_http_social_int64(ctx, b);
    l->values[4] = ngx_http_social_int64(ctx, l->limit + 1);

    return ngx_http_social_pg_or_503(ctx, ngx_http_social_sql_list_visible, 2,
                                     l->values, ngx_http_social_list_visible);
}


static void
ngx_http_social_list_visible(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_list_t  *l = ctx->data;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    if (PQntuples(res) == 0) {
        ngx_http_social_done(ctx, ngx_http_social_not_found(ctx));
        return;
    }

    ngx_http_social_pg_or_done(ctx, l->kind->sql, 5, l->values,
                               ngx_http_social_list_read);
}


static void
ngx_http_social_list_read(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    int                      i, n, cursor;
    yajl_gen                 g;
    ngx_http_social_list_t  *l = ctx->data;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    n = ngx_min(PQntuples(res), (int) l->limit);
    cursor = l->kind->cursor;

    g = ngx_http_social_page_start(ctx, l->kind->key);
    if (g == NULL) {
        return;
    }

    for (i = 0; i < n; i++) {
        if (l->kind->posts) {
            ngx_http_social_post_json(g, res, i, 0, 0);
            continue;
        }

        ngx_http_social_user_ref_json(g, res, i, 0);
    }

    if (PQntuples(res) > (int) l->limit) {
        ngx_http_social_page_end(ctx, g, PQgetvalue(res, n - 1, cursor),
                                 PQgetvalue(res, n - 1, cursor + 1));
        return;
    }

    ngx_http_social_page_end(ctx, g, NULL, NULL);
}


/* a user as lists and feeds show one: {"user_id", "username"} */

void
ngx_http_social_user_ref_json(yajl_gen g, PGresult *res, int row, int col)
{
    yajl_gen_map_open(g);
    ngx_http_social_json_str(g, "user_id");
    ngx_http_social_json_pg(g, res, row,
                            col + NGX_HTTP_SOCIAL_USER_REF_COL_ID,
                            NGX_HTTP_SOCIAL_JSON_INTEGER);
    ngx_http_social_json_str(g, "username");
    ngx_http_social_json_pg(g, res, row,
                            col + NGX_HTTP_SOCIAL_USER_REF_COL_USERNAME,
                            NGX_HTTP_SOCIAL_JSON_STRING);
    yajl_gen_map_close(g);
}
