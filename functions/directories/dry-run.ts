/**
 * A dry run: the directory's definition, run by the worker's own form engine (runForm with
 * stopBeforeSubmit) up to, and never including, the submit. Every step before it runs as in a job (pages
 * loaded, fields typed, boxes ticked, inner pages of a multi-page form moved through); the submit control is
 * located and there the engine stops, before the ledger hook and before any click. The answer is per step:
 * found or missing, the selector that matched (primary or fallback), how long it took; and a screenshot of
 * the filled form.
 */
import type { Page } from 'playwright-core';
import type { CapturePolicy } from '#functions/worker/evidence-capture';
import type { FormDefinition, Step } from '#functions/worker/form-definition';
import {
  type EngineOutcome,
  runForm,
  type StepReport,
  scope,
  type UploadField,
} from '#functions/worker/form-engine';
import type { CategoryMap, SelectOption } from '#shared/categories';
import type { Profile, ProfileField } from '#shared/customer-store';
import type { ErrorClass } from '#shared/submission-ledger';
import type { DryRunOutcome, DryRunStepStatus } from './probe-results.ts';
import { type ProbeScreenshot, type ScreenshotStore, screenshot } from './screenshots.ts';

export type { DryRunOutcome, DryRunStepStatus } from './probe-results.ts';

export interface DryRunOptions {
  stepTimeoutMs: number;
  directoryTimeoutMs: number;
  /** Another go after a transient failure (site down, a timeout), as a job would take. */
  transientRetries: number;
  retryDelayMs: number;
  screenshots: CapturePolicy;
  store: ScreenshotStore;
  /** The directory's category map, so the category step picks as a job's would. */
  categoryMap?: CategoryMap;
}

/**
 * One polite visit to the directory's site with a fresh page (functions/lifecycle/site-visit.ts: the site's
 * politeness lease, a fresh browser context); a dry run makes one per attempt.
 */
export type Visit = <T>(look: (page: Page) => Promise<T>) => Promise<T>;

export interface DryRunStep {
  step: number;
  action: Step['action'];
  field?: ProfileField | UploadField;
  status: DryRunStepStatus;
  /** The selector that matched, and its place in the step's list (0 the primary; more a fallback). */
  selector: string | null;
  selectorIndex: number | null;
  ms: number | null;
  note?: string;
}

export interface DryRun {
  outcome: DryRunOutcome;
  reachedSubmit: boolean;
  /** The first step whose elements are missing (its index in the definition), for 'drift'. */
  driftStep: number | null;
  error: string | null;
  errorClass: ErrorClass | null;
  steps: DryRunStep[];
  /** Attempts taken (more than one after a transient failure). */
  attempts: number;
  ms: number;
  screenshots: ProbeScreenshot[];
  /** The options the form's category select offered (recorded as the directory's "last seen"). */
  categoryOptions?: SelectOption[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs the dry run, one polite visit per attempt. Nothing is submitted: the engine never calls
 * `beforeSubmit` in a dry run, the one given here refuses anyway, and an outcome that says otherwise throws.
 */
export async function dryRun(
  visit: Visit,
  definition: FormDefinition,
  profile: Profile,
  options: DryRunOptions,
): Promise<DryRun> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    const result = await visit(async (page): Promise<DryRun | undefined> => {
      const reports = new Map<number, StepReport>();
      const outcome = await runForm(
        page,
        definition,
        profile,
        {
          onStepEnd: (index, _step, report) => reports.set(index, report),
          beforeSubmit: async () => false,
        },
        {
          stepTimeoutMs: options.stepTimeoutMs,
          directoryTimeoutMs: options.directoryTimeoutMs,
          stopBeforeSubmit: true,
          ...(options.categoryMap ? { categoryMap: options.categoryMap } : {}),
        },
      );
      if (outcome.submitted) throw new Error('a dry run clicked the submit: the engine broke its promise');
      const retry =
        !outcome.reachedSubmit && outcome.transient === true && attempt <= options.transientRetries;
      if (retry) return undefined;
      const steps = await describeSteps(page, definition, profile, outcome, reports);
      const drift = steps.find((s) => s.status === 'missing');
      const screenshots = page.isClosed()
        ? [{ label: 'filled form', taken: false as const, reason: 'the page was closed when time ran out' }]
        : [await screenshot(page, 'filled form', options.screenshots, options.store)];
      return {
        outcome: outcomeOf(outcome, drift !== undefined),
        reachedSubmit: outcome.reachedSubmit === true,
        driftStep: drift?.step ?? null,
        error: outcome.reachedSubmit ? null : (outcome.error ?? null),
        errorClass: outcome.reachedSubmit ? null : (outcome.errorClass ?? null),
        steps,
        attempts: attempt,
        ms: Date.now() - started,
        screenshots,
        ...(outcome.categoryOptions ? { categoryOptions: outcome.categoryOptions } : {}),
      };
    });
    if (result) return result;
    await sleep(options.retryDelayMs * 2 ** (attempt - 1));
  }
}

