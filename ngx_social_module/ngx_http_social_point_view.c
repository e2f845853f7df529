
/*
 * Copyright (C) ngx_social developers
 */


/*
 * What waits in the point store (ngx_http_social_point_store.c, whose
 * header says what each key holds) for one user, as GET /exercises
 * (ngx_http_social_exercises.c) adds it to PostgreSQL's totals: the batch
 * ids, the user's pending counts and the open batch's, read at one
 * instant, and the reply made the counts the exercises read adds.
 *
 * Most of the time no batch is open (one is only between a cut and its
 * landing): one transaction of Redis's own commands reads it all, MGET of
 * the batch ids and HGETALL of the user's hash, whose counts are paired
 * with their spellings and latest utterances here
 * (ngx_http_social_point_view_hash()).  While a batch is open, its
 * user's hash has a key made of the open batch's id, which a transaction
 * cannot read in the same step: NGX_AGAIN, and the script reads it all
 * (ngx_http_social_point_view_script()), as it does when Redis refuses
 * the transaction (the caller's, once).  The script cost Redis two to
 * three times the transaction (BENCHMARKS.md, "Runs 28 to 32").
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


static ngx_int_t ngx_http_social_point_view_hash(ngx_pool_t *pool,
    redisReply *reply, ngx_http_social_point_view_t *view);
static int ngx_libc_cdecl ngx_http_social_point_view_cmp(const void *one,
    const void *two);
static ngx_int_t ngx_http_social_point_view_start(ngx_pool_t *pool,
    ngx_http_social_point_view_t *view, size_t n);
static ngx_int_t ngx_http_social_point_view_ids_set(ngx_pool_t *pool,
    ngx_http_social_point_view_t *view, redisReply *epoch, redisReply *seq,
    redisReply *open);
static ngx_int_t ngx_http_social_point_view_counts(ngx_pool_t *pool,
    redisReply *list, ngx_uint_t open, ngx_http_social_point_view_t *view);
static ngx_int_t ngx_http_social_point_view_count(ngx_pool_t *pool,
    redisReply *spelling, redisReply *n, redisReply *utterances,
    ngx_uint_t open, ngx_http_social_point_view_t *view);
static const char *ngx_http_social_point_view_batch(ngx_pool_t *pool,
    redisReply *r, ngx_uint_t part);
static ngx_uint_t ngx_http_social_point_view_digits(redisReply *r,
    size_t max);
static ngx_uint_t ngx_http_social_point_view_ids(redisReply *r);


/*
 * ARGV[1]: a user.  {epoch, seq, open batch, pending, the open batch's},
 * the last two flat lists of spelling, count, latest utterances
 */

