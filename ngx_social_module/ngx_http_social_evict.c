
/*
 * Copyright (C) ngx_social developers
 */


/*
 * POST /admin/cache/evict {"scope": "all" | "feed" | "posts" | "users" |
 * "groups"}: the cached entries of the scope removed from Redis, counted.
 * "feed" is the recent-events set (each event counts) and the feed pages
 * in nginx's response cache; "posts" and "users" the cached objects;
 * "groups" the group answers in nginx's response cache.  The response
 * cache is not purged: the scope's generation, in every key, moves on
 * (_cache.c), and the answers still fresh are counted.  Both feed
 * generations of Redis move on first, so no read in flight writes an entry
 * back from before.  The objects are found with SCAN and removed with
 * UNLINK, a batch a command, so Redis never blocks on a large keyspace.
 * Revocation generations are not a cache and are never evicted.  The
 * handler keeps the name of its endpoint, cache_evict, as the module's
 * endpoint table has it.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_request.h"
#include "ngx_http_social_endpoints.h"
#include "ngx_http_social_keys.h"
#include "ngx_http_social_argv.h"
#include "ngx_http_social_access.h"


/* the scopes: bit n is the pattern n of ngx_http_social_evict_patterns */

#define NGX_HTTP_SOCIAL_EVICT_FEED     0x01
#define NGX_HTTP_SOCIAL_EVICT_POSTS    0x02
#define NGX_HTTP_SOCIAL_EVICT_USERS    0x04
#define NGX_HTTP_SOCIAL_EVICT_GROUPS   0x08

#define NGX_HTTP_SOCIAL_EVICT_PATTERNS 4


/*
 * the feed script's arguments: KEYS recent, top, bottom, gen, objgen;
 * ARGV "1" when the set goes too
 */

enum {
    NGX_HTTP_SOCIAL_EVICT_FEED_NKEYS = 0,
    NGX_HTTP_SOCIAL_EVICT_FEED_RECENT,
    NGX_HTTP_SOCIAL_EVICT_FEED_TOP,
    NGX_HTTP_SOCIAL_EVICT_FEED_BOTTOM,
    NGX_HTTP_SOCIAL_EVICT_FEED_GEN,
    NGX_HTTP_SOCIAL_EVICT_FEED_OBJGEN,
    NGX_HTTP_SOCIAL_EVICT_FEED_SET,
    NGX_HTTP_SOCIAL_EVICT_FEED_ARGC
};


/* SCAN <cursor> MATCH <pattern> COUNT 1000 */

enum {
    NGX_HTTP_SOCIAL_EVICT_SCAN_COMMAND = 0,
    NGX_HTTP_SOCIAL_EVICT_SCAN_CURSOR,
    NGX_HTTP_SOCIAL_EVICT_SCAN_MATCH,
    NGX_HTTP_SOCIAL_EVICT_SCAN_PATTERN,
    NGX_HTTP_SOCIAL_EVICT_SCAN_COUNT,
    NGX_HTTP_SOCIAL_EVICT_SCAN_BATCH,
    NGX_HTTP_SOCIAL_EVICT_SCAN_ARGC
};


typedef struct {
    ngx_uint_t                      mask;
    ngx_uint_t                      pattern;    /* the one scanned */
    int64_t                         evicted;
    u_char                          cursor[NGX_INT64_LEN + 1];
} ngx_http_social_evict_t;


