import { cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  makeMigrateTrigger,
  migrateTriggerDepsFromEnv,
  migrationsDirFromEnv,
} from '#functions/migrate/trigger';
import { ConfigError } from '#shared/env';
import { DEFAULT_MIGRATIONS_DIR } from '#shared/migrate';
import { eventually, type TestDatabase, testDatabase } from '#test/services';

const shipped = async () => (await readdir(DEFAULT_MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();

/** The request-path URL (through PgBouncer in pooler mode) and the direct one migrations use. */
const envOf = (t: TestDatabase) => ({ DATABASE_URL: t.url, DATABASE_DIRECT_URL: t.directUrl });

/**
 * The migrate sessions still open, once any the handler closed have gone: a backend leaves
 * pg_stat_activity a moment after its client disconnects, so 0 is waited for (a leaked session stays).
 */
async function migrateSessions(t: TestDatabase): Promise<number> {
  const count = async () => {
    const { rows } = await t.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'formfleet-migrate'`,
    );
    return rows[0]?.n ?? -1;
  };
  return eventually('the migrate sessions to close', async () => ((await count()) === 0 ? 0 : undefined), {
    timeoutMs: 5_000,
    intervalMs: 50,
  }).catch(count);
}

describe('migrate-on-deploy trigger', () => {
  let empty: TestDatabase;
  let existing: TestDatabase;
  let broken: TestDatabase;
  let brokenDir: string;

  beforeAll(async () => {
    [empty, existing, broken] = await Promise.all([
      testDatabase('trigger_empty', { migrate: false }),
      testDatabase('trigger_existing'),
      testDatabase('trigger_broken', { migrate: false }),
    ]);
    brokenDir = await mkdtemp(join(tmpdir(), 'ff-migrations-'));
    await cp(DEFAULT_MIGRATIONS_DIR, brokenDir, { recursive: true });
    await writeFile(
      join(brokenDir, '999_broken.sql'),
      'CREATE TABLE trigger_probe (id int);\nSELECT no_such_column FROM trigger_probe;\n',
    );
  });
  afterAll(async () => {
    await Promise.all([empty?.close(), existing?.close(), broken?.close()]);
    if (brokenDir) await rm(brokenDir, { recursive: true, force: true });
  });

  it('applies every shipped migration to an empty database, then has nothing to do on the next deploy', async () => {
    const handler = makeMigrateTrigger(await migrateTriggerDepsFromEnv(envOf(empty)));

    const first = await handler();
    const second = await handler();

    expect(first.applied).toEqual(await shipped());
    expect(second).toEqual({ applied: [], skipped: await shipped() });
    const { rows } = await empty.db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
    expect(rows[0]?.n).toBe((await shipped()).length);
    expect(await migrateSessions(empty)).toBe(0);
  });

  it('leaves an existing Postgres that is already up to date untouched', async () => {
    const handler = makeMigrateTrigger(await migrateTriggerDepsFromEnv(envOf(existing)));

    const report = await handler();

    expect(report).toEqual({ applied: [], skipped: await shipped() });
  });

  it('fails the deploy on a broken migration, naming the file, and rolls that file back', async () => {
    const handler = makeMigrateTrigger(
      await migrateTriggerDepsFromEnv({ ...envOf(broken), MIGRATIONS_DIR: brokenDir }),
    );

    await expect(handler()).rejects.toThrow(/999_broken\.sql failed and was rolled back/);

    const { rows } = await broken.db.query<{ version: string }>(
      'SELECT version FROM schema_migrations ORDER BY version',
    );
    expect(rows.map((r) => `${r.version}`)).toEqual((await shipped()).map((f) => f.slice(0, 3)));
    const probe = await broken.db.query(`SELECT to_regclass('trigger_probe') AS t`);
    expect(probe.rows[0]).toEqual({ t: null });
    expect(await migrateSessions(broken)).toBe(0);
  });

  it('finds the migrations beside the handler in Lambda, or where MIGRATIONS_DIR says', () => {
    expect(migrationsDirFromEnv({ LAMBDA_TASK_ROOT: '/var/task' })).toBe('/var/task/sql');
    expect(migrationsDirFromEnv({ LAMBDA_TASK_ROOT: '/var/task', MIGRATIONS_DIR: '/x' })).toBe('/x');
    expect(migrationsDirFromEnv({})).toBe(DEFAULT_MIGRATIONS_DIR);
  });

  it('builds the trigger in its Lambda entry at cold start from the environment', async () => {
    const saved = { ...process.env };
    try {
      Object.assign(process.env, envOf(existing));
      vi.resetModules();
      const entry = await import('#functions/migrate-trigger');

      const report = await entry.handler();

      expect(report).toEqual({ applied: [], skipped: await shipped() });
    } finally {
      process.env = saved;
    }
  });

  it('refuses to start without a database, naming both ways to give one', async () => {
    const attempt = migrateTriggerDepsFromEnv({});

    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(migrateTriggerDepsFromEnv({})).rejects.toThrow(/DATABASE_URL or DATABASE_SECRET_ARN/);
  });
});
