/**
 * The app stack built from a small manifest and route table passed in, with what the real manifest does
 * not hold yet: scheduled functions, an SNS subscriber, DLQ readers and redrivers, the idempotency table,
 * a cached route (test/infra/test-manifest.ts). Proves the generic build before those functions land.
 */
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ApiFunction } from '#functions/api/routes';
import type { FunctionSpec } from '#functions/manifest';
import { ApiFirewall } from '#lib/constructs/api-firewall';
import { ApiKeyPlans } from '#lib/constructs/api-key-plans';
import { BrowserFunction } from '#lib/constructs/browser-function';
import { FormfleetApi } from '#lib/constructs/formfleet-api';
import { HouseFunction } from '#lib/constructs/house-function';
import { IdempotencyTable } from '#lib/constructs/idempotency-table';
import { PriorityQueues } from '#lib/constructs/priority-queues';
import { ASYNC_INVOKE, PRIORITY_TIERS, SCHEDULES } from '#policy';
import {
  actionsOf,
  alarmNamed,
  apiMethod,
  type Loose,
  logicalIdOf,
  mentions,
  resourcesFor,
  resourcesOf,
  SLACK_SECRET_ARN,
  type SynthesizedStage,
  synthStage,
  testStage,
} from './support.ts';
import { TEST_CONCURRENCY, TEST_FUNCTIONS, TEST_ROUTES } from './test-manifest.ts';

const as = (name: string) => name as ApiFunction;

const fn = (name: string) => `formfleet-test-${name}`;
const LOGS_AND_TRACES = [
  'logs:CreateLogStream',
  'logs:PutLogEvents',
  'xray:PutTelemetryRecords',
  'xray:PutTraceSegments',
];

