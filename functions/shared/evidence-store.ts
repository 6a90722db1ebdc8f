/**
 * Proof per submission, in Postgres (sql/070_submission_proof.sql): for each submit click of a ledger row its
 * facts (final URL, HTTP status, the indicator that decided it, the SHA-256 of what was typed) and its
 * screenshots' keys in the records bucket with their state: pending → stored, or lost (never claimed stored).
 *
 * The bytes of a screenshot whose upload failed are kept in the row (`body`) until the stale-jobs run
 * uploads them: Postgres is the one store here that outlives the worker's container (Lambda's /tmp does not).
 * Keeping is bounded by EVIDENCE.pendingMaxBytes; past it, and when the bytes went with their worker, the
 * object is recorded lost, with the reason.
 */

import type { Sql } from '#shared/db';
import { recordsPrefix } from '#shared/object-store';

export const EVIDENCE_KINDS = ['form', 'result'] as const;
/** form: the filled form just before the submit click; result: the page the submission ended on. */
export type EvidenceKind = (typeof EVIDENCE_KINDS)[number];
export const EVIDENCE_STATES = ['pending', 'stored', 'lost'] as const;
export type EvidenceState = (typeof EVIDENCE_STATES)[number];

export const MATCHED_KINDS = ['success', 'failure', 'captcha', 'loginWall'] as const;
/** A definition's indicator list (FormDefinition.success, .failure, .captcha, .loginWall). */
export type MatchedKind = (typeof MATCHED_KINDS)[number];
/** The indicator that decided an outcome: its list, and its index there (null: a built-in captcha). */
export interface MatchedIndicator {
  kind: MatchedKind;
  index: number | null;
}

export interface ProofFacts {
  capturedAt: string;
  finalUrl: string | null;
  httpStatus: number | null;
  matched: MatchedIndicator | null;
  /** SHA-256 (hex) of the canonical JSON of the values typed and selected. */
  typedSha256: string;
  /** Screenshots not taken, and why. */
  notTaken: Partial<Record<EvidenceKind, string>>;
  /** The option chosen for the customer's category and how (absent or null: no category select). */
  category?: ProofCategory | null;
}

/** The category choice of a click (functions/shared/categories.ts), as its proof keeps it. */
export interface ProofCategory {
  asked: string;
  category: string | null;
  via: 'map' | 'similarity' | 'default';
  value: string;
  label: string;
  group: string | null;
  /** With via similarity: the likeness (0..1) that chose it. */
  score?: number;
}

export interface EvidenceObjectSpec {
  key: string;
  kind: EvidenceKind;
  contentType: string;
  sizeBytes: number;
  sha256: string;
}

export interface StoredObject extends EvidenceObjectSpec {
  state: EvidenceState;
  lostReason: string | null;
  storedAt: string | null;
}

export interface StoredProof extends ProofFacts {
  submissionId: number;
  attempt: number;
  objects: StoredObject[];
}

/** A kept object due for another upload. */
export interface DueObject {
  key: string;
  body: Uint8Array;
  contentType: string;
  sha256: string;
  tries: number;
}

export interface EvidenceStore {
  /** The click's facts and its objects (pending); nothing if this attempt's proof is already recorded. */
  record(
    submissionId: number,
    attempt: number,
    facts: ProofFacts,
    objects: readonly EvidenceObjectSpec[],
  ): Promise<void>;
  /** The object is in S3 (whatever it was recorded as: the bucket's word wins). */
  markStored(key: string): Promise<void>;
  /**
   * Keeps the bytes of a pending object whose upload failed, due for another try after `retryInSeconds`;
   * 'lost' (recorded so) when keeping them would pass the pending ceiling; 'settled' if it is no longer
   * pending (stored meanwhile).
   */
  keep(
    key: string,
    body: Uint8Array,
    error: string,
    retryInSeconds: number,
  ): Promise<'kept' | 'lost' | 'settled'>;
  markLost(key: string, reason: string): Promise<void>;
  /** Kept objects due for a try, leased for `leaseSeconds` so a concurrent run does not take them too. */
  takeDue(limit: number, leaseSeconds: number): Promise<DueObject[]>;
  /**
   * Due again in `retryInSeconds`: after a failed try (tries + 1, its error), or, with `error` null, handed
   * back untried (a run that stopped early).
   */
  retryLater(key: string, error: string | null, retryInSeconds: number): Promise<void>;
  /** Keys pending for longer than `olderThanSeconds` with no bytes kept (their worker died before keeping). */
  unkept(olderThanSeconds: number, limit: number): Promise<string[]>;
  /** Every click's proof of these ledger rows, by row, oldest attempt first. */
  proofsOf(submissionIds: readonly number[]): Promise<Map<number, StoredProof[]>>;
}

