/**
 * The guards every handler shares, at the handler (as in AWS, behind API Gateway): the configured body limit
 * to the byte, the URL limit, the key check, and the rate limiter's headers on every answer it decided, its
 * 429, and its fail-open when its database is unreachable. Real Postgres for the limiter.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { apiLimitsFromEnv } from '#functions/api/api-config';
import { makeCustomersApi } from '#functions/api/customers';
import type { RateLimiter } from '#functions/api/rate-limiter';
import { PgCustomerStore } from '#shared/customer-store';
import { createLogger } from '#shared/telemetry';
import { baseDeps, call, ROOMY_LIMITS } from '#test/api';
import { apiEvent, lambdaContext } from '#test/events';
import { mediaDepsOn } from '#test/records';
import { type TestDatabase, testDatabase } from '#test/services';

let t: TestDatabase;
beforeAll(async () => {
  t = await testDatabase('api_guards');
});
afterAll(async () => t?.close());

const customersApi = (limits = ROOMY_LIMITS, rateLimiter?: RateLimiter) =>
  makeCustomersApi({
    ...baseDeps(t.db, limits),
    ...(rateLimiter ? { rateLimiter } : {}),
    customers: new PgCustomerStore(t.db),
    ...mediaDepsOn(t.db),
  });

/** A JSON body of exactly `bytes` bytes whose description is too long to store (so it is parsed, then 400). */
const bodyOf = (bytes: number) => {
  const head = '{"name":"Big","email":"big@body.test","description":"';
  return `${head}${'x'.repeat(bytes - head.length - 2)}"}`;
};

describe('body limit', () => {
  it('follows the configured limit to the byte, up to the Lambda-safe ceiling', async () => {
    const limits = {
      ...ROOMY_LIMITS,
      maxBodyBytes: apiLimitsFromEnv({ MAX_JSON_BODY_BYTES: '4500000' }).maxBodyBytes,
    };
    const api = customersApi(limits);
    // 4 MB: under this configuration it is read and validated (400 for the description, not 413).
    const four = await call(api, 'POST', '/v1/customers', { rawBody: bodyOf(4 * 1024 * 1024) });
    expect(four.status).toBe(400);
    expect(four.body.error.details).toEqual([
      { field: 'description', message: 'must be at most 5000 characters' },
    ]);
    expect((await call(api, 'POST', '/v1/customers', { rawBody: bodyOf(4_500_000) })).status).toBe(400);
    expect((await call(api, 'POST', '/v1/customers', { rawBody: bodyOf(4_500_001) })).status).toBe(413);
    // 5 MB is past the ceiling any configuration may reach.
    expect((await call(api, 'POST', '/v1/customers', { rawBody: bodyOf(5 * 1024 * 1024) })).status).toBe(413);
    // Under the default (1 MB) the 4 MB body is refused unparsed.
    expect(
      (await call(customersApi(), 'POST', '/v1/customers', { rawBody: bodyOf(4 * 1024 * 1024) })).status,
    ).toBe(413);
  });

  it('measures base64 bodies by their decoded size', async () => {
    const api = customersApi({ ...ROOMY_LIMITS, maxBodyBytes: 100 });
    const event = { rawBody: Buffer.from(bodyOf(101)).toString('base64') };
    const res = await api(
      { ...apiEvent('POST', '/v1/customers', event), isBase64Encoded: true },
      lambdaContext(),
    );
    expect(res.statusCode).toBe(413);
  });
});

describe('key and URL guards', () => {
  it('answers a keyed route without a validated key exactly as API Gateway would, and a long URL 414', async () => {
    const res = await call(customersApi(), 'GET', '/v1/customers/x', { apiKeyId: null });
    expect(res).toMatchObject({ status: 403, body: { message: 'Forbidden' } });
    expect(res.headers['x-amzn-errortype']).toBe('ForbiddenException');
    const long = await call(customersApi(), 'GET', `/v1/customers/${'a'.repeat(2100)}`);
    expect(long.status).toBe(414);
  });
});

describe('rate limiting in the handler', () => {
  it('puts RateLimit headers on errors too, refuses with 429 and Retry-After, and keys do not share', async () => {
    const limits = {
      ...ROOMY_LIMITS,
      rates: { ...ROOMY_LIMITS.rates, client: { perMinute: 2, perHour: 5, burst: 4 } },
    };
    const api = customersApi(limits);
    const first = await call(api, 'GET', '/v1/customers/missing', { apiKeyId: 'guard-a' });
    expect(first.status).toBe(404);
    expect(first.headers).toMatchObject({
      'ratelimit-limit': '2',
      'ratelimit-remaining': '1',
      'ratelimit-reset': '60',
      'ratelimit-policy': '2;w=60, 5;w=3600',
    });
    await call(api, 'GET', '/v1/customers/missing', { apiKeyId: 'guard-a' });
    const refused = await call(api, 'GET', '/v1/customers/missing', { apiKeyId: 'guard-a' });
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    expect(refused.body.error.message).toMatch(/at most 2 requests in any 60 s; retry after \d+ s/);
    expect((await call(api, 'GET', '/v1/customers/missing', { apiKeyId: 'guard-b' })).status).toBe(404);
  });

  it('lets requests through (fail open) when the limiter cannot answer', async () => {
    const broken: RateLimiter = {
      take: async () => {
        throw new Error('connection refused');
      },
    };
    const res = await call(customersApi(ROOMY_LIMITS, broken), 'POST', '/v1/customers', {
      body: { name: 'Open', email: 'open@fail.test' },
    });
    expect(res.status).toBe(201);
    expect(res.headers['ratelimit-limit']).toBeUndefined();
  });
});

describe('telemetry', () => {
  it('logs a failure with the API Gateway request id as correlation id, and tells the caller only a request id', async () => {
    const logger = createLogger('api-test');
    logger.setLogLevel('ERROR');
    const lines: string[] = [];
    const capture = (chunk: unknown) => {
      lines.push(String(chunk));
      return true;
    };
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    try {
      const api = makeCustomersApi({
        ...baseDeps(t.db),
        logger,
        customers: {
          get: async () => {
            throw new Error('relation "customers" does not exist at /var/task/index.mjs:10:5');
          },
        } as never,
        ...mediaDepsOn(t.db),
      });
      const event = apiEvent('GET', '/v1/customers/00000000-0000-0000-0000-000000000000');
      const context = lambdaContext();
      const res = await api(event, context);
      expect(res.statusCode).toBe(500);
      expect(JSON.parse(res.body)).toEqual({
        error: { code: 'internal', message: 'internal error', requestId: context.awsRequestId },
      });
      const logged = lines.map((l) => JSON.parse(l)).find((l) => l.message === 'unhandled error');
      expect(logged).toMatchObject({
        level: 'ERROR',
        correlation_id: event.requestContext.requestId,
        function_request_id: context.awsRequestId,
        component: 'api-test',
        error: { name: 'Error', message: expect.stringContaining('does not exist') },
      });
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  });
});
