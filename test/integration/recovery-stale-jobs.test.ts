/**
 * The stale-job handler on real Postgres and moto (SQS tier queues, SNS alerts topic): atomic requeue with
 * new tokens, no double requeue under a race, the cap, nothing lost between Postgres and SQS, stuck steps
 * told apart from dead workers, and alerts that survive an SNS outage.
 */
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alerts } from '#functions/alerts/alerts';
import { staleJobsDepsFromEnv } from '#functions/recovery/deps';
import { makeStaleJobsHandler, type StaleJobsDeps } from '#functions/recovery/stale-jobs';
import { motoEnv } from '#local/services/moto';
import { createTierQueues, type TierQueue, tierQueueEnv } from '#local/services/queues';
import { RECOVERY } from '#policy';
import { awsClientConfig } from '#shared/aws';
import { createDatabase, type Database } from '#shared/db';
import type { JobMessage, JobQueue } from '#shared/job-queue';
import { PgJobStore } from '#shared/job-store';
import { type AlertsInbox, alertsInbox } from '#test/alerts-inbox';
import { motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';

let t: TestDatabase;
let sqs: SQSClient;
let customerId: string;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  t = await testDatabase('recovery_stale');
  sqs = new SQSClient(awsClientConfig(motoEnv(motoEndpoint())));
  await t.db.query(
    `INSERT INTO directories (id, name, site, submission_url, category, tier, domain_authority, definition)
     VALUES ('d1', 'D1', 'http://127.0.0.1', 'http://127.0.0.1/add', 'general', 1, 50, '{}')`,
  );
  const { rows } = await t.db.query<{ id: string }>(
    `INSERT INTO customers (owner_key_id, name, email) VALUES ('k', 'Acme', 'a@acme.test') RETURNING id`,
  );
  customerId = rows[0]?.id as string;
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  sqs?.destroy();
  await t?.close();
});

interface Fixture {
  queues: TierQueue[];
  inbox: AlertsInbox;
  env: Record<string, string>;
  deps(db?: Database, overrides?: Partial<StaleJobsDeps>): Promise<StaleJobsDeps>;
}

/** Fresh tier queues and alerts topic per test; the database is the file's. */
async function fixture(label: string, env: Record<string, string> = {}): Promise<Fixture> {
  const name = uniqueName(label);
  const queues = await createTierQueues(sqs, { prefix: `${name}-` });
  const inbox = await alertsInbox(motoEndpoint(), name);
  cleanups.push(() => inbox.close());
  const fullEnv = {
    ...motoEnv(motoEndpoint()),
    ...tierQueueEnv(queues),
    // Nothing of this file's is pending for S3: the evidence step finds nothing to do (proof.test.ts does).
    RECORDS_BUCKET: 'formfleet-records-unused',
    ALERTS_TOPIC_ARN: inbox.topicArn,
    ...env,
  };
  return {
    queues,
    inbox,
    env: fullEnv,
    deps: async (db = t.db, overrides = {}) => ({
      ...(await staleJobsDepsFromEnv(fullEnv, db)),
      ...overrides,
    }),
  };
}

/** Jobs claimed by a worker that then went silent `silentFor` ago (no message anywhere: it was deleted). */
async function seedClaimedJobs(
  count: number,
  options: { silentFor?: string; attempts?: number; progress?: object } = {},
): Promise<string[]> {
  const { rows } = await t.db.query<{ id: string }>(
    `INSERT INTO jobs (customer_id, owner_key_id, priority, requested_priority, status, attempts, fencing_token,
                       enqueue_token, claimed_by, claimed_at, heartbeat_at, progress, started_at)
     SELECT $1, 'k', 2, 2, 'in_progress', $3, 1, 1, 'dead-worker', now() - interval '1 hour',
            now() - $2::interval, $4, now() - interval '1 hour'
     FROM generate_series(1, $5) RETURNING id`,
    [customerId, options.silentFor ?? '20 minutes', options.attempts ?? 0, options.progress ?? {}, count],
  );
  return rows.map((r) => r.id);
}

async function receiveAll(queue: TierQueue): Promise<JobMessage[]> {
  const messages: JobMessage[] = [];
  for (let empty = 0; empty < 2; ) {
    const res = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queue.url, MaxNumberOfMessages: 10, VisibilityTimeout: 300 }),
    );
    const batch = res.Messages ?? [];
    if (batch.length === 0) empty += 1;
    for (const m of batch) messages.push(JSON.parse(m.Body ?? '{}') as JobMessage);
  }
  return messages;
}

const p2 = (f: Fixture) => f.queues.find((q) => q.priority === 2) as TierQueue;

