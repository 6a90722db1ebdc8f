/**
 * The worker as a fleet on real parts: a browser killed mid-job is relaunched and the job continues;
 * priority tiers are consumed with their own concurrency, so a P1 job starts ahead of P3 work queued
 * before it; one site gets one submission at a time with the minimum gap between visits; and an aged job
 * is promoted to the next tier while its old message is discarded on receipt.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeWorkerHandler } from '#functions/worker/handler';
import { makePromoteJobsHandler } from '#functions/worker/promotion';
import { promoteJobsDepsFromEnv } from '#functions/worker/promotion-deps';
import { redirectSuccess, simpleForm, slowSite } from '#local/fixtures/variants';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import type { Job } from '#shared/job-store';
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

const SLOW_MS = 600;
const MIN_GAP_MS = 300;
let t: TestDatabase;
let system: LocalSystem;

beforeAll(async () => {
  t = await testDatabase('worker_fleet', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('fleet')}-`,
    fixtures: [simpleForm, slowSite(SLOW_MS), redirectSuccess],
    env: { ...FAST_WORKER_ENV, SITE_MIN_GAP_MS: String(MIN_GAP_MS) },
    schedules: { timers: false },
  });
});
afterAll(async () => {
  await system?.stop();
  await t?.close();
});

describe('worker fleet behaviour', () => {
  it('relaunches a browser killed mid-job and carries on with the job', async () => {
    const customer = await createCustomer(system, profile('Phoenix Repairs'));
    await waitForJob(system, (await enqueueJob(system, customer.id, ['simple-form'], 1)).id);
    const before = system.worker.browser.state();
    const job = await enqueueJob(system, customer.id, ['slow-site', 'redirect-success'], 1);

    // Act: kill Chromium while the worker waits for the slow site's form.
    await eventually(
      'the worker to open the slow site',
      async () =>
        (await jobRow(system, job.id)).status === 'in_progress' &&
        system.fixtures.site('slow-site').requests.some((r) => r.path === '/add' && r.method === 'GET')
          ? true
          : undefined,
      { timeoutMs: 20_000, intervalMs: 20 },
    );
    const pid = system.worker.browser.browserPid();
    expect(pid).toBeTypeOf('number');
    process.kill(pid as number, 'SIGKILL');

    await waitForJob(system, job.id);
    const rows = await ledger(system, job.id);
    expect(rows.map((r) => [r.directoryId, r.status])).toEqual([
      ['slow-site', 'submitted'],
      ['redirect-success', 'submitted'],
    ]);
    expect(rows[0]?.evidence).toMatchObject({ attempts: 2 });
    const after = system.worker.browser.state();
    expect(after.launches).toBe(before.launches + 1);
    expect(after.recycles).toBeGreaterThan(before.recycles);
    expect(system.worker.browser.browserPid()).not.toBe(pid);
    expect(system.fixtures.site('slow-site').countsByName()).toEqual({ 'Phoenix Repairs': 1 });
  });

  it('starts a P1 job before P3 jobs queued after a saturating P3 backlog, one site visit at a time', async () => {
    const customer = await createCustomer(system, profile('Backlog Builders'));
    const slow = system.fixtures.site('slow-site');
    const requestsBefore = slow.requests.length;
    // Arrange: more P3 jobs than the P3 tier's concurrency (2), all on the slow site, each for its own
    // business (one business is sent to a directory once).
    const backlog: Job[] = [];
    for (let i = 0; i < 4; i++) {
      const owner = await createCustomer(system, profile(`Backlog Builders ${i}`));
      backlog.push(await enqueueJob(system, owner.id, ['slow-site'], 3));
    }
    await eventually(
      'the P3 tier to be saturated',
      async () => (system.pollers[2]?.inFlight() === 2 ? true : undefined),
      { timeoutMs: 10_000, intervalMs: 20 },
    );

    // Heartbeats report where each running job is (directory and step) and keep its message invisible.
    const progress = await eventually(
      'a heartbeat naming the slow site',
      async () => {
        for (const job of backlog) {
          const p = (await jobRow(system, job.id)).progress;
          if (p.directoryId === 'slow-site' && p.step) return p;
        }
        return undefined;
      },
      { timeoutMs: 5_000, intervalMs: 50 },
    );
    expect(progress).toMatchObject({ total: 1, done: 0, stepSince: expect.any(String) });

    const urgent = await enqueueJob(system, customer.id, ['simple-form'], 1);
    const late = await enqueueJob(system, customer.id, ['redirect-success'], 3);

    const urgentDone = await waitForJob(system, urgent.id, 'completed', 30_000);
    const lateDone = await waitForJob(system, late.id, 'completed', 60_000);
    for (const job of backlog) await waitForJob(system, job.id, 'completed', 60_000);
    expect(Date.parse(urgentDone.startedAt as string)).toBeLessThan(Date.parse(lateDone.startedAt as string));
    // The urgent job did not wait for the backlog: it started before the backlog's last job did.
    const backlogStarts = await Promise.all(
      backlog.map(async (j) => Date.parse((await jobRow(system, j.id)).startedAt as string)),
    );
    expect(Date.parse(urgentDone.startedAt as string)).toBeLessThan(Math.max(...backlogStarts));

    // Politeness: the slow site saw one visit at a time (GET form, POST, GET, POST ...), with the gap.
    const visits = slow.requests.slice(requestsBefore).filter((r) => r.path === '/add');
    expect(visits.map((r) => r.method)).toEqual(backlog.flatMap(() => ['GET', 'POST']));
    for (let i = 2; i < visits.length; i += 2) {
      const previousPost = Date.parse(visits[i - 1]?.at as string);
      const nextGet = Date.parse(visits[i]?.at as string);
      expect(nextGet - previousPost).toBeGreaterThanOrEqual(SLOW_MS + MIN_GAP_MS - 50);
    }
  });

  it('promotes a job waiting past its tier limit; its old message is discarded on receipt', async () => {
    const quiet = await startLocalSystem({
      port: 0,
      databaseUrl: t.url,
      motoEndpoint: motoEndpoint(),
      queuePrefix: `${uniqueName('promo')}-`,
      workers: false,
      schedules: { timers: false },
      fixtures: [],
    });
    try {
      const customer = await createCustomer(quiet, profile('Patient Painters'));
      const aged = await enqueueJob(quiet, customer.id, ['simple-form'], 3);
      const fresh = await enqueueJob(quiet, customer.id, ['simple-form'], 3);
      const urgent = await enqueueJob(quiet, customer.id, ['simple-form'], 1);
      await quiet.db.query(`UPDATE jobs SET queued_at = now() - interval '31 minutes' WHERE id = ANY($1)`, [
        [aged.id, urgent.id],
      ]);
      const promote = makePromoteJobsHandler(await promoteJobsDepsFromEnv(quiet.env, quiet.db));

      const report = await promote();

      expect(report).toEqual({ promoted: 1, sent: 1, failed: 0 });
      const promoted = await jobRow(quiet, aged.id);
      expect(promoted).toMatchObject({ priority: 2, enqueueToken: 2, status: 'queued' });
      expect(await jobRow(quiet, fresh.id)).toMatchObject({ priority: 3, enqueueToken: 1 });
      expect(await jobRow(quiet, urgent.id)).toMatchObject({ priority: 1, enqueueToken: 1 });
      const { rows: events } = await quiet.db.query<{ detail: Record<string, number> }>(
        `SELECT detail FROM job_events WHERE job_id = $1 AND type = 'promoted'`,
        [aged.id],
      );
      expect(events.map((e) => e.detail)).toEqual([{ from: 3, to: 2, enqueueToken: 2 }]);
      // Nothing else is old enough: a second run promotes nothing.
      expect((await promote()).promoted).toBe(0);

      // The old P3 message is stale on receipt; the new P2 message runs the job.
      const worker = makeWorkerHandler({ ...system.worker, lease: quiet.worker.lease });
      const p3 = (await receiveRecords(quiet, 3)).filter((r) => JSON.parse(r.body).jobId === aged.id);
      const p2 = await receiveRecords(quiet, 2);
      expect(p3.map((r) => JSON.parse(r.body).enqueueToken)).toEqual([1]);
      expect(p2.map((r) => JSON.parse(r.body))).toMatchObject([
        { jobId: aged.id, enqueueToken: 2, priority: 2 },
      ]);
      expect(await worker({ Records: p3 }, workerContext())).toEqual({ batchItemFailures: [] });
      expect((await jobRow(quiet, aged.id)).status).toBe('queued');
      expect(await worker({ Records: p2 }, workerContext())).toEqual({ batchItemFailures: [] });
      expect((await jobRow(quiet, aged.id)).status).toBe('completed');
      expect(system.fixtures.site('simple-form').countsByName()['Patient Painters']).toBe(1);
    } finally {
      await quiet.stop();
    }
  });
});
