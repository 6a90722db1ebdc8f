/**
 * The worker on real parts (Chromium, Postgres, SQS FIFO and DynamoDB on moto) against every fixture
 * directory: each kind of form ends in its expected ledger outcome, duplicate deliveries submit nothing
 * twice, and one customer's cookies and storage never reach the next.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeWorkerHandler } from '#functions/worker/handler';
import { noIdempotency } from '#functions/worker/idempotency';
import { allVariants, EXPECTED_OUTCOMES } from '#local/fixtures/sites';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { queueUrlsFromEnv, SqsJobQueue } from '#shared/job-queue';
import { queueDepth } from '#test/queue-workers';
import { eventually, motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';
import {
  createCustomer,
  enqueueJob,
  FAST_WORKER_ENV,
  jobRow,
  ledger,
  profile,
  receiveRecords,
  waitForJob,
  workerContext,
} from '#test/worker-jobs';

let t: TestDatabase;
let system: LocalSystem;

beforeAll(async () => {
  t = await testDatabase('worker_variants', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('wv')}-`,
    fixtures: allVariants({ slowMs: 400 }),
    env: { ...FAST_WORKER_ENV, STEP_TIMEOUT_MS: '1500' },
    schedules: { timers: false },
  });
});
afterAll(async () => {
  await system?.stop();
  await t?.close();
});

const ALL_IDS = Object.keys(EXPECTED_OUTCOMES);

describe('worker against every fixture directory', () => {
  it('ends each fixture variant in its expected ledger outcome; a duplicate delivery changes no counter', async () => {
    const customer = await createCustomer(system, profile('Variant Plumbing'));
    const job = await enqueueJob(system, customer.id, ALL_IDS, 1);

    const done = await waitForJob(system, job.id, 'completed', 90_000);

    const rows = await ledger(system, job.id);
    const actual = Object.fromEntries(
      rows.map((r) => [r.directoryId, { status: r.status, errorClass: r.errorClass }]),
    );
    const expected = Object.fromEntries(
      ALL_IDS.map((id) => [
        id,
        { status: EXPECTED_OUTCOMES[id]?.status, errorClass: EXPECTED_OUTCOMES[id]?.errorClass },
      ]),
    );
    expect(actual).toEqual(expected);
    for (const id of ALL_IDS) {
      const count = system.fixtures.site(id).countsByName()['Variant Plumbing'] ?? 0;
      expect({ id, count }).toEqual({ id, count: EXPECTED_OUTCOMES[id]?.submissions });
    }
    const byId = new Map(rows.map((r) => [r.directoryId, r]));
    // The site's own validation message is kept for a person to read.
    expect(byId.get('validation-error')?.error).toContain('ZIP code 62704 is outside our service area');
    // Transient failures were retried (policy retries + 1 attempts) before giving up; the flaky site passed.
    expect(byId.get('http-500')?.evidence).toMatchObject({ attempts: 3 });
    expect(byId.get('hanging-site')?.evidence).toMatchObject({ attempts: 3 });
    expect(byId.get('flaky-site')?.evidence).toMatchObject({ attempts: 2 });
    // The renamed form was filled through fallback selectors, and that drift is on record.
    expect(byId.get('renamed-fields')?.evidence.fallbackSelectors).toBeDefined();
    expect(byId.get('captcha-widget')?.error).toMatch(/captcha detected/);
    expect(byId.get('login-wall')?.error).toMatch(/requires an account login/);
    expect(done.progress.counts).toMatchObject({ submitted: 10, failed: 3, needs_manual: 1, skipped: 1 });
    // Every submitted directory entered the listing's life after the click; nothing else did.
    for (const r of rows)
      expect(r.lifecycle, r.directoryId).toBe(r.status === 'submitted' ? 'under_review' : null);

    // The same job message delivered again (sent past FIFO deduplication): the idempotency record answers
    // it (and the claim would refuse it anyway), so nothing is claimed or submitted again.
    const before = system.fixtures.counts();
    await new SqsJobQueue(system.sqs, queueUrlsFromEnv(system.env)).enqueue({
      jobId: job.id,
      enqueueToken: job.enqueueToken,
      priority: 1,
      enqueuedAt: 'resent',
    });
    await new Promise((r) => setTimeout(r, 1_500));
    await waitForQuiet();
    expect(system.fixtures.counts()).toEqual(before);
    const { rows: claims } = await system.db.query(
      `SELECT 1 FROM job_events WHERE job_id = $1 AND type = 'claimed'`,
      [job.id],
    );
    expect(claims).toHaveLength(1);

    // The worker's row in the workers table carries its browser state.
    const { rows: workers } = await system.db.query<{
      jobs_in_flight: number;
      browser: { launches: number };
    }>('SELECT jobs_in_flight, browser FROM workers');
    expect(workers).toHaveLength(1);
    expect(workers[0]?.browser.launches).toBeGreaterThanOrEqual(1);
  });

  it('submits each directory once when one message is delivered to two workers at the same time', async () => {
    const quiet = await startLocalSystem({
      port: 0,
      databaseUrl: t.url,
      motoEndpoint: motoEndpoint(),
      queuePrefix: `${uniqueName('wvq')}-`,
      workers: false,
      schedules: { timers: false },
      fixtures: [],
    });
    try {
      const customer = await createCustomer(quiet, profile('Twin Delivery LLC'));
      const ids = ['simple-form', 'multi-step-wizard', 'redirect-success'];
      const job = await enqueueJob(quiet, customer.id, ids, 1);
      const [record] = await receiveRecords(quiet, 1);
      if (!record) throw new Error('no message received');
      // Two workers (as two Lambda invocations would be) share the real queue, database and sites.
      const workerA = makeWorkerHandler({ ...system.worker, workerId: 'twin-a', lease: quiet.worker.lease });
      const workerB = makeWorkerHandler({ ...system.worker, workerId: 'twin-b', lease: quiet.worker.lease });

      // With the idempotency guard: one runs, the other is refused while it runs.
      const [a, b] = await Promise.all([
        workerA({ Records: [record] }, workerContext()),
        workerB({ Records: [record] }, workerContext()),
      ]);
      expect([a.batchItemFailures.length, b.batchItemFailures.length].sort()).toEqual([0, 1]);
      expect((await jobRow(quiet, job.id)).status).toBe('completed');

      // Without it, only the ledger and the fencing token stand between two workers and a double submit
      // (another business: this one is already held by the first job, so its rows would be skipped).
      const twin = await createCustomer(quiet, profile('Twin Delivery Two LLC'));
      const again = await enqueueJob(quiet, twin.id, ids, 1);
      const [second] = await receiveRecords(quiet, 1);
      if (!second) throw new Error('no message received');
      const bare = { ...system.worker, idempotency: noIdempotency, lease: quiet.worker.lease };
      await Promise.all([
        makeWorkerHandler({ ...bare, workerId: 'bare-a' })({ Records: [second] }, workerContext()),
        makeWorkerHandler({ ...bare, workerId: 'bare-b' })({ Records: [second] }, workerContext()),
      ]);
      // Whichever claim came second won; the other worker was fenced out. The job completed, and no site
      // received either business more than once.
      expect((await jobRow(quiet, again.id)).status).toBe('completed');
      const rows = await ledger(quiet, again.id);
      expect(rows.every((r) => r.status !== 'prepared' && r.status !== 'submitting')).toBe(true);
      for (const id of ids) {
        expect(system.fixtures.site(id).countsByName()['Twin Delivery LLC']).toBe(1);
        expect(system.fixtures.site(id).countsByName()['Twin Delivery Two LLC'] ?? 0).toBeLessThanOrEqual(1);
      }
    } finally {
      await quiet.stop();
    }
  });

  it('gives each customer a fresh browser context: no cookie or storage from the previous one', async () => {
    const first = await createCustomer(system, profile('Cookie Monster Bakery'));
    const second = await createCustomer(system, profile('Clean Slate Cafe'));
    await waitForJob(system, (await enqueueJob(system, first.id, ['simple-form'], 1)).id);
    await waitForJob(system, (await enqueueJob(system, second.id, ['simple-form'], 1)).id);

    const site = system.fixtures.site('simple-form');
    const firstFields = site.submissions.find(
      (s) => s.fields.business_name === 'Cookie Monster Bakery',
    )?.fields;
    const secondFields = site.submissions.find((s) => s.fields.business_name === 'Clean Slate Cafe')?.fields;
    // Within one visit the site sees its own cookie; the next customer's page sees none of the first's.
    expect(firstFields?.seen_cookie).toContain('ff_visitor');
    expect(secondFields?.seen_storage).toBe('');
    expect(secondFields?.seen_cookie).not.toContain('ff_last_business');
    expect(secondFields?.seen_cookie).not.toContain('Cookie');
    // The browser's first request of the second visit carried no cookie at all.
    const posts = site.requests.filter((r) => r.method === 'POST');
    const lastPost = site.requests.lastIndexOf(posts[posts.length - 1] as (typeof posts)[number]);
    const openingGet = site.requests
      .slice(0, lastPost)
      .reverse()
      .find((r) => r.method === 'GET');
    expect(openingGet?.cookie).toBe('');
  });
});

/** Waits until every tier queue is empty and no poller is running an invocation (the resend was consumed). */
async function waitForQuiet(): Promise<void> {
  await eventually(
    'the queues to drain',
    async () =>
      (await queueDepth(system)).total === 0 && system.pollers.every((p) => p.inFlight() === 0)
        ? true
        : undefined,
    { timeoutMs: 20_000, intervalMs: 200 },
  );
}