async function eventTypes(jobId: string): Promise<string[]> {
  const { rows } = await t.db.query<{ type: string }>(
    'SELECT type FROM job_events WHERE job_id = $1 ORDER BY id',
    [jobId],
  );
  return rows.map((r) => r.type);
}

describe('stale-job handler', () => {
  it('requeues a job whose worker went silent: new tokens, attempts + 1, an event, a message; the old worker is fenced out', async () => {
    const f = await fixture('requeue');
    const [jobId] = (await seedClaimedJobs(1)) as [string];
    const fresh = await seedClaimedJobs(1, { silentFor: '1 minute' });
    const jobs = new PgJobStore(t.db);

    const report = await makeStaleJobsHandler(await f.deps())();

    expect(report).toMatchObject({ requeued: 1, failed: 0, sendFailures: 0 });
    const job = await jobs.get(jobId);
    expect(job).toMatchObject({ status: 'queued', attempts: 1, enqueueToken: 2, fencingToken: 2 });
    expect(await eventTypes(jobId)).toEqual(['requeued', 'queued']);
    const { rows } = await t.db.query<{ detail: Record<string, unknown> }>(
      `SELECT detail FROM job_events WHERE job_id = $1 AND type = 'requeued'`,
      [jobId],
    );
    expect(rows[0]?.detail).toMatchObject({
      reason: 'stale',
      previousWorker: 'dead-worker',
      enqueueToken: 2,
    });
    expect(await receiveAll(p2(f))).toEqual([
      expect.objectContaining({ jobId, enqueueToken: 2, priority: 2 }),
    ]);
    // A job heartbeating a minute ago is alive: untouched.
    expect(await jobs.get(fresh[0] as string)).toMatchObject({ status: 'in_progress', fencingToken: 1 });
    // The dead worker wakes up: its heartbeat and its old message are both refused.
    const zombie = { jobId, customerId, priority: 2 as const, fencingToken: 1, workerId: 'dead-worker' };
    expect(await jobs.heartbeat({ ...zombie, previousStatus: 'queued' }, {})).toBe(false);
    expect(await jobs.claim(jobId, 1, 'dead-worker')).toBeUndefined();
    expect(await f.inbox.drain()).toEqual([
      expect.objectContaining({ kind: 'stale_job', severity: 'warning', counts: { requeued: 1 } }),
    ]);
  });

  it('requeues each of 100 stale jobs exactly once while two handlers race', async () => {
    const f = await fixture('race', { STALE_BATCH_SIZE: '10' });
    const ids = await seedClaimedJobs(100);
    const otherDb = createDatabase({ connectionString: t.url, max: 4 });
    try {
      const [a, b] = await Promise.all([
        makeStaleJobsHandler(await f.deps(t.db))(),
        makeStaleJobsHandler(await f.deps(otherDb))(),
      ]);
      expect(a.requeued + b.requeued).toBe(100);

      const messages = (await receiveAll(p2(f))).filter((m) => ids.includes(m.jobId));
      expect(messages).toHaveLength(100);
      expect(new Set(messages.map((m) => m.jobId)).size).toBe(100);
      expect(messages.every((m) => m.enqueueToken === 2)).toBe(true);
      const { rows } = await t.db.query<{ requeued: number; attempts: number; status: string }>(
        `SELECT (SELECT count(*)::int FROM job_events e WHERE e.job_id = j.id AND e.type = 'requeued') AS requeued,
                j.attempts, j.status
         FROM jobs j WHERE j.id = ANY($1::uuid[])`,
        [ids],
      );
      expect(rows).toHaveLength(100);
      expect(rows.every((r) => r.requeued === 1 && r.attempts === 1 && r.status === 'queued')).toBe(true);
    } finally {
      await otherDb.end();
    }
  });

  it('fails a job past the requeue cap with its reason and exactly one alert', async () => {
    const f = await fixture('cap');
    const [jobId] = (await seedClaimedJobs(1, { attempts: RECOVERY.requeueCap })) as [string];
    const handler = makeStaleJobsHandler(await f.deps());

    const first = await handler();
    await handler();
    await handler();

    expect(first).toMatchObject({ failed: 1, requeued: 0 });
    const job = await new PgJobStore(t.db).get(jobId);
    expect(job).toMatchObject({ status: 'failed', attempts: RECOVERY.requeueCap, errorClass: 'internal' });
    expect(job?.error).toMatch(
      new RegExp(`no heartbeat for \\d+ s from worker dead-worker; requeued ${RECOVERY.requeueCap} times`),
    );
    expect(job?.finishedAt).not.toBeNull();
    expect(await eventTypes(jobId)).toEqual(['failed']);
    expect(await receiveAll(p2(f))).toEqual([]);
    const alerts = (await f.inbox.drain()).filter((a) => a.kind === 'job_failed');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      severity: 'critical',
      counts: { failed: 1, requeueCap: RECOVERY.requeueCap },
      items: [expect.objectContaining({ title: jobId })],
      runbook: 'docs/runbooks/job-failed.md',
    });
  });

  it('loses nothing when a send fails after the requeue commits: the next run sends the job', async () => {
    const f = await fixture('sendfail');
    const [jobId] = (await seedClaimedJobs(1)) as [string];
    const real = await f.deps();
    let failuresLeft = 1;
    const flaky: JobQueue = {
      enqueue: async (m) => {
        if (failuresLeft-- > 0) throw new Error('SQS unavailable');
        await real.queue.enqueue(m);
      },
    };

    const first = await makeStaleJobsHandler({ ...real, queue: flaky })();
    expect(first).toMatchObject({ requeued: 1, sendFailures: 1 });
    expect(await new PgJobStore(t.db).get(jobId)).toMatchObject({ status: 'pending', enqueueToken: 2 });

    // Within the grace period nothing is re-sent (a send may still be on its way).
    expect(await makeStaleJobsHandler({ ...real, queue: flaky })()).toMatchObject({ resent: 0 });
    const second = await makeStaleJobsHandler({
      ...real,
      queue: flaky,
      options: { ...real.options, pendingGraceSeconds: 0 },
    })();

    expect(second).toMatchObject({ resent: 1, sendFailures: 0 });
    expect(await new PgJobStore(t.db).get(jobId)).toMatchObject({ status: 'queued', enqueueToken: 2 });
    expect(await receiveAll(p2(f))).toEqual([expect.objectContaining({ jobId, enqueueToken: 2 })]);
    expect(await eventTypes(jobId)).toEqual(['requeued', 'resend', 'queued']);
  });

  it('sends a newly created job whose first send failed (left pending by the API)', async () => {
    const f = await fixture('pending');
    const job = await new PgJobStore(t.db).create({
      customerId,
      ownerKeyId: 'k',
      priority: 2,
      requestedPriority: 2,
      package: null,
      directoryIds: ['d1'],
    });
    const deps = await f.deps();
    const report = await makeStaleJobsHandler({
      ...deps,
      options: { ...deps.options, pendingGraceSeconds: 0 },
    })();
    expect(report.resent).toBeGreaterThanOrEqual(1);
    expect(await new PgJobStore(t.db).get(job.id)).toMatchObject({ status: 'queued', enqueueToken: 1 });
    expect((await receiveAll(p2(f))).filter((m) => m.jobId === job.id)).toEqual([
      expect.objectContaining({ enqueueToken: 1 }),
    ]);
  });

  it('tells a slow site from a dead worker: fresh heartbeats on an unchanged step → one alert, no requeue', async () => {
    const f = await fixture('stuck');
    const stepSince = new Date(Date.now() - 10 * 60_000).toISOString();
    const [jobId] = (await seedClaimedJobs(1, {
      silentFor: '5 seconds',
      progress: { directoryId: 'd1', step: 'submit', stepSince },
    })) as [string];
    const handler = makeStaleJobsHandler(await f.deps());

    const first = await handler();
    const second = await handler();

    expect(first.stuckSteps).toBe(1);
    expect(second.stuckSteps).toBe(0);
    expect(await new PgJobStore(t.db).get(jobId)).toMatchObject({
      status: 'in_progress',
      fencingToken: 1,
      attempts: 0,
    });
    expect(await receiveAll(p2(f))).toEqual([]);
    const stuck = (await f.inbox.drain()).filter((a) => a.kind === 'stuck_step');
    expect(stuck).toEqual([
      expect.objectContaining({
        severity: 'warning',
        title: 'Job stuck at step "submit" on d1 for 10 min',
        items: [expect.objectContaining({ title: jobId })],
      }),
    ]);
  });

  it('keeps alerts in the outbox through an SNS outage and publishes each once afterwards', async () => {
    const f = await fixture('outage');
    await seedClaimedJobs(1, { attempts: RECOVERY.requeueCap });
    const deps = await f.deps();
    const down: Alerts = {
      publish: async () => {
        throw new Error('SNS unavailable');
      },
    };

    const during = await makeStaleJobsHandler({ ...deps, alerts: down })();
    expect(during.failed).toBe(1);
    expect(during.alerts).toMatchObject({ published: 0, error: { message: 'SNS unavailable' } });
    expect(await f.inbox.drain()).toEqual([]);

    const after = await makeStaleJobsHandler(deps)();
    const again = await makeStaleJobsHandler(deps)();

    expect(after.alerts.published).toBeGreaterThanOrEqual(1);
    expect(again.alerts.published).toBe(0);
    expect((await f.inbox.drain()).filter((a) => a.kind === 'job_failed')).toHaveLength(1);
  });
});
