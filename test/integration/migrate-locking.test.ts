/**
 * The migration runner's locking and its no-transaction migrations, on real Postgres: a file marked
 * `-- formfleet:no-transaction` builds an index CONCURRENTLY (which Postgres refuses inside BEGIN); a
 * failed one says it was not rolled back, and an invalid index left behind is caught; concurrent runs
 * apply each file once; a lock held elsewhere fails the run in bounded time instead of hanging it; and
 * through a transaction pooler, ordinary migrations still work while a no-transaction one is refused
 * with a message naming the direct connection.
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PgBouncer, startPgBouncer } from '#local/services/pgbouncer';
import { connectSession, type Session } from '#shared/db';
import {
  DEFAULT_MIGRATIONS_DIR,
  loadMigrations,
  MigrationLockTimeoutError,
  migrate,
  NO_TRANSACTION_MARKER,
} from '#shared/migrate';
import { type TestDatabase, testDatabase } from '#test/services';

const dirs: string[] = [];
/** For a run expected to fail: resolving is a test failure with a clear message. */
const failed = (report: unknown): Error => new Error(`expected a failure, got ${JSON.stringify(report)}`);
const databases: TestDatabase[] = [];

/** The shipped migrations plus `extra` files. */
async function migrationsWith(extra: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ff-migrations-'));
  dirs.push(dir);
  await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
  for (const [file, sql] of Object.entries(extra)) await writeFile(join(dir, file), sql);
  return dir;
}

async function freshDatabase(label: string, migrated = true): Promise<TestDatabase> {
  const t = await testDatabase(label, { migrate: migrated });
  databases.push(t);
  return t;
}

/** A session on the server itself (what DATABASE_DIRECT_URL gives the migrate trigger). */
const direct = (t: TestDatabase) =>
  connectSession({ connectionString: t.directUrl, applicationName: 'test-migrate' });

async function withSession<T>(t: TestDatabase, fn: (s: Session) => Promise<T>): Promise<T> {
  const session = await direct(t);
  try {
    return await fn(session);
  } finally {
    await session.end();
  }
}

async function indexes(t: TestDatabase, table: string) {
  const { rows } = await t.db.query<{ name: string; valid: boolean }>(
    `SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE i.indrelid = $1::regclass ORDER BY 1`,
    [table],
  );
  return rows;
}

afterAll(async () => {
  for (const t of databases) await t.close().catch(() => {});
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('no-transaction migrations', () => {
  it('build an index CONCURRENTLY, statement by statement, recorded once', async () => {
    const t = await freshDatabase('mig_concurrent');
    const dir = await migrationsWith({
      '998_probe.sql':
        'CREATE TABLE probe (id int, site text);\nINSERT INTO probe SELECT g, g::text FROM generate_series(1, 1000) g;\n',
      '999_probe_index.sql': `${NO_TRANSACTION_MARKER}\n-- Built without locking writes out.\nDROP INDEX CONCURRENTLY IF EXISTS probe_site_idx;\nCREATE INDEX CONCURRENTLY probe_site_idx ON probe (site);\n`,
    });

    const first = await withSession(t, (s) => migrate(s, { dir }));
    const second = await withSession(t, (s) => migrate(s, { dir }));

    expect(first.applied).toEqual(['998_probe.sql', '999_probe_index.sql']);
    expect(second.applied).toEqual([]);
    expect(await indexes(t, 'probe')).toEqual([{ name: 'probe_site_idx', valid: true }]);
    expect((await loadMigrations(dir)).find((m) => m.version === '999')?.transactional).toBe(false);
  });

  it('are needed: the same statement in an ordinary migration fails inside its transaction', async () => {
    const t = await freshDatabase('mig_in_tx');
    const dir = await migrationsWith({
      '999_probe_index.sql': 'CREATE INDEX CONCURRENTLY jobs_probe_idx ON jobs (id);\n',
    });

    const err = await withSession(t, (s) => migrate(s, { dir })).then(failed, (e: unknown) => e as Error);

    expect(err?.message).toMatch(
      /999_probe_index\.sql failed and was rolled back: CREATE INDEX CONCURRENTLY cannot run inside a transaction block/,
    );
  });

  it('say they were not rolled back when one fails, and run again once the cause is fixed', async () => {
    const t = await freshDatabase('mig_fail');
    await t.db.query("CREATE TABLE probe (site text); INSERT INTO probe VALUES ('a'), ('a')");
    const dir = await migrationsWith({
      '999_probe_unique.sql': `${NO_TRANSACTION_MARKER}\nDROP INDEX CONCURRENTLY IF EXISTS probe_site_key;\nCREATE UNIQUE INDEX CONCURRENTLY probe_site_key ON probe (site);\n`,
    });

    const err = await withSession(t, (s) => migrate(s, { dir })).then(failed, (e: unknown) => e as Error);
    expect(err?.message).toMatch(
      /999_probe_unique\.sql \(-- formfleet:no-transaction\) failed after 1 of 2 statement\(s\) and was NOT rolled back: could not create unique index/,
    );
    expect(await indexes(t, 'probe')).toEqual([{ name: 'probe_site_key', valid: false }]);

    await t.db.query(`DELETE FROM probe WHERE ctid = (SELECT max(ctid) FROM probe)`);
    const report = await withSession(t, (s) => migrate(s, { dir }));

    expect(report.applied).toEqual(['999_probe_unique.sql']);
    expect(await indexes(t, 'probe')).toEqual([{ name: 'probe_site_key', valid: true }]);
  });

  it('refuse to record a migration that leaves an invalid index behind', async () => {
    const t = await freshDatabase('mig_invalid');
    await t.db.query("CREATE TABLE probe (site text); INSERT INTO probe VALUES ('a'), ('a')");
    // A failed concurrent build, then a migration that skips the (invalid) index by name.
    await withSession(t, (s) =>
      s.query('CREATE UNIQUE INDEX CONCURRENTLY probe_site_key ON probe (site)'),
    ).catch(() => {});
    const dir = await migrationsWith({
      '999_probe_unique.sql': `${NO_TRANSACTION_MARKER}\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS probe_site_key ON probe (site);\n`,
    });

    const err = await withSession(t, (s) => migrate(s, { dir })).then(failed, (e: unknown) => e as Error);

    expect(err?.message).toMatch(/left invalid index\(es\) probe_site_key .*DROP INDEX CONCURRENTLY/);
    const { rowCount } = await t.db.query(`SELECT 1 FROM schema_migrations WHERE version = '999'`);
    expect(rowCount).toBe(0);
  });
});

describe('concurrent runs and held locks', () => {
  it('two runs at once apply every file exactly once between them', async () => {
    const t = await freshDatabase('mig_race', false);
    const files = (await loadMigrations()).map((m) => m.file);

    const [a, b] = await Promise.all([withSession(t, (s) => migrate(s)), withSession(t, (s) => migrate(s))]);

    expect([...a.applied, ...b.applied].sort()).toEqual(files);
    expect([...a.skipped, ...b.skipped].sort()).toEqual(files);
    const { rows } = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
    expect(rows[0]?.n).toBe(files.length);
  });

  it('a lock held elsewhere fails the run in bounded time, naming the likely causes', async () => {
    const t = await freshDatabase('mig_held', false);
    const holder = await direct(t);
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [0x666f726d]);
      const started = Date.now();

      const err = await withSession(t, (s) => migrate(s, { lockWaitMs: 400 })).catch((e: unknown) => e);

      expect(err).toBeInstanceOf(MigrationLockTimeoutError);
      expect((err as Error).message).toMatch(/held the migration lock .*a second deploy.*direct connection/);
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await holder.end();
    }
  });
});

