
/*
 * Copyright (C) ngx_social developers
 */


/*
 * A task is what the backends work for: a request, or a job's run, which
 * has no request.  Its ctx holds its pool, its log and the backend
 * operations in flight; an operation belongs to its connection, and the
 * task that ends detaches it, so that no reply ever calls into a freed
 * request.  The ctx also carries the request's own state, unused in a job.
 */


#ifndef _NGX_HTTP_SOCIAL_TASK_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_TASK_H_INCLUDED_


#include "ngx_http_social_module.h"


typedef struct ngx_http_social_ctx_s        ngx_http_social_ctx_t;
typedef struct ngx_http_social_op_s         ngx_http_social_op_t;
typedef struct ngx_http_social_json_s       ngx_http_social_json_t;
typedef struct ngx_http_social_pg_conn_s    ngx_http_social_pg_conn_t;
typedef struct ngx_http_social_gate_s       ngx_http_social_gate_t;
typedef struct ngx_http_social_claims_s     ngx_http_social_claims_t;


/* the next step of an endpoint */
typedef void (*ngx_http_social_step_pt)(ngx_http_social_ctx_t *ctx);

/* ctx->auth_status says how the token check ended */
typedef void (*ngx_http_social_auth_handler_pt)(ngx_http_social_ctx_t *ctx);


/* why a backend operation failed: ctx->backend_error */
#define NGX_HTTP_SOCIAL_BACKEND_OK        0
#define NGX_HTTP_SOCIAL_BACKEND_DOWN      1
#define NGX_HTTP_SOCIAL_BACKEND_TIMEOUT   2
#define NGX_HTTP_SOCIAL_BACKEND_BUSY      3


struct ngx_http_social_ctx_s {
    ngx_http_request_t             *request;    /* NULL in a job */
    ngx_pool_t                     *pool;
    ngx_log_t                      *log;
    ngx_http_social_endpoint_t     *endpoint;
    ngx_http_social_main_conf_t    *smcf;

    ngx_queue_t                     ops;        /* backend ops in flight */
    ngx_http_social_pg_conn_t      *pg_pinned;  /* open transaction */

    /*
     * why the open transaction failed (its connection was lost): every
     * statement fails until the next ngx_http_social_pg_begin()
     */
    ngx_uint_t                      pg_failed;

    ngx_http_social_json_t         *body;       /* parsed request body */
    const char                     *field;      /* of a 422 */
    const char                     *message;

    /*
     * the bearer token, its signature and claims checked once a request
     * (ngx_http_social_auth_claims()): NULL, or NULL and token_read set
     * when there is no valid one
     */
    ngx_http_social_claims_t       *claims;

    int64_t                         user_id;    /* the reader */
    int64_t                         token_gen;
    ngx_int_t                       auth_status;
    ngx_http_social_auth_handler_pt  auth_handler;

    ngx_uint_t                      backend_error;
    time_t                          retry_after;  /* of a 503, 1 if 0 */
    ngx_http_social_gate_t         *gate;       /* of password hashing */
    ngx_uint_t                      pending;    /* endpoint's own counter */
    void                           *data;       /* endpoint's own state */
    ngx_http_social_step_pt         next;
    const char                     *feed_touch[2];  /* users whose feed
                                                       context a write
                                                       changed */

    unsigned                        admin:1;
    unsigned                        done:1;
    /* a statement's connection was lost after it was sent */
    unsigned                        pg_unknown:1;

    /* a write made an event: the feed's refresh, once Redis counted it */
    unsigned                        feed_written:1;

    /* the access phase: the token check was asked, and it has answered */
    unsigned                        access_asked:1;
    unsigned                        access_checked:1;

    unsigned                        token_read:1;
};


/* an in-flight backend operation, owned by its connection, not the task */

struct ngx_http_social_op_s {
    ngx_queue_t                     link;       /* in ctx->ops */
    ngx_http_social_ctx_t          *ctx;        /* NULL once detached */
    void                          (*detach)(ngx_http_social_op_t *op);
};


ngx_http_social_ctx_t *ngx_http_social_task_create(
    ngx_http_social_main_conf_t *smcf, size_t size);
void ngx_http_social_task_release(ngx_http_social_ctx_t *ctx);
void ngx_http_social_op_attach(ngx_http_social_ctx_t *ctx,
    ngx_http_social_op_t *op);
void ngx_http_social_op_unlink(ngx_http_social_op_t *op);
const char *ngx_http_social_int64(ngx_http_social_ctx_t *ctx, int64_t n);
ngx_int_t ngx_http_social_task_sleep(ngx_http_social_ctx_t *ctx,
    ngx_msec_t msec, ngx_http_social_step_pt step);


#endif /* _NGX_HTTP_SOCIAL_TASK_H_INCLUDED_ */
