
/*
 * Copyright (C) ngx_social developers
 */


/*
 * Writes that go together: the writes of POST /errors' common case
 * (ngx_http_social_point_write.c) that a worker makes in one turn of its
 * event loop go to Redis as one transaction.  Each request joins the open
 * joint with its own commands (HINCRBY, HSETNX, HSET of its user's
 * hash), its rows and its user, all copied into the joint's pool; a
 * posted event sends the joints once the turn's handlers have run (one
 * that NGX_HTTP_SOCIAL_POINT_JOINT_MAX requests joined takes no more, and
 * the next opens):
 *
 *   MULTI, each request's commands, one RPUSH of every request's rows,
 *   one SADD of every request's user to the dirty set, EXEC.
 *
 * Redis runs a transaction whole, so the rows, the counts and the dirty
 * set stay of one instant for the cut, as each request's own transaction
 * kept them; a command that Redis refuses (a count's field of another
 * type in one user's hash) fails alone, and the other requests' commands
 * run.  Each request's handler then runs with its own reply, an array
 * shaped as its own transaction's would be: the RPUSH's reply, its
 * commands' replies, the SADD's reply.  A transaction that is refused
 * whole (EXECABORT: what Redis refuses as it queues a command, out of
 * memory, a command the user may not run, which would refuse each
 * request's own as well) or lost (the connection) is each request's: the
 * error, or NULL, so up to NGX_HTTP_SOCIAL_POINT_JOINT_MAX requests get
 * the same 503.
 *
 * What it saves, a request: MULTI and EXEC, an RPUSH and a SADD, their
 * replies, and the appends to the AOF of the transaction's markers
 * (BENCHMARKS.md, "Runs 28 to 32").
 *
 * A request that goes away before its joint is sent is not waited for:
 * its commands go (its points were recorded the moment it joined, as a
 * write appended to the connection would be), and no handler runs.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_keys.h"
#include "ngx_http_social_points.h"


/* the test build fills a joint at 3 writes, so that t/037 can fill one */
#if (NGX_HTTP_SOCIAL_TEST)
#define NGX_HTTP_SOCIAL_POINT_JOINT_MAX  3
#else
#define NGX_HTTP_SOCIAL_POINT_JOINT_MAX  64
#endif


typedef struct {
    ngx_http_social_op_t               op;      /* the request's */
    ngx_http_social_redis_handler_pt   handler;
    ngx_uint_t                         first;   /* its commands' first */
    ngx_uint_t                         n;
    redisReply                         reply;   /* its part of EXEC's */
} ngx_http_social_point_member_t;


typedef struct {
    ngx_queue_t                        queue;   /* waiting, or in flight */
    ngx_http_social_ctx_t             *ctx;     /* the joint's own task */
    ngx_http_social_point_member_t    *member[NGX_HTTP_SOCIAL_POINT_JOINT_MAX];
    ngx_uint_t                         nmembers;
    ngx_array_t                        cmds;    /* redis_cmd_t */
    ngx_array_t                        rows;    /* ngx_str_t, RPUSH's */
    ngx_array_t                        users;   /* ngx_str_t, SADD's */
} ngx_http_social_point_joint_t;


static ngx_http_social_point_joint_t *ngx_http_social_point_joint_open(
    ngx_http_social_ctx_t *ctx);
static ngx_int_t ngx_http_social_point_joint_cmd(ngx_pool_t *pool,
    ngx_array_t *cmds, ngx_http_social_redis_cmd_t *cmd);
static ngx_int_t ngx_http_social_point_joint_copy(ngx_pool_t *pool,
    ngx_array_t *args, ngx_str_t *s, ngx_uint_t n);
static void ngx_http_social_point_joint_run(ngx_event_t *ev);
static void ngx_http_social_point_joint_send(
    ngx_http_social_point_joint_t *j);
