/** The API handlers called as Lambda would call them, on a real Postgres. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCustomersApi } from '#functions/api/customers';
import { makeJobsApi } from '#functions/api/jobs';
import type { ApiHandler } from '#functions/api/router';
import { simpleForm } from '#local/fixtures/sites';
import { PgCustomerStore } from '#shared/customer-store';
import { PgDirectoryStore } from '#shared/directory-store';
import type { JobMessage, JobQueue } from '#shared/job-queue';
import { PgJobStore } from '#shared/job-store';
import { PgSubmissionLedger } from '#shared/submission-ledger';
import { createLogger, createMetrics } from '#shared/telemetry';
import { apiEvent, lambdaContext } from '#test/events';
import { type TestDatabase, testDatabase } from '#test/services';

let t: TestDatabase;
let jobsApi: ApiHandler;
let customersApi: ApiHandler;
const sent: JobMessage[] = [];
let queueDown = false;

const queue: JobQueue = {
  async enqueue(message) {
    if (queueDown) throw new Error('SQS unavailable');
    sent.push(message);
  },
};

async function call(handler: ApiHandler, ...args: Parameters<typeof apiEvent>) {
  const res = await handler(apiEvent(...args), lambdaContext());
  return { status: res.statusCode, headers: res.headers ?? {}, body: JSON.parse(res.body) };
}

beforeAll(async () => {
  t = await testDatabase('api_handlers');
  const directories = new PgDirectoryStore(t.db);
  for (const [id, tier, da, active] of [
    ['dir-a', 1, 90, true],
    ['dir-b', 1, 70, true],
    ['dir-c', 2, 95, true],
    ['dir-off', 1, 99, false],
  ] as const) {
    await directories.upsert({
      id,
      name: id,
      site: 'http://127.0.0.1:9',
      submissionUrl: 'http://127.0.0.1:9/add',
      category: 'general',
      tier,
      domainAuthority: da,
      active,
      hasCaptcha: false,
      requiresLogin: false,
      definition: simpleForm.definition('http://127.0.0.1:9'),
    });
  }
  const telemetry = { logger: createLogger('test'), metrics: createMetrics('test') };
  const adminKeyIds = new Set(['admin-1']);
  customersApi = makeCustomersApi({ customers: new PgCustomerStore(t.db), adminKeyIds, ...telemetry });
  jobsApi = makeJobsApi({
    jobs: new PgJobStore(t.db),
    ledger: new PgSubmissionLedger(t.db),
    customers: new PgCustomerStore(t.db),
    directories,
    queue,
    adminKeyIds,
    ...telemetry,
  });
});
afterAll(async () => t?.close());

async function newCustomer(apiKeyId = 'client-a') {
  const res = await call(customersApi, 'POST', '/v1/customers', {
    apiKeyId,
    body: { name: "O'Brien & Sons; DROP TABLE jobs;--", email: 'ob@sons.test', website: 'https://sons.test' },
  });
  expect(res.status).toBe(201);
  return res.body as { id: string; name: string };
}

describe('customers API', () => {
  it('stores text literally and shows a customer only to its owner and admins', async () => {
    const customer = await newCustomer();
    expect(customer.name).toBe("O'Brien & Sons; DROP TABLE jobs;--");
    expect((await call(customersApi, 'GET', `/v1/customers/${customer.id}`)).body.name).toBe(customer.name);
    expect(
      (await call(customersApi, 'GET', `/v1/customers/${customer.id}`, { apiKeyId: 'client-b' })).status,
    ).toBe(404);
    expect(
      (await call(customersApi, 'GET', `/v1/customers/${customer.id}`, { apiKeyId: 'admin-1' })).status,
    ).toBe(200);
    expect((await call(customersApi, 'GET', '/v1/customers/not-a-uuid')).status).toBe(404);
  });

  it('refuses a bad profile with a message per field', async () => {
    const res = await call(customersApi, 'POST', '/v1/customers', {
      body: { email: 'nope', phone: 5, zip: 'x'.repeat(30), color: 'red' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual(
      expect.arrayContaining([
        { field: 'name', message: 'is required' },
        { field: 'email', message: 'must be an email address' },
        { field: 'phone', message: 'must be a string' },
        { field: 'zip', message: 'must be at most 20 characters' },
        { field: 'color', message: 'is not a known field' },
      ]),
    );
  });

  it('answers malformed JSON with 400, a wrong method with 405, and no key with 403', async () => {
    expect(
      (await call(customersApi, 'POST', '/v1/customers', { rawBody: '{"name":' })).body.error.message,
    ).toBe('request body is not valid JSON');
    expect((await call(customersApi, 'POST', '/v1/customers', { rawBody: '[1]' })).status).toBe(400);
    expect((await call(customersApi, 'POST', '/v1/customers')).status).toBe(400);
    const wrong = await call(customersApi, 'DELETE', '/v1/customers');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('POST');
    expect((await call(customersApi, 'POST', '/v1/customers', { apiKeyId: null, body: {} })).status).toBe(
      403,
    );
  });
});

describe('jobs API', () => {
  it('selects a package by tier and domain authority, with its default priority', async () => {
    const customer = await newCustomer();
    const res = await call(jobsApi, 'POST', '/v1/jobs', {
      body: { customerId: customer.id, package: 'starter' },
    });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'queued', priority: 3, tier: 'P3', directories: 2 });
    const job = await call(jobsApi, 'GET', `/v1/jobs/${res.body.id}`);
    // Tier-1 active directories only, highest domain authority first; the inactive one is left out.
    expect(job.body.results.map((r: { directoryId: string }) => r.directoryId)).toEqual(['dir-a', 'dir-b']);
    expect(sent.at(-1)).toMatchObject({ jobId: res.body.id, enqueueToken: 1, priority: 3 });
  });

  it('refuses unknown or inactive directories, repeats, and both selectors at once', async () => {
    const customer = await newCustomer();
    const unknown = await call(jobsApi, 'POST', '/v1/jobs', {
      body: { customerId: customer.id, directoryIds: ['dir-a', 'dir-off', 'nope'] },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details[0].message).toBe('unknown or inactive: dir-off, nope');
    const repeat = await call(jobsApi, 'POST', '/v1/jobs', {
      body: { customerId: customer.id, directoryIds: ['dir-a', 'dir-a'] },
    });
    expect(repeat.body.error.details).toEqual([
      { field: 'directoryIds', message: 'must not repeat a directory' },
    ]);
    const both = await call(jobsApi, 'POST', '/v1/jobs', {
      body: { customerId: customer.id, directoryIds: ['dir-a'], package: 'growth', extra: 1 },
    });
    expect(both.body.error.details.map((d: { field: string }) => d.field)).toEqual(['package', 'extra']);
  });

  it("does not let one client use or read another client's customer and jobs", async () => {
    const customer = await newCustomer('client-a');
    const res = await call(jobsApi, 'POST', '/v1/jobs', {
      apiKeyId: 'client-b',
      body: { customerId: customer.id, directoryIds: ['dir-a'] },
    });
    expect(res.status).toBe(404);
    const own = await call(jobsApi, 'POST', '/v1/jobs', {
      body: { customerId: customer.id, directoryIds: ['dir-a'] },
    });
    expect((await call(jobsApi, 'GET', `/v1/jobs/${own.body.id}`, { apiKeyId: 'client-b' })).status).toBe(
      404,
    );
    expect((await call(jobsApi, 'GET', `/v1/jobs/${own.body.id}`, { apiKeyId: 'admin-1' })).status).toBe(200);
    expect((await call(jobsApi, 'GET', '/v1/jobs/00000000-0000-0000-0000-000000000000')).status).toBe(404);
  });

  it('keeps the job when the queue is down: 202 with status pending, nothing lost', async () => {
    const customer = await newCustomer();
    queueDown = true;
    try {
      const res = await call(jobsApi, 'POST', '/v1/jobs', {
        body: { customerId: customer.id, directoryIds: ['dir-c'] },
      });
      expect(res.status).toBe(202);
      expect(res.body.status).toBe('pending');
      const job = await call(jobsApi, 'GET', `/v1/jobs/${res.body.id}`);
      expect(job.body).toMatchObject({
        status: 'pending',
        results: [expect.objectContaining({ status: 'prepared' })],
      });
    } finally {
      queueDown = false;
    }
  });

  it('never leaks an internal error to the caller', async () => {
    const broken = makeJobsApi({
      jobs: {
        get: async () => {
          throw new Error('connection to 10.0.0.5 refused at PgJobStore.get (/var/task/index.mjs:1:1)');
        },
      } as never,
      ledger: new PgSubmissionLedger(t.db),
      customers: new PgCustomerStore(t.db),
      directories: new PgDirectoryStore(t.db),
      queue,
      adminKeyIds: new Set(),
      logger: createLogger('test'),
      metrics: createMetrics('test'),
    });
    const res = await call(broken, 'GET', '/v1/jobs/00000000-0000-0000-0000-000000000000');
    expect(res.status).toBe(500);
    expect(res.body.error).toEqual({
      code: 'internal',
      message: 'internal error',
      requestId: expect.any(String),
    });
    expect(JSON.stringify(res.body)).not.toMatch(/10\.0\.0\.5|index\.mjs/);
  });
});
