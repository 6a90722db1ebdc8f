/**
 * Shared by the infra tests: a stage built with cdk.json's feature flags but without bundling (esbuild for
 * every function is the real synth test's job), and readers that turn a template into the facts the tests
 * assert: a function's exact IAM actions, an API method by path, whether a value refers to a resource of
 * the other stack.
 */
import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { type BuildOptions, buildStage, type FormfleetStacks } from '#lib/app';
import { PROJECT_ROOT } from '#lib/constructs/house-function';
import { parseStageConfig, type StageConfig } from '#lib/stage-config';
import { PRIORITY_TIERS } from '#policy';

/**
 * CDK's built-in CloudFormation validation (a WASM rules engine) costs about 8 s per test process. The one
 * real `cdk synth` test runs it, and cfn-lint, on the templates that ship; Template tests skip it.
 */
process.env.CDK_VALIDATION = 'false';

/** cdk.json's context: the same feature flags `cdk synth` uses. */
export const CDK_CONTEXT = (
  JSON.parse(readFileSync(`${PROJECT_ROOT}cdk.json`, 'utf8')) as { context: Record<string, unknown> }
).context;

export const DATABASE_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:db-AbCdEf';
export const SLACK_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:slack-AbCdEf';
export const PAGERDUTY_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:pagerduty-AbCdEf';

export function testStage(overrides: Record<string, unknown> = {}): StageConfig {
  return parseStageConfig('test', {
    prefix: 'test-',
    region: 'us-east-1',
    databaseSecretArn: DATABASE_SECRET_ARN,
    slackWebhookSecretArn: SLACK_SECRET_ARN,
    // A stage that pages: every function of the manifest is built (a stage without one lacks pagerduty-notifier).
    pagerDutyRoutingKeySecretArn: PAGERDUTY_SECRET_ARN,
    logRetentionDays: 14,
    ...overrides,
  });
}

export interface SynthesizedStage {
  readonly app: App;
  readonly stacks: FormfleetStacks;
  readonly data: Template;
  readonly appTemplate: Template;
}

/** Builds and synthesizes a stage without bundling (Template tests) and without the nag plugins. */
export function synthStage(options: BuildOptions & { stage?: StageConfig } = {}): SynthesizedStage {
  const app = new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
  const stacks = buildStage(app, options.stage ?? testStage(), { nag: false, ...options });
  return {
    app,
    stacks,
    data: Template.fromStack(stacks.data),
    appTemplate: Template.fromStack(stacks.app),
  };
}

/** A CloudFormation value: untyped JSON that tests read structurally. */
// biome-ignore lint/suspicious/noExplicitAny: templates are untyped JSON; each test asserts the shape it reads.
export type Loose = any;

export type Resources = Record<
  string,
  { Type: string; Properties: Record<string, Loose>; DependsOn?: string[] }
>;

export const resourcesOf = (template: Template) => template.toJSON().Resources as Resources;

/** Logical id of the one resource of `type` whose properties include `props` (shallow equality). */
export function logicalIdOf(template: Template, type: string, props: Record<string, unknown>): string {
  const found = Object.entries(resourcesOf(template)).filter(
    ([, r]) =>
      r.Type === type &&
      Object.entries(props).every(([k, v]) => JSON.stringify(r.Properties[k]) === JSON.stringify(v)),
  );
  if (found.length !== 1)
    throw new Error(`expected one ${type} with ${JSON.stringify(props)}, found ${found.length}`);
  return (found[0] as [string, unknown])[0];
}

/**
 * A CloudFormation value as text, each reference (Ref, Fn::GetAtt, Fn::ImportValue) to one of `labels`'
 * logical ids written as `<label>`: `arn:aws:apigateway:us-east-1::/usageplans/<client plan>/keys`.
 */
export function render(value: unknown, labels: Record<string, string> = {}): string {
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  const v = value as Record<string, Loose>;
  if (Array.isArray(v['Fn::Join'])) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => render(p, labels)).join(sep);
  }
  const text = JSON.stringify(value);
  const found = Object.entries(labels).find(([id]) => text.includes(id));
  return found ? `<${found[1]}>` : text;
}

/** True if `value` (a property, possibly a cross-stack reference) refers to that logical id. */
export const mentions = (value: unknown, logicalId: string) => JSON.stringify(value).includes(logicalId);

export interface Statement {
  Action: string | string[];
  Resource: unknown;
  Effect: string;
}

