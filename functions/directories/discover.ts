/**
 * Discovery: from a URL alone, a draft form definition. The page is opened in the browser it is given (the
 * probe runner's BrowserPool, behind the network guard, holding the site's politeness lease), iframes
 * included; every form control is read with the signals a person would use (page-scan.ts) and matched to
 * profile fields (field-matching.ts, synonyms.ts); the control that sends the form is found whatever it is
 * (button, submit input, link, role=button). A multi-page form is followed: its inner pages are filled with
 * a sample profile and its "next" control clicked, page by page; the control that sends the form is never
 * clicked. The answer is a definition parseFormDefinition accepts, a confidence per step, what was left
 * unmapped, and a screenshot of each page with the matched elements marked.
 */
import type { Frame, Locator, Page } from 'playwright-core';
import {
  type FormDefinition,
  type Indicator,
  parseFormDefinition,
  type Step,
} from '#functions/worker/form-definition';
import { CAPTCHA_FRAME_URL, CAPTCHA_SELECTORS, scope } from '#functions/worker/form-engine';
import { blockedAttempts, checkNavigation, describeRefusal } from '#functions/worker/network-guard';
import type { Profile, ProfileField } from '#shared/customer-store';
import {
  assignFields,
  type CheckChoice,
  type ControlChoice,
  chooseChecks,
  chooseControl,
  type FieldMatch,
  isTextual,
  proposeFailure,
  proposeSuccess,
} from './field-matching.ts';
import {
  markScript,
  PAGE_SCAN_SCRIPT,
  type PageScan,
  type ScannedInput,
  UNMARK_SCRIPT,
} from './page-scan.ts';
import {
  type ProbeScreenshot,
  type ScreenshotPolicy,
  type ScreenshotStore,
  screenshot,
} from './screenshots.ts';
import { FAILURE_SELECTORS, LOGIN_WORDS } from './synonyms.ts';

export interface DiscoveryOptions {
  /** Budget for the page to answer, and for each inner page of a multi-page form to arrive. */
  pageTimeoutMs: number;
  /** How long a page may take to draw its form (script-rendered forms) before it counts as having none. */
  formWaitMs: number;
  /** Most pages of a multi-page form followed. */
  maxPages: number;
  /** A page answering 5xx or 429 is asked again this many times (a flaky site), `retryDelayMs` apart. */
  siteDownRetries: number;
  retryDelayMs: number;
  /** What is typed into inner pages to reach the next one. */
  profile: Profile;
  screenshots: ScreenshotPolicy;
  store: ScreenshotStore;
}

/** Why discovery could not propose a draft. */
export type DiscoveryFailure = 'site_down' | 'timeout' | 'not_found' | 'no_form' | 'blocked_destination';

export class DiscoveryError extends Error {
  override readonly name = 'DiscoveryError';
  constructor(
    readonly reason: DiscoveryFailure,
    message: string,
  ) {
    super(message);
  }
}

/** How sure discovery is of one step of the draft, and why. */
export interface StepConfidence {
  step: number;
  action: Step['action'];
  field?: ProfileField;
  confidence: number;
  because: string[];
}

export interface Discovery {
  /** 'form': a form to fill; 'login_wall': the page wants an account first (jobs skip it, login_required). */
  outcome: 'form' | 'login_wall';
  url: string;
  /** Where the browser ended up (after redirects). */
  finalUrl: string;
  /** The page's title, a name for the directory. */
  title: string;
  definition: FormDefinition;
  /** The least sure of the steps that matter (the fields typed and the submit). */
  confidence: number;
  steps: StepConfidence[];
  /** Inputs no profile field matched (a required one may make the site refuse the listing). */
  unmapped: { selector: string; label: string; required: boolean }[];
  /** A captcha guards the form: jobs hand it to a person (needs_manual). */
  captcha: boolean;
  /** Pages of the form followed (1 for a one-page form). */
  pages: number;
  warnings: string[];
  screenshots: ProbeScreenshot[];
}

/** One document scanned: the page, or an iframe in it (with the selector of its element). */
interface Scanned {
  frame: string | undefined;
  document: Frame;
  scan: PageScan;
}

