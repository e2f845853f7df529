
/*
 * Copyright (C) ngx_social developers
 */


/*
 * Reads that go together: the same read of a worker's concurrent requests
 * (GET /user/{id}) as one statement, each request's handler run with its
 * own row (or none), as a statement's handler of _pg.h.
 */


#ifndef _NGX_HTTP_SOCIAL_READS_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_READS_H_INCLUDED_


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_pg.h"


/*
 * One kind of read, a static of its endpoint's file: sql takes $1 and $2,
 * bigint[] of the reads' two parameters in order, and answers at most
 * one row a read, ordered by the read's place (1, 2, ...), which is its
 * last column; the handler is given the ncols columns before it
 */
typedef struct {
    const char                     *sql;
    ngx_uint_t                      ncols;
    void                           *state;      /* the worker's, _reads.c */
} ngx_http_social_reads_t;


/* a and b: decimal int64, in the request's pool */
ngx_int_t ngx_http_social_reads_add(ngx_http_social_ctx_t *ctx,
    ngx_http_social_reads_t *kind, const char *a, const char *b,
    ngx_http_social_pg_handler_pt handler);
void ngx_http_social_reads_exit_process(void);


#endif /* _NGX_HTTP_SOCIAL_READS_H_INCLUDED_ */
