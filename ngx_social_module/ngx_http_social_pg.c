
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The pool of one worker: a statement goes to an idle connection, or to
 * a new one, or waits in a bounded queue for one; a BEGIN pins its
 * connection to the task until COMMIT or ROLLBACK, and a task that goes
 * away rolls its transaction back.  The connections are _pg_conn.c's.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_util.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_pg_conn.h"
#include "ngx_http_social_shm.h"


static ngx_int_t ngx_http_social_pg_op(ngx_http_social_ctx_t *ctx,
    const char *sql, int nparams, const char *const *values,
    ngx_http_social_pg_handler_pt handler, ngx_uint_t flags);
static ngx_int_t ngx_http_social_pg_submit(ngx_http_social_ctx_t *ctx,
    ngx_http_social_pg_op_t *op);
static void ngx_http_social_pg_wait_timeout(ngx_event_t *ev);
static void ngx_http_social_pg_detach(ngx_http_social_op_t *op);
static void ngx_http_social_pg_prepared(ngx_http_social_pg_conn_t *conn,
    ngx_http_social_pg_op_t *op, PGresult *res);
static void ngx_http_social_pg_free(ngx_http_social_pg_conn_t *conn);
static PGresult *ngx_http_social_pg_rows(PGresult *res, const int *rows,
    int n, int ncols);


ngx_http_social_pg_pool_t  *ngx_http_social_pg_pool;


ngx_int_t
ngx_http_social_pg_init_process(ngx_cycle_t *cycle,
    ngx_http_social_main_conf_t *smcf)
{
    ngx_uint_t                  i;
    ngx_http_social_pg_pool_t  *pool;

    if (smcf->pg_conninfo.len == 0) {
        return NGX_OK;
    }

    pool = ngx_pcalloc(cycle->pool, sizeof(ngx_http_social_pg_pool_t));
    if (pool == NULL) {
        return NGX_ERROR;
    }

    pool->conns = ngx_pcalloc(cycle->pool,
                      smcf->pg_pool_size * sizeof(ngx_http_social_pg_conn_t));
    if (pool->conns == NULL) {
        return NGX_ERROR;
    }

    pool->smcf = smcf;
    pool->log = cycle->log;
    ngx_queue_init(&pool->idle);
    ngx_queue_init(&pool->waiting);

    for (i = 0; i < smcf->pg_pool_size; i++) {
        pool->conns[i].state = NGX_HTTP_SOCIAL_PG_CLOSED;
    }

    ngx_http_social_pg_pool = pool;

    return NGX_OK;
}


void
ngx_http_social_pg_exit_process(void)
{
    ngx_uint_t                  i;
    ngx_http_social_pg_pool_t  *pool;

    pool = ngx_http_social_pg_pool;
    if (pool == NULL) {
        return;
    }

    /*
     * the process is leaving: no handler runs, the sockets just close;
     * an op still in flight (a job's, detached by then) goes with them
     */

    for (i = 0; i < pool->smcf->pg_pool_size; i++) {
        if (pool->conns[i].op && pool->conns[i].op->op.ctx == NULL) {
            ngx_free(pool->conns[i].op);
            pool->conns[i].op = NULL;
        }

        if (pool->conns[i].pg) {
            PQfinish(pool->conns[i].pg);
            pool->conns[i].pg = NULL;
        }
    }

    ngx_http_social_pg_pool = NULL;
}


/* a statement shared by several requests: one request's answer */

void
ngx_http_social_pg_deliver(ngx_http_social_ctx_t *ctx,
    ngx_http_social_pg_handler_pt handler, PGresult *res, int row,
    int ncols, ngx_uint_t reason)
{
    ngx_http_social_pg_deliver_rows(ctx, handler, res, &row, row >= 0,
                                    ncols, reason);
}


/* the same with the request's rows, n of them (in that order) */

