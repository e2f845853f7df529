-- Feed pages merged per followee (ngx_http_social_feed.c): each page
-- probes the newest events of each followee below the cursor.  With the
-- post and the target in the index, a probe and its block filter read the
-- index alone (an index-only scan), never the table.  This index replaces
-- events_actor, which has the same keys.
--
-- On a populated database this builds the index in the migration's
-- transaction, which holds event writes back while it runs: about a second
-- for each million events (measured on the benchmark's database, see
-- BENCHMARKS.md).  An operator who cannot pause writes that long can build
-- it first with CREATE INDEX CONCURRENTLY under the same name: IF NOT
-- EXISTS then keeps it.

SET client_min_messages = warning;

-- a CREATE INDEX CONCURRENTLY that failed leaves an invalid index: build it
-- again here rather than keep it and drop the only valid one
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_index
                WHERE indexrelid = to_regclass('events_actor_page')
                  AND NOT indisvalid)
    THEN
        DROP INDEX events_actor_page;
    END IF;
END $$;

CREATE INDEX IF NOT EXISTS events_actor_page
    ON events (actor_id, event_id DESC) INCLUDE (post_id, target_id);

DROP INDEX IF EXISTS events_actor;
