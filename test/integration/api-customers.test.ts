/** The customers routes called as Lambda calls them, on a real Postgres; every answer held to its contract. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCustomersApi } from '#functions/api/customers';
import type { ApiHandler } from '#functions/api/router';
import { PROFILE_LIMITS } from '#functions/api/schemas';
import { PgCustomerStore, PROFILE_FIELDS } from '#shared/customer-store';
import { ADMIN_KEY_ID, baseDeps, call, INJECTIONS } from '#test/api';
import { mediaDepsOn } from '#test/records';
import { type TestDatabase, testDatabase } from '#test/services';

let t: TestDatabase;
let api: ApiHandler;

beforeAll(async () => {
  t = await testDatabase('api_customers');
  api = makeCustomersApi({
    ...baseDeps(t.db),
    customers: new PgCustomerStore(t.db),
    ...mediaDepsOn(t.db),
  });
});
afterAll(async () => t?.close());

async function create(
  apiKeyId = 'client-a',
  body: Record<string, unknown> = { name: 'Acme', email: 'a@acme.test' },
) {
  const res = await call(api, 'POST', '/v1/customers', { apiKeyId, body });
  expect(res.status).toBe(201);
  return res.body as { id: string } & Record<string, unknown>;
}

describe('customers API', () => {
  it('stores SQL-injection strings in every profile field and returns them literally', async () => {
    for (const [i, attack] of INJECTIONS.entries()) {
      const body = Object.fromEntries(
        PROFILE_FIELDS.map((f) => [
          f,
          // A category must name one of the taxonomy's (test/integration/api-categories.test.ts).
          f === 'email'
            ? `x${i}@sql.test`
            : f === 'category'
              ? 'plumbing'
              : attack.slice(0, PROFILE_LIMITS[f]).trim(),
        ]),
      );
      const created = await create('client-a', body);
      const read = await call(api, 'GET', `/v1/customers/${created.id}`, { apiKeyId: 'client-a' });
      for (const field of PROFILE_FIELDS) expect(read.body[field]).toBe(body[field]);
      const patched = await call(api, 'PATCH', `/v1/customers/${created.id}`, {
        apiKeyId: 'client-a',
        body: { description: `${attack} (patched)` },
      });
      expect(patched.body.description).toBe(`${attack} (patched)`);
    }
    const { rows } = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM customers');
    expect(rows[0]?.n).toBe(INJECTIONS.length);
  });

  it('shows a customer only to the key that created it and to admins', async () => {
    const customer = await create('client-a');
    expect((await call(api, 'GET', `/v1/customers/${customer.id}`, { apiKeyId: 'client-a' })).status).toBe(
      200,
    );
    expect((await call(api, 'GET', `/v1/customers/${customer.id}`, { apiKeyId: 'client-b' })).status).toBe(
      404,
    );
    expect((await call(api, 'GET', `/v1/customers/${customer.id}`, { apiKeyId: ADMIN_KEY_ID })).status).toBe(
      200,
    );
    const other = await call(api, 'PATCH', `/v1/customers/${customer.id}`, {
      apiKeyId: 'client-b',
      body: { name: 'Hijack' },
    });
    expect(other.status).toBe(404);
    expect((await call(api, 'GET', '/v1/customers/not-a-uuid')).status).toBe(404);
    expect((await call(api, 'GET', '/v1/customers/00000000-0000-0000-0000-000000000000')).status).toBe(404);
  });

  it('patches only the given fields, clears optional ones with null, and refuses clearing required ones', async () => {
    const customer = await create('client-a', {
      name: 'Acme',
      email: 'a@acme.test',
      phone: '555',
      city: 'X',
    });
    const res = await call(api, 'PATCH', `/v1/customers/${customer.id}`, {
      apiKeyId: 'client-a',
      body: { phone: null, name: '  Acme Two  ' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'Acme Two', phone: null, city: 'X', email: 'a@acme.test' });
    const empty = await call(api, 'PATCH', `/v1/customers/${customer.id}`, {
      apiKeyId: 'client-a',
      body: {},
    });
    expect(empty.body.error.details).toEqual([{ field: 'body', message: 'must change at least one field' }]);
    const clear = await call(api, 'PATCH', `/v1/customers/${customer.id}`, {
      apiKeyId: 'client-a',
      body: { name: null, email: '   ' },
    });
    expect(clear.status).toBe(400);
    expect(clear.body.error.details).toEqual([
      { field: 'name', message: 'must be a string' },
      { field: 'email', message: 'must be an email address' },
    ]);
  });

  it('refuses a bad profile with one message per field', async () => {
    const res = await call(api, 'POST', '/v1/customers', {
      body: { email: 'nope', phone: 5, zip: 'x'.repeat(30), color: 'red', name: '   ' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe('invalid request body');
    expect(res.body.error.details).toEqual(
      expect.arrayContaining([
        { field: 'name', message: 'must not be blank' },
        { field: 'email', message: 'must be an email address' },
        { field: 'phone', message: 'must be a string or null' },
        { field: 'zip', message: 'must be at most 20 characters' },
        { field: 'color', message: 'is not a known field' },
      ]),
    );
    const missing = await call(api, 'POST', '/v1/customers', { body: {} });
    expect(missing.body.error.details).toEqual([
      { field: 'name', message: 'is required' },
      { field: 'email', message: 'is required' },
    ]);
  });

  it('answers malformed JSON 400, a non-JSON body 415, a wrong method 405 with Allow, no key 403', async () => {
    const malformed = await call(api, 'POST', '/v1/customers', { rawBody: '{"name":' });
    expect(malformed.body.error).toEqual({ code: 'bad_request', message: 'request body is not valid JSON' });
    expect((await call(api, 'POST', '/v1/customers', { rawBody: '[1]' })).body.error.details).toEqual([
      { field: 'body', message: 'must be an object' },
    ]);
    expect((await call(api, 'POST', '/v1/customers')).status).toBe(400);
    const text = await call(api, 'POST', '/v1/customers', {
      rawBody: 'name=Acme',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(text.status).toBe(415);
    const wrong = await call(api, 'DELETE', '/v1/customers');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('POST');
    const anonymous = await call(api, 'POST', '/v1/customers', { apiKeyId: null, body: {} });
    expect(anonymous).toMatchObject({ status: 403, body: { message: 'Forbidden' } });
    expect((await call(api, 'GET', '/v1/nothing-here')).status).toBe(404);
  });
});
