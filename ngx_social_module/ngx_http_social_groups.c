
/*
 * Copyright (C) ngx_social developers
 */


/*
 * Groups: the normalisation of attributes, and GET /group/{user_id}.  The
 * grouping rule itself is sql/002_identity.sql's social_group_join(), run
 * under one advisory lock so that the outcome is as if signups ran one at
 * a time.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_request.h"
#include "ngx_http_social_endpoints.h"


#define NGX_HTTP_SOCIAL_ATTRS_MAX      32
#define NGX_HTTP_SOCIAL_ATTR_MAX_LEN   64


static ngx_int_t ngx_http_social_attr_cmp(const void *a, const void *b);
static ngx_int_t ngx_http_social_attr_normalise(ngx_str_t *s,
    ngx_pool_t *pool);
static void ngx_http_social_group_read(ngx_http_social_ctx_t *ctx,
    PGresult *res);


/* one row a member, ordered by user id; a user in no group: one row */

static const char  ngx_http_social_sql_group[] =
    "SELECT u.group_id, "
    "       (SELECT r.group_id FROM users r WHERE r.user_id = $2), "
    "       coalesce(to_json(g.profile)::text, '[]'), "
    "       coalesce(g.size, 0), "
    "       m.user_id, m.username, to_json(m.attributes)::text "
    "  FROM users u "
    "  LEFT JOIN groups g ON g.group_id = u.group_id "
    "  LEFT JOIN users m ON m.group_id = u.group_id "
    " WHERE u.user_id = $1 "
    " ORDER BY m.user_id";


/*
 * "attributes": 0..32 strings, each trimmed, inner white space collapsed
 * to one space, ASCII lower-cased, 1..64 bytes; duplicates dropped; sorted
 * by byte.  The result as a PostgreSQL array literal (a parameter, never
 * SQL text) and as a list.
 */

