
/*
 * Copyright (C) ngx_social developers
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_pg.h"


/* a wait of a task on a timer: an op, so that an ended task cancels it */

typedef struct {
    ngx_http_social_op_t            op;
    ngx_event_t                     ev;
    ngx_http_social_step_pt         step;
} ngx_http_social_sleep_t;


static void ngx_http_social_sleep_done(ngx_event_t *ev);
static void ngx_http_social_sleep_detach(ngx_http_social_op_t *op);


/*
 * a task of its own, for work that no request owns (a job, a batch): its
 * pool, and size bytes of data in it (ctx->data), zeroed; NULL when there
 * is no memory
 */

ngx_http_social_ctx_t *
ngx_http_social_task_create(ngx_http_social_main_conf_t *smcf, size_t size)
{
    ngx_pool_t             *pool;
    ngx_http_social_ctx_t  *ctx;

    pool = ngx_create_pool(4096, ngx_cycle->log);
    if (pool == NULL) {
        return NULL;
    }

    ctx = ngx_pcalloc(pool, sizeof(ngx_http_social_ctx_t));
    if (ctx == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    if (size) {
        ctx->data = ngx_pcalloc(pool, size);
        if (ctx->data == NULL) {
            ngx_destroy_pool(pool);
            return NULL;
        }
    }

    ctx->pool = pool;
    ctx->log = ngx_cycle->log;
    ctx->smcf = smcf;
    ngx_queue_init(&ctx->ops);

    return ctx;
}


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


/* step(ctx) in msec, unless the task ends first */

ngx_int_t
ngx_http_social_task_sleep(ngx_http_social_ctx_t *ctx, ngx_msec_t msec,
    ngx_http_social_step_pt step)
{
    ngx_http_social_sleep_t  *sl;

    sl = ngx_pcalloc(ctx->pool, sizeof(ngx_http_social_sleep_t));
    if (sl == NULL) {
        return NGX_ERROR;
    }

    sl->step = step;
    sl->ev.handler = ngx_http_social_sleep_done;
    sl->ev.data = sl;
    sl->ev.log = ctx->log;

    sl->op.detach = ngx_http_social_sleep_detach;
    ngx_http_social_op_attach(ctx, &sl->op);

    ngx_add_timer(&sl->ev, msec);

    return NGX_OK;
}


static void
ngx_http_social_sleep_done(ngx_event_t *ev)
{
    ngx_http_social_sleep_t  *sl = ev->data;

    ngx_connection_t       *c;
    ngx_http_social_ctx_t  *ctx;

    ctx = sl->op.ctx;
    c = ctx->request ? ctx->request->connection : NULL;

    ngx_http_social_op_unlink(&sl->op);
    sl->step(ctx);

    if (c) {
        ngx_http_run_posted_requests(c);
    }
}


static void
ngx_http_social_sleep_detach(ngx_http_social_op_t *op)
{
    ngx_http_social_sleep_t  *sl;

    sl = (ngx_http_social_sleep_t *) op;

    if (sl->ev.timer_set) {
        ngx_del_timer(&sl->ev);
    }
}
