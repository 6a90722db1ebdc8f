/**
 * Bad input as a client sends it, over real HTTP into the local gateway and the real handlers on Postgres
 * (issue 19): every case answers 400 in the documented error shape naming the field, or is stored exactly as
 * sent; nothing is stored altered, nothing answers 500. One text rule (NUL, unpaired surrogates) wherever
 * text enters; bodies decoded as UTF-8 with a fatal decoder (the local gateway passes bytes that are not
 * UTF-8 on as base64, and the Lambda handler decodes base64 bodies the same way); one cursor decoder.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCustomersApi } from '#functions/api/customers';
import { customersApiDepsFromEnv } from '#functions/api/deps';
import { simpleForm } from '#local/fixtures/sites';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { PROFILE_FIELDS } from '#shared/customer-store';
import { expectDocumented } from '#test/api';
import { apiEvent, lambdaContext } from '#test/events';
import { motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';

let t: TestDatabase;
let system: LocalSystem;

interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: error bodies are inspected freely.
  body: any;
}

/** One request with node:http, so the body can be any bytes and the JSON any escapes. */
function send(
  method: string,
  path: string,
  options: { body?: string | Buffer; key?: 'admin' | 'client'; contentType?: string } = {},
): Promise<Answer> {
  const url = new URL(path, system.url);
  const key = options.key === 'client' ? system.keys.client : system.keys.admin;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method,
        headers: {
          'x-api-key': key,
          ...(options.body !== undefined
            ? { 'content-type': options.contentType ?? 'application/json' }
            : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const body = text ? JSON.parse(text) : undefined;
          expectDocumented(method, path, res.statusCode ?? 0, body);
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const countRows = async (table: string) =>
  (await system.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]?.n;

const NUL_MESSAGE = 'must not contain the NUL character (U+0000)';
const SURROGATE_MESSAGE =
  'must not contain an unpaired surrogate (a \\ud800-\\udfff escape without its pair)';

beforeAll(async () => {
  t = await testDatabase('api_input', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('apiinput')}-`,
    workers: false,
    schedules: { timers: false },
    fixtures: [simpleForm],
  });
});
afterAll(async () => {
  await system?.stop();
  await t?.close();
});

describe('NUL in text (was a 500 from Postgres)', () => {
  it('is a 400 naming the field in every body that stores text, and nothing is stored', async () => {
    const before = await countRows('customers');
    const created = await send('POST', '/v1/customers', {
      body: '{"name":"Null\\u0000Byte","email":"a@b.example"}',
    });
    expect(created.status).toBe(400);
    expect(created.body.error).toEqual({
      code: 'bad_request',
      message: 'invalid request body',
      details: [{ field: 'name', message: NUL_MESSAGE }],
    });
    expect(await countRows('customers')).toBe(before);

    const customer = await send('POST', '/v1/customers', {
      body: '{"name":"Ok Co","email":"ok@co.example"}',
    });
    for (const field of PROFILE_FIELDS) {
      const patched = await send('PATCH', `/v1/customers/${customer.body.id}`, {
        body: JSON.stringify({ [field]: 'a\u0000b' }),
      });
      expect(patched.status, field).toBe(400);
      expect(patched.body.error.details, field).toEqual([{ field, message: NUL_MESSAGE }]);
    }
    const stored = await send('GET', `/v1/customers/${customer.body.id}`);
    expect(stored.body).toMatchObject({ name: 'Ok Co', phone: null, description: null });

    const definition = simpleForm.definition('http://127.0.0.1:9');
    const directory = (patch: Record<string, unknown>) =>
      JSON.stringify({
        name: 'Dir',
        category: 'Plumbing',
        tier: 1,
        domainAuthority: 10,
        definition,
        ...patch,
      });
    const badName = await send('PUT', '/v1/directories/nul-dir', { body: directory({ name: 'D\u0000ir' }) });
    expect(badName.body.error.details).toEqual([{ field: 'name', message: NUL_MESSAGE }]);
    const badCategory = await send('PUT', '/v1/directories/nul-dir', {
      body: directory({ category: 'Plumb\u0000ing' }),
    });
    expect(badCategory.body.error.details).toEqual([{ field: 'category', message: NUL_MESSAGE }]);
    const steps = structuredClone(definition.steps) as unknown as Array<{ selectors?: string[] }>;
    (steps[1] as { selectors: string[] }).selectors = ['#name', 'input\u0000'];
    const badSelector = await send('PUT', '/v1/directories/nul-dir', {
      body: directory({ definition: { ...definition, steps } }),
    });
    expect(badSelector.status).toBe(400);
    expect(badSelector.body.error.details).toEqual([
      { field: 'definition.steps[1].selectors[1]', message: NUL_MESSAGE },
    ]);
    expect((await send('GET', '/v1/directories/nul-dir')).status).toBe(404);
  });

  it('is a 400 naming the parameter in a query string, a path and a field name', async () => {
    const query = await send('GET', '/v1/directories?category=a%00b');
    expect(query.status).toBe(400);
    expect(query.body.error).toEqual({
      code: 'bad_request',
      message: 'invalid query string',
      details: [{ field: 'category', message: NUL_MESSAGE }],
    });
    const path = await send('GET', '/v1/customers/a%00b');
    expect(path.status).toBe(400);
    expect(path.body.error.details).toEqual([{ field: 'id', message: NUL_MESSAGE }]);
    const key = await send('POST', '/v1/customers', {
      body: '{"name":"A","email":"a@b.example","x\\u0000":1}',
    });
    expect(key.body.error.details).toEqual([{ field: 'body', message: `field names ${NUL_MESSAGE}` }]);
  });

  it('finds NUL at any depth of a body as large as the limit allows, quickly', async () => {
    const depth = 400_000;
    const body = `{"name":${'['.repeat(depth)}"a\\u0000"${']'.repeat(depth)},"email":"a@b.example"}`;
    const started = Date.now();
    const res = await send('POST', '/v1/customers', { body });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([
      { field: `name${'[0]'.repeat(7)}[…${depth - 15} more…]${'[0]'.repeat(8)}`, message: NUL_MESSAGE },
    ]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('text that would be changed silently', () => {
  it('refuses an unpaired surrogate escape (400 naming the field) and keeps a real pair and U+FFFD as sent', async () => {
    const before = await countRows('customers');
    const lone = await send('POST', '/v1/customers', { body: '{"name":"x\\ud800y","email":"a@b.example"}' });
    expect(lone.status).toBe(400);
    expect(lone.body.error.details).toEqual([{ field: 'name', message: SURROGATE_MESSAGE }]);
    const reversed = await send('POST', '/v1/customers', {
      body: '{"name":"ok","city":"\\ude00\\ud83d","email":"a@b.example"}',
    });
    expect(reversed.body.error.details).toEqual([{ field: 'city', message: SURROGATE_MESSAGE }]);
    expect(await countRows('customers')).toBe(before);

    const faithful = await send('POST', '/v1/customers', {
      body: '{"name":"Smile \\ud83d\\ude00 Co","city":"\uFFFD literally","email":"a@b.example"}',
    });
    expect(faithful.status).toBe(201);
    const read = await send('GET', `/v1/customers/${faithful.body.id}`);
    expect(read.body).toMatchObject({ name: 'Smile \u{1F600} Co', city: '\uFFFD literally' });
  });

  it('refuses a body that is not UTF-8, or declares another charset, with a 400 that says why', async () => {
    const before = await countRows('customers');
    const latin1 = Buffer.from('{"name":"Caf\xe9","email":"a@b.example"}', 'latin1');
    const declared = await send('POST', '/v1/customers', {
      body: latin1,
      contentType: 'application/json; charset=latin1',
    });
    expect(declared.status).toBe(400);
    expect(declared.body.error).toEqual({
      code: 'bad_request',
      message: 'request body must be UTF-8',
      details: [{ field: 'content-type', message: 'declares charset=latin1; JSON bodies must be UTF-8' }],
    });
    const undeclared = await send('POST', '/v1/customers', { body: latin1 });
    expect(undeclared.status).toBe(400);
    expect(undeclared.body.error).toEqual({
      code: 'bad_request',
      message: 'request body is not valid UTF-8',
      details: [{ field: 'body', message: 'is not valid UTF-8 (JSON bodies must be UTF-8)' }],
    });
    expect(await countRows('customers')).toBe(before);

    const utf8 = await send('POST', '/v1/customers', {
      body: Buffer.from('{"name":"Café","email":"a@b.example"}', 'utf8'),
      contentType: 'application/json; charset="UTF-8"',
    });
    expect(utf8.status).toBe(201);
    expect(utf8.body.name).toBe('Café');
  });

  it('decodes a base64 body (as API Gateway passes binary media types) with the same fatal decoder in Lambda', async () => {
    const handler = makeCustomersApi(await customersApiDepsFromEnv(system.env, system.db));
    const keyId = system.apiKeys.get(system.keys.client) as string;
    const invoke = async (bytes: Buffer) => {
      const event = {
        ...apiEvent('POST', '/v1/customers', { apiKeyId: keyId }),
        body: bytes.toString('base64'),
      };
      const res = await handler({ ...event, isBase64Encoded: true }, lambdaContext());
      return { status: res.statusCode, body: JSON.parse(res.body) };
    };
    const bad = await invoke(Buffer.from('{"name":"Caf\xe9","email":"a@b.example"}', 'latin1'));
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toBe('request body is not valid UTF-8');
    const good = await invoke(Buffer.from('\ufeff{"name":"Café","email":"a@b.example"}', 'utf8'));
    expect(good.status).toBe(201);
    expect(good.body.name).toBe('Café');
  });
});

describe('a tampered cursor (was a 500 from Postgres)', () => {
  const cursorOf = (key: unknown) => Buffer.from(JSON.stringify(key)).toString('base64url');

  it('is a 400 naming the cursor, whatever part is out of range', async () => {
    const tampered = [
      ['2026-13-45T99:99:99.999999Z', 'ffffffff-ffff-ffff-ffff-ffffffffffff'],
      ['0000-01-01T00:00:00.000000Z', 'ffffffff-ffff-ffff-ffff-ffffffffffff'],
      ['2026-02-29T00:00:00.000000Z', '00000000-0000-4000-8000-000000000000'],
      ['2026-01-01T24:00:00.000000Z', '00000000-0000-4000-8000-000000000000'],
      ['2026-01-01T00:00:00.000000Z', 'not-a-uuid'],
    ];
    for (const key of tampered) {
      const res = await send('GET', `/v1/jobs?cursor=${cursorOf(key)}`);
      expect(res.status, key.join(' ')).toBe(400);
      expect(res.body.error.details).toEqual([
        { field: 'cursor', message: 'is not a cursor this API gave out' },
      ]);
    }
    expect((await send('GET', `/v1/jobs?cursor=${encodeURIComponent('eyJ4Ijox!!')}`)).status).toBe(400);
  });

  it('pages from any real position, from year 1 to 9999 and a leap day', async () => {
    for (const at of [
      '0001-01-01T00:00:00.000000Z',
      '2024-02-29T23:59:59.999999Z',
      '9999-12-31T23:59:59.999999Z',
    ]) {
      const res = await send(
        'GET',
        `/v1/jobs?cursor=${cursorOf([at, 'ffffffff-ffff-ffff-ffff-ffffffffffff'])}`,
      );
      expect(res.status, at).toBe(200);
    }
  });
});

describe('a query string read strictly', () => {
  it('refuses a parameter given twice and a number in any spelling but JSON’s, naming the parameter', async () => {
    const twice = await send('GET', '/v1/dlq?maxPerTier=junk&maxPerTier=5');
    expect(twice.status).toBe(400);
    expect(twice.body.error.details).toEqual([{ field: 'maxPerTier', message: 'must be given once' }]);
    for (const spelling of ['5%0C', '%205', '0x5', '05']) {
      const res = await send('GET', `/v1/dlq?maxPerTier=${spelling}`);
      expect(res.status, spelling).toBe(400);
      expect(res.body.error.details).toEqual([{ field: 'maxPerTier', message: 'must be an integer' }]);
    }
    expect((await send('GET', '/v1/dlq?maxPerTier=5')).status).toBe(200);
  });
});

describe('a body that is not an object', () => {
  it('answers POST /v1/jobs with [], null, "x" or 1 with a first detail that says so', async () => {
    for (const body of ['[]', 'null', '"x"', '1']) {
      const res = await send('POST', '/v1/jobs', { body });
      expect(res.status, body).toBe(400);
      expect(res.body.error.details, body).toEqual([{ field: 'body', message: 'must be an object' }]);
    }
    const nested = await send('POST', '/v1/jobs', { body: '{"customerId":[],"package":"starter"}' });
    expect(nested.body.error.details).toEqual([{ field: 'customerId', message: 'must be a string' }]);
  });
});