/** `evidence/<customer>/<job>/<directory>/<attempt>/<kind>.jpg`. */
export function evidenceKey(parts: {
  customerId: string;
  jobId: string;
  directoryId: string;
  attempt: number;
  kind: EvidenceKind;
}): string {
  return `${recordsPrefix('evidence')}${parts.customerId}/${parts.jobId}/${parts.directoryId}/${parts.attempt}/${parts.kind}.jpg`;
}

/** Longest final URL kept (the column's CHECK). */
const MAX_URL_LENGTH = 2_048;
/** Longest upload error kept. */
const MAX_ERROR_LENGTH = 2_000;

interface ProofRow {
  submission_id: number;
  attempt: number;
  captured_at: Date;
  final_url: string | null;
  http_status: number | null;
  matched_kind: MatchedKind | null;
  matched_index: number | null;
  typed_sha256: string;
  not_taken: Partial<Record<EvidenceKind, string>>;
  category: ProofCategory | null;
  objects: Array<{
    key: string;
    kind: EvidenceKind;
    content_type: string;
    size_bytes: number;
    sha256: string;
    state: EvidenceState;
    lost_reason: string | null;
    stored_at: string | null;
  }>;
}

export interface PgEvidenceStoreOptions {
  /** The most bytes kept waiting for S3, all objects together. @default EVIDENCE.pendingMaxBytes (policy) */
  pendingMaxBytes: number;
}

export class PgEvidenceStore implements EvidenceStore {
  constructor(
    private readonly sql: Sql,
    private readonly options: PgEvidenceStoreOptions,
  ) {}

  async record(
    submissionId: number,
    attempt: number,
    facts: ProofFacts,
    objects: readonly EvidenceObjectSpec[],
  ): Promise<void> {
    // One statement: the facts, and the objects hanging off them (the foreign key is checked at its end).
    await this.sql.query(
      `WITH proof AS (
         INSERT INTO submission_proofs (submission_id, attempt, captured_at, final_url, http_status,
                                        matched_kind, matched_index, typed_sha256, not_taken, category)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $11)
         ON CONFLICT (submission_id, attempt) DO NOTHING
         RETURNING submission_id, attempt
       )
       INSERT INTO evidence_objects (key, submission_id, attempt, kind, content_type, size_bytes, sha256)
       SELECT o.key, proof.submission_id, proof.attempt, o.kind, o.content_type, o.size_bytes, o.sha256
       FROM proof, jsonb_to_recordset($10::jsonb)
            AS o(key text, kind text, content_type text, size_bytes integer, sha256 text)`,
      [
        submissionId,
        attempt,
        facts.capturedAt,
        facts.finalUrl?.slice(0, MAX_URL_LENGTH) ?? null,
        facts.httpStatus,
        facts.matched?.kind ?? null,
        facts.matched?.index ?? null,
        facts.typedSha256,
        facts.notTaken,
        JSON.stringify(
          objects.map((o) => ({
            key: o.key,
            kind: o.kind,
            content_type: o.contentType,
            size_bytes: o.sizeBytes,
            sha256: o.sha256,
          })),
        ),
        facts.category ? JSON.stringify(facts.category) : null,
      ],
    );
  }

  async markStored(key: string): Promise<void> {
    await this.sql.query(
      `UPDATE evidence_objects SET state = 'stored', stored_at = now(), body = NULL, lost_reason = NULL,
              next_try_at = NULL, last_error = NULL
       WHERE key = $1 AND state <> 'stored'`,
      [key],
    );
  }

