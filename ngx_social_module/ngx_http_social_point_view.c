
/*
 * Copyright (C) ngx_social developers
 */


/*
 * What waits in the point store (ngx_http_social_point_store.c, whose
 * header says what each key holds) for one user, as GET /exercises
 * (ngx_http_social_exercises.c) adds it to PostgreSQL's totals: one
 * script reads the batch ids, the user's pending counts and the open
 * batch's, and the reply is made the counts the exercises read adds.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_points.h"
#include "ngx_http_social_keys.h"
#include "ngx_http_social_argv.h"


enum {
    NGX_HTTP_SOCIAL_POINT_VIEW_USER = 1,
    NGX_HTTP_SOCIAL_POINT_VIEW_ARGC
};


/*
 * The view's reply: the epoch, the last seq, the open batch, then the
 * user's pending counts and the open batch's, each a flat list of
 * spelling, count and latest utterances
 */

enum {
    NGX_HTTP_SOCIAL_POINT_VIEW_EPOCH = 0,
    NGX_HTTP_SOCIAL_POINT_VIEW_SEQ,
    NGX_HTTP_SOCIAL_POINT_VIEW_OPEN,
    NGX_HTTP_SOCIAL_POINT_VIEW_PENDING,
    NGX_HTTP_SOCIAL_POINT_VIEW_OPEN_COUNTS,
    NGX_HTTP_SOCIAL_POINT_VIEW_REPLY
};

enum {
    NGX_HTTP_SOCIAL_POINT_COUNT_SPELLING = 0,
    NGX_HTTP_SOCIAL_POINT_COUNT_N,
    NGX_HTTP_SOCIAL_POINT_COUNT_UTTERANCES,
    NGX_HTTP_SOCIAL_POINT_COUNT_EACH
};


static ngx_int_t ngx_http_social_point_view_counts(ngx_pool_t *pool,
    redisReply *list, ngx_uint_t open, ngx_http_social_point_view_t *view);
static ngx_int_t ngx_http_social_point_view_spelling(ngx_pool_t *pool,
    redisReply *spelling, ngx_http_social_point_count_t *count);
static const char *ngx_http_social_point_view_batch(ngx_pool_t *pool,
    redisReply *r, ngx_uint_t part);
static ngx_uint_t ngx_http_social_point_view_digits(redisReply *r,
    size_t max);
static ngx_uint_t ngx_http_social_point_view_ids(redisReply *r);


/*
 * ARGV[1]: a user.  {epoch, seq, open batch, pending, the open batch's},
 * the last two flat lists of spelling, count, latest utterances
 */

static ngx_http_social_script_t  ngx_http_social_point_view_script = {
    "local function counts(key)\n"
    "  local h, m, out = redis.call('HGETALL', key), {}, {}\n"
    "  for i = 1, #h, 2 do m[h[i]] = h[i + 1] end\n"
    "  for f, v in pairs(m) do\n"
    "    local k = string.sub(f, 2)\n"
    "    if string.sub(f, 1, 1) == 'n' and m['s' .. k] then\n"
    "      out[#out + 1] = m['s' .. k]\n"
    "      out[#out + 1] = v\n"
    "      out[#out + 1] = m['u' .. k] or ''\n"
    "    end\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "local open = redis.call('GET', '" NGX_HTTP_SOCIAL_KEY_POINT_OPEN "')\n"
    "return {redis.call('GET', '" NGX_HTTP_SOCIAL_KEY_POINT_EPOCH "') or '',\n"
    "        redis.call('GET', '"
        NGX_HTTP_SOCIAL_KEY_POINT_SEQ "') or '0', open or '',\n"
    "        counts('" NGX_HTTP_SOCIAL_KEY_POINT_USER "' .. ARGV[1]),\n"
    "        open and counts('"
        NGX_HTTP_SOCIAL_KEY_POINT_BATCH "' .. open .. ':u:' .. ARGV[1])\n"
    "        or {}}\n",
    "", NULL, ""
};


/* what waits in Redis for a user, for GET /exercises */

ngx_int_t
ngx_http_social_point_view(ngx_http_social_ctx_t *ctx, int64_t user_id,
    ngx_http_social_redis_handler_pt handler)
{
    u_char                  *p;
    size_t                   lens[NGX_HTTP_SOCIAL_POINT_VIEW_ARGC];
    const char              *argv[NGX_HTTP_SOCIAL_POINT_VIEW_ARGC];
    ngx_http_social_argv_t   a;
    u_char                   user[NGX_INT64_LEN + 1];

    ngx_http_social_argv_init(&a, argv, lens,
                              NGX_HTTP_SOCIAL_POINT_VIEW_ARGC);

    p = ngx_sprintf(user, "%L", user_id);

    ngx_http_social_argv_set(&a, 0, NGX_HTTP_SOCIAL_POINT_NO_KEYS);
    ngx_http_social_argv_set_len(&a, NGX_HTTP_SOCIAL_POINT_VIEW_USER,
                                 (char *) user, p - user);

    return ngx_http_social_redis_script(ctx, handler,
                                        &ngx_http_social_point_view_script,
                                        a.argc, a.argv, a.lens);
}


