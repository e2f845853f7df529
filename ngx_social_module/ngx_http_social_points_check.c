
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The error points judged: an item of POST /errors's body as the client
 * sent it (ngx_http_social_point_item(), on the parsed view, the fault
 * noted for the 422 as the JSON reads do); and what the points leave in
 * Redis, before it goes on: a row of a batch before the flush sends it to
 * PostgreSQL, a spelling and the batch ids before GET /exercises does.
 * Pure functions of the bytes (and a pool), callable without a request, a
 * connection or the event loop (so they can be fuzzed): UTF-8 of scalar
 * values (ngx_http_social_utf8.c), then the shape, by yajl's callbacks,
 * with its own allocator (nothing outlives a call).
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_args.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_utf8.h"
#include "ngx_http_social_points.h"


/* the latest unix time in ms a row may carry: 9999-12-31T23:59:59.999Z */
#define NGX_HTTP_SOCIAL_POINT_MS_MAX      253402300799999LL


/* a JSON text checked against a shape, by yajl's callbacks */

typedef struct {
    const char                     *shape;      /* what each element is */
    ngx_uint_t                      n;          /* elements seen */
    ngx_uint_t                      depth;
    const char                     *why;        /* what is wrong */
    ngx_pool_t                     *pool;       /* the texts' copies */
    ngx_str_t                      *texts;      /* or NULL */
    ngx_uint_t                      ntexts;
    ngx_uint_t                      nomem;      /* unsigned:1 */
} ngx_http_social_point_check_t;


static const char *ngx_http_social_point_check(u_char *json, size_t len,
    const char *shape, ngx_http_social_point_check_t *c);
static int ngx_http_social_point_check_scalar(void *ctx);
static int ngx_http_social_point_check_boolean(void *ctx, int value);
static int ngx_http_social_point_check_number(void *ctx, const char *s,
    size_t len);
static int ngx_http_social_point_check_string(void *ctx,
    const unsigned char *s, size_t len);
static int ngx_http_social_point_check_key(void *ctx,
    const unsigned char *s, size_t len);
static int ngx_http_social_point_check_open(void *ctx);
static int ngx_http_social_point_check_close(void *ctx);
static const char *ngx_http_social_point_check_next(
    ngx_http_social_point_check_t *c, char type);
static ngx_uint_t ngx_http_social_point_check_digits(u_char *p, u_char *last,
    ngx_uint_t hex, size_t max);
static ngx_int_t ngx_http_social_point_field(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *item, ngx_uint_t i, const char *name,
    const char *alias, ngx_str_t *value);
static ngx_int_t ngx_http_social_point_text(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *v, ngx_uint_t i, const char *name,
    ngx_str_t *value);
static ngx_int_t ngx_http_social_point_pair(ngx_pool_t *pool, ngx_str_t *a,
    ngx_str_t *b, ngx_str_t *out);


/*
 * A row of a batch before it goes to PostgreSQL: UTF-8 of scalar values,
 * [user, utterance, "Category", "Subcategory", unix ms, "point id"] with
 * ids from 1 to 2^63-1, categories of 1 to 64 characters without NUL, a
 * time up to the year 9999 and 32 hex digits.  NULL when it is all that,
 * else what is wrong.  Callable without a request (a plain function of
 * the bytes).
 */

const char *
ngx_http_social_point_row_check(u_char *row, size_t len)
{
    ngx_http_social_point_check_t  c;

    ngx_memzero(&c, sizeof(ngx_http_social_point_check_t));

    return ngx_http_social_point_check(row, len, "IITTMP", &c);
}


/* a spelling ["Category", "Subcategory"] as this module writes them */

const char *
ngx_http_social_point_spelling_check(u_char *spelling, size_t len)
{
    ngx_http_social_point_check_t  c;

    ngx_memzero(&c, sizeof(ngx_http_social_point_check_t));

    return ngx_http_social_point_check(spelling, len, "TT", &c);
}


/*
 * the same, checked and read in one parse: NGX_OK and the two texts as
 * they read, copied into the pool (texts has room for two); NGX_DECLINED,
 * not as this module writes it; NGX_ERROR, no memory
 */

