/**
 * Discovery's judgement, apart from any browser: which profile field a scanned input is for (and how sure),
 * which control sends the form and which only moves to its next page, which checkboxes and radio options to
 * tick, and which success and failure indicators a draft can propose. Pure functions over page-scan.ts's
 * data and synonyms.ts's words, so they are tested on their own (test/unit/discovery-matching.test.ts).
 */
import { PROFILE_FIELDS, type ProfileField } from '#shared/customer-store';
import type { PageScan, ScannedButton, ScannedInput } from './page-scan.ts';
import {
  CONSENT_WORDS,
  FAILURE_WORDS,
  FIELD_WORDS,
  NEXT_WORDS,
  NOT_SUBMIT_WORDS,
  OPT_IN_WORDS,
  PREFERRED_OPTION_WORDS,
  SUBMIT_WORDS,
  SUCCESS_URL_WORDS,
  SUCCESS_WORDS,
} from './synonyms.ts';

/** Text as the word lists are written: lower case, no accents, camelCase and snake_case split, words only. */
export function normalise(text: string): string {
  return text
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/ß/g, 'ss')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

/** Whether `phrase` (normalised) is in `signal` (normalised) as whole words. */
export function hasPhrase(signal: string, phrase: string): boolean {
  return signal !== '' && ` ${signal} `.includes(` ${phrase} `);
}

/**
 * Machine names run words together ("companyname", "telefonnummer"): a phrase of 5 letters or more also
 * matches inside one such token.
 */
function inIdentifier(signal: string, phrase: string): boolean {
  const compact = phrase.replace(/ /g, '');
  if (compact.length < 5) return false;
  return signal.split(' ').some((token) => token.length > compact.length && token.includes(compact));
}

const anyPhrase = (signal: string, phrases: readonly string[]) => phrases.some((p) => hasPhrase(signal, p));

/** Where a signal comes from, and how much a person would trust it. */
const SOURCES = [
  { key: 'label', weight: 1 },
  { key: 'ariaLabel', weight: 1 },
  { key: 'placeholder', weight: 0.9 },
  { key: 'name', weight: 0.85 },
  { key: 'id', weight: 0.75 },
  { key: 'title', weight: 0.7 },
  { key: 'nearby', weight: 0.6 },
] as const;

/** A weak word ("name" for the business name) counts for this much of a strong one. */
const WEAK_FACTOR = 0.45;
/** Below this, an input is left unmapped. */
export const MIN_FIELD_SCORE = 0.35;

export interface FieldScore {
  field: ProfileField;
  score: number;
  /** The signals that decided it, for the operator ("label “Company”", "autocomplete tel"). */
  because: string[];
}

/** How well each profile field fits one input (those that fit at all), best first. */
export function scoreInput(input: ScannedInput): FieldScore[] {
  if (!isTextual(input)) return [];
  const signals = SOURCES.map((s) => ({
    ...s,
    raw: input[s.key],
    text: normalise(input[s.key]),
  })).filter((s) => s.text !== '');
  const scores: FieldScore[] = [];
  for (const field of PROFILE_FIELDS) {
    const words = FIELD_WORDS[field];
    let best = 0;
    const because: string[] = [];
    let agreeing = 0;
    let vetoed = false;
    if (words.autocomplete?.some((token) => input.autocomplete.split(/\s+/).includes(token))) {
      best = 1;
      because.push(`autocomplete ${input.autocomplete}`);
      agreeing += 1;
    }
    if (words.inputType && input.type === words.inputType) {
      best = Math.max(best, 0.95);
      because.push(`type ${input.type}`);
      agreeing += 1;
    }
    for (const signal of signals) {
      if (
        words.not &&
        (anyPhrase(signal.text, words.not) || words.not.some((n) => inIdentifier(signal.text, n)))
      ) {
        // "Your name", "first_name", "email address": a person would not take it for this field.
        if (signal.key !== 'nearby') vetoed = true;
        continue;
      }
      const strong = words.strong.find(
        (p) =>
          hasPhrase(signal.text, p) ||
          ((signal.key === 'name' || signal.key === 'id') && inIdentifier(signal.text, p)),
      );
      const weak = strong ? undefined : words.weak?.find((p) => hasPhrase(signal.text, p));
      const phrase = strong ?? weak;
      if (!phrase) continue;
      // A longer phrase is more specific ("business name" over "name").
      const specificity = Math.min(0.1, 0.05 * (phrase.split(' ').length - 1));
      const value = signal.weight * (strong ? 1 : WEAK_FACTOR) + specificity;
      agreeing += 1;
      because.push(`${signal.key} “${signal.raw.slice(0, 60)}”`);
      best = Math.max(best, value);
    }
    if (best === 0) continue;
    let score = best + Math.min(0.2, 0.1 * (agreeing - 1));
    if (vetoed) score *= 0.3;
    score *= typeFit(input, field);
    if (score > 0) scores.push({ field, score: Math.min(1, round(score)), because });
  }
  return scores.sort((a, b) => b.score - a.score);
}

