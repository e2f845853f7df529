
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The worker's Redis connection: made when first needed (and after a
 * backoff when it failed), its events on nginx's event loop, commands
 * pipelined on it with a deadline each, transactions, and the calls of
 * scripts and libraries (what is done when Redis lacks one is
 * ngx_http_social_redis_lua.c's).
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_util.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_redis_conn.h"
#include "ngx_http_social_shm.h"


typedef struct {
    ngx_http_social_main_conf_t    *smcf;
    ngx_log_t                      *log;
    ngx_http_social_redis_conn_t   *conn;
    ngx_http_social_backoff_t       backoff;    /* between connects */
} ngx_http_social_redis_t;


static ngx_http_social_redis_conn_t *ngx_http_social_redis_conn(
    ngx_http_social_ctx_t *ctx);
static ngx_http_social_redis_conn_t *ngx_http_social_redis_connect(void);
static void ngx_http_social_redis_connected(const redisAsyncContext *ac,
    int status);
static void ngx_http_social_redis_event(ngx_event_t *ev);
static void ngx_http_social_redis_watch(ngx_http_social_redis_conn_t *rc,
    ngx_event_t *ev, ngx_uint_t event, ngx_uint_t on);
static void ngx_http_social_redis_add_read(void *data);
static void ngx_http_social_redis_del_read(void *data);
static void ngx_http_social_redis_add_write(void *data);
static void ngx_http_social_redis_del_write(void *data);
static void ngx_http_social_redis_cleanup(void *data);
static void ngx_http_social_redis_reply(redisAsyncContext *ac, void *reply,
    void *data);
static void ngx_http_social_redis_arm(ngx_http_social_redis_conn_t *rc);
static void ngx_http_social_redis_timeout(ngx_event_t *ev);
static void ngx_http_social_redis_drop(ngx_http_social_redis_conn_t *rc,
    ngx_uint_t reason);
static void ngx_http_social_redis_detach(ngx_http_social_op_t *op);


static ngx_http_social_redis_t  *ngx_http_social_redis;

/* hiredis is writing: a write it could not finish waits for epoll */
static ngx_uint_t                 ngx_http_social_redis_writing;

#if (NGX_HTTP_SOCIAL_TEST)
ngx_uint_t                        ngx_http_social_redis_multi_fault;
#endif

/* a transaction's start (in Redis's protocol) and end */
static const char                 ngx_http_social_redis_multi_cmd[] =
    "*1\r\n$5\r\nMULTI\r\n";
static const char                *ngx_http_social_redis_exec[] = { "EXEC" };
static const size_t               ngx_http_social_redis_exec_len[] = {
    sizeof("EXEC") - 1
};


ngx_int_t
ngx_http_social_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_social_main_conf_t *smcf)
{
    ngx_http_social_redis_t  *redis;

    if (smcf->redis_addr.len == 0) {
        return NGX_OK;
    }

    redis = ngx_pcalloc(cycle->pool, sizeof(ngx_http_social_redis_t));
    if (redis == NULL) {
        return NGX_ERROR;
    }

    redis->smcf = smcf;
    redis->log = cycle->log;

    ngx_http_social_redis = redis;

    return NGX_OK;
}


void
ngx_http_social_redis_exit_process(void)
{
    ngx_queue_t                   *q;
    ngx_http_social_redis_t       *redis;
    ngx_http_social_redis_op_t    *op;
    ngx_http_social_redis_conn_t  *rc;

    redis = ngx_http_social_redis;

    if (redis && redis->conn) {
        rc = redis->conn;

        /* the process is leaving: no handler runs */

        for (q = ngx_queue_head(&rc->ops);
             q != ngx_queue_sentinel(&rc->ops);
             q = ngx_queue_next(q))
        {
            op = ngx_queue_data(q, ngx_http_social_redis_op_t, queue);

            if (op->op.ctx) {
                ngx_http_social_op_unlink(&op->op);
            }
        }

        ngx_http_social_redis_drop(rc, NGX_HTTP_SOCIAL_BACKEND_DOWN);
    }

    ngx_http_social_redis = NULL;
}