describe('app stack from a test manifest', () => {
  let s: SynthesizedStage;
  let ids: {
    queues: string[];
    dlqs: string[];
    table: string;
    topic: string;
    key: string;
    undelivered: string;
    scheduleFailures: string;
  };

  beforeAll(() => {
    s = synthStage({
      functions: TEST_FUNCTIONS,
      routes: TEST_ROUTES,
      stage: testStage({ concurrency: TEST_CONCURRENCY }),
    });
    ids = {
      queues: PRIORITY_TIERS.map((t) =>
        logicalIdOf(s.data, 'AWS::SQS::Queue', { QueueName: `test-${t.queueName}.fifo` }),
      ),
      dlqs: PRIORITY_TIERS.map((t) =>
        logicalIdOf(s.data, 'AWS::SQS::Queue', { QueueName: `test-${t.queueName}-dlq.fifo` }),
      ),
      table: logicalIdOf(s.data, 'AWS::DynamoDB::Table', { TableName: 'test-formfleet-idempotency' }),
      topic: logicalIdOf(s.data, 'AWS::SNS::Topic', { TopicName: 'test-formfleet-alerts' }),
      key: Object.keys(s.data.findResources('AWS::KMS::Key'))[0] as string,
      undelivered: logicalIdOf(s.data, 'AWS::SQS::Queue', { QueueName: 'test-formfleet-alerts-undelivered' }),
      scheduleFailures: logicalIdOf(s.appTemplate, 'AWS::SQS::Queue', {
        QueueName: 'test-formfleet-schedule-failures',
      }),
    };
  });

  const onlyOn = (name: string, action: string, expected: string[]) => {
    const resources = resourcesFor(s.appTemplate, fn(name), action);
    expect(resources, `${name} ${action}`).toHaveLength(expected.length);
    for (const id of expected)
      expect(
        resources.some((r) => mentions(r, id)),
        `${name} ${action} on ${id}`,
      ).toBe(true);
  };

  describe('scheduled functions', () => {
    it('runs stale jobs every 2 minutes and the DLQ check every 5 minutes, from policy SCHEDULES', () => {
      expect(SCHEDULES.staleJobs.everySeconds).toBe(120);
      expect(SCHEDULES.dlqCheck.everySeconds).toBe(300);
      for (const [name, expression] of [
        ['stale-jobs', 'rate(2 minutes)'],
        ['dlq-check', 'rate(5 minutes)'],
      ] as const) {
        const fnId = logicalIdOf(s.appTemplate, 'AWS::Lambda::Function', { FunctionName: fn(name) });
        const rules = Object.values(resourcesOf(s.appTemplate)).filter(
          (r) => r.Type === 'AWS::Events::Rule' && mentions(r.Properties.Targets, fnId),
        );
        expect(rules).toHaveLength(1);
        expect(rules[0]?.Properties.ScheduleExpression).toBe(expression);
        expect(rules[0]?.Properties.State).toBe('ENABLED');
        const target = rules[0]?.Properties.Targets[0] as Record<string, Loose>;
        expect(target?.RetryPolicy).toEqual({
          MaximumRetryAttempts: 2,
          MaximumEventAgeInSeconds: name === 'stale-jobs' ? 120 : 300,
        });
        expect(mentions(target?.DeadLetterConfig, ids.scheduleFailures)).toBe(true);
      }
    });

    it('never retries a failed run (the next tick does the work) and keeps it in an on-failure destination', () => {
      for (const [name, age] of [
        ['stale-jobs', 120],
        ['dlq-check', 300],
      ] as const) {
        const fnId = logicalIdOf(s.appTemplate, 'AWS::Lambda::Function', { FunctionName: fn(name) });
        const config = Object.values(resourcesOf(s.appTemplate)).find(
          (r) => r.Type === 'AWS::Lambda::EventInvokeConfig' && mentions(r.Properties.FunctionName, fnId),
        );
        expect(config?.Properties).toMatchObject({
          MaximumRetryAttempts: ASYNC_INVOKE.scheduledRetryAttempts,
          MaximumEventAgeInSeconds: age,
          Qualifier: '$LATEST',
        });
        expect(mentions(config?.Properties.DestinationConfig, ids.scheduleFailures)).toBe(true);
      }
      expect(ASYNC_INVOKE.scheduledRetryAttempts).toBe(0);
      s.appTemplate.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: 'test-formfleet-schedule-failures',
        SqsManagedSseEnabled: true,
      });
    });

    it('grants the stale-jobs monitor exactly: send to tier queues, publish alerts, park failed runs', () => {
      expect(actionsOf(s.appTemplate, fn('stale-jobs'))).toEqual(
        [
          ...LOGS_AND_TRACES,
          'secretsmanager:GetSecretValue',
          'sqs:SendMessage',
          'sns:Publish',
          'kms:Decrypt',
          'kms:GenerateDataKey',
        ].sort(),
      );
      onlyOn('stale-jobs', 'sqs:SendMessage', [...ids.queues, ids.scheduleFailures]);
      onlyOn('stale-jobs', 'sns:Publish', [ids.topic]);
      onlyOn('stale-jobs', 'kms:GenerateDataKey', [ids.key]);
    });

    it('grants the DLQ check exactly: count and peek the DLQs, publish alerts, park failed runs', () => {
      expect(actionsOf(s.appTemplate, fn('dlq-check'))).toEqual(
        [
          ...LOGS_AND_TRACES,
          'secretsmanager:GetSecretValue',
          'sqs:ChangeMessageVisibility',
          'sqs:GetQueueAttributes',
          'sqs:ReceiveMessage',
          'sqs:SendMessage',
          'sns:Publish',
          'kms:Decrypt',
          'kms:GenerateDataKey',
        ].sort(),
      );
      onlyOn('dlq-check', 'sqs:ReceiveMessage', ids.dlqs);
      onlyOn('dlq-check', 'sqs:ChangeMessageVisibility', ids.dlqs);
      onlyOn('dlq-check', 'sqs:GetQueueAttributes', ids.dlqs);
      onlyOn('dlq-check', 'sqs:SendMessage', [ids.scheduleFailures]);
      s.appTemplate.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: fn('dlq-check'),
        Environment: {
          Variables: {
            DLQ_URL_P1: {},
            DLQ_URL_P2: {},
            DLQ_URL_P3: {},
            ALERTS_TOPIC_ARN: {},
          },
        },
      });
    });
  });

  describe('subscriber', () => {
    it('subscribes the Slack notifier to the alerts topic with a subscription DLQ, retries and an on-failure destination', () => {
      const fnId = logicalIdOf(s.appTemplate, 'AWS::Lambda::Function', {
        FunctionName: fn('slack-notifier'),
      });
      const subscription = Object.values(resourcesOf(s.appTemplate)).find(
        (r) => r.Type === 'AWS::SNS::Subscription',
      );
      expect(subscription?.Properties.Protocol).toBe('lambda');
      expect(mentions(subscription?.Properties.Endpoint, fnId)).toBe(true);
      expect(mentions(subscription?.Properties.TopicArn, ids.topic)).toBe(true);
      expect(mentions(subscription?.Properties.RedrivePolicy, ids.undelivered)).toBe(true);
      const config = Object.values(resourcesOf(s.appTemplate)).find(
        (r) => r.Type === 'AWS::Lambda::EventInvokeConfig' && mentions(r.Properties.FunctionName, fnId),
      );
      expect(config?.Properties).toMatchObject({
        MaximumRetryAttempts: 2,
        MaximumEventAgeInSeconds: 3600,
      });
      expect(mentions(config?.Properties.DestinationConfig, ids.undelivered)).toBe(true);
      s.appTemplate.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: fn('slack-notifier'),
        ReservedConcurrentExecutions: 1,
        Environment: { Variables: { SLACK_WEBHOOK_SECRET_ARN: SLACK_SECRET_ARN } },
      });
      s.data.hasResourceProperties('AWS::SQS::QueuePolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Allow',
              Action: 'sqs:SendMessage',
              Principal: { Service: 'sns.amazonaws.com' },
            }),
          ]),
        },
      });
    });

    it('grants the notifier exactly: read the webhook secret, park undeliverable alerts', () => {
      expect(actionsOf(s.appTemplate, fn('slack-notifier'))).toEqual(
        [...LOGS_AND_TRACES, 'secretsmanager:GetSecretValue', 'sqs:SendMessage'].sort(),
      );
      expect(resourcesFor(s.appTemplate, fn('slack-notifier'), 'secretsmanager:GetSecretValue')).toEqual([
        SLACK_SECRET_ARN,
      ]);
      onlyOn('slack-notifier', 'sqs:SendMessage', [ids.undelivered]);
    });

    it('does not raise a throttle alarm for a function throttled on purpose by reserved concurrency', () => {
      expect(() => alarmNamed(s.appTemplate, 'formfleet-test: slack-notifier throttles > 0')).toThrow(
        /found 0/,
      );
      expect(alarmNamed(s.appTemplate, 'formfleet-test: slack-notifier errors > 0').Threshold).toBe(0);
    });
  });

  it('lets only its own invoker call each function: API Gateway per method, SNS from the topic, EventBridge from its rule', () => {
    const permissions = Object.values(resourcesOf(s.appTemplate)).filter(
      (r) => r.Type === 'AWS::Lambda::Permission',
    );
    const principals = permissions.map((p) => p.Properties.Principal as string);
    expect(principals.filter((p) => p === 'apigateway.amazonaws.com')).toHaveLength(TEST_ROUTES.length);
    expect(principals.filter((p) => p === 'events.amazonaws.com')).toHaveLength(2);
    expect(principals.filter((p) => p === 'sns.amazonaws.com')).toHaveLength(1);
    expect(principals).toHaveLength(TEST_ROUTES.length + 3);
    for (const p of permissions) {
      expect(p.Properties.Action).toBe('lambda:InvokeFunction');
      expect(p.Properties.SourceArn, JSON.stringify(p.Properties)).toBeDefined();
    }
    const notifier = logicalIdOf(s.appTemplate, 'AWS::Lambda::Function', {
      FunctionName: fn('slack-notifier'),
    });
    const fromSns = permissions.find((p) => p.Properties.Principal === 'sns.amazonaws.com');
    expect(mentions(fromSns?.Properties.FunctionName, notifier)).toBe(true);
    expect(mentions(fromSns?.Properties.SourceArn, ids.topic)).toBe(true);
    for (const name of ['stale-jobs', 'dlq-check']) {
      const fnId = logicalIdOf(s.appTemplate, 'AWS::Lambda::Function', { FunctionName: fn(name) });
      const ruleId = Object.entries(resourcesOf(s.appTemplate)).find(
        ([, r]) => r.Type === 'AWS::Events::Rule' && mentions(r.Properties.Targets, fnId),
      )?.[0] as string;
      const fromRule = permissions.filter(
        (p) => p.Properties.Principal === 'events.amazonaws.com' && mentions(p.Properties.FunctionName, fnId),
      );
      expect(fromRule).toHaveLength(1);
      expect(fromRule[0]?.Properties.SourceArn).toEqual({ 'Fn::GetAtt': [ruleId, 'Arn'] });
    }
    const failuresPolicy = Object.values(resourcesOf(s.appTemplate)).find(
      (r) => r.Type === 'AWS::SQS::QueuePolicy' && mentions(r.Properties.Queues, ids.scheduleFailures),
    );
    const allows = (failuresPolicy?.Properties.PolicyDocument.Statement as Loose[] | undefined)?.filter(
      (st) => st.Effect === 'Allow',
    );
    expect(allows).toHaveLength(2);
    for (const allow of allows ?? []) {
      expect(allow).toMatchObject({
        Action: 'sqs:SendMessage',
        Principal: { Service: 'events.amazonaws.com' },
      });
      expect(allow.Condition.ArnEquals['aws:SourceArn']).toBeDefined();
    }
  });

  it('grants a health report exactly: count messages on the tier queues and their DLQs, nothing more', () => {
    expect(actionsOf(s.appTemplate, fn('api-health'))).toEqual(
      [...LOGS_AND_TRACES, 'secretsmanager:GetSecretValue', 'sqs:GetQueueAttributes'].sort(),
    );
    onlyOn('api-health', 'sqs:GetQueueAttributes', [...ids.queues, ...ids.dlqs]);
  });

  it('grants a DLQ redriver exactly: read and delete on the DLQs, send to the source queues', () => {
    expect(actionsOf(s.appTemplate, fn('api-dlq'))).toEqual(
      [
        ...LOGS_AND_TRACES,
        'secretsmanager:GetSecretValue',
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:ReceiveMessage',
        'sqs:SendMessage',
      ].sort(),
    );
    onlyOn('api-dlq', 'sqs:DeleteMessage', ids.dlqs);
    onlyOn('api-dlq', 'sqs:ReceiveMessage', ids.dlqs);
    onlyOn('api-dlq', 'sqs:SendMessage', ids.queues);
  });

  it('grants the worker the idempotency table item actions only, beside its queue actions', () => {
    expect(actionsOf(s.appTemplate, fn('worker'))).toEqual(
      [
        ...LOGS_AND_TRACES,
        'secretsmanager:GetSecretValue',
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:ReceiveMessage',
        'sqs:SendMessage',
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
      ].sort(),
    );
    onlyOn('worker', 'dynamodb:PutItem', [ids.table]);
    onlyOn('worker', 'sqs:ReceiveMessage', ids.queues);
    // A continuation is sent to the tier queues, never to a DLQ.
    onlyOn('worker', 'sqs:SendMessage', ids.queues);
    onlyOn('worker', 'sqs:ChangeMessageVisibility', ids.queues);
    s.appTemplate.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: fn('worker'),
      Environment: {
        Variables: { IDEMPOTENCY_TABLE: {}, QUEUE_URL_P1: {}, QUEUE_URL_P2: {}, QUEUE_URL_P3: {} },
      },
    });
  });

  it('caches GET /v1/directories at the edge, keyed by its query parameters, encrypted', () => {
    s.appTemplate.hasResourceProperties('AWS::ApiGateway::Stage', {
      CacheClusterEnabled: true,
      CacheClusterSize: '0.5',
      MethodSettings: Match.arrayWith([
        Match.objectLike({
          HttpMethod: 'GET',
          ResourcePath: '/~1v1~1directories',
          CachingEnabled: true,
          CacheTtlInSeconds: 60,
          CacheDataEncrypted: true,
        }),
      ]),
    });
    const list = apiMethod(s.appTemplate, 'GET', '/v1/directories');
    const query = ['category', 'tier', 'active', 'cursor', 'limit'].map(
      (q) => `method.request.querystring.${q}`,
    );
    expect((list.Integration as { CacheKeyParameters: string[] }).CacheKeyParameters).toEqual(query);
    expect(list.RequestParameters).toEqual(Object.fromEntries(query.map((q) => [q, false])));
    const put = apiMethod(s.appTemplate, 'PUT', '/v1/directories/{id}');
    expect(put.ApiKeyRequired).toBe(true);
    expect(put.RequestParameters).toEqual({ 'method.request.path.id': true });
    expect(put.RequestModels).toEqual({ 'application/json': expect.anything() });
    expect((put.Integration as { CacheKeyParameters?: unknown }).CacheKeyParameters).toBeUndefined();
  });
});

