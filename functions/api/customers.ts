/** The customers API: the business profiles jobs submit, each visible only to its owner key (and admins). */
import { type CustomerStore, PROFILE_FIELDS, type Profile } from '#shared/customer-store';
import type { Logger, Metrics } from '#shared/telemetry';
import { type ApiEvent, badRequest, callerOf, type FieldError, json, jsonBody, notFound } from './http.ts';
import { type ApiHandler, makeApiHandler } from './router.ts';

export interface CustomersApiDeps {
  customers: CustomerStore;
  adminKeyIds: ReadonlySet<string>;
  logger: Logger;
  metrics: Metrics;
}

const MAX_LENGTH: Record<(typeof PROFILE_FIELDS)[number], number> = {
  name: 200,
  email: 320,
  phone: 40,
  website: 2048,
  address: 300,
  city: 120,
  state: 120,
  zip: 20,
  category: 120,
  description: 5000,
};

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function parseProfile(body: Record<string, unknown>, partial: boolean): Partial<Profile> {
  const errors: FieldError[] = [];
  const out: Record<string, string | null> = {};
  for (const key of Object.keys(body)) {
    if (!(PROFILE_FIELDS as readonly string[]).includes(key))
      errors.push({ field: key, message: 'is not a known field' });
  }
  for (const field of PROFILE_FIELDS) {
    const value = body[field];
    const required = field === 'name' || field === 'email';
    if (value === undefined || value === null) {
      if (required && !partial) errors.push({ field, message: 'is required' });
      else if (value === null && required) errors.push({ field, message: 'cannot be null' });
      else if (value === null) out[field] = null;
      continue;
    }
    if (typeof value !== 'string') {
      errors.push({ field, message: 'must be a string' });
      continue;
    }
    const trimmed = value.trim();
    if (required && trimmed.length === 0) errors.push({ field, message: 'must not be empty' });
    else if (trimmed.length > MAX_LENGTH[field])
      errors.push({ field, message: `must be at most ${MAX_LENGTH[field]} characters` });
    else if (field === 'email' && !EMAIL.test(trimmed))
      errors.push({ field, message: 'must be an email address' });
    else out[field] = trimmed;
  }
  if (errors.length > 0) throw badRequest('invalid customer profile', errors);
  return out as Partial<Profile>;
}

export function makeCustomersApi(deps: CustomersApiDeps): ApiHandler {
  return makeApiHandler(
    'customers',
    {
      'POST /v1/customers': async (event: ApiEvent) => {
        const caller = callerOf(event, deps.adminKeyIds);
        const profile = parseProfile(jsonBody(event), false) as Profile;
        const customer = await deps.customers.create(caller.keyId, profile);
        return json(201, customer);
      },
      'GET /v1/customers/{id}': async (event: ApiEvent) => {
        const caller = callerOf(event, deps.adminKeyIds);
        const customer = await deps.customers.get(event.pathParameters?.id ?? '');
        if (!customer || (caller.role !== 'admin' && customer.ownerKeyId !== caller.keyId))
          throw notFound('customer');
        return json(200, customer);
      },
    },
    deps,
  );
}
