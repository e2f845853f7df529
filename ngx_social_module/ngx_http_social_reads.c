
/*
 * Copyright (C) ngx_social developers
 */


/*
 * Reads that go together.  A statement costs PostgreSQL far more than
 * the rows it reads: the protocol's messages, the transaction, the
 * snapshot, a wakeup of the backend, the start of its plan's nodes.  So
 * the same read of a worker's concurrent requests (GET /user/{id}, GET
 * /exercises) waits in one queue, and a posted event sends what waits,
 * at most NGX_HTTP_SOCIAL_READS_MAX at a time, as one statement over
 * arrays of their parameters; each request's handler then runs with its
 * own rows, or with none.  At most
 * NGX_HTTP_SOCIAL_READS_FLIGHT such statements of a kind are in flight;
 * what arrives meanwhile makes the next, so a read alone goes at once and
 * a busy worker's reads share their statements.
 *
 * A read changes nothing, so a statement that fails fails its reads: each
 * handler is given the error (or NULL, ctx->backend_error saying why),
 * exactly as if its read had gone alone.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_request.h"
#include "ngx_http_social_shm.h"
#include "ngx_http_social_reads.h"


#define NGX_HTTP_SOCIAL_READS_MAX     64
#define NGX_HTTP_SOCIAL_READS_FLIGHT  2
#define NGX_HTTP_SOCIAL_READS_KINDS   4
#define NGX_HTTP_SOCIAL_READS_COLS    NGX_HTTP_SOCIAL_PG_ROW_COLS
#define NGX_HTTP_SOCIAL_READS_PARAMS  10


/* a kind's queue in the worker */
typedef struct {
    const char                     *sql;
    ngx_uint_t                      nparams;
    ngx_uint_t                      ncols;
    ngx_queue_t                     waiting;
    ngx_uint_t                      nwaiting;
    ngx_uint_t                      nflight;
    ngx_event_t                     event;
    ngx_event_t                     retry;      /* no memory a moment */
} ngx_http_social_reads_state_t;


typedef struct {
    ngx_http_social_op_t            op;         /* the request's */
    ngx_queue_t                     queue;      /* in the waiting reads */
    ngx_http_social_reads_state_t  *reads;
    const char *const              *values;     /* the request's */
    ngx_http_social_pg_handler_pt   handler;
    unsigned                        waiting:1;
} ngx_http_social_read_t;


typedef struct {
    ngx_queue_t                     queue;      /* in flight */
    ngx_http_social_ctx_t          *ctx;        /* the statement's own task */
    ngx_http_social_reads_state_t  *reads;
    ngx_http_social_read_t         *read[NGX_HTTP_SOCIAL_READS_MAX];
    ngx_uint_t                      n;
    const char                     *values[NGX_HTTP_SOCIAL_READS_PARAMS];
} ngx_http_social_reads_batch_t;


static void ngx_http_social_reads_run(ngx_event_t *ev);
static ngx_int_t ngx_http_social_reads_send(
    ngx_http_social_reads_state_t *reads);
static ngx_int_t ngx_http_social_reads_params(
    ngx_http_social_reads_batch_t *b);
