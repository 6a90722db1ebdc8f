/**
 * The form engine on real Chromium against fixture sites, below the handler: outcomes and their error
 * classes, and the rule that the submit click happens only when the ledger hook allows it. (Every variant
 * through the whole worker is in test/e2e/worker-variants.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserPool } from '#functions/worker/browser-pool';
import { parseFormDefinition } from '#functions/worker/form-definition';
import { type EngineOutcome, runForm, verifyListing } from '#functions/worker/form-engine';
import { NetworkGuard } from '#functions/worker/network-guard';
import { allVariants, type FixtureSites, startFixtureSites } from '#local/fixtures/sites';
import type { Profile } from '#shared/customer-store';

const profile: Profile = {
  name: 'Engine Test Plumbing',
  email: 'owner@engine.test',
  phone: '+1 555 0100',
  website: 'https://engine.test',
  address: '1 Main St',
  city: 'Springfield',
  state: 'IL',
  zip: '62704',
  category: 'Plumbing',
  description: 'Pipes, fixed.',
};

let sites: FixtureSites;
let pool: BrowserPool;

beforeAll(async () => {
  sites = await startFixtureSites(allVariants({ slowMs: 300 }));
  // The fixture sites through the network guard, as the local worker reaches them.
  pool = new BrowserPool({
    recycleAfterPages: 50,
    network: new NetworkGuard({ allowedOrigins: sites.origins() }),
  });
});
afterAll(async () => {
  await pool?.close();
  await sites?.stop();
});

async function run(
  id: string,
  allow = true,
  timeouts = { stepTimeoutMs: 3_000, directoryTimeoutMs: 10_000 },
) {
  const definition = parseFormDefinition(sites.directories().find((d) => d.id === id)?.definition);
  const lease = await pool.acquire();
  let asked = 0;
  try {
    const page = await lease.context.newPage();
    const outcome: EngineOutcome = await runForm(
      page,
      definition,
      profile,
      {
        beforeSubmit: async () => {
          asked += 1;
          return allow;
        },
      },
      timeouts,
    );
    return { outcome, asked };
  } finally {
    await lease.release();
  }
}

describe('form engine on the fixture sites', () => {
  it('submits a form whose fields were renamed, through its fallback selectors, and says so', async () => {
    const { outcome, asked } = await run('renamed-fields');
    expect(outcome).toMatchObject({ status: 'submitted', submitted: true });
    expect(asked).toBe(1);
    expect(outcome.evidence.fallbackSelectors).toMatchObject({ 'input[name="business_name"]': 1 });
    expect(sites.site('renamed-fields').countsByName()).toEqual({ [profile.name]: 1 });
  });

  it('hands captchas and login walls to a person without submitting', async () => {
    const captcha = await run('captcha-widget');
    expect(captcha.outcome).toMatchObject({
      status: 'needs_manual',
      errorClass: 'captcha',
      submitted: false,
    });
    const login = await run('login-wall');
    expect(login.outcome).toMatchObject({
      status: 'skipped',
      errorClass: 'login_required',
      submitted: false,
    });
    expect(captcha.asked + login.asked).toBe(0);
  });

  it('keeps the site validation message and classifies broken sites as transient', async () => {
    const refused = await run('validation-error');
    expect(refused.outcome).toMatchObject({
      status: 'failed',
      errorClass: 'validation_error',
      submitted: true,
    });
    expect(refused.outcome.error).toContain('ZIP code 62704 is outside our service area');
    const down = await run('http-500');
    expect(down.outcome).toMatchObject({
      status: 'failed',
      errorClass: 'site_down',
      transient: true,
      submitted: false,
    });
    const hanging = await run('hanging-site', true, { stepTimeoutMs: 800, directoryTimeoutMs: 5_000 });
    expect(hanging.outcome).toMatchObject({
      status: 'failed',
      errorClass: 'timeout',
      transient: true,
      submitted: false,
    });
  });

  it('calls a required field that is not on the page selector drift, not a transient timeout', async () => {
    const base = sites.directories().find((d) => d.id === 'simple-form')?.definition;
    const definition = parseFormDefinition({
      ...base,
      steps: [
        { action: 'goto' },
        { action: 'fill', field: 'name', selectors: ['input[name="company_title"]'] },
        { action: 'submit', selectors: ['#submit'] },
      ],
    });
    const before = sites.site('simple-form').submissions.length;
    const lease = await pool.acquire();
    try {
      const outcome = await runForm(
        await lease.newPage(),
        definition,
        profile,
        { beforeSubmit: async () => true },
        { stepTimeoutMs: 500, directoryTimeoutMs: 5_000 },
      );
      expect(outcome).toMatchObject({ status: 'failed', errorClass: 'selector_drift', submitted: false });
      expect(outcome.transient).toBeFalsy();
      expect(outcome.error).toContain('input[name="company_title"]');
    } finally {
      await lease.release();
    }
    expect(sites.site('simple-form').submissions.length).toBe(before);
  });

  it('never clicks submit when the ledger refuses', async () => {
    const before = sites.site('simple-form').submissions.length;
    const { outcome, asked } = await run('simple-form', false);
    expect(asked).toBe(1);
    expect(outcome).toMatchObject({ status: 'failed', submitted: false });
    expect(sites.site('simple-form').submissions.length).toBe(before);
  });

  it('verifies a listing without submitting', async () => {
    const definition = parseFormDefinition(
      sites.directories().find((d) => d.id === 'renamed-fields')?.definition,
    );
    const lease = await pool.acquire();
    try {
      const found = await verifyListing(await lease.context.newPage(), definition, profile, 2_000);
      expect(found.result).toBe('found');
      const missing = await verifyListing(
        await lease.context.newPage(),
        definition,
        { ...profile, name: 'Nobody' },
        2_000,
      );
      expect(missing.result).toBe('not_found');
    } finally {
      await lease.release();
    }
  });

  it('judges a result page success first, then a captcha, then a failure', async () => {
    // One form whose result page says what the test asks for: pages served by the browser's own routing,
    // so real Chromium parses and runs them, with no site in between.
    const origin = 'http://judge.test';
    const definition = parseFormDefinition({
      submissionUrl: `${origin}/add`,
      steps: [
        { action: 'goto' },
        { action: 'fill', field: 'name', selectors: ['#name'] },
        { action: 'submit', selectors: ['#go'] },
      ],
      success: [{ selector: '#listed' }],
      failure: [{ selector: '.error' }],
    });
    const captchaWidget = '<div class="g-recaptcha" data-sitekey="x"></div>';
    const results: Record<string, string> = {
      'success-with-captcha': `<div id="listed">Listed.</div><form>Newsletter ${captchaWidget}</form>`,
      'error-with-captcha': `<p class="error">Please complete the captcha.</p>${captchaWidget}`,
      'error-only': '<p class="error">Phone number is invalid.</p>',
    };
    const judgeOf = async (result: string) => {
      const lease = await pool.acquire();
      try {
        const page = await lease.context.newPage();
        await page.route(`${origin}/**`, (route) =>
          route.fulfill({
            contentType: 'text/html',
            body:
              route.request().method() === 'POST'
                ? `<html><body>${results[result]}</body></html>`
                : '<html><body><form method="post" action="/add"><input id="name" name="name"><button id="go">Add</button></form></body></html>',
          }),
        );
        return await runForm(
          page,
          definition,
          profile,
          { beforeSubmit: async () => true },
          {
            stepTimeoutMs: 3_000,
            directoryTimeoutMs: 10_000,
          },
        );
      } finally {
        await lease.release();
      }
    };
    // The directory confirmed the listing: a captcha elsewhere on that page does not undo it.
    expect(await judgeOf('success-with-captcha')).toMatchObject({ status: 'submitted', submitted: true });
    // A captcha with an error: a person's job, not a validation error.
    expect(await judgeOf('error-with-captcha')).toMatchObject({
      status: 'needs_manual',
      errorClass: 'captcha',
      submitted: true,
    });
    expect(await judgeOf('error-only')).toMatchObject({
      status: 'failed',
      errorClass: 'validation_error',
      error: 'Phone number is invalid.',
    });
  });
});
