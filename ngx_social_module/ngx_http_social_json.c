
/*
 * Copyright (C) ngx_social developers
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_util.h"


static void *ngx_http_social_json_malloc(void *ctx, size_t size);
static void *ngx_http_social_json_realloc(void *ctx, void *ptr, size_t size);
static void ngx_http_social_json_free(void *ctx, void *ptr);


/*
 * yajl allocates from the request pool: whatever path a request takes,
 * nothing it generated or parsed outlives the pool or leaks
 */

static void *
ngx_http_social_json_malloc(void *ctx, size_t size)
{
    ngx_pool_t  *pool = ctx;

    size_t  *p;

    p = ngx_palloc(pool, size + sizeof(size_t));
    if (p == NULL) {
        return NULL;
    }

    *p = size;

    return p + 1;
}


static void *
ngx_http_social_json_realloc(void *ctx, void *ptr, size_t size)
{
    size_t  *old;
    void    *p;

    if (ptr == NULL) {
        return ngx_http_social_json_malloc(ctx, size);
    }

    old = (size_t *) ptr - 1;

    if (size <= *old) {
        return ptr;
    }

    p = ngx_http_social_json_malloc(ctx, size);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, ptr, *old);

    if (*old >= 4096) {
        ngx_pfree(ctx, old);
    }

    return p;
}


static void
ngx_http_social_json_free(void *ctx, void *ptr)
{
    /* the pool frees it */
}


yajl_gen
ngx_http_social_json_gen(ngx_pool_t *pool)
{
    yajl_gen          g;
    yajl_alloc_funcs  af;

    af.malloc = ngx_http_social_json_malloc;
    af.realloc = ngx_http_social_json_realloc;
    af.free = ngx_http_social_json_free;
    af.ctx = pool;

    g = yajl_gen_alloc(&af);
    if (g == NULL) {
        return NULL;
    }

    (void) yajl_gen_config(g, yajl_gen_validate_utf8, 1);

    return g;
}


void
ngx_http_social_json_str(yajl_gen g, const char *s)
{
    (void) yajl_gen_string(g, (const unsigned char *) s, ngx_strlen(s));
}


void
ngx_http_social_json_kv(yajl_gen g, const char *key, const char *value)
{
    ngx_http_social_json_str(g, key);

    if (value) {
        ngx_http_social_json_str(g, value);

    } else {
        (void) yajl_gen_null(g);
    }
}


