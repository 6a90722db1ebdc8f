/**
 * Postgres side of e-mail verification (sql/100_inbound_mail.sql): the per-(job, directory) aliases the
 * worker types, and the inbound_mail record of every mail mail-inbound was handed, once per message, with
 * its outcome. A mail matched to a job also writes a job event (`mail.<outcome>`) in the same statement as
 * its outcome, so the job's history says what its verification mail came to.
 */
import type { DueListing } from '#functions/lifecycle/listing-lifecycle';
import type { Sql } from '#shared/db';
import type { SubmissionStatus } from '#shared/submission-ledger';
import { newAlias } from './alias.ts';

export type MailOutcome = 'processing' | 'confirmed' | 'unconfirmed' | 'refused' | 'early';
export type MailRefusal =
  | 'unknown_alias'
  | 'not_our_domain'
  | 'too_large'
  | 'malformed'
  | 'not_verification'
  | 'no_link'
  | 'link_host'
  | 'not_pending'
  | 'visit_failed'
  | 'no_definition';

/** A mail's final word: what it came to, and what we know of it. */
export interface MailRecord {
  outcome: Exclude<MailOutcome, 'processing'>;
  reason?: MailRefusal;
  /** In words, for a person (never the link, never the body). */
  detail: string;
  recipient?: string | undefined;
  sender?: string | undefined;
  subject?: string | undefined;
  sizeBytes?: number | undefined;
  jobId?: string | undefined;
  directoryId?: string | undefined;
  submissionId?: number | undefined;
  linkHost?: string | undefined;
  visited?: boolean;
}

/** The submission a verification mail is for, as the lifecycle's fenced write needs it. */
export interface MailListing extends DueListing {
  status: SubmissionStatus;
  lifecycleState: DueListing['lifecycle'] | 'live' | 'not_found' | 'rejected' | null;
  nextCheckAt: Date | null;
}

export interface MailStore {
  /** The alias of (job, directory), made on first use and the same ever after. */
  aliasFor(jobId: string, directoryId: string): Promise<string>;
  /** Who an alias belongs to. */
  findAlias(alias: string): Promise<{ jobId: string; directoryId: string } | undefined>;
  /**
   * Takes a message for handling: its row (made 'processing' if new), tries raised by one. Returns the
   * outcome it already had: a final one ('confirmed', 'unconfirmed', 'refused') means it was handled before.
   */
  begin(messageId: string, objectKey: string): Promise<{ previous: MailOutcome | undefined; tries: number }>;
  /** Records a message's outcome (and its job event when it names a job). */
  finish(messageId: string, record: MailRecord): Promise<void>;
  /** The current (not superseded) submission of (job, directory). */
  listing(jobId: string, directoryId: string): Promise<MailListing | undefined>;
}

const clip = (s: string | undefined, max: number) => (s === undefined ? null : s.slice(0, max));

const FINISH_SQL = `WITH done AS (
    UPDATE inbound_mail SET outcome = $2, reason = $3, detail = $4, recipient = COALESCE($5, recipient),
           sender = $6, subject = $7, size_bytes = $8, job_id = $9, directory_id = $10, submission_id = $11,
           link_host = $12, visited = $13, updated_at = now()
     WHERE message_id = $1
    RETURNING id, job_id, directory_id, submission_id, outcome, reason, detail, link_host, visited
  ), events AS (
    INSERT INTO job_events (job_id, type, detail)
    SELECT job_id, 'mail.' || outcome, jsonb_build_object('mailId', id, 'directoryId', directory_id,
             'submissionId', submission_id, 'reason', reason, 'detail', detail, 'linkHost', link_host,
             'visited', visited)
      FROM done WHERE job_id IS NOT NULL
  )
  SELECT count(*)::int AS n FROM done`;

export class PgMailStore implements MailStore {
  constructor(private readonly sql: Pick<Sql, 'query'>) {}

  async aliasFor(jobId: string, directoryId: string): Promise<string> {
    // ON CONFLICT DO UPDATE (a no-op) so the existing row is returned by the same statement.
    const { rows } = await this.sql.query<{ alias: string }>(
      `INSERT INTO mail_aliases (alias, job_id, directory_id) VALUES ($1, $2, $3)
       ON CONFLICT (job_id, directory_id) DO UPDATE SET job_id = mail_aliases.job_id
       RETURNING alias`,
      [newAlias(), jobId, directoryId],
    );
    const alias = rows[0]?.alias;
    if (!alias) throw new Error('mail_aliases returned no alias');
    return alias;
  }

  async findAlias(alias: string): Promise<{ jobId: string; directoryId: string } | undefined> {
    const { rows } = await this.sql.query<{ job_id: string; directory_id: string }>(
      'SELECT job_id, directory_id FROM mail_aliases WHERE alias = $1',
      [alias],
    );
    const row = rows[0];
    return row ? { jobId: row.job_id, directoryId: row.directory_id } : undefined;
  }

  async begin(
    messageId: string,
    objectKey: string,
  ): Promise<{ previous: MailOutcome | undefined; tries: number }> {
    const { rows } = await this.sql.query<{ previous: MailOutcome | null; tries: number }>(
      `WITH before AS (SELECT outcome FROM inbound_mail WHERE message_id = $1)
       INSERT INTO inbound_mail (message_id, object_key, outcome, tries) VALUES ($1, $2, 'processing', 1)
       ON CONFLICT (message_id) DO UPDATE SET tries = inbound_mail.tries + 1, updated_at = now()
       RETURNING (SELECT outcome FROM before) AS previous, tries`,
      [messageId, objectKey],
    );
    return { previous: rows[0]?.previous ?? undefined, tries: rows[0]?.tries ?? 1 };
  }

  async finish(messageId: string, r: MailRecord): Promise<void> {
    await this.sql.query(FINISH_SQL, [
      messageId,
      r.outcome,
      r.reason ?? null,
      clip(r.detail, 500),
      clip(r.recipient, 320),
      clip(r.sender, 320),
      clip(r.subject, 200),
      r.sizeBytes ?? null,
      r.jobId ?? null,
      r.directoryId ?? null,
      r.submissionId ?? null,
      clip(r.linkHost, 255),
      r.visited ?? false,
    ]);
  }

  async listing(jobId: string, directoryId: string): Promise<MailListing | undefined> {
    const { rows } = await this.sql.query<{
      id: number;
      job_id: string;
      customer_id: string;
      directory_id: string;
      status: SubmissionStatus;
      lifecycle: MailListing['lifecycleState'];
      checks: number;
      inconclusive_checks: number;
      finished_at: Date | null;
      updated_at: Date;
      next_check_at: Date | null;
    }>(
      `SELECT id, job_id, customer_id, directory_id, status, lifecycle, checks, inconclusive_checks,
              finished_at, updated_at, next_check_at
         FROM submissions WHERE job_id = $1 AND directory_id = $2 AND superseded_by IS NULL`,
      [jobId, directoryId],
    );
    const r = rows[0];
    if (!r) return undefined;
    return {
      submissionId: Number(r.id),
      jobId: r.job_id,
      customerId: r.customer_id,
      directoryId: r.directory_id,
      status: r.status,
      lifecycleState: r.lifecycle,
      lifecycle: r.lifecycle === 'under_review' ? 'under_review' : 'pending_verification',
      checks: r.checks,
      inconclusiveChecks: r.inconclusive_checks,
      submittedAt: r.finished_at ?? r.updated_at,
      nextCheckAt: r.next_check_at,
    };
  }
}
