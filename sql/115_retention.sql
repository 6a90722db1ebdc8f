-- Retention (issue 21): rows past their period (policy RETENTION) are written to the records bucket's
-- archive prefix and deleted by the scheduled `retention` function, a bounded batch per short transaction.

-- The archive's index: one row per object written, committed in the same transaction as the delete of its
-- rows. A run that dies after its upload but before its commit leaves no row here and its rows in place;
-- the next run takes the same batch number and overwrites the object, so nothing is archived twice or lost.
CREATE TABLE retention_archives (
  table_name   text NOT NULL,
  day          date NOT NULL,
  batch        integer NOT NULL CHECK (batch >= 1),
  object_key   text NOT NULL UNIQUE CHECK (length(object_key) <= 1024),
  rows         integer NOT NULL CHECK (rows >= 1),
  bytes        integer NOT NULL CHECK (bytes >= 1),
  sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  first_key    text NOT NULL,
  last_key     text NOT NULL,
  archived_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (table_name, day, batch)
);

-- job_events stays append-only for everyone but the retention run, which says so for its own transaction
-- only (set_config(..., true): transaction-local, so it holds behind a transaction pooler and ends with the
-- transaction). UPDATE and TRUNCATE stay refused for all.
CREATE OR REPLACE FUNCTION job_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('formfleet.retention', true) = 'archived' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'job_events is append-only: % refused', TG_OP USING ERRCODE = 'restrict_violation';
END;
$$;
