/**
 * The jobs API's own queries and transitions, beside the shared JobStore: listing by keyset, cancel, retry,
 * and a customer's place in the queue. Each transition is one transaction that locks the job row first
 * (FOR UPDATE), so it serialises with the ledger's fenced writes (which take FOR SHARE on the same row) and
 * with a competing claim or requeue.
 */
import { HEALTH, type Priority } from '#policy';
import type { Sql } from '#shared/db';
import { JOB_COLUMNS, type Job, type JobStatus, toJob } from '#shared/job-store';
import {
  HOLDING_SQL,
  heldMessage,
  IN_DOUBT_SQL,
  INACTIVE_MESSAGE,
  OPEN_SQL,
  RESUBMITTABLE_SQL,
  type SkipReason,
  type SubmissionStatus,
} from '#shared/submission-ledger';
import { cursorAtSql, keysetPage } from './cursor.ts';

/** What a client may still cancel; everything else has ended. */
export const CANCELLABLE: readonly JobStatus[] = ['pending', 'queued', 'in_progress'];
/** What may be retried: a job that ended. */
export const RETRYABLE_JOB: readonly JobStatus[] = ['completed', 'failed', 'cancelled'];

export interface JobListFilter {
  /** Only jobs of this owner key; undefined for admins (every job). */
  ownerKeyId?: string;
  customerId?: string;
  status?: JobStatus;
  limit: number;
  /** Keyset: [createdAt as printed by cursorAt, id] of the last row of the previous page. */
  after?: readonly string[];
}

export interface QueueEntry {
  jobId: string;
  status: 'pending' | 'queued' | 'in_progress';
  priority: Priority;
  position: number;
}

export type CancelOutcome =
  | { kind: 'cancelled'; job: Job }
  | { kind: 'missing' }
  | { kind: 'ended'; status: JobStatus };
export type RetryOutcome =
  | { kind: 'retried'; job: Job; directoryIds: string[]; plan: RetryDecision[] }
  | { kind: 'missing' }
  | { kind: 'running'; status: JobStatus }
  | { kind: 'nothing'; plan: RetryDecision[] };

/** What a retry does with one ledger row, and why: the retry answer lists one per directory. */
export interface RetryDecision {
  directoryId: string;
  from: SubmissionStatus;
  to: SubmissionStatus;
  /**
   * send: it goes back to 'prepared' and is sent; verify: it may have been sent, so it becomes 'unverified'
   * and is looked up on the directory before anything else; settle: a row the job left open that can be
   * neither sent nor looked up now (another job holds it, or its directory is inactive) is settled with that
   * reason, which a later retry undoes once it has passed; none: it stays as it is.
   */
  action: 'send' | 'verify' | 'settle' | 'none';
  reason: string;
}

/** A ledger row as the retry decides about it. */
export interface RetryRow {
  directoryId: string;
  status: SubmissionStatus;
  skip: SkipReason | null;
  errorClass: string | null;
  supersededBy: number | null;
  /** The directory's `active` flag; null when the directory no longer exists. */
  directoryActive: boolean | null;
  /** Whether the directory's definition can look a listing up (`verify`). */
  canVerify: boolean;
  /** Another row holding this (customer, directory), if any. */
  holder: { jobId: string; status: SubmissionStatus } | null;
}

/**
 * The retry rule, row by row (docs/api.md, "Retry"): nothing that may have been sent is sent again blindly,
 * nothing held by another row is sent, and skips a retry can undo (cancelled, inactive once active again,
 * held once free) are undone.
 */
