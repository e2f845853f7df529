
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
 *   2. PostgreSQL, one transaction: the batch id into error_batches, then
 *      its rows, read from Redis in chunks:
 *      a. each row checked here first (UTF-8 of scalar values, the shape
 *         [user, utterance, "Category", "Subcategory", ms, "point id"],
 *         the types and lengths: ngx_http_social_errors_row_check()); a
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
 *      then the count into error_batches; COMMIT.
 *   3. Redis (one script): the batch is deleted.
 *
 * A set-aside row is logged once, at error level: an operator replays or
 * purges it (README, "Dead letters").  A worker killed at any point, a
 * reload, PostgreSQL out of reach or failing for a passing reason (a
 * deadlock, a shutdown, a full disk): the batch stays in Redis, open, and
 * the next run completes it; applying it again writes nothing.  Two runs
 * at once (a run that outlived its lock) meet on the batch id's key in
 * error_batches, on the point ids and on the dead letters' key: one
 * applies, the other waits for it and then writes nothing.
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
#include "ngx_http_social_pg.h"
#include "ngx_http_social_job.h"


/* the rows of a batch go to PostgreSQL this many at a time */
#define NGX_HTTP_SOCIAL_FLUSH_CHUNK  1000


typedef struct {
    ngx_str_t                       text;       /* as Redis holds it */
    const char                     *why;        /* it fails the checks */
} ngx_http_social_flush_row_t;


