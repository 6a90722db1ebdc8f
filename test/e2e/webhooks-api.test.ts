/**
 * Webhooks as an API client meets them, over HTTP against the local system: subscribe (the secret shown
 * once), see only one's own endpoints, receive one's own resources' events signed the Standard Webhooks way
 * and verified by the specification's reference library (a tampered body and a stale timestamp refused), the
 * payload the very resource GET /v1/jobs/{id} returns, deliveries listed with their attempts, a replay with
 * the same webhook-id, a test event, 410 disabling the endpoint with its events held until it is enabled.
 */
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { DEMO_CUSTOMERS } from '#local/seed';
import { WEBHOOKS } from '#policy';
import { runOpsRecorded } from '#test/cli';
import { eventually, motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';
import { startTestReceiver, type TestReceiver } from '#test/webhook-receiver';

let t: TestDatabase;
let system: LocalSystem;
let receiver: TestReceiver;
const OTHER_KEY = 'ffclient_another-client-for-webhooks-0001';

beforeAll(async () => {
  t = await testDatabase('webhooks_api', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('hooks')}-`,
    workers: false,
    schedules: { timers: false },
    extraClientKeys: { [OTHER_KEY]: 'client-2' },
  });
  receiver = await startTestReceiver();
});
afterAll(async () => {
  await receiver?.stop();
  await system?.stop();
  await t?.close();
});

// biome-ignore lint/suspicious/noExplicitAny: response bodies are inspected freely.
type Answer = { status: number; body: any };

async function call(method: string, path: string, key: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`${system.url}${path}`, {
    method,
    headers: { 'x-api-key': key, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Wakes the endpoints with due deliveries (the dispatcher's look) until `check` holds. */
async function deliveredUntil<T>(what: string, check: () => T | undefined): Promise<T> {
  return eventually(
    what,
    async () => {
      await system.webhooks.dispatcher.look();
      return check();
    },
    { timeoutMs: 20_000, intervalMs: 200 },
  );
}

const customer = DEMO_CUSTOMERS[0]?.id as string;

async function newJobThenCancel(key: string): Promise<string> {
  const created = await call('POST', '/v1/jobs', key, {
    customerId: customer,
    directoryIds: ['simple-form'],
  });
  if (created.status !== 202) {
    // The demo customer belongs to the built-in client key; another key makes its own.
    const c = await call('POST', '/v1/customers', key, { name: 'Other Co', email: 'o@other.test' });
    const again = await call('POST', '/v1/jobs', key, {
      customerId: c.body.id,
      directoryIds: ['simple-form'],
    });
    expect(again.status).toBe(202);
    expect((await call('POST', `/v1/jobs/${again.body.id}/cancel`, key)).status).toBe(200);
    return again.body.id;
  }
  expect((await call('POST', `/v1/jobs/${created.body.id}/cancel`, key)).status).toBe(200);
  return created.body.id;
}

describe('subscriptions', () => {
  it('answer the signing secret once and never again, per key', async () => {
    const created = await call('POST', '/v1/webhooks', system.keys.client, {
      url: `${receiver.url}/mine`,
      events: ['job.cancelled'],
      description: 'ops dashboard',
    });
    expect(created.status).toBe(201);
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(created.body).toMatchObject({ scope: 'own', status: 'enabled', events: ['job.cancelled'] });
    const read = await call('GET', `/v1/webhooks/${created.body.id}`, system.keys.client);
    expect(read.status).toBe(200);
    expect(JSON.stringify(read.body)).not.toContain(created.body.secret);
    expect(read.body.secret).toBeUndefined();
    // Nowhere in the database either: only the sealed form.
    const { rows } = await system.db.query<{ secret_sealed: string }>(
      'SELECT secret_sealed FROM webhook_endpoints WHERE id = $1',
      [created.body.id],
    );
    expect(rows[0]?.secret_sealed).toMatch(/^local:v1:/);
    expect(rows[0]?.secret_sealed).not.toContain(created.body.secret.slice(6, 20));

    // Another client key neither sees it nor lists it; an admin sees every key's.
    expect((await call('GET', `/v1/webhooks/${created.body.id}`, OTHER_KEY)).status).toBe(404);
    expect((await call('DELETE', `/v1/webhooks/${created.body.id}`, OTHER_KEY)).status).toBe(404);
    expect((await call('GET', '/v1/webhooks', OTHER_KEY)).body.items).toEqual([]);
    const all = await call('GET', '/v1/webhooks', system.keys.admin);
    expect(all.body.items.map((w: { id: string }) => w.id)).toContain(created.body.id);
    expect((await call('DELETE', `/v1/webhooks/${created.body.id}`, system.keys.client)).status).toBe(204);
    expect((await call('GET', `/v1/webhooks/${created.body.id}`, system.keys.client)).status).toBe(404);
  });

  it('refuse what they cannot use: every key’s events for a client key, URLs with credentials', async () => {
    const all = await call('POST', '/v1/webhooks', system.keys.client, {
      url: `${receiver.url}/x`,
      events: ['job.completed'],
      scope: 'all',
    });
    expect(all.status).toBe(403);
    const creds = await call('POST', '/v1/webhooks', system.keys.client, {
      url: 'http://user:pw@127.0.0.1:9/x',
      events: ['job.completed'],
    });
    // The schema's URL form has no user or password: refused before anything else (400, naming the field).
    expect(creds.status).toBe(400);
    expect(creds.body.error.details).toEqual([expect.objectContaining({ field: 'url' })]);
    const unknownEvent = await call('POST', '/v1/webhooks', system.keys.client, {
      url: `${receiver.url}/x`,
      events: ['job.exploded'],
    });
    expect(unknownEvent.status).toBe(400);
  });
});

describe('deliveries', () => {
  let endpoint: { id: string; secret: string };
  let otherEndpoint: { id: string; secret: string };
  let jobId: string;

  beforeAll(async () => {
    const mine = await call('POST', '/v1/webhooks', system.keys.client, {
      url: `${receiver.url}/client`,
      events: ['job.cancelled', 'submission.settled'],
    });
    const other = await call('POST', '/v1/webhooks', OTHER_KEY, {
      url: `${receiver.url}/other`,
      events: ['job.cancelled', 'submission.settled'],
    });
    endpoint = mine.body;
    otherEndpoint = other.body;
    receiver.setSecret(endpoint.secret, '/client');
    receiver.setSecret(otherEndpoint.secret, '/other');
    jobId = await newJobThenCancel(system.keys.client);
  });

  it('reach only the owner key’s endpoint, verified by the Standard Webhooks reference library', async () => {
    const got = await deliveredUntil('two deliveries', () => {
      const mine = receiver.posts.filter((p) => p.path === '/client');
      return mine.length >= 2 ? mine : undefined;
    });
    expect(got.every((p) => p.verified)).toBe(true);
    expect(got.map((p) => p.event?.type).sort()).toEqual(['job.cancelled', 'submission.settled']);
    expect(receiver.posts.filter((p) => p.path === '/other')).toEqual([]);

    const cancelled = got.find((p) => p.event?.type === 'job.cancelled');
    const job = await call('GET', `/v1/jobs/${jobId}`, system.keys.client);
    expect(cancelled?.event).toMatchObject({ id: cancelled?.webhookId, jobId, sequence: 2 });
    // The job as the API returns it, but for `proofs`: presigned links expire, so events do not carry them.
    const withoutProofs = <T extends { proofs?: unknown }>({ proofs: _, ...rest }: T) => rest;
    expect(cancelled?.event?.data).toEqual({ ...job.body, results: job.body.results.map(withoutProofs) });
    const settled = got.find((p) => p.event?.type === 'submission.settled');
    const rows = await call('GET', `/v1/submissions?jobId=${jobId}`, system.keys.client);
    expect(settled?.event?.data).toEqual(withoutProofs(rows.body.items[0]));
    expect(settled?.event?.sequence).toBe(1);
  });

  it('fail verification when the body is tampered with or the timestamp is stale', async () => {
    const d = receiver.posts.find((p) => p.path === '/client' && p.verified);
    if (!d) throw new Error('no delivery');
    const wh = new Webhook(endpoint.secret);
    const headers = {
      'webhook-id': d.webhookId,
      'webhook-timestamp': d.timestamp,
      'webhook-signature': d.signature,
    };
    expect(() => wh.verify(d.body, headers)).not.toThrow();
    const tampered = d.body.replace(/"sequence":(\d+)/, (_, n) => `"sequence":${Number(n) + 1}`);
    expect(tampered).not.toBe(d.body);
    expect(() => wh.verify(tampered, headers)).toThrow();
    expect(() => wh.verify(`${d.body} `, headers)).toThrow();
    // formfleet's signature is the library's, byte for byte; ten minutes old, the library refuses it.
    expect(wh.sign(d.webhookId, new Date(Number(d.timestamp) * 1000), d.body)).toBe(d.signature);
    const stale = new Date(Date.now() - 10 * 60_000);
    const staleHeaders = {
      'webhook-id': d.webhookId,
      'webhook-timestamp': String(Math.floor(stale.getTime() / 1000)),
      'webhook-signature': wh.sign(d.webhookId, stale, d.body),
    };
    expect(() => wh.verify(d.body, staleHeaders)).toThrow(/timestamp/i);
    // Another endpoint's secret does not verify it.
    expect(() => new Webhook(otherEndpoint.secret).verify(d.body, headers)).toThrow();
  });

  it('are listed with their attempts, and a replay sends the same webhook-id again', async () => {
    const list = await call('GET', `/v1/webhooks/${endpoint.id}/deliveries`, system.keys.client);
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(2);
    for (const d of list.body.items) {
      expect(d).toMatchObject({ status: 'delivered', attempts: 1, endpointId: endpoint.id });
      expect(d.attemptLog).toEqual([expect.objectContaining({ number: 1, statusCode: 200, error: null })]);
    }
    expect((await call('GET', `/v1/webhooks/${endpoint.id}/deliveries`, OTHER_KEY)).status).toBe(404);

    const original = list.body.items.find((d: { eventType: string }) => d.eventType === 'job.cancelled');
    const replay = await call(
      'POST',
      `/v1/webhooks/${endpoint.id}/deliveries/${original.id}/replay`,
      system.keys.client,
    );
    expect(replay.status).toBe(202);
    expect(replay.body).toMatchObject({
      eventId: original.eventId,
      replayOf: original.id,
      status: 'pending',
    });
    const before = receiver.posts.filter((p) => p.webhookId === original.eventId).length;
    const again = await deliveredUntil('the replay', () => {
      const posts = receiver.posts.filter((p) => p.webhookId === original.eventId);
      return posts.length > before ? posts : undefined;
    });
    // The same id and body: a receiver deduplicating by webhook-id processes it once.
    expect(new Set(again.map((p) => p.body)).size).toBe(1);
    expect(receiver.processed.get(original.eventId)).toBeDefined();
    expect(receiver.duplicates).toBeGreaterThanOrEqual(1);
  });

  it('send a test event on request, and disable an endpoint that answers 410, holding its events', async () => {
    const test = await call('POST', `/v1/webhooks/${endpoint.id}/test`, system.keys.client);
    expect(test.status).toBe(202);
    expect(test.body.eventType).toBe('webhook.test');
    await deliveredUntil('the test event', () =>
      receiver.posts.find((p) => p.event?.type === 'webhook.test' && p.webhookId === test.body.eventId),
    );

    receiver.behave((d) => (d.path === '/client' ? { status: 410 } : { status: 200 }));
    const gone = await call('POST', `/v1/webhooks/${endpoint.id}/test`, system.keys.client);
    const disabled = await deliveredUntil('the endpoint disabled', async () => {
      const e = await call('GET', `/v1/webhooks/${endpoint.id}`, system.keys.client);
      return e.body.status === 'disabled' ? e.body : undefined;
    });
    expect(await disabled).toMatchObject({ disabledReason: 'gone' });
    // An event while disabled is held, not sent, not lost.
    await newJobThenCancel(system.keys.client);
    const held = await call('GET', `/v1/webhooks/${endpoint.id}/deliveries?status=held`, system.keys.client);
    expect(held.body.items.map((d: { eventId: string }) => d.eventId)).toContain(gone.body.eventId);
    expect(held.body.items.length).toBeGreaterThanOrEqual(3);
    expect(
      (
        await call(
          'POST',
          `/v1/webhooks/${endpoint.id}/deliveries/${gone.body.id}/replay`,
          system.keys.client,
        )
      ).status,
    ).toBe(409);
    // The disabling raised an alert (the outbox; the dispatcher publishes it).
    const { rows } = await system.db.query("SELECT id FROM alert_outbox WHERE kind = 'webhook_disabled'");
    expect(rows).toHaveLength(1);

    receiver.behave(() => ({ status: 200 }));
    const enabled = await call('POST', `/v1/webhooks/${endpoint.id}/enable`, system.keys.client);
    expect(enabled.body).toMatchObject({ status: 'enabled', disabledReason: null, consecutiveFailures: 0 });
    const ids = held.body.items.map((d: { eventId: string }) => d.eventId);
    await deliveredUntil('the held events', () =>
      ids.every((id: string) => receiver.processed.has(id)) ? true : undefined,
    );
  });

  it('are listed and replayed by the ops CLI, as an operator would', async () => {
    const ops = (args: string[]) =>
      runOpsRecorded(args, { FORMFLEET_API_URL: system.url, FORMFLEET_ADMIN_KEY: system.keys.admin });
    const list = await ops(['webhooks', 'list']);
    expect(list.code, list.err).toBe(0);
    expect(list.out).toContain(endpoint.id);
    const deliveries = await ops(['webhooks', 'deliveries', endpoint.id, '--status', 'delivered', '--json']);
    expect(deliveries.code, deliveries.err).toBe(0);
    const [first] = JSON.parse(deliveries.out).items as { id: string; eventId: string }[];
    if (!first) throw new Error('no delivered delivery');
    const table = await ops(['webhooks', 'deliveries', endpoint.id]);
    expect(table.out).toContain(first.eventId);
    const replay = await ops(['webhooks', 'replay', endpoint.id, first.id]);
    expect(replay.code, replay.err).toBe(0);
    expect(replay.out).toContain(`replaying`);
    expect(replay.out).toContain(first.eventId);
    const before = receiver.posts.filter((p) => p.webhookId === first.eventId).length;
    await deliveredUntil('the replay from the CLI', () =>
      receiver.posts.filter((p) => p.webhookId === first.eventId).length > before ? true : undefined,
    );
    expect((await ops(['webhooks', 'replay', endpoint.id])).code).toBe(2);
  });

  it('keep their key within its endpoint allowance', async () => {
    const key = OTHER_KEY;
    const have = (await call('GET', '/v1/webhooks', key)).body.items.length;
    for (let i = have; i < WEBHOOKS.maxEndpointsPerKey; i++) {
      const ok = await call('POST', '/v1/webhooks', key, {
        url: `${receiver.url}/n${i}`,
        events: ['job.failed'],
      });
      expect(ok.status).toBe(201);
    }
    const over = await call('POST', '/v1/webhooks', key, {
      url: `${receiver.url}/over`,
      events: ['job.failed'],
    });
    expect(over.status).toBe(409);
  });
});
