/**
 * d. Stale scan and requeue among 1,000,000 jobs: 100 and then 10,000 jobs whose worker went silent (status
 * in_progress, heartbeat 20 minutes old) among completed, failed, queued and live jobs. For each: the scan
 * alone (find_stale_jobs, as the requeue statement uses it: a batch of RECOVERY.staleBatchSize, and all of
 * them), with its EXPLAIN plan, and the real stale-jobs handler run after run until every stale job is
 * requeued and re-sent to its tier queue (moto, drained as it fills, as workers would keep it).
 */

import { staleJobsDepsFromEnv } from '#functions/recovery/deps';
import {
  makeStaleJobsHandler,
  type StaleJobsDeps,
  type StaleJobsReport,
} from '#functions/recovery/stale-jobs';
import { startPoller } from '#local/sqs-poller';
import { RECOVERY } from '#policy';
import { PgCustomerStore } from '#shared/customer-store';
import { profile } from '#test/worker-jobs';
import { type Benchmark, intArg, intListArg } from './lib/benchmark.ts';
import { BENCH_OWNER } from './lib/fixtures.ts';
import { fmt, type Table } from './lib/report.ts';
import { elapsedMs, summarize } from './lib/stats.ts';

const SCAN_SQL = `SELECT id FROM find_stale_jobs(make_interval(secs => $1))`;

