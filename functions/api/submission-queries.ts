/** Ledger rows for GET /v1/submissions: by job or by customer, keyset on the ledger row id. */
import type { Sql } from '#shared/db';
import type { ListingState, Submission, SubmissionStatus } from '#shared/submission-ledger';

/**
 * What became of a submitted listing, as the API shows it beside the ledger row (GET /v1/jobs/{id} results,
 * GET /v1/submissions): its lifecycle state, where it lives once found, the last lookup and what it said,
 * and when the next is due.
 */
export interface ListingView {
  lifecycle: ListingState | null;
  listingUrl: string | null;
  lifecycleReason: string | null;
  lifecycleCheckedAt: string | null;
  nextCheckAt: string | null;
}

/** The listing view of a ledger row (its last lookup's reason is kept in evidence.lifecycle). */
export function listingView(
  s: Pick<Submission, 'lifecycle' | 'listingUrl' | 'lifecycleCheckedAt' | 'nextCheckAt' | 'evidence'>,
): ListingView {
  const reason = (s.evidence.lifecycle as { reason?: unknown } | undefined)?.reason;
  return {
    lifecycle: s.lifecycle,
    listingUrl: s.listingUrl,
    lifecycleReason: typeof reason === 'string' ? reason : null,
    lifecycleCheckedAt: s.lifecycleCheckedAt,
    nextCheckAt: s.nextCheckAt,
  };
}

export interface SubmissionListFilter {
  jobId?: string;
  customerId?: string;
  status?: SubmissionStatus;
  lifecycle?: ListingState;
  limit: number;
  /** Keyset: the ledger row id of the last row of the previous page. */
  afterId?: string;
}

export interface SubmissionView extends ListingView {
  jobId: string;
  customerId: string;
  directoryId: string;
  status: SubmissionStatus;
  attempt: number;
  errorClass: string | null;
  error: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
}

export interface SubmissionQueries {
  /** The page, each row with its ledger id (`id`, which the API does not show: its proofs are looked up by it). */
  list(
    filter: SubmissionListFilter,
  ): Promise<{ submissions: (SubmissionView & { id: number })[]; next: string | null }>;
}

/** A ledger row as the view reads it (snake_case columns; timestamps as Dates). */
export interface SubmissionViewRow {
  id: number;
  job_id: string;
  customer_id: string;
  directory_id: string;
  status: SubmissionStatus;
  attempt: number;
  error_class: string | null;
  error: string | null;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
  lifecycle: ListingState | null;
  listing_url: string | null;
  lifecycle_checked_at: Date | null;
  next_check_at: Date | null;
  lifecycle_evidence: Record<string, unknown> | null;
}

/** A ledger row as the API shows it: GET /v1/submissions items and the data of submission webhook events. */
export function submissionView(r: Omit<SubmissionViewRow, 'id'>): SubmissionView {
  return {
    jobId: r.job_id,
    customerId: r.customer_id,
    directoryId: r.directory_id,
    status: r.status,
    attempt: r.attempt,
    errorClass: r.error_class,
    error: r.error,
    startedAt: r.started_at?.toISOString() ?? null,
    finishedAt: r.finished_at?.toISOString() ?? null,
    updatedAt: r.updated_at.toISOString(),
    ...listingView({
      lifecycle: r.lifecycle,
      listingUrl: r.listing_url,
      lifecycleCheckedAt: r.lifecycle_checked_at?.toISOString() ?? null,
      nextCheckAt: r.next_check_at?.toISOString() ?? null,
      evidence: r.lifecycle_evidence ? { lifecycle: r.lifecycle_evidence } : {},
    }),
  };
}

export class PgSubmissionQueries implements SubmissionQueries {
  constructor(private readonly sql: Sql) {}

  async list(filter: SubmissionListFilter) {
    const { rows } = await this.sql.query<SubmissionViewRow>(
      `SELECT s.id, s.job_id, j.customer_id, s.directory_id, s.status, s.attempt, s.error_class, s.error,
              s.started_at, s.finished_at, s.updated_at, s.lifecycle, s.listing_url, s.lifecycle_checked_at,
              s.next_check_at, s.evidence -> 'lifecycle' AS lifecycle_evidence
       FROM submissions s JOIN jobs j ON j.id = s.job_id
       WHERE ($1::uuid IS NULL OR s.job_id = $1)
         AND ($2::uuid IS NULL OR j.customer_id = $2)
         AND ($3::text IS NULL OR s.status = $3)
         AND ($4::bigint IS NULL OR s.id > $4)
         AND ($6::text IS NULL OR s.lifecycle = $6)
       ORDER BY s.id
       LIMIT $5`,
      [
        filter.jobId ?? null,
        filter.customerId ?? null,
        filter.status ?? null,
        filter.afterId ?? null,
        filter.limit + 1,
        filter.lifecycle ?? null,
      ],
    );
    const page = rows.slice(0, filter.limit);
    return {
      submissions: page.map((r) => ({ id: Number(r.id), ...submissionView(r) })),
      next: rows.length > filter.limit ? String(page.at(-1)?.id) : null,
    };
  }
}
