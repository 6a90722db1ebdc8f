/**
 * Helpers for worker tests: customers and jobs created and enqueued exactly as the API does (job row and
 * ledger, then the tier message, then 'queued'), and SQS records shaped as the event source mapping
 * delivers them, for invoking the worker handler directly.
 */
import { randomUUID } from 'node:crypto';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { Context, SQSRecord } from 'aws-lambda';
import { simpleForm } from '#local/fixtures/variants';
import type { LocalSystem } from '#local/runtime';
import { toSqsRecord } from '#local/sqs-poller';
import type { Priority } from '#policy';
import { type Customer, PgCustomerStore, type Profile } from '#shared/customer-store';
import type { DirectoryInput } from '#shared/directory-store';
import { queueUrlsFromEnv, SqsJobQueue } from '#shared/job-queue';
import { type Job, PgJobStore } from '#shared/job-store';
import { PgSubmissionLedger, type Submission } from '#shared/submission-ledger';
import { eventually } from './services.ts';

export function profile(name: string, extra: Partial<Profile> = {}): Profile {
  return {
    name,
    email: `owner@${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}.test`,
    phone: '+1 555 0100',
    website: 'https://example.test',
    address: '1 Main St',
    city: 'Springfield',
    state: 'IL',
    zip: '62704',
    category: 'Plumbing',
    description: 'Pipes, fixed.',
    ...extra,
  };
}

/** A simple-form directory on `site` (no fixture site need run there), as tests seed the catalogue. */
export function simpleDirectory(id: string, site = 'http://127.0.0.1:9', name = id): DirectoryInput {
  const definition = simpleForm.definition(site);
  return {
    id,
    name,
    site,
    submissionUrl: definition.submissionUrl,
    category: 'general',
    tier: 1,
    domainAuthority: 10,
    active: true,
    hasCaptcha: false,
    requiresLogin: false,
    definition,
  };
}

export async function createCustomer(system: LocalSystem, p: Profile): Promise<Customer> {
  return new PgCustomerStore(system.db).create('test-owner', p);
}

/** Creates the job and its ledger, sends its message to the tier queue and marks it queued. */
export async function enqueueJob(
  system: LocalSystem,
  customerId: string,
  directoryIds: readonly string[],
  priority: Priority = 1,
): Promise<Job> {
  const jobs = new PgJobStore(system.db);
  const job = await jobs.create({
    customerId,
    ownerKeyId: 'test-owner',
    priority,
    requestedPriority: priority,
    package: null,
    directoryIds,
  });
  await new SqsJobQueue(system.sqs, queueUrlsFromEnv(system.env)).enqueue({
    jobId: job.id,
    enqueueToken: job.enqueueToken,
    priority,
    enqueuedAt: new Date().toISOString(),
  });
  await jobs.markQueued(job.id, job.enqueueToken);
  return job;
}

export async function jobRow(system: LocalSystem, jobId: string): Promise<Job> {
  return (await new PgJobStore(system.db).get(jobId)) as Job;
}

export async function ledger(system: LocalSystem, jobId: string): Promise<Submission[]> {
  return new PgSubmissionLedger(system.db).forJob(jobId);
}

export async function waitForJob(
  system: LocalSystem,
  jobId: string,
  status: Job['status'] = 'completed',
  timeoutMs = 60_000,
): Promise<Job> {
  return eventually(
    `job ${jobId} to be ${status}`,
    async () => {
      const job = await jobRow(system, jobId);
      return job.status === status ? job : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

/** Receives up to `max` messages from a tier queue, as records the handler accepts. */
export async function receiveRecords(
  system: LocalSystem,
  priority: Priority,
  max = 10,
): Promise<SQSRecord[]> {
  const queue = system.queues.find((q) => q.priority === priority);
  if (!queue) throw new Error(`no queue for P${priority}`);
  const res = await system.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queue.url,
      MaxNumberOfMessages: max,
      WaitTimeSeconds: 1,
      MessageSystemAttributeNames: ['All'],
    }),
  );
  return (res.Messages ?? []).map((m) => toSqsRecord(m, queue.arn, 'us-east-1'));
}

/** An invocation context with a generous deadline. */
export function workerContext(remainingMs = 900_000): Context {
  const deadline = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'formfleet-test-worker',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:formfleet-test-worker',
    memoryLimitInMB: '2048',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/formfleet-test-worker',
    logStreamName: 'test',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** Environment overrides that make the worker quick enough for tests (timeouts, backoffs, heartbeats). */
export const FAST_WORKER_ENV: Record<string, string> = {
  HEARTBEAT_INTERVAL_MS: '500',
  STEP_TIMEOUT_MS: '2500',
  DIRECTORY_TIMEOUT_MS: '20000',
  RETRY_BASE_DELAY_MS: '100',
  RETRY_MAX_DELAY_MS: '400',
  SITE_MIN_GAP_MS: '200',
  // A worker killed mid-visit blocks its site this long (renewed every 500 ms while a visit lasts).
  SITE_LEASE_MS: '1500',
  VERIFY_TIMEOUT_MS: '3000',
  RECORD_RETRY_BASE_SECONDS: '1',
  RECORD_RETRY_MAX_SECONDS: '2',
  // K > 1, so every test on real parts runs a job's directories in lanes, as deployed workers do; 3 rather
  // than the policy's 6 because this machine has two cores shared by the whole suite (a deployed worker has
  // its own), and the step timeouts above are short.
  WORKER_DIRECTORIES_IN_FLIGHT: '3',
};
