/**
 * Issue 17 items 1-2 on real Postgres, moto S3 and Chromium against fixture sites: frames as a definition's
 * own field (a form in an iframe, filled and sent; the schema's rules), and POST /v1/directories/{id}/dry-run
 * called as Lambda calls it: per step what it found (primary or fallback selector, time), drift named at its
 * step, the filled form's screenshot in the records bucket behind a presigned link, politeness (a site a job
 * holds is a 409), and the fixture sites' own request logs proving that no dry run ever posted a form.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiHandler } from '#functions/api/router';
import { BrowserPool } from '#functions/worker/browser-pool';
import { DefinitionError, parseFormDefinition } from '#functions/worker/form-definition';
import { runForm } from '#functions/worker/form-engine';
import { NetworkGuard } from '#functions/worker/network-guard';
import { PgSitePoliteness } from '#functions/worker/site-politeness';
import { categoryLabel } from '#local/fixtures/category-sites';
import { ONBOARDING_VARIANTS } from '#local/fixtures/onboarding-sites';
import { allVariants, type FixtureSites, startFixtureSites } from '#local/fixtures/sites';
import { PgCustomerStore } from '#shared/customer-store';
import { PgDirectoryStore } from '#shared/directory-store';
import { ADMIN_KEY_ID, call } from '#test/api';
import { testProbesApi } from '#test/probes';
import { type TestRecords, testRecords } from '#test/records';
import { type TestDatabase, testDatabase } from '#test/services';

const profile = {
  name: 'Frame Test Bakery',
  email: 'owner@frame.test',
  phone: '+1 555 0199',
  website: 'https://frame.test',
  address: '9 Oven Lane',
  city: 'Springfield',
  state: 'IL',
  zip: '62704',
  category: 'Bakery',
  description: 'Bread in frames.',
};

let t: TestDatabase;
let records: TestRecords;
let sites: FixtureSites;
let pool: BrowserPool;
let api: ApiHandler;

beforeAll(async () => {
  t = await testDatabase('dry_run');
  records = await testRecords('dry-run');
  sites = await startFixtureSites([...allVariants({ slowMs: 300 }), ...ONBOARDING_VARIANTS, categoryLabel]);
  pool = new BrowserPool({
    recycleAfterPages: 50,
    network: new NetworkGuard({ allowedOrigins: sites.origins() }),
  });
  const directories = new PgDirectoryStore(t.db);
  for (const d of sites.directories()) await directories.upsert(d);
  api = testProbesApi(t.db, pool, records, {
    stepTimeoutMs: 2_000,
    transientRetries: 1,
    retryDelayMs: 100,
    siteWaitMaxMs: 300,
  });
}, 60_000);
afterAll(async () => {
  await pool?.close();
  await sites?.stop();
  await t?.close();
});

const dryRun = (id: string, body: Record<string, unknown> = {}, apiKeyId = ADMIN_KEY_ID) =>
  call(api, 'POST', `/v1/directories/${id}/dry-run`, { apiKeyId, body });

/** Form posts the sites received (the test's own switches of the drifting site's design are not forms). */
const posts = () =>
  [...sites.sites.values()].flatMap((s) =>
    s.requests.filter((r) => r.method === 'POST' && !r.path.startsWith('/__')),
  );

describe('frames are first class', () => {
  const base = { submissionUrl: 'http://127.0.0.1:9/add', success: [{ selector: '#ok' }] };
  it('takes `frame` on steps and indicators, and refuses an indicator that says only where', () => {
    const parsed = parseFormDefinition({
      ...base,
      steps: [
        { action: 'goto' },
        { action: 'fill', field: 'name', selectors: ['#n'], frame: 'iframe#f' },
        { action: 'waitFor', selector: '#n', frame: 'iframe#f' },
        { action: 'submit', selectors: ['button'], frame: 'iframe#f' },
      ],
      success: [{ selector: '.done', frame: 'iframe#f' }],
    });
    expect(parsed.steps[1]).toMatchObject({ frame: 'iframe#f' });
    expect(() =>
      parseFormDefinition({
        ...base,
        steps: [{ action: 'goto' }, { action: 'submit', selectors: ['button'] }],
        success: [{ frame: 'iframe#f' }],
      }),
    ).toThrow(DefinitionError);
    // A page load has no frame to be in.
    expect(() =>
      parseFormDefinition({
        ...base,
        steps: [
          { action: 'goto', frame: 'iframe#f' },
          { action: 'submit', selectors: ['button'] },
        ],
      }),
    ).toThrow(/frame/);
  });

  it('fills and sends a form that lives in an iframe, and reads the thank-you inside it', async () => {
    const definition = parseFormDefinition(
      sites.directories().find((d) => d.id === 'iframe-form')?.definition,
    );
    const lease = await pool.acquire();
    let asked = 0;
    try {
      const page: Page = await lease.newPage();
      const outcome = await runForm(
        page,
        definition,
        profile,
        { beforeSubmit: async () => ++asked > 0 },
        { stepTimeoutMs: 3_000, directoryTimeoutMs: 10_000 },
      );
      expect(outcome.status, outcome.error).toBe('submitted');
    } finally {
      await lease.release();
    }
    expect(asked).toBe(1);
    // The site's own record: exactly these values, once.
    const received = sites.site('iframe-form').submissions;
    expect(received).toHaveLength(1);
    expect(received[0]?.fields).toMatchObject({
      org: profile.name,
      em: profile.email,
      tel: profile.phone,
      loc: profile.city,
      blurb: profile.description,
    });
  });
});

