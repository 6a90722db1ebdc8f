/**
 * `npm run ops -- <command>`: the operator's CLI. It talks to formfleet's HTTP API with an admin key, so the
 * same commands work on the laptop (found through .formfleet/runtime.json) and against a deployed stage
 * (FORMFLEET_API_URL, FORMFLEET_ADMIN_KEY). The runbooks in docs/runbooks/ walk through it.
 */
import { readFile } from 'node:fs/promises';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { HealthReport } from '#functions/api/health-report';
import type { jobView, jobWithResults } from '#functions/api/jobs';
import type { ClientKey, CreatedClientKey } from '#functions/api/keys';
import type { DryRunView } from '#functions/api/probes';
import type { Discovery } from '#functions/directories/discover';
import type { DlqTierSummary, RedriveReport } from '#functions/recovery/dlq';
import {
  ArchiveInputError,
  archiveDay,
  readArchivedDay,
  restoreRows,
  restoreTableName,
  retentionTable,
} from '#functions/retention/archive';
import { DELIVERY_STATUSES, type Delivery, type Endpoint } from '#functions/webhooks/store';
import { CLIENT_KEYS, LOCAL, PAGINATION, PRIORITY_TIERS, RECOVERY } from '#policy';
import { PROFILE_FIELDS } from '#shared/customer-store';
import { databaseFromEnv } from '#shared/database-config';
import type { Database } from '#shared/db';
import type { Directory } from '#shared/directory-store';
import type { Env } from '#shared/env';
import { JOB_STATUSES, TERMINAL_JOB_STATUSES } from '#shared/job-store';
import { type ObjectStore, recordsStoreFromEnv } from '#shared/object-store';
import { ERROR_CLASSES } from '#shared/submission-ledger';
import { TASK_KINDS, TASK_OUTCOMES, TASK_STATES, type Task } from '#shared/task-store';
import type { DashboardSnapshot } from '../dashboard/snapshot.ts';
import { ApiClient } from './api-client.ts';
import { type ImportPlan, planImport } from './directory-import.ts';
import { between, clock, duration, plural } from './format.ts';
import { CliError, EXIT, type ExitCode, type Io } from './io.ts';
import { bar, progressFor } from './progress.ts';
import { renderPairs, renderTable } from './table.ts';
import { requireTarget } from './target.ts';

type JobView = ReturnType<typeof jobView>;
type TaskView = Omit<Task, 'submissionId'>;

const taskColumns = [
  { header: 'task', value: (t: TaskView) => t.id },
  { header: 'kind', value: (t: TaskView) => t.kind },
  { header: 'status', value: (t: TaskView) => t.status },
  { header: 'directory', value: (t: TaskView) => t.directoryId },
  { header: 'job', value: (t: TaskView) => t.jobId },
  {
    header: 'claimed by',
    value: (t: TaskView) => (t.claim ? `${t.claim.by} (${clock(t.claim.expiresAt)})` : ''),
  },
  { header: 'created', value: (t: TaskView) => clock(t.createdAt) },
  { header: 'why', value: (t: TaskView) => t.reason, max: 50 },
];
type JobDetail = ReturnType<typeof jobWithResults>;

export interface OpsOptions {
  env?: Env;
  /** How often --wait and redrive look. @default LOCAL.ops.pollMs */
  pollMs?: number;
}

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | undefined>;

interface Context {
  /** The API client; the target is found on first use, so a wrong command line fails before any lookup. */
  api(): Promise<ApiClient>;
  io: Io;
  values: Values;
  positionals: string[];
  json: boolean;
  pollMs: number;
  env: Env;
}

interface Command {
  name: string;
  args?: string;
  summary: string;
  options?: Options;
  run(ctx: Context): Promise<ExitCode>;
}

const GLOBAL_OPTIONS: Options = {
  'api-url': { type: 'string' },
  key: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function intOption(values: Values, name: string, fallback: number, min: number, max: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new CliError(`--${name} must be an integer from ${min} to ${max} (got "${raw}")`, EXIT.usage);
  }
  return n;
}

function listOption(values: Values, name: string, allowed: readonly string[]): string[] | undefined {
  const raw = values[name];
  if (typeof raw !== 'string') return undefined;
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = items.filter((i) => !allowed.includes(i));
  if (items.length === 0 || bad.length > 0) {
    throw new CliError(`--${name} takes ${allowed.join(', ')} (comma-separated); got "${raw}"`, EXIT.usage);
  }
  return items;
}

const jobColumns = [
  { header: 'job', value: (j: JobView) => j.id },
  { header: 'tier', value: (j: JobView) => j.tier },
  { header: 'status', value: (j: JobView) => j.status },
  {
    header: 'progress',
    value: (j: JobView) => `${j.progress.done ?? 0}/${j.progress.total ?? 0}`,
    align: 'right' as const,
  },
  { header: 'attempts', value: (j: JobView) => j.attempts, align: 'right' as const },
  { header: 'created', value: (j: JobView) => clock(j.createdAt) },
  {
    header: 'took',
    value: (j: JobView) => duration(between(j.createdAt, j.finishedAt)),
    align: 'right' as const,
  },
  {
    header: 'error',
    value: (j: JobView) => (j.errorClass ? `${j.errorClass}: ${j.error ?? ''}` : j.error),
    max: 60,
  },
];

/** One page of a list route: its JSON (--json), or a table and how to get the next page. */
function printPage<T>(
  ctx: Context,
  what: 'jobs' | 'tasks',
  columns: Parameters<typeof renderTable<T>>[0],
  body: { items: T[]; nextCursor: string | null },
): ExitCode {
  if (ctx.json) {
    ctx.io.out(`${JSON.stringify(body, null, 2)}\n`);
    return EXIT.ok;
  }
  ctx.io.out(body.items.length > 0 ? `${renderTable(columns, body.items)}\n` : `no ${what}\n`);
  if (body.nextCursor) ctx.io.out(`more: npm run ops -- ${what} list --cursor ${body.nextCursor}\n`);
  return EXIT.ok;
}

