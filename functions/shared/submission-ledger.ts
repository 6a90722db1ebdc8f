/**
 * The submission ledger: one row per (job, directory), the truth about what was sent where.
 *
 *   prepared ──begin──▶ submitting ──settle──▶ submitted | failed | needs_manual | unknown
 *   prepared ──settle──▶ failed | skipped | needs_manual          (decided before anything was sent)
 *   submitting | unverified ──lookup──▶ submitted (found) | prepared (certainly not there: reopen) | unknown
 *
 * `begin` is taken immediately before the irreversible action (the final submit), so a row found in
 * 'submitting' later means "may have been sent". Such a row, and an 'unverified' one (a retry of an 'unknown'
 * row), is looked up on the directory before anything else happens to it; it is never resubmitted blindly.
 *
 * Once per business and directory: the rows of a customer and a directory that may have been sent or were
 * sent ('submitting', 'unverified', 'submitted', 'unknown', not superseded by a deliberate resubmission) are
 * unique in the database (sql/040_ledger_once.sql, submissions_once_idx), across every job. `begin` is the
 * statement that enters that index, so of two jobs racing for one business and directory only one can click:
 * the other's `begin` throws SubmissionHeldError naming the holder, and its row is settled 'skipped'.
 *
 * Every transition is fenced by the claim's token and holds a share lock on the job row, so it serialises
 * against a competing claim or requeue.
 */
import type { Sql } from '#shared/db';
import type { Claim } from '#shared/job-store';

export const SUBMISSION_STATUSES = [
  'prepared',
  'submitting',
  'unverified',
  'submitted',
  'failed',
  'skipped',
  'needs_manual',
  'unknown',
] as const;
export type SubmissionStatus = (typeof SUBMISSION_STATUSES)[number];

/** May have been sent and not yet looked up: the worker verifies these before anything else. */
export const IN_DOUBT_STATUSES: readonly SubmissionStatus[] = ['submitting', 'unverified'];
/** Not yet settled: a job with such a row has work left. */
export const OPEN_STATUSES: readonly SubmissionStatus[] = ['prepared', ...IN_DOUBT_STATUSES];
/**
 * May have been sent, or was: a (customer, directory) has at most one such row that is not superseded
 * (submissions_once_idx). A new job's row for it is skipped, pointing at this one.
 */
export const HOLDING_STATUSES: readonly SubmissionStatus[] = [
  'submitting',
  'unverified',
  'submitted',
  'unknown',
];
/** The holder states a deliberate resubmission may take over (settled; not in flight). */
export const RESUBMITTABLE_STATUSES: readonly SubmissionStatus[] = ['submitted', 'unknown'];

const sqlList = (statuses: readonly SubmissionStatus[]) => statuses.map((s) => `'${s}'`).join(', ');
/** SQL list of HOLDING_STATUSES, for statements that must agree with the unique index. */
export const HOLDING_SQL = sqlList(HOLDING_STATUSES);
/** SQL list of IN_DOUBT_STATUSES. */
export const IN_DOUBT_SQL = sqlList(IN_DOUBT_STATUSES);
/** SQL list of OPEN_STATUSES: rows a job still has to settle. */
export const OPEN_SQL = sqlList(OPEN_STATUSES);
/** SQL list of RESUBMITTABLE_STATUSES. */
export const RESUBMITTABLE_SQL = sqlList(RESUBMITTABLE_STATUSES);

/**
 * The listing's life after 'submitted' (sql/075_listing_lifecycle.sql, functions/lifecycle/): the row's status
 * stays 'submitted' (the submission's outcome) and its `lifecycle` says what became of the listing. NULL
 * until the row is submitted and entered.
 */
export const LISTING_STATES = [
  'pending_verification',
  'under_review',
  'live',
  'not_found',
  'rejected',
] as const;
export type ListingState = (typeof LISTING_STATES)[number];
/** Waiting for the directory: looked up at the recheck ages (next_check_at set). */
export const WAITING_LISTING_STATES: readonly ListingState[] = ['pending_verification', 'under_review'];

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
  // A select step found its element but no option to choose: the customer's category has no option on this
  // directory (no map entry, no option similar enough, no default: functions/shared/categories.ts), or, for
  // any other select, the value is not among the options. The row is needs_manual: a person picks the
  // option. Never selector_drift: the site did not change, so drift alarms and directory health ignore it.
  'category_unmapped',
  'option_unmapped',
] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

