
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The point store, the Redis side of the learners' error points: POST
 * /errors (ngx_http_social_points.c) records them here at once, the flush
 * (ngx_http_social_flush.c) moves them to PostgreSQL in batches, and GET
 * /exercises adds what still waits here to PostgreSQL's totals (read by
 * ngx_http_social_point_view.c).  This file owns every other script of
 * it, and the keys (ngx_http_social_keys.h):
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
 *   social:err:own:<utt>     "<user>:<conversation>", the utterance's
 *                            owner, set when it is made (POST /utterances)
 *                            or read from PostgreSQL, for
 *                            NGX_HTTP_SOCIAL_POINT_OWNER_TTL seconds
 *
 * Every change is one Lua script, or one MULTI transaction (POST /errors'
 * common case, ngx_http_social_point_write.c), so it is atomic: a point is
 * in the rows and in its user's counts, or in neither.  A batch is cut by
 * renaming the pending keys (cheap whatever their size); it is deleted
 * only after the PostgreSQL transaction that records its id has
 * committed.  The scripts name their keys themselves (one Redis, not a
 * cluster).  What a row and a spelling must be is checked in
 * ngx_http_social_points_check.c.
 *
 * An owner entry is trusted only while its user's revocation generation
 * (social:gen:<user>, ngx_http_social_revoke.c) is not that of a deleted
 * user, and while Redis holds every revocation record the worker has read
 * (social:rev): DELETE /user publishes the generation before its 204, and
 * a publish that Redis missed leaves social:rev behind until the workers
 * publish it again.  A deleted user's generation stays an hour
 * (NGX_HTTP_SOCIAL_GEN_TTL), longer than any owner entry made before the
 * delete, and no entry is made while it is there.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_points.h"
#include "ngx_http_social_keys.h"
#include "ngx_http_social_argv.h"
#include "ngx_http_social_revoke.h"
#include "ngx_http_social_util.h"


/* an owner entry never outlives a deleted user's generation */
#if (NGX_HTTP_SOCIAL_POINT_OWNER_TTL >= NGX_HTTP_SOCIAL_GEN_TTL)
#error "an owner entry must expire before a deleted user's generation"
#endif


/*
 * a Lua pattern: 18 more ids of a list (the latest 20, one of them new:
 * NGX_HTTP_SOCIAL_POINT_LATEST, as the script's "n < 20" and the common
 * case's ngx_http_social_point_latest() have it)
 */
#if (NGX_HTTP_SOCIAL_POINT_LATEST != 20)
#error "the record script keeps 20 latest utterances"
#endif

#define NGX_HTTP_SOCIAL_POINT_IDS3   ",%d+,%d+,%d+"
#define NGX_HTTP_SOCIAL_POINT_IDS18                                          \
    NGX_HTTP_SOCIAL_POINT_IDS3 NGX_HTTP_SOCIAL_POINT_IDS3                     \
    NGX_HTTP_SOCIAL_POINT_IDS3 NGX_HTTP_SOCIAL_POINT_IDS3                     \
    NGX_HTTP_SOCIAL_POINT_IDS3 NGX_HTTP_SOCIAL_POINT_IDS3


/* "<epoch>:<seq>": 16 hex digits, a colon, at most 20 digits */
#define NGX_HTTP_SOCIAL_POINT_BATCH_LEN  64


/*
 * The record script's arguments ("0" keys): the utterance, the reader,
 * "1" for an admin, the body's user and conversation ("0": none), the
 * owner and conversation PostgreSQL gave ("0": the owner entry's), the
 * last revocation record the worker has read, the owner entry's TTL, then
 * the key, the spelling and the row of each point, the row without its
 * user: [utterance, "Category", "Subcategory", ms, "point id"]
 */

enum {
    NGX_HTTP_SOCIAL_POINT_RECORD_NKEYS = 0,
    NGX_HTTP_SOCIAL_POINT_RECORD_UTTERANCE,
    NGX_HTTP_SOCIAL_POINT_RECORD_READER,
    NGX_HTTP_SOCIAL_POINT_RECORD_ADMIN,
    NGX_HTTP_SOCIAL_POINT_RECORD_USER,
    NGX_HTTP_SOCIAL_POINT_RECORD_CONVERSATION,
    NGX_HTTP_SOCIAL_POINT_RECORD_OWNER,
    NGX_HTTP_SOCIAL_POINT_RECORD_OWNER_CONVERSATION,
    NGX_HTTP_SOCIAL_POINT_RECORD_REV,
    NGX_HTTP_SOCIAL_POINT_RECORD_TTL,
    NGX_HTTP_SOCIAL_POINT_RECORD_POINTS
};

