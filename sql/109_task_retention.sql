-- formfleet:no-transaction
-- The age index the retention run reads finished tasks by, in (age, key) order (policy RETENTION: tasks),
-- built CONCURRENTLY so the ledger's task trigger (in every settling transaction) never waits for it.
CREATE INDEX CONCURRENTLY IF NOT EXISTS tasks_retention_idx ON tasks (updated_at, id);
