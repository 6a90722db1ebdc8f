/** The customers API: the business profiles jobs submit, each visible only to its owner key (and admins). */
import { type Customer, type CustomerStore, PROFILE_FIELDS, type Profile } from '#shared/customer-store';
import { canonicalCategory } from './categories.ts';
import { type Caller, canSee, json, notFound } from './http.ts';
import { type ApiBaseDeps, type ApiHandler, makeApiHandler, type RouteRequest } from './router.ts';

export interface CustomersApiDeps extends ApiBaseDeps {
  customers: CustomerStore;
}

/**
 * The profile as stored: surrounding whitespace trimmed (a form field never wants it), the category as its
 * taxonomy id (categories.ts: 409 for one the taxonomy does not know), everything else kept exactly as sent.
 * The schema has already checked types and lengths.
 */
export function normaliseProfile(body: Partial<Record<keyof Profile, string | null>>): Partial<Profile> {
  const out: Record<string, string | null> = {};
  for (const field of PROFILE_FIELDS) {
    const value = body[field];
    if (value === undefined) continue;
    out[field] = value === null ? null : value.trim();
  }
  if (out.category !== undefined) out.category = canonicalCategory(out.category) ?? null;
  return out as Partial<Profile>;
}

export function makeCustomersApi(deps: CustomersApiDeps): ApiHandler {
  async function visibleCustomer(caller: Caller, id: string | undefined): Promise<Customer> {
    const customer = id ? await deps.customers.get(id) : undefined;
    if (!customer || !canSee(caller, customer.ownerKeyId)) throw notFound('customer');
    return customer;
  }

  return makeApiHandler(
    'customers',
    {
      'POST /v1/customers': async ({ caller, body }: RouteRequest<Profile>) => {
        const customer = await deps.customers.create(caller.keyId, normaliseProfile(body) as Profile);
        return json(201, customer);
      },
      'GET /v1/customers/{id}': async ({ caller, params }: RouteRequest) =>
        json(200, await visibleCustomer(caller, params.id)),
      'PATCH /v1/customers/{id}': async ({ caller, params, body }: RouteRequest<Partial<Profile>>) => {
        const customer = await visibleCustomer(caller, params.id);
        const updated = await deps.customers.update(customer.id, normaliseProfile(body));
        if (!updated) throw notFound('customer');
        return json(200, updated);
      },
    },
    deps,
  );
}
