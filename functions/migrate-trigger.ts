/** Lambda entry: applies pending sql/ migrations on deploy (a CDK Trigger invokes it; see lib/app-stack.ts). */
import { makeMigrateTrigger, migrateTriggerDepsFromEnv } from './migrate/trigger.ts';

export const handler = makeMigrateTrigger(await migrateTriggerDepsFromEnv(process.env));
