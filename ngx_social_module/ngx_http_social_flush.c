
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The flush: every social_flush_interval, in one worker across all nodes
 * (a job, ngx_http_social_job.c), the error points waiting in Redis move
 * to PostgreSQL.  No row, present or past, can block it.
 *
 *   1. Redis (one script): the open batch, left by a run that was cut
 *      short or failed, or else a new one, everything pending moved aside
 *      by renames under a new id "<epoch>:<seq>"; and whether a run
 *      failed on it.
 *   2. PostgreSQL: the batch's rows, read from Redis in chunks
 *      (ngx_http_social_flush_rows.c), each chunk in a transaction of its
 *      own, opened only once the chunk is read, so that no transaction of
 *      the flush waits on Redis (an open transaction holds the feed's
 *      horizon back: migration 008); the first puts the batch id into
 *      error_batches, not applied yet:
 *      a. each row checked here first (UTF-8 of scalar values, the shape
 *         [user, utterance, "Category", "Subcategory", ms, "point id"],
 *         the types and lengths: ngx_http_social_point_row_check()); a
 *         row that fails goes aside, whole, into error_dead_letters;
 *      b. the other rows in one statement under a SAVEPOINT: into
 *         utterance_errors, each row once (its random point id is unique:
 *         a batch applied before, or the same batch id again after Redis
 *         lost its last second, writes nothing twice; rows whose
 *         utterance is gone, a deleted user's, are skipped), and their
 *         counts added to error_frequencies;
 *      c. if PostgreSQL refuses the chunk: back to the savepoint, and its
 *         rows one at a time, each under a savepoint of its own; a row
 *         refused alone goes aside with PostgreSQL's message;
 *      then COMMIT, and the next chunk; the last one's transaction also
 *      marks the batch applied, with the number of its rows there.
 *      GET /exercises counts a batch not applied from Redis, less what of
 *      it PostgreSQL holds already.
 *   3. Redis (one script): the batch is deleted.
 *
 * A set-aside row is logged once, at error level: an operator replays or
 * purges it (README, "Dead letters").  A worker killed at any point, a
 * reload, PostgreSQL out of reach or failing for a passing reason (a
 * deadlock, a shutdown, a full disk): the batch stays in Redis, open, and
 * the next run completes it; applying it again, or the chunks committed
 * before, writes nothing.  Two runs at once (a run that outlived its
 * lock) meet on the point ids and on the dead letters' key: of a row, one
 * writes it, the other waits for that and then writes nothing.
 *
 * A run that fails on a batch for any other reason says so in the error
 * log, with the batch id and the reason, and marks it in Redis; the next
 * run takes every row of it alone.  If that run fails too, the batch is
 * held: moved out of the way in Redis, kept for the operator, and the
 * points pending behind it go on in the same run.  So no batch holds
 * other users' points back for more than one flush interval.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_job.h"
#include "ngx_http_social_flush.h"
#include "ngx_http_social_points.h"
#include "ngx_http_social_keys.h"
#include "ngx_http_social_shm.h"


static void ngx_http_social_flush_run(ngx_http_social_job_t *job);
static void ngx_http_social_flush_cut(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_flush_batch(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_flush_begun(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_flush_claimed(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_flush_counted(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_flush_ended(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_flush_applied(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_flush_acked(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_flush_held(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static ngx_int_t ngx_http_social_flush_id(ngx_http_social_flush_t *f,
    ngx_pool_t *pool, redisReply *id);


static ngx_http_social_job_t  ngx_http_social_flush_job;


static const char  ngx_http_social_sql_flush_claim[] =
    "INSERT INTO error_batches (epoch, seq, applied) "
    "VALUES ($1, $2::bigint, false) "
    "ON CONFLICT DO NOTHING RETURNING seq";

/* the batch's rows in PostgreSQL, whichever runs wrote them */
static const char  ngx_http_social_sql_flush_counts[] =
    "UPDATE error_batches SET errors = (SELECT count(*) "
    "                                     FROM utterance_errors "
    "                                    WHERE batch_epoch = $1 "
    "                                      AND batch_seq = $2::bigint), "
    "       applied = true, applied_at = now() "
    " WHERE epoch = $1 AND seq = $2::bigint";


ngx_int_t
ngx_http_social_flush_init_process(ngx_cycle_t *cycle,
    ngx_http_social_main_conf_t *smcf)
{
    ngx_http_social_job_t  *job;

    if (smcf->pg_conninfo.len == 0) {
        return NGX_OK;
    }

    job = &ngx_http_social_flush_job;

    job->name = "flush";
    job->interval = smcf->flush_interval;
    job->run = ngx_http_social_flush_run;

    return ngx_http_social_job_start(cycle, job);
}


void
ngx_http_social_flush_exit_process(void)
{
    ngx_http_social_job_stop(&ngx_http_social_flush_job);
}


static void
ngx_http_social_flush_run(ngx_http_social_job_t *job)
{
    ngx_pool_cleanup_t       *cln;
    ngx_http_social_flush_t  *f;

    f = ngx_pcalloc(job->ctx->pool, sizeof(ngx_http_social_flush_t));
    if (f == NULL) {
        ngx_http_social_job_done(job);
        return;
    }

    /* a chunk's pool goes with the run, however the run ends */

    cln = ngx_pool_cleanup_add(job->ctx->pool, 0);
    if (cln == NULL) {
        ngx_http_social_job_done(job);
        return;
    }

    cln->handler = ngx_http_social_flush_free_chunk;
    cln->data = f;

    job->data = f;
    f->start = ngx_current_msec;

    ngx_http_social_flush_cut(job->ctx);
}


static void
ngx_http_social_flush_cut(ngx_http_social_ctx_t *ctx)
{
    if (ngx_http_social_point_cut(ctx, ngx_http_social_flush_batch)
        != NGX_OK)
    {
        ngx_http_social_flush_failed(ctx, "redis unavailable");
    }
}


/* {"<epoch>:<seq>", rows, fresh, failed before}, or nil: nothing waits */

static void
ngx_http_social_flush_batch(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    redisReply              **e;
    ngx_http_social_job_t    *job = ctx->data;
    ngx_http_social_flush_t  *f = job->data;

    if (reply == NULL) {
        ngx_http_social_flush_failed(ctx, "redis unavailable");
        return;
    }

    if (reply->type == REDIS_REPLY_NIL) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                       "social flush: nothing waits");
        ngx_http_social_job_done(job);
        return;
    }

    e = reply->element;

    if (reply->type != REDIS_REPLY_ARRAY
        || reply->elements != NGX_HTTP_SOCIAL_POINT_CUT_REPLY
        || e[NGX_HTTP_SOCIAL_POINT_CUT_BATCH]->type != REDIS_REPLY_STRING
        || e[NGX_HTTP_SOCIAL_POINT_CUT_BATCH]->len == 0
        || e[NGX_HTTP_SOCIAL_POINT_CUT_ROWS]->type != REDIS_REPLY_INTEGER
        || e[NGX_HTTP_SOCIAL_POINT_CUT_FRESH]->type != REDIS_REPLY_INTEGER
        || e[NGX_HTTP_SOCIAL_POINT_CUT_FAILED]->type != REDIS_REPLY_INTEGER)
    {
        ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                      "social: error flush: unexpected reply to the cut: "
                      "%*s", reply->type == REDIS_REPLY_ERROR
                             ? reply->len : 0, reply->str);
        ngx_http_social_job_done(job);
        return;
    }

    f->fresh = e[NGX_HTTP_SOCIAL_POINT_CUT_FRESH]->integer ? 1 : 0;
    f->careful = e[NGX_HTTP_SOCIAL_POINT_CUT_FAILED]->integer ? 1 : 0;
    f->nrows = 0;
    f->next = 0;
    f->written = 0;
    f->aside = 0;

    if (ngx_http_social_flush_id(f, ctx->pool,
                                 e[NGX_HTTP_SOCIAL_POINT_CUT_BATCH])
        != NGX_OK)
    {
        if (f->batch.data == NULL) {
            ngx_http_social_job_done(job);
            return;
        }

        ngx_http_social_flush_broken(ctx, "the batch id",
                                     "it is not <epoch>:<seq>");
        return;
    }

    if (e[NGX_HTTP_SOCIAL_POINT_CUT_ROWS]->integer < 0) {
        ngx_http_social_flush_broken(ctx, "reading the rows",
                                     "they are not a Redis list");
        return;
    }

    f->nrows = e[NGX_HTTP_SOCIAL_POINT_CUT_ROWS]->integer;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "social flush: batch %V, %ui rows%s", &f->batch, f->nrows,
                   f->fresh ? "" : ", left by an earlier run");

    if (f->careful) {
        ngx_log_error(NGX_LOG_NOTICE, ctx->log, 0,
                      "social: error batch %V failed in an earlier run, "
                      "its rows go one at a time", &f->batch);
    }

    f->claimed = 0;

    ngx_http_social_flush_read(ctx);
}


/*
 * a transaction for what is read already (a chunk, or the end), the
 * batch id claimed in the first; then "then"
 */

void
ngx_http_social_flush_begin(ngx_http_social_ctx_t *ctx,
    ngx_http_social_step_pt then)
{
    ngx_http_social_job_t    *job = ctx->data;
    ngx_http_social_flush_t  *f = job->data;

    f->then = then;

    if (ngx_http_social_pg_begin(ctx, ngx_http_social_flush_begun)
        != NGX_OK)
    {
        ngx_http_social_flush_failed(ctx, "postgres unavailable");
    }
}


static void
ngx_http_social_flush_begun(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_job_t    *job = ctx->data;
    ngx_http_social_flush_t  *f = job->data;

    if (!ngx_http_social_flush_pg(ctx, res, PGRES_COMMAND_OK, "BEGIN")) {
        return;
    }

    if (f->claimed) {
        f->then(ctx);
        return;
    }

    ngx_http_social_flush_query(ctx, ngx_http_social_sql_flush_claim, 2,
                                ngx_http_social_flush_claimed);
}


/* the batch id is in error_batches (not applied yet), or was before */

static void
ngx_http_social_flush_claimed(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_job_t    *job = ctx->data;
    ngx_http_social_flush_t  *f = job->data;

    if (!ngx_http_social_flush_pg(ctx, res, PGRES_TUPLES_OK,
                                  "the batch id"))
    {
        return;
    }

    if (PQntuples(res) == 0) {
        /*
         * a run cut short after some chunks committed, applied before, or
         * the same id again (a Redis that lost its last second): the
         * point ids keep every point to once either way
         */
        ngx_log_error(NGX_LOG_NOTICE, ctx->log, 0,
                      "social: error batch %V was seen before, its points "
                      "land once", &f->batch);
    }

    f->claimed = 1;

    f->then(ctx);
}


/*
 * 2, the end, in the transaction of the last chunk (or of none): the
 * batch applied, with its count; COMMIT
 */

void
ngx_http_social_flush_finish(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_flush_query(ctx, ngx_http_social_sql_flush_counts, 2,
                                ngx_http_social_flush_counted);
}


static void
ngx_http_social_flush_counted(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    if (!ngx_http_social_flush_pg(ctx, res, PGRES_COMMAND_OK,
                                  "the frequencies"))
    {
        return;
    }

    if (ngx_http_social_pg_end(ctx, 1, ngx_http_social_flush_ended)
        != NGX_OK)
    {
        ngx_http_social_flush_failed(ctx, "postgres unavailable");
    }
}


static void
ngx_http_social_flush_ended(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    if (!ngx_http_social_flush_pg(ctx, res, PGRES_COMMAND_OK, "COMMIT")) {
        return;
    }

    ngx_http_social_flush_applied(ctx);
}


/* every row read, none left for a chunk: the end in a transaction alone */

void
ngx_http_social_flush_count(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_flush_begin(ctx, ngx_http_social_flush_finish);
}


/* 3. committed, every chunk: the batch goes from Redis */

static void
ngx_http_social_flush_applied(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_job_t    *job = ctx->data;
    ngx_http_social_flush_t  *f = job->data;

    ngx_http_social_shm_flushed(f->nrows, ngx_current_msec - f->start);

    if (f->nrows) {
        ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                      "social: error batch %V applied: %ui of %ui error "
                      "points written, %ui set aside", &f->batch, f->written,
                      f->nrows, f->aside);
    }

    if (ngx_http_social_point_ack(ctx, &f->batch,
                                   ngx_http_social_flush_acked)
        != NGX_OK)
    {
        ngx_http_social_flush_failed(ctx, "redis unavailable");
    }
}


static void
ngx_http_social_flush_acked(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    ngx_http_social_job_t    *job = ctx->data;
    ngx_http_social_flush_t  *f = job->data;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_http_social_flush_failed(ctx, "redis unavailable");
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "social flush: batch %V done", &f->batch);

    if (f->fresh) {
        ngx_http_social_job_done(job);
        return;
    }

    /* a batch left by an earlier run is done: now what waits */

    ngx_http_social_flush_cut(ctx);
}


/* a batch that failed twice is out of the way: now what waits */

static void
ngx_http_social_flush_held(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    ngx_http_social_job_t    *job = ctx->data;
    ngx_http_social_flush_t  *f = job->data;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        ngx_http_social_flush_failed(ctx, "redis unavailable");
        return;
    }

    ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                  "social: error batch %V is held in redis as "
                  NGX_HTTP_SOCIAL_KEY_POINT_HELD ":%L:*, for an operator, "
                  "and the points behind it go on", &f->batch,
                  (int64_t) reply->integer);

    ngx_http_social_flush_cut(ctx);
}


/* a statement of the run with epoch, seq and its own values */

void
ngx_http_social_flush_query(ngx_http_social_ctx_t *ctx, const char *sql,
    int nparams, ngx_http_social_pg_handler_pt handler)
{
    ngx_http_social_job_t    *job = ctx->data;
    ngx_http_social_flush_t  *f = job->data;

    if (ngx_http_social_pg_query(ctx, sql, nparams,
                                 nparams ? f->values : NULL, handler)
        != NGX_OK)
    {
        ngx_http_social_flush_failed(ctx, "postgres unavailable");
    }
}


/*
 * did the statement run with this status; if not, the run ends: the
 * batch waits when PostgreSQL is out of reach or failed for a passing
 * reason, else it is broken
 */

ngx_uint_t
ngx_http_social_flush_pg(ngx_http_social_ctx_t *ctx, PGresult *res,
    ExecStatusType status, const char *what)
{
    ngx_http_social_job_t    *job = ctx->data;
    ngx_http_social_flush_t  *f = job->data;

    if (res != NULL && PQresultStatus(res) == status) {
        return 1;
    }

    if (res == NULL) {
        ngx_http_social_flush_failed(ctx, "postgres unavailable");
        return 0;
    }

    if (ngx_http_social_flush_passing(res)) {
        ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                      "social: error flush: %s of batch %V failed, it waits "
                      "in redis: %s", what, &f->batch,
                      ngx_http_social_flush_reason(ctx->pool, res));

        /* an open transaction rolls back when the run's ctx is released */

        ngx_http_social_job_done(job);
        return 0;
    }

    ngx_http_social_flush_broken(ctx, what,
                                 ngx_http_social_flush_reason(ctx->pool, res));

    return 0;
}


/*
 * an error that is not the batch's: the connection (08), a rollback for
 * a deadlock or a serialization failure (40), resources such as a full
 * disk (53), a lock not available (55), an operator's intervention (57),
 * the system (58), a read-only transaction (25006); or none at all (a
 * connection lost, as libpq says it)
 */

ngx_uint_t
ngx_http_social_flush_passing(PGresult *res)
{
    char  *state;

    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

    if (state == NULL || ngx_strlen(state) != 5) {
        return 1;
    }

    if (ngx_strncmp(state, "08", 2) == 0
        || ngx_strncmp(state, "40", 2) == 0
        || ngx_strncmp(state, "53", 2) == 0
        || ngx_strncmp(state, "55", 2) == 0
        || ngx_strncmp(state, "57", 2) == 0
        || ngx_strncmp(state, "58", 2) == 0
        || ngx_strcmp(state, "25006") == 0)
    {
        return 1;
    }

    return 0;
}


/* "23514: new row for relation ... violates check constraint ..." */

const char *
ngx_http_social_flush_reason(ngx_pool_t *pool, PGresult *res)
{
    char    *state, *msg;
    u_char  *p, *reason;
    size_t   len;

    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

    if (state == NULL) {
        state = "-";
    }

    if (msg == NULL) {
        msg = PQresultErrorMessage(res);
    }

    len = ngx_strlen(state) + ngx_strlen(msg) + 3;

    reason = ngx_pnalloc(pool, len);
    if (reason == NULL) {
        return "refused by PostgreSQL";
    }

    p = ngx_snprintf(reason, len - 1, "%s: %s", state, msg);

    /* libpq's own messages end with a new line */

    while (p > reason && (p[-1] == '\n' || p[-1] == ' ')) {
        p--;
    }

    *p = '\0';

    return (char *) reason;
}


/*
 * "<epoch>:<seq>" from the cut, kept, and as the parameters epoch and seq;
 * NGX_DECLINED when it is not as the cut writes it
 * (ngx_http_social_point_batch_check())
 */

static ngx_int_t
ngx_http_social_flush_id(ngx_http_social_flush_t *f, ngx_pool_t *pool,
    redisReply *id)
{
    u_char  *p, *colon, *last;

    p = ngx_pnalloc(pool, 2 * (id->len + 1));
    if (p == NULL) {
        ngx_str_null(&f->batch);
        return NGX_ERROR;
    }

    f->batch.data = p;
    f->batch.len = id->len;
    p = ngx_cpymem(p, id->str, id->len);
    *p++ = '\0';

    /* epoch and seq as parameters */

    ngx_memcpy(p, id->str, id->len);
    last = p + id->len;
    *last = '\0';

    colon = ngx_strlchr(p, last, ':');

    f->values[NGX_HTTP_SOCIAL_FLUSH_EPOCH] = (char *) p;
    f->values[NGX_HTTP_SOCIAL_FLUSH_SEQ] = colon ? (char *) colon + 1 : "";

    if (!ngx_http_social_point_batch_check(p, id->len,
                                           NGX_HTTP_SOCIAL_POINT_BATCH))
    {
        return NGX_DECLINED;
    }

    *colon = '\0';

    return NGX_OK;
}


/* out of reach: the batch waits in Redis, open, for the next run */

void
ngx_http_social_flush_failed(ngx_http_social_ctx_t *ctx, const char *what)
{
    ngx_http_social_job_t    *job = ctx->data;
    ngx_http_social_flush_t  *f = job->data;

    if (f->batch.len) {
        ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                      "social: error flush: %s, batch %V waits in redis",
                      what, &f->batch);

    } else {
        ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                      "social: error flush: %s", what);
    }

    ngx_http_social_job_done(job);
}


