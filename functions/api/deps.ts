/** Builds the API handlers' real adapters from the environment: the one wiring point for Lambda and local. */
import { hostname } from 'node:os';
import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { SQSClient } from '@aws-sdk/client-sqs';
import { PgAlertOutbox } from '#functions/alerts/alert-outbox';
import { PgDirectoryHealthStore } from '#functions/directories/health-store';
import { createDlqService, type DlqService } from '#functions/recovery/dlq';
import { requireWebhookEnv } from '#functions/webhooks/deps';
import { urlPolicyFromEnv } from '#functions/webhooks/destination';
import { sealerFromEnv } from '#functions/webhooks/secrets';
import { PgWebhookStore } from '#functions/webhooks/store';
import type { BrowserPool } from '#functions/worker/browser-pool';
import { browserPoolFromEnv, sitePolitenessFromEnv } from '#functions/worker/deps';
import { EVIDENCE, PRIORITY_TIERS, PROBES } from '#policy';
import { awsClientConfig } from '#shared/aws';
import { PgBrandStore } from '#shared/brand-store';
import { PgCustomerStore } from '#shared/customer-store';
import { databaseFromEnv } from '#shared/database-config';
import type { Database } from '#shared/db';
import { PgDirectoryStore } from '#shared/directory-store';
import { type Env, listEnv, requireEnv } from '#shared/env';
import { PgEvidenceStore } from '#shared/evidence-store';
import {
  dlqUrlsFromEnv,
  queueUrlEnvName,
  queueUrlsFromEnv,
  SqsJobQueue,
  type TierUrls,
} from '#shared/job-queue';
import { PgJobStore } from '#shared/job-store';
import { PgMediaStore } from '#shared/media';
import { recordsStoreFromEnv } from '#shared/object-store';
import { PgSubmissionLedger } from '#shared/submission-ledger';
import { PgTaskStore } from '#shared/task-store';
import { createLogger, createMetrics } from '#shared/telemetry';
import { type ApiLimits, apiLimitsFromEnv } from './api-config.ts';
import { ApiGatewayKeyStore, apiGatewayKeyStoreOptionsFromEnv } from './api-gateway-keys.ts';
import type { CustomersApiDeps } from './customers.ts';
import type { DirectoriesApiDeps } from './directories.ts';
import { PgDirectoryQueries } from './directory-queries.ts';
import type { DlqApiDeps } from './dlq.ts';
import type { HealthApiDeps } from './health.ts';
import { PgJobQueries } from './job-queries.ts';
import type { JobsApiDeps } from './jobs.ts';
import type { ClientKeyStore, KeysApiDeps } from './keys.ts';
import type { ProbesApiDeps } from './probes.ts';
import { PresignedProofLinks, type ProofLinks } from './proofs.ts';
import { SqsQueueStats } from './queue-stats.ts';
import { PgRateLimiter } from './rate-limiter.ts';
import type { ApiBaseDeps } from './router.ts';
import { PgSubmissionQueries } from './submission-queries.ts';
import type { SubmissionsApiDeps } from './submissions.ts';
import type { WebhooksApiDeps } from './webhooks.ts';

/**
 * Proofs with presigned links from the records bucket (RECORDS_BUCKET, read-only on evidence/). Signing is
 * local; keeping bytes is the worker's, so the store's pending ceiling does not apply here.
 */
function proofLinksFromEnv(env: Env, database: Database): ProofLinks {
  return new PresignedProofLinks(
    new PgEvidenceStore(database, { pendingMaxBytes: EVIDENCE.pendingMaxBytes }),
    recordsStoreFromEnv(env),
    EVIDENCE.presignedUrlSeconds,
  );
}

/** API key ids (not values) with admin rights: CDK passes the ids of the admin keys it creates. */
const adminKeyIdsFromEnv = (env: Env) => new Set(listEnv(env, 'ADMIN_API_KEY_IDS'));

/**
 * What every API function shares: telemetry, admin key ids, the exact rate limiter and the limits. Each
 * builder reads its environment (failing fast) before it resolves the database.
 */
