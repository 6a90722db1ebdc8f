/** The worker's small pure parts: backoff with jitter, the versioned cache, Chromium flags, log scrubbing. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from '#functions/worker/backoff';
import { chromiumArgs } from '#functions/worker/browser-pool';
import { classify } from '#functions/worker/form-engine';
import { recordFailure } from '#functions/worker/handler';
import { OutOfTimeError } from '#functions/worker/job-runner';
import { scrubProfile } from '#functions/worker/profile-scrub';
import { SiteBusyError } from '#functions/worker/site-politeness';
import { VersionedCache } from '#functions/worker/versioned-cache';

describe('backoff', () => {
  it('stays within [ceiling/2, ceiling] where the ceiling doubles per attempt up to the maximum', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.double({ min: 0, max: 0.999_999, noNaN: true }),
        (attempt, baseMs, extra, r) => {
          const maxMs = baseMs + extra;
          const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
          const delay = backoffDelayMs(attempt, { baseMs, maxMs, random: () => r });
          expect(delay).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
          expect(delay).toBeLessThanOrEqual(Math.ceil(ceiling));
        },
      ),
    );
    expect(backoffDelayMs(1, { baseMs: 100, maxMs: 1000, random: () => 0 })).toBe(50);
    expect(backoffDelayMs(3, { baseMs: 100, maxMs: 1000, random: () => 0.999 })).toBe(400);
    expect(backoffDelayMs(10, { baseMs: 100, maxMs: 1000, random: () => 0.999 })).toBe(1000);
  });
});

describe('versioned cache', () => {
  it('serves an entry only at its version and within its TTL, and evicts the least recently used', () => {
    let now = 0;
    const cache = new VersionedCache<string>({ ttlMs: 1_000, maxEntries: 2, now: () => now });
    cache.set('a', 'A1', 'v1');
    expect(cache.get('a', 'v1')).toBe('A1');
    expect(cache.get('a', 'v2')).toBeUndefined(); // changed elsewhere: dropped
    expect(cache.get('a', 'v1')).toBeUndefined();
    cache.set('a', 'A2', 'v2');
    now = 1_001;
    expect(cache.get('a', 'v2')).toBeUndefined(); // expired
    cache.set('a', 'A', 'v');
    cache.set('b', 'B', 'v');
    cache.get('a', 'v'); // a is now the most recent
    cache.set('c', 'C', 'v');
    expect([cache.get('a', 'v'), cache.get('b', 'v'), cache.get('c', 'v')]).toEqual(['A', undefined, 'C']);
    cache.invalidate('a');
    expect(cache.size).toBe(1);
    cache.clear();
    expect(cache.size).toBe(0);
  });
});

describe('browser flags', () => {
  const sparticuz = ['--single-process', '--disable-web-security', '--no-sandbox', '--headless=shell'];

  it('never uses --single-process outside Lambda, and keeps web security on everywhere', () => {
    const local = chromiumArgs(sparticuz, false);
    expect(local).not.toContain('--single-process');
    expect(local).not.toContain('--disable-web-security');
    expect(local).toEqual(expect.arrayContaining(['--no-sandbox', '--headless=shell', '--disable-quic']));
    const lambda = chromiumArgs(sparticuz, true);
    expect(lambda).toContain('--single-process');
    expect(lambda).not.toContain('--disable-web-security');
    expect(new Set(lambda).size).toBe(lambda.length);
  });
});

describe('failure classes', () => {
  it('tells transient site and browser failures from permanent ones', () => {
    expect(
      classify(Object.assign(new Error('Timeout 1500ms exceeded.'), { name: 'TimeoutError' })),
    ).toMatchObject({
      errorClass: 'timeout',
      transient: true,
    });
    expect(classify(new Error('page.goto: net::ERR_CONNECTION_REFUSED at http://x'))).toMatchObject({
      errorClass: 'site_down',
      transient: true,
    });
    expect(classify(new Error('page.goto: Target page, context or browser has been closed'))).toMatchObject({
      errorClass: 'internal',
      transient: true,
      browserBroken: true,
    });
    expect(classify('weird')).toMatchObject({ errorClass: 'internal', transient: false });
    expect(recordFailure(new SiteBusyError('http://s', 10)).errorClass).toBe('timeout');
    expect(recordFailure(new OutOfTimeError('late')).errorClass).toBe('timeout');
    expect(recordFailure(new Error('db down')).errorClass).toBe('internal');
  });
});

describe('profile scrubbing', () => {
  it('removes profile values, plain and URL-encoded, from log text', () => {
    const profile = { name: 'A & B Plumbing', email: 'owner@ab.test', state: 'IL', phone: null };
    const text =
      'goto http://d.test/listings?name=A%20%26%20B%20Plumbing failed for A & B Plumbing (owner@ab.test) in IL; q=A+%26+B+Plumbing';
    expect(scrubProfile(text, profile)).toBe(
      'goto http://d.test/listings?name=[PROFILE] failed for [PROFILE] ([PROFILE]) in IL; q=[PROFILE]',
    );
    expect(scrubProfile('nothing here', undefined)).toBe('nothing here');
  });
});
