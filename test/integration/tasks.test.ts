/**
 * The task queue on the ledger (issue 14), on a real Postgres: rows the worker settles needs_manual (captcha),
 * skipped (login wall) or unknown become tasks through the ledger's own trigger; the admin routes list them
 * (filters, cursor), lease them (claim, release, an expired lease taken over) and resolve them through the
 * fenced ledger: two people at once get one 200 and one 409, the row moves once, the job's counts follow and a
 * resolved 'submitted' enters the listing lifecycle. Every answer is held to its documented contract.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiHandler } from '#functions/api/router';
import { PgSubmissionQueries } from '#functions/api/submission-queries';
import { makeSubmissionsApi } from '#functions/api/submissions';
import { PgCustomerStore } from '#shared/customer-store';
import type { JobQueue } from '#shared/job-queue';
import type { PgJobStore } from '#shared/job-store';
import { countByStatus, type PgSubmissionLedger, type Settlement } from '#shared/submission-ledger';
import { PgTaskStore } from '#shared/task-store';
import { ADMIN_KEY_ID, baseDeps, type CallResult, call } from '#test/api';
import { jobsApiOn } from '#test/jobs-api';
import { proofLinksOn } from '#test/records';
import { type TestDatabase, testDatabase } from '#test/services';

const LEASE_SECONDS = 1;
/** A task as the API answers it (held to its schema by `call`). */
type TaskBody = CallResult['body'];

let t: TestDatabase;
let jobsApi: ApiHandler;
let customersApi: ApiHandler;
let api: ApiHandler;
let jobs: PgJobStore;
let ledger: PgSubmissionLedger;

const queue: JobQueue = { async enqueue() {} };

beforeAll(async () => {
  t = await testDatabase('tasks');
  ({ jobsApi, customersApi, jobs, ledger } = await jobsApiOn(t.db, queue, [
    { id: 'captcha-dir' },
    { id: 'login-dir' },
    { id: 'doubt-dir' },
    { id: 'fine-dir' },
  ]));
  api = makeSubmissionsApi({
    ...baseDeps(t.db),
    submissions: new PgSubmissionQueries(t.db),
    jobs,
    customers: new PgCustomerStore(t.db),
    proofs: proofLinksOn(t.db),
    tasks: new PgTaskStore(t.db, { leaseSeconds: LEASE_SECONDS }),
  });
});
afterAll(async () => t?.close());

const OUTCOMES: Record<string, Settlement> = {
  'captcha-dir': { status: 'needs_manual', errorClass: 'captcha', error: 'a captcha before the submit' },
  'login-dir': { status: 'skipped', errorClass: 'login_required', error: 'the site wants an account' },
  'doubt-dir': { status: 'unknown', errorClass: 'internal', error: 'the lookup could not decide' },
  'fine-dir': { status: 'submitted' },
};

/** A job over `directoryIds` that a worker ran to the end, each row settled as OUTCOMES says (fenced writes). */
async function ranJob(directoryIds = Object.keys(OUTCOMES), customerId?: string) {
  const customer =
    customerId ??
    (
      await call(customersApi, 'POST', '/v1/customers', {
        apiKeyId: 'client-a',
        body: { name: 'Task Co', email: 'task@co.test' },
      })
    ).body.id;
  const created = await call(jobsApi, 'POST', '/v1/jobs', {
    apiKeyId: 'client-a',
    body: { customerId: customer, directoryIds },
  });
  expect(created.status).toBe(202);
  const jobId = created.body.id as string;
  const job = await jobs.get(jobId);
  const claim = await jobs.claim(jobId, job?.enqueueToken ?? 0, 'test-worker');
  if (!claim) throw new Error('claim refused');
  for (const directoryId of directoryIds) {
    const outcome = OUTCOMES[directoryId] as Settlement;
    if (outcome.status === 'submitted' || outcome.status === 'unknown') {
      expect(await ledger.begin(claim, directoryId)).toBe(1);
    }
    expect(await ledger.settle(claim, directoryId, outcome)).toBe(true);
  }
  const counts = countByStatus(await ledger.forJob(jobId));
  expect(
    await jobs.finish(claim, { status: 'completed', progress: { total: directoryIds.length, counts } }),
  ).toBe(true);
  return { jobId, customerId: customer as string };
}

async function tasksOf(jobId: string, query = '') {
  const res = await call(api, 'GET', `/v1/tasks?jobId=${jobId}${query}`, { apiKeyId: ADMIN_KEY_ID });
  expect(res.status).toBe(200);
  return res.body.items as Array<TaskBody>;
}

