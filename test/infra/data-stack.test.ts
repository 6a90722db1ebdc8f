import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { IDEMPOTENCY_TTL_ATTRIBUTE } from '#lib/constructs/idempotency-table';
import { RecordsBucket } from '#lib/constructs/records-bucket';
import { parseStageConfig } from '#lib/stage-config';
import { PRIORITY_TIERS, QUEUES, RECORDS, WEBHOOKS, WORKER } from '#policy';
import {
  CDK_CONTEXT,
  logicalIdOf,
  resourcesOf,
  type SynthesizedStage,
  synthStage,
  testStage,
} from './support.ts';

describe('data stack', () => {
  let retained: SynthesizedStage;
  let throwaway: SynthesizedStage;

  beforeAll(() => {
    retained = synthStage();
    throwaway = synthStage({ stage: testStage({ retainData: false }) });
  });

  it('has a FIFO queue per tier, high-throughput, encrypted, redriving to its FIFO DLQ after 5 receives', () => {
    const template = retained.data;
    for (const tier of PRIORITY_TIERS) {
      template.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: `test-${tier.queueName}-dlq.fifo`,
        FifoQueue: true,
        MessageRetentionPeriod: QUEUES.dlqRetentionSeconds,
        SqsManagedSseEnabled: true,
      });
      template.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: `test-${tier.queueName}.fifo`,
        FifoQueue: true,
        DeduplicationScope: 'messageGroup',
        FifoThroughputLimit: 'perMessageGroupId',
        VisibilityTimeout: WORKER.visibilityTimeoutSeconds,
        MessageRetentionPeriod: QUEUES.retentionSeconds,
        SqsManagedSseEnabled: true,
        RedrivePolicy: {
          maxReceiveCount: QUEUES.maxReceiveCount,
          deadLetterTargetArn: {
            'Fn::GetAtt': [Match.stringLikeRegexp(`${tier.name}DeadLetterQueue`), 'Arn'],
          },
        },
      });
    }
    expect(QUEUES.maxReceiveCount).toBeGreaterThanOrEqual(5);
    expect(WORKER.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(6 * WORKER.timeoutSeconds);
    expect(QUEUES.dlqRetentionSeconds).toBeGreaterThan(QUEUES.retentionSeconds);
  });

  it('denies every non-TLS request on every queue', () => {
    const policies = retained.data.findResources('AWS::SQS::QueuePolicy');
    const queues = retained.data.findResources('AWS::SQS::Queue');
    const covered = new Set(
      Object.values(policies).flatMap((p) => p.Properties.Queues.map((q: { Ref: string }) => q.Ref)),
    );
    expect([...covered].sort()).toEqual(Object.keys(queues).sort());
    for (const policy of Object.values(policies)) {
      expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Action: 'sqs:*',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
    }
  });

  it('keeps idempotency records in an on-demand, encrypted table with TTL and point-in-time recovery', () => {
    retained.data.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: 'test-formfleet-idempotency',
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: IDEMPOTENCY_TTL_ATTRIBUTE, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      DeletionProtectionEnabled: true,
    });
    expect(IDEMPOTENCY_TTL_ATTRIBUTE).toBe('expiration'); // Powertools idempotency's default expiry attribute
  });

  it('encrypts the alerts topic with a rotating key CloudWatch alarms may use, and allows only TLS', () => {
    const template = retained.data;
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResourceProperties('AWS::SNS::Topic', {
      TopicName: 'test-formfleet-alerts',
      KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('AlertsKey'), 'Arn'] },
    });
    const key = Object.values(template.findResources('AWS::KMS::Key'))[0];
    expect(key?.Properties.KeyPolicy.Statement).toContainEqual(
      expect.objectContaining({
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      }),
    );
    const topicPolicy = Object.values(template.findResources('AWS::SNS::TopicPolicy'))[0];
    expect(topicPolicy?.Properties.PolicyDocument.Statement).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        expect.objectContaining({
          Effect: 'Allow',
          Principal: { Service: 'cloudwatch.amazonaws.com' },
          Action: 'sns:Publish',
        }),
      ]),
    );
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'test-formfleet-alerts-undelivered',
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: QUEUES.dlqRetentionSeconds,
    });
  });

  it('keeps webhook wakes on a FIFO queue grouped per endpoint slot, visible six times the consumer timeout, with a DLQ; and a rotating key for secrets', () => {
    const dlqId = logicalIdOf(retained.data, 'AWS::SQS::Queue', {
      QueueName: 'test-formfleet-webhooks-dlq.fifo',
    });
    retained.data.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'test-formfleet-webhooks.fifo',
      FifoQueue: true,
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
      VisibilityTimeout: 6 * WEBHOOKS.deliveryTimeoutSeconds,
      MessageRetentionPeriod: WEBHOOKS.queueRetentionSeconds,
      SqsManagedSseEnabled: true,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] },
        maxReceiveCount: WEBHOOKS.maxReceiveCount,
      },
    });
    retained.data.hasResourceProperties('AWS::KMS::Key', {
      Description: 'Seals the signing secrets of test-formfleet webhook endpoints',
      EnableKeyRotation: true,
    });
  });

  it('keeps records in one bucket: S3-managed encryption, versioned, no public access, TLS only', () => {
    const template = retained.data;
    const buckets = template.findResources('AWS::S3::Bucket');
    expect(Object.keys(buckets)).toHaveLength(1);
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
    const [bucketId] = Object.keys(buckets);
    const [policy] = Object.values(template.findResources('AWS::S3::BucketPolicy'));
    if (!policy) throw new Error('no bucket policy');
    expect(policy.Properties.Bucket).toEqual({ Ref: bucketId });
    expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Action: 's3:*',
        Principal: { AWS: '*' },
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        Resource: [
          { 'Fn::GetAtt': [bucketId, 'Arn'] },
          { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/*']] },
        ],
      }),
    );
    // Nothing in the bucket policy lets anyone in: access is by the functions' own prefix grants.
    expect(
      (policy.Properties.PolicyDocument.Statement as { Effect: string }[]).filter(
        (st) => st.Effect === 'Allow',
      ),
    ).toEqual([]);
    const outputs = template.findOutputs('*');
    expect(Object.values(outputs).map((o) => o.Export?.Name)).toEqual(
      expect.arrayContaining(['test-formfleet-records-bucket-name', 'test-formfleet-records-bucket-arn']),
    );
  });

  it('expires each prefix of the records bucket after its policy days (none for media/, kept), and old versions and unfinished uploads', () => {
    const bucket = Object.values(retained.data.findResources('AWS::S3::Bucket'))[0];
    const rules = bucket?.Properties.LifecycleConfiguration.Rules as Record<string, unknown>[];
    // Customers' logos are kept while the customer exists (customers are never deleted): no expiry rule.
    expect(RECORDS.prefixes.media).toEqual({ prefix: 'media/', expireAfterDays: null });
    expect(rules.some((r) => r.Prefix === 'media/')).toBe(false);
    expect(rules).toEqual([
      ...Object.entries(RECORDS.prefixes)
        .filter(([, p]) => p.expireAfterDays !== null)
        .map(([name, p]) => ({
          Id: `expire-${name}`,
          Prefix: p.prefix,
          ExpirationInDays: p.expireAfterDays,
          Status: 'Enabled',
        })),
      {
        Id: 'noncurrent-versions-and-unfinished-uploads',
        NoncurrentVersionExpiration: { NoncurrentDays: RECORDS.noncurrentVersionDays },
        ExpiredObjectDeleteMarker: true,
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: RECORDS.abortIncompleteUploadDays },
        Status: 'Enabled',
      },
    ]);
    expect(RECORDS.prefixes.evidence).toEqual({ prefix: 'evidence/', expireAfterDays: 400 });
  });

  it('gives a prefix added to the records policy its own rule, and refuses prefixes that overlap', () => {
    const stack = new Stack(new App(), 'Records');
    new RecordsBucket(stack, 'Records', {
      exportPrefix: 'x-',
      removalPolicy: RemovalPolicy.DESTROY,
      prefixes: { ...RECORDS.prefixes, mail: { prefix: 'mail/', expireAfterDays: 30 } },
    });
    const rules = Object.values(Template.fromStack(stack).findResources('AWS::S3::Bucket'))[0]?.Properties
      .LifecycleConfiguration.Rules as { Id: string; Prefix?: string; ExpirationInDays?: number }[];
    expect(rules.map((r) => [r.Id, r.Prefix, r.ExpirationInDays])).toEqual([
      ['expire-evidence', 'evidence/', 400],
      ['expire-archive', 'archive/', 1825],
      ['expire-probes', 'probes/', 30],
      ['expire-mail', 'mail/', 30],
      ['noncurrent-versions-and-unfinished-uploads', undefined, undefined],
    ]);
    expect(
      () =>
        new RecordsBucket(new Stack(new App(), 'Bad'), 'Records', {
          exportPrefix: 'x-',
          prefixes: {
            evidence: { prefix: 'evidence/', expireAfterDays: 400 },
            nested: { prefix: 'evidence/x/', expireAfterDays: 1 },
            odd: { prefix: 'Mail', expireAfterDays: 0 },
          },
        }),
    ).toThrow(/nested: "evidence\/x\/" overlaps "evidence\/".*odd: "Mail" must be.*odd: expireAfterDays/);
  });

  it('retains every stateful resource in a retaining stage and destroys them in a throwaway one', () => {
    const stateful = [
      'AWS::SQS::Queue',
      'AWS::DynamoDB::Table',
      'AWS::SNS::Topic',
      'AWS::KMS::Key',
      'AWS::S3::Bucket',
    ];
    const policiesOf = (s: SynthesizedStage) =>
      Object.values(resourcesOf(s.data))
        .filter((r) => stateful.includes(r.Type))
        .map((r) => (r as { DeletionPolicy?: string }).DeletionPolicy);
    expect(new Set(policiesOf(retained))).toEqual(new Set(['Retain']));
    expect(new Set(policiesOf(throwaway))).toEqual(new Set(['Delete']));
    // Tier queues and DLQs, the undelivered-alerts queue, the table, the topic and its key, the records
    // bucket, and the webhook delivery queue, its DLQ and the key sealing webhook secrets.
    expect(policiesOf(retained)).toHaveLength(PRIORITY_TIERS.length * 2 + 5 + 3);
    throwaway.data.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: false });
    expect(retained.stacks.data.terminationProtection).toBe(true);
    expect(throwaway.stacks.data.terminationProtection).toBe(false);
  });
});

describe('stage config', () => {
  it('rejects an invalid stage config with every problem named', () => {
    expect(() =>
      parseStageConfig('bad', {
        prefix: 'Bad',
        region: 'moon',
        databaseSecretArn: 'x',
        retainData: 'yes',
        logRetentionDays: 10,
        runbookBaseUrl: 'https://wiki',
      }),
    ).toThrow(
      /prefix[\s\S]*region[\s\S]*databaseSecretArn[\s\S]*slackWebhookSecretArn[\s\S]*retainData[\s\S]*logRetentionDays[\s\S]*runbookBaseUrl/,
    );
    expect(() => parseStageConfig('missing', undefined)).toThrow(/missing from cdk.json context/);
  });

  it("accepts cdk.json's dev and prod stages: prod keeps its data, dev is a throwaway", () => {
    const stages = CDK_CONTEXT['formfleet:stages'] as Record<string, unknown>;

    const dev = parseStageConfig('dev', stages.dev);
    const prod = parseStageConfig('prod', stages.prod);

    expect(Object.keys(stages).sort()).toEqual(['dev', 'prod']);
    expect(prod).toMatchObject({ prefix: 'prod-', retainData: true, env: { account: '222222222222' } });
    expect(dev).toMatchObject({ prefix: 'dev-', retainData: false });
    expect(prod.databaseSecretArn).not.toBe(dev.databaseSecretArn);
  });

  it('defaults to retaining data, 30-day logs and repository runbook links', () => {
    const stage = parseStageConfig('x', {
      prefix: 'x-',
      region: 'eu-west-1',
      databaseSecretArn: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:db-AbCdEf',
      slackWebhookSecretArn: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:slack-AbCdEf',
    });

    expect(stage).toMatchObject({ retainData: true, logRetentionDays: 30, runbookBaseUrl: 'docs/runbooks/' });
    expect(stage.env).toEqual({ region: 'eu-west-1' });
  });
});
