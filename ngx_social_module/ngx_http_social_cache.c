
/*
 * Copyright (C) ngx_social developers
 */


/*
 * POST /admin/cache/evict {"scope": "all" | "feed" | "posts" | "users" |
 * "groups"}: the cached entries of the scope removed from Redis, counted.
 * "feed" is the recent-events set (each event counts); "posts" and
 * "users" the cached objects; "groups" the cached group reads.  Every
 * eviction moves the feed's generation on, so no read in flight writes an
 * entry back from before it.  Revocation generations are not a cache and
 * are never evicted.
 */


#include "ngx_http_social_module.h"


static void ngx_http_social_cache_evicted(ngx_http_social_ctx_t *ctx,
    redisReply *reply);


static ngx_http_social_script_t  ngx_http_social_cache_evict_script = {
    /* KEYS: recent top bottom gen; ARGV: scope */
    "local s, n = ARGV[1], 0 "
    "redis.call('INCR', KEYS[4]) "
    "local function purge(pattern) "
    "  local cursor = '0' "
    "  repeat "
    "    local r = redis.call('SCAN', cursor, 'MATCH', pattern, "
    "                         'COUNT', 1000) "
    "    cursor = r[1] "
    "    for _, k in ipairs(r[2]) do n = n + redis.call('DEL', k) end "
    "  until cursor == '0' "
    "end "
    "if s == 'all' or s == 'feed' then "
    "  n = n + redis.call('ZCARD', KEYS[1]) "
    "  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3]) "
    "end "
    "if s == 'all' or s == 'posts' then purge('social:post:*') end "
    "if s == 'all' or s == 'users' then purge('social:user:*') end "
    "if s == 'all' or s == 'groups' then purge('social:group:*') end "
    "return n",
    ""
};


static const char  *ngx_http_social_cache_scopes[] = {
    "all", "feed", "posts", "users", "groups", NULL
};


ngx_int_t
ngx_http_social_cache_evict_endpoint(ngx_http_social_ctx_t *ctx)
{
    ngx_int_t     rc;
    ngx_str_t     scope;
    ngx_uint_t    i;
    const char   *found;

    rc = ngx_http_social_json_string(ctx, ctx->body, "scope", 1, 16, &scope);

    if (rc == NGX_DECLINED) {
        ngx_http_social_json_invalid(ctx, "scope", "is required");
    }

    if (rc != NGX_OK) {
        return ngx_http_social_invalid(ctx);
    }

    found = NULL;

    for (i = 0; ngx_http_social_cache_scopes[i]; i++) {
        if (ngx_strlen(ngx_http_social_cache_scopes[i]) == scope.len
            && ngx_strncmp(scope.data, ngx_http_social_cache_scopes[i],
                           scope.len)
               == 0)
        {
            found = ngx_http_social_cache_scopes[i];
            break;
        }
    }

    if (found == NULL) {
        ngx_http_social_json_invalid(ctx, "scope",
                                     "must be one of all, feed, posts, "
                                     "users, groups");
        return ngx_http_social_invalid(ctx);
    }

    if (!ctx->admin) {
        return ngx_http_social_forbidden(ctx);
    }

    if (ctx->smcf->redis_addr.len == 0
        || ngx_http_social_cache_evict(ctx, found,
                                       ngx_http_social_cache_evicted)
           != NGX_OK)
    {
        return ngx_http_social_unavailable(ctx, "redis");
    }

    return NGX_DONE;
}


/* also the refresh's, when a delete could not reach Redis */

ngx_int_t
ngx_http_social_cache_evict(ngx_http_social_ctx_t *ctx, const char *scope,
    ngx_http_social_redis_handler_pt handler)
{
    size_t       lens[6];
    ngx_uint_t   i;
    const char  *argv[6];

    argv[0] = "4";
    argv[1] = "social:feed:recent";
    argv[2] = "social:feed:top";
    argv[3] = "social:feed:bottom";
    argv[4] = "social:feed:gen";
    argv[5] = scope;

    for (i = 0; i < 6; i++) {
        lens[i] = ngx_strlen(argv[i]);
    }

    return ngx_http_social_redis_script(ctx, handler,
                                        &ngx_http_social_cache_evict_script,
                                        6, argv, lens);
}


static void
ngx_http_social_cache_evicted(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    yajl_gen  g;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        ngx_http_social_done(ctx, ngx_http_social_unavailable(ctx, "redis"));
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, ctx->log, 0,
                  "social: user %L evicted %i cached entries",
                  ctx->user_id, reply->integer);

    g = ngx_http_social_json_gen(ctx->pool);
    if (g == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_social_json_str(g, "evicted");
    yajl_gen_integer(g, reply->integer);
    yajl_gen_map_close(g);

    ngx_http_social_done(ctx, ngx_http_social_send(ctx, NGX_HTTP_OK, g));
}
