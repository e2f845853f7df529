
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The revocation log's poll (see ngx_http_social_revoke.c for the whole):
 * every 500 ms in each worker, from its first token check on, a job of
 * every worker (no lock, and no need of Redis).
 *
 *   1. PostgreSQL, one statement: the counter and the records after the
 *      last one this worker read.  The generations it remembers move on
 *      with them.  Once it has read up to the counter, its memory holds
 *      every commit made before the statement was sent.
 *   2. Redis: social:rev, when the counter moved since Redis was last
 *      seen to hold it, or every 2 s.  When it is behind the counter:
 *   3. PostgreSQL: the records after Redis's number;
 *   4. Redis, one script: they are published again, the number with
 *      them; then 2 again, until Redis has caught up.
 *
 * Once a minute, the records older than the token lifetime and the Redis
 * TTL together are deleted before step 1.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_job.h"
#include "ngx_http_social_revoke.h"
#include "ngx_http_social_keys.h"


/* the poll's period */
#define NGX_HTTP_SOCIAL_REVOKE_INTERVAL    500

/* Redis's number is checked this often, and when the counter moved */
#define NGX_HTTP_SOCIAL_REVOKE_REDIS       2000

/* how often old records are pruned, by each worker */
#define NGX_HTTP_SOCIAL_REVOKE_PRUNE       60000

/* rounds of publishing again in one run, at most */
#define NGX_HTTP_SOCIAL_REVOKE_ROUNDS      64


/* a run of the poll */

typedef struct {
    ngx_msec_t                      sent;
    int64_t                         counter;    /* PostgreSQL's */
    int64_t                         redis;      /* Redis's number */
    ngx_uint_t                      rounds;
    const char                     *values[1];
} ngx_http_social_revoke_run_t;


