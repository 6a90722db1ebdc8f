/**
 * g. Cost model: Lambda GB-seconds, requests and dollars per 1,000 submissions, from measured durations:
 * the worker's time per submission at real-world site latency (bench/results/latency.json, benchmark i:
 * one job per invocation, as in Lambda, with K directories in flight: K = 1 for a one-directory job, the
 * default K for larger ones), the cold start (bench/results/browser.json), the API latency
 * (bench/results/api.json), and
 * the scheduled handlers' idle runs, measured here. Prices are AWS's public on-demand prices (us-east-1,
 * x86_64, as formfleet deploys); what is assumed rather than measured is listed with the table.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FUNCTION_DEFAULTS, SCHEDULES, WORKER } from '#policy';
import { type Benchmark, intArg } from './lib/benchmark.ts';
import { type BenchResult, fmt, RESULTS_DIR, type Table } from './lib/report.ts';
import { summarize } from './lib/stats.ts';

/** AWS public prices, us-east-1 (checked 2025): Lambda x86_64, SQS FIFO, API Gateway REST, DynamoDB on demand. */
export const PRICES = {
  lambdaGbSecond: 0.0000166667,
  lambdaPerMillionRequests: 0.2,
  /** Ephemeral storage above the free 512 MB, per GB-second. */
  lambdaEphemeralGbSecond: 0.0000000309,
  sqsFifoPerMillion: 0.5,
  apiGatewayRestPerMillion: 3.5,
  dynamoDbPerMillionWrites: 0.625,
} as const;

const SECONDS_PER_MONTH = 30 * 24 * 3600;

async function latest(name: string): Promise<BenchResult> {
  const file = join(RESULTS_DIR, `${name}.json`);
  if (!existsSync(file)) throw new Error(`no ${name} results yet: run \`npm run bench -- ${name}\` first`);
  return JSON.parse(await readFile(file, 'utf8')) as BenchResult;
}

/** Lambda bills each invocation's duration rounded up to the millisecond. */
const billedSeconds = (ms: number) => Math.ceil(ms) / 1000;

