/**
 * The form engine: runs a FormDefinition in a page and says what happened, in ledger terms. It knows no
 * site; everything site-specific is in the definition. Captchas are detected and handed to a person,
 * never solved.
 */
import type { Page, Response } from 'playwright-core';
import type { Profile } from '#shared/customer-store';
import type { ErrorClass, SettledStatus } from '#shared/submission-ledger';
import type { FormDefinition, Indicator, SelectorList, Step } from './form-definition.ts';

export interface EngineOutcome {
  status: SettledStatus;
  errorClass?: ErrorClass;
  error?: string;
  /** True if the failure may pass on a retry (site down, timeout); only then is it retried. */
  transient?: boolean;
  /** True once the submit step ran: from then on a failure cannot be retried blindly. */
  submitted: boolean;
  evidence: Record<string, unknown>;
}

export interface EngineHooks {
  /** Called as each step starts, for heartbeat progress. */
  onStep?(index: number, step: Step): void;
  /**
   * Called immediately before the irreversible submit. Returning false aborts (the claim was lost, or the
   * ledger refused the transition), and nothing is sent.
   */
  beforeSubmit(): Promise<boolean>;
}

export interface EngineOptions {
  stepTimeoutMs: number;
  directoryTimeoutMs: number;
}

/** Frames and elements of the captcha services formfleet recognises (and never tries to solve). */
const CAPTCHA_SELECTORS = [
  'iframe[src*="recaptcha"]',
  'iframe[src*="hcaptcha.com"]',
  'iframe[src*="challenges.cloudflare.com"]',
  '.g-recaptcha',
  '.h-captcha',
  '.cf-turnstile',
];

class StepFailure extends Error {
  constructor(
    readonly errorClass: ErrorClass,
    message: string,
    readonly transient: boolean,
  ) {
    super(message);
  }
}

class Aborted extends Error {}

