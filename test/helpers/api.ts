/**
 * Calling API handlers as Lambda would, with every answer held to its documented contract: a status the
 * route's contract (or the common answers) does not list, or a body that does not match the documented
 * schema, fails the test. So every handler test is also an OpenAPI conformance test.
 */
import { expect } from 'vitest';
import type { ApiLimits } from '#functions/api/api-config';
import { DEFAULT_LIMITS } from '#functions/api/api-config';
import { COMMON_RESPONSES, CONTRACTS } from '#functions/api/contracts';
import { PgRateLimiter } from '#functions/api/rate-limiter';
import type { ApiBaseDeps, ApiHandler } from '#functions/api/router';
import { resolveRoute, routeKey } from '#functions/api/routes';
import { fieldErrors, validatorFor } from '#functions/api/validation';
import type { Sql } from '#shared/db';
import { createLogger, createMetrics } from '#shared/telemetry';
import { apiEvent, lambdaContext } from './events.ts';

/** Limits for handler tests: the policy's, with rate limits high enough not to get in the way. */
export const ROOMY_LIMITS: ApiLimits = {
  ...DEFAULT_LIMITS,
  rates: {
    client: { perMinute: 1_000_000, perHour: 10_000_000, burst: 1 },
    admin: { perMinute: 1_000_000, perHour: 10_000_000, burst: 1 },
    anonymous: { perMinute: 1_000_000, perHour: null, burst: 1 },
  },
};

export const ADMIN_KEY_ID = 'admin-1';

export function baseDeps(db: Pick<Sql, 'query'>, limits: ApiLimits = ROOMY_LIMITS): ApiBaseDeps {
  return {
    logger: createLogger('test'),
    metrics: createMetrics('test'),
    adminKeyIds: new Set([ADMIN_KEY_ID]),
    rateLimiter: new PgRateLimiter(db),
    limits,
  };
}

export interface CallResult {
  status: number;
  headers: Record<string, string>;
  // biome-ignore lint/suspicious/noExplicitAny: test bodies are inspected freely.
  body: any;
}

/** Checks an answer against the route's contract: its status is documented and its body matches. */
export function expectDocumented(method: string, path: string, status: number, body: unknown): void {
  const { route, allowed } = resolveRoute(method, path.split('?')[0] as string);
  if (!route) {
    expect([403, 404, 405, 413, 414, 429], `${method} ${path}`).toContain(status);
    if (status === 405) expect(allowed.length).toBeGreaterThan(0);
    return;
  }
  const contract = CONTRACTS[routeKey(route)];
  const documented = contract?.responses[status] ?? COMMON_RESPONSES[status];
  expect(
    documented,
    `${method} ${route.path} answered ${status}, which its contract does not list`,
  ).toBeDefined();
  if (documented?.media) {
    expect(typeof body, `${method} ${route.path} ${status}: a text body`).toBe('string');
    return;
  }
  if (!documented?.schema) {
    expect(body).toBeUndefined();
    return;
  }
  const validate = validatorFor(documented.schema);
  const ok = validate(body);
  expect(
    ok ? [] : fieldErrors(validate.errors ?? [], 'response'),
    `${method} ${route.path} ${status}`,
  ).toEqual([]);
}

export async function call(handler: ApiHandler, ...args: Parameters<typeof apiEvent>): Promise<CallResult> {
  const res = await handler(apiEvent(...args), lambdaContext());
  const type = String(res.headers?.['content-type'] ?? 'application/json');
  const body = res.body ? (type.startsWith('application/json') ? JSON.parse(res.body) : res.body) : undefined;
  expectDocumented(args[0], args[1], res.statusCode, body);
  return { status: res.statusCode, headers: (res.headers ?? {}) as Record<string, string>, body };
}

/** Strings that would break a query built by concatenation; stored and returned literally here. */
export const INJECTIONS = [
  "Robert'); DROP TABLE customers;--",
  "' OR '1'='1",
  '1; DELETE FROM jobs WHERE true; --',
  "x' UNION SELECT owner_key_id FROM customers --",
  '$1 $$ \\x00 %s %d',
  "O'Brien & Sons; DROP TABLE jobs;--",
  '"; TRUNCATE job_events; --',
  "admin'--",
  '%27%20OR%201%3D1',
  "'); SELECT pg_sleep(10); --",
];
