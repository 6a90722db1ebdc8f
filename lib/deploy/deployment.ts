/**
 * What a stage's templates ask of the account they go to, read from the same build `cdk synth` makes (in
 * memory, without bundling or cdk-nag): the stacks, and the bootstrap they need (the SSM parameter that holds
 * the bootstrap version, and the lowest version every stack and asset accepts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildStage } from '../app.ts';
import type { StageConfig } from '../stage-config.ts';

export interface DeploymentNeeds {
  /** Stack names, in deploy order. */
  readonly stacks: readonly string[];
  /** `/cdk-bootstrap/<qualifier>/version` and the lowest version the stacks accept. */
  readonly bootstrap: { readonly parameter: string; readonly version: number };
}

export function deploymentNeeds(stage: StageConfig, context: Record<string, unknown>): DeploymentNeeds {
  const outdir = mkdtempSync(join(tmpdir(), 'ff-needs-'));
  // CDK's own CloudFormation validation is `cdk synth`'s business; skipped here, it costs seconds.
  const validation = process.env.CDK_VALIDATION;
  process.env.CDK_VALIDATION = 'false';
  try {
    const app = new App({ outdir, context: { ...context, 'aws:cdk:bundling-stacks': [] } });
    buildStage(app, stage, { nag: false });
    const stacks = app.synth().stacksRecursively;
    const parameters = new Set(stacks.map((s) => s.bootstrapStackVersionSsmParameter).filter(Boolean));
    if (parameters.size !== 1) {
      throw new Error(`the stacks name ${parameters.size} bootstrap parameters; expected one`);
    }
    return {
      stacks: stacks.map((s) => s.stackName),
      bootstrap: {
        parameter: [...parameters][0] as string,
        version: Math.max(...stacks.map((s) => s.requiresBootstrapStackVersion ?? 0)),
      },
    };
  } finally {
    if (validation === undefined) delete process.env.CDK_VALIDATION;
    else process.env.CDK_VALIDATION = validation;
    rmSync(outdir, { recursive: true, force: true });
  }
}
