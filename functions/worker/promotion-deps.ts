/** Builds the promotion function's real adapters from its environment (Lambda and the local runtime). */
import { SQSClient } from '@aws-sdk/client-sqs';
import { awsClientConfig } from '#shared/aws';
import { databaseFromEnv } from '#shared/database-config';
import type { Database } from '#shared/db';
import type { Env } from '#shared/env';
import { queueUrlsFromEnv, SqsJobQueue } from '#shared/job-queue';
import { PgJobStore } from '#shared/job-store';
import { createLogger, createMetrics } from '#shared/telemetry';
import type { PromoteJobsDeps } from './promotion.ts';

export async function promoteJobsDepsFromEnv(env: Env, sharedDb?: Database): Promise<PromoteJobsDeps> {
  const queueUrls = queueUrlsFromEnv(env);
  const db = sharedDb ?? (await databaseFromEnv(env, 'formfleet-promote-jobs'));
  const logger = createLogger('promote-jobs');
  return {
    db,
    jobs: new PgJobStore(db),
    queue: new SqsJobQueue(new SQSClient(awsClientConfig(env)), queueUrls),
    logger,
    metrics: createMetrics('promote-jobs', logger),
  };
}
