/**
 * A Postgres outage in the middle of processing: the database server (a throwaway one this file owns) is
 * stopped while workers are walking jobs on real Chromium, and started again on the same port with the
 * same data a few seconds later. Claims, ledger writes and heartbeats fail meanwhile; the worker hands the
 * messages back with a short backoff, takes the jobs over after the restart, verifies any directory caught
 * between its submit click and the record of it, and finishes. Every job ends, none is lost, and no
 * directory is submitted twice by the fixture sites' own count.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { multiStepWizard, redirectSuccess, simpleForm, slowSite } from '#local/fixtures/variants';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { freePort } from '#local/services/ports';
import { type PostgresServer, startPostgres } from '#local/services/postgres';
import type { Job } from '#shared/job-store';
import { expectNothingLostNothingTwice } from '#test/invariants';
import { eventually, motoEndpoint, uniqueName } from '#test/services';
import { createCustomer, enqueueJob, FAST_WORKER_ENV, profile } from '#test/worker-jobs';

const DIRECTORIES = ['simple-form', 'multi-step-wizard', 'slow-site', 'redirect-success'];
let dataDir: string;
let port: number;
let server: PostgresServer;
let system: LocalSystem;

const startServer = () => startPostgres({ kind: 'throwaway', dataDir, port });

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'formfleet-outage-'));
  port = await freePort();
  server = await startServer();
  system = await startLocalSystem({
    port: 0,
    databaseUrl: server.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('pgout')}-`,
    fixtures: [simpleForm, multiStepWizard, slowSite(400), redirectSuccess],
    env: {
      ...FAST_WORKER_ENV,
      HEARTBEAT_INTERVAL_MS: '300',
      // A job whose worker could not record anything is found again by recovery within seconds.
      STALE_AFTER_SECONDS: '5',
      PENDING_GRACE_SECONDS: '2',
    },
    // stale-jobs every 2 s, dlq-check every 5 s, promote-jobs every second.
    schedules: { speedUp: 60 },
  });
});
afterAll(async () => {
  await system?.stop();
  await server?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function count(sql: string, values: unknown[]): Promise<number> {
  const { rows } = await system.db.query<{ n: number }>(sql, values);
  return rows[0]?.n ?? 0;
}

describe('a Postgres outage during processing', () => {
  it('ends every job with nothing lost and nothing submitted twice once the server is back', async () => {
    const jobs: Job[] = [];
    for (let i = 0; i < 8; i++) {
      const customer = await createCustomer(system, profile(`Outage Owner ${i}`));
      jobs.push(await enqueueJob(system, customer.id, DIRECTORIES, ((i % 2) + 1) as 1 | 2));
    }
    const ids = jobs.map((j) => j.id);
    await eventually(
      'work under way: a directory submitted and jobs in progress',
      async () => {
        const submitted = await count(
          `SELECT count(*)::int AS n FROM submissions WHERE job_id = ANY($1::uuid[]) AND status = 'submitted'`,
          [ids],
        );
        const running = await count(
          `SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[]) AND status = 'in_progress'`,
          [ids],
        );
        return submitted >= 1 && running >= 2 ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    );

    // Act: the database goes away for a few seconds, then comes back on the same port with the same data.
    await server.stop();
    const during = await system.db.query('SELECT 1').then(
      () => 'answered',
      () => 'refused',
    );
    await new Promise((r) => setTimeout(r, 2_500));
    server = await startServer();

    await eventually(
      'every job to end',
      async () =>
        (await count(
          `SELECT count(*)::int AS n FROM jobs
           WHERE id = ANY($1::uuid[]) AND status NOT IN ('completed', 'failed', 'cancelled')`,
          [ids],
        )) === 0
          ? true
          : undefined,
      { timeoutMs: 120_000, intervalMs: 250 },
    );

    expect(during).toBe('refused');
    const report = await expectNothingLostNothingTwice(system, ids);
    expect(report.jobs).toEqual({ completed: jobs.length });
    expect(report.directories.submitted).toBe(jobs.length * DIRECTORIES.length);
    // The outage really interrupted work: jobs were claimed again after it, or requeued by recovery.
    const interrupted = await count(
      `SELECT count(*)::int AS n FROM (
         SELECT job_id FROM job_events WHERE job_id = ANY($1::uuid[])
         GROUP BY job_id
         HAVING count(*) FILTER (WHERE type = 'claimed') > 1 OR count(*) FILTER (WHERE type = 'requeued') > 0
       ) t`,
      [ids],
    );
    expect(interrupted).toBeGreaterThan(0);
  });
});
