/** Builds formfleet's stacks for one stage into a CDK app (used by bin/formfleet.ts and the infra tests). */
import { type App, Tags } from 'aws-cdk-lib';
import type { RouteSpec } from '#functions/api/routes';
import type { FunctionSpec } from '#functions/manifest';
import { AccountStack } from './account-stack.ts';
import { AppStack } from './app-stack.ts';
import { DataStack } from './data-stack.ts';
import { enforceNag } from './nag.ts';
import type { StageConfig } from './stage-config.ts';

export interface FormfleetStacks {
  readonly data: DataStack;
  readonly app: AppStack;
  /** The API Gateway account settings, when the stage owns them (`apiGatewayCloudWatchRole`). */
  readonly account?: AccountStack;
}

export interface BuildOptions {
  /** @default FUNCTIONS */
  readonly functions?: readonly FunctionSpec[];
  /** @default ROUTES */
  readonly routes?: readonly RouteSpec[];
  /** Run the cdk-nag packs on synth, failing it on an unacknowledged finding. @default true */
  readonly nag?: boolean;
}

export function buildStage(app: App, stage: StageConfig, options: BuildOptions = {}): FormfleetStacks {
  const stackName = (part: string) => `formfleet-${stage.name}-${part}`;
  const data = new DataStack(app, stackName('data'), {
    stage,
    env: stage.env,
    stackName: stackName('data'),
    description: `formfleet ${stage.name}: queues, DLQs, idempotency table, alerts topic (stateful)`,
    terminationProtection: stage.retainData,
  });
  const appStack = new AppStack(app, stackName('app'), {
    stage,
    data,
    env: stage.env,
    stackName: stackName('app'),
    description: `formfleet ${stage.name}: functions, API, schedules, alarms, dashboard (stateless)`,
    ...(options.functions ? { functions: options.functions } : {}),
    ...(options.routes ? { routes: options.routes } : {}),
  });
  appStack.addStackDependency(data);
  const account = stage.apiGatewayCloudWatchRole
    ? new AccountStack(app, stackName('account'), {
        env: stage.env,
        stackName: stackName('account'),
        description: `formfleet ${stage.name}: the API Gateway CloudWatch Logs role of the account and region`,
      })
    : undefined;
  // The API stage's access logging needs the account's role first.
  if (account) appStack.addStackDependency(account);
  for (const stack of [data, appStack, ...(account ? [account] : [])]) {
    Tags.of(stack).add('app', 'formfleet');
    Tags.of(stack).add('stage', stage.name);
  }
  if (options.nag ?? true) enforceNag(app);
  return { data, app: appStack, ...(account ? { account } : {}) };
}