/** What discovery decided about one page of the form. */
interface PageFinding {
  frame: string | undefined;
  matches: { match: FieldMatch; selectors: string[] }[];
  checks: { check: CheckChoice; selectors: string[] }[];
  control: { choice: ControlChoice; selectors: string[] } | undefined;
  unmapped: Discovery['unmapped'];
  /** The page's text, and which failure containers it shows already. */
  text: string;
  url: string;
  shownFailureSelectors: string[];
  /** The form showed up only after the page had loaded (drawn by script). */
  late: boolean;
  scan: PageScan;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The success indicator of a draft for which none could be proposed: it matches nothing. */
export const NO_SUCCESS_PLACEHOLDER = '#formfleet-name-the-confirmation';

export async function discoverForm(page: Page, url: string, options: DiscoveryOptions): Promise<Discovery> {
  const refused = checkNavigation(url);
  if (refused) throw new DiscoveryError('blocked_destination', `discovery may not open ${refused}`);
  page.setDefaultTimeout(options.pageTimeoutMs);
  await open(page, url, options);
  const warnings: string[] = [];
  const screenshots: ProbeScreenshot[] = [];
  const findings: PageFinding[] = [];
  for (let n = 1; n <= options.maxPages; n++) {
    const finding = await readPage(page, n === 1, options);
    findings.push(finding);
    if (screenshots.length < options.screenshots.perProbe) {
      screenshots.push(await markedScreenshot(page, finding, `page ${n}`, options));
    }
    if (finding.control?.choice.role !== 'next') break;
    if (n === options.maxPages) {
      warnings.push(`the form has more than ${options.maxPages} pages: the draft stops at page ${n}`);
      break;
    }
    await nextPage(page, finding, options);
  }
  const first = findings[0] as PageFinding;
  const last = findings.at(-1) as PageFinding;
  const captcha = await hasCaptcha(page);
  const login = loginWall(url, first);
  if (login) {
    warnings.push(
      'the page asks for an account login before a business can be added: jobs skip this directory (login_required) until someone with an account submits it',
    );
  }
  if (!login && !last.control) {
    throw new DiscoveryError(
      'no_form',
      `no control that sends the form was found on ${last.url} (looked for buttons, submit inputs, links and role=button elements)`,
    );
  }
  if (!login && first.matches.length === 0 && findings.every((f) => f.matches.length === 0)) {
    throw new DiscoveryError('no_form', `no input on ${first.url} matches a profile field`);
  }
  if (captcha)
    warnings.push('a captcha guards the form: jobs hand this directory to a person (needs_manual)');
  if (findings.length > 1) {
    warnings.push(
      `a ${findings.length}-page form: discovery typed a sample profile into pages 1 to ${findings.length - 1} to reach the next (their "next" controls were clicked; the final submit was not)`,
    );
  }
  const { definition, steps } = draft(url, findings, login);
  for (const step of steps) {
    if (step.field && step.confidence < 0.6)
      warnings.push(`step ${step.step + 1} (${step.field}) is a guess: ${step.because.join(', ')}`);
  }
  const unmapped = findings.flatMap((f) => f.unmapped);
  for (const u of unmapped.filter((u) => u.required)) {
    warnings.push(
      `the required input ${u.selector} (“${u.label}”) matches no profile field: the draft leaves it empty, and the site may refuse the listing`,
    );
  }
  if (definition.success.some((i) => i.selector === NO_SUCCESS_PLACEHOLDER)) {
    warnings.push(
      `no success indicator could be proposed (the form's own pages show every confirmation word): the draft's ${NO_SUCCESS_PLACEHOLDER} matches nothing, so jobs end unknown until one is set`,
    );
  }
  const decisive = steps.filter((s) => s.field === 'name' || s.field === 'email' || s.action === 'submit');
  return {
    outcome: login ? 'login_wall' : 'form',
    url,
    finalUrl: first.url,
    title: first.scan.title,
    definition,
    confidence: decisive.length > 0 ? Math.min(...decisive.map((s) => s.confidence)) : 0,
    steps,
    unmapped,
    captcha,
    pages: findings.length,
    warnings,
    screenshots,
  };
}

/** Opens the URL, asking again a few times while the site answers 5xx or 429. */
async function open(page: Page, url: string, options: DiscoveryOptions): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    let status: number | null;
    try {
      const response = await page.goto(url, {
        waitUntil: 'domcontentloaded',
        timeout: options.pageTimeoutMs,
      });
      status = response?.status() ?? null;
    } catch (err) {
      const [blocked] = blockedAttempts(page.context());
      if (blocked) throw new DiscoveryError('blocked_destination', describeRefusal(blocked));
      const message = err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err);
      if (/Timeout \d+ms exceeded/.test(message))
        throw new DiscoveryError('timeout', `the page did not load within ${options.pageTimeoutMs} ms`);
      throw new DiscoveryError('site_down', `the page could not be opened: ${message}`);
    }
    const [blocked] = blockedAttempts(page.context());
    if (blocked) throw new DiscoveryError('blocked_destination', describeRefusal(blocked));
    if (status === 404 || status === 410)
      throw new DiscoveryError('not_found', `the page answered HTTP ${status}`);
    if (status !== null && (status >= 500 || status === 429 || status === 408)) {
      if (attempt < options.siteDownRetries) {
        await sleep(options.retryDelayMs * 2 ** attempt);
        continue;
      }
      throw new DiscoveryError(
        'site_down',
        `the page answered HTTP ${status} ${attempt + 1} times: try again when the site is up`,
      );
    }
    return;
  }
}

