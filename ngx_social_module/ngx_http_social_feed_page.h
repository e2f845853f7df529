
/*
 * Copyright (C) ngx_social developers
 */


/*
 * A page of GET /feed from the recent set's reply (_feed_page.c): its
 * events split once and checked, the page written from them, and their ids
 * for PostgreSQL when the page cannot come from Redis alone (_feed.c).
 */


#ifndef _NGX_HTTP_SOCIAL_FEED_PAGE_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_FEED_PAGE_H_INCLUDED_


#include "ngx_http_social_module.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_feed_cache.h"


/*
 * an event of the reply: its member's fields, its cached objects; they
 * point into the reply, so the events are used only while it lives (in
 * the script's handler)
 */

typedef struct {
    ngx_str_t                       field[NGX_HTTP_SOCIAL_FEED_MEMBER_FIELDS];
    redisReply                     *post;     /* "": not cached, or none */
    redisReply                     *actor;
    redisReply                     *target;
} ngx_http_social_feed_event_t;


ngx_int_t ngx_http_social_feed_events(ngx_pool_t *pool, redisReply **el,
    ngx_uint_t n, ngx_http_social_feed_event_t **events, ngx_uint_t *bad);
ngx_uint_t ngx_http_social_feed_missing(ngx_http_social_feed_event_t *ev,
    ngx_uint_t n);
ngx_int_t ngx_http_social_feed_page(ngx_pool_t *pool,
    ngx_http_social_feed_event_t *ev, ngx_uint_t n, ngx_str_t *cursor,
    ngx_str_t *body);
u_char *ngx_http_social_feed_ids(ngx_pool_t *pool,
    ngx_http_social_feed_event_t *ev, ngx_uint_t n);


#endif /* _NGX_HTTP_SOCIAL_FEED_PAGE_H_INCLUDED_ */
