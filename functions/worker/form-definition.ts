/**
 * A directory's "add your business" form as data: the steps that fill it, and how to tell success from
 * failure, a captcha or a login wall. The form engine (form-engine.ts) interprets it; nothing about a
 * particular site lives in code.
 *
 * `parseFormDefinition` is the single validator: the worker, the fixture sites and the API's
 * PUT /v1/directories all go through it. It refuses unknown keys (a typo such as `selecter` would otherwise
 * be silently ignored on a live site) and every refusal names the offending field, e.g.
 * `definition.steps[3].selectors[0]`.
 */
import { PROFILE_FIELDS, type ProfileField } from '#shared/customer-store';

/** Selectors (CSS or Playwright selector syntax) tried in order; the first that matches wins. */
export type SelectorList = readonly string[];

interface StepBase {
  /** Overrides the definition's per-step timeout for this step (ms). */
  timeoutMs?: number;
}

export type Step = StepBase &
  (
    | /** Open a URL (default: the directory's submission URL). `{origin}` expands to the submission URL's origin. */
    { action: 'goto'; url?: string }
    /** Type a profile field into the first matching input. Optional fields with no value are skipped. */
    | { action: 'fill'; field: ProfileField; selectors: SelectorList; optional?: boolean }
    /** Choose an option by value or label: a fixed `value`, or the profile `field`. */
    | { action: 'select'; selectors: SelectorList; field?: ProfileField; value?: string; optional?: boolean }
    /** Tick a checkbox or choose a radio button. */
    | { action: 'check'; selectors: SelectorList; optional?: boolean }
    /** Click something that is not the final submit (open a section, accept cookies). */
    | { action: 'click'; selectors: SelectorList; optional?: boolean }
    /** Wait for a selector to appear, for the page to navigate, or for the URL to match a pattern. */
    | { action: 'waitFor'; selector?: string; navigation?: boolean; urlPattern?: string }
    /** Go to the next page of a multi-page form, then wait for `waitFor` (or the next page's load). */
    | { action: 'next'; selectors: SelectorList; waitFor?: string }
    /** The irreversible step: the ledger marks the row 'submitting' immediately before it. */
    | { action: 'submit'; selectors: SelectorList }
  );

export type StepAction = Step['action'];

/**
 * Something on the page: every property given must hold (selector present; text on the page, or inside
 * the selector's element when both are given; URL matching the pattern).
 */
export interface Indicator {
  selector?: string;
  text?: string;
  /** A regular expression the page URL must match. */
  urlPattern?: string;
}

/**
 * How to find out, without submitting, whether a listing exists: used when a row was left 'submitting'
 * by a crash, or when the result page after submitting was ambiguous. `url` may use `{origin}` and any
 * profile field (`{name}`, `{phone}` ...), URL-encoded when expanded.
 */
export interface Verification {
  url: string;
  /** The listing is there. */
  found: Indicator;
  /** The listing is certainly not there (optional; without it, "not found" is inconclusive). */
  notFound?: Indicator;
  /**
   * Details of a found listing that must be this business's (see VerificationMatch): a listing whose name
   * matched but whose details differ is another business of the same name, so the row goes to a person
   * ('unknown'), never 'submitted'. Needs `found.selector` (each element it matches is one listing).
   */
  match?: readonly VerificationMatch[];
}

/**
 * One detail a found listing must share with the profile: the text (or `attribute`) of the first element
 * matching `selector` inside the listing, compared with the profile `field` after normalising both (phone:
 * digits only; e-mail: lower case; website: no scheme, "www." or trailing slash, lower case; other fields:
 * whitespace collapsed, lower case). A field the profile leaves empty is not compared; a listing on which no
 * named field could be compared does not identify the business.
 */
export interface VerificationMatch {
  field: ProfileField;
  selector: string;
  attribute?: string;
}

