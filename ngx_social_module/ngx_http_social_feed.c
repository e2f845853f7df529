
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
 * Pages within the recent events come from Redis (ngx_http_social_feed_
 * cache.c): the reader's follows and blocks and the last event id are read
 * from PostgreSQL, one script walks the recent set down from the cursor,
 * filters it and answers the page with the cached post and user objects.
 * When Redis is behind PostgreSQL, or the page reaches past what the set
 * holds, the whole page comes from PostgreSQL; objects not cached are read
 * by event id and cached.  The cursor is the same either way.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_request.h"
#include "ngx_http_social_endpoints.h"


static void ngx_http_social_feed_read(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_feed_pg(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_feed_context(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_feed_cached(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static ngx_int_t ngx_http_social_feed_split(redisReply *member,
    ngx_str_t *fields);
static void ngx_http_social_feed_render(ngx_http_social_ctx_t *ctx,
    redisReply *reply, ngx_uint_t n);
static void ngx_http_social_feed_fetched(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_feed_put(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static ngx_int_t ngx_http_social_feed_object(ngx_http_social_ctx_t *ctx,
    PGresult *res, int row, int col, ngx_uint_t post, const char **key,
    size_t *len);


/* how many recent events a read may look at before it asks PostgreSQL */
#define NGX_HTTP_SOCIAL_FEED_SCAN_TEXT  "5000"

/* event, type, actor, post, author, target, created_at */
#define NGX_HTTP_SOCIAL_FEED_FIELDS  7


/* the users in a block with the reader are read once, as a hashed set */

static const char  ngx_http_social_sql_feed[] =
    "WITH b AS (SELECT blocked_id AS id FROM blocks WHERE blocker_id = $1 "
    "           UNION SELECT blocker_id FROM blocks WHERE blocked_id = $1) "
    "SELECT e.event_id, e.type, social_time(e.created_at), "
    "       a.user_id, a.username, "
    "       p.post_id, p.author_id, p.content, social_time(p.created_at), "
    "       (SELECT count(*) FROM likes l WHERE l.post_id = p.post_id), "
    "       t.user_id, t.username "
    "  FROM events e "
    "  JOIN users a ON a.user_id = e.actor_id "
    "  LEFT JOIN posts p ON p.post_id = e.post_id "
    "  LEFT JOIN users t ON t.user_id = e.target_id "
    " WHERE e.actor_id = ANY (ARRAY(SELECT f.followed_id FROM follows f "
    "                                WHERE f.follower_id = $1) "
    "                         || $1::bigint) "
    "   AND e.event_id < $2 "
    "   AND e.actor_id NOT IN (SELECT id FROM b) "
    "   AND (p.author_id IS NULL OR p.author_id NOT IN (SELECT id FROM b)) "
    "   AND (e.target_id IS NULL OR e.target_id NOT IN (SELECT id FROM b)) "
    " ORDER BY e.event_id DESC "
    " LIMIT $3";


/* the reader's follows and blocks, and the last event id */
static const char  ngx_http_social_sql_feed_context[] =
    "SELECT ARRAY(SELECT followed_id FROM follows "
    "              WHERE follower_id = $1)::text, "
    "       ARRAY(SELECT blocked_id FROM blocks WHERE blocker_id = $1 "
    "             UNION SELECT blocker_id FROM blocks "
    "                    WHERE blocked_id = $1)::text, "
    "       coalesce((SELECT max(event_id) FROM events), 0)";

/*
 * The events the set chose, by id, when objects of theirs are not cached,
 * and the reader's events newer than the set holds (above $2, below $3):
 * their rows as the feed query's.
 */
static const char  ngx_http_social_sql_feed_ids[] =
    "WITH b AS (SELECT blocked_id AS id FROM blocks WHERE blocker_id = $1 "
    "           UNION SELECT blocker_id FROM blocks WHERE blocked_id = $1), "
    "     h AS (SELECT e.event_id FROM events e "
    "             LEFT JOIN posts p ON p.post_id = e.post_id "
    "            WHERE e.actor_id = ANY (ARRAY(SELECT f.followed_id "
    "                                           FROM follows f "
    "                                          WHERE f.follower_id = $1) "
    "                                    || $1::bigint) "
    "              AND e.event_id > $2 AND e.event_id < $3 "
    "              AND e.actor_id NOT IN (SELECT id FROM b) "
    "              AND (p.author_id IS NULL "
    "                   OR p.author_id NOT IN (SELECT id FROM b)) "
    "              AND (e.target_id IS NULL "
    "                   OR e.target_id NOT IN (SELECT id FROM b)) "
    "            ORDER BY e.event_id DESC LIMIT $5) "
    "SELECT e.event_id, e.type, social_time(e.created_at), "
    "       a.user_id, a.username, "
    "       p.post_id, p.author_id, p.content, social_time(p.created_at), "
    "       (SELECT count(*) FROM likes l WHERE l.post_id = p.post_id), "
    "       t.user_id, t.username "
    "  FROM events e "
    "  JOIN users a ON a.user_id = e.actor_id "
    "  LEFT JOIN posts p ON p.post_id = e.post_id "
    "  LEFT JOIN users t ON t.user_id = e.target_id "
    " WHERE e.event_id IN (SELECT event_id FROM h "
    "                      UNION ALL SELECT unnest($4::bigint[])) "
    " ORDER BY e.event_id DESC "
    " LIMIT $5";


typedef struct {
    const char                     *values[3];
    ngx_uint_t                      limit;
    int64_t                         last;       /* in PostgreSQL */
    int64_t                         top;        /* in the set */
    ngx_uint_t                      count;      /* events the set chose */
    ngx_uint_t                      short_page; /* unsigned:1 */
    ngx_str_t                       gen;        /* of the cached objects */
    const char                     *ids[5];
} ngx_http_social_feed_t;


/* the script's answer: "ok", the generation, top, then 4 per event */
#define NGX_HTTP_SOCIAL_FEED_HEAD  3


ngx_int_t
ngx_http_social_feed(ngx_http_social_ctx_t *ctx)
{
    int64_t                  before, unused;
    ngx_http_social_feed_t  *f;

    f = ngx_pcalloc(ctx->request->pool, sizeof(ngx_http_social_feed_t));
    if (f == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->data = f;

    if (ngx_http_social_page_limit(ctx, &f->limit) != NGX_OK
        || ngx_http_social_cursor_parse(ctx, &before, &unused) != NGX_OK)
    {
        return ngx_http_social_unprocessable(ctx);
    }

    f->values[0] = ngx_http_social_int64(ctx, ctx->user_id);
    f->values[1] = ngx_http_social_int64(ctx, before);

    /* one more than the page: whether there is a next one */
    f->values[2] = ngx_http_social_int64(ctx, f->limit + 1);

    if (ctx->smcf->redis_addr.len) {
        return ngx_http_social_pg_or_503(ctx, ngx_http_social_sql_feed_context,
                                         1, f->values,
                                         ngx_http_social_feed_context);
    }

    return ngx_http_social_pg_or_503(ctx, ngx_http_social_sql_feed, 3,
                                     f->values, ngx_http_social_feed_read);
}


/* the whole page from PostgreSQL */

static void
ngx_http_social_feed_pg(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_feed_t  *f = ctx->data;

    ngx_http_social_pg_or_done(ctx, ngx_http_social_sql_feed, 3, f->values,
                               ngx_http_social_feed_read);
}


static void
ngx_http_social_feed_context(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    size_t                  *lens;
    ngx_uint_t               i, n, nfollow;
    const char             **argv;
    ngx_http_social_feed_t  *f = ctx->data;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    /* an id takes at least two characters of the array text */

    n = 10 + (PQgetlength(res, 0, 0) + PQgetlength(res, 0, 1)) / 2;

    argv = ngx_palloc(ctx->pool, n * sizeof(char *));
    lens = ngx_palloc(ctx->pool, n * sizeof(size_t));

    if (argv == NULL || lens == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    argv[0] = "3";
    argv[1] = "social:feed:recent";
    argv[2] = "social:feed:top";
    argv[3] = "social:feed:bottom";
    argv[4] = f->values[1];
    argv[5] = f->values[2];
    argv[6] = NGX_HTTP_SOCIAL_FEED_SCAN_TEXT;

    f->last = ngx_atoof((u_char *) PQgetvalue(res, 0, 2),
                        PQgetlength(res, 0, 2));

    /* whom the reader follows, and the reader; then the blocks */

    argv[8] = f->values[0];
    nfollow = 1 + ngx_http_social_feed_ids(PQgetvalue(res, 0, 0),
                                           &argv[9], &lens[9]);
    argv[7] = ngx_http_social_int64(ctx, nfollow);

    n = 8 + nfollow;
    n += ngx_http_social_feed_ids(PQgetvalue(res, 0, 1), &argv[n], &lens[n]);

    if (argv[7] == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    for (i = 0; i < 9; i++) {
        lens[i] = ngx_strlen(argv[i]);
    }

    if (ngx_http_social_redis_script(ctx, ngx_http_social_feed_cached,
                                     &ngx_http_social_feed_read_script,
                                     n, argv, lens)
        != NGX_OK)
    {
        ngx_http_social_feed_pg(ctx);
    }
}


static void
ngx_http_social_feed_cached(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    u_char                  *p;
    ngx_str_t                ev[NGX_HTTP_SOCIAL_FEED_FIELDS];
    ngx_uint_t               i, n, missing;
    redisReply             **el;
    ngx_http_social_feed_t  *f = ctx->data;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements < 1
        || reply->element[0]->type != REDIS_REPLY_STRING)
    {
        ngx_http_social_feed_pg(ctx);
        return;
    }

    el = reply->element;

    if ((ngx_strcmp(el[0]->str, "ok") != 0
         && ngx_strcmp(el[0]->str, "short") != 0)
        || reply->elements < NGX_HTTP_SOCIAL_FEED_HEAD
        || el[1]->type != REDIS_REPLY_STRING
        || el[2]->type != REDIS_REPLY_STRING
        || (reply->elements - NGX_HTTP_SOCIAL_FEED_HEAD) % 4 != 0)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                       "social feed: redis set %s", el[0]->str);

        if (ngx_strcmp(el[0]->str, "stale") == 0) {
            ngx_http_social_feed_changed();
        }

        ngx_http_social_feed_pg(ctx);
        return;
    }

    n = (reply->elements - NGX_HTTP_SOCIAL_FEED_HEAD) / 4;
    missing = 0;

    f->top = ngx_atoof((u_char *) el[2]->str, el[2]->len);

    if (f->top == NGX_ERROR) {
        ngx_http_social_feed_pg(ctx);
        return;
    }

    /* short: the set holds fewer matching events than the page needs */

    f->short_page = (el[0]->str[0] == 's');

    if (f->short_page && f->top >= f->last) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                       "social feed: redis set short");
        ngx_http_social_feed_pg(ctx);
        return;
    }

    el += NGX_HTTP_SOCIAL_FEED_HEAD;

    for (i = 0; i < n; i++, el += 4) {
        if (ngx_http_social_feed_split(el[0], ev) != NGX_OK) {
            ngx_http_social_feed_pg(ctx);
            return;
        }

        if ((el[1]->len == 0 && ev[3].data[0] != '0')
            || el[2]->len == 0
            || (el[3]->len == 0 && ev[5].data[0] != '0'))
        {
            missing = 1;
        }
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "social feed: %ui events from redis, objects %s, "
                   "set at %L of %L", n, missing ? "missing" : "cached",
                   f->top, f->last);

    if (!missing && f->top >= f->last) {
        ngx_http_social_feed_render(ctx, reply, n);
        return;
    }

    /*
     * the events newer than the set, and the objects of the set's events,
     * from PostgreSQL; the objects are cached for next time
     */

    el = reply->element;
    f->count = n;

    f->gen.data = ngx_pnalloc(ctx->pool, el[1]->len);
    p = ngx_pnalloc(ctx->pool, n * (NGX_INT64_LEN + 1) + 3);

    if (f->gen.data == NULL || p == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    f->gen.len = el[1]->len;
    ngx_memcpy(f->gen.data, el[1]->str, el[1]->len);

    f->ids[0] = f->values[0];
    f->ids[1] = ngx_http_social_int64(ctx, f->top);
    f->ids[2] = f->values[1];
    f->ids[3] = (char *) p;
    f->ids[4] = f->values[2];

    if (f->ids[1] == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    *p++ = '{';
    el += NGX_HTTP_SOCIAL_FEED_HEAD;

    for (i = 0; i < n; i++, el += 4) {
        (void) ngx_http_social_feed_split(el[0], ev);
        p = ngx_cpymem(p, ev[0].data, ev[0].len);

        if (i + 1 < n) {
            *p++ = ',';
        }
    }

    *p++ = '}';
    *p = '\0';

    ngx_http_social_pg_or_done(ctx, ngx_http_social_sql_feed_ids, 5, f->ids,
                               ngx_http_social_feed_fetched);
}


/* a member of the set: id|type|actor|post|author|target|created_at */

static ngx_int_t
ngx_http_social_feed_split(redisReply *member, ngx_str_t *fields)
{
    u_char      *p, *last;
    ngx_uint_t   i;

    if (member->type != REDIS_REPLY_STRING) {
        return NGX_ERROR;
    }

    p = (u_char *) member->str;
    last = p + member->len;

    for (i = 0; i < NGX_HTTP_SOCIAL_FEED_FIELDS; i++) {
        fields[i].data = p;

        if (i + 1 < NGX_HTTP_SOCIAL_FEED_FIELDS) {
            p = ngx_strlchr(p, last, '|');
            if (p == NULL) {
                return NGX_ERROR;
            }

        } else {
            p = last;
        }

        fields[i].len = p - fields[i].data;

        if (fields[i].len == 0) {
            return NGX_ERROR;
        }

        p++;
    }

    return NGX_OK;
}


/* the page from the set and the cached objects alone */

static void
ngx_http_social_feed_render(ngx_http_social_ctx_t *ctx, redisReply *reply,
    ngx_uint_t n)
{
    yajl_gen                 g;
    ngx_str_t                ev[NGX_HTTP_SOCIAL_FEED_FIELDS];
    ngx_uint_t               i;
    redisReply             **el;
    ngx_http_social_feed_t  *f = ctx->data;

    el = reply->element + NGX_HTTP_SOCIAL_FEED_HEAD;

    g = ngx_http_social_page_start(ctx, "events");
    if (g == NULL) {
        return;
    }

    for (i = 0; i < ngx_min(n, f->limit); i++, el += 4) {
        (void) ngx_http_social_feed_split(el[0], ev);

        yajl_gen_map_open(g);
        ngx_http_social_json_str(g, "event_id");
        ngx_http_social_json_raw(g, (char *) ev[0].data, ev[0].len);
        ngx_http_social_json_str(g, "type");
        yajl_gen_string(g, ev[1].data, ev[1].len);
        ngx_http_social_json_str(g, "created_at");
        yajl_gen_string(g, ev[6].data, ev[6].len);
        ngx_http_social_json_str(g, "actor");
        ngx_http_social_json_raw(g, el[2]->str, el[2]->len);
        ngx_http_social_json_str(g, "post");

        if (el[1]->len) {
            ngx_http_social_json_raw(g, el[1]->str, el[1]->len);

        } else {
            yajl_gen_null(g);
        }

        ngx_http_social_json_str(g, "target");

        if (el[3]->len) {
            ngx_http_social_json_raw(g, el[3]->str, el[3]->len);

        } else {
            yajl_gen_null(g);
        }

        yajl_gen_map_close(g);
    }

    if (n > f->limit) {
        el = reply->element + NGX_HTTP_SOCIAL_FEED_HEAD
             + 4 * (f->limit - 1);
        (void) ngx_http_social_feed_split(el[0], ev);
        ev[0].data[ev[0].len] = '\0';

        ngx_http_social_page_end(ctx, g, (char *) ev[0].data, "0");
        return;
    }

    ngx_http_social_page_end(ctx, g, NULL, NULL);
}


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
        if (ngx_atoof((u_char *) PQgetvalue(res, i, 0),
                      PQgetlength(res, i, 0))
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


/* the post and user objects of the page into Redis, fire and forget */

static void
ngx_http_social_feed_put(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    int                      i, n;
    size_t                  *lens;
    ngx_uint_t               argc;
    const char             **argv;
    ngx_http_social_feed_t  *f = ctx->data;

    n = PQntuples(res);

    argv = ngx_palloc(ctx->pool, (4 + 6 * n) * sizeof(char *));
    lens = ngx_palloc(ctx->pool, (4 + 6 * n) * sizeof(size_t));

    if (argv == NULL || lens == NULL) {
        return;
    }

    argv[0] = "1";
    argv[1] = "social:feed:objgen";
    argv[2] = (char *) f->gen.data;
    argv[3] = ngx_http_social_int64(ctx, ctx->smcf->object_ttl);

    if (argv[3] == NULL) {
        return;
    }

    lens[0] = 1;
    lens[1] = sizeof("social:feed:objgen") - 1;
    lens[2] = f->gen.len;
    lens[3] = ngx_strlen(argv[3]);

    argc = 4;

    for (i = 0; i < n; i++) {
        if (ngx_http_social_feed_object(ctx, res, i, 3, 0, &argv[argc],
                                        &lens[argc])
            != NGX_OK)
        {
            return;
        }

        argc += 2;

        if (!PQgetisnull(res, i, 5)) {
            if (ngx_http_social_feed_object(ctx, res, i, 5, 1, &argv[argc],
                                            &lens[argc])
                != NGX_OK)
            {
                return;
            }

            argc += 2;
        }

        if (!PQgetisnull(res, i, 10)) {
            if (ngx_http_social_feed_object(ctx, res, i, 10, 0, &argv[argc],
                                            &lens[argc])
                != NGX_OK)
            {
                return;
            }

            argc += 2;
        }
    }

    (void) ngx_http_social_redis_script(ctx, NULL,
                                        &ngx_http_social_feed_put_script,
                                        argc, argv, lens);
}


/*
 * A post (with its like_count) or a {user_id, username} of a row, as two
 * arguments: "social:post:<id>" or "social:user:<id>", and its JSON
 */

static ngx_int_t
ngx_http_social_feed_object(ngx_http_social_ctx_t *ctx, PGresult *res,
    int row, int col, ngx_uint_t post, const char **key, size_t *len)
{
    u_char               *p;
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

    p = ngx_pnalloc(ctx->pool, sizeof("social:post:") + NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    key[0] = (char *) p;
    len[0] = ngx_sprintf(p, "social:%s:%s", post ? "post" : "user",
                         PQgetvalue(res, row, col))
             - p;
    key[1] = (char *) buf;
    len[1] = n;

    return NGX_OK;
}


static void
ngx_http_social_feed_read(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    int                      i, n;
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
        ngx_http_social_json_pg(g, res, i, 0, NGX_HTTP_SOCIAL_JSON_INTEGER);
        ngx_http_social_json_str(g, "type");
        ngx_http_social_json_pg(g, res, i, 1, NGX_HTTP_SOCIAL_JSON_STRING);
        ngx_http_social_json_str(g, "created_at");
        ngx_http_social_json_pg(g, res, i, 2, NGX_HTTP_SOCIAL_JSON_STRING);

        ngx_http_social_json_str(g, "actor");
        ngx_http_social_user_ref_json(g, res, i, 3);

        ngx_http_social_json_str(g, "post");
        if (PQgetisnull(res, i, 5)) {
            yajl_gen_null(g);

        } else {
            ngx_http_social_post_json(g, res, i, 5, 0);
        }

        ngx_http_social_json_str(g, "target");
        if (PQgetisnull(res, i, 10)) {
            yajl_gen_null(g);

        } else {
            ngx_http_social_user_ref_json(g, res, i, 10);
        }

        yajl_gen_map_close(g);
    }

    ngx_http_social_page_end(ctx, g,
                             PQntuples(res) > (int) f->limit
                             ? PQgetvalue(res, n - 1, 0) : NULL, "0");
}
