
/*
 * Copyright (C) ngx_social developers
 */


#include "ngx_http_social_module.h"


#define NGX_HTTP_SOCIAL_PG_CLOSED      0
#define NGX_HTTP_SOCIAL_PG_CONNECTING  1
#define NGX_HTTP_SOCIAL_PG_IDLE        2
#define NGX_HTTP_SOCIAL_PG_BUSY        3

#define NGX_HTTP_SOCIAL_PG_BACKOFF_MIN   100
#define NGX_HTTP_SOCIAL_PG_BACKOFF_MAX   2000


struct ngx_http_social_pg_op_s {
    ngx_http_social_op_t            op;
    ngx_queue_t                     queue;      /* in pool->waiting */
    ngx_http_social_pg_handler_pt   handler;
    const char                     *sql;
    const char *const              *values;
    int                             nparams;
    ngx_event_t                     timer;      /* waiting too long */
    ngx_http_social_pg_conn_t      *conn;

    unsigned                        waiting:1;
    unsigned                        pin:1;      /* BEGIN */
    unsigned                        unpin:1;    /* COMMIT or ROLLBACK */
};


struct ngx_http_social_pg_conn_s {
    ngx_queue_t                     queue;      /* in pool->idle */
    PGconn                         *pg;
    ngx_connection_t               *c;
    ngx_http_social_pg_op_t        *op;
    PGresult                       *res;
    ngx_uint_t                      state;
    ngx_http_social_ctx_t          *pinned;

    unsigned                        flushing:1;
    unsigned                        rollback:1;
};


struct ngx_http_social_pg_pool_s {
    ngx_http_social_main_conf_t    *smcf;
    ngx_log_t                      *log;
    ngx_http_social_pg_conn_t      *conns;
    ngx_queue_t                     idle;
    ngx_queue_t                     waiting;
    ngx_uint_t                      nwaiting;
    ngx_msec_t                      backoff;
    ngx_msec_t                      retry_at;
};


static ngx_int_t ngx_http_social_pg_submit(ngx_http_social_ctx_t *ctx,
    ngx_http_social_pg_op_t *op);
static ngx_int_t ngx_http_social_pg_connect(ngx_http_social_pg_conn_t *conn);
static void ngx_http_social_pg_connect_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_social_pg_watch(ngx_http_social_pg_conn_t *conn,
    ngx_uint_t read, ngx_uint_t write);
static ngx_int_t ngx_http_social_pg_send(ngx_http_social_pg_conn_t *conn,
    ngx_http_social_pg_op_t *op);
static void ngx_http_social_pg_read_handler(ngx_event_t *rev);
static void ngx_http_social_pg_write_handler(ngx_event_t *wev);
static void ngx_http_social_pg_complete(ngx_http_social_pg_conn_t *conn);
static void ngx_http_social_pg_ready(ngx_http_social_pg_conn_t *conn);
static void ngx_http_social_pg_rollback(ngx_http_social_pg_conn_t *conn);
static void ngx_http_social_pg_close(ngx_http_social_pg_conn_t *conn,
    ngx_uint_t reason);
static void ngx_http_social_pg_fail(ngx_http_social_pg_op_t *op,
    ngx_uint_t reason);
static void ngx_http_social_pg_fail_waiting(ngx_uint_t reason);
static void ngx_http_social_pg_wait_timeout(ngx_event_t *ev);
static void ngx_http_social_pg_detach(ngx_http_social_op_t *op);
static void ngx_http_social_pg_notice(void *arg, const char *message);


static ngx_http_social_pg_pool_t  *ngx_http_social_pg_pool;