ngx_int_t
ngx_http_social_point_spelling_read(u_char *spelling, size_t len,
    ngx_pool_t *pool, ngx_str_t *texts)
{
    ngx_http_social_point_check_t  c;

    ngx_memzero(&c, sizeof(ngx_http_social_point_check_t));
    c.pool = pool;
    c.texts = texts;

    if (ngx_http_social_point_check(spelling, len, "TT", &c) == NULL) {
        return NGX_OK;
    }

    return c.nomem ? NGX_ERROR : NGX_DECLINED;
}


/*
 * the JSON text is an array of scalars as the shape says, one letter an
 * element: I an id, T a text, M a unix time in ms, P a point id
 */

static yajl_callbacks  ngx_http_social_point_check_callbacks = {
    ngx_http_social_point_check_scalar,
    ngx_http_social_point_check_boolean,
    NULL,
    NULL,
    ngx_http_social_point_check_number,
    ngx_http_social_point_check_string,
    ngx_http_social_point_check_scalar,
    ngx_http_social_point_check_key,
    ngx_http_social_point_check_close,
    ngx_http_social_point_check_open,
    ngx_http_social_point_check_close
};


static const char *
ngx_http_social_point_check(u_char *json, size_t len, const char *shape,
    ngx_http_social_point_check_t *c)
{
    yajl_handle  h;
    yajl_status  st;

    if (ngx_http_social_utf8_json(json, len) != NGX_OK) {
        return "not UTF-8 of Unicode scalar values";
    }

    c->shape = shape;

    /* yajl's own allocator: nothing of it outlives this call */

    h = yajl_alloc(&ngx_http_social_point_check_callbacks, NULL, c);
    if (h == NULL) {
        return "not checked, out of memory";
    }

    st = yajl_parse(h, json, len);

    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
    }

    yajl_free(h);

    if (c->why) {
        return c->why;
    }

    if (st != yajl_status_ok || c->n != ngx_strlen(shape)) {
        return (shape[0] == 'I')
               ? "not a row [user, utterance, \"Category\", "
                 "\"Subcategory\", ms, \"point id\"]"
               : "not a pair [\"Category\", \"Subcategory\"]";
    }

    return NULL;
}


/*
 * null, an object, a boolean, a member name: never in a shape, so the
 * parse stops there (a callback's 0), and the text is refused
 */

static int
ngx_http_social_point_check_scalar(void *ctx)
{
    return 0;
}


static int
ngx_http_social_point_check_boolean(void *ctx, int value)
{
    return 0;
}


static int
ngx_http_social_point_check_key(void *ctx, const unsigned char *s,
    size_t len)
{
    return 0;
}


static int
ngx_http_social_point_check_number(void *ctx, const char *s, size_t len)
{
    int64_t                         n;
    const char                     *type;
    ngx_http_social_point_check_t  *c = ctx;

    type = ngx_http_social_point_check_next(c, 'N');
    if (type == NULL) {
        return 0;
    }

    /* a plain integer that fits in 63 bits */

    if (ngx_http_social_atoi64((const u_char *) s, len, &n) != NGX_OK) {
        n = -1;
    }

    if (*type == 'I' && n >= 1) {
        return 1;
    }

    if (*type == 'M' && len && n >= 0
        && n <= NGX_HTTP_SOCIAL_POINT_MS_MAX)
    {
        return 1;
    }

    c->why = (*type == 'I') ? "an id is not an integer from 1 to 2^63-1"
                            : "the time is not unix ms up to the year 9999";

    return 0;
}


static int
ngx_http_social_point_check_string(void *ctx, const unsigned char *s,
    size_t len)
{
    size_t                          i, n;
    ngx_str_t                      *text;
    const char                     *type;
    ngx_http_social_point_check_t  *c = ctx;

    type = ngx_http_social_point_check_next(c, 'S');
    if (type == NULL) {
        return 0;
    }

    if (*type == 'P') {
        for (i = 0; i < len; i++) {
            if ((s[i] < '0' || s[i] > '9') && (s[i] < 'a' || s[i] > 'f')) {
                break;
            }
        }

        if (len == 32 && i == len) {
            return 1;
        }

        c->why = "the point id is not 32 hex digits";
        return 0;
    }

    /* the text is UTF-8 of scalar values: ngx_http_social_utf8_json() */

    n = ngx_utf8_length((u_char *) s, len);

    if (n >= 1 && n <= NGX_HTTP_SOCIAL_POINT_FIELD_MAX
        && ngx_strlchr((u_char *) s, (u_char *) s + len, '\0') == NULL)
    {
        if (c->texts == NULL) {
            return 1;
        }

        /* yajl's string is gone once the callback returns */

        text = &c->texts[c->ntexts++];
        text->len = len;
        text->data = ngx_pnalloc(c->pool, len + 1);

        if (text->data == NULL) {
            c->nomem = 1;
            c->why = "not read, out of memory";
            return 0;
        }

        *ngx_cpymem(text->data, s, len) = '\0';

        return 1;
    }

    c->why = "a category is not 1 to 64 characters without NUL";

    return 0;
}


