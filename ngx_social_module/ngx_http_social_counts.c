
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The compaction of the users' counts: every social_counts_interval, in
 * one worker across all nodes (a job, ngx_http_social_job.c), the deltas
 * that the writes of posts and follows appended to user_count_deltas move
 * into user_counts, so that GET /user sums few of them
 * (sql/011_user_counts.sql, DESIGN.md "Counts without counting").
 *
 *   1. PostgreSQL, one statement in a transaction of its own:
 *      social_compact_user_counts() takes up to
 *      NGX_HTTP_SOCIAL_COUNTS_BATCH deltas that no other run holds, and
 *      adds them to their users' totals (a deleted user's are dropped).
 *   2. When it took that many (a backlog: the delete of a user with many
 *      follows, runs missed while Redis was away), 1 again, at most
 *      NGX_HTTP_SOCIAL_COUNTS_ROUNDS times a run; the next run goes on.
 *
 * Two runs at once (a run that outlives its lock, another node) take other
 * rows.  A statement that fails leaves its rows to the next run, and holds
 * nothing: it was its own transaction.  Without Redis (no lock to take)
 * every worker runs the job.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_util.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_job.h"
#include "ngx_http_social_counts.h"


/* deltas taken by one statement, and statements in one run, at most */
#define NGX_HTTP_SOCIAL_COUNTS_BATCH   10000
#define NGX_HTTP_SOCIAL_COUNTS_ROUNDS  10


typedef struct {
    ngx_uint_t                      rounds;
    const char                     *values[1];
} ngx_http_social_counts_run_t;


static void ngx_http_social_counts_run(ngx_http_social_job_t *job);
static void ngx_http_social_counts_compact(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_counts_compacted(ngx_http_social_ctx_t *ctx,
    PGresult *res);


static ngx_http_social_job_t  ngx_http_social_counts_job;


/* how many deltas it took out */
static const char  ngx_http_social_sql_counts_compact[] =
    "SELECT social_compact_user_counts($1::int)";


ngx_int_t
ngx_http_social_counts_init_process(ngx_cycle_t *cycle,
    ngx_http_social_main_conf_t *smcf)
{
    ngx_http_social_job_t  *job;

    if (smcf->pg_conninfo.len == 0 || smcf->counts_interval == 0) {
        return NGX_OK;
    }

    job = &ngx_http_social_counts_job;

    job->name = "user_counts";
    job->interval = smcf->counts_interval;
    job->run = ngx_http_social_counts_run;
    job->every_worker = (smcf->redis_addr.len == 0);

    return ngx_http_social_job_start(cycle, job);
}


void
ngx_http_social_counts_exit_process(void)
{
    ngx_http_social_job_stop(&ngx_http_social_counts_job);
}


static void
ngx_http_social_counts_run(ngx_http_social_job_t *job)
{
    ngx_http_social_ctx_t         *ctx;
    ngx_http_social_counts_run_t  *run;

    ctx = job->ctx;

    run = ngx_pcalloc(ctx->pool, sizeof(ngx_http_social_counts_run_t));
    if (run == NULL) {
        ngx_http_social_job_done(job);
        return;
    }

    job->data = run;

    run->values[0] = ngx_http_social_int64(ctx, NGX_HTTP_SOCIAL_COUNTS_BATCH);
    if (run->values[0] == NULL) {
        ngx_http_social_job_done(job);
        return;
    }

    ngx_http_social_counts_compact(ctx);
}


/* 1. up to a batch of deltas into the totals */

static void
ngx_http_social_counts_compact(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_job_t         *job = ctx->data;
    ngx_http_social_counts_run_t  *run = job->data;

    if (ngx_http_social_pg_query(ctx, ngx_http_social_sql_counts_compact, 1,
                                 run->values,
                                 ngx_http_social_counts_compacted)
        != NGX_OK)
    {
        ngx_http_social_job_done(job);
    }
}


static void
ngx_http_social_counts_compacted(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_job_t         *job = ctx->data;
    ngx_http_social_counts_run_t  *run = job->data;

    ngx_int_t  n;

    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK
        || PQntuples(res) != 1)
    {
        if (res && PQresultStatus(res) != PGRES_TUPLES_OK) {
            ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                          "social: user counts compaction failed: %s",
                          PQresultErrorMessage(res));
        }

        ngx_http_social_job_done(job);
        return;
    }

    n = ngx_atoi((u_char *) PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0));

    if (n > 0) {
        ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                      "social: user counts: %i deltas compacted", n);

    } else {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                       "social: user counts: no delta to compact");
    }

    /* 2. a backlog: again, a few times a run */

    if (n == NGX_HTTP_SOCIAL_COUNTS_BATCH
        && ++run->rounds < NGX_HTTP_SOCIAL_COUNTS_ROUNDS
        && !ngx_http_social_exiting())
    {
        ngx_http_social_counts_compact(ctx);
        return;
    }

    ngx_http_social_job_done(job);
}
