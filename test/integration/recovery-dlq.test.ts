/**
 * Dead-letter queues on moto and Postgres: messages land there through the real redrive policy (a consumer
 * failing them maxReceiveCount times); the DLQ service peeks without consuming and redrives only chosen error
 * classes, making the job claimable again; the DLQ check alerts on news only, across cold starts and
 * concurrent runs.
 */
import { PurgeQueueCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dlqCheckDepsFromEnv } from '#functions/recovery/deps';
import { dlqServiceFromEnv, InvalidRedriveRequest } from '#functions/recovery/dlq';
import { makeDlqCheckHandler } from '#functions/recovery/dlq-check';
import { motoEnv } from '#local/services/moto';
import { createTierQueues, type TierQueue, tierQueueEnv } from '#local/services/queues';
import { type Priority, QUEUES } from '#policy';
import { awsClientConfig } from '#shared/aws';
import { createDatabase, type Database } from '#shared/db';
import { queueCounts } from '#shared/job-queue';
import { PgJobStore } from '#shared/job-store';
import type { ErrorClass } from '#shared/submission-ledger';
import { type AlertsInbox, alertsInbox } from '#test/alerts-inbox';
import { motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';

let sqs: SQSClient;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(() => {
  sqs = new SQSClient(awsClientConfig(motoEnv(motoEndpoint())));
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  sqs?.destroy();
});

interface Fixture {
  db: Database;
  url: string;
  queues: TierQueue[];
  inbox: AlertsInbox;
  env: Record<string, string>;
  tier(priority: Priority): TierQueue;
}

/** A database, tier queues and an alerts topic of the test's own (DLQ alert state is per tier). */
async function fixture(label: string): Promise<Fixture> {
  const t: TestDatabase = await testDatabase(label);
  cleanups.push(() => t.close());
  await t.db.query(
    `INSERT INTO directories (id, name, site, submission_url, category, tier, domain_authority, definition)
     VALUES ('d1', 'D1', 'http://127.0.0.1', 'http://127.0.0.1/add', 'general', 1, 50, '{}')`,
  );
  const name = uniqueName(label);
  const queues = await createTierQueues(sqs, { prefix: `${name}-` });
  const inbox = await alertsInbox(motoEndpoint(), name);
  cleanups.push(() => inbox.close());
  return {
    db: t.db,
    url: t.url,
    queues,
    inbox,
    env: { ...motoEnv(motoEndpoint()), ...tierQueueEnv(queues), ALERTS_TOPIC_ARN: inbox.topicArn },
    tier: (p) => queues.find((q) => q.priority === p) as TierQueue,
  };
}

/** Sends `body` to the tier queue and fails it maxReceiveCount times, so SQS moves it to the DLQ. */
async function deadLetter(queue: TierQueue, body: string, group: string): Promise<void> {
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: queue.url,
      MessageBody: body,
      MessageGroupId: group,
      MessageDeduplicationId: `${group}-${Math.random()}`,
    }),
  );
  for (let i = 0; i <= QUEUES.maxReceiveCount; i++) {
    await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.url, VisibilityTimeout: 0 }));
  }
}

/** A job whose worker failed its record with `errorClass` (as the worker records it), dead-lettered. */
async function deadLetteredJob(
  f: Fixture,
  priority: Priority,
  errorClass: ErrorClass | null,
  status = 'queued',
) {
  const jobs = new PgJobStore(f.db);
  const { rows } = await f.db.query<{ id: string }>(
    `INSERT INTO customers (owner_key_id, name, email) VALUES ('k', 'Acme', 'a@acme.test') RETURNING id`,
  );
  const job = await jobs.create({
    customerId: rows[0]?.id as string,
    ownerKeyId: 'k',
    priority,
    requestedPriority: priority,
    package: null,
    directoryIds: ['d1'],
  });
  await f.db.query(`UPDATE jobs SET status = $2, error = $3, error_class = $4 WHERE id = $1`, [
    job.id,
    status,
    errorClass ? `the site said no (${errorClass})` : null,
    errorClass,
  ]);
  await deadLetter(
    f.tier(priority),
    JSON.stringify({ jobId: job.id, enqueueToken: 1, priority, enqueuedAt: new Date().toISOString() }),
    job.id,
  );
  return job;
}

async function depth(url: string) {
  const { visible, notVisible } = await queueCounts(sqs, url);
  return { visible, hidden: notVisible };
}

