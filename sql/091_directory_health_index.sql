-- formfleet:no-transaction
-- The health run's other question: a directory's last few settled submissions, newest first (were they all
-- selector_drift?). Built CONCURRENTLY: submissions is the ledger, and its writers must not wait.
CREATE INDEX CONCURRENTLY IF NOT EXISTS submissions_directory_finished_idx
  ON submissions (directory_id, finished_at DESC) WHERE finished_at IS NOT NULL;
