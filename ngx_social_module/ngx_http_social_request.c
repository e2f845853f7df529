
/*
 * Copyright (C) ngx_social developers
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>


#define NGX_HTTP_SOCIAL_CURSOR_MAC  8


static void ngx_http_social_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_social_run(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_authed(ngx_http_social_ctx_t *ctx);
static ngx_int_t ngx_http_social_run_endpoint(ngx_http_social_ctx_t *ctx);
static ngx_int_t ngx_http_social_auth_error(ngx_http_social_ctx_t *ctx,
    ngx_int_t status);
static void ngx_http_social_check_broken(ngx_http_request_t *r);
static void ngx_http_social_cleanup(void *data);
static ngx_int_t ngx_http_social_allow(ngx_http_social_ctx_t *ctx);


typedef struct {
    ngx_uint_t                      status;
    const char                     *code;
    const char                     *message;
} ngx_http_social_status_t;


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
ngx_http_social_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_http_cleanup_t          *cln;
    ngx_http_social_ctx_t       *ctx;
    ngx_http_social_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_social_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_social_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->pool = r->pool;
    ctx->log = r->connection->log;
    ctx->endpoint = slcf->endpoint;
    ctx->smcf = ngx_http_get_module_main_conf(r, ngx_http_social_module);
    ngx_queue_init(&ctx->ops);

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_social_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_social_module);

    /*
     * the body is read first: a body over client_max_body_size is 413
     * before anything else is looked at
     */

    rc = ngx_http_read_client_request_body(r, ngx_http_social_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_social_body_handler(ngx_http_request_t *r)
{
    ngx_int_t               rc;
    ngx_http_social_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_social_module);

    rc = ngx_http_social_run(ctx);

    if (rc == NGX_DONE) {
        /* a backend callback finishes the request */
        r->read_event_handler = ngx_http_social_check_broken;
        return;
    }

    ngx_http_finalize_request(r, rc);
}


/* the checks in the error order of the API: 405, 401, 415, 400, 422 */

static ngx_int_t
ngx_http_social_run(ngx_http_social_ctx_t *ctx)
{
    ngx_int_t                    rc;
    ngx_http_request_t          *r;
    ngx_http_social_endpoint_t  *ep;

    r = ctx->request;
    ep = ctx->endpoint;

    if (!(r->method & ep->methods)) {
        return ngx_http_social_error(ctx, NGX_HTTP_NOT_ALLOWED,
                                     "method_not_allowed",
                                     "This method is not allowed here.",
                                     NULL);
    }

    if (ep->auth) {
        rc = ngx_http_social_auth_check(ctx, ngx_http_social_authed);

        if (rc == NGX_DONE) {
            return NGX_DONE;
        }

        if (rc != NGX_OK) {
            return ngx_http_social_auth_error(ctx, rc);
        }
    }

    return ngx_http_social_run_endpoint(ctx);
}


/* the token check needed a backend: the request goes on from here */

static void
ngx_http_social_authed(ngx_http_social_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (ctx->auth_status != NGX_OK) {
        ngx_http_social_done(ctx,
                       ngx_http_social_auth_error(ctx, ctx->auth_status));
        return;
    }

    rc = ngx_http_social_run_endpoint(ctx);

    if (rc != NGX_DONE) {
        ngx_http_social_done(ctx, rc);
    }
}


static ngx_int_t
ngx_http_social_auth_error(ngx_http_social_ctx_t *ctx, ngx_int_t status)
{
    if (status == NGX_HTTP_UNAUTHORIZED) {
        return ngx_http_social_error(ctx, NGX_HTTP_UNAUTHORIZED,
                                     "unauthorized",
                                     "A valid token is required.", NULL);
    }

    if (status == NGX_HTTP_SERVICE_UNAVAILABLE) {
        return ngx_http_social_unavailable(ctx, "The token check");
    }

    return status;
}


/* after the token: 415, 400 and 422 of the body, then the endpoint */

static ngx_int_t
ngx_http_social_run_endpoint(ngx_http_social_ctx_t *ctx)
{
    ngx_int_t            rc;
    ngx_http_request_t  *r;

    r = ctx->request;

    if (r->method & (NGX_HTTP_POST|NGX_HTTP_PUT|NGX_HTTP_PATCH)) {
        rc = ngx_http_social_json_parse_body(ctx);

        switch (rc) {

        case NGX_OK:
            break;

        case NGX_HTTP_UNSUPPORTED_MEDIA_TYPE:
            return ngx_http_social_error(ctx, rc, "unsupported_media_type",
                               "The request body must be application/json.",
                               NULL);

        case NGX_HTTP_BAD_REQUEST:
            return ngx_http_social_error(ctx, rc, "invalid_json",
                               "The request body is not valid UTF-8 JSON.",
                               NULL);

        case NGX_HTTP_UNPROCESSABLE_ENTITY:
            return ngx_http_social_error(ctx, rc, "validation_failed",
                               "The request body must be a JSON object.",
                               NULL);

        default:
            return rc;
        }
    }

    return ctx->endpoint->handler(ctx);
}


