/**
 * What a rehearsal deploy really created, checked against the synthesized templates. moto may report a
 * stack complete whatever became of its resources, so CloudFormation's word is only the start: every
 * resource of a type moto models must be listed with a physical id, and the ones that carry the system
 * (functions, event source mappings, queues, the topic, the table, the API's resources, the exports) are
 * read back from their own service and compared with the template. Types moto does not model are counted
 * as not rehearsed; docs/infrastructure.md lists them, and template tests cover them instead.
 */

import { type APIGatewayClient, GetResourcesCommand } from '@aws-sdk/client-api-gateway';
import {
  type CloudFormationClient,
  DescribeStacksCommand,
  ListExportsCommand,
  ListStackResourcesCommand,
} from '@aws-sdk/client-cloudformation';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  GetEventSourceMappingCommand,
  GetFunctionConcurrencyCommand,
  GetFunctionConfigurationCommand,
  GetPolicyCommand,
  type LambdaClient,
} from '@aws-sdk/client-lambda';
import { GetBucketEncryptionCommand, type S3Client } from '@aws-sdk/client-s3';
import { GetTopicAttributesCommand, type SNSClient } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';

/**
 * Resource types formfleet's templates use that moto 5.2.5's CloudFormation does not model: it skips them
 * (creates nothing, reports nothing). Each is covered by the template tests in test/infra instead.
 */
export const NOT_REHEARSED: Readonly<Record<string, string>> = {
  'AWS::CloudWatch::Alarm': 'alarms',
  'AWS::WAFv2::WebACL': 'the WAF web ACL',
  'AWS::WAFv2::WebACLAssociation': "the web ACL's association with the stage",
  'AWS::WAFv2::LoggingConfiguration': 'WAF logging',
  'AWS::ApiGateway::Stage': 'the API stage (access logs, throttle, cache)',
  'AWS::ApiGateway::ApiKey': 'API keys',
  'AWS::ApiGateway::UsagePlan': 'usage plans',
  'AWS::ApiGateway::UsagePlanKey': "the admin key's usage-plan link",
  'AWS::ApiGateway::GatewayResponse': "API Gateway's 400 answers",
  'AWS::ApiGateway::Model': 'the JSON body model',
  'AWS::ApiGateway::RequestValidator': 'request validation',
  'AWS::ApiGateway::Account': "the account's CloudWatch role setting",
  'AWS::SQS::QueuePolicy': 'queue policies (TLS only, SNS to the undelivered queue)',
  'AWS::S3::BucketPolicy': 'the records bucket policy (TLS only)',
  'AWS::SNS::TopicPolicy': 'the topic policy',
  'AWS::SNS::Subscription': "the notifier's subscription",
  'AWS::Lambda::EventInvokeConfig': 'async invoke configs (retries, on-failure destinations)',
  'AWS::Logs::MetricFilter': 'the 429 metric filter',
  'AWS::CDK::Metadata': "CDK's metadata",
  'AWS::SES::ReceiptRuleSet': 'the inbound mail receipt rule set (SES receiving)',
  'AWS::SES::ReceiptRule': 'the verification-mail receipt rule (store under mail/, then mail-inbound)',
};

// biome-ignore lint/suspicious/noExplicitAny: templates are untyped JSON; each check reads the shape it needs.
type Loose = any;
export interface Template {
  Resources: Record<string, { Type: string; Properties?: Record<string, Loose> }>;
  Outputs?: Record<string, { Value: unknown; Export?: { Name: string } }>;
}

export interface InventoryClients {
  cloudformation: CloudFormationClient;
  lambda: LambdaClient;
  sqs: SQSClient;
  sns: SNSClient;
  dynamodb: DynamoDBClient;
  apigateway: APIGatewayClient;
  s3: S3Client;
}

export interface Inventory {
  /** Logical id → physical id, per stack (for comparing two deploys). */
  readonly physicalIds: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Resources read back from their service and matching the template, by type. */
  readonly verified: Readonly<Record<string, number>>;
  /** Resources listed by CloudFormation with a physical id (not read back), by type. */
  readonly listed: Readonly<Record<string, number>>;
  /** Resources of types moto does not model, by type. */
  readonly notRehearsed: Readonly<Record<string, number>>;
  readonly problems: readonly string[];
}