/* the ids of the record script's arguments, as text */
#define NGX_HTTP_SOCIAL_POINT_RECORD_IDS                                     \
    (NGX_HTTP_SOCIAL_POINT_RECORD_TTL - NGX_HTTP_SOCIAL_POINT_RECORD_UTTERANCE)

enum {
    NGX_HTTP_SOCIAL_POINT_RECORD_KEY = 0,
    NGX_HTTP_SOCIAL_POINT_RECORD_SPELLING,
    NGX_HTTP_SOCIAL_POINT_RECORD_ROW,
    NGX_HTTP_SOCIAL_POINT_RECORD_EACH
};

#define NGX_HTTP_SOCIAL_POINT_RECORD_ARGC                                    \
    (NGX_HTTP_SOCIAL_POINT_RECORD_POINTS                                      \
     + NGX_HTTP_SOCIAL_POINT_RECORD_EACH * NGX_HTTP_SOCIAL_POINTS_MAX)


/* the owner script's arguments ("0" keys) */

enum {
    NGX_HTTP_SOCIAL_POINT_OWN_UTTERANCE = 1,
    NGX_HTTP_SOCIAL_POINT_OWN_USER,
    NGX_HTTP_SOCIAL_POINT_OWN_CONVERSATION,
    NGX_HTTP_SOCIAL_POINT_OWN_TTL,
    NGX_HTTP_SOCIAL_POINT_OWN_ARGC
};


enum {
    NGX_HTTP_SOCIAL_POINT_CUT_EPOCH = 1,    /* for a Redis without one */
    NGX_HTTP_SOCIAL_POINT_CUT_ARGC
};

enum {
    NGX_HTTP_SOCIAL_POINT_ACK_BATCH = 1,
    NGX_HTTP_SOCIAL_POINT_ACK_ARGC
};

enum {
    NGX_HTTP_SOCIAL_POINT_HOLD_BATCH = 1,
    NGX_HTTP_SOCIAL_POINT_HOLD_WHY,
    NGX_HTTP_SOCIAL_POINT_HOLD_ARGC
};


/*
 * The owner of ARGV[1]: ARGV[6] and ARGV[7] as PostgreSQL gave them (kept
 * as its owner entry, for ARGV[9] seconds), or else its owner entry, if
 * Redis holds every revocation record up to ARGV[8].  Then the checks of
 * the owner, and the points (key, spelling, row without its user, from
 * ARGV[10] on) into the rows, the owner's counts and the dirty set.  The
 * reply is how many, or ASK (PostgreSQL knows: no usable owner entry, or
 * the body's ids are not the owner's), GONE (a deleted user's), FORBIDDEN
 * (another's, for a reader who is not an admin)
 */

