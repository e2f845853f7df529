
/*
 * Copyright (C) ngx_social developers
 */


/*
 * GET /feed?limit=&before=: the events of the reader and of whom the reader
 * follows now, newest first, without any event whose actor, post author or
 * target is in a block with the reader.  The filter is in the query, so a
 * page is full whenever more matching events exist; the cursor is the last
 * event id of the page, so new events never shift a page (no duplicates,
 * no gaps).
 *
 *   1. The arguments: the limit and the cursor (422).  Without Redis, or
 *      for a reader the set could not serve a moment ago (a quiet reader,
 *      see NGX_HTTP_SOCIAL_FEED_QUIET), the whole page comes from
 *      PostgreSQL (6).
 *   2. PostgreSQL: the reader's follows and blocks, and the last event id
 *      (ngx_http_social_feed_context()).
 *   3. Redis, one function of the feed store (_feed_context.c): it walks
 *      the recent set down from the cursor, filters it and answers the
 *      page's events (ngx_http_social_feed_cached()); their cached post
 *      and user objects are the next command, an MGET of keys built from
 *      the events' ids (ngx_http_social_feed_objects_read()): an MGET sent
 *      by itself costs Redis a fraction of the same from Lua.  A set
 *      that is stale (its refresh is kicked), one short of events while
 *      up to date, its actors' counts saying that the reader's follows
 *      have too few events in it ("few": the reader is quiet for a
 *      while), or a reply not as written: 6.
 *   4. The set as new as PostgreSQL and every object cached (an object
 *      deleted since the walk is not): the page from Redis alone
 *      (ngx_http_social_feed_render(), written by
 *      ngx_http_social_feed_page.c).
 *   5. Else PostgreSQL: the events the set chose, by id, and the reader's
 *      events newer than the set (ngx_http_social_feed_fetched()).  An
 *      event the set chose went meanwhile, or the set held too few: 6.
 *      Else the objects go back to Redis, fire and forget
 *      (ngx_http_social_feed_put()), and the page is made of these rows.
 *   6. The whole page from PostgreSQL (ngx_http_social_feed_pg()), made
 *      by ngx_http_social_feed_read().
 *
 * The cursor is the same whichever way a page comes.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_request.h"
#include "ngx_http_social_args.h"
#include "ngx_http_social_endpoints.h"
#include "ngx_http_social_feed_cache.h"
#include "ngx_http_social_feed_page.h"
#include "ngx_http_social_feed_sql.h"
#include "ngx_http_social_keys.h"
#include "ngx_http_social_argv.h"
#include "ngx_http_social_pg_array.h"


/* how many recent events a read may look at before it asks PostgreSQL */
#define NGX_HTTP_SOCIAL_FEED_SCAN_TEXT  "5000"

/*
 * The worker's quiet readers: a reader whose follows had fewer events in
 * the set than a page ("few") goes straight to PostgreSQL (6) for this
 * long, without the context and the script, which would most likely say
 * the same.  PostgreSQL's page is the truth whichever way a page comes, so
 * this changes only what a page costs.
 */
#define NGX_HTTP_SOCIAL_FEED_QUIET       4096
#define NGX_HTTP_SOCIAL_FEED_QUIET_TIME  5000



typedef struct {
    const char                     *values[5];  /* reader, before, limit,
                                                   after, others' bound */
    ngx_uint_t                      limit;
    int64_t                         last;       /* in PostgreSQL */
    int64_t                         top;        /* in the set */
    ngx_uint_t                      count;      /* events the set chose */
    ngx_uint_t                      short_page; /* unsigned:1 */
    ngx_uint_t                      quiet;      /* unsigned:1 */
    ngx_str_t                       gen;        /* of the cached objects */
    ngx_http_social_feed_event_t   *events;     /* the set chose: count */
    const char                     *rgen;       /* the reader's, read
                                                   before the context */
    const char                     *keys[2];    /* the reader's context,
                                                   generation */
    const char                     *ids[6];
} ngx_http_social_feed_t;