describe('DLQ service', () => {
  it('peeks at every tier without consuming: depth, job, customer, error class, receive count', async () => {
    const f = await fixture('dlq_inspect');
    const drift = await deadLetteredJob(f, 2, 'selector_drift');
    const unclassified = await deadLetteredJob(f, 2, null);
    await deadLetter(f.tier(2), 'not json at all', 'poison-1');
    const dlq = await dlqServiceFromEnv(f.env, f.db);

    const first = await dlq.inspect();
    const second = await dlq.inspect({ maxPerTier: 2 });

    expect(first.map((t) => [t.tier, t.depth])).toEqual([
      ['P1', 0],
      ['P2', 3],
      ['P3', 0],
    ]);
    const p2 = first[1]?.messages ?? [];
    expect(p2).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          tier: 'P2',
          jobId: drift.id,
          customerId: drift.customerId,
          errorClass: 'selector_drift',
          error: 'the site said no (selector_drift)',
          receiveCount: QUEUES.maxReceiveCount + 1,
        }),
        expect.objectContaining({ jobId: unclassified.id, errorClass: null, error: null }),
        expect.objectContaining({
          jobId: null,
          customerId: null,
          errorClass: 'internal',
          error: 'message body is not a job message',
        }),
      ]),
    );
    expect(second[1]).toMatchObject({ depth: 3, messages: [expect.anything(), expect.anything()] });
    // Nothing consumed, nothing left hidden.
    expect(await depth(f.tier(2).dlqUrl)).toEqual({ visible: 3, hidden: 0 });
  });

  it('redrives only the chosen classes, with a new token that makes the job claimable again', async () => {
    const f = await fixture('dlq_redrive');
    const down = await deadLetteredJob(f, 1, 'site_down', 'in_progress');
    const captcha = await deadLetteredJob(f, 1, 'captcha');
    await deadLetter(f.tier(3), '{"poison":true}', 'poison-2');
    const dlq = await dlqServiceFromEnv(f.env, f.db, 'redrive');
    const jobs = new PgJobStore(f.db);

    const report = await dlq.redrive({ errorClasses: ['site_down', 'timeout'] });

    expect(report).toEqual({ moved: 1, skipped: 2, byClass: { site_down: 1 }, byTier: { P1: 1 } });
    expect(await depth(f.tier(1).dlqUrl)).toEqual({ visible: 1, hidden: 0 });
    expect(await depth(f.tier(3).dlqUrl)).toEqual({ visible: 1, hidden: 0 });
    const back = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: f.tier(1).url, MessageSystemAttributeNames: ['All'] }),
    );
    expect(back.Messages).toHaveLength(1);
    const message = back.Messages?.[0];
    expect(JSON.parse(message?.Body ?? '{}')).toMatchObject({ jobId: down.id, enqueueToken: 2, priority: 1 });
    expect(message?.Attributes?.MessageDeduplicationId).toBe(`${down.id}:2`);
    expect(await jobs.get(down.id)).toMatchObject({ status: 'queued', error: null, errorClass: null });
    expect(await jobs.claim(down.id, 1, 'old-copy')).toBeUndefined();
    expect(await jobs.claim(down.id, 2, 'worker')).toMatchObject({ jobId: down.id });
    const { rows } = await f.db.query<{ detail: Record<string, unknown> }>(
      `SELECT detail FROM job_events WHERE job_id = $1 AND type = 'redriven'`,
      [down.id],
    );
    expect(rows[0]?.detail).toMatchObject({ fromTier: 'P1', errorClass: 'site_down', enqueueToken: 2 });
    expect(await jobs.get(captcha.id)).toMatchObject({ status: 'queued', enqueueToken: 1 });

    // Poison counts as 'internal' and goes back as it was, under a new deduplication id.
    expect(await dlq.redrive({ errorClasses: ['internal'], tiers: [3] })).toMatchObject({
      moved: 1,
      byClass: { internal: 1 },
      byTier: { P3: 1 },
    });
    const poison = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: f.tier(3).url, MessageSystemAttributeNames: ['All'] }),
    );
    expect(poison.Messages?.[0]?.Body).toBe('{"poison":true}');
    expect(poison.Messages?.[0]?.Attributes?.MessageGroupId).toBe('poison-2');
  });

  it("leaves a finished job's message where it is, respects the limit, and refuses bad requests", async () => {
    const f = await fixture('dlq_rules');
    await deadLetteredJob(f, 2, 'timeout', 'completed');
    await deadLetteredJob(f, 2, 'timeout');
    await deadLetteredJob(f, 2, 'timeout');
    const dlq = await dlqServiceFromEnv(f.env, f.db, 'redrive');

    expect(await dlq.redrive({ errorClasses: 'all', limit: 1 })).toMatchObject({ moved: 1 });
    expect(await dlq.redrive({ errorClasses: 'all' })).toMatchObject({ moved: 1, skipped: 1 });
    expect(await depth(f.tier(2).dlqUrl)).toEqual({ visible: 1, hidden: 0 });

    await expect(
      dlq.redrive({ errorClasses: ['bogus' as ErrorClass], tiers: [4 as Priority], limit: 0 }),
    ).rejects.toThrow(
      new InvalidRedriveRequest(
        'unknown error class(es): bogus; tiers must be a non-empty list of priorities 1, 2, 3; limit must be a positive integer',
      ),
    );
    await expect(dlq.redrive({ errorClasses: [] })).rejects.toThrow(/non-empty list of: site_down/);
    // A limit above the per-call cap is capped, not refused (the API accepts up to 1000).
    expect(await dlq.redrive({ errorClasses: ['captcha'], limit: 5_000 })).toMatchObject({ moved: 0 });
    const readOnly = await dlqServiceFromEnv(f.env, f.db, 'read');
    await expect(readOnly.redrive({ errorClasses: 'all' })).rejects.toThrow(/needs the source queue URLs/);
  });
});

