
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The statements of GET /feed (ngx_http_social_feed.c says when each
 * runs): the page from PostgreSQL, for any reader or a quiet one, the
 * reader's context for the Redis set, and the events the set chose.  Their
 * parameters: $1 the reader, $2 the cursor, $3 the page and one more, $4
 * the lowest event (0, or the set's top), $5 the bound of others' events
 * a pass carries (the horizon of its first page), $6 the set's events.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_feed_sql.h"


/*
 * The page's events, merged per followee (NGX_HTTP_SOCIAL_FEED_MERGE): the
 * reader and whom the reader follows, less the users in a block with the
 * reader (bl, read once as an array), are s.  h: the newest matching event
 * of each below the cursor ($2) and above $4, one probe each of
 * events_actor_page, and the limit ($3, the page and one more) newest of
 * them.  If there are that many, the page holds no event older than the
 * oldest of them (t): each of those followees has a matching event at or
 * above t.  m: the events of the followees of h between t and the cursor,
 * at most $3 each, merged and cut to $3.  So a page reads one index entry
 * per followee and at most $3 * $3 more, whatever the size of the table.
 *
 * A match: no target and no post author in a block with the reader (the
 * actor is one of s, each once: a follow of oneself, which the API
 * refuses, written with SQL would count the reader twice).  The post's
 * author is looked up only when the reader is in a block at all.
 */

/*
 * The upper bound of an actor's events: the cursor, and for anyone but
 * the reader the horizon (hz, social_event_horizon(), migration 008):
 * the events of transactions that may still be running are left out, so
 * that an event that commits late never falls behind a cursor; the
 * reader's own are in at once.
 */

#define NGX_HTTP_SOCIAL_FEED_BELOW(a)                                        \
    "CASE WHEN " a ".id = $1 THEN $2 ELSE least($2, hz.h) END "

#define NGX_HTTP_SOCIAL_FEED_MATCH                                           \
    "      AND (e.target_id IS NULL OR NOT e.target_id = ANY (bl.ids)) "     \
    "      AND (e.post_id IS NULL OR cardinality(bl.ids) = 0 "               \
    "           OR NOT (SELECT p.author_id FROM posts p "                    \
    "                    WHERE p.post_id = e.post_id) = ANY (bl.ids)) "

#define NGX_HTTP_SOCIAL_FEED_MERGE                                           \
    "WITH bl AS (SELECT ARRAY(SELECT blocked_id FROM blocks "                \
    "                          WHERE blocker_id = $1 "                       \
    "                         UNION SELECT blocker_id FROM blocks "          \
    "                                WHERE blocked_id = $1) AS ids), "       \
    "     s AS (SELECT f.followed_id AS id FROM follows f "                  \
    "            WHERE f.follower_id = $1 AND f.followed_id <> $1 "          \
    "           UNION ALL SELECT $1::bigint), "                              \
    "     hz AS (SELECT least(social_event_horizon(), $5::bigint) AS h), "   \
    "     h AS (SELECT s.id, x.event_id "                                    \
    "             FROM s CROSS JOIN bl CROSS JOIN hz CROSS JOIN LATERAL "    \
    "                  (SELECT e.event_id FROM events e "                    \
    "                    WHERE e.actor_id = s.id "                           \
    "                      AND e.event_id < "                                \
    NGX_HTTP_SOCIAL_FEED_BELOW("s")                                          \
    "                      AND e.event_id > $4 "                             \
    NGX_HTTP_SOCIAL_FEED_MATCH                                               \
    "                    ORDER BY e.event_id DESC LIMIT 1) x "               \
    "            WHERE NOT s.id = ANY (bl.ids) "                             \
    "            ORDER BY x.event_id DESC LIMIT $3), "                       \
    "     t AS (SELECT CASE WHEN count(*) < $3 THEN 0 "                      \
    "                       ELSE min(event_id) END AS t FROM h), "           \
    "     m AS (SELECT x.event_id "                                          \
    "             FROM h CROSS JOIN t CROSS JOIN bl CROSS JOIN hz "          \
    "                  CROSS JOIN LATERAL "                                  \
    "                  (SELECT e.event_id FROM events e "                    \
    "                    WHERE e.actor_id = h.id "                           \
    "                      AND e.event_id < "                                \
    NGX_HTTP_SOCIAL_FEED_BELOW("h")                                          \
    "                      AND e.event_id > $4 "                             \
    "                      AND e.event_id >= t.t "                           \
    NGX_HTTP_SOCIAL_FEED_MATCH                                               \
    "                    ORDER BY e.event_id DESC LIMIT $3) x "              \
    "            ORDER BY x.event_id DESC LIMIT $3) "

/*
 * The events just below the cursor (or the last event), a window of
 * NGX_HTTP_SOCIAL_FEED_WINDOW in the global order, filtered: when they
 * hold a page (and one more), they are the page, read from consecutive
 * events, with no probe per followee; else the merge (the one-time filter
 * keeps it from running when the window is enough).  A reader whose
 * follows wrote at least one event in 50 lately is served by the window.
 */

#define NGX_HTTP_SOCIAL_FEED_WINDOW  "1000"

#define NGX_HTTP_SOCIAL_FEED_WINDOWED                                        \
    NGX_HTTP_SOCIAL_FEED_MERGE                                               \
    ",    w AS (SELECT e.event_id "                                          \
    "             FROM (SELECT * FROM events "                               \
    "                    WHERE event_id < $2 AND event_id > $4 "             \
    "                    ORDER BY event_id DESC "                            \
    "                    LIMIT " NGX_HTTP_SOCIAL_FEED_WINDOW ") e "          \
    "                  CROSS JOIN bl CROSS JOIN hz "                         \
    "            WHERE (e.event_id < hz.h OR e.actor_id = $1) "              \
    "              AND e.actor_id IN (SELECT id FROM s) "                    \
    "              AND NOT e.actor_id = ANY (bl.ids) "                       \
    NGX_HTTP_SOCIAL_FEED_MATCH                                               \
    "            ORDER BY e.event_id DESC LIMIT $3), "                       \
    "     pg AS (SELECT event_id FROM w "                                    \
    "             WHERE (SELECT count(*) FROM w) = $3 "                      \
    "            UNION ALL "                                                 \
    "            SELECT event_id FROM m "                                    \
    "             WHERE (SELECT count(*) FROM w) < $3) "

/* a page's rows: the events with their actor, post and target */
#define NGX_HTTP_SOCIAL_FEED_ROWS                                            \
    "SELECT e.event_id, e.type, social_time(e.created_at), "                 \
    "       a.user_id, a.username, "                                         \
    "       p.post_id, p.author_id, p.content, social_time(p.created_at), "  \
    "       (SELECT count(*) FROM likes l WHERE l.post_id = p.post_id), "    \
    "       t.user_id, t.username, (SELECT h FROM hz) "                      \
    "  FROM events e "                                                       \
    "  JOIN users a ON a.user_id = e.actor_id "                              \
    "  LEFT JOIN posts p ON p.post_id = e.post_id "                          \
    "  LEFT JOIN users t ON t.user_id = e.target_id "


/* the page: reader, before, limit, after (0), others' bound */
const char  ngx_http_social_sql_feed[] =
    NGX_HTTP_SOCIAL_FEED_WINDOWED
    NGX_HTTP_SOCIAL_FEED_ROWS
    " WHERE e.event_id = ANY (ARRAY(SELECT event_id FROM pg)) "
    " ORDER BY e.event_id DESC";

/* the page of a quiet reader, whose follows the window would not hold */
const char  ngx_http_social_sql_feed_quiet[] =
    NGX_HTTP_SOCIAL_FEED_MERGE
    NGX_HTTP_SOCIAL_FEED_ROWS
    " WHERE e.event_id = ANY (ARRAY(SELECT event_id FROM m)) "
    " ORDER BY e.event_id DESC";


/*
 * the reader's follows and blocks, the last event id (below the horizon,
 * or the reader's own), and the reader's own newest
 */
const char  ngx_http_social_sql_feed_context[] =
    "SELECT ARRAY(SELECT followed_id FROM follows "
    "              WHERE follower_id = $1)::text, "
    "       ARRAY(SELECT blocked_id FROM blocks WHERE blocker_id = $1 "
    "             UNION SELECT blocker_id FROM blocks "
    "                    WHERE blocked_id = $1)::text, "
    "       greatest((SELECT max(event_id) FROM events "
    "                  WHERE event_id < social_event_horizon()), o.own), "
    "       o.own "
    "  FROM (SELECT coalesce((SELECT max(event_id) FROM events "
    "                          WHERE actor_id = $1), 0) AS own) o";

/*
 * The events the set chose, by id ($6), when objects of theirs are not
 * cached, and the reader's events newer than the set holds (above $4, the
 * set's top, below $2): their rows as the page's
 */
const char  ngx_http_social_sql_feed_ids[] =
    NGX_HTTP_SOCIAL_FEED_MERGE
    NGX_HTTP_SOCIAL_FEED_ROWS
    " WHERE e.event_id = ANY (ARRAY(SELECT event_id FROM m) "
    "                         || $6::bigint[]) "
    " ORDER BY e.event_id DESC "
    " LIMIT $3";
