/**
 * A directory's "add your business" form as data: the steps that fill it, and how to tell success from
 * failure, a captcha or a login wall. The form engine (form-engine.ts) interprets it; nothing about a
 * particular site lives in code.
 *
 * `parseFormDefinition` is the single validator: the worker, the fixture sites and the API's
 * PUT /v1/directories all go through it. It validates against DEFINITION_SCHEMAS, the JSON Schema the OpenAPI
 * document publishes (one definition of a definition), so it refuses unknown keys (a typo such as `selecter`
 * would otherwise be silently ignored on a live site) and every refusal names the offending field, e.g.
 * `definition.steps[3].selectors[0]`.
 */
import { PROFILE_FIELDS, type ProfileField } from '#shared/customer-store';
import {
  compileComponent,
  fieldErrors,
  makeAjv,
  ref,
  registerComponents,
  type ValidateFunction,
} from '#shared/json-schema';
import { NON_BLANK } from '#shared/text';

/** Selectors (CSS or Playwright selector syntax) tried in order; the first that matches wins. */
export type SelectorList = readonly string[];

interface StepBase {
  /** Overrides the definition's per-step timeout for this step (ms). */
  timeoutMs?: number;
}

/**
 * Where a step's (or an indicator's) elements live: a selector of the `<iframe>` element that holds them
 * (a form embedded from another page). Without it, the page itself.
 */
interface InFrame {
  frame?: string;
}

export type Step = StepBase &
  (
    | /** Open a URL (default: the directory's submission URL). `{origin}` expands to the submission URL's origin. */
    { action: 'goto'; url?: string }
    /** Type a profile field into the first matching input. Optional fields with no value are skipped. */
    | ({ action: 'fill'; field: ProfileField; selectors: SelectorList; optional?: boolean } & InFrame)
    /** Choose an option by value or label: a fixed `value`, or the profile `field`. */
    | ({
        action: 'select';
        selectors: SelectorList;
        field?: ProfileField;
        value?: string;
        optional?: boolean;
      } & InFrame)
    /** Tick a checkbox or choose a radio button. */
    | ({ action: 'check'; selectors: SelectorList; optional?: boolean } & InFrame)
    /** Click something that is not the final submit (open a section, accept cookies). */
    | ({ action: 'click'; selectors: SelectorList; optional?: boolean } & InFrame)
    /**
     * Set a file input to one of the customer's stored images (`logo`), its bytes checked again before use.
     * A customer without one: the step is skipped when `optional`, else the directory fails saying so.
     */
    | ({ action: 'upload'; field: 'logo'; selectors: SelectorList; optional?: boolean } & InFrame)
    /** Wait for a selector to appear, for the page to navigate, or for the URL to match a pattern. */
    | ({ action: 'waitFor'; selector?: string; navigation?: boolean; urlPattern?: string } & InFrame)
    /** Go to the next page of a multi-page form, then wait for `waitFor` (or the next page's load). */
    | ({ action: 'next'; selectors: SelectorList; waitFor?: string } & InFrame)
    /** The irreversible step: the ledger marks the row 'submitting' immediately before it. */
    | ({ action: 'submit'; selectors: SelectorList } & InFrame)
  );

export type StepAction = Step['action'];

/**
 * Something on the page: every property given must hold (selector present; text on the page, or inside
 * the selector's element when both are given; URL matching the pattern). With `frame`, all three are looked
 * for inside that iframe (its document's text, its URL) instead of the page.
 */
export interface Indicator extends InFrame {
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
  /**
   * Where the listing itself lives, recorded when a lookup finds it (the listing goes 'live' with it): the
   * `attribute` (default href) of the first element matching `selector` inside the found listing, resolved
   * against the page; or, with `pageUrl: true`, the lookup page's own address (a lookup that lands on the
   * listing). Without it, the lookup page's address is recorded. Only http(s) URLs are kept.
   */
  listingUrl?: ListingUrlSource;
}

