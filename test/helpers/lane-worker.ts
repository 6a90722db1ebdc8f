/**
 * One simulated worker container for the connection-budget run (test/reliability/connection-budget.test.ts):
 * a process of its own, with its own pool, as a Lambda container has. It runs the worker's real database
 * access pattern with K lanes and replaces only the browser: each directory's "visit" is a sleep, split at
 * the submit click. Per job: PgJobStore.claim, the ledger's rows and the customer, heartbeats every
 * HEARTBEAT_INTERVAL_MS (fenced job heartbeat and the worker's registry row); per directory, on one of K
 * lanes: the directory's row, the ledger's holder check, the site's politeness lease (PgSitePoliteness:
 * acquire, renewals while the visit lasts, release), the first half of the visit, the ledger's begin, the
 * post (reported to the parent, which counts it: the far end's counter), the second half, the ledger's
 * settle and the lifecycle's entry; then finish. The pool comes from the real database module
 * (databaseFromEnv: DATABASE_URL, DATABASE_POOL_MAX as CDK sets it); the numbers from the worker's own env
 * readers (workerOptionsFromEnv: K, heartbeat, site wait; sitePolitenessFromEnv: lease, gap).
 *
 * Measured here, and sent to the parent with every job's end: every error any store met (classified: a
 * connection error is one the pool or the pooler raised), each pool checkout's wait (pg Pool.connect, timed
 * from the call to the client), and the pool's waitingCount sampled every 5 ms.
 *
 * IPC, parent → child: { type: 'pool', poolMax } (a fresh pool: a new container), { type: 'job', jobId,
 * enqueueToken }, { type: 'close' } (the container goes: its pool's stats, then its pool ends). Child → parent: { type: 'ready' }, { type: 'visit', ... },
 * { type: 'job', ... }, { type: 'stats', ... }. Environment: DATABASE_URL, WORKER_INDEX, VISIT_MS, and what
 * the env readers above read.
 */
import { performance } from 'node:perf_hooks';
import { PgListingLifecycle } from '#functions/lifecycle/listing-lifecycle';
import { lifecycleTimingFromEnv } from '#functions/lifecycle/timing';
import { sitePolitenessFromEnv, workerOptionsFromEnv } from '#functions/worker/deps';
import { PgWorkerRegistry } from '#functions/worker/worker-registry';
import { PgCustomerStore } from '#shared/customer-store';
import { databaseFromEnv } from '#shared/database-config';
import type { Database, Sql } from '#shared/db';
import { PgDirectoryStore } from '#shared/directory-store';
import { requireEnv } from '#shared/env';
import { type Claim, type JobProgress, PgJobStore } from '#shared/job-store';
import { countByStatus, PgSubmissionLedger, type Submission } from '#shared/submission-ledger';
import { describeError } from '#shared/telemetry';

export type ParentMessage =
  | { type: 'pool'; poolMax: number }
  | { type: 'job'; jobId: string; enqueueToken: number }
  | { type: 'close' };

export interface VisitReport {
  type: 'visit';
  jobId: string;
  directoryId: string;
  site: string;
  /** Wall clock (ms) once the site's lease was held, and when the visit ended (before its release). */
  startedAt: number;
  endedAt: number;
  /** Whether the post was sent (the ledger's begin said yes). */
  posted: boolean;
}

export interface JobReport {
  type: 'job';
  jobId: string;
  outcome: 'completed' | 'failed';
  error?: string;
}

export interface PoolStats {
  type: 'stats';
  poolMax: number;
  /** Pool checkouts, and how long each waited for its client (ms), a new connection's opening included. */
  waits: number[];
  /** The waits of the checkouts that found every client busy and the pool full: queued behind other lanes. */
  queuedWaits: number[];
  /** How long each checkout held its client (ms): a statement, or a transaction's round trips. */
  holds: number[];
  /** Largest and mean pool.waitingCount, sampled every 5 ms while jobs ran. */
  maxWaiting: number;
  meanWaiting: number;
  /** Errors by kind: 'connection' (pool timeout, pooler or server refusing clients, connection lost) or 'other'. */
  errors: { connection: string[]; other: string[] };
}

export type ChildMessage = { type: 'ready' } | VisitReport | JobReport | PoolStats;

/** What counts as a connection error: the pool, the pooler or the server refusing or losing a client. */
function isConnectionError(err: unknown): boolean {
  const { message } = describeError(err);
  const code = (err as { code?: unknown })?.code;
  return (
    /no more connections|too many clients|timeout exceeded when trying to connect|connection terminated|ECONNREFUSED|ECONNRESET|server closed the connection|remaining connection slots|query_wait_timeout|pooler error/i.test(
      message,
    ) ||
    (typeof code === 'string' && (code === '53300' || code.startsWith('08') || code === '57P01'))
  );
}

