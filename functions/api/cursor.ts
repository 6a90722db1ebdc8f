/**
 * Opaque keyset cursors for the list routes: the sort key of the last row of a page, as base64url JSON.
 * Keyset (not offset) pagination is stable while rows are added: no row is skipped or repeated. A cursor
 * a client altered is refused with 400: the one decoder below checks every part for what it must be (a
 * real timestamp Postgres can hold, a uuid, ...) before it reaches SQL; it can never widen what the caller
 * may see, since visibility is applied in every query.
 */
import { isUuid } from '#shared/customer-store';
import { badRequest } from './http.ts';

/** A check of one part of a cursor's key. */
export interface CursorPart {
  test(value: string): boolean;
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.\d{6}Z$/;

/**
 * A timestamp as Postgres prints it in UTC with microseconds (job-queries.ts), and one Postgres can read
 * back: a real calendar date in years 1 to 9999 (there is no year 0) and a real time of day.
 */
function isCursorTimestamp(value: string): boolean {
  const m = TIMESTAMP.exec(value);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  return (
    year >= 1 && days !== undefined && day >= 1 && day <= days && hour <= 23 && minute <= 59 && second <= 59
  );
}

export const CURSOR_PARTS = {
  timestamp: { test: isCursorTimestamp },
  uuid: { test: isUuid },
  /** A positive bigint key: 18 digits always fit Postgres' bigint. */
  bigint: /^\d{1,18}$/,
  directoryId: /^[a-z0-9][a-z0-9-]{0,62}$/,
} as const satisfies Record<string, CursorPart>;

/** The characters of base64url, what encodeCursor writes (the schemas' cursor pattern says the same). */
export const CURSOR_PATTERN = '^[A-Za-z0-9_-]+$';
const BASE64URL = new RegExp(CURSOR_PATTERN);
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** `column` printed in UTC with microseconds, as a keyset bound comes back exact (CURSOR_PARTS.timestamp). */
export const cursorAtSql = (column: string) =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * A keyset page from rows fetched with LIMIT `limit` + 1: the first `limit` rows, and the key of the last
 * of them when there are more.
 */
export function keysetPage<R>(rows: readonly R[], limit: number, key: (row: R) => string[]) {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { page, next: rows.length > limit && last ? key(last) : null };
}

export function encodeCursor(key: readonly string[]): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/** The key inside `cursor` (undefined for the first page), each part checked, or 400. */
export function decodeCursor(cursor: string | undefined, parts: readonly CursorPart[]): string[] | undefined {
  if (cursor === undefined) return undefined;
  let value: unknown;
  try {
    if (!BASE64URL.test(cursor)) throw new Error('not base64url');
    value = JSON.parse(UTF8.decode(Buffer.from(cursor, 'base64url')));
  } catch {
    value = undefined;
  }
  if (
    !Array.isArray(value) ||
    value.length !== parts.length ||
    !value.every((v, i) => typeof v === 'string' && (parts[i] as CursorPart).test(v))
  ) {
    throw badRequest('invalid cursor', [{ field: 'cursor', message: 'is not a cursor this API gave out' }]);
  }
  return value as string[];
}
