-- Writes that commit together (ngx_http_social_batch.c, DESIGN.md "Writes
-- that commit together").  The writes of concurrent requests in a worker
-- (posts, likes, follows, blocks and their undoing) go to PostgreSQL as
-- one statement, social_write_batch(), so one transaction and one fsync
-- for all of them.  A batch of one is how a write runs alone.
--
-- Each batch first writes its token, a random name the worker gave it,
-- with its transaction's id.  When the connection is lost before the
-- answer (during the COMMIT, say), the worker asks
-- social_write_batch_outcome() on another connection, which inserts the
-- same token again: that waits for the lost transaction to end, and then
-- conflicts if it committed, or takes the token if not, so that the lost
-- one can no longer commit either.  The worker knows which, and answers
-- nothing before it does.

SET client_min_messages = warning;

CREATE TABLE write_batches (
    token       text PRIMARY KEY,
    xid         xid8 NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- the batches delete the tokens older than an hour, now and then: far
-- longer than a worker asks about a lost one (ten times, each at most
-- the query timeout and 500 ms)
CREATE INDEX write_batches_created ON write_batches (created_at);


-- the writes, in order: each gives one row of at most five columns, the
-- columns the module reads of it
CREATE FUNCTION social_write_batch(p_token text, p_kinds text[],
    p_a text[], p_b text[])
RETURNS TABLE (c0 text, c1 text, c2 text, c3 text, c4 text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    n    int;
    v_a  bigint;
    v_b  bigint;
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

    FOR i IN 1 .. coalesce(cardinality(p_kinds), 0) LOOP
        n := 0;

        -- the block checks are written out: social_blocked(), a SQL
        -- function with a subquery, is not inlined, and a call of it
        -- costs about as much as the rest of a like
        v_a := p_a[i]::bigint;
        v_b := CASE WHEN p_kinds[i] = 'post' THEN NULL ELSE p_b[i]::bigint END;

        CASE p_kinds[i]

        -- a post and its event: the post
        WHEN 'post' THEN
            RETURN QUERY
            WITH p AS (INSERT INTO posts (author_id, content)
                       VALUES (v_a, p_b[i])
                       RETURNING post_id, author_id, content, created_at),
                 e AS (INSERT INTO events (actor_id, type, post_id,
                                           created_at)
                       SELECT author_id, 'post', post_id, created_at FROM p)
            SELECT p.post_id::text, p.author_id::text, p.content,
                   social_time(p.created_at), '0'::text
              FROM p;

        -- a like once, with its event: whether the post can be seen, the
        -- events gone (none), the post whose object goes
        WHEN 'like' THEN
            RETURN QUERY
            WITH p AS (SELECT post_id FROM posts
                        WHERE post_id = v_a
                          AND NOT EXISTS (SELECT 1 FROM blocks
                                  WHERE (blocker_id = author_id
                                         AND blocked_id = v_b)
                                     OR (blocker_id = v_b
                                         AND blocked_id = author_id))),
                 l AS (INSERT INTO likes (user_id, post_id)
                       SELECT v_b, post_id FROM p
                       ON CONFLICT DO NOTHING RETURNING post_id),
                 e AS (INSERT INTO events (actor_id, type, post_id)
                       SELECT v_b, 'like', post_id FROM l)
            SELECT EXISTS (SELECT 1 FROM p)::text, NULL::text,
                   ARRAY[v_a]::text, NULL::text, NULL::text;

        WHEN 'unlike' THEN
            RETURN QUERY
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
            SELECT EXISTS (SELECT 1 FROM p)::text,
                   (SELECT array_agg(event_id) FROM e)::text,
                   ARRAY[v_a]::text, NULL::text, NULL::text;

        -- whether the user exists, whether a block stands between the two,
        -- the events gone
        WHEN 'follow' THEN
            RETURN QUERY
            WITH t AS (SELECT user_id FROM users
                        WHERE user_id = v_b),
                 bl AS (SELECT EXISTS (SELECT 1 FROM blocks
                                        WHERE (blocker_id = v_a
                                               AND blocked_id = v_b)
                                           OR (blocker_id = v_b
                                               AND blocked_id = v_a))
                               AS blocked),
                 f AS (INSERT INTO follows (follower_id, followed_id)
                       SELECT v_a, user_id FROM t, bl
                        WHERE NOT bl.blocked
                       ON CONFLICT DO NOTHING RETURNING followed_id),
                 e AS (INSERT INTO events (actor_id, type, target_id)
                       SELECT v_a, 'follow', followed_id FROM f)
            SELECT EXISTS (SELECT 1 FROM t)::text,
                   (SELECT blocked FROM bl)::text, NULL::text, NULL::text,
                   NULL::text;

        -- unfollowing takes the follow out of the feeds too
        WHEN 'unfollow' THEN
            RETURN QUERY
            WITH t AS (SELECT user_id FROM users
                        WHERE user_id = v_b),
                 f AS (DELETE FROM follows
                        WHERE follower_id = v_a
                          AND followed_id = v_b),
                 e AS (DELETE FROM events
                        WHERE type = 'follow' AND actor_id = v_a
                          AND target_id = v_b
                       RETURNING event_id)
            SELECT EXISTS (SELECT 1 FROM t)::text, 'false'::text,
                   (SELECT array_agg(event_id) FROM e)::text, NULL::text,
                   NULL::text;

        -- a block removes the follows both ways
        WHEN 'block' THEN
            RETURN QUERY
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
            SELECT EXISTS (SELECT 1 FROM t)::text, 'false'::text,
                   (SELECT array_agg(event_id) FROM e)::text, NULL::text,
                   NULL::text;

        WHEN 'unblock' THEN
            RETURN QUERY
            WITH t AS (SELECT user_id FROM users
                        WHERE user_id = v_b),
                 bk AS (DELETE FROM blocks
                         WHERE blocker_id = v_a
                           AND blocked_id = v_b)
            SELECT EXISTS (SELECT 1 FROM t)::text, 'false'::text, NULL::text,
                   NULL::text, NULL::text;

        ELSE
            RAISE EXCEPTION 'unknown write "%"', p_kinds[i];
        END CASE;

        GET DIAGNOSTICS n = ROW_COUNT;

        IF n <> 1 THEN
            RAISE EXCEPTION 'write % of the batch gave % rows', i, n;
        END IF;
    END LOOP;
END $$;


-- whether a batch whose answer was lost committed: its token inserted
-- again waits for its transaction to end; taken by this (or an earlier
-- ask, whose xid is 0), the batch did not commit and never will
CREATE FUNCTION social_write_batch_outcome(p_token text)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    x xid8;
BEGIN
    INSERT INTO write_batches (token, xid) VALUES (p_token, '0')
    ON CONFLICT DO NOTHING;

    IF FOUND THEN
        RETURN false;
    END IF;

    -- a new snapshot: the row of the transaction just waited for
    SELECT xid INTO x FROM write_batches WHERE token = p_token;

    RETURN x IS NOT NULL AND x <> '0'::xid8;
END $$;


-- what a batch whose answer was lost wrote: its posts, in the order of the
-- batch's writes (each post write makes one post event, in order)
CREATE FUNCTION social_write_batch_posts(p_token text)
RETURNS TABLE (c0 text, c1 text, c2 text, c3 text, c4 text)
LANGUAGE sql STABLE AS $$
    SELECT p.post_id::text, p.author_id::text, p.content,
           social_time(p.created_at),
           (SELECT count(*) FROM likes l WHERE l.post_id = p.post_id)::text
      FROM write_batches w
      JOIN events e
        ON e.event_id >= (w.xid::text::bigint + social_event_base()) * 4096
       AND e.event_id < (w.xid::text::bigint + social_event_base() + 1) * 4096
       AND e.type = 'post'
      JOIN posts p ON p.post_id = e.post_id
     WHERE w.token = p_token
     ORDER BY e.event_id
$$;
