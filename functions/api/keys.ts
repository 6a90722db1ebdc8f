/**
 * The client-keys API (admin keys only): create a client API key in a usage plan (its value is answered this
 * once), list the client keys (never their values), revoke one. Behind the ClientKeyStore port: API Gateway's
 * keys and usage-plan keys in AWS (api-gateway-keys.ts), the local gateway's key table locally
 * (local/api-keys.ts).
 *
 * How a key meets the handlers: API Gateway (or the local gateway) validates x-api-key and passes only the
 * key's id (requestContext.identity.apiKeyId); `callerOf` makes it the Caller, admin when the id is one of
 * ADMIN_API_KEY_IDS. Every resource a client key creates is owned by that id and visible to it and to admins
 * only (`canSee`), so a new key starts with nothing and a revoked key's resources stay with the admins.
 */
import { CLIENT_KEYS } from '#policy';
import type { BrandStore } from '#shared/brand-store';
import { registerSecret } from '#shared/telemetry';
import { conflict, json, notFound } from './http.ts';
import { type ApiBaseDeps, type ApiHandler, makeApiHandler, type RouteRequest } from './router.ts';

/** A client API key as listed: never its value. */
export interface ClientKey {
  /** What requests made with it are known by (requestContext.identity.apiKeyId). */
  id: string;
  name: string;
  /** The usage plan it belongs to (one of CLIENT_KEYS.plans). */
  plan: string;
}

/** A key just made: the only time its value is known outside the gateway. */
export interface CreatedClientKey extends ClientKey {
  value: string;
}

/** Where client keys live: API Gateway in AWS, the local gateway's key table locally. */
export interface ClientKeyStore {
  create(input: { name: string; plan: string }): Promise<CreatedClientKey>;
  /** Every client key of every client plan. */
  list(): Promise<ClientKey[]>;
  /** Revokes a client key; false when no client key has this id (admin keys never do). */
  revoke(id: string): Promise<boolean>;
}

export interface KeysApiDeps extends ApiBaseDeps {
  keys: ClientKeyStore;
  /** White labels per client key (the reports' name and logo). */
  brands: Pick<BrandStore, 'put'>;
}

export function makeKeysApi(deps: KeysApiDeps): ApiHandler {
  return makeApiHandler(
    'keys',
    {
      'POST /v1/keys': async ({ caller, body }: RouteRequest<{ name: string; plan?: string }>) => {
        const plan = body.plan ?? CLIENT_KEYS.defaultPlan;
        if ((await deps.keys.list()).some((k) => k.name === body.name)) {
          throw conflict(`a client key named "${body.name}" exists; revoke it first or choose another name`);
        }
        const key = await deps.keys.create({ name: body.name, plan });
        registerSecret(key.value);
        deps.logger.info('client key created', {
          keyId: key.id,
          name: key.name,
          plan,
          byKeyId: caller.keyId,
        });
        return json(201, key);
      },
      'GET /v1/keys': async () => {
        const items = (await deps.keys.list()).sort((a, b) => a.name.localeCompare(b.name));
        return json(200, { items });
      },
      'PUT /v1/keys/{id}/brand': async ({
        caller,
        params,
        body,
      }: RouteRequest<{ displayName: string; logoUrl?: string | null }>) => {
        const keyId = params.id ?? '';
        if (!(await deps.keys.list()).some((k) => k.id === keyId)) throw notFound('client key');
        const brand = await deps.brands.put({
          keyId,
          displayName: body.displayName,
          logoUrl: body.logoUrl ?? null,
        });
        deps.logger.info('client key brand set', { keyId, byKeyId: caller.keyId });
        return json(200, brand);
      },
      'DELETE /v1/keys/{id}': async ({ caller, params }: RouteRequest) => {
        const id = params.id ?? '';
        if (!(await deps.keys.revoke(id))) throw notFound('client key');
        deps.logger.info('client key revoked', { keyId: id, byKeyId: caller.keyId });
        return { statusCode: 204, headers: { 'cache-control': 'no-store' }, body: '' };
      },
    },
    deps,
  );
}
