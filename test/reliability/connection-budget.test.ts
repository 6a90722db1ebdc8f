/**
 * The connection budget under load (issue 16): many worker processes, each with K directories in flight,
 * against Postgres behind PgBouncer in transaction pooling with a small server pool. Each process is a
 * container of its own (test/helpers/lane-worker.ts, a forked tsx script with its own pool from the real
 * database module at the worker's pool size, policy DATABASE.poolMax.worker) running the worker's real
 * statements: claim, heartbeats, per directory the site lease and the ledger's begin → settle, finish. Only
 * the browser is replaced, by a sleep per visit: what is measured is the database side.
 *
 * Counted at the far end: every job completed; every (job, directory) posted exactly once by the processes'
 * own reports (the "site's" counter, kept apart from the ledger) and submitted exactly once in the ledger;
 * the site leases' own visit counter; no two visits to one site at a time; zero errors of any kind, and
 * zero connection errors (pool timeouts, the pooler or server refusing clients) among them. Printed: peak
 * server connections (pg_stat_activity) against the pooler's pool size, and the workers' pool waits at the
 * policy's pool size and at one more, the figures docs/infrastructure.md quotes ("K lanes on one pool").
 *
 * Loopback only; bounded (every wait has a deadline), and it stops its processes and PgBouncer itself.
 * Sizes can be changed for a longer run: BUDGET_PROCESSES, BUDGET_JOBS_PER_PROCESS, BUDGET_DIRECTORIES,
 * BUDGET_SITES, BUDGET_VISIT_MS, BUDGET_POOLER_SIZE, BUDGET_POOLS (e.g. "2,3").
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type PgBouncer, startPgBouncer } from '#local/services/pgbouncer';
import { createScratchDatabase } from '#local/services/postgres';
import { PROJECT_ROOT } from '#local/services/python';
import { DATABASE, WORKER } from '#policy';
import { PgCustomerStore } from '#shared/customer-store';
import { createDatabase, type Database } from '#shared/db';
import { PgDirectoryStore } from '#shared/directory-store';
import { intEnv } from '#shared/env';
import { PgJobStore } from '#shared/job-store';
import { migrate } from '#shared/migrate';
import type { ChildMessage, JobReport, ParentMessage, PoolStats, VisitReport } from '#test/lane-worker';
import { uniqueName } from '#test/services';
import { profile, simpleDirectory } from '#test/worker-jobs';
import { type Summary, summarize } from '../../bench/lib/stats.ts';

const PROCESSES = intEnv(process.env, 'BUDGET_PROCESSES', 50);
const JOBS_PER_PROCESS = intEnv(process.env, 'BUDGET_JOBS_PER_PROCESS', 1);
const DIRECTORIES_PER_JOB = intEnv(process.env, 'BUDGET_DIRECTORIES', 12);
const SITES = intEnv(process.env, 'BUDGET_SITES', 3_000);
const VISIT_MS = intEnv(process.env, 'BUDGET_VISIT_MS', 4_000);
/** PgBouncer's server connections for the database: the "small pool" every client shares. */
const POOLER_SIZE = intEnv(process.env, 'BUDGET_POOLER_SIZE', 20);
const K = WORKER.directoriesInFlight;
/** The policy's worker pool (asserted on), then one more, for the comparison. */
const POOLS = (process.env.BUDGET_POOLS ?? `${DATABASE.poolMax.worker},${DATABASE.poolMax.worker + 1}`)
  .split(',')
  .map(Number);

/**
 * The worker's timers, shortened with the visits (a real directory takes seconds to tens of seconds, here 2
 * to 6 s): heartbeats every 1 s instead of 20 s, and a 6 s site lease renewed every 2 s instead of 60 s / 20 s,
 * so a lane sends its statements more densely than production does, never less. The lease stays long against
 * the worst pool wait (a 1.5 s lease did not: a renewal queued on a saturated machine past its expiry, and a
 * second worker took the site mid-visit, as the lease is designed to do for a holder that cannot renew).
 */