static void ngx_http_social_point_joint_written(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_point_joint_deliver(
    ngx_http_social_point_member_t *m, ngx_http_social_ctx_t *task,
    redisReply *reply);
static void ngx_http_social_point_joint_end(ngx_http_social_point_joint_t *j);
static void ngx_http_social_point_joint_detach(ngx_http_social_op_t *op);


/*
 * the worker's open joint, the joints its event is to send (the open one
 * last), its event, and the joints in flight
 */
static ngx_http_social_point_joint_t  *ngx_http_social_point_joint;
static ngx_queue_t                     ngx_http_social_point_joint_waiting;
static ngx_event_t                     ngx_http_social_point_joint_event;
static ngx_queue_t                     ngx_http_social_point_joint_flight;
static ngx_uint_t                      ngx_http_social_point_joint_init;


/*
 * A request's write joins the open joint: its commands, its rows, its
 * user.  NGX_OK: the handler runs with its reply; NGX_ERROR: no memory.
 */

ngx_int_t
ngx_http_social_point_join(ngx_http_social_ctx_t *ctx,
    ngx_http_social_redis_cmd_t *cmds, ngx_uint_t n, ngx_str_t *rows,
    ngx_uint_t nrows, ngx_str_t *user,
    ngx_http_social_redis_handler_pt handler)
{
    ngx_uint_t                       i, nusers, nrows0;
    ngx_pool_t                      *pool;
    ngx_http_social_point_joint_t   *j;
    ngx_http_social_point_member_t  *m;

    j = ngx_http_social_point_joint_open(ctx);
    if (j == NULL) {
        return NGX_ERROR;
    }

    pool = j->ctx->pool;

    /* its reply made now: once the joint is sent, nothing can fail */

    m = ngx_pcalloc(pool, sizeof(ngx_http_social_point_member_t));
    if (m == NULL) {
        return NGX_ERROR;
    }

    m->reply.element = ngx_palloc(pool, (n + 2) * sizeof(redisReply *));
    if (m->reply.element == NULL) {
        return NGX_ERROR;
    }

    m->reply.type = REDIS_REPLY_ARRAY;
    m->reply.elements = n + 2;
    m->first = j->cmds.nelts;
    m->n = n;
    m->handler = handler;

    nrows0 = j->rows.nelts;
    nusers = j->users.nelts;

    /* copied: the request may go before the joint does */

    for (i = 0; i < n; i++) {
        if (ngx_http_social_point_joint_cmd(pool, &j->cmds, &cmds[i])
            != NGX_OK)
        {
            goto failed;
        }
    }

    if (ngx_http_social_point_joint_copy(pool, &j->rows, rows, nrows)
        != NGX_OK
        || ngx_http_social_point_joint_copy(pool, &j->users, user, 1)
           != NGX_OK)
    {
        goto failed;
    }

    m->op.detach = ngx_http_social_point_joint_detach;
    ngx_http_social_op_attach(ctx, &m->op);

    j->member[j->nmembers++] = m;

    if (j->nmembers == NGX_HTTP_SOCIAL_POINT_JOINT_MAX) {
        /* full: it waits for the event, and the next write opens one */
        ngx_http_social_point_joint = NULL;
    }

    return NGX_OK;

failed:

    /* what was pushed of this request is taken back */

    j->cmds.nelts = m->first;
    j->rows.nelts = nrows0;
    j->users.nelts = nusers;

    return NGX_ERROR;
}


/* the open joint, or a new one, its event posted */

static ngx_http_social_point_joint_t *
ngx_http_social_point_joint_open(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_ctx_t          *task;
    ngx_http_social_point_joint_t  *j;

    if (!ngx_http_social_point_joint_init) {
        ngx_queue_init(&ngx_http_social_point_joint_waiting);
        ngx_queue_init(&ngx_http_social_point_joint_flight);
        ngx_http_social_point_joint_event.handler =
                                          ngx_http_social_point_joint_run;
        ngx_http_social_point_joint_event.log = ngx_cycle->log;
        ngx_http_social_point_joint_init = 1;
    }

    if (ngx_http_social_point_joint) {
        return ngx_http_social_point_joint;
    }

    task = ngx_http_social_task_create(ctx->smcf,
                                       sizeof(ngx_http_social_point_joint_t));
    if (task == NULL) {
        return NULL;
    }

    j = task->data;
    j->ctx = task;

    if (ngx_array_init(&j->cmds, task->pool, 4 * NGX_HTTP_SOCIAL_POINTS_MAX,
                       sizeof(ngx_http_social_redis_cmd_t))
        != NGX_OK
        || ngx_array_init(&j->rows, task->pool, 2 * NGX_HTTP_SOCIAL_POINTS_MAX,
                          sizeof(ngx_str_t))
           != NGX_OK
        || ngx_array_init(&j->users, task->pool, 8, sizeof(ngx_str_t))
           != NGX_OK)
    {
        ngx_http_social_task_release(task);
        ngx_destroy_pool(task->pool);
        return NULL;
    }

    ngx_http_social_point_joint = j;
    ngx_queue_insert_tail(&ngx_http_social_point_joint_waiting, &j->queue);

    /* after this turn's handlers: the writes joined meanwhile go too */

    if (!ngx_http_social_point_joint_event.posted) {
        ngx_post_event(&ngx_http_social_point_joint_event,
                       &ngx_posted_events);
    }

    return j;
}


/* a command, its arguments copied into the pool, appended to cmds */

static ngx_int_t
ngx_http_social_point_joint_cmd(ngx_pool_t *pool, ngx_array_t *cmds,
    ngx_http_social_redis_cmd_t *cmd)
{
    int                           k;
    char                         *p;
    size_t                       *lens;
    const char                  **argv;
    ngx_http_social_redis_cmd_t  *copy;

    copy = ngx_array_push(cmds);
    argv = ngx_palloc(pool, cmd->argc * sizeof(char *));
    lens = ngx_palloc(pool, cmd->argc * sizeof(size_t));

    if (copy == NULL || argv == NULL || lens == NULL) {
        return NGX_ERROR;
    }

    for (k = 0; k < cmd->argc; k++) {
        p = ngx_pnalloc(pool, cmd->argvlen[k]);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(p, cmd->argv[k], cmd->argvlen[k]);

        argv[k] = p;
        lens[k] = cmd->argvlen[k];
    }

    copy->argc = cmd->argc;
    copy->argv = argv;
    copy->argvlen = lens;

    return NGX_OK;
}


/* n strings copied into the pool, appended to args */

static ngx_int_t
ngx_http_social_point_joint_copy(ngx_pool_t *pool, ngx_array_t *args,
    ngx_str_t *s, ngx_uint_t n)
{
    ngx_str_t   *a;
    ngx_uint_t   i;

    for (i = 0; i < n; i++) {
        a = ngx_array_push(args);
        if (a == NULL) {
            return NGX_ERROR;
        }

        a->len = s[i].len;
        a->data = ngx_pnalloc(pool, s[i].len);

        if (a->data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(a->data, s[i].data, s[i].len);
    }

    return NGX_OK;
}


static void
ngx_http_social_point_joint_run(ngx_event_t *ev)
{
    ngx_queue_t                     run, *q;
    ngx_http_social_point_joint_t  *j;

    /*
     * the joints waiting now: a write joined while they go (a handler of
     * a joint that failed at once) opens another, for the next event
     */

    ngx_http_social_point_joint = NULL;

    if (ngx_queue_empty(&ngx_http_social_point_joint_waiting)) {
        return;
    }

    ngx_queue_init(&run);
    ngx_queue_add(&run, &ngx_http_social_point_joint_waiting);
    ngx_queue_init(&ngx_http_social_point_joint_waiting);

    while (!ngx_queue_empty(&run)) {
        q = ngx_queue_head(&run);
        j = ngx_queue_data(q, ngx_http_social_point_joint_t, queue);

        ngx_queue_remove(q);
        ngx_queue_insert_tail(&ngx_http_social_point_joint_flight, q);

        if (j->nmembers == 0) {
            /* no write made it in (no memory) */
            ngx_http_social_point_joint_end(j);
            continue;
        }

        ngx_http_social_point_joint_send(j);
    }
}


/*
 * A joint goes (in flight already): MULTI, the requests' commands, RPUSH
 * of the rows, SADD of the users, EXEC
 */

static void
ngx_http_social_point_joint_send(ngx_http_social_point_joint_t *j)
{
    size_t                        *lens;
    ngx_str_t                     *a;
    ngx_uint_t                     i, k, n;
    const char                   **argv;
    ngx_http_social_redis_cmd_t   *cmds, *cmd;

    n = j->cmds.nelts;
    cmds = ngx_array_push_n(&j->cmds, 2);

    k = 2 + j->rows.nelts + 2 + j->users.nelts;
    argv = ngx_palloc(j->ctx->pool, k * sizeof(char *));
    lens = ngx_palloc(j->ctx->pool, k * sizeof(size_t));

    if (cmds == NULL || argv == NULL || lens == NULL) {
        j->ctx->backend_error = NGX_HTTP_SOCIAL_BACKEND_DOWN;
        ngx_http_social_point_joint_written(j->ctx, NULL);
        return;
    }

    cmds = j->cmds.elts;

    /* RPUSH of every request's rows, then SADD of every request's user */

    for (cmd = &cmds[n]; cmd < &cmds[n + 2]; cmd++) {
        a = (cmd == &cmds[n]) ? j->rows.elts : j->users.elts;
        k = (cmd == &cmds[n]) ? j->rows.nelts : j->users.nelts;

        cmd->argc = (int) (2 + k);
        cmd->argv = argv;
        cmd->argvlen = lens;

        if (cmd == &cmds[n]) {
            argv[0] = "RPUSH";
            lens[0] = sizeof("RPUSH") - 1;
            argv[1] = NGX_HTTP_SOCIAL_KEY_POINT_ROWS;
            lens[1] = sizeof(NGX_HTTP_SOCIAL_KEY_POINT_ROWS) - 1;

        } else {
            argv[0] = "SADD";
            lens[0] = sizeof("SADD") - 1;
            argv[1] = NGX_HTTP_SOCIAL_KEY_POINT_DIRTY;
            lens[1] = sizeof(NGX_HTTP_SOCIAL_KEY_POINT_DIRTY) - 1;
        }

        for (i = 0; i < k; i++) {
            argv[2 + i] = (const char *) a[i].data;
            lens[2 + i] = a[i].len;
        }

        argv += 2 + k;
        lens += 2 + k;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, j->ctx->log, 0,
                   "social points: %ui writes, %ui commands in one "
                   "transaction", j->nmembers, j->cmds.nelts);

    if (ngx_http_social_redis_multi(j->ctx,
                                    ngx_http_social_point_joint_written,
                                    cmds, j->cmds.nelts)
        != NGX_OK)
    {
        /* not sent: the requests get the 503 */
        j->ctx->backend_error = NGX_HTTP_SOCIAL_BACKEND_DOWN;
        ngx_http_social_point_joint_written(j->ctx, NULL);
    }
}


/*
 * EXEC's reply: each request's handler with its own part, shaped as its
 * own transaction's (RPUSH's reply, its commands', SADD's), or with the
 * transaction's error, or NULL
 */

static void
ngx_http_social_point_joint_written(ngx_http_social_ctx_t *ctx,
    redisReply *reply)
{
    ngx_uint_t                       i, n;
    redisReply                     **e;
    ngx_http_social_point_joint_t   *j = ctx->data;
    ngx_http_social_point_member_t  *m;

    n = j->cmds.nelts;

    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements != n) {
        ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                      "social: a transaction of %ui commands had %uz "
                      "replies", n, reply->elements);
        ctx->backend_error = NGX_HTTP_SOCIAL_BACKEND_DOWN;
        reply = NULL;
    }

    for (i = 0; i < j->nmembers; i++) {
        m = j->member[i];

        if (m->op.ctx == NULL) {
            /* the request went away */
            continue;
        }

        if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
            ngx_http_social_point_joint_deliver(m, ctx, reply);
            continue;
        }

        e = m->reply.element;

        e[0] = reply->element[n - 2];
        ngx_memcpy(&e[1], &reply->element[m->first],
                   m->n * sizeof(redisReply *));
        e[m->n + 1] = reply->element[n - 1];

        ngx_http_social_point_joint_deliver(m, ctx, &m->reply);
    }

    ngx_http_social_point_joint_end(j);
}


