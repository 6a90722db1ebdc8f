/**
 * The worker's in-container caches on real Postgres: a second lookup is a hit, and a change made by the API
 * (from another container, so only the row's version says so) is never served stale.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CachedCustomerStore, CachedDirectoryStore } from '#functions/worker/cached-stores';
import { PgCustomerStore } from '#shared/customer-store';
import { PgDirectoryStore } from '#shared/directory-store';
import type { Metrics } from '#shared/telemetry';
import { type TestDatabase, testDatabase } from '#test/services';
import { profile, simpleDirectory } from '#test/worker-jobs';

let t: TestDatabase;
const counted: Record<string, number> = {};
const metrics = {
  addMetric: (name: string, _unit: unknown, value: number) => {
    counted[name] = (counted[name] ?? 0) + value;
  },
} as unknown as Metrics;

beforeAll(async () => {
  t = await testDatabase('worker_caches');
});
afterAll(async () => {
  await t?.close();
});

const directory = (id: string, name = 'Cached Directory') => simpleDirectory(id, undefined, name);

describe('worker caches', () => {
  it('serves a customer profile from cache until the API changes it', async () => {
    const store = new PgCustomerStore(t.db);
    const created = await store.create('owner', profile('Cache Me Inc'));
    const cached = new CachedCustomerStore(t.db, store, metrics);

    expect((await cached.get(created.id))?.name).toBe('Cache Me Inc');
    expect((await cached.get(created.id))?.name).toBe('Cache Me Inc');
    expect(counted).toMatchObject({ CustomerCacheMiss: 1, CustomerCacheHit: 1 });

    await store.update(created.id, { name: 'Renamed Inc' });
    expect((await cached.get(created.id))?.name).toBe('Renamed Inc');
    expect(counted.CustomerCacheMiss).toBe(2);
    expect(await cached.get('not-a-uuid')).toBeUndefined();
    expect(await cached.get('00000000-0000-4000-8000-000000000000')).toBeUndefined();
  });

  it('serves definitions from cache until a new version or a soft delete', async () => {
    const store = new PgDirectoryStore(t.db);
    await store.upsert(directory('cache-a'));
    await store.upsert(directory('cache-b'));
    const cached = new CachedDirectoryStore(t.db, store, metrics);

    expect((await cached.getMany(['cache-b', 'cache-a'])).map((d) => d.id)).toEqual(['cache-a', 'cache-b']);
    await cached.getMany(['cache-a', 'cache-b']);
    expect(counted).toMatchObject({ DirectoryCacheMiss: 2, DirectoryCacheHit: 2 });

    await store.upsert(directory('cache-a', 'Renamed Directory'));
    await t.db.query(`UPDATE directories SET active = false WHERE id = 'cache-b'`);
    const fresh = await cached.getMany(['cache-a', 'cache-b', 'cache-gone']);
    expect(fresh.map((d) => [d.id, d.name, d.active])).toEqual([
      ['cache-a', 'Renamed Directory', true],
      ['cache-b', 'Cached Directory', false],
    ]);
    expect(counted.DirectoryCacheMiss).toBe(4);
    expect(await cached.getMany([])).toEqual([]);
  });
});
