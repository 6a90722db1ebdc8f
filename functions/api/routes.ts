/**
 * Every HTTP route formfleet serves: which Lambda handles it and what key it needs. CDK builds the API
 * Gateway resources from this list, the local gateway routes with it, and the OpenAPI test checks it.
 */
export type ApiFunction = 'jobs' | 'customers' | 'health';
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
  { method: 'POST', path: '/v1/customers', fn: 'customers', auth: 'client' },
  { method: 'GET', path: '/v1/customers/{id}', fn: 'customers', auth: 'client' },
  { method: 'POST', path: '/v1/jobs', fn: 'jobs', auth: 'client' },
  { method: 'GET', path: '/v1/jobs/{id}', fn: 'jobs', auth: 'client' },
];

/** Matches a concrete path against a route path; returns the path parameters or undefined. */
export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const p = pattern.split('/');
  const a = path.split('/');
  if (p.length !== a.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const seg = p[i] as string;
    const actual = a[i] as string;
    if (seg.startsWith('{') && seg.endsWith('}')) {
      if (actual === '') return undefined;
      params[seg.slice(1, -1)] = decodeURIComponent(actual);
    } else if (seg !== actual) {
      return undefined;
    }
  }
  return params;
}

/** The routes a handler function serves. */
export const routesFor = (fn: ApiFunction) => ROUTES.filter((r) => r.fn === fn);
