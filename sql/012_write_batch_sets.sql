-- A batch's posts, likes and follows as three statements, whatever their
-- number (DESIGN.md, "Writes that commit together").  social_write_batch()
-- of migration 009 ran one statement per write, and a statement costs far
-- more than the rows it writes: the foreign keys' queries, the triggers
-- (the counts of migration 011 fire once per statement), the plan's start.
-- A follow, with its lookups, cost about a third more than a post; as a
-- set, about the same (pgbench on the function alone, batches of 10).
--
-- The writes of one batch were all in flight at once, so any order of
-- them is one the clients could have seen: the posts go first, then the
-- likes, then the follows, then the rest (unlike, unfollow, block,
-- unblock: rarer, and each still a statement of its own), each seeing
-- what went before.  The answer is still one row per write, in the
-- order of the writes, and the posts' events are made in the order of
-- the post writes (social_write_batch_posts() reads them back so).  Likes
-- and follows go in in the order of their keys, so that two batches that
-- share some never wait on each other both ways (a deadlock, which
-- PostgreSQL would end after a second by refusing one batch).

SET client_min_messages = warning;

CREATE OR REPLACE FUNCTION social_write_batch(p_token text, p_kinds text[],
    p_a text[], p_b text[])
RETURNS TABLE (c0 text, c1 text, c2 text, c3 text, c4 text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    n     int := coalesce(cardinality(p_kinds), 0);
    v_a   bigint;
    v_b   bigint;
    r     text[];
    -- the answers: write i's row is (o0[i], ... o4[i])
    o0    text[] := array_fill(NULL::text, ARRAY[n]);
    o1    text[] := array_fill(NULL::text, ARRAY[n]);
    o2    text[] := array_fill(NULL::text, ARRAY[n]);
    o3    text[] := array_fill(NULL::text, ARRAY[n]);
    o4    text[] := array_fill(NULL::text, ARRAY[n]);
    q     record;
BEGIN
    INSERT INTO write_batches (token, xid)
    VALUES (p_token, pg_current_xact_id());

    -- one batch in a hundred deletes up to a thousand old tokens, none
    -- that another is deleting (no batch waits for another)
    IF random() < 0.01 THEN
        DELETE FROM write_batches
         WHERE token IN (SELECT token FROM write_batches
                          WHERE created_at < now() - interval '1 hour'
                          LIMIT 1000 FOR UPDATE SKIP LOCKED);
    END IF;

    -- the posts and their events, in the order of the writes: the ids
    -- come from the sequence in the order the rows go in
    IF 'post' = ANY (p_kinds) THEN
        FOR q IN
            WITH w AS (SELECT i, a::bigint AS a, b
                         FROM unnest(p_kinds, p_a, p_b)
                              WITH ORDINALITY AS u(k, a, b, i)
                        WHERE k = 'post'
                        ORDER BY i),
                 p AS (INSERT INTO posts (author_id, content)
                       SELECT a, b FROM w ORDER BY i
                       RETURNING post_id, author_id, content, created_at),
                 e AS (INSERT INTO events (actor_id, type, post_id,
                                           created_at)
                       SELECT author_id, 'post', post_id, created_at
                         FROM p ORDER BY post_id)
            SELECT w.i, p.post_id::text AS id, p.author_id::text AS author,
                   p.content, social_time(p.created_at) AS at
              FROM (SELECT row_number() OVER (ORDER BY i) AS rn, i
                      FROM w) w
              JOIN (SELECT row_number() OVER (ORDER BY post_id) AS rn, *
                      FROM p) p USING (rn)
        LOOP
            o0[q.i] := q.id;
            o1[q.i] := q.author;
            o2[q.i] := q.content;
            o3[q.i] := q.at;
            o4[q.i] := '0';
        END LOOP;
    END IF;

    -- the likes, once each, with their events: whether the post can be
    -- seen (no block between the liker and the author), the post whose
    -- object goes
    IF 'like' = ANY (p_kinds) THEN
        FOR q IN
            WITH w AS (SELECT i, a::bigint AS a, b::bigint AS b
                         FROM unnest(p_kinds, p_a, p_b)
                              WITH ORDINALITY AS u(k, a, b, i)
                        WHERE k = 'like'),
                 t AS (SELECT w.i, w.a, w.b,
                              p.post_id IS NOT NULL
                              AND NOT EXISTS (SELECT 1 FROM blocks
                                      WHERE (blocker_id = p.author_id
                                             AND blocked_id = w.b)
                                         OR (blocker_id = w.b
                                             AND blocked_id = p.author_id))
                              AS found
                         FROM w LEFT JOIN posts p ON p.post_id = w.a),
                 l AS (INSERT INTO likes (user_id, post_id)
                       SELECT b, a FROM t WHERE found ORDER BY b, a
                       ON CONFLICT DO NOTHING RETURNING user_id, post_id),
                 e AS (INSERT INTO events (actor_id, type, post_id)
                       SELECT user_id, 'like', post_id FROM l)
            SELECT i, found, a FROM t
        LOOP
            o0[q.i] := q.found::text;
            o2[q.i] := ARRAY[q.a]::text;
        END LOOP;
    END IF;

    -- the follows, once each, with their events: whether the user exists,
    -- whether a block stands between the two
    IF 'follow' = ANY (p_kinds) THEN
        FOR q IN
            WITH w AS (SELECT i, a::bigint AS a, b::bigint AS b
                         FROM unnest(p_kinds, p_a, p_b)
                              WITH ORDINALITY AS u(k, a, b, i)
                        WHERE k = 'follow'),
                 t AS (SELECT w.i, w.a, w.b, u.user_id IS NOT NULL AS found,
                              EXISTS (SELECT 1 FROM blocks
                                       WHERE (blocker_id = w.a
                                              AND blocked_id = w.b)
                                          OR (blocker_id = w.b
                                              AND blocked_id = w.a))
                              AS blocked
                         FROM w LEFT JOIN users u ON u.user_id = w.b),
                 f AS (INSERT INTO follows (follower_id, followed_id)
                       SELECT a, b FROM t
                        WHERE found AND NOT blocked
                        ORDER BY a, b
                       ON CONFLICT DO NOTHING
                       RETURNING follower_id, followed_id),
                 e AS (INSERT INTO events (actor_id, type, target_id)
                       SELECT follower_id, 'follow', followed_id FROM f)
            SELECT i, found, blocked FROM t
        LOOP
            o0[q.i] := q.found::text;
            o1[q.i] := q.blocked::text;
        END LOOP;
    END IF;

    -- the rest, one statement each, in the order of the writes
    FOR i IN 1 .. n LOOP
        IF p_kinds[i] IN ('post', 'like', 'follow') THEN
            CONTINUE;
        END IF;

        v_a := p_a[i]::bigint;
        v_b := p_b[i]::bigint;

        CASE p_kinds[i]

        WHEN 'unlike' THEN
            WITH p AS (SELECT post_id FROM posts
                        WHERE post_id = v_a
                          AND NOT EXISTS (SELECT 1 FROM blocks
                                  WHERE (blocker_id = author_id
                                         AND blocked_id = v_b)
                                     OR (blocker_id = v_b
                                         AND blocked_id = author_id))),
                 l AS (DELETE FROM likes WHERE user_id = v_b
                          AND post_id IN (SELECT post_id FROM p)),
                 e AS (DELETE FROM events
                        WHERE type = 'like' AND actor_id = v_b
                          AND post_id IN (SELECT post_id FROM p)
                       RETURNING event_id)
            SELECT ARRAY[EXISTS (SELECT 1 FROM p)::text,
                         (SELECT array_agg(event_id) FROM e)::text,
                         ARRAY[v_a]::text]
              INTO r;

            o0[i] := r[1];
            o1[i] := r[2];
            o2[i] := r[3];

        -- unfollowing takes the follow out of the feeds too
        WHEN 'unfollow' THEN
            WITH t AS (SELECT user_id FROM users
                        WHERE user_id = v_b),
                 f AS (DELETE FROM follows
                        WHERE follower_id = v_a
                          AND followed_id = v_b),
                 e AS (DELETE FROM events
                        WHERE type = 'follow' AND actor_id = v_a
                          AND target_id = v_b
                       RETURNING event_id)
            SELECT ARRAY[EXISTS (SELECT 1 FROM t)::text,
                         (SELECT array_agg(event_id) FROM e)::text]
              INTO r;

            o0[i] := r[1];
            o1[i] := 'false';
            o2[i] := r[2];

        -- a block removes the follows both ways
        WHEN 'block' THEN
            WITH t AS (SELECT user_id FROM users
                        WHERE user_id = v_b),
                 bk AS (INSERT INTO blocks (blocker_id, blocked_id)
                        SELECT v_a, user_id FROM t
                        ON CONFLICT DO NOTHING),
                 f AS (DELETE FROM follows
                        WHERE (follower_id = v_a
                               AND followed_id = v_b)
                           OR (follower_id = v_b
                               AND followed_id = v_a)),
                 e AS (DELETE FROM events WHERE type = 'follow'
                          AND ((actor_id = v_a
                                AND target_id = v_b)
                               OR (actor_id = v_b
                                   AND target_id = v_a))
                       RETURNING event_id)
            SELECT ARRAY[EXISTS (SELECT 1 FROM t)::text,
                         (SELECT array_agg(event_id) FROM e)::text]
              INTO r;

            o0[i] := r[1];
            o1[i] := 'false';
            o2[i] := r[2];

        WHEN 'unblock' THEN
            WITH t AS (SELECT user_id FROM users
                        WHERE user_id = v_b),
                 bk AS (DELETE FROM blocks
                         WHERE blocker_id = v_a
                           AND blocked_id = v_b)
            SELECT ARRAY[EXISTS (SELECT 1 FROM t)::text] INTO r;

            o0[i] := r[1];
            o1[i] := 'false';

        ELSE
            RAISE EXCEPTION 'unknown write "%"', p_kinds[i];
        END CASE;
    END LOOP;

    -- every write answered: each kind's statement gives one row a write
    FOR i IN 1 .. n LOOP
        IF o0[i] IS NULL THEN
            RAISE EXCEPTION 'write % of the batch gave no row', i;
        END IF;
    END LOOP;

    RETURN QUERY
    SELECT u.c0, u.c1, u.c2, u.c3, u.c4
      FROM unnest(o0, o1, o2, o3, o4) WITH ORDINALITY
           AS u(c0, c1, c2, c3, c4, i)
     ORDER BY u.i;
END $$;
