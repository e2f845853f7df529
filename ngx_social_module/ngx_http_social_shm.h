
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The module's shared memory zone (one per nginx, made when the
 * configuration is read): the generations that the response cache's keys
 * carry, the count of cached answers, and the counters of /metrics.  It is
 * written without locks: atomics, as stub_status does, and a slot per
 * worker process (claimed by its pid, so that the workers of a reload and
 * those they replace never share one) for the gauges that only it knows.
 * A driver: it knows nothing of HTTP; the request layer and the endpoints
 * read and write it through ngx_http_social_shm.
 */


#ifndef _NGX_HTTP_SOCIAL_SHM_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_SHM_H_INCLUDED_


#include "ngx_http_social_module.h"


/*
 * users' generations: a slot each, by the id's hash (a collision only
 * makes an extra miss)
 */
#define NGX_HTTP_SOCIAL_GENS           65536

/* the cached answers counted by the second they expire in */
#define NGX_HTTP_SOCIAL_EXPIRY_RING    4096

/* what is cached: group answers, feed pages */
#define NGX_HTTP_SOCIAL_CACHED_GROUP   1
#define NGX_HTTP_SOCIAL_CACHED_FEED    2

/*
 * the labels of /metrics, fixed here: endpoints (the module's table, then
 * "other"), statuses, latency buckets, cache statuses
 */
#define NGX_HTTP_SOCIAL_M_ENDPOINTS    32
#define NGX_HTTP_SOCIAL_M_STATUSES     22
#define NGX_HTTP_SOCIAL_M_BUCKETS      14
#define NGX_HTTP_SOCIAL_M_CACHE        8
#define NGX_HTTP_SOCIAL_M_WORKERS      64


typedef struct {
    ngx_atomic_t                    expiry;     /* second, absolute */
    ngx_atomic_t                    count;
} ngx_http_social_expiry_t;


/* the gauges of one worker process, in the slot its pid claimed */

typedef struct {
    ngx_atomic_t                    pid;        /* 0: a free slot */
    ngx_atomic_t                    pg_size;    /* connections open */
    ngx_atomic_t                    pg_busy;
    ngx_atomic_t                    pg_waiting;
    ngx_atomic_t                    redis_up;
    ngx_atomic_t                    hash_queued;
} ngx_http_social_worker_stats_t;


/* the counters every worker adds to */

typedef struct {
    ngx_atomic_t                    pg_wait_timeouts;
    ngx_atomic_t                    pg_errors;
    ngx_atomic_t                    redis_errors;
    ngx_atomic_t                    redis_timeouts;
    ngx_atomic_t                    hash_refused;
    ngx_atomic_t                    write_batches;
    ngx_atomic_t                    writes;
    ngx_atomic_t                    read_batches;
    ngx_atomic_t                    reads;
} ngx_http_social_counters_t;


typedef struct {
    ngx_atomic_t                    requests[NGX_HTTP_SOCIAL_M_ENDPOINTS]
                                            [NGX_HTTP_SOCIAL_M_STATUSES];
    ngx_atomic_t                    latency[NGX_HTTP_SOCIAL_M_ENDPOINTS]
                                           [NGX_HTTP_SOCIAL_M_BUCKETS];
    ngx_atomic_t                    latency_us[NGX_HTTP_SOCIAL_M_ENDPOINTS];
    ngx_atomic_t                    cache[NGX_HTTP_SOCIAL_M_ENDPOINTS]
                                         [NGX_HTTP_SOCIAL_M_CACHE];
    ngx_atomic_t                    limited[NGX_HTTP_SOCIAL_M_ENDPOINTS];

    ngx_atomic_t                    flush_time;       /* unix seconds */
    ngx_atomic_t                    flush_duration;   /* ms */
    ngx_atomic_t                    flush_rows;
    ngx_atomic_t                    flushes;
    ngx_atomic_t                    trim_time;
    ngx_atomic_t                    trims;

    ngx_http_social_counters_t      counters;
    ngx_http_social_worker_stats_t  workers[NGX_HTTP_SOCIAL_M_WORKERS];
} ngx_http_social_stats_t;


typedef struct {
    /*
     * when the zone was made: in every key, so that a restart, which
     * forgets the generations, never meets an entry of before
     */
    ngx_atomic_t                    epoch;

    ngx_atomic_t                    groups_gen;   /* moved by evictions */
    ngx_atomic_t                    feed_gen;
    ngx_atomic_t                    gens[NGX_HTTP_SOCIAL_GENS];

    ngx_http_social_expiry_t        stored[2][NGX_HTTP_SOCIAL_EXPIRY_RING];

    ngx_http_social_stats_t         stats;
} ngx_http_social_shm_t;


/* NULL until the zone is mapped (and in a process without it) */
extern ngx_http_social_shm_t           *ngx_http_social_shm;
extern ngx_http_social_worker_stats_t  *ngx_http_social_worker_stats;


ngx_int_t ngx_http_social_shm_add(ngx_conf_t *cf);
void ngx_http_social_shm_init_process(ngx_cycle_t *cycle);
void ngx_http_social_shm_exit_process(void);
ngx_uint_t ngx_http_social_shm_alive(ngx_http_social_worker_stats_t *ws);
ngx_atomic_uint_t ngx_http_social_shm_gen(int64_t user_id);
void ngx_http_social_shm_bump(int64_t user_id);
void ngx_http_social_shm_stored(ngx_uint_t what, time_t ttl);
ngx_atomic_uint_t ngx_http_social_shm_evict(ngx_uint_t what);
void ngx_http_social_shm_flushed(ngx_uint_t rows, ngx_msec_t duration);
void ngx_http_social_shm_trimmed(void);

/* a counter, and a gauge of this worker's, while the zone is there */
#define ngx_http_social_stat_add(field, n)                                    \
    do {                                                                      \
        if (ngx_http_social_worker_stats) {                                   \
            (void) ngx_atomic_fetch_add(                                      \
                          &ngx_http_social_shm->stats.counters.field,         \
                          (ngx_atomic_int_t) (n));                            \
        }                                                                     \
    } while (0)

#define ngx_http_social_stat_set(field, v)                                    \
    do {                                                                      \
        if (ngx_http_social_worker_stats) {                                   \
            ngx_http_social_worker_stats->field = (ngx_atomic_uint_t) (v);    \
        }                                                                     \
    } while (0)


#endif /* _NGX_HTTP_SOCIAL_SHM_H_INCLUDED_ */