/**
 * Why a row was settled 'skipped' (evidence.skip), so a retry knows which skips it may undo:
 *   held       another row holds this (customer, directory): undone once it no longer does;
 *   inactive   the directory was deactivated while the job waited: undone once it is active again;
 *   directory_paused  the directory's daily health check (or its submissions) found its form drifted and
 *              paused it (functions/directories/health.ts): undone by a retry once an admin unpaused it;
 *   cancelled  the job was cancelled before this directory was attempted: undone by a retry;
 *   login      the directory wants an account (login wall): stays;
 *   person     a person resolving its task decided not to submit it (functions/shared/task-store.ts): stays.
 */
export type SkipReason = 'held' | 'inactive' | 'directory_paused' | 'cancelled' | 'login' | 'person';

/** The row that holds a (customer, directory): where a skipped row points. */
export interface Holder {
  submissionId: number;
  jobId: string;
  directoryId: string;
  status: SubmissionStatus;
}

/** `begin` found the (customer, directory) held by another row: nothing may be sent. */
export class SubmissionHeldError extends Error {
  override readonly name = 'SubmissionHeldError';
  constructor(readonly holder: Holder) {
    super(heldMessage(holder));
  }
}

/** The error text of a row skipped because its directory was inactive (a retry undoes it once active). */
export const INACTIVE_MESSAGE =
  'the directory is missing or inactive; a retry sends it once the directory is active again';

/** The error text of a row skipped because its directory is paused (a retry undoes it once unpaused). */
export const PAUSED_MESSAGE =
  'the directory is paused (its form changed: directory_paused); a retry sends it once an admin unpauses it';

/** The error text of a row skipped because another row holds its (customer, directory). */
export function heldMessage(holder: Pick<Holder, 'jobId' | 'directoryId' | 'status'>): string {
  return (
    `already ${holder.status} for this customer by job ${holder.jobId} (${holder.directoryId}); ` +
    'not sent again (POST /v1/jobs with resubmit sends it deliberately)'
  );
}

export type SettledStatus = Exclude<SubmissionStatus, 'prepared' | 'submitting' | 'unverified'>;

export interface Submission {
  id: number;
  jobId: string;
  customerId: string;
  directoryId: string;
  status: SubmissionStatus;
  attempt: number;
  errorClass: ErrorClass | null;
  error: string | null;
  evidence: Record<string, unknown>;
  /** A deliberate resubmission: the earlier row (of another job) it takes over at its submit click. */
  resubmits: number | null;
  /** Set on a row a deliberate resubmission took over; such a row holds nothing any more. */
  supersededBy: number | null;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
  /** What became of the listing (a submitted row only; NULL before it enters the lifecycle). */
  lifecycle: ListingState | null;
  /** Where the directory shows the listing, once a lookup found it. */
  listingUrl: string | null;
  /** The last lookup of the listing, and when the next is due (NULL once the listing is settled). */
  lifecycleCheckedAt: string | null;
  nextCheckAt: string | null;
  /** Lookups of the listing so far. */
  checks: number;
}

export interface Settlement {
  status: SettledStatus;
  errorClass?: ErrorClass | null;
  error?: string | null;
  evidence?: Record<string, unknown>;
}

