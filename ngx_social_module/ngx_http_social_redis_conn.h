
/*
 * Copyright (C) ngx_social developers
 */


/*
 * What the connection (_redis.c) and its scripts and libraries
 * (_redis_lua.c) share, and no other file: the rest of the module sees
 * _redis.h.
 */


#ifndef _NGX_HTTP_SOCIAL_REDIS_CONN_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_REDIS_CONN_H_INCLUDED_


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_redis.h"


/*
 * One hiredis async context per worker, commands pipelined on it.  hiredis
 * 0.14 has no timer hook and cannot cancel a single command, so a command
 * that times out fails every command on its connection, and the connection
 * is replaced on the next use.
 */

typedef struct {
    redisAsyncContext              *ac;
    ngx_connection_t               *c;
    ngx_queue_t                     ops;        /* in flight, in order */
    ngx_event_t                     timer;      /* the oldest op's deadline */
    ngx_msec_t                      timeout;    /* social_redis_timeout */
    ngx_uint_t                      reason;     /* why the ops fail */
    ngx_uint_t                      connected;  /* unsigned:1 */
} ngx_http_social_redis_conn_t;


typedef struct {
    ngx_http_social_op_t            op;
    ngx_queue_t                     queue;      /* in conn->ops */
    ngx_http_social_redis_handler_pt  handler;
    ngx_http_social_redis_conn_t   *conn;
    ngx_msec_t                      deadline;

    /*
     * a script sent by its SHA1 (or a library's function): sent again
     * whole (or after its library) when Redis lacks it
     */
    ngx_http_social_script_t       *script;
    ngx_uint_t                      load;       /* unsigned:1 */
    int                             argc;
    const char                    **argv;
    size_t                         *argvlen;
} ngx_http_social_redis_op_t;


/* _redis.c */
ngx_int_t ngx_http_social_redis_send(ngx_http_social_redis_op_t *op);

/* _redis_lua.c */
void ngx_http_social_redis_lua_prepare(ngx_http_social_script_t *script);
ngx_int_t ngx_http_social_redis_lua_missing(ngx_http_social_redis_op_t *op,
    redisReply *reply);
void ngx_http_social_redis_lua_loaded(ngx_http_social_redis_conn_t *rc,
    redisReply *reply);


#endif /* _NGX_HTTP_SOCIAL_REDIS_CONN_H_INCLUDED_ */
