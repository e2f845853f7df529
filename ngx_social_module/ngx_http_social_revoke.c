
/*
 * Copyright (C) ngx_social developers
 */


/*
 * Revocation: whether a token's generation is still its user's, decided
 * on every node within a second of PostgreSQL's commit whatever Redis
 * does, and without a round trip on the common path.
 *
 * PostgreSQL's users.token_gen is the truth.  Every move of it upwards and
 * every delete is a numbered record of the revocation log, written by a
 * trigger whatever the path (sql/006_revocations.sql): numbers without
 * gaps, committed in their order.  Redis shares the generations
 * (social:gen:<id>, only upwards, for an hour) and the number of the last
 * record it holds (social:rev), which a publish moves on only from n - 1
 * to n: a publish that was lost leaves Redis visibly behind.
 *
 * Each worker reads the log every 500 ms (ngx_http_social_revoke_poll.c):
 * the generations it remembers move on with the records, and what Redis
 * missed is published again.  Once a worker has read up to the counter,
 * its memory holds every commit made before that read was sent.
 *
 * The check of generation g of user u, for a token:
 *
 *   - from the worker's memory of u, without a round trip, when it is
 *     current: the last complete read of the log was sent less than
 *     900 ms ago, and the memory of u holds every record read;
 *   - else Redis, one round trip (MGET social:gen:<u> social:rev), when
 *     Redis holds every record this worker has read;
 *   - else PostgreSQL: when Redis is behind, lacks the user, fails, or
 *     holds an older generation than the token's (a token we signed with
 *     g means that PostgreSQL had g).  Only when PostgreSQL fails too is
 *     the answer 503.
 *
 * A token older than a generation seen anywhere is refused at once:
 * generations only go up, and every value comes from PostgreSQL.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_revoke.h"
#include "ngx_http_social_keys.h"


/*
 * the users a worker remembers, a slot each by id: 2 MB, walked once by a
 * read of the log that brought records (35 us, measured)
 */
#define NGX_HTTP_SOCIAL_MEMO_SIZE          65536

/* a worker remembers a user's generation this long at most */
#define NGX_HTTP_SOCIAL_MEMO_MSEC          10000

/* the age of the worker's last complete read of the log still current */
#define NGX_HTTP_SOCIAL_REVOKE_CURRENT     900

typedef struct {
    int64_t                         user_id;
    int64_t                         gen;
    int64_t                         rev;        /* holds the records to it */
    ngx_msec_t                      expires;
} ngx_http_social_memo_t;


static ngx_int_t ngx_http_social_revoke_recall(int64_t user_id,
    int64_t *gen);