/** Every statement of every policy attached to the role of the function named `functionName`. */
export function statementsOf(template: Template, functionName: string): Statement[] {
  const resources = resourcesOf(template);
  const fnId = logicalIdOf(template, 'AWS::Lambda::Function', { FunctionName: functionName });
  const roleRef = (resources[fnId] as Resources[string]).Properties.Role['Fn::GetAtt'][0] as string;
  const role = resources[roleRef];
  if (role?.Properties.ManagedPolicyArns || role?.Properties.Policies) {
    throw new Error(`${functionName}'s role has managed or inline policies; the house role has neither`);
  }
  return Object.values(resources)
    .filter(
      (r) =>
        r.Type === 'AWS::IAM::Policy' &&
        (r.Properties.Roles as unknown[]).some((ref) => mentions(ref, roleRef)),
    )
    .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

/** The sorted, distinct IAM actions a function is allowed (or, with effect 'Deny', denied). */
export function actionsOf(
  template: Template,
  functionName: string,
  effect: 'Allow' | 'Deny' = 'Allow',
): string[] {
  const actions = statementsOf(template, functionName)
    .filter((s) => s.Effect === effect)
    .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
  return [...new Set(actions)].sort();
}

/** The resources one action of a function is allowed (or denied) on. */
export function resourcesFor(
  template: Template,
  functionName: string,
  action: string,
  effect: 'Allow' | 'Deny' = 'Allow',
): unknown[] {
  return statementsOf(template, functionName)
    .filter((s) => s.Effect === effect && (Array.isArray(s.Action) ? s.Action : [s.Action]).includes(action))
    .flatMap((s) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]));
}

/** The AWS::ApiGateway::Method serving `method path`, found by walking the resources' PathParts. */
export function apiMethod(template: Template, httpMethod: string, path: string): Record<string, Loose> {
  const resources = resourcesOf(template);
  const pathOf = (id: string): string => {
    const r = resources[id];
    if (r?.Type !== 'AWS::ApiGateway::Resource') return '';
    const parent = r.Properties.ParentId as { Ref?: string };
    return `${parent.Ref ? pathOf(parent.Ref) : ''}/${r.Properties.PathPart as string}`;
  };
  const found = Object.values(resources).filter((r) => {
    if (r.Type !== 'AWS::ApiGateway::Method' || r.Properties.HttpMethod !== httpMethod) return false;
    const resourceId = r.Properties.ResourceId as { Ref?: string };
    return resourceId.Ref !== undefined && pathOf(resourceId.Ref) === path;
  });
  if (found.length !== 1) throw new Error(`expected one method ${httpMethod} ${path}, found ${found.length}`);
  return found[0]?.Properties as Record<string, Loose>;
}

/** The alarm with this exact name. */
export function alarmNamed(template: Template, name: string): Record<string, Loose> {
  const found = Object.values(resourcesOf(template)).filter(
    (r) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties.AlarmName === name,
  );
  if (found.length !== 1) throw new Error(`expected one alarm named "${name}", found ${found.length}`);
  return found[0]?.Properties as Record<string, Loose>;
}

/** The dashboard body as JSON, with each CloudFormation token replaced by "TOKEN". */
export function dashboardBody(template: Template): { widgets: { properties: Record<string, unknown> }[] } {
  const dashboards = Object.values(resourcesOf(template)).filter(
    (r) => r.Type === 'AWS::CloudWatch::Dashboard',
  );
  if (dashboards.length !== 1) throw new Error(`expected one dashboard, found ${dashboards.length}`);
  const body = dashboards[0]?.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] } | string;
  const text =
    typeof body === 'string'
      ? body
      : body['Fn::Join'][1].map((p) => (typeof p === 'string' ? p : 'TOKEN')).join('');
  return JSON.parse(text);
}

/** The name a template exports `{ Ref: logicalId }` under (what another stack imports it by). */
export function exportOf(template: Template, logicalId: string): string {
  const outputs = (template.toJSON().Outputs ?? {}) as Record<
    string,
    { Value: unknown; Export?: { Name: string } }
  >;
  const found = Object.values(outputs).filter(
    (o) => JSON.stringify(o.Value) === JSON.stringify({ Ref: logicalId }) && o.Export,
  );
  if (found.length !== 1) throw new Error(`expected one export of ${logicalId}, found ${found.length}`);
  return found.map((o) => o.Export?.Name ?? '')[0] as string;
}

/** The worker's sizing as synthesized (stage `test`): memory, K, and each tier's mapping maximum by tier name. */
export function synthesizedWorker(template: Template, data: Template, prefix = 'test-') {
  const resources = resourcesOf(template);
  const worker = logicalIdOf(template, 'AWS::Lambda::Function', { FunctionName: 'formfleet-test-worker' });
  const fn = resources[worker]?.Properties;
  const tiers = Object.fromEntries(
    PRIORITY_TIERS.map((t) => {
      const queue = logicalIdOf(data, 'AWS::SQS::Queue', { QueueName: `${prefix}${t.queueName}.fifo` });
      const mapping = Object.values(resources).find(
        (r) =>
          r.Type === 'AWS::Lambda::EventSourceMapping' &&
          mentions(r.Properties.EventSourceArn, queue) &&
          mentions(r.Properties.FunctionName, worker),
      );
      return [t.name, mapping?.Properties.ScalingConfig.MaximumConcurrency];
    }),
  );
  return {
    memoryMb: fn?.MemorySize as number,
    k: fn?.Environment?.Variables?.WORKER_DIRECTORIES_IN_FLIGHT as string | undefined,
    tiers,
  };
}
