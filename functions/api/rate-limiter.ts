/**
 * Exact rate limits, shared by every API Lambda through Postgres (sql/030_rate_limits.sql): a sliding-window
 * log per subject, taken atomically under a per-subject transaction-scoped advisory lock (released when the
 * one statement ends, so nothing outlives the call and it works behind a transaction pooler). No kept library
 * does an exact, cross-process sliding window on Postgres, so this small port and the SQL function are
 * written by hand.
 */
import type { RateLimitPreset } from '#policy';
import type { Sql } from '#shared/db';

/** One window of a limit: at most `limit` requests in any span of `windowSeconds`. */
export interface RateWindow {
  limit: number;
  windowSeconds: number;
}

export interface RateDecision {
  allowed: boolean;
  /** The limit and span of the window that binds most. */
  limit: number;
  windowSeconds: number;
  /** Requests left in that window after this one (0 when refused). */
  remaining: number;
  /** Seconds until that window frees a slot. */
  resetSeconds: number;
  /** When refused: seconds until a retry can succeed. */
  retryAfterSeconds: number | null;
  /** Every window, for the RateLimit-Policy header ("100;w=60, 1000;w=3600"). */
  policy: string;
}

export interface RateLimiter {
  /** Takes one request from `subject`'s allowance, or refuses without consuming anything. */
  take(subject: string, windows: readonly RateWindow[]): Promise<RateDecision>;
}

/** The windows of a policy preset: per minute, and per hour when the preset has one. */
export function windowsOf(preset: Pick<RateLimitPreset, 'perMinute' | 'perHour'>): RateWindow[] {
  return [
    { limit: preset.perMinute, windowSeconds: 60 },
    ...(preset.perHour === null ? [] : [{ limit: preset.perHour, windowSeconds: 3600 }]),
  ];
}

export const policyHeader = (windows: readonly RateWindow[]) =>
  windows.map((w) => `${w.limit};w=${w.windowSeconds}`).join(', ');

interface TakeRow {
  allowed: boolean;
  lim: number;
  window_seconds: number;
  remaining: number;
  reset_seconds: number;
  retry_after_seconds: number | null;
}

export class PgRateLimiter implements RateLimiter {
  constructor(private readonly sql: Pick<Sql, 'query'>) {}

  /** `now` is for tests of the window arithmetic; production stamps with the database clock. */
  async take(subject: string, windows: readonly RateWindow[], now?: Date): Promise<RateDecision> {
    const { rows } = await this.sql.query<TakeRow>(
      'SELECT * FROM rate_limit_take($1, $2::int[], $3::int[], $4::timestamptz)',
      [subject, windows.map((w) => w.limit), windows.map((w) => w.windowSeconds), now ?? null],
    );
    const row = rows[0] as TakeRow;
    return {
      allowed: row.allowed,
      limit: row.lim,
      windowSeconds: row.window_seconds,
      remaining: row.remaining,
      resetSeconds: row.reset_seconds,
      retryAfterSeconds: row.retry_after_seconds,
      policy: policyHeader(windows),
    };
  }
}
