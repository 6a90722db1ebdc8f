/**
 * `npm run demo`: formfleet at work in a minute. It uses the system `npm start` is running (or the API named
 * by FORMFLEET_API_URL), or starts one in this process; submits a mixed-priority workload of the demo
 * customers across the fixture directories through the public API; draws live progress per tier (queued, in
 * progress, done, failed); and ends with a summary computed from real data: the jobs' own timestamps, the
 * submission ledger (GET /v1/jobs/{id} results), and the worker's cache counters as the local runtime
 * recorded them (GET /dashboard/data).
 */
import { parseArgs } from 'node:util';
import type { jobView, jobWithResults } from '#functions/api/jobs';
import { SUBSCRIBABLE_EVENT_TYPES } from '#functions/webhooks/events';
import { LOCAL, PRIORITY_TIERS, type Priority, tierFor } from '#policy';
import type { Env } from '#shared/env';
import { type JobStatus, TERMINAL_JOB_STATUSES } from '#shared/job-store';
import { LISTING_STATES, type ListingState, SUBMISSION_STATUSES } from '#shared/submission-ledger';
import type { DashboardSnapshot } from '../dashboard/snapshot.ts';
import type { CacheFigures } from '../metrics-tap.ts';
import { DEMO_CUSTOMERS, DEMO_EXCLUDED_DIRECTORIES, type DemoCustomer } from '../seed.ts';
import { ApiClient } from './api-client.ts';
import { between, clock, duration, percent, percentile, plural } from './format.ts';
import { CliError, EXIT, type ExitCode, type Io } from './io.ts';
import { bar, type ProgressState, progressFor } from './progress.ts';
import { renderPairs, renderTable } from './table.ts';
import { findTarget } from './target.ts';

type JobView = ReturnType<typeof jobView>;
type JobDetail = ReturnType<typeof jobWithResults>;
type TierName = 'P1' | 'P2' | 'P3';

/** A system the demo started itself, stopped when it ends. */
export interface OwnSystem {
  url: string;
  keys: { admin: string };
  /** Its local webhook receiver, which the demo subscribes. */
  webhookSinkUrl?: string | undefined;
  stop(): Promise<void>;
}

export interface DemoOptions {
  env?: Env;
  /** Starts a system when none is running. @default the local runtime, in this process */
  startSystem?: (log: (line: string) => void) => Promise<OwnSystem>;
  /** How often progress is read. @default LOCAL.demo.pollMs */
  pollMs?: number;
  /** Without a terminal, a progress line at most this often. @default LOCAL.demo.plainLineEveryMs */
  plainEveryMs?: number;
  /** Aborted on Ctrl-C: the demo stops waiting, prints what it has, and stops a system it started. */
  signal?: AbortSignal;
}

export interface DemoSettings {
  jobs: number;
  perJob: number;
  mix: [number, number, number];
  directories?: string[];
  timeoutSeconds: number;
}

const MAX_JOBS = 200;

export const DEMO_USAGE = `usage: npm run demo [-- options]

  --jobs <n>            jobs to submit (default ${LOCAL.demo.jobs}, at most ${MAX_JOBS})
  --per-job <n>         directories per job (default ${LOCAL.demo.directoriesPerJob})
  --mix <p1:p2:p3>      share of each priority (default ${LOCAL.demo.mix.join(':')})
  --directories <a,b>   directories to use (default every active one but ${DEMO_EXCLUDED_DIRECTORIES.join(', ')})
  --timeout <seconds>   give up waiting after this long (default ${LOCAL.demo.timeoutSeconds})
  --api-url, --key      the API and an admin key (default: FORMFLEET_API_URL / FORMFLEET_ADMIN_KEY, else the
                        running npm start, else a system started for the demo)

exit status: 0 every job ended, 1 some did not end within --timeout, 2 wrong command line, 3 no API`;

