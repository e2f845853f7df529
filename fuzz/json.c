
/*
 * Copyright (C) ngx_social developers
 */


/*
 * A request body as the module reads it: the JSON view
 * (ngx_http_social_json_parse.c) and the validation that endpoints run on
 * it (the typed reads of ids, strings and free text, the field paths of a
 * 422, an item of POST /errors: ngx_http_social_point_item()); and the
 * same bytes as a row or a spelling that the error points leave in Redis
 * (ngx_http_social_points_check.c).  Besides the sanitizers, it checks:
 *
 *   - the view: each container's children, counts and parents; strings
 *     and member names UTF-8 of scalar values with a NUL after them; an
 *     integer's text is an integer and its value the reference's; depth
 *     at most 32;
 *   - each read that accepts gives what the API says (an id from 1, a
 *     string of min..max code points without NUL, free text not only
 *     white space), each that refuses names its field and why;
 *   - an accepted point is trimmed, collapsed, 1 to 64 characters, and
 *     its key and spelling are JSON pairs that read back as its category
 *     and subcategory (lower-cased for the key) and that the Redis-side
 *     check of a spelling accepts;
 *   - the row and spelling checks accept exactly the texts whose view has
 *     their shape.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_utf8.h"
#include "ngx_http_social_points.h"

#include "fuzz.h"


#define NGX_SOCIAL_FUZZ_JSON_DEPTH   32
#define NGX_SOCIAL_FUZZ_POINT_MAX    64
#define NGX_SOCIAL_FUZZ_MS_MAX       253402300799999LL


typedef struct {
    const char                     *key;
    size_t                          min;
    size_t                          max;
} ngx_social_fuzz_string_t;


static void ngx_social_fuzz_json_tree(ngx_http_social_json_t *node,
    ngx_uint_t depth);
static void ngx_social_fuzz_json_number(ngx_http_social_json_t *node);
static void ngx_social_fuzz_json_body(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *body);
static void ngx_social_fuzz_json_refused(ngx_http_social_ctx_t *ctx,
    ngx_int_t rc);
static void ngx_social_fuzz_json_list(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *list);
static void ngx_social_fuzz_json_points(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *list);
static void ngx_social_fuzz_json_point_text(ngx_str_t *s);
static void ngx_social_fuzz_json_pair(ngx_http_social_ctx_t *ctx,
    ngx_str_t *pair, ngx_str_t *a, ngx_str_t *b, ngx_uint_t low);
static void ngx_social_fuzz_json_redis(ngx_pool_t *pool,
    ngx_http_social_json_t *root, u_char *text, size_t len);
static ngx_uint_t ngx_social_fuzz_json_same(ngx_str_t *a, ngx_str_t *b);
static ngx_uint_t ngx_social_fuzz_json_shape(ngx_http_social_json_t *root,
    const char *shape);


/* the reads of the endpoints, with their bounds */

static const char  *ngx_social_fuzz_json_ids[] = {
    "id", "user_id", "utterance_id", "conversation_id", NULL
};

static ngx_social_fuzz_string_t  ngx_social_fuzz_json_strings[] = {
    { "username", 3, 32 },
    { "email", 3, 254 },
    { "role", 4, 5 },
    { "scope", 1, 16 },
    { "name", 1, 10 },
    { NULL, 0, 0 }
};


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                  *text;
    ngx_int_t                rc;
    ngx_pool_t              *pool;
    ngx_http_social_ctx_t   *ctx;
    ngx_http_social_json_t  *root;

    pool = ngx_social_fuzz_pool();
    text = ngx_social_fuzz_copy(pool, data, size);

    rc = ngx_http_social_json_parse(pool, text, size, &root);

    ngx_social_fuzz_check((rc == NGX_OK) == (root != NULL),
                          "a parse's answer and its tree disagree");
    ngx_social_fuzz_check(rc == NGX_OK || rc == NGX_ERROR
                          || rc == NGX_DECLINED, "a parse's answer");

    if (root) {
        ngx_social_fuzz_check(ngx_http_social_utf8_json(text, size) == NGX_OK,
                              "a text that is not UTF-8 parsed");

        ngx_social_fuzz_json_tree(root, 0);

        if (root->type == NGX_HTTP_SOCIAL_JSON_OBJECT) {
            ctx = ngx_pcalloc(pool, sizeof(ngx_http_social_ctx_t));
            ngx_social_fuzz_check(ctx != NULL, "no memory");

            ctx->pool = pool;
            ctx->log = pool->log;

            ngx_social_fuzz_json_body(ctx, root);
        }
    }

    ngx_social_fuzz_json_redis(pool, root, text, size);

    ngx_destroy_pool(pool);

    return 0;
}


