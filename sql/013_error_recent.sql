-- GET /exercises at the same cost whatever the user's history (issue 16).
-- It offers the user's own utterances that had an error of each focus
-- subcategory, newest first, at most 20 (the largest limit).  They were
-- found by probing utterance_errors, one index descent per utterance,
-- below a user's every point: a cost that grew with the history and was
-- half of the statement's.  Now each (user, subcategory) keeps its 20
-- newest utterances in one row, kept by a trigger on utterance_errors, so
-- whatever inserts points (the flush, a dead letter's replay, SQL by
-- hand) keeps it right.  Utterances are never deleted but with their user,
-- whose rows go too.

SET client_min_messages = warning;

CREATE TABLE error_recent (
    user_id          bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    category_key     text NOT NULL,
    subcategory_key  text NOT NULL,
    -- distinct, newest (highest id) first, at most 20
    utterances       bigint[] NOT NULL,
    PRIMARY KEY (user_id, category_key, subcategory_key)
);

-- one statement's new points merged into their keys' rows, the keys in
-- order, so that two flushes that share keys never wait on each other
-- both ways
CREATE FUNCTION social_error_recent()
RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO error_recent AS r (user_id, category_key, subcategory_key,
                                   utterances)
    SELECT user_id, category_key, subcategory_key,
           (array_agg(DISTINCT utterance_id
                      ORDER BY utterance_id DESC))[1:20]
      FROM new_points
     GROUP BY user_id, category_key, subcategory_key
     ORDER BY user_id, category_key, subcategory_key
    ON CONFLICT (user_id, category_key, subcategory_key)
    DO UPDATE SET utterances =
        (SELECT array_agg(u ORDER BY u DESC)
           FROM (SELECT DISTINCT u
                   FROM unnest(r.utterances || excluded.utterances) u
                  ORDER BY u DESC LIMIT 20) x);

    RETURN NULL;
END
$$;

CREATE TRIGGER utterance_errors_recent
    AFTER INSERT ON utterance_errors
    REFERENCING NEW TABLE AS new_points
    FOR EACH STATEMENT EXECUTE FUNCTION social_error_recent();

-- what is there already
INSERT INTO error_recent (user_id, category_key, subcategory_key,
                          utterances)
SELECT k.user_id, k.category_key, k.subcategory_key, r.utterances
  FROM (SELECT DISTINCT user_id, category_key, subcategory_key
          FROM utterance_errors) k,
       LATERAL (SELECT array_agg(u ORDER BY u DESC) AS utterances
                  FROM (SELECT DISTINCT e.utterance_id AS u
                          FROM utterance_errors e
                         WHERE e.user_id = k.user_id
                           AND e.category_key = k.category_key
                           AND e.subcategory_key = k.subcategory_key
                         ORDER BY 1 DESC LIMIT 20) x) r;

-- The exercise bank's version: each worker keeps a copy of the bank
-- (ngx_http_social_exercise_bank.c), and every GET /exercises reads this
-- version with its statement; a worker whose copy is of another reads the
-- bank again.  Any statement that changes the bank moves it on.
CREATE TABLE exercise_bank (
    one      boolean PRIMARY KEY DEFAULT true CHECK (one),
    version  bigint NOT NULL
);

INSERT INTO exercise_bank (version) VALUES (1);

CREATE FUNCTION social_exercise_bank_changed()
RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE exercise_bank SET version = version + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER exercises_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON exercises
    FOR EACH STATEMENT EXECUTE FUNCTION social_exercise_bank_changed();
