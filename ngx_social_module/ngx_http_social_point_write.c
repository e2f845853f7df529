
/*
 * Copyright (C) ngx_social developers
 */


/*
 * POST /errors' common case without a script: the reader records points
 * on their own utterance, whose owner entry Redis holds.  Two reads, then
 * one transaction, on the worker's connection, of Redis's own commands:
 *
 *   1. the read (ngx_http_social_point_read()): MGET of the revocation
 *      records' mark, the utterance's owner entry and the reader's
 *      generation, then HMGET of the reader's spellings and latest
 *      utterances of the points' keys;
 *   2. the checks, as the record script makes them
 *      (ngx_http_social_point_owned()): an entry that is usable and the
 *      reader's, or else the script decides (ngx_http_social_points.c
 *      calls it); a deleted reader's utterance is GONE; then each point's
 *      latest utterances worked out (ngx_http_social_point_found());
 *   3. the write (ngx_http_social_point_write(), _written()), in one
 *      transaction with the writes of the worker's other requests of the
 *      same turn of its event loop (ngx_http_social_point_joint.c): RPUSH
 *      of the rows, HINCRBY of each count, HSETNX of each spelling the
 *      read did not find (it stays as first recorded), HSET of the latest
 *      utterances that change, SADD to the dirty set.  The
 *      rows are what the flush lands: once RPUSH has run, the points are
 *      recorded, whatever else Redis refused (a count's field of another
 *      type: logged).  A count that the write began (HINCRBY 1) though the
 *      read found its spelling (a batch was cut in between) has its
 *      spelling set right after (ngx_http_social_point_respell()).
 *
 * The record script cost Redis a third more than these commands, and
 * Redis is the stage every POST /errors waits for (BENCHMARKS.md, runs 24
 * to 27).  What the script made one step and this does not:
 *
 *   - a user deleted between 1. and 3.: the points land as they would have
 *     a moment before; the flush skips rows whose utterance is gone, and
 *     the hash of counts goes with the next cut;
 *   - two requests of one user for one key, each between the other's 1.
 *     and 3.: the latest utterances may miss one of the two utterances
 *     until the flush (error_recent takes every row); the counts are
 *     HINCRBY's, and none is lost;
 *   - a batch cut between 1. and 3.: the new hash of counts starts with
 *     the latest utterances as they were before the cut (their rows are in
 *     the batch, and in error_recent once it lands), and its counts are
 *     without their spellings until the HSETNX that follows the write.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_keys.h"
#include "ngx_http_social_revoke.h"
#include "ngx_http_social_util.h"
#include "ngx_http_social_args.h"
#include "ngx_http_social_points.h"


/* a point's fields in its user's hash: "n", "s" and "u", then its key */
enum {
    NGX_HTTP_SOCIAL_POINT_FIELD_N = 0,
    NGX_HTTP_SOCIAL_POINT_FIELD_S,
    NGX_HTTP_SOCIAL_POINT_FIELD_U,
    NGX_HTTP_SOCIAL_POINT_FIELDS
};

/* the read's MGET, in its order */
enum {
    NGX_HTTP_SOCIAL_POINT_READ_REV = 0,
    NGX_HTTP_SOCIAL_POINT_READ_OWNER,
    NGX_HTTP_SOCIAL_POINT_READ_GEN,
    NGX_HTTP_SOCIAL_POINT_READ_KEYS
};


static ngx_int_t ngx_http_social_point_fields(ngx_pool_t *pool,
    ngx_http_social_point_t *point);
static u_char *ngx_http_social_point_field(ngx_http_social_point_t *point,
    ngx_uint_t which);
static void ngx_http_social_point_cmd(ngx_http_social_redis_cmd_t *cmd,
    const char **argv, size_t *lens, int argc);
static ngx_int_t ngx_http_social_point_owner(redisReply *r, int64_t *user,
    int64_t *conversation);
static ngx_int_t ngx_http_social_point_latest(ngx_pool_t *pool,
    ngx_str_t *utterance, redisReply *r, ngx_str_t *out);


/*
 * 1. the read: what the checks need (owned_handler), then what the points'
 * spellings and latest utterances are now (handler), two commands one
 * after the other on the connection
 */

