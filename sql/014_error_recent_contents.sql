-- GET /exercises reads its frequencies and each subcategory's newest
-- utterances in one flat statement and ranks them itself (issue 16); the
-- texts of the newest utterances are kept beside their ids, so that the
-- statement reads them with the row instead of probing utterances once
-- per utterance.  An utterance's text never changes, and it is deleted
-- only with its user, whose rows go too.  Each row holds at most 20 texts
-- (the largest limit), so what a read costs still does not grow with the
-- history.

SET client_min_messages = warning;

ALTER TABLE error_recent ADD COLUMN contents text[];

-- one statement's new points merged into their keys' rows, the keys in
-- order, so that two flushes that share keys never wait on each other
-- both ways; ids and texts stay parallel, newest (highest id) first
CREATE OR REPLACE FUNCTION social_error_recent()
RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO error_recent AS r (user_id, category_key, subcategory_key,
                                   utterances, contents)
    SELECT k.user_id, k.category_key, k.subcategory_key,
           coalesce(t.utterances, '{}'), coalesce(t.contents, '{}')
      FROM (SELECT user_id, category_key, subcategory_key,
                   (array_agg(DISTINCT utterance_id
                              ORDER BY utterance_id DESC))[1:20] AS ids
              FROM new_points
             GROUP BY user_id, category_key, subcategory_key) k,
           LATERAL (SELECT array_agg(u.utterance_id
                                     ORDER BY u.utterance_id DESC)
                               AS utterances,
                           array_agg(u.content ORDER BY u.utterance_id DESC)
                               AS contents
                      FROM utterances u
                     WHERE u.utterance_id = ANY (k.ids)
                       AND u.user_id = k.user_id) t
     ORDER BY k.user_id, k.category_key, k.subcategory_key
    ON CONFLICT (user_id, category_key, subcategory_key)
    DO UPDATE SET (utterances, contents) =
        (SELECT coalesce(array_agg(x.u ORDER BY x.u DESC), '{}'),
                coalesce(array_agg(x.c ORDER BY x.u DESC), '{}')
           FROM (SELECT DISTINCT ON (a.u) a.u, a.c
                   FROM unnest(r.utterances || excluded.utterances,
                               r.contents || excluded.contents) a (u, c)
                  ORDER BY a.u DESC
                  LIMIT 20) x);

    RETURN NULL;
END
$$;

-- what is there already: the texts of the ids each row holds
UPDATE error_recent r
   SET (utterances, contents) =
       (SELECT coalesce(array_agg(x.u ORDER BY x.o), '{}'),
               coalesce(array_agg(u.content ORDER BY x.o), '{}')
          FROM unnest(r.utterances) WITH ORDINALITY x (u, o)
          JOIN utterances u
            ON u.utterance_id = x.u AND u.user_id = r.user_id);

ALTER TABLE error_recent ALTER COLUMN contents SET NOT NULL;
