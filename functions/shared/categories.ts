/**
 * formfleet's business categories and how they meet each directory's own list.
 *
 * The taxonomy is data (category-taxonomy.json: an id, a label, a group and synonyms in several languages per
 * category); adding a category or a synonym is a change to that file alone. A customer's category is one of
 * its ids, named by its id, label or any synonym (`resolveCategory`); anything else is refused with the
 * nearest names (`suggestCategories`).
 *
 * A directory names categories its own way ("Bakeries & Pastry Shops", "Food > Bakery", option value 17). Its
 * category map (set by PUT /v1/directories/{id}/categories) says which option each category is; where it says
 * nothing, `chooseCategoryOption` may pick the option most similar to the category's names, but only above
 * policy CATEGORIES.similarityThreshold and clearly ahead of the runner-up; below that, the default option
 * of the map, else nothing (the row goes to a person). The similarity is written here rather than taken
 * from a library: it is a few lines of token comparison tuned to short category names in several languages.
 */
import { CATEGORIES } from '#policy';
import TAXONOMY from './category-taxonomy.json' with { type: 'json' };

export interface CategoryEntry {
  /** Stable id, lowercase with dashes (what the API stores and directory maps key on). */
  id: string;
  label: string;
  group: string;
  /** Other names, in any language; each resolves to this category. */
  synonyms: string[];
}

export const CATEGORY_TAXONOMY: readonly CategoryEntry[] = TAXONOMY;
const BY_ID = new Map(CATEGORY_TAXONOMY.map((c) => [c.id, c]));

/** One option of a directory's category select, as the form offered it. */
export interface SelectOption {
  value: string;
  label: string;
  /** The `optgroup` label it sits in, if any. */
  group: string | null;
}

/** Which option a category is on one directory: by its value or its visible label (exactly one). */
export type OptionRef = { value: string; label?: never } | { label: string; value?: never };

/** A directory's category map: category id → option, and the option to take when nothing maps. */
export interface CategoryMap {
  mapping: Record<string, OptionRef>;
  default: OptionRef | null;
}

export const EMPTY_CATEGORY_MAP: CategoryMap = { mapping: {}, default: null };

const STOP_WORDS = new Set([
  'a',
  'an',
  'and',
  'the',
  'of',
  'for',
  'service',
  'services',
  'shop',
  'store',
  'und',
  'et',
  'y',
  'de',
  'la',
  'le',
  'les',
  'des',
  'du',
  'der',
  'die',
  'das',
  'el',
  'los',
  'las',
]);

/** Lowercase, accents dropped, `&` read as "and", everything but letters and digits a space. */
export function normaliseName(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/&/g, ' and ')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

/** A crude English singular: enough for "bakeries" to meet "bakery" and "dentists" to meet "dentist". */
function stem(word: string): string {
  if (word.length > 4 && word.endsWith('ies')) return `${word.slice(0, -3)}y`;
  if (word.length > 4 && /(?:ss|ch|sh|x)es$/.test(word)) return word.slice(0, -2);
  if (word.length > 3 && word.endsWith('s') && !word.endsWith('ss')) return word.slice(0, -1);
  return word;
}

function tokens(text: string): string[] {
  const words = normaliseName(text).split(' ').filter(Boolean);
  const kept = words.filter((w) => !STOP_WORDS.has(w));
  return (kept.length > 0 ? kept : words).map(stem);
}

function bigrams(word: string): string[] {
  const padded = ` ${word} `;
  const out: string[] = [];
  for (let i = 0; i < padded.length - 1; i++) out.push(padded.slice(i, i + 2));
  return out;
}

/** Two words' likeness, 0..1: equal 1, else the Dice coefficient of their letter pairs. */
function wordSimilarity(a: string, b: string): number {
  if (a === b) return 1;
  const x = bigrams(a);
  const y = bigrams(b);
  const pool = [...y];
  let shared = 0;
  for (const pair of x) {
    const at = pool.indexOf(pair);
    if (at >= 0) {
      shared++;
      pool.splice(at, 1);
    }
  }
  return (2 * shared) / (x.length + y.length);
}

/** Words this alike count as the same word (a typo, a plural the stemmer missed); less counts as none. */
const SAME_WORD = 0.7;

/**
 * How well `candidate` says what `name` says, 0..1: the share of the name's words found in the candidate,
 * a little less when the candidate says much more besides ("Bakery" in "Bakeries & Pastry Shops" scores
 * about 0.88; "Bakery" alone 1).
 */
export function nameSimilarity(name: string, candidate: string): number {
  const a = tokens(name);
  const b = tokens(candidate);
  if (a.length === 0 || b.length === 0) return 0;
  let found = 0;
  for (const word of a) {
    const best = Math.max(...b.map((other) => wordSimilarity(word, other)));
    if (best >= SAME_WORD) found += best;
  }
  const coverage = found / a.length;
  const precision = Math.min(1, found / b.length);
  return round(coverage * (0.75 + 0.25 * precision));
}

const round = (n: number) => Math.round(n * 1000) / 1000;

/** Every name a category goes by: its label, its id in words, its synonyms. */
export function namesOf(entry: CategoryEntry): string[] {
  return [entry.label, entry.id.replace(/-/g, ' '), ...entry.synonyms];
}

/** The lookup key of a name: its words, singular, in order. */
const nameKey = (name: string) => tokens(name).join(' ');

const BY_NAME = new Map<string, CategoryEntry>();
for (const entry of CATEGORY_TAXONOMY) {
  for (const name of [entry.id, ...namesOf(entry)]) {
    const key = nameKey(name);
    if (key && !BY_NAME.has(key)) BY_NAME.set(key, entry);
  }
}

