/**
 * ApiKeyPlans: the API's usage plans (one per kind of key, numbers from policy) and the admin API key, kept
 * with the stateful resources. Client keys are made at run time by the keys API (POST /v1/keys) into these
 * plans, so the plans, their keys and the keys' values must outlive the app stack: an app stack replaced or
 * destroyed and redeployed finds its clients still here. The plans carry no API stage of their own; the API
 * attaches its stage to each (FormfleetApi, a custom resource in the app stack), because the stage lives in
 * the app stack and a reference from here to there would tie the stacks the wrong way round.
 */
import { CfnOutput, RemovalPolicy } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import { Construct } from 'constructs';
import { API_EDGE, USAGE_PLANS, type UsagePlanNumbers } from '#policy';

export interface ApiKeyPlansProps {
  /** Physical name prefix (the stage prefix), e.g. `dev-`. */
  readonly prefix: string;
  /**
   * One usage plan per kind of API key, by name; the admin key joins the one named 'admin'.
   * @default USAGE_PLANS (every keyed RATE_LIMITS preset)
   */
  readonly usagePlans?: Readonly<Record<string, UsagePlanNumbers>>;
  /** No plan may allow more per second than the stage throttle. @default API_EDGE.stageRateLimitPerSecond */
  readonly stageRateLimit?: number;
  /** @default RemovalPolicy.RETAIN (keys in use must not vanish with a stack) */
  readonly removalPolicy?: RemovalPolicy;
}

/** `client` → `Client`, for construct ids and output names. */
const capitalised = (name: string) => `${name.charAt(0).toUpperCase()}${name.slice(1)}`;

/** Every problem with the plans, in one list. */
export function validateUsagePlans(
  plans: Readonly<Record<string, UsagePlanNumbers>>,
  stageRate: number,
): string[] {
  const problems: string[] = [];
  if (!plans.admin) problems.push('a usage plan named "admin" is required for the admin key');
  for (const [name, plan] of Object.entries(plans)) {
    if (!/^[a-z][a-zA-Z0-9]*$/.test(name)) problems.push(`usage plan name "${name}" must be camelCase`);
    if (plan.rateLimitPerSecond > stageRate) {
      problems.push(`usage plan ${name} allows more per second than the stage throttle (${stageRate})`);
    }
    if (plan.rateLimitPerSecond <= 0 || plan.burstLimit < 1 || plan.quotaPerDay < 1) {
      problems.push(`usage plan ${name} needs a positive rate, burst and quota`);
    }
  }
  return problems;
}

export class ApiKeyPlans extends Construct {
  /** The usage plans by name (`client`, `admin`...). */
  readonly plans: ReadonlyMap<string, apigw.UsagePlan>;
  /**
   * The CloudFormation export of each plan's id, by plan name: the app stack imports them by these fixed names
   * (a strong reference, like every other), so the IAM statements naming a plan read the same in every synth.
   */
  readonly planExports: ReadonlyMap<string, string>;
  readonly adminKey: apigw.ApiKey;

  constructor(scope: Construct, id: string, props: ApiKeyPlansProps) {
    super(scope, id);
    const numbers = props.usagePlans ?? USAGE_PLANS;
    const problems = validateUsagePlans(numbers, props.stageRateLimit ?? API_EDGE.stageRateLimitPerSecond);
    if (problems.length > 0) throw new Error(`${id}: ${problems.join('; ')}`);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.plans = new Map(
      Object.entries(numbers).map(([name, n]) => {
        const plan = new apigw.UsagePlan(this, `${capitalised(name)}Plan`, {
          name: `${props.prefix}formfleet-${name}`,
          description: `${name} API keys: throttle and daily quota from policy RATE_LIMITS.${name}`,
          throttle: { rateLimit: n.rateLimitPerSecond, burstLimit: n.burstLimit },
          quota: { limit: n.quotaPerDay, period: apigw.Period.DAY },
        });
        plan.applyRemovalPolicy(removalPolicy);
        return [name, plan];
      }),
    );
    this.adminKey = new apigw.ApiKey(this, 'AdminKey', {
      apiKeyName: `${props.prefix}formfleet-admin`,
      description: 'Operators and automation; its id is in ADMIN_API_KEY_IDS',
      enabled: true,
    });
    this.adminKey.applyRemovalPolicy(removalPolicy);
    this.plans.get('admin')?.addApiKey(this.adminKey);
    for (const plan of this.plans.values()) {
      for (const child of plan.node.findAll()) {
        if (child instanceof apigw.CfnUsagePlanKey) child.applyRemovalPolicy(removalPolicy);
      }
    }

    new CfnOutput(this, 'AdminApiKeyId', {
      value: this.adminKey.keyId,
      description: 'Admin key id: aws apigateway get-api-key --include-value --api-key <id>',
    });
    const exports = new Map<string, string>();
    for (const [name, plan] of this.plans) {
      const exportName = `${props.prefix}formfleet-${name}-usage-plan-id`;
      new CfnOutput(this, `${capitalised(name)}UsagePlanId`, {
        value: plan.usagePlanId,
        exportName,
        description: `The ${name} usage plan${name === 'admin' ? '' : ': POST /v1/keys puts client keys here'}`,
      });
      exports.set(name, exportName);
    }
    this.planExports = exports;
  }
}
