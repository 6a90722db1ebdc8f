/**
 * The proof of ledger rows as the API shows it (GET /v1/jobs/{id}, GET /v1/submissions): per submit click
 * its facts and its two screenshots, each with its state and, once stored, a presigned GET URL that works
 * for EVIDENCE.presignedUrlSeconds. Callers reach this only after the visibility check (the owner key or an
 * admin), so a URL is never handed to anyone else; signing makes no request to S3.
 */
import {
  EVIDENCE_KINDS,
  type EvidenceKind,
  type EvidenceStore,
  type ProofCategory,
  type StoredProof,
} from '#shared/evidence-store';
import type { ObjectStore } from '#shared/object-store';

export interface ProofImageView {
  /** pending: not in S3 yet; stored: in S3 (url set); lost: never reached S3; not_taken: no screenshot. */
  state: 'pending' | 'stored' | 'lost' | 'not_taken';
  contentType: string | null;
  bytes: number | null;
  sha256: string | null;
  url: string | null;
  expiresAt: string | null;
  /** Why it is lost or was not taken. */
  reason: string | null;
}

export interface ProofView {
  attempt: number;
  capturedAt: string;
  finalUrl: string | null;
  httpStatus: number | null;
  matched: StoredProof['matched'];
  typedSha256: string;
  /** The option chosen for the customer's category and how (absent without a category select). */
  category?: ProofCategory;
  screenshots: Record<EvidenceKind, ProofImageView>;
}

/** Proofs of ledger rows by row id, with links: what the jobs and submissions APIs depend on. */
export interface ProofLinks {
  forSubmissions(submissionIds: readonly number[]): Promise<Map<number, ProofView[]>>;
}

export class PresignedProofLinks implements ProofLinks {
  constructor(
    private readonly store: Pick<EvidenceStore, 'proofsOf'>,
    private readonly objects: Pick<ObjectStore, 'presignGet'>,
    private readonly expiresInSeconds: number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async forSubmissions(submissionIds: readonly number[]): Promise<Map<number, ProofView[]>> {
    const proofs = await this.store.proofsOf(submissionIds);
    const expiresAt = new Date(this.now().getTime() + this.expiresInSeconds * 1000).toISOString();
    const out = new Map<number, ProofView[]>();
    for (const [id, list] of proofs) {
      out.set(id, await Promise.all(list.map((p) => this.view(p, expiresAt))));
    }
    return out;
  }

  private async view(proof: StoredProof, expiresAt: string): Promise<ProofView> {
    const screenshots = {} as Record<EvidenceKind, ProofImageView>;
    for (const kind of EVIDENCE_KINDS) {
      const object = proof.objects.find((o) => o.kind === kind);
      if (!object) {
        screenshots[kind] = {
          state: 'not_taken',
          contentType: null,
          bytes: null,
          sha256: null,
          url: null,
          expiresAt: null,
          reason: proof.notTaken[kind] ?? 'not taken',
        };
        continue;
      }
      const stored = object.state === 'stored';
      screenshots[kind] = {
        state: object.state,
        contentType: object.contentType,
        bytes: object.sizeBytes,
        sha256: object.sha256,
        url: stored
          ? await this.objects.presignGet(object.key, {
              expiresInSeconds: this.expiresInSeconds,
              contentType: object.contentType,
            })
          : null,
        expiresAt: stored ? expiresAt : null,
        reason: object.lostReason,
      };
    }
    return {
      attempt: proof.attempt,
      capturedAt: proof.capturedAt,
      finalUrl: proof.finalUrl,
      httpStatus: proof.httpStatus,
      matched: proof.matched,
      typedSha256: proof.typedSha256,
      ...(proof.category ? { category: proof.category } : {}),
      screenshots,
    };
  }
}
