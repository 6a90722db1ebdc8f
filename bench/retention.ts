/**
 * h. The cost of a year (issue 21): a year of history loaded at a stated volume (the issue's 5,000
 * directory submissions a day, scaled by --scale so it runs in minutes on a small shared machine), then the
 * real retention handler run to completion against moto S3, while the hot paths keep running: API job reads
 * (GET /v1/jobs/{id}) and creates (POST /v1/jobs) through the local gateway, and ledger writes shaped like the
 * worker's. Measured: the run's time, the hot paths' latency during it against the same load without it,
 * table and index sizes before, after the run and after VACUUM, and the archive it wrote.
 */
import { retentionDepsFromEnv } from '#functions/retention/deps';
import { makeRetentionHandler, type RetentionReport } from '#functions/retention/retention';
import { simpleForm } from '#local/fixtures/variants';
import { RETENTION } from '#policy';
import type { Database } from '#shared/db';
import { type Benchmark, intArg } from './lib/benchmark.ts';
import { BENCH_OWNER } from './lib/fixtures.ts';
import { fmt, type Table } from './lib/report.ts';
import { elapsedMs, type Summary, summarize } from './lib/stats.ts';

const DAYS = 365;
const DIRECTORIES = 200;
/** Directories per job (the starter package) and events per job: 4 for the job, 2 per directory. */
const PER_JOB = 25;
const GROWING = ['job_events', 'alert_outbox', 'workers', 'site_visits', 'evidence_objects'];
const KEPT = ['jobs', 'submissions', 'customers'];

interface Sizes {
  [table: string]: { rows: number; tableMb: number; indexMb: number; deadRows: number };
}