/** Names that resolve to more than one category (the taxonomy's test keeps this empty). */
export function ambiguousNames(): string[] {
  const owner = new Map<string, string>();
  const clashes: string[] = [];
  for (const entry of CATEGORY_TAXONOMY) {
    for (const name of [entry.id, ...namesOf(entry)]) {
      const key = nameKey(name);
      const first = owner.get(key);
      if (first === undefined) owner.set(key, entry.id);
      else if (first !== entry.id) clashes.push(`${name} (${first}, ${entry.id})`);
    }
  }
  return clashes;
}

/** The category a text names (id, label or synonym; case, accents, punctuation and plurals aside). */
export function resolveCategory(text: string): CategoryEntry | undefined {
  return BY_ID.get(text) ?? BY_NAME.get(nameKey(text));
}

export function categoryById(id: string): CategoryEntry | undefined {
  return BY_ID.get(id);
}

export interface CategorySuggestion {
  id: string;
  label: string;
  score: number;
}

/** The categories nearest to a text that names none, best first (at most CATEGORIES.suggestions). */
export function suggestCategories(text: string): CategorySuggestion[] {
  return CATEGORY_TAXONOMY.map((entry) => ({
    id: entry.id,
    label: entry.label,
    score: Math.max(
      ...namesOf(entry).map((name) => Math.max(nameSimilarity(text, name), nameSimilarity(name, text))),
    ),
  }))
    .filter((s) => s.score >= CATEGORIES.suggestionMinScore)
    .sort((a, b) => b.score - a.score || a.id.localeCompare(b.id))
    .slice(0, CATEGORIES.suggestions);
}

/** How an option was chosen for a category, as the evidence records it. */
export type CategoryChoice =
  | { via: 'map' | 'default'; option: SelectOption; index: number }
  | { via: 'similarity'; option: SelectOption; index: number; score: number; runnerUp: number };

/** Why no option was chosen: the best candidate (if any) and its score, for the person who decides. */
export interface CategoryMiss {
  reason: string;
  best?: { option: SelectOption; score: number };
}

/** Options a person could pick: a placeholder ("Choose…", value "") is none. */
const choosable = (o: SelectOption) => o.value.trim() !== '' || o.label.trim() === '';

/** Which option a reference names: by value exactly, by label ignoring case and spacing. */
export function findOption(options: readonly SelectOption[], ref: OptionRef): number {
  if (ref.value !== undefined) return options.findIndex((o) => o.value === ref.value);
  const wanted = normaliseSpacing(ref.label ?? '');
  return options.findIndex((o) => normaliseSpacing(o.label) === wanted);
}

const normaliseSpacing = (s: string) => s.trim().replace(/\s+/g, ' ').toLowerCase();

const describe = (ref: OptionRef) =>
  ref.value !== undefined ? `value "${ref.value}"` : `label "${ref.label ?? ''}"`;

/** An option's likeness to a category: its label (whole, and its last "Parent > Child" part) or its value. */
function optionScore(names: readonly string[], option: SelectOption): number {
  const texts = [option.label, option.label.split(/\s*[>»/|]\s*/).pop() ?? '', option.value].filter((t) =>
    /\p{L}/u.test(t),
  );
  let best = 0;
  for (const name of names) for (const text of texts) best = Math.max(best, nameSimilarity(name, text));
  return best;
}

/**
 * The option to select for a customer's category on one directory: the map's entry for it; else the option
 * most like the category's names when its score reaches the threshold and leads the next option's by the
 * margin; else the map's default; else a miss (a person picks). `category` is the customer's value: a
 * taxonomy id or name, or free text from before the taxonomy (then matched on its own words).
 */
export function chooseCategoryOption(
  category: string,
  options: readonly SelectOption[],
  map: CategoryMap,
  policy: { similarityThreshold: number; similarityMargin: number } = CATEGORIES,
): CategoryChoice | CategoryMiss {
  const entry = resolveCategory(category);
  const mapped = entry ? map.mapping[entry.id] : undefined;
  if (mapped) {
    const index = findOption(options, mapped);
    const option = options[index];
    if (option) return { via: 'map', option, index };
    return { reason: `the map's option for ${entry?.id} (${describe(mapped)}) is not on the form` };
  }
  const names = entry ? namesOf(entry) : [category];
  const scored = options
    .map((option, index) => ({ option, index, score: optionScore(names, option) }))
    .filter((s) => choosable(s.option))
    .sort((a, b) => b.score - a.score);
  const [first, second] = scored;
  const runnerUp = second?.score ?? 0;
  if (
    first &&
    first.score >= policy.similarityThreshold &&
    first.score - runnerUp >= policy.similarityMargin
  ) {
    return { via: 'similarity', option: first.option, index: first.index, score: first.score, runnerUp };
  }
  if (map.default) {
    const index = findOption(options, map.default);
    const option = options[index];
    if (option) return { via: 'default', option, index };
  }
  const what = entry ? `category ${entry.id}` : `category "${category}" (not in the taxonomy)`;
  const why = !first
    ? 'the select offers no options'
    : first.score < policy.similarityThreshold
      ? `no option reaches the similarity threshold ${policy.similarityThreshold} (best "${first.option.label}" at ${first.score})`
      : `"${first.option.label}" (${first.score}) is not clearly ahead of "${second?.option.label}" (${runnerUp})`;
  return {
    reason: `${what} is not mapped on this directory and ${why}`,
    ...(first ? { best: { option: first.option, score: first.score } } : {}),
  };
}

export const isChoice = (r: CategoryChoice | CategoryMiss): r is CategoryChoice => 'via' in r;