/*
 * The view's reply, in the pool.  What an older version, or a hand, left
 * in Redis that is not as this module writes it is skipped, counted in
 * view->skipped, never an error: the flush sets its rows aside and the
 * hashes go with their batch.  NGX_DECLINED: not the script's reply;
 * NGX_ERROR: no memory.
 */

ngx_int_t
ngx_http_social_point_view_read(ngx_pool_t *pool, redisReply *reply,
    ngx_http_social_point_view_t *view)
{
    u_char       *colon;
    size_t        n;
    redisReply  **e;

    e = reply->element;

    if (reply->type != REDIS_REPLY_ARRAY
        || reply->elements != NGX_HTTP_SOCIAL_POINT_VIEW_REPLY
        || e[NGX_HTTP_SOCIAL_POINT_VIEW_EPOCH]->type != REDIS_REPLY_STRING
        || e[NGX_HTTP_SOCIAL_POINT_VIEW_SEQ]->type != REDIS_REPLY_STRING
        || e[NGX_HTTP_SOCIAL_POINT_VIEW_OPEN]->type != REDIS_REPLY_STRING)
    {
        return NGX_DECLINED;
    }

    view->skipped = 0;
    view->bad = NULL;
    view->ncounts = 0;

    n = 0;

    if (e[NGX_HTTP_SOCIAL_POINT_VIEW_PENDING]->type == REDIS_REPLY_ARRAY) {
        n += e[NGX_HTTP_SOCIAL_POINT_VIEW_PENDING]->elements;
    }

    if (e[NGX_HTTP_SOCIAL_POINT_VIEW_OPEN_COUNTS]->type == REDIS_REPLY_ARRAY) {
        n += e[NGX_HTTP_SOCIAL_POINT_VIEW_OPEN_COUNTS]->elements;
    }

    view->counts = ngx_palloc(pool, (n / NGX_HTTP_SOCIAL_POINT_COUNT_EACH + 1)
                                    * sizeof(ngx_http_social_point_count_t));
    if (view->counts == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_social_point_view_counts(pool,
                                   e[NGX_HTTP_SOCIAL_POINT_VIEW_PENDING], 0,
                                   view)
        != NGX_OK
        || ngx_http_social_point_view_counts(pool,
                                   e[NGX_HTTP_SOCIAL_POINT_VIEW_OPEN_COUNTS],
                                   1, view)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the ids of batches, as written by the cut, or none */

    view->epoch = ngx_http_social_point_view_batch(pool,
                                      e[NGX_HTTP_SOCIAL_POINT_VIEW_EPOCH],
                                      NGX_HTTP_SOCIAL_POINT_EPOCH);
    view->seq = ngx_http_social_point_view_batch(pool,
                                      e[NGX_HTTP_SOCIAL_POINT_VIEW_SEQ],
                                      NGX_HTTP_SOCIAL_POINT_SEQ);
    view->open_epoch = ngx_http_social_point_view_batch(pool,
                                      e[NGX_HTTP_SOCIAL_POINT_VIEW_OPEN],
                                      NGX_HTTP_SOCIAL_POINT_BATCH);
    view->open_seq = "0";

    if (view->epoch == NULL || view->seq == NULL || view->open_epoch == NULL)
    {
        return NGX_ERROR;
    }

    /* the open batch "<epoch>:<seq>" as epoch and seq */

    colon = (u_char *) ngx_strchr(view->open_epoch, ':');

    if (colon) {
        *colon = '\0';
        view->open_seq = (char *) colon + 1;
    }

    return NGX_OK;
}


/*
 * spelling, count, utterances triples as counts; those not as this
 * module writes them are skipped, counted in view->skipped, the first
 * one's spelling in view->bad
 */

static ngx_int_t
ngx_http_social_point_view_counts(ngx_pool_t *pool, redisReply *list,
    ngx_uint_t open, ngx_http_social_point_view_t *view)
{
    size_t                          i;
    ngx_int_t                       rc;
    redisReply                    **e, *spelling, *n, *utterances;
    ngx_http_social_point_count_t  *count;

    if (list->type != REDIS_REPLY_ARRAY
        || list->elements % NGX_HTTP_SOCIAL_POINT_COUNT_EACH)
    {
        view->skipped++;
        return NGX_OK;
    }

    for (i = 0; i < list->elements; i += NGX_HTTP_SOCIAL_POINT_COUNT_EACH) {
        e = &list->element[i];
        spelling = e[NGX_HTTP_SOCIAL_POINT_COUNT_SPELLING];
        n = e[NGX_HTTP_SOCIAL_POINT_COUNT_N];
        utterances = e[NGX_HTTP_SOCIAL_POINT_COUNT_UTTERANCES];
        count = &view->counts[view->ncounts];

        rc = NGX_DECLINED;

        if (spelling->type == REDIS_REPLY_STRING
            && ngx_http_social_point_spelling_check((u_char *) spelling->str,
                                                    spelling->len)
               == NULL
            && ngx_http_social_point_view_digits(n, 18)
            && ngx_http_social_point_view_ids(utterances))
        {
            rc = ngx_http_social_point_view_spelling(pool, spelling, count);
        }

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_DECLINED) {
            if (view->bad == NULL && spelling->type == REDIS_REPLY_STRING) {
                view->bad = spelling;
            }

            view->skipped++;

            continue;
        }

        count->n = ngx_atoof((u_char *) n->str, n->len);
        count->open = open;
        count->utterances.len = utterances->len;
        count->utterances.data = ngx_pnalloc(pool, utterances->len + 1);

        if (count->utterances.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(count->utterances.data, utterances->str, utterances->len);
        count->utterances.data[utterances->len] = '\0';

        view->ncounts++;
    }

    return NGX_OK;
}


/*
 * ["Cat", "Sub"], as this module writes it (checked): the spellings, and
 * the keys made of them
 */

static ngx_int_t
ngx_http_social_point_view_spelling(ngx_pool_t *pool, redisReply *spelling,
    ngx_http_social_point_count_t *count)
{
    ngx_int_t                rc;
    ngx_http_social_json_t  *root, *cat, *sub;

    rc = ngx_http_social_json_parse(pool, (u_char *) spelling->str,
                                    spelling->len, &root);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK || root->type != NGX_HTTP_SOCIAL_JSON_ARRAY
        || root->nelts != 2)
    {
        return NGX_DECLINED;
    }

    cat = root->first;
    sub = cat->next;

    if (cat->type != NGX_HTTP_SOCIAL_JSON_STRING
        || sub->type != NGX_HTTP_SOCIAL_JSON_STRING)
    {
        return NGX_DECLINED;
    }

    count->category = cat->str;
    count->subcategory = sub->str;

    count->ck.len = cat->str.len;
    count->ck.data = ngx_pnalloc(pool, cat->str.len + 1);
    count->sk.len = sub->str.len;
    count->sk.data = ngx_pnalloc(pool, sub->str.len + 1);

    if (count->ck.data == NULL || count->sk.data == NULL) {
        return NGX_ERROR;
    }

    ngx_strlow(count->ck.data, cat->str.data, cat->str.len);
    ngx_strlow(count->sk.data, sub->str.data, sub->str.len);

    return NGX_OK;
}


