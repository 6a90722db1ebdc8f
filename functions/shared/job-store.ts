/**
 * Jobs and their lifecycle in Postgres. Every state change is one conditional statement plus a job_events
 * row, and every write by a worker is fenced: it names the fencing token it claimed with, and a newer claim
 * or a requeue (which raise the token) makes it fail. So a zombie worker cannot overwrite a newer one.
 */
import type { Priority } from '#policy';
import type { Sql } from '#shared/db';

export const JOB_STATUSES = ['pending', 'queued', 'in_progress', 'completed', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled'];

/** What the worker is doing now; written with every heartbeat. */
export interface JobProgress {
  total?: number;
  done?: number;
  directoryId?: string | null;
  step?: string | null;
  /** When the current (directory, step) began, so "heartbeats arriving, step unchanged" can be seen. */
  stepSince?: string | null;
  counts?: Record<string, number>;
}

export interface Job {
  id: string;
  customerId: string;
  ownerKeyId: string;
  package: string | null;
  priority: Priority;
  requestedPriority: Priority;
  status: JobStatus;
  attempts: number;
  fencingToken: number;
  enqueueToken: number;
  claimedBy: string | null;
  heartbeatAt: string | null;
  progress: JobProgress;
  error: string | null;
  errorClass: string | null;
  createdAt: string;
  updatedAt: string;
  queuedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

/** A worker's hold on a job: valid while jobs.fencing_token still equals `fencingToken`. */
export interface Claim {
  jobId: string;
  customerId: string;
  priority: Priority;
  fencingToken: number;
  workerId: string;
  /** The status the job had before this claim; 'in_progress' means a previous worker was displaced. */
  previousStatus: JobStatus;
}

export interface NewJob {
  customerId: string;
  ownerKeyId: string;
  priority: Priority;
  requestedPriority: Priority;
  package: string | null;
  directoryIds: readonly string[];
}

export interface JobStore {
  /** Inserts the job ('pending', enqueue token 1), one ledger row per directory and a 'created' event. */
  create(input: NewJob): Promise<Job>;
  get(id: string): Promise<Job | undefined>;
  /** 'pending' → 'queued' once the message carrying `enqueueToken` is on the queue; false if the job moved on. */
  markQueued(jobId: string, enqueueToken: number): Promise<boolean>;
  /** markQueued for many jobs in one statement; resolves with how many were marked. */
  markQueuedMany(jobs: readonly { jobId: string; enqueueToken: number }[]): Promise<number>;
  /** Claims the job for a message carrying `enqueueToken`; undefined when the message is stale. */
  claim(jobId: string, enqueueToken: number, workerId: string): Promise<Claim | undefined>;
  /** Records liveness and progress; false when the claim has been superseded. */
  heartbeat(claim: Claim, progress: JobProgress): Promise<boolean>;
  /** Ends the job; false when the claim has been superseded. */
  finish(
    claim: Claim,
    outcome: { status: 'completed' | 'failed'; progress: JobProgress; error?: string; errorClass?: string },
  ): Promise<boolean>;
  /** Appends a job_events row. */
  recordEvent(jobId: string, type: string, detail?: Record<string, unknown>): Promise<void>;
  /**
   * The worker could not finish this delivery of the job (its message goes back to the queue): records
   * why (error + error_class, shown by the DLQ check) and hands the job back to the queue ('queued', so
   * the redelivered message can claim it and the stale-job monitor does not chase it). Fenced; false when
   * the claim has been superseded. With `final` (this was the message's last receive before SQS moves it
   * to the dead-letter queue) the job is 'failed' instead, so it does not look queued while it waits in
   * the DLQ; a redrive makes it claimable again.
   */
  releaseAfterFailure(
    claim: Claim,
    failure: { error: string; errorClass: string },
    options?: { final?: boolean },
  ): Promise<boolean>;
  /**
   * The worker ran out of invocation time having settled `settled` directories: hands the job to a fresh
   * message instead of failing the delivery. One fenced statement: 'in_progress' → 'pending' with enqueue
   * and fencing tokens + 1 (the new message is the only one a worker will accept; the old claim is shut
   * out), claimed_by and queued_at cleared, attempts untouched (not a failure, not a stale requeue), and a
   * 'continued' job_events row with the progress. The caller then sends the message and marks it queued,
   * as the API's enqueue does. Undefined when the claim has been superseded: do nothing more.
   */
  releaseForContinuation(claim: Claim, settled: number): Promise<Continuation | undefined>;
}

/** A job handed to a fresh message: what that message must carry, and where the job stands. */
export interface Continuation {
  jobId: string;
  priority: Priority;
  enqueueToken: number;
  fencingToken: number;
  /** Directories settled so far (every invocation), and in all. */
  done: number;
  total: number;
}

interface JobRow {
  id: string;
  customer_id: string;
  owner_key_id: string;
  package: string | null;
  priority: number;
  requested_priority: number;
  status: JobStatus;
  attempts: number;
  fencing_token: number;
  enqueue_token: number;
  claimed_by: string | null;
  heartbeat_at: Date | null;
  progress: JobProgress;
  error: string | null;
  error_class: string | null;
  created_at: Date;
  updated_at: Date;
  queued_at: Date | null;
  started_at: Date | null;
  finished_at: Date | null;
}

export const JOB_COLUMNS = `id, customer_id, owner_key_id, package, priority, requested_priority, status, attempts,
  fencing_token, enqueue_token, claimed_by, heartbeat_at, progress, error, error_class, created_at, updated_at,
  queued_at, started_at, finished_at`;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toJob(row: JobRow): Job {
  return {
    id: row.id,
    customerId: row.customer_id,
    ownerKeyId: row.owner_key_id,
    package: row.package,
    priority: row.priority as Priority,
    requestedPriority: row.requested_priority as Priority,
    status: row.status,
    attempts: row.attempts,
    fencingToken: row.fencing_token,
    enqueueToken: row.enqueue_token,
    claimedBy: row.claimed_by,
    heartbeatAt: iso(row.heartbeat_at),
    progress: row.progress,
    error: row.error,
    errorClass: row.error_class,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    queuedAt: iso(row.queued_at),
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
  };
}

export class PgJobStore implements JobStore {
  constructor(private readonly sql: Sql) {}

  /**
   * The job, its ledger rows and its 'created' event in one statement: atomic on its own (a statement is
   * its own transaction), and one round trip instead of five (BEGIN, three INSERTs, COMMIT) on the path of
   * every POST /v1/jobs.
   */
  async create(input: NewJob): Promise<Job> {
    const { rows } = await this.sql.query<JobRow>(
      `WITH job AS (
         INSERT INTO jobs (customer_id, owner_key_id, package, priority, requested_priority, enqueue_token, progress)
         VALUES ($1, $2, $3, $4, $5, 1, jsonb_build_object('total', cardinality($6::text[]), 'done', 0))
         RETURNING ${JOB_COLUMNS}
       ), ledger AS (
         INSERT INTO submissions (job_id, directory_id) SELECT job.id, unnest($6::text[]) FROM job
       ), created AS (
         INSERT INTO job_events (job_id, type, detail) SELECT job.id, 'created', $7 FROM job
       )
       SELECT * FROM job`,
      [
        input.customerId,
        input.ownerKeyId,
        input.package,
        input.priority,
        input.requestedPriority,
        input.directoryIds,
        { priority: input.priority, directories: input.directoryIds.length, package: input.package },
      ],
    );
    return toJob(rows[0] as JobRow);
  }

  async get(id: string): Promise<Job | undefined> {
    const { rows } = await this.sql.query<JobRow>(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1`, [id]);
    return rows[0] ? toJob(rows[0]) : undefined;
  }

  async markQueued(jobId: string, enqueueToken: number): Promise<boolean> {
    const { rowCount } = await this.sql.query(
      // A fast worker may already have claimed the job: then only the time is recorded.
      `WITH queued AS (
         UPDATE jobs SET status = CASE WHEN status = 'pending' THEN 'queued' ELSE status END,
                queued_at = coalesce(queued_at, now())
         WHERE id = $1 AND enqueue_token = $2 AND status IN ('pending', 'in_progress')
         RETURNING id, priority
       )
       INSERT INTO job_events (job_id, type, detail)
       SELECT id, 'queued', jsonb_build_object('enqueueToken', $2::int, 'priority', priority) FROM queued`,
      [jobId, enqueueToken],
    );
    return rowCount === 1;
  }

  async markQueuedMany(jobs: readonly { jobId: string; enqueueToken: number }[]): Promise<number> {
    if (jobs.length === 0) return 0;
    const { rowCount } = await this.sql.query(
      `WITH sent AS (
         SELECT * FROM unnest($1::uuid[], $2::int[]) AS s(id, enqueue_token)
       ), queued AS (
         UPDATE jobs j SET status = CASE WHEN j.status = 'pending' THEN 'queued' ELSE j.status END,
                queued_at = coalesce(j.queued_at, now())
         FROM sent
         WHERE j.id = sent.id AND j.enqueue_token = sent.enqueue_token AND j.status IN ('pending', 'in_progress')
         RETURNING j.id, j.priority, j.enqueue_token
       )
       INSERT INTO job_events (job_id, type, detail)
       SELECT id, 'queued', jsonb_build_object('enqueueToken', enqueue_token, 'priority', priority) FROM queued`,
      [jobs.map((j) => j.jobId), jobs.map((j) => j.enqueueToken)],
    );
    return rowCount;
  }

  async claim(jobId: string, enqueueToken: number, workerId: string): Promise<Claim | undefined> {
    // Newest claimant wins: SQS only redelivers a FIFO message once the previous receiver lost its
    // visibility (stopped heartbeating), so a claim of an in-progress job displaces a dead or lost worker,
    // and raising the fencing token shuts that worker out.
    const { rows } = await this.sql.query<{
      customer_id: string;
      priority: number;
      fencing_token: number;
      previous_status: JobStatus;
    }>(
      `WITH prev AS (
         SELECT id, status FROM jobs WHERE id = $1 FOR UPDATE
       ), claimed AS (
         UPDATE jobs j SET status = 'in_progress', fencing_token = j.fencing_token + 1, claimed_by = $3,
                claimed_at = now(), heartbeat_at = now(), started_at = coalesce(j.started_at, now())
         FROM prev
         WHERE j.id = prev.id AND j.enqueue_token = $2 AND j.status IN ('pending', 'queued', 'in_progress')
         RETURNING j.id, j.customer_id, j.priority, j.fencing_token, prev.status AS previous_status
       ), event AS (
         INSERT INTO job_events (job_id, type, detail)
         SELECT id, 'claimed', jsonb_build_object('worker', $3::text, 'fencingToken', fencing_token,
                'previousStatus', previous_status)
         FROM claimed
       )
       SELECT customer_id, priority, fencing_token, previous_status FROM claimed`,
      [jobId, enqueueToken, workerId],
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      jobId,
      customerId: row.customer_id,
      priority: row.priority as Priority,
      fencingToken: row.fencing_token,
      workerId,
      previousStatus: row.previous_status,
    };
  }

  async heartbeat(claim: Claim, progress: JobProgress): Promise<boolean> {
    const { rowCount } = await this.sql.query(
      `UPDATE jobs SET heartbeat_at = now(), progress = $3
       WHERE id = $1 AND fencing_token = $2 AND status = 'in_progress'`,
      [claim.jobId, claim.fencingToken, progress],
    );
    return rowCount === 1;
  }

  async finish(
    claim: Claim,
    outcome: { status: 'completed' | 'failed'; progress: JobProgress; error?: string; errorClass?: string },
  ): Promise<boolean> {
    const { rowCount } = await this.sql.query(
      `WITH done AS (
         UPDATE jobs SET status = $3, progress = $4, error = $5, error_class = $6, finished_at = now(),
                heartbeat_at = now()
         WHERE id = $1 AND fencing_token = $2 AND status = 'in_progress'
         RETURNING id
       )
       INSERT INTO job_events (job_id, type, detail)
       SELECT id, $3, jsonb_build_object('counts', $4::jsonb -> 'counts', 'error', $5::text) FROM done`,
      [
        claim.jobId,
        claim.fencingToken,
        outcome.status,
        outcome.progress,
        outcome.error ?? null,
        outcome.errorClass ?? null,
      ],
    );
    return rowCount === 1;
  }

  async recordEvent(jobId: string, type: string, detail: Record<string, unknown> = {}): Promise<void> {
    await this.sql.query('INSERT INTO job_events (job_id, type, detail) VALUES ($1, $2, $3)', [
      jobId,
      type,
      detail,
    ]);
  }

  async releaseAfterFailure(
    claim: Claim,
    failure: { error: string; errorClass: string },
    options: { final?: boolean } = {},
  ): Promise<boolean> {
    const final = options.final === true;
    const { rowCount } = await this.sql.query(
      `WITH released AS (
         UPDATE jobs SET status = CASE WHEN $6 THEN 'failed' ELSE 'queued' END, error = $3, error_class = $4,
                claimed_by = NULL, finished_at = CASE WHEN $6 THEN now() ELSE finished_at END
         WHERE id = $1 AND fencing_token = $2 AND status = 'in_progress'
         RETURNING id
       )
       INSERT INTO job_events (job_id, type, detail)
       SELECT id, CASE WHEN $6 THEN 'dead_lettered' ELSE 'attempt_failed' END,
              jsonb_build_object('error', $3::text, 'errorClass', $4::text, 'worker', $5::text,
                                 'fencingToken', $2::bigint)
       FROM released`,
      [
        claim.jobId,
        claim.fencingToken,
        failure.error.slice(0, 2_000),
        failure.errorClass,
        claim.workerId,
        final,
      ],
    );
    return rowCount === 1;
  }

  async releaseForContinuation(claim: Claim, settled: number): Promise<Continuation | undefined> {
    const { rows } = await this.sql.query<{
      priority: number;
      enqueue_token: number;
      fencing_token: number;
      done: number;
      total: number;
    }>(CONTINUE_JOB_SQL, [claim.jobId, claim.fencingToken, claim.workerId, settled]);
    const row = rows[0];
    if (!row) return undefined;
    return {
      jobId: claim.jobId,
      priority: row.priority as Priority,
      enqueueToken: row.enqueue_token,
      fencingToken: row.fencing_token,
      done: row.done,
      total: row.total,
    };
  }
}

/**
 * The continuation statement (see JobStore.releaseForContinuation). Fenced like every worker write: under
 * READ COMMITTED a concurrent cancel, requeue or newer claim that changed the row makes the WHERE fail on the
 * re-read, so nothing is written. queued_at is cleared so markQueued stamps the new message's time (aging and
 * queue position count from it, not from the job's first queueing). $1 job, $2 fencing token, $3 worker,
 * $4 directories settled by this invocation.
 */
export const CONTINUE_JOB_SQL = `
WITH ledger AS (
  SELECT count(*) FILTER (WHERE status NOT IN ('prepared', 'submitting'))::int AS done, count(*)::int AS total
  FROM submissions WHERE job_id = $1
), continued AS (
  UPDATE jobs j SET status = 'pending', enqueue_token = j.enqueue_token + 1, fencing_token = j.fencing_token + 1,
         claimed_by = NULL, queued_at = NULL,
         progress = j.progress || jsonb_build_object('done', l.done, 'total', l.total, 'directoryId', NULL,
                                                     'step', NULL, 'stepSince', NULL)
  FROM ledger l
  WHERE j.id = $1 AND j.fencing_token = $2 AND j.status = 'in_progress'
  RETURNING j.id, j.priority, j.enqueue_token, j.fencing_token, l.done, l.total
), event AS (
  INSERT INTO job_events (job_id, type, detail)
  SELECT id, 'continued', jsonb_build_object('worker', $3::text, 'settled', $4::int, 'done', done, 'total', total,
                                             'enqueueToken', enqueue_token, 'fencingToken', fencing_token)
  FROM continued
)
SELECT priority, enqueue_token, fencing_token, done, total FROM continued`;
