
/*
 * Copyright (C) ngx_social developers
 */


#ifndef _NGX_HTTP_SOCIAL_MODULE_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <libpq-fe.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "ngx_http_social_utf8.h"


typedef struct ngx_http_social_ctx_s        ngx_http_social_ctx_t;
typedef struct ngx_http_social_pg_op_s      ngx_http_social_pg_op_t;
typedef struct ngx_http_social_pg_conn_s    ngx_http_social_pg_conn_t;
typedef struct ngx_http_social_pg_pool_s    ngx_http_social_pg_pool_t;
typedef struct ngx_http_social_redis_op_s   ngx_http_social_redis_op_t;
typedef struct ngx_http_social_redis_s      ngx_http_social_redis_t;
typedef struct ngx_http_social_json_s       ngx_http_social_json_t;
typedef struct ngx_http_social_job_s        ngx_http_social_job_t;


typedef ngx_int_t (*ngx_http_social_handler_pt)(ngx_http_social_ctx_t *ctx);

/* res is NULL when the query could not run: ctx->backend_error says why */
typedef void (*ngx_http_social_pg_handler_pt)(ngx_http_social_ctx_t *ctx,
    PGresult *res);

/* reply is NULL when the command could not run */
typedef void (*ngx_http_social_redis_handler_pt)(ngx_http_social_ctx_t *ctx,
    redisReply *reply);

/* the next step of an endpoint */
typedef void (*ngx_http_social_step_pt)(ngx_http_social_ctx_t *ctx);

/* ctx->auth_status says how the token check ended */
typedef void (*ngx_http_social_auth_handler_pt)(ngx_http_social_ctx_t *ctx);

/* a periodic job's run: it ends with ngx_http_social_job_done() */
typedef void (*ngx_http_social_job_pt)(ngx_http_social_job_t *job);

/* hash is NULL when hashing failed or the password did not match */
typedef void (*ngx_http_social_password_pt)(ngx_http_social_ctx_t *ctx,
    ngx_str_t *hash);


typedef struct {
    ngx_str_t                       name;
    ngx_uint_t                      methods;
    ngx_http_social_handler_pt      handler;
    unsigned                        auth:1;
    unsigned                        debug:1;
} ngx_http_social_endpoint_t;


#define NGX_HTTP_SOCIAL_JSON_NULL      0
#define NGX_HTTP_SOCIAL_JSON_BOOLEAN   1
#define NGX_HTTP_SOCIAL_JSON_INTEGER   2
#define NGX_HTTP_SOCIAL_JSON_NUMBER    3
#define NGX_HTTP_SOCIAL_JSON_STRING    4
#define NGX_HTTP_SOCIAL_JSON_ARRAY     5
#define NGX_HTTP_SOCIAL_JSON_OBJECT    6

#define NGX_HTTP_UNPROCESSABLE_ENTITY  422


/* a parsed JSON value: children are linked in document order */

struct ngx_http_social_json_s {
    ngx_uint_t                      type;
    ngx_str_t                       key;        /* as an object member */
    ngx_str_t                       str;        /* a string, a number */
    int64_t                         integer;    /* an integer, a boolean */
    ngx_uint_t                      nelts;
    ngx_http_social_json_t         *first;
    ngx_http_social_json_t         *last;
    ngx_http_social_json_t         *next;
    ngx_http_social_json_t         *parent;
    unsigned                        big:1;      /* beyond 64 bits */
};


typedef struct {
    ngx_str_t                       pg_conninfo;
    ngx_uint_t                      pg_pool_size;
    ngx_uint_t                      pg_queue_size;
    ngx_msec_t                      pg_connect_timeout;
    ngx_msec_t                      pg_query_timeout;
    ngx_msec_t                      pg_queue_timeout;

    ngx_str_t                       redis_addr;
    ngx_str_t                       redis_host;     /* host or unix path */
    in_port_t                       redis_port;
    ngx_uint_t                      redis_unix;     /* unsigned:1 */
    ngx_msec_t                      redis_timeout;

    ngx_str_t                       jwt_key;
    time_t                          token_lifetime;
    ngx_uint_t                      password_cost;  /* log2 of scrypt's N */
    ngx_str_t                       thread_pool_name;
    ngx_thread_pool_t              *thread_pool;

    ngx_str_t                       group_threshold;  /* "0.5" */
    ngx_uint_t                      group_max_size;

    ngx_uint_t                      feed_cache_size;
    ngx_msec_t                      object_ttl;
    ngx_msec_t                      trim_interval;
    ngx_msec_t                      flush_interval;

    ngx_flag_t                      debug_endpoints;
    ngx_uint_t                      uses_tokens;    /* unsigned:1 */
} ngx_http_social_main_conf_t;