describe('POST /v1/directories/{id}/dry-run', () => {
  it('answers per step what matched, and stores the filled form in the records bucket', async () => {
    const res = await dryRun('simple-form');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      directoryId: 'simple-form',
      outcome: 'ready',
      reachedSubmit: true,
      submitted: false,
      driftStep: null,
      customerId: null,
    });
    const steps = res.body.steps as {
      action: string;
      status: string;
      selectorIndex: number | null;
      ms: number;
    }[];
    expect(steps.map((s) => s.status)).toEqual(steps.map(() => 'ok'));
    for (const s of steps.filter((s) => s.action !== 'goto')) expect(s.selectorIndex).toBe(0);
    expect(steps.every((s) => s.ms >= 0)).toBe(true);
    const [shot] = res.body.screenshots;
    expect(shot).toMatchObject({ label: 'filled form', taken: true, contentType: 'image/jpeg', data: null });
    // The link works for anyone holding it, and gives the JPEG the API counted.
    const image = await fetch(shot.url);
    expect(image.status).toBe(200);
    const bytes = new Uint8Array(await image.arrayBuffer());
    expect(bytes.byteLength).toBe(shot.bytes);
    expect([bytes[0], bytes[1]]).toEqual([0xff, 0xd8]);
    const keys = await records.store.exists(new URL(shot.url).pathname.split(`/${records.bucket}/`)[1] ?? '');
    expect(keys).toBe(true);
  });

  it('says when a fallback selector matched, and runs inside iframes', async () => {
    const renamed = await dryRun('renamed-fields');
    expect(renamed.body.outcome).toBe('ready');
    const fallbacks = (renamed.body.steps as { selectorIndex: number | null; note?: string }[]).filter(
      (s) => (s.selectorIndex ?? 0) > 0,
    );
    expect(fallbacks.length).toBeGreaterThan(0);
    expect(fallbacks[0]?.note).toMatch(/fallback/);

    const framed = await dryRun('iframe-form');
    expect(framed.body.outcome).toBe('ready');
    expect(framed.body.steps.at(-1)).toMatchObject({ action: 'submit', status: 'ok', selectorIndex: 0 });
  });

  it('names the step that drifted after a redesign, and the sites that need a person', async () => {
    const origin = sites.site('drifting-site').origin;
    await fetch(`${origin}/__redesign`, { method: 'POST' });
    try {
      const res = await dryRun('drifting-site');
      expect(res.body.outcome).toBe('drift');
      const drifted = res.body.steps[res.body.driftStep];
      expect(drifted).toMatchObject({ status: 'missing', field: 'name', selector: null });
      expect(
        res.body.steps
          .slice(res.body.driftStep + 1)
          .every((s: { status: string }) => s.status === 'not_reached'),
      ).toBe(true);
    } finally {
      await fetch(`${origin}/__restore`, { method: 'POST' });
    }
    expect((await dryRun('captcha-widget')).body.outcome).toBe('captcha');
    expect((await dryRun('login-wall')).body.outcome).toBe('login_wall');
  });

  it('types a customer’s profile when asked, and refuses unknown ids and client keys', async () => {
    const customer = await new PgCustomerStore(t.db).create('k', profile);
    const res = await dryRun('german-form', { customerId: customer.id });
    expect(res.body).toMatchObject({ outcome: 'ready', customerId: customer.id });
    expect((await dryRun('german-form', { customerId: '00000000-0000-4000-8000-000000000000' })).status).toBe(
      404,
    );
    expect((await dryRun('no-such-directory')).status).toBe(404);
    expect((await dryRun('simple-form', {}, 'client-1')).status).toBe(403);
    expect((await dryRun('simple-form', { customerId: 'nope' })).status).toBe(400);
  });

  it('reads the category options for the directory, picks by its map, and never calls a mapping gap drift', async () => {
    const store = new PgDirectoryStore(t.db);
    // The sample profile's category ("Other") maps to none of the site's options: a person's choice, not drift.
    const gap = await dryRun('category-label');
    expect(gap.status).toBe(200);
    expect(gap.body.outcome).not.toBe('drift');
    expect(gap.body.driftStep).toBeNull();
    expect(gap.body.errorClass).toBe('category_unmapped');
    const seen = await store.categories('category-label');
    expect(seen).toMatchObject({ optionsSource: 'dry_run' });
    expect(seen?.options?.map((o) => o.label)).toEqual(
      expect.arrayContaining(['Bakeries & Pastry Shops', 'Plumbing Services', 'Dentists']),
    );
    // With the directory's map, a bakery's dry run picks the mapped option and reaches the submit.
    await store.setCategoryMap('category-label', {
      mapping: { bakery: { label: 'Bakeries & Pastry Shops' } },
      default: null,
    });
    const bakery = await new PgCustomerStore(t.db).create('k', { ...profile, category: 'bakery' });
    const mapped = await dryRun('category-label', { customerId: bakery.id });
    expect(mapped.body).toMatchObject({ outcome: 'ready', reachedSubmit: true, submitted: false });
  });

  it('waits for a site a job is visiting, and answers 409 directory_busy when it stays busy', async () => {
    const site = sites.site('simple-form').origin;
    const slot = await new PgSitePoliteness(t.db, 0).acquire(site, {
      holder: 'worker:job',
      maxWaitMs: 1_000,
    });
    try {
      const res = await dryRun('simple-form');
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('directory_busy');
      expect(res.headers['retry-after']).toBeDefined();
    } finally {
      await slot.release();
    }
    expect((await dryRun('simple-form')).status).toBe(200);
  });

  it('never posted a form: the fixture sites received no POST from any dry run', () => {
    // The one submission is the iframe test's real run above; every dry run left nothing behind.
    expect(posts().map((p) => p.path)).toEqual(['/embed/form']);
    expect(sites.totalSubmissions()).toBe(1);
  });
});
