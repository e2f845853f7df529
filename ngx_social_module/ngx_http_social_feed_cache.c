
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
 * comes from PostgreSQL.  A load reads only the events below the horizon
 * (social_event_horizon(), migration 008), all of whose transactions have
 * ended, so "the events above top" keeps the set whole.
 *
 * The set is filled from PostgreSQL by a refresh that a worker runs after
 * each write of an event, and by the trim job, which also trims it to
 * social_feed_cache_size and takes out the events PostgreSQL no longer
 * has (deleted by a request whose Redis call failed, by a worker killed
 * between its commit and its Redis call, with SQL, or brought back by a
 * Redis restart).  Deletes take their events out and move
 * "social:feed:gen" on; changed or deleted posts and users drop their
 * cached objects ("social:post:<id>", "social:user:<id>", JSON strings,
 * social_object_ttl) and move "social:feed:objgen" on: a load or an object
 * read from PostgreSQL before is then not written (its generation is old).
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_job.h"
#include "ngx_http_social_request.h"
#include "ngx_http_social_feed_cache.h"
#include "ngx_http_social_keys.h"
#include "ngx_http_social_argv.h"
#include "ngx_http_social_pg_array.h"
#include "ngx_http_social_shm.h"


#define NGX_HTTP_SOCIAL_FEED_LOAD_TRIES  3

/*
 * Lua: the actors' counts of the set's members (KEY_FEED_ACTORS) follow
 * every member that goes in (count) or out (uncount)
 */

#define NGX_HTTP_SOCIAL_FEED_LUA_COUNTS                                      \
    "local A = '" NGX_HTTP_SOCIAL_KEY_FEED_ACTORS "' "                       \
    "local function count(m, d) "                                            \
    "  local a = string.match(m, '^%d+|%a+|(%d+)|') "                        \
    "  if redis.call('HINCRBY', A, a, d) <= 0 then "                         \
    "    redis.call('HDEL', A, a) end "                                      \
    "  redis.call('HINCRBY', A, '*', d) "                                    \
    "end "


/* the refresh reads MGET top gen: the slots of its reply */

enum {
    NGX_HTTP_SOCIAL_FEED_MARK_TOP = 0,
    NGX_HTTP_SOCIAL_FEED_MARK_GEN,
    NGX_HTTP_SOCIAL_FEED_MARK_WRITTEN,
    NGX_HTTP_SOCIAL_FEED_MARKS
};


/*
 * the load script's arguments: KEYS recent, top, bottom, gen; ARGV the
 * mode ("reset" or "extend"), the generation and the top the refresh
 * read, the new top and bottom, the writes counted when it began, then
 * the members
 */

enum {
    NGX_HTTP_SOCIAL_FEED_LOAD_NKEYS = 0,
    NGX_HTTP_SOCIAL_FEED_LOAD_RECENT,
    NGX_HTTP_SOCIAL_FEED_LOAD_TOP,
    NGX_HTTP_SOCIAL_FEED_LOAD_BOTTOM,
    NGX_HTTP_SOCIAL_FEED_LOAD_GEN,
    NGX_HTTP_SOCIAL_FEED_LOAD_MODE,
    NGX_HTTP_SOCIAL_FEED_LOAD_GEN_READ,
    NGX_HTTP_SOCIAL_FEED_LOAD_TOP_READ,
    NGX_HTTP_SOCIAL_FEED_LOAD_NEW_TOP,
    NGX_HTTP_SOCIAL_FEED_LOAD_NEW_BOTTOM,
    NGX_HTTP_SOCIAL_FEED_LOAD_WRITTEN,
    NGX_HTTP_SOCIAL_FEED_LOAD_MEMBERS
};


/* the trim script's arguments: KEYS recent, bottom; ARGV the size */

enum {
    NGX_HTTP_SOCIAL_FEED_TRIM_NKEYS = 0,
    NGX_HTTP_SOCIAL_FEED_TRIM_RECENT,
    NGX_HTTP_SOCIAL_FEED_TRIM_BOTTOM,
    NGX_HTTP_SOCIAL_FEED_TRIM_SIZE,
    NGX_HTTP_SOCIAL_FEED_TRIM_ARGC
};


/*
 * the forget script's arguments: KEYS recent, gen, objgen; ARGV the user
 * whose events go, the user whose object goes ("0": none), how many event
 * ids follow, the event ids, then the posts whose objects go
 */

