-- The first migration: what the foundation needs.  Each later feature adds
-- its own numbered file; util/migrate applies each file once, in order, in
-- one transaction, and records it in schema_migrations.

SET client_min_messages = warning;

-- what the database remembers of the configuration, keyed by name (the
-- grouping rule keeps the social_group_max_size it last used here)
CREATE TABLE social_settings (
    name        text PRIMARY KEY,
    value       text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
