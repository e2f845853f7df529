-- Activity feed: posts, likes, follows, blocks and the events of the feed.
-- Everything of a user goes with the user (ON DELETE CASCADE), and every
-- event on a post goes with the post, so that a deleted post or user
-- vanishes from every feed.

SET client_min_messages = warning;

CREATE TABLE posts (
    post_id     bigserial PRIMARY KEY,
    author_id   bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    content     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- GET /user/{id}/posts, newest first
CREATE INDEX posts_author ON posts (author_id, post_id DESC);

CREATE TABLE likes (
    user_id     bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    post_id     bigint NOT NULL REFERENCES posts ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, post_id)
);

-- like_count
CREATE INDEX likes_post ON likes (post_id);

CREATE TABLE follows (
    follower_id  bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    followed_id  bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (follower_id, followed_id)
);

-- followers of a user
CREATE INDEX follows_followed ON follows (followed_id, follower_id);

CREATE TABLE blocks (
    blocker_id  bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    blocked_id  bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (blocker_id, blocked_id)
);

-- the reverse lookup: who blocks this user
CREATE INDEX blocks_blocked ON blocks (blocked_id, blocker_id);

CREATE TABLE events (
    event_id    bigserial PRIMARY KEY,
    actor_id    bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    type        text NOT NULL CHECK (type IN ('post', 'like', 'follow')),
    post_id     bigint REFERENCES posts ON DELETE CASCADE,
    target_id   bigint REFERENCES users ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- the feed: the events of the reader and of whom they follow, newest first
CREATE INDEX events_actor ON events (actor_id, event_id DESC);
-- the cascades from posts and users
CREATE INDEX events_post ON events (post_id) WHERE post_id IS NOT NULL;
CREATE INDEX events_target ON events (target_id) WHERE target_id IS NOT NULL;


-- is either of the two users blocking the other
CREATE FUNCTION social_blocked(a bigint, b bigint)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM blocks
                    WHERE (blocker_id = a AND blocked_id = b)
                       OR (blocker_id = b AND blocked_id = a))
$$;


-- Feed pages are positions in event ids, so ids must become visible in
-- their order: otherwise an event whose id was taken before another's but
-- committed after it could fall behind a reader's cursor, a gap.  Event
-- writes take one lock until they commit, and the id is taken under it.
CREATE FUNCTION social_event_order()
RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(727002);
    NEW.event_id := nextval('events_event_id_seq');
    RETURN NEW;
END $$;

CREATE TRIGGER events_in_order BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION social_event_order();

-- the trigger takes the id: no default takes one before it
ALTER TABLE events ALTER COLUMN event_id DROP DEFAULT;
