
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The module's shared memory zone: made once when the configuration is
 * read, kept across reloads (same name and size), mapped in every worker.
 * What it holds is in _shm.h; what writes it: the users' generations by
 * the request layer, the cached answers by the internal server, the
 * counters by every layer.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_shm.h"


static ngx_int_t ngx_http_social_shm_init_zone(ngx_shm_zone_t *zone,
    void *data);
static ngx_atomic_t *ngx_http_social_shm_slot(int64_t user_id);


ngx_http_social_shm_t           *ngx_http_social_shm;
ngx_http_social_worker_stats_t  *ngx_http_social_worker_stats;


/* the zone, in the main configuration (a failed reload frees it) */

ngx_int_t
ngx_http_social_shm_add(ngx_conf_t *cf)
{
    size_t                        size;
    ngx_str_t                     name = ngx_string("ngx_social");
    ngx_http_social_main_conf_t  *smcf;

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_social_module);

    /* the struct, and the slab allocator's own pages around it */

    size = ngx_align(sizeof(ngx_http_social_shm_t), ngx_pagesize)
           + 16 * ngx_pagesize;

    smcf->shm_zone = ngx_shared_memory_add(cf, &name, size,
                                           &ngx_http_social_module);
    if (smcf->shm_zone == NULL) {
        return NGX_ERROR;
    }

    smcf->shm_zone->init = ngx_http_social_shm_init_zone;

    return NGX_OK;
}


static ngx_int_t
ngx_http_social_shm_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_slab_pool_t        *shpool;
    ngx_http_social_shm_t  *shm;

    if (data) {
        /* a reload: the generations and the counters go on */
        zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        zone->data = shpool->data;
        return NGX_OK;
    }

    shm = ngx_slab_calloc(shpool, sizeof(ngx_http_social_shm_t));
    if (shm == NULL) {
        return NGX_ERROR;
    }

    /* seconds, and what tells two starts within one second apart */

    shm->epoch = (ngx_atomic_uint_t) ngx_time() * 1000000
                 + (ngx_atomic_uint_t) (ngx_pid % 1000) * 1000
                 + (ngx_atomic_uint_t) (ngx_random() % 1000);

    shpool->data = shm;
    zone->data = shm;

    return NGX_OK;
}


void
ngx_http_social_shm_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                       i;
    ngx_atomic_uint_t                pid;
    ngx_http_social_worker_stats_t  *ws;
    ngx_http_social_main_conf_t     *smcf;

    smcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_social_module);

    if (smcf == NULL || smcf->shm_zone == NULL
        || smcf->shm_zone->data == NULL)
    {
        return;
    }

    ngx_http_social_shm = smcf->shm_zone->data;

    /*
     * a slot of its own for this process's gauges: a free one, or one
     * whose process is gone (it died without its exit)
     */

    for (i = 0; i < NGX_HTTP_SOCIAL_M_WORKERS; i++) {
        ws = &ngx_http_social_shm->stats.workers[i];
        pid = ws->pid;

        if ((pid == 0 || !ngx_http_social_shm_alive(ws))
            && ngx_atomic_cmp_set(&ws->pid, pid, (ngx_atomic_uint_t) ngx_pid))
        {
            ws->pg_size = 0;
            ws->pg_busy = 0;
            ws->pg_waiting = 0;
            ws->redis_up = 0;
            ws->hash_queued = 0;

            ngx_http_social_worker_stats = ws;
            return;
        }
    }
}


/* the process goes: its slot is free, and nothing it closes is counted */

void
ngx_http_social_shm_exit_process(void)
{
    ngx_http_social_worker_stats_t  *ws;

    ws = ngx_http_social_worker_stats;

    if (ws == NULL) {
        return;
    }

    ngx_http_social_worker_stats = NULL;

    ws->pg_size = 0;
    ws->pg_busy = 0;
    ws->pg_waiting = 0;
    ws->redis_up = 0;
    ws->hash_queued = 0;
    ws->pid = 0;
}


/* whether the process of a slot still runs */

