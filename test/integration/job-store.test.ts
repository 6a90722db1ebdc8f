import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgCustomerStore } from '#shared/customer-store';
import { PgJobStore } from '#shared/job-store';
import { PgSubmissionLedger } from '#shared/submission-ledger';
import { type TestDatabase, testDatabase } from '#test/services';

let t: TestDatabase;
let jobs: PgJobStore;
let ledger: PgSubmissionLedger;

beforeAll(async () => {
  t = await testDatabase('job_store');
  jobs = new PgJobStore(t.db);
  ledger = new PgSubmissionLedger(t.db);
  for (const id of ['alpha', 'beta']) {
    await t.db.query(
      `INSERT INTO directories (id, name, site, submission_url, category, tier, domain_authority, definition)
       VALUES ($1, $1, 'http://127.0.0.1', 'http://127.0.0.1/add', 'general', 1, 50, '{}')`,
      [id],
    );
  }
});
afterAll(async () => t?.close());

/** A job of its own customer: these tests follow one job's life (once-per-business is ledger-once.test.ts). */
const newJob = async () =>
  jobs.create({
    customerId: (
      await new PgCustomerStore(t.db).create('key-a', { name: 'Acme', email: 'a@acme.test' } as never)
    ).id,
    ownerKeyId: 'key-a',
    priority: 2,
    requestedPriority: 2,
    package: null,
    directoryIds: ['alpha', 'beta'],
  });

async function events(jobId: string): Promise<string[]> {
  const { rows } = await t.db.query<{ type: string }>(
    'SELECT type FROM job_events WHERE job_id = $1 ORDER BY id',
    [jobId],
  );
  return rows.map((r) => r.type);
}

describe('job lifecycle', () => {
  it('creates the job pending with one prepared ledger row per directory and a created event', async () => {
    const job = await newJob();
    expect(job.status).toBe('pending');
    expect(job.enqueueToken).toBe(1);
    const rows = await ledger.forJob(job.id);
    expect(rows.map((r) => [r.directoryId, r.status])).toEqual([
      ['alpha', 'prepared'],
      ['beta', 'prepared'],
    ]);
    expect(await events(job.id)).toEqual(['created']);
  });

  it('marks a job queued once, and never moves a finished job back', async () => {
    const job = await newJob();
    expect(await jobs.markQueued(job.id, 1)).toBe(true);
    expect((await jobs.get(job.id))?.status).toBe('queued');
    expect(await jobs.markQueued(job.id, 2)).toBe(false);
  });

  it('refuses a claim from a message with a stale enqueue token', async () => {
    const job = await newJob();
    expect(await jobs.claim(job.id, 0, 'w1')).toBeUndefined();
    expect((await jobs.get(job.id))?.status).toBe('pending');
  });

  it('lets the newest claimant win and shuts the previous one out of every write', async () => {
    const job = await newJob();
    const first = await jobs.claim(job.id, 1, 'w1');
    expect(first?.fencingToken).toBe(1);
    expect(await jobs.heartbeat(first as never, { step: 'fill' })).toBe(true);

    const second = await jobs.claim(job.id, 1, 'w2');
    expect(second?.fencingToken).toBe(2);
    expect(second?.previousStatus).toBe('in_progress');

    // The displaced worker can neither heartbeat, start a submission, record one, nor finish the job.
    expect(await jobs.heartbeat(first as never, {})).toBe(false);
    expect(await ledger.begin(first as never, 'alpha')).toBeUndefined();
    expect(await ledger.settle(first as never, 'alpha', { status: 'submitted' })).toBe(false);
    expect(await jobs.finish(first as never, { status: 'completed', progress: {} })).toBe(false);

    // The current one can.
    expect(await ledger.begin(second as never, 'alpha')).toBe(1);
    expect(
      await ledger.settle(second as never, 'alpha', { status: 'submitted', evidence: { url: 'x' } }),
    ).toBe(true);
    expect(await ledger.settle(second as never, 'beta', { status: 'skipped' })).toBe(true);
    expect(await jobs.finish(second as never, { status: 'completed', progress: { done: 2 } })).toBe(true);
    expect(await events(job.id)).toEqual(['created', 'claimed', 'claimed', 'completed']);

    // A finished job cannot be claimed again by a late duplicate message.
    expect(await jobs.claim(job.id, 1, 'w3')).toBeUndefined();
  });

  it('never begins a directory twice: a submitted row cannot return to submitting', async () => {
    const job = await newJob();
    const claim = await jobs.claim(job.id, 1, 'w1');
    expect(await ledger.begin(claim as never, 'alpha')).toBe(1);
    expect(await ledger.begin(claim as never, 'alpha')).toBeUndefined();
    expect(await ledger.settle(claim as never, 'alpha', { status: 'submitted' })).toBe(true);
    expect(await ledger.begin(claim as never, 'alpha')).toBeUndefined();
    expect(await ledger.settle(claim as never, 'alpha', { status: 'failed' })).toBe(false);
    const [alpha] = await ledger.forJob(job.id);
    expect(alpha?.status).toBe('submitted');
  });

  it('keeps a long error message bounded in the ledger', async () => {
    const job = await newJob();
    const claim = await jobs.claim(job.id, 1, 'w1');
    await ledger.settle(claim as never, 'alpha', {
      status: 'failed',
      errorClass: 'timeout',
      error: 'x'.repeat(10_000),
    });
    const [alpha] = await ledger.forJob(job.id);
    expect(alpha?.error?.length).toBe(2_000);
    expect(alpha?.errorClass).toBe('timeout');
  });
});

