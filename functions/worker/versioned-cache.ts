/**
 * An in-container cache whose entries carry the version they were read at. A warm Lambda keeps customer
 * profiles and directory definitions here; the TTL bounds how long an entry may live, the size bound how
 * much memory it may take (least recently used goes first), and the caller's version check decides whether
 * an entry is still the truth. Hand-written: it is a Map with three rules, smaller than any dependency.
 */
export interface VersionedCacheOptions {
  ttlMs: number;
  maxEntries: number;
  now?: () => number;
}

interface Entry<V> {
  value: V;
  version: string;
  storedAt: number;
}

export class VersionedCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly now: () => number;

  constructor(private readonly options: VersionedCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The cached value if it was stored at `version` and has not outlived the TTL. */
  get(key: string, version: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.version !== version || this.now() - entry.storedAt > this.options.ttlMs) {
      this.entries.delete(key);
      return undefined;
    }
    // Refresh recency: Map iteration order is insertion order.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V, version: string): void {
    this.entries.delete(key);
    this.entries.set(key, { value, version, storedAt: this.now() });
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  /** Drops one entry (the API changed it in this container). */
  invalidate(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
