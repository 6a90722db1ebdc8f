/**
 * The form engine: runs a FormDefinition in a page and says what happened, in ledger terms. It knows no
 * site; everything site-specific is in the definition. Captchas are detected and handed to a person,
 * never solved.
 *
 * Exactly-once rests on one rule kept here: the submit click happens only after `hooks.beforeSubmit()`
 * said yes (the ledger moved the row prepared → submitting, fenced by the claim), and never after the
 * directory's time budget ran out. Everything after the click is "maybe sent": it is never retried.
 */
import type { FrameLocator, Locator, Page } from 'playwright-core';
import { LIFECYCLE } from '#policy';
import {
  type CategoryChoice,
  type CategoryMap,
  chooseCategoryOption,
  EMPTY_CATEGORY_MAP,
  isChoice,
  resolveCategory,
  type SelectOption,
} from '#shared/categories';
import type { Profile } from '#shared/customer-store';
import type { MatchedIndicator, MatchedKind, ProofCategory } from '#shared/evidence-store';
import type { ErrorClass, SettledStatus } from '#shared/submission-ledger';
import {
  type Capture,
  type CapturePolicy,
  captureScreenshot,
  type TypedValue,
  typedValuesSha256,
} from './evidence-capture.ts';
import type { FormDefinition, Indicator, SelectorList, Step } from './form-definition.ts';
import { expandUrlTemplate } from './form-definition.ts';
import { blockedAttempts, checkNavigation, describeRefusal, refusalEvidence } from './network-guard.ts';

export interface EngineOutcome {
  status: SettledStatus;
  errorClass?: ErrorClass;
  error?: string;
  /** True if the failure may pass on a retry (site down, timeout, browser crash before the submit). */
  transient?: boolean;
  /** True once the submit click was started: from then on a failure is never retried blindly. */
  submitted: boolean;
  /** The browser (not the site) failed: the pool should relaunch it. */
  browserBroken?: boolean;
  evidence: Record<string, unknown>;
  /** With EngineOptions.proof, once the submit click happened: what the click's proof is made of. */
  proof?: EngineProof;
  /** The options of the category select, as the form offered them (kept as the directory's "last seen"). */
  categoryOptions?: SelectOption[];
  /**
   * A dry run (EngineOptions.stopBeforeSubmit) that got as far as its submit control, located it, and stopped
   * there: nothing was sent. `status` then says nothing; the step reports (EngineHooks.onStepEnd) do.
   */
  reachedSubmit?: boolean;
}

/** The proof of one submit click, as the engine saw it (functions/worker/evidence-uploads.ts keeps it). */
export interface EngineProof {
  /** When the engine decided the outcome. */
  decidedAt: string;
  finalUrl: string | null;
  httpStatus: number | null;
  /** The indicator that decided the outcome, if one did. */
  matched: MatchedIndicator | null;
  /** SHA-256 of the canonical JSON of the values typed and selected (evidence-capture.ts). */
  typedSha256: string;
  /** The filled form, taken just before the click. */
  form: Capture;
  /** The option chosen for the customer's category and how (none without a category select). */
  category?: ProofCategory;
  /**
   * Whether the page is still there to take the result screenshot from (not when the directory's time ran
   * out: the engine closed the page). The caller takes it, off the critical path, before closing the context.
   */
  resultPageOpen: boolean;
}

/** What one step found, for a dry run's per-step answer. */
export interface StepReport {
  /** How long the step took. */
  ms: number;
  /**
   * The selector that matched and its place in the step's list (0: the primary; more: a fallback); null when
   * the step matched nothing (an optional step skipped) or has no selectors (goto, waitFor by URL).
   */
  matched: { selector: string; index: number } | null;
}

export interface EngineHooks {
  /** Called as each step starts, for heartbeat progress. */
  onStep?(index: number, step: Step): void;
  /** Called as each step ends without failing (the submit too, in a dry run, once its control is found). */
  onStepEnd?(index: number, step: Step, report: StepReport): void;
  /**
   * Called immediately before the irreversible submit. Returning false aborts (the claim was lost, or the
   * ledger refused the transition), and nothing is sent.
   */
  beforeSubmit(): Promise<boolean>;
}

export interface EngineOptions {
  stepTimeoutMs: number;
  directoryTimeoutMs: number;
  /** Take a proof of the submit click (a screenshot of the filled form, the facts); none without it. */
  proof?: CapturePolicy;
  /** The directory's category map (functions/shared/categories.ts); none: similarity alone, else a person. */
  categoryMap?: CategoryMap;
  /**
   * A dry run: every step up to the submit runs as it would, the submit control is located and the page
   * checked for captchas, login walls and refused destinations, and there it stops: `beforeSubmit` is never
   * called and nothing is clicked. The outcome says `reachedSubmit`.
   */
  stopBeforeSubmit?: boolean;
  /**
   * The customer's images an `upload` step sets, already checked (functions/shared/media.ts); a string says
   * why the stored one cannot be used. Absent: the customer has none.
   */
  files?: Partial<Record<UploadField, EngineFile | string>>;
}

export type UploadField = Extract<Step, { action: 'upload' }>['field'];

/** A file as a file input receives it (Playwright's setInputFiles payload). */
export interface EngineFile {
  name: string;
  mimeType: string;
  buffer: Buffer;
}

/** Frames and elements of the captcha services formfleet recognises (and never tries to solve). */
export const CAPTCHA_SELECTORS = [
  'iframe[src*="recaptcha"]',
  'iframe[title*="reCAPTCHA" i]',
  'iframe[src*="hcaptcha.com"]',
  'iframe[src*="challenges.cloudflare.com"]',
  '.g-recaptcha',
  '.h-captcha',
  '.cf-turnstile',
];
export const CAPTCHA_FRAME_URL =
  /recaptcha\/(api2|enterprise)|hcaptcha\.com|challenges\.cloudflare\.com\/.*turnstile/i;

/** Every built-in captcha selector as one selector list: one browser round trip per check, not seven. */
const ANY_CAPTCHA = CAPTCHA_SELECTORS.join(', ');

