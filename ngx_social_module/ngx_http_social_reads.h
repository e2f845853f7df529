
/*
 * Copyright (C) ngx_social developers
 */


/*
 * Reads that go together: the same read of a worker's concurrent requests
 * (GET /user/{id}, GET /exercises) as one statement, each request's
 * handler run with its own rows (or none), as a statement's handler of
 * _pg.h.
 */


#ifndef _NGX_HTTP_SOCIAL_READS_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_READS_H_INCLUDED_


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_pg.h"


/*
 * One kind of read, a static of its endpoint's file: sql takes $1 to
 * $nparams, arrays of the reads' parameters in order (array literals of
 * quoted elements, so of any type: $1::bigint[], $2::text[]), and answers
 * any number of rows a read, in any order, each row's last column the
 * read's place (1, 2, ...); the handler is given the read's rows as they
 * came, the ncols columns before the place
 */
typedef struct {
    const char                     *sql;
    ngx_uint_t                      nparams;
    ngx_uint_t                      ncols;
    void                           *state;      /* the worker's, _reads.c */
} ngx_http_social_reads_t;


/* values: nparams strings, kept (with the array) by the request's pool */
ngx_int_t ngx_http_social_reads_add(ngx_http_social_ctx_t *ctx,
    ngx_http_social_reads_t *kind, const char *const *values,
    ngx_http_social_pg_handler_pt handler);
void ngx_http_social_reads_exit_process(void);


#endif /* _NGX_HTTP_SOCIAL_READS_H_INCLUDED_ */