ngx_int_t
ngx_http_social_point_read(ngx_http_social_ctx_t *ctx,
    ngx_http_social_point_record_t *rec, ngx_http_social_point_t *points,
    ngx_uint_t n, ngx_http_social_redis_handler_pt owned_handler,
    ngx_http_social_redis_handler_pt handler)
{
    u_char       *p, *keys;
    size_t       *lens;
    ngx_uint_t    i, f, argc;
    const char  **argv;

    /* the keys: the owner entry, the generation, the hash of counts */

    keys = ngx_pnalloc(ctx->pool,
                       sizeof(NGX_HTTP_SOCIAL_KEY_POINT_OWNER)
                       + sizeof(NGX_HTTP_SOCIAL_KEY_GEN)
                       + sizeof(NGX_HTTP_SOCIAL_KEY_POINT_USER)
                       + 3 * NGX_INT64_LEN);
    if (keys == NULL) {
        return NGX_ABORT;
    }

    argc = 4 + 2 + 2 * n;

    argv = ngx_palloc(ctx->pool, argc * sizeof(char *));
    lens = ngx_palloc(ctx->pool, argc * sizeof(size_t));

    if (argv == NULL || lens == NULL) {
        return NGX_ABORT;
    }

    argv[0] = "MGET";
    lens[0] = sizeof("MGET") - 1;
    argv[1] = NGX_HTTP_SOCIAL_KEY_REV;
    lens[1] = sizeof(NGX_HTTP_SOCIAL_KEY_REV) - 1;

    p = ngx_sprintf(keys, NGX_HTTP_SOCIAL_KEY_POINT_OWNER "%L",
                    rec->utterance);
    argv[2] = (char *) keys;
    lens[2] = p - keys;

    argv[3] = (char *) p;
    keys = p;
    p = ngx_sprintf(p, NGX_HTTP_SOCIAL_KEY_GEN "%L", rec->reader);
    lens[3] = p - keys;

    argv[4] = "HMGET";
    lens[4] = sizeof("HMGET") - 1;
    argv[5] = (char *) p;
    keys = p;
    p = ngx_sprintf(p, NGX_HTTP_SOCIAL_KEY_POINT_USER "%L", rec->reader);
    lens[5] = p - keys;

    for (i = 0, f = 6; i < n; i++, f += 2) {
        if (ngx_http_social_point_fields(ctx->pool, &points[i]) != NGX_OK) {
            return NGX_ABORT;
        }

        argv[f] = (char *) ngx_http_social_point_field(&points[i],
                                               NGX_HTTP_SOCIAL_POINT_FIELD_S);
        argv[f + 1] = (char *) ngx_http_social_point_field(&points[i],
                                               NGX_HTTP_SOCIAL_POINT_FIELD_U);
        lens[f] = 1 + points[i].key.len;
        lens[f + 1] = 1 + points[i].key.len;
    }

    /*
     * no transaction: what they read need not be of one instant (the
     * write checks nothing of the second)
     */

    if (ngx_http_social_redis_command(ctx, owned_handler, 4, argv, lens)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_social_redis_command(ctx, handler, 2 + 2 * n, &argv[4],
                                         &lens[4]);
}


/*
 * 2. the first read's reply, checked as the record script checks: NGX_OK,
 * the reader's own utterance; NGX_DECLINED, the record script decides (no
 * usable owner entry, another's utterance, the body's ids not the
 * entry's); NGX_HTTP_SOCIAL_POINT_GONE, a deleted user's; NGX_ERROR, not
 * an MGET's reply
 */

ngx_int_t
ngx_http_social_point_owned(redisReply *reply,
    ngx_http_social_point_record_t *rec)
{
    int64_t      rev, user, conversation;
    redisReply  *r;

    if (reply->type != REDIS_REPLY_ARRAY
        || reply->elements != NGX_HTTP_SOCIAL_POINT_READ_KEYS)
    {
        return NGX_ERROR;
    }

    /* Redis holds every revocation record this worker has read */

    r = reply->element[NGX_HTTP_SOCIAL_POINT_READ_REV];
    rev = 0;

    if (r->type == REDIS_REPLY_STRING) {
        if (ngx_http_social_atoi64((u_char *) r->str, r->len, &rev)
            != NGX_OK)
        {
            rev = 0;
        }

    } else if (r->type != REDIS_REPLY_NIL) {
        return NGX_ERROR;
    }

    if (rev < rec->rev) {
        return NGX_DECLINED;
    }

    /* the owner entry: the reader's own utterance */

    r = reply->element[NGX_HTTP_SOCIAL_POINT_READ_OWNER];

    if (ngx_http_social_point_owner(r, &user, &conversation) != NGX_OK
        || user != rec->reader)
    {
        return NGX_DECLINED;
    }

    r = reply->element[NGX_HTTP_SOCIAL_POINT_READ_GEN];

    if (r->type == REDIS_REPLY_STRING
        && r->len == sizeof(NGX_HTTP_SOCIAL_GEN_GONE_TEXT) - 1
        && ngx_memcmp(r->str, NGX_HTTP_SOCIAL_GEN_GONE_TEXT, r->len) == 0)
    {
        return NGX_HTTP_SOCIAL_POINT_GONE;
    }

    if ((rec->user && rec->user != user)
        || (rec->conversation && rec->conversation != conversation))
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * 2. the second read's reply, for the reader's own utterance: each
 * point's spell and latest set, NGX_OK; NGX_ERROR, not an HMGET's reply
 * (the reader's counts' key of another type); NGX_ABORT, no memory
 */

ngx_int_t
ngx_http_social_point_found(ngx_http_social_ctx_t *ctx, redisReply *reply,
    ngx_http_social_point_record_t *rec, ngx_http_social_point_t *points,
    ngx_uint_t n)
{
    u_char      *p;
    ngx_str_t    utterance;
    ngx_uint_t   i;
    redisReply  *r;
    u_char       text[NGX_INT64_LEN];

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 * n) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(text, "%L", rec->utterance);
    utterance.data = text;
    utterance.len = p - text;

    for (i = 0; i < n; i++) {
        r = reply->element[2 * i];

        if (r->type != REDIS_REPLY_NIL && r->type != REDIS_REPLY_STRING) {
            return NGX_ERROR;
        }

        points[i].spell = (r->type == REDIS_REPLY_NIL);

        r = reply->element[2 * i + 1];

        if (r->type != REDIS_REPLY_NIL && r->type != REDIS_REPLY_STRING) {
            return NGX_ERROR;
        }

        if (ngx_http_social_point_latest(ctx->pool, &utterance, r,
                                         &points[i].latest)
            != NGX_OK)
        {
            return NGX_ABORT;
        }
    }

    return NGX_OK;
}


/* 3. the write, in the joint transaction */

ngx_int_t
ngx_http_social_point_write(ngx_http_social_ctx_t *ctx,
    ngx_http_social_point_record_t *rec, ngx_http_social_point_t *points,
    ngx_uint_t n, ngx_http_social_redis_handler_pt handler)
{
    u_char                       *p, *counts, *user, *id;
    size_t                       *lens, counts_len, user_len;
    int64_t                       ms;
    ngx_str_t                    *rows, who;
    ngx_uint_t                    i, c, a, nlatest, ncmds, argc;
    ngx_time_t                   *tp;
    const char                  **argv;
    ngx_http_social_redis_cmd_t  *cmds;
    u_char                        rnd[NGX_HTTP_SOCIAL_POINTS_MAX
                                      * NGX_HTTP_SOCIAL_POINT_ID_LEN];

    if (n > NGX_HTTP_SOCIAL_POINTS_MAX) {
        return NGX_ABORT;
    }

    counts = ngx_pnalloc(ctx->pool, sizeof(NGX_HTTP_SOCIAL_KEY_POINT_USER)
                                    + 2 * NGX_INT64_LEN);
    rows = ngx_palloc(ctx->pool, n * sizeof(ngx_str_t));

    if (counts == NULL || rows == NULL) {
        return NGX_ABORT;
    }

    p = ngx_sprintf(counts, NGX_HTTP_SOCIAL_KEY_POINT_USER "%L", rec->reader);
    counts_len = p - counts;
    user = p;
    p = ngx_sprintf(p, "%L", rec->reader);
    user_len = p - user;

    /* the rows, with their random ids */

    if (ngx_http_social_random(rnd, n * NGX_HTTP_SOCIAL_POINT_ID_LEN)
        != NGX_OK)
    {
        return NGX_ABORT;
    }

    tp = ngx_timeofday();
    ms = (int64_t) tp->sec * 1000 + tp->msec;

    nlatest = 0;

    for (i = 0, id = rnd; i < n; i++, id += NGX_HTTP_SOCIAL_POINT_ID_LEN) {
        if (ngx_http_social_point_row(ctx->pool, rec->reader, rec->utterance,
                                      &points[i], ms, id, &rows[i])
            != NGX_OK)
        {
            return NGX_ABORT;
        }

        nlatest += (points[i].latest.len != 0);
    }

    /*
     * HINCRBY and HSETNX a point, HSET of the latest utterances; the RPUSH
     * of the rows and the SADD of the user are the joint's
     * (ngx_http_social_point_joint.c), whose reply puts them first and
     * last
     */

    ncmds = 2 * n + 1;
    argc = 4 * n + 4 * n + 2 + 2 * nlatest;

    cmds = ngx_palloc(ctx->pool, ncmds * sizeof(ngx_http_social_redis_cmd_t));
    argv = ngx_palloc(ctx->pool, argc * sizeof(char *));
    lens = ngx_palloc(ctx->pool, argc * sizeof(size_t));

    if (cmds == NULL || argv == NULL || lens == NULL) {
        return NGX_ABORT;
    }

    c = 0;
    a = 0;

    for (i = 0; i < n; i++) {
        ngx_http_social_point_cmd(&cmds[c++], &argv[a], &lens[a], 4);

        argv[a] = "HINCRBY";
        lens[a++] = sizeof("HINCRBY") - 1;
        argv[a] = (char *) counts;
        lens[a++] = counts_len;
        argv[a] = (char *) ngx_http_social_point_field(&points[i],
                                               NGX_HTTP_SOCIAL_POINT_FIELD_N);
        lens[a++] = 1 + points[i].key.len;
        argv[a] = "1";
        lens[a++] = 1;

        if (!points[i].spell) {
            continue;
        }

        ngx_http_social_point_cmd(&cmds[c++], &argv[a], &lens[a], 4);

        argv[a] = "HSETNX";
        lens[a++] = sizeof("HSETNX") - 1;
        argv[a] = (char *) counts;
        lens[a++] = counts_len;
        argv[a] = (char *) ngx_http_social_point_field(&points[i],
                                               NGX_HTTP_SOCIAL_POINT_FIELD_S);
        lens[a++] = 1 + points[i].key.len;
        argv[a] = (char *) points[i].spelling.data;
        lens[a++] = points[i].spelling.len;
    }

    if (nlatest) {
        ngx_http_social_point_cmd(&cmds[c++], &argv[a], &lens[a],
                                  2 + 2 * nlatest);

        argv[a] = "HSET";
        lens[a++] = sizeof("HSET") - 1;
        argv[a] = (char *) counts;
        lens[a++] = counts_len;

        for (i = 0; i < n; i++) {
            if (points[i].latest.len == 0) {
                continue;
            }

            argv[a] = (char *) ngx_http_social_point_field(&points[i],
                                               NGX_HTTP_SOCIAL_POINT_FIELD_U);
            lens[a++] = 1 + points[i].key.len;
            argv[a] = (char *) points[i].latest.data;
            lens[a++] = points[i].latest.len;
        }
    }

    who.data = user;
    who.len = user_len;

    if (ngx_http_social_point_join(ctx, cmds, c, rows, n, &who, handler)
        != NGX_OK)
    {
        return NGX_ABORT;
    }

    return NGX_OK;
}


/*
 * 3. the write's reply: NGX_OK, every command ran; NGX_DONE, the rows are
 * in (the points recorded) but Redis refused another command
 * (ngx_http_social_point_error() says which); NGX_ERROR, the rows are not
 * in
 */

ngx_int_t
ngx_http_social_point_written(redisReply *reply)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0
        || reply->element[0]->type != REDIS_REPLY_INTEGER)
    {
        return NGX_ERROR;
    }

    return ngx_http_social_point_error(reply) ? NGX_DONE : NGX_OK;
}


