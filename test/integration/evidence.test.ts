/**
 * Proof's parts on real Postgres, moto S3 (behind a proxy that can refuse or hang) and Chromium:
 * the records bucket as the data stack declares it, the S3 port, the evidence store's states (pending →
 * stored, kept bytes, lost with a reason, never claimed stored), the uploads' bound at a run's end, the
 * stale-jobs step that empties the evidence outbox. (Screenshots and the size policy: worker-form-engine.test.ts.)
 */
import {
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOST_WITH_WORKER, retryPendingEvidence } from '#functions/recovery/evidence-retry';
import { EvidenceUploads } from '#functions/worker/evidence-uploads';
import { recordsLifecycleRules } from '#lib/records-rules';
import { motoEnv } from '#local/services/moto';
import { createRecordsBucket } from '#local/services/records-bucket';
import { EVIDENCE } from '#policy';
import {
  type EvidenceObjectSpec,
  evidenceKey,
  PgEvidenceStore,
  type ProofFacts,
} from '#shared/evidence-store';
import { S3ObjectStore, s3ClientFromEnv, sha256Hex } from '#shared/object-store';
import { createLogger, createMetrics } from '#shared/telemetry';
import { type TestRecords, testRecords } from '#test/records';
import { type S3Outage, s3Outage } from '#test/s3-outage';
import { motoEndpoint, type TestDatabase, testDatabase } from '#test/services';

let t: TestDatabase;
let records: TestRecords;
let outage: S3Outage;
/** The same bucket, reached through the proxy that can take S3 down. */
let flaky: S3ObjectStore;

beforeAll(async () => {
  t = await testDatabase('evidence');
  records = await testRecords('evidence');
  outage = await s3Outage(motoEndpoint());
  flaky = new S3ObjectStore(
    s3ClientFromEnv({ ...motoEnv(motoEndpoint()), AWS_ENDPOINT_URL_S3: outage.url }),
    records.bucket,
  );
});
afterAll(async () => {
  await outage?.close();
  await t?.close();
});

const facts = (overrides: Partial<ProofFacts> = {}): ProofFacts => ({
  capturedAt: new Date().toISOString(),
  finalUrl: 'http://127.0.0.1:9/thanks',
  httpStatus: 200,
  matched: { kind: 'success', index: 0 },
  typedSha256: 'a'.repeat(64),
  notTaken: {},
  ...overrides,
});

let serial = 0;
/** A ledger row of its own (customer, directory, job, submission), clicked once. */
async function clickedRow(): Promise<{ submissionId: number; customerId: string; jobId: string }> {
  serial += 1;
  const directory = `dir-${serial}`;
  await t.db.query(
    `INSERT INTO directories (id, name, site, submission_url, category, tier, domain_authority, definition)
     VALUES ($1, $1, 'http://127.0.0.1:9', 'http://127.0.0.1:9/add', 'general', 1, 50, '{}')`,
    [directory],
  );
  const { rows } = await t.db.query<{ submission_id: number; customer_id: string; job_id: string }>(
    `WITH c AS (INSERT INTO customers (owner_key_id, name, email) VALUES ('k', 'Proof Co', 'p@p.test') RETURNING id),
          j AS (INSERT INTO jobs (customer_id, owner_key_id, priority, requested_priority)
                SELECT id, 'k', 1, 1 FROM c RETURNING id, customer_id)
     INSERT INTO submissions (job_id, directory_id, status, attempt)
     SELECT id, $1, 'submitted', 1 FROM j RETURNING id AS submission_id, customer_id, job_id`,
    [directory],
  );
  const row = rows[0] as { submission_id: number; customer_id: string; job_id: string };
  return { submissionId: Number(row.submission_id), customerId: row.customer_id, jobId: row.job_id };
}

/** A recorded proof with one object per body, pending; returns the objects' keys and bodies. */
async function recorded(store: PgEvidenceStore, bodies: Buffer[]) {
  const row = await clickedRow();
  const kinds = ['form', 'result'] as const;
  const objects = bodies.map((body, i) => ({
    spec: {
      key: evidenceKey({ ...row, directoryId: `dir-${serial}`, attempt: 1, kind: kinds[i] ?? 'form' }),
      kind: kinds[i] ?? 'form',
      contentType: 'image/jpeg',
      sizeBytes: body.byteLength,
      sha256: sha256Hex(body),
    } satisfies EvidenceObjectSpec,
    body,
  }));
  await store.record(
    row.submissionId,
    1,
    facts(),
    objects.map((o) => o.spec),
  );
  return { row, objects };
}