char *
ngx_http_social_pg_check_conninfo(ngx_conf_t *cf, ngx_str_t *conninfo)
{
    char                     *err, *s;
    ngx_str_t                 host;
    ngx_uint_t                numeric;
    PQconninfoOption         *opts, *o;
    struct sockaddr_storage   sa;

    s = ngx_pnalloc(cf->pool, conninfo->len + 1);
    if (s == NULL) {
        return NGX_CONF_ERROR;
    }

    (void) ngx_cpystrn((u_char *) s, conninfo->data, conninfo->len + 1);

    err = NULL;
    opts = PQconninfoParse(s, &err);

    if (opts == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid connection string in \"social_postgres\""
                           ": %s", err ? err : "out of memory");
        if (err) {
            PQfreemem(err);
        }

        return NGX_CONF_ERROR;
    }

    /*
     * libpq resolves a host name with a blocking getaddrinfo() inside
     * PQconnectPoll(): only numeric addresses and unix sockets are accepted
     */

    numeric = 1;

    for (o = opts; o->keyword; o++) {

        if (ngx_strcmp(o->keyword, "hostaddr") == 0 && o->val && o->val[0]) {
            numeric = 2;
            break;
        }

        if (ngx_strcmp(o->keyword, "host") != 0 || o->val == NULL) {
            continue;
        }

        host.data = (u_char *) o->val;
        host.len = ngx_strlen(o->val);

        if (host.len == 0 || host.data[0] == '/') {
            continue;
        }

        if (ngx_strlchr(host.data, host.data + host.len, ',') != NULL
            || (inet_pton(AF_INET, o->val, &sa) != 1
                && inet_pton(AF_INET6, o->val, &sa) != 1))
        {
            numeric = 0;
        }
    }

    PQconninfoFree(opts);

    if (numeric == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"social_postgres\" needs a numeric host "
                           "address or a unix socket directory (a host "
                           "name would block the worker while it resolves)");
        return NGX_CONF_ERROR;
    }

    conninfo->data = (u_char *) s;

    return NGX_CONF_OK;
}


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

    /* the process is leaving: no handler runs, the sockets just close */

    for (i = 0; i < pool->smcf->pg_pool_size; i++) {
        if (pool->conns[i].pg) {
            PQfinish(pool->conns[i].pg);
            pool->conns[i].pg = NULL;
        }
    }

    ngx_http_social_pg_pool = NULL;
}


ngx_int_t
ngx_http_social_pg_query(ngx_http_social_ctx_t *ctx, const char *sql,
    int nparams, const char *const *values,
    ngx_http_social_pg_handler_pt handler)
{
    ngx_http_social_pg_op_t  *op;

    op = ngx_calloc(sizeof(ngx_http_social_pg_op_t), ctx->request->pool->log);
    if (op == NULL) {
        return NGX_ERROR;
    }

    op->sql = sql;
    op->nparams = nparams;
    op->values = values;
    op->handler = handler;

    return ngx_http_social_pg_submit(ctx, op);
}


ngx_int_t
ngx_http_social_pg_begin(ngx_http_social_ctx_t *ctx,
    ngx_http_social_pg_handler_pt handler)
{
    ngx_http_social_pg_op_t  *op;

    if (ctx->pg_pinned) {
        return NGX_ERROR;
    }

    op = ngx_calloc(sizeof(ngx_http_social_pg_op_t), ctx->request->pool->log);
    if (op == NULL) {
        return NGX_ERROR;
    }

    op->sql = "BEGIN";
    op->handler = handler;
    op->pin = 1;

    return ngx_http_social_pg_submit(ctx, op);
}