void
ngx_http_social_pg_deliver_rows(ngx_http_social_ctx_t *ctx,
    ngx_http_social_pg_handler_pt handler, PGresult *res, const int *rows,
    int n, int ncols, ngx_uint_t reason)
{
    PGresult          *own;
    ngx_connection_t  *c;

    own = NULL;

    if (res && PQresultStatus(res) == PGRES_TUPLES_OK) {
        /* never the whole statement's rows: this request's only, or none */

        own = ngx_http_social_pg_rows(res, rows, n, ncols);
        res = own;

        if (own == NULL) {
            reason = NGX_HTTP_SOCIAL_BACKEND_DOWN;
        }
    }

    ctx->backend_error = reason;
    c = ctx->request ? ctx->request->connection : NULL;

    handler(ctx, res);

    if (own) {
        PQclear(own);
    }

    if (c) {
        ngx_http_run_posted_requests(c);
    }
}


/* a result of the rows' first ncols columns, in that order (n may be 0) */

static PGresult *
ngx_http_social_pg_rows(PGresult *res, const int *rows, int n, int ncols)
{
    int            i, k, row, len;
    char          *value;
    PGresult      *own;
    PGresAttDesc   attrs[NGX_HTTP_SOCIAL_PG_ROW_COLS];

    if (ncols > NGX_HTTP_SOCIAL_PG_ROW_COLS || ncols > PQnfields(res)) {
        return NULL;
    }

    for (k = 0; k < n; k++) {
        if (rows[k] < 0 || rows[k] >= PQntuples(res)) {
            return NULL;
        }
    }

    own = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    if (own == NULL) {
        return NULL;
    }

    ngx_memzero(attrs, sizeof(attrs));

    for (i = 0; i < ncols; i++) {
        attrs[i].name = PQfname(res, i);
        attrs[i].typid = PQftype(res, i);
        attrs[i].typlen = PQfsize(res, i);
        attrs[i].atttypmod = PQfmod(res, i);
    }

    if (!PQsetResultAttrs(own, ncols, attrs)) {
        goto failed;
    }

    for (k = 0; k < n; k++) {
        row = rows[k];

        for (i = 0; i < ncols; i++) {
            if (PQgetisnull(res, row, i)) {
                value = NULL;
                len = -1;

            } else {
                value = PQgetvalue(res, row, i);
                len = PQgetlength(res, row, i);
            }

            if (!PQsetvalue(own, k, i, value, len)) {
                goto failed;
            }
        }
    }

    return own;

failed:

    PQclear(own);

    return NULL;
}


ngx_int_t
ngx_http_social_pg_query(ngx_http_social_ctx_t *ctx, const char *sql,
    int nparams, const char *const *values,
    ngx_http_social_pg_handler_pt handler)
{
    return ngx_http_social_pg_op(ctx, sql, nparams, values, handler, 0);
}


/*
 * BEGIN: the connection stays the request's until ngx_http_social_pg_end();
 * if it is lost before, the transaction fails whole (ctx->pg_failed) and
 * only a new BEGIN runs statements again
 */

ngx_int_t
ngx_http_social_pg_begin(ngx_http_social_ctx_t *ctx,
    ngx_http_social_pg_handler_pt handler)
{
    if (ctx->pg_pinned) {
        return NGX_ERROR;
    }

    ctx->pg_failed = NGX_HTTP_SOCIAL_BACKEND_OK;

    return ngx_http_social_pg_op(ctx, "BEGIN", 0, NULL, handler,
                                 NGX_HTTP_SOCIAL_PG_PIN);
}


ngx_int_t
ngx_http_social_pg_end(ngx_http_social_ctx_t *ctx, ngx_uint_t commit,
    ngx_http_social_pg_handler_pt handler)
{
    if (ctx->pg_pinned == NULL) {
        if (ctx->pg_failed) {
            ctx->backend_error = ctx->pg_failed;
        }

        return NGX_ERROR;
    }

    return ngx_http_social_pg_op(ctx, commit ? "COMMIT" : "ROLLBACK", 0, NULL,
                                 handler, NGX_HTTP_SOCIAL_PG_UNPIN);
}


static ngx_int_t
ngx_http_social_pg_op(ngx_http_social_ctx_t *ctx, const char *sql,
    int nparams, const char *const *values,
    ngx_http_social_pg_handler_pt handler, ngx_uint_t flags)
{
    ngx_http_social_pg_op_t  *op;

    op = ngx_calloc(sizeof(ngx_http_social_pg_op_t), ctx->log);
    if (op == NULL) {
        return NGX_ERROR;
    }

    op->sql = sql;
    op->nparams = nparams;
    op->values = values;
    op->handler = handler;
    op->pin = (flags == NGX_HTTP_SOCIAL_PG_PIN);
    op->unpin = (flags == NGX_HTTP_SOCIAL_PG_UNPIN);

    return ngx_http_social_pg_submit(ctx, op);
}


