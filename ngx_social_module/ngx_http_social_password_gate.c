
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The gate of password hashing, one per worker.
 *
 * A request that will need a hash is admitted first, before it looks its
 * user up, and is counted as waiting until its turn comes.  At most
 * social_password_queue requests wait.  When the gate is full, the newest
 * waiting request of another address is pushed out (503 with
 * Retry-After), and the newcomer takes its place:
 *
 *   - of the address with the most waiting, if it has at least two more
 *     than the newcomer's: so one address can take the whole gate when it
 *     is alone, and a place does not change hands between equals;
 *   - else, when the newcomer's address is not greedy, of the greedy
 *     address with the most waiting (at least one more than the
 *     newcomer's): an address that asks for more than its share gives way
 *     to one that does not, however many addresses flood the gate.
 *
 * Otherwise the newcomer is refused at once.  An address is greedy for
 * NGX_HTTP_SOCIAL_GATE_LATELY ms from when it was first refused, pushed
 * out, or had two requests in the gate at once; the worker remembers
 * NGX_HTTP_SOCIAL_GATE_SEEN greedy addresses, and when more are, an
 * address it does not know counts as greedy too.
 *
 * Turns: at most social_password_threads hashes run at once (the threads
 * of the pool: the pool's own queue stays empty).  The next turn goes to
 * the first new address with a request queued (an address that had
 * nothing in the gate and is not greedy), else to the next old one in
 * turn; an address that had its turn goes to the end of the old
 * ones (new flows first, as in FQ-CoDel).  A client that asks once waits
 * for the hashes that run and the new addresses before it, then its own,
 * however many requests a flood keeps waiting.
 *
 * A request that goes away leaves the gate: a queued hash of a gone client
 * is never computed.  A hash that runs finishes, and its turn ends from the
 * thread's completion (ngx_http_social_gate_end()), whoever is left.
 *
 * A hold is a turn without a hash: it keeps its place for the time a hash
 * takes (a moving average), on a timer, not a core.  A failed signin that
 * needs no hash (an unknown user, a wrong generated password) holds, so
 * that it waits as a wrong chosen password does.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_request.h"
#include "ngx_http_social_password_gate.h"
#include "ngx_http_social_shm.h"


#define NGX_HTTP_SOCIAL_GATE_ADMITTED  0    /* waiting; looks its user up */
#define NGX_HTTP_SOCIAL_GATE_QUEUED    1    /* waiting for its turn */
#define NGX_HTTP_SOCIAL_GATE_RUNNING   2    /* has its turn */
#define NGX_HTTP_SOCIAL_GATE_IDLE      3    /* between two hashes */
#define NGX_HTTP_SOCIAL_GATE_PUSHED    4    /* pushed out: answers 503 */

#define NGX_HTTP_SOCIAL_GATE_KEY_LEN   16

/* the most a Retry-After says, in seconds */
#define NGX_HTTP_SOCIAL_GATE_RETRY_MAX 60

/* how long an address stays greedy */
#define NGX_HTTP_SOCIAL_GATE_LATELY    30000

/* the greedy addresses that a worker remembers */
#define NGX_HTTP_SOCIAL_GATE_SEEN      1024


/* a client address with requests in the gate */

typedef struct {
    ngx_queue_t                     list;       /* in the new or old list */
    ngx_queue_t                     waiting;    /* its gates, oldest first */
    ngx_uint_t                      n;          /* waiting */
    ngx_uint_t                      running;
    ngx_msec_t                      greedy;     /* since, or 0 */
    ngx_uint_t                      old;        /* unsigned:1 */
    size_t                          len;
    u_char                          key[NGX_HTTP_SOCIAL_GATE_KEY_LEN];
} ngx_http_social_gate_addr_t;


/* a greedy address */

typedef struct {
    ngx_msec_t                      greedy;
    size_t                          len;
    u_char                          key[NGX_HTTP_SOCIAL_GATE_KEY_LEN];
} ngx_http_social_gate_seen_t;


struct ngx_http_social_gate_s {
    ngx_http_social_op_t            op;         /* in the request's task */
    ngx_queue_t                     link;       /* in addr->waiting */
    ngx_http_social_gate_addr_t    *addr;       /* waiting or running */
    ngx_http_social_gate_pt         turn;
    void                           *data;
    ngx_event_t                     ev;         /* turn, hold's time, push */
    ngx_uint_t                      state;
    size_t                          len;
    u_char                          key[NGX_HTTP_SOCIAL_GATE_KEY_LEN];

    unsigned                        hold:1;
    unsigned                        delivered:1;  /* turn() was called */
};


static ngx_int_t ngx_http_social_gate_count(ngx_http_social_gate_t *g);
static void ngx_http_social_gate_uncount(ngx_http_social_gate_t *g);
static void ngx_http_social_gate_stop(ngx_http_social_gate_t *g);
static void ngx_http_social_gate_release(ngx_http_social_gate_addr_t *addr);
static ngx_http_social_gate_addr_t *ngx_http_social_gate_find(u_char *key,
    size_t len);
static ngx_http_social_gate_addr_t *ngx_http_social_gate_heaviest(
    ngx_http_social_gate_addr_t *except, ngx_uint_t min, ngx_uint_t greedy);
static ngx_msec_t ngx_http_social_gate_greedy_at(u_char *key, size_t len);
static void ngx_http_social_gate_greedy(u_char *key, size_t len,
    ngx_http_social_gate_addr_t *addr);
static ngx_uint_t ngx_http_social_gate_lately(ngx_msec_t greedy);
static void ngx_http_social_gate_push(ngx_http_social_gate_t *g);
static void ngx_http_social_gate_dispatch(void);
static ngx_http_social_gate_t *ngx_http_social_gate_next(ngx_queue_t *list);
static void ngx_http_social_gate_turn(ngx_event_t *ev);
static void ngx_http_social_gate_held(ngx_event_t *ev);
static void ngx_http_social_gate_pushed(ngx_event_t *ev);
static void ngx_http_social_gate_call(ngx_http_social_gate_t *g,
    ngx_int_t rc);
static void ngx_http_social_gate_detach(ngx_http_social_op_t *op);
static void ngx_http_social_gate_free(ngx_http_social_gate_t *g);
static size_t ngx_http_social_gate_key(ngx_connection_t *c, u_char *key);


/*
 * The gate of this worker.  An address enters the list of new addresses
 * (at its tail) and moves to the tail of the old ones at each turn; it
 * stays while it has a request waiting or running, so that a client that
 * keeps asking stays old.
 */

static ngx_queue_t  ngx_http_social_gate_new = {
    &ngx_http_social_gate_new, &ngx_http_social_gate_new
};

static ngx_queue_t  ngx_http_social_gate_old = {
    &ngx_http_social_gate_old, &ngx_http_social_gate_old
};

static ngx_uint_t   ngx_http_social_gate_waiting;    /* admitted, queued */
static ngx_uint_t   ngx_http_social_gate_queued;
static ngx_uint_t   ngx_http_social_gate_running;
static ngx_msec_t   ngx_http_social_gate_estimate;   /* of one hash */

static ngx_http_social_gate_seen_t  ngx_http_social_gate_seen[
                                        NGX_HTTP_SOCIAL_GATE_SEEN];


/* NGX_OK with ctx->gate; NGX_BUSY: ngx_http_social_gate_refuse() */

ngx_int_t
ngx_http_social_gate_admit(ngx_http_social_ctx_t *ctx)
{
    size_t                        len;
    ngx_uint_t                    mine;
    ngx_http_social_gate_t       *g, *newest;
    ngx_http_social_gate_addr_t  *addr, *heavy;
    u_char                        key[NGX_HTTP_SOCIAL_GATE_KEY_LEN];

    if (ctx->gate) {
        return NGX_OK;
    }

    len = ngx_http_social_gate_key(ctx->request->connection, key);

    if (ngx_http_social_gate_waiting >= ctx->smcf->password_queue) {
        addr = ngx_http_social_gate_find(key, len);
        mine = addr ? addr->n : 0;

        /* a place changes hands when it evens out the addresses */

        heavy = ngx_http_social_gate_heaviest(addr, mine + 2, 0);

        /* or from a greedy address to one that is not */

        if (heavy == NULL
            && !(addr && ngx_http_social_gate_lately(addr->greedy))
            && ngx_http_social_gate_greedy_at(key, len) == 0)
        {
            heavy = ngx_http_social_gate_heaviest(addr, mine + 1, 1);
        }

        if (heavy == NULL) {
            ngx_http_social_gate_greedy(key, len, addr);
            return NGX_BUSY;
        }

        newest = ngx_queue_data(ngx_queue_last(&heavy->waiting),
                                ngx_http_social_gate_t, link);

        ngx_http_social_gate_greedy(heavy->key, heavy->len, heavy);
        ngx_http_social_gate_push(newest);
    }

    g = ngx_calloc(sizeof(ngx_http_social_gate_t), ctx->log);
    if (g == NULL) {
        return NGX_ERROR;
    }

    g->len = len;
    ngx_memcpy(g->key, key, len);

    if (ngx_http_social_gate_count(g) != NGX_OK) {
        ngx_free(g);
        return NGX_ERROR;
    }

    g->state = NGX_HTTP_SOCIAL_GATE_ADMITTED;

    /* the gate may outlive the request: its events log to the cycle */

    g->ev.data = g;
    g->ev.log = ngx_cycle->log;

    g->op.detach = ngx_http_social_gate_detach;
    ngx_http_social_op_attach(ctx, &g->op);
    ctx->gate = g;

    return NGX_OK;
}


/* 503, with the time the gate takes to drain as Retry-After */

ngx_int_t
ngx_http_social_gate_refuse(ngx_http_social_ctx_t *ctx)
{
    ngx_msec_t  wait;

    wait = (ngx_http_social_gate_waiting / ctx->smcf->password_threads + 1)
           * ngx_http_social_gate_estimate;

    ctx->retry_after = ngx_min((time_t) ((wait + 999) / 1000),
                               NGX_HTTP_SOCIAL_GATE_RETRY_MAX);

    ngx_http_social_stat_add(hash_refused, 1);

    return ngx_http_social_error(ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                 "service_unavailable",
                                 "Password hashing is busy; "
                                 "try again shortly.", NULL);
}


/*
 * a turn for a hash: turn(ctx, data, NGX_OK) when it comes, and the hash
 * runs then; the thread's completion ends the turn.  NGX_BUSY when the
 * request was pushed out meanwhile, or finds no place.
 */

ngx_int_t
ngx_http_social_gate_wait(ngx_http_social_ctx_t *ctx,
    ngx_http_social_gate_pt turn, void *data)
{
    ngx_int_t                rc;
    ngx_http_social_gate_t  *g;

    rc = ngx_http_social_gate_admit(ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    g = ctx->gate;

    switch (g->state) {

    case NGX_HTTP_SOCIAL_GATE_ADMITTED:
        break;

    case NGX_HTTP_SOCIAL_GATE_IDLE:
        /* a second hash of the request (a new password after the old) */
        if (ngx_http_social_gate_count(g) != NGX_OK) {
            return NGX_ERROR;
        }

        break;

    case NGX_HTTP_SOCIAL_GATE_PUSHED:
        return NGX_BUSY;

    default:
        ngx_log_error(NGX_LOG_ALERT, ctx->log, 0,
                      "social: a password gate waits twice");
        return NGX_ERROR;
    }

    g->state = NGX_HTTP_SOCIAL_GATE_QUEUED;
    g->turn = turn;
    g->data = data;
    g->delivered = 0;
    ngx_http_social_gate_queued++;
    ngx_http_social_stat_set(hash_queued, ngx_http_social_gate_queued);

    ngx_http_social_gate_dispatch();

    return NGX_OK;
}


/* a turn without a hash: turn() after the time of one */

ngx_int_t
ngx_http_social_gate_hold(ngx_http_social_ctx_t *ctx,
    ngx_http_social_gate_pt turn, void *data)
{
    ngx_int_t  rc;

    rc = ngx_http_social_gate_wait(ctx, turn, data);

    if (rc == NGX_OK) {
        ctx->gate->hold = 1;
    }

    return rc;
}


/*
 * the hash of a turn is done (took: its time): the next turn is given, and
 * a gate whose request has gone is freed
 */

void
ngx_http_social_gate_end(ngx_http_social_gate_t *g, ngx_msec_t took)
{
    ngx_http_social_gate_timed(took);
    ngx_http_social_gate_stop(g);

    if (g->op.ctx == NULL) {
        ngx_free(g);

    } else {
        g->state = NGX_HTTP_SOCIAL_GATE_IDLE;
    }

    ngx_http_social_gate_dispatch();
}


/* a hash took this long: the moving average that holds last */

void
ngx_http_social_gate_timed(ngx_msec_t took)
{
    ngx_msec_t  *e = &ngx_http_social_gate_estimate;

    if (took) {
        *e = *e ? (*e * 7 + took) / 8 : took;
    }
}


/* the request of a gate, NULL once it has gone */

ngx_http_social_ctx_t *
ngx_http_social_gate_ctx(ngx_http_social_gate_t *g)
{
    return g->op.ctx;
}


/* counted as waiting, in the queue of its address */

static ngx_int_t
ngx_http_social_gate_count(ngx_http_social_gate_t *g)
{
    ngx_http_social_gate_addr_t  *addr;

    addr = ngx_http_social_gate_find(g->key, g->len);

    if (addr == NULL) {
        addr = ngx_calloc(sizeof(ngx_http_social_gate_addr_t),
                          ngx_cycle->log);
        if (addr == NULL) {
            return NGX_ERROR;
        }

        addr->len = g->len;
        ngx_memcpy(addr->key, g->key, g->len);
        ngx_queue_init(&addr->waiting);
        addr->greedy = ngx_http_social_gate_greedy_at(g->key, g->len);

        /* a greedy address is not new when it comes back */

        if (addr->greedy) {
            addr->old = 1;
            ngx_queue_insert_tail(&ngx_http_social_gate_old, &addr->list);

        } else {
            ngx_queue_insert_tail(&ngx_http_social_gate_new, &addr->list);
        }
    }

    ngx_queue_insert_tail(&addr->waiting, &g->link);
    addr->n++;
    g->addr = addr;
    ngx_http_social_gate_waiting++;

    if (addr->n + addr->running > 1) {
        ngx_http_social_gate_greedy(addr->key, addr->len, addr);
    }

    return NGX_OK;
}


/* no longer waiting: the address stays while it has another */

static void
ngx_http_social_gate_uncount(ngx_http_social_gate_t *g)
{
    ngx_http_social_gate_addr_t  *addr = g->addr;

    if (g->state == NGX_HTTP_SOCIAL_GATE_QUEUED) {
        ngx_http_social_gate_queued--;
        ngx_http_social_stat_set(hash_queued, ngx_http_social_gate_queued);
    }

    ngx_queue_remove(&g->link);
    addr->n--;
    ngx_http_social_gate_waiting--;
}


/* a running gate's turn is over */

static void
ngx_http_social_gate_stop(ngx_http_social_gate_t *g)
{
    ngx_http_social_gate_addr_t  *addr = g->addr;

    ngx_http_social_gate_running--;
    addr->running--;
    g->addr = NULL;

    ngx_http_social_gate_release(addr);
}


static void
ngx_http_social_gate_release(ngx_http_social_gate_addr_t *addr)
{
    if (addr->n == 0 && addr->running == 0) {
        ngx_queue_remove(&addr->list);
        ngx_free(addr);
    }
}


/* the addresses in the gate are at most social_password_queue */

static ngx_http_social_gate_addr_t *
ngx_http_social_gate_find(u_char *key, size_t len)
{
    ngx_uint_t                    i;
    ngx_queue_t                  *q, *list[2];
    ngx_http_social_gate_addr_t  *addr;

    list[0] = &ngx_http_social_gate_new;
    list[1] = &ngx_http_social_gate_old;

    for (i = 0; i < 2; i++) {
        for (q = ngx_queue_head(list[i]);
             q != ngx_queue_sentinel(list[i]);
             q = ngx_queue_next(q))
        {
            addr = ngx_queue_data(q, ngx_http_social_gate_addr_t, list);

            if (addr->len == len && ngx_memcmp(addr->key, key, len) == 0) {
                return addr;
            }
        }
    }

    return NULL;
}


/*
 * the address other than except with the most waiting, at least min of
 * them; with greedy, among the greedy addresses
 */

static ngx_http_social_gate_addr_t *
ngx_http_social_gate_heaviest(ngx_http_social_gate_addr_t *except,
    ngx_uint_t min, ngx_uint_t greedy)
{
    ngx_uint_t                    i;
    ngx_queue_t                  *q, *list[2];
    ngx_http_social_gate_addr_t  *addr, *heavy;

    list[0] = &ngx_http_social_gate_new;
    list[1] = &ngx_http_social_gate_old;

    heavy = NULL;

    for (i = 0; i < 2; i++) {
        for (q = ngx_queue_head(list[i]);
             q != ngx_queue_sentinel(list[i]);
             q = ngx_queue_next(q))
        {
            addr = ngx_queue_data(q, ngx_http_social_gate_addr_t, list);

            if (addr == except || addr->n < min
                || (greedy && !ngx_http_social_gate_lately(addr->greedy)))
            {
                continue;
            }

            if (heavy == NULL || addr->n > heavy->n) {
                heavy = addr;
            }
        }
    }

    return heavy;
}


/*
 * since when an address is greedy, or 0; one that the table has no room
 * for (every entry greedy) counts as greedy
 */

static ngx_msec_t
ngx_http_social_gate_greedy_at(u_char *key, size_t len)
{
    ngx_uint_t                    i, room;
    ngx_http_social_gate_seen_t  *s;

    room = 0;

    for (i = 0; i < NGX_HTTP_SOCIAL_GATE_SEEN; i++) {
        s = &ngx_http_social_gate_seen[i];

        /* an entry expires before ngx_msec_t can wrap round to it */

        if (s->len && !ngx_http_social_gate_lately(s->greedy)) {
            s->len = 0;
        }

        if (s->len == 0) {
            room = 1;
            continue;
        }

        if (s->len == len && ngx_memcmp(s->key, key, len) == 0) {
            return s->greedy;
        }
    }

    return room ? 0 : (ngx_current_msec ? ngx_current_msec : 1);
}


/*
 * an address is greedy, from now unless it already is (refusals do not
 * renew it, so that a client refused once is not held off while a flood
 * lasts); it takes the entry of the oldest
 */

static void
ngx_http_social_gate_greedy(u_char *key, size_t len,
    ngx_http_social_gate_addr_t *addr)
{
    ngx_msec_t                    since;
    ngx_uint_t                    i;
    ngx_http_social_gate_seen_t  *s, *oldest;

    since = ngx_current_msec ? ngx_current_msec : 1;
    oldest = NULL;

    for (i = 0; i < NGX_HTTP_SOCIAL_GATE_SEEN; i++) {
        s = &ngx_http_social_gate_seen[i];

        if (s->len && !ngx_http_social_gate_lately(s->greedy)) {
            s->len = 0;
        }

        if (s->len == len && ngx_memcmp(s->key, key, len) == 0) {
            since = s->greedy;
            oldest = s;
            break;
        }

        if (oldest == NULL || s->len == 0
            || (oldest->len
                && (ngx_msec_int_t) (s->greedy - oldest->greedy) < 0))
        {
            oldest = s;
        }
    }

    oldest->greedy = since;
    oldest->len = len;
    ngx_memcpy(oldest->key, key, len);

    if (addr == NULL) {
        return;
    }

    addr->greedy = since;

    /* a greedy address is not new */

    if (!addr->old) {
        addr->old = 1;
        ngx_queue_remove(&addr->list);
        ngx_queue_insert_tail(&ngx_http_social_gate_old, &addr->list);
    }
}


static ngx_uint_t
ngx_http_social_gate_lately(ngx_msec_t greedy)
{
    return greedy != 0
           && ngx_current_msec - greedy < NGX_HTTP_SOCIAL_GATE_LATELY;
}


/*
 * out of the gate: a queued request is answered from the event loop, one
 * that looks its user up is answered when it asks for its turn
 */

static void
ngx_http_social_gate_push(ngx_http_social_gate_t *g)
{
    ngx_uint_t                    queued;
    ngx_http_social_gate_addr_t  *addr;

    queued = (g->state == NGX_HTTP_SOCIAL_GATE_QUEUED);
    addr = g->addr;

    ngx_http_social_gate_uncount(g);
    g->addr = NULL;
    g->state = NGX_HTTP_SOCIAL_GATE_PUSHED;
    ngx_http_social_gate_release(addr);

    if (queued) {
        g->ev.handler = ngx_http_social_gate_pushed;
        ngx_post_event(&g->ev, &ngx_posted_events);
    }
}


/*
 * the free threads go to the new addresses first, in their order, then to
 * the old ones in turn
 */

static void
ngx_http_social_gate_dispatch(void)
{
    ngx_http_social_gate_t       *g;
    ngx_http_social_gate_addr_t  *addr;
    ngx_http_social_main_conf_t  *smcf;

    smcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_social_module);

    while (ngx_http_social_gate_running < smcf->password_threads
           && ngx_http_social_gate_queued > 0)
    {
        g = ngx_http_social_gate_next(&ngx_http_social_gate_new);

        if (g == NULL) {
            g = ngx_http_social_gate_next(&ngx_http_social_gate_old);
        }

        if (g == NULL) {
            return;
        }

        /* the address had its turn: it goes to the end of the old ones */

        addr = g->addr;
        addr->old = 1;
        ngx_queue_remove(&addr->list);
        ngx_queue_insert_tail(&ngx_http_social_gate_old, &addr->list);

        ngx_http_social_gate_uncount(g);
        g->state = NGX_HTTP_SOCIAL_GATE_RUNNING;
        addr->running++;
        ngx_http_social_gate_running++;

        g->ev.handler = ngx_http_social_gate_turn;
        ngx_post_event(&g->ev, &ngx_posted_events);
    }
}


/* the oldest queued gate of the first address of a list that has one */

static ngx_http_social_gate_t *
ngx_http_social_gate_next(ngx_queue_t *list)
{
    ngx_queue_t                  *q, *gq;
    ngx_http_social_gate_t       *g;
    ngx_http_social_gate_addr_t  *addr;

    for (q = ngx_queue_head(list);
         q != ngx_queue_sentinel(list);
         q = ngx_queue_next(q))
    {
        addr = ngx_queue_data(q, ngx_http_social_gate_addr_t, list);

        for (gq = ngx_queue_head(&addr->waiting);
             gq != ngx_queue_sentinel(&addr->waiting);
             gq = ngx_queue_next(gq))
        {
            g = ngx_queue_data(gq, ngx_http_social_gate_t, link);

            if (g->state == NGX_HTTP_SOCIAL_GATE_QUEUED) {
                return g;
            }
        }
    }

    return NULL;
}


/* from the event loop: the turn of a gate has come */

static void
ngx_http_social_gate_turn(ngx_event_t *ev)
{
    ngx_http_social_gate_t  *g = ev->data;

    if (g->hold) {
        /* as long as a hash (the worker timed one when it started) */
        ev->handler = ngx_http_social_gate_held;
        ngx_add_timer(ev, ngx_max(ngx_http_social_gate_estimate, 1));
        return;
    }

    g->delivered = 1;
    ngx_http_social_gate_call(g, NGX_OK);
}


static void
ngx_http_social_gate_held(ngx_event_t *ev)
{
    ngx_http_social_gate_t  *g = ev->data;

    g->hold = 0;
    ngx_http_social_gate_end(g, 0);
    ngx_http_social_gate_call(g, NGX_OK);
}


static void
ngx_http_social_gate_pushed(ngx_event_t *ev)
{
    ngx_http_social_gate_call(ev->data, NGX_BUSY);
}


static void
ngx_http_social_gate_call(ngx_http_social_gate_t *g, ngx_int_t rc)
{
    ngx_connection_t       *c;
    ngx_http_social_ctx_t  *ctx;

    ctx = g->op.ctx;
    c = ctx->request->connection;

    g->turn(ctx, g->data, rc);

    ngx_http_run_posted_requests(c);
}


/*
 * the request has gone: a waiting gate leaves, and its hash is never
 * computed; a hash that runs is left to finish
 */

static void
ngx_http_social_gate_detach(ngx_http_social_op_t *op)
{
    ngx_http_social_gate_t       *g;
    ngx_http_social_gate_addr_t  *addr;

    g = (ngx_http_social_gate_t *) op;

    switch (g->state) {

    case NGX_HTTP_SOCIAL_GATE_QUEUED:
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "social: a waiting password hash is dropped, "
                      "its client has gone");

        /* fall through */

    case NGX_HTTP_SOCIAL_GATE_ADMITTED:
        addr = g->addr;
        ngx_http_social_gate_uncount(g);
        ngx_http_social_gate_release(addr);
        break;

    case NGX_HTTP_SOCIAL_GATE_RUNNING:
        if (g->delivered) {
            /* its hash runs: ngx_http_social_gate_end() frees it */
            return;
        }

        ngx_http_social_gate_stop(g);
        ngx_http_social_gate_free(g);
        ngx_http_social_gate_dispatch();
        return;

    default: /* NGX_HTTP_SOCIAL_GATE_IDLE, NGX_HTTP_SOCIAL_GATE_PUSHED */
        break;
    }

    ngx_http_social_gate_free(g);
}


static void
ngx_http_social_gate_free(ngx_http_social_gate_t *g)
{
    if (g->ev.posted) {
        ngx_delete_posted_event(&g->ev);
    }

    if (g->ev.timer_set) {
        ngx_del_timer(&g->ev);
    }

    ngx_free(g);
}


/* a client address: IPv4, the /64 of IPv6, one key for unix sockets */

static size_t
ngx_http_social_gate_key(ngx_connection_t *c, u_char *key)
{
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    switch (c->sockaddr->sa_family) {

    case AF_INET:
        sin = (struct sockaddr_in *) c->sockaddr;
        ngx_memcpy(key, &sin->sin_addr, 4);
        return 4;

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) c->sockaddr;

        /* an IPv4 client of a dual-stack listen: its IPv4 address */

        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            ngx_memcpy(key, &sin6->sin6_addr.s6_addr[12], 4);
            return 4;
        }

        ngx_memcpy(key, sin6->sin6_addr.s6_addr, 8);
        return 8;
#endif

    default:
        key[0] = 0;
        return 1;
    }
}
