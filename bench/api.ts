/**
 * c. API latency: GET /v1/jobs/{id} and POST /v1/jobs through the local gateway (the API Gateway emulation:
 * key check, usage-plan bucket, proxy event) into the real handlers (middy, Powertools, the exact rate
 * limiter on Postgres, validation, the stores; POST also sends the SQS FIFO message to moto), measured with
 * autocannon at 1,000 requests a minute and at saturation. Beside them the floor: a bare Postgres round
 * trip, and a bare Node HTTP server answering each request with one Postgres query.
 *
 * The system runs in a process of its own (test/helpers/system-process.ts), so autocannon's event loop is
 * not the server's. The load comes from many client keys, each within the policy's exact rate limits (as
 * 1,000 requests a minute arrive in production: from many clients, not one), so the limiter's statement
 * runs on every request with realistic per-key logs. Every measured row has keys of its own: a row run on
 * keys whose minute an earlier row used up would be answered 429 and time refusals, not requests. A row
 * that still got non-2xx answers (or errors) is flagged in the table and in the JSON. The tier queues are
 * drained as messages arrive, as running workers would keep them: moto's FIFO SendMessage slows down
 * with the depth of the queue (about 17 ms at 0, 140 ms at 1,000 messages), which SQS does not.
 */
import { createServer } from 'node:http';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import pg from 'pg';
import { jobsApiDepsFromEnv } from '#functions/api/deps';
import { makeJobsApi } from '#functions/api/jobs';
import { simpleForm } from '#local/fixtures/variants';
import { generateKey, type LocalSystem } from '#local/runtime';
import { motoEnv } from '#local/services/moto';
import { RATE_LIMITS } from '#policy';
import { awsClientConfig } from '#shared/aws';
import { PgCustomerStore } from '#shared/customer-store';
import { apiEvent, lambdaContext } from '#test/events';
import { spawnSystem } from '#test/spawn-system';
import { profile } from '#test/worker-jobs';
import { type Benchmark, intArg } from './lib/benchmark.ts';
import { type LoadRequest, type LoadRun, load, paced } from './lib/load.ts';
import { fmt, type Table } from './lib/report.ts';
import { type Summary, summarize } from './lib/stats.ts';

/** 1,000 requests a minute. */
const RATE_PER_SECOND = 1_000 / 60;

async function bareHttpPg(databaseUrl: string): Promise<{ url: string; close(): Promise<void> }> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  const server = createServer((_req, res) => {
    pool.query('SELECT 1 AS one').then(
      (r) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(r.rows[0]));
      },
      () => {
        res.writeHead(500);
        res.end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await pool.end();
    },
  };
}

/** SendMessage to an empty FIFO queue on moto, each message taken off again: what moto adds to a POST. */
async function motoSendLatency(endpoint: string, count: number): Promise<number[]> {
  const sqs = new SQSClient(awsClientConfig(motoEnv(endpoint)));
  try {
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({
        QueueName: `bench-api-send-${Date.now()}.fifo`,
        Attributes: {
          FifoQueue: 'true',
          DeduplicationScope: 'messageGroup',
          FifoThroughputLimit: 'perMessageGroupId',
        },
      }),
    );
    const samples: number[] = [];
    for (let i = 0; i < count; i++) {
      const t = performance.now();
      await sqs.send(
        new SendMessageCommand({
          QueueUrl,
          MessageBody: '{}',
          MessageGroupId: `g${i}`,
          MessageDeduplicationId: `d${i}`,
        }),
      );
      samples.push(performance.now() - t);
      const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 1 }));
      for (const m of Messages ?? [])
        await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
    }
    return samples;
  } finally {
    sqs.destroy();
  }
}

/**
 * POST /v1/jobs through the real handler (middy, limiter, validation, stores on Postgres) called as Lambda
 * calls it, one every 60 ms, with the queue port replaced by a no-op: the handler's own time, without
 * HTTP and without moto.
 */
