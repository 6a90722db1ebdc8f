/**
 * middy middleware: the cheap refusals every route shares, before anything is parsed or stored.
 *   414 when the URL (path and query string) is longer than the limit;
 *   413 when the body is larger than the JSON limit (measured in bytes, before JSON.parse);
 *   403 {"message":"Forbidden"} when a keyed route arrives without a validated key id, exactly as
 *       API Gateway answers (defence in depth: in AWS API Gateway refuses such a request itself).
 */
import type middy from '@middy/core';
import type { ApiLimits } from './api-config.ts';
import {
  type ApiEvent,
  type ApiResult,
  bodyBytes,
  gatewayForbidden,
  payloadTooLarge,
  uriTooLong,
} from './http.ts';
import { resolveRoute } from './routes.ts';

/** The request URL's length: the path plus the query string as a client would have encoded it. */
export function urlLength(event: ApiEvent): number {
  const query = new URLSearchParams();
  const multi = event.multiValueQueryStringParameters;
  if (multi) {
    for (const [k, values] of Object.entries(multi)) for (const v of values ?? []) query.append(k, v);
  } else {
    for (const [k, v] of Object.entries(event.queryStringParameters ?? {})) query.append(k, v ?? '');
  }
  const search = query.toString();
  return (event.path ?? '').length + (search ? search.length + 1 : 0);
}

export function requestGuards(limits: ApiLimits): middy.MiddlewareObj<ApiEvent, ApiResult> {
  return {
    before: async function guardRequest(request) {
      const event = request.event;
      if (urlLength(event) > limits.maxUrlLength) throw uriTooLong(limits.maxUrlLength);
      if (bodyBytes(event) > limits.maxBodyBytes) throw payloadTooLarge(limits.maxBodyBytes);
      const { route } = resolveRoute(event.httpMethod, event.path ?? '');
      if (route && route.auth !== 'none' && !event.requestContext?.identity?.apiKeyId) {
        throw gatewayForbidden();
      }
    },
  };
}