static void ngx_http_social_evict_fed(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static ngx_int_t ngx_http_social_evict_scan(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_evict_scanned(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_evict_unlinked(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_evict_evicted(ngx_http_social_ctx_t *ctx);


static ngx_http_social_script_t  ngx_http_social_evict_feed_script = {
    /* KEYS: recent top bottom gen objgen; ARGV: whether the feed goes */
    "redis.call('INCR', KEYS[4]) "
    "redis.call('INCR', KEYS[5]) "
    "if ARGV[1] == '0' then return 0 end "
    "local n = redis.call('ZCARD', KEYS[1]) "
    "redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], '"
                                 NGX_HTTP_SOCIAL_KEY_FEED_ACTORS "') "
    "return n",
    "", NULL, ""
};


static struct {
    const char                     *name;
    ngx_uint_t                      mask;
} ngx_http_social_evict_scopes[] = {
    { "all", NGX_HTTP_SOCIAL_EVICT_FEED|NGX_HTTP_SOCIAL_EVICT_POSTS
             |NGX_HTTP_SOCIAL_EVICT_USERS|NGX_HTTP_SOCIAL_EVICT_GROUPS },
    { "feed", NGX_HTTP_SOCIAL_EVICT_FEED },
    { "posts", NGX_HTTP_SOCIAL_EVICT_POSTS },
    { "users", NGX_HTTP_SOCIAL_EVICT_USERS },
    { "groups", NGX_HTTP_SOCIAL_EVICT_GROUPS },
    { NULL, 0 }
};


/* the object keys of each scope, in the order of the mask's bits */

static const char  *ngx_http_social_evict_patterns[] = {
    NULL,
    NGX_HTTP_SOCIAL_KEY_POST "*",
    NGX_HTTP_SOCIAL_KEY_USER "*",
    NULL                                /* groups: nginx's cache alone */
};


ngx_int_t
ngx_http_social_evict(ngx_http_social_ctx_t *ctx)
{
    size_t                    lens[NGX_HTTP_SOCIAL_EVICT_FEED_ARGC];
    ngx_int_t                 rc;
    ngx_str_t                 scope;
    ngx_uint_t                i;
    const char               *argv[NGX_HTTP_SOCIAL_EVICT_FEED_ARGC];
    ngx_http_social_argv_t    a;
    ngx_http_social_evict_t  *e;

    rc = ngx_http_social_json_string(ctx, ctx->body, "scope", 1, 16, &scope);

    if (rc == NGX_DECLINED) {
        ngx_http_social_note_invalid(ctx, "scope", "is required");
    }

    if (rc != NGX_OK) {
        return ngx_http_social_unprocessable(ctx);
    }

    for (i = 0; ngx_http_social_evict_scopes[i].name; i++) {
        if (ngx_strlen(ngx_http_social_evict_scopes[i].name) == scope.len
            && ngx_strncmp(scope.data, ngx_http_social_evict_scopes[i].name,
                           scope.len)
               == 0)
        {
            break;
        }
    }

    if (ngx_http_social_evict_scopes[i].name == NULL) {
        ngx_http_social_note_invalid(ctx, "scope",
                                     "must be one of all, feed, posts, "
                                     "users, groups");
        return ngx_http_social_unprocessable(ctx);
    }

    if (!ctx->admin) {
        return ngx_http_social_forbidden(ctx);
    }

    e = ngx_pcalloc(ctx->pool, sizeof(ngx_http_social_evict_t));
    if (e == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    e->mask = ngx_http_social_evict_scopes[i].mask;
    e->cursor[0] = '0';
    ctx->data = e;

    ngx_http_social_argv_init(&a, argv, lens,
                              NGX_HTTP_SOCIAL_EVICT_FEED_ARGC);

    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_EVICT_FEED_NKEYS, "5");
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_EVICT_FEED_RECENT,
                             NGX_HTTP_SOCIAL_KEY_FEED_RECENT);
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_EVICT_FEED_TOP,
                             NGX_HTTP_SOCIAL_KEY_FEED_TOP);
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_EVICT_FEED_BOTTOM,
                             NGX_HTTP_SOCIAL_KEY_FEED_BOTTOM);
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_EVICT_FEED_GEN,
                             NGX_HTTP_SOCIAL_KEY_FEED_GEN);
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_EVICT_FEED_OBJGEN,
                             NGX_HTTP_SOCIAL_KEY_FEED_OBJGEN);
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_EVICT_FEED_SET,
                             (e->mask & NGX_HTTP_SOCIAL_EVICT_FEED)
                             ? "1" : "0");

    if (ctx->smcf->redis_addr.len == 0
        || ngx_http_social_redis_script(ctx, ngx_http_social_evict_fed,
                                        &ngx_http_social_evict_feed_script,
                                        a.argc, a.argv, a.lens)
           != NGX_OK)
    {
        return ngx_http_social_unavailable(ctx, "Redis");
    }

    return NGX_DONE;
}


static void
ngx_http_social_evict_fed(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    ngx_http_social_evict_t  *e = ctx->data;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        ngx_http_social_done(ctx, ngx_http_social_unavailable(ctx, "Redis"));
        return;
    }

    e->evicted = reply->integer;
    e->pattern = 1;

    if (ngx_http_social_evict_scan(ctx) != NGX_OK) {
        ngx_http_social_done(ctx, ngx_http_social_unavailable(ctx, "Redis"));
    }
}


/* the next batch of the scope's object keys, or the answer */

