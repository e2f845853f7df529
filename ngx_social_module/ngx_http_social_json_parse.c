
/*
 * Copyright (C) ngx_social developers
 */


/*
 * A JSON text as a small typed tree (the view of a request body, of a
 * token's parts), and the typed reads with the validation of the API.
 * Pure: bytes and a pool in, a tree out; a read that finds a field at
 * fault notes it in the task (ctx->field, ctx->message) and sends nothing,
 * so all of it runs without a request, a connection or the event loop.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_args.h"
#include "ngx_http_social_utf8.h"
#include "ngx_http_social_json.h"


#define NGX_HTTP_SOCIAL_JSON_MAX_DEPTH  32

/*
 * values in one text: the largest body of the API (POST /errors, 50 points)
 * holds about 160; a 64 KB body of small values would hold 30000, 3 MB of
 * nodes
 */
#define NGX_HTTP_SOCIAL_JSON_MAX_VALUES  1024


/* yajl's callbacks build a small tree in the pool */

typedef struct {
    ngx_pool_t                     *pool;
    ngx_http_social_json_t         *root;
    ngx_http_social_json_t         *container;  /* innermost open one */
    ngx_str_t                       key;        /* the pending member name */
    ngx_uint_t                      depth;
    ngx_uint_t                      values;
} ngx_http_social_json_parser_t;


static ngx_http_social_json_t *ngx_http_social_json_add(
    ngx_http_social_json_parser_t *p, ngx_uint_t type);
static int ngx_http_social_json_on_null(void *ctx);
static int ngx_http_social_json_on_boolean(void *ctx, int value);
static int ngx_http_social_json_on_number(void *ctx, const char *s,
    size_t len);
static int ngx_http_social_json_on_string(void *ctx, const unsigned char *s,
    size_t len);
static int ngx_http_social_json_on_start_map(void *ctx);
static int ngx_http_social_json_on_map_key(void *ctx, const unsigned char *s,
    size_t len);
static int ngx_http_social_json_on_end(void *ctx);
static int ngx_http_social_json_on_start_array(void *ctx);


static yajl_callbacks  ngx_http_social_json_callbacks = {
    ngx_http_social_json_on_null,
    ngx_http_social_json_on_boolean,
    NULL,
    NULL,
    ngx_http_social_json_on_number,
    ngx_http_social_json_on_string,
    ngx_http_social_json_on_start_map,
    ngx_http_social_json_on_map_key,
    ngx_http_social_json_on_end,
    ngx_http_social_json_on_start_array,
    ngx_http_social_json_on_end
};


static ngx_http_social_json_t *
ngx_http_social_json_add(ngx_http_social_json_parser_t *p, ngx_uint_t type)
{
    ngx_http_social_json_t  *node, *parent;

    if (++p->values > NGX_HTTP_SOCIAL_JSON_MAX_VALUES) {
        return NULL;
    }

    node = ngx_pcalloc(p->pool, sizeof(ngx_http_social_json_t));
    if (node == NULL) {
        return NULL;
    }

    node->type = type;
    parent = p->container;

    if (parent == NULL) {
        p->root = node;
        return node;
    }

    node->parent = parent;

    if (parent->type == NGX_HTTP_SOCIAL_JSON_OBJECT) {
        node->key = p->key;
    }

    if (parent->last) {
        parent->last->next = node;

    } else {
        parent->first = node;
    }

    parent->last = node;
    parent->nelts++;

    return node;
}


static int
ngx_http_social_json_on_null(void *ctx)
{
    return ngx_http_social_json_add(ctx, NGX_HTTP_SOCIAL_JSON_NULL) != NULL;
}


static int
ngx_http_social_json_on_boolean(void *ctx, int value)
{
    ngx_http_social_json_t  *node;

    node = ngx_http_social_json_add(ctx, NGX_HTTP_SOCIAL_JSON_BOOLEAN);
    if (node == NULL) {
        return 0;
    }

    node->integer = value ? 1 : 0;

    return 1;
}


/*
 * numbers keep their text; an integer that fits in 64 bits also gets its
 * value, so that "not an integer" and "out of range" can be told apart
 * from invalid JSON and reported as 422
 */

static int
ngx_http_social_json_on_number(void *ctx, const char *s, size_t len)
{
    u_char                  *p, *last;
    int64_t                  n;
    ngx_uint_t               negative;
    ngx_http_social_json_t  *node;

    node = ngx_http_social_json_add(ctx, NGX_HTTP_SOCIAL_JSON_NUMBER);
    if (node == NULL) {
        return 0;
    }

    node->str.data = ngx_pnalloc(((ngx_http_social_json_parser_t *) ctx)->pool,
                                 len);
    if (node->str.data == NULL) {
        return 0;
    }

    ngx_memcpy(node->str.data, s, len);
    node->str.len = len;

    last = node->str.data + len;

    /*
     * a fraction or an exponent: a number, not an integer, however many
     * digits come before it
     */

    for (p = node->str.data; p < last; p++) {
        if (*p == '.' || *p == 'e' || *p == 'E') {
            return 1;
        }
    }

    p = node->str.data;
    negative = 0;

    if (p < last && *p == '-') {
        negative = 1;
        p++;
    }

    node->type = NGX_HTTP_SOCIAL_JSON_INTEGER;

    /* yajl's integers are -?digits: atoi64 refuses one past 64 bits only */

    if (ngx_http_social_atoi64(p, last - p, &n) != NGX_OK) {
        node->big = 1;
        return 1;
    }

    node->integer = negative ? -n : n;

    return 1;
}


