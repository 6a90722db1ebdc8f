/**
 * `npm run preflight -- -c stage=<name>`: checks the stage's AWS account before a deploy (credentials,
 * bootstrap, Lambda concurrency, API Gateway's logging role, the secrets, Postgres and pending migrations)
 * and prints a checklist with the fix for each failure. Exit status: 0 all passed, 1 a check failed,
 * 2 wrong command line or stage config. Read-only: it changes nothing in the account.
 */

import { awsAccount } from '#lib/deploy/aws-account';
import { stageFromArgs } from '#lib/deploy/cdk-context';
import { checkDatabase } from '#lib/deploy/database-check';
import { deploymentNeeds } from '#lib/deploy/deployment';
import { preflight, renderChecklist } from '#lib/deploy/preflight';

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  process.stdout.write('usage: npm run preflight -- -c stage=<name>   (stages: cdk.json formfleet:stages)\n');
  process.exit(0);
}
let selected: ReturnType<typeof stageFromArgs>;
try {
  selected = stageFromArgs(argv);
} catch (err) {
  process.stderr.write(`error: ${(err as Error).message}\nusage: npm run preflight -- -c stage=<name>\n`);
  process.exit(2);
}
const { stage, context } = selected;
const account = awsAccount(stage.env.region);
try {
  const results = await preflight({ stage, needs: deploymentNeeds(stage, context), account, checkDatabase });
  process.stdout.write(renderChecklist(stage, results));
  process.exitCode = results.every((r) => r.ok) ? 0 : 1;
} finally {
  account.destroy();
}
