/**
 * The one migration entry point: applies sql/NNN_name.sql in order and records each in schema_migrations
 * with a checksum. Re-running is a no-op; an applied file that was edited afterwards is refused.
 *
 * Each migration runs in its own transaction under a transaction-scoped advisory lock, and checks again
 * under the lock whether another run (a second deploy, parallel tests) applied it meanwhile, so concurrent
 * runs serialise without any session state: this part works even through a transaction pooler.
 *
 * A file marked `-- formfleet:no-transaction` (for what Postgres refuses inside a transaction, such as
 * CREATE INDEX CONCURRENTLY) runs statement by statement, outside a transaction, under a session advisory
 * lock on the same key. That needs a direct (session) connection: the lock is checked before every
 * statement, and a run that finds it gone (a pooler moved the session) stops with a message that says so.
 * Such a migration cannot be rolled back: each of its statements must be safe to run again, and the run
 * fails if it leaves an invalid index behind (what a failed concurrent build leaves).
 *
 * Lock waits are bounded (policy DATABASE.migrationLockWaitSeconds): a lock left behind fails the deploy
 * with a clear message instead of hanging it.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { DATABASE } from '#policy';

/** sql/ at the repository root; the Lambda bundle copies it beside the handler (see lib/). */
export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));

const FILE_PATTERN = /^(\d{3})_([a-z0-9_]+)\.sql$/;
/** The marker line that runs a migration outside a transaction. */
export const NO_TRANSACTION_MARKER = '-- formfleet:no-transaction';
const MARKER_PATTERN = /^--\s*formfleet:no-transaction\s*$/m;
/** Arbitrary constant naming formfleet's migration lock (one bigint key: classid 0, objid this). */
const LOCK_KEY = 0x666f726d; // "form"

export interface Migration {
  version: string;
  name: string;
  file: string;
  sql: string;
  checksum: string;
  /** False for a file marked `-- formfleet:no-transaction`: it runs statement by statement. */
  transactional: boolean;
}

export interface MigrationReport {
  applied: string[];
  skipped: string[];
}

export interface MigrateOptions {
  dir?: string;
  log?: (line: string) => void;
  /** Longest wait for another run's lock. @default DATABASE.migrationLockWaitSeconds (policy) */
  lockWaitMs?: number;
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
    const transactional = !MARKER_PATTERN.test(sql);
    if (!transactional && splitStatements(sql).length === 0) {
      throw new Error(`migration ${file} is marked ${NO_TRANSACTION_MARKER} but holds no statement`);
    }
    migrations.push({
      version,
      name,
      file,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
      transactional,
    });
  }
  return migrations;
}

/**
 * Splits SQL into statements at top-level semicolons, keeping quoted strings, quoted identifiers, dollar
 * quotes and comments intact; statements that are only comments or blanks are dropped. (Written by hand:
 * it only has to be right for the migrations' own SQL, and no kept library splits Postgres SQL.)
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  const push = (end: number) => {
    const text = sql.slice(start, end).trim();
    if (text.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, '').trim()) statements.push(text);
  };
  while (i < sql.length) {
    const c = sql[i] as string;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end + 1;
    } else if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? sql.length : end + 2;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < sql.length) {
        if (sql[j] === c && sql[j + 1] === c) j += 2;
        else if (sql[j] === c) break;
        else j++;
      }
      i = j + 1;
    } else if (c === '$') {
      const tag = /^\$[A-Za-z_][A-Za-z0-9_]*\$|^\$\$/.exec(sql.slice(i));
      if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        i = end === -1 ? sql.length : end + tag[0].length;
      } else i++;
    } else if (c === ';') {
      push(i);
      i++;
      start = i;
    } else i++;
  }
  push(sql.length);
  return statements;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class MigrationLockTimeoutError extends Error {
  override readonly name = 'MigrationLockTimeoutError';
  constructor(waitedMs: number) {
    super(
      `another migration run held the migration lock for ${Math.round(waitedMs / 1000)} s (a second deploy still running, or a lock left on a pooled connection: migrations need a direct connection, DATABASE_DIRECT_SECRET_ARN); try again once it is done`,
    );
  }
}

/** Takes the migration lock for the session (outside any transaction), polling until `waitMs` has passed. */
async function takeSessionLock(client: pg.ClientBase, waitMs: number): Promise<void> {
  const started = Date.now();
  for (let round = 0; ; round++) {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [LOCK_KEY]);
    if (rows[0]?.ok) return;
    const waited = Date.now() - started;
    if (waited >= waitMs) throw new MigrationLockTimeoutError(waited);
    await sleep(Math.min(100 * 2 ** Math.min(round, 4), 1_000, Math.max(10, waitMs - waited)));
  }
}