ngx_int_t
ngx_http_social_redis_command(ngx_http_social_ctx_t *ctx,
    ngx_http_social_redis_handler_pt handler, int argc, const char **argv,
    const size_t *argvlen)
{
    return ngx_http_social_redis_script(ctx, handler, NULL, argc, argv,
                                        argvlen);
}


/*
 * A transaction: MULTI, the commands, EXEC, appended at once (nothing of
 * another task comes between them on the connection); the handler runs
 * with EXEC's reply (an array of the commands' replies, or an error when
 * Redis refused one of them: EXECABORT) or with NULL.  The commands' own
 * replies ("QUEUED", or the refusal) have no handler.  The commands are
 * written here in Redis's protocol, one after the other in one buffer of
 * the task's pool, and each handed to hiredis as it is, which copies it
 * into its output buffer (redisAsyncCommandArgv() would first format each
 * in a buffer of its own, allocated and freed).
 * A transaction that could not be appended whole leaves the connection
 * unusable: it is dropped.
 */

ngx_int_t
ngx_http_social_redis_multi(ngx_http_social_ctx_t *ctx,
    ngx_http_social_redis_handler_pt handler,
    ngx_http_social_redis_cmd_t *cmds, ngx_uint_t n)
{
    int                            j;
    u_char                        *buf, *p;
    size_t                         size, max;
    ngx_uint_t                     i;
    ngx_http_social_redis_conn_t  *rc;

    /* one buffer, as large as the largest command, written over by each */

    max = 0;

    for (i = 0; i < n; i++) {
        size = sizeof("*\r\n") - 1 + NGX_INT_T_LEN;

        for (j = 0; j < cmds[i].argc; j++) {
            size += sizeof("$\r\n\r\n") - 1 + NGX_SIZE_T_LEN
                    + cmds[i].argvlen[j];
        }

        max = ngx_max(max, size);
    }

    buf = ngx_pnalloc(ctx->pool, max);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_social_redis_conn(ctx);
    if (rc == NULL) {
        return NGX_ERROR;
    }

    if (redisAsyncFormattedCommand(rc->ac, NULL, NULL,
                                   ngx_http_social_redis_multi_cmd,
                                   sizeof(ngx_http_social_redis_multi_cmd) - 1)
        != REDIS_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        p = ngx_sprintf(buf, "*%d\r\n", cmds[i].argc);

        for (j = 0; j < cmds[i].argc; j++) {
            p = ngx_sprintf(p, "$%uz\r\n", cmds[i].argvlen[j]);
            p = ngx_cpymem(p, cmds[i].argv[j], cmds[i].argvlen[j]);
            *p++ = CR;
            *p++ = LF;
        }

#if (NGX_HTTP_SOCIAL_TEST)
        if (ngx_http_social_redis_multi_fault == i + 1) {
            ngx_http_social_redis_multi_fault = 0;
            goto broken;
        }
#endif

        /* hiredis copies it into its output buffer */

        if (redisAsyncFormattedCommand(rc->ac, NULL, NULL, (char *) buf,
                                       p - buf)
            != REDIS_OK)
        {
            goto broken;
        }
    }

    if (ngx_http_social_redis_script(ctx, handler, NULL, 1,
                                     ngx_http_social_redis_exec,
                                     ngx_http_social_redis_exec_len)
        != NGX_OK)
    {
        goto broken;
    }

    return NGX_OK;

broken:

    ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                  "social: redis transaction not sent whole, "
                  "dropping the connection");

    if (ngx_http_social_redis && ngx_http_social_redis->conn == rc) {
        ngx_http_social_redis_drop(rc, NGX_HTTP_SOCIAL_BACKEND_DOWN);
    }

    ctx->backend_error = NGX_HTTP_SOCIAL_BACKEND_DOWN;

    return NGX_ERROR;
}


/* the worker's connection, made if there is none (and no backoff) */

