/**
 * Jobs and their lifecycle in Postgres. Every state change is one conditional statement plus a job_events
 * row, and every write by a worker is fenced: it names the fencing token it claimed with, and a newer claim
 * or a requeue (which raise the token) makes it fail. So a zombie worker cannot overwrite a newer one.
 */
import { randomUUID } from 'node:crypto';
import type { Priority } from '#policy';
import type { Sql } from '#shared/db';
import {
  HOLDING_SQL,
  type Holder,
  heldMessage,
  OPEN_SQL,
  RESUBMITTABLE_SQL,
  type SubmissionStatus,
} from '#shared/submission-ledger';

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
  /**
   * Every directory the worker has in flight (up to K, policy WORKER.directoriesInFlight), with its step and
   * since when; `directoryId` / `step` / `stepSince` above are the one longest on its step.
   */
  inFlight?: { directoryId: string | null; step: string | null; stepSince: string }[];
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
  /**
   * A deliberate resubmission of some of these directories: each takes over the customer's earlier settled
   * row ('submitted' or 'unknown') at its own submit click, recorded on both rows and in a job event.
   */
  resubmit?: { directoryIds: readonly string[]; reason: string; byKeyId: string };
}

/** An Idempotency-Key of POST /v1/jobs, as the job's creation claims it. */
export interface RequestKey {
  /** The API key id the key belongs to: keys are per API key. */
  keyId: string;
  key: string;
  /** sha256 (hex) of the canonical request body. */
  fingerprint: string;
  /** A key older than this is free again. */
  ttlSeconds: number;
}

/** A stored first answer to a request with an Idempotency-Key. */
export interface StoredRequest {
  jobId: string;
  fingerprint: string;
  statusCode: number;
  /** The answer's body; empty ({}) while the first request is still being answered. */
  response: Record<string, unknown>;
  createdAt: string;
}

/** What creation decided for one directory. */
export interface CreatedDirectory {
  directoryId: string;
  status: Extract<SubmissionStatus, 'prepared' | 'skipped'>;
  /** Skipped: the row that already holds this (customer, directory). */
  heldBy?: Holder;
  /** A resubmission: the earlier row it will take over at its submit click. */
  resubmits?: Holder;
}

export interface CreatedJob extends Job {
  directories: CreatedDirectory[];
}

