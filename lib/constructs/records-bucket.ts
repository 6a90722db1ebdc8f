/**
 * RecordsBucket: the one S3 bucket per stage for what formfleet keeps as files, a prefix per kind (policy
 * RECORDS: `evidence/` now; inbound mail and archives as they arrive), each with its lifecycle rule.
 *
 * - Encryption: S3-managed keys (SSE-S3). The objects are screenshots of the business profile a customer
 *   publishes on directories (and, later, verification mail sent to aliases formfleet owns); who may read
 *   them is decided by IAM (prefix-scoped grants, `HouseFunction.bindRecords`) and this bucket's policy. A
 *   customer-managed KMS key would add a second gate only for principals of this account that already hold
 *   s3:GetObject, and would cost a KMS grant on every function and a key-policy statement for SES's receipt
 *   rule, and a KMS request per screenshot (or a bucket key), with no reader it keeps out that IAM lets in.
 * - TLS only (a bucket policy denies any request without it), every kind of public access blocked, ACLs off
 *   (bucket owner enforced).
 * - Versioning on: an object overwritten or deleted by mistake stays recoverable for
 *   RECORDS.noncurrentVersionDays as a noncurrent version; no function may delete objects at all.
 * - Lifecycle: one rule per prefix expiring its objects after the prefix's days, one for noncurrent
 *   versions, expired delete markers and unfinished multipart uploads (lib/records-rules.ts, shared with
 *   the local runtime's bucket on moto).
 *
 * Stateful, hence in the data stack, retained with the stage's data. A retained bucket outlives `cdk destroy`
 * with its objects; a stage with `retainData: false` must be emptied before its data stack can be deleted
 * (CloudFormation does not delete a bucket that still holds objects), which is deliberate: no custom
 * resource empties a bucket of proof on its own.
 */
import { CfnOutput, Duration, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { RECORDS, type RecordsPrefix } from '#policy';
import { recordsLifecycleRules } from '../records-rules.ts';

export interface RecordsBucketProps {
  /** Prefix of the export names the app stack imports the bucket by (the stage prefix). */
  readonly exportPrefix: string;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** The prefixes and their expiry. @default RECORDS.prefixes (policy) */
  readonly prefixes?: Readonly<Record<string, RecordsPrefix>>;
}

/** Every problem with the props, in one list. */
export function recordsBucketProblems(prefixes: Readonly<Record<string, RecordsPrefix>>): string[] {
  const problems: string[] = [];
  const seen: string[] = [];
  for (const [name, p] of Object.entries(prefixes)) {
    if (!/^[a-z][a-z0-9-]*\/$/.test(p.prefix)) {
      problems.push(`prefix ${name}: "${p.prefix}" must be lower-case words ending in "/"`);
    }
    if (p.expireAfterDays !== null && (!Number.isInteger(p.expireAfterDays) || p.expireAfterDays < 1)) {
      problems.push(`prefix ${name}: expireAfterDays must be a whole number of days, at least 1, or null`);
    }
    const overlap = seen.find((other) => other.startsWith(p.prefix) || p.prefix.startsWith(other));
    if (overlap)
      problems.push(`prefix ${name}: "${p.prefix}" overlaps "${overlap}" (two rules for one object)`);
    seen.push(p.prefix);
  }
  return problems;
}

/**
 * What a function binds to: the bucket (in the app stack, imported by its exports), the export its ARN is
 * imported by (cdk-nag names a grant's resource by it), and its prefixes.
 */
export interface RecordsBinding {
  readonly bucket: s3.IBucket;
  readonly arnExportName: string;
  prefixOf(name: string): string;
}

export class RecordsBucket extends Construct {
  readonly bucket: s3.Bucket;
  /** The prefixes the bucket was made with, by name. */
  readonly prefixes: Readonly<Record<string, RecordsPrefix>>;
  /** The export names of the bucket's name and ARN (strong references: the app stack imports them). */
  readonly exportNames: { readonly name: string; readonly arn: string };

  constructor(scope: Construct, id: string, props: RecordsBucketProps) {
    super(scope, id);
    this.prefixes = props.prefixes ?? RECORDS.prefixes;
    const problems = recordsBucketProblems(this.prefixes);
    if (problems.length > 0) throw new Error(`${id}: ${problems.join('; ')}`);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      lifecycleRules: recordsLifecycleRules(this.prefixes).map((rule) => ({
        id: rule.id,
        enabled: true,
        ...(rule.prefix ? { prefix: rule.prefix } : {}),
        ...(rule.expireAfterDays !== undefined ? { expiration: Duration.days(rule.expireAfterDays) } : {}),
        ...(rule.noncurrentVersionDays !== undefined
          ? { noncurrentVersionExpiration: Duration.days(rule.noncurrentVersionDays) }
          : {}),
        ...(rule.expiredDeleteMarkers ? { expiredObjectDeleteMarker: true } : {}),
        ...(rule.abortIncompleteUploadDays !== undefined
          ? { abortIncompleteMultipartUploadAfter: Duration.days(rule.abortIncompleteUploadDays) }
          : {}),
      })),
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.exportNames = {
      name: `${props.exportPrefix}formfleet-records-bucket-name`,
      arn: `${props.exportPrefix}formfleet-records-bucket-arn`,
    };
    new CfnOutput(this, 'RecordsBucketName', {
      value: this.bucket.bucketName,
      exportName: this.exportNames.name,
      description: 'The records bucket: proof screenshots under evidence/',
    });
    new CfnOutput(this, 'RecordsBucketArn', {
      value: this.bucket.bucketArn,
      exportName: this.exportNames.arn,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'No server access logs: every writer and reader is a formfleet function with a prefix-scoped role, whose own logs record each key it writes; presigned reads are short-lived (EVIDENCE.presignedUrlSeconds). A stage that must audit every read turns on CloudTrail S3 data events for this bucket (docs/infrastructure.md).',
    });
  }

  /** The key prefix of a kind of record, refusing one the bucket was not made with. */
  prefixOf(name: string): string {
    const p = this.prefixes[name];
    if (!p) throw new Error(`the records bucket has no prefix named ${name}`);
    return p.prefix;
  }

  /** The bucket as another stack binds to it: imported by its exports (a strong reference). */
  /**
   * Lets SES's receipt rule `ruleName` (of rule set `ruleSetName`, this account and region) store received
   * mail under the `mail` prefix, and nothing else: s3:PutObject on `<prefix>*` for ses.amazonaws.com, bound
   * to the rule by aws:SourceArn and to the account by aws:SourceAccount (the confused-deputy guard AWS
   * documents for SES's S3 action).
   */
  allowReceivedMail(ruleSetName: string, ruleName: string): void {
    const stack = Stack.of(this);
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'SesStoresInboundMail',
        principals: [new iam.ServicePrincipal('ses.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects(`${this.prefixOf('mail')}*`)],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': `arn:${stack.partition}:ses:${stack.region}:${stack.account}:receipt-rule-set/${ruleSetName}:receipt-rule/${ruleName}`,
          },
        },
      }),
    );
  }

  importInto(scope: Construct, id: string): RecordsBinding {
    const bucket = s3.Bucket.fromBucketAttributes(scope, id, {
      bucketArn: Fn.importValue(this.exportNames.arn),
      bucketName: Fn.importValue(this.exportNames.name),
    });
    return { bucket, arnExportName: this.exportNames.arn, prefixOf: (name) => this.prefixOf(name) };
  }
}
