
/*
 * Copyright (C) ngx_social developers
 */


/*
 * Periodic jobs (trimming the recent events, flushing the error counts):
 * every worker arms a timer for each job, and on each tick tries to take
 * the job's Redis lock, "SET social:lock:<name> <token> NX PX <interval>".
 * The worker that takes it runs the job; the others skip this round.  The
 * lock is not released when the run ends but expires with the interval,
 * so the job runs about once an interval across all workers of all nodes.
 * A run that outlives its lock may meet another one: jobs are written so
 * that two runs at once do no harm.
 *
 * A job may also be kicked: it runs at once in this worker, without the
 * lock; kicks during a run make one more run, a few milliseconds after it,
 * so that a stream of kicks costs at most a run every few milliseconds.
 *
 * A job of every worker (job->every_worker) takes no lock and needs no
 * Redis: each worker runs it each interval, the first time as soon as it
 * is started (the revocation log's poll, which must go on when Redis is
 * down).
 *
 * A run has a ctx of its own, without a request: its pool lives as long as
 * the run, and its backend operations are detached when the run ends.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_util.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_job.h"


/* the least time between two runs of a kicked job, msec */
#define NGX_HTTP_SOCIAL_JOB_KICK_DELAY  5


static void ngx_http_social_job_tick(ngx_event_t *ev);
static void ngx_http_social_job_locked(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_job_arm(ngx_http_social_job_t *job);
static ngx_http_social_ctx_t *ngx_http_social_job_ctx(
    ngx_http_social_job_t *job);


static ngx_uint_t  ngx_http_social_job_runs;


ngx_int_t
ngx_http_social_job_start(ngx_cycle_t *cycle, ngx_http_social_job_t *job)
{
    job->timer.handler = ngx_http_social_job_tick;
    job->timer.data = job;
    job->timer.log = cycle->log;
    job->timer.cancelable = 1;

    job->smcf = ngx_http_cycle_get_module_main_conf(cycle,
                                                    ngx_http_social_module);

    if (job->smcf == NULL
        || (job->smcf->redis_addr.len == 0 && !job->every_worker))
    {
        job->smcf = NULL;
        return NGX_OK;
    }

    if (job->every_worker) {
        /* the first run once the worker's event loop turns */
        ngx_add_timer(&job->timer, 1);
        return NGX_OK;
    }

    ngx_http_social_job_arm(job);

    return NGX_OK;
}


static void
ngx_http_social_job_arm(ngx_http_social_job_t *job)
{
    if (job->interval == 0 || ngx_http_social_exiting()) {
        return;
    }

    ngx_add_timer(&job->timer, job->interval);
}


static void
ngx_http_social_job_tick(ngx_event_t *ev)
{
    ngx_http_social_job_t  *job = ev->data;

    size_t                  lens[6];
    u_char                 *p;
    ngx_pool_t             *pool;
    const char             *argv[6];
    ngx_http_social_ctx_t  *ctx;

    if (ngx_http_social_exiting()) {
        return;
    }

    if (job->interval == 0) {
        /* a kicked job's next run */
        ngx_http_social_job_kick(job);
        return;
    }

    if (job->ctx) {
        /* the last run goes on */
        ngx_http_social_job_arm(job);
        return;
    }

    ctx = ngx_http_social_job_ctx(job);
    if (ctx == NULL) {
        ngx_http_social_job_arm(job);
        return;
    }

    if (job->every_worker) {
        job->run(job);
        return;
    }

    pool = ctx->pool;

    /* a token no other worker or node has: host, pid, run */

    p = ngx_pnalloc(pool, ngx_cycle->hostname.len + 2 * NGX_INT64_LEN + 3);
    if (p == NULL) {
        goto failed;
    }

    job->token.data = p;
    p = ngx_sprintf(p, "%V:%P:%ui", &ngx_cycle->hostname, ngx_pid,
                    ++ngx_http_social_job_runs);
    job->token.len = p - job->token.data;

    p = ngx_pnalloc(pool, sizeof("social:lock:") - 1 + ngx_strlen(job->name));
    if (p == NULL) {
        goto failed;
    }

    argv[0] = "SET";
    argv[1] = (char *) p;
    lens[1] = ngx_sprintf(p, "social:lock:%s", job->name) - p;
    argv[2] = (char *) job->token.data;
    lens[2] = job->token.len;
    argv[3] = "NX";
    argv[4] = "PX";
    argv[5] = ngx_http_social_int64(ctx, job->interval);

    if (argv[5] == NULL) {
        goto failed;
    }

    lens[0] = 3;
    lens[3] = 2;
    lens[4] = 2;
    lens[5] = ngx_strlen(argv[5]);

    if (ngx_http_social_redis_command(ctx, ngx_http_social_job_locked, 6,
                                      argv, lens)
        == NGX_OK)
    {
        return;
    }

failed:

    ngx_http_social_job_done(job);
}


void
ngx_http_social_job_kick(ngx_http_social_job_t *job)
{
    if (job->smcf == NULL || ngx_http_social_exiting()) {
        return;
    }

    if (job->ctx || job->timer.timer_set) {
        job->again = 1;
        return;
    }

    job->again = 0;

    if (ngx_http_social_job_ctx(job) != NULL) {
        job->run(job);
    }
}


static ngx_http_social_ctx_t *
ngx_http_social_job_ctx(ngx_http_social_job_t *job)
{
    ngx_http_social_ctx_t  *ctx;

    ctx = ngx_http_social_task_create(job->smcf, 0);
    if (ctx == NULL) {
        return NULL;
    }

    ctx->data = job;
    job->ctx = ctx;

    return ctx;
}


static void
ngx_http_social_job_locked(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    ngx_http_social_job_t  *job = ctx->data;

    if (reply == NULL || reply->type != REDIS_REPLY_STATUS) {
        /* Redis is down, or another worker has the lock */
        ngx_http_social_job_done(job);
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "social job: %s runs", job->name);

    job->run(job);
}


/* the end of every run: its ops are detached, its pool freed */

void
ngx_http_social_job_done(ngx_http_social_job_t *job)
{
    ngx_http_social_ctx_t  *ctx;

    ctx = job->ctx;

    if (ctx == NULL) {
        return;
    }

    job->ctx = NULL;
    job->data = NULL;

    ngx_http_social_task_release(ctx);
    ngx_destroy_pool(ctx->pool);

    ngx_str_null(&job->token);

    if (job->again && job->interval == 0) {
        job->again = 0;

        /* kicks during a run: one more run, a little later */

        if (!job->timer.timer_set && !ngx_http_social_exiting()) {
            ngx_add_timer(&job->timer, NGX_HTTP_SOCIAL_JOB_KICK_DELAY);
        }

        return;
    }

    job->again = 0;

    if (!job->timer.timer_set) {
        ngx_http_social_job_arm(job);
    }
}


/* a worker that exits ends its runs: a transaction still open rolls back */

void
ngx_http_social_job_stop(ngx_http_social_job_t *job)
{
    job->again = 0;
    ngx_http_social_job_done(job);

    if (job->timer.timer_set) {
        ngx_del_timer(&job->timer);
    }
}
