
/*
 * Copyright (C) ngx_social developers
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ngx_http_social_args.h"


/* the bytes of a cursor's HMAC that it carries */
#define NGX_HTTP_SOCIAL_CURSOR_MAC  8


/* ?limit=: a plain integer in min..max; NGX_OK or NGX_DECLINED */

ngx_int_t
ngx_http_social_limit_parse(ngx_str_t *arg, ngx_uint_t min, ngx_uint_t max,
    ngx_uint_t *limit)
{
    ngx_int_t  n;

    n = (arg->len > 0 && arg->len <= 4) ? ngx_atoi(arg->data, arg->len)
                                        : NGX_ERROR;

    if (n == NGX_ERROR || (ngx_uint_t) n < min || (ngx_uint_t) n > max) {
        return NGX_DECLINED;
    }

    *limit = n;

    return NGX_OK;
}


/*
 * Decimal digits as a non-negative integer, read from the left: NGX_OK
 * with the value; NGX_DECLINED at a byte that is not a digit (or when
 * there is no digit at all); NGX_ERROR when the value passes INT64_MAX
 * before that.  Pure: bytes in, a number out.
 */

ngx_int_t
ngx_http_social_atoi64(const u_char *p, size_t len, int64_t *n)
{
    int64_t        v;
    const u_char  *last;

    if (len == 0) {
        return NGX_DECLINED;
    }

    last = p + len;

    for (v = 0; p < last; p++) {
        if (*p < '0' || *p > '9') {
            return NGX_DECLINED;
        }

        if (v > (INT64_MAX - (*p - '0')) / 10) {
            return NGX_ERROR;
        }

        v = v * 10 + (*p - '0');
    }

    *n = v;

    return NGX_OK;
}


/*
 * an id as clients write it: 1 to 2^63-1 in decimal, no sign, no leading
 * zero; NGX_OK or NGX_DECLINED
 */

ngx_int_t
ngx_http_social_parse_id(const u_char *p, size_t len, int64_t *id)
{
    if (len == 0 || len > 19 || p[0] == '0') {
        return NGX_DECLINED;
    }

    if (ngx_http_social_atoi64(p, len, id) != NGX_OK) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * ?before=: a cursor this server issued: base64url of "c:<a>:<b>", two
 * non-negative integers (a position in a list), and 8 bytes of its HMAC
 * with the server key, so that a cursor the server did not issue is
 * refused.  NGX_OK with the position, NGX_DECLINED when it is not such a
 * cursor, NGX_ERROR without memory.
 */

ngx_int_t
ngx_http_social_cursor_decode(ngx_pool_t *pool, ngx_str_t *key,
    ngx_str_t *arg, int64_t *a, int64_t *b)
{
    off_t          x, y;
    u_char        *p, *last, *colon;
    ngx_str_t      text;
    unsigned int   maclen;
    u_char         mac[EVP_MAX_MD_SIZE];

    if (arg->len == 0 || arg->len > 96) {
        return NGX_DECLINED;
    }

    text.data = ngx_pnalloc(pool, ngx_base64_decoded_length(arg->len) + 1);
    if (text.data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_decode_base64url(&text, arg) != NGX_OK
        || text.len < 5 + NGX_HTTP_SOCIAL_CURSOR_MAC)
    {
        return NGX_DECLINED;
    }

    text.len -= NGX_HTTP_SOCIAL_CURSOR_MAC;

    if (HMAC(EVP_sha256(), key->data, key->len, text.data, text.len, mac,
             &maclen)
        == NULL
        || CRYPTO_memcmp(mac, text.data + text.len,
                         NGX_HTTP_SOCIAL_CURSOR_MAC) != 0
        || text.data[0] != 'c' || text.data[1] != ':')
    {
        return NGX_DECLINED;
    }

    p = text.data + 2;
    last = text.data + text.len;
    colon = ngx_strlchr(p, last, ':');

    if (colon == NULL || colon == p || colon + 1 == last
        || colon - p > 19 || last - colon - 1 > 19)
    {
        return NGX_DECLINED;
    }

    x = ngx_atoof(p, colon - p);
    y = ngx_atoof(colon + 1, last - colon - 1);

    if (x < 0 || y < 0) {
        return NGX_DECLINED;
    }

    *a = x;
    *b = y;

    return NGX_OK;
}


/* the cursor of the position (a, b): what cursor_decode() takes back */

ngx_int_t
ngx_http_social_cursor_encode(ngx_pool_t *pool, ngx_str_t *key,
    const char *a, const char *b, ngx_str_t *cursor)
{
    u_char        *p;
    ngx_str_t      src;
    unsigned int   maclen;
    u_char         text[48 + EVP_MAX_MD_SIZE];

    p = ngx_snprintf(text, 48, "c:%s:%s", a, b);

    if (HMAC(EVP_sha256(), key->data, key->len, text, p - text, p, &maclen)
        == NULL)
    {
        return NGX_ERROR;
    }

    src.data = text;
    src.len = p - text + NGX_HTTP_SOCIAL_CURSOR_MAC;

    cursor->data = ngx_pnalloc(pool, ngx_base64_encoded_length(src.len));
    if (cursor->data == NULL) {
        return NGX_ERROR;
    }

    ngx_encode_base64url(cursor, &src);

    return NGX_OK;
}
