/**
 * The listing's life after the click (issue 13), with real parts: Postgres, moto, Chromium, fixture directory
 * sites on loopback, the worker submitting through its pollers, and the recheck-listings handler built from
 * the local system's own ports (the worker's browser pool, site politeness) with a clock the test drives
 * across the +1, +7 and +28 day ages. Every lookup is counted at the far end, on the site's request log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LifecycleStep } from '#functions/lifecycle/lifecycle-rules';
import { type Clock, makeRecheckListingsHandler, type RecheckDeps } from '#functions/lifecycle/recheck';
import type { FormDefinition } from '#functions/worker/form-definition';
import { verifyListing } from '#functions/worker/form-engine';
import { PgSitePoliteness } from '#functions/worker/site-politeness';
import { delayedListing, rejectingSite } from '#local/fixtures/lifecycle-sites';
import {
  type FixtureVariant,
  html,
  listingPath,
  notFound,
  redirect,
  send,
  standardAddDefinition,
} from '#local/fixtures/site-kit';
import { http500, simpleForm } from '#local/fixtures/variants';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { LIFECYCLE } from '#policy';
import { PgDirectoryStore } from '#shared/directory-store';
import { motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';
import {
  createCustomer,
  enqueueJob,
  FAST_WORKER_ENV,
  profile,
  simpleDirectory,
  waitForJob,
} from '#test/worker-jobs';

const DAY = 24 * 3600 * 1000;

/** A directory whose lookup pages test how a found listing's URL is read (and a declined one told apart). */
const linkSite: FixtureVariant = {
  id: 'listing-links',
  name: 'Listing Links',
  category: 'general',
  tier: 4,
  domainAuthority: 1,
  handle(req, res, _body, ctx) {
    const url = new URL(req.url ?? '/', ctx.origin);
    const listing = (phone: string, href: string) =>
      `<div class="listing"><h2>Same Name</h2><span class="phone">${phone}</span><a class="link" href="${href}">view</a></div>`;
    switch (url.pathname) {
      case '/search': // two businesses of one name: only the second has this profile's phone
        return send(
          res,
          200,
          html('Results', listing('+1 555 0199', '/l/other') + listing('+1 555 0100', '/l/ours')),
        );
      case '/unsafe':
        return send(res, 200, html('Results', listing('+1 555 0100', 'javascript:alert(1)')));
      case '/landing':
        return redirect(res, '/l/landed');
      case '/l/landed':
        return send(res, 200, html('Listing', listing('+1 555 0100', '#')));
      case '/declined':
        return send(
          res,
          200,
          html('Listing', `${listing('+1 555 0100', '/l/ours')}<p id="declined">Declined</p>`),
        );
      default:
        return notFound(res);
    }
  },
  definition: (origin) => standardAddDefinition(origin, '#ok'),
};

let t: TestDatabase;
let system: LocalSystem;

/** A clock the test moves: the lifecycle's ages are measured in it. */
class TestClock implements Clock {
  constructor(private at = Date.now()) {}
  now(): Date {
    return new Date(this.at);
  }
  set(ms: number): void {
    this.at = ms;
  }
}

