-- Once per business and directory (issue 18): the database, not a read-then-write, guarantees that a
-- customer is sent to a directory at most once across all its jobs; a row that may have been sent is looked
-- up before anything else happens to it; POST /v1/jobs honours an Idempotency-Key.

-- 1. The customer on every ledger row, so uniqueness can be stated per (customer, directory). A job's
--    customer never changes; the composite foreign key makes the copy provably the job's own.
ALTER TABLE jobs ADD CONSTRAINT jobs_id_customer_key UNIQUE (id, customer_id);
ALTER TABLE submissions ADD COLUMN customer_id uuid;
UPDATE submissions s SET customer_id = j.customer_id FROM jobs j WHERE j.id = s.job_id;
ALTER TABLE submissions ALTER COLUMN customer_id SET NOT NULL;
ALTER TABLE submissions ADD CONSTRAINT submissions_job_customer_fkey
  FOREIGN KEY (job_id, customer_id) REFERENCES jobs (id, customer_id);

-- Writers that name only the job (older code, hand-written SQL) get the job's customer filled in.
CREATE FUNCTION submissions_fill_customer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT customer_id INTO NEW.customer_id FROM jobs WHERE id = NEW.job_id;
  RETURN NEW;
END;
$$;
CREATE TRIGGER submissions_fill_customer BEFORE INSERT ON submissions
  FOR EACH ROW WHEN (NEW.customer_id IS NULL) EXECUTE FUNCTION submissions_fill_customer();

-- 2. 'unverified': may have been sent (a retry of an 'unknown' row, or a row left 'submitting'); the next
--    run looks it up on the directory before anything else: found → submitted without a click, certainly
--    not there → sent normally, otherwise → unknown for a person.
ALTER TABLE submissions DROP CONSTRAINT submissions_status_check;
ALTER TABLE submissions ADD CONSTRAINT submissions_status_check CHECK (status IN
  ('prepared', 'submitting', 'unverified', 'submitted', 'failed', 'skipped', 'needs_manual', 'unknown'));

-- Why a row was skipped, so a retry knows which skips it may undo (evidence.skip; see SkipReason in
-- functions/shared/submission-ledger.ts): rows skipped before this migration, by the texts they carry.
UPDATE submissions SET evidence = evidence || jsonb_build_object('skip', CASE
    WHEN error LIKE 'job cancelled%' THEN 'cancelled'
    WHEN error LIKE 'the directory is missing or inactive%' THEN 'inactive'
    ELSE 'login' END)
WHERE status = 'skipped' AND NOT evidence ? 'skip'
  AND (error LIKE 'job cancelled%' OR error LIKE 'the directory is missing or inactive%' OR error_class = 'login_required');

-- 3. Deliberate resubmissions (POST /v1/jobs with `resubmit`): the new row names the earlier row it
--    resubmits; when the new row reaches its submit click, the earlier row is marked superseded by it in the
--    same transaction, handing the (customer, directory) over. Both stay in the ledger.
ALTER TABLE submissions ADD COLUMN resubmits bigint REFERENCES submissions (id);
ALTER TABLE submissions ADD COLUMN superseded_by bigint REFERENCES submissions (id);

-- Rows sent more than once before this migration (the defect it fixes): every older row of a (customer,
-- directory) in a "may have been sent" state is superseded by the newest, which the site received last.
WITH claimants AS (
  SELECT id, max(id) OVER (PARTITION BY customer_id, directory_id) AS newest
  FROM submissions
  WHERE status IN ('submitting', 'unverified', 'submitted', 'unknown')
)
UPDATE submissions s
SET superseded_by = h.newest,
    evidence = s.evidence || jsonb_build_object('supersededBy', 'migration 040: sent again before uniqueness')
FROM claimants h
WHERE s.id = h.id AND h.id <> h.newest;

-- The guarantee: at most one row per (customer, directory) that may have been sent or was sent. The
-- worker's `begin` (prepared → submitting, immediately before the click) inserts into this index, so of two
-- jobs racing for the same business and directory exactly one can click; the other's statement fails with a
-- unique violation and its row is settled 'skipped', pointing at the holder. The same index answers "who
-- holds this (customer, directory)?" for job creation and the worker's check before each visit.
CREATE UNIQUE INDEX submissions_once_idx ON submissions (customer_id, directory_id)
  WHERE superseded_by IS NULL AND status IN ('submitting', 'unverified', 'submitted', 'unknown');

-- 4. Idempotency-Key of POST /v1/jobs, per API key: the first answer, kept for API_IDEMPOTENCY.keyTtlSeconds
--    (24 h), written in the same statement that creates the job, so two concurrent requests with one key
--    cannot both create a job (the primary key serialises them) and a job never exists without its key.
CREATE TABLE job_request_keys (
  key_id           text NOT NULL CHECK (length(key_id) BETWEEN 1 AND 200),
  idempotency_key  text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
  -- sha256 of the canonical request body: the same key with another body is refused (409).
  fingerprint      text NOT NULL CHECK (length(fingerprint) = 64),
  job_id           uuid NOT NULL REFERENCES jobs (id),
  status_code      smallint NOT NULL CHECK (status_code BETWEEN 200 AND 299),
  response         jsonb NOT NULL CHECK (jsonb_typeof(response) = 'object'),
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (key_id, idempotency_key)
);
-- Expired keys are pruned by the stale-jobs run, oldest first.
CREATE INDEX job_request_keys_created_idx ON job_request_keys (created_at);
