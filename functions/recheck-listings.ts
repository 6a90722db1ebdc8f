/** Lambda entry: listing rechecks (EventBridge schedule, policy SCHEDULES.recheckListings; Chromium). */
import { recheckDepsFromEnv } from './lifecycle/deps.ts';
import { makeRecheckListingsHandler } from './lifecycle/recheck.ts';

export const handler = makeRecheckListingsHandler(await recheckDepsFromEnv(process.env));
