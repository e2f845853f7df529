
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The token (ngx_http_social_token.c): the split, strict base64url, the
 * HMAC check, the header and the claims.  Random bytes stop at the HMAC
 * check, so most inputs are signed here with the test key first.  The
 * first byte chooses:
 *
 *   'r' (0 mod 3)  the rest is a token as a client sends it;
 *   's' (1 mod 3)  the rest is a header, a NUL and claims: each is
 *                  base64url'd, the two signed with the test key, and the
 *                  token parsed; when it is accepted, the same token with
 *                  its signature altered, or checked with another key,
 *                  must be refused;
 *   't' (2 mod 3)  the rest gives claims (sub, gen, role, lifetime) and a
 *                  key: ngx_http_social_token_sign() signs them when they
 *                  are valid (sub from 1, gen from 0), and the parse must
 *                  give them back while the token is not expired.
 *
 * An accepted token always has a sub from 1 and a gen from 0.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_token.h"

#include "fuzz.h"


static void ngx_social_fuzz_token_raw(ngx_pool_t *pool, const u_char *data,
    size_t size);
static void ngx_social_fuzz_token_signed(ngx_pool_t *pool,
    const u_char *data, size_t size);
static void ngx_social_fuzz_token_make(ngx_pool_t *pool, ngx_str_t *key,
    ngx_str_t *header, ngx_str_t *claims, ngx_uint_t alter,
    ngx_str_t *token);
static void ngx_social_fuzz_token_round(ngx_pool_t *pool, const u_char *data,
    size_t size);
static void ngx_social_fuzz_token_claims(ngx_http_social_claims_t *claims);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ngx_social_fuzz_pt  modes[] = {
        ngx_social_fuzz_token_raw,
        ngx_social_fuzz_token_signed,
        ngx_social_fuzz_token_round
    };

    return ngx_social_fuzz_modes(data, size, modes, 3);
}


static void
ngx_social_fuzz_token_raw(ngx_pool_t *pool, const u_char *data, size_t size)
{
    ngx_str_t                 token;
    ngx_http_social_claims_t  claims;

    token.data = ngx_social_fuzz_copy(pool, data, size);
    token.len = size;

    if (ngx_http_social_token_parse(pool, &ngx_social_fuzz_key, &token,
                                    NGX_SOCIAL_FUZZ_NOW, &claims)
        == NGX_OK)
    {
        ngx_social_fuzz_token_claims(&claims);
    }
}


static void
ngx_social_fuzz_token_signed(ngx_pool_t *pool, const u_char *data,
    size_t size)
{
    ngx_int_t                 rc;
    ngx_str_t                 parts[2], token, other;
    ngx_http_social_claims_t  claims;

    (void) ngx_social_fuzz_split(data, size, parts, 2);

    ngx_social_fuzz_token_make(pool, &ngx_social_fuzz_key, &parts[0],
                               &parts[1], 0, &token);

    rc = ngx_http_social_token_parse(pool, &ngx_social_fuzz_key, &token,
                                     NGX_SOCIAL_FUZZ_NOW, &claims);

    ngx_social_fuzz_check(rc == NGX_OK || rc == NGX_DECLINED,
                          "token_parse: neither OK nor DECLINED");

    if (rc != NGX_OK) {
        return;
    }

    ngx_social_fuzz_token_claims(&claims);

    /* the signature is what makes it valid */

    ngx_social_fuzz_token_make(pool, &ngx_social_fuzz_key, &parts[0],
                               &parts[1], 1, &token);

    ngx_social_fuzz_check(ngx_http_social_token_parse(pool,
                              &ngx_social_fuzz_key, &token,
                              NGX_SOCIAL_FUZZ_NOW, &claims)
                          == NGX_DECLINED,
                          "a token with an altered signature accepted");

    ngx_social_fuzz_token_make(pool, &ngx_social_fuzz_key, &parts[0],
                               &parts[1], 0, &token);
    ngx_str_set(&other, "another key");

    ngx_social_fuzz_check(ngx_http_social_token_parse(pool, &other, &token,
                              NGX_SOCIAL_FUZZ_NOW, &claims)
                          == NGX_DECLINED,
                          "a token accepted under another key");
}


