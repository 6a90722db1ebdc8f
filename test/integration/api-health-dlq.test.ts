/**
 * GET /health, GET /v1/health and the DLQ routes called as Lambda calls them: health on a real Postgres and
 * real SQS queues on moto; the DLQ routes against an in-test DlqService (the port's real implementation
 * belongs to recovery). Every answer held to its documented contract.
 */
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDlqApi } from '#functions/api/dlq';
import { makeHealthApi } from '#functions/api/health';
import { SqsQueueStats } from '#functions/api/queue-stats';
import type { ApiHandler } from '#functions/api/router';
import type { DlqService } from '#functions/recovery/dlq';
import { motoEnv } from '#local/services/moto';
import { createTierQueues, type TierQueue } from '#local/services/queues';
import { HEALTH, type Priority, RECOVERY } from '#policy';
import { awsClientConfig } from '#shared/aws';
import { PgCustomerStore } from '#shared/customer-store';
import type { TierUrls } from '#shared/job-queue';
import { PgJobStore } from '#shared/job-store';
import { ADMIN_KEY_ID, baseDeps, call } from '#test/api';
import { motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';

let t: TestDatabase;
let sqs: SQSClient;
let queues: TierQueue[];
let health: ApiHandler;
let dlqApi: ApiHandler;
const redrives: unknown[] = [];

const urls = (pick: (q: TierQueue) => string) =>
  Object.fromEntries(queues.map((q) => [q.priority, pick(q)])) as unknown as TierUrls;

const dlq: DlqService = {
  async inspect(options) {
    return (['P1', 'P2', 'P3'] as const).map((tier) => ({
      tier,
      depth: tier === 'P2' ? 1 : 0,
      messages:
        tier === 'P2' && (options?.maxPerTier ?? 10) > 0
          ? [
              {
                messageId: 'm-1',
                tier,
                jobId: '00000000-0000-0000-0000-000000000001',
                customerId: null,
                errorClass: 'timeout' as const,
                error: 'timed out',
                receiveCount: 5,
                sentAt: '2026-01-01T00:00:00.000Z',
              },
            ]
          : [],
    }));
  },
  async redrive(options) {
    redrives.push(options);
    return { moved: 1, skipped: 2, byClass: { timeout: 1 }, byTier: { P2: 1 } };
  },
};

beforeAll(async () => {
  t = await testDatabase('api_health');
  sqs = new SQSClient(awsClientConfig(motoEnv(motoEndpoint())));
  queues = await createTierQueues(sqs, { prefix: `${uniqueName('health')}-` });
  health = makeHealthApi({
    ...baseDeps(t.db),
    sql: t.db,
    queues: new SqsQueueStats(
      sqs,
      urls((q) => q.url),
      urls((q) => q.dlqUrl),
    ),
  });
  dlqApi = makeDlqApi({ ...baseDeps(t.db), dlq });
});
afterAll(async () => {
  sqs?.destroy();
  await t?.close();
});

const brokenSql = {
  query: async () => {
    throw new Error('connect ECONNREFUSED 10.1.2.3:5432');
  },
};

describe('GET /health', () => {
  it('answers status only, never cached, without a key', async () => {
    const res = await call(health, 'GET', '/health', { apiKeyId: null });
    expect(res).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['ratelimit-limit']).toBeDefined();
  });

  it('answers 503 when the database does not answer in time', async () => {
    const down = makeHealthApi({ ...baseDeps(t.db), sql: brokenSql, queues: { tiers: async () => [] } });
    expect(await call(down, 'GET', '/health', { apiKeyId: null })).toMatchObject({
      status: 503,
      body: { status: 'unavailable' },
    });
    const hung = makeHealthApi({
      ...baseDeps(t.db),
      sql: { query: () => new Promise(() => {}) },
      queues: { tiers: async () => [] },
      timeoutMs: 50,
    });
    expect((await call(hung, 'GET', '/health', { apiKeyId: null })).status).toBe(503);
  });
});

