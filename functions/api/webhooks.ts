/**
 * The webhooks API: subscribe an endpoint to events (its signing secret answered once, sealed at rest), list,
 * read, delete, enable again, send a test event, list deliveries with their attempts, and replay a delivery
 * with the same webhook-id. An endpoint belongs to the key that created it and is visible to it and to admins,
 * like every resource (`canSee`); a client key's endpoint receives its own resources' events only, an admin
 * key may subscribe to every key's (`scope: all`).
 */
import { randomUUID } from 'node:crypto';
import { endpointUrlProblem, type UrlPolicy } from '#functions/webhooks/destination';
import type { SecretSealer } from '#functions/webhooks/secrets';
import { generateSigningSecret } from '#functions/webhooks/signature';
import type { DeliveryStatus, Endpoint, EndpointScope, PgWebhookStore } from '#functions/webhooks/store';
import { WEBHOOKS } from '#policy';
import { isUuid } from '#shared/customer-store';
import { MetricUnit, registerSecret } from '#shared/telemetry';
import { CURSOR_PARTS, decodeCursor, encodeCursor } from './cursor.ts';
import { type Caller, canSee, conflict, forbidden, HttpError, json, notFound } from './http.ts';
import { type ApiBaseDeps, type ApiHandler, makeApiHandler, type RouteRequest } from './router.ts';

export interface WebhooksApiDeps extends ApiBaseDeps {
  store: Pick<
    PgWebhookStore,
    | 'createEndpoint'
    | 'getEndpoint'
    | 'listEndpoints'
    | 'deleteEndpoint'
    | 'enableEndpoint'
    | 'listDeliveries'
    | 'replay'
    | 'createTestEvent'
  >;
  sealer: SecretSealer;
  urls: UrlPolicy;
}

interface CreateBody {
  url: string;
  events: string[];
  description?: string | null;
  scope?: EndpointScope;
}

interface PageQuery {
  cursor?: string;
  limit: number;
}

/** Where an endpoint posts, for logs: its origin only (a path or query may carry the client's own token). */
const originOf = (url: string) => {
  try {
    return new URL(url).origin;
  } catch {
    return 'unparseable';
  }
};

export const unprocessable = (message: string, field: string, problem: string) =>
  new HttpError(422, 'unprocessable', message, [{ field, message: problem }]);