const literal = (v: unknown) => typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean';
const count = (map: Record<string, number>, type: string) => {
  map[type] = (map[type] ?? 0) + 1;
};

/** A template resource's path in its REST API, from its chain of ParentId Refs ('' for the root). */
function pathOf(template: Template, id: string | undefined): string {
  const r = id ? template.Resources[id] : undefined;
  if (r?.Type !== 'AWS::ApiGateway::Resource') return '';
  const parent = r.Properties?.ParentId as { Ref?: string };
  return `${pathOf(template, parent?.Ref)}/${r.Properties?.PathPart as string}`;
}

/** What one stack's read-backs share: the template, its physical ids, and answers read once. */
interface ReadBackContext {
  readonly clients: InventoryClients;
  readonly template: Template;
  readonly ids: Readonly<Record<string, string>>;
  /** path → methods, per REST API physical id. */
  readonly apis: Map<string, Promise<Map<string, Set<string>>>>;
  /** A function's resource policy statements, per function name. */
  readonly policies: Map<string, Promise<{ Principal?: { Service?: string }; Action?: string }[]>>;
}

const refOf = (value: unknown) => (value as { Ref?: string } | undefined)?.Ref;
const getAttOf = (value: unknown) =>
  (value as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt']?.[0];

function apiMethods(ctx: ReadBackContext, restApiId: string): Promise<Map<string, Set<string>>> {
  let found = ctx.apis.get(restApiId);
  if (!found) {
    found = ctx.clients.apigateway
      .send(new GetResourcesCommand({ restApiId, limit: 500, embed: ['methods'] }))
      .then(
        (res) =>
          new Map(
            (res.items ?? []).map((r) => [r.path ?? '', new Set(Object.keys(r.resourceMethods ?? {}))]),
          ),
      );
    ctx.apis.set(restApiId, found);
  }
  return found;
}

function functionPolicy(ctx: ReadBackContext, functionName: string) {
  let found = ctx.policies.get(functionName);
  if (!found) {
    found = ctx.clients.lambda
      .send(new GetPolicyCommand({ FunctionName: functionName }))
      .then((res) => (JSON.parse(res.Policy ?? '{}') as { Statement?: [] }).Statement ?? []);
    ctx.policies.set(functionName, found);
  }
  return found;
}

/**
 * Reads one created resource back from its service and compares it with its template properties: what
 * differs, [] when it matches, undefined for a type only CloudFormation's listing vouches for.
 */
async function readBack(
  ctx: ReadBackContext,
  type: string,
  physicalId: string,
  props: Record<string, Loose>,
): Promise<string[] | undefined> {
  const { clients, template } = ctx;
  const differs: string[] = [];
  const expect = (what: string, want: unknown, got: unknown) => {
    if (literal(want) && String(want) !== String(got))
      differs.push(`${what} ${String(got)}, the template says ${String(want)}`);
  };
  switch (type) {
    case 'AWS::Lambda::Function': {
      const fn = await clients.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: physicalId }));
      expect('runtime', props.Runtime, fn.Runtime);
      expect('memory', props.MemorySize, fn.MemorySize);
      expect('timeout', props.Timeout, fn.Timeout);
      expect('handler', props.Handler, fn.Handler);
      const want = Object.keys(props.Environment?.Variables ?? {})
        .sort()
        .join(',');
      const got = Object.keys(fn.Environment?.Variables ?? {})
        .sort()
        .join(',');
      if (want !== got) differs.push(`environment ${got}, the template sets ${want}`);
      const reserved = (
        await clients.lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: physicalId }))
      ).ReservedConcurrentExecutions;
      expect('reserved concurrency', props.ReservedConcurrentExecutions ?? 'none', reserved ?? 'none');
      return differs;
    }
    case 'AWS::Lambda::EventSourceMapping': {
      const m = await clients.lambda.send(new GetEventSourceMappingCommand({ UUID: physicalId }));
      expect('batch size', props.BatchSize, m.BatchSize);
      expect(
        'maximum concurrency',
        props.ScalingConfig?.MaximumConcurrency,
        m.ScalingConfig?.MaximumConcurrency,
      );
      if (!m.EventSourceArn || !m.FunctionArn) differs.push('no queue or function');
      return differs;
    }
    case 'AWS::Lambda::Permission': {
      // moto gives permissions no physical id: found in the function's resource policy instead.
      const fn = ctx.ids[refOf(props.FunctionName) ?? getAttOf(props.FunctionName) ?? ''];
      if (!fn) return ['its function was not created'];
      const statements = await functionPolicy(ctx, fn);
      const match = statements.some(
        (st) => st.Principal?.Service === props.Principal && st.Action === props.Action,
      );
      return match ? [] : [`no ${props.Action} statement for ${props.Principal} on ${fn}`];
    }
    case 'AWS::ApiGateway::Method': {
      // moto gives methods no physical id: found on their API's resources instead.
      const api = ctx.ids[refOf(props.RestApiId) ?? ''];
      if (!api) return ['its REST API was not created'];
      const resource = refOf(props.ResourceId);
      const path = resource ? pathOf(template, resource) : '/';
      const methods = (await apiMethods(ctx, api)).get(path || '/');
      return methods?.has(props.HttpMethod) ? [] : [`no ${props.HttpMethod} ${path} on the API`];
    }
    case 'AWS::SQS::Queue': {
      const { Attributes: a = {} } = await clients.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: physicalId, AttributeNames: ['All'] }),
      );
      expect('FIFO', props.FifoQueue ?? false, a.FifoQueue ?? false);
      expect('visibility timeout', props.VisibilityTimeout, a.VisibilityTimeout);
      expect('retention', props.MessageRetentionPeriod, a.MessageRetentionPeriod);
      if (props.RedrivePolicy) {
        const redrive = JSON.parse(a.RedrivePolicy ?? '{}') as { maxReceiveCount?: number };
        expect('maxReceiveCount', props.RedrivePolicy.maxReceiveCount, redrive.maxReceiveCount);
      }
      return differs;
    }
    case 'AWS::SNS::Topic': {
      const { Attributes: a = {} } = await clients.sns.send(
        new GetTopicAttributesCommand({ TopicArn: physicalId }),
      );
      if (props.KmsMasterKeyId && !a.KmsMasterKeyId) differs.push('not encrypted');
      return differs;
    }
    case 'AWS::DynamoDB::Table': {
      const { Table: t } = await clients.dynamodb.send(new DescribeTableCommand({ TableName: physicalId }));
      expect('billing mode', props.BillingMode, t?.BillingModeSummary?.BillingMode ?? 'PROVISIONED');
      const key = (t?.KeySchema ?? []).map((k) => `${k.AttributeName}:${k.KeyType}`).join(',');
      const wantKey = (props.KeySchema as { AttributeName: string; KeyType: string }[])
        .map((k) => `${k.AttributeName}:${k.KeyType}`)
        .join(',');
      if (key !== wantKey) differs.push(`key ${key}, the template says ${wantKey}`);
      return differs;
    }
    case 'AWS::S3::Bucket': {
      // moto's CloudFormation applies a bucket's encryption (and tags), nothing else: its versioning,
      // lifecycle rules and public access block are not rehearsed (the template tests cover them).
      const want =
        props.BucketEncryption?.ServerSideEncryptionConfiguration?.[0]?.ServerSideEncryptionByDefault
          ?.SSEAlgorithm;
      const { ServerSideEncryptionConfiguration: got } = await clients.s3.send(
        new GetBucketEncryptionCommand({ Bucket: physicalId }),
      );
      expect('encryption', want, got?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm);
      return differs;
    }
    case 'AWS::ApiGateway::Resource': {
      const api = ctx.ids[refOf(props.RestApiId) ?? ''];
      if (!api) return ['its REST API was not created'];
      const path = pathOf(template, Object.entries(ctx.ids).find(([, v]) => v === physicalId)?.[0]);
      return (await apiMethods(ctx, api)).has(path) ? [] : [`no resource ${path} on the API`];
    }
    default:
      return undefined;
  }
}

