
/*
 * Copyright (C) ngx_social developers
 */


/*
 * Error points: POST /errors records them in Redis at once, the flush
 * (ngx_http_social_flush.c) moves them to PostgreSQL in batches, and
 * GET /exercises adds what still waits in Redis to PostgreSQL's totals.
 * This file owns the Redis side, every key and script of it:
 *
 *   social:err:rows          list, one JSON row an error point,
 *                            [user, utterance, "Category", "Subcategory",
 *                            unix ms, "point id"], in the order accepted;
 *                            the point id (128 random bits) makes a row
 *                            land once, whatever Redis forgets or repeats
 *   social:err:u:<user>      hash of the user's pending counts: for each
 *                            key ["category","subcategory"] (normalised,
 *                            ASCII lower case), "n<key>" the count,
 *                            "s<key>" the first spelling ["Cat","Sub"],
 *                            "u<key>" the latest utterances with it, up
 *                            to 20, newest first: "12,9,4"
 *   social:err:dirty         set, the users with a pending hash
 *   social:err:epoch         random, set once: batch ids are <epoch>:<seq>,
 *   social:err:seq           so a Redis that lost its data never reuses one
 *   social:err:open          the batch being applied, if any (one at most)
 *   social:err:b:<batch>:rows, :u:<user>, :users
 *                            the batch: the rows and hashes moved aside
 *   social:err:failed        the open batch, when a run failed on it for a
 *                            reason other than a backend out of reach:
 *                            the next run takes its rows one at a time
 *   social:err:held          hash, n => "<batch> <reason>": batches that
 *   social:err:held:<n>:rows, :u:<user>, :users
 *                            failed twice, moved out of the way of the
 *                            points behind them and kept for the operator
 *   social:err:held:n        the last n
 *
 * Every change is one Lua script, so it is atomic: a point is in the rows
 * and in its user's counts, or in neither.  A batch is cut by renaming the
 * pending keys (cheap whatever their size); it is deleted only after the
 * PostgreSQL transaction that records its id has committed.  The scripts
 * name their keys themselves (one Redis, not a cluster).  What a row and
 * a spelling must be is checked in ngx_http_social_errors_check.c.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_request.h"

#include <openssl/rand.h>


#define NGX_HTTP_SOCIAL_ERRORS_MAX        50
#define NGX_HTTP_SOCIAL_ERRORS_FIELD_MAX  64

/* "<epoch>:<seq>": 16 hex digits, a colon, at most 20 digits */
#define NGX_HTTP_SOCIAL_ERRORS_BATCH_LEN  64

/* the most a script takes: 3 keys, user, utterance, 3 for each point */
#define NGX_HTTP_SOCIAL_ERRORS_ARGS       (5 + 3 * NGX_HTTP_SOCIAL_ERRORS_MAX)


typedef struct {
    ngx_str_t                       key;        /* ["cat","sub"] */
    ngx_str_t                       spelling;   /* ["Cat","Sub"] */
    ngx_str_t                       category;
    ngx_str_t                       subcategory;
} ngx_http_social_error_point_t;


typedef struct {
    int64_t                         utterance_id;
    int64_t                         user_id;        /* of the body, or 0 */
    int64_t                         conversation_id;    /* or 0 */
    ngx_uint_t                      npoints;
    ngx_http_social_error_point_t   points[NGX_HTTP_SOCIAL_ERRORS_MAX];
    const char                     *values[3];
} ngx_http_social_errors_t;


static ngx_int_t ngx_http_social_errors_point(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *item, ngx_uint_t i,
    ngx_http_social_error_point_t *point);
static ngx_int_t ngx_http_social_errors_field(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *item, ngx_uint_t i, const char *name,
    const char *alias, ngx_str_t *value);
static ngx_int_t ngx_http_social_errors_text(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *v, const char *field, ngx_str_t *value);
static ngx_int_t ngx_http_social_errors_pair(ngx_pool_t *pool, ngx_str_t *a,
    ngx_str_t *b, ngx_str_t *out);
