-- formfleet:no-transaction
-- The age columns the retention run reads in (age, key) order, so a batch reads only the rows it takes
-- (alert_outbox has alert_outbox_published_idx; workers has workers_last_seen_idx). Built CONCURRENTLY:
-- job_events is the largest table, and its writers (every job step) must not wait for the build.
CREATE INDEX CONCURRENTLY IF NOT EXISTS job_events_created_idx ON job_events (created_at, id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS site_visits_finished_idx ON site_visits (last_finished_at, site);
CREATE INDEX CONCURRENTLY IF NOT EXISTS evidence_objects_created_idx ON evidence_objects (created_at, key);