static ngx_http_social_script_t  ngx_http_social_point_record_script = {
    "local own = '" NGX_HTTP_SOCIAL_KEY_POINT_OWNER "' .. ARGV[1]\n"
    "local user, conv = ARGV[6], ARGV[7]\n"
    "if user == '0' then\n"
    "  local v = redis.call('MGET', '" NGX_HTTP_SOCIAL_KEY_REV "', own)\n"
    "  if (tonumber(v[1] or '0') or 0) < tonumber(ARGV[8]) then\n"
    "    return {ok = 'ASK'}\n"
    "  end\n"
    "  user, conv = string.match(v[2] or '', '^([1-9]%d*):([1-9]%d*)$')\n"
    "  if not user then return {ok = 'ASK'} end\n"
    "end\n"
    "if redis.call('GET', '" NGX_HTTP_SOCIAL_KEY_GEN "' .. user)\n"
    "   == '" NGX_HTTP_SOCIAL_GEN_GONE_TEXT "' then\n"
    "  return {ok = 'GONE'}\n"
    "end\n"
    "if ARGV[6] ~= '0' then\n"
    "  redis.call('SET', own, user .. ':' .. conv, 'EX', ARGV[9])\n"
    "end\n"
    "if user ~= ARGV[2] and ARGV[3] ~= '1' then\n"
    "  return {ok = 'FORBIDDEN'}\n"
    "end\n"
    "if (ARGV[4] ~= '0' and ARGV[4] ~= user)\n"
    "   or (ARGV[5] ~= '0' and ARGV[5] ~= conv) then\n"
    "  return {ok = 'ASK'}\n"
    "end\n"
    "local counts = '" NGX_HTTP_SOCIAL_KEY_POINT_USER "' .. user\n"
    "local rows, uk, us = {}, {}, {}\n"
    "for i = 10, #ARGV, 3 do uk[#uk + 1] = 'u' .. ARGV[i] end\n"
    "local ul = #uk > 0 and redis.call('HMGET', counts, unpack(uk)) or {}\n"
    "for i = 10, #ARGV, 3 do\n"
    /* the spelling is the first: set with the count's first point */
    "  if redis.call('HINCRBY', counts, 'n' .. ARGV[i], 1) == 1 then\n"
    "    redis.call('HSETNX', counts, 's' .. ARGV[i], ARGV[i + 1])\n"
    "  end\n"
    /*
     * the latest utterances: as they are when this one is already first
     * (a key twice in the body: the same list twice)
     */
    "  local l = ul[(i - 7) / 3] or ''\n"
    "  if string.match(l, '^%d+') ~= ARGV[1] then\n"
    /*
     * the list's first 19 ids (or all of a shorter list as written) after
     * this one, when it is not among them; else taken apart, id by id
     */
    "    local u, n = ARGV[1], 1\n"
    "    local keep = string.match(l, '^%d+" NGX_HTTP_SOCIAL_POINT_IDS18 "')\n"
    "                 or string.match(l, '^%d+[,%d]*$')\n"
    "    if keep and not string.find(',' .. keep .. ',',\n"
    "                                ',' .. ARGV[1] .. ',', 1, true) then\n"
    "      u = u .. ',' .. keep\n"
    "    else\n"
    "      for id in string.gmatch(l, '%d+') do\n"
    "        if id ~= ARGV[1] and n < 20 then\n"
    "          u = u .. ',' .. id; n = n + 1\n"
    "        end\n"
    "      end\n"
    "    end\n"
    "    us[#us + 1] = 'u' .. ARGV[i]\n"
    "    us[#us + 1] = u\n"
    "  end\n"
    "  rows[#rows + 1] = '[' .. user .. ',' .. string.sub(ARGV[i + 2], 2)\n"
    "end\n"
    "if #us > 0 then redis.call('HSET', counts, unpack(us)) end\n"
    "if #rows > 0 then\n"
    "  redis.call('RPUSH', '" NGX_HTTP_SOCIAL_KEY_POINT_ROWS "',\n"
    "             unpack(rows))\n"
    "end\n"
    "redis.call('SADD', '" NGX_HTTP_SOCIAL_KEY_POINT_DIRTY "', user)\n"
    "return #rows\n",
    "", NULL, ""
};


/*
 * ARGV[1]: a new utterance, ARGV[2] its user, ARGV[3] its conversation:
 * its owner entry, for ARGV[4] seconds, unless the user is deleted
 */

static ngx_http_social_script_t  ngx_http_social_point_own_script = {
    "if redis.call('GET', '" NGX_HTTP_SOCIAL_KEY_GEN "' .. ARGV[2])\n"
    "   ~= '" NGX_HTTP_SOCIAL_GEN_GONE_TEXT "' then\n"
    "  redis.call('SET', '" NGX_HTTP_SOCIAL_KEY_POINT_OWNER "' .. ARGV[1],\n"
    "             ARGV[2] .. ':' .. ARGV[3], 'EX', ARGV[4])\n"
    "end\n"
    "return 1\n",
    "", NULL, ""
};


/*
 * ARGV[1]: an epoch to use if Redis has none, or one not as written.  The
 * open batch, or a new one cut from what is pending, as {"<epoch>:<seq>",
 * its rows (-1: its rows are not a list), 1 if new, 1 if a run failed on
 * it}; nil: nothing to do
 */

