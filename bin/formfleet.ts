/**
 * CDK app entry. Reads the stage config from cdk.json context once (`-c stage=prod` picks the stage,
 * default dev), validates it into a typed StageConfig, and builds that stage's data and app stacks with
 * cdk-nag enforced (see docs/infrastructure.md).
 */
import { App } from 'aws-cdk-lib';
import { buildStage } from '#lib/app';
import { selectStage } from '#lib/stage-config';

const app = new App();
buildStage(app, selectStage(app.node.tryGetContext('stage'), app.node.tryGetContext('formfleet:stages')));
app.synth();
