/**
 * i. Throughput at real-world latency (issue 16's "benchmark h"): the fixture sites answer as typical
 * small-business sites do (the `real` latency profile, local/fixtures/latency.ts: a round trip and a
 * server think time on every page load and form post, seeded jitter), and one job of the same forms as
 * benchmark a is run through the worker handler with K = 1, 2, 4, 6, 8 directories in flight, beside bare
 * playwright-core filling the same forms with K pages in flight (no queue, no ledger), in one run.
 *
 * Measured per K: submissions per worker-minute (directories / the handler invocation's wall time),
 * Lambda GB-s per submission (the worker's memory setting × the invocation's wall time / submissions),
 * the same for the bare lane, and the peak memory during the pipeline's invocation: the worker's Chromium
 * process tree and this Node process, from /proc (bench/lib/memory.ts). The job's message is received from
 * SQS (moto) first, so the wall time is the handler's, as Lambda would bill it.
 *
 * The politeness gap is 0 (each directory is its own site, visited once per lane).
 */
import { makeWorkerHandler } from '#functions/worker/handler';
import { LATENCY_PROFILES, type LatencyProfileName, latencyProfile } from '#local/fixtures/latency';
import { WORKER } from '#policy';
import { baseId, siteCopies } from '#test/site-copies';
import { profile as businessProfile, ledger, receiveRecords, workerContext } from '#test/worker-jobs';
import { bareSubmit, launchBareChromium } from './lib/bare-forms.ts';
import { type Benchmark, intArg, intListArg } from './lib/benchmark.ts';
import { BenchJobs } from './lib/fixtures.ts';
import { type MemoryPeak, startMemorySampler } from './lib/memory.ts';
import { fmt, type Goal, type Table } from './lib/report.ts';
import { elapsedMs } from './lib/stats.ts';
import { VARIANTS } from './pipeline.ts';

interface KRun {
  k: number;
  directories: number;
  pipelineWallMs: number;
  bareWallMs: number;
  /** Latency the sites added to the pipeline's requests, summed over requests (ms). */
  pipelineLatencyMs: number;
  /** Browser relaunches during the pipeline's invocation (policy WORKER.browserRecycleAfterPages). */
  recycles: number;
  memory: MemoryPeak;
}

const sumValues = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