static ngx_http_social_redis_conn_t *
ngx_http_social_redis_conn(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_redis_t       *redis;
    ngx_http_social_redis_conn_t  *rc;

    redis = ngx_http_social_redis;
    ctx->backend_error = NGX_HTTP_SOCIAL_BACKEND_DOWN;

    if (redis == NULL) {
        return NULL;
    }

    rc = redis->conn;

    if (rc == NULL) {
        if (ngx_http_social_backoff_waiting(&redis->backoff)) {
            return NULL;
        }

        return ngx_http_social_redis_connect();
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "social redis: reusing connection %p", rc);

    return rc;
}


/*
 * A Lua script: argv holds what follows the script in EVAL (numkeys, the
 * keys, the arguments).  It is sent as EVALSHA, and as EVAL when Redis
 * answers NOSCRIPT (after a restart or SCRIPT FLUSH), which loads it.  A
 * library's function is sent as FCALL, and again after FUNCTION LOAD when
 * Redis does not have it (ngx_http_social_redis_lua.c).
 */

ngx_int_t
ngx_http_social_redis_script(ngx_http_social_ctx_t *ctx,
    ngx_http_social_redis_handler_pt handler,
    ngx_http_social_script_t *script, int argc, const char **argv,
    const size_t *argvlen)
{
    int                            i, n;
    u_char                        *p;
    size_t                         size;
    ngx_http_social_redis_t       *redis;
    ngx_http_social_redis_op_t    *op;
    ngx_http_social_redis_conn_t  *rc;

    redis = ngx_http_social_redis;

    rc = ngx_http_social_redis_conn(ctx);
    if (rc == NULL) {
        return NGX_ERROR;
    }

    n = script ? argc + 2 : 0;
    size = sizeof(ngx_http_social_redis_op_t)
           + n * (sizeof(char *) + sizeof(size_t));

    for (i = 0; script && i < argc; i++) {
        size += argvlen[i];
    }

    op = ngx_calloc(size, redis->log);
    if (op == NULL) {
        return NGX_ERROR;
    }

    if (script) {
        if (script->sha1[0] == '\0') {
            ngx_http_social_redis_lua_prepare(script);
        }

        /* the arguments are kept with the op: it may have to resend them */

        op->script = script;
        op->argc = n;
        op->argv = (const char **) (op + 1);
        op->argvlen = (size_t *) (op->argv + n);
        p = (u_char *) (op->argvlen + n);

        if (script->function) {
            op->argv[0] = "FCALL";
            op->argvlen[0] = sizeof("FCALL") - 1;
            op->argv[1] = script->name;
            op->argvlen[1] = ngx_strlen(script->name);

        } else {
            op->argv[0] = "EVALSHA";
            op->argvlen[0] = sizeof("EVALSHA") - 1;
            op->argv[1] = script->sha1;
            op->argvlen[1] = sizeof(script->sha1) - 1;
        }

        for (i = 0; i < argc; i++) {
            op->argv[i + 2] = (char *) p;
            op->argvlen[i + 2] = argvlen[i];
            p = ngx_cpymem(p, argv[i], argvlen[i]);
        }

        argc = n;
        argv = op->argv;
        argvlen = op->argvlen;
    }

    if (redisAsyncCommandArgv(rc->ac, ngx_http_social_redis_reply, op, argc,
                              argv, argvlen)
        != REDIS_OK)
    {
        ngx_log_error(NGX_LOG_ERR, redis->log, 0,
                      "social: redis command failed: %s",
                      rc->ac->errstr[0] ? rc->ac->errstr : "disconnecting");
        ngx_free(op);
        return NGX_ERROR;
    }

    op->handler = handler;
    op->conn = rc;
    op->deadline = ngx_current_msec + rc->timeout;
    op->op.detach = ngx_http_social_redis_detach;

    ngx_http_social_op_attach(ctx, &op->op);
    ngx_queue_insert_tail(&rc->ops, &op->queue);

    ngx_http_social_redis_arm(rc);

    return NGX_OK;
}


