/**
 * Once per business and directory, on a real Postgres: the database, not a read-then-write, lets one of two
 * racing jobs begin; jobs created for a directory the customer holds are created skipped; a deliberate
 * resubmission takes the earlier row over at its own begin; Idempotency-Keys of POST /v1/jobs are per API
 * key, expire, and never leave two jobs behind; and migration 040 resolves rows sent twice before it.
 */
import { copyFile, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiHandler } from '#functions/api/router';
import { API_IDEMPOTENCY } from '#policy';
import type { JobMessage, JobQueue } from '#shared/job-queue';
import type { PgJobStore } from '#shared/job-store';
import { DEFAULT_MIGRATIONS_DIR, migrate } from '#shared/migrate';
import { type PgSubmissionLedger, SubmissionHeldError } from '#shared/submission-ledger';
import { ADMIN_KEY_ID, call } from '#test/api';
import { jobsApiOn } from '#test/jobs-api';
import { type TestDatabase, testDatabase } from '#test/services';

let t: TestDatabase;
let jobsApi: ApiHandler;
let customersApi: ApiHandler;
let jobs: PgJobStore;
let ledger: PgSubmissionLedger;
const sent: JobMessage[] = [];
const queue: JobQueue = {
  async enqueue(message) {
    sent.push(message);
  },
};

beforeAll(async () => {
  t = await testDatabase('ledger_once');
  ({ jobsApi, customersApi, jobs, ledger } = await jobsApiOn(t.db, queue, [
    { id: 'dir-a' },
    { id: 'dir-b' },
  ]));
});
afterAll(async () => t?.close());

async function customer(apiKeyId = 'client-a'): Promise<string> {
  const res = await call(customersApi, 'POST', '/v1/customers', {
    apiKeyId,
    body: { name: 'Once Co', email: 'once@co.test' },
  });
  return res.body.id as string;
}

function post(body: Record<string, unknown>, options: { key?: string; apiKeyId?: string } = {}) {
  return call(jobsApi, 'POST', '/v1/jobs', {
    apiKeyId: options.apiKeyId ?? 'client-a',
    body,
    ...(options.key ? { headers: { 'idempotency-key': options.key } } : {}),
  });
}

/** Claims a job as its worker would. */
async function claimed(jobId: string) {
  const job = await jobs.get(jobId);
  const claim = await jobs.claim(jobId, job?.enqueueToken ?? 0, `worker-${jobId.slice(0, 4)}`);
  if (!claim) throw new Error('claim refused');
  return claim;
}

/** A job of `customerId` whose `directoryId` row ends `status` (begun first, so it held the directory). */
async function settledJob(customerId: string, directoryId: string, status: 'submitted' | 'unknown') {
  const res = await post({ customerId, directoryIds: [directoryId] });
  const claim = await claimed(res.body.id);
  expect(await ledger.begin(claim, directoryId)).toBe(1);
  expect(await ledger.settle(claim, directoryId, { status })).toBe(true);
  await jobs.finish(claim, { status: 'completed', progress: {} });
  return res.body.id as string;
}

describe('the database lets one job click', () => {
  it('of two jobs beginning the same business and directory at once, exactly one begins', async () => {
    for (let round = 0; round < 10; round++) {
      const c = await customer();
      const [one, two] = await Promise.all([
        post({ customerId: c, directoryIds: ['dir-a'] }),
        post({ customerId: c, directoryIds: ['dir-a'] }),
      ]);
      const claims = await Promise.all([claimed(one.body.id), claimed(two.body.id)]);

      const outcomes = await Promise.allSettled(claims.map((claim) => ledger.begin(claim, 'dir-a')));

      const begun = outcomes.filter((o) => o.status === 'fulfilled' && o.value === 1);
      const held = outcomes.flatMap((o) =>
        o.status === 'rejected' && o.reason instanceof SubmissionHeldError ? [o.reason] : [],
      );
      expect(begun).toHaveLength(1);
      expect(held).toHaveLength(1);
      const winner = outcomes[0]?.status === 'fulfilled' ? one.body.id : two.body.id;
      expect(held[0]?.holder).toMatchObject({ jobId: winner, directoryId: 'dir-a', status: 'submitting' });
      expect(held[0]?.message).toContain(winner);
    }
  });

  it('creates a held directory skipped, pointing at its holder, in the answer and on the row', async () => {
    const c = await customer();
    const first = await settledJob(c, 'dir-a', 'submitted');

    const res = await post({ customerId: c, directoryIds: ['dir-a', 'dir-b'] });

    expect(res.status).toBe(202);
    expect(res.body.skipped).toEqual([
      {
        directoryId: 'dir-a',
        reason: expect.any(String),
        heldBy: { jobId: first, directoryId: 'dir-a', status: 'submitted' },
      },
    ]);
    const rows = await ledger.forJob(res.body.id);
    expect(rows.map((r) => [r.directoryId, r.status])).toEqual([
      ['dir-a', 'skipped'],
      ['dir-b', 'prepared'],
    ]);
    expect(rows[0]?.error).toContain(first);
    expect(rows[0]?.evidence).toMatchObject({ skip: 'held', heldBy: { jobId: first } });
    // Not even the worker's begin could send it.
    const claim = await claimed(res.body.id);
    expect(await ledger.holder(res.body.id, 'dir-b')).toBeUndefined();
    expect(await ledger.begin(claim, 'dir-a')).toBeUndefined();
  });
});