async function postWithoutSend(system: LocalSystem, count: number): Promise<number[]> {
  const deps = await jobsApiDepsFromEnv(system.env, system.db);
  const handler = makeJobsApi({ ...deps, queue: { enqueue: async () => {} } });
  const keyIds = Array.from({ length: 20 }, (_, i) => `stub-${i}`);
  const customers = await Promise.all(
    keyIds.map(async (keyId) => (await new PgCustomerStore(system.db).create(keyId, profile(keyId))).id),
  );
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const due = performance.now() + 60;
    const event = apiEvent('POST', '/v1/jobs', {
      apiKeyId: keyIds[i % keyIds.length] as string,
      body: { customerId: customers[i % keyIds.length], directoryIds: ['simple-form'], priority: 2 },
    });
    const t = performance.now();
    const res = await handler(event, lambdaContext('api-jobs'));
    samples.push(performance.now() - t);
    if (res.statusCode !== 202) throw new Error(`POST answered ${res.statusCode}: ${res.body}`);
    const rest = due - performance.now();
    if (rest > 0) await new Promise((r) => setTimeout(r, rest));
  }
  return samples;
}

interface Caller {
  key: string;
  jobPath: string;
  jobBody: string;
}

/** One row of the latency table: what was measured, how many, at what rate, p50/p99/max, and failures. */
function latencyRow(
  what: string,
  requests: number,
  perMinute: string,
  latency: Pick<Summary, 'p50' | 'p99' | 'max'>,
  non2xx: string,
  errors: string,
  flag = '',
): string[] {
  return [
    what,
    String(requests),
    perMinute,
    fmt(latency.p50, 2),
    fmt(latency.p99, 2),
    fmt(latency.max, 2),
    non2xx,
    errors,
    flag,
  ];
}

/**
 * The flag of a load row: empty when every request got a 2xx answer, else what went wrong, by status
 * ("⚠ 429 × 1,180"), so a row timing refusals is never read as one timing served requests.
 */
function runFlag(run: Pick<LoadRun, 'statuses' | 'errors'>): string {
  const refused = Object.entries(run.statuses)
    .filter(([code]) => !code.startsWith('2'))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([code, n]) => `${code} × ${fmt(n, 0)}`);
  if (run.errors > 0) refused.push(`errors × ${fmt(run.errors, 0)}`);
  return refused.length > 0 ? `⚠ ${refused.join(', ')}` : '';
}