static ngx_http_social_redis_conn_t *
ngx_http_social_redis_connect(void)
{
    redisAsyncContext             *ac;
    ngx_connection_t              *c;
    ngx_http_social_redis_t       *redis;
    ngx_http_social_redis_conn_t  *rc;

    redis = ngx_http_social_redis;

    /* numeric addresses only (checked at configuration): nothing resolves */

    if (redis->smcf->redis_unix) {
        ac = redisAsyncConnectUnix((char *) redis->smcf->redis_host.data);

    } else {
        ac = redisAsyncConnect((char *) redis->smcf->redis_host.data,
                               redis->smcf->redis_port);
    }

    if (ac == NULL || ac->err) {
        ngx_log_error(NGX_LOG_ERR, redis->log, 0,
                      "social: redis connect to \"%V\" failed: %s",
                      &redis->smcf->redis_addr,
                      ac ? ac->errstr : "out of memory");
        goto failed;
    }

    rc = ngx_calloc(sizeof(ngx_http_social_redis_conn_t), redis->log);
    if (rc == NULL) {
        goto failed;
    }

    c = ngx_get_connection(ac->c.fd, redis->log);
    if (c == NULL) {
        ngx_free(rc);
        goto failed;
    }

    c->data = rc;
    c->log = redis->log;
    c->read->log = redis->log;
    c->write->log = redis->log;
    c->read->handler = ngx_http_social_redis_event;
    c->write->handler = ngx_http_social_redis_event;

    rc->ac = ac;
    rc->c = c;
    rc->reason = NGX_HTTP_SOCIAL_BACKEND_DOWN;
    rc->timeout = redis->smcf->redis_timeout;
    ngx_queue_init(&rc->ops);

    rc->timer.handler = ngx_http_social_redis_timeout;
    rc->timer.data = rc;
    rc->timer.log = redis->log;

    ac->data = rc;
    ac->ev.data = rc;
    ac->ev.addRead = ngx_http_social_redis_add_read;
    ac->ev.delRead = ngx_http_social_redis_del_read;
    ac->ev.addWrite = ngx_http_social_redis_add_write;
    ac->ev.delWrite = ngx_http_social_redis_del_write;
    ac->ev.cleanup = ngx_http_social_redis_cleanup;

    (void) redisAsyncSetConnectCallback(ac, ngx_http_social_redis_connected);

    redis->conn = rc;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, redis->log, 0,
                   "social redis: connecting %p", rc);

    return rc;

failed:

    if (ac) {
        redisAsyncFree(ac);
    }

    ngx_http_social_backoff_failed(&redis->backoff);

    return NULL;
}


static void
ngx_http_social_redis_connected(const redisAsyncContext *ac, int status)
{
    ngx_http_social_redis_t       *redis;
    ngx_http_social_redis_conn_t  *rc;

    redis = ngx_http_social_redis;
    rc = ac->data;

    if (status != REDIS_OK) {
        ngx_log_error(NGX_LOG_ERR, redis->log, 0,
                      "social: redis connect to \"%V\" failed: %s",
                      &redis->smcf->redis_addr, ac->errstr);
        ngx_http_social_stat_add(redis_errors, 1);
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, redis->log, 0,
                   "social redis: connected %p", rc);

    rc->connected = 1;
    ngx_http_social_stat_set(redis_up, 1);
    ngx_http_social_backoff_reset(&redis->backoff);
}


static void
ngx_http_social_redis_event(ngx_event_t *ev)
{
    ngx_connection_t              *c;
    ngx_http_social_redis_conn_t  *rc;

    c = ev->data;
    rc = c->data;

    if (c->close) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "social redis: closing idle %p, the worker is exiting",
                       rc);
        ngx_http_social_redis_drop(rc, NGX_HTTP_SOCIAL_BACKEND_OK);
        return;
    }

    /* either call may free the context (and rc) on an error */

    if (ev->write) {
        ngx_http_social_redis_writing = 1;
        redisAsyncHandleWrite(rc->ac);
        ngx_http_social_redis_writing = 0;

    } else {
        redisAsyncHandleRead(rc->ac);
    }
}