static int
ngx_http_social_json_on_string(void *ctx, const unsigned char *s, size_t len)
{
    ngx_http_social_json_t         *node;
    ngx_http_social_json_parser_t  *p = ctx;

    node = ngx_http_social_json_add(p, NGX_HTTP_SOCIAL_JSON_STRING);
    if (node == NULL) {
        return 0;
    }

    node->str.data = ngx_pnalloc(p->pool, len + 1);
    if (node->str.data == NULL) {
        return 0;
    }

    ngx_memcpy(node->str.data, s, len);
    node->str.data[len] = '\0';
    node->str.len = len;

    return 1;
}


static int
ngx_http_social_json_on_start_map(void *ctx)
{
    ngx_http_social_json_t         *node;
    ngx_http_social_json_parser_t  *p = ctx;

    if (++p->depth > NGX_HTTP_SOCIAL_JSON_MAX_DEPTH) {
        return 0;
    }

    node = ngx_http_social_json_add(p, NGX_HTTP_SOCIAL_JSON_OBJECT);
    if (node == NULL) {
        return 0;
    }

    p->container = node;

    return 1;
}


static int
ngx_http_social_json_on_map_key(void *ctx, const unsigned char *s, size_t len)
{
    ngx_http_social_json_parser_t  *p = ctx;

    p->key.data = ngx_pnalloc(p->pool, len + 1);
    if (p->key.data == NULL) {
        return 0;
    }

    ngx_memcpy(p->key.data, s, len);
    p->key.data[len] = '\0';
    p->key.len = len;

    return 1;
}


static int
ngx_http_social_json_on_end(void *ctx)
{
    ngx_http_social_json_parser_t  *p = ctx;

    p->depth--;
    p->container = p->container->parent;

    return 1;
}


static int
ngx_http_social_json_on_start_array(void *ctx)
{
    ngx_http_social_json_t         *node;
    ngx_http_social_json_parser_t  *p = ctx;

    if (++p->depth > NGX_HTTP_SOCIAL_JSON_MAX_DEPTH) {
        return 0;
    }

    node = ngx_http_social_json_add(p, NGX_HTTP_SOCIAL_JSON_ARRAY);
    if (node == NULL) {
        return 0;
    }

    p->container = node;

    return 1;
}


/*
 * a JSON text as a tree in the pool: NGX_OK; NGX_ERROR when it is not
 * valid JSON (its strings, member names too, must be UTF-8 of Unicode
 * scalar values: ngx_http_social_utf8.c judges the raw text first, yajl
 * does not), or nested too deep; NGX_DECLINED when it holds more values
 * than NGX_HTTP_SOCIAL_JSON_MAX_VALUES
 */

ngx_int_t
ngx_http_social_json_parse(ngx_pool_t *pool, u_char *text, size_t len,
    ngx_http_social_json_t **root)
{
    yajl_handle                     h;
    yajl_status                     st;
    yajl_alloc_funcs                af;
    ngx_http_social_json_parser_t   parser;

    *root = NULL;

    if (ngx_http_social_utf8_json(text, len) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_social_json_alloc(&af, pool);

    ngx_memzero(&parser, sizeof(ngx_http_social_json_parser_t));
    parser.pool = pool;

    h = yajl_alloc(&ngx_http_social_json_callbacks, &af, &parser);
    if (h == NULL) {
        return NGX_ERROR;
    }

    st = yajl_parse(h, text, len);

    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
    }

    yajl_free(h);

    if (parser.values > NGX_HTTP_SOCIAL_JSON_MAX_VALUES) {
        return NGX_DECLINED;
    }

    if (st != yajl_status_ok) {
        return NGX_ERROR;
    }

    *root = parser.root;

    return NGX_OK;
}


ngx_http_social_json_t *
ngx_http_social_json_get(ngx_http_social_json_t *obj, const char *key)
{
    size_t                   len;
    ngx_http_social_json_t  *node, *found;

    if (obj == NULL || obj->type != NGX_HTTP_SOCIAL_JSON_OBJECT) {
        return NULL;
    }

    len = ngx_strlen(key);
    found = NULL;

    /* the last of duplicate members wins, as in most parsers */

    for (node = obj->first; node; node = node->next) {
        if (node->key.len == len
            && ngx_strncmp(node->key.data, key, len) == 0)
        {
            found = node;
        }
    }

    return found;
}


