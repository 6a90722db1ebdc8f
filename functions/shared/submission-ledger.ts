/**
 * The submission ledger: one row per (job, directory), the truth about what was sent where.
 *
 *   prepared ──begin──▶ submitting ──settle──▶ submitted | failed | needs_manual | unknown
 *   prepared ──settle──▶ failed | skipped | needs_manual          (decided before anything was sent)
 *
 * `begin` is taken immediately before the irreversible action (the final submit), so a row found in
 * 'submitting' later means "may have been sent": it is verified or marked 'unknown', never resubmitted.
 * Every transition is fenced by the claim's token and holds a share lock on the job row, so it serialises
 * against a competing claim or requeue.
 */
import type { Sql } from '#shared/db';
import type { Claim } from '#shared/job-store';

export const SUBMISSION_STATUSES = [
  'prepared',
  'submitting',
  'submitted',
  'failed',
  'skipped',
  'needs_manual',
  'unknown',
] as const;
export type SubmissionStatus = (typeof SUBMISSION_STATUSES)[number];

/** Why a directory did not end 'submitted'. */
export const ERROR_CLASSES = [
  'site_down',
  'timeout',
  'selector_drift',
  'validation_error',
  'captcha',
  'login_required',
  'internal',
  // The page or the definition aimed the browser at a private or special address, or a non-web scheme, and
  // the network guard refused it (functions/worker/network-guard.ts). Never retried: the site is hostile or broken.
  'blocked_destination',
] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

export type SettledStatus = Exclude<SubmissionStatus, 'prepared' | 'submitting'>;

export interface Submission {
  jobId: string;
  directoryId: string;
  status: SubmissionStatus;
  attempt: number;
  errorClass: ErrorClass | null;
  error: string | null;
  evidence: Record<string, unknown>;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
}

export interface Settlement {
  status: SettledStatus;
  errorClass?: ErrorClass | null;
  error?: string | null;
  evidence?: Record<string, unknown>;
}

export interface SubmissionLedger {
  forJob(jobId: string): Promise<Submission[]>;
  /** prepared → submitting; returns the attempt number, or undefined if not allowed (fence or state). */
  begin(claim: Claim, directoryId: string): Promise<number | undefined>;
  /** prepared|submitting → a settled status; false if not allowed (fence or state). */
  settle(claim: Claim, directoryId: string, settlement: Settlement): Promise<boolean>;
  /**
   * submitting → prepared, only when the worker proves the submit click never started (its time budget ran
   * out between `begin` and the click); any doubt keeps the row 'submitting'. False if not allowed.
   */
  revert(claim: Claim, directoryId: string): Promise<boolean>;
}

interface SubmissionRow {
  job_id: string;
  directory_id: string;
  status: SubmissionStatus;
  attempt: number;
  error_class: ErrorClass | null;
  error: string | null;
  evidence: Record<string, unknown>;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
}

export const SUBMISSION_COLUMNS =
  'job_id, directory_id, status, attempt, error_class, error, evidence, started_at, finished_at, updated_at';

export function toSubmission(r: SubmissionRow): Submission {
  return {
    jobId: r.job_id,
    directoryId: r.directory_id,
    status: r.status,
    attempt: r.attempt,
    errorClass: r.error_class,
    error: r.error,
    evidence: r.evidence,
    startedAt: r.started_at?.toISOString() ?? null,
    finishedAt: r.finished_at?.toISOString() ?? null,
    updatedAt: r.updated_at.toISOString(),
  };
}

/** Longest error text kept in the ledger (a site's validation message, an exception message). */
const MAX_ERROR_LENGTH = 2_000;

export class PgSubmissionLedger implements SubmissionLedger {
  constructor(private readonly sql: Sql) {}

  async forJob(jobId: string): Promise<Submission[]> {
    const { rows } = await this.sql.query<SubmissionRow>(
      `SELECT ${SUBMISSION_COLUMNS} FROM submissions WHERE job_id = $1 ORDER BY id`,
      [jobId],
    );
    return rows.map(toSubmission);
  }

  async begin(claim: Claim, directoryId: string): Promise<number | undefined> {
    const { rows } = await this.sql.query<{ attempt: number }>(
      `WITH fence AS (
         SELECT id FROM jobs WHERE id = $1 AND fencing_token = $2 AND status = 'in_progress' FOR SHARE
       )
       UPDATE submissions s SET status = 'submitting', attempt = s.attempt + 1, started_at = now(),
              error = NULL, error_class = NULL
       FROM fence
       WHERE s.job_id = fence.id AND s.directory_id = $3 AND s.status = 'prepared'
       RETURNING s.attempt`,
      [claim.jobId, claim.fencingToken, directoryId],
    );
    return rows[0]?.attempt;
  }

  async settle(claim: Claim, directoryId: string, settlement: Settlement): Promise<boolean> {
    const { rowCount } = await this.sql.query(
      `WITH fence AS (
         SELECT id FROM jobs WHERE id = $1 AND fencing_token = $2 AND status = 'in_progress' FOR SHARE
       )
       UPDATE submissions s SET status = $4, error_class = $5, error = $6, evidence = s.evidence || $7::jsonb,
              finished_at = now()
       FROM fence
       WHERE s.job_id = fence.id AND s.directory_id = $3 AND s.status IN ('prepared', 'submitting')`,
      [
        claim.jobId,
        claim.fencingToken,
        directoryId,
        settlement.status,
        settlement.errorClass ?? null,
        settlement.error ? settlement.error.slice(0, MAX_ERROR_LENGTH) : null,
        settlement.evidence ?? {},
      ],
    );
    return rowCount === 1;
  }

  async revert(claim: Claim, directoryId: string): Promise<boolean> {
    const { rowCount } = await this.sql.query(
      `WITH fence AS (
         SELECT id FROM jobs WHERE id = $1 AND fencing_token = $2 AND status = 'in_progress' FOR SHARE
       )
       UPDATE submissions s SET status = 'prepared', started_at = NULL
       FROM fence
       WHERE s.job_id = fence.id AND s.directory_id = $3 AND s.status = 'submitting'`,
      [claim.jobId, claim.fencingToken, directoryId],
    );
    return rowCount === 1;
  }
}

/** Per-status counts of a job's ledger, for progress and the job's final summary. */
export function countByStatus(submissions: readonly Submission[]): Record<SubmissionStatus, number> {
  const counts = Object.fromEntries(SUBMISSION_STATUSES.map((s) => [s, 0])) as Record<
    SubmissionStatus,
    number
  >;
  for (const s of submissions) counts[s.status] += 1;
  return counts;
}