static ngx_int_t
ngx_http_social_evict_scan(ngx_http_social_ctx_t *ctx)
{
    size_t                    lens[NGX_HTTP_SOCIAL_EVICT_SCAN_ARGC];
    const char               *argv[NGX_HTTP_SOCIAL_EVICT_SCAN_ARGC];
    ngx_http_social_argv_t    a;
    ngx_http_social_evict_t  *e = ctx->data;

    while (e->pattern < NGX_HTTP_SOCIAL_EVICT_PATTERNS
           && (!(e->mask & (1 << e->pattern))
               || ngx_http_social_evict_patterns[e->pattern] == NULL))
    {
        e->pattern++;
    }

    if (e->pattern == NGX_HTTP_SOCIAL_EVICT_PATTERNS) {
        ngx_http_social_evict_evicted(ctx);
        return NGX_OK;
    }

    ngx_http_social_argv_init(&a, argv, lens,
                              NGX_HTTP_SOCIAL_EVICT_SCAN_ARGC);

    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_EVICT_SCAN_COMMAND, "SCAN");
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_EVICT_SCAN_CURSOR,
                             (char *) e->cursor);
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_EVICT_SCAN_MATCH, "MATCH");
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_EVICT_SCAN_PATTERN,
                             ngx_http_social_evict_patterns[e->pattern]);
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_EVICT_SCAN_COUNT, "COUNT");
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_EVICT_SCAN_BATCH, "1000");

    return ngx_http_social_redis_command(ctx, ngx_http_social_evict_scanned,
                                         a.argc, a.argv, a.lens);
}


static void
ngx_http_social_evict_scanned(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    ngx_uint_t                i;
    redisReply               *keys;
    ngx_http_social_argv_t    a;
    ngx_http_social_evict_t  *e = ctx->data;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 2
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[0]->len > NGX_INT64_LEN
        || reply->element[1]->type != REDIS_REPLY_ARRAY)
    {
        ngx_http_social_done(ctx, ngx_http_social_unavailable(ctx, "Redis"));
        return;
    }

    /* the cursor "0": this pattern is done after this batch */

    *ngx_cpymem(e->cursor, reply->element[0]->str,
                reply->element[0]->len) = '\0';

    if (e->cursor[0] == '0' && e->cursor[1] == '\0') {
        e->pattern++;
    }

    keys = reply->element[1];

    if (keys->elements == 0) {
        ngx_http_social_evict_unlinked(ctx, NULL);
        return;
    }

    /* UNLINK and the keys */

    if (ngx_http_social_argv_create(&a, ctx->pool, 1 + keys->elements)
        != NGX_OK)
    {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_social_argv_set(&a, 0, "UNLINK");

    for (i = 0; i < keys->elements; i++) {
        ngx_http_social_argv_set_len(&a, 1 + i, keys->element[i]->str,
                                     keys->element[i]->len);
    }

    if (ngx_http_social_redis_command(ctx, ngx_http_social_evict_unlinked,
                                      a.argc, a.argv, a.lens)
        != NGX_OK)
    {
        ngx_http_social_done(ctx, ngx_http_social_unavailable(ctx, "Redis"));
    }
}


static void
ngx_http_social_evict_unlinked(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    ngx_http_social_evict_t  *e = ctx->data;

    if (reply && reply->type == REDIS_REPLY_INTEGER) {
        e->evicted += reply->integer;

    } else if (reply) {
        ngx_http_social_done(ctx, ngx_http_social_unavailable(ctx, "Redis"));
        return;
    }

    if (ngx_http_social_evict_scan(ctx) != NGX_OK) {
        ngx_http_social_done(ctx, ngx_http_social_unavailable(ctx, "Redis"));
    }
}


static void
ngx_http_social_evict_evicted(ngx_http_social_ctx_t *ctx)
{
    yajl_gen                  g;
    ngx_http_social_evict_t  *e = ctx->data;

    /* nginx's response cache: the group answers, the feed pages */

    e->evicted += ngx_http_social_cache_evict(
                                    e->mask & NGX_HTTP_SOCIAL_EVICT_GROUPS,
                                    e->mask & NGX_HTTP_SOCIAL_EVICT_FEED);

    ngx_log_error(NGX_LOG_NOTICE, ctx->log, 0,
                  "social: user %L evicted %L cached entries",
                  ctx->user_id, e->evicted);

    g = ngx_http_social_json_gen(ctx->pool);
    if (g == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_social_json_str(g, "evicted");
    yajl_gen_integer(g, e->evicted);
    yajl_gen_map_close(g);

    ngx_http_social_done(ctx, ngx_http_social_send(ctx, NGX_HTTP_OK, g));
}
