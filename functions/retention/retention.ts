/**
 * The retention run (issue 21): for each table in policy RETENTION.tables, rows older than their period that
 * no live job or listing needs are written to the records bucket (archive/<table>/<day>/<batch>.jsonl.gz)
 * and deleted, one bounded batch per short transaction:
 *
 *   BEGIN; SET LOCAL lock_timeout, statement_timeout, idle_in_transaction_session_timeout;
 *   SELECT keys ... ORDER BY (age, key) LIMIT batch                     -- a window off the age index
 *   SELECT rows of the window WHERE removable FOR UPDATE SKIP LOCKED   -- a row someone holds is skipped
 *   PUT one object per day in the batch (batch number: the day's last committed + 1)
 *   INSERT retention_archives rows; DELETE the rows by key; COMMIT
 *
 * A crash anywhere before COMMIT leaves the rows and no index row; the next run takes the same numbers and
 * overwrites the objects, so a day is never archived twice nor a row lost. Transaction-scoped everything (no
 * session state; pooler-safe). Rows are taken oldest first with a keyset cursor, so a batch reads only what
 * it takes, and the run stops starting batches when its budget is spent.
 */
import { RETENTION, type RetentionTable } from '#policy';
import type { Sql } from '#shared/db';
import { type ObjectStore, sha256Hex } from '#shared/object-store';
import type { Logger } from '#shared/telemetry';
import { ARCHIVE_CONTENT_TYPE, archiveKey, encodeRows, ident } from './archive.ts';

export interface RetentionOptions {
  tables: readonly RetentionTable[];
  /** Stop starting batches after this long. */
  runBudgetMs: number;
  lockTimeoutMs: number;
  statementTimeoutMs: number;
  uploadTimeoutMs: number;
  pauseBetweenBatchesMs: number;
}

export const retentionOptions = (overrides: Partial<RetentionOptions> = {}): RetentionOptions => ({
  tables: RETENTION.tables,
  runBudgetMs: RETENTION.runBudgetSeconds * 1000,
  lockTimeoutMs: RETENTION.lockTimeoutMs,
  statementTimeoutMs: RETENTION.statementTimeoutMs,
  uploadTimeoutMs: RETENTION.uploadTimeoutMs,
  pauseBetweenBatchesMs: RETENTION.pauseBetweenBatchesMs,
  ...overrides,
});

export interface RetentionDeps {
  db: Sql;
  store: ObjectStore;
  logger: Pick<Logger, 'info' | 'warn'>;
  options: RetentionOptions;
}

export interface TableReport {
  table: string;
  archived: number;
  batches: number;
  objects: number;
  /** The largest batch taken (never above the table's batchSize). */
  largestBatch: number;
  /** The run stopped (budget spent) before this table was done. */
  unfinished: boolean;
}

export interface RetentionReport {
  tables: TableReport[];
  elapsedMs: number;
}

interface Cursor {
  age: string;
  key: string;
}

