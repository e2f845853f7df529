
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The UTF-8 check (ngx_http_social_utf8.c) on any bytes, against a
 * reference written apart from it: each sequence decoded to its code
 * point, then judged by the definition (no overlong form, no surrogate,
 * nothing above U+10FFFF) where the module uses Table 3-7's byte ranges.
 * The check of a JSON text must accept only well-formed bytes, and judge
 * bytes without escapes as the plain check does.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_social_utf8.h"

#include "fuzz.h"


static ngx_int_t ngx_social_fuzz_utf8_reference(const u_char *p, size_t len);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char      *text;
    ngx_int_t    valid, json;
    ngx_pool_t  *pool;

    pool = ngx_social_fuzz_pool();
    text = ngx_social_fuzz_copy(pool, data, size);

    valid = ngx_http_social_utf8_valid(text, size);
    json = ngx_http_social_utf8_json(text, size);

    ngx_social_fuzz_check(valid == NGX_OK || valid == NGX_DECLINED,
                          "utf8_valid: neither OK nor DECLINED");
    ngx_social_fuzz_check(json == NGX_OK || json == NGX_DECLINED,
                          "utf8_json: neither OK nor DECLINED");

    ngx_social_fuzz_check(valid == ngx_social_fuzz_utf8_reference(text, size),
                          "utf8_valid differs from the reference");

    ngx_social_fuzz_check(json != NGX_OK || valid == NGX_OK,
                          "utf8_json accepts bytes that are not UTF-8");

    if (memchr(text, '\\', size) == NULL) {
        ngx_social_fuzz_check(json == valid,
                              "utf8_json without escapes differs from "
                              "utf8_valid");
    }

    ngx_destroy_pool(pool);

    return 0;
}


/* decode each sequence, then judge its code point: NGX_OK, NGX_DECLINED */

static ngx_int_t
ngx_social_fuzz_utf8_reference(const u_char *p, size_t len)
{
    size_t    i, n, k;
    uint32_t  cp, min;

    for (i = 0; i < len; i += n) {
        if (p[i] < 0x80) {
            n = 1;
            continue;
        }

        if ((p[i] & 0xe0) == 0xc0) {
            n = 2;
            cp = p[i] & 0x1f;
            min = 0x80;

        } else if ((p[i] & 0xf0) == 0xe0) {
            n = 3;
            cp = p[i] & 0x0f;
            min = 0x800;

        } else if ((p[i] & 0xf8) == 0xf0) {
            n = 4;
            cp = p[i] & 0x07;
            min = 0x10000;

        } else {
            return NGX_DECLINED;
        }

        if (len - i < n) {
            return NGX_DECLINED;
        }

        for (k = 1; k < n; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return NGX_DECLINED;
            }

            cp = (cp << 6) | (p[i + k] & 0x3f);
        }

        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}