describe('through a transaction pooler (PgBouncer)', () => {
  let bouncer: PgBouncer;
  beforeAll(async () => {
    const t = await freshDatabase('mig_pooler_server', false);
    bouncer = await startPgBouncer({
      serverUrl: t.directUrl,
      poolMode: 'transaction',
      poolSize: 4,
    });
  });
  afterAll(async () => bouncer?.stop());

  it('applies ordinary migrations safely (transaction-scoped locks only)', async () => {
    const t = await freshDatabase('mig_pooled', false);
    const session = await connectSession({
      connectionString: bouncer.urlFor(t.directUrl),
      applicationName: 'test-migrate',
    });
    try {
      const report = await migrate(session);
      expect(report.applied).toEqual((await loadMigrations()).map((m) => m.file));
    } finally {
      await session.end();
    }
  });

  it('refuses a no-transaction migration whose statements land on different server sessions', async () => {
    const t = await freshDatabase('mig_pooled_notx');
    await t.db.query('CREATE TABLE probe (site text)');
    const dir = await migrationsWith({
      '999_probe_index.sql': `${NO_TRANSACTION_MARKER}\nCREATE INDEX CONCURRENTLY IF NOT EXISTS probe_site_idx ON probe (site);\n`,
    });
    // A quiet PgBouncer keeps handing one client the same server connection; a busy one does not. Two real
    // sessions behind one client, taking statements in turn, make the busy case happen every time.
    const url = bouncer.urlFor(t.directUrl);
    const [a, b] = await Promise.all(
      [1, 2].map(() => connectSession({ connectionString: url, applicationName: 'test-migrate' })),
    );
    let turn = 0;
    const alternating = {
      query: (...args: Parameters<Session['query']>) =>
        ((turn++ % 2 === 0 ? a : b) as Session).query(...args),
    } as unknown as Session;
    try {
      const err = await migrate(alternating, { dir, lockWaitMs: 2_000 }).then(
        failed,
        (e: unknown) => e as Error,
      );
      expect(err?.message).toMatch(
        /999_probe_index\.sql .*NOT rolled back: the migration lock is no longer held by this connection .*a transaction pooler\?.*DATABASE_DIRECT_SECRET_ARN/,
      );
    } finally {
      await Promise.all([a?.end(), b?.end()]);
    }
    const { rowCount } = await t.db.query(`SELECT 1 FROM schema_migrations WHERE version = '999'`);
    expect(rowCount).toBe(0);
    expect(await indexes(t, 'probe')).toEqual([]);
  });
});