/**
 * Steps after which the page may have changed under us (a navigation, the site's script): captchas and
 * login walls are looked for after these, and always right before the submit click. Filling, selecting and
 * ticking do not navigate, and looking after each of them cost a browser round trip per field.
 */
const PAGE_CHANGING_ACTIONS: ReadonlySet<Step['action']> = new Set(['goto', 'next', 'click', 'waitFor']);

/** How long an optional step or an indicator check may look before deciding "not there". */
const QUICK_LOOK_MS = 250;
/** Longest pause between two looks for an outcome; a change on the page ends the pause at once. */
const POLL_MS = 100;

export class StepFailure extends Error {
  override readonly name = 'StepFailure';
  constructor(
    readonly errorClass: ErrorClass,
    message: string,
    readonly transient: boolean,
  ) {
    super(message);
  }
}

class Aborted extends Error {}

/** A dry run reached its submit control and stops there (EngineOptions.stopBeforeSubmit). */
class StoppedBeforeSubmit extends Error {}

/** Another outcome that ends the walk early (captcha, login wall, validation error on an inner page). */
class Settled extends Error {
  constructor(readonly outcome: Omit<EngineOutcome, 'submitted'>) {
    super(outcome.error ?? outcome.status);
  }
}

interface RunState {
  cancelled: boolean;
  submitted: boolean;
  stepsDone: number;
  fallbacks: Record<string, number>;
  lastStatus: number | null;
  /** The values typed and selected, in step order (their hash is part of the proof). */
  typed: TypedValue[];
  /** The filled form's screenshot, taken just before the click (with EngineOptions.proof). */
  formShot?: Promise<Capture>;
  categoryMap: CategoryMap;
  /** The category select's options, and which one was chosen and how (the evidence records both). */
  categoryOptions?: SelectOption[];
  category?: CategoryEvidence;
  /** A dry run: stop at the submit control (EngineOptions.stopBeforeSubmit). */
  dryRun?: boolean;
  /** The files upload steps set (EngineOptions.files). */
  files: Partial<Record<UploadField, EngineFile | string>>;
  /** The iframe (a selector of its element) the current step's elements live in; the page when undefined. */
  frame?: string | undefined;
  /** What the current step matched, for its StepReport. */
  matched?: StepReport['matched'];
  /** When the current step started. */
  stepStarted?: number;
}

/** The evidence of a category choice: the customer's value, the category it names, and the choice. */
type CategoryEvidence = { asked: string; category: string | null } & CategoryChoice;

export async function runForm(
  page: Page,
  definition: FormDefinition,
  profile: Profile,
  hooks: EngineHooks,
  options: EngineOptions,
): Promise<EngineOutcome> {
  const stepTimeout = definition.timeouts?.stepMs ?? options.stepTimeoutMs;
  const directoryTimeout = definition.timeouts?.directoryMs ?? options.directoryTimeoutMs;
  const state: RunState = {
    cancelled: false,
    submitted: false,
    stepsDone: 0,
    fallbacks: {},
    lastStatus: null,
    typed: [],
    categoryMap: options.categoryMap ?? EMPTY_CATEGORY_MAP,
    dryRun: options.stopBeforeSubmit === true,
    files: options.files ?? {},
  };
  page.on('response', (response) => {
    if (response.request().isNavigationRequest() && response.frame() === page.mainFrame()) {
      state.lastStatus = response.status();
    }
  });
  const guarded: EngineHooks = {
    ...hooks,
    // The deadline may fire while the ledger call is in flight: check on both sides of it.
    beforeSubmit: async () => !state.cancelled && (await hooks.beforeSubmit()) && !state.cancelled,
  };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<EngineOutcome>((resolve) => {
    timer = setTimeout(() => {
      state.cancelled = true;
      resolve({
        status: state.submitted ? 'unknown' : 'failed',
        errorClass: 'timeout',
        error: `directory took longer than ${directoryTimeout} ms`,
        transient: !state.submitted,
        submitted: state.submitted,
        evidence: evidence(page, state),
      });
    }, directoryTimeout);
  });
  const driving = drive(page, definition, profile, guarded, state, stepTimeout, options.proof);
  try {
    const outcome = withCategoryOptions(state, withRefusals(page, await Promise.race([driving, deadline])));
    // Decided: the directory's budget no longer applies (the proof below is not part of it).
    clearTimeout(timer);
    return state.submitted && state.formShot
      ? { ...outcome, proof: await proofOf(page, state, outcome) }
      : outcome;
  } finally {
    clearTimeout(timer);
    if (state.cancelled) {
      // Stop the abandoned walk: closing the page fails whatever it was waiting on.
      await page.close().catch(() => {});
      await Promise.race([driving.catch(() => undefined), sleep(5_000)]);
    }
  }
}

/** The click's proof: the facts as the outcome was decided, and the form's screenshot taken before it. */
async function proofOf(page: Page, state: RunState, outcome: EngineOutcome): Promise<EngineProof> {
  return {
    decidedAt: new Date().toISOString(),
    finalUrl: safeUrl(page) ?? null,
    httpStatus: state.lastStatus,
    matched: (outcome.evidence.matched as MatchedIndicator | undefined) ?? null,
    typedSha256: typedValuesSha256(state.typed),
    form: (await state.formShot) ?? { taken: false, reason: 'not taken' },
    resultPageOpen: !state.cancelled && !page.isClosed(),
    ...(state.category ? { category: proofCategory(state.category) } : {}),
  };
}

/** A category choice as the click's proof keeps it: flat, the option's own words. */
function proofCategory(choice: CategoryEvidence): ProofCategory {
  return {
    asked: choice.asked,
    category: choice.category,
    via: choice.via,
    value: choice.option.value,
    label: choice.option.label,
    group: choice.option.group,
    ...(choice.via === 'similarity' ? { score: choice.score } : {}),
  };
}