describe('contradictions are refused with every problem named at once', () => {
  it('rejects a contradictory manifest', () => {
    const bad: FunctionSpec[] = [
      { name: 'tick', entry: 'functions/api-health.ts', description: '', kind: 'scheduled', needs: {} },
      {
        name: 'tock',
        entry: 'functions/api-health.ts',
        description: '',
        kind: 'scheduled',
        schedule: { everySeconds: 90 },
        needs: {},
      },
      {
        name: 'slowpoke',
        entry: 'functions/api-health.ts',
        description: '',
        kind: 'scheduled',
        schedule: { everySeconds: 60 },
        timeoutSeconds: 120,
        needs: {},
      },
      { name: 'listener', entry: 'functions/api-health.ts', description: '', kind: 'subscriber', needs: {} },
      { name: 'api-x', entry: 'functions/api-health.ts', description: '', kind: 'api', needs: {} },
      {
        name: 'api-y',
        entry: 'functions/api-health.ts',
        description: '',
        kind: 'api',
        apiFunction: 'jobs',
        needs: {},
      },
      {
        name: 'api-z',
        entry: 'functions/api-health.ts',
        description: '',
        kind: 'api',
        apiFunction: 'jobs',
        needs: {},
      },
      {
        name: 'worker',
        entry: 'functions/worker.ts',
        description: '',
        kind: 'worker',
        needs: {},
      },
      {
        name: 'worker',
        entry: 'functions/worker.ts',
        description: '',
        kind: 'worker',
        timeoutSeconds: 901,
        needs: {},
      },
      {
        name: 'pager',
        entry: 'functions/api-health.ts',
        description: '',
        kind: 'subscriber',
        subscribesTo: 'pages' as 'alerts',
        needs: { pagerDuty: true } as FunctionSpec['needs'],
      },
    ];

    expect(() =>
      synthStage({
        functions: bad,
        routes: [],
        stage: {
          ...testStage(),
          concurrency: { tiers: { P1: 10, P2: 5, P3: 2 }, reserved: { worker: 3, nope: 1, slowpoke: 2 } },
        },
      }),
    ).toThrow(
      new RegExp(
        [
          'concurrency: reserved.worker \\(3\\) is below the tiers. combined maximum concurrency \\(17\\)',
          'concurrency: reserved.nope: no function of that name',
          'concurrency: reserved.slowpoke \\(2\\): a scheduled function runs once at a time',
          'tick: a schedule is required',
          'tock: schedule.everySeconds must be whole minutes',
          'slowpoke: its timeout \\(120 s\\) must fit its schedule \\(every 60 s\\)',
          'listener: subscribesTo is required',
          'api-x: apiFunction is required',
          'api-y: route-table function "jobs" is served by more than one function',
          'worker: name is used twice',
          'worker: queue visibility \\(5400 s\\) must be at least 6x the worker timeout \\(901 s\\)',
          'pager: need "pagerDuty" has no binding',
          'pager: subscribesTo must be one of alerts',
        ].join('[\\s\\S]*'),
      ),
    );
  });

  it('rejects a route whose function is not built, a usage plan faster than the stage, and no admin plan', () => {
    const stack = new Stack(new App(), 'S');
    expect(
      () =>
        new FormfleetApi(stack, 'Api', {
          prefix: 'x-',
          stageName: 'x',
          routes: [
            { method: 'GET', path: '/v1/nowhere', fn: as('nowhere'), auth: 'client' },
            { method: 'GET', path: '/v1/nowhere', fn: as('nowhere'), auth: 'client' },
          ],
          handlers: new Map(),
          logRetention: 14,
          usagePlans: new Map(),
        }),
    ).toThrow(/declared twice[\s\S]*"nowhere", which is not built[\s\S]*at least one usage plan/);
    expect(
      () =>
        new ApiKeyPlans(stack, 'Plans', {
          prefix: 'x-',
          stageRateLimit: 5,
          usagePlans: {
            partners: { rateLimitPerSecond: 1, burstLimit: 0, quotaPerDay: 10 },
            fast: { rateLimitPerSecond: 6, burstLimit: 1, quotaPerDay: 10 },
          },
        }),
    ).toThrow(
      /"admin" is required[\s\S]*usage plan partners needs a positive rate, burst and quota[\s\S]*usage plan fast allows more per second than the stage throttle \(5\)/,
    );
  });

  it('rejects house, browser, table, queue and firewall props that contradict each other', () => {
    const stack = new Stack(new App(), 'S');
    expect(
      () =>
        new HouseFunction(stack, 'H', {
          functionName: 'h',
          entry: 'functions/nope.ts',
          description: '',
          timeout: Duration.minutes(20),
          memorySize: 64,
          logRetention: 14,
          reservedConcurrentExecutions: 0,
          assets: ['../etc'],
        }),
    ).toThrow(/memorySize[\s\S]*timeout[\s\S]*reservedConcurrentExecutions[\s\S]*entry[\s\S]*asset/);
    expect(
      () =>
        new BrowserFunction(stack, 'B', {
          functionName: 'b',
          entry: 'functions/worker.ts',
          description: '',
          timeout: Duration.minutes(1),
          memorySize: 1024,
          ephemeralStorageMb: 512,
          logRetention: 14,
        }),
    ).toThrow(/memorySize must be at least 2048[\s\S]*ephemeralStorageMb must be at least 1024/);
    expect(
      () =>
        new IdempotencyTable(stack, 'T', {
          tableName: 't',
          removalPolicy: RemovalPolicy.DESTROY,
          deletionProtection: true,
        }),
    ).toThrow(/deletionProtection and removalPolicy DESTROY contradict/);
    expect(
      () =>
        new PriorityQueues(stack, 'Q', {
          prefix: 'x-',
          visibilityTimeout: Duration.minutes(5),
          maxReceiveCount: 0,
        }),
    ).toThrow(/visibilityTimeout must be at least 6x[\s\S]*maxReceiveCount/);
    expect(
      () =>
        new ApiFirewall(stack, 'W', {
          name: 'w',
          stageArn: 'arn',
          anonymousPaths: [],
          perIpRequests: 50,
          anonymousPerIpRequests: 5,
          windowSeconds: 30,
          maxBodyBytes: 11 * 1_048_576,
          logRetention: 14,
        }),
    ).toThrow(/maxBodyBytes[\s\S]*windowSeconds[\s\S]*at least 10/);
    expect(
      () =>
        new ApiFirewall(stack, 'W2', {
          name: 'w',
          stageArn: 'arn',
          anonymousPaths: ['/health'],
          perIpRequests: 50,
          anonymousPerIpRequests: 500,
          logRetention: 14,
        }),
    ).toThrow(/anonymous limit must be the tighter one/);
  });
});
