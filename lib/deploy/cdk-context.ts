/**
 * The deploy tools' view of cdk.json and the `-c key=value` arguments the CDK CLI takes, so
 * `npm run preflight -- -c stage=prod` names a stage exactly as `cdk deploy -c stage=prod` does.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '#lib/constructs/house-function';
import { type StageConfig, selectStage } from '../stage-config.ts';

/** cdk.json's context (feature flags and formfleet:stages). */
export function cdkJsonContext(): Record<string, unknown> {
  return (
    JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }
  ).context;
}

/** `-c key=value` / `--context key=value` pairs; anything else is an error naming it. */
export function contextArgs(argv: readonly string[]): Record<string, string> {
  const context: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg !== '-c' && arg !== '--context')
      throw new Error(`unknown argument "${arg}" (expected -c stage=<name>)`);
    const pair = argv[++i];
    const eq = pair?.indexOf('=') ?? -1;
    if (!pair || eq < 1) throw new Error(`${arg} needs key=value (e.g. -c stage=prod)`);
    context[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return context;
}

/** The stage the arguments name, validated, with cdk.json's context. */
export function stageFromArgs(argv: readonly string[]): {
  stage: StageConfig;
  context: Record<string, unknown>;
} {
  const args = contextArgs(argv);
  const context = { ...cdkJsonContext(), ...args };
  return { stage: selectStage(args.stage, context['formfleet:stages']), context };
}
