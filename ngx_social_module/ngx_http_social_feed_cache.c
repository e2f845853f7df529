
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The Redis side of the feed: one global sorted set of the most recent
 * events, "social:feed:recent", score the event id, member the event's
 * immutable fields "id|type|actor|post|author|target|created_at" (0 for
 * none), so that a reader's filter runs in Redis without another lookup.
 *
 * Two marks say what the set holds: every event committed with an id in
 * [social:feed:bottom, social:feed:top] is in it (bottom 0: every event
 * since the first).  Readers trust it only when top is at least the last
 * event id PostgreSQL shows them; otherwise, or past bottom, the page
 * comes from PostgreSQL.  Event ids become visible in their order (the
 * events_in_order trigger), so a load of "the events above top" keeps the
 * set whole.
 *
 * The set is filled from PostgreSQL by a refresh that a worker runs after
 * each write of an event, and by the trim job, which also trims it to
 * social_feed_cache_size.  Deletes take their events out, and drop the
 * cached post and user objects ("social:post:<id>", "social:user:<id>",
 * JSON in hashes, social_object_ttl), and move "social:feed:gen" on: a
 * load or an object read from PostgreSQL before a delete is then not
 * written (its generation is old).
 */


#include "ngx_http_social_module.h"


#define NGX_HTTP_SOCIAL_FEED_LOAD_TRIES  3


