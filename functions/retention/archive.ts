/**
 * The archive's format, shared by the retention run that writes it and the ops commands that read it back:
 * one gzip'd JSON-lines object per table, day and batch, `archive/<table>/<yyyy-mm-dd>/<batch>.jsonl.gz`,
 * each line a row as Postgres's to_jsonb gives it (so json_populate_record puts it back exactly), indexed by
 * the retention_archives table.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { RETENTION, type RetentionTable } from '#policy';
import type { Sql } from '#shared/db';
import { type ObjectStore, recordsPrefix } from '#shared/object-store';

export const ARCHIVE_CONTENT_TYPE = 'application/gzip';

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** A table or column name from policy, checked before it goes into SQL text. */
export function ident(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`"${name}" is not a plain SQL identifier`);
  return `"${name}"`;
}

/** The registry entry of a table, or an error listing the tables retention knows. */
export function retentionTable(name: string): RetentionTable {
  const entry = RETENTION.tables.find((t) => t.table === name);
  if (!entry) {
    throw new ArchiveInputError(
      `no archived table "${name}"; retention archives ${RETENTION.tables.map((t) => t.table).join(', ')}`,
    );
  }
  return entry;
}

/** A day as yyyy-mm-dd (UTC), refused unless it is a real date. */
export function archiveDay(day: string): string {
  const parsed = new Date(`${day}T00:00:00Z`);
  if (!DAY.test(day) || Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== day) {
    throw new ArchiveInputError(`"${day}" is not a day; give it as yyyy-mm-dd (UTC)`);
  }
  return day;
}

/** Bad input to the archive commands (a person's typo): said plainly, nothing done. */
export class ArchiveInputError extends Error {
  override readonly name = 'ArchiveInputError';
}

export function archiveKey(table: string, day: string, batch: number): string {
  return `${recordsPrefix('archive')}${table}/${day}/${String(batch).padStart(6, '0')}.jsonl.gz`;
}

export function encodeRows(rows: readonly unknown[]): Uint8Array {
  return gzipSync(Buffer.from(rows.map((r) => `${JSON.stringify(r)}\n`).join(''), 'utf8'));
}

export function decodeRows(body: Uint8Array): Record<string, unknown>[] {
  return gunzipSync(body)
    .toString('utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

export interface ArchivedObject {
  table: string;
  day: string;
  batch: number;
  objectKey: string;
  rows: number;
  bytes: number;
  sha256: string;
  firstKey: string;
  lastKey: string;
  archivedAt: string;
}

/** The objects archived for a table and day, in batch order (from retention_archives). */
export async function archivedObjects(db: Sql, table: string, day: string): Promise<ArchivedObject[]> {
  const { rows } = await db.query<ArchivedObject>(
    `SELECT table_name AS "table", to_char(day, 'YYYY-MM-DD') AS day, batch, object_key AS "objectKey",
            rows, bytes, sha256, first_key AS "firstKey", last_key AS "lastKey",
            to_char(archived_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS "archivedAt"
     FROM retention_archives WHERE table_name = $1 AND day = $2::date ORDER BY batch`,
    [table, day],
  );
  return rows;
}

/** Every row archived for a table and day, read from S3 in batch order. */
export async function readArchivedDay(
  db: Sql,
  store: ObjectStore,
  table: string,
  day: string,
): Promise<{ objects: ArchivedObject[]; rows: Record<string, unknown>[] }> {
  const objects = await archivedObjects(db, table, day);
  const rows: Record<string, unknown>[] = [];
  for (const o of objects) {
    const body = await store.get(o.objectKey);
    if (!body) {
      throw new Error(
        `${o.objectKey} is in retention_archives but not in the bucket (expired by its lifecycle rule, or deleted)`,
      );
    }
    const batch = decodeRows(body);
    if (batch.length !== o.rows) {
      throw new Error(`${o.objectKey} holds ${batch.length} rows; retention_archives says ${o.rows}`);
    }
    rows.push(...batch);
  }
  return { objects, rows };
}

/** Where `archive restore` puts a day unless told otherwise: a table beside the original, never the original. */
export const restoreTableName = (table: string) => `restored_${table}`;

/**
 * Puts archived rows into `into` (created with the original's columns if missing), each row once: a row
 * already there (by the original's key) is left alone. Into the original table itself, the rows would be
 * archived again by the next run unless their period is lengthened first (the runbook says so).
 */
export async function restoreRows(
  db: Sql,
  table: RetentionTable,
  rows: readonly Record<string, unknown>[],
  into: string,
): Promise<{ inserted: number; alreadyThere: number }> {
  return db.transaction(async (tx) => {
    const target = ident(into);
    const original = into === table.table;
    if (!original) {
      await tx.query(`CREATE TABLE IF NOT EXISTS ${target} (LIKE ${ident(table.table)} INCLUDING DEFAULTS)`);
      await tx.query(
        `CREATE UNIQUE INDEX IF NOT EXISTS ${ident(`${into}_key`)} ON ${target} (${ident(table.key)})`,
      );
    }
    const { rowCount } = await tx.query(
      `INSERT INTO ${target} ${original ? 'OVERRIDING SYSTEM VALUE' : ''}
       SELECT * FROM jsonb_populate_recordset(NULL::${target}, $1::jsonb)
       ON CONFLICT (${ident(table.key)}) DO NOTHING`,
      [JSON.stringify(rows)],
    );
    return { inserted: rowCount, alreadyThere: rows.length - rowCount };
  });
}