enum {
    NGX_HTTP_SOCIAL_FEED_FORGET_NKEYS = 0,
    NGX_HTTP_SOCIAL_FEED_FORGET_RECENT,
    NGX_HTTP_SOCIAL_FEED_FORGET_GEN,
    NGX_HTTP_SOCIAL_FEED_FORGET_OBJGEN,
    NGX_HTTP_SOCIAL_FEED_FORGET_USER,
    NGX_HTTP_SOCIAL_FEED_FORGET_USER_OBJECT,
    NGX_HTTP_SOCIAL_FEED_FORGET_TOUCH,          /* two users, "0": none */
    NGX_HTTP_SOCIAL_FEED_FORGET_TOUCH_OTHER,
    NGX_HTTP_SOCIAL_FEED_FORGET_WRITTEN,        /* "1": an event was made */
    NGX_HTTP_SOCIAL_FEED_FORGET_NEVENTS,
    NGX_HTTP_SOCIAL_FEED_FORGET_EVENTS          /* then the posts */
};


/* the columns of the members query */

enum {
    NGX_HTTP_SOCIAL_FEED_MEMBERS_COL_ID = 0,
    NGX_HTTP_SOCIAL_FEED_MEMBERS_COL_MEMBER,
    NGX_HTTP_SOCIAL_FEED_MEMBERS_COL_HELD       /* events above the horizon */
};