describe('continuation (a job out of invocation time goes on in a fresh message)', () => {
  async function continuedEvents(jobId: string) {
    const { rows } = await t.db.query<{ detail: Record<string, unknown> }>(
      `SELECT detail FROM job_events WHERE job_id = $1 AND type = 'continued' ORDER BY id`,
      [jobId],
    );
    return rows.map((r) => r.detail);
  }

  it('moves the job to pending with both tokens raised, attempts kept, and a continued event with the progress', async () => {
    const job = await newJob();
    await jobs.markQueued(job.id, 1);
    const claim = await jobs.claim(job.id, 1, 'w1');
    if (!claim) throw new Error('no claim');
    expect(await ledger.settle(claim, 'alpha', { status: 'submitted' })).toBe(true);

    const next = await jobs.releaseForContinuation(claim, 1);

    expect(next).toEqual({
      jobId: job.id,
      priority: 2,
      enqueueToken: 2,
      fencingToken: claim.fencingToken + 1,
      done: 1,
      total: 2,
    });
    expect(await jobs.get(job.id)).toMatchObject({
      status: 'pending',
      enqueueToken: 2,
      fencingToken: claim.fencingToken + 1,
      attempts: 0,
      claimedBy: null,
      queuedAt: null,
      progress: expect.objectContaining({ done: 1, total: 2, directoryId: null, step: null }),
    });
    expect(await events(job.id)).toEqual(['created', 'queued', 'claimed', 'continued']);
    expect(await continuedEvents(job.id)).toEqual([
      { worker: 'w1', settled: 1, done: 1, total: 2, enqueueToken: 2, fencingToken: claim.fencingToken + 1 },
    ]);
    // The old claim is shut out, the old message is stale, and the new message claims the job.
    expect(await ledger.settle(claim, 'beta', { status: 'submitted' })).toBe(false);
    expect(await jobs.heartbeat(claim, {})).toBe(false);
    expect(await jobs.claim(job.id, 1, 'w2')).toBeUndefined();
    expect(await jobs.markQueued(job.id, 2)).toBe(true);
    expect((await jobs.get(job.id))?.queuedAt).not.toBeNull();
    expect(await jobs.claim(job.id, 2, 'w2')).toMatchObject({ previousStatus: 'queued' });
  });

  it('refuses a superseded claim: nothing changes and no event is written', async () => {
    const job = await newJob();
    const first = await jobs.claim(job.id, 1, 'w1');
    const second = await jobs.claim(job.id, 1, 'w2');
    if (!first || !second) throw new Error('no claim');
    const before = await jobs.get(job.id);

    expect(await jobs.releaseForContinuation(first, 1)).toBeUndefined();

    expect(await jobs.get(job.id)).toEqual({ ...before, updatedAt: expect.any(String) });
    expect(await jobs.get(job.id)).toMatchObject({
      status: 'in_progress',
      claimedBy: 'w2',
      enqueueToken: 1,
      fencingToken: second.fencingToken,
    });
    expect(await continuedEvents(job.id)).toEqual([]);
    // The current claim still can.
    expect(await jobs.releaseForContinuation(second, 1)).toMatchObject({ enqueueToken: 2 });
  });

  it('refuses once the job left in_progress (finished, or released after a failure)', async () => {
    const job = await newJob();
    const claim = await jobs.claim(job.id, 1, 'w1');
    if (!claim) throw new Error('no claim');
    expect(await jobs.finish(claim, { status: 'completed', progress: {} })).toBe(true);
    expect(await jobs.releaseForContinuation(claim, 2)).toBeUndefined();
    expect(await jobs.get(job.id)).toMatchObject({ status: 'completed', enqueueToken: 1 });
    expect(await continuedEvents(job.id)).toEqual([]);
  });
});
