/**
 * The jobs API's own queries and transitions, beside the shared JobStore: listing by keyset, cancel, retry,
 * and a customer's place in the queue. Each transition is one transaction that locks the job row first
 * (FOR UPDATE), so it serialises with the ledger's fenced writes (which take FOR SHARE on the same row) and
 * with a competing claim or requeue.
 */
import { HEALTH, type Priority } from '#policy';
import type { Sql } from '#shared/db';
import { JOB_COLUMNS, type Job, type JobStatus, toJob } from '#shared/job-store';

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
  | { kind: 'retried'; job: Job; directoryIds: string[] }
  | { kind: 'missing' }
  | { kind: 'running'; status: JobStatus }
  | { kind: 'nothing' };

export interface JobQueries {
  list(filter: JobListFilter): Promise<{ jobs: Job[]; next: string[] | null }>;
  cancel(jobId: string, byKeyId: string): Promise<CancelOutcome>;
  retry(jobId: string, byKeyId: string): Promise<RetryOutcome>;
  queue(customerId: string): Promise<QueueEntry[]>;
  /** Jobs each tier finished (completed or failed) within the throughput window. */
  throughput(): Promise<Map<Priority, number>>;
}

/** created_at printed in UTC with microseconds: exact when it comes back as a keyset bound. */
const CURSOR_AT = `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at`;

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
    const page = rows.slice(0, filter.limit);
    const last = page.at(-1);
    return {
      jobs: page.map(toJob),
      next: rows.length > filter.limit && last ? [last.cursor_at, last.id] : null,
    };
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
                error = 'job cancelled before this directory was attempted'
         WHERE job_id = $1 AND status = 'prepared'`,
        [jobId],
      );
      const unknown = await tx.query(
        `UPDATE submissions SET status = 'unknown', error_class = 'internal', finished_at = now(),
                error = 'job cancelled while this directory was being submitted; it may have been sent, a person should check'
         WHERE job_id = $1 AND status = 'submitting'`,
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
      const reset = await tx.query<{ directory_id: string }>(
        `UPDATE submissions SET status = 'prepared', error = NULL, error_class = NULL, started_at = NULL,
                finished_at = NULL
         WHERE job_id = $1 AND status IN ('failed', 'unknown')
         RETURNING directory_id`,
        [jobId],
      );
      if (reset.rowCount === 0) return { kind: 'nothing' };
      // A new enqueue token makes the new message the only one a worker will accept; a new fencing token
      // shuts out anything still holding the old claim.
      const updated = await tx.query<Parameters<typeof toJob>[0]>(
        `UPDATE jobs SET status = 'pending', enqueue_token = enqueue_token + 1, fencing_token = fencing_token + 1,
                error = NULL, error_class = NULL, finished_at = NULL, heartbeat_at = NULL, claimed_by = NULL,
                queued_at = NULL,
                progress = progress || jsonb_build_object('done',
                  (SELECT count(*) FROM submissions s WHERE s.job_id = $1 AND s.status NOT IN ('prepared', 'submitting')))
         WHERE id = $1
         RETURNING ${JOB_COLUMNS}`,
        [jobId],
      );
      const job = toJob(updated.rows[0] as Parameters<typeof toJob>[0]);
      const directoryIds = reset.rows.map((r) => r.directory_id).sort();
      await tx.query(`INSERT INTO job_events (job_id, type, detail) VALUES ($1, 'retried', $2)`, [
        jobId,
        {
          previousStatus: current.status,
          byKeyId,
          directories: directoryIds,
          enqueueToken: job.enqueueToken,
        },
      ]);
      return { kind: 'retried', job, directoryIds };
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

/** Jobs each tier finished within the last $1 seconds (jobs_finished_idx). */
export const THROUGHPUT_SQL = `SELECT priority, count(*) AS finished FROM jobs
  WHERE status IN ('completed', 'failed') AND finished_at > now() - make_interval(secs => $1)
  GROUP BY priority`;