export interface SubmissionLedger {
  forJob(jobId: string): Promise<Submission[]>;
  /**
   * prepared → submitting, immediately before the click; returns the attempt number, or undefined if not
   * allowed (fence or state). Throws SubmissionHeldError when another row holds the (customer, directory):
   * the database refused the transition, so nothing may be sent. A resubmission takes over the row it
   * names in the same transaction.
   */
  begin(claim: Claim, directoryId: string): Promise<number | undefined>;
  /** prepared|submitting|unverified → a settled status; false if not allowed (fence or state). */
  settle(claim: Claim, directoryId: string, settlement: Settlement): Promise<boolean>;
  /**
   * submitting → prepared, only when the worker proves the submit click never started (its time budget ran
   * out between `begin` and the click); any doubt keeps the row 'submitting'. False if not allowed.
   */
  revert(claim: Claim, directoryId: string): Promise<boolean>;
  /**
   * submitting|unverified → prepared after the directory's lookup said the listing is certainly not there:
   * the row is sent normally next. `evidence` (the lookup) is kept on the row. False if not allowed.
   */
  reopen(claim: Claim, directoryId: string, evidence: Record<string, unknown>): Promise<boolean>;
  /**
   * The row of another job that holds this row's (customer, directory), if any: a row that may have been
   * sent or was, not superseded, and not the settled row this one deliberately resubmits. The worker skips a
   * held row before visiting the site; `begin` is what guarantees it.
   */
  holder(jobId: string, directoryId: string): Promise<Holder | undefined>;
}

interface SubmissionRow {
  id: number;
  job_id: string;
  customer_id: string;
  directory_id: string;
  status: SubmissionStatus;
  attempt: number;
  error_class: ErrorClass | null;
  error: string | null;
  evidence: Record<string, unknown>;
  resubmits: number | null;
  superseded_by: number | null;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
  lifecycle: ListingState | null;
  listing_url: string | null;
  lifecycle_checked_at: Date | null;
  next_check_at: Date | null;
  checks: number;
}

export const SUBMISSION_COLUMNS =
  'id, job_id, customer_id, directory_id, status, attempt, error_class, error, evidence, resubmits, superseded_by, started_at, finished_at, updated_at, ' +
  'lifecycle, listing_url, lifecycle_checked_at, next_check_at, checks';

export function toSubmission(r: SubmissionRow): Submission {
  return {
    id: r.id,
    jobId: r.job_id,
    customerId: r.customer_id,
    directoryId: r.directory_id,
    status: r.status,
    attempt: r.attempt,
    errorClass: r.error_class,
    error: r.error,
    evidence: r.evidence,
    resubmits: r.resubmits,
    supersededBy: r.superseded_by,
    startedAt: r.started_at?.toISOString() ?? null,
    finishedAt: r.finished_at?.toISOString() ?? null,
    updatedAt: r.updated_at.toISOString(),
    lifecycle: r.lifecycle,
    listingUrl: r.listing_url,
    lifecycleCheckedAt: r.lifecycle_checked_at?.toISOString() ?? null,
    nextCheckAt: r.next_check_at?.toISOString() ?? null,
    checks: r.checks,
  };
}

/** Longest error text kept in the ledger (a site's validation message, an exception message). */
export const MAX_ERROR_LENGTH = 2_000;

/** The fenced CTE every worker transition starts from: the job, if this claim still owns it. */
const FENCE = `fence AS (
  SELECT id FROM jobs WHERE id = $1 AND fencing_token = $2 AND status = 'in_progress' FOR SHARE
)`;

