
/*
 * Copyright (C) ngx_social developers
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_pg.h"


/* the backend ops of a request or a job that ends are detached */

void
ngx_http_social_task_release(ngx_http_social_ctx_t *ctx)
{
    ngx_queue_t           *q;
    ngx_http_social_op_t  *op;

    while (!ngx_queue_empty(&ctx->ops)) {
        q = ngx_queue_head(&ctx->ops);
        op = ngx_queue_data(q, ngx_http_social_op_t, link);

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                       "social: detaching op %p", op);

        ngx_http_social_op_unlink(op);
        op->detach(op);
    }

    ngx_http_social_pg_release(ctx);
}


void
ngx_http_social_op_attach(ngx_http_social_ctx_t *ctx,
    ngx_http_social_op_t *op)
{
    op->ctx = ctx;
    ngx_queue_insert_tail(&ctx->ops, &op->link);
}


void
ngx_http_social_op_unlink(ngx_http_social_op_t *op)
{
    if (op->ctx) {
        ngx_queue_remove(&op->link);
        op->ctx = NULL;
    }
}


/* an integer as a query parameter, in the request's (or job's) pool */

const char *
ngx_http_social_int64(ngx_http_social_ctx_t *ctx, int64_t n)
{
    u_char  *p;

    p = ngx_pnalloc(ctx->pool, NGX_INT64_LEN + 1);
    if (p == NULL) {
        return NULL;
    }

    *ngx_sprintf(p, "%L", n) = '\0';

    return (char *) p;
}