ngx_uint_t
ngx_http_social_shm_alive(ngx_http_social_worker_stats_t *ws)
{
    ngx_pid_t  pid;

    pid = (ngx_pid_t) ws->pid;

    if (pid == 0) {
        return 0;
    }

    return (kill(pid, 0) == 0 || ngx_errno != NGX_ESRCH);
}


static ngx_atomic_t *
ngx_http_social_shm_slot(int64_t user_id)
{
    uint64_t  h;

    h = (uint64_t) user_id * 0x9e3779b97f4a7c15ULL;

    return &ngx_http_social_shm->gens[h >> 48];
}


ngx_atomic_uint_t
ngx_http_social_shm_gen(int64_t user_id)
{
    if (ngx_http_social_shm == NULL) {
        return 0;
    }

    return *ngx_http_social_shm_slot(user_id);
}


void
ngx_http_social_shm_bump(int64_t user_id)
{
    if (ngx_http_social_shm == NULL || user_id <= 0) {
        return;
    }

    (void) ngx_atomic_fetch_add(ngx_http_social_shm_slot(user_id), 1);
}


/* an answer the cache keeps ttl seconds, counted for an eviction */

void
ngx_http_social_shm_stored(ngx_uint_t what, time_t ttl)
{
    ngx_atomic_uint_t          expiry, old;
    ngx_http_social_expiry_t  *e;

    if (ngx_http_social_shm == NULL || ttl <= 0) {
        return;
    }

    expiry = (ngx_atomic_uint_t) (ngx_time() + ttl);
    e = &ngx_http_social_shm->stored[what - 1]
                                    [expiry % NGX_HTTP_SOCIAL_EXPIRY_RING];

    old = e->expiry;

    if (old != expiry && ngx_atomic_cmp_set(&e->expiry, old, expiry)) {
        e->count = 0;
    }

    (void) ngx_atomic_fetch_add(&e->count, 1);
}


/*
 * the cached answers of one kind invalidated: the kind's generation moves
 * on (it is in their keys), and the answers still fresh are counted
 */

ngx_atomic_uint_t
ngx_http_social_shm_evict(ngx_uint_t what)
{
    ngx_uint_t                 i;
    ngx_atomic_t              *gen;
    ngx_atomic_uint_t          n, now, count;
    ngx_http_social_expiry_t  *e;

    if (ngx_http_social_shm == NULL) {
        return 0;
    }

    gen = (what == NGX_HTTP_SOCIAL_CACHED_GROUP)
          ? &ngx_http_social_shm->groups_gen : &ngx_http_social_shm->feed_gen;

    (void) ngx_atomic_fetch_add(gen, 1);

    now = (ngx_atomic_uint_t) ngx_time();
    e = ngx_http_social_shm->stored[what - 1];
    n = 0;

    for (i = 0; i < NGX_HTTP_SOCIAL_EXPIRY_RING; i++) {
        if (e[i].expiry <= now) {
            continue;
        }

        do {
            count = e[i].count;
        } while (!ngx_atomic_cmp_set(&e[i].count, count, 0));

        n += count;
    }

    return n;
}


/* the flush applied a batch of rows: when, how long, how many */

void
ngx_http_social_shm_flushed(ngx_uint_t rows, ngx_msec_t duration)
{
    ngx_http_social_stats_t  *st;

    if (ngx_http_social_shm == NULL) {
        return;
    }

    st = &ngx_http_social_shm->stats;

    st->flush_time = (ngx_atomic_uint_t) ngx_time();
    st->flush_duration = (ngx_atomic_uint_t) duration;
    st->flush_rows = (ngx_atomic_uint_t) rows;
    (void) ngx_atomic_fetch_add(&st->flushes, 1);
}


void
ngx_http_social_shm_trimmed(void)
{
    if (ngx_http_social_shm == NULL) {
        return;
    }

    ngx_http_social_shm->stats.trim_time = (ngx_atomic_uint_t) ngx_time();
    (void) ngx_atomic_fetch_add(&ngx_http_social_shm->stats.trims, 1);
}