static void
ngx_social_fuzz_json_tree(ngx_http_social_json_t *node, ngx_uint_t depth)
{
    ngx_uint_t               n;
    ngx_http_social_json_t  *child, *last;

    switch (node->type) {

    case NGX_HTTP_SOCIAL_JSON_NULL:
        break;

    case NGX_HTTP_SOCIAL_JSON_BOOLEAN:
        ngx_social_fuzz_check(node->integer == 0 || node->integer == 1,
                              "a boolean neither 0 nor 1");
        break;

    case NGX_HTTP_SOCIAL_JSON_INTEGER:
    case NGX_HTTP_SOCIAL_JSON_NUMBER:
        ngx_social_fuzz_json_number(node);
        break;

    case NGX_HTTP_SOCIAL_JSON_STRING:
        ngx_social_fuzz_check(node->str.data[node->str.len] == '\0',
                              "a string without its NUL");
        ngx_social_fuzz_check(ngx_http_social_utf8_valid(node->str.data,
                                                         node->str.len)
                              == NGX_OK,
                              "a string that is not UTF-8 of scalar values");
        break;

    case NGX_HTTP_SOCIAL_JSON_ARRAY:
    case NGX_HTTP_SOCIAL_JSON_OBJECT:
        ngx_social_fuzz_check(depth < NGX_SOCIAL_FUZZ_JSON_DEPTH,
                              "nested deeper than 32");

        n = 0;
        last = NULL;

        for (child = node->first; child; child = child->next) {
            ngx_social_fuzz_check(child->parent == node, "a child's parent");

            if (node->type == NGX_HTTP_SOCIAL_JSON_OBJECT) {
                ngx_social_fuzz_check(child->key.data != NULL
                                      && child->key.data[child->key.len]
                                         == '\0',
                                      "a member without its name");
                ngx_social_fuzz_check(ngx_http_social_utf8_valid(
                                          child->key.data, child->key.len)
                                      == NGX_OK,
                                      "a member name that is not UTF-8");

            } else {
                ngx_social_fuzz_check(child->key.len == 0,
                                      "an element with a name");
            }

            ngx_social_fuzz_json_tree(child, depth + 1);

            last = child;
            n++;
        }

        ngx_social_fuzz_check(n == node->nelts, "a count of children");
        ngx_social_fuzz_check(last == node->last, "the last child");
        break;

    default:
        ngx_social_fuzz_check(0, "a node of no type");
    }
}


/*
 * an integer is -?digits, its value the reference's, "big" beyond 64
 * bits; a number that is not one has a fraction or an exponent
 */

static void
ngx_social_fuzz_json_number(ngx_http_social_json_t *node)
{
    u_char     *p, *last;
    int64_t     n;
    ngx_int_t   rc;

    p = node->str.data;
    last = p + node->str.len;

    ngx_social_fuzz_check(p != NULL && p < last, "a number without text");

    if (node->type == NGX_HTTP_SOCIAL_JSON_NUMBER) {
        ngx_social_fuzz_check(ngx_strlchr(p, last, '.')
                              || ngx_strlchr(p, last, 'e')
                              || ngx_strlchr(p, last, 'E'),
                              "a number, not an integer, without a fraction "
                              "or an exponent");
        return;
    }

    if (*p == '-') {
        p++;
    }

    rc = ngx_social_fuzz_decimal(p, last - p, &n);

    ngx_social_fuzz_check(rc != NGX_DECLINED,
                          "an integer whose text is not an integer");

    if (rc == NGX_ERROR) {
        ngx_social_fuzz_check(node->big, "an integer beyond 64 bits, not big");
        return;
    }

    ngx_social_fuzz_check(!node->big, "an integer of 64 bits, big");
    ngx_social_fuzz_check(node->integer
                          == (node->str.data[0] == '-' ? -n : n),
                          "an integer's value");
}


