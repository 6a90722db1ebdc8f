/**
 * Builds one API Lambda handler from route implementations: middy with Powertools (Lambda context and the
 * API Gateway request id as correlation id in every log line; EMF metrics flushed per request), the request
 * guards (414, 413, the key), the exact rate limiter with its headers, @middy/http-router, per-route
 * authorisation, the one text rule (#shared/text) on path, query and body, schema validation from the route
 * contracts, the shared error mapping, and 405 (not 404) when the path exists with another method.
 */

import { correlationPaths } from '@aws-lambda-powertools/logger/correlationId';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import httpRouterHandler from '@middy/http-router';
import type { Context } from 'aws-lambda';
import { type Logger, type Metrics, MetricUnit } from '#shared/telemetry';
import type { ApiLimits } from './api-config.ts';
import { CONTRACTS } from './contracts.ts';
import { requestGuards } from './guards.ts';
import {
  type ApiEvent,
  type ApiResult,
  type Caller,
  callerOf,
  errorResponses,
  forbidden,
  HttpError,
  jsonBody,
  refuseBadText,
} from './http.ts';
import { rateLimit } from './rate-limit-middleware.ts';
import type { RateLimiter } from './rate-limiter.ts';
import { type ApiFunction, resolveRoute, routeKey, routesFor } from './routes.ts';
import { validateBody, validateQuery } from './validation.ts';

export type ApiHandler = (event: ApiEvent, context: Context) => Promise<ApiResult>;

/** What every API handler needs besides its own stores. */
export interface ApiBaseDeps {
  logger: Logger;
  metrics: Metrics;
  /** API key ids with admin rights. */
  adminKeyIds: ReadonlySet<string>;
  rateLimiter: RateLimiter;
  limits: ApiLimits;
}

/** A validated request, as a route implementation receives it. */
export interface RouteRequest<Body = unknown, Query = Record<string, unknown>> {
  event: ApiEvent;
  context: Context;
  /** The caller (an anonymous placeholder with an empty keyId on unauthenticated routes). */
  caller: Caller;
  params: Record<string, string>;
  query: Query;
  body: Body;
}

// biome-ignore lint/suspicious/noExplicitAny: each implementation narrows its own body and query types.
export type RouteImplementation = (request: RouteRequest<any, any>) => Promise<ApiResult>;

const ANONYMOUS: Caller = { keyId: '', role: 'client' };

export function makeApiHandler(
  fn: ApiFunction,
  implementations: Record<string, RouteImplementation>,
  deps: ApiBaseDeps,
): ApiHandler {
  const routes = routesFor(fn).map((spec) => {
    const key = routeKey(spec);
    const implementation = implementations[key];
    if (!implementation) throw new Error(`handler ${fn} has no implementation for ${key}`);
    const contract = CONTRACTS[key];
    if (!contract) throw new Error(`route ${key} has no contract in contracts.ts`);
    const handler = async (event: ApiEvent, context: Context): Promise<ApiResult> => {
      let caller = ANONYMOUS;
      if (spec.auth !== 'none') {
        caller = callerOf(event, deps.adminKeyIds);
        if (spec.auth === 'admin' && caller.role !== 'admin') {
          throw forbidden('this route needs an admin API key');
        }
      }
      const params = (event.pathParameters ?? {}) as Record<string, string>;
      refuseBadText(params, 'path', 'path');
      const query = contract.query
        ? validateQuery(contract.query, event.queryStringParameters, event.multiValueQueryStringParameters)
        : {};
      const body = contract.body ? validateBody(contract.body, jsonBody(event)) : undefined;
      return implementation({ event, context, caller, params, query, body });
    };
    return { method: spec.method, path: spec.path, handler };
  });
  const extra = Object.keys(implementations).filter((k) => !routes.some((r) => routeKey(r) === k));
  if (extra.length > 0)
    throw new Error(`handler ${fn} implements routes missing from ROUTES: ${extra.join(', ')}`);

  const router = httpRouterHandler({
    routes,
    notFoundResponse: ({ method, path }) => {
      const { allowed } = resolveRoute(method, path);
      if (allowed.length > 0) {
        throw new HttpError(405, 'method_not_allowed', `${method} is not allowed here`, undefined, {
          allow: allowed.join(', '),
        });
      }
      throw new HttpError(404, 'not_found', 'no such route');
    },
  });
  return (
    middy<ApiEvent, ApiResult>()
      .use(
        injectLambdaContext(deps.logger, {
          correlationIdPath: correlationPaths.API_GATEWAY_REST,
          resetKeys: true,
        }),
      )
      .use(logMetrics(deps.metrics))
      .use(countResponses(deps.metrics))
      .use(requestGuards(deps.limits))
      // Registered before errorResponses so that its onError runs after the error became a response.
      .use(rateLimit(deps))
      .use(errorResponses(deps.logger))
      .handler(router as unknown as ApiHandler) as unknown as ApiHandler
  );
}

/** Counts responses by status class (Http2xx, Http4xx, Http5xx); runs after errors were mapped. */
function countResponses(metrics: Metrics): middy.MiddlewareObj<ApiEvent, ApiResult> {
  const count = async function countResponse(request: middy.Request<ApiEvent, ApiResult>) {
    const status = request.response?.statusCode ?? 500;
    metrics.addMetric(`Http${Math.floor(status / 100)}xx`, MetricUnit.Count, 1);
  };
  return { after: count, onError: count };
}
