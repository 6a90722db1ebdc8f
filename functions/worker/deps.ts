/** Builds the worker's real adapters from its environment: the one wiring point for Lambda and local. */
import { hostname } from 'node:os';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ChangeMessageVisibilityCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { PgListingLifecycle } from '#functions/lifecycle/listing-lifecycle';
import { lifecycleTimingFromEnv } from '#functions/lifecycle/timing';
import { PgMailStore } from '#functions/mail/mail-store';
import { EVIDENCE, METRIC_NAMES, PRIORITY_TIERS, WORKER } from '#policy';
import { awsClientConfig } from '#shared/aws';
import { PgCustomerStore } from '#shared/customer-store';
import { databaseFromEnv } from '#shared/database-config';
import type { Database, Sql } from '#shared/db';
import { PgDirectoryStore } from '#shared/directory-store';
import { ConfigError, type Env, intEnv, requireEnv } from '#shared/env';
import { PgEvidenceStore } from '#shared/evidence-store';
import { queueUrlEnvName, queueUrlsFromEnv, SqsJobQueue } from '#shared/job-queue';
import { PgJobStore } from '#shared/job-store';
import { recordsStoreFromEnv } from '#shared/object-store';
import { PgSubmissionLedger } from '#shared/submission-ledger';
import { createLogger, createMetrics, type Logger, type Metrics, MetricUnit } from '#shared/telemetry';
import { BrowserPool } from './browser-pool.ts';
import { CachedCustomerStore, CachedDirectoryStore } from './cached-stores.ts';
import { type EvidenceOptions, EvidenceUploads } from './evidence-uploads.ts';
import { PowertoolsIdempotency } from './idempotency.ts';
import { RecordsMediaFiles } from './media-files.ts';
import { networkGuardFromEnv, targetOrigin } from './network-guard.ts';
import type { MessageLease, WorkerDeps, WorkerOptions } from './ports.ts';
import { PgSitePoliteness } from './site-politeness.ts';
import { PgWorkerRegistry } from './worker-registry.ts';

/** Changes visibility through the queue the record came from (matched by name from its ARN). */
export class SqsMessageLease implements MessageLease {
  private readonly urlByName: Map<string, string>;

  constructor(
    private readonly sqs: SQSClient,
    queueUrls: readonly string[],
  ) {
    this.urlByName = new Map(queueUrls.map((url) => [url.split('/').pop() as string, url]));
  }

  async extend(record: SQSRecord, seconds: number): Promise<void> {
    const name = record.eventSourceARN.split(':').pop() as string;
    const url = this.urlByName.get(name);
    if (!url) throw new Error(`record from unknown queue ${record.eventSourceARN}`);
    await this.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: url,
        ReceiptHandle: record.receiptHandle,
        VisibilityTimeout: seconds,
      }),
    );
  }
}

/** Policy defaults, each overridable by an environment variable of the same meaning (tests shorten them). */
export function workerOptionsFromEnv(env: Env): WorkerOptions {
  return {
    heartbeatIntervalMs: intEnv(env, 'HEARTBEAT_INTERVAL_MS', WORKER.heartbeatIntervalSeconds * 1000),
    visibilityTimeoutSeconds: intEnv(env, 'VISIBILITY_TIMEOUT_SECONDS', WORKER.visibilityTimeoutSeconds),
    stepTimeoutMs: intEnv(env, 'STEP_TIMEOUT_MS', WORKER.stepTimeoutMs),
    directoryTimeoutMs: intEnv(env, 'DIRECTORY_TIMEOUT_MS', WORKER.directoryTimeoutMs),
    transientRetries: intEnv(env, 'TRANSIENT_RETRIES', WORKER.transientRetries),
    retryBaseDelayMs: intEnv(env, 'RETRY_BASE_DELAY_MS', WORKER.retryBaseDelayMs),
    retryMaxDelayMs: intEnv(env, 'RETRY_MAX_DELAY_MS', WORKER.retryMaxDelayMs),
    siteWaitMaxMs: intEnv(env, 'SITE_WAIT_MAX_MS', WORKER.siteWaitMaxMs),
    recordRetryBaseSeconds: intEnv(env, 'RECORD_RETRY_BASE_SECONDS', WORKER.recordRetryBaseSeconds),
    recordRetryMaxSeconds: intEnv(env, 'RECORD_RETRY_MAX_SECONDS', WORKER.recordRetryMaxSeconds),
    verifyTimeoutMs: intEnv(env, 'VERIFY_TIMEOUT_MS', WORKER.verifyTimeoutMs),
    invocationMarginMs: intEnv(env, 'INVOCATION_MARGIN_MS', WORKER.invocationMarginMs),
    directoriesInFlight: directoriesInFlightFromEnv(env),
  };
}

/** K (WORKER_DIRECTORIES_IN_FLIGHT, set from the stage's config): 1 to WORKER.directoriesInFlightMax. */
function directoriesInFlightFromEnv(env: Env): number {
  const k = intEnv(env, 'WORKER_DIRECTORIES_IN_FLIGHT', WORKER.directoriesInFlight);
  if (k < 1 || k > WORKER.directoriesInFlightMax) {
    throw new ConfigError(
      `WORKER_DIRECTORIES_IN_FLIGHT must be from 1 to ${WORKER.directoriesInFlightMax} (got ${k})`,
    );
  }
  return k;
}

