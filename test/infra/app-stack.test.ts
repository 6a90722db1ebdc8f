/**
 * The app stack built from the REAL manifest and route table: whatever functions and routes they hold, each
 * is built, wired, granted and watched as its spec says.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '#functions/api/routes';
import { FUNCTIONS, type FunctionNeeds, type FunctionSpec } from '#functions/manifest';
import { pathsRegex } from '#lib/constructs/api-firewall';
import { PROJECT_ROOT } from '#lib/constructs/house-function';
import {
  ALARMS,
  API_EDGE,
  FUNCTION_DEFAULTS,
  LIFECYCLE,
  METRIC_NAMES,
  OUTER_GUARD_FACTOR,
  PRIORITY_TIERS,
  RATE_LIMITS,
  SCHEDULES,
  USAGE_PLANS,
  usagePlanFor,
  WEBHOOKS,
} from '#policy';
import {
  actionsOf,
  alarmNamed,
  apiMethod,
  DATABASE_SECRET_ARN,
  dashboardBody,
  exportOf,
  type Loose,
  logicalIdOf,
  mentions,
  PAGERDUTY_SECRET_ARN,
  render,
  resourcesFor,
  resourcesOf,
  type SynthesizedStage,
  statementsOf,
  synthStage,
  testStage,
} from './support.ts';

/**
 * The least-privilege contract, restated independently of lib/: the actions each need grants. Every
 * function also writes its own logs and X-Ray traces.
 */
const BASE_ACTIONS = [
  'logs:CreateLogStream',
  'logs:PutLogEvents',
  'xray:PutTelemetryRecords',
  'xray:PutTraceSegments',
];
function expectedActions(spec: FunctionSpec): string[] {
  const n: FunctionNeeds = spec.needs;
  const actions = [...BASE_ACTIONS];
  if (n.database || n.slackWebhookSecret || n.pagerDutyRoutingKey)
    actions.push('secretsmanager:GetSecretValue');
  if (n.jobQueues?.includes('send')) actions.push('sqs:SendMessage');
  if (n.jobQueues?.includes('consume')) actions.push('sqs:ChangeMessageVisibility');
  if (n.jobQueues?.includes('read')) actions.push('sqs:GetQueueAttributes');
  if (n.deadLetterQueues) actions.push('sqs:GetQueueAttributes');
  if (n.deadLetterQueues === 'read' || n.deadLetterQueues === 'redrive')
    actions.push('sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility');
  if (n.deadLetterQueues === 'redrive') actions.push('sqs:DeleteMessage', 'sqs:SendMessage');
  if (n.idempotencyTable)
    actions.push('dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem');
  if (n.alertsTopic) actions.push('sns:Publish', 'kms:Decrypt', 'kms:GenerateDataKey');
  if (n.apiKeys) actions.push('apigateway:DELETE', 'apigateway:GET', 'apigateway:POST');
  if (n.webhookKey === 'seal') actions.push('kms:Encrypt');
  if (n.webhookKey === 'open') actions.push('kms:Decrypt');
  if (n.webhookQueue === 'send') actions.push('sqs:SendMessage');
  const records = (n.records ?? []).flatMap((g) => g.access);
  if (records.includes('read')) actions.push('s3:GetObject');
  if (records.includes('write')) actions.push('s3:PutObject');
  if (records.includes('list')) actions.push('s3:ListBucket');
  if (spec.kind === 'worker' || spec.kind === 'consumer')
    actions.push('sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage');
  if (spec.kind === 'scheduled' || spec.kind === 'subscriber') actions.push('sqs:SendMessage'); // on-failure destination
  return [...new Set(actions)].sort();
}

const fnName = (spec: FunctionSpec) => `formfleet-test-${spec.name}`;

