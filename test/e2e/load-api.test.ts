/**
 * 1,000 API requests in one minute over real HTTP into the local gateway, from 20 client keys (each within
 * its exact per-minute limit, as 1,000 requests a minute reach the service in production: from many
 * clients): creating jobs, reading them, listing, queue positions, directories and health, 20 at a time.
 * Every one is answered 2xx (so not one 5xx) within the minute, and every job the API accepted is in the
 * database with its message on the queue: nothing lost under load.
 */
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simpleForm } from '#local/fixtures/variants';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { RATE_LIMITS } from '#policy';
import { motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';

const KEYS = Array.from({ length: 20 }, (_, i) => `ffclient_load_test_key_${String(i).padStart(2, '0')}`);
const TOTAL = 1_000;
let t: TestDatabase;
let system: LocalSystem;

beforeAll(async () => {
  t = await testDatabase('load_api', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('loadapi')}-`,
    extraClientKeys: Object.fromEntries(KEYS.map((k, i) => [k, `load-key-${i}`])),
    fixtures: [simpleForm],
    workers: false,
    schedules: { timers: false },
  });
});
afterAll(async () => {
  await system?.stop();
  await t?.close();
});

interface Call {
  key: string | null;
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
}

async function send(call: Call): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${system.url}${call.path}`, {
    method: call.method,
    headers: {
      'content-type': 'application/json',
      ...(call.key ? { 'x-api-key': call.key } : {}),
    },
    ...(call.body !== undefined ? { body: JSON.stringify(call.body) } : {}),
  });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

describe('1,000 API requests in one minute', () => {
  it('answers every one 2xx, none 5xx, within the minute, and loses no job', async () => {
    // Each key: a customer and a first job to read back (2 requests, counted in the 1,000).
    const setup = await Promise.all(
      KEYS.map(async (key, i) => {
        const customer = await send({
          key,
          method: 'POST',
          path: '/v1/customers',
          body: { name: `Load Owner ${i}`, email: `owner${i}@load.test` },
        });
        const job = await send({
          key,
          method: 'POST',
          path: '/v1/jobs',
          body: { customerId: customer.body.id, directoryIds: ['simple-form'], priority: 3 },
        });
        return {
          key,
          customerId: customer.body.id as string,
          jobId: job.body.id as string,
          statuses: [customer.status, job.status],
        };
      }),
    );
    // 48 more per key (within the client preset's exact per-minute limit), the kinds mixed.
    const perKey = setup.map(({ key, customerId, jobId }): Call[] => {
      const mine: Call[] = [
        ...Array.from(
          { length: 10 },
          (): Call => ({
            key,
            method: 'POST',
            path: '/v1/jobs',
            body: { customerId, directoryIds: ['simple-form'], priority: 3 },
          }),
        ),
        ...Array.from({ length: 20 }, (): Call => ({ key, method: 'GET', path: `/v1/jobs/${jobId}` })),
        ...Array.from({ length: 8 }, (): Call => ({ key, method: 'GET', path: '/v1/jobs?limit=20' })),
        ...Array.from(
          { length: 5 },
          (): Call => ({ key, method: 'GET', path: `/v1/customers/${customerId}/queue` }),
        ),
        ...Array.from({ length: 4 }, (): Call => ({ key, method: 'GET', path: '/v1/directories' })),
        { key: null, method: 'GET', path: '/health' },
      ];
      // A fixed permutation (7 and 48 are coprime) spreads each kind over the run.
      return mine.map((_, j) => mine[(j * 7) % mine.length] as Call);
    });
    // The keys interleaved, as independent clients would send.
    const calls = (perKey[0] ?? []).flatMap((_, j) => perKey.map((mine) => mine[j] as Call));
    expect(setup.length * 2 + calls.length).toBe(TOTAL);
    expect((perKey[0]?.length ?? 0) + 2).toBeLessThanOrEqual(RATE_LIMITS.client.perMinute);

    const started = Date.now();
    const statuses: number[] = setup.flatMap((s) => s.statuses);
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < calls.length) {
          const call = calls[next++] as Call;
          statuses.push((await send(call)).status);
        }
      }),
    );
    const elapsed = Date.now() - started;

    const byClass = statuses.reduce<Record<string, number>>((acc, s) => {
      const k = `${Math.floor(s / 100)}xx`;
      acc[k] = (acc[k] ?? 0) + 1;
      return acc;
    }, {});
    expect(statuses).toHaveLength(TOTAL);
    expect(byClass).toEqual({ '2xx': TOTAL });
    expect(elapsed).toBeLessThan(60_000);
    // Every accepted job is stored and queued, its message on the P3 queue: nothing lost under load.
    const { rows } = await system.db.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM jobs GROUP BY status`,
    );
    expect(rows).toEqual([{ status: 'queued', n: KEYS.length * 11 }]);
    const p3 = system.queues.find((q) => q.priority === 3);
    const depth = await system.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: p3?.url, AttributeNames: ['ApproximateNumberOfMessages'] }),
    );
    expect(Number(depth.Attributes?.ApproximateNumberOfMessages)).toBe(KEYS.length * 11);
  });
});
