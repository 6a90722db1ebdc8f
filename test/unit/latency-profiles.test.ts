/** The fixture sites' latency profiles: typed data, reproducible draws, the distribution they claim. */
import { describe, expect, it } from 'vitest';
import {
  LATENCY_PROFILES,
  latencyProfile,
  latencySampler,
  requestKind,
  siteSeed,
} from '#local/fixtures/latency';
import { percentile } from '../../bench/lib/stats.ts';

const draws = (seed: number, kind: 'page' | 'post' | 'other', n: number) => {
  const next = latencySampler(LATENCY_PROFILES.real, seed);
  return Array.from({ length: n }, () => next(kind));
};

describe('latency profiles', () => {
  it('add nothing by default', () => {
    const next = latencySampler(latencyProfile('none'), 7);
    expect([next('page'), next('post'), next('other')]).toEqual([0, 0, 0]);
  });

  it('refuse an unknown name, naming the profiles there are', () => {
    expect(() => latencyProfile('slow')).toThrow('no latency profile "slow" (profiles: none, real)');
    expect(() => latencyProfile('toString')).toThrow(/no latency profile/);
  });

  it('draw the same delays for the same seed, and other delays for another site', () => {
    expect(draws(3, 'page', 50)).toEqual(draws(3, 'page', 50));
    expect(draws(siteSeed(1, 'simple-form-c0'), 'page', 50)).not.toEqual(
      draws(siteSeed(1, 'simple-form-c1'), 'page', 50),
    );
  });

  it('give page loads and posts the median and p75 the profile claims, capped, round trip included', () => {
    const real = LATENCY_PROFILES.real;
    for (const kind of ['page', 'post'] as const) {
      const sorted = draws(11, kind, 4_000).sort((a, b) => a - b);
      const think = real[kind];
      expect(percentile(sorted, 50)).toBeGreaterThan(0.93 * (real.rttMs + think.medianMs));
      expect(percentile(sorted, 50)).toBeLessThan(1.07 * (real.rttMs + think.medianMs));
      expect(percentile(sorted, 75)).toBeGreaterThan(0.93 * (real.rttMs + think.p75Ms));
      expect(percentile(sorted, 75)).toBeLessThan(1.07 * (real.rttMs + think.p75Ms));
      expect(sorted.at(-1)).toBeLessThanOrEqual(real.rttMs + think.maxMs);
      expect(sorted[0]).toBeGreaterThanOrEqual(real.rttMs);
    }
    expect(new Set(draws(5, 'other', 20))).toEqual(new Set([real.rttMs]));
  });

  it('count as a page load only a navigation to a document', () => {
    expect(requestKind('GET', { 'sec-fetch-dest': 'document' })).toBe('page');
    expect(requestKind('GET', { 'sec-fetch-dest': 'image', accept: 'text/html' })).toBe('other');
    expect(requestKind('GET', { accept: 'text/html,application/xhtml+xml' })).toBe('page');
    expect(requestKind('GET', { accept: 'application/json' })).toBe('other');
    expect(requestKind('POST', { 'sec-fetch-dest': 'document' })).toBe('post');
    expect(requestKind('HEAD', {})).toBe('other');
  });
});