const WORKER_ENV = {
  WORKER_DIRECTORIES_IN_FLIGHT: String(K),
  HEARTBEAT_INTERVAL_MS: '1000',
  SITE_LEASE_MS: '6000',
  SITE_MIN_GAP_MS: '100',
  SITE_WAIT_MAX_MS: '60000',
  VISIT_MS: String(VISIT_MS),
  POWERTOOLS_LOG_LEVEL: 'SILENT',
};

/** One forked worker process and the messages it sent. */
class LaneProcess {
  readonly child: ChildProcess;
  private readonly waiters: Array<{ type: ChildMessage['type']; resolve: (m: ChildMessage) => void }> = [];
  exited = false;

  constructor(
    index: number,
    databaseUrl: string,
    private readonly onReport: (m: VisitReport | JobReport) => void,
  ) {
    this.child = fork(join(PROJECT_ROOT, 'test/helpers/lane-worker.ts'), [], {
      execArgv: ['--import', 'tsx'],
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...WORKER_ENV, DATABASE_URL: databaseUrl, WORKER_INDEX: String(index) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('exit', () => {
      this.exited = true;
    });
    this.child.on('message', (m: ChildMessage) => {
      if (m.type === 'visit' || m.type === 'job') this.onReport(m);
      const i = this.waiters.findIndex((w) => w.type === m.type);
      if (i >= 0) this.waiters.splice(i, 1)[0]?.resolve(m);
    });
  }

  send(message: ParentMessage): void {
    this.child.send(message);
  }

  next<T extends ChildMessage['type']>(type: T): Promise<Extract<ChildMessage, { type: T }>> {
    return new Promise((resolve) =>
      this.waiters.push({ type, resolve: resolve as (m: ChildMessage) => void }),
    );
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise((r) => this.child.once('exit', r));
    if (this.child.connected) this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  }
}

/** Rejects after `ms` with what was being waited for: nothing here waits without a bound. */
function within<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

interface PhaseResult {
  poolMax: number;
  jobs: string[];
  wallMs: number;
  peakServerConnections: number;
  peakActiveServerConnections: number;
  /** Every process's pool checkout waits, together (ms). */
  poolWait: Summary;
  /** Share of checkouts that found the pool full and every client busy, and how long those waited (ms). */
  queuedShare: number;
  queuedWait: Summary;
  /** The queued checkouts' waits per directory visited: what the shared pool adds to a directory's time. */
  queuedMsPerDirectory: number;
  /** How long a checkout held its client (ms), and the share of the phase the pools' clients were held. */
  hold: Summary;
  poolBusy: number;
  maxWaitingCount: number;
  meanWaitingCount: number;
  connectionErrors: string[];
  otherErrors: string[];
  jobReports: JobReport[];
}

let scratch: { url: string; drop(): Promise<void> } | undefined;
let seedDb: Database | undefined;
let bouncer: PgBouncer | undefined;
let procs: LaneProcess[] = [];
const visits: VisitReport[] = [];
const jobReports: JobReport[] = [];
let directoryIds: string[] = [];
const siteOf = new Map<string, string>();

beforeAll(async () => {
  scratch = await createScratchDatabase(inject('pgServerUrl'), `ff_${uniqueName('conn_budget')}`);
  seedDb = createDatabase({ connectionString: scratch.url, max: 8 });
  const client = await seedDb.pool.connect();
  try {
    await migrate(client);
  } finally {
    client.release();
  }
  const directories = new PgDirectoryStore(seedDb);
  directoryIds = Array.from({ length: SITES }, (_, i) => `budget-${i}`);
  for (let i = 0; i < SITES; i += 50) {
    await Promise.all(
      directoryIds.slice(i, i + 50).map((id) => {
        siteOf.set(id, `http://${id}.test`);
        return directories.upsert(simpleDirectory(id, `http://${id}.test`));
      }),
    );
  }
  bouncer = await startPgBouncer({ serverUrl: inject('pgServerUrl'), poolSize: POOLER_SIZE });
}, 120_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await bouncer?.stop();
  await seedDb?.end();
  await scratch?.drop();
}, 60_000);

/** A job per (process, slot), each for a new customer and DIRECTORIES_PER_JOB directories drawn at random. */
async function seedJobs(
  db: Database,
  phase: number,
): Promise<Array<{ jobId: string; enqueueToken: number }>> {
  const customers = new PgCustomerStore(db);
  const jobs = new PgJobStore(db);
  const created: Array<{ jobId: string; enqueueToken: number }> = [];
  const count = PROCESSES * JOBS_PER_PROCESS;
  for (let i = 0; i < count; i += 25) {
    created.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(25, count - i) }, async (_, j) => {
          const customer = await customers.create('budget-owner', profile(`Budget ${phase} ${i + j}`));
          const picked = [...directoryIds].sort(() => Math.random() - 0.5).slice(0, DIRECTORIES_PER_JOB);
          const job = await jobs.create({
            customerId: customer.id,
            ownerKeyId: 'budget-owner',
            priority: 1,
            requestedPriority: 1,
            package: null,
            directoryIds: picked,
          });
          await jobs.markQueued(job.id, job.enqueueToken);
          return { jobId: job.id, enqueueToken: job.enqueueToken };
        }),
      )),
    );
  }
  return created;
}

