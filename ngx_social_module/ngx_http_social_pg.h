
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The per-worker PostgreSQL pool, as the rest of the module sees it: a
 * statement is sent for a task, and its handler runs with the result, or
 * with NULL when it could not run (ctx->backend_error says why); nobody
 * answers a request here.  A transaction pins one connection from
 * ngx_http_social_pg_begin() to ngx_http_social_pg_end().
 */


#ifndef _NGX_HTTP_SOCIAL_PG_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_PG_H_INCLUDED_


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"

#include <libpq-fe.h>


/* res is NULL when the query could not run: ctx->backend_error says why */
typedef void (*ngx_http_social_pg_handler_pt)(ngx_http_social_ctx_t *ctx,
    PGresult *res);


ngx_int_t ngx_http_social_pg_init_process(ngx_cycle_t *cycle,
    ngx_http_social_main_conf_t *smcf);
void ngx_http_social_pg_exit_process(void);
ngx_int_t ngx_http_social_pg_query(ngx_http_social_ctx_t *ctx,
    const char *sql, int nparams, const char *const *values,
    ngx_http_social_pg_handler_pt handler);
ngx_int_t ngx_http_social_pg_begin(ngx_http_social_ctx_t *ctx,
    ngx_http_social_pg_handler_pt handler);
ngx_int_t ngx_http_social_pg_end(ngx_http_social_ctx_t *ctx,
    ngx_uint_t commit, ngx_http_social_pg_handler_pt handler);
void ngx_http_social_pg_release(ngx_http_social_ctx_t *ctx);
void ngx_http_social_pg_gauges(void);

/* the columns of a row that ngx_http_social_pg_deliver() hands on, at most */
#define NGX_HTTP_SOCIAL_PG_ROW_COLS  16

/*
 * a statement shared by several requests (_batch.c, _reads.c): one
 * request's handler runs with a result of its own, row's first ncols
 * columns or no row (row -1); with a failed result as it is; or with NULL
 * (reason in ctx->backend_error); then the request's posted requests
 */
void ngx_http_social_pg_deliver(ngx_http_social_ctx_t *ctx,
    ngx_http_social_pg_handler_pt handler, PGresult *res, int row,
    int ncols, ngx_uint_t reason);
/* the same with several rows, n of them (n 0: none) */
void ngx_http_social_pg_deliver_rows(ngx_http_social_ctx_t *ctx,
    ngx_http_social_pg_handler_pt handler, PGresult *res, const int *rows,
    int n, int ncols, ngx_uint_t reason);


#endif /* _NGX_HTTP_SOCIAL_PG_H_INCLUDED_ */