/*
 * 3. after the write: a count it began (HINCRBY 1) whose spelling the
 * read had found was begun in a new hash (a batch cut in between), which
 * has no spelling: it is set now, fire and forget (the commands' replies
 * in the order ngx_http_social_point_write() sent them)
 */

void
ngx_http_social_point_respell(ngx_http_social_ctx_t *ctx, redisReply *reply,
    ngx_http_social_point_record_t *rec, ngx_http_social_point_t *points,
    ngx_uint_t n)
{
    u_char       *p;
    size_t        lens[4];
    ngx_uint_t    i, k;
    const char   *argv[4];
    redisReply   *r;
    u_char        counts[sizeof(NGX_HTTP_SOCIAL_KEY_POINT_USER)
                         + NGX_INT64_LEN];

    p = NULL;

    for (i = 0, k = 1; i < n && k < reply->elements; i++) {
        r = reply->element[k];
        k += points[i].spell ? 2 : 1;

        if (points[i].spell || r->type != REDIS_REPLY_INTEGER
            || r->integer != 1)
        {
            continue;
        }

        if (p == NULL) {
            p = ngx_sprintf(counts, NGX_HTTP_SOCIAL_KEY_POINT_USER "%L",
                            rec->reader);
        }

        argv[0] = "HSETNX";
        lens[0] = sizeof("HSETNX") - 1;
        argv[1] = (char *) counts;
        lens[1] = p - counts;
        argv[2] = (char *) ngx_http_social_point_field(&points[i],
                                               NGX_HTTP_SOCIAL_POINT_FIELD_S);
        lens[2] = 1 + points[i].key.len;
        argv[3] = (char *) points[i].spelling.data;
        lens[3] = points[i].spelling.len;

        (void) ngx_http_social_redis_command(ctx, NULL, 4, argv, lens);
    }
}


