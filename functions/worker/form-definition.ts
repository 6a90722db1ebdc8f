/**
 * A directory's "add your business" form as data: the steps that fill it, and how to tell success from
 * failure. The form engine (form-engine.ts) interprets it; nothing about a particular site lives in code.
 */
import { PROFILE_FIELDS, type ProfileField } from '#shared/customer-store';

/** Selectors tried in order; the first that matches wins (fallbacks survive renamed fields). */
export type SelectorList = readonly string[];

export type Step =
  /** Open a URL (default: the directory's submission URL). */
  | { action: 'goto'; url?: string }
  /** Type a profile field into the first matching input. Optional fields with no value are skipped. */
  | { action: 'fill'; field: ProfileField; selectors: SelectorList; optional?: boolean }
  /** Choose an option by value or label: a fixed `value`, or the profile `field`. */
  | { action: 'select'; selectors: SelectorList; field?: ProfileField; value?: string; optional?: boolean }
  /** Tick a checkbox or radio button. */
  | { action: 'check'; selectors: SelectorList; optional?: boolean }
  /** Click something that is not the final submit (open a section, accept cookies). */
  | { action: 'click'; selectors: SelectorList; optional?: boolean }
  /** Wait for a selector to appear, or for the page to navigate. */
  | { action: 'waitFor'; selector?: string; navigation?: boolean }
  /** Go to the next page of a multi-page form and wait for its first element. */
  | { action: 'next'; selectors: SelectorList; waitFor?: string }
  /** The irreversible step: the ledger marks the row 'submitting' immediately before it. */
  | { action: 'submit'; selectors: SelectorList };

export type StepAction = Step['action'];

/** Something on the page after submitting: any one given property must match. */
export interface Indicator {
  selector?: string;
  text?: string;
  /** A regular expression the page URL must match. */
  urlPattern?: string;
}

export interface FormDefinition {
  /** Where the form lives; the first `goto` without a URL opens it. */
  submissionUrl: string;
  steps: readonly Step[];
  /** Any match after submit → 'submitted'. */
  success: readonly Indicator[];
  /** Any match after submit → 'failed' (validation_error), keeping the page's message. */
  failure?: readonly Indicator[];
  /** Any match at any point → 'skipped' (login_required): the site wants an account first. */
  loginWall?: readonly Indicator[];
  timeouts?: { stepMs?: number; directoryMs?: number };
}

