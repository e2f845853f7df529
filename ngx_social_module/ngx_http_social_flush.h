
/*
 * Copyright (C) ngx_social developers
 */


/*
 * What the two files of the flush share: the run (ngx_http_social_flush.c,
 * steps 1 and 3, the transactions' start, how a run fails) and the
 * rows of a batch (ngx_http_social_flush_rows.c, steps 2a to 2c).  The
 * steps are listed at the top of ngx_http_social_flush.c.
 */


#ifndef _NGX_HTTP_SOCIAL_FLUSH_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_FLUSH_H_INCLUDED_


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_job.h"


/* the rows of a batch go to PostgreSQL this many at a time */
#define NGX_HTTP_SOCIAL_FLUSH_CHUNK  1000


/*
 * the parameters of the run's statements: $1 and $2 the batch, then each
 * statement's own
 */

enum {
    NGX_HTTP_SOCIAL_FLUSH_EPOCH = 0,
    NGX_HTTP_SOCIAL_FLUSH_SEQ,
    NGX_HTTP_SOCIAL_FLUSH_VALUE,        /* the count, the rows, a row */
    NGX_HTTP_SOCIAL_FLUSH_REASON,       /* why a row goes aside */
    NGX_HTTP_SOCIAL_FLUSH_PARAMS
};


typedef struct {
    ngx_str_t                       text;       /* as Redis holds it */
    const char                     *why;        /* it fails the checks */
} ngx_http_social_flush_row_t;


/* the run's state, job->data */

typedef struct {
    ngx_str_t                       batch;      /* "<epoch>:<seq>" */
    const char                     *values[NGX_HTTP_SOCIAL_FLUSH_PARAMS];
    ngx_uint_t                      nrows;      /* in Redis */
    ngx_uint_t                      next;       /* the next row to read */
    ngx_uint_t                      written;    /* rows inserted */
    ngx_uint_t                      aside;      /* rows set aside */
    ngx_msec_t                      start;      /* of the run */
    ngx_pool_t                     *pool;       /* the chunk's */
    ngx_http_social_flush_row_t    *rows;       /* the chunk */
    ngx_uint_t                      nchunk;
    ngx_uint_t                      row;        /* the row in hand */
    const char                     *why;        /* it goes aside for this */
    ngx_http_social_step_pt         then;       /* once BEGIN is done */
    unsigned                        fresh:1;
    unsigned                        claimed:1;  /* the batch id, this run */
    unsigned                        careful:1;  /* a run failed on it */
    unsigned                        alone:1;    /* the chunk row by row */
    unsigned                        in_row:1;   /* under its savepoint */
} ngx_http_social_flush_t;


/* ngx_http_social_flush.c: the run */
void ngx_http_social_flush_begin(ngx_http_social_ctx_t *ctx,
    ngx_http_social_step_pt then);
void ngx_http_social_flush_count(ngx_http_social_ctx_t *ctx);
void ngx_http_social_flush_finish(ngx_http_social_ctx_t *ctx);
void ngx_http_social_flush_query(ngx_http_social_ctx_t *ctx, const char *sql,
    int nparams, ngx_http_social_pg_handler_pt handler);
ngx_uint_t ngx_http_social_flush_pg(ngx_http_social_ctx_t *ctx,
    PGresult *res, ExecStatusType status, const char *what);
ngx_uint_t ngx_http_social_flush_passing(PGresult *res);
const char *ngx_http_social_flush_reason(ngx_pool_t *pool, PGresult *res);
void ngx_http_social_flush_failed(ngx_http_social_ctx_t *ctx,
    const char *what);
void ngx_http_social_flush_broken(ngx_http_social_ctx_t *ctx,
    const char *what, const char *why);
void ngx_http_social_flush_free_chunk(void *data);

/* ngx_http_social_flush_rows.c: the rows of the batch */
void ngx_http_social_flush_read(ngx_http_social_ctx_t *ctx);


#endif /* _NGX_HTTP_SOCIAL_FLUSH_H_INCLUDED_ */