/** Samples the server's connections to the test database (through PgBouncer: its server connections). */
async function sampleServer(
  database: string,
): Promise<{ stop(): Promise<{ peak: number; peakActive: number }> }> {
  // On the server's maintenance database, so the sampler is not among what it counts.
  const client = new pg.Client({ connectionString: inject('pgServerUrl') });
  await client.connect();
  let peak = 0;
  let peakActive = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const { rows } = await client.query<{ n: number; active: number }>(
        `SELECT count(*)::int AS n, count(*) FILTER (WHERE state <> 'idle')::int AS active
         FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'`,
        [database],
      );
      peak = Math.max(peak, rows[0]?.n ?? 0);
      peakActive = Math.max(peakActive, rows[0]?.active ?? 0);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await client.end();
      return { peak, peakActive };
    },
  };
}

async function runPhase(
  poolMax: number,
  work: Array<{ jobId: string; enqueueToken: number }>,
): Promise<PhaseResult> {
  // Every process becomes a fresh container with this pool size, then all get their jobs at once.
  await within(
    `${PROCESSES} pools of ${poolMax}`,
    60_000,
    Promise.all(
      procs.map((p) => {
        const ready = p.next('ready');
        p.send({ type: 'pool', poolMax });
        return ready;
      }),
    ),
  );
  const database = new URL(scratch?.url as string).pathname.slice(1);
  const sampler = await sampleServer(database);
  const reportsBefore = jobReports.length;
  const started = Date.now();
  const done = new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (jobReports.length - reportsBefore >= work.length) {
        clearInterval(check);
        resolve();
      }
    }, 20);
  });
  work.forEach((w, i) => {
    (procs[i % PROCESSES] as LaneProcess).send({ type: 'job', ...w });
  });
  let server = { peak: 0, peakActive: 0 };
  try {
    await within(`${work.length} jobs at pool ${poolMax}`, 90_000, done);
  } finally {
    // The sampler stops whatever happened.
    server = await sampler.stop();
  }
  const wallMs = Date.now() - started;
  const stats = await within(
    'every process’s pool figures',
    30_000,
    Promise.all(
      procs.map((p) => {
        const s = p.next('stats');
        p.send({ type: 'close' });
        return s;
      }),
    ),
  );
  const waits = stats.flatMap((s: PoolStats) => s.waits);
  return {
    poolMax,
    jobs: work.map((w) => w.jobId),
    wallMs,
    peakServerConnections: server.peak,
    peakActiveServerConnections: server.peakActive,
    poolWait: summarize(waits),
    queuedShare: stats.reduce((n, s) => n + s.queuedWaits.length, 0) / Math.max(1, waits.length),
    queuedWait: summarize(stats.flatMap((s) => s.queuedWaits)),
    queuedMsPerDirectory:
      stats.reduce((n, s) => n + s.queuedWaits.reduce((a, b) => a + b, 0), 0) /
      (work.length * DIRECTORIES_PER_JOB),
    hold: summarize(stats.flatMap((s) => s.holds)),
    poolBusy:
      stats.reduce((n, s) => n + s.holds.reduce((a, b) => a + b, 0), 0) / (PROCESSES * poolMax * wallMs),
    maxWaitingCount: Math.max(...stats.map((s) => s.maxWaiting)),
    meanWaitingCount: stats.reduce((n, s) => n + s.meanWaiting, 0) / stats.length,
    connectionErrors: stats.flatMap((s) => s.errors.connection),
    otherErrors: stats.flatMap((s) => s.errors.other),
    jobReports: jobReports.slice(reportsBefore),
  };
}

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '—');