/* level-triggered: hiredis reads at most 16k a call */

static void
ngx_http_social_redis_watch(ngx_http_social_redis_conn_t *rc, ngx_event_t *ev,
    ngx_uint_t event, ngx_uint_t on)
{
    if (rc->c == NULL) {
        return;
    }

    if (on && !ev->active) {
        if (ngx_add_event(ev, event, NGX_LEVEL_EVENT) != NGX_OK) {
            rc->reason = NGX_HTTP_SOCIAL_BACKEND_DOWN;
        }

    } else if (!on && ev->active) {
        (void) ngx_del_event(ev, event, 0);
    }
}


static void
ngx_http_social_redis_add_read(void *data)
{
    ngx_http_social_redis_conn_t  *rc = data;

    ngx_http_social_redis_watch(rc, rc->c->read, NGX_READ_EVENT, 1);
}


static void
ngx_http_social_redis_del_read(void *data)
{
    ngx_http_social_redis_conn_t  *rc = data;

    ngx_http_social_redis_watch(rc, rc->c->read, NGX_READ_EVENT, 0);
}


/*
 * Commands to write.  Once connected, the write is posted: every command
 * of this turn of the event loop goes out in one write at its end, without
 * asking epoll, which is asked only while connecting (hiredis waits for
 * the write event then) and when a write could not finish.
 */

static void
ngx_http_social_redis_add_write(void *data)
{
    ngx_http_social_redis_conn_t  *rc = data;

    ngx_event_t  *wev;

    if (rc->c == NULL) {
        return;
    }

    wev = rc->c->write;

    if (rc->connected && !ngx_http_social_redis_writing) {
        if (!wev->active && !wev->posted) {
            ngx_post_event(wev, &ngx_posted_events);
        }

        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, rc->c->log, 0,
                   "social redis: %s, the write waits for epoll",
                   rc->connected ? "a write did not finish" : "connecting");

    ngx_http_social_redis_watch(rc, wev, NGX_WRITE_EVENT, 1);
}


static void
ngx_http_social_redis_del_write(void *data)
{
    ngx_http_social_redis_conn_t  *rc = data;

    if (rc->c == NULL) {
        return;
    }

    if (rc->c->write->posted) {
        ngx_delete_posted_event(rc->c->write);
    }

    ngx_http_social_redis_watch(rc, rc->c->write, NGX_WRITE_EVENT, 0);
}


/*
 * hiredis is about to free the context and close its socket; every pending
 * callback has already run with a NULL reply
 */

static void
ngx_http_social_redis_cleanup(void *data)
{
    ngx_http_social_redis_conn_t  *rc = data;

    ngx_connection_t         *c;
    ngx_http_social_redis_t  *redis;

    redis = ngx_http_social_redis;
    c = rc->c;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "social redis: closing %p", rc);

    /* hiredis owns the socket and closes it after this */
    ngx_http_social_connection_release(c);
    rc->c = NULL;

    if (rc->timer.timer_set) {
        ngx_del_timer(&rc->timer);
    }

    if (redis) {
        if (redis->conn == rc) {
            redis->conn = NULL;
        }

        /* however it went: dropped, lost, refused */

        if (redis->conn == NULL) {
            ngx_http_social_stat_set(redis_up, 0);
        }

        if (!rc->connected || rc->reason != NGX_HTTP_SOCIAL_BACKEND_OK) {
            ngx_http_social_backoff_failed(&redis->backoff);
        }
    }

    ngx_free(rc);
}