void
ngx_http_social_done(ngx_http_social_ctx_t *ctx, ngx_int_t rc)
{
    ctx->done = 1;
    ngx_http_finalize_request(ctx->request, rc);
}


/* the client went away while the backends work: nothing will be sent */

static void
ngx_http_social_check_broken(ngx_http_request_t *r)
{
    int                n;
    char               buf[1];
    ngx_err_t          err;
    ngx_event_t       *ev;
    ngx_connection_t  *c;

    c = r->connection;
    ev = c->read;

#if (NGX_HTTP_V2)

    if (r->stream) {
        /* the stream was reset: its fake connection says so */
        if (c->error) {
            ngx_http_finalize_request(r, NGX_HTTP_CLIENT_CLOSED_REQUEST);
        }

        return;
    }

#endif

    if (c->error) {
        return;
    }

#if (NGX_HAVE_EPOLLRDHUP)

    if ((ngx_event_flags & NGX_USE_EPOLL_EVENT) && ngx_use_epoll_rdhup) {
        if (!ev->pending_eof) {
            return;
        }

        ev->eof = 1;
        c->error = 1;

        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "social: client closed the connection");

        ngx_http_finalize_request(r, NGX_HTTP_CLIENT_CLOSED_REQUEST);
        return;
    }

#endif

    n = recv(c->fd, buf, 1, MSG_PEEK);
    err = ngx_socket_errno;

    if (n > 0) {
        /* a pipelined request waits its turn */
        if ((ngx_event_flags & NGX_USE_LEVEL_EVENT) && ev->active) {
            (void) ngx_del_event(ev, NGX_READ_EVENT, 0);
        }

        return;
    }

    if (n == -1 && err == NGX_EAGAIN) {
        return;
    }

    ev->eof = 1;
    c->error = 1;

    ngx_log_error(NGX_LOG_INFO, c->log, n == 0 ? 0 : err,
                  "social: client closed the connection");

    ngx_http_finalize_request(r, NGX_HTTP_CLIENT_CLOSED_REQUEST);
}


/* the request is freed: its backend ops must not call back into it */

static void
ngx_http_social_cleanup(void *data)
{
    ngx_http_social_ctx_release(data);
}


/* the backend ops of a request or a job that ends are detached */

void
ngx_http_social_ctx_release(ngx_http_social_ctx_t *ctx)
{
    ngx_queue_t           *q;
    ngx_http_social_op_t  *op;

    while (!ngx_queue_empty(&ctx->ops)) {
        q = ngx_queue_head(&ctx->ops);
        op = ngx_queue_data(q, ngx_http_social_op_t, link);

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                       "social: detaching op %p", op);

        ngx_http_social_op_unlink(op);
        op->detach(op);
    }

    ngx_http_social_pg_release(ctx);
}


void
ngx_http_social_op_attach(ngx_http_social_ctx_t *ctx,
    ngx_http_social_op_t *op)
{
    op->ctx = ctx;
    ngx_queue_insert_tail(&ctx->ops, &op->link);
}


void
ngx_http_social_op_unlink(ngx_http_social_op_t *op)
{
    if (op->ctx) {
        ngx_queue_remove(&op->link);
        op->ctx = NULL;
    }
}


