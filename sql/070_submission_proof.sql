-- Proof per submission (issue 13): for every submit click of a ledger row, what the worker saw and typed,
-- and the screenshots it keeps in the records bucket (S3) under
-- evidence/<customer>/<job>/<directory>/<attempt>/{form,result}.jpg. Facts live here; the images in S3.

-- 1. One row per click: the ledger row and the attempt `begin` gave it (submissions.attempt). Facts are
--    written before the row is settled and whatever the settlement: the click happened.
CREATE TABLE submission_proofs (
  submission_id  bigint NOT NULL REFERENCES submissions (id),
  attempt        integer NOT NULL CHECK (attempt >= 1),
  captured_at    timestamptz NOT NULL DEFAULT now(),
  -- The page the submission ended on and the last HTTP status of its main frame.
  final_url      text CHECK (length(final_url) <= 2048),
  http_status    smallint CHECK (http_status BETWEEN 100 AND 599),
  -- Which of the definition's indicators decided the outcome: its list and its index there. A captcha the
  -- engine recognised by itself (reCAPTCHA, hCaptcha, Turnstile) has no index; no indicator at all, no kind.
  matched_kind   text CHECK (matched_kind IN ('success', 'failure', 'captcha', 'loginWall')),
  matched_index  smallint CHECK (matched_index >= 0),
  -- SHA-256 (hex) of the canonical JSON of the values the worker typed and selected (form-engine.ts).
  typed_sha256   text NOT NULL CHECK (typed_sha256 ~ '^[0-9a-f]{64}$'),
  -- Why a screenshot was not taken, by kind: {"result": "the directory's time ran out"}.
  not_taken      jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(not_taken) = 'object'),
  PRIMARY KEY (submission_id, attempt),
  CHECK (matched_index IS NULL OR matched_kind IS NOT NULL)
);

-- 2. Every object formfleet keeps for a ledger row in the records bucket, and whether it is there:
--      pending  not in S3 yet: the upload is running, or failed and `body` keeps the bytes for the
--               stale-jobs run to upload (with `body` null past EVIDENCE.orphanAfterSeconds: its worker
--               died before it could keep them, and the next run looks for it in S3 or records it lost);
--      stored   in S3 under `key` (the bytes here are gone);
--      lost     never reached S3 and the bytes are gone (`lost_reason` says why): never claimed as stored.
CREATE TABLE evidence_objects (
  key            text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 1024),
  submission_id  bigint NOT NULL,
  attempt        integer NOT NULL,
  kind           text NOT NULL CHECK (kind IN ('form', 'result')),
  content_type   text NOT NULL,
  size_bytes     integer NOT NULL CHECK (size_bytes > 0),
  sha256         text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  state          text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'stored', 'lost')),
  body           bytea,
  tries          integer NOT NULL DEFAULT 0 CHECK (tries >= 0),
  last_error     text CHECK (length(last_error) <= 2000),
  next_try_at    timestamptz,
  lost_reason    text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  stored_at      timestamptz,
  FOREIGN KEY (submission_id, attempt) REFERENCES submission_proofs (submission_id, attempt),
  UNIQUE (submission_id, attempt, kind),
  CHECK (state = 'pending' OR body IS NULL),
  CHECK ((state = 'stored') = (stored_at IS NOT NULL)),
  CHECK ((state = 'lost') = (lost_reason IS NOT NULL)),
  CHECK (body IS NULL OR octet_length(body) = size_bytes)
);
-- The stale-jobs run's two scans: kept bytes due for another try, and pending objects whose bytes were never
-- kept. Both partial, so they stay the size of what is waiting, not of the ledger.
CREATE INDEX evidence_objects_retry_idx ON evidence_objects (next_try_at)
  WHERE state = 'pending' AND body IS NOT NULL;
CREATE INDEX evidence_objects_unkept_idx ON evidence_objects (created_at)
  WHERE state = 'pending' AND body IS NULL;