beforeAll(async () => {
  t = await testDatabase('listing_lifecycle', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('lc')}-`,
    schedules: { timers: false },
    // The moderated site publishes nothing on its own during the test: its admin call does.
    fixtures: [simpleForm, delayedListing({ publishAfterMs: 3_600_000 }), rejectingSite, http500, linkSite],
    env: FAST_WORKER_ENV,
  });
  // A directory whose lookup page answers HTTP 500 (its verify.url is on the broken site): inconclusive.
  const simple = system.fixtures.site('simple-form');
  const definition = simpleForm.definition(simple.origin);
  const verify = definition.verify as NonNullable<typeof definition.verify>;
  await new PgDirectoryStore(system.db).upsert({
    ...simpleDirectory('broken-lookup', simple.origin, 'Broken Lookup Directory'),
    definition: {
      ...definition,
      verify: { ...verify, url: `${system.fixtures.site('http-500').origin}/listings?name={name}` },
    },
  });
});
afterAll(async () => {
  await system?.stop();
  await t?.close();
});

/** The recheck handler over the system's own ports, on `clock`. */
function recheck(clock: Clock, overrides: Partial<RecheckDeps> = {}) {
  return makeRecheckListingsHandler({ ...system.recheck, clock, ...overrides });
}

interface Row {
  directory_id: string;
  status: string;
  lifecycle: string | null;
  listing_url: string | null;
  checks: number;
  inconclusive_checks: number;
  next_check_at: Date | null;
}

async function rows(jobId: string): Promise<Record<string, Row>> {
  const { rows: found } = await system.db.query<Row>(
    `SELECT directory_id, status, lifecycle, listing_url, checks, inconclusive_checks, next_check_at
       FROM submissions WHERE job_id = $1`,
    [jobId],
  );
  return Object.fromEntries(found.map((r) => [r.directory_id, r]));
}

async function events(jobId: string): Promise<{ type: string; detail: Record<string, unknown> }[]> {
  const { rows: found } = await system.db.query<{ type: string; detail: Record<string, unknown> }>(
    `SELECT type, detail FROM job_events WHERE job_id = $1 AND type LIKE 'listing.%' ORDER BY id`,
    [jobId],
  );
  return found;
}

/** Lookups a site received for a business (its own request log: the far end). */
const lookups = (siteId: string, name: string) =>
  system.fixtures.site(siteId).requests.filter((r) => {
    const url = new URL(r.path, 'http://site');
    return url.pathname === '/listings' && url.searchParams.get('name') === name;
  }).length;

async function api(path: string) {
  const res = await fetch(`${system.url}${path}`, { headers: { 'x-api-key': system.keys.admin } });
  return { status: res.status, body: await res.json() };
}

async function submitted(name: string, directories: string[]) {
  const customer = await createCustomer(system, profile(name));
  const job = await enqueueJob(system, customer.id, directories, 1);
  await waitForJob(system, job.id, 'completed', 90_000);
  return job.id;
}

describe('the listing lifecycle', () => {
  it('follows each submitted listing through its recheck ages to live, rejected or not_found, once each', async () => {
    const name = uniqueName('Lifecycle Plumbing').replace(/_/g, ' ');
    const quiet = uniqueName('Quiet Bakery').replace(/_/g, ' ');
    const jobId = await submitted(name, [
      'simple-form',
      'delayed-listing',
      'rejecting-site',
      'broken-lookup',
    ]);
    const quietJob = await submitted(quiet, ['delayed-listing']);
    const submittedAt = Date.now();
    const clock = new TestClock(submittedAt);
    const run = recheck(clock);

    // Submitted: every row entered the lifecycle under review, first looked up a day after its submission.
    let now = await rows(jobId);
    for (const row of Object.values(now)) {
      expect(row).toMatchObject({ status: 'submitted', lifecycle: 'under_review', checks: 0 });
      expect(Math.abs((row.next_check_at as Date).getTime() - (submittedAt + DAY))).toBeLessThan(60_000);
    }
    const nothingDue = await run();
    expect(nothingDue).toMatchObject({ lookedUp: 0, postponed: 0 });

    // +1 day: found at once on the plain site (with its permalink), declined on the strict one, not yet
    // published on the moderated one, and nothing certain where the lookup page leads nowhere.
    clock.set(submittedAt + DAY + 60_000);
    const first = await run();
    expect(first.lookedUp).toBe(5);
    now = await rows(jobId);
    expect(now['simple-form']).toMatchObject({
      lifecycle: 'live',
      listing_url: `${system.fixtures.site('simple-form').origin}${listingPath(name)}`,
      next_check_at: null,
    });
    expect(now['rejecting-site']).toMatchObject({ lifecycle: 'rejected', next_check_at: null });
    expect(now['delayed-listing']).toMatchObject({
      lifecycle: 'under_review',
      checks: 1,
      inconclusive_checks: 0,
    });
    expect(now['delayed-listing']?.next_check_at?.getTime()).toBeGreaterThan(submittedAt + 7 * DAY - 60_000);
    expect(now['broken-lookup']).toMatchObject({ lifecycle: 'under_review', inconclusive_checks: 1 });

    // The moderators publish it; the +7 day recheck finds it live. The quiet business is never published.
    const publish = await fetch(`${system.fixtures.site('delayed-listing').origin}/admin/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ name }),
    });
    expect(publish.status).toBe(200);
    const HOUR = 3600_000;
    for (const at of [
      DAY + 7 * HOUR,
      DAY + 13 * HOUR,
      7 * DAY + 60_000,
      7 * DAY + 7 * HOUR,
      7 * DAY + 13 * HOUR,
    ]) {
      clock.set(submittedAt + at);
      await run();
    }
    now = await rows(jobId);
    expect(now['delayed-listing']).toMatchObject({
      lifecycle: 'live',
      listing_url: `${system.fixtures.site('delayed-listing').origin}${listingPath(name)}`,
    });
    // Three inconclusive lookups in a row, 6 hours apart, pass an age: at +1 day and again at +7 days.
    expect(now['broken-lookup']).toMatchObject({
      lifecycle: 'under_review',
      inconclusive_checks: 0,
      checks: 6,
    });
    const lastAge = (now['broken-lookup']?.next_check_at?.getTime() ?? 0) - (submittedAt + 28 * DAY);
    expect(Math.abs(lastAge)).toBeLessThan(60_000);
    expect((await rows(quietJob))['delayed-listing']).toMatchObject({ lifecycle: 'under_review', checks: 2 });

    // +28 days: the quiet listing was not found at the last age; the broken lookup stays inconclusive,
    // retried at most maxInconclusiveInARow times, then not_found too.
    for (const at of [28 * DAY + 60_000, 28 * DAY + 7 * HOUR, 28 * DAY + 13 * HOUR]) {
      clock.set(submittedAt + at);
      await run();
    }
    expect((await rows(quietJob))['delayed-listing']).toMatchObject({
      lifecycle: 'not_found',
      next_check_at: null,
      checks: 3,
    });
    now = await rows(jobId);
    expect(now['broken-lookup']).toMatchObject({ lifecycle: 'not_found', next_check_at: null });
    expect(now['broken-lookup']?.checks).toBe(3 * LIFECYCLE.maxInconclusiveInARow);

    // Settled listings are looked up no more, however long the clock runs.
    clock.set(submittedAt + 90 * DAY);
    expect(await run()).toMatchObject({ lookedUp: 0 });

    // Every change is one job event, once, with what changed and where the listing lives.
    const changes = (await events(jobId)).map((e) => [e.detail.directoryId, e.type]);
    expect(changes.filter(([d]) => d === 'simple-form')).toEqual([
      ['simple-form', 'listing.under_review'],
      ['simple-form', 'listing.live'],
    ]);
    expect(changes.filter(([d]) => d === 'delayed-listing').map(([, type]) => type)).toEqual([
      'listing.under_review',
      'listing.live',
    ]);
    expect(changes.filter(([d]) => d === 'rejecting-site').map(([, type]) => type)).toEqual([
      'listing.under_review',
      'listing.rejected',
    ]);
    expect(changes.filter(([d]) => d === 'broken-lookup').map(([, type]) => type)).toEqual([
      'listing.under_review',
      'listing.not_found',
    ]);
    const live = (await events(jobId)).find(
      (e) => e.type === 'listing.live' && e.detail.directoryId === 'delayed-listing',
    );
    expect(live?.detail).toMatchObject({
      from: 'under_review',
      to: 'live',
      checks: 2,
      listingUrl: `${system.fixtures.site('delayed-listing').origin}${listingPath(name)}`,
    });

    // Counted at the far end: each site received exactly the lookups the rows record.
    expect(lookups('simple-form', name)).toBe(1);
    expect(lookups('rejecting-site', name)).toBe(1);
    expect(lookups('delayed-listing', name)).toBe(2);
    expect(lookups('delayed-listing', quiet)).toBe(3);
    expect(system.fixtures.site('delayed-listing').countsByName()[name]).toBe(1);

    // The API says it all: state, URL, last and next lookup, and filters by state.
    const { body: job } = await api(`/v1/jobs/${jobId}`);
    const byDirectory = Object.fromEntries(
      job.results.map((r: { directoryId: string }) => [r.directoryId, r]),
    );
    expect(byDirectory['simple-form']).toMatchObject({
      status: 'submitted',
      lifecycle: 'live',
      listingUrl: `${system.fixtures.site('simple-form').origin}${listingPath(name)}`,
      lifecycleReason: 'the lookup found the listing',
      nextCheckAt: null,
    });
    expect(byDirectory['rejecting-site']).toMatchObject({ lifecycle: 'rejected' });
    expect(byDirectory['broken-lookup'].lifecycleReason).toMatch(/inconclusive.*that was the last recheck/);
    const { body: liveOnly } = await api(`/v1/submissions?jobId=${jobId}&lifecycle=live`);
    expect(liveOnly.items.map((s: { directoryId: string }) => s.directoryId).sort()).toEqual([
      'delayed-listing',
      'simple-form',
    ]);
  });

  it('lets overlapping runs share the due listings: each looked up and recorded exactly once', async () => {
    const names = ['A', 'B', 'C'].map((n) => uniqueName(`Overlap ${n}`).replace(/_/g, ' '));
    const jobs = await Promise.all(names.map((n) => submitted(n, ['simple-form', 'rejecting-site'])));
    const clock = new TestClock(Date.now() + DAY + 60_000);
    // Small claims, so the two runs interleave (SKIP LOCKED) rather than one taking everything.
    const options = { ...system.recheck.options, claimBatch: 2 };

    const reports = await Promise.all([recheck(clock, { options })(), recheck(clock, { options })()]);

    expect(reports.reduce((n, r) => n + r.lookedUp, 0)).toBe(6);
    expect(reports.reduce((n, r) => n + r.refused, 0)).toBe(0);
    for (const [i, jobId] of jobs.entries()) {
      expect(await rows(jobId)).toMatchObject({
        'simple-form': { lifecycle: 'live', checks: 1 },
        'rejecting-site': { lifecycle: 'rejected', checks: 1 },
      });
      expect((await events(jobId)).map((e) => e.type).sort()).toEqual([
        'listing.live',
        'listing.rejected',
        'listing.under_review',
        'listing.under_review',
      ]);
      expect(lookups('simple-form', names[i] as string)).toBe(1);
    }
  });

  it('refuses a lookup recorded for a state the listing has left (fenced by the state and version it read)', async () => {
    const name = uniqueName('Fenced Florist').replace(/_/g, ' ');
    const jobId = await submitted(name, ['simple-form']);
    const clock = new TestClock(Date.now() + DAY + 60_000);
    const [claimed] = await system.recheck.lifecycle.claimDue(clock.now(), 10, 60);
    if (!claimed) throw new Error('nothing due');
    const live: LifecycleStep = {
      to: 'live',
      nextCheckAt: null,
      inconclusiveChecks: 0,
      listingUrl: null,
      reason: 'x',
    };

    expect(await system.recheck.lifecycle.record(claimed, live, clock.now())).toBe(true);
    // The same lookup again, or another run's answer for the same read: refused, nothing written twice.
    expect(await system.recheck.lifecycle.record(claimed, { ...live, to: 'not_found' }, clock.now())).toBe(
      false,
    );
    expect(await system.recheck.lifecycle.release(claimed, clock.now())).toBe(false);
    expect((await rows(jobId))['simple-form']).toMatchObject({ lifecycle: 'live', checks: 1 });
    expect((await events(jobId)).map((e) => e.type)).toEqual(['listing.under_review', 'listing.live']);
    // Entering again changes nothing either.
    expect(await system.recheck.lifecycle.enter(jobId, 'simple-form')).toBe(false);
  });

  it('waits for a site another visitor holds (the same lease row as the worker), and leaves the row unchanged when it stays busy', async () => {
    const name = uniqueName('Busy Barber').replace(/_/g, ' ');
    const jobId = await submitted(name, ['simple-form']);
    const clock = new TestClock(Date.now() + DAY + 60_000);
    const site = system.fixtures.site('simple-form').origin;
    const holder = new PgSitePoliteness(system.db, 0);
    const slot = await holder.acquire(site, { holder: 'someone-else', maxWaitMs: 1_000 });
    let report: Awaited<ReturnType<ReturnType<typeof recheck>>>;
    try {
      report = await recheck(clock, {
        options: { ...system.recheck.options, siteWaitMaxMs: 300 },
      })();
    } finally {
      await slot.release();
    }

    expect(report).toMatchObject({ lookedUp: 0, postponed: 1 });
    const row = (await rows(jobId))['simple-form'];
    expect(row).toMatchObject({ lifecycle: 'under_review', checks: 0 });
    expect(row?.next_check_at?.getTime()).toBe(clock.now().getTime() + LIFECYCLE.busyRetrySeconds * 1000);
    expect(lookups('simple-form', name)).toBe(0);

    // Free again, at the time it was given back for: looked up, holding the site's lease while it did.
    const visitsBefore = await siteVisits(site);
    clock.set(clock.now().getTime() + LIFECYCLE.busyRetrySeconds * 1000);
    expect(await recheck(clock)()).toMatchObject({ lookedUp: 1 });
    expect((await rows(jobId))['simple-form']).toMatchObject({ lifecycle: 'live', checks: 1 });
    expect(await siteVisits(site)).toBe(visitsBefore + 1);
  });

  it('enters a submitted row the worker could not enter (its database write failed after settling)', async () => {
    const name = uniqueName('Orphan Optician').replace(/_/g, ' ');
    // The worker the pollers run, with its lifecycle write failing: the job still completes, submitted.
    const lifecycle = system.worker.lifecycle;
    system.worker.lifecycle = { enter: () => Promise.reject(new Error('connection terminated')) };
    let jobId: string;
    try {
      jobId = await submitted(name, ['simple-form']);
    } finally {
      system.worker.lifecycle = lifecycle;
    }
    expect((await rows(jobId))['simple-form']).toMatchObject({ status: 'submitted', lifecycle: null });

    const report = await recheck(new TestClock())();

    expect(report.entered).toBe(1);
    expect((await rows(jobId))['simple-form']).toMatchObject({ lifecycle: 'under_review', checks: 0 });
    expect((await events(jobId)).map((e) => e.type)).toEqual(['listing.under_review']);
  });
});

