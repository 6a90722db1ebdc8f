/**
 * The webhooks API handler against real Postgres, every answer held to its documented contract (#test/api),
 * with the deployed URL rules: https only, and a name must resolve to public addresses only, checked when
 * the endpoint is created and again by delivery, at the address it connects to, so a name that later
 * resolves to loopback (DNS rebinding) is refused rather than reached.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgAlertOutbox } from '#functions/alerts/alert-outbox';
import type { ApiHandler } from '#functions/api/router';
import { makeWebhooksApi } from '#functions/api/webhooks';
import { DEFAULT_DELIVERY_OPTIONS, makeDeliveryHandler } from '#functions/webhooks/delivery';
import type { UrlPolicy } from '#functions/webhooks/destination';
import { generateLocalKey, LocalSecretSealer, SecretCache } from '#functions/webhooks/secrets';
import { PgWebhookStore } from '#functions/webhooks/store';
import { createLogger, createMetrics } from '#shared/telemetry';
import { ADMIN_KEY_ID, baseDeps, call } from '#test/api';
import { type TestDatabase, testDatabase } from '#test/services';

let t: TestDatabase;
let api: ApiHandler;
let store: PgWebhookStore;
const sealer = new LocalSecretSealer(Buffer.from(generateLocalKey(), 'base64'));
/** What names resolve to, as the test says (a name not listed does not resolve). */
const dns = new Map<string, string[]>([
  ['hooks.example.com', ['93.184.216.34']],
  ['internal.example.com', ['10.0.0.5']],
  ['metadata.example.com', ['93.184.216.34', '169.254.169.254']],
  ['mapped.example.com', ['::ffff:127.0.0.1']],
]);
const deployed: UrlPolicy = {
  allowLoopback: false,
  resolve: async (host) => dns.get(host) ?? [],
};

beforeAll(async () => {
  t = await testDatabase('api_webhooks');
  store = new PgWebhookStore(t.db, new PgAlertOutbox(t.db));
  api = makeWebhooksApi({ ...baseDeps(t.db), store, sealer, urls: deployed });
});
afterAll(async () => t?.close());

const create = (keyId: string, body: unknown) => call(api, 'POST', '/v1/webhooks', { apiKeyId: keyId, body });

describe('the webhooks API, deployed rules', () => {
  it('accepts an https URL whose name resolves to public addresses only', async () => {
    const res = await create('key-a', {
      url: 'https://hooks.example.com/formfleet',
      events: ['job.completed'],
    });
    expect(res.status).toBe(201);
    expect(res.body.secret).toMatch(/^whsec_/);
  });

  it('refuses http, private, link-local and mapped-loopback names, and names that do not resolve (422)', async () => {
    const cases: [string, RegExp][] = [
      ['http://hooks.example.com/x', /must be https/],
      ['https://internal.example.com/x', /10\.0\.0\.5, private/],
      ['https://metadata.example.com/x', /169\.254\.169\.254, link-local/],
      ['https://mapped.example.com/x', /loopback/],
      ['https://127.0.0.1/x', /loopback/],
      ['https://[::1]/x', /loopback/],
      ['https://nowhere.example.com/x', /does not resolve/],
    ];
    for (const [url, reason] of cases) {
      const res = await create('key-a', { url, events: ['job.completed'] });
      expect({ url, status: res.status }).toEqual({ url, status: 422 });
      expect(res.body.error.details[0]).toEqual({ field: 'url', message: expect.stringMatching(reason) });
    }
    // A fragment, credentials or a host that is no ASCII name are the form the schema refuses (400).
    for (const url of [
      'https://hooks.example.com/x#frag',
      'https://u:p@hooks.example.com/x',
      'https://ß.example/x',
    ]) {
      const res = await create('key-a', { url, events: ['job.completed'] });
      expect({ url, status: res.status }).toEqual({ url, status: 400 });
      expect(res.body.error.details[0]).toMatchObject({ field: 'url' });
    }
  });

  it('answers every route as documented, and only to the owner key or an admin', async () => {
    const created = await create('key-b', { url: 'https://hooks.example.com/b', events: ['job.failed'] });
    const id = created.body.id;
    for (const keyId of ['key-b', ADMIN_KEY_ID]) {
      expect((await call(api, 'GET', `/v1/webhooks/${id}`, { apiKeyId: keyId })).status).toBe(200);
    }
    expect((await call(api, 'GET', `/v1/webhooks/${id}`, { apiKeyId: 'key-c' })).status).toBe(404);
    expect((await call(api, 'GET', '/v1/webhooks/not-a-uuid', { apiKeyId: 'key-b' })).status).toBe(404);
    const list = await call(api, 'GET', '/v1/webhooks?limit=1', { apiKeyId: ADMIN_KEY_ID });
    expect(list.body.items).toHaveLength(1);
    expect(list.body.nextCursor).not.toBeNull();
    const next = await call(api, 'GET', `/v1/webhooks?limit=1&cursor=${list.body.nextCursor}`, {
      apiKeyId: ADMIN_KEY_ID,
    });
    expect(next.body.items[0].id).not.toBe(list.body.items[0].id);
    const test = await call(api, 'POST', `/v1/webhooks/${id}/test`, { apiKeyId: 'key-b' });
    expect(test.status).toBe(202);
    const deliveries = await call(api, 'GET', `/v1/webhooks/${id}/deliveries?status=pending`, {
      apiKeyId: 'key-b',
    });
    expect(deliveries.body.items.map((d: { id: string }) => d.id)).toEqual([test.body.id]);
    const replay = await call(api, 'POST', `/v1/webhooks/${id}/deliveries/${test.body.id}/replay`, {
      apiKeyId: 'key-b',
    });
    expect(replay.status).toBe(202);
    expect(
      (await call(api, 'POST', `/v1/webhooks/${id}/deliveries/${randomUUID()}/replay`, { apiKeyId: 'key-b' }))
        .status,
    ).toBe(404);
    expect((await call(api, 'POST', `/v1/webhooks/${id}/enable`, { apiKeyId: 'key-b' })).status).toBe(200);
    expect(
      (
        await call(api, 'POST', '/v1/webhooks', {
          apiKeyId: ADMIN_KEY_ID,
          body: { url: 'https://hooks.example.com/all', events: ['job.failed'], scope: 'all' },
        })
      ).status,
    ).toBe(201);
    expect((await call(api, 'DELETE', `/v1/webhooks/${id}`, { apiKeyId: 'key-b' })).status).toBe(204);
    expect((await call(api, 'DELETE', `/v1/webhooks/${id}`, { apiKeyId: 'key-b' })).status).toBe(404);
  });
});

