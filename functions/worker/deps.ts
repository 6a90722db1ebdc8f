/** Builds the worker's real adapters from its environment: the one wiring point for Lambda and local. */
import { hostname } from 'node:os';
import { ChangeMessageVisibilityCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { WORKER } from '#policy';
import { awsClientConfig } from '#shared/aws';
import { PgCustomerStore } from '#shared/customer-store';
import { databaseFromEnv } from '#shared/database-config';
import type { Database } from '#shared/db';
import { PgDirectoryStore } from '#shared/directory-store';
import { type Env, intEnv } from '#shared/env';
import { queueUrlsFromEnv } from '#shared/job-queue';
import { PgJobStore } from '#shared/job-store';
import { PgSubmissionLedger } from '#shared/submission-ledger';
import { createLogger, createMetrics, MetricUnit } from '#shared/telemetry';
import { BrowserPool } from './browser-pool.ts';
import type { MessageLease, WorkerDeps } from './handler.ts';

/** Extends visibility through the queue the record came from (matched by name from its ARN). */
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

export async function workerDepsFromEnv(env: Env, sharedDb?: Database): Promise<WorkerDeps> {
  const db = sharedDb ?? (await databaseFromEnv(env, 'formfleet-worker'));
  const sqs = new SQSClient(awsClientConfig(env));
  const logger = createLogger('worker');
  const metrics = createMetrics('worker');
  const browser = new BrowserPool({
    executablePath: env.CHROMIUM_PATH,
    recycleAfterPages: intEnv(env, 'BROWSER_RECYCLE_AFTER_PAGES', WORKER.browserRecycleAfterPages),
    inLambda: Boolean(env.AWS_LAMBDA_FUNCTION_NAME),
    onEvent: (event) => {
      if (event.type === 'launch') metrics.addMetric('BrowserLaunch', MetricUnit.Count, 1);
      if (event.type === 'recycle') metrics.addMetric('BrowserRecycle', MetricUnit.Count, 1);
    },
  });
  return {
    jobs: new PgJobStore(db),
    ledger: new PgSubmissionLedger(db),
    customers: new PgCustomerStore(db),
    directories: new PgDirectoryStore(db),
    browser,
    lease: new SqsMessageLease(sqs, Object.values(queueUrlsFromEnv(env))),
    logger,
    metrics,
    workerId: env.WORKER_ID ?? `${env.AWS_LAMBDA_LOG_STREAM_NAME ?? hostname()}:${process.pid}`,
    options: {
      heartbeatIntervalMs: intEnv(env, 'HEARTBEAT_INTERVAL_MS', WORKER.heartbeatIntervalSeconds * 1000),
      visibilityTimeoutSeconds: intEnv(env, 'VISIBILITY_TIMEOUT_SECONDS', WORKER.visibilityTimeoutSeconds),
      stepTimeoutMs: intEnv(env, 'STEP_TIMEOUT_MS', WORKER.stepTimeoutMs),
      directoryTimeoutMs: intEnv(env, 'DIRECTORY_TIMEOUT_MS', WORKER.directoryTimeoutMs),
    },
  };
}