/* a transaction's reply: its error (EXEC's, or a command's), or NULL */

redisReply *
ngx_http_social_point_error(redisReply *reply)
{
    size_t  i;

    if (reply->type == REDIS_REPLY_ERROR) {
        return reply;
    }

    if (reply->type != REDIS_REPLY_ARRAY) {
        return NULL;
    }

    for (i = 0; i < reply->elements; i++) {
        if (reply->element[i]->type == REDIS_REPLY_ERROR) {
            return reply->element[i];
        }
    }

    return NULL;
}


/* a point's fields in its user's hash, "n", "s" and "u" and its key */

static ngx_int_t
ngx_http_social_point_fields(ngx_pool_t *pool, ngx_http_social_point_t *point)
{
    u_char  *p;

    p = ngx_pnalloc(pool, NGX_HTTP_SOCIAL_POINT_FIELDS * (1 + point->key.len));
    if (p == NULL) {
        return NGX_ERROR;
    }

    point->fields = p;

    *p++ = 'n';
    p = ngx_cpymem(p, point->key.data, point->key.len);
    *p++ = 's';
    p = ngx_cpymem(p, point->key.data, point->key.len);
    *p++ = 'u';
    ngx_memcpy(p, point->key.data, point->key.len);

    return NGX_OK;
}


