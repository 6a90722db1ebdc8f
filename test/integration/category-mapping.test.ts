/**
 * Categories as each directory names them, on real Chromium against fixture sites that name them their own
 * way (local/fixtures/category-sites.ts): a label that differs, numeric values, an optgroup list, a list
 * with nothing for the category. What was chosen is read at the far end (what each site received); a
 * missing option is a person's task (needs_manual, category_unmapped / option_unmapped), never selector drift.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserPool } from '#functions/worker/browser-pool';
import { type FormDefinition, parseFormDefinition } from '#functions/worker/form-definition';
import { type EngineOutcome, runForm } from '#functions/worker/form-engine';
import { NetworkGuard } from '#functions/worker/network-guard';
import { categoryVariants } from '#local/fixtures/category-sites';
import { type FixtureSites, startFixtureSites } from '#local/fixtures/sites';
import { CATEGORIES } from '#policy';
import type { CategoryMap } from '#shared/categories';
import type { Profile } from '#shared/customer-store';

const bakery = (name: string, category = 'bakery'): Profile => ({
  name,
  email: 'hello@bakery.test',
  phone: '+1 415 555 0142',
  website: 'https://bakery.test',
  address: '1029 Grant Avenue',
  city: 'San Francisco',
  state: 'CA',
  zip: '94133',
  category,
  description: 'Sourdough every morning.',
});

let sites: FixtureSites;
let pool: BrowserPool;

beforeAll(async () => {
  sites = await startFixtureSites(categoryVariants());
  pool = new BrowserPool({
    recycleAfterPages: 50,
    network: new NetworkGuard({ allowedOrigins: sites.origins() }),
  });
});
afterAll(async () => {
  await pool?.close();
  await sites?.stop();
});

function definitionOf(id: string): FormDefinition {
  return parseFormDefinition(sites.directories().find((d) => d.id === id)?.definition);
}

async function run(
  id: string,
  profile: Profile,
  categoryMap?: CategoryMap,
  definition = definitionOf(id),
): Promise<{ outcome: EngineOutcome; clicks: number }> {
  const lease = await pool.acquire();
  let clicks = 0;
  try {
    const page = await lease.context.newPage();
    const outcome = await runForm(
      page,
      definition,
      profile,
      { beforeSubmit: async () => ++clicks > 0 },
      { stepTimeoutMs: 3_000, directoryTimeoutMs: 15_000, ...(categoryMap ? { categoryMap } : {}) },
    );
    return { outcome, clicks };
  } finally {
    await lease.release();
  }
}

/** The category values a site received for a business (one per accepted submission). */
const received = (id: string, name: string) =>
  sites
    .site(id)
    .submissions.filter((s) => s.fields.business_name === name)
    .map((s) => s.fields.cat);

