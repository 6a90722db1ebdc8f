/**
 * The one migration entry point: applies sql/NNN_name.sql in order, each in its own transaction, and
 * records it in schema_migrations with a checksum. Re-running is a no-op; an applied file that was edited
 * afterwards is refused. A session advisory lock serialises concurrent runs (two deploys, parallel tests).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

/** sql/ at the repository root; the Lambda bundle copies it beside the handler (see lib/). */
export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));

const FILE_PATTERN = /^(\d{3})_([a-z0-9_]+)\.sql$/;
/** Arbitrary constant naming formfleet's migration lock. */
const LOCK_KEY = 0x666f726d; // "form"

export interface Migration {
  version: string;
  name: string;
  file: string;
  sql: string;
  checksum: string;
}

export interface MigrationReport {
  applied: string[];
  skipped: string[];
}

export async function loadMigrations(dir: string = DEFAULT_MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const seen = new Map<string, string>();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE_PATTERN.exec(file);
    if (!match) throw new Error(`migration file name must look like 001_name.sql: ${file}`);
    const [, version, name] = match as unknown as [string, string, string];
    const clash = seen.get(version);
    if (clash) throw new Error(`two migrations share version ${version}: ${clash} and ${file}`);
    seen.set(version, file);
    const sql = await readFile(join(dir, file), 'utf8');
    migrations.push({ version, name, file, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  return migrations;
}

/** Applies pending migrations through `client` (one dedicated connection, needed for the session lock). */
export async function migrate(
  client: pg.ClientBase,
  options: { dir?: string; log?: (line: string) => void } = {},
): Promise<MigrationReport> {
  const log = options.log ?? (() => {});
  const migrations = await loadMigrations(options.dir);
  await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    text PRIMARY KEY,
      name       text NOT NULL,
      checksum   text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ version: string; checksum: string }>(
      'SELECT version, checksum FROM schema_migrations',
    );
    const applied = new Map(rows.map((r) => [r.version, r.checksum]));
    const report: MigrationReport = { applied: [], skipped: [] };
    for (const m of migrations) {
      const previous = applied.get(m.version);
      if (previous !== undefined) {
        if (previous !== m.checksum) {
          throw new Error(
            `migration ${m.file} was changed after it was applied; add a new migration instead`,
          );
        }
        report.skipped.push(m.file);
        continue;
      }
      try {
        await client.query('BEGIN');
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
          m.version,
          m.name,
          m.checksum,
        ]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        const reason = err instanceof Error ? err.message : String(err);
        throw new Error(`migration ${m.file} failed and was rolled back: ${reason}`, { cause: err });
      }
      report.applied.push(m.file);
      log(`applied ${m.file}`);
    }
    return report;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => {});
  }
}