/** How well an input's kind suits a field: an e-mail input holds only an e-mail address, and so on. */
function typeFit(input: ScannedInput, field: ProfileField): number {
  const typed: Record<string, ProfileField> = { email: 'email', tel: 'phone', url: 'website' };
  const owner = typed[input.type];
  if (owner) return owner === field ? 1 : 0;
  if (input.tag === 'textarea') return field === 'description' ? 1.1 : field === 'address' ? 0.8 : 0.5;
  if (input.tag === 'select') return field === 'category' || field === 'state' ? 1.1 : 0.3;
  if (field === 'description') return 0.7;
  if (input.type === 'number') return field === 'zip' || field === 'phone' ? 1 : 0.3;
  return 1;
}

const round = (n: number) => Math.round(n * 100) / 100;

export interface FieldMatch {
  input: ScannedInput;
  field: ProfileField;
  confidence: number;
  because: string[];
}

/** Each field to at most one input and each input to at most one field, best pairs first. */
export function assignFields(inputs: readonly ScannedInput[]): FieldMatch[] {
  const candidates = inputs.flatMap((input) =>
    scoreInput(input)
      .filter((s) => s.score >= MIN_FIELD_SCORE)
      .map((s) => ({ input, ...s })),
  );
  candidates.sort((a, b) => b.score - a.score || a.input.index - b.input.index);
  const usedFields = new Set<ProfileField>();
  const usedInputs = new Set<number>();
  const matches: FieldMatch[] = [];
  for (const c of candidates) {
    if (usedFields.has(c.field) || usedInputs.has(c.input.index)) continue;
    usedFields.add(c.field);
    usedInputs.add(c.input.index);
    matches.push({ input: c.input, field: c.field, confidence: c.score, because: c.because });
  }
  return matches.sort((a, b) => a.input.index - b.input.index);
}

export type ControlRole = 'submit' | 'next';

export interface ControlChoice {
  button: ScannedButton;
  role: ControlRole;
  confidence: number;
  because: string[];
}

/**
 * The control that sends the form (or, on an inner page of a multi-page form, moves to the next page): a
 * button, a submit input, a link or any element with role=button, judged by its words, its type and whether
 * it belongs to the form. A control that says "next" is taken for a next page only when no control of the
 * form says it sends: discovery never clicks what may be the final submit.
 */
export function chooseControl(scan: PageScan, formIndex: number): ControlChoice | undefined {
  const scored = scan.buttons
    .map((button) => {
      const text = normalise(button.text);
      const because: string[] = [];
      if (anyPhrase(text, NOT_SUBMIT_WORDS) && !anyPhrase(text, SUBMIT_WORDS)) return undefined;
      let submit = 0;
      const typed = button.type === 'submit' || button.type === 'image';
      if (typed) {
        submit += 0.5;
        because.push(`type ${button.type}`);
      } else if (button.role === 'button' || button.tag === 'button') {
        submit += 0.15;
        because.push(button.role === 'button' ? 'role button' : 'a button');
      } else if (button.tag === 'a') {
        submit += 0.05;
      }
      const says = SUBMIT_WORDS.find((w) => hasPhrase(text, w));
      if (says) {
        submit += 0.35;
        because.push(`says “${button.text}”`);
      }
      const next = NEXT_WORDS.find((w) => hasPhrase(text, w));
      if (next) because.push(`says “${button.text}”`);
      if (formIndex >= 0 && button.form === formIndex) {
        submit += 0.25;
        because.push('in the form');
      } else if (formIndex >= 0 && button.form >= 0) {
        // Another form's button (a search box, a newsletter sign-up) sends that form, not this one.
        submit -= 0.5;
      }
      if (button.tag === 'a' && !says && !next) submit -= 0.3;
      return { button, submit: round(submit), next: Boolean(next), says: Boolean(says), because };
    })
    .filter((c): c is NonNullable<typeof c> => c !== undefined);
  const inForm = (c: (typeof scored)[number]) =>
    formIndex < 0 || c.button.form === formIndex || c.button.form < 0;
  const nextOnes = scored.filter((c) => c.next && !c.says && inForm(c));
  const senders = scored.filter(
    (c) => !c.next && inForm(c) && (c.says || c.button.type === 'submit' || c.button.type === 'image'),
  );
  if (nextOnes.length > 0 && senders.length === 0) {
    const best = nextOnes.sort((a, b) => b.submit - a.submit)[0] as (typeof scored)[number];
    return {
      button: best.button,
      role: 'next',
      confidence: Math.min(1, 0.5 + best.submit / 2),
      because: best.because,
    };
  }
  const best = scored
    .filter((c) => !c.next)
    .sort((a, b) => b.submit - a.submit || a.button.index - b.button.index)[0];
  if (!best || best.submit < 0.3) return undefined;
  return {
    button: best.button,
    role: 'submit',
    confidence: Math.min(1, round(best.submit)),
    because: best.because,
  };
}