describe('choosing a directory’s own category option', () => {
  it('chooses a label that differs by similarity above the threshold, and records the choice and its score', async () => {
    const { outcome } = await run('category-label', bakery('Label Bakery'));
    expect(outcome).toMatchObject({ status: 'submitted', submitted: true });
    expect(received('category-label', 'Label Bakery')).toEqual(['bakeries-pastry']);
    const choice = outcome.evidence.category as { via: string; score: number; category: string };
    expect(choice).toMatchObject({
      via: 'similarity',
      asked: 'bakery',
      category: 'bakery',
      option: { value: 'bakeries-pastry', label: 'Bakeries & Pastry Shops', group: null },
    });
    expect(choice.score).toBeGreaterThanOrEqual(CATEGORIES.similarityThreshold);
    expect(choice.score).toBeLessThan(1);
    // What the form offered goes out with the outcome (kept as the directory's options "last seen").
    expect(outcome.categoryOptions?.map((o) => o.value)).toEqual([
      '',
      'bakeries-pastry',
      'plumbing-services',
      'dentists',
    ]);
  });

  it('resolves a category stored before the taxonomy (free text, another language) through its synonyms', async () => {
    const { outcome } = await run('category-label', bakery('Bäckerei Schmidt', 'Bäckerei'));
    expect(outcome).toMatchObject({ status: 'submitted' });
    expect(outcome.evidence.category).toMatchObject({ asked: 'Bäckerei', category: 'bakery' });
    expect(received('category-label', 'Bäckerei Schmidt')).toEqual(['bakeries-pastry']);
  });

  it('takes numeric values only from the map: unmapped is a person’s task, mapped is sent as the value', async () => {
    const unmapped = await run('category-numeric', bakery('Numbered Bakery'));
    expect(unmapped.outcome).toMatchObject({
      status: 'needs_manual',
      errorClass: 'category_unmapped',
      submitted: false,
    });
    expect(unmapped.clicks).toBe(0);
    expect(unmapped.outcome.error).toContain('not mapped on this directory');
    expect(unmapped.outcome.evidence.categoryMiss).toMatchObject({ category: 'bakery' });
    expect(received('category-numeric', 'Numbered Bakery')).toEqual([]);

    const mapped = await run('category-numeric', bakery('Numbered Bakery'), {
      mapping: { bakery: { value: '17' } },
      default: null,
    });
    expect(mapped.outcome).toMatchObject({ status: 'submitted' });
    expect(mapped.outcome.evidence.category).toMatchObject({ via: 'map', option: { value: '17' } });
    expect(received('category-numeric', 'Numbered Bakery')).toEqual(['17']);

    // By label too, ignoring case and spacing.
    const byLabel = await run('category-numeric', bakery('Labelled Bakery'), {
      mapping: { bakery: { label: '  baked   GOODS ' } },
      default: null,
    });
    expect(byLabel.outcome).toMatchObject({ status: 'submitted' });
    expect(received('category-numeric', 'Labelled Bakery')).toEqual(['17']);
  });

  it('a map entry whose option the form no longer offers goes to a person, not to a guess', async () => {
    const { outcome } = await run('category-label', bakery('Stale Map Bakery'), {
      mapping: { bakery: { value: 'gone' } },
      default: { value: 'dentists' },
    });
    expect(outcome).toMatchObject({ status: 'needs_manual', errorClass: 'category_unmapped' });
    expect(outcome.error).toContain('value "gone"');
    expect(received('category-label', 'Stale Map Bakery')).toEqual([]);
  });

  it('chooses within an optgroup list, the closer option over a near one in another group', async () => {
    const { outcome } = await run('category-optgroup', bakery('Grouped Bakery'));
    expect(outcome).toMatchObject({ status: 'submitted' });
    expect(outcome.evidence.category).toMatchObject({
      via: 'similarity',
      score: 1,
      option: { value: 'f-1', label: 'Bakery', group: 'Food' },
    });
    expect(received('category-optgroup', 'Grouped Bakery')).toEqual(['f-1']);
  });

  it('a category that maps nowhere is needs_manual, never selector_drift; the default takes it once set', async () => {
    const nowhere = await run('category-nowhere', bakery('Nowhere Bakery'));
    expect(nowhere.outcome).toMatchObject({
      status: 'needs_manual',
      errorClass: 'category_unmapped',
      submitted: false,
    });
    expect(nowhere.outcome.error).toContain('similarity threshold');
    expect(nowhere.clicks).toBe(0);
    expect(sites.site('category-nowhere').countsByName()['Nowhere Bakery'] ?? 0).toBe(0);

    const fallback = await run('category-nowhere', bakery('Nowhere Bakery'), {
      mapping: {},
      default: { label: 'Other' },
    });
    expect(fallback.outcome).toMatchObject({ status: 'submitted' });
    expect(fallback.outcome.evidence.category).toMatchObject({ via: 'default', option: { value: 'other' } });
    expect(received('category-nowhere', 'Nowhere Bakery')).toEqual(['other']);
  });

  it('types a category into a text box as its label, not its id', async () => {
    const base = definitionOf('category-label');
    const submit = base.steps.length - 1;
    const definition: FormDefinition = {
      ...base,
      steps: [
        ...base.steps.slice(0, submit),
        { action: 'fill', field: 'category', selectors: ['input[name="state"]'] },
        ...base.steps.slice(submit),
      ],
    };
    const { outcome } = await run('category-label', bakery('Typed Bakery'), undefined, definition);
    expect(outcome).toMatchObject({ status: 'submitted' });
    const [got] = sites
      .site('category-label')
      .submissions.filter((s) => s.fields.business_name === 'Typed Bakery');
    expect(got?.fields.state).toBe('Bakery');
  });

  it('a fixed select value the form does not offer is option_unmapped (needs_manual), not selector_drift', async () => {
    const base = definitionOf('category-label');
    const submit = base.steps.length - 1;
    const definition: FormDefinition = {
      ...base,
      steps: [
        ...base.steps.slice(0, submit),
        { action: 'select', value: 'gold', selectors: ['select[name="plan"]'] },
        ...base.steps.slice(submit),
      ],
    };
    const { outcome, clicks } = await run(
      'category-label',
      bakery('Gold Plan Bakery'),
      undefined,
      definition,
    );
    expect(outcome).toMatchObject({
      status: 'needs_manual',
      errorClass: 'option_unmapped',
      submitted: false,
    });
    expect(outcome.error).toContain('no option "gold"');
    expect(clicks).toBe(0);
    expect(received('category-label', 'Gold Plan Bakery')).toEqual([]);
  });
});