describe('a deliberate resubmission', () => {
  it('takes the earlier row over at its own begin, and never over a row still in flight', async () => {
    const c = await customer();
    const first = await settledJob(c, 'dir-a', 'submitted');
    const res = await post({
      customerId: c,
      directoryIds: ['dir-a'],
      resubmit: { directoryIds: ['dir-a'], reason: 'the listing was removed' },
    });
    expect(res.body.resubmitting).toEqual([
      { directoryId: 'dir-a', supersedes: { jobId: first, directoryId: 'dir-a', status: 'submitted' } },
    ]);
    const [row] = await ledger.forJob(res.body.id);
    expect(row).toMatchObject({
      status: 'prepared',
      evidence: { resubmission: { reason: 'the listing was removed' } },
    });
    const [earlier] = await ledger.forJob(first);
    // Until its click the earlier row holds: a third, plain order is skipped pointing at it.
    expect((await post({ customerId: c, directoryIds: ['dir-a'] })).body.skipped[0].heldBy.jobId).toBe(first);

    const claim = await claimed(res.body.id);
    expect(await ledger.begin(claim, 'dir-a')).toBe(1);

    expect((await ledger.forJob(first))[0]?.supersededBy).toBe(row?.id);
    expect(earlier?.supersededBy).toBeNull();
    const { rows } = await t.db.query<{ type: string; job_id: string }>(
      `SELECT type, job_id FROM job_events WHERE type IN ('superseded', 'resubmission') AND job_id = ANY($1::uuid[])`,
      [[first, res.body.id]],
    );
    expect(rows).toEqual(
      expect.arrayContaining([
        { type: 'resubmission', job_id: res.body.id },
        { type: 'superseded', job_id: first },
      ]),
    );
  });

  it('is for a client key only over a submitted row; forcing one over an unknown row is an admin’s', async () => {
    const c = await customer();
    await settledJob(c, 'dir-b', 'unknown');
    const body = {
      customerId: c,
      directoryIds: ['dir-b'],
      resubmit: { directoryIds: ['dir-b'], reason: 'checked by hand: not listed' },
    };
    const refused = await post(body);
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toMatch(/only an admin key may force a resubmission.*dir-b/);
    expect((await post(body, { apiKeyId: ADMIN_KEY_ID })).status).toBe(202);
    const outside = await post({ ...body, resubmit: { directoryIds: ['dir-a'], reason: 'x' } });
    expect(outside.status).toBe(400);
    expect(outside.body.error.details).toEqual([
      { field: 'resubmit.directoryIds', message: 'not in this job: dir-a' },
    ]);
  });
});

