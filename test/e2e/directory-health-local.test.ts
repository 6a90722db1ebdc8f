/**
 * Issue 17 item 4 (daily health) on the local runtime: real Postgres, moto, Chromium and fixture sites, the
 * scheduler running directory-health as EventBridge would. A directory is dry-run at most once a day and
 * never sent anything (the fixture sites' own request logs); the drifting site redesigned drifts at its step,
 * is paused with exactly one alert (outbox row and Slack message) however often it is checked again, and jobs
 * skip it as skipped/directory_paused (nothing posted to it) while other directories are sent; the dashboard
 * shows it paused and drifting; `npm run ops -- directories unpause` lets a retry send it (one post). Real
 * submissions that fail with selector_drift DIRECTORY_HEALTH.driftSubmissions times in a row pause it too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HealthReport } from '#functions/directories/health';
import { driftingSite } from '#local/fixtures/onboarding-sites';
import { simpleForm } from '#local/fixtures/variants';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { DEMO_CUSTOMERS } from '#local/seed';
import { DIRECTORY_HEALTH, SCHEDULES } from '#policy';
import type { DirectoryHealth } from '#shared/directory-store';
import { runOpsRecorded } from '#test/cli';
import { postLocalJob } from '#test/local-jobs';
import { eventually, motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';
import { FAST_WORKER_ENV } from '#test/worker-jobs';

let t: TestDatabase;
let system: LocalSystem;

beforeAll(async () => {
  t = await testDatabase('directory_health', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('health')}-`,
    fixtures: [simpleForm, driftingSite],
    schedules: { timers: false },
    env: { ...FAST_WORKER_ENV, SLACK_MIN_INTERVAL_MS: '100' },
  });
}, 120_000);
afterAll(async () => {
  await system?.stop();
  await t?.close();
});

const DRIFTING = 'drifting-site';
const admin = () => ({ 'x-api-key': system.keys.admin, 'content-type': 'application/json' });

async function health(id: string): Promise<DirectoryHealth> {
  const res = await fetch(`${system.url}/v1/directories/${id}`, { headers: admin() });
  expect(res.status).toBe(200);
  return ((await res.json()) as { health: DirectoryHealth }).health;
}

const runHealth = async () => (await system.scheduler.runNow('directory-health')) as HealthReport;

/** A day passes for the health check: every directory's last check moves a day (and a minute) back. */
const aDayPasses = () =>
  t.db.query(
    `UPDATE directories SET health_checked_at = health_checked_at - make_interval(secs => $1 + 60)
      WHERE health_checked_at IS NOT NULL`,
    [DIRECTORY_HEALTH.checkIntervalSeconds],
  );

/** Form posts the drifting site received (the test's own redesign switches are not forms). */
const formPosts = () =>
  system.fixtures.site(DRIFTING).requests.filter((r) => r.method === 'POST' && r.path === '/add').length;

const redesign = (how: 'redesign' | 'restore') =>
  fetch(`${system.fixtures.site(DRIFTING).origin}/__${how}`, { method: 'POST' });

const pausedAlerts = async () =>
  (
    await t.db.query<{ id: string }>(
      `SELECT id FROM alert_outbox WHERE kind = 'directory_paused' ORDER BY id`,
    )
  ).rows;

const slackPaused = () =>
  (system.alerts.sink?.messages ?? []).filter((m) => JSON.stringify(m.blocks).includes('Directory paused'));

const postJob = (customerId: string, directoryIds: string[]) =>
  postLocalJob(system, customerId, directoryIds);

interface JobView {
  status: string;
  results: { directoryId: string; status: string; error: string | null; errorClass: string | null }[];
}