static void ngx_http_social_feed_refresh(ngx_http_social_job_t *job);
static void ngx_http_social_feed_marks(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_feed_rows(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_feed_loaded(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_feed_trim(ngx_http_social_job_t *job);
static void ngx_http_social_feed_trimmed(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_feed_members(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_feed_gone(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_feed_repaired(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static ngx_int_t ngx_http_social_feed_forget_send(ngx_http_social_ctx_t *ctx,
    ngx_http_social_forget_t *f, ngx_http_social_redis_handler_pt handler);
static void ngx_http_social_feed_forgotten(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_feed_forget_next(ngx_http_social_ctx_t *ctx);

static ngx_http_social_script_t  ngx_http_social_feed_load_script = {
    /*
     * KEYS: recent top bottom gen; ARGV: mode gen top newtop newbottom
     * written (the writes counted before the read, 0 when events were
     * held above the horizon)
     */
    NGX_HTTP_SOCIAL_FEED_LUA_COUNTS
    "if (redis.call('GET', KEYS[4]) or '0') ~= ARGV[2] then return -1 end "
    "if ARGV[1] == 'extend' then "
    "  if (redis.call('GET', KEYS[2]) or '') ~= ARGV[3] then "
    "    return -1 end "
    "  if ARGV[3] ~= '0' and redis.call('EXISTS', KEYS[1]) == 0 then "
    "    return -2 end "
    "else "
    "  redis.call('DEL', KEYS[1], A) "
    "  redis.call('SET', KEYS[3], ARGV[5]) "
    "end "
    "for i = 7, #ARGV do "
    "  if redis.call('ZADD', KEYS[1], string.match(ARGV[i], '^%d+'), "
    "                ARGV[i]) == 1 then count(ARGV[i], 1) end "
    "end "
    "redis.call('SET', KEYS[2], ARGV[4]) "
    /*
     * what of the writes the set holds: a reset holds what its read saw,
     * even when an extend that read later had said more
     */
    "local L = '" NGX_HTTP_SOCIAL_KEY_FEED_LOADED "' "
    "if ARGV[1] ~= 'extend' "
    "   or tonumber(ARGV[6]) > tonumber(redis.call('GET', L) or '0') then "
    "  redis.call('SET', L, ARGV[6]) end "
    "return #ARGV - 6",
    "", NULL, ""
};


ngx_http_social_script_t  ngx_http_social_feed_put_script = {
    /* KEYS: objgen; ARGV: objgen ttl, then key json pairs */
    "if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return 0 end "
    "for i = 3, #ARGV, 2 do "
    "  redis.call('SET', ARGV[i], ARGV[i + 1], 'PX', ARGV[2]) "
    "end "
    "return (#ARGV - 2) / 2",
    "", NULL, ""
};


static ngx_http_social_script_t  ngx_http_social_feed_forget_script = {
    /*
     * KEYS: recent gen objgen; ARGV: user user_object touch touch written
     * k ids[k] posts...
     */
    NGX_HTTP_SOCIAL_FEED_LUA_COUNTS
    "local n, drop, objects = 0, {}, false "
    "if ARGV[5] == '1' then "
    "  redis.call('INCR', '" NGX_HTTP_SOCIAL_KEY_FEED_WRITTEN "') end "
    /*
     * a generation never used before: the counter, and the time, should
     * the counter be lost
     */
    "for i = 3, 4 do "
    "  if ARGV[i] ~= '0' then "
    "    local t = redis.call('TIME') "
    "    redis.call('SET', '" NGX_HTTP_SOCIAL_KEY_FEED_RGEN "' .. ARGV[i], "
    "               redis.call('INCR', '" NGX_HTTP_SOCIAL_KEY_FEED_RGENS "') "
    "               .. '.' .. t[1] .. t[2], "
    "               'PX', " NGX_HTTP_SOCIAL_FEED_RGEN_TTL_TEXT ") "
    "  end "
    "end "
    "local k = tonumber(ARGV[6]) "
    "if ARGV[1] ~= '0' or k > 0 then redis.call('INCR', KEYS[2]) end "
    "if ARGV[1] ~= '0' then "
    "  for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do "
    "    local a, p, u, t = string.match(m, "
    "      '^%d+|%a+|(%d+)|(%d+)|(%d+)|(%d+)|') "
    "    if a == ARGV[1] or u == ARGV[1] or t == ARGV[1] then "
    "      n = n + redis.call('ZREM', KEYS[1], m) "
    "      count(m, -1) "
    "      if p ~= '0' then drop[p] = true end "
    "    end "
    "  end "
    "end "
    "for i = 7, 6 + k do "
    "  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[i], "
    "                                ARGV[i])) do "
    "    n = n + redis.call('ZREM', KEYS[1], m) "
    "    count(m, -1) "
    "  end "
    "end "
    "for i = 7 + k, #ARGV do drop[ARGV[i]] = true end "
    "for p in pairs(drop) do "
    "  objects = true "
    "  n = n + redis.call('DEL', '" NGX_HTTP_SOCIAL_KEY_POST "' .. p) "
    "end "
    "if ARGV[2] ~= '0' then "
    "  objects = true "
    "  n = n + redis.call('DEL', '" NGX_HTTP_SOCIAL_KEY_USER "' .. ARGV[2]) "
    "end "
    "if objects then redis.call('INCR', KEYS[3]) end "
    "return n",
    "", NULL, ""
};



static ngx_http_social_script_t  ngx_http_social_feed_trim_script = {
    /* KEYS: recent bottom; ARGV: size */
    NGX_HTTP_SOCIAL_FEED_LUA_COUNTS
    "local n = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[1]) "
    "if n > 0 then "
    "  for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, n - 1)) do "
    "    count(m, -1) end "
    "  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - 1) "
    "  local low = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES') "
    "  redis.call('SET', KEYS[2], low[2]) "
    "end "
    "if tonumber(redis.call('HGET', A, '*')) "
    "   ~= redis.call('ZCARD', KEYS[1]) then "
    "  redis.call('DEL', A) "
    "  for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do "
    "    count(m, 1) end "
    "end "
    "return math.max(n, 0)",
    "", NULL, ""
};


/*
 * the events above a mark, newest first, as members of the set, and
 * whether events committed above the horizon (a row of NULLs when there
 * are no members)
 */

static const char  ngx_http_social_sql_feed_members[] =
    "SELECT m.event_id, m.member, h.held "
    "  FROM (SELECT EXISTS (SELECT 1 FROM events "
    "                        WHERE event_id >= social_event_horizon()) "
    "               AS held) h "
    "  LEFT JOIN LATERAL ("
    "SELECT e.event_id, e.event_id || '|' || e.type || '|' || e.actor_id "
    "       || '|' || coalesce(e.post_id, 0) "
    "       || '|' || coalesce(p.author_id, 0) "
    "       || '|' || coalesce(e.target_id, 0) "
    "       || '|' || social_time(e.created_at) AS member "
    "  FROM events e LEFT JOIN posts p ON p.post_id = e.post_id "
    " WHERE e.event_id > $1 AND e.event_id < social_event_horizon() "
    " ORDER BY e.event_id DESC "
    " LIMIT $2) m ON true";


/* of the members' ids, those PostgreSQL no longer has */

static const char  ngx_http_social_sql_feed_gone[] =
    "SELECT array_agg(id)::text FROM unnest($1::bigint[]) id "
    " WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = id)";


typedef struct {
    ngx_uint_t                      tries;
    ngx_uint_t                      reset;      /* unsigned:1 */
    ngx_uint_t                      lost;       /* unsigned:1 */
    ngx_str_t                       gen;
    ngx_str_t                       top;
    off_t                           written;    /* when it began */
    const char                     *values[2];
} ngx_http_social_feed_load_t;


/* the refresh runs in the worker that wrote, the trim in one worker */

static ngx_http_social_job_t  ngx_http_social_feed_refresh_job;
static ngx_http_social_job_t  ngx_http_social_feed_trim_job;


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
    size_t                        lens[1 + NGX_HTTP_SOCIAL_FEED_MARKS];
    const char                   *argv[1 + NGX_HTTP_SOCIAL_FEED_MARKS];
    ngx_http_social_ctx_t        *ctx;
    ngx_http_social_argv_t        a;
    ngx_http_social_feed_load_t  *load;

    ctx = job->ctx;

    if (job->data == NULL) {
        load = ngx_pcalloc(ctx->pool, sizeof(ngx_http_social_feed_load_t));
        if (load == NULL) {
            ngx_http_social_job_done(job);
            return;
        }

        job->data = load;
    }

    ngx_http_social_argv_init(&a, argv, lens, 1 + NGX_HTTP_SOCIAL_FEED_MARKS);

    ngx_http_social_argv_set(&a, 0, "MGET");
    ngx_http_social_argv_set(&a, 1 + NGX_HTTP_SOCIAL_FEED_MARK_TOP,
                             NGX_HTTP_SOCIAL_KEY_FEED_TOP);
    ngx_http_social_argv_set(&a, 1 + NGX_HTTP_SOCIAL_FEED_MARK_GEN,
                             NGX_HTTP_SOCIAL_KEY_FEED_GEN);
    ngx_http_social_argv_set(&a, 1 + NGX_HTTP_SOCIAL_FEED_MARK_WRITTEN,
                             NGX_HTTP_SOCIAL_KEY_FEED_WRITTEN);

    if (ngx_http_social_redis_command(ctx, ngx_http_social_feed_marks,
                                      a.argc, a.argv, a.lens)
        != NGX_OK)
    {
        ngx_http_social_job_done(job);
    }
}


static void
ngx_http_social_feed_marks(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    ngx_http_social_job_t  *job = ctx->data;

    redisReply                   *top, *gen, *written;
    ngx_uint_t                    n;
    ngx_http_social_feed_load_t  *load;

    load = job->data;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != NGX_HTTP_SOCIAL_FEED_MARKS)
    {
        ngx_http_social_job_done(job);
        return;
    }

    top = reply->element[NGX_HTTP_SOCIAL_FEED_MARK_TOP];
    gen = reply->element[NGX_HTTP_SOCIAL_FEED_MARK_GEN];
    written = reply->element[NGX_HTTP_SOCIAL_FEED_MARK_WRITTEN];

    load->written = (written->type == REDIS_REPLY_STRING)
                    ? ngx_atoof((u_char *) written->str, written->len) : 0;

    if (load->written == NGX_ERROR) {
        load->written = 0;
    }

    load->reset = (top->type != REDIS_REPLY_STRING || load->lost);
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

    int                           i, n, id, member;
    ngx_uint_t                    held;
    const char                   *top, *written;
    ngx_http_social_argv_t        a;
    ngx_http_social_feed_load_t  *load;

    load = job->data;

    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
        ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                      "social: feed refresh failed: %s",
                      res ? PQresultErrorMessage(res) : "no connection");
        ngx_http_social_job_done(job);
        return;
    }

    /*
     * one row at least: without members, a row of NULLs; held: events
     * committed above the horizon, which the set cannot take yet, so the
     * writes counted are not all in it
     */

    n = PQntuples(res);

    held = (n > 0
            && PQgetvalue(res, 0, NGX_HTTP_SOCIAL_FEED_MEMBERS_COL_HELD)[0]
               == 't');

    if (n == 1 && PQgetisnull(res, 0, NGX_HTTP_SOCIAL_FEED_MEMBERS_COL_ID)) {
        n = 0;
    }

    if (!load->reset && n > (int) ctx->smcf->feed_cache_size) {
        load->reset = 1;
    }

    if (load->reset) {
        n = ngx_min(n, (int) ctx->smcf->feed_cache_size);
    }

    if (ngx_http_social_argv_create(&a, ctx->pool,
                                    NGX_HTTP_SOCIAL_FEED_LOAD_MEMBERS + n)
        != NGX_OK)
    {
        ngx_http_social_job_done(job);
        return;
    }

    top = load->top.len ? (char *) load->top.data : "";

    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_LOAD_NKEYS, "4");
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_LOAD_RECENT,
                             NGX_HTTP_SOCIAL_KEY_FEED_RECENT);
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_LOAD_TOP,
                             NGX_HTTP_SOCIAL_KEY_FEED_TOP);
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_LOAD_BOTTOM,
                             NGX_HTTP_SOCIAL_KEY_FEED_BOTTOM);
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_LOAD_GEN,
                             NGX_HTTP_SOCIAL_KEY_FEED_GEN);
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_LOAD_MODE,
                             load->reset ? "reset" : "extend");
    ngx_http_social_argv_set_len(&a, NGX_HTTP_SOCIAL_FEED_LOAD_GEN_READ,
                                 (char *) load->gen.data, load->gen.len);
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_LOAD_TOP_READ, top);

    /* top: the newest event read, or what it was; bottom: 0 is "all" */

    id = NGX_HTTP_SOCIAL_FEED_MEMBERS_COL_ID;
    member = NGX_HTTP_SOCIAL_FEED_MEMBERS_COL_MEMBER;

    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_LOAD_NEW_TOP,
                             n ? PQgetvalue(res, 0, id)
                               : (load->reset ? "0" : top));
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_LOAD_NEW_BOTTOM,
                             (n < (int) ctx->smcf->feed_cache_size)
                             ? "0" : PQgetvalue(res, n - 1, id));
    written = ngx_http_social_int64(ctx, held ? 0 : load->written);

    if (written == NULL) {
        ngx_http_social_job_done(job);
        return;
    }

    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_LOAD_WRITTEN, written);

    for (i = 0; i < n; i++) {
        ngx_http_social_argv_set_len(&a, NGX_HTTP_SOCIAL_FEED_LOAD_MEMBERS + i,
                                     PQgetvalue(res, i, member),
                                     PQgetlength(res, i, member));
    }

    if (ngx_http_social_redis_script(ctx, ngx_http_social_feed_loaded,
                                     &ngx_http_social_feed_load_script,
                                     a.argc, a.argv, a.lens)
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
        /*
         * -1: a delete or another load came between; -2: the set is gone
         * but not its marks (evicted by Redis, deleted by hand): once more
         */
        load->lost = (reply->integer == -2);
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
    size_t                   lens[NGX_HTTP_SOCIAL_FEED_TRIM_ARGC];
    const char              *argv[NGX_HTTP_SOCIAL_FEED_TRIM_ARGC];
    const char              *size;
    ngx_http_social_ctx_t   *ctx;
    ngx_http_social_argv_t   a;

    ctx = job->ctx;

    /*
     * and the refresh: events that commit without a write of this node
     * after them (held behind the horizon, written on another node whose
     * refresh failed) reach the set within the trim's interval, as reads
     * that find their context in Redis do not ask PostgreSQL
     */

    ngx_http_social_feed_changed();

    size = ngx_http_social_int64(ctx, ctx->smcf->feed_cache_size);

    if (size == NULL) {
        ngx_http_social_job_done(job);
        return;
    }

    ngx_http_social_argv_init(&a, argv, lens, NGX_HTTP_SOCIAL_FEED_TRIM_ARGC);

    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_TRIM_NKEYS, "2");
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_TRIM_RECENT,
                             NGX_HTTP_SOCIAL_KEY_FEED_RECENT);
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_TRIM_BOTTOM,
                             NGX_HTTP_SOCIAL_KEY_FEED_BOTTOM);
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_TRIM_SIZE, size);

    if (ngx_http_social_redis_script(ctx, ngx_http_social_feed_trimmed,
                                     &ngx_http_social_feed_trim_script,
                                     a.argc, a.argv, a.lens)
        != NGX_OK)
    {
        ngx_http_social_job_done(job);
    }
}