async function drive(
  page: Page,
  definition: FormDefinition,
  profile: Profile,
  hooks: EngineHooks,
  state: RunState,
  stepTimeout: number,
  proof: CapturePolicy | undefined,
): Promise<EngineOutcome> {
  try {
    for (const [index, step] of definition.steps.entries()) {
      if (state.cancelled) throw new Aborted('directory time budget exhausted');
      hooks.onStep?.(index, step);
      state.frame = 'frame' in step ? step.frame : undefined;
      state.matched = null;
      state.stepStarted = Date.now();
      const timeout = step.timeoutMs ?? stepTimeout;
      page.setDefaultTimeout(timeout);
      page.setDefaultNavigationTimeout(timeout);
      if (step.action === 'submit') {
        await submit(page, definition, step.selectors, hooks, state, timeout, proof);
        state.stepsDone = index + 1;
        return await judge(page, definition, state, timeout);
      }
      await runStep(page, definition, profile, step, index, state, timeout);
      state.stepsDone = index + 1;
      hooks.onStepEnd?.(index, step, stepReport(state));
      assertNothingRefused(page);
      if (PAGE_CHANGING_ACTIONS.has(step.action))
        await checkBlockers(page, definition, step.action === 'next');
    }
    // parseFormDefinition guarantees a submit step; a definition that skipped validation ends here.
    throw new StepFailure('internal', 'the definition has no submit step', false);
  } catch (err) {
    if (err instanceof Settled) return { ...err.outcome, submitted: state.submitted };
    if (err instanceof StoppedBeforeSubmit) {
      const step = definition.steps[state.stepsDone];
      if (step) hooks.onStepEnd?.(state.stepsDone, step, stepReport(state));
      return {
        status: 'skipped',
        submitted: false,
        reachedSubmit: true,
        evidence: evidence(page, state),
      };
    }
    if (err instanceof Aborted) {
      return {
        status: 'failed',
        errorClass: 'internal',
        error: err.message,
        submitted: false,
        evidence: evidence(page, state),
      };
    }
    const failure = classify(err);
    return {
      // After the submit click, an error means "may or may not have been sent".
      status: state.submitted ? 'unknown' : 'failed',
      errorClass: failure.errorClass,
      error: failure.message,
      transient: failure.transient && !state.submitted,
      submitted: state.submitted,
      ...(failure.browserBroken ? { browserBroken: true } : {}),
      evidence: evidence(page, state),
    };
  }
}

async function runStep(
  page: Page,
  definition: FormDefinition,
  profile: Profile,
  step: Exclude<Step, { action: 'submit' }>,
  index: number,
  state: RunState,
  timeout: number,
): Promise<void> {
  switch (step.action) {
    case 'goto': {
      const origin = new URL(definition.submissionUrl).origin;
      const url = step.url ? expandUrlTemplate(step.url, origin) : definition.submissionUrl;
      assertNavigable(url);
      const response = await page.goto(url, { waitUntil: 'domcontentloaded' });
      assertResponseOk(response?.status() ?? null);
      return;
    }
    case 'fill': {
      // A category typed into a text box is its label ("Heating & Air Conditioning"), not its id ("hvac").
      const value = step.field === 'category' ? categoryLabel(profile.category) : profile[step.field];
      if (value === null || value === undefined || value === '') {
        if (step.optional) return;
        throw new StepFailure(
          'internal',
          `the profile has no ${step.field}, which this directory requires`,
          false,
        );
      }
      const target = await locate(page, step.selectors, state, step.optional ?? false, timeout);
      if (target) {
        await orDrift(step.selectors, target, () => target.fill(value));
        state.typed.push({ step: index, field: step.field, value });
      }
      return;
    }
    case 'select': {
      const value = step.value ?? (step.field ? profile[step.field] : null);
      if (value === null || value === undefined || value === '') {
        if (step.optional) return;
        throw new StepFailure(
          'internal',
          `the profile has no ${step.field}, which this directory requires`,
          false,
        );
      }
      const target = await firstMatch(page, step.selectors, state, step.optional ?? false, timeout);
      if (!target) return;
      const options = await readOptions(target);
      if (options) {
        const picked = pickOption(page, step, value, options, state);
        if (picked === undefined) return;
        await target.selectOption({ index: picked });
        state.typed.push({ step: index, ...(step.field ? { field: step.field } : {}), value });
        return;
      }
      // Not a <select> (a custom widget Playwright can still drive): a string matches a value or a label.
      const chosen = await target.selectOption(value).then(
        () => true,
        (err: unknown) => {
          if (step.optional) return false;
          throw isTimeout(err)
            ? new StepFailure(
                'selector_drift',
                `no option "${value}" in ${step.selectors.join(' | ')}`,
                false,
              )
            : err;
        },
      );
      if (chosen) state.typed.push({ step: index, ...(step.field ? { field: step.field } : {}), value });
      return;
    }
    case 'check': {
      const target = await locate(page, step.selectors, state, step.optional ?? false, timeout);
      if (target) await orDrift(step.selectors, target, () => target.check());
      return;
    }
    case 'click': {
      const target = await locate(page, step.selectors, state, step.optional ?? false, timeout);
      if (target) await orDrift(step.selectors, target, () => target.click());
      return;
    }
    case 'upload': {
      const file = state.files[step.field];
      if (file === undefined || typeof file === 'string') {
        if (step.optional) return;
        throw new StepFailure(
          'internal',
          file ?? `the profile has no ${step.field}, which this directory requires`,
          false,
        );
      }
      const target = await locate(page, step.selectors, state, step.optional ?? false, timeout);
      if (target) await orDrift(step.selectors, target, () => target.setInputFiles(file));
      return;
    }
    case 'waitFor': {
      if (step.selector)
        await scope(page, state.frame).locator(step.selector).first().waitFor({ state: 'visible' });
      else if (step.urlPattern) await page.waitForURL(new RegExp(step.urlPattern));
      else await page.waitForLoadState('load');
      return;
    }
    case 'next': {
      const target = await firstMatch(page, step.selectors, state, false, timeout);
      if (!target) return;
      const before = page.url();
      await target.click();
      if (step.waitFor) {
        // The next page's first element, or a validation error that keeps us on this page.
        const next = { selector: step.waitFor, ...(step.frame ? { frame: step.frame } : {}) };
        await waitForAny(page, [next, ...(definition.failure ?? [])], timeout);
      } else {
        await page.waitForURL((url) => url.toString() !== before, { waitUntil: 'domcontentloaded' });
      }
      assertResponseOk(state.lastStatus);
      return;
    }
  }
}

