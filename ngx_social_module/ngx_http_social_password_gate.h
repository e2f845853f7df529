
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The gate of password hashing in a worker: who may wait for a hash, and
 * whose hash runs next.  A request is admitted before it looks its user up
 * (a full gate says nothing about who exists), waits for its turn in the
 * queue of its client address, and the addresses take turns.  A request
 * that goes away leaves its place: its hash is never computed.
 */


#ifndef _NGX_HTTP_SOCIAL_PASSWORD_GATE_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_PASSWORD_GATE_H_INCLUDED_


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"


/* the turn has come (NGX_OK), or the request was pushed out (NGX_BUSY) */
typedef void (*ngx_http_social_gate_pt)(ngx_http_social_ctx_t *ctx,
    void *data, ngx_int_t rc);


ngx_int_t ngx_http_social_gate_admit(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_gate_refuse(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_gate_wait(ngx_http_social_ctx_t *ctx,
    ngx_http_social_gate_pt turn, void *data);
ngx_int_t ngx_http_social_gate_hold(ngx_http_social_ctx_t *ctx,
    ngx_http_social_gate_pt turn, void *data);
void ngx_http_social_gate_end(ngx_http_social_gate_t *gate,
    ngx_msec_t took);
void ngx_http_social_gate_timed(ngx_msec_t took);
ngx_http_social_ctx_t *ngx_http_social_gate_ctx(ngx_http_social_gate_t *gate);


#endif /* _NGX_HTTP_SOCIAL_PASSWORD_GATE_H_INCLUDED_ */
