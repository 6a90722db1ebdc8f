/**
 * The category taxonomy as data and the choice of a directory's option (functions/shared/categories.ts):
 * every name resolves to one category, similarity chooses only above the policy threshold and clearly ahead,
 * and the map and its default win or lose in the documented order.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CATEGORIES } from '#policy';
import {
  ambiguousNames,
  CATEGORY_TAXONOMY,
  type CategoryMap,
  chooseCategoryOption,
  isChoice,
  nameSimilarity,
  namesOf,
  resolveCategory,
  type SelectOption,
  suggestCategories,
} from '#shared/categories';

const opt = (value: string, label: string, group: string | null = null): SelectOption => ({
  value,
  label,
  group,
});
const NO_MAP: CategoryMap = { mapping: {}, default: null };

describe('the taxonomy', () => {
  it('holds a few hundred categories with unique, well-formed ids and synonyms in several languages', () => {
    expect(CATEGORY_TAXONOMY.length).toBeGreaterThanOrEqual(200);
    const ids = CATEGORY_TAXONOMY.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const c of CATEGORY_TAXONOMY) {
      expect(c.id).toMatch(/^[a-z0-9]+(?:-[a-z0-9]+)*$/);
      expect(c.label.trim()).not.toBe('');
    }
    const withAccents = CATEGORY_TAXONOMY.filter((c) => c.synonyms.some((s) => /[^ -~]/.test(s)));
    expect(withAccents.length).toBeGreaterThan(50);
  });

  it('resolves every id, label and synonym to its own category, and no name to two', () => {
    expect(ambiguousNames()).toEqual([]);
    for (const c of CATEGORY_TAXONOMY) {
      for (const name of [c.id, ...namesOf(c)]) expect(resolveCategory(name)?.id, name).toBe(c.id);
    }
  });

  it('resolves names whatever their case, accents, spacing and plural', () => {
    expect(resolveCategory('  BAKERIES ')?.id).toBe('bakery');
    expect(resolveCategory('Bäckerei')?.id).toBe('bakery');
    expect(resolveCategory('backerei')?.id).toBe('bakery');
    expect(resolveCategory('bakery supplies')).toBeUndefined();
    expect(resolveCategory('PANADERIA')?.id).toBe('bakery');
    expect(resolveCategory('Dentists')?.id).toBe('dentist');
  });

  it('suggests the intended category for a typo, best first', () => {
    expect(suggestCategories('Bakry')[0]?.id).toBe('bakery');
    expect(suggestCategories('plumbr')[0]?.id).toBe('plumbing');
    expect(suggestCategories('dentistt')[0]?.id).toBe('dentist');
    expect(suggestCategories('xqzv')).toEqual([]);
    expect(suggestCategories('restaurant cafe').length).toBeLessThanOrEqual(CATEGORIES.suggestions);
  });
});

describe('choosing an option', () => {
  const offered = [
    opt('', 'Choose…'),
    opt('1', 'Bakeries & Pastry Shops'),
    opt('2', 'Plumbing Services'),
    opt('3', 'Dentists'),
  ];

  it('takes a label that says the category and a little more, above the threshold', () => {
    const choice = chooseCategoryOption('bakery', offered, NO_MAP);
    expect(choice).toMatchObject({ via: 'similarity', index: 1 });
    expect(isChoice(choice) && choice.via === 'similarity' && choice.score).toBeGreaterThanOrEqual(
      CATEGORIES.similarityThreshold,
    );
  });

  it('never takes the placeholder, and goes to a person when two options are about as good', () => {
    const twins = [opt('', 'Bakery'), opt('a', 'Bakery Supplies'), opt('b', 'Bakery Equipment')];
    const miss = chooseCategoryOption('bakery', twins, NO_MAP);
    expect(isChoice(miss)).toBe(false);
    expect('reason' in miss && miss.reason).toContain('not clearly ahead');
  });

  it('prefers the map over similarity, similarity over the default, the default over a person', () => {
    const map: CategoryMap = { mapping: { bakery: { value: '3' } }, default: { value: '2' } };
    expect(chooseCategoryOption('Bakery', offered, map)).toMatchObject({ via: 'map', index: 3 });
    expect(chooseCategoryOption('dentist', offered, map)).toMatchObject({ via: 'similarity', index: 3 });
    expect(chooseCategoryOption('lawyer', offered, map)).toMatchObject({ via: 'default', index: 2 });
    expect(isChoice(chooseCategoryOption('lawyer', offered, NO_MAP))).toBe(false);
  });

  it('chooses by similarity only at or above the threshold (any option list, any category)', () => {
    const label = fc.string({ minLength: 1, maxLength: 30 });
    fc.assert(
      fc.property(
        fc.constantFrom(...CATEGORY_TAXONOMY.map((c) => c.id)),
        fc.array(label, { minLength: 1, maxLength: 8 }),
        (category, labels) => {
          const options = labels.map((l, i) => opt(String(i + 1), l));
          const result = chooseCategoryOption(category, options, NO_MAP);
          if (!isChoice(result)) return;
          expect(result.via).toBe('similarity');
          if (result.via !== 'similarity') return;
          expect(result.score).toBeGreaterThanOrEqual(CATEGORIES.similarityThreshold);
          expect(result.score - result.runnerUp).toBeGreaterThanOrEqual(CATEGORIES.similarityMargin);
          expect(options[result.index]).toBe(result.option);
        },
      ),
    );
  });

  it('scores 1 for the same words, 0 for none shared, in between for more words', () => {
    expect(nameSimilarity('Dentist', 'dentists')).toBe(1);
    expect(nameSimilarity('bakery', 'Auto Repair')).toBe(0);
    const partial = nameSimilarity('bakery', 'Bakeries & Pastry Shops');
    expect(partial).toBeGreaterThan(0.8);
    expect(partial).toBeLessThan(1);
  });
});