/* the request is going away: an open transaction is rolled back */

void
ngx_http_social_pg_release(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_pg_conn_t  *conn;

    conn = ctx->pg_pinned;
    if (conn == NULL) {
        return;
    }

    ctx->pg_pinned = NULL;
    conn->pinned = NULL;

    if (conn->state == NGX_HTTP_SOCIAL_PG_BUSY) {
        conn->rollback = 1;
        return;
    }

    ngx_http_social_pg_rollback(conn);
}


static ngx_int_t
ngx_http_social_pg_submit(ngx_http_social_ctx_t *ctx,
    ngx_http_social_pg_op_t *op)
{
    ngx_uint_t                  i, alive;
    ngx_http_social_pg_conn_t  *conn, *closed;
    ngx_http_social_pg_pool_t  *pool;

    pool = ngx_http_social_pg_pool;

    op->op.detach = ngx_http_social_pg_detach;
    ngx_http_social_op_attach(ctx, &op->op);

    ctx->pg_unknown = 0;

    ctx->backend_error = NGX_HTTP_SOCIAL_BACKEND_DOWN;

    if (pool == NULL) {
        goto failed;
    }

    if (ctx->pg_failed && !op->pin) {
        /* never on another connection, outside the transaction */
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                       "social pg: statement refused, its transaction lost "
                       "its connection");
        ctx->backend_error = ctx->pg_failed;
        goto failed;
    }

    if (ctx->pg_pinned) {
        conn = ctx->pg_pinned;

        if (conn->state != NGX_HTTP_SOCIAL_PG_IDLE) {
            goto failed;
        }

        if (ngx_http_social_pg_send(conn, op) != NGX_OK) {
            ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_DOWN);
            goto failed;
        }

        return NGX_OK;
    }

    while (!ngx_queue_empty(&pool->idle)) {
        conn = ngx_queue_data(ngx_queue_head(&pool->idle),
                              ngx_http_social_pg_conn_t, queue);
        ngx_queue_remove(&conn->queue);
        conn->c->idle = 0;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                       "social pg: reusing connection %p", conn);

        if (ngx_http_social_pg_send(conn, op) == NGX_OK) {
            return NGX_OK;
        }

        ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_DOWN);
    }

    closed = NULL;
    alive = 0;

    for (i = 0; i < pool->smcf->pg_pool_size; i++) {
        if (pool->conns[i].state != NGX_HTTP_SOCIAL_PG_CLOSED) {
            alive++;

        } else if (closed == NULL) {
            closed = &pool->conns[i];
        }
    }

    if (closed && !ngx_http_social_backoff_waiting(&pool->backoff)) {
        if (ngx_http_social_pg_connect(closed) == NGX_OK) {
            alive++;
        }
    }

    if (alive == 0) {
        /* nothing alive and no new connection yet: PostgreSQL is down */
        goto failed;
    }

    /* a connection is on its way for the ops to come, even with no room */

    if (pool->nwaiting >= pool->smcf->pg_queue_size) {
        ngx_log_error(NGX_LOG_WARN, ctx->log, 0,
                      "social: postgres wait queue is full (%ui)",
                      pool->nwaiting);
        ctx->backend_error = NGX_HTTP_SOCIAL_BACKEND_BUSY;
        goto failed;
    }

    op->waiting = 1;
    ngx_queue_insert_tail(&pool->waiting, &op->queue);
    pool->nwaiting++;

    op->timer.handler = ngx_http_social_pg_wait_timeout;
    op->timer.data = op;
    op->timer.log = pool->log;
    ngx_add_timer(&op->timer, pool->smcf->pg_queue_timeout);

    return NGX_OK;

failed:

    ngx_http_social_op_unlink(&op->op);
    ngx_free(op);

    return NGX_ERROR;
}