async function submit(
  page: Page,
  definition: FormDefinition,
  selectors: SelectorList,
  hooks: EngineHooks,
  state: RunState,
  timeout: number,
  proof: CapturePolicy | undefined,
): Promise<void> {
  // The filled form's screenshot starts now and runs beside the work that comes before the click anyway:
  // the checks below and the ledger's `begin`. Neither changes the page, and the click waits for all of
  // them, so the screenshot shows the form as sent.
  const shot = proof ? captureScreenshot(page, proof) : undefined;
  const target = await firstMatch(page, selectors, state, false, timeout);
  if (!target)
    throw new StepFailure('selector_drift', `no submit button matches ${selectors.join(' | ')}`, false);
  await checkBlockers(page, definition, false);
  // A page that reached for a refused destination is not sent the profile.
  assertNothingRefused(page);
  // A dry run stops here: the control is found and the page checked, and the ledger is never asked.
  if (state.dryRun) {
    await shot;
    throw new StoppedBeforeSubmit();
  }
  const [, allowed] = await Promise.all([shot, hooks.beforeSubmit()]);
  if (shot) state.formShot = shot;
  // The directory's deadline may have fired while the screenshot finished after `begin`: looked at again
  // with nothing awaited between this check and the click (a row begun and not clicked is reverted).
  if (!allowed || state.cancelled)
    throw new Aborted('submission refused by the ledger (claim lost or cancelled)');
  state.submitted = true;
  await target.click({ noWaitAfter: true });
}

/** After the submit: wait (within the step timeout) for a failure, success or captcha to show. */
async function judge(
  page: Page,
  definition: FormDefinition,
  state: RunState,
  timeout: number,
): Promise<EngineOutcome> {
  const until = Date.now() + timeout;
  const pause = new OutcomeWait(page, [...(definition.failure ?? []), ...definition.success], true);
  const succeeded = async (): Promise<EngineOutcome | undefined> => {
    for (const [index, indicator] of definition.success.entries()) {
      if (await matches(page, indicator)) {
        return {
          status: 'submitted',
          submitted: true,
          evidence: { ...evidence(page, state), matched: matched('success', index) },
        };
      }
    }
    return undefined;
  };
  const captcha = async (): Promise<EngineOutcome | undefined> => {
    const found = await detectCaptcha(page, definition).catch(() => undefined);
    return found ? { ...found, submitted: true } : undefined;
  };
  // Success first: the directory's own confirmation settles it, whatever else the page holds (a captcha for
  // a newsletter box on a thank-you page does not undo a listing). Then a captcha, before failure indicators:
  // "please complete the captcha" is a job for a person, not a validation error. Login walls do not matter
  // once the form was sent. The result page may arrive between two looks, so a lower finding is confirmed by
  // looking again for the higher ones on the page it was found on.
  const look = async (): Promise<EngineOutcome | undefined> => {
    const success = await succeeded();
    if (success) return success;
    const blocked = await captcha();
    if (blocked) return (await succeeded()) ?? blocked;
    for (const [index, indicator] of (definition.failure ?? []).entries()) {
      if (await matches(page, indicator)) {
        return (
          (await succeeded()) ??
          (await captcha()) ?? {
            status: 'failed',
            errorClass: 'validation_error',
            error: (await indicatorText(page, indicator)) ?? 'the directory refused the submission',
            submitted: true,
            evidence: { ...evidence(page, state), matched: matched('failure', index) },
          }
        );
      }
    }
    return undefined;
  };
  // A site that never answers the post leaves the page navigating, and a look at it then waits for a page
  // that never comes: each look is bounded by the step's end, not only the loop (else the whole directory
  // budget went by before the row could be looked up).
  const stepEnd = timer(Math.max(0, until - Date.now()));
  let answered = true;
  try {
    for (;;) {
      const found = await Promise.race([look(), stepEnd.done]);
      if (found === EXPIRED) {
        answered = false;
        break;
      }
      if (found) return found;
      if (state.cancelled || Date.now() > until) break;
      await pause.next(Math.min(POLL_MS, Math.max(0, until - Date.now())));
    }
  } finally {
    stepEnd.dispose();
  }
  if (!answered) {
    return {
      status: 'unknown',
      errorClass: 'timeout',
      error: `the site did not answer the submission within ${timeout} ms; it may or may not have been recorded`,
      submitted: true,
      evidence: evidence(page, state),
    };
  }
  const status = state.lastStatus;
  return {
    status: 'unknown',
    errorClass: status !== null && status >= 500 ? 'site_down' : 'selector_drift',
    error:
      status !== null && status >= 500
        ? `the site answered HTTP ${status} to the submission; it may or may not have been recorded`
        : 'no success or failure indicator matched after submitting',
    submitted: true,
    evidence: evidence(page, state),
  };
}

/**
 * The element a fill, check or click acts on. A single required selector is handed over without a look of
 * its own: the action waits for the element itself (orDrift tells a missing element from a slow one). A
 * single optional selector takes one look and, only if the element is not there yet, the quick wait.
 * Lists of selectors go through firstMatch, which records the fallback used.
 */
async function locate(
  page: Page,
  selectors: SelectorList,
  state: RunState,
  optional: boolean,
  timeout: number,
): Promise<Locator | undefined> {
  const [only] = selectors;
  if (selectors.length === 1 && only !== undefined) {
    const locator = scope(page, state.frame).locator(only).first();
    if (!optional || (await locator.count()) > 0) {
      state.matched = { selector: only, index: 0 };
      return locator;
    }
  }
  return firstMatch(page, selectors, state, optional, timeout);
}

/** Runs an action on a located element; a timeout with no such element on the page is selector drift. */
async function orDrift(selectors: SelectorList, target: Locator, action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (err) {
    if (isTimeout(err) && (await target.count().catch(() => 1)) === 0) {
      throw new StepFailure('selector_drift', `no element matches any of: ${selectors.join(' | ')}`, false);
    }
    throw err;
  }
}

