/**
 * Builds one API Lambda handler from route implementations: middy with Powertools (Lambda context and the
 * API Gateway request id as correlation id in every log line; EMF metrics flushed per request),
 * @middy/http-router, the shared error mapping, and 405 (not 404) when the path exists with another method.
 */

import { correlationPaths } from '@aws-lambda-powertools/logger/correlationId';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import httpRouterHandler from '@middy/http-router';
import type { Context } from 'aws-lambda';
import { type Logger, type Metrics, MetricUnit } from '#shared/telemetry';
import { type ApiEvent, type ApiResult, errorResponses, HttpError } from './http.ts';
import { type ApiFunction, matchPath, ROUTES, routesFor } from './routes.ts';

export type RouteHandler = (event: ApiEvent, context: Context) => Promise<ApiResult>;

export type ApiHandler = (event: ApiEvent, context: Context) => Promise<ApiResult>;

export function makeApiHandler(
  fn: ApiFunction,
  implementations: Record<string, RouteHandler>,
  telemetry: { logger: Logger; metrics: Metrics },
): ApiHandler {
  const routes = routesFor(fn).map((r) => {
    const handler = implementations[`${r.method} ${r.path}`];
    if (!handler) throw new Error(`handler ${fn} has no implementation for ${r.method} ${r.path}`);
    return { method: r.method, path: r.path, handler };
  });
  const extra = Object.keys(implementations).filter(
    (k) => !routes.some((r) => `${r.method} ${r.path}` === k),
  );
  if (extra.length > 0)
    throw new Error(`handler ${fn} implements routes missing from ROUTES: ${extra.join(', ')}`);
  const router = httpRouterHandler({
    routes,
    notFoundResponse: ({ method, path }) => {
      const allowed = ROUTES.filter((r) => matchPath(r.path, path)).map((r) => r.method);
      if (allowed.length > 0) {
        throw new HttpError(405, 'method_not_allowed', `${method} is not allowed here`, undefined, {
          allow: allowed.join(', '),
        });
      }
      throw new HttpError(404, 'not_found', 'no such route');
    },
  });
  return middy<ApiEvent, ApiResult>()
    .use(
      injectLambdaContext(telemetry.logger, {
        correlationIdPath: correlationPaths.API_GATEWAY_REST,
        resetKeys: true,
      }),
    )
    .use(logMetrics(telemetry.metrics))
    .use(countResponses(telemetry.metrics))
    .use(errorResponses(telemetry.logger))
    .handler(router as unknown as RouteHandler) as unknown as ApiHandler;
}

/** Counts responses by status class (Http2xx, Http4xx, Http5xx); runs after errors were mapped. */
function countResponses(metrics: Metrics): middy.MiddlewareObj<ApiEvent, ApiResult> {
  const count = async function countResponse(request: middy.Request<ApiEvent, ApiResult>) {
    const status = request.response?.statusCode ?? 500;
    metrics.addMetric(`Http${Math.floor(status / 100)}xx`, MetricUnit.Count, 1);
  };
  return { after: count, onError: count };
}