describe('a lookup of a found listing', () => {
  async function lookUp(path: string, extra: Partial<FormDefinition> = {}, verify = {}) {
    const origin = system.fixtures.site('listing-links').origin;
    const base = linkSite.definition(origin);
    const definition: FormDefinition = {
      ...base,
      verify: { url: `{origin}${path}`, found: { selector: '.listing' }, ...verify },
      ...extra,
    };
    const lease = await system.worker.browser.acquire();
    try {
      return await verifyListing(await lease.newPage(), definition, profile('Same Name'), 3_000);
    } finally {
      await lease.release();
    }
  }
  const origin = () => system.fixtures.site('listing-links').origin;

  it('reads the URL from the listing that is this business (verify.match), not from a namesake', async () => {
    const found = await lookUp(
      '/search',
      {},
      {
        match: [{ field: 'phone', selector: '.phone' }],
        listingUrl: { selector: 'a.link' },
      },
    );
    expect(found).toMatchObject({ result: 'found', listingUrl: `${origin()}/l/ours` });
    // Without match the first listing is taken; without listingUrl, the lookup page's address.
    expect(await lookUp('/search', {}, { listingUrl: { selector: 'a.link' } })).toMatchObject({
      listingUrl: `${origin()}/l/other`,
    });
    expect(await lookUp('/search')).toMatchObject({ listingUrl: `${origin()}/search` });
  });

  it('keeps only web URLs from an untrusted page, and the landing page with pageUrl', async () => {
    const unsafe = await lookUp('/unsafe', {}, { listingUrl: { selector: 'a.link' } });
    expect(unsafe.result).toBe('found');
    expect(unsafe.listingUrl).toBeUndefined();
    expect(await lookUp('/landing', {}, { listingUrl: { pageUrl: true } })).toMatchObject({
      result: 'found',
      listingUrl: `${origin()}/l/landed`,
    });
  });

  it('calls a listing the directory declined rejected, even where the page still shows it', async () => {
    expect(await lookUp('/declined', { rejected: [{ selector: '#declined' }] })).toMatchObject({
      result: 'rejected',
    });
    expect(await lookUp('/declined')).toMatchObject({ result: 'found' });
  });
});

async function siteVisits(site: string): Promise<number> {
  const { rows: found } = await system.db.query<{ visits: number }>(
    'SELECT visits FROM site_visits WHERE site = $1',
    [site],
  );
  return found[0]?.visits ?? 0;
}
