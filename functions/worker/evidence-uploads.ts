/**
 * Keeping a submit click's proof, off the critical path: the worker hands over what the engine captured and
 * moves on to the next directory while this records the facts (Postgres) and uploads the screenshots (the
 * records bucket, S3).
 *
 *   captured ──record──▶ pending ──put──▶ stored
 *                          │ put failed, or still running when the job's run ended
 *                          ▼
 *                     pending, bytes kept in Postgres ──stale-jobs run──▶ stored
 *                          │ over EVIDENCE.pendingMaxBytes, or the bytes went with the worker
 *                          ▼
 *                         lost (with the reason; never claimed stored)
 *
 * Nothing here can fail or delay a submission: the click and the ledger do not wait for it, and errors are
 * logged and counted. The job's run waits for its own proofs at its end, at most EVIDENCE.uploadWaitAtJobEndMs
 * (`settle`): what has not reached S3 by then has its bytes kept in Postgres for the stale-jobs run, since
 * Lambda freezes (or ends) the container when the invocation returns.
 */
import {
  type EvidenceKind,
  type EvidenceObjectSpec,
  type EvidenceStore,
  evidenceKey,
  type ProofFacts,
} from '#shared/evidence-store';
import { type ObjectStore, sha256Hex } from '#shared/object-store';
import { describeError, type Logger, type Metrics, MetricUnit } from '#shared/telemetry';
import { type Capture, type CapturePolicy, SCREENSHOT_CONTENT_TYPE } from './evidence-capture.ts';
import type { EngineProof } from './form-engine.ts';

/** One submit click's proof as the job runner hands it over. */
export interface ClickProof {
  jobId: string;
  customerId: string;
  directoryId: string;
  submissionId: number;
  /** The ledger row's attempt of this click (what `begin` returned). */
  attempt: number;
  proof: EngineProof;
  /** The result page's screenshot, being taken while the context is still open (or why it is not). */
  result: Promise<Capture>;
}

export interface EvidenceOptions {
  /** How screenshots are taken (policy EVIDENCE). */
  capture: CapturePolicy;
  uploadTimeoutMs: number;
  uploadWaitAtJobEndMs: number;
}

/** What the job runner uses: the capture policy for the engine, handing over, and waiting at the job's end. */
export interface EvidenceRecorder {
  readonly options: EvidenceOptions;
  keep(click: ClickProof): void;
  /**
   * Waits for the job's proofs, at most `options.uploadWaitAtJobEndMs`; keeps in Postgres the bytes of
   * uploads still running then. Never throws.
   */
  settle(jobId: string): Promise<SettleReport>;
}

export interface SettleReport {
  /** Proofs of the job handed over and not settled before this call. */
  waitedFor: number;
  /** Uploads still running at the bound whose bytes were kept in Postgres for the stale-jobs run. */
  kept: number;
}

interface Upload {
  spec: EvidenceObjectSpec;
  bytes: Buffer;
  /** Resolved once the object is stored, or its bytes kept (or recorded lost). */
  done: boolean;
}

interface Task {
  jobId: string;
  /** Set once the facts and the object rows are in Postgres. */
  recorded: boolean;
  uploads: Upload[];
  finished: Promise<void>;
}

export const EVIDENCE_METRICS = {
  stored: 'EvidenceStored',
  kept: 'EvidenceKeptForRetry',
  lost: 'EvidenceLost',
  notRecorded: 'EvidenceNotRecorded',
  uploadMs: 'EvidenceUploadDuration',
} as const;

export class EvidenceUploads implements EvidenceRecorder {
  private readonly tasks = new Set<Task>();