export interface CheckChoice {
  input: ScannedInput;
  because: string;
}

/**
 * Checkboxes a listing needs (terms, consent: ticked) and one option per radio group with nothing chosen (a
 * free plan over a paid one; the first option of a required group). Marketing opt-ins are never ticked.
 */
export function chooseChecks(inputs: readonly ScannedInput[]): CheckChoice[] {
  const choices: CheckChoice[] = [];
  const describe = (i: ScannedInput) => normalise(`${i.label} ${i.ariaLabel} ${i.name} ${i.id} ${i.nearby}`);
  for (const input of inputs) {
    if (input.type !== 'checkbox' || input.checked) continue;
    const text = describe(input);
    if (anyPhrase(text, OPT_IN_WORDS)) continue;
    if (anyPhrase(text, CONSENT_WORDS))
      choices.push({ input, because: `consent “${input.label || input.name}”` });
    else if (input.required) choices.push({ input, because: 'a required checkbox' });
  }
  const groups = new Map<string, ScannedInput[]>();
  for (const input of inputs) {
    if (input.type !== 'radio' || !input.name) continue;
    groups.set(input.name, [...(groups.get(input.name) ?? []), input]);
  }
  for (const options of groups.values()) {
    if (options.some((o) => o.checked)) continue;
    const preferred = options.find(
      (o) =>
        anyPhrase(describe(o), PREFERRED_OPTION_WORDS) ||
        anyPhrase(normalise(o.value), PREFERRED_OPTION_WORDS),
    );
    if (preferred)
      choices.push({ input: preferred, because: `the “${preferred.label || preferred.value}” option` });
    else if (options.some((o) => o.required) && options[0]) {
      choices.push({ input: options[0], because: 'the first option of a required group' });
    }
  }
  return choices.sort((a, b) => a.input.index - b.input.index);
}

/** Escapes text for a regular expression. */
const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * The words of `words` that none of `pages` shows (case-insensitive): a word the form's own pages carry cannot
 * tell the page after the submit from them.
 */
export function absentWords(words: readonly string[], pages: readonly string[]): string[] {
  const seen = pages.map((p) => p.toLowerCase());
  return words.filter((w) => !seen.some((p) => p.includes(w.toLowerCase())));
}

/** A case-insensitive Playwright text selector matching any of `words`, or undefined when none is left. */
export function textSelector(words: readonly string[]): string | undefined {
  return words.length > 0 ? `text=/${words.map(escapeRegex).join('|')}/i` : undefined;
}

/**
 * The success indicators a draft proposes: a confirmation's wording (SUCCESS_WORDS the form's pages do not
 * already show) and a thank-you address (SUCCESS_URL_WORDS in the path, when the form's own address has none).
 */
export function proposeSuccess(
  pages: readonly string[],
  formUrls: readonly string[],
): { selector?: string; urlPattern?: string }[] {
  const out: { selector?: string; urlPattern?: string }[] = [];
  const selector = textSelector(absentWords(SUCCESS_WORDS, pages));
  if (selector) out.push({ selector });
  const paths = formUrls.map((u) => {
    try {
      const url = new URL(u);
      return `${url.pathname}${url.search}`.toLowerCase();
    } catch {
      return u.toLowerCase();
    }
  });
  const urlWords = SUCCESS_URL_WORDS.filter((w) => !paths.some((p) => p.includes(w)));
  if (urlWords.length > 0)
    out.push({ urlPattern: `^https?://[^/]+/[^#]*(?:${urlWords.map(escapeRegex).join('|')})` });
  return out;
}

/** The failure indicators a draft proposes: error containers not on the form's pages, and refusal wording. */
export function proposeFailure(
  pages: readonly string[],
  absentSelectors: readonly string[],
): { selector: string }[] {
  const out: { selector: string }[] = [];
  if (absentSelectors.length > 0) out.push({ selector: absentSelectors.join(', ') });
  const selector = textSelector(absentWords(FAILURE_WORDS, pages));
  if (selector) out.push({ selector });
  return out;
}

/** Whether a scanned input is one a profile value is typed into (not a checkbox, radio, search or password). */
export function isTextual(i: ScannedInput): boolean {
  return !['checkbox', 'radio', 'search', 'password'].includes(i.type);
}