/*
 * typed reads with the validation of the API: NGX_OK with the value,
 * NGX_DECLINED when the member is absent (or null), NGX_ERROR with
 * ctx->field and ctx->message set for the 422
 */

ngx_int_t
ngx_http_social_json_id(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *obj, const char *key, int64_t *id)
{
    ngx_http_social_json_t  *v;

    v = ngx_http_social_json_get(obj, key);

    if (v == NULL || v->type == NGX_HTTP_SOCIAL_JSON_NULL) {
        return NGX_DECLINED;
    }

    if (v->type != NGX_HTTP_SOCIAL_JSON_INTEGER || v->big || v->integer < 1)
    {
        return ngx_http_social_note_invalid(ctx, key,
                              "must be an integer id from 1 to 2^63-1");
    }

    *id = v->integer;

    return NGX_OK;
}


ngx_int_t
ngx_http_social_json_string(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *obj, const char *key, size_t min, size_t max,
    ngx_str_t *value)
{
    ngx_http_social_json_t  *v;

    v = ngx_http_social_json_get(obj, key);

    if (v == NULL || v->type == NGX_HTTP_SOCIAL_JSON_NULL) {
        return NGX_DECLINED;
    }

    return ngx_http_social_json_text(ctx, v, key, min, max, value);
}


/* a string of min..max code points, with no NUL */

ngx_int_t
ngx_http_social_json_text(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *v, const char *field, size_t min, size_t max,
    ngx_str_t *value)
{
    u_char     *p, *msg;
    size_t      n;
    ngx_str_t  *s;

    if (v->type != NGX_HTTP_SOCIAL_JSON_STRING) {
        return ngx_http_social_note_invalid(ctx, field, "must be a string");
    }

    s = &v->str;

    if (ngx_strlchr(s->data, s->data + s->len, '\0') != NULL) {
        return ngx_http_social_note_invalid(ctx, field,
                                            "must not contain NUL");
    }

    n = ngx_utf8_length(s->data, s->len);

    if (n < min || n > max) {
        msg = ngx_pnalloc(ctx->pool, 64);
        if (msg == NULL) {
            return NGX_ERROR;
        }

        p = ngx_snprintf(msg, 63, "must be %uz to %uz characters long",
                         min, max);
        *p = '\0';

        return ngx_http_social_note_invalid(ctx, field, (char *) msg);
    }

    *value = *s;

    return NGX_OK;
}


/* "errors[1].category" and the like, for the field of a 422 */

const char *
ngx_http_social_json_path(ngx_http_social_ctx_t *ctx, const char *base,
    ngx_uint_t index, const char *member)
{
    u_char  *p, *path;
    size_t   len;

    len = ngx_strlen(base) + NGX_INT_T_LEN + 3
          + (member ? ngx_strlen(member) + 1 : 0);

    path = ngx_pnalloc(ctx->pool, len);
    if (path == NULL) {
        return base;
    }

    if (member) {
        p = ngx_snprintf(path, len - 1, "%s[%ui].%s", base, index, member);

    } else {
        p = ngx_snprintf(path, len - 1, "%s[%ui]", base, index);
    }

    *p = '\0';

    return (char *) path;
}


/*
 * the field at fault and why ("<field> <what>."), noted for the 422 that
 * ngx_http_social_unprocessable() sends; nothing is sent here
 */

ngx_int_t
ngx_http_social_note_invalid(ngx_http_social_ctx_t *ctx, const char *field,
    const char *what)
{
    u_char  *p, *msg;
    size_t   len;

    len = ngx_strlen(field) + ngx_strlen(what) + 2;

    msg = ngx_pnalloc(ctx->pool, len + 1);
    if (msg != NULL) {
        p = ngx_snprintf(msg, len, "%s %s.", field, what);
        *p = '\0';
    }

    ctx->field = field;
    ctx->message = msg ? (char *) msg : what;

    return NGX_ERROR;
}


/*
 * Free text ("content"): a required string of 1..max code points, kept
 * exactly as sent, but not when it is only white space.  NGX_ERROR when
 * it is not valid, with the reason recorded for the 422.
 */

ngx_int_t
ngx_http_social_json_content(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *obj, const char *key, size_t max,
    ngx_str_t *value)
{
    u_char     *p, *last;
    ngx_int_t   rc;

    rc = ngx_http_social_json_string(ctx, obj, key, 1, max, value);

    if (rc == NGX_DECLINED) {
        ngx_http_social_note_invalid(ctx, key, "is required");
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    last = value->data + value->len;

    for (p = value->data; p < last; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n'
            && *p != '\f' && *p != '\v')
        {
            return NGX_OK;
        }
    }

    ngx_http_social_note_invalid(ctx, key, "must not be only white space");

    return NGX_ERROR;
}
