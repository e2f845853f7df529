
/*
 * Copyright (C) ngx_social developers
 */


/*
 * POST /admin/cache/evict {"scope": "all" | "feed" | "posts" | "users" |
 * "groups"}: the cached entries of the scope removed from Redis, counted.
 * "feed" is the recent-events set (each event counts); "posts" and
 * "users" the cached objects; "groups" the cached group reads.  Both feed
 * generations move on first, so no read in flight writes an entry back
 * from before.  The objects are found with SCAN and removed with UNLINK,
 * a batch a command, so Redis never blocks on a large keyspace.
 * Revocation generations are not a cache and are never evicted.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_request.h"


#define NGX_HTTP_SOCIAL_CACHE_FEED     0x01
#define NGX_HTTP_SOCIAL_CACHE_POSTS    0x02
#define NGX_HTTP_SOCIAL_CACHE_USERS    0x04
#define NGX_HTTP_SOCIAL_CACHE_GROUPS   0x08


typedef struct {
    ngx_uint_t                      mask;
    ngx_uint_t                      pattern;    /* the one scanned */
    int64_t                         evicted;
    u_char                          cursor[NGX_INT64_LEN + 1];
} ngx_http_social_evict_t;


static void ngx_http_social_cache_fed(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static ngx_int_t ngx_http_social_cache_scan(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_cache_scanned(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_cache_unlinked(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_cache_evicted(ngx_http_social_ctx_t *ctx);


static ngx_http_social_script_t  ngx_http_social_cache_feed_script = {
    /* KEYS: recent top bottom gen objgen; ARGV: whether the feed goes */
    "redis.call('INCR', KEYS[4]) "
    "redis.call('INCR', KEYS[5]) "
    "if ARGV[1] == '0' then return 0 end "
    "local n = redis.call('ZCARD', KEYS[1]) "
    "redis.call('DEL', KEYS[1], KEYS[2], KEYS[3]) "
    "return n",
    ""
};


static struct {
    const char                     *name;
    ngx_uint_t                      mask;
} ngx_http_social_cache_scopes[] = {
    { "all", NGX_HTTP_SOCIAL_CACHE_FEED|NGX_HTTP_SOCIAL_CACHE_POSTS
             |NGX_HTTP_SOCIAL_CACHE_USERS|NGX_HTTP_SOCIAL_CACHE_GROUPS },
    { "feed", NGX_HTTP_SOCIAL_CACHE_FEED },
    { "posts", NGX_HTTP_SOCIAL_CACHE_POSTS },
    { "users", NGX_HTTP_SOCIAL_CACHE_USERS },
    { "groups", NGX_HTTP_SOCIAL_CACHE_GROUPS },
    { NULL, 0 }
};


/* the object keys of each scope, in the order of the mask's bits */

static const char  *ngx_http_social_cache_patterns[] = {
    NULL, "social:post:*", "social:user:*", "social:group:*"
};


ngx_int_t
ngx_http_social_cache_evict_endpoint(ngx_http_social_ctx_t *ctx)
{
    size_t                    lens[7];
    ngx_int_t                 rc;
    ngx_str_t                 scope;
    ngx_uint_t                i;
    const char               *argv[7];
    ngx_http_social_evict_t  *e;

    rc = ngx_http_social_json_string(ctx, ctx->body, "scope", 1, 16, &scope);

    if (rc == NGX_DECLINED) {
        ngx_http_social_note_invalid(ctx, "scope", "is required");
    }

    if (rc != NGX_OK) {
        return ngx_http_social_unprocessable(ctx);
    }

    for (i = 0; ngx_http_social_cache_scopes[i].name; i++) {
        if (ngx_strlen(ngx_http_social_cache_scopes[i].name) == scope.len
            && ngx_strncmp(scope.data, ngx_http_social_cache_scopes[i].name,
                           scope.len)
               == 0)
        {
            break;
        }
    }

    if (ngx_http_social_cache_scopes[i].name == NULL) {
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

    e->mask = ngx_http_social_cache_scopes[i].mask;
    e->cursor[0] = '0';
    ctx->data = e;

    argv[0] = "5";
    argv[1] = "social:feed:recent";
    argv[2] = "social:feed:top";
    argv[3] = "social:feed:bottom";
    argv[4] = "social:feed:gen";
    argv[5] = "social:feed:objgen";
    argv[6] = (e->mask & NGX_HTTP_SOCIAL_CACHE_FEED) ? "1" : "0";

    for (i = 0; i < 7; i++) {
        lens[i] = ngx_strlen(argv[i]);
    }

    if (ctx->smcf->redis_addr.len == 0
        || ngx_http_social_redis_script(ctx, ngx_http_social_cache_fed,
                                        &ngx_http_social_cache_feed_script,
                                        7, argv, lens)
           != NGX_OK)
    {
        return ngx_http_social_unavailable(ctx, "Redis");
    }

    return NGX_DONE;
}


static void
ngx_http_social_cache_fed(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    ngx_http_social_evict_t  *e = ctx->data;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        ngx_http_social_done(ctx, ngx_http_social_unavailable(ctx, "Redis"));
        return;
    }

    e->evicted = reply->integer;
    e->pattern = 1;

    if (ngx_http_social_cache_scan(ctx) != NGX_OK) {
        ngx_http_social_done(ctx, ngx_http_social_unavailable(ctx, "Redis"));
    }
}


/* the next batch of the scope's object keys, or the answer */

static ngx_int_t
ngx_http_social_cache_scan(ngx_http_social_ctx_t *ctx)
{
    size_t                    lens[6];
    ngx_uint_t                i;
    const char               *argv[6];
    ngx_http_social_evict_t  *e = ctx->data;

    while (e->pattern < 4 && !(e->mask & (1 << e->pattern))) {
        e->pattern++;
    }

    if (e->pattern == 4) {
        ngx_http_social_cache_evicted(ctx);
        return NGX_OK;
    }

    argv[0] = "SCAN";
    argv[1] = (char *) e->cursor;
    argv[2] = "MATCH";
    argv[3] = ngx_http_social_cache_patterns[e->pattern];
    argv[4] = "COUNT";
    argv[5] = "1000";

    for (i = 0; i < 6; i++) {
        lens[i] = ngx_strlen(argv[i]);
    }

    return ngx_http_social_redis_command(ctx, ngx_http_social_cache_scanned,
                                         6, argv, lens);
}


static void
ngx_http_social_cache_scanned(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    size_t                   *lens;
    ngx_uint_t                i, n;
    redisReply               *keys;
    const char              **argv;
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
        ngx_http_social_cache_unlinked(ctx, NULL);
        return;
    }

    n = keys->elements + 1;
    argv = ngx_palloc(ctx->pool, n * sizeof(char *));
    lens = ngx_palloc(ctx->pool, n * sizeof(size_t));

    if (argv == NULL || lens == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    argv[0] = "UNLINK";
    lens[0] = sizeof("UNLINK") - 1;

    for (i = 0; i < keys->elements; i++) {
        argv[i + 1] = keys->element[i]->str;
        lens[i + 1] = keys->element[i]->len;
    }

    if (ngx_http_social_redis_command(ctx, ngx_http_social_cache_unlinked,
                                      n, argv, lens)
        != NGX_OK)
    {
        ngx_http_social_done(ctx, ngx_http_social_unavailable(ctx, "Redis"));
    }
}


static void
ngx_http_social_cache_unlinked(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    ngx_http_social_evict_t  *e = ctx->data;

    if (reply && reply->type == REDIS_REPLY_INTEGER) {
        e->evicted += reply->integer;

    } else if (reply) {
        ngx_http_social_done(ctx, ngx_http_social_unavailable(ctx, "Redis"));
        return;
    }

    if (ngx_http_social_cache_scan(ctx) != NGX_OK) {
        ngx_http_social_done(ctx, ngx_http_social_unavailable(ctx, "Redis"));
    }
}


static void
ngx_http_social_cache_evicted(ngx_http_social_ctx_t *ctx)
{
    yajl_gen                  g;
    ngx_http_social_evict_t  *e = ctx->data;

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
