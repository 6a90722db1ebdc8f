/**
 * Categories at the API: a customer's category must be one of the taxonomy's (named by id, label or synonym,
 * stored as the id), and each directory's category map is read and set here (GET/PUT
 * /v1/directories/{id}/categories). A name the taxonomy does not know is a catalogue refusal: 409
 * `unknown_category`, naming the nearest categories (the schema cannot list every synonym in every language,
 * so schema-valid text may still name nothing).
 */
import {
  type CategoryMap,
  findOption,
  type OptionRef,
  resolveCategory,
  suggestCategories,
} from '#shared/categories';
import type { DirectoryCategories } from '#shared/directory-store';
import { HttpError } from './http.ts';

/** 409 unknown_category: the text names no category; `suggestions` are the nearest, best first. */
export function unknownCategory(field: string, text: string): HttpError {
  const suggestions = suggestCategories(text);
  const nearest =
    suggestions.length > 0
      ? `nearest: ${suggestions.map((s) => `${s.id} (${s.label})`).join(', ')}`
      : 'no category is near it';
  const message = `unknown category "${text.slice(0, 120)}"; ${nearest}`;
  const details = [{ field, message: `is not a known category; ${nearest}` }];
  return new HttpError(409, 'unknown_category', message, details, undefined, {
    error: { code: 'unknown_category', message, details, suggestions },
  });
}

/**
 * The category a profile names, as stored: the taxonomy id. Null (or blank) clears it; absent leaves it as
 * it is (so a category stored before the taxonomy survives a PATCH of other fields).
 */
export function canonicalCategory(value: string | null | undefined): string | null | undefined {
  if (value === undefined || value === null) return value;
  const text = value.trim();
  if (text === '') return null;
  const entry = resolveCategory(text);
  if (!entry) throw unknownCategory('category', text);
  return entry.id;
}

export interface CategoryMapPut {
  mapping: Record<string, OptionRef>;
  default?: OptionRef | null;
}

/** A map as stored: keys resolved to taxonomy ids (an unknown one is a 409 naming the nearest). */
export function canonicalMap(body: CategoryMapPut): CategoryMap {
  const mapping: Record<string, OptionRef> = {};
  for (const [key, ref] of Object.entries(body.mapping)) {
    const entry = resolveCategory(key);
    if (!entry) throw unknownCategory(`mapping.${key}`, key);
    mapping[entry.id] = ref;
  }
  return { mapping, default: body.default ?? null };
}

/** A map entry whose option the form did not offer when last seen. */
export interface MissingOption {
  category: string | null;
  option: OptionRef;
}

/** The answer of GET/PUT /v1/directories/{id}/categories. */
export function categoriesView(c: DirectoryCategories) {
  const map = c.map ?? { mapping: {}, default: null };
  const missing: MissingOption[] = [];
  if (c.options) {
    const options = c.options;
    for (const [category, option] of Object.entries(map.mapping)) {
      if (findOption(options, option) < 0) missing.push({ category, option });
    }
    if (map.default && findOption(options, map.default) < 0)
      missing.push({ category: null, option: map.default });
  }
  return {
    directoryId: c.directoryId,
    mapping: map.mapping,
    default: map.default,
    options: c.options,
    optionsSeenAt: c.optionsSeenAt,
    optionsSource: c.optionsSource,
    missing,
    version: c.version,
  };
}