/** Scans the page and each iframe in it (one level; captcha frames left out). */
async function scanAll(page: Page): Promise<Scanned[]> {
  const out: Scanned[] = [];
  const main = await scanDocument(page.mainFrame());
  if (main) out.push({ frame: undefined, document: page.mainFrame(), scan: main });
  for (const child of page.mainFrame().childFrames()) {
    if (CAPTCHA_FRAME_URL.test(child.url())) continue;
    const selector = await frameSelector(page, child);
    if (!selector) continue;
    const scan = await scanDocument(child);
    if (scan) out.push({ frame: selector, document: child, scan });
  }
  return out;
}

async function scanDocument(frame: Frame): Promise<PageScan | undefined> {
  try {
    return (await frame.evaluate(PAGE_SCAN_SCRIPT)) as PageScan;
  } catch {
    // A frame navigating or detached while it was read: the next look reads it again.
    return undefined;
  }
}

/** A selector of the iframe element that holds `frame`, unique on the page, or undefined. */
async function frameSelector(page: Page, frame: Frame): Promise<string | undefined> {
  const element = await frame.frameElement().catch(() => null);
  if (!element) return undefined;
  try {
    const candidates: string[] = [];
    const id = await element.getAttribute('id');
    if (id && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(id)) candidates.push(`iframe#${id}`);
    for (const attr of ['name', 'title', 'src']) {
      const value = await element.getAttribute(attr);
      if (value) candidates.push(`iframe[${attr}=${quote(value)}]`);
    }
    for (const candidate of candidates) {
      if ((await page.locator(candidate).count()) === 1) return candidate;
    }
    return undefined;
  } finally {
    await element.dispose().catch(() => {});
  }
}

