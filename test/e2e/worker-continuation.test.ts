/**
 * Continuation on real parts (Postgres, moto SQS FIFO with its DLQ redrive, Chromium, fixture sites): a job
 * bigger than one invocation's time goes on in fresh messages, each directory submitted once, and no message
 * gets near the dead-letter queue; a job that makes no progress still ends there; a continuation whose
 * statement fails falls back to the failure path, and one whose send fails is delivered by the stale-jobs
 * run's pending re-send.
 *
 * The invocation's time is deterministic: the context reports plenty of time until the fixture sites have
 * received `perInvocation` submissions since the invocation began, then only the worker's safety margin, so
 * the budget check before the next directory throws OutOfTimeError exactly there.
 */
import type { Context, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staleJobsDepsFromEnv } from '#functions/recovery/deps';
import { makeStaleJobsHandler } from '#functions/recovery/stale-jobs';
import { makeWorkerHandler, type WorkerDeps } from '#functions/worker/handler';
import { simpleForm } from '#local/fixtures/variants';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import type { TierQueue } from '#local/services/queues';
import { type Poller, startPoller } from '#local/sqs-poller';
import { QUEUES } from '#policy';
import type { JobQueue } from '#shared/job-queue';
import type { JobStore } from '#shared/job-store';
import { messagesOn } from '#test/queue-workers';
import { eventually, motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';
import { siteCopies } from '#test/site-copies';
import {
  createCustomer,
  enqueueJob,
  FAST_WORKER_ENV,
  jobRow,
  ledger,
  profile,
  waitForJob,
  workerContext,
} from '#test/worker-jobs';

/** Five directories, each its own site (politeness allows one visit per site at a time). */
const SITES = siteCopies([simpleForm], 5).flat();
const DIRECTORY_IDS = SITES.map((s) => s.id);

let t: TestDatabase;
let system: LocalSystem;
let p1: TierQueue;

beforeAll(async () => {
  t = await testDatabase('worker_continuation', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('cont')}-`,
    workers: false,
    schedules: { timers: false },
    fixtures: SITES,
    // One directory at a time, so "time runs out after N submissions" cuts the job at exactly N; the lanes'
    // own continuation (K in flight when time runs out) is the last test's.
    env: { ...FAST_WORKER_ENV, WORKER_DIRECTORIES_IN_FLIGHT: '1' },
  });
  p1 = system.queues.find((q) => q.priority === 1) as TierQueue;
});
afterAll(async () => {
  await system?.stop();
  await t?.close();
});

/**
 * An invocation context whose time runs down to the worker's safety margin (too little to start a directory)
 * once the sites have received `perInvocation` more submissions.
 */
function budgetContext(perInvocation: number): Context {
  const base = workerContext();
  const start = system.fixtures.totalSubmissions();
  return {
    ...base,
    getRemainingTimeInMillis: () =>
      system.fixtures.totalSubmissions() - start >= perInvocation
        ? system.worker.options.invocationMarginMs
        : base.getRemainingTimeInMillis(),
  };
}

/**
 * The P1 event source mapping, as the local runtime runs it (batch 1, failed records left to come back),
 * but every invocation gets a budgetContext; records the receive count of every message it hands over.
 */
function startBudgetedWorker(perInvocation: number, deps: WorkerDeps = system.worker) {
  const handler = makeWorkerHandler(deps);
  const receives: number[] = [];
  const poller: Poller = startPoller({
    sqs: system.sqs,
    queueUrl: p1.url,
    queueArn: p1.arn,
    handler: (event: SQSEvent) => {
      for (const r of event.Records) receives.push(Number(r.attributes.ApproximateReceiveCount));
      return handler(event, budgetContext(perInvocation));
    },
    batchSize: 1,
    maxConcurrency: 1,
    functionName: 'formfleet-test-worker-p1',
  });
  return { receives, stop: () => poller.stop(10_000) };
}

const depth = (url: string) => messagesOn(system.sqs, url);

/** The job's run events; its listings' lifecycle events (one per submitted row) are counted apart. */
async function events(jobId: string) {
  const { rows } = await system.db.query<{ type: string; detail: Record<string, unknown> }>(
    `SELECT type, detail FROM job_events WHERE job_id = $1 AND type NOT LIKE 'listing.%' ORDER BY id`,
    [jobId],
  );
  return rows;
}

async function listingEvents(jobId: string): Promise<string[]> {
  const { rows } = await system.db.query<{ type: string }>(
    `SELECT type FROM job_events WHERE job_id = $1 AND type LIKE 'listing.%' ORDER BY id`,
    [jobId],
  );
  return rows.map((r) => r.type);
}

function submissionsOf(name: string): number[] {
  return DIRECTORY_IDS.map((id) => system.fixtures.site(id).countsByName()[name] ?? 0);
}

describe('a job bigger than one invocation', () => {
  it('completes over several invocations, each directory submitted once, no receive spent towards the DLQ', async () => {
    const name = 'Marathon Movers';
    const customer = await createCustomer(system, profile(name));
    const continuedBefore = system.metrics.get('worker.JobContinued');
    const worker = startBudgetedWorker(2);
    let job: Awaited<ReturnType<typeof enqueueJob>>;
    try {
      job = await enqueueJob(system, customer.id, DIRECTORY_IDS, 1);
      await waitForJob(system, job.id, 'completed', 45_000);
    } finally {
      await worker.stop();
    }

    // Two directories per invocation: 2 + 2 + 1, so three messages, each received once.
    expect(worker.receives).toEqual([1, 1, 1]);
    expect(submissionsOf(name)).toEqual([1, 1, 1, 1, 1]);
    expect((await ledger(system, job.id)).map((r) => r.status)).toEqual(Array(5).fill('submitted'));
    const rows = await events(job.id);
    expect(rows.map((r) => r.type)).toEqual([
      'created',
      'queued',
      'claimed',
      'continued',
      'queued',
      'claimed',
      'continued',
      'queued',
      'claimed',
      'completed',
    ]);
    // Each submitted directory entered the listing lifecycle once, whichever invocation submitted it.
    expect(await listingEvents(job.id)).toEqual(Array(5).fill('listing.under_review'));
    expect(rows.filter((r) => r.type === 'continued').map((r) => r.detail)).toEqual([
      expect.objectContaining({ settled: 2, done: 2, total: 5, enqueueToken: 2 }),
      expect.objectContaining({ settled: 2, done: 4, total: 5, enqueueToken: 3 }),
    ]);
    // Not a failure: attempts untouched, no error; the tokens moved on with each message.
    expect(await jobRow(system, job.id)).toMatchObject({
      status: 'completed',
      attempts: 0,
      error: null,
      enqueueToken: 3,
      progress: expect.objectContaining({ done: 5, total: 5 }),
    });
    expect(system.metrics.get('worker.JobContinued') - continuedBefore).toBe(2);
    expect(await depth(p1.url)).toBe(0);
    expect(await depth(p1.dlqUrl)).toBe(0);
  });

  it('still dead-letters a job that makes no progress: every invocation out of time before its first directory', async () => {
    const name = 'Standstill Storage';
    const customer = await createCustomer(system, profile(name));
    const continuedBefore = system.metrics.get('worker.JobContinued');
    const worker = startBudgetedWorker(0);
    let job: Awaited<ReturnType<typeof enqueueJob>>;
    try {
      job = await enqueueJob(system, customer.id, DIRECTORY_IDS, 1);
      // RECORD_RETRY_*: each failed receive is back within 1-2 s, so five receives take seconds.
      await waitForJob(system, job.id, 'failed', 45_000);
      await eventually('the message in the P1 DLQ', async () =>
        (await depth(p1.dlqUrl)) === 1 ? true : undefined,
      );
    } finally {
      await worker.stop();
    }

    expect(worker.receives).toEqual(Array.from({ length: QUEUES.maxReceiveCount }, (_, i) => i + 1));
    expect(submissionsOf(name)).toEqual([0, 0, 0, 0, 0]);
    const types = (await events(job.id)).map((r) => r.type);
    expect(types).not.toContain('continued');
    expect(types.filter((t) => t === 'attempt_failed')).toHaveLength(QUEUES.maxReceiveCount - 1);
    expect(types.at(-1)).toBe('dead_lettered');
    expect(await jobRow(system, job.id)).toMatchObject({ status: 'failed', errorClass: 'timeout' });
    expect(system.metrics.get('worker.JobContinued') - continuedBefore).toBe(0);
    expect(await depth(p1.url)).toBe(0);
  });

  it('fails the delivery as before when the continuation statement itself fails, and the retry finishes the job', async () => {
    const name = 'Fallback Fencing';
    const customer = await createCustomer(system, profile(name));
    const real = system.worker.jobs;
    let statementsToFail = 1;
    // The real store, but its first continuation statement fails as in a database outage.
    const jobs = Object.create(real) as JobStore;
    jobs.releaseForContinuation = async (claim, settled) => {
      if (statementsToFail-- > 0) throw new Error('database unavailable');
      return real.releaseForContinuation(claim, settled);
    };
    const worker = startBudgetedWorker(3, { ...system.worker, jobs });
    let job: Awaited<ReturnType<typeof enqueueJob>>;
    try {
      job = await enqueueJob(system, customer.id, DIRECTORY_IDS, 1);
      await waitForJob(system, job.id, 'completed', 45_000);
    } finally {
      await worker.stop();
    }

    // The first record failed (receive 1) and came back after its backoff (receive 2) to settle the rest.
    expect(worker.receives).toEqual([1, 2]);
    expect(submissionsOf(name)).toEqual([1, 1, 1, 1, 1]);
    expect((await events(job.id)).map((r) => r.type)).toEqual([
      'created',
      'queued',
      'claimed',
      'attempt_failed',
      'claimed',
      'completed',
    ]);
  });

  it('leaves a continuation whose send failed pending, and the stale-jobs re-send delivers it', async () => {
    const name = 'Relay Roofing';
    const customer = await createCustomer(system, profile(name));
    let sendsToRefuse = 1;
    const flaky: JobQueue = {
      enqueue: async (message) => {
        if (sendsToRefuse-- > 0) throw new Error('SQS unavailable');
        await system.worker.queue.enqueue(message);
      },
    };
    const worker = startBudgetedWorker(3, { ...system.worker, queue: flaky });
    try {
      const job = await enqueueJob(system, customer.id, DIRECTORY_IDS, 1);
      const pending = await waitForJob(system, job.id, 'pending', 30_000);
      expect(pending).toMatchObject({ enqueueToken: 2, claimedBy: null, attempts: 0 });
      // The first record succeeded all the same: nothing is left on the queue to come back.
      await eventually('the first message deleted', async () =>
        (await depth(p1.url)) === 0 && worker.receives.length === 1 ? true : undefined,
      );

      const recovery = await staleJobsDepsFromEnv(system.env, system.db);
      const report = await makeStaleJobsHandler({
        ...recovery,
        options: { ...recovery.options, pendingGraceSeconds: 0 },
      })();
      expect(report).toMatchObject({ resent: 1 });

      await waitForJob(system, job.id, 'completed', 30_000);
      expect(worker.receives).toEqual([1, 1]);
      expect(submissionsOf(name)).toEqual([1, 1, 1, 1, 1]);
      expect((await events(job.id)).map((r) => r.type)).toEqual([
        'created',
        'queued',
        'claimed',
        'continued',
        'resend',
        'queued',
        'claimed',
        'completed',
      ]);
    } finally {
      await worker.stop();
    }
  });
  it('with K directories in flight when time runs out: those settle, none starts, the next message does the rest once each', async () => {
    const name = 'Parallel Plastering';
    const customer = await createCustomer(system, profile(name));
    const continuedBefore = system.metrics.get('worker.JobContinued');
    const k = 3;
    // Time runs out once two submissions arrived: by then up to K directories are in flight in lanes.
    const worker = startBudgetedWorker(2, {
      ...system.worker,
      options: { ...system.worker.options, directoriesInFlight: k },
    });
    let job: Awaited<ReturnType<typeof enqueueJob>>;
    try {
      job = await enqueueJob(system, customer.id, DIRECTORY_IDS, 1);
      await waitForJob(system, job.id, 'completed', 60_000);
    } finally {
      await worker.stop();
    }
    // Counted at the far end: every site received the business once, whichever lane or message sent it.
    expect(submissionsOf(name)).toEqual([1, 1, 1, 1, 1]);
    expect((await ledger(system, job.id)).map((r) => r.status)).toEqual(Array(5).fill('submitted'));
    // Continued, never failed: every message received once, nothing towards the DLQ.
    expect(worker.receives.length).toBeGreaterThanOrEqual(2);
    expect(worker.receives.every((n) => n === 1)).toBe(true);
    const continued = (await events(job.id)).filter((r) => r.type === 'continued');
    expect(continued.length).toBe(worker.receives.length - 1);
    // Each invocation settled what it had in flight (at least the two that used its time, at most K each).
    for (const c of continued) {
      expect(c.detail.settled).toBeGreaterThanOrEqual(2);
      expect(c.detail.settled).toBeLessThanOrEqual(k + 1);
    }
    expect(await jobRow(system, job.id)).toMatchObject({ status: 'completed', attempts: 0, error: null });
    expect(system.metrics.get('worker.JobContinued') - continuedBefore).toBe(continued.length);
    expect(await depth(p1.url)).toBe(0);
  });
});