/**
 * The first selector of the list that matches an element, waiting (within the step timeout) for any of
 * them to appear. Optional steps only take a quick look. Records which fallback was used, so selector
 * drift shows in the evidence before the primary selector is gone everywhere.
 */
async function firstMatch(
  page: Page,
  selectors: SelectorList,
  state: RunState,
  optional: boolean,
  timeout: number,
): Promise<Locator | undefined> {
  const root = scope(page, state.frame);
  const locators = selectors.map((s) => root.locator(s));
  const [primary] = locators;
  // The usual case, the primary selector already on the page: one round trip, not a wait and then a count.
  if (locators.length > 1 && primary && (await primary.count()) > 0) {
    state.matched = { selector: selectors[0] as string, index: 0 };
    return primary.first();
  }
  const any = locators.reduce((a, b) => a.or(b));
  try {
    await any.first().waitFor({ state: 'attached', timeout: optional ? QUICK_LOOK_MS : timeout });
  } catch (err) {
    if (optional) return undefined;
    if (isTimeout(err)) {
      throw new StepFailure('selector_drift', `no element matches any of: ${selectors.join(' | ')}`, false);
    }
    throw err;
  }
  // One selector: the wait above already found it.
  if (locators.length === 1) {
    state.matched = { selector: selectors[0] as string, index: 0 };
    return locators[0]?.first();
  }
  for (const [index, locator] of locators.entries()) {
    if ((await locator.count()) > 0) {
      if (index > 0) state.fallbacks[selectors[0] as string] = index;
      state.matched = { selector: selectors[index] as string, index };
      return locator.first();
    }
  }
  return undefined;
}

async function waitForAny(page: Page, indicators: readonly Indicator[], timeout: number): Promise<void> {
  const until = Date.now() + timeout;
  const pause = new OutcomeWait(page, indicators, false);
  for (;;) {
    for (const indicator of indicators) if (await matches(page, indicator)) return;
    if (Date.now() > until) {
      const what = indicators[0]?.selector ?? 'the next page';
      throw new StepFailure('timeout', `timed out after ${timeout} ms waiting for ${what}`, true);
    }
    await pause.next(Math.min(POLL_MS, Math.max(0, until - Date.now())));
  }
}

/**
 * The pause between two looks for an outcome. Instead of sleeping the whole poll interval, it ends as soon
 * as one of the indicators may have appeared (Playwright's own waits on their selectors, URL patterns and
 * texts, and the captcha selectors when asked), so a success page is judged within milliseconds of
 * arriving. The waits only wake the caller, which then checks the indicators exactly; a wake-up that
 * turns out to be a false alarm (the waits are looser than `matches`) switches this back to plain sleeps,
 * so it can never spin.
 */
class OutcomeWait {
  private wakeable = true;

  constructor(
    private readonly page: Page,
    private readonly indicators: readonly Indicator[],
    private readonly captcha: boolean,
  ) {}

  async next(ms: number): Promise<void> {
    if (!this.wakeable || ms <= 0) {
      await sleep(ms);
      return;
    }
    const woke = await Promise.race([
      sleep(ms).then(() => false),
      ...this.waits(ms).map((wait) =>
        // A wait that fails (timeout, closed page) never wakes anyone: the sleep decides then.
        wait.then(
          () => true,
          () => new Promise<boolean>(() => {}),
        ),
      ),
    ]);
    // The caller looks now; if it finds nothing, this was a false alarm and later pauses just sleep.
    if (woke) this.wakeable = false;
  }

  /** One Playwright wait per indicator, each bounded by `ms`. */
  private waits(ms: number): Promise<unknown>[] {
    const { page } = this;
    const options = { state: 'visible' as const, timeout: ms };
    const waits: Promise<unknown>[] = [];
    for (const indicator of this.indicators) {
      const root = scope(page, indicator.frame);
      if (indicator.selector) {
        const locator = root.locator(indicator.selector);
        waits.push(
          (indicator.text ? locator.filter({ hasText: indicator.text }) : locator).first().waitFor(options),
        );
      } else if (indicator.text) {
        waits.push(root.getByText(indicator.text).first().waitFor(options));
      } else if (indicator.urlPattern && !indicator.frame) {
        const pattern = new RegExp(indicator.urlPattern);
        waits.push(page.waitForURL(pattern, { timeout: ms, waitUntil: 'commit' }));
      }
    }
    if (this.captcha)
      waits.push(page.locator(ANY_CAPTCHA).first().waitFor({ state: 'attached', timeout: ms }));
    return waits;
  }
}

async function checkBlockers(page: Page, definition: FormDefinition, afterNext: boolean): Promise<void> {
  const blocked = await detectBlockers(page, definition);
  if (blocked) throw new Settled(blocked);
  if (!afterNext) return;
  for (const [index, indicator] of (definition.failure ?? []).entries()) {
    if (await matches(page, indicator)) {
      throw new Settled({
        status: 'failed',
        errorClass: 'validation_error',
        error: (await indicatorText(page, indicator)) ?? 'the directory refused a page of the form',
        evidence: { url: safeUrl(page), matched: matched('failure', index) },
      });
    }
  }
}

async function detectBlockers(
  page: Page,
  definition: FormDefinition,
): Promise<Omit<EngineOutcome, 'submitted'> | undefined> {
  const captcha = await detectCaptcha(page, definition);
  if (captcha) return captcha;
  for (const [index, indicator] of (definition.loginWall ?? []).entries()) {
    if (await matches(page, indicator)) return loginWall(page, indicator, index);
  }
  return undefined;
}