static ngx_int_t ngx_http_social_errors_row(ngx_pool_t *pool,
    int64_t user, int64_t utterance, ngx_http_social_error_point_t *point,
    int64_t ms, ngx_str_t *out);
static void ngx_http_social_errors_owner(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_errors_recorded(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static ngx_int_t ngx_http_social_errors_eval(ngx_http_social_ctx_t *ctx,
    ngx_http_social_redis_handler_pt handler,
    ngx_http_social_script_t *script,
    ngx_uint_t nkeys, ngx_uint_t nargs, const char **args, size_t *lens);


/* the utterance's user and conversation; whether the body's ids name any */
static const char  ngx_http_social_sql_errors_owner[] =
    "SELECT u.user_id, u.conversation_id, "
    "       $2::bigint = 0 "
    "       OR EXISTS (SELECT 1 FROM users WHERE user_id = $2), "
    "       $3::bigint = 0 "
    "       OR EXISTS (SELECT 1 FROM conversations "
    "                   WHERE conversation_id = $3) "
    "  FROM utterances u WHERE u.utterance_id = $1";


/*
 * KEYS: the rows, the user's hash, the dirty set; ARGV: the user, the
 * utterance, then key, spelling and row of each error point
 */

static ngx_http_social_script_t  ngx_http_social_errors_record_script = {
    "local c = 0\n"
    "for i = 3, #ARGV, 3 do\n"
    "  redis.call('HINCRBY', KEYS[2], 'n' .. ARGV[i], 1)\n"
    "  redis.call('HSETNX', KEYS[2], 's' .. ARGV[i], ARGV[i + 1])\n"
    "  local u, n = ARGV[2], 1\n"
    "  for id in string.gmatch(redis.call('HGET', KEYS[2], 'u' .. ARGV[i])\n"
    "                          or '', '%d+') do\n"
    "    if id ~= ARGV[2] and n < 20 then u = u .. ',' .. id; n = n + 1 end\n"
    "  end\n"
    "  redis.call('HSET', KEYS[2], 'u' .. ARGV[i], u)\n"
    "  redis.call('RPUSH', KEYS[1], ARGV[i + 2])\n"
    "  c = c + 1\n"
    "end\n"
    "redis.call('SADD', KEYS[3], ARGV[1])\n"
    "return c\n",
    ""
};


/*
 * ARGV[1]: an epoch to use if Redis has none, or one not as written.  The
 * open batch, or a new one cut from what is pending, as {"<epoch>:<seq>",
 * its rows (-1: its rows are not a list), 1 if new, 1 if a run failed on
 * it}; nil: nothing to do
 */

static ngx_http_social_script_t  ngx_http_social_errors_cut_script = {
    "local open = redis.call('GET', 'social:err:open')\n"
    "local fresh = 0\n"
    "if not open then\n"
    "  if redis.call('EXISTS', 'social:err:rows') == 0 then\n"
    "    return false\n"
    "  end\n"
    "  local e = redis.call('GET', 'social:err:epoch')\n"
    "  local s = redis.call('GET', 'social:err:seq') or '0'\n"
    "  if not e or #e ~= 16 or string.find(e, '[^0-9a-f]')\n"
    "     or #s == 0 or #s > 15 or string.find(s, '[^0-9]') then\n"
    "    redis.call('SET', 'social:err:epoch', ARGV[1])\n"
    "    redis.call('SET', 'social:err:seq', 0)\n"
    "  end\n"
    "  open = redis.call('GET', 'social:err:epoch') .. ':'\n"
    "         .. redis.call('INCR', 'social:err:seq')\n"
    "  local b = 'social:err:b:' .. open\n"
    "  redis.call('RENAME', 'social:err:rows', b .. ':rows')\n"
    "  for _, u in ipairs(redis.call('SMEMBERS', 'social:err:dirty')) do\n"
    "    if redis.call('EXISTS', 'social:err:u:' .. u) == 1 then\n"
    "      redis.call('RENAME', 'social:err:u:' .. u, b .. ':u:' .. u)\n"
    "      redis.call('SADD', b .. ':users', u)\n"
    "    end\n"
    "  end\n"
    "  redis.call('DEL', 'social:err:dirty')\n"
    "  redis.call('SET', 'social:err:open', open)\n"
    "  fresh = 1\n"
    "end\n"
    "local rows = 'social:err:b:' .. open .. ':rows'\n"
    "local n = 0\n"
    "local t = redis.call('TYPE', rows)['ok']\n"
    "if t == 'list' then n = redis.call('LLEN', rows)\n"
    "elseif t ~= 'none' then n = -1 end\n"
    "local failed = redis.call('GET', 'social:err:failed') == open\n"
    "return {open, n, fresh, failed and 1 or 0}\n",
    ""
};


/* ARGV[1]: the batch "<epoch>:<seq>", applied: it goes */

static ngx_http_social_script_t  ngx_http_social_errors_ack_script = {
    "local b = 'social:err:b:' .. ARGV[1]\n"
    "for _, u in ipairs(redis.call('SMEMBERS', b .. ':users')) do\n"
    "  redis.call('UNLINK', b .. ':u:' .. u)\n"
    "end\n"
    "redis.call('UNLINK', b .. ':users', b .. ':rows')\n"
    "if redis.call('GET', 'social:err:open') == ARGV[1] then\n"
    "  redis.call('DEL', 'social:err:open')\n"
    "end\n"
    "if redis.call('GET', 'social:err:failed') == ARGV[1] then\n"
    "  redis.call('DEL', 'social:err:failed')\n"
    "end\n"
    "return 1\n",
    ""
};


/*
 * ARGV[1]: a batch that failed twice, ARGV[2] why.  Its keys move out of
 * the way, renamed under social:err:held:<n>, kept for the operator; the
 * points pending behind it go on.  Returns n
 */

static ngx_http_social_script_t  ngx_http_social_errors_hold_script = {
    "local b = 'social:err:b:' .. ARGV[1]\n"
    "local n = redis.call('INCR', 'social:err:held:n')\n"
    "local h = 'social:err:held:' .. n\n"
    "if redis.call('TYPE', b .. ':users')['ok'] == 'set' then\n"
    "  for _, u in ipairs(redis.call('SMEMBERS', b .. ':users')) do\n"
    "    if redis.call('EXISTS', b .. ':u:' .. u) == 1 then\n"
    "      redis.call('RENAME', b .. ':u:' .. u, h .. ':u:' .. u)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "for _, k in ipairs({':users', ':rows'}) do\n"
    "  if redis.call('EXISTS', b .. k) == 1 then\n"
    "    redis.call('RENAME', b .. k, h .. k)\n"
    "  end\n"
    "end\n"
    "redis.call('HSET', 'social:err:held', n, ARGV[1] .. ' ' .. ARGV[2])\n"
    "if redis.call('GET', 'social:err:open') == ARGV[1] then\n"
    "  redis.call('DEL', 'social:err:open')\n"
    "end\n"
    "redis.call('DEL', 'social:err:failed')\n"
    "return n\n",
    ""
};


/*
 * ARGV[1]: a user.  {epoch, seq, open batch, pending, the open batch's},
 * the last two flat lists of spelling, count, latest utterances
 */

static ngx_http_social_script_t  ngx_http_social_errors_view_script = {
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
    "local open = redis.call('GET', 'social:err:open')\n"
    "return {redis.call('GET', 'social:err:epoch') or '',\n"
    "        redis.call('GET', 'social:err:seq') or '0', open or '',\n"
    "        counts('social:err:u:' .. ARGV[1]),\n"
    "        open and counts('social:err:b:' .. open .. ':u:' .. ARGV[1])\n"
    "        or {}}\n",
    ""
};


/*
 * POST /errors {"utterance_id", "errors": [{"category", "subcategory"}],
 * "user_id"?, "conversation_id"?}: 422 for the body, 403 unless the
 * utterance is the reader's (an admin records for anyone), the body's ids
 * must be the utterance's, then one Redis script: 202 at once
 */

ngx_int_t
ngx_http_social_errors(ngx_http_social_ctx_t *ctx)
{
    ngx_int_t                  rc;
    ngx_uint_t                 i;
    ngx_http_social_json_t    *list, *item;
    ngx_http_social_errors_t  *e;

    e = ngx_pcalloc(ctx->request->pool, sizeof(ngx_http_social_errors_t));
    if (e == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->data = e;

    rc = ngx_http_social_json_id(ctx, ctx->body, "utterance_id",
                                 &e->utterance_id);

    if (rc == NGX_DECLINED) {
        ngx_http_social_note_invalid(ctx, "utterance_id", "is required");
    }

    if (rc != NGX_OK) {
        return ngx_http_social_unprocessable(ctx);
    }

    list = ngx_http_social_json_get(ctx->body, "errors");

    if (list == NULL || list->type == NGX_HTTP_SOCIAL_JSON_NULL) {
        ngx_http_social_note_invalid(ctx, "errors", "is required");
        return ngx_http_social_unprocessable(ctx);
    }

    if (list->type != NGX_HTTP_SOCIAL_JSON_ARRAY
        || list->nelts < 1 || list->nelts > NGX_HTTP_SOCIAL_ERRORS_MAX)
    {
        ngx_http_social_note_invalid(ctx, "errors",
                                     "must be an array of 1 to 50 errors");
        return ngx_http_social_unprocessable(ctx);
    }

    for (item = list->first, i = 0; item; item = item->next, i++) {
        if (ngx_http_social_errors_point(ctx, item, i, &e->points[i])
            != NGX_OK)
        {
            return ctx->field ? ngx_http_social_unprocessable(ctx)
                              : NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    e->npoints = i;

    rc = ngx_http_social_json_id(ctx, ctx->body, "user_id", &e->user_id);

    if (rc == NGX_ERROR) {
        return ngx_http_social_unprocessable(ctx);
    }

    rc = ngx_http_social_json_id(ctx, ctx->body, "conversation_id",
                                 &e->conversation_id);

    if (rc == NGX_ERROR) {
        return ngx_http_social_unprocessable(ctx);
    }

    if (e->user_id && e->user_id != ctx->user_id && !ctx->admin) {
        return ngx_http_social_forbidden(ctx);
    }

    e->values[0] = ngx_http_social_int64(ctx, e->utterance_id);
    e->values[1] = ngx_http_social_int64(ctx, e->user_id);
    e->values[2] = ngx_http_social_int64(ctx, e->conversation_id);

    if (e->values[0] == NULL || e->values[1] == NULL || e->values[2] == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_social_pg_or_503(ctx, ngx_http_social_sql_errors_owner, 3,
                                     e->values, ngx_http_social_errors_owner);
}


/* one item of "errors": its category and subcategory, in either spelling */

static ngx_int_t
ngx_http_social_errors_point(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *item, ngx_uint_t i,
    ngx_http_social_error_point_t *point)
{
    ngx_str_t  low_cat, low_sub;

    if (item->type != NGX_HTTP_SOCIAL_JSON_OBJECT) {
        return ngx_http_social_note_invalid(ctx,
                   ngx_http_social_json_path(ctx, "errors", i, NULL),
                   "must be an object with a category and a subcategory");
    }

    if (ngx_http_social_errors_field(ctx, item, i, "category",
                                     "errorCategory", &point->category)
        != NGX_OK
        || ngx_http_social_errors_field(ctx, item, i, "subcategory",
                                        "errorSubCategory",
                                        &point->subcategory)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the key ignores ASCII case: "grammar" and "Grammar" are one counter */

    low_cat.len = point->category.len;
    low_cat.data = ngx_pnalloc(ctx->request->pool, low_cat.len);
    low_sub.len = point->subcategory.len;
    low_sub.data = ngx_pnalloc(ctx->request->pool, low_sub.len);

    if (low_cat.data == NULL || low_sub.data == NULL) {
        return NGX_ERROR;
    }

    ngx_strlow(low_cat.data, point->category.data, low_cat.len);
    ngx_strlow(low_sub.data, point->subcategory.data, low_sub.len);

    if (ngx_http_social_errors_pair(ctx->request->pool, &low_cat, &low_sub,
                                    &point->key)
        != NGX_OK
        || ngx_http_social_errors_pair(ctx->request->pool, &point->category,
                                       &point->subcategory, &point->spelling)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * "category" or its other spelling "errorCategory" (both: they must say
 * the same); the field of a 422 names the member that was sent
 */

static ngx_int_t
ngx_http_social_errors_field(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *item, ngx_uint_t i, const char *name,
    const char *alias, ngx_str_t *value)
{
    ngx_str_t                other;
    const char              *field;
    ngx_http_social_json_t  *v, *a;

    v = ngx_http_social_json_get(item, name);
    a = ngx_http_social_json_get(item, alias);

    if (v && v->type == NGX_HTTP_SOCIAL_JSON_NULL) {
        v = NULL;
    }

    if (a && a->type == NGX_HTTP_SOCIAL_JSON_NULL) {
        a = NULL;
    }

    if (v == NULL && a == NULL) {
        return ngx_http_social_note_invalid(ctx,
                   ngx_http_social_json_path(ctx, "errors", i, name),
                   "is required");
    }

    if (v) {
        field = ngx_http_social_json_path(ctx, "errors", i, name);

        if (ngx_http_social_errors_text(ctx, v, field, value) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (a == NULL) {
        return NGX_OK;
    }

    field = ngx_http_social_json_path(ctx, "errors", i, alias);

    if (ngx_http_social_errors_text(ctx, a, field, v ? &other : value)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* both names of the field: one counter, so alike ignoring case */

    if (v && (other.len != value->len
              || ngx_strncasecmp(other.data, value->data, other.len) != 0))
    {
        return ngx_http_social_note_invalid(ctx, field,
                                            "differs from the other spelling");
    }

    return NGX_OK;
}


/*
 * a string without NUL, trimmed, inner white space collapsed to one space,
 * then 1..64 code points
 */

static ngx_int_t
ngx_http_social_errors_text(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *v, const char *field, ngx_str_t *value)
{
    u_char      *p, *q, *last, c;
    size_t       n;
    ngx_uint_t   space;

    if (v->type != NGX_HTTP_SOCIAL_JSON_STRING) {
        return ngx_http_social_note_invalid(ctx, field, "must be a string");
    }

    p = v->str.data;
    last = p + v->str.len;

    if (ngx_strlchr(p, last, '\0') != NULL) {
        return ngx_http_social_note_invalid(ctx, field,
                                            "must not contain NUL");
    }

    value->data = ngx_pnalloc(ctx->request->pool, v->str.len + 1);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    q = value->data;
    space = 0;

    for ( /* void */ ; p < last; p++) {
        c = *p;

        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
            || c == '\v')
        {
            space = 1;
            continue;
        }

        if (space && q != value->data) {
            *q++ = ' ';
        }

        space = 0;
        *q++ = c;
    }

    *q = '\0';
    value->len = q - value->data;

    n = ngx_utf8_length(value->data, value->len);

    if (n < 1 || n > NGX_HTTP_SOCIAL_ERRORS_FIELD_MAX) {
        return ngx_http_social_note_invalid(ctx, field,
                   "must be 1 to 64 characters long after trimming");
    }

    return NGX_OK;
}


/* ["a","b"] */

static ngx_int_t
ngx_http_social_errors_pair(ngx_pool_t *pool, ngx_str_t *a, ngx_str_t *b,
    ngx_str_t *out)
{
    size_t          len;
    yajl_gen        g;
    const u_char   *buf;

    g = ngx_http_social_json_gen(pool);
    if (g == NULL) {
        return NGX_ERROR;
    }

    yajl_gen_array_open(g);
    yajl_gen_string(g, a->data, a->len);
    yajl_gen_string(g, b->data, b->len);
    yajl_gen_array_close(g);

    if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
        return NGX_ERROR;
    }

    /* the buffer is the pool's: it stays */

    out->data = (u_char *) buf;
    out->len = len;

    return NGX_OK;
}


/* [user, utterance, "Category", "Subcategory", unix ms, "point id"] */

static ngx_int_t
ngx_http_social_errors_row(ngx_pool_t *pool, int64_t user, int64_t utterance,
    ngx_http_social_error_point_t *point, int64_t ms, ngx_str_t *out)
{
    size_t          len;
    yajl_gen        g;
    const u_char   *buf;
    u_char          id[16], hex[32];

    if (RAND_bytes(id, sizeof(id)) != 1) {
        return NGX_ERROR;
    }

    ngx_hex_dump(hex, id, sizeof(id));

    g = ngx_http_social_json_gen(pool);
    if (g == NULL) {
        return NGX_ERROR;
    }

    yajl_gen_array_open(g);
    yajl_gen_integer(g, user);
    yajl_gen_integer(g, utterance);
    yajl_gen_string(g, point->category.data, point->category.len);
    yajl_gen_string(g, point->subcategory.data, point->subcategory.len);
    yajl_gen_integer(g, ms);
    yajl_gen_string(g, hex, sizeof(hex));
    yajl_gen_array_close(g);

    if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
        return NGX_ERROR;
    }

    out->data = (u_char *) buf;
    out->len = len;

    return NGX_OK;
}


static void
ngx_http_social_errors_owner(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    u_char                    *p;
    int64_t                    owner, ms;
    ngx_str_t                  row;
    ngx_uint_t                 i, n;
    ngx_time_t                *tp;
    size_t                     lens[NGX_HTTP_SOCIAL_ERRORS_ARGS];
    const char                *args[NGX_HTTP_SOCIAL_ERRORS_ARGS];
    u_char                     user[NGX_INT64_LEN + 1];
    u_char                     key[sizeof("social:err:u:") + NGX_INT64_LEN];
    ngx_http_social_errors_t  *e = ctx->data;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    if (PQntuples(res) == 0) {
        ngx_http_social_done(ctx,
                             ngx_http_social_no_such(ctx, "utterance_id"));
        return;
    }

    owner = ngx_atoof((u_char *) PQgetvalue(res, 0, 0),
                      PQgetlength(res, 0, 0));

    if (owner != ctx->user_id && !ctx->admin) {
        ngx_http_social_done(ctx, ngx_http_social_forbidden(ctx));
        return;
    }

    /* an id in the body that names nothing: 404 with the field */

    if (PQgetvalue(res, 0, 2)[0] != 't' || PQgetvalue(res, 0, 3)[0] != 't') {
        ngx_http_social_done(ctx, ngx_http_social_no_such(ctx,
                                      PQgetvalue(res, 0, 2)[0] != 't'
                                      ? "user_id" : "conversation_id"));
        return;
    }

    if (e->user_id && e->user_id != owner) {
        ngx_http_social_note_invalid(ctx, "user_id",
                                     "does not match the utterance's user");
        ngx_http_social_done(ctx, ngx_http_social_unprocessable(ctx));
        return;
    }

    if (e->conversation_id
        && e->conversation_id != ngx_atoof((u_char *) PQgetvalue(res, 0, 1),
                                           PQgetlength(res, 0, 1)))
    {
        ngx_http_social_note_invalid(ctx, "conversation_id",
                              "does not match the utterance's conversation");
        ngx_http_social_done(ctx, ngx_http_social_unprocessable(ctx));
        return;
    }

    tp = ngx_timeofday();
    ms = (int64_t) tp->sec * 1000 + tp->msec;

    n = 0;

    args[n] = "social:err:rows";
    lens[n++] = sizeof("social:err:rows") - 1;

    p = ngx_sprintf(key, "social:err:u:%L", owner);
    args[n] = (char *) key;
    lens[n++] = p - key;

    args[n] = "social:err:dirty";
    lens[n++] = sizeof("social:err:dirty") - 1;

    p = ngx_sprintf(user, "%L", owner);
    args[n] = (char *) user;
    lens[n++] = p - user;

    args[n] = e->values[0];
    lens[n++] = ngx_strlen(e->values[0]);

    for (i = 0; i < e->npoints; i++) {
        if (ngx_http_social_errors_row(ctx->request->pool, owner,
                                       e->utterance_id, &e->points[i], ms,
                                       &row)
            != NGX_OK)
        {
            ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        args[n] = (char *) e->points[i].key.data;
        lens[n++] = e->points[i].key.len;
        args[n] = (char *) e->points[i].spelling.data;
        lens[n++] = e->points[i].spelling.len;
        args[n] = (char *) row.data;
        lens[n++] = row.len;
    }

    if (ngx_http_social_errors_eval(ctx, ngx_http_social_errors_recorded,
                                    &ngx_http_social_errors_record_script, 3,
                                    n, args, lens)
        != NGX_OK)
    {
        ngx_http_social_done(ctx, ngx_http_social_unavailable(ctx, "Redis"));
    }
}


static void
ngx_http_social_errors_recorded(ngx_http_social_ctx_t *ctx,
    redisReply *reply)
{
    yajl_gen                   g;
    ngx_http_social_errors_t  *e = ctx->data;

    if (reply == NULL) {
        ngx_http_social_done(ctx, ngx_http_social_unavailable(ctx, "Redis"));
        return;
    }

    if (reply->type != REDIS_REPLY_INTEGER) {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "social: recording errors failed: %*s",
                      reply->type == REDIS_REPLY_ERROR ? reply->len : 0,
                      reply->str);
        ngx_http_social_done(ctx, ngx_http_social_unavailable(ctx, "Redis"));
        return;
    }

    g = ngx_http_social_json_gen(ctx->request->pool);
    if (g == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_social_json_str(g, "utterance_id");
    yajl_gen_integer(g, e->utterance_id);
    ngx_http_social_json_str(g, "recorded");
    yajl_gen_integer(g, reply->integer);
    yajl_gen_map_close(g);

    ngx_http_social_done(ctx, ngx_http_social_send(ctx, NGX_HTTP_ACCEPTED,
                                                   g));
}


/*
 * a deleted user: what waits for them goes (best effort: the flush skips
 * rows whose utterance is gone, so nothing of theirs lands anyway)
 */

void
ngx_http_social_errors_forget(ngx_http_social_ctx_t *ctx, int64_t user_id)
{
    u_char       *p;
    size_t        lens[2];
    const char   *args[2];
    u_char        key[sizeof("social:err:u:") + NGX_INT64_LEN];

    args[0] = "DEL";
    lens[0] = 3;
    p = ngx_sprintf(key, "social:err:u:%L", user_id);
    args[1] = (char *) key;
    lens[1] = p - key;

    /*
     * its entry in the dirty set stays: the next cut skips a user without
     * a hash, and a point recorded meanwhile keeps its hash reachable
     */

    (void) ngx_http_social_redis_command(ctx, NULL, 2, args, lens);
}


/* what waits in Redis for a user, for GET /exercises */

ngx_int_t
ngx_http_social_errors_view(ngx_http_social_ctx_t *ctx, int64_t user_id,
    ngx_http_social_redis_handler_pt handler)
{
    u_char      *p;
    size_t       lens[1];
    const char  *args[1];
    u_char       user[NGX_INT64_LEN + 1];

    p = ngx_sprintf(user, "%L", user_id);
    args[0] = (char *) user;
    lens[0] = p - user;

    return ngx_http_social_errors_eval(ctx, handler,
                                       &ngx_http_social_errors_view_script,
                                       0, 1, args, lens);
}


/* the flush: the batch to apply, cut now if none is open */

ngx_int_t
ngx_http_social_errors_cut(ngx_http_social_ctx_t *ctx,
    ngx_http_social_redis_handler_pt handler)
{
    u_char      *p;
    size_t       lens[1];
    const char  *args[1];
    u_char       rnd[8], epoch[16];

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        return NGX_ERROR;
    }

    p = ngx_hex_dump(epoch, rnd, sizeof(rnd));

    args[0] = (char *) epoch;
    lens[0] = p - epoch;

    return ngx_http_social_errors_eval(ctx, handler,
                                       &ngx_http_social_errors_cut_script,
                                       0, 1, args, lens);
}


/* rows from..to (inclusive) of a batch "<epoch>:<seq>" */

ngx_int_t
ngx_http_social_errors_rows(ngx_http_social_ctx_t *ctx, ngx_str_t *batch,
    ngx_uint_t from, ngx_uint_t to, ngx_http_social_redis_handler_pt handler)
{
    u_char      *p;
    size_t       lens[4];
    const char  *args[4];
    u_char       a[NGX_INT_T_LEN], b[NGX_INT_T_LEN];
    u_char       key[sizeof("social:err:b::rows")
                     + NGX_HTTP_SOCIAL_ERRORS_BATCH_LEN];

    if (batch->len > NGX_HTTP_SOCIAL_ERRORS_BATCH_LEN) {
        return NGX_ERROR;
    }

    /* hiredis formats the command at once: nothing here needs to stay */

    args[0] = "LRANGE";
    lens[0] = 6;
    p = ngx_sprintf(key, "social:err:b:%V:rows", batch);
    args[1] = (char *) key;
    lens[1] = p - key;
    p = ngx_sprintf(a, "%ui", from);
    args[2] = (char *) a;
    lens[2] = p - a;
    p = ngx_sprintf(b, "%ui", to);
    args[3] = (char *) b;
    lens[3] = p - b;

    return ngx_http_social_redis_command(ctx, handler, 4, args, lens);
}


/* the batch is in PostgreSQL: it leaves Redis */

ngx_int_t
ngx_http_social_errors_ack(ngx_http_social_ctx_t *ctx, ngx_str_t *batch,
    ngx_http_social_redis_handler_pt handler)
{
    size_t       lens[1];
    const char  *args[1];

    args[0] = (char *) batch->data;
    lens[0] = batch->len;

    return ngx_http_social_errors_eval(ctx, handler,
                                       &ngx_http_social_errors_ack_script,
                                       0, 1, args, lens);
}


/*
 * a run failed on the batch for a reason other than a backend out of
 * reach: the next run knows it (fire and forget: if this is lost, the
 * next run fails the same way and says it again)
 */

void
ngx_http_social_errors_failed(ngx_http_social_ctx_t *ctx, ngx_str_t *batch)
{
    size_t       lens[3];
    const char  *args[3];

    args[0] = "SET";
    lens[0] = 3;
    args[1] = "social:err:failed";
    lens[1] = sizeof("social:err:failed") - 1;
    args[2] = (char *) batch->data;
    lens[2] = batch->len;

    (void) ngx_http_social_redis_command(ctx, NULL, 3, args, lens);
}


/* the batch failed twice: out of the way, kept; the reply is its number */

ngx_int_t
ngx_http_social_errors_hold(ngx_http_social_ctx_t *ctx, ngx_str_t *batch,
    const char *why, ngx_http_social_redis_handler_pt handler)
{
    size_t       lens[2];
    const char  *args[2];

    args[0] = (char *) batch->data;
    lens[0] = batch->len;
    args[1] = why;
    lens[1] = ngx_strlen(why);

    return ngx_http_social_errors_eval(ctx, handler,
                                       &ngx_http_social_errors_hold_script,
                                       0, 2, args, lens);
}


/*
 * a script (by its SHA1, see ngx_http_social_redis_script()): the keys
 * are named in the scripts or passed first, then the arguments
 */

static ngx_int_t
ngx_http_social_errors_eval(ngx_http_social_ctx_t *ctx,
    ngx_http_social_redis_handler_pt handler,
    ngx_http_social_script_t *script, ngx_uint_t nkeys, ngx_uint_t nargs,
    const char **args, size_t *lens)
{
    u_char       *p;
    ngx_uint_t    i;
    u_char        n[NGX_INT_T_LEN];
    size_t        argvlen[1 + NGX_HTTP_SOCIAL_ERRORS_ARGS];
    const char   *argv[1 + NGX_HTTP_SOCIAL_ERRORS_ARGS];

    if (nargs > NGX_HTTP_SOCIAL_ERRORS_ARGS) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(n, "%ui", nkeys);
    argv[0] = (char *) n;
    argvlen[0] = p - n;

    for (i = 0; i < nargs; i++) {
        argv[1 + i] = args[i];
        argvlen[1 + i] = lens[i];
    }

    return ngx_http_social_redis_script(ctx, handler, script, 1 + nargs,
                                        argv, argvlen);
}