describe('DLQ check', () => {
  it('alerts once for a poison message however often it checks, again on growth, and "resolved" on drain', async () => {
    const f = await fixture('dlq_check');
    // A fresh handler per check: the state must survive cold starts.
    const check = async () => makeDlqCheckHandler(await dlqCheckDepsFromEnv(f.env, f.db))();

    await deadLetter(f.tier(3), 'poison', 'p-1');
    const checks = [await check(), await check(), await check()];
    expect(checks.map((c) => c.tiers.find((t) => t.tier === 'P3'))).toEqual([
      { tier: 'P3', depth: 1, alert: 'dlq' },
      { tier: 'P3', depth: 1, alert: null },
      { tier: 'P3', depth: 1, alert: null },
    ]);
    const first = await f.inbox.drain();
    expect(first).toEqual([
      expect.objectContaining({
        kind: 'dlq',
        severity: 'critical',
        title: 'P3 dead-letter queue has 1 message',
        counts: { depth: 1, previous: 0, internal: 1 },
        items: [expect.objectContaining({ title: expect.stringMatching(/^message /) })],
        runbook: 'docs/runbooks/dlq.md',
      }),
    ]);

    await deadLetter(f.tier(3), 'more poison', 'p-2');
    await check();
    await check();
    expect(await f.inbox.drain()).toEqual([
      expect.objectContaining({ kind: 'dlq', title: 'P3 dead-letter queue grew to 2 messages (+1)' }),
    ]);

    await sqs.send(new PurgeQueueCommand({ QueueUrl: f.tier(3).dlqUrl }));
    await check();
    await check();
    expect(await f.inbox.drain()).toEqual([
      expect.objectContaining({
        kind: 'dlq_resolved',
        severity: 'info',
        title: 'P3 dead-letter queue drained',
      }),
    ]);
  });

  it('reminds after the quiet period while the DLQ stays unresolved', async () => {
    const f = await fixture('dlq_remind');
    await deadLetter(f.tier(1), 'poison', 'p-1');
    const deps = await dlqCheckDepsFromEnv({ ...f.env, DLQ_REMINDER_AFTER_SECONDS: '3600' }, f.db);
    const start = Date.now() + 60_000;
    const at = (minutes: number) =>
      makeDlqCheckHandler({ ...deps, now: () => new Date(start + minutes * 60_000) });

    const kinds = [];
    for (const minutes of [0, 30, 61, 90, 122]) {
      kinds.push((await at(minutes)()).tiers.find((t) => t.tier === 'P1')?.alert ?? null);
    }

    expect(kinds).toEqual(['dlq', null, 'dlq_reminder', null, 'dlq_reminder']);
    expect((await f.inbox.drain()).map((a) => a.title)).toEqual([
      'P1 dead-letter queue has 1 message',
      'P1 dead-letter queue still holds 1 message',
      'P1 dead-letter queue still holds 1 message',
    ]);
  });

  it('alerts once when two checks run at the same time', async () => {
    const f = await fixture('dlq_race');
    await deadLetter(f.tier(2), 'poison', 'p-1');
    const other = createDatabase({ connectionString: f.url, max: 3 });
    try {
      const [a, b] = await Promise.all([
        makeDlqCheckHandler(await dlqCheckDepsFromEnv(f.env, f.db))(),
        makeDlqCheckHandler(await dlqCheckDepsFromEnv(f.env, other))(),
      ]);
      const p2 = [a, b].map((r) => r.tiers.find((t) => t.tier === 'P2')?.alert);
      expect(p2.filter((k) => k === 'dlq')).toHaveLength(1);
      expect((await f.inbox.drain()).filter((x) => x.kind === 'dlq')).toHaveLength(1);
    } finally {
      await other.end();
    }
  });
});
