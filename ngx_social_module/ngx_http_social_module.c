
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The module: its directives, its configuration, the table of endpoints,
 * and the wiring of a worker's start and exit (the only calls from here
 * down into the drivers and up into the endpoints).
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_batch.h"
#include "ngx_http_social_reads.h"
#include "ngx_http_social_exercise_bank.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_revoke.h"
#include "ngx_http_social_password.h"
#include "ngx_http_social_feed_cache.h"
#include "ngx_http_social_counts.h"
#include "ngx_http_social_points.h"
#include "ngx_http_social_request.h"
#include "ngx_http_social_endpoints.h"
#include "ngx_http_social_debug.h"
#include "ngx_http_social_access.h"
#include "ngx_http_social_util.h"


static ngx_int_t ngx_http_social_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_social_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_social_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_social_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_social_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_social_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_social_endpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_social_check_bounds(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_social_check_feed_valid(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_social_check_group_valid(ngx_conf_t *cf, void *post,
    void *data);
static ngx_int_t ngx_http_social_init_process(ngx_cycle_t *cycle);
static void ngx_http_social_exit_process(ngx_cycle_t *cycle);


static ngx_conf_num_bounds_t  ngx_http_social_feed_cache_bounds = {
    ngx_http_social_check_bounds, 1, 100000
};

static ngx_conf_num_bounds_t  ngx_http_social_pool_bounds = {
    ngx_http_social_check_bounds, 1, 1024
};

static ngx_conf_num_bounds_t  ngx_http_social_password_queue_bounds = {
    ngx_http_social_check_bounds, 1, 1024
};

static ngx_conf_num_bounds_t  ngx_http_social_password_threads_bounds = {
    ngx_http_social_check_bounds, 1, 512
};

static ngx_conf_num_bounds_t  ngx_http_social_queue_bounds = {
    ngx_http_social_check_bounds, 0, 65536
};

static ngx_conf_num_bounds_t  ngx_http_social_cost_bounds = {
    ngx_http_social_check_bounds, 4, 22
};

static ngx_conf_post_t  ngx_http_social_feed_valid_post = {
    ngx_http_social_check_feed_valid
};

static ngx_conf_post_t  ngx_http_social_group_valid_post = {
    ngx_http_social_check_group_valid
};

static ngx_conf_num_bounds_t  ngx_http_social_group_bounds = {
    ngx_http_social_check_bounds, 1, 1000000
};


ngx_http_social_endpoint_t  ngx_http_social_endpoints[] = {

    { ngx_string("health"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_http_social_health, 0, 0 },

    { ngx_string("error"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_http_social_error_endpoint, 0, 0 },

    { ngx_string("signup"), NGX_HTTP_POST,
      ngx_http_social_signup, NGX_HTTP_SOCIAL_SIGNS, 0 },

    { ngx_string("signin"), NGX_HTTP_POST,
      ngx_http_social_signin, NGX_HTTP_SOCIAL_SIGNS, 0 },

    { ngx_string("signout"), NGX_HTTP_POST,
      ngx_http_social_signout, NGX_HTTP_SOCIAL_AUTH, 0 },

    { ngx_string("group"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_http_social_group, NGX_HTTP_SOCIAL_AUTH,
      NGX_HTTP_SOCIAL_CACHED_GROUP },

    { ngx_string("user"), NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_PUT
                          |NGX_HTTP_DELETE,
      ngx_http_social_user, NGX_HTTP_SOCIAL_AUTH|NGX_HTTP_SOCIAL_USER_PATH, 0 },

    { ngx_string("user_role"), NGX_HTTP_PUT,
      ngx_http_social_user_role,
      NGX_HTTP_SOCIAL_AUTH|NGX_HTTP_SOCIAL_USER_PATH, 0 },

    { ngx_string("posts"), NGX_HTTP_POST,
      ngx_http_social_posts, NGX_HTTP_SOCIAL_AUTH, 0 },

    { ngx_string("post"), NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_DELETE,
      ngx_http_social_post, NGX_HTTP_SOCIAL_AUTH, 0 },

    { ngx_string("like"), NGX_HTTP_PUT|NGX_HTTP_DELETE,
      ngx_http_social_like, NGX_HTTP_SOCIAL_AUTH, 0 },

    { ngx_string("follow"), NGX_HTTP_PUT|NGX_HTTP_DELETE,
      ngx_http_social_follow,
      NGX_HTTP_SOCIAL_AUTH|NGX_HTTP_SOCIAL_USER_PATH, 0 },

    { ngx_string("block"), NGX_HTTP_PUT|NGX_HTTP_DELETE,
      ngx_http_social_block,
      NGX_HTTP_SOCIAL_AUTH|NGX_HTTP_SOCIAL_USER_PATH, 0 },

    { ngx_string("cache_evict"), NGX_HTTP_POST,
      ngx_http_social_evict, NGX_HTTP_SOCIAL_AUTH, 0 },

    { ngx_string("feed"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_http_social_feed, NGX_HTTP_SOCIAL_AUTH,
      NGX_HTTP_SOCIAL_CACHED_FEED },

    { ngx_string("user_posts"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_http_social_user_posts, NGX_HTTP_SOCIAL_AUTH, 0 },

    { ngx_string("user_followers"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_http_social_user_followers, NGX_HTTP_SOCIAL_AUTH, 0 },

    { ngx_string("user_following"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_http_social_user_following, NGX_HTTP_SOCIAL_AUTH, 0 },

    { ngx_string("conversations"), NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_POST,
      ngx_http_social_conversations, NGX_HTTP_SOCIAL_AUTH, 0 },

    { ngx_string("conversation_utterances"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_http_social_conversation_utterances, NGX_HTTP_SOCIAL_AUTH, 0 },

    { ngx_string("utterances"), NGX_HTTP_POST,
      ngx_http_social_utterances, NGX_HTTP_SOCIAL_AUTH, 0 },

    { ngx_string("errors"), NGX_HTTP_POST,
      ngx_http_social_points, NGX_HTTP_SOCIAL_AUTH, 0 },

    { ngx_string("exercises"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_http_social_exercises, NGX_HTTP_SOCIAL_AUTH, 0 },

    { ngx_string("metrics"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_http_social_metrics, 0, 0 },

    { ngx_null_string, 0, NULL, 0, 0 }
};


/* the tables "social_endpoint" looks in: the test build adds its own */

static ngx_http_social_endpoint_t  *ngx_http_social_endpoint_tables[] = {
    ngx_http_social_endpoints,
#if (NGX_HTTP_SOCIAL_TEST)
    ngx_http_social_debug_endpoints,
#endif
    NULL
};


static ngx_command_t  ngx_http_social_commands[] = {

    { ngx_string("social_postgres"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_social_conf_postgres,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("social_postgres_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_social_main_conf_t, pg_pool_size),
      &ngx_http_social_pool_bounds },

    { ngx_string("social_postgres_queue"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_social_main_conf_t, pg_queue_size),
      &ngx_http_social_queue_bounds },

    { ngx_string("social_postgres_queue_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_social_main_conf_t, pg_queue_timeout),
      NULL },

    { ngx_string("social_postgres_connect_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_social_main_conf_t, pg_connect_timeout),
      NULL },

    { ngx_string("social_postgres_query_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_social_main_conf_t, pg_query_timeout),
      NULL },

    { ngx_string("social_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_social_conf_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("social_redis_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_social_main_conf_t, redis_timeout),
      NULL },

    { ngx_string("social_jwt_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_social_conf_jwt_key_file,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("social_token_lifetime"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_social_main_conf_t, token_lifetime),
      NULL },

    { ngx_string("social_password_cost"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_social_main_conf_t, password_cost),
      &ngx_http_social_cost_bounds },

    { ngx_string("social_password_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_social_main_conf_t, thread_pool_name),
      NULL },

    { ngx_string("social_password_queue"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_social_main_conf_t, password_queue),
      &ngx_http_social_password_queue_bounds },

    { ngx_string("social_password_threads"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_social_main_conf_t, password_threads),
      &ngx_http_social_password_threads_bounds },

    { ngx_string("social_signin_deadline"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_social_main_conf_t, signin_deadline),
      NULL },

    { ngx_string("social_signin_throttle"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_social_conf_signin_throttle,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("social_group_threshold"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_social_conf_threshold,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("social_group_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_social_main_conf_t, group_max_size),
      &ngx_http_social_group_bounds },

    { ngx_string("social_flush_interval"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_social_main_conf_t, flush_interval),
      NULL },

    { ngx_string("social_feed_cache_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_social_main_conf_t, feed_cache_size),
      &ngx_http_social_feed_cache_bounds },

    { ngx_string("social_object_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_social_main_conf_t, object_ttl),
      NULL },

    { ngx_string("social_trim_interval"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_social_main_conf_t, trim_interval),
      NULL },

    { ngx_string("social_counts_interval"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_social_main_conf_t, counts_interval),
      NULL },

    { ngx_string("social_group_cache_valid"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_social_main_conf_t, group_cache_valid),
      &ngx_http_social_group_valid_post },

    { ngx_string("social_feed_cache_valid"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_social_main_conf_t, feed_cache_valid),
      &ngx_http_social_feed_valid_post },

    { ngx_string("social_access"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_social_access,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("social_internal"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_social_loc_conf_t, internal),
      NULL },

    /* accepted and ignored: only the test build has those endpoints */

    { ngx_string("social_debug_endpoints"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_social_main_conf_t, debug_endpoints),
      NULL },

    { ngx_string("social_endpoint"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_social_endpoint,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_social_module_ctx = {
    ngx_http_social_preconfiguration,      /* preconfiguration */
    ngx_http_social_postconfiguration,     /* postconfiguration */

    ngx_http_social_create_main_conf,      /* create main configuration */
    ngx_http_social_init_main_conf,        /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_social_create_loc_conf,       /* create location configuration */
    ngx_http_social_merge_loc_conf         /* merge location configuration */
};


ngx_module_t  ngx_http_social_module = {
    NGX_MODULE_V1,
    &ngx_http_social_module_ctx,           /* module context */
    ngx_http_social_commands,              /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_social_init_process,          /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_social_exit_process,          /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_social_preconfiguration(ngx_conf_t *cf)
{
    if (ngx_http_social_access_variables(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_social_cache_variables(cf);
}


static ngx_int_t
ngx_http_social_postconfiguration(ngx_conf_t *cf)
{
    if (ngx_http_social_shm_add(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_social_access_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_social_metrics_init(cf);
}


static void *
ngx_http_social_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_social_main_conf_t  *smcf;

    smcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_social_main_conf_t));
    if (smcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     smcf->pg_conninfo = { 0, NULL };
     *     smcf->redis_addr = { 0, NULL };
     *     smcf->redis_host = { 0, NULL };
     *     smcf->redis_port = 0;
     *     smcf->redis_unix = 0;
     */

    smcf->pg_pool_size = NGX_CONF_UNSET_UINT;
    smcf->pg_queue_size = NGX_CONF_UNSET_UINT;
    smcf->pg_connect_timeout = NGX_CONF_UNSET_MSEC;
    smcf->pg_query_timeout = NGX_CONF_UNSET_MSEC;
    smcf->pg_queue_timeout = NGX_CONF_UNSET_MSEC;
    smcf->redis_timeout = NGX_CONF_UNSET_MSEC;
    smcf->token_lifetime = NGX_CONF_UNSET;
    smcf->password_cost = NGX_CONF_UNSET_UINT;
    smcf->password_queue = NGX_CONF_UNSET_UINT;
    smcf->password_threads = NGX_CONF_UNSET_UINT;
    smcf->signin_deadline = NGX_CONF_UNSET_MSEC;
    smcf->signin_free = NGX_CONF_UNSET_UINT;
    smcf->signin_window = NGX_CONF_UNSET_MSEC;
    smcf->signin_max_delay = NGX_CONF_UNSET_MSEC;
    smcf->group_max_size = NGX_CONF_UNSET_UINT;
    smcf->feed_cache_size = NGX_CONF_UNSET_UINT;
    smcf->object_ttl = NGX_CONF_UNSET_MSEC;
    smcf->trim_interval = NGX_CONF_UNSET_MSEC;
    smcf->flush_interval = NGX_CONF_UNSET_MSEC;
    smcf->counts_interval = NGX_CONF_UNSET_MSEC;
    smcf->group_cache_valid = NGX_CONF_UNSET;
    smcf->feed_cache_valid = NGX_CONF_UNSET;
    smcf->debug_endpoints = NGX_CONF_UNSET;

    return smcf;
}


static char *
ngx_http_social_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_social_main_conf_t  *smcf = conf;

    ngx_conf_init_uint_value(smcf->pg_pool_size, 4);
    ngx_conf_init_uint_value(smcf->pg_queue_size, 256);
    ngx_conf_init_msec_value(smcf->pg_connect_timeout, 3000);
    ngx_conf_init_msec_value(smcf->pg_query_timeout, 10000);
    ngx_conf_init_msec_value(smcf->pg_queue_timeout, 3000);
    ngx_conf_init_msec_value(smcf->redis_timeout, 3000);
    ngx_conf_init_value(smcf->token_lifetime, 3600);
    ngx_conf_init_value(smcf->debug_endpoints, 0);

    /* OWASP: scrypt with N = 2^17, r = 8, p = 1 */
    ngx_conf_init_uint_value(smcf->password_cost, 17);

    /*
     * at most 8 requests wait for a hash in a worker (a few seconds), 1
     * hash runs: the thread of the shipped pool, 128 MiB
     */
    ngx_conf_init_uint_value(smcf->password_queue, 8);
    ngx_conf_init_uint_value(smcf->password_threads, 1);

    /* a failed signin answers 1 s after it came, whatever the reason */
    ngx_conf_init_msec_value(smcf->signin_deadline, 1000);

    /* 5 failures in 15 min are free, then 0.5 s, 1 s ... up to 8 s */
    ngx_conf_init_uint_value(smcf->signin_free, 5);
    ngx_conf_init_msec_value(smcf->signin_window, 900000);
    ngx_conf_init_msec_value(smcf->signin_max_delay, 8000);

    ngx_conf_init_uint_value(smcf->group_max_size, 100);
    ngx_conf_init_msec_value(smcf->flush_interval, 600000);

    ngx_conf_init_uint_value(smcf->feed_cache_size, 1000);
    ngx_conf_init_msec_value(smcf->object_ttl, 3600000);
    ngx_conf_init_msec_value(smcf->trim_interval, 2000);

    /* the users' counts compacted every second (0: never) */
    ngx_conf_init_msec_value(smcf->counts_interval, 1000);

    /* the response cache's TTLs (the production configuration) */
    ngx_conf_init_value(smcf->group_cache_valid, 60);
    ngx_conf_init_value(smcf->feed_cache_valid, 2);

    if (smcf->group_threshold.len == 0) {
        ngx_str_set(&smcf->group_threshold, "0.5");
    }

    if (smcf->thread_pool_name.len == 0) {
        ngx_str_set(&smcf->thread_pool_name, "default");
    }

    if (smcf->uses_tokens) {
        if (smcf->jwt_key.len == 0) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "the social endpoints that issue or check tokens "
                          "need \"social_jwt_key_file\"");
            return NGX_CONF_ERROR;
        }

        /* passwords are hashed there, off the event loop */

        smcf->thread_pool = ngx_thread_pool_add(cf, &smcf->thread_pool_name);
        if (smcf->thread_pool == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_social_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_social_loc_conf_t  *slcf;

    slcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_social_loc_conf_t));
    if (slcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     slcf->endpoint = NULL;
     *     slcf->access = NULL;
     *     slcf->metric = 0;
     */

    slcf->internal = NGX_CONF_UNSET;

    return slcf;
}


static char *
ngx_http_social_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_social_loc_conf_t  *prev = parent;
    ngx_http_social_loc_conf_t  *conf = child;

    /* an endpoint is never inherited: it names exactly one location */

    ngx_conf_merge_value(conf->internal, prev->internal, 0);

    return NGX_CONF_OK;
}


static char *
ngx_http_social_endpoint(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_social_loc_conf_t  *slcf = conf;

    ngx_str_t                    *value;
    ngx_http_core_loc_conf_t     *clcf;
    ngx_http_social_endpoint_t   *ep;
    ngx_http_social_main_conf_t  *smcf;

    if (slcf->endpoint) {
        return "is duplicate";
    }

    if (slcf->access) {
        return "cannot be used with \"social_access\" in one location";
    }

    value = cf->args->elts;

    ep = ngx_http_social_endpoint_find(&value[1]);

    if (ep == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown endpoint \"%V\" in \"social_endpoint\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }


    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_social_module);

    slcf->endpoint = ep;
    slcf->metric = ngx_http_social_metrics_label(ep);

    if (ep->flags & (NGX_HTTP_SOCIAL_AUTH|NGX_HTTP_SOCIAL_SIGNS)) {
        smcf->uses_tokens = 1;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_social_handler;

    return NGX_CONF_OK;
}


/* an endpoint of the tables by its name, or NULL */

ngx_http_social_endpoint_t *
ngx_http_social_endpoint_find(ngx_str_t *name)
{
    ngx_http_social_endpoint_t  *ep, **table;

    for (table = ngx_http_social_endpoint_tables; *table; table++) {
        for (ep = *table; ep->name.len; ep++) {
            if (ep->name.len == name->len
                && ngx_strncmp(ep->name.data, name->data, name->len) == 0)
            {
                return ep;
            }
        }
    }

    return NULL;
}


/* as ngx_conf_check_num_bounds(), with the directive named */

static char *
ngx_http_social_check_bounds(ngx_conf_t *cf, void *post, void *data)
{
    ngx_conf_num_bounds_t  *bounds = post;
    ngx_int_t              *np = data;

    ngx_str_t  *value;

    if (*np >= bounds->low && *np <= bounds->high) {
        return NGX_CONF_OK;
    }

    value = cf->args->elts;

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" must be between %i and %i, not \"%V\"",
                       &value[0], bounds->low, bounds->high, &value[1]);

    return NGX_CONF_ERROR;
}


/*
 * social_feed_cache_valid: at most 2 s, the API's bound for a deleted
 * post to leave every cached answer
 */

static char *
ngx_http_social_check_feed_valid(ngx_conf_t *cf, void *post, void *data)
{
    time_t  *tp = data;

    if (*tp <= 2) {
        return NGX_CONF_OK;
    }

    return "must be at most 2s: a deleted post leaves every cached feed "
           "within 2 s";
}


/* social_group_cache_valid: at most 1 h (the evictions count by second) */

static char *
ngx_http_social_check_group_valid(ngx_conf_t *cf, void *post, void *data)
{
    time_t  *tp = data;

    if (*tp <= 3600) {
        return NGX_CONF_OK;
    }

    return "must be at most 1h";
}


static ngx_int_t
ngx_http_social_init_process(ngx_cycle_t *cycle)
{
    ngx_http_social_main_conf_t  *smcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    smcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_social_module);
    if (smcf == NULL) {
        return NGX_OK;
    }

    ngx_http_social_metrics_init_process(cycle);
    ngx_http_social_random_init_process();

    if (ngx_http_social_pg_init_process(cycle, smcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_social_redis_init_process(cycle, smcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_social_feed_cache_init_process(cycle, smcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_social_flush_init_process(cycle, smcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_social_counts_init_process(cycle, smcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_social_revoke_init_process(cycle, smcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_social_password_init_process(cycle, smcf) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_social_exit_process(ngx_cycle_t *cycle)
{
    /* first: what the process closes as it goes is not counted */
    ngx_http_social_metrics_exit_process();

    ngx_http_social_feed_cache_exit_process();
    ngx_http_social_flush_exit_process();
    ngx_http_social_counts_exit_process();
    ngx_http_social_revoke_exit_process();
    ngx_http_social_batch_exit_process();
    ngx_http_social_reads_exit_process();
    ngx_http_social_point_joint_exit_process();
    ngx_http_social_bank_exit_process();
    ngx_http_social_pg_exit_process();
    ngx_http_social_redis_exit_process();
}
