
/*
 * Copyright (C) ngx_social developers
 */


/*
 * What a request answers: the JSON body sent, the error writers (one
 * shape for every error, nginx's own too through the error endpoint), the
 * answers to a statement that failed, and the pages of a list.  Each
 * writer sends and returns the status for ngx_http_social_done(), or for
 * the endpoint to return.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_args.h"
#include "ngx_http_social_request.h"
#include "ngx_http_social_endpoints.h"
#include "ngx_http_social_access.h"


typedef struct {
    ngx_uint_t                      status;
    const char                     *code;
    const char                     *message;
} ngx_http_social_status_t;


static ngx_int_t ngx_http_social_allow(ngx_http_social_ctx_t *ctx);


static ngx_http_social_status_t  ngx_http_social_statuses[] = {
    { NGX_HTTP_BAD_REQUEST, "bad_request", "The request is malformed." },
    { NGX_HTTP_UNAUTHORIZED, "unauthorized", "A valid token is required." },
    { NGX_HTTP_FORBIDDEN, "forbidden", "This is not allowed." },
    { NGX_HTTP_NOT_FOUND, "not_found", "Nothing is here." },
    { NGX_HTTP_NOT_ALLOWED, "method_not_allowed",
      "This method is not allowed here." },
    { NGX_HTTP_REQUEST_TIME_OUT, "request_timeout",
      "The request took too long to arrive." },
    { NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "payload_too_large",
      "The request body is too large." },
    { NGX_HTTP_REQUEST_URI_TOO_LARGE, "uri_too_long",
      "The request URI is too long." },
    { NGX_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
      "The request body must be application/json." },
    { NGX_HTTP_TOO_MANY_REQUESTS, "too_many_requests",
      "Too many requests; try again shortly." },
    { NGX_HTTP_BAD_GATEWAY, "service_unavailable",
      "The service is unavailable." },
    { NGX_HTTP_SERVICE_UNAVAILABLE, "service_unavailable",
      "The service is unavailable." },
    { NGX_HTTP_GATEWAY_TIME_OUT, "service_unavailable",
      "The service is unavailable." },
    { 0, "internal", "Something went wrong on our side." }
};


static ngx_str_t  ngx_http_social_json_type = ngx_string("application/json");


ngx_int_t
ngx_http_social_send(ngx_http_social_ctx_t *ctx, ngx_uint_t status,
    yajl_gen g)
{
    size_t                n;
    const unsigned char  *buf;

    if (g == NULL) {
        return ngx_http_social_send_body(ctx, status, NULL, 0);
    }

    if (yajl_gen_get_buf(g, &buf, &n) != yajl_gen_status_ok) {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "social: incomplete JSON generated");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_social_send_body(ctx, status, (u_char *) buf, n);
}


/*
 * An answer whose JSON body is written already, in memory that lives as
 * long as the request (the generator's buffer, or the pool), len 0 for
 * none
 */

