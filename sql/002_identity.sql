-- Identity and groups: users, their groups, and the grouping rule.

SET client_min_messages = warning;

-- a GIN index over text[] and an integer together
CREATE EXTENSION IF NOT EXISTS btree_gin;

-- A group's profile is its founder's normalised attributes, fixed for its
-- life.  "open" is size < social_group_max_size, kept by the statements that
-- change the size, so that the candidates come from an index over the
-- groups that are not full.
CREATE TABLE groups (
    group_id     bigserial PRIMARY KEY,
    profile      text[] NOT NULL,
    profile_len  integer NOT NULL,
    size         integer NOT NULL DEFAULT 0,
    open         boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- candidates: groups not full that share an attribute, within the lengths
-- that can reach the threshold
CREATE INDEX groups_open_profile ON groups USING gin (profile, profile_len)
    WHERE open;

CREATE TABLE users (
    user_id        bigserial PRIMARY KEY,
    username       text,
    email          text,
    attributes     text[] NOT NULL DEFAULT '{}',
    role           text NOT NULL DEFAULT 'user'
                   CHECK (role IN ('user', 'admin')),
    -- "scrypt$ln$r$p$salt$hash" or, for a generated password, "hmac$hash"
    password_hash  text NOT NULL,
    group_id       bigint REFERENCES groups (group_id),
    -- tokens carry it; moving it on revokes every older token
    token_gen      bigint NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_group ON users (group_id, user_id);


-- The grouping rule (../shared/API.md): the best candidate by Jaccard
-- |A n P| / |A u P| at or above the threshold, ties to more shared
-- attributes, then to the lowest group id; none: a new group with profile A.
-- The caller holds the grouping lock, so that the outcome is as if signups
-- ran one at a time.
--
-- social_group_max_size can change between restarts, and a group's "open"
-- flag was computed with the limit of its last change: the limit last used
-- is kept in social_settings, and the first join under another limit
-- recomputes every flag, so that "fewer than max_size members" always
-- holds.  Every node behind one database needs the same limit.
CREATE FUNCTION social_group_join(p_attrs text[], p_threshold numeric,
                                  p_max integer)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n  integer := cardinality(p_attrs);
    g  bigint;
BEGIN
    IF n = 0 THEN
        RETURN NULL;
    END IF;

    IF (SELECT value FROM social_settings WHERE name = 'group_max_size')
       IS DISTINCT FROM p_max::text
    THEN
        UPDATE groups SET open = size < p_max
         WHERE open IS DISTINCT FROM (size < p_max);
        INSERT INTO social_settings (name, value)
        VALUES ('group_max_size', p_max::text)
        ON CONFLICT (name) DO UPDATE SET value = excluded.value,
                                         updated_at = now();
    END IF;

    SELECT c.group_id INTO g
      FROM (SELECT gr.group_id, gr.profile_len,
                   (SELECT count(*) FROM unnest(gr.profile) a
                     WHERE a = ANY (p_attrs)) AS shared
              FROM groups gr
             WHERE gr.open
               AND gr.profile && p_attrs
               AND gr.profile_len >= ceil(p_threshold * n)
               AND gr.profile_len <= floor(n / p_threshold)) c
     WHERE c.shared >= p_threshold * (n + c.profile_len - c.shared)
     ORDER BY c.shared::numeric / (n + c.profile_len - c.shared) DESC,
              c.shared DESC, c.group_id
     LIMIT 1;

    IF g IS NULL THEN
        INSERT INTO groups (profile, profile_len, size, open)
        VALUES (p_attrs, n, 1, 1 < p_max)
        RETURNING group_id INTO g;
    ELSE
        UPDATE groups SET size = size + 1, open = size + 1 < p_max
         WHERE group_id = g;
    END IF;

    RETURN g;
END $$;


-- a member leaves: the group shrinks, and goes when it is empty
CREATE FUNCTION social_group_leave(p_group bigint, p_max integer)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_group IS NULL THEN
        RETURN;
    END IF;

    UPDATE groups SET size = size - 1, open = size - 1 < p_max
     WHERE group_id = p_group;
    DELETE FROM groups WHERE group_id = p_group AND size <= 0;
END $$;


-- the one lock that orders everything that changes group membership
CREATE FUNCTION social_group_lock()
RETURNS void
LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(727001)
$$;


-- a time as the API shows it (STABLE as to_char is: so it is inlined)
CREATE FUNCTION social_time(t timestamptz)
RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;


CREATE FUNCTION social_signup(p_username text, p_email text, p_attrs text[],
                              p_hash text, p_threshold numeric,
                              p_max integer)
RETURNS TABLE (user_id bigint, group_id bigint, created_at text,
               token_gen bigint)
LANGUAGE plpgsql AS $$
DECLARE
    g  bigint;
BEGIN
    IF cardinality(p_attrs) > 0 THEN
        PERFORM social_group_lock();
        g := social_group_join(p_attrs, p_threshold, p_max);
    END IF;

    RETURN QUERY
    INSERT INTO users AS u (username, email, attributes, password_hash,
                            group_id)
    VALUES (p_username, p_email, p_attrs, p_hash, g)
    RETURNING u.user_id, u.group_id, social_time(u.created_at), u.token_gen;
END $$;


-- new attributes: leave the old group, join as a new signup would;
-- unchanged attributes change nothing
CREATE FUNCTION social_regroup(p_user bigint, p_attrs text[],
                               p_threshold numeric, p_max integer)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    old_attrs  text[];
    old_group  bigint;
    g          bigint;
BEGIN
    PERFORM social_group_lock();

    SELECT attributes, group_id INTO old_attrs, old_group
      FROM users WHERE user_id = p_user FOR UPDATE;

    IF NOT FOUND OR old_attrs = p_attrs THEN
        RETURN;
    END IF;

    UPDATE users SET group_id = NULL, attributes = p_attrs
     WHERE user_id = p_user;
    PERFORM social_group_leave(old_group, p_max);

    g := social_group_join(p_attrs, p_threshold, p_max);
    UPDATE users SET group_id = g WHERE user_id = p_user;
END $$;


-- the user and what is theirs; true when there was such a user
CREATE FUNCTION social_user_delete(p_user bigint, p_max integer)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    old_group  bigint;
BEGIN
    PERFORM social_group_lock();

    DELETE FROM users WHERE user_id = p_user RETURNING group_id
      INTO old_group;

    IF NOT FOUND THEN
        RETURN false;
    END IF;

    PERFORM social_group_leave(old_group, p_max);

    RETURN true;
END $$;