export function retryPlan(rows: readonly RetryRow[]): RetryDecision[] {
  return rows.map((row) => {
    const none = (reason: string): RetryDecision => ({
      ...base(row),
      to: row.status,
      action: 'none',
      reason,
    });
    // A row the job never attempted is settled rather than left open when it cannot be sent now.
    const unsendable = (reason: string): RetryDecision =>
      row.status === 'prepared' ? { ...base(row), to: 'skipped', action: 'settle', reason } : none(reason);
    const send = (reason: string): RetryDecision => {
      if (row.directoryActive !== true)
        return unsendable('the directory is inactive or gone; retry once it is active');
      if (row.holder) {
        return unsendable(
          `already ${row.holder.status} for this customer by job ${row.holder.jobId}; not sent again`,
        );
      }
      return { ...base(row), to: 'prepared', action: 'send', reason };
    };
    if (row.supersededBy !== null) return none('superseded by a deliberate resubmission in another job');
    switch (row.status) {
      case 'submitted':
        return none('already submitted; never sent again');
      case 'needs_manual':
        return none('a person must submit it (a captcha); a retry would meet the same');
      case 'prepared':
        return send('never attempted: it is sent');
      case 'failed':
        return send('it failed: it is sent again');
      case 'skipped':
        if (row.skip === 'cancelled') return send('the job was cancelled before it: it is sent now');
        if (row.skip === 'inactive') return send('its directory is active again: it is sent');
        if (row.skip === 'directory_paused')
          return send('it is sent again (skipped again while its directory stays paused)');
        if (row.skip === 'held') return send('the row that held it no longer does: it is sent');
        return none(
          row.errorClass === 'login_required' ? 'the directory wants an account login' : 'skipped for good',
        );
      default:
        // unknown, submitting, unverified: it may have been sent.
        if (row.directoryActive !== true || !row.canVerify) {
          const reason =
            row.directoryActive !== true
              ? 'it may have been sent, and the directory is inactive or gone; retry once it is active'
              : 'it may have been sent, and the directory offers no lookup: a person must check it ' +
                '(POST /v1/jobs with resubmit, by an admin, sends it anyway)';
          return row.status === 'unknown'
            ? none(reason)
            : { ...base(row), to: 'unknown', action: 'settle', reason };
        }
        return {
          ...base(row),
          to: 'unverified',
          action: 'verify',
          reason:
            'it may have been sent: the directory is looked up first (found: submitted without a click; ' +
            'certainly not there: sent; otherwise: unknown for a person)',
        };
    }
  });
}

const base = (row: RetryRow) => ({ directoryId: row.directoryId, from: row.status });

export interface JobQueries {
  list(filter: JobListFilter): Promise<{ jobs: Job[]; next: string[] | null }>;
  cancel(jobId: string, byKeyId: string): Promise<CancelOutcome>;
  retry(jobId: string, byKeyId: string): Promise<RetryOutcome>;
  queue(customerId: string): Promise<QueueEntry[]>;
  /** The rows holding each of these directories for the customer (submissions_once_idx), by directory. */
  holders(
    customerId: string,
    directoryIds: readonly string[],
  ): Promise<Map<string, { jobId: string; status: SubmissionStatus }>>;
  /** Jobs each tier finished (completed or failed) within the throughput window. */
  throughput(): Promise<Map<Priority, number>>;
}

/** created_at printed in UTC with microseconds: exact when it comes back as a keyset bound. */
const CURSOR_AT = `${cursorAtSql('created_at')} AS cursor_at`;

type JobRowWithCursor = Parameters<typeof toJob>[0] & { cursor_at: string };

export class PgJobQueries implements JobQueries {
  constructor(private readonly sql: Sql) {}

  async list(filter: JobListFilter): Promise<{ jobs: Job[]; next: string[] | null }> {
    const { rows } = await this.sql.query<JobRowWithCursor>(
      `SELECT ${JOB_COLUMNS}, ${CURSOR_AT} FROM jobs
       WHERE ($1::text IS NULL OR owner_key_id = $1)
         AND ($2::uuid IS NULL OR customer_id = $2)
         AND ($3::text IS NULL OR status = $3)
         AND ($4::timestamptz IS NULL OR (created_at, id) < ($4::timestamptz, $5::uuid))
       ORDER BY created_at DESC, id DESC
       LIMIT $6`,
      [
        filter.ownerKeyId ?? null,
        filter.customerId ?? null,
        filter.status ?? null,
        filter.after?.[0] ?? null,
        filter.after?.[1] ?? null,
        filter.limit + 1,
      ],
    );
    const { page, next } = keysetPage(rows, filter.limit, (r) => [r.cursor_at, r.id]);
    return { jobs: page.map(toJob), next };
  }

  cancel(jobId: string, byKeyId: string): Promise<CancelOutcome> {
    return this.sql.transaction(async (tx) => {
      const { rows } = await tx.query<{ status: JobStatus }>(
        'SELECT status FROM jobs WHERE id = $1 FOR UPDATE',
        [jobId],
      );
      const current = rows[0];
      if (!current) return { kind: 'missing' };
      if (!CANCELLABLE.includes(current.status)) return { kind: 'ended', status: current.status };
      // Raising the fencing token as well as leaving 'in_progress' makes every later write of the worker fail.
      await tx.query(
        `UPDATE jobs SET status = 'cancelled', finished_at = now(), fencing_token = fencing_token + 1
         WHERE id = $1`,
        [jobId],
      );
      const skipped = await tx.query(
        `UPDATE submissions SET status = 'skipped', finished_at = now(),
                error = 'job cancelled before this directory was attempted; a retry sends it',
                evidence = evidence || '{"skip": "cancelled"}'::jsonb
         WHERE job_id = $1 AND status = 'prepared'`,
        [jobId],
      );
      // It may have been sent: never 'skipped' or 'prepared', so nothing sends it blindly; a retry looks it up.
      const unknown = await tx.query(
        `UPDATE submissions SET status = 'unknown', error_class = 'internal', finished_at = now(),
                error = 'job cancelled while this directory was being submitted; it may have been sent: a person ' ||
                        'should check, and a retry looks it up on the directory first'
         WHERE job_id = $1 AND status IN (${IN_DOUBT_SQL})`,
        [jobId],
      );
      await tx.query(`INSERT INTO job_events (job_id, type, detail) VALUES ($1, 'cancelled', $2)`, [
        jobId,
        {
          previousStatus: current.status,
          byKeyId,
          skipped: skipped.rowCount,
          unknown: unknown.rowCount,
        },
      ]);
      const job = await tx.query<Parameters<typeof toJob>[0]>(
        `SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1`,
        [jobId],
      );
      return { kind: 'cancelled', job: toJob(job.rows[0] as Parameters<typeof toJob>[0]) };
    });
  }

