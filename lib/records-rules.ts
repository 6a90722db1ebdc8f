/**
 * The records bucket's lifecycle rules as plain data, from policy RECORDS: one rule per prefix (its objects
 * expire after the prefix's days), and one bucket-wide rule for noncurrent versions, expired delete markers
 * and abandoned multipart uploads. The CDK construct (lib/constructs/records-bucket.ts) and the local
 * runtime's moto bucket (local/services/records-bucket.ts) are both built from this, so they cannot differ.
 */
import { RECORDS, type RecordsPrefix } from '#policy';

export interface RecordsLifecycleRule {
  /** Rule id as S3 shows it. */
  readonly id: string;
  /** Key prefix the rule applies to; '' for the whole bucket. */
  readonly prefix: string;
  /** Current versions are deleted (a delete marker, with versioning) this many days after being written. */
  readonly expireAfterDays?: number;
  /** Noncurrent versions are removed this many days after they stopped being current. */
  readonly noncurrentVersionDays?: number;
  /** Delete markers with no version left behind them are removed. */
  readonly expiredDeleteMarkers?: boolean;
  /** Parts of an unfinished multipart upload are removed after this many days. */
  readonly abortIncompleteUploadDays?: number;
}

export function recordsLifecycleRules(
  prefixes: Readonly<Record<string, RecordsPrefix>> = RECORDS.prefixes,
): RecordsLifecycleRule[] {
  return [
    // A prefix kept for good (expireAfterDays null) has no rule of its own.
    ...Object.entries(prefixes).flatMap(([name, p]) =>
      p.expireAfterDays === null
        ? []
        : [{ id: `expire-${name}`, prefix: p.prefix, expireAfterDays: p.expireAfterDays }],
    ),
    {
      id: 'noncurrent-versions-and-unfinished-uploads',
      prefix: '',
      noncurrentVersionDays: RECORDS.noncurrentVersionDays,
      expiredDeleteMarkers: true,
      abortIncompleteUploadDays: RECORDS.abortIncompleteUploadDays,
    },
  ];
}
