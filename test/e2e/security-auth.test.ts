/**
 * The auth matrix over real HTTP, for every route the API serves: without a key, with an unknown key, and
 * with the key in the query string instead of the header, every keyed route is refused before any handler
 * runs (API Gateway's 403); a client key on an admin route is refused by the handler (403 forbidden); and
 * the same requests with the right key are not refused. Refusals say nothing about what exists.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES, type RouteSpec } from '#functions/api/routes';
import { simpleForm } from '#local/fixtures/variants';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';

let t: TestDatabase;
let system: LocalSystem;
let customerId: string;
let jobId: string;

beforeAll(async () => {
  t = await testDatabase('security_auth', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('auth')}-`,
    fixtures: [simpleForm],
    workers: false,
    schedules: { timers: false },
  });
  const customer = await send(
    { method: 'POST', path: '/v1/customers', fn: 'customers', auth: 'client' },
    system.keys.client,
    {
      name: 'Matrix Metals',
      email: 'owner@matrix.test',
    },
  );
  customerId = customer.body.id as string;
  const job = await send(
    { method: 'POST', path: '/v1/jobs', fn: 'jobs', auth: 'client' },
    system.keys.client,
    {
      customerId,
      directoryIds: ['simple-form'],
    },
  );
  jobId = job.body.id as string;
});
afterAll(async () => {
  await system?.stop();
  await t?.close();
});

/** A concrete path for a route: its ids filled with ones that exist. */
function pathOf(route: Pick<RouteSpec, 'path'>): string {
  return route.path
    .replace('/v1/customers/{id}', `/v1/customers/${customerId}`)
    .replace('/v1/jobs/{id}', `/v1/jobs/${jobId}`)
    .replace('/v1/directories/{id}', '/v1/directories/simple-form');
}

/** A body the route accepts (where it takes one), so only the key decides the answer. */
function bodyOf(route: Pick<RouteSpec, 'method' | 'path'>): unknown {
  const key = `${route.method} ${route.path}`;
  const bodies: Record<string, unknown> = {
    'POST /v1/customers': { name: 'Another Co', email: 'another@matrix.test' },
    'PATCH /v1/customers/{id}': { city: 'Springfield' },
    'POST /v1/jobs': { customerId, directoryIds: ['simple-form'] },
    'PUT /v1/directories/{id}': {
      name: 'Simple Form Directory',
      site: system.fixtures.site('simple-form').origin,
      category: 'general',
      tier: 1,
      domainAuthority: 50,
      definition: system.fixtures.directories()[0]?.definition,
    },
    'POST /v1/dlq/redrive': { tiers: ['P1'], limit: 1 },
  };
  return bodies[key];
}

async function send(
  route: Pick<RouteSpec, 'method' | 'path' | 'fn' | 'auth'>,
  key: string | null,
  body: unknown = bodyOf(route),
  query = '',
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${system.url}${pathOf(route)}${query}`, {
    method: route.method,
    headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

const keyed = ROUTES.filter((r) => r.auth !== 'none');
const adminOnly = ROUTES.filter((r) => r.auth === 'admin');
const label = (r: RouteSpec) => `${r.method} ${r.path}`;

describe('the auth matrix', () => {
  it('covers every route the API serves', () => {
    expect(keyed.length + ROUTES.filter((r) => r.auth === 'none').length).toBe(ROUTES.length);
    expect(adminOnly.map(label)).toEqual(
      expect.arrayContaining(['PUT /v1/directories/{id}', 'DELETE /v1/directories/{id}', 'GET /v1/dlq']),
    );
  });

  it('refuses every keyed route without a key, with an unknown key, and with the key in the query', async () => {
    const answers: Record<string, number[]> = {};
    for (const route of keyed) {
      answers[label(route)] = [
        (await send(route, null)).status,
        (await send(route, 'ffclient_not_a_key_anyone_was_given')).status,
        (
          await send(
            route,
            null,
            bodyOf(route),
            `?x-api-key=${system.keys.admin}&api_key=${system.keys.admin}`,
          )
        ).status,
      ];
    }
    expect(answers).toEqual(Object.fromEntries(keyed.map((r) => [label(r), [403, 403, 403]])));
    // API Gateway's own refusal: no hint of whether the route or the record exists.
    expect((await send(keyed[0] as RouteSpec, null)).body).toEqual({ message: 'Forbidden' });
  });

  it('refuses a client key on every admin route, and lets the admin key through', async () => {
    const asClient: Record<string, number> = {};
    const asAdmin: Record<string, number> = {};
    for (const route of adminOnly) {
      const refused = await send(route, system.keys.client);
      asClient[label(route)] = refused.status;
      expect(refused.body).toMatchObject({ error: { code: 'forbidden' } });
      asAdmin[label(route)] = (await send(route, system.keys.admin)).status;
    }
    expect(asClient).toEqual(Object.fromEntries(adminOnly.map((r) => [label(r), 403])));
    for (const [route, status] of Object.entries(asAdmin)) {
      expect({ route, refused: status === 401 || status === 403 }).toEqual({ route, refused: false });
    }
  });

  it('serves the unauthenticated routes without a key', async () => {
    for (const route of ROUTES.filter((r) => r.auth === 'none')) {
      expect((await send(route, null)).status, label(route)).toBe(200);
    }
  });
});