  retry(jobId: string, byKeyId: string): Promise<RetryOutcome> {
    return this.sql.transaction(async (tx) => {
      const { rows } = await tx.query<{ status: JobStatus }>(
        'SELECT status FROM jobs WHERE id = $1 FOR UPDATE',
        [jobId],
      );
      const current = rows[0];
      if (!current) return { kind: 'missing' };
      if (!RETRYABLE_JOB.includes(current.status)) return { kind: 'running', status: current.status };
      const { rows: ledger } = await tx.query<{
        id: number;
        directory_id: string;
        status: SubmissionStatus;
        skip: SkipReason | null;
        error_class: string | null;
        superseded_by: number | null;
        directory_active: boolean | null;
        can_verify: boolean;
        holder_job: string | null;
        holder_status: SubmissionStatus | null;
      }>(RETRY_ROWS_SQL, [jobId]);
      const plan = retryPlan(
        ledger.map((r) => ({
          directoryId: r.directory_id,
          status: r.status,
          skip: r.skip,
          errorClass: r.error_class,
          supersededBy: r.superseded_by,
          directoryActive: r.directory_active,
          canVerify: r.can_verify,
          holder: r.holder_job && r.holder_status ? { jobId: r.holder_job, status: r.holder_status } : null,
        })),
      );
      interface Change {
        id: number;
        to: SubmissionStatus;
        settled: { error: string; errorClass: string | null; evidence: Record<string, unknown> } | null;
      }
      const changes = ledger.flatMap((r, i): Change[] => {
        const decision = plan[i] as RetryDecision;
        if (decision.action === 'none') return [];
        if (decision.action !== 'settle') return [{ id: r.id, to: decision.to, settled: null }];
        const holder =
          r.holder_job && r.holder_status
            ? { jobId: r.holder_job, directoryId: r.directory_id, status: r.holder_status }
            : undefined;
        const settled =
          decision.to === 'unknown'
            ? {
                error: `${decision.reason}; a person should check the directory`,
                errorClass: 'internal',
                evidence: {},
              }
            : holder
              ? { error: heldMessage(holder), errorClass: null, evidence: { skip: 'held', heldBy: holder } }
              : { error: INACTIVE_MESSAGE, errorClass: null, evidence: { skip: 'inactive' } };
        return [{ id: r.id, to: decision.to, settled }];
      });
      if (changes.length === 0) return { kind: 'nothing', plan };
      // Sent or looked up again: open, with no error and no skip. Settled here: with the reason, finished.
      await tx.query(
        `UPDATE submissions s SET status = c.status,
                error = c.error, error_class = c.error_class,
                started_at = CASE WHEN c.settle THEN s.started_at END,
                finished_at = CASE WHEN c.settle THEN now() END,
                evidence = CASE WHEN c.settle THEN s.evidence || c.evidence ELSE s.evidence - 'skip' - 'heldBy' END
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::boolean[])
              AS c(id, status, error, error_class, evidence, settle)
         WHERE s.id = c.id`,
        [
          changes.map((c) => c.id),
          changes.map((c) => c.to),
          changes.map((c) => c.settled?.error ?? null),
          changes.map((c) => c.settled?.errorClass ?? null),
          changes.map((c) => c.settled?.evidence ?? {}),
          changes.map((c) => c.settled !== null),
        ],
      );
      // A new enqueue token makes the new message the only one a worker will accept; a new fencing token
      // shuts out anything still holding the old claim. Attempts start again: the cause was dealt with.
      const updated = await tx.query<Parameters<typeof toJob>[0]>(
        `UPDATE jobs SET status = 'pending', enqueue_token = enqueue_token + 1, fencing_token = fencing_token + 1,
                attempts = 0, error = NULL, error_class = NULL, finished_at = NULL, heartbeat_at = NULL,
                claimed_by = NULL, queued_at = NULL,
                progress = progress || jsonb_build_object('done',
                  (SELECT count(*) FROM submissions s WHERE s.job_id = $1 AND s.status NOT IN (${OPEN_SQL})))
         WHERE id = $1
         RETURNING ${JOB_COLUMNS}`,
        [jobId],
      );
      const job = toJob(updated.rows[0] as Parameters<typeof toJob>[0]);
      const directoryIds = plan
        .filter((d) => d.action === 'send' || d.action === 'verify')
        .map((d) => d.directoryId)
        .sort();
      await tx.query(`INSERT INTO job_events (job_id, type, detail) VALUES ($1, 'retried', $2)`, [
        jobId,
        {
          previousStatus: current.status,
          byKeyId,
          directories: directoryIds,
          plan: plan.filter((d) => d.action !== 'none'),
          enqueueToken: job.enqueueToken,
        },
      ]);
      return { kind: 'retried', job, directoryIds, plan };
    });
  }

