/**
 * CDK app entry. Reads the stage config from cdk.json context once (`-c stage=prod` picks the stage,
 * default dev), validates it into a typed StageConfig, and builds that stage's data and app stacks with
 * cdk-nag enforced (see docs/infrastructure.md).
 */
import { App } from 'aws-cdk-lib';
import { buildStage } from '#lib/app';
import { parseStageConfig } from '#lib/stage-config';

const app = new App();
const stageName = (app.node.tryGetContext('stage') as string | undefined) ?? 'dev';
const stages = (app.node.tryGetContext('formfleet:stages') ?? {}) as Record<string, unknown>;
if (!Object.hasOwn(stages, stageName)) {
  throw new Error(
    `unknown stage "${stageName}": cdk.json context formfleet:stages defines ${Object.keys(stages).join(', ') || 'none'}`,
  );
}
buildStage(app, parseStageConfig(stageName, stages[stageName]));
app.synth();