function baseDeps(env: Env, database: Database, component: string, limits: ApiLimits): ApiBaseDeps {
  const logger = createLogger(component);
  return {
    logger,
    metrics: createMetrics(component, logger),
    adminKeyIds: adminKeyIdsFromEnv(env),
    rateLimiter: new PgRateLimiter(database),
    limits,
  };
}

export async function jobsApiDepsFromEnv(env: Env, db?: Database): Promise<JobsApiDeps> {
  // One error naming every missing variable.
  requireEnv(env, [...PRIORITY_TIERS.map(queueUrlEnvName), 'RECORDS_BUCKET']);
  const queueUrls = queueUrlsFromEnv(env);
  const limits = apiLimitsFromEnv(env);
  const database = db ?? (await databaseFromEnv(env, 'formfleet-api-jobs'));
  return {
    ...baseDeps(env, database, 'api-jobs', limits),
    jobs: new PgJobStore(database),
    queries: new PgJobQueries(database),
    ledger: new PgSubmissionLedger(database),
    customers: new PgCustomerStore(database),
    directories: new PgDirectoryStore(database),
    queue: new SqsJobQueue(new SQSClient(awsClientConfig(env)), queueUrls),
    proofs: proofLinksFromEnv(env, database),
    brands: new PgBrandStore(database),
  };
}

export async function customersApiDepsFromEnv(env: Env, db?: Database): Promise<CustomersApiDeps> {
  const limits = apiLimitsFromEnv(env);
  const database = db ?? (await databaseFromEnv(env, 'formfleet-api-customers'));
  return {
    ...baseDeps(env, database, 'api-customers', limits),
    customers: new PgCustomerStore(database),
    media: new PgMediaStore(database),
    records: recordsStoreFromEnv(env),
  };
}

export async function healthApiDepsFromEnv(env: Env, db?: Database): Promise<HealthApiDeps> {
  const queueUrls = queueUrlsFromEnv(env);
  const dlqUrls = dlqUrlsFromEnv(env);
  const limits = apiLimitsFromEnv(env);
  const database = db ?? (await databaseFromEnv(env, 'formfleet-api-health'));
  return {
    ...baseDeps(env, database, 'api-health', limits),
    sql: database,
    queues: new SqsQueueStats(new SQSClient(awsClientConfig(env)), queueUrls, dlqUrls),
  };
}

export async function directoriesApiDepsFromEnv(env: Env, db?: Database): Promise<DirectoriesApiDeps> {
  const limits = apiLimitsFromEnv(env);
  const database = db ?? (await databaseFromEnv(env, 'formfleet-api-directories'));
  return {
    ...baseDeps(env, database, 'api-directories', limits),
    directories: new PgDirectoryStore(database),
    queries: new PgDirectoryQueries(database),
    health: new PgDirectoryHealthStore(database, new PgAlertOutbox(database)),
  };
}

export async function submissionsApiDepsFromEnv(env: Env, db?: Database): Promise<SubmissionsApiDeps> {
  requireEnv(env, ['RECORDS_BUCKET']);
  const limits = apiLimitsFromEnv(env);
  const database = db ?? (await databaseFromEnv(env, 'formfleet-api-submissions'));
  return {
    ...baseDeps(env, database, 'api-submissions', limits),
    submissions: new PgSubmissionQueries(database),
    jobs: new PgJobStore(database),
    customers: new PgCustomerStore(database),
    proofs: proofLinksFromEnv(env, database),
    tasks: new PgTaskStore(database),
  };
}

/** What a DLQ service is built from. */
export interface DlqWiring {
  sqs: SQSClient;
  queueUrls: TierUrls;
  dlqUrls: TierUrls;
  db: Database;
}

export type DlqServiceFactory = (wiring: DlqWiring) => DlqService;

/** The real service: SQS dead-letter queues + the jobs table (functions/recovery/dlq.ts). */
export const defaultDlqServiceFactory: DlqServiceFactory = (w) =>
  createDlqService({ sqs: w.sqs, queueUrls: w.queueUrls, dlqUrls: w.dlqUrls, sql: w.db });

