-- The counts of GET /user/{id} (followers, following, posts) without
-- counting (DESIGN.md, "Counts without counting").  A user's count is
-- their row of user_counts plus the sum of their rows of
-- user_count_deltas, read in one statement, so one snapshot: exact, and
-- the same cost whatever the counts are.
--
-- Statement-level triggers on posts and follows append one delta row per
-- user a statement changed (the batches, DELETE /posts, a block, the
-- cascades of a deleted user, SQL by hand: every path).  Appending takes
-- no row lock, so concurrent writes of one popular user never wait on
-- each other.  social_compact_user_counts(), run about every second by
-- the module (ngx_http_social_counts.c), moves deltas into user_counts so
-- that a read sums few of them.

SET client_min_messages = warning;

-- the compacted totals; a user without a row has none yet
CREATE TABLE user_counts (
    user_id    bigint PRIMARY KEY REFERENCES users ON DELETE CASCADE,
    posts      bigint NOT NULL DEFAULT 0,
    followers  bigint NOT NULL DEFAULT 0,
    following  bigint NOT NULL DEFAULT 0
);

-- append-only: no key, no foreign key, so an insert locks no row; a
-- deleted user's deltas stay until the compaction drops them
CREATE TABLE user_count_deltas (
    user_id    bigint NOT NULL,
    posts      int NOT NULL DEFAULT 0,
    followers  int NOT NULL DEFAULT 0,
    following  int NOT NULL DEFAULT 0
);

CREATE INDEX user_count_deltas_user ON user_count_deltas (user_id);

-- a queue: rows come and go every second, so vacuum it by the number of
-- dead rows, not by a fraction of a table that is nearly empty
ALTER TABLE user_count_deltas SET (autovacuum_vacuum_scale_factor = 0,
                                   autovacuum_vacuum_threshold = 10000,
                                   autovacuum_vacuum_insert_scale_factor = 0,
                                   autovacuum_vacuum_insert_threshold = 10000);


-- one delta row per author a statement on posts changed
CREATE FUNCTION social_posts_counted()
RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO user_count_deltas (user_id, posts)
        SELECT author_id, count(*) FROM new_rows GROUP BY author_id;

    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO user_count_deltas (user_id, posts)
        SELECT author_id, -count(*) FROM old_rows GROUP BY author_id;

    ELSE
        -- a post given to another author (only by hand)
        INSERT INTO user_count_deltas (user_id, posts)
        SELECT author_id, sum(n)
          FROM (SELECT author_id, 1 AS n FROM new_rows
                UNION ALL
                SELECT author_id, -1 FROM old_rows) p
         GROUP BY author_id
        HAVING sum(n) <> 0;
    END IF;

    RETURN NULL;
END $$;

-- one delta row per user a statement on follows changed: the followed
-- one's followers, the follower's following
CREATE FUNCTION social_follows_counted()
RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO user_count_deltas (user_id, followers, following)
        SELECT user_id, sum(followers), sum(following)
          FROM (SELECT followed_id AS user_id, 1 AS followers,
                       0 AS following
                  FROM new_rows
                UNION ALL
                SELECT follower_id, 0, 1 FROM new_rows) f
         GROUP BY user_id;

    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO user_count_deltas (user_id, followers, following)
        SELECT user_id, sum(followers), sum(following)
          FROM (SELECT followed_id AS user_id, -1 AS followers,
                       0 AS following
                  FROM old_rows
                UNION ALL
                SELECT follower_id, 0, -1 FROM old_rows) f
         GROUP BY user_id;

    ELSE
        -- a follow rewritten (only by hand)
        INSERT INTO user_count_deltas (user_id, followers, following)
        SELECT user_id, sum(followers), sum(following)
          FROM (SELECT followed_id AS user_id, 1 AS followers,
                       0 AS following
                  FROM new_rows
                UNION ALL
                SELECT follower_id, 0, 1 FROM new_rows
                UNION ALL
                SELECT followed_id, -1, 0 FROM old_rows
                UNION ALL
                SELECT follower_id, 0, -1 FROM old_rows) f
         GROUP BY user_id
        HAVING sum(followers) <> 0 OR sum(following) <> 0;
    END IF;

    RETURN NULL;
END $$;


