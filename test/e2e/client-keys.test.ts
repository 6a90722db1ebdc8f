/**
 * Client keys as an operator and a client meet them, over HTTP against `npm start`'s system: the ops CLI
 * makes a key (its value shown once), the new client works with it and sees only what it made, the key
 * table outlives a restart, and a revoked key is refused by the gateway at once while its customer stays
 * with the admins.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalSystem, type LocalSystemOptions, startLocalSystem } from '#local/runtime';
import { DEMO_CUSTOMERS } from '#local/seed';
import { runOpsRecorded } from '#test/cli';
import { motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';

let t: TestDatabase;
let dir: string;
let system: LocalSystem;
let options: LocalSystemOptions;

beforeAll(async () => {
  t = await testDatabase('client_keys', { migrate: false });
  dir = await mkdtemp(join(tmpdir(), 'ff-client-keys-'));
  options = {
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('keys')}-`,
    workers: false,
    schedules: { timers: false },
    keyTableFile: join(dir, 'api-keys.json'),
    adminKey: 'ffadmin_fixed-for-the-restart-test-0001',
  };
  system = await startLocalSystem(options);
});
afterAll(async () => {
  await system?.stop();
  await t?.close();
  await rm(dir, { recursive: true, force: true });
});

const ops = (args: string[]) =>
  runOpsRecorded(args, { FORMFLEET_API_URL: system.url, FORMFLEET_ADMIN_KEY: system.keys.admin });

const call = (path: string, key: string, init: RequestInit = {}) =>
  fetch(`${system.url}${path}`, {
    ...init,
    headers: { 'x-api-key': key, 'content-type': 'application/json', ...(init.headers ?? {}) },
  });

describe('client keys', () => {
  let key: { id: string; value: string };
  let customerId: string;

  it('are made by the ops CLI (keys create), the value printed once, and listed without it', async () => {
    const created = await ops(['keys', 'create', 'acme-plumbing', '--json']);
    expect(created.code, created.err).toBe(0);
    const body = JSON.parse(created.out) as { id: string; name: string; plan: string; value: string };
    expect(body).toMatchObject({ name: 'acme-plumbing', plan: 'client' });
    key = { id: body.id, value: body.value };

    const table = await ops(['keys', 'list']);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(new RegExp(`${body.id}\\s+acme-plumbing\\s+client`));
    expect(table.out).not.toContain(body.value);

    const again = await ops(['keys', 'create', 'acme-plumbing']);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/exists.*HTTP 409/);
    const bad = await ops(['keys', 'create', 'no spaces please']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/name: must be 1 to 64 letters/);
  });

  it('work at once, and see only their own resources', async () => {
    const created = await call('/v1/customers', key.value, {
      method: 'POST',
      body: JSON.stringify({ name: 'Acme Plumbing', email: 'ops@acme.test' }),
    });
    expect(created.status).toBe(201);
    customerId = ((await created.json()) as { id: string }).id;

    expect((await call(`/v1/customers/${customerId}`, key.value)).status).toBe(200);
    // The demo client key cannot see the new key's customer, nor the new key the demo's.
    expect((await call(`/v1/customers/${customerId}`, system.keys.client)).status).toBe(404);
    expect((await call(`/v1/customers/${DEMO_CUSTOMERS[0]?.id}`, key.value)).status).toBe(404);
    // A client key cannot manage keys.
    expect((await call('/v1/keys', key.value)).status).toBe(403);
  });

  it('outlive a restart (the key table is kept in a file)', async () => {
    await system.stop();
    system = await startLocalSystem(options);

    expect((await call(`/v1/customers/${customerId}`, key.value)).status).toBe(200);
    expect(JSON.parse((await ops(['keys', 'list', '--json'])).out).items).toEqual([
      { id: key.id, name: 'acme-plumbing', plan: 'client' },
    ]);
  });

  it('stop working when revoked (keys revoke), their customer staying with the admins', async () => {
    const revoked = await ops(['keys', 'revoke', key.id]);
    expect(revoked.code, revoked.err).toBe(0);

    const refused = await call(`/v1/customers/${customerId}`, key.value);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({ message: 'Forbidden' });
    expect((await call(`/v1/customers/${customerId}`, system.keys.admin)).status).toBe(200);
    expect((await ops(['keys', 'list'])).out).toContain('no client keys');
    const twice = await ops(['keys', 'revoke', key.id]);
    expect(twice.code).toBe(1);
    expect(twice.err).toMatch(/HTTP 404/);
  });
});
