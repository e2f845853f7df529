-- Event order without a global lock (DESIGN.md, "Event order").
--
-- Before: every event write took one advisory lock until its commit, so
-- that ids became visible in their order; event writes everywhere ran one
-- after another, and PostgreSQL could not commit them together.
--
-- Now an event's id is made of its transaction's id: (xid + base) * 4096
-- + k, k the event's number in its transaction (at most 4096 in one).
-- Readers see only the events below the horizon, social_event_horizon():
-- the oldest transaction still running, in their snapshot, times 4096.
-- Every transaction below it has ended, so an event that a reader sees
-- has no event below it that could still commit: paging on ids never
-- skips one that committed late.  The reader's own events are added
-- above the horizon (the feed's queries), so that a write shows at once.
--
-- The price: a transaction that writes (to any database of the cluster)
-- and stays open holds the others' new events back until it ends; the
-- module's own transactions never wait on anything but PostgreSQL.

SET client_min_messages = warning;

-- new ids above every id so far, with room for transactions that took
-- their id before this one and write an event after it
DO $$
DECLARE
    base bigint;
BEGIN
    base := greatest(0, (SELECT coalesce(max(event_id), 0) FROM events)
                        / 4096 + 1
                        - (pg_current_xact_id()::text::bigint - 100000));

    EXECUTE format('CREATE FUNCTION social_event_base() RETURNS bigint '
                   'LANGUAGE sql IMMUTABLE PARALLEL SAFE '
                   'AS %L', format('SELECT %s::bigint', base));
END $$;

-- the id of the next event of the transaction
CREATE OR REPLACE FUNCTION social_event_order()
RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    k int := coalesce(nullif(current_setting('social.event_k', true), ''),
                      '0')::int;
BEGIN
    IF k >= 4096 THEN
        RAISE EXCEPTION 'more than 4096 events in one transaction'
            USING HINT = 'Commit every 4096 events.';
    END IF;

    PERFORM set_config('social.event_k', (k + 1)::text, true);

    NEW.event_id := (pg_current_xact_id()::text::bigint + social_event_base())
                    * 4096 + k;
    RETURN NEW;
END $$;

-- below it, every event that will ever commit has: what readers page on
CREATE FUNCTION social_event_horizon()
RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT (pg_snapshot_xmin(pg_current_snapshot())::text::bigint
            + social_event_base()) * 4096
$$;