typedef struct {
    ngx_http_social_endpoint_t     *endpoint;
} ngx_http_social_loc_conf_t;


/* why a backend operation failed */
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

    int64_t                         user_id;    /* the reader */
    int64_t                         token_gen;
    ngx_int_t                       auth_status;
    ngx_http_social_auth_handler_pt  auth_handler;

    ngx_uint_t                      backend_error;
    ngx_uint_t                      pending;    /* endpoint's own counter */
    void                           *data;       /* endpoint's own state */
    ngx_http_social_step_pt         next;

    unsigned                        admin:1;
    unsigned                        done:1;
};


/* an in-flight backend operation, owned by its connection, not the request */
typedef struct ngx_http_social_op_s  ngx_http_social_op_t;

struct ngx_http_social_op_s {
    ngx_queue_t                     link;       /* in ctx->ops */
    ngx_http_social_ctx_t          *ctx;        /* NULL once detached */
    void                          (*detach)(ngx_http_social_op_t *op);
};


/* a Redis Lua script, called by its SHA1 */

typedef struct {
    const char                     *text;
    char                            sha1[41];
} ngx_http_social_script_t;


/*
 * A periodic job, run in one worker across all nodes at a time (a Redis
 * lock), or in every worker (every_worker: no lock).  During a run,
 * job->ctx serves the backend calls: its request is NULL, its pool lives
 * until ngx_http_social_job_done(), and its data points back at the job;
 * the run keeps its own state in job->data.
 */

struct ngx_http_social_job_s {
    const char                     *name;       /* social:lock:<name> */
    ngx_msec_t                      interval;   /* 0: off */
    ngx_http_social_job_pt          run;

    ngx_http_social_ctx_t          *ctx;        /* of the run, or NULL */
    void                           *data;
    ngx_http_social_main_conf_t    *smcf;
    ngx_str_t                       token;      /* the lock's value */
    ngx_event_t                     timer;
    unsigned                        again:1;    /* kicked during a run */
    unsigned                        every_worker:1;  /* no lock */
};


extern ngx_module_t  ngx_http_social_module;


/* ngx_http_social_module.c */
void ngx_http_social_connection_release(ngx_connection_t *c);

/* ngx_http_social_job.c */
ngx_int_t ngx_http_social_job_start(ngx_cycle_t *cycle,
    ngx_http_social_job_t *job);
void ngx_http_social_job_kick(ngx_http_social_job_t *job);
void ngx_http_social_job_done(ngx_http_social_job_t *job);
void ngx_http_social_job_stop(ngx_http_social_job_t *job);

/* ngx_http_social_request.c */
ngx_int_t ngx_http_social_handler(ngx_http_request_t *r);
void ngx_http_social_ctx_release(ngx_http_social_ctx_t *ctx);
void ngx_http_social_op_attach(ngx_http_social_ctx_t *ctx,
    ngx_http_social_op_t *op);
void ngx_http_social_op_unlink(ngx_http_social_op_t *op);
void ngx_http_social_done(ngx_http_social_ctx_t *ctx, ngx_int_t rc);
ngx_int_t ngx_http_social_send(ngx_http_social_ctx_t *ctx, ngx_uint_t status,
    yajl_gen g);
ngx_int_t ngx_http_social_error(ngx_http_social_ctx_t *ctx, ngx_uint_t status,
    const char *code, const char *message, const char *field);
ngx_int_t ngx_http_social_unavailable(ngx_http_social_ctx_t *ctx,
    const char *what);
ngx_int_t ngx_http_social_invalid(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_add_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value);
ngx_int_t ngx_http_social_arg_limit(ngx_http_social_ctx_t *ctx,
    ngx_uint_t min, ngx_uint_t max, ngx_uint_t def, ngx_uint_t *limit);
ngx_int_t ngx_http_social_path_id(ngx_http_social_ctx_t *ctx, int64_t *id);
ngx_int_t ngx_http_social_cursor_parse(ngx_http_social_ctx_t *ctx,
    int64_t *a, int64_t *b);