ngx_int_t
ngx_http_social_pg_end(ngx_http_social_ctx_t *ctx, ngx_uint_t commit,
    ngx_http_social_pg_handler_pt handler)
{
    ngx_http_social_pg_op_t  *op;

    if (ctx->pg_pinned == NULL) {
        return NGX_ERROR;
    }

    op = ngx_calloc(sizeof(ngx_http_social_pg_op_t), ctx->request->pool->log);
    if (op == NULL) {
        return NGX_ERROR;
    }

    op->sql = commit ? "COMMIT" : "ROLLBACK";
    op->handler = handler;
    op->unpin = 1;

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

    ctx->backend_error = NGX_HTTP_SOCIAL_BACKEND_DOWN;

    if (pool == NULL) {
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

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                       "social pg: reusing connection %p", conn);

        if (ngx_http_social_pg_send(conn, op) == NGX_OK) {
            return NGX_OK;
        }

        ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_DOWN);
    }

    if (pool->nwaiting >= pool->smcf->pg_queue_size) {
        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "social: postgres wait queue is full (%ui)",
                      pool->nwaiting);
        ctx->backend_error = NGX_HTTP_SOCIAL_BACKEND_BUSY;
        goto failed;
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

    if (closed && ngx_current_msec >= pool->retry_at) {
        if (ngx_http_social_pg_connect(closed) == NGX_OK) {
            alive++;
        }
    }

    if (alive == 0) {
        /* nothing alive and no new connection yet: PostgreSQL is down */
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


static ngx_int_t
ngx_http_social_pg_connect(ngx_http_social_pg_conn_t *conn)
{
    ngx_socket_t                fd;
    ngx_connection_t           *c;
    ngx_http_social_pg_pool_t  *pool;

    pool = ngx_http_social_pg_pool;

    conn->pg = PQconnectStart((char *) pool->smcf->pg_conninfo.data);

    if (conn->pg == NULL || PQstatus(conn->pg) == CONNECTION_BAD) {
        ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                      "social: postgres connect failed: %s",
                      conn->pg ? PQerrorMessage(conn->pg) : "out of memory");
        goto failed;
    }

    if (PQsetnonblocking(conn->pg, 1) != 0) {
        goto failed;
    }

    PQsetNoticeProcessor(conn->pg, ngx_http_social_pg_notice, pool);

    fd = PQsocket(conn->pg);

    c = ngx_get_connection(fd, pool->log);
    if (c == NULL) {
        goto failed;
    }

    c->data = conn;
    c->log = pool->log;
    c->read->log = pool->log;
    c->write->log = pool->log;
    c->read->handler = ngx_http_social_pg_connect_handler;
    c->write->handler = ngx_http_social_pg_connect_handler;

    conn->c = c;
    conn->state = NGX_HTTP_SOCIAL_PG_CONNECTING;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, pool->log, 0,
                   "social pg: connecting %p", conn);

    /* after PQconnectStart() libpq waits as if polling said "writing" */

    if (ngx_http_social_pg_watch(conn, 0, 1) != NGX_OK) {
        goto failed;
    }

    ngx_add_timer(c->read, pool->smcf->pg_connect_timeout);

    return NGX_OK;

failed:

    ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_DOWN);

    return NGX_ERROR;
}


static void
ngx_http_social_pg_connect_handler(ngx_event_t *ev)
{
    ngx_connection_t           *c;
    PostgresPollingStatusType   st;
    ngx_http_social_pg_conn_t  *conn;
    ngx_http_social_pg_pool_t  *pool;

    c = ev->data;
    conn = c->data;
    pool = ngx_http_social_pg_pool;

    if (ev->timedout) {
        ngx_log_error(NGX_LOG_ERR, c->log, NGX_ETIMEDOUT,
                      "social: postgres connect timed out");
        ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_TIMEOUT);
        return;
    }

    st = PQconnectPoll(conn->pg);

    if (st != PGRES_POLLING_FAILED && PQsocket(conn->pg) != c->fd) {
        /* libpq moved to another socket (a retry): the old one is closed */
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "social: postgres connect changed sockets");
        ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_DOWN);
        return;
    }

    switch (st) {

    case PGRES_POLLING_READING:
        if (ngx_http_social_pg_watch(conn, 1, 0) != NGX_OK) {
            ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_DOWN);
        }
        return;

    case PGRES_POLLING_WRITING:
        if (ngx_http_social_pg_watch(conn, 0, 1) != NGX_OK) {
            ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_DOWN);
        }
        return;

    case PGRES_POLLING_OK:
        break;

    default:
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "social: postgres connect failed: %s",
                      PQerrorMessage(conn->pg));
        ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_DOWN);
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "social pg: connected %p", conn);

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    pool->backoff = 0;
    pool->retry_at = 0;

    c->read->handler = ngx_http_social_pg_read_handler;
    c->write->handler = ngx_http_social_pg_write_handler;

    if (ngx_http_social_pg_watch(conn, 1, 0) != NGX_OK) {
        ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_DOWN);
        return;
    }

    conn->state = NGX_HTTP_SOCIAL_PG_IDLE;

    ngx_http_social_pg_ready(conn);
}


/* level-triggered: libpq neither drains the socket nor reads it all */