/*
 * failed for the batch's own reason: the first time it is marked and
 * the next run takes its rows one at a time; the second time it is held
 */

void
ngx_http_social_flush_broken(ngx_http_social_ctx_t *ctx, const char *what,
    const char *why)
{
    ngx_http_social_job_t    *job = ctx->data;
    ngx_http_social_flush_t  *f = job->data;

    if (!f->careful) {
        ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                      "social: error flush: %s of batch %V failed: %s; the "
                      "next run takes its rows one at a time", what,
                      &f->batch, why);

        ngx_http_social_point_failed(ctx, &f->batch);
        ngx_http_social_job_done(job);
        return;
    }

    ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                  "social: error flush: %s of batch %V failed again: %s; "
                  "the batch goes out of the way", what, &f->batch, why);

    /* the transaction rolls back, the run goes on with what is pending */

    ngx_http_social_pg_release(ctx);
    ngx_http_social_flush_free_chunk(f);

    if (ngx_http_social_point_hold(ctx, &f->batch, why,
                                    ngx_http_social_flush_held)
        != NGX_OK)
    {
        ngx_http_social_flush_failed(ctx, "redis unavailable");
    }
}


void
ngx_http_social_flush_free_chunk(void *data)
{
    ngx_http_social_flush_t  *f = data;

    if (f->pool) {
        ngx_destroy_pool(f->pool);
        f->pool = NULL;
        f->rows = NULL;
        f->nchunk = 0;
    }
}