const stateOf = async (key: string) =>
  (
    await t.db.query<{ state: string; kept: boolean; tries: number; lost_reason: string | null }>(
      'SELECT state, body IS NOT NULL AS kept, tries, lost_reason FROM evidence_objects WHERE key = $1',
      [key],
    )
  ).rows[0];

const retryOptions = {
  batchSize: 50,
  retryBaseSeconds: 60,
  retryMaxSeconds: 3600,
  uploadTimeoutMs: 2_000,
  orphanAfterSeconds: 3_600,
};
const quiet = { logger: createLogger('test'), metrics: createMetrics('test') };

describe('the records bucket and its port', () => {
  it('is made on moto as the data stack declares it: versioned, SSE-S3, no public access, the policy lifecycle', async () => {
    const s3 = s3ClientFromEnv(motoEnv(motoEndpoint()));
    // Made twice (a restart of the local runtime): the same bucket, the same settings.
    await createRecordsBucket(s3, records.bucket);
    const Bucket = records.bucket;
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket }))).Status).toBe('Enabled');
    expect(
      (await s3.send(new GetBucketEncryptionCommand({ Bucket }))).ServerSideEncryptionConfiguration
        ?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm,
    ).toBe('AES256');
    expect(
      (await s3.send(new GetPublicAccessBlockCommand({ Bucket }))).PublicAccessBlockConfiguration,
    ).toEqual({
      BlockPublicAcls: true,
      IgnorePublicAcls: true,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: true,
    });
    const rules = (await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket }))).Rules ?? [];
    expect(rules.map((r) => [r.ID, r.Filter?.Prefix, r.Expiration?.Days])).toEqual(
      recordsLifecycleRules().map((r) => [r.id, r.prefix, r.expireAfterDays]),
    );
    expect(rules.at(-1)).toMatchObject({
      NoncurrentVersionExpiration: { NoncurrentDays: 30 },
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      Expiration: { ExpiredObjectDeleteMarker: true },
    });
  });

  it('puts, reads back, finds and signs an object; the link opens it, and only that key is "there"', async () => {
    const body = Buffer.from('not really a jpeg');
    const key = 'evidence/port/check/1/form.jpg';
    await records.store.put(key, body, { contentType: 'image/jpeg', sha256: sha256Hex(body) });
    expect(Buffer.from((await records.store.get(key)) ?? [])).toEqual(body);
    expect(await records.store.get('evidence/port/nothing.jpg')).toBeUndefined();
    expect(await records.store.exists(key)).toBe(true);
    // A prefix of the key is not the key.
    expect(await records.store.exists('evidence/port/check/1/form')).toBe(false);
    const url = await records.store.presignGet(key, { expiresInSeconds: 60, contentType: 'image/jpeg' });
    expect(new URL(url).searchParams.get('X-Amz-Expires')).toBe('60');
    const res = await fetch(url);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await res.arrayBuffer())).toEqual(body);
  });
});