static void ngx_http_social_feed_refresh(ngx_http_social_job_t *job);
static void ngx_http_social_feed_purged(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_feed_marks(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_feed_rows(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_feed_loaded(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_feed_trim(ngx_http_social_job_t *job);
static void ngx_http_social_feed_trimmed(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_feed_forgotten(ngx_http_social_ctx_t *ctx,
    redisReply *reply);


ngx_http_social_script_t  ngx_http_social_feed_read_script = {
    /* KEYS: recent top bottom; ARGV: before need last cap nfollow ... */
    "local topv = redis.call('GET', KEYS[2]) "
    "local top = tonumber(topv) "
    "local bottom = tonumber(redis.call('GET', KEYS[3])) "
    "if not top or not bottom then return {'stale'} end "
    "local need, cap, nf = tonumber(ARGV[2]), tonumber(ARGV[4]), "
    "  tonumber(ARGV[5]) "
    "local follow, block = {}, {} "
    "for i = 6, 5 + nf do follow[ARGV[i]] = true end "
    "for i = 6 + nf, #ARGV do block[ARGV[i]] = true end "
    "local max = '(' .. ARGV[1] "
    "if tonumber(ARGV[1]) > top then max = top end "
    "local out = {'ok', redis.call('GET', 'social:feed:gen') or '0', topv} "
    "local scanned, chunk = 0, need "
    "while true do "
    "  local ms = redis.call('ZREVRANGEBYSCORE', KEYS[1], max, bottom, "
    "                        'LIMIT', scanned, chunk) "
    "  for _, m in ipairs(ms) do "
    "    local y, a, p, u, t = string.match(m, "
    "      '^%d+|(%a+)|(%d+)|(%d+)|(%d+)|(%d+)|') "
    "    if follow[a] and not block[a] and not block[u] "
    "       and not block[t] then "
    "      out[#out + 1] = m "
    "      out[#out + 1] = p ~= '0' and "
    "        redis.call('HGET', 'social:post:' .. p, 'json') or '' "
    "      out[#out + 1] = "
    "        redis.call('HGET', 'social:user:' .. a, 'json') or '' "
    "      out[#out + 1] = t ~= '0' and "
    "        redis.call('HGET', 'social:user:' .. t, 'json') or '' "
    "      if (#out - 3) / 4 == need then return out end "
    "    end "
    "  end "
    "  scanned = scanned + #ms "
    "  if #ms < chunk and bottom == 0 then return out end "
    "  if #ms < chunk or scanned >= cap then "
    "    out[1] = 'short' "
    "    return out "
    "  end "
    "  chunk = math.min(chunk * 4, 1000) "
    "end",
    ""
};


static ngx_http_social_script_t  ngx_http_social_feed_load_script = {
    /* KEYS: recent top bottom gen; ARGV: mode gen top newtop newbottom */
    "if (redis.call('GET', KEYS[4]) or '0') ~= ARGV[2] then return -1 end "
    "if ARGV[1] == 'extend' then "
    "  if (redis.call('GET', KEYS[2]) or '') ~= ARGV[3] then "
    "    return -1 end "
    "else "
    "  redis.call('DEL', KEYS[1]) "
    "  redis.call('SET', KEYS[3], ARGV[5]) "
    "end "
    "for i = 6, #ARGV do "
    "  redis.call('ZADD', KEYS[1], string.match(ARGV[i], '^%d+'), ARGV[i]) "
    "end "
    "redis.call('SET', KEYS[2], ARGV[4]) "
    "return #ARGV - 5",
    ""
};


ngx_http_social_script_t  ngx_http_social_feed_put_script = {
    /* KEYS: gen; ARGV: gen ttl, then key json pairs */
    "if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return 0 end "
    "for i = 3, #ARGV, 2 do "
    "  redis.call('HSET', ARGV[i], 'json', ARGV[i + 1]) "
    "  redis.call('PEXPIRE', ARGV[i], ARGV[2]) "
    "end "
    "return (#ARGV - 2) / 2",
    ""
};


static ngx_http_social_script_t  ngx_http_social_feed_forget_script = {
    /* KEYS: recent gen; ARGV: post user post_object user_object ids... */
    "redis.call('INCR', KEYS[2]) "
    "local n, drop = 0, {} "
    "if ARGV[3] ~= '0' then drop[ARGV[3]] = true end "
    "if ARGV[1] ~= '0' or ARGV[2] ~= '0' then "
    "  for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do "
    "    local a, p, u, t = string.match(m, "
    "      '^%d+|%a+|(%d+)|(%d+)|(%d+)|(%d+)|') "
    "    if (ARGV[1] ~= '0' and p == ARGV[1]) or (ARGV[2] ~= '0' and "
    "        (a == ARGV[2] or u == ARGV[2] or t == ARGV[2])) then "
    "      n = n + redis.call('ZREM', KEYS[1], m) "
    "      if p ~= '0' then drop[p] = true end "
    "    end "
    "  end "
    "end "
    "for i = 5, #ARGV do "
    "  n = n + redis.call('ZREMRANGEBYSCORE', KEYS[1], ARGV[i], ARGV[i]) "
    "end "
    "for p in pairs(drop) do "
    "  n = n + redis.call('DEL', 'social:post:' .. p) end "
    "if ARGV[4] ~= '0' then "
    "  n = n + redis.call('DEL', 'social:user:' .. ARGV[4]) end "
    "return n",
    ""
};


static ngx_http_social_script_t  ngx_http_social_feed_trim_script = {
    /* KEYS: recent bottom; ARGV: size */
    "local n = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[1]) "
    "if n <= 0 then return 0 end "
    "redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - 1) "
    "local low = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES') "
    "redis.call('SET', KEYS[2], low[2]) "
    "return n",
    ""
};


/* the events above a mark, newest first, as members of the set */

static const char  ngx_http_social_sql_feed_members[] =
    "SELECT e.event_id, e.event_id || '|' || e.type || '|' || e.actor_id "
    "       || '|' || coalesce(e.post_id, 0) "
    "       || '|' || coalesce(p.author_id, 0) "
    "       || '|' || coalesce(e.target_id, 0) "
    "       || '|' || social_time(e.created_at) "
    "  FROM events e LEFT JOIN posts p ON p.post_id = e.post_id "
    " WHERE e.event_id > $1 "
    " ORDER BY e.event_id DESC "
    " LIMIT $2";


typedef struct {
    ngx_uint_t                      tries;
    ngx_uint_t                      reset;      /* unsigned:1 */
    ngx_str_t                       gen;
    ngx_str_t                       top;
    const char                     *values[2];
} ngx_http_social_feed_load_t;


/* the refresh runs in the worker that wrote, the trim in one worker */

static ngx_http_social_job_t  ngx_http_social_feed_refresh_job;
static ngx_http_social_job_t  ngx_http_social_feed_trim_job;


/* a delete that could not reach Redis: the next refresh starts afresh */
static ngx_uint_t  ngx_http_social_feed_suspect;


ngx_int_t
ngx_http_social_feed_cache_init_process(ngx_cycle_t *cycle,
    ngx_http_social_main_conf_t *smcf)
{
    if (smcf->redis_addr.len == 0 || smcf->pg_conninfo.len == 0) {
        return NGX_OK;
    }

    ngx_http_social_feed_refresh_job.name = "feed_refresh";
    ngx_http_social_feed_refresh_job.run = ngx_http_social_feed_refresh;

    ngx_http_social_feed_trim_job.name = "feed_trim";
    ngx_http_social_feed_trim_job.run = ngx_http_social_feed_trim;
    ngx_http_social_feed_trim_job.interval = smcf->trim_interval;

    if (ngx_http_social_job_start(cycle, &ngx_http_social_feed_refresh_job)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_social_job_start(cycle, &ngx_http_social_feed_trim_job);
}


void
ngx_http_social_feed_cache_exit_process(void)
{
    ngx_http_social_job_stop(&ngx_http_social_feed_refresh_job);
    ngx_http_social_job_stop(&ngx_http_social_feed_trim_job);
}


/* an event was written: the set takes it in, soon, in this worker */

void
ngx_http_social_feed_changed(void)
{
    ngx_http_social_job_kick(&ngx_http_social_feed_refresh_job);
}


/*
 * The refresh: the marks and the generation from Redis, then the events
 * above top from PostgreSQL (or the newest N when Redis has no set, or
 * the set is too far behind), then one script that adds them only when
 * neither top nor the generation moved meanwhile.
 */

static void
ngx_http_social_feed_refresh(ngx_http_social_job_t *job)
{
    size_t                        lens[5];
    const char                   *argv[5];
    ngx_http_social_ctx_t        *ctx;
    ngx_http_social_feed_load_t  *load;

    ctx = job->ctx;

    if (job->data == NULL) {
        load = ngx_pcalloc(ctx->pool, sizeof(ngx_http_social_feed_load_t));
        if (load == NULL) {
            ngx_http_social_job_done(job);
            return;
        }

        job->data = load;

        if (ngx_http_social_feed_suspect) {
            ngx_http_social_feed_suspect = 0;

            if (ngx_http_social_cache_evict(ctx, "all",
                                            ngx_http_social_feed_purged)
                != NGX_OK)
            {
                ngx_http_social_feed_suspect = 1;
                ngx_http_social_job_done(job);
            }

            return;
        }
    }

    argv[0] = "MGET";
    argv[1] = "social:feed:top";
    argv[2] = "social:feed:gen";
    lens[0] = 4;
    lens[1] = sizeof("social:feed:top") - 1;
    lens[2] = sizeof("social:feed:gen") - 1;

    if (ngx_http_social_redis_command(ctx, ngx_http_social_feed_marks, 3,
                                      argv, lens)
        != NGX_OK)
    {
        ngx_http_social_job_done(job);
    }
}


static void
ngx_http_social_feed_purged(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    ngx_http_social_job_t  *job = ctx->data;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        ngx_http_social_feed_suspect = 1;
        ngx_http_social_job_done(job);
        return;
    }

    ngx_http_social_feed_refresh(job);
}


static void
ngx_http_social_feed_marks(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    ngx_http_social_job_t  *job = ctx->data;

    redisReply                   *top, *gen;
    ngx_uint_t                    n;
    ngx_http_social_feed_load_t  *load;

    load = job->data;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 2)
    {
        ngx_http_social_job_done(job);
        return;
    }

    top = reply->element[0];
    gen = reply->element[1];

    load->reset = (top->type != REDIS_REPLY_STRING);
    ngx_str_null(&load->top);
    ngx_str_set(&load->gen, "0");

    if (!load->reset) {
        load->top.data = ngx_pnalloc(ctx->pool, top->len + 1);
        if (load->top.data == NULL) {
            ngx_http_social_job_done(job);
            return;
        }

        load->top.len = top->len;
        *ngx_cpymem(load->top.data, top->str, top->len) = '\0';
    }

    if (gen->type == REDIS_REPLY_STRING) {
        load->gen.data = ngx_pnalloc(ctx->pool, gen->len);
        if (load->gen.data == NULL) {
            ngx_http_social_job_done(job);
            return;
        }

        load->gen.len = gen->len;
        ngx_memcpy(load->gen.data, gen->str, gen->len);
    }

    /* one row more than the set holds: the set is too far behind */

    n = ctx->smcf->feed_cache_size;

    load->values[0] = load->reset ? "0" : (char *) load->top.data;
    load->values[1] = ngx_http_social_int64(ctx, load->reset ? n : n + 1);

    if (load->values[1] == NULL
        || ngx_http_social_pg_query(ctx, ngx_http_social_sql_feed_members,
                                    2, load->values,
                                    ngx_http_social_feed_rows)
           != NGX_OK)
    {
        ngx_http_social_job_done(job);
    }
}


static void
ngx_http_social_feed_rows(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_job_t  *job = ctx->data;

    int                           i, n, argc;
    size_t                       *lens;
    const char                  **argv;
    ngx_http_social_feed_load_t  *load;

    load = job->data;

    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
        ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                      "social: feed refresh failed: %s",
                      res ? PQresultErrorMessage(res) : "no connection");
        ngx_http_social_job_done(job);
        return;
    }

    n = PQntuples(res);

    if (!load->reset && n > (int) ctx->smcf->feed_cache_size) {
        load->reset = 1;
    }

    if (load->reset) {
        n = ngx_min(n, (int) ctx->smcf->feed_cache_size);
    }

    argc = 10 + n;

    argv = ngx_palloc(ctx->pool, argc * sizeof(char *));
    lens = ngx_palloc(ctx->pool, argc * sizeof(size_t));

    if (argv == NULL || lens == NULL) {
        ngx_http_social_job_done(job);
        return;
    }

    argv[0] = "4";
    argv[1] = "social:feed:recent";
    argv[2] = "social:feed:top";
    argv[3] = "social:feed:bottom";
    argv[4] = "social:feed:gen";
    argv[5] = load->reset ? "reset" : "extend";
    argv[6] = (char *) load->gen.data;
    lens[6] = load->gen.len;
    argv[7] = load->top.len ? (char *) load->top.data : "";

    /* top: the newest event read, or what it was; bottom: 0 is "all" */

    argv[8] = n ? PQgetvalue(res, 0, 0) : (load->top.len ? argv[7] : "0");
    argv[9] = (n < (int) ctx->smcf->feed_cache_size) ? "0"
                                                 : PQgetvalue(res, n - 1, 0);

    for (i = 0; i < n; i++) {
        argv[10 + i] = PQgetvalue(res, i, 1);
        lens[10 + i] = PQgetlength(res, i, 1);
    }

    for (i = 0; i < 10; i++) {
        if (i != 6) {
            lens[i] = ngx_strlen(argv[i]);
        }
    }

    if (ngx_http_social_redis_script(ctx, ngx_http_social_feed_loaded,
                                     &ngx_http_social_feed_load_script,
                                     argc, argv, lens)
        != NGX_OK)
    {
        ngx_http_social_job_done(job);
    }
}


static void
ngx_http_social_feed_loaded(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    ngx_http_social_job_t  *job = ctx->data;

    ngx_http_social_feed_load_t  *load;

    load = job->data;

    if (reply && reply->type == REDIS_REPLY_INTEGER && reply->integer < 0
        && ++load->tries < NGX_HTTP_SOCIAL_FEED_LOAD_TRIES)
    {
        /* a delete or another load came between: once more */
        ngx_http_social_feed_refresh(job);
        return;
    }

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                      "social: feed refresh failed: %s",
                      reply ? reply->str : "no reply");

    } else {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                       "social feed: %i events loaded", reply->integer);
    }

    ngx_http_social_job_done(job);
}


