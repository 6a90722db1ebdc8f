/**
 * What a first deploy into a real account needs of the templates (issue 12): strong cross-stack references,
 * usage plans and keys that outlive the app stack, concurrency from the stage and nothing reserved unless it
 * asks, the opt-in account stack with API Gateway's CloudWatch role, the trigger provider's log retention,
 * schedule retries from policy, and WAF logging, its 413 for bodies Lambda cannot take, and no block on a
 * missing User-Agent.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS } from '#functions/manifest';
import { API_GATEWAY_LOGS_POLICY } from '#lib/account-stack';
import { buildStage } from '#lib/app';
import { atLeastRegex, REDACTED_HEADERS } from '#lib/constructs/api-firewall';
import { parseStageConfig } from '#lib/stage-config';
import { ASYNC_INVOKE, CONCURRENCY, PAYLOAD_LIMITS, PRIORITY_TIERS } from '#policy';
import {
  CDK_CONTEXT,
  DATABASE_SECRET_ARN,
  exportOf,
  type Loose,
  logicalIdOf,
  mentions,
  type Resources,
  resourcesOf,
  SLACK_SECRET_ARN,
  type SynthesizedStage,
  synthStage,
  testStage,
} from './support.ts';
import { TEST_ROUTES } from './test-manifest.ts';

const ofType = (template: Template, type: string) =>
  Object.entries(resourcesOf(template)).filter(([, r]) => r.Type === type);

describe('cross-stack references', () => {
  let s: SynthesizedStage;
  beforeAll(() => {
    s = synthStage();
  });

  it('are strong: the app stack imports exports of the data stack, never reads its outputs by Fn::GetStackOutput', () => {
    const app = JSON.stringify(s.appTemplate.toJSON());
    const imports = [...app.matchAll(/"Fn::ImportValue":"([^"]+)"/g)].map((m) => m[1] as string);
    const exports = Object.values(s.data.toJSON().Outputs as Record<string, { Export?: { Name: string } }>)
      .map((o) => o.Export?.Name)
      .filter((n): n is string => n !== undefined);

    expect(app).not.toContain('Fn::GetStackOutput');
    expect(imports.length).toBeGreaterThan(20);
    // Every value the app stack takes from the data stack is an export CloudFormation keeps in step: a
    // replaced queue changes the export, and the importing functions are updated with it.
    for (const name of new Set(imports)) expect(exports, name).toContain(name);
    expect(CDK_CONTEXT['@aws-cdk/core:defaultCrossStackReferences']).toBe('strong');
  });
});

describe('usage plans and keys', () => {
  let s: SynthesizedStage;
  let other: SynthesizedStage;
  beforeAll(() => {
    s = synthStage();
    // The same stage with a different app stack (other routes): the app stack replaced by another release.
    other = synthStage({
      routes: TEST_ROUTES.concat([{ method: 'POST', path: '/v1/keys', fn: 'keys', auth: 'admin' }]),
    });
  });

  it('live in the data stack, retained, and nowhere in the app stack', () => {
    for (const type of [
      'AWS::ApiGateway::UsagePlan',
      'AWS::ApiGateway::ApiKey',
      'AWS::ApiGateway::UsagePlanKey',
    ]) {
      expect(ofType(s.appTemplate, type), type).toEqual([]);
      const inData = ofType(s.data, type);
      expect(inData.length, type).toBeGreaterThan(0);
      for (const [id, r] of inData)
        expect((r as { DeletionPolicy?: string }).DeletionPolicy, id).toBe('Retain');
    }
    expect(
      ofType(s.data, 'AWS::ApiGateway::UsagePlan')
        .map(([, r]) => r.Properties.UsagePlanName)
        .sort(),
    ).toEqual(['test-formfleet-admin', 'test-formfleet-client']);
    // No plan names a stage: the data stack does not depend on the app stack's API.
    for (const [, plan] of ofType(s.data, 'AWS::ApiGateway::UsagePlan'))
      expect(plan.Properties.ApiStages).toBeUndefined();
  });

  it('are untouched when the app stack is replaced: the data stack is the same whatever the app stack holds', () => {
    expect(other.data.toJSON().Resources).toEqual(s.data.toJSON().Resources);
  });

  it('join the API stage through a custom resource that adds it on create and update and removes it on delete', () => {
    const plans = ofType(s.data, 'AWS::ApiGateway::UsagePlan');
    const joins = ofType(s.appTemplate, 'Custom::UsagePlanStage');
    expect(joins).toHaveLength(plans.length);
    const stageId = logicalIdOf(s.appTemplate, 'AWS::ApiGateway::Stage', { StageName: 'test' });
    const restApiId = logicalIdOf(s.appTemplate, 'AWS::ApiGateway::RestApi', { Name: 'test-formfleet' });
    for (const [planId] of plans) {
      const join = joins.find(([, r]) => mentions(r.Properties.Create, exportOf(s.data, planId)));
      expect(join, planId).toBeDefined();
      const [, resource] = join as [string, Resources[string]];
      const call = (phase: 'Create' | 'Update' | 'Delete') =>
        JSON.parse(
          (resource.Properties[phase] as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1]
            .map((p) => (typeof p === 'string' ? p : JSON.stringify(p).replace(/"/g, "'")))
            .join(''),
        ) as {
          service: string;
          action: string;
          parameters: { patchOperations: { op: string; path: string; value: string }[] };
        };
      for (const [phase, op] of [
        ['Create', 'add'],
        ['Update', 'add'],
        ['Delete', 'remove'],
      ] as const) {
        const sdk = call(phase);
        expect(sdk).toMatchObject({ service: 'APIGateway', action: 'UpdateUsagePlan' });
        expect(sdk.parameters.patchOperations).toEqual([
          { op, path: '/apiStages', value: expect.stringContaining(restApiId) },
        ]);
        // <rest api id>:<stage name>, the stage name being the Stage resource's Ref.
        expect(sdk.parameters.patchOperations[0]?.value).toBe(`{'Ref':'${restApiId}'}:{'Ref':'${stageId}'}`);
      }
      expect(resource.DependsOn).toContain(stageId);
    }
    // The provider may PATCH exactly these plans, nothing else.
    const role = logicalIdOf(s.appTemplate, 'AWS::IAM::Role', {
      Description: 'Attaches the API stage to the usage plans of the data stack (AwsCustomResource provider)',
    });
    const statements = Object.values(resourcesOf(s.appTemplate))
      .filter((r) => r.Type === 'AWS::IAM::Policy' && mentions(r.Properties.Roles, role))
      .flatMap(
        (r) => r.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
      );
    const patch = statements.filter((st) => st.Action === 'apigateway:PATCH');
    expect(patch.flatMap((st) => (Array.isArray(st.Resource) ? st.Resource : [st.Resource]))).toHaveLength(
      plans.length,
    );
    for (const [planId] of plans)
      expect(
        patch.some((st) => mentions(st.Resource, exportOf(s.data, planId))),
        planId,
      ).toBe(true);
    // Its own role, without the managed basic-execution policy CDK would attach.
    expect(resourcesOf(s.appTemplate)[role]?.Properties.ManagedPolicyArns).toBeUndefined();
  });
});

describe('concurrency from the stage', () => {
  it('reserves nothing and maps the tiers at the policy numbers when the stage says nothing', () => {
    const s = synthStage();
    expect(
      ofType(s.appTemplate, 'AWS::Lambda::Function').filter(
        ([, r]) => r.Properties.ReservedConcurrentExecutions !== undefined,
      ),
    ).toEqual([]);
    // The worker's tier mappings (webhook delivery's own mapping is bounded by policy WEBHOOKS, not the stage).
    const worker = logicalIdOf(s.appTemplate, 'AWS::Lambda::Function', {
      FunctionName: 'formfleet-test-worker',
    });
    const mappings = ofType(s.appTemplate, 'AWS::Lambda::EventSourceMapping')
      .filter(([, r]) => mentions(r.Properties.FunctionName, worker))
      .map(([, r]) => r.Properties.ScalingConfig.MaximumConcurrency);
    expect(mappings.sort((a, b) => b - a)).toEqual(PRIORITY_TIERS.map((t) => t.maxConcurrency));
  });

  it("takes each tier's maximum and the worker's reservation from the stage's cdk.json entry", () => {
    const s = synthStage({
      stage: testStage({ concurrency: { tiers: { P1: 4, P2: 3 }, reserved: { worker: 9 } } }),
    });
    const byQueue = Object.fromEntries(
      PRIORITY_TIERS.map((t) => {
        const queue = logicalIdOf(s.data, 'AWS::SQS::Queue', { QueueName: `test-${t.queueName}.fifo` });
        const mapping = ofType(s.appTemplate, 'AWS::Lambda::EventSourceMapping').find(([, r]) =>
          mentions(r.Properties.EventSourceArn, queue),
        );
        return [t.name, mapping?.[1].Properties.ScalingConfig.MaximumConcurrency];
      }),
    );
    expect(byQueue).toEqual({ P1: 4, P2: 3, P3: 2 });
    const reserved = ofType(s.appTemplate, 'AWS::Lambda::Function')
      .filter(([, r]) => r.Properties.ReservedConcurrentExecutions !== undefined)
      .map(([, r]) => [r.Properties.FunctionName, r.Properties.ReservedConcurrentExecutions]);
    expect(reserved).toEqual([['formfleet-test-worker', 9]]);
  });

  it('refuses a tier below 2 or above 1000, an unknown tier or function, and a worker reserved below its tiers, in one error', () => {
    const base = {
      prefix: 'x-',
      region: 'us-east-1',
      databaseSecretArn: DATABASE_SECRET_ARN,
      slackWebhookSecretArn: SLACK_SECRET_ARN,
    };
    expect(() =>
      parseStageConfig('x', {
        ...base,
        concurrency: {
          tiers: { P1: 1, P2: 1001, P9: 3 },
          reserved: { worker: 12, 'no-such': 1, 'api-jobs': 0 },
          extra: 1,
        },
        apiGatewayCloudWatchRole: 'yes',
      }),
    ).toThrow(
      new RegExp(
        [
          'apiGatewayCloudWatchRole must be true or false',
          'concurrency.extra is not a setting',
          'concurrency.tiers.P1 must be a whole number from 2 to 1000',
          'concurrency.tiers.P2 must be a whole number from 2 to 1000',
          'concurrency.tiers.P9: no such tier',
          'concurrency.reserved.api-jobs must be a whole number from 1',
          // P1 and P2 keep their defaults (10 and 5) when refused: 10 + 5 + 2 = 17.
          'reserved.worker \\(12\\) is below the tiers. combined maximum concurrency \\(17\\)',
          'reserved.no-such: no function of that name',
        ].join('[\\s\\S]*'),
      ),
    );
    expect(
      parseStageConfig('x', {
        ...base,
        concurrency: { tiers: { P1: 2, P2: 2, P3: 2 }, reserved: { worker: 6 } },
      }).concurrency,
    ).toEqual({
      tiers: { P1: 2, P2: 2, P3: 2 },
      reserved: { worker: 6 },
    });
    expect(CONCURRENCY.mappingMin).toBe(2); // Lambda's ScalingConfig.MaximumConcurrency minimum
  });

  it('raises throttle alarms only for functions the stage does not reserve', () => {
    const s = synthStage({ stage: testStage({ concurrency: { reserved: { worker: 17 } } }) });
    const names = ofType(s.appTemplate, 'AWS::CloudWatch::Alarm').map(
      ([, r]) => r.Properties.AlarmName as string,
    );
    expect(names).not.toContain('formfleet-test: worker throttles > 0');
    for (const f of FUNCTIONS.filter((f) => f.name !== 'worker' && f.kind !== 'trigger')) {
      expect(names).toContain(`formfleet-test: ${f.name} throttles > 0`);
    }
  });
});

describe('the API Gateway CloudWatch role', () => {
  it('is an opt-in account stack: the role with the documented policy, retained, set on the account, before the app stack', () => {
    const app = new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
    const stacks = buildStage(app, testStage({ apiGatewayCloudWatchRole: true }), { nag: false });
    expect(stacks.account?.stackName).toBe('formfleet-test-account');
    const account = Template.fromStack(stacks.account as NonNullable<typeof stacks.account>);
    const [roleId, role] = ofType(account, 'AWS::IAM::Role')[0] as [
      string,
      Resources[string] & { DeletionPolicy?: string },
    ];
    expect(role.Properties.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({
      Service: 'apigateway.amazonaws.com',
    });
    expect(JSON.stringify(role.Properties.ManagedPolicyArns)).toContain(API_GATEWAY_LOGS_POLICY);
    expect(role.DeletionPolicy).toBe('Retain');
    account.hasResourceProperties('AWS::ApiGateway::Account', {
      CloudWatchRoleArn: { 'Fn::GetAtt': [roleId, 'Arn'] },
    });
    expect(stacks.app.dependencies).toContain(stacks.account);
  });

  it('is not built for a stage that does not ask (the preflight checks the account has one)', () => {
    const s = synthStage();
    expect(s.stacks.account).toBeUndefined();
    expect(ofType(s.appTemplate, 'AWS::ApiGateway::Account')).toEqual([]);
    expect(ofType(s.data, 'AWS::ApiGateway::Account')).toEqual([]);
  });
});

describe('smaller findings', () => {
  let s: SynthesizedStage;
  beforeAll(() => {
    s = synthStage();
  });

  it("gives the trigger provider's log group the stage's retention, made before the trigger runs", () => {
    const [providerId] =
      ofType(s.appTemplate, 'AWS::Lambda::Function').find(([id]) =>
        id.startsWith('AWSCDKTriggerCustomResourceProvider'),
      ) ?? [];
    expect(providerId).toBeDefined();
    const [logsId, logGroup] =
      ofType(s.appTemplate, 'AWS::Logs::LogGroup').find(([, r]) =>
        mentions(r.Properties.LogGroupName, providerId as string),
      ) ?? [];
    expect(logGroup?.Properties).toMatchObject({
      LogGroupName: { 'Fn::Join': ['', ['/aws/lambda/', { Ref: providerId }]] },
      RetentionInDays: 14,
    });
    const [, trigger] = ofType(s.appTemplate, 'Custom::Trigger')[0] ?? [];
    expect(trigger?.DependsOn).toContain(logsId);
  });

  it("retries a schedule's delivery by policy (a refused invocation never ran) and never a failed run", () => {
    const targets = ofType(s.appTemplate, 'AWS::Events::Rule').flatMap(
      ([, r]) => r.Properties.Targets as Loose[],
    );
    expect(targets.length).toBe(FUNCTIONS.filter((f) => f.kind === 'scheduled').length);
    for (const target of targets)
      expect(target.RetryPolicy.MaximumRetryAttempts).toBe(ASYNC_INVOKE.scheduleDeliveryRetryAttempts);
    for (const [, config] of ofType(s.appTemplate, 'AWS::Lambda::EventInvokeConfig').filter(
      ([, r]) => r.Properties.MaximumRetryAttempts === 0,
    )) {
      expect(config.Properties.MaximumRetryAttempts).toBe(ASYNC_INVOKE.scheduledRetryAttempts);
    }
  });

  describe('WAF', () => {
    const acl = () => ofType(s.appTemplate, 'AWS::WAFv2::WebACL')[0]?.[1] as Resources[string];
    const rule = (name: string) =>
      (
        acl().Properties.Rules as { Name: string; Statement: Loose; Action?: Loose; OverrideAction?: Loose }[]
      ).find((r) => r.Name === name);

    it('logs blocked and counted requests to aws-waf-logs-*, with API keys redacted', () => {
      const [logsId] =
        ofType(s.appTemplate, 'AWS::Logs::LogGroup').find(
          ([, r]) => r.Properties.LogGroupName === 'aws-waf-logs-test-formfleet-api',
        ) ?? [];
      expect(logsId).toBeDefined();
      const [, logging] = ofType(s.appTemplate, 'AWS::WAFv2::LoggingConfiguration')[0] ?? [];
      expect(logging?.Properties.RedactedFields).toEqual(
        REDACTED_HEADERS.map((name) => ({ SingleHeader: { Name: name } })),
      );
      expect(REDACTED_HEADERS).toContain('x-api-key');
      expect(JSON.stringify(logging?.Properties.LogDestinationConfigs)).toMatch(
        /log-group:aws-waf-logs-test-formfleet-api"/,
      );
      expect(logging?.Properties.LoggingFilter.DefaultBehavior).toBe('DROP');
      expect(logging?.DependsOn).toContain(logsId);
      expect(
        mentions(
          logging?.Properties.ResourceArn,
          ofType(s.appTemplate, 'AWS::WAFv2::WebACL')[0]?.[0] as string,
        ),
      ).toBe(true);
    });

    it('counts, never blocks, requests without a User-Agent or with a body over 8 KB in the common rule set', () => {
      const common = rule('AWSManagedRulesCommonRuleSet');
      expect(common?.Statement.ManagedRuleGroupStatement.RuleActionOverrides).toEqual([
        { Name: 'SizeRestrictions_BODY', ActionToUse: { Count: {} } },
        { Name: 'NoUserAgent_HEADER', ActionToUse: { Count: {} } },
      ]);
    });

    it('answers 413 in the API error shape for a Content-Length above the JSON ceiling, before Lambda answers a 5xx', () => {
      const body = rule('BodyTooLarge');
      expect(body?.Action.Block.CustomResponse).toEqual({
        ResponseCode: 413,
        CustomResponseBodyKey: 'PayloadTooLarge',
      });
      const match = body?.Statement.RegexMatchStatement;
      expect(match.FieldToMatch).toEqual({ SingleHeader: { Name: 'content-length' } });
      const regex = new RegExp(match.RegexString);
      const ceiling = PAYLOAD_LIMITS.jsonBodyCeilingBytes;
      for (const n of [ceiling + 1, 6 * 1_048_576, 7_000_000, 10 * 1_048_576])
        expect(regex.test(String(n)), String(n)).toBe(true);
      for (const n of [0, 1, PAYLOAD_LIMITS.jsonBodyBytes, ceiling])
        expect(regex.test(String(n)), String(n)).toBe(false);
      const response = JSON.parse(acl().Properties.CustomResponseBodies.PayloadTooLarge.Content);
      expect(response.error.code).toBe('payload_too_large');
    });

    it('matches exactly the decimal integers at or above the limit, leading zeros included', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 99_999_999 }),
          fc.nat({ max: 999_999_999 }),
          fc.nat({ max: 2 }),
          (limit, n, zeros) => {
            const regex = new RegExp(atLeastRegex(limit));
            expect(regex.test(`${'0'.repeat(zeros)}${n}`)).toBe(n >= limit);
          },
        ),
        { numRuns: 2_000, seed: 12 },
      );
      expect(() => atLeastRegex(0)).toThrow(RangeError);
    });
  });
});