export function makeWebhooksApi(deps: WebhooksApiDeps): ApiHandler {
  const { logger, metrics } = deps;

  /** The endpoint if it exists and the caller may see it; 404 otherwise (never 403: that would confirm it). */
  async function visible(caller: Caller, id: string | undefined): Promise<Endpoint> {
    const endpoint = id && isUuid(id) ? await deps.store.getEndpoint(id) : undefined;
    if (!endpoint || !canSee(caller, endpoint.ownerKeyId)) throw notFound('webhook endpoint');
    return endpoint;
  }

  return makeApiHandler(
    'webhooks',
    {
      'POST /v1/webhooks': async ({ caller, body }: RouteRequest<CreateBody>) => {
        const scope = body.scope ?? 'own';
        if (scope === 'all' && caller.role !== 'admin') {
          throw forbidden('scope "all" (every key’s events) needs an admin API key');
        }
        const problem = await endpointUrlProblem(body.url, deps.urls);
        if (problem) throw unprocessable('the URL cannot be used for webhooks', 'url', problem);
        const id = randomUUID();
        const secret = generateSigningSecret();
        registerSecret(secret);
        const endpoint = await deps.store.createEndpoint({
          id,
          ownerKeyId: caller.keyId,
          scope,
          url: body.url,
          events: body.events,
          description: body.description ?? null,
          secretSealed: await deps.sealer.seal(secret, id),
        });
        if (!endpoint) {
          throw conflict(
            `this key has ${WEBHOOKS.maxEndpointsPerKey} webhook endpoints, the most it may have; delete one first`,
          );
        }
        metrics.addMetric('WebhookEndpointsCreated', MetricUnit.Count, 1);
        logger.info('webhook endpoint created', {
          endpointId: id,
          origin: originOf(body.url),
          events: body.events,
          scope,
          byKeyId: caller.keyId,
        });
        return json(201, { ...endpoint, secret });
      },

      'GET /v1/webhooks': async ({ caller, query }: RouteRequest<undefined, PageQuery>) => {
        const after = decodeCursor(query.cursor, [CURSOR_PARTS.timestamp, CURSOR_PARTS.uuid]);
        const page = await deps.store.listEndpoints({
          ...(caller.role === 'admin' ? {} : { ownerKeyId: caller.keyId }),
          limit: query.limit,
          ...(after ? { after } : {}),
        });
        return json(200, { items: page.items, nextCursor: page.next ? encodeCursor(page.next) : null });
      },

      'GET /v1/webhooks/{id}': async ({ caller, params }: RouteRequest) =>
        json(200, await visible(caller, params.id)),

      'DELETE /v1/webhooks/{id}': async ({ caller, params }: RouteRequest) => {
        const endpoint = await visible(caller, params.id);
        if (!(await deps.store.deleteEndpoint(endpoint.id))) throw notFound('webhook endpoint');
        logger.info('webhook endpoint deleted', { endpointId: endpoint.id, byKeyId: caller.keyId });
        return { statusCode: 204, headers: { 'cache-control': 'no-store' }, body: '' };
      },

      'POST /v1/webhooks/{id}/test': async ({ caller, params }: RouteRequest) => {
        const endpoint = await visible(caller, params.id);
        const delivery = await deps.store.createTestEvent(endpoint);
        logger.info('webhook test event queued', { endpointId: endpoint.id, deliveryId: delivery.id });
        return json(202, delivery);
      },

      'POST /v1/webhooks/{id}/enable': async ({ caller, params }: RouteRequest) => {
        const endpoint = await visible(caller, params.id);
        const enabled = await deps.store.enableEndpoint(endpoint.id);
        if (!enabled) throw notFound('webhook endpoint');
        if (endpoint.status !== 'enabled') {
          logger.info('webhook endpoint enabled', { endpointId: endpoint.id, byKeyId: caller.keyId });
        }
        return json(200, enabled);
      },

      'GET /v1/webhooks/{id}/deliveries': async ({
        caller,
        params,
        query,
      }: RouteRequest<undefined, PageQuery & { status?: DeliveryStatus }>) => {
        const endpoint = await visible(caller, params.id);
        const after = decodeCursor(query.cursor, [CURSOR_PARTS.timestamp, CURSOR_PARTS.uuid]);
        const page = await deps.store.listDeliveries({
          endpointId: endpoint.id,
          ...(query.status ? { status: query.status } : {}),
          limit: query.limit,
          ...(after ? { after } : {}),
        });
        return json(200, { items: page.items, nextCursor: page.next ? encodeCursor(page.next) : null });
      },

      'POST /v1/webhooks/{id}/deliveries/{deliveryId}/replay': async ({ caller, params }: RouteRequest) => {
        const endpoint = await visible(caller, params.id);
        const deliveryId = params.deliveryId ?? '';
        if (!isUuid(deliveryId)) throw notFound('delivery');
        const outcome = await deps.store.replay(endpoint.id, deliveryId);
        if (outcome.kind === 'missing') throw notFound('delivery');
        if (outcome.kind === 'disabled') {
          throw conflict(
            'the endpoint is disabled: POST /v1/webhooks/{id}/enable first (held events are sent then)',
          );
        }
        metrics.addMetric('WebhookReplays', MetricUnit.Count, 1);
        logger.info('webhook delivery replayed', {
          endpointId: endpoint.id,
          deliveryId,
          replay: outcome.delivery.id,
          byKeyId: caller.keyId,
        });
        return json(202, outcome.delivery);
      },
    },
    deps,
  );
}