ngx_int_t
ngx_http_social_send_body(ngx_http_social_ctx_t *ctx, ngx_uint_t status,
    u_char *body, size_t len)
{
    ngx_int_t            rc;
    ngx_buf_t           *b;
    ngx_chain_t         *out;
    ngx_http_request_t  *r;

    r = ctx->request;

    out = NULL;

    if (len) {
        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        out = ngx_alloc_chain_link(r->pool);
        if (out == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        b->pos = body;
        b->last = body + len;
        b->memory = 1;
        b->last_buf = (r == r->main);
        b->last_in_chain = 1;

        out->buf = b;
        out->next = NULL;
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;

    if (len) {
        r->headers_out.content_type = ngx_http_social_json_type;
        r->headers_out.content_type_len = ngx_http_social_json_type.len;
        r->headers_out.content_type_lowcase = NULL;
    }

    if (len == 0 && r->method != NGX_HTTP_HEAD) {
        r->header_only = 1;
    }

    /*
     * the response cache: a write moves its generations; a cached read
     * gets its TTL
     */

    ngx_http_social_cache_written(ctx, status);

    if (ngx_http_social_cache_ttl(ctx, status) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, out);
}


ngx_int_t
ngx_http_social_error(ngx_http_social_ctx_t *ctx, ngx_uint_t status,
    const char *code, const char *message, const char *field)
{
    yajl_gen             g;
    ngx_str_t            value;
    ngx_http_request_t  *r;

    r = ctx->request;

    /* whatever was set for a success is not for the error */

    ngx_http_clean_header(r);

    if (status == NGX_HTTP_UNAUTHORIZED) {
        ngx_str_set(&value, "Bearer");

        if (ngx_http_social_add_header(r, "WWW-Authenticate", &value)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

    } else if (status == NGX_HTTP_NOT_ALLOWED) {
        if (ngx_http_social_allow(ctx) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

    } else if (status == NGX_HTTP_SERVICE_UNAVAILABLE
               || status == NGX_HTTP_TOO_MANY_REQUESTS)
    {
        value.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
        if (value.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        value.len = ngx_sprintf(value.data, "%T",
                                ngx_max(ctx->retry_after, 1))
                    - value.data;

        if (ngx_http_social_add_header(r, "Retry-After", &value) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    g = ngx_http_social_json_gen(r->pool);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    yajl_gen_map_open(g);
    ngx_http_social_json_str(g, "error");
    yajl_gen_map_open(g);
    ngx_http_social_json_kv(g, "code", code);
    ngx_http_social_json_kv(g, "message", message);

    if (field) {
        ngx_http_social_json_kv(g, "field", field);
    }

    yajl_gen_map_close(g);
    yajl_gen_map_close(g);

    return ngx_http_social_send(ctx, status, g);
}


/* the 503 of a backend that could not answer, with the reason logged */

ngx_int_t
ngx_http_social_unavailable(ngx_http_social_ctx_t *ctx, const char *what)
{
    u_char      *p;
    const char  *why;
    u_char       msg[128];

    switch (ctx->backend_error) {
    case NGX_HTTP_SOCIAL_BACKEND_TIMEOUT:
        why = "timed out";
        break;
    case NGX_HTTP_SOCIAL_BACKEND_BUSY:
        why = "is busy";
        break;
    default:
        why = "is down";
    }

    p = ngx_snprintf(msg, sizeof(msg) - 1, "%s %s; try again shortly.",
                     what, why);
    *p = '\0';

    return ngx_http_social_error(ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                 "service_unavailable", (char *) msg, NULL);
}


ngx_int_t
ngx_http_social_forbidden(ngx_http_social_ctx_t *ctx)
{
    return ngx_http_social_error(ctx, NGX_HTTP_FORBIDDEN, "forbidden",
                                 "This is not allowed for this user.", NULL);
}


ngx_int_t
ngx_http_social_not_found(ngx_http_social_ctx_t *ctx)
{
    return ngx_http_social_error(ctx, NGX_HTTP_NOT_FOUND, "not_found",
                                 "No such thing.", NULL);
}


/* an id of the request that names nothing: 404 with the field */

ngx_int_t
ngx_http_social_no_such(ngx_http_social_ctx_t *ctx, const char *field)
{
    u_char  *p;

    p = ngx_pnalloc(ctx->pool, ngx_strlen(field) + sizeof(" names nothing."));
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *ngx_sprintf(p, "%s names nothing.", field) = '\0';

    return ngx_http_social_error(ctx, NGX_HTTP_NOT_FOUND, "not_found",
                                 (char *) p, field);
}


/* a statement that did not run (503) or failed unexpectedly (500) */

ngx_int_t
ngx_http_social_pg_failed(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    if (res == NULL) {
        return ngx_http_social_unavailable(ctx, "PostgreSQL");
    }

    ngx_log_error(NGX_LOG_ERR, ctx->log, 0,
                  "social: query failed: %s", PQresultErrorMessage(res));

    return ngx_http_social_error(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                 "internal",
                                 "Something went wrong on our side.", NULL);
}


/* 422 for the field that validation noted at fault */

ngx_int_t
ngx_http_social_unprocessable(ngx_http_social_ctx_t *ctx)
{
    return ngx_http_social_error(ctx, NGX_HTTP_UNPROCESSABLE_ENTITY,
                                 "validation_failed",
                                 ctx->message ? ctx->message
                                              : "The request is not valid.",
                                 ctx->field);
}


/*
 * An endpoint's statement, for the endpoint itself: NGX_DONE when it is
 * sent (its handler goes on), or the 503 answered here, for the endpoint
 * to return.
 */

ngx_int_t
ngx_http_social_pg_or_503(ngx_http_social_ctx_t *ctx, const char *sql,
    int nparams, const char *const *values,
    ngx_http_social_pg_handler_pt handler)
{
    if (ngx_http_social_pg_query(ctx, sql, nparams, values, handler)
        != NGX_OK)
    {
        return ngx_http_social_unavailable(ctx, "PostgreSQL");
    }

    return NGX_DONE;
}


/*
 * the same from a handler: a statement that cannot be sent is answered
 * with the 503 here, and the request ends
 */

void
ngx_http_social_pg_or_done(ngx_http_social_ctx_t *ctx, const char *sql,
    int nparams, const char *const *values,
    ngx_http_social_pg_handler_pt handler)
{
    ngx_int_t  rc;

    rc = ngx_http_social_pg_or_503(ctx, sql, nparams, values, handler);

    if (rc != NGX_DONE) {
        ngx_http_social_done(ctx, rc);
    }
}


/*
 * in a handler: did the statement run with this status; if not, it is
 * answered here (503 when it could not run, 500 otherwise) and the
 * request ends
 */

ngx_int_t
ngx_http_social_pg_ok_or_done(ngx_http_social_ctx_t *ctx, PGresult *res,
    ExecStatusType status)
{
    if (res != NULL && PQresultStatus(res) == status) {
        return 1;
    }

    ngx_http_social_done(ctx, ngx_http_social_pg_failed(ctx, res));

    return 0;
}


/* the start of a list: {"key": [ ; NULL when it failed (and answered) */

yajl_gen
ngx_http_social_page_start(ngx_http_social_ctx_t *ctx, const char *key)
{
    yajl_gen  g;

    g = ngx_http_social_json_gen(ctx->pool);
    if (g == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NULL;
    }

    yajl_gen_map_open(g);
    ngx_http_social_json_str(g, key);
    yajl_gen_array_open(g);

    return g;
}


/*
 * The end of a list: the items' array closed, "next": the cursor after
 * the page's last item (a, b), or null when a is NULL, and the answer.
 */

void
ngx_http_social_page_end(ngx_http_social_ctx_t *ctx, yajl_gen g,
    const char *a, const char *b)
{
    ngx_str_t  cursor;

    yajl_gen_array_close(g);
    ngx_http_social_json_str(g, "next");

    if (a == NULL) {
        yajl_gen_null(g);

    } else {
        if (ngx_http_social_cursor_encode(ctx->pool, &ctx->smcf->jwt_key,
                                          a, b, &cursor)
            != NGX_OK)
        {
            ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        yajl_gen_string(g, cursor.data, cursor.len);
    }

    yajl_gen_map_close(g);

    ngx_http_social_done(ctx, ngx_http_social_send(ctx, NGX_HTTP_OK, g));
}


/* the target of error_page: nginx's own errors as JSON too */

ngx_int_t
ngx_http_social_error_endpoint(ngx_http_social_ctx_t *ctx)
{
    ngx_uint_t                 status;
    ngx_http_request_t        *r;
    ngx_http_social_status_t  *s;

    r = ctx->request;

    status = r->err_status ? r->err_status : NGX_HTTP_NOT_FOUND;

    for (s = ngx_http_social_statuses; s->status; s++) {
        if (s->status == status) {
            break;
        }
    }

    if (s->status == 0 && status < NGX_HTTP_INTERNAL_SERVER_ERROR) {
        s = &ngx_http_social_statuses[0];
    }

    return ngx_http_social_error(ctx, status, s->code, s->message, NULL);
}


ngx_int_t
ngx_http_social_add_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;

    return NGX_OK;
}


static ngx_int_t
ngx_http_social_allow(ngx_http_social_ctx_t *ctx)
{
    u_char      *p;
    ngx_str_t    value;
    ngx_uint_t   i, methods;

    static struct {
        ngx_uint_t   method;
        const char  *name;
    } names[] = {
        { NGX_HTTP_GET, "GET" },
        { NGX_HTTP_HEAD, "HEAD" },
        { NGX_HTTP_POST, "POST" },
        { NGX_HTTP_PUT, "PUT" },
        { NGX_HTTP_DELETE, "DELETE" },
        { 0, NULL }
    };

    methods = ctx->endpoint->methods;

    p = ngx_pnalloc(ctx->request->pool, sizeof("GET, HEAD, POST, PUT, DELETE"));
    if (p == NULL) {
        return NGX_ERROR;
    }

    value.data = p;

    for (i = 0; names[i].name; i++) {
        if (methods & names[i].method) {
            if (p != value.data) {
                *p++ = ',';
                *p++ = ' ';
            }

            p = ngx_cpymem(p, names[i].name, ngx_strlen(names[i].name));
        }
    }

    value.len = p - value.data;

    return ngx_http_social_add_header(ctx->request, "Allow", &value);
}
