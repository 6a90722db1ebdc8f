/** Lambda entry: retention (EventBridge schedule, policy SCHEDULES.retention): archive, then delete. */
import { retentionDepsFromEnv } from './retention/deps.ts';
import { makeRetentionHandler } from './retention/retention.ts';

export const handler = makeRetentionHandler(await retentionDepsFromEnv(process.env));
