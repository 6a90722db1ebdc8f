/**
 * Crash safety on real parts: a worker process killed with SIGKILL in the middle of a job — after it
 * clicked submit on one directory, before it recorded the outcome — and then the message redelivered to a
 * new worker process. The job completes and no directory is submitted twice: the interrupted directory is
 * verified on the site's listing page instead of being resubmitted.
 *
 * The fixture sites live in this test process, so their counters survive the worker's death.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redirectSuccess, simpleForm, slowSite } from '#local/fixtures/variants';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { PRIORITY_TIERS } from '#policy';
import { eventually, motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';
import { createCustomer, enqueueJob, FAST_WORKER_ENV, ledger, profile, waitForJob } from '#test/worker-jobs';

const VISIBILITY_SECONDS = 2;
let t: TestDatabase;
let system: LocalSystem;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  t = await testDatabase('worker_crash', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('crash')}-`,
    workers: false,
    schedules: { timers: false },
    visibilityTimeoutSeconds: VISIBILITY_SECONDS,
    // The slow site records a submission on receipt and answers 3 s later: the window for the crash.
    fixtures: [simpleForm, slowSite(3_000), redirectSuccess],
  });
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await system?.stop();
  await t?.close();
});

/** Starts a worker process against this system's services; resolves once it polls. */
async function startWorkerProcess(id: string, visibilitySeconds = VISIBILITY_SECONDS): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/worker-process.ts'], {
    env: {
      ...process.env,
      ...system.env,
      ...FAST_WORKER_ENV,
      VISIBILITY_TIMEOUT_SECONDS: String(visibilitySeconds),
      // Longer than the slow site's 3 s per page.
      STEP_TIMEOUT_MS: '8000',
      VERIFY_TIMEOUT_MS: '8000',
      WORKER_ID: id,
      WORKER_QUEUES: JSON.stringify(
        system.queues.map((q) => {
          const tier = PRIORITY_TIERS.find((t) => t.priority === q.priority);
          return { url: q.url, arn: q.arn, batchSize: tier?.batchSize, maxConcurrency: tier?.maxConcurrency };
        }),
      ),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker ${id} did not start:\n${output}`)), 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker ${id} exited with ${code}:\n${output}`));
    });
  });
  return child;
}

describe('a worker killed mid-job', () => {
  it('is replaced after redelivery, and the job completes with no directory submitted twice', async () => {
    const ids = ['simple-form', 'slow-site', 'redirect-success'];
    const customer = await createCustomer(system, profile('Crash Test Dummies Inc'));
    const first = await startWorkerProcess('worker-doomed');
    const job = await enqueueJob(system, customer.id, ids, 1);

    // Act: kill the worker once the slow site has received the submission but not yet answered it.
    await eventually(
      'the slow site to receive the submission',
      async () => {
        const rows = await ledger(system, job.id);
        const slow = rows.find((r) => r.directoryId === 'slow-site');
        return slow?.status === 'submitting' && system.fixtures.site('slow-site').submissions.length === 1
          ? true
          : undefined;
      },
      { timeoutMs: 40_000, intervalMs: 50 },
    );
    const exited = new Promise((resolve) => first.once('exit', resolve));
    first.kill('SIGKILL');
    await exited;
    const atCrash = await ledger(system, job.id);
    // The slow site's click is in doubt; the other lanes' directories were settled or not yet started
    // (FAST_WORKER_ENV runs K lanes, so which of them got through depends on the lanes' timing).
    expect(atCrash.find((r) => r.directoryId === 'slow-site')?.status).toBe('submitting');
    for (const r of atCrash.filter((r) => r.directoryId !== 'slow-site'))
      expect(['submitted', 'prepared']).toContain(r.status);

    // The successor's heartbeats extend its message's visibility further than the doomed worker's did: on a
    // loaded machine a heartbeat late by 2 s would hand the message back and supersede the successor's own
    // run, again and again (three lanes of Chromium on two shared cores).
    await startWorkerProcess('worker-successor', 15);
    // Seconds on a quiet machine; the bound is generous for a loaded one (two cores, other suites running).
    const done = await waitForJob(system, job.id, 'completed', 120_000);

    // Assert: every directory ended submitted, each site received the business exactly once.
    const rows = await ledger(system, job.id);
    expect(rows.map((r) => [r.directoryId, r.status])).toEqual(ids.map((id) => [id, 'submitted']));
    expect(rows.find((r) => r.directoryId === 'slow-site')?.evidence).toMatchObject({
      interrupted: true,
      verification: 'found',
    });
    for (const id of ids)
      expect(system.fixtures.site(id).countsByName()).toEqual({ 'Crash Test Dummies Inc': 1 });
    expect(done.claimedBy).toBe('worker-successor');
    const { rows: claims } = await system.db.query<{ worker: string }>(
      `SELECT detail->>'worker' AS worker FROM job_events WHERE job_id = $1 AND type = 'claimed' ORDER BY id`,
      [job.id],
    );
    // The doomed worker's claim, then the successor's. Under load the successor may claim twice: its 2 s
    // visibility (extended by heartbeats) can lapse and the message come back to it; the newer claim fences
    // the older, and the counts above show nothing was sent twice either way.
    const workers = claims.map((c) => c.worker);
    expect(workers[0]).toBe('worker-doomed');
    expect(workers.length).toBeGreaterThanOrEqual(2);
    expect(new Set(workers.slice(1))).toEqual(new Set(['worker-successor']));
  }, 240_000);
});
