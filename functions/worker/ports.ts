/** What the worker handler is built from: small ports, so unit tests pass fakes and production real adapters. */
import type { SQSRecord } from 'aws-lambda';
import type { ListingLifecycle } from '#functions/lifecycle/listing-lifecycle';
import type { CustomerStore } from '#shared/customer-store';
import type { DirectoryCategoryStore, DirectoryStore } from '#shared/directory-store';
import type { JobQueue } from '#shared/job-queue';
import type { JobStore } from '#shared/job-store';
import type { SubmissionLedger } from '#shared/submission-ledger';
import type { Logger, Metrics } from '#shared/telemetry';
import type { BrowserPool } from './browser-pool.ts';
import type { EvidenceRecorder } from './evidence-uploads.ts';
import type { IdempotencyGuard } from './idempotency.ts';
import type { MediaFiles } from './media-files.ts';
import type { SitePoliteness } from './site-politeness.ts';
import type { WorkerRegistry } from './worker-registry.ts';

/** Changes a received message's visibility: extends it while working, shortens it to a backoff on failure. */
export interface MessageLease {
  extend(record: SQSRecord, seconds: number): Promise<void>;
}

/** Numbers the worker runs by; defaults from policy WORKER, overridable through the environment. */
export interface WorkerOptions {
  heartbeatIntervalMs: number;
  visibilityTimeoutSeconds: number;
  stepTimeoutMs: number;
  directoryTimeoutMs: number;
  transientRetries: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  siteWaitMaxMs: number;
  recordRetryBaseSeconds: number;
  recordRetryMaxSeconds: number;
  verifyTimeoutMs: number;
  invocationMarginMs: number;
  /** K: a job's directories in flight at once in this worker (policy WORKER.directoriesInFlight). */
  directoriesInFlight: number;
}

export interface WorkerDeps {
  jobs: JobStore;
  ledger: SubmissionLedger;
  /** A row settled 'submitted' enters the listing lifecycle here (rechecked by recheck-listings). */
  lifecycle: Pick<ListingLifecycle, 'enter'>;
  customers: Pick<CustomerStore, 'get'>;
  directories: Pick<DirectoryStore, 'getMany'>;
  browser: BrowserPool;
  politeness: SitePoliteness;
  registry: WorkerRegistry;
  idempotency: IdempotencyGuard;
  lease: MessageLease;
  /** The tier queues: a job out of invocation time continues in a fresh message sent here. */
  queue: JobQueue;
  logger: Logger;
  metrics: Metrics;
  /** Identifies this worker process in claims (claimed_by) and in the workers table. */
  workerId: string;
  options: WorkerOptions;
  /**
   * Proof per submission: screenshots and facts of each submit click, kept off the critical path. Without it
   * (unit tests' fakes, the benchmark's baseline) no proof is taken.
   */
  evidence?: EvidenceRecorder;
  /**
   * Keeps the options of a directory's category select as the form offered them (GET
   * /v1/directories/{id}/categories shows them). Without it (unit tests' fakes) nothing is kept.
   */
  categoryOptions?: Pick<DirectoryCategoryStore, 'recordCategoryOptions'>;
  /**
   * The per-job mail aliases a definition with `emailMode: 'alias'` types for the profile's e-mail, on the
   * stage's inbound mail domain (functions/mail/). Without it (no INBOUND_MAIL_DOMAIN), such a directory
   * fails with that reason and nothing is typed.
   */
  mailAliases?: { domain: string; aliasFor(jobId: string, directoryId: string): Promise<string> };
  /**
   * The customer's stored images (records bucket, media/) for definitions' `upload` steps. Without it (unit
   * tests' fakes) a required upload fails saying so and an optional one is skipped.
   */
  media?: MediaFiles;
  /** Random source for jitter (tests pin it). */
  random?: () => number;
  /**
   * Aborted when the worker process is asked to stop (the local runtime on SIGTERM): a running job starts
   * no new directory, lets the one in flight finish, and continues in a fresh message.
   */
  shutdown?: AbortSignal;
}

/** What one worker process shares across the invocations it runs (several at once locally). */
export interface ProcessState {
  jobsInFlight: number;
}
