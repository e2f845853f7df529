
/*
 * Copyright (C) ngx_social developers
 */


/*
 * Tokens: JWT HS256 signed with OpenSSL's HMAC, strict base64url, the
 * signature compared in constant time, nothing unsigned parsed.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_args.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>


static ngx_int_t ngx_http_social_token_header(ngx_pool_t *pool,
    ngx_str_t *part);
static ngx_int_t ngx_http_social_token_claims(ngx_pool_t *pool,
    ngx_str_t *text, time_t now, ngx_http_social_claims_t *claims);
static ngx_int_t ngx_http_social_token_signed(ngx_str_t *text,
    ngx_http_social_claims_t *claims);
static ngx_int_t ngx_http_social_token_word(u_char **p, u_char *last,
    const char *word, size_t len);
static ngx_int_t ngx_http_social_token_number(u_char **p, u_char *last,
    int64_t *n);
static ngx_int_t ngx_http_social_token_read(ngx_pool_t *pool,
    ngx_str_t *text, ngx_http_social_claims_t *claims);
static ngx_int_t ngx_http_social_claim_int(ngx_http_social_json_t *payload,
    const char *key, int64_t *n);
static ngx_int_t ngx_http_social_b64url(ngx_pool_t *pool, ngx_str_t *in,
    ngx_str_t *out);
static ngx_int_t ngx_http_social_token_hmac(ngx_str_t *key,
    const u_char *data, size_t len, u_char *mac);
static ngx_int_t ngx_http_social_token_key(ngx_str_t *key);


/*
 * HMAC-SHA-256 of the tokens with the key's inner and outer states
 * computed once (RFC 2104): a check is then two hashes of the token's
 * bytes, not OpenSSL's HMAC() that fetches and sets everything up each
 * time (0.3 us against 1.4 us).  One key a process, remembered as it is
 * (the configuration's key has at most 4096 bytes; a longer one is never
 * remembered); the states are the process's, never freed.
 */

#define NGX_HTTP_SOCIAL_HMAC_BLOCK  64
#define NGX_HTTP_SOCIAL_HMAC_KEY    4096

static EVP_MD_CTX  *ngx_http_social_hmac_inner;
static EVP_MD_CTX  *ngx_http_social_hmac_outer;
static EVP_MD_CTX  *ngx_http_social_hmac_work;
static u_char       ngx_http_social_hmac_key[NGX_HTTP_SOCIAL_HMAC_KEY];
static size_t       ngx_http_social_hmac_key_len = (size_t) -1;


static const char  ngx_http_social_jwt_header[] =
    "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

/* the same, base64url'd, as every token this module signs begins */
static const char  ngx_http_social_jwt_header64[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";


/*
 * <header>.<payload>.<signature>, signed with the key and current at now:
 * NGX_OK with the claims, NGX_DECLINED for anything else
 */

ngx_int_t
ngx_http_social_token_parse(ngx_pool_t *pool, ngx_str_t *key,
    ngx_str_t *token, time_t now, ngx_http_social_claims_t *claims)
{
    u_char     *dot1, *dot2, *last;
    ngx_str_t   part, text, sig;
    u_char      mac[EVP_MAX_MD_SIZE];

    last = token->data + token->len;

    dot1 = ngx_strlchr(token->data, last, '.');
    if (dot1 == NULL) {
        return NGX_DECLINED;
    }

    dot2 = ngx_strlchr(dot1 + 1, last, '.');
    if (dot2 == NULL || ngx_strlchr(dot2 + 1, last, '.') != NULL) {
        return NGX_DECLINED;
    }

    /* the signature first: nothing unsigned is parsed */

    part.data = dot2 + 1;
    part.len = last - part.data;

    if (ngx_http_social_b64url(pool, &part, &sig) != NGX_OK
        || sig.len != 32)
    {
        return NGX_DECLINED;
    }

    if (ngx_http_social_token_hmac(key, token->data, dot2 - token->data, mac)
        != NGX_OK
        || CRYPTO_memcmp(mac, sig.data, 32) != 0)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, pool->log, 0,
                       "social auth: bad signature");
        return NGX_DECLINED;
    }

    /*
     * only HS256: "none" and every other algorithm are refused; the
     * header this module signs is known by its bytes, any other is read
     */

    part.data = token->data;
    part.len = dot1 - token->data;

    if ((part.len != sizeof(ngx_http_social_jwt_header64) - 1
         || ngx_strncmp(part.data, ngx_http_social_jwt_header64, part.len)
            != 0)
        && ngx_http_social_token_header(pool, &part) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    part.data = dot1 + 1;
    part.len = dot2 - part.data;

    if (ngx_http_social_b64url(pool, &part, &text) != NGX_OK) {
        return NGX_DECLINED;
    }

    return ngx_http_social_token_claims(pool, &text, now, claims);
}


