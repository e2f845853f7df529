
/*
 * Copyright (C) ngx_social developers
 */


/*
 * Scripts and libraries on the worker's Redis connection: a script's
 * SHA1 and a library function's name, made once from the text, and what
 * is done when Redis lacks them (after a restart, SCRIPT FLUSH or
 * FUNCTION FLUSH): a script is sent again whole with EVAL, a library is
 * loaded with FUNCTION LOAD before its call is sent again.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_redis_conn.h"

#include <openssl/sha.h>


#define NGX_HTTP_SOCIAL_REDIS_LUA_RETRY  60000


static ngx_int_t ngx_http_social_redis_lua_noscript(
    ngx_http_social_redis_op_t *op, redisReply *reply);
static ngx_int_t ngx_http_social_redis_lua_nofunction(
    ngx_http_social_redis_op_t *op, redisReply *reply);
static void ngx_http_social_redis_lua_name(ngx_http_social_script_t *script);


/* when a FUNCTION LOAD was last refused, 0: never (or loaded since) */
static ngx_msec_t  ngx_http_social_redis_lua_failed;


/* the script's SHA1, and a library function's name, once */

void
ngx_http_social_redis_lua_prepare(ngx_http_social_script_t *script)
{
    SHA_CTX  sha;
    u_char   md[SHA_DIGEST_LENGTH];

    SHA1_Init(&sha);
    SHA1_Update(&sha, script->text, ngx_strlen(script->text));
    SHA1_Final(md, &sha);
    ngx_hex_dump((u_char *) script->sha1, md, SHA_DIGEST_LENGTH);

    if (script->function) {
        ngx_http_social_redis_lua_name(script);
    }
}


/*
 * the reply to a script's call: NGX_OK when it told that Redis lacks the
 * script or the library, and the call was sent again (its reply comes
 * later); NGX_DECLINED when the reply goes to the call's handler: the
 * call's own, or Redis's "lacks it" when nothing could be sent again (a
 * load refused less than 60 s ago, no memory, the connection failing)
 */

ngx_int_t
ngx_http_social_redis_lua_missing(ngx_http_social_redis_op_t *op,
    redisReply *reply)
{
    if (op->script->function) {
        return ngx_http_social_redis_lua_nofunction(op, reply);
    }

    return ngx_http_social_redis_lua_noscript(op, reply);
}


/* Redis lacks the script: the same op is sent again with its text */

static ngx_int_t
ngx_http_social_redis_lua_noscript(ngx_http_social_redis_op_t *op,
    redisReply *reply)
{
    if (reply == NULL || reply->type != REDIS_REPLY_ERROR
        || ngx_strncmp(reply->str, "NOSCRIPT", 8) != 0)
    {
        return NGX_DECLINED;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, op->conn->c->log, 0,
                   "social redis: NOSCRIPT, sending the script again with "
                   "EVAL");

    op->argv[0] = "EVAL";
    op->argvlen[0] = sizeof("EVAL") - 1;
    op->argv[1] = op->script->text;
    op->argvlen[1] = ngx_strlen(op->script->text);
    op->script = NULL;

    return ngx_http_social_redis_send(op);
}


/*
 * Redis lacks the library's function (after a restart, FUNCTION FLUSH, or
 * with another release's library only): the library is loaded, on the
 * same connection, before the op is sent again, once
 */

static ngx_int_t
ngx_http_social_redis_lua_nofunction(ngx_http_social_redis_op_t *op,
    redisReply *reply)
{
    u_char                        *p;
    size_t                         len;
    ngx_http_social_script_t      *script;
    ngx_http_social_redis_op_t    *load;
    ngx_http_social_redis_conn_t  *rc;

    if (reply == NULL || reply->type != REDIS_REPLY_ERROR
        || ngx_strncmp(reply->str, "ERR Function not found",
                       sizeof("ERR Function not found") - 1)
           != 0)
    {
        return NGX_DECLINED;
    }

    /* a load refused (an ACL, a Redis before 7) is not tried every call */

    if (ngx_http_social_redis_lua_failed
        && (ngx_msec_int_t) (ngx_current_msec
                             - ngx_http_social_redis_lua_failed)
           < NGX_HTTP_SOCIAL_REDIS_LUA_RETRY)
    {
        return NGX_DECLINED;
    }

    rc = op->conn;
    script = op->script;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, rc->c->log, 0,
                   "social redis: no function \"%s\", loading its library",
                   script->name);

    /* "#!lua name=social_<version>\nlocal V = '<version>'\n" and the code */

    len = sizeof("#!lua name=social_\nlocal V = ''\n") - 1
          + 2 * NGX_HTTP_SOCIAL_LUA_VERSION_LEN + ngx_strlen(script->text);

    load = ngx_calloc(sizeof(ngx_http_social_redis_op_t)
                      + 4 * (sizeof(char *) + sizeof(size_t)) + len,
                      rc->c->log);
    if (load == NULL) {
        return NGX_DECLINED;
    }

    load->argc = 4;
    load->argv = (const char **) (load + 1);
    load->argvlen = (size_t *) (load->argv + 4);
    p = (u_char *) (load->argvlen + 4);

    load->argv[0] = "FUNCTION";
    load->argvlen[0] = sizeof("FUNCTION") - 1;
    load->argv[1] = "LOAD";
    load->argvlen[1] = sizeof("LOAD") - 1;
    load->argv[2] = "REPLACE";
    load->argvlen[2] = sizeof("REPLACE") - 1;
    load->argv[3] = (char *) p;
    load->argvlen[3] = len;

    p = ngx_sprintf(p, "#!lua name=social_%*s\nlocal V = '%*s'\n%s",
                    (size_t) NGX_HTTP_SOCIAL_LUA_VERSION_LEN, script->sha1,
                    (size_t) NGX_HTTP_SOCIAL_LUA_VERSION_LEN, script->sha1,
                    script->text);

    load->load = 1;
    load->conn = rc;

    if (ngx_http_social_redis_send(load) != NGX_OK) {
        ngx_free(load);
        return NGX_DECLINED;
    }

    op->script = NULL;

    return ngx_http_social_redis_send(op);
}


/*
 * the reply to a FUNCTION LOAD: a refusal is told once, and the load not
 * tried again for a while (the calls fail, and their requests take their
 * other way)
 */

void
ngx_http_social_redis_lua_loaded(ngx_http_social_redis_conn_t *rc,
    redisReply *reply)
{
    if (reply->type != REDIS_REPLY_ERROR) {
        ngx_http_social_redis_lua_failed = 0;
        return;
    }

    if (ngx_http_social_redis_lua_failed == 0) {
        ngx_log_error(NGX_LOG_ERR, rc->c->log, 0,
                      "social: redis did not load a library, not tried "
                      "again for %d s: %*s",
                      NGX_HTTP_SOCIAL_REDIS_LUA_RETRY / 1000,
                      reply->len, reply->str);
    }

    ngx_http_social_redis_lua_failed = ngx_current_msec ? ngx_current_msec
                                                        : 1;
}


/* a library function's name: "function_" and the text's version */

static void
ngx_http_social_redis_lua_name(ngx_http_social_script_t *script)
{
    (void) ngx_snprintf((u_char *) script->name, sizeof(script->name) - 1,
                        "%s_%*s%Z", script->function,
                        (size_t) NGX_HTTP_SOCIAL_LUA_VERSION_LEN,
                        script->sha1);
}
