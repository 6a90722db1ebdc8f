/**
 * The baseline: each fixture form filled by a hand-written playwright-core script, the way one would do it
 * with no formfleet at all (no definition, no ledger, no queue, no politeness). One fresh context per
 * submission, as the worker does, so the comparison is about everything formfleet adds around the browser.
 */
import type { Browser, Page } from 'playwright-core';
import type { Profile } from '#shared/customer-store';

type Script = (page: Page, origin: string, p: Profile) => Promise<void>;

async function fillStandard(page: Page, p: Profile): Promise<void> {
  await page.fill('input[name="business_name"]', p.name);
  await page.fill('input[name="email"]', p.email);
  await page.fill('input[name="phone"]', p.phone ?? '');
  await page.fill('input[name="website"]', p.website ?? '');
  await page.fill('input[name="address"]', p.address ?? '');
  await page.fill('input[name="city"]', p.city ?? '');
  await page.fill('input[name="state"]', p.state ?? '');
  await page.fill('input[name="zip"]', p.zip ?? '');
  await page.fill('textarea[name="description"]', p.description ?? '');
}

export const BARE_SCRIPTS: Readonly<Record<string, Script>> = {
  'simple-form': async (page, origin, p) => {
    await page.goto(`${origin}/add`, { waitUntil: 'domcontentloaded' });
    await fillStandard(page, p);
    await page.click('#submit');
    await page.waitForSelector('#success');
  },
  'multi-step-wizard': async (page, origin, p) => {
    await page.goto(`${origin}/wizard`, { waitUntil: 'domcontentloaded' });
    await page.fill('input[name="business_name"]', p.name);
    await page.fill('input[name="email"]', p.email);
    await page.click('#next');
    await page.waitForSelector('input[name="street"]');
    await page.fill('input[name="street"]', p.address ?? '');
    await page.fill('input[name="town"]', p.city ?? '');
    await page.fill('input[name="state"]', p.state ?? '');
    await page.fill('input[name="zip"]', p.zip ?? '');
    await page.click('#next');
    await page.waitForSelector('textarea[name="about"]');
    await page.fill('textarea[name="about"]', p.description ?? '');
    await page.fill('input[name="phone"]', p.phone ?? '');
    await page.click('#finish');
    await page.waitForSelector('#done');
  },
  'select-check-radio': async (page, origin, p) => {
    await page.goto(`${origin}/join`, { waitUntil: 'domcontentloaded' });
    await page.fill('input[name="business_name"]', p.name);
    await page.fill('input[name="email"]', p.email);
    await page.selectOption('select[name="category"]', { label: p.category ?? '' });
    await page.selectOption('select[name="state"]', p.state ?? '');
    await page.check('input[name="plan"][value="free"]');
    await page.check('input[name="terms"]');
    await page.click('#join');
    await page.waitForSelector('#welcome');
  },
  'redirect-success': async (page, origin, p) => {
    await page.goto(`${origin}/submit`, { waitUntil: 'domcontentloaded' });
    await fillStandard(page, p);
    await page.click('input[type="submit"]');
    await page.waitForURL(/\/thanks\?listing=\d+/);
  },
};

/** One submission the bare way: a fresh context, the script, the context closed. */
export async function bareSubmit(
  browser: Browser,
  variantId: string,
  origin: string,
  profile: Profile,
): Promise<void> {
  const script = BARE_SCRIPTS[variantId];
  if (!script) throw new Error(`no bare script for ${variantId}`);
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    await script(page, origin, profile);
  } finally {
    await context.close();
  }
}

/** Chromium as the worker launches it (same binary, same flags), for the baseline. */
export async function launchBareChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const sparticuz = (await import('@sparticuz/chromium')).default;
  const { chromiumArgs } = await import('#functions/worker/browser-pool');
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? (await sparticuz.executablePath()),
    args: chromiumArgs(sparticuz.args, false),
    headless: true,
  });
}