static ngx_http_social_script_t  ngx_http_social_point_cut_script = {
    "local open = redis.call('GET', '" NGX_HTTP_SOCIAL_KEY_POINT_OPEN "')\n"
    "local fresh = 0\n"
    "if not open then\n"
    "  if redis.call('EXISTS', '"
        NGX_HTTP_SOCIAL_KEY_POINT_ROWS "') == 0 then\n"
    "    return false\n"
    "  end\n"
    "  local e = redis.call('GET', '" NGX_HTTP_SOCIAL_KEY_POINT_EPOCH "')\n"
    "  local s = redis.call('GET', '"
        NGX_HTTP_SOCIAL_KEY_POINT_SEQ "') or '0'\n"
    "  if not e or #e ~= 16 or string.find(e, '[^0-9a-f]')\n"
    "     or #s == 0 or #s > 15 or string.find(s, '[^0-9]') then\n"
    "    redis.call('SET', '" NGX_HTTP_SOCIAL_KEY_POINT_EPOCH "', ARGV[1])\n"
    "    redis.call('SET', '" NGX_HTTP_SOCIAL_KEY_POINT_SEQ "', 0)\n"
    "  end\n"
    "  open = redis.call('GET', '"
        NGX_HTTP_SOCIAL_KEY_POINT_EPOCH "') .. ':'\n"
    "         .. redis.call('INCR', '" NGX_HTTP_SOCIAL_KEY_POINT_SEQ "')\n"
    "  local b = '" NGX_HTTP_SOCIAL_KEY_POINT_BATCH "' .. open\n"
    "  redis.call('RENAME', '"
        NGX_HTTP_SOCIAL_KEY_POINT_ROWS "', b .. ':rows')\n"
    "  for _, u in ipairs(redis.call('SMEMBERS', '"
        NGX_HTTP_SOCIAL_KEY_POINT_DIRTY "')) do\n"
    "    if redis.call('EXISTS', '"
        NGX_HTTP_SOCIAL_KEY_POINT_USER "' .. u) == 1 then\n"
    "      redis.call('RENAME', '"
        NGX_HTTP_SOCIAL_KEY_POINT_USER "' .. u, b .. ':u:' .. u)\n"
    "      redis.call('SADD', b .. ':users', u)\n"
    "    end\n"
    "  end\n"
    "  redis.call('DEL', '" NGX_HTTP_SOCIAL_KEY_POINT_DIRTY "')\n"
    "  redis.call('SET', '" NGX_HTTP_SOCIAL_KEY_POINT_OPEN "', open)\n"
    "  fresh = 1\n"
    "end\n"
    "local rows = '" NGX_HTTP_SOCIAL_KEY_POINT_BATCH "' .. open .. ':rows'\n"
    "local n = 0\n"
    "local t = redis.call('TYPE', rows)['ok']\n"
    "if t == 'list' then n = redis.call('LLEN', rows)\n"
    "elseif t ~= 'none' then n = -1 end\n"
    "local failed = redis.call('GET', '"
        NGX_HTTP_SOCIAL_KEY_POINT_FAILED "') == open\n"
    "return {open, n, fresh, failed and 1 or 0}\n",
    "", NULL, ""
};


/* ARGV[1]: the batch "<epoch>:<seq>", applied: it goes */

static ngx_http_social_script_t  ngx_http_social_point_ack_script = {
    "local b = '" NGX_HTTP_SOCIAL_KEY_POINT_BATCH "' .. ARGV[1]\n"
    "for _, u in ipairs(redis.call('SMEMBERS', b .. ':users')) do\n"
    "  redis.call('UNLINK', b .. ':u:' .. u)\n"
    "end\n"
    "redis.call('UNLINK', b .. ':users', b .. ':rows')\n"
    "if redis.call('GET', '"
        NGX_HTTP_SOCIAL_KEY_POINT_OPEN "') == ARGV[1] then\n"
    "  redis.call('DEL', '" NGX_HTTP_SOCIAL_KEY_POINT_OPEN "')\n"
    "end\n"
    "if redis.call('GET', '"
        NGX_HTTP_SOCIAL_KEY_POINT_FAILED "') == ARGV[1] then\n"
    "  redis.call('DEL', '" NGX_HTTP_SOCIAL_KEY_POINT_FAILED "')\n"
    "end\n"
    "return 1\n",
    "", NULL, ""
};


/*
 * ARGV[1]: a batch that failed twice, ARGV[2] why.  Its keys move out of
 * the way, renamed under social:err:held:<n>, kept for the operator; the
 * points pending behind it go on.  Returns n
 */

