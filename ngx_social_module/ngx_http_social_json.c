
/*
 * Copyright (C) ngx_social developers
 */


/*
 * JSON generation with yajl, into a pool, and the JSON string of a text
 * written straight, as yajl would write it, for the small texts of a hot
 * path (a generator costs a 2 kB buffer of the pool).  The parser is
 * _json_parse.c, the bridge from PostgreSQL results _json_pg.c; what a
 * request sends is _reply.c's.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_json.h"


static void *ngx_http_social_json_malloc(void *ctx, size_t size);
static void *ngx_http_social_json_realloc(void *ctx, void *ptr, size_t size);
static void ngx_http_social_json_free(void *ctx, void *ptr);


/*
 * yajl allocates from the pool of the request (or of the job's run):
 * whatever path a request takes, nothing it generated or parsed outlives
 * the pool or leaks
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


/* yajl's allocation in the pool, for the generator and the parser */

void
ngx_http_social_json_alloc(yajl_alloc_funcs *af, ngx_pool_t *pool)
{
    af->malloc = ngx_http_social_json_malloc;
    af->realloc = ngx_http_social_json_realloc;
    af->free = ngx_http_social_json_free;
    af->ctx = pool;
}


/* a generator in the pool: it checks the UTF-8 of every string it writes */

yajl_gen
ngx_http_social_json_gen(ngx_pool_t *pool)
{
    yajl_gen          g;
    yajl_alloc_funcs  af;

    ngx_http_social_json_alloc(&af, pool);

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


/*
 * A text (UTF-8, as checked at the door) as a JSON string, its quotes
 * included, escaped byte for byte as yajl's generator escapes it (so that
 * a key written either way is the same key): \" \\ \b \f \n \r \t, any
 * other byte below 0x20 as \u00XX with upper case digits, everything else
 * as it is ("/" too).  The length first, then the writer.
 */

size_t
ngx_http_social_json_quoted_len(const u_char *p, size_t len)
{
    size_t         n;
    const u_char  *last;

    n = len + 2;

    for (last = p + len; p < last; p++) {
        if (*p >= 0x20 && *p != '"' && *p != '\\') {
            continue;
        }

        switch (*p) {

        case '"':
        case '\\':
        case '\b':
        case '\f':
        case '\n':
        case '\r':
        case '\t':
            n++;
            break;

        default:
            n += 5;     /* \u00XX for the byte */
        }
    }

    return n;
}


u_char *
ngx_http_social_json_quote(u_char *dst, const u_char *p, size_t len)
{
    static u_char  hex[] = "0123456789ABCDEF";

    u_char         c;
    const u_char  *last;

    *dst++ = '"';

    for (last = p + len; p < last; p++) {
        c = *p;

        if (c >= 0x20 && c != '"' && c != '\\') {
            *dst++ = c;
            continue;
        }

        *dst++ = '\\';

        switch (c) {

        case '"':
        case '\\':
            *dst++ = c;
            break;

        case '\b':
            *dst++ = 'b';
            break;

        case '\f':
            *dst++ = 'f';
            break;

        case '\n':
            *dst++ = 'n';
            break;

        case '\r':
            *dst++ = 'r';
            break;

        case '\t':
            *dst++ = 't';
            break;

        default:
            *dst++ = 'u';
            *dst++ = '0';
            *dst++ = '0';
            *dst++ = hex[c >> 4];
            *dst++ = hex[c & 0xf];
        }
    }

    *dst++ = '"';

    return dst;
}
