/**
 * The Postgres side of recovery: the atomic stale-job requeue, the pending-job sweep's lease, the re-send of
 * queued jobs whose message is gone, the read of live jobs for stuck-step detection, and the pruning of
 * expired Idempotency-Keys. Each write is one statement with its job_events rows, and alerts about
 * it are added to the outbox in the same transaction.
 */
import type { Alert } from '#functions/alerts/alert';
import type { AlertOutbox } from '#functions/alerts/alert-outbox';
import type { Priority } from '#policy';
import type { Sql } from '#shared/db';
import type { JobProgress } from '#shared/job-store';

/** A stale job after the requeue statement: back to 'pending' with new tokens, or failed past the cap. */
export interface StaleJobOutcome {
  id: string;
  customerId: string;
  priority: Priority;
  outcome: 'requeued' | 'failed';
  /** Requeues so far (including this one). */
  attempts: number;
  enqueueToken: number;
  fencingToken: number;
  /** The worker that held the job when it went silent. */
  previousWorker: string | null;
  heartbeatAt: string | null;
  staleForSeconds: number;
  progress: JobProgress;
}

/** A job whose message must be (re)sent: its id, tier and current enqueue token. */
export interface PendingJob {
  id: string;
  priority: Priority;
  enqueueToken: number;
}

/** A job a worker is heartbeating now, with its progress (directory, step, stepSince). */
export interface LiveJob {
  id: string;
  customerId: string;
  priority: Priority;
  claimedBy: string | null;
  fencingToken: number;
  heartbeatAt: string;
  progress: JobProgress;
}

/** One tier's jobs that should each have a message on the tier's queue. */
export interface TierBacklog {
  priority: Priority;
  /** Jobs 'queued' or 'in_progress': each has a message waiting, in backoff, or in flight. */
  expected: number;
  /** Of those, jobs 'queued' and unchanged for longer than the quiet time asked for. */
  quiet: number;
}

/**
 * How many of a tier's quiet queued jobs have certainly lost their message: the queue holds fewer messages
 * (waiting + in flight) than its queued and running jobs need, and at most the quiet ones are short. Stale
 * messages of finished jobs inflate the count, so this errs towards re-sending nothing, never too much.
 */
export function lostMessages(tier: Pick<TierBacklog, 'expected' | 'quiet'>, messages: number): number {
  return Math.min(tier.quiet, Math.max(0, tier.expected - messages));
}

export interface RequeueOptions {
  staleAfterSeconds: number;
  /** Requeues allowed before a stale job is failed instead. */
  requeueCap: number;
  limit: number;
}

export interface RecoveryStore {
  /**
   * One batch of the stale scan: find_stale_jobs, then lock with SKIP LOCKED (so two runs never take the
   * same job) and requeue or fail in one UPDATE ... RETURNING with job_events rows. `alertsFor` names the
   * alerts to add to the outbox in the same transaction.
   */
  requeueStale(
    options: RequeueOptions,
    alertsFor: (rows: StaleJobOutcome[]) => Alert[],
  ): Promise<StaleJobOutcome[]>;
  /** Takes jobs left 'pending' longer than `graceSeconds` for re-sending (touching them, so no other run does). */
  leasePending(graceSeconds: number, limit: number): Promise<PendingJob[]>;
  /** Jobs in progress whose heartbeat is younger than `freshWithinSeconds`, and the database's clock. */
  liveJobs(freshWithinSeconds: number): Promise<{ jobs: LiveJob[]; now: Date }>;
  /** Adds alerts to the outbox; returns those that were new (an id seen before is not added again). */
  addAlerts(alerts: readonly Alert[]): Promise<Alert[]>;
  /** Per tier, the jobs that should have a message, and those quiet for longer than `quietSeconds`. */
  queuedByTier(quietSeconds: number): Promise<TierBacklog[]>;
  /**
   * Takes up to `limit` of the tier's oldest quiet queued jobs for re-sending: 'pending' with a new enqueue
   * token (any surviving old message is refused by the claim) and a 'resend' event. Then send them.
   */
  takeQuietQueued(priority: Priority, quietSeconds: number, limit: number): Promise<PendingJob[]>;
  /** Deletes up to `limit` Idempotency-Keys older than `ttlSeconds`; resolves with how many. */
  pruneRequestKeys(ttlSeconds: number, limit: number): Promise<number>;
}

interface OutcomeRow {
  id: string;
  customer_id: string;
  priority: number;
  status: 'pending' | 'failed';
  attempts: number;
  enqueue_token: number;
  fencing_token: number;
  claimed_by: string | null;
  heartbeat_at: Date | null;
  stale_for_seconds: number;
  progress: JobProgress;
}

