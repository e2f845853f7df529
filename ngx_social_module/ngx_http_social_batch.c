
/*
 * Copyright (C) ngx_social developers
 */


/*
 * Writes that commit together.  The writes of a worker's requests (posts,
 * likes, follows, blocks and their undoing) wait in one queue; a posted
 * event sends them, at most NGX_HTTP_SOCIAL_BATCH_MAX at a time, as one
 * statement, social_write_batch() (migration 009): one transaction, one
 * fsync, and each request answered from its own row after the COMMIT.  At
 * most NGX_HTTP_SOCIAL_BATCH_FLIGHT batches are in flight; what arrives
 * meanwhile makes the next batch, so a write alone goes at once and a
 * busy worker's batches grow with its load.
 *
 * A batch that PostgreSQL refuses was rolled back whole: each of its
 * writes goes again alone (a batch of one), and only the write that fails
 * alone gets its error.  A batch whose answer was lost (the connection
 * closed or timed out, during the COMMIT or before) has an outcome the
 * worker must learn before it answers, lest a client's retry post twice:
 * it inserts the batch's token again on another connection, which waits
 * for the lost transaction to end and conflicts if it committed (its
 * posts are then read back, the other writes, which are idempotent, run
 * again alone) or else takes the token, so that the lost one never
 * commits, and the writes go again alone.  While PostgreSQL cannot be
 * asked, it is asked again, NGX_HTTP_SOCIAL_BATCH_ASK times, before the
 * requests get the 503.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_request.h"
#include "ngx_http_social_batch.h"
#include "ngx_http_social_shm.h"
#include "ngx_http_social_util.h"


#define NGX_HTTP_SOCIAL_BATCH_MAX     64
#define NGX_HTTP_SOCIAL_BATCH_FLIGHT  2
#define NGX_HTTP_SOCIAL_BATCH_TRIES   3     /* of a write, alone */
#define NGX_HTTP_SOCIAL_BATCH_ASK     10    /* the outcome, 500 ms apart */
#define NGX_HTTP_SOCIAL_BATCH_COLS    5


typedef struct {
    ngx_http_social_op_t            op;         /* the request's */
    ngx_queue_t                     queue;      /* in the waiting writes */
    const char                     *kind;
    const char                     *a;          /* in the request's pool */
    const char                     *b;
    ngx_http_social_pg_handler_pt   handler;
    ngx_uint_t                      tries;

    /* a's copy: a post's author, read back after its request went away */
    u_char                          author[NGX_INT64_LEN + 1];

    unsigned                        waiting:1;
    unsigned                        alone:1;
} ngx_http_social_batch_write_t;


typedef struct {
    ngx_queue_t                     queue;      /* in flight */
    ngx_http_social_ctx_t          *ctx;        /* the batch's own task */
    ngx_http_social_batch_write_t  *writes[NGX_HTTP_SOCIAL_BATCH_MAX];
    ngx_uint_t                      n;
    ngx_uint_t                      asked;
    ngx_event_t                     timer;      /* asking again */
    const char                     *values[4];
} ngx_http_social_batch_t;


