/**
 * Fixture sites with a latency profile, over real HTTP: a page load and a form post wait out their drawn
 * delays before the site answers (and before it counts the post), other requests pay the round trip only,
 * the event loop stays free meanwhile (timers only), and stop() ends requests still waiting.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LatencyProfile } from '#local/fixtures/latency';
import { type FixtureSites, startFixtureSites } from '#local/fixtures/sites';
import { simpleForm } from '#local/fixtures/variants';

/** Small numbers, so the test stays quick: the realistic profile is for the benchmark and one e2e test. */
const QUICK: LatencyProfile = {
  description: 'test',
  rttMs: 40,
  page: { medianMs: 150, p75Ms: 200, maxMs: 400 },
  post: { medianMs: 250, p75Ms: 300, maxMs: 500 },
};
const PAGE = { 'sec-fetch-dest': 'document', accept: 'text/html' };
let sites: FixtureSites | undefined;
afterEach(async () => {
  await sites?.stop();
  sites = undefined;
});

async function timedFetch(url: string, init: RequestInit = {}): Promise<{ ms: number; status: number }> {
  const start = performance.now();
  const res = await fetch(url, { redirect: 'manual', ...init });
  await res.arrayBuffer();
  return { ms: performance.now() - start, status: res.status };
}

describe('fixture sites with a latency profile', () => {
  it('answer a page load and a post only after their delays, without holding the event loop', async () => {
    sites = await startFixtureSites([simpleForm], { latency: QUICK, seed: 4 });
    const site = sites.site('simple-form');
    // A 10 ms ticker: if the delays held the event loop, its ticks would stall.
    let worstLag = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      worstLag = Math.max(worstLag, now - last - 10);
      last = now;
    }, 10);
    try {
      const page = await timedFetch(`${site.origin}/add`, { headers: PAGE });
      const post = await timedFetch(`${site.origin}/add`, {
        method: 'POST',
        headers: { ...PAGE, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'business_name=Slow+Lane+Cafe&email=a%40b.test',
      });
      const other = await timedFetch(`${site.origin}/favicon.ico`, {
        headers: { 'sec-fetch-dest': 'image' },
      });
      expect([page.status, post.status]).toEqual([200, 200]);
      const [getRecord, postRecord, otherRecord] = site.requests;
      expect(getRecord?.delayMs).toBeGreaterThanOrEqual(QUICK.rttMs + 1);
      expect(postRecord?.delayMs).toBeGreaterThanOrEqual(QUICK.rttMs + 1);
      expect(otherRecord?.delayMs).toBe(QUICK.rttMs);
      expect(page.ms).toBeGreaterThanOrEqual((getRecord?.delayMs ?? 0) - 2);
      expect(post.ms).toBeGreaterThanOrEqual((postRecord?.delayMs ?? 0) - 2);
      expect(other.ms).toBeGreaterThanOrEqual(QUICK.rttMs - 2);
      expect(worstLag).toBeLessThan(100);
    } finally {
      clearInterval(ticker);
    }
    expect(site.countsByName()).toEqual({ 'Slow Lane Cafe': 1 });
    expect(sites.addedLatencyMs()['simple-form']).toBe(site.requests.reduce((n, r) => n + r.delayMs, 0));
  });

  it('draw the same delays in the same order for the same seed', async () => {
    const delays = async () => {
      const s = await startFixtureSites([simpleForm], { latency: QUICK, seed: 9 });
      try {
        for (let i = 0; i < 3; i++)
          await timedFetch(`${s.site('simple-form').origin}/add`, { headers: PAGE });
        return s.site('simple-form').requests.map((r) => r.delayMs);
      } finally {
        await s.stop();
      }
    };
    const first = await delays();
    expect(new Set(first).size).toBeGreaterThan(1);
    expect(await delays()).toEqual(first);
  });

  it('end a post still waiting out its delay at stop(), without counting it', async () => {
    const slow: LatencyProfile = { ...QUICK, post: { medianMs: 5_000, p75Ms: 5_500, maxMs: 6_000 } };
    sites = await startFixtureSites([simpleForm], { latency: slow });
    const site = sites.site('simple-form');
    const pending = fetch(`${site.origin}/add`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'business_name=Never+Sent',
    }).then(
      () => 'answered',
      () => 'ended',
    );
    while (site.requests.length === 0) await new Promise((r) => setTimeout(r, 10));
    const start = performance.now();
    await sites.stop();
    sites = undefined;
    expect(await pending).toBe('ended');
    expect(performance.now() - start).toBeLessThan(1_000);
    expect(site.submissions).toEqual([]);
  });

  it('answer at once with no profile (the default)', async () => {
    sites = await startFixtureSites([simpleForm]);
    await timedFetch(`${sites.site('simple-form').origin}/add`, { headers: PAGE });
    expect(sites.site('simple-form').requests.map((r) => r.delayMs)).toEqual([0]);
    expect(sites.latency).toEqual(expect.objectContaining({ rttMs: 0, page: null, post: null }));
  });
});