/* a header written another way: its "alg" HS256, no "crit" */

static ngx_int_t
ngx_http_social_token_header(ngx_pool_t *pool, ngx_str_t *part)
{
    ngx_str_t                text;
    ngx_http_social_json_t  *header, *v;

    if (ngx_http_social_b64url(pool, part, &text) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (ngx_http_social_json_parse(pool, text.data, text.len, &header)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    v = ngx_http_social_json_get(header, "alg");

    if (v == NULL || v->type != NGX_HTTP_SOCIAL_JSON_STRING
        || v->str.len != 5 || ngx_strncmp(v->str.data, "HS256", 5) != 0
        || ngx_http_social_json_get(header, "crit") != NULL)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * the payload: "sub", "role", "iat", "exp" after now, "gen"; as this
 * module writes it (ngx_http_social_token_sign()), it is read without a
 * JSON parser, and any other way of writing it is read by the parser
 */

static ngx_int_t
ngx_http_social_token_claims(ngx_pool_t *pool, ngx_str_t *text, time_t now,
    ngx_http_social_claims_t *claims)
{
    if (ngx_http_social_token_signed(text, claims) != NGX_OK
        && ngx_http_social_token_read(pool, text, claims) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (claims->expires <= now) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, pool->log, 0,
                       "social auth: token expired");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * {"sub":"<id>","role":"user"|"admin","iat":<n>,"exp":<n>,"gen":<n>},
 * byte for byte, each number without a leading zero: what the parser
 * would make of it; NGX_DECLINED for anything else
 */

static ngx_int_t
ngx_http_social_token_signed(ngx_str_t *text,
    ngx_http_social_claims_t *claims)
{
    u_char      *p, *last, *start;
    int64_t      sub, iat, end, gen;
    ngx_uint_t   admin;

    p = text->data;
    last = p + text->len;

    if (ngx_http_social_token_word(&p, last, "{\"sub\":\"", 8) != NGX_OK) {
        return NGX_DECLINED;
    }

    start = p;

    while (p < last && *p >= '0' && *p <= '9') {
        p++;
    }

    if (ngx_http_social_parse_id(start, p - start, &sub) != NGX_OK
        || ngx_http_social_token_word(&p, last, "\",\"role\":\"", 10)
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (ngx_http_social_token_word(&p, last, "user\"", 5) == NGX_OK) {
        admin = 0;

    } else if (ngx_http_social_token_word(&p, last, "admin\"", 6) == NGX_OK) {
        admin = 1;

    } else {
        return NGX_DECLINED;
    }

    if (ngx_http_social_token_word(&p, last, ",\"iat\":", 7) != NGX_OK
        || ngx_http_social_token_number(&p, last, &iat) != NGX_OK
        || ngx_http_social_token_word(&p, last, ",\"exp\":", 7) != NGX_OK
        || ngx_http_social_token_number(&p, last, &end) != NGX_OK
        || ngx_http_social_token_word(&p, last, ",\"gen\":", 7) != NGX_OK
        || ngx_http_social_token_number(&p, last, &gen) != NGX_OK
        || ngx_http_social_token_word(&p, last, "}", 1) != NGX_OK
        || p != last)
    {
        return NGX_DECLINED;
    }

    claims->user_id = sub;
    claims->gen = gen;
    claims->expires = (time_t) end;
    claims->admin = admin;

    return NGX_OK;
}


static ngx_int_t
ngx_http_social_token_word(u_char **p, u_char *last, const char *word,
    size_t len)
{
    if ((size_t) (last - *p) < len || ngx_strncmp(*p, word, len) != 0) {
        return NGX_DECLINED;
    }

    *p += len;

    return NGX_OK;
}


/* a JSON integer from 0 to 2^63-1: digits, no leading zero */

static ngx_int_t
ngx_http_social_token_number(u_char **p, u_char *last, int64_t *n)
{
    u_char  *start;

    start = *p;

    while (*p < last && **p >= '0' && **p <= '9') {
        (*p)++;
    }

    if (*p == start || (start[0] == '0' && *p - start > 1)) {
        return NGX_DECLINED;
    }

    return ngx_http_social_atoi64(start, *p - start, n) == NGX_OK
           ? NGX_OK : NGX_DECLINED;
}


/* the payload written any other way, read by the JSON parser */

static ngx_int_t
ngx_http_social_token_read(ngx_pool_t *pool, ngx_str_t *text,
    ngx_http_social_claims_t *claims)
{
    int64_t                  end, iat, sub, gen;
    ngx_uint_t               admin;
    ngx_http_social_json_t  *payload, *v;

    if (ngx_http_social_json_parse(pool, text->data, text->len, &payload)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    /* "sub": the user id as a decimal string, no sign, no leading zero */

    v = ngx_http_social_json_get(payload, "sub");

    if (v == NULL || v->type != NGX_HTTP_SOCIAL_JSON_STRING
        || ngx_http_social_parse_id(v->str.data, v->str.len, &sub) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (ngx_http_social_claim_int(payload, "exp", &end) != NGX_OK
        || ngx_http_social_claim_int(payload, "iat", &iat) != NGX_OK
        || ngx_http_social_claim_int(payload, "gen", &gen) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    v = ngx_http_social_json_get(payload, "role");

    if (v == NULL || v->type != NGX_HTTP_SOCIAL_JSON_STRING) {
        return NGX_DECLINED;
    }

    if (v->str.len == 5 && ngx_strncmp(v->str.data, "admin", 5) == 0) {
        admin = 1;

    } else if (v->str.len == 4 && ngx_strncmp(v->str.data, "user", 4) == 0) {
        admin = 0;

    } else {
        return NGX_DECLINED;
    }

    claims->user_id = sub;
    claims->gen = gen;
    claims->expires = (time_t) end;
    claims->admin = admin;

    return NGX_OK;
}


static ngx_int_t
ngx_http_social_claim_int(ngx_http_social_json_t *payload, const char *key,
    int64_t *n)
{
    ngx_http_social_json_t  *v;

    v = ngx_http_social_json_get(payload, key);

    if (v == NULL || v->type != NGX_HTTP_SOCIAL_JSON_INTEGER || v->big
        || v->integer < 0)
    {
        return NGX_ERROR;
    }

    *n = v->integer;

    return NGX_OK;
}


/* strict base64url: the URL alphabet, no padding, canonical trailing bits */

static ngx_int_t
ngx_http_social_b64url(ngx_pool_t *pool, ngx_str_t *in, ngx_str_t *out)
{
    ngx_str_t  again;

    if (in->len == 0 || in->len % 4 == 1) {
        return NGX_ERROR;
    }

    out->data = ngx_pnalloc(pool, ngx_base64_decoded_length(in->len) + 1);
    again.data = ngx_pnalloc(pool, ngx_base64_encoded_length(in->len));

    if (out->data == NULL || again.data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_decode_base64url(out, in) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_encode_base64url(&again, out);

    if (again.len != in->len || ngx_strncmp(again.data, in->data, in->len))
    {
        return NGX_ERROR;
    }

    out->data[out->len] = '\0';

    return NGX_OK;
}


/*
 * a signed token of the claims, issued at now, in the pool; NGX_ERROR for
 * claims that ngx_http_social_token_parse() would refuse (a sub below 1, a
 * gen below 0: a row set by hand), rather than a token that cannot be used
 */

ngx_int_t
ngx_http_social_token_sign(ngx_pool_t *pool, ngx_str_t *key,
    ngx_http_social_claims_t *claims, time_t now, time_t lifetime,
    ngx_str_t *token)
{
    u_char        *p, *buf;
    size_t         plen;
    ngx_str_t      src, dst;
    unsigned int   len;
    u_char         payload[256], mac[EVP_MAX_MD_SIZE];

    if (claims->user_id < 1 || claims->gen < 0) {
        ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                      "social: no token signed for a user id below 1 "
                      "or a generation below 0");
        return NGX_ERROR;
    }

    plen = ngx_snprintf(payload, sizeof(payload),
                        "{\"sub\":\"%L\",\"role\":\"%s\",\"iat\":%T,"
                        "\"exp\":%T,\"gen\":%L}",
                        claims->user_id, claims->admin ? "admin" : "user",
                        now, now + lifetime, claims->gen)
           - payload;

    buf = ngx_pnalloc(pool, ngx_base64_encoded_length(
                                sizeof(ngx_http_social_jwt_header))
                            + ngx_base64_encoded_length(plen)
                            + ngx_base64_encoded_length(32) + 2);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    dst.data = buf;
    src.data = (u_char *) ngx_http_social_jwt_header;
    src.len = sizeof(ngx_http_social_jwt_header) - 1;
    ngx_encode_base64url(&dst, &src);
    p = buf + dst.len;
    *p++ = '.';

    dst.data = p;
    src.data = payload;
    src.len = plen;
    ngx_encode_base64url(&dst, &src);
    p += dst.len;

    if (ngx_http_social_token_hmac(key, buf, p - buf, mac) != NGX_OK) {
        return NGX_ERROR;
    }

    len = 32;

    *p++ = '.';

    dst.data = p;
    src.data = mac;
    src.len = len;
    ngx_encode_base64url(&dst, &src);
    p += dst.len;

    token->data = buf;
    token->len = p - buf;

    return NGX_OK;
}


/* the token as every answer that gives one shows it */

void
ngx_http_social_token_json(yajl_gen g, ngx_str_t *token, time_t lifetime)
{
    ngx_http_social_json_str(g, "token");
    (void) yajl_gen_string(g, token->data, token->len);
    ngx_http_social_json_kv(g, "token_type", "Bearer");
    ngx_http_social_json_str(g, "expires_in");
    (void) yajl_gen_integer(g, lifetime);
}


/* HMAC-SHA-256 of data with the key: 32 bytes into mac */

static ngx_int_t
ngx_http_social_token_hmac(ngx_str_t *key, const u_char *data, size_t len,
    u_char *mac)
{
    EVP_MD_CTX    *c;
    unsigned int   n;
    u_char         inner[32];

    if (ngx_http_social_token_key(key) != NGX_OK) {
        return NGX_ERROR;
    }

    c = ngx_http_social_hmac_work;

    if (EVP_MD_CTX_copy_ex(c, ngx_http_social_hmac_inner) != 1
        || EVP_DigestUpdate(c, data, len) != 1
        || EVP_DigestFinal_ex(c, inner, &n) != 1
        || EVP_MD_CTX_copy_ex(c, ngx_http_social_hmac_outer) != 1
        || EVP_DigestUpdate(c, inner, sizeof(inner)) != 1
        || EVP_DigestFinal_ex(c, mac, &n) != 1
        || n != 32)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the inner and outer states of the key, made when the key is new */

static ngx_int_t
ngx_http_social_token_key(ngx_str_t *key)
{
    size_t         klen;
    u_char        *k;
    EVP_MD_CTX    *md;
    ngx_uint_t     i, j;
    unsigned int   n;
    u_char         digest[32], pad[NGX_HTTP_SOCIAL_HMAC_BLOCK];

    if (ngx_http_social_hmac_inner
        && key->len == ngx_http_social_hmac_key_len
        && ngx_memcmp(key->data, ngx_http_social_hmac_key, key->len) == 0)
    {
        return NGX_OK;
    }

    /* forgotten until the states are whole again */

    ngx_http_social_hmac_key_len = (size_t) -1;

    if (ngx_http_social_hmac_inner == NULL) {
        ngx_http_social_hmac_inner = EVP_MD_CTX_new();
        ngx_http_social_hmac_outer = EVP_MD_CTX_new();
        ngx_http_social_hmac_work = EVP_MD_CTX_new();

        if (ngx_http_social_hmac_inner == NULL
            || ngx_http_social_hmac_outer == NULL
            || ngx_http_social_hmac_work == NULL)
        {
            return NGX_ERROR;
        }
    }

    /* a key longer than a block is its hash (RFC 2104) */

    k = key->data;
    klen = key->len;

    if (klen > NGX_HTTP_SOCIAL_HMAC_BLOCK) {
        if (EVP_Digest(key->data, key->len, digest, &n, EVP_sha256(), NULL)
            != 1)
        {
            return NGX_ERROR;
        }

        k = digest;
        klen = 32;
    }

    /* the inner state from the key ^ 0x36, the outer from the key ^ 0x5c */

    for (j = 0; j < 2; j++) {
        md = j ? ngx_http_social_hmac_outer : ngx_http_social_hmac_inner;

        ngx_memset(pad, j ? 0x5c : 0x36, sizeof(pad));

        for (i = 0; i < klen; i++) {
            pad[i] ^= k[i];
        }

        if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1
            || EVP_DigestUpdate(md, pad, sizeof(pad)) != 1)
        {
            return NGX_ERROR;
        }
    }

    /* a key too long to remember makes its states again next time */

    if (key->len <= NGX_HTTP_SOCIAL_HMAC_KEY) {
        ngx_memcpy(ngx_http_social_hmac_key, key->data, key->len);
        ngx_http_social_hmac_key_len = key->len;

    } else {
        ngx_http_social_hmac_key_len = (size_t) -1;
    }

    return NGX_OK;
}