/** Whether a database error is the once-per-business index refusing a second holder. */
function isHeldViolation(err: unknown): boolean {
  const e = err as { code?: string; constraint?: string };
  return e?.code === '23505' && e.constraint === 'submissions_once_idx';
}

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
    for (let tries = 0; ; tries++) {
      try {
        return await this.beginOnce(claim, directoryId);
      } catch (err) {
        if (!isHeldViolation(err)) throw err;
        const holder = await this.holder(claim.jobId, directoryId);
        if (holder) throw new SubmissionHeldError(holder);
        // The holder settled or was superseded between the two statements: one more go decides it.
        if (tries >= 1) throw err;
      }
    }
  }

  private async beginOnce(claim: Claim, directoryId: string): Promise<number | undefined> {
    return this.sql
      .transaction(async (tx) => {
        // A resubmission first takes over the row it names (settled, still holding), so the index sees one
        // holder; the takeover is rolled back with everything else if the row below cannot begin.
        const taken = await tx.query<{ job_id: string; id: number; by: number }>(
          `WITH ${FENCE}, me AS (
             SELECT s.id, s.resubmits FROM submissions s, fence
             WHERE s.job_id = fence.id AND s.directory_id = $3 AND s.status = 'prepared' AND s.resubmits IS NOT NULL
           )
           UPDATE submissions o SET superseded_by = me.id
           FROM me
           WHERE o.id = me.resubmits AND o.superseded_by IS NULL AND o.status IN (${RESUBMITTABLE_SQL})
           RETURNING o.job_id, o.id, me.id AS by`,
          [claim.jobId, claim.fencingToken, directoryId],
        );
        const { rows } = await tx.query<{ attempt: number }>(
          `WITH ${FENCE}
           UPDATE submissions s SET status = 'submitting', attempt = s.attempt + 1, started_at = now(),
                  error = NULL, error_class = NULL
           FROM fence
           WHERE s.job_id = fence.id AND s.directory_id = $3 AND s.status = 'prepared'
           RETURNING s.attempt`,
          [claim.jobId, claim.fencingToken, directoryId],
        );
        const attempt = rows[0]?.attempt;
        if (attempt === undefined) throw new NotBegun();
        for (const old of taken.rows) {
          await tx.query(`INSERT INTO job_events (job_id, type, detail) VALUES ($1, 'superseded', $2)`, [
            old.job_id,
            { directoryId, submissionId: old.id, by: { jobId: claim.jobId, submissionId: old.by } },
          ]);
        }
        return attempt;
      })
      .catch((err: unknown) => {
        if (err instanceof NotBegun) return undefined;
        throw err;
      });
  }

  async holder(jobId: string, directoryId: string): Promise<Holder | undefined> {
    const { rows } = await this.sql.query<{ id: number; job_id: string; status: SubmissionStatus }>(
      `SELECT h.id, h.job_id, h.status FROM submissions me
       JOIN submissions h ON h.customer_id = me.customer_id AND h.directory_id = me.directory_id
       WHERE me.job_id = $1 AND me.directory_id = $2 AND h.id <> me.id
         AND h.superseded_by IS NULL AND h.status IN (${HOLDING_SQL})
         -- the settled row a resubmission names does not stop it: the resubmission takes it over
         AND NOT (h.id IS NOT DISTINCT FROM me.resubmits AND h.status IN (${RESUBMITTABLE_SQL}))
       LIMIT 1`,
      [jobId, directoryId],
    );
    const row = rows[0];
    return row ? { submissionId: row.id, jobId: row.job_id, directoryId, status: row.status } : undefined;
  }

  async settle(claim: Claim, directoryId: string, settlement: Settlement): Promise<boolean> {
    const { rowCount } = await this.sql.query(
      `WITH ${FENCE}
       UPDATE submissions s SET status = $4, error_class = $5, error = $6, evidence = s.evidence || $7::jsonb,
              finished_at = now()
       FROM fence
       WHERE s.job_id = fence.id AND s.directory_id = $3 AND s.status IN ('prepared', 'submitting', 'unverified')`,
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
      `WITH ${FENCE}
       UPDATE submissions s SET status = 'prepared', started_at = NULL
       FROM fence
       WHERE s.job_id = fence.id AND s.directory_id = $3 AND s.status = 'submitting'`,
      [claim.jobId, claim.fencingToken, directoryId],
    );
    return rowCount === 1;
  }

  async reopen(claim: Claim, directoryId: string, evidence: Record<string, unknown>): Promise<boolean> {
    const { rowCount } = await this.sql.query(
      `WITH ${FENCE}
       UPDATE submissions s SET status = 'prepared', started_at = NULL, error = NULL, error_class = NULL,
              evidence = s.evidence || $4::jsonb
       FROM fence
       WHERE s.job_id = fence.id AND s.directory_id = $3 AND s.status IN ('submitting', 'unverified')`,
      [claim.jobId, claim.fencingToken, directoryId, evidence],
    );
    return rowCount === 1;
  }
}

/** Thrown inside begin's transaction to roll back a takeover when the row itself could not begin. */
class NotBegun extends Error {}

/** Per-status counts of a job's ledger, for progress and the job's final summary. */
export function countByStatus(
  submissions: readonly Pick<Submission, 'status'>[],
): Record<SubmissionStatus, number> {
  const counts = Object.fromEntries(SUBMISSION_STATUSES.map((s) => [s, 0])) as Record<
    SubmissionStatus,
    number
  >;
  for (const s of submissions) counts[s.status] += 1;
  return counts;
}