static ngx_http_social_script_t  ngx_http_social_point_hold_script = {
    "local b = '" NGX_HTTP_SOCIAL_KEY_POINT_BATCH "' .. ARGV[1]\n"
    "local n = redis.call('INCR', '" NGX_HTTP_SOCIAL_KEY_POINT_HELD_N "')\n"
    "local h = '" NGX_HTTP_SOCIAL_KEY_POINT_HELD ":' .. n\n"
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
    "redis.call('HSET', '"
        NGX_HTTP_SOCIAL_KEY_POINT_HELD "', n, ARGV[1] .. ' ' .. ARGV[2])\n"
    "if redis.call('GET', '"
        NGX_HTTP_SOCIAL_KEY_POINT_OPEN "') == ARGV[1] then\n"
    "  redis.call('DEL', '" NGX_HTTP_SOCIAL_KEY_POINT_OPEN "')\n"
    "end\n"
    "redis.call('DEL', '" NGX_HTTP_SOCIAL_KEY_POINT_FAILED "')\n"
    "return n\n",
    "", NULL, ""
};


/*
 * A POST /errors: the owner checked and its points recorded, in one
 * script (its reply: ngx_http_social_point_recorded()).  NGX_ABORT: the
 * rows could not be made (no memory, no random bytes); NGX_ERROR: Redis
 * did not take them.
 */

ngx_int_t
ngx_http_social_point_record(ngx_http_social_ctx_t *ctx,
    ngx_http_social_point_record_t *rec, ngx_http_social_point_t *points,
    ngx_uint_t n, ngx_http_social_redis_handler_pt handler)
{
    u_char                  *p, *q, *id;
    int64_t                  ms;
    ngx_str_t                row;
    ngx_uint_t               i, slot;
    ngx_time_t              *tp;
    ngx_http_social_argv_t   a;
    int64_t                  ids[NGX_HTTP_SOCIAL_POINT_RECORD_IDS];
    size_t                   lens[NGX_HTTP_SOCIAL_POINT_RECORD_ARGC];
    const char              *argv[NGX_HTTP_SOCIAL_POINT_RECORD_ARGC];
    u_char                   text[NGX_HTTP_SOCIAL_POINT_RECORD_IDS
                                  * (NGX_INT64_LEN + 1)];
    u_char                   rnd[NGX_HTTP_SOCIAL_POINTS_MAX
                                 * NGX_HTTP_SOCIAL_POINT_ID_LEN];

    if (n > NGX_HTTP_SOCIAL_POINTS_MAX) {
        return NGX_ERROR;
    }

    tp = ngx_timeofday();
    ms = (int64_t) tp->sec * 1000 + tp->msec;

    ngx_http_social_argv_init(&a, argv, lens,
                              NGX_HTTP_SOCIAL_POINT_RECORD_ARGC);

    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_POINT_RECORD_NKEYS,
                             NGX_HTTP_SOCIAL_POINT_NO_KEYS);

    /* hiredis formats the command at once: nothing here needs to stay */

    /* in the order of their slots, from the utterance's on */

    ids[0] = rec->utterance;
    ids[1] = rec->reader;
    ids[2] = rec->admin ? 1 : 0;
    ids[3] = rec->user;
    ids[4] = rec->conversation;
    ids[5] = rec->owner;
    ids[6] = rec->owner ? rec->owner_conversation : 0;
    ids[7] = rec->rev;

    p = text;

    for (i = 0; i < NGX_HTTP_SOCIAL_POINT_RECORD_IDS; i++) {
        q = ngx_sprintf(p, "%L", ids[i]);
        ngx_http_social_argv_set_len(&a,
                                     NGX_HTTP_SOCIAL_POINT_RECORD_UTTERANCE + i,
                                     (char *) p, q - p);
        p = q;
    }

    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_POINT_RECORD_TTL,
                             NGX_HTTP_SOCIAL_POINT_OWNER_TTL_TEXT);

    /* the points' random ids, from the worker's pool */

    if (ngx_http_social_random(rnd, n * NGX_HTTP_SOCIAL_POINT_ID_LEN)
        != NGX_OK)
    {
        return NGX_ABORT;
    }

    for (i = 0, id = rnd; i < n; i++, id += NGX_HTTP_SOCIAL_POINT_ID_LEN) {
        if (ngx_http_social_point_row(ctx->pool, 0, rec->utterance,
                                      &points[i], ms, id, &row)
            != NGX_OK)
        {
            return NGX_ABORT;
        }

        slot = NGX_HTTP_SOCIAL_POINT_RECORD_POINTS
               + NGX_HTTP_SOCIAL_POINT_RECORD_EACH * i;

        ngx_http_social_argv_set_len(&a,
                                     slot + NGX_HTTP_SOCIAL_POINT_RECORD_KEY,
                                     (char *) points[i].key.data,
                                     points[i].key.len);
        ngx_http_social_argv_set_len(&a,
                                slot + NGX_HTTP_SOCIAL_POINT_RECORD_SPELLING,
                                (char *) points[i].spelling.data,
                                points[i].spelling.len);
        ngx_http_social_argv_set_len(&a,
                                     slot + NGX_HTTP_SOCIAL_POINT_RECORD_ROW,
                                     (char *) row.data, row.len);
    }

    return ngx_http_social_redis_script(ctx, handler,
                                        &ngx_http_social_point_record_script,
                                        a.argc, a.argv, a.lens);
}