export const stale: Benchmark = {
  name: 'stale',
  title: 'Stale scan and requeue among 1,000,000 jobs',
  summary: 'find and requeue 100 and 10,000 stale jobs among 1,000,000, with the EXPLAIN plan',
  async run(ctx) {
    const total = intArg(ctx.args, 'jobs', 1_000_000);
    const scenarios = intListArg(ctx.args, 'stale', [100, 10_000]);
    const live = intArg(ctx.args, 'live', 1_000);
    const services = await ctx.services();
    const system = await services.system('stale', { workers: false, fixtures: [] });
    const db = system.db;
    const customer = await new PgCustomerStore(db).create(BENCH_OWNER, profile('Stale Bench Co'));

    ctx.log(`loading ${total.toLocaleString('en-US')} jobs`);
    const loadStart = performance.now();
    // Ended jobs, a queue's worth waiting, and `live` jobs heartbeating now (their workers are fine).
    await db.query(
      `INSERT INTO jobs (customer_id, owner_key_id, priority, requested_priority, status, attempts,
                         enqueue_token, fencing_token, claimed_by, claimed_at, heartbeat_at, progress,
                         created_at, queued_at, started_at, finished_at)
       SELECT $1, $2, p, p,
              CASE WHEN i <= $4 THEN 'in_progress' WHEN i <= $4 + 9000 THEN 'queued'
                   WHEN i % 50 = 0 THEN 'failed' ELSE 'completed' END,
              0, 1, 1,
              CASE WHEN i <= $4 THEN 'live-worker' END,
              CASE WHEN i <= $4 THEN now() END,
              CASE WHEN i <= $4 THEN now() ELSE now() - make_interval(secs => i % 86400) END,
              '{"total":1,"done":0}'::jsonb,
              now() - make_interval(secs => i), now() - make_interval(secs => i),
              CASE WHEN i > $4 + 9000 OR i <= $4 THEN now() - make_interval(secs => i) END,
              CASE WHEN i > $4 + 9000 THEN now() - make_interval(secs => i) + interval '5 minutes' END
       FROM generate_series(1, $3) AS i, LATERAL (SELECT 1 + (i % 3) AS p) t`,
      [customer.id, BENCH_OWNER, total, live],
    );
    await db.query('ANALYZE jobs');
    const loadMs = elapsedMs(loadStart);
    ctx.log(`loaded in ${fmt(loadMs / 1000, 1)} s`);

    // The handler as the Lambda builds it, its requeue statements timed from outside; once with the real SQS
    // adapter (moto) and once with the queue port stubbed, which leaves formfleet's own work.
    const deps = await staleJobsDepsFromEnv(system.env, db);
    const options = {
      ...deps.options,
      batchSize: intArg(ctx.args, 'batch', deps.options.batchSize),
      maxRequeuesPerRun: intArg(ctx.args, 'per-run', deps.options.maxRequeuesPerRun),
    };
    const timing = { requeueMs: 0 };
    const store: StaleJobsDeps['store'] = {
      requeueStale: async (o, alertsFor) => {
        const t = performance.now();
        try {
          return await deps.store.requeueStale(o, alertsFor);
        } finally {
          timing.requeueMs += elapsedMs(t);
        }
      },
      leasePending: (g, l) => deps.store.leasePending(g, l),
      liveJobs: (secs) => deps.store.liveJobs(secs),
      addAlerts: (a) => deps.store.addAlerts(a),
      queuedByTier: (q) => deps.store.queuedByTier(q),
      takeQuietQueued: (p, q, l) => deps.store.takeQuietQueued(p, q, l),
      pruneRequestKeys: (t, l) => deps.store.pruneRequestKeys(t, l),
    };
    const handlers = {
      moto: makeStaleJobsHandler({ ...deps, options, store }),
      stubbed: makeStaleJobsHandler({ ...deps, options, store, queue: { enqueue: async () => {} } }),
    };
    // Keep the tier queues near empty while the handler sends (moto's FIFO send slows with depth).
    const drains = system.queues.map((q) =>
      startPoller({
        sqs: system.sqs,
        queueUrl: q.url,
        queueArn: q.arn,
        handler: async () => ({ batchItemFailures: [] }),
        batchSize: 10,
        maxConcurrency: 4,
        functionName: 'drain',
      }),
    );
    const makeStale = (ids: readonly string[]) =>
      db.query(
        `UPDATE jobs SET status = 'in_progress', claimed_by = 'dead-worker', claimed_at = now() - interval '30 minutes',
                heartbeat_at = now() - interval '20 minutes', finished_at = NULL
         WHERE id = ANY($1::uuid[])`,
        [ids],
      );
    /** Runs the handler until a run finds nothing stale; every stale job must end requeued and queued. */
    const recover = async (mode: 'moto' | 'stubbed', count: number) => {
      timing.requeueMs = 0;
      const reports: StaleJobsReport[] = [];
      const runMs: number[] = [];
      const start = performance.now();
      for (;;) {
        const t = performance.now();
        const report = await handlers[mode]();
        runMs.push(elapsedMs(t));
        reports.push(report);
        if (report.stale === 0) break;
      }
      const totalMs = elapsedMs(start);
      const requeued = reports.reduce((n, r) => n + r.requeued, 0);
      const { rows: left } = await db.query<{ stale: number; pending: number }>(
        `SELECT count(*) FILTER (WHERE status = 'in_progress' AND claimed_by = 'dead-worker')::int AS stale,
                count(*) FILTER (WHERE status = 'pending')::int AS pending FROM jobs`,
      );
      if (requeued !== count || left[0]?.stale !== 0 || left[0]?.pending !== 0) {
        throw new Error(`${mode}: requeued ${requeued} of ${count}; left ${JSON.stringify(left[0])}`);
      }
      return { mode, totalMs, requeueMs: timing.requeueMs, runs: runMs.length - 1, runMs };
    };

    const rows: (string | number)[][] = [];
    const plans: Record<string, string[]> = {};
    const results: Record<string, unknown>[] = [];
    try {
      let offset = live + 9000;
      for (const count of scenarios) {
        // `count` ended jobs become stale in-progress ones (their worker died 20 minutes ago).
        const { rows: picked } = await db.query<{ id: string }>(
          `SELECT id FROM jobs WHERE status = 'completed' ORDER BY created_at DESC OFFSET $1 LIMIT $2`,
          [offset, count],
        );
        const ids = picked.map((r) => r.id);
        offset += count;
        await makeStale(ids);
        await db.query('ANALYZE jobs');

        const batch: number[] = [];
        const all: number[] = [];
        for (let i = 0; i < 30; i++) {
          let t = performance.now();
          await db.query(`${SCAN_SQL} LIMIT $2`, [RECOVERY.staleAfterSeconds, options.batchSize]);
          batch.push(elapsedMs(t));
          t = performance.now();
          const { rows: found } = await db.query(SCAN_SQL, [RECOVERY.staleAfterSeconds]);
          all.push(elapsedMs(t));
          if (found.length !== count) throw new Error(`the scan found ${found.length}, not ${count}`);
        }
        const explain = async (sql: string, params: unknown[]) =>
          (
            await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${sql}`, params)
          ).rows.map((r) => r['QUERY PLAN']);
        plans[`${count} stale: one batch`] = await explain(`${SCAN_SQL} LIMIT $2`, [
          RECOVERY.staleAfterSeconds,
          options.batchSize,
        ]);
        plans[`${count} stale: all`] = await explain(SCAN_SQL, [RECOVERY.staleAfterSeconds]);

        ctx.log(`${count} stale: requeue with the SQS port stubbed`);
        const own = await recover('stubbed', count);
        await makeStale(ids);
        ctx.log(`${count} stale: requeue and send to SQS (moto)`);
        const withSqs = await recover('moto', count);
        const b = summarize(batch);
        const a = summarize(all);
        rows.push([
          count.toLocaleString('en-US'),
          fmt(b.p50, 2),
          fmt(a.p50, 2),
          fmt(own.requeueMs, 0),
          String(own.runs),
          fmt(own.totalMs, 0),
          fmt(withSqs.totalMs, 0),
        ]);
        results.push({ count, batchScan: b, fullScan: a, own, withSqs });
      }
    } finally {
      await Promise.all(drains.map((d) => d.stop(2_000)));
    }
    const table: Table = {
      title: `Stale jobs among ${total.toLocaleString('en-US')} (ms)`,
      columns: [
        'stale jobs',
        `scan p50, batch of ${options.batchSize}`,
        'scan p50, all',
        'requeue statements, total',
        'handler runs',
        'handler total, SQS stubbed',
        'handler total, SQS on moto',
      ],
      rows,
      notes: [
        `jobs: ${total.toLocaleString('en-US')} (98 % completed, 2 % failed, 9,000 queued, ${live.toLocaleString('en-US')} in progress with fresh heartbeats), loaded in ${fmt(loadMs / 1000, 0)} s`,
        `one handler run takes at most ${options.maxRequeuesPerRun.toLocaleString('en-US')} stale jobs, in statements of ${options.batchSize}; runs repeat here back to back until none is left (the schedule repeats every ${RECOVERY.staleCheckIntervalSeconds} s)`,
        'handler total = every run, including the last, empty one: requeue statements, sends (SendMessageBatch), one "queued" statement per batch, alerts to the outbox and SNS',
        'SQS stubbed = the queue port does nothing: what formfleet itself spends; SQS on moto adds the emulator (serialised, slower with queue depth; drained here as workers would)',
      ],
    };
    const planTable: Table = {
      title: 'EXPLAIN (ANALYZE, BUFFERS) of the scan',
      columns: ['scan', 'plan'],
      rows: Object.entries(plans).flatMap(([what, lines]) =>
        lines.map((line, i) => [i === 0 ? what : '', line]),
      ),
    };
    const last = results.at(-1) as
      | { count: number; own: { totalMs: number }; withSqs: { totalMs: number }; fullScan: { p50: number } }
      | undefined;
    return {
      params: {
        jobs: total,
        stale: scenarios,
        live,
        staleBatchSize: options.batchSize,
        maxRequeuesPerRun: options.maxRequeuesPerRun,
        postgres: `${services.postgresKind} ${services.postgresVersion}`,
      },
      tables: [table, planTable],
      goals: last
        ? [
            {
              goal: `requeue ${last.count.toLocaleString('en-US')} stale jobs (formfleet's own work, SQS stubbed)`,
              target: '≤ 5 s',
              measured: `${fmt(last.own.totalMs / 1000, 2)} s`,
              met: last.own.totalMs <= 5_000,
            },
            {
              goal: `requeue ${last.count.toLocaleString('en-US')} stale jobs and send them to SQS on moto`,
              target: '≤ 5 s',
              measured: `${fmt(last.withSqs.totalMs / 1000, 2)} s`,
              met: last.withSqs.totalMs <= 5_000,
            },
            {
              goal: `the scan alone (all ${last.count.toLocaleString('en-US')})`,
              target: '≤ 50 ms',
              measured: `${fmt(last.fullScan.p50, 1)} ms p50`,
              met: last.fullScan.p50 <= 50,
            },
          ]
        : [],
      raw: { loadMs, results, plans },
    };
  },
};
