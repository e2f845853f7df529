
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The counters of /metrics and GET /metrics itself (Prometheus text
 * exposition 0.0.4).  Every request of the public server is counted in its
 * log phase, HITs of the response cache too, under the endpoint of the
 * first location it met (kept across error_page's redirect, so that a 429
 * or a 404 is its own location's): its status, its time, its cache status,
 * and its 429 (by endpoint: a location of the shipped configuration has
 * one limit zone, README says which).  The internal server
 * ("social_internal on") is not counted: its requests are the public
 * server's misses.  The labels are fixed: the module's endpoints, "other",
 * the statuses below; no label is ever made of what a client sent.  Each
 * worker also writes the gauges of its pool once a second; the scrape sums
 * the workers and asks Redis how many error points wait.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_shm.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_keys.h"
#include "ngx_http_social_request.h"
#include "ngx_http_social_endpoints.h"
#include "ngx_http_social_access.h"


#define NGX_HTTP_SOCIAL_METRICS_GAUGES  1000    /* ms between updates */


typedef struct {
    int64_t                         waiting;
    int64_t                         aside;
    unsigned                        redis:1;    /* they are known */
} ngx_http_social_metrics_t;


static ngx_int_t ngx_http_social_metrics_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_social_metrics_first(ngx_http_request_t *r);
static ngx_int_t ngx_http_social_metrics_log(ngx_http_request_t *r);
static ngx_uint_t ngx_http_social_metrics_status(ngx_uint_t status);
static void ngx_http_social_metrics_points(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static ngx_int_t ngx_http_social_metrics_send(ngx_http_social_ctx_t *ctx);
static u_char *ngx_http_social_metrics_requests(u_char *p, u_char *last,
    ngx_http_social_stats_t *st);
static u_char *ngx_http_social_metrics_latency(u_char *p, u_char *last,
    ngx_http_social_stats_t *st);
static u_char *ngx_http_social_metrics_backends(u_char *p, u_char *last,
    ngx_http_social_stats_t *st, ngx_http_social_metrics_t *m);
static void ngx_http_social_metrics_gauges(ngx_event_t *ev);


static ngx_uint_t  ngx_http_social_metrics_statuses[] = {
    200, 201, 204, 304, 400, 401, 403, 404, 405, 408, 409, 413, 414, 415,
    422, 429, 499, 500, 502, 503, 504, 0
};

/* the upper bounds of the latency buckets, in microseconds; then +Inf */
static ngx_uint_t  ngx_http_social_metrics_bounds[] = {
    1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000
};

static const char  *ngx_http_social_metrics_le[] = {
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
    "0.5", "1", "2.5", "5", "10", "+Inf"
};

/* by nginx's NGX_HTTP_CACHE_* (1 MISS .. 7 HIT); 0: not looked up */
static const char  *ngx_http_social_metrics_cache[] = {
    "NONE", "MISS", "BYPASS", "EXPIRED", "STALE", "UPDATING", "REVALIDATED",
    "HIT"
};


static ngx_http_social_script_t  ngx_http_social_metrics_script = {
    /* the rows pending and in the open batch; the rows of held batches */
    "local w = redis.call('LLEN', '" NGX_HTTP_SOCIAL_KEY_POINT_ROWS "') "
    "local o = redis.call('GET', '" NGX_HTTP_SOCIAL_KEY_POINT_OPEN "') "
    "if o then w = w + redis.call('LLEN', '" NGX_HTTP_SOCIAL_KEY_POINT_BATCH
                                          "' .. o .. ':rows') end "
    "local h = 0 "
    "for _, n in ipairs(redis.call('HKEYS', '"
                                    NGX_HTTP_SOCIAL_KEY_POINT_HELD "')) do "
    "  h = h + redis.call('LLEN', '" NGX_HTTP_SOCIAL_KEY_POINT_HELD
                                  ":' .. n .. ':rows') "
    "end "
    "return {w, h}",
    "", NULL, ""
};


static ngx_event_t  ngx_http_social_metrics_timer;


/* the label of an endpoint: its place in the module's table, 0 "other" */

ngx_uint_t
ngx_http_social_metrics_label(ngx_http_social_endpoint_t *ep)
{
    ngx_uint_t  n;

    if (ep < ngx_http_social_endpoints) {
        return 0;
    }

    n = ep - ngx_http_social_endpoints;

    if (n + 1 >= NGX_HTTP_SOCIAL_M_ENDPOINTS
        || ngx_http_social_endpoints[n].name.len == 0
        || &ngx_http_social_endpoints[n] != ep)
    {
        return 0;
    }

    return n + 1;
}


ngx_int_t
ngx_http_social_metrics_init(ngx_conf_t *cf)
{
    ngx_str_t                     name = ngx_string("social_metric_first");
    ngx_http_handler_pt          *h;
    ngx_http_variable_t          *var;
    ngx_http_core_main_conf_t    *cmcf;
    ngx_http_social_main_conf_t  *smcf;

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_social_module);

    /* where the request was first: a variable, as redirects keep them */

    var = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_NOHASH);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_social_metrics_variable;

    smcf->metrics_index = ngx_http_get_variable_index(cf, &name);
    if (smcf->metrics_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_REWRITE_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_social_metrics_first;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_social_metrics_log;

    return NGX_OK;
}


/* read before the rewrite phase set it: nothing (it is not for configs) */

static ngx_int_t
ngx_http_social_metrics_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    v->not_found = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_social_metrics_first(ngx_http_request_t *r)
{
    ngx_http_variable_value_t    *v;
    ngx_http_social_main_conf_t  *smcf;

    smcf = ngx_http_get_module_main_conf(r, ngx_http_social_module);
    v = &r->variables[smcf->metrics_index];

    if (!v->valid && r == r->main) {
        v->data = (u_char *) ngx_http_get_module_loc_conf(r,
                                                      ngx_http_social_module);
        v->len = 0;
        v->valid = 1;
        v->not_found = 1;
        v->no_cacheable = 0;
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_social_metrics_log(ngx_http_request_t *r)
{
    ngx_uint_t                    label, status, b, cache;
    ngx_time_t                   *tp;
    ngx_msec_int_t                ms;
    ngx_http_social_stats_t      *st;
    ngx_http_variable_value_t    *v;
    ngx_http_social_loc_conf_t   *slcf, *first;
    ngx_http_social_main_conf_t  *smcf;

    if (ngx_http_social_shm == NULL || r != r->main) {
        return NGX_OK;
    }

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_social_module);

    if (slcf->internal == 1) {
        return NGX_OK;
    }

    smcf = ngx_http_get_module_main_conf(r, ngx_http_social_module);
    v = &r->variables[smcf->metrics_index];

    first = v->valid ? (ngx_http_social_loc_conf_t *) v->data : slcf;

    if (first->internal == 1) {
        return NGX_OK;
    }

    st = &ngx_http_social_shm->stats;
    label = first->metric;

    status = r->err_status ? r->err_status : r->headers_out.status;

    if (r->connection->error && status == 0) {
        status = NGX_HTTP_CLIENT_CLOSED_REQUEST;
    }

    (void) ngx_atomic_fetch_add(
                &st->requests[label][ngx_http_social_metrics_status(status)],
                1);

    if (status == NGX_HTTP_TOO_MANY_REQUESTS) {
        (void) ngx_atomic_fetch_add(&st->limited[label], 1);
    }

    tp = ngx_timeofday();
    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));
    ms = ngx_max(ms, 0);

    for (b = 0; b < NGX_HTTP_SOCIAL_M_BUCKETS - 1; b++) {
        if ((ngx_uint_t) ms * 1000 <= ngx_http_social_metrics_bounds[b]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&st->latency[label][b], 1);
    (void) ngx_atomic_fetch_add(&st->latency_us[label],
                                (ngx_atomic_int_t) ms * 1000);

    if (first->access && first->access->cached) {
        cache = (r->upstream && r->upstream->cache_status
                 < NGX_HTTP_SOCIAL_M_CACHE)
                ? r->upstream->cache_status : 0;

        (void) ngx_atomic_fetch_add(&st->cache[label][cache], 1);
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_http_social_metrics_status(ngx_uint_t status)
{
    ngx_uint_t  i;

    for (i = 0; ngx_http_social_metrics_statuses[i]; i++) {
        if (ngx_http_social_metrics_statuses[i] == status) {
            return i;
        }
    }

    return i;   /* "other" */
}


/* GET /metrics: Redis is asked for the error points, then the text */

ngx_int_t
ngx_http_social_metrics(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_metrics_t  *m;

    m = ngx_pcalloc(ctx->pool, sizeof(ngx_http_social_metrics_t));
    if (m == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->data = m;

    if (ngx_http_social_shm == NULL) {
        return ngx_http_social_unavailable(ctx, "The metrics zone");
    }

    if (ctx->smcf->redis_addr.len == 0
        || ngx_http_social_redis_script(ctx, ngx_http_social_metrics_points,
                                        &ngx_http_social_metrics_script, 1,
                                        (const char *[]) { "0" },
                                        (size_t[]) { 1 })
           != NGX_OK)
    {
        return ngx_http_social_metrics_send(ctx);
    }

    return NGX_DONE;
}


static void
ngx_http_social_metrics_points(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    ngx_http_social_metrics_t  *m = ctx->data;

    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2
        && reply->element[0]->type == REDIS_REPLY_INTEGER
        && reply->element[1]->type == REDIS_REPLY_INTEGER)
    {
        m->waiting = reply->element[0]->integer;
        m->aside = reply->element[1]->integer;
        m->redis = 1;
    }

    ngx_http_social_done(ctx, ngx_http_social_metrics_send(ctx));
}


static ngx_int_t
ngx_http_social_metrics_send(ngx_http_social_ctx_t *ctx)
{
    u_char                   *p;
    size_t                    size;
    ngx_int_t                 rc;
    ngx_buf_t                *b;
    ngx_chain_t               out;
    ngx_http_request_t       *r;
    ngx_http_social_stats_t  *st;

    r = ctx->request;
    st = &ngx_http_social_shm->stats;

    /*
     * a line is at most 160 bytes; the most lines each family has (the
     * writers stop at the buffer's end all the same)
     */

    size = 160 * (NGX_HTTP_SOCIAL_M_ENDPOINTS
                  * (NGX_HTTP_SOCIAL_M_STATUSES + NGX_HTTP_SOCIAL_M_BUCKETS
                     + NGX_HTTP_SOCIAL_M_CACHE + 4)
                  + 96);

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_http_social_metrics_requests(b->pos, b->end, st);
    p = ngx_http_social_metrics_latency(p, b->end, st);
    p = ngx_http_social_metrics_backends(p, b->end, st, ctx->data);

    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


#define ngx_http_social_metrics_name(l)                                       \
    ((l) ? (char *) ngx_http_social_endpoints[(l) - 1].name.data : "other")


static u_char *
ngx_http_social_metrics_requests(u_char *p, u_char *last,
    ngx_http_social_stats_t *st)
{
    ngx_uint_t         l, s, c;
    ngx_atomic_uint_t  n;

    p = ngx_slprintf(p, last,
            "# HELP social_http_requests_total Requests of the public "
            "server, by endpoint and status.\n"
            "# TYPE social_http_requests_total counter\n");

    for (l = 0; l < NGX_HTTP_SOCIAL_M_ENDPOINTS; l++) {
        for (s = 0; s < NGX_HTTP_SOCIAL_M_STATUSES; s++) {
            n = st->requests[l][s];

            if (n == 0) {
                continue;
            }

            if (ngx_http_social_metrics_statuses[s]) {
                p = ngx_slprintf(p, last,
                                 "social_http_requests_total{endpoint=\"%s\","
                                 "status=\"%ui\"} %uA\n",
                                 ngx_http_social_metrics_name(l),
                                 ngx_http_social_metrics_statuses[s], n);

            } else {
                p = ngx_slprintf(p, last,
                                 "social_http_requests_total{endpoint=\"%s\","
                                 "status=\"other\"} %uA\n",
                                 ngx_http_social_metrics_name(l), n);
            }
        }
    }

    p = ngx_slprintf(p, last,
            "# HELP social_http_cache_total Answers of the cached "
            "locations, by endpoint and cache status (NONE: answered before "
            "the cache, by the token check).\n"
            "# TYPE social_http_cache_total counter\n");

    for (l = 0; l < NGX_HTTP_SOCIAL_M_ENDPOINTS; l++) {
        for (c = 0; c < NGX_HTTP_SOCIAL_M_CACHE; c++) {
            n = st->cache[l][c];

            if (n) {
                p = ngx_slprintf(p, last,
                                 "social_http_cache_total{endpoint=\"%s\","
                                 "cache=\"%s\"} %uA\n",
                                 ngx_http_social_metrics_name(l),
                                 ngx_http_social_metrics_cache[c], n);
            }
        }
    }

    p = ngx_slprintf(p, last,
            "# HELP social_http_rate_limited_total Requests refused by a "
            "limit (429), by the endpoint of their location (one zone "
            "each in the shipped configuration).\n"
            "# TYPE social_http_rate_limited_total counter\n");

    for (l = 0; l < NGX_HTTP_SOCIAL_M_ENDPOINTS; l++) {
        n = st->limited[l];

        if (n) {
            p = ngx_slprintf(p, last, "social_http_rate_limited_total"
                             "{endpoint=\"%s\"} "
                             "%uA\n", ngx_http_social_metrics_name(l), n);
        }
    }

    return p;
}


static u_char *
ngx_http_social_metrics_latency(u_char *p, u_char *last,
    ngx_http_social_stats_t *st)
{
    ngx_uint_t         l, b;
    ngx_atomic_uint_t  n, sum;

    p = ngx_slprintf(p, last,
            "# HELP social_http_request_duration_seconds Time to answer a "
            "request of the public server, by endpoint.\n"
            "# TYPE social_http_request_duration_seconds histogram\n");

    for (l = 0; l < NGX_HTTP_SOCIAL_M_ENDPOINTS; l++) {
        sum = 0;

        for (b = 0; b < NGX_HTTP_SOCIAL_M_BUCKETS; b++) {
            sum += st->latency[l][b];
        }

        if (sum == 0) {
            continue;
        }

        n = 0;

        for (b = 0; b < NGX_HTTP_SOCIAL_M_BUCKETS; b++) {
            n += st->latency[l][b];
            p = ngx_slprintf(p, last,
                             "social_http_request_duration_seconds_bucket"
                             "{endpoint=\"%s\",le=\"%s\"} %uA\n",
                             ngx_http_social_metrics_name(l),
                             ngx_http_social_metrics_le[b], n);
        }

        p = ngx_slprintf(p, last, "social_http_request_duration_seconds_sum"
                         "{endpoint=\"%s\"} %uA.%06uA\n"
                         "social_http_request_duration_seconds_count"
                         "{endpoint=\"%s\"} %uA\n",
                         ngx_http_social_metrics_name(l),
                         st->latency_us[l] / 1000000,
                         st->latency_us[l] % 1000000,
                         ngx_http_social_metrics_name(l), n);
    }

    return p;
}


#define ngx_http_social_metrics_one(p, name, type, help, v)                   \
    ngx_slprintf(p, last, "# HELP " name " " help "\n# TYPE " name " "       \
                 type "\n" name " %uA\n", (ngx_atomic_uint_t) (v))


static u_char *
ngx_http_social_metrics_backends(u_char *p, u_char *last,
    ngx_http_social_stats_t *st, ngx_http_social_metrics_t *m)
{
    ngx_uint_t                       i;
    ngx_http_social_worker_stats_t   sum, *w;

    ngx_memzero(&sum, sizeof(ngx_http_social_worker_stats_t));

    for (i = 0; i < NGX_HTTP_SOCIAL_M_WORKERS; i++) {
        w = &st->workers[i];

        if (!ngx_http_social_shm_alive(w)) {
            continue;
        }

        sum.pg_size += w->pg_size;
        sum.pg_busy += w->pg_busy;
        sum.pg_waiting += w->pg_waiting;
        sum.redis_up += w->redis_up;
        sum.hash_queued += w->hash_queued;
    }

    p = ngx_http_social_metrics_one(p, "social_postgres_pool_size", "gauge",
            "PostgreSQL connections open, all workers.", sum.pg_size);
    p = ngx_http_social_metrics_one(p, "social_postgres_pool_busy", "gauge",
            "PostgreSQL connections running a statement or a transaction.",
            sum.pg_busy);
    p = ngx_http_social_metrics_one(p, "social_postgres_pool_waiting",
            "gauge", "Statements waiting for a PostgreSQL connection.",
            sum.pg_waiting);
    p = ngx_http_social_metrics_one(p, "social_postgres_wait_timeouts_total",
            "counter", "Statements that waited past the queue timeout.",
            st->counters.pg_wait_timeouts);
    p = ngx_http_social_metrics_one(p, "social_postgres_errors_total",
            "counter", "PostgreSQL connections lost or refused.",
            st->counters.pg_errors);
    p = ngx_http_social_metrics_one(p, "social_write_batches_total",
            "counter", "Batches of writes sent to PostgreSQL.",
            st->counters.write_batches);
    p = ngx_http_social_metrics_one(p, "social_writes_total", "counter",
            "Writes sent in batches, each time it was sent.",
            st->counters.writes);
    p = ngx_http_social_metrics_one(p, "social_read_batches_total",
            "counter", "Statements of reads that went together.",
            st->counters.read_batches);
    p = ngx_http_social_metrics_one(p, "social_reads_total", "counter",
            "Reads sent in those statements.",
            st->counters.reads);
    p = ngx_http_social_metrics_one(p, "social_redis_connected", "gauge",
            "Workers connected to Redis.", sum.redis_up);
    p = ngx_http_social_metrics_one(p, "social_redis_errors_total",
            "counter", "Redis connections lost or refused.",
            st->counters.redis_errors);
    p = ngx_http_social_metrics_one(p, "social_redis_timeouts_total",
            "counter", "Redis commands that timed out.",
            st->counters.redis_timeouts);
    p = ngx_http_social_metrics_one(p, "social_password_hashes_queued",
            "gauge", "Password hashes waiting for a thread.",
            sum.hash_queued);
    p = ngx_http_social_metrics_one(p, "social_password_hashes_refused_total",
            "counter", "Requests refused a password hash (503).",
            st->counters.hash_refused);

    if (m->redis) {
        p = ngx_http_social_metrics_one(p, "social_error_points_waiting",
                "gauge", "Error points in Redis waiting for the flush.",
                m->waiting);
        p = ngx_http_social_metrics_one(p, "social_error_points_set_aside",
                "gauge", "Error points of batches held for the operator.",
                m->aside);
    }

    p = ngx_http_social_metrics_one(p, "social_flush_last_time_seconds",
            "gauge", "When the last flush applied a batch (unix time).",
            st->flush_time);
    p = ngx_slprintf(p, last,
                     "# HELP social_flush_last_duration_seconds How long "
                     "the last flush took.\n"
                     "# TYPE social_flush_last_duration_seconds gauge\n"
                     "social_flush_last_duration_seconds %uA.%03uA\n",
                     st->flush_duration / 1000, st->flush_duration % 1000);
    p = ngx_http_social_metrics_one(p, "social_flush_last_rows", "gauge",
            "Error points in the last flushed batch.", st->flush_rows);
    p = ngx_http_social_metrics_one(p, "social_flushes_total", "counter",
            "Batches flushed.", st->flushes);
    p = ngx_http_social_metrics_one(p, "social_trim_last_time_seconds",
            "gauge", "When the feed's trim job last ran (unix time).",
            st->trim_time);
    p = ngx_http_social_metrics_one(p, "social_trims_total", "counter",
            "Runs of the feed's trim job.", st->trims);

    return p;
}


/* each worker's gauges of its PostgreSQL pool, once a second */

void
ngx_http_social_metrics_init_process(ngx_cycle_t *cycle)
{
    ngx_event_t  *ev;

    ngx_http_social_shm_init_process(cycle);

    if (ngx_http_social_worker_stats == NULL) {
        return;
    }

    ev = &ngx_http_social_metrics_timer;

    ev->handler = ngx_http_social_metrics_gauges;
    ev->log = cycle->log;
    ev->data = ev;      /* the debug log reads it as a connection */
    ev->cancelable = 1;

    ngx_add_timer(ev, NGX_HTTP_SOCIAL_METRICS_GAUGES);
}


static void
ngx_http_social_metrics_gauges(ngx_event_t *ev)
{
    ngx_http_social_pg_gauges();

    if (!ngx_exiting) {
        ngx_add_timer(ev, NGX_HTTP_SOCIAL_METRICS_GAUGES);
    }
}


void
ngx_http_social_metrics_exit_process(void)
{
    if (ngx_http_social_metrics_timer.timer_set) {
        ngx_del_timer(&ngx_http_social_metrics_timer);
    }

    ngx_http_social_shm_exit_process();
}
