-- formfleet core schema: customers, directories, jobs, the submission ledger and the job event log.
-- Applied once, in a transaction, by functions/shared/migrate.ts (npm run db:migrate).

-- The business profile a job submits. Owned by the API key that created it.
CREATE TABLE customers (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  owner_key_id  text NOT NULL,
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
  phone         text CHECK (length(phone) <= 40),
  website       text CHECK (length(website) <= 2048),
  address       text CHECK (length(address) <= 300),
  city          text CHECK (length(city) <= 120),
  state         text CHECK (length(state) <= 120),
  zip           text CHECK (length(zip) <= 20),
  category      text CHECK (length(category) <= 120),
  description   text CHECK (length(description) <= 5000),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customers_owner_idx ON customers (owner_key_id, created_at DESC);

-- A directory site and the data-driven definition of its "add your business" form.
CREATE TABLE directories (
  id                text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  -- The site's origin (scheme://host[:port]); politeness limits are kept per site.
  site              text NOT NULL,
  submission_url    text NOT NULL,
  category          text NOT NULL,
  -- 1 = every package includes it ... 4 = enterprise only.
  tier              smallint NOT NULL CHECK (tier BETWEEN 1 AND 4),
  domain_authority  smallint NOT NULL CHECK (domain_authority BETWEEN 0 AND 100),
  active            boolean NOT NULL DEFAULT true,
  has_captcha       boolean NOT NULL DEFAULT false,
  requires_login    boolean NOT NULL DEFAULT false,
  definition        jsonb NOT NULL CHECK (jsonb_typeof(definition) = 'object'),
  version           integer NOT NULL DEFAULT 1,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX directories_selection_idx ON directories (tier, domain_authority DESC) WHERE active;

-- One job: submit one customer's profile to a set of directories.
CREATE TABLE jobs (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id        uuid NOT NULL REFERENCES customers (id),
  owner_key_id       text NOT NULL,
  package            text,
  priority           smallint NOT NULL CHECK (priority BETWEEN 1 AND 3),
  requested_priority smallint NOT NULL CHECK (requested_priority BETWEEN 1 AND 3),
  status             text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'queued', 'in_progress', 'completed', 'failed', 'cancelled')),
  -- Times the job has been (re)enqueued by recovery; capped by policy RECOVERY.requeueCap.
  attempts           integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  -- Raised by every claim and every requeue: a writer holding an older token is refused.
  fencing_token      bigint NOT NULL DEFAULT 0,
  -- Raised by every enqueue: a message carrying an older token is stale and is discarded.
  enqueue_token      integer NOT NULL DEFAULT 0,
  claimed_by         text,
  claimed_at         timestamptz,
  heartbeat_at       timestamptz,
  progress           jsonb NOT NULL DEFAULT '{}'::jsonb,
  error              text,
  error_class        text,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  queued_at          timestamptz,
  started_at         timestamptz,
  finished_at        timestamptz
);
CREATE INDEX jobs_customer_idx ON jobs (customer_id, created_at DESC);
CREATE INDEX jobs_owner_idx ON jobs (owner_key_id, created_at DESC);
-- The stale-job scan reads only claimed jobs, ordered by heartbeat: a small partial index.
CREATE INDEX jobs_stale_scan_idx ON jobs (heartbeat_at) WHERE status = 'in_progress';
-- Queue position and waiting-time questions look at queued jobs per tier.
CREATE INDEX jobs_queued_idx ON jobs (priority, queued_at) WHERE status = 'queued';

-- The submission ledger: the truth about each (job, directory). A row that reached 'submitted' is never
-- submitted again; a row left in 'submitting' by a crash is verified or marked 'unknown', never resubmitted.
CREATE TABLE submissions (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id        uuid NOT NULL REFERENCES jobs (id),
  directory_id  text NOT NULL REFERENCES directories (id),
  status        text NOT NULL DEFAULT 'prepared'
                CHECK (status IN ('prepared', 'submitting', 'submitted', 'failed', 'skipped', 'needs_manual', 'unknown')),
  attempt       integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
  error_class   text CHECK (error_class IN
                  ('site_down', 'timeout', 'selector_drift', 'validation_error', 'captcha', 'login_required', 'internal')),
  error         text,
  evidence      jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  started_at    timestamptz,
  finished_at   timestamptz,
  CONSTRAINT submissions_job_directory_key UNIQUE (job_id, directory_id)
);
CREATE INDEX submissions_directory_idx ON submissions (directory_id, status);

-- What happened to each job, in order. Append-only: a trigger refuses UPDATE, DELETE and TRUNCATE.
CREATE TABLE job_events (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id      uuid NOT NULL REFERENCES jobs (id),
  type        text NOT NULL,
  detail      jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_events_job_idx ON job_events (job_id, id);

CREATE FUNCTION job_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'job_events is append-only: % refused', TG_OP USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER job_events_append_only
  BEFORE UPDATE OR DELETE ON job_events
  FOR EACH ROW EXECUTE FUNCTION job_events_refuse_change();
CREATE TRIGGER job_events_no_truncate
  BEFORE TRUNCATE ON job_events
  FOR EACH STATEMENT EXECUTE FUNCTION job_events_refuse_change();

-- Keep updated_at honest on every mutable table.
CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;
CREATE TRIGGER customers_touch BEFORE UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER directories_touch BEFORE UPDATE ON directories FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER jobs_touch BEFORE UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER submissions_touch BEFORE UPDATE ON submissions FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- Jobs whose worker stopped heartbeating for longer than `threshold`: claimed, but abandoned.
-- A plain SQL function so the planner inlines it and uses jobs_stale_scan_idx.
CREATE FUNCTION find_stale_jobs(threshold interval)
RETURNS TABLE (
  id uuid,
  customer_id uuid,
  priority smallint,
  attempts integer,
  fencing_token bigint,
  claimed_by text,
  heartbeat_at timestamptz,
  progress jsonb,
  stale_for interval
)
LANGUAGE sql STABLE AS $$
  SELECT j.id, j.customer_id, j.priority, j.attempts, j.fencing_token, j.claimed_by, j.heartbeat_at, j.progress,
         now() - j.heartbeat_at AS stale_for
  FROM jobs j
  WHERE j.status = 'in_progress'
    AND j.heartbeat_at < now() - threshold
  ORDER BY j.heartbeat_at
$$;

-- The same question at the policy threshold (RECOVERY.staleAfterSeconds = 600 s in policy.ts; a test
-- checks the two agree), for people and dashboards.
CREATE VIEW stale_jobs_view AS
  SELECT * FROM find_stale_jobs(interval '600 seconds');
