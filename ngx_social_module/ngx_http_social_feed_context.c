
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The feed store's read side (the set itself, its refresh, trim and
 * forgetting: ngx_http_social_feed_cache.c): the two scripts a GET /feed
 * walks the set with, one with the reader's context kept in Redis (the
 * known script), one with the context PostgreSQL gave (the read script,
 * which keeps it); and the worker's readers whose kept context a write
 * could not move on.  DESIGN.md, "The reader's context in Redis".
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_feed_cache.h"
#include "ngx_http_social_keys.h"


/*
 * The worker's readers whose context a write changed when Redis could not
 * be told (a write's call failed): their reads here take the context from
 * PostgreSQL for as long as a context is kept, and keep it again, right,
 * for every worker.
 */
#define NGX_HTTP_SOCIAL_FEED_DISTRUST       1024
#define NGX_HTTP_SOCIAL_FEED_DISTRUST_TIME  60000


/*
 * the sizes of the library's tables: kept contexts (and the bytes of
 * their texts), members parsed
 */
#define NGX_HTTP_SOCIAL_FEED_LUA_CONTEXTS   "512"
#define NGX_HTTP_SOCIAL_FEED_LUA_BYTES      "2097152"
#define NGX_HTTP_SOCIAL_FEED_LUA_MEMBERS    "4096"


static ngx_http_social_feed_mark_t
    ngx_http_social_feed_distrusted[NGX_HTTP_SOCIAL_FEED_DISTRUST];


/*
 * The feed's Lua library (a Redis function library, loaded by
 * ngx_http_social_redis.c under a name of its text's SHA1, which the
 * header's V holds): its two functions walk the set for a read, the one
 * with the reader's context kept in Redis (known), the other with the
 * context PostgreSQL gave (read, which keeps it).  A library's locals stay
 * between calls, so two tables keep what would be parsed again at every
 * read: a kept context decoded (by its whole text, which holds the
 * reader's generation: the same text is the same context; only one of
 * the reader's current generation is decoded), and a member of the set
 * parsed.  Both are bounded: the contexts by their number and their
 * texts' bytes (emptied when either is reached), the members by their
 * number (kept while there is room, emptied when a call starts with the
 * table full).  The page's objects are not read here: the worker asks
 * for them in its next command (ngx_http_social_feed.c, 4).
 */

