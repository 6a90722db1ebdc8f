/** Per-file isolation inside the shared test services: a fresh migrated database, a queue prefix. */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { createScratchDatabase } from '#local/services/postgres';
import { createDatabase, type Database } from '#shared/db';
import { migrate } from '#shared/migrate';

export const uniqueName = (label: string) =>
  `${label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .slice(0, 30)}_${randomBytes(4).toString('hex')}`;

export interface TestDatabase {
  db: Database;
  /** The database's URL for handlers and pools: through PgBouncer in pooler mode, direct otherwise. */
  url: string;
  /** The database on the server itself (a session connection: migrations, pg_stat_activity checks). */
  directUrl: string;
  close(): Promise<void>;
}

/** Whether the tests run through a transaction pooler (FORMFLEET_TEST_POOLER=pgbouncer). */
export const throughPooler = () => inject('pgPoolerUrl') !== '';

/**
 * A new database on the shared server with every migration applied (or none, with migrate: false),
 * migrated through `url`: in pooler mode that is PgBouncer, which the migrations' transaction-scoped
 * locking is built for.
 */
export async function testDatabase(
  label: string,
  options: { migrate?: boolean } = {},
): Promise<TestDatabase> {
  const scratch = await createScratchDatabase(inject('pgServerUrl'), `ff_${uniqueName(label)}`);
  const url = throughPooler() ? poolerUrlFor(scratch.url) : scratch.url;
  const db = createDatabase({ connectionString: url, max: 10 });
  if (options.migrate !== false) {
    const client = await db.pool.connect();
    try {
      await migrate(client);
    } finally {
      client.release();
    }
  }
  return {
    db,
    url,
    directUrl: scratch.url,
    async close() {
      await db.end();
      await scratch.drop();
    },
  };
}

/** `serverDatabaseUrl`'s database reached through the tests' PgBouncer. */
function poolerUrlFor(serverDatabaseUrl: string): string {
  const pooler = new URL(inject('pgPoolerUrl'));
  const url = new URL(serverDatabaseUrl);
  url.host = pooler.host;
  return url.toString();
}

export const motoEndpoint = () => inject('motoEndpoint');

/** Polls until `check` returns a value (not undefined) or the time is up. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  { timeoutMs = 30_000, intervalMs = 100 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