/* one of them (ngx_http_social_point_fields() made them) */

static u_char *
ngx_http_social_point_field(ngx_http_social_point_t *point, ngx_uint_t which)
{
    return point->fields + which * (1 + point->key.len);
}


/* a command of the write, its argc arguments at argv and lens */

static void
ngx_http_social_point_cmd(ngx_http_social_redis_cmd_t *cmd,
    const char **argv, size_t *lens, int argc)
{
    cmd->argc = argc;
    cmd->argv = argv;
    cmd->argvlen = lens;
}


/* "<user>:<conversation>", both [1-9][0-9]*: NGX_OK with the two */

static ngx_int_t
ngx_http_social_point_owner(redisReply *r, int64_t *user,
    int64_t *conversation)
{
    u_char  *p, *colon, *end;

    if (r->type != REDIS_REPLY_STRING) {
        return NGX_DECLINED;
    }

    p = (u_char *) r->str;
    end = p + r->len;

    colon = ngx_strlchr(p, end, ':');

    if (colon == NULL || colon == p || colon + 1 == end
        || *p == '0' || colon[1] == '0')
    {
        return NGX_DECLINED;
    }

    if (ngx_http_social_atoi64(p, colon - p, user) != NGX_OK
        || ngx_http_social_atoi64(colon + 1, end - colon - 1, conversation)
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * The latest utterances with a point's key once this one is recorded:
 * this one, then up to NGX_HTTP_SOCIAL_POINT_LATEST - 1 of the others as
 * they were, newest first ("12,9,4"); out->len 0 when this one is first
 * already (nothing changes)
 */

static ngx_int_t
ngx_http_social_point_latest(ngx_pool_t *pool, ngx_str_t *utterance,
    redisReply *r, ngx_str_t *out)
{
    u_char      *p, *q, *end, *d;
    ngx_uint_t   kept;

    p = (u_char *) (r->type == REDIS_REPLY_STRING ? r->str : "");
    end = p + (r->type == REDIS_REPLY_STRING ? r->len : 0);

    for (q = p; q < end && *q >= '0' && *q <= '9'; q++) { /* void */ }

    if ((size_t) (q - p) == utterance->len
        && ngx_memcmp(p, utterance->data, utterance->len) == 0)
    {
        out->len = 0;
        return NGX_OK;
    }

    /* each id kept takes a comma, and ids are apart by one byte at least */

    d = ngx_pnalloc(pool, utterance->len + 1 + (end - p));
    if (d == NULL) {
        return NGX_ERROR;
    }

    out->data = d;
    d = ngx_cpymem(d, utterance->data, utterance->len);
    kept = 1;

    while (kept < NGX_HTTP_SOCIAL_POINT_LATEST) {

        while (p < end && (*p < '0' || *p > '9')) {
            p++;
        }

        for (q = p; q < end && *q >= '0' && *q <= '9'; q++) { /* void */ }

        if (q == p) {
            break;
        }

        if ((size_t) (q - p) != utterance->len
            || ngx_memcmp(p, utterance->data, utterance->len) != 0)
        {
            *d++ = ',';
            d = ngx_cpymem(d, p, q - p);
            kept++;
        }

        p = q;
    }

    out->len = d - out->data;

    return NGX_OK;
}