const taskFor = async (jobId: string, directoryId: string) =>
  (await tasksOf(jobId)).find((x) => x.directoryId === directoryId) as TaskBody;

async function ledgerRow(jobId: string, directoryId: string) {
  const { rows } = await t.db.query<{ status: string; lifecycle: string | null; listing_url: string | null }>(
    'SELECT status, lifecycle, listing_url FROM submissions WHERE job_id = $1 AND directory_id = $2',
    [jobId, directoryId],
  );
  return rows[0];
}

async function events(jobId: string, type: string) {
  const { rows } = await t.db.query<{ detail: Record<string, unknown> }>(
    'SELECT detail FROM job_events WHERE job_id = $1 AND type = $2 ORDER BY id',
    [jobId, type],
  );
  return rows.map((r) => r.detail);
}

const post = (path: string, body: unknown, apiKeyId = ADMIN_KEY_ID) =>
  call(api, 'POST', path, { apiKeyId, body });

describe('tasks are made from the ledger', () => {
  it('a captcha, a login wall and an unknown row each become one open task; a submitted row none', async () => {
    const { jobId, customerId } = await ranJob();
    const tasks = await tasksOf(jobId);
    expect(tasks.map((x) => [x.directoryId, x.kind, x.status, x.fromStatus]).sort()).toEqual([
      ['captcha-dir', 'captcha', 'open', 'needs_manual'],
      ['doubt-dir', 'unknown', 'open', 'unknown'],
      ['login-dir', 'login', 'open', 'skipped'],
    ]);
    const captcha = tasks.find((x) => x.kind === 'captcha') as TaskBody;
    expect(captcha).toMatchObject({
      jobId,
      customerId,
      directoryName: 'captcha-dir',
      submissionUrl: 'http://127.0.0.1:9/add',
      reason: 'a captcha before the submit',
      ledgerStatus: 'needs_manual',
      claim: null,
      proofs: [],
    });
    expect((await events(jobId, 'task.created')).map((e) => e.kind).sort()).toEqual([
      'captcha',
      'login',
      'unknown',
    ]);
    const one = await call(api, 'GET', `/v1/tasks/${captcha.id}`, { apiKeyId: ADMIN_KEY_ID });
    expect(one.body).toEqual(captcha);
  });

  it('filters by status, kind and directory, and pages by cursor without repeats', async () => {
    const { jobId } = await ranJob();
    expect((await tasksOf(jobId, '&kind=login')).map((x) => x.directoryId)).toEqual(['login-dir']);
    expect((await tasksOf(jobId, '&directoryId=doubt-dir')).map((x) => x.kind)).toEqual(['unknown']);
    expect(await tasksOf(jobId, '&status=resolved')).toEqual([]);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { items: { id: string }[]; nextCursor: string | null } } = await call(
        api,
        'GET',
        `/v1/tasks?jobId=${jobId}&limit=1${cursor ? `&cursor=${cursor}` : ''}`,
        { apiKeyId: ADMIN_KEY_ID },
      );
      seen.push(...res.body.items.map((x) => x.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(3);
    expect(new Set(seen).size).toBe(3);
    const bad = await call(api, 'GET', '/v1/tasks?cursor=bm90LWEtY3Vyc29y', { apiKeyId: ADMIN_KEY_ID });
    expect(bad.status).toBe(400);
  });

  it('is for admin keys only', async () => {
    const res = await call(api, 'GET', '/v1/tasks', { apiKeyId: 'client-a' });
    expect(res.status).toBe(403);
    const missing = await post('/v1/tasks/00000000-0000-4000-8000-000000000000/claim', {});
    expect(missing.status).toBe(404);
  });
});

describe('claiming', () => {
  it('a claimed task is not handed to another person until released', async () => {
    const { jobId } = await ranJob(['captcha-dir']);
    const task = await taskFor(jobId, 'captcha-dir');
    const ann = await post(`/v1/tasks/${task.id}/claim`, { by: 'ann' });
    expect(ann.status).toBe(200);
    expect(ann.body).toMatchObject({ status: 'claimed', claim: { by: 'ann', token: 1 } });
    const bob = await post(`/v1/tasks/${task.id}/claim`, { by: 'bob' });
    expect(bob.status).toBe(409);
    expect(bob.body.error.message).toContain('claimed by ann');
    expect((await tasksOf(jobId, '&status=open')).length).toBe(0);
    expect((await tasksOf(jobId, '&status=claimed')).length).toBe(1);
    // Bob cannot resolve it under Ann's claim either.
    expect((await post(`/v1/tasks/${task.id}/resolve`, { outcome: 'failed', by: 'bob' })).status).toBe(409);
    expect((await post(`/v1/tasks/${task.id}/release`, { claimToken: 99 })).status).toBe(409);
    const released = await post(`/v1/tasks/${task.id}/release`, { claimToken: 1 });
    expect(released.body).toMatchObject({ status: 'open', claim: null });
    expect((await post(`/v1/tasks/${task.id}/claim`, { by: 'bob' })).body.claim).toMatchObject({
      by: 'bob',
      token: 2,
    });
    expect((await ledgerRow(jobId, 'captcha-dir'))?.status).toBe('needs_manual');
  });

  it('an expired lease is taken over, and the first claimant can no longer release or resolve', async () => {
    const { jobId } = await ranJob(['doubt-dir']);
    const task = await taskFor(jobId, 'doubt-dir');
    const ann = await post(`/v1/tasks/${task.id}/claim`, { by: 'ann' });
    expect(ann.status).toBe(200);
    await new Promise((r) => setTimeout(r, LEASE_SECONDS * 1000 + 200));
    expect((await taskFor(jobId, 'doubt-dir')).status).toBe('open');
    const bob = await post(`/v1/tasks/${task.id}/claim`, { by: 'bob' });
    expect(bob.status).toBe(200);
    const annToken = ann.body.claim.token as number;
    const bobToken = bob.body.claim.token as number;
    expect(bobToken).toBeGreaterThan(annToken);
    expect((await post(`/v1/tasks/${task.id}/release`, { claimToken: annToken })).status).toBe(409);
    const late = await post(`/v1/tasks/${task.id}/resolve`, { outcome: 'failed', claimToken: annToken });
    expect(late.status).toBe(409);
    expect((await ledgerRow(jobId, 'doubt-dir'))?.status).toBe('unknown');
    const done = await post(`/v1/tasks/${task.id}/resolve`, {
      outcome: 'submitted',
      claimToken: bobToken,
      listingUrl: 'https://directory.test/listing/42',
    });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({
      status: 'resolved',
      outcome: 'submitted',
      resolvedBy: 'bob',
      claim: null,
    });
  });

  it('after expiry the lapsed claimant may still resolve with its token if nobody claimed it since', async () => {
    const { jobId } = await ranJob(['login-dir']);
    const task = await taskFor(jobId, 'login-dir');
    const ann = await post(`/v1/tasks/${task.id}/claim`, { by: 'ann' });
    await new Promise((r) => setTimeout(r, LEASE_SECONDS * 1000 + 200));
    const res = await post(`/v1/tasks/${task.id}/resolve`, {
      outcome: 'skipped',
      claimToken: ann.body.claim.token,
    });
    expect(res.status).toBe(200);
    expect((await ledgerRow(jobId, 'login-dir'))?.status).toBe('skipped');
    // The login row resolved skipped is settled for good: no new task for it.
    expect((await tasksOf(jobId, '&status=open')).length).toBe(0);
  });
});

describe('resolving, fenced', () => {
  it('two people resolving one task at once: one 200, one 409; the row moves once and the job follows', async () => {
    const { jobId } = await ranJob();
    const task = await taskFor(jobId, 'captcha-dir');
    const before = await jobs.get(jobId);
    expect(before?.progress.counts).toMatchObject({ needs_manual: 1, submitted: 1 });
    const answers = await Promise.all(
      ['ann', 'bob', 'cy', 'dee'].map((by, i) =>
        post(`/v1/tasks/${task.id}/resolve`, {
          outcome: i % 2 ? 'failed' : 'submitted',
          by,
          note: `by ${by}`,
        }),
      ),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([200, 409, 409, 409]);
    const winner = answers.find((a) => a.status === 200)?.body;
    const row = await ledgerRow(jobId, 'captcha-dir');
    expect(row?.status).toBe(winner.outcome);
    const resolved = await events(jobId, 'task.resolved');
    expect(resolved).toHaveLength(1);
    expect(resolved[0]).toMatchObject({ taskId: task.id, from: 'needs_manual', to: winner.outcome });
    const after = await jobs.get(jobId);
    expect(after?.status).toBe('completed');
    expect(after?.progress.counts).toMatchObject({
      needs_manual: 0,
      [winner.outcome]: winner.outcome === 'submitted' ? 2 : 1,
    });
    // The job's results say the same.
    const job = await call(jobsApi, 'GET', `/v1/jobs/${jobId}`, { apiKeyId: 'client-a' });
    expect(
      job.body.results.find((r: { directoryId: string }) => r.directoryId === 'captcha-dir').status,
    ).toBe(winner.outcome);
    // A third attempt later is refused too, naming who resolved it.
    const again = await post(`/v1/tasks/${task.id}/resolve`, { outcome: 'skipped' });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toContain(`already resolved (${winner.outcome})`);
  });

  it('a resolved submission counts as one: it enters the listing lifecycle and holds the business', async () => {
    const { jobId, customerId } = await ranJob(['captcha-dir']);
    const task = await taskFor(jobId, 'captcha-dir');
    const res = await post(`/v1/tasks/${task.id}/resolve`, {
      outcome: 'submitted',
      listingUrl: 'https://captcha.test/biz/1',
    });
    expect(res.status).toBe(200);
    expect(await ledgerRow(jobId, 'captcha-dir')).toEqual({
      status: 'submitted',
      lifecycle: 'under_review',
      listing_url: 'https://captcha.test/biz/1',
    });
    expect((await events(jobId, 'listing.under_review')).length).toBe(1);
    // A new job for the same business and directory is skipped, held by the row resolved by hand.
    const second = await call(jobsApi, 'POST', '/v1/jobs', {
      apiKeyId: 'client-a',
      body: { customerId, directoryIds: ['captcha-dir'] },
    });
    expect(second.body.skipped?.[0]).toMatchObject({ directoryId: 'captcha-dir' });
  });

  it('refuses to submit a row whose business and directory another row holds', async () => {
    // Job 1's captcha task waits; job 2 of the same customer submits the directory.
    const first = await ranJob(['captcha-dir']);
    const task = await taskFor(first.jobId, 'captcha-dir');
    // Make job 2 hold captcha-dir: a worker's submission of it (begin + settle under job 2's claim).
    const created = await call(jobsApi, 'POST', '/v1/jobs', {
      apiKeyId: 'client-a',
      body: { customerId: first.customerId, directoryIds: ['captcha-dir'] },
    });
    const job2 = await jobs.get(created.body.id);
    const claim = await jobs.claim(created.body.id, job2?.enqueueToken ?? 0, 'w2');
    if (!claim) throw new Error('claim refused');
    expect(await ledger.begin(claim, 'captcha-dir')).toBe(1);
    expect(await ledger.settle(claim, 'captcha-dir', { status: 'submitted' })).toBe(true);
    const res = await post(`/v1/tasks/${task.id}/resolve`, { outcome: 'submitted' });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toContain('cannot be submitted twice');
    expect((await ledgerRow(first.jobId, 'captcha-dir'))?.status).toBe('needs_manual');
    expect((await taskFor(first.jobId, 'captcha-dir')).status).toBe('open');
    // The person can still record that it was not sent.
    expect((await post(`/v1/tasks/${task.id}/resolve`, { outcome: 'skipped' })).status).toBe(200);
  });

  it('a row that moved on without its task withdraws it, and the task can no longer move the row', async () => {
    const { jobId } = await ranJob(['doubt-dir']);
    const task = await taskFor(jobId, 'doubt-dir');
    // A retry looks the unknown row up again (unknown → unverified): the task is withdrawn.
    const retry = await call(jobsApi, 'POST', `/v1/jobs/${jobId}/retry`, { apiKeyId: 'client-a' });
    expect(retry.status).toBe(202);
    expect((await ledgerRow(jobId, 'doubt-dir'))?.status).toBe('unverified');
    const withdrawn = await taskFor(jobId, 'doubt-dir');
    expect(withdrawn).toMatchObject({ status: 'withdrawn', ledgerStatus: 'unverified' });
    expect(withdrawn.withdrawnReason).toContain('unknown to unverified');
    const res = await post(`/v1/tasks/${task.id}/resolve`, { outcome: 'submitted' });
    expect(res.status).toBe(409);
    expect((await ledgerRow(jobId, 'doubt-dir'))?.status).toBe('unverified');
  });

  it('refuses a schema-invalid resolution before anything moves', async () => {
    const { jobId } = await ranJob(['captcha-dir']);
    const task = await taskFor(jobId, 'captcha-dir');
    for (const body of [
      {},
      { outcome: 'live' },
      { outcome: 'submitted', listingUrl: 'javascript:alert(1)' },
    ]) {
      expect((await post(`/v1/tasks/${task.id}/resolve`, body)).status).toBe(400);
    }
    expect((await ledgerRow(jobId, 'captcha-dir'))?.status).toBe('needs_manual');
  });
});