function positiveInt(raw: string | undefined, name: string, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new CliError(`--${name} must be an integer from 1 to ${max} (got "${raw}")`, EXIT.usage);
  }
  return n;
}

export function parseDemoArgs(argv: readonly string[]): {
  settings: DemoSettings;
  apiUrl?: string;
  key?: string;
  help: boolean;
} {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        jobs: { type: 'string' },
        'per-job': { type: 'string' },
        mix: { type: 'string' },
        directories: { type: 'string' },
        timeout: { type: 'string' },
        'api-url': { type: 'string' },
        key: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n\n${DEMO_USAGE}`, EXIT.usage);
  }
  const mixRaw = values.mix as string | undefined;
  const mix = (mixRaw ?? LOCAL.demo.mix.join(':')).split(':').map(Number);
  if (mix.length !== 3 || mix.some((n) => !Number.isInteger(n) || n < 0) || mix.every((n) => n === 0)) {
    throw new CliError(`--mix takes three non-negative integers like 1:2:3 (got "${mixRaw}")`, EXIT.usage);
  }
  const directories = (values.directories as string | undefined)
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    settings: {
      jobs: positiveInt(values.jobs as string | undefined, 'jobs', LOCAL.demo.jobs, MAX_JOBS),
      perJob: positiveInt(
        values['per-job'] as string | undefined,
        'per-job',
        LOCAL.demo.directoriesPerJob,
        50,
      ),
      mix: mix as [number, number, number],
      ...(directories ? { directories } : {}),
      timeoutSeconds: positiveInt(
        values.timeout as string | undefined,
        'timeout',
        LOCAL.demo.timeoutSeconds,
        86_400,
      ),
    },
    ...(typeof values['api-url'] === 'string' ? { apiUrl: values['api-url'] } : {}),
    ...(typeof values.key === 'string' ? { key: values.key } : {}),
    help: values.help === true,
  };
}

/** The priorities of `jobs` jobs in the given shares, interleaved (1:2:3 → 3, 2, 1, 3, 2, 3, ...). */
export function priorityPlan(jobs: number, mix: readonly [number, number, number]): Priority[] {
  const total = mix[0] + mix[1] + mix[2];
  const plan: Priority[] = [];
  const given = [0, 0, 0];
  for (let i = 0; i < jobs; i++) {
    // The tier furthest behind its share goes next (ties: the lower priority, so P1 does not all come first).
    let best = 2;
    let bestLag = Number.NEGATIVE_INFINITY;
    for (const t of [2, 1, 0]) {
      if ((mix[t] as number) === 0) continue;
      const lag = ((i + 1) * (mix[t] as number)) / total - (given[t] as number);
      if (lag > bestLag) {
        bestLag = lag;
        best = t;
      }
    }
    given[best] = (given[best] as number) + 1;
    plan.push((best + 1) as Priority);
  }
  return plan;
}

/** The directories of job `i`: a window of `perJob` sliding over the list, so every directory gets used. */
export function directoriesFor(i: number, perJob: number, all: readonly string[]): string[] {
  const n = Math.min(perJob, all.length);
  return Array.from({ length: n }, (_, k) => all[(i * n + k) % all.length] as string);
}

interface Submitted {
  id: string;
  tier: TierName;
}

type Phase = 'queued' | 'running' | 'done' | 'failed';
const phaseOf = (s: JobStatus): Phase =>
  s === 'completed'
    ? 'done'
    : s === 'failed' || s === 'cancelled'
      ? 'failed'
      : s === 'in_progress'
        ? 'running'
        : 'queued';

/** Per tier, how many of the demo's jobs are queued, in progress, done and failed. */
export function tierCounts(
  jobs: readonly Submitted[],
  statuses: ReadonlyMap<string, JobStatus>,
): { tier: TierName; total: number; count: Record<Phase, number> }[] {
  return PRIORITY_TIERS.flatMap((tier) => {
    const mine = jobs.filter((j) => j.tier === tier.name);
    if (mine.length === 0) return [];
    const count: Record<Phase, number> = { queued: 0, running: 0, done: 0, failed: 0 };
    for (const j of mine) count[phaseOf(statuses.get(j.id) ?? 'queued')] += 1;
    return [{ tier: tier.name, total: mine.length, count }];
  });
}

/** Bars per tier for a terminal, and one compact line for logs. */
export function demoProgress(
  jobs: readonly Submitted[],
  statuses: ReadonlyMap<string, JobStatus>,
  elapsedMs: number,
): ProgressState {
  const tiers = tierCounts(jobs, statuses);
  const ended = tiers.reduce((n, t) => n + t.count.done + t.count.failed, 0);
  const head = `demo ${duration(elapsedMs)}: ${ended}/${jobs.length} jobs ended`;
  const n = (v: number) => String(v).padStart(3);
  return {
    lines: [
      head,
      ...tiers.map(
        ({ tier, total, count: c }) =>
          `${tier} ${bar(
            [
              { count: c.done, char: '█' },
              { count: c.failed, char: '▓' },
              { count: c.running, char: '▒' },
              { count: c.queued, char: '░' },
            ],
            total,
            24,
          )} queued ${n(c.queued)}  in progress ${n(c.running)}  done ${n(c.done)}  failed ${n(c.failed)}  of ${total}`,
      ),
    ],
    plain: [
      head,
      ...tiers.map(
        ({ tier, count: c }) =>
          `${tier} queued ${c.queued}, in progress ${c.running}, done ${c.done}, failed ${c.failed}`,
      ),
    ].join(' | '),
  };
}

export interface DemoSummary {
  jobs: number;
  elapsedMs: number;
  byTier: {
    tier: TierName | 'all';
    jobs: number;
    completed: number;
    failed: number;
    p50JobMs?: number;
    p95JobMs?: number;
    p50RunMs?: number;
  }[];
  outcomes: Record<string, number>;
  settled: number;
  submissionsPerMinute: number | null;
  submittedPerMinute: number | null;
  window: { from: string; to: string } | null;
  cache: { customers: CacheFigures; directories: CacheFigures; overall: CacheFigures } | null;
  /** The submitted rows' listings by lifecycle state (rows not yet entered under 'entering'). */
  listings: Record<ListingState | 'entering', number>;
  /** The earliest recheck due among them, if any is waiting. */
  nextCheckAt: string | null;
}

const delta = (after: CacheFigures, before: CacheFigures): CacheFigures => {
  const hits = after.hits - before.hits;
  const misses = after.misses - before.misses;
  return { hits, misses, hitRate: hits + misses > 0 ? hits / (hits + misses) : null };
};

/** Every figure of the summary, from the finished jobs and the cache counters before and after. */
export function summarize(
  jobs: readonly (JobDetail & { submittedTier: TierName })[],
  elapsedMs: number,
  cache: { before: DashboardSnapshot['cache']; after: DashboardSnapshot['cache'] } | null,
): DemoSummary {
  const row = (tier: TierName | 'all', list: typeof jobs) => {
    const times = list.flatMap((j) => between(j.createdAt, j.finishedAt) ?? []);
    const runs = list.flatMap((j) => between(j.startedAt, j.finishedAt) ?? []);
    return {
      tier,
      jobs: list.length,
      completed: list.filter((j) => j.status === 'completed').length,
      failed: list.filter((j) => j.status === 'failed' || j.status === 'cancelled').length,
      ...(times.length > 0 ? { p50JobMs: percentile(times, 50), p95JobMs: percentile(times, 95) } : {}),
      ...(runs.length > 0 ? { p50RunMs: percentile(runs, 50) } : {}),
    };
  };
  const results = jobs.flatMap((j) => j.results);
  const outcomes = Object.fromEntries(SUBMISSION_STATUSES.map((s) => [s, 0]));
  for (const r of results) outcomes[r.status] = (outcomes[r.status] ?? 0) + 1;
  const listings = Object.fromEntries(
    [...LISTING_STATES, 'entering'].map((s) => [s, 0]),
  ) as DemoSummary['listings'];
  for (const r of results.filter((r) => r.status === 'submitted')) listings[r.lifecycle ?? 'entering'] += 1;
  const dueTimes = results.flatMap((r) => (r.nextCheckAt ? [r.nextCheckAt] : [])).sort();
  const settledRows = results.filter((r) => r.finishedAt);
  const starts = jobs.flatMap((j) => (j.startedAt ? [Date.parse(j.startedAt)] : []));
  const ends = settledRows.map((r) => Date.parse(r.finishedAt as string));
  const from = starts.length > 0 ? Math.min(...starts) : undefined;
  const to = ends.length > 0 ? Math.max(...ends) : undefined;
  const minutes = from !== undefined && to !== undefined && to > from ? (to - from) / 60_000 : undefined;
  return {
    jobs: jobs.length,
    elapsedMs,
    byTier: [
      ...PRIORITY_TIERS.flatMap((t) => {
        const list = jobs.filter((j) => j.submittedTier === t.name);
        return list.length > 0 ? [row(t.name, list)] : [];
      }),
      row('all', jobs),
    ],
    outcomes,
    settled: settledRows.length,
    submissionsPerMinute: minutes ? settledRows.length / minutes : null,
    submittedPerMinute: minutes ? (outcomes.submitted ?? 0) / minutes : null,
    window:
      from !== undefined && to !== undefined
        ? { from: new Date(from).toISOString(), to: new Date(to).toISOString() }
        : null,
    cache: cache
      ? {
          customers: delta(cache.after.customers, cache.before.customers),
          directories: delta(cache.after.directories, cache.before.directories),
          overall: delta(cache.after.overall, cache.before.overall),
        }
      : null,
    listings,
    nextCheckAt: dueTimes[0] ?? null,
  };
}

/**
 * The demo's last line: what became of the listings it submitted. Right after the demo they are under
 * review; recheck-listings follows them (npm start -- --fast: minutes, not days).
 */
export function renderListings(s: Pick<DemoSummary, 'listings' | 'nextCheckAt'>): string {
  const submitted = Object.values(s.listings).reduce((a, b) => a + b, 0);
  const states = LISTING_STATES.map((state) => `${s.listings[state]} ${state.replace('_', ' ')}`);
  if (s.listings.entering > 0) states.push(`${s.listings.entering} entering`);
  const next = s.nextCheckAt
    ? `; first recheck due ${s.nextCheckAt.replace('T', ' ').slice(0, 19)} UTC (npm run ops -- jobs show <job> follows them)`
    : '';
  return `listings         ${plural(submitted, 'submitted listing')}: ${states.join(', ')}${next}`;
}

const rate = (c: CacheFigures) => `${percent(c.hitRate)} (${c.hits} of ${c.hits + c.misses})`;

export function renderSummary(s: DemoSummary): string {
  const table = renderTable(
    [
      { header: 'tier', value: (r) => r.tier },
      { header: 'jobs', value: (r) => r.jobs, align: 'right' },
      { header: 'completed', value: (r) => r.completed, align: 'right' },
      { header: 'failed', value: (r) => r.failed, align: 'right' },
      { header: 'p50 job time', value: (r) => duration(r.p50JobMs), align: 'right' },
      { header: 'p95 job time', value: (r) => duration(r.p95JobMs), align: 'right' },
      { header: 'p50 run time', value: (r) => duration(r.p50RunMs), align: 'right' },
    ],
    s.byTier,
  );
  const outcomes = renderTable(
    [
      { header: 'directory outcome', value: (r: [string, number]) => r[0] },
      { header: 'count', value: (r: [string, number]) => r[1], align: 'right' },
    ],
    Object.entries(s.outcomes).filter(([k, v]) => v > 0 || k === 'submitted' || k === 'failed'),
  );
  const pairs: [string, string][] = [
    [
      'submissions/min',
      s.submissionsPerMinute === null
        ? '-'
        : `${s.submissionsPerMinute.toFixed(1)} settled, ${(s.submittedPerMinute ?? 0).toFixed(1)} submitted` +
          (s.window ? ` (${s.settled} between ${clock(s.window.from)} and ${clock(s.window.to)} UTC)` : ''),
    ],
    [
      'cache hit rate',
      s.cache
        ? `${rate(s.cache.overall)}: customers ${rate(s.cache.customers)}, directories ${rate(s.cache.directories)}`
        : 'not available (the API is not a local runtime)',
    ],
  ];
  return (
    `\nformfleet demo: ${plural(s.jobs, 'job')}, ${plural(
      Object.values(s.outcomes).reduce((a, b) => a + b, 0),
      'directory submission',
    )}, ${duration(s.elapsedMs)}\n\n${table}\n\n${outcomes}\n\n${renderPairs(pairs)}\n` +
    '\njob time: created → finished (waiting in the queue included); run time: claimed → finished\n' +
    `\n${renderListings(s)}\n`
  );
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function cacheNow(api: ApiClient): Promise<DashboardSnapshot['cache'] | null> {
  const res = await api.request<DashboardSnapshot>('GET', '/dashboard/data', {
    keyed: false,
    accept: [403, 404],
  });
  return res.status === 200 ? res.body.cache : null;
}

async function chooseDirectories(api: ApiClient, asked: readonly string[] | undefined): Promise<string[]> {
  const { body } = await api.request<{ items: { id: string }[] }>('GET', '/v1/directories', {
    query: { active: 'true', limit: 200 },
  });
  const active = body.items.map((d) => d.id);
  if (asked) {
    const unknown = asked.filter((d) => !active.includes(d));
    if (unknown.length > 0)
      throw new CliError(`unknown or inactive directories: ${unknown.join(', ')}`, EXIT.usage);
    return [...asked];
  }
  const usable = active.filter((d) => !DEMO_EXCLUDED_DIRECTORIES.includes(d));
  if (usable.length === 0) throw new CliError('the API has no active directories to submit to', EXIT.failed);
  return usable;
}

/**
 * One new business per job, made from the demo profiles and named after this run. A business is sent to a
 * directory once (a later job settles it `skipped`, pointing at the first), so a demo that reused the seeded
 * customers would submit nothing the second time it ran: each run brings businesses of its own instead.
 */
async function createDemoCustomers(api: ApiClient, count: number, run: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const { id: _seeded, ...profile } = DEMO_CUSTOMERS[i % DEMO_CUSTOMERS.length] as DemoCustomer;
    const { body } = await api.request<{ id: string }>('POST', '/v1/customers', {
      body: { ...profile, name: `${profile.name} (demo ${run} #${i + 1})` },
    });
    ids.push(body.id);
  }
  return ids;
}

