
/*
 * Copyright (C) ngx_social developers
 */


/*
 * A text written as a JSON string straight (ngx_http_social_json_quote(),
 * the hot path's keys, spellings and rows of error points) against yajl's
 * generator, as the module configures it (ngx_http_social_json_gen()): for
 * any UTF-8 text, the same bytes, and the length said beforehand is the
 * length written.  A point's key written one way and then the other must
 * be the same counter.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_social_utf8.h"
#include "ngx_http_social_json.h"

#include "fuzz.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char          *text, *out, *last;
    size_t           len, n;
    yajl_gen         g;
    ngx_pool_t      *pool;
    const u_char    *buf;

    pool = ngx_social_fuzz_pool();
    text = ngx_social_fuzz_copy(pool, data, size);

    /* what reaches the writer passed the door's check */

    if (ngx_http_social_utf8_valid(text, size) != NGX_OK) {
        ngx_destroy_pool(pool);
        return 0;
    }

    len = ngx_http_social_json_quoted_len(text, size);
    out = ngx_pnalloc(pool, len);
    ngx_social_fuzz_check(out != NULL, "no memory");

    last = ngx_http_social_json_quote(out, text, size);

    ngx_social_fuzz_check((size_t) (last - out) == len,
                          "json_quote wrote another length than it said");

    g = ngx_http_social_json_gen(pool);
    ngx_social_fuzz_check(g != NULL, "no generator");

    ngx_social_fuzz_check(yajl_gen_string(g, text, size)
                          == yajl_gen_status_ok,
                          "yajl refused UTF-8 that the door accepts");
    ngx_social_fuzz_check(yajl_gen_get_buf(g, &buf, &n)
                          == yajl_gen_status_ok,
                          "yajl gave no buffer");

    ngx_social_fuzz_check(n == len && ngx_memcmp(buf, out, n) == 0,
                          "json_quote differs from yajl's generator");

    ngx_destroy_pool(pool);

    return 0;
}
