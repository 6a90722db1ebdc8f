/**
 * The local runtime as a user meets it after `npm start`: `npm run demo` finds the running system through
 * its runtime file, runs a small mixed-priority workload on real Chromium without a terminal and prints a
 * summary that agrees with the ledger; then the dashboard, opened in real Chromium, shows the same numbers as
 * the API (/v1/health, /v1/jobs), keeps up as new work arrives, and leaves a screenshot in test-artifacts/.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HealthReport } from '#functions/api/health-report';
import { type BrowserLease, BrowserPool } from '#functions/worker/browser-pool';
import { DEMO_WEBHOOK_DESCRIPTION, runDemo } from '#local/cli/demo';
import { duration, percentile } from '#local/cli/format';
import { cacheFigures } from '#local/metrics-tap';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { writeRuntimeFile } from '#local/runtime-file';
import { DEMO_CUSTOMERS } from '#local/seed';
import type { SlackSink } from '#local/slack-sink';
import { JOB_STATUSES } from '#shared/job-store';
import { recorder } from '#test/cli';
import { eventually, motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';

let t: TestDatabase;
let system: LocalSystem;
let stateDir: string;
let viewer: BrowserPool;
let lease: BrowserLease | undefined;

beforeAll(async () => {
  t = await testDatabase('local_demo', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('demo')}-`,
    schedules: { timers: false },
    alerts: { retryDelaySeconds: 1 },
    env: { SLACK_MIN_INTERVAL_MS: '100' },
  });
  stateDir = await mkdtemp(join(tmpdir(), 'formfleet-demo-'));
  await writeRuntimeFile(stateDir, {
    pid: process.pid,
    url: system.url,
    dashboardUrl: system.dashboardUrl,
    slackSinkUrl: system.alerts.sink?.url ?? null,
    webhookSinkUrl: system.env.FORMFLEET_WEBHOOK_SINK_URL as string,
    keys: system.keys,
    startedAt: system.startedAt,
    speedUp: 1,
  });
  // Our own dashboard on loopback, not an untrusted directory page.
  viewer = new BrowserPool({ recycleAfterPages: 100, network: 'unrestricted' });
});
afterAll(async () => {
  await lease?.release();
  await viewer?.close();
  await system?.stop();
  await t?.close();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${system.url}${path}`, { headers: { 'x-api-key': system.keys.admin } });
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
}

interface JobRow {
  id: string;
  status: string;
  tier: string;
  createdAt: string;
  finishedAt: string | null;
  results: { status: string; lifecycle: string | null }[];
}

describe('npm run demo', () => {
  it('finds the running system, runs a mixed-priority workload without a terminal and summarizes it from the ledger', async () => {
    const io = recorder();
    const since = new Date().toISOString();

    const code = await runDemo(
      [
        '--jobs',
        '3',
        '--per-job',
        '2',
        '--mix',
        '1:1:1',
        '--directories',
        'simple-form,redirect-success,login-wall',
        '--timeout',
        '90',
      ],
      io,
      { env: { FORMFLEET_STATE_DIR: stateDir }, pollMs: 200, plainEveryMs: 0 },
    );

    expect(code, io.stderr()).toBe(0);
    const out = io.stdout();
    expect(out).toContain(`using formfleet at ${system.url} (from the runtime file)`);
    expect(out).toContain(
      'submitted 3 jobs (P1 1, P2 1, P3 1), 2 directories each from 3, for 3 new businesses',
    );
    // Plain progress lines (no terminal): one compact line per change, ending with everything ended.
    expect(out).toMatch(/demo .*: 0\/3 jobs ended \| P1 queued \d, in progress \d, done 0, failed 0/);
    expect(out).toMatch(
      /demo .*: 3\/3 jobs ended \| P1 queued 0, in progress 0, done 1, failed 0 \| P2 .* \| P3 /,
    );
    expect(out).not.toContain('\x1b[');
    const subscribed = /webhook ([0-9a-f-]{36}) sends every event of these jobs to the local receiver/.exec(
      out,
    );
    expect(subscribed, out).not.toBeNull();

    // The summary agrees with the jobs and the ledger as the API reports them.
    const { items } = await api<{ items: JobRow[] }>('/v1/jobs?limit=200');
    const mine = await Promise.all(
      items.filter((j) => j.createdAt >= since).map((j) => api<JobRow>(`/v1/jobs/${j.id}`)),
    );
    expect(mine).toHaveLength(3);
    expect(mine.every((j) => j.status === 'completed')).toBe(true);
    const results = mine.flatMap((j) => j.results);
    const count = (status: string) => results.filter((r) => r.status === status).length;
    expect(count('submitted')).toBeGreaterThan(0);
    expect(out).toMatch(new RegExp(`^submitted\\s+${count('submitted')}$`, 'm'));
    expect(out).toMatch(new RegExp(`^skipped\\s+${count('skipped')}$`, 'm'));
    const times = mine.map((j) => Date.parse(j.finishedAt as string) - Date.parse(j.createdAt));
    expect(out).toMatch(
      new RegExp(
        `^all\\s+3\\s+3\\s+0\\s+${duration(percentile(times, 50))}\\s+${duration(percentile(times, 95))}`,
        'm',
      ),
    );
    for (const tier of ['P1', 'P2', 'P3']) expect(out).toMatch(new RegExp(`^${tier}\\s+1\\s+1\\s+0\\s`, 'm'));
    expect(out).toMatch(/^submissions\/min\s+\d+\.\d settled, \d+\.\d submitted \(6 between/m);
    // It ends with the listings it submitted: each under review, its first recheck a day away.
    const submitted = count('submitted');
    expect(results.filter((r) => r.status === 'submitted').every((r) => r.lifecycle === 'under_review')).toBe(
      true,
    );
    expect(out.trimEnd().split('\n').at(-1)).toMatch(
      new RegExp(
        `^listings\\s+${submitted} submitted listings?: 0 pending verification, ${submitted} under review, 0 live, ` +
          '0 not found, 0 rejected; first recheck due \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC',
      ),
    );
    // The local receiver it subscribed got each job's job.completed and each settled directory's event,
    // every signature verified, none refused (its own count, on the dashboard).
    const webhookId = subscribed?.[1] as string;
    const receiverPanel = async () =>
      (
        (await (await fetch(`${system.url}/dashboard/data`)).json()) as {
          panels: Record<string, { figures: Record<string, number> }>;
        }
      ).panels.webhooks?.figures;
    const completed = await eventually(
      'every job.completed and submission.settled at the local receiver',
      async () => {
        await system.webhooks.dispatcher.look();
        const { items: delivered } = await api<{ items: { eventType: string }[] }>(
          `/v1/webhooks/${webhookId}/deliveries?status=delivered&limit=100`,
        );
        const done = delivered.filter((d) => d.eventType === 'job.completed');
        const settled = delivered.filter((d) => d.eventType === 'submission.settled');
        // A row left for a person (a captcha, a login wall) is also a task.created event.
        const tasks = delivered.filter((d) => d.eventType === 'task.created');
        const { rows } = await system.db.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM tasks WHERE job_id = ANY($1::uuid[])',
          [mine.map((j) => j.id)],
        );
        const panel = await receiverPanel();
        return done.length === 3 &&
          settled.length === results.length &&
          tasks.length === rows[0]?.n &&
          panel?.distinct === 3 + results.length + tasks.length
          ? done
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(completed).toHaveLength(3);
    expect((await receiverPanel())?.refused).toBe(0);

    // Cache hits as the worker counted them (this system ran nothing else).
    const cache = cacheFigures(system.metrics);
    expect(cache.overall.hits + cache.overall.misses).toBeGreaterThan(0);
    expect(out).toContain(
      `customers ${Math.round((cache.customers.hitRate ?? 0) * 100)} % (${cache.customers.hits} of ${
        cache.customers.hits + cache.customers.misses
      })`,
    );
  });

  it('submits again when run again: each run brings businesses of its own, so none is skipped as already sent', async () => {
    const args = ['--jobs', '1', '--per-job', '1', '--directories', 'simple-form', '--timeout', '60'];
    const runs = [recorder(), recorder()];

    for (const io of runs) {
      const code = await runDemo(args, io, {
        env: { FORMFLEET_STATE_DIR: stateDir },
        pollMs: 200,
        plainEveryMs: 0,
      });
      expect(code, io.stderr()).toBe(0);
    }

    // Both runs use the one endpoint the first demo subscribed (its receiver is still there).
    const { items: endpoints } = await api<{ items: { description: string | null }[] }>('/v1/webhooks');
    expect(endpoints.filter((e) => e.description === DEMO_WEBHOOK_DESCRIPTION)).toHaveLength(1);
    for (const io of runs) {
      expect(io.stdout()).toMatch(/^submitted\s+1$/m);
      expect(io.stdout()).not.toMatch(/^skipped\s+[1-9]/m);
    }
  });
});

describe('npm run demo without a running system', () => {
  it('starts one for the demo, uses it, and stops it after', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'formfleet-demo-'));
    const io = recorder();
    let started = 0;
    let stopped = 0;
    try {
      const code = await runDemo(['--jobs', '1', '--per-job', '1', '--directories', 'login-wall'], io, {
        env: { FORMFLEET_STATE_DIR: empty },
        pollMs: 100,
        plainEveryMs: 0,
        // Stands in for starting a whole system: this file's, which the demo must stop when it is done.
        startSystem: async () => {
          started += 1;
          return {
            url: system.url,
            keys: system.keys,
            stop: async () => {
              stopped += 1;
            },
          };
        },
      });
      expect(code, io.stderr()).toBe(0);
      expect(io.stdout()).toContain('no running formfleet found (npm start keeps one running): starting one');
      expect(io.stdout()).toMatch(/^all\s+1\s+1\s+0\s/m);
      expect([started, stopped]).toEqual([1, 1]);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('says so and exits 3 when the API it is pointed at does not answer', async () => {
    const io = recorder();
    const code = await runDemo([], io, {
      env: { FORMFLEET_API_URL: 'http://127.0.0.1:9', FORMFLEET_ADMIN_KEY: 'k' },
    });
    expect(code).toBe(3);
    expect(io.stderr()).toContain('cannot reach the formfleet API at http://127.0.0.1:9');
  });
});

async function figure(page: Page, name: string): Promise<string> {
  return ((await page.locator(`[data-figure="${name}"]`).textContent()) ?? '').trim();
}

/** Every number the dashboard shows that the API also reports, from the API. */
async function apiFigures(): Promise<Record<string, string>> {
  const health = await api<HealthReport>('/v1/health');
  const out: Record<string, string> = {
    'health.status': health.status,
    'health.completedToday': String(health.jobs?.completedToday),
    'health.failedToday': String(health.jobs?.failedToday),
    'health.staleJobs': String(health.staleJobs?.count),
    'workers.active': String(health.workers?.active),
    'workers.stale': String(health.workers?.stale),
    'workers.jobsInFlight': String(health.workers?.jobsInFlight),
    'browser.running': String(health.browser?.running),
    'browser.openContexts': String(health.browser?.openContexts),
    'browser.launches': String(health.browser?.launches),
    'browser.recycles': String(health.browser?.recycles),
  };
  for (const q of health.queues.tiers) {
    out[`queue.${q.tier}.depth`] = String(q.depth);
    out[`queue.${q.tier}.inFlight`] = String(q.inFlight);
    out[`queue.${q.tier}.dlqDepth`] = String(q.dlqDepth);
  }
  for (const status of JOB_STATUSES) {
    let n = 0;
    let cursor: string | null = null;
    do {
      const page: { items: unknown[]; nextCursor: string | null } = await api(
        `/v1/jobs?status=${status}&limit=200${cursor ? `&cursor=${cursor}` : ''}`,
      );
      n += page.items.length;
      cursor = page.nextCursor;
    } while (cursor);
    out[`jobs.${status}`] = String(n);
  }
  return out;
}