static void ngx_http_social_revoke_redis(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static ngx_int_t ngx_http_social_revoke_ask_pg(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_revoke_pg(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_revoke_decide(ngx_http_social_ctx_t *ctx,
    int64_t gen, int64_t rev);
static void ngx_http_social_revoke_remember(int64_t user_id, int64_t gen,
    int64_t rev);
static ngx_int_t ngx_http_social_revoke_send(ngx_http_social_ctx_t *ctx,
    int64_t user_id, int64_t gen, int64_t rev,
    ngx_http_social_redis_handler_pt handler);
static void ngx_http_social_revoke_published(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static ngx_http_social_memo_t *ngx_http_social_memo(int64_t user_id);


static ngx_http_social_memo_t
    ngx_http_social_memos[NGX_HTTP_SOCIAL_MEMO_SIZE];

ngx_http_social_revoke_log_t  ngx_http_social_revoke_log;


static const char  ngx_http_social_sql_revoke_gen[] =
    "SELECT (SELECT token_gen FROM users WHERE user_id = $1), rev "
    "  FROM revocation_counter";

static ngx_http_social_script_t  ngx_http_social_revoke_publish_script = {
    /*
     * KEYS: social:gen:<id>, social:rev; ARGV: the generation, the TTL,
     * the record's number (0: none).  The generation only upwards, the
     * number only from n - 1 to n.
     */
    "local c = tonumber(redis.call('GET', KEYS[1]) or '-1') "
    "if tonumber(ARGV[1]) >= c then "
    "  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end "
    "local n = tonumber(ARGV[3]) "
    "if n > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') == n - 1 then "
    "  redis.call('SET', KEYS[2], ARGV[3]) end "
    "return 1",
    "", NULL, ""
};


/*
 * The check of ctx->token_gen for ctx->user_id.  NGX_OK: current;
 * NGX_HTTP_UNAUTHORIZED: revoked; NGX_DONE: a backend is asked and
 * ctx->auth_handler runs with ctx->auth_status set;
 * NGX_HTTP_SERVICE_UNAVAILABLE: it could not be checked.
 */

ngx_int_t
ngx_http_social_revoke_check(ngx_http_social_ctx_t *ctx)
{
    u_char      *p;
    size_t       lens[3];
    int64_t      gen;
    ngx_int_t    rc;
    const char  *args[3];

    ngx_http_social_revoke_poll_start();

    rc = ngx_http_social_revoke_recall(ctx->user_id, &gen);

    if (rc != NGX_DECLINED && ctx->token_gen < gen) {
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                       "social auth: token generation %L of user %L is "
                       "revoked (remembered %L)",
                       ctx->token_gen, ctx->user_id, gen);
        return NGX_HTTP_UNAUTHORIZED;
    }

    if (rc == NGX_OK && ctx->token_gen == gen) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                       "social auth: generation %L of user %L remembered",
                       gen, ctx->user_id);
        return NGX_OK;
    }

    /* not remembered, not current, or a token newer than remembered */

    p = ngx_pnalloc(ctx->pool,
                    sizeof(NGX_HTTP_SOCIAL_KEY_GEN) + NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    args[0] = "MGET";
    lens[0] = sizeof("MGET") - 1;
    args[1] = (char *) p;
    lens[1] = ngx_sprintf(p, NGX_HTTP_SOCIAL_KEY_GEN "%L", ctx->user_id) - p;
    args[2] = NGX_HTTP_SOCIAL_KEY_REV;
    lens[2] = sizeof(NGX_HTTP_SOCIAL_KEY_REV) - 1;

    if (ngx_http_social_redis_command(ctx, ngx_http_social_revoke_redis, 3,
                                      args, lens)
        != NGX_OK
        && ngx_http_social_revoke_ask_pg(ctx) != NGX_OK)
    {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    return NGX_DONE;
}


/*
 * NGX_OK: *gen is the user's generation as of less than a second ago;
 * NGX_AGAIN: *gen is one the user had (an older token is revoked), not
 * known to be current; NGX_DECLINED: nothing remembered
 */

static ngx_int_t
ngx_http_social_revoke_recall(int64_t user_id, int64_t *gen)
{
    ngx_http_social_memo_t        *m;
    ngx_http_social_revoke_log_t  *log;

    log = &ngx_http_social_revoke_log;
    m = ngx_http_social_memo(user_id);

    if (m->user_id != user_id
        || (ngx_msec_int_t) (m->expires - ngx_current_msec) <= 0)
    {
        return NGX_DECLINED;
    }

    *gen = m->gen;

    if (log->read
        && m->rev >= log->rev
        && ngx_current_msec - log->current < NGX_HTTP_SOCIAL_REVOKE_CURRENT)
    {
        return NGX_OK;
    }

    return NGX_AGAIN;
}


/* {generation or nil, Redis's number or nil} */

static void
ngx_http_social_revoke_redis(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    int64_t                        gen, rev;
    redisReply                    *e;
    ngx_http_social_revoke_log_t  *log;

    log = &ngx_http_social_revoke_log;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 2)
    {
        /* Redis failed: PostgreSQL knows */
        rev = -1;
        goto pg;
    }

    e = reply->element[1];
    rev = (e->type == REDIS_REPLY_STRING)
          ? ngx_http_social_revoke_int(e->str, e->len) : 0;

    if (rev < log->redis) {
        /* behind, or set back: the next poll looks at it */
        log->redis = rev;
    }

    e = reply->element[0];

    if (e->type == REDIS_REPLY_STRING) {
        gen = ngx_http_social_revoke_int(e->str, e->len);

        /* Redis holds every record this worker has read */

        if (ctx->token_gen < gen
            || (ctx->token_gen == gen && log->read && rev >= log->rev))
        {
            ngx_http_social_revoke_decide(ctx, gen, rev);
            return;
        }
    }

    /*
     * not in Redis (expired, flushed), Redis behind the log (a publish
     * lost, an older snapshot), or a token newer than Redis's
     */

pg:

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "social auth: user %L asked of PostgreSQL (Redis at "
                   "revocation %L, the log at %L)",
                   ctx->user_id, rev, log->rev);

    if (ngx_http_social_revoke_ask_pg(ctx) != NGX_OK) {
        ctx->auth_status = NGX_HTTP_SERVICE_UNAVAILABLE;
        ctx->auth_handler(ctx);
    }
}


static ngx_int_t
ngx_http_social_revoke_ask_pg(ngx_http_social_ctx_t *ctx)
{
    const char  **values;

    values = ngx_palloc(ctx->pool, sizeof(char *));
    if (values == NULL
        || (values[0] = ngx_http_social_int64(ctx, ctx->user_id)) == NULL)
    {
        return NGX_ERROR;
    }

    return ngx_http_social_pg_query(ctx, ngx_http_social_sql_revoke_gen, 1,
                                    values, ngx_http_social_revoke_pg);
}


/* {the user's generation or null, the counter}: one snapshot */

static void
ngx_http_social_revoke_pg(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    int64_t  gen, rev;

    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK
        || PQntuples(res) != 1)
    {
        ctx->auth_status = NGX_HTTP_SERVICE_UNAVAILABLE;
        ctx->auth_handler(ctx);
        return;
    }

    gen = PQgetisnull(res, 0, 0)
          ? NGX_HTTP_SOCIAL_GEN_GONE
          : ngx_http_social_revoke_int(PQgetvalue(res, 0, 0),
                                       PQgetlength(res, 0, 0));
    rev = ngx_http_social_revoke_int(PQgetvalue(res, 0, 1),
                                     PQgetlength(res, 0, 1));

    /* Redis is told, upwards only, for the next worker that asks */

    (void) ngx_http_social_revoke_send(ctx, ctx->user_id, gen, 0, NULL);

    ngx_http_social_revoke_decide(ctx, gen, rev);
}