/*
 * The record script's reply: NGX_HTTP_SOCIAL_POINT_RECORDED with *n the
 * points recorded, _ASK, _GONE, _FORBIDDEN; NGX_ERROR: not the script's
 */

ngx_int_t
ngx_http_social_point_recorded(redisReply *reply, int64_t *n)
{
    if (reply->type == REDIS_REPLY_INTEGER) {
        *n = reply->integer;
        return NGX_HTTP_SOCIAL_POINT_RECORDED;
    }

    if (reply->type != REDIS_REPLY_STATUS) {
        return NGX_ERROR;
    }

    if (reply->len == 3 && ngx_strncmp(reply->str, "ASK", 3) == 0) {
        return NGX_HTTP_SOCIAL_POINT_ASK;
    }

    if (reply->len == 4 && ngx_strncmp(reply->str, "GONE", 4) == 0) {
        return NGX_HTTP_SOCIAL_POINT_GONE;
    }

    if (reply->len == 9 && ngx_strncmp(reply->str, "FORBIDDEN", 9) == 0) {
        return NGX_HTTP_SOCIAL_POINT_FORBIDDEN;
    }

    return NGX_ERROR;
}


/*
 * A new utterance (POST /utterances, once committed): its owner entry,
 * fire and forget (a POST /errors that finds none asks PostgreSQL)
 */

void
ngx_http_social_point_own(ngx_http_social_ctx_t *ctx, int64_t utterance,
    int64_t user, int64_t conversation)
{
    u_char                  *p, *q, *r;
    size_t                   lens[NGX_HTTP_SOCIAL_POINT_OWN_ARGC];
    const char              *argv[NGX_HTTP_SOCIAL_POINT_OWN_ARGC];
    ngx_http_social_argv_t   a;
    u_char                   text[3 * (NGX_INT64_LEN + 1)];

    ngx_http_social_argv_init(&a, argv, lens, NGX_HTTP_SOCIAL_POINT_OWN_ARGC);

    p = ngx_sprintf(text, "%L", utterance);
    q = ngx_sprintf(p, "%L", user);
    r = ngx_sprintf(q, "%L", conversation);

    ngx_http_social_argv_set(&a, 0, NGX_HTTP_SOCIAL_POINT_NO_KEYS);
    ngx_http_social_argv_set_len(&a, NGX_HTTP_SOCIAL_POINT_OWN_UTTERANCE,
                                 (char *) text, p - text);
    ngx_http_social_argv_set_len(&a, NGX_HTTP_SOCIAL_POINT_OWN_USER,
                                 (char *) p, q - p);
    ngx_http_social_argv_set_len(&a, NGX_HTTP_SOCIAL_POINT_OWN_CONVERSATION,
                                 (char *) q, r - q);
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_POINT_OWN_TTL,
                             NGX_HTTP_SOCIAL_POINT_OWNER_TTL_TEXT);

    (void) ngx_http_social_redis_script(ctx, NULL,
                                        &ngx_http_social_point_own_script,
                                        a.argc, a.argv, a.lens);
}


/*
 * [user, utterance, "Category", "Subcategory", unix ms, "point id"]; with
 * user 0, the row but for its user, whom the record script puts first
 */