static const char  ngx_http_social_feed_lua[] =
    "local ctxs, nctx, bctx = {}, 0, 0 "
    "local mems, nmem = {}, 0 "
    /* a context kept as the table keeps them */
    "local function keep(c, e) "
    "  if nctx >= " NGX_HTTP_SOCIAL_FEED_LUA_CONTEXTS " "
    "     or bctx + #c > " NGX_HTTP_SOCIAL_FEED_LUA_BYTES " then "
    "    ctxs, nctx, bctx = {}, 0, 0 end "
    "  ctxs[c] = e "
    "  nctx, bctx = nctx + 1, bctx + #c "
    "end "
    /*
     * a kept context of generation g: {generation, own, follow, block},
     * or nil (another generation's, or not one); only those of their
     * generation are decoded and kept
     */
    "local function context(c, g) "
    "  local e = ctxs[c] "
    "  if e then return e[1] == g and e or nil end "
    "  local cg, own, sets = string.match(c, '^([^|]*)|(%d+)|(%[{.*)$') "
    "  if cg ~= g then return nil end "
    "  local fb = cjson.decode(sets) "
    "  e = {cg, own, fb[1], fb[2]} "
    "  keep(c, e) "
    "  return e "
    "end "
    /*
     * a member: {actor, post, author, target}, or false; kept while the
     * table has room (emptied when a call starts with it full, so that no
     * walk empties it under itself)
     */
    "local function member(m) "
    "  local e = mems[m] "
    "  if e ~= nil then return e end "
    "  local a, p, u, t = string.match(m, "
    "    '^%d+|%a+|(%d+)|(%d+)|(%d+)|(%d+)|') "
    "  e = false "
    "  if a then e = {a, p, u, t} end "
    "  if nmem < " NGX_HTTP_SOCIAL_FEED_LUA_MEMBERS " then "
    "    mems[m] = e "
    "    nmem = nmem + 1 "
    "  end "
    "  return e "
    "end "
    /*
     * the walk, once the context is known: "follow" and "block" the
     * followed (the reader among them) and those in a block with the
     * reader, as sets; "own" the reader's newest event; v[o] .. v[o + 2]
     * the set's top and bottom and the objects' generation
     */
    "local function walk(KEYS, ARGV, follow, block, own, v, o) "
    "  if nmem >= " NGX_HTTP_SOCIAL_FEED_LUA_MEMBERS " then "
    "    mems, nmem = {}, 0 end "
    "  local topv = v[o] "
    "  local top = tonumber(topv) "
    "  local bottom = tonumber(v[o + 1]) "
    "  if not top or not bottom "
    "     or (top > 0 and redis.call('EXISTS', KEYS[1]) == 0) then "
    "    return {'stale'} end "
    "  local need, cap = tonumber(ARGV[2]), tonumber(ARGV[3]) "
    "  local objgen = v[o + 2] or '0' "
    /*
     * fewer members of the reader and the followed than wanted, as their
     * counts say: asked when the first members walked did not make the
     * page (an active reader's page is made of the first)
     */
    "  local A = '" NGX_HTTP_SOCIAL_KEY_FEED_ACTORS "' "
    "  local function few() "
    "    if bottom == 0 or tonumber(redis.call('HGET', A, '*')) "
    "                      ~= redis.call('ZCARD', KEYS[1]) then "
    "      return false end "
    "    local ids, sum, i = {}, 0, 1 "
    "    for id in pairs(follow) do ids[#ids + 1] = id end "
    "    while i <= #ids and sum < need do "
    "      local j = math.min(i + 999, #ids) "
    "      for _, c in ipairs(redis.call('HMGET', A, unpack(ids, i, j))) do "
    "        sum = sum + (tonumber(c) or 0) end "
    "      i = j + 1 "
    "    end "
    "    return sum < need "
    "  end "
    "  local max = '(' .. ARGV[1] "
    "  if tonumber(ARGV[1]) > top then max = top end "
    /*
     * the answer, the page's members after its four first; their objects
     * are the worker's next command (an MGET from Lua costs several times
     * the same MGET sent by itself)
     */
    "  local out = {'ok', objgen, topv, own} "
    "  local scanned, chunk, n = 0, need, 0 "
    "  while true do "
    "    local ms = redis.call('ZREVRANGEBYSCORE', KEYS[1], max, bottom, "
    "                          'LIMIT', scanned, chunk) "
    "    for _, m in ipairs(ms) do "
    "      local e = member(m) "
    "      if e and follow[e[1]] and not block[e[1]] and not block[e[3]] "
    "         and not block[e[4]] then "
    "        n = n + 1 "
    "        out[4 + n] = m "
    "        if n == need then return out end "
    "      end "
    "    end "
    "    if scanned == 0 and few() then "
    "      return {'few', objgen, topv, own} end "
    "    scanned = scanned + #ms "
    "    if #ms < chunk and bottom == 0 then return out end "
    "    if #ms < chunk or scanned >= cap then "
    "      out[1] = 'short' "
    "      return out "
    "    end "
    "    chunk = math.min(chunk * 4, 1000) "
    "  end "
    "end "
    /*
     * read, with the context PostgreSQL gave: it is kept for the next
     * reads when the reader's generation is still the one read before.
     * KEYS: recent top bottom context rgen; ARGV: before need cap nfollow
     * gen own, ids...
     */
    "redis.register_function('social_feed_read_' .. V, function(KEYS, ARGV) "
    "  local nf = tonumber(ARGV[4]) "
    "  local own = ARGV[6] "
    "  local follow, block = {}, {} "
    "  for i = 7, 6 + nf do follow[ARGV[i]] = 1 end "
    "  for i = 7 + nf, #ARGV do block[ARGV[i]] = 1 end "
    "  local v = redis.call('MGET', KEYS[5], KEYS[2], KEYS[3], '"
                         NGX_HTTP_SOCIAL_KEY_FEED_OBJGEN "') "
    /* kept as JSON: cjson.decode makes the two sets in C, not in Lua */
    "  if (v[1] or '0') == ARGV[5] then "
    "    local c = ARGV[5] .. '|' .. own .. '|' "
    "              .. cjson.encode({follow, block}) "
    "    redis.call('SET', KEYS[4], c, "
    "               'PX', " NGX_HTTP_SOCIAL_FEED_CONTEXT_TTL_TEXT ") "
    "    if ctxs[c] == nil then keep(c, {ARGV[5], own, follow, block}) end "
    "  end "
    "  return walk(KEYS, ARGV, follow, block, own, v, 2) "
    "end) "
    /*
     * known, with the context kept in Redis, or {"context", the
     * generation}.  KEYS: recent top bottom context rgen; ARGV: before
     * need cap, "1" to read the context from PostgreSQL whatever is kept
     */
    "redis.register_function{function_name = 'social_feed_known_' .. V, "
    "                        flags = {'no-writes'}, "
    "                        callback = function(KEYS, ARGV) "
    "  local v = redis.call('MGET', KEYS[5], KEYS[4], '"
                         NGX_HTTP_SOCIAL_KEY_FEED_WRITTEN "', '"
                         NGX_HTTP_SOCIAL_KEY_FEED_LOADED "', "
    "                       KEYS[2], KEYS[3], '"
                         NGX_HTTP_SOCIAL_KEY_FEED_OBJGEN "') "
    "  local g, c = v[1] or '0', v[2] "
    "  if not c or ARGV[4] == '1' then return {'context', g} end "
    /* a write the set may not hold yet: PostgreSQL's newest is asked */
    "  if tonumber(v[3] or '0') > tonumber(v[4] or '0') then "
    "    return {'context', g} end "
    "  local e = context(c, g) "
    "  if not e then return {'context', g} end "
    "  return walk(KEYS, ARGV, e[3], e[4], e[2], v, 5) "
    "end}";


