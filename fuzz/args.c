
/*
 * Copyright (C) ngx_social developers
 */


/*
 * A query string as the lists read it: nginx's own ngx_http_arg() finds
 * ?limit=, ?before= and ?user_id= in r->args (the request that
 * _request.c's reads take, here holding nothing but its arguments), then
 * the pure parsers judge them: ngx_http_social_limit_parse() with the
 * bounds of the endpoints, ngx_http_social_cursor_decode() and
 * ngx_http_social_parse_id().  The limit against a reference: 1 to 4
 * digits whose value is in the bounds.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_args.h"

#include "fuzz.h"


typedef struct {
    ngx_uint_t                      min;
    ngx_uint_t                      max;
} ngx_social_fuzz_bounds_t;


static void ngx_social_fuzz_args_limit(ngx_str_t *arg);


/* a page of a list (1..100), GET /exercises (1..20), and the widest */

static ngx_social_fuzz_bounds_t  ngx_social_fuzz_args_bounds[] = {
    { 1, 100 },
    { 1, 20 },
    { 0, 9999 }
};


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t              a, b, id;
    ngx_int_t            rc;
    ngx_str_t            arg;
    ngx_pool_t          *pool;
    ngx_http_request_t  *r;

    pool = ngx_social_fuzz_pool();

    r = ngx_pcalloc(pool, sizeof(ngx_http_request_t));
    ngx_social_fuzz_check(r != NULL, "no memory");

    r->args.data = ngx_social_fuzz_copy(pool, data, size);
    r->args.len = size;

    if (ngx_http_arg(r, (u_char *) "limit", 5, &arg) == NGX_OK) {
        ngx_social_fuzz_args_limit(&arg);
    }

    if (ngx_http_arg(r, (u_char *) "before", 6, &arg) == NGX_OK) {
        rc = ngx_http_social_cursor_decode(pool, &ngx_social_fuzz_key, &arg,
                                           &a, &b);

        ngx_social_fuzz_check(rc == NGX_DECLINED
                              || (rc == NGX_OK && a >= 0 && b >= 0),
                              "cursor_decode: ?before=");
    }

    if (ngx_http_arg(r, (u_char *) "user_id", 7, &arg) == NGX_OK) {
        rc = ngx_http_social_parse_id(arg.data, arg.len, &id);

        ngx_social_fuzz_check(rc == NGX_DECLINED || (rc == NGX_OK && id >= 1),
                              "parse_id: ?user_id=");
    }

    ngx_destroy_pool(pool);

    return 0;
}


static void
ngx_social_fuzz_args_limit(ngx_str_t *arg)
{
    int64_t                    ref;
    ngx_int_t                  rc, expect;
    ngx_uint_t                 i, limit;
    ngx_social_fuzz_bounds_t  *bounds;

    for (i = 0; i < sizeof(ngx_social_fuzz_args_bounds)
                    / sizeof(ngx_social_fuzz_bounds_t); i++)
    {
        bounds = &ngx_social_fuzz_args_bounds[i];
        ref = 0;

        expect = (arg->len >= 1 && arg->len <= 4
                  && ngx_social_fuzz_decimal(arg->data, arg->len, &ref)
                     == NGX_OK
                  && (ngx_uint_t) ref >= bounds->min
                  && (ngx_uint_t) ref <= bounds->max)
                 ? NGX_OK : NGX_DECLINED;

        rc = ngx_http_social_limit_parse(arg, bounds->min, bounds->max,
                                         &limit);

        ngx_social_fuzz_check(rc == expect,
                              "limit_parse differs from the reference");

        if (rc == NGX_OK) {
            ngx_social_fuzz_check(limit == (ngx_uint_t) ref,
                                  "limit_parse's value");
        }
    }
}
