-- People in the loop (issue 14): every ledger row the robot must not finish becomes a task for a person.
--
--   captcha  the row ended 'needs_manual' (a captcha stood before the submit);
--   login    the row ended 'skipped' with error_class 'login_required' (the directory wants an account);
--   unknown  the row ended 'unknown' (it may have been sent and nobody could tell: a person looks).
--
-- A task remembers the ledger state it was made for (`from_status`). A person claims it (a lease until
-- `lease_expires_at`, raising `claim_token`: the token a release or resolve names, so a person whose lease
-- expired and was taken over is refused), then resolves it: one transaction moves the task open → resolved
-- and the ledger row from `from_status` to the outcome, both only if still so (functions/shared/task-store.ts),
-- so two people resolving one task get one success and one refusal, and the API can never move a row from a
-- state the task was not made for.
--
-- Tasks are made and withdrawn by a trigger on the ledger, so every path that settles a row (the worker, a
-- lookup, a cancel, job creation, a retry, a resubmission taking a row over) keeps the queue true without
-- knowing of it: a row moving out of the state its open task was made for withdraws the task (a retry looks
-- it up or sends it again itself).
CREATE TABLE tasks (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  submission_id     bigint NOT NULL REFERENCES submissions (id),
  job_id            uuid NOT NULL REFERENCES jobs (id),
  customer_id       uuid NOT NULL REFERENCES customers (id),
  directory_id      text NOT NULL REFERENCES directories (id),
  kind              text NOT NULL CHECK (kind IN ('captcha', 'login', 'unknown')),
  -- The ledger state the task was made for: resolving moves the row only from this state.
  from_status       text NOT NULL CHECK (from_status IN ('needs_manual', 'skipped', 'unknown')),
  -- Why the robot stopped (the ledger row's error when the task was made).
  reason            text CHECK (length(reason) <= 2000),
  status            text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'withdrawn')),
  claimed_by        text CHECK (length(claimed_by) <= 200),
  lease_expires_at  timestamptz,
  -- Raised by every claim: a release or resolve names the token of its claim.
  claim_token       integer NOT NULL DEFAULT 0 CHECK (claim_token >= 0),
  outcome           text CHECK (outcome IN ('submitted', 'failed', 'skipped')),
  resolved_by       text CHECK (length(resolved_by) <= 200),
  resolved_at       timestamptz,
  note              text CHECK (length(note) <= 2000),
  listing_url       text CHECK (length(listing_url) <= 2048),
  withdrawn_reason  text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'resolved') = (outcome IS NOT NULL AND resolved_at IS NOT NULL)),
  CHECK ((claimed_by IS NULL) = (lease_expires_at IS NULL)),
  CHECK (status = 'open' OR lease_expires_at IS NULL)
);
-- At most one open task per ledger row.
CREATE UNIQUE INDEX tasks_open_submission_idx ON tasks (submission_id) WHERE status = 'open';
-- GET /v1/tasks: by status (and kind, directory), oldest first by (created_at, id), the keyset of its cursor.
CREATE INDEX tasks_list_idx ON tasks (status, created_at, id);
CREATE INDEX tasks_directory_idx ON tasks (directory_id, status, created_at, id);
CREATE INDEX tasks_job_idx ON tasks (job_id);
CREATE TRIGGER tasks_touch BEFORE UPDATE ON tasks FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- The kind of task a ledger row in this state needs, or NULL when it needs none.
CREATE FUNCTION task_kind_for(status text, error_class text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE
    WHEN status = 'needs_manual' THEN 'captcha'
    WHEN status = 'skipped' AND error_class = 'login_required' THEN 'login'
    WHEN status = 'unknown' THEN 'unknown'
  END
$$;

-- Keeps the queue true to the ledger: withdraws an open task whose row left its state (or was superseded),
-- and opens one (with its 'task.created' job event) for a row that now needs a person.
CREATE FUNCTION tasks_follow_ledger() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  wanted text := task_kind_for(NEW.status, NEW.error_class);
  made uuid;
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status
     AND NEW.superseded_by IS NOT DISTINCT FROM OLD.superseded_by THEN
    RETURN NEW;
  END IF;
  UPDATE tasks SET status = 'withdrawn', claimed_by = NULL, lease_expires_at = NULL,
         withdrawn_reason = CASE WHEN NEW.superseded_by IS NOT NULL
           THEN 'the row was taken over by a resubmission'
           ELSE 'the row moved from ' || from_status || ' to ' || NEW.status || ' without this task' END
   WHERE submission_id = NEW.id AND status = 'open'
     AND (from_status <> NEW.status OR NEW.superseded_by IS NOT NULL);
  IF wanted IS NOT NULL AND NEW.superseded_by IS NULL THEN
    INSERT INTO tasks (submission_id, job_id, customer_id, directory_id, kind, from_status, reason)
    VALUES (NEW.id, NEW.job_id, NEW.customer_id, NEW.directory_id, wanted, NEW.status, left(NEW.error, 2000))
    ON CONFLICT (submission_id) WHERE status = 'open' DO NOTHING
    RETURNING id INTO made;
    IF made IS NOT NULL THEN
      INSERT INTO job_events (job_id, type, detail)
      VALUES (NEW.job_id, 'task.created', jsonb_build_object(
        'taskId', made, 'submissionId', NEW.id, 'directoryId', NEW.directory_id, 'kind', wanted,
        'fromStatus', NEW.status, 'reason', NEW.error));
    END IF;
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER submissions_tasks AFTER INSERT OR UPDATE OF status, superseded_by ON submissions
  FOR EACH ROW EXECUTE FUNCTION tasks_follow_ledger();

-- Rows already waiting for a person when this migration runs.
INSERT INTO tasks (submission_id, job_id, customer_id, directory_id, kind, from_status, reason, created_at)
SELECT id, job_id, customer_id, directory_id, task_kind_for(status, error_class), status, left(error, 2000),
       COALESCE(finished_at, updated_at)
  FROM submissions
 WHERE task_kind_for(status, error_class) IS NOT NULL AND superseded_by IS NULL;