/** Statuses of the demo's jobs: the newest pages of GET /v1/jobs, back to the first demo job. */
async function readStatuses(
  api: ApiClient,
  since: string,
  wanted: ReadonlySet<string>,
): Promise<Map<string, JobStatus>> {
  const statuses = new Map<string, JobStatus>();
  let cursor: string | null = null;
  do {
    const page: { body: { items: JobView[]; nextCursor: string | null } } = await api.request(
      'GET',
      '/v1/jobs',
      {
        query: { limit: 200, ...(cursor ? { cursor } : {}) },
      },
    );
    for (const j of page.body.items) if (wanted.has(j.id)) statuses.set(j.id, j.status);
    const oldest = page.body.items.at(-1);
    cursor = oldest && oldest.createdAt >= since && statuses.size < wanted.size ? page.body.nextCursor : null;
  } while (cursor);
  return statuses;
}

async function defaultStartSystem(log: (line: string) => void, env: Env): Promise<OwnSystem> {
  // Loaded only when needed: talking to a running system does not pay for the whole runtime.
  const { startLocalSystem } = await import('../runtime.ts');
  const { stateDir } = await import('../runtime-file.ts');
  const { join } = await import('node:path');
  const system = await startLocalSystem({
    port: 0,
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : { dataDir: join(stateDir(env), 'pg') }),
    log,
  });
  return {
    url: system.url,
    keys: system.keys,
    webhookSinkUrl: system.env.FORMFLEET_WEBHOOK_SINK_URL,
    stop: () => system.stop(),
  };
}

