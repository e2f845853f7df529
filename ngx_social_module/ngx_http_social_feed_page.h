
/*
 * Copyright (C) ngx_social developers
 */


/*
 * A page of GET /feed from the recent set (_feed_page.c): the function's
 * events split once and checked, the keys of their objects for the
 * worker's MGET and its answer taken, the page written from them, and
 * their ids for PostgreSQL when the page cannot come from Redis alone
 * (_feed.c).
 */


#ifndef _NGX_HTTP_SOCIAL_FEED_PAGE_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_FEED_PAGE_H_INCLUDED_


#include "ngx_http_social_module.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_feed_cache.h"
#include "ngx_http_social_argv.h"


/*
 * an event: its member's fields (copied into the pool), its cached
 * objects (empty: not cached, or none); the objects point into the MGET's
 * reply, so they are used only in its handler
 */

typedef struct {
    ngx_str_t                       field[NGX_HTTP_SOCIAL_FEED_MEMBER_FIELDS];
    ngx_str_t                       post;
    ngx_str_t                       actor;
    ngx_str_t                       target;
    unsigned                        has_post:1;
    unsigned                        has_target:1;
} ngx_http_social_feed_event_t;


ngx_int_t ngx_http_social_feed_events(ngx_pool_t *pool, redisReply **el,
    ngx_uint_t n, ngx_http_social_feed_event_t **events, ngx_uint_t *bad);
ngx_int_t ngx_http_social_feed_object_keys(ngx_pool_t *pool,
    ngx_http_social_feed_event_t *ev, ngx_uint_t n,
    ngx_http_social_argv_t *a);
ngx_int_t ngx_http_social_feed_objects(ngx_http_social_feed_event_t *ev,
    ngx_uint_t n, redisReply *reply);
ngx_uint_t ngx_http_social_feed_missing(ngx_http_social_feed_event_t *ev,
    ngx_uint_t n);
ngx_int_t ngx_http_social_feed_page(ngx_pool_t *pool,
    ngx_http_social_feed_event_t *ev, ngx_uint_t n, ngx_str_t *cursor,
    ngx_str_t *body);
u_char *ngx_http_social_feed_ids(ngx_pool_t *pool,
    ngx_http_social_feed_event_t *ev, ngx_uint_t n);


#endif /* _NGX_HTTP_SOCIAL_FEED_PAGE_H_INCLUDED_ */
