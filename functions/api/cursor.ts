/**
 * Opaque keyset cursors for the list routes: the sort key of the last row of a page, as base64url JSON.
 * Keyset (not offset) pagination is stable while rows are added: no row is skipped or repeated. A cursor
 * a client altered is refused with 400 (each part must match its pattern before it reaches SQL); it can
 * never widen what the caller may see, since visibility is applied in every query.
 */
import { badRequest } from './http.ts';

export const CURSOR_PARTS = {
  /** A timestamp as Postgres prints it in UTC with microseconds. */
  timestamp: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/,
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
  bigint: /^\d{1,18}$/,
  directoryId: /^[a-z0-9][a-z0-9-]{0,62}$/,
} as const;

export function encodeCursor(key: readonly string[]): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/** The key inside `cursor` (undefined for the first page), each part checked against its pattern, or 400. */
export function decodeCursor(cursor: string | undefined, parts: readonly RegExp[]): string[] | undefined {
  if (cursor === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (
    !Array.isArray(value) ||
    value.length !== parts.length ||
    !value.every((v, i) => typeof v === 'string' && (parts[i] as RegExp).test(v))
  ) {
    throw badRequest('invalid cursor', [{ field: 'cursor', message: 'is not a cursor this API gave out' }]);
  }
  return value as string[];
}