ngx_int_t
ngx_http_social_point_row(ngx_pool_t *pool, int64_t user, int64_t utterance,
    ngx_http_social_point_t *point, int64_t ms, u_char *id, ngx_str_t *out)
{
    u_char  *p;

    p = ngx_pnalloc(pool,
                    sizeof("[,,,,,\"\"]") - 1 + 3 * NGX_INT64_LEN
                    + ngx_http_social_json_quoted_len(point->category.data,
                                                      point->category.len)
                    + ngx_http_social_json_quoted_len(point->subcategory.data,
                                                      point->subcategory.len)
                    + 2 * NGX_HTTP_SOCIAL_POINT_ID_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;

    *p++ = '[';

    if (user) {
        p = ngx_sprintf(p, "%L,", user);
    }

    p = ngx_sprintf(p, "%L,", utterance);
    p = ngx_http_social_json_quote(p, point->category.data,
                                   point->category.len);
    *p++ = ',';
    p = ngx_http_social_json_quote(p, point->subcategory.data,
                                   point->subcategory.len);
    p = ngx_sprintf(p, ",%L,\"", ms);
    p = ngx_hex_dump(p, id, NGX_HTTP_SOCIAL_POINT_ID_LEN);
    *p++ = '"';
    *p++ = ']';

    out->len = p - out->data;

    return NGX_OK;
}


/*
 * a deleted user: what waits for them goes (best effort: the flush skips
 * rows whose utterance is gone, so nothing of theirs lands anyway)
 */

void
ngx_http_social_point_forget(ngx_http_social_ctx_t *ctx, int64_t user_id)
{
    u_char                  *p;
    size_t                   lens[2];
    const char              *argv[2];
    ngx_http_social_argv_t   a;
    u_char                   key[sizeof(NGX_HTTP_SOCIAL_KEY_POINT_USER)
                                 + NGX_INT64_LEN];

    ngx_http_social_argv_init(&a, argv, lens, 2);

    p = ngx_sprintf(key, NGX_HTTP_SOCIAL_KEY_POINT_USER "%L", user_id);

    ngx_http_social_argv_set(&a, 0, "DEL");
    ngx_http_social_argv_set_len(&a, 1, (char *) key, p - key);

    /*
     * its entry in the dirty set stays: the next cut skips a user without
     * a hash, and a point recorded meanwhile keeps its hash reachable
     */

    (void) ngx_http_social_redis_command(ctx, NULL, a.argc, a.argv, a.lens);
}


/*
 * the flush: the batch to apply, cut now if none is open; the reply as
 * NGX_HTTP_SOCIAL_POINT_CUT_* says, or nil: nothing waits
 */

ngx_int_t
ngx_http_social_point_cut(ngx_http_social_ctx_t *ctx,
    ngx_http_social_redis_handler_pt handler)
{
    u_char                  *p;
    size_t                   lens[NGX_HTTP_SOCIAL_POINT_CUT_ARGC];
    const char              *argv[NGX_HTTP_SOCIAL_POINT_CUT_ARGC];
    ngx_http_social_argv_t   a;
    u_char                   rnd[8], epoch[16];

    if (ngx_http_social_random(rnd, sizeof(rnd)) != NGX_OK) {
        return NGX_ERROR;
    }

    p = ngx_hex_dump(epoch, rnd, sizeof(rnd));

    ngx_http_social_argv_init(&a, argv, lens, NGX_HTTP_SOCIAL_POINT_CUT_ARGC);

    ngx_http_social_argv_set(&a, 0, NGX_HTTP_SOCIAL_POINT_NO_KEYS);
    ngx_http_social_argv_set_len(&a, NGX_HTTP_SOCIAL_POINT_CUT_EPOCH,
                                 (char *) epoch, p - epoch);

    return ngx_http_social_redis_script(ctx, handler,
                                        &ngx_http_social_point_cut_script,
                                        a.argc, a.argv, a.lens);
}


/* rows from..to (inclusive) of a batch "<epoch>:<seq>" */

ngx_int_t
ngx_http_social_point_rows(ngx_http_social_ctx_t *ctx, ngx_str_t *batch,
    ngx_uint_t from, ngx_uint_t to, ngx_http_social_redis_handler_pt handler)
{
    u_char                  *p;
    size_t                   lens[4];
    const char              *argv[4];
    ngx_http_social_argv_t   a;
    u_char                   first[NGX_INT_T_LEN], last[NGX_INT_T_LEN];
    u_char                   key[sizeof(NGX_HTTP_SOCIAL_KEY_POINT_BATCH
                                        ":rows")
                                 + NGX_HTTP_SOCIAL_POINT_BATCH_LEN];

    if (batch->len > NGX_HTTP_SOCIAL_POINT_BATCH_LEN) {
        return NGX_ERROR;
    }

    /* hiredis formats the command at once: nothing here needs to stay */

    ngx_http_social_argv_init(&a, argv, lens, 4);

    ngx_http_social_argv_set(&a, 0, "LRANGE");

    p = ngx_sprintf(key, NGX_HTTP_SOCIAL_KEY_POINT_BATCH "%V:rows", batch);
    ngx_http_social_argv_set_len(&a, 1, (char *) key, p - key);

    p = ngx_sprintf(first, "%ui", from);
    ngx_http_social_argv_set_len(&a, 2, (char *) first, p - first);

    p = ngx_sprintf(last, "%ui", to);
    ngx_http_social_argv_set_len(&a, 3, (char *) last, p - last);

    return ngx_http_social_redis_command(ctx, handler, a.argc, a.argv,
                                         a.lens);
}


/* the batch is in PostgreSQL: it leaves Redis */

ngx_int_t
ngx_http_social_point_ack(ngx_http_social_ctx_t *ctx, ngx_str_t *batch,
    ngx_http_social_redis_handler_pt handler)
{
    size_t                   lens[NGX_HTTP_SOCIAL_POINT_ACK_ARGC];
    const char              *argv[NGX_HTTP_SOCIAL_POINT_ACK_ARGC];
    ngx_http_social_argv_t   a;

    ngx_http_social_argv_init(&a, argv, lens, NGX_HTTP_SOCIAL_POINT_ACK_ARGC);

    ngx_http_social_argv_set(&a, 0, NGX_HTTP_SOCIAL_POINT_NO_KEYS);
    ngx_http_social_argv_set_len(&a, NGX_HTTP_SOCIAL_POINT_ACK_BATCH,
                                 (char *) batch->data, batch->len);

    return ngx_http_social_redis_script(ctx, handler,
                                        &ngx_http_social_point_ack_script,
                                        a.argc, a.argv, a.lens);
}


/*
 * a run failed on the batch for a reason other than a backend out of
 * reach: the next run knows it (fire and forget: if this is lost, the
 * next run fails the same way and says it again)
 */

void
ngx_http_social_point_failed(ngx_http_social_ctx_t *ctx, ngx_str_t *batch)
{
    size_t                   lens[3];
    const char              *argv[3];
    ngx_http_social_argv_t   a;

    ngx_http_social_argv_init(&a, argv, lens, 3);

    ngx_http_social_argv_set(&a, 0, "SET");
    ngx_http_social_argv_set(&a, 1, NGX_HTTP_SOCIAL_KEY_POINT_FAILED);
    ngx_http_social_argv_set_len(&a, 2, (char *) batch->data, batch->len);

    (void) ngx_http_social_redis_command(ctx, NULL, a.argc, a.argv, a.lens);
}


/* the batch failed twice: out of the way, kept; the reply is its number */

ngx_int_t
ngx_http_social_point_hold(ngx_http_social_ctx_t *ctx, ngx_str_t *batch,
    const char *why, ngx_http_social_redis_handler_pt handler)
{
    size_t                   lens[NGX_HTTP_SOCIAL_POINT_HOLD_ARGC];
    const char              *argv[NGX_HTTP_SOCIAL_POINT_HOLD_ARGC];
    ngx_http_social_argv_t   a;

    ngx_http_social_argv_init(&a, argv, lens,
                              NGX_HTTP_SOCIAL_POINT_HOLD_ARGC);

    ngx_http_social_argv_set(&a, 0, NGX_HTTP_SOCIAL_POINT_NO_KEYS);
    ngx_http_social_argv_set_len(&a, NGX_HTTP_SOCIAL_POINT_HOLD_BATCH,
                                 (char *) batch->data, batch->len);
    ngx_http_social_argv_set(&a, NGX_HTTP_SOCIAL_POINT_HOLD_WHY, why);

    return ngx_http_social_redis_script(ctx, handler,
                                        &ngx_http_social_point_hold_script,
                                        a.argc, a.argv, a.lens);
}