export const latency: Benchmark = {
  name: 'latency',
  title: 'Throughput at real-world latency: K directories in flight per worker',
  summary:
    'submissions per worker-minute, GB-s per submission and peak memory per K, fixture sites at real latency',
  async run(ctx) {
    const ks = intListArg(ctx.args, 'k', [1, 2, 4, 6, 8]);
    const copies = intArg(ctx.args, 'copies', 3);
    // Every lane of every K meets the same delays in the same order: the sites' draws restart from this seed.
    const seed = intArg(ctx.args, 'seed', 1);
    const profileName = (ctx.args.profile ?? 'real') as LatencyProfileName;
    const profile = latencyProfile(profileName);
    const defaultK = WORKER.directoriesInFlight;
    const memoryMb = WORKER.memoryMb;
    const gb = memoryMb / 1024;
    if (!ks.includes(1) || !ks.includes(defaultK)) {
      throw new Error(`--k must include 1 and the default K (${defaultK}): the goals compare them`);
    }
    const sites = siteCopies(VARIANTS, copies).flat();
    const services = await ctx.services();
    const system = await services.system('latency', {
      fixtures: sites,
      fixtureLatency: profileName,
      workers: false,
      env: { SITE_MIN_GAP_MS: '0' },
    });
    const jobs = new BenchJobs(system);
    const ids = sites.map((s) => s.id);
    const browser = await launchBareChromium();
    const runs: KRun[] = [];

    /**
     * Each K starts on a fresh, warm browser (closed, relaunched, one context opened and closed), so no K's
     * run crosses the worker's page limit for a browser (WORKER.browserRecycleAfterPages) because of the
     * Ks before it; a run that crosses it on its own still shows it in the recycles column.
     */
    const freshBrowser = async () => {
      await system.worker.browser.close();
      await (await system.worker.browser.acquire()).release();
    };

    const pipelineRun = async (k: number, name: string, directoryIds: readonly string[]) => {
      await freshBrowser();
      const worker = makeWorkerHandler({
        ...system.worker,
        options: { ...system.worker.options, directoriesInFlight: k },
      });
      const job = await jobs.create(await jobs.customer(name), directoryIds);
      await jobs.send(job);
      const records = await receiveRecords(system, 1, 1);
      if (records.length !== 1) throw new Error('the job message did not arrive');
      const latencyBefore = sumValues(system.fixtures.addedLatencyMs());
      const recyclesBefore = system.worker.browser.state().recycles;
      const sampler = startMemorySampler(() => system.worker.browser.browserPid());
      const start = performance.now();
      const result = await worker({ Records: records }, workerContext());
      const wallMs = elapsedMs(start);
      const memory = sampler.stop();
      const rows = await ledger(system, job.id);
      if (result.batchItemFailures.length > 0 || rows.some((r) => r.status !== 'submitted')) {
        throw new Error(
          `K ${k}: not every directory was submitted (${rows.map((r) => `${r.directoryId} ${r.status}`).join(', ')}); the measurement is void`,
        );
      }
      return {
        wallMs,
        memory,
        latencyMs: sumValues(system.fixtures.addedLatencyMs()) - latencyBefore,
        recycles: system.worker.browser.state().recycles - recyclesBefore,
      };
    };

    const bareRun = async (k: number, name: string, variants: typeof sites) => {
      const business = businessProfile(name);
      let next = 0;
      const start = performance.now();
      await Promise.all(
        Array.from({ length: Math.min(k, variants.length) }, async () => {
          for (let i = next++; i < variants.length; i = next++) {
            const v = variants[i] as (typeof sites)[number];
            await bareSubmit(browser, baseId(v.id), system.fixtures.site(v.id).origin, business);
          }
        }),
      );
      return elapsedMs(start);
    };

    try {
      ctx.log(`profile ${profileName}: ${profile.description}`);
      ctx.log('warm-up (browser launch, first context)');
      await pipelineRun(1, 'Latency Warm-up Pipeline', [ids[0] as string]);
      await bareRun(1, 'Latency Warm-up Bare', [sites[0] as (typeof sites)[number]]);
      for (const [i, k] of ks.entries()) {
        // Alternate which side goes first, so neither always runs on a warmer machine.
        let piped: Awaited<ReturnType<typeof pipelineRun>> | undefined;
        let bareWallMs = 0;
        const sides = [
          async () => {
            system.fixtures.reseed(seed);
            piped = await pipelineRun(k, `Latency Pipeline K${k}`, ids);
          },
          async () => {
            system.fixtures.reseed(seed);
            bareWallMs = await bareRun(k, `Latency Bare K${k}`, sites);
          },
        ];
        for (let s = 0; s < sides.length; s++) await sides[(i + s) % sides.length]?.();
        if (!piped) throw new Error('the pipeline side did not run');
        const run: KRun = {
          k,
          directories: ids.length,
          pipelineWallMs: piped.wallMs,
          bareWallMs,
          pipelineLatencyMs: piped.latencyMs,
          recycles: piped.recycles,
          memory: piped.memory,
        };
        runs.push(run);
        ctx.log(
          `K ${k}: pipeline ${fmt(run.pipelineWallMs / 1000, 1)} s, bare ${fmt(bareWallMs / 1000, 1)} s for ${ids.length} directories; peak RSS ${fmt(run.memory.totalRssMb, 0)} MB`,
        );
      }
      // Every site received each business exactly once (counted by the sites themselves).
      for (const [id, counts] of Object.entries(system.fixtures.counts())) {
        const wrong = Object.entries(counts).filter(([, n]) => n !== 1);
        if (wrong.length > 0) throw new Error(`site ${id} received a business more than once: ${wrong}`);
      }
    } finally {
      await browser.close();
    }

    const perMinute = (wallMs: number, n: number) => n / (wallMs / 60_000);
    const gbsPerSubmission = (wallMs: number, n: number) => (gb * wallMs) / 1000 / n;
    const rows = runs.map((r) => ({
      ...r,
      pipelinePerMinute: perMinute(r.pipelineWallMs, r.directories),
      barePerMinute: perMinute(r.bareWallMs, r.directories),
      pipelineGbs: gbsPerSubmission(r.pipelineWallMs, r.directories),
      bareGbs: gbsPerSubmission(r.bareWallMs, r.directories),
      ratio: r.pipelineWallMs / r.bareWallMs,
    }));
    const one = rows.find((r) => r.k === 1) as (typeof rows)[number];
    const dflt = rows.find((r) => r.k === defaultK) as (typeof rows)[number];
    const throughput: Table = {
      title: `Per K, ${one.directories} directories per job, sites at the "${profileName}" latency profile`,
      columns: [
        'K',
        'pipeline s',
        'bare s',
        'pipeline / bare',
        'pipeline subs/worker-min',
        'bare subs/min',
        'throughput × K = 1',
        'GB-s per submission',
        'GB-s × K = 1',
        'site latency waited s',
        'browser recycles',
      ],
      rows: rows.map((r) => [
        String(r.k),
        fmt(r.pipelineWallMs / 1000, 1),
        fmt(r.bareWallMs / 1000, 1),
        fmt(r.ratio, 3),
        fmt(r.pipelinePerMinute, 1),
        fmt(r.barePerMinute, 1),
        fmt(r.pipelinePerMinute / one.pipelinePerMinute, 2),
        fmt(r.pipelineGbs, 2),
        fmt(r.pipelineGbs / one.pipelineGbs, 2),
        fmt(r.pipelineLatencyMs / 1000, 1),
        String(r.recycles),
      ]),
      notes: [
        `one run per K (one job through the worker handler, then bare, or the other way round, alternating); each lane submits one business to ${copies} copies each of ${VARIANTS.map((v) => v.id).join(', ')}`,
        `profile "${profileName}": ${profile.description}`,
        'pipeline s = the worker handler invocation, message received to handler returned (what Lambda bills); bare s = K hand-written playwright-core scripts pulling from the same forms, a fresh context each',
        `GB-s per submission = ${memoryMb} MB (policy WORKER.memoryMb) × pipeline s / submissions; site latency waited = the sites’ added delays summed over the pipeline’s requests (what one directory at a time would wait in a row)`,
        `every lane (pipeline and bare, every K) meets the same delays: each site’s draws restart from seed ${seed} before each lane, and each site sees one lane’s requests in the order its form makes them`,
        `browser recycles = relaunches during the pipeline's invocation: the worker retires its browser after ${WORKER.browserRecycleAfterPages} pages (policy WORKER.browserRecycleAfterPages) and waits for every context in flight to close first, so a run that crosses the limit pauses all its lanes once; each K's run starts on a freshly launched, warmed browser so that earlier Ks' pages do not count against it`,
        'one run on a shared 2-core machine: expect 10–20 % noise between runs',
      ],
    };
    const memory: Table = {
      title: 'Peak memory during the pipeline invocation',
      columns: [
        'K',
        'Chromium RSS MB',
        'Node RSS MB',
        'peak RSS MB (sum)',
        `% of ${memoryMb} MB`,
        'peak PSS MB (sum)',
        'Chromium processes',
      ],
      rows: rows.map((r) => [
        String(r.k),
        fmt(r.memory.chromiumRssMb, 0),
        fmt(r.memory.nodeRssMb, 0),
        fmt(r.memory.totalRssMb, 0),
        fmt((100 * r.memory.totalRssMb) / memoryMb, 1),
        fmt(r.memory.totalPssMb, 0),
        String(r.memory.processes),
      ]),
      notes: [
        'RSS sampled every 250 ms from /proc (PSS every 2.5 s: it is slow to read): the worker’s Chromium browser process and all its descendants, plus this Node process',
        'RSS summed over processes counts shared pages once per process (an overstatement); PSS shares them out. Node here also holds the local runtime, the fixture sites and the bare lane’s client, which a Lambda does not',
        'locally Chromium runs one process per renderer; in Lambda it runs --single-process, not measured here',
      ],
    };
    const goals: Goal[] = [
      {
        goal: `throughput at the default K (${defaultK}) against K = 1`,
        target: '≥ 4 ×',
        measured: `${fmt(dflt.pipelinePerMinute / one.pipelinePerMinute, 2)} × (${fmt(dflt.pipelinePerMinute, 1)} vs ${fmt(one.pipelinePerMinute, 1)} subs/worker-min)`,
        met: dflt.pipelinePerMinute >= 4 * one.pipelinePerMinute,
      },
      {
        goal: `GB-s per submission at the default K (${defaultK}) against K = 1`,
        target: '≤ 0.3 ×',
        measured: `${fmt(dflt.pipelineGbs / one.pipelineGbs, 2)} × (${fmt(dflt.pipelineGbs, 2)} vs ${fmt(one.pipelineGbs, 2)} GB-s)`,
        met: dflt.pipelineGbs <= 0.3 * one.pipelineGbs,
      },
      {
        goal: `peak Chromium + Node RSS at the default K (${defaultK})`,
        target: `< 75 % of ${memoryMb} MB`,
        measured: `${fmt(dflt.memory.totalRssMb, 0)} MB (${fmt((100 * dflt.memory.totalRssMb) / memoryMb, 1)} %; PSS ${fmt(dflt.memory.totalPssMb, 0)} MB)`,
        met: dflt.memory.totalRssMb < 0.75 * memoryMb,
      },
      ...rows.map((r) => ({
        goal: `pipeline / bare at K = ${r.k}`,
        target: '≤ 1.05',
        measured: fmt(r.ratio, 3),
        met: r.ratio <= 1.05,
      })),
    ];
    return {
      params: {
        k: ks,
        defaultK,
        copies,
        directoriesPerJob: one.directories,
        forms: VARIANTS.map((v) => v.id),
        latencyProfile: profileName,
        seed,
        latency: LATENCY_PROFILES[profileName],
        workerMemoryMb: memoryMb,
        siteMinGapMs: 0,
        postgres: `${services.postgresKind} ${services.postgresVersion}`,
      },
      tables: [throughput, memory],
      goals,
      raw: {
        runs: rows.map((r) => ({
          k: r.k,
          directories: r.directories,
          pipelineWallMs: r.pipelineWallMs,
          bareWallMs: r.bareWallMs,
          pipelineLatencyMs: r.pipelineLatencyMs,
          recycles: r.recycles,
          pipelineGbsPerSubmission: r.pipelineGbs,
          bareGbsPerSubmission: r.bareGbs,
          pipelineSubmissionsPerMinute: r.pipelinePerMinute,
          memory: r.memory,
        })),
        defaultK: {
          k: defaultK,
          gbsPerSubmission: dflt.pipelineGbs,
          secondsPerSubmission: dflt.pipelineWallMs / 1000 / dflt.directories,
        },
      },
    };
  },
};
