/**
 * f. Drain: a queue depth of 500 mixed jobs (1 to 3 directories each, drawn from ten kinds of fixture form
 * including ones that end in a validation error, a captcha, a login wall and a flaky first answer; P1, P2
 * and P3 mixed) is built with the workers stopped, then the workers are started as the local runtime runs
 * them (per tier: its concurrency, one shared Chromium) and the queues are drained to the last job. The
 * worker runs with the policy's own numbers, politeness included (one visit per site at a time, a gap
 * between visits).
 */
import {
  captchaWidget,
  flakySite,
  loginWall,
  multiStepWizard,
  redirectSuccess,
  renamedFields,
  scriptRendered,
  selectCheckRadio,
  simpleForm,
  validationError,
} from '#local/fixtures/variants';
import { PRIORITY_TIERS, type Priority } from '#policy';
import type { Job } from '#shared/job-store';
import { queueDepth, startWorkers } from '#test/queue-workers';
import { siteCopies } from '#test/site-copies';
import { type Benchmark, intArg } from './lib/benchmark.ts';
import { BenchJobs, doubleSubmissions, seeded, waitForTerminal } from './lib/fixtures.ts';
import { fmt, type Table } from './lib/report.ts';
import { elapsedMs, summarize } from './lib/stats.ts';

const VARIANTS = [
  simpleForm,
  multiStepWizard,
  selectCheckRadio,
  scriptRendered,
  renamedFields,
  redirectSuccess,
  validationError,
  captchaWidget,
  loginWall,
  flakySite,
];