/** Types moto creates without a physical id; each is read back from the resource it belongs to. */
const NO_PHYSICAL_ID = new Set([
  'AWS::Lambda::Permission',
  'AWS::ApiGateway::Method',
  'AWS::ApiGateway::Deployment',
]);

export async function takeInventory(
  clients: InventoryClients,
  templates: Readonly<Record<string, Template>>,
): Promise<Inventory> {
  const physicalIds: Record<string, Record<string, string>> = {};
  const verified: Record<string, number> = {};
  const listed: Record<string, number> = {};
  const notRehearsed: Record<string, number> = {};
  const problems: string[] = [];
  const exports = new Map<string, string>();
  let token: string | undefined;
  do {
    const page = await clients.cloudformation.send(new ListExportsCommand({ NextToken: token }));
    for (const e of page.Exports ?? []) if (e.Name) exports.set(e.Name, e.Value ?? '');
    token = page.NextToken;
  } while (token);

  for (const [stackName, template] of Object.entries(templates)) {
    const stack = (await clients.cloudformation.send(new DescribeStacksCommand({ StackName: stackName })))
      .Stacks?.[0];
    if (!stack || !/^(CREATE|UPDATE)_COMPLETE$/.test(stack.StackStatus ?? '')) {
      problems.push(`${stackName}: ${stack?.StackStatus ?? 'no such stack'}`);
      continue;
    }
    const ids: Record<string, string> = {};
    let next: string | undefined;
    do {
      const page = await clients.cloudformation.send(
        new ListStackResourcesCommand({ StackName: stackName, NextToken: next }),
      );
      for (const r of page.StackResourceSummaries ?? []) {
        if (r.LogicalResourceId) ids[r.LogicalResourceId] = r.PhysicalResourceId ?? '';
      }
      next = page.NextToken;
    } while (next);
    physicalIds[stackName] = ids;
    const ctx: ReadBackContext = { clients, template, ids, apis: new Map(), policies: new Map() };

    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      if (NOT_REHEARSED[resource.Type] !== undefined) {
        count(notRehearsed, resource.Type);
        continue;
      }
      const physicalId = ids[logicalId];
      if (physicalId === undefined || (physicalId === '' && !NO_PHYSICAL_ID.has(resource.Type))) {
        problems.push(`${stackName}: ${logicalId} (${resource.Type}) is in the template but was not created`);
        continue;
      }
      try {
        const differs = await readBack(ctx, resource.Type, physicalId, resource.Properties ?? {});
        if (differs === undefined) count(listed, resource.Type);
        else if (differs.length > 0)
          problems.push(`${stackName}: ${logicalId} (${resource.Type}): ${differs.join('; ')}`);
        else count(verified, resource.Type);
      } catch (err) {
        problems.push(
          `${stackName}: ${logicalId} (${resource.Type}) ${physicalId} cannot be read back: ${(err as Error).message}`,
        );
      }
    }
    for (const [name, output] of Object.entries(template.Outputs ?? {})) {
      if (!output.Export) continue;
      const value = exports.get(output.Export.Name);
      const ref = (output.Value as { Ref?: string })?.Ref;
      const ofSkipped = ref !== undefined && NOT_REHEARSED[template.Resources[ref]?.Type ?? ''] !== undefined;
      if (value === undefined)
        problems.push(`${stackName}: export ${output.Export.Name} (${name}) is missing`);
      else if (!ofSkipped && (value === '' || value === 'None')) {
        problems.push(`${stackName}: export ${output.Export.Name} (${name}) has no value`);
      } else count(ofSkipped ? notRehearsed : verified, 'export');
    }
  }
  return { physicalIds, verified, listed, notRehearsed, problems };
}