describe('the evidence store', () => {
  it('keeps bytes for a retry up to its ceiling, then records the upload lost, never stored', async () => {
    const store = new PgEvidenceStore(t.db, { pendingMaxBytes: 1_000 });
    const { objects } = await recorded(store, [Buffer.alloc(600, 1), Buffer.alloc(600, 2)]);
    const [first, second] = objects as [(typeof objects)[0], (typeof objects)[0]];
    expect(await store.keep(first.spec.key, first.body, 'S3 said 503', 0)).toBe('kept');
    // 600 + 600 is over the 1,000-byte ceiling: the second is recorded lost, with the reason.
    expect(await store.keep(second.spec.key, second.body, 'S3 said 503', 0)).toBe('lost');
    expect(await stateOf(first.spec.key)).toMatchObject({ state: 'pending', kept: true, tries: 1 });
    const lost = await stateOf(second.spec.key);
    expect(lost).toMatchObject({ state: 'lost', kept: false });
    expect(lost?.lost_reason).toMatch(/ceiling \(1000 bytes\)/);
    // Keeping what is no longer pending changes nothing.
    await store.markStored(first.spec.key);
    expect(await store.keep(first.spec.key, first.body, 'late', 0)).toBe('settled');
    expect(await stateOf(first.spec.key)).toMatchObject({ state: 'stored', kept: false });
    // The bucket's word wins: an object found in S3 after all is stored, whatever it was recorded as.
    await store.markStored(second.spec.key);
    expect(await stateOf(second.spec.key)).toMatchObject({ state: 'stored', kept: false });
  });

  it('shows each click of a row with its objects, and records a proof once per attempt', async () => {
    const store = new PgEvidenceStore(t.db, { pendingMaxBytes: EVIDENCE.pendingMaxBytes });
    const { row, objects } = await recorded(store, [Buffer.from('form'), Buffer.from('result')]);
    // Recording the same attempt again (a repeated hand-over) adds nothing.
    await store.record(row.submissionId, 1, facts({ httpStatus: 500 }), []);
    await store.markStored(objects[0]?.spec.key as string);
    const [proof, ...more] = (await store.proofsOf([row.submissionId])).get(row.submissionId) ?? [];
    expect(more).toEqual([]);
    expect(proof).toMatchObject({ attempt: 1, httpStatus: 200, matched: { kind: 'success', index: 0 } });
    expect(proof?.objects.map((o) => [o.kind, o.state, o.sizeBytes])).toEqual([
      ['form', 'stored', 4],
      ['result', 'pending', 6],
    ]);
  });
});

describe('uploads off the critical path', () => {
  /** The worker's uploader over this file's database and the S3 that can go down. */
  const uploadsWaiting = (uploadWaitAtJobEndMs: number) => {
    const store = new PgEvidenceStore(t.db, { pendingMaxBytes: EVIDENCE.pendingMaxBytes });
    const options = { capture: EVIDENCE, uploadTimeoutMs: 4_000, uploadWaitAtJobEndMs };
    return { store, uploads: new EvidenceUploads(store, flaky, options, quiet.logger, quiet.metrics) };
  };

  const click = (row: Awaited<ReturnType<typeof clickedRow>>, bytes: Buffer) => ({
    jobId: row.jobId,
    customerId: row.customerId,
    directoryId: `dir-${serial}`,
    submissionId: row.submissionId,
    attempt: 1,
    proof: {
      decidedAt: new Date().toISOString(),
      finalUrl: 'http://127.0.0.1:9/thanks',
      httpStatus: 200,
      matched: null,
      typedSha256: 'b'.repeat(64),
      form: { taken: true as const, shot: { bytes, quality: 60, fullPage: true } },
      resultPageOpen: true,
    },
    result: Promise.resolve({ taken: false as const, reason: 'the page was gone' }),
  });

  it('waits at a run’s end only within its bound, keeping in Postgres what S3 has not taken by then', async () => {
    const { store, uploads } = uploadsWaiting(500);
    const row = await clickedRow();
    const bytes = Buffer.from('a filled form');
    outage.down('hang');
    try {
      uploads.keep(click(row, bytes));
      const started = Date.now();
      const report = await uploads.settle(row.jobId);
      // The run waited its bound, not the upload's timeout, and kept the bytes.
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(report).toEqual({ waitedFor: 1, kept: 1 });
      const key = evidenceKey({ ...row, directoryId: `dir-${serial}`, attempt: 1, kind: 'form' });
      expect(await stateOf(key)).toMatchObject({ state: 'pending', kept: true });
      const [proof] = (await store.proofsOf([row.submissionId])).get(row.submissionId) ?? [];
      expect(proof?.notTaken).toEqual({ result: 'the page was gone' });
    } finally {
      outage.up();
    }
    // The stale-jobs step uploads what was kept, once S3 answers.
    const key = evidenceKey({ ...row, directoryId: `dir-${serial}`, attempt: 1, kind: 'form' });
    expect(
      await retryPendingEvidence({ store, objects: flaky, ...quiet, options: retryOptions }),
    ).toMatchObject({
      uploaded: 1,
    });
    expect(await stateOf(key)).toMatchObject({ state: 'stored', kept: false });
    expect(Buffer.from((await records.store.get(key)) ?? [])).toEqual(bytes);
  });

  it('records the facts and stores the screenshot while S3 answers, with the bytes S3 holds', async () => {
    const { uploads } = uploadsWaiting(5_000);
    const row = await clickedRow();
    const bytes = Buffer.from('another filled form');
    uploads.keep(click(row, bytes));
    expect(await uploads.settle(row.jobId)).toEqual({ waitedFor: 1, kept: 0 });
    const key = evidenceKey({ ...row, directoryId: `dir-${serial}`, attempt: 1, kind: 'form' });
    expect(await stateOf(key)).toMatchObject({ state: 'stored', kept: false });
    expect(Buffer.from((await records.store.get(key)) ?? [])).toEqual(bytes);
  });
});

