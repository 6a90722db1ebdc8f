/**
 * The API as a client meets it: real HTTP into the local gateway (API Gateway emulation) in front of the
 * same handlers the Lambdas run, on Postgres and moto. Exact rate limits with their headers, per key and per
 * IP; size and URL limits on both sides of the gateway; keys as API Gateway checks them; and the OpenAPI
 * document against the routes actually served.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '#functions/api/openapi';
import { ROUTES } from '#functions/api/routes';
import { startGateway } from '#local/gateway';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { PAYLOAD_LIMITS, RATE_LIMITS } from '#policy';
import { expectDocumented } from '#test/api';
import { motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';

let t: TestDatabase;
let system: LocalSystem;
const BURST_KEY = 'ffclient_burst_key_for_the_150_test';
const OTHER_KEY = 'ffclient_other_key_unaffected';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One HTTP request with node:http (so the source address and a raw body can be chosen). */
function send(
  path: string,
  options: {
    method?: string;
    key?: string;
    body?: string | Buffer;
    from?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<Answer> {
  const url = new URL(path, system.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method: options.method ?? 'GET',
        localAddress: options.from ?? '127.0.0.1',
        headers: {
          ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(options.key ? { 'x-api-key': options.key } : {}),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const json = (a: Answer) => JSON.parse(a.text);

beforeAll(async () => {
  t = await testDatabase('api_http', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('apihttp')}-`,
    workers: false,
    extraClientKeys: { [BURST_KEY]: 'client-burst', [OTHER_KEY]: 'client-other' },
  });
});
afterAll(async () => {
  await system?.stop();
  await t?.close();
});

describe('exact rate limits over HTTP', () => {
  it('lets exactly 100 of 150 requests in a minute through, refuses 50 with headers, other keys unaffected', async () => {
    const answers: Answer[] = [];
    for (let i = 0; i < 150; i += 10) {
      answers.push(
        ...(await Promise.all(
          Array.from({ length: 10 }, () => send('/v1/jobs?limit=1', { key: BURST_KEY })),
        )),
      );
    }
    const ok = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 429);
    expect(ok).toHaveLength(RATE_LIMITS.client.perMinute);
    expect(refused).toHaveLength(50);
    expect(ok.map((a) => Number(a.headers['ratelimit-remaining'])).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 100 }, (_, i) => i),
    );
    for (const a of answers) {
      expect(a.headers['ratelimit-limit']).toBe('100');
      expect(a.headers['ratelimit-policy']).toBe('100;w=60, 1000;w=3600');
      expect(Number(a.headers['ratelimit-reset'])).toBeGreaterThanOrEqual(1);
    }
    for (const a of refused) {
      expect(a.headers['ratelimit-remaining']).toBe('0');
      const retry = Number(a.headers['retry-after']);
      expect(retry).toBeGreaterThanOrEqual(1);
      expect(retry).toBeLessThanOrEqual(60);
      expect(json(a).error.code).toBe('rate_limited');
    }
    // Refused requests consumed nothing: the key's log holds exactly the 100 it was allowed.
    const { rows } = await system.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM rate_limit_hits WHERE subject = 'key:client-burst'`,
    );
    expect(rows[0]?.n).toBe(100);
    const other = await send('/v1/jobs?limit=1', { key: OTHER_KEY });
    expect(other.status).toBe(200);
    expect(other.headers['ratelimit-remaining']).toBe('99');
  });

  it('limits GET /health per client IP without a key; another IP is unaffected', async () => {
    const from = '127.0.0.2';
    const answers = await Promise.all(Array.from({ length: 150 }, () => send('/health', { from })));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(RATE_LIMITS.anonymousPerIp.perMinute);
    const refused = answers.filter((a) => a.status === 429);
    expect(refused).toHaveLength(50);
    expect(refused[0]?.headers['retry-after']).toBeDefined();
    const elsewhere = await send('/health', { from: '127.0.0.3' });
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.headers['cache-control']).toBe('no-store');
    expect(json(elsewhere)).toEqual({ status: 'ok' });
  });
});

describe('size and URL limits', () => {
  const padded = (bytes: number) => {
    const head = '{"name":"';
    const tail = '","email":"big@body.test"}';
    return head + 'x'.repeat(bytes - head.length - tail.length) + tail;
  };

  it('accepts a body of exactly the configured limit and refuses one byte more (413, before parsing)', async () => {
    const limit = PAYLOAD_LIMITS.jsonBodyBytes;
    const atLimit = await send('/v1/customers', { method: 'POST', key: OTHER_KEY, body: padded(limit) });
    expect(atLimit.status).toBe(400); // parsed and validated: the name is too long, not the body
    expect(json(atLimit).error.details).toEqual([
      { field: 'name', message: 'must be at most 200 characters' },
    ]);
    const over = await send('/v1/customers', { method: 'POST', key: OTHER_KEY, body: padded(limit + 1) });
    expect(over.status).toBe(413);
    expect(json(over).error).toEqual({
      code: 'payload_too_large',
      message: `request body is larger than the ${limit}-byte limit`,
    });
    // Not even valid JSON: still 413, since the size is checked before anything is parsed.
    const junk = await send('/v1/customers', {
      method: 'POST',
      key: OTHER_KEY,
      body: `{${'x'.repeat(limit)}`,
    });
    expect(junk.status).toBe(413);
  });

  it('refuses 5 MB as the configured limit says (413 from the API) and 15 MB at the gateway ceiling', async () => {
    const five = await send('/v1/customers', {
      method: 'POST',
      key: OTHER_KEY,
      body: padded(5 * 1024 * 1024),
    });
    expect(five.status).toBe(413);
    expect(json(five).error.code).toBe('payload_too_large');
    const fifteen = await send('/v1/customers', {
      method: 'POST',
      key: OTHER_KEY,
      body: Buffer.alloc(15 * 1024 * 1024, 0x20),
    });
    expect(fifteen.status).toBe(413);
    expect(json(fifteen)).toEqual({ message: 'Request Too Long' });
  });

  it('refuses a URL over 2,048 characters with 414', async () => {
    const base = '/v1/jobs?cursor=';
    const at = await send(base + 'a'.repeat(PAYLOAD_LIMITS.maxUrlLength - base.length), { key: OTHER_KEY });
    expect(at.status).toBe(400); // within the limit: the (bogus) cursor is what is wrong
    const over = await send(base + 'a'.repeat(PAYLOAD_LIMITS.maxUrlLength - base.length + 1), {
      key: OTHER_KEY,
    });
    expect(over.status).toBe(414);
    expect(json(over).error.code).toBe('uri_too_long');
  });
});

describe('keys as API Gateway checks them', () => {
  it('answers 403 {"message":"Forbidden"} for no key or an unknown key, and 403 for a client key on admin routes', async () => {
    for (const key of [undefined, 'not-a-key']) {
      const res = await send('/v1/jobs', { key });
      expect(res.status).toBe(403);
      expect(json(res)).toEqual({ message: 'Forbidden' });
    }
    const admin = await send('/v1/dlq', { key: OTHER_KEY });
    expect(admin.status).toBe(403);
    expect(json(admin).error.message).toBe('this route needs an admin API key');
    expect((await send('/v1/directories/x', { method: 'PUT', key: OTHER_KEY, body: '{}' })).status).toBe(403);
  });

  it('throttles a key with its usage plan token bucket before the handler runs', async () => {
    let clock = 0;
    let calls = 0;
    const handler = async () => {
      calls += 1;
      return { statusCode: 200, body: '{}' };
    };
    const gateway = await startGateway({
      port: 0,
      apiKeys: new Map([['k', 'key-1']]),
      throttle: () => ({ rateLimitPerSecond: 1, burstLimit: 3 }),
      now: () => clock,
      handlers: Object.fromEntries(ROUTES.map((r) => [r.fn, handler])) as never,
    });
    try {
      const hit = () => fetch(`${gateway.url}/v1/jobs`, { headers: { 'x-api-key': 'k' } });
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await hit()).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const throttled = await hit();
      expect(await throttled.json()).toEqual({ message: 'Too Many Requests' });
      clock += 1_000;
      expect((await hit()).status).toBe(200);
      expect(calls).toBe(4);
    } finally {
      await gateway.stop();
    }
  });
});