/* the array itself, at the top; no array nested in it */

static int
ngx_http_social_point_check_open(void *ctx)
{
    ngx_http_social_point_check_t  *c = ctx;

    return c->depth++ == 0 && c->n == 0;
}


static int
ngx_http_social_point_check_close(void *ctx)
{
    ngx_http_social_point_check_t  *c = ctx;

    c->depth--;

    return 1;
}


/*
 * the next element, a number (N) or a string (S): its letter in the
 * shape, or NULL when it does not fit there
 */

static const char *
ngx_http_social_point_check_next(ngx_http_social_point_check_t *c,
    char type)
{
    const char  *expect;

    if (c->depth != 1 || c->n >= ngx_strlen(c->shape)) {
        return NULL;
    }

    expect = &c->shape[c->n++];

    if (type == 'N' && (*expect == 'I' || *expect == 'M')) {
        return expect;
    }

    if (type == 'S' && (*expect == 'T' || *expect == 'P')) {
        return expect;
    }

    return NULL;
}


/*
 * A batch id "<epoch>:<seq>" as the cut writes it (part
 * NGX_HTTP_SOCIAL_POINT_BATCH), or one of its parts alone (_EPOCH, _SEQ):
 * the epoch 1 to 32 lower-case hex digits, the seq 1 to 18 digits.  1
 * when it is all that.
 */

ngx_uint_t
ngx_http_social_point_batch_check(u_char *p, size_t len, ngx_uint_t part)
{
    u_char  *last, *colon;

    last = p + len;

    switch (part) {

    case NGX_HTTP_SOCIAL_POINT_EPOCH:
        return ngx_http_social_point_check_digits(p, last, 1, 32);

    case NGX_HTTP_SOCIAL_POINT_SEQ:
        return ngx_http_social_point_check_digits(p, last, 0, 18);

    default: /* NGX_HTTP_SOCIAL_POINT_BATCH */
        colon = ngx_strlchr(p, last, ':');

        return colon && ngx_http_social_point_check_digits(p, colon, 1, 32)
               && ngx_http_social_point_check_digits(colon + 1, last, 0, 18);
    }
}


/* 1 to max lower-case hex digits, or digits */

static ngx_uint_t
ngx_http_social_point_check_digits(u_char *p, u_char *last, ngx_uint_t hex,
    size_t max)
{
    if (p == last || (size_t) (last - p) > max) {
        return 0;
    }

    for ( /* void */ ; p < last; p++) {
        if ((*p < '0' || *p > '9') && (!hex || *p < 'a' || *p > 'f')) {
            return 0;
        }
    }

    return 1;
}


/* one item of "errors": its category and subcategory, in either spelling */