  constructor(
    private readonly store: EvidenceStore,
    private readonly objects: ObjectStore,
    readonly options: EvidenceOptions,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {}

  keep(click: ClickProof): void {
    const task: Task = { jobId: click.jobId, recorded: false, uploads: [], finished: Promise.resolve() };
    task.finished = this.run(task, click)
      .catch((err: unknown) => {
        // Postgres refused the facts: nothing is claimed for this click (its row shows no proof).
        this.metrics.addMetric(EVIDENCE_METRICS.notRecorded, MetricUnit.Count, 1);
        this.logger.warn('the proof of a submission could not be recorded', {
          jobId: click.jobId,
          directoryId: click.directoryId,
          attempt: click.attempt,
          error: describeError(err).message,
        });
      })
      .finally(() => this.tasks.delete(task));
    this.tasks.add(task);
  }

  async settle(jobId: string): Promise<SettleReport> {
    const mine = [...this.tasks].filter((t) => t.jobId === jobId);
    if (mine.length === 0) return { waitedFor: 0, kept: 0 };
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(mine.map((t) => t.finished)),
      new Promise((resolve) => {
        timer = setTimeout(resolve, this.options.uploadWaitAtJobEndMs);
      }),
    ]);
    clearTimeout(timer);
    let kept = 0;
    for (const task of mine) {
      if (!task.recorded) continue;
      for (const upload of task.uploads.filter((u) => !u.done)) {
        // Still running: its bytes go to Postgres now; the put may still finish, and then marks it stored.
        if (
          (await this.keepBytes(upload, 'the upload was still running when the job’s run ended')) === 'kept'
        )
          kept += 1;
      }
    }
    return { waitedFor: mine.length, kept };
  }

  private async run(task: Task, click: ClickProof): Promise<void> {
    const result = await click.result;
    const shots: Partial<Record<EvidenceKind, Capture>> = { form: click.proof.form, result };
    const notTaken: Partial<Record<EvidenceKind, string>> = {};
    for (const [kind, capture] of Object.entries(shots) as [EvidenceKind, Capture][]) {
      if (!capture.taken) {
        notTaken[kind] = capture.reason;
        continue;
      }
      const bytes = capture.shot.bytes;
      task.uploads.push({
        spec: {
          key: evidenceKey({ ...click, kind }),
          kind,
          contentType: SCREENSHOT_CONTENT_TYPE,
          sizeBytes: bytes.byteLength,
          sha256: sha256Hex(bytes),
        },
        bytes,
        done: false,
      });
    }
    const facts: ProofFacts = {
      capturedAt: click.proof.decidedAt,
      finalUrl: click.proof.finalUrl,
      httpStatus: click.proof.httpStatus,
      matched: click.proof.matched,
      typedSha256: click.proof.typedSha256,
      notTaken,
      ...(click.proof.category ? { category: click.proof.category } : {}),
    };
    await this.store.record(
      click.submissionId,
      click.attempt,
      facts,
      task.uploads.map((u) => u.spec),
    );
    task.recorded = true;
    await Promise.all(task.uploads.map((u) => this.upload(u)));
  }

  private async upload(upload: Upload): Promise<void> {
    const { spec, bytes } = upload;
    const started = Date.now();
    try {
      await this.objects.put(spec.key, bytes, {
        contentType: spec.contentType,
        sha256: spec.sha256,
        timeoutMs: this.options.uploadTimeoutMs,
      });
    } catch (err) {
      // Unless settle() kept its bytes already (the job's run ended while this one was running).
      if (!upload.done) await this.keepBytes(upload, describeError(err).message);
      return;
    }
    // Stored, even if settle() kept its bytes meanwhile: marking it clears them.
    upload.done = true;
    this.metrics.addMetric(EVIDENCE_METRICS.stored, MetricUnit.Count, 1);
    this.metrics.addMetric(EVIDENCE_METRICS.uploadMs, MetricUnit.Milliseconds, Date.now() - started);
    await this.store.markStored(spec.key).catch((err: unknown) =>
      // In S3 but not marked: the stale-jobs run finds it there (after orphanAfterSeconds) and marks it.
      this.logger.warn('a screenshot reached S3 but could not be marked stored', {
        key: spec.key,
        error: describeError(err).message,
      }),
    );
  }

  /** The bytes into Postgres for the stale-jobs run (first try at its next run); never throws. */
  private async keepBytes(upload: Upload, error: string): Promise<'kept' | 'lost' | 'settled' | 'failed'> {
    upload.done = true;
    const outcome = await this.store
      .keep(upload.spec.key, upload.bytes, error, 0)
      .catch((err: unknown): 'failed' => {
        // The bytes are only in this process now; if it ends, the stale-jobs run records them lost.
        this.logger.warn('a screenshot could not be kept for a later upload', {
          key: upload.spec.key,
          error: describeError(err).message,
        });
        return 'failed';
      });
    if (outcome === 'kept') {
      this.metrics.addMetric(EVIDENCE_METRICS.kept, MetricUnit.Count, 1);
      this.logger.warn('screenshot upload failed; kept for the stale-jobs run', {
        key: upload.spec.key,
        error,
      });
    }
    if (outcome === 'lost') {
      this.metrics.addMetric(EVIDENCE_METRICS.lost, MetricUnit.Count, 1);
      this.logger.error('screenshot upload failed and the pending store is full; recorded lost', {
        key: upload.spec.key,
      });
    }
    return outcome;
  }
}