export const drain: Benchmark = {
  name: 'drain',
  title: 'Drain a queue depth of 500 mixed jobs',
  summary: 'build a queue depth of ≥ 500 mixed jobs, then drain it: submissions and jobs per minute',
  async run(ctx) {
    const count = intArg(ctx.args, 'jobs', 500);
    const copies = intArg(ctx.args, 'copies', 3);
    const random = seeded(intArg(ctx.args, 'seed', 8));
    const sites = siteCopies(VARIANTS, copies).flat();
    const services = await ctx.services();
    const system = await services.system('drain', { workers: false, fixtures: sites });
    const jobs = new BenchJobs(system);

    ctx.log(`creating ${count} jobs`);
    const created: Job[] = [];
    for (let i = 0; i < count; i++) {
      const customer = await jobs.customer(`Drain Business ${i}`);
      const size = 1 + Math.floor(random() * 3);
      const chosen = new Set<string>();
      while (chosen.size < size)
        chosen.add((sites[Math.floor(random() * sites.length)] as { id: string }).id);
      const r = random();
      const priority: Priority = r < 0.2 ? 1 : r < 0.5 ? 2 : 3;
      created.push(await jobs.create(customer, [...chosen], priority));
    }
    await jobs.sendAll(created);
    const depth = await queueDepth(system);
    ctx.log(
      `queue depth ${depth.total} (${depth.byTier.map((n, i) => `P${i + 1} ${n}`).join(', ')}); starting the workers`,
    );

    const samples: Array<{ atSeconds: number; depth: number }> = [{ atSeconds: 0, depth: depth.total }];
    const start = performance.now();
    const pollers = startWorkers(system);
    const sampler = setInterval(() => {
      void queueDepth(system).then((d) =>
        samples.push({ atSeconds: Math.round(elapsedMs(start) / 1000), depth: d.total }),
      );
    }, 10_000);
    try {
      await waitForTerminal(
        system,
        created.map((j) => j.id),
        intArg(ctx.args, 'timeout-seconds', 1_800) * 1000,
        500,
      );
    } finally {
      clearInterval(sampler);
      await Promise.all(pollers.map((p) => p.stop(30_000)));
    }
    const wallMs = elapsedMs(start);
    const after = await queueDepth(system);

    const ids = created.map((j) => j.id);
    const { rows: byJob } = await system.db.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[]) GROUP BY status`,
      [ids],
    );
    const { rows: byDirectory } = await system.db.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM submissions WHERE job_id = ANY($1::uuid[]) GROUP BY status`,
      [ids],
    );
    const { rows: durations } = await system.db.query<{ run_ms: number; wait_ms: number; n: number }>(
      `SELECT (extract(epoch FROM j.finished_at - j.started_at) * 1000)::float8 AS run_ms,
              (extract(epoch FROM j.started_at - j.created_at) * 1000)::float8 AS wait_ms,
              (SELECT count(*)::int FROM submissions s WHERE s.job_id = j.id) AS n
       FROM jobs j WHERE j.id = ANY($1::uuid[])`,
      [ids],
    );
    const twice = doubleSubmissions(system);
    if (twice.length > 0) throw new Error(`directories submitted twice: ${twice.join('; ')}`);
    const directories = byDirectory.reduce((n, r) => n + r.n, 0);
    const submitted = byDirectory.find((r) => r.status === 'submitted')?.n ?? 0;
    const open = byDirectory.filter((r) => r.status === 'prepared' || r.status === 'submitting');
    if (open.length > 0) throw new Error(`ledger rows left open: ${JSON.stringify(open)}`);
    const minutes = wallMs / 60_000;
    const perDirectory = summarize(durations.filter((d) => d.n > 0).map((d) => d.run_ms / d.n));
    const wait = summarize(durations.map((d) => d.wait_ms));

    const table: Table = {
      title: `Drain of ${count} mixed jobs (${directories} directories)`,
      columns: ['measure', 'value'],
      rows: [
        ['queue depth before the workers started', String(depth.total)],
        ['time to drain (s)', fmt(wallMs / 1000, 1)],
        ['jobs per minute', fmt(count / minutes, 1)],
        ['directories settled per minute', fmt(directories / minutes, 1)],
        ['submissions (ledger "submitted") per minute', fmt(submitted / minutes, 1)],
        ['job outcomes', byJob.map((r) => `${r.status} ${r.n}`).join(', ')],
        ['directory outcomes', byDirectory.map((r) => `${r.status} ${r.n}`).join(', ')],
        [
          'worker time per directory p50 / p95 (ms)',
          `${fmt(perDirectory.p50, 0)} / ${fmt(perDirectory.p95, 0)}`,
        ],
        ['queue wait p50 / max (s)', `${fmt(wait.p50 / 1000, 1)} / ${fmt(wait.max / 1000, 1)}`],
        ['queue depth after', String(after.total)],
        ['directories submitted twice (fixture counters)', '0'],
      ],
      notes: [
        `${VARIANTS.length} kinds of form × ${copies} sites each; jobs of 1–3 directories, 20 % P1, 30 % P2, 50 % P3`,
        `workers: ${PRIORITY_TIERS.map((t) => `${t.name} ${t.maxConcurrency}`).join(', ')} concurrent jobs, one shared Chromium, as npm start runs them; policy numbers (politeness gap included)`,
        `up to ${system.worker.options.directoriesInFlight} of a job's directories in flight at once (K, policy WORKER.directoriesInFlight unless WORKER_DIRECTORIES_IN_FLIGHT says otherwise); the fixture sites answer at once (latency profile none: this is CPU-bound, i measures latency)`,
        'queue depth is SQS ApproximateNumberOfMessages + NotVisible over the three tier queues',
      ],
    };
    const depthTable: Table = {
      title: 'Queue depth while draining',
      columns: ['seconds', 'depth'],
      rows: samples.map((s) => [String(s.atSeconds), String(s.depth)]),
    };
    return {
      params: {
        jobs: count,
        copies,
        sites: sites.length,
        directoriesInFlight: system.worker.options.directoriesInFlight,
        postgres: `${services.postgresKind} ${services.postgresVersion}`,
      },
      tables: [table, depthTable],
      goals: [
        {
          goal: 'queue depth drained',
          target: '≥ 500 at the start, 0 at the end',
          measured: `${depth.total} → ${after.total}`,
          met: depth.total >= 500 && after.total === 0,
        },
        {
          goal: 'submissions per minute on this machine',
          target: '≥ 150',
          measured: `${fmt(submitted / minutes, 1)} submitted (${fmt(directories / minutes, 1)} directories settled)`,
          met: submitted / minutes >= 150,
        },
      ],
      raw: { samples, byJob, byDirectory, wallMs, perDirectory, wait },
    };
  },
};
