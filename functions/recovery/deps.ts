/**
 * Builds the recovery handlers' real adapters from their environment: the one wiring point for Lambda and
 * local. Thresholds default to policy RECOVERY; the variables named below override them (tests, and the
 * local runtime's fast mode).
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import { PgAlertOutbox } from '#functions/alerts/alert-outbox';
import { alertsFromEnv } from '#functions/alerts/alerts';
import { EVIDENCE, PRIORITY_TIERS, RECOVERY } from '#policy';
import { awsClientConfig } from '#shared/aws';
import { databaseFromEnv } from '#shared/database-config';
import type { Database } from '#shared/db';
import { ConfigError, type Env, intEnv } from '#shared/env';
import { PgEvidenceStore } from '#shared/evidence-store';
import {
  dlqUrlEnvName,
  queueUrlEnvName,
  queueUrlsFromEnv,
  SqsJobQueue,
  SqsQueueDepths,
} from '#shared/job-queue';
import { PgJobStore } from '#shared/job-store';
import { recordsStoreFromEnv } from '#shared/object-store';
import { createLogger, createMetrics } from '#shared/telemetry';
import { dlqServiceFromEnv } from './dlq.ts';
import { PgDlqAlertStateStore } from './dlq-alert-state.ts';
import type { DlqCheckDeps, DlqCheckOptions } from './dlq-check.ts';
import type { EvidenceRetryOptions } from './evidence-retry.ts';
import { PgRecoveryStore } from './recovery-store.ts';
import type { StaleJobsDeps, StaleJobsOptions } from './stale-jobs.ts';

/** Every variable missing from `names` (and the database's, unless one is given), in one error. */
function requireAll(env: Env, names: readonly string[], db: Database | undefined): void {
  const missing = names.filter((n) => !env[n]);
  if (!db && !env.DATABASE_URL && !env.DATABASE_SECRET_ARN)
    missing.unshift('DATABASE_URL or DATABASE_SECRET_ARN');
  if (missing.length > 0) {
    throw new ConfigError(`missing required environment variable(s): ${missing.join(', ')}`);
  }
}

function positive(name: string, value: number): number {
  if (value < 0) throw new ConfigError(`${name} must not be negative (got ${value})`);
  return value;
}

export function staleJobsOptionsFromEnv(env: Env): StaleJobsOptions {
  return {
    staleAfterSeconds: positive(
      'STALE_AFTER_SECONDS',
      intEnv(env, 'STALE_AFTER_SECONDS', RECOVERY.staleAfterSeconds),
    ),
    requeueCap: positive('REQUEUE_CAP', intEnv(env, 'REQUEUE_CAP', RECOVERY.requeueCap)),
    stuckStepAfterSeconds: positive(
      'STUCK_STEP_AFTER_SECONDS',
      intEnv(env, 'STUCK_STEP_AFTER_SECONDS', RECOVERY.stuckStepAfterSeconds),
    ),
    pendingGraceSeconds: positive(
      'PENDING_GRACE_SECONDS',
      intEnv(env, 'PENDING_GRACE_SECONDS', RECOVERY.pendingGraceSeconds),
    ),
    queuedLostAfterSeconds: positive(
      'QUEUED_LOST_AFTER_SECONDS',
      intEnv(env, 'QUEUED_LOST_AFTER_SECONDS', RECOVERY.queuedLostAfterSeconds),
    ),
    batchSize: Math.max(1, intEnv(env, 'STALE_BATCH_SIZE', RECOVERY.staleBatchSize)),
    maxRequeuesPerRun: RECOVERY.maxRequeuesPerRun,
    maxResendsPerRun: RECOVERY.maxResendsPerRun,
  };
}

export function dlqCheckOptionsFromEnv(env: Env): DlqCheckOptions {
  return {
    reminderAfterSeconds: positive(
      'DLQ_REMINDER_AFTER_SECONDS',
      intEnv(env, 'DLQ_REMINDER_AFTER_SECONDS', RECOVERY.dlqReminderAfterSeconds),
    ),
    peekMaxPerTier: positive(
      'DLQ_PEEK_MAX_PER_TIER',
      intEnv(env, 'DLQ_PEEK_MAX_PER_TIER', RECOVERY.dlqPeekMaxPerTier),
    ),
  };
}

/** The evidence outbox's numbers: policy EVIDENCE, the bounds tests shorten overridable. */
export function evidenceRetryOptionsFromEnv(env: Env): EvidenceRetryOptions {
  return {
    batchSize: EVIDENCE.retryBatchSize,
    retryBaseSeconds: EVIDENCE.retryBaseSeconds,
    retryMaxSeconds: EVIDENCE.retryMaxSeconds,
    uploadTimeoutMs: intEnv(env, 'EVIDENCE_UPLOAD_TIMEOUT_MS', EVIDENCE.uploadTimeoutMs),
    orphanAfterSeconds: positive(
      'EVIDENCE_ORPHAN_AFTER_SECONDS',
      intEnv(env, 'EVIDENCE_ORPHAN_AFTER_SECONDS', EVIDENCE.orphanAfterSeconds),
    ),
  };
}

export async function staleJobsDepsFromEnv(env: Env, db?: Database): Promise<StaleJobsDeps> {
  requireAll(env, [...PRIORITY_TIERS.map(queueUrlEnvName), 'ALERTS_TOPIC_ARN', 'RECORDS_BUCKET'], db);
  const options = staleJobsOptionsFromEnv(env);
  const database = db ?? (await databaseFromEnv(env, 'formfleet-stale-jobs'));
  const outbox = new PgAlertOutbox(database);
  const logger = createLogger('stale-jobs');
  const sqs = new SQSClient(awsClientConfig(env));
  const queueUrls = queueUrlsFromEnv(env);
  return {
    store: new PgRecoveryStore(database, outbox),
    jobs: new PgJobStore(database),
    queue: new SqsJobQueue(sqs, queueUrls),
    depths: new SqsQueueDepths(sqs, queueUrls),
    outbox,
    alerts: alertsFromEnv(env),
    evidence: {
      // Keeping is the worker's; the retry only uploads and settles, so the ceiling does not apply here.
      store: new PgEvidenceStore(database, { pendingMaxBytes: EVIDENCE.pendingMaxBytes }),
      objects: recordsStoreFromEnv(env),
      options: evidenceRetryOptionsFromEnv(env),
    },
    logger,
    metrics: createMetrics('stale-jobs', logger),
    options,
  };
}

export async function dlqCheckDepsFromEnv(env: Env, db?: Database): Promise<DlqCheckDeps> {
  requireAll(env, [...PRIORITY_TIERS.map(dlqUrlEnvName), 'ALERTS_TOPIC_ARN'], db);
  const options = dlqCheckOptionsFromEnv(env);
  const database = db ?? (await databaseFromEnv(env, 'formfleet-dlq-check'));
  const outbox = new PgAlertOutbox(database);
  const logger = createLogger('dlq-check');
  return {
    dlq: await dlqServiceFromEnv(env, database, 'read'),
    state: new PgDlqAlertStateStore(database, outbox),
    outbox,
    alerts: alertsFromEnv(env),
    logger,
    metrics: createMetrics('dlq-check', logger),
    options,
  };
}