export async function runForm(
  page: Page,
  definition: FormDefinition,
  profile: Profile,
  hooks: EngineHooks,
  options: EngineOptions,
): Promise<EngineOutcome> {
  const stepTimeout = definition.timeouts?.stepMs ?? options.stepTimeoutMs;
  const directoryTimeout = definition.timeouts?.directoryMs ?? options.directoryTimeoutMs;
  page.setDefaultTimeout(stepTimeout);
  page.setDefaultNavigationTimeout(stepTimeout);
  const state = { submitted: false, stepsDone: 0 };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<EngineOutcome>((resolve) => {
    timer = setTimeout(() => {
      resolve({
        status: state.submitted ? 'unknown' : 'failed',
        errorClass: 'timeout',
        error: `directory took longer than ${directoryTimeout} ms`,
        transient: !state.submitted,
        submitted: state.submitted,
        evidence: { stepsDone: state.stepsDone, url: safeUrl(page) },
      });
    }, directoryTimeout);
  });
  try {
    return await Promise.race([drive(page, definition, profile, hooks, state), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function drive(
  page: Page,
  definition: FormDefinition,
  profile: Profile,
  hooks: EngineHooks,
  state: { submitted: boolean; stepsDone: number },
): Promise<EngineOutcome> {
  try {
    for (const [index, step] of definition.steps.entries()) {
      hooks.onStep?.(index, step);
      await runStep(page, definition, profile, step, hooks, state);
      state.stepsDone = index + 1;
      const blocked = await detectBlockers(page, definition);
      if (blocked) return { ...blocked, submitted: state.submitted };
    }
    return await judge(page, definition, state.submitted);
  } catch (err) {
    if (err instanceof Aborted) {
      return { status: 'failed', errorClass: 'internal', error: err.message, submitted: false, evidence: {} };
    }
    const failure = classify(err);
    return {
      // After the submit click, an error means "may or may not have been sent".
      status: state.submitted ? 'unknown' : 'failed',
      errorClass: failure.errorClass,
      error: failure.message,
      transient: failure.transient && !state.submitted,
      submitted: state.submitted,
      evidence: { stepsDone: state.stepsDone, url: safeUrl(page) },
    };
  }
}

async function runStep(
  page: Page,
  definition: FormDefinition,
  profile: Profile,
  step: Step,
  hooks: EngineHooks,
  state: { submitted: boolean },
): Promise<void> {
  switch (step.action) {
    case 'goto': {
      const response = await page.goto(step.url ?? definition.submissionUrl, {
        waitUntil: 'domcontentloaded',
      });
      assertResponseOk(response);
      return;
    }
    case 'fill': {
      const value = profile[step.field];
      if (value === null || value === undefined || value === '') {
        if (step.optional) return;
        throw new StepFailure('internal', `profile has no ${step.field} for a required field`, false);
      }
      const selector = await firstMatch(page, step.selectors, step.optional);
      if (selector) await page.fill(selector, value);
      return;
    }
    case 'select': {
      const value = step.value ?? (step.field ? profile[step.field] : null);
      const selector = await firstMatch(page, step.selectors, step.optional);
      if (!selector || value === null || value === undefined) return;
      try {
        await page.selectOption(selector, { value }, { timeout: 2_000 });
      } catch {
        await page.selectOption(selector, { label: value });
      }
      return;
    }
    case 'check': {
      const selector = await firstMatch(page, step.selectors, step.optional);
      if (selector) await page.check(selector);
      return;
    }
    case 'click': {
      const selector = await firstMatch(page, step.selectors, step.optional);
      if (selector) await page.click(selector);
      return;
    }
    case 'waitFor': {
      if (step.selector) await page.waitForSelector(step.selector, { state: 'visible' });
      else await page.waitForLoadState('domcontentloaded');
      return;
    }
    case 'next': {
      const selector = await firstMatch(page, step.selectors, false);
      if (!selector) return;
      await page.click(selector);
      if (step.waitFor) await page.waitForSelector(step.waitFor, { state: 'visible' });
      else await page.waitForLoadState('domcontentloaded');
      return;
    }
    case 'submit': {
      const selector = await firstMatch(page, step.selectors, false);
      if (!selector) return;
      if (!(await hooks.beforeSubmit())) throw new Aborted('submission refused by the ledger (claim lost)');
      state.submitted = true;
      const navigation = page.waitForNavigation({ waitUntil: 'domcontentloaded' }).catch(() => null);
      await page.click(selector);
      const response = await Promise.race([navigation, page.waitForTimeout(1_500).then(() => null)]);
      if (response && response.status() >= 500) {
        throw new StepFailure(
          'site_down',
          `site answered HTTP ${response.status()} to the submission`,
          false,
        );
      }
      return;
    }
  }
}

/** The first selector that matches an element; waits (within the step timeout) for any of them to appear. */
async function firstMatch(
  page: Page,
  selectors: SelectorList,
  optional = false,
): Promise<string | undefined> {
  const union = selectors.join(', ');
  try {
    await page.waitForSelector(union, { state: 'attached', timeout: optional ? 1_000 : undefined });
  } catch (err) {
    if (optional) return undefined;
    if (isTimeout(err)) {
      throw new StepFailure('selector_drift', `no element matches any of: ${selectors.join(' | ')}`, false);
    }
    throw err;
  }
  for (const selector of selectors) {
    if ((await page.locator(selector).count()) > 0) return selector;
  }
  return undefined;
}

async function detectBlockers(
  page: Page,
  definition: FormDefinition,
): Promise<Omit<EngineOutcome, 'submitted'> | undefined> {
  for (const selector of CAPTCHA_SELECTORS) {
    if ((await page.locator(selector).count()) > 0) {
      return {
        status: 'needs_manual',
        errorClass: 'captcha',
        error: `captcha detected (${selector}); a person must submit this directory`,
        evidence: { captcha: selector, url: safeUrl(page) },
      };
    }
  }
  for (const indicator of definition.loginWall ?? []) {
    if (await matches(page, indicator)) {
      return {
        status: 'skipped',
        errorClass: 'login_required',
        error: 'the directory requires an account login before submitting',
        evidence: { loginWall: indicator, url: safeUrl(page) },
      };
    }
  }
  return undefined;
}

async function judge(page: Page, definition: FormDefinition, submitted: boolean): Promise<EngineOutcome> {
  const union = [...definition.success, ...(definition.failure ?? [])];
  // Give the result page a moment to show one of the indicators.
  const deadline = Date.now() + 5_000;
  for (;;) {
    for (const indicator of definition.failure ?? []) {
      if (await matches(page, indicator)) {
        return {
          status: 'failed',
          errorClass: 'validation_error',
          error: (await indicatorText(page, indicator)) ?? 'the directory refused the submission',
          submitted,
          evidence: { url: safeUrl(page) },
        };
      }
    }
    for (const indicator of definition.success) {
      if (await matches(page, indicator)) {
        return { status: 'submitted', submitted, evidence: { url: safeUrl(page), matched: indicator } };
      }
    }
    if (Date.now() > deadline || union.length === 0) break;
    await page.waitForTimeout(100);
  }
  return {
    status: submitted ? 'unknown' : 'failed',
    errorClass: 'selector_drift',
    error: 'no success or failure indicator matched after submitting',
    submitted,
    evidence: { url: safeUrl(page) },
  };
}

async function matches(page: Page, indicator: Indicator): Promise<boolean> {
  if (indicator.urlPattern && new RegExp(indicator.urlPattern).test(page.url())) return true;
  if (indicator.selector && (await page.locator(indicator.selector).count()) > 0) return true;
  if (indicator.text) {
    const body = await page
      .locator('body')
      .innerText({ timeout: 1_000 })
      .catch(() => '');
    if (body.includes(indicator.text)) return true;
  }
  return false;
}

async function indicatorText(page: Page, indicator: Indicator): Promise<string | undefined> {
  if (indicator.selector) {
    const text = await page
      .locator(indicator.selector)
      .first()
      .innerText({ timeout: 1_000 })
      .catch(() => '');
    if (text.trim()) return text.trim();
  }
  return indicator.text;
}

function assertResponseOk(response: Response | null): void {
  if (response && response.status() >= 500) {
    throw new StepFailure('site_down', `site answered HTTP ${response.status()}`, true);
  }
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || /Timeout \d+ms exceeded/.test(err.message));
}

function classify(err: unknown): { errorClass: ErrorClass; message: string; transient: boolean } {
  if (err instanceof StepFailure)
    return { errorClass: err.errorClass, message: err.message, transient: err.transient };
  const message = err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err);
  if (isTimeout(err)) return { errorClass: 'timeout', message, transient: true };
  if (/net::ERR_(CONNECTION|NAME|ADDRESS|EMPTY_RESPONSE|SSL)|ECONNREFUSED/.test(message)) {
    return { errorClass: 'site_down', message, transient: true };
  }
  return { errorClass: 'internal', message, transient: false };
}

function safeUrl(page: Page): string | undefined {
  try {
    return page.url();
  } catch {
    return undefined;
  }
}