/* the reads of the endpoints on a body */

static void
ngx_social_fuzz_json_body(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *body)
{
    size_t                     n;
    int64_t                    id;
    ngx_int_t                  rc;
    ngx_str_t                  value;
    const char               **key;
    ngx_http_social_json_t    *v;
    ngx_social_fuzz_string_t  *s;

    for (key = ngx_social_fuzz_json_ids; *key; key++) {
        rc = ngx_http_social_json_id(ctx, body, *key, &id);
        v = ngx_http_social_json_get(body, *key);

        if (rc == NGX_OK) {
            ngx_social_fuzz_check(id >= 1 && v->type
                                             == NGX_HTTP_SOCIAL_JSON_INTEGER
                                  && !v->big && v->integer == id,
                                  "an id accepted");

        } else if (rc == NGX_DECLINED) {
            ngx_social_fuzz_check(v == NULL
                                  || v->type == NGX_HTTP_SOCIAL_JSON_NULL,
                                  "an id present, declined");
        }

        ngx_social_fuzz_json_refused(ctx, rc);
    }

    for (s = ngx_social_fuzz_json_strings; s->key; s++) {
        rc = ngx_http_social_json_string(ctx, body, s->key, s->min, s->max,
                                         &value);

        if (rc == NGX_OK) {
            n = ngx_utf8_length(value.data, value.len);

            ngx_social_fuzz_check(n >= s->min && n <= s->max
                                  && ngx_strlchr(value.data,
                                                 value.data + value.len, '\0')
                                     == NULL,
                                  "a string accepted");
        }

        ngx_social_fuzz_json_refused(ctx, rc);
    }

    rc = ngx_http_social_json_content(ctx, body, "content", 2000, &value);

    if (rc == NGX_OK) {
        n = ngx_utf8_length(value.data, value.len);

        ngx_social_fuzz_check(n >= 1 && n <= 2000, "content accepted");

    } else {
        ngx_social_fuzz_check(rc == NGX_ERROR, "content neither OK nor ERROR");
    }

    ngx_social_fuzz_json_refused(ctx, rc);

    ngx_social_fuzz_json_list(ctx, ngx_http_social_json_get(body, "tags"));
    ngx_social_fuzz_json_points(ctx, ngx_http_social_json_get(body, "errors"));
}


/* a read that refuses names its field and why; the next starts afresh */

static void
ngx_social_fuzz_json_refused(ngx_http_social_ctx_t *ctx, ngx_int_t rc)
{
    ngx_social_fuzz_check(rc == NGX_OK || rc == NGX_DECLINED
                          || rc == NGX_ERROR, "a read's answer");

    if (rc == NGX_ERROR) {
        ngx_social_fuzz_check(ctx->field != NULL && ctx->message != NULL
                              && ngx_strncmp(ctx->message, ctx->field,
                                             ngx_strlen(ctx->field)) == 0,
                              "a refusal without its field");
    }

    ctx->field = NULL;
    ctx->message = NULL;
}


/* an array of short strings, each named by its path ("tags[2]") */

static void
ngx_social_fuzz_json_list(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *list)
{
    u_char                  *p;
    ngx_int_t                rc;
    ngx_str_t                value;
    ngx_uint_t               i;
    const char              *path;
    ngx_http_social_json_t  *item;
    u_char                   expect[64];

    if (list == NULL || list->type != NGX_HTTP_SOCIAL_JSON_ARRAY) {
        return;
    }

    for (item = list->first, i = 0; item; item = item->next, i++) {
        path = ngx_http_social_json_path(ctx, "tags", i, NULL);

        p = ngx_snprintf(expect, sizeof(expect) - 1, "tags[%ui]", i);
        *p = '\0';

        ngx_social_fuzz_check(ngx_strcmp(path, expect) == 0, "a path");

        rc = ngx_http_social_json_text(ctx, item, path, 1, 5, &value);

        if (rc == NGX_OK) {
            ngx_social_fuzz_check(ngx_utf8_length(value.data, value.len) >= 1
                                  && ngx_utf8_length(value.data, value.len)
                                     <= 5, "a tag accepted");
        }

        ngx_social_fuzz_json_refused(ctx, rc);
    }
}


