-- social_group_max_size can change between restarts: a group's "open" flag
-- was computed with the limit of its last change.  The limit last used is
-- kept in social_settings; the first join under another limit recomputes
-- every flag (under the grouping lock, which every caller holds), so that
-- "fewer than max_size members" always holds.  Every node behind one
-- database needs the same limit.

SET client_min_messages = warning;

CREATE OR REPLACE FUNCTION social_group_join(p_attrs text[],
                                             p_threshold numeric,
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
