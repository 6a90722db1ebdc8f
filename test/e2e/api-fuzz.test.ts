/**
 * Property-based fuzzing (fast-check) of the API over real HTTP: random methods, paths, query strings,
 * headers and bodies, from pure noise to near-valid requests for every route, sent to the local gateway in
 * front of the real handlers on Postgres and moto. Whatever arrives, the answer is never a 5xx, and an error
 * body never carries a stack trace. Bounded and repeatable: a fixed number of runs from a fixed seed per
 * property (a failure prints its seed and the shrunk counterexample), loopback only.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCustomersApi } from '#functions/api/customers';
import {
  customersApiDepsFromEnv,
  directoriesApiDepsFromEnv,
  dlqApiDepsFromEnv,
  healthApiDepsFromEnv,
  jobsApiDepsFromEnv,
  keysApiDepsFromEnv,
  probesApiDepsFromEnv,
  submissionsApiDepsFromEnv,
  webhooksApiDepsFromEnv,
} from '#functions/api/deps';
import { makeDirectoriesApi } from '#functions/api/directories';
import { makeDlqApi } from '#functions/api/dlq';
import { makeHealthApi } from '#functions/api/health';
import { makeJobsApi } from '#functions/api/jobs';
import { makeKeysApi } from '#functions/api/keys';
import { makeProbesApi } from '#functions/api/probes';
import { ROUTES } from '#functions/api/routes';
import { makeSubmissionsApi } from '#functions/api/submissions';
import { makeWebhooksApi } from '#functions/api/webhooks';
import type { DlqService } from '#functions/recovery/dlq';
import { LocalKeyTable } from '#local/api-keys';
import { type Gateway, startGateway } from '#local/gateway';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';

let t: TestDatabase;
let system: LocalSystem;
let gateway: Gateway;
let customerId: string;

const dlq: DlqService = {
  inspect: async () => [],
  redrive: async () => ({ moved: 0, skipped: 0, byClass: {}, byTier: {} }),
};

beforeAll(async () => {
  t = await testDatabase('api_fuzz', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('fuzz')}-`,
    workers: false,
    // The fuzzer sends far more than a client may per minute; the limits themselves are tested elsewhere.
    env: {
      RATE_LIMIT_CLIENT_PER_MINUTE: '1000000',
      RATE_LIMIT_CLIENT_PER_HOUR: '1000000',
      RATE_LIMIT_ADMIN_PER_MINUTE: '1000000',
      RATE_LIMIT_ADMIN_PER_HOUR: '1000000',
      RATE_LIMIT_ANONYMOUS_PER_MINUTE: '1000000',
    },
  });
  const env = system.env;
  const db = system.db;
  gateway = await startGateway({
    port: 0,
    apiKeys: system.apiKeys,
    handlers: {
      jobs: makeJobsApi(await jobsApiDepsFromEnv(env, db)),
      customers: makeCustomersApi(await customersApiDepsFromEnv(env, db)),
      health: makeHealthApi(await healthApiDepsFromEnv(env, db)),
      directories: makeDirectoriesApi(await directoriesApiDepsFromEnv(env, db)),
      probes: makeProbesApi(await probesApiDepsFromEnv(env, db, { browser: system.worker.browser })),
      submissions: makeSubmissionsApi(await submissionsApiDepsFromEnv(env, db)),
      dlq: makeDlqApi(await dlqApiDepsFromEnv(env, db, () => dlq)),
      // A key table of its own: fuzzed POST /v1/keys never reaches the system's.
      keys: makeKeysApi(await keysApiDepsFromEnv(env, db, await LocalKeyTable.open({ builtIn: new Map() }))),
      webhooks: makeWebhooksApi(await webhooksApiDepsFromEnv(env, db)),
    },
  });
  const res = await fetch(`${gateway.url}/v1/customers`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': system.keys.client },
    body: JSON.stringify({ name: 'Fuzz Co', email: 'fuzz@co.test' }),
  });
  customerId = ((await res.json()) as { id: string }).id;
});
afterAll(async () => {
  await gateway?.stop();
  await system?.stop();
  await t?.close();
});

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
const FIELDS = [
  'name',
  'email',
  'customerId',
  'directoryIds',
  'package',
  'priority',
  'definition',
  'steps',
  'status',
  'cursor',
  'limit',
  'tier',
  'active',
  'category',
  'errorClasses',
  'tiers',
  'jobId',
  'maxPerTier',
  '__proto__',
  'constructor',
];

/** A path segment: ids that exist, ids that could, and junk (percent signs, dots, unicode, huge). */
const segment = fc.oneof(
  fc.constantFrom('00000000-0000-0000-0000-000000000000', 'simple-form', '..', '%', '%zz', '%00', '{id}', ''),
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
  fc.string({ unit: 'grapheme', maxLength: 10 }).map(encodeURIComponent),
  fc.constant('x'.repeat(3000)),
);