/* "errors" of POST /errors: each item as the endpoint takes it */

static void
ngx_social_fuzz_json_points(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *list)
{
    ngx_int_t                 rc;
    ngx_uint_t                i;
    ngx_http_social_json_t   *item;
    ngx_http_social_point_t   point;

    if (list == NULL || list->type != NGX_HTTP_SOCIAL_JSON_ARRAY
        || list->nelts > NGX_HTTP_SOCIAL_POINTS_MAX)
    {
        return;
    }

    for (item = list->first, i = 0; item; item = item->next, i++) {
        ngx_memzero(&point, sizeof(ngx_http_social_point_t));

        rc = ngx_http_social_point_item(ctx, item, i, &point);

        if (rc != NGX_OK) {
            ngx_social_fuzz_json_refused(ctx, rc);
            continue;
        }

        ngx_social_fuzz_json_point_text(&point.category);
        ngx_social_fuzz_json_point_text(&point.subcategory);

        ngx_social_fuzz_json_pair(ctx, &point.spelling, &point.category,
                                  &point.subcategory, 0);
        ngx_social_fuzz_json_pair(ctx, &point.key, &point.category,
                                  &point.subcategory, 1);

        ngx_social_fuzz_check(ngx_http_social_point_spelling_check(
                                  point.spelling.data, point.spelling.len)
                              == NULL,
                              "a spelling POST /errors takes, refused by "
                              "the check of what Redis holds");
    }
}


/* trimmed, inner white space one space, 1..64 characters, no NUL */

static void
ngx_social_fuzz_json_point_text(ngx_str_t *s)
{
    size_t   n;
    u_char  *p, *last;

    p = s->data;
    last = p + s->len;

    n = ngx_utf8_length(s->data, s->len);

    ngx_social_fuzz_check(n >= 1 && n <= NGX_SOCIAL_FUZZ_POINT_MAX,
                          "a category of 1 to 64 characters");
    ngx_social_fuzz_check(p[0] != ' ' && last[-1] != ' ',
                          "a category not trimmed");

    for ( /* void */ ; p < last; p++) {
        ngx_social_fuzz_check(*p != '\0' && *p != '\t' && *p != '\n'
                              && *p != '\r' && *p != '\f' && *p != '\v',
                              "a category with NUL or white space");
        ngx_social_fuzz_check(!(*p == ' ' && p + 1 < last && p[1] == ' '),
                              "a category with two spaces");
    }
}


/* ["a","b"] reads back as a and b (ASCII lower-cased when low) */

static void
ngx_social_fuzz_json_pair(ngx_http_social_ctx_t *ctx, ngx_str_t *pair,
    ngx_str_t *a, ngx_str_t *b, ngx_uint_t low)
{
    u_char                  *p;
    ngx_str_t               *want[2];
    ngx_uint_t               i;
    ngx_http_social_json_t  *v, *s;

    (void) ngx_http_social_json_parse(ctx->pool, pair->data, pair->len, &v);

    ngx_social_fuzz_check(v != NULL && v->type == NGX_HTTP_SOCIAL_JSON_ARRAY
                          && v->nelts == 2, "a pair that is not a pair");

    want[0] = a;
    want[1] = b;

    for (s = v->first, i = 0; s; s = s->next, i++) {
        ngx_social_fuzz_check(s->type == NGX_HTTP_SOCIAL_JSON_STRING
                              && s->str.len == want[i]->len, "a pair's text");

        if (low) {
            ngx_social_fuzz_check(ngx_strncasecmp(s->str.data,
                                                  want[i]->data,
                                                  s->str.len) == 0,
                                  "a key that is not the spelling");

            for (p = s->str.data; p < s->str.data + s->str.len; p++) {
                ngx_social_fuzz_check(*p < 'A' || *p > 'Z',
                                      "a key with an upper-case letter");
            }

        } else {
            ngx_social_fuzz_check(ngx_strncmp(s->str.data, want[i]->data,
                                              s->str.len) == 0,
                                  "a spelling that is not the text");
        }
    }
}


