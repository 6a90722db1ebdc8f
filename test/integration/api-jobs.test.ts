/**
 * The jobs routes (create, read, list, cancel, retry, queue position) called as Lambda calls them, on a real
 * Postgres with the real job store, ledger and queries; the queue port is an in-test recorder (the SQS adapter
 * is proven on moto elsewhere). Every answer is held to its documented contract.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgJobQueries } from '#functions/api/job-queries';
import { makeJobsApi } from '#functions/api/jobs';
import type { ApiHandler } from '#functions/api/router';
import { PgBrandStore } from '#shared/brand-store';
import { PgCustomerStore } from '#shared/customer-store';
import { PgDirectoryStore } from '#shared/directory-store';
import type { JobMessage, JobQueue } from '#shared/job-queue';
import type { PgJobStore } from '#shared/job-store';
import type { PgSubmissionLedger } from '#shared/submission-ledger';
import { createLogger, createMetrics } from '#shared/telemetry';
import { ADMIN_KEY_ID, baseDeps, call } from '#test/api';
import { jobsApiOn } from '#test/jobs-api';
import { proofLinksOn } from '#test/records';
import { type TestDatabase, testDatabase } from '#test/services';

let t: TestDatabase;
let jobsApi: ApiHandler;
let customersApi: ApiHandler;
let jobStore: PgJobStore;
let ledger: PgSubmissionLedger;
const sent: JobMessage[] = [];
let queueDown = false;

const queue: JobQueue = {
  async enqueue(message) {
    if (queueDown) throw new Error('SQS unavailable');
    sent.push(message);
  },
};

beforeAll(async () => {
  t = await testDatabase('api_jobs');
  ({
    jobsApi,
    customersApi,
    jobs: jobStore,
    ledger,
  } = await jobsApiOn(t.db, queue, [
    { id: 'dir-a', tier: 1, domainAuthority: 90 },
    { id: 'dir-b', tier: 1, domainAuthority: 70 },
    { id: 'dir-c', tier: 2, domainAuthority: 95 },
    { id: 'dir-off', tier: 1, domainAuthority: 99, active: false },
  ]));
});
afterAll(async () => t?.close());

async function newCustomer(apiKeyId = 'client-a') {
  const res = await call(customersApi, 'POST', '/v1/customers', {
    apiKeyId,
    body: { name: 'Jobs Co', email: 'jobs@co.test' },
  });
  return res.body as { id: string };
}

async function newJob(customerId: string, body: Record<string, unknown> = {}, apiKeyId = 'client-a') {
  const res = await call(jobsApi, 'POST', '/v1/jobs', {
    apiKeyId,
    body: { customerId, directoryIds: ['dir-a', 'dir-b'], ...body },
  });
  expect(res.status).toBe(202);
  return res.body as { id: string; tier: string };
}

/** Claims a job as a worker would, returning the claim (for fenced ledger writes). */
async function claim(jobId: string) {
  const job = await jobStore.get(jobId);
  const c = await jobStore.claim(jobId, job?.enqueueToken ?? 0, 'test-worker');
  if (!c) throw new Error('claim refused');
  return c;
}