describe('GET /v1/health', () => {
  it('reports healthy with every figure when nothing is wrong', async () => {
    const res = await call(health, 'GET', '/v1/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'healthy',
      reasons: [],
      database: { status: 'up', latencyMs: expect.any(Number) },
      queues: {
        status: 'up',
        tiers: [
          { tier: 'P1', depth: 0, inFlight: 0, dlqDepth: 0 },
          { tier: 'P2', depth: 0, inFlight: 0, dlqDepth: 0 },
          { tier: 'P3', depth: 0, inFlight: 0, dlqDepth: 0 },
        ],
      },
      workers: { active: 0, stale: 0, jobsInFlight: 0 },
      staleJobs: { count: 0, oldest: [] },
      jobs: { pending: 0, queued: 0, inProgress: 0, completedToday: 0, failedToday: 0 },
      browser: { running: 0, openContexts: 0, launches: 0, recycles: 0 },
    });
    expect((await call(health, 'GET', '/v1/health', { apiKeyId: null })).status).toBe(403);
  });

  it('counts workers, browsers, jobs and stale jobs, and is degraded by a DLQ message and a stale job', async () => {
    await t.db.query(
      `INSERT INTO workers (id, last_seen_at, jobs_in_flight, browser) VALUES
         ('w-live', now(), 1, '{"running": true, "openContexts": 1, "launches": 2, "recycles": 1}'),
         ('w-quiet', now() - make_interval(secs => $1), 1, '{"running": true, "launches": "x"}'),
         ('w-gone', now() - make_interval(secs => $2), 0, '{}')`,
      [HEALTH.workerStaleAfterSeconds + 5, HEALTH.workerForgetAfterSeconds + 5],
    );
    const customer = await new PgCustomerStore(t.db).create('k', { name: 'H', email: 'h@h.test' } as never);
    const jobs = new PgJobStore(t.db);
    const newJob = () =>
      jobs.create({
        customerId: customer.id,
        ownerKeyId: 'k',
        priority: 1,
        requestedPriority: 1,
        package: null,
        directoryIds: [],
      });
    await newJob();
    const queued = await newJob();
    await jobs.markQueued(queued.id, 1);
    const stale = await newJob();
    await jobs.claim(stale.id, 1, 'w-quiet');
    await t.db.query(`UPDATE jobs SET heartbeat_at = now() - make_interval(secs => $2) WHERE id = $1`, [
      stale.id,
      RECOVERY.staleAfterSeconds + 60,
    ]);
    const done = await newJob();
    const claim = await jobs.claim(done.id, 1, 'w-live');
    await jobs.finish(claim as never, { status: 'failed', progress: {}, error: 'x' });
    const p2 = queues.find((q) => q.priority === (2 as Priority)) as TierQueue;
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: p2.dlqUrl,
        MessageBody: '{}',
        MessageGroupId: 'g',
        MessageDeduplicationId: 'd',
      }),
    );
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: p2.url,
        MessageBody: '{}',
        MessageGroupId: 'g',
        MessageDeduplicationId: 'd',
      }),
    );

    const res = await call(health, 'GET', '/v1/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'degraded',
      reasons: [
        'the P2 dead-letter queue holds 1 message(s)',
        `1 job(s) stale: no heartbeat for ${RECOVERY.staleAfterSeconds} s`,
      ],
      workers: { active: 1, stale: 1, jobsInFlight: 1 },
      browser: { running: 1, openContexts: 1, launches: 2, recycles: 1 },
      jobs: { pending: 1, queued: 1, inProgress: 1, completedToday: 0, failedToday: 1 },
      staleJobs: { count: 1, oldest: [expect.objectContaining({ id: stale.id, claimedBy: 'w-quiet' })] },
    });
    expect(res.body.queues.tiers[1]).toEqual({ tier: 'P2', depth: 1, inFlight: 0, dlqDepth: 1 });
  });

  it('is unhealthy (503) without the database, and degraded when SQS cannot be read', async () => {
    const noDb = makeHealthApi({ ...baseDeps(t.db), sql: brokenSql, queues: { tiers: async () => [] } });
    const down = await call(noDb, 'GET', '/v1/health');
    expect(down).toMatchObject({
      status: 503,
      body: { status: 'unhealthy', reasons: ['the database does not answer'], jobs: null },
    });
    const noSqs = makeHealthApi({
      ...baseDeps(t.db),
      sql: t.db,
      queues: {
        tiers: async () => {
          throw new Error('SQS down');
        },
      },
    });
    const degraded = await call(noSqs, 'GET', '/v1/health');
    expect(degraded.body.status).toBe('degraded');
    expect(degraded.body.reasons).toContain('SQS queue attributes cannot be read');
  });
});

describe('DLQ routes', () => {
  it('inspect every tier for admins, and refuse client keys', async () => {
    const res = await call(dlqApi, 'GET', '/v1/dlq', { apiKeyId: ADMIN_KEY_ID, query: { maxPerTier: '5' } });
    expect(res.status).toBe(200);
    expect(res.body.tiers.map((t: { depth: number }) => t.depth)).toEqual([0, 1, 0]);
    expect(res.body.tiers[1].messages[0]).toMatchObject({ errorClass: 'timeout', receiveCount: 5 });
    expect((await call(dlqApi, 'GET', '/v1/dlq', { apiKeyId: 'client-a' })).status).toBe(403);
    const bad = await call(dlqApi, 'GET', '/v1/dlq', {
      apiKeyId: ADMIN_KEY_ID,
      query: { maxPerTier: '1000' },
    });
    expect(bad.body.error.details).toEqual([{ field: 'maxPerTier', message: 'must be at most 100' }]);
  });

  it('redrive by error class and tier, validating both', async () => {
    const res = await call(dlqApi, 'POST', '/v1/dlq/redrive', {
      apiKeyId: ADMIN_KEY_ID,
      body: { errorClasses: ['timeout', 'site_down'], tiers: ['P2', 'P3'], limit: 10 },
    });
    expect(res).toMatchObject({ status: 200, body: { moved: 1, skipped: 2 } });
    expect(redrives.at(-1)).toEqual({ errorClasses: ['timeout', 'site_down'], tiers: [2, 3], limit: 10 });
    await call(dlqApi, 'POST', '/v1/dlq/redrive', { apiKeyId: ADMIN_KEY_ID, body: { errorClasses: 'all' } });
    expect(redrives.at(-1)).toEqual({ errorClasses: 'all' });
    const bad = await call(dlqApi, 'POST', '/v1/dlq/redrive', {
      apiKeyId: ADMIN_KEY_ID,
      body: { errorClasses: ['gremlins'], tiers: ['P4'] },
    });
    expect(bad.body.error.details).toEqual([
      {
        field: 'errorClasses',
        message:
          'must be "all" or a list of error classes (site_down, timeout, selector_drift, validation_error, captcha, login_required, internal, blocked_destination, category_unmapped, option_unmapped)',
      },
      { field: 'tiers[0]', message: 'must be one of P1, P2, P3' },
    ]);
    const client = await call(dlqApi, 'POST', '/v1/dlq/redrive', {
      apiKeyId: 'client-a',
      body: { errorClasses: 'all' },
    });
    expect(client.status).toBe(403);
  });
});
