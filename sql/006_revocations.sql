-- Revocations: every move of a user's token generation, numbered in the
-- order of their commits, so that every nginx worker can read what it has
-- not seen yet and Redis can be told again what it missed.
--
-- A trigger on users records every path: the endpoints (sign out, a new
-- password, a new role, a delete), `make admin`'s SQL, an operator's
-- UPDATE.  Each record takes the next number from a one-row counter,
-- updated in the same transaction: the row stays locked until the commit,
-- so revocation n + 1 cannot be numbered before n has committed (or rolled
-- back, and then n is numbered again).  Numbers are gapless and commit in
-- order: a snapshot that sees the counter at n sees every record up to n.
-- Records older than the token lifetime plus the Redis TTL are pruned by
-- the workers (ngx_http_social_revoke.c), so the log stays small.

SET client_min_messages = warning;

CREATE TABLE revocation_counter (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    rev  bigint NOT NULL
);

INSERT INTO revocation_counter (rev) VALUES (0);

-- user_id 0 marks a TRUNCATE of users: every earlier record is gone with
-- it, and the workers forget every generation they remember
CREATE TABLE revocations (
    rev        bigint PRIMARY KEY,
    user_id    bigint NOT NULL,
    token_gen  bigint NOT NULL,
    at         timestamptz NOT NULL
);

CREATE INDEX revocations_at ON revocations (at);


-- the next number, this transaction's record, and its number in the
-- setting social.revocation (transaction-local), where the statement that
-- made it reads it back (RETURNING, or the next column of a SELECT)
CREATE FUNCTION social_revocation_add(p_user bigint, p_gen bigint)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r  bigint;
BEGIN
    UPDATE revocation_counter SET rev = rev + 1 RETURNING rev INTO r;

    -- clock_timestamp(), not now(): taken under the counter's lock, it
    -- grows with rev, so pruning by time takes a prefix of the numbers
    INSERT INTO revocations (rev, user_id, token_gen, at)
    VALUES (r, p_user, p_gen, clock_timestamp());

    PERFORM set_config('social.revocation', r::text, true);
END $$;


-- BEFORE, so that the UPDATE's RETURNING sees social.revocation
CREATE FUNCTION social_revocation_update()
RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM social_revocation_add(NEW.user_id, NEW.token_gen);
    RETURN NEW;
END $$;

CREATE TRIGGER users_revocation_update
    BEFORE UPDATE OF token_gen ON users
    FOR EACH ROW WHEN (NEW.token_gen > OLD.token_gen)
    EXECUTE FUNCTION social_revocation_update();


-- AFTER, once the cascade has removed what was the user's (the foreign
-- keys' triggers come first by name), so that the counter is not held
-- during it; the generation no token carries
CREATE FUNCTION social_revocation_delete()
RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM social_revocation_add(OLD.user_id, 9223372036854775807);
    RETURN NULL;
END $$;

CREATE TRIGGER users_revocation_delete
    AFTER DELETE ON users
    FOR EACH ROW
    EXECUTE FUNCTION social_revocation_delete();


-- TRUNCATE users (the tests' reset): nothing earlier is about a user that
-- still exists, and ids may start again from 1
CREATE FUNCTION social_revocation_truncate()
RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM revocations;
    PERFORM social_revocation_add(0, 0);
    RETURN NULL;
END $$;

CREATE TRIGGER users_revocation_truncate
    AFTER TRUNCATE ON users
    FOR EACH STATEMENT
    EXECUTE FUNCTION social_revocation_truncate();