/* the trim job: the set back to N, then a refresh */

static void
ngx_http_social_feed_trim(ngx_http_social_job_t *job)
{
    size_t                  lens[4];
    const char             *argv[4];
    ngx_http_social_ctx_t  *ctx;

    ctx = job->ctx;

    argv[0] = "2";
    argv[1] = "social:feed:recent";
    argv[2] = "social:feed:bottom";
    argv[3] = ngx_http_social_int64(ctx, ctx->smcf->feed_cache_size);

    if (argv[3] == NULL) {
        ngx_http_social_job_done(job);
        return;
    }

    lens[0] = 1;
    lens[1] = sizeof("social:feed:recent") - 1;
    lens[2] = sizeof("social:feed:bottom") - 1;
    lens[3] = ngx_strlen(argv[3]);

    if (ngx_http_social_redis_script(ctx, ngx_http_social_feed_trimmed,
                                     &ngx_http_social_feed_trim_script,
                                     4, argv, lens)
        != NGX_OK)
    {
        ngx_http_social_job_done(job);
    }
}


static void
ngx_http_social_feed_trimmed(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    ngx_http_social_job_t  *job = ctx->data;

    if (reply && reply->type == REDIS_REPLY_INTEGER) {
        ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                      "social: feed trimmed by %i events", reply->integer);

    } else {
        ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                      "social: feed trim failed: %s",
                      reply ? reply->str : "no reply");
    }

    ngx_http_social_job_done(job);

    /* a set that was flushed or evicted is filled again */
    ngx_http_social_feed_changed();
}


