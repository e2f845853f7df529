
/*
 * Copyright (C) ngx_social developers
 */


/*
 * What is module-wide: the configuration and the module itself.  Every
 * area has its header beside its file (_util.h, _task.h, _pg.h, _redis.h,
 * _json.h, _job.h at the bottom; _request.h, _auth.h, _endpoints.h above
 * them), and each .c includes this one first, then what it uses.
 */


#ifndef _NGX_HTTP_SOCIAL_MODULE_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


typedef struct ngx_http_social_endpoint_s  ngx_http_social_endpoint_t;


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


extern ngx_module_t  ngx_http_social_module;


/* ngx_http_social_conf.c: the directives whose values need parsing */
char *ngx_http_social_conf_postgres(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_social_conf_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_social_conf_jwt_key_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_social_conf_threshold(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


/*
 * ---- the two stores, until they get their own headers (issue 11:
 * _points.h for the error points, _feed.h for the feed): this block, and
 * the includes it needs, leave this file whole ----
 */

#include "ngx_http_social_task.h"
#include "ngx_http_social_redis.h"


/* ngx_http_social_feed.c */
ngx_int_t ngx_http_social_feed(ngx_http_social_ctx_t *ctx);

/* ngx_http_social_feed_cache.c */
typedef struct {
    const char                     *user;         /* events of, about it */
    const char                     *user_object;  /* its cached object */
    const char                     *events;       /* "{1,2}": these go */
    const char                     *posts;        /* "{1,2}": cached ones */
} ngx_http_social_forget_t;

extern ngx_http_social_script_t  ngx_http_social_feed_read_script;
extern ngx_http_social_script_t  ngx_http_social_feed_put_script;

ngx_int_t ngx_http_social_feed_cache_init_process(ngx_cycle_t *cycle,
    ngx_http_social_main_conf_t *smcf);
void ngx_http_social_feed_cache_exit_process(void);
void ngx_http_social_feed_changed(void);
void ngx_http_social_feed_forget(ngx_http_social_ctx_t *ctx,
    ngx_http_social_forget_t *f, ngx_http_social_step_pt next);
ngx_uint_t ngx_http_social_feed_ids(const char *array, const char **argv,
    size_t *lens);

/* ngx_http_social_cache.c */
ngx_int_t ngx_http_social_cache_evict_endpoint(ngx_http_social_ctx_t *ctx);

/* ngx_http_social_errors.c */
ngx_int_t ngx_http_social_errors(ngx_http_social_ctx_t *ctx);
void ngx_http_social_errors_forget(ngx_http_social_ctx_t *ctx,
    int64_t user_id);
ngx_int_t ngx_http_social_errors_view(ngx_http_social_ctx_t *ctx,
    int64_t user_id, ngx_http_social_redis_handler_pt handler);
ngx_int_t ngx_http_social_errors_cut(ngx_http_social_ctx_t *ctx,
    ngx_http_social_redis_handler_pt handler);
ngx_int_t ngx_http_social_errors_rows(ngx_http_social_ctx_t *ctx,
    ngx_str_t *batch, ngx_uint_t from, ngx_uint_t to,
    ngx_http_social_redis_handler_pt handler);
ngx_int_t ngx_http_social_errors_ack(ngx_http_social_ctx_t *ctx,
    ngx_str_t *batch, ngx_http_social_redis_handler_pt handler);
void ngx_http_social_errors_failed(ngx_http_social_ctx_t *ctx,
    ngx_str_t *batch);
ngx_int_t ngx_http_social_errors_hold(ngx_http_social_ctx_t *ctx,
    ngx_str_t *batch, const char *why,
    ngx_http_social_redis_handler_pt handler);

/* ngx_http_social_errors_check.c */
const char *ngx_http_social_errors_row_check(u_char *row, size_t len);
const char *ngx_http_social_errors_spelling_check(u_char *spelling,
    size_t len);

/* ngx_http_social_flush.c */
ngx_int_t ngx_http_social_flush_init_process(ngx_cycle_t *cycle,
    ngx_http_social_main_conf_t *smcf);
void ngx_http_social_flush_exit_process(void);

/* ngx_http_social_exercises.c */
ngx_int_t ngx_http_social_exercises(ngx_http_social_ctx_t *ctx);

/* ---- the end of the two stores ---- */


#endif /* _NGX_HTTP_SOCIAL_MODULE_H_INCLUDED_ */