void
ngx_http_social_pg_complete(ngx_http_social_pg_conn_t *conn)
{
    PGresult                 *res;
    ngx_connection_t         *c;
    ngx_http_social_ctx_t    *ctx;
    ngx_http_social_pg_op_t  *op;

    op = conn->op;
    res = conn->res;

    conn->op = NULL;
    conn->res = NULL;
    conn->state = NGX_HTTP_SOCIAL_PG_IDLE;

    if (conn->c->read->timer_set) {
        ngx_del_timer(conn->c->read);
    }

    if (op->preparing) {
        ngx_http_social_pg_prepared(conn, op, res);
        return;
    }

    if (op->unpin && conn->pinned) {
        conn->pinned->pg_pinned = NULL;
        conn->pinned = NULL;
    }

    /*
     * a connection no transaction holds is free before the handler runs,
     * so that the handler's next query can have it at once
     */

    if (conn->pinned == NULL) {
        ngx_http_social_pg_free(conn);
    }

    ctx = op->op.ctx;

    if (ctx) {
        ngx_http_social_op_unlink(&op->op);
        ctx->backend_error = NGX_HTTP_SOCIAL_BACKEND_OK;

        c = ctx->request ? ctx->request->connection : NULL;
        op->handler(ctx, res);

        if (c) {
            ngx_http_run_posted_requests(c);
        }

    } else if (op->handler) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_http_social_pg_pool->log, 0,
                       "social pg: result of a request that went away "
                       "discarded");
    }

    if (res) {
        PQclear(res);
    }

    ngx_free(op);
}


/*
 * the statement is prepared: now it runs, unless its request went away
 * meanwhile (its parameters went with it); a statement that cannot be
 * prepared runs unprepared
 */

static void
ngx_http_social_pg_prepared(ngx_http_social_pg_conn_t *conn,
    ngx_http_social_pg_op_t *op, PGresult *res)
{
    ngx_uint_t  ok;

    ok = (res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK);

    if (res) {
        PQclear(res);
    }

    op->preparing = 0;

    if (ok) {
        conn->prepared[conn->nprepared++] = op->sql;
    }

    if (op->op.ctx == NULL) {
        ngx_free(op);

        if (conn->pinned == NULL) {
            ngx_http_social_pg_free(conn);
        }

        return;
    }

    /* one that could not be prepared runs unnamed: its error is its own */

    op->unprepared = !ok;

    if (ngx_http_social_pg_send(conn, op) != NGX_OK) {
        ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_DOWN);
        ngx_http_social_pg_fail(op, NGX_HTTP_SOCIAL_BACKEND_DOWN);
    }
}


/* a connection no transaction holds: closed, rolled back or ready */

static void
ngx_http_social_pg_free(ngx_http_social_pg_conn_t *conn)
{
    if (PQstatus(conn->pg) != CONNECTION_OK) {
        ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_DOWN);

    } else if (conn->rollback
               || PQtransactionStatus(conn->pg) != PQTRANS_IDLE)
    {
        /* a transaction left open by a request that went away */
        ngx_http_social_pg_rollback(conn);

    } else {
        ngx_http_social_pg_ready(conn);
    }
}


/* a connection became free: serve the next waiting op or park it */

void
ngx_http_social_pg_ready(ngx_http_social_pg_conn_t *conn)
{
    ngx_queue_t                *q;
    ngx_connection_t           *c;
    ngx_http_social_pg_op_t    *op;
    ngx_http_social_pg_pool_t  *pool;

    pool = ngx_http_social_pg_pool;
    c = conn->c;

    while (!ngx_queue_empty(&pool->waiting)) {
        q = ngx_queue_head(&pool->waiting);
        op = ngx_queue_data(q, ngx_http_social_pg_op_t, queue);

        ngx_queue_remove(q);
        pool->nwaiting--;
        op->waiting = 0;

        if (op->timer.timer_set) {
            ngx_del_timer(&op->timer);
        }

        if (ngx_http_social_pg_send(conn, op) == NGX_OK) {
            return;
        }

        ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_DOWN);
        ngx_http_social_pg_fail(op, NGX_HTTP_SOCIAL_BACKEND_DOWN);
        return;
    }

    if (ngx_http_social_exiting()) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "social pg: closing %p after its reply, the worker "
                       "is exiting", conn);
        ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_OK);
        return;
    }

    /* parked: ngx_close_idle_connections() closes it on shutdown */

    c->idle = 1;
    c->log = pool->log;
    ngx_queue_insert_head(&pool->idle, &conn->queue);
}