  async keep(
    key: string,
    body: Uint8Array,
    error: string,
    retryInSeconds: number,
  ): Promise<'kept' | 'lost' | 'settled'> {
    return this.sql.transaction(async (tx) => {
      // Serialises keepers, so the ceiling holds against concurrent ones (a transaction-scoped lock).
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext('formfleet:evidence_objects:keep'))`);
      const kept = await tx.query(
        `UPDATE evidence_objects e
         SET body = $2::bytea, tries = e.tries + 1, last_error = $3,
             next_try_at = now() + make_interval(secs => $4)
         WHERE e.key = $1 AND e.state = 'pending' AND e.body IS NULL
           AND octet_length($2::bytea) = e.size_bytes
           AND (SELECT coalesce(sum(size_bytes), 0) FROM evidence_objects
                WHERE state = 'pending' AND body IS NOT NULL) + octet_length($2::bytea) <= $5`,
        [key, body, error.slice(0, MAX_ERROR_LENGTH), retryInSeconds, this.options.pendingMaxBytes],
      );
      if (kept.rowCount === 1) return 'kept';
      const lost = await tx.query(
        `UPDATE evidence_objects SET state = 'lost', body = NULL, next_try_at = NULL, last_error = $2,
                lost_reason = $3
         WHERE key = $1 AND state = 'pending' AND body IS NULL`,
        [
          key,
          error.slice(0, MAX_ERROR_LENGTH),
          `the upload failed and the bytes waiting for S3 had reached their ceiling (${this.options.pendingMaxBytes} bytes)`,
        ],
      );
      return lost.rowCount === 1 ? 'lost' : 'settled';
    });
  }

  async markLost(key: string, reason: string): Promise<void> {
    await this.sql.query(
      `UPDATE evidence_objects SET state = 'lost', lost_reason = $2, body = NULL, next_try_at = NULL
       WHERE key = $1 AND state = 'pending'`,
      [key, reason],
    );
  }

  async takeDue(limit: number, leaseSeconds: number): Promise<DueObject[]> {
    const { rows } = await this.sql.query<{
      key: string;
      body: Buffer;
      content_type: string;
      sha256: string;
      tries: number;
    }>(
      `UPDATE evidence_objects e SET next_try_at = now() + make_interval(secs => $2)
       WHERE e.key IN (
         SELECT key FROM evidence_objects
         WHERE state = 'pending' AND body IS NOT NULL AND next_try_at <= now()
         ORDER BY next_try_at
         LIMIT $1
         FOR UPDATE SKIP LOCKED
       )
       RETURNING e.key, e.body, e.content_type, e.sha256, e.tries`,
      [limit, leaseSeconds],
    );
    return rows.map((r) => ({
      key: r.key,
      body: r.body,
      contentType: r.content_type,
      sha256: r.sha256,
      tries: r.tries,
    }));
  }

  async retryLater(key: string, error: string | null, retryInSeconds: number): Promise<void> {
    await this.sql.query(
      `UPDATE evidence_objects e
       SET tries = e.tries + CASE WHEN $2::text IS NULL THEN 0 ELSE 1 END,
           last_error = coalesce($2, e.last_error), next_try_at = now() + make_interval(secs => $3)
       WHERE e.key = $1 AND e.state = 'pending'`,
      [key, error === null ? null : error.slice(0, MAX_ERROR_LENGTH), retryInSeconds],
    );
  }

  async unkept(olderThanSeconds: number, limit: number): Promise<string[]> {
    const { rows } = await this.sql.query<{ key: string }>(
      `SELECT key FROM evidence_objects
       WHERE state = 'pending' AND body IS NULL AND created_at < now() - make_interval(secs => $1)
       ORDER BY created_at
       LIMIT $2`,
      [olderThanSeconds, limit],
    );
    return rows.map((r) => r.key);
  }

  async proofsOf(submissionIds: readonly number[]): Promise<Map<number, StoredProof[]>> {
    const out = new Map<number, StoredProof[]>();
    if (submissionIds.length === 0) return out;
    const { rows } = await this.sql.query<ProofRow>(
      `SELECT p.submission_id, p.attempt, p.captured_at, p.final_url, p.http_status, p.matched_kind,
              p.matched_index, p.typed_sha256, p.not_taken, p.category,
              coalesce((SELECT jsonb_agg(jsonb_build_object(
                         'key', o.key, 'kind', o.kind, 'content_type', o.content_type,
                         'size_bytes', o.size_bytes, 'sha256', o.sha256, 'state', o.state,
                         'lost_reason', o.lost_reason, 'stored_at', o.stored_at) ORDER BY o.kind)
                        FROM evidence_objects o
                        WHERE o.submission_id = p.submission_id AND o.attempt = p.attempt), '[]'::jsonb)
                AS objects
       FROM submission_proofs p
       WHERE p.submission_id = ANY($1::bigint[])
       ORDER BY p.submission_id, p.attempt`,
      [submissionIds],
    );
    for (const r of rows) {
      const id = Number(r.submission_id);
      const list = out.get(id) ?? [];
      list.push({
        submissionId: id,
        attempt: r.attempt,
        capturedAt: r.captured_at.toISOString(),
        finalUrl: r.final_url,
        httpStatus: r.http_status,
        matched: r.matched_kind ? { kind: r.matched_kind, index: r.matched_index } : null,
        typedSha256: r.typed_sha256,
        notTaken: r.not_taken,
        ...(r.category ? { category: r.category } : {}),
        objects: r.objects.map((o) => ({
          key: o.key,
          kind: o.kind,
          contentType: o.content_type,
          sizeBytes: o.size_bytes,
          sha256: o.sha256,
          state: o.state,
          lostReason: o.lost_reason,
          storedAt: o.stored_at ? new Date(o.stored_at).toISOString() : null,
        })),
      });
      out.set(id, list);
    }
    return out;
  }
}
