/**
 * Proof per submission on the local runtime as a user meets it (issue 13): real Chromium on the fixture
 * sites, the records bucket on moto behind a proxy that can take S3 down, Postgres, the API over HTTP.
 *
 * 1. Every submit click leaves its proof: a screenshot of the filled form and of the result page in the
 *    bucket under evidence/<customer>/<job>/<directory>/<attempt>/, the facts on the ledger row, and
 *    presigned links in GET /v1/jobs/{id} and GET /v1/submissions for the owner key and an admin only.
 * 2. S3 down is not a lost submission: with S3 refusing every request, each directory is still submitted
 *    exactly once (the fixture sites' own counters), the runs end within the upload bound, the screenshots
 *    wait in Postgres as pending (never shown as stored); once S3 is back the stale-jobs run uploads them,
 *    and no click is repeated.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StaleJobsReport } from '#functions/recovery/stale-jobs';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { EVIDENCE } from '#policy';
import { recordsStoreFromEnv } from '#shared/object-store';
import { type S3Outage, s3Outage } from '#test/s3-outage';
import { eventually, motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';

let t: TestDatabase;
let system: LocalSystem;
let outage: S3Outage;
const OTHER_KEY = 'ffclient_proof_other_owner_key_0000000000';
/** The job's run waits this long at most for its uploads (EVIDENCE.uploadWaitAtJobEndMs, shortened). */
const UPLOAD_WAIT_MS = 3_000;

