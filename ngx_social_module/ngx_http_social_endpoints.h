
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The endpoints: the table's entry (module.c holds the table), every
 * handler, and what endpoints share with each other.  The stores behind
 * them have their own headers: _feed_cache.h (the feed), _points.h (the
 * error points).
 */


#ifndef _NGX_HTTP_SOCIAL_ENDPOINTS_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_ENDPOINTS_H_INCLUDED_


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_shm.h"


/* the endpoint's flags */
#define NGX_HTTP_SOCIAL_AUTH      0x01    /* the reader's token is checked */
#define NGX_HTTP_SOCIAL_SIGNS     0x02    /* it issues tokens */
#define NGX_HTTP_SOCIAL_USER_PATH 0x04    /* the path's id is a user */


/* an endpoint's start: NGX_DONE while its backends work, or the status */
typedef ngx_int_t (*ngx_http_social_handler_pt)(ngx_http_social_ctx_t *ctx);


struct ngx_http_social_endpoint_s {
    ngx_str_t                       name;
    ngx_uint_t                      methods;
    ngx_http_social_handler_pt      handler;
    ngx_uint_t                      flags;
    ngx_uint_t                      cached;     /* NGX_HTTP_SOCIAL_CACHED_* */
};


/* ngx_http_social_module.c: the table, and an endpoint by its name */
extern ngx_http_social_endpoint_t  ngx_http_social_endpoints[];

ngx_http_social_endpoint_t *ngx_http_social_endpoint_find(ngx_str_t *name);


/* ngx_http_social_health.c */
ngx_int_t ngx_http_social_health(ngx_http_social_ctx_t *ctx);

/* ngx_http_social_reply.c */
ngx_int_t ngx_http_social_error_endpoint(ngx_http_social_ctx_t *ctx);

/* ngx_http_social_signin.c */
ngx_int_t ngx_http_social_signin(ngx_http_social_ctx_t *ctx);

/* ngx_http_social_signup.c */
ngx_int_t ngx_http_social_signup(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_signout(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_check_username(ngx_http_social_ctx_t *ctx,
    ngx_str_t *v);
ngx_int_t ngx_http_social_check_email(ngx_http_social_ctx_t *ctx,
    ngx_str_t *v);
ngx_int_t ngx_http_social_conflict(ngx_http_social_ctx_t *ctx,
    PGresult *res);

/* ngx_http_social_groups.c */
ngx_int_t ngx_http_social_group(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_attributes(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *v, ngx_str_t *pg_array, ngx_array_t **list);
void ngx_http_social_attributes_json(yajl_gen g, ngx_array_t *list);

/* ngx_http_social_users.c */
ngx_int_t ngx_http_social_user(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_user_role(ngx_http_social_ctx_t *ctx);

/* ngx_http_social_posts.c */
ngx_int_t ngx_http_social_posts(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_post(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_like(ngx_http_social_ctx_t *ctx);
void ngx_http_social_post_json(yajl_gen g, PGresult *res, int row, int col,
    ngx_uint_t mine);

/* ngx_http_social_feed.c */
ngx_int_t ngx_http_social_feed(ngx_http_social_ctx_t *ctx);

/* ngx_http_social_evict.c */
ngx_int_t ngx_http_social_evict(ngx_http_social_ctx_t *ctx);

/* ngx_http_social_follows.c */
ngx_int_t ngx_http_social_follow(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_block(ngx_http_social_ctx_t *ctx);

/* ngx_http_social_lists.c */
ngx_int_t ngx_http_social_user_posts(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_user_followers(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_user_following(ngx_http_social_ctx_t *ctx);
void ngx_http_social_user_ref_json(yajl_gen g, PGresult *res, int row,
    int col);

/* ngx_http_social_learning.c */
ngx_int_t ngx_http_social_conversations(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_conversation_utterances(ngx_http_social_ctx_t *ctx);
ngx_int_t ngx_http_social_utterances(ngx_http_social_ctx_t *ctx);

/* ngx_http_social_points.c */
ngx_int_t ngx_http_social_points(ngx_http_social_ctx_t *ctx);

/* ngx_http_social_metrics.c */
ngx_int_t ngx_http_social_metrics(ngx_http_social_ctx_t *ctx);
void ngx_http_social_metrics_init_process(ngx_cycle_t *cycle);
void ngx_http_social_metrics_exit_process(void);

/* ngx_http_social_exercises.c */
ngx_int_t ngx_http_social_exercises(ngx_http_social_ctx_t *ctx);



#endif /* _NGX_HTTP_SOCIAL_ENDPOINTS_H_INCLUDED_ */
