-- The first migration: what the foundation needs.  Each later feature adds
-- its own numbered file; util/migrate applies each file once, in order, in
-- one transaction, and records it in schema_migrations.

SET client_min_messages = warning;

-- settings the module reads at run time, keyed by name
CREATE TABLE social_settings (
    name        text PRIMARY KEY,
    value       text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO social_settings (name, value) VALUES ('schema', 'ngx_social');
