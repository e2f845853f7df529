
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The request layer: a request's life and what it reads (_request.c),
 * and what it answers (_reply.c).  The drivers below never call these.
 */


#ifndef _NGX_HTTP_SOCIAL_REQUEST_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_REQUEST_H_INCLUDED_


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_pg.h"


#define NGX_HTTP_UNPROCESSABLE_ENTITY  422

/* a page of a list: ?limit= from 1 to PAGE_MAX, PAGE_DEFAULT when absent */
#define NGX_HTTP_SOCIAL_PAGE_MAX       100
#define NGX_HTTP_SOCIAL_PAGE_DEFAULT   20


/* ngx_http_social_request.c: the life, the query arguments, the path */
ngx_int_t ngx_http_social_handler(ngx_http_request_t *r);
ngx_http_social_ctx_t *ngx_http_social_ctx_create(ngx_http_request_t *r,
    ngx_http_social_endpoint_t *ep);
ngx_http_social_ctx_t *ngx_http_social_ctx_get(ngx_http_request_t *r,
    ngx_http_social_endpoint_t *ep);
ngx_int_t ngx_http_social_auth_error(ngx_http_social_ctx_t *ctx,
    ngx_int_t status);
void ngx_http_social_done(ngx_http_social_ctx_t *ctx, ngx_int_t rc);
ngx_int_t ngx_http_social_page_limit(ngx_http_social_ctx_t *ctx,
    ngx_uint_t *limit);
ngx_int_t ngx_http_social_arg_limit(ngx_http_social_ctx_t *ctx,
    ngx_uint_t min, ngx_uint_t max, ngx_uint_t def, ngx_uint_t *limit);
ngx_int_t ngx_http_social_cursor_parse(ngx_http_social_ctx_t *ctx,
    int64_t *a, int64_t *b);
ngx_int_t ngx_http_social_path_id(ngx_http_social_ctx_t *ctx, int64_t *id);

/* ngx_http_social_reply.c: the answers */
ngx_int_t ngx_http_social_send(ngx_http_social_ctx_t *ctx, ngx_uint_t status,
    yajl_gen g);
ngx_int_t ngx_http_social_send_body(ngx_http_social_ctx_t *ctx,
    ngx_uint_t status, u_char *body, size_t len);
ngx_int_t ngx_http_social_error(ngx_http_social_ctx_t *ctx, ngx_uint_t status,
    const char *code, const char *message, const char *field);
ngx_int_t ngx_http_social_unavailable(ngx_http_social_ctx_t *ctx,
    const char *what);
ngx_int_t ngx_http_social_unprocessable(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_forbidden(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_not_found(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_no_such(ngx_http_social_ctx_t *ctx,
    const char *field);
ngx_int_t ngx_http_social_add_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value);

/*
 * a statement of an endpoint, and who answers when it fails:
 *   ngx_http_social_pg_query()       its handler, with res NULL;
 *   ngx_http_social_pg_or_503()      the 503 is sent, and returned for
 *                                    the endpoint to return;
 *   ngx_http_social_pg_or_done()     the 503 is sent and the request ends;
 *   ngx_http_social_pg_ok_or_done()  in a handler: a result without the
 *                                    status is answered (503 or 500) and
 *                                    the request ends;
 *   ngx_http_social_pg_failed()      the same answer, returned
 */
ngx_int_t ngx_http_social_pg_or_503(ngx_http_social_ctx_t *ctx,
    const char *sql, int nparams, const char *const *values,
    ngx_http_social_pg_handler_pt handler);
void ngx_http_social_pg_or_done(ngx_http_social_ctx_t *ctx, const char *sql,
    int nparams, const char *const *values,
    ngx_http_social_pg_handler_pt handler);
ngx_int_t ngx_http_social_pg_ok_or_done(ngx_http_social_ctx_t *ctx,
    PGresult *res, ExecStatusType status);
ngx_int_t ngx_http_social_pg_failed(ngx_http_social_ctx_t *ctx,
    PGresult *res);

yajl_gen ngx_http_social_page_start(ngx_http_social_ctx_t *ctx,
    const char *key);
void ngx_http_social_page_end(ngx_http_social_ctx_t *ctx, yajl_gen g,
    const char *a, const char *b);


#endif /* _NGX_HTTP_SOCIAL_REQUEST_H_INCLUDED_ */
