-- Webhooks to API clients (issue 15). An endpoint subscribes an API key to event types; every change an event
-- reports writes the event, and one delivery row per subscribed endpoint, in the SAME transaction as the change
-- (triggers below), so an event exists exactly when its change does. The webhook-delivery function then posts
-- each delivery, signed the Standard Webhooks way, retrying with backoff (functions/webhooks/).
--
-- Why triggers, and not writes in each store: the changes reported happen in many places (the worker's
-- finish, the ledger's settle, the API's cancel, stale-job recovery, the DLQ's final failure, and the listing
-- lifecycle and tasks yet to come), all of them already writing job_events (or the ledger row). A trigger on
-- those is one place that cannot be forgotten by the next writer, costs nothing when nobody subscribed (one
-- indexed look at webhook_endpoints), and runs in the writer's own transaction.
--
-- What an event carries: the resource (a job with its ledger rows, or a ledger row) as the transaction left
-- it, snapshotted here as the table rows (to_jsonb; of a row's evidence only the listing lifecycle's last
-- lookup, which the API shows as lifecycleReason; proof screenshots are not carried, their links expire),
-- not rendered: the API's own view functions render the
-- snapshot the first time the event is delivered (functions/webhooks/render.ts), and the body is kept, so every
-- attempt, endpoint and replay posts the same bytes. So the payload is the state AT the event (a later retry
-- of the job does not change what job.completed said) in exactly the shape GET /v1/jobs/{id} and
-- GET /v1/submissions return, without a second copy of those views in SQL.

-- An endpoint: where one API key's events go, and how they are signed.
CREATE TABLE webhook_endpoints (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  owner_key_id          text NOT NULL CHECK (length(owner_key_id) BETWEEN 1 AND 200),
  -- 'own': events about the owner key's resources; 'all': every event (admin keys only, checked by the API).
  scope                 text NOT NULL DEFAULT 'own' CHECK (scope IN ('own', 'all')),
  url                   text NOT NULL CHECK (length(url) BETWEEN 8 AND 2048),
  events                text[] NOT NULL CHECK (cardinality(events) BETWEEN 1 AND 50),
  description           text CHECK (length(description) <= 500),
  -- The signing secret, sealed (KMS in AWS, AES-GCM with the local key locally): it must be usable to sign,
  -- so it cannot be hashed; it is never stored, logged or answered in the clear after creation.
  secret_sealed         text NOT NULL,
  status                text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
  -- Why it was disabled: 'gone' (it answered 410), 'failing' (no success for WEBHOOKS.disableAfterFailingDays).
  disabled_reason       text CHECK (disabled_reason IN ('gone', 'failing')),
  disabled_at           timestamptz,
  -- Failing since the first failure after the last success; cleared by a success.
  failing_since         timestamptz,
  consecutive_failures  integer NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
  -- After a failure nothing is sent to the endpoint until then (the retry schedule, endpoint-wide).
  paused_until          timestamptz,
  last_success_at       timestamptz,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT webhook_endpoints_disabled_whole CHECK ((status = 'disabled') = (disabled_reason IS NOT NULL))
);
CREATE INDEX webhook_endpoints_owner_idx ON webhook_endpoints (owner_key_id, created_at DESC, id DESC);
CREATE INDEX webhook_endpoints_list_idx ON webhook_endpoints (created_at DESC, id DESC);
CREATE TRIGGER webhook_endpoints_touch BEFORE UPDATE ON webhook_endpoints
  FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- Per-job event sequence: events of one job are numbered in commit order (the row lock serialises them).
CREATE TABLE webhook_sequences (
  job_id  uuid PRIMARY KEY REFERENCES jobs (id),
  last    bigint NOT NULL CHECK (last > 0)
);

