/**
 * The listing's life after the click as a person watches it on one machine: the local runtime with its
 * lifecycle sped up (LIFECYCLE_SPEED_UP, what `npm start -- --fast` sets) and its scheduler firing
 * recheck-listings on a timer; a job posted over HTTP; then the API, `npm run ops -- jobs show` and the
 * dashboard's data follow each listing to live, rejected, or live after the directory's moderators publish it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { delayedListing, rejectingSite } from '#local/fixtures/lifecycle-sites';
import { listingPath } from '#local/fixtures/site-kit';
import { simpleForm } from '#local/fixtures/variants';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { DEMO_CUSTOMERS } from '#local/seed';
import { runOpsRecorded } from '#test/cli';
import { eventually, motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';
import { FAST_WORKER_ENV } from '#test/worker-jobs';

/** A day passes in 2 s: the rechecks come after 2 s, 14 s and 56 s. */
const SPEED_UP = 43_200;
/** The moderated directory publishes 9 s after the post: after the first recheck (2 s + a 3 s tick), before the second (14 s). */
const PUBLISH_AFTER_MS = 9_000;

let t: TestDatabase;
let system: LocalSystem;

beforeAll(async () => {
  t = await testDatabase('lifecycle_local', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('lcl')}-`,
    fixtures: [simpleForm, delayedListing({ publishAfterMs: PUBLISH_AFTER_MS }), rejectingSite],
    // recheck-listings every 3 s (its 5 minutes / 100), as the local scheduler fires it.
    schedules: { speedUp: 100 },
    env: { ...FAST_WORKER_ENV, LIFECYCLE_SPEED_UP: String(SPEED_UP) },
  });
});
afterAll(async () => {
  await system?.stop();
  await t?.close();
});

interface Result {
  directoryId: string;
  status: string;
  lifecycle: string | null;
  listingUrl: string | null;
  nextCheckAt: string | null;
}

async function job(id: string): Promise<{ status: string; results: Result[] }> {
  const res = await fetch(`${system.url}/v1/jobs/${id}`, { headers: { 'x-api-key': system.keys.client } });
  return (await res.json()) as { status: string; results: Result[] };
}

describe('the listing lifecycle, watched locally', () => {
  it('takes each listing from under review to live or rejected on the scheduler, and shows it in the API, ops and the dashboard', async () => {
    const customer = DEMO_CUSTOMERS[0] as (typeof DEMO_CUSTOMERS)[number];
    const posted = await fetch(`${system.url}/v1/jobs`, {
      method: 'POST',
      headers: { 'x-api-key': system.keys.client, 'content-type': 'application/json' },
      body: JSON.stringify({
        customerId: customer.id,
        directoryIds: ['simple-form', 'delayed-listing', 'rejecting-site'],
        priority: 1,
      }),
    });
    expect(posted.status).toBe(202);
    const { id } = (await posted.json()) as { id: string };

    // Submitted: under review, with the first recheck due a (sped-up) day after the submission.
    const done = await eventually('the job to complete', async () => {
      const j = await job(id);
      return j.status === 'completed' ? j : undefined;
    });
    // (On a slow machine the sped-up first recheck of an early directory may already have run by the time the
    // job's last directory is done: such a row is past review, which the recheck assertions below cover.)
    for (const r of done.results) {
      expect(r.status).toBe('submitted');
      if (r.lifecycle === 'under_review') {
        expect(r).toMatchObject({ listingUrl: null });
        expect(r.nextCheckAt).not.toBeNull();
      } else {
        expect(['live', 'rejected']).toContain(r.lifecycle);
      }
    }
    // Each entered review at its submission, whatever happened since (the job's own events).
    const entered = await system.db.query<{ d: string }>(
      `SELECT detail ->> 'directoryId' AS d FROM job_events WHERE job_id = $1 AND type = 'listing.under_review'
       ORDER BY 1`,
      [id],
    );
    expect(entered.rows.map((r) => r.d)).toEqual(['delayed-listing', 'rejecting-site', 'simple-form']);

    // The scheduler's runs: the plain site's listing is live and the strict one's rejected at the first
    // recheck; the moderated one is not published yet then, and live at the second.
    const first = await eventually(
      'the first recheck',
      async () => {
        const j = await job(id);
        const by = (d: string) => j.results.find((r) => r.directoryId === d);
        return by('simple-form')?.lifecycle === 'live' && by('rejecting-site')?.lifecycle === 'rejected'
          ? j
          : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    const site = (d: string) => system.fixtures.site(d).origin;
    expect(first.results.find((r) => r.directoryId === 'simple-form')?.listingUrl).toBe(
      `${site('simple-form')}${listingPath(customer.name)}`,
    );
    const live = await eventually(
      'the moderated listing to go live',
      async () => {
        const j = await job(id);
        const moderated = j.results.find((r) => r.directoryId === 'delayed-listing');
        return moderated?.lifecycle === 'live' ? moderated : undefined;
      },
      { timeoutMs: 40_000, intervalMs: 500 },
    );
    expect(live.listingUrl).toBe(`${site('delayed-listing')}${listingPath(customer.name)}`);
    // It was looked up before it was published (and found wanting), then found: two lookups at the far end.
    const lookups = system.fixtures
      .site('delayed-listing')
      .requests.filter((r) => r.path.startsWith('/listings?')).length;
    expect(lookups).toBe(2);

    // npm run ops -- jobs show: the listings table.
    const env = { FORMFLEET_API_URL: system.url, FORMFLEET_ADMIN_KEY: system.keys.admin };
    const shown = await runOpsRecorded(['jobs', 'show', id], env);
    expect(shown.code, shown.err).toBe(0);
    expect(shown.out).toMatch(/^listing\s+lifecycle\s+checked\s+next check\s+URL or last recheck$/m);
    expect(shown.out).toMatch(
      new RegExp(`^simple-form\\s+live\\s+\\S+ \\S+\\s+-\\s+${site('simple-form')}/listing/`, 'm'),
    );
    expect(shown.out).toMatch(/^rejecting-site\s+rejected\s+.*the directory declined the listing/m);

    // The dashboard's listings panel counts them as the ledger holds them, and lists the changes.
    const data = (await (await fetch(`${system.url}/dashboard/data`)).json()) as {
      lifecycle: { byState: Record<string, number>; recent: { to: string; directoryId: string }[] };
      schedules: { name: string; runs: number }[];
    };
    expect(data.lifecycle.byState).toMatchObject({ live: 2, rejected: 1, under_review: 0 });
    expect(data.lifecycle.recent.map((e) => `${e.directoryId}:${e.to}`)).toEqual(
      expect.arrayContaining(['delayed-listing:live', 'rejecting-site:rejected', 'simple-form:live']),
    );
    expect(data.schedules.find((s) => s.name === 'recheck-listings')?.runs).toBeGreaterThan(1);
  });
});