export const cost: Benchmark = {
  name: 'cost',
  title: 'Cost model per 1,000 submissions',
  summary: 'Lambda GB-s, requests and dollars per 1,000 submissions from the measured durations',
  async run(ctx) {
    const pollsPerJob = intArg(ctx.args, 'polls-per-job', 10);
    const coldPercent = intArg(ctx.args, 'cold-percent', 10);
    const latency = await latest('latency');
    const browser = await latest('browser');
    const api = await latest('api');

    // Worker: its invocation's wall time per directory at real-world latency, per K (one job per invocation,
    // as in Lambda). A job of d directories runs min(d, K) at once: the measured K nearest below that.
    const measured = (
      (latency.raw?.runs ?? []) as Array<{ k: number; pipelineWallMs: number; directories: number }>
    )
      .map((r) => ({ k: r.k, msPerSubmission: r.pipelineWallMs / r.directories }))
      .sort((a, b) => a.k - b.k);
    if (!measured.some((r) => r.k === 1) || !measured.some((r) => r.k === WORKER.directoriesInFlight)) {
      throw new Error(
        `latency.json needs K = 1 and the default K (${WORKER.directoriesInFlight}): run \`npm run bench -- latency\``,
      );
    }
    const atK = (directoriesPerJob: number) => {
      const k = Math.min(directoriesPerJob, WORKER.directoriesInFlight);
      return measured.filter((r) => r.k <= k).at(-1) as (typeof measured)[number];
    };
    const perSubmissionMs = (atK(WORKER.directoriesInFlight) as (typeof measured)[number]).msPerSubmission;
    const singleMs = atK(1).msPerSubmission;
    const coldMs = (browser.raw?.bundledTotal as { p50: number } | undefined)?.p50 ?? Number.NaN;
    const runs = (api.raw?.runs ?? []) as Array<{ what: string; run: { latency: { p50: number } } }>;
    const apiMs = (prefix: string) =>
      runs.find((r) => r.what.startsWith(prefix))?.run.latency.p50 ?? Number.NaN;
    const getMs = apiMs('GET /v1/jobs/{id} @ 1,000/min');
    const postMs = apiMs('POST /v1/jobs @ 1,000/min');

    // The scheduled functions, one idle run each on a small system (their cost does not grow with jobs).
    const services = await ctx.services();
    const system = await services.system('cost', { workers: false, fixtures: [] });
    const scheduled: Record<string, () => Promise<unknown>> = {
      'stale-jobs': () => system.recovery.staleJobs(),
      'dlq-check': () => system.recovery.dlqCheck(),
      'promote-jobs': () => system.scheduler.runNow('promote-jobs'),
    };
    const scheduledMs: Record<string, number> = {};
    for (const [name, run] of Object.entries(scheduled)) {
      const samples: number[] = [];
      for (let i = 0; i < 10; i++) {
        const t = performance.now();
        await run();
        samples.push(performance.now() - t);
      }
      scheduledMs[name] = summarize(samples).p50;
    }

    const workerGb = FUNCTION_DEFAULTS.worker.memoryMb / 1024;
    const apiGb = FUNCTION_DEFAULTS.api.memoryMb / 1024;
    const ephemeralGb = Math.max(0, WORKER.ephemeralStorageMb - 512) / 1024;
    const model = (directoriesPerJob: number) => {
      const jobs = 1000 / directoriesPerJob;
      const { k, msPerSubmission } = atK(directoriesPerJob);
      const jobMs = msPerSubmission * directoriesPerJob;
      const workerSeconds = jobs * billedSeconds(jobMs + (coldPercent / 100) * coldMs);
      const jobSeconds = jobMs / 1000;
      const heartbeats = Math.floor(jobSeconds / WORKER.heartbeatIntervalSeconds);
      const apiSeconds = jobs * (billedSeconds(postMs) + pollsPerJob * billedSeconds(getMs));
      const lambdaRequests = jobs * (1 + 1 + pollsPerJob);
      // API send, ESM receive and delete, one visibility extension per heartbeat.
      const sqsRequests = jobs * (3 + heartbeats);
      const apiRequests = jobs * (1 + pollsPerJob);
      // Powertools idempotency: the record written at the start and updated at the end of each job.
      const dynamoWrites = jobs * 2;
      const gbSeconds = workerSeconds * workerGb + apiSeconds * apiGb;
      const dollars = {
        compute:
          gbSeconds * PRICES.lambdaGbSecond + workerSeconds * ephemeralGb * PRICES.lambdaEphemeralGbSecond,
        lambdaRequests: (lambdaRequests / 1e6) * PRICES.lambdaPerMillionRequests,
        sqs: (sqsRequests / 1e6) * PRICES.sqsFifoPerMillion,
        apiGateway: (apiRequests / 1e6) * PRICES.apiGatewayRestPerMillion,
        dynamo: (dynamoWrites / 1e6) * PRICES.dynamoDbPerMillionWrites,
      };
      const total = Object.values(dollars).reduce((a, b) => a + b, 0);
      return {
        directoriesPerJob,
        k,
        jobs,
        workerSeconds,
        gbSeconds,
        lambdaRequests,
        sqsRequests,
        apiRequests,
        dynamoWrites,
        dollars,
        total,
      };
    };
    const sizes = [1, 25, 100].map(model);
    const table: Table = {
      title: 'Per 1,000 submissions',
      columns: [
        'directories per job',
        'K (measured)',
        'worker invocations',
        'Lambda GB-s',
        'Lambda requests',
        'SQS requests',
        'API requests',
        'DynamoDB writes',
        'compute $',
        'requests $',
        'total $',
      ],
      rows: sizes.map((m) => [
        String(m.directoriesPerJob),
        String(m.k),
        fmt(m.jobs, 0),
        fmt(m.gbSeconds, 0),
        fmt(m.lambdaRequests, 0),
        fmt(m.sqsRequests, 0),
        fmt(m.apiRequests, 0),
        fmt(m.dynamoWrites, 0),
        fmt(m.dollars.compute, 4),
        fmt(m.total - m.dollars.compute, 4),
        fmt(m.total, 4),
      ]),
      notes: [
        `measured: worker ${fmt(perSubmissionMs, 0)} ms per submission at the default K (${WORKER.directoriesInFlight}), ${fmt(singleMs, 0)} ms at K = 1 (latency: the handler's wall time per directory, sites at the "${String(latency.params.latencyProfile)}" latency profile), cold start ${fmt(coldMs, 0)} ms (browser: bundled worker, imports + launch + first context), API p50 GET ${fmt(getMs, 1)} ms / POST ${fmt(postMs, 1)} ms (api, 1,000/min)`,
        `assumed: ${coldPercent} % of worker invocations start cold; ${pollsPerJob} GET polls per job; worker ${FUNCTION_DEFAULTS.worker.memoryMb} MB + ${WORKER.ephemeralStorageMb} MB /tmp, API ${FUNCTION_DEFAULTS.api.memoryMb} MB (policy)`,
        `prices (us-east-1, x86_64): Lambda $${PRICES.lambdaGbSecond}/GB-s + $${PRICES.lambdaPerMillionRequests}/M requests, SQS FIFO $${PRICES.sqsFifoPerMillion}/M, API Gateway REST $${PRICES.apiGatewayRestPerMillion}/M, DynamoDB $${PRICES.dynamoDbPerMillionWrites}/M writes; free tiers ignored`,
        'not included: Postgres, CloudWatch Logs and metrics, X-Ray traces, WAF, data transfer, the Lambda init phase beyond the browser start',
      ],
    };
    const monthly = Object.entries(scheduledMs).map(([name, ms]) => {
      const every = {
        'stale-jobs': SCHEDULES.staleJobs,
        'dlq-check': SCHEDULES.dlqCheck,
        'promote-jobs': SCHEDULES.promoteJobs,
      }[name] as { everySeconds: number };
      const invocations = SECONDS_PER_MONTH / every.everySeconds;
      const gbSeconds = invocations * billedSeconds(ms) * (FUNCTION_DEFAULTS.scheduled.memoryMb / 1024);
      const dollars =
        gbSeconds * PRICES.lambdaGbSecond + (invocations / 1e6) * PRICES.lambdaPerMillionRequests;
      return [
        name,
        `${every.everySeconds} s`,
        fmt(ms, 1),
        fmt(invocations, 0),
        fmt(gbSeconds, 0),
        fmt(dollars, 4),
      ];
    });
    const fixed: Table = {
      title: 'Fixed cost per month (scheduled functions, idle)',
      columns: ['function', 'every', 'measured run ms', 'invocations', 'GB-s', '$'],
      rows: monthly,
      notes: [
        `${FUNCTION_DEFAULTS.scheduled.memoryMb} MB each (policy); an idle run measured 10 times on the local system, p50`,
      ],
    };
    const starter = sizes[1] as ReturnType<typeof model>;
    return {
      params: {
        pollsPerJob,
        coldPercent,
        perSubmissionMs,
        perSubmissionMsAtK1: singleMs,
        defaultK: WORKER.directoriesInFlight,
        coldMs,
        getMs,
        postMs,
        scheduledMs,
        prices: PRICES,
      },
      tables: [table, fixed],
      goals: [],
      raw: {
        sizes,
        starterPackage: { dollarsPer1000: starter.total },
        inputs: { latency: latency.date, browser: browser.date, api: api.date },
      },
    };
  },
};
