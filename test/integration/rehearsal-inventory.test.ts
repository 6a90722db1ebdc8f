/**
 * The rehearsal's inventory (lib/deploy/inventory.ts) is what keeps `npm run rehearse` from trusting a green
 * CLI: it must notice a stack moto calls complete whose resources are gone, or not what the template says,
 * or never made. Shown on small stacks in moto; `npm run rehearse` (CI) runs it on the real ones.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { DeleteQueueCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '#lib/constructs/house-function';
import { type InventoryClients, NOT_REHEARSED, type Template, takeInventory } from '#lib/deploy/inventory';
import { motoEnv } from '#local/services/moto';
import { awsClientConfig } from '#shared/aws';
import { motoEndpoint } from '#test/services';

let clients: InventoryClients;
const suffix = randomBytes(4).toString('hex');

const template = (visibility: number): Template => ({
  Resources: {
    Jobs: {
      Type: 'AWS::SQS::Queue',
      Properties: { QueueName: `inv-${suffix}.fifo`, FifoQueue: true, VisibilityTimeout: visibility },
    },
    Table: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        TableName: `inv-${suffix}`,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      },
    },
    Records: {
      Type: 'AWS::S3::Bucket',
      Properties: {
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
      },
    },
    Alarm: { Type: 'AWS::CloudWatch::Alarm', Properties: {} },
  },
  Outputs: { JobsUrl: { Value: { Ref: 'Jobs' }, Export: { Name: `inv-${suffix}-jobs` } } },
});

beforeAll(async () => {
  const config = awsClientConfig(motoEnv(motoEndpoint()));
  clients = {
    cloudformation: new CloudFormationClient(config),
    lambda: new LambdaClient(config),
    sqs: new SQSClient(config),
    sns: new SNSClient(config),
    dynamodb: new DynamoDBClient(config),
    apigateway: new APIGatewayClient(config),
    s3: new S3Client({ ...config, forcePathStyle: true }),
  };
  await clients.cloudformation.send(
    new CreateStackCommand({ StackName: `inv-${suffix}`, TemplateBody: JSON.stringify(template(30)) }),
  );
});
afterAll(() => {
  for (const c of Object.values(clients ?? {})) c.destroy();
});

describe('the rehearsal inventory', () => {
  it('reads back what a stack created, counts what moto skips, and finds its exports', async () => {
    const inventory = await takeInventory(clients, { [`inv-${suffix}`]: template(30) });

    expect(inventory.problems).toEqual([]);
    expect(inventory.verified).toEqual({
      'AWS::SQS::Queue': 1,
      'AWS::DynamoDB::Table': 1,
      'AWS::S3::Bucket': 1,
      export: 1,
    });
    expect(inventory.notRehearsed).toEqual({ 'AWS::CloudWatch::Alarm': 1 });
  });

  it('names a resource that differs from its template', async () => {
    const inventory = await takeInventory(clients, { [`inv-${suffix}`]: template(45) });

    expect(inventory.problems).toEqual([
      `inv-${suffix}: Jobs (AWS::SQS::Queue): visibility timeout 30, the template says 45`,
    ]);
  });

  it('names a resource the stack says it made but its service no longer has, and one never made', async () => {
    const declared = template(30);
    declared.Resources.Ghost = { Type: 'AWS::SQS::Queue', Properties: { QueueName: `ghost-${suffix}` } };
    const { QueueUrl } = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: `inv-${suffix}.fifo` }));
    await clients.sqs.send(new DeleteQueueCommand({ QueueUrl }));

    const inventory = await takeInventory(clients, { [`inv-${suffix}`]: declared });

    expect(inventory.problems).toEqual([
      expect.stringMatching(new RegExp(`^inv-${suffix}: Jobs \\(AWS::SQS::Queue\\) .* cannot be read back`)),
      `inv-${suffix}: Ghost (AWS::SQS::Queue) is in the template but was not created`,
    ]);
  });

  it('lists every type it does not rehearse in docs/infrastructure.md', () => {
    const docs = readFileSync(join(PROJECT_ROOT, 'docs/infrastructure.md'), 'utf8');
    for (const type of Object.keys(NOT_REHEARSED)) expect(docs, type).toContain(`\`${type}\``);
  });
});
