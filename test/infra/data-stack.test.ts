import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { buildStage } from '#lib/app';
import { parseStageConfig } from '#lib/stage-config';
import { PRIORITY_TIERS, QUEUES, WORKER } from '#policy';

const stage = parseStageConfig('test', {
  prefix: 'test-',
  region: 'us-east-1',
  databaseSecretArn: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:db-AbCdEf',
  slackWebhookSecretArn: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:slack-AbCdEf',
});

function dataTemplate(): Template {
  const app = new App();
  return Template.fromStack(buildStage(app, stage).data);
}

describe('data stack', () => {
  it('has a FIFO queue per tier, high-throughput, encrypted, redriving to its FIFO DLQ', () => {
    const template = dataTemplate();
    template.resourceCountIs('AWS::SQS::Queue', PRIORITY_TIERS.length * 2);
    for (const tier of PRIORITY_TIERS) {
      const dlqName = `test-${tier.queueName}-dlq.fifo`;
      template.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: dlqName,
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
  });

  it('denies every non-TLS request on every queue', () => {
    const template = dataTemplate();
    const policies = template.findResources('AWS::SQS::QueuePolicy');
    expect(Object.keys(policies)).toHaveLength(PRIORITY_TIERS.length * 2);
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

  it('rejects an invalid stage config with every problem named', () => {
    expect(() => parseStageConfig('bad', { prefix: 'Bad', region: 'moon', databaseSecretArn: 'x' })).toThrow(
      /prefix[\s\S]*region[\s\S]*databaseSecretArn[\s\S]*slackWebhookSecretArn/,
    );
    expect(() => parseStageConfig('missing', undefined)).toThrow(/missing from cdk.json context/);
  });
});

describe('cdk synth', () => {
  it('synthesizes offline with no AWS credentials', async () => {
    const out = await mkdtemp(join(tmpdir(), 'ff-cdk-out-'));
    try {
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
      await promisify(execFile)('npx', ['cdk', 'synth', '--no-notices', '--quiet', '--output', out], {
        env: { ...env, CI: 'true' },
        timeout: 120_000,
      });
      expect(await readdir(out)).toContain('formfleet-dev-data.template.json');
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 150_000);
});