static ngx_int_t ngx_http_social_feed_known(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_feed_knew(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_feed_keys(ngx_http_social_ctx_t *ctx,
    ngx_http_social_argv_t *a);
static void ngx_http_social_feed_context(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_feed_cached(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_feed_objects_read(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_feed_render(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_feed_fetch(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_feed_fetched(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_feed_put(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static ngx_int_t ngx_http_social_feed_object(ngx_http_social_ctx_t *ctx,
    PGresult *res, int row, int col, ngx_uint_t post,
    ngx_http_social_argv_t *a, ngx_uint_t slot);
static void ngx_http_social_feed_pg(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_feed_read(ngx_http_social_ctx_t *ctx,
    PGresult *res);


static ngx_http_social_feed_mark_t
    ngx_http_social_feed_quiet[NGX_HTTP_SOCIAL_FEED_QUIET];



/* 1. the arguments, then the context (2) or, without Redis, the page (6) */

ngx_int_t
ngx_http_social_feed(ngx_http_social_ctx_t *ctx)
{
    int64_t                  before, bound;
    ngx_http_social_feed_t  *f;

    f = ngx_pcalloc(ctx->request->pool, sizeof(ngx_http_social_feed_t));
    if (f == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->data = f;

    if (ngx_http_social_page_limit(ctx, &f->limit) != NGX_OK
        || ngx_http_social_cursor_parse(ctx, &before, &bound) != NGX_OK)
    {
        return ngx_http_social_unprocessable(ctx);
    }

    f->values[0] = ngx_http_social_int64(ctx, ctx->user_id);
    f->values[1] = ngx_http_social_int64(ctx, before);

    /* one more than the page: whether there is a next one */
    f->values[2] = ngx_http_social_int64(ctx, f->limit + 1);
    f->values[3] = "0";

    /*
     * the bound of others' events a pass carries when a page ended on the
     * reader's own events above the horizon (0: none): the pass goes on
     * below the horizon of its first page, so that others' events that
     * commit later are never behind its cursor (they show on top)
     */

    if (bound <= 0 || bound >= before) {
        bound = INT64_MAX;
    }

    f->values[4] = ngx_http_social_int64(ctx, bound);

    if (f->values[4] == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_social_feed_marked(ngx_http_social_feed_quiet,
                                    NGX_HTTP_SOCIAL_FEED_QUIET,
                                    ctx->user_id))
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                       "social feed: a quiet reader, from postgres");

        f->quiet = 1;

        return ngx_http_social_pg_or_503(ctx, ngx_http_social_sql_feed_quiet,
                                         5, f->values,
                                         ngx_http_social_feed_read);
    }

    /* a bounded pass: the set knows nothing of the bound */

    if (ctx->smcf->redis_addr.len && bound == INT64_MAX) {
        return ngx_http_social_feed_known(ctx);
    }

    return ngx_http_social_pg_or_503(ctx, ngx_http_social_sql_feed, 5,
                                     f->values, ngx_http_social_feed_read);
}


/*
 * 2. The context: kept in Redis, the page at once (3); else from
 * PostgreSQL, and the set's script is called with it
 */

static ngx_int_t
ngx_http_social_feed_known(ngx_http_social_ctx_t *ctx)
{
    size_t                   lens[NGX_HTTP_SOCIAL_FEED_READ_FORCE + 1];
    u_char                  *p;
    const char              *argv[NGX_HTTP_SOCIAL_FEED_READ_FORCE + 1];
    ngx_http_social_argv_t   a;
    ngx_http_social_feed_t  *f = ctx->data;

    p = ngx_pnalloc(ctx->request->pool,
                    sizeof(NGX_HTTP_SOCIAL_KEY_FEED_CONTEXT) + NGX_INT64_LEN
                    + sizeof(NGX_HTTP_SOCIAL_KEY_FEED_RGEN) + NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    f->keys[0] = (char *) p;
    p = ngx_sprintf(p, NGX_HTTP_SOCIAL_KEY_FEED_CONTEXT "%L%Z", ctx->user_id);
    f->keys[1] = (char *) p;
    (void) ngx_sprintf(p, NGX_HTTP_SOCIAL_KEY_FEED_RGEN "%L%Z", ctx->user_id);

    ngx_http_social_argv_init(&a, argv, lens,
                              NGX_HTTP_SOCIAL_FEED_READ_FORCE + 1);
    ngx_http_social_feed_keys(ctx, &a);

    /* a write here could not tell Redis of the reader's change: read it */

    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_READ_FORCE,
                             ngx_http_social_feed_trusts(ctx->user_id)
                             ? "0" : "1");

    if (ngx_http_social_redis_script(ctx, ngx_http_social_feed_knew,
                                     &ngx_http_social_feed_known_script,
                                     a.argc, a.argv, a.lens)
        != NGX_OK)
    {
        return ngx_http_social_pg_or_503(ctx, ngx_http_social_sql_feed_context,
                                         1, f->values,
                                         ngx_http_social_feed_context);
    }

    return NGX_DONE;
}


/* the keys and the first arguments of both read scripts */

static void
ngx_http_social_feed_keys(ngx_http_social_ctx_t *ctx,
    ngx_http_social_argv_t *a)
{
    ngx_http_social_feed_t  *f = ctx->data;

    ngx_http_social_argv_set(a, NGX_HTTP_SOCIAL_FEED_READ_NKEYS,
                             NGX_HTTP_SOCIAL_FEED_READ_NKEYS_TEXT);
    ngx_http_social_argv_set(a, NGX_HTTP_SOCIAL_FEED_READ_RECENT,
                             NGX_HTTP_SOCIAL_KEY_FEED_RECENT);
    ngx_http_social_argv_set(a, NGX_HTTP_SOCIAL_FEED_READ_TOP,
                             NGX_HTTP_SOCIAL_KEY_FEED_TOP);
    ngx_http_social_argv_set(a, NGX_HTTP_SOCIAL_FEED_READ_BOTTOM,
                             NGX_HTTP_SOCIAL_KEY_FEED_BOTTOM);
    ngx_http_social_argv_set(a, NGX_HTTP_SOCIAL_FEED_READ_CONTEXT,
                             f->keys[0]);
    ngx_http_social_argv_set(a, NGX_HTTP_SOCIAL_FEED_READ_RGEN, f->keys[1]);
    ngx_http_social_argv_set(a, NGX_HTTP_SOCIAL_FEED_READ_BEFORE,
                             f->values[1]);
    ngx_http_social_argv_set(a, NGX_HTTP_SOCIAL_FEED_READ_NEED,
                             f->values[2]);
    ngx_http_social_argv_set(a, NGX_HTTP_SOCIAL_FEED_READ_CAP,
                             NGX_HTTP_SOCIAL_FEED_SCAN_TEXT);
}


static void
ngx_http_social_feed_knew(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    redisReply              *own, *gen;
    ngx_http_social_feed_t  *f = ctx->data;

    if (reply != NULL && reply->type == REDIS_REPLY_ARRAY
        && reply->elements == 2
        && reply->element[NGX_HTTP_SOCIAL_FEED_REPLY_STATUS]->type
           == REDIS_REPLY_STRING
        && ngx_strcmp(reply->element[NGX_HTTP_SOCIAL_FEED_REPLY_STATUS]->str,
                      "context")
           == 0
        && reply->element[NGX_HTTP_SOCIAL_FEED_REPLY_GEN]->type
           == REDIS_REPLY_STRING)
    {
        /* none kept, or of another generation: PostgreSQL's, kept next */

        gen = reply->element[NGX_HTTP_SOCIAL_FEED_REPLY_GEN];

        f->rgen = ngx_pnalloc(ctx->request->pool, gen->len + 1);
        if (f->rgen == NULL) {
            ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        (void) ngx_cpystrn((u_char *) f->rgen, (u_char *) gen->str,
                           gen->len + 1);

        ngx_http_social_pg_or_done(ctx, ngx_http_social_sql_feed_context, 1,
                                   f->values, ngx_http_social_feed_context);
        return;
    }

    /* the page from the set: only the reader's own events are newer */

    if (reply != NULL && reply->type == REDIS_REPLY_ARRAY
        && reply->elements >= NGX_HTTP_SOCIAL_FEED_REPLY_EVENTS)
    {
        own = reply->element[NGX_HTTP_SOCIAL_FEED_REPLY_OWN];

        if (own->type == REDIS_REPLY_STRING) {
            f->last = ngx_atoof((u_char *) own->str, own->len);
        }
    }

    ngx_http_social_feed_cached(ctx, reply);
}


/* the context read: the set's script is called with it (3) */

static void
ngx_http_social_feed_context(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    char                    *follows, *blocks;
    ngx_uint_t               n, slot, nfollow, nblock;
    const char              *text;
    ngx_http_social_argv_t   a;
    ngx_http_social_feed_t  *f = ctx->data;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    follows = PQgetvalue(res, 0, NGX_HTTP_SOCIAL_FEED_CONTEXT_FOLLOWS);
    blocks = PQgetvalue(res, 0, NGX_HTTP_SOCIAL_FEED_CONTEXT_BLOCKS);

    n = NGX_HTTP_SOCIAL_FEED_READ_FOLLOWED
        + ngx_http_social_pg_array_max(PQgetlength(res, 0,
                                        NGX_HTTP_SOCIAL_FEED_CONTEXT_FOLLOWS))
        + ngx_http_social_pg_array_max(PQgetlength(res, 0,
                                        NGX_HTTP_SOCIAL_FEED_CONTEXT_BLOCKS));

    if (ngx_http_social_argv_create(&a, ctx->pool, n) != NGX_OK) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_social_feed_keys(ctx, &a);

    /* the context is kept only when read after its generation */

    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_READ_GEN,
                             f->rgen ? f->rgen : "");
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_READ_OWN,
                             PQgetvalue(res, 0,
                                        NGX_HTTP_SOCIAL_FEED_CONTEXT_OWN));

    f->last = ngx_atoof((u_char *) PQgetvalue(res, 0,
                                       NGX_HTTP_SOCIAL_FEED_CONTEXT_LAST),
                        PQgetlength(res, 0,
                                    NGX_HTTP_SOCIAL_FEED_CONTEXT_LAST));

    /* the reader and whom the reader follows; then the blocks */

    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_READ_READER,
                             f->values[0]);

    slot = NGX_HTTP_SOCIAL_FEED_READ_FOLLOWED;
    nfollow = ngx_http_social_pg_array_ids(follows, &a.argv[slot],
                                           &a.lens[slot], n - slot);
    ngx_http_social_argv_filled(&a, slot, nfollow);

    slot += nfollow;
    nblock = ngx_http_social_pg_array_ids(blocks, &a.argv[slot],
                                          &a.lens[slot], n - slot);
    ngx_http_social_argv_filled(&a, slot, nblock);

    text = ngx_http_social_int64(ctx, 1 + nfollow);

    if (text == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_READ_NFOLLOW, text);

    if (ngx_http_social_redis_script(ctx, ngx_http_social_feed_cached,
                                     &ngx_http_social_feed_read_script,
                                     a.argc, a.argv, a.lens)
        != NGX_OK)
    {
        ngx_http_social_feed_pg(ctx);
    }
}


/*
 * 3. the set's answer: its events' objects (4; none chosen, the page at
 * once), or the page with PostgreSQL (5), or from PostgreSQL alone (6)
 */

static void
ngx_http_social_feed_cached(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    ngx_int_t                rc;
    ngx_uint_t               n, bad;
    redisReply             **el, *status;
    ngx_http_social_argv_t   a;
    ngx_http_social_feed_t  *f = ctx->data;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements < 1
        || reply->element[NGX_HTTP_SOCIAL_FEED_REPLY_STATUS]->type
           != REDIS_REPLY_STRING)
    {
        ngx_http_social_feed_pg(ctx);
        return;
    }

    el = reply->element;
    status = el[NGX_HTTP_SOCIAL_FEED_REPLY_STATUS];

    if ((ngx_strcmp(status->str, "ok") != 0
         && ngx_strcmp(status->str, "short") != 0
         && ngx_strcmp(status->str, "few") != 0)
        || reply->elements < NGX_HTTP_SOCIAL_FEED_REPLY_EVENTS
        || el[NGX_HTTP_SOCIAL_FEED_REPLY_OBJGEN]->type != REDIS_REPLY_STRING
        || el[NGX_HTTP_SOCIAL_FEED_REPLY_TOP]->type != REDIS_REPLY_STRING
        || el[NGX_HTTP_SOCIAL_FEED_REPLY_OWN]->type != REDIS_REPLY_STRING)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                       "social feed: redis set %s", status->str);

        if (ngx_strcmp(status->str, "stale") == 0) {
            ngx_http_social_feed_changed();
        }

        ngx_http_social_feed_pg(ctx);
        return;
    }

    n = reply->elements - NGX_HTTP_SOCIAL_FEED_REPLY_EVENTS;

    f->top = ngx_atoof((u_char *) el[NGX_HTTP_SOCIAL_FEED_REPLY_TOP]->str,
                       el[NGX_HTTP_SOCIAL_FEED_REPLY_TOP]->len);

    if (f->top == NGX_ERROR) {
        ngx_http_social_feed_pg(ctx);
        return;
    }

    /*
     * short: the set holds fewer matching events than the page needs;
     * few: the reader's follows have fewer events in it, as its actors'
     * counts say, so it was not walked
     */

    f->short_page = (status->str[0] != 'o');

    if (status->str[0] == 'f') {
        f->quiet = 1;
        ngx_http_social_feed_mark(ngx_http_social_feed_quiet,
                                  NGX_HTTP_SOCIAL_FEED_QUIET, ctx->user_id,
                                  NGX_HTTP_SOCIAL_FEED_QUIET_TIME);
    }

    if (f->short_page && f->top >= f->last) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                       "social feed: redis set %s", status->str);
        ngx_http_social_feed_pg(ctx);
        return;
    }

    el += NGX_HTTP_SOCIAL_FEED_REPLY_EVENTS;

    rc = ngx_http_social_feed_events(ctx->pool, el, n, &f->events, &bad);

    if (rc == NGX_ERROR) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (rc == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_WARN, ctx->log, 0,
                      "social feed: a member of the set is not as "
                      "written (%uz bytes), the page from postgres",
                      (size_t) el[bad]->len);
        ngx_http_social_feed_pg(ctx);
        return;
    }

    f->count = n;

    /* the objects' generation, which a put of objects read later needs */

    el = reply->element;

    f->gen.len = el[NGX_HTTP_SOCIAL_FEED_REPLY_OBJGEN]->len;
    f->gen.data = ngx_pnalloc(ctx->pool, f->gen.len);

    if (f->gen.data == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_memcpy(f->gen.data, el[NGX_HTTP_SOCIAL_FEED_REPLY_OBJGEN]->str,
               f->gen.len);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "social feed: %ui events from redis, set at %L of %L",
                   n, f->top, f->last);

    if (f->top < f->last) {
        /* PostgreSQL has newer events: the set may catch up now */
        ngx_http_social_feed_changed();
        ngx_http_social_feed_fetch(ctx);
        return;
    }

    if (n == 0) {
        ngx_http_social_feed_render(ctx);
        return;
    }

    /*
     * the objects of the page's events, by the next command of the
     * connection (the event after the page only says that there is a next
     * page: its objects are not read)
     */

    if (ngx_http_social_feed_object_keys(ctx->pool, f->events,
                                         ngx_min(n, f->limit), &a)
        != NGX_OK)
    {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_http_social_redis_command(ctx, ngx_http_social_feed_objects_read,
                                      a.argc, a.argv, a.lens)
        != NGX_OK)
    {
        ngx_http_social_feed_fetch(ctx);
    }
}


/*
 * 4. the objects: every one cached, the page from the set (rendered while
 * their reply lives); else with PostgreSQL (5)
 */

static void
ngx_http_social_feed_objects_read(ngx_http_social_ctx_t *ctx,
    redisReply *reply)
{
    ngx_int_t                rc;
    ngx_uint_t               k, missing;
    ngx_http_social_feed_t  *f = ctx->data;

    k = ngx_min(f->count, f->limit);

    rc = ngx_http_social_feed_objects(f->events, k, reply);

    if (rc == NGX_DECLINED) {
        if (reply->type == REDIS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_WARN, ctx->log, 0,
                          "social feed: the objects' MGET failed: %*s, "
                          "the page from postgres", reply->len, reply->str);

        } else {
            ngx_log_error(NGX_LOG_WARN, ctx->log, 0,
                          "social feed: the objects' MGET answered no "
                          "value for each key, the page from postgres");
        }
    }

    missing = (rc != NGX_OK || ngx_http_social_feed_missing(f->events, k));

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "social feed: %ui events from redis, objects %s",
                   f->count, missing ? "missing" : "cached");

    if (missing) {
        ngx_http_social_feed_fetch(ctx);
        return;
    }

    ngx_http_social_feed_render(ctx);
}