ngx_http_social_script_t  ngx_http_social_feed_read_script = {
    ngx_http_social_feed_lua, "", "social_feed_read", ""
};


ngx_http_social_script_t  ngx_http_social_feed_known_script = {
    ngx_http_social_feed_lua, "", "social_feed_known", ""
};


/* a reader's context may be old: this worker reads it again */

void
ngx_http_social_feed_distrust(const char *reader)
{
    int64_t  id;

    if (reader == NULL) {
        return;
    }

    id = ngx_atoof((u_char *) reader, ngx_strlen(reader));

    if (id > 0) {
        ngx_http_social_feed_mark(ngx_http_social_feed_distrusted,
                                  NGX_HTTP_SOCIAL_FEED_DISTRUST, id,
                                  NGX_HTTP_SOCIAL_FEED_DISTRUST_TIME);
    }
}


ngx_uint_t
ngx_http_social_feed_trusts(int64_t reader)
{
    return !ngx_http_social_feed_marked(ngx_http_social_feed_distrusted,
                                        NGX_HTTP_SOCIAL_FEED_DISTRUST,
                                        reader);
}


/* a reader marked for "time" ms */

void
ngx_http_social_feed_mark(ngx_http_social_feed_mark_t *marks, ngx_uint_t n,
    int64_t reader, ngx_msec_t time)
{
    ngx_http_social_feed_mark_t  *m;

    m = &marks[(uint64_t) reader % n];
    m->reader = reader;
    m->until = ngx_current_msec + time;
}


ngx_uint_t
ngx_http_social_feed_marked(ngx_http_social_feed_mark_t *marks, ngx_uint_t n,
    int64_t reader)
{
    ngx_http_social_feed_mark_t  *m;

    m = &marks[(uint64_t) reader % n];

    return m->reader == reader
           && (ngx_msec_int_t) (m->until - ngx_current_msec) > 0;
}
