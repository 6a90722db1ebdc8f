/**
 * ClientKeyStore on API Gateway: a client key is an API key that belongs to one of the client usage plans
 * (which live in the data stack, so they and their keys outlive any app-stack replacement). Creating makes the
 * key and its usage-plan key, listing reads the plans' keys, revoking deletes a key found there. The function's role
 * allows exactly these calls on these plans, and never touches the admin key (functions/manifest.ts `apiKeys`,
 * lib/constructs/house-function.ts `bindApiKeys`): no call here reads API keys outside the client plans.
 */
import {
  type APIGatewayClient,
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  DeleteApiKeyCommand,
  DeleteUsagePlanKeyCommand,
  GetUsagePlanKeysCommand,
  NotFoundException,
} from '@aws-sdk/client-api-gateway';
import { ConfigError, type Env } from '#shared/env';
import type { ClientKey, ClientKeyStore, CreatedClientKey } from './keys.ts';

export interface ApiGatewayKeyStoreOptions {
  /** Usage plan id of each client plan, by plan name. */
  planIds: Readonly<Record<string, string>>;
  /** Prefix of the API keys' names in API Gateway (the stage's), so the console shows whose they are. */
  namePrefix: string;
}

/** USAGE_PLAN_IDS (`client=abc123,other=def456`) and API_KEY_NAME_PREFIX, as CDK sets them. */
export function apiGatewayKeyStoreOptionsFromEnv(env: Env): ApiGatewayKeyStoreOptions {
  const raw = env.USAGE_PLAN_IDS;
  const prefix = env.API_KEY_NAME_PREFIX;
  if (!raw || prefix === undefined) {
    throw new ConfigError('missing required environment variable(s): USAGE_PLAN_IDS, API_KEY_NAME_PREFIX');
  }
  const planIds: Record<string, string> = {};
  for (const pair of raw.split(',')) {
    const [name, id] = pair.split('=').map((s) => s.trim());
    if (!name || !id)
      throw new ConfigError(`USAGE_PLAN_IDS must be name=id pairs, comma-separated (got "${raw}")`);
    planIds[name] = id;
  }
  return { planIds, namePrefix: prefix };
}

export class ApiGatewayKeyStore implements ClientKeyStore {
  constructor(
    private readonly client: APIGatewayClient,
    private readonly options: ApiGatewayKeyStoreOptions,
  ) {}

  async create(input: { name: string; plan: string }): Promise<CreatedClientKey> {
    const planId = this.options.planIds[input.plan];
    if (!planId)
      throw new Error(`no usage plan named ${input.plan} (known: ${Object.keys(this.options.planIds)})`);
    const key = await this.client.send(
      new CreateApiKeyCommand({
        name: `${this.options.namePrefix}${input.name}`,
        description: `formfleet client key "${input.name}" (${input.plan} plan), made by POST /v1/keys`,
        enabled: true,
      }),
    );
    if (!key.id || !key.value) throw new Error('API Gateway created a key without an id or value');
    try {
      await this.client.send(
        new CreateUsagePlanKeyCommand({ usagePlanId: planId, keyId: key.id, keyType: 'API_KEY' }),
      );
    } catch (err) {
      // A key in no plan is refused by API Gateway anyway; do not leave it behind.
      await this.client.send(new DeleteApiKeyCommand({ apiKey: key.id })).catch(() => {});
      throw err;
    }
    return { id: key.id, name: input.name, plan: input.plan, value: key.value };
  }

  async list(): Promise<ClientKey[]> {
    const keys: ClientKey[] = [];
    for (const [plan, usagePlanId] of Object.entries(this.options.planIds)) {
      let position: string | undefined;
      do {
        const page = await this.client.send(
          new GetUsagePlanKeysCommand({ usagePlanId, position, limit: 500 }),
        );
        for (const item of page.items ?? []) {
          if (!item.id) continue;
          const name = item.name ?? '';
          keys.push({
            id: item.id,
            name: name.startsWith(this.options.namePrefix)
              ? name.slice(this.options.namePrefix.length)
              : name,
            plan,
          });
        }
        position = page.position;
      } while (position);
    }
    return keys;
  }

  async revoke(id: string): Promise<boolean> {
    // Only a key found in a client plan is touched (the role may delete any key, being unable to name ids
    // made at run time; the admin key is denied to it outright). Out of its plan first, then deleted.
    const key = (await this.list()).find((k) => k.id === id);
    const usagePlanId = key ? this.options.planIds[key.plan] : undefined;
    if (!usagePlanId) return false;
    const gone = (err: unknown) => {
      if (err instanceof NotFoundException) return;
      throw err;
    };
    await this.client.send(new DeleteUsagePlanKeyCommand({ usagePlanId, keyId: id })).catch(gone);
    await this.client.send(new DeleteApiKeyCommand({ apiKey: id })).catch(gone);
    return true;
  }
}