describe('the evidence outbox (stale-jobs step)', () => {
  it('uploads kept screenshots, stops after two refusals while S3 is down, and hands the rest back untried', async () => {
    const store = new PgEvidenceStore(t.db, { pendingMaxBytes: EVIDENCE.pendingMaxBytes });
    // Other tests' kept bytes would be taken too: none is left kept by now, and each kept here is ours.
    const kept: { key: string; body: Buffer }[] = [];
    for (let i = 0; i < 2; i++) {
      const { objects } = await recorded(store, [
        Buffer.from(`kept form ${i}`),
        Buffer.from(`kept result ${i}`),
      ]);
      for (const o of objects) {
        expect(await store.keep(o.spec.key, o.body, 'S3 said 503', 0)).toBe('kept');
        kept.push({ key: o.spec.key, body: o.body });
      }
    }
    outage.down();
    const during = await retryPendingEvidence({ store, objects: flaky, ...quiet, options: retryOptions });
    outage.up();
    expect(during).toEqual({ uploaded: 0, failed: 2, foundStored: 0, lost: 0 });
    const states = await Promise.all(kept.map((k) => stateOf(k.key)));
    // Two tried and failed (tries 2, due later); the other two handed back untried (tries 1, due now).
    expect(states.map((s) => s?.tries).sort()).toEqual([1, 1, 2, 2]);
    expect(states.every((s) => s?.state === 'pending' && s.kept)).toBe(true);
    const { rows: due } = await t.db.query<{ key: string }>(
      `SELECT key FROM evidence_objects WHERE key = ANY($1) AND next_try_at <= now()`,
      [kept.map((k) => k.key)],
    );
    expect(due).toHaveLength(2);

    const after = await retryPendingEvidence({ store, objects: flaky, ...quiet, options: retryOptions });
    expect(after).toMatchObject({ uploaded: 2, failed: 0 });
    // The two that failed are due after their backoff: make them due now, as time would.
    await t.db.query(`UPDATE evidence_objects SET next_try_at = now() WHERE key = ANY($1)`, [
      kept.map((k) => k.key),
    ]);
    expect(
      await retryPendingEvidence({ store, objects: flaky, ...quiet, options: retryOptions }),
    ).toMatchObject({
      uploaded: 2,
    });
    for (const k of kept) {
      expect(await stateOf(k.key)).toMatchObject({ state: 'stored', kept: false });
      expect(Buffer.from((await records.store.get(k.key)) ?? [])).toEqual(k.body);
    }
  });

  it('settles screenshots whose bytes went with their worker: stored if S3 has them, lost otherwise', async () => {
    const store = new PgEvidenceStore(t.db, { pendingMaxBytes: EVIDENCE.pendingMaxBytes });
    const { objects } = await recorded(store, [
      Buffer.from('uploaded, never marked'),
      Buffer.from('never uploaded'),
    ]);
    const [arrived, gone] = objects as [(typeof objects)[0], (typeof objects)[0]];
    // The worker's put reached S3 but it died before marking it; the other's bytes died with it.
    await records.store.put(arrived.spec.key, arrived.body, { contentType: 'image/jpeg' });
    const young = await retryPendingEvidence({ store, objects: flaky, ...quiet, options: retryOptions });
    // Younger than the orphan age, a worker may still hold them: left alone.
    expect(young).toMatchObject({ foundStored: 0, lost: 0 });
    await t.db.query(
      `UPDATE evidence_objects SET created_at = now() - interval '2 hours' WHERE key = ANY($1)`,
      [[arrived.spec.key, gone.spec.key]],
    );
    const report = await retryPendingEvidence({ store, objects: flaky, ...quiet, options: retryOptions });
    expect(report).toMatchObject({ foundStored: 1, lost: 1 });
    expect(await stateOf(arrived.spec.key)).toMatchObject({ state: 'stored' });
    expect(await stateOf(gone.spec.key)).toMatchObject({ state: 'lost', lost_reason: LOST_WITH_WORKER });
  });
});