static void ngx_http_social_reads_done(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static ngx_int_t ngx_http_social_reads_places(
    ngx_http_social_reads_batch_t *b, PGresult *res, int **order,
    int **first);
static void ngx_http_social_reads_deliver(ngx_http_social_read_t *r,
    PGresult *res, int *rows, int n, ngx_uint_t ncols, ngx_uint_t reason);
static void ngx_http_social_reads_end(ngx_http_social_reads_batch_t *b);
static void ngx_http_social_reads_detach(ngx_http_social_op_t *op);


/* the kinds a worker used, and their statements in flight */
static ngx_http_social_reads_state_t
    *ngx_http_social_reads_kinds[NGX_HTTP_SOCIAL_READS_KINDS];
static ngx_uint_t                      ngx_http_social_reads_nkinds;
static ngx_queue_t                     ngx_http_social_reads_flight;


ngx_int_t
ngx_http_social_reads_add(ngx_http_social_ctx_t *ctx,
    ngx_http_social_reads_t *kind, const char *const *values,
    ngx_http_social_pg_handler_pt handler)
{
    ngx_uint_t                      i;
    ngx_http_social_read_t         *r;
    ngx_http_social_reads_state_t  *reads;

    reads = kind->state;

    if (reads == NULL) {
        if (ngx_http_social_reads_nkinds == NGX_HTTP_SOCIAL_READS_KINDS
            || kind->ncols > NGX_HTTP_SOCIAL_READS_COLS
            || kind->nparams > NGX_HTTP_SOCIAL_READS_PARAMS)
        {
            ngx_log_error(NGX_LOG_ALERT, ctx->log, 0,
                          "social: more kinds of reads than %d, or more "
                          "columns than %d, or parameters than %d",
                          NGX_HTTP_SOCIAL_READS_KINDS,
                          NGX_HTTP_SOCIAL_READS_COLS,
                          NGX_HTTP_SOCIAL_READS_PARAMS);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        reads = ngx_calloc(sizeof(ngx_http_social_reads_state_t), ctx->log);
        if (reads == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_http_social_reads_nkinds == 0) {
            ngx_queue_init(&ngx_http_social_reads_flight);
        }

        ngx_http_social_reads_kinds[ngx_http_social_reads_nkinds++] = reads;

        reads->sql = kind->sql;
        reads->nparams = kind->nparams;
        reads->ncols = kind->ncols;
        ngx_queue_init(&reads->waiting);
        reads->event.handler = ngx_http_social_reads_run;
        reads->event.data = reads;
        reads->event.log = ngx_cycle->log;
        reads->retry.handler = ngx_http_social_reads_run;
        reads->retry.data = reads;
        reads->retry.log = ngx_cycle->log;
        kind->state = reads;
    }

    for (i = 0; i < reads->nparams; i++) {
        if (values[i] == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    /*
     * what the statements not yet in flight take at once, then the
     * queue's room (with social_postgres_queue 0, a read goes only when a
     * statement can take it)
     */

    if (reads->nwaiting
        >= ctx->smcf->pg_queue_size
           + (NGX_HTTP_SOCIAL_READS_FLIGHT - reads->nflight)
             * NGX_HTTP_SOCIAL_READS_MAX)
    {
        ngx_log_error(NGX_LOG_WARN, ctx->log, 0,
                      "social: the read queue is full (%ui)",
                      reads->nwaiting);
        ctx->backend_error = NGX_HTTP_SOCIAL_BACKEND_BUSY;
        return ngx_http_social_unavailable(ctx, "PostgreSQL");
    }

    r = ngx_calloc(sizeof(ngx_http_social_read_t), ctx->log);
    if (r == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->reads = reads;
    r->values = values;
    r->handler = handler;
    r->waiting = 1;
    r->op.detach = ngx_http_social_reads_detach;

    ngx_http_social_op_attach(ctx, &r->op);

    ngx_queue_insert_tail(&reads->waiting, &r->queue);
    reads->nwaiting++;

    /* after this event's handlers: the reads parsed meanwhile go too */

    if (!reads->event.posted) {
        ngx_post_event(&reads->event, &ngx_posted_events);
    }

    return NGX_DONE;
}


static void
ngx_http_social_reads_run(ngx_event_t *ev)
{
    ngx_http_social_reads_state_t  *reads;

    reads = ev->data;

    while (reads->nflight < NGX_HTTP_SOCIAL_READS_FLIGHT
           && !ngx_queue_empty(&reads->waiting))
    {
        if (ngx_http_social_reads_send(reads) != NGX_OK) {
            /* no memory: the reads wait a moment */
            if (!reads->retry.timer_set) {
                ngx_add_timer(&reads->retry, 100);
            }

            return;
        }
    }
}


static ngx_int_t
ngx_http_social_reads_send(ngx_http_social_reads_state_t *reads)
{
    ngx_queue_t                    *q;
    ngx_http_social_ctx_t          *ctx;
    ngx_http_social_read_t         *r;
    ngx_http_social_reads_batch_t  *b;

    q = ngx_queue_head(&reads->waiting);
    r = ngx_queue_data(q, ngx_http_social_read_t, queue);

    ctx = ngx_http_social_task_create(r->op.ctx->smcf,
                                      sizeof(ngx_http_social_reads_batch_t));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    b = ctx->data;
    b->ctx = ctx;
    b->reads = reads;

    while (!ngx_queue_empty(&reads->waiting)
           && b->n < NGX_HTTP_SOCIAL_READS_MAX)
    {
        q = ngx_queue_head(&reads->waiting);
        r = ngx_queue_data(q, ngx_http_social_read_t, queue);

        ngx_queue_remove(q);
        reads->nwaiting--;
        r->waiting = 0;

        b->read[b->n++] = r;
    }

    ngx_queue_insert_tail(&ngx_http_social_reads_flight, &b->queue);
    reads->nflight++;

    if (ngx_http_social_reads_params(b) != NGX_OK) {
        ctx->backend_error = NGX_HTTP_SOCIAL_BACKEND_BUSY;
        ngx_http_social_reads_done(ctx, NULL);
        return NGX_OK;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "social reads: %ui in one statement", b->n);

    ngx_http_social_stat_add(read_batches, 1);
    ngx_http_social_stat_add(reads, b->n);

    if (ngx_http_social_pg_query(ctx, reads->sql, (int) reads->nparams,
                                 b->values,
                                 ngx_http_social_reads_done)
        != NGX_OK)
    {
        /* not sent: the requests get the 503 */
        ngx_http_social_reads_done(ctx, NULL);
    }

    return NGX_OK;
}


/*
 * each parameter as an array of the reads' values, each quoted, '"' and
 * '\\' escaped: {"1","","x"} (libpq copies them when it sends them)
 */

static ngx_int_t
ngx_http_social_reads_params(ngx_http_social_reads_batch_t *b)
{
    u_char                  *p;
    size_t                   len;
    ngx_uint_t               i, k;
    const char              *v;
    ngx_http_social_read_t  *r;

    for (k = 0; k < b->reads->nparams; k++) {
        len = 3;

        for (i = 0; i < b->n; i++) {
            r = b->read[i];
            len += 2 * ngx_strlen(r->values[k]) + 3;
        }

        p = ngx_pnalloc(b->ctx->pool, len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        b->values[k] = (char *) p;
        *p++ = '{';

        for (i = 0; i < b->n; i++) {
            if (i) {
                *p++ = ',';
            }

            *p++ = '"';

            for (v = b->read[i]->values[k]; *v; v++) {
                if (*v == '"' || *v == '\\') {
                    *p++ = '\\';
                }

                *p++ = *v;
            }

            *p++ = '"';
        }

        *p++ = '}';
        *p = '\0';
    }

    return NGX_OK;
}


/* the rows, by the reads' places: each request its rows, or none */

static void
ngx_http_social_reads_done(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    int                            *order, *first;
    PGresult                       *bad;
    ngx_int_t                       rc;
    ngx_uint_t                      i, ncols;
    ngx_http_social_reads_batch_t  *b;

    b = ctx->data;
    ncols = b->reads->ncols;
    bad = NULL;

    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
        /* failed: each read as if it had gone alone */

        for (i = 0; i < b->n; i++) {
            ngx_http_social_reads_deliver(b->read[i], res, NULL, 0, ncols,
                                          ctx->backend_error);
        }

        ngx_http_social_reads_end(b);
        return;
    }

    rc = ngx_http_social_reads_places(b, res, &order, &first);

    if (rc == NGX_DECLINED) {
        goto shape;
    }

    if (rc == NGX_ERROR) {
        /* no memory: each read as if PostgreSQL had failed */

        for (i = 0; i < b->n; i++) {
            ngx_http_social_reads_deliver(b->read[i], NULL, NULL, 0, ncols,
                                          NGX_HTTP_SOCIAL_BACKEND_BUSY);
        }

        ngx_http_social_reads_end(b);
        return;
    }

    for (i = 0; i < b->n; i++) {
        ngx_http_social_reads_deliver(b->read[i], res, order + first[i],
                                      first[i + 1] - first[i], ncols,
                                      NGX_HTTP_SOCIAL_BACKEND_OK);
    }

    ngx_http_social_reads_end(b);
    return;

shape:

    /* not the statement's rows: an error (a 500) for each read */

    ngx_log_error(NGX_LOG_ALERT, ctx->log, 0,
                  "social: a statement of reads answered %d columns, or "
                  "a place out of 1..%ui", PQnfields(res), b->n);

    bad = PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR);

    for (i = 0; i < b->n; i++) {
        ngx_http_social_reads_deliver(b->read[i], bad, NULL, 0, ncols,
                                      bad ? NGX_HTTP_SOCIAL_BACKEND_OK
                                          : NGX_HTTP_SOCIAL_BACKEND_DOWN);
    }

    if (bad) {
        PQclear(bad);
    }

    ngx_http_social_reads_end(b);
}


/*
 * the rows by place, in the order they came (a counting sort): read i's
 * rows are order[first[i]] to order[first[i + 1] - 1]; NGX_DECLINED: not
 * the statement's columns, or a place out of 1..n
 */

static ngx_int_t
ngx_http_social_reads_places(ngx_http_social_reads_batch_t *b, PGresult *res,
    int **order, int **first)
{
    int          row, rows, place, *o, *f, *at;
    ngx_uint_t   ncols, i;

    ncols = b->reads->ncols;
    rows = PQntuples(res);

    if (PQnfields(res) != (int) ncols + 1) {
        return NGX_DECLINED;
    }

    o = ngx_palloc(b->ctx->pool, (rows + 1) * sizeof(int));
    f = ngx_pcalloc(b->ctx->pool, (b->n + 2) * sizeof(int));
    at = ngx_palloc(b->ctx->pool, (b->n + 1) * sizeof(int));

    if (o == NULL || f == NULL || at == NULL) {
        return NGX_ERROR;
    }

    for (row = 0; row < rows; row++) {
        place = ngx_atoi((u_char *) PQgetvalue(res, row, ncols),
                         PQgetlength(res, row, ncols));

        if (place == NGX_ERROR || place < 1 || place > (int) b->n) {
            return NGX_DECLINED;
        }

        f[place]++;
    }

    /* f[i]: where read i's rows start (places from 1, reads from 0) */

    for (i = 1; i <= b->n; i++) {
        f[i] += f[i - 1];
    }

    for (i = 0; i <= b->n; i++) {
        at[i] = f[i];
    }

    for (row = 0; row < rows; row++) {
        place = ngx_atoi((u_char *) PQgetvalue(res, row, ncols),
                         PQgetlength(res, row, ncols));

        o[at[place - 1]++] = row;
    }

    *order = o;
    *first = f;

    return NGX_OK;
}


/* the handler of a read: its rows (n of them), or the statement's failure */

static void
ngx_http_social_reads_deliver(ngx_http_social_read_t *r, PGresult *res,
    int *rows, int n, ngx_uint_t ncols, ngx_uint_t reason)
{
    ngx_http_social_ctx_t          *ctx;
    ngx_http_social_pg_handler_pt   handler;

    ctx = r->op.ctx;
    handler = r->handler;

    if (ctx == NULL) {
        /* the request went away while its read was in flight */
        ngx_free(r);
        return;
    }

    ngx_http_social_op_unlink(&r->op);
    ngx_free(r);

    ngx_http_social_pg_deliver_rows(ctx, handler, res, rows, n, (int) ncols,
                                    reason);
}


/* a statement is over: its task and memory go, and the next may go */

static void
ngx_http_social_reads_end(ngx_http_social_reads_batch_t *b)
{
    ngx_http_social_ctx_t          *ctx;
    ngx_http_social_reads_state_t  *reads;

    ctx = b->ctx;
    reads = b->reads;

    ngx_queue_remove(&b->queue);
    reads->nflight--;

    ngx_http_social_task_release(ctx);
    ngx_destroy_pool(ctx->pool);

    if (!ngx_queue_empty(&reads->waiting) && !reads->event.posted) {
        ngx_post_event(&reads->event, &ngx_posted_events);
    }
}


/* the request went away: a waiting read goes, one in flight is let be */

static void
ngx_http_social_reads_detach(ngx_http_social_op_t *op)
{
    ngx_http_social_read_t  *r;

    r = (ngx_http_social_read_t *) op;

    if (!r->waiting) {
        return;
    }

    ngx_queue_remove(&r->queue);
    r->reads->nwaiting--;

    ngx_free(r);
}


/* the worker exits: the statements in flight are forgotten, their reads */

void
ngx_http_social_reads_exit_process(void)
{
    ngx_uint_t                      i;
    ngx_queue_t                    *q;
    ngx_http_social_reads_batch_t  *b;
    ngx_http_social_reads_state_t  *reads;

    if (ngx_http_social_reads_nkinds == 0) {
        return;
    }

    while (!ngx_queue_empty(&ngx_http_social_reads_flight)) {
        q = ngx_queue_head(&ngx_http_social_reads_flight);
        b = ngx_queue_data(q, ngx_http_social_reads_batch_t, queue);

        for (i = 0; i < b->n; i++) {
            ngx_http_social_op_unlink(&b->read[i]->op);
            ngx_free(b->read[i]);
        }

        b->n = 0;

        ngx_http_social_reads_end(b);
    }

    for (i = 0; i < ngx_http_social_reads_nkinds; i++) {
        reads = ngx_http_social_reads_kinds[i];

        if (reads->event.posted) {
            ngx_delete_posted_event(&reads->event);
        }

        if (reads->retry.timer_set) {
            ngx_del_timer(&reads->retry);
        }

        /* the waiting reads are their requests' (detached at the end) */
    }
}
