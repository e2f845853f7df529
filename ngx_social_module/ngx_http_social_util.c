
/*
 * Copyright (C) ngx_social developers
 */


#include "ngx_http_social_util.h"

#include <openssl/rand.h>


/*
 * the worker's random bytes for ids, drawn from RAND_bytes() this many at
 * a time: each call of it asks the kernel for the pid (OpenSSL's check
 * for a fork), a system call an id otherwise
 */
#define NGX_HTTP_SOCIAL_RANDOM_POOL  4096


static u_char  ngx_http_social_random_pool[NGX_HTTP_SOCIAL_RANDOM_POOL];
static size_t  ngx_http_social_random_left;


/*
 * an nginx connection around a socket that a library (libpq, hiredis)
 * owns: the events leave it without a system call (the library closes the
 * socket right after, and the kernel forgets it then), nothing posted or
 * timed stays behind, and the socket itself is not closed here
 */

void
ngx_http_social_connection_release(ngx_connection_t *c)
{
    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
    }

    c->fd = (ngx_socket_t) -1;
    ngx_free_connection(c);
}


/* a connect failed, or a connection was lost: the next waits longer */

void
ngx_http_social_backoff_failed(ngx_http_social_backoff_t *b)
{
    b->wait = b->wait ? ngx_min(b->wait * 2, NGX_HTTP_SOCIAL_BACKOFF_MAX)
                      : NGX_HTTP_SOCIAL_BACKOFF_MIN;
    b->retry_at = ngx_current_msec + b->wait;
}


/* a connect succeeded: the next one, when needed, goes at once */

void
ngx_http_social_backoff_reset(ngx_http_social_backoff_t *b)
{
    b->wait = 0;
    b->retry_at = 0;
}


/* is it too early for another connect */

ngx_uint_t
ngx_http_social_backoff_waiting(ngx_http_social_backoff_t *b)
{
    return ngx_current_msec < b->retry_at;
}


/*
 * n random bytes, for ids that must not repeat (not for keys or secrets,
 * which call RAND_bytes() themselves): the same generator's bytes, taken in
 * order from the worker's pool, each byte once
 */

ngx_int_t
ngx_http_social_random(u_char *buf, size_t n)
{
    u_char  *p;

    if (n > NGX_HTTP_SOCIAL_RANDOM_POOL / 4) {
        return RAND_bytes(buf, (int) n) == 1 ? NGX_OK : NGX_ERROR;
    }

    if (n > ngx_http_social_random_left) {
        /* a refill that fails leaves nothing to take */
        ngx_http_social_random_left = 0;

        if (RAND_bytes(ngx_http_social_random_pool,
                       NGX_HTTP_SOCIAL_RANDOM_POOL)
            != 1)
        {
            return NGX_ERROR;
        }

        ngx_http_social_random_left = NGX_HTTP_SOCIAL_RANDOM_POOL;
    }

    p = ngx_http_social_random_pool
        + NGX_HTTP_SOCIAL_RANDOM_POOL - ngx_http_social_random_left;

    ngx_memcpy(buf, p, n);

    ngx_http_social_random_left -= n;

    return NGX_OK;
}


/* a worker starts with an empty pool: no two processes share its bytes */

void
ngx_http_social_random_init_process(void)
{
    ngx_http_social_random_left = 0;
}