describe('app stack from the real manifest', () => {
  let s: SynthesizedStage;
  beforeAll(() => {
    s = synthStage();
  });

  describe('functions', () => {
    it('builds every manifest function on Node.js 22, x86_64, traced, with JSON logs into a log group with retention', () => {
      for (const spec of FUNCTIONS) {
        const defaults = FUNCTION_DEFAULTS[spec.kind];
        s.appTemplate.hasResourceProperties('AWS::Lambda::Function', {
          FunctionName: fnName(spec),
          Runtime: 'nodejs22.x',
          Architectures: ['x86_64'],
          TracingConfig: { Mode: 'Active' },
          Timeout: spec.timeoutSeconds ?? defaults.timeoutSeconds,
          MemorySize: spec.memoryMb ?? defaults.memoryMb,
          LoggingConfig: {
            LogFormat: 'JSON',
            ApplicationLogLevel: 'INFO',
            SystemLogLevel: 'WARN',
            LogGroup: {},
          },
          Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps' } },
        });
        s.appTemplate.hasResourceProperties('AWS::Logs::LogGroup', {
          LogGroupName: `/aws/lambda/${fnName(spec)}`,
          RetentionInDays: 14,
        });
      }
      expect(
        s.appTemplate.findResources('AWS::Lambda::Function', { Properties: { FunctionName: {} } }),
      ).toBeDefined();
    });

    it('builds the worker as a browser function: 2 GB or more, /tmp for Chromium, the 15-minute worker timeout', () => {
      const worker = FUNCTIONS.find((f) => f.kind === 'worker') as FunctionSpec;
      expect(worker.browser).toBe(true);
      s.appTemplate.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: fnName(worker),
        MemorySize: 2048,
        EphemeralStorage: { Size: 2048 },
        Timeout: 900,
      });
    });

    it('builds recheck-listings as a scheduled browser function of its own whose run fits its schedule', () => {
      const recheck = FUNCTIONS.find((f) => f.name === 'recheck-listings') as FunctionSpec;
      expect(recheck).toMatchObject({
        kind: 'scheduled',
        browser: true,
        schedule: SCHEDULES.recheckListings,
      });
      s.appTemplate.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: fnName(recheck),
        MemorySize: 2048,
        EphemeralStorage: { Size: 2048 },
        Timeout: LIFECYCLE.recheckTimeoutSeconds,
      });
      expect(LIFECYCLE.recheckTimeoutSeconds).toBeLessThanOrEqual(LIFECYCLE.recheckIntervalSeconds);
      const fnId = logicalIdOf(s.appTemplate, 'AWS::Lambda::Function', { FunctionName: fnName(recheck) });
      const rules = Object.values(s.appTemplate.findResources('AWS::Events::Rule')).filter((r) =>
        mentions(r.Properties.Targets, fnId),
      );
      expect(rules.map((r) => r.Properties.ScheduleExpression)).toEqual([
        `rate(${LIFECYCLE.recheckIntervalSeconds / 60} minutes)`,
      ]);
    });

    it('maps every tier queue to the worker with its batch size and max concurrency, P1 highest, partial batch failures on', () => {
      const worker = FUNCTIONS.find((f) => f.kind === 'worker') as FunctionSpec;
      const workerId = logicalIdOf(s.appTemplate, 'AWS::Lambda::Function', { FunctionName: fnName(worker) });
      const mappings = Object.values(resourcesOf(s.appTemplate)).filter(
        (r) => r.Type === 'AWS::Lambda::EventSourceMapping' && mentions(r.Properties.FunctionName, workerId),
      );
      expect(mappings).toHaveLength(PRIORITY_TIERS.length);
      const concurrencyByTier = PRIORITY_TIERS.map((tier) => {
        const queueId = logicalIdOf(s.data, 'AWS::SQS::Queue', { QueueName: `test-${tier.queueName}.fifo` });
        const mapping = mappings.filter((m) => mentions(m.Properties.EventSourceArn, queueId));
        expect(mapping).toHaveLength(1);
        expect(mapping[0]?.Properties).toEqual(
          expect.objectContaining({
            FunctionName: { Ref: workerId },
            BatchSize: tier.batchSize,
            FunctionResponseTypes: ['ReportBatchItemFailures'],
            ScalingConfig: { MaximumConcurrency: tier.maxConcurrency },
            Enabled: true,
          }),
        );
        return mapping[0]?.Properties.ScalingConfig.MaximumConcurrency as number;
      });
      expect(concurrencyByTier).toEqual([10, 5, 2]);
      expect([...concurrencyByTier].sort((a, b) => b - a)).toEqual(concurrencyByTier);
    });

    it('maps the webhook delivery queue to webhook-delivery, one wake per invocation at bounded concurrency', () => {
      const deliveryId = logicalIdOf(s.appTemplate, 'AWS::Lambda::Function', {
        FunctionName: 'formfleet-test-webhook-delivery',
      });
      const queueId = logicalIdOf(s.data, 'AWS::SQS::Queue', { QueueName: 'test-formfleet-webhooks.fifo' });
      const mappings = Object.values(resourcesOf(s.appTemplate)).filter(
        (r) =>
          r.Type === 'AWS::Lambda::EventSourceMapping' && mentions(r.Properties.FunctionName, deliveryId),
      );
      expect(mappings).toHaveLength(1);
      expect(mentions(mappings[0]?.Properties.EventSourceArn, queueId)).toBe(true);
      expect(mappings[0]?.Properties).toEqual(
        expect.objectContaining({
          BatchSize: WEBHOOKS.deliveryBatchSize,
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          ScalingConfig: { MaximumConcurrency: WEBHOOKS.deliveryMaxConcurrency },
        }),
      );
      s.appTemplate.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: 'formfleet-test-webhook-delivery',
        Timeout: WEBHOOKS.deliveryTimeoutSeconds,
      });
    });

    it('lets the webhooks API only seal and delivery only open signing secrets, each only with an endpoint context', () => {
      const keyId = logicalIdOf(s.data, 'AWS::KMS::Key', {
        Description: 'Seals the signing secrets of test-formfleet webhook endpoints',
      });
      for (const [name, action] of [
        ['api-webhooks', 'kms:Encrypt'],
        ['webhook-delivery', 'kms:Decrypt'],
      ] as const) {
        const statements = statementsOf(s.appTemplate, `formfleet-test-${name}`).filter((st: Loose) =>
          [st.Action].flat().some((a: string) => a.startsWith('kms:')),
        );
        expect(statements, name).toHaveLength(1);
        expect(statements[0]).toMatchObject({
          Action: action,
          Condition: { StringLike: { 'kms:EncryptionContext:endpoint': '*' } },
        });
        expect(mentions(statements[0]?.Resource, keyId)).toBe(true);
      }
      // The dispatcher only sends wakes; nothing else may put a message on the delivery queue.
      const queueId = logicalIdOf(s.data, 'AWS::SQS::Queue', { QueueName: 'test-formfleet-webhooks.fifo' });
      const senders = FUNCTIONS.filter((f) =>
        resourcesFor(s.appTemplate, fnName(f), 'sqs:SendMessage').some((r) => mentions(r, queueId)),
      ).map((f) => f.name);
      expect(senders).toEqual(['webhook-dispatch']);
    });

    it('builds pagerduty-notifier, subscribed to the alerts topic, only in a stage that names a routing key', () => {
      s.appTemplate.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: 'formfleet-test-pagerduty-notifier',
        Environment: {
          Variables: Match.objectLike({ PAGERDUTY_ROUTING_KEY_SECRET_ARN: PAGERDUTY_SECRET_ARN }),
        },
      });
      expect(
        resourcesFor(s.appTemplate, 'formfleet-test-pagerduty-notifier', 'secretsmanager:GetSecretValue'),
      ).toEqual([PAGERDUTY_SECRET_ARN]);
      const quiet = synthStage({ stage: testStage({ pagerDutyRoutingKeySecretArn: undefined }) });
      const names = Object.values(resourcesOf(quiet.appTemplate))
        .filter((r) => r.Type === 'AWS::Lambda::Function')
        .map((r) => r.Properties.FunctionName);
      expect(names).not.toContain('formfleet-test-pagerduty-notifier');
      expect(names).toContain('formfleet-test-slack-notifier');
    });

    it('grants each function exactly the actions its needs name, on its own resources only', () => {
      for (const spec of FUNCTIONS) {
        expect(actionsOf(s.appTemplate, fnName(spec)), spec.name).toEqual(expectedActions(spec));
        if (spec.needs.database) {
          expect(resourcesFor(s.appTemplate, fnName(spec), 'secretsmanager:GetSecretValue')).toEqual([
            DATABASE_SECRET_ARN,
          ]);
        }
        const wildcard = resourcesFor(s.appTemplate, fnName(spec), 'xray:PutTraceSegments');
        expect(wildcard).toEqual(['*']);
        for (const action of actionsOf(s.appTemplate, fnName(spec)).filter((a) => !a.startsWith('xray:'))) {
          expect(resourcesFor(s.appTemplate, fnName(spec), action), `${spec.name} ${action}`).not.toContain(
            '*',
          );
        }
      }
    });

    it('binds the records bucket by prefix: the worker writes proof and reads logos, the API reads proof and takes logos, stale-jobs writes and lists, mail-inbound reads mail, retention writes archives', () => {
      const arn = { 'Fn::ImportValue': 'test-formfleet-records-bucket-arn' };
      const evidence = { 'Fn::Join': ['', [arn, '/evidence/*']] };
      const archive = { 'Fn::Join': ['', [arn, '/archive/*']] };
      const probes = { 'Fn::Join': ['', [arn, '/probes/*']] };
      const mail = { 'Fn::Join': ['', [arn, '/mail/*']] };
      const media = { 'Fn::Join': ['', [arn, '/media/*']] };
      const grants: Record<string, Record<string, unknown[]>> = {
        // Dry runs write their screenshots and presign links to them, under probes/ only.
        'api-probes': { 's3:GetObject': [probes], 's3:PutObject': [probes] },
        // Inbound mail: read a stored mail, and ask its size first (listing mail/ only).
        'mail-inbound': { 's3:GetObject': [mail], 's3:ListBucket': [arn] },
        // Logos: the API signs their uploads (PutObject) and reads them back to check them (listing media/
        // for the size first); the worker reads them for upload steps.
        'api-customers': { 's3:GetObject': [media], 's3:PutObject': [media], 's3:ListBucket': [arn] },
        worker: { 's3:PutObject': [evidence], 's3:GetObject': [media] },
        'api-jobs': { 's3:GetObject': [evidence] },
        'api-submissions': { 's3:GetObject': [evidence] },
        'stale-jobs': { 's3:PutObject': [evidence], 's3:ListBucket': [arn] },
        retention: { 's3:PutObject': [archive] },
      };
      for (const spec of FUNCTIONS) {
        const mine = grants[spec.name] ?? {};
        for (const action of ['s3:GetObject', 's3:PutObject', 's3:ListBucket']) {
          expect(resourcesFor(s.appTemplate, fnName(spec), action), `${spec.name} ${action}`).toEqual(
            mine[action] ?? [],
          );
        }
        // Nothing deletes a record: objects end by the bucket's lifecycle rules only.
        expect(actionsOf(s.appTemplate, fnName(spec)).filter((a) => a.startsWith('s3:Delete'))).toEqual([]);
        const env = Object.values(s.appTemplate.findResources('AWS::Lambda::Function')).find(
          (r) => r.Properties.FunctionName === fnName(spec),
        )?.Properties.Environment?.Variables?.RECORDS_BUCKET;
        expect(env, spec.name).toEqual(
          spec.name in grants ? { 'Fn::ImportValue': 'test-formfleet-records-bucket-name' } : undefined,
        );
      }
      // Listing is limited to the prefix: the retry asks S3 only about evidence/ keys.
      const list = statementsOf(s.appTemplate, 'formfleet-test-stale-jobs').find((st) =>
        (Array.isArray(st.Action) ? st.Action : [st.Action]).includes('s3:ListBucket'),
      ) as unknown as { Condition: unknown };
      expect(list.Condition).toEqual({ StringLike: { 's3:prefix': ['evidence/*'] } });
    });

    it('sends to the tier queues only, never to their DLQs, from the jobs API and the worker (continuations)', () => {
      const queueIds = PRIORITY_TIERS.map((t) =>
        logicalIdOf(s.data, 'AWS::SQS::Queue', { QueueName: `test-${t.queueName}.fifo` }),
      );
      for (const name of ['api-jobs', 'worker']) {
        const spec = FUNCTIONS.find((f) => f.name === name) as FunctionSpec;
        const resources = resourcesFor(s.appTemplate, fnName(spec), 'sqs:SendMessage');
        expect(resources, name).toHaveLength(PRIORITY_TIERS.length);
        for (const id of queueIds)
          expect(
            resources.some((r) => mentions(r, id)),
            name,
          ).toBe(true);
        expect(JSON.stringify(resources), name).not.toMatch(/DeadLetterQueue/);
      }
      const worker = FUNCTIONS.find((f) => f.kind === 'worker') as FunctionSpec;
      s.appTemplate.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: fnName(worker),
        Environment: {
          Variables: Match.objectLike(
            Object.fromEntries(PRIORITY_TIERS.map((t) => [`QUEUE_URL_${t.name}`, Match.anyValue()])),
          ),
        },
      });
    });

    it('runs the migrate trigger on deploy, on every code change, before any other function is updated', () => {
      const triggers = FUNCTIONS.filter((f) => f.kind === 'trigger');
      expect(triggers.map((t) => t.name)).toEqual(['migrate']);
      const migrateId = logicalIdOf(s.appTemplate, 'AWS::Lambda::Function', {
        FunctionName: 'formfleet-test-migrate',
      });
      const resources = resourcesOf(s.appTemplate);
      const [triggerId, trigger] =
        Object.entries(resources).find(([, r]) => r.Type === 'Custom::Trigger') ?? [];
      expect(trigger?.Properties).toEqual(
        expect.objectContaining({
          InvocationType: 'RequestResponse',
          ExecuteOnHandlerChange: true,
          Timeout: String(FUNCTION_DEFAULTS.trigger.timeoutSeconds * 1000),
        }),
      );
      expect(
        mentions(trigger?.Properties.HandlerArn, `${migrateId.replace(/[0-9A-F]{8}$/, '')}CurrentVersion`),
      ).toBe(true);
      for (const spec of FUNCTIONS.filter((f) => f.kind !== 'trigger')) {
        const id = logicalIdOf(s.appTemplate, 'AWS::Lambda::Function', { FunctionName: fnName(spec) });
        expect(resources[id]?.DependsOn, spec.name).toContain(triggerId);
      }
      s.appTemplate.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: 'formfleet-test-migrate',
        Environment: { Variables: { DATABASE_SECRET_ARN } },
      });
    });
  });

  describe('API', () => {
    it('routes every route to its function, requiring an API key where the route needs one', () => {
      for (const route of ROUTES) {
        const method = apiMethod(s.appTemplate, route.method, route.path);
        const fnId = logicalIdOf(s.appTemplate, 'AWS::Lambda::Function', {
          FunctionName: `formfleet-test-api-${route.fn}`,
        });
        expect(method.ApiKeyRequired, `${route.method} ${route.path}`).toBe(route.auth !== 'none');
        expect(method.AuthorizationType).toBe('NONE');
        expect((method.Integration as { Type: string }).Type).toBe('AWS_PROXY');
        expect(mentions((method.Integration as { Uri: unknown }).Uri, fnId)).toBe(true);
        expect(method.RequestValidatorId).toBeDefined();
        const params = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => `method.request.path.${m[1]}`);
        for (const p of params) expect((method.RequestParameters as Record<string, boolean>)[p]).toBe(true);
        if (route.method === 'POST')
          expect(method.RequestModels).toEqual({ 'application/json': expect.anything() });
      }
      expect(
        Object.values(resourcesOf(s.appTemplate)).filter((r) => r.Type === 'AWS::ApiGateway::Method'),
      ).toHaveLength(ROUTES.length);
    });

    it('is a regional REST API reading keys from the header, and each route may invoke only its own function', () => {
      s.appTemplate.hasResourceProperties('AWS::ApiGateway::RestApi', {
        Name: 'test-formfleet',
        ApiKeySourceType: 'HEADER',
        EndpointConfiguration: { Types: ['REGIONAL'] },
      });
      const apiId = logicalIdOf(s.appTemplate, 'AWS::ApiGateway::RestApi', { Name: 'test-formfleet' });
      // API Gateway's invoke permissions (schedules and the alerts subscription hold their own).
      const permissions = Object.values(resourcesOf(s.appTemplate)).filter(
        (r) => r.Type === 'AWS::Lambda::Permission' && r.Properties.Principal === 'apigateway.amazonaws.com',
      );
      expect(permissions).toHaveLength(ROUTES.length);
      for (const route of ROUTES) {
        const fnId = logicalIdOf(s.appTemplate, 'AWS::Lambda::Function', {
          FunctionName: `formfleet-test-api-${route.fn}`,
        });
        const methodPath = `/${route.method}${route.path.replace(/\{[^}]+\}/g, '*')}`;
        const matching = permissions.filter(
          (p) =>
            mentions(p.Properties.FunctionName, fnId) &&
            JSON.stringify(p.Properties.SourceArn).endsWith(`"${methodPath}"]]}`),
        );
        expect(matching, `${route.method} ${route.path}`).toHaveLength(1);
        expect(matching[0]?.Properties).toMatchObject({
          Action: 'lambda:InvokeFunction',
          Principal: 'apigateway.amazonaws.com',
        });
        expect(mentions(matching[0]?.Properties.SourceArn, apiId)).toBe(true);
      }
    });

    it('validates path parameters and JSON object bodies before any Lambda runs', () => {
      s.appTemplate.hasResourceProperties('AWS::ApiGateway::RequestValidator', {
        ValidateRequestBody: true,
        ValidateRequestParameters: true,
      });
      s.appTemplate.hasResourceProperties('AWS::ApiGateway::Model', {
        ContentType: 'application/json',
        Schema: { $schema: 'http://json-schema.org/draft-04/schema#', type: 'object' },
      });
      s.appTemplate.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: 'BAD_REQUEST_BODY',
        StatusCode: '400',
      });
      // In the API's error shape, its first detail naming the problem (a body of [] or 1 ends here in AWS).
      const template = Object.values(resourcesOf(s.appTemplate)).find(
        (r) =>
          r.Type === 'AWS::ApiGateway::GatewayResponse' && r.Properties.ResponseType === 'BAD_REQUEST_BODY',
      )?.Properties.ResponseTemplates['application/json'];
      expect(JSON.parse(template)).toEqual({
        error: {
          code: 'bad_request',
          message: 'request body must be a JSON object',
          details: [{ field: 'body', message: 'must be a JSON object' }],
        },
      });
    });

    it('throttles the stage and meters client and admin keys with rate, burst and a daily quota from RATE_LIMITS', () => {
      s.appTemplate.hasResourceProperties('AWS::ApiGateway::Stage', {
        StageName: 'test',
        TracingEnabled: true,
        MethodSettings: Match.arrayWith([
          {
            HttpMethod: '*',
            ResourcePath: '/*',
            ThrottlingRateLimit: API_EDGE.stageRateLimitPerSecond,
            ThrottlingBurstLimit: API_EDGE.stageBurstLimit,
            MetricsEnabled: true,
            DataTraceEnabled: false,
          },
        ]),
      });
      // 2x the exact per-minute limits (100/min client, 600/min admin), daily quotas from the hourly limits.
      expect(USAGE_PLANS.client).toEqual({
        rateLimitPerSecond: 200 / 60,
        burstLimit: 200,
        quotaPerDay: 24_000,
      });
      expect(USAGE_PLANS.admin).toEqual({ rateLimitPerSecond: 20, burstLimit: 1_200, quotaPerDay: 480_000 });
      // The plans and the admin key are state: they live in the data stack.
      for (const [name, preset] of [
        ['client', RATE_LIMITS.client],
        ['admin', RATE_LIMITS.admin],
      ] as const) {
        s.data.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
          UsagePlanName: `test-formfleet-${name}`,
          Throttle: { RateLimit: (preset.perMinute * OUTER_GUARD_FACTOR) / 60, BurstLimit: preset.burst },
          Quota: { Limit: (preset.perHour as number) * 24, Period: 'DAY' },
        });
      }
      const adminKey = logicalIdOf(s.data, 'AWS::ApiGateway::ApiKey', { Name: 'test-formfleet-admin' });
      const adminPlan = logicalIdOf(s.data, 'AWS::ApiGateway::UsagePlan', {
        UsagePlanName: 'test-formfleet-admin',
      });
      s.data.hasResourceProperties('AWS::ApiGateway::UsagePlanKey', {
        KeyId: { Ref: adminKey },
        KeyType: 'API_KEY',
        UsagePlanId: { Ref: adminPlan },
      });
    });

    it('derives usage-plan numbers from any rate-limit preset, a daily quota even without an hourly limit', () => {
      // The bucket refills at OUTER_GUARD_FACTOR x the exact per-minute limit: looser, by design.
      expect(usagePlanFor({ perMinute: 120, perHour: 5_000, burst: 7 })).toEqual({
        rateLimitPerSecond: (120 * OUTER_GUARD_FACTOR) / 60,
        burstLimit: 7,
        quotaPerDay: 120_000,
      });
      expect(usagePlanFor(RATE_LIMITS.anonymousPerIp)).toEqual({
        rateLimitPerSecond: (100 * OUTER_GUARD_FACTOR) / 60,
        burstLimit: RATE_LIMITS.anonymousPerIp.burst,
        quotaPerDay: 100 * 60 * 24,
      });
    });

    it('tells the API functions which key is the admin key, by id (from the data stack)', () => {
      const adminKey = logicalIdOf(s.data, 'AWS::ApiGateway::ApiKey', { Name: 'test-formfleet-admin' });
      for (const spec of FUNCTIONS.filter((f) => f.kind === 'api')) {
        const fn = resourcesOf(s.appTemplate)[
          logicalIdOf(s.appTemplate, 'AWS::Lambda::Function', { FunctionName: fnName(spec) })
        ] as { Properties: Record<string, Loose> };
        const value = fn.Properties.Environment.Variables.ADMIN_API_KEY_IDS;
        expect(Object.keys(value), spec.name).toEqual(['Fn::ImportValue']);
        expect(mentions(value, adminKey), spec.name).toBe(true);
      }
    });

    it('lets the keys function make, list and delete keys of the client plans only, and never touch the admin key', () => {
      const keys = FUNCTIONS.find((f) => f.needs.apiKeys) as FunctionSpec;
      expect(keys).toMatchObject({ name: 'api-keys', kind: 'api', apiFunction: 'keys' });
      const clientPlan = logicalIdOf(s.data, 'AWS::ApiGateway::UsagePlan', {
        UsagePlanName: 'test-formfleet-client',
      });
      const adminPlan = logicalIdOf(s.data, 'AWS::ApiGateway::UsagePlan', {
        UsagePlanName: 'test-formfleet-admin',
      });
      const adminKey = logicalIdOf(s.data, 'AWS::ApiGateway::ApiKey', { Name: 'test-formfleet-admin' });
      const paths = (action: string) =>
        resourcesFor(s.appTemplate, fnName(keys), action)
          .map((r) =>
            render(r, { [exportOf(s.data, clientPlan)]: 'client plan' }).replace(
              'arn:aws:apigateway:us-east-1::',
              '',
            ),
          )
          .sort();
      expect(paths('apigateway:POST')).toEqual(['/apikeys', '/usageplans/<client plan>/keys']);
      expect(paths('apigateway:GET')).toEqual(['/usageplans/<client plan>/keys']);
      expect(paths('apigateway:DELETE')).toEqual(['/apikeys/*', '/usageplans/<client plan>/keys/*']);
      const everything = JSON.stringify(
        statementsOf(s.appTemplate, fnName(keys)).filter((st) => st.Effect === 'Allow'),
      );
      expect(everything).not.toContain(exportOf(s.data, adminPlan));
      const denied = resourcesFor(s.appTemplate, fnName(keys), 'apigateway:*', 'Deny');
      expect(denied).toHaveLength(1);
      expect(mentions(denied[0], adminKey)).toBe(true);
      s.appTemplate.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: fnName(keys),
        Environment: {
          Variables: Match.objectLike({
            USAGE_PLAN_IDS: Match.anyValue(),
            API_KEY_NAME_PREFIX: 'test-formfleet-client-',
          }),
        },
      });
    });

    it('writes a JSON access log line per request and counts 429 answers from it', () => {
      const stage = Object.values(resourcesOf(s.appTemplate)).find(
        (r) => r.Type === 'AWS::ApiGateway::Stage',
      );
      const format = stage?.Properties.AccessLogSetting.Format as string;
      const line = JSON.parse(format) as Record<string, string>;
      expect(line).toMatchObject({
        status: '$context.status',
        apiKeyId: '$context.identity.apiKeyId',
        ip: '$context.identity.sourceIp',
        latencyMs: '$context.responseLatency',
        wafStatus: '$context.waf.status',
      });
      s.appTemplate.hasResourceProperties('AWS::Logs::LogGroup', {
        LogGroupName: '/aws/apigateway/test-formfleet-access',
        RetentionInDays: 14,
      });
      s.appTemplate.hasResourceProperties('AWS::Logs::MetricFilter', {
        FilterPattern: '{ $.status = "429" }',
        MetricTransformations: [
          {
            MetricNamespace: 'Formfleet',
            MetricName: 'Api429',
            MetricValue: '1',
            Dimensions: [{ Key: 'stage', Value: '$.stage' }],
          },
        ],
      });
    });

    it('puts a WAF web ACL with per-IP rate rules in front of the stage', () => {
      const acl = Object.values(resourcesOf(s.appTemplate)).find((r) => r.Type === 'AWS::WAFv2::WebACL');
      const rules = acl?.Properties.Rules as {
        Name: string;
        Statement: Record<string, Loose>;
        Action?: unknown;
      }[];
      const flood = rules.find((r) => r.Name === 'PerIpFlood');
      expect(flood?.Statement.RateBasedStatement).toEqual({
        Limit: RATE_LIMITS.admin.perMinute,
        EvaluationWindowSec: 60,
        AggregateKeyType: 'IP',
      });
      expect(flood?.Action).toEqual({
        Block: {
          CustomResponse: {
            ResponseCode: 429,
            CustomResponseBodyKey: 'TooManyRequests',
            ResponseHeaders: [{ Name: 'retry-after', Value: '60' }],
          },
        },
      });
      const anonymous = rules.find((r) => r.Name === 'AnonymousPerIp');
      expect(anonymous?.Statement.RateBasedStatement.Limit).toBe(RATE_LIMITS.anonymousPerIp.perMinute);
      const regex = new RegExp(
        anonymous?.Statement.RateBasedStatement.ScopeDownStatement.RegexMatchStatement.RegexString,
      );
      expect(['/health', '/test/health'].every((p) => regex.test(p))).toBe(true);
      expect(['/v1/jobs', '/healthz', '/test/v1/health'].some((p) => regex.test(p))).toBe(false);
      expect(rules.map((r) => r.Name)).toEqual(
        expect.arrayContaining(['AWSManagedRulesCommonRuleSet', 'AWSManagedRulesKnownBadInputsRuleSet']),
      );
      const stageId = logicalIdOf(s.appTemplate, 'AWS::ApiGateway::Stage', { StageName: 'test' });
      const association = Object.values(resourcesOf(s.appTemplate)).find(
        (r) => r.Type === 'AWS::WAFv2::WebACLAssociation',
      );
      expect(mentions(association?.Properties.ResourceArn, stageId)).toBe(true);
      expect(acl?.Properties.Scope).toBe('REGIONAL');
    });
  });

  describe('alarms', () => {
    const topicRef = (data: SynthesizedStage['data']) =>
      logicalIdOf(data, 'AWS::SNS::Topic', { TopicName: 'test-formfleet-alerts' });

    it('fires when any DLQ holds a message (> 0), missing data not breaching', () => {
      for (const tier of PRIORITY_TIERS) {
        const alarm = alarmNamed(s.appTemplate, `formfleet-test: ${tier.name} DLQ visible > 0`);
        expect(alarm).toMatchObject({
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Namespace: 'AWS/SQS',
          Statistic: 'Maximum',
          Period: 60,
          Threshold: 0,
          ComparisonOperator: 'GreaterThanThreshold',
          EvaluationPeriods: 1,
          TreatMissingData: 'notBreaching',
        });
        const dlqId = logicalIdOf(s.data, 'AWS::SQS::Queue', {
          QueueName: `test-${tier.queueName}-dlq.fifo`,
        });
        expect(mentions(alarm.Dimensions, dlqId)).toBe(true);
      }
    });

    it('fires when a tier holds more than 100 waiting jobs for 5 minutes', () => {
      for (const tier of PRIORITY_TIERS) {
        const alarm = alarmNamed(s.appTemplate, `formfleet-test: ${tier.name} queue depth > 100 for 5 min`);
        expect(alarm).toMatchObject({
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Threshold: 100,
          EvaluationPeriods: 5,
          DatapointsToAlarm: 5,
          Period: 60,
        });
        const queueId = logicalIdOf(s.data, 'AWS::SQS::Queue', { QueueName: `test-${tier.queueName}.fifo` });
        expect(mentions(alarm.Dimensions, queueId)).toBe(true);
      }
      expect(ALARMS.queueDepthAbove).toBe(100);
    });

    it('fires when more than 10 % of a function invocations fail, computed by metric math', () => {
      for (const spec of FUNCTIONS.filter((f) => f.kind !== 'trigger')) {
        const alarm = alarmNamed(s.appTemplate, `formfleet-test: ${spec.name} error rate > 10 %`);
        expect(alarm.Threshold).toBe(10);
        expect(alarm.ComparisonOperator).toBe('GreaterThanThreshold');
        const metrics = alarm.Metrics as { Id: string; Expression?: string; MetricStat?: Loose }[];
        expect(metrics.find((m) => m.Expression)?.Expression).toBe(
          'IF(invocations > 0, 100 * errors / invocations, 0)',
        );
        expect(metrics.find((m) => m.Id === 'errors')?.MetricStat).toMatchObject({
          Metric: { MetricName: 'Errors', Namespace: 'AWS/Lambda' },
          Period: 300,
          Stat: 'Sum',
        });
        expect(metrics.find((m) => m.Id === 'invocations')?.MetricStat.Metric.MetricName).toBe('Invocations');
      }
    });

    it('fires on any error of a function no caller watches, and on throttles of functions without reserved concurrency', () => {
      for (const spec of FUNCTIONS.filter((f) => f.kind !== 'api')) {
        expect(alarmNamed(s.appTemplate, `formfleet-test: ${spec.name} errors > 0`)).toMatchObject({
          MetricName: 'Errors',
          Threshold: 0,
          Period: 60,
          Statistic: 'Sum',
        });
      }
      // No function reserves concurrency unless the stage asks (the test stage asks for none).
      for (const spec of FUNCTIONS.filter((f) => f.kind !== 'trigger')) {
        expect(alarmNamed(s.appTemplate, `formfleet-test: ${spec.name} throttles > 0`)).toMatchObject({
          MetricName: 'Throttles',
          Threshold: 0,
          Period: 300,
        });
      }
    });

    it('fires when work is queued or in flight but no worker heartbeat arrived for 5 minutes', () => {
      const alarm = alarmNamed(
        s.appTemplate,
        'formfleet-test: Work queued but no worker heartbeat for 5 min',
      );
      expect(alarm).toMatchObject({
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 5,
        DatapointsToAlarm: 5,
        TreatMissingData: 'notBreaching',
      });
      const metrics = alarm.Metrics as { Id: string; Expression?: string; MetricStat?: Loose }[];
      const expression = metrics.find((m) => m.Expression)?.Expression as string;
      expect(expression).toMatch(/AND FILL\(hb, 0\) == 0, 1, 0\)$/);
      for (const i of PRIORITY_TIERS.keys()) {
        expect(expression).toContain(`FILL(visible${i}, 0)`);
        expect(expression).toContain(`FILL(inflight${i}, 0)`);
      }
      expect(metrics.find((m) => m.Id === 'hb')?.MetricStat).toMatchObject({
        Metric: {
          Namespace: 'Formfleet',
          MetricName: METRIC_NAMES.workerHeartbeat,
          Dimensions: expect.arrayContaining([
            { Name: 'service', Value: 'formfleet' },
            { Name: 'component', Value: 'worker' },
          ]),
        },
        Period: 60,
        Stat: 'Sum',
      });
    });

    it('fires when more than 1 % of API requests fail with 5xx over 5 minutes', () => {
      const alarm = alarmNamed(s.appTemplate, 'formfleet-test: API 5xx > 1 % for 5 min');
      expect(alarm.Threshold).toBe(1);
      const metrics = alarm.Metrics as { Id: string; Expression?: string; MetricStat?: Loose }[];
      expect(metrics.find((m) => m.Expression)?.Expression).toBe(
        'IF(requests > 0, 100 * errors / requests, 0)',
      );
      expect(metrics.find((m) => m.Id === 'errors')?.MetricStat.Metric).toMatchObject({
        Namespace: 'AWS/ApiGateway',
        MetricName: '5XXError',
      });
    });

    it('notifies the alerts topic on ALARM and OK, and links an existing runbook from every alarm', () => {
      const alarms = Object.values(resourcesOf(s.appTemplate)).filter(
        (r) => r.Type === 'AWS::CloudWatch::Alarm',
      );
      expect(alarms.length).toBeGreaterThan(10);
      const topicId = topicRef(s.data);
      for (const alarm of alarms) {
        const p = alarm.Properties as Record<string, Loose>;
        expect(mentions(p.AlarmActions, topicId), p.AlarmName).toBe(true);
        expect(mentions(p.OKActions, topicId), p.AlarmName).toBe(true);
        const link = /Runbook: docs\/runbooks\/([a-z0-9-]+\.md)$/.exec(p.AlarmDescription);
        expect(link, p.AlarmName).not.toBeNull();
        expect(existsSync(join(PROJECT_ROOT, 'docs/runbooks', link?.[1] as string)), link?.[1]).toBe(true);
        expect((p.AlarmDescription as string).length).toBeLessThanOrEqual(1024);
      }
    });
  });

  it('shows queues, DLQs, outcomes, durations, error rates, API latency, 4xx, 5xx, 429 and worker concurrency on one dashboard', () => {
    const body = dashboardBody(s.appTemplate);
    const titles = body.widgets.map((w) => w.properties.title);
    expect(titles).toEqual([
      'Queue depth per tier',
      'Oldest message age per tier (s)',
      'DLQ depth per tier',
      'Submissions by outcome',
      'Job duration p50 / p95 (ms)',
      'Worker concurrency',
      'Lambda error rate (%)',
      'API latency (ms)',
      'API 4xx, 5xx and 429',
      'Alarms',
    ]);
    const text = JSON.stringify(body);
    for (const metric of [
      'ApproximateAgeOfOldestMessage',
      'Submission_submitted',
      'Submission_failed',
      'Submission_needs_manual',
      'Submission_unknown',
      'Submission_skipped',
      'JobDuration',
      'ConcurrentExecutions',
      'Latency',
      '4XXError',
      '5XXError',
      'Api429',
    ]) {
      expect(text, metric).toContain(`"${metric}"`);
    }
    expect(text).toContain('"stat":"p95"');
    expect(text).toContain('"stat":"p50"');
  });

  it('matches anonymous route paths for the WAF with or without the stage prefix', () => {
    expect(pathsRegex(['/health', '/v1/things/{id}'])).toBe('^(/[^/]+)?(/health|/v1/things/[^/]+)$');
  });
});