beforeAll(async () => {
  t = await testDatabase('proof_e2e', { migrate: false });
  outage = await s3Outage(motoEndpoint());
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('proof')}-`,
    extraClientKeys: { [OTHER_KEY]: 'other-client' },
    schedules: { timers: false },
    env: {
      // Every S3 request of the handlers goes through the proxy (the bucket is made on moto directly).
      AWS_ENDPOINT_URL_S3: outage.url,
      EVIDENCE_UPLOAD_TIMEOUT_MS: '2000',
      EVIDENCE_UPLOAD_WAIT_MS: String(UPLOAD_WAIT_MS),
      HEARTBEAT_INTERVAL_MS: '500',
    },
  });
});
afterAll(async () => {
  await system?.stop();
  await outage?.close();
  await t?.close();
});

// biome-ignore lint/suspicious/noExplicitAny: API bodies are inspected freely.
type Body = any;

async function api(path: string, init: { method?: string; body?: unknown; key?: string } = {}) {
  const res = await fetch(`${system.url}${path}`, {
    method: init.method ?? 'GET',
    headers: { 'content-type': 'application/json', 'x-api-key': init.key ?? system.keys.client },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Body };
}

const profileOf = (name: string) => ({
  name,
  email: `owner@${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}.test`,
  phone: '+1 555 0100',
  city: 'Springfield',
  description: 'Pipes, fixed.',
});

async function submitJob(
  name: string,
  directoryIds: string[],
): Promise<{ jobId: string; customerId: string }> {
  const customer = await api('/v1/customers', { method: 'POST', body: profileOf(name) });
  expect(customer.status).toBe(201);
  const job = await api('/v1/jobs', {
    method: 'POST',
    body: { customerId: customer.body.id, directoryIds, priority: 1 },
  });
  expect(job.status).toBe(202);
  return { jobId: job.body.id, customerId: customer.body.id };
}

async function finished(jobId: string): Promise<Body> {
  return eventually(
    `job ${jobId} to complete`,
    async () => {
      const res = await api(`/v1/jobs/${jobId}`);
      return res.body.status === 'completed' ? res.body : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 250 },
  );
}

/**
 * The SHA-256 the proof must carry, computed here from the directory's definition and the profile: the
 * values of its fill steps and selects, in step order, as JSON with sorted keys (field, step, value).
 */
function expectedTypedSha256(directoryId: string, profile: Record<string, string>): string {
  const definition = system.fixtures.directories().find((d) => d.id === directoryId)
    ?.definition as unknown as {
    steps: { action: string; field?: string; value?: string }[];
  };
  const typed: string[] = [];
  definition.steps.forEach((step, index) => {
    if (step.action !== 'fill' && step.action !== 'select') return;
    const value = step.value ?? (step.field ? profile[step.field] : undefined);
    if (!value) return;
    const field = step.field !== undefined ? `"field":${JSON.stringify(step.field)},` : '';
    typed.push(`{${field}"step":${index},"value":${JSON.stringify(value)}}`);
  });
  return createHash('sha256')
    .update(`[${typed.join(',')}]`)
    .digest('hex');
}

/** Fetches a stored screenshot through its presigned link and checks it is the JPEG the proof describes. */
async function expectStoredJpeg(image: Body): Promise<void> {
  expect(image).toMatchObject({ state: 'stored', contentType: 'image/jpeg', reason: null });
  expect(image.bytes).toBeLessThanOrEqual(EVIDENCE.maxImageBytes);
  expect(new URL(image.url).searchParams.get('X-Amz-Expires')).toBe(String(EVIDENCE.presignedUrlSeconds));
  const expiresIn = Date.parse(image.expiresAt) - Date.now();
  expect(expiresIn).toBeGreaterThan(EVIDENCE.presignedUrlSeconds * 1000 - 60_000);
  expect(expiresIn).toBeLessThanOrEqual(EVIDENCE.presignedUrlSeconds * 1000);
  const res = await fetch(image.url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('image/jpeg');
  const bytes = Buffer.from(await res.arrayBuffer());
  expect([...bytes.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
  expect(bytes.byteLength).toBe(image.bytes);
  expect(createHash('sha256').update(bytes).digest('hex')).toBe(image.sha256);
}

describe('proof per submission', () => {
  it('keeps both screenshots and the facts of every click, with presigned links for the owner and admins only', async () => {
    const name = 'Proof Plumbing';
    const directories = ['simple-form', 'multi-step-wizard', 'validation-error', 'captcha-widget'];
    const { jobId, customerId } = await submitJob(name, directories);
    const job = await finished(jobId);
    const byDirectory = Object.fromEntries(job.results.map((r: Body) => [r.directoryId, r]));

    // A directory that was sent has one proof per click; one never sent (a captcha before the click) none.
    expect(byDirectory['captcha-widget']).toMatchObject({ status: 'needs_manual', proofs: [] });
    const origin = (id: string) => system.fixtures.site(id).origin;
    const expectations: Record<string, { status: string; matched: Body; httpStatus: number }> = {
      'simple-form': { status: 'submitted', matched: { kind: 'success', index: 0 }, httpStatus: 200 },
      'multi-step-wizard': { status: 'submitted', matched: { kind: 'success', index: 0 }, httpStatus: 200 },
      // The site answers the post with 422 and its message: the row keeps the refusal and its proof.
      'validation-error': { status: 'failed', matched: { kind: 'failure', index: 0 }, httpStatus: 422 },
    };
    for (const [id, expected] of Object.entries(expectations)) {
      const result = byDirectory[id];
      expect(result.status, id).toBe(expected.status);
      expect(result.proofs, id).toHaveLength(1);
      const [proof] = result.proofs;
      expect(proof, id).toMatchObject({
        attempt: result.attempt,
        matched: expected.matched,
        httpStatus: expected.httpStatus,
      });
      expect(proof.finalUrl.startsWith(origin(id)), id).toBe(true);
      expect(proof.typedSha256, id).toBe(expectedTypedSha256(id, profileOf(name)));
      await expectStoredJpeg(proof.screenshots.form);
      await expectStoredJpeg(proof.screenshots.result);
      // Two pictures: the filled form before the click is not the page after it.
      expect(proof.screenshots.form.sha256).not.toBe(proof.screenshots.result.sha256);
      // In the bucket under the key layout the retention rule and the grants are written for.
      const store = recordsStoreFromEnv(system.env);
      for (const kind of ['form', 'result']) {
        expect(
          await store.exists(`evidence/${customerId}/${jobId}/${id}/${result.attempt}/${kind}.jpg`),
          `${id} ${kind}`,
        ).toBe(true);
      }
    }
    // Each site received the business once: the proof did not cost a click.
    for (const id of directories) {
      expect(system.fixtures.site(id).countsByName()[name] ?? 0, id).toBe(id === 'captcha-widget' ? 0 : 1);
    }

    // GET /v1/submissions shows the same proofs, to the owner and to an admin.
    for (const key of [system.keys.client, system.keys.admin]) {
      const page = await api(`/v1/submissions?jobId=${jobId}`, { key });
      expect(page.status).toBe(200);
      const simple = page.body.items.find((i: Body) => i.directoryId === 'simple-form');
      expect(simple.proofs[0].typedSha256).toBe(byDirectory['simple-form'].proofs[0].typedSha256);
      await expectStoredJpeg(simple.proofs[0].screenshots.result);
    }
    const asAdmin = await api(`/v1/jobs/${jobId}`, { key: system.keys.admin });
    await expectStoredJpeg(
      asAdmin.body.results.find((r: Body) => r.directoryId === 'simple-form').proofs[0].screenshots.form,
    );
    // Anyone else: the job and its rows do not exist for them, and nothing is signed for them.
    const other = await api(`/v1/jobs/${jobId}`, { key: OTHER_KEY });
    expect(other.status).toBe(404);
    expect(JSON.stringify(other.body)).not.toMatch(/X-Amz-Signature|evidence\//);
    const otherRows = await api(`/v1/submissions?jobId=${jobId}`, { key: OTHER_KEY });
    expect(otherRows.status).toBe(404);
    expect(JSON.stringify(otherRows.body)).not.toMatch(/X-Amz-Signature|evidence\//);
  });
});

describe('S3 down is not a lost submission', () => {
  it('submits each directory once while S3 refuses, keeps the screenshots pending, and uploads them once S3 is back', async () => {
    const directories = ['simple-form', 'multi-step-wizard', 'redirect-success'];
    const names = ['Outage Bakery', 'Outage Florist'];
    const refusedBefore = outage.refused;
    outage.down();
    let jobs: { jobId: string; customerId: string }[] = [];
    try {
      jobs = await Promise.all(names.map((n) => submitJob(n, directories)));
      for (const { jobId } of jobs) await finished(jobId);

      // Every screenshot is pending with its bytes kept in Postgres within the bound of the run's end...
      const pending = await eventually(
        'every screenshot of the two jobs to wait in Postgres',
        async () => {
          const { rows } = await system.db.query<{ state: string; kept: boolean }>(
            `SELECT o.state, o.body IS NOT NULL AS kept FROM evidence_objects o
             JOIN submissions s ON s.id = o.submission_id WHERE s.job_id = ANY($1::uuid[])`,
            [jobs.map((j) => j.jobId)],
          );
          const all = rows.length === names.length * directories.length * 2;
          return all && rows.every((r) => r.state === 'pending' && r.kept) ? rows : undefined;
        },
        { timeoutMs: UPLOAD_WAIT_MS + 10_000, intervalMs: 200 },
      );
      expect(pending).toHaveLength(12);
      expect(outage.refused).toBeGreaterThan(refusedBefore);

      // ...and never shown as stored: no link while S3 does not have it.
      for (const { jobId } of jobs) {
        const job = await api(`/v1/jobs/${jobId}`);
        for (const result of job.body.results) {
          expect(result.status).toBe('submitted');
          for (const image of Object.values(result.proofs[0].screenshots) as Body[]) {
            expect(image).toMatchObject({ state: 'pending', url: null, expiresAt: null });
          }
        }
      }
    } finally {
      outage.up();
    }

    // Each site received each business exactly once, S3 or not.
    for (const id of directories) {
      for (const n of names) expect(system.fixtures.site(id).countsByName()[n], `${id} ${n}`).toBe(1);
    }
    // The submissions did not wait for S3: every row was settled before its screenshots' upload gave up
    // (their bytes were kept after the row's outcome was recorded, while the worker had moved on).
    const { rows: order } = await system.db.query<{ settled_first: boolean }>(
      `SELECT s.finished_at < o.next_try_at AS settled_first FROM evidence_objects o
       JOIN submissions s ON s.id = o.submission_id WHERE s.job_id = ANY($1::uuid[])`,
      [jobs.map((j) => j.jobId)],
    );
    expect(order.map((r) => r.settled_first)).toEqual(order.map(() => true));

    // S3 is back: the scheduled run uploads what waited, and every row ends with its proof.
    const report = (await system.scheduler.runNow('stale-jobs')) as StaleJobsReport;
    expect(report.evidence).toMatchObject({ uploaded: 12, failed: 0, lost: 0 });
    for (const { jobId } of jobs) {
      const job = await api(`/v1/jobs/${jobId}`);
      for (const result of job.body.results) {
        expect(result).toMatchObject({ status: 'submitted', attempt: 1 });
        expect(result.proofs).toHaveLength(1);
        await expectStoredJpeg(result.proofs[0].screenshots.form);
        await expectStoredJpeg(result.proofs[0].screenshots.result);
      }
    }
    const { rows: left } = await system.db.query(
      `SELECT 1 FROM evidence_objects WHERE body IS NOT NULL OR state <> 'stored'`,
    );
    expect(left).toEqual([]);
    // No click was repeated: still one submission per business and site.
    for (const id of directories) {
      for (const n of names) expect(system.fixtures.site(id).countsByName()[n], `${id} ${n}`).toBe(1);
    }
  });
});
