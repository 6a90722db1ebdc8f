/**
 * The replaced system's directory list, read into formfleet directories (`npm run ops -- directories import
 * <file>`). Its format: a JSON array (or `{ "directories": [...] }`) of entries with `id`, `name`,
 * `submissionUrl`, `category`, `domainAuthority`, `tier`, `requiresLogin`, `hasCaptcha`, a `formMapping` of
 * logical fields (businessName, email, phone, website, address, city, state, zip, category, description) to
 * ordered fallback selector lists, a comma-separated `submitSelector`, and `successIndicators` selectors.
 *
 * Each entry becomes the body of PUT /v1/directories/{id}: a goto, one fill per mapped field (the selectors
 * in their order: the first is the primary, the rest fallbacks; business name and e-mail required, the rest
 * optional), the submit, and the success indicators. Entries are never guessed at: what cannot be mapped is
 * reported per entry (an unknown logical field, an empty selector list, no submit selector, an id formfleet
 * cannot use), and an entry without what a definition needs is left out with the reason.
 */
import { DIRECTORY_ID_PATTERN } from '#functions/api/schemas';
import type { ProfileField } from '#shared/customer-store';

/** The replaced system's logical fields, as formfleet profile fields. */
export const LEGACY_FIELDS: Readonly<Record<string, ProfileField>> = {
  businessName: 'name',
  email: 'email',
  phone: 'phone',
  website: 'website',
  address: 'address',
  city: 'city',
  state: 'state',
  zip: 'zip',
  category: 'category',
  description: 'description',
};

/** Fields every listing needs: their fill steps are not optional. */
const REQUIRED: ReadonlySet<ProfileField> = new Set(['name', 'email']);

export interface ImportedDirectory {
  id: string;
  /** The body of PUT /v1/directories/{id}. */
  body: Record<string, unknown>;
  /** What was not mapped (the directory is still written). */
  unmapped: string[];
}

export interface ImportPlan {
  directories: ImportedDirectory[];
  /** Entries left out, with why. */
  refused: { entry: string; reasons: string[] }[];
}

const text = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
const selectorList = (v: unknown): string[] =>
  (Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : [])
    .map((s) => (typeof s === 'string' ? s.trim() : ''))
    .filter((s) => s !== '');

/** Reads the file's JSON into PUT bodies, and says what it could not map. */
export function planImport(json: unknown): ImportPlan {
  const entries = Array.isArray(json)
    ? json
    : json && typeof json === 'object' && Array.isArray((json as { directories?: unknown }).directories)
      ? (json as { directories: unknown[] }).directories
      : undefined;
  if (!entries) throw new Error('expected a JSON array of directories (or {"directories": [...]})');
  const plan: ImportPlan = { directories: [], refused: [] };
  const seen = new Set<string>();
  for (const [index, raw] of entries.entries()) {
    const entry = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
    const label = text(entry.id) ?? `entry ${index + 1}`;
    const reasons: string[] = [];
    const unmapped: string[] = [];
    const id = text(entry.id)
      ?.toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '');
    if (!id || !new RegExp(DIRECTORY_ID_PATTERN).test(id)) reasons.push('no usable id');
    else if (seen.has(id)) reasons.push(`a second entry with id ${id}`);
    const name = text(entry.name);
    if (!name) reasons.push('no name');
    const submissionUrl = text(entry.submissionUrl);
    if (!submissionUrl || !/^https?:\/\//i.test(submissionUrl)) reasons.push('no http(s) submissionUrl');
    const steps: Record<string, unknown>[] = [{ action: 'goto' }];
    const mapping = (
      entry.formMapping && typeof entry.formMapping === 'object' ? entry.formMapping : {}
    ) as Record<string, unknown>;
    for (const [logical, selectors] of Object.entries(mapping)) {
      const field = LEGACY_FIELDS[logical];
      const list = selectorList(selectors).slice(0, 10);
      if (!field) unmapped.push(`formMapping.${logical}: no such profile field`);
      else if (list.length === 0) unmapped.push(`formMapping.${logical}: no selectors`);
      else
        steps.push({
          action: 'fill',
          field,
          selectors: list,
          ...(REQUIRED.has(field) ? {} : { optional: true }),
        });
    }
    for (const field of REQUIRED) {
      if (!steps.some((s) => s.field === field))
        unmapped.push(`no selectors for ${field}: jobs will fail there`);
    }
    const submit = selectorList(entry.submitSelector).slice(0, 10);
    if (submit.length === 0) reasons.push('no submitSelector');
    steps.push({ action: 'submit', selectors: submit });
    const success = selectorList(entry.successIndicators)
      .slice(0, 10)
      .map((selector) => ({ selector }));
    if (success.length === 0) reasons.push('no successIndicators');
    if (reasons.length > 0 || !id) {
      plan.refused.push({ entry: label, reasons });
      continue;
    }
    seen.add(id);
    const tier = Number(entry.tier);
    const authority = Number(entry.domainAuthority);
    if (!(Number.isInteger(tier) && tier >= 1 && tier <= 4))
      unmapped.push(`tier ${String(entry.tier)}: 1 used`);
    plan.directories.push({
      id,
      unmapped,
      body: {
        name,
        category: text(entry.category) ?? 'general',
        tier: Number.isInteger(tier) && tier >= 1 && tier <= 4 ? tier : 1,
        domainAuthority: Number.isFinite(authority) ? Math.min(100, Math.max(0, Math.round(authority))) : 0,
        requiresLogin: entry.requiresLogin === true,
        hasCaptcha: entry.hasCaptcha === true,
        definition: { submissionUrl, steps, success },
      },
    });
  }
  return plan;
}