static ngx_int_t
ngx_http_social_pg_watch(ngx_http_social_pg_conn_t *conn, ngx_uint_t read,
    ngx_uint_t write)
{
    ngx_connection_t  *c;

    c = conn->c;

    if (read && !c->read->active) {
        if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (!read && c->read->active) {
        if (ngx_del_event(c->read, NGX_READ_EVENT, 0) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (write && !c->write->active) {
        if (ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (!write && c->write->active) {
        if (ngx_del_event(c->write, NGX_WRITE_EVENT, 0) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_social_pg_send(ngx_http_social_pg_conn_t *conn,
    ngx_http_social_pg_op_t *op)
{
    int                         rc;
    ngx_connection_t           *c;
    ngx_http_social_pg_pool_t  *pool;

    c = conn->c;
    pool = ngx_http_social_pg_pool;

    if (!PQsendQueryParams(conn->pg, op->sql, op->nparams, NULL, op->values,
                           NULL, NULL, 0))
    {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "social: postgres send failed: %s",
                      PQerrorMessage(conn->pg));
        return NGX_ERROR;
    }

    rc = PQflush(conn->pg);

    if (rc == -1) {
        return NGX_ERROR;
    }

    conn->flushing = (rc == 1);

    if (ngx_http_social_pg_watch(conn, 1, conn->flushing) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the parameters are copied: the request's memory is no longer used */

    op->values = NULL;
    op->conn = conn;
    conn->op = op;
    conn->state = NGX_HTTP_SOCIAL_PG_BUSY;
    c->idle = 0;

    if (op->pin && op->op.ctx) {
        conn->pinned = op->op.ctx;
        op->op.ctx->pg_pinned = conn;
    }

    ngx_add_timer(c->read, pool->smcf->pg_query_timeout);

    return NGX_OK;
}


static void
ngx_http_social_pg_write_handler(ngx_event_t *wev)
{
    int                         rc;
    ngx_connection_t           *c;
    ngx_http_social_pg_conn_t  *conn;

    c = wev->data;
    conn = c->data;

    if (!conn->flushing) {
        (void) ngx_http_social_pg_watch(conn, 1, 0);
        return;
    }

    rc = PQflush(conn->pg);

    if (rc == -1) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "social: postgres write failed: %s",
                      PQerrorMessage(conn->pg));
        ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_DOWN);
        return;
    }

    conn->flushing = (rc == 1);

    if (ngx_http_social_pg_watch(conn, 1, conn->flushing) != NGX_OK) {
        ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_DOWN);
    }
}


static void
ngx_http_social_pg_read_handler(ngx_event_t *rev)
{
    PGresult                   *res;
    ngx_connection_t           *c;
    ngx_http_social_pg_conn_t  *conn;

    c = rev->data;
    conn = c->data;

    if (c->close) {
        /* an idle connection while the worker shuts down */
        ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_DOWN);
        return;
    }

    if (rev->timedout) {
        ngx_log_error(NGX_LOG_ERR, c->log, NGX_ETIMEDOUT,
                      "social: postgres query timed out");
        ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_TIMEOUT);
        return;
    }

    if (!PQconsumeInput(conn->pg)) {
        if (conn->state == NGX_HTTP_SOCIAL_PG_BUSY) {
            ngx_log_error(NGX_LOG_ERR, c->log, 0,
                          "social: postgres read failed: %s",
                          PQerrorMessage(conn->pg));

        } else {
            ngx_log_error(NGX_LOG_INFO, c->log, 0,
                          "social: postgres closed an idle connection: %s",
                          PQerrorMessage(conn->pg));
        }

        ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_DOWN);
        return;
    }

    if (conn->state != NGX_HTTP_SOCIAL_PG_BUSY) {
        if (PQstatus(conn->pg) != CONNECTION_OK) {
            ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_DOWN);
        }

        return;
    }

    if (conn->flushing) {
        ngx_http_social_pg_write_handler(c->write);

        if (conn->state == NGX_HTTP_SOCIAL_PG_CLOSED) {
            return;
        }
    }

    while (!PQisBusy(conn->pg)) {
        res = PQgetResult(conn->pg);

        if (res == NULL) {
            ngx_http_social_pg_complete(conn);
            return;
        }

        if (conn->res) {
            PQclear(conn->res);
        }

        conn->res = res;
    }
}


