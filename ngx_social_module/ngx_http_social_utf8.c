
/*
 * Copyright (C) ngx_social developers
 */


/*
 * UTF-8 as Unicode defines it (Table 3-7, "well-formed UTF-8 byte
 * sequences"): Unicode scalar values in their shortest form, so no
 * surrogate (U+D800..U+DFFF), no overlong form, nothing above U+10FFFF, no
 * truncated sequence, no stray continuation byte, never C0, C1 or F5..FF.
 *
 * A JSON text is judged on its raw bytes and on the \u escapes of its
 * strings (values and member names alike): an escaped surrogate must be a
 * high one (\uD800..\uDBFF) followed at once by an escaped low one
 * (\uDC00..\uDFFF).  yajl 2 checks only the shape of UTF-8 and decodes a
 * lone surrogate escape to "?" or to a raw surrogate, so this runs before
 * it.  Only the strings are understood here, not the structure of the
 * text, which yajl judges: the answer is meaningful for valid JSON and
 * safe for any bytes (nothing is read past the end, nothing allocated).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_social_utf8.h"


static size_t ngx_http_social_utf8_char(const u_char *p, const u_char *last);
static const u_char *ngx_http_social_utf8_escape(const u_char *p,
    const u_char *last);
static ngx_int_t ngx_http_social_utf8_hex4(const u_char *p,
    const u_char *last, ngx_uint_t *value);


/* the whole of p..len is well-formed UTF-8: NGX_OK, else NGX_DECLINED */

ngx_int_t
ngx_http_social_utf8_valid(const u_char *p, size_t len)
{
    size_t         n;
    const u_char  *last;

    last = p + len;

    while (p < last) {
        n = ngx_http_social_utf8_char(p, last);

        if (n == 0) {
            return NGX_DECLINED;
        }

        p += n;
    }

    return NGX_OK;
}


/*
 * a JSON text whose bytes are well-formed UTF-8 and whose strings' \u
 * escapes are Unicode scalar values: NGX_OK, else NGX_DECLINED
 */

ngx_int_t
ngx_http_social_utf8_json(const u_char *p, size_t len)
{
    size_t         n;
    ngx_uint_t     string;
    const u_char  *last;

    last = p + len;
    string = 0;

    while (p < last) {
        if (*p >= 0x80) {
            n = ngx_http_social_utf8_char(p, last);

            if (n == 0) {
                return NGX_DECLINED;
            }

            p += n;
            continue;
        }

        if (*p == '"') {
            string = !string;

        } else if (*p == '\\' && string) {
            p = ngx_http_social_utf8_escape(p + 1, last);

            if (p == NULL) {
                return NGX_DECLINED;
            }

            continue;
        }

        p++;
    }

    return NGX_OK;
}


/* the length of the well-formed sequence at p, or 0 */

static size_t
ngx_http_social_utf8_char(const u_char *p, const u_char *last)
{
    u_char  c, lo, hi;
    size_t  i, n;

    c = *p;

    if (c < 0x80) {
        return 1;
    }

    /* the second byte's range depends on the first: Table 3-7 */

    lo = 0x80;
    hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;

        if (c == 0xe0) {
            lo = 0xa0;              /* shorter than U+0800: overlong */

        } else if (c == 0xed) {
            hi = 0x9f;              /* U+D800..U+DFFF: a surrogate */
        }

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;

        if (c == 0xf0) {
            lo = 0x90;              /* shorter than U+10000: overlong */

        } else if (c == 0xf4) {
            hi = 0x8f;              /* above U+10FFFF */
        }

    } else {
        /* 80..BF alone, C0 and C1 (overlong), F5..FF (out of range) */
        return 0;
    }

    if ((size_t) (last - p) < n || p[1] < lo || p[1] > hi) {
        return 0;
    }

    for (i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }

    return n;
}


/*
 * p follows a backslash in a string: past the escape, or NULL when it is
 * a \u escape of no scalar value (a lone or misplaced surrogate)
 */

static const u_char *
ngx_http_social_utf8_escape(const u_char *p, const u_char *last)
{
    ngx_uint_t  high, low;

    if (p == last) {
        return NULL;
    }

    if (*p != 'u') {
        /* \" \\ \n and the like (yajl judges which); raw bytes stay ours */
        return (*p < 0x80) ? p + 1 : p;
    }

    if (ngx_http_social_utf8_hex4(p + 1, last, &high) != NGX_OK) {
        return NULL;
    }

    p += 5;

    if (high < 0xd800 || high > 0xdfff) {
        return p;
    }

    if (high >= 0xdc00) {
        /* a low surrogate without a high one before it */
        return NULL;
    }

    /* a high surrogate: a low one must follow at once */

    if (last - p < 6 || p[0] != '\\' || p[1] != 'u'
        || ngx_http_social_utf8_hex4(p + 2, last, &low) != NGX_OK
        || low < 0xdc00 || low > 0xdfff)
    {
        return NULL;
    }

    return p + 6;
}


static ngx_int_t
ngx_http_social_utf8_hex4(const u_char *p, const u_char *last,
    ngx_uint_t *value)
{
    u_char      c;
    ngx_uint_t  i, v;

    if (last - p < 4) {
        return NGX_ERROR;
    }

    v = 0;

    for (i = 0; i < 4; i++) {
        c = p[i];

        if (c >= '0' && c <= '9') {
            v = v * 16 + (c - '0');

        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            v = v * 16 + ((c | 0x20) - 'a' + 10);

        } else {
            return NGX_ERROR;
        }
    }

    *value = v;

    return NGX_OK;
}