/** A captcha on the page (a known service's frame or widget, or the definition's own indicators). */
async function detectCaptcha(
  page: Page,
  definition: FormDefinition,
): Promise<Omit<EngineOutcome, 'submitted'> | undefined> {
  const captchaFrame = page.frames().find((f) => CAPTCHA_FRAME_URL.test(f.url()));
  let captcha: string | undefined = captchaFrame ? `frame ${new URL(captchaFrame.url()).host}` : undefined;
  if (!captcha && (await page.locator(ANY_CAPTCHA).count()) > 0) {
    // Rare: name the selector that matched, for the evidence.
    for (const selector of CAPTCHA_SELECTORS) {
      if ((await page.locator(selector).count()) > 0) {
        captcha = selector;
        break;
      }
    }
    captcha ??= ANY_CAPTCHA;
  }
  // A built-in detection has no index in the definition; the definition's own indicators do.
  let index: number | null = null;
  for (const [i, indicator] of (definition.captcha ?? []).entries()) {
    if (captcha) break;
    if (await matches(page, indicator)) {
      captcha = JSON.stringify(indicator);
      index = i;
    }
  }
  if (!captcha) return undefined;
  return {
    status: 'needs_manual',
    errorClass: 'captcha',
    error: `captcha detected (${captcha}); a person must submit this directory`,
    evidence: { captcha, url: safeUrl(page), matched: matched('captcha', index) },
  };
}

function loginWall(page: Page, indicator: Indicator, index: number): Omit<EngineOutcome, 'submitted'> {
  return {
    status: 'skipped',
    errorClass: 'login_required',
    error: 'the directory requires an account login before a business can be added',
    evidence: { loginWall: indicator, url: safeUrl(page), matched: matched('loginWall', index) },
  };
}

/** Which indicator decided an outcome, for its evidence and proof: its list in the definition and its index. */
function matched(kind: MatchedKind, index: number | null): MatchedIndicator {
  return { kind, index };
}

/** Every property the indicator gives must hold; elements must be visible. */
export async function matches(page: Page, indicator: Indicator): Promise<boolean> {
  if (indicator.urlPattern) {
    const url = indicator.frame ? await frameUrl(page, indicator.frame) : page.url();
    if (url === undefined || !new RegExp(indicator.urlPattern).test(url)) return false;
  }
  const root = scope(page, indicator.frame);
  if (indicator.selector) {
    let locator = root.locator(indicator.selector).filter({ visible: true });
    if (indicator.text) locator = locator.filter({ hasText: indicator.text });
    return (await locator.count()) > 0;
  }
  if (indicator.text) {
    const body = await root
      .locator('body')
      .innerText({ timeout: QUICK_LOOK_MS })
      .catch(() => '');
    return body.includes(indicator.text);
  }
  return true;
}

async function indicatorText(page: Page, indicator: Indicator): Promise<string | undefined> {
  if (indicator.selector) {
    const text = await scope(page, indicator.frame)
      .locator(indicator.selector)
      .filter({ visible: true })
      .first()
      .innerText({ timeout: QUICK_LOOK_MS })
      .catch(() => '');
    if (text.trim()) return text.trim();
  }
  return indicator.text;
}

function assertResponseOk(status: number | null): void {
  if (status === null || status < 400) return;
  if (status === 401) {
    throw new Settled({
      status: 'skipped',
      errorClass: 'login_required',
      error: 'the directory requires an account login before a business can be added (HTTP 401)',
      evidence: { httpStatus: 401 },
    });
  }
  if (status >= 500 || status === 429 || status === 408) {
    throw new StepFailure('site_down', `the site answered HTTP ${status}`, true);
  }
  if (status === 404 || status === 410) {
    throw new StepFailure(
      'selector_drift',
      `the form is gone (HTTP ${status}); the definition needs updating`,
      false,
    );
  }
  throw new StepFailure('site_down', `the site refused the request (HTTP ${status})`, false);
}

/**
 * What a lookup found: the business's listing ('found'), certainly none ('not_found'), a listing by the
 * looked-up name whose details (verify.match) are another business's ('mismatch'), the directory's word that
 * it declined the listing (the definition's `rejected`), or nothing certain.
 */
export type VerificationResult = 'found' | 'not_found' | 'inconclusive' | 'mismatch' | 'rejected';

/** A lookup's answer: the result, the page looked at, why when uncertain, and the listing's URL when found. */
export interface Verified {
  result: VerificationResult;
  url: string;
  error?: string;
  /** Where the found listing lives (verify.listingUrl; the lookup page's address by default). */
  listingUrl?: string;
}

/** Listings compared at most per lookup (a name shared by more is not this business's to decide). */
const MAX_LISTINGS_COMPARED = 20;

/**
 * Looks the business up on the directory's listing page, without submitting anything. 'rejected' when one of
 * the definition's `rejected` indicators matches (looked for first: a page may show a declined listing);
 * 'found' only when the definition's `found` indicator matches, and, where the definition names details
 * (`match`), a listing carries this business's details (with the listing's URL, verify.listingUrl);
 * 'mismatch' when listings were found but none carries them; 'not_found' only when its `notFound` indicator
 * matches.
 */
export async function verifyListing(
  page: Page,
  definition: FormDefinition,
  profile: Profile,
  timeoutMs: number,
): Promise<Verified> {
  const check = definition.verify;
  if (!check) return { result: 'inconclusive', url: '', error: 'the definition declares no verification' };
  const url = expandUrlTemplate(check.url, new URL(definition.submissionUrl).origin, profile);
  try {
    assertNavigable(url);
    page.setDefaultTimeout(timeoutMs);
    const response = await page.goto(url, { waitUntil: 'domcontentloaded', timeout: timeoutMs });
    assertNothingRefused(page);
    if (response && response.status() >= 500) {
      return { result: 'inconclusive', url, error: `lookup answered HTTP ${response.status()}` };
    }
    const until = Date.now() + timeoutMs;
    for (;;) {
      for (const indicator of definition.rejected ?? []) {
        if (await matches(page, indicator)) {
          return {
            result: 'rejected',
            url,
            error: 'the directory declined the listing (its rejected indicator)',
          };
        }
      }
      if (await matches(page, check.found)) {
        const { listing, ...identified } = check.match
          ? await identify(page, check, profile)
          : { result: 'found' as const, listing: undefined };
        if (identified.result !== 'found') return { ...identified, url };
        const listingUrl = await readListingUrl(page, check, listing);
        return { result: 'found', url, ...(listingUrl ? { listingUrl } : {}) };
      }
      if (check.notFound && (await matches(page, check.notFound))) return { result: 'not_found', url };
      if (Date.now() > until) return { result: 'inconclusive', url, error: 'neither indicator matched' };
      await sleep(POLL_MS);
    }
  } catch (err) {
    return { result: 'inconclusive', url, error: classify(err).message };
  }
}