static void
ngx_http_social_feed_trimmed(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    ngx_http_social_job_t  *job = ctx->data;

    size_t                  lens[4];
    const char             *argv[4];
    ngx_http_social_argv_t  a;

    if (reply && reply->type == REDIS_REPLY_INTEGER) {
        ngx_log_error(NGX_LOG_INFO, ctx->log, 0,
                      "social: feed trimmed by %i events", reply->integer);
        ngx_http_social_shm_trimmed();

    } else {
        ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                      "social: feed trim failed: %s",
                      reply ? reply->str : "no reply");
        ngx_http_social_job_done(job);
        return;
    }

    /* the repair: the members PostgreSQL no longer has */

    ngx_http_social_argv_init(&a, argv, lens, 4);

    ngx_http_social_argv_set(&a, 0, "ZRANGE");
    ngx_http_social_argv_set(&a, 1, NGX_HTTP_SOCIAL_KEY_FEED_RECENT);
    ngx_http_social_argv_set(&a, 2, "0");
    ngx_http_social_argv_set(&a, 3, "-1");

    if (ngx_http_social_redis_command(ctx, ngx_http_social_feed_members,
                                      a.argc, a.argv, a.lens)
        != NGX_OK)
    {
        ngx_http_social_job_done(job);
    }
}


static void
ngx_http_social_feed_members(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    ngx_http_social_job_t  *job = ctx->data;

    u_char       *p, *q, *last;
    size_t        i;
    const char  **values;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        ngx_http_social_job_done(job);
        return;
    }

    /* the ids of the members as an array "{1,2,3}" */

    values = ngx_palloc(ctx->pool, sizeof(char *));
    p = ngx_pnalloc(ctx->pool, reply->elements * (NGX_INT64_LEN + 1) + 3);

    if (values == NULL || p == NULL) {
        ngx_http_social_job_done(job);
        return;
    }

    values[0] = (char *) p;
    *p++ = '{';

    for (i = 0; i < reply->elements; i++) {
        if (reply->element[i]->type != REDIS_REPLY_STRING) {
            continue;
        }

        q = (u_char *) reply->element[i]->str;
        last = q + ngx_min(reply->element[i]->len, NGX_INT64_LEN);

        while (q < last && *q >= '0' && *q <= '9') {
            *p++ = *q++;
        }

        *p++ = ',';
    }

    if (p[-1] == ',') {
        p--;
    }

    *p++ = '}';
    *p = '\0';

    if (ngx_http_social_pg_query(ctx, ngx_http_social_sql_feed_gone, 1,
                                 values, ngx_http_social_feed_gone)
        != NGX_OK)
    {
        ngx_http_social_job_done(job);
    }
}