static void ngx_http_social_batch_run(ngx_event_t *ev);
static ngx_int_t ngx_http_social_batch_send(void);
static ngx_int_t ngx_http_social_batch_params(ngx_http_social_batch_t *b);
static void ngx_http_social_batch_done(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static ngx_uint_t ngx_http_social_batch_lost(PGresult *res);
static void ngx_http_social_batch_again(ngx_http_social_batch_t *b);
static void ngx_http_social_batch_ask(ngx_http_social_batch_t *b);
static void ngx_http_social_batch_ask_timer(ngx_event_t *ev);
static void ngx_http_social_batch_asked(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_batch_posts(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_batch_deliver(ngx_http_social_batch_write_t *w,
    PGresult *res, ngx_uint_t row, ngx_uint_t reason);
static void ngx_http_social_batch_end(ngx_http_social_batch_t *b);
static void ngx_http_social_batch_detach(ngx_http_social_op_t *op);


static const char  ngx_http_social_sql_batch[] =
    "SELECT * FROM social_write_batch($1, $2::text[], $3::text[], "
    "                                 $4::text[])";

/* false: the lost batch did not commit, and now never will */
static const char  ngx_http_social_sql_batch_ask[] =
    "SELECT social_write_batch_outcome($1)";

static const char  ngx_http_social_sql_batch_posts[] =
    "SELECT * FROM social_write_batch_posts($1)";


static ngx_queue_t   ngx_http_social_batch_waiting;
static ngx_uint_t    ngx_http_social_batch_nwaiting;
static ngx_queue_t   ngx_http_social_batch_flight;
static ngx_uint_t    ngx_http_social_batch_nflight;
static ngx_event_t   ngx_http_social_batch_event;
static ngx_event_t   ngx_http_social_batch_retry;   /* no memory a moment */
static ngx_uint_t    ngx_http_social_batch_ready;


ngx_int_t
ngx_http_social_batch_write(ngx_http_social_ctx_t *ctx, const char *kind,
    const char *a, const char *b, ngx_http_social_pg_handler_pt handler)
{
    ngx_http_social_batch_write_t  *w;

    if (!ngx_http_social_batch_ready) {
        ngx_queue_init(&ngx_http_social_batch_waiting);
        ngx_queue_init(&ngx_http_social_batch_flight);

        ngx_http_social_batch_event.handler = ngx_http_social_batch_run;
        ngx_http_social_batch_event.log = ngx_cycle->log;
        ngx_http_social_batch_retry.handler = ngx_http_social_batch_run;
        ngx_http_social_batch_retry.log = ngx_cycle->log;
        ngx_http_social_batch_ready = 1;
    }

    if (a == NULL || b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * what the batches not yet in flight take at once, then the queue's
     * room (with social_postgres_queue 0, a write goes only when a batch
     * can take it)
     */

    if (ngx_http_social_batch_nwaiting
        >= ctx->smcf->pg_queue_size
           + (NGX_HTTP_SOCIAL_BATCH_FLIGHT - ngx_http_social_batch_nflight)
             * NGX_HTTP_SOCIAL_BATCH_MAX)
    {
        ngx_log_error(NGX_LOG_WARN, ctx->log, 0,
                      "social: the write queue is full (%ui)",
                      ngx_http_social_batch_nwaiting);
        ctx->backend_error = NGX_HTTP_SOCIAL_BACKEND_BUSY;
        return ngx_http_social_unavailable(ctx, "PostgreSQL");
    }

    w = ngx_calloc(sizeof(ngx_http_social_batch_write_t), ctx->log);
    if (w == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    w->kind = kind;
    w->a = a;
    w->b = b;
    ngx_cpystrn(w->author, (u_char *) a, sizeof(w->author));
    w->handler = handler;
    w->waiting = 1;
    w->op.detach = ngx_http_social_batch_detach;

    ngx_http_social_op_attach(ctx, &w->op);

    ngx_queue_insert_tail(&ngx_http_social_batch_waiting, &w->queue);
    ngx_http_social_batch_nwaiting++;

    /* after this event's handlers: the writes read meanwhile go too */

    if (!ngx_http_social_batch_event.posted) {
        ngx_post_event(&ngx_http_social_batch_event, &ngx_posted_events);
    }

    return NGX_DONE;
}


static void
ngx_http_social_batch_run(ngx_event_t *ev)
{
    while (ngx_http_social_batch_nflight < NGX_HTTP_SOCIAL_BATCH_FLIGHT
           && !ngx_queue_empty(&ngx_http_social_batch_waiting))
    {
        if (ngx_http_social_batch_send() != NGX_OK) {
            /* no memory: the writes wait a moment */
            if (!ngx_http_social_batch_retry.timer_set) {
                ngx_add_timer(&ngx_http_social_batch_retry, 100);
            }

            return;
        }
    }
}


/* the next batch: a write that goes alone, or the next writes */

static ngx_int_t
ngx_http_social_batch_send(void)
{
    ngx_queue_t                    *q;
    ngx_http_social_ctx_t          *ctx;
    ngx_http_social_batch_t        *b;
    ngx_http_social_batch_write_t  *w;

    q = ngx_queue_head(&ngx_http_social_batch_waiting);
    w = ngx_queue_data(q, ngx_http_social_batch_write_t, queue);

    ctx = ngx_http_social_task_create(w->op.ctx->smcf,
                                      sizeof(ngx_http_social_batch_t));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    b = ctx->data;
    b->ctx = ctx;

    while (!ngx_queue_empty(&ngx_http_social_batch_waiting)
           && b->n < NGX_HTTP_SOCIAL_BATCH_MAX)
    {
        q = ngx_queue_head(&ngx_http_social_batch_waiting);
        w = ngx_queue_data(q, ngx_http_social_batch_write_t, queue);

        if (w->alone && b->n) {
            break;
        }

        ngx_queue_remove(q);
        ngx_http_social_batch_nwaiting--;
        w->waiting = 0;

        b->writes[b->n++] = w;

        if (w->alone) {
            break;
        }
    }

    ngx_queue_insert_tail(&ngx_http_social_batch_flight, &b->queue);
    ngx_http_social_batch_nflight++;

    if (ngx_http_social_batch_params(b) != NGX_OK) {
        ctx->backend_error = NGX_HTTP_SOCIAL_BACKEND_BUSY;
        ngx_http_social_batch_done(ctx, NULL);
        return NGX_OK;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "social batch: %ui writes", b->n);

    ngx_http_social_stat_add(write_batches, 1);
    ngx_http_social_stat_add(writes, b->n);

    if (ngx_http_social_pg_query(ctx, ngx_http_social_sql_batch, 4,
                                 b->values, ngx_http_social_batch_done)
        != NGX_OK)
    {
        /* not sent: nothing to learn, the requests get the 503 */
        ngx_http_social_batch_done(ctx, NULL);
    }

    return NGX_OK;
}


/*
 * the token, and the kinds and parameters as text arrays: every element
 * quoted, '"' and '\' escaped (the parameters are copied by libpq when
 * sent: the requests' memory is not used after)
 */

static ngx_int_t
ngx_http_social_batch_params(ngx_http_social_batch_t *b)
{
    u_char                         *p, *s;
    size_t                          len[3];
    u_char                          rnd[12];
    ngx_uint_t                      i, k;
    const char                     *v;
    ngx_http_social_batch_write_t  *w;

    if (ngx_http_social_random(rnd, sizeof(rnd)) != NGX_OK) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(b->ctx->pool, 2 * sizeof(rnd) + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    *ngx_hex_dump(p, rnd, sizeof(rnd)) = '\0';
    b->values[0] = (char *) p;

    for (k = 0; k < 3; k++) {
        len[k] = 3;

        for (i = 0; i < b->n; i++) {
            w = b->writes[i];
            v = (k == 0) ? w->kind : (k == 1) ? w->a : w->b;

            /* each byte at most twice, the quotes and the comma */
            len[k] += 2 * ngx_strlen(v) + 3;
        }

        p = ngx_pnalloc(b->ctx->pool, len[k]);
        if (p == NULL) {
            return NGX_ERROR;
        }

        b->values[1 + k] = (char *) p;
        *p++ = '{';

        for (i = 0; i < b->n; i++) {
            w = b->writes[i];
            v = (k == 0) ? w->kind : (k == 1) ? w->a : w->b;

            if (i) {
                *p++ = ',';
            }

            *p++ = '"';

            for (s = (u_char *) v; *s; s++) {
                if (*s == '"' || *s == '\\') {
                    *p++ = '\\';
                }

                *p++ = *s;
            }

            *p++ = '"';
        }

        *p++ = '}';
        *p = '\0';
    }

    return NGX_OK;
}


static void
ngx_http_social_batch_done(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_uint_t                i;
    ngx_http_social_batch_t  *b;

    b = ctx->data;

    if (res && PQresultStatus(res) == PGRES_TUPLES_OK
        && PQntuples(res) == (int) b->n
        && PQnfields(res) == NGX_HTTP_SOCIAL_BATCH_COLS)
    {
        /* committed: each request its row */

        for (i = 0; i < b->n; i++) {
            ngx_http_social_batch_deliver(b->writes[i], res, i,
                                          NGX_HTTP_SOCIAL_BACKEND_OK);
        }

        ngx_http_social_batch_end(b);
        return;
    }

    if (res && !ngx_http_social_batch_lost(res)) {
        /* refused, so rolled back: alone, each write gets its own answer */

        if (b->n == 1) {
            ngx_http_social_batch_deliver(b->writes[0], res, 0,
                                          NGX_HTTP_SOCIAL_BACKEND_OK);
            ngx_http_social_batch_end(b);
            return;
        }

        ngx_log_error(NGX_LOG_NOTICE, ctx->log, 0,
                      "social: a batch of %ui writes failed, each goes "
                      "again alone: %s", b->n,
                      PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));

        ngx_http_social_batch_again(b);
        return;
    }

    if (res == NULL && !ctx->pg_unknown) {
        /* never sent, or it failed before its COMMIT: nothing committed */

        for (i = 0; i < b->n; i++) {
            ngx_http_social_batch_deliver(b->writes[i], NULL, 0,
                                          ctx->backend_error);
        }

        ngx_http_social_batch_end(b);
        return;
    }

    ngx_log_error(NGX_LOG_WARN, ctx->log, 0,
                  "social: the answer to a batch of %ui writes was lost, "
                  "asking PostgreSQL whether it committed", b->n);

    ngx_http_social_batch_ask(b);
}


/*
 * an error that is not the statement's: libpq's own (no SQLSTATE), a lost
 * connection (08) or a server shutting the session down (57P): whether
 * the batch committed is not known
 */

static ngx_uint_t
ngx_http_social_batch_lost(PGresult *res)
{
    const char  *state;

    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

    return state == NULL
           || ngx_strncmp(state, "08", 2) == 0
           || ngx_strncmp(state, "57P", 3) == 0;
}


/* the writes of a batch that did not commit go again, each alone */

static void
ngx_http_social_batch_again(ngx_http_social_batch_t *b)
{
    ngx_uint_t                      i;
    ngx_http_social_batch_write_t  *w;

    /* back at the head, in their order */

    for (i = b->n; i > 0; i--) {
        w = b->writes[i - 1];

        if (w->op.ctx == NULL) {
            /* its request went away: nobody waits for this write */
            ngx_free(w);
            continue;
        }

        if (++w->tries > NGX_HTTP_SOCIAL_BATCH_TRIES) {
            ngx_http_social_batch_deliver(w, NULL, 0,
                                          NGX_HTTP_SOCIAL_BACKEND_DOWN);
            continue;
        }

        w->alone = 1;
        w->waiting = 1;
        ngx_queue_insert_head(&ngx_http_social_batch_waiting, &w->queue);
        ngx_http_social_batch_nwaiting++;
    }

    b->n = 0;

    ngx_http_social_batch_end(b);
}


static void
ngx_http_social_batch_ask(ngx_http_social_batch_t *b)
{
    b->asked++;

    if (ngx_http_social_pg_query(b->ctx, ngx_http_social_sql_batch_ask, 1,
                                 b->values, ngx_http_social_batch_asked)
        != NGX_OK)
    {
        ngx_http_social_batch_asked(b->ctx, NULL);
    }
}


static void
ngx_http_social_batch_ask_timer(ngx_event_t *ev)
{
    ngx_http_social_batch_ask(ev->data);
}


static void
ngx_http_social_batch_asked(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_uint_t                i;
    ngx_http_social_batch_t  *b;

    b = ctx->data;

    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK
        || PQntuples(res) != 1)
    {
        if (b->asked < NGX_HTTP_SOCIAL_BATCH_ASK) {
            b->timer.handler = ngx_http_social_batch_ask_timer;
            b->timer.data = b;
            b->timer.log = ctx->log;
            ngx_add_timer(&b->timer, 500);
            return;
        }

        ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                      "social: whether batch %s of %ui writes committed "
                      "is unknown, PostgreSQL could not be asked",
                      b->values[0], b->n);

        for (i = 0; i < b->n; i++) {
            ngx_http_social_batch_deliver(b->writes[i], NULL, 0,
                                          NGX_HTTP_SOCIAL_BACKEND_DOWN);
        }

        ngx_http_social_batch_end(b);
        return;
    }

    if (PQgetvalue(res, 0, 0)[0] != 't') {
        ngx_log_error(NGX_LOG_NOTICE, ctx->log, 0,
                      "social: batch %s did not commit, its writes go "
                      "again", b->values[0]);
        ngx_http_social_batch_again(b);
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, ctx->log, 0,
                  "social: batch %s committed, its answers are read back",
                  b->values[0]);

    if (ngx_http_social_pg_query(ctx, ngx_http_social_sql_batch_posts, 1,
                                 b->values, ngx_http_social_batch_posts)
        != NGX_OK)
    {
        ngx_http_social_batch_posts(ctx, NULL);
    }
}


/*
 * the lost batch committed: its posts in order, each to its post write,
 * whose author it is; the other writes are idempotent and run again
 */

static void
ngx_http_social_batch_posts(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    int                             row, rows;
    ngx_uint_t                      i, n;
    ngx_http_social_batch_t        *b;
    ngx_http_social_batch_write_t  *w;

    b = ctx->data;

    rows = (res && PQresultStatus(res) == PGRES_TUPLES_OK
            && PQnfields(res) == NGX_HTTP_SOCIAL_BATCH_COLS)
           ? PQntuples(res) : -1;

    row = 0;
    n = 0;

    for (i = 0; i < b->n; i++) {
        w = b->writes[i];

        if (ngx_strcmp(w->kind, "post") != 0) {
            b->writes[n++] = w;
            continue;
        }

        /* a's copy: the request, and a with it, may be gone */

        if (row < rows
            && ngx_strcmp(PQgetvalue(res, row, 1), w->author) == 0)
        {
            ngx_http_social_batch_deliver(w, res, row++,
                                          NGX_HTTP_SOCIAL_BACKEND_OK);
            continue;
        }

        /* committed, but not found (deleted since), or not read: unknown */
        ngx_http_social_batch_deliver(w, NULL, 0,
                                      NGX_HTTP_SOCIAL_BACKEND_DOWN);
    }

    b->n = n;

    ngx_http_social_batch_again(b);
}


/* a write's handler with its row (as a result of its own), or NULL */

static void
ngx_http_social_batch_deliver(ngx_http_social_batch_write_t *w,
    PGresult *res, ngx_uint_t row, ngx_uint_t reason)
{
    ngx_http_social_ctx_t          *ctx;
    ngx_http_social_pg_handler_pt   handler;

    ctx = w->op.ctx;
    handler = w->handler;

    if (ctx == NULL) {
        /* the request went away while its write was in flight */
        ngx_free(w);
        return;
    }

    ngx_http_social_op_unlink(&w->op);
    ngx_free(w);

    ngx_http_social_pg_deliver(ctx, handler, res, (int) row,
                               NGX_HTTP_SOCIAL_BATCH_COLS, reason);
}


/* a batch is over: its task and memory go, and the next batch may go */

static void
ngx_http_social_batch_end(ngx_http_social_batch_t *b)
{
    ngx_http_social_ctx_t  *ctx;

    ctx = b->ctx;

    if (b->timer.timer_set) {
        ngx_del_timer(&b->timer);
    }

    ngx_queue_remove(&b->queue);
    ngx_http_social_batch_nflight--;

    ngx_http_social_task_release(ctx);
    ngx_destroy_pool(ctx->pool);

    if (!ngx_queue_empty(&ngx_http_social_batch_waiting)
        && !ngx_http_social_batch_event.posted)
    {
        ngx_post_event(&ngx_http_social_batch_event, &ngx_posted_events);
    }
}


/* the request went away: a waiting write goes, one in flight is let be */

static void
ngx_http_social_batch_detach(ngx_http_social_op_t *op)
{
    ngx_http_social_batch_write_t  *w;

    w = (ngx_http_social_batch_write_t *) op;

    if (!w->waiting) {
        return;
    }

    ngx_queue_remove(&w->queue);
    ngx_http_social_batch_nwaiting--;

    ngx_free(w);
}


/* the worker exits: the batches in flight are forgotten, with their writes */

void
ngx_http_social_batch_exit_process(void)
{
    ngx_uint_t                i;
    ngx_queue_t              *q;
    ngx_http_social_batch_t  *b;

    if (!ngx_http_social_batch_ready) {
        return;
    }

    while (!ngx_queue_empty(&ngx_http_social_batch_flight)) {
        q = ngx_queue_head(&ngx_http_social_batch_flight);
        b = ngx_queue_data(q, ngx_http_social_batch_t, queue);

        for (i = 0; i < b->n; i++) {
            ngx_http_social_op_unlink(&b->writes[i]->op);
            ngx_free(b->writes[i]);
        }

        b->n = 0;

        ngx_http_social_batch_end(b);
    }

    /* after the batches: their end posts the event for what waits */

    if (ngx_http_social_batch_event.posted) {
        ngx_delete_posted_event(&ngx_http_social_batch_event);
    }

    if (ngx_http_social_batch_retry.timer_set) {
        ngx_del_timer(&ngx_http_social_batch_retry);
    }
}