/**
 * The requeue statement. `candidates` calls find_stale_jobs (inlined by the planner, so it reads the partial
 * index jobs_stale_scan_idx); `locked` re-checks the condition on the row it locks, so a job another run
 * requeued a moment ago (status no longer in_progress) is left alone, and a job another run holds is skipped.
 * $1 stale-after seconds, $2 batch size, $3 requeue cap.
 */
export const REQUEUE_STALE_SQL = `
WITH candidates AS (
  SELECT s.id FROM find_stale_jobs(make_interval(secs => $1)) s LIMIT $2
), locked AS (
  SELECT j.id, j.attempts, j.claimed_by, j.heartbeat_at
  FROM jobs j
  WHERE j.id IN (SELECT id FROM candidates)
    AND j.status = 'in_progress' AND j.heartbeat_at < now() - make_interval(secs => $1)
  FOR UPDATE SKIP LOCKED
), changed AS (
  UPDATE jobs j SET
    status = CASE WHEN l.attempts >= $3 THEN 'failed' ELSE 'pending' END,
    attempts = CASE WHEN l.attempts >= $3 THEN j.attempts ELSE j.attempts + 1 END,
    fencing_token = j.fencing_token + 1,
    enqueue_token = CASE WHEN l.attempts >= $3 THEN j.enqueue_token ELSE j.enqueue_token + 1 END,
    error = CASE WHEN l.attempts >= $3
      THEN format('no heartbeat for %s s from worker %s; requeued %s times already (cap %s)',
                  extract(epoch FROM now() - l.heartbeat_at)::int, coalesce(l.claimed_by, 'unknown'),
                  l.attempts, $3::int)
      ELSE j.error END,
    error_class = CASE WHEN l.attempts >= $3 THEN 'internal' ELSE j.error_class END,
    finished_at = CASE WHEN l.attempts >= $3 THEN now() ELSE j.finished_at END
  FROM locked l
  WHERE j.id = l.id
  RETURNING j.id, j.customer_id, j.priority, j.status, j.attempts, j.enqueue_token, j.fencing_token, j.progress,
            l.claimed_by, l.heartbeat_at, extract(epoch FROM now() - l.heartbeat_at)::int AS stale_for_seconds
), events AS (
  INSERT INTO job_events (job_id, type, detail)
  SELECT id, CASE WHEN status = 'failed' THEN 'failed' ELSE 'requeued' END,
         jsonb_build_object('reason', 'stale', 'staleForSeconds', stale_for_seconds, 'previousWorker', claimed_by,
                            'attempts', attempts, 'enqueueToken', enqueue_token, 'fencingToken', fencing_token)
  FROM changed
)
SELECT * FROM changed`;

/** The pending sweep's lease. $1 grace seconds, $2 limit. */
export const LEASE_PENDING_SQL = `
WITH due AS (
  SELECT id FROM jobs
  WHERE status = 'pending' AND updated_at < now() - make_interval(secs => $1)
  ORDER BY updated_at
  LIMIT $2
  FOR UPDATE SKIP LOCKED
), leased AS (
  UPDATE jobs j SET updated_at = now() FROM due WHERE j.id = due.id
  RETURNING j.id, j.priority, j.enqueue_token
), events AS (
  INSERT INTO job_events (job_id, type, detail)
  SELECT id, 'resend', jsonb_build_object('reason', 'left pending', 'enqueueToken', enqueue_token) FROM leased
)
SELECT * FROM leased`;

/**
 * Jobs that should have a message, per tier, and those queued and unchanged for longer than $1 seconds
 * (jobs_active_idx). Shared by stale-jobs (which re-sends) and GET /v1/health (which reports).
 */
export const QUEUED_BY_TIER_SQL = `
SELECT priority,
       count(*)::int AS expected,
       count(*) FILTER (WHERE status = 'queued' AND updated_at < now() - make_interval(secs => $1))::int AS quiet
FROM jobs
WHERE status IN ('queued', 'in_progress')
GROUP BY priority`;

/** The lost-message re-send's lease. $1 priority, $2 quiet seconds, $3 limit. */
export const TAKE_QUIET_QUEUED_SQL = `
WITH due AS (
  SELECT id FROM jobs
  WHERE status = 'queued' AND priority = $1 AND updated_at < now() - make_interval(secs => $2)
  ORDER BY updated_at
  LIMIT $3
  FOR UPDATE SKIP LOCKED
), taken AS (
  UPDATE jobs j SET status = 'pending', enqueue_token = j.enqueue_token + 1 FROM due WHERE j.id = due.id
  RETURNING j.id, j.priority, j.enqueue_token
), events AS (
  INSERT INTO job_events (job_id, type, detail)
  SELECT id, 'resend', jsonb_build_object('reason', 'queued with no message on its queue',
         'enqueueToken', enqueue_token) FROM taken
)
SELECT * FROM taken`;