static void ngx_http_social_revoke_poll(ngx_http_social_job_t *job);
static void ngx_http_social_revoke_pruned(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_revoke_read(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_revoke_records(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_revoke_check_redis(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_revoke_redis_rev(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_revoke_missing(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_revoke_missed(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_revoke_republished(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static ngx_uint_t ngx_http_social_revoke_pg_ok(ngx_http_social_ctx_t *ctx,
    PGresult *res);


static ngx_http_social_job_t  ngx_http_social_revoke_job;


/* the counter and the records after $1 (none when $1 is null), in order */
static const char  ngx_http_social_sql_revoke_poll[] =
    "SELECT c.rev, r.rev, r.user_id, r.token_gen "
    "  FROM revocation_counter c "
    "  LEFT JOIN LATERAL (SELECT rev, user_id, token_gen FROM revocations "
    "                      WHERE rev > $1::bigint "
    "                      ORDER BY rev LIMIT 1000) r ON true "
    " ORDER BY r.rev";

static const char  ngx_http_social_sql_revoke_records[] =
    "SELECT rev, user_id, token_gen FROM revocations "
    " WHERE rev > $1::bigint ORDER BY rev LIMIT 1000";

static const char  ngx_http_social_sql_revoke_prune[] =
    "DELETE FROM revocations "
    " WHERE at < now() - $1::bigint * interval '1 second'";


static ngx_http_social_script_t  ngx_http_social_revoke_again_script = {
    /*
     * KEYS: social:rev; ARGV: the number read before, the number below
     * the first record (those in between are pruned), the TTL, then the
     * number, user and generation of each record.  Nothing when the
     * number went back since it was read (the next run starts lower).
     * Returns {the number now, the records published}.
     */
    "local cur = tonumber(redis.call('GET', KEYS[1]) or '0') "
    "if cur < tonumber(ARGV[1]) then return {cur, 0} end "
    "if cur < tonumber(ARGV[2]) then cur = tonumber(ARGV[2]) end "
    "local n = 0 "
    "for i = 4, #ARGV - 2, 3 do "
    "  if tonumber(ARGV[i]) == cur + 1 then "
    "    if ARGV[i + 1] ~= '0' then "
    "      local k = '" NGX_HTTP_SOCIAL_KEY_GEN "' .. ARGV[i + 1] "
    "      if tonumber(ARGV[i + 2]) "
    "         >= tonumber(redis.call('GET', k) or '-1') then "
    "        redis.call('SET', k, ARGV[i + 2], 'EX', ARGV[3]) end "
    "    end "
    "    cur = cur + 1 "
    "    n = n + 1 "
    "  end "
    "end "
    "redis.call('SET', KEYS[1], cur) "
    "return {cur, n}",
    "", NULL, ""
};


/* the poll starts with the worker's first token check */

ngx_int_t
ngx_http_social_revoke_init_process(ngx_cycle_t *cycle,
    ngx_http_social_main_conf_t *smcf)
{
    ngx_http_social_job_t  *job;

    job = &ngx_http_social_revoke_job;

    job->name = "revoke";
    job->interval = NGX_HTTP_SOCIAL_REVOKE_INTERVAL;
    job->run = ngx_http_social_revoke_poll;
    job->every_worker = 1;

    ngx_http_social_revoke_log.polling = 0;

    return NGX_OK;
}


void
ngx_http_social_revoke_exit_process(void)
{
    ngx_http_social_job_stop(&ngx_http_social_revoke_job);
}


void
ngx_http_social_revoke_poll_start(void)
{
    if (ngx_http_social_revoke_log.polling) {
        return;
    }

    ngx_http_social_revoke_log.polling = 1;

    (void) ngx_http_social_job_start((ngx_cycle_t *) ngx_cycle,
                                     &ngx_http_social_revoke_job);
}


/* the poll: old records out once a minute, then 1. */

static void
ngx_http_social_revoke_poll(ngx_http_social_job_t *job)
{
    ngx_http_social_ctx_t         *ctx;
    ngx_http_social_revoke_run_t  *run;

    ctx = job->ctx;

    run = ngx_pcalloc(ctx->pool, sizeof(ngx_http_social_revoke_run_t));
    if (run == NULL) {
        ngx_http_social_job_done(job);
        return;
    }

    job->data = run;

    if (ngx_current_msec - ngx_http_social_revoke_log.pruned
        < NGX_HTTP_SOCIAL_REVOKE_PRUNE
        && ngx_http_social_revoke_log.pruned)
    {
        ngx_http_social_revoke_read(ctx);
        return;
    }

    ngx_http_social_revoke_log.pruned = ngx_current_msec;

    run->values[0] = ngx_http_social_int64(ctx, ctx->smcf->token_lifetime
                                                + NGX_HTTP_SOCIAL_GEN_TTL);

    if (run->values[0] == NULL
        || ngx_http_social_pg_query(ctx, ngx_http_social_sql_revoke_prune, 1,
                                    run->values,
                                    ngx_http_social_revoke_pruned)
           != NGX_OK)
    {
        ngx_http_social_job_done(job);
    }
}


static void
ngx_http_social_revoke_pruned(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    if (res && PQresultStatus(res) == PGRES_COMMAND_OK) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                       "social revoke: %s old records pruned",
                       PQcmdTuples(res));
    }

    ngx_http_social_revoke_read(ctx);
}


/* 1. the counter, and the records after the last one read */

static void
ngx_http_social_revoke_read(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_job_t         *job = ctx->data;
    ngx_http_social_revoke_run_t  *run = job->data;

    if (ngx_http_social_revoke_log.read) {
        run->values[0] = ngx_http_social_int64(ctx,
                                               ngx_http_social_revoke_log.rev);
        if (run->values[0] == NULL) {
            ngx_http_social_job_done(job);
            return;
        }

    } else {
        /* the first read: only the counter */
        run->values[0] = NULL;
    }

    run->sent = ngx_current_msec;

    if (ngx_http_social_pg_query(ctx, ngx_http_social_sql_revoke_poll, 1,
                                 run->values, ngx_http_social_revoke_records)
        != NGX_OK)
    {
        ngx_http_social_job_done(job);
    }
}


static void
ngx_http_social_revoke_records(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_job_t         *job = ctx->data;
    ngx_http_social_revoke_run_t  *run = job->data;

    ngx_http_social_revoke_log_t  *log;

    log = &ngx_http_social_revoke_log;

    if (!ngx_http_social_revoke_pg_ok(ctx, res) || PQntuples(res) == 0) {
        ngx_http_social_job_done(job);
        return;
    }

    run->counter = ngx_http_social_revoke_int(PQgetvalue(res, 0, 0),
                                              PQgetlength(res, 0, 0));

    if (!log->read || run->counter < log->rev) {
        /* the first read, or a database whose counter went back */

        if (log->read) {
            ngx_log_error(NGX_LOG_NOTICE, ctx->log, 0,
                          "social: the revocation counter went back from "
                          "%L to %L, generations forgotten",
                          log->rev, run->counter);
            ngx_http_social_revoke_forget();
        }

        log->rev = run->counter;
        log->read = 1;

        /* Redis's number is first checked after a while, or on a move */
        log->redis = run->counter;
        log->redis_seen = ngx_current_msec;

    } else {
        ngx_http_social_revoke_apply(res, run->counter);
    }

    if (log->rev < run->counter) {
        /* more records than one statement reads */
        ngx_http_social_revoke_read(ctx);
        return;
    }

    log->current = run->sent;

    if (ctx->smcf->redis_addr.len == 0
        || (log->redis >= run->counter
            && ngx_current_msec - log->redis_seen
               < NGX_HTTP_SOCIAL_REVOKE_REDIS))
    {
        ngx_http_social_job_done(job);
        return;
    }

    ngx_http_social_revoke_check_redis(ctx);
}


/* 2. how far Redis is */

static void
ngx_http_social_revoke_check_redis(ngx_http_social_ctx_t *ctx)
{
    size_t                  lens[2];
    const char             *args[2];
    ngx_http_social_job_t  *job = ctx->data;

    args[0] = "GET";
    lens[0] = sizeof("GET") - 1;
    args[1] = NGX_HTTP_SOCIAL_KEY_REV;
    lens[1] = sizeof(NGX_HTTP_SOCIAL_KEY_REV) - 1;

    if (ngx_http_social_redis_command(ctx, ngx_http_social_revoke_redis_rev,
                                      2, args, lens)
        != NGX_OK)
    {
        ngx_http_social_job_done(job);
    }
}


static void
ngx_http_social_revoke_redis_rev(ngx_http_social_ctx_t *ctx,
    redisReply *reply)
{
    ngx_http_social_job_t         *job = ctx->data;
    ngx_http_social_revoke_run_t  *run = job->data;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_http_social_job_done(job);
        return;
    }

    run->redis = (reply->type == REDIS_REPLY_STRING)
                 ? ngx_http_social_revoke_int(reply->str, reply->len) : 0;

    ngx_http_social_revoke_log.redis = run->redis;
    ngx_http_social_revoke_log.redis_seen = ngx_current_msec;

    if (run->redis >= run->counter) {
        ngx_http_social_job_done(job);
        return;
    }

    ngx_http_social_revoke_missing(ctx);
}


/* 3. the records Redis lacks */

static void
ngx_http_social_revoke_missing(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_job_t         *job = ctx->data;
    ngx_http_social_revoke_run_t  *run = job->data;

    if (run->rounds++ == NGX_HTTP_SOCIAL_REVOKE_ROUNDS) {
        ngx_http_social_job_done(job);
        return;
    }

    run->values[0] = ngx_http_social_int64(ctx, run->redis);

    if (run->values[0] == NULL
        || ngx_http_social_pg_query(ctx, ngx_http_social_sql_revoke_records,
                                    1, run->values,
                                    ngx_http_social_revoke_missed)
           != NGX_OK)
    {
        ngx_http_social_job_done(job);
    }
}


/* 4. published again, with the number */

static void
ngx_http_social_revoke_missed(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    int                            i, n, k, col;
    size_t                        *lens;
    int64_t                        base;
    const char                   **args;
    ngx_http_social_job_t         *job = ctx->data;
    ngx_http_social_revoke_run_t  *run = job->data;

    if (!ngx_http_social_revoke_pg_ok(ctx, res)) {
        ngx_http_social_job_done(job);
        return;
    }

    n = PQntuples(res);

    args = ngx_palloc(ctx->pool, (5 + 3 * n) * sizeof(char *));
    lens = ngx_palloc(ctx->pool, (5 + 3 * n) * sizeof(size_t));

    if (args == NULL || lens == NULL) {
        ngx_http_social_job_done(job);
        return;
    }

    /*
     * the records between Redis's number and the first one left are
     * pruned (older than any token and any key in Redis): Redis may jump
     * over them, up to the counter when none is left
     */

    base = n ? ngx_http_social_revoke_int(PQgetvalue(res, 0, 0),
                                          PQgetlength(res, 0, 0)) - 1
             : run->counter;

    args[0] = "1";
    args[1] = NGX_HTTP_SOCIAL_KEY_REV;
    args[2] = run->values[0];
    args[3] = ngx_http_social_int64(ctx, ngx_max(base, run->redis));
    args[4] = NGX_HTTP_SOCIAL_GEN_TTL_TEXT;

    if (args[3] == NULL) {
        ngx_http_social_job_done(job);
        return;
    }

    k = 5;

    for (i = 0; i < n; i++) {
        for (col = 0; col < 3; col++) {
            args[k++] = PQgetvalue(res, i, col);
        }
    }

    for (i = 0; i < k; i++) {
        lens[i] = ngx_strlen(args[i]);
    }

    if (ngx_http_social_redis_script(ctx, ngx_http_social_revoke_republished,
                                     &ngx_http_social_revoke_again_script,
                                     k, args, lens)
        != NGX_OK)
    {
        ngx_http_social_job_done(job);
    }
}


static void
ngx_http_social_revoke_republished(ngx_http_social_ctx_t *ctx,
    redisReply *reply)
{
    int64_t                        cur;
    ngx_http_social_job_t         *job = ctx->data;
    ngx_http_social_revoke_run_t  *run = job->data;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 2
        || reply->element[0]->type != REDIS_REPLY_INTEGER
        || reply->element[1]->type != REDIS_REPLY_INTEGER)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                       "social revoke: Redis refused the records again");
        ngx_http_social_job_done(job);
        return;
    }

    cur = reply->element[0]->integer;
    ngx_http_social_revoke_log.redis = cur;

    if (reply->element[1]->integer) {
        ngx_log_error(NGX_LOG_NOTICE, ctx->log, 0,
                      "social: %L revocations published to Redis again, "
                      "Redis was at %L of %L",
                      (int64_t) reply->element[1]->integer, run->redis,
                      run->counter);
    }

    if (cur >= run->counter || cur <= run->redis) {
        /* caught up, or nothing moved (Redis went back meanwhile) */
        ngx_http_social_job_done(job);
        return;
    }

    run->redis = cur;

    ngx_http_social_revoke_missing(ctx);
}


/* a statement of the poll ran; if not, why, unless PostgreSQL is down */

static ngx_uint_t
ngx_http_social_revoke_pg_ok(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    if (res == NULL) {
        /* the pool said why */
        return 0;
    }

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                      "social: the revocation log cannot be read: %s",
                      PQresultErrorMessage(res));
        return 0;
    }

    return 1;
}
