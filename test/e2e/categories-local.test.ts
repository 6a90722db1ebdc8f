/**
 * Categories through the whole local system, as an operator meets them: a bakery created through the API,
 * one job to the four directories that name categories their own way (local/fixtures/category-sites.ts),
 * the worker through its pollers on real Chromium. What each site received is read at the far end; the
 * directory's options as last seen and its map come back from GET /v1/directories/{id}/categories; the
 * row with no option is needs_manual (category_unmapped), and a map set with PUT sends it with the next job.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { categoryVariants } from '#local/fixtures/category-sites';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { jobFinished, localApi } from '#test/local-api';
import { eventually, motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';
import { FAST_WORKER_ENV } from '#test/worker-jobs';

let t: TestDatabase;
let system: LocalSystem;

const api = localApi(() => system);

beforeAll(async () => {
  t = await testDatabase('categories_local', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('cat')}-`,
    schedules: { timers: false },
    fixtures: categoryVariants(),
    env: FAST_WORKER_ENV,
  });
});
afterAll(async () => {
  await system?.stop();
  await t?.close();
});

const DIRECTORIES = ['category-label', 'category-numeric', 'category-optgroup', 'category-nowhere'];

const finished = (jobId: string) => jobFinished(api, jobId);

const received = (id: string, name: string) =>
  system.fixtures
    .site(id)
    .submissions.filter((s) => s.fields.business_name === name)
    .map((s) => s.fields.cat);

describe('categories as each directory names them, end to end', () => {
  it('chooses where it may, hands the rest to a person, keeps the options seen, and sends once mapped', async () => {
    const name = 'Golden Crust Bakery';
    const customer = await api('/v1/customers', {
      method: 'POST',
      body: { name, email: 'hello@golden-crust.test', category: 'Bakeries' },
    });
    expect(customer.status).toBe(201);
    expect(customer.body.category).toBe('bakery');

    const job = await api('/v1/jobs', {
      method: 'POST',
      body: { customerId: customer.body.id, directoryIds: DIRECTORIES, priority: 1 },
    });
    expect(job.status).toBe(202);
    const done = await finished(job.body.id);
    const byDirectory = Object.fromEntries(
      (done.results as { directoryId: string; status: string; errorClass: string | null }[]).map((r) => [
        r.directoryId,
        [r.status, r.errorClass],
      ]),
    );
    expect(byDirectory).toEqual({
      'category-label': ['submitted', null],
      'category-optgroup': ['submitted', null],
      'category-numeric': ['needs_manual', 'category_unmapped'],
      'category-nowhere': ['needs_manual', 'category_unmapped'],
    });
    // At the far end: the option each site received, nothing where no option was chosen.
    expect(received('category-label', name)).toEqual(['bakeries-pastry']);
    expect(received('category-optgroup', name)).toEqual(['f-1']);
    expect(received('category-numeric', name)).toEqual([]);
    expect(received('category-nowhere', name)).toEqual([]);
    // The choice and its score are in the row's evidence.
    const { rows } = await system.db.query<{ evidence: { category: { via: string; score: number } } }>(
      `SELECT evidence FROM submissions WHERE job_id = $1 AND directory_id = 'category-label'`,
      [job.body.id],
    );
    expect(rows[0]?.evidence.category).toMatchObject({ via: 'similarity', category: 'bakery' });
    expect(rows[0]?.evidence.category.score).toBeGreaterThanOrEqual(0.8);
    // And in the click's proof, as the API shows it.
    const proof = await eventually(
      'the click proof with its category choice',
      async () => {
        const res = await api(`/v1/jobs/${job.body.id}`);
        const row = res.body.results.find((r: { directoryId: string }) => r.directoryId === 'category-label');
        return row?.proofs?.[0]?.category ? row.proofs[0] : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    expect(proof.category).toMatchObject({
      asked: 'bakery',
      category: 'bakery',
      via: 'similarity',
      value: 'bakeries-pastry',
      label: 'Bakeries & Pastry Shops',
      group: null,
    });
    expect(proof.category.score).toBe(rows[0]?.evidence.category.score);

    // The options as the form offered them, read on the submission, for the operator to map.
    const seen = await api('/v1/directories/category-numeric/categories');
    expect(seen.status).toBe(200);
    expect(seen.body).toMatchObject({ mapping: {}, default: null, optionsSource: 'submission' });
    expect(seen.body.options).toEqual([
      { value: '', label: 'Choose a category…', group: null },
      { value: '17', label: 'Baked Goods', group: null },
      { value: '23', label: 'Pipes & Drains', group: null },
      { value: '31', label: 'Teeth', group: null },
    ]);
    const grouped = await api('/v1/directories/category-optgroup/categories');
    expect(grouped.body.options).toContainEqual({ value: 'f-1', label: 'Bakery', group: 'Food' });

    // The operator maps bakery on the numbered directory; the next job sends it, with the mapped value.
    const mapped = await api('/v1/directories/category-numeric/categories', {
      method: 'PUT',
      key: system.keys.admin,
      body: { mapping: { bakery: { value: '17' } } },
    });
    expect(mapped.status).toBe(200);
    expect(mapped.body.missing).toEqual([]);
    const second = await api('/v1/jobs', {
      method: 'POST',
      body: {
        customerId: customer.body.id,
        directoryIds: ['category-numeric', 'category-label'],
        priority: 1,
      },
    });
    expect(second.status).toBe(202);
    const again = await finished(second.body.id);
    const statuses = Object.fromEntries(
      (again.results as { directoryId: string; status: string }[]).map((r) => [r.directoryId, r.status]),
    );
    expect(statuses).toEqual({ 'category-numeric': 'submitted', 'category-label': 'skipped' });
    expect(received('category-numeric', name)).toEqual(['17']);
    // The sites that had it already did not receive it twice.
    expect(received('category-label', name)).toEqual(['bakeries-pastry']);
  });
});