export async function dlqApiDepsFromEnv(
  env: Env,
  db?: Database,
  factory: DlqServiceFactory = defaultDlqServiceFactory,
): Promise<DlqApiDeps> {
  const queueUrls = queueUrlsFromEnv(env);
  const dlqUrls = dlqUrlsFromEnv(env);
  const limits = apiLimitsFromEnv(env);
  const database = db ?? (await databaseFromEnv(env, 'formfleet-api-dlq'));
  return {
    ...baseDeps(env, database, 'api-dlq', limits),
    dlq: factory({ sqs: new SQSClient(awsClientConfig(env)), queueUrls, dlqUrls, db: database }),
  };
}

/**
 * The keys API: API Gateway's keys of the client usage plans (USAGE_PLAN_IDS), or the store given (the local
 * gateway's key table). Rate limits live in the database like every API function's.
 */
export async function keysApiDepsFromEnv(
  env: Env,
  db?: Database,
  store?: ClientKeyStore,
): Promise<KeysApiDeps> {
  const keys =
    store ??
    new ApiGatewayKeyStore(new APIGatewayClient(awsClientConfig(env)), apiGatewayKeyStoreOptionsFromEnv(env));
  const limits = apiLimitsFromEnv(env);
  const database = db ?? (await databaseFromEnv(env, 'formfleet-api-keys'));
  return { ...baseDeps(env, database, 'api-keys', limits), keys, brands: new PgBrandStore(database) };
}

/** The webhooks API: endpoints in Postgres, their secrets sealed (KMS in AWS, the local key locally). */
export async function webhooksApiDepsFromEnv(env: Env, db?: Database): Promise<WebhooksApiDeps> {
  requireWebhookEnv(env, [], db, { sealer: true });
  const urls = urlPolicyFromEnv(env);
  const sealer = sealerFromEnv(env);
  const limits = apiLimitsFromEnv(env);
  const database = db ?? (await databaseFromEnv(env, 'formfleet-api-webhooks'));
  return {
    ...baseDeps(env, database, 'api-webhooks', limits),
    store: new PgWebhookStore(database, new PgAlertOutbox(database)),
    sealer,
    urls,
  };
}

/**
 * The probes API (dry runs): Chromium of its own in Lambda (browserPoolFromEnv, behind the network guard);
 * the local runtime hands it the worker's pool, as it does recheck-listings. Site leases are the worker's.
 */
export async function probesApiDepsFromEnv(
  env: Env,
  db?: Database,
  shared: { browser?: BrowserPool } = {},
): Promise<ProbesApiDeps> {
  requireEnv(env, ['RECORDS_BUCKET']);
  const limits = apiLimitsFromEnv(env);
  const database = db ?? (await databaseFromEnv(env, 'formfleet-api-probes'));
  const base = baseDeps(env, database, 'api-probes', limits);
  return {
    ...base,
    directories: new PgDirectoryStore(database),
    customers: new PgCustomerStore(database),
    visits: {
      browser: shared.browser ?? browserPoolFromEnv(env, base.logger, base.metrics),
      politeness: sitePolitenessFromEnv(env, database),
      holder: `probe:${env.AWS_LAMBDA_LOG_STREAM_NAME ?? hostname()}:${process.pid}`,
    },
    objects: recordsStoreFromEnv(env),
    options: {
      stepTimeoutMs: PROBES.stepTimeoutMs,
      directoryTimeoutMs: PROBES.directoryTimeoutMs,
      transientRetries: PROBES.transientRetries,
      retryDelayMs: PROBES.retryDelayMs,
      siteWaitMaxMs: PROBES.siteWaitMaxMs,
      presignedUrlSeconds: PROBES.presignedUrlSeconds,
      uploadTimeoutMs: EVIDENCE.uploadTimeoutMs,
      screenshots: EVIDENCE,
      formWaitMs: PROBES.formWaitMs,
      maxPages: PROBES.maxPages,
      screenshotsPerProbe: PROBES.screenshotsPerProbe,
    },
  };
}
