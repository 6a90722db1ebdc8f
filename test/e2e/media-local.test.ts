/**
 * A customer's logo through the whole local system, as an API client and a directory meet it: the image
 * uploaded straight to the records bucket (moto) through the presigned POST the API hands out, completed
 * (its bytes checked), then one job to the two logo fixture sites (local/fixtures/media-sites.ts) with the
 * worker's real Chromium. Each site parses the multipart upload itself and records what arrived: the test
 * compares its SHA-256 at the far end with the bytes the client sent. A customer without a logo: the
 * optional upload is skipped and that site still gets the business; the required one fails saying why.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mediaVariants } from '#local/fixtures/media-sites';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { jobFinished, localApi } from '#test/local-api';
import { motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';
import { FAST_WORKER_ENV } from '#test/worker-jobs';

let t: TestDatabase;
let system: LocalSystem;

const api = localApi(() => system);

beforeAll(async () => {
  t = await testDatabase('media_local', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('media')}-`,
    schedules: { timers: false },
    fixtures: mediaVariants(),
    env: FAST_WORKER_ENV,
  });
});
afterAll(async () => {
  await system?.stop();
  await t?.close();
});

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

const finished = (jobId: string) => jobFinished(api, jobId);

const received = (id: string, name: string) =>
  system.fixtures.site(id).submissions.filter((s) => s.fields.business_name === name);

async function jobFor(customerId: string) {
  const job = await api('/v1/jobs', {
    method: 'POST',
    body: { customerId, directoryIds: ['logo-form', 'logo-optional'], priority: 1 },
  });
  expect(job.status).toBe(202);
  const done = await finished(job.body.id);
  return Object.fromEntries(
    (done.results as { directoryId: string; status: string; error: string | null }[]).map((r) => [
      r.directoryId,
      r,
    ]),
  );
}

describe('logos end to end', () => {
  it('the bytes a directory receives are exactly the ones the client uploaded', async () => {
    const name = 'Blue Door Roasters';
    const customer = await api('/v1/customers', {
      method: 'POST',
      body: { name, email: 'hello@blue-door.test' },
    });
    expect(customer.status).toBe(201);
    const start = await api(`/v1/customers/${customer.body.id}/media`, {
      method: 'POST',
      body: { kind: 'logo', contentType: 'image/jpeg' },
    });
    expect(start.status).toBe(201);
    // A JPEG's first bytes, then 300 KB of noise: a real logo's size, and bytes no re-encoding would keep.
    const logo = new Uint8Array(randomBytes(300_000));
    logo.set([0xff, 0xd8, 0xff, 0xe0]);
    const form = new FormData();
    for (const [field, value] of Object.entries(start.body.upload.fields as Record<string, string>))
      form.append(field, value);
    form.append('file', new Blob([logo], { type: 'image/jpeg' }), 'logo.jpg');
    const uploaded = await fetch(start.body.upload.url, { method: 'POST', body: form });
    expect(uploaded.status).toBe(204);
    const done = await api(`/v1/customers/${customer.body.id}/media/${start.body.media.id}/complete`, {
      method: 'POST',
    });
    expect(done.status).toBe(200);
    expect(done.body.sha256).toBe(sha256(logo));

    const results = await jobFor(customer.body.id);
    expect(results['logo-form']?.status).toBe('submitted');
    expect(results['logo-optional']?.status).toBe('submitted');
    for (const site of ['logo-form', 'logo-optional']) {
      const got = received(site, name);
      expect(got).toHaveLength(1);
      expect(got[0]?.fields).toMatchObject({
        logo_sha256: sha256(logo),
        logo_bytes: String(logo.byteLength),
        logo_type: 'image/jpeg',
      });
      expect(got[0]?.fields.logo_name).toMatch(/\.jpg$/);
    }
  });

  it('without a logo: the optional upload is skipped, the required one fails saying so, nothing sent there', async () => {
    const name = 'No Picture Plumbing';
    const customer = await api('/v1/customers', {
      method: 'POST',
      body: { name, email: 'hello@no-picture.test' },
    });
    // A mislabelled upload (text declared as PNG) is refused and never becomes the logo.
    const start = await api(`/v1/customers/${customer.body.id}/media`, {
      method: 'POST',
      body: { contentType: 'image/png' },
    });
    const form = new FormData();
    for (const [field, value] of Object.entries(start.body.upload.fields as Record<string, string>))
      form.append(field, value);
    form.append('file', new Blob(['not a picture'], { type: 'image/png' }), 'logo.png');
    expect((await fetch(start.body.upload.url, { method: 'POST', body: form })).status).toBe(204);
    const refused = await api(`/v1/customers/${customer.body.id}/media/${start.body.media.id}/complete`, {
      method: 'POST',
    });
    expect(refused.status).toBe(422);
    expect((await api(`/v1/customers/${customer.body.id}`)).body.logo).toBeNull();

    const results = await jobFor(customer.body.id);
    expect(results['logo-optional']?.status).toBe('submitted');
    const optional = received('logo-optional', name);
    expect(optional).toHaveLength(1);
    expect(optional[0]?.fields.logo_sha256).toBeUndefined();
    expect(results['logo-form']?.status).toBe('failed');
    expect(results['logo-form']?.error).toMatch(/no logo/);
    expect(received('logo-form', name)).toHaveLength(0);
  });
});