/** Live jobs for stuck-step detection (the partial index again: in_progress, by heartbeat). $1 seconds. */
export const LIVE_JOBS_SQL = `
SELECT id, customer_id, priority, claimed_by, fencing_token, heartbeat_at, progress, now() AS db_now
FROM jobs
WHERE status = 'in_progress' AND heartbeat_at >= now() - make_interval(secs => $1)`;

export class PgRecoveryStore implements RecoveryStore {
  constructor(
    private readonly sql: Sql,
    private readonly outbox: AlertOutbox,
  ) {}

  requeueStale(
    options: RequeueOptions,
    alertsFor: (rows: StaleJobOutcome[]) => Alert[],
  ): Promise<StaleJobOutcome[]> {
    return this.sql.transaction(async (tx) => {
      const { rows } = await tx.query<OutcomeRow>(REQUEUE_STALE_SQL, [
        options.staleAfterSeconds,
        options.limit,
        options.requeueCap,
      ]);
      const outcomes = rows.map(
        (r): StaleJobOutcome => ({
          id: r.id,
          customerId: r.customer_id,
          priority: r.priority as Priority,
          outcome: r.status === 'failed' ? 'failed' : 'requeued',
          attempts: r.attempts,
          enqueueToken: r.enqueue_token,
          fencingToken: r.fencing_token,
          previousWorker: r.claimed_by,
          heartbeatAt: r.heartbeat_at?.toISOString() ?? null,
          staleForSeconds: r.stale_for_seconds,
          progress: r.progress,
        }),
      );
      for (const alert of outcomes.length > 0 ? alertsFor(outcomes) : []) await this.outbox.add(tx, alert);
      return outcomes;
    });
  }

  async leasePending(graceSeconds: number, limit: number): Promise<PendingJob[]> {
    const { rows } = await this.sql.query<{ id: string; priority: number; enqueue_token: number }>(
      LEASE_PENDING_SQL,
      [graceSeconds, limit],
    );
    return rows.map((r) => ({ id: r.id, priority: r.priority as Priority, enqueueToken: r.enqueue_token }));
  }

  async liveJobs(freshWithinSeconds: number): Promise<{ jobs: LiveJob[]; now: Date }> {
    const { rows } = await this.sql.query<{
      id: string;
      customer_id: string;
      priority: number;
      claimed_by: string | null;
      fencing_token: number;
      heartbeat_at: Date;
      progress: JobProgress;
      db_now: Date;
    }>(LIVE_JOBS_SQL, [freshWithinSeconds]);
    return {
      now: rows[0]?.db_now ?? new Date(),
      jobs: rows.map((r) => ({
        id: r.id,
        customerId: r.customer_id,
        priority: r.priority as Priority,
        claimedBy: r.claimed_by,
        fencingToken: r.fencing_token,
        heartbeatAt: r.heartbeat_at.toISOString(),
        progress: r.progress,
      })),
    };
  }

  async queuedByTier(quietSeconds: number): Promise<TierBacklog[]> {
    const { rows } = await this.sql.query<{ priority: number; expected: number; quiet: number }>(
      QUEUED_BY_TIER_SQL,
      [quietSeconds],
    );
    return rows.map((r) => ({ priority: r.priority as Priority, expected: r.expected, quiet: r.quiet }));
  }

  async takeQuietQueued(priority: Priority, quietSeconds: number, limit: number): Promise<PendingJob[]> {
    const { rows } = await this.sql.query<{ id: string; priority: number; enqueue_token: number }>(
      TAKE_QUIET_QUEUED_SQL,
      [priority, quietSeconds, limit],
    );
    return rows.map((r) => ({ id: r.id, priority: r.priority as Priority, enqueueToken: r.enqueue_token }));
  }

  async pruneRequestKeys(ttlSeconds: number, limit: number): Promise<number> {
    const { rowCount } = await this.sql.query(
      `DELETE FROM job_request_keys WHERE ctid = ANY (ARRAY(
         SELECT ctid FROM job_request_keys WHERE created_at <= now() - make_interval(secs => $1)
         ORDER BY created_at LIMIT $2))`,
      [ttlSeconds, limit],
    );
    return rowCount;
  }

  addAlerts(alerts: readonly Alert[]): Promise<Alert[]> {
    if (alerts.length === 0) return Promise.resolve([]);
    return this.sql.transaction(async (tx) => {
      const added: Alert[] = [];
      for (const alert of alerts) if (await this.outbox.add(tx, alert)) added.push(alert);
      return added;
    });
  }
}