/*
 * from Redis, NUL-terminated in the pool: an epoch, a seq or a batch id
 * (ngx_http_social_point_batch_check()); one not as the cut writes it is
 * none ("", or "0" for a seq), which no batch of PostgreSQL has
 */

static const char *
ngx_http_social_point_view_batch(ngx_pool_t *pool, redisReply *r,
    ngx_uint_t part)
{
    u_char  *p;

    if (!ngx_http_social_point_batch_check((u_char *) r->str, r->len, part)) {
        return (part == NGX_HTTP_SOCIAL_POINT_SEQ) ? "0" : "";
    }

    p = ngx_pnalloc(pool, r->len + 1);
    if (p == NULL) {
        return NULL;
    }

    *ngx_cpymem(p, r->str, r->len) = '\0';

    return (char *) p;
}


static ngx_uint_t
ngx_http_social_point_view_digits(redisReply *r, size_t max)
{
    size_t  i;

    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > max) {
        return 0;
    }

    for (i = 0; i < r->len; i++) {
        if (r->str[i] < '0' || r->str[i] > '9') {
            return 0;
        }
    }

    return 1;
}


/* "12,9,4" (or empty): ids of 1 to 18 digits */

static ngx_uint_t
ngx_http_social_point_view_ids(redisReply *r)
{
    size_t  i, n;

    if (r->type != REDIS_REPLY_STRING) {
        return 0;
    }

    n = 0;

    for (i = 0; i < r->len; i++) {
        if (r->str[i] == ',' && n > 0) {
            n = 0;
            continue;
        }

        if (r->str[i] < '0' || r->str[i] > '9' || ++n > 18) {
            return 0;
        }
    }

    return r->len == 0 || n > 0;
}
