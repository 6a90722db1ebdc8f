/**
 * The records bucket on moto, configured as the data stack declares it in AWS (lib/constructs/records-bucket.ts):
 * versioning on, default encryption (SSE-S3), every public access blocked, and the lifecycle rules from policy
 * RECORDS (lib/records-rules.ts); moto keeps them and answers them back (it expires nothing). Not the TLS-only
 * bucket policy: moto enforces it, and the local runtime talks to moto over plain HTTP on loopback.
 */
import {
  BucketAlreadyOwnedByYou,
  CreateBucketCommand,
  PutBucketEncryptionCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  PutPublicAccessBlockCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { recordsLifecycleRules } from '#lib/records-rules';
import { s3ClientFromEnv } from '#shared/object-store';
import type { LocalStandIn } from '../stand-ins.ts';

/** A valid bucket name from a run's name prefix (lower case, digits and dashes, at most 63 characters). */
export function recordsBucketName(prefix: string): string {
  const name = `${prefix}formfleet-records`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+/, '');
  return name.slice(Math.max(0, name.length - 63));
}

/** Creates the bucket if it does not exist yet and (re)applies its configuration; returns its name. */
export async function createRecordsBucket(s3: S3Client, bucket: string): Promise<string> {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    if (!(err instanceof BucketAlreadyOwnedByYou)) throw err;
  }
  await s3.send(
    new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }),
  );
  await s3.send(
    new PutBucketEncryptionCommand({
      Bucket: bucket,
      ServerSideEncryptionConfiguration: {
        Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
    }),
  );
  await s3.send(
    new PutPublicAccessBlockCommand({
      Bucket: bucket,
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        IgnorePublicAcls: true,
        BlockPublicPolicy: true,
        RestrictPublicBuckets: true,
      },
    }),
  );
  await s3.send(
    new PutBucketLifecycleConfigurationCommand({
      Bucket: bucket,
      LifecycleConfiguration: {
        Rules: recordsLifecycleRules().map((rule) => ({
          ID: rule.id,
          Status: 'Enabled',
          Filter: { Prefix: rule.prefix },
          ...(rule.expireAfterDays !== undefined || rule.expiredDeleteMarkers
            ? {
                Expiration:
                  rule.expireAfterDays !== undefined
                    ? { Days: rule.expireAfterDays }
                    : { ExpiredObjectDeleteMarker: true },
              }
            : {}),
          ...(rule.noncurrentVersionDays !== undefined
            ? { NoncurrentVersionExpiration: { NoncurrentDays: rule.noncurrentVersionDays } }
            : {}),
          ...(rule.abortIncompleteUploadDays !== undefined
            ? { AbortIncompleteMultipartUpload: { DaysAfterInitiation: rule.abortIncompleteUploadDays } }
            : {}),
        })),
      },
    }),
  );
  return bucket;
}

/** The local stand-in: the bucket on moto, named after the run's prefix; RECORDS_BUCKET for the handlers. */
export const recordsBucket: LocalStandIn = {
  name: 'records bucket',
  async start({ awsEnv, prefix, log }) {
    const s3 = s3ClientFromEnv(awsEnv);
    const bucket = await createRecordsBucket(s3, recordsBucketName(prefix));
    log(`records bucket s3://${bucket}`);
    return {
      env: { RECORDS_BUCKET: bucket },
      stop: async () => s3.destroy(),
    };
  },
};
