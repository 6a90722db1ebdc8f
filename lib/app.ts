/** Builds formfleet's stacks for one stage into a CDK app (used by bin/formfleet.ts and the infra tests). */
import { type App, Tags } from 'aws-cdk-lib';
import { DataStack } from './data-stack.ts';
import type { StageConfig } from './stage-config.ts';

export interface FormfleetStacks {
  readonly data: DataStack;
}

export function buildStage(app: App, stage: StageConfig): FormfleetStacks {
  const stackName = (part: string) => `formfleet-${stage.name}-${part}`;
  const data = new DataStack(app, stackName('data'), { stage, env: stage.env, stackName: stackName('data') });
  Tags.of(data).add('app', 'formfleet');
  Tags.of(data).add('stage', stage.name);
  return { data };
}