/** Whether one of the found listings carries the profile's details named by verify.match (and which). */
async function identify(
  page: Page,
  check: NonNullable<FormDefinition['verify']>,
  profile: Profile,
): Promise<{ result: VerificationResult; error?: string; listing?: Locator }> {
  let listings = scope(page, check.found.frame)
    .locator(check.found.selector as string)
    .filter({ visible: true });
  if (check.found.text) listings = listings.filter({ hasText: check.found.text });
  const count = Math.min(await listings.count(), MAX_LISTINGS_COMPARED);
  const differing = new Set<string>();
  let compared = false;
  for (let i = 0; i < count; i++) {
    const listing = listings.nth(i);
    let same = true;
    let any = false;
    for (const m of check.match ?? []) {
      const wanted = profile[m.field];
      if (wanted === null || wanted === undefined || wanted.trim() === '') continue;
      any = true;
      const element = listing.locator(m.selector).first();
      const shown =
        (await element.count()) === 0
          ? null
          : m.attribute
            ? await element.getAttribute(m.attribute, { timeout: QUICK_LOOK_MS })
            : await element.innerText({ timeout: QUICK_LOOK_MS });
      if (shown === null || !sameDetail(m.field, shown, wanted)) {
        same = false;
        differing.add(m.field);
        break;
      }
    }
    compared ||= any;
    if (any && same) return { result: 'found', listing };
  }
  if (!compared) {
    return {
      result: 'inconclusive',
      error: 'a listing was found, but the profile has none of the details to compare',
    };
  }
  return {
    result: 'mismatch',
    error: `a listing by this name was found, but its ${[...differing].join(', ')} differ(s) from the profile: another business?`,
  };
}

/**
 * The found listing's URL, as verify.listingUrl says (the lookup page's address by default): an untrusted
 * page's link, so only an http(s) URL (credentials dropped, resolved against the page) of bounded length.
 */
async function readListingUrl(
  page: Page,
  check: NonNullable<FormDefinition['verify']>,
  listing: Locator | undefined,
): Promise<string | undefined> {
  const source = check.listingUrl;
  if (!source?.selector) return webUrl(page.url(), page.url());
  const scope =
    listing ??
    (check.found.selector ? page.locator(check.found.selector).filter({ visible: true }).first() : page);
  const link = scope.locator(source.selector).first();
  if ((await link.count()) === 0) return undefined;
  const raw = await link
    .getAttribute(source.attribute ?? 'href', { timeout: QUICK_LOOK_MS })
    .catch(() => null);
  return raw ? webUrl(raw, page.url()) : undefined;
}

/** `raw` resolved against `base` if it is an http(s) URL short enough to keep, without credentials. */
function webUrl(raw: string, base: string): string | undefined {
  try {
    const url = new URL(raw.trim(), base);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    url.username = '';
    url.password = '';
    const text = url.toString();
    return text.length <= LIFECYCLE.listingUrlMaxLength ? text : undefined;
  } catch {
    return undefined;
  }
}

/** Two values of one profile field, compared as a directory may reformat them. */
export function sameDetail(field: string, shown: string, wanted: string): boolean {
  const a = normaliseDetail(field, shown);
  const b = normaliseDetail(field, wanted);
  if (a === '' || b === '') return false;
  if (field !== 'phone') return a === b;
  // A directory may drop or add the country code: the shorter number must end the longer one.
  const [short, long] = a.length <= b.length ? [a, b] : [b, a];
  return short.length >= 7 && long.endsWith(short);
}

function normaliseDetail(field: string, value: string): string {
  const v = value.trim().toLowerCase();
  switch (field) {
    case 'phone':
      return v.replace(/\D/g, '');
    case 'email':
      return v;
    case 'website':
      return v
        .replace(/^[a-z][a-z0-9+.-]*:\/\//, '')
        .replace(/^www\./, '')
        .replace(/\/+$/, '');
    default:
      return v.replace(/\s+/g, ' ');
  }
}

/** A definition may only send the browser to http(s) URLs (the parser checks this too; rows may predate it). */
function assertNavigable(url: string): void {
  const refused = checkNavigation(url);
  if (refused) throw new StepFailure('blocked_destination', `the definition asks to open ${refused}`, false);
}

/** Stops the walk at the first destination the network guard refused this page's context. */
function assertNothingRefused(page: Page): void {
  const [first] = blockedAttempts(page.context());
  if (first) throw new StepFailure('blocked_destination', describeRefusal(first), false);
}

/**
 * The outcome once the guard refused the page something: a directory whose page reaches for private
 * addresses or non-web schemes ends 'blocked_destination' (never retried), 'failed' if nothing was sent and
 * 'unknown' after the submit click. Only the directory's own confirmation of the listing stands over it.
 * The refused attempts go into the evidence either way.
 */
function withRefusals(page: Page, outcome: EngineOutcome): EngineOutcome {
  const blocked = blockedAttempts(page.context());
  const [first] = blocked;
  if (!first) return outcome;
  const evidence = { ...outcome.evidence, ...refusalEvidence(blocked) };
  if (outcome.status === 'submitted') return { ...outcome, evidence };
  return {
    ...outcome,
    status: outcome.submitted ? 'unknown' : 'failed',
    errorClass: 'blocked_destination',
    error: describeRefusal(first),
    transient: false,
    evidence,
  };
}

export function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || /Timeout \d+ms exceeded/.test(err.message));
}

const BROWSER_GONE =
  /Target (page, context or browser )?(has been )?closed|Browser has been closed|browser has disconnected|Target crashed|Page crashed|Connection closed/i;