static void
ngx_http_social_revoke_decide(ngx_http_social_ctx_t *ctx, int64_t gen,
    int64_t rev)
{
    ngx_http_social_revoke_remember(ctx->user_id, gen, rev);

    ctx->auth_status = (gen == ctx->token_gen) ? NGX_OK
                                               : NGX_HTTP_UNAUTHORIZED;

    if (ctx->auth_status != NGX_OK) {
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                       "social auth: token generation %L of user %L is "
                       "revoked (now %L)", ctx->token_gen, ctx->user_id, gen);
    }

    ctx->auth_handler(ctx);
}


/*
 * gen is the user's generation in a state of PostgreSQL that held the
 * records up to rev: remembered when that is at least what this worker
 * has read (the poll moves it on from there)
 */

static void
ngx_http_social_revoke_remember(int64_t user_id, int64_t gen, int64_t rev)
{
    ngx_http_social_memo_t        *m;
    ngx_http_social_revoke_log_t  *log;

    log = &ngx_http_social_revoke_log;
    m = ngx_http_social_memo(user_id);

    if (m->user_id == user_id
        && (ngx_msec_int_t) (m->expires - ngx_current_msec) > 0)
    {
        /* generations only go up: the higher one holds */

        if (m->gen > gen) {
            gen = m->gen;
        }

        if (m->rev > rev) {
            rev = m->rev;
        }

        m->gen = gen;
    }

    if (!log->read || rev < log->rev) {
        return;
    }

    m->user_id = user_id;
    m->gen = gen;
    m->rev = rev;
    m->expires = ngx_current_msec + NGX_HTTP_SOCIAL_MEMO_MSEC;
}


/*
 * After a commit that moved a user's generation on (record rev, 0 when
 * none): this worker knows at once, Redis is told, and the endpoint goes
 * on with "next" whatever Redis answered.  A publish that fails is
 * repaired: every worker reads the record within a second, and their
 * polls publish it again.
 */

void
ngx_http_social_revoke_publish(ngx_http_social_ctx_t *ctx, int64_t user_id,
    int64_t gen, int64_t rev, ngx_http_social_step_pt next)
{
    ngx_http_social_revoke_remember(user_id, gen, rev);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "social auth: publishing generation %L of user %L, "
                   "revocation %L", gen, user_id, rev);

    ctx->next = next;

    if (ngx_http_social_revoke_send(ctx, user_id, gen, rev,
                                    ngx_http_social_revoke_published)
        != NGX_OK)
    {
        ngx_http_social_revoke_published(ctx, NULL);
    }
}


static void
ngx_http_social_revoke_published(ngx_http_social_ctx_t *ctx,
    redisReply *reply)
{
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_WARN, ctx->log, 0,
                      "social: a revocation did not reach Redis (%s), "
                      "the workers read it from PostgreSQL and publish it "
                      "again",
                      reply ? reply->str : "unavailable");
    }

    ctx->next(ctx);
}


/* the generation upwards, the number from rev - 1 to rev (0: none) */