async function sizes(db: Database, tables: readonly string[]): Promise<Sizes> {
  await db.query(`ANALYZE ${tables.join(', ')}`);
  const { rows } = await db.query<{
    t: string;
    rows: number;
    table_b: number;
    index_b: number;
    dead: number;
  }>(
    `SELECT c.relname AS t, s.n_live_tup AS rows,
            pg_table_size(c.oid) AS table_b, pg_indexes_size(c.oid) AS index_b, s.n_dead_tup AS dead
     FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.relname = ANY($1::text[])`,
    [tables],
  );
  const exact = await Promise.all(
    tables.map(async (t) => [
      t,
      (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t}`)).rows[0]?.n,
    ]),
  );
  const counts = Object.fromEntries(exact);
  return Object.fromEntries(
    rows.map((r) => [
      r.t,
      {
        rows: Number(counts[r.t]),
        tableMb: r.table_b / 2 ** 20,
        indexMb: r.index_b / 2 ** 20,
        deadRows: Number(r.dead),
      },
    ]),
  );
}

/** A year of history, oldest day first: `jobsPerDay` jobs of PER_JOB directories each, all settled. */
export async function loadYear(db: Database, jobsPerDay: number): Promise<void> {
  await db.query(
    `INSERT INTO directories (id, name, site, submission_url, category, tier, domain_authority, definition, active)
     SELECT 'bench-dir-' || g, 'Bench ' || g, 'http://127.0.0.1:' || (20000 + g), 'http://127.0.0.1:' || (20000 + g) || '/add',
            'general', 1, 50, '{}', false
     FROM generate_series(1, $1) g`,
    [DIRECTORIES],
  );
  const jobs = jobsPerDay * DAYS;
  // One customer per job (a business is sent to a directory once: submissions_once_idx).
  await db.query(
    `INSERT INTO customers (id, owner_key_id, name, email, created_at)
     SELECT md5('c' || i)::uuid, $2, 'Bench Business ' || i, 'b' || i || '@bench.test',
            now() - make_interval(days => ${DAYS} - (i - 1) / $3, secs => 60)
     FROM generate_series(1, $1) i`,
    [jobs, BENCH_OWNER, jobsPerDay],
  );
  await db.query(
    `INSERT INTO jobs (id, customer_id, owner_key_id, package, priority, requested_priority, status, progress,
                       created_at, queued_at, started_at, finished_at)
     SELECT md5('j' || i)::uuid, md5('c' || i)::uuid, $2, 'starter', 3, 3, 'completed',
            jsonb_build_object('total', ${PER_JOB}, 'done', ${PER_JOB}), t, t, t + interval '1 minute', t + interval '20 minutes'
     FROM generate_series(1, $1) i,
          LATERAL (SELECT now() - make_interval(days => ${DAYS} - (i - 1) / $3) + make_interval(secs => (i % $3) * 60) AS t) x`,
    [jobs, BENCH_OWNER, jobsPerDay],
  );
  // Each job's directories; listings of the last four weeks still under review (the recheck needs them).
  await db.query(
    `INSERT INTO submissions (job_id, customer_id, directory_id, status, attempt, lifecycle, next_check_at,
                              created_at, started_at, finished_at)
     SELECT j.id, j.customer_id, 'bench-dir-' || (1 + (hashtext(j.id::text || k) & 2147483647) % $1),
            'submitted', 1,
            CASE WHEN j.created_at > now() - interval '28 days' THEN 'under_review' ELSE 'live' END,
            CASE WHEN j.created_at > now() - interval '28 days' THEN now() + interval '1 day' END,
            j.created_at, j.started_at, j.started_at + make_interval(secs => k * 40)
     FROM jobs j, generate_series(1, ${PER_JOB}) k
     WHERE j.owner_key_id = $2
     ON CONFLICT DO NOTHING`,
    [DIRECTORIES, BENCH_OWNER],
  );
  await db.query(
    `INSERT INTO job_events (job_id, type, detail, created_at)
     SELECT j.id, e.type, e.detail, j.created_at + e.at
     FROM jobs j, LATERAL (
       VALUES ('created', '{}'::jsonb, interval '0'), ('queued', '{"tier":3}', interval '1 second'),
              ('claimed', '{"worker":"bench"}', interval '1 minute'), ('completed', '{}', interval '20 minutes')
       UNION ALL
       SELECT 'submission.' || s, jsonb_build_object('directoryId', 'bench-dir-' || k, 'step', s), make_interval(secs => 60 + k * 40)
       FROM generate_series(1, ${PER_JOB}) k, unnest(ARRAY['submitting', 'submitted']) s
     ) e(type, detail, at)
     WHERE j.owner_key_id = $1`,
    [BENCH_OWNER],
  );
  // Alerts (a few a day, published), Lambda environments (a new few every day), every site visited.
  await db.query(
    `INSERT INTO alert_outbox (id, kind, alert, created_at, published_at)
     SELECT 'bench-alert-' || i, 'job_failed', jsonb_build_object('n', i), t, t + interval '2 seconds'
     FROM generate_series(1, ${DAYS} * 10) i, LATERAL (SELECT now() - make_interval(hours => i * 24 / 10) AS t) x`,
  );
  await db.query(
    `INSERT INTO workers (id, started_at, last_seen_at, jobs_in_flight)
     SELECT 'bench-worker-' || i, t - interval '2 hours', t, 0
     FROM generate_series(1, ${DAYS} * 20) i, LATERAL (SELECT now() - make_interval(mins => i * 72) AS t) x`,
  );
  await db.query(
    `INSERT INTO site_visits (site, last_started_at, last_finished_at, visits)
     SELECT 'http://127.0.0.1:' || (20000 + g), t - interval '30 seconds', t, 100
     FROM generate_series(1, $1) g, LATERAL (SELECT now() - make_interval(days => (g * 7) % ${DAYS}) AS t) x`,
    [DIRECTORIES],
  );
}

interface HotPaths {
  reads: number[];
  creates: number[];
  ledger: number[];
  failures: number;
}

/**
 * The hot paths at a steady rate until `stop()`: GET /v1/jobs/{id} and POST /v1/jobs through the gateway
 * (admin key), and ledger writes as the worker makes them (begin: a row to 'submitting'; settle: 'submitted'
 * with its job event), each in its own loop.
 */
function hotPaths(
  url: string,
  key: string,
  db: Database,
  subjects: { customers: string[]; jobs: string[] },
  perSecond: number,
) {
  const got: HotPaths = { reads: [], creates: [], ledger: [], failures: 0 };
  let running = true;
  let turn = 0;
  const pace = 1000 / perSecond;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
  const loop = async (fn: () => Promise<void>, into: number[]) => {
    while (running) {
      const t = performance.now();
      try {
        await fn();
        into.push(elapsedMs(t));
      } catch {
        got.failures += 1;
      }
      await sleep(pace - elapsedMs(t));
    }
  };
  const request = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status}`);
    return (await res.json()) as { id: string };
  };
  const loops = [
    loop(async () => {
      await request('GET', `/v1/jobs/${subjects.jobs[turn++ % subjects.jobs.length]}`);
    }, got.reads),
    loop(async () => {
      const customerId = subjects.customers.pop();
      if (!customerId) throw new Error('out of customers');
      const job = await request('POST', '/v1/jobs', {
        customerId,
        directoryIds: ['simple-form'],
        priority: 3,
      });
      subjects.jobs.push(job.id);
    }, got.creates),
    loop(async () => {
      const jobId = subjects.jobs[turn % subjects.jobs.length];
      await db.transaction(async (tx) => {
        const { rows } = await tx.query<{ id: number }>(
          `INSERT INTO submissions (job_id, directory_id, status, attempt, started_at)
           VALUES ($1, 'bench-dir-' || (1 + (random() * ${DIRECTORIES - 1})::int), 'submitting', 1, now())
           ON CONFLICT (job_id, directory_id) DO UPDATE SET attempt = submissions.attempt + 1
           RETURNING id`,
          [jobId],
        );
        await tx.query(
          `UPDATE submissions SET status = 'submitted', finished_at = now() WHERE id = $1 AND status = 'submitting'`,
          [rows[0]?.id],
        );
        await tx.query(
          `INSERT INTO job_events (job_id, type, detail) VALUES ($1, 'submission.submitted', '{}')`,
          [jobId],
        );
      });
    }, got.ledger),
  ];
  return {
    async stop(): Promise<HotPaths> {
      running = false;
      await Promise.all(loops);
      return got;
    },
  };
}

const n = (value: number) => value.toLocaleString('en-US');

const latencyRow = (what: string, without: Summary, during: Summary) => [
  what,
  n(without.n),
  fmt(without.p50, 1),
  fmt(without.p99, 1),
  n(during.n),
  fmt(during.p50, 1),
  fmt(during.p99, 1),
  fmt(during.max, 1),
];

export const retention: Benchmark = {
  name: 'retention',
  title: 'The cost of a year: retention over a year of history',
  summary:
    'a year of history at 5,000 submissions a day x --scale; the retention run, hot-path latency during it, sizes',
  async run(ctx) {
    // Per mille of the 5,000 submissions a day (100 = 10 %: 500 a day, 20 jobs of 25 directories).
    const perMille = intArg(ctx.args, 'scale-permille', 100);
    const jobsPerDay = Math.max(1, Math.round((5_000 * perMille) / 1_000 / PER_JOB));
    const baselineSeconds = intArg(ctx.args, 'baseline-seconds', 30);
    const perSecond = intArg(ctx.args, 'rate', 2);
    const services = await ctx.services();
    const system = await services.system('retention', { workers: false, fixtures: [simpleForm] });
    const db = system.db;

    ctx.log(
      `loading a year: ${jobsPerDay} jobs x ${PER_JOB} directories a day (${jobsPerDay * PER_JOB} submissions/day)`,
    );
    const loadStart = performance.now();
    await loadYear(db, jobsPerDay);
    const loadMs = elapsedMs(loadStart);
    ctx.log(`loaded in ${fmt(loadMs / 1000, 0)} s`);
    const before = await sizes(db, [...GROWING, ...KEPT]);

    // Subjects for the hot paths: customers to create jobs for, recent jobs to read.
    const customers: string[] = [];
    for (let i = 0; i < 400; i++) {
      const res = await fetch(`${system.url}/v1/customers`, {
        method: 'POST',
        headers: { 'x-api-key': system.keys.admin, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `Hot Path ${i}`, email: `hot${i}@bench.test` }),
      });
      if (!res.ok) throw new Error(`POST /v1/customers: ${res.status}`);
      customers.push(((await res.json()) as { id: string }).id);
    }
    const { rows: recent } = await db.query<{ id: string }>(
      `SELECT id FROM jobs ORDER BY created_at DESC LIMIT 200`,
    );
    const subjects = { customers, jobs: recent.map((r) => r.id) };

    ctx.log(`hot paths alone for ${baselineSeconds} s`);
    let load = hotPaths(system.url, system.keys.admin, db, subjects, perSecond);
    await new Promise((r) => setTimeout(r, baselineSeconds * 1000));
    const without = await load.stop();

    ctx.log('retention run (to completion) with the hot paths running');
    const deps = await retentionDepsFromEnv(system.env, db);
    const handler = makeRetentionHandler({ ...deps, logger: { info: () => {}, warn: () => {} } });
    load = hotPaths(system.url, system.keys.admin, db, subjects, perSecond);
    const runStart = performance.now();
    const runs: RetentionReport[] = [];
    for (;;) {
      const report = await handler();
      runs.push(report);
      if (!report.tables.some((t) => t.unfinished)) break;
    }
    const runMs = elapsedMs(runStart);
    const during = await load.stop();
    const after = await sizes(db, [...GROWING, ...KEPT]);
    const vacuumStart = performance.now();
    await db.query(`VACUUM (ANALYZE) ${GROWING.join(', ')}`);
    const vacuumMs = elapsedMs(vacuumStart);
    const vacuumed = await sizes(db, [...GROWING, ...KEPT]);
    const { rows: archive } = await db.query<{ objects: number; rows: number; mb: number }>(
      `SELECT count(*)::int AS objects, coalesce(sum(rows), 0)::int AS rows, coalesce(sum(bytes), 0) / 1048576.0 AS mb
       FROM retention_archives`,
    );
    // Index health: the plan of a job_events batch's selection (as the run makes it) after the run.
    const { rows: plan } = await db.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
       SELECT r.id FROM job_events r WHERE r.created_at < now() - interval '90 days'
         AND (${RETENTION.tables[0].removableWhen})
       ORDER BY r.created_at, r.id LIMIT ${RETENTION.tables[0].batchSize} FOR UPDATE OF r SKIP LOCKED`,
    );

    const tables = runs.flatMap((r) => r.tables);
    const archived = (t: string) => tables.filter((x) => x.table === t).reduce((n, x) => n + x.archived, 0);
    const batches = tables.reduce((n, x) => n + x.batches, 0);
    const largest = Math.max(...tables.map((x) => x.largestBatch));
    const s = {
      reads: [summarize(without.reads), summarize(during.reads)] as const,
      creates: [summarize(without.creates), summarize(during.creates)] as const,
      ledger: [summarize(without.ledger), summarize(during.ledger)] as const,
    };
    const sizeTable: Table = {
      title: 'Tables before the run, after it, and after VACUUM (rows; table + index MB)',
      columns: [
        'table',
        'rows before',
        'MB before',
        'archived',
        'rows after',
        'MB after run',
        'dead rows after (stats)',
        'MB after VACUUM',
      ],
      rows: [...GROWING, ...KEPT].map((t) => {
        const b = before[t];
        const a = after[t];
        const v = vacuumed[t];
        return [
          t,
          n(b?.rows ?? 0),
          fmt((b?.tableMb ?? 0) + (b?.indexMb ?? 0), 1),
          GROWING.includes(t) ? n(archived(t)) : 'never',
          n(a?.rows ?? 0),
          fmt((a?.tableMb ?? 0) + (a?.indexMb ?? 0), 1),
          n(a?.deadRows ?? 0),
          fmt((v?.tableMb ?? 0) + (v?.indexMb ?? 0), 1),
        ];
      }),
      notes: [
        `volume: ${jobsPerDay} jobs a day of ${PER_JOB} directories = ${(jobsPerDay * PER_JOB).toLocaleString('en-US')} submissions a day for ${DAYS} days (${perMille / 10} % of the issue's 5,000 a day: --scale-permille ${perMille}); loaded in ${fmt(loadMs / 1000, 0)} s`,
        `each job: 4 job events and 2 per directory (${4 + 2 * PER_JOB}); 10 published alerts, 20 worker environments a day; ${DIRECTORIES} sites visited over the year; no proof screenshots (none would be past evidence_objects' 430 days within a year)`,
        'rows after include what the hot paths added during the run; MB after the run is before VACUUM: Postgres reuses the freed space (autovacuum), it does not hand it back to the disk',
        `VACUUM (ANALYZE) of the growing tables took ${fmt(vacuumMs / 1000, 1)} s`,
      ],
    };
    const runTable: Table = {
      title: 'The retention run',
      columns: [
        'handler runs',
        'run time (s)',
        'rows archived',
        'batches',
        'largest batch',
        'archive objects',
        'archive MB (gzip)',
      ],
      rows: [
        [
          n(runs.length),
          fmt(runMs / 1000, 1),
          n(archive[0]?.rows ?? 0),
          n(batches),
          n(largest),
          n(archive[0]?.objects ?? 0),
          fmt(Number(archive[0]?.mb ?? 0), 2),
        ],
      ],
      notes: [
        `the real handler (functions/retention) on this Postgres and moto S3, run back to back until nothing is left; in AWS one hourly run stops starting batches after ${RETENTION.runBudgetSeconds} s and the next carries on`,
      ],
    };
    const latencyTable: Table = {
      title: `Hot paths without and during the run (ms; each at ${perSecond}/s)`,
      columns: [
        'operation',
        'n alone',
        'p50 alone',
        'p99 alone',
        'n during',
        'p50 during',
        'p99 during',
        'max during',
      ],
      rows: [
        latencyRow('GET /v1/jobs/{id} (gateway)', ...s.reads),
        latencyRow('POST /v1/jobs (gateway)', ...s.creates),
        latencyRow('ledger write (begin + settle + event)', ...s.ledger),
      ],
      notes: [
        `"alone": ${baselineSeconds} s of the same load before the run; failures: ${without.failures} alone, ${during.failures} during`,
        "API requests go through the local gateway (keys, rate limits, the handlers as in Lambda) over loopback; the ledger write is the worker's statement shape in one transaction, on the same database",
      ],
    };
    const planTable: Table = {
      title: "EXPLAIN (ANALYZE, BUFFERS) of a batch's selection after the run",
      columns: ['plan'],
      rows: plan.map((r) => [r['QUERY PLAN']]),
    };
    const goal = (what: string, pair: readonly [Summary, Summary], target: number) => ({
      goal: `${what} p99 during the retention run`,
      target: `≤ ${target} ms`,
      measured: `${fmt(pair[1].p99, 1)} ms (alone ${fmt(pair[0].p99, 1)} ms)`,
      met: pair[1].p99 <= target,
    });
    return {
      params: { perMille, jobsPerDay, perJob: PER_JOB, days: DAYS, baselineSeconds, perSecond },
      tables: [runTable, latencyTable, sizeTable, planTable],
      goals: [
        goal('GET /v1/jobs/{id}', s.reads, 25),
        goal('POST /v1/jobs', s.creates, 25),
        {
          goal: "no batch larger than its table's RETENTION batchSize",
          target: `≤ ${Math.max(...RETENTION.tables.map((t) => t.batchSize))}`,
          measured: String(largest),
          met: largest <= Math.max(...RETENTION.tables.map((t) => t.batchSize)),
        },
      ],
      raw: { before, after, vacuumed, runs, without, during },
    };
  },
};