ngx_int_t
ngx_http_social_point_item(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *item, ngx_uint_t i,
    ngx_http_social_point_t *point)
{
    ngx_str_t  low_cat, low_sub;

    if (item->type != NGX_HTTP_SOCIAL_JSON_OBJECT) {
        return ngx_http_social_note_invalid(ctx,
                   ngx_http_social_json_path(ctx, "errors", i, NULL),
                   "must be an object with a category and a subcategory");
    }

    if (ngx_http_social_point_field(ctx, item, i, "category",
                                    "errorCategory", &point->category)
        != NGX_OK
        || ngx_http_social_point_field(ctx, item, i, "subcategory",
                                       "errorSubCategory",
                                       &point->subcategory)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the key ignores ASCII case: "grammar" and "Grammar" are one counter */

    low_cat.len = point->category.len;
    low_cat.data = ngx_pnalloc(ctx->pool, low_cat.len);
    low_sub.len = point->subcategory.len;
    low_sub.data = ngx_pnalloc(ctx->pool, low_sub.len);

    if (low_cat.data == NULL || low_sub.data == NULL) {
        return NGX_ERROR;
    }

    ngx_strlow(low_cat.data, point->category.data, low_cat.len);
    ngx_strlow(low_sub.data, point->subcategory.data, low_sub.len);

    if (ngx_http_social_point_pair(ctx->pool, &low_cat, &low_sub,
                                   &point->key)
        != NGX_OK
        || ngx_http_social_point_pair(ctx->pool, &point->category,
                                      &point->subcategory, &point->spelling)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * "category" or its other spelling "errorCategory" (both: they must say
 * the same); the field of a 422 names the member that was sent
 */

static ngx_int_t
ngx_http_social_point_field(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *item, ngx_uint_t i, const char *name,
    const char *alias, ngx_str_t *value)
{
    ngx_str_t                other;
    ngx_http_social_json_t  *v, *a;

    v = ngx_http_social_json_get(item, name);
    a = ngx_http_social_json_get(item, alias);

    if (v && v->type == NGX_HTTP_SOCIAL_JSON_NULL) {
        v = NULL;
    }

    if (a && a->type == NGX_HTTP_SOCIAL_JSON_NULL) {
        a = NULL;
    }

    if (v == NULL && a == NULL) {
        return ngx_http_social_note_invalid(ctx,
                   ngx_http_social_json_path(ctx, "errors", i, name),
                                            "is required");
    }

    if (v && ngx_http_social_point_text(ctx, v, i, name, value) != NGX_OK) {
        return NGX_ERROR;
    }

    if (a == NULL) {
        return NGX_OK;
    }

    if (ngx_http_social_point_text(ctx, a, i, alias, v ? &other : value)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* both names of the field: one counter, so alike ignoring case */

    if (v && (other.len != value->len
              || ngx_strncasecmp(other.data, value->data, other.len) != 0))
    {
        return ngx_http_social_note_invalid(ctx,
                   ngx_http_social_json_path(ctx, "errors", i, alias),
                   "differs from the other spelling");
    }

    return NGX_OK;
}


/*
 * a string without NUL, trimmed, inner white space collapsed to one space,
 * then 1..64 code points
 */

static ngx_int_t
ngx_http_social_point_text(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *v, ngx_uint_t i, const char *name,
    ngx_str_t *value)
{
    u_char      *p, *q, *last, c;
    size_t       n;
    const char  *why;
    ngx_uint_t   space;

    if (v->type != NGX_HTTP_SOCIAL_JSON_STRING) {
        why = "must be a string";
        goto invalid;
    }

    p = v->str.data;
    last = p + v->str.len;

    if (ngx_strlchr(p, last, '\0') != NULL) {
        why = "must not contain NUL";
        goto invalid;
    }

    value->data = ngx_pnalloc(ctx->pool, v->str.len + 1);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    q = value->data;
    space = 0;

    for ( /* void */ ; p < last; p++) {
        c = *p;

        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
            || c == '\v')
        {
            space = 1;
            continue;
        }

        if (space && q != value->data) {
            *q++ = ' ';
        }

        space = 0;
        *q++ = c;
    }

    *q = '\0';
    value->len = q - value->data;

    n = ngx_utf8_length(value->data, value->len);

    if (n >= 1 && n <= NGX_HTTP_SOCIAL_POINT_FIELD_MAX) {
        return NGX_OK;
    }

    why = "must be 1 to 64 characters long after trimming";

invalid:

    /* the field's path, "errors[i].name", only for the 422 */

    return ngx_http_social_note_invalid(ctx,
               ngx_http_social_json_path(ctx, "errors", i, name), why);
}


/* ["a","b"], written as yajl would write it */

static ngx_int_t
ngx_http_social_point_pair(ngx_pool_t *pool, ngx_str_t *a, ngx_str_t *b,
    ngx_str_t *out)
{
    u_char  *p;

    p = ngx_pnalloc(pool, 3 + ngx_http_social_json_quoted_len(a->data, a->len)
                        + ngx_http_social_json_quoted_len(b->data, b->len));
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;

    *p++ = '[';
    p = ngx_http_social_json_quote(p, a->data, a->len);
    *p++ = ',';
    p = ngx_http_social_json_quote(p, b->data, b->len);
    *p++ = ']';

    out->len = p - out->data;

    return NGX_OK;
}