/** Whether this backend holds the session lock (false when a pooler moved us to another server connection). */
async function holdsSessionLock(client: pg.ClientBase): Promise<boolean> {
  const { rows } = await client.query<{ held: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()
              AND classid = 0 AND objid = $1 AND objsubid = 1 AND granted) AS held`,
    [LOCK_KEY],
  );
  return rows[0]?.held ?? false;
}

const reasonOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Applies pending migrations through `client` (one connection; a direct one for no-transaction files). */
export async function migrate(client: pg.ClientBase, options: MigrateOptions = {}): Promise<MigrationReport> {
  const log = options.log ?? (() => {});
  const waitMs = options.lockWaitMs ?? DATABASE.migrationLockWaitSeconds * 1000;
  const migrations = await loadMigrations(options.dir);
  await inTransactionUnderLock(client, waitMs, async () => {
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    text PRIMARY KEY,
      name       text NOT NULL,
      checksum   text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
  });
  const applied = await appliedChecksums(client);
  const report: MigrationReport = { applied: [], skipped: [] };
  for (const m of migrations) {
    if (isApplied(m, applied.get(m.version))) {
      report.skipped.push(m.file);
      continue;
    }
    const ran = m.transactional
      ? await applyInTransaction(client, m, waitMs)
      : await applyOutsideTransaction(client, m, waitMs);
    (ran ? report.applied : report.skipped).push(m.file);
    if (ran) log(`applied ${m.file}`);
  }
  return report;
}

async function appliedChecksums(client: pg.ClientBase): Promise<Map<string, string>> {
  const { rows } = await client.query<{ version: string; checksum: string }>(
    'SELECT version, checksum FROM schema_migrations',
  );
  return new Map(rows.map((r) => [r.version, r.checksum]));
}

/** True if applied (and unchanged since); throws if the file changed after it was applied. */
function isApplied(m: Migration, checksum: string | undefined): boolean {
  if (checksum === undefined) return false;
  if (checksum !== m.checksum) {
    throw new Error(`migration ${m.file} was changed after it was applied; add a new migration instead`);
  }
  return true;
}

async function inTransaction<T>(client: pg.ClientBase, fn: () => Promise<T>): Promise<T> {
  // No statement timeout for migrations (an index build may take minutes; the trigger's timeout bounds it).
  await client.query('BEGIN; SET LOCAL statement_timeout = 0');
  try {
    const result = await fn();
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/**
 * `fn` in a transaction holding the migration lock (transaction-scoped), polling until `waitMs` has passed.
 * Each try that finds the lock taken ends its transaction before waiting: a transaction left open while
 * polling would hold back the other run's CREATE INDEX CONCURRENTLY (it waits for every older transaction)
 * while that run holds the lock this one waits for, and both would stall until the wait ran out.
 */
async function inTransactionUnderLock<T>(
  client: pg.ClientBase,
  waitMs: number,
  fn: () => Promise<T>,
): Promise<T> {
  const started = Date.now();
  const busy = Symbol('busy');
  for (let round = 0; ; round++) {
    const outcome = await inTransaction(client, async () => {
      const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [
        LOCK_KEY,
      ]);
      return rows[0]?.ok ? await fn() : busy;
    });
    if (outcome !== busy) return outcome as T;
    const waited = Date.now() - started;
    if (waited >= waitMs) throw new MigrationLockTimeoutError(waited);
    await sleep(Math.min(100 * 2 ** Math.min(round, 4), 1_000, Math.max(10, waitMs - waited)));
  }
}

async function record(client: pg.ClientBase, m: Migration): Promise<void> {
  await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
    m.version,
    m.name,
    m.checksum,
  ]);
}

/**
 * Returns false when another run applied it while this one waited for the lock. The wait is between
 * transactions, never inside one: a transaction left open while polling would hold back the other run's
 * CREATE INDEX CONCURRENTLY (it waits for every older transaction), while that run holds the lock this one
 * waits for.
 */
async function applyInTransaction(client: pg.ClientBase, m: Migration, waitMs: number): Promise<boolean> {
  try {
    return await inTransactionUnderLock(client, waitMs, async () => {
      const { rows } = await client.query<{ checksum: string }>(
        'SELECT checksum FROM schema_migrations WHERE version = $1',
        [m.version],
      );
      if (isApplied(m, rows[0]?.checksum)) return false;
      await client.query(m.sql);
      await record(client, m);
      return true;
    });
  } catch (err) {
    if (err instanceof MigrationLockTimeoutError || /was changed after it was applied/.test(reasonOf(err))) {
      throw err;
    }
    throw new Error(`migration ${m.file} failed and was rolled back: ${reasonOf(err)}`, { cause: err });
  }
}

const NOT_IN_A_SESSION =
  'the migration lock is no longer held by this connection between statements: it does not keep a session (a transaction pooler?). Migrations marked no-transaction need a direct connection: set DATABASE_DIRECT_SECRET_ARN (DATABASE_DIRECT_URL locally)';

async function applyOutsideTransaction(
  client: pg.ClientBase,
  m: Migration,
  waitMs: number,
): Promise<boolean> {
  const statements = splitStatements(m.sql);
  await takeSessionLock(client, waitMs);
  let done = 0;
  try {
    if (!(await holdsSessionLock(client))) throw new Error(NOT_IN_A_SESSION);
    const { rows } = await client.query<{ checksum: string }>(
      'SELECT checksum FROM schema_migrations WHERE version = $1',
      [m.version],
    );
    if (isApplied(m, rows[0]?.checksum)) return false;
    await client.query('SET statement_timeout = 0');
    for (const statement of statements) {
      if (!(await holdsSessionLock(client))) throw new Error(NOT_IN_A_SESSION);
      await client.query(statement);
      done += 1;
    }
    const invalid = await client.query<{ index: string }>(
      `SELECT c.relname AS index FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
       WHERE NOT i.indisvalid AND c.relnamespace = to_regnamespace(current_schema()) ORDER BY 1`,
    );
    if (invalid.rows.length > 0) {
      throw new Error(
        `it left invalid index(es) ${invalid.rows.map((r) => r.index).join(', ')} (a concurrent build that failed); drop them (DROP INDEX CONCURRENTLY) and deploy again`,
      );
    }
    await record(client, m);
    return true;
  } catch (err) {
    if (/was changed after it was applied/.test(reasonOf(err))) throw err;
    throw new Error(
      `migration ${m.file} (${NO_TRANSACTION_MARKER}) failed after ${done} of ${statements.length} statement(s) and was NOT rolled back: ${reasonOf(err)}. Its statements must be safe to run again (IF NOT EXISTS; DROP INDEX CONCURRENTLY IF EXISTS before CREATE INDEX CONCURRENTLY); fix the cause and deploy again`,
      { cause: err },
    );
  } finally {
    await client.query('RESET statement_timeout').catch(() => {});
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => {});
  }
}

/** What `sql/` holds that the database has not applied yet (and what it applied that `sql/` lacks). */
export interface MigrationStatus {
  applied: string[];
  pending: string[];
  /** Versions recorded in the database that no file in the directory has (a newer deploy ran?). */
  unknown: string[];
  /** Files whose checksum differs from what was applied (edited after the fact). */
  changed: string[];
}

/** Compares the migrations directory with the database's schema_migrations (read only). */
export async function migrationStatus(
  client: Pick<pg.ClientBase, 'query'>,
  dir: string = DEFAULT_MIGRATIONS_DIR,
): Promise<MigrationStatus> {
  const migrations = await loadMigrations(dir);
  const { rows: exists } = await client.query<{ t: string | null }>(
    `SELECT to_regclass('schema_migrations')::text AS t`,
  );
  const applied = exists[0]?.t
    ? new Map(
        (
          await client.query<{ version: string; checksum: string }>(
            'SELECT version, checksum FROM schema_migrations',
          )
        ).rows.map((r) => [r.version, r.checksum]),
      )
    : new Map<string, string>();
  const known = new Set(migrations.map((m) => m.version));
  return {
    applied: migrations.filter((m) => applied.has(m.version)).map((m) => m.file),
    pending: migrations.filter((m) => !applied.has(m.version)).map((m) => m.file),
    unknown: [...applied.keys()].filter((v) => !known.has(v)).sort(),
    changed: migrations
      .filter((m) => applied.has(m.version) && applied.get(m.version) !== m.checksum)
      .map((m) => m.file),
  };
}