export class DefinitionError extends Error {
  override readonly name = 'DefinitionError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

const ACTIONS: readonly StepAction[] = [
  'goto',
  'fill',
  'select',
  'check',
  'click',
  'waitFor',
  'next',
  'submit',
];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkUrl(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0)
    throw new DefinitionError(field, 'must be a URL string');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new DefinitionError(field, `is not a valid URL: ${value}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new DefinitionError(field, 'must be http(s)');
  return value;
}

function checkSelectors(value: unknown, field: string): SelectorList {
  if (!Array.isArray(value) || value.length === 0) {
    throw new DefinitionError(field, 'must be a non-empty list of selectors');
  }
  value.forEach((s, i) => {
    if (typeof s !== 'string' || s.trim() === '')
      throw new DefinitionError(`${field}[${i}]`, 'must be a selector');
  });
  return value as string[];
}

function checkField(value: unknown, field: string): ProfileField {
  if (typeof value !== 'string' || !(PROFILE_FIELDS as readonly string[]).includes(value)) {
    throw new DefinitionError(field, `must be one of ${PROFILE_FIELDS.join(', ')}`);
  }
  return value as ProfileField;
}

function checkIndicators(value: unknown, field: string, required: boolean): Indicator[] {
  if (value === undefined && !required) return [];
  if (!Array.isArray(value) || (required && value.length === 0)) {
    throw new DefinitionError(field, required ? 'must be a non-empty list of indicators' : 'must be a list');
  }
  return value.map((ind, i) => {
    const at = `${field}[${i}]`;
    if (!isRecord(ind)) throw new DefinitionError(at, 'must be an object');
    const { selector, text, urlPattern } = ind;
    if (selector === undefined && text === undefined && urlPattern === undefined) {
      throw new DefinitionError(at, 'needs selector, text or urlPattern');
    }
    if (selector !== undefined && typeof selector !== 'string')
      throw new DefinitionError(`${at}.selector`, 'must be a string');
    if (text !== undefined && typeof text !== 'string')
      throw new DefinitionError(`${at}.text`, 'must be a string');
    if (urlPattern !== undefined) {
      if (typeof urlPattern !== 'string') throw new DefinitionError(`${at}.urlPattern`, 'must be a string');
      try {
        new RegExp(urlPattern);
      } catch {
        throw new DefinitionError(`${at}.urlPattern`, 'is not a valid regular expression');
      }
    }
    return ind as Indicator;
  });
}

function checkStep(raw: unknown, at: string): Step {
  if (!isRecord(raw)) throw new DefinitionError(at, 'must be an object');
  const action = raw.action;
  if (typeof action !== 'string' || !(ACTIONS as readonly string[]).includes(action)) {
    throw new DefinitionError(`${at}.action`, `must be one of ${ACTIONS.join(', ')}`);
  }
  switch (action as StepAction) {
    case 'goto':
      if (raw.url !== undefined) checkUrl(raw.url, `${at}.url`);
      break;
    case 'fill':
      checkField(raw.field, `${at}.field`);
      checkSelectors(raw.selectors, `${at}.selectors`);
      break;
    case 'select':
      checkSelectors(raw.selectors, `${at}.selectors`);
      if (raw.field === undefined && raw.value === undefined)
        throw new DefinitionError(at, 'select needs field or value');
      if (raw.field !== undefined) checkField(raw.field, `${at}.field`);
      if (raw.value !== undefined && typeof raw.value !== 'string')
        throw new DefinitionError(`${at}.value`, 'must be a string');
      break;
    case 'check':
    case 'click':
    case 'submit':
      checkSelectors(raw.selectors, `${at}.selectors`);
      break;
    case 'next':
      checkSelectors(raw.selectors, `${at}.selectors`);
      if (raw.waitFor !== undefined && typeof raw.waitFor !== 'string') {
        throw new DefinitionError(`${at}.waitFor`, 'must be a selector');
      }
      break;
    case 'waitFor':
      if (raw.selector === undefined && raw.navigation !== true) {
        throw new DefinitionError(at, 'waitFor needs selector or navigation: true');
      }
      if (raw.selector !== undefined && typeof raw.selector !== 'string') {
        throw new DefinitionError(`${at}.selector`, 'must be a selector');
      }
      break;
  }
  if (raw.optional !== undefined && typeof raw.optional !== 'boolean') {
    throw new DefinitionError(`${at}.optional`, 'must be a boolean');
  }
  return raw as unknown as Step;
}

/** Validates untrusted JSON into a FormDefinition, or throws DefinitionError naming the offending field. */
export function parseFormDefinition(raw: unknown): FormDefinition {
  if (!isRecord(raw)) throw new DefinitionError('definition', 'must be an object');
  checkUrl(raw.submissionUrl, 'definition.submissionUrl');
  if (!Array.isArray(raw.steps) || raw.steps.length === 0) {
    throw new DefinitionError('definition.steps', 'must be a non-empty list');
  }
  const steps = raw.steps.map((s, i) => checkStep(s, `definition.steps[${i}]`));
  const submits = steps.filter((s) => s.action === 'submit').length;
  if (submits !== 1)
    throw new DefinitionError('definition.steps', `must contain exactly one submit step (found ${submits})`);
  checkIndicators(raw.success, 'definition.success', true);
  checkIndicators(raw.failure, 'definition.failure', false);
  checkIndicators(raw.loginWall, 'definition.loginWall', false);
  if (raw.timeouts !== undefined) {
    if (!isRecord(raw.timeouts)) throw new DefinitionError('definition.timeouts', 'must be an object');
    for (const key of ['stepMs', 'directoryMs'] as const) {
      const v = raw.timeouts[key];
      if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 100 || v > 600_000)) {
        throw new DefinitionError(`definition.timeouts.${key}`, 'must be an integer from 100 to 600000 (ms)');
      }
    }
  }
  return raw as unknown as FormDefinition;
}