static ngx_http_social_script_t  ngx_http_social_point_view_lua = {
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


/* the batch ids: MGET's, in its order */

enum {
    NGX_HTTP_SOCIAL_POINT_IDS_EPOCH = 0,
    NGX_HTTP_SOCIAL_POINT_IDS_SEQ,
    NGX_HTTP_SOCIAL_POINT_IDS_OPEN,
    NGX_HTTP_SOCIAL_POINT_IDS
};

/* a field of the user's hash: its key (after its letter), letter, value */

typedef struct {
    u_char                         *key;
    size_t                          len;
    u_char                          which;
    redisReply                     *value;
} ngx_http_social_point_field_t;


/* the transaction's commands, in its order */

enum {
    NGX_HTTP_SOCIAL_POINT_VIEW_IDS = 0,
    NGX_HTTP_SOCIAL_POINT_VIEW_HASH,
    NGX_HTTP_SOCIAL_POINT_VIEW_CMDS
};


static const char    *ngx_http_social_point_view_mget[] = {
    "MGET",
    NGX_HTTP_SOCIAL_KEY_POINT_EPOCH,
    NGX_HTTP_SOCIAL_KEY_POINT_SEQ,
    NGX_HTTP_SOCIAL_KEY_POINT_OPEN
};

static const size_t   ngx_http_social_point_view_mget_len[] = {
    sizeof("MGET") - 1,
    sizeof(NGX_HTTP_SOCIAL_KEY_POINT_EPOCH) - 1,
    sizeof(NGX_HTTP_SOCIAL_KEY_POINT_SEQ) - 1,
    sizeof(NGX_HTTP_SOCIAL_KEY_POINT_OPEN) - 1
};


/*
 * What waits in Redis for a user, for GET /exercises: the transaction,
 * MGET of the batch ids and HGETALL of the user's hash
 */

ngx_int_t
ngx_http_social_point_view(ngx_http_social_ctx_t *ctx, int64_t user_id,
    ngx_http_social_redis_handler_pt handler)
{
    u_char                       *p;
    size_t                        lens[2];
    const char                   *argv[2];
    ngx_http_social_redis_cmd_t   cmds[NGX_HTTP_SOCIAL_POINT_VIEW_CMDS];
    u_char                        key[sizeof(NGX_HTTP_SOCIAL_KEY_POINT_USER)
                                      + NGX_INT64_LEN];

    p = ngx_sprintf(key, NGX_HTTP_SOCIAL_KEY_POINT_USER "%L", user_id);

    argv[0] = "HGETALL";
    lens[0] = sizeof("HGETALL") - 1;
    argv[1] = (char *) key;
    lens[1] = p - key;

    cmds[NGX_HTTP_SOCIAL_POINT_VIEW_IDS].argc = NGX_HTTP_SOCIAL_POINT_IDS + 1;
    cmds[NGX_HTTP_SOCIAL_POINT_VIEW_IDS].argv =
                                           ngx_http_social_point_view_mget;
    cmds[NGX_HTTP_SOCIAL_POINT_VIEW_IDS].argvlen =
                                       ngx_http_social_point_view_mget_len;

    cmds[NGX_HTTP_SOCIAL_POINT_VIEW_HASH].argc = 2;
    cmds[NGX_HTTP_SOCIAL_POINT_VIEW_HASH].argv = argv;
    cmds[NGX_HTTP_SOCIAL_POINT_VIEW_HASH].argvlen = lens;

    return ngx_http_social_redis_multi(ctx, handler, cmds,
                                       NGX_HTTP_SOCIAL_POINT_VIEW_CMDS);
}


/* the same read by the script, for when a batch is open */

ngx_int_t
ngx_http_social_point_view_script(ngx_http_social_ctx_t *ctx,
    int64_t user_id, ngx_http_social_redis_handler_pt handler)
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
                                        &ngx_http_social_point_view_lua,
                                        a.argc, a.argv, a.lens);
}


/*
 * The view's reply (the transaction's or the script's), in the pool.
 * What an older version, or a hand, left in Redis that is not as this
 * module writes it is skipped, counted in view->skipped, never an error:
 * the flush sets its rows aside and the hashes go with their batch.
 * NGX_AGAIN: the transaction's, and a batch is open (or it is not as
 * expected): the script is to read it; NGX_DECLINED: neither's (an error,
 * EXEC's or the script's); NGX_ERROR: no memory.
 */

