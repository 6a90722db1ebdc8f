/**
 * `npm run rehearse [-- -c stage=<name>]`: bootstraps and deploys the stage's stacks into moto server on
 * loopback with the real CDK CLI, checks what was created against the templates, redeploys to prove nothing
 * changes, and stops everything it started. Exit status: 0 passed, 1 failed, 2 wrong command line.
 * Never reaches AWS (lib/deploy/rehearsal.ts). What moto cannot model is listed as not rehearsed.
 */
import { contextArgs } from '#lib/deploy/cdk-context';
import { NOT_REHEARSED } from '#lib/deploy/inventory';
import { rehearse, renderRehearsal } from '#lib/deploy/rehearsal';

let stageName: string | undefined;
try {
  stageName = contextArgs(process.argv.slice(2)).stage;
} catch (err) {
  process.stderr.write(`error: ${(err as Error).message}\nusage: npm run rehearse -- [-c stage=<name>]\n`);
  process.exit(2);
}
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
const log = (line: string) => process.stderr.write(`[rehearse] ${line}\n`);
try {
  const report = await rehearse({ ...(stageName ? { stageName } : {}), log });
  process.stdout.write(renderRehearsal(report, NOT_REHEARSED));
  process.exitCode = report.problems.length === 0 ? 0 : 1;
} catch (err) {
  process.stderr.write(`rehearsal FAILED: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