function printJob(io: Io, job: JobDetail): void {
  const p = job.progress;
  io.out(
    `${renderPairs([
      ['job', job.id],
      ['customer', job.customerId],
      ['status', `${job.status}${job.error ? ` (${job.errorClass ?? 'error'}: ${job.error})` : ''}`],
      [
        'tier',
        `${job.tier}${job.requestedPriority !== job.priority ? ` (asked P${job.requestedPriority}, promoted)` : ''}`,
      ],
      [
        'progress',
        `${p.done ?? 0}/${p.total ?? 0} directories${p.directoryId ? `, now ${p.directoryId} (${p.step ?? '-'})` : ''}`,
      ],
      ['attempts', String(job.attempts)],
      ['created', job.createdAt],
      [
        'finished',
        job.finishedAt ? `${job.finishedAt} (${duration(between(job.createdAt, job.finishedAt))})` : '-',
      ],
    ])}\n\n`,
  );
  io.out(
    `${renderTable(
      [
        { header: 'directory', value: (r) => r.directoryId },
        { header: 'status', value: (r) => r.status },
        { header: 'attempt', value: (r) => r.attempt, align: 'right' },
        { header: 'error class', value: (r) => r.errorClass },
        { header: 'error', value: (r) => r.error, max: 70 },
      ],
      job.results,
    )}\n`,
  );
  printProofs(io, job);
  const listings = job.results.filter((r) => r.lifecycle !== null);
  if (listings.length === 0) return;
  // The listings' life after the click: found live (and where), rejected, not found, or when looked up next.
  io.out(
    `\n${renderTable(
      [
        { header: 'listing', value: (r) => r.directoryId },
        { header: 'lifecycle', value: (r) => r.lifecycle },
        { header: 'checked', value: (r) => when(r.lifecycleCheckedAt) },
        { header: 'next check', value: (r) => when(r.nextCheckAt) },
        { header: 'URL or last recheck', value: (r) => r.listingUrl ?? r.lifecycleReason, max: 80 },
      ],
      listings,
    )}\n`,
  );
}

/**
 * Each click's proof: when, the page's answer and which indicator decided, then its two screenshots, each a
 * presigned link (whole, on a line of its own, so it can be opened) or what became of it (pending, lost, not
 * taken, with why). The links work for EVIDENCE.presignedUrlSeconds from the request.
 */
function printProofs(io: Io, job: JobDetail): void {
  const clicks = job.results.flatMap((r) =>
    (r.proofs ?? []).map((proof) => ({ directoryId: r.directoryId, proof })),
  );
  if (clicks.length === 0) return;
  const lines = ['proofs'];
  for (const { directoryId, proof } of clicks) {
    const matched = proof.matched
      ? `${proof.matched.kind}${proof.matched.index === null ? '' : `[${proof.matched.index}]`}`
      : '-';
    lines.push(
      `${directoryId}  attempt ${proof.attempt}  ${when(proof.capturedAt)}  HTTP ${proof.httpStatus ?? '-'}  ${matched}  ${proof.finalUrl ?? '-'}`,
    );
    for (const [kind, shot] of Object.entries(proof.screenshots)) {
      const what = shot.url ?? `${shot.state}${shot.reason ? ` (${shot.reason})` : ''}`;
      lines.push(`  ${kind.padEnd(6)} ${what}`);
    }
  }
  io.out(`\n${lines.join('\n')}\n`);
}

/** A date and time to the second, UTC ("2030-01-02 04:12:30"), or "-". */
const when = (iso: string | null) => (iso ? iso.replace('T', ' ').slice(0, 19) : '-');

/** Polls the job until it ends, drawing its progress; returns the final job. */
async function waitForJob(ctx: Context, id: string, timeoutSeconds: number): Promise<JobDetail> {
  const progress = progressFor(ctx.io, LOCAL.demo.plainLineEveryMs);
  const started = Date.now();
  for (;;) {
    const { body: job } = await (await ctx.api()).request<JobDetail>(
      'GET',
      `/v1/jobs/${encodeURIComponent(id)}`,
    );
    // The ledger moves with every directory; progress.done only with each heartbeat.
    const settled = job.results.filter((r) => r.status !== 'prepared' && r.status !== 'submitting');
    const done = Math.max(job.progress.done ?? 0, settled.length);
    const total = job.progress.total ?? job.results.length;
    const submitted = settled.filter((r) => r.status === 'submitted').length;
    // Every directory in flight (K lanes), or the single one an older worker reported.
    const inFlight = job.progress.inFlight?.length
      ? job.progress.inFlight
      : job.progress.directoryId
        ? [{ directoryId: job.progress.directoryId, step: job.progress.step ?? null }]
        : [];
    const now = inFlight.length
      ? `  now ${inFlight.map((d) => `${d.directoryId} (${d.step ?? '-'})`).join(', ')}`
      : '';
    const line = `${job.id.slice(0, 8)} ${job.tier} ${job.status.padEnd(11)} ${bar(
      [
        { count: submitted, char: '█' },
        { count: done - submitted, char: '▓' },
      ],
      total,
      30,
    )} ${done}/${total}${now}  ${duration(Date.now() - started)}`;
    if (TERMINAL_JOB_STATUSES.includes(job.status)) {
      progress.finish({ lines: [line] });
      return job;
    }
    progress.update({ lines: [line] });
    if (Date.now() - started > timeoutSeconds * 1000) {
      progress.finish({ lines: [line] });
      throw new CliError(
        `job ${id} is still ${job.status} after ${timeoutSeconds} s (--timeout)`,
        EXIT.failed,
      );
    }
    await sleep(ctx.pollMs);
  }
}

const waitOptions: Options = { wait: { type: 'boolean' }, timeout: { type: 'string' } };

async function showOrWait(ctx: Context, id: string): Promise<ExitCode> {
  if (!ctx.values.wait) {
    const { body } = await (await ctx.api()).request<JobDetail>('GET', `/v1/jobs/${encodeURIComponent(id)}`);
    if (ctx.json) ctx.io.out(`${JSON.stringify(body, null, 2)}\n`);
    else printJob(ctx.io, body);
    return EXIT.ok;
  }
  const timeout = intOption(ctx.values, 'timeout', LOCAL.ops.waitTimeoutSeconds, 1, 24 * 3600);
  const job = await waitForJob(ctx, id, timeout);
  ctx.io.out('\n');
  if (ctx.json) ctx.io.out(`${JSON.stringify(job, null, 2)}\n`);
  else printJob(ctx.io, job);
  return job.status === 'completed' ? EXIT.ok : EXIT.failed;
}

function printHealth(io: Io, h: HealthReport): void {
  const pairs: [string, string][] = [
    ['status', `${h.status}${h.reasons.length > 0 ? `: ${h.reasons.join('; ')}` : ''}`],
    [
      'database',
      `${h.database.status}${h.database.latencyMs !== null ? ` (${h.database.latencyMs} ms)` : ''}`,
    ],
    ['queues', h.queues.status],
  ];
  if (h.jobs) {
    const j = h.jobs;
    pairs.push([
      'jobs',
      `pending ${j.pending} · queued ${j.queued} · in progress ${j.inProgress} · completed today ${j.completedToday} · failed today ${j.failedToday}`,
    ]);
  }
  if (h.workers) {
    pairs.push([
      'workers',
      `${h.workers.active} active, ${h.workers.stale} stale, ${plural(h.workers.jobsInFlight, 'job')} in flight`,
    ]);
  }
  if (h.browser) {
    const b = h.browser;
    pairs.push([
      'browser',
      `${b.running} running, ${b.openContexts} open contexts, ${b.launches} launches, ${b.recycles} recycles`,
    ]);
  }
  if (h.staleJobs) {
    pairs.push([
      'stale jobs',
      `${h.staleJobs.count}${h.staleJobs.oldest.map((s) => `\n            ${s.id} (${s.claimedBy ?? '?'}, ${s.staleSeconds} s)`).join('')}`,
    ]);
  }
  io.out(`${renderPairs(pairs)}\n\n`);
  io.out(
    `${renderTable(
      [
        { header: 'tier', value: (t) => t.tier },
        { header: 'waiting', value: (t) => t.depth, align: 'right' },
        { header: 'in flight', value: (t) => t.inFlight, align: 'right' },
        { header: 'DLQ', value: (t) => t.dlqDepth, align: 'right' },
      ],
      h.queues.tiers,
    )}\n`,
  );
}