export interface FormDefinition {
  /** Where the form lives; the first `goto` without a URL opens it. */
  submissionUrl: string;
  steps: readonly Step[];
  /** Any match after submit → 'submitted'. */
  success: readonly Indicator[];
  /** Any match after a `next` or the submit → 'failed' (validation_error), keeping the page's message. */
  failure?: readonly Indicator[];
  /** Any match at any point → 'skipped' (login_required): the site wants an account first. */
  loginWall?: readonly Indicator[];
  /** Site-specific captcha markers, on top of the built-in reCAPTCHA, hCaptcha and Turnstile detection. */
  captcha?: readonly Indicator[];
  verify?: Verification;
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

/** Bounds that keep one definition from making the engine do unbounded work. */
export const DEFINITION_LIMITS = {
  steps: 100,
  selectorsPerList: 10,
  indicators: 10,
  stringLength: 500,
  urlLength: 2_048,
  minTimeoutMs: 100,
  maxTimeoutMs: 600_000,
} as const;

export const STEP_ACTIONS: readonly StepAction[] = [
  'goto',
  'fill',
  'select',
  'check',
  'click',
  'waitFor',
  'next',
  'submit',
];

/** The keys each action accepts (besides `action` and `timeoutMs`). */
const STEP_KEYS: Record<StepAction, readonly string[]> = {
  goto: ['url'],
  fill: ['field', 'selectors', 'optional'],
  select: ['selectors', 'field', 'value', 'optional'],
  check: ['selectors', 'optional'],
  click: ['selectors', 'optional'],
  waitFor: ['selector', 'navigation', 'urlPattern'],
  next: ['selectors', 'waitFor'],
  submit: ['selectors'],
};

const TOP_KEYS = [
  'submissionUrl',
  'steps',
  'success',
  'failure',
  'loginWall',
  'captcha',
  'verify',
  'timeouts',
];
const INDICATOR_KEYS = ['selector', 'text', 'urlPattern'];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function refuseUnknownKeys(value: Record<string, unknown>, allowed: readonly string[], at: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new DefinitionError(`${at}.${key}`, `is not a known property (allowed: ${allowed.join(', ')})`);
    }
  }
}

function checkString(
  value: unknown,
  field: string,
  what: string,
  max: number = DEFINITION_LIMITS.stringLength,
) {
  if (typeof value !== 'string' || value.trim() === '') throw new DefinitionError(field, `must be ${what}`);
  if (value.length > max) throw new DefinitionError(field, `must be at most ${max} characters`);
  return value;
}