/** How to read a found listing's URL: exactly one of `selector` (with `attribute`) or `pageUrl: true`. */
export interface ListingUrlSource {
  /** The element inside the found listing (or the page, when found has no selector) that links to it. */
  selector?: string;
  /** The attribute holding the URL. @default 'href' */
  attribute?: string;
  /** The lookup page's own address after it loaded (redirects followed). */
  pageUrl?: boolean;
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
  /**
   * Any match on the listing lookup page (verify.url) at a recheck → the listing is 'rejected': the directory
   * declined it. Looked for before `verify.found` (a page may show a declined listing with its badge), so each
   * must say "declined" specifically. Needs `verify`.
   */
  rejected?: readonly Indicator[];
  /**
   * Which address the form is given for the profile's `email`: the customer's own ('customer', the default),
   * or a per-job alias on the stage's inbound mail domain ('alias'), which formfleet receives, so it can
   * handle the directory's verification mail itself (`verification`).
   */
  emailMode?: EmailMode;
  /**
   * How to recognise the directory's verification mail and confirm it: the listing enters the lifecycle as
   * 'pending_verification', and the mail's link, once visited and confirmed, moves it on. Needs
   * `emailMode: 'alias'` (formfleet must receive the mail).
   */
  verification?: MailVerification;
  timeouts?: { stepMs?: number; directoryMs?: number };
}

export type EmailMode = 'customer' | 'alias';
export const EMAIL_MODES: readonly EmailMode[] = ['customer', 'alias'];

/** A directory's verification mail, and what visiting its link must show. */
export interface MailVerification {
  /** A regular expression the sender's address must match (at least one of `from` and `subject`). */
  from?: string;
  /** A regular expression the subject must match. */
  subject?: string;
  /** A regular expression the verification link must match (the first matching link is visited). */
  link: string;
  /**
   * The host the link must be on (host, or host:port), compared exactly (case-insensitive): a link
   * matching `link` on any other host is refused, never visited.
   */
  linkHost: string;
  /** What the page after visiting the link shows when the directory took the confirmation. */
  confirmed: Indicator;
  /**
   * Where a confirmed listing goes: 'under_review' (the directory still moderates it; rechecks follow it) or
   * 'live' (confirming publishes it; the confirmation page's address is its URL). @default 'under_review'
   */
  confirmedState?: 'under_review' | 'live';
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
  'upload',
  'waitFor',
  'next',
  'submit',
];

// ---------------------------------------------------------------------------------------------------------
// The schema: one typed description of a definition. It is what parseFormDefinition enforces (with Ajv) and
// what the OpenAPI document publishes as the `definition` of PUT /v1/directories/{id} (schemas.ts spreads
// DEFINITION_SCHEMAS into the document's components). Each `...Properties` table is typed against the
// interface above it, so a field added to an interface and not to its table (or the reverse) fails to
// compile: adding a field is one entry here, and both the parser and the document have it.
// ---------------------------------------------------------------------------------------------------------

type JsonSchema = Record<string, unknown>;
/** One schema per property of T (optional or not), no more, no fewer. */
type PropertiesOf<T> = { [K in keyof Required<T>]: JsonSchema };

const ipv4Octet = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
/**
 * A DNS label WHATWG URL parsing accepts, starting with `first`: not `xn--` (a punycode label, which fails to
 * parse unless it is valid punycode; international names are refused rather than half-accepted). Spelled out
 * without a lookahead so every tool generating from the pattern (Schemathesis) keeps the rule.
 */
const label = (first: string, firstNotX: string) => {
  const c = '[A-Za-z0-9_-]';
  return [
    `${first}${c}{0,2}`,
    `${firstNotX}${c}{3,62}`,
    `[Xx][A-MO-Za-mo-z0-9_-]${c}{2,61}`,
    `[Xx][Nn][A-Za-z0-9_]${c}{1,60}`,
    `[Xx][Nn]-[A-Za-z0-9_]${c}{0,59}`,
  ].join('|');
};
/** A host WHATWG URL parsing accepts: a dotted-quad IPv4 address, or names whose last label starts with a letter. */
const HOST = `(?:${ipv4Octet}(?:\\.${ipv4Octet}){3}|(?:(?:${label('[A-Za-z0-9_-]', '[A-WYZa-wyz0-9_-]')})\\.)*(?:${label('[A-Za-z]', '[A-WYZa-wyz]')}))`;
const PORT = '(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?';
/** Anything after the authority, bar controls and spaces (and, in templates, braces outside placeholders). */
const REST = '[^\\u0000-\\u0020\\u007f]';