/** Proof per submission: policy EVIDENCE, the upload bounds overridable (tests shorten them). */
export function evidenceOptionsFromEnv(env: Env): EvidenceOptions {
  return {
    capture: EVIDENCE,
    uploadTimeoutMs: intEnv(env, 'EVIDENCE_UPLOAD_TIMEOUT_MS', EVIDENCE.uploadTimeoutMs),
    uploadWaitAtJobEndMs: intEnv(env, 'EVIDENCE_UPLOAD_WAIT_MS', EVIDENCE.uploadWaitAtJobEndMs),
  };
}

/** The bytes Postgres keeps for S3 at most (policy EVIDENCE.pendingMaxBytes, overridable). */
export const evidencePendingMaxBytes = (env: Env) =>
  intEnv(env, 'EVIDENCE_PENDING_MAX_BYTES', EVIDENCE.pendingMaxBytes);

/**
 * The browser every Chromium function visits sites with (the worker, recheck-listings): one Chromium per
 * process, a fresh context per visit, each behind the network guard; launches, recycles and refusals counted.
 */
export function browserPoolFromEnv(env: Env, logger: Logger, metrics: Metrics): BrowserPool {
  const network = networkGuardFromEnv(env, (attempt) => {
    metrics.addMetric(METRIC_NAMES.browserRequestRefused, MetricUnit.Count, 1);
    logger.warn('browser request refused', { target: targetOrigin(attempt.target), reason: attempt.reason });
  });
  return new BrowserPool({
    executablePath: env.CHROMIUM_PATH,
    recycleAfterPages: intEnv(env, 'BROWSER_RECYCLE_AFTER_PAGES', WORKER.browserRecycleAfterPages),
    inLambda: Boolean(env.AWS_LAMBDA_FUNCTION_NAME),
    network,
    onEvent: (event) => {
      if (event.type === 'launch') {
        metrics.addMetric('BrowserLaunch', MetricUnit.Count, 1);
        metrics.addMetric('BrowserLaunchDuration', MetricUnit.Milliseconds, event.ms);
      }
      if (event.type === 'recycle') {
        metrics.addMetric('BrowserRecycle', MetricUnit.Count, 1);
        logger.info('browser recycled', { reason: event.reason });
      }
    },
  });
}

/** Per-site politeness (a lease row per site), as every function that visits directory sites keeps it. */
export function sitePolitenessFromEnv(env: Env, db: Pick<Sql, 'query'>): PgSitePoliteness {
  return new PgSitePoliteness(db, intEnv(env, 'SITE_MIN_GAP_MS', WORKER.siteMinGapMs), {
    leaseMs: intEnv(env, 'SITE_LEASE_MS', WORKER.siteLeaseSeconds * 1000),
  });
}

/** The worker's side of the mail aliases: the address to type for (job, directory). */
function mailAliasesOf(db: Database, domain: string): NonNullable<WorkerDeps['mailAliases']> {
  const store = new PgMailStore(db);
  return { domain, aliasFor: (jobId, directoryId) => store.aliasFor(jobId, directoryId) };
}

export async function workerDepsFromEnv(env: Env, sharedDb?: Database): Promise<WorkerDeps> {
  // One error naming every missing variable.
  const required = requireEnv(env, [
    'IDEMPOTENCY_TABLE',
    'RECORDS_BUCKET',
    ...PRIORITY_TIERS.map(queueUrlEnvName),
  ]);
  const idempotencyTable = required.IDEMPOTENCY_TABLE as string;
  const queueUrls = queueUrlsFromEnv(env);
  const options = workerOptionsFromEnv(env);
  const evidenceOptions = evidenceOptionsFromEnv(env);
  const db = sharedDb ?? (await databaseFromEnv(env, 'formfleet-worker'));
  const sqs = new SQSClient(awsClientConfig(env));
  const records = recordsStoreFromEnv(env);
  const dynamo = new DynamoDBClient(awsClientConfig(env));
  const logger = createLogger('worker');
  const metrics = createMetrics('worker', logger);
  return {
    jobs: new PgJobStore(db),
    ledger: new PgSubmissionLedger(db),
    lifecycle: new PgListingLifecycle(db, lifecycleTimingFromEnv(env)),
    customers: new CachedCustomerStore(db, new PgCustomerStore(db), metrics),
    directories: new CachedDirectoryStore(db, new PgDirectoryStore(db), metrics),
    categoryOptions: new PgDirectoryStore(db),
    browser: browserPoolFromEnv(env, logger, metrics),
    politeness: sitePolitenessFromEnv(env, db),
    registry: new PgWorkerRegistry(db),
    idempotency: new PowertoolsIdempotency({
      tableName: idempotencyTable,
      client: dynamo,
      expiresAfterSeconds: WORKER.idempotencyExpirySeconds,
      inProgressMaxMs: () => options.visibilityTimeoutSeconds * 1000,
    }),
    lease: new SqsMessageLease(sqs, Object.values(queueUrls)),
    queue: new SqsJobQueue(sqs, queueUrls),
    media: new RecordsMediaFiles(records),
    evidence: new EvidenceUploads(
      new PgEvidenceStore(db, { pendingMaxBytes: evidencePendingMaxBytes(env) }),
      records,
      evidenceOptions,
      logger,
      metrics,
    ),
    ...(env.INBOUND_MAIL_DOMAIN ? { mailAliases: mailAliasesOf(db, env.INBOUND_MAIL_DOMAIN) } : {}),
    logger,
    metrics,
    workerId: env.WORKER_ID ?? `${env.AWS_LAMBDA_LOG_STREAM_NAME ?? hostname()}:${process.pid}`,
    options,
  };
}