const quote = (v: string) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** The best form on the page now: the container (a form, or a document's loose inputs) that matches most. */
function bestForm(scans: readonly Scanned[]) {
  let best: { entry: Scanned; formIndex: number; matches: FieldMatch[]; score: number } | undefined;
  for (const entry of scans) {
    const formIndexes = [...new Set(entry.scan.inputs.map((i) => i.form))];
    for (const formIndex of formIndexes) {
      const inputs = entry.scan.inputs.filter((i) => i.form === formIndex);
      const matches = assignFields(inputs);
      const control = chooseControl(entry.scan, formIndex);
      const password = inputs.some((i) => i.type === 'password');
      const score =
        matches.reduce((n, m) => n + m.confidence, 0) + (control ? 0.5 : 0) + (password ? 0.2 : 0);
      if (!best || score > best.score) best = { entry, formIndex, matches, score };
    }
  }
  return best;
}

/**
 * Waits (within formWaitMs) for a form with at least one input to show, scanning the page and its frames; the
 * best one found then is this page of the form.
 */
async function readPage(page: Page, firstPage: boolean, options: DiscoveryOptions): Promise<PageFinding> {
  const until = Date.now() + options.formWaitMs;
  let late = false;
  for (;;) {
    const scans = await scanAll(page);
    const best = bestForm(scans);
    const ready = best?.entry.scan.inputs.some((i) => i.form === best.formIndex);
    if (ready && best) {
      // Give a script-rendered form a moment to finish drawing before reading it for good.
      if (late) {
        await sleep(250);
        const again = bestForm(await scanAll(page));
        if (again) return describePage(page, again, late);
      }
      return describePage(page, best, late);
    }
    if (Date.now() > until) {
      const where = page.url();
      throw new DiscoveryError(
        'no_form',
        `${firstPage ? 'no form' : 'no further page of the form'} showed on ${where} within ${options.formWaitMs} ms`,
      );
    }
    late = true;
    await sleep(200);
  }
}

async function describePage(
  page: Page,
  best: NonNullable<ReturnType<typeof bestForm>>,
  late: boolean,
): Promise<PageFinding> {
  const { entry, formIndex } = best;
  const root = scope(page, entry.frame);
  const inputs = entry.scan.inputs.filter((i) => i.form === formIndex);
  const matches: PageFinding['matches'] = [];
  for (const match of best.matches) {
    const selectors = await unique(root, match.input.selectors);
    if (selectors.length > 0) matches.push({ match, selectors });
  }
  const checks: PageFinding['checks'] = [];
  for (const check of chooseChecks(inputs)) {
    const selectors = await unique(root, checkSelectors(check.input));
    if (selectors.length > 0) checks.push({ check, selectors });
  }
  const choice = chooseControl(entry.scan, formIndex);
  let control: PageFinding['control'];
  if (choice) {
    const b = choice.button;
    const text = b.text.replace(/"/g, '\\"');
    const byText =
      b.text && b.tag !== 'input'
        ? [`${b.role === 'button' && b.tag !== 'button' ? '[role="button"]' : b.tag}:has-text("${text}")`]
        : [];
    const selectors = await unique(root, [...b.selectors, ...byText]);
    if (selectors.length > 0) control = { choice, selectors };
  }
  const used = new Set([
    ...matches.map((m) => m.match.input.index),
    ...checks.map((c) => c.check.input.index),
  ]);
  const unmapped = inputs
    .filter((i) => isTextual(i) && !used.has(i.index))
    .map((i) => ({
      selector: i.selectors[0] ?? `${i.tag}`,
      label: i.label || i.placeholder || i.ariaLabel || i.name || i.id,
      required: i.required,
    }));
  const shownFailureSelectors: string[] = [];
  for (const selector of FAILURE_SELECTORS) {
    if (
      (await root
        .locator(selector)
        .filter({ visible: true })
        .count()
        .catch(() => 0)) > 0
    )
      shownFailureSelectors.push(selector);
  }
  const mainText = entry.frame ? ((await scanDocument(page.mainFrame()))?.text ?? '') : '';
  return {
    frame: entry.frame,
    matches,
    checks,
    control,
    unmapped,
    text: `${entry.scan.text}\n${mainText}`,
    url: page.url(),
    shownFailureSelectors,
    late,
    scan: entry.scan,
  };
}

/** A checkbox or radio option: by name and value first (a radio's name alone is the whole group). */
function checkSelectors(input: ScannedInput): string[] {
  const own =
    input.name && input.value ? [`input[name=${quote(input.name)}][value=${quote(input.value)}]`] : [];
  return [
    ...own,
    ...input.selectors.filter((s) => !(input.type === 'radio' && /^input\[name="[^"]*"\]$/.test(s))),
  ];
}

/** The selectors (at most three) that match exactly one element in `root` now. */
async function unique(root: ReturnType<typeof scope>, selectors: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const selector of selectors) {
    if (out.length === 3) break;
    if (out.includes(selector)) continue;
    const count = await root
      .locator(selector)
      .count()
      .catch(() => 0);
    if (count === 1) out.push(selector);
  }
  return out;
}

/** Types the sample profile into this page, ticks its boxes, clicks "next", and waits for the next page. */
async function nextPage(page: Page, finding: PageFinding, options: DiscoveryOptions): Promise<void> {
  const root = scope(page, finding.frame);
  const at = (selector: string): Locator => root.locator(selector).first();
  for (const { match, selectors } of finding.matches) {
    const value = options.profile[match.field];
    if (!value) continue;
    const target = at(selectors[0] as string);
    if (match.input.tag === 'select') await target.selectOption(value).catch(() => undefined);
    else await target.fill(value);
  }
  for (const { selectors } of finding.checks) await at(selectors[0] as string).check();
  const before = signature(finding.scan);
  const control = finding.control as NonNullable<PageFinding['control']>;
  await at(control.selectors[0] as string).click();
  const until = Date.now() + options.pageTimeoutMs;
  for (;;) {
    await sleep(200);
    const best = bestForm(await scanAll(page));
    const inputs = best?.entry.scan.inputs.filter((i) => i.form === best.formIndex && isTextual(i)) ?? [];
    if (best && inputs.length > 0 && signature(best.entry.scan) !== before) return;
    if (Date.now() > until) {
      throw new DiscoveryError(
        'no_form',
        `clicking “${control.choice.button.text}” on ${finding.url} did not lead to another page of the form within ${options.pageTimeoutMs} ms (did the site refuse the sample profile?)`,
      );
    }
  }
}

const signature = (scan: PageScan) =>
  `${scan.url}|${scan.inputs
    .filter(isTextual)
    .map((i) => `${i.name}#${i.id}`)
    .join(',')}`;

/** A page that wants an account first: a password input, and either no business to fill or a login address. */
function loginWall(asked: string, first: PageFinding): Indicator[] | undefined {
  const password = first.scan.inputs.some((i) => i.type === 'password');
  if (!password) return undefined;
  const landed = pathOf(first.url);
  const redirected = pathOf(asked) !== landed;
  const loginPath = LOGIN_WORDS.some((w) => landed.toLowerCase().includes(w));
  const business = first.matches.some((m) => m.match.field === 'name' && m.match.confidence >= 0.6);
  if (business && !(redirected && loginPath)) return undefined;
  const indicators: Indicator[] = [];
  if (redirected && landed !== '/') indicators.push({ urlPattern: escapeRegex(landed) });
  indicators.push({
    selector: 'form:has(input[type="password"])',
    ...(first.frame ? { frame: first.frame } : {}),
  });
  return indicators;
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

async function hasCaptcha(page: Page): Promise<boolean> {
  if (page.frames().some((f) => CAPTCHA_FRAME_URL.test(f.url()))) return true;
  return (await page.locator(CAPTCHA_SELECTORS.join(', ')).count()) > 0;
}

/** The draft: steps page by page, then indicators, validated by the worker's own parser. */
function draft(
  url: string,
  findings: readonly PageFinding[],
  login: Indicator[] | undefined,
): { definition: FormDefinition; steps: StepConfidence[] } {
  const steps: Step[] = [{ action: 'goto' }];
  const confidence: StepConfidence[] = [
    { step: 0, action: 'goto', confidence: 1, because: ['the URL given'] },
  ];
  const push = (step: Step, c: Omit<StepConfidence, 'step' | 'action'>) => {
    confidence.push({ step: steps.length, action: step.action, ...c });
    steps.push(step);
  };
  const first = findings[0] as PageFinding;
  if (login) {
    // Nothing to fill: the login wall settles it before any step that would.
    const control = first.control;
    push(
      {
        action: 'submit',
        selectors: control?.selectors ?? ['form:has(input[type="password"]) [type="submit"]'],
        ...(first.frame ? { frame: first.frame } : {}),
      },
      { confidence: 0.3, because: ['a login form: the login wall is detected before this step'] },
    );
  } else {
    findings.forEach((finding, n) => {
      const frame = finding.frame ? { frame: finding.frame } : {};
      const firstField = finding.matches[0]?.selectors[0];
      if (n === 0 && firstField && (finding.late || finding.frame)) {
        push(
          { action: 'waitFor', selector: firstField, ...frame },
          {
            confidence: 0.9,
            because: [
              finding.frame ? 'the form is in an iframe' : 'the form is drawn by script after loading',
            ],
          },
        );
      }
      for (const { match, selectors } of finding.matches) {
        const optional = !match.input.required && match.field !== 'name' && match.field !== 'email';
        const step: Step =
          match.input.tag === 'select'
            ? { action: 'select', field: match.field, selectors, ...(optional ? { optional } : {}), ...frame }
            : { action: 'fill', field: match.field, selectors, ...(optional ? { optional } : {}), ...frame };
        push(step, { field: match.field, confidence: match.confidence, because: match.because });
      }
      for (const { check, selectors } of finding.checks) {
        push({ action: 'check', selectors, ...frame }, { confidence: 0.7, because: [check.because] });
      }
      const control = finding.control;
      if (!control) return;
      const following = findings[n + 1];
      if (control.choice.role === 'next' && following) {
        const waitFor = following.matches[0]?.selectors[0];
        push(
          { action: 'next', selectors: control.selectors, ...(waitFor ? { waitFor } : {}), ...frame },
          { confidence: control.choice.confidence, because: control.choice.because },
        );
      } else {
        push(
          { action: 'submit', selectors: control.selectors, ...frame },
          { confidence: control.choice.confidence, because: control.choice.because },
        );
      }
    });
  }
  const pages = findings.map((f) => f.text);
  const frame = findings.at(-1)?.frame;
  // A form in an iframe usually answers in the iframe: each text indicator is looked for there and on the page.
  const framed = <T extends Indicator>(indicators: T[]): T[] =>
    frame
      ? [...indicators.filter((i) => !i.urlPattern).map((i) => ({ ...i, frame })), ...indicators]
      : indicators;
  const success = framed(proposeSuccess(pages, [url, ...findings.map((f) => f.url)]));
  const shown = new Set(findings.flatMap((f) => f.shownFailureSelectors));
  const failure = framed(
    proposeFailure(
      pages,
      FAILURE_SELECTORS.filter((s) => !shown.has(s)),
    ),
  );
  const captchaInputs = findings
    .flatMap((f) => f.scan.inputs.filter((i) => /captcha/i.test(`${i.name} ${i.id}`)).map((i) => ({ i, f })))
    .flatMap(({ i, f }) =>
      i.selectors[0] ? [{ selector: i.selectors[0], ...(f.frame ? { frame: f.frame } : {}) }] : [],
    );
  const raw = {
    submissionUrl: url,
    steps,
    // Never a guess that the form page itself could match: a placeholder that matches nothing, so a job ends
    // 'unknown' (and is looked up) until someone names the confirmation.
    success: success.length > 0 ? success.slice(0, 10) : [{ selector: NO_SUCCESS_PLACEHOLDER }],
    ...(failure.length > 0 ? { failure: failure.slice(0, 10) } : {}),
    ...(login ? { loginWall: login } : {}),
    ...(captchaInputs.length > 0 ? { captcha: captchaInputs.slice(0, 10) } : {}),
  };
  return { definition: parseFormDefinition(raw), steps: confidence };
}

/** A screenshot of the page with this page's matched fields, checks and control marked. */
async function markedScreenshot(
  page: Page,
  finding: PageFinding,
  label: string,
  options: DiscoveryOptions,
): Promise<ProbeScreenshot> {
  const document: Frame =
    (finding.frame
      ? page
          .mainFrame()
          .childFrames()
          .find((f) => f.url() === finding.scan.url)
      : page.mainFrame()) ?? page.mainFrame();
  const marks = [
    ...finding.matches.map(({ match, selectors }) => ({
      selector: cssOnly(selectors),
      label: `${match.field} ${Math.round(match.confidence * 100)}%`,
      color: match.confidence >= 0.6 ? '#1a7f37' : '#bf8700',
    })),
    ...finding.checks.map(({ selectors }) => ({
      selector: cssOnly(selectors),
      label: 'tick',
      color: '#0969da',
    })),
    ...(finding.control
      ? [
          {
            selector: cssOnly(finding.control.selectors),
            label: finding.control.choice.role,
            color: '#cf222e',
          },
        ]
      : []),
  ].filter((m) => m.selector !== '');
  await document.evaluate(markScript(marks)).catch(() => undefined);
  try {
    return await screenshot(page, label, options.screenshots, options.store);
  } finally {
    await document.evaluate(UNMARK_SCRIPT).catch(() => undefined);
  }
}

/** The first selector a browser's own querySelector reads (Playwright's :has-text is not CSS). */
const cssOnly = (selectors: readonly string[]) => selectors.find((s) => !s.includes(':has-text(')) ?? '';