function outcomeOf(outcome: EngineOutcome, drift: boolean): DryRunOutcome {
  if (outcome.reachedSubmit) return 'ready';
  if (outcome.errorClass === 'site_down' || outcome.errorClass === 'blocked_destination')
    return outcome.errorClass;
  if (drift) return 'drift';
  switch (outcome.errorClass) {
    case 'captcha':
      return 'captcha';
    case 'login_required':
      return 'login_wall';
    case 'timeout':
      return 'timeout';
    case 'validation_error':
      return 'refused';
    default:
      return 'error';
  }
}

/** The selectors a step looks for (the element list, or a waitFor's one selector). */
function selectorsOf(step: Step): readonly string[] {
  if ('selectors' in step) return step.selectors;
  if (step.action === 'waitFor' && step.selector) return [step.selector];
  return [];
}

async function describeSteps(
  page: Page,
  definition: FormDefinition,
  profile: Profile,
  outcome: EngineOutcome,
  reports: ReadonlyMap<number, StepReport>,
): Promise<DryRunStep[]> {
  const stopped = outcome.reachedSubmit ? -1 : Number(outcome.evidence.stepsDone ?? 0);
  const out: DryRunStep[] = [];
  for (const [index, step] of definition.steps.entries()) {
    const field = 'field' in step && step.field ? { field: step.field } : {};
    const base = { step: index, action: step.action, ...field };
    const report = reports.get(index);
    if (report) {
      const selectors = selectorsOf(step);
      const matched = report.matched;
      const skipped = selectors.length > 0 && matched === null && step.action !== 'waitFor';
      const value =
        'field' in step && step.field && step.action !== 'upload' ? profile[step.field] : undefined;
      out.push({
        ...base,
        status: skipped ? 'skipped' : 'ok',
        selector: matched?.selector ?? null,
        selectorIndex: matched?.index ?? null,
        ms: report.ms,
        ...(skipped
          ? {
              note:
                value === null || value === ''
                  ? 'the profile has no value for it'
                  : 'nothing matched (optional)',
            }
          : matched && matched.index > 0
            ? { note: `matched by fallback ${matched.index}: the primary selector no longer matches` }
            : {}),
      });
      continue;
    }
    if (index !== stopped) {
      out.push({ ...base, status: 'not_reached', selector: null, selectorIndex: null, ms: null });
      continue;
    }
    // The step the run stopped at: are its elements on the page at all?
    const selectors = selectorsOf(step);
    const frame = 'frame' in step ? step.frame : undefined;
    const found = page.isClosed() ? undefined : await firstPresent(page, selectors, frame);
    const blocked = outcome.errorClass === 'captcha' || outcome.errorClass === 'login_required';
    const missing = selectors.length > 0 && found === undefined && !blocked && !page.isClosed();
    out.push({
      ...base,
      status: blocked ? 'not_reached' : missing ? 'missing' : 'failed',
      selector: found?.selector ?? null,
      selectorIndex: found?.index ?? null,
      ms: null,
      note: outcome.error ?? 'the step failed',
    });
  }
  return out;
}

async function firstPresent(
  page: Page,
  selectors: readonly string[],
  frame: string | undefined,
): Promise<{ selector: string; index: number } | undefined> {
  const root = scope(page, frame);
  for (const [index, selector] of selectors.entries()) {
    const count = await root
      .locator(selector)
      .count()
      .catch(() => 0);
    if (count > 0) return { selector, index };
  }
  return undefined;
}
