
/*
 * Copyright (C) ngx_social developers
 */


#include "ngx_http_social_module.h"


static void *ngx_http_social_json_malloc(void *ctx, size_t size);
static void *ngx_http_social_json_realloc(void *ctx, void *ptr, size_t size);
static void ngx_http_social_json_free(void *ctx, void *ptr);


/*
 * yajl allocates from the request pool: whatever path a request takes,
 * nothing it generated or parsed outlives the pool or leaks
 */

static void *
ngx_http_social_json_malloc(void *ctx, size_t size)
{
    ngx_pool_t  *pool = ctx;

    size_t  *p;

    p = ngx_palloc(pool, size + sizeof(size_t));
    if (p == NULL) {
        return NULL;
    }

    *p = size;

    return p + 1;
}


static void *
ngx_http_social_json_realloc(void *ctx, void *ptr, size_t size)
{
    size_t  *old;
    void    *p;

    if (ptr == NULL) {
        return ngx_http_social_json_malloc(ctx, size);
    }

    old = (size_t *) ptr - 1;

    if (size <= *old) {
        return ptr;
    }

    p = ngx_http_social_json_malloc(ctx, size);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, ptr, *old);

    if (*old >= 4096) {
        ngx_pfree(ctx, old);
    }

    return p;
}


static void
ngx_http_social_json_free(void *ctx, void *ptr)
{
    /* the pool frees it */
}


yajl_gen
ngx_http_social_json_gen(ngx_pool_t *pool)
{
    yajl_gen          g;
    yajl_alloc_funcs  af;

    af.malloc = ngx_http_social_json_malloc;
    af.realloc = ngx_http_social_json_realloc;
    af.free = ngx_http_social_json_free;
    af.ctx = pool;

    g = yajl_gen_alloc(&af);
    if (g == NULL) {
        return NULL;
    }

    (void) yajl_gen_config(g, yajl_gen_validate_utf8, 1);

    return g;
}


void
ngx_http_social_json_str(yajl_gen g, const char *s)
{
    (void) yajl_gen_string(g, (const unsigned char *) s, ngx_strlen(s));
}


void
ngx_http_social_json_kv(yajl_gen g, const char *key, const char *value)
{
    ngx_http_social_json_str(g, key);

    if (value) {
        ngx_http_social_json_str(g, value);

    } else {
        (void) yajl_gen_null(g);
    }
}


ngx_int_t
ngx_http_social_json_body(ngx_http_social_ctx_t *ctx, yajl_gen g,
    ngx_chain_t **out, size_t *len)
{
    size_t                n;
    ngx_buf_t            *b;
    ngx_chain_t          *cl;
    const unsigned char  *buf;

    if (yajl_gen_get_buf(g, &buf, &n) != yajl_gen_status_ok) {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "social: incomplete JSON generated");
        return NGX_ERROR;
    }

    b = ngx_calloc_buf(ctx->request->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    cl = ngx_alloc_chain_link(ctx->request->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    /* the buffer is pool memory: it lives as long as the request */

    b->pos = (u_char *) buf;
    b->last = (u_char *) buf + n;
    b->memory = 1;
    b->last_buf = (ctx->request == ctx->request->main);
    b->last_in_chain = 1;

    cl->buf = b;
    cl->next = NULL;

    *out = cl;
    *len = n;

    return NGX_OK;
}
