
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The flush: every social_flush_interval, in one worker across all nodes
 * (a job, ngx_http_social_job.c), the error points waiting in Redis move
 * to PostgreSQL.
 *
 *   1. Redis (one script): the open batch, left by a run that was cut
 *      short, or else a new one, everything pending moved aside by renames
 *      under a new id "<epoch>:<seq>".
 *   2. PostgreSQL, one transaction: the batch id into error_batches, its
 *      rows into utterance_errors, read from Redis in chunks, each row
 *      once (its random point id is unique: a batch applied before, or
 *      the same batch id again after Redis lost its last second, writes
 *      nothing twice; rows whose utterance is gone, a deleted user's, are
 *      skipped), and the counts of the rows inserted by each chunk added
 *      to error_frequencies; COMMIT.
 *   3. Redis (one script): the batch is deleted.
 *
 * A worker killed at any point, a reload, PostgreSQL down: the batch stays
 * in Redis, open, and the next run completes it; applying it again writes
 * nothing.  Two runs at once (a run that outlived its lock) meet on the
 * batch id's key in error_batches and on the point ids: one applies, the
 * other waits for it and then inserts nothing.
 */


#include "ngx_http_social_module.h"


/* the rows of a batch go to PostgreSQL this many at a time */
#define NGX_HTTP_SOCIAL_FLUSH_CHUNK  1000


typedef struct {
    ngx_str_t                       batch;      /* "<epoch>:<seq>" */
    const char                     *values[3];  /* epoch, seq, rows/count */
    ngx_uint_t                      nrows;      /* in Redis */
    ngx_uint_t                      next;       /* the next row to read */
    ngx_uint_t                      written;    /* rows inserted */
    u_char                         *chunk;      /* the JSON of a chunk */
    unsigned                        fresh:1;
} ngx_http_social_flush_t;