interface TakenRow {
  k: string;
  age: string;
  day: string;
  row: Record<string, unknown>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The key column's SQL type (and a clear error when the registry names a column the table lacks). */
async function keyType(db: Sql, t: RetentionTable): Promise<string> {
  const { rows } = await db.query<{ column: string; type: string }>(
    `SELECT a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type
     FROM pg_attribute a
     WHERE a.attrelid = to_regclass($1) AND a.attname = ANY($2::text[]) AND a.attnum > 0 AND NOT a.attisdropped`,
    [t.table, [t.key, t.ageColumn]],
  );
  const key = rows.find((r) => r.column === t.key);
  const age = rows.find((r) => r.column === t.ageColumn);
  if (!key || !age) {
    throw new Error(
      `policy RETENTION names ${t.table}.${!key ? t.key : t.ageColumn}, which the database does not have`,
    );
  }
  if (age.type !== 'timestamp with time zone') {
    throw new Error(`policy RETENTION: ${t.table}.${t.ageColumn} is ${age.type}, not timestamptz`);
  }
  return key.type;
}

/** One batch of one table in one transaction: what it archived (0 when nothing was left to take). */
async function archiveBatch(
  deps: RetentionDeps,
  t: RetentionTable,
  type: string,
  cursor: Cursor | undefined,
): Promise<{ taken: TakenRow[]; objects: number; scanned: number; cursor: Cursor | undefined }> {
  const { options } = deps;
  const age = `r.${ident(t.ageColumn)}`;
  const key = `r.${ident(t.key)}`;
  return deps.db.transaction(async (tx) => {
    await tx.query(
      `SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true),
              set_config('idle_in_transaction_session_timeout', $3, true),
              set_config('formfleet.retention', 'archived', true),
              pg_advisory_xact_lock(1919249517, hashtext($4))`,
      [
        `${options.lockTimeoutMs}ms`,
        `${options.statementTimeoutMs}ms`,
        `${options.uploadTimeoutMs + options.statementTimeoutMs}ms`,
        t.table,
      ],
    );
    // The window: the next batchSize rows past their period in (age, key) order, keys only, straight off
    // the age index, so a batch reads at most batchSize entries whatever the planner thinks of the predicate.
    const { rows: window } = await tx.query<{ k: string; age: string }>(
      `SELECT ${key}::text AS k, ${age}::text AS age
       FROM ${ident(t.table)} r
       WHERE ${age} < now() - make_interval(days => $1)
         ${cursor ? `AND (${age}, ${key}) > ($2::timestamptz, $3::${type})` : ''}
       ORDER BY ${age}, ${key}
       LIMIT ${Math.trunc(t.batchSize)}`,
      cursor ? [t.keepDays, cursor.age, cursor.key] : [t.keepDays],
    );
    const last = window.at(-1);
    const end = { scanned: window.length, cursor: last ? { age: last.age, key: last.k } : cursor };
    if (window.length === 0) return { taken: [], objects: 0, ...end };
    // Of those, the rows no live job or listing needs and nobody else holds, locked, as JSON.
    const { rows: taken } = await tx.query<TakenRow>(
      `SELECT ${key}::text AS k, ${age}::text AS age,
              to_char(${age} AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
              to_jsonb(r)${t.archivedWith ? ` || jsonb_build_object('with', ${t.archivedWith})` : ''} AS row
       FROM ${ident(t.table)} r
       WHERE ${key} = ANY($1::${type}[])
         ${t.removableWhen ? `AND (${t.removableWhen})` : ''}
       ORDER BY ${age}, ${key}
       FOR UPDATE OF r SKIP LOCKED`,
      [window.map((w) => w.k)],
    );
    if (taken.length === 0) return { taken, objects: 0, ...end };

    const days = new Map<string, TakenRow[]>();
    for (const row of taken) days.set(row.day, [...(days.get(row.day) ?? []), row]);
    for (const [day, rows] of days) {
      const { rows: next } = await tx.query<{ batch: number }>(
        `SELECT coalesce(max(batch), 0) + 1 AS batch FROM retention_archives WHERE table_name = $1 AND day = $2::date`,
        [t.table, day],
      );
      const batch = (next[0] as { batch: number }).batch;
      const objectKey = archiveKey(t.table, day, batch);
      const body = encodeRows(rows.map((r) => r.row));
      const sha256 = sha256Hex(body);
      await deps.store.put(objectKey, body, {
        contentType: ARCHIVE_CONTENT_TYPE,
        sha256,
        timeoutMs: options.uploadTimeoutMs,
      });
      await tx.query(
        `INSERT INTO retention_archives (table_name, day, batch, object_key, rows, bytes, sha256, first_key, last_key)
         VALUES ($1, $2::date, $3, $4, $5, $6, $7, $8, $9)`,
        [
          t.table,
          day,
          batch,
          objectKey,
          rows.length,
          body.byteLength,
          sha256,
          (rows[0] as TakenRow).k,
          (rows.at(-1) as TakenRow).k,
        ],
      );
    }
    const { rowCount } = await tx.query(
      `DELETE FROM ${ident(t.table)} WHERE ${ident(t.key)} = ANY($1::${type}[])`,
      [taken.map((r) => r.k)],
    );
    if (rowCount !== taken.length) {
      throw new Error(`${t.table}: deleted ${rowCount} of the ${taken.length} rows archived; rolled back`);
    }
    return { taken, objects: days.size, ...end };
  });
}

/** Archives and deletes what policy lets go, table by table, until done or the budget is spent. */
export async function runRetention(deps: RetentionDeps): Promise<RetentionReport> {
  const started = Date.now();
  const { options } = deps;
  const reports: TableReport[] = [];
  for (const t of options.tables) {
    const type = await keyType(deps.db, t);
    const report: TableReport = {
      table: t.table,
      archived: 0,
      batches: 0,
      objects: 0,
      largestBatch: 0,
      unfinished: false,
    };
    reports.push(report);
    let cursor: Cursor | undefined;
    for (;;) {
      if (Date.now() - started >= options.runBudgetMs) {
        report.unfinished = true;
        break;
      }
      const batch = await archiveBatch(deps, t, type, cursor);
      if (batch.scanned === 0) break;
      cursor = batch.cursor;
      if (batch.taken.length > 0) {
        report.archived += batch.taken.length;
        report.batches += 1;
        report.objects += batch.objects;
        report.largestBatch = Math.max(report.largestBatch, batch.taken.length);
      }
      // A short window means every row past its period has been looked at.
      if (batch.scanned < t.batchSize) break;
      if (options.pauseBetweenBatchesMs > 0) await sleep(options.pauseBetweenBatchesMs);
    }
    if (report.archived > 0 || report.unfinished)
      deps.logger.info('retention: table archived', { ...report });
  }
  return { tables: reports, elapsedMs: Date.now() - started };
}

/** The scheduled handler: one run; a failure throws (the run's alarm), the next tick carries on. */
export function makeRetentionHandler(deps: RetentionDeps): () => Promise<RetentionReport> {
  return async function retention() {
    const report = await runRetention(deps);
    deps.logger.info('retention run done', {
      elapsedMs: report.elapsedMs,
      archived: report.tables.reduce((n, t) => n + t.archived, 0),
      unfinished: report.tables.filter((t) => t.unfinished).map((t) => t.table),
    });
    return report;
  };
}