static void
ngx_http_social_feed_gone(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_job_t  *job = ctx->data;

    ngx_http_social_forget_t  f;

    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK
        || PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
    {
        if (res && PQresultStatus(res) != PGRES_TUPLES_OK) {
            ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                          "social: feed repair failed: %s",
                          PQresultErrorMessage(res));
        }

        ngx_http_social_job_done(job);

        /* a set that was flushed or evicted is filled again */
        ngx_http_social_feed_changed();
        return;
    }

    ngx_log_error(NGX_LOG_WARN, ctx->log, 0,
                  "social: events %s were deleted behind the feed in Redis, "
                  "taken out", PQgetvalue(res, 0, 0));

    ngx_memzero(&f, sizeof(ngx_http_social_forget_t));
    f.events = PQgetvalue(res, 0, 0);

    if (ngx_http_social_feed_forget_send(ctx, &f,
                                         ngx_http_social_feed_repaired)
        != NGX_OK)
    {
        ngx_http_social_job_done(job);
    }
}


static void
ngx_http_social_feed_repaired(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    ngx_http_social_job_done(ctx->data);
    ngx_http_social_feed_changed();
}


/*
 * A delete or a change: its events out of the set, its cached objects
 * dropped, the generations moved on.  Then next(ctx), or with next NULL
 * the answer 204, once Redis has done it.  When Redis cannot, the trim
 * job's repair takes the events out later (within social_trim_interval);
 * cached objects then live out their social_object_ttl.
 */