typedef struct {
    ngx_str_t                       batch;      /* "<epoch>:<seq>" */
    const char                     *values[4];  /* epoch, seq, then own */
    ngx_uint_t                      nrows;      /* in Redis */
    ngx_uint_t                      next;       /* the next row to read */
    ngx_uint_t                      written;    /* rows inserted */
    ngx_uint_t                      aside;      /* rows set aside */
    ngx_pool_t                     *pool;       /* the chunk's */
    ngx_http_social_flush_row_t    *rows;       /* the chunk */
    ngx_uint_t                      nchunk;
    ngx_uint_t                      row;        /* the row in hand */
    const char                     *why;        /* it goes aside for this */
    unsigned                        fresh:1;
    unsigned                        careful:1;  /* a run failed on it */
    unsigned                        alone:1;    /* the chunk row by row */
    unsigned                        in_row:1;   /* under its savepoint */
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
static void ngx_http_social_flush_checked(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_flush_chunk(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_flush_chunk_saved(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_flush_chunk_inserted(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_flush_chunk_undone(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_flush_chunk_released(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_flush_alone(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_flush_row_saved(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_flush_row_inserted(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_flush_row_undone(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_flush_aside(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_flush_set_aside(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_flush_row_released(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_flush_chunk_done(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_flush_counted(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_flush_ended(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_flush_acked(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_flush_held(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_flush_query(ngx_http_social_ctx_t *ctx,
    const char *sql, int nparams, ngx_http_social_pg_handler_pt handler);
static ngx_uint_t ngx_http_social_flush_pg(ngx_http_social_ctx_t *ctx,
    PGresult *res, ExecStatusType status, const char *what);
static ngx_uint_t ngx_http_social_flush_passing(PGresult *res);
static const char *ngx_http_social_flush_reason(ngx_pool_t *pool,
    PGresult *res);
static ngx_int_t ngx_http_social_flush_id(ngx_http_social_flush_t *f,
    ngx_pool_t *pool, redisReply *id);
static void ngx_http_social_flush_failed(ngx_http_social_ctx_t *ctx,
    const char *what);
static void ngx_http_social_flush_broken(ngx_http_social_ctx_t *ctx,
    const char *what, const char *why);
static void ngx_http_social_flush_free_chunk(void *data);


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

/* a row, hex-encoded, aside with the reason, once (a batch applied again) */
static const char  ngx_http_social_sql_flush_aside[] =
    "INSERT INTO error_dead_letters (batch_epoch, batch_seq, raw, reason) "
    "VALUES ($1, $2::bigint, decode($3, 'hex'), $4) "
    "ON CONFLICT DO NOTHING RETURNING dead_letter_id";

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

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 4
        || e[0]->type != REDIS_REPLY_STRING || e[0]->len == 0
        || e[1]->type != REDIS_REPLY_INTEGER
        || e[2]->type != REDIS_REPLY_INTEGER
        || e[3]->type != REDIS_REPLY_INTEGER)
    {
        ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                      "social: error flush: unexpected reply to the cut: "
                      "%*s", reply->type == REDIS_REPLY_ERROR
                             ? reply->len : 0, reply->str);
        ngx_http_social_job_done(job);
        return;
    }

    f->fresh = e[2]->integer ? 1 : 0;
    f->careful = e[3]->integer ? 1 : 0;
    f->nrows = 0;
    f->next = 0;
    f->written = 0;
    f->aside = 0;

    if (ngx_http_social_flush_id(f, ctx->pool, e[0]) != NGX_OK) {
        if (f->batch.data == NULL) {
            ngx_http_social_job_done(job);
            return;
        }

        ngx_http_social_flush_broken(ctx, "the batch id",
                                     "it is not <epoch>:<seq>");
        return;
    }

    if (e[1]->integer < 0) {
        ngx_http_social_flush_broken(ctx, "reading the rows",
                                     "they are not a Redis list");
        return;
    }

    f->nrows = e[1]->integer;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "social flush: batch %V, %ui rows%s", &f->batch, f->nrows,
                   f->fresh ? "" : ", left by an earlier run");

    if (f->careful) {
        ngx_log_error(NGX_LOG_NOTICE, ctx->log, 0,
                      "social: error batch %V failed in an earlier run, "
                      "its rows go one at a time", &f->batch);
    }

    if (ngx_http_social_pg_begin(ctx, ngx_http_social_flush_begun)
        != NGX_OK)
    {
        ngx_http_social_flush_failed(ctx, "postgres unavailable");
    }
}


static void
ngx_http_social_flush_begun(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    if (!ngx_http_social_flush_pg(ctx, res, PGRES_COMMAND_OK, "BEGIN")) {
        return;
    }

    ngx_http_social_flush_query(ctx, ngx_http_social_sql_flush_claim, 2,
                                ngx_http_social_flush_claimed);
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

        if (f->values[2] == NULL) {
            ngx_http_social_job_done(job);
            return;
        }

        ngx_http_social_flush_query(ctx, ngx_http_social_sql_flush_counts, 3,
                                    ngx_http_social_flush_counted);
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


/* a chunk of rows: copied (the reply goes), each checked */

static void
ngx_http_social_flush_rows(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    size_t                        i;
    redisReply                   *r;
    ngx_http_social_job_t        *job = ctx->data;
    ngx_http_social_flush_t      *f = job->data;
    ngx_http_social_flush_row_t  *row;

    if (reply == NULL) {
        ngx_http_social_flush_failed(ctx, "redis unavailable");
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY) {
        ngx_http_social_flush_broken(ctx, "reading the rows",
                                     "unexpected reply to LRANGE");
        return;
    }

    if (reply->elements == 0) {
        /* fewer rows than counted: Redis lost some, what is there lands */
        f->nrows = f->next;
        ngx_http_social_flush_read(ctx);
        return;
    }

    f->pool = ngx_create_pool(16384, ctx->log);
    if (f->pool == NULL) {
        ngx_http_social_job_done(job);
        return;
    }

    f->rows = ngx_palloc(f->pool,
                         reply->elements * sizeof(ngx_http_social_flush_row_t));
    if (f->rows == NULL) {
        ngx_http_social_job_done(job);
        return;
    }

    for (i = 0; i < reply->elements; i++) {
        r = reply->element[i];
        row = &f->rows[i];

        if (r->type != REDIS_REPLY_STRING) {
            ngx_str_null(&row->text);
            row->why = "not a string";
            continue;
        }

        row->text.len = r->len;
        row->text.data = ngx_pnalloc(f->pool, r->len);
        if (row->text.data == NULL) {
            ngx_http_social_job_done(job);
            return;
        }

        ngx_memcpy(row->text.data, r->str, r->len);

        row->why = ngx_http_social_errors_row_check(row->text.data,
                                                    row->text.len);
    }

    f->nchunk = reply->elements;
    f->next += reply->elements;
    f->row = 0;
    f->alone = f->careful;

    ngx_http_social_flush_checked(ctx);
}


/* the rows that failed the checks go aside first, one by one */

static void
ngx_http_social_flush_checked(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_job_t    *job = ctx->data;
    ngx_http_social_flush_t  *f = job->data;

    for ( /* void */ ; f->row < f->nchunk; f->row++) {
        if (f->rows[f->row].why) {
            f->why = f->rows[f->row].why;
            f->in_row = 0;
            ngx_http_social_flush_aside(ctx);
            return;
        }
    }

    f->row = 0;

    ngx_http_social_flush_chunk(ctx);
}


/* the others as one JSON array, under a savepoint */

static void
ngx_http_social_flush_chunk(ngx_http_social_ctx_t *ctx)
{
    u_char                   *p;
    size_t                    len;
    ngx_uint_t                i, n;
    ngx_http_social_job_t    *job = ctx->data;
    ngx_http_social_flush_t  *f = job->data;

    if (f->alone) {
        ngx_http_social_flush_alone(ctx);
        return;
    }

    len = 2;
    n = 0;

    for (i = 0; i < f->nchunk; i++) {
        if (f->rows[i].why == NULL) {
            len += f->rows[i].text.len + 1;
            n++;
        }
    }

    if (n == 0) {
        ngx_http_social_flush_chunk_done(ctx);
        return;
    }

    p = ngx_pnalloc(f->pool, len + 1);
    if (p == NULL) {
        ngx_http_social_job_done(job);
        return;
    }

    f->values[2] = (char *) p;
    *p++ = '[';

    for (i = 0; i < f->nchunk; i++) {
        if (f->rows[i].why) {
            continue;
        }

        if (p != (u_char *) f->values[2] + 1) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, f->rows[i].text.data, f->rows[i].text.len);
    }

    *p++ = ']';
    *p = '\0';

    ngx_http_social_flush_query(ctx, "SAVEPOINT social_chunk", 0,
                                ngx_http_social_flush_chunk_saved);
}


static void
ngx_http_social_flush_chunk_saved(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    if (!ngx_http_social_flush_pg(ctx, res, PGRES_COMMAND_OK, "SAVEPOINT")) {
        return;
    }

    ngx_http_social_flush_query(ctx, ngx_http_social_sql_flush_rows, 3,
                                ngx_http_social_flush_chunk_inserted);
}


static void
ngx_http_social_flush_chunk_inserted(ngx_http_social_ctx_t *ctx,
    PGresult *res)
{
    ngx_http_social_job_t    *job = ctx->data;
    ngx_http_social_flush_t  *f = job->data;

    if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK) {
        f->written += ngx_atoi((u_char *) PQgetvalue(res, 0, 0),
                               PQgetlength(res, 0, 0));

        ngx_http_social_flush_query(ctx, "RELEASE SAVEPOINT social_chunk", 0,
                                    ngx_http_social_flush_chunk_released);
        return;
    }

    if (res == NULL || ngx_http_social_flush_passing(res)) {
        (void) ngx_http_social_flush_pg(ctx, res, PGRES_TUPLES_OK,
                                        "the rows");
        return;
    }

    /* a row of it is refused: which one, the rows alone will tell */

    ngx_log_error(NGX_LOG_NOTICE, ctx->log, 0,
                  "social: error batch %V: a chunk of rows was refused "
                  "(%s), its rows go one at a time", &f->batch,
                  ngx_http_social_flush_reason(f->pool, res));

    f->alone = 1;

    ngx_http_social_flush_query(ctx, "ROLLBACK TO SAVEPOINT social_chunk", 0,
                                ngx_http_social_flush_chunk_undone);
}


static void
ngx_http_social_flush_chunk_undone(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    if (!ngx_http_social_flush_pg(ctx, res, PGRES_COMMAND_OK,
                                  "ROLLBACK TO SAVEPOINT"))
    {
        return;
    }

    ngx_http_social_flush_query(ctx, "RELEASE SAVEPOINT social_chunk", 0,
                                ngx_http_social_flush_chunk_released);
}


static void
ngx_http_social_flush_chunk_released(ngx_http_social_ctx_t *ctx,
    PGresult *res)
{
    ngx_http_social_job_t    *job = ctx->data;
    ngx_http_social_flush_t  *f = job->data;

    if (!ngx_http_social_flush_pg(ctx, res, PGRES_COMMAND_OK,
                                  "RELEASE SAVEPOINT"))
    {
        return;
    }

    if (f->alone) {
        f->row = 0;
        ngx_http_social_flush_alone(ctx);
        return;
    }

    ngx_http_social_flush_chunk_done(ctx);
}


/* the next good row of the chunk, alone, as [row], under a savepoint */

static void
ngx_http_social_flush_alone(ngx_http_social_ctx_t *ctx)
{
    u_char                       *p;
    ngx_http_social_job_t        *job = ctx->data;
    ngx_http_social_flush_t      *f = job->data;
    ngx_http_social_flush_row_t  *row;

    while (f->row < f->nchunk && f->rows[f->row].why) {
        f->row++;
    }

    if (f->row == f->nchunk) {
        ngx_http_social_flush_chunk_done(ctx);
        return;
    }

    row = &f->rows[f->row];

    p = ngx_pnalloc(f->pool, row->text.len + 3);
    if (p == NULL) {
        ngx_http_social_job_done(job);
        return;
    }

    f->values[2] = (char *) p;
    *p++ = '[';
    p = ngx_cpymem(p, row->text.data, row->text.len);
    *p++ = ']';
    *p = '\0';

    ngx_http_social_flush_query(ctx, "SAVEPOINT social_row", 0,
                                ngx_http_social_flush_row_saved);
}


static void
ngx_http_social_flush_row_saved(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    if (!ngx_http_social_flush_pg(ctx, res, PGRES_COMMAND_OK, "SAVEPOINT")) {
        return;
    }

    ngx_http_social_flush_query(ctx, ngx_http_social_sql_flush_rows, 3,
                                ngx_http_social_flush_row_inserted);
}


static void
ngx_http_social_flush_row_inserted(ngx_http_social_ctx_t *ctx,
    PGresult *res)
{
    ngx_http_social_job_t    *job = ctx->data;
    ngx_http_social_flush_t  *f = job->data;

    if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK) {
        f->written += ngx_atoi((u_char *) PQgetvalue(res, 0, 0),
                               PQgetlength(res, 0, 0));

        ngx_http_social_flush_query(ctx, "RELEASE SAVEPOINT social_row", 0,
                                    ngx_http_social_flush_row_released);
        return;
    }

    if (res == NULL || ngx_http_social_flush_passing(res)) {
        (void) ngx_http_social_flush_pg(ctx, res, PGRES_TUPLES_OK, "a row");
        return;
    }

    /* refused alone: it goes aside with PostgreSQL's message */

    f->why = ngx_http_social_flush_reason(f->pool, res);

    ngx_http_social_flush_query(ctx, "ROLLBACK TO SAVEPOINT social_row", 0,
                                ngx_http_social_flush_row_undone);
}


static void
ngx_http_social_flush_row_undone(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_job_t    *job = ctx->data;
    ngx_http_social_flush_t  *f = job->data;

    if (!ngx_http_social_flush_pg(ctx, res, PGRES_COMMAND_OK,
                                  "ROLLBACK TO SAVEPOINT"))
    {
        return;
    }

    f->in_row = 1;

    ngx_http_social_flush_aside(ctx);
}


/* the row in hand into error_dead_letters, byte for byte, with f->why */

static void
ngx_http_social_flush_aside(ngx_http_social_ctx_t *ctx)
{
    u_char                       *p;
    ngx_http_social_job_t        *job = ctx->data;
    ngx_http_social_flush_t      *f = job->data;
    ngx_http_social_flush_row_t  *row;

    row = &f->rows[f->row];

    /* parameters go as text: the bytes as hex, whatever they are */

    p = ngx_pnalloc(f->pool, 2 * row->text.len + 1);
    if (p == NULL) {
        ngx_http_social_job_done(job);
        return;
    }

    f->values[2] = (char *) p;
    p = ngx_hex_dump(p, row->text.data, row->text.len);
    *p = '\0';

    f->values[3] = f->why;

    ngx_http_social_flush_query(ctx, ngx_http_social_sql_flush_aside, 4,
                                ngx_http_social_flush_set_aside);
}


static void
ngx_http_social_flush_set_aside(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_job_t    *job = ctx->data;
    ngx_http_social_flush_t  *f = job->data;

    if (!ngx_http_social_flush_pg(ctx, res, PGRES_TUPLES_OK,
                                  "setting a row aside"))
    {
        return;
    }

    /* none returned: set aside by an earlier run of this batch */

    if (PQntuples(res) == 1) {
        f->aside++;

        ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                      "social: error batch %V: a row set aside as dead "
                      "letter %s: %s", &f->batch, PQgetvalue(res, 0, 0),
                      f->why);
    }

    if (f->in_row) {
        f->in_row = 0;
        ngx_http_social_flush_query(ctx, "RELEASE SAVEPOINT social_row", 0,
                                    ngx_http_social_flush_row_released);
        return;
    }

    f->row++;

    ngx_http_social_flush_checked(ctx);
}


static void
ngx_http_social_flush_row_released(ngx_http_social_ctx_t *ctx,
    PGresult *res)
{
    ngx_http_social_job_t    *job = ctx->data;
    ngx_http_social_flush_t  *f = job->data;

    if (!ngx_http_social_flush_pg(ctx, res, PGRES_COMMAND_OK,
                                  "RELEASE SAVEPOINT"))
    {
        return;
    }

    f->row++;

    ngx_http_social_flush_alone(ctx);
}


static void
ngx_http_social_flush_chunk_done(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_job_t    *job = ctx->data;
    ngx_http_social_flush_t  *f = job->data;

    ngx_http_social_flush_free_chunk(f);

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
                      "points written, %ui set aside", &f->batch, f->written,
                      f->nrows, f->aside);
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
                  "social:err:held:%L:*, for an operator, and the points "
                  "behind it go on", &f->batch, (int64_t) reply->integer);

    ngx_http_social_flush_cut(ctx);
}


/* a statement of the run with epoch, seq and its own values */

static void
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

static ngx_uint_t
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

static const char *
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


/* "<epoch>:<seq>" from the cut: 1 to 32 hex digits, 1 to 18 digits */

static ngx_int_t
ngx_http_social_flush_id(ngx_http_social_flush_t *f, ngx_pool_t *pool,
    redisReply *id)
{
    u_char      *p, *colon, *last;
    ngx_uint_t   bad;

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
    bad = (colon == NULL || colon == p || colon - p > 32
           || last - colon < 2 || last - colon > 19);

    f->values[0] = (char *) p;
    f->values[1] = colon ? (char *) colon + 1 : "";

    for ( /* void */ ; !bad && p < last; p++) {
        if (p < colon) {
            bad = !((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'));

        } else if (p > colon) {
            bad = (*p < '0' || *p > '9');
        }
    }

    if (bad) {
        return NGX_DECLINED;
    }

    *colon = '\0';

    return NGX_OK;
}


/* out of reach: the batch waits in Redis, open, for the next run */

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


/*
 * failed for the batch's own reason: the first time it is marked and
 * the next run takes its rows one at a time; the second time it is held
 */

static void
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

        ngx_http_social_errors_failed(ctx, &f->batch);
        ngx_http_social_job_done(job);
        return;
    }

    ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                  "social: error flush: %s of batch %V failed again: %s; "
                  "the batch goes out of the way", what, &f->batch, why);

    /* the transaction rolls back, the run goes on with what is pending */

    ngx_http_social_pg_release(ctx);
    ngx_http_social_flush_free_chunk(f);

    if (ngx_http_social_errors_hold(ctx, &f->batch, why,
                                    ngx_http_social_flush_held)
        != NGX_OK)
    {
        ngx_http_social_flush_failed(ctx, "redis unavailable");
    }
}


static void
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
