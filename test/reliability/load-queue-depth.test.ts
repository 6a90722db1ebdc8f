/**
 * A queue depth of 500 drained: 500 jobs (P1, P2 and P3 mixed, one directory each over 18 fixture sites)
 * are enqueued while no worker runs, SQS reports them all waiting, then the workers start as the local
 * runtime runs them and take the queues down to zero. Every job completes, nothing lost, nothing twice.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { multiStepWizard, redirectSuccess, simpleForm } from '#local/fixtures/variants';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import type { Priority } from '#policy';
import { PgCustomerStore } from '#shared/customer-store';
import { enqueueAll, queueUrlsFromEnv, SqsJobQueue } from '#shared/job-queue';
import { type Job, PgJobStore } from '#shared/job-store';
import { expectNothingLostNothingTwice } from '#test/invariants';
import { queueDepth, startWorkers } from '#test/queue-workers';
import { eventually, motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';
import { siteCopies } from '#test/site-copies';
import { profile } from '#test/worker-jobs';

const JOBS = 500;
const SITES = siteCopies([simpleForm, redirectSuccess, multiStepWizard], 6).flat();
let t: TestDatabase;
let system: LocalSystem;

beforeAll(async () => {
  t = await testDatabase('load_depth', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('depth')}-`,
    fixtures: SITES,
    workers: false,
    env: { SITE_MIN_GAP_MS: '200' },
    schedules: { timers: false },
  });
});
afterAll(async () => {
  await system?.stop();
  await t?.close();
});

describe('a queue depth of 500', () => {
  it('is drained to zero with every job completed, nothing lost, nothing twice', async () => {
    const jobs = new PgJobStore(system.db);
    const customers = new PgCustomerStore(system.db);
    const created: Job[] = [];
    for (let i = 0; i < JOBS; i++) {
      const customer = await customers.create('depth-owner', profile(`Depth Business ${i}`));
      const priority = ((i % 3) + 1) as Priority;
      created.push(
        await jobs.create({
          customerId: customer.id,
          ownerKeyId: 'depth-owner',
          priority,
          requestedPriority: priority,
          package: null,
          directoryIds: [(SITES[i % SITES.length] as { id: string }).id],
        }),
      );
    }
    const unsent = await enqueueAll(
      new SqsJobQueue(system.sqs, queueUrlsFromEnv(system.env)),
      created.map((j) => ({
        jobId: j.id,
        enqueueToken: j.enqueueToken,
        priority: j.priority,
        enqueuedAt: randomUUID(),
      })),
    );
    expect(unsent).toEqual([]);
    await jobs.markQueuedMany(created.map((j) => ({ jobId: j.id, enqueueToken: j.enqueueToken })));
    const before = await queueDepth(system);
    expect(before.total).toBeGreaterThanOrEqual(JOBS);

    // Act: the workers start.
    const pollers = startWorkers(system);
    try {
      await eventually(
        'the queues to drain and every job to end',
        async () => {
          const { rows } = await system.db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM jobs WHERE status IN ('completed', 'failed', 'cancelled')`,
          );
          return rows[0]?.n === JOBS && (await queueDepth(system)).total === 0 ? true : undefined;
        },
        { timeoutMs: 400_000, intervalMs: 1_000 },
      );
    } finally {
      await Promise.all(pollers.map((p) => p.stop(30_000)));
    }

    const report = await expectNothingLostNothingTwice(
      system,
      created.map((j) => j.id),
    );
    expect(report).toEqual({ jobs: { completed: JOBS }, directories: { submitted: JOBS } });
  }, 480_000);
});