const deliveryColumns = [
  { header: 'delivery', value: (d: Delivery) => d.id },
  { header: 'event', value: (d: Delivery) => d.eventType },
  { header: 'webhook-id', value: (d: Delivery) => d.eventId },
  { header: 'status', value: (d: Delivery) => d.status },
  { header: 'attempts', value: (d: Delivery) => d.attempts, align: 'right' as const },
  { header: 'created', value: (d: Delivery) => clock(d.createdAt) },
  {
    header: 'last attempt',
    value: (d: Delivery) => {
      const last = d.attemptLog.at(-1);
      return last ? (last.error ?? `answered ${last.statusCode}`) : '-';
    },
    max: 50,
  },
];

const COMMANDS: Command[] = [
  {
    name: 'health',
    summary: 'the detailed health report (GET /v1/health); exit 1 unless healthy',
    async run(ctx) {
      const { body } = await (await ctx.api()).request<HealthReport>('GET', '/v1/health', { accept: [503] });
      if (ctx.json) ctx.io.out(`${JSON.stringify(body, null, 2)}\n`);
      else printHealth(ctx.io, body);
      return body.status === 'healthy' ? EXIT.ok : EXIT.failed;
    },
  },
  {
    name: 'jobs list',
    args: `[--status <${JOB_STATUSES.join('|')}>] [--customer <id>] [--limit <n>] [--cursor <c>]`,
    summary: 'jobs, newest first',
    options: {
      status: { type: 'string' },
      customer: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
    },
    async run(ctx) {
      const status = listOption(ctx.values, 'status', JOB_STATUSES);
      if (status && status.length > 1) throw new CliError('--status takes one status', EXIT.usage);
      const query = {
        status: status?.[0],
        customerId: ctx.values.customer as string | undefined,
        cursor: ctx.values.cursor as string | undefined,
        limit: intOption(ctx.values, 'limit', 20, 1, PAGINATION.maxLimit),
      };
      const api = await ctx.api();
      const { body } = await api.request<{ items: JobView[]; nextCursor: string | null }>('GET', '/v1/jobs', {
        query,
      });
      return printPage(ctx, 'jobs', jobColumns, body);
    },
  },
  {
    name: 'jobs show',
    args: '<job id> [--wait [--timeout <seconds>]]',
    summary:
      'a job and its per-directory results; --wait draws its progress until it ends (exit 1 unless completed)',
    options: waitOptions,
    run: (ctx) => showOrWait(ctx, ctx.positionals[0] as string),
  },
  {
    name: 'jobs retry',
    args: '<job id> [--wait [--timeout <seconds>]]',
    summary:
      'requeues what a finished job left unsent (sent) or in doubt (looked up first), never a submitted one',
    options: waitOptions,
    async run(ctx) {
      const id = ctx.positionals[0] as string;
      // A bad --timeout fails before anything is retried.
      intOption(ctx.values, 'timeout', LOCAL.ops.waitTimeoutSeconds, 1, 24 * 3600);
      const { body } = await (await ctx.api()).request<{
        status: string;
        tier: string;
        retried: string[];
        plan?: { directoryId: string; from: string; to: string; action: string; reason: string }[];
      }>('POST', `/v1/jobs/${encodeURIComponent(id)}/retry`);
      ctx.io.out(`job ${id} ${body.status} on ${body.tier}: retrying ${body.retried.join(', ')}\n`);
      // What happens to each directory, and why (send, look up first, settle, or nothing).
      for (const d of body.plan ?? []) {
        ctx.io.out(`  ${d.directoryId}: ${d.from} -> ${d.to} (${d.action}): ${d.reason}\n`);
      }
      return ctx.values.wait ? showOrWait(ctx, id) : EXIT.ok;
    },
  },
  {
    name: 'jobs cancel',
    args: '<job id>',
    summary: 'cancels a pending, queued or running job (directories not yet tried are skipped)',
    async run(ctx) {
      const id = ctx.positionals[0] as string;
      const { body } = await (await ctx.api()).request<JobDetail>(
        'POST',
        `/v1/jobs/${encodeURIComponent(id)}/cancel`,
      );
      const count = (s: string) => body.results.filter((r) => r.status === s).length;
      ctx.io.out(
        `job ${id} cancelled: ${count('submitted')} submitted stay submitted, ${count('skipped')} skipped, ` +
          `${count('unknown')} unknown (caught mid-submit: check those by hand)\n`,
      );
      return EXIT.ok;
    },
  },
  {
    name: 'tasks list',
    args: `[--status <${TASK_STATES.join('|')}>] [--kind <${TASK_KINDS.join('|')}>] [--directory <id>] [--job <id>] [--limit <n>] [--cursor <c>]`,
    summary: "the people's queue: tasks (open by default), oldest first",
    options: {
      status: { type: 'string' },
      kind: { type: 'string' },
      directory: { type: 'string' },
      job: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
    },
    async run(ctx) {
      const status = listOption(ctx.values, 'status', TASK_STATES);
      const kind = listOption(ctx.values, 'kind', TASK_KINDS);
      if ((status?.length ?? 0) > 1 || (kind?.length ?? 0) > 1) {
        throw new CliError('--status and --kind take one value each', EXIT.usage);
      }
      const { body } = await (await ctx.api()).request<{ items: TaskView[]; nextCursor: string | null }>(
        'GET',
        '/v1/tasks',
        {
          query: {
            status: status?.[0] ?? 'open',
            kind: kind?.[0],
            directoryId: ctx.values.directory as string | undefined,
            jobId: ctx.values.job as string | undefined,
            cursor: ctx.values.cursor as string | undefined,
            limit: intOption(ctx.values, 'limit', 20, 1, PAGINATION.maxLimit),
          },
        },
      );
      return printPage(ctx, 'tasks', taskColumns, body);
    },
  },
  {
    name: 'tasks claim',
    args: '<task id> [--by <name>]',
    summary: 'leases a task to you and prints what doing it by hand needs (the page, the profile, the token)',
    options: { by: { type: 'string' } },
    async run(ctx) {
      const id = ctx.positionals[0] as string;
      const api = await ctx.api();
      const by = ctx.values.by as string | undefined;
      const { body: task } = await api.request<TaskView>(
        'POST',
        `/v1/tasks/${encodeURIComponent(id)}/claim`,
        {
          body: by ? { by } : {},
        },
      );
      const { body: customer } = await api.request<Record<string, unknown>>(
        'GET',
        `/v1/customers/${encodeURIComponent(task.customerId)}`,
      );
      if (ctx.json) {
        ctx.io.out(`${JSON.stringify({ task, customer }, null, 2)}\n`);
        return EXIT.ok;
      }
      const claim = task.claim as NonNullable<TaskView['claim']>;
      ctx.io.out(
        `${renderPairs([
          ['task', `${task.id} (${task.kind})`],
          ['claimed', `by ${claim.by} until ${claim.expiresAt}, token ${claim.token}`],
          ['directory', `${task.directoryName} (${task.directoryId})`],
          ['submit at', task.submissionUrl],
          ['why', task.reason ?? '-'],
          ['job', task.jobId],
        ])}\n\nprofile:\n${renderPairs(
          PROFILE_FIELDS.filter((f) => customer[f] !== null && customer[f] !== undefined).map((f) => [
            f,
            String(customer[f]),
          ]),
        )}\n\nthen: npm run ops -- tasks resolve ${task.id} --token ${claim.token} --outcome submitted|failed|skipped\n`,
      );
      return EXIT.ok;
    },
  },
  {
    name: 'tasks release',
    args: '<task id> --token <claim token>',
    summary: 'gives a claimed task back to the queue',
    options: { token: { type: 'string' } },
    async run(ctx) {
      const id = ctx.positionals[0] as string;
      const claimToken = intOption(ctx.values, 'token', 0, 1, 2_147_483_647);
      if (claimToken === 0) throw new CliError('--token is required (the claim token)', EXIT.usage);
      await (await ctx.api()).request('POST', `/v1/tasks/${encodeURIComponent(id)}/release`, {
        body: { claimToken },
      });
      ctx.io.out(`released task ${id}\n`);
      return EXIT.ok;
    },
  },
  {
    name: 'tasks resolve',
    args: `<task id> --outcome <${TASK_OUTCOMES.join('|')}> [--token <claim token>] [--by <name>] [--listing-url <url>] [--note <text>]`,
    summary: 'records what you did: the ledger row moves once, from the state the task was made for',
    options: {
      outcome: { type: 'string' },
      token: { type: 'string' },
      by: { type: 'string' },
      'listing-url': { type: 'string' },
      note: { type: 'string' },
    },
    async run(ctx) {
      const id = ctx.positionals[0] as string;
      const outcome = listOption(ctx.values, 'outcome', TASK_OUTCOMES);
      if (outcome?.length !== 1) {
        throw new CliError(`--outcome takes one of ${TASK_OUTCOMES.join(', ')}`, EXIT.usage);
      }
      const token =
        ctx.values.token === undefined ? undefined : intOption(ctx.values, 'token', 1, 1, 2_147_483_647);
      const { body } = await (await ctx.api()).request<TaskView>(
        'POST',
        `/v1/tasks/${encodeURIComponent(id)}/resolve`,
        {
          body: {
            outcome: outcome[0],
            ...(token !== undefined ? { claimToken: token } : {}),
            ...(ctx.values.by ? { by: ctx.values.by } : {}),
            ...(ctx.values['listing-url'] ? { listingUrl: ctx.values['listing-url'] } : {}),
            ...(ctx.values.note ? { note: ctx.values.note } : {}),
          },
        },
      );
      if (ctx.json) {
        ctx.io.out(`${JSON.stringify(body, null, 2)}\n`);
        return EXIT.ok;
      }
      ctx.io.out(
        `task ${id} resolved ${body.outcome} by ${body.resolvedBy}: ${body.directoryId} of job ${body.jobId} ` +
          `is now ${body.ledgerStatus}\n`,
      );
      return EXIT.ok;
    },
  },
  {
    name: 'dlq list',
    args: '[--max <n per tier>]',
    summary: 'each tier dead-letter queue: depth and the first messages, without consuming them',
    options: { max: { type: 'string' } },
    async run(ctx) {
      const max = intOption(ctx.values, 'max', RECOVERY.dlqPeekMaxPerTier, 0, 100);
      const { body } = await (await ctx.api()).request<{ tiers: DlqTierSummary[] }>('GET', '/v1/dlq', {
        query: { maxPerTier: max },
      });
      if (ctx.json) {
        ctx.io.out(`${JSON.stringify(body, null, 2)}\n`);
        return EXIT.ok;
      }
      ctx.io.out(`${body.tiers.map((t) => `${t.tier} ${t.depth}`).join(' · ')} message(s) in the DLQs\n`);
      const messages = body.tiers.flatMap((t) => t.messages);
      if (messages.length > 0) {
        ctx.io.out(
          `\n${renderTable(
            [
              { header: 'tier', value: (m) => m.tier },
              { header: 'job', value: (m) => m.jobId ?? '(not a job message)' },
              { header: 'class', value: (m) => m.errorClass },
              { header: 'receives', value: (m) => m.receiveCount, align: 'right' },
              { header: 'sent', value: (m) => m.sentAt },
              { header: 'error', value: (m) => m.error, max: 60 },
            ],
            messages,
          )}\n`,
        );
        ctx.io.out(
          '\nredrive by class once the cause is fixed: npm run ops -- dlq redrive --class <class>\n',
        );
      }
      return EXIT.ok;
    },
  },
  {
    name: 'dlq redrive',
    args: `--class <${ERROR_CLASSES.join('|')}|all>[,...] [--tier P1,P2,P3] [--limit <n>]`,
    summary: `moves the chosen messages back to their tier queues (jobs get new tokens), ${RECOVERY.dlqRedriveMaxPerCall} per API call, with progress`,
    options: { class: { type: 'string' }, tier: { type: 'string' }, limit: { type: 'string' } },
    async run(ctx) {
      if (typeof ctx.values.class !== 'string') {
        throw new CliError(
          'dlq redrive needs --class (an error class, a comma-separated list, or all)',
          EXIT.usage,
        );
      }
      const classes = ctx.values.class === 'all' ? 'all' : listOption(ctx.values, 'class', ERROR_CLASSES);
      const tiers = listOption(
        ctx.values,
        'tier',
        PRIORITY_TIERS.map((t) => t.name),
      );
      const limit = intOption(ctx.values, 'limit', Number.MAX_SAFE_INTEGER, 1, Number.MAX_SAFE_INTEGER);
      const before = await (await ctx.api()).request<{ tiers: DlqTierSummary[] }>('GET', '/v1/dlq', {
        query: { maxPerTier: 0 },
      });
      const depth = before.body.tiers
        .filter((t) => !tiers || tiers.includes(t.tier))
        .reduce((n, t) => n + t.depth, 0);
      const progress = progressFor(ctx.io, LOCAL.demo.plainLineEveryMs);
      const total: RedriveReport = { moved: 0, skipped: 0, byClass: {}, byTier: {} };
      const goal = Math.min(depth, limit);
      const line = () =>
        `redrive ${bar([{ count: total.moved, char: '█' }], goal, 30)} ${total.moved}/${goal} moved` +
        `${
          Object.keys(total.byClass).length > 0
            ? ` (${Object.entries(total.byClass)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')})`
            : ''
        }`;
      progress.update({ lines: [line()] });
      for (;;) {
        const ask = Math.min(RECOVERY.dlqRedriveMaxPerCall, limit - total.moved);
        if (ask <= 0) break;
        const { body } = await (await ctx.api()).request<RedriveReport>('POST', '/v1/dlq/redrive', {
          body: { errorClasses: classes, ...(tiers ? { tiers } : {}), limit: ask },
        });
        total.moved += body.moved;
        total.skipped = body.skipped;
        for (const [k, v] of Object.entries(body.byClass)) total.byClass[k] = (total.byClass[k] ?? 0) + v;
        for (const [k, v] of Object.entries(body.byTier)) total.byTier[k] = (total.byTier[k] ?? 0) + v;
        progress.update({ lines: [line()] });
        // A call that moved fewer than it was allowed saw every message there was.
        if (body.moved < ask) break;
      }
      progress.finish({ lines: [line()] });
      if (ctx.json) ctx.io.out(`${JSON.stringify(total, null, 2)}\n`);
      else {
        ctx.io.out(
          `moved ${total.moved} message(s)${
            Object.keys(total.byTier).length > 0
              ? ` (${Object.entries(total.byTier)
                  .map(([k, v]) => `${k} ${v}`)
                  .join(', ')})`
              : ''
          }; ` + `${total.skipped} not chosen stay in the DLQ\n`,
        );
      }
      return EXIT.ok;
    },
  },
  {
    name: 'directories discover',
    args: '<url> [--save <id>] [--category <c>] [--tier <1-4>]',
    summary:
      'a draft definition from a form’s URL (POST /v1/directories/discover): steps, confidence, what stayed unmapped; --save stores it inactive, to dry-run and activate',
    options: { save: { type: 'string' }, category: { type: 'string' }, tier: { type: 'string' } },
    async run(ctx) {
      const url = ctx.positionals[0] as string;
      const save = ctx.values.save as string | undefined;
      const tier = intOption(ctx.values, 'tier', 1, 1, 4);
      const api = await ctx.api();
      const { body } = await api.request<Discovery>('POST', '/v1/directories/discover', { body: { url } });
      if (ctx.json) ctx.io.out(`${JSON.stringify(body, null, 2)}\n`);
      else {
        ctx.io.out(
          `${renderPairs([
            ['page', `${body.title || '-'} (${body.finalUrl})`],
            ['outcome', `${body.outcome}${body.captcha ? ', captcha' : ''}`],
            ['pages', String(body.pages)],
            ['confidence', body.confidence.toFixed(2)],
          ])}\n\n${renderTable(
            [
              { header: 'step', value: (s: Discovery['steps'][number]) => s.step + 1, align: 'right' },
              { header: 'action', value: (s) => s.action },
              { header: 'field', value: (s) => s.field ?? '' },
              { header: 'confidence', value: (s) => s.confidence.toFixed(2), align: 'right' },
              { header: 'because', value: (s) => s.because.join('; '), max: 70 },
            ],
            body.steps,
          )}\n`,
        );
        for (const u of body.unmapped)
          ctx.io.out(`unmapped: ${u.selector} (“${u.label}”)${u.required ? ', required' : ''}\n`);
        for (const w of body.warnings) ctx.io.out(`warning: ${w}\n`);
        for (const s of body.screenshots)
          ctx.io.out(`screenshot ${s.label}: ${s.taken ? s.url : s.reason}\n`);
      }
      if (save) {
        const saved = await api.request<{ id: string; version: number }>(
          'PUT',
          `/v1/directories/${encodeURIComponent(save)}`,
          {
            body: {
              name: body.title.trim() || new URL(body.finalUrl).hostname,
              category: (ctx.values.category as string | undefined) ?? 'general',
              tier,
              domainAuthority: 0,
              // A draft is not sent to customers until someone has dry-run it and switched it on.
              active: false,
              requiresLogin: body.outcome === 'login_wall',
              hasCaptcha: body.captcha,
              definition: body.definition,
            },
          },
        );
        ctx.io.out(
          `saved ${saved.body.id} (version ${saved.body.version}, inactive): try it with npm run ops -- directories dry-run ${saved.body.id}\n`,
        );
      }
      return EXIT.ok;
    },
  },
  {
    name: 'directories unpause',
    args: '<id>',
    summary:
      'unpauses a directory its daily health check paused (POST /v1/directories/{id}/unpause); jobs send it again',
    async run(ctx) {
      const id = ctx.positionals[0] as string;
      const { body } = await (await ctx.api()).request<Omit<Directory, 'definition'>>(
        'POST',
        `/v1/directories/${encodeURIComponent(id)}/unpause`,
      );
      if (ctx.json) ctx.io.out(`${JSON.stringify(body, null, 2)}\n`);
      else {
        const health = body.health;
        ctx.io.out(
          `${body.id} unpaused (health ${health?.status ?? 'unchecked'}${
            health?.driftStep !== null && health?.driftStep !== undefined
              ? `, drift at step ${health.driftStep + 1}`
              : ''
          }); the next health run checks it again, and a retry of its skipped jobs sends them\n`,
        );
      }
      return EXIT.ok;
    },
  },
  {
    name: 'directories dry-run',
    args: '<id> [--customer <id>]',
    summary:
      'runs a directory’s form up to, never including, the submit (POST /v1/directories/{id}/dry-run): per step what matched',
    options: { customer: { type: 'string' } },
    async run(ctx) {
      const id = ctx.positionals[0] as string;
      const customer = ctx.values.customer as string | undefined;
      const { body } = await (await ctx.api()).request<DryRunView>(
        'POST',
        `/v1/directories/${encodeURIComponent(id)}/dry-run`,
        { body: customer ? { customerId: customer } : {} },
      );
      if (ctx.json) ctx.io.out(`${JSON.stringify(body, null, 2)}\n`);
      else {
        ctx.io.out(
          `${renderPairs([
            ['directory', `${body.directoryId} (version ${body.version})`],
            [
              'outcome',
              `${body.outcome}${body.driftStep !== null ? ` at step ${body.driftStep + 1}` : ''}${body.error ? `: ${body.error}` : ''}`,
            ],
            ['took', duration(body.ms)],
            ['submitted', 'no (a dry run never submits)'],
          ])}\n\n${renderTable(
            [
              { header: 'step', value: (s: DryRunView['steps'][number]) => s.step + 1, align: 'right' },
              { header: 'action', value: (s) => s.action },
              { header: 'field', value: (s) => s.field ?? '' },
              { header: 'status', value: (s) => s.status },
              {
                header: 'matched',
                value: (s) =>
                  s.selector === null
                    ? ''
                    : `${s.selector}${s.selectorIndex ? ` (fallback ${s.selectorIndex})` : ''}`,
                max: 50,
              },
              { header: 'ms', value: (s) => s.ms ?? '', align: 'right' },
            ],
            body.steps,
          )}\n`,
        );
        for (const s of body.screenshots)
          ctx.io.out(`screenshot ${s.label}: ${s.taken ? s.url : s.reason}\n`);
      }
      return body.outcome === 'ready' ? EXIT.ok : EXIT.failed;
    },
  },
  {
    name: 'directories import',
    args: '<file> [--dry-run] [--inactive]',
    summary:
      'writes the replaced system’s directory list (JSON) as definitions (PUT /v1/directories/{id}); --dry-run tries each; reports what it could not map',
    options: { 'dry-run': { type: 'boolean' }, inactive: { type: 'boolean' } },
    async run(ctx) {
      const file = ctx.positionals[0] as string;
      let plan: ImportPlan;
      try {
        plan = planImport(JSON.parse(await readFile(file, 'utf8')));
      } catch (err) {
        throw new CliError(`cannot read ${file}: ${(err as Error).message}`, EXIT.usage);
      }
      const api = await ctx.api();
      const rows: { id: string; written: string; dryRun: string; unmapped: string[] }[] = [];
      for (const d of plan.directories) {
        const body = ctx.values.inactive ? { ...d.body, active: false } : d.body;
        const put = await api.request<{
          version: number;
          error?: { message: string; details?: { field: string; message: string }[] };
        }>('PUT', `/v1/directories/${encodeURIComponent(d.id)}`, { body, accept: [400] });
        if (put.status === 400) {
          const details = (put.body.error?.details ?? []).map((e) => `${e.field}: ${e.message}`).join('; ');
          rows.push({
            id: d.id,
            written: `refused: ${put.body.error?.message ?? ''} ${details}`,
            dryRun: '',
            unmapped: d.unmapped,
          });
          continue;
        }
        let dryRun = '';
        if (ctx.values['dry-run']) {
          const dry = await api.request<DryRunView & { error?: { code: string } }>(
            'POST',
            `/v1/directories/${encodeURIComponent(d.id)}/dry-run`,
            { body: {}, accept: [409] },
          );
          dryRun =
            dry.status === 409
              ? `not tried: ${dry.body.error?.code ?? 'busy'}`
              : `${dry.body.outcome}${dry.body.driftStep !== null ? ` at step ${dry.body.driftStep + 1}` : ''}`;
        }
        rows.push({
          id: d.id,
          written: put.status === 201 ? 'created' : `replaced (version ${put.body.version})`,
          dryRun,
          unmapped: d.unmapped,
        });
      }
      const report = { directories: rows, refused: plan.refused };
      if (ctx.json) ctx.io.out(`${JSON.stringify(report, null, 2)}\n`);
      else {
        ctx.io.out(
          `${renderTable(
            [
              { header: 'directory', value: (r: (typeof rows)[number]) => r.id },
              { header: 'written', value: (r) => r.written, max: 60 },
              ...(ctx.values['dry-run']
                ? [{ header: 'dry run', value: (r: (typeof rows)[number]) => r.dryRun }]
                : []),
              { header: 'not mapped', value: (r) => (r.unmapped.length > 0 ? r.unmapped.length : '') },
            ],
            rows,
          )}\n`,
        );
        for (const r of rows) for (const u of r.unmapped) ctx.io.out(`not mapped in ${r.id}: ${u}\n`);
        for (const r of plan.refused) ctx.io.out(`left out ${r.entry}: ${r.reasons.join('; ')}\n`);
      }
      const ready = rows.every(
        (r) => !r.written.startsWith('refused') && (!ctx.values['dry-run'] || r.dryRun === 'ready'),
      );
      return ready && plan.refused.length === 0 ? EXIT.ok : EXIT.failed;
    },
  },
  {
    name: 'keys create',
    args: `<name> [--plan <${CLIENT_KEYS.plans.join('|')}>]`,
    summary: 'a client API key (POST /v1/keys); prints its value this once',
    options: { plan: { type: 'string' } },
    async run(ctx) {
      const plan = listOption(ctx.values, 'plan', CLIENT_KEYS.plans);
      if (plan && plan.length > 1) throw new CliError('--plan takes one plan', EXIT.usage);
      const { body } = await (await ctx.api()).request<CreatedClientKey>('POST', '/v1/keys', {
        body: { name: ctx.positionals[0], ...(plan ? { plan: plan[0] } : {}) },
      });
      if (ctx.json) ctx.io.out(`${JSON.stringify(body, null, 2)}\n`);
      else {
        ctx.io.out(
          `${renderPairs([
            ['key id', body.id],
            ['name', body.name],
            ['plan', body.plan],
            ['value', body.value],
          ])}\n\nkeep the value now: it is not shown again (send it as x-api-key)\n`,
        );
      }
      return EXIT.ok;
    },
  },
  {
    name: 'keys list',
    summary: 'the client API keys (GET /v1/keys), never their values',
    async run(ctx) {
      const { body } = await (await ctx.api()).request<{ items: ClientKey[] }>('GET', '/v1/keys');
      if (ctx.json) ctx.io.out(`${JSON.stringify(body, null, 2)}\n`);
      else {
        ctx.io.out(
          body.items.length > 0
            ? `${renderTable(
                [
                  { header: 'key id', value: (k: ClientKey) => k.id },
                  { header: 'name', value: (k: ClientKey) => k.name },
                  { header: 'plan', value: (k: ClientKey) => k.plan },
                ],
                body.items,
              )}\n`
            : 'no client keys (npm run ops -- keys create <name>)\n',
        );
      }
      return EXIT.ok;
    },
  },
  {
    name: 'keys revoke',
    args: '<key id>',
    summary: 'revokes a client API key (DELETE /v1/keys/{id}): it stops working at once; its jobs stay',
    async run(ctx) {
      const id = ctx.positionals[0] as string;
      await (await ctx.api()).request('DELETE', `/v1/keys/${encodeURIComponent(id)}`);
      ctx.io.out(`revoked key ${id}\n`);
      return EXIT.ok;
    },
  },
  {
    name: 'webhooks list',
    args: '[--limit <n>] [--cursor <c>]',
    summary: 'webhook endpoints (every key’s), their state and how they have been failing',
    options: { limit: { type: 'string' }, cursor: { type: 'string' } },
    async run(ctx) {
      const { body } = await (await ctx.api()).request<{ items: Endpoint[]; nextCursor: string | null }>(
        'GET',
        '/v1/webhooks',
        {
          query: {
            limit: intOption(ctx.values, 'limit', 20, 1, PAGINATION.maxLimit),
            cursor: ctx.values.cursor as string | undefined,
          },
        },
      );
      if (ctx.json) {
        ctx.io.out(`${JSON.stringify(body, null, 2)}\n`);
        return EXIT.ok;
      }
      ctx.io.out(
        body.items.length > 0
          ? `${renderTable(
              [
                { header: 'webhook', value: (e: Endpoint) => e.id },
                { header: 'owner', value: (e: Endpoint) => e.ownerKeyId },
                { header: 'url', value: (e: Endpoint) => e.url, max: 50 },
                { header: 'events', value: (e: Endpoint) => e.events.join(','), max: 40 },
                {
                  header: 'state',
                  value: (e: Endpoint) =>
                    e.status === 'disabled'
                      ? `disabled (${e.disabledReason})`
                      : e.failingSince
                        ? `failing since ${clock(e.failingSince)} (${e.consecutiveFailures}x)`
                        : 'enabled',
                },
              ],
              body.items,
            )}\n`
          : 'no webhook endpoints\n',
      );
      if (body.nextCursor) ctx.io.out(`more: npm run ops -- webhooks list --cursor ${body.nextCursor}\n`);
      return EXIT.ok;
    },
  },
  {
    name: 'webhooks deliveries',
    args: `<webhook id> [--status <${DELIVERY_STATUSES.join('|')}>] [--limit <n>] [--cursor <c>]`,
    summary: 'the deliveries to one endpoint, newest first, with the last attempt of each',
    options: { status: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' } },
    async run(ctx) {
      const status = listOption(ctx.values, 'status', DELIVERY_STATUSES);
      if (status && status.length > 1) throw new CliError('--status takes one status', EXIT.usage);
      const id = ctx.positionals[0] as string;
      const { body } = await (await ctx.api()).request<{ items: Delivery[]; nextCursor: string | null }>(
        'GET',
        `/v1/webhooks/${encodeURIComponent(id)}/deliveries`,
        {
          query: {
            status: status?.[0],
            limit: intOption(ctx.values, 'limit', 20, 1, PAGINATION.maxLimit),
            cursor: ctx.values.cursor as string | undefined,
          },
        },
      );
      if (ctx.json) ctx.io.out(`${JSON.stringify(body, null, 2)}\n`);
      else {
        ctx.io.out(
          body.items.length > 0 ? `${renderTable(deliveryColumns, body.items)}\n` : 'no deliveries\n',
        );
        if (body.nextCursor) {
          ctx.io.out(`more: npm run ops -- webhooks deliveries ${id} --cursor ${body.nextCursor}\n`);
        }
      }
      return EXIT.ok;
    },
  },
  {
    name: 'webhooks replay',
    args: '<webhook id> <delivery id>',
    summary: 'sends a delivery’s event again with the same webhook-id (the receiver can tell it is the same)',
    async run(ctx) {
      const [id, deliveryId] = ctx.positionals as [string, string];
      const { body } = await (await ctx.api()).request<Delivery>(
        'POST',
        `/v1/webhooks/${encodeURIComponent(id)}/deliveries/${encodeURIComponent(deliveryId)}/replay`,
      );
      if (ctx.json) ctx.io.out(`${JSON.stringify(body, null, 2)}\n`);
      else ctx.io.out(`replaying ${body.eventType} ${body.eventId} as delivery ${body.id} (due now)\n`);
      return EXIT.ok;
    },
  },
  {
    name: 'webhooks enable',
    args: '<webhook id>',
    summary: 'enables a disabled endpoint: the events held while it was disabled are sent',
    async run(ctx) {
      const id = ctx.positionals[0] as string;
      const { body } = await (await ctx.api()).request<Endpoint>(
        'POST',
        `/v1/webhooks/${encodeURIComponent(id)}/enable`,
      );
      if (ctx.json) ctx.io.out(`${JSON.stringify(body, null, 2)}\n`);
      else ctx.io.out(`webhook ${id} ${body.status}: held events are sent now\n`);
      return EXIT.ok;
    },
  },
  {
    name: 'alerts',
    args: '[--limit <n>]',
    summary:
      'recent alerts and what the Slack sink received (the local runtime only; a stage posts to Slack)',
    options: { limit: { type: 'string' } },
    async run(ctx) {
      const limit = intOption(ctx.values, 'limit', LOCAL.dashboardRecent, 1, LOCAL.dashboardRecent);
      const res = await (await ctx.api()).request<DashboardSnapshot>('GET', '/dashboard/data', {
        keyed: false,
        accept: [403, 404],
      });
      if (res.status !== 200) {
        throw new CliError(
          `${(await ctx.api()).baseUrl} is not a local runtime (no /dashboard/data): a deployed stage posts alerts to Slack; ` +
            'see docs/runbooks/alert-delivery.md',
          EXIT.failed,
        );
      }
      const d = res.body;
      if (ctx.json) {
        ctx.io.out(`${JSON.stringify({ alerts: d.alerts.slice(0, limit), slack: d.slack }, null, 2)}\n`);
        return EXIT.ok;
      }
      ctx.io.out(
        d.alerts.length > 0
          ? `${renderTable(
              [
                { header: 'time', value: (a) => a.createdAt },
                { header: 'severity', value: (a) => a.severity },
                { header: 'kind', value: (a) => a.kind },
                { header: 'title', value: (a) => a.title, max: 70 },
                { header: 'published', value: (a) => (a.publishedAt ? 'yes' : 'not yet') },
              ],
              d.alerts.slice(0, limit),
            )}\n`
          : 'no alerts\n',
      );
      ctx.io.out(
        d.slack.mode === 'local-sink'
          ? `\nSlack sink: ${plural(d.slack.received, 'message')} received${d.slack.recent
              .slice(0, limit)
              .map((m) => `\n  ${m.receivedAt}  ${m.text}`)
              .join('')}\n`
          : '\nalerts are posted to SLACK_WEBHOOK_URL\n',
      );
      return EXIT.ok;
    },
  },
  {
    name: 'archive show',
    args: '<table> <day>',
    summary:
      'prints the rows retention archived from a table for a day (yyyy-mm-dd, UTC) as JSON lines; needs DATABASE_URL and RECORDS_BUCKET',
    run: (ctx) =>
      withArchive(ctx, async ({ db, store }, table, day) => {
        const { objects, rows } = await readArchivedDay(db, store, table.table, day);
        if (objects.length === 0)
          throw new CliError(`nothing archived from ${table.table} for ${day}`, EXIT.failed);
        if (ctx.json) ctx.io.out(`${JSON.stringify({ objects, rows })}\n`);
        else {
          ctx.io.err(
            `${plural(rows.length, 'row')} of ${table.table} for ${day} in ${plural(objects.length, 'object')}\n`,
          );
          for (const row of rows) ctx.io.out(`${JSON.stringify(row)}\n`);
        }
        return EXIT.ok;
      }),
  },
  {
    name: 'archive restore',
    args: '<table> <day> [--into <table>]',
    summary: `puts a day's archived rows back into restored_<table> (or --into), each row once; needs DATABASE_URL and RECORDS_BUCKET`,
    options: { into: { type: 'string' } },
    run: (ctx) =>
      withArchive(ctx, async ({ db, store }, table, day) => {
        const into = (ctx.values.into as string | undefined) ?? restoreTableName(table.table);
        if (!/^[a-z_][a-z0-9_]*$/.test(into))
          throw new CliError(`--into must be a plain table name (got "${into}")`, EXIT.usage);
        const { objects, rows } = await readArchivedDay(db, store, table.table, day);
        if (objects.length === 0)
          throw new CliError(`nothing archived from ${table.table} for ${day}`, EXIT.failed);
        const result = await restoreRows(db, table, rows, into);
        ctx.io.out(
          ctx.json
            ? `${JSON.stringify({ into, ...result })}\n`
            : `${plural(result.inserted, 'row')} restored into ${into}${result.alreadyThere ? ` (${result.alreadyThere} already there)` : ''}\n`,
        );
        return EXIT.ok;
      }),
  },
];

/**
 * The archive commands talk to Postgres and the records bucket directly (not the API): an operator's
 * recovery tool, run with the stage's DATABASE_URL (or DATABASE_SECRET_ARN) and RECORDS_BUCKET.
 */
async function withArchive(
  ctx: Context,
  fn: (
    ports: { db: Database; store: ObjectStore },
    table: ReturnType<typeof retentionTable>,
    day: string,
  ) => Promise<ExitCode>,
): Promise<ExitCode> {
  const [tableName, dayText] = ctx.positionals as [string, string];
  let table: ReturnType<typeof retentionTable>;
  let day: string;
  try {
    table = retentionTable(tableName);
    day = archiveDay(dayText);
  } catch (err) {
    if (err instanceof ArchiveInputError) throw new CliError(err.message, EXIT.usage);
    throw err;
  }
  if (!ctx.env.RECORDS_BUCKET)
    throw new CliError("RECORDS_BUCKET is not set (the stage's records bucket)", EXIT.unavailable);
  if (!ctx.env.DATABASE_URL && !ctx.env.DATABASE_SECRET_ARN)
    throw new CliError('DATABASE_URL (or DATABASE_SECRET_ARN) is not set', EXIT.unavailable);
  const db = await databaseFromEnv(ctx.env, 'formfleet-ops-archive');
  try {
    return await fn({ db, store: recordsStoreFromEnv(ctx.env) }, table, day);
  } finally {
    await db.end();
  }
}

/** Every command's name ("jobs show"), for the docs test that checks the runbooks use real ones. */
export const OPS_COMMAND_NAMES: readonly string[] = COMMANDS.map((c) => c.name);

export function opsHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `usage: npm run ops -- <command> [options]

${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}${c.args ? `\n  ${' '.repeat(width)}  ${c.args}` : ''}`).join('\n')}