-- The events outbox: one row per event somebody subscribed to when it happened.
CREATE TABLE webhook_events (
  -- The webhook-id header: stable across attempts, endpoints and replays (receivers deduplicate by it).
  id            text PRIMARY KEY CHECK (id ~ '^evt_[0-9a-f]{32}$'),
  type          text NOT NULL,
  -- Whose resource it is (the job's owner key); an endpoint of scope 'own' receives only its key's events.
  owner_key_id  text NOT NULL,
  job_id        uuid REFERENCES jobs (id),
  sequence      bigint,
  occurred_at   timestamptz NOT NULL DEFAULT now(),
  -- The resource as the transaction left it: {"job": row, "submissions": [rows]} or {"submission": row}.
  resource      jsonb NOT NULL CHECK (jsonb_typeof(resource) = 'object'),
  -- The JSON body as first delivered (rendered from `resource` by the API's views), then fixed.
  body          text,
  CONSTRAINT webhook_events_sequence_of_job CHECK ((job_id IS NULL) = (sequence IS NULL))
);
CREATE INDEX webhook_events_occurred_idx ON webhook_events (occurred_at);

-- One row per (event, endpoint), and one per replay.
CREATE TABLE webhook_deliveries (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  event_id         text NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
  endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  -- A replay (POST .../deliveries/{id}/replay) is its own delivery of the same event (same webhook-id).
  replay_of        uuid REFERENCES webhook_deliveries (id) ON DELETE SET NULL,
  -- pending: to be sent (at next_attempt_at); delivered: a 2xx; failed: every retry failed;
  -- held: its endpoint is disabled (sent once the endpoint is enabled again).
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed', 'held')),
  attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  -- An attempt in progress holds the delivery until then (the webhook-delivery function died: due again).
  lease_until      timestamptz,
  delivered_at     timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX webhook_deliveries_once_idx ON webhook_deliveries (event_id, endpoint_id)
  WHERE replay_of IS NULL;
-- The dispatcher's look for due work, and an endpoint's next delivery.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (endpoint_id, next_attempt_at, id)
  WHERE status = 'pending';
-- GET /v1/webhooks/{id}/deliveries, newest first.
CREATE INDEX webhook_deliveries_list_idx ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_replay_idx ON webhook_deliveries (replay_of) WHERE replay_of IS NOT NULL;
CREATE TRIGGER webhook_deliveries_touch BEFORE UPDATE ON webhook_deliveries
  FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- Every attempt of a delivery: what was answered, how long it took.
CREATE TABLE webhook_attempts (
  delivery_id  uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  number       integer NOT NULL CHECK (number >= 1),
  started_at   timestamptz NOT NULL,
  duration_ms  integer NOT NULL CHECK (duration_ms >= 0),
  status_code  integer CHECK (status_code BETWEEN 100 AND 599),
  -- Why it failed, when it did: a timeout, a refused connection, a refused address, or the status.
  error        text CHECK (length(error) <= 1000),
  -- The start of the receiver's answer (a third party's text, shown to the endpoint's owner only).
  response     text CHECK (length(response) <= 1000),
  PRIMARY KEY (delivery_id, number)
);

-- Wakes: which (endpoint, slot) message groups have a message on the delivery queue, so the dispatcher sends
-- at most one per group at a time. The delivery function removes its wake when its drain ends.
CREATE TABLE webhook_wakes (
  endpoint_id  uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  slot         integer NOT NULL CHECK (slot >= 0),
  sent_at      timestamptz NOT NULL,
  PRIMARY KEY (endpoint_id, slot)
);

-- The catalogue's SQL half: which job_events type is which webhook event (functions/webhooks/events.ts holds
-- the other half, and a test keeps the two the same). Types of capabilities not built yet (tasks) are added
-- by the migration that builds them.
CREATE FUNCTION webhook_event_type(job_event_type text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE job_event_type
    WHEN 'completed' THEN 'job.completed'
    WHEN 'failed' THEN 'job.failed'
    WHEN 'dead_lettered' THEN 'job.failed'
    WHEN 'cancelled' THEN 'job.cancelled'
    WHEN 'listing.live' THEN 'listing.live'
    WHEN 'listing.not_found' THEN 'listing.not_found'
    WHEN 'listing.rejected' THEN 'listing.rejected'
  END
$$;

-- Ledger states a row settles in (functions/shared/submission-ledger.ts: every state but the open ones).
CREATE FUNCTION webhook_settled_status(status text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT status NOT IN ('prepared', 'submitting', 'unverified')
$$;

-- Writes one event and its deliveries, if any endpoint subscribed to it. `directory` names the ledger row of a
-- submission or listing event; a job event (`job.*`) carries the job with every ledger row.
CREATE FUNCTION webhook_emit(p_type text, p_job uuid, p_directory text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_owner text;
  v_event text;
  v_sequence bigint;
  v_snapshot jsonb;
BEGIN
  SELECT j.owner_key_id INTO v_owner FROM jobs j WHERE j.id = p_job;
  IF v_owner IS NULL OR NOT EXISTS (
    SELECT 1 FROM webhook_endpoints e
    WHERE p_type = ANY (e.events) AND (e.scope = 'all' OR e.owner_key_id = v_owner)
  ) THEN
    RETURN;
  END IF;
  IF p_type LIKE 'job.%' OR p_directory IS NULL THEN
    SELECT jsonb_build_object('job', to_jsonb(j), 'submissions', coalesce((
             SELECT jsonb_agg((to_jsonb(s) - 'evidence') || jsonb_build_object('evidence',
                      jsonb_strip_nulls(jsonb_build_object('lifecycle', s.evidence -> 'lifecycle'))) ORDER BY s.id)
             FROM submissions s WHERE s.job_id = j.id
           ), '[]'::jsonb))
      INTO v_snapshot FROM jobs j WHERE j.id = p_job;
  ELSE
    SELECT jsonb_build_object('submission', (to_jsonb(s) - 'evidence')
             || jsonb_build_object('lifecycle_evidence', s.evidence -> 'lifecycle'))
      INTO v_snapshot FROM submissions s WHERE s.job_id = p_job AND s.directory_id = p_directory;
    IF v_snapshot IS NULL THEN
      RETURN;
    END IF;
  END IF;
  INSERT INTO webhook_sequences AS q (job_id, last) VALUES (p_job, 1)
    ON CONFLICT (job_id) DO UPDATE SET last = q.last + 1
    RETURNING q.last INTO v_sequence;
  v_event := 'evt_' || replace(gen_random_uuid()::text, '-', '');
  INSERT INTO webhook_events (id, type, owner_key_id, job_id, sequence, resource)
    VALUES (v_event, p_type, v_owner, p_job, v_sequence, v_snapshot);
  INSERT INTO webhook_deliveries (event_id, endpoint_id, status)
    SELECT v_event, e.id, CASE WHEN e.status = 'enabled' THEN 'pending' ELSE 'held' END
    FROM webhook_endpoints e
    WHERE p_type = ANY (e.events) AND (e.scope = 'all' OR e.owner_key_id = v_owner);
END;
$$;

-- job.completed / job.failed / job.cancelled, and the listing lifecycle, from the job event that records them.
-- AFTER ROW triggers fire at the end of the statement, so a job event written in the same statement as the
-- job's update (finish) sees the updated job, and one written after the ledger's updates (cancel) sees them.
CREATE FUNCTION webhook_from_job_event() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_type text := webhook_event_type(NEW.type);
BEGIN
  IF v_type IS NOT NULL THEN
    PERFORM webhook_emit(v_type, NEW.job_id, NEW.detail ->> 'directoryId');
  END IF;
  RETURN NULL;
END;
$$;
CREATE TRIGGER job_events_webhooks AFTER INSERT ON job_events
  FOR EACH ROW EXECUTE FUNCTION webhook_from_job_event();

-- submission.settled: a ledger row reaching a settled state (or created settled: skipped, held by another job).
CREATE FUNCTION webhook_from_submission() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM webhook_emit('submission.settled', NEW.job_id, NEW.directory_id);
  RETURN NULL;
END;
$$;
CREATE TRIGGER submissions_settled_webhooks AFTER UPDATE OF status ON submissions
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status AND webhook_settled_status(NEW.status))
  EXECUTE FUNCTION webhook_from_submission();
CREATE TRIGGER submissions_created_settled_webhooks AFTER INSERT ON submissions
  FOR EACH ROW WHEN (webhook_settled_status(NEW.status))
  EXECUTE FUNCTION webhook_from_submission();
