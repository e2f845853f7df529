
/*
 * Copyright (C) ngx_social developers
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_request.h"
#include "ngx_http_social_endpoints.h"


typedef struct {
    ngx_uint_t                      postgres;   /* a backend error */
    ngx_uint_t                      redis;
} ngx_http_social_health_t;


static void ngx_http_social_health_pg(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_health_redis(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static ngx_int_t ngx_http_social_health_send(ngx_http_social_ctx_t *ctx);
static const char *ngx_http_social_health_state(ngx_uint_t error);


static const char  *ngx_http_social_health_args[] = { "PING" };
static size_t       ngx_http_social_health_lens[] = { 4 };


/* GET /health: one PostgreSQL and one Redis round trip, side by side */

ngx_int_t
ngx_http_social_health(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_health_t  *h;

    h = ngx_pcalloc(ctx->request->pool, sizeof(ngx_http_social_health_t));
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->data = h;
    ctx->pending = 2;

    if (ngx_http_social_pg_query(ctx, "SELECT 1", 0, NULL,
                                 ngx_http_social_health_pg)
        != NGX_OK)
    {
        h->postgres = ctx->backend_error;
        ctx->pending--;
    }

    if (ngx_http_social_redis_command(ctx, ngx_http_social_health_redis, 1,
                                      ngx_http_social_health_args,
                                      ngx_http_social_health_lens)
        != NGX_OK)
    {
        h->redis = ctx->backend_error;
        ctx->pending--;
    }

    if (ctx->pending) {
        return NGX_DONE;
    }

    return ngx_http_social_health_send(ctx);
}


static void
ngx_http_social_health_pg(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_health_t  *h = ctx->data;

    if (res == NULL) {
        h->postgres = ctx->backend_error;

    } else if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "social: health query failed: %s",
                      PQresultErrorMessage(res));
        h->postgres = NGX_HTTP_SOCIAL_BACKEND_DOWN;
    }

    if (--ctx->pending == 0) {
        ngx_http_social_done(ctx, ngx_http_social_health_send(ctx));
    }
}


static void
ngx_http_social_health_redis(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    ngx_http_social_health_t  *h = ctx->data;

    if (reply == NULL) {
        h->redis = ctx->backend_error;

    } else if (reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "social: redis PING failed: %*s",
                      (size_t) reply->len, reply->str);
        h->redis = NGX_HTTP_SOCIAL_BACKEND_DOWN;
    }

    if (--ctx->pending == 0) {
        ngx_http_social_done(ctx, ngx_http_social_health_send(ctx));
    }
}


static ngx_int_t
ngx_http_social_health_send(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_health_t  *h = ctx->data;

    u_char      *p;
    yajl_gen     g;
    ngx_str_t    one;
    ngx_uint_t   ok;
    u_char       msg[64];

    ok = (h->postgres == NGX_HTTP_SOCIAL_BACKEND_OK
          && h->redis == NGX_HTTP_SOCIAL_BACKEND_OK);

    g = ngx_http_social_json_gen(ctx->request->pool);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    yajl_gen_map_open(g);
    ngx_http_social_json_kv(g, "status", ok ? "ok" : "unavailable");
    ngx_http_social_json_kv(g, "postgres",
                            ngx_http_social_health_state(h->postgres));
    ngx_http_social_json_kv(g, "redis",
                            ngx_http_social_health_state(h->redis));

    if (!ok) {
        p = ngx_snprintf(msg, sizeof(msg) - 1, "%s%s%s unavailable.",
                         h->postgres ? "PostgreSQL" : "",
                         h->postgres && h->redis ? " and " : "",
                         h->redis ? "Redis" : "");
        *p = '\0';

        ngx_http_social_json_str(g, "error");
        yajl_gen_map_open(g);
        ngx_http_social_json_kv(g, "code", "service_unavailable");
        ngx_http_social_json_kv(g, "message", (char *) msg);
        yajl_gen_map_close(g);
    }

    yajl_gen_map_close(g);

    if (ok) {
        return ngx_http_social_send(ctx, NGX_HTTP_OK, g);
    }

    ngx_str_set(&one, "1");

    if (ngx_http_social_add_header(ctx->request, "Retry-After", &one)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_social_send(ctx, NGX_HTTP_SERVICE_UNAVAILABLE, g);
}


static const char *
ngx_http_social_health_state(ngx_uint_t error)
{
    switch (error) {
    case NGX_HTTP_SOCIAL_BACKEND_OK:
        return "ok";
    case NGX_HTTP_SOCIAL_BACKEND_TIMEOUT:
        return "timeout";
    case NGX_HTTP_SOCIAL_BACKEND_BUSY:
        return "busy";
    default:
        return "down";
    }
}