options for every command:
  --api-url <url>   the API (default FORMFLEET_API_URL, else the running npm start's .formfleet/runtime.json)
  --key <key>       an admin API key (default FORMFLEET_ADMIN_KEY, else the running npm start's)
  --json            print the API's JSON instead of tables
  --help            this text

exit status: 0 done, 1 the answer was no (not found, conflict, a job that did not complete, not healthy),
2 wrong command line, 3 no API to talk to (unreachable, key refused, server error)
`;
}

function findCommand(argv: readonly string[]): { command: Command; rest: string[] } | undefined {
  for (const take of [2, 1]) {
    const words = argv.slice(0, take);
    if (words.length < take || words.some((w) => w.startsWith('-'))) continue;
    const command = COMMANDS.find((c) => c.name === words.join(' '));
    if (command) return { command, rest: argv.slice(take) };
  }
  return undefined;
}

export async function runOps(argv: readonly string[], io: Io, options: OpsOptions = {}): Promise<ExitCode> {
  try {
    if (argv.length === 0 || argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
      io.out(opsHelp());
      return argv.length === 0 ? EXIT.usage : EXIT.ok;
    }
    const found = findCommand(argv);
    if (!found)
      throw new CliError(`unknown command "${argv.slice(0, 2).join(' ')}"\n\n${opsHelp()}`, EXIT.usage);
    const { command, rest } = found;
    let parsed: { values: Values; positionals: string[] };
    try {
      parsed = parseArgs({
        args: rest,
        options: { ...GLOBAL_OPTIONS, ...command.options },
        allowPositionals: true,
        strict: true,
      }) as { values: Values; positionals: string[] };
    } catch (err) {
      throw new CliError(
        `${command.name}: ${(err as Error).message}\nusage: npm run ops -- ${command.name} ${command.args ?? ''}`,
        EXIT.usage,
      );
    }
    if (parsed.values.help) {
      io.out(`usage: npm run ops -- ${command.name} ${command.args ?? ''}\n${command.summary}\n`);
      return EXIT.ok;
    }
    // Leading <placeholders> are required positionals; [bracketed] options are not.
    const wanted = (command.args?.match(/^(<[^>]+>\s*)*/)?.[0].match(/</g) ?? []).length;
    if (parsed.positionals.length !== wanted) {
      throw new CliError(`usage: npm run ops -- ${command.name} ${command.args ?? ''}`, EXIT.usage);
    }
    const env = options.env ?? process.env;
    let client: Promise<ApiClient> | undefined;
    const api = () => {
      client ??= requireTarget({
        apiUrl: parsed.values['api-url'] as string | undefined,
        key: parsed.values.key as string | undefined,
        env,
      }).then((target) => new ApiClient({ baseUrl: target.url, key: target.key }));
      return client;
    };
    return await command.run({
      api,
      io,
      values: parsed.values,
      positionals: parsed.positionals,
      json: parsed.values.json === true,
      pollMs: options.pollMs ?? LOCAL.ops.pollMs,
      env,
    });
  } catch (err) {
    if (err instanceof CliError) {
      io.err(`error: ${err.message}\n`);
      return err.exitCode;
    }
    io.err(`error: ${(err as Error).message}\n`);
    return EXIT.failed;
  }
}
