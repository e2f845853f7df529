
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The flush, step 2 (ngx_http_social_flush.c lists them all): the rows of
 * the batch, read from Redis a chunk at a time, each chunk then in a
 * transaction of its own.
 *
 *   a. each row of the chunk checked first
 *      (ngx_http_social_point_row_check()); a row that fails goes aside,
 *      whole, into error_dead_letters;
 *   b. the other rows in one statement under a SAVEPOINT: into
 *      utterance_errors, each row once, and their counts added to
 *      error_frequencies;
 *   c. if PostgreSQL refuses the chunk: back to the savepoint, and its rows
 *      one at a time, each under a savepoint of its own; a row refused alone
 *      goes aside with PostgreSQL's message.
 *
 * Then COMMIT and the next chunk; the last chunk's transaction ends with
 * ngx_http_social_flush_finish(), and when no chunk is left to read,
 * ngx_http_social_flush_count().
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_job.h"
#include "ngx_http_social_flush.h"
#include "ngx_http_social_points.h"


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
static void ngx_http_social_flush_chunk_committed(ngx_http_social_ctx_t *ctx,
    PGresult *res);


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


/* 2. the next chunk of rows from Redis, or, all read, the count */

void
ngx_http_social_flush_read(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_job_t    *job = ctx->data;
    ngx_http_social_flush_t  *f = job->data;

    if (f->next >= f->nrows) {
        ngx_http_social_flush_count(ctx);
        return;
    }

    if (ngx_http_social_point_rows(ctx, &f->batch, f->next,
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

        row->why = ngx_http_social_point_row_check(row->text.data,
                                                    row->text.len);
    }

    f->nchunk = reply->elements;
    f->next += reply->elements;
    f->row = 0;
    f->alone = f->careful;

    ngx_http_social_flush_begin(ctx, ngx_http_social_flush_checked);
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

    f->values[NGX_HTTP_SOCIAL_FLUSH_VALUE] = (char *) p;
    *p++ = '[';

    for (i = 0; i < f->nchunk; i++) {
        if (f->rows[i].why) {
            continue;
        }

        if (p != (u_char *) f->values[NGX_HTTP_SOCIAL_FLUSH_VALUE] + 1) {
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

    f->values[NGX_HTTP_SOCIAL_FLUSH_VALUE] = (char *) p;
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

    f->values[NGX_HTTP_SOCIAL_FLUSH_VALUE] = (char *) p;
    p = ngx_hex_dump(p, row->text.data, row->text.len);
    *p = '\0';

    f->values[NGX_HTTP_SOCIAL_FLUSH_REASON] = f->why;

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

    if (f->next >= f->nrows) {
        /* the last chunk: the batch is applied whole in its transaction */
        ngx_http_social_flush_finish(ctx);
        return;
    }

    if (ngx_http_social_pg_end(ctx, 1, ngx_http_social_flush_chunk_committed)
        != NGX_OK)
    {
        ngx_http_social_flush_failed(ctx, "postgres unavailable");
    }
}


static void
ngx_http_social_flush_chunk_committed(ngx_http_social_ctx_t *ctx,
    PGresult *res)
{
    if (!ngx_http_social_flush_pg(ctx, res, PGRES_COMMAND_OK, "COMMIT")) {
        return;
    }

    ngx_http_social_flush_read(ctx);
}
