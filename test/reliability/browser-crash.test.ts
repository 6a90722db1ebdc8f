/**
 * Browser crashes under load: Chromium is killed (SIGKILL) again and again while a batch of jobs runs on
 * it. Each crash fails the pages open at that moment; the pool relaunches, interrupted directories are
 * retried (before their submit click) or verified (after it), and every job ends with nothing lost and
 * nothing submitted twice. (One crash mid-job is in test/e2e/worker-fleet.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { multiStepWizard, redirectSuccess, simpleForm, slowSite } from '#local/fixtures/variants';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import type { Job } from '#shared/job-store';
import { expectNothingLostNothingTwice } from '#test/invariants';
import { eventually, motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';
import { createCustomer, enqueueJob, FAST_WORKER_ENV, jobRow, profile } from '#test/worker-jobs';

const DIRECTORIES = ['simple-form', 'multi-step-wizard', 'slow-site', 'redirect-success'];
const CRASHES = 4;
let t: TestDatabase;
let system: LocalSystem;

beforeAll(async () => {
  t = await testDatabase('browser_crash', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('bcrash')}-`,
    fixtures: [simpleForm, multiStepWizard, slowSite(300), redirectSuccess],
    // Enough transient retries that a directory hit by several crashes still gets through.
    env: { ...FAST_WORKER_ENV, TRANSIENT_RETRIES: '4' },
    schedules: { timers: false },
  });
});
afterAll(async () => {
  await system?.stop();
  await t?.close();
});

describe('Chromium killed repeatedly during a batch of jobs', () => {
  it('relaunches each time and ends every job with nothing lost and nothing submitted twice', async () => {
    const jobs: Job[] = [];
    for (let i = 0; i < 8; i++) {
      const customer = await createCustomer(system, profile(`Crash Course ${i}`));
      jobs.push(await enqueueJob(system, customer.id, DIRECTORIES, 1));
    }
    const launchesBefore = system.worker.browser.state().launches;

    // Act: kill the running browser whenever there is one, CRASHES times, a moment apart.
    const killed: number[] = [];
    while (killed.length < CRASHES) {
      const pid = await eventually(
        'a running browser',
        async () => {
          const p = system.worker.browser.browserPid();
          return p !== undefined && !killed.includes(p) ? p : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 20 },
      );
      await new Promise((r) => setTimeout(r, 400));
      try {
        process.kill(pid, 'SIGKILL');
        killed.push(pid);
      } catch {
        // it had already been recycled; take the next one
      }
    }
    await eventually(
      'every job to end',
      async () => {
        const rows = await Promise.all(jobs.map((j) => jobRow(system, j.id)));
        return rows.every((j) => ['completed', 'failed', 'cancelled'].includes(j.status)) ? true : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );

    const report = await expectNothingLostNothingTwice(
      system,
      jobs.map((j) => j.id),
    );
    expect(report.jobs).toEqual({ completed: jobs.length });
    expect(system.worker.browser.state().launches - launchesBefore).toBeGreaterThanOrEqual(CRASHES);
    // A directory the crash caught after its submit click is 'unknown' for a person (never resubmitted);
    // every other one went through.
    expect(Object.keys(report.directories).filter((s) => s !== 'submitted' && s !== 'unknown')).toEqual([]);
    expect(report.directories.submitted ?? 0).toBeGreaterThan(0);
  });
});
