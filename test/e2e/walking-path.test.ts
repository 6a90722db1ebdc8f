/**
 * The walking path on real parts: HTTP into the local gateway → Postgres job + ledger → SQS FIFO on moto →
 * the poller → the worker handler driving real Chromium against a fixture site → results over HTTP.
 */
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { eventually, motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';

let t: TestDatabase;
let system: LocalSystem;

async function api(path: string, init: { method?: string; body?: unknown; key?: string | null } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const key = init.key === undefined ? system.keys.client : init.key;
  if (key) headers['x-api-key'] = key;
  const res = await fetch(`${system.url}${path}`, {
    method: init.method ?? 'GET',
    headers,
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  t = await testDatabase('walking_path', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('walk')}-`,
  });
});
afterAll(async () => {
  await system?.stop();
  await t?.close();
});

describe('walking path', () => {
  it('submits a customer to a directory end to end and reports the result', async () => {
    const customer = await api('/v1/customers', {
      method: 'POST',
      body: { name: 'Acme Plumbing', email: 'owner@acme.test', phone: '+1 555 0100', city: 'Springfield' },
    });
    expect(customer.status).toBe(201);

    const created = await api('/v1/jobs', {
      method: 'POST',
      body: { customerId: customer.body.id, directoryIds: ['simple-form'], priority: 1 },
    });
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({ status: 'queued', priority: 1, tier: 'P1', directories: 1 });
    const jobId = created.body.id as string;

    const done = await eventually(
      'the job to complete',
      async () => {
        const res = await api(`/v1/jobs/${jobId}`);
        return res.body.status === 'completed' ? res.body : undefined;
      },
      { timeoutMs: 45_000, intervalMs: 250 },
    );
    expect(done.results).toEqual([
      expect.objectContaining({ directoryId: 'simple-form', status: 'submitted', attempt: 1, error: null }),
    ]);
    expect(done.progress).toMatchObject({
      total: 1,
      done: 1,
      counts: expect.objectContaining({ submitted: 1 }),
    });

    // The fixture site received exactly one submission, with the profile typed in.
    const site = system.fixtures.site('simple-form');
    expect(site.countsByName()).toEqual({ 'Acme Plumbing': 1 });
    expect(site.submissions[0]?.fields).toMatchObject({
      business_name: 'Acme Plumbing',
      email: 'owner@acme.test',
      phone: '+1 555 0100',
      city: 'Springfield',
    });

    // The job's history is in the append-only event log.
    const { rows } = await system.db.query<{ type: string }>(
      'SELECT type FROM job_events WHERE job_id = $1 ORDER BY id',
      [jobId],
    );
    expect(rows.map((r) => r.type)).toEqual(expect.arrayContaining(['created', 'claimed', 'completed']));
  });

  it('puts the job message on its tier queue with a per-job message group', async () => {
    // Without workers: stop the P3 poller's competition by reading the queue of a tier no poller drains.
    const customer = await api('/v1/customers', {
      method: 'POST',
      body: { name: 'Beta', email: 'b@beta.test' },
    });
    const quiet = await startLocalSystem({
      port: 0,
      databaseUrl: t.url,
      motoEndpoint: motoEndpoint(),
      queuePrefix: `${uniqueName('quiet')}-`,
      workers: false,
      clientKey: system.keys.client,
    });
    try {
      const res = await fetch(`${quiet.url}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': system.keys.client },
        body: JSON.stringify({ customerId: customer.body.id, directoryIds: ['simple-form'], priority: 3 }),
      });
      const job = (await res.json()) as { id: string };
      const p3 = quiet.queues.find((q) => q.priority === 3);
      const received = await quiet.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: p3?.url,
          MessageSystemAttributeNames: ['All'],
          WaitTimeSeconds: 1,
        }),
      );
      const message = received.Messages?.[0];
      expect(message?.Attributes?.MessageGroupId).toBe(job.id);
      expect(message?.Attributes?.MessageDeduplicationId).toBe(`${job.id}:1`);
      expect(JSON.parse(message?.Body ?? '{}')).toMatchObject({
        jobId: job.id,
        enqueueToken: 1,
        priority: 3,
      });
    } finally {
      await quiet.stop();
    }
  });

  it('answers as API Gateway does for a missing or unknown key, and /health needs none', async () => {
    expect((await api('/v1/jobs', { method: 'POST', body: {}, key: null })).status).toBe(403);
    expect((await api('/v1/jobs', { method: 'POST', body: {}, key: 'not-a-key' })).body).toEqual({
      message: 'Forbidden',
    });
    const health = await fetch(`${system.url}/health`);
    expect(health.status).toBe(200);
    expect(health.headers.get('cache-control')).toBe('no-store');
    expect(await health.json()).toEqual({ status: 'ok' });
  });

  it('refuses an invalid job with field-level errors and creates nothing', async () => {
    const before = await system.db.query('SELECT count(*)::int AS n FROM jobs');
    const res = await api('/v1/jobs', { method: 'POST', body: { customerId: 'nope', priority: 7 } });
    expect(res.status).toBe(400);
    const fields = (res.body.error as { details: { field: string }[] }).details.map((d) => d.field);
    expect(fields).toEqual(expect.arrayContaining(['customerId', 'directoryIds', 'priority']));
    const after = await system.db.query('SELECT count(*)::int AS n FROM jobs');
    expect(after.rows).toEqual(before.rows);
  });
});
