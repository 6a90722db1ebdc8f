/**
 * Customers' logos through the customers API on a real Postgres and a records bucket on moto: the presigned
 * POST as S3 would enforce it (its policy's conditions), the upload sent through it as a browser sends a
 * form, then the stored bytes checked on completion. Bad input (another type, an oversized or mislabelled
 * file, no upload yet) is each a clear answer, and the profile keeps its last good logo.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCustomersApi } from '#functions/api/customers';
import type { ApiHandler } from '#functions/api/router';
import { MEDIA } from '#policy';
import { PgCustomerStore } from '#shared/customer-store';
import { mediaKey, sniffImage } from '#shared/media';
import { sha256Hex } from '#shared/object-store';
import { ADMIN_KEY_ID, baseDeps, call } from '#test/api';
import { mediaDepsOn, type TestRecords, testRecords } from '#test/records';
import { type TestDatabase, testDatabase } from '#test/services';

let t: TestDatabase;
let records: TestRecords;
let api: ApiHandler;

beforeAll(async () => {
  t = await testDatabase('api_media');
  records = await testRecords('media');
  api = makeCustomersApi({
    ...baseDeps(t.db),
    customers: new PgCustomerStore(t.db),
    ...mediaDepsOn(t.db, records.store),
  });
});
afterAll(async () => t?.close());

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** A file of `size` bytes that starts as a PNG does (the rest random). */
function pngBytes(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(randomBytes(size));
  bytes.set(PNG_SIGNATURE);
  return bytes;
}
const jpegBytes = (size: number) => {
  const bytes = new Uint8Array(randomBytes(size));
  bytes.set([0xff, 0xd8, 0xff, 0xe0]);
  return bytes;
};
const webpBytes = (size: number) => {
  const bytes = new Uint8Array(randomBytes(size));
  bytes.set([...Buffer.from('RIFF'), 0, 0, 0, 0, ...Buffer.from('WEBP')]);
  return bytes;
};

async function customer(apiKeyId = 'client-a'): Promise<string> {
  const res = await call(api, 'POST', '/v1/customers', {
    apiKeyId,
    body: { name: 'Logo Bakery', email: 'logo@bakery.test' },
  });
  expect(res.status).toBe(201);
  expect(res.body.logo).toBeNull();
  return res.body.id;
}

/** Sends the file through the presigned POST as an HTML form would: every field, then `file`. */
async function upload(
  form: { url: string; fields: Record<string, string> },
  bytes: Uint8Array,
  type: string,
) {
  const body = new FormData();
  for (const [name, value] of Object.entries(form.fields)) body.append(name, value);
  body.append('file', new Blob([Buffer.from(bytes)], { type }), 'logo');
  const res = await fetch(form.url, { method: 'POST', body });
  expect(res.status).toBe(204);
}

async function start(customerId: string, contentType: string, apiKeyId = 'client-a') {
  const res = await call(api, 'POST', `/v1/customers/${customerId}/media`, {
    apiKeyId,
    body: { kind: 'logo', contentType },
  });
  expect(res.status).toBe(201);
  return res.body as {
    media: { id: string; status: string };
    upload: { url: string; fields: Record<string, string>; expiresAt: string };
  };
}

const complete = (customerId: string, mediaId: string, apiKeyId = 'client-a') =>
  call(api, 'POST', `/v1/customers/${customerId}/media/${mediaId}/complete`, { apiKeyId });

describe('magic numbers', () => {
  it('tells PNG, JPEG and WebP apart, and nothing else is an image', () => {
    expect(sniffImage(pngBytes(64))).toBe('image/png');
    expect(sniffImage(jpegBytes(64))).toBe('image/jpeg');
    expect(sniffImage(webpBytes(64))).toBe('image/webp');
    expect(sniffImage(Buffer.from('GIF89a........'))).toBeUndefined();
    expect(sniffImage(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBeUndefined();
    expect(sniffImage(new Uint8Array([0x89, 0x50]))).toBeUndefined();
    expect(sniffImage(Buffer.from('RIFF\0\0\0\0WAVE'))).toBeUndefined();
  });
});

describe('POST /v1/customers/{id}/media', () => {
  it('signs a POST for exactly this key and type, at most MEDIA.maxBytes, expiring by policy', async () => {
    const id = await customer();
    const before = Date.now();
    const { media, upload: form } = await start(id, 'image/png');
    expect(media.status).toBe('pending');
    expect(form.url.endsWith(`/${records.bucket}`)).toBe(true);
    expect(form.fields.key).toBe(mediaKey(id, media.id));
    expect(form.fields['Content-Type']).toBe('image/png');
    const policy = JSON.parse(Buffer.from(form.fields.Policy as string, 'base64').toString('utf8'));
    expect(policy.conditions).toEqual(
      expect.arrayContaining([
        { bucket: records.bucket },
        ['content-length-range', 1, MEDIA.maxBytes],
        { key: mediaKey(id, media.id) },
        { 'Content-Type': 'image/png' },
      ]),
    );
    const expires = Date.parse(policy.expiration);
    expect(expires).toBe(Date.parse(form.expiresAt));
    expect(expires - before).toBeGreaterThanOrEqual(MEDIA.uploadUrlSeconds * 1000 - 1_000);
    expect(expires - before).toBeLessThanOrEqual(MEDIA.uploadUrlSeconds * 1000 + 5_000);
    expect(form.fields['X-Amz-Signature']).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses another content type with a 400 naming the field, and nothing is created', async () => {
    const id = await customer();
    for (const contentType of ['image/gif', 'image/svg+xml', 'application/pdf', 'text/html']) {
      const res = await call(api, 'POST', `/v1/customers/${id}/media`, {
        apiKeyId: 'client-a',
        body: { contentType },
      });
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body)).toContain('contentType');
    }
    const { rows } = await t.db.query('SELECT 1 FROM customer_media WHERE customer_id = $1', [id]);
    expect(rows).toHaveLength(0);
  });

  it("is the owner's and admins': another client key gets a 404", async () => {
    const id = await customer('client-a');
    const other = await call(api, 'POST', `/v1/customers/${id}/media`, {
      apiKeyId: 'client-b',
      body: { contentType: 'image/png' },
    });
    expect(other.status).toBe(404);
    const admin = await call(api, 'POST', `/v1/customers/${id}/media`, {
      apiKeyId: ADMIN_KEY_ID,
      body: { contentType: 'image/png' },
    });
    expect(admin.status).toBe(201);
  });
});

