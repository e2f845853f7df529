
/*
 * Copyright (C) ngx_social developers
 */


/*
 * Redis, as the rest of the module sees it: a command (or a Lua script,
 * called by its SHA1) is sent for a task on the worker's one pipelined
 * connection, and its handler runs with the reply, or with NULL when it
 * could not run (ctx->backend_error says why); nobody answers a request
 * here.
 */


#ifndef _NGX_HTTP_SOCIAL_REDIS_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_REDIS_H_INCLUDED_


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"

#include <hiredis/hiredis.h>
#include <hiredis/async.h>


/* reply is NULL when the command could not run */
typedef void (*ngx_http_social_redis_handler_pt)(ngx_http_social_ctx_t *ctx,
    redisReply *reply);


/*
 * A Redis Lua script, called by its SHA1; or, with a function, a function
 * of a library (Redis 7): "text" the library's code without its header,
 * loaded as "social_" and its SHA1's first 12 digits (which the code has
 * as V), so that another release's library is another library; the
 * function called is "function_" and those digits
 */

#define NGX_HTTP_SOCIAL_LUA_VERSION_LEN  12

typedef struct {
    const char                     *text;
    char                            sha1[41];
    const char                     *function;
    char                            name[64];
} ngx_http_social_script_t;


/* a command of a transaction (ngx_http_social_redis_multi()) */

typedef struct {
    int                             argc;
    const char                    **argv;
    const size_t                   *argvlen;
} ngx_http_social_redis_cmd_t;


ngx_int_t ngx_http_social_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_social_main_conf_t *smcf);
void ngx_http_social_redis_exit_process(void);
ngx_int_t ngx_http_social_redis_command(ngx_http_social_ctx_t *ctx,
    ngx_http_social_redis_handler_pt handler, int argc, const char **argv,
    const size_t *argvlen);
ngx_int_t ngx_http_social_redis_script(ngx_http_social_ctx_t *ctx,
    ngx_http_social_redis_handler_pt handler,
    ngx_http_social_script_t *script, int argc, const char **argv,
    const size_t *argvlen);
ngx_int_t ngx_http_social_redis_multi(ngx_http_social_ctx_t *ctx,
    ngx_http_social_redis_handler_pt handler,
    ngx_http_social_redis_cmd_t *cmds, ngx_uint_t n);

#if (NGX_HTTP_SOCIAL_TEST)
/*
 * the test build's fault: the next transaction's command n (from 1) is
 * not taken, as when hiredis cannot grow its buffer; 0: none
 */
extern ngx_uint_t  ngx_http_social_redis_multi_fault;
#endif


#endif /* _NGX_HTTP_SOCIAL_REDIS_H_INCLUDED_ */