-- Every count again from the tables: the backfill below, and after a
-- TRUNCATE of posts or follows (which fires no delete trigger; the tests'
-- reset truncates users with them).  Writes to both tables wait meanwhile,
-- so that no delta is both dropped and counted.
CREATE FUNCTION social_user_counts_rebuild()
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE posts, follows IN SHARE MODE;

    DELETE FROM user_count_deltas;
    DELETE FROM user_counts;

    INSERT INTO user_counts (user_id, posts, followers, following)
    SELECT user_id, sum(posts), sum(followers), sum(following)
      FROM (SELECT author_id AS user_id, count(*) AS posts,
                   0 AS followers, 0 AS following
              FROM posts GROUP BY author_id
            UNION ALL
            SELECT followed_id, 0, count(*), 0
              FROM follows GROUP BY followed_id
            UNION ALL
            SELECT follower_id, 0, 0, count(*)
              FROM follows GROUP BY follower_id) c
     GROUP BY user_id
     ORDER BY user_id;
END $$;

CREATE FUNCTION social_user_counts_truncated()
RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM social_user_counts_rebuild();
    RETURN NULL;
END $$;


-- The compaction: up to p_max deltas that no other compaction holds, out
-- of user_count_deltas and into user_counts, in one transaction; returns
-- how many it took out.  Several may run at once (nodes, a run that
-- outlives its lock): each takes other rows, and they upsert in the order
-- of user ids, so they never deadlock.
--
-- The deltas of a user that no longer exists are dropped.  A user being
-- deleted or changing a unique column at that moment (a row locked FOR
-- UPDATE) is skipped, their deltas kept for the next run: the
-- compaction waits on no row, and no user holds the others' deltas back.
-- users and user_counts are locked first, as TRUNCATE users CASCADE takes
-- them (before the deltas, which its rebuild deletes).
CREATE FUNCTION social_compact_user_counts(p_max int)
RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    n        int;
    v_rows   tid[];
    v_users  bigint[];
    v_live   bigint[];
    v_busy   bigint[];
BEGIN
    LOCK TABLE users, user_counts IN ROW SHARE MODE;

    SELECT array_agg(d.ctid), array_agg(DISTINCT d.user_id)
      INTO v_rows, v_users
      FROM (SELECT ctid, user_id FROM user_count_deltas
             LIMIT p_max FOR UPDATE SKIP LOCKED) d;

    IF v_rows IS NULL THEN
        RETURN 0;
    END IF;

    -- the users that exist, kept from being deleted until the commit
    SELECT coalesce(array_agg(user_id), '{}') INTO v_live
      FROM (SELECT user_id FROM users
             WHERE user_id = ANY (v_users)
             ORDER BY user_id
               FOR KEY SHARE SKIP LOCKED) u;

    -- and those that exist but were locked: their deltas stay
    SELECT coalesce(array_agg(user_id), '{}') INTO v_busy
      FROM users
     WHERE user_id = ANY (v_users)
       AND user_id <> ALL (v_live);

    WITH d AS (DELETE FROM user_count_deltas
                WHERE ctid = ANY (v_rows)
                  AND user_id <> ALL (v_busy)
               RETURNING user_id, posts, followers, following),
         c AS (INSERT INTO user_counts AS c (user_id, posts, followers,
                                             following)
               SELECT user_id, sum(posts), sum(followers), sum(following)
                 FROM d
                WHERE user_id = ANY (v_live)
                GROUP BY user_id
                ORDER BY user_id
               ON CONFLICT (user_id) DO UPDATE
                  SET posts = c.posts + excluded.posts,
                      followers = c.followers + excluded.followers,
                      following = c.following + excluded.following)
    SELECT count(*) INTO n FROM d;

    RETURN n;
END $$;


-- the triggers, then the totals of what is there: posts and follows are
-- locked from here to the commit, so no write falls between the two

LOCK TABLE posts, follows IN SHARE ROW EXCLUSIVE MODE;

CREATE TRIGGER posts_counted_insert AFTER INSERT ON posts
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION social_posts_counted();

CREATE TRIGGER posts_counted_delete AFTER DELETE ON posts
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION social_posts_counted();

CREATE TRIGGER posts_counted_update AFTER UPDATE ON posts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION social_posts_counted();

CREATE TRIGGER posts_counted_truncate AFTER TRUNCATE ON posts
    FOR EACH STATEMENT EXECUTE FUNCTION social_user_counts_truncated();

CREATE TRIGGER follows_counted_insert AFTER INSERT ON follows
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION social_follows_counted();

CREATE TRIGGER follows_counted_delete AFTER DELETE ON follows
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION social_follows_counted();

CREATE TRIGGER follows_counted_update AFTER UPDATE ON follows
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION social_follows_counted();

CREATE TRIGGER follows_counted_truncate AFTER TRUNCATE ON follows
    FOR EACH STATEMENT EXECUTE FUNCTION social_user_counts_truncated();

DO $$ BEGIN PERFORM social_user_counts_rebuild(); END $$;