static void
ngx_http_social_redis_reply(redisAsyncContext *ac, void *reply, void *data)
{
    ngx_http_social_redis_op_t  *op = data;

    redisReply                    *r;
    ngx_connection_t              *c;
    ngx_http_social_ctx_t         *ctx;
    ngx_http_social_redis_conn_t  *rc;

    rc = op->conn;
    ngx_queue_remove(&op->queue);

    if (op->script && ngx_http_social_redis_lua_missing(op, reply) == NGX_OK) {
        return;
    }

    r = reply;

    if (op->load && r) {
        ngx_http_social_redis_lua_loaded(rc, r);
    }

    ctx = op->op.ctx;

    if (ctx && op->handler == NULL) {
        /* fire and forget: nobody waits for this one */
        ngx_http_social_op_unlink(&op->op);

    } else if (ctx) {
        ngx_http_social_op_unlink(&op->op);
        ctx->backend_error = reply ? NGX_HTTP_SOCIAL_BACKEND_OK : rc->reason;

        if (reply == NULL) {
            ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                          "social: redis command failed: %s",
                          rc->reason == NGX_HTTP_SOCIAL_BACKEND_TIMEOUT
                          ? "timed out" : "connection lost");
        }

        c = ctx->request ? ctx->request->connection : NULL;
        op->handler(ctx, reply);

        if (c) {
            ngx_http_run_posted_requests(c);
        }
    }

    ngx_free(op);

    if (reply) {
        ngx_http_social_redis_arm(rc);
    }
}


/* the timer follows the oldest command still waiting for its reply */

static void
ngx_http_social_redis_arm(ngx_http_social_redis_conn_t *rc)
{
    ngx_msec_int_t               left;
    ngx_http_social_redis_op_t  *op;

    if (ngx_queue_empty(&rc->ops)) {
        if (rc->timer.timer_set) {
            ngx_del_timer(&rc->timer);
        }

        if (ngx_http_social_exiting()) {
            /* the last reply of an exiting worker: nothing more comes */
            ngx_http_social_redis_drop(rc, NGX_HTTP_SOCIAL_BACKEND_OK);
            return;
        }

        /* ngx_close_idle_connections() closes it on shutdown */
        rc->c->idle = 1;

        return;
    }

    rc->c->idle = 0;

    op = ngx_queue_data(ngx_queue_head(&rc->ops), ngx_http_social_redis_op_t,
                        queue);

    left = (ngx_msec_int_t) (op->deadline - ngx_current_msec);

    ngx_add_timer(&rc->timer, left > 0 ? (ngx_msec_t) left : 1);
}


static void
ngx_http_social_redis_timeout(ngx_event_t *ev)
{
    ngx_http_social_redis_conn_t  *rc;

    rc = ev->data;

    ngx_log_error(NGX_LOG_ERR, ev->log, NGX_ETIMEDOUT,
                  "social: redis timed out, dropping the connection");

    ngx_http_social_redis_drop(rc, NGX_HTTP_SOCIAL_BACKEND_TIMEOUT);
}


static void
ngx_http_social_redis_drop(ngx_http_social_redis_conn_t *rc,
    ngx_uint_t reason)
{
    redisAsyncContext  *ac;

    ac = rc->ac;
    rc->reason = reason;

    if (reason == NGX_HTTP_SOCIAL_BACKEND_TIMEOUT) {
        ngx_http_social_stat_add(redis_timeouts, 1);

    } else {
        ngx_http_social_stat_add(redis_errors, 1);
    }

    if (ngx_http_social_redis && ngx_http_social_redis->conn == rc) {
        ngx_http_social_redis->conn = NULL;
    }

    /* runs every pending callback with NULL, then the cleanup frees rc */

    redisAsyncFree(ac);
}


/*
 * an op sent on its connection (again, or a library's load), with a new
 * deadline
 */

ngx_int_t
ngx_http_social_redis_send(ngx_http_social_redis_op_t *op)
{
    ngx_http_social_redis_conn_t  *rc;

    rc = op->conn;

    if (redisAsyncCommandArgv(rc->ac, ngx_http_social_redis_reply, op,
                              op->argc, op->argv, op->argvlen)
        != REDIS_OK)
    {
        return NGX_DECLINED;
    }

    ngx_queue_insert_tail(&rc->ops, &op->queue);
    op->deadline = ngx_current_msec + rc->timeout;
    ngx_http_social_redis_arm(rc);

    return NGX_OK;
}


static void
ngx_http_social_redis_detach(ngx_http_social_op_t *op)
{
    /* the reply still comes, in order, and is thrown away */
}
