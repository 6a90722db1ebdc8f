/**
 * The worker at real-world latency: fixture sites answering as typical small-business sites do (the `real`
 * latency profile: a round trip and seconds of server time on each page load and form post), one job of
 * several directories run by the local runtime's own worker with K directories in flight. The sites' own
 * counters show one submission each, the sites' request logs show K of them visited at once (and never
 * more), and the job takes well under the sum of the latencies its directories waited (what running them
 * one after another would take at the least). The only test on this profile: every other test keeps the
 * default, `none`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { multiStepWizard, redirectSuccess, selectCheckRadio, simpleForm } from '#local/fixtures/variants';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';
import { siteCopies } from '#test/site-copies';
import { createCustomer, enqueueJob, ledger, profile, waitForJob } from '#test/worker-jobs';

const K = 6;
const SITES = siteCopies([simpleForm, redirectSuccess, multiStepWizard, selectCheckRadio], 2).flat();
let t: TestDatabase;
let system: LocalSystem;

beforeAll(async () => {
  t = await testDatabase('latency_lanes', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('latency')}-`,
    fixtures: SITES,
    fixtureLatency: 'real',
    // The policy's own timeouts (the fast test ones would cut a real site's seconds short); K directories.
    env: { WORKER_DIRECTORIES_IN_FLIGHT: String(K), SITE_MIN_GAP_MS: '0' },
    schedules: { timers: false },
  });
});
afterAll(async () => {
  await system?.stop();
  await t?.close();
});

describe('a job at real-world latency', () => {
  it(`runs its ${SITES.length} directories ${K} at a time: one submission per site, far less time than their latencies in a row`, async () => {
    const customer = await createCustomer(system, profile('Latency Lane Bakery'));
    const job = await enqueueJob(
      system,
      customer.id,
      SITES.map((s) => s.id),
      1,
    );
    const done = await waitForJob(system, job.id, 'completed', 110_000);

    // Counted at the far end: each site received the business exactly once.
    for (const site of SITES) {
      expect(system.fixtures.site(site.id).countsByName()).toEqual({ 'Latency Lane Bakery': 1 });
    }
    const rows = await ledger(system, job.id);
    expect(rows.map((r) => r.status)).toEqual(SITES.map(() => 'submitted'));

    // The sites really answered at real-world latency: every page load and post waited.
    const added = system.fixtures.addedLatencyMs();
    const perSite = SITES.map((s) => added[s.id] ?? 0);
    const waited = perSite.reduce((a, b) => a + b, 0);
    for (const ms of perSite) expect(ms).toBeGreaterThan(1_000);
    const posts = SITES.flatMap((s) =>
      system.fixtures.site(s.id).requests.filter((r) => r.method === 'POST'),
    );
    expect(posts.every((r) => r.delayMs >= system.fixtures.latency.rttMs)).toBe(true);

    // The directories overlapped: at some moment several sites were being visited at once (a site's visit runs
    // from its first request's arrival to its last answer), as the sites themselves saw it.
    const visits = SITES.map((s) => {
      const requests = system.fixtures.site(s.id).requests;
      const last = requests.at(-1) as (typeof requests)[number];
      return { from: Date.parse(requests[0]?.at as string), to: Date.parse(last.at) + last.delayMs };
    });
    const atOnce = Math.max(
      ...visits.map((v) => visits.filter((w) => w.from <= v.from && v.from < w.to).length),
    );
    expect(atOnce).toBeGreaterThanOrEqual(K - 2);
    expect(atOnce).toBeLessThanOrEqual(K);

    // End to end (created → finished) well below the latencies in a row, which one directory at a time
    // could never beat (this machine's CPU, shared, is what the rest of the time goes to).
    const endToEndMs = Date.parse(done.finishedAt as string) - Date.parse(done.createdAt);
    console.info(`end to end ${endToEndMs} ms; latency waited ${waited} ms in all; ${atOnce} sites at once`);
    expect(endToEndMs, `${endToEndMs} ms end to end, ${waited} ms of latency waited`).toBeLessThan(
      0.75 * waited,
    );
  }, 120_000);
});
