/**
 * The Lambda entry files build their handlers from the environment at cold start: they fail fast naming
 * every missing variable, and with a complete environment the built handler serves.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RETENTION } from '#policy';
import { apiEvent, lambdaContext } from '#test/events';
import { testRecords } from '#test/records';
import { type TestDatabase, testDatabase } from '#test/services';

let t: TestDatabase;
const saved = { ...process.env };
/** Signing proof links makes no request: a bucket name is all the API functions need here. */
const records = { RECORDS_BUCKET: 'formfleet-records' };
const queueEnv = {
  QUEUE_URL_P1: 'http://127.0.0.1:1/000000000000/p1.fifo',
  QUEUE_URL_P2: 'http://127.0.0.1:1/000000000000/p2.fifo',
  QUEUE_URL_P3: 'http://127.0.0.1:1/000000000000/p3.fifo',
  DLQ_URL_P1: 'http://127.0.0.1:1/000000000000/p1-dlq.fifo',
  DLQ_URL_P2: 'http://127.0.0.1:1/000000000000/p2-dlq.fifo',
  DLQ_URL_P3: 'http://127.0.0.1:1/000000000000/p3-dlq.fifo',
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
    await expect(importWith({}, 'api-customers')).rejects.toThrow(/DATABASE_URL or DATABASE_SECRET_ARN/);
    await expect(importWith({ DATABASE_URL: t.url }, 'api-health')).rejects.toThrow(/QUEUE_URL_P1/);
    await expect(
      importWith({ DATABASE_URL: t.url, MAX_JSON_BODY_BYTES: '9000000' }, 'api-directories'),
    ).rejects.toThrow(/MAX_JSON_BODY_BYTES must be from 1 to/);
    await expect(importWith({ DATABASE_URL: t.url }, 'api-jobs')).rejects.toThrow(
      /missing required environment variable\(s\): QUEUE_URL_P1, QUEUE_URL_P2, QUEUE_URL_P3, RECORDS_BUCKET/,
    );
    await expect(importWith({ DATABASE_URL: t.url }, 'api-submissions')).rejects.toThrow(
      /missing required environment variable\(s\): RECORDS_BUCKET/,
    );
    await expect(importWith({ DATABASE_URL: t.url }, 'worker')).rejects.toThrow(
      /IDEMPOTENCY_TABLE, RECORDS_BUCKET, QUEUE_URL_P1, QUEUE_URL_P2, QUEUE_URL_P3/,
    );
    // Logos: the customers API signs uploads to the records bucket and reads them back.
    await expect(importWith({ DATABASE_URL: t.url }, 'api-customers')).rejects.toThrow(
      /missing required environment variable\(s\): RECORDS_BUCKET/,
    );
    await expect(importWith({ DATABASE_URL: t.url }, 'retention')).rejects.toThrow(
      /missing required environment variable\(s\): RECORDS_BUCKET/,
    );
    await expect(importWith({ DATABASE_URL: t.url }, 'api-keys')).rejects.toThrow(
      /missing required environment variable\(s\): USAGE_PLAN_IDS, API_KEY_NAME_PREFIX/,
    );
  });

  it('retention runs once configured: every table in the registry, nothing old enough yet', async () => {
    const bucket = await testRecords('entries');
    const retention = await importWith({ DATABASE_URL: t.url, ...bucket.env }, 'retention');
    const report = await retention.handler();
    expect(report.tables.map((x: { table: string }) => x.table)).toEqual(
      RETENTION.tables.map((x) => x.table),
    );
    expect(report.tables.every((x: { archived: number }) => x.archived === 0)).toBe(true);
  });

  it('serve once configured', async () => {
    const health = await importWith({ DATABASE_URL: t.url, ...queueEnv }, 'api-health');
    const res = await health.handler(apiEvent('GET', '/health', { apiKeyId: null }), lambdaContext());
    expect(res.statusCode).toBe(200);
    const customers = await importWith({ DATABASE_URL: t.url, ...records }, 'api-customers');
    const created = await customers.handler(
      apiEvent('POST', '/v1/customers', { body: { name: 'Entry Co', email: 'e@entry.test' } }),
      lambdaContext(),
    );
    expect(created.statusCode).toBe(201);
    const jobs = await importWith({ DATABASE_URL: t.url, ...queueEnv, ...records }, 'api-jobs');
    expect((await jobs.handler(apiEvent('GET', '/v1/jobs/x'), lambdaContext())).statusCode).toBe(404);
    const directories = await importWith({ DATABASE_URL: t.url }, 'api-directories');
    expect((await directories.handler(apiEvent('GET', '/v1/directories'), lambdaContext())).statusCode).toBe(
      200,
    );
    const submissions = await importWith({ DATABASE_URL: t.url, ...records }, 'api-submissions');
    expect((await submissions.handler(apiEvent('GET', '/v1/submissions'), lambdaContext())).statusCode).toBe(
      400,
    );
    const dlq = await importWith(
      { DATABASE_URL: t.url, ...queueEnv, ADMIN_API_KEY_IDS: 'admin-1' },
      'api-dlq',
    );
    expect((await dlq.handler(apiEvent('GET', '/v1/dlq'), lambdaContext())).statusCode).toBe(403);
    const worker = await importWith(
      { DATABASE_URL: t.url, ...queueEnv, ...records, IDEMPOTENCY_TABLE: 'formfleet-idempotency' },
      'worker',
    );
    expect(await worker.handler({ Records: [] }, lambdaContext())).toEqual({ batchItemFailures: [] });
  });
});
