/**
 * Client keys behind their port, on both adapters: API Gateway's keys and usage-plan keys (on moto, which
 * models them) and the local gateway's key table (a file). The same contract: a key made in a plan, listed
 * without its value, revoked once; only client-plan keys are ever listed or revoked.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  APIGatewayClient,
  CreateApiKeyCommand,
  CreateUsagePlanCommand,
  CreateUsagePlanKeyCommand,
  GetApiKeyCommand,
  GetUsagePlanKeysCommand,
} from '@aws-sdk/client-api-gateway';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiGatewayKeyStore, apiGatewayKeyStoreOptionsFromEnv } from '#functions/api/api-gateway-keys';
import type { ClientKeyStore } from '#functions/api/keys';
import { LocalKeyTable } from '#local/api-keys';
import { motoEnv } from '#local/services/moto';
import { awsClientConfig } from '#shared/aws';
import { motoEndpoint, uniqueName } from '#test/services';

/** The contract every ClientKeyStore keeps. */
async function keepsTheContract(
  store: ClientKeyStore,
  lookup: (value: string) => Promise<string | undefined>,
) {
  const name = uniqueName('acme');
  const made = await store.create({ name, plan: 'client' });
  expect(made).toMatchObject({ name, plan: 'client' });
  expect(made.value.length).toBeGreaterThanOrEqual(20);
  expect(await lookup(made.value)).toBe(made.id);

  const listed = await store.list();
  expect(listed).toContainEqual({ id: made.id, name, plan: 'client' });
  expect(JSON.stringify(listed)).not.toContain(made.value);

  expect(await store.revoke(made.id)).toBe(true);
  expect(await lookup(made.value)).toBeUndefined();
  expect((await store.list()).map((k) => k.id)).not.toContain(made.id);
  expect(await store.revoke(made.id)).toBe(false);
  expect(await store.revoke('no-such-key')).toBe(false);
}

describe('API Gateway key store (moto)', () => {
  let api: APIGatewayClient;
  let store: ApiGatewayKeyStore;
  let clientPlan: string;
  let adminKey: string;

  beforeAll(async () => {
    api = new APIGatewayClient(awsClientConfig(motoEnv(motoEndpoint())));
    const prefix = `${uniqueName('keys')}-`;
    clientPlan = (await api.send(new CreateUsagePlanCommand({ name: `${prefix}client` }))).id as string;
    const adminPlan = (await api.send(new CreateUsagePlanCommand({ name: `${prefix}admin` }))).id as string;
    adminKey = (await api.send(new CreateApiKeyCommand({ name: `${prefix}admin`, enabled: true })))
      .id as string;
    await api.send(
      new CreateUsagePlanKeyCommand({ usagePlanId: adminPlan, keyId: adminKey, keyType: 'API_KEY' }),
    );
    // As CDK sets them on the api-keys function.
    store = new ApiGatewayKeyStore(
      api,
      apiGatewayKeyStoreOptionsFromEnv({
        USAGE_PLAN_IDS: `client=${clientPlan}`,
        API_KEY_NAME_PREFIX: `${prefix}client-`,
      }),
    );
  });
  afterAll(() => api?.destroy());

  it('makes a key in the client plan, lists it without its value, and revokes it', async () => {
    await keepsTheContract(store, async (value) => {
      const page = await api.send(new GetUsagePlanKeysCommand({ usagePlanId: clientPlan }));
      return page.items?.find((k) => k.value === value)?.id;
    });
  });

  it('names the key in API Gateway with the stage prefix, and answers with the name the client gave', async () => {
    const made = await store.create({ name: 'named', plan: 'client' });
    const key = await api.send(new GetApiKeyCommand({ apiKey: made.id }));
    expect(key.name).toMatch(/-client-named$/);
    expect(key.enabled).toBe(true);
    expect((await store.list()).find((k) => k.id === made.id)?.name).toBe('named');
    await store.revoke(made.id);
  });

  it('never lists or revokes a key outside the client plans (the admin key)', async () => {
    expect((await store.list()).map((k) => k.id)).not.toContain(adminKey);
    expect(await store.revoke(adminKey)).toBe(false);
    expect((await api.send(new GetApiKeyCommand({ apiKey: adminKey }))).id).toBe(adminKey);
  });

  it('refuses an environment without its plans', () => {
    expect(() => apiGatewayKeyStoreOptionsFromEnv({})).toThrow(/USAGE_PLAN_IDS, API_KEY_NAME_PREFIX/);
    expect(() =>
      apiGatewayKeyStoreOptionsFromEnv({ USAGE_PLAN_IDS: 'client', API_KEY_NAME_PREFIX: '' }),
    ).toThrow(/name=id pairs/);
  });
});

describe('the local key table', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ff-keys-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('keeps the contract, and knows the built-in keys without listing them', async () => {
    const table = await LocalKeyTable.open({
      builtIn: new Map([['admin-value', 'local-admin']]),
      file: join(dir, 'a.json'),
    });
    await keepsTheContract(table, async (value) => table.get(value));
    expect(table.get('admin-value')).toBe('local-admin');
    expect(await table.list()).toEqual([]);
    expect(await table.revoke('local-admin')).toBe(false);
  });

  it('keeps keys across a reopen (a restart), holding only a hash of each value', async () => {
    const file = join(dir, 'b.json');
    const first = await LocalKeyTable.open({ builtIn: new Map(), file });
    const made = await first.create({ name: 'kept', plan: 'client' });

    const second = await LocalKeyTable.open({ builtIn: new Map(), file });

    expect(second.get(made.value)).toBe(made.id);
    expect(await second.list()).toEqual([{ id: made.id, name: 'kept', plan: 'client' }]);
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain(made.value);
    expect(text).toContain(made.id);
  });

  it('keeps every key of changes made at once', async () => {
    const file = join(dir, 'd.json');
    const table = await LocalKeyTable.open({ builtIn: new Map(), file });
    const made = await Promise.all(
      Array.from({ length: 8 }, (_, i) => table.create({ name: `k${i}`, plan: 'client' })),
    );
    await Promise.all([table.revoke(made[0]?.id as string), table.create({ name: 'late', plan: 'client' })]);

    const reopened = await LocalKeyTable.open({ builtIn: new Map(), file });

    expect((await reopened.list()).map((k) => k.name).sort()).toEqual([
      'k1',
      'k2',
      'k3',
      'k4',
      'k5',
      'k6',
      'k7',
      'late',
    ]);
    for (const k of made.slice(1)) expect(reopened.get(k.value)).toBe(k.id);
  });

  it('refuses a file it cannot read rather than forgetting the keys in it', async () => {
    const file = join(dir, 'c.json');
    await writeFile(file, '{"keys": [{"id": "x"}]}');
    await expect(LocalKeyTable.open({ builtIn: new Map(), file })).rejects.toThrow(
      /c\.json: key 0 needs id, name, a plan/,
    );
    await writeFile(file, 'not json');
    await expect(LocalKeyTable.open({ builtIn: new Map(), file })).rejects.toThrow(
      /not JSON[\s\S]*delete it/,
    );
  });
});
