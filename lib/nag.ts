/**
 * cdk-nag (v3, CDK's policy-validation plugins): the AWS Solutions and Serverless rule packs run on every
 * synth, and an unacknowledged finding fails it. Acknowledgements sit beside the construct they concern,
 * each with its reason (`Validations.of(x).acknowledge`); docs/infrastructure.md lists them.
 */
import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, type NagPack, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

export function nagPacks(scope?: IConstruct): NagPack[] {
  return [new AwsSolutionsChecks(scope), new ServerlessChecks(scope)];
}

export function enforceNag(app: App): void {
  Validations.of(app).addPlugins(...nagPacks(app));
}
