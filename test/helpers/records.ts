/**
 * A records bucket of its own on the tests' moto (configured as the data stack's, local/services/records-bucket.ts),
 * and what the handlers build on it: the object store, RECORDS_BUCKET, the API's proof links.
 */
import { PresignedProofLinks } from '#functions/api/proofs';
import { motoEnv } from '#local/services/moto';
import { createRecordsBucket, recordsBucketName } from '#local/services/records-bucket';
import { EVIDENCE } from '#policy';
import type { Sql } from '#shared/db';
import { PgEvidenceStore } from '#shared/evidence-store';
import { PgMediaStore } from '#shared/media';
import { S3ObjectStore, s3ClientFromEnv } from '#shared/object-store';
import { motoEndpoint, uniqueName } from './services.ts';

export interface TestRecords {
  bucket: string;
  store: S3ObjectStore;
  /** RECORDS_BUCKET and moto's endpoint, for a handler's environment. */
  env: Record<string, string>;
}

export async function testRecords(label: string): Promise<TestRecords> {
  const env = motoEnv(motoEndpoint());
  const s3 = s3ClientFromEnv(env);
  const bucket = await createRecordsBucket(s3, recordsBucketName(`${uniqueName(label)}-`));
  return { bucket, store: new S3ObjectStore(s3, bucket), env: { ...env, RECORDS_BUCKET: bucket } };
}

/** The API's proof links over a database, signing for a bucket on moto (signing makes no request). */
export function proofLinksOn(db: Sql, bucket = 'test-formfleet-records'): PresignedProofLinks {
  return new PresignedProofLinks(
    new PgEvidenceStore(db, { pendingMaxBytes: EVIDENCE.pendingMaxBytes }),
    new S3ObjectStore(s3ClientFromEnv(motoEnv(motoEndpoint())), bucket),
    EVIDENCE.presignedUrlSeconds,
  );
}

/** The customers API's media ports over a database, on a records bucket on moto (default: one never written). */
export function mediaDepsOn(db: Sql, store?: S3ObjectStore): { media: PgMediaStore; records: S3ObjectStore } {
  return {
    media: new PgMediaStore(db),
    records: store ?? new S3ObjectStore(s3ClientFromEnv(motoEnv(motoEndpoint())), 'test-formfleet-records'),
  };
}