/*
 * A delete: its events out of the set, its cached objects dropped, the
 * generation moved on.  With respond set, the request is answered 204 once
 * Redis has done it (or could not: then the next refresh starts afresh).
 */

void
ngx_http_social_feed_forget(ngx_http_social_ctx_t *ctx,
    ngx_http_social_forget_t *f, ngx_uint_t respond)
{
    int           i, n, argc;
    u_char       *p, *last, *start;
    size_t       *lens;
    const char  **argv;

    if (ctx->smcf->redis_addr.len == 0) {
        goto done;
    }

    /* the event ids, from PostgreSQL's array text "{1,2,3}" */

    n = 0;
    p = (u_char *) (f->events ? f->events : "");
    last = p + ngx_strlen(p);

    for (start = p; start < last; start++) {
        if (*start == ',' || *start == '}') {
            n++;
        }
    }

    argc = 7 + n;
    argv = ngx_palloc(ctx->pool, argc * sizeof(char *));
    lens = ngx_palloc(ctx->pool, argc * sizeof(size_t));

    if (argv == NULL || lens == NULL) {
        goto failed;
    }

    argv[0] = "2";
    argv[1] = "social:feed:recent";
    argv[2] = "social:feed:gen";
    argv[3] = f->post ? f->post : "0";
    argv[4] = f->user ? f->user : "0";
    argv[5] = f->post_object ? f->post_object : "0";
    argv[6] = f->user_object ? f->user_object : "0";

    for (i = 0; i < 7; i++) {
        lens[i] = ngx_strlen(argv[i]);
    }

    argc = 7;

    for (p++; p < last; p++) {
        start = p;

        while (p < last && *p != ',' && *p != '}') {
            p++;
        }

        if (p > start) {
            argv[argc] = (char *) start;
            lens[argc] = p - start;
            argc++;
        }
    }

    if (ngx_http_social_redis_script(ctx,
                                     respond
                                     ? ngx_http_social_feed_forgotten : NULL,
                                     &ngx_http_social_feed_forget_script,
                                     argc, argv, lens)
        == NGX_OK)
    {
        return;
    }

failed:

    ngx_http_social_feed_suspect = 1;

done:

    if (respond) {
        ngx_http_social_done(ctx, ngx_http_social_send(ctx,
                                                       NGX_HTTP_NO_CONTENT,
                                                       NULL));
    }
}


static void
ngx_http_social_feed_forgotten(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        ngx_log_error(NGX_LOG_WARN, ctx->log, 0,
                      "social: a delete did not reach the feed in Redis, "
                      "the feed set starts afresh");
        ngx_http_social_feed_suspect = 1;
    }

    ngx_http_social_done(ctx, ngx_http_social_send(ctx, NGX_HTTP_NO_CONTENT,
                                                   NULL));
}


/* readers do not trust the set until a refresh has started afresh */

ngx_uint_t
ngx_http_social_feed_cache_usable(ngx_http_social_ctx_t *ctx)
{
    return ctx->smcf->redis_addr.len && !ngx_http_social_feed_suspect;
}