describe('Idempotency-Key', () => {
  it('answers a repeat with the first answer, per API key, and leaves one job however many race', async () => {
    const a = await customer('client-a');
    const b = await customer('client-b');
    const first = await post({ customerId: a, directoryIds: ['dir-a'] }, { key: 'k-1' });
    const repeat = await post({ customerId: a, directoryIds: ['dir-a'] }, { key: 'k-1' });
    expect(repeat).toMatchObject({ status: 202, body: first.body });
    expect(repeat.headers['idempotent-replayed']).toBe('true');
    // Another API key's "k-1" is another key.
    const other = await post(
      { customerId: b, directoryIds: ['dir-a'] },
      { key: 'k-1', apiKeyId: 'client-b' },
    );
    expect(other.status).toBe(202);
    expect(other.body.id).not.toBe(first.body.id);

    const racing = await Promise.all(
      Array.from({ length: 10 }, () => post({ customerId: a, directoryIds: ['dir-b'] }, { key: 'k-race' })),
    );
    expect(new Set(racing.map((r) => r.body.id)).size).toBe(1);
    const { rows } = await t.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM job_request_keys WHERE key_id = 'client-a' AND idempotency_key = 'k-race'`,
    );
    expect(rows[0]?.n).toBe(1);
    const created = await t.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM jobs WHERE customer_id = $1',
      [a],
    );
    expect(created.rows[0]?.n).toBe(2);
  });

  it('refuses another body under a used key, frees a key after its lifetime, and claims none on a 4xx', async () => {
    const c = await customer();
    const first = await post({ customerId: c, directoryIds: ['dir-a'] }, { key: 'k-2' });
    const changed = await post({ customerId: c, directoryIds: ['dir-b'] }, { key: 'k-2' });
    expect(changed.status).toBe(409);
    expect(changed.body.error.message).toContain(first.body.id);

    await t.db.query(
      `UPDATE job_request_keys SET created_at = now() - make_interval(secs => $1 + 60)
       WHERE key_id = 'client-a' AND idempotency_key = 'k-2'`,
      [API_IDEMPOTENCY.keyTtlSeconds],
    );
    const later = await post({ customerId: c, directoryIds: ['dir-b'] }, { key: 'k-2' });
    expect(later.status).toBe(202);
    expect(later.body.id).not.toBe(first.body.id);

    const missing = await post(
      { customerId: '00000000-0000-4000-8000-000000000000', directoryIds: ['dir-a'] },
      { key: 'k-3' },
    );
    expect(missing.status).toBe(404);
    expect((await post({ customerId: c, directoryIds: ['dir-a'] }, { key: 'k-3' })).status).toBe(202);

    const bad = await post({ customerId: c, directoryIds: ['dir-a'] }, { key: 'has spaces' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details).toEqual([{ field: 'Idempotency-Key', message: expect.any(String) }]);
  });
});

describe('migration 040 on a ledger that sent a business twice', () => {
  it('supersedes the older rows by the newest, so the once-per-business index can be built', async () => {
    const old = await testDatabase('ledger_once_legacy', { migrate: false });
    try {
      const dir = await mkdtemp(join(tmpdir(), 'ff-040-'));
      const files = (await readdir(DEFAULT_MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql'));
      for (const f of files.filter((f) => f < '040'))
        await copyFile(join(DEFAULT_MIGRATIONS_DIR, f), join(dir, f));
      const client = await old.db.pool.connect();
      try {
        await migrate(client, { dir });
        await client.query(
          `INSERT INTO directories (id, name, site, submission_url, category, tier, domain_authority, definition)
           VALUES ('d1', 'd1', 'http://x', 'http://x/add', 'general', 1, 1, '{}')`,
        );
        const { rows } = await client.query<{ id: string }>(
          `INSERT INTO customers (owner_key_id, name, email) VALUES ('k', 'Twice', 't@t.test') RETURNING id`,
        );
        for (const status of ['submitted', 'submitted', 'unknown']) {
          await client.query(
            `WITH j AS (INSERT INTO jobs (customer_id, owner_key_id, priority, requested_priority)
                        VALUES ($1, 'k', 1, 1) RETURNING id)
             INSERT INTO submissions (job_id, directory_id, status) SELECT id, 'd1', $2 FROM j`,
            [rows[0]?.id, status],
          );
        }
        for (const f of files.filter((f) => f >= '040'))
          await copyFile(join(DEFAULT_MIGRATIONS_DIR, f), join(dir, f));

        await migrate(client, { dir });

        const ledgerRows = await client.query<{ id: number; status: string; superseded_by: number | null }>(
          'SELECT id, status, superseded_by FROM submissions ORDER BY id',
        );
        const newest = ledgerRows.rows[2]?.id;
        expect(ledgerRows.rows.map((r) => [r.status, r.superseded_by])).toEqual([
          ['submitted', newest],
          ['submitted', newest],
          ['unknown', null],
        ]);
      } finally {
        client.release();
      }
    } finally {
      await old.close();
    }
  });
});
