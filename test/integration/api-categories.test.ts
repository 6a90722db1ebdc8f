/**
 * Categories at the API, called as Lambda calls it on a real Postgres, every answer held to its documented
 * contract: a customer's category is one of the taxonomy's (by id, label or synonym, stored as its id), an
 * unknown one is a 409 naming the nearest and stores nothing, a category stored before the taxonomy
 * survives, and a directory's category map is read and set with GET/PUT /v1/directories/{id}/categories.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgAlertOutbox } from '#functions/alerts/alert-outbox';
import { makeCustomersApi } from '#functions/api/customers';
import { makeDirectoriesApi } from '#functions/api/directories';
import { PgDirectoryQueries } from '#functions/api/directory-queries';
import type { ApiHandler } from '#functions/api/router';
import { PgDirectoryHealthStore } from '#functions/directories/health-store';
import { categoryNumeric } from '#local/fixtures/category-sites';
import { PgCustomerStore } from '#shared/customer-store';
import { PgDirectoryStore } from '#shared/directory-store';
import { ADMIN_KEY_ID, baseDeps, call } from '#test/api';
import { mediaDepsOn } from '#test/records';
import { type TestDatabase, testDatabase } from '#test/services';

let t: TestDatabase;
let customers: ApiHandler;
let directories: ApiHandler;
let store: PgDirectoryStore;

beforeAll(async () => {
  t = await testDatabase('api_categories');
  store = new PgDirectoryStore(t.db);
  customers = makeCustomersApi({
    ...baseDeps(t.db),
    customers: new PgCustomerStore(t.db),
    ...mediaDepsOn(t.db),
  });
  directories = makeDirectoriesApi({
    ...baseDeps(t.db),
    directories: store,
    queries: new PgDirectoryQueries(t.db),
    health: new PgDirectoryHealthStore(t.db, new PgAlertOutbox(t.db)),
  });
});
afterAll(async () => t?.close());

const customerCount = async () =>
  (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM customers')).rows[0]?.n;

const createCustomer = (category: unknown) =>
  call(customers, 'POST', '/v1/customers', {
    apiKeyId: 'client-a',
    body: { name: 'Crumb & Co', email: 'hi@crumb.test', category },
  });

async function putDirectory(id: string) {
  const res = await call(directories, 'PUT', `/v1/directories/${id}`, {
    apiKeyId: ADMIN_KEY_ID,
    body: {
      name: 'Numbered',
      category: 'general',
      tier: 2,
      domainAuthority: 30,
      definition: categoryNumeric.definition('http://127.0.0.1:9'),
    },
  });
  expect(res.status).toBe(201);
}

const categoriesOf = (id: string) =>
  call(directories, 'GET', `/v1/directories/${id}/categories`, { apiKeyId: 'client-a' });
const putMap = (id: string, body: unknown, apiKeyId = ADMIN_KEY_ID) =>
  call(directories, 'PUT', `/v1/directories/${id}/categories`, { apiKeyId, body });

describe('a customer’s category', () => {
  it('is named by id, label or a synonym in another language, and stored as the taxonomy id', async () => {
    for (const [sent, stored] of [
      ['bakery', 'bakery'],
      ['Bakery', 'bakery'],
      ['  Bakeries ', 'bakery'],
      ['Bäckerei', 'bakery'],
      ['panadería', 'bakery'],
      ['Plumbing Services', 'plumbing'],
      ['Zahnarzt', 'dentist'],
      ['', null],
      [null, null],
    ] as const) {
      const res = await createCustomer(sent);
      expect(res.status, String(sent)).toBe(201);
      expect(res.body.category, String(sent)).toBe(stored);
    }
  });

  it('are listed for clients: the whole taxonomy, or what a text names and the nearest to it', async () => {
    const all = await call(directories, 'GET', '/v1/categories', { apiKeyId: 'client-a' });
    expect(all.status).toBe(200);
    expect(all.body.items.length).toBeGreaterThan(100);
    expect(all.body.items).toContainEqual(
      expect.objectContaining({ id: 'bakery', label: 'Bakery', score: null, synonyms: expect.any(Array) }),
    );
    // A synonym in another language names one category, exactly.
    const named = await call(directories, 'GET', '/v1/categories?q=B%C3%A4ckerei', { apiKeyId: 'client-a' });
    expect(named.body.items).toEqual([expect.objectContaining({ id: 'bakery', score: 1 })]);
    // A misspelling answers what a 409 would suggest, best first; something near nothing answers nothing.
    const near = await call(directories, 'GET', '/v1/categories?q=Bakry', { apiKeyId: 'client-a' });
    const refused = await createCustomer('Bakry');
    expect(near.body.items.map((c: { id: string }) => c.id)).toEqual(
      refused.body.error.suggestions.map((c: { id: string }) => c.id),
    );
    expect(near.body.items[0]).toMatchObject({ id: 'bakery', score: expect.any(Number) });
    const nothing = await call(directories, 'GET', '/v1/categories?q=zzzz%20qqqq', { apiKeyId: 'client-a' });
    expect(nothing.body.items).toEqual([]);
    const blank = await call(directories, 'GET', '/v1/categories?q=', { apiKeyId: 'client-a' });
    expect(blank.status).toBe(400);
  });

  it('refuses an unknown one with 409 unknown_category naming the nearest, and stores nothing', async () => {
    const before = await customerCount();
    const res = await createCustomer('Bakry');
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({
      code: 'unknown_category',
      details: [{ field: 'category', message: expect.stringContaining('bakery (Bakery)') }],
    });
    expect(res.body.error.suggestions[0]).toMatchObject({ id: 'bakery', label: 'Bakery' });
    const nothingNear = await createCustomer('zzzz qqqq');
    expect(nothingNear.status).toBe(409);
    expect(nothingNear.body.error.suggestions).toEqual([]);
    expect(nothingNear.body.error.message).toContain('no category is near it');
    expect(await customerCount()).toBe(before);
  });

  it('keeps a category stored before the taxonomy through a PATCH of other fields; changing it must name one', async () => {
    const { rows } = await t.db.query<{ id: string }>(
      `INSERT INTO customers (owner_key_id, name, email, category)
       VALUES ('client-a', 'Old Bread', 'old@bread.test', 'Artisan bread & more') RETURNING id`,
    );
    const id = rows[0]?.id as string;
    const patched = await call(customers, 'PATCH', `/v1/customers/${id}`, {
      apiKeyId: 'client-a',
      body: { description: 'Still baking.' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ category: 'Artisan bread & more', description: 'Still baking.' });
    const refused = await call(customers, 'PATCH', `/v1/customers/${id}`, {
      apiKeyId: 'client-a',
      body: { category: 'Artisan bread & more' },
    });
    expect(refused.status).toBe(409);
    const read = await call(customers, 'GET', `/v1/customers/${id}`, { apiKeyId: 'client-a' });
    expect(read.body.category).toBe('Artisan bread & more');
    const fixed = await call(customers, 'PATCH', `/v1/customers/${id}`, {
      apiKeyId: 'client-a',
      body: { category: 'Boulangerie' },
    });
    expect(fixed.body.category).toBe('bakery');
  });
});

describe('a directory’s category map', () => {
  it('starts empty, is set by PUT (keys as names, stored as ids, version raised) and survives a definition PUT', async () => {
    await putDirectory('cat-map');
    const empty = await categoriesOf('cat-map');
    expect(empty.status).toBe(200);
    expect(empty.body).toMatchObject({
      directoryId: 'cat-map',
      mapping: {},
      default: null,
      options: null,
      optionsSeenAt: null,
      missing: [],
      version: 1,
    });
    const saved = await putMap('cat-map', {
      mapping: { Bakery: { value: '17' }, plumber: { label: 'Pipes & Drains' } },
      default: { label: 'Other' },
    });
    expect(saved.status).toBe(200);
    expect(saved.body).toMatchObject({
      mapping: { bakery: { value: '17' }, plumbing: { label: 'Pipes & Drains' } },
      default: { label: 'Other' },
      version: 2,
    });
    // Replacing the directory's definition keeps its map; the directory shows it.
    const replaced = await call(directories, 'PUT', '/v1/directories/cat-map', {
      apiKeyId: ADMIN_KEY_ID,
      body: {
        name: 'Numbered 2',
        category: 'general',
        tier: 2,
        domainAuthority: 30,
        definition: categoryNumeric.definition('http://127.0.0.1:9'),
      },
    });
    expect(replaced.body.categoryMap).toEqual({
      mapping: { bakery: { value: '17' }, plumbing: { label: 'Pipes & Drains' } },
      default: { label: 'Other' },
    });
    expect((await categoriesOf('cat-map')).body.mapping).toEqual(saved.body.mapping);
  });

  it('shows the options last seen, and the map entries the form did not offer', async () => {
    await putDirectory('cat-seen');
    await putMap('cat-seen', {
      mapping: { bakery: { value: '17' }, dentist: { value: '99' } },
      default: { label: 'other' },
    });
    await store.recordCategoryOptions(
      'cat-seen',
      [
        { value: '', label: 'Choose a category…', group: null },
        { value: '17', label: 'Baked Goods', group: null },
        { value: '31', label: 'Teeth', group: null },
      ],
      'submission',
    );
    const seen = await categoriesOf('cat-seen');
    expect(seen.body.options).toHaveLength(3);
    expect(seen.body.optionsSource).toBe('submission');
    expect(Date.parse(seen.body.optionsSeenAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(seen.body.missing).toEqual([
      { category: 'dentist', option: { value: '99' } },
      { category: null, option: { label: 'other' } },
    ]);
    // An observation, not configuration: the version stays.
    expect(seen.body.version).toBe(2);
  });

  it('refuses an unknown category (409, nearest named), a bad option (400), a client key (403), no directory (404)', async () => {
    await putDirectory('cat-refuse');
    const unknown = await putMap('cat-refuse', { mapping: { Bakry: { value: '17' } } });
    expect(unknown.status).toBe(409);
    expect(unknown.body.error.details).toEqual([
      { field: 'mapping.Bakry', message: expect.stringContaining('bakery (Bakery)') },
    ]);
    const both = await putMap('cat-refuse', { mapping: { bakery: { value: '17', label: 'Baked Goods' } } });
    expect(both.status).toBe(400);
    expect((await putMap('cat-refuse', { mapping: {} }, 'client-a')).status).toBe(403);
    expect((await putMap('no-such-dir', { mapping: { bakery: { value: '1' } } })).status).toBe(404);
    expect((await categoriesOf('no-such-dir')).status).toBe(404);
    expect((await categoriesOf('cat-refuse')).body).toMatchObject({ mapping: {}, version: 1 });
  });
});
