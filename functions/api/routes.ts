/**
 * Every HTTP route formfleet serves: which Lambda handles it and what key it needs. CDK builds the API
 * Gateway resources from this list, the local gateway routes with it, and the OpenAPI test checks it.
 */
export type ApiFunction =
  | 'jobs'
  | 'customers'
  | 'health'
  | 'directories'
  | 'probes'
  | 'submissions'
  | 'dlq'
  | 'keys'
  | 'webhooks';
export type RouteAuth = 'none' | 'client' | 'admin';
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteSpec {
  method: HttpMethod;
  /** API Gateway resource path, with {param} segments. */
  path: string;
  fn: ApiFunction;
  /** 'none': no key; 'client': any valid key; 'admin': an admin key (checked by the handler). */
  auth: RouteAuth;
}

export const ROUTES: readonly RouteSpec[] = [
  { method: 'GET', path: '/health', fn: 'health', auth: 'none' },
  { method: 'GET', path: '/v1/health', fn: 'health', auth: 'client' },
  { method: 'POST', path: '/v1/customers', fn: 'customers', auth: 'client' },
  { method: 'GET', path: '/v1/customers/{id}', fn: 'customers', auth: 'client' },
  { method: 'PATCH', path: '/v1/customers/{id}', fn: 'customers', auth: 'client' },
  { method: 'GET', path: '/v1/customers/{id}/queue', fn: 'jobs', auth: 'client' },
  // Logos (issue 14): a presigned POST straight to S3, then the stored bytes checked.
  { method: 'POST', path: '/v1/customers/{id}/media', fn: 'customers', auth: 'client' },
  {
    method: 'POST',
    path: '/v1/customers/{id}/media/{mediaId}/complete',
    fn: 'customers',
    auth: 'client',
  },
  { method: 'POST', path: '/v1/jobs', fn: 'jobs', auth: 'client' },
  { method: 'GET', path: '/v1/jobs', fn: 'jobs', auth: 'client' },
  { method: 'GET', path: '/v1/jobs/{id}', fn: 'jobs', auth: 'client' },
  { method: 'GET', path: '/v1/jobs/{id}/report', fn: 'jobs', auth: 'client' },
  { method: 'POST', path: '/v1/jobs/{id}/cancel', fn: 'jobs', auth: 'client' },
  { method: 'POST', path: '/v1/jobs/{id}/retry', fn: 'jobs', auth: 'client' },
  { method: 'GET', path: '/v1/directories', fn: 'directories', auth: 'client' },
  { method: 'GET', path: '/v1/directories/{id}', fn: 'directories', auth: 'client' },
  { method: 'GET', path: '/v1/directories/{id}/stats', fn: 'directories', auth: 'admin' },
  { method: 'PUT', path: '/v1/directories/{id}', fn: 'directories', auth: 'admin' },
  { method: 'DELETE', path: '/v1/directories/{id}', fn: 'directories', auth: 'admin' },
  { method: 'POST', path: '/v1/directories/{id}/unpause', fn: 'directories', auth: 'admin' },
  { method: 'GET', path: '/v1/categories', fn: 'directories', auth: 'client' },
  { method: 'GET', path: '/v1/directories/{id}/categories', fn: 'directories', auth: 'client' },
  { method: 'PUT', path: '/v1/directories/{id}/categories', fn: 'directories', auth: 'admin' },
  { method: 'POST', path: '/v1/directories/discover', fn: 'probes', auth: 'admin' },
  { method: 'POST', path: '/v1/directories/{id}/dry-run', fn: 'probes', auth: 'admin' },
  { method: 'GET', path: '/v1/submissions', fn: 'submissions', auth: 'client' },
  // People in the loop (issue 14): tasks are ledger rows, served by the ledger's function.
  { method: 'GET', path: '/v1/tasks', fn: 'submissions', auth: 'admin' },
  { method: 'GET', path: '/v1/tasks/{id}', fn: 'submissions', auth: 'admin' },
  { method: 'POST', path: '/v1/tasks/{id}/claim', fn: 'submissions', auth: 'admin' },
  { method: 'POST', path: '/v1/tasks/{id}/release', fn: 'submissions', auth: 'admin' },
  { method: 'POST', path: '/v1/tasks/{id}/resolve', fn: 'submissions', auth: 'admin' },
  { method: 'GET', path: '/v1/dlq', fn: 'dlq', auth: 'admin' },
  { method: 'POST', path: '/v1/dlq/redrive', fn: 'dlq', auth: 'admin' },
  { method: 'POST', path: '/v1/keys', fn: 'keys', auth: 'admin' },
  { method: 'GET', path: '/v1/keys', fn: 'keys', auth: 'admin' },
  { method: 'DELETE', path: '/v1/keys/{id}', fn: 'keys', auth: 'admin' },
  { method: 'POST', path: '/v1/webhooks', fn: 'webhooks', auth: 'client' },
  { method: 'GET', path: '/v1/webhooks', fn: 'webhooks', auth: 'client' },
  { method: 'GET', path: '/v1/webhooks/{id}', fn: 'webhooks', auth: 'client' },
  { method: 'DELETE', path: '/v1/webhooks/{id}', fn: 'webhooks', auth: 'client' },
  { method: 'POST', path: '/v1/webhooks/{id}/test', fn: 'webhooks', auth: 'client' },
  { method: 'POST', path: '/v1/webhooks/{id}/enable', fn: 'webhooks', auth: 'client' },
  { method: 'GET', path: '/v1/webhooks/{id}/deliveries', fn: 'webhooks', auth: 'client' },
  {
    method: 'POST',
    path: '/v1/webhooks/{id}/deliveries/{deliveryId}/replay',
    fn: 'webhooks',
    auth: 'client',
  },
  { method: 'PUT', path: '/v1/keys/{id}/brand', fn: 'keys', auth: 'admin' },
];

/**
 * Matches a concrete path against a route path; returns the path parameters or undefined. One trailing
 * slash is ignored (as @middy/http-router does); a parameter that is not valid percent-encoding is kept as
 * sent rather than failing the request.
 */
export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const p = pattern.split('/');
  const a = (path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path).split('/');
  if (p.length !== a.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const seg = p[i] as string;
    const actual = a[i] as string;
    if (seg.startsWith('{') && seg.endsWith('}')) {
      if (actual === '') return undefined;
      params[seg.slice(1, -1)] = safeDecode(actual);
    } else if (seg !== actual) {
      return undefined;
    }
  }
  return params;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The route a request is for, and every method its path allows (for 405 and Allow). */
export function resolveRoute(
  method: string,
  path: string,
): { route: RouteSpec | undefined; params: Record<string, string>; allowed: HttpMethod[] } {
  let route: RouteSpec | undefined;
  let params: Record<string, string> = {};
  const allowed: HttpMethod[] = [];
  for (const r of ROUTES) {
    const match = matchPath(r.path, path);
    if (!match) continue;
    allowed.push(r.method);
    if (r.method === method && !route) {
      route = r;
      params = match;
    }
  }
  return { route, params, allowed };
}

export const routeKey = (r: Pick<RouteSpec, 'method' | 'path'>) => `${r.method} ${r.path}`;

/** The routes a handler function serves. */
export const routesFor = (fn: ApiFunction) => ROUTES.filter((r) => r.fn === fn);
