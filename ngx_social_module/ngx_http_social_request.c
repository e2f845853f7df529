
/*
 * Copyright (C) ngx_social developers
 */


/*
 * A request's life: the body read, the checks in the API's error order,
 * the endpoint run, the wait for its backends, and the cleanup that
 * detaches them when the client goes away.  And what the endpoints read
 * of the request besides its body: ?limit=, ?before= and the path's id,
 * judged by the pure parsers of _args.c.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_args.h"
#include "ngx_http_social_request.h"
#include "ngx_http_social_auth.h"
#include "ngx_http_social_access.h"
#include "ngx_http_social_endpoints.h"


static void ngx_http_social_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_social_run(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_authed(ngx_http_social_ctx_t *ctx);
static ngx_int_t ngx_http_social_run_endpoint(ngx_http_social_ctx_t *ctx);
static ngx_int_t ngx_http_social_read_body(ngx_http_social_ctx_t *ctx);
static ngx_uint_t ngx_http_social_content_type(ngx_http_request_t *r);
static void ngx_http_social_check_broken(ngx_http_request_t *r);
static void ngx_http_social_cleanup(void *data);
static ngx_int_t ngx_http_social_limit(ngx_http_social_ctx_t *ctx,
    ngx_uint_t min, ngx_uint_t max, ngx_uint_t def, const char *what,
    ngx_uint_t *limit);


ngx_int_t
ngx_http_social_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_http_social_ctx_t       *ctx;
    ngx_http_social_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_social_module);

    ctx = ngx_http_social_ctx_get(r, slcf->endpoint);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

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


/*
 * the task of a request, in its pool, with the cleanup that detaches its
 * backends when the request goes: the content handler's, or the access
 * phase's (ngx_http_social_access.c)
 */

ngx_http_social_ctx_t *
ngx_http_social_ctx_create(ngx_http_request_t *r,
    ngx_http_social_endpoint_t *ep)
{
    ngx_http_cleanup_t     *cln;
    ngx_http_social_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_social_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ctx->request = r;
    ctx->pool = r->pool;
    ctx->log = r->connection->log;
    ctx->endpoint = ep;
    ctx->smcf = ngx_http_get_module_main_conf(r, ngx_http_social_module);
    ngx_queue_init(&ctx->ops);

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_social_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_social_module);

    return ctx;
}


/*
 * the task of a request for the endpoint ep: the one that a variable
 * ($social_reader, with the token read) or the access phase made, kept
 * with what it read, or a new one
 */

ngx_http_social_ctx_t *
ngx_http_social_ctx_get(ngx_http_request_t *r,
    ngx_http_social_endpoint_t *ep)
{
    ngx_http_social_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_social_module);

    if (ctx == NULL) {
        return ngx_http_social_ctx_create(r, ep);
    }

    ctx->endpoint = ep;

    return ctx;
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
    ngx_http_social_loc_conf_t  *slcf;

    r = ctx->request;
    ep = ctx->endpoint;

    if (!(r->method & ep->methods)) {
        return ngx_http_social_error(ctx, NGX_HTTP_NOT_ALLOWED,
                                     "method_not_allowed",
                                     "This method is not allowed here.",
                                     NULL);
    }

    if (ep->flags & NGX_HTTP_SOCIAL_AUTH) {
        slcf = ngx_http_get_module_loc_conf(r, ngx_http_social_module);

        /* the internal server: the reader that the public server checked */

        rc = slcf->internal ? ngx_http_social_access_trusted(ctx)
                            : ngx_http_social_auth_check(ctx,
                                                      ngx_http_social_authed);

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


ngx_int_t
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
        rc = ngx_http_social_read_body(ctx);

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
                               ctx->message ? ctx->message
                               : "The request body must be a JSON object.",
                               NULL);

        default:
            return rc;
        }
    }

    return ctx->endpoint->handler(ctx);
}


/*
 * the request body as a tree: NGX_OK, or the status of the error
 * (415 for a body that is not JSON by its type, 400 for invalid JSON,
 * 422 for JSON that is not an object); an empty body counts as {}
 */

static ngx_int_t
ngx_http_social_read_body(ngx_http_social_ctx_t *ctx)
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

    if (!ngx_http_social_content_type(r)) {
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

    switch (ngx_http_social_json_parse(r->pool, text, p - text, &ctx->body))
    {
    case NGX_OK:
        break;

    case NGX_DECLINED:
        ctx->message = "The request body holds too many JSON values.";
        return NGX_HTTP_UNPROCESSABLE_ENTITY;

    default:
        return NGX_HTTP_BAD_REQUEST;
    }

    if (ctx->body->type != NGX_HTTP_SOCIAL_JSON_OBJECT) {
        ctx->body = NULL;
        return NGX_HTTP_UNPROCESSABLE_ENTITY;
    }

    return NGX_OK;
}


/* "application/json", any case, parameters allowed */

static ngx_uint_t
ngx_http_social_content_type(ngx_http_request_t *r)
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
    ngx_http_social_task_release(data);
}


/* ?limit= of a page of a list: 1 to 100, 20 when absent */

ngx_int_t
ngx_http_social_page_limit(ngx_http_social_ctx_t *ctx, ngx_uint_t *limit)
{
    return ngx_http_social_limit(ctx, 1, NGX_HTTP_SOCIAL_PAGE_MAX,
                                 NGX_HTTP_SOCIAL_PAGE_DEFAULT,
                                 "must be an integer from 1 to 100", limit);
}


/* ?limit= in other bounds: min..max, def when absent */

ngx_int_t
ngx_http_social_arg_limit(ngx_http_social_ctx_t *ctx, ngx_uint_t min,
    ngx_uint_t max, ngx_uint_t def, ngx_uint_t *limit)
{
    return ngx_http_social_limit(ctx, min, max, def,
                                 "must be an integer in range", limit);
}


static ngx_int_t
ngx_http_social_limit(ngx_http_social_ctx_t *ctx, ngx_uint_t min,
    ngx_uint_t max, ngx_uint_t def, const char *what, ngx_uint_t *limit)
{
    ngx_str_t  arg;

    if (ngx_http_arg(ctx->request, (u_char *) "limit", 5, &arg) != NGX_OK) {
        *limit = def;
        return NGX_OK;
    }

    if (ngx_http_social_limit_parse(&arg, min, max, limit) != NGX_OK) {
        return ngx_http_social_note_invalid(ctx, "limit", what);
    }

    return NGX_OK;
}


/*
 * ?before=: a cursor this server issued (ngx_http_social_args.c), the
 * fault noted when it is not; absent: INT64_MAX for both
 */

ngx_int_t
ngx_http_social_cursor_parse(ngx_http_social_ctx_t *ctx, int64_t *a,
    int64_t *b)
{
    ngx_int_t  rc;
    ngx_str_t  arg;

    *a = INT64_MAX;
    *b = INT64_MAX;

    if (ngx_http_arg(ctx->request, (u_char *) "before", 6, &arg) != NGX_OK) {
        return NGX_OK;
    }

    rc = ngx_http_social_cursor_decode(ctx->pool, &ctx->smcf->jwt_key, &arg,
                                       a, b);

    if (rc == NGX_DECLINED) {
        return ngx_http_social_note_invalid(ctx, "before",
                                            "is not a cursor of this list");
    }

    return rc;
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