const env = requireEnv(process.env, ['DATABASE_URL', 'WORKER_INDEX', 'VISIT_MS']);
const visitMs = Number(env.VISIT_MS);
const options = workerOptionsFromEnv(process.env);
const workerId = `lane-sim-${env.WORKER_INDEX}:${process.pid}`;
const send = (message: ChildMessage) => process.send?.(message);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Container {
  db: Database;
  poolMax: number;
  waits: number[];
  queuedWaits: number[];
  holds: number[];
  errors: PoolStats['errors'];
  waitingSamples: number[];
  sampler: NodeJS.Timeout;
  jobs: PgJobStore;
  ledger: PgSubmissionLedger;
  directories: PgDirectoryStore;
  customers: PgCustomerStore;
  registry: PgWorkerRegistry;
  lifecycle: PgListingLifecycle;
  politeness: ReturnType<typeof sitePolitenessFromEnv>;
}

/** A new container: the real database module's pool, instrumented, and the real stores on it. */
async function container(poolMax: number): Promise<Container> {
  const db = await databaseFromEnv(
    { ...process.env, DATABASE_POOL_MAX: String(poolMax) },
    'formfleet-worker',
  );
  const waits: number[] = [];
  const queuedWaits: number[] = [];
  const holds: number[] = [];
  const errors: PoolStats['errors'] = { connection: [], other: [] };
  // Each checkout timed from the call to the client (pg Pool.query checks out with a callback,
  // Database.transaction with the promise form).
  const pool = db.pool;
  const connect = pool.connect.bind(pool) as (cb?: (...args: unknown[]) => void) => Promise<unknown>;
  (pool as { connect: unknown }).connect = (cb?: (...args: unknown[]) => void) => {
    const t = performance.now();
    const queued = pool.idleCount === 0 && pool.totalCount >= poolMax;
    const done = () => {
      const ms = performance.now() - t;
      waits.push(ms);
      if (queued) queuedWaits.push(ms);
    };
    if (cb) {
      return connect((...args: unknown[]) => {
        done();
        cb(...args);
      });
    }
    return connect().then((client) => {
      done();
      return client;
    });
  };
  const heldSince = new WeakMap<object, number>();
  pool.on('acquire', (client) => heldSince.set(client, performance.now()));
  pool.on('release', (_err, client) => {
    const since = heldSince.get(client);
    if (since !== undefined) holds.push(performance.now() - since);
  });
  const watch = <T>(p: Promise<T>): Promise<T> =>
    p.catch((err: unknown) => {
      (isConnectionError(err) ? errors.connection : errors.other).push(describeError(err).message);
      throw err;
    });
  // Every store's statements go through this: an error is counted even where a store swallows it (the
  // site lease's renewal does, and retries on its next tick).
  const sql: Sql = {
    query: (text, values) => watch(db.query(text, values)),
    transaction: (fn) => watch(db.transaction(fn)),
  };
  const waitingSamples: number[] = [];
  const sampler = setInterval(() => waitingSamples.push(pool.waitingCount), 5);
  return {
    db,
    poolMax,
    waits,
    queuedWaits,
    holds,
    errors,
    waitingSamples,
    sampler,
    jobs: new PgJobStore(sql),
    ledger: new PgSubmissionLedger(sql),
    directories: new PgDirectoryStore(sql),
    customers: new PgCustomerStore(sql),
    registry: new PgWorkerRegistry(sql),
    lifecycle: new PgListingLifecycle(sql, lifecycleTimingFromEnv(process.env)),
    politeness: sitePolitenessFromEnv(process.env, sql),
  };
}

function stats(c: Container): PoolStats {
  const n = c.waitingSamples.length;
  return {
    type: 'stats',
    poolMax: c.poolMax,
    waits: c.waits,
    queuedWaits: c.queuedWaits,
    holds: c.holds,
    maxWaiting: Math.max(0, ...c.waitingSamples),
    meanWaiting: n === 0 ? 0 : c.waitingSamples.reduce((a, b) => a + b, 0) / n,
    errors: c.errors,
  };
}