export interface JobStore {
  /**
   * Inserts the job ('pending', enqueue token 1), one ledger row per directory and a 'created' event, in
   * one statement. A directory the customer already holds (a row that may have been sent or was, in any
   * job) is created 'skipped', pointing at that row, unless it is deliberately resubmitted.
   */
  create(input: NewJob): Promise<CreatedJob>;
  /**
   * create() that also claims an Idempotency-Key in the same statement: undefined (and no job) when the key
   * is held, within its lifetime, by an earlier request (see findRequest).
   */
  createOnce(input: NewJob, key: RequestKey): Promise<CreatedJob | undefined>;
  /** The first answer stored under an Idempotency-Key, if it is younger than `ttlSeconds`. */
  findRequest(keyId: string, key: string, ttlSeconds: number): Promise<StoredRequest | undefined>;
  /** Stores the answer given to the request that created the job under this key. */
  saveResponse(
    keyId: string,
    key: string,
    statusCode: number,
    response: Record<string, unknown>,
  ): Promise<void>;
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

interface CreatedRow {
  directory_id: string;
  status: 'prepared' | 'skipped';
  held_id: number | null;
  held_job: string | null;
  held_status: SubmissionStatus | null;
  resubmits: number | null;
}

function toCreatedDirectory(r: CreatedRow): CreatedDirectory {
  const holder: Holder | undefined =
    r.held_id !== null && r.held_job !== null && r.held_status !== null
      ? { submissionId: r.held_id, jobId: r.held_job, directoryId: r.directory_id, status: r.held_status }
      : undefined;
  return {
    directoryId: r.directory_id,
    status: r.status,
    ...(holder && r.status === 'skipped' ? { heldBy: holder } : {}),
    ...(holder && r.resubmits !== null ? { resubmits: holder } : {}),
  };
}

/**
 * The creation statement. $1 job id, $2 customer, $3 owner key, $4 package, $5 priority, $6 requested
 * priority, $7 directories (in order), $8 directories resubmitted, $9 resubmission reason, $10 by key id,
 * $11 the held message template; with a key also $12 key id, $13 key, $14 fingerprint, $15 key lifetime (s).
 *
 * `held` reads the customer's rows that hold each directory (submissions_once_idx): such a directory is
 * created 'skipped', pointing at the holder, unless it is resubmitted and the holder is settled, in which
 * case the new row names it (resubmits) and takes it over at its submit click. A holder that appears after
 * this statement is caught by the worker before its visit, and by the index at the click.
 *
 * With a key, `request` inserts it first (or takes over an expired one); when another request holds it the
 * insert returns nothing, so no job, ledger or event is written and the statement returns no row.
 */
function createJobSql(withKey: boolean): string {
  const request = withKey
    ? `request AS (
         INSERT INTO job_request_keys (key_id, idempotency_key, fingerprint, job_id, status_code, response)
         VALUES ($12, $13, $14, $1, 202, '{}'::jsonb)
         ON CONFLICT (key_id, idempotency_key) DO UPDATE
           SET fingerprint = EXCLUDED.fingerprint, job_id = EXCLUDED.job_id, status_code = EXCLUDED.status_code,
               response = EXCLUDED.response, created_at = now()
           WHERE job_request_keys.created_at <= now() - make_interval(secs => $15)
         RETURNING job_id
       ), `
    : '';
  return `
WITH ${request}wanted AS (
  SELECT w.directory_id, w.ord, w.directory_id = ANY($8::text[]) AS resubmit
  FROM unnest($7::text[]) WITH ORDINALITY AS w(directory_id, ord)
), held AS (
  SELECT DISTINCT ON (h.directory_id) h.directory_id, h.id, h.job_id, h.status
  FROM submissions h
  WHERE h.customer_id = $2 AND h.directory_id = ANY($7::text[]) AND h.superseded_by IS NULL
    AND h.status IN (${HOLDING_SQL})
  ORDER BY h.directory_id, h.id
), plan AS (
  SELECT w.directory_id, w.ord, h.id AS held_id, h.job_id AS held_job, h.status AS held_status,
         h.id IS NOT NULL AND NOT (w.resubmit AND h.status IN (${RESUBMITTABLE_SQL})) AS skip,
         CASE WHEN w.resubmit AND h.status IN (${RESUBMITTABLE_SQL}) THEN h.id END AS resubmits
  FROM wanted w LEFT JOIN held h USING (directory_id)
), job AS (
  INSERT INTO jobs (id, customer_id, owner_key_id, package, priority, requested_priority, enqueue_token, progress)
  SELECT $1, $2, $3, $4, $5, $6, 1,
         jsonb_build_object('total', cardinality($7::text[]), 'done', (SELECT count(*) FROM plan WHERE skip))
  ${withKey ? 'FROM request' : ''}
  RETURNING ${JOB_COLUMNS}
), ledger AS (
  INSERT INTO submissions (job_id, customer_id, directory_id, status, error, evidence, finished_at, resubmits)
  SELECT job.id, job.customer_id, p.directory_id,
         CASE WHEN p.skip THEN 'skipped' ELSE 'prepared' END,
         CASE WHEN p.skip THEN format($11::text, p.held_status, p.held_job, p.directory_id) END,
         CASE WHEN p.skip THEN jsonb_build_object('skip', 'held', 'heldBy', jsonb_build_object(
                'submissionId', p.held_id, 'jobId', p.held_job, 'directoryId', p.directory_id, 'status', p.held_status))
              WHEN p.resubmits IS NOT NULL THEN jsonb_build_object('resubmission', jsonb_build_object(
                'of', p.held_id, 'jobId', p.held_job, 'status', p.held_status, 'reason', $9::text, 'byKeyId', $10::text))
              ELSE '{}'::jsonb END,
         CASE WHEN p.skip THEN now() END,
         p.resubmits
  FROM job CROSS JOIN plan p
  ORDER BY p.ord
), created AS (
  INSERT INTO job_events (job_id, type, detail)
  SELECT job.id, 'created', jsonb_build_object('priority', $5::int, 'directories', cardinality($7::text[]),
         'package', $4::text, 'skipped', (SELECT count(*) FROM plan WHERE skip))
  FROM job
), resubmission AS (
  INSERT INTO job_events (job_id, type, detail)
  SELECT job.id, 'resubmission', jsonb_build_object('byKeyId', $10::text, 'reason', $9::text,
         'directories', (SELECT jsonb_agg(jsonb_build_object('directoryId', p.directory_id,
           'supersedes', jsonb_build_object('submissionId', p.held_id, 'jobId', p.held_job, 'status', p.held_status))
           ORDER BY p.ord) FROM plan p WHERE p.resubmits IS NOT NULL))
  FROM job WHERE EXISTS (SELECT 1 FROM plan WHERE resubmits IS NOT NULL)
)
SELECT job.*, (SELECT coalesce(json_agg(json_build_object('directory_id', p.directory_id,
         'status', CASE WHEN p.skip THEN 'skipped' ELSE 'prepared' END, 'held_id', p.held_id,
         'held_job', p.held_job, 'held_status', p.held_status, 'resubmits', p.resubmits) ORDER BY p.ord), '[]')
       FROM plan p) AS directories
FROM job`;
}

export class PgJobStore implements JobStore {
  constructor(private readonly sql: Sql) {}

