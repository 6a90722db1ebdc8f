/** The customers API: the business profiles jobs submit, each visible only to its owner key (and admins). */
import { MEDIA, type MediaContentType } from '#policy';
import { type Customer, type CustomerStore, PROFILE_FIELDS, type Profile } from '#shared/customer-store';
import { imageProblem, type MediaKind, type MediaStore, mediaKey } from '#shared/media';
import { type ObjectStore, sha256Hex } from '#shared/object-store';
import { canonicalCategory } from './categories.ts';
import { type Caller, canSee, HttpError, json, notFound } from './http.ts';
import { type ApiBaseDeps, type ApiHandler, makeApiHandler, type RouteRequest } from './router.ts';

export interface CustomersApiDeps extends ApiBaseDeps {
  customers: CustomerStore;
  /** Uploads of customers' images, and the records bucket they go to (media/). */
  media: MediaStore;
  records: ObjectStore;
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
      'POST /v1/customers/{id}/media': async ({
        caller,
        params,
        body,
      }: RouteRequest<{ kind?: MediaKind; contentType: MediaContentType }>) => {
        const customer = await visibleCustomer(caller, params.id);
        const media = await deps.media.create(customer.id, body.kind ?? 'logo', body.contentType);
        const upload = await deps.records.presignPost(mediaKey(customer.id, media.id), {
          contentType: media.contentType,
          maxBytes: MEDIA.maxBytes,
          expiresInSeconds: MEDIA.uploadUrlSeconds,
        });
        return json(201, { media, upload, maxBytes: MEDIA.maxBytes });
      },
      'POST /v1/customers/{id}/media/{mediaId}/complete': async ({ caller, params }: RouteRequest) => {
        const customer = await visibleCustomer(caller, params.id);
        const media = await deps.media.get(customer.id, params.mediaId ?? '');
        if (!media) throw notFound('media');
        if (media.status === 'ready') return json(200, media);
        if (media.status === 'rejected')
          throw new HttpError(409, 'media_rejected', `this upload was rejected: ${media.reason}`);
        const key = mediaKey(customer.id, media.id);
        // The size first: a file over the limit is refused without reading it.
        const size = await deps.records.size(key);
        if (size === undefined)
          throw new HttpError(409, 'upload_missing', 'nothing has been uploaded for this media yet');
        const bytes = size > MEDIA.maxBytes ? undefined : await deps.records.get(key);
        const problem = bytes
          ? imageProblem(bytes, media.contentType)
          : `the file is ${size} bytes, more than ${MEDIA.maxBytes}`;
        const decided =
          bytes && !problem
            ? await deps.media.markReady(media, bytes.byteLength, sha256Hex(bytes))
            : await deps.media.markRejected(media, problem ?? 'the file could not be read');
        // Undefined: another completion of the same upload decided first; answer with what it decided.
        const settled = decided ?? (await deps.media.get(customer.id, media.id));
        if (settled?.status === 'ready') return json(200, settled);
        throw new HttpError(422, 'media_rejected', `${settled?.reason ?? problem}; upload another image`);
      },
    },
    deps,
  );
}
