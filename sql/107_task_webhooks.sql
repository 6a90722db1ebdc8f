-- The task queue's events reach webhooks (issue 15 item 2, now that issue 14's tasks exist): the SQL half of
-- the catalogue gains task.created and task.resolved, each carrying the ledger row the task is about
-- (functions/webhooks/events.ts holds the other half; test/integration/webhook-events.test.ts keeps them equal).
CREATE OR REPLACE FUNCTION webhook_event_type(job_event_type text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE job_event_type
    WHEN 'completed' THEN 'job.completed'
    WHEN 'failed' THEN 'job.failed'
    WHEN 'dead_lettered' THEN 'job.failed'
    WHEN 'cancelled' THEN 'job.cancelled'
    WHEN 'listing.live' THEN 'listing.live'
    WHEN 'listing.not_found' THEN 'listing.not_found'
    WHEN 'listing.rejected' THEN 'listing.rejected'
    WHEN 'task.created' THEN 'task.created'
    WHEN 'task.resolved' THEN 'task.resolved'
  END
$$;
