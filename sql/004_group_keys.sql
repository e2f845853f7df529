-- The grouping cost, flat in the number of groups.
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
-- 10 attributes, are searched as before, through the GIN index.

SET client_min_messages = warning;

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


-- the groups there are already
INSERT INTO group_keys (key, profile_len, group_id)
SELECT social_subsets(profile, 1, profile_len), profile_len, group_id
  FROM groups WHERE open AND profile_len <= 8;


CREATE OR REPLACE FUNCTION social_group_join(p_attrs text[],
                                             p_threshold numeric,
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


CREATE OR REPLACE FUNCTION social_group_leave(p_group bigint, p_max integer)
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