describe('delivery, deployed rules', () => {
  it('refuses a name that resolves to loopback at delivery time (DNS rebinding), and sends nothing there', async () => {
    // A receiver on loopback, the victim: it must get nothing.
    let reached = 0;
    const victim = createServer((_req, res) => res.end('ok'));
    // Counted per connection: a TLS hello to this plain server would never become a request.
    victim.on('connection', () => {
      reached += 1;
    });
    await new Promise<void>((r) => victim.listen(0, '127.0.0.1', () => r()));
    const port = (victim.address() as { port: number }).port;
    try {
      const created = await create('key-r', {
        url: `https://rebind.example.com:${port}/hook`,
        events: ['job.completed'],
      }).catch(() => undefined);
      // Unknown to the resolver at first: add it as public, create, then point it at loopback.
      expect(created?.status).toBe(422);
      dns.set('rebind.example.com', ['93.184.216.34']);
      const ok = await create('key-r', {
        url: `https://rebind.example.com:${port}/hook`,
        events: ['job.completed'],
      });
      expect(ok.status).toBe(201);
      dns.set('rebind.example.com', ['127.0.0.1']);
      const test = await call(api, 'POST', `/v1/webhooks/${ok.body.id}/test`, { apiKeyId: 'key-r' });

      const logger = createLogger('test');
      const delivery = makeDeliveryHandler({
        store,
        secrets: new SecretCache(sealer),
        urls: deployed,
        logger,
        metrics: createMetrics('test', logger),
        options: DEFAULT_DELIVERY_OPTIONS,
      });
      const report = await delivery.drain({
        endpointId: ok.body.id,
        slot: 0,
        sentAt: new Date().toISOString(),
      });
      expect(report).toMatchObject({ delivered: 0, failed: 1, stopped: 'a failure' });
      expect(reached).toBe(0);
      const [d] = (await store.listDeliveries({ endpointId: ok.body.id, limit: 5 })).items;
      expect(d?.id).toBe(test.body.id);
      expect(d?.attemptLog).toEqual([
        expect.objectContaining({
          number: 1,
          statusCode: null,
          error: 'refused: not a public address (resolves to 127.0.0.1, loopback)',
        }),
      ]);
    } finally {
      await new Promise<void>((r) => victim.close(() => r()));
    }
  });
});