/** The description that marks the demo's own endpoint (found again, or replaced when its receiver moved). */
export const DEMO_WEBHOOK_DESCRIPTION = 'npm run demo: the local webhook receiver of npm start';

/**
 * Subscribes the local webhook receiver to every event of the demo key's jobs, as an API client would: makes a
 * receiver on the sink, creates the endpoint with its URL and gives the sink the secret the API answered once.
 * An endpoint of an earlier demo for this receiver is kept; ones for a receiver that is gone (an earlier
 * npm start) are deleted. Returns the endpoint's id.
 */
export async function subscribeDemoReceiver(api: ApiClient, sinkUrl: string): Promise<string> {
  const sink = async <T>(method: string, path: string, body: unknown): Promise<T | undefined> => {
    const res = await fetch(`${sinkUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok)
      throw new CliError(
        `the local webhook receiver answered ${res.status} to ${method} ${path}`,
        EXIT.failed,
      );
    return res.status === 204 ? undefined : ((await res.json()) as T);
  };
  const receiver = (await sink<{ url: string }>('POST', '/receivers', { name: 'demo' })) as { url: string };
  const { body: mine } = await api.request<{
    items: { id: string; url: string; description: string | null }[];
  }>('GET', '/v1/webhooks', { query: { limit: 100 } });
  const demos = mine.items.filter((e) => e.description === DEMO_WEBHOOK_DESCRIPTION);
  const kept = demos.find((e) => e.url === receiver.url);
  for (const stale of demos.filter((e) => e !== kept)) {
    await api.request('DELETE', `/v1/webhooks/${stale.id}`);
  }
  if (kept) return kept.id;
  const { body: created } = await api.request<{ id: string; secret: string }>('POST', '/v1/webhooks', {
    body: { url: receiver.url, events: [...SUBSCRIBABLE_EVENT_TYPES], description: DEMO_WEBHOOK_DESCRIPTION },
  });
  await sink('PUT', '/receivers/demo/secret', { secret: created.secret });
  return created.id;
}

export async function runDemo(argv: readonly string[], io: Io, options: DemoOptions = {}): Promise<ExitCode> {
  const env = options.env ?? process.env;
  let own: OwnSystem | undefined;
  try {
    const args = parseDemoArgs(argv);
    if (args.help) {
      io.out(`${DEMO_USAGE}\n`);
      return EXIT.ok;
    }
    const { settings } = args;
    const target = await findTarget({ apiUrl: args.apiUrl, key: args.key, env });
    let api: ApiClient;
    if (target) {
      api = new ApiClient({ baseUrl: target.url, key: target.key });
      // Fails with "cannot reach" if the system named is not answering.
      await api.request('GET', '/health', { keyed: false });
      io.out(`using formfleet at ${target.url} (from the ${target.source})\n`);
    } else {
      io.out('no running formfleet found (npm start keeps one running): starting one for this demo\n');
      const log = (line: string) => io.err(`[demo] ${line}\n`);
      own = await (options.startSystem ? options.startSystem(log) : defaultStartSystem(log, env));
      api = new ApiClient({ baseUrl: own.url, key: own.keys.admin });
      io.out(`started formfleet at ${own.url} (dashboard ${own.url}/dashboard)\n`);
    }

    const sinkUrl = target?.runtime?.webhookSinkUrl ?? own?.webhookSinkUrl;
    const webhookId = sinkUrl ? await subscribeDemoReceiver(api, sinkUrl) : undefined;
    if (webhookId) {
      io.out(
        `webhook ${webhookId} sends every event of these jobs to the local receiver, which verifies each ` +
          `signature (dashboard; npm run ops -- webhooks deliveries ${webhookId})\n`,
      );
    }
    const [directories, customers, cacheBefore] = await Promise.all([
      chooseDirectories(api, settings.directories),
      createDemoCustomers(api, settings.jobs, new Date().toISOString().slice(11, 19)),
      cacheNow(api),
    ]);
    const plan = priorityPlan(settings.jobs, settings.mix);
    const since = new Date(Date.now() - 1_000).toISOString();
    const started = Date.now();
    const submitted: Submitted[] = [];
    for (const [i, priority] of plan.entries()) {
      const { body } = await api.request<{ id: string }>('POST', '/v1/jobs', {
        body: {
          customerId: customers[i] as string,
          directoryIds: directoriesFor(i, settings.perJob, directories),
          priority,
        },
      });
      submitted.push({ id: body.id, tier: tierFor(priority).name });
    }
    const perTier = PRIORITY_TIERS.map(
      (t) => `${t.name} ${submitted.filter((s) => s.tier === t.name).length}`,
    );
    io.out(
      `submitted ${plural(submitted.length, 'job')} (${perTier.join(', ')}), ${Math.min(settings.perJob, directories.length)} ` +
        `directories each from ${directories.length}, for ${plural(customers.length, 'new business', 'new businesses')}\n\n`,
    );

    const progress = progressFor(io, options.plainEveryMs ?? LOCAL.demo.plainLineEveryMs);
    const wanted = new Set(submitted.map((s) => s.id));
    let statuses = new Map<string, JobStatus>();
    const allEnded = () =>
      submitted.every((s) => TERMINAL_JOB_STATUSES.includes(statuses.get(s.id) ?? 'queued'));
    for (;;) {
      statuses = await readStatuses(api, since, wanted);
      const state = demoProgress(submitted, statuses, Date.now() - started);
      if (allEnded() || Date.now() - started > settings.timeoutSeconds * 1000) {
        progress.finish(state);
        break;
      }
      progress.update(state);
      if (options.signal?.aborted) {
        progress.finish(state);
        throw new CliError('interrupted: the jobs submitted carry on in the system', EXIT.failed);
      }
      await sleep(options.pollMs ?? LOCAL.demo.pollMs);
    }
    const elapsedMs = Date.now() - started;
    const unfinished = submitted.filter(
      (s) => !TERMINAL_JOB_STATUSES.includes(statuses.get(s.id) ?? 'queued'),
    );

    const details = await Promise.all(
      submitted.map(async (s) => ({
        ...(await api.request<JobDetail>('GET', `/v1/jobs/${s.id}`)).body,
        submittedTier: s.tier,
      })),
    );
    const cacheAfter = cacheBefore ? await cacheNow(api) : null;
    const summary = summarize(
      details.filter((d) => TERMINAL_JOB_STATUSES.includes(d.status)),
      elapsedMs,
      cacheBefore && cacheAfter ? { before: cacheBefore, after: cacheAfter } : null,
    );
    io.out(renderSummary(summary));

    if (unfinished.length > 0) {
      io.err(
        `\n${plural(unfinished.length, 'job')} did not end within ${settings.timeoutSeconds} s (--timeout): ` +
          `${unfinished.map((u) => u.id).join(', ')}\n`,
      );
      return EXIT.failed;
    }
    return EXIT.ok;
  } catch (err) {
    io.err(`error: ${(err as Error).message}\n`);
    return err instanceof CliError ? err.exitCode : EXIT.failed;
  } finally {
    if (own) {
      io.err('[demo] stopping the system it started\n');
      await own.stop();
    }
  }
}
