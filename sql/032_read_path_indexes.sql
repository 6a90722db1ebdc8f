-- Indexes for the reads that run all day, so that none of them reads a whole table as it grows:
--   GET /v1/health and the dashboard: jobs pending, queued or in progress, and jobs finished today;
--   the queue position estimate (GET /v1/customers/{id}/queue): jobs finished in the throughput window;
--   the dashboard's submissions per minute: ledger rows finished in the last minutes.
-- Built inside the migration's transaction (not CONCURRENTLY): writes to these tables wait while they are
-- built, a few seconds per million rows.
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX jobs_active_idx ON jobs (status) WHERE status IN ('pending', 'queued', 'in_progress');
CREATE INDEX submissions_finished_idx ON submissions (finished_at) WHERE finished_at IS NOT NULL;
