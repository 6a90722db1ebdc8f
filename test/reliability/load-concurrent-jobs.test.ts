/**
 * 100 jobs at once: created by 10 clients in one burst of concurrent POST /v1/jobs over HTTP, run by the
 * local runtime's workers (per tier their concurrency, one Chromium) against real fixture sites, and read
 * back over HTTP. Every job completes with its directory submitted, none lost, none submitted twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redirectSuccess, simpleForm } from '#local/fixtures/variants';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { expectNothingLostNothingTwice } from '#test/invariants';
import { eventually, motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';
import { siteCopies } from '#test/site-copies';

const KEYS = Array.from({ length: 10 }, (_, i) => `ffclient_concurrent_key_${i}`);
const JOBS = 100;
const SITES = siteCopies([simpleForm, redirectSuccess], 6).flat();
let t: TestDatabase;
let system: LocalSystem;

beforeAll(async () => {
  t = await testDatabase('load_jobs', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('loadjobs')}-`,
    extraClientKeys: Object.fromEntries(KEYS.map((k, i) => [k, `concurrent-${i}`])),
    fixtures: SITES,
    env: { SITE_MIN_GAP_MS: '200' },
    schedules: { timers: false },
  });
});
afterAll(async () => {
  await system?.stop();
  await t?.close();
});

async function api(key: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${system.url}${path}`, {
    method,
    headers: { 'x-api-key': key, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('100 concurrent jobs', () => {
  it('accepts all at once and completes every one, nothing lost, nothing twice', async () => {
    const customers = await Promise.all(
      Array.from({ length: JOBS }, async (_, i) => {
        const key = KEYS[i % KEYS.length] as string;
        const res = await api(key, 'POST', '/v1/customers', {
          name: `Concurrent Co ${i}`,
          email: `owner${i}@concurrent.test`,
        });
        return { key, id: res.body.id as string };
      }),
    );

    // Act: 100 POST /v1/jobs at the same moment, one directory each, priorities mixed.
    const created = await Promise.all(
      customers.map(({ key, id }, i) =>
        api(key, 'POST', '/v1/jobs', {
          customerId: id,
          directoryIds: [(SITES[i % SITES.length] as { id: string }).id],
          priority: (i % 3) + 1,
        }),
      ),
    );

    expect(created.map((c) => c.status)).toEqual(Array(JOBS).fill(202));
    expect(new Set(created.map((c) => c.body.status))).toEqual(new Set(['queued']));
    const ids = created.map((c) => c.body.id as string);
    await eventually(
      'all 100 jobs to end',
      async () => {
        const { rows } = await system.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[]) AND status IN ('completed', 'failed', 'cancelled')`,
          [ids],
        );
        return rows[0]?.n === JOBS ? true : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    const report = await expectNothingLostNothingTwice(system, ids);
    expect(report).toEqual({ jobs: { completed: JOBS }, directories: { submitted: JOBS } });
    // What each client reads back.
    const views = await Promise.all(
      ids.map((id, i) => api(customers[i]?.key as string, 'GET', `/v1/jobs/${id}`)),
    );
    for (const view of views) {
      expect(view.body).toMatchObject({
        status: 'completed',
        results: [expect.objectContaining({ status: 'submitted' })],
      });
    }
  });
});