describe('POST /v1/customers/{id}/media/{mediaId}/complete', () => {
  it('a 5 MB image uploads to S3 and becomes the logo, its bytes and hash as sent', async () => {
    const id = await customer();
    const bytes = pngBytes(MEDIA.maxBytes);
    const { media, upload: form } = await start(id, 'image/png');
    await upload(form, bytes, 'image/png');
    const res = await complete(id, media.id);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ready', sizeBytes: MEDIA.maxBytes, sha256: sha256Hex(bytes) });
    const stored = await records.store.get(mediaKey(id, media.id));
    expect(sha256Hex(stored as Uint8Array)).toBe(sha256Hex(bytes));
    const got = await call(api, 'GET', `/v1/customers/${id}`, { apiKeyId: 'client-a' });
    expect(got.body.logo).toEqual({
      id: media.id,
      contentType: 'image/png',
      sizeBytes: MEDIA.maxBytes,
      sha256: sha256Hex(bytes),
    });
    // Completing again answers the same; nothing changes.
    const again = await complete(id, media.id);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(res.body);
  });

  it('before anything is uploaded: 409 upload_missing, and the upload may still complete later', async () => {
    const id = await customer();
    const { media, upload: form } = await start(id, 'image/webp');
    const early = await complete(id, media.id);
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe('upload_missing');
    const bytes = webpBytes(2_000);
    await upload(form, bytes, 'image/webp');
    const late = await complete(id, media.id);
    expect(late.status).toBe(200);
    expect(late.body.sha256).toBe(sha256Hex(bytes));
  });

  it('bytes that are not the declared image, or an oversized file: 422, rejected, the old logo kept', async () => {
    const id = await customer();
    const good = jpegBytes(10_000);
    const first = await start(id, 'image/jpeg');
    await upload(first.upload, good, 'image/jpeg');
    expect((await complete(id, first.media.id)).status).toBe(200);

    const cases: [declared: string, bytes: Uint8Array, reason: RegExp][] = [
      ['image/png', jpegBytes(5_000), /image\/jpeg, not the image\/png/],
      ['image/webp', Buffer.from('<html><script>alert(1)</script></html>'), /not a image\/webp image/],
      ['image/png', pngBytes(MEDIA.maxBytes + 1), /more than 5242880/],
    ];
    for (const [declared, bytes, reason] of cases) {
      const { media, upload: form } = await start(id, declared);
      // moto does not enforce a POST policy's conditions (S3 does): the API's own check is the last word.
      await upload(form, bytes, declared);
      const res = await complete(id, media.id);
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('media_rejected');
      expect(res.body.error.message).toMatch(reason);
      const row = await t.db.query<{ status: string; reason: string }>(
        'SELECT status, reason FROM customer_media WHERE id = $1',
        [media.id],
      );
      expect(row.rows[0]?.status).toBe('rejected');
      expect(row.rows[0]?.reason).toMatch(reason);
      // A rejected upload stays rejected: completing it again is a 409 saying why.
      const again = await complete(id, media.id);
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('media_rejected');
      expect(again.body.error.message).toMatch(reason);
    }
    const got = await call(api, 'GET', `/v1/customers/${id}`, { apiKeyId: 'client-a' });
    expect(got.body.logo).toMatchObject({ id: first.media.id, sha256: sha256Hex(good) });
  });

  it('two completions at once: one decides, both answer what it decided, the logo set once', async () => {
    const id = await customer();
    const bytes = pngBytes(50_000);
    const { media, upload: form } = await start(id, 'image/png');
    await upload(form, bytes, 'image/png');
    const [a, b] = await Promise.all([complete(id, media.id), complete(id, media.id)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body).toEqual(b.body);
    const { rows } = await t.db.query<{ logo_media_id: string }>(
      'SELECT logo_media_id FROM customers WHERE id = $1',
      [id],
    );
    expect(rows[0]?.logo_media_id).toBe(media.id);
  });

  it('an unknown upload, or another customer’s, is a 404', async () => {
    const a = await customer();
    const b = await customer();
    const { media } = await start(a, 'image/png');
    expect((await complete(b, media.id)).status).toBe(404);
    expect((await complete(a, '00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await complete(a, media.id, 'client-b')).status).toBe(404);
  });
});
