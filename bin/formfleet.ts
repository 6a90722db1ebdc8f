/**
 * CDK app entry. Reads the stage config from cdk.json context once (`-c stage=prod` picks the stage,
 * default dev), validates it, and builds that stage's stacks.
 */
import { App } from 'aws-cdk-lib';
import { buildStage } from '#lib/app';
import { parseStageConfig } from '#lib/stage-config';

const app = new App();
const stageName = (app.node.tryGetContext('stage') as string | undefined) ?? 'dev';
const stages = (app.node.tryGetContext('formfleet:stages') ?? {}) as Record<string, unknown>;
buildStage(app, parseStageConfig(stageName, stages[stageName]));
app.synth();