ngx_int_t
ngx_http_social_send(ngx_http_social_ctx_t *ctx, ngx_uint_t status,
    yajl_gen g)
{
    size_t               len;
    ngx_int_t            rc;
    ngx_chain_t         *out;
    ngx_http_request_t  *r;

    r = ctx->request;

    out = NULL;
    len = 0;

    if (g && ngx_http_social_json_body(ctx, g, &out, &len) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
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

    } else if (status == NGX_HTTP_SERVICE_UNAVAILABLE) {
        ngx_str_set(&value, "1");

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


/* ?limit=: a plain integer in min..max, or the default when absent */

ngx_int_t
ngx_http_social_arg_limit(ngx_http_social_ctx_t *ctx, ngx_uint_t min,
    ngx_uint_t max, ngx_uint_t def, ngx_uint_t *limit)
{
    ngx_int_t  n;
    ngx_str_t  arg;

    if (ngx_http_arg(ctx->request, (u_char *) "limit", 5, &arg) != NGX_OK) {
        *limit = def;
        return NGX_OK;
    }

    n = (arg.len > 0 && arg.len <= 4) ? ngx_atoi(arg.data, arg.len)
                                      : NGX_ERROR;

    if (n == NGX_ERROR || (ngx_uint_t) n < min || (ngx_uint_t) n > max) {
        ctx->field = "limit";
        ctx->message = (max == 100) ? "limit must be an integer from 1 to 100."
                                    : "limit must be an integer in range.";
        return NGX_ERROR;
    }

    *limit = n;

    return NGX_OK;
}


/*
 * ?before=: a cursor this server issued: base64url of "c:<a>:<b>", two
 * non-negative integers (a position in a list), and 8 bytes of its HMAC
 * with the server key, so that a cursor the server did not issue is 422;
 * absent: INT64_MAX for both
 */

ngx_int_t
ngx_http_social_cursor_parse(ngx_http_social_ctx_t *ctx, int64_t *a,
    int64_t *b)
{
    u_char        *p, *last, *colon;
    ngx_str_t      arg, text;
    unsigned int   maclen;
    u_char         mac[EVP_MAX_MD_SIZE];

    *a = INT64_MAX;
    *b = INT64_MAX;

    if (ngx_http_arg(ctx->request, (u_char *) "before", 6, &arg) != NGX_OK) {
        return NGX_OK;
    }

    text.data = ngx_pnalloc(ctx->request->pool,
                            ngx_base64_decoded_length(arg.len) + 1);
    if (text.data == NULL) {
        return NGX_ERROR;
    }

    if (arg.len == 0 || arg.len > 96
        || ngx_decode_base64url(&text, &arg) != NGX_OK
        || text.len < 5 + NGX_HTTP_SOCIAL_CURSOR_MAC)
    {
        goto invalid;
    }

    text.len -= NGX_HTTP_SOCIAL_CURSOR_MAC;

    if (HMAC(EVP_sha256(), ctx->smcf->jwt_key.data, ctx->smcf->jwt_key.len,
             text.data, text.len, mac, &maclen)
        == NULL
        || CRYPTO_memcmp(mac, text.data + text.len,
                         NGX_HTTP_SOCIAL_CURSOR_MAC) != 0
        || text.data[0] != 'c' || text.data[1] != ':')
    {
        goto invalid;
    }

    p = text.data + 2;
    last = text.data + text.len;
    colon = ngx_strlchr(p, last, ':');

    if (colon == NULL || colon == p || colon + 1 == last
        || colon - p > 19 || last - colon - 1 > 19)
    {
        goto invalid;
    }

    *a = ngx_atoof(p, colon - p);
    *b = ngx_atoof(colon + 1, last - colon - 1);

    if (*a < 0 || *b < 0) {
        goto invalid;
    }

    return NGX_OK;

invalid:

    return ngx_http_social_json_invalid(ctx, "before",
                                        "is not a cursor of this list");
}


/* the cursor of the position (a, b), into the JSON being generated */

ngx_int_t
ngx_http_social_cursor_json(ngx_http_social_ctx_t *ctx, yajl_gen g,
    const char *a, const char *b)
{
    u_char        *p;
    ngx_str_t      src, dst;
    unsigned int   maclen;
    u_char         text[48 + EVP_MAX_MD_SIZE];

    p = ngx_snprintf(text, 48, "c:%s:%s", a, b);

    if (HMAC(EVP_sha256(), ctx->smcf->jwt_key.data, ctx->smcf->jwt_key.len,
             text, p - text, p, &maclen)
        == NULL)
    {
        return NGX_ERROR;
    }

    src.data = text;
    src.len = p - text + NGX_HTTP_SOCIAL_CURSOR_MAC;

    dst.data = ngx_pnalloc(ctx->request->pool,
                           ngx_base64_encoded_length(src.len));
    if (dst.data == NULL) {
        return NGX_ERROR;
    }

    ngx_encode_base64url(&dst, &src);
    yajl_gen_string(g, dst.data, dst.len);

    return NGX_OK;
}


/* the id of the path: the location's first regex capture */

ngx_int_t
ngx_http_social_path_id(ngx_http_social_ctx_t *ctx, int64_t *id)
{
    ngx_http_request_t  *r;

    r = ctx->request;

    if (r->ncaptures < 4 || r->captures == NULL) {
        return NGX_DECLINED;
    }

    return ngx_http_social_parse_id(r->captures_data + r->captures[2],
                                    r->captures[3] - r->captures[2], id);
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
    yajl_gen_array_close(g);
    ngx_http_social_json_str(g, "next");

    if (a == NULL) {
        yajl_gen_null(g);

    } else if (ngx_http_social_cursor_json(ctx, g, a, b) != NGX_OK) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    yajl_gen_map_close(g);

    ngx_http_social_done(ctx, ngx_http_social_send(ctx, NGX_HTTP_OK, g));
}


/* an integer as a query parameter, in the request's (or job's) pool */

const char *
ngx_http_social_int64(ngx_http_social_ctx_t *ctx, int64_t n)
{
    u_char  *p;

    p = ngx_pnalloc(ctx->pool, NGX_INT64_LEN + 1);
    if (p == NULL) {
        return NULL;
    }

    *ngx_sprintf(p, "%L", n) = '\0';

    return (char *) p;
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

    ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                  "social: query failed: %s", PQresultErrorMessage(res));

    return ngx_http_social_error(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                 "internal",
                                 "Something went wrong on our side.", NULL);
}


/* 422 for the field that validation found at fault */

ngx_int_t
ngx_http_social_invalid(ngx_http_social_ctx_t *ctx)
{
    return ngx_http_social_error(ctx, NGX_HTTP_UNPROCESSABLE_ENTITY,
                                 "validation_failed",
                                 ctx->message ? ctx->message
                                              : "The request is not valid.",
                                 ctx->field);
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
