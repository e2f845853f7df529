
/*
 * Copyright (C) ngx_social developers
 */


/*
 * What the drivers share at the bottom: the nginx connection around a
 * library's socket, the wait between connects, the worker's exit, random
 * bytes for ids.
 * Nothing here knows a request or a backend.  Digits read as a number
 * (atoi64, parse_id) are _args.h's, pure.
 */


#ifndef _NGX_HTTP_SOCIAL_UTIL_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_UTIL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>


/* the worker is leaving: a graceful shutdown, a quit or a terminate */
#define ngx_http_social_exiting()  (ngx_exiting || ngx_quit || ngx_terminate)


/*
 * the wait before a new connect while connects fail, msec: doubling from
 * MIN to MAX, so a server that is down sees at most two connects a second
 * from each worker, and one that is back is used within half a second
 */
#define NGX_HTTP_SOCIAL_BACKOFF_MIN  100
#define NGX_HTTP_SOCIAL_BACKOFF_MAX  500


typedef struct {
    ngx_msec_t                      wait;       /* 0: connects succeed */
    ngx_msec_t                      retry_at;
} ngx_http_social_backoff_t;


void ngx_http_social_connection_release(ngx_connection_t *c);

void ngx_http_social_backoff_failed(ngx_http_social_backoff_t *b);
void ngx_http_social_backoff_reset(ngx_http_social_backoff_t *b);
ngx_uint_t ngx_http_social_backoff_waiting(ngx_http_social_backoff_t *b);

ngx_int_t ngx_http_social_random(u_char *buf, size_t n);
void ngx_http_social_random_init_process(void);


#endif /* _NGX_HTTP_SOCIAL_UTIL_H_INCLUDED_ */