describe('POST /v1/jobs', () => {
  it('selects a package by tier and domain authority, with its default priority', async () => {
    const customer = await newCustomer();
    const res = await call(jobsApi, 'POST', '/v1/jobs', {
      body: { customerId: customer.id, package: 'starter' },
    });
    expect(res.body).toMatchObject({ status: 'queued', priority: 3, tier: 'P3', directories: 2 });
    const job = await call(jobsApi, 'GET', `/v1/jobs/${res.body.id}`);
    expect(job.body.results.map((r: { directoryId: string }) => r.directoryId)).toEqual(['dir-a', 'dir-b']);
    expect(sent.at(-1)).toMatchObject({ jobId: res.body.id, enqueueToken: 1, priority: 3 });
  });

  it('refuses unknown or inactive directories, repeats, neither or both selectors, and a bad priority', async () => {
    const customer = await newCustomer();
    const unknown = await call(jobsApi, 'POST', '/v1/jobs', {
      body: { customerId: customer.id, directoryIds: ['dir-a', 'dir-off', 'nope'] },
    });
    expect(unknown.status).toBe(409);
    expect(unknown.body.error.details).toEqual([
      { field: 'directoryIds', message: 'unknown or inactive: dir-off, nope' },
    ]);
    const repeat = await call(jobsApi, 'POST', '/v1/jobs', {
      body: { customerId: customer.id, directoryIds: ['dir-a', 'dir-a'] },
    });
    expect(repeat.body.error.details).toEqual([
      { field: 'directoryIds', message: 'must not repeat an item' },
    ]);
    const both = await call(jobsApi, 'POST', '/v1/jobs', {
      body: { customerId: customer.id, directoryIds: ['dir-a'], package: 'growth', extra: 1 },
    });
    expect(both.body.error.details).toEqual(
      expect.arrayContaining([
        { field: 'extra', message: 'is not a known field' },
        { field: 'package', message: 'give directoryIds or package, not both' },
      ]),
    );
    const neither = await call(jobsApi, 'POST', '/v1/jobs', { body: { customerId: 'nope', priority: 7 } });
    expect(neither.body.error.details).toEqual(
      expect.arrayContaining([
        { field: 'customerId', message: 'must be a customer id (uuid)' },
        { field: 'priority', message: 'must be one of 1, 2, 3' },
        { field: 'directoryIds', message: 'give directoryIds or package' },
      ]),
    );
    expect(neither.body.error.details).toHaveLength(3);
    const badId = await call(jobsApi, 'POST', '/v1/jobs', {
      body: { customerId: customer.id, directoryIds: ['Bad Id'] },
    });
    expect(badId.body.error.details[0].field).toBe('directoryIds[0]');
  });

  it("does not let one client use or read another client's customer and jobs", async () => {
    const customer = await newCustomer('client-a');
    const res = await call(jobsApi, 'POST', '/v1/jobs', {
      apiKeyId: 'client-b',
      body: { customerId: customer.id, directoryIds: ['dir-a'] },
    });
    expect(res.status).toBe(404);
    const own = await newJob(customer.id);
    expect((await call(jobsApi, 'GET', `/v1/jobs/${own.id}`, { apiKeyId: 'client-b' })).status).toBe(404);
    expect((await call(jobsApi, 'GET', `/v1/jobs/${own.id}`, { apiKeyId: ADMIN_KEY_ID })).status).toBe(200);
    expect((await call(jobsApi, 'GET', '/v1/jobs/00000000-0000-0000-0000-000000000000')).status).toBe(404);
    expect((await call(jobsApi, 'GET', '/v1/jobs/x')).status).toBe(404);
  });

  it('keeps the job when the queue is down: 202 with status pending, nothing lost', async () => {
    const customer = await newCustomer();
    queueDown = true;
    try {
      const res = await call(jobsApi, 'POST', '/v1/jobs', {
        body: { customerId: customer.id, directoryIds: ['dir-c'] },
      });
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
      ...baseDeps(t.db),
      logger: createLogger('test'),
      metrics: createMetrics('test'),
      jobs: {
        get: async () => {
          throw new Error('connection to 10.0.0.5 refused at PgJobStore.get (/var/task/index.mjs:1:1)');
        },
      } as never,
      queries: new PgJobQueries(t.db),
      ledger,
      customers: new PgCustomerStore(t.db),
      directories: new PgDirectoryStore(t.db),
      queue,
      proofs: proofLinksOn(t.db),
      brands: new PgBrandStore(t.db),
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

describe('GET /v1/jobs', () => {
  it('pages newest first by a stable cursor, only over the caller’s own jobs, with filters', async () => {
    const customer = await newCustomer('client-pager');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await newJob(customer.id, {}, 'client-pager')).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: Record<string, string> = { limit: '2', ...(cursor ? { cursor } : {}) };
      const res = await call(jobsApi, 'GET', '/v1/jobs', { apiKeyId: 'client-pager', query });
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((j: { id: string }) => j.id));
      cursor = res.body.nextCursor;
      // A job created between pages never shifts what the next page holds.
      if (seen.length === 2) await newJob(customer.id, {}, 'client-pager');
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());

    const other = await call(jobsApi, 'GET', '/v1/jobs', {
      apiKeyId: 'client-b',
      query: { customerId: customer.id },
    });
    expect(other.body.items).toEqual([]);
    const admin = await call(jobsApi, 'GET', '/v1/jobs', {
      apiKeyId: ADMIN_KEY_ID,
      query: { customerId: customer.id, status: 'queued', limit: '200' },
    });
    expect(admin.body.items).toHaveLength(6);
    const none = await call(jobsApi, 'GET', '/v1/jobs', {
      apiKeyId: 'client-pager',
      query: { status: 'failed' },
    });
    expect(none.body).toEqual({ items: [], nextCursor: null });
  });

  it('refuses an altered cursor, an unknown status and a page size out of range', async () => {
    const tampered = Buffer.from(JSON.stringify(["2020-01-01'; DROP TABLE jobs;--", 'x'])).toString(
      'base64url',
    );
    const res = await call(jobsApi, 'GET', '/v1/jobs', { query: { cursor: tampered } });
    expect(res.body.error.details).toEqual([
      { field: 'cursor', message: 'is not a cursor this API gave out' },
    ]);
    expect((await call(jobsApi, 'GET', '/v1/jobs', { query: { cursor: '%%%' } })).status).toBe(400);
    const bad = await call(jobsApi, 'GET', '/v1/jobs', { query: { status: 'lost', limit: '0', page: '2' } });
    expect(bad.body.error.details).toEqual([
      { field: 'page', message: 'is not a known field' },
      {
        field: 'status',
        message: 'must be one of pending, queued, in_progress, completed, failed, cancelled',
      },
      { field: 'limit', message: 'must be at least 1' },
    ]);
  });
});

describe('POST /v1/jobs/{id}/cancel', () => {
  it('cancels a queued job: untried directories become skipped; a second cancel is 409', async () => {
    const customer = await newCustomer();
    const job = await newJob(customer.id);
    const res = await call(jobsApi, 'POST', `/v1/jobs/${job.id}/cancel`);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('cancelled');
    expect(res.body.results.map((r: { status: string }) => r.status)).toEqual(['skipped', 'skipped']);
    const again = await call(jobsApi, 'POST', `/v1/jobs/${job.id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/already cancelled/);
    expect((await call(jobsApi, 'POST', `/v1/jobs/${job.id}/cancel`, { apiKeyId: 'client-b' })).status).toBe(
      404,
    );
  });

  it('stops a running worker: its fenced writes fail, and a directory caught mid-submit becomes unknown', async () => {
    const customer = await newCustomer();
    const job = await newJob(customer.id);
    const c = await claim(job.id);
    expect(await ledger.begin(c, 'dir-a')).toBe(1);
    const res = await call(jobsApi, 'POST', `/v1/jobs/${job.id}/cancel`);
    expect(res.body.results).toEqual([
      expect.objectContaining({ directoryId: 'dir-a', status: 'unknown', errorClass: 'internal' }),
      expect.objectContaining({ directoryId: 'dir-b', status: 'skipped' }),
    ]);
    expect(await ledger.settle(c, 'dir-a', { status: 'submitted' })).toBe(false);
    expect(await jobStore.heartbeat(c, {})).toBe(false);
    expect(await jobStore.finish(c, { status: 'completed', progress: {} })).toBe(false);
    const { rows } = await t.db.query<{ type: string }>(
      'SELECT type FROM job_events WHERE job_id = $1 ORDER BY id',
      [job.id],
    );
    expect(rows.map((r) => r.type)).toContain('cancelled');
  });
});

describe('POST /v1/jobs/{id}/retry', () => {
  it('refuses a job that has not ended, and a finished job with nothing failed or unknown', async () => {
    const customer = await newCustomer();
    const running = await newJob(customer.id);
    const res = await call(jobsApi, 'POST', `/v1/jobs/${running.id}/retry`);
    expect(res.status).toBe(409);
    expect(res.body.error.message).toBe('job is queued; only a finished job can be retried');
    const done = await newJob(customer.id);
    const c = await claim(done.id);
    for (const d of ['dir-a', 'dir-b']) {
      await ledger.begin(c, d);
      await ledger.settle(c, d, { status: 'submitted' });
    }
    await jobStore.finish(c, { status: 'completed', progress: {} });
    const nothing = await call(jobsApi, 'POST', `/v1/jobs/${done.id}/retry`);
    expect(nothing.status).toBe(409);
    expect(nothing.body.error.message).toMatch(/nothing to retry/);
  });

  it('sends failed directories again, looks unknown ones up first, and requeues with a new enqueue token', async () => {
    const customer = await newCustomer();
    const job = await newJob(customer.id, { directoryIds: ['dir-a', 'dir-b', 'dir-c'] });
    const c = await claim(job.id);
    await ledger.begin(c, 'dir-a');
    await ledger.settle(c, 'dir-a', { status: 'submitted' });
    await ledger.settle(c, 'dir-b', { status: 'failed', errorClass: 'site_down', error: 'down' });
    await ledger.begin(c, 'dir-c');
    await ledger.settle(c, 'dir-c', { status: 'unknown', errorClass: 'internal' });
    await jobStore.finish(c, { status: 'completed', progress: {} });

    const res = await call(jobsApi, 'POST', `/v1/jobs/${job.id}/retry`);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'queued', tier: 'P2', retried: ['dir-b', 'dir-c'] });
    expect(res.body.plan).toEqual([
      expect.objectContaining({ directoryId: 'dir-a', from: 'submitted', to: 'submitted', action: 'none' }),
      expect.objectContaining({ directoryId: 'dir-b', from: 'failed', to: 'prepared', action: 'send' }),
      expect.objectContaining({ directoryId: 'dir-c', from: 'unknown', to: 'unverified', action: 'verify' }),
    ]);
    expect(sent.at(-1)).toMatchObject({ jobId: job.id, enqueueToken: 2, priority: 2 });
    const after = await call(jobsApi, 'GET', `/v1/jobs/${job.id}`);
    expect(after.body.status).toBe('queued');
    expect(after.body.results.map((r: { status: string }) => r.status)).toEqual([
      'submitted',
      'prepared',
      'unverified',
    ]);
    // The old message is stale now; the new one claims.
    expect(await jobStore.claim(job.id, 1, 'late-worker')).toBeUndefined();
    expect(await jobStore.claim(job.id, 2, 'worker')).toBeDefined();
  });
});

describe('GET /v1/customers/{id}/queue', () => {
  it('gives each waiting job its place in its tier and an estimate from recent throughput', async () => {
    const customer = await newCustomer('client-q');
    const first = await newJob(customer.id, { priority: 1 }, 'client-q');
    const second = await newJob(customer.id, { priority: 1 }, 'client-q');
    const before = await call(jobsApi, 'GET', `/v1/customers/${customer.id}/queue`, { apiKeyId: 'client-q' });
    const [a, b] = before.body.jobs;
    expect(a).toMatchObject({ jobId: first.id, tier: 'P1', status: 'queued' });
    expect(b.position).toBe(a.position + 1);

    // Finish the first: it leaves the queue, the second moves up, and P1 now has throughput to go by.
    const c = await claim(first.id);
    await jobStore.finish(c, { status: 'completed', progress: {} });
    const after = await call(jobsApi, 'GET', `/v1/customers/${customer.id}/queue`, { apiKeyId: 'client-q' });
    expect(after.body.jobs).toEqual([
      expect.objectContaining({
        jobId: second.id,
        position: b.position - 1,
        estimatedWaitSeconds: expect.any(Number),
      }),
    ]);
    expect(after.body.jobs[0].estimatedWaitSeconds).toBeGreaterThan(0);
    const other = await call(jobsApi, 'GET', `/v1/customers/${customer.id}/queue`, { apiKeyId: 'client-b' });
    expect(other.status).toBe(404);
  });
});