const settled = (id: string) =>
  eventually(
    `job ${id} to finish`,
    async () => {
      const res = await fetch(`${system.url}/v1/jobs/${id}`, {
        headers: { 'x-api-key': system.keys.client },
      });
      const job = (await res.json()) as JobView;
      return job.results.every((r) => !['prepared', 'submitting'].includes(r.status)) &&
        !['pending', 'queued', 'running'].includes(job.status)
        ? job
        : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );

describe('daily directory health', () => {
  it('is a scheduled function the local scheduler runs at its policy interval', () => {
    expect(system.scheduler.intervalMs('directory-health')).toBe(
      SCHEDULES.directoryHealth.everySeconds * 1000,
    );
  });

  it('dry-runs each active directory once a day, never posting, and records it ok', async () => {
    expect((await health(DRIFTING)).status).toBe('unchecked');
    const first = await runHealth();
    expect(first).toMatchObject({ checked: 2, ok: 2, drift: 0, paused: [] });
    const h = await health(DRIFTING);
    expect(h).toMatchObject({ status: 'ok', outcome: 'ready', driftStep: null, paused: false });
    expect(h.checkedAt).not.toBeNull();
    // Checked today: the next run leaves it alone.
    expect(await runHealth()).toMatchObject({ checked: 0 });
    expect(formPosts()).toBe(0);
    expect(system.fixtures.site('simple-form').requests.filter((r) => r.method === 'POST')).toHaveLength(0);
  }, 60_000);

  it('pauses a directory whose form drifted, with one alert however often it drifts again', async () => {
    expect((await redesign('redesign')).status).toBe(204);
    await aDayPasses();
    const report = await runHealth();
    expect(report).toMatchObject({ checked: 2, ok: 1, drift: 1, paused: [DRIFTING] });
    const h = await health(DRIFTING);
    // Step 1 (index 1) is the business name's fill: the field the redesign renamed.
    expect(h).toMatchObject({ status: 'drift', outcome: 'drift', driftStep: 1, paused: true });
    expect(h.pausedReason).toMatch(/step 2 \(fill name\) missing/);
    expect(h.driftSince).toBe(h.checkedAt);
    expect(await pausedAlerts()).toHaveLength(1);
    await eventually('the pause in Slack', async () => (slackPaused().length === 1 ? true : undefined));

    // Another day, still drifting: the same drift (since the first day), still paused, no second alert.
    await aDayPasses();
    expect(await runHealth()).toMatchObject({ drift: 1, paused: [] });
    const again = await health(DRIFTING);
    expect(again.driftSince).toBe(h.driftSince);
    expect(again.pausedAt).toBe(h.pausedAt);
    expect(await pausedAlerts()).toHaveLength(1);
    expect(formPosts()).toBe(0);

    // The dashboard: paused and drifting, first in the table.
    const data = (await (await fetch(`${system.url}/dashboard/data`)).json()) as {
      panels: Record<string, { figures: Record<string, number>; rows: string[][] }>;
    };
    const panel = data.panels['directory-health'];
    expect(panel?.figures).toMatchObject({ paused: 1, drifting: 1, ok: 1 });
    expect(panel?.rows[0]?.[0]).toBe(DRIFTING);
    expect(panel?.rows[0]?.[1]).toMatch(/^drift at step 2 since /);
    expect(panel?.rows[0]?.[2]).toMatch(/^since /);
  }, 90_000);

  it('skips a paused directory in jobs (skipped, directory_paused), sends it after an unpause and a retry', async () => {
    const customer = DEMO_CUSTOMERS[0] as (typeof DEMO_CUSTOMERS)[number];
    const id = await postJob(customer.id, ['simple-form', DRIFTING]);
    const job = await settled(id);
    expect(job.status).not.toBe('failed');
    const by = (d: string) => job.results.find((r) => r.directoryId === d);
    expect(by('simple-form')?.status).toBe('submitted');
    expect(by(DRIFTING)).toMatchObject({ status: 'skipped', errorClass: null });
    expect(by(DRIFTING)?.error).toMatch(/directory_paused/);
    const { rows } = await t.db.query<{ evidence: { skip?: string } }>(
      'SELECT evidence FROM submissions WHERE job_id = $1 AND directory_id = $2',
      [id, DRIFTING],
    );
    expect(rows[0]?.evidence.skip).toBe('directory_paused');
    expect(formPosts()).toBe(0);

    // The site is fixed; an admin unpauses it from the ops CLI.
    await redesign('restore');
    const env = { FORMFLEET_API_URL: system.url, FORMFLEET_ADMIN_KEY: system.keys.admin };
    const unpaused = await runOpsRecorded(['directories', 'unpause', DRIFTING], env);
    expect(unpaused.code, unpaused.err).toBe(0);
    expect(unpaused.out).toMatch(/drifting-site unpaused/);
    expect(await health(DRIFTING)).toMatchObject({ paused: false, pausedAt: null, pausedReason: null });
    // Checked again at once (not a day later): ok now, and not paused again.
    expect(await runHealth()).toMatchObject({ checked: 1, ok: 1, paused: [] });
    expect(await health(DRIFTING)).toMatchObject({ status: 'ok', driftStep: null, driftSince: null });

    const retried = await fetch(`${system.url}/v1/jobs/${id}/retry`, { method: 'POST', headers: admin() });
    expect(retried.status).toBeLessThan(300);
    await eventually(
      'the retry to send it',
      async () => {
        const res = await fetch(`${system.url}/v1/jobs/${id}`, {
          headers: { 'x-api-key': system.keys.client },
        });
        const j = (await res.json()) as JobView;
        return j.results.find((r) => r.directoryId === DRIFTING)?.status === 'submitted' ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(formPosts()).toBe(1);
    expect(await pausedAlerts()).toHaveLength(1);
  }, 120_000);

  it('pauses a directory whose last real submissions all failed with selector_drift', async () => {
    await redesign('redesign');
    for (let i = 0; i < DIRECTORY_HEALTH.driftSubmissions; i++) {
      const created = await fetch(`${system.url}/v1/customers`, {
        method: 'POST',
        headers: { 'x-api-key': system.keys.client, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: `Drift Customer ${i}`,
          email: `drift${i}@example.test`,
          category: 'plumbing',
        }),
      });
      expect(created.status).toBe(201);
      const { id: customerId } = (await created.json()) as { id: string };
      const job = await settled(await postJob(customerId, [DRIFTING]));
      expect(job.results[0]).toMatchObject({ status: 'failed', errorClass: 'selector_drift' });
    }
    // Its daily check is not due (checked minutes ago): the submissions alone pause it.
    const report = await runHealth();
    expect(report).toMatchObject({ checked: 0, paused: [DRIFTING] });
    const h = await health(DRIFTING);
    expect(h.paused).toBe(true);
    expect(h.pausedReason).toMatch(/last 3 submissions failed with selector_drift/);
    expect(await pausedAlerts()).toHaveLength(2);
    // Noticed again, it is not paused twice.
    expect(await runHealth()).toMatchObject({ paused: [] });
    expect(await pausedAlerts()).toHaveLength(2);
    await eventually('the second pause in Slack', async () =>
      slackPaused().length === 2 ? true : undefined,
    );
  }, 120_000);
});
