/**
 * The directories and submissions routes called as Lambda calls them, on a real Postgres; every answer held
 * to its documented contract.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgAlertOutbox } from '#functions/alerts/alert-outbox';
import { makeDirectoriesApi } from '#functions/api/directories';
import { PgDirectoryQueries } from '#functions/api/directory-queries';
import type { ApiHandler } from '#functions/api/router';
import { PgSubmissionQueries } from '#functions/api/submission-queries';
import { makeSubmissionsApi } from '#functions/api/submissions';
import { PgDirectoryHealthStore } from '#functions/directories/health-store';
import { simpleForm } from '#local/fixtures/sites';
import { CACHE_TTL } from '#policy';
import { PgCustomerStore } from '#shared/customer-store';
import { PgDirectoryStore } from '#shared/directory-store';
import { PgJobStore } from '#shared/job-store';
import { PgSubmissionLedger } from '#shared/submission-ledger';
import { PgTaskStore } from '#shared/task-store';
import { ADMIN_KEY_ID, baseDeps, call, INJECTIONS } from '#test/api';
import { proofLinksOn } from '#test/records';
import { type TestDatabase, testDatabase } from '#test/services';

let t: TestDatabase;
let api: ApiHandler;
let submissionsApi: ApiHandler;
let clock = 0;
const definition = simpleForm.definition('http://127.0.0.1:9');

const putBody = (overrides: Record<string, unknown> = {}) => ({
  name: 'Local Listings',
  category: 'general',
  tier: 1,
  domainAuthority: 40,
  definition,
  ...overrides,
});

async function put(id: string, body: Record<string, unknown> = putBody()) {
  return call(api, 'PUT', `/v1/directories/${id}`, { apiKeyId: ADMIN_KEY_ID, body });
}

beforeAll(async () => {
  t = await testDatabase('api_directories');
  api = makeDirectoriesApi({
    ...baseDeps(t.db),
    directories: new PgDirectoryStore(t.db),
    queries: new PgDirectoryQueries(t.db),
    health: new PgDirectoryHealthStore(t.db, new PgAlertOutbox(t.db)),
    now: () => clock,
  });
  submissionsApi = makeSubmissionsApi({
    ...baseDeps(t.db),
    submissions: new PgSubmissionQueries(t.db),
    jobs: new PgJobStore(t.db),
    customers: new PgCustomerStore(t.db),
    proofs: proofLinksOn(t.db),
    tasks: new PgTaskStore(t.db),
  });
});
afterAll(async () => t?.close());

describe('directories API', () => {
  it('creates (201) and replaces (200, version raised) a definition, storing text literally', async () => {
    const created = await put('dir-new', putBody({ name: INJECTIONS[0], category: INJECTIONS[1] }));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: 'dir-new',
      name: INJECTIONS[0],
      category: INJECTIONS[1],
      site: 'http://127.0.0.1:9',
      submissionUrl: definition.submissionUrl,
      active: true,
      version: 1,
    });
    const replaced = await put('dir-new', putBody({ tier: 2, hasCaptcha: true }));
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ tier: 2, hasCaptcha: true, version: 2 });
    const read = await call(api, 'GET', '/v1/directories/dir-new');
    expect(read.body.definition).toEqual(definition);
    for (const attack of INJECTIONS) {
      const id = `sql-${INJECTIONS.indexOf(attack)}`;
      expect((await put(id, putBody({ name: attack, category: attack }))).body).toMatchObject({
        name: attack,
        category: attack,
      });
    }
    // Used as a filter, such a string matches itself and nothing else.
    const filtered = await call(api, 'GET', '/v1/directories', {
      query: { category: INJECTIONS[3] as string },
    });
    expect(filtered.body.items.map((d: { id: string }) => d.id)).toEqual(['sql-3']);
  });

  it('validates the definition with the worker’s own parser and names the field', async () => {
    const bad = await put(
      'dir-bad',
      putBody({ definition: { ...definition, steps: [{ action: 'dance' }] } }),
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.details).toEqual([
      {
        field: 'definition.steps[0].action',
        message: 'must be one of goto, fill, select, check, click, upload, waitFor, next, submit',
      },
      { field: 'definition.steps', message: 'must contain exactly one submit step' },
    ]);
    const noSubmit = await put(
      'dir-bad',
      putBody({
        definition: { ...definition, steps: definition.steps.filter((s) => s.action !== 'submit') },
      }),
    );
    expect(noSubmit.body.error.details[0].field).toBe('definition.steps');
    const schema = await put('dir-bad', { name: '', tier: 9, definition: {} });
    expect(schema.body.error.details).toEqual(
      expect.arrayContaining([
        { field: 'name', message: 'must not be blank' },
        { field: 'tier', message: 'must be at most 4' },
        { field: 'category', message: 'is required' },
        { field: 'definition.submissionUrl', message: 'is required' },
      ]),
    );
    expect((await put('Not_An_Id')).body.error.details[0].field).toBe('id');
    expect((await call(api, 'GET', '/v1/directories/dir-bad')).status).toBe(404);
  });

  it('keeps create, replace and delete to admin keys', async () => {
    const res = await call(api, 'PUT', '/v1/directories/dir-x', { apiKeyId: 'client-a', body: putBody() });
    expect(res.status).toBe(403);
    expect(res.body.error.message).toBe('this route needs an admin API key');
    expect((await call(api, 'DELETE', '/v1/directories/dir-new', { apiKeyId: 'client-a' })).status).toBe(403);
  });

  it('deletes softly: the directory stays, inactive; unknown ids are 404', async () => {
    await put('dir-gone');
    const res = await call(api, 'DELETE', '/v1/directories/dir-gone', { apiKeyId: ADMIN_KEY_ID });
    expect(res.status).toBe(204);
    expect((await call(api, 'GET', '/v1/directories/dir-gone')).body.active).toBe(false);
    expect((await call(api, 'DELETE', '/v1/directories/dir-gone', { apiKeyId: ADMIN_KEY_ID })).status).toBe(
      204,
    );
    expect((await call(api, 'DELETE', '/v1/directories/nope', { apiKeyId: ADMIN_KEY_ID })).status).toBe(404);
    expect((await call(api, 'DELETE', '/v1/directories/NOPE!', { apiKeyId: ADMIN_KEY_ID })).status).toBe(404);
  });

  it('lists by id with filters and a cursor, cached briefly and cleared by a change', async () => {
    for (const [id, category, tier] of [
      ['list-a', 'legal', 1],
      ['list-b', 'legal', 2],
      ['list-c', 'legal', 3],
      ['list-d', 'food', 1],
    ] as const) {
      await put(id, putBody({ category, tier }));
    }
    const first = await call(api, 'GET', '/v1/directories', { query: { category: 'legal', limit: '2' } });
    expect(first.headers['cache-control']).toBe(`private, max-age=${CACHE_TTL.directoryListSeconds}`);
    expect(first.body.items.map((d: { id: string }) => d.id)).toEqual(['list-a', 'list-b']);
    const second = await call(api, 'GET', '/v1/directories', {
      query: { category: 'legal', limit: '2', cursor: first.body.nextCursor },
    });
    expect(second.body).toMatchObject({
      items: [expect.objectContaining({ id: 'list-c' })],
      nextCursor: null,
    });
    const tier1 = await call(api, 'GET', '/v1/directories', {
      query: { tier: '1', active: 'true', category: 'food' },
    });
    expect(tier1.body.items.map((d: { id: string }) => d.id)).toEqual(['list-d']);
    const inactive = await call(api, 'GET', '/v1/directories', { query: { active: 'false' } });
    expect(inactive.body.items.map((d: { id: string }) => d.id)).toEqual(['dir-gone']);

    // A change made elsewhere is seen once the cache expires; one made here, at once.
    await t.db.query(`UPDATE directories SET name = 'renamed' WHERE id = 'list-d'`);
    const cached = await call(api, 'GET', '/v1/directories', {
      query: { tier: '1', active: 'true', category: 'food' },
    });
    expect(cached.body.items[0].name).toBe('Local Listings');
    clock += CACHE_TTL.directoryListSeconds * 1000 + 1;
    const fresh = await call(api, 'GET', '/v1/directories', {
      query: { tier: '1', active: 'true', category: 'food' },
    });
    expect(fresh.body.items[0].name).toBe('renamed');
    await call(api, 'DELETE', '/v1/directories/list-d', { apiKeyId: ADMIN_KEY_ID });
    const afterDelete = await call(api, 'GET', '/v1/directories', {
      query: { tier: '1', active: 'true', category: 'food' },
    });
    expect(afterDelete.body.items).toEqual([]);

    const bad = await call(api, 'GET', '/v1/directories', { query: { tier: 'five', active: 'maybe' } });
    expect(bad.body.error.details).toEqual([
      { field: 'tier', message: 'must be an integer' },
      { field: 'active', message: 'must be true or false' },
    ]);
  });
});

describe('submissions API', () => {
  it('lists a job’s or a customer’s ledger rows to its owner and admins only, by cursor', async () => {
    await put('sub-a');
    await put('sub-b');
    const customers = new PgCustomerStore(t.db);
    const jobs = new PgJobStore(t.db);
    const customer = await customers.create('client-a', {
      name: 'Sub Co',
      email: 's@sub.test',
    } as never);
    const newJob = () =>
      jobs.create({
        customerId: customer.id,
        ownerKeyId: 'client-a',
        priority: 2,
        requestedPriority: 2,
        package: null,
        directoryIds: ['sub-a', 'sub-b'],
      });
    const job1 = await newJob();
    const job2 = await newJob();
    const claim = await jobs.claim(job1.id, 1, 'w');
    await new PgSubmissionLedger(t.db).settle(claim as never, 'sub-a', {
      status: 'failed',
      errorClass: 'timeout',
      error: INJECTIONS[2],
    });

    const byJob = await call(submissionsApi, 'GET', '/v1/submissions', { query: { jobId: job1.id } });
    expect(byJob.body.items).toEqual([
      expect.objectContaining({
        directoryId: 'sub-a',
        status: 'failed',
        errorClass: 'timeout',
        error: INJECTIONS[2],
      }),
      expect.objectContaining({ directoryId: 'sub-b', status: 'prepared', customerId: customer.id }),
    ]);
    const pages: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await call(submissionsApi, 'GET', '/v1/submissions', {
        query: { customerId: customer.id, limit: '3', ...(cursor ? { cursor } : {}) },
      });
      pages.push(
        ...res.body.items.map((s: { jobId: string; directoryId: string }) => `${s.jobId}/${s.directoryId}`),
      );
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(pages).toEqual([`${job1.id}/sub-a`, `${job1.id}/sub-b`, `${job2.id}/sub-a`, `${job2.id}/sub-b`]);
    const failed = await call(submissionsApi, 'GET', '/v1/submissions', {
      query: { customerId: customer.id, status: 'failed' },
    });
    expect(failed.body.items).toHaveLength(1);

    const other = await call(submissionsApi, 'GET', '/v1/submissions', {
      apiKeyId: 'client-b',
      query: { jobId: job1.id },
    });
    expect(other.status).toBe(404);
    const otherCustomer = await call(submissionsApi, 'GET', '/v1/submissions', {
      apiKeyId: 'client-b',
      query: { customerId: customer.id },
    });
    expect(otherCustomer.status).toBe(404);
    const admin = await call(submissionsApi, 'GET', '/v1/submissions', {
      apiKeyId: ADMIN_KEY_ID,
      query: { jobId: job2.id },
    });
    expect(admin.body.items).toHaveLength(2);
  });

  it('needs exactly one of jobId and customerId', async () => {
    const neither = await call(submissionsApi, 'GET', '/v1/submissions');
    expect(neither.body.error.details).toEqual([
      { field: 'jobId', message: 'give jobId or customerId (one of them)' },
    ]);
    const both = await call(submissionsApi, 'GET', '/v1/submissions', {
      query: {
        jobId: '00000000-0000-0000-0000-000000000000',
        customerId: '00000000-0000-0000-0000-000000000000',
      },
    });
    expect(both.status).toBe(400);
    const badId = await call(submissionsApi, 'GET', '/v1/submissions', { query: { jobId: "1' OR '1'='1" } });
    expect(badId.body.error.details).toEqual([{ field: 'jobId', message: 'must be a valid uuid' }]);
    const missing = await call(submissionsApi, 'GET', '/v1/submissions', {
      query: { jobId: '00000000-0000-0000-0000-000000000000' },
    });
    expect(missing.status).toBe(404);
  });
});