/* one request's handler, as the connection's reply would run it */

static void
ngx_http_social_point_joint_deliver(ngx_http_social_point_member_t *m,
    ngx_http_social_ctx_t *task, redisReply *reply)
{
    ngx_connection_t       *c;
    ngx_http_social_ctx_t  *ctx;

    ctx = m->op.ctx;

    ngx_http_social_op_unlink(&m->op);

    ctx->backend_error = reply ? NGX_HTTP_SOCIAL_BACKEND_OK
                               : task->backend_error;

    c = ctx->request ? ctx->request->connection : NULL;

    m->handler(ctx, reply);

    if (c) {
        ngx_http_run_posted_requests(c);
    }
}


/* a joint is over: its task and memory go */

static void
ngx_http_social_point_joint_end(ngx_http_social_point_joint_t *j)
{
    ngx_uint_t              i;
    ngx_http_social_ctx_t  *ctx;

    ctx = j->ctx;

    if (ngx_http_social_point_joint == j) {
        ngx_http_social_point_joint = NULL;
    }

    for (i = 0; i < j->nmembers; i++) {
        ngx_http_social_op_unlink(&j->member[i]->op);
    }

    ngx_queue_remove(&j->queue);

    ngx_http_social_task_release(ctx);
    ngx_destroy_pool(ctx->pool);
}


/* the request went away: its commands still go, no handler runs */

static void
ngx_http_social_point_joint_detach(ngx_http_social_op_t *op)
{
}


/* the worker exits: the joints waiting and in flight are forgotten */

void
ngx_http_social_point_joint_exit_process(void)
{
    ngx_queue_t                    *q;
    ngx_http_social_point_joint_t  *j;

    if (!ngx_http_social_point_joint_init) {
        return;
    }

    ngx_http_social_point_joint = NULL;

    if (ngx_http_social_point_joint_event.posted) {
        ngx_delete_posted_event(&ngx_http_social_point_joint_event);
    }

    while (!ngx_queue_empty(&ngx_http_social_point_joint_waiting)) {
        q = ngx_queue_head(&ngx_http_social_point_joint_waiting);
        j = ngx_queue_data(q, ngx_http_social_point_joint_t, queue);

        ngx_http_social_point_joint_end(j);
    }

    while (!ngx_queue_empty(&ngx_http_social_point_joint_flight)) {
        q = ngx_queue_head(&ngx_http_social_point_joint_flight);
        j = ngx_queue_data(q, ngx_http_social_point_joint_t, queue);

        ngx_http_social_point_joint_end(j);
    }
}