const path = fc.oneof(
  fc
    .constantFrom(...ROUTES)
    .chain((r) => fc.tuple(fc.constant(r.path), segment).map(([p, id]) => p.replace('{id}', id))),
  fc.constantFrom(...ROUTES).map((r) => r.path.replace('{id}', 'CUSTOMER')),
  fc.array(segment, { maxLength: 5 }).map((parts) => `/${parts.join('/')}`),
);

const jsonValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    'CUSTOMER',
    'all',
    'starter',
    'timeout',
    'P1',
    'simple-form',
    "' OR 1=1 --",
    1,
    2,
    3,
    -1,
    1e308,
  ),
  fc.array(fc.constantFrom('simple-form', 'P2', 'timeout', "x'); DROP TABLE jobs;--"), { maxLength: 3 }),
);

const body = fc.oneof(
  fc.constant(undefined),
  fc.string({ maxLength: 200 }),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.dictionary(fc.constantFrom(...FIELDS), jsonValue, { maxKeys: 6 }).map((v) => JSON.stringify(v)),
  fc.constantFrom('{"a":', '[', 'null', '"x"', '{"definition":{"steps":[{"action":"fill"}]}}', '\u0000'),
);

const query = fc.dictionary(
  fc.oneof(fc.constantFrom(...FIELDS), fc.string({ maxLength: 8 })),
  fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.constantFrom('CUSTOMER', 'true', '0', '-1', '201', 'eyJ4Ijox', '1e3'),
  ),
  { maxKeys: 4 },
);

const headerValue = fc.string({ maxLength: 40 }).filter((v) => /^[\x20-\x7e]*$/.test(v));
const headers = fc.record(
  {
    key: fc.constantFrom('admin', 'client', 'unknown', 'none'),
    contentType: fc.oneof(
      fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'text/plain',
        'application/problem+json',
      ),
      headerValue,
    ),
    extra: fc.dictionary(
      fc.constantFrom('x-forwarded-for', 'accept', 'x-amzn-trace-id', 'user-agent', 'x-api-key2'),
      headerValue,
      {
        maxKeys: 3,
      },
    ),
  },
  { requiredKeys: ['key'] },
);

interface FuzzHeaders {
  key: string;
  contentType?: string;
  extra?: Record<string, string>;
}

async function fire(method: string, p: string, q: Record<string, string>, h: FuzzHeaders, b?: string) {
  const search = new URLSearchParams(
    Object.entries(q).map(([k, v]) => [k, v.replace('CUSTOMER', customerId)]),
  ).toString();
  const key =
    h.key === 'admin'
      ? system.keys.admin
      : h.key === 'client'
        ? system.keys.client
        : h.key === 'unknown'
          ? 'nope'
          : undefined;
  const init: RequestInit = {
    method,
    headers: {
      ...(h.extra ?? {}),
      ...(h.contentType ? { 'content-type': h.contentType } : {}),
      ...(key ? { 'x-api-key': key } : {}),
    },
    ...(b !== undefined && method !== 'GET' ? { body: b.replaceAll('CUSTOMER', customerId) } : {}),
  };
  const res = await fetch(
    `${gateway.url}${p.replace('CUSTOMER', customerId)}${search ? `?${search}` : ''}`,
    init,
  );
  const text = await res.text();
  return { status: res.status, text };
}

describe('fuzzing the API over HTTP', () => {
  it('never answers 5xx, nor leaks a stack trace, for any method, path, query, headers and body', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...METHODS),
        path,
        query,
        headers,
        body,
        async (method, p, q, h, b) => {
          const { status, text } = await fire(method, p, q, h, b);
          expect(status, `${method} ${p} -> ${status} ${text.slice(0, 200)}`).toBeLessThan(500);
          expect(text).not.toMatch(/\bat .+\.(ts|js|mjs):\d+/);
        },
      ),
      { numRuns: 400, seed: 5_400_001 },
    );
  }, 120_000);

  it('never answers 5xx to near-valid requests for every route with an admin key', async () => {
    const route = fc.constantFrom(...ROUTES);
    await fc.assert(
      fc.asyncProperty(
        route,
        fc.dictionary(fc.constantFrom(...FIELDS), jsonValue, { maxKeys: 5 }),
        query,
        async (r, fields, q) => {
          const p = r.path.replace('{id}', r.path.startsWith('/v1/directories') ? 'simple-form' : 'CUSTOMER');
          const b = JSON.stringify({ customerId: 'CUSTOMER', ...fields });
          const { status, text } = await fire(
            r.method,
            p,
            q,
            { key: 'admin', contentType: 'application/json' },
            b,
          );
          expect(status, `${r.method} ${p} -> ${status} ${text.slice(0, 200)}`).toBeLessThan(500);
        },
      ),
      { numRuns: 300, seed: 5_400_002 },
    );
  }, 120_000);
});
