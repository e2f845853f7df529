-- Dead letters of the error flush (ngx_http_social_flush.c): the rows of a
-- batch that the flush set aside instead of letting them block it, because
-- they failed its checks (not UTF-8 of Unicode scalar values, not a row
-- [user, utterance, "Category", "Subcategory", ms, "point id"], a field of
-- the wrong type or length) or because PostgreSQL refused them alone.  The
-- rest of their batch landed.  Each is kept byte for byte as Redis held
-- it, with its batch and the reason, until an operator replays or purges
-- it (README, "Dead letters"; util/dead-letters, make dead-letters).

SET client_min_messages = warning;

CREATE TABLE error_dead_letters (
    dead_letter_id  bigserial PRIMARY KEY,
    batch_epoch     text NOT NULL,
    batch_seq       bigint NOT NULL,
    raw             bytea NOT NULL,     -- the row, as Redis held it
    raw_sha256      bytea NOT NULL GENERATED ALWAYS AS (sha256(raw)) STORED,
    reason          text NOT NULL,
    set_aside_at    timestamptz NOT NULL DEFAULT now(),
    -- a batch applied again (a run cut short after COMMIT, two runs at
    -- once) sets a row aside once
    UNIQUE (batch_epoch, batch_seq, raw_sha256)
);

-- Replays a dead letter whose row PostgreSQL can now take (its bytes
-- fixed with UPDATE, or the cause of the refusal gone): the point lands
-- as the flush would land it, at most once whatever was replayed before
-- (its point id), its count added to error_frequencies and to its batch,
-- and the dead letter goes.  A point of a deleted user or utterance lands
-- nowhere, and its dead letter goes too.  A row that still cannot be read
-- raises an error and changes nothing.  Returns the points landed, 0 or 1.
CREATE FUNCTION social_dead_letter_replay(id bigint)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    d  error_dead_letters;
    e  json;
    n  integer;
BEGIN
    SELECT * INTO d FROM error_dead_letters
     WHERE dead_letter_id = id FOR UPDATE;

    IF NOT FOUND THEN
        RAISE EXCEPTION 'no dead letter %', id;
    END IF;

    e := convert_from(d.raw, 'UTF8')::json;

    IF json_typeof(e) IS DISTINCT FROM 'array'
       OR json_array_length(e) <> 6
    THEN
        RAISE EXCEPTION 'dead letter % is not a row [user, utterance, '
                        '"Category", "Subcategory", ms, "point id"]', id;
    END IF;

    WITH i AS (INSERT INTO utterance_errors (utterance_id, user_id,
                      category, subcategory, recorded_at, point_id,
                      batch_epoch, batch_seq)
               SELECT u.utterance_id, u.user_id, e->>2, e->>3,
                      to_timestamp((e->>4)::numeric / 1000), e->>5,
                      d.batch_epoch, d.batch_seq
                 FROM utterances u
                WHERE u.utterance_id = (e->>1)::bigint
                  AND u.user_id = (e->>0)::bigint
               ON CONFLICT (point_id) DO NOTHING
               RETURNING user_id, category_key, subcategory_key, category,
                         subcategory),
         f AS (INSERT INTO error_frequencies AS f
                      (user_id, category_key, subcategory_key, category,
                       subcategory, frequency)
               SELECT user_id, category_key, subcategory_key, category,
                      subcategory, 1
                 FROM i
               ON CONFLICT (user_id, category_key, subcategory_key)
               DO UPDATE SET frequency = f.frequency + 1,
                             updated_at = now())
    SELECT count(*) INTO n FROM i;

    UPDATE error_batches SET errors = errors + n
     WHERE epoch = d.batch_epoch AND seq = d.batch_seq;

    DELETE FROM error_dead_letters WHERE dead_letter_id = id;

    RETURN n;
END
$$;