/* b64url(header).b64url(claims).b64url(HMAC), the MAC altered if asked */

static void
ngx_social_fuzz_token_make(ngx_pool_t *pool, ngx_str_t *key,
    ngx_str_t *header, ngx_str_t *claims, ngx_uint_t alter,
    ngx_str_t *token)
{
    u_char     *p;
    ngx_str_t   h, c, s;
    u_char      mac[32];

    ngx_social_fuzz_b64url(pool, header->data, header->len, &h);
    ngx_social_fuzz_b64url(pool, claims->data, claims->len, &c);

    token->data = ngx_pnalloc(pool, h.len + c.len + 2
                                    + ngx_base64_encoded_length(32));
    ngx_social_fuzz_check(token->data != NULL, "no memory");

    p = ngx_cpymem(token->data, h.data, h.len);
    *p++ = '.';
    p = ngx_cpymem(p, c.data, c.len);

    ngx_social_fuzz_hmac(key, token->data, p - token->data, mac);

    if (alter) {
        mac[31] ^= 1;
    }

    ngx_social_fuzz_b64url(pool, mac, 32, &s);

    *p++ = '.';
    p = ngx_cpymem(p, s.data, s.len);

    token->len = p - token->data;
}


/* sub (8 bytes), gen (8), role (1), lifetime (4), then the key */

static void
ngx_social_fuzz_token_round(ngx_pool_t *pool, const u_char *data,
    size_t size)
{
    int32_t                   lifetime;
    ngx_int_t                 rc, expect;
    ngx_str_t                 key, token;
    ngx_http_social_claims_t  in, out;
    u_char                    buf[21];

    ngx_memzero(buf, sizeof(buf));
    ngx_memcpy(buf, data, ngx_min(size, sizeof(buf)));

    ngx_memzero(&in, sizeof(ngx_http_social_claims_t));
    ngx_memcpy(&in.user_id, buf, 8);
    ngx_memcpy(&in.gen, buf + 8, 8);
    in.admin = buf[16] & 1;
    ngx_memcpy(&lifetime, buf + 17, 4);

    key.len = (size > sizeof(buf)) ? size - sizeof(buf) : 0;
    key.data = ngx_social_fuzz_copy(pool, key.len ? data + sizeof(buf) : data,
                                    key.len);

    rc = ngx_http_social_token_sign(pool, &key, &in, NGX_SOCIAL_FUZZ_NOW,
                                    lifetime, &token);

    /* only claims that read back are signed */

    expect = (in.user_id >= 1 && in.gen >= 0) ? NGX_OK : NGX_ERROR;

    ngx_social_fuzz_check(rc == expect, "token_sign: claims out of range");

    if (rc != NGX_OK) {
        return;
    }

    expect = (lifetime > 0) ? NGX_OK : NGX_DECLINED;

    rc = ngx_http_social_token_parse(pool, &key, &token, NGX_SOCIAL_FUZZ_NOW,
                                     &out);

    ngx_social_fuzz_check(rc == expect, "a signed token read back wrongly");

    if (rc == NGX_OK) {
        ngx_social_fuzz_check(out.user_id == in.user_id && out.gen == in.gen
                              && out.admin == in.admin,
                              "claims that do not read back");

        /* and it expires at its time */

        ngx_social_fuzz_check(ngx_http_social_token_parse(pool, &key, &token,
                                  NGX_SOCIAL_FUZZ_NOW + (time_t) lifetime,
                                  &out)
                              == NGX_DECLINED,
                              "a token accepted at its expiry");
    }
}


static void
ngx_social_fuzz_token_claims(ngx_http_social_claims_t *claims)
{
    ngx_social_fuzz_check(claims->user_id >= 1 && claims->gen >= 0
                          && (claims->admin == 0 || claims->admin == 1),
                          "claims accepted out of their range");
}
