/**
 * The Lambda entry files build their handlers from the environment at cold start: they fail fast naming
 * every missing variable, and with a complete environment the built handler serves.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { apiEvent, lambdaContext } from '#test/events';
import { type TestDatabase, testDatabase } from '#test/services';

let t: TestDatabase;
const saved = { ...process.env };
const queueEnv = {
  QUEUE_URL_P1: 'http://127.0.0.1:1/000000000000/p1.fifo',
  QUEUE_URL_P2: 'http://127.0.0.1:1/000000000000/p2.fifo',
  QUEUE_URL_P3: 'http://127.0.0.1:1/000000000000/p3.fifo',
};

beforeAll(async () => {
  t = await testDatabase('entries');
});
afterAll(async () => {
  process.env = saved;
  await t?.close();
});

async function importWith(env: Record<string, string>, entry: string) {
  vi.resetModules();
  process.env = { ...saved };
  delete process.env.DATABASE_URL;
  Object.assign(process.env, env);
  return import(/* @vite-ignore */ `../../functions/${entry}.ts`);
}

describe('Lambda entries', () => {
  it('fail fast at cold start when configuration is missing', async () => {
    await expect(importWith({}, 'api-health')).rejects.toThrow(/DATABASE_URL or DATABASE_SECRET_ARN/);
    await expect(importWith({ DATABASE_URL: t.url }, 'api-jobs')).rejects.toThrow(
      /missing required environment variable\(s\): QUEUE_URL_P1, QUEUE_URL_P2, QUEUE_URL_P3/,
    );
    await expect(importWith({ DATABASE_URL: t.url }, 'worker')).rejects.toThrow(
      /IDEMPOTENCY_TABLE, QUEUE_URL_P1, QUEUE_URL_P2, QUEUE_URL_P3/,
    );
  });

  it('serve once configured', async () => {
    const health = await importWith({ DATABASE_URL: t.url }, 'api-health');
    const res = await health.handler(apiEvent('GET', '/health', { apiKeyId: null }), lambdaContext());
    expect(res.statusCode).toBe(200);
    const customers = await importWith({ DATABASE_URL: t.url }, 'api-customers');
    const created = await customers.handler(
      apiEvent('POST', '/v1/customers', { body: { name: 'Entry Co', email: 'e@entry.test' } }),
      lambdaContext(),
    );
    expect(created.statusCode).toBe(201);
    const jobs = await importWith({ DATABASE_URL: t.url, ...queueEnv }, 'api-jobs');
    expect((await jobs.handler(apiEvent('GET', '/v1/jobs/x'), lambdaContext())).statusCode).toBe(404);
    const worker = await importWith(
      { DATABASE_URL: t.url, ...queueEnv, IDEMPOTENCY_TABLE: 'formfleet-idempotency' },
      'worker',
    );
    expect(await worker.handler({ Records: [] }, lambdaContext())).toEqual({ batchItemFailures: [] });
  });
});
