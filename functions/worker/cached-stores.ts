/**
 * Customer profiles and directory definitions, cached in a warm worker container.
 *
 * Why a version check rather than TTL alone: the API runs in other containers, so it cannot reach this
 * cache to invalidate it, and a definition fixed by an operator must take effect on the next job, not a day
 * later. Every lookup therefore asks Postgres for the rows' versions — customers.updated_at, and
 * directories.version with updated_at (a soft delete flips `active` without a new version) — one small
 * indexed query per job, and fetches the full rows only for entries that are missing, expired or changed.
 * The saving is the definitions' JSON (kilobytes each, tens per job) and their parsing; the TTL (policy
 * CACHE_TTL) bounds memory and staleness of anything the version would not catch. `invalidate` is there
 * for code running in the same container (the local runtime) that changes a row.
 */
import { CACHE_TTL } from '#policy';
import { type Customer, type CustomerStore, isUuid } from '#shared/customer-store';
import type { Sql } from '#shared/db';
import type { Directory, DirectoryStore } from '#shared/directory-store';
import { type Metrics, MetricUnit } from '#shared/telemetry';
import { VersionedCache } from './versioned-cache.ts';

const MAX_CUSTOMERS = 1_000;
const MAX_DIRECTORIES = 2_000;

export class CachedCustomerStore implements Pick<CustomerStore, 'get'> {
  readonly cache: VersionedCache<Customer>;

  constructor(
    private readonly sql: Sql,
    private readonly inner: Pick<CustomerStore, 'get'>,
    private readonly metrics: Metrics,
    options: { ttlMs?: number; now?: () => number } = {},
  ) {
    this.cache = new VersionedCache({
      ttlMs: options.ttlMs ?? CACHE_TTL.customerSeconds * 1000,
      maxEntries: MAX_CUSTOMERS,
      ...(options.now ? { now: options.now } : {}),
    });
  }

  async get(id: string): Promise<Customer | undefined> {
    if (!isUuid(id)) return undefined;
    const { rows } = await this.sql.query<{ updated_at: Date }>(
      'SELECT updated_at FROM customers WHERE id = $1',
      [id],
    );
    const version = rows[0]?.updated_at.toISOString();
    if (version === undefined) {
      this.cache.invalidate(id);
      return undefined;
    }
    const cached = this.cache.get(id, version);
    if (cached) {
      this.metrics.addMetric('CustomerCacheHit', MetricUnit.Count, 1);
      return cached;
    }
    this.metrics.addMetric('CustomerCacheMiss', MetricUnit.Count, 1);
    const customer = await this.inner.get(id);
    if (customer) this.cache.set(id, customer, customer.updatedAt);
    return customer;
  }

  invalidate(id: string): void {
    this.cache.invalidate(id);
  }
}

export class CachedDirectoryStore implements Pick<DirectoryStore, 'getMany'> {
  readonly cache: VersionedCache<Directory>;

  constructor(
    private readonly sql: Sql,
    private readonly inner: Pick<DirectoryStore, 'getMany'>,
    private readonly metrics: Metrics,
    options: { ttlMs?: number; now?: () => number } = {},
  ) {
    this.cache = new VersionedCache({
      ttlMs: options.ttlMs ?? CACHE_TTL.directorySeconds * 1000,
      maxEntries: MAX_DIRECTORIES,
      ...(options.now ? { now: options.now } : {}),
    });
  }

  async getMany(ids: readonly string[]): Promise<Directory[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.sql.query<{ id: string; version: number; updated_at: Date }>(
      'SELECT id, version, updated_at FROM directories WHERE id = ANY($1::text[])',
      [ids],
    );
    const versions = new Map(rows.map((r) => [r.id, `${r.version}@${r.updated_at.toISOString()}`]));
    const found: Directory[] = [];
    const missing: string[] = [];
    for (const [id, version] of versions) {
      const cached = this.cache.get(id, version);
      if (cached) found.push(cached);
      else missing.push(id);
    }
    if (found.length > 0) this.metrics.addMetric('DirectoryCacheHit', MetricUnit.Count, found.length);
    if (missing.length > 0) {
      this.metrics.addMetric('DirectoryCacheMiss', MetricUnit.Count, missing.length);
      for (const directory of await this.inner.getMany(missing)) {
        // Stored under the version read first: if it changed in between, the next lookup refetches.
        this.cache.set(directory.id, directory, versions.get(directory.id) as string);
        found.push(directory);
      }
    }
    for (const id of ids) if (!versions.has(id)) this.cache.invalidate(id);
    return found.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  invalidate(id: string): void {
    this.cache.invalidate(id);
  }
}