/** One directory on one lane, as the worker visits it, with the browser replaced by a sleep. */
async function visit(c: Container, claim: Claim, row: Submission, progress: JobProgress): Promise<void> {
  const [directory] = await c.directories.getMany([row.directoryId]);
  if (!directory) throw new Error(`directory ${row.directoryId} is missing`);
  const holder = await c.ledger.holder(claim.jobId, row.directoryId);
  if (holder) throw new Error(`${row.directoryId} is held by job ${holder.jobId}`);
  const slot = await c.politeness.acquire(directory.site, {
    holder: workerId,
    maxWaitMs: options.siteWaitMaxMs,
  });
  const startedAt = Date.now();
  let posted = false;
  try {
    // Page load and filling the form; jitter so 300 lanes do not move in step.
    await sleep(visitMs * (0.25 + Math.random() * 0.5));
    posted = (await c.ledger.begin(claim, row.directoryId)) !== undefined;
    if (!posted) throw new Error(`the ledger refused to begin ${row.directoryId}`);
    // The post and its answer.
    await sleep(visitMs * (0.25 + Math.random() * 0.5));
  } finally {
    send({
      type: 'visit',
      jobId: claim.jobId,
      directoryId: row.directoryId,
      site: directory.site,
      startedAt,
      endedAt: Date.now(),
      posted,
    });
    await slot.release();
  }
  if (
    !(await c.ledger.settle(claim, row.directoryId, { status: 'submitted', evidence: { simulated: true } }))
  )
    throw new Error(`the ledger refused to settle ${row.directoryId}`);
  await c.lifecycle.enter(claim.jobId, row.directoryId);
  progress.done = (progress.done ?? 0) + 1;
}

class HeartbeatRefused extends Error {
  constructor(jobId: string) {
    super(`heartbeat of ${jobId} refused (claim superseded)`);
  }
}

async function runJob(c: Container, jobId: string, enqueueToken: number): Promise<void> {
  const claim = await c.jobs.claim(jobId, enqueueToken, workerId);
  if (!claim) throw new Error(`job ${jobId} could not be claimed`);
  const rows = await c.ledger.forJob(jobId);
  if (!(await c.customers.get(claim.customerId))) throw new Error(`customer of ${jobId} is missing`);
  const progress: JobProgress = { total: rows.length, done: 0 };
  let beating: Promise<void> | undefined;
  const heartbeat = setInterval(() => {
    beating ??= (async () => {
      if (!(await c.jobs.heartbeat(claim, progress))) throw new HeartbeatRefused(jobId);
      await c.registry.beat({
        id: workerId,
        jobsInFlight: 1,
        browser: {
          running: true,
          pagesSinceLaunch: progress.done ?? 0,
          launches: 1,
          recycles: 0,
          openContexts: 0,
        },
      });
    })()
      // A statement's error is counted by the instrumented Sql; a refusal here. The worker logs either
      // and beats again on the next tick.
      .catch((err: unknown) => {
        if (!(err instanceof HeartbeatRefused)) return;
        c.errors.other.push(err.message);
      })
      .finally(() => {
        beating = undefined;
      });
  }, options.heartbeatIntervalMs);
  try {
    const open = rows.filter((r) => r.status === 'prepared');
    const lanes = Array.from({ length: Math.min(options.directoriesInFlight, open.length) }, async () => {
      for (let row = open.shift(); row; row = open.shift()) await visit(c, claim, row, progress);
    });
    await Promise.all(lanes);
  } finally {
    clearInterval(heartbeat);
    await beating;
  }
  const counts = countByStatus(await c.ledger.forJob(jobId));
  if (!(await c.jobs.finish(claim, { status: 'completed', progress: { ...progress, counts } })))
    throw new Error(`finish of ${jobId} refused`);
}

let current: Container | undefined;
// A Lambda container runs one invocation at a time: jobs wait their turn.
let queue: Promise<void> = Promise.resolve();

process.on('message', (message: ParentMessage) => {
  if (message.type === 'pool') {
    queue = queue.then(async () => {
      if (current) {
        clearInterval(current.sampler);
        await current.db.end();
      }
      current = await container(message.poolMax);
      send({ type: 'ready' });
    });
  } else if (message.type === 'job') {
    queue = queue.then(async () => {
      const c = current as Container;
      try {
        await runJob(c, message.jobId, message.enqueueToken);
        send({ type: 'job', jobId: message.jobId, outcome: 'completed' });
      } catch (err) {
        send({ type: 'job', jobId: message.jobId, outcome: 'failed', error: describeError(err).message });
      }
    });
  } else {
    queue = queue.then(async () => {
      if (current) {
        clearInterval(current.sampler);
        send(stats(current));
        await current.db.end();
        current = undefined;
      }
    });
  }
});

// The parent closes the channel at the end (or died): nothing more will come.
process.on('disconnect', () => {
  void queue.finally(() => process.exit(0));
});
