/**
 * The listing lifecycle in Postgres (sql/075_listing_lifecycle.sql): entering it, claiming the listings due
 * for a lookup, and recording what a lookup decided (lifecycle-rules.ts).
 *
 * Every write is one statement that moves a row only from the state it read (its `lifecycle` and its
 * `checks`, the version every lookup raises), and a change of state writes its job_events row
 * ('listing.<state>': submission, directory, from, to, listing URL, checks, reason) in the same statement,
 * so a change happens exactly once and is always on record. Claiming takes due rows with FOR UPDATE SKIP
 * LOCKED and leases them (next_check_at moves past the run), so overlapping runs share the work and a run
 * that dies leaves its rows due again after the lease; no session state, so it works behind a pooler.
 *
 * `enter` is the one way into the lifecycle: the worker calls it when it settles a row 'submitted', and each
 * recheck run enters (in bounded batches) any submitted row that is not in it yet: one the worker settled
 * but died before entering, one settled before the lifecycle existed, or one resolved 'submitted' later by
 * other means (a person).
 */
import type { Sql } from '#shared/db';
import type { ListingState } from '#shared/submission-ledger';
import type { LifecycleStep, LifecycleTiming } from './lifecycle-rules.ts';

/** A listing claimed for a lookup: the row as the claim read it (what the write will be fenced on). */
export interface DueListing {
  submissionId: number;
  jobId: string;
  customerId: string;
  directoryId: string;
  lifecycle: 'pending_verification' | 'under_review';
  checks: number;
  inconclusiveChecks: number;
  submittedAt: Date;
}

/** A change of lifecycle state, as its job event records it. */
export interface ListingEventDetail {
  submissionId: number;
  directoryId: string;
  from: ListingState | null;
  to: ListingState;
  listingUrl: string | null;
  checks: number;
  reason: string;
  checkedAt: string | null;
  nextCheckAt: string | null;
}

/** The job event type of a move into `state`. */
export const listingEventType = (state: ListingState) => `listing.${state}`;

export interface ListingLifecycle {
  /**
   * Enters the row of (job, directory) into the lifecycle if it is 'submitted' and not in it yet: it is
   * under review, first looked up at the first recheck age after its submission. True if this call
   * entered it (false: not submitted, already entered, or superseded).
   */
  enter(jobId: string, directoryId: string): Promise<boolean>;
  /** Enters up to `limit` submitted rows that are not in the lifecycle; how many it entered. */
  enterMissing(limit: number): Promise<number>;
  /**
   * Claims up to `limit` listings due at `now` (oldest due first, skipping rows another run holds), leasing
   * each until `now` + leaseSeconds.
   */
  claimDue(now: Date, limit: number, leaseSeconds: number): Promise<DueListing[]>;
  /**
   * Records a lookup's decision on the row it was made for: one statement, only if the row is still in the
   * state (and at the version) `row` read, with its job event when the state changed. False if refused.
   */
  record(row: DueListing, step: LifecycleStep, checkedAt: Date): Promise<boolean>;
  /** Gives a claimed row back unlooked-up (its site was busy, the run ran out of time): due at `dueAt`. */
  release(row: DueListing, dueAt: Date): Promise<boolean>;
}

interface DueRow {
  id: number;
  job_id: string;
  customer_id: string;
  directory_id: string;
  lifecycle: 'pending_verification' | 'under_review';
  checks: number;
  inconclusive_checks: number;
  finished_at: Date | null;
  updated_at: Date;
}

/**
 * Enters the rows `target` selects (a condition on `s`, parameters from $3) into the lifecycle: $1 the
 * first recheck age in seconds, $2 the state they enter, unless their directory's definition expects a
 * verification mail (`verification`): those wait for it as 'pending_verification' (functions/mail/). One
 * statement with their events.
 */
const enterSql = (target: string) => `WITH entered AS (
    UPDATE submissions s
       SET lifecycle = CASE WHEN EXISTS (
             SELECT 1 FROM directories d WHERE d.id = s.directory_id AND d.definition ? 'verification')
           THEN 'pending_verification' ELSE $2 END,
           checks = 0, inconclusive_checks = 0,
           next_check_at = COALESCE(s.finished_at, now()) + make_interval(secs => $1::float8)
     WHERE ${target} AND s.status = 'submitted' AND s.lifecycle IS NULL AND s.superseded_by IS NULL
    RETURNING s.id, s.job_id, s.directory_id, s.lifecycle, s.next_check_at
  ), events AS (
    INSERT INTO job_events (job_id, type, detail)
    SELECT job_id, 'listing.' || lifecycle, jsonb_build_object(
             'submissionId', id, 'directoryId', directory_id, 'from', NULL, 'to', lifecycle,
             'listingUrl', NULL, 'checks', 0, 'reason', CASE lifecycle
               WHEN 'pending_verification' THEN 'submitted: waiting for the directory''s verification mail'
               ELSE 'submitted: waiting for the directory to publish it' END,
             'checkedAt', NULL, 'nextCheckAt', next_check_at)
    FROM entered
  )
  SELECT count(*)::int AS n FROM entered`;