/**
 * JSON Schema `pattern` of an absolute http(s) URL: a host (dotted-quad IPv4, or names whose last label
 * starts with a letter) and port a browser accepts, then any path, query and fragment without spaces or
 * controls.
 */
export const HTTP_URL_PATTERN = `^https?://${HOST}${PORT}(?:[/?#]${REST}*)?$`;

/**
 * A URL template: `{origin}` (the submission URL's origin) or an absolute http(s) URL, then a path, query
 * and fragment in which `{name}` placeholders from `placeholders` may appear (and no other braces).
 */
function urlTemplate(placeholders: readonly string[]): JsonSchema {
  const rest = `(?:[^\\u0000-\\u0020\\u007f{}]|\\{(?:${placeholders.join('|')})\\})`;
  return {
    type: 'string',
    maxLength: DEFINITION_LIMITS.urlLength,
    pattern: `^(?:\\{origin\\}|https?://${HOST}${PORT})(?:[/?#]${rest}*)?$`,
    'x-message': `must be an http(s) URL or start with {origin}; placeholders: ${placeholders
      .map((p) => `{${p}}`)
      .join(', ')}`,
    description: `An http(s) URL, or one starting with \`{origin}\`; may use ${placeholders
      .map((p) => `\`{${p}}\``)
      .join(', ')} (URL-encoded when expanded).`,
  };
}

/** The schema of an absolute http(s) URL, as definitions and the API's directory fields state it. */
export const HTTP_URL_SCHEMA = {
  type: 'string',
  maxLength: DEFINITION_LIMITS.urlLength,
  pattern: HTTP_URL_PATTERN,
  'x-message': 'must be an http(s) URL',
} as const;
const text = (description: string): JsonSchema => ({
  type: 'string',
  minLength: 1,
  maxLength: DEFINITION_LIMITS.stringLength,
  pattern: NON_BLANK,
  'x-message': 'must not be blank',
  description,
});
const selector = text('A CSS or Playwright selector.');
const selectors: JsonSchema = {
  type: 'array',
  minItems: 1,
  maxItems: DEFINITION_LIMITS.selectorsPerList,
  items: selector,
  description: 'Selectors tried in order; the first that matches wins.',
};
const regex: JsonSchema = {
  type: 'string',
  minLength: 1,
  maxLength: DEFINITION_LIMITS.stringLength,
  format: 'regex',
  pattern: NON_BLANK,
  'x-message': 'must be a valid regular expression',
  description: 'A JavaScript (ECMA-262) regular expression, valid in its strict Unicode syntax too.',
};
const timeoutMs: JsonSchema = {
  type: 'integer',
  minimum: DEFINITION_LIMITS.minTimeoutMs,
  maximum: DEFINITION_LIMITS.maxTimeoutMs,
  description: 'Milliseconds.',
};
const profileField: JsonSchema = { type: 'string', enum: [...PROFILE_FIELDS] };
const optional: JsonSchema = { type: 'boolean', description: 'Skip the step when nothing matches.' };
const frame = text(
  'A CSS selector of the <iframe> element the step’s (or indicator’s) elements live in; default: the page.',
);
const indicators = (minItems: 0 | 1): JsonSchema => ({
  type: 'array',
  ...(minItems > 0 ? { minItems } : {}),
  maxItems: DEFINITION_LIMITS.indicators,
  items: ref('FormIndicator'),
});

/** The properties of each step action besides `action` and `timeoutMs`. */
const STEP_PROPERTIES: {
  [A in StepAction]: PropertiesOf<Omit<Extract<Step, { action: A }>, 'action' | 'timeoutMs'>>;
} = {
  goto: { url: urlTemplate(['origin']) },
  fill: { field: profileField, selectors, optional, frame },
  select: { selectors, field: profileField, value: text('A fixed option value or label.'), optional, frame },
  check: { selectors, optional, frame },
  click: { selectors, optional, frame },
  upload: {
    field: { type: 'string', enum: ['logo'], description: 'The customer’s stored image to upload.' },
    selectors: {
      ...selectors,
      description: 'The file input (`input[type=file]`), selectors tried in order.',
    },
    optional: {
      type: 'boolean',
      description: 'Skip the step when the customer has no such image, or nothing matches.',
    },
    frame,
  },
  waitFor: {
    selector,
    navigation: { type: 'boolean', description: 'true: wait for the page to navigate.' },
    urlPattern: regex,
    frame,
  },
  next: { selectors, waitFor: selector, frame },
  submit: { selectors, frame },
};

/** What else each action requires, and its rules across properties. */
const STEP_RULES: Record<StepAction, JsonSchema> = {
  goto: {},
  fill: { required: ['field', 'selectors'] },
  select: {
    required: ['selectors'],
    oneOf: [{ required: ['field'] }, { required: ['value'] }],
    'x-errors': { oneOf: { message: 'select needs exactly one of field or value' } },
  },
  check: { required: ['selectors'] },
  click: { required: ['selectors'] },
  upload: { required: ['field', 'selectors'] },
  waitFor: {
    oneOf: [
      { required: ['selector'] },
      { required: ['urlPattern'] },
      { required: ['navigation'], properties: { navigation: { const: true } } },
    ],
    'x-errors': {
      oneOf: { message: 'waitFor needs exactly one of selector, urlPattern or navigation: true' },
    },
  },
  next: { required: ['selectors'] },
  submit: { required: ['selectors'] },
};

const INDICATOR_PROPERTIES: PropertiesOf<Indicator> = {
  selector,
  text: text('Text on the page (or inside the selector’s element).'),
  urlPattern: { ...regex, description: 'A JavaScript regular expression the page URL must match.' },
  frame,
};

const VERIFICATION_PROPERTIES: PropertiesOf<Verification> = {
  url: urlTemplate(['origin', ...PROFILE_FIELDS]),
  found: ref('FormIndicator'),
  notFound: ref('FormIndicator'),
  match: {
    type: 'array',
    minItems: 1,
    maxItems: PROFILE_FIELDS.length,
    items: ref('FormVerificationMatch'),
    description:
      'Details of a found listing that must be this business’s (each must hold); needs found.selector, ' +
      'which finds each listing. A same-name listing whose details differ goes to a person, not submitted.',
  },
  listingUrl: ref('FormListingUrl'),
};

const MAIL_VERIFICATION_PROPERTIES: PropertiesOf<MailVerification> = {
  from: { ...regex, description: 'A JavaScript regular expression the sender’s address must match.' },
  subject: { ...regex, description: 'A JavaScript regular expression the subject must match.' },
  link: { ...regex, description: 'A JavaScript regular expression the verification link must match.' },
  linkHost: {
    type: 'string',
    maxLength: 255,
    pattern: `^${HOST}${PORT}$`,
    'x-message': 'must be a host name or address, optionally with :port',
    description:
      'The host (or host:port) the link must be on; a matching link elsewhere is refused unvisited.',
  },
  confirmed: ref('FormIndicator'),
  confirmedState: {
    type: 'string',
    enum: ['under_review', 'live'],
    description: 'Where a confirmed listing goes (default under_review).',
  },
};

const DEFINITION_PROPERTIES: PropertiesOf<FormDefinition> = {
  submissionUrl: {
    ...HTTP_URL_SCHEMA,
    description: 'Where the form lives; the first goto without a url opens it.',
  },
  steps: {
    type: 'array',
    minItems: 1,
    maxItems: DEFINITION_LIMITS.steps,
    items: ref('FormStep'),
    contains: { type: 'object', required: ['action'], properties: { action: { const: 'submit' } } },
    minContains: 1,
    maxContains: 1,
    'x-message': 'must contain exactly one submit step',
  },
  success: { ...indicators(1), description: 'Any match after submit: submitted.' },
  failure: {
    ...indicators(0),
    description: 'Any match after a next or the submit: failed (validation_error).',
  },
  loginWall: { ...indicators(0), description: 'Any match at any point: skipped (login_required).' },
  captcha: {
    ...indicators(0),
    description: 'Site-specific captcha markers, besides the built-in detection.',
  },
  verify: ref('FormVerification'),
  rejected: {
    ...indicators(0),
    description:
      'Any match on the listing lookup page (verify.url) at a recheck: the directory declined the listing ' +
      '(lifecycle rejected). Looked for before verify.found; needs verify.',
  },
  emailMode: {
    type: 'string',
    enum: [...EMAIL_MODES],
    description:
      'The address typed for the profile’s email: the customer’s own (customer, the default) or a per-job ' +
      'alias on the stage’s inbound mail domain (alias), whose mail formfleet receives.',
  },
  verification: ref('FormMailVerification'),
  timeouts: {
    type: 'object',
    additionalProperties: false,
    properties: { stepMs: timeoutMs, directoryMs: timeoutMs } satisfies PropertiesOf<
      NonNullable<FormDefinition['timeouts']>
    >,
  },
};

/** The component schemas of a definition, as the OpenAPI document publishes them. */
export const DEFINITION_SCHEMAS = {
  FormDefinition: {
    type: 'object',
    description:
      'The form definition the worker runs (docs/directory-definitions.md). Besides this schema, each URL must ' +
      'be one a browser opens once its placeholders are expanded (WHATWG URL parsing: for instance an xn-- ' +
      'host label must be valid punycode).',
    required: ['submissionUrl', 'steps', 'success'],
    additionalProperties: false,
    properties: DEFINITION_PROPERTIES,
    // A rejection shows on the listing lookup page, so `rejected` needs `verify`; a verification mail comes
    // to formfleet only at an alias, so `verification` needs `emailMode: 'alias'` (anyOf: every tool reads it).
    allOf: [
      {
        anyOf: [{ not: { required: ['rejected'] } }, { required: ['verify'] }],
        'x-errors': {
          anyOf: {
            property: 'verify',
            message: 'is required with rejected (a rejection shows on its lookup page)',
          },
        },
      },
      {
        anyOf: [
          { not: { required: ['verification'] } },
          { required: ['emailMode'], properties: { emailMode: { const: 'alias' } } },
        ],
        'x-errors': {
          anyOf: {
            property: 'emailMode',
            message: 'must be alias with verification (the mail must come to formfleet)',
          },
        },
      },
    ],
  },
  FormStep: {
    type: 'object',
    description: 'One step; `action` says which kind, and which other properties it takes.',
    required: ['action'],
    properties: { action: { type: 'string', enum: [...STEP_ACTIONS] } },
    discriminator: { propertyName: 'action' },
    oneOf: STEP_ACTIONS.map((action) => ({
      type: 'object',
      title: `${action} step`,
      additionalProperties: false,
      ...STEP_RULES[action],
      required: ['action', ...((STEP_RULES[action].required as string[] | undefined) ?? [])],
      properties: { action: { const: action }, timeoutMs, ...STEP_PROPERTIES[action] },
    })),
    'x-message': `must be one of ${STEP_ACTIONS.join(', ')}`,
  },
  FormIndicator: {
    type: 'object',
    description:
      'Something on the page: every property given must hold (selector present; text on the page, or inside ' +
      'the selector’s element when both are given; URL matching the pattern). With frame, inside that iframe.',
    additionalProperties: false,
    properties: INDICATOR_PROPERTIES,
    // frame alone says where, not what: one of the other three is needed.
    anyOf: [{ required: ['selector'] }, { required: ['text'] }, { required: ['urlPattern'] }],
    'x-message': 'needs selector, text or urlPattern',
  },
  FormVerification: {
    type: 'object',
    description:
      'How to find out, without submitting, whether a listing exists (after a crash mid-submit, or an ' +
      'ambiguous result page).',
    required: ['url', 'found'],
    additionalProperties: false,
    properties: VERIFICATION_PROPERTIES,
    // match finds each listing with found.selector, so it needs one. Said as anyOf (draft 4), not
    // dependentSchemas, so that every JSON Schema tool reading the document (client generators, Schemathesis)
    // understands it.
    anyOf: [
      { not: { required: ['match'] } },
      { properties: { found: { type: 'object', required: ['selector'] } } },
    ],
    'x-errors': {
      anyOf: { property: 'found.selector', message: 'is required with match (it finds each listing)' },
    },
  },
  FormMailVerification: {
    type: 'object',
    description:
      'How to recognise the directory’s verification mail (sender or subject), which link to visit and on ' +
      'which host, and what the page shows once the directory took the confirmation.',
    required: ['link', 'linkHost', 'confirmed'],
    additionalProperties: false,
    properties: MAIL_VERIFICATION_PROPERTIES,
    anyOf: [{ required: ['from'] }, { required: ['subject'] }],
    'x-errors': { anyOf: { message: 'verification needs from or subject (which mail is the one)' } },
  },
  FormListingUrl: {
    type: 'object',
    description:
      'Where a found listing lives: the attribute (default href) of an element inside the listing, or the ' +
      'lookup page’s own address (pageUrl: true).',
    additionalProperties: false,
    properties: {
      selector: text('Finds the link inside the found listing (or on the page, when found has no selector).'),
      attribute: text('The attribute holding the URL (default href).'),
      pageUrl: { type: 'boolean', description: 'true: the lookup page’s own address is the listing’s.' },
    } satisfies PropertiesOf<ListingUrlSource>,
    oneOf: [
      { required: ['selector'] },
      { required: ['pageUrl'], properties: { pageUrl: { const: true } }, not: { required: ['attribute'] } },
    ],
    'x-errors': { oneOf: { message: 'listingUrl needs exactly one of selector or pageUrl: true' } },
  },
  FormVerificationMatch: {
    type: 'object',
    description: 'One detail a found listing must share with the profile (compared after normalising both).',
    required: ['field', 'selector'],
    additionalProperties: false,
    properties: {
      field: profileField,
      selector: text('Finds the detail inside one listing.'),
      attribute: text('Read this attribute of the element instead of its text (href, data-phone ...).'),
    } satisfies PropertiesOf<VerificationMatch>,
  },
} as const;

let validator: ValidateFunction | undefined;

/** The compiled definition schema (compiled on first use, then kept for the container). */
function definitionValidator(): ValidateFunction {
  if (!validator) {
    const ajv = makeAjv();
    registerComponents(ajv, DEFINITION_SCHEMAS);
    validator = compileComponent(ajv, 'FormDefinition');
  }
  return validator;
}

const PLACEHOLDER = /\{([a-zA-Z]+)\}/g;

/** The one rule the schema cannot state: the URL, with placeholders expanded, parses as http(s). */
function checkOpens(template: string, field: string): void {
  let url: URL;
  try {
    url = new URL(template.replace(PLACEHOLDER, (_, name) => (name === 'origin' ? 'http://x.test' : 'x')));
  } catch {
    throw new DefinitionError(field, `is not a valid URL: ${template.slice(0, 100)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new DefinitionError(field, 'must be http(s)');
}

/**
 * Validates untrusted JSON into a FormDefinition (a copy), or throws DefinitionError naming the offending
 * field: first everything the schema says (DEFINITION_SCHEMAS, the most specific problem first), then that
 * every URL opens.
 */
export function parseFormDefinition(raw: unknown): FormDefinition {
  const validate = definitionValidator();
  if (!validate(raw)) {
    const [first] = fieldErrors(validate.errors ?? [], '');
    const field = !first?.field
      ? 'definition'
      : `definition${first.field.startsWith('[') ? '' : '.'}${first.field}`;
    throw new DefinitionError(field, first?.message ?? 'is not valid');
  }
  const definition = structuredClone(raw) as FormDefinition;
  checkOpens(definition.submissionUrl, 'definition.submissionUrl');
  definition.steps.forEach((step, i) => {
    if (step.action === 'goto' && step.url !== undefined) checkOpens(step.url, `definition.steps[${i}].url`);
  });
  if (definition.verify) checkOpens(definition.verify.url, 'definition.verify.url');
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
