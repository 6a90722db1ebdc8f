-- The listing's life after the click (issue 13): a row the worker settled 'submitted' keeps its status (the
-- submission's outcome, which the once-per-business index and every count key on) and gains a lifecycle of
-- its own: the directory's listing, looked up at the recheck ages (policy LIFECYCLE) by recheck-listings.
--
--   NULL                  not submitted (or submitted and not yet entered: the next run enters it)
--   pending_verification  the directory sent a verification mail; waiting for its link to be visited
--   under_review          submitted; the directory has not published it yet
--   live                  the lookup found this business's listing (listing_url: where)
--   not_found             not found at the last recheck age
--   rejected              the directory declined it (the definition's `rejected` indicator)
--
-- Every change moves from the state it read, once (the row's `checks` is the version the statement names),
-- in one statement with its job_events row ('listing.<state>'): functions/lifecycle/listing-lifecycle.ts.
ALTER TABLE submissions
  ADD COLUMN lifecycle              text,
  ADD COLUMN listing_url            text,
  ADD COLUMN lifecycle_checked_at   timestamptz,
  ADD COLUMN next_check_at          timestamptz,
  -- Lookups made (every result): the version each lifecycle write names.
  ADD COLUMN checks                 integer NOT NULL DEFAULT 0,
  -- Inconclusive lookups in a row (bounded by LIFECYCLE.maxInconclusiveInARow).
  ADD COLUMN inconclusive_checks    integer NOT NULL DEFAULT 0,
  ADD CONSTRAINT submissions_lifecycle_check CHECK (lifecycle IN
    ('pending_verification', 'under_review', 'live', 'not_found', 'rejected')),
  -- A listing is what a submission became: only a submitted row has one.
  ADD CONSTRAINT submissions_lifecycle_submitted CHECK (lifecycle IS NULL OR status = 'submitted'),
  ADD CONSTRAINT submissions_listing_url_check CHECK (length(listing_url) <= 2048),
  ADD CONSTRAINT submissions_checks_check CHECK (checks >= 0 AND inconclusive_checks >= 0),
  -- Only a row still waiting is due; a settled listing is looked up no more.
  ADD CONSTRAINT submissions_next_check_open CHECK (
    next_check_at IS NULL OR lifecycle IN ('pending_verification', 'under_review'));

-- recheck-listings claims due rows oldest first: only rows waiting for a lookup are in it.
CREATE INDEX submissions_recheck_due_idx ON submissions (next_check_at)
  WHERE next_check_at IS NOT NULL AND superseded_by IS NULL;
-- Submitted rows not yet in the lifecycle (a crash between settling and entering; rows settled before this
-- migration): each run enters a bounded batch. The index holds only those, so it stays small.
CREATE INDEX submissions_lifecycle_missing_idx ON submissions (id)
  WHERE status = 'submitted' AND lifecycle IS NULL AND superseded_by IS NULL;
-- GET /v1/submissions?lifecycle= and the dashboard's counts.
CREATE INDEX submissions_lifecycle_idx ON submissions (lifecycle) WHERE lifecycle IS NOT NULL;
-- The dashboard's recent lifecycle changes: the newest listing events, without reading the whole event log.
CREATE INDEX job_events_listing_idx ON job_events (id) WHERE type LIKE 'listing.%';
