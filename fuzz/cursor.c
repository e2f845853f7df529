
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The cursor of ?before= (ngx_http_social_args.c): base64url of
 * "c:<a>:<b>" and 8 bytes of its HMAC.  The first byte chooses:
 *
 *   'r' (0 mod 3)  the rest is ?before= as a client sends it;
 *   's' (1 mod 3)  the rest is a cursor's text, which is given its MAC
 *                  with the test key and base64url'd, so that the
 *                  decoder's reading of the text is reached;
 *   't' (2 mod 3)  the rest is two strings cut at a NUL, which
 *                  ngx_http_social_cursor_encode() makes a cursor of, as
 *                  the lists do with the values of their last row.
 *
 * In 's' and 't' the decoder must accept exactly the texts "c:<a>:<b>"
 * of two integers of 1 to 19 digits up to 2^63-1 (the reference, written
 * apart), and give them back.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_social_args.h"

#include "fuzz.h"


#define NGX_SOCIAL_FUZZ_CURSOR_MAC   8
#define NGX_SOCIAL_FUZZ_CURSOR_TEXT  48


static void ngx_social_fuzz_cursor_raw(ngx_pool_t *pool, const u_char *data,
    size_t size);
static void ngx_social_fuzz_cursor_signed(ngx_pool_t *pool,
    const u_char *data, size_t size);
static void ngx_social_fuzz_cursor_round(ngx_pool_t *pool,
    const u_char *data, size_t size);
static void ngx_social_fuzz_cursor_expect(ngx_pool_t *pool,
    ngx_str_t *cursor, const u_char *text, size_t len);
static ngx_int_t ngx_social_fuzz_cursor_reference(const u_char *text,
    size_t len, int64_t *a, int64_t *b);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ngx_social_fuzz_pt  modes[] = {
        ngx_social_fuzz_cursor_raw,
        ngx_social_fuzz_cursor_signed,
        ngx_social_fuzz_cursor_round
    };

    return ngx_social_fuzz_modes(data, size, modes, 3);
}


static void
ngx_social_fuzz_cursor_raw(ngx_pool_t *pool, const u_char *data,
    size_t size)
{
    int64_t    a, b;
    ngx_int_t  rc;
    ngx_str_t  arg;

    arg.data = ngx_social_fuzz_copy(pool, data, size);
    arg.len = size;

    rc = ngx_http_social_cursor_decode(pool, &ngx_social_fuzz_key, &arg,
                                       &a, &b);

    ngx_social_fuzz_check(rc == NGX_DECLINED || (rc == NGX_OK && a >= 0
                                                 && b >= 0),
                          "cursor_decode: a raw cursor");
}


static void
ngx_social_fuzz_cursor_signed(ngx_pool_t *pool, const u_char *data,
    size_t size)
{
    u_char     *text;
    int64_t     a, b;
    ngx_str_t   cursor;
    u_char      mac[32];

    text = ngx_pnalloc(pool, size + NGX_SOCIAL_FUZZ_CURSOR_MAC);
    ngx_social_fuzz_check(text != NULL, "no memory");

    ngx_memcpy(text, data, size);
    ngx_social_fuzz_hmac(&ngx_social_fuzz_key, text, size, mac);
    ngx_memcpy(text + size, mac, NGX_SOCIAL_FUZZ_CURSOR_MAC);

    ngx_social_fuzz_b64url(pool, text, size + NGX_SOCIAL_FUZZ_CURSOR_MAC,
                           &cursor);

    ngx_social_fuzz_cursor_expect(pool, &cursor, data, size);

    /* the MAC is what makes it valid */

    text[size] ^= 1;
    ngx_social_fuzz_b64url(pool, text, size + NGX_SOCIAL_FUZZ_CURSOR_MAC,
                           &cursor);

    ngx_social_fuzz_check(ngx_http_social_cursor_decode(pool,
                              &ngx_social_fuzz_key, &cursor, &a, &b)
                          == NGX_DECLINED,
                          "a cursor with an altered MAC accepted");
}


static void
ngx_social_fuzz_cursor_round(ngx_pool_t *pool, const u_char *data,
    size_t size)
{
    u_char     *a, *b, *p;
    ngx_str_t   parts[2], cursor;
    u_char      text[NGX_SOCIAL_FUZZ_CURSOR_TEXT];

    (void) ngx_social_fuzz_split(data, size, parts, 2);

    /* C strings, as PostgreSQL's values are: b ends at its first NUL */

    a = ngx_pnalloc(pool, parts[0].len + 1);
    b = ngx_pnalloc(pool, parts[1].len + 1);
    ngx_social_fuzz_check(a != NULL && b != NULL, "no memory");

    *ngx_cpymem(a, parts[0].data, parts[0].len) = '\0';
    *ngx_cpymem(b, parts[1].data, parts[1].len) = '\0';

    ngx_social_fuzz_check(ngx_http_social_cursor_encode(pool,
                              &ngx_social_fuzz_key, (char *) a, (char *) b,
                              &cursor)
                          == NGX_OK, "cursor_encode failed");

    /* the text it signs: "c:<a>:<b>", cut at 48 bytes */

    p = ngx_snprintf(text, sizeof(text), "c:%s:%s", a, b);

    ngx_social_fuzz_cursor_expect(pool, &cursor, text, p - text);
}


/* the decoder accepts the cursor of text exactly as the reference says */

static void
ngx_social_fuzz_cursor_expect(ngx_pool_t *pool, ngx_str_t *cursor,
    const u_char *text, size_t len)
{
    int64_t    a, b, ra, rb;
    ngx_int_t  rc, expect;

    ra = 0;
    rb = 0;
    expect = ngx_social_fuzz_cursor_reference(text, len, &ra, &rb);

    if (cursor->len > 96) {
        expect = NGX_DECLINED;
    }

    rc = ngx_http_social_cursor_decode(pool, &ngx_social_fuzz_key, cursor,
                                       &a, &b);

    ngx_social_fuzz_check(rc == expect,
                          "cursor_decode differs from the reference");

    if (rc == NGX_OK) {
        ngx_social_fuzz_check(a == ra && b == rb, "a cursor's position");
    }
}


/* "c:" digits ":" digits, 1 to 19 digits each, each at most 2^63-1 */

static ngx_int_t
ngx_social_fuzz_cursor_reference(const u_char *text, size_t len,
    int64_t *a, int64_t *b)
{
    const u_char  *p, *last, *colon;

    if (len < 2 || text[0] != 'c' || text[1] != ':') {
        return NGX_DECLINED;
    }

    p = text + 2;
    last = text + len;

    colon = memchr(p, ':', last - p);

    if (colon == NULL
        || colon - p > 19 || last - colon - 1 > 19
        || ngx_social_fuzz_decimal(p, colon - p, a) != NGX_OK
        || ngx_social_fuzz_decimal(colon + 1, last - colon - 1, b) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}
