-- The flush commits each chunk of a batch on its own (DESIGN.md, "The
-- flush"): the batch id goes into error_batches with the first chunk, not
-- applied, and the last chunk's transaction marks it applied.  Until
-- then GET /exercises counts the batch from Redis, less the batch's rows
-- of the user already here, which this index finds whatever the size of
-- the batch.

SET client_min_messages = warning;

ALTER TABLE error_batches ADD COLUMN applied boolean NOT NULL DEFAULT true;

CREATE INDEX IF NOT EXISTS utterance_errors_batch_user
    ON utterance_errors (batch_epoch, batch_seq, user_id);

DROP INDEX IF EXISTS utterance_errors_batch;
