/**
 * The form engine on real Chromium against fixture sites, below the handler: outcomes and their error
 * classes, the rule that the submit click happens only when the ledger hook allows it, and the proof of a
 * click (screenshots held to the size policy, the facts). (Every variant through the whole worker is in
 * test/e2e/worker-variants.test.ts; proof through the whole system in test/e2e/proof.test.ts.)
 */

import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserPool } from '#functions/worker/browser-pool';
import { captureScreenshot, typedValuesSha256 } from '#functions/worker/evidence-capture';
import { parseFormDefinition } from '#functions/worker/form-definition';
import {
  type EngineOptions,
  type EngineOutcome,
  runForm,
  verifyListing,
} from '#functions/worker/form-engine';
import { NetworkGuard } from '#functions/worker/network-guard';
import { allVariants, type FixtureSites, startFixtureSites } from '#local/fixtures/sites';
import { EVIDENCE } from '#policy';
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
  timeouts: EngineOptions = { stepTimeoutMs: 3_000, directoryTimeoutMs: 10_000 },
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

describe('the proof of a submit click', () => {
  const withProof = { stepTimeoutMs: 3_000, directoryTimeoutMs: 10_000, proof: EVIDENCE };

  it('shoots the filled form before the click and records what decided the outcome and what was typed', async () => {
    const { outcome } = await run('select-check-radio', true, withProof);
    expect(outcome.status).toBe('submitted');
    const proof = outcome.proof;
    if (!proof?.form.taken) throw new Error(`no form screenshot: ${JSON.stringify(proof)}`);
    expect([...proof.form.shot.bytes.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    expect(proof).toMatchObject({
      matched: { kind: 'success', index: 0 },
      httpStatus: 200,
      resultPageOpen: true,
    });
    expect(proof.finalUrl?.startsWith(sites.site('select-check-radio').origin)).toBe(true);
    // The values typed and chosen, in step order: profile fields and the definition's fixed select values.
    const definition = parseFormDefinition(
      sites.directories().find((d) => d.id === 'select-check-radio')?.definition,
    );
    const typed = definition.steps.flatMap((step, index) => {
      if (step.action === 'fill') {
        const value = profile[step.field];
        return value ? [{ step: index, field: step.field, value }] : [];
      }
      if (step.action === 'select') {
        const value = step.value ?? (step.field ? profile[step.field] : null);
        return value ? [{ step: index, ...(step.field ? { field: step.field } : {}), value }] : [];
      }
      return [];
    });
    expect(typed.some((v) => v.field === undefined || v.field === 'state')).toBe(true);
    expect(proof.typedSha256).toBe(typedValuesSha256(typed));
  });

  it('keeps no proof when nothing was sent', async () => {
    const refused = await run('simple-form', false, withProof);
    expect(refused.outcome.proof).toBeUndefined();
    const captcha = await run('captcha-widget', true, withProof);
    expect(captcha.outcome).toMatchObject({ status: 'needs_manual', submitted: false });
    expect(captcha.outcome.proof).toBeUndefined();
    expect(captcha.outcome.evidence.matched).toEqual({ kind: 'captcha', index: null });
  });

  async function onForm<T>(fn: (page: Page) => Promise<T>): Promise<T> {
    const lease = await pool.acquire();
    try {
      const page = await lease.newPage();
      await page.goto(`${sites.site('simple-form').origin}/add`);
      await page.fill('input[name="business_name"]', 'Size Policy Plumbing');
      return await fn(page);
    } finally {
      await lease.release();
    }
  }

  it('takes a JPEG at the policy quality, retakes it smaller over the ceiling, and never keeps one above it', async () => {
    await onForm(async (page) => {
      const first = await captureScreenshot(page, EVIDENCE);
      if (!first.taken) throw new Error(first.reason);
      expect(first.shot).toMatchObject({ quality: EVIDENCE.jpegQuality, fullPage: true });
      expect(first.shot.bytes.byteLength).toBeLessThanOrEqual(EVIDENCE.maxImageBytes);
      // A ceiling just under it: taken again at the lower quality, and under the ceiling.
      const ceiling = first.shot.bytes.byteLength - 1;
      const retaken = await captureScreenshot(page, { ...EVIDENCE, maxImageBytes: ceiling });
      if (!retaken.taken) throw new Error(retaken.reason);
      expect(retaken.shot.quality).toBe(EVIDENCE.retakeJpegQuality);
      expect(retaken.shot.bytes.byteLength).toBeLessThanOrEqual(ceiling);
      // A ceiling nothing meets: not taken, and the reason says so.
      const none = await captureScreenshot(page, { ...EVIDENCE, maxImageBytes: 100 });
      expect(none).toMatchObject({ taken: false, reason: expect.stringMatching(/over the ceiling of 100/) });
    });
  });

  /** Width and height from a JPEG's start-of-frame segment. */
  function jpegSize(bytes: Buffer): { width: number; height: number } {
    let at = 2;
    while (at + 9 < bytes.byteLength) {
      const marker = bytes[at + 1] ?? 0;
      if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
        return { height: bytes.readUInt16BE(at + 5), width: bytes.readUInt16BE(at + 7) };
      }
      at += 2 + bytes.readUInt16BE(at + 2);
    }
    throw new Error('no start-of-frame segment in the JPEG');
  }

  it('shoots the page from its top down to the policy height, and only the viewport as the last resort', async () => {
    await onForm(async (page) => {
      // A page taller than the policy lets through, scrolled down: the proof still starts at the page's top.
      await page.evaluate(() => {
        document.body.style.height = '9000px';
        window.scrollTo(0, 3_000);
      });
      const viewport = page.viewportSize();
      if (!viewport) throw new Error('no viewport');
      const tall = await captureScreenshot(page, EVIDENCE);
      if (!tall.taken) throw new Error(tall.reason);
      expect(tall.shot.fullPage).toBe(true);
      expect(jpegSize(tall.shot.bytes)).toEqual({ width: viewport.width, height: EVIDENCE.maxHeightPx });
      // A ceiling only the viewport meets (well under the full page at the retake quality, which varies by a
      // few bytes between shots with the caret blinking): the third attempt, of what is on screen.
      const fullAtRetake = await captureScreenshot(page, {
        ...EVIDENCE,
        jpegQuality: EVIDENCE.retakeJpegQuality,
        maxImageBytes: Number.MAX_SAFE_INTEGER,
      });
      if (!fullAtRetake.taken) throw new Error(fullAtRetake.reason);
      const small = await captureScreenshot(page, {
        ...EVIDENCE,
        maxImageBytes: Math.floor(fullAtRetake.shot.bytes.byteLength * 0.6),
      });
      if (!small.taken) throw new Error(small.reason);
      expect(small.shot).toMatchObject({ quality: EVIDENCE.retakeJpegQuality, fullPage: false });
      expect(jpegSize(small.shot.bytes)).toEqual(viewport);
    });
  });

  it('records a page that will not render in time, or is gone, as not taken, never as a failure', async () => {
    await onForm(async (page) => {
      expect(await captureScreenshot(page, { ...EVIDENCE, screenshotTimeoutMs: 1 })).toMatchObject({
        taken: false,
      });
      await page.close();
      expect(await captureScreenshot(page, EVIDENCE)).toMatchObject({
        taken: false,
        reason: expect.stringMatching(/screenshot failed/),
      });
    });
  });
});