void
ngx_http_social_pg_rollback(ngx_http_social_pg_conn_t *conn)
{
    ngx_http_social_pg_op_t  *op;

    conn->rollback = 0;

    op = ngx_calloc(sizeof(ngx_http_social_pg_op_t), conn->c->log);
    if (op == NULL) {
        ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_DOWN);
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, conn->c->log, 0,
                   "social pg: rolling back on %p", conn);

    op->sql = "ROLLBACK";

    if (ngx_http_social_pg_send(conn, op) != NGX_OK) {
        ngx_free(op);
        ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_DOWN);
    }
}


void
ngx_http_social_pg_fail(ngx_http_social_pg_op_t *op, ngx_uint_t reason)
{
    ngx_connection_t       *c;
    ngx_http_social_ctx_t  *ctx;

    ctx = op->op.ctx;

    if (op->timer.timer_set) {
        ngx_del_timer(&op->timer);
    }

    if (ctx) {
        ngx_http_social_op_unlink(&op->op);
        ctx->backend_error = reason;

        c = ctx->request ? ctx->request->connection : NULL;
        op->handler(ctx, NULL);

        if (c) {
            ngx_http_run_posted_requests(c);
        }
    }

    ngx_free(op);
}


void
ngx_http_social_pg_fail_waiting(ngx_uint_t reason)
{
    ngx_queue_t                *q;
    ngx_http_social_pg_op_t    *op;
    ngx_http_social_pg_pool_t  *pool;

    pool = ngx_http_social_pg_pool;

    while (!ngx_queue_empty(&pool->waiting)) {
        q = ngx_queue_head(&pool->waiting);
        op = ngx_queue_data(q, ngx_http_social_pg_op_t, queue);

        ngx_queue_remove(q);
        pool->nwaiting--;
        op->waiting = 0;

        ngx_http_social_pg_fail(op, reason);
    }
}


static void
ngx_http_social_pg_wait_timeout(ngx_event_t *ev)
{
    ngx_http_social_pg_op_t  *op;

    op = ev->data;

    ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                  "social: no postgres connection within the queue timeout");

    ngx_http_social_stat_add(pg_wait_timeouts, 1);

    ngx_queue_remove(&op->queue);
    ngx_http_social_pg_pool->nwaiting--;
    op->waiting = 0;

    ngx_http_social_pg_fail(op, NGX_HTTP_SOCIAL_BACKEND_BUSY);
}


/* the request went away before its op finished */

static void
ngx_http_social_pg_detach(ngx_http_social_op_t *o)
{
    ngx_http_social_pg_op_t  *op;

    op = (ngx_http_social_pg_op_t *) o;

    if (!op->waiting) {
        /* in flight: the reply is read and thrown away */
        return;
    }

    ngx_queue_remove(&op->queue);
    ngx_http_social_pg_pool->nwaiting--;

    if (op->timer.timer_set) {
        ngx_del_timer(&op->timer);
    }

    ngx_free(op);
}


/* the pool's gauges, in the worker's slot of the shared zone (/metrics) */

void
ngx_http_social_pg_gauges(void)
{
    ngx_uint_t                  i, open, busy;
    ngx_http_social_pg_conn_t  *conn;
    ngx_http_social_pg_pool_t  *pool;

    pool = ngx_http_social_pg_pool;

    if (pool == NULL) {
        return;
    }

    open = 0;
    busy = 0;

    for (i = 0; i < pool->smcf->pg_pool_size; i++) {
        conn = &pool->conns[i];

        if (conn->state != NGX_HTTP_SOCIAL_PG_CLOSED) {
            open++;
        }

        if (conn->state == NGX_HTTP_SOCIAL_PG_BUSY || conn->pinned) {
            busy++;
        }
    }

    ngx_http_social_stat_set(pg_size, open);
    ngx_http_social_stat_set(pg_busy, busy);
    ngx_http_social_stat_set(pg_waiting, pool->nwaiting);
}