function checkHttpUrl(value: string, field: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new DefinitionError(field, `is not a valid URL: ${value.slice(0, 100)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new DefinitionError(field, 'must be http(s)');
  }
}

function checkUrl(value: unknown, field: string): string {
  const url = checkString(value, field, 'a URL string', DEFINITION_LIMITS.urlLength);
  checkHttpUrl(url, field);
  return url;
}

const PLACEHOLDER = /\{([a-zA-Z]+)\}/g;

/** A URL template: placeholders must be known, and the URL with them expanded must be http(s). */
function checkUrlTemplate(value: unknown, field: string, allowed: readonly string[]): string {
  const template = checkString(value, field, 'a URL string', DEFINITION_LIMITS.urlLength);
  for (const [, name] of template.matchAll(PLACEHOLDER)) {
    if (!allowed.includes(name as string)) {
      throw new DefinitionError(field, `unknown placeholder {${name}} (allowed: ${allowed.join(', ')})`);
    }
  }
  checkHttpUrl(
    template.replace(PLACEHOLDER, (_, name) => (name === 'origin' ? 'http://x.test' : 'x')),
    field,
  );
  return template;
}

function checkSelectors(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new DefinitionError(field, 'must be a non-empty list of selectors');
  }
  if (value.length > DEFINITION_LIMITS.selectorsPerList) {
    throw new DefinitionError(field, `must have at most ${DEFINITION_LIMITS.selectorsPerList} selectors`);
  }
  return value.map((s, i) => checkString(s, `${field}[${i}]`, 'a selector'));
}

function checkField(value: unknown, field: string): ProfileField {
  if (typeof value !== 'string' || !(PROFILE_FIELDS as readonly string[]).includes(value)) {
    throw new DefinitionError(field, `must be one of ${PROFILE_FIELDS.join(', ')}`);
  }
  return value as ProfileField;
}

function checkBoolean(value: unknown, field: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new DefinitionError(field, 'must be a boolean');
  return value;
}

function checkPattern(value: unknown, field: string): string {
  const pattern = checkString(value, field, 'a regular expression');
  try {
    new RegExp(pattern);
  } catch {
    throw new DefinitionError(field, 'is not a valid regular expression');
  }
  return pattern;
}

function checkTimeout(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  const { minTimeoutMs: min, maxTimeoutMs: max } = DEFINITION_LIMITS;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new DefinitionError(field, `must be an integer from ${min} to ${max} (ms)`);
  }
  return value;
}

function checkIndicator(raw: unknown, at: string): Indicator {
  if (!isRecord(raw)) throw new DefinitionError(at, 'must be an object');
  refuseUnknownKeys(raw, INDICATOR_KEYS, at);
  if (raw.selector === undefined && raw.text === undefined && raw.urlPattern === undefined) {
    throw new DefinitionError(at, 'needs selector, text or urlPattern');
  }
  const out: Indicator = {};
  if (raw.selector !== undefined) out.selector = checkString(raw.selector, `${at}.selector`, 'a selector');
  if (raw.text !== undefined) out.text = checkString(raw.text, `${at}.text`, 'non-empty text');
  if (raw.urlPattern !== undefined) out.urlPattern = checkPattern(raw.urlPattern, `${at}.urlPattern`);
  return out;
}

function checkIndicators(value: unknown, field: string, required: boolean): Indicator[] | undefined {
  if (value === undefined && !required) return undefined;
  if (!Array.isArray(value) || (required && value.length === 0)) {
    throw new DefinitionError(field, required ? 'must be a non-empty list of indicators' : 'must be a list');
  }
  if (value.length > DEFINITION_LIMITS.indicators) {
    throw new DefinitionError(field, `must have at most ${DEFINITION_LIMITS.indicators} indicators`);
  }
  return value.map((ind, i) => checkIndicator(ind, `${field}[${i}]`));
}

function checkStep(raw: unknown, at: string): Step {
  if (!isRecord(raw)) throw new DefinitionError(at, 'must be an object');
  const action = raw.action;
  if (typeof action !== 'string' || !(STEP_ACTIONS as readonly string[]).includes(action)) {
    throw new DefinitionError(`${at}.action`, `must be one of ${STEP_ACTIONS.join(', ')}`);
  }
  const stepAction = action as StepAction;
  refuseUnknownKeys(raw, ['action', 'timeoutMs', ...STEP_KEYS[stepAction]], at);
  const timeoutMs = checkTimeout(raw.timeoutMs, `${at}.timeoutMs`);
  const base = timeoutMs === undefined ? {} : { timeoutMs };
  const optional = checkBoolean(raw.optional, `${at}.optional`);
  const opt = optional === undefined ? {} : { optional };
  switch (stepAction) {
    case 'goto':
      return {
        action: 'goto',
        ...(raw.url !== undefined ? { url: checkUrlTemplate(raw.url, `${at}.url`, ['origin']) } : {}),
        ...base,
      };
    case 'fill':
      return {
        action: 'fill',
        field: checkField(raw.field, `${at}.field`),
        selectors: checkSelectors(raw.selectors, `${at}.selectors`),
        ...opt,
        ...base,
      };
    case 'select': {
      const selectors = checkSelectors(raw.selectors, `${at}.selectors`);
      if ((raw.field === undefined) === (raw.value === undefined)) {
        throw new DefinitionError(at, 'select needs exactly one of field or value');
      }
      return {
        action: 'select',
        selectors,
        ...(raw.field !== undefined ? { field: checkField(raw.field, `${at}.field`) } : {}),
        ...(raw.value !== undefined ? { value: checkString(raw.value, `${at}.value`, 'a string') } : {}),
        ...opt,
        ...base,
      };
    }
    case 'check':
    case 'click':
    case 'submit':
      return {
        action: stepAction,
        selectors: checkSelectors(raw.selectors, `${at}.selectors`),
        ...(stepAction === 'submit' ? {} : opt),
        ...base,
      } as Step;
    case 'next':
      return {
        action: 'next',
        selectors: checkSelectors(raw.selectors, `${at}.selectors`),
        ...(raw.waitFor !== undefined
          ? { waitFor: checkString(raw.waitFor, `${at}.waitFor`, 'a selector') }
          : {}),
        ...base,
      };
    case 'waitFor': {
      const given = [raw.selector, raw.urlPattern].filter((v) => v !== undefined).length;
      const navigation = checkBoolean(raw.navigation, `${at}.navigation`);
      if (given + (navigation ? 1 : 0) !== 1) {
        throw new DefinitionError(
          at,
          'waitFor needs exactly one of selector, urlPattern or navigation: true',
        );
      }
      return {
        action: 'waitFor',
        ...(raw.selector !== undefined
          ? { selector: checkString(raw.selector, `${at}.selector`, 'a selector') }
          : {}),
        ...(raw.urlPattern !== undefined
          ? { urlPattern: checkPattern(raw.urlPattern, `${at}.urlPattern`) }
          : {}),
        ...(navigation ? { navigation } : {}),
        ...base,
      };
    }
  }
}

function checkVerification(raw: unknown, at: string): Verification {
  if (!isRecord(raw)) throw new DefinitionError(at, 'must be an object');
  refuseUnknownKeys(raw, ['url', 'found', 'notFound', 'match'], at);
  const found = checkIndicator(raw.found, `${at}.found`);
  const match = raw.match === undefined ? undefined : checkVerificationMatch(raw.match, `${at}.match`);
  if (match && !found.selector) {
    throw new DefinitionError(`${at}.found.selector`, 'is required with match (it finds each listing)');
  }
  return {
    url: checkUrlTemplate(raw.url, `${at}.url`, ['origin', ...PROFILE_FIELDS]),
    found,
    ...(raw.notFound !== undefined ? { notFound: checkIndicator(raw.notFound, `${at}.notFound`) } : {}),
    ...(match ? { match } : {}),
  };
}

/** verify.match: the listing details that identify the business (issue 18). */
function checkVerificationMatch(raw: unknown, at: string): VerificationMatch[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new DefinitionError(at, 'must be a non-empty list');
  if (raw.length > PROFILE_FIELDS.length) {
    throw new DefinitionError(at, `must have at most ${PROFILE_FIELDS.length} entries`);
  }
  const seen = new Set<string>();
  return raw.map((entry, i) => {
    const where = `${at}[${i}]`;
    if (!isRecord(entry)) throw new DefinitionError(where, 'must be an object');
    refuseUnknownKeys(entry, ['field', 'selector', 'attribute'], where);
    const field = checkField(entry.field, `${where}.field`);
    if (seen.has(field)) throw new DefinitionError(`${where}.field`, `names ${field} twice`);
    seen.add(field);
    return {
      field,
      selector: checkString(entry.selector, `${where}.selector`, 'a selector'),
      ...(entry.attribute !== undefined
        ? { attribute: checkString(entry.attribute, `${where}.attribute`, 'an attribute name') }
        : {}),
    };
  });
}

/**
 * Validates untrusted JSON into a FormDefinition (a normalised copy holding only known keys), or throws
 * DefinitionError naming the offending field.
 */
export function parseFormDefinition(raw: unknown): FormDefinition {
  if (!isRecord(raw)) throw new DefinitionError('definition', 'must be an object');
  refuseUnknownKeys(raw, TOP_KEYS, 'definition');
  const submissionUrl = checkUrl(raw.submissionUrl, 'definition.submissionUrl');
  if (!Array.isArray(raw.steps) || raw.steps.length === 0) {
    throw new DefinitionError('definition.steps', 'must be a non-empty list');
  }
  if (raw.steps.length > DEFINITION_LIMITS.steps) {
    throw new DefinitionError('definition.steps', `must have at most ${DEFINITION_LIMITS.steps} steps`);
  }
  const steps = raw.steps.map((s, i) => checkStep(s, `definition.steps[${i}]`));
  const submits = steps.filter((s) => s.action === 'submit').length;
  if (submits !== 1) {
    throw new DefinitionError('definition.steps', `must contain exactly one submit step (found ${submits})`);
  }
  const definition: FormDefinition = {
    submissionUrl,
    steps,
    success: checkIndicators(raw.success, 'definition.success', true) as Indicator[],
  };
  const failure = checkIndicators(raw.failure, 'definition.failure', false);
  const loginWall = checkIndicators(raw.loginWall, 'definition.loginWall', false);
  const captcha = checkIndicators(raw.captcha, 'definition.captcha', false);
  if (failure) definition.failure = failure;
  if (loginWall) definition.loginWall = loginWall;
  if (captcha) definition.captcha = captcha;
  if (raw.verify !== undefined) definition.verify = checkVerification(raw.verify, 'definition.verify');
  if (raw.timeouts !== undefined) {
    if (!isRecord(raw.timeouts)) throw new DefinitionError('definition.timeouts', 'must be an object');
    refuseUnknownKeys(raw.timeouts, ['stepMs', 'directoryMs'], 'definition.timeouts');
    const stepMs = checkTimeout(raw.timeouts.stepMs, 'definition.timeouts.stepMs');
    const directoryMs = checkTimeout(raw.timeouts.directoryMs, 'definition.timeouts.directoryMs');
    definition.timeouts = {
      ...(stepMs !== undefined ? { stepMs } : {}),
      ...(directoryMs !== undefined ? { directoryMs } : {}),
    };
  }
  return definition;
}

/** Expands `{origin}` and profile placeholders (URL-encoded) in a definition URL template. */
export function expandUrlTemplate(
  template: string,
  origin: string,
  profile: Readonly<Partial<Record<ProfileField, string | null>>> = {},
): string {
  return template.replace(PLACEHOLDER, (_, name: string) =>
    name === 'origin' ? origin : encodeURIComponent(profile[name as ProfileField] ?? ''),
  );
}
