/**
 * The exact rate limiter (sql/030_rate_limits.sql) on a real Postgres: the window arithmetic against a
 * reference model for random request times (fast-check), refusals that consume nothing, atomicity under
 * concurrent takers, and independence of subjects.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgRateLimiter, type RateDecision, type RateWindow, windowsOf } from '#functions/api/rate-limiter';
import { RATE_LIMITS } from '#policy';
import { type TestDatabase, testDatabase, uniqueName } from '#test/services';

let t: TestDatabase;
let limiter: PgRateLimiter;
const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms);

beforeAll(async () => {
  t = await testDatabase('api_rate_limiter');
  limiter = new PgRateLimiter(t.db);
});
afterAll(async () => t?.close());

/** The specification: allowed iff every window (now - w, now] holds fewer allowed requests than its limit. */
function model(windows: readonly RateWindow[], times: readonly number[]): boolean[] {
  const allowed: number[] = [];
  return times.map((now) => {
    const ok = windows.every(
      (w) => allowed.filter((a) => a > now - w.windowSeconds * 1000 && a <= now).length < w.limit,
    );
    if (ok) allowed.push(now);
    return ok;
  });
}

describe('PgRateLimiter', () => {
  it('allows exactly what the sliding-window specification allows, for any request times', async () => {
    const windows: RateWindow[] = [
      { limit: 3, windowSeconds: 2 },
      { limit: 5, windowSeconds: 10 },
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 1_500 }), { minLength: 1, maxLength: 25 }),
        async (gaps) => {
          const subject = uniqueName('prop');
          const times: number[] = [];
          for (const g of gaps) times.push((times.at(-1) ?? 0) + g * 10);
          const decisions: RateDecision[] = [];
          for (const time of times) decisions.push(await limiter.take(subject, windows, at(time)));
          expect(decisions.map((d) => d.allowed)).toEqual(model(windows, times));
          // The invariant itself: no span of either window ever holds more allowed requests than its limit.
          const allowedTimes = times.filter((_, i) => decisions[i]?.allowed);
          for (const w of windows) {
            for (const start of allowedTimes) {
              const inSpan = allowedTimes.filter((a) => a >= start && a < start + w.windowSeconds * 1000);
              expect(inSpan.length).toBeLessThanOrEqual(w.limit);
            }
          }
        },
      ),
      { numRuns: 40, seed: 5_400_003 },
    );
  });

  it('reports limit, remaining and reset of the binding window, and when refused the wait', async () => {
    const subject = uniqueName('headers');
    const windows = windowsOf({ perMinute: 2, perHour: 3 });
    expect(await limiter.take(subject, windows, at(0))).toMatchObject({
      allowed: true,
      limit: 2,
      windowSeconds: 60,
      remaining: 1,
      resetSeconds: 60,
      retryAfterSeconds: null,
      policy: '2;w=60, 3;w=3600',
    });
    expect(await limiter.take(subject, windows, at(10_000))).toMatchObject({
      allowed: true,
      remaining: 0,
      resetSeconds: 50,
    });
    // The minute is full: a retry can succeed once the first request leaves it, 50 s later.
    expect(await limiter.take(subject, windows, at(10_000))).toMatchObject({
      allowed: false,
      limit: 2,
      remaining: 0,
      retryAfterSeconds: 50,
    });
    // Past the minute, both windows are full after this one; the hour frees up last, so it is reported.
    expect(await limiter.take(subject, windows, at(61_000))).toMatchObject({
      allowed: true,
      limit: 3,
      remaining: 0,
      resetSeconds: 3600 - 61,
    });
    expect(await limiter.take(subject, windows, at(200_000))).toMatchObject({
      allowed: false,
      limit: 3,
      windowSeconds: 3600,
      retryAfterSeconds: 3600 - 200,
    });
  });

  it('does not let refused requests consume the allowance', async () => {
    const subject = uniqueName('refused');
    const windows = [{ limit: 2, windowSeconds: 60 }];
    await limiter.take(subject, windows, at(0));
    await limiter.take(subject, windows, at(1_000));
    for (let i = 0; i < 20; i++)
      expect((await limiter.take(subject, windows, at(30_000 + i))).allowed).toBe(false);
    // Had the refusals counted, the window at 60.5 s would still be full.
    expect((await limiter.take(subject, windows, at(60_500))).allowed).toBe(true);
  });

  it('is atomic across concurrent takers: exactly the limit gets through, other subjects untouched', async () => {
    const subject = uniqueName('race');
    const windows = windowsOf(RATE_LIMITS.client);
    const results = await Promise.all(Array.from({ length: 150 }, () => limiter.take(subject, windows)));
    expect(results.filter((r) => r.allowed)).toHaveLength(RATE_LIMITS.client.perMinute);
    const remaining = results
      .filter((r) => r.allowed)
      .map((r) => r.remaining)
      .sort((a, b) => a - b);
    expect(remaining).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect((await limiter.take(uniqueName('other'), windows)).allowed).toBe(true);
    const { rows } = await t.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM rate_limit_hits WHERE subject = $1',
      [subject],
    );
    expect(rows[0]?.n).toBe(RATE_LIMITS.client.perMinute);
  });
});
