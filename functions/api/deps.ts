/** Builds the API handlers' real adapters from the environment: the one wiring point for Lambda and local. */
import { SQSClient } from '@aws-sdk/client-sqs';
import { awsClientConfig } from '#shared/aws';
import { PgCustomerStore } from '#shared/customer-store';
import { databaseFromEnv } from '#shared/database-config';
import type { Database } from '#shared/db';
import { PgDirectoryStore } from '#shared/directory-store';
import { type Env, listEnv } from '#shared/env';
import { queueUrlsFromEnv, SqsJobQueue } from '#shared/job-queue';
import { PgJobStore } from '#shared/job-store';
import { PgSubmissionLedger } from '#shared/submission-ledger';
import { createLogger, createMetrics } from '#shared/telemetry';
import type { CustomersApiDeps } from './customers.ts';
import type { HealthApiDeps } from './health.ts';
import type { JobsApiDeps } from './jobs.ts';

/** API key ids (not values) with admin rights: CDK passes the ids of the admin keys it creates. */
const adminKeyIdsFromEnv = (env: Env) => new Set(listEnv(env, 'ADMIN_API_KEY_IDS'));

export async function jobsApiDepsFromEnv(env: Env, db?: Database): Promise<JobsApiDeps> {
  const database = db ?? (await databaseFromEnv(env, 'formfleet-api-jobs'));
  return {
    jobs: new PgJobStore(database),
    ledger: new PgSubmissionLedger(database),
    customers: new PgCustomerStore(database),
    directories: new PgDirectoryStore(database),
    queue: new SqsJobQueue(new SQSClient(awsClientConfig(env)), queueUrlsFromEnv(env)),
    adminKeyIds: adminKeyIdsFromEnv(env),
    logger: createLogger('api-jobs'),
    metrics: createMetrics('api-jobs'),
  };
}

export async function customersApiDepsFromEnv(env: Env, db?: Database): Promise<CustomersApiDeps> {
  const database = db ?? (await databaseFromEnv(env, 'formfleet-api-customers'));
  return {
    customers: new PgCustomerStore(database),
    adminKeyIds: adminKeyIdsFromEnv(env),
    logger: createLogger('api-customers'),
    metrics: createMetrics('api-customers'),
  };
}

export async function healthApiDepsFromEnv(env: Env, db?: Database): Promise<HealthApiDeps> {
  const database = db ?? (await databaseFromEnv(env, 'formfleet-api-health'));
  return { sql: database, logger: createLogger('api-health'), metrics: createMetrics('api-health') };
}
