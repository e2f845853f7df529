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
-- attributes, then to the lowest group id; none: a new group with profile
-- A.  The caller holds the grouping lock, so that the outcome is as if
-- signups ran one at a time.
--
-- Candidates through a GIN index over "shares an attribute" grow with the
-- number of groups when the vocabulary has a Zipf head (the most frequent
-- words are in a large share of all groups).  So the rule is searched the
-- other way round, best first: the (|P|, k) classes that can reach the
-- threshold, in the order of the rule (Jaccard k / (|A| + |P| - k) down,
-- then k down); for each class, the lowest open group of length |P| that
-- holds one of the k-subsets of A, by a B-tree lookup per subset.  The
-- first class with a group answers.  Every open group with a profile of at
-- most 8 attributes keeps all its non-empty subsets as keys for this (at
-- most 255, whatever the threshold); longer profiles, and sets of more than
-- 10 attributes, are searched through the GIN index.
--
-- social_group_max_size can change between restarts, and a group's "open"
-- flag was computed with the limit of its last change: the limit last used
-- is kept in social_settings, and the first join under another limit
-- recomputes every flag and key, so that "fewer than max_size members"
-- always holds.  Every node behind one database needs the same limit.

CREATE TABLE group_keys (
    key          text NOT NULL,     -- a subset of the profile, joined by US
    profile_len  integer NOT NULL,
    group_id     bigint NOT NULL REFERENCES groups ON DELETE CASCADE,
    PRIMARY KEY (key, profile_len, group_id)
);

CREATE INDEX group_keys_group ON group_keys (group_id);

-- whether any open group has a long profile of a given length
CREATE INDEX groups_open_len ON groups (profile_len) WHERE open;


-- the subsets of a sorted set of sizes kmin..kmax, as keys
-- (JIT is off in these functions: the planner's estimates for the recursion
-- are high enough to compile it, which costs a hundred times the query)
CREATE FUNCTION social_subsets(p text[], kmin integer, kmax integer)
RETURNS SETOF text
LANGUAGE sql IMMUTABLE STRICT
SET jit = off AS $$
    WITH RECURSIVE s(k, last, key) AS (
        SELECT 1, i, p[i] FROM generate_subscripts(p, 1) i
        UNION ALL
        SELECT s.k + 1, j, s.key || E'\x1f' || p[j]
          FROM s, generate_series(s.last + 1, cardinality(p)) j
         WHERE s.k < kmax
    )
    SELECT key FROM s WHERE k >= kmin
$$;


-- the keys of an open group, or none for a full one or a long profile
CREATE FUNCTION social_group_keys(p_group bigint)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM group_keys WHERE group_id = p_group;

    INSERT INTO group_keys (key, profile_len, group_id)
    SELECT social_subsets(g.profile, 1, g.profile_len), g.profile_len,
           g.group_id
      FROM groups g
     WHERE g.group_id = p_group AND g.open AND g.profile_len <= 8;
END $$;


CREATE FUNCTION social_group_join(p_attrs text[], p_threshold numeric,
                                  p_max integer)
RETURNS bigint
LANGUAGE plpgsql
SET jit = off AS $$
DECLARE
    n       integer := cardinality(p_attrs);
    lo      integer := ceil(p_threshold * n);
    hi      integer := floor(n / p_threshold);
    c       record;
    g       bigint;
    g2      bigint;
    k2      integer;
    l2      integer;
    j1      numeric;
    j2      numeric;
BEGIN
    IF n = 0 THEN
        RETURN NULL;
    END IF;

    IF (SELECT value FROM social_settings WHERE name = 'group_max_size')
       IS DISTINCT FROM p_max::text
    THEN
        -- rare (a new limit): every group's keys follow its new state
        UPDATE groups SET open = size < p_max
         WHERE open IS DISTINCT FROM (size < p_max);
        PERFORM social_group_keys(group_id) FROM groups;
        INSERT INTO social_settings (name, value)
        VALUES ('group_max_size', p_max::text)
        ON CONFLICT (name) DO UPDATE SET value = excluded.value,
                                         updated_at = now();
    END IF;

    -- the short profiles, best class first, through the keys
    IF n <= 10 THEN
        FOR c IN
            SELECT l, k
              FROM generate_series(greatest(lo, 1), least(hi, 8)) l,
                   generate_series(1, least(n, 8)) k
             WHERE k <= l AND k >= p_threshold * (n + l - k)
             ORDER BY k::numeric / (n + l - k) DESC, k DESC
        LOOP
            SELECT min(x.group_id) INTO g
              FROM social_subsets(p_attrs, c.k, c.k) s(key),
                   LATERAL (SELECT gk.group_id FROM group_keys gk
                             WHERE gk.key = s.key AND gk.profile_len = c.l
                             ORDER BY gk.group_id LIMIT 1) x;

            IF g IS NOT NULL THEN
                j1 := c.k::numeric / (n + c.l - c.k);
                k2 := c.k;
                EXIT;
            END IF;
        END LOOP;
    END IF;

    -- the long profiles (and every length for a large set), as before, and
    -- only when there are such groups: the GIN scan reads the posting lists
    -- of every attribute of the set
    IF (hi > 8 OR n > 10)
       AND EXISTS (SELECT 1 FROM groups gr
                    WHERE gr.open
                      AND gr.profile_len BETWEEN CASE WHEN n > 10 THEN lo
                                                      ELSE greatest(lo, 9) END
                                             AND hi)
    THEN
        SELECT cand.group_id, cand.shared, cand.profile_len
          INTO g2, l2, j2
          FROM (SELECT gr.group_id, gr.profile_len,
                       (SELECT count(*) FROM unnest(gr.profile) a
                         WHERE a = ANY (p_attrs)) AS shared
                  FROM groups gr
                 WHERE gr.open
                   AND gr.profile && p_attrs
                   AND gr.profile_len >= CASE WHEN n > 10 THEN lo
                                              ELSE greatest(lo, 9) END
                   AND gr.profile_len <= hi) cand
         WHERE cand.shared >= p_threshold * (n + cand.profile_len
                                             - cand.shared)
         ORDER BY cand.shared::numeric / (n + cand.profile_len - cand.shared)
                  DESC, cand.shared DESC, cand.group_id
         LIMIT 1;

        IF g2 IS NOT NULL THEN
            -- l2 holds the shared count, j2 the length: the rule decides
            j2 := l2::numeric / (n + j2 - l2);

            IF g IS NULL OR j2 > j1 OR (j2 = j1 AND l2 > k2)
               OR (j2 = j1 AND l2 = k2 AND g2 < g)
            THEN
                g := g2;
            END IF;
        END IF;
    END IF;

    IF g IS NULL THEN
        INSERT INTO groups (profile, profile_len, size, open)
        VALUES (p_attrs, n, 1, 1 < p_max)
        RETURNING group_id INTO g;
    ELSE
        UPDATE groups SET size = size + 1, open = size + 1 < p_max
         WHERE group_id = g;
    END IF;

    PERFORM social_group_keys(g);

    RETURN g;
END $$;


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
    PERFORM social_group_keys(p_group);
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