export const api: Benchmark = {
  name: 'api',
  title: 'API latency: GET and POST job at 1,000 req/min and at saturation',
  summary: 'API p50/p99 with autocannon at 1,000 req/min and at saturation, beside a bare pg round trip',
  async run(ctx) {
    const seconds = intArg(ctx.args, 'seconds', 60);
    const saturationSeconds = intArg(ctx.args, 'saturation-seconds', 20);
    const connections = intArg(ctx.args, 'connections', 10);
    // Keys per paced row (each far under its per-minute limit) and per saturation row (enough that no key
    // reaches its limit at several hundred requests a second). Every row has keys of its own, and so do
    // the warm-ups: the exact limiter counts a key's last minute, so keys shared by two rows would start the
    // second row with the first row's minute used up.
    const pacedKeys = intArg(ctx.args, 'paced-keys', 20);
    const saturationKeys = intArg(ctx.args, 'saturation-keys', 500);
    const sizes = {
      warmup: pacedKeys,
      getPaced: pacedKeys,
      postPaced: pacedKeys,
      getBurst: pacedKeys,
      getSaturation: saturationKeys,
      postSaturation: saturationKeys,
    };
    const services = await ctx.services();
    const databaseUrl = await services.database('api');
    const totalKeys = Object.values(sizes).reduce((n, k) => n + k, 0);
    const keys = Array.from({ length: totalKeys }, () => generateKey('ffbench'));
    const system = await spawnSystem({
      DATABASE_URL: databaseUrl,
      FORMFLEET_MOTO_ENDPOINT: services.motoEndpoint,
      FORMFLEET_QUEUE_PREFIX: `bench-api-${Date.now()}-`,
      FORMFLEET_ADMIN_KEY: generateKey('ffadmin'),
      FORMFLEET_CLIENT_KEY: generateKey('ffclient'),
      FORMFLEET_EXTRA_CLIENT_KEYS: JSON.stringify(Object.fromEntries(keys.map((k, i) => [k, `bench-${i}`]))),
      FORMFLEET_FIXTURES: 'simple-form',
      FORMFLEET_WORKERS: 'false',
      FORMFLEET_DRAIN_QUEUES: 'true',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    const bare = await bareHttpPg(databaseUrl);
    try {
      const post = async (key: string, path: string, body: unknown) => {
        const res = await fetch(`${system.url}${path}`, {
          method: 'POST',
          headers: { 'x-api-key': key, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
        return (await res.json()) as { id: string };
      };
      // Each key: its own customer and one job to read back.
      const callers: Caller[] = [];
      for (let i = 0; i < keys.length; i += 20) {
        callers.push(
          ...(await Promise.all(
            keys.slice(i, i + 20).map(async (key, j) => {
              const customer = await post(key, '/v1/customers', {
                name: `Latency Plumbing ${i + j}`,
                email: `owner${i + j}@latency.test`,
              });
              const jobBody = JSON.stringify({
                customerId: customer.id,
                directoryIds: ['simple-form'],
                priority: 2,
              });
              const job = await post(key, '/v1/jobs', JSON.parse(jobBody));
              return { key, jobPath: `/v1/jobs/${job.id}`, jobBody };
            }),
          )),
        );
      }
      // The callers, split into each row's own keys.
      let next = 0;
      const own = Object.fromEntries(
        Object.entries(sizes).map(([row, n]) => {
          next += n;
          return [row, callers.slice(next - n, next)];
        }),
      ) as Record<keyof typeof sizes, Caller[]>;
      const gets = (cs: Caller[]): LoadRequest[] =>
        cs.map((c) => ({ method: 'GET', path: c.jobPath, headers: { 'x-api-key': c.key } }));
      const posts = (cs: Caller[]): LoadRequest[] =>
        cs.map((c) => ({
          method: 'POST',
          path: '/v1/jobs',
          headers: { 'x-api-key': c.key },
          body: c.jobBody,
        }));

      // The floor: one Postgres round trip, no HTTP.
      const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
      await pool.query('SELECT 1');
      const pgSamples: number[] = [];
      for (let i = 0; i < 2_000; i++) {
        const t = performance.now();
        await pool.query('SELECT 1');
        pgSamples.push(performance.now() - t);
      }
      await pool.end();

      const runs: Array<{ what: string; run: LoadRun }> = [];
      const record = async (what: string, go: () => Promise<LoadRun>) => {
        ctx.log(what);
        const run = await go();
        runs.push({ what, run });
        return run;
      };
      const pacedRun = { ratePerSecond: RATE_PER_SECOND, seconds };
      const saturated = { seconds: saturationSeconds, connections };
      // Short warm-ups first, so connections, pools and caches are set before anything is measured.
      await paced({ url: bare.url, ratePerSecond: 20, seconds: 2 });
      await paced({ url: system.url, requests: gets(own.warmup), ratePerSecond: 20, seconds: 2 });
      await paced({ url: system.url, requests: posts(own.warmup), ratePerSecond: 20, seconds: 2 });

      await record('bare HTTP + pg @ 1,000/min', () => paced({ url: bare.url, ...pacedRun }));
      const getAt = await record('GET /v1/jobs/{id} @ 1,000/min', () =>
        paced({ url: system.url, requests: gets(own.getPaced), ...pacedRun }),
      );
      const postAt = await record('POST /v1/jobs @ 1,000/min', () =>
        paced({ url: system.url, requests: posts(own.postPaced), ...pacedRun }),
      );
      await record('GET /v1/jobs/{id} @ 1,000/min, autocannon pacing (17 at once, every second)', () =>
        load({ url: system.url, requests: gets(own.getBurst), ratePerSecond: 17, seconds, connections }),
      );
      await record('bare HTTP + pg @ saturation', () => load({ url: bare.url, ...saturated }));
      await record('GET /v1/jobs/{id} @ saturation', () =>
        load({ url: system.url, requests: gets(own.getSaturation), ...saturated }),
      );
      await record('POST /v1/jobs @ saturation', () =>
        load({ url: system.url, requests: posts(own.postSaturation), ...saturated }),
      );
      const sends = summarize(await motoSendLatency(services.motoEndpoint, 200));
      ctx.log('POST handler in-process with the send stubbed');
      const stubbed = summarize(
        await postWithoutSend(
          await services.system('apistub', { workers: false, fixtures: [simpleForm] }),
          500,
        ),
      );
      const pgRound = summarize(pgSamples);
      const flagged = runs.filter(({ run }) => runFlag(run) !== '').map(({ what }) => what);
      const table: Table = {
        title: 'API latency (ms) through the local gateway',
        columns: ['request', 'requests', 'req/min', 'p50', 'p99', 'max', 'non-2xx', 'errors', 'flag'],
        rows: [
          latencyRow('bare pg round trip (SELECT 1, no HTTP)', pgRound.n, '—', pgRound, '—', '—'),
          latencyRow('SQS SendMessage to moto (empty FIFO queue, sequential)', sends.n, '—', sends, '—', '—'),
          latencyRow(
            'POST /v1/jobs handler in-process, SQS send stubbed (what formfleet itself costs)',
            stubbed.n,
            '1,000',
            stubbed,
            '0',
            '—',
          ),
          ...runs.map(({ what, run }) =>
            latencyRow(
              what,
              run.requests,
              fmt(run.perMinute, 0),
              run.latency,
              String(run.non2xx),
              String(run.errors),
              runFlag(run),
            ),
          ),
        ],
        notes: [
          `"@ 1,000/min" = one request every 60 ms for ${seconds} s, open loop (latency counted from the scheduled send), over ${pacedKeys} client keys per row; "@ saturation" = autocannon with ${connections} connections as fast as answers come for ${saturationSeconds} s over ${saturationKeys} keys per row`,
          "autocannon's own pacing sends each second's quota at once; that row shows what a burst of 17 simultaneous requests costs",
          `every row has client keys of its own (none shared with another row or the warm-ups), sized to stay within the policy's exact limits (${RATE_LIMITS.client.perMinute}/min, ${RATE_LIMITS.client.perHour}/h per client key): the limiter runs on every request and should refuse none`,
          flagged.length === 0
            ? 'flag: no row got a non-2xx answer or an error'
            : `flag ⚠: ${flagged.length} row(s) got non-2xx answers or errors (${flagged.join('; ')}); their latencies include those answers, so they do not time served requests alone`,
          'each response time is kept; percentiles by nearest rank over all of them',
          'POST creates a job with one directory: customer and directory reads, job + ledger insert, SQS FIFO send (moto), queued mark',
        ],
      };
      const goal = (what: string, run: LoadRun) => ({
        goal: `${what} p99 at 1,000 req/min`,
        target: '≤ 25 ms',
        measured: `${fmt(run.latency.p99, 1)} ms (p50 ${fmt(run.latency.p50, 1)} ms)${runFlag(run) ? ` ${runFlag(run)}` : ''}`,
        // A row with refusals does not time served requests: its p99 cannot meet the goal.
        met: run.latency.p99 <= 25 && runFlag(run) === '',
      });
      return {
        params: {
          seconds,
          saturationSeconds,
          connections,
          ratePerMinute: 1_000,
          pacedKeys,
          saturationKeys,
          postgres: `${services.postgresKind} ${services.postgresVersion}`,
        },
        tables: [table],
        goals: [goal('GET /v1/jobs/{id}', getAt), goal('POST /v1/jobs', postAt)],
        raw: {
          pgRoundTrip: pgRound,
          motoSend: sends,
          postWithoutSend: stubbed,
          keysPerRow: sizes,
          runs: runs.map(({ what, run }) => ({
            what,
            non2xx: run.non2xx,
            errors: run.errors,
            statuses: run.statuses,
            flagged: runFlag(run) !== '',
            run,
          })),
        },
      };
    } finally {
      await bare.close();
      await system.stop();
    }
  },
};
