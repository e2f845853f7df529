
/*
 * Copyright (C) ngx_social developers
 */


/* PUT and DELETE /user/{id}/follow and /user/{id}/block, idempotent */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_batch.h"
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
    const char *put, const char *del, ngx_uint_t both);
static void ngx_http_social_relation_done(ngx_http_social_ctx_t *ctx,
    PGresult *res);


ngx_int_t
ngx_http_social_follow(ngx_http_social_ctx_t *ctx)
{
    return ngx_http_social_relation(ctx, "follow", "unfollow", 0);
}


ngx_int_t
ngx_http_social_block(ngx_http_social_ctx_t *ctx)
{
    return ngx_http_social_relation(ctx, "block", "unblock", 1);
}


/* both: the other user's feed context changes too (a block) */

static ngx_int_t
ngx_http_social_relation(ngx_http_social_ctx_t *ctx, const char *put,
    const char *del, ngx_uint_t both)
{
    int64_t      id;
    const char  *other;

    if (ngx_http_social_path_id(ctx, &id) != NGX_OK) {
        return ngx_http_social_not_found(ctx);
    }

    if (id == ctx->user_id) {
        return ngx_http_social_error(ctx, NGX_HTTP_UNPROCESSABLE_ENTITY,
                                     "validation_failed",
                                     "A user cannot do this to themself.",
                                     NULL);
    }

    other = ngx_http_social_int64(ctx, id);

    if (both) {
        ctx->data = (void *) other;
    }

    /* the write in the worker's next batch: social_write_batch() */

    return ngx_http_social_batch_write(ctx,
                                       ctx->request->method == NGX_HTTP_PUT
                                       ? put : del,
                                       ngx_http_social_int64(ctx,
                                                             ctx->user_id),
                                       other, ngx_http_social_relation_done);
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

    /*
     * before the answer: the follow events that went, out of the feed in
     * Redis; the feed contexts whose follows or blocks changed (the
     * reader's; a block's, both users')
     */

    ngx_memzero(&f, sizeof(ngx_http_social_forget_t));
    f.events = PQgetisnull(res, 0, NGX_HTTP_SOCIAL_RELATION_EVENTS)
               ? NULL : PQgetvalue(res, 0, NGX_HTTP_SOCIAL_RELATION_EVENTS);
    f.touch[0] = ngx_http_social_int64(ctx, ctx->user_id);
    f.touch[1] = ctx->data;

    /* a follow's event, perhaps (a block makes none) */
    f.written = (ctx->request->method == NGX_HTTP_PUT && ctx->data == NULL);

    if (f.touch[0] == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_social_feed_forget(ctx, &f, NULL);
}