ngx_int_t ngx_http_social_cursor_json(ngx_http_social_ctx_t *ctx,
    yajl_gen g, const char *a, const char *b);
yajl_gen ngx_http_social_page_start(ngx_http_social_ctx_t *ctx,
    const char *key);
void ngx_http_social_page_end(ngx_http_social_ctx_t *ctx, yajl_gen g,
    const char *a, const char *b);
const char *ngx_http_social_int64(ngx_http_social_ctx_t *ctx, int64_t n);
ngx_int_t ngx_http_social_forbidden(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_not_found(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_no_such(ngx_http_social_ctx_t *ctx,
    const char *field);
ngx_int_t ngx_http_social_pg_failed(ngx_http_social_ctx_t *ctx,
    PGresult *res);

/* ngx_http_social_auth.c */
ngx_int_t ngx_http_social_auth_check(ngx_http_social_ctx_t *ctx,
    ngx_http_social_auth_handler_pt handler);
ngx_int_t ngx_http_social_token(ngx_http_social_ctx_t *ctx, int64_t user_id,
    ngx_uint_t admin, int64_t gen, ngx_str_t *token);

/* ngx_http_social_revoke.c */
ngx_int_t ngx_http_social_revoke_init_process(ngx_cycle_t *cycle,
    ngx_http_social_main_conf_t *smcf);
void ngx_http_social_revoke_exit_process(void);
ngx_int_t ngx_http_social_revoke_check(ngx_http_social_ctx_t *ctx);
void ngx_http_social_revoke_publish(ngx_http_social_ctx_t *ctx,
    int64_t user_id, int64_t gen, int64_t rev, ngx_http_social_step_pt next);
int64_t ngx_http_social_revoke_number(PGresult *res, int col);

/* ngx_http_social_password.c */
ngx_int_t ngx_http_social_password_hash(ngx_http_social_ctx_t *ctx,
    ngx_str_t *password, ngx_http_social_password_pt handler);
ngx_int_t ngx_http_social_password_verify(ngx_http_social_ctx_t *ctx,
    ngx_str_t *password, ngx_str_t *stored,
    ngx_http_social_password_pt handler);
ngx_int_t ngx_http_social_password_hmac(ngx_http_social_ctx_t *ctx,
    ngx_str_t *password, ngx_str_t *out);

/* ngx_http_social_groups.c */
ngx_int_t ngx_http_social_attributes(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *v, ngx_str_t *pg_array, ngx_array_t **list);
void ngx_http_social_attributes_json(yajl_gen g, ngx_array_t *list);
ngx_int_t ngx_http_social_group(ngx_http_social_ctx_t *ctx);

/* ngx_http_social_signup.c */
ngx_int_t ngx_http_social_signup(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_signin(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_signout(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_check_username(ngx_http_social_ctx_t *ctx,
    ngx_str_t *v);
ngx_int_t ngx_http_social_check_email(ngx_http_social_ctx_t *ctx,
    ngx_str_t *v);
ngx_int_t ngx_http_social_conflict(ngx_http_social_ctx_t *ctx,
    PGresult *res);

/* ngx_http_social_users.c */
ngx_int_t ngx_http_social_user(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_user_role(ngx_http_social_ctx_t *ctx);

/* ngx_http_social_posts.c, _follows.c, _feed.c */
ngx_int_t ngx_http_social_posts(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_post(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_like(ngx_http_social_ctx_t *ctx);
void ngx_http_social_post_json(yajl_gen g, PGresult *res, int row, int col,
    ngx_uint_t mine);
ngx_int_t ngx_http_social_follow(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_block(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_feed(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_user_posts(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_user_followers(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_user_following(ngx_http_social_ctx_t *ctx);
void ngx_http_social_user_ref_json(yajl_gen g, PGresult *res, int row,
    int col);

/* ngx_http_social_feed_cache.c (the feed store: its own header) */
ngx_int_t ngx_http_social_feed_cache_init_process(ngx_cycle_t *cycle,
    ngx_http_social_main_conf_t *smcf);
void ngx_http_social_feed_cache_exit_process(void);

/* ngx_http_social_evict.c */
ngx_int_t ngx_http_social_cache_evict_endpoint(ngx_http_social_ctx_t *ctx);

/* ngx_http_social_learning.c */
ngx_int_t ngx_http_social_conversations(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_conversation_utterances(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_utterances(ngx_http_social_ctx_t *ctx);

/* ngx_http_social_points.c (the point store: ngx_http_social_points.h) */
ngx_int_t ngx_http_social_errors(ngx_http_social_ctx_t *ctx);

/* ngx_http_social_flush.c */
ngx_int_t ngx_http_social_flush_init_process(ngx_cycle_t *cycle,
    ngx_http_social_main_conf_t *smcf);
void ngx_http_social_flush_exit_process(void);

/* ngx_http_social_exercises.c */
ngx_int_t ngx_http_social_exercises(ngx_http_social_ctx_t *ctx);

/* ngx_http_social_json.c */
yajl_gen ngx_http_social_json_gen(ngx_pool_t *pool);
void ngx_http_social_json_str(yajl_gen g, const char *s);
void ngx_http_social_json_kv(yajl_gen g, const char *key, const char *value);
ngx_int_t ngx_http_social_json_body(ngx_http_social_ctx_t *ctx, yajl_gen g,
    ngx_chain_t **out, size_t *len);
ngx_int_t ngx_http_social_json_parse_body(ngx_http_social_ctx_t *ctx);
ngx_http_social_json_t *ngx_http_social_json_parse(ngx_pool_t *pool,
    u_char *text, size_t len);
ngx_uint_t ngx_http_social_json_content_type(ngx_http_request_t *r);
ngx_http_social_json_t *ngx_http_social_json_get(ngx_http_social_json_t *obj,
    const char *key);
ngx_int_t ngx_http_social_json_id(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *obj, const char *key, int64_t *id);
ngx_int_t ngx_http_social_json_string(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *obj, const char *key, size_t min, size_t max,
    ngx_str_t *value);
ngx_int_t ngx_http_social_json_text(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *v, const char *field, size_t min, size_t max,
    ngx_str_t *value);
const char *ngx_http_social_json_path(ngx_http_social_ctx_t *ctx,
    const char *base, ngx_uint_t index, const char *member);
ngx_int_t ngx_http_social_json_invalid(ngx_http_social_ctx_t *ctx,
    const char *field, const char *what);
ngx_int_t ngx_http_social_json_content(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *obj, const char *key, size_t max,
    ngx_str_t *value);
void ngx_http_social_json_raw(yajl_gen g, const char *json, size_t len);
void ngx_http_social_json_pg(yajl_gen g, PGresult *res, int row, int col,
    ngx_uint_t type);

/* ngx_http_social_pg.c */
ngx_int_t ngx_http_social_pg_init_process(ngx_cycle_t *cycle,
    ngx_http_social_main_conf_t *smcf);
void ngx_http_social_pg_exit_process(void);
ngx_int_t ngx_http_social_pg_query(ngx_http_social_ctx_t *ctx,
    const char *sql, int nparams, const char *const *values,
    ngx_http_social_pg_handler_pt handler);
ngx_int_t ngx_http_social_pg_step(ngx_http_social_ctx_t *ctx,
    const char *sql, int nparams, const char *const *values,
    ngx_http_social_pg_handler_pt handler);
void ngx_http_social_pg_next(ngx_http_social_ctx_t *ctx, const char *sql,
    int nparams, const char *const *values,
    ngx_http_social_pg_handler_pt handler);
ngx_int_t ngx_http_social_pg_ok(ngx_http_social_ctx_t *ctx, PGresult *res,
    ExecStatusType status);
ngx_int_t ngx_http_social_pg_begin(ngx_http_social_ctx_t *ctx,
    ngx_http_social_pg_handler_pt handler);
ngx_int_t ngx_http_social_pg_end(ngx_http_social_ctx_t *ctx,
    ngx_uint_t commit, ngx_http_social_pg_handler_pt handler);
void ngx_http_social_pg_release(ngx_http_social_ctx_t *ctx);

/* ngx_http_social_redis.c */
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

/* endpoints */
ngx_int_t ngx_http_social_health(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_debug_redis_blob(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_debug_pg_sleep(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_debug_echo(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_debug_pg_txn(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_debug_pg_statements(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_error_endpoint(ngx_http_social_ctx_t *ctx);


#endif /* _NGX_HTTP_SOCIAL_MODULE_H_INCLUDED_ */