  async queue(customerId: string): Promise<QueueEntry[]> {
    // Position = jobs of the same tier waiting longer (by time queued, then id) + 1. SQS FIFO orders within a
    // message group only (one per job), so this is the fair order the tier is drained in, approximately.
    const { rows } = await this.sql.query<{
      id: string;
      status: QueueEntry['status'];
      priority: Priority;
      position: number;
    }>(
      `SELECT m.id, m.status, m.priority,
              CASE WHEN m.status = 'in_progress' THEN 0 ELSE (
                SELECT count(*) FROM jobs j
                WHERE j.status IN ('pending', 'queued') AND j.priority = m.priority
                  AND (coalesce(j.queued_at, j.created_at), j.id) < (coalesce(m.queued_at, m.created_at), m.id)
              ) + 1 END AS position
       FROM jobs m
       WHERE m.customer_id = $1 AND m.status IN ('pending', 'queued', 'in_progress')
       ORDER BY m.priority, coalesce(m.queued_at, m.created_at), m.id`,
      [customerId],
    );
    return rows.map((r) => ({ jobId: r.id, status: r.status, priority: r.priority, position: r.position }));
  }

  async holders(
    customerId: string,
    directoryIds: readonly string[],
  ): Promise<Map<string, { jobId: string; status: SubmissionStatus }>> {
    const { rows } = await this.sql.query<{ directory_id: string; job_id: string; status: SubmissionStatus }>(
      `SELECT directory_id, job_id, status FROM submissions
       WHERE customer_id = $1 AND directory_id = ANY($2::text[]) AND superseded_by IS NULL
         AND status IN (${HOLDING_SQL})`,
      [customerId, directoryIds],
    );
    return new Map(rows.map((r) => [r.directory_id, { jobId: r.job_id, status: r.status }]));
  }

  async throughput(): Promise<Map<Priority, number>> {
    const { rows } = await this.sql.query<{ priority: Priority; finished: number }>(THROUGHPUT_SQL, [
      HEALTH.throughputWindowSeconds,
    ]);
    return new Map(rows.map((r) => [r.priority, r.finished]));
  }
}

/** Seconds until a job at `position` in its tier starts, from the tier's recent throughput (null: no data). */
export function estimateWaitSeconds(position: number, finishedInWindow: number | undefined): number | null {
  if (position === 0) return 0;
  if (!finishedInWindow) return null;
  return Math.ceil((position * HEALTH.throughputWindowSeconds) / finishedInWindow);
}

/**
 * A job's ledger as the retry decides about it: each row with its skip reason, whether its directory is
 * active, and the row of another job (if any) that holds its (customer, directory) now. $1 job id.
 */
const RETRY_ROWS_SQL = `
SELECT s.id, s.directory_id, s.status, s.evidence ->> 'skip' AS skip, s.error_class, s.superseded_by,
       d.active AS directory_active, coalesce(d.definition ? 'verify', false) AS can_verify,
       h.job_id AS holder_job, h.status AS holder_status
FROM submissions s
LEFT JOIN directories d ON d.id = s.directory_id
LEFT JOIN LATERAL (
  SELECT o.job_id, o.status FROM submissions o
  WHERE o.customer_id = s.customer_id AND o.directory_id = s.directory_id AND o.id <> s.id
    AND o.superseded_by IS NULL AND o.status IN (${HOLDING_SQL})
    AND NOT (o.id IS NOT DISTINCT FROM s.resubmits AND o.status IN (${RESUBMITTABLE_SQL}))
  LIMIT 1
) h ON true
WHERE s.job_id = $1
ORDER BY s.id`;

/** Jobs each tier finished within the last $1 seconds (jobs_finished_idx). */
export const THROUGHPUT_SQL = `SELECT priority, count(*) AS finished FROM jobs
  WHERE status IN ('completed', 'failed') AND finished_at > now() - make_interval(secs => $1)
  GROUP BY priority`;