static void
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

    ctx = op->op.ctx;

    if (op->unpin && conn->pinned) {
        conn->pinned->pg_pinned = NULL;
        conn->pinned = NULL;
    }

    if (ctx) {
        ngx_http_social_op_unlink(&op->op);
        ctx->backend_error = NGX_HTTP_SOCIAL_BACKEND_OK;

        c = ctx->request->connection;
        op->handler(ctx, res);
        ngx_http_run_posted_requests(c);

    } else if (op->handler) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, conn->c->log, 0,
                       "social pg: result of a request that went away "
                       "discarded on %p", conn);
    }

    if (res) {
        PQclear(res);
    }

    ngx_free(op);

    if (conn->state != NGX_HTTP_SOCIAL_PG_IDLE || conn->pinned) {
        /* the handler sent the next statement, or holds a transaction */
        return;
    }

    if (PQstatus(conn->pg) != CONNECTION_OK) {
        ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_DOWN);
        return;
    }

    if (conn->rollback
        || PQtransactionStatus(conn->pg) != PQTRANS_IDLE)
    {
        /* a transaction left open by a request that went away */
        ngx_http_social_pg_rollback(conn);
        return;
    }

    ngx_http_social_pg_ready(conn);
}


/* a connection became free: serve the next waiting op or park it */

static void
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

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_OK);
        return;
    }

    /* parked: ngx_close_idle_connections() closes it on shutdown */

    c->idle = 1;
    c->log = pool->log;
    ngx_queue_insert_head(&pool->idle, &conn->queue);
}


static void
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


static void
ngx_http_social_pg_close(ngx_http_social_pg_conn_t *conn, ngx_uint_t reason)
{
    ngx_uint_t                  i, alive;
    ngx_connection_t           *c;
    ngx_http_social_pg_op_t    *op;
    ngx_http_social_pg_pool_t  *pool;

    pool = ngx_http_social_pg_pool;
    c = conn->c;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, pool->log, 0,
                   "social pg: closing %p (%ui)", conn, reason);

    if (conn->state == NGX_HTTP_SOCIAL_PG_IDLE && conn->pinned == NULL
        && c && c->idle)
    {
        ngx_queue_remove(&conn->queue);
    }

    if (c) {
        if (c->read->timer_set) {
            ngx_del_timer(c->read);
        }

        if (c->read->posted) {
            ngx_delete_posted_event(c->read);
        }

        if (c->write->posted) {
            ngx_delete_posted_event(c->write);
        }

        /* libpq owns the socket and closes it in PQfinish() */

        if (c->read->active) {
            (void) ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
        }

        if (c->write->active) {
            (void) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
        }

        c->fd = (ngx_socket_t) -1;
        ngx_free_connection(c);
        conn->c = NULL;
    }

    if (conn->res) {
        PQclear(conn->res);
        conn->res = NULL;
    }

    if (conn->pg) {
        PQfinish(conn->pg);
        conn->pg = NULL;
    }

    op = conn->op;
    conn->op = NULL;
    conn->state = NGX_HTTP_SOCIAL_PG_CLOSED;
    conn->flushing = 0;
    conn->rollback = 0;

    if (conn->pinned) {
        conn->pinned->pg_pinned = NULL;
        conn->pinned = NULL;
    }

    if (reason != NGX_HTTP_SOCIAL_BACKEND_OK) {
        pool->backoff = pool->backoff ? ngx_min(pool->backoff * 2,
                                                NGX_HTTP_SOCIAL_PG_BACKOFF_MAX)
                                      : NGX_HTTP_SOCIAL_PG_BACKOFF_MIN;
        pool->retry_at = ngx_current_msec + pool->backoff;
    }

    if (op) {
        ngx_http_social_pg_fail(op, reason);
    }

    /* waiting ops starve when no connection is left to serve them */

    alive = 0;

    for (i = 0; i < pool->smcf->pg_pool_size; i++) {
        if (pool->conns[i].state != NGX_HTTP_SOCIAL_PG_CLOSED) {
            alive++;
        }
    }

    if (alive == 0 && reason != NGX_HTTP_SOCIAL_BACKEND_OK) {
        ngx_http_social_pg_fail_waiting(NGX_HTTP_SOCIAL_BACKEND_DOWN);
    }
}


static void
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

        c = ctx->request->connection;
        op->handler(ctx, NULL);
        ngx_http_run_posted_requests(c);
    }

    ngx_free(op);
}


static void
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


static void
ngx_http_social_pg_notice(void *arg, const char *message)
{
    ngx_http_social_pg_pool_t  *pool = arg;

    ngx_log_error(NGX_LOG_NOTICE, pool->log, 0, "social: postgres: %s",
                  message);
}