void
ngx_http_social_feed_forget(ngx_http_social_ctx_t *ctx,
    ngx_http_social_forget_t *f, ngx_http_social_step_pt next)
{
    ctx->next = next;
    ctx->feed_written = f->written;
    ctx->feed_touch[0] = f->touch[0];
    ctx->feed_touch[1] = f->touch[1];

    if (ctx->smcf->redis_addr.len == 0) {
        /* no feed in Redis: nothing to take out */
        ngx_http_social_feed_forget_next(ctx);
        return;
    }

    if (ngx_http_social_feed_forget_send(ctx, f,
                                         ngx_http_social_feed_forgotten)
        != NGX_OK)
    {
        ngx_http_social_feed_forgotten(ctx, NULL);
    }
}


static ngx_int_t
ngx_http_social_feed_forget_send(ngx_http_social_ctx_t *ctx,
    ngx_http_social_forget_t *f, ngx_http_social_redis_handler_pt handler)
{
    u_char                  *p;
    ngx_uint_t               n, k, slot;
    ngx_http_social_argv_t   a;

    n = NGX_HTTP_SOCIAL_FEED_FORGET_EVENTS
        + ngx_http_social_pg_array_max(f->events ? ngx_strlen(f->events) : 0)
        + ngx_http_social_pg_array_max(f->posts ? ngx_strlen(f->posts) : 0);

    p = ngx_pnalloc(ctx->pool, NGX_INT64_LEN);

    if (ngx_http_social_argv_create(&a, ctx->pool, n) != NGX_OK
        || p == NULL)
    {
        return NGX_ERROR;
    }

    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_FORGET_NKEYS, "3");
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_FORGET_RECENT,
                             NGX_HTTP_SOCIAL_KEY_FEED_RECENT);
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_FORGET_GEN,
                             NGX_HTTP_SOCIAL_KEY_FEED_GEN);
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_FORGET_OBJGEN,
                             NGX_HTTP_SOCIAL_KEY_FEED_OBJGEN);
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_FORGET_USER,
                             f->user ? f->user : "0");
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_FORGET_USER_OBJECT,
                             f->user_object ? f->user_object : "0");
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_FORGET_TOUCH,
                             f->touch[0] ? f->touch[0] : "0");
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_FORGET_TOUCH_OTHER,
                             f->touch[1] ? f->touch[1] : "0");
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_FORGET_WRITTEN,
                             f->written ? "1" : "0");

    /* the event ids, then the posts, from PostgreSQL's "{1,2,3}" */

    slot = NGX_HTTP_SOCIAL_FEED_FORGET_EVENTS;

    k = f->events ? ngx_http_social_pg_array_ids(f->events, &a.argv[slot],
                                                 &a.lens[slot], n - slot)
                  : 0;

    ngx_http_social_argv_filled(&a, slot, k);

    ngx_http_social_argv_set_len(&a, NGX_HTTP_SOCIAL_FEED_FORGET_NEVENTS,
                                 (char *) p, ngx_sprintf(p, "%ui", k) - p);

    slot += k;

    if (f->posts) {
        ngx_http_social_argv_filled(&a, slot,
                                    ngx_http_social_pg_array_ids(f->posts,
                                        &a.argv[slot], &a.lens[slot],
                                        n - slot));
    }

    return ngx_http_social_redis_script(ctx, handler,
                                        &ngx_http_social_feed_forget_script,
                                        a.argc, a.argv, a.lens);
}


static void
ngx_http_social_feed_forgotten(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        ngx_log_error(NGX_LOG_WARN, ctx->log, 0,
                      "social: a change did not reach the feed in Redis, "
                      "the trim job will take its events out");

        ngx_http_social_feed_distrust(ctx->feed_touch[0]);
        ngx_http_social_feed_distrust(ctx->feed_touch[1]);
    }

    /*
     * the refresh after the write was counted, so that it reads the count
     * with it and the set holds all that was written
     */

    if (ctx->feed_written) {
        ngx_http_social_feed_changed();
    }

    ngx_http_social_feed_forget_next(ctx);
}


/* the step after: the request's own, or 204 */

static void
ngx_http_social_feed_forget_next(ngx_http_social_ctx_t *ctx)
{
    if (ctx->next) {
        ctx->next(ctx);
        return;
    }

    ngx_http_social_done(ctx, ngx_http_social_send(ctx, NGX_HTTP_NO_CONTENT,
                                                   NULL));
}
