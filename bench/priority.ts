/**
 * e. Priority under saturation: jobs arrive faster than the workers can take them, a third each at P1, P2
 * and P3, for a minute; the workers run as the local runtime runs them (per tier its concurrency). Queue
 * wait = claim time − creation time, by the priority the job was created with. Aging runs as in
 * production (promote-jobs), with the tiers' promoteAfterSeconds divided by `--aging-scale` and the
 * schedule sped up by the same factor, so the P3 bound can be seen in a minute rather than an hour.
 */
import { makePromoteJobsHandler } from '#functions/worker/promotion';
import { promoteJobsDepsFromEnv } from '#functions/worker/promotion-deps';
import { simpleForm } from '#local/fixtures/variants';
import { PRIORITY_TIERS, type Priority, SCHEDULES } from '#policy';
import type { Job } from '#shared/job-store';
import { startWorkers } from '#test/queue-workers';
import { siteCopies } from '#test/site-copies';
import { type Benchmark, intArg } from './lib/benchmark.ts';
import { BenchJobs, doubleSubmissions, seeded, waitForTerminal } from './lib/fixtures.ts';
import { fmt, type Table } from './lib/report.ts';
import { summarize } from './lib/stats.ts';

export const priority: Benchmark = {
  name: 'priority',
  title: 'Priority under saturation',
  summary: 'P1/P2/P3 queue wait p50/p95/max while arrivals exceed capacity, with aging',
  async run(ctx) {
    const ratePerSecond = intArg(ctx.args, 'rate', 6);
    const seconds = intArg(ctx.args, 'seconds', 60);
    const scale = intArg(ctx.args, 'aging-scale', 60);
    const random = seeded(intArg(ctx.args, 'seed', 5));
    const sites = siteCopies([simpleForm], 20).flat();
    const services = await ctx.services();
    const system = await services.system('priority', { workers: false, fixtures: sites });
    const jobs = new BenchJobs(system);
    const tiers = PRIORITY_TIERS.map((t) => ({
      ...t,
      promoteAfterSeconds: t.promoteAfterSeconds === null ? null : t.promoteAfterSeconds / scale,
    }));
    const promote = makePromoteJobsHandler({
      ...(await promoteJobsDepsFromEnv(system.env, system.db)),
      tiers,
    });
    const promoteEveryMs = (SCHEDULES.promoteJobs.everySeconds * 1000) / scale;

    const pollers = startWorkers(system);
    const promoter = setInterval(() => void promote().catch(() => {}), promoteEveryMs);
    const created: Promise<Job>[] = [];
    const total = ratePerSecond * seconds;
    ctx.log(`${total} jobs over ${seconds} s, aging ÷ ${scale}`);
    const start = performance.now();
    try {
      for (let i = 0; i < total; i++) {
        const due = start + (i * 1000) / ratePerSecond;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const p = (1 + Math.floor(random() * 3)) as Priority;
        const site = sites[Math.floor(random() * sites.length)] as { id: string };
        // A customer per job, so the fixture counters can show that no directory got anyone twice.
        const customer = await jobs.customer(`Priority Job ${i}`);
        created.push(jobs.enqueue(customer, [site.id], p));
      }
      const all = await Promise.all(created);
      ctx.log('arrivals done; draining');
      await waitForTerminal(
        system,
        all.map((j) => j.id),
        intArg(ctx.args, 'timeout-seconds', 1_800) * 1000,
        500,
      );
    } finally {
      clearInterval(promoter);
      await Promise.all(pollers.map((p) => p.stop(30_000)));
    }
    const ids = (await Promise.all(created)).map((j) => j.id);
    const { rows } = await system.db.query<{
      requested: number;
      wait_ms: number;
      promoted: number;
      status: string;
    }>(
      `SELECT j.requested_priority AS requested, j.status,
              (extract(epoch FROM j.started_at - j.created_at) * 1000)::float8 AS wait_ms,
              (SELECT count(*)::int FROM job_events e WHERE e.job_id = j.id AND e.type = 'promoted') AS promoted
       FROM jobs j WHERE j.id = ANY($1::uuid[])`,
      [ids],
    );
    const twice = doubleSubmissions(system);
    if (twice.length > 0) throw new Error(`directories submitted twice: ${twice.join('; ')}`);
    const stats = ([1, 2, 3] as const).map((p) => {
      const mine = rows.filter((r) => r.requested === p);
      return {
        tier: `P${p}`,
        jobs: mine.length,
        wait: summarize(mine.map((r) => r.wait_ms / 1000)),
        promoted: mine.filter((r) => r.promoted > 0).length,
        completed: mine.filter((r) => r.status === 'completed').length,
      };
    });
    const [p1, , p3] = stats as [(typeof stats)[0], (typeof stats)[0], (typeof stats)[0]];
    const aging = (tiers[1]?.promoteAfterSeconds ?? 0) + (tiers[2]?.promoteAfterSeconds ?? 0);
    // P3 → P2 after its limit, P2 → P1 after its limit, each seen within one promotion period, then at
    // worst the longest wait any P1 job had.
    const bound = aging + (2 * promoteEveryMs) / 1000 + p1.wait.max;
    const table: Table = {
      title: `Queue wait under saturation (s), ${total} jobs arriving at ${ratePerSecond}/s for ${seconds} s`,
      columns: ['tier (as created)', 'jobs', 'p50', 'p95', 'max', 'promoted', 'completed'],
      rows: stats.map((s) => [
        s.tier,
        String(s.jobs),
        fmt(s.wait.p50, 1),
        fmt(s.wait.p95, 1),
        fmt(s.wait.max, 1),
        String(s.promoted),
        String(s.completed),
      ]),
      notes: [
        `workers: ${PRIORITY_TIERS.map((t) => `${t.name} ${t.maxConcurrency}`).join(', ')} concurrent jobs; each job one directory (simple-form, 20 sites)`,
        `aging ÷ ${scale}: P3 → P2 after ${tiers[2]?.promoteAfterSeconds} s, P2 → P1 after ${tiers[1]?.promoteAfterSeconds} s, promotion every ${promoteEveryMs / 1000} s (policy: ${PRIORITY_TIERS[2]?.promoteAfterSeconds} s, ${PRIORITY_TIERS[1]?.promoteAfterSeconds} s, every ${SCHEDULES.promoteJobs.everySeconds} s)`,
        'wait = started_at − created_at of the job row (a promoted job keeps its creation time)',
      ],
    };
    return {
      params: { ratePerSecond, seconds, agingScale: scale, jobs: total },
      tables: [table],
      goals: [
        {
          goal: 'P1 p95 wait against P3 p95 wait',
          target: '≤ 0.1 ×',
          measured: `${fmt(p1.wait.p95, 1)} s vs ${fmt(p3.wait.p95, 1)} s (${fmt(p1.wait.p95 / p3.wait.p95, 3)} ×)`,
          met: p1.wait.p95 <= 0.1 * p3.wait.p95,
        },
        {
          goal: 'P3 max wait bounded by aging',
          target: `≤ ${fmt(bound, 1)} s (aging ${aging} s + 2 promotion periods + P1 max wait)`,
          measured: `${fmt(p3.wait.max, 1)} s`,
          met: p3.wait.max <= bound,
        },
      ],
      raw: { stats, rows },
    };
  },
};