ngx_int_t
ngx_http_social_point_view_read(ngx_pool_t *pool, redisReply *reply,
    ngx_http_social_point_view_t *view)
{
    size_t        n;
    redisReply  **e;

    e = reply->element;

    if (reply->type == REDIS_REPLY_ARRAY
        && reply->elements == NGX_HTTP_SOCIAL_POINT_VIEW_CMDS)
    {
        return ngx_http_social_point_view_hash(pool, reply, view);
    }

    if (reply->type != REDIS_REPLY_ARRAY
        || reply->elements != NGX_HTTP_SOCIAL_POINT_VIEW_REPLY
        || e[NGX_HTTP_SOCIAL_POINT_VIEW_EPOCH]->type != REDIS_REPLY_STRING
        || e[NGX_HTTP_SOCIAL_POINT_VIEW_SEQ]->type != REDIS_REPLY_STRING
        || e[NGX_HTTP_SOCIAL_POINT_VIEW_OPEN]->type != REDIS_REPLY_STRING)
    {
        return NGX_DECLINED;
    }

    n = 0;

    if (e[NGX_HTTP_SOCIAL_POINT_VIEW_PENDING]->type == REDIS_REPLY_ARRAY) {
        n += e[NGX_HTTP_SOCIAL_POINT_VIEW_PENDING]->elements;
    }

    if (e[NGX_HTTP_SOCIAL_POINT_VIEW_OPEN_COUNTS]->type == REDIS_REPLY_ARRAY) {
        n += e[NGX_HTTP_SOCIAL_POINT_VIEW_OPEN_COUNTS]->elements;
    }

    if (ngx_http_social_point_view_start(pool, view,
                                         n / NGX_HTTP_SOCIAL_POINT_COUNT_EACH)
        != NGX_OK
        || ngx_http_social_point_view_counts(pool,
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

    return ngx_http_social_point_view_ids_set(pool, view,
                                       e[NGX_HTTP_SOCIAL_POINT_VIEW_EPOCH],
                                       e[NGX_HTTP_SOCIAL_POINT_VIEW_SEQ],
                                       e[NGX_HTTP_SOCIAL_POINT_VIEW_OPEN]);
}


/*
 * The transaction's reply: no batch open, the counts of the user's hash,
 * each "n<key>" with its spelling "s<key>" (none: left out, as the script
 * does) and its latest utterances "u<key>" (none: "").  The fields are
 * sorted by key, so that a key's three come together: a hash of many keys
 * costs its sort, not each key a search of the others.
 */

static ngx_int_t
ngx_http_social_point_view_hash(ngx_pool_t *pool, redisReply *reply,
    ngx_http_social_point_view_t *view)
{
    size_t                          i, n, k;
    redisReply                     *ids, *hash, *f, **e;
    ngx_http_social_point_field_t  *fields, *key, *nf, *sf, *uf;

    ids = reply->element[NGX_HTTP_SOCIAL_POINT_VIEW_IDS];
    hash = reply->element[NGX_HTTP_SOCIAL_POINT_VIEW_HASH];

    if (ids->type != REDIS_REPLY_ARRAY
        || ids->elements != NGX_HTTP_SOCIAL_POINT_IDS
        || ids->element[NGX_HTTP_SOCIAL_POINT_IDS_OPEN]->type
           != REDIS_REPLY_NIL
        || hash->type != REDIS_REPLY_ARRAY || hash->elements % 2)
    {
        return NGX_AGAIN;
    }

    fields = ngx_palloc(pool, (hash->elements / 2 + 1)
                              * sizeof(ngx_http_social_point_field_t));

    if (fields == NULL
        || ngx_http_social_point_view_start(pool, view, hash->elements / 2)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* "n", "s" and "u" fields; anything else is not the view's */

    n = 0;

    for (i = 0; i < hash->elements; i += 2) {
        f = hash->element[i];

        if (f->type != REDIS_REPLY_STRING || f->len == 0
            || (f->str[0] != 'n' && f->str[0] != 's' && f->str[0] != 'u'))
        {
            continue;
        }

        fields[n].key = (u_char *) f->str + 1;
        fields[n].len = f->len - 1;
        fields[n].which = (u_char) f->str[0];
        fields[n].value = hash->element[i + 1];
        n++;
    }

    ngx_qsort(fields, n, sizeof(ngx_http_social_point_field_t),
              ngx_http_social_point_view_cmp);

    /* each key's fields together, "n" before "s" before "u" */

    for (i = 0; i < n; i = k) {
        key = &fields[i];
        nf = NULL;
        sf = NULL;
        uf = NULL;

        for (k = i;
             k < n && fields[k].len == key->len
             && ngx_memcmp(fields[k].key, key->key, key->len) == 0;
             k++)
        {
            switch (fields[k].which) {
            case 'n':
                nf = &fields[k];
                break;
            case 's':
                sf = &fields[k];
                break;
            default:
                uf = &fields[k];
            }
        }

        if (nf == NULL || sf == NULL) {
            continue;
        }

        if (ngx_http_social_point_view_count(pool, sf->value, nf->value,
                                             uf ? uf->value : NULL, 0, view)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    e = ids->element;

    return ngx_http_social_point_view_ids_set(pool, view,
                                      e[NGX_HTTP_SOCIAL_POINT_IDS_EPOCH],
                                      e[NGX_HTTP_SOCIAL_POINT_IDS_SEQ],
                                      e[NGX_HTTP_SOCIAL_POINT_IDS_OPEN]);
}


/* by key (its length, then its bytes), then by the field's letter */

static int ngx_libc_cdecl
ngx_http_social_point_view_cmp(const void *one, const void *two)
{
    int                             rc;
    ngx_http_social_point_field_t  *a, *b;

    a = (ngx_http_social_point_field_t *) one;
    b = (ngx_http_social_point_field_t *) two;

    if (a->len != b->len) {
        return (a->len < b->len) ? -1 : 1;
    }

    rc = ngx_memcmp(a->key, b->key, a->len);

    if (rc != 0) {
        return rc;
    }

    return (int) a->which - (int) b->which;
}


/* room for n counts, none yet */

static ngx_int_t
ngx_http_social_point_view_start(ngx_pool_t *pool,
    ngx_http_social_point_view_t *view, size_t n)
{
    view->skipped = 0;
    view->bad = NULL;
    view->ncounts = 0;

    view->counts = ngx_palloc(pool,
                              (n + 1) * sizeof(ngx_http_social_point_count_t));

    return view->counts ? NGX_OK : NGX_ERROR;
}


/*
 * the batch ids, each a string (nil is none); the open batch
 * "<epoch>:<seq>" as epoch and seq
 */

static ngx_int_t
ngx_http_social_point_view_ids_set(ngx_pool_t *pool,
    ngx_http_social_point_view_t *view, redisReply *epoch, redisReply *seq,
    redisReply *open)
{
    u_char  *colon;

    view->epoch = ngx_http_social_point_view_batch(pool, epoch,
                                                NGX_HTTP_SOCIAL_POINT_EPOCH);
    view->seq = ngx_http_social_point_view_batch(pool, seq,
                                                NGX_HTTP_SOCIAL_POINT_SEQ);
    view->open_epoch = ngx_http_social_point_view_batch(pool, open,
                                                NGX_HTTP_SOCIAL_POINT_BATCH);
    view->open_seq = "0";

    if (view->epoch == NULL || view->seq == NULL || view->open_epoch == NULL)
    {
        return NGX_ERROR;
    }

    colon = (u_char *) ngx_strchr(view->open_epoch, ':');

    if (colon) {
        *colon = '\0';
        view->open_seq = (char *) colon + 1;
    }

    return NGX_OK;
}


/* the script's spelling, count, utterances triples as counts */

static ngx_int_t
ngx_http_social_point_view_counts(ngx_pool_t *pool, redisReply *list,
    ngx_uint_t open, ngx_http_social_point_view_t *view)
{
    size_t        i;
    redisReply  **e;

    if (list->type != REDIS_REPLY_ARRAY
        || list->elements % NGX_HTTP_SOCIAL_POINT_COUNT_EACH)
    {
        view->skipped++;
        return NGX_OK;
    }

    for (i = 0; i < list->elements; i += NGX_HTTP_SOCIAL_POINT_COUNT_EACH) {
        e = &list->element[i];

        if (ngx_http_social_point_view_count(pool,
                                 e[NGX_HTTP_SOCIAL_POINT_COUNT_SPELLING],
                                 e[NGX_HTTP_SOCIAL_POINT_COUNT_N],
                                 e[NGX_HTTP_SOCIAL_POINT_COUNT_UTTERANCES],
                                 open, view)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * A spelling ["Cat", "Sub"], a count and latest utterances (NULL: none)
 * as a count, the spellings read and the keys made of them; one not as
 * this module writes them is skipped, counted in view->skipped, the first
 * one's spelling in view->bad
 */

static ngx_int_t
ngx_http_social_point_view_count(ngx_pool_t *pool, redisReply *spelling,
    redisReply *n, redisReply *utterances, ngx_uint_t open,
    ngx_http_social_point_view_t *view)
{
    size_t                          len;
    ngx_int_t                       rc;
    ngx_str_t                       texts[2];
    ngx_http_social_point_count_t  *count;

    rc = NGX_DECLINED;

    if (spelling->type == REDIS_REPLY_STRING
        && ngx_http_social_point_view_digits(n, 18)
        && (utterances == NULL || ngx_http_social_point_view_ids(utterances)))
    {
        rc = ngx_http_social_point_spelling_read((u_char *) spelling->str,
                                                 spelling->len, pool, texts);
    }

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        if (view->bad == NULL && spelling->type == REDIS_REPLY_STRING) {
            view->bad = spelling;
        }

        view->skipped++;

        return NGX_OK;
    }

    count = &view->counts[view->ncounts];

    count->category = texts[0];
    count->subcategory = texts[1];

    count->ck.len = texts[0].len;
    count->ck.data = ngx_pnalloc(pool, texts[0].len + 1);
    count->sk.len = texts[1].len;
    count->sk.data = ngx_pnalloc(pool, texts[1].len + 1);

    len = utterances ? utterances->len : 0;

    count->n = ngx_atoof((u_char *) n->str, n->len);
    count->open = open;
    count->utterances.len = len;
    count->utterances.data = ngx_pnalloc(pool, len + 1);

    if (count->ck.data == NULL || count->sk.data == NULL
        || count->utterances.data == NULL)
    {
        return NGX_ERROR;
    }

    ngx_strlow(count->ck.data, texts[0].data, texts[0].len);
    ngx_strlow(count->sk.data, texts[1].data, texts[1].len);
    count->ck.data[texts[0].len] = '\0';
    count->sk.data[texts[1].len] = '\0';

    if (len) {
        ngx_memcpy(count->utterances.data, utterances->str, len);
    }

    count->utterances.data[len] = '\0';

    view->ncounts++;

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

    if (r->type != REDIS_REPLY_STRING
        || !ngx_http_social_point_batch_check((u_char *) r->str, r->len, part))
    {
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