static void ngx_http_social_flush_run(ngx_http_social_job_t *job);
static void ngx_http_social_flush_cut(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_flush_batch(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_flush_begun(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_flush_claimed(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_flush_read(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_flush_rows(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_flush_inserted(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_flush_counted(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_flush_ended(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_flush_acked(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static ngx_uint_t ngx_http_social_flush_pg(ngx_http_social_ctx_t *ctx,
    PGresult *res, ExecStatusType status, const char *what);
static void ngx_http_social_flush_failed(ngx_http_social_ctx_t *ctx,
    const char *what);


static ngx_http_social_job_t  ngx_http_social_flush_job;


static const char  ngx_http_social_sql_flush_claim[] =
    "INSERT INTO error_batches (epoch, seq) VALUES ($1, $2::bigint) "
    "ON CONFLICT DO NOTHING RETURNING seq";

/*
 * the rows [user, utterance, "Category", "Subcategory", ms, "point id"],
 * in order, each once (its point id), and the counts of those inserted
 * added to the frequencies, the first spelling kept
 */
static const char  ngx_http_social_sql_flush_rows[] =
    "WITH i AS (INSERT INTO utterance_errors (utterance_id, user_id, "
    "                  category, subcategory, recorded_at, point_id, "
    "                  batch_epoch, batch_seq) "
    "           SELECT u.utterance_id, u.user_id, r.e->>2, r.e->>3, "
    "                  to_timestamp((r.e->>4)::numeric / 1000), r.e->>5, "
    "                  $1, $2::bigint "
    "             FROM json_array_elements($3::json) WITH ORDINALITY "
    "                  r(e, i) "
    "             JOIN utterances u "
    "               ON u.utterance_id = (r.e->>1)::bigint "
    "              AND u.user_id = (r.e->>0)::bigint "
    "            ORDER BY r.i "
    "           ON CONFLICT (point_id) DO NOTHING "
    "           RETURNING error_id, user_id, category_key, "
    "                     subcategory_key, category, subcategory), "
    "     f AS (INSERT INTO error_frequencies AS f "
    "                  (user_id, category_key, subcategory_key, category, "
    "                   subcategory, frequency) "
    "           SELECT user_id, category_key, subcategory_key, "
    "                  (array_agg(category ORDER BY error_id))[1], "
    "                  (array_agg(subcategory ORDER BY error_id))[1], "
    "                  count(*) "
    "             FROM i "
    "            GROUP BY user_id, category_key, subcategory_key "
    "           ON CONFLICT (user_id, category_key, subcategory_key) "
    "           DO UPDATE SET frequency = f.frequency + excluded.frequency, "
    "                         updated_at = now()) "
    "SELECT count(*) FROM i";

static const char  ngx_http_social_sql_flush_counts[] =
    "UPDATE error_batches SET errors = errors + $3::int "
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
    ngx_http_social_flush_t  *f;

    f = ngx_pcalloc(job->ctx->pool, sizeof(ngx_http_social_flush_t));
    if (f == NULL) {
        ngx_http_social_job_done(job);
        return;
    }

    job->data = f;

    ngx_http_social_flush_cut(job->ctx);
}


static void
ngx_http_social_flush_cut(ngx_http_social_ctx_t *ctx)
{
    if (ngx_http_social_errors_cut(ctx, ngx_http_social_flush_batch)
        != NGX_OK)
    {
        ngx_http_social_flush_failed(ctx, "redis unavailable");
    }
}


/* {epoch, seq, rows, fresh}, or nil when nothing waits */

static void
ngx_http_social_flush_batch(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    u_char                   *p;
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

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 4
        || e[0]->type != REDIS_REPLY_STRING
        || e[1]->type != REDIS_REPLY_STRING
        || e[2]->type != REDIS_REPLY_INTEGER
        || e[3]->type != REDIS_REPLY_INTEGER
        || e[0]->len == 0 || e[0]->len > 16 || e[1]->len == 0
        || e[1]->len > 19 || e[2]->integer < 0)
    {
        ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                      "social: error flush: unexpected reply to the cut: "
                      "%*s", reply->type == REDIS_REPLY_ERROR
                             ? reply->len : 0, reply->str);
        ngx_http_social_job_done(job);
        return;
    }

    /* epoch and seq as parameters, and "<epoch>:<seq>" */

    p = ngx_pnalloc(ctx->pool, 2 * (e[0]->len + e[1]->len + 2));
    if (p == NULL) {
        ngx_http_social_job_done(job);
        return;
    }

    f->values[0] = (char *) p;
    p = ngx_cpymem(p, e[0]->str, e[0]->len);
    *p++ = '\0';

    f->values[1] = (char *) p;
    p = ngx_cpymem(p, e[1]->str, e[1]->len);
    *p++ = '\0';

    f->batch.data = p;
    p = ngx_sprintf(p, "%s:%s", f->values[0], f->values[1]);
    f->batch.len = p - f->batch.data;
    *p = '\0';

    f->nrows = e[2]->integer;
    f->fresh = e[3]->integer;
    f->next = 0;
    f->written = 0;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "social flush: batch %V, %ui rows%s", &f->batch, f->nrows,
                   f->fresh ? "" : ", left by an earlier run");

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

    if (ngx_http_social_pg_query(ctx, ngx_http_social_sql_flush_claim, 2,
                                 f->values, ngx_http_social_flush_claimed)
        != NGX_OK)
    {
        ngx_http_social_flush_failed(ctx, "postgres unavailable");
    }
}


/* the batch id is ours (until COMMIT), or the batch was applied */

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
         * applied before (a run cut short after COMMIT), or the same id
         * again (a Redis that lost its last second): the point ids keep
         * every point to once either way
         */
        ngx_log_error(NGX_LOG_NOTICE, ctx->log, 0,
                      "social: error batch %V was seen before, its points "
                      "land once", &f->batch);
    }

    ngx_http_social_flush_read(ctx);
}


static void
ngx_http_social_flush_read(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_job_t    *job = ctx->data;
    ngx_http_social_flush_t  *f = job->data;

    if (f->next >= f->nrows) {
        f->values[2] = ngx_http_social_int64(ctx, f->written);

        if (f->values[2] == NULL
            || ngx_http_social_pg_query(ctx, ngx_http_social_sql_flush_counts,
                                        3, f->values,
                                        ngx_http_social_flush_counted)
               != NGX_OK)
        {
            ngx_http_social_flush_failed(ctx, "postgres unavailable");
        }

        return;
    }

    if (ngx_http_social_errors_rows(ctx, &f->batch, f->next,
                                    f->next + NGX_HTTP_SOCIAL_FLUSH_CHUNK - 1,
                                    ngx_http_social_flush_rows)
        != NGX_OK)
    {
        ngx_http_social_flush_failed(ctx, "redis unavailable");
    }
}


/* a chunk of rows, as one JSON array, into PostgreSQL */

static void
ngx_http_social_flush_rows(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    u_char                   *p;
    size_t                    i, len;
    ngx_http_social_job_t    *job = ctx->data;
    ngx_http_social_flush_t  *f = job->data;

    if (reply == NULL) {
        ngx_http_social_flush_failed(ctx, "redis unavailable");
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY) {
        ngx_http_social_flush_failed(ctx, "unexpected reply to LRANGE");
        return;
    }

    if (reply->elements == 0) {
        /* fewer rows than counted: Redis lost some, what is there lands */
        f->nrows = f->next;
        ngx_http_social_flush_read(ctx);
        return;
    }

    len = 2;

    for (i = 0; i < reply->elements; i++) {
        if (reply->element[i]->type != REDIS_REPLY_STRING) {
            ngx_http_social_flush_failed(ctx, "a row is not a string");
            return;
        }

        len += reply->element[i]->len + 1;
    }

    /* large: ngx_pfree() gives it back once the rows are in */

    p = ngx_palloc(ctx->pool, len + 1);
    if (p == NULL) {
        ngx_http_social_job_done(job);
        return;
    }

    f->chunk = p;
    *p++ = '[';

    for (i = 0; i < reply->elements; i++) {
        if (i) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, reply->element[i]->str, reply->element[i]->len);
    }

    *p++ = ']';
    *p = '\0';

    f->values[2] = (char *) f->chunk;
    f->next += reply->elements;

    if (ngx_http_social_pg_query(ctx, ngx_http_social_sql_flush_rows, 3,
                                 f->values, ngx_http_social_flush_inserted)
        != NGX_OK)
    {
        ngx_http_social_flush_failed(ctx, "postgres unavailable");
    }
}


static void
ngx_http_social_flush_inserted(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_job_t    *job = ctx->data;
    ngx_http_social_flush_t  *f = job->data;

    if (f->chunk) {
        ngx_pfree(ctx->pool, f->chunk);
        f->chunk = NULL;
    }

    if (!ngx_http_social_flush_pg(ctx, res, PGRES_TUPLES_OK, "the rows")) {
        return;
    }

    f->written += ngx_atoi((u_char *) PQgetvalue(res, 0, 0),
                           PQgetlength(res, 0, 0));

    ngx_http_social_flush_read(ctx);
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


/* committed (or rolled back, the batch being applied already): it goes */

static void
ngx_http_social_flush_ended(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_job_t    *job = ctx->data;
    ngx_http_social_flush_t  *f = job->data;

    if (!ngx_http_social_flush_pg(ctx, res, PGRES_COMMAND_OK, "COMMIT")) {
        return;
    }

    if (f->nrows) {
        ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                      "social: error batch %V applied: %ui of %ui error "
                      "points written", &f->batch, f->written, f->nrows);
    }

    if (ngx_http_social_errors_ack(ctx, &f->batch,
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


/* did the statement run with this status; if not, the run ends */

static ngx_uint_t
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

    ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                  "social: error flush: %s of batch %V failed, it waits in "
                  "redis: %s", what, &f->batch, PQresultErrorMessage(res));

    /* an open transaction rolls back when the run's ctx is released */

    ngx_http_social_job_done(job);

    return 0;
}


static void
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