const ENTER_ONE_SQL = enterSql('s.job_id = $3 AND s.directory_id = $4');
const ENTER_MISSING_SQL = enterSql(`s.id IN (
    SELECT id FROM submissions
     WHERE status = 'submitted' AND lifecycle IS NULL AND superseded_by IS NULL
     ORDER BY id LIMIT $3
     FOR UPDATE SKIP LOCKED)`);

const CLAIM_SQL = `WITH due AS (
    SELECT id FROM submissions
     WHERE next_check_at <= $1 AND superseded_by IS NULL
     ORDER BY next_check_at
     LIMIT $2
     FOR UPDATE SKIP LOCKED
  )
  UPDATE submissions s SET next_check_at = $1::timestamptz + make_interval(secs => $3::float8)
    FROM due
   WHERE s.id = due.id
  RETURNING s.id, s.job_id, s.customer_id, s.directory_id, s.lifecycle, s.checks, s.inconclusive_checks,
            s.finished_at, s.updated_at`;

/**
 * $1 id, $2 the state read, $3 the checks read, $4 the new state, $5 inconclusive in a row, $6 next check,
 * $7 checked at, $8 listing URL (kept if NULL), $9 the lookup for the row's evidence, $10 the event detail
 * (written only when the state changed).
 */
const RECORD_SQL = `WITH moved AS (
    UPDATE submissions s
       SET lifecycle = $4, checks = s.checks + 1, inconclusive_checks = $5, next_check_at = $6,
           lifecycle_checked_at = $7, listing_url = COALESCE($8, s.listing_url),
           evidence = s.evidence || jsonb_build_object('lifecycle', $9::jsonb)
     WHERE s.id = $1 AND s.lifecycle = $2 AND s.checks = $3 AND s.superseded_by IS NULL
    RETURNING s.job_id
  ), events AS (
    INSERT INTO job_events (job_id, type, detail)
    SELECT job_id, 'listing.' || $4, $10::jsonb FROM moved WHERE $4 <> $2
  )
  SELECT count(*)::int AS n FROM moved`;

export class PgListingLifecycle implements ListingLifecycle {
  constructor(
    private readonly sql: Pick<Sql, 'query'>,
    private readonly timing: Pick<LifecycleTiming, 'agesSeconds'>,
  ) {}

  private get firstAgeSeconds(): number {
    return this.timing.agesSeconds[0] ?? 0;
  }

  async enter(jobId: string, directoryId: string): Promise<boolean> {
    const { rows } = await this.sql.query<{ n: number }>(ENTER_ONE_SQL, [
      this.firstAgeSeconds,
      'under_review',
      jobId,
      directoryId,
    ]);
    return (rows[0]?.n ?? 0) === 1;
  }

  async enterMissing(limit: number): Promise<number> {
    const { rows } = await this.sql.query<{ n: number }>(ENTER_MISSING_SQL, [
      this.firstAgeSeconds,
      'under_review',
      limit,
    ]);
    return rows[0]?.n ?? 0;
  }

  async claimDue(now: Date, limit: number, leaseSeconds: number): Promise<DueListing[]> {
    const { rows } = await this.sql.query<DueRow>(CLAIM_SQL, [now, limit, leaseSeconds]);
    return rows.map((r) => ({
      submissionId: r.id,
      jobId: r.job_id,
      customerId: r.customer_id,
      directoryId: r.directory_id,
      lifecycle: r.lifecycle,
      checks: r.checks,
      inconclusiveChecks: r.inconclusive_checks,
      submittedAt: r.finished_at ?? r.updated_at,
    }));
  }

  async record(row: DueListing, step: LifecycleStep, checkedAt: Date): Promise<boolean> {
    const detail: ListingEventDetail = {
      submissionId: row.submissionId,
      directoryId: row.directoryId,
      from: row.lifecycle,
      to: step.to,
      listingUrl: step.listingUrl,
      checks: row.checks + 1,
      reason: step.reason,
      checkedAt: checkedAt.toISOString(),
      nextCheckAt: step.nextCheckAt?.toISOString() ?? null,
    };
    const { rows } = await this.sql.query<{ n: number }>(RECORD_SQL, [
      row.submissionId,
      row.lifecycle,
      row.checks,
      step.to,
      step.inconclusiveChecks,
      step.nextCheckAt,
      checkedAt,
      step.listingUrl,
      { reason: step.reason, checkedAt: detail.checkedAt, checks: detail.checks },
      detail,
    ]);
    return (rows[0]?.n ?? 0) === 1;
  }

  async release(row: DueListing, dueAt: Date): Promise<boolean> {
    const { rowCount } = await this.sql.query(
      `UPDATE submissions SET next_check_at = $4
        WHERE id = $1 AND lifecycle = $2 AND checks = $3 AND next_check_at IS NOT NULL`,
      [row.submissionId, row.lifecycle, row.checks, dueAt],
    );
    return rowCount === 1;
  }
}