/*
 * the checks of what Redis holds against the view: a row, a spelling are
 * accepted exactly when the view has their shape; a spelling read gives
 * the view's two texts
 */

static void
ngx_social_fuzz_json_redis(ngx_pool_t *pool, ngx_http_social_json_t *root,
    u_char *text, size_t len)
{
    ngx_int_t    rc;
    ngx_str_t    texts[2];
    const char  *why;

    why = ngx_http_social_point_row_check(text, len);

    ngx_social_fuzz_check((why == NULL)
                          == ngx_social_fuzz_json_shape(root, "IITTMP"),
                          "the row check and the view disagree");

    why = ngx_http_social_point_spelling_check(text, len);

    ngx_social_fuzz_check((why == NULL)
                          == ngx_social_fuzz_json_shape(root, "TT"),
                          "the spelling check and the view disagree");

    rc = ngx_http_social_point_spelling_read(text, len, pool, texts);

    ngx_social_fuzz_check((rc == NGX_OK) == (why == NULL),
                          "the spelling read and the check disagree");

    if (rc == NGX_OK) {
        ngx_social_fuzz_check(ngx_social_fuzz_json_same(&texts[0],
                                                   &root->first->str)
                              && ngx_social_fuzz_json_same(&texts[1],
                                                   &root->first->next->str)
                              && texts[0].data[texts[0].len] == '\0'
                              && texts[1].data[texts[1].len] == '\0',
                              "the spelling read and the view's texts "
                              "differ");
    }
}


static ngx_uint_t
ngx_social_fuzz_json_same(ngx_str_t *a, ngx_str_t *b)
{
    return a->len == b->len && ngx_memcmp(a->data, b->data, a->len) == 0;
}


/*
 * an array of exactly the shape's elements: I an id from 1 to 2^63-1, T
 * 1 to 64 characters without NUL, M unix ms from 0 to the year 9999, P 32
 * lower-case hex digits
 */

static ngx_uint_t
ngx_social_fuzz_json_shape(ngx_http_social_json_t *root, const char *shape)
{
    size_t                   i, n;
    ngx_http_social_json_t  *v;

    if (root == NULL || root->type != NGX_HTTP_SOCIAL_JSON_ARRAY
        || root->nelts != ngx_strlen(shape))
    {
        return 0;
    }

    for (v = root->first; v; v = v->next, shape++) {
        switch (*shape) {

        case 'I':
        case 'M':
            if (v->type != NGX_HTTP_SOCIAL_JSON_INTEGER || v->big
                || v->str.data[0] == '-'
                || v->integer < (*shape == 'I' ? 1 : 0)
                || (*shape == 'M' && v->integer > NGX_SOCIAL_FUZZ_MS_MAX))
            {
                return 0;
            }

            break;

        case 'T':
            if (v->type != NGX_HTTP_SOCIAL_JSON_STRING) {
                return 0;
            }

            n = ngx_utf8_length(v->str.data, v->str.len);

            if (n < 1 || n > NGX_SOCIAL_FUZZ_POINT_MAX
                || ngx_strlchr(v->str.data, v->str.data + v->str.len, '\0'))
            {
                return 0;
            }

            break;

        default: /* 'P' */
            if (v->type != NGX_HTTP_SOCIAL_JSON_STRING || v->str.len != 32) {
                return 0;
            }

            for (i = 0; i < 32; i++) {
                if (!((v->str.data[i] >= '0' && v->str.data[i] <= '9')
                      || (v->str.data[i] >= 'a' && v->str.data[i] <= 'f')))
                {
                    return 0;
                }
            }
        }
    }

    return 1;
}
