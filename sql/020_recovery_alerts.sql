-- Recovery and alerting: the alert outbox, the dead-letter alert state, and the pending-job sweep's index.

-- Alerts are written here in the same transaction as the change they report (a job failed past its requeue
-- cap, a DLQ grew), then published to SNS by whichever handler flushes the outbox next. So an alert is never
-- lost to an SNS error after the commit, and never sent twice: the id is the alert's stable de-duplication id
-- (INSERT ... ON CONFLICT DO NOTHING), and a flush takes rows FOR UPDATE SKIP LOCKED.
CREATE TABLE alert_outbox (
  id            text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 400),
  kind          text NOT NULL,
  alert         jsonb NOT NULL CHECK (jsonb_typeof(alert) = 'object'),
  created_at    timestamptz NOT NULL DEFAULT now(),
  published_at  timestamptz,
  attempts      integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  last_error    text
);
CREATE INDEX alert_outbox_unpublished_idx ON alert_outbox (created_at) WHERE published_at IS NULL;
CREATE INDEX alert_outbox_published_idx ON alert_outbox (published_at) WHERE published_at IS NOT NULL;

-- What the DLQ check last saw and said, per tier, so it survives cold starts: alert on new or growing depth,
-- remind while unresolved, say "resolved" once drained, stay quiet otherwise. One row per tier, updated under
-- a row lock, so two checks running at once take turns.
CREATE TABLE dlq_alert_state (
  tier            text PRIMARY KEY,
  -- Depth at the last observation, and when that observation was made (older observations are ignored).
  depth           integer NOT NULL DEFAULT 0 CHECK (depth >= 0),
  observed_at     timestamptz,
  -- True from the first alert of an episode until the DLQ drains.
  alerting        boolean NOT NULL DEFAULT false,
  -- Numbers the episodes (non-empty periods), making their alert ids distinct.
  episode         integer NOT NULL DEFAULT 0 CHECK (episode >= 0),
  last_alert_at   timestamptz,
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER dlq_alert_state_touch BEFORE UPDATE ON dlq_alert_state
  FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- The pending sweep: jobs left 'pending' (their message never reached the queue) longer than a grace period.
CREATE INDEX jobs_pending_idx ON jobs (updated_at) WHERE status = 'pending';
