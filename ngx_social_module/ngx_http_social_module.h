
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
    ngx_uint_t                      password_queue;    /* per worker */
    ngx_uint_t                      password_threads;  /* per worker */

    ngx_msec_t                      signin_deadline;
    ngx_uint_t                      signin_free;    /* failures, unslowed */
    ngx_msec_t                      signin_window;
    ngx_msec_t                      signin_max_delay;

    ngx_str_t                       group_threshold;  /* "0.5" */
    ngx_uint_t                      group_max_size;

    ngx_uint_t                      feed_cache_size;
    ngx_msec_t                      object_ttl;
    ngx_msec_t                      trim_interval;
    ngx_msec_t                      flush_interval;
    ngx_msec_t                      counts_interval;

    time_t                          group_cache_valid;  /* X-Accel-Expires */
    time_t                          feed_cache_valid;

    ngx_shm_zone_t                 *shm_zone;       /* _shm.c */
    ngx_int_t                       metrics_index;  /* _metrics.c */

    ngx_flag_t                      debug_endpoints;
    ngx_uint_t                      uses_tokens;    /* unsigned:1 */
} ngx_http_social_main_conf_t;


typedef struct {
    ngx_http_social_endpoint_t     *endpoint;   /* social_endpoint */
    ngx_http_social_endpoint_t     *access;     /* social_access */
    ngx_flag_t                      internal;   /* social_internal */
    ngx_uint_t                      metric;     /* the label, 0 "other" */
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
char *ngx_http_social_conf_signin_throttle(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);


/*
 * SQL: whether users a and b (SQL expressions) are in a block either way,
 * written out: social_blocked(), a SQL function with a subquery, is never
 * inlined by PostgreSQL, and a call of it costs about 30 us a row
 */

#define NGX_HTTP_SOCIAL_SQL_BLOCKED(a, b)                                    \
    "EXISTS (SELECT 1 FROM blocks "                                          \
    "         WHERE (blocker_id = " a " AND blocked_id = " b ") "            \
    "            OR (blocker_id = " b " AND blocked_id = " a ")) "


#endif /* _NGX_HTTP_SOCIAL_MODULE_H_INCLUDED_ */