static ngx_int_t
ngx_http_social_revoke_send(ngx_http_social_ctx_t *ctx, int64_t user_id,
    int64_t gen, int64_t rev, ngx_http_social_redis_handler_pt handler)
{
    u_char      *key, *val, *num;
    size_t       lens[6];
    const char  *args[6];

    key = ngx_pnalloc(ctx->pool,
                      sizeof(NGX_HTTP_SOCIAL_KEY_GEN) + NGX_INT64_LEN);
    val = ngx_pnalloc(ctx->pool, NGX_INT64_LEN);
    num = ngx_pnalloc(ctx->pool, NGX_INT64_LEN);

    if (key == NULL || val == NULL || num == NULL) {
        return NGX_ERROR;
    }

    args[0] = "2";
    args[1] = (char *) key;
    args[2] = NGX_HTTP_SOCIAL_KEY_REV;
    args[3] = (char *) val;
    args[4] = NGX_HTTP_SOCIAL_GEN_TTL_TEXT;
    args[5] = (char *) num;

    lens[0] = 1;
    lens[1] = ngx_sprintf(key, NGX_HTTP_SOCIAL_KEY_GEN "%L", user_id) - key;
    lens[2] = sizeof(NGX_HTTP_SOCIAL_KEY_REV) - 1;
    lens[3] = ngx_sprintf(val, "%L", gen) - val;
    lens[4] = sizeof(NGX_HTTP_SOCIAL_GEN_TTL_TEXT) - 1;
    lens[5] = ngx_sprintf(num, "%L", rev) - num;

    return ngx_http_social_redis_script(ctx, handler,
                                        &ngx_http_social_revoke_publish_script,
                                        6, args, lens);
}


/* the record's number that the statement's transaction wrote, or 0 */

int64_t
ngx_http_social_revoke_number(PGresult *res, int col)
{
    if (PQgetisnull(res, 0, col)) {
        return 0;
    }

    return ngx_http_social_revoke_int(PQgetvalue(res, 0, col),
                                      PQgetlength(res, 0, col));
}


/*
 * The records after log->rev, in order: each raises the generation
 * remembered for its user; then every memory that held the records up to
 * log->rev holds them up to the last one.  A gap (records pruned before
 * this worker read them) or a TRUNCATE of users (user 0) forgets all.
 */

void
ngx_http_social_revoke_apply(PGresult *res, int64_t counter)
{
    int                            i, n;
    int64_t                        rev, last, user_id, gen;
    ngx_uint_t                     forget;
    ngx_http_social_memo_t        *m;
    ngx_http_social_revoke_log_t  *log;

    log = &ngx_http_social_revoke_log;

    n = PQntuples(res);
    last = log->rev;
    forget = 0;

    for (i = 0; i < n; i++) {
        if (PQgetisnull(res, i, 1)) {
            break;
        }

        rev = ngx_http_social_revoke_int(PQgetvalue(res, i, 1),
                                         PQgetlength(res, i, 1));
        user_id = ngx_http_social_revoke_int(PQgetvalue(res, i, 2),
                                             PQgetlength(res, i, 2));
        gen = ngx_http_social_revoke_int(PQgetvalue(res, i, 3),
                                         PQgetlength(res, i, 3));

        if (rev != last + 1 || user_id == 0) {
            forget = 1;
        }

        last = rev;

        m = ngx_http_social_memo(user_id);

        if (m->user_id == user_id && m->gen < gen) {
            m->gen = gen;
        }

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "social revoke: record %L, user %L, generation %L",
                       rev, user_id, gen);
    }

    if (last == log->rev && counter > log->rev) {
        /* none left of those after what was read: pruned */
        forget = 1;
        last = counter;
    }

    if (forget) {
        ngx_http_social_revoke_forget();

    } else if (last != log->rev) {
        for (i = 0; i < NGX_HTTP_SOCIAL_MEMO_SIZE; i++) {
            m = &ngx_http_social_memos[i];

            if (m->user_id && m->rev >= log->rev && m->rev < last) {
                m->rev = last;
            }
        }
    }

    log->rev = last;
}


void
ngx_http_social_revoke_forget(void)
{
    ngx_memzero(ngx_http_social_memos, sizeof(ngx_http_social_memos));
}


int64_t
ngx_http_social_revoke_int(const char *s, size_t len)
{
    off_t  n;

    n = ngx_atoof((u_char *) s, len);

    return (n == NGX_ERROR) ? -1 : (int64_t) n;
}


static ngx_http_social_memo_t *
ngx_http_social_memo(int64_t user_id)
{
    return &ngx_http_social_memos[(uint64_t) user_id
                                  % NGX_HTTP_SOCIAL_MEMO_SIZE];
}
