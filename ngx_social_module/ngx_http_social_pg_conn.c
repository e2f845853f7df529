
/*
 * Copyright (C) ngx_social developers
 */


/*
 * One PostgreSQL connection on nginx's event loop: a non-blocking connect
 * (PQconnectStart/PQconnectPoll), a query sent with PQsendQueryParams and
 * flushed as the socket allows, results read with PQconsumeInput,
 * PQisBusy and PQgetResult, and the close that gives the socket back to
 * libpq.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_util.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_pg_conn.h"
#include "ngx_http_social_shm.h"


static void ngx_http_social_pg_connect_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_social_pg_watch(ngx_http_social_pg_conn_t *conn,
    ngx_uint_t read, ngx_uint_t write);
static void ngx_http_social_pg_read_handler(ngx_event_t *rev);
static void ngx_http_social_pg_write_handler(ngx_event_t *wev);
static void ngx_http_social_pg_notice(void *arg, const char *message);


/*
 * The session's settings, given before the operator's conninfo (expanded
 * from "dbname"), which overrides them when it sets "options" of its own.
 * A statement is planned once, when a connection first runs it, never
 * again for each execution: PostgreSQL's default plans anew as long as
 * the first executions' plans looked cheaper than the generic one, which
 * for the feed's page (a plan that fits every reader) cost more than
 * running it.  Compiling these short statements (JIT) too.
 */

static const char  ngx_http_social_pg_options[] =
    "-c plan_cache_mode=force_generic_plan -c jit=off";


ngx_int_t
ngx_http_social_pg_connect(ngx_http_social_pg_conn_t *conn)
{
    ngx_socket_t                fd;
    const char                 *keywords[3], *values[3];
    ngx_connection_t           *c;
    ngx_http_social_pg_pool_t  *pool;

    pool = ngx_http_social_pg_pool;

    keywords[0] = "options";
    values[0] = ngx_http_social_pg_options;
    keywords[1] = "dbname";
    values[1] = (char *) pool->smcf->pg_conninfo.data;
    keywords[2] = NULL;
    values[2] = NULL;

    conn->pg = PQconnectStartParams(keywords, values, 1);

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

    /*
     * libpq may close its socket and open another one inside
     * PQconnectPoll() (a retry without SSL, the next address): the events
     * leave the socket while it is still open, and come back on whichever
     * socket libpq has afterwards
     */

    if (ngx_http_social_pg_watch(conn, 0, 0) != NGX_OK) {
        ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_DOWN);
        return;
    }

    st = PQconnectPoll(conn->pg);

    if (st != PGRES_POLLING_FAILED) {
        c->fd = PQsocket(conn->pg);
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

    ngx_http_social_backoff_reset(&pool->backoff);

    c->read->handler = ngx_http_social_pg_read_handler;
    c->write->handler = ngx_http_social_pg_write_handler;

    if (ngx_http_social_pg_watch(conn, 1, 0) != NGX_OK) {
        ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_DOWN);
        return;
    }

    conn->state = NGX_HTTP_SOCIAL_PG_IDLE;

    ngx_http_social_pg_ready(conn);
}


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


/* level-triggered: libpq neither drains the socket nor reads it all */


ngx_int_t
ngx_http_social_pg_send(ngx_http_social_pg_conn_t *conn,
    ngx_http_social_pg_op_t *op)
{
    int                         rc, sent;
    ngx_uint_t                  i;
    ngx_connection_t           *c;
    char                        name[NGX_INT_T_LEN + 2];
    ngx_http_social_pg_pool_t  *pool;

    c = conn->c;
    pool = ngx_http_social_pg_pool;

    /*
     * a statement with parameters is prepared once a connection (the SQL
     * texts are constants: their address names them) and then only
     * executed, so that it is not planned again every time
     */

    for (i = 0; i < conn->nprepared; i++) {
        if (conn->prepared[i] == op->sql) {
            break;
        }
    }

    ngx_sprintf((u_char *) name, "s%ui%Z", i);

    if (op->nparams && !op->unprepared && i == NGX_HTTP_SOCIAL_PG_PREPARED) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "social pg: %ui statements prepared on %p, this one "
                       "runs unnamed", i, conn);
    }

    if (op->nparams == 0 || op->unprepared
        || i == NGX_HTTP_SOCIAL_PG_PREPARED)
    {
        sent = PQsendQueryParams(conn->pg, op->sql, op->nparams, NULL,
                                 op->values, NULL, NULL, 0);

    } else if (i < conn->nprepared) {
        sent = PQsendQueryPrepared(conn->pg, name, op->nparams, op->values,
                                   NULL, NULL, 0);

    } else {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "social pg: preparing %s on %p", name, conn);

        sent = PQsendPrepare(conn->pg, name, op->sql, op->nparams, NULL);
        op->preparing = 1;
    }

    if (!sent) {
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

    if (!op->preparing) {
        op->values = NULL;
    }

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
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "social pg: closing idle %p, the worker is exiting",
                       conn);
        ngx_http_social_pg_close(conn, NGX_HTTP_SOCIAL_BACKEND_OK);
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

        } else if (conn->pinned) {
            ngx_log_error(NGX_LOG_ERR, c->log, 0,
                          "social: postgres closed the connection of an "
                          "open transaction: %s", PQerrorMessage(conn->pg));

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


void
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

    if (reason != NGX_HTTP_SOCIAL_BACKEND_OK) {
        ngx_http_social_stat_add(pg_errors, 1);
    }

    if (conn->state == NGX_HTTP_SOCIAL_PG_IDLE && conn->pinned == NULL
        && c && c->idle)
    {
        ngx_queue_remove(&conn->queue);
    }

    if (c) {
        /* libpq owns the socket and closes it in PQfinish() */
        ngx_http_social_connection_release(c);
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
    conn->nprepared = 0;
    conn->flushing = 0;
    conn->rollback = 0;

    if (conn->pinned) {
        /* its transaction is gone: what is left of it must fail too */

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, pool->log, 0,
                       "social pg: the transaction on %p fails", conn);

        conn->pinned->pg_failed = (reason != NGX_HTTP_SOCIAL_BACKEND_OK)
                                  ? reason : NGX_HTTP_SOCIAL_BACKEND_DOWN;
        conn->pinned->pg_pinned = NULL;
        conn->pinned = NULL;
    }

    if (reason != NGX_HTTP_SOCIAL_BACKEND_OK) {
        ngx_http_social_backoff_failed(&pool->backoff);
    }

    if (op) {
        /* sent, and whether it ran is not known */
        if (op->op.ctx && !op->preparing) {
            op->op.ctx->pg_unknown = 1;
        }

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
ngx_http_social_pg_notice(void *arg, const char *message)
{
    ngx_http_social_pg_pool_t  *pool = arg;

    ngx_log_error(NGX_LOG_NOTICE, pool->log, 0, "social: postgres: %s",
                  message);
}