export function classify(err: unknown): {
  errorClass: ErrorClass;
  message: string;
  transient: boolean;
  browserBroken?: boolean;
} {
  if (err instanceof StepFailure)
    return { errorClass: err.errorClass, message: err.message, transient: err.transient };
  const message = err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err);
  if (isTimeout(err)) return { errorClass: 'timeout', message, transient: true };
  // Chromium's own refusal of a redirect to a non-web scheme (file:, chrome:, data:).
  if (/net::ERR_UNSAFE_REDIRECT/.test(message)) {
    return { errorClass: 'blocked_destination', message, transient: false };
  }
  // TUNNEL: an https site the network guard's gate could not reach (its refusals are recorded, not guessed).
  if (/net::ERR_(CONNECTION|NAME|ADDRESS|EMPTY_RESPONSE|SSL|TIMED_OUT|TUNNEL)|ECONNREFUSED/.test(message)) {
    return { errorClass: 'site_down', message, transient: true };
  }
  if (BROWSER_GONE.test(message)) {
    return {
      errorClass: 'internal',
      message: `browser failure: ${message}`,
      transient: true,
      browserBroken: true,
    };
  }
  return { errorClass: 'internal', message, transient: false };
}

/**
 * Where a step's or an indicator's elements are looked for: the page, or the document of the iframe whose
 * element `frame` selects (Playwright's frame locator: it follows the frame as it navigates or is replaced).
 */
export function scope(page: Page, frame: string | undefined): Page | FrameLocator {
  return frame ? page.frameLocator(frame) : page;
}

/** The URL of the document in the iframe `frame` selects, or undefined when there is no such frame (yet). */
async function frameUrl(page: Page, frame: string): Promise<string | undefined> {
  const element = await page
    .locator(frame)
    .first()
    .elementHandle({ timeout: QUICK_LOOK_MS })
    .catch(() => null);
  const content = await element?.contentFrame().catch(() => null);
  await element?.dispose().catch(() => {});
  return content?.url();
}

function stepReport(state: RunState): StepReport {
  return { ms: Date.now() - (state.stepStarted ?? Date.now()), matched: state.matched ?? null };
}

function evidence(page: Page, state: RunState): Record<string, unknown> {
  return {
    stepsDone: state.stepsDone,
    url: safeUrl(page),
    ...(state.lastStatus !== null ? { httpStatus: state.lastStatus } : {}),
    ...(Object.keys(state.fallbacks).length > 0 ? { fallbackSelectors: state.fallbacks } : {}),
    ...(state.category ? { category: state.category } : {}),
  };
}

/** Options kept of one select, and characters of one label or value (the page is a third party's). */
const MAX_OPTIONS = 1_000;
const MAX_OPTION_TEXT = 200;

/** The options of a <select> (value, label, optgroup), or undefined when the element is not one. */
async function readOptions(target: Locator): Promise<SelectOption[] | undefined> {
  const read = await target.evaluate(
    (el, [max, chars]) => {
      if (!(el instanceof HTMLSelectElement)) return null;
      return Array.from(el.options)
        .slice(0, max)
        .map((o) => ({
          value: o.value.slice(0, chars),
          label: (o.label || o.text).trim().replace(/\s+/g, ' ').slice(0, chars),
          group:
            o.parentElement instanceof HTMLOptGroupElement ? o.parentElement.label.slice(0, chars) : null,
        }));
    },
    [MAX_OPTIONS, MAX_OPTION_TEXT] as const,
  );
  return read ?? undefined;
}

/**
 * The index of the option a select step chooses, or undefined for an optional step with none. The category
 * field goes through the directory's category map (functions/shared/categories.ts); any other value must be
 * an option's value or label. No option to choose is a person's decision (needs_manual, category_unmapped or
 * option_unmapped), never selector drift: the element is there.
 */
function pickOption(
  page: Page,
  step: Extract<Step, { action: 'select' }>,
  value: string,
  options: SelectOption[],
  state: RunState,
): number | undefined {
  if (step.field === 'category' && step.value === undefined) {
    state.categoryOptions = options;
    const choice = chooseCategoryOption(value, options, state.categoryMap);
    const category = resolveCategory(value)?.id ?? null;
    if (isChoice(choice)) {
      state.category = { asked: value, category, ...choice };
      return choice.index;
    }
    if (step.optional) return undefined;
    throw new Settled({
      status: 'needs_manual',
      errorClass: 'category_unmapped',
      error: `${choice.reason}; a person must choose the option (or map it: PUT /v1/directories/{id}/categories)`,
      evidence: { ...evidence(page, state), categoryMiss: { asked: value, category, ...choice } },
    });
  }
  const wanted = value.trim();
  const found = options.findIndex((o) => o.value === value || o.label === wanted);
  if (found >= 0 || step.optional) return found >= 0 ? found : undefined;
  throw new Settled({
    status: 'needs_manual',
    errorClass: 'option_unmapped',
    error: `no option "${value}" in ${step.selectors.join(' | ')}; a person must choose it`,
    evidence: {
      ...evidence(page, state),
      optionMiss: { asked: value, ...(step.field ? { field: step.field } : {}), options: options.length },
    },
  });
}

/** How a person writes the customer's category: the taxonomy's label, or the stored text if it names none. */
function categoryLabel(stored: string | null): string | null {
  return stored === null ? null : (resolveCategory(stored)?.label ?? stored);
}

/** The category select's options go out with the outcome, whatever it is, to be kept as last seen. */
function withCategoryOptions(state: RunState, outcome: EngineOutcome): EngineOutcome {
  return state.categoryOptions ? { ...outcome, categoryOptions: state.categoryOptions } : outcome;
}

function safeUrl(page: Page): string | undefined {
  try {
    return page.url();
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const EXPIRED = Symbol('expired');

/** Resolves to EXPIRED after `ms`, unless disposed first. */
function timer(ms: number): { done: Promise<typeof EXPIRED>; dispose(): void } {
  let handle: NodeJS.Timeout | undefined;
  const done = new Promise<typeof EXPIRED>((resolve) => {
    handle = setTimeout(() => resolve(EXPIRED), ms);
  });
  return { done, dispose: () => clearTimeout(handle) };
}