  /**
   * The job, its ledger rows and its events in one statement: atomic on its own (a statement is its own
   * transaction), and one round trip instead of five (BEGIN, the INSERTs, COMMIT) on the path of every
   * POST /v1/jobs.
   */
  async create(input: NewJob): Promise<CreatedJob> {
    return (await this.insert(input, undefined)) as CreatedJob;
  }

  createOnce(input: NewJob, key: RequestKey): Promise<CreatedJob | undefined> {
    return this.insert(input, key);
  }

  private async insert(input: NewJob, key: RequestKey | undefined): Promise<CreatedJob | undefined> {
    const id = randomUUID();
    const { rows } = await this.sql.query<JobRow & { directories: CreatedRow[] }>(
      createJobSql(key !== undefined),
      [
        id,
        input.customerId,
        input.ownerKeyId,
        input.package,
        input.priority,
        input.requestedPriority,
        input.directoryIds,
        input.resubmit?.directoryIds ?? [],
        input.resubmit?.reason ?? null,
        input.resubmit?.byKeyId ?? null,
        // The skipped row's error, as heldMessage words it: one wording for creation, the worker and retry.
        heldMessage({ status: '%1$s' as SubmissionStatus, jobId: '%2$s', directoryId: '%3$s' }),
        ...(key ? [key.keyId, key.key, key.fingerprint, key.ttlSeconds] : []),
      ],
    );
    const row = rows[0];
    if (!row) return undefined;
    return { ...toJob(row), directories: row.directories.map(toCreatedDirectory) };
  }

  async findRequest(keyId: string, key: string, ttlSeconds: number): Promise<StoredRequest | undefined> {
    const { rows } = await this.sql.query<{
      job_id: string;
      fingerprint: string;
      status_code: number;
      response: Record<string, unknown>;
      created_at: Date;
    }>(
      `SELECT job_id, fingerprint, status_code, response, created_at FROM job_request_keys
       WHERE key_id = $1 AND idempotency_key = $2 AND created_at > now() - make_interval(secs => $3)`,
      [keyId, key, ttlSeconds],
    );
    const row = rows[0];
    return row
      ? {
          jobId: row.job_id,
          fingerprint: row.fingerprint,
          statusCode: row.status_code,
          response: row.response,
          createdAt: row.created_at.toISOString(),
        }
      : undefined;
  }

  async saveResponse(
    keyId: string,
    key: string,
    statusCode: number,
    response: Record<string, unknown>,
  ): Promise<void> {
    await this.sql.query(
      `UPDATE job_request_keys SET status_code = $3, response = $4
       WHERE key_id = $1 AND idempotency_key = $2`,
      [keyId, key, statusCode, response],
    );
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
  SELECT count(*) FILTER (WHERE status NOT IN (${OPEN_SQL}))::int AS done, count(*)::int AS total
  FROM submissions WHERE job_id = $1
), continued AS (
  UPDATE jobs j SET status = 'pending', enqueue_token = j.enqueue_token + 1, fencing_token = j.fencing_token + 1,
         claimed_by = NULL, queued_at = NULL,
         progress = j.progress || jsonb_build_object('done', l.done, 'total', l.total, 'directoryId', NULL,
                                                     'step', NULL, 'stepSince', NULL, 'inFlight', NULL)
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