ngx_int_t
ngx_http_social_json_body(ngx_http_social_ctx_t *ctx, yajl_gen g,
    ngx_chain_t **out, size_t *len)
{
    size_t                n;
    ngx_buf_t            *b;
    ngx_chain_t          *cl;
    const unsigned char  *buf;

    if (yajl_gen_get_buf(g, &buf, &n) != yajl_gen_status_ok) {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "social: incomplete JSON generated");
        return NGX_ERROR;
    }

    b = ngx_calloc_buf(ctx->request->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    cl = ngx_alloc_chain_link(ctx->request->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    /* the buffer is pool memory: it lives as long as the request */

    b->pos = (u_char *) buf;
    b->last = (u_char *) buf + n;
    b->memory = 1;
    b->last_buf = (ctx->request == ctx->request->main);
    b->last_in_chain = 1;

    cl->buf = b;
    cl->next = NULL;

    *out = cl;
    *len = n;

    return NGX_OK;
}


/* parsing: yajl's callbacks build a small tree in the request pool */

typedef struct {
    ngx_pool_t                     *pool;
    ngx_http_social_json_t         *root;
    ngx_http_social_json_t         *container;  /* innermost open one */
    ngx_str_t                       key;        /* the pending member name */
    ngx_uint_t                      depth;
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


#define NGX_HTTP_SOCIAL_JSON_MAX_DEPTH  32


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
    ngx_int_t                rc;
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

    p = node->str.data;
    last = p + len;
    negative = 0;

    if (p < last && *p == '-') {
        negative = 1;
        p++;
    }

    rc = ngx_http_social_atoi64(p, last - p, &n);

    if (rc == NGX_DECLINED) {
        /* a fraction or an exponent: a number, not an integer */
        return 1;
    }

    node->type = NGX_HTTP_SOCIAL_JSON_INTEGER;

    if (rc == NGX_ERROR) {
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
 * the request body as a tree: NGX_OK, or the status of the error
 * (415 for a body that is not JSON by its type, 400 for invalid JSON,
 * 422 for JSON that is not an object); an empty body counts as {}
 */

ngx_int_t
ngx_http_social_json_parse_body(ngx_http_social_ctx_t *ctx)
{
    off_t                size;
    u_char              *text, *p;
    ssize_t              n;
    ngx_buf_t           *b;
    ngx_chain_t         *cl;
    ngx_http_request_t  *r;

    r = ctx->request;

    size = 0;

    if (r->request_body) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            size += ngx_buf_size(cl->buf);
        }
    }

    if (size == 0) {
        ctx->body = ngx_pcalloc(r->pool, sizeof(ngx_http_social_json_t));
        if (ctx->body == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->body->type = NGX_HTTP_SOCIAL_JSON_OBJECT;

        return NGX_OK;
    }

    if (!ngx_http_social_json_content_type(r)) {
        return NGX_HTTP_UNSUPPORTED_MEDIA_TYPE;
    }

    text = ngx_pnalloc(r->pool, (size_t) size);
    if (text == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = text;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            /* a body over client_body_buffer_size: nginx's own temp file */
            n = ngx_read_file(b->file, p, (size_t) (b->file_last
                                                    - b->file_pos),
                              b->file_pos);
            if (n == NGX_ERROR) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            p += n;

        } else {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    ctx->body = ngx_http_social_json_parse(r->pool, text, p - text);

    if (ctx->body == NULL) {
        return NGX_HTTP_BAD_REQUEST;
    }

    if (ctx->body->type != NGX_HTTP_SOCIAL_JSON_OBJECT) {
        ctx->body = NULL;
        return NGX_HTTP_UNPROCESSABLE_ENTITY;
    }

    return NGX_OK;
}


/*
 * a JSON text as a tree in the pool, or NULL when it is not valid JSON:
 * its strings, member names too, must be UTF-8 of Unicode scalar values
 * (ngx_http_social_utf8.c judges the raw text first, yajl does not)
 */

ngx_http_social_json_t *
ngx_http_social_json_parse(ngx_pool_t *pool, u_char *text, size_t len)
{
    yajl_handle                     h;
    yajl_status                     st;
    yajl_alloc_funcs                af;
    ngx_http_social_json_parser_t   parser;

    if (ngx_http_social_utf8_json(text, len) != NGX_OK) {
        return NULL;
    }

    af.malloc = ngx_http_social_json_malloc;
    af.realloc = ngx_http_social_json_realloc;
    af.free = ngx_http_social_json_free;
    af.ctx = pool;

    ngx_memzero(&parser, sizeof(ngx_http_social_json_parser_t));
    parser.pool = pool;

    h = yajl_alloc(&ngx_http_social_json_callbacks, &af, &parser);
    if (h == NULL) {
        return NULL;
    }

    st = yajl_parse(h, text, len);

    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
    }

    yajl_free(h);

    if (st != yajl_status_ok) {
        return NULL;
    }

    return parser.root;
}


/* "application/json", any case, parameters allowed */

ngx_uint_t
ngx_http_social_json_content_type(ngx_http_request_t *r)
{
    size_t            len;
    u_char           *p, *last;
    ngx_table_elt_t  *h;

    h = r->headers_in.content_type;
    if (h == NULL) {
        return 0;
    }

    p = h->value.data;
    last = p + h->value.len;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    len = sizeof("application/json") - 1;

    if ((size_t) (last - p) < len
        || ngx_strncasecmp(p, (u_char *) "application/json", len) != 0)
    {
        return 0;
    }

    p += len;

    return p == last || *p == ';' || *p == ' ' || *p == '\t';
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
        return ngx_http_social_json_invalid(ctx, key,
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
        return ngx_http_social_json_invalid(ctx, field, "must be a string");
    }

    s = &v->str;

    if (ngx_strlchr(s->data, s->data + s->len, '\0') != NULL) {
        return ngx_http_social_json_invalid(ctx, field,
                                            "must not contain NUL");
    }

    n = ngx_utf8_length(s->data, s->len);

    if (n < min || n > max) {
        msg = ngx_pnalloc(ctx->request->pool, 64);
        if (msg == NULL) {
            return NGX_ERROR;
        }

        p = ngx_snprintf(msg, 63, "must be %uz to %uz characters long",
                         min, max);
        *p = '\0';

        return ngx_http_social_json_invalid(ctx, field, (char *) msg);
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

    path = ngx_pnalloc(ctx->request->pool, len);
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


ngx_int_t
ngx_http_social_json_invalid(ngx_http_social_ctx_t *ctx, const char *field,
    const char *what)
{
    u_char  *p, *msg;
    size_t   len;

    len = ngx_strlen(field) + ngx_strlen(what) + 2;

    msg = ngx_pnalloc(ctx->request->pool, len + 1);
    if (msg != NULL) {
        p = ngx_snprintf(msg, len, "%s %s.", field, what);
        *p = '\0';
    }

    ctx->field = field;
    ctx->message = msg ? (char *) msg : what;

    return NGX_ERROR;
}


/*
 * JSON that PostgreSQL built (to_json, json_agg) goes out as it is: yajl
 * writes a number's text verbatim, which is what this needs
 */

void
ngx_http_social_json_raw(yajl_gen g, const char *json, size_t len)
{
    (void) yajl_gen_number(g, json, len);
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
        ngx_http_social_json_invalid(ctx, key, "is required");
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

    ngx_http_social_json_invalid(ctx, key, "must not be only white space");

    return NGX_ERROR;
}


/* a column of a result as a JSON value: NULL as null */

void
ngx_http_social_json_pg(yajl_gen g, PGresult *res, int row, int col,
    ngx_uint_t type)
{
    if (PQgetisnull(res, row, col)) {
        (void) yajl_gen_null(g);
        return;
    }

    switch (type) {

    case NGX_HTTP_SOCIAL_JSON_STRING:
        (void) yajl_gen_string(g, (u_char *) PQgetvalue(res, row, col),
                               PQgetlength(res, row, col));
        break;

    default:
        /* integers and JSON text */
        ngx_http_social_json_raw(g, PQgetvalue(res, row, col),
                                 PQgetlength(res, row, col));
    }
}