ngx_int_t
ngx_http_social_attributes(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *v, ngx_str_t *pg_array, ngx_array_t **list)
{
    u_char                  *p;
    size_t                   len;
    ngx_str_t               *a, *attrs, s;
    ngx_uint_t               i, j, n;
    const char              *field;
    ngx_array_t             *arr;
    ngx_http_social_json_t  *item;

    if (v->type != NGX_HTTP_SOCIAL_JSON_ARRAY) {
        return ngx_http_social_note_invalid(ctx, "attributes",
                                            "must be an array of strings");
    }

    if (v->nelts > NGX_HTTP_SOCIAL_ATTRS_MAX) {
        return ngx_http_social_note_invalid(ctx, "attributes",
                                            "must have at most 32 items");
    }

    arr = ngx_array_create(ctx->request->pool, v->nelts ? v->nelts : 1,
                           sizeof(ngx_str_t));
    if (arr == NULL) {
        return NGX_ERROR;
    }

    for (item = v->first, i = 0; item; item = item->next, i++) {
        field = ngx_http_social_json_path(ctx, "attributes", i, NULL);

        if (item->type != NGX_HTTP_SOCIAL_JSON_STRING) {
            return ngx_http_social_note_invalid(ctx, field,
                                                "must be a string");
        }

        s = item->str;

        if (ngx_strlchr(s.data, s.data + s.len, '\0') != NULL) {
            return ngx_http_social_note_invalid(ctx, field,
                                                "must not contain NUL");
        }

        if (ngx_http_social_attr_normalise(&s, ctx->request->pool) != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (s.len == 0 || s.len > NGX_HTTP_SOCIAL_ATTR_MAX_LEN) {
            return ngx_http_social_note_invalid(ctx, field,
                      "must be 1 to 64 bytes long after normalisation");
        }

        a = ngx_array_push(arr);
        if (a == NULL) {
            return NGX_ERROR;
        }

        *a = s;
    }

    attrs = arr->elts;

    ngx_sort(attrs, arr->nelts, sizeof(ngx_str_t), ngx_http_social_attr_cmp);

    /* drop duplicates */

    for (i = 0, j = 0; i < arr->nelts; i++) {
        if (j == 0 || ngx_http_social_attr_cmp(&attrs[j - 1], &attrs[i]) != 0)
        {
            attrs[j++] = attrs[i];
        }
    }

    arr->nelts = j;
    n = j;

    /* {"a","b c"}: every element quoted, '"' and '\' escaped */

    len = 2;

    for (i = 0; i < n; i++) {
        len += attrs[i].len * 2 + 3;
    }

    p = ngx_pnalloc(ctx->request->pool, len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    pg_array->data = p;
    *p++ = '{';

    for (i = 0; i < n; i++) {
        if (i) {
            *p++ = ',';
        }

        *p++ = '"';

        for (j = 0; j < attrs[i].len; j++) {
            if (attrs[i].data[j] == '"' || attrs[i].data[j] == '\\') {
                *p++ = '\\';
            }

            *p++ = attrs[i].data[j];
        }

        *p++ = '"';
    }

    *p++ = '}';
    *p = '\0';
    pg_array->len = p - pg_array->data;

    *list = arr;

    return NGX_OK;
}


void
ngx_http_social_attributes_json(yajl_gen g, ngx_array_t *list)
{
    ngx_str_t   *a;
    ngx_uint_t   i;

    a = list->elts;

    yajl_gen_array_open(g);

    for (i = 0; i < list->nelts; i++) {
        yajl_gen_string(g, a[i].data, a[i].len);
    }

    yajl_gen_array_close(g);
}


static ngx_int_t
ngx_http_social_attr_normalise(ngx_str_t *s, ngx_pool_t *pool)
{
    u_char      *p, *q, *last, c;
    ngx_uint_t   space;

    p = ngx_pnalloc(pool, s->len);
    if (p == NULL && s->len) {
        return NGX_ERROR;
    }

    q = p;
    last = s->data + s->len;
    space = 0;

    for (s->data = s->data; s->data < last; s->data++) {
        c = *s->data;

        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
            || c == '\v')
        {
            space = 1;
            continue;
        }

        if (space && q != p) {
            *q++ = ' ';
        }

        space = 0;
        *q++ = ngx_tolower(c);
    }

    s->data = p;
    s->len = q - p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_social_attr_cmp(const void *a, const void *b)
{
    const ngx_str_t  *x = a, *y = b;

    ngx_int_t  rc;

    rc = ngx_memcmp(x->data, y->data, ngx_min(x->len, y->len));

    if (rc != 0) {
        return rc;
    }

    return (ngx_int_t) x->len - (ngx_int_t) y->len;
}


/* GET /group/{user_id}: the user, a member of the same group, an admin */

ngx_int_t
ngx_http_social_group(ngx_http_social_ctx_t *ctx)
{
    int64_t       id;
    const char  **values;

    if (ngx_http_social_path_id(ctx, &id) != NGX_OK) {
        return ngx_http_social_not_found(ctx);
    }

    values = ngx_palloc(ctx->request->pool, 2 * sizeof(char *));
    if (values == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    values[0] = ngx_http_social_int64(ctx, id);
    values[1] = ngx_http_social_int64(ctx, ctx->user_id);

    if (values[0] == NULL || values[1] == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->data = values;

    return ngx_http_social_pg_or_503(ctx, ngx_http_social_sql_group, 2, values,
                                     ngx_http_social_group_read);
}


static void
ngx_http_social_group_read(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    int           i;
    int64_t       id;
    yajl_gen      g;
    ngx_uint_t    self, same;
    const char  **values = ctx->data;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    id = ngx_atoof((u_char *) values[0], ngx_strlen(values[0]));
    self = (id == ctx->user_id);

    if (PQntuples(res) == 0) {
        /* 403 comes before 404: nobody learns who exists */
        ngx_http_social_done(ctx, (self || ctx->admin)
                                  ? ngx_http_social_not_found(ctx)
                                  : ngx_http_social_forbidden(ctx));
        return;
    }

    same = !PQgetisnull(res, 0, 0) && !PQgetisnull(res, 0, 1)
           && ngx_strcmp(PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1)) == 0;

    if (!self && !same && !ctx->admin) {
        ngx_http_social_done(ctx, ngx_http_social_forbidden(ctx));
        return;
    }

    g = ngx_http_social_json_gen(ctx->request->pool);
    if (g == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_social_json_str(g, "group_id");
    ngx_http_social_json_pg(g, res, 0, 0, NGX_HTTP_SOCIAL_JSON_INTEGER);
    ngx_http_social_json_str(g, "attributes");
    ngx_http_social_json_pg(g, res, 0, 2, NGX_HTTP_SOCIAL_JSON_ARRAY);
    ngx_http_social_json_str(g, "size");
    ngx_http_social_json_pg(g, res, 0, 3, NGX_HTTP_SOCIAL_JSON_INTEGER);
    ngx_http_social_json_str(g, "members");
    yajl_gen_array_open(g);

    for (i = 0; i < PQntuples(res); i++) {
        if (PQgetisnull(res, i, 4)) {
            continue;
        }

        yajl_gen_map_open(g);
        ngx_http_social_json_str(g, "user_id");
        ngx_http_social_json_pg(g, res, i, 4, NGX_HTTP_SOCIAL_JSON_INTEGER);
        ngx_http_social_json_str(g, "username");
        ngx_http_social_json_pg(g, res, i, 5, NGX_HTTP_SOCIAL_JSON_STRING);
        ngx_http_social_json_str(g, "attributes");
        ngx_http_social_json_pg(g, res, i, 6, NGX_HTTP_SOCIAL_JSON_ARRAY);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);

    ngx_http_social_done(ctx, ngx_http_social_send(ctx, NGX_HTTP_OK, g));
}