function table(results: readonly PhaseResult[]): string {
  const rows = results.map((r) => {
    const visitsDone = r.jobs.length * DIRECTORIES_PER_JOB;
    return `| ${PROCESSES} × K=${K} | ${r.poolMax} | ${PROCESSES * r.poolMax} | ${POOLER_SIZE} | ${r.peakServerConnections} (${r.peakActiveServerConnections} busy) | ${r.poolWait.n} | ${ms(r.poolWait.p50)} / ${ms(r.poolWait.p95)} / ${ms(r.poolWait.p99)} / ${ms(r.poolWait.max)} | ${ms(r.hold.p50)} / ${ms(r.hold.p95)} | ${(r.poolBusy * 100).toFixed(1)} % | ${(r.queuedShare * 100).toFixed(1)} % | ${ms(r.queuedWait.p50)} / ${ms(r.queuedWait.p95)} / ${ms(r.queuedWait.max)} | ${ms(r.queuedMsPerDirectory)} | ${r.maxWaitingCount} / ${r.meanWaitingCount.toFixed(2)} | ${r.connectionErrors.length} / ${r.otherErrors.length} | ${visitsDone} in ${(r.wallMs / 1000).toFixed(1)} s |`;
  });
  return [
    '| processes × lanes | pool per process | client connections | pooler pool | peak server connections | checkouts | checkout wait p50 / p95 / p99 / max (ms) | client held p50 / p95 (ms) | pool busy | queued (pool full) | queued wait p50 / p95 / max (ms) | queued ms per directory | waitingCount max / mean | connection / other errors | visits |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

describe('the connection budget with K lanes per worker', () => {
  it(`${PROCESSES} worker processes × K=${K} behind PgBouncer (pool ${POOLER_SIZE}): no connection errors, nothing lost or doubled`, async () => {
    const t0 = performance.now();
    const db = seedDb as Database;
    const phases = await Promise.all(POOLS.map((_, i) => seedJobs(db, i)));
    // The seeding pool closes, so every server connection to the database during the run is PgBouncer's.
    await db.end();
    seedDb = undefined;
    const url = (bouncer as PgBouncer).urlFor(scratch?.url as string);
    procs = Array.from(
      { length: PROCESSES },
      (_, i) =>
        new LaneProcess(i, url, (m) => {
          if (m.type === 'visit') visits.push(m);
          else jobReports.push(m);
        }),
    );
    console.log(`${phases.flat().length} jobs seeded in ${Math.round(performance.now() - t0)} ms`);
    const results: PhaseResult[] = [];
    for (const [i, poolMax] of POOLS.entries()) results.push(await runPhase(poolMax, phases[i] ?? []));
    await Promise.all(procs.map((p) => p.stop()));

    const printed = table(results);
    console.log(
      `\nconnection budget: ${PROCESSES} processes, K=${K}, ${JOBS_PER_PROCESS} jobs × ${DIRECTORIES_PER_JOB} directories each per phase, visits ${VISIT_MS} ms ± 50 %, ${SITES} sites, PgBouncer transaction pooling, pool ${POOLER_SIZE}\n${printed}\n`,
    );
    await mkdir(join(PROJECT_ROOT, 'test-artifacts'), { recursive: true });
    await writeFile(
      join(PROJECT_ROOT, 'test-artifacts', 'connection-budget.json'),
      `${JSON.stringify(
        {
          processes: PROCESSES,
          k: K,
          jobsPerProcess: JOBS_PER_PROCESS,
          directoriesPerJob: DIRECTORIES_PER_JOB,
          sites: SITES,
          visitMs: VISIT_MS,
          poolerPoolSize: POOLER_SIZE,
          phases: results.map(({ jobReports: _, jobs: __, ...r }) => r),
        },
        null,
        2,
      )}\n`,
    );

    // Zero errors of any kind; in particular none from the pool, the pooler or the server.
    for (const r of results) {
      expect(r.connectionErrors, `connection errors at pool ${r.poolMax}`).toEqual([]);
      expect(r.otherErrors, `other errors at pool ${r.poolMax}`).toEqual([]);
      expect(r.jobReports.filter((j) => j.outcome !== 'completed')).toEqual([]);
      // The server side stays within the pooler's pool, whatever the client count.
      expect(r.peakServerConnections).toBeLessThanOrEqual(POOLER_SIZE);
      // A checkout queued behind the other lanes still comes inside the pool's own timeout (past it, the
      // pool would have refused the checkout: a connection error).
      expect(r.poolWait.max).toBeLessThan(DATABASE.connectTimeoutMs);
    }

    // At the far end, counted apart from the ledger: every (job, directory) posted exactly once.
    const check = createDatabase({ connectionString: scratch?.url as string, max: 2 });
    try {
      const allJobs = results.flatMap((r) => r.jobs);
      const expected = allJobs.length * DIRECTORIES_PER_JOB;
      const posts = new Map<string, number>();
      for (const v of visits) {
        if (v.posted)
          posts.set(`${v.jobId}/${v.directoryId}`, (posts.get(`${v.jobId}/${v.directoryId}`) ?? 0) + 1);
      }
      expect(visits.length).toBe(expected);
      expect(posts.size).toBe(expected);
      expect([...posts.values()].filter((n) => n !== 1)).toEqual([]);

      // The ledger agrees: each row submitted, on its first attempt, and exactly the rows that were posted.
      const { rows } = await check.query<{
        job_id: string;
        directory_id: string;
        status: string;
        attempt: number;
      }>('SELECT job_id, directory_id, status, attempt FROM submissions WHERE job_id = ANY($1::uuid[])', [
        allJobs,
      ]);
      expect(rows.length).toBe(expected);
      expect(rows.filter((r) => r.status !== 'submitted' || r.attempt !== 1)).toEqual([]);
      expect(new Set(rows.map((r) => `${r.job_id}/${r.directory_id}`))).toEqual(new Set(posts.keys()));
      const jobs = await check.query<{ status: string; n: number }>(
        'SELECT status, count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[]) GROUP BY status',
        [allJobs],
      );
      expect(jobs.rows).toEqual([{ status: 'completed', n: allJobs.length }]);

      // The site leases' own counter, and one visit per site at a time (intervals from the processes' clocks,
      // one machine: a visit's start is taken once its lease is held, its end before the lease is given back).
      const counted = await check.query<{ n: number }>(
        'SELECT coalesce(sum(visits), 0)::int AS n FROM site_visits',
      );
      expect(counted.rows[0]?.n).toBe(expected);
      const bySite = new Map<string, VisitReport[]>();
      for (const v of visits) bySite.set(v.site, [...(bySite.get(v.site) ?? []), v]);
      const overlaps: string[] = [];
      for (const [site, list] of bySite) {
        list.sort((a, b) => a.startedAt - b.startedAt);
        for (let i = 1; i < list.length; i++) {
          const [a, b] = [list[i - 1] as VisitReport, list[i] as VisitReport];
          if (b.startedAt < a.endedAt) overlaps.push(`${site}: ${a.jobId} and ${b.jobId}`);
        }
      }
      expect(overlaps).toEqual([]);
      expect(bySite.size).toBeGreaterThan(1);
      expect([...bySite.keys()].every((s) => [...siteOf.values()].includes(s))).toBe(true);
    } finally {
      await check.end();
    }
  }, 240_000);
});