/*
 * 4. the page from the set and the cached objects alone
 * (ngx_http_social_feed_page()), and its cursor
 */

static void
ngx_http_social_feed_render(ngx_http_social_ctx_t *ctx)
{
    u_char                        *p;
    ngx_str_t                      cursor, body, *id;
    ngx_uint_t                     n, k;
    ngx_http_social_feed_t        *f = ctx->data;
    ngx_http_social_feed_event_t  *ev;

    ev = f->events;
    n = f->count;
    k = ngx_min(n, f->limit);

    ngx_str_null(&cursor);

    if (n > f->limit) {
        /* the cursor after the page's last event */

        id = &ev[k - 1].field[NGX_HTTP_SOCIAL_FEED_MEMBER_ID];

        p = ngx_pnalloc(ctx->pool, id->len + 1);
        if (p == NULL) {
            ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        (void) ngx_cpystrn(p, id->data, id->len + 1);

        if (ngx_http_social_cursor_encode(ctx->pool, &ctx->smcf->jwt_key,
                                          (char *) p, "0", &cursor)
            != NGX_OK)
        {
            ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    if (ngx_http_social_feed_page(ctx->pool, ev, k, &cursor, &body)
        != NGX_OK)
    {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_social_done(ctx, ngx_http_social_send_body(ctx, NGX_HTTP_OK,
                                                        body.data,
                                                        body.len));
}


/*
 * 5. the events newer than the set, and the objects of the set's events,
 * from PostgreSQL; the objects are cached for next time
 */

static void
ngx_http_social_feed_fetch(ngx_http_social_ctx_t *ctx)
{
    u_char                  *ids;
    ngx_http_social_feed_t  *f = ctx->data;

    ids = ngx_http_social_feed_ids(ctx->pool, f->events, f->count);

    /* reader, before, limit, the set's top, the set's events */

    f->ids[0] = f->values[0];
    f->ids[1] = f->values[1];
    f->ids[2] = f->values[2];
    f->ids[3] = ngx_http_social_int64(ctx, f->top);
    f->ids[4] = f->values[4];
    f->ids[5] = (char *) ids;

    if (ids == NULL || f->ids[3] == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_social_pg_or_done(ctx, ngx_http_social_sql_feed_ids, 6, f->ids,
                               ngx_http_social_feed_fetched);
}


/* 5. the set's events and the newer ones: the page, or all from 6 */

static void
ngx_http_social_feed_fetched(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_feed_t  *f = ctx->data;

    int                      i, n;
    ngx_uint_t               head, set;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    /* the rows above the set's top are new; the others the set chose */

    n = PQntuples(res);

    for (i = 0; i < n; i++) {
        if (ngx_atoof((u_char *) PQgetvalue(res, i,
                                            NGX_HTTP_SOCIAL_FEED_COL_EVENT),
                      PQgetlength(res, i, NGX_HTTP_SOCIAL_FEED_COL_EVENT))
            <= f->top)
        {
            break;
        }
    }

    head = i;
    set = n - i;

    if (set < ngx_min(f->count, f->limit + 1 - head)
        || (f->short_page && (ngx_uint_t) n < f->limit + 1))
    {
        /*
         * an event the set chose went meanwhile, or the set held too few:
         * the page would be short
         */
        ngx_http_social_feed_pg(ctx);
        return;
    }

    ngx_http_social_feed_put(ctx, res);
    ngx_http_social_feed_read(ctx, res);
}


/* 5. the post and user objects of the page into Redis, fire and forget */

static void
ngx_http_social_feed_put(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    int                      i, n;
    ngx_uint_t               slot;
    const char              *ttl;
    ngx_http_social_argv_t   a;
    ngx_http_social_feed_t  *f = ctx->data;

    n = PQntuples(res);

    /* for each row: its actor, its post and its target, a key and JSON */

    if (ngx_http_social_argv_create(&a, ctx->pool,
                                    NGX_HTTP_SOCIAL_FEED_PUT_OBJECTS + 6 * n)
        != NGX_OK)
    {
        return;
    }

    ttl = ngx_http_social_int64(ctx, ctx->smcf->object_ttl);

    if (ttl == NULL) {
        return;
    }

    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_PUT_NKEYS,
                             NGX_HTTP_SOCIAL_FEED_PUT_NKEYS_TEXT);
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_PUT_OBJGEN,
                             NGX_HTTP_SOCIAL_KEY_FEED_OBJGEN);
    ngx_http_social_argv_set_len(&a, NGX_HTTP_SOCIAL_FEED_PUT_GEN,
                                 (char *) f->gen.data, f->gen.len);
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_FEED_PUT_TTL, ttl);

    slot = NGX_HTTP_SOCIAL_FEED_PUT_OBJECTS;

    for (i = 0; i < n; i++) {
        if (ngx_http_social_feed_object(ctx, res, i,
                                        NGX_HTTP_SOCIAL_FEED_COL_ACTOR, 0,
                                        &a, slot)
            != NGX_OK)
        {
            return;
        }

        slot += 2;

        if (!PQgetisnull(res, i, NGX_HTTP_SOCIAL_FEED_COL_POST)) {
            if (ngx_http_social_feed_object(ctx, res, i,
                                            NGX_HTTP_SOCIAL_FEED_COL_POST, 1,
                                            &a, slot)
                != NGX_OK)
            {
                return;
            }

            slot += 2;
        }

        if (!PQgetisnull(res, i, NGX_HTTP_SOCIAL_FEED_COL_TARGET)) {
            if (ngx_http_social_feed_object(ctx, res, i,
                                            NGX_HTTP_SOCIAL_FEED_COL_TARGET, 0,
                                            &a, slot)
                != NGX_OK)
            {
                return;
            }

            slot += 2;
        }
    }

    (void) ngx_http_social_redis_script(ctx, NULL,
                                        &ngx_http_social_feed_put_script,
                                        a.argc, a.argv, a.lens);
}


/*
 * A post (with its like_count) or a {user_id, username} of a row, as two
 * arguments from slot: "social:post:<id>" or "social:user:<id>", and its
 * JSON
 */

static ngx_int_t
ngx_http_social_feed_object(ngx_http_social_ctx_t *ctx, PGresult *res,
    int row, int col, ngx_uint_t post, ngx_http_social_argv_t *a,
    ngx_uint_t slot)
{
    u_char               *p, *last;
    size_t                n;
    yajl_gen              g;
    const unsigned char  *buf;

    g = ngx_http_social_json_gen(ctx->pool);
    if (g == NULL) {
        return NGX_ERROR;
    }

    if (post) {
        ngx_http_social_post_json(g, res, row, col, 0);

    } else {
        ngx_http_social_user_ref_json(g, res, row, col);
    }

    if (yajl_gen_get_buf(g, &buf, &n) != yajl_gen_status_ok) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(ctx->pool, ngx_max(sizeof(NGX_HTTP_SOCIAL_KEY_POST),
                                       sizeof(NGX_HTTP_SOCIAL_KEY_USER))
                               + NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    last = ngx_sprintf(p, "%s%s",
                       post ? NGX_HTTP_SOCIAL_KEY_POST
                            : NGX_HTTP_SOCIAL_KEY_USER,
                       PQgetvalue(res, row, col));

    ngx_http_social_argv_set_len(a, slot, (char *) p, last - p);
    ngx_http_social_argv_set_len(a, slot + 1, (char *) buf, n);

    return NGX_OK;
}


/* 6. the whole page from PostgreSQL */

static void
ngx_http_social_feed_pg(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_feed_t  *f = ctx->data;

    ngx_http_social_pg_or_done(ctx, f->quiet ? ngx_http_social_sql_feed_quiet
                                             : ngx_http_social_sql_feed,
                               5, f->values, ngx_http_social_feed_read);
}


/* the page of PostgreSQL's rows (5, 6) */

static void
ngx_http_social_feed_read(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    int                      i, n;
    char                    *last, *hz;
    yajl_gen                 g;
    ngx_http_social_feed_t  *f = ctx->data;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    n = ngx_min(PQntuples(res), (int) f->limit);

    g = ngx_http_social_page_start(ctx, "events");
    if (g == NULL) {
        return;
    }

    for (i = 0; i < n; i++) {
        yajl_gen_map_open(g);
        ngx_http_social_json_str(g, "event_id");
        ngx_http_social_json_pg(g, res, i, NGX_HTTP_SOCIAL_FEED_COL_EVENT,
                                NGX_HTTP_SOCIAL_JSON_INTEGER);
        ngx_http_social_json_str(g, "type");
        ngx_http_social_json_pg(g, res, i, NGX_HTTP_SOCIAL_FEED_COL_TYPE,
                                NGX_HTTP_SOCIAL_JSON_STRING);
        ngx_http_social_json_str(g, "created_at");
        ngx_http_social_json_pg(g, res, i,
                                NGX_HTTP_SOCIAL_FEED_COL_CREATED_AT,
                                NGX_HTTP_SOCIAL_JSON_STRING);

        ngx_http_social_json_str(g, "actor");
        ngx_http_social_user_ref_json(g, res, i,
                                      NGX_HTTP_SOCIAL_FEED_COL_ACTOR);

        ngx_http_social_json_str(g, "post");
        if (PQgetisnull(res, i, NGX_HTTP_SOCIAL_FEED_COL_POST)) {
            yajl_gen_null(g);

        } else {
            ngx_http_social_post_json(g, res, i,
                                      NGX_HTTP_SOCIAL_FEED_COL_POST, 0);
        }

        ngx_http_social_json_str(g, "target");
        if (PQgetisnull(res, i, NGX_HTTP_SOCIAL_FEED_COL_TARGET)) {
            yajl_gen_null(g);

        } else {
            ngx_http_social_user_ref_json(g, res, i,
                                          NGX_HTTP_SOCIAL_FEED_COL_TARGET);
        }

        yajl_gen_map_close(g);
    }

    if (PQntuples(res) <= (int) f->limit) {
        ngx_http_social_page_end(ctx, g, NULL, NULL);
        return;
    }

    /* a page that ended on the reader's own events above the horizon */

    last = PQgetvalue(res, n - 1, NGX_HTTP_SOCIAL_FEED_COL_EVENT);
    hz = PQgetvalue(res, n - 1, NGX_HTTP_SOCIAL_FEED_COL_HORIZON);

    ngx_http_social_page_end(ctx, g, last,
                             ngx_atoof((u_char *) hz, ngx_strlen(hz))
                             < ngx_atoof((u_char *) last, ngx_strlen(last))
                             ? hz : "0");
}