async function dashboardFigures(page: Page, names: readonly string[]): Promise<Record<string, string>> {
  return Object.fromEntries(await Promise.all(names.map(async (n) => [n, await figure(page, n)] as const)));
}

/** Waits until the page has refreshed after `since` and shows exactly the API's figures. */
async function expectDashboardToMatchApi(page: Page, since: string): Promise<Record<string, string>> {
  let last: { api: Record<string, string>; page: Record<string, string> } | undefined;
  try {
    return await eventually(
      'the dashboard to show the API figures',
      async () => {
        const generated = await page.locator('body').getAttribute('data-generated-at');
        if (!generated || generated < since) return undefined;
        const fromApi = await apiFigures();
        const shown = await dashboardFigures(page, Object.keys(fromApi));
        last = { api: fromApi, page: shown };
        return JSON.stringify(shown) === JSON.stringify(fromApi) ? shown : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 250 },
    );
  } catch (err) {
    // Show the difference rather than a bare timeout.
    expect(last?.page).toEqual(last?.api);
    throw err;
  }
}

describe('the dashboard', () => {
  it('shows the numbers the API reports, keeps up without a reload, and leaves a screenshot', async () => {
    // Arrange: something in a DLQ, an alert about it delivered to the Slack sink, on top of the demo's jobs.
    const p3 = system.queues.find((q) => q.priority === 3);
    await system.sqs.send(
      new SendMessageCommand({
        QueueUrl: p3?.dlqUrl,
        MessageBody: 'not a job message',
        MessageGroupId: 'poison',
        MessageDeduplicationId: uniqueName('poison'),
      }),
    );
    await system.scheduler.runNow('dlq-check');
    await (system.alerts.sink as SlackSink).waitForMessages(1);

    lease = await viewer.acquire({ viewport: { width: 1400, height: 1000 } });
    const page = await lease.newPage();
    const blocked: string[] = [];
    page.on('request', (req) => {
      if (!req.url().startsWith(system.url)) blocked.push(req.url());
    });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(system.dashboardUrl);

    // Act + assert: every figure the API also reports is the API's.
    const shown = await expectDashboardToMatchApi(page, new Date().toISOString());
    expect(Number(shown['jobs.completed'])).toBeGreaterThanOrEqual(3);
    expect(shown['queue.P3.dlqDepth']).toBe('1');
    expect(shown['health.status']).toBe('degraded');
    expect(await figure(page, 'health.reasons')).toContain('the P3 dead-letter queue holds 1 message(s)');
    // What only the dashboard shows: alerts, Slack, the chart, schedules, workers.
    expect(await figure(page, 'alerts.list')).toMatch(/critical/);
    expect(await figure(page, 'slack.received')).toBe('1');
    const settled = await system.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM submissions
       WHERE finished_at >= date_trunc('minute', now()) - interval '29 minutes'`,
    );
    expect(Number(await figure(page, 'submissions.total'))).toBe(settled.rows[0]?.n);
    expect(await figure(page, 'schedules.list')).toContain('dlq-check');
    expect(await figure(page, 'schedules.list')).toContain('recheck-listings');
    // The listings panel: what the ledger holds, and the newest changes (submitted → under review).
    const listings = await system.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM submissions WHERE lifecycle = 'under_review' AND superseded_by IS NULL`,
    );
    expect(await figure(page, 'listings.under_review')).toBe(String(listings.rows[0]?.n));
    expect(await figure(page, 'listings.live')).toBe('0');
    expect(await figure(page, 'listings.recent')).toContain('submitted → under_review');
    expect(await figure(page, 'workers.list')).toContain('active');
    expect(await figure(page, 'cache.hitRate')).toMatch(/^\d+ %$/);

    // Live: a new job shows up without a reload.
    const before = Number(shown['jobs.completed']);
    const created = await fetch(`${system.url}/v1/jobs`, {
      method: 'POST',
      headers: { 'x-api-key': system.keys.client, 'content-type': 'application/json' },
      body: JSON.stringify({ customerId: DEMO_CUSTOMERS[0]?.id, directoryIds: ['login-wall'], priority: 1 }),
    });
    const job = (await created.json()) as { id: string };
    await eventually('the job to end', async () => {
      const j = await api<{ status: string }>(`/v1/jobs/${job.id}`);
      return j.status === 'completed' ? true : undefined;
    });
    const after = await expectDashboardToMatchApi(page, new Date().toISOString());
    expect(Number(after['jobs.completed'])).toBe(before + 1);
    expect(await figure(page, 'jobs.recent')).toContain(job.id.slice(0, 8));

    expect(blocked).toEqual([]);
    expect(errors).toEqual([]);
    await mkdir('test-artifacts', { recursive: true });
    await page.screenshot({ path: 'test-artifacts/dashboard.png', fullPage: true });
  });
});
