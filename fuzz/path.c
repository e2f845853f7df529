
/*
 * Copyright (C) ngx_social developers
 */


/*
 * Ids as clients write them: the path's id (ngx_http_social_path_id()
 * hands the location's first regex capture to
 * ngx_http_social_parse_id(), which is all of it that is not nginx's),
 * the digits under every JSON integer and Redis number
 * (ngx_http_social_atoi64()), and the batch ids the error points keep in
 * Redis (ngx_http_social_point_batch_check()).  Each against a reference
 * written apart:
 *
 *   parse_id    1 to 19 digits, no leading zero, at most 2^63-1;
 *   atoi64      digits up to 2^63-1; NGX_DECLINED at a byte that is not
 *               a digit, NGX_ERROR when the digits before it pass
 *               2^63-1;
 *   batch ids   "<epoch>:<seq>", the epoch 1 to 32 lower-case hex
 *               digits, the seq 1 to 18 digits, or either alone.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_args.h"
#include "ngx_http_social_points.h"

#include "fuzz.h"


static void ngx_social_fuzz_path_id(u_char *p, size_t len);
static void ngx_social_fuzz_path_atoi64(u_char *p, size_t len);
static void ngx_social_fuzz_path_batch(u_char *p, size_t len);
static ngx_uint_t ngx_social_fuzz_path_digits(u_char *p, u_char *last,
    ngx_uint_t hex, size_t max);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char      *p;
    ngx_pool_t  *pool;

    pool = ngx_social_fuzz_pool();
    p = ngx_social_fuzz_copy(pool, data, size);

    ngx_social_fuzz_path_id(p, size);
    ngx_social_fuzz_path_atoi64(p, size);
    ngx_social_fuzz_path_batch(p, size);

    ngx_destroy_pool(pool);

    return 0;
}


static void
ngx_social_fuzz_path_id(u_char *p, size_t len)
{
    int64_t    id, ref;
    ngx_int_t  rc, expect;

    ref = 0;
    expect = (len >= 1 && len <= 19 && p[0] != '0'
              && ngx_social_fuzz_decimal(p, len, &ref) == NGX_OK)
             ? NGX_OK : NGX_DECLINED;

    rc = ngx_http_social_parse_id(p, len, &id);

    ngx_social_fuzz_check(rc == expect, "parse_id differs from the reference");

    if (rc == NGX_OK) {
        ngx_social_fuzz_check(id == ref && id >= 1, "parse_id's value");
    }
}


static void
ngx_social_fuzz_path_atoi64(u_char *p, size_t len)
{
    size_t     digits;
    int64_t    n, ref;
    ngx_int_t  rc, expect;

    for (digits = 0; digits < len && p[digits] >= '0' && p[digits] <= '9';
         digits++)
    {
        /* void */
    }

    ref = 0;
    expect = ngx_social_fuzz_decimal(p, len, &ref);

    if (expect == NGX_DECLINED && digits > 0
        && ngx_social_fuzz_decimal(p, digits, &n) == NGX_ERROR)
    {
        /* the digits pass 2^63-1 before the byte that is not one */
        expect = NGX_ERROR;
    }

    rc = ngx_http_social_atoi64(p, len, &n);

    ngx_social_fuzz_check(rc == expect, "atoi64 differs from the reference");

    if (rc == NGX_OK) {
        ngx_social_fuzz_check(n == ref, "atoi64's value");
    }
}


static void
ngx_social_fuzz_path_batch(u_char *p, size_t len)
{
    u_char      *last, *colon;
    ngx_uint_t   expect;

    last = p + len;
    colon = ngx_strlchr(p, last, ':');

    expect = colon && ngx_social_fuzz_path_digits(p, colon, 1, 32)
             && ngx_social_fuzz_path_digits(colon + 1, last, 0, 18);

    ngx_social_fuzz_check(ngx_http_social_point_batch_check(p, len,
                              NGX_HTTP_SOCIAL_POINT_BATCH)
                          == expect, "a batch id");

    ngx_social_fuzz_check(ngx_http_social_point_batch_check(p, len,
                              NGX_HTTP_SOCIAL_POINT_EPOCH)
                          == ngx_social_fuzz_path_digits(p, last, 1, 32),
                          "an epoch");

    ngx_social_fuzz_check(ngx_http_social_point_batch_check(p, len,
                              NGX_HTTP_SOCIAL_POINT_SEQ)
                          == ngx_social_fuzz_path_digits(p, last, 0, 18),
                          "a seq");
}


/* 1 to max digits, lower-case hex ones when hex */

static ngx_uint_t
ngx_social_fuzz_path_digits(u_char *p, u_char *last, ngx_uint_t hex,
    size_t max)
{
    size_t       n;
    const char  *set;

    set = hex ? "0123456789abcdef" : "0123456789";

    for (n = 0; p + n < last; n++) {
        if (p[n] == '\0' || strchr(set, p[n]) == NULL) {
            return 0;
        }
    }

    return n >= 1 && n <= max;
}