describe('OpenAPI document', () => {
  const doc = buildOpenApiDocument();

  it('is a valid OpenAPI 3.1 document, and docs/openapi.json is exactly it', async () => {
    const result = await new Validator().validate(doc as never);
    expect(result).toEqual({ valid: true });
    const file = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8'));
    expect(file, 'docs/openapi.json is stale: run npm run openapi').toEqual(JSON.parse(JSON.stringify(doc)));
  });

  it('documents every served route and serves every documented one', async () => {
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(documented.sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    for (const route of ROUTES) {
      const path = route.path.replace(
        '{id}',
        route.path.includes('directories') ? 'simple-form' : '00000000-0000-0000-0000-000000000000',
      );
      const res = await send(path, {
        method: route.method,
        key: system.keys.admin,
        ...(['POST', 'PUT', 'PATCH'].includes(route.method) ? { body: '{}' } : {}),
      });
      expect(
        [404, 405].includes(res.status) && /no such route|not allowed/.test(res.text),
        `${route.method} ${path}`,
      ).toBe(false);
      expectDocumented(route.method, path, res.status, res.text ? JSON.parse(res.text) : undefined);
    }
    const unknown = await send('/v1/unknown', { key: system.keys.admin });
    expect(unknown.status).toBe(404);
    const wrong = await send('/v1/jobs', { method: 'DELETE', key: system.keys.admin });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('POST, GET');
  });
});
